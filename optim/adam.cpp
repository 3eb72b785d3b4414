#include "optim/adam.h"

#include <fmt/format.h>

#include <cmath>

#include "core/parallel.h"
#include "core/simd.h"

namespace ck {

Adam::Adam(float lr, float b1, float b2, float eps) : beta_1(b1), beta_2(b2), epsilon(eps) {
  learning_rate = lr;
}

std::string Adam::describe() const {
  return fmt::format("adam(lr={:g}, beta_1={:g}, beta_2={:g}, epsilon={:g})", learning_rate, beta_1,
                     beta_2, epsilon);
}

void Adam::prepare(const std::vector<Param*>& params) {
  if (m_.size() == params.size()) return;
  names_.clear(), m_.clear(), v_.clear();
  for (Param* p : params) {
    names_.push_back(p->name);
    m_.emplace_back(p->value.shape());
    v_.emplace_back(p->value.shape());
  }
}

void Adam::step(const std::vector<Param*>& params) {
  prepare(params);
  ++iterations;
  const double t = static_cast<double>(iterations);
  const float a_t = static_cast<float>(learning_rate * std::sqrt(1.0 - std::pow(beta_2, t)) /
                                       (1.0 - std::pow(beta_1, t)));
  for (size_t i = 0; i < params.size(); ++i) {
    Param& p = *params[i];
    if (!p.trainable) continue;
    float *w = p.value.data(), *m = m_[i].data(), *v = v_[i].data();
    const float* g = p.grad.data();
    // Elementwise, so splitting the range never changes the result.
    parallel_for(p.value.size(), 1 << 15, [&](int64_t begin, int64_t end) {
      adam_update(w + begin, g + begin, m + begin, v + begin, end - begin, a_t, beta_1, beta_2,
                  epsilon);
    });
  }
}

std::vector<std::pair<std::string, Tensor*>> Adam::state() {
  std::vector<std::pair<std::string, Tensor*>> s;
  for (size_t i = 0; i < m_.size(); ++i) {
    s.emplace_back("adam/m/" + names_[i], &m_[i]);
    s.emplace_back("adam/v/" + names_[i], &v_[i]);
  }
  return s;
}

void adam_update(float* w, const float* g, float* m, float* v, int64_t n, float a_t, float beta_1,
                 float beta_2, float epsilon) {
  using namespace simd;
  const FlushSubnormals flush;
  const vec c1 = set1(1.0f - beta_1), c2 = set1(1.0f - beta_2), at = set1(a_t), eps = set1(epsilon);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    vec gi = load(g + i), mi = load(m + i), vi = load(v + i);
    mi = fma(sub(gi, mi), c1, mi);
    vi = fma(sub(mul(gi, gi), vi), c2, vi);
    store(m + i, mi);
    store(v + i, vi);
    store(w + i, sub(load(w + i), div(mul(at, mi), add(sqrt(vi), eps))));
  }
  adam_update_reference(w + i, g + i, m + i, v + i, n - i, a_t, beta_1, beta_2, epsilon);
}

void adam_update_reference(float* w, const float* g, float* m, float* v, int64_t n, float a_t,
                           float beta_1, float beta_2, float epsilon) {
  for (int64_t i = 0; i < n; ++i) {
    m[i] += (g[i] - m[i]) * (1.0f - beta_1);
    v[i] += (g[i] * g[i] - v[i]) * (1.0f - beta_2);
    w[i] -= a_t * m[i] / (std::sqrt(v[i]) + epsilon);
  }
}

}  // namespace ck
