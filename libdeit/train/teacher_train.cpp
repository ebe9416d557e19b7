// Teacher fine-tuning: the notebook's loop (train mode, so BatchNorm
// statistics adapt even when only the head learns; eval mode afterwards).
#include <torch/autograd.h>
#include <torch/nn/module.h>

#include <cmath>

#include "core/error.h"
#include "dist/data_parallel.h"
#include "models/checkpoint.h"
#include "runtime/runtime.h"
#include "train/feed.h"
#include "train/parallel_loop.h"
#include "train/progress.h"
#include "train/train.h"
#include "train/training_loop.h"
#include "train/training_state.h"

namespace deit::train {
namespace {

// Leaves the teacher in eval mode with every parameter trainable again, also
// when training stops early (error or cancel).
struct TeacherTrainingScope {
  models::Teacher& teacher;
  explicit TeacherTrainingScope(models::Teacher& t) : teacher(t) { teacher.net->set_training(true); }
  ~TeacherTrainingScope() {
    teacher.net->set_training(false);
    for (auto& p : teacher.net->parameters()) p.requires_grad_(true);
  }
};

}  // namespace

void check_common(int32_t epochs, int32_t warmup_epochs, int32_t batch_size, const data::Dataset& ds,
                  int64_t num_classes, const char* model_name, const dist::Group* group) {
  require(epochs >= 1, "epochs = " + std::to_string(epochs) + "; expected at least 1");
  require(warmup_epochs >= 0 && warmup_epochs <= epochs,
          "warmup_epochs = " + std::to_string(warmup_epochs) + "; expected 0.." + std::to_string(epochs));
  require(batch_size >= 1, "batch_size = " + std::to_string(batch_size) + "; expected at least 1");
  const int64_t world = group ? group->size() : 1;
  require(ds.count >= batch_size * world,
          "the training set has " + std::to_string(ds.count) + " images, fewer than batch_size = " +
              std::to_string(batch_size) +
              (world > 1 ? " x " + std::to_string(world) + " ranks" : std::string()) +
              " (the last incomplete batch is dropped)");
  require(ds.num_classes <= num_classes, "the data set has " + std::to_string(ds.num_classes) +
                                             " classes but the " + model_name + " has " +
                                             std::to_string(num_classes) + " outputs");
}

void check_finite_loss(double loss, const char* model, int32_t epoch, int64_t step) {
  if (std::isfinite(loss)) return;
  fail(DEIT_E_NUMERIC, std::string(model) + " loss became " + (std::isnan(loss) ? "NaN" : "infinite") +
                           " at epoch " + std::to_string(epoch) + ", step " + std::to_string(step + 1) +
                           " (NaN/Inf in the inputs, or a learning rate too high); the weights of the last "
                           "finite step are kept");
}

void train_teacher(models::Teacher& teacher, const data::Dataset& ds, const TeacherTrainSettings& s) {
  const runtime::CallScope call;
  if (teacher.is_torchscript())
    fail(DEIT_E_UNSUPPORTED, "a TorchScript teacher is used as given; libdeit does not fine-tune it");
  check_common(s.epochs, s.warmup_epochs, s.batch_size, ds, teacher.num_classes, "teacher", s.group);
  validate(s.optim);
  validate(s.recipe);
  check_below_one(s.label_smoothing, "label_smoothing");
  require(s.trainable >= DEIT_TRAIN_AUTO && s.trainable <= DEIT_TRAIN_ALL,
          "trainable " + std::to_string(s.trainable) + " is not DEIT_TRAIN_AUTO, _HEAD or _ALL");
  check_input_shape(ds, 3, ds.height, ds.width, "teacher");
  const bool head_only =
      s.trainable == DEIT_TRAIN_HEAD || (s.trainable == DEIT_TRAIN_AUTO && teacher.pretrained);

  require(teacher.net->module() != nullptr, "the teacher has no module to train");
  // Every rank starts from rank 0's weights and BatchNorm statistics.
  dist::broadcast_module(s.group, *teacher.net->module());
  DeviceData data(ds, teacher.device);

  std::vector<at::Tensor> params = head_only ? teacher.net->head_parameters() : teacher.net->parameters();
  if (head_only)
    for (auto& p : teacher.net->parameters()) p.requires_grad_(false);
  for (auto& p : params) p.requires_grad_(true);
  Progress progress(DEIT_PHASE_TEACHER_TRAIN, s.epochs, s.progress.fn, s.progress.user_data);
  ParallelLoop par(s.group, s.batch_size, params, 1, progress);
  const int64_t steps = ds.count / par.global_batch();
  OptimSettings optim = s.optim;
  optim.total_steps = steps * s.epochs;
  optim.warmup_steps = steps * s.warmup_epochs;
  auto opt = make_optimizer(params, optim);

  StateKeeper state(s.state, s.group, *teacher.net->module(), *opt,
                    RunIdentity()
                        .add("arch", teacher.arch)
                        .add("classes", teacher.num_classes)
                        .add("head_only", head_only)
                        .add("epochs", s.epochs)
                        .add("batch", s.batch_size)
                        .add_optim(optim)
                        .add("smoothing", s.label_smoothing)
                        .add_pairs(augment::describe(s.recipe.augment))
                        .add("clip_grad", s.recipe.clip_grad)
                        .add("ranks", dist::size_of(s.group))
                        .finish(s.seed, ds));
  check_validation(s.val, s.best_path);
  TeacherTrainingScope scope(teacher);
  const EpochEndFn epoch_end = validation(
      s.val, s.best_path, s.group, [&] { return evaluate_teacher(teacher, *s.val, s.group).accuracy; },
      [&](const std::string& path) { models::save_teacher_checkpoint(teacher, path); },
      [&] { teacher.net->set_training(true); });
  run_training_loop(s.epochs, steps, ds.count, s.seed, teacher.device, optim, *opt, par, state, progress,
                    [&](const TrainStep& ts) {
    const augment::Batch batch = training_batch(data, ts, s.recipe.augment, s.seed, par);
    const at::Tensor logits = teacher.forward(to_model_input(batch.images, 3));
    const at::Tensor loss =
        cross_entropy(logits, Targets(batch.labels, batch.mixed_with, batch.lam), s.label_smoothing);
    opt->zero_grad();
    loss.backward();
    const double value = par.after_backward({loss.item<double>()})[0];
    check_finite_loss(value, "teacher", ts.epoch, ts.step);  // before the update: the last good weights stay
    clip_gradients(params, s.recipe.clip_grad);
    opt->step();
    // BatchNorm statistics follow each rank's own batches (as with DistributedDataParallel without
    // SyncBatchNorm); averaging them at each epoch's end keeps the ranks' models identical.
    if (ts.step + 1 == steps) dist::average_buffers(s.group, *teacher.net->module());
    return std::vector<double>{value, value, 0.0};
  }, epoch_end);
}

}  // namespace deit::train
