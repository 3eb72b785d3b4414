#include "apps/progress.h"

#include "core/format.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>

namespace ck {

std::string format_duration(double s) {
  if (s < 1) return fmt::format("{:.0f}ms", s * 1000);
  // Round once, to the unit shown last, then split: rounding the parts
  // separately printed 119.7 s as "1m 60s".
  const long long secs = std::llround(s);
  if (secs < 60) return fmt::format("{}s", secs);
  if (secs < 3600) return fmt::format("{}m {:02}s", secs / 60, secs % 60);
  const long long mins = std::llround(s / 60);
  return fmt::format("{}h {:02}m", mins / 60, mins % 60);
}

ProgressBar::ProgressBar(std::FILE* out, bool accuracy)
    : out_(out), tty_(isatty(fileno(out)) != 0), accuracy_(accuracy) {}

namespace {
std::string bar(int64_t done, int64_t total) {
  constexpr int kWidth = 20;
  int filled = total ? static_cast<int>(kWidth * done / total) : kWidth;
  std::string s;
  for (int i = 0; i < kWidth; ++i) s += i < filled ? "\u2501" : "\u2500";
  return s;
}

std::string metrics(const LossStats& s, bool accuracy, const char* prefix) {
  std::string m;
  if (accuracy) m += fmt::format(" - {}accuracy: {:.4f}", prefix, s.accuracy());
  m += fmt::format(" - {}loss: {}", prefix, metric_text(s.mean()));
  return m;
}
}  // namespace

void ProgressBar::on_epoch_begin(int epoch, int epochs, int64_t) {
  fmt::print(out_, "Epoch {}/{}\n", epoch + 1, epochs);
  std::fflush(out_);
  last_draw_ = -1;
}

void ProgressBar::on_step_end(const StepInfo& s) {
  last_ = s;
  if (!tty_) return;
  const bool done = s.step + 1 == s.steps;
  if (!done && s.seconds - last_draw_ < 0.1) return;
  last_draw_ = s.seconds;
  const double per_step = s.seconds / (s.step + 1);
  const double eta = per_step * (s.steps - s.step - 1);
  int width = static_cast<int>(std::to_string(s.steps).size());
  fmt::print(out_, "\r{:>{}}/{} {} {} {:.0f}ms/step{} - {:.0f} img/s\x1b[K", s.step + 1, width,
             s.steps, bar(s.step + 1, s.steps), format_duration(eta), per_step * 1000,
             metrics(s.running, accuracy_, ""), s.seconds > 0 ? s.images / s.seconds : 0.0);
  std::fflush(out_);
}

void ProgressBar::on_epoch_end(const EpochResult& r, int) {
  const double per_step = last_.steps ? r.seconds / last_.steps : 0;
  std::string line = fmt::format("{}/{} {} {} {:.0f}ms/step{} - {:.0f} img/s", last_.steps,
                                 last_.steps, bar(1, 1), format_duration(r.seconds),
                                 per_step * 1000, metrics(r.train, accuracy_, ""),
                                 r.images_per_second);
  if (r.validation) line += metrics(r.validation->stats, accuracy_, "val_");
  if (r.test) line += metrics(r.test->stats, accuracy_, "test_");
  fmt::print(out_, "{}{}\n", tty_ ? "\r" : "", line + (tty_ ? "\x1b[K" : ""));
  std::fflush(out_);
}

void ProgressBar::on_stop(const TrainPosition& next) {
  if (next.step == 0) return;  // the epoch's line is complete
  fmt::print(out_, "{}{}/{} stopped after {}{}{}\n", tty_ ? "\r" : "", last_.step + 1, last_.steps,
             format_duration(last_.seconds), metrics(last_.running, accuracy_, ""),
             tty_ ? "\x1b[K" : "");
  std::fflush(out_);
}

}  // namespace ck
