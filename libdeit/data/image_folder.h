// Image-file data sets: torchvision's ImageFolder layout (class folders), train/ + val/ (or test/) split
// folders, and CSV list files, decoded once on several threads into a stored uint8 Dataset.
#pragma once

#include <deit/deit.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "image/image.h"

namespace deit::data {

// deit_image_options in the library.  These member defaults are the C defaults too (capi/option_defaults.h
// reads them), and open_dir's for image folders.
struct ImageSettings {
  int32_t image_size = 224;
  double crop_pct = 0.875;
  deit_resize_filter filter = DEIT_RESIZE_BICUBIC;
  int32_t channels = 3;
  int32_t threads = 0;  // 0: the hardware's threads
  bool skip_bad = false;
  int64_t max_pixels = image::kDefaultMaxPixels;
  deit_normalize normalize = DEIT_NORMALIZE_NONE;  // the models', not the stored pixels' (models/input_norm.h)

  // floor(image_size / crop_pct), timm's scale_size: the shorter side before the centre crop.
  int32_t resize_size() const;
};
// Throws DEIT_E_INVALID_ARG naming the first field out of range.
void validate(const ImageSettings& s);

// One file, decoded and preprocessed: channels x image_size x image_size, planar (CHW).
std::vector<uint8_t> read_image_file(const std::string& path, const ImageSettings& s);

// A folder of class folders, a folder of train/ + val/ (or test/) such folders, or a .csv list file
// (deit.h's deit_dataset_open_folder).
Dataset open_folder(const std::string& path, deit_split split, const ImageSettings& s);

// A list file through open_folder, a directory through open_dir with these settings (deit_dataset_open).
Dataset open_any(const std::string& path, deit_split split, const ImageSettings& s);

// True when `dir` looks like an image folder (class folders, or train/ holding them): open_dir's test.
bool looks_like_image_folder(const std::string& dir);

}  // namespace deit::data
