#pragma once
// Text reports of an evaluation: the confusion matrix with per-class recall.
#include <string>
#include <vector>

#include "apps/trainer.h"

namespace ck {

// Rows are true classes, columns predictions; the last column is recall.
std::string format_confusion(const EvalResult& result, const std::vector<std::string>& names);

}  // namespace ck
