#pragma once
// Rng: the one source of randomness in convkit, so that a seed reproduces a run.
// xoshiro256** (Blackman & Vigna), seeded through splitmix64. Its whole state
// is four words, saved in checkpoints so a resumed run continues the sequence.
#include <array>
#include <cstdint>
#include <span>

namespace ck {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  // An independent stream for (seed, a, b): e.g. the shuffle of epoch a, or the
  // augmentation of sample b in epoch a. Used wherever parallel work needs
  // randomness that does not depend on which thread runs it.
  static Rng derive(uint64_t seed, uint64_t a, uint64_t b = 0);

  uint64_t next();
  // Uniform in [0, 1) with 24 random bits (every float32 step in [0.5, 1)).
  float uniform();
  // Uniform in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n). Requires: n > 0. Unbiased (Lemire's method).
  uint64_t below(uint64_t n);
  // Standard normal (Box-Muller).
  float normal();
  // Fisher-Yates shuffle.
  template <class T>
  void shuffle(std::span<T> items) {
    for (size_t i = items.size(); i > 1; --i) {
      size_t j = below(i);
      std::swap(items[i - 1], items[j]);
    }
  }

  using State = std::array<uint64_t, 4>;
  State state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  State s_{};
};

}  // namespace ck
