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

// teacher_logits may be undefined only for DEIT_DISTILL_NONE.
LossParts distillation_loss(const at::Tensor& cls_logits, const at::Tensor& dist_logits,
                            const at::Tensor& teacher_logits, const at::Tensor& labels,
                            const LossSettings& s);

// Mean cross-entropy with optional label smoothing (as F.cross_entropy).
at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& labels, double label_smoothing = 0.0);

}  // namespace deit::train
