// The input normalisation a model keeps from its training images (deit_normalize; models/data_card.h's
// Preprocess), applied by the model itself to every input, so that callers and data sets deal in pixels / 255.
// Header-only: the student's sources are also compiled into white-box tests that link LibTorch alone.
#pragma once

#include <ATen/ATen.h>
#include <deit/deit.h>

namespace deit::models {

// timm's IMAGENET_DEFAULT_MEAN / IMAGENET_DEFAULT_STD.
constexpr double kImageNetMean[3] = {0.485, 0.456, 0.406};
constexpr double kImageNetStd[3] = {0.229, 0.224, 0.225};

// Per-channel mean and std of `n` for a `channels`-channel input ({} for NONE): the three RGB values, or
// their averages for one channel.
inline std::pair<std::vector<double>, std::vector<double>> normalization_constants(deit_normalize n,
                                                                                  int64_t channels) {
  if (n != DEIT_NORMALIZE_IMAGENET) return {};
  if (channels == 3) return {{kImageNetMean, kImageNetMean + 3}, {kImageNetStd, kImageNetStd + 3}};
  const double m = (kImageNetMean[0] + kImageNetMean[1] + kImageNetMean[2]) / 3;
  const double s = (kImageNetStd[0] + kImageNetStd[1] + kImageNetStd[2]) / 3;
  return {std::vector<double>(static_cast<size_t>(channels), m), std::vector<double>(static_cast<size_t>(channels), s)};
}

// x ([B, C, H, W], pixels / 255) normalised as `n` says; x itself for NONE.
inline at::Tensor normalize_input(const at::Tensor& x, deit_normalize n) {
  if (n != DEIT_NORMALIZE_IMAGENET) return x;
  const auto [mean, std] = normalization_constants(n, x.size(1));
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor m = at::tensor(mean, opts).to(x.device(), x.scalar_type()).view({1, -1, 1, 1});
  const at::Tensor s = at::tensor(std, opts).to(x.device(), x.scalar_type()).view({1, -1, 1, 1});
  return (x - m) / s;
}

}  // namespace deit::models
