// Data sets: the extern "C" shims over data/.
#include <cstddef>
#include <cstring>
#include <memory>

#include "capi/caller_struct.h"
#include "capi/guard.h"
#include "capi/handles.h"
#include "core/c_enum.h"

using deit::capi::guard;
using deit::capi::require_arg;
using deit::capi::reset_out;
using deit::capi::wrap;

namespace {

// [start, start + count) must lie inside the data set.
void check_range(const deit::data::Dataset& ds, int64_t start, int64_t count) {
  if (start < 0 || count < 0 || start > ds.count || count > ds.count - start) {
    deit::invalid_arg("range start " + std::to_string(start) + ", count " + std::to_string(count) +
                      " is outside the data set's " + std::to_string(ds.count) + " images");
  }
}

void check_capacity(size_t capacity, uint64_t needed, const char* unit, const std::string& what) {
  if (capacity < needed) {
    deit::fail(DEIT_E_BUFFER_TOO_SMALL, "capacity " + std::to_string(capacity) + " " + unit +
                                            " is too small for " + what + " (needs " +
                                            std::to_string(needed) + ")");
  }
}

}  // namespace

extern "C" {

DEIT_API deit_status deit_dataset_open_dir(const char* dir, deit_split split, deit_dataset** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(dir, "dir");
    *out = wrap(deit::data::open_dir(dir, split));
  });
}

DEIT_API deit_status deit_dataset_open_idx(const char* images_path, const char* labels_path,
                                           deit_dataset** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(images_path, "images_path");
    require_arg(labels_path, "labels_path");
    *out = wrap(deit::data::read_idx(images_path, labels_path));
  });
}

DEIT_API deit_status deit_dataset_open_cifar(const char* const* paths, size_t n_paths, int32_t num_classes,
                                             deit_dataset** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(paths, "paths");
    deit::require(n_paths >= 1, "n_paths is 0; give at least one CIFAR file");
    std::vector<std::string> files;
    files.reserve(n_paths);
    for (size_t i = 0; i < n_paths; ++i) {
      deit::require(paths[i] != nullptr, "paths[" + std::to_string(i) + "] is NULL");
      files.emplace_back(paths[i]);
    }
    *out = wrap(deit::data::read_cifar(files, num_classes));
  });
}

DEIT_API deit_status deit_dataset_from_memory(const deit_images* images, const void* labels,
                                              deit_dtype label_dtype, int32_t num_classes,
                                              deit_dataset** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(images, "images");
    *out = wrap(deit::data::from_memory(*images, labels, label_dtype, num_classes));
  });
}

DEIT_API void deit_dataset_free(deit_dataset* dataset) {
  delete dataset;
}

DEIT_API deit_status deit_dataset_get_info(const deit_dataset* dataset, deit_dataset_info* info) {
  return guard(__func__, [&] {
    require_arg(dataset, "dataset");
    const deit::data::Dataset& ds = dataset->data;
    deit_dataset_info full{};
    full.count = ds.count;
    full.channels = ds.channels;
    full.height = ds.height;
    full.width = ds.width;
    full.num_classes = ds.num_classes;
    full.dtype = ds.dtype;
    full.format = ds.format;
    full.skipped = ds.skipped;
    deit::capi::write_caller_struct(info, full, "info");
  });
}

DEIT_API deit_status deit_dataset_label_histogram(const deit_dataset* dataset, int64_t* counts,
                                                  size_t capacity) {
  return guard(__func__, [&] {
    require_arg(dataset, "dataset");
    require_arg(counts, "counts");
    const deit::data::Dataset& ds = dataset->data;
    check_capacity(capacity, static_cast<uint64_t>(ds.num_classes), "elements",
                   std::to_string(ds.num_classes) + " classes");
    const std::vector<int64_t> hist = deit::data::label_histogram(ds);
    std::memcpy(counts, hist.data(), hist.size() * sizeof(int64_t));
  });
}

DEIT_API deit_status deit_dataset_subset_fraction(const deit_dataset* dataset, double fraction, uint64_t seed,
                                                  deit_dataset** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(dataset, "dataset");
    *out = wrap(deit::data::subset_fraction(dataset->data, fraction, seed));
  });
}

DEIT_API deit_status deit_dataset_split(const deit_dataset* dataset, double fraction, uint64_t seed,
                                        deit_dataset** first, deit_dataset** rest) {
  return guard(__func__, [&] {
    reset_out(first, "first");
    reset_out(rest, "rest");
    require_arg(dataset, "dataset");
    auto [a, b] = deit::data::split(dataset->data, fraction, seed);
    deit_dataset* wa = wrap(std::move(a));
    try {
      *rest = wrap(std::move(b));
    } catch (...) {
      deit_dataset_free(wa);
      throw;
    }
    *first = wa;
  });
}

DEIT_API deit_status deit_dataset_subset_first(const deit_dataset* dataset, int64_t n, deit_dataset** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(dataset, "dataset");
    *out = wrap(deit::data::subset_first(dataset->data, n));
  });
}

DEIT_API deit_status deit_dataset_copy_images(const deit_dataset* dataset, int64_t start, int64_t count,
                                              void* buf, size_t capacity_bytes) {
  return guard(__func__, [&] {
    require_arg(dataset, "dataset");
    require_arg(buf, "buf");
    const deit::data::Dataset& ds = dataset->data;
    check_range(ds, start, count);
    // No overflow: the data set's own buffer already holds these bytes.
    const uint64_t elem = ds.dtype == DEIT_DTYPE_U8 ? 1 : sizeof(float);
    const auto per = static_cast<uint64_t>(ds.image_size());
    check_capacity(capacity_bytes, static_cast<uint64_t>(count) * per * elem, "bytes",
                   std::to_string(count) + " images");
    const size_t offset = static_cast<size_t>(start) * per, n = static_cast<size_t>(count) * per;
    if (n == 0) return;
    if (ds.dtype == DEIT_DTYPE_U8) {
      std::memcpy(buf, ds.u8.data() + offset, n);
    } else {
      std::memcpy(buf, ds.f32.data() + offset, n * sizeof(float));
    }
  });
}

DEIT_API deit_status deit_dataset_copy_labels(const deit_dataset* dataset, int64_t start, int64_t count,
                                              int32_t* buf, size_t capacity) {
  return guard(__func__, [&] {
    require_arg(dataset, "dataset");
    require_arg(buf, "buf");
    const deit::data::Dataset& ds = dataset->data;
    check_range(ds, start, count);
    check_capacity(capacity, static_cast<uint64_t>(count), "elements", std::to_string(count) + " labels");
    // Labels are < num_classes <= INT32_MAX, so the narrowing is exact.
    for (int64_t i = 0; i < count; ++i)
      buf[i] = static_cast<int32_t>(ds.labels[static_cast<size_t>(start + i)]);
  });
}

}  // extern "C"
