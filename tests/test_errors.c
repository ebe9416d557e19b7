/* Version, status strings, the thread-local last error, logging, threads and
 * device selection. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "test_support.h"

static void test_version(void **state) {
  (void)state;
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", DEIT_VERSION_MAJOR, DEIT_VERSION_MINOR, DEIT_VERSION_PATCH);
  assert_string_equal(deit_version_string(), expected);
  assert_int_equal(deit_version_number(), DEIT_VERSION_NUMBER);
}

/* What the loaded library was built with: the LibTorch CMake found and whether it has CUDA. */
static void test_build_info(void **state) {
  (void)state;
  const char *v = deit_libtorch_version();
  assert_non_null(v);
  int major = -1, minor = -1, want_major = -1, want_minor = -1;
  assert_int_equal(sscanf(v, "%d.%d", &major, &minor), 2);
  assert_int_equal(sscanf(DEIT_TEST_LIBTORCH_VERSION, "%d.%d", &want_major, &want_minor), 2);
  assert_int_equal(major, want_major);
  assert_int_equal(minor, want_minor);
  assert_int_equal(deit_cuda_compiled(), DEIT_TEST_CUDA_COMPILED);
  if (!deit_cuda_compiled()) assert_int_equal(deit_cuda_available(), 0);
}

/* The model names the library builds, as the CLI and bindings list them. */
static void test_model_names(void **state) {
  (void)state;
  static const char *const archs[] = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                                      "resnet18-small-image", "resnet34-small-image", "resnet50-small-image",
                                      "resnet20-small-image", "resnet56-small-image"};
  static const char *const presets[] = {"seed", "deit-tiny", "deit-small", "deit-base", "small-image"};
  for (size_t i = 0; i < 10; ++i) assert_string_equal(deit_teacher_arch_name(i), archs[i]);
  assert_null(deit_teacher_arch_name(10));
  assert_null(deit_teacher_arch_name((size_t)-1));
  for (size_t i = 0; i < 5; ++i) assert_string_equal(deit_student_preset_name(i), presets[i]);
  assert_null(deit_student_preset_name(5));
}

static void test_status_strings(void **state) {
  (void)state;
  assert_string_equal(deit_status_str(DEIT_OK), "ok");
  assert_string_equal(deit_status_str(DEIT_E_INVALID_ARG), "invalid argument");
  assert_string_equal(deit_status_str(DEIT_E_BUFFER_TOO_SMALL), "buffer too small");
  assert_string_equal(deit_status_str(DEIT_E_NUMERIC), "non-finite loss");
  assert_string_equal(deit_status_str(DEIT_E_DISTRIBUTED), "distributed training failed");
  assert_string_equal(deit_status_str((deit_status)-999), "unknown status");
  assert_string_equal(deit_status_str((deit_status)(DEIT_E_DISTRIBUTED - 1)), "unknown status");
  assert_string_equal(deit_status_str((deit_status)42), "unknown status");
  /* Every defined status (DEIT_E_DISTRIBUTED is the last) has its own text. */
  for (int a = DEIT_E_DISTRIBUTED; a <= DEIT_OK; ++a) {
    assert_string_not_equal(deit_status_str((deit_status)a), "unknown status");
    for (int b = a + 1; b <= DEIT_OK; ++b)
      assert_string_not_equal(deit_status_str((deit_status)a), deit_status_str((deit_status)b));
  }
}

static void test_status_values_fixed(void **state) {
  (void)state;
  /* These values are ABI: they never change. */
  assert_int_equal(DEIT_OK, 0);
  assert_int_equal(DEIT_E_INVALID_ARG, -1);
  assert_int_equal(DEIT_E_IO, -2);
  assert_int_equal(DEIT_E_FORMAT, -3);
  assert_int_equal(DEIT_E_OOM, -4);
  assert_int_equal(DEIT_E_UNSUPPORTED, -5);
  assert_int_equal(DEIT_E_CANCELLED, -6);
  assert_int_equal(DEIT_E_BUFFER_TOO_SMALL, -7);
  assert_int_equal(DEIT_E_STATE, -8);
  assert_int_equal(DEIT_E_INTERNAL, -9);
  assert_int_equal(DEIT_E_DEVICE, -10);
  assert_int_equal(DEIT_E_NUMERIC, -11);
  assert_int_equal(DEIT_E_DISTRIBUTED, -12);
}

static void test_last_error_names_argument(void **state) {
  (void)state;
  char buf[16];
  assert_status_msg(deit_resolve_device(NULL, buf, sizeof buf), DEIT_E_INVALID_ARG, "spec is NULL");
  assert_non_null(strstr(deit_last_error(), "deit_resolve_device"));
  assert_status_msg(deit_resolve_device("cpu", NULL, 4), DEIT_E_INVALID_ARG, "buf is NULL");
  /* A later success leaves the last failure's message in place (like errno). */
  assert_ok(deit_resolve_device("cpu", buf, sizeof buf));
  assert_non_null(strstr(deit_last_error(), "buf is NULL"));
}

/* What the other thread saw; asserted on the main thread (cmocka's asserts
 * must not run on another thread). */
struct thread_errors {
  char before[256]; /* its last error before any call */
  deit_status status; /* of its own failing call */
  char after[256];  /* its last error after that call */
};

static void *other_thread(void *arg) {
  struct thread_errors *r = arg;
  /* A fresh thread has no error yet, whatever other threads did. */
  snprintf(r->before, sizeof r->before, "%s", deit_last_error());
  char buf[16];
  r->status = deit_resolve_device("gpu", buf, sizeof buf);
  snprintf(r->after, sizeof r->after, "%s", deit_last_error());
  return NULL;
}

static void test_last_error_is_thread_local(void **state) {
  (void)state;
  char buf[16];
  assert_status_msg(deit_resolve_device("bogus", buf, sizeof buf), DEIT_E_INVALID_ARG, "\"bogus\"");
  pthread_t t;
  struct thread_errors r;
  memset(&r, 0, sizeof r);
  r.status = DEIT_OK;
  assert_int_equal(pthread_create(&t, NULL, other_thread, &r), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_string_equal(r.before, "");
  /* The other thread did fail, and saw its own message... */
  assert_int_equal(r.status, DEIT_E_INVALID_ARG);
  assert_non_null(strstr(r.after, "\"gpu\""));
  /* ...which did not overwrite ours. */
  assert_non_null(strstr(deit_last_error(), "\"bogus\""));
  assert_null(strstr(deit_last_error(), "\"gpu\""));
}

static void test_devices(void **state) {
  (void)state;
  char buf[16];
  assert_ok(deit_resolve_device("cpu", buf, sizeof buf));
  assert_string_equal(buf, "cpu");
  assert_ok(deit_resolve_device("auto", buf, sizeof buf));
  if (deit_cuda_available()) {
    assert_true(deit_cuda_device_count() >= 1);
    assert_string_equal(buf, "cuda:0");
    assert_ok(deit_resolve_device("cuda", buf, sizeof buf));
    assert_string_equal(buf, "cuda:0");
    assert_status_msg(deit_resolve_device("cuda:99", buf, sizeof buf), DEIT_E_DEVICE, "cuda:99");
  } else {
    assert_int_equal(deit_cuda_device_count(), 0);
    assert_string_equal(buf, "cpu");
    assert_status_msg(deit_resolve_device("cuda", buf, sizeof buf), DEIT_E_DEVICE, "CUDA is not available");
    assert_status_msg(deit_resolve_device("cuda:1", buf, sizeof buf), DEIT_E_DEVICE, "cuda:1");
  }
  assert_status_msg(deit_resolve_device("cuda:", buf, sizeof buf), DEIT_E_INVALID_ARG, "auto, cpu, cuda, cuda:N");
  assert_status_msg(deit_resolve_device("cuda:x", buf, sizeof buf), DEIT_E_INVALID_ARG, "\"cuda:x\"");
  assert_status_msg(deit_resolve_device("CPU", buf, sizeof buf), DEIT_E_INVALID_ARG, "\"CPU\"");
  assert_status_msg(deit_resolve_device("", buf, sizeof buf), DEIT_E_INVALID_ARG, "\"\"");
  assert_status_msg(deit_resolve_device("cpu", buf, 3), DEIT_E_BUFFER_TOO_SMALL, "needs 4 bytes");
  assert_ok(deit_resolve_device("cpu", buf, 4));
}

static void test_threads(void **state) {
  (void)state;
  /* Default: all cores (at least 1). */
  assert_true(deit_get_num_threads() >= 1);
  assert_ok(deit_set_num_threads(1));
  assert_int_equal(deit_get_num_threads(), 1);
  assert_ok(deit_set_num_threads(2));
  assert_int_equal(deit_get_num_threads(), 2);
  assert_status_msg(deit_set_num_threads(-1), DEIT_E_INVALID_ARG, "-1");
  assert_int_equal(deit_get_num_threads(), 2);
  assert_ok(deit_set_num_threads(0));
  assert_true(deit_get_num_threads() >= 1);
}

struct log_capture {
  int calls;
  deit_log_level level;
  char last[512];
};

static void capture_log(deit_log_level level, const char *message, void *user_data) {
  struct log_capture *c = user_data;
  c->calls++;
  c->level = level;
  snprintf(c->last, sizeof c->last, "%s", message);
}

static void test_log_callback(void **state) {
  (void)state;
  struct log_capture cap;
  memset(&cap, 0, sizeof cap);
  assert_ok(deit_set_log_callback(capture_log, &cap));
  assert_ok(deit_set_log_level(DEIT_LOG_DEBUG));
  /* A data set opened from memory logs a debug line naming its size. */
  uint8_t pixels[2 * 4] = {0};
  int32_t labels[2] = {0, 1};
  deit_images im = {pixels, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, 2, 1, 2, 2};
  deit_dataset *ds = NULL;
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 0, &ds));
  deit_dataset_free(ds);
  assert_true(cap.calls >= 1);
  assert_int_equal(cap.level, DEIT_LOG_DEBUG);
  assert_non_null(strstr(cap.last, "2 images"));
  /* Raising the level silences debug lines. */
  int before = cap.calls;
  assert_ok(deit_set_log_level(DEIT_LOG_WARN));
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 0, &ds));
  deit_dataset_free(ds);
  assert_int_equal(cap.calls, before);
  assert_status_msg(deit_set_log_level((deit_log_level)7), DEIT_E_INVALID_ARG, "deit_log_level");
  assert_ok(deit_set_log_callback(NULL, NULL));
}

static void test_free_accepts_null(void **state) {
  (void)state;
  char buf[16];
  /* Freeing NULL is no error: every *_free() returns without touching the
   * thread's last error (a failure recorded before stays in place). */
  assert_status_msg(deit_resolve_device("bogus", buf, sizeof buf), DEIT_E_INVALID_ARG, "\"bogus\"");
  deit_dataset_free(NULL);
  deit_teacher_free(NULL);
  deit_student_free(NULL);
  deit_group_free(NULL);
  assert_non_null(strstr(deit_last_error(), "device \"bogus\""));
  assert_null(strstr(deit_last_error(), "_free"));
  /* Freeing a real handle is silent too, and the library goes on working. */
  uint8_t pixels[4] = {0};
  int32_t labels[1] = {0};
  deit_images im = {pixels, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, 1, 1, 2, 2};
  deit_dataset *ds = NULL;
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 0, &ds));
  assert_non_null(ds);
  deit_dataset_free(ds);
  assert_non_null(strstr(deit_last_error(), "device \"bogus\""));
  assert_ok(deit_resolve_device("cpu", buf, sizeof buf));
  assert_string_equal(buf, "cpu");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_build_info),
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_model_names),
      cmocka_unit_test(test_status_strings),
      cmocka_unit_test(test_status_values_fixed),
      cmocka_unit_test(test_last_error_names_argument),
      cmocka_unit_test(test_last_error_is_thread_local),
      cmocka_unit_test(test_devices),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_log_callback),
      cmocka_unit_test(test_free_accepts_null),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
