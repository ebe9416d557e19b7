/*
 * A program built against the first release's header (deit_first_release.h),
 * run against today's library: what an application already in the field does
 * when libdeit is upgraded under it.  The library must
 *  - initialise exactly the caller's struct (its sizeof, not the library's):
 *    the guard bytes after it stay untouched;
 *  - accept those first-release-sized structs at every entry point that takes
 *    one, reading the fields appended since as their defaults;
 *  - refuse a struct_size of 0 or below the first release, naming the struct;
 *  - take a newer, larger struct up to the fields it knows;
 *  - keep the one-argument *_init symbols that programs built before
 *    *_init_sized call, writing the first-release layout only.
 */
#include "deit_first_release.h"
#include "plain_checks.h"

#include <string.h>

/* Every struct lives at the start of a buffer this big, the rest guard bytes. */
#define BUFFER_BYTES 512
#define GUARD_VALUE 0xA5
typedef union {
  unsigned char bytes[BUFFER_BYTES];
  deit_teacher_train_options teacher;
  deit_distill_options distill;
  deit_group_options group;
  deit_student_config config;
  deit_dataset_info info;
  deit_eval_result result;
} guarded;

static void arm(guarded *g) { memset(g->bytes, GUARD_VALUE, sizeof g->bytes); }

/* The bytes from `used` to the end of the buffer are still guard bytes. */
static int untouched_after(const guarded *g, size_t used) {
  size_t k;
  for (k = used; k < sizeof g->bytes; ++k)
    if (g->bytes[k] != GUARD_VALUE) return 0;
  return 1;
}

/* The one-argument symbols of the headers before *_init_sized. */
deit_status (deit_teacher_train_options_init)(deit_teacher_train_options *options);
deit_status (deit_distill_options_init)(deit_distill_options *options);
deit_status (deit_group_options_init)(deit_group_options *options);
deit_status (deit_student_config_init)(deit_student_config *config, const char *preset, int32_t num_classes);

static void check_init(void) {
  guarded g;
  arm(&g);
  CHECK_OK(deit_teacher_train_options_init(&g.teacher));
  CHECK(g.teacher.struct_size == sizeof g.teacher);
  CHECK(untouched_after(&g, sizeof g.teacher));
  CHECK(g.teacher.epochs == 3 && g.teacher.batch_size == 64 && g.teacher.lr == 1e-3);
  CHECK(g.teacher.weight_decay == -1.0 && g.teacher.momentum == 0.9 && g.teacher.trainable == DEIT_TRAIN_AUTO);
  CHECK(g.teacher.device == NULL && g.teacher.progress == NULL && g.teacher.user_data == NULL);

  arm(&g);
  CHECK_OK(deit_distill_options_init(&g.distill));
  CHECK(g.distill.struct_size == sizeof g.distill);
  CHECK(untouched_after(&g, sizeof g.distill));
  CHECK(g.distill.epochs == 5 && g.distill.alpha == 0.5 && g.distill.temperature == 2.0);
  CHECK(g.distill.cache_teacher_logits == 1 && g.distill.user_data == NULL);

  arm(&g);
  CHECK_OK(deit_group_options_init(&g.group));
  CHECK(g.group.struct_size == sizeof g.group && untouched_after(&g, sizeof g.group));
  CHECK(g.group.world_size == 1 && g.group.master_port == 29500 && g.group.timeout_seconds == 300.0);

  arm(&g);
  CHECK_OK(deit_student_config_init(&g.config, "seed", 4));
  CHECK(g.config.struct_size == sizeof g.config && untouched_after(&g, sizeof g.config));
  CHECK(g.config.img_size == 28 && g.config.patch_size == 7 && g.config.num_classes == 4);

  /* The symbols programs built before the macros call: the first-release layout, nothing past it. */
  arm(&g);
  CHECK_OK((deit_distill_options_init)(&g.distill));
  CHECK(g.distill.struct_size == sizeof g.distill && untouched_after(&g, sizeof g.distill));
  CHECK(g.distill.epochs == 5);
  arm(&g);
  CHECK_OK((deit_teacher_train_options_init)(&g.teacher));
  CHECK(g.teacher.struct_size == sizeof g.teacher && untouched_after(&g, sizeof g.teacher));
  arm(&g);
  CHECK_OK((deit_group_options_init)(&g.group));
  CHECK(g.group.struct_size == sizeof g.group && untouched_after(&g, sizeof g.group));
  arm(&g);
  CHECK_OK((deit_student_config_init)(&g.config, "seed", 4));
  CHECK(g.config.struct_size == sizeof g.config && untouched_after(&g, sizeof g.config));

  /* A newer header's larger struct: the library's fields, zeros up to the caller's size, nothing past. */
  arm(&g);
  CHECK_OK(deit_distill_options_init_sized(&g.distill, 400));
  CHECK(g.distill.struct_size == 400 && untouched_after(&g, 400));
  CHECK(g.distill.epochs == 5 && g.bytes[399] == 0);

  /* Sizes no header ever had. */
  arm(&g);
  CHECK(deit_distill_options_init_sized(&g.distill, 8) == DEIT_E_INVALID_ARG);
  CHECK(strstr(deit_last_error(), "smaller than the first released layout") != NULL);
  CHECK(untouched_after(&g, 0));
  CHECK(deit_teacher_train_options_init_sized(NULL, sizeof g.teacher) == DEIT_E_INVALID_ARG);
}

static int32_t g_labels[64];
static uint8_t g_pixels[64 * 28 * 28];

static deit_dataset *make_data(void) {
  deit_images im;
  deit_dataset *ds = NULL;
  int i;
  for (i = 0; i < 64; ++i) {
    g_labels[i] = i % 4;
    memset(g_pixels + i * 28 * 28, 40 + 50 * (i % 4), 28 * 28); /* one brightness per class */
  }
  im.data = g_pixels;
  im.dtype = DEIT_DTYPE_U8;
  im.layout = DEIT_LAYOUT_NCHW;
  im.count = 64;
  im.channels = 1;
  im.height = 28;
  im.width = 28;
  CHECK_OK(deit_dataset_from_memory(&im, g_labels, DEIT_DTYPE_I32, 4, &ds));
  return ds;
}

/* Every entry point that takes a caller struct, given first-release-sized ones. */
static void check_entry_points(void) {
  guarded g;
  deit_dataset *ds = make_data();
  deit_teacher *teacher = NULL;
  deit_student *student = NULL;
  deit_group *group = NULL;
  deit_student_config config;
  if (!ds) return;

  arm(&g);
  g.info.struct_size = sizeof g.info;
  CHECK_OK(deit_dataset_get_info(ds, &g.info));
  CHECK(untouched_after(&g, sizeof g.info));
  CHECK(g.info.count == 64 && g.info.num_classes == 4 && g.info.format == DEIT_FORMAT_MEMORY);

  arm(&g);
  CHECK_OK(deit_group_options_init(&g.group));
  CHECK_OK(deit_group_options_from_env(&g.group));
  CHECK(untouched_after(&g, sizeof g.group));
  CHECK_OK(deit_group_create(&g.group, &group));
  deit_group_free(group);

  CHECK_OK(deit_teacher_create("resnet18", 4, &teacher));
  arm(&g);
  CHECK_OK(deit_teacher_train_options_init(&g.teacher));
  g.teacher.epochs = 1;
  g.teacher.batch_size = 32;
  CHECK_OK(deit_teacher_train(teacher, ds, &g.teacher));
  arm(&g);
  g.result.struct_size = sizeof g.result;
  CHECK_OK(deit_teacher_evaluate(teacher, ds, &g.result, NULL, 0));
  CHECK(untouched_after(&g, sizeof g.result) && g.result.count == 64);

  CHECK_OK(deit_student_config_init(&config, "seed", 4));
  config.in_channels = 1;
  CHECK_OK(deit_student_create(&config, 1, &student));
  arm(&g);
  g.config.struct_size = sizeof g.config;
  CHECK_OK(deit_student_get_config(student, &g.config));
  CHECK(untouched_after(&g, sizeof g.config) && g.config.in_channels == 1 && g.config.embed_dim == 32);

  arm(&g);
  CHECK_OK(deit_distill_options_init(&g.distill));
  g.distill.epochs = 1;
  g.distill.batch_size = 32;
  CHECK_OK(deit_distill(student, teacher, ds, &g.distill));
  arm(&g);
  g.result.struct_size = sizeof g.result;
  CHECK_OK(deit_student_evaluate(student, ds, &g.result, NULL, 0));
  CHECK(untouched_after(&g, sizeof g.result) && g.result.count == 64);
  CHECK(g.result.accuracy >= 0.0 && g.result.accuracy <= 1.0);

  /* A struct_size of 0 or below the first release is refused by name. */
  arm(&g);
  CHECK_OK(deit_distill_options_init(&g.distill));
  g.distill.struct_size = 0;
  CHECK(deit_distill(student, teacher, ds, &g.distill) == DEIT_E_INVALID_ARG);
  CHECK(strstr(deit_last_error(), "options->struct_size is 0") != NULL);
  g.distill.struct_size = 16;
  CHECK(deit_distill(student, teacher, ds, &g.distill) == DEIT_E_INVALID_ARG);
  CHECK(strstr(deit_last_error(), "options->struct_size 16 is smaller") != NULL);
  g.result.struct_size = 8;
  CHECK(deit_student_evaluate(student, ds, &g.result, NULL, 0) == DEIT_E_INVALID_ARG);
  CHECK(strstr(deit_last_error(), "result->struct_size 8") != NULL);

  deit_student_free(student);
  deit_teacher_free(teacher);
  deit_dataset_free(ds);
}

int main(void) {
  CHECK_OK(deit_set_num_threads(1));
  check_init();
  check_entry_points();
  if (failures) {
    fprintf(stderr, "abi_first_release: %d check(s) failed\n", failures);
    return 1;
  }
  printf("abi_first_release: a first-release program runs against this library untouched\n");
  return 0;
}
