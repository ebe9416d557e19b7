// Threads and devices.
#include <cstring>

#include "capi/guard.h"
#include "runtime/runtime.h"

using deit::capi::guard;

extern "C" {

DEIT_API deit_status deit_set_num_threads(int32_t n) {
  return guard(__func__, [&] { deit::runtime::set_num_threads(n); });
}

DEIT_API int32_t deit_get_num_threads(void) {
  int32_t n = 1;
  guard(__func__, [&] { n = deit::runtime::num_threads(); });
  return n;
}

DEIT_API const char* deit_libtorch_version(void) { return deit::runtime::libtorch_version(); }

DEIT_API int deit_cuda_compiled(void) { return deit::runtime::cuda_compiled() ? 1 : 0; }

DEIT_API int deit_cuda_available(void) {
  int ok = 0;
  guard(__func__, [&] { ok = deit::runtime::cuda_available() ? 1 : 0; });
  return ok;
}

DEIT_API int32_t deit_cuda_device_count(void) {
  int32_t n = 0;
  guard(__func__, [&] { n = deit::runtime::cuda_device_count(); });
  return n;
}

DEIT_API deit_status deit_resolve_device(const char* spec, char* buf, size_t capacity) {
  return guard(__func__, [&] {
    deit::capi::require_arg(spec, "spec");
    deit::capi::require_arg(buf, "buf");
    const std::string name = deit::runtime::device_name(deit::runtime::resolve_device(spec));
    if (capacity < name.size() + 1)
      deit::fail(DEIT_E_BUFFER_TOO_SMALL, "capacity " + std::to_string(capacity) + " cannot hold \"" + name +
                                              "\" (needs " + std::to_string(name.size() + 1) + " bytes)");
    std::memcpy(buf, name.c_str(), name.size() + 1);
  });
}

}  // extern "C"
