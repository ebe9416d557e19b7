// The options, configuration and result structs a C caller passes.  They grow only by appending fields
// (docs/API.md), and a caller's struct_size says which layout it was compiled with: at least the first
// released one, or a newer header's, larger than this library's.  Every entry point goes through the three
// functions below, so that no other code reads struct_size or touches a byte past the caller's struct.
#pragma once

#include <deit/deit.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>

#include "core/error.h"

namespace deit::capi {

// Each struct's size as first released.  A struct that grows keeps its line; one that is added gets one.
template <class S>
constexpr size_t kFirstRelease = 0;  // not a caller struct: the static_assert below fires
template <>
inline constexpr size_t kFirstRelease<deit_dataset_info> = offsetof(deit_dataset_info, skipped);
template <>
inline constexpr size_t kFirstRelease<deit_eval_result> = sizeof(deit_eval_result);
template <>
inline constexpr size_t kFirstRelease<deit_group_options> = sizeof(deit_group_options);
template <>
inline constexpr size_t kFirstRelease<deit_student_config> = sizeof(deit_student_config);
template <>
inline constexpr size_t kFirstRelease<deit_runtime_options> = sizeof(deit_runtime_options);
template <>
inline constexpr size_t kFirstRelease<deit_augment_options> = sizeof(deit_augment_options);
template <>
inline constexpr size_t kFirstRelease<deit_image_options> = offsetof(deit_image_options, normalize);
template <>
inline constexpr size_t kFirstRelease<deit_onnx_options> = sizeof(deit_onnx_options);
template <>
inline constexpr size_t kFirstRelease<deit_teacher_train_options> =
    offsetof(deit_teacher_train_options, state_path);
template <>
inline constexpr size_t kFirstRelease<deit_distill_options> = offsetof(deit_distill_options, state_path);

// More than any struct of deit.h will ever need: a bigger size is a corrupt argument, not a newer header.
constexpr size_t kMaxStructSize = 1 << 16;

template <class S>
size_t checked_struct_size(size_t size, const char* name) {
  static_assert(kFirstRelease<S> > 0 && kFirstRelease<S> <= sizeof(S), "add the struct to kFirstRelease");
  if (size == 0)
    invalid_arg(std::string(name) + "->struct_size is 0: initialise the struct with its *_init() function");
  if (size < kFirstRelease<S>)
    invalid_arg(std::string(name) + "->struct_size " + std::to_string(size) +
                " is smaller than the first released layout (" + std::to_string(kFirstRelease<S>) + " bytes)");
  if (size > kMaxStructSize)
    invalid_arg(std::string(name) + "->struct_size " + std::to_string(size) + " is not the size of a deit.h struct");
  return size;
}

// *_init_sized: `defaults` into the caller's `size` bytes (fields of a header newer than this library are
// zeroed), and struct_size = size.  Nothing past them is written.
template <class S>
void init_caller_struct(S* out, size_t size, const S& defaults, const char* name) {
  if (!out) invalid_arg(std::string(name) + " is NULL");
  checked_struct_size<S>(size, name);
  const size_t known = std::min(size, sizeof(S));
  auto* bytes = reinterpret_cast<unsigned char*>(out);
  std::memcpy(bytes, &defaults, known);
  std::memset(bytes + known, 0, size - known);
  out->struct_size = static_cast<uint32_t>(size);
}

// An input struct in this library's layout: the fields the caller's layout lacks take `base`'s values
// (their defaults), and the fields of a newer header are not looked at.
template <class S>
S read_caller_struct(const S* in, const S& base, const char* name) {
  if (!in) invalid_arg(std::string(name) + " is NULL");
  const size_t size = checked_struct_size<S>(in->struct_size, name);
  S out = base;
  std::memcpy(&out, in, std::min(size, sizeof(S)));
  return out;
}

// An output struct: `value`'s fields that the caller's layout has; the caller's struct_size stays.
template <class S>
void write_caller_struct(S* out, const S& value, const char* name) {
  if (!out) invalid_arg(std::string(name) + " is NULL");
  const uint32_t size = static_cast<uint32_t>(checked_struct_size<S>(out->struct_size, name));
  const size_t known = std::min<size_t>(size, sizeof(S));
  std::memcpy(out, &value, known);
  out->struct_size = size;
}

}  // namespace deit::capi
