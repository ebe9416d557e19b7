// Augmentation of training batches (DeiT's recipe, issue 16): geometric and photometric changes of the
// images, random erasing, and mixup / cutmix with their mixed targets.  Everything is LibTorch tensor ops on
// the batch's device, so CPU and CUDA compute the same thing; the random draws (a handful of numbers per
// image) come from a CPU generator seeded per step, so a run is deterministic for its seed and a resumed run
// draws what the uninterrupted one drew.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace deit::augment {

struct Settings {
  int64_t crop_padding = 0;       // random crop of the image size after zero padding (torchvision RandomCrop)
  double resized_crop_scale = 0;  // > 0: RandomResizedCrop, area in [scale, 1], ratio [3/4, 4/3], bilinear
  bool hflip = false;             // mirror each image with probability 1/2
  double erase_prob = 0;          // RandomErasing (area 2%..33%, ratio 0.3..3.3, zero fill)
  double mixup_alpha = 0;         // > 0: mixup with lambda ~ Beta(alpha, alpha)
  double cutmix_alpha = 0;        // > 0: cutmix; with both, each batch picks one (probability 1/2)
};

// DEIT_E_INVALID_ARG naming the field.
void validate(const Settings& s);
// Whether the settings change the images at all (otherwise the inputs are the stored ones and a teacher's
// logits can be computed once).
bool changes_inputs(const Settings& s);
bool mixes(const Settings& s);
// "crop_padding 4 resized_crop_scale 0 hflip 0 ...": name-value pairs for run descriptions.
std::string describe(const Settings& s);

// A batch after augmentation.  Its targets are lam * labels + (1 - lam) * mixed_with (mixup / cutmix);
// lam == 1 and mixed_with undefined when nothing was mixed.
struct Batch {
  at::Tensor images;  // float [B, C, H, W]
  at::Tensor labels;
  at::Tensor mixed_with;
  double lam = 1.0;
};

// Augments `images` (float [B, C, H, W] on any device, pixel values as the models take them) with labels
// [B].  `seed` fixes every random draw.  Data parallelism: a rank holding rows [offset, offset + B) of a
// global batch of `global` images draws the per-image numbers one process would draw for those rows;
// mixup / cutmix pair images within the rank's own rows (as timm does per process).
Batch apply(const Settings& s, const at::Tensor& images, const at::Tensor& labels, uint64_t seed,
            int64_t offset = 0, int64_t global = 0);

// The single operations, exposed for tests with explicit parameters (CPU int64 / bool / double tensors,
// one value per image).
namespace ops {
// Zero-pad by `pad`, then take the image-sized window whose top-left corner is (top, left) in the padded
// image: torchvision's F.crop(F.pad(x, pad), top, left, H, W).
at::Tensor pad_crop(const at::Tensor& x, int64_t pad, const at::Tensor& top, const at::Tensor& left);
// The box (top, left, height, width) of each image resized to the image size, bilinear, half-pixel centres
// (torchvision's F.resized_crop on tensors without antialiasing: F.interpolate(..., align_corners=False)).
at::Tensor resized_crop(const at::Tensor& x, const at::Tensor& top, const at::Tensor& left,
                        const at::Tensor& height, const at::Tensor& width);
at::Tensor hflip(const at::Tensor& x, const at::Tensor& flip);
// Zero in the box of every image whose `erase` is set (torchvision's F.erase with value 0).
at::Tensor erase(const at::Tensor& x, const at::Tensor& erase, const at::Tensor& top, const at::Tensor& left,
                 const at::Tensor& height, const at::Tensor& width);
// lam * x + (1 - lam) * x.flip(0)
at::Tensor mixup(const at::Tensor& x, double lam);
// x with the box taken from x.flip(0)
at::Tensor cutmix(const at::Tensor& x, int64_t top, int64_t left, int64_t height, int64_t width);
}  // namespace ops

}  // namespace deit::augment
