#include "train/losses.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace deit::train {

void check_below_one(double v, const char* name) {
  require(std::isfinite(v) && v >= 0.0 && v < 1.0,
          std::string(name) + " = " + std::to_string(v) + "; expected a value in [0, 1)");
}

void validate(const LossSettings& s) {
  require(s.type == DEIT_DISTILL_SOFT || s.type == DEIT_DISTILL_HARD || s.type == DEIT_DISTILL_NONE,
          "distillation " + std::to_string(s.type) + " is not DEIT_DISTILL_SOFT, _HARD or _NONE");
  require(std::isfinite(s.alpha) && s.alpha >= 0.0 && s.alpha <= 1.0,
          "alpha = " + std::to_string(s.alpha) + "; expected a value in [0, 1]");
  require(std::isfinite(s.temperature) && s.temperature > 0.0,
          "temperature = " + std::to_string(s.temperature) + "; expected a value > 0");
  check_below_one(s.label_smoothing, "label_smoothing");
}

at::Tensor cross_entropy(const at::Tensor& logits, const Targets& t, double label_smoothing) {
  // Written out (not at::cross_entropy_loss) so 1.13 and 2.x agree bit for bit:
  // (1 - eps) * NLL + eps * mean over classes of -log p.  Mixed targets are linear in the one-hot
  // vectors, so their CE is lam * CE(labels) + (1 - lam) * CE(mixed_with).
  const at::Tensor logp = at::log_softmax(logits, 1);
  auto nll_of = [&](const at::Tensor& labels) { return -logp.gather(1, labels.unsqueeze(1)).squeeze(1); };
  at::Tensor nll = nll_of(t.labels);
  if (t.mixed_with.defined() && t.lam != 1.0) nll = t.lam * nll + (1.0 - t.lam) * nll_of(t.mixed_with);
  if (label_smoothing == 0.0) return nll.mean();
  const at::Tensor smooth = -logp.mean(1);
  return ((1.0 - label_smoothing) * nll + label_smoothing * smooth).mean();
}

LossParts distillation_loss(const at::Tensor& cls_logits, const at::Tensor& dist_logits,
                            const at::Tensor& teacher_logits, const Targets& labels, const LossSettings& s) {
  LossParts out;
  out.cls = cross_entropy(cls_logits, labels, s.label_smoothing);
  switch (s.type) {
    case DEIT_DISTILL_SOFT: {
      const double T = s.temperature;
      const at::Tensor log_p_student = at::log_softmax(dist_logits / T, 1);
      const at::Tensor log_p_teacher = at::log_softmax(teacher_logits.to(dist_logits.scalar_type()) / T, 1);
      // KL(teacher || student) summed over classes, mean over the batch.
      const at::Tensor kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(1).mean();
      out.dist = kl * (T * T);
      break;
    }
    case DEIT_DISTILL_HARD: out.dist = cross_entropy(dist_logits, teacher_logits.argmax(1)); break;
    case DEIT_DISTILL_NONE: out.dist = cross_entropy(dist_logits, labels, s.label_smoothing); break;
  }
  out.total = s.alpha * out.dist + (1.0 - s.alpha) * out.cls;
  return out;
}

}  // namespace deit::train
