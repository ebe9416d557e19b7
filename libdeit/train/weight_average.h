// An exponential moving average of a model's parameters (DeiT's model EMA, timm's ModelEma): after every
// optimizer step t (0-based over the run)
//     average = d_t * average + (1 - d_t) * weights,   d_t = min(decay, (1 + t) / (10 + t)),
// with TensorFlow's warm-up of the decay (ExponentialMovingAverage's num_updates), so that the random
// start fades within the first steps even in a run of a few hundred steps, where decay alone (DeiT's
// 0.99996) would keep mostly the initialisation.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace deit::train {

class WeightAverage {
 public:
  // decay 0: off (every call does nothing); else in (0, 1).  The average starts as a copy of `params`.
  WeightAverage(std::vector<std::pair<std::string, at::Tensor>> named_params, double decay);
  bool on() const { return decay_ > 0.0; }
  // After optimizer step t.
  void update(int64_t t);
  // Exchanges the weights and the average in place (for an evaluation of the average, and back).
  void swap();
  // The average in the model for the scope's lifetime, however it ends.
  struct Swapped {
    WeightAverage& a;
    explicit Swapped(WeightAverage& average) : a(average) { a.swap(); }
    ~Swapped() { a.swap(); }
    Swapped(const Swapped&) = delete;
    Swapped& operator=(const Swapped&) = delete;
  };
  // The average, named as the parameters with kStatePrefix in front (for a training state).
  std::vector<std::pair<std::string, at::Tensor>> state() const;
  static constexpr const char* kStatePrefix = "weight_average/";

 private:
  double decay_;
  std::vector<std::string> names_;
  std::vector<at::Tensor> params_, average_;
};

// Throws DEIT_E_INVALID_ARG unless decay is 0 or in (0, 1).
void check_average_decay(double decay);

}  // namespace deit::train
