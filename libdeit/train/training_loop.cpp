#include "train/training_loop.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/utils/clip_grad.h>

#include <cmath>
#include <memory>

#include "core/error.h"
#include "core/log.h"
#include "train/train.h"

namespace deit::train {

void validate(const RecipeSettings& s) {
  augment::validate(s.augment);
  require(std::isfinite(s.clip_grad) && s.clip_grad >= 0.0,
          "clip_grad = " + std::to_string(s.clip_grad) + "; expected 0 (off) or a norm > 0");
}

augment::Batch training_batch(const DeviceData& data, const TrainStep& ts, const augment::Settings& a,
                              uint64_t seed, const ParallelLoop& par) {
  at::Tensor images = data.images(ts.indices, data.channels());
  at::Tensor labels = data.labels(ts.indices);
  if (!augment::changes_inputs(a)) return {images, labels, at::Tensor(), 1.0};
  return augment::apply(a, images, labels, derive_seed(seed, kAugmentStream, ts.global_step),
                        par.batch_offset(), par.global_batch());
}

void check_validation(const data::Dataset* val, const std::string& best_path) {
  require(val != nullptr || best_path.empty(), "best_path is set but val is NULL: the best epoch is chosen on a validation set");
}

EpochEndFn validation(const data::Dataset* val, const std::string& best_path, dist::Group* group,
                      std::function<double()> evaluate, std::function<void(const std::string&)> save,
                      std::function<void()> resume_training) {
  if (!val) return nullptr;
  const bool writer = group == nullptr || group->root();
  auto best = std::make_shared<double>(-1.0);
  return [=](int32_t epoch) {
    const double acc = evaluate();
    resume_training();
    if (!best_path.empty() && acc > *best) {
      *best = acc;
      if (writer) save(best_path);
      log(DEIT_LOG_INFO, "epoch " + std::to_string(epoch) + ": best validation accuracy so far (" +
                             std::to_string(acc) + "), checkpoint written to " + best_path);
    }
    return acc;
  };
}

void clip_gradients(const std::vector<at::Tensor>& params, double max_norm) {
  if (max_norm > 0.0) torch::nn::utils::clip_grad_norm_(params, max_norm);
}

void run_training_loop(int32_t epochs, int64_t steps, int64_t count, uint64_t seed, c10::Device device,
                       const OptimSettings& optim, torch::optim::Optimizer& optimizer, ParallelLoop& par,
                       StateKeeper& state, Progress& progress, const StepFn& step_fn,
                       const EpochEndFn& epoch_end) {
  const TrainingPosition pos = state.start();
  for (int32_t epoch = pos.epoch; epoch <= epochs; ++epoch) {
    progress.start_epoch(epoch, steps);
    // Each epoch's order from its own seed, so that a resumed run shuffles as the uninterrupted one did.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, kOrderStream, epoch));
    const at::Tensor perm = at::randperm(count, gen, at::kLong).to(device);
    for (int64_t step = epoch == pos.epoch ? pos.step : 0; step < steps; ++step) {
      const int64_t global_step = (epoch - 1) * steps + step;
      const double lr = lr_at(optim, global_step);
      set_lr(optimizer, lr);
      const std::vector<double> losses = step_fn({epoch, step, global_step, par.indices(perm, step)});
      state.after_step(epoch, step, steps, global_step);
      const double val = step + 1 == steps && epoch_end ? epoch_end(epoch) : -1.0;
      progress.step(step + 1, losses.at(0), losses.at(1), losses.at(2), par.global_batch(), lr, val);
    }
  }
  par.finish();
}

}  // namespace deit::train
