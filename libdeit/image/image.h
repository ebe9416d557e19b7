// Image files into pixels the way torchvision + PIL make them: decoding (JPEG, PNG, BMP, PGM/PPM) and
// preprocessing (antialiased resize, center crop) on interleaved uint8 images.
// Deliberately free of LibTorch, as data/ is: it compiles fast and is fuzzable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace deit::image {

// Interleaved uint8 pixels, row-major: hwc[(y * width + x) * channels + c].  channels is 1 (gray) or 3 (RGB).
struct Image {
  int32_t width = 0;
  int32_t height = 0;
  int32_t channels = 0;
  std::vector<uint8_t> hwc;
};

// ---- decode.cpp ----------------------------------------------------------------------------------------

// PIL's decompression-bomb limit (Image.MAX_IMAGE_PIXELS): a header claiming more pixels is refused before
// any pixel memory is allocated.
constexpr int64_t kDefaultMaxPixels = 89478485;

struct DecodeOptions {
  // 0: gray files stay gray (1 channel), everything else RGB (3); 1: gray as PIL's convert("L");
  // 3: RGB as PIL's convert("RGB") (gray repeated).
  int32_t channels = 0;
  int64_t max_pixels = kDefaultMaxPixels;
  bool exif_orientation = true;  // JPEG: apply the EXIF Orientation tag (PIL's ImageOps.exif_transpose)
};

// Decodes a JPEG, PNG, BMP or PGM/PPM file by its content (magic bytes), not its name.  Alpha is dropped,
// palettes expanded, 16-bit samples reduced to 8 bits, CMYK JPEG converted to RGB.  `name` is only for
// messages.  Every failure throws deit::Error naming `name`: DEIT_E_FORMAT for a malformed, truncated or
// unsupported file, DEIT_E_INVALID_ARG for a header over max_pixels.
Image decode(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options);
// Reads the file (DEIT_E_IO when it cannot be read; an empty file is DEIT_E_FORMAT) and decodes it.
Image decode_file(const std::string& path, const DecodeOptions& options);

// ---- resize.cpp ----------------------------------------------------------------------------------------

enum class Filter { kBilinear, kBicubic };

// PIL's Image.resize((width, height), BILINEAR or BICUBIC) on uint8 images, bit for bit: separable,
// antialiased when shrinking (the filter's support scales with the reduction), fixed-point coefficients,
// horizontal pass first.  width, height >= 1.
Image resize(const Image& in, int32_t width, int32_t height, Filter filter);

// torchvision's Resize(size) with an int size: the shorter side becomes `size`, the longer
// int(size * long / short); returns {width, height}.
struct Size {
  int32_t width = 0;
  int32_t height = 0;
};
Size shorter_side_to(int32_t width, int32_t height, int32_t size);

// torchvision's CenterCrop((height, width)): top = int(round((H - height) / 2)) with Python's round (half to
// even), likewise left; zero padding where the image is smaller, as torchvision pads.
Image center_crop(const Image& in, int32_t width, int32_t height);

}  // namespace deit::image
