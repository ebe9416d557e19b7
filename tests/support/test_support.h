/* Helpers shared by the CMocka tests: temp dirs, tiny file writers, asserts
 * on status + message. */
#ifndef DEIT_TEST_SUPPORT_H
#define DEIT_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the includes above first. */
#include <cmocka.h>

#include <deit/deit.h>

/* A fresh directory for this test executable (under $DEIT_TEST_TMPDIR or
 * /tmp); returns a static path. */
const char *deit_test_dir(void);
/* deit_test_dir()/name in a static rotating buffer. */
const char *deit_test_path(const char *name);
/* Write bytes to a file (fails the test on error). */
void deit_test_write_file(const char *path, const void *data, size_t size);
/* Write bytes gzip-compressed (through the gzip program's format via zlib). */
void deit_test_write_gz(const char *path, const void *data, size_t size);

/* n gray side x side images (uint8, NCHW) and labels: class k = i % classes is
 * a bright bar in rows 3k..3k+2 on a dark ground, plus noise from srand(seed). */
void deit_test_bar_images(uint8_t *pixels, int32_t *labels, int n, int side, int classes, unsigned seed);

/* A safetensors file read back by the tests with their own parser (not libdeit's), to compare tensors
 * byte for byte.  The whole file stays in memory; tensors point into it. */
typedef struct deit_test_tensor {
  char name[160];
  char dtype[8];
  const unsigned char *data;
  size_t nbytes;
} deit_test_tensor;
typedef struct deit_test_safetensors {
  unsigned char *file;
  deit_test_tensor *tensors;
  int count;
} deit_test_safetensors;
/* Reads `path` (fails the test if it is not a well-formed safetensors file). */
void deit_test_safetensors_read(const char *path, deit_test_safetensors *out);
/* The tensor called `name`, or NULL. */
const deit_test_tensor *deit_test_safetensors_find(const deit_test_safetensors *st, const char *name);
void deit_test_safetensors_free(deit_test_safetensors *st);
/* 1 when both tensors have the same dtype, size and bytes. */
int deit_test_tensors_equal(const deit_test_tensor *a, const deit_test_tensor *b);
/* 1 when the two files hold the same bytes. */
int deit_test_files_equal(const char *a, const char *b);

/* Assert status == expected and that deit_last_error() contains `needle`. */
#define assert_status_msg(call, expected, needle) \
  deit_test_assert_status_msg((call), (expected), (needle), #call, __FILE__, __LINE__)
void deit_test_assert_status_msg(deit_status got, deit_status expected, const char *needle,
                                 const char *expr, const char *file, int line);
/* Assert DEIT_OK, printing deit_last_error() otherwise. */
#define assert_ok(call) deit_test_assert_status_msg((call), DEIT_OK, NULL, #call, __FILE__, __LINE__)

#endif
