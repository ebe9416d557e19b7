// Distillation: the student learns the labels through its class head and the
// frozen teacher through its distillation head (../shared/DESIGN.md, section 1).
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "dist/data_parallel.h"
#include "models/checkpoint.h"
#include "ops/fused_ops.h"
#include "runtime/runtime.h"
#include "train/feed.h"
#include "train/logit_cache.h"
#include "train/parallel_loop.h"
#include "train/progress.h"
#include "train/train.h"
#include "train/training_loop.h"
#include "train/training_state.h"
#include "train/weight_average.h"

namespace deit::train {
namespace {

constexpr int64_t kTeacherBatch = 256;
constexpr int64_t kTeacherChannels = 3;
// The student returns to eval mode, without stochastic depth, however training ends.
struct StudentTrainingScope {
  models::DistilledViT& student;
  StudentTrainingScope(models::DistilledViT& s, double drop_path) : student(s) {
    student->set_drop_path(drop_path);
    student->train();
  }
  ~StudentTrainingScope() {
    student->eval();
    student->set_drop_path(0.0);
  }
};

// The frozen teacher's logits for the whole training set, computed once: the
// teacher is in eval mode and no augmentation changes the inputs, so the loss
// is exactly the same as running it online, at a fraction of the cost.
// Data parallelism: each rank computes its share of the rows and one sum over the ranks (the other rows are
// zeros) gives every rank all of them.
at::Tensor cache_teacher_logits(models::Teacher& teacher, const DeviceData& data, const Callback& cb,
                                dist::Group* group) {
  group = several_ranks(group);
  const int64_t n = data.size();
  const dist::Shard shard = dist::shard_of(n, dist::rank_of(group), dist::size_of(group));
  const int64_t steps = (shard.count + kTeacherBatch - 1) / kTeacherBatch;
  Progress progress(DEIT_PHASE_TEACHER_LOGITS, 1, cb.fn, cb.user_data);
  if (group) progress.defer_cancel();
  progress.start_epoch(1, steps);
  std::vector<at::Tensor> parts;
  parts.reserve(static_cast<size_t>(steps));
  for (int64_t step = 0; step < steps; ++step) {
    const int64_t start = shard.start + step * kTeacherBatch;
    const int64_t b = std::min(kTeacherBatch, shard.start + shard.count - start);
    parts.push_back(models::teacher_logits(teacher, data.slice(start, b, kTeacherChannels)).to(at::kFloat));
    progress.step(step + 1, 0.0, 0.0, 0.0, b, 0.0);
  }
  if (!group) return at::cat(parts, 0);
  const int64_t classes = teacher.num_classes;
  // One message: all rows, then a cancel flag.
  at::Tensor all = at::zeros({n * classes + 1}, parts.front().options());
  if (shard.count > 0)
    all.narrow(0, shard.start * classes, shard.count * classes).copy_(at::cat(parts, 0).reshape({-1}));
  all[n * classes] = progress.cancel_requested() ? 1.0 : 0.0;
  group->allreduce_sum(all, "sharing the teacher's logits");
  if (all[n * classes].item<double>() > 0) cancelled_by_a_rank(progress, *group);
  return all.narrow(0, 0, n * classes).view({n, classes});
}

// The teacher's logits for the whole training set: from the file at s.teacher_logits_path when it holds them
// for this data and this teacher, else computed (cache_teacher_logits) and written there by rank 0.
at::Tensor teacher_logits_for_training(models::Teacher& teacher, const data::Dataset& ds, const DeviceData& data,
                                       const DistillSettings& s) {
  if (s.teacher_logits_path.empty()) return cache_teacher_logits(teacher, data, s.progress, s.group);
  const std::string& path = s.teacher_logits_path;
  const LogitCacheKey key = logit_cache_key(teacher, ds);
  at::Tensor logits = read_logit_cache(path, key);
  // Every rank must take the same branch: the file is used only when all of them could read it.
  if (dist::Group* group = several_ranks(s.group)) {
    at::Tensor hits = at::full({1}, logits.defined() ? 1.0 : 0.0, at::TensorOptions().device(data.labels().device()));
    group->allreduce_sum(hits, "agreeing on the teacher-logit cache");
    if (hits.item<double>() < group->size()) logits = at::Tensor();
  }
  if (logits.defined()) {
    log(DEIT_LOG_INFO, "teacher logits for " + std::to_string(key.images) + " images read from " + path);
    return logits.to(data.labels().device());
  }
  logits = cache_teacher_logits(teacher, data, s.progress, s.group);
  if (dist::rank_of(s.group) == 0) {
    try {
      write_logit_cache(path, key, logits);
      log(DEIT_LOG_INFO, "teacher logits written to " + path);
    } catch (const Error& e) {
      // Training does not need the file: say so and go on rather than lose the work done.
      log(DEIT_LOG_WARN, std::string("the teacher-logit cache was not written: ") + e.what());
    }
  }
  return logits;
}

// What a training state must agree on to be resumed.
std::map<std::string, std::string> run_description(const models::StudentConfig& c, const data::Dataset& ds,
                                                   const DistillSettings& s, const OptimSettings& optim,
                                                   bool use_teacher) {
  return RunIdentity()
      .add("epochs", s.epochs)
      .add("batch", s.batch_size)
      .add_optim(optim)
      .add("loss", s.loss.type)
      .add("alpha", s.loss.alpha)
      .add("T", s.loss.temperature)
      .add("smoothing", s.loss.label_smoothing)
      .add_pairs(augment::describe(s.recipe.augment))
      .add("clip_grad", s.recipe.clip_grad)
      .add("drop_path", s.drop_path)
      .add("ema", s.ema_decay)
      .add("teacher", use_teacher)
      .add("ranks", dist::size_of(s.group))
      .finish(s.seed, ds, {{"model", models::describe_architecture(c)}});
}

}  // namespace

void distill(models::DistilledViT& student, const models::StudentConfig& config, models::Teacher* teacher,
             const data::Dataset& ds, const DistillSettings& s) {
  const runtime::CallScope call;
  check_common(s.epochs, s.warmup_epochs, s.batch_size, ds, config.num_classes, "student", s.group);
  validate(s.loss);
  validate(s.optim);
  validate(s.recipe);
  check_below_one(s.drop_path, "drop_path");
  check_average_decay(s.ema_decay);
  require(s.teacher_logits_path.empty() || s.cache_teacher_logits,
          "teacher_logits_path is set but cache_teacher_logits is 0: the logits are cached only when the "
          "teacher is not run at every step");
  const bool use_teacher = s.loss.type != DEIT_DISTILL_NONE;
  require(teacher != nullptr || !use_teacher,
          "teacher is NULL; it is required unless distillation is DEIT_DISTILL_NONE");
  check_input_shape(ds, config.in_channels, config.img_size, config.img_size, "student");
  const c10::Device device = student->parameters().front().device();
  if (use_teacher) {
    require(teacher->num_classes == config.num_classes,
            "the teacher has " + std::to_string(teacher->num_classes) + " classes, the student " +
                std::to_string(config.num_classes));
    if (teacher->device != device) {
      log(DEIT_LOG_INFO, "moving the teacher to the student's device " + runtime::device_name(device));
      teacher->to(device);
    }
    teacher->net->set_training(false);
  }

  // Every rank starts from rank 0's weights.
  dist::broadcast_module(s.group, *student);
  DeviceData data(ds, device);
  // Augmented images differ at every step: the teacher then sees each batch as the student does.
  const bool augmented = augment::changes_inputs(s.recipe.augment);
  if (use_teacher && augmented && s.cache_teacher_logits)
    log(DEIT_LOG_INFO, std::string("augmentation changes every batch: the teacher runs on each one") +
                           (s.teacher_logits_path.empty() ? "" : " (teacher_logits_path is not used)"));
  const at::Tensor cached = use_teacher && s.cache_teacher_logits && !augmented
                                ? teacher_logits_for_training(*teacher, ds, data, s)
                                : at::Tensor();

  Progress progress(DEIT_PHASE_DISTILL, s.epochs, s.progress.fn, s.progress.user_data);
  ParallelLoop par(s.group, s.batch_size, student->parameters(), 3, progress);
  const int64_t steps = ds.count / par.global_batch();
  OptimSettings optim = s.optim;
  optim.total_steps = steps * s.epochs;
  optim.warmup_steps = steps * s.warmup_epochs;
  auto opt = make_optimizer(student->parameters(), optim);

  NamedTensors named;
  for (const auto& p : student->named_parameters()) named.emplace_back(p.key(), p.value());
  WeightAverage average(named, s.ema_decay);
  StateKeeper state(s.state, s.group, *student, *opt, run_description(config, ds, s, optim, use_teacher),
                    average.state());
  check_validation(s.val, s.best_path);
  StudentTrainingScope scope(student, s.drop_path);
  // With a weight average, validation and the best checkpoint are of the average (what training returns).
  const EpochEndFn epoch_end = validation(
      s.val, s.best_path, s.group,
      [&] {
        const WeightAverage::Swapped in(average);
        return evaluate_student(student, config, *s.val, s.group).accuracy;
      },
      [&](const std::string& path) {
        const WeightAverage::Swapped in(average);
        models::save_student_checkpoint(config, *student, s.card, path);
      },
      [&] { student->train(); });
  const std::vector<at::Tensor> params = student->parameters();
  run_training_loop(s.epochs, steps, ds.count, s.seed, device, optim, *opt, par, state, progress,
                    [&](const TrainStep& ts) {
    // This step's dropout masks from its own stream: a resumed run draws the same, trainings in other
    // threads draw nothing from it, and data-parallel ranks draw what one process would.
    const ops::DropoutStreamScope dropout_stream(derive_seed(s.seed, kDropoutStream, ts.global_step),
                                                 par.batch_offset(), par.batch());
    const augment::Batch batch = training_batch(data, ts, s.recipe.augment, s.seed, par);
    const at::Tensor x = to_model_input(batch.images, config.in_channels);
    at::Tensor t;
    if (cached.defined()) {
      t = cached.index_select(0, ts.indices);
    } else if (use_teacher) {
      // The student's input serves when it already has the teacher's channels (one copy less per step).
      t = models::teacher_logits(*teacher, config.in_channels == kTeacherChannels
                                               ? x
                                               : to_model_input(batch.images, kTeacherChannels));
    }
    auto [cls, dist] = student->forward(x);
    const LossParts loss =
        distillation_loss(cls, dist, t, Targets(batch.labels, batch.mixed_with, batch.lam), s.loss);
    opt->zero_grad();
    loss.total.backward();
    // One host sync per step for the three numbers, before the update: a non-finite loss stops
    // training with the weights of the last good step.
    const at::Tensor values =
        at::stack({loss.total.detach(), loss.cls.detach(), loss.dist.detach()}).to(at::kDouble).cpu();
    const double* local = values.data_ptr<double>();
    std::vector<double> v = par.after_backward({local[0], local[1], local[2]});
    check_finite_loss(v[0], "student", ts.epoch, ts.step);
    clip_gradients(params, s.recipe.clip_grad);
    opt->step();
    average.update(ts.global_step);
    return v;
  }, epoch_end);
  // The run's result is the average when there is one.
  average.swap();
}

}  // namespace deit::train
