// The DeiT distillation objective (../shared/DESIGN.md, section 1):
//   loss = alpha * dist_part + (1 - alpha) * CE(cls_logits, labels)
// soft: KL(softmax(t/T) || softmax(s/T)), batch mean, x T^2 (F.kl_div(..., 'batchmean'))
// hard: CE(dist_logits, argmax teacher);  none: CE(dist_logits, labels).
#pragma once

#include <ATen/ATen.h>
#include <deit/deit.h>

namespace deit::train {

struct LossParts {
  at::Tensor total;
  at::Tensor cls;
  at::Tensor dist;
};

struct LossSettings {
  deit_distillation type = DEIT_DISTILL_SOFT;
  double alpha = 0.5;
  double temperature = 2.0;
  double label_smoothing = 0.0;
};

void validate(const LossSettings& s);
// `name` = v must lie in [0, 1): label smoothing (here and the teacher's), drop path.
void check_below_one(double v, const char* name);

// What the labels of a batch say: `labels`, or after mixup / cutmix the soft targets
// lam * onehot(labels) + (1 - lam) * onehot(mixed_with) (timm's Mixup; smoothing applies to both).
struct Targets {
  at::Tensor labels;
  at::Tensor mixed_with;  // undefined: not mixed
  double lam = 1.0;
  Targets(at::Tensor l) : labels(std::move(l)) {}  // NOLINT: plain labels convert implicitly
  Targets(at::Tensor l, at::Tensor with, double lambda)
      : labels(std::move(l)), mixed_with(std::move(with)), lam(lambda) {}
};

// teacher_logits may be undefined only for DEIT_DISTILL_NONE.  With mixed targets the class head (and the
// distillation head under DEIT_DISTILL_NONE) learns the soft targets; the teacher's logits are those of
// the mixed images.
LossParts distillation_loss(const at::Tensor& cls_logits, const at::Tensor& dist_logits,
                            const at::Tensor& teacher_logits, const Targets& targets, const LossSettings& s);

// Mean cross-entropy with optional label smoothing (as F.cross_entropy); soft targets when mixed.
at::Tensor cross_entropy(const at::Tensor& logits, const Targets& targets, double label_smoothing = 0.0);

}  // namespace deit::train
