// Data sets: the extern "C" shims over data/.
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>

#include "capi/guard.h"
#include "capi/handles.h"

using deit::capi::guard;
using deit::capi::require_arg;
using deit::capi::reset_out;

namespace {

// The int value of a caller's enum argument, read without loading it as the
// enum type: C may pass any int, and an out-of-range enum load is UB in C++.
template <class E>
int raw_enum(const E& e) {
  std::underlying_type_t<E> v;
  static_assert(sizeof v == sizeof e, "enum size");
  std::memcpy(&v, &e, sizeof v);
  return static_cast<int>(v);
}

deit_dataset* wrap(deit::data::Dataset&& ds) {
  auto handle = std::make_unique<deit_dataset>();
  handle->data = std::move(ds);
  return handle.release();
}

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

// Size of deit_dataset_info as first released; later versions only append.
constexpr size_t kInfoV1Size = offsetof(deit_dataset_info, format) + sizeof(deit_dataset_format);

}  // namespace

extern "C" {

DEIT_API deit_status deit_dataset_open_dir(const char* dir, deit_split split, deit_dataset** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(dir, "dir");
    const int split_value = raw_enum(split);
    deit::require(split_value == DEIT_SPLIT_TRAIN || split_value == DEIT_SPLIT_TEST,
                  "split " + std::to_string(split_value) + " is not a deit_split (0 = train, 1 = test)");
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
    const int ldtype = raw_enum(label_dtype);
    deit::require(ldtype == DEIT_DTYPE_I32 || ldtype == DEIT_DTYPE_I64,
                  "label_dtype " + std::to_string(ldtype) + " is not DEIT_DTYPE_I32 or DEIT_DTYPE_I64");
    *out = wrap(deit::data::from_memory(*images, labels, label_dtype, num_classes));
  });
}

DEIT_API void deit_dataset_free(deit_dataset* dataset) {
  delete dataset;
}

DEIT_API deit_status deit_dataset_get_info(const deit_dataset* dataset, deit_dataset_info* info) {
  return guard(__func__, [&] {
    require_arg(dataset, "dataset");
    require_arg(info, "info");
    deit::capi::check_struct_size(info->struct_size, kInfoV1Size, "info");
    const deit::data::Dataset& ds = dataset->data;
    const size_t size = info->struct_size;
    // Only fields that fit the caller's struct: an older caller's is shorter.
#define DEIT_SET_FIELD(field, value) \
  if (offsetof(deit_dataset_info, field) + sizeof(info->field) <= size) info->field = (value)
    DEIT_SET_FIELD(count, ds.count);
    DEIT_SET_FIELD(channels, ds.channels);
    DEIT_SET_FIELD(height, ds.height);
    DEIT_SET_FIELD(width, ds.width);
    DEIT_SET_FIELD(num_classes, ds.num_classes);
    DEIT_SET_FIELD(dtype, ds.dtype);
    DEIT_SET_FIELD(format, ds.format);
#undef DEIT_SET_FIELD
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
