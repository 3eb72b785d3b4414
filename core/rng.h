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

  // Defined here so that loops drawing a number per element (dropout's mask)
  // inline them and keep the state in registers.
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 24 random bits (every float32 step in [0.5, 1)).
  float uniform() { return static_cast<float>(next() >> 40) * 0x1.0p-24f; }
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
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  State s_{};
};

}  // namespace ck
