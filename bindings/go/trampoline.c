#include "trampoline.h"

#include "_cgo_export.h"

int deit_go_progress(const deit_progress* progress, void* user_data) {
  return deitGoProgress((deit_progress*)progress, (uintptr_t)user_data);
}

void deit_go_log(deit_log_level level, const char* message, void* user_data) {
  deitGoLog(level, (char*)message, (uintptr_t)user_data);
}
