// Evaluation (eval mode, no gradients) and single-batch inference helpers.
#include <torch/autograd.h>

#include <algorithm>

#include "core/error.h"
#include "dist/data_parallel.h"
#include "runtime/runtime.h"
#include "train/feed.h"
#include "train/train.h"

namespace deit::train {
namespace {

constexpr int64_t kEvalBatch = 256;

// Counts and losses accumulate on the device; one host sync at the end.
struct Tally {
  at::Tensor correct, correct_cls, correct_dist, loss_sum, confusion;
  int64_t classes;
  Tally(int64_t num_classes, c10::Device device) : classes(num_classes) {
    auto opts = at::TensorOptions().dtype(at::kLong).device(device);
    correct = at::zeros({}, opts);
    correct_cls = at::zeros({}, opts);
    correct_dist = at::zeros({}, opts);
    loss_sum = at::zeros({}, opts.dtype(at::kDouble));
    confusion = at::zeros({num_classes * num_classes}, opts);
  }
  void add(const at::Tensor& logits, const at::Tensor& labels) {
    const at::Tensor pred = logits.argmax(1);
    correct += pred.eq(labels).sum();
    loss_sum += cross_entropy(logits.to(at::kFloat), labels).to(at::kDouble) * labels.size(0);
    confusion.index_add_(0, labels * classes + pred, at::ones_like(labels));
  }
  // For `count` images in all; with a group, the tallies of every rank's share are summed first (doubles
  // count exactly below 2^53).
  EvalResult result(int64_t count, dist::Group* group) const {
    at::Tensor all = at::cat({at::stack({correct, correct_cls, correct_dist}).to(at::kDouble),
                              loss_sum.reshape({1}), confusion.to(at::kDouble)})
                         .cpu();
    if (group) group->allreduce_sum(all, "summing the evaluation");
    const double* v = all.data_ptr<double>();
    EvalResult r;
    r.count = count;
    const double n = static_cast<double>(count);
    r.accuracy = v[0] / n;
    r.accuracy_cls = v[1] / n;
    r.accuracy_dist = v[2] / n;
    r.loss = v[3] / n;
    r.confusion.resize(static_cast<size_t>(confusion.numel()));
    for (size_t i = 0; i < r.confusion.size(); ++i) r.confusion[i] = static_cast<int64_t>(v[4 + i]);
    return r;
  }
};

// This rank's share of the data set (all of it without a group).
dist::Shard eval_shard(const data::Dataset& ds, const dist::Group* group) {
  return dist::shard_of(ds.count, dist::rank_of(group), dist::size_of(group));
}

void check_eval_data(const data::Dataset& ds, int64_t num_classes, const char* model_name) {
  require(ds.count >= 1, "the data set is empty");
  require(ds.num_classes <= num_classes, "the data set has " + std::to_string(ds.num_classes) +
                                             " classes but the " + model_name + " has " +
                                             std::to_string(num_classes) + " outputs");
}

}  // namespace

EvalResult evaluate_teacher(models::Teacher& teacher, const data::Dataset& ds, dist::Group* group) {
  const runtime::CallScope call;
  check_eval_data(ds, teacher.num_classes, "teacher");
  check_input_shape(ds, 3, ds.height, ds.width, "teacher");
  teacher.net->set_training(false);
  DeviceData data(ds, teacher.device);
  Tally tally(teacher.num_classes, teacher.device);
  const dist::Shard shard = eval_shard(ds, group);
  for (int64_t start = shard.start, end = shard.start + shard.count; start < end; start += kEvalBatch) {
    const int64_t n = std::min(kEvalBatch, end - start);
    tally.add(models::teacher_logits(teacher, data.slice(start, n, 3)), data.label_slice(start, n));
  }
  return tally.result(ds.count, group);
}

EvalResult evaluate_student(models::DistilledViT& student, const models::StudentConfig& config,
                            const data::Dataset& ds, dist::Group* group) {
  const runtime::CallScope call;
  check_eval_data(ds, config.num_classes, "student");
  check_input_shape(ds, config.in_channels, config.img_size, config.img_size, "student");
  student->eval();
  const c10::Device device = student->parameters().front().device();
  DeviceData data(ds, device);
  Tally tally(config.num_classes, device);
  torch::NoGradGuard no_grad;
  const dist::Shard shard = eval_shard(ds, group);
  for (int64_t start = shard.start, end = shard.start + shard.count; start < end; start += kEvalBatch) {
    const int64_t n = std::min(kEvalBatch, end - start);
    const at::Tensor labels = data.label_slice(start, n);
    const auto heads = student->forward(data.slice(start, n, config.in_channels));
    const at::Tensor& cls = heads.first;
    const at::Tensor& dist = heads.second;
    tally.add(models::head_logits(heads, DEIT_HEAD_AVG), labels);
    tally.correct_cls += cls.argmax(1).eq(labels).sum();
    tally.correct_dist += dist.argmax(1).eq(labels).sum();
  }
  return tally.result(ds.count, group);
}

}  // namespace deit::train
