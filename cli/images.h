// Input images for `deitctl predict`: image files through stb_image, and IDX image/label files (raw or
// gzip) read directly, so a bare image file needs no label file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deitctl {

// Interleaved uint8 pixels (height x width x channels).
struct Image {
  std::vector<uint8_t> hwc;
  int channels = 0;
  int height = 0;
  int width = 0;
};

// PNG, PGM/PPM, JPEG, BMP...: whatever stb_image reads.  Throws LibraryError naming the file.
Image load_image_file(const std::string& path);
// The image with `channels` (1 or 3) channels: alpha dropped, RGB -> gray by luma (BT.601) for a 1-channel
// model.  A gray image stays gray for a 3-channel model: the library repeats the channel itself.
Image convert_channels(const Image& image, int model_channels);

// An IDX3 ubyte image file: count x height x width, gray.  limit > 0 reads only the first `limit`.
struct IdxImages {
  std::vector<uint8_t> pixels;  // NCHW with C = 1
  int64_t count = 0;
  int height = 0;
  int width = 0;
};
IdxImages read_idx_images(const std::string& path, int64_t limit);
// An IDX1 ubyte label file; limit as above.
std::vector<int32_t> read_idx_labels(const std::string& path, int64_t limit);

}  // namespace deitctl
