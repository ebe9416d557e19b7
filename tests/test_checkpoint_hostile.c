/* Hostile and foreign safetensors files through every C API entry point that
 * reads one (deit_student_load, deit_teacher_load, deit_teacher_load_weights,
 * deit_checkpoint_describe): each must answer with a status and a message
 * naming the fault, without crashing and without allocating what the file
 * merely claims.  Truncated and bit-flipped checkpoints, student-vs-teacher
 * kinds and ResNet-50-vs-18 weights are in test_models.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_support.h"

/* ------------------------------------------------------------------------ */
/* File builders                                                            */
/* ------------------------------------------------------------------------ */

/* 8-byte little-endian length, then the header as given, then `data`. */
static void write_st_prefix(const char* path, uint64_t header_len_field, const char* header,
                            size_t header_size, const void* data, size_t data_size) {
  size_t size = 8 + header_size + data_size;
  uint8_t* b = malloc(size);
  assert_non_null(b);
  for (int k = 0; k < 8; ++k) b[k] = (uint8_t)(header_len_field >> (8 * k));
  memcpy(b + 8, header, header_size);
  if (data_size) memcpy(b + 8 + header_size, data, data_size);
  deit_test_write_file(path, b, size);
  free(b);
}

/* A well-framed safetensors file: the length field matches the header. */
static const char* write_st(const char* name, const char* header, size_t data_size) {
  const char* path = deit_test_path(name);
  uint8_t* data = calloc(data_size ? data_size : 1, 1);
  assert_non_null(data);
  write_st_prefix(path, strlen(header), header, strlen(header), data, data_size);
  free(data);
  return path;
}

static uint8_t* read_whole(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n > 0);
  assert_int_equal(fseek(f, 0, SEEK_SET), 0);
  uint8_t* b = malloc((size_t)n);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *size = (size_t)n;
  return b;
}

/* Copies the checkpoint `src` to `dst` with `from` replaced by `to` in its
 * JSON header (the metadata), re-framing the header length.  Fails the test
 * when `from` is not in the header, so a changed metadata layout is noticed. */
static void rewrite_header(const char* src, const char* dst, const char* from, const char* to) {
  size_t size = 0;
  uint8_t* b = read_whole(src, &size);
  uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | b[k];
  assert_true(n <= size - 8);
  char* header = malloc(n + 1);
  assert_non_null(header);
  memcpy(header, b + 8, n);
  header[n] = '\0';
  char* at = strstr(header, from);
  if (!at) fail_msg("%s: header has no \"%s\"", src, from);
  size_t new_n = n - strlen(from) + strlen(to);
  char* out = malloc(new_n + 1);
  assert_non_null(out);
  size_t head = (size_t)(at - header);
  memcpy(out, header, head);
  memcpy(out + head, to, strlen(to));
  memcpy(out + head + strlen(to), at + strlen(from), n - head - strlen(from));
  write_st_prefix(dst, new_n, out, new_n, b + 8 + n, size - 8 - n);
  free(out);
  free(header);
  free(b);
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                 */
/* ------------------------------------------------------------------------ */

enum { CLASSES = 2 };

static deit_teacher* g_target;    /* resnet18, receives deit_teacher_load_weights */
static char g_student_ckpt[1200]; /* a tiny valid student checkpoint */
static char g_teacher_ckpt[1200]; /* a valid resnet18 teacher checkpoint */

static int setup(void** state) {
  (void)state;
  assert_ok(deit_set_num_threads(2));
  assert_ok(deit_teacher_create("resnet18", CLASSES, &g_target));
  assert_ok(deit_teacher_set_device(g_target, "cpu"));
  snprintf(g_teacher_ckpt, sizeof g_teacher_ckpt, "%s", deit_test_path("teacher.safetensors"));
  assert_ok(deit_teacher_save(g_target, g_teacher_ckpt));

  deit_student_config cfg;
  assert_ok(deit_student_config_init(&cfg, "seed", CLASSES));
  cfg.img_size = 8;
  cfg.patch_size = 4;
  cfg.in_channels = 1;
  cfg.embed_dim = 4;
  cfg.depth = 1;
  cfg.num_heads = 2;
  cfg.mlp_dim = 4;
  deit_student* s = NULL;
  assert_ok(deit_student_create(&cfg, 3, &s));
  snprintf(g_student_ckpt, sizeof g_student_ckpt, "%s", deit_test_path("student.safetensors"));
  assert_ok(deit_student_save(s, g_student_ckpt));
  deit_student_free(s);
  return 0;
}

static int teardown(void** state) {
  (void)state;
  deit_teacher_free(g_target);
  return 0;
}

/* Every reader of `path` answers `expected` with `needle` in its message and
 * hands back no object.  Each of the four entry points is checked on its own. */
static void expect_everywhere(const char* path, deit_status expected, const char* needle) {
  deit_student* s = (deit_student*)&s; /* non-NULL junk: must be reset */
  deit_teacher* t = (deit_teacher*)&t;
  assert_status_msg(deit_student_load(path, &s), expected, needle);
  assert_null(s);
  assert_status_msg(deit_student_load(path, &s), expected, path);
  assert_status_msg(deit_teacher_load(path, &t), expected, needle);
  assert_null(t);
  assert_status_msg(deit_teacher_load_weights(g_target, path), expected, needle);
  char buf[256];
  size_t needed = 12345;
  assert_status_msg(deit_checkpoint_describe(path, buf, sizeof buf, &needed), expected, needle);
  assert_int_equal(needed, 12345); /* untouched on failure */
}

/* ------------------------------------------------------------------------ */
/* Framing: the 8-byte header length                                        */
/* ------------------------------------------------------------------------ */

static void test_header_length_over_limit(void** state) {
  (void)state;
  const char* path = deit_test_path("huge-header.safetensors");
  const char header[] = "{}";
  /* Just over safetensors' 100 MB limit, and the largest u64: neither is allocated. */
  write_st_prefix(path, 100000001u, header, 2, NULL, 0);
  expect_everywhere(path, DEIT_E_FORMAT, "header length 100000001 exceeds the limit of 100000000 bytes");
  write_st_prefix(path, UINT64_MAX, header, 2, NULL, 0);
  expect_everywhere(path, DEIT_E_FORMAT, "header length 18446744073709551615 exceeds the limit");
}

static void test_header_length_past_end(void** state) {
  (void)state;
  const char* path = deit_test_path("short-header.safetensors");
  const char header[] = "{\"a\":{}}";
  write_st_prefix(path, 4096, header, strlen(header), NULL, 0);
  expect_everywhere(path, DEIT_E_FORMAT, "header length 4096 runs past the end of the file (16 bytes)");
  write_st_prefix(path, 0, header, 0, NULL, 0);
  expect_everywhere(path, DEIT_E_FORMAT, "header does not start with '{'");
  deit_test_write_file(path, "\x02\0\0\0", 4);
  expect_everywhere(path, DEIT_E_FORMAT, "file is 4 bytes, too short for a safetensors file");
  deit_test_write_file(path, "", 0);
  expect_everywhere(path, DEIT_E_FORMAT, "file is 0 bytes, too short");
}

static void test_not_a_regular_file(void** state) {
  (void)state;
  expect_everywhere(deit_test_dir(), DEIT_E_IO, "not a regular file");
  expect_everywhere("/dev/zero", DEIT_E_IO, "/dev/zero: not a regular file");
}

/* ------------------------------------------------------------------------ */
/* Tensor entries: offsets, sizes, shapes, dtypes                            */
/* ------------------------------------------------------------------------ */

static void test_offsets_out_of_range(void** state) {
  (void)state;
  const char* p = write_st("range.safetensors",
                           "{\"w\":{\"dtype\":\"F32\",\"shape\":[250],\"data_offsets\":[0,1000]}}", 16);
  expect_everywhere(p, DEIT_E_FORMAT,
                    "tensor 'w': data_offsets [0, 1000] run past the data section (16 bytes)");
  p = write_st("reversed.safetensors", "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,4]}}", 8);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'w': data_offsets [8, 4] are reversed");
  p = write_st("negative.safetensors", "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[-4,0]}}", 8);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'w': 'data_offsets' is not two non-negative integers");
  /* 2^64 + 4 does not fit any integer type: rejected, not wrapped to 4. */
  p = write_st("wrapped.safetensors",
               "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,18446744073709551620]}}", 4);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'w': 'data_offsets' is not two non-negative integers");
}

static void test_overlapping_or_gapped_layout(void** state) {
  (void)state;
  const char* p = write_st("overlap.safetensors",
                           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                           12);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]");
  /* The same bytes under two names is an overlap too (aliasing). */
  p = write_st("alias.safetensors",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
               8);
  expect_everywhere(p, DEIT_E_FORMAT, "overlap tensor 'a' [0, 8]");
  p = write_st("gap.safetensors",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
               12);
  expect_everywhere(p, DEIT_E_FORMAT,
                    "tensor 'b': data_offsets [8, 12] leave a gap: bytes [4, 8] belong to no tensor");
  p = write_st("trailing.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               20);
  expect_everywhere(p, DEIT_E_FORMAT,
                    "bytes [4, 20] at the end of the data section (20 bytes) belong to no tensor");
}

static void test_shape_and_size_disagree(void** state) {
  (void)state;
  const char* p =
      write_st("size.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
  expect_everywhere(p, DEIT_E_FORMAT,
                    "tensor 'w': data_offsets [0, 8] hold 8 bytes, but dtype F32 and shape [3] need 12");
  /* A shape claiming 4 * 10^18 bytes over a 4-byte range: refused before any allocation. */
  p = write_st("claims.safetensors",
               "{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000000,1000000000],\"data_offsets\":[0,4]}}", 4);
  expect_everywhere(p, DEIT_E_FORMAT, "need 4000000000000000000");
  p = write_st("negdim.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'w': 'shape' is not an array of non-negative integers");
  p = write_st("fracdim.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
               4);
  expect_everywhere(p, DEIT_E_FORMAT, "'shape' is not an array of non-negative integers");
}

static void test_shape_product_overflows(void** state) {
  (void)state;
  const char* p =
      write_st("overflow.safetensors",
               "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 0);
  expect_everywhere(p, DEIT_E_FORMAT,
                    "tensor 'w': shape [4294967296, 4294967296, 16] is too large (size overflows 64 bits)");
  /* Element size pushes it over: 2^62 elements of 8 bytes. */
  p = write_st("overflow8.safetensors",
               "{\"w\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0);
  expect_everywhere(p, DEIT_E_FORMAT, "size overflows 64 bits");
  /* Zero elements, but LibTorch's strides for the other dims would overflow int64. */
  p = write_st("emptyhuge.safetensors",
               "{\"w\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904,4611686018427387904],\"data_"
               "offsets\":[0,0]}}",
               0);
  expect_everywhere(p, DEIT_E_FORMAT, "shape [0, 4611686018427387904, 4611686018427387904] is too large");
}

static void test_dtypes(void** state) {
  (void)state;
  const char* p =
      write_st("q7.safetensors", "{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'w': unknown dtype 'Q7'");
  /* A dtype newer safetensors writers use: a valid file this build cannot load. */
  p = write_st("f8.safetensors", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
  expect_everywhere(p, DEIT_E_UNSUPPORTED, "tensor 'w': dtype F8_E4M3 is not supported by libdeit");
  p = write_st("numdtype.safetensors", "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'w': 'dtype' is not a string");
  /* BOOL bytes other than 0/1 would be undefined behaviour in kernels. */
  const char* path = deit_test_path("bool.safetensors");
  const char header[] = "{\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}";
  const uint8_t bools[3] = {1, 0, 2};
  write_st_prefix(path, strlen(header), header, strlen(header), bools, 3);
  expect_everywhere(path, DEIT_E_FORMAT, "tensor 'b': BOOL element 2 is 2, not 0 or 1");
}

static void test_malformed_header(void** state) {
  (void)state;
  const char* p = write_st("notjson.safetensors", "{\"w\": ", 0);
  expect_everywhere(p, DEIT_E_FORMAT, "header is not valid JSON");
  p = write_st("array.safetensors", "[1, 2]", 0);
  expect_everywhere(p, DEIT_E_FORMAT, "header does not start with '{'");
  p = write_st("dup.safetensors",
               "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
               "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
               2);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'w': duplicate name");
  /* Other repeated keys are named by what they repeat, not merged. */
  p = write_st("dup-field.safetensors", "{\"w\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
               1);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'w': field 'dtype' appears twice");
  p = write_st("dup-meta-key.safetensors", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0);
  expect_everywhere(p, DEIT_E_FORMAT, "'__metadata__' key 'a' appears twice");
  p = write_st("dup-meta.safetensors", "{\"__metadata__\":{},\"__metadata__\":{}}", 0);
  expect_everywhere(p, DEIT_E_FORMAT, "'__metadata__' appears twice");
  p = write_st("extra-field.safetensors",
               "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'w': unknown field 'x'");
  p = write_st("nooffsets.safetensors", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1);
  expect_everywhere(p, DEIT_E_FORMAT, "tensor 'w': missing 'data_offsets'");
  p = write_st("meta.safetensors", "{\"__metadata__\":{\"libdeit.kind\":7}}", 0);
  expect_everywhere(p, DEIT_E_FORMAT,
                    "'__metadata__' value of 'libdeit.kind' is a number, expected a string");
  /* 100 000 nested arrays: the parser's depth limit, not the stack, stops it. */
  size_t depth = 100000;
  char* deep = malloc(2 * depth + 8);
  assert_non_null(deep);
  strcpy(deep, "{\"w\":");
  memset(deep + 5, '[', depth);
  deep[5 + depth] = '\0';
  p = write_st("deep.safetensors", deep, 0);
  free(deep);
  expect_everywhere(p, DEIT_E_FORMAT, "header is not valid JSON");
}

/* ------------------------------------------------------------------------ */
/* Valid safetensors files that are not (this) libdeit model                 */
/* ------------------------------------------------------------------------ */

static void test_valid_file_not_a_libdeit_model(void** state) {
  (void)state;
  const char* p = write_st("foreign.safetensors",
                           "{\"__metadata__\":{\"format\":\"pt\"},"
                           "\"linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
                           16);
  deit_student* s = NULL;
  deit_teacher* t = NULL;
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT,
                    "not a libdeit checkpoint (no 'libdeit.kind' in __metadata__)");
  assert_null(s);
  assert_status_msg(deit_teacher_load(p, &t), DEIT_E_FORMAT, "not a libdeit checkpoint");
  assert_null(t);
  assert_status_msg(deit_checkpoint_describe(p, NULL, 0, NULL), DEIT_E_FORMAT, "not a libdeit checkpoint");
  /* As pretrained weights it is a file of the wrong model: the first missing tensor is named. */
  assert_status_msg(deit_teacher_load_weights(g_target, p), DEIT_E_FORMAT, "missing tensor 'conv1.weight'");
  /* No tensors at all, no metadata: the empty state dict. */
  p = write_st("empty.safetensors", "{}", 0);
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "not a libdeit checkpoint");
  assert_status_msg(deit_teacher_load_weights(g_target, p), DEIT_E_FORMAT, "missing tensor 'conv1.weight'");
}

/* deit_checkpoint_read_kind: the kind from the header; every other file is named for what it is. */
static void test_read_kind(void** state) {
  (void)state;
  deit_checkpoint_kind kind = (deit_checkpoint_kind)77;
  assert_ok(deit_checkpoint_read_kind(g_student_ckpt, &kind));
  assert_int_equal(kind, DEIT_CHECKPOINT_STUDENT);
  assert_ok(deit_checkpoint_read_kind(g_teacher_ckpt, &kind));
  assert_int_equal(kind, DEIT_CHECKPOINT_TEACHER);
  kind = (deit_checkpoint_kind)77; /* untouched on every failure below */
  const char* p = write_st("kind-foreign.safetensors",
                           "{\"__metadata__\":{\"format\":\"pt\"},"
                           "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                           8);
  assert_status_msg(deit_checkpoint_read_kind(p, &kind), DEIT_E_FORMAT,
                    "not a libdeit checkpoint (no 'libdeit.kind' in __metadata__)");
  p = deit_test_path("kind-state.safetensors");
  rewrite_header(g_student_ckpt, p, "\"libdeit.kind\":\"student\"", "\"libdeit.kind\":\"training_state\"");
  assert_status_msg(deit_checkpoint_read_kind(p, &kind), DEIT_E_FORMAT,
                    "a libdeit training_state file, not a teacher or student checkpoint");
  p = write_st("kind-notjson.safetensors", "{\"w\": ", 0);
  assert_status_msg(deit_checkpoint_read_kind(p, &kind), DEIT_E_FORMAT, "header is not valid JSON");
  assert_status_msg(deit_checkpoint_read_kind(deit_test_path("no-such-file.safetensors"), &kind), DEIT_E_IO,
                    "no-such-file.safetensors");
  assert_status_msg(deit_checkpoint_read_kind(NULL, &kind), DEIT_E_INVALID_ARG, "path");
  assert_status_msg(deit_checkpoint_read_kind(g_student_ckpt, NULL), DEIT_E_INVALID_ARG, "out");
  assert_int_equal(kind, 77);
}

static void test_checkpoint_metadata(void** state) {
  (void)state;
  deit_student* s = NULL;
  const char* p = deit_test_path("version.safetensors");
  rewrite_header(g_student_ckpt, p, "\"libdeit.format_version\":\"1\"", "\"libdeit.format_version\":\"2\"");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT,
                    "checkpoint format version 2; this libdeit reads version 1");
  assert_status_msg(deit_checkpoint_describe(p, NULL, 0, NULL), DEIT_E_FORMAT, "checkpoint format version 2");
  p = deit_test_path("kind.safetensors");
  rewrite_header(g_student_ckpt, p, "\"libdeit.kind\":\"student\"", "\"libdeit.kind\":\"tokenizer\"");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT,
                    "a libdeit tokenizer checkpoint, not a student checkpoint");
  p = deit_test_path("noconfig.safetensors");
  rewrite_header(g_student_ckpt, p, "\"libdeit.config\":", "\"libdeit.kfg\":");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "no 'libdeit.config' in __metadata__");
  p = deit_test_path("badconfig.safetensors");
  rewrite_header(g_student_ckpt, p, "\"libdeit.config\":\"{", "\"libdeit.config\":\"[{");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "configuration: JSON");
  p = deit_test_path("config-field.safetensors");
  rewrite_header(g_student_ckpt, p, "\\\"mlp_dim\\\":", "\\\"mlp_width\\\":");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "student configuration");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "mlp_dim");
  p = deit_test_path("config-value.safetensors");
  rewrite_header(g_student_ckpt, p, "\\\"patch_size\\\":4,", "\\\"patch_size\\\":3,");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT,
                    "img_size (8) must be a multiple of patch_size (3)");
  p = deit_test_path("config-type.safetensors");
  rewrite_header(g_student_ckpt, p, "\\\"depth\\\":1,", "\\\"depth\\\":\\\"one\\\",");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "student configuration");
  assert_null(s);
  deit_teacher* t = NULL;
  p = deit_test_path("teacher-arch.safetensors");
  rewrite_header(g_teacher_ckpt, p, "\\\"arch\\\":\\\"resnet18\\\"", "\\\"arch\\\":\\\"vgg16\\\"");
  assert_status_msg(deit_teacher_load(p, &t), DEIT_E_FORMAT,
                    "names arch 'vgg16' with 2 classes, which libdeit cannot build");
  assert_null(t);
}

/* A libdeit checkpoint whose configuration does not describe its tensors. */
static void test_model_of_another_configuration(void** state) {
  (void)state;
  deit_student* s = NULL;
  const char* p = deit_test_path("classes.safetensors");
  rewrite_header(g_student_ckpt, p, "\\\"num_classes\\\":2,", "\\\"num_classes\\\":3,");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT,
                    "tensor 'head.weight' has shape [2, 4], the model expects [3, 4]");
  assert_null(s);
  p = deit_test_path("qkvbias.safetensors");
  rewrite_header(g_student_ckpt, p, "\\\"qkv_bias\\\":true", "\\\"qkv_bias\\\":false");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "unexpected tensor 'blocks.0.attn.qkv.bias'");
  p = deit_test_path("heads.safetensors");
  rewrite_header(g_student_ckpt, p, "\\\"num_heads\\\":2,", "\\\"num_heads\\\":4,");
  /* Same tensors, other maths: the shapes cannot tell, so this one loads.  The
   * head count is part of the configuration the file states, not a fault. */
  assert_ok(deit_student_load(p, &s));
  deit_student_config cfg = {.struct_size = sizeof cfg};
  assert_ok(deit_student_get_config(s, &cfg));
  assert_int_equal(cfg.num_heads, 4);
  deit_student_free(s);

  deit_teacher* t = NULL;
  p = deit_test_path("teacher-classes.safetensors");
  rewrite_header(g_teacher_ckpt, p, "\\\"num_classes\\\":2", "\\\"num_classes\\\":3");
  assert_status_msg(deit_teacher_load(p, &t), DEIT_E_FORMAT,
                    "tensor 'fc.weight' has shape [2, 512], the model expects [3, 512]");
  assert_null(t);
  p = deit_test_path("teacher-34.safetensors");
  rewrite_header(g_teacher_ckpt, p, "\\\"arch\\\":\\\"resnet18\\\"", "\\\"arch\\\":\\\"resnet34\\\"");
  assert_status_msg(deit_teacher_load(p, &t), DEIT_E_FORMAT, "missing tensor 'layer1.2.conv1.weight'");
  assert_null(t);
}

/* A configuration asking for a model far larger than the file: refused from
 * the numbers alone, before anything is allocated (this used to try to
 * allocate the model: terabytes, or hours of initialisation). */
static void test_configuration_larger_than_file(void** state) {
  (void)state;
  deit_student* s = NULL;
  const char* p = deit_test_path("wide.safetensors");
  rewrite_header(g_student_ckpt, p, "\\\"mlp_dim\\\":4,", "\\\"mlp_dim\\\":16777216,");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "student configuration needs at least 134");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "weights but the file holds");
  p = deit_test_path("deep.safetensors");
  rewrite_header(g_student_ckpt, p, "\\\"depth\\\":1,", "\\\"depth\\\":16777216,");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "student configuration needs at least");
  p = deit_test_path("everything.safetensors");
  rewrite_header(g_student_ckpt, p, "\\\"embed_dim\\\":4,\\\"depth\\\":1,",
                 "\\\"embed_dim\\\":16777216,\\\"depth\\\":16777216,");
  assert_status_msg(deit_student_load(p, &s), DEIT_E_FORMAT, "needs at least 2^63 weights");
  assert_null(s);
  /* describe only reads: it reports the configuration as stated. */
  assert_status_msg(deit_checkpoint_describe(p, NULL, 0, NULL), DEIT_E_BUFFER_TOO_SMALL, "capacity 0");
  deit_teacher* t = NULL;
  p = deit_test_path("teacher-wide.safetensors");
  rewrite_header(g_teacher_ckpt, p, "\\\"num_classes\\\":2", "\\\"num_classes\\\":1073741824");
  assert_status_msg(
      deit_teacher_load(p, &t), DEIT_E_FORMAT,
      "teacher configuration (resnet18, 1073741824 classes) needs at least 549755813888 weights");
  assert_null(t);
}

/* deit_teacher_load_weights checks every tensor before copying any: a file
 * that fails leaves the teacher's weights as they were. */
static void test_failed_load_changes_nothing(void** state) {
  (void)state;
  enum { N = 2, SIDE = 32 };
  static float images[N * 3 * SIDE * SIDE];
  for (size_t i = 0; i < sizeof images / sizeof *images; ++i) images[i] = (float)((i * 7919) % 256) / 255.0f;
  deit_images im = {images, DEIT_DTYPE_F32, DEIT_LAYOUT_NCHW, N, 3, SIDE, SIDE};
  float before[N * CLASSES], after[N * CLASSES];
  assert_ok(deit_teacher_predict(g_target, &im, before, N * CLASSES));

  /* conv1.weight of the right shape and dtype, every other tensor missing. */
  enum { CONV1 = 64 * 3 * 7 * 7 };
  static float conv1[CONV1];
  for (int i = 0; i < CONV1; ++i) conv1[i] = 0.5f;
  char header[160];
  snprintf(header, sizeof header,
           "{\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[64,3,7,7],\"data_offsets\":[0,%d]}}",
           (int)sizeof conv1);
  const char* p = deit_test_path("conv1-only.safetensors");
  write_st_prefix(p, strlen(header), header, strlen(header), conv1, sizeof conv1);
  assert_status_msg(deit_teacher_load_weights(g_target, p), DEIT_E_FORMAT, "missing tensor 'bn1.weight'");
  assert_ok(deit_teacher_predict(g_target, &im, after, N * CLASSES));
  assert_memory_equal(before, after, sizeof before);

  /* The same with a wrong dtype: named, nothing changed. */
  snprintf(header, sizeof header,
           "{\"conv1.weight\":{\"dtype\":\"I32\",\"shape\":[64,3,7,7],\"data_offsets\":[0,%d]}}",
           (int)sizeof conv1);
  write_st_prefix(p, strlen(header), header, strlen(header), conv1, sizeof conv1);
  assert_status_msg(deit_teacher_load_weights(g_target, p), DEIT_E_FORMAT,
                    "tensor 'conv1.weight' has dtype I32, expected F32");
  assert_ok(deit_teacher_predict(g_target, &im, after, N * CLASSES));
  assert_memory_equal(before, after, sizeof before);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_length_over_limit),
      cmocka_unit_test(test_header_length_past_end),
      cmocka_unit_test(test_not_a_regular_file),
      cmocka_unit_test(test_offsets_out_of_range),
      cmocka_unit_test(test_overlapping_or_gapped_layout),
      cmocka_unit_test(test_shape_and_size_disagree),
      cmocka_unit_test(test_shape_product_overflows),
      cmocka_unit_test(test_dtypes),
      cmocka_unit_test(test_malformed_header),
      cmocka_unit_test(test_valid_file_not_a_libdeit_model),
      cmocka_unit_test(test_read_kind),
      cmocka_unit_test(test_checkpoint_metadata),
      cmocka_unit_test(test_model_of_another_configuration),
      cmocka_unit_test(test_configuration_larger_than_file),
      cmocka_unit_test(test_failed_load_changes_nothing),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
