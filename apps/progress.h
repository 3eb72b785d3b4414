#pragma once
// The Keras-style progress display for training:
//
//   Epoch 1/2
//   1875/1875 ━━━━━━━━━━━━━━━━━━━━ 31s 16ms/step - accuracy: 0.8432 - loss: 0.4381 - 1934 img/s
//
// On a terminal the line redraws in place (at most 10 times a second); when
// output goes to a file or pipe it prints one line per epoch instead.
#include <cstdio>

#include "apps/trainer.h"

namespace ck {

class ProgressBar : public TrainObserver {
 public:
  // `accuracy`: whether the loss has an accuracy worth showing.
  ProgressBar(std::FILE* out, bool accuracy);
  void on_epoch_begin(int epoch, int epochs, int64_t steps) override;
  void on_step_end(const StepInfo& step) override;
  void on_epoch_end(const EpochResult& result, int epochs) override;
  // Mid-epoch: ends the bar with where the epoch stopped.
  void on_stop(const TrainPosition& next) override;

 private:
  std::FILE* out_;
  bool tty_, accuracy_;
  double last_draw_ = -1;
  StepInfo last_;
};

// "1m 05s", "42s", "850ms"
std::string format_duration(double seconds);

}  // namespace ck
