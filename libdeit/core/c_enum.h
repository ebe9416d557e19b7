// Enums that come from C callers.  C may put any int in an enum argument or field, and loading a value
// outside the enum's range as the C++ enum type is undefined behaviour (UBSan reports it), so every such
// value is read as an int and checked here, against the values deit.h names, before anything uses it.
#pragma once

#include <deit/deit.h>

#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"

namespace deit {

// The int a C caller passed, read without loading it as the enum type.
template <class E>
int enum_int(const E& e) {
  std::underlying_type_t<E> v;
  static_assert(sizeof v == sizeof e, "enum size");
  std::memcpy(&v, &e, sizeof v);
  return static_cast<int>(v);
}

template <class E>
using EnumValues = std::vector<std::pair<E, const char*>>;

// Every public enum's values with their names in deit.h.
template <class E>
struct CEnum;
#define DEIT_C_ENUM(E, ...)                                                              \
  template <>                                                                            \
  struct CEnum<E> {                                                                      \
    static constexpr const char* name = #E;                                              \
    static const EnumValues<E>& values() {                                               \
      static const EnumValues<E> v = {__VA_ARGS__};                                      \
      return v;                                                                          \
    }                                                                                    \
  }
DEIT_C_ENUM(deit_split, {DEIT_SPLIT_TRAIN, "DEIT_SPLIT_TRAIN"}, {DEIT_SPLIT_TEST, "DEIT_SPLIT_TEST"});
DEIT_C_ENUM(deit_dtype, {DEIT_DTYPE_U8, "DEIT_DTYPE_U8"}, {DEIT_DTYPE_F32, "DEIT_DTYPE_F32"},
            {DEIT_DTYPE_I32, "DEIT_DTYPE_I32"}, {DEIT_DTYPE_I64, "DEIT_DTYPE_I64"});
DEIT_C_ENUM(deit_layout, {DEIT_LAYOUT_NCHW, "DEIT_LAYOUT_NCHW"}, {DEIT_LAYOUT_NHWC, "DEIT_LAYOUT_NHWC"});
DEIT_C_ENUM(deit_optimizer, {DEIT_OPTIM_ADAM, "DEIT_OPTIM_ADAM"}, {DEIT_OPTIM_ADAMW, "DEIT_OPTIM_ADAMW"},
            {DEIT_OPTIM_SGD, "DEIT_OPTIM_SGD"});
DEIT_C_ENUM(deit_schedule, {DEIT_SCHEDULE_CONSTANT, "DEIT_SCHEDULE_CONSTANT"},
            {DEIT_SCHEDULE_COSINE, "DEIT_SCHEDULE_COSINE"});
DEIT_C_ENUM(deit_trainable, {DEIT_TRAIN_AUTO, "DEIT_TRAIN_AUTO"}, {DEIT_TRAIN_HEAD, "DEIT_TRAIN_HEAD"},
            {DEIT_TRAIN_ALL, "DEIT_TRAIN_ALL"});
DEIT_C_ENUM(deit_distillation, {DEIT_DISTILL_SOFT, "DEIT_DISTILL_SOFT"}, {DEIT_DISTILL_HARD, "DEIT_DISTILL_HARD"},
            {DEIT_DISTILL_NONE, "DEIT_DISTILL_NONE"});
DEIT_C_ENUM(deit_head, {DEIT_HEAD_AVG, "DEIT_HEAD_AVG"}, {DEIT_HEAD_CLS, "DEIT_HEAD_CLS"},
            {DEIT_HEAD_DIST, "DEIT_HEAD_DIST"});
DEIT_C_ENUM(deit_normalize, {DEIT_NORMALIZE_NONE, "DEIT_NORMALIZE_NONE"},
            {DEIT_NORMALIZE_IMAGENET, "DEIT_NORMALIZE_IMAGENET"},
            {DEIT_NORMALIZE_INCEPTION, "DEIT_NORMALIZE_INCEPTION"});
DEIT_C_ENUM(deit_log_level, {DEIT_LOG_DEBUG, "DEIT_LOG_DEBUG"}, {DEIT_LOG_INFO, "DEIT_LOG_INFO"},
            {DEIT_LOG_WARN, "DEIT_LOG_WARN"}, {DEIT_LOG_ERROR, "DEIT_LOG_ERROR"}, {DEIT_LOG_OFF, "DEIT_LOG_OFF"});
DEIT_C_ENUM(deit_resize_filter, {DEIT_RESIZE_BILINEAR, "DEIT_RESIZE_BILINEAR"},
            {DEIT_RESIZE_BICUBIC, "DEIT_RESIZE_BICUBIC"});
#undef DEIT_C_ENUM

// `e` when it is one of `allowed`; otherwise DEIT_E_INVALID_ARG "<what> 7 is not A, B or C", with the
// enum's name when every value is allowed ("... is not a deit_optimizer (DEIT_OPTIM_ADAM, ...)").
template <class E>
E checked_enum(const E& e, const std::string& what, const EnumValues<E>& allowed, const char* type_name = nullptr) {
  const int v = enum_int(e);
  std::string names;
  size_t i = 0;
  for (const auto& [value, name] : allowed) {
    if (static_cast<int>(value) == v) return value;
    names += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + std::string(name);
    ++i;
  }
  invalid_arg(what + " " + std::to_string(v) + " is not " +
              (type_name ? std::string("a ") + type_name + " (" + names + ")" : names));
}

template <class E>
E checked_enum(const E& e, const std::string& what) {
  return checked_enum(e, what, CEnum<E>::values(), CEnum<E>::name);
}

}  // namespace deit
