// In-memory image data sets and their readers (IDX, CIFAR, caller buffers).
// Deliberately free of LibTorch: the readers compile fast and are fuzzable.
#pragma once

#include <deit/deit.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace deit::data {

// How image files became the stored images (image folders); image_size 0 for data sets not made from files.
struct Preprocess {
  int32_t image_size = 0;
  double crop_pct = 0;
  deit_resize_filter filter = DEIT_RESIZE_BICUBIC;
  int32_t channels = 0;
  deit_normalize normalize = DEIT_NORMALIZE_NONE;  // applied by the models to their input (models/input_norm.h)
};

struct Dataset {
  int64_t count = 0;
  int32_t channels = 0;
  int32_t height = 0;
  int32_t width = 0;
  int32_t num_classes = 0;
  deit_dtype dtype = DEIT_DTYPE_U8;  // which of u8 / f32 holds the images
  deit_dataset_format format = DEIT_FORMAT_MEMORY;
  std::vector<uint8_t> u8;      // count x C x H x W, when dtype == U8
  std::vector<float> f32;       // count x C x H x W, when dtype == F32
  std::vector<int64_t> labels;  // count entries in [0, num_classes)
  std::string source;           // where it came from, for messages
  std::vector<std::string> class_names;  // num_classes names (image folders), or empty
  int64_t skipped = 0;                   // image files left out as unreadable (skip_bad)
  Preprocess preprocess;

  int64_t image_size() const { return int64_t{channels} * height * width; }
};

// Readers.  Every failure throws deit::Error naming the file and the fault.
Dataset read_idx(const std::string& images_path, const std::string& labels_path);
Dataset read_cifar(const std::vector<std::string>& paths, int32_t num_classes);
struct ImageSettings;  // data/image_folder.h
// IDX, CIFAR, else image class folders (open_folder with `images`; NULL: deit_image_options' defaults).
Dataset open_dir(const std::string& dir, deit_split split, const ImageSettings* images = nullptr);
Dataset from_memory(const deit_images& images, const void* labels, deit_dtype label_dtype,
                    int32_t num_classes);

// A caller's deit_images, checked (pointer, enums, dimensions, size overflow): for from_memory and for
// the images passed to predict.
struct CallerImages {
  deit_dtype dtype = DEIT_DTYPE_U8;  // U8 or F32
  bool nhwc = false;
  int64_t elements = 0;  // count x channels x height x width
};
CallerImages check_caller_images(const deit_images& images);

// Subsets keep num_classes of the parent so label spaces stay aligned.
Dataset take(const Dataset& parent, const std::vector<int64_t>& indices);
Dataset subset_fraction(const Dataset& parent, double fraction, uint64_t seed);
// subset_fraction's subset and the other images (DEIT_E_INVALID_ARG when none are left).
std::pair<Dataset, Dataset> split(const Dataset& parent, double fraction, uint64_t seed);
Dataset subset_first(const Dataset& parent, int64_t n);

std::vector<int64_t> label_histogram(const Dataset& ds);

}  // namespace deit::data
