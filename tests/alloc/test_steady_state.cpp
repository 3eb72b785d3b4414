// The training and inference loops allocate no storage in steady state: every
// tensor and workspace is sized on the first steps and reused (issue 7). What
// remains is bookkeeping: Shape vectors of a few dims, a std::function's
// captures, tens of bytes each. This executable replaces malloc and its
// relatives with counting wrappers around glibc's own, which is why it runs
// apart from convkit_tests.
//
// The GEMM backend is convkit's own (simd): OpenBLAS's small-matrix kernels
// (sgemm_small_kernel_*, used for LeNet's dense layers) malloc a packing
// buffer on every call, which is the library's affair, not a workspace of ours.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "apps/model_builder.h"
#include "apps/trainer.h"
#include "core/gemm.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "optim/optimizer.h"

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* p, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* p);
}

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
std::atomic<size_t> largest{0};  // bytes of the largest counted allocation
void count(size_t size) {
  if (!counting.load(std::memory_order_relaxed)) return;
  allocations.fetch_add(1, std::memory_order_relaxed);
  size_t seen = largest.load(std::memory_order_relaxed);
  while (size > seen && !largest.compare_exchange_weak(seen, size)) {
  }
}
}  // namespace

// operator new and std::aligned_alloc reach these; free is glibc's.
extern "C" {
void* malloc(size_t size) {
  count(size);
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) {
  count(n * size);
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) {
  count(size);
  return __libc_realloc(p, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  count(size);
  return __libc_memalign(alignment, size);
}
void* memalign(size_t alignment, size_t size) {
  count(size);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  count(size);
  *out = __libc_memalign(alignment, size);
  return *out ? 0 : ENOMEM;
}
void free(void* p) { __libc_free(p); }
}

using namespace ck;

namespace {

struct Allocations {
  long count;     // per step
  size_t largest;  // bytes
};

// Storage for even a few floats of a batch is far above this; a Shape of
// rank 4 or a lambda's captures are below it.
constexpr size_t kBookkeepingBytes = 128;

// Heap allocations (by any thread) during `steps` calls of `step`, after
// `warmup` calls that may size the workspaces. Per-thread scratch is sized by
// the first call a thread runs, and oneTBB may hand work to a worker thread
// that has not run it yet, so a window with storage allocations is measured
// again, a few times: a step that allocates storage every time fails them all.
template <class Step>
Allocations allocations_in_steady_state(Step&& step, int warmup = 3, int steps = 3) {
  for (int i = 0; i < warmup; ++i) step();
  Allocations window{};
  for (int attempt = 0; attempt < 5; ++attempt) {
    allocations = 0;
    largest = 0;
    counting = true;
    for (int i = 0; i < steps; ++i) step();
    counting = false;
    window = {allocations.load() / steps, largest.load()};
    if (window.largest <= kBookkeepingBytes) break;
  }
  return window;
}

struct Case {
  std::string spec;
  Shape input;
  std::string optimizer;
};

}  // namespace

TEST_CASE("the counting allocator sees what it should") {
  const Allocations a = allocations_in_steady_state([] {
    auto kept = std::make_unique<std::vector<float>>(100);  // two allocations, 400 bytes the larger
    CHECK(kept->size() == 100);
  });
  CHECK(a.count == 2);
  CHECK(a.largest == 400);
}

TEST_CASE("a training step allocates no storage once the workspaces are sized") {
  const std::vector<Case> cases = {
      {"lenet5", {28, 28, 1}, "adam"},
      {"conv2d(16,3,same,relu) maxpool(2) conv2d(32,3,relu) globalavgpool dense(10,softmax)",
       {32, 32, 3},
       "sgd"},
      {"conv2d(8,5,same,relu) maxpool(2) flatten dense(64,relu) dropout(0.4) dense(10,softmax)",
       {28, 28, 1},
       "adam"},
      // Winograd's forward pass and both its gradients (32 channels in, 32
      // and 64 filters out: whole slivers with AVX-512 and AVX2).
      {"conv2d(32,3,same,relu) conv2d(32,3,same,relu) conv2d(64,5,relu) globalavgpool "
       "dense(10,softmax)",
       {12, 12, 3},
       "adam"},
  };
  set_gemm_backend(GemmBackend::simd);
  for (int threads : {1, 2}) {
    set_threads(threads);
    for (const Case& c : cases) {
      CAPTURE(threads);
      CAPTURE(c.spec);
      Model model = make_model(c.spec, c.input);
      model.compile(default_loss(model, false));
      Rng rng(1);
      model.init(rng);
      auto optimizer = make_optimizer(c.optimizer, 0.01f, c.optimizer == "sgd" ? 0.9f : 0.0f);
      const std::vector<Param*> params = model.params();
      Shape batch = {16};
      batch.insert(batch.end(), c.input.begin(), c.input.end());
      Tensor x(batch), dout;
      for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform();
      std::vector<float> targets(16);
      for (float& t : targets) t = static_cast<float>(rng.below(10));
      Rng dropout_rng(2);
      const Allocations train = allocations_in_steady_state([&] {
        forward_backward(model, x, targets.data(), nullptr, ForwardContext{true, &dropout_rng}, dout);
        optimizer->step(params);
      });
      CHECK(train.largest <= kBookkeepingBytes);
      CHECK(train.count < 100);
      Tensor probabilities;
      const Allocations infer = allocations_in_steady_state([&] { model.predict(x, probabilities); });
      CHECK(infer.largest <= kBookkeepingBytes);
      CHECK(infer.count < 100);
      MESSAGE(c.spec, ", ", threads, " thread(s): ", train.count, " small allocations per training step (",
              train.largest, " bytes at most), ", infer.count, " per inference step");
    }
  }
}
