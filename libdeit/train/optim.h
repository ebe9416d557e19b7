// Optimizers and learning-rate schedules shared by teacher and student training.
#pragma once

#include <deit/deit.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

namespace deit::train {

struct OptimSettings {
  deit_optimizer optimizer = DEIT_OPTIM_ADAM;
  double lr = 1e-3;
  double weight_decay = 0.0;
  double momentum = 0.9;
  deit_schedule schedule = DEIT_SCHEDULE_CONSTANT;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
};

void validate(const OptimSettings& s);

// The C options' optimizer fields, checked (enums included); weight_decay -1 is the optimizer's default
// (0 for Adam and SGD, 0.05 for AdamW, as in timm's DeiT recipe).
OptimSettings optim_settings(deit_optimizer optimizer, double lr, double weight_decay, double momentum,
                             deit_schedule schedule = DEIT_SCHEDULE_CONSTANT);

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<at::Tensor>& params,
                                                        const OptimSettings& s);

// Learning rate for 0-based `step`: constant, or linear warmup then cosine to 0.
double lr_at(const OptimSettings& s, int64_t step);

void set_lr(torch::optim::Optimizer& opt, double lr);

}  // namespace deit::train
