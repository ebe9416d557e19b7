// libFuzzer target: checkpoint loading through the C API (deit_student_load,
// deit_teacher_load, deit_teacher_load_weights, deit_checkpoint_describe).
// Every call must return a status with a message; a crash, a sanitizer report,
// a leak or an exception crossing the C boundary is a bug.
#include <deit/deit.h>

#include <cstring>

#include "fuzz_support.h"

namespace {

void check_status(deit_status s) {
  DEIT_FUZZ_CHECK(s <= DEIT_OK && s >= DEIT_E_NUMERIC);
  if (s != DEIT_OK) DEIT_FUZZ_CHECK(deit_last_error()[0] != '\0');
  // Neither out of memory nor a bug in libdeit is an answer to a bad file.
  DEIT_FUZZ_CHECK(s != DEIT_E_OOM && s != DEIT_E_INTERNAL);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  deit_set_log_level(DEIT_LOG_OFF);
  deit_set_num_threads(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The smallest ResNet, made once: load_weights into it must reject a bad
  // file before touching any weight.
  static deit_teacher* target = [] {
    deit_teacher* t = nullptr;
    if (deit_teacher_create("resnet18", 2, &t) != DEIT_OK || deit_teacher_set_device(t, "cpu") != DEIT_OK) {
      std::fprintf(stderr, "fuzz_checkpoint: cannot create the teacher: %s\n", deit_last_error());
      std::abort();
    }
    return t;
  }();
  deit::fuzz::MemFile file(data, size);
  const char* path = file.path().c_str();

  deit_student* student = nullptr;
  deit_status s = deit_student_load(path, &student);
  check_status(s);
  DEIT_FUZZ_CHECK((s == DEIT_OK) == (student != nullptr));
  if (student) {
    int64_t params = 0;
    DEIT_FUZZ_CHECK(deit_student_num_params(student, &params) == DEIT_OK && params > 0);
  }
  deit_student_free(student);

  deit_teacher* teacher = nullptr;
  s = deit_teacher_load(path, &teacher);
  check_status(s);
  DEIT_FUZZ_CHECK((s == DEIT_OK) == (teacher != nullptr));
  deit_teacher_free(teacher);

  check_status(deit_teacher_load_weights(target, path));

  char buf[4096];
  size_t needed = 0;
  s = deit_checkpoint_describe(path, buf, sizeof buf, &needed);
  check_status(s);
  if (s == DEIT_OK) DEIT_FUZZ_CHECK(std::strlen(buf) + 1 == needed);
  return 0;
}
