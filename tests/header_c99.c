/* The public header seen by a strict C99 compiler.  ctest compiles this file with
 * -std=c99 -pedantic -Werror (header_is_c99: the header must stay plain C99) and
 * also runs it, linked to libdeit (header_c99_runs): the library a C99 program
 * loads must agree with the header that program was compiled against — the
 * version, and the layout of the structs it fills (struct_size, the offsets of
 * the last fields, nothing written past the end). */
#include <deit/deit.h>
#include "plain_checks.h"

#include <string.h>


/* A struct the library fills, placed in a buffer with guard bytes after it: the
 * library must write exactly sizeof(T) as this compiler sees it. */
#define GUARD_BYTES 64
#define GUARD_VALUE 0xA5
static int guard_intact(const unsigned char *after) {
  int k;
  for (k = 0; k < GUARD_BYTES; ++k)
    if (after[k] != GUARD_VALUE) return 0;
  return 1;
}

static void check_version(void) {
  char expected[32];
  sprintf(expected, "%d.%d.%d", DEIT_VERSION_MAJOR, DEIT_VERSION_MINOR, DEIT_VERSION_PATCH);
  CHECK(deit_version_number() == DEIT_VERSION_NUMBER);
  CHECK(strcmp(deit_version_string(), expected) == 0);
  CHECK(strcmp(deit_status_str(DEIT_OK), "ok") == 0);
}

static void check_errors(void) {
  char buf[16];
  CHECK(deit_resolve_device("bogus", buf, sizeof buf) == DEIT_E_INVALID_ARG);
  CHECK(strstr(deit_last_error(), "bogus") != NULL);
  CHECK_OK(deit_resolve_device("cpu", buf, sizeof buf));
  CHECK(strcmp(buf, "cpu") == 0);
}

static void check_distill_options(void) {
  union {
    unsigned char bytes[sizeof(deit_distill_options) + GUARD_BYTES];
    deit_distill_options o;
  } u;
  memset(u.bytes, GUARD_VALUE, sizeof u.bytes);
  CHECK_OK(deit_distill_options_init(&u.o));
  CHECK(u.o.struct_size == sizeof(deit_distill_options));
  CHECK(guard_intact(u.bytes + sizeof(deit_distill_options)));
  CHECK(u.o.epochs == 5 && u.o.batch_size == 64 && u.o.lr == 1e-3);
  CHECK(u.o.optimizer == DEIT_OPTIM_ADAM && u.o.momentum == 0.9);
  CHECK(u.o.alpha == 0.5 && u.o.temperature == 2.0 && u.o.distillation == DEIT_DISTILL_SOFT);
  CHECK(u.o.cache_teacher_logits == 1);
  /* The fields appended last: zeroed by the library, at the offsets C99 sees. */
  CHECK(u.o.state_path == NULL && u.o.state_every_steps == 0 && u.o.resume == 0);
  CHECK(u.o.group == NULL && u.o.teacher_logits_path == NULL);
}

static void check_teacher_options(void) {
  union {
    unsigned char bytes[sizeof(deit_teacher_train_options) + GUARD_BYTES];
    deit_teacher_train_options o;
  } u;
  memset(u.bytes, GUARD_VALUE, sizeof u.bytes);
  CHECK_OK(deit_teacher_train_options_init(&u.o));
  CHECK(u.o.struct_size == sizeof(deit_teacher_train_options));
  CHECK(guard_intact(u.bytes + sizeof(deit_teacher_train_options)));
  CHECK(u.o.epochs == 3 && u.o.batch_size == 64 && u.o.lr == 1e-3 && u.o.momentum == 0.9);
  CHECK(u.o.trainable == DEIT_TRAIN_AUTO && u.o.device == NULL && u.o.progress == NULL);
  CHECK(u.o.state_path == NULL && u.o.resume == 0 && u.o.group == NULL);
}

static void check_group_options(void) {
  union {
    unsigned char bytes[sizeof(deit_group_options) + GUARD_BYTES];
    deit_group_options o;
  } u;
  memset(u.bytes, GUARD_VALUE, sizeof u.bytes);
  CHECK_OK(deit_group_options_init(&u.o));
  CHECK(u.o.struct_size == sizeof(deit_group_options));
  CHECK(guard_intact(u.bytes + sizeof(deit_group_options)));
  CHECK(u.o.rank == 0 && u.o.world_size == 1 && u.o.master_port == 29500);
  /* Dereferenced only when the layouts agree (else it may be any bytes). */
  if (u.o.struct_size == sizeof(deit_group_options))
    CHECK(u.o.master_addr != NULL && strcmp(u.o.master_addr, "127.0.0.1") == 0);
  CHECK(u.o.backend == NULL && u.o.timeout_seconds == 300.0);
}

static void check_student_config(void) {
  union {
    unsigned char bytes[sizeof(deit_student_config) + GUARD_BYTES];
    deit_student_config c;
  } u;
  memset(u.bytes, GUARD_VALUE, sizeof u.bytes);
  CHECK_OK(deit_student_config_init(&u.c, "deit-tiny", 7));
  CHECK(u.c.struct_size == sizeof(deit_student_config));
  CHECK(guard_intact(u.bytes + sizeof(deit_student_config)));
  CHECK(u.c.img_size == 224 && u.c.patch_size == 16 && u.c.in_channels == 3 && u.c.num_classes == 7);
  CHECK(u.c.embed_dim == 192 && u.c.depth == 12 && u.c.num_heads == 3 && u.c.mlp_dim == 768);
  CHECK(u.c.pre_norm == 1 && u.c.gelu == 1 && u.c.dropout == 0.0 && u.c.attn_dropout == 0.0);
  CHECK(u.c.ln_eps == 1e-6 && u.c.qkv_bias == 1 && u.c.trunc_normal_init == 1);
}

/* A real round trip: a data set from C buffers, described back through the
 * info struct. */
static void check_dataset_info(void) {
  static const uint8_t pixels[3 * 2 * 4 * 5] = {0};
  const int64_t labels[3] = {0, 4, 2};
  deit_images im;
  deit_dataset *ds = NULL;
  union {
    unsigned char bytes[sizeof(deit_dataset_info) + GUARD_BYTES];
    deit_dataset_info info;
  } u;
  int64_t hist[5] = {0};
  im.data = pixels;
  im.dtype = DEIT_DTYPE_U8;
  im.layout = DEIT_LAYOUT_NCHW;
  im.count = 3;
  im.channels = 2;
  im.height = 4;
  im.width = 5;
  CHECK_OK(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I64, 0, &ds));
  CHECK(ds != NULL);
  if (!ds) return;
  memset(u.bytes, GUARD_VALUE, sizeof u.bytes);
  u.info.struct_size = sizeof u.info;
  CHECK_OK(deit_dataset_get_info(ds, &u.info));
  CHECK(guard_intact(u.bytes + sizeof(deit_dataset_info)));
  CHECK(u.info.count == 3 && u.info.channels == 2 && u.info.height == 4 && u.info.width == 5);
  CHECK(u.info.num_classes == 5 && u.info.dtype == DEIT_DTYPE_U8 && u.info.format == DEIT_FORMAT_MEMORY);
  CHECK_OK(deit_dataset_label_histogram(ds, hist, 5));
  CHECK(hist[0] == 1 && hist[1] == 0 && hist[2] == 1 && hist[3] == 0 && hist[4] == 1);
  deit_dataset_free(ds);
}

int main(void) {
  CHECK_OK(deit_set_num_threads(1));
  check_version();
  check_errors();
  check_distill_options();
  check_teacher_options();
  check_group_options();
  check_student_config();
  check_dataset_info();
  if (failures) {
    fprintf(stderr, "header_c99: %d check(s) failed\n", failures);
    return 1;
  }
  printf("header_c99: library %s agrees with the C99 view of deit.h\n", deit_version_string());
  return 0;
}
