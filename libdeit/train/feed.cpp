#include "train/feed.h"

#include <string>

#include "core/error.h"

namespace deit::train {
namespace {

std::string dims(int64_t c, int64_t h, int64_t w) {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

void check_shape(int64_t c, int64_t h, int64_t w, int64_t channels, int64_t height, int64_t width,
                 const std::string& what, const char* model_name) {
  if (h != height || w != width || !(c == channels || c == 1))
    invalid_arg(what + " are " + dims(c, h, w) + " but the " + model_name + " takes " +
                dims(channels, height, width) + (channels != 1 ? " (or 1 channel, repeated)" : ""));
}

}  // namespace

at::Tensor to_model_input(const at::Tensor& stored, int64_t channels) {
  at::Tensor x = stored.scalar_type() == at::kByte ? stored.to(at::kFloat).div_(255.0f) : stored;
  if (x.size(1) != channels) x = x.expand({x.size(0), channels, x.size(2), x.size(3)}).contiguous();
  return x;
}

DeviceData::DeviceData(const data::Dataset& ds, c10::Device device) {
  const std::vector<int64_t> shape{ds.count, ds.channels, ds.height, ds.width};
  // from_blob borrows the vectors; .to() / clone() makes the tensor own its copy.
  at::Tensor host = ds.dtype == DEIT_DTYPE_U8
                        ? at::from_blob(const_cast<uint8_t*>(ds.u8.data()), shape, at::kByte)
                        : at::from_blob(const_cast<float*>(ds.f32.data()), shape, at::kFloat);
  at::Tensor labels = at::from_blob(const_cast<int64_t*>(ds.labels.data()), {ds.count}, at::kLong);
  images_ = device.is_cpu() ? host.clone() : host.to(device);
  labels_ = device.is_cpu() ? labels.clone() : labels.to(device);
}

at::Tensor DeviceData::images(const at::Tensor& index, int64_t channels) const {
  return to_model_input(images_.index_select(0, index), channels);
}

at::Tensor DeviceData::slice(int64_t start, int64_t n, int64_t channels) const {
  return to_model_input(images_.narrow(0, start, n), channels);
}

at::Tensor caller_images(const deit_images& im, int64_t channels, int64_t height, int64_t width,
                         c10::Device device) {
  const data::CallerImages checked = data::check_caller_images(im);
  check_shape(im.channels, im.height, im.width, channels, height, width, "images", "model");
  const bool nhwc = checked.nhwc;
  std::vector<int64_t> shape = nhwc ? std::vector<int64_t>{im.count, im.height, im.width, im.channels}
                                    : std::vector<int64_t>{im.count, im.channels, im.height, im.width};
  at::Tensor t =
      at::from_blob(const_cast<void*>(im.data), shape, checked.dtype == DEIT_DTYPE_U8 ? at::kByte : at::kFloat);
  if (nhwc) t = t.permute({0, 3, 1, 2});
  // Copy before the caller's buffer goes away; on CUDA .to() copies anyway.
  t = device.is_cpu() ? t.contiguous().clone() : t.contiguous().to(device);
  return to_model_input(t, channels);
}

void check_input_shape(const data::Dataset& ds, int64_t channels, int64_t height, int64_t width,
                       const char* model_name) {
  check_shape(ds.channels, ds.height, ds.width, channels, height, width,
              "the data set's images (" + ds.source + ")", model_name);
}

}  // namespace deit::train
