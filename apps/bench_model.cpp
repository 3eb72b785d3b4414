// convkit bench model / bench conv: how fast a whole model trains (or infers)
// on random data, and how fast one large convolution runs, against the
// machine's measured FMA peak. The training step is the trainer's own
// (forward_backward + the optimizer's step), so what is timed is what
// `convkit train` runs.
#include "apps/bench_model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "apps/model_builder.h"
#include "apps/trainer.h"
#include "core/conv.h"
#include "core/error.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "core/peak.h"
#include "core/rng.h"
#include "layers/conv2d.h"
#include "layers/spec.h"
#include "optim/optimizer.h"

namespace ck {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double step_median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Peak resident set size of this process so far, in MB.
double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // ru_maxrss is in KB on Linux
}

// The model spec with its last dense layer's units replaced by `classes`.
std::string with_classes(const std::string& spec, int classes) {
  const size_t at = spec.rfind("dense(");
  if (at == std::string::npos) fail("--classes needs a model that ends in a dense layer");
  const size_t end = spec.find_first_of(",)", at);
  return spec.substr(0, at) + "dense(" + std::to_string(classes) + spec.substr(end);
}

// Times `step` (one batch) in repeats of `steps` steps after `warmup` steps,
// until `seconds` have passed (at least 3 repeats); returns each repeat's
// seconds per step. steps <= 0: as many as make a repeat of ~0.2 s.
std::vector<double> time_steps(const std::function<void()>& step, int warmup, int steps,
                               double seconds) {
  auto start = Clock::now();
  for (int i = 0; i < std::max(warmup, 1); ++i) step();
  const double once = std::max(since(start) / std::max(warmup, 1), 1e-6);
  if (steps <= 0) steps = std::max(1, static_cast<int>(0.2 / once));
  std::vector<double> per_step;
  const auto begin = Clock::now();
  while (per_step.size() < 3 || since(begin) < seconds) {
    start = Clock::now();
    for (int i = 0; i < steps; ++i) step();
    per_step.push_back(since(start) / steps);
  }
  return per_step;
}

// The layers whose convolutions run Winograd's transforms (core/conv.h):
// their FLOPs are counted as a direct convolution's, of which the transforms
// compute a quarter (3x3) to a sixth (5x5), so GFLOP/s over them are
// effective rates.
std::vector<std::string> winograd_layers(Model& model) {
  std::vector<std::string> names;
  for (size_t i = 0; i < model.layers().size(); ++i)
    if (const auto* conv = dynamic_cast<const Conv2D*>(&model.layer(i)))
      if (conv_uses_winograd(conv->geometry(conv->input_shape)))
        names.push_back(model.layer(i).name);
  return names;
}

}  // namespace

void bench_model(const BenchModelOptions& o) {
  std::optional<Shape> input;
  if (!o.input.empty()) input = parse_shape(o.input, "--input");
  Model model = make_model(o.model, input);
  if (o.classes > 0 && model.output_shape()[0] != o.classes)
    model = make_model(with_classes(model.spec(), o.classes), model.input_shape());
  Rng rng(o.seed);
  model.init(rng);
  model.compile(default_loss(model, /*regression=*/false));
  const bool train = o.mode == "train";
  const Shape& in = model.input_shape();
  if (!shape_known(in)) fail("--input is needed: the model does not fix its input size");
  const int64_t K = model.output_shape()[0];

  // Random inputs in [0, 1) and random labels, drawn once.
  Shape batch_shape = {o.batch};
  batch_shape.insert(batch_shape.end(), in.begin(), in.end());
  Tensor x(batch_shape), dout;
  for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform();
  std::vector<float> targets(o.batch);
  for (float& t : targets) t = K == 1 ? static_cast<float>(rng.below(2)) : rng.below(K);
  auto optimizer = make_optimizer("adam", 0.001f);
  std::vector<Param*> params = model.params();
  Tensor probabilities;
  int64_t step_index = 0;
  auto step = [&] {
    if (!train) {
      model.predict(x, probabilities);
      return;
    }
    Rng step_rng = Rng::derive(o.seed, 0xbe7c, step_index++);
    forward_backward(model, x, targets.data(), nullptr, ForwardContext{true, &step_rng}, dout);
    optimizer->step(params);
  };

  const std::vector<double> per_step = time_steps(step, o.warmup, o.steps, o.seconds);
  const double seconds = step_median(per_step);
  const double images_per_second = o.batch / seconds;
  // Training: forward + backward (about twice the forward) = 3x the forward FLOPs.
  const double flop_per_image = (train ? 3.0 : 1.0) * static_cast<double>(model.flops());
  const double gflops = flop_per_image * images_per_second * 1e-9;
  const double peak = o.peak ? measure_fma_peak_gflops(threads()) : 0.0;
  const double rss = peak_rss_mb();

  if (o.json) {
    nlohmann::json j = {{"tool", "convkit"},
                        {"model", o.model},
                        {"mode", o.mode},
                        {"batch", o.batch},
                        {"threads", threads()},
                        {"gemm", gemm_backend_name(gemm_backend())},
                        {"blas_kernels", blas_kernels()},
                        {"img_s", images_per_second},
                        {"mflop_img", flop_per_image * 1e-6},
                        {"gflops", gflops},
                        {"fma_peak_gflops", peak},
                        {"peak_rss_mb", rss},
                        {"repeats", per_step.size()},
                        {"winograd_layers", winograd_layers(model)}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{} ({}), {} batch {}, {} thread{}, GEMM {}, random data\n", o.model,
               shape_compact(in), train ? "training (forward + backward + adam)" : "inference",
               o.batch, threads(), threads() == 1 ? "" : "s", gemm_description());
    fmt::print("{:.1f} img/s  (median of {} repeats; {:.2f} ms per batch)\n", images_per_second,
               per_step.size(), seconds * 1e3);
    fmt::print("{:.2f} MFLOP/img, {:.1f} GFLOP/s", flop_per_image * 1e-6, gflops);
    if (o.peak)
      fmt::print(" = {:.0f}% of the measured FMA peak ({:.1f} GFLOP/s)", 100 * gflops / peak, peak);
    fmt::print("\n");
    if (const auto names = winograd_layers(model); !names.empty())
      fmt::print(
          "({}: Winograd's transforms, which compute a quarter (3x3) to a sixth (5x5) of "
          "the multiplications counted)\n",
          fmt::join(names, ", "));
    fmt::print("peak RSS {:.0f} MB\n", rss);
  }
  if (!o.layers) return;

  // Per-layer breakdown: a few more steps with the model's layer timer on,
  // each step timed on its own. Every figure is a median over the steps, so a
  // step the machine stalled (another tenant, a page fault) lands in no row;
  // the last row is the median of what each step spent outside the layers.
  const int timed = std::max(5, static_cast<int>(0.5 / seconds));
  const size_t L = model.layers().size();
  std::vector<std::vector<double>> forward(L), backward(L);
  std::vector<double> step_seconds, outside;
  for (int i = 0; i < timed; ++i) {
    Model::LayerTimes times;
    model.set_layer_times(&times);
    const auto start = Clock::now();
    step();
    const double total = since(start);
    double in_layers = 0;
    for (size_t l = 0; l < L; ++l) {
      forward[l].push_back(times.forward[l]);
      backward[l].push_back(times.backward[l]);
      in_layers += times.forward[l] + times.backward[l];
    }
    step_seconds.push_back(total);
    outside.push_back(total - in_layers);
  }
  model.set_layer_times(nullptr);
  // Shares are of the medians' sum: the step a machine without stalls runs.
  double sum_ms = step_median(outside) * 1e3;
  for (size_t l = 0; l < L; ++l)
    sum_ms += (step_median(forward[l]) + step_median(backward[l])) * 1e3;
  fmt::print("\n{:<44} {:>10} {:>10} {:>7}\n", "layer (spec)", "fwd ms", "bwd ms", "share");
  for (size_t l = 0; l < L; ++l) {
    const double f = step_median(forward[l]) * 1e3, b = step_median(backward[l]) * 1e3;
    fmt::print("{:<44} {:>10.3f} {:>10.3f} {:>6.1f}%\n",
               fmt::format("{} ({})", model.layer(l).name, model.layer_spec(l)), f, b,
               100 * (f + b) / sum_ms);
  }
  const double rest = step_median(outside) * 1e3;
  fmt::print("{:<44} {:>21.3f} {:>6.1f}%\n", train ? "loss, optimizer, other" : "head, other", rest,
             100 * rest / sum_ms);
  fmt::print("(medians over {} steps, {:.2f} ms in all; a whole step's median: {:.2f} ms)\n", timed,
             sum_ms, step_median(step_seconds) * 1e3);
}

void bench_conv(const BenchConvOptions& o) {
  const Shape in = parse_shape(o.input, "--input");
  if (in.size() != 3) fail("--input must be HxWxC");
  const ConvGeometry g =
      conv_geometry(in[0], in[1], in[2], o.kernel, o.kernel, 1, 1, true, o.filters);
  const int64_t N = o.batch;
  // x (N,H,W,C), w (KH,KW,C,F), b (F), y and dz (N,OH,OW,F), dx like x.
  Tensor x({N, g.H, g.W, g.C}), w({g.KH, g.KW, g.C, g.F}), b({g.F}), y({N, g.OH, g.OW, g.F});
  Tensor dz(y.shape()), dx(x.shape()), dw(w.shape()), db(b.shape());
  Rng rng(1);
  for (Tensor* t : {&x, &w, &dz})
    for (int64_t i = 0; i < t->size(); ++i) (*t)[i] = rng.uniform(-1.0f, 1.0f);
  ConvWorkspace ws;
  const double flops = 2.0 * N * g.OH * g.OW * g.F * g.patch();  // each of the three passes
  auto rate = [&](const std::function<void()>& call) {
    return flops / step_median(time_steps(call, 2, 0, o.seconds)) * 1e-9;
  };
  struct Passes {
    double forward, backward_data, backward_weights;
  };
  auto passes = [&] {
    Passes p;
    p.forward = rate([&] {
      conv2d_forward(x.data(), w.data(), b.data(), Activation::relu, y.data(), N, g, ws);
    });
    // Backward with and without dx: the difference in time is the
    // backward-data pass (its share of the im2col both need is counted with
    // the weights).
    p.backward_weights = rate([&] {
      conv2d_backward(x.data(), w.data(), dz.data(), nullptr, dw.data(), db.data(), N, g, ws);
    });
    const double both = rate([&] {
      conv2d_backward(x.data(), w.data(), dz.data(), dx.data(), dw.data(), db.data(), N, g, ws);
    });
    // On a loaded machine the two timings can come out in the wrong order:
    // then the pass cannot be told apart, and is reported as unknown (NaN,
    // JSON null) rather than as a negative or infinite rate.
    const double seconds_both = 1.0 / both, seconds_w = 1.0 / p.backward_weights;  // per GFLOP
    p.backward_data = seconds_both > seconds_w ? 1.0 / (seconds_both - seconds_w)
                                               : std::numeric_limits<double>::quiet_NaN();
    return p;
  };
  // Where Winograd's transforms apply, the same passes without them too.
  const bool winograd = conv_uses_winograd(g);
  const Passes fast = passes();
  std::optional<Passes> without_winograd;
  if (winograd) {
    set_conv_winograd(false);
    without_winograd = passes();
    set_conv_winograd(true);  // as it was: winograd implies it was on
  }
  const double peak = measure_fma_peak_gflops(threads());
  const auto json_of = [](const Passes& p) {
    nlohmann::json j = {{"forward", p.forward}, {"backward_weights", p.backward_weights}};
    j["backward_data"] =
        std::isnan(p.backward_data) ? nlohmann::json() : nlohmann::json(p.backward_data);
    return j;
  };
  if (o.json) {
    nlohmann::json j = {{"tool", "convkit"},
                        {"input", o.input},
                        {"filters", o.filters},
                        {"kernel", o.kernel},
                        {"batch", o.batch},
                        {"threads", threads()},
                        {"gemm", gemm_backend_name(gemm_backend())},
                        {"blas_kernels", blas_kernels()},
                        {"algorithm", winograd ? "winograd" : "standard"},
                        {"fma_peak_gflops", peak}};
    j.update(json_of(fast));
    j["without_winograd"] = without_winograd ? json_of(*without_winograd) : nlohmann::json();
    fmt::print("{}\n", j.dump());
    return;
  }
  fmt::print("conv2d {} -> {} filters, {}x{} same, batch {}, {} thread{}, GEMM {}; {:.2f} GFLOP per pass\n",
             o.input, o.filters, o.kernel, o.kernel, N, threads(), threads() == 1 ? "" : "s",
             gemm_description(), flops * 1e-9);
  fmt::print("FMA peak, measured: {:.1f} GFLOP/s\n", peak);
  const auto figure = [&](double r) {
    // A pass that could not be timed apart from the other (see above).
    if (std::isnan(r)) return std::string("n/a (timing noise)");
    return fmt::format("{:7.1f} GFLOP/s ({:3.0f}%)", r, 100 * r / peak);
  };
  if (without_winograd) fmt::print("{:<26} {:<26} {}\n", "", "Winograd", "without Winograd");
  const std::pair<const char*, double Passes::*> rows[] = {
      {"forward (+bias, relu)", &Passes::forward},
      {"backward data", &Passes::backward_data},
      {"backward weights (+bias)", &Passes::backward_weights}};
  for (const auto& [what, pass] : rows) {
    if (without_winograd)
      fmt::print("{:<26} {:<26} {}\n", what, figure(fast.*pass), figure((*without_winograd).*pass));
    else
      fmt::print("{:<26} {}\n", what, figure(fast.*pass));
  }
  if (without_winograd)
    fmt::print(
        "GFLOP/s count the direct convolution's multiplications; Winograd's transforms "
        "compute {},\nso its figures are effective rates and can pass 100% of the peak.\n",
        o.kernel == 3
            ? "a quarter of them (F(4x4, 3x3): 2.25 per output and channel instead of 9)"
            : "about a sixth of them (F(4x4, 5x5): 4 per output and channel instead of 25)");
}

}  // namespace ck
