// Directory probing, caller buffers, subsets and label statistics.
#include "data/dataset.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <type_traits>

#include "core/c_enum.h"
#include "core/error.h"
#include "core/log.h"
#include "data/file_io.h"
#include "data/image_folder.h"

namespace deit::data {
namespace {

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// `base` or `base.gz` inside dir; the raw file wins (it loads faster).
std::string find_maybe_gz(const std::string& dir, const std::string& base) {
  const std::string raw = join(dir, base);
  if (is_regular_file(raw)) return raw;
  if (is_regular_file(raw + ".gz")) return raw + ".gz";
  return {};
}

bool any_file(const std::string& dir, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(),
                     [&](const char* n) { return is_regular_file(join(dir, n)); });
}

// A uniform integer in [0, bound) from raw generator output.  Rejection
// sampling instead of std::uniform_int_distribution, whose algorithm differs
// between standard libraries: the same seed must give the same subset everywhere.
uint64_t uniform_below(std::mt19937_64& gen, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
  for (;;) {
    const uint64_t r = gen();
    if (r >= threshold) return r % bound;
  }
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string dims_text(int64_t count, int32_t c, int32_t h, int32_t w) {
  return std::to_string(count) + " x " + std::to_string(c) + " x " + std::to_string(h) + " x " +
         std::to_string(w);
}

}  // namespace

Dataset open_dir(const std::string& dir, deit_split split, const ImageSettings* images) {
  const bool train = checked_enum(split, "split") == DEIT_SPLIT_TRAIN;
  require_directory(dir);

  // IDX (MNIST family).
  const std::string train_images = find_maybe_gz(dir, "train-images-idx3-ubyte");
  const std::string test_images = find_maybe_gz(dir, "t10k-images-idx3-ubyte");
  if (!train_images.empty() || !test_images.empty()) {
    const std::string prefix = train ? "train" : "t10k";
    const std::string& images = train ? train_images : test_images;
    if (images.empty()) {
      fail(DEIT_E_IO, dir + ": has IDX files but no " + prefix + "-images-idx3-ubyte[.gz] for the " +
                          (train ? "train" : "test") + " split");
    }
    const std::string labels = find_maybe_gz(dir, prefix + "-labels-idx1-ubyte");
    if (labels.empty()) fail(DEIT_E_IO, dir + ": no " + prefix + "-labels-idx1-ubyte[.gz] beside " + images);
    return read_idx(images, labels);
  }

  // CIFAR-10: the tarball unpacks to cifar-10-batches-bin/.
  for (const std::string& d : {dir, join(dir, "cifar-10-batches-bin")}) {
    if (!any_file(d, {"data_batch_1.bin", "test_batch.bin"})) continue;
    std::vector<std::string> paths;
    if (train) {
      for (int i = 1; i <= 5; ++i) paths.push_back(join(d, "data_batch_" + std::to_string(i) + ".bin"));
    } else {
      paths.push_back(join(d, "test_batch.bin"));
    }
    return read_cifar(paths, 10);
  }

  // CIFAR-100: cifar-100-binary/.
  for (const std::string& d : {dir, join(dir, "cifar-100-binary")}) {
    if (!any_file(d, {"train.bin", "test.bin"})) continue;
    return read_cifar({join(d, train ? "train.bin" : "test.bin")}, 100);
  }

  // Image files: class folders, or train/ + val/ holding them, at deit_image_options' defaults.
  if (looks_like_image_folder(dir)) return open_folder(dir, split, images ? *images : ImageSettings{});

  fail(DEIT_E_IO, dir + ": no IDX (train-images-idx3-ubyte[.gz]), CIFAR (data_batch_1.bin, train.bin) or "
                        "image class folders found");
}

CallerImages check_caller_images(const deit_images& im) {
  require(im.data != nullptr, "images->data is NULL");
  CallerImages out;
  out.dtype = checked_enum(im.dtype, "images->dtype", {{DEIT_DTYPE_U8, "DEIT_DTYPE_U8"}, {DEIT_DTYPE_F32, "DEIT_DTYPE_F32"}});
  out.nhwc = checked_enum(im.layout, "images->layout") == DEIT_LAYOUT_NHWC;
  require(!(out.nhwc && out.dtype == DEIT_DTYPE_F32),
          "images->layout NHWC is only supported for DEIT_DTYPE_U8 images; pass float images as NCHW");
  require(im.count >= 1, "images->count is " + std::to_string(im.count) + "; expected at least 1");
  require(im.channels >= 1 && im.height >= 1 && im.width >= 1,
          "images dimensions " + dims_text(im.count, im.channels, im.height, im.width) +
              ": channels, height and width must be at least 1");
  const int64_t elem_size = out.dtype == DEIT_DTYPE_U8 ? 1 : 4;
  int64_t per_image = 0, bytes = 0;
  if (!mul_nonneg(im.channels, im.height, &per_image) || !mul_nonneg(per_image, im.width, &per_image) ||
      !mul_nonneg(per_image, im.count, &out.elements) || !mul_nonneg(out.elements, elem_size, &bytes) ||
      static_cast<uint64_t>(bytes) > SIZE_MAX) {
    invalid_arg("images dimensions " + dims_text(im.count, im.channels, im.height, im.width) +
                " overflow a 64-bit size");
  }
  return out;
}

Dataset from_memory(const deit_images& im, const void* labels, deit_dtype label_dtype, int32_t num_classes) {
  const CallerImages checked = check_caller_images(im);
  require(labels != nullptr, "labels is NULL");
  label_dtype = checked_enum(label_dtype, "label_dtype", {{DEIT_DTYPE_I32, "DEIT_DTYPE_I32"}, {DEIT_DTYPE_I64, "DEIT_DTYPE_I64"}});
  require(num_classes >= 0,
          "num_classes " + std::to_string(num_classes) + " is negative (0 means max label + 1)");
  const int64_t elems = checked.elements;

  // Labels first: a bad label is cheaper to report before copying the images.
  Dataset ds;
  ds.labels.resize(static_cast<size_t>(im.count));
  int64_t max_label = -1;
  for (int64_t i = 0; i < im.count; ++i) {
    const int64_t v = label_dtype == DEIT_DTYPE_I32 ? int64_t{static_cast<const int32_t*>(labels)[i]}
                                                    : static_cast<const int64_t*>(labels)[i];
    if (v < 0) invalid_arg("labels[" + std::to_string(i) + "] = " + std::to_string(v) + " is negative");
    if (num_classes > 0 && v >= num_classes) {
      invalid_arg("labels[" + std::to_string(i) + "] = " + std::to_string(v) + " is outside [0, " +
                  std::to_string(num_classes) + ")");
    }
    if (v >= INT32_MAX)
      invalid_arg("labels[" + std::to_string(i) + "] = " + std::to_string(v) + " is too large");
    ds.labels[static_cast<size_t>(i)] = v;
    max_label = std::max(max_label, v);
  }

  ds.count = im.count;
  ds.channels = im.channels;
  ds.height = im.height;
  ds.width = im.width;
  ds.num_classes = num_classes > 0 ? num_classes : static_cast<int32_t>(max_label + 1);
  ds.dtype = checked.dtype;
  ds.format = DEIT_FORMAT_MEMORY;
  ds.source = "memory";
  if (checked.dtype == DEIT_DTYPE_F32) {
    ds.f32.resize(static_cast<size_t>(elems));
    std::memcpy(ds.f32.data(), im.data, static_cast<size_t>(elems) * sizeof(float));
  } else if (!checked.nhwc) {
    ds.u8.resize(static_cast<size_t>(elems));
    std::memcpy(ds.u8.data(), im.data, static_cast<size_t>(elems));
  } else {
    // NHWC -> NCHW: read the source in order, scatter each pixel's channels.
    ds.u8.resize(static_cast<size_t>(elems));
    const auto* src = static_cast<const uint8_t*>(im.data);
    const int64_t c_n = im.channels, hw = int64_t{im.height} * im.width;
    for (int64_t n = 0; n < im.count; ++n) {
      uint8_t* dst = ds.u8.data() + n * c_n * hw;
      for (int64_t p = 0; p < hw; ++p)
        for (int64_t c = 0; c < c_n; ++c) dst[c * hw + p] = *src++;
    }
  }
  if (log_enabled(DEIT_LOG_DEBUG)) {
    log(DEIT_LOG_DEBUG, "from_memory: " + std::to_string(ds.count) + " images " +
                            std::to_string(ds.channels) + "x" + std::to_string(ds.height) + "x" +
                            std::to_string(ds.width) + " (" +
                            (ds.dtype == DEIT_DTYPE_U8 ? "uint8" : "float") + "), " +
                            std::to_string(ds.num_classes) + " classes");
  }
  return ds;
}

Dataset take(const Dataset& parent, const std::vector<int64_t>& indices) {
  Dataset out;
  out.count = static_cast<int64_t>(indices.size());
  out.channels = parent.channels;
  out.height = parent.height;
  out.width = parent.width;
  out.num_classes = parent.num_classes;
  out.dtype = parent.dtype;
  out.format = parent.format;
  out.class_names = parent.class_names;
  out.preprocess = parent.preprocess;
  out.skipped = parent.skipped;
  out.source =
      parent.source + " (" + std::to_string(out.count) + " of " + std::to_string(parent.count) + " images)";
  const auto per = static_cast<size_t>(parent.image_size());
  if (parent.dtype == DEIT_DTYPE_U8) {
    out.u8.resize(per * indices.size());
  } else {
    out.f32.resize(per * indices.size());
  }
  out.labels.resize(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    const int64_t i = indices[k];
    if (i < 0 || i >= parent.count)
      invalid_arg("index " + std::to_string(i) + " is outside [0, " + std::to_string(parent.count) + ")");
    const auto src = static_cast<size_t>(i) * per;
    if (parent.dtype == DEIT_DTYPE_U8) {
      std::memcpy(out.u8.data() + k * per, parent.u8.data() + src, per);
    } else {
      std::memcpy(out.f32.data() + k * per, parent.f32.data() + src, per * sizeof(float));
    }
    out.labels[k] = parent.labels[static_cast<size_t>(i)];
  }
  return out;
}

namespace {
// The images of subset_fraction in its order (perm[0, n)), then the others (perm[n, count)).
std::vector<int64_t> fraction_order(const Dataset& parent, double fraction, uint64_t seed, int64_t* n) {
  // Written so that NaN fails too.
  if (!(fraction > 0.0 && fraction <= 1.0))
    invalid_arg("fraction " + number_text(fraction) + " is outside (0, 1]");
  *n = std::clamp<int64_t>(std::llround(fraction * static_cast<double>(parent.count)), 1, parent.count);
  // Fisher-Yates over all indices, then the first n: the whole permutation
  // depends only on (count, seed), so a larger fraction extends a smaller one.
  std::vector<int64_t> perm(static_cast<size_t>(parent.count));
  for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
  std::mt19937_64 gen(seed);
  for (size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[uniform_below(gen, i)]);
  return perm;
}
}  // namespace

Dataset subset_fraction(const Dataset& parent, double fraction, uint64_t seed) {
  int64_t n = 0;
  std::vector<int64_t> perm = fraction_order(parent, fraction, seed, &n);
  perm.resize(static_cast<size_t>(n));
  return take(parent, perm);
}

std::pair<Dataset, Dataset> split(const Dataset& parent, double fraction, uint64_t seed) {
  int64_t n = 0;
  const std::vector<int64_t> perm = fraction_order(parent, fraction, seed, &n);
  if (n >= parent.count)
    invalid_arg("fraction " + number_text(fraction) + " of " + std::to_string(parent.count) +
                " images leaves none for the rest of the split");
  // The rest in index order, as the data set stores them.
  std::vector<int64_t> rest(perm.begin() + n, perm.end());
  std::sort(rest.begin(), rest.end());
  return {take(parent, std::vector<int64_t>(perm.begin(), perm.begin() + n)), take(parent, rest)};
}

Dataset subset_first(const Dataset& parent, int64_t n) {
  require(n >= 1, "n is " + std::to_string(n) + "; a subset needs at least 1 image");
  std::vector<int64_t> idx(static_cast<size_t>(std::min(n, parent.count)));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  return take(parent, idx);
}

std::vector<int64_t> label_histogram(const Dataset& ds) {
  std::vector<int64_t> counts(static_cast<size_t>(std::max(ds.num_classes, 0)), 0);
  for (const int64_t label : ds.labels) {
    if (label < 0 || label >= ds.num_classes)
      fail(DEIT_E_INTERNAL,
           "label " + std::to_string(label) + " outside [0, " + std::to_string(ds.num_classes) + ")");
    ++counts[static_cast<size_t>(label)];
  }
  return counts;
}

}  // namespace deit::data
