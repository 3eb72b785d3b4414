#pragma once
// SGD as Keras implements it (keras/src/optimizers/sgd.py), lr default 0.01:
//   momentum 0:  w -= lr * g
//   momentum m:  u = m * u - lr * g;  w += u                (classical)
//   nesterov:    u = m * u - lr * g;  w += m * u - lr * g
#include "optim/optimizer.h"

namespace ck {

class SGD : public Optimizer {
 public:
  explicit SGD(float lr = 0.01f, float momentum = 0.0f, bool nesterov = false);
  std::string name() const override { return "sgd"; }
  std::string describe() const override;
  void step(const std::vector<Param*>& params) override;
  std::vector<std::pair<std::string, Tensor*>> state() override;
  void prepare(const std::vector<Param*>& params) override;

  float momentum;
  bool nesterov;

 private:
  std::vector<std::string> names_;
  std::vector<Tensor> velocity_;
};

}  // namespace ck
