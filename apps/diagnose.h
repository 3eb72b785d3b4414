#pragma once
// convkit's diagnosis: reads a run (apps/run_record.h) and says, with
// evidence, which failure it shows: each Finding names the numbers, the
// threshold they crossed and where that rule of thumb comes from
// (docs/diagnose.md). A healthy run gets no problem and no warning.
//
// Works the same on a run recorded in memory (convkit repro) and on one read
// back from a run directory (convkit diagnose DIR).
#include <vector>

#include "apps/finding.h"
#include "apps/run_record.h"

namespace ck {

// Findings, most severe first (problems, warnings, notes), root causes
// before the symptoms they explain.
std::vector<Finding> diagnose(const RunRecord& run);

}  // namespace ck
