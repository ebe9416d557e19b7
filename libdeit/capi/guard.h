// Helpers shared by every extern "C" shim: argument checks and the guard that
// turns any exception into a deit_status plus a thread-local message, so that
// nothing ever throws or aborts across the C boundary.
#pragma once

#include <deit/deit.h>

#include <string>

#include "core/error.h"

namespace deit::capi {

// Records `message` as this thread's last error and returns `status`.
deit_status set_error(deit_status status, const std::string& message) noexcept;

// Classifies the exception being handled (call only inside a catch block).
deit_status handle_current_exception(const char* function) noexcept;

// Runs body(); returns DEIT_OK, or the status of whatever it threw with the
// message prefixed by the C function's name.
template <class Body>
deit_status guard(const char* function, Body&& body) noexcept {
  try {
    body();
    return DEIT_OK;
  } catch (...) {
    return handle_current_exception(function);
  }
}

// Argument checks: the message names the parameter.
inline void require_arg(const void* p, const char* name) {
  if (!p) invalid_arg(std::string(name) + " is NULL");
}

// Validates an out-parameter and sets it to NULL, so it is NULL on failure.
template <class T>
void reset_out(T** out, const char* name = "out") {
  require_arg(out, name);
  *out = nullptr;
}

}  // namespace deit::capi
