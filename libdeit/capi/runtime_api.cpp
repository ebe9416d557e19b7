// Threads and devices.
#include <cstring>

#include "capi/caller_struct.h"
#include "capi/guard.h"
#include "capi/option_defaults.h"
#include "runtime/runtime.h"

using deit::capi::guard;

extern "C" {

DEIT_API deit_status deit_runtime_options_init_sized(deit_runtime_options* o, size_t size) {
  return guard(__func__, [&] {
    deit::capi::init_caller_struct(o, size, deit::capi::option_defaults<deit_runtime_options>(), "options");
  });
}

DEIT_API deit_status deit_runtime_init(const deit_runtime_options* options) {
  return guard(__func__, [&] {
    const deit_runtime_options defaults = deit::capi::option_defaults<deit_runtime_options>();
    const deit_runtime_options o =
        options ? deit::capi::read_caller_struct(options, defaults, "options") : defaults;
    deit::runtime::ProcessSettings s;
    s.num_threads = o.num_threads;
    s.single_threaded_blas = o.single_threaded_blas != 0;
    s.tune_malloc = o.tune_malloc != 0;
    if (!deit::runtime::init_process(s))
      deit::fail(DEIT_E_STATE,
                 "the process settings were applied already (by deit_runtime_init, or with the defaults by the "
                 "first training, evaluation, prediction or thread call): call deit_runtime_init first");
  });
}

DEIT_API deit_status deit_runtime_get(deit_runtime_options* options, int* applied) {
  return guard(__func__, [&] {
    bool done = false;
    const deit::runtime::ProcessSettings s = deit::runtime::process_settings(&done);
    deit_runtime_options o = deit::capi::option_defaults<deit_runtime_options>();
    o.num_threads = s.num_threads;
    o.single_threaded_blas = s.single_threaded_blas ? 1 : 0;
    o.tune_malloc = s.tune_malloc ? 1 : 0;
    deit::capi::write_caller_struct(options, o, "options");
    if (applied) *applied = done ? 1 : 0;
  });
}

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
