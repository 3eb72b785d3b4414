#pragma once
// The training curves of a run (apps/run_record.h) as line plots: loss and
// accuracy (training per step and per epoch, validation and test per epoch),
// per-layer gradient norms and update/weight ratios.
#include <string>
#include <vector>

#include "apps/plot.h"
#include "apps/run_record.h"

namespace ck {

struct NamedPlot {
  std::string name;  // file stem: "loss", "accuracy", "gradients", "updates"
  LinePlot plot;
};

// Accuracy only for classification; gradients and updates only for models
// with parameters.
std::vector<NamedPlot> run_plots(const RunRecord& run);

}  // namespace ck
