// The one exception type the core throws on purpose: a status plus a message
// that names the file or argument at fault.  The C API shims turn it (and any
// other exception) into a deit_status + deit_last_error().
#pragma once

#include <deit/deit.h>

#include <stdexcept>
#include <string>

namespace deit {

class Error : public std::runtime_error {
 public:
  Error(deit_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  deit_status status() const noexcept { return status_; }

 private:
  deit_status status_;
};

// Shorthand for the common error kinds.
[[noreturn]] inline void fail(deit_status status, const std::string& message) {
  throw Error(status, message);
}
[[noreturn]] inline void invalid_arg(const std::string& message) {
  throw Error(DEIT_E_INVALID_ARG, message);
}

// Check a condition on user input; throws DEIT_E_INVALID_ARG with `message`.
inline void require(bool ok, const std::string& message) {
  if (!ok) invalid_arg(message);
}

}  // namespace deit
