// The input normalisation a model keeps from its training images (deit_normalize; models/data_card.h's
// Preprocess), applied by the model itself to every input, so that callers and data sets deal in pixels / 255.
// Header-only: the student's sources are also compiled into white-box tests that link LibTorch alone.
#pragma once

#include <ATen/ATen.h>
#include <deit/deit.h>

#include <string>
#include <utility>
#include <vector>

namespace deit::models {

// Each normalisation once: its name (data cards, run descriptions, deitctl) and per-RGB-channel constants.
struct Normalization {
  deit_normalize id;
  const char* name;
  double mean[3];
  double std[3];
};
constexpr Normalization kNormalizations[] = {
    {DEIT_NORMALIZE_NONE, "none", {0, 0, 0}, {1, 1, 1}},
    {DEIT_NORMALIZE_IMAGENET, "imagenet", {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}},  // timm IMAGENET_DEFAULT_*
    {DEIT_NORMALIZE_INCEPTION, "inception", {0.5, 0.5, 0.5}, {0.5, 0.5, 0.5}},            // timm IMAGENET_INCEPTION_*
};

inline const Normalization& normalization(deit_normalize n) {
  for (const Normalization& e : kNormalizations)
    if (e.id == n) return e;
  return kNormalizations[0];
}

// The normalisation called `name`; false for an unknown name.
inline bool normalization_named(const std::string& name, deit_normalize* out) {
  for (const Normalization& e : kNormalizations)
    if (name == e.name) {
      *out = e.id;
      return true;
    }
  return false;
}

// Per-channel mean and std of `n` for a `channels`-channel input ({} for NONE): the three RGB values, or
// their averages for one channel.
inline std::pair<std::vector<double>, std::vector<double>> normalization_constants(deit_normalize n,
                                                                                  int64_t channels) {
  if (n == DEIT_NORMALIZE_NONE) return {};
  const Normalization& e = normalization(n);
  if (channels == 3) return {{e.mean, e.mean + 3}, {e.std, e.std + 3}};
  const double m = (e.mean[0] + e.mean[1] + e.mean[2]) / 3, s = (e.std[0] + e.std[1] + e.std[2]) / 3;
  return {std::vector<double>(static_cast<size_t>(channels), m), std::vector<double>(static_cast<size_t>(channels), s)};
}

// One model's input normalisation: x ([B, C, H, W], pixels / 255) normalised as `n` says, x itself for
// NONE.  The [1, C, 1, 1] mean and std tensors are made when the normalisation, channel count, device or
// dtype changes, not at every forward: on CUDA each would be a host-to-device copy that waits for the stream.
class InputNormalizer {
 public:
  at::Tensor operator()(const at::Tensor& x, deit_normalize n) {
    if (n == DEIT_NORMALIZE_NONE) return x;
    if (!mean_.defined() || n != n_ || mean_.size(1) != x.size(1) || mean_.device() != x.device() ||
        mean_.scalar_type() != x.scalar_type()) {
      const auto [mean, std] = normalization_constants(n, x.size(1));
      const auto opts = at::TensorOptions().dtype(at::kDouble);
      mean_ = at::tensor(mean, opts).to(x.device(), x.scalar_type()).view({1, -1, 1, 1});
      std_ = at::tensor(std, opts).to(x.device(), x.scalar_type()).view({1, -1, 1, 1});
      n_ = n;
    }
    return (x - mean_) / std_;
  }

 private:
  deit_normalize n_ = DEIT_NORMALIZE_NONE;
  at::Tensor mean_, std_;
};

}  // namespace deit::models
