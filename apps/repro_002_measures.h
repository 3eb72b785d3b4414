#pragma once
// Measurements the article-002 experiments take on their runs beyond the
// per-epoch figures: recall over groups of classes, the accuracy at another
// class mix, the model on its clean training images, step sizes.
#include <cstdint>
#include <string>
#include <vector>

#include "apps/repro.h"

namespace ck {

// The run's short name: its label up to the colon ("none: no remedy" -> "none").
std::string run_name(const ReproRun& r);

// Class indices ordered by count, rarest (or commonest) first; ties in index order.
std::vector<int> classes_by_count(const std::vector<int64_t>& counts, bool rarest_first);
// Mean recall of `classes` (NaN recalls count as NaN).
double mean_recall(const EvalResult& e, const std::vector<int>& classes);
// The class with the lowest recall.
int worst_class(const EvalResult& e);
// The accuracy a test set with `counts`' class mix would show: sum of share_k * recall_k.
double mix_accuracy(const EvalResult& e, const std::vector<int64_t>& counts);

// The model evaluated on its training images as they are: no augmentation,
// no resampling, no weights.
EvalResult on_training_images(ReproRun& r);
// The median over layers of the first epoch's mean update/weight ratio (NaN
// when not recorded): how far one step moves the weights.
double first_update_ratio(const ReproRun& r);
// The mean class weight per training sample (1 without class weights).
double mean_class_weight(const ReproRun& r, const std::vector<int64_t>& counts);

}  // namespace ck
