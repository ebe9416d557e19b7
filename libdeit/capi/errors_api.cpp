// Version, status text, the thread-local last error and logging settings.
#include <c10/util/Exception.h>

#include <new>
#include <string>

#include "capi/guard.h"
#include "core/c_enum.h"
#include "core/log.h"

namespace deit::capi {
namespace {
thread_local std::string t_last_error;
}  // namespace

deit_status set_error(deit_status status, const std::string& message) noexcept {
  try {
    t_last_error = message;
  } catch (...) {
    // Out of memory while storing the message: keep the status at least.
  }
  return status;
}

deit_status handle_current_exception(const char* function) noexcept {
  const std::string prefix = std::string(function) + ": ";
  try {
    throw;
  } catch (const Error& e) {
    return set_error(e.status(), prefix + e.what());
  } catch (const c10::OutOfMemoryError& e) {
    return set_error(DEIT_E_OOM, prefix + "out of device memory: " + e.what_without_backtrace());
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    // LibTorch reports failed host allocations as c10::Error, not bad_alloc.
    const bool oom = what.find("DefaultCPUAllocator: can't allocate memory") != std::string::npos ||
                     what.find("out of memory") != std::string::npos;
    return set_error(oom ? DEIT_E_OOM : DEIT_E_INTERNAL, prefix + what);
  } catch (const std::bad_alloc&) {
    return set_error(DEIT_E_OOM, prefix + "out of memory");
  } catch (const std::exception& e) {
    return set_error(DEIT_E_INTERNAL, prefix + e.what());
  } catch (...) {
    return set_error(DEIT_E_INTERNAL, prefix + "unknown exception");
  }
}

}  // namespace deit::capi

using deit::capi::guard;

extern "C" {

DEIT_API const char* deit_version_string(void) {
#define DEIT_STR2(x) #x
#define DEIT_STR(x) DEIT_STR2(x)
  return DEIT_STR(DEIT_VERSION_MAJOR) "." DEIT_STR(DEIT_VERSION_MINOR) "." DEIT_STR(DEIT_VERSION_PATCH);
}

DEIT_API uint32_t deit_version_number(void) { return DEIT_VERSION_NUMBER; }

DEIT_API const char* deit_status_str(deit_status status) {
  // Any int is valid here: switch on it without loading it as the enum type (core/c_enum.h).
  switch (deit::enum_int(status)) {
    case DEIT_OK: return "ok";
    case DEIT_E_INVALID_ARG: return "invalid argument";
    case DEIT_E_IO: return "input/output error";
    case DEIT_E_FORMAT: return "malformed file";
    case DEIT_E_OOM: return "out of memory";
    case DEIT_E_UNSUPPORTED: return "unsupported";
    case DEIT_E_CANCELLED: return "cancelled";
    case DEIT_E_BUFFER_TOO_SMALL: return "buffer too small";
    case DEIT_E_STATE: return "invalid state";
    case DEIT_E_INTERNAL: return "internal error";
    case DEIT_E_DEVICE: return "device not available";
    case DEIT_E_NUMERIC: return "non-finite loss";
    case DEIT_E_DISTRIBUTED: return "distributed training failed";
  }
  return "unknown status";
}

DEIT_API const char* deit_last_error(void) { return deit::capi::t_last_error.c_str(); }

DEIT_API deit_status deit_set_log_callback(deit_log_fn fn, void* user_data) {
  return guard(__func__, [&] { deit::set_log_callback(fn, user_data); });
}

DEIT_API deit_status deit_set_log_level(deit_log_level level) {
  return guard(__func__, [&] {
    deit::set_log_level(deit::checked_enum(level, "level"));
  });
}

}  // extern "C"
