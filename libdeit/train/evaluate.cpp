// Evaluation (eval mode, no gradients) and single-batch inference helpers.
#include <torch/autograd.h>

#include <algorithm>

#include "core/error.h"
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
  EvalResult result(int64_t count) const {
    EvalResult r;
    r.count = count;
    const double n = static_cast<double>(count);
    r.accuracy = static_cast<double>(correct.item<int64_t>()) / n;
    r.accuracy_cls = static_cast<double>(correct_cls.item<int64_t>()) / n;
    r.accuracy_dist = static_cast<double>(correct_dist.item<int64_t>()) / n;
    r.loss = loss_sum.item<double>() / n;
    const at::Tensor c = confusion.cpu();
    r.confusion.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
    return r;
  }
};

void check_eval_data(const data::Dataset& ds, int64_t num_classes, const char* model_name) {
  require(ds.count >= 1, "the data set is empty");
  require(ds.num_classes <= num_classes, "the data set has " + std::to_string(ds.num_classes) +
                                             " classes but the " + model_name + " has " +
                                             std::to_string(num_classes) + " outputs");
}

}  // namespace

at::Tensor teacher_logits(models::Teacher& teacher, const at::Tensor& x) {
  torch::NoGradGuard no_grad;  // not InferenceMode: the outputs may feed a loss
  return teacher.net->forward(x);
}

at::Tensor student_logits(models::DistilledViT& student, const at::Tensor& x, deit_head head) {
  torch::NoGradGuard no_grad;
  auto [cls, dist] = student->forward(x);
  switch (head) {
    case DEIT_HEAD_CLS: return cls;
    case DEIT_HEAD_DIST: return dist;
    default: return (cls + dist) / 2;
  }
}

EvalResult evaluate_teacher(models::Teacher& teacher, const data::Dataset& ds) {
  runtime::ensure_threads();
  check_eval_data(ds, teacher.num_classes, "teacher");
  check_input_shape(ds, 3, ds.height, ds.width, "teacher");
  teacher.net->set_training(false);
  DeviceData data(ds, teacher.device);
  Tally tally(teacher.num_classes, teacher.device);
  for (int64_t start = 0; start < ds.count; start += kEvalBatch) {
    const int64_t n = std::min(kEvalBatch, ds.count - start);
    tally.add(teacher_logits(teacher, data.slice(start, n, 3)), data.label_slice(start, n));
  }
  return tally.result(ds.count);
}

EvalResult evaluate_student(models::DistilledViT& student, const models::StudentConfig& config,
                            const data::Dataset& ds) {
  runtime::ensure_threads();
  check_eval_data(ds, config.num_classes, "student");
  check_input_shape(ds, config.in_channels, config.img_size, config.img_size, "student");
  student->eval();
  const c10::Device device = student->parameters().front().device();
  DeviceData data(ds, device);
  Tally tally(config.num_classes, device);
  torch::NoGradGuard no_grad;
  for (int64_t start = 0; start < ds.count; start += kEvalBatch) {
    const int64_t n = std::min(kEvalBatch, ds.count - start);
    const at::Tensor labels = data.label_slice(start, n);
    auto [cls, dist] = student->forward(data.slice(start, n, config.in_channels));
    tally.add((cls + dist) / 2, labels);
    tally.correct_cls += cls.argmax(1).eq(labels).sum();
    tally.correct_dist += dist.argmax(1).eq(labels).sum();
  }
  return tally.result(ds.count);
}

}  // namespace deit::train
