#pragma once
// Adam (Kingma & Ba 2015) exactly as Keras implements it (keras/src/optimizers/adam.py):
//   m += (g - m) * (1 - beta_1)
//   v += (g^2 - v) * (1 - beta_2)
//   a_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
//   w -= a_t * m / (sqrt(v) + epsilon)
// Epsilon is added to the *uncorrected* sqrt(v) (PyTorch adds 1e-8 to sqrt(v_hat)).
#include "optim/optimizer.h"

namespace ck {

class Adam : public Optimizer {
 public:
  explicit Adam(float lr = 0.001f, float beta_1 = 0.9f, float beta_2 = 0.999f,
                float epsilon = 1e-7f);
  std::string name() const override { return "adam"; }
  std::string describe() const override;
  void step(const std::vector<Param*>& params) override;
  std::vector<std::pair<std::string, Tensor*>> state() override;
  void prepare(const std::vector<Param*>& params) override;

  float beta_1, beta_2, epsilon;

 private:
  std::vector<std::string> names_;
  std::vector<Tensor> m_, v_;
};

// One Adam update of n values, a_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t).
// w (n), g (n), m (n), v (n). SIMD, with its scalar reference. adam_update
// flushes subnormals to zero (simd::FlushSubnormals, core/simd.h), the
// reference does not: they agree on values above 1.18e-38.
void adam_update(float* w, const float* g, float* m, float* v, int64_t n, float a_t, float beta_1,
                 float beta_2, float epsilon);
void adam_update_reference(float* w, const float* g, float* m, float* v, int64_t n, float a_t,
                           float beta_1, float beta_2, float epsilon);

}  // namespace ck
