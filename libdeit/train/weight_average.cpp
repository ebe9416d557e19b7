#include "train/weight_average.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace deit::train {
namespace {

// The decay applied after step t (the header's rule).
double decay_at(double decay, int64_t t) {
  return std::min(decay, (1.0 + static_cast<double>(t)) / (10.0 + static_cast<double>(t)));
}

}  // namespace

void check_average_decay(double decay) {
  require(std::isfinite(decay) && decay >= 0.0 && decay < 1.0,
          "ema_decay = " + std::to_string(decay) + "; expected 0 (off) or a decay in (0, 1), e.g. 0.999");
}

WeightAverage::WeightAverage(std::vector<std::pair<std::string, at::Tensor>> named_params, double decay)
    : decay_(decay) {
  check_average_decay(decay);
  if (!on()) return;
  at::NoGradGuard no_grad;
  for (auto& [name, p] : named_params) {
    names_.push_back(name);
    params_.push_back(p);
    average_.push_back(p.detach().clone());
  }
}

void WeightAverage::update(int64_t t) {
  if (!on()) return;
  at::NoGradGuard no_grad;
  const double d = decay_at(decay_, t);
  // lerp_: average += (1 - d) * (weights - average), one kernel per tensor.
  for (size_t i = 0; i < params_.size(); ++i) average_[i].lerp_(params_[i].detach(), 1.0 - d);
}

void WeightAverage::swap() {
  if (!on()) return;
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor keep = params_[i].detach().clone();
    params_[i].detach().copy_(average_[i]);
    average_[i].copy_(keep);
  }
}

std::vector<std::pair<std::string, at::Tensor>> WeightAverage::state() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (size_t i = 0; i < average_.size(); ++i) out.emplace_back(kStatePrefix + names_[i], average_[i]);
  return out;
}

}  // namespace deit::train
