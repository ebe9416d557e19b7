// Getting images into models: a whole data set as one tensor on the device
// (batches by index_select, no per-sample work), and caller buffers.
#pragma once

#include <ATen/ATen.h>

#include "data/dataset.h"

namespace deit::train {

// Model input from stored images: float [B, channels, H, W]; uint8 scaled to
// [0, 1] as ToTensor does; one stored channel repeated to `channels` (the
// notebook's gray -> 3 channels).
at::Tensor to_model_input(const at::Tensor& stored, int64_t channels);

class DeviceData {
 public:
  DeviceData(const data::Dataset& ds, c10::Device device);
  int64_t size() const { return labels_.size(0); }
  int64_t channels() const { return images_.size(1); }  // as stored
  const at::Tensor& labels() const { return labels_; }
  // Model input for the images at `index` (int64 on the device).
  at::Tensor images(const at::Tensor& index, int64_t channels) const;
  at::Tensor labels(const at::Tensor& index) const { return labels_.index_select(0, index); }
  // Model input for images [start, start + n).
  at::Tensor slice(int64_t start, int64_t n, int64_t channels) const;
  at::Tensor label_slice(int64_t start, int64_t n) const { return labels_.narrow(0, start, n); }

 private:
  at::Tensor images_;  // uint8 or float, N x C x H x W
  at::Tensor labels_;  // int64, N
};

// Checks a caller image block and turns it into model input on `device`.
at::Tensor caller_images(const deit_images& images, int64_t channels, int64_t height, int64_t width,
                         c10::Device device);

// Checks that stored images of (c, h, w) can feed a model of (channels, size).
void check_input_shape(const data::Dataset& ds, int64_t channels, int64_t height, int64_t width,
                       const char* model_name);

}  // namespace deit::train
