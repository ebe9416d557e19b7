#include "train/training_loop.h"

#include <ATen/CPUGeneratorImpl.h>

namespace deit::train {
namespace {
constexpr uint64_t kOrderStream = 1;  // derive_seed stream of the data order
}  // namespace

void run_training_loop(int32_t epochs, int64_t steps, int64_t count, uint64_t seed, c10::Device device,
                       const OptimSettings& optim, torch::optim::Optimizer& optimizer, ParallelLoop& par,
                       StateKeeper& state, Progress& progress, const StepFn& step_fn) {
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
      progress.step(step + 1, losses.at(0), losses.at(1), losses.at(2), par.global_batch(), lr);
    }
  }
  par.finish();
}

}  // namespace deit::train
