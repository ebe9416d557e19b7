// deit_checkpoint_describe / deit_checkpoint_read_kind: what a checkpoint holds, as JSON or as its kind.
#include <cstring>

#include "capi/guard.h"
#include "models/checkpoint.h"

using deit::capi::guard;
using deit::capi::require_arg;

extern "C" {

DEIT_API deit_status deit_checkpoint_describe(const char* path, char* buf, size_t capacity, size_t* needed) {
  return guard(__func__, [&] {
    require_arg(path, "path");
    const std::string json = deit::models::describe_checkpoint(path);
    if (needed) *needed = json.size() + 1;
    if (!buf || capacity < json.size() + 1)
      deit::fail(DEIT_E_BUFFER_TOO_SMALL, "capacity " + std::to_string(capacity) + " cannot hold the description (" +
                                              std::to_string(json.size() + 1) + " bytes)");
    std::memcpy(buf, json.c_str(), json.size() + 1);
  });
}

DEIT_API deit_status deit_checkpoint_read_kind(const char* path, deit_checkpoint_kind* out) {
  return guard(__func__, [&] {
    require_arg(path, "path");
    require_arg(out, "out");
    *out = deit::models::checkpoint_kind(path) == "teacher" ? DEIT_CHECKPOINT_TEACHER : DEIT_CHECKPOINT_STUDENT;
  });
}

}  // extern "C"
