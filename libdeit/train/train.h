// Training and evaluation loops behind deit_teacher_train, deit_distill and
// the evaluate calls.
#pragma once

#include <deit/deit.h>

#include <string>
#include <vector>

#include "augment/augment.h"
#include "data/dataset.h"
#include "dist/group.h"
#include "models/student.h"
#include "models/teacher.h"
#include "train/losses.h"
#include "train/optim.h"

namespace deit::train {

// Crash safety: where and how often the resumable training state is written (train/training_state.h).
struct StateSettings {
  std::string path;         // empty: none
  int64_t every_steps = 0;  // also every N steps (0: end of each epoch only)
  bool resume = false;      // continue from path when it exists
};
// From the C options; DEIT_E_INVALID_ARG for a negative interval or resume without a path.
StateSettings state_settings(const char* path, int32_t every_steps, int32_t resume);

struct Callback {
  deit_progress_fn fn = nullptr;
  void* user_data = nullptr;
};

// What both trainers do beyond the optimizer (DeiT's recipe): augmented batches and gradient clipping.
struct RecipeSettings {
  augment::Settings augment;
  double clip_grad = 0;  // largest global gradient norm (0: no clipping)
};
void validate(const RecipeSettings& s);

struct TeacherTrainSettings {
  int32_t epochs = 3;
  int32_t batch_size = 64;
  int32_t warmup_epochs = 0;
  OptimSettings optim;
  double label_smoothing = 0;
  RecipeSettings recipe;
  const data::Dataset* val = nullptr;  // evaluated at each epoch's end
  std::string best_path;               // with val: the best epoch's checkpoint
  deit_trainable trainable = DEIT_TRAIN_AUTO;
  uint64_t seed = 0;
  Callback progress;
  StateSettings state;
  dist::Group* group = nullptr;  // data parallelism: batch_size is per rank
};

// Argument checks shared by the training loops.
void check_common(int32_t epochs, int32_t warmup_epochs, int32_t batch_size, const data::Dataset& ds,
                  int64_t num_classes, const char* model_name, const dist::Group* group);

// DEIT_E_NUMERIC naming the model, epoch and 0-based step when `loss` is NaN or infinite.
void check_finite_loss(double loss, const char* model, int32_t epoch, int64_t step);

void train_teacher(models::Teacher& teacher, const data::Dataset& train, const TeacherTrainSettings& s);

struct DistillSettings {
  int32_t epochs = 5;
  int32_t batch_size = 64;
  int32_t warmup_epochs = 0;
  OptimSettings optim;
  LossSettings loss;
  RecipeSettings recipe;
  double drop_path = 0;  // stochastic depth rate of the last block (DistilledViTImpl::set_drop_path)
  double ema_decay = 0;  // > 0: the student ends with the average of its weights (train/weight_average.h)
  const data::Dataset* val = nullptr;  // evaluated at each epoch's end (averaged heads)
  std::string best_path;               // with val: the best epoch's checkpoint
  models::DataCard card;               // written into best_path's checkpoint
  uint64_t seed = 0;
  bool cache_teacher_logits = true;
  std::string teacher_logits_path;  // empty: the cached logits live only in memory (train/logit_cache.h)
  Callback progress;
  StateSettings state;
  dist::Group* group = nullptr;  // data parallelism: batch_size is per rank
};

void distill(models::DistilledViT& student, const models::StudentConfig& config, models::Teacher* teacher,
             const data::Dataset& train, const DistillSettings& s);

struct EvalResult {
  int64_t count = 0;
  double accuracy = 0, loss = 0, accuracy_cls = 0, accuracy_dist = 0;
  std::vector<int64_t> confusion;  // num_classes^2, row = true label, averaged head
};

// With a group, each rank evaluates its share of `data` and the counts are summed over the ranks: every
// rank returns the result for all of it.
EvalResult evaluate_teacher(models::Teacher& teacher, const data::Dataset& data, dist::Group* group = nullptr);
EvalResult evaluate_student(models::DistilledViT& student, const models::StudentConfig& config,
                            const data::Dataset& data, dist::Group* group = nullptr);

}  // namespace deit::train
