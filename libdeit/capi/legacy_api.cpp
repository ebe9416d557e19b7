// The one-argument *_init symbols of the headers before *_init_sized existed (deit.h now maps those names
// to *_init_sized with the caller's sizeof).  A program built against such a header calls them without
// saying its struct's size, so they initialise the first released layout only: never a byte past the
// caller's struct.  Fields appended since stay outside its struct_size and are not read.
#include "capi/caller_struct.h"

// deit.h's macros of the same names stand in the way of these definitions.
#undef deit_group_options_init
#undef deit_teacher_train_options_init
#undef deit_distill_options_init
#undef deit_student_config_init

extern "C" {

DEIT_API deit_status deit_group_options_init(deit_group_options* o);
DEIT_API deit_status deit_teacher_train_options_init(deit_teacher_train_options* o);
DEIT_API deit_status deit_distill_options_init(deit_distill_options* o);
DEIT_API deit_status deit_student_config_init(deit_student_config* c, const char* preset, int32_t num_classes);

DEIT_API deit_status deit_group_options_init(deit_group_options* o) {
  return deit_group_options_init_sized(o, deit::capi::kFirstRelease<deit_group_options>);
}
DEIT_API deit_status deit_teacher_train_options_init(deit_teacher_train_options* o) {
  return deit_teacher_train_options_init_sized(o, deit::capi::kFirstRelease<deit_teacher_train_options>);
}
DEIT_API deit_status deit_distill_options_init(deit_distill_options* o) {
  return deit_distill_options_init_sized(o, deit::capi::kFirstRelease<deit_distill_options>);
}
DEIT_API deit_status deit_student_config_init(deit_student_config* c, const char* preset, int32_t num_classes) {
  return deit_student_config_init_sized(c, deit::capi::kFirstRelease<deit_student_config>, preset, num_classes);
}

}  // extern "C"
