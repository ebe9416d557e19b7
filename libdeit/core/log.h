// Library logging: routed to the user's callback, or stderr by default.
#pragma once

#include <deit/deit.h>

#include <string>

namespace deit {

void set_log_callback(deit_log_fn fn, void* user_data);
void set_log_level(deit_log_level level);
bool log_enabled(deit_log_level level);
void log(deit_log_level level, const std::string& message);

}  // namespace deit
