// The loop the teacher's and the student's training share (train/teacher_train.cpp, train/distill.cpp):
// epochs from the resumed position, each epoch's order from its own seed, the learning rate of every
// global step, the resumable state after every step and the progress reports.  A trainer supplies its step.
#pragma once

#include <ATen/ATen.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "augment/augment.h"
#include "data/dataset.h"
#include "dist/group.h"
#include "train/feed.h"
#include "train/optim.h"
#include "train/parallel_loop.h"
#include "train/progress.h"
#include "train/training_state.h"

namespace deit::train {

// derive_seed streams of a training run: each kind of random draw has its own, so that adding one never
// changes the others.
constexpr uint64_t kOrderStream = 1;    // each epoch's data order
constexpr uint64_t kDropoutStream = 2;  // each step's dropout and drop-path masks
constexpr uint64_t kAugmentStream = 3;  // each step's augmentation

struct TrainStep {
  int32_t epoch;        // 1-based
  int64_t step;         // 0-based within the epoch
  int64_t global_step;  // 0-based over the run
  at::Tensor indices;   // this rank's samples of the global batch
};

// One step: forward, backward, ParallelLoop::after_backward and the update; returns the losses to report
// {total, class head, distillation head}.
using StepFn = std::function<std::vector<double>(const TrainStep&)>;

// The images and targets of a step: this rank's stored images at ts.indices (float, their stored channel
// count) augmented as `a` says with the step's own draws.
augment::Batch training_batch(const DeviceData& data, const TrainStep& ts, const augment::Settings& a,
                              uint64_t seed, const ParallelLoop& par);

// Scales the gradients of `params` so that their global norm is at most max_norm (0: does nothing).
void clip_gradients(const std::vector<at::Tensor>& params, double max_norm);

// At an epoch's end, before its last progress report: the validation accuracy (-1: no validation).
using EpochEndFn = std::function<double(int32_t epoch)>;

// Validation of a trainer: `evaluate` (which leaves the model in eval mode) gives the accuracy on the
// validation set; with a best_path, `save` writes the model there (rank 0) whenever it improves.
// `resume_training` puts the model back in training mode.
EpochEndFn validation(const data::Dataset* val, const std::string& best_path, dist::Group* group,
                      std::function<double()> evaluate, std::function<void(const std::string&)> save,
                      std::function<void()> resume_training);
// DEIT_E_INVALID_ARG for a best_path without a validation set.
void check_validation(const data::Dataset* val, const std::string& best_path);

// Runs epochs pos.epoch .. epochs of `steps` steps over a data set of `count` samples on `device`, seeded
// by `seed` (state.start() gives pos), then ParallelLoop::finish.
void run_training_loop(int32_t epochs, int64_t steps, int64_t count, uint64_t seed, c10::Device device,
                       const OptimSettings& optim, torch::optim::Optimizer& optimizer, ParallelLoop& par,
                       StateKeeper& state, Progress& progress, const StepFn& step,
                       const EpochEndFn& epoch_end = nullptr);

}  // namespace deit::train
