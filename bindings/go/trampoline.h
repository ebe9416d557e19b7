/* C side of the Go callbacks: libdeit calls these, they call the //export-ed
 * Go functions with the cgo.Handle that travels in user_data. */
#ifndef DEIT_GO_TRAMPOLINE_H
#define DEIT_GO_TRAMPOLINE_H

#include <deit/deit.h>
#include <stdint.h>

int deit_go_progress(const deit_progress* progress, void* user_data);
void deit_go_log(deit_log_level level, const char* message, void* user_data);

/* A cgo.Handle is an integer; converting it to a pointer on the C side keeps
 * unsafe.Pointer(uintptr) (which go vet rejects) out of the Go code. */
static inline void* deit_go_handle(uintptr_t h) {
  return (void*)h;
}

/* The calls that take a deit_images: cgo forbids passing Go memory that holds
 * a Go pointer (the image data), so the struct is completed here, on the C
 * stack, from the shape (data NULL) and the data pointer passed on its own. */
static inline deit_status deit_go_dataset_from_memory(deit_images im, const void* data, const void* labels,
                                                      deit_dtype label_dtype, int32_t num_classes,
                                                      deit_dataset** out) {
  im.data = data;
  return deit_dataset_from_memory(&im, labels, label_dtype, num_classes, out);
}
static inline deit_status deit_go_teacher_predict(deit_teacher* t, deit_images im, const void* data,
                                                  float* logits, size_t capacity) {
  im.data = data;
  return deit_teacher_predict(t, &im, logits, capacity);
}
static inline deit_status deit_go_student_predict(deit_student* s, deit_images im, const void* data,
                                                  deit_head head, float* logits, size_t capacity) {
  im.data = data;
  return deit_student_predict(s, &im, head, logits, capacity);
}
static inline deit_status deit_go_student_classify(deit_student* s, deit_images im, const void* data,
                                                   deit_head head, int32_t* classes, size_t capacity) {
  im.data = data;
  return deit_student_classify(s, &im, head, classes, capacity);
}

#endif
