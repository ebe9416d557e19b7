#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace deit {
namespace {

std::mutex g_mutex;  // guards the callback pair and serialises stderr lines
deit_log_fn g_fn = nullptr;
void* g_user_data = nullptr;
std::atomic<int> g_level{DEIT_LOG_WARN};

const char* level_name(deit_log_level level) {
  switch (level) {
    case DEIT_LOG_DEBUG: return "debug";
    case DEIT_LOG_INFO: return "info";
    case DEIT_LOG_WARN: return "warning";
    case DEIT_LOG_ERROR: return "error";
    default: return "log";
  }
}

}  // namespace

void set_log_callback(deit_log_fn fn, void* user_data) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_fn = fn;
  g_user_data = user_data;
}

void set_log_level(deit_log_level level) { g_level = level; }

bool log_enabled(deit_log_level level) { return level >= g_level.load() && level < DEIT_LOG_OFF; }

void log(deit_log_level level, const std::string& message) {
  if (!log_enabled(level)) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_fn) {
    g_fn(level, message.c_str(), g_user_data);
  } else {
    std::fprintf(stderr, "libdeit %s: %s\n", level_name(level), message.c_str());
  }
}

}  // namespace deit
