#include "train/optim.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <cmath>
#include <string>

#include "core/c_enum.h"
#include "core/error.h"

namespace deit::train {

void validate(const OptimSettings& s) {
  require(s.optimizer == DEIT_OPTIM_ADAM || s.optimizer == DEIT_OPTIM_ADAMW || s.optimizer == DEIT_OPTIM_SGD,
          "optimizer " + std::to_string(s.optimizer) + " is not DEIT_OPTIM_ADAM, _ADAMW or _SGD");
  require(std::isfinite(s.lr) && s.lr > 0.0, "lr = " + std::to_string(s.lr) + "; expected a value > 0");
  require(std::isfinite(s.weight_decay) && s.weight_decay >= 0.0,
          "weight_decay = " + std::to_string(s.weight_decay) + "; expected a value >= 0");
  require(std::isfinite(s.momentum) && s.momentum >= 0.0 && s.momentum < 1.0,
          "momentum = " + std::to_string(s.momentum) + "; expected a value in [0, 1)");
  require(s.schedule == DEIT_SCHEDULE_CONSTANT || s.schedule == DEIT_SCHEDULE_COSINE,
          "schedule " + std::to_string(s.schedule) + " is not DEIT_SCHEDULE_CONSTANT or _COSINE");
  require(s.warmup_steps >= 0, "warmup must not be negative");
}

OptimSettings optim_settings(deit_optimizer optimizer, double lr, double weight_decay, double momentum,
                             deit_schedule schedule) {
  OptimSettings s;
  s.optimizer = checked_enum(optimizer, "optimizer");
  s.schedule = checked_enum(schedule, "schedule");
  s.lr = lr;
  s.momentum = momentum;
  require(weight_decay == -1.0 || !(weight_decay < 0.0),
          "weight_decay = " + std::to_string(weight_decay) + "; expected a value >= 0, or -1 for the optimizer's default");
  s.weight_decay = weight_decay == -1.0 ? (s.optimizer == DEIT_OPTIM_ADAMW ? 0.05 : 0.0) : weight_decay;
  validate(s);
  return s;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<at::Tensor>& params,
                                                        const OptimSettings& s) {
  switch (s.optimizer) {
    case DEIT_OPTIM_ADAMW:
      return std::make_unique<torch::optim::AdamW>(
          params, torch::optim::AdamWOptions(s.lr).weight_decay(s.weight_decay));
    case DEIT_OPTIM_SGD:
      return std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(s.lr).momentum(s.momentum).weight_decay(s.weight_decay));
    case DEIT_OPTIM_ADAM:
    default:
      return std::make_unique<torch::optim::Adam>(
          params, torch::optim::AdamOptions(s.lr).weight_decay(s.weight_decay));
  }
}

double lr_at(const OptimSettings& s, int64_t step) {
  if (s.schedule == DEIT_SCHEDULE_CONSTANT) return s.lr;
  if (step < s.warmup_steps)
    return s.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  const double span = static_cast<double>(std::max<int64_t>(1, s.total_steps - s.warmup_steps));
  const double t = std::min(1.0, static_cast<double>(step - s.warmup_steps) / span);
  return 0.5 * s.lr * (1.0 + std::cos(M_PI * t));
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

}  // namespace deit::train
