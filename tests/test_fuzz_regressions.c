/* The fuzzers' regression inputs (tests/fuzz/regressions/TARGET/), replayed
 * in the normal build through the public C API, so that CI, which never builds
 * the libFuzzer targets, still feeds every saved input to its reader.  Each
 * input is split the way its fuzz target splits it (tests/fuzz/fuzz_*.cpp):
 *   idx:         2 bytes little-endian = images file length, the images file,
 *                the labels file -> deit_dataset_open_idx
 *   cifar:       1 byte (even: CIFAR-10, odd: CIFAR-100), the file
 *                -> deit_dataset_open_cifar
 *   image:       the file -> deit_image_read_file (max_pixels 2^20 as the target)
 *   safetensors, checkpoint: the file -> deit_checkpoint_describe,
 *                deit_student_load, deit_teacher_load, deit_teacher_load_weights
 * A file's name says what the reader must answer: "<expected>-<what it is>",
 * expected being ok, format, invalid_arg or unsupported (for safetensors and checkpoint
 * inputs: the answer of deit_checkpoint_describe, shared by the loaders).  Failures must come with a message
 * naming the file; no call may crash, report DEIT_E_OOM or DEIT_E_INTERNAL.
 * argv[1] may name another regressions directory (default: the source tree's). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#ifndef DEIT_FUZZ_REGRESSIONS_DIR
#error "DEIT_FUZZ_REGRESSIONS_DIR must name tests/fuzz/regressions"
#endif

static const char *g_root = DEIT_FUZZ_REGRESSIONS_DIR;

enum { MAX_FILES = 512, MAX_NAME = 256 };

struct file_list {
  int n;
  char names[MAX_FILES][MAX_NAME];
};

static int compare_names(const void *a, const void *b) { return strcmp(a, b); }

/* The regular files of g_root/target in name order; none when the folder is absent. */
static void list_inputs(const char *target, struct file_list *out) {
  char dir[2048];
  snprintf(dir, sizeof dir, "%s/%s", g_root, target);
  out->n = 0;
  DIR *d = opendir(dir);
  if (!d) {
    if (errno != ENOENT) fail_msg("cannot list %s: %s", dir, strerror(errno));
    return;
  }
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue; /* ., .., editor and VCS files */
    if (out->n == MAX_FILES) fail_msg("%s: more than %d files", dir, MAX_FILES);
    if (strlen(e->d_name) >= MAX_NAME) fail_msg("%s/%s: name too long", dir, e->d_name);
    strcpy(out->names[out->n++], e->d_name);
  }
  closedir(d);
  qsort(out->names, (size_t)out->n, sizeof out->names[0], compare_names);
}

static uint8_t *read_input(const char *target, const char *name, size_t *size) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s/%s", g_root, target, name);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  uint8_t *b = malloc(cap);
  assert_non_null(b);
  for (size_t got; (got = fread(b + n, 1, cap - n, f)) > 0;) {
    n += got;
    if (n == cap) {
      cap *= 2;
      b = realloc(b, cap);
      assert_non_null(b);
    }
  }
  if (ferror(f)) fail_msg("cannot read %s", path);
  fclose(f);
  *size = n;
  return b;
}

/* One line per input, flushed: it names the input when a reader crashes (or a
 * sanitizer aborts) before anything else is printed. */
static void announce(const char *input) {
  printf("replaying %s\n", input);
  fflush(stdout);
}

/* The status a file's name promises. */
static deit_status expected_status(const char *target, const char *name) {
  static const struct {
    const char *prefix;
    deit_status status;
  } kinds[] = {{"ok-", DEIT_OK},
               {"format-", DEIT_E_FORMAT},
               {"invalid_arg-", DEIT_E_INVALID_ARG},
               {"unsupported-", DEIT_E_UNSUPPORTED}};
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; ++k)
    if (strncmp(name, kinds[k].prefix, strlen(kinds[k].prefix)) == 0) return kinds[k].status;
  fail_msg("%s/%s: the name must start with ok-, format-, invalid_arg- or unsupported- (the answer expected)",
           target, name);
  return DEIT_E_INTERNAL; /* not reached */
}

/* Any answer: a defined status, never OOM or INTERNAL for a bad file, and a
 * failure explains itself, naming `path` (when given). */
static void check_clean(const char *input, const char *call, deit_status s, const char *path) {
  if (s > DEIT_OK || s < DEIT_E_DISTRIBUTED)
    fail_msg("%s: %s returned %d, not a deit_status", input, call, (int)s);
  if (s == DEIT_OK) return;
  if (s == DEIT_E_OOM || s == DEIT_E_INTERNAL)
    fail_msg("%s: %s returned %s for a bad file: %s", input, call, deit_status_str(s), deit_last_error());
  if (deit_last_error()[0] == '\0') fail_msg("%s: %s failed (%s) without a message", input, call, deit_status_str(s));
  if (path && !strstr(deit_last_error(), path))
    fail_msg("%s: %s: the message does not name the file %s: %s", input, call, path, deit_last_error());
}

static void expect_status(const char *input, const char *call, deit_status s, deit_status expected) {
  if (s != expected)
    fail_msg("%s: %s returned %d (%s), the file's name expects %d (%s); last error: %s", input, call, (int)s,
             deit_status_str(s), (int)expected, deit_status_str(expected), s ? deit_last_error() : "");
}

/* What the fuzz targets check of an accepted data set, through the C API. */
static void check_dataset(const char *input, const deit_dataset *ds, int32_t channels, int32_t side) {
  deit_dataset_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  assert_ok(deit_dataset_get_info(ds, &info));
  if (info.count < 1 || info.channels != channels || info.height < 1 || info.width < 1 ||
      (side && (info.height != side || info.width != side)) || info.num_classes < 1)
    fail_msg("%s: accepted with count %lld, %d x %d x %d, %d classes", input, (long long)info.count,
             (int)info.channels, (int)info.height, (int)info.width, (int)info.num_classes);
  /* Every label below num_classes: the histogram accounts for every image. */
  int64_t *hist = calloc((size_t)info.num_classes, sizeof *hist);
  int32_t *labels = malloc((size_t)info.count * sizeof *labels);
  assert_non_null(hist);
  assert_non_null(labels);
  assert_ok(deit_dataset_label_histogram(ds, hist, (size_t)info.num_classes));
  int64_t total = 0;
  for (int32_t k = 0; k < info.num_classes; ++k) total += hist[k];
  if (total != info.count) fail_msg("%s: the label histogram counts %lld of %lld images", input, (long long)total,
                                    (long long)info.count);
  assert_ok(deit_dataset_copy_labels(ds, 0, info.count, labels, (size_t)info.count));
  for (int64_t i = 0; i < info.count; ++i)
    if (labels[i] < 0 || labels[i] >= info.num_classes)
      fail_msg("%s: label %d of image %lld is outside [0, %d)", input, (int)labels[i], (long long)i,
               (int)info.num_classes);
  /* The pixels are all there: the last image can be copied. */
  size_t image_bytes = (size_t)info.channels * (size_t)info.height * (size_t)info.width;
  uint8_t *pixels = malloc(image_bytes);
  assert_non_null(pixels);
  assert_ok(deit_dataset_copy_images(ds, info.count - 1, 1, pixels, image_bytes));
  free(pixels);
  free(labels);
  free(hist);
}

static void test_idx(void **state) {
  (void)state;
  static struct file_list list;
  list_inputs("idx", &list);
  if (list.n == 0) fail_msg("no regression inputs under %s/idx", g_root);
  /* Like the fuzz target's in-memory files, the names do not end in .gz. */
  const char *images = deit_test_path("idx-images");
  const char *labels = deit_test_path("idx-labels");
  for (int k = 0; k < list.n; ++k) {
    char name[MAX_NAME + 8];
    snprintf(name, sizeof name, "idx/%s", list.names[k]);
    announce(name);
    const deit_status expected = expected_status("idx", list.names[k]);
    size_t size = 0;
    uint8_t *data = read_input("idx", list.names[k], &size);
    if (size < 2) fail_msg("%s: shorter than the 2-byte length prefix", name);
    size_t images_len = (size_t)data[0] | (size_t)data[1] << 8;
    if (images_len > size - 2) images_len = size - 2;
    deit_test_write_file(images, data + 2, images_len);
    deit_test_write_file(labels, data + 2 + images_len, size - 2 - images_len);
    free(data);
    deit_dataset *ds = NULL;
    const deit_status s = deit_dataset_open_idx(images, labels, &ds);
    check_clean(name, "deit_dataset_open_idx", s, NULL);
    if (s != DEIT_OK && !strstr(deit_last_error(), images) && !strstr(deit_last_error(), labels))
      fail_msg("%s: the message names neither file: %s", name, deit_last_error());
    if (s != DEIT_OK && ds) fail_msg("%s: failed but handed back a data set", name);
    expect_status(name, "deit_dataset_open_idx", s, expected);
    if (ds) check_dataset(name, ds, 1, 0);
    deit_dataset_free(ds);
  }
  printf("fuzz regressions: %d idx inputs replayed\n", list.n);
}

static void test_cifar(void **state) {
  (void)state;
  static struct file_list list;
  list_inputs("cifar", &list);
  if (list.n == 0) fail_msg("no regression inputs under %s/cifar", g_root);
  const char *path = deit_test_path("cifar-batch");
  for (int k = 0; k < list.n; ++k) {
    char name[MAX_NAME + 8];
    snprintf(name, sizeof name, "cifar/%s", list.names[k]);
    announce(name);
    const deit_status expected = expected_status("cifar", list.names[k]);
    size_t size = 0;
    uint8_t *data = read_input("cifar", list.names[k], &size);
    if (size < 1) fail_msg("%s: empty (the first byte selects CIFAR-10 or -100)", name);
    const int32_t classes = (data[0] & 1) ? 100 : 10;
    deit_test_write_file(path, data + 1, size - 1);
    free(data);
    deit_dataset *ds = NULL;
    const char *paths[1] = {path};
    const deit_status s = deit_dataset_open_cifar(paths, 1, classes, &ds);
    check_clean(name, "deit_dataset_open_cifar", s, path);
    if (s != DEIT_OK && ds) fail_msg("%s: failed but handed back a data set", name);
    expect_status(name, "deit_dataset_open_cifar", s, expected);
    if (ds) {
      check_dataset(name, ds, 3, 32);
      deit_dataset_info info;
      memset(&info, 0, sizeof info);
      info.struct_size = sizeof info;
      assert_ok(deit_dataset_get_info(ds, &info));
      if (info.num_classes != classes || info.format != (classes == 100 ? DEIT_FORMAT_CIFAR100 : DEIT_FORMAT_CIFAR10))
        fail_msg("%s: read as %d classes, format %d", name, (int)info.num_classes, (int)info.format);
    }
    deit_dataset_free(ds);
  }
  printf("fuzz regressions: %d cifar inputs replayed\n", list.n);
}

static void test_image(void **state) {
  (void)state;
  static struct file_list list;
  list_inputs("image", &list);
  if (list.n == 0) fail_msg("no regression inputs under %s/image", g_root);
  const char *path = deit_test_path("image-file");
  deit_image_options options;
  assert_ok(deit_image_options_init(&options));
  options.image_size = 16;
  options.max_pixels = 1 << 20;
  uint8_t pixels[3 * 16 * 16];
  for (int k = 0; k < list.n; ++k) {
    char name[MAX_NAME + 8];
    snprintf(name, sizeof name, "image/%s", list.names[k]);
    announce(name);
    const deit_status expected = expected_status("image", list.names[k]);
    size_t size = 0;
    uint8_t *data = read_input("image", list.names[k], &size);
    deit_test_write_file(path, data, size);
    free(data);
    const deit_status s = deit_image_read_file(path, &options, pixels, sizeof pixels);
    check_clean(name, "deit_image_read_file", s, path);
    expect_status(name, "deit_image_read_file", s, expected);
  }
  printf("fuzz regressions: %d image inputs replayed\n", list.n);
}

/* The smallest ResNet, for deit_teacher_load_weights (as fuzz_checkpoint does). */
static deit_teacher *g_target;

/* Every entry point that reads a safetensors file.  `expected` is what
 * deit_checkpoint_describe answers.  A file it rejects (malformed for the
 * reader, or well-formed but no libdeit checkpoint) is rejected by every other
 * entry point with the same status; a file it describes loads as the kind it
 * is described as. */
static void replay_safetensors(const char *target, const char *name, const char *path, deit_status expected) {
  char input[512];
  snprintf(input, sizeof input, "%s/%s", target, name);
  announce(input);

  char buf[1 << 14];
  size_t needed = 12345;
  deit_status s = deit_checkpoint_describe(path, buf, sizeof buf, &needed);
  check_clean(input, "deit_checkpoint_describe", s, s == DEIT_E_BUFFER_TOO_SMALL ? NULL : path);
  if (s == DEIT_OK && strlen(buf) + 1 != needed)
    fail_msg("%s: described in %zu bytes but needed says %zu", input, strlen(buf) + 1, needed);
  if (s != DEIT_OK && s != DEIT_E_BUFFER_TOO_SMALL && needed != 12345)
    fail_msg("%s: deit_checkpoint_describe failed but set needed", input);
  const int described = s == DEIT_OK || s == DEIT_E_BUFFER_TOO_SMALL;
  const int is_student = s == DEIT_OK && strstr(buf, "\"kind\":\"student\"") != NULL;
  const int is_teacher = s == DEIT_OK && strstr(buf, "\"kind\":\"teacher\"") != NULL;
  expect_status(input, "deit_checkpoint_describe", s, expected);

  deit_student *student = NULL;
  s = deit_student_load(path, &student);
  check_clean(input, "deit_student_load", s, path);
  if ((s == DEIT_OK) != (student != NULL)) fail_msg("%s: deit_student_load: status and handle disagree", input);
  if (expected != DEIT_OK) expect_status(input, "deit_student_load", s, expected);
  if (s == DEIT_OK && !described) fail_msg("%s: loads as a student but cannot be described", input);
  if (is_student && s != DEIT_OK) fail_msg("%s: described as a student but does not load: %s", input, deit_last_error());
  if (student) {
    int64_t params = 0;
    assert_ok(deit_student_num_params(student, &params));
    if (params <= 0) fail_msg("%s: a loaded student with %lld parameters", input, (long long)params);
  }
  deit_student_free(student);

  deit_teacher *teacher = NULL;
  s = deit_teacher_load(path, &teacher);
  check_clean(input, "deit_teacher_load", s, path);
  if ((s == DEIT_OK) != (teacher != NULL)) fail_msg("%s: deit_teacher_load: status and handle disagree", input);
  if (expected != DEIT_OK) expect_status(input, "deit_teacher_load", s, expected);
  if (s == DEIT_OK && !described) fail_msg("%s: loads as a teacher but cannot be described", input);
  if (is_teacher && s != DEIT_OK) fail_msg("%s: described as a teacher but does not load: %s", input, deit_last_error());
  deit_teacher_free(teacher);

  s = deit_teacher_load_weights(g_target, path);
  check_clean(input, "deit_teacher_load_weights", s, NULL);
  if (expected != DEIT_OK) {
    expect_status(input, "deit_teacher_load_weights", s, expected);
    if (!strstr(deit_last_error(), path))
      fail_msg("%s: deit_teacher_load_weights: the message does not name the file: %s", input, deit_last_error());
  }
}

static void replay_safetensors_dir(const char *target, int required) {
  static struct file_list list;
  list_inputs(target, &list);
  if (list.n == 0) {
    if (required) fail_msg("no regression inputs under %s/%s", g_root, target);
    return;
  }
  if (!g_target) {
    assert_ok(deit_teacher_create("resnet18", 2, &g_target));
    assert_ok(deit_teacher_set_device(g_target, "cpu"));
  }
  const char *path = deit_test_path("input.safetensors");
  for (int k = 0; k < list.n; ++k) {
    const char *name = list.names[k];
    const deit_status expected = expected_status(target, name);
    size_t size = 0;
    uint8_t *data = read_input(target, name, &size);
    deit_test_write_file(path, data, size);
    free(data);
    replay_safetensors(target, name, path, expected);
  }
  printf("fuzz regressions: %d %s inputs replayed\n", list.n, target);
}

static void test_safetensors(void **state) {
  (void)state;
  replay_safetensors_dir("safetensors", 1);
}

/* fuzz_checkpoint's inputs, when there are any, go through the same calls. */
static void test_checkpoint(void **state) {
  (void)state;
  replay_safetensors_dir("checkpoint", 0);
}

int main(int argc, char **argv) {
  if (argc > 2) {
    fprintf(stderr, "usage: %s [REGRESSIONS_DIR]\n", argv[0]);
    return 2;
  }
  if (argc == 2) g_root = argv[1];
  deit_set_log_level(DEIT_LOG_OFF);
  deit_set_num_threads(1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idx),
      cmocka_unit_test(test_cifar),
      cmocka_unit_test(test_image),
      cmocka_unit_test(test_safetensors),
      cmocka_unit_test(test_checkpoint),
  };
  const int failed = cmocka_run_group_tests(tests, NULL, NULL);
  deit_teacher_free(g_target);
  return failed;
}
