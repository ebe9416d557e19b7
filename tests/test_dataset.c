/* Data sets: IDX (raw and gzip), CIFAR-10/100, caller buffers, subsets, and
 * the status + message of every malformed input.  Every file is written by
 * the test itself, a few bytes each. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_support.h"

/* ------------------------------------------------------------------------ */
/* Builders for tiny files                                                  */
/* ------------------------------------------------------------------------ */

static void put_be32(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Pixel j of IDX image i: distinct enough to catch an off-by-one image. */
static uint8_t idx_pixel(uint32_t i, uint32_t j) {
  return (uint8_t)(i * 31u + j * 7u + 3u);
}

/* An IDX images file of n images h x w (caller frees). */
static uint8_t* idx_images(uint32_t n, uint32_t h, uint32_t w, size_t* size) {
  *size = 16 + (size_t)n * h * w;
  uint8_t* b = malloc(*size);
  assert_non_null(b);
  put_be32(b, 0x00000803);
  put_be32(b + 4, n);
  put_be32(b + 8, h);
  put_be32(b + 12, w);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t j = 0; j < h * w; ++j) b[16 + (size_t)i * h * w + j] = idx_pixel(i, j);
  return b;
}

/* An IDX labels file (caller frees). */
static uint8_t* idx_labels(const uint8_t* labels, uint32_t n, size_t* size) {
  *size = 8 + (size_t)n;
  uint8_t* b = malloc(*size);
  assert_non_null(b);
  put_be32(b, 0x00000801);
  put_be32(b + 4, n);
  if (n) memcpy(b + 8, labels, n);
  return b;
}

/* snprintf that fails the test instead of truncating a path. */
#define format_path(buf, ...)                                                                     \
  do {                                                                                            \
    if (snprintf((buf), sizeof(buf), __VA_ARGS__) >= (int)sizeof(buf)) fail_msg("path too long"); \
  } while (0)

/* dir/name in a rotating static buffer. */
static const char* join(const char* dir, const char* name) {
  static char bufs[8][1400];
  static int next = 0;
  char* b = bufs[next++ % 8];
  if (snprintf(b, sizeof bufs[0], "%s/%s", dir, name) >= (int)sizeof bufs[0]) fail_msg("path too long");
  return b;
}

static const char* make_dir(const char* name) {
  static char bufs[4][1400];
  static int next = 0;
  char* b = bufs[next++ % 4];
  if (snprintf(b, sizeof bufs[0], "%s", deit_test_path(name)) >= (int)sizeof bufs[0])
    fail_msg("path too long");
  assert_int_equal(mkdir(b, 0755), 0);
  return b;
}

static void write_bytes(const char* path, const void* data, size_t size, int gz) {
  if (gz) {
    deit_test_write_gz(path, data, size);
  } else {
    deit_test_write_file(path, data, size);
  }
}

/* Writes an IDX pair of n images h x w with the given labels. */
static void write_idx_pair(const char* images_path, const char* labels_path, uint32_t n, uint32_t h,
                           uint32_t w, const uint8_t* labels, int gz_images, int gz_labels) {
  size_t si, sl;
  uint8_t* im = idx_images(n, h, w, &si);
  uint8_t* lb = idx_labels(labels, n, &sl);
  write_bytes(images_path, im, si, gz_images);
  write_bytes(labels_path, lb, sl, gz_labels);
  free(im);
  free(lb);
}

static uint8_t* read_whole(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t* b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *size = (size_t)n;
  return b;
}

static uint8_t cifar_pixel(int record, int j) {
  return (uint8_t)(record * 13 + j * 5 + 1);
}

/* n CIFAR records starting at global record index `first`; c100 adds the
 * coarse byte (set to fine / 5). */
static uint8_t* cifar_records(int n, int first, int c100, const uint8_t* fine, size_t* size) {
  const size_t rec = (c100 ? 2 : 1) + 3072;
  *size = rec * (size_t)n;
  uint8_t* b = malloc(*size ? *size : 1);
  assert_non_null(b);
  for (int i = 0; i < n; ++i) {
    uint8_t* r = b + rec * (size_t)i;
    if (c100) *r++ = (uint8_t)(fine[i] / 5);
    *r++ = fine[i];
    for (int j = 0; j < 3072; ++j) r[j] = cifar_pixel(first + i, j);
  }
  return b;
}

static void write_cifar(const char* path, int n, int first, int c100, const uint8_t* fine) {
  size_t s;
  uint8_t* b = cifar_records(n, first, c100, fine, &s);
  deit_test_write_file(path, b, s);
  free(b);
}

static deit_dataset_info info_of(const deit_dataset* ds) {
  deit_dataset_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  assert_ok(deit_dataset_get_info(ds, &info));
  return info;
}

static void assert_info(const deit_dataset* ds, int64_t count, int32_t c, int32_t h, int32_t w,
                        int32_t classes, deit_dtype dtype, deit_dataset_format format) {
  const deit_dataset_info info = info_of(ds);
  assert_int_equal(info.count, count);
  assert_int_equal(info.channels, c);
  assert_int_equal(info.height, h);
  assert_int_equal(info.width, w);
  assert_int_equal(info.num_classes, classes);
  assert_int_equal(info.dtype, dtype);
  assert_int_equal(info.format, format);
}

static void assert_labels(const deit_dataset* ds, const int32_t* expected, int64_t n) {
  int32_t got[256];
  assert_true(n <= 256);
  assert_ok(deit_dataset_copy_labels(ds, 0, n, got, 256));
  for (int64_t i = 0; i < n; ++i) assert_int_equal(got[i], expected[i]);
}

/* The 5-image 3x4 IDX set most tests use. */
static const uint8_t kIdxLabels[5] = {0, 1, 2, 1, 4};

static void check_idx_set(const deit_dataset* ds) {
  assert_info(ds, 5, 1, 3, 4, 5, DEIT_DTYPE_U8, DEIT_FORMAT_IDX);
  int64_t hist[5];
  assert_ok(deit_dataset_label_histogram(ds, hist, 5));
  const int64_t expected_hist[5] = {1, 2, 1, 0, 1};
  for (int k = 0; k < 5; ++k) assert_int_equal(hist[k], expected_hist[k]);
  const int32_t labels[5] = {0, 1, 2, 1, 4};
  assert_labels(ds, labels, 5);
  uint8_t px[5 * 12];
  assert_ok(deit_dataset_copy_images(ds, 0, 5, px, sizeof px));
  for (uint32_t i = 0; i < 5; ++i)
    for (uint32_t j = 0; j < 12; ++j) assert_int_equal(px[i * 12 + j], idx_pixel(i, j));
  /* A middle range. */
  memset(px, 0, sizeof px);
  assert_ok(deit_dataset_copy_images(ds, 2, 2, px, 24));
  for (uint32_t j = 0; j < 12; ++j) {
    assert_int_equal(px[j], idx_pixel(2, j));
    assert_int_equal(px[12 + j], idx_pixel(3, j));
  }
  int32_t lb[2];
  assert_ok(deit_dataset_copy_labels(ds, 3, 2, lb, 2));
  assert_int_equal(lb[0], 1);
  assert_int_equal(lb[1], 4);
}

/* Opens an IDX pair expecting failure with `status` and `needle`. */
#define assert_idx_fails(images, labels, status, needle)                                \
  do {                                                                                  \
    deit_dataset* ds_ = (deit_dataset*)&g_sentinel;                                     \
    assert_status_msg(deit_dataset_open_idx((images), (labels), &ds_), status, needle); \
    assert_null(ds_);                                                                   \
  } while (0)

static int g_sentinel;

/* ------------------------------------------------------------------------ */
/* IDX                                                                      */
/* ------------------------------------------------------------------------ */

static void test_idx_raw(void** state) {
  (void)state;
  const char *im = deit_test_path("raw-images-idx3-ubyte"), *lb = deit_test_path("raw-labels-idx1-ubyte");
  write_idx_pair(im, lb, 5, 3, 4, kIdxLabels, 0, 0);
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_open_idx(im, lb, &ds));
  check_idx_set(ds);
  deit_dataset_free(ds);
}

static void test_idx_gz(void** state) {
  (void)state;
  const char *im = deit_test_path("gz-images-idx3-ubyte.gz"), *lb = deit_test_path("gz-labels-idx1-ubyte.gz");
  write_idx_pair(im, lb, 5, 3, 4, kIdxLabels, 1, 1);
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_open_idx(im, lb, &ds));
  check_idx_set(ds);
  deit_dataset_free(ds);

  /* gzip is recognised by its magic bytes, not by the name; mixed pairs work. */
  im = deit_test_path("gz-noext-images");
  lb = deit_test_path("gz-noext-labels");
  write_idx_pair(im, lb, 5, 3, 4, kIdxLabels, 1, 0);
  assert_ok(deit_dataset_open_idx(im, lb, &ds));
  check_idx_set(ds);
  deit_dataset_free(ds);
}

static void test_idx_gz_multi_member(void** state) {
  (void)state;
  /* `cat a.gz b.gz > c.gz` is a valid gzip file: both members count. */
  size_t si, sl, s1, s2;
  uint8_t* im = idx_images(5, 3, 4, &si);
  const char *p1 = deit_test_path("part1.gz"), *p2 = deit_test_path("part2.gz");
  deit_test_write_gz(p1, im, 20);
  deit_test_write_gz(p2, im + 20, si - 20);
  uint8_t *a = read_whole(p1, &s1), *b = read_whole(p2, &s2);
  uint8_t* both = malloc(s1 + s2);
  assert_non_null(both);
  memcpy(both, a, s1);
  memcpy(both + s1, b, s2);
  const char *img = deit_test_path("multi-images.gz"), *lab = deit_test_path("multi-labels");
  deit_test_write_file(img, both, s1 + s2);
  uint8_t* lb = idx_labels(kIdxLabels, 5, &sl);
  deit_test_write_file(lab, lb, sl);
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_open_idx(img, lab, &ds));
  check_idx_set(ds);
  deit_dataset_free(ds);
  free(im);
  free(a);
  free(b);
  free(both);
  free(lb);
}

static void test_idx_wrong_magic(void** state) {
  (void)state;
  const char *im = deit_test_path("magic-images"), *lb = deit_test_path("magic-labels");
  write_idx_pair(im, lb, 5, 3, 4, kIdxLabels, 0, 0);
  /* Labels given as images and vice versa: both files are named. */
  assert_idx_fails(lb, im, DEIT_E_FORMAT, "magic-labels: wrong magic number 0x00000801");
  assert_idx_fails(lb, im, DEIT_E_FORMAT, "expected 0x00000803");
  assert_idx_fails(lb, im, DEIT_E_FORMAT, "looks like a labels file");
  const char* bad = deit_test_path("magic-bad-labels");
  size_t sl;
  uint8_t* b = idx_labels(kIdxLabels, 5, &sl);
  put_be32(b, 0x12345678);
  deit_test_write_file(bad, b, sl);
  assert_idx_fails(im, bad, DEIT_E_FORMAT, "magic-bad-labels: wrong magic number 0x12345678");
  assert_idx_fails(im, bad, DEIT_E_FORMAT, "expected 0x00000801");
  free(b);
}

static void test_idx_bad_dtype(void** state) {
  (void)state;
  size_t si, sl;
  uint8_t* im = idx_images(5, 3, 4, &si);
  uint8_t* lb = idx_labels(kIdxLabels, 5, &sl);
  im[2] = 0x0d; /* float */
  lb[2] = 0x0c; /* int */
  const char *pi = deit_test_path("dtype-images"), *pl = deit_test_path("dtype-labels");
  const char *gi = deit_test_path("dtype-good-images"), *gl = deit_test_path("dtype-good-labels");
  deit_test_write_file(pi, im, si);
  deit_test_write_file(pl, lb, sl);
  write_idx_pair(gi, gl, 5, 3, 4, kIdxLabels, 0, 0);
  assert_idx_fails(pi, gl, DEIT_E_FORMAT, "dtype-images: IDX element type 0x0d (float) is not supported");
  assert_idx_fails(pi, gl, DEIT_E_FORMAT, "only 0x08 (unsigned byte)");
  assert_idx_fails(gi, pl, DEIT_E_FORMAT, "dtype-labels: IDX element type 0x0c (int)");
  free(im);
  free(lb);
}

static void test_idx_truncated(void** state) {
  (void)state;
  size_t si, sl;
  uint8_t* im = idx_images(5, 3, 4, &si);
  uint8_t* lb = idx_labels(kIdxLabels, 5, &sl);
  const char *gi = deit_test_path("trunc-good-images"), *gl = deit_test_path("trunc-good-labels");
  write_idx_pair(gi, gl, 5, 3, 4, kIdxLabels, 0, 0);
  /* Cut inside the header. */
  const char* p = deit_test_path("trunc-header-images");
  deit_test_write_file(p, im, 10);
  assert_idx_fails(p, gl, DEIT_E_FORMAT,
                   "trunc-header-images: truncated: 10 bytes, shorter than the 16-byte header");
  deit_test_write_file(p, im, 0);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "truncated: 0 bytes");
  p = deit_test_path("trunc-header-labels");
  deit_test_write_file(p, lb, 6);
  assert_idx_fails(gi, p, DEIT_E_FORMAT,
                   "trunc-header-labels: truncated: 6 bytes, shorter than the 8-byte header");
  /* Cut inside the pixels: the header's dimensions disagree with the size. */
  p = deit_test_path("trunc-pixels-images");
  deit_test_write_file(p, im, si - 5);
  assert_idx_fails(p, gl, DEIT_E_FORMAT,
                   "trunc-pixels-images: truncated: header says 5 images of 3x4 (76 bytes with the header) "
                   "but the file has 71 bytes");
  /* A header that claims more images than the file holds. */
  put_be32(im + 4, 6);
  deit_test_write_file(p, im, si);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "header says 6 images of 3x4");
  put_be32(im + 4, 5);
  put_be32(im + 8, 4); /* 4x4 instead of 3x4 */
  deit_test_write_file(p, im, si);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "header says 5 images of 4x4 (96 bytes");
  p = deit_test_path("trunc-labels");
  deit_test_write_file(p, lb, sl - 1);
  assert_idx_fails(gi, p, DEIT_E_FORMAT, "trunc-labels: truncated: header says 5 labels (13 bytes");
  free(im);
  free(lb);
}

static void test_idx_bad_dims(void** state) {
  (void)state;
  size_t si;
  uint8_t* im = idx_images(5, 3, 4, &si);
  const char *gi = deit_test_path("dims-good-images"), *gl = deit_test_path("dims-good-labels");
  write_idx_pair(gi, gl, 5, 3, 4, kIdxLabels, 0, 0);
  const char* p = deit_test_path("dims-images");
  /* N * H * W overflows int64 (and any size_t). */
  put_be32(im + 4, 0xffffffffu);
  put_be32(im + 8, 0xffffffffu);
  put_be32(im + 12, 0xffffffffu);
  deit_test_write_file(p, im, si);
  assert_idx_fails(
      p, gl, DEIT_E_FORMAT,
      "dims-images: header dimensions 4294967295 x 4294967295 x 4294967295 overflow a 64-bit size");
  /* Fits in 64 bits but is far larger than the file. */
  put_be32(im + 4, 0x10000u);
  put_be32(im + 8, 0x10000u);
  put_be32(im + 12, 0x10000u);
  deit_test_write_file(p, im, si);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "truncated: header says 65536 images of 65536x65536");
  /* Image sides beyond int32. */
  put_be32(im + 4, 1);
  put_be32(im + 8, 0x80000000u);
  put_be32(im + 12, 1);
  deit_test_write_file(p, im, si);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "an image side exceeds 2^31 - 1");
  /* A zero side. */
  put_be32(im + 4, 5);
  put_be32(im + 8, 0);
  put_be32(im + 12, 4);
  deit_test_write_file(p, im, si);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "header dimensions 5 x 0 x 4 include a 0");
  free(im);
}

static void test_idx_trailing_bytes(void** state) {
  (void)state;
  size_t si, sl;
  uint8_t* im = idx_images(5, 3, 4, &si);
  uint8_t* lb = idx_labels(kIdxLabels, 5, &sl);
  const char *gi = deit_test_path("trail-good-images"), *gl = deit_test_path("trail-good-labels");
  write_idx_pair(gi, gl, 5, 3, 4, kIdxLabels, 0, 0);
  uint8_t *im2 = calloc(si + 3, 1), *lb2 = calloc(sl + 1, 1);
  assert_non_null(im2);
  assert_non_null(lb2);
  memcpy(im2, im, si);
  memcpy(lb2, lb, sl);
  const char *pi = deit_test_path("trail-images.gz"), *pl = deit_test_path("trail-labels");
  deit_test_write_gz(pi, im2, si + 3);
  deit_test_write_file(pl, lb2, sl + 1);
  assert_idx_fails(pi, gl, DEIT_E_FORMAT, "trail-images.gz: 3 bytes of trailing data after 5 images of 3x4");
  assert_idx_fails(gi, pl, DEIT_E_FORMAT, "trail-labels: 1 byte of trailing data after 5 labels");
  free(im);
  free(lb);
  free(im2);
  free(lb2);
}

static void test_idx_count_mismatch(void** state) {
  (void)state;
  const uint8_t labels[4] = {0, 1, 2, 3};
  const char *im = deit_test_path("mm-images"), *lb = deit_test_path("mm-labels");
  const char *im4 = deit_test_path("mm4-images"), *lb4 = deit_test_path("mm4-labels");
  write_idx_pair(im, lb, 5, 3, 4, kIdxLabels, 0, 0);
  write_idx_pair(im4, lb4, 4, 3, 4, labels, 0, 0);
  assert_idx_fails(im, lb4, DEIT_E_FORMAT, "mm-images has 5 images but");
  assert_idx_fails(im, lb4, DEIT_E_FORMAT, "mm4-labels has 4 labels");
}

static void test_idx_empty(void** state) {
  (void)state;
  const char *im = deit_test_path("empty-images"), *lb = deit_test_path("empty-labels");
  write_idx_pair(im, lb, 0, 3, 4, NULL, 0, 0);
  assert_idx_fails(im, lb, DEIT_E_FORMAT, "empty-images: header says 0 images: the data set is empty");
  const char *gi = deit_test_path("empty-good-images"), *gl = deit_test_path("empty-good-labels");
  write_idx_pair(gi, gl, 5, 3, 4, kIdxLabels, 0, 0);
  assert_idx_fails(gi, lb, DEIT_E_FORMAT, "empty-labels: header says 0 labels");
}

static void test_idx_missing(void** state) {
  (void)state;
  const char *gi = deit_test_path("miss-good-images"), *gl = deit_test_path("miss-good-labels");
  write_idx_pair(gi, gl, 5, 3, 4, kIdxLabels, 0, 0);
  const char* nope = deit_test_path("no-such-file");
  assert_idx_fails(nope, gl, DEIT_E_IO, "no-such-file: cannot open: No such file or directory");
  assert_idx_fails(gi, nope, DEIT_E_IO, "no-such-file: cannot open");
  assert_idx_fails(deit_test_dir(), gl, DEIT_E_IO, "is a directory");
  /* The function's name leads the message. */
  assert_idx_fails(nope, gl, DEIT_E_IO, "deit_dataset_open_idx: ");
}

/* ------------------------------------------------------------------------ */
/* gzip integrity                                                           */
/* ------------------------------------------------------------------------ */

static void test_gz_corrupt(void** state) {
  (void)state;
  /* Copies: the rotating deit_test_path() buffers would be reused below. */
  char gl[1400], gi[1400];
  format_path(gl, "%s", deit_test_path("gzc-good-labels"));
  format_path(gi, "%s", deit_test_path("gzc-good-images"));
  write_idx_pair(gi, gl, 5, 3, 4, kIdxLabels, 0, 0);
  /* A valid 10-byte gzip header, then garbage. */
  uint8_t junk[64] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03};
  for (int i = 10; i < 64; ++i) junk[i] = (uint8_t)(0xff - i * 3);
  const char* p = deit_test_path("gzc-garbage.gz");
  deit_test_write_file(p, junk, sizeof junk);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "gzc-garbage.gz: corrupt gzip stream");

  /* A real .gz cut in half. */
  size_t si, sz;
  uint8_t* im = idx_images(50, 8, 8, &si);
  const char* full = deit_test_path("gzc-full.gz");
  deit_test_write_gz(full, im, si);
  uint8_t* gz = read_whole(full, &sz);
  p = deit_test_path("gzc-truncated.gz");
  deit_test_write_file(p, gz, sz / 2);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "gzc-truncated.gz: corrupt gzip stream: truncated");
  /* Only the trailer missing: all data inflates but the CRC cannot be checked. */
  deit_test_write_file(p, gz, sz - 4);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "corrupt gzip stream: truncated");
  /* A flipped bit in the CRC-32 trailer. */
  gz[sz - 6] ^= 0x01;
  p = deit_test_path("gzc-crc.gz");
  deit_test_write_file(p, gz, sz);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "gzc-crc.gz: corrupt gzip stream: incorrect data check");
  gz[sz - 6] ^= 0x01;
  /* Junk after a complete stream. */
  uint8_t* tail = malloc(sz + 5);
  assert_non_null(tail);
  memcpy(tail, gz, sz);
  memcpy(tail + sz, "JUNK!", 5);
  p = deit_test_path("gzc-tail.gz");
  deit_test_write_file(p, tail, sz + 5);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "gzc-tail.gz: corrupt gzip stream: 5 bytes of trailing data");
  /* A .gz name without gzip content. */
  p = deit_test_path("gzc-plain.gz");
  deit_test_write_file(p, im, si);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "gzc-plain.gz: not a gzip file");
  /* Just the magic. */
  p = deit_test_path("gzc-magic-only");
  deit_test_write_file(p, junk, 2);
  assert_idx_fails(p, gl, DEIT_E_FORMAT, "gzc-magic-only: corrupt gzip stream");
  free(im);
  free(gz);
  free(tail);
}

/* ------------------------------------------------------------------------ */
/* Directories                                                              */
/* ------------------------------------------------------------------------ */

static void test_open_dir_idx(void** state) {
  (void)state;
  const char* dir = make_dir("idxdir");
  const uint8_t test_labels[3] = {2, 0, 1};
  write_idx_pair(join(dir, "train-images-idx3-ubyte"), join(dir, "train-labels-idx1-ubyte"), 5, 3, 4,
                 kIdxLabels, 0, 0);
  write_idx_pair(join(dir, "t10k-images-idx3-ubyte.gz"), join(dir, "t10k-labels-idx1-ubyte.gz"), 3, 3, 4,
                 test_labels, 1, 1);
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_open_dir(dir, DEIT_SPLIT_TRAIN, &ds));
  check_idx_set(ds);
  deit_dataset_free(ds);
  assert_ok(deit_dataset_open_dir(dir, DEIT_SPLIT_TEST, &ds));
  assert_info(ds, 3, 1, 3, 4, 3, DEIT_DTYPE_U8, DEIT_FORMAT_IDX);
  const int32_t expected[3] = {2, 0, 1};
  assert_labels(ds, expected, 3);
  deit_dataset_free(ds);

  /* Only the train split present: asking for test names the missing file. */
  const char* only = make_dir("idxdir-train-only");
  write_idx_pair(join(only, "train-images-idx3-ubyte.gz"), join(only, "train-labels-idx1-ubyte.gz"), 5, 3, 4,
                 kIdxLabels, 1, 1);
  assert_ok(deit_dataset_open_dir(only, DEIT_SPLIT_TRAIN, &ds));
  check_idx_set(ds);
  deit_dataset_free(ds);
  ds = (deit_dataset*)&g_sentinel;
  assert_status_msg(deit_dataset_open_dir(only, DEIT_SPLIT_TEST, &ds), DEIT_E_IO,
                    "no t10k-images-idx3-ubyte[.gz] for the test split");
  assert_null(ds);

  /* Images without labels. */
  const char* nolab = make_dir("idxdir-no-labels");
  size_t si;
  uint8_t* im = idx_images(5, 3, 4, &si);
  deit_test_write_file(join(nolab, "train-images-idx3-ubyte"), im, si);
  free(im);
  assert_status_msg(deit_dataset_open_dir(nolab, DEIT_SPLIT_TRAIN, &ds), DEIT_E_IO,
                    "no train-labels-idx1-ubyte[.gz] beside");
  /* A malformed file found through a directory still names the file. */
  deit_test_write_file(join(nolab, "train-labels-idx1-ubyte"), "\0\0\x08\x01", 4);
  assert_status_msg(deit_dataset_open_dir(nolab, DEIT_SPLIT_TRAIN, &ds), DEIT_E_FORMAT,
                    "train-labels-idx1-ubyte: truncated");
}

static void test_open_dir_errors(void** state) {
  (void)state;
  deit_dataset* ds = (deit_dataset*)&g_sentinel;
  const char* missing = deit_test_path("no-such-dir");
  assert_status_msg(deit_dataset_open_dir(missing, DEIT_SPLIT_TRAIN, &ds), DEIT_E_IO,
                    "no-such-dir: cannot open: No such file or directory");
  assert_null(ds);
  const char* empty = make_dir("empty-dir");
  assert_status_msg(deit_dataset_open_dir(empty, DEIT_SPLIT_TEST, &ds), DEIT_E_IO,
                    "empty-dir: no IDX (train-images-idx3-ubyte[.gz]), CIFAR (data_batch_1.bin, train.bin) or "
                    "image class folders found");
  const char* file = deit_test_path("a-plain-file");
  deit_test_write_file(file, "x", 1);
  assert_status_msg(deit_dataset_open_dir(file, DEIT_SPLIT_TRAIN, &ds), DEIT_E_IO,
                    "a-plain-file: not a directory");
  assert_status_msg(deit_dataset_open_dir(empty, (deit_split)2, &ds), DEIT_E_INVALID_ARG,
                    "split 2 is not a deit_split");
  assert_status_msg(deit_dataset_open_dir(empty, (deit_split)-1, &ds), DEIT_E_INVALID_ARG, "split -1");
  assert_null(ds);
}

/* ------------------------------------------------------------------------ */
/* CIFAR                                                                    */
/* ------------------------------------------------------------------------ */

static void check_cifar_pixels(const deit_dataset* ds, int64_t index, int record) {
  static uint8_t px[3072];
  assert_ok(deit_dataset_copy_images(ds, index, 1, px, sizeof px));
  for (int j = 0; j < 3072; ++j) assert_int_equal(px[j], cifar_pixel(record, j));
}

static void test_cifar10(void** state) {
  (void)state;
  const uint8_t a[3] = {3, 9, 0}, b[2] = {9, 5};
  const char *p1 = deit_test_path("c10-a.bin"), *p2 = deit_test_path("c10-b.bin");
  write_cifar(p1, 3, 0, 0, a);
  write_cifar(p2, 2, 3, 0, b);
  const char* paths[2] = {p1, p2};
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_open_cifar(paths, 2, 10, &ds));
  assert_info(ds, 5, 3, 32, 32, 10, DEIT_DTYPE_U8, DEIT_FORMAT_CIFAR10);
  const int32_t labels[5] = {3, 9, 0, 9, 5};
  assert_labels(ds, labels, 5);
  int64_t hist[10];
  assert_ok(deit_dataset_label_histogram(ds, hist, 10));
  const int64_t expected[10] = {1, 0, 0, 1, 0, 1, 0, 0, 0, 2};
  for (int k = 0; k < 10; ++k) assert_int_equal(hist[k], expected[k]);
  check_cifar_pixels(ds, 0, 0);
  check_cifar_pixels(ds, 2, 2);
  check_cifar_pixels(ds, 4, 4); /* second file, in order */
  deit_dataset_free(ds);
}

static void test_cifar100(void** state) {
  (void)state;
  const uint8_t fine[4] = {99, 0, 42, 17};
  const char* p = deit_test_path("c100.bin");
  write_cifar(p, 4, 0, 1, fine);
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_open_cifar(&p, 1, 100, &ds));
  assert_info(ds, 4, 3, 32, 32, 100, DEIT_DTYPE_U8, DEIT_FORMAT_CIFAR100);
  const int32_t labels[4] = {99, 0, 42, 17}; /* the fine labels, not the coarse ones */
  assert_labels(ds, labels, 4);
  check_cifar_pixels(ds, 3, 3);
  int64_t hist[100];
  assert_ok(deit_dataset_label_histogram(ds, hist, 100));
  assert_int_equal(hist[99], 1);
  assert_int_equal(hist[19], 0); /* a coarse label value */
  deit_dataset_free(ds);
}

static void test_open_dir_cifar(void** state) {
  (void)state;
  /* CIFAR-10 inside cifar-10-batches-bin/, as the tarball unpacks. */
  const char* top = make_dir("c10dir");
  char sub[1500];
  format_path(sub, "%s/cifar-10-batches-bin", top);
  assert_int_equal(mkdir(sub, 0755), 0);
  const uint8_t l[2] = {1, 2};
  for (int i = 1; i <= 5; ++i) {
    char name[32];
    format_path(name, "data_batch_%d.bin", i);
    write_cifar(join(sub, name), 2, 2 * (i - 1), 0, l);
  }
  write_cifar(join(sub, "test_batch.bin"), 1, 0, 0, l);
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_open_dir(top, DEIT_SPLIT_TRAIN, &ds));
  assert_info(ds, 10, 3, 32, 32, 10, DEIT_DTYPE_U8, DEIT_FORMAT_CIFAR10);
  check_cifar_pixels(ds, 9, 9);
  deit_dataset_free(ds);
  assert_ok(deit_dataset_open_dir(top, DEIT_SPLIT_TEST, &ds));
  assert_info(ds, 1, 3, 32, 32, 10, DEIT_DTYPE_U8, DEIT_FORMAT_CIFAR10);
  deit_dataset_free(ds);
  /* Directly in the directory too; a missing batch is named. */
  assert_ok(deit_dataset_open_dir(sub, DEIT_SPLIT_TRAIN, &ds));
  deit_dataset_free(ds);
  assert_int_equal(remove(join(sub, "data_batch_4.bin")), 0);
  assert_status_msg(deit_dataset_open_dir(top, DEIT_SPLIT_TRAIN, &ds), DEIT_E_IO,
                    "data_batch_4.bin: cannot open: No such file or directory");

  /* CIFAR-100 directly in the directory and inside cifar-100-binary/. */
  const char* c100 = make_dir("c100dir");
  const uint8_t fine[3] = {7, 70, 99};
  write_cifar(join(c100, "train.bin"), 3, 0, 1, fine);
  write_cifar(join(c100, "test.bin"), 1, 0, 1, fine);
  assert_ok(deit_dataset_open_dir(c100, DEIT_SPLIT_TRAIN, &ds));
  assert_info(ds, 3, 3, 32, 32, 100, DEIT_DTYPE_U8, DEIT_FORMAT_CIFAR100);
  const int32_t expected[3] = {7, 70, 99};
  assert_labels(ds, expected, 3);
  deit_dataset_free(ds);
  const char* c100top = make_dir("c100top");
  char bin[1500];
  format_path(bin, "%s/cifar-100-binary", c100top);
  assert_int_equal(mkdir(bin, 0755), 0);
  write_cifar(join(bin, "test.bin"), 2, 0, 1, fine);
  assert_ok(deit_dataset_open_dir(c100top, DEIT_SPLIT_TEST, &ds));
  assert_info(ds, 2, 3, 32, 32, 100, DEIT_DTYPE_U8, DEIT_FORMAT_CIFAR100);
  deit_dataset_free(ds);
  assert_status_msg(deit_dataset_open_dir(c100top, DEIT_SPLIT_TRAIN, &ds), DEIT_E_IO,
                    "train.bin: cannot open");
}

static void test_cifar_errors(void** state) {
  (void)state;
  const uint8_t l[3] = {1, 2, 3};
  size_t s;
  uint8_t* b = cifar_records(3, 0, 0, l, &s);
  deit_dataset* ds = (deit_dataset*)&g_sentinel;
  /* Not a whole number of records. */
  const char* p = deit_test_path("cerr-size.bin");
  deit_test_write_file(p, b, s - 1);
  assert_status_msg(
      deit_dataset_open_cifar(&p, 1, 10, &ds), DEIT_E_FORMAT,
      "cerr-size.bin: size 9218 bytes is not a positive multiple of the CIFAR-10 record size 3073");
  assert_null(ds);
  /* A CIFAR-10 file read as CIFAR-100. */
  deit_test_write_file(p, b, s);
  assert_status_msg(deit_dataset_open_cifar(&p, 1, 100, &ds), DEIT_E_FORMAT, "CIFAR-100 record size 3074");
  /* Empty. */
  p = deit_test_path("cerr-empty.bin");
  deit_test_write_file(p, b, 0);
  assert_status_msg(deit_dataset_open_cifar(&p, 1, 10, &ds), DEIT_E_FORMAT,
                    "cerr-empty.bin: size 0 bytes is not a positive multiple");
  /* A label out of range, in the second file: the file and record are named. */
  const char* good = deit_test_path("cerr-good.bin");
  deit_test_write_file(good, b, s);
  b[2 * 3073] = 10;
  p = deit_test_path("cerr-label.bin");
  deit_test_write_file(p, b, s);
  const char* two[2] = {good, p};
  assert_status_msg(deit_dataset_open_cifar(two, 2, 10, &ds), DEIT_E_FORMAT,
                    "cerr-label.bin: record 2 has label 10, outside [0, 10) for CIFAR-10");
  free(b);
  /* CIFAR-100: fine label 100, coarse label 20. */
  const uint8_t fine[2] = {5, 6};
  b = cifar_records(2, 0, 1, fine, &s);
  b[3074 + 1] = 100;
  p = deit_test_path("cerr-fine.bin");
  deit_test_write_file(p, b, s);
  assert_status_msg(deit_dataset_open_cifar(&p, 1, 100, &ds), DEIT_E_FORMAT,
                    "cerr-fine.bin: record 1 has label 100, outside [0, 100) for CIFAR-100");
  b[3074 + 1] = 6;
  b[0] = 20;
  deit_test_write_file(p, b, s);
  assert_status_msg(deit_dataset_open_cifar(&p, 1, 100, &ds), DEIT_E_FORMAT, "record 0 has coarse label 20");
  free(b);
  /* Arguments. */
  assert_status_msg(deit_dataset_open_cifar(&good, 1, 20, &ds), DEIT_E_INVALID_ARG,
                    "num_classes 20 is neither 10 (CIFAR-10) nor 100 (CIFAR-100)");
  assert_status_msg(deit_dataset_open_cifar(&good, 1, 0, &ds), DEIT_E_INVALID_ARG, "num_classes 0");
  assert_status_msg(deit_dataset_open_cifar(&good, 0, 10, &ds), DEIT_E_INVALID_ARG, "n_paths is 0");
  const char* with_null[2] = {good, NULL};
  assert_status_msg(deit_dataset_open_cifar(with_null, 2, 10, &ds), DEIT_E_INVALID_ARG, "paths[1] is NULL");
  const char* missing = deit_test_path("cerr-missing.bin");
  assert_status_msg(deit_dataset_open_cifar(&missing, 1, 10, &ds), DEIT_E_IO,
                    "cerr-missing.bin: cannot open");
  assert_null(ds);
}

/* ------------------------------------------------------------------------ */
/* Caller buffers                                                           */
/* ------------------------------------------------------------------------ */

static void test_from_memory_nchw(void** state) {
  (void)state;
  uint8_t px[3 * 2 * 2 * 2];
  for (int i = 0; i < 24; ++i) px[i] = (uint8_t)(i * 10);
  int64_t labels[3] = {1, 0, 1};
  deit_images im = {px, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, 3, 2, 2, 2};
  deit_dataset* ds = NULL;
  /* num_classes 0: max label + 1. */
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I64, 0, &ds));
  assert_info(ds, 3, 2, 2, 2, 2, DEIT_DTYPE_U8, DEIT_FORMAT_MEMORY);
  /* The data set owns a copy: changing the caller's buffers changes nothing. */
  memset(px, 0, sizeof px);
  labels[0] = 7;
  uint8_t out[24];
  assert_ok(deit_dataset_copy_images(ds, 0, 3, out, sizeof out));
  for (int i = 0; i < 24; ++i) assert_int_equal(out[i], (uint8_t)(i * 10));
  const int32_t expected[3] = {1, 0, 1};
  assert_labels(ds, expected, 3);
  deit_dataset_free(ds);
  /* An explicit num_classes larger than the labels need. */
  const int32_t l32[3] = {1, 0, 1};
  assert_ok(deit_dataset_from_memory(&im, l32, DEIT_DTYPE_I32, 10, &ds));
  assert_info(ds, 3, 2, 2, 2, 10, DEIT_DTYPE_U8, DEIT_FORMAT_MEMORY);
  int64_t hist[10];
  assert_ok(deit_dataset_label_histogram(ds, hist, 10));
  assert_int_equal(hist[0], 1);
  assert_int_equal(hist[1], 2);
  assert_int_equal(hist[9], 0);
  deit_dataset_free(ds);
}

static void test_from_memory_nhwc(void** state) {
  (void)state;
  enum { N = 2, H = 2, W = 3, C = 3 };
  uint8_t nhwc[N * H * W * C];
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w)
        for (int c = 0; c < C; ++c)
          nhwc[((n * H + h) * W + w) * C + c] = (uint8_t)(100 * n + 30 * c + 4 * h + w);
  const int32_t labels[N] = {0, 1};
  deit_images im = {nhwc, DEIT_DTYPE_U8, DEIT_LAYOUT_NHWC, N, C, H, W};
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 2, &ds));
  assert_info(ds, N, C, H, W, 2, DEIT_DTYPE_U8, DEIT_FORMAT_MEMORY);
  uint8_t nchw[N * C * H * W];
  assert_ok(deit_dataset_copy_images(ds, 0, N, nchw, sizeof nchw));
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w)
          assert_int_equal(nchw[((n * C + c) * H + h) * W + w], 100 * n + 30 * c + 4 * h + w);
  deit_dataset_free(ds);
}

static void test_from_memory_f32(void** state) {
  (void)state;
  float px[2 * 1 * 2 * 2] = {-1.5f, 0.f, 0.25f, 3e6f, 1.f, 2.f, 3.f, 4.f};
  const int32_t labels[2] = {4, 2};
  deit_images im = {px, DEIT_DTYPE_F32, DEIT_LAYOUT_NCHW, 2, 1, 2, 2};
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 0, &ds));
  assert_info(ds, 2, 1, 2, 2, 5, DEIT_DTYPE_F32, DEIT_FORMAT_MEMORY);
  float out[8];
  assert_status_msg(deit_dataset_copy_images(ds, 0, 2, out, 8 * sizeof(float) - 1), DEIT_E_BUFFER_TOO_SMALL,
                    "needs 32");
  assert_ok(deit_dataset_copy_images(ds, 0, 2, out, sizeof out));
  assert_memory_equal(out, px, sizeof px);
  assert_ok(deit_dataset_copy_images(ds, 1, 1, out, 4 * sizeof(float)));
  assert_memory_equal(out, px + 4, 4 * sizeof(float));
  deit_dataset_free(ds);
}

static void test_from_memory_errors(void** state) {
  (void)state;
  uint8_t px[16] = {0};
  float fpx[16] = {0};
  int32_t labels[4] = {0, 1, 2, 3};
  deit_dataset* ds = (deit_dataset*)&g_sentinel;
  deit_images im = {px, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, 4, 1, 2, 2};
  deit_images bad;

  assert_status_msg(deit_dataset_from_memory(NULL, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "images is NULL");
  assert_null(ds);
  assert_status_msg(deit_dataset_from_memory(&im, NULL, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "labels is NULL");
  bad = im;
  bad.data = NULL;
  assert_status_msg(deit_dataset_from_memory(&bad, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "images->data is NULL");
  bad = im;
  bad.count = 0;
  assert_status_msg(deit_dataset_from_memory(&bad, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "images->count is 0; expected at least 1");
  bad.count = -3;
  assert_status_msg(deit_dataset_from_memory(&bad, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "images->count is -3");
  bad = im;
  bad.channels = 0;
  assert_status_msg(deit_dataset_from_memory(&bad, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "images dimensions 4 x 0 x 2 x 2: channels, height and width must be at least 1");
  bad = im;
  bad.height = -1;
  assert_status_msg(deit_dataset_from_memory(&bad, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "4 x 1 x -1 x 2");
  bad = im;
  bad.width = 0;
  assert_status_msg(deit_dataset_from_memory(&bad, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "must be at least 1");
  /* Sizes that overflow: checked before anything is read. */
  bad = im;
  bad.count = INT64_MAX / 2;
  bad.channels = 3;
  bad.height = 1 << 20;
  bad.width = 1 << 20;
  assert_status_msg(deit_dataset_from_memory(&bad, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "overflow a 64-bit size");
  /* NHWC is for uint8 only. */
  deit_images fim = {fpx, DEIT_DTYPE_F32, DEIT_LAYOUT_NHWC, 4, 1, 2, 2};
  assert_status_msg(deit_dataset_from_memory(&fim, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "NHWC is only supported for DEIT_DTYPE_U8");
  bad = im;
  bad.dtype = DEIT_DTYPE_I32;
  assert_status_msg(deit_dataset_from_memory(&bad, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "images->dtype 2 is not DEIT_DTYPE_U8 or DEIT_DTYPE_F32");
  bad = im;
  bad.layout = (deit_layout)5;
  assert_status_msg(deit_dataset_from_memory(&bad, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "images->layout 5");
  /* Label dtype. */
  assert_status_msg(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_U8, 0, &ds), DEIT_E_INVALID_ARG,
                    "label_dtype 0 is not DEIT_DTYPE_I32 or DEIT_DTYPE_I64");
  assert_status_msg(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_F32, 0, &ds), DEIT_E_INVALID_ARG,
                    "label_dtype 1");
  assert_status_msg(deit_dataset_from_memory(&im, labels, (deit_dtype)42, 0, &ds), DEIT_E_INVALID_ARG,
                    "label_dtype 42");
  /* Label values. */
  labels[2] = -1;
  assert_status_msg(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 0, &ds), DEIT_E_INVALID_ARG,
                    "labels[2] = -1 is negative");
  const int64_t l64[4] = {0, 1, 2, -5};
  assert_status_msg(deit_dataset_from_memory(&im, l64, DEIT_DTYPE_I64, 10, &ds), DEIT_E_INVALID_ARG,
                    "labels[3] = -5 is negative");
  labels[2] = 2;
  assert_status_msg(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 3, &ds), DEIT_E_INVALID_ARG,
                    "labels[3] = 3 is outside [0, 3)");
  const int64_t huge[4] = {0, INT64_C(1) << 40, 0, 0};
  assert_status_msg(deit_dataset_from_memory(&im, huge, DEIT_DTYPE_I64, 0, &ds), DEIT_E_INVALID_ARG,
                    "labels[1] = 1099511627776 is too large");
  assert_status_msg(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, -2, &ds), DEIT_E_INVALID_ARG,
                    "num_classes -2 is negative");
  assert_null(ds);
  assert_status_msg(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 0, NULL), DEIT_E_INVALID_ARG,
                    "out is NULL");
  /* And the valid call still works. */
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 4, &ds));
  deit_dataset_free(ds);
}

/* ------------------------------------------------------------------------ */
/* Info, histogram, copies                                                  */
/* ------------------------------------------------------------------------ */

static deit_dataset* small_memory_set(int64_t n) {
  /* n images of 1x2x2 whose first pixel is the image index; label = index % 4. */
  uint8_t* px = calloc((size_t)n * 4, 1);
  int32_t* labels = malloc((size_t)n * sizeof(int32_t));
  assert_non_null(px);
  assert_non_null(labels);
  for (int64_t i = 0; i < n; ++i) {
    px[i * 4] = (uint8_t)i;
    px[i * 4 + 1] = (uint8_t)(255 - i);
    labels[i] = (int32_t)(i % 4);
  }
  deit_images im = {px, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, n, 1, 2, 2};
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 4, &ds));
  free(px);
  free(labels);
  return ds;
}

static void test_info_struct_size(void** state) {
  (void)state;
  deit_dataset* ds = small_memory_set(6);
  deit_dataset_info info;
  memset(&info, 0, sizeof info);
  assert_status_msg(deit_dataset_get_info(ds, &info), DEIT_E_INVALID_ARG, "info->struct_size is 0");
  info.struct_size = 8;
  assert_status_msg(deit_dataset_get_info(ds, &info), DEIT_E_INVALID_ARG,
                    "info->struct_size 8 is smaller than the first released layout");
  assert_status_msg(deit_dataset_get_info(NULL, &info), DEIT_E_INVALID_ARG, "dataset is NULL");
  assert_status_msg(deit_dataset_get_info(ds, NULL), DEIT_E_INVALID_ARG, "info is NULL");
  /* A newer caller's larger struct: the known fields are filled, the rest left alone. */
  struct {
    deit_dataset_info info;
    unsigned char future[16];
  } big;
  memset(&big, 0xab, sizeof big);
  big.info.struct_size = sizeof big;
  assert_ok(deit_dataset_get_info(ds, &big.info));
  assert_int_equal(big.info.count, 6);
  assert_int_equal(big.info.num_classes, 4);
  assert_int_equal(big.info.format, DEIT_FORMAT_MEMORY);
  for (size_t i = 0; i < sizeof big.future; ++i) assert_int_equal(big.future[i], 0xab);
  deit_dataset_free(ds);
}

static void test_histogram_and_capacity(void** state) {
  (void)state;
  deit_dataset* ds = small_memory_set(10);
  int64_t hist[5] = {-1, -1, -1, -1, -1};
  assert_status_msg(deit_dataset_label_histogram(ds, hist, 3), DEIT_E_BUFFER_TOO_SMALL,
                    "capacity 3 elements is too small for 4 classes");
  assert_int_equal(hist[0], -1); /* nothing written */
  assert_ok(deit_dataset_label_histogram(ds, hist, 5));
  assert_int_equal(hist[0], 3);
  assert_int_equal(hist[1], 3);
  assert_int_equal(hist[2], 2);
  assert_int_equal(hist[3], 2);
  assert_int_equal(hist[4], -1); /* only num_classes entries */
  assert_status_msg(deit_dataset_label_histogram(NULL, hist, 5), DEIT_E_INVALID_ARG, "dataset is NULL");
  assert_status_msg(deit_dataset_label_histogram(ds, NULL, 5), DEIT_E_INVALID_ARG, "counts is NULL");

  uint8_t px[40];
  int32_t lb[10];
  memset(px, 0x5a, sizeof px);
  assert_status_msg(deit_dataset_copy_images(ds, 0, 10, px, 39), DEIT_E_BUFFER_TOO_SMALL,
                    "capacity 39 bytes is too small for 10 images (needs 40)");
  assert_int_equal(px[0], 0x5a);
  assert_status_msg(deit_dataset_copy_labels(ds, 2, 5, lb, 4), DEIT_E_BUFFER_TOO_SMALL,
                    "capacity 4 elements is too small for 5 labels (needs 5)");
  assert_ok(deit_dataset_copy_images(ds, 0, 10, px, 40));
  for (int i = 0; i < 10; ++i) assert_int_equal(px[i * 4], i);
  assert_ok(deit_dataset_copy_labels(ds, 2, 5, lb, 5));
  for (int i = 0; i < 5; ++i) assert_int_equal(lb[i], (2 + i) % 4);
  deit_dataset_free(ds);
}

static void test_copy_ranges(void** state) {
  (void)state;
  deit_dataset* ds = small_memory_set(10);
  uint8_t px[64];
  int32_t lb[16];
  assert_status_msg(deit_dataset_copy_images(ds, -1, 1, px, sizeof px), DEIT_E_INVALID_ARG,
                    "range start -1, count 1 is outside the data set's 10 images");
  assert_status_msg(deit_dataset_copy_images(ds, 0, -1, px, sizeof px), DEIT_E_INVALID_ARG, "count -1");
  assert_status_msg(deit_dataset_copy_images(ds, 8, 3, px, sizeof px), DEIT_E_INVALID_ARG,
                    "start 8, count 3");
  assert_status_msg(deit_dataset_copy_images(ds, 11, 0, px, sizeof px), DEIT_E_INVALID_ARG, "start 11");
  assert_status_msg(deit_dataset_copy_images(ds, 5, INT64_MAX, px, sizeof px), DEIT_E_INVALID_ARG, "outside");
  assert_status_msg(deit_dataset_copy_labels(ds, INT64_MAX, 2, lb, 16), DEIT_E_INVALID_ARG, "outside");
  assert_status_msg(deit_dataset_copy_labels(ds, -2, 1, lb, 16), DEIT_E_INVALID_ARG, "start -2");
  assert_status_msg(deit_dataset_copy_labels(ds, 9, 2, lb, 16), DEIT_E_INVALID_ARG, "start 9, count 2");
  /* Empty ranges are fine, at either end. */
  assert_ok(deit_dataset_copy_images(ds, 10, 0, px, 0));
  assert_ok(deit_dataset_copy_labels(ds, 0, 0, lb, 0));
  assert_ok(deit_dataset_copy_images(ds, 9, 1, px, 4));
  assert_int_equal(px[0], 9);
  deit_dataset_free(ds);
}

/* ------------------------------------------------------------------------ */
/* Subsets                                                                  */
/* ------------------------------------------------------------------------ */

/* First pixel of every image (= its index in small_memory_set). */
static void image_ids(const deit_dataset* ds, int64_t n, uint8_t* ids) {
  uint8_t px[4 * 256];
  assert_true(n <= 256);
  assert_ok(deit_dataset_copy_images(ds, 0, n, px, sizeof px));
  for (int64_t i = 0; i < n; ++i) ids[i] = px[i * 4];
}

static void test_subset_fraction(void** state) {
  (void)state;
  deit_dataset* ds = small_memory_set(100);
  deit_dataset *a = NULL, *b = NULL, *c = NULL;
  assert_ok(deit_dataset_subset_fraction(ds, 0.25, 7, &a));
  assert_ok(deit_dataset_subset_fraction(ds, 0.25, 7, &b));
  assert_ok(deit_dataset_subset_fraction(ds, 0.25, 8, &c));
  assert_info(a, 25, 1, 2, 2, 4, DEIT_DTYPE_U8, DEIT_FORMAT_MEMORY);
  uint8_t ia[100], ib[100], ic[100];
  image_ids(a, 25, ia);
  image_ids(b, 25, ib);
  image_ids(c, 25, ic);
  /* Same seed, same subset; another seed, another one. */
  assert_memory_equal(ia, ib, 25);
  assert_memory_not_equal(ia, ic, 25);
  /* Images keep their labels, and no image is picked twice. */
  int32_t la[25];
  assert_ok(deit_dataset_copy_labels(a, 0, 25, la, 25));
  int seen[100] = {0};
  for (int i = 0; i < 25; ++i) {
    assert_int_equal(la[i], ia[i] % 4);
    assert_int_equal(seen[ia[i]]++, 0);
  }
  /* A larger fraction with the same seed extends the smaller one. */
  deit_dataset_free(b);
  assert_ok(deit_dataset_subset_fraction(ds, 0.5, 7, &b));
  image_ids(b, 50, ib);
  assert_memory_equal(ia, ib, 25);
  deit_dataset_free(a);
  deit_dataset_free(b);
  deit_dataset_free(c);

  /* round(fraction * count), at least 1; fraction 1 is a shuffled copy. */
  assert_ok(deit_dataset_subset_fraction(ds, 0.126, 1, &a)); /* 12.6 -> 13 */
  assert_int_equal(info_of(a).count, 13);
  deit_dataset_free(a);
  assert_ok(deit_dataset_subset_fraction(ds, 1e-9, 1, &a));
  assert_int_equal(info_of(a).count, 1);
  deit_dataset_free(a);
  assert_ok(deit_dataset_subset_fraction(ds, 1.0, 3, &a));
  assert_int_equal(info_of(a).count, 100);
  image_ids(a, 100, ia);
  memset(seen, 0, sizeof seen);
  int moved = 0;
  for (int i = 0; i < 100; ++i) {
    assert_int_equal(seen[ia[i]]++, 0);
    moved += ia[i] != i;
  }
  assert_true(moved > 50);
  deit_dataset_free(a);

  a = (deit_dataset*)&g_sentinel;
  assert_status_msg(deit_dataset_subset_fraction(ds, 0.0, 1, &a), DEIT_E_INVALID_ARG, "is outside (0, 1]");
  assert_null(a);
  assert_status_msg(deit_dataset_subset_fraction(ds, -0.5, 1, &a), DEIT_E_INVALID_ARG, "fraction -0.5");
  assert_status_msg(deit_dataset_subset_fraction(ds, 1.01, 1, &a), DEIT_E_INVALID_ARG, "fraction 1.01");
  assert_status_msg(deit_dataset_subset_fraction(ds, NAN, 1, &a), DEIT_E_INVALID_ARG, "outside (0, 1]");
  assert_status_msg(deit_dataset_subset_fraction(NULL, 0.5, 1, &a), DEIT_E_INVALID_ARG, "dataset is NULL");
  assert_status_msg(deit_dataset_subset_fraction(ds, 0.5, 1, NULL), DEIT_E_INVALID_ARG, "out is NULL");
  deit_dataset_free(ds);
}

static void test_subset_first(void** state) {
  (void)state;
  deit_dataset* ds = small_memory_set(10);
  deit_dataset* s = NULL;
  assert_ok(deit_dataset_subset_first(ds, 3, &s));
  assert_info(s, 3, 1, 2, 2, 4, DEIT_DTYPE_U8, DEIT_FORMAT_MEMORY);
  uint8_t ids[10];
  image_ids(s, 3, ids);
  for (int i = 0; i < 3; ++i) assert_int_equal(ids[i], i);
  const int32_t expected[3] = {0, 1, 2};
  assert_labels(s, expected, 3);
  /* num_classes stays that of the parent even when the subset lacks classes. */
  deit_dataset_free(s);
  assert_ok(deit_dataset_subset_first(ds, 1, &s));
  assert_int_equal(info_of(s).num_classes, 4);
  deit_dataset_free(s);
  assert_ok(deit_dataset_subset_first(ds, 1000, &s));
  assert_int_equal(info_of(s).count, 10);
  deit_dataset_free(s);
  s = (deit_dataset*)&g_sentinel;
  assert_status_msg(deit_dataset_subset_first(ds, 0, &s), DEIT_E_INVALID_ARG,
                    "n is 0; a subset needs at least 1");
  assert_null(s);
  assert_status_msg(deit_dataset_subset_first(ds, -4, &s), DEIT_E_INVALID_ARG, "n is -4");
  assert_status_msg(deit_dataset_subset_first(NULL, 1, &s), DEIT_E_INVALID_ARG, "dataset is NULL");
  assert_status_msg(deit_dataset_subset_first(ds, 1, NULL), DEIT_E_INVALID_ARG, "out is NULL");
  /* A subset of a subset. */
  deit_dataset *s1 = NULL, *s2 = NULL;
  assert_ok(deit_dataset_subset_first(ds, 6, &s1));
  assert_ok(deit_dataset_subset_fraction(s1, 0.5, 2, &s2));
  assert_int_equal(info_of(s2).count, 3);
  image_ids(s2, 3, ids);
  for (int i = 0; i < 3; ++i) assert_true(ids[i] < 6);
  deit_dataset_free(s1);
  deit_dataset_free(s2);
  deit_dataset_free(ds);
}

/* ------------------------------------------------------------------------ */
/* NULL handles and out-parameters                                          */
/* ------------------------------------------------------------------------ */

static void test_null_arguments(void** state) {
  (void)state;
  const char *gi = deit_test_path("null-images"), *gl = deit_test_path("null-labels");
  write_idx_pair(gi, gl, 5, 3, 4, kIdxLabels, 0, 0);
  deit_dataset* ds = (deit_dataset*)&g_sentinel;
  assert_status_msg(deit_dataset_open_dir(NULL, DEIT_SPLIT_TRAIN, &ds), DEIT_E_INVALID_ARG,
                    "deit_dataset_open_dir: dir is NULL");
  assert_null(ds);
  assert_status_msg(deit_dataset_open_dir(deit_test_dir(), DEIT_SPLIT_TRAIN, NULL), DEIT_E_INVALID_ARG,
                    "out is NULL");
  ds = (deit_dataset*)&g_sentinel;
  assert_status_msg(deit_dataset_open_idx(NULL, gl, &ds), DEIT_E_INVALID_ARG,
                    "deit_dataset_open_idx: images_path is NULL");
  assert_null(ds);
  assert_status_msg(deit_dataset_open_idx(gi, NULL, &ds), DEIT_E_INVALID_ARG, "labels_path is NULL");
  assert_status_msg(deit_dataset_open_idx(gi, gl, NULL), DEIT_E_INVALID_ARG, "out is NULL");
  ds = (deit_dataset*)&g_sentinel;
  assert_status_msg(deit_dataset_open_cifar(NULL, 1, 10, &ds), DEIT_E_INVALID_ARG,
                    "deit_dataset_open_cifar: paths is NULL");
  assert_null(ds);
  assert_status_msg(deit_dataset_open_cifar(&gi, 1, 10, NULL), DEIT_E_INVALID_ARG, "out is NULL");
  /* from_memory, get_info, histogram, subsets: covered by their own tests. */
  deit_dataset* real = NULL;
  assert_ok(deit_dataset_open_idx(gi, gl, &real));
  uint8_t px[12];
  int32_t lb[1];
  assert_status_msg(deit_dataset_copy_images(NULL, 0, 1, px, sizeof px), DEIT_E_INVALID_ARG,
                    "deit_dataset_copy_images: dataset is NULL");
  assert_status_msg(deit_dataset_copy_images(real, 0, 1, NULL, sizeof px), DEIT_E_INVALID_ARG, "buf is NULL");
  assert_status_msg(deit_dataset_copy_labels(NULL, 0, 1, lb, 1), DEIT_E_INVALID_ARG,
                    "deit_dataset_copy_labels: dataset is NULL");
  assert_status_msg(deit_dataset_copy_labels(real, 0, 1, NULL, 1), DEIT_E_INVALID_ARG, "buf is NULL");
  deit_dataset_free(real);
  deit_dataset_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idx_raw),
      cmocka_unit_test(test_idx_gz),
      cmocka_unit_test(test_idx_gz_multi_member),
      cmocka_unit_test(test_idx_wrong_magic),
      cmocka_unit_test(test_idx_bad_dtype),
      cmocka_unit_test(test_idx_truncated),
      cmocka_unit_test(test_idx_bad_dims),
      cmocka_unit_test(test_idx_trailing_bytes),
      cmocka_unit_test(test_idx_count_mismatch),
      cmocka_unit_test(test_idx_empty),
      cmocka_unit_test(test_idx_missing),
      cmocka_unit_test(test_gz_corrupt),
      cmocka_unit_test(test_open_dir_idx),
      cmocka_unit_test(test_open_dir_errors),
      cmocka_unit_test(test_cifar10),
      cmocka_unit_test(test_cifar100),
      cmocka_unit_test(test_open_dir_cifar),
      cmocka_unit_test(test_cifar_errors),
      cmocka_unit_test(test_from_memory_nchw),
      cmocka_unit_test(test_from_memory_nhwc),
      cmocka_unit_test(test_from_memory_f32),
      cmocka_unit_test(test_from_memory_errors),
      cmocka_unit_test(test_info_struct_size),
      cmocka_unit_test(test_histogram_and_capacity),
      cmocka_unit_test(test_copy_ranges),
      cmocka_unit_test(test_subset_fraction),
      cmocka_unit_test(test_subset_first),
      cmocka_unit_test(test_null_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
