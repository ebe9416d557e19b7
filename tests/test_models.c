/* Teacher, student, distillation, losses, inference and checkpoints through
 * the C API, on a tiny synthetic task the test makes itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

enum { CLASSES = 4, SIDE = 28, N_TRAIN = 256, N_TEST = 128 };

/* Class k: one of four noisy stripe/checker textures with a random phase, so
 * every patch carries the class (a ViT with zero position embeddings and a
 * pooled CNN both see it from the first step).  Texture k is labelled
 * (k + label_shift) % CLASSES: a shifted task disagrees with a teacher that
 * learned the plain one on every image. */
static deit_dataset *make_shifted_task(int n, unsigned seed, int label_shift) {
  uint8_t *pix = malloc((size_t)n * SIDE * SIDE);
  int32_t *labels = malloc(sizeof(int32_t) * (size_t)n);
  srand(seed);
  for (int i = 0; i < n; ++i) {
    int k = i % CLASSES;
    labels[i] = (k + label_shift) % CLASSES;
    uint8_t *img = pix + (size_t)i * SIDE * SIDE;
    int phase = rand() % 4;
    for (int y = 0; y < SIDE; ++y)
      for (int x = 0; x < SIDE; ++x) {
        int on = k == 0 ? ((y + phase) / 2) % 2            /* horizontal stripes */
                 : k == 1 ? ((x + phase) / 2) % 2          /* vertical stripes */
                 : k == 2 ? ((x + y + phase) / 2) % 2      /* diagonal stripes */
                          : ((x / 4 + y / 4 + phase) % 2); /* checkerboard */
        img[y * SIDE + x] = (uint8_t)((on ? 160 : 20) + rand() % 80);
      }
  }
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, n, 1, SIDE, SIDE};
  deit_dataset *ds = NULL;
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, CLASSES, &ds));
  free(pix);
  free(labels);
  return ds;
}

static deit_dataset *make_task(int n, unsigned seed) { return make_shifted_task(n, seed, 0); }

/* dropout / attn_dropout < 0: the preset's. */
static deit_student *make_student_with_dropout(uint64_t seed, double dropout, double attn_dropout) {
  deit_student_config cfg;
  assert_ok(deit_student_config_init(&cfg, "seed", CLASSES));
  cfg.mlp_dim = 128; /* small and fast; the rest is the notebook's model */
  if (dropout >= 0) cfg.dropout = dropout;
  if (attn_dropout >= 0) cfg.attn_dropout = attn_dropout;
  deit_student *s = NULL;
  assert_ok(deit_student_create(&cfg, seed, &s));
  assert_ok(deit_student_set_device(s, "cpu"));
  return s;
}

static deit_student *make_student(uint64_t seed) { return make_student_with_dropout(seed, -1, -1); }

static deit_teacher *make_teacher(void) {
  deit_teacher *t = NULL;
  assert_ok(deit_teacher_create("resnet18", CLASSES, &t));
  assert_ok(deit_teacher_set_device(t, "cpu"));
  return t;
}

/* Progress as seen by a callback.  The callback only records: a cmocka
 * assertion failing inside it would longjmp through libdeit's C++ frames, so
 * assert_progress_sane() checks what it saw after the call returned. */
struct progress_log {
  int calls;
  int epochs_ended;
  double last_epoch_loss[16];
  int64_t cancel_mid_epoch;   /* S > 0: cancel at the first report after step S and before an epoch's end */
  int cancel_after_epoch;     /* E > 0: cancel at the end of epoch E (training phases) */
  deit_progress cancelled_at; /* the report that cancelled */
  int logit_calls; /* calls in the teacher-logit pass */
  char problem[256];
};

static void progress_problem(struct progress_log *log, const deit_progress *p, const char *what) {
  if (log->problem[0]) return;
  snprintf(log->problem, sizeof log->problem, "call %d (phase %d, epoch %d/%d, step %lld/%lld): %s", log->calls,
           (int)p->phase, p->epoch, p->epochs, (long long)p->step, (long long)p->steps, what);
}

static int record_progress(const deit_progress *p, void *user_data) {
  struct progress_log *log = user_data;
  log->calls++;
  if (p->phase == DEIT_PHASE_TEACHER_LOGITS) log->logit_calls++;
  if (p->struct_size != sizeof(deit_progress)) progress_problem(log, p, "struct_size is not sizeof(deit_progress)");
  if (!(p->step >= 1 && p->step <= p->steps)) progress_problem(log, p, "step outside 1..steps");
  if (!(p->epoch >= 1 && p->epoch <= p->epochs)) progress_problem(log, p, "epoch outside 1..epochs");
  if (p->end_of_epoch && p->phase != DEIT_PHASE_TEACHER_LOGITS) {
    if (p->step != p->steps) progress_problem(log, p, "end_of_epoch before the last step");
    if (p->epoch <= 16) log->last_epoch_loss[p->epoch - 1] = p->loss;
    log->epochs_ended++;
  }
  int cancel = 0;
  if (log->cancel_mid_epoch && p->phase != DEIT_PHASE_TEACHER_LOGITS && p->step > log->cancel_mid_epoch &&
      p->step < p->steps)
    cancel = 1;
  if (log->cancel_after_epoch && p->phase != DEIT_PHASE_TEACHER_LOGITS && p->end_of_epoch &&
      p->epoch == log->cancel_after_epoch)
    cancel = 1;
  if (cancel) log->cancelled_at = *p;
  return cancel;
}

#define assert_progress_sane(log)                                                     \
  do {                                                                                \
    if ((log)->problem[0]) fail_msg("progress callback saw: %s", (log)->problem); \
  } while (0)

/* Shared across tests: training is the expensive part. */
static deit_dataset *g_train, *g_test;
static deit_teacher *g_teacher;

/* Logits of `n` test images from the teacher (n <= 16). */
static void teacher_logits(deit_teacher *t, int n, float *out) {
  uint8_t pix[16 * SIDE * SIDE];
  assert_true(n <= 16);
  assert_ok(deit_dataset_copy_images(g_test, 0, n, pix, sizeof pix));
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, n, 1, SIDE, SIDE};
  assert_ok(deit_teacher_predict(t, &im, out, (size_t)n * CLASSES));
}

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static int setup(void **state) {
  (void)state;
  assert_ok(deit_set_num_threads(2));
  g_train = make_task(N_TRAIN, 1);
  g_test = make_task(N_TEST, 2);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  deit_teacher_free(g_teacher);
  deit_dataset_free(g_train);
  deit_dataset_free(g_test);
  return 0;
}

static void test_teacher_learns(void **state) {
  (void)state;
  g_teacher = make_teacher();
  deit_teacher_train_options o;
  assert_ok(deit_teacher_train_options_init(&o));
  assert_int_equal(o.epochs, 3);
  assert_int_equal(o.batch_size, 64);
  assert_true(o.lr == 1e-3);
  /* From scratch, BatchNorm's running statistics must keep up with the
   * weights for eval mode to work: a gentler lr than the default. */
  o.batch_size = 16;
  o.epochs = 4;
  o.lr = 3e-4;
  struct progress_log log = {0};
  o.progress = record_progress;
  o.user_data = &log;
  assert_ok(deit_teacher_train(g_teacher, g_train, &o));
  assert_progress_sane(&log);
  assert_int_equal(log.epochs_ended, 4);
  deit_eval_result r = {.struct_size = sizeof r};
  int64_t confusion[CLASSES * CLASSES];
  assert_ok(deit_teacher_evaluate(g_teacher, g_test, &r, confusion, CLASSES * CLASSES));
  assert_int_equal(r.count, N_TEST);
  printf("teacher accuracy %.3f loss %.3f\n", r.accuracy, r.loss);
  assert_true(r.accuracy > 0.7); /* chance is 0.25 */
  int64_t total = 0, diag = 0;
  for (int i = 0; i < CLASSES * CLASSES; ++i) total += confusion[i];
  for (int k = 0; k < CLASSES; ++k) diag += confusion[k * CLASSES + k];
  assert_int_equal(total, N_TEST);
  assert_true(fabs((double)diag / N_TEST - r.accuracy) < 1e-12);
}

static void test_student_distills(void **state) {
  (void)state;
  assert_non_null(g_teacher);
  deit_student *s = make_student(7);
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  assert_int_equal(o.epochs, 5);
  assert_int_equal(o.batch_size, 64);
  assert_true(o.alpha == 0.5 && o.temperature == 2.0 && o.distillation == DEIT_DISTILL_SOFT);
  o.batch_size = 16;
  o.epochs = 4;
  struct progress_log log = {0};
  o.progress = record_progress;
  o.user_data = &log;
  assert_ok(deit_distill(s, g_teacher, g_train, &o));
  assert_progress_sane(&log);
  assert_int_equal(log.epochs_ended, 4);
  assert_true(log.last_epoch_loss[3] < log.last_epoch_loss[0]);
  deit_eval_result r = {.struct_size = sizeof r};
  assert_ok(deit_student_evaluate(s, g_test, &r, NULL, 0));
  printf("student accuracy avg %.3f cls %.3f dist %.3f\n", r.accuracy, r.accuracy_cls, r.accuracy_dist);
  assert_true(r.accuracy > 0.6);
  assert_true(r.accuracy_cls > 0.5);
  assert_true(r.accuracy_dist > 0.5);

  /* classify agrees with argmax of predict, for each head. */
  uint8_t pix[8 * SIDE * SIDE];
  assert_ok(deit_dataset_copy_images(g_test, 0, 8, pix, sizeof pix));
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, 8, 1, SIDE, SIDE};
  float logits[8 * CLASSES], cls_l[8 * CLASSES], dist_l[8 * CLASSES];
  int32_t classes[8];
  assert_ok(deit_student_predict(s, &im, DEIT_HEAD_AVG, logits, 8 * CLASSES));
  assert_ok(deit_student_predict(s, &im, DEIT_HEAD_CLS, cls_l, 8 * CLASSES));
  assert_ok(deit_student_predict(s, &im, DEIT_HEAD_DIST, dist_l, 8 * CLASSES));
  assert_ok(deit_student_classify(s, &im, DEIT_HEAD_AVG, classes, 8));
  for (int i = 0; i < 8; ++i) {
    int best = 0;
    for (int k = 0; k < CLASSES; ++k) {
      assert_true(fabsf(logits[i * CLASSES + k] - (cls_l[i * CLASSES + k] + dist_l[i * CLASSES + k]) / 2) < 1e-5f);
      if (logits[i * CLASSES + k] > logits[i * CLASSES + best]) best = k;
    }
    assert_int_equal(classes[i], best);
  }
  /* The same images as float NCHW give the same logits. */
  float fpix[8 * SIDE * SIDE];
  for (int i = 0; i < 8 * SIDE * SIDE; ++i) fpix[i] = pix[i] / 255.0f;
  deit_images fim = {fpix, DEIT_DTYPE_F32, DEIT_LAYOUT_NCHW, 8, 1, SIDE, SIDE};
  float flogits[8 * CLASSES];
  assert_ok(deit_student_predict(s, &fim, DEIT_HEAD_AVG, flogits, 8 * CLASSES));
  for (int i = 0; i < 8 * CLASSES; ++i) assert_true(fabsf(flogits[i] - logits[i]) < 1e-5f);
  assert_status_msg(deit_student_predict(s, &im, DEIT_HEAD_AVG, logits, 8 * CLASSES - 1), DEIT_E_BUFFER_TOO_SMALL,
                    "capacity");
  deit_student_free(s);
}

static void test_distill_none_needs_no_teacher(void **state) {
  (void)state;
  deit_student *s = make_student(3);
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  o.epochs = 1;
  o.batch_size = 32;
  assert_status_msg(deit_distill(s, NULL, g_train, &o), DEIT_E_INVALID_ARG, "teacher is NULL");
  o.distillation = DEIT_DISTILL_NONE;
  assert_ok(deit_distill(s, NULL, g_train, &o));
  deit_student_free(s);
}

/* Distils a fresh make_student(student_seed) with `o` through the C API and
 * saves it to `out` (when not NULL); with log != NULL progress goes there.
 * Returns the call's status. */
static deit_status distill_to_file(uint64_t student_seed, deit_teacher *teacher, const deit_dataset *train,
                                   deit_distill_options o, struct progress_log *log, const char *out) {
  deit_student *s = make_student(student_seed);
  if (log) {
    o.progress = record_progress;
    o.user_data = log;
  }
  deit_status st = deit_distill(s, teacher, train, &o);
  if (out) assert_ok(deit_student_save(s, out));
  deit_student_free(s);
  return st;
}

/* Distils a fresh make_student(student_seed) with `o`, recording progress;
 * returns the number of progress calls of the teacher-logit pass and puts
 * the o.epochs epoch losses into `losses`. */
static int distill_recorded(uint64_t student_seed, deit_teacher *teacher, const deit_dataset *train,
                            deit_distill_options o, double *losses) {
  struct progress_log log = {0};
  assert_ok(distill_to_file(student_seed, teacher, train, o, &log, NULL));
  assert_progress_sane(&log);
  for (int e = 0; e < o.epochs; ++e) losses[e] = log.last_epoch_loss[e];
  return log.logit_calls;
}

/* weight_decay's default (-1) is the optimizer's: 0.05 for AdamW, 0 for Adam, as deit.h says.  Decay at
 * that rate gives byte-identical weights to passing it explicitly, and other weights than none. */
static void test_weight_decay_defaults_per_optimizer(void **state) {
  (void)state;
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  assert_true(o.weight_decay == -1.0);
  o.epochs = 1;
  o.batch_size = 32;
  o.lr = 1e-2; /* large enough that 0.05 decay moves the weights visibly in one epoch */
  o.distillation = DEIT_DISTILL_NONE;
  const char *dflt = deit_test_path("wd-default.safetensors"), *explicit = deit_test_path("wd-explicit.safetensors");
  const char *none = deit_test_path("wd-none.safetensors");
  o.optimizer = DEIT_OPTIM_ADAMW;
  assert_ok(distill_to_file(3, NULL, g_train, o, NULL, dflt));
  o.weight_decay = 0.05;
  assert_ok(distill_to_file(3, NULL, g_train, o, NULL, explicit));
  o.weight_decay = 0.0;
  assert_ok(distill_to_file(3, NULL, g_train, o, NULL, none));
  assert_true(deit_test_files_equal(dflt, explicit));
  assert_false(deit_test_files_equal(dflt, none));
  o.optimizer = DEIT_OPTIM_ADAM;
  o.weight_decay = -1.0;
  assert_ok(distill_to_file(3, NULL, g_train, o, NULL, dflt));
  o.weight_decay = 0.0;
  assert_ok(distill_to_file(3, NULL, g_train, o, NULL, explicit));
  assert_true(deit_test_files_equal(dflt, explicit));
  o.weight_decay = -0.5;
  assert_status_msg(distill_to_file(3, NULL, g_train, o, NULL, NULL), DEIT_E_INVALID_ARG,
                    "weight_decay = -0.500000; expected a value >= 0, or -1 for the optimizer's default");
}

static void test_determinism(void **state) {
  (void)state;
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  o.epochs = 2;
  o.batch_size = 32;
  o.seed = 5;
  o.distillation = DEIT_DISTILL_HARD;
  double losses[2][2];
  for (int run = 0; run < 2; ++run) distill_recorded(11, g_teacher, g_train, o, losses[run]);
  assert_true(losses[0][0] == losses[1][0]);
  assert_true(losses[0][1] == losses[1][1]);
}

/* The teacher-logit cache is exact: a run that computes the frozen teacher's
 * logits once follows the same loss trajectory as a run that calls the
 * teacher at every step (soft distillation, where the teacher's logits enter
 * the loss directly). */
static void test_teacher_logit_cache_is_exact(void **state) {
  (void)state;
  double losses[2][3];
  for (int cached = 0; cached < 2; ++cached) {
    deit_distill_options o;
    assert_ok(deit_distill_options_init(&o));
    o.epochs = 3;
    o.batch_size = 32;
    o.seed = 9;
    o.distillation = DEIT_DISTILL_SOFT;
    o.cache_teacher_logits = cached;
    distill_recorded(13, g_teacher, g_train, o, losses[cached]);
  }
  for (int e = 0; e < 3; ++e) {
    printf("epoch %d loss: teacher every step %.9f, cached logits %.9f\n", e + 1, losses[0][e], losses[1][e]);
    /* The teacher's convolutions run on batches of 256 instead of 32: float
     * rounding may differ, nothing else. */
    assert_true(fabs(losses[0][e] - losses[1][e]) <= 1e-5 * fabs(losses[0][e]));
  }
}

/* One short soft distillation with the logits kept in `path`; returns the
 * number of progress calls of the teacher-logit pass and the epoch losses. */
static int distill_with_logit_file(deit_teacher *teacher, const deit_dataset *train, const char *path,
                                   double losses[2]) {
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  o.epochs = 2;
  o.batch_size = 32;
  o.seed = 4;
  o.teacher_logits_path = path;
  return distill_recorded(21, teacher, train, o, losses);
}

static long file_size(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

/* The on-disk teacher-logit cache: written on the first run, used by the
 * next (no teacher pass, the same losses), recomputed when the data or the
 * teacher changes or the file is not a cache, refused without
 * cache_teacher_logits. */
static void test_teacher_logit_file(void **state) {
  (void)state;
  const char *path = deit_test_path("teacher-logits.safetensors");
  remove(path);
  double first[2], again[2], other[2];
  assert_true(distill_with_logit_file(g_teacher, g_train, path, first) > 0);
  const long size = file_size(path);
  assert_true(size > (long)(N_TRAIN * CLASSES * sizeof(float)));
  assert_int_equal(distill_with_logit_file(g_teacher, g_train, path, again), 0);
  assert_true(first[0] == again[0] && first[1] == again[1]);

  /* Other data: the first 200 images (same images, fewer of them). */
  deit_dataset *fewer = NULL;
  assert_ok(deit_dataset_subset_first(g_train, 200, &fewer));
  assert_true(distill_with_logit_file(g_teacher, fewer, path, other) > 0);
  assert_true(file_size(path) < size - (long)((N_TRAIN - 200) * CLASSES * sizeof(float)) + 64);
  assert_int_equal(distill_with_logit_file(g_teacher, fewer, path, other), 0);
  deit_dataset_free(fewer);

  /* Another teacher: same architecture, other weights. */
  deit_teacher *fresh = make_teacher();
  assert_true(distill_with_logit_file(fresh, g_train, path, other) > 0);
  assert_true(other[0] != first[0]);
  assert_int_equal(distill_with_logit_file(fresh, g_train, path, other), 0);
  /* ... and back: recomputed for the first teacher, same losses as at first. */
  assert_true(distill_with_logit_file(g_teacher, g_train, path, again) > 0);
  assert_true(first[0] == again[0] && first[1] == again[1]);
  deit_teacher_free(fresh);

  /* A file that is not a logit cache is replaced, not trusted. */
  deit_test_write_file(path, "not a safetensors file", 22);
  assert_true(distill_with_logit_file(g_teacher, g_train, path, again) > 0);
  assert_int_equal(file_size(path), size);
  assert_true(first[0] == again[0] && first[1] == again[1]);

  deit_student *s = make_student(21);
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  o.epochs = 1;
  o.cache_teacher_logits = 0;
  o.teacher_logits_path = path;
  assert_status_msg(deit_distill(s, g_teacher, g_train, &o), DEIT_E_INVALID_ARG, "teacher_logits_path");
  deit_student_free(s);
  remove(path);
}

/* The frozen teacher is not changed by distillation: its parameters, its
 * BatchNorm running statistics (a teacher in train mode would update them
 * even under no_grad) and so its logits are bit-identical afterwards, with
 * the teacher run at every step and with its logits cached. */
static void test_teacher_untouched_by_distillation(void **state) {
  (void)state;
  assert_non_null(g_teacher);
  const char *before = deit_test_path("teacher-before.safetensors");
  const char *after = deit_test_path("teacher-after.safetensors");
  assert_ok(deit_teacher_save(g_teacher, before));
  float lb[8 * CLASSES], la[8 * CLASSES];
  teacher_logits(g_teacher, 8, lb);
  for (int cached = 0; cached < 2; ++cached) {
    deit_student *s = make_student(17);
    deit_distill_options o;
    assert_ok(deit_distill_options_init(&o));
    o.epochs = 1;
    o.batch_size = 32;
    o.cache_teacher_logits = cached;
    assert_ok(deit_distill(s, g_teacher, g_train, &o));
    deit_student_free(s);
    assert_ok(deit_teacher_save(g_teacher, after));
    if (!deit_test_files_equal(before, after))
      fail_msg("distillation (cache_teacher_logits %d) changed the teacher's checkpoint", cached);
    teacher_logits(g_teacher, 8, la);
    assert_memory_equal(la, lb, sizeof la);
  }
}

/* Trains `t` one epoch on 64 images with `trainable` and reports which
 * tensors changed: *fc (fc.weight and fc.bias both), *frozen_same (every
 * parameter outside fc byte-equal), *stats (every BatchNorm running_mean
 * and running_var changed). */
static void fine_tune_and_compare(deit_teacher *t, deit_trainable trainable, int *fc, int *frozen_same, int *stats) {
  const char *before = deit_test_path("fine-tune-before.safetensors");
  const char *after = deit_test_path("fine-tune-after.safetensors");
  assert_ok(deit_teacher_set_device(t, "cpu"));
  assert_ok(deit_teacher_save(t, before));
  deit_dataset *few = NULL;
  assert_ok(deit_dataset_subset_first(g_train, 64, &few));
  deit_teacher_train_options o;
  assert_ok(deit_teacher_train_options_init(&o));
  o.epochs = 1;
  o.batch_size = 16;
  o.trainable = trainable;
  assert_ok(deit_teacher_train(t, few, &o));
  deit_dataset_free(few);
  assert_ok(deit_teacher_save(t, after));
  deit_test_safetensors b, a;
  deit_test_safetensors_read(before, &b);
  deit_test_safetensors_read(after, &a);
  assert_int_equal(a.count, b.count);
  *fc = *frozen_same = *stats = 1;
  int n_stats = 0;
  for (int i = 0; i < b.count; ++i) {
    const deit_test_tensor *x = &b.tensors[i];
    const int same = deit_test_tensors_equal(x, deit_test_safetensors_find(&a, x->name));
    const char *dot = strrchr(x->name, '.');
    if (starts_with(x->name, "fc.")) {
      if (same) *fc = 0;
    } else if (strcmp(dot, ".running_mean") == 0 || strcmp(dot, ".running_var") == 0) {
      n_stats++;
      if (same) *stats = 0;
    } else if (strcmp(dot, ".num_batches_tracked") != 0) {
      if (!same) {
        if (*frozen_same) printf("  %s changed\n", x->name);
        *frozen_same = 0;
      }
    }
  }
  assert_true(n_stats >= 2 * 20); /* ResNet-18: 20 BatchNorm layers */
  deit_test_safetensors_free(&b);
  deit_test_safetensors_free(&a);
}

/* The notebook's fine-tuning: with pretrained weights only fc learns, while
 * BatchNorm's running statistics adapt to the new data (train mode).
 * DEIT_TRAIN_AUTO means head-only after deit_teacher_load_weights and all
 * layers for a teacher trained from scratch. */
static void test_head_only_fine_tuning(void **state) {
  (void)state;
  const char *w = deit_test_path("pretrained-resnet18.safetensors");
  deit_teacher *source = make_teacher();
  assert_ok(deit_teacher_save(source, w));
  deit_teacher_free(source);
  struct {
    int pretrained;
    deit_trainable trainable;
    int head_only;
  } cases[] = {{1, DEIT_TRAIN_AUTO, 1}, {1, DEIT_TRAIN_HEAD, 1}, {1, DEIT_TRAIN_ALL, 0},
               {0, DEIT_TRAIN_AUTO, 0}, {0, DEIT_TRAIN_HEAD, 1}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    deit_teacher *t = make_teacher();
    if (cases[i].pretrained) assert_ok(deit_teacher_load_weights(t, w));
    int fc = 0, frozen_same = 0, stats = 0;
    fine_tune_and_compare(t, cases[i].trainable, &fc, &frozen_same, &stats);
    printf("pretrained %d trainable %d: fc changed %d, all other parameters equal %d, BN statistics changed %d\n",
           cases[i].pretrained, (int)cases[i].trainable, fc, frozen_same, stats);
    assert_true(fc);
    assert_true(stats);
    assert_int_equal(frozen_same, cases[i].head_only);
    deit_teacher_free(t);
  }
}

/* Dropout is active in training and only there: from the same weights, the
 * first training step's loss differs with dropout 0.1 after attention/in
 * the MLP, with attention dropout 0.1, and without dropout; eval-mode
 * logits are the same for all three. */
static void test_dropout_active_in_training(void **state) {
  (void)state;
  const double rates[3][2] = {{0.0, 0.0}, {0.1, 0.0}, {0.0, 0.1}};
  double loss[3];
  float logits[3][8 * CLASSES];
  uint8_t pix[8 * SIDE * SIDE];
  assert_ok(deit_dataset_copy_images(g_test, 0, 8, pix, sizeof pix));
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, 8, 1, SIDE, SIDE};
  deit_dataset *batch = NULL;
  assert_ok(deit_dataset_subset_first(g_train, 32, &batch));
  for (int i = 0; i < 3; ++i) {
    deit_student *s = make_student_with_dropout(5, rates[i][0], rates[i][1]);
    assert_ok(deit_student_predict(s, &im, DEIT_HEAD_AVG, logits[i], 8 * CLASSES));
    deit_distill_options o;
    assert_ok(deit_distill_options_init(&o));
    o.epochs = 1;
    o.batch_size = 32; /* one step: the reported loss is that of the first forward pass */
    o.distillation = DEIT_DISTILL_NONE;
    struct progress_log log = {0};
    o.progress = record_progress;
    o.user_data = &log;
    assert_ok(deit_distill(s, NULL, batch, &o));
    assert_progress_sane(&log);
    assert_int_equal(log.epochs_ended, 1);
    loss[i] = log.last_epoch_loss[0];
    printf("dropout %.1f attn_dropout %.1f: first-step loss %.9f\n", rates[i][0], rates[i][1], loss[i]);
    deit_student_free(s);
  }
  deit_dataset_free(batch);
  assert_true(loss[1] != loss[0]);
  assert_true(loss[2] != loss[0]);
  assert_true(loss[2] != loss[1]);
  assert_memory_equal(logits[0], logits[1], sizeof logits[0]);
  assert_memory_equal(logits[0], logits[2], sizeof logits[0]);
}

static deit_distill_options resume_options(void) {
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  o.epochs = 2;
  o.batch_size = 1; /* 256 steps an epoch (> 0.2 s anywhere): progress is reported before an epoch's end */
  o.seed = 3;
  o.distillation = DEIT_DISTILL_SOFT;
  o.cache_teacher_logits = 1;
  return o;
}

/* A distillation stopped mid-epoch and resumed from its state ends with the
 * weights of a run never stopped, bit for bit; a state written with other
 * settings is refused, and the message names the setting. */
static void test_resume_is_bit_exact(void **state) {
  (void)state;
  assert_non_null(g_teacher);
  const char *whole = deit_test_path("resume-whole.safetensors");
  const char *resumed = deit_test_path("resume-resumed.safetensors");
  const char *state_path = deit_test_path("resume-state.safetensors");
  remove(state_path);
  deit_distill_options o = resume_options();
  assert_ok(distill_to_file(31, g_teacher, g_train, o, NULL, whole));

  o.state_path = state_path;
  o.state_every_steps = 5;
  struct progress_log log = {0};
  log.cancel_mid_epoch = 2 * o.state_every_steps;
  assert_status_msg(distill_to_file(31, g_teacher, g_train, o, &log, NULL), DEIT_E_CANCELLED, "cancelled");
  assert_progress_sane(&log);
  printf("cancelled at epoch %d, step %lld of %lld\n", log.cancelled_at.epoch, (long long)log.cancelled_at.step,
         (long long)log.cancelled_at.steps);
  /* The state was written mid-epoch: more than state_every_steps steps into it. */
  assert_true(log.cancelled_at.step > o.state_every_steps && log.cancelled_at.step < log.cancelled_at.steps);

  /* Settings that differ are refused by name. */
  deit_distill_options other = o;
  other.resume = 1;
  other.alpha = 0.25;
  assert_status_msg(distill_to_file(31, g_teacher, g_train, other, NULL, NULL), DEIT_E_INVALID_ARG, "alpha was 0.5, now 0.25");
  other = o;
  other.resume = 1;
  other.temperature = 3;
  assert_status_msg(distill_to_file(31, g_teacher, g_train, other, NULL, NULL), DEIT_E_INVALID_ARG, "T was 2, now 3");
  {
    deit_student_config cfg;
    assert_ok(deit_student_config_init(&cfg, "seed", CLASSES));
    cfg.mlp_dim = 128;
    cfg.ln_eps = 1e-6;
    deit_student *s = NULL;
    assert_ok(deit_student_create(&cfg, 31, &s));
    assert_ok(deit_student_set_device(s, "cpu"));
    other = o;
    other.resume = 1;
    assert_status_msg(deit_distill(s, g_teacher, g_train, &other), DEIT_E_INVALID_ARG, "ln_eps was 1.0000000000000001e-05, now 9.9999999999999995e-07");
    deit_student_free(s);
  }

  /* The resumed run starts from another student: the state's weights,
   * optimizer moments and position are what count. */
  o.resume = 1;
  assert_ok(distill_to_file(99, g_teacher, g_train, o, NULL, resumed));
  assert_true(deit_test_files_equal(whole, resumed));
  remove(state_path);
}

/* A cancel keeps the weights of the last full step: a 3-epoch run cancelled
 * at the end of its first epoch holds the weights of a 1-epoch run.  The
 * student stays usable. */
static void test_cancel_keeps_last_full_step(void **state) {
  (void)state;
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  o.batch_size = 16;
  o.epochs = 1;
  o.seed = 8;
  const char *one = deit_test_path("one-epoch.safetensors"), *cut = deit_test_path("cancelled.safetensors");
  assert_ok(distill_to_file(9, g_teacher, g_train, o, NULL, one));
  o.epochs = 3;
  struct progress_log log = {0};
  log.cancel_after_epoch = 1;
  deit_student *s = make_student(9);
  o.progress = record_progress;
  o.user_data = &log;
  assert_status_msg(deit_distill(s, g_teacher, g_train, &o), DEIT_E_CANCELLED, "cancelled");
  assert_progress_sane(&log);
  assert_true(log.cancelled_at.end_of_epoch && log.cancelled_at.epoch == 1);
  assert_ok(deit_student_save(s, cut));
  assert_true(deit_test_files_equal(one, cut));
  deit_eval_result r = {.struct_size = sizeof r};
  assert_ok(deit_student_evaluate(s, g_test, &r, NULL, 0));
  assert_int_equal(r.count, N_TEST);
  deit_student_free(s);
}

/* Fraction of `n` test images on which the student's `head` picks the class
 * `want` gives (want == NULL: the test labels). */
static double head_agreement(deit_student *s, deit_head head, const deit_dataset *data, const int32_t *want) {
  enum { N = N_TEST };
  static uint8_t pix[N * SIDE * SIDE];
  int32_t labels[N], got[N];
  assert_ok(deit_dataset_copy_images(data, 0, N, pix, sizeof pix));
  assert_ok(deit_dataset_copy_labels(data, 0, N, labels, N));
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, N, 1, SIDE, SIDE};
  assert_ok(deit_student_classify(s, &im, head, got, N));
  int same = 0;
  for (int i = 0; i < N; ++i) same += got[i] == (want ? want[i] : labels[i]);
  return (double)same / N;
}

/* The distillation head learns the teacher, the class head the labels: on a
 * task whose labels are shifted by one class against what the teacher
 * learned, the dist head agrees with the teacher's predictions and not with
 * the labels (soft and hard), the class head the other way round. */
static void test_dist_head_learns_the_teacher(void **state) {
  (void)state;
  assert_non_null(g_teacher);
  deit_dataset *shifted_train = make_shifted_task(N_TRAIN, 1, 1);
  deit_dataset *shifted_test = make_shifted_task(N_TEST, 2, 1);
  static uint8_t pix[N_TEST * SIDE * SIDE];
  float logits[N_TEST * CLASSES];
  int32_t teacher_says[N_TEST];
  assert_ok(deit_dataset_copy_images(shifted_test, 0, N_TEST, pix, sizeof pix));
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, N_TEST, 1, SIDE, SIDE};
  assert_ok(deit_teacher_predict(g_teacher, &im, logits, N_TEST * CLASSES));
  for (int i = 0; i < N_TEST; ++i) {
    int best = 0;
    for (int k = 1; k < CLASSES; ++k)
      if (logits[i * CLASSES + k] > logits[i * CLASSES + best]) best = k;
    teacher_says[i] = best;
  }
  const deit_distillation types[2] = {DEIT_DISTILL_SOFT, DEIT_DISTILL_HARD};
  for (int i = 0; i < 2; ++i) {
    deit_student *s = make_student(41);
    deit_distill_options o;
    assert_ok(deit_distill_options_init(&o));
    o.epochs = 4;
    o.batch_size = 16;
    o.distillation = types[i];
    assert_ok(deit_distill(s, g_teacher, shifted_train, &o));
    const double dist_teacher = head_agreement(s, DEIT_HEAD_DIST, shifted_test, teacher_says);
    const double dist_labels = head_agreement(s, DEIT_HEAD_DIST, shifted_test, NULL);
    const double cls_labels = head_agreement(s, DEIT_HEAD_CLS, shifted_test, NULL);
    const double cls_teacher = head_agreement(s, DEIT_HEAD_CLS, shifted_test, teacher_says);
    printf("%s: dist head agrees with the teacher %.3f, the labels %.3f; class head with the labels %.3f, "
           "the teacher %.3f\n",
           i ? "hard" : "soft", dist_teacher, dist_labels, cls_labels, cls_teacher);
    assert_true(dist_teacher > 0.6);
    assert_true(dist_labels < 0.4);
    assert_true(cls_labels > 0.6);
    assert_true(cls_teacher < 0.4);
    deit_student_free(s);
  }
  deit_dataset_free(shifted_train);
  deit_dataset_free(shifted_test);
}

/* Soft: KL(softmax(t/T) || softmax(s/T)) * T^2, batch mean; computed by hand. */
static double kl_by_hand(const float *s, const float *t, int n, int c, double T) {
  double total = 0;
  for (int i = 0; i < n; ++i) {
    double zs = 0, zt = 0;
    for (int k = 0; k < c; ++k) {
      zs += exp(s[i * c + k] / T);
      zt += exp(t[i * c + k] / T);
    }
    for (int k = 0; k < c; ++k) {
      double pt = exp(t[i * c + k] / T) / zt, ps = exp(s[i * c + k] / T) / zs;
      total += pt * (log(pt) - log(ps));
    }
  }
  return total / n * T * T;
}

static double ce_by_hand(const float *s, const int64_t *y, int n, int c) {
  double total = 0;
  for (int i = 0; i < n; ++i) {
    double z = 0;
    for (int k = 0; k < c; ++k) z += exp(s[i * c + k]);
    total += log(z) - s[i * c + y[i]];
  }
  return total / n;
}

static void test_losses_match_hand_computation(void **state) {
  (void)state;
  const float cls[6] = {1.0f, -0.5f, 0.25f, 0.0f, 2.0f, -1.0f};
  const float dist[6] = {0.3f, 0.1f, -0.2f, 1.5f, -0.5f, 0.7f};
  const float teach[6] = {2.0f, 0.0f, -1.0f, -0.3f, 0.2f, 3.0f};
  const int64_t y[2] = {0, 1};
  double loss, lc, ld;
  const double ce_cls = ce_by_hand(cls, y, 2, 3);
  for (double T = 0.5; T <= 4.0; T *= 2) {
    assert_ok(deit_distillation_loss(cls, dist, teach, y, 2, 3, DEIT_DISTILL_SOFT, 0.5, T, 0.0, &loss, &lc, &ld));
    assert_true(fabs(ld - kl_by_hand(dist, teach, 2, 3, T)) < 1e-9);
    assert_true(fabs(lc - ce_cls) < 1e-9);
    assert_true(fabs(loss - (0.5 * ld + 0.5 * lc)) < 1e-12);
  }
  /* alpha weights the parts. */
  assert_ok(deit_distillation_loss(cls, dist, teach, y, 2, 3, DEIT_DISTILL_SOFT, 0.25, 2.0, 0.0, &loss, &lc, &ld));
  assert_true(fabs(loss - (0.25 * ld + 0.75 * lc)) < 1e-12);
  /* Hard: CE of the dist head against the teacher's argmax (0 and 2 here). */
  const int64_t teacher_argmax[2] = {0, 2};
  assert_ok(deit_distillation_loss(cls, dist, teach, y, 2, 3, DEIT_DISTILL_HARD, 0.5, 2.0, 0.0, &loss, &lc, &ld));
  assert_true(fabs(ld - ce_by_hand(dist, teacher_argmax, 2, 3)) < 1e-9);
  /* None ignores the teacher: NULL is fine, and the value equals CE on labels. */
  assert_ok(deit_distillation_loss(cls, dist, NULL, y, 2, 3, DEIT_DISTILL_NONE, 0.5, 2.0, 0.0, &loss, &lc, &ld));
  assert_true(fabs(ld - ce_by_hand(dist, y, 2, 3)) < 1e-9);
  /* Identical teacher and student distributions: zero KL. */
  assert_ok(deit_distillation_loss(cls, teach, teach, y, 2, 3, DEIT_DISTILL_SOFT, 1.0, 3.0, 0.0, &loss, NULL, NULL));
  assert_true(fabs(loss) < 1e-12);
  /* Bad arguments. */
  assert_status_msg(deit_distillation_loss(cls, dist, teach, y, 2, 3, DEIT_DISTILL_SOFT, 1.5, 2.0, 0.0, &loss, NULL, NULL),
                    DEIT_E_INVALID_ARG, "alpha");
  assert_status_msg(deit_distillation_loss(cls, dist, teach, y, 2, 3, DEIT_DISTILL_SOFT, 0.5, 0.0, 0.0, &loss, NULL, NULL),
                    DEIT_E_INVALID_ARG, "temperature");
  assert_status_msg(deit_distillation_loss(cls, dist, NULL, y, 2, 3, DEIT_DISTILL_SOFT, 0.5, 2.0, 0.0, &loss, NULL, NULL),
                    DEIT_E_INVALID_ARG, "teacher_logits is NULL");
  const int64_t bad_y[2] = {0, 3};
  assert_status_msg(deit_distillation_loss(cls, dist, teach, bad_y, 2, 3, DEIT_DISTILL_SOFT, 0.5, 2.0, 0.0, &loss, NULL, NULL),
                    DEIT_E_INVALID_ARG, "labels[1] = 3");
  assert_status_msg(deit_distillation_loss(cls, dist, teach, y, 2, 3, (deit_distillation)9, 0.5, 2.0, 0.0, &loss, NULL, NULL),
                    DEIT_E_INVALID_ARG, "distillation 9");
}

static void test_student_checkpoint_round_trip(void **state) {
  (void)state;
  deit_student *s = make_student(21);
  const char *p1 = deit_test_path("student1.safetensors");
  const char *p2 = deit_test_path("student2.safetensors");
  assert_ok(deit_student_save(s, p1));
  deit_student *loaded = NULL;
  assert_ok(deit_student_load(p1, &loaded));
  assert_ok(deit_student_set_device(loaded, "cpu"));
  assert_ok(deit_student_save(loaded, p2));
  assert_true(deit_test_files_equal(p1, p2));
  deit_student_config a = {.struct_size = sizeof a}, b = {.struct_size = sizeof b};
  assert_ok(deit_student_get_config(s, &a));
  assert_ok(deit_student_get_config(loaded, &b));
  assert_memory_equal(&a, &b, sizeof a);
  int64_t pa = 0, pb = 0;
  assert_ok(deit_student_num_params(s, &pa));
  assert_ok(deit_student_num_params(loaded, &pb));
  assert_int_equal(pa, pb);
  uint8_t pix[4 * SIDE * SIDE];
  assert_ok(deit_dataset_copy_images(g_test, 0, 4, pix, sizeof pix));
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, 4, 1, SIDE, SIDE};
  float la[4 * CLASSES], lb[4 * CLASSES];
  assert_ok(deit_student_predict(s, &im, DEIT_HEAD_AVG, la, 4 * CLASSES));
  assert_ok(deit_student_predict(loaded, &im, DEIT_HEAD_AVG, lb, 4 * CLASSES));
  assert_memory_equal(la, lb, sizeof la);
  /* No temp file is left beside the checkpoint. */
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep -v '^student[12].safetensors$' | grep tmp)\"", deit_test_dir());
  assert_int_equal(system(cmd), 0);
  /* describe: ask for the size, then read the JSON. */
  size_t needed = 0;
  assert_status_msg(deit_checkpoint_describe(p1, NULL, 0, &needed), DEIT_E_BUFFER_TOO_SMALL, "capacity 0");
  assert_true(needed > 100);
  char *json = malloc(needed);
  assert_ok(deit_checkpoint_describe(p1, json, needed, NULL));
  assert_int_equal(strlen(json) + 1, needed);
  assert_non_null(strstr(json, "\"kind\":\"student\""));
  assert_non_null(strstr(json, "\"blocks.0.attn.qkv.weight\""));
  char params[64];
  snprintf(params, sizeof params, "\"params\":%lld", (long long)pa);
  assert_non_null(strstr(json, params));
  free(json);
  /* A truncated or corrupted copy is refused with a message naming the file. */
  FILE *f = fopen(p1, "rb");
  assert_non_null(f);
  static unsigned char bytes[1 << 22];
  size_t size = fread(bytes, 1, sizeof bytes, f);
  fclose(f);
  assert_true(size > 1000 && size < sizeof bytes);
  const char *cut = deit_test_path("cut.safetensors");
  deit_test_write_file(cut, bytes, size - 100);
  deit_student *bad = NULL;
  assert_status_msg(deit_student_load(cut, &bad), DEIT_E_FORMAT, cut);
  assert_null(bad);
  const char *flipped = deit_test_path("flipped.safetensors");
  bytes[9] ^= 0x55; /* inside the JSON header */
  deit_test_write_file(flipped, bytes, size);
  assert_status_msg(deit_student_load(flipped, &bad), DEIT_E_FORMAT, flipped);
  assert_null(bad);
  /* A student checkpoint does not fit a ResNet: the message names a tensor. */
  deit_teacher *r18 = NULL;
  assert_ok(deit_teacher_create("resnet18", CLASSES, &r18));
  assert_status_msg(deit_teacher_load_weights(r18, p1), DEIT_E_FORMAT, "tensor '");
  deit_teacher_free(r18);
  /* A student checkpoint is not a teacher, and vice versa. */
  deit_teacher *t = NULL;
  assert_status_msg(deit_teacher_load(p1, &t), DEIT_E_FORMAT, "student");
  assert_null(t);
  deit_student_free(s);
  deit_student_free(loaded);
}

/* ONNX export's contract in C (tests/pretrained/test_onnx_export.py runs the files in onnxruntime):
 * options NULL or as newer headers make them, bad arguments refused before anything is written, and a
 * path that cannot be written leaves nothing behind. */
static void test_onnx_export(void **state) {
  (void)state;
  deit_student *s = make_student(23);
  const char *path = deit_test_path("student.onnx");
  assert_ok(deit_student_export_onnx(s, path, NULL));
  int64_t params = 0;
  assert_ok(deit_student_num_params(s, &params));
  const long avg_size = file_size(path);
  assert_true(avg_size > params * 4); /* every weight, as float32 */

  /* A one-head model leaves the other head's weights out; a newer header's larger struct is read up to
   * the fields this library knows. */
  struct {
    deit_onnx_options o;
    unsigned char newer_fields[64];
  } big;
  memset(&big, 0x5A, sizeof big);
  assert_ok(deit_onnx_options_init_sized(&big.o, sizeof big));
  assert_int_equal(big.o.struct_size, sizeof big);
  assert_int_equal(big.o.head, DEIT_HEAD_AVG);
  big.o.head = DEIT_HEAD_CLS;
  assert_ok(deit_student_export_onnx(s, path, &big.o));
  const long cls_size = file_size(path);
  assert_true(cls_size > 0 && cls_size < avg_size);

  /* Refused before anything is written. */
  const char *never = deit_test_path("never.onnx");
  deit_onnx_options o;
  assert_ok(deit_onnx_options_init(&o));
  o.head = (deit_head)7;
  assert_status_msg(deit_student_export_onnx(s, never, &o), DEIT_E_INVALID_ARG, "options->head");
  o.head = DEIT_HEAD_AVG;
  o.struct_size = 0;
  assert_status_msg(deit_student_export_onnx(s, never, &o), DEIT_E_INVALID_ARG, "struct_size");
  assert_status_msg(deit_student_export_onnx(NULL, never, NULL), DEIT_E_INVALID_ARG, "student");
  assert_status_msg(deit_student_export_onnx(s, NULL, NULL), DEIT_E_INVALID_ARG, "path");
  assert_status_msg(deit_onnx_options_init_sized(NULL, sizeof o), DEIT_E_INVALID_ARG, "options");
  assert_int_equal(file_size(never), -1);

  /* Paths that cannot be written: DEIT_E_IO naming the path, and no file or temp file left. */
  const char *missing_dir = deit_test_path("no-such-dir/student.onnx");
  assert_status_msg(deit_student_export_onnx(s, missing_dir, NULL), DEIT_E_IO, missing_dir);
  const char *a_dir = deit_test_path("a-directory");
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", a_dir);
  assert_int_equal(system(cmd), 0);
  assert_status_msg(deit_student_export_onnx(s, a_dir, NULL), DEIT_E_IO, a_dir);
  snprintf(cmd, sizeof cmd, "test -d '%s' && test -z \"$(ls -A '%s')\" && test -z \"$(ls -A '%s' | grep tmp)\"",
           a_dir, a_dir, deit_test_dir());
  assert_int_equal(system(cmd), 0);
  /* The model written before is still whole. */
  assert_int_equal(file_size(path), cls_size);
  deit_student_free(s);
}

static void test_teacher_checkpoint_and_pretrained_weights(void **state) {
  (void)state;
  assert_non_null(g_teacher);
  /* A reloaded teacher is the same teacher: saved again it gives the same
   * bytes, and the same logits bit for bit. */
  const char *p = deit_test_path("teacher.safetensors"), *again = deit_test_path("teacher-again.safetensors");
  assert_ok(deit_teacher_save(g_teacher, p));
  deit_teacher *t = NULL;
  assert_ok(deit_teacher_load(p, &t));
  assert_ok(deit_teacher_set_device(t, "cpu"));
  assert_ok(deit_teacher_save(t, again));
  assert_true(deit_test_files_equal(p, again));
  float la[8 * CLASSES], lb[8 * CLASSES];
  teacher_logits(g_teacher, 8, la);
  teacher_logits(t, 8, lb);
  assert_memory_equal(la, lb, sizeof la);
  char arch[32];
  assert_ok(deit_teacher_get_arch(t, arch, sizeof arch));
  assert_string_equal(arch, "resnet18");
  assert_status_msg(deit_teacher_get_arch(t, arch, 4), DEIT_E_BUFFER_TOO_SMALL, "capacity");
  deit_teacher_free(t);

  /* Weights of a 1000-class model (ImageNet's head) load into a 10-class
   * teacher: every tensor but fc is taken, fc stays fresh. */
  deit_teacher *imagenet = NULL, *task = NULL;
  assert_ok(deit_teacher_create("resnet18", 1000, &imagenet));
  /* Weights that differ from what deit_teacher_create gives the 10-class
   * teacher: a few training steps (on 1000 outputs, of which 4 are used). */
  deit_dataset *few = NULL;
  assert_ok(deit_dataset_subset_first(g_train, 32, &few));
  deit_teacher_train_options to;
  assert_ok(deit_teacher_train_options_init(&to));
  to.epochs = 1;
  to.batch_size = 16;
  assert_ok(deit_teacher_set_device(imagenet, "cpu"));
  assert_ok(deit_teacher_train(imagenet, few, &to));
  deit_dataset_free(few);
  const char *w = deit_test_path("resnet18-1000.safetensors");
  const char *fresh_path = deit_test_path("resnet18-10-fresh.safetensors");
  const char *loaded_path = deit_test_path("resnet18-10-loaded.safetensors");
  assert_ok(deit_teacher_save(imagenet, w));
  assert_ok(deit_teacher_create("resnet18", 10, &task));
  assert_ok(deit_teacher_save(task, fresh_path));
  assert_ok(deit_teacher_load_weights(task, w));
  assert_ok(deit_teacher_save(task, loaded_path));
  int32_t nc = 0;
  assert_ok(deit_teacher_num_classes(task, &nc));
  assert_int_equal(nc, 10);
  deit_test_safetensors src, fresh, loaded;
  deit_test_safetensors_read(w, &src);
  deit_test_safetensors_read(fresh_path, &fresh);
  deit_test_safetensors_read(loaded_path, &loaded);
  assert_int_equal(loaded.count, src.count);
  int taken = 0, differs_from_fresh = 0;
  for (int i = 0; i < loaded.count; ++i) {
    const deit_test_tensor *got = &loaded.tensors[i];
    const deit_test_tensor *from_file = deit_test_safetensors_find(&src, got->name);
    const deit_test_tensor *from_create = deit_test_safetensors_find(&fresh, got->name);
    assert_non_null(from_file);
    assert_non_null(from_create);
    if (starts_with(got->name, "fc.")) {
      if (!deit_test_tensors_equal(got, from_create)) fail_msg("%s is not the fresh 10-class head", got->name);
    } else {
      if (!deit_test_tensors_equal(got, from_file)) fail_msg("%s was not taken from the weights file", got->name);
      taken++;
      differs_from_fresh += !deit_test_tensors_equal(got, from_create);
    }
  }
  assert_int_equal(taken, loaded.count - 2); /* fc.weight and fc.bias */
  /* The check can tell: the file's tensors are not those of a fresh model. */
  assert_true(differs_from_fresh > taken / 2);
  deit_test_safetensors_free(&src);
  deit_test_safetensors_free(&fresh);
  deit_test_safetensors_free(&loaded);
  /* A ResNet-50 file does not fit a ResNet-18: the message names a tensor. */
  deit_teacher *r50 = NULL;
  assert_ok(deit_teacher_create("resnet50", 10, &r50));
  assert_status_msg(deit_teacher_load_weights(r50, w), DEIT_E_FORMAT, "tensor '");
  deit_teacher_free(r50);
  deit_teacher_free(imagenet);
  deit_teacher_free(task);
}

static void test_bad_arguments(void **state) {
  (void)state;
  deit_student_config cfg;
  deit_student *s = NULL;
  deit_teacher *t = NULL;
  assert_status_msg(deit_student_config_init(&cfg, "deit-huge", 10), DEIT_E_INVALID_ARG, "deit-tiny");
  assert_status_msg(deit_student_config_init(NULL, "seed", 10), DEIT_E_INVALID_ARG, "config is NULL");
  assert_status_msg(deit_student_config_init(&cfg, "seed", 0), DEIT_E_INVALID_ARG, "num_classes");
  assert_ok(deit_student_config_init(&cfg, "seed", 10));
  assert_int_equal(cfg.img_size, 28);
  assert_int_equal(cfg.patch_size, 7);
  assert_int_equal(cfg.embed_dim, 32);
  assert_int_equal(cfg.depth, 4);
  assert_int_equal(cfg.num_heads, 4);
  assert_int_equal(cfg.mlp_dim, 2048);
  assert_int_equal(cfg.pre_norm, 0);
  cfg.patch_size = 5;
  assert_status_msg(deit_student_create(&cfg, 0, &s), DEIT_E_INVALID_ARG, "patch_size");
  assert_null(s);
  assert_ok(deit_student_config_init(&cfg, "seed", 10));
  cfg.num_heads = 3;
  assert_status_msg(deit_student_create(&cfg, 0, &s), DEIT_E_INVALID_ARG, "num_heads");
  cfg.struct_size = 0;
  assert_status_msg(deit_student_create(&cfg, 0, &s), DEIT_E_INVALID_ARG, "struct_size is 0");
  assert_ok(deit_student_config_init(&cfg, "deit-tiny", 10));
  assert_int_equal(cfg.img_size, 224);
  assert_int_equal(cfg.embed_dim, 192);
  assert_int_equal(cfg.pre_norm, 1);
  assert_int_equal(cfg.gelu, 1);
  assert_status_msg(deit_teacher_create("resnet19", 10, &t), DEIT_E_INVALID_ARG, "resnet50");
  assert_null(t);
  assert_status_msg(deit_teacher_create(NULL, 10, &t), DEIT_E_INVALID_ARG, "arch is NULL");
  assert_status_msg(deit_teacher_create("resnet18", 0, &t), DEIT_E_INVALID_ARG, "num_classes");
  assert_status_msg(deit_teacher_load("/nonexistent/t.safetensors", &t), DEIT_E_IO, "/nonexistent/t.safetensors");
  assert_status_msg(deit_student_load("/nonexistent/s.safetensors", &s), DEIT_E_IO, "/nonexistent/s.safetensors");
  /* Garbage as a checkpoint. */
  const char *junk = deit_test_path("junk.safetensors");
  deit_test_write_file(junk, "not a checkpoint at all", 23);
  assert_status_msg(deit_student_load(junk, &s), DEIT_E_FORMAT, junk);
  assert_status_msg(deit_teacher_load_torchscript(junk, 10, &t), DEIT_E_FORMAT, "TorchScript");

  /* Training options. */
  s = make_student(1);
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  o.batch_size = 32;
  o.struct_size = 0;
  assert_status_msg(deit_distill(s, g_teacher, g_train, &o), DEIT_E_INVALID_ARG, "struct_size");
  assert_ok(deit_distill_options_init(&o));
  o.epochs = 0;
  assert_status_msg(deit_distill(s, g_teacher, g_train, &o), DEIT_E_INVALID_ARG, "epochs");
  assert_ok(deit_distill_options_init(&o));
  o.batch_size = N_TRAIN + 1;
  assert_status_msg(deit_distill(s, g_teacher, g_train, &o), DEIT_E_INVALID_ARG, "batch_size");
  assert_ok(deit_distill_options_init(&o));
  o.lr = -1;
  assert_status_msg(deit_distill(s, g_teacher, g_train, &o), DEIT_E_INVALID_ARG, "lr");
  assert_ok(deit_distill_options_init(&o));
  o.temperature = 0;
  assert_status_msg(deit_distill(s, g_teacher, g_train, &o), DEIT_E_INVALID_ARG, "temperature");
  assert_ok(deit_distill_options_init(&o));
  o.device = "tpu";
  assert_status_msg(deit_distill(s, g_teacher, g_train, &o), DEIT_E_INVALID_ARG, "\"tpu\"");
  assert_status_msg(deit_distill(NULL, g_teacher, g_train, &o), DEIT_E_INVALID_ARG, "student is NULL");
  assert_status_msg(deit_distill(s, g_teacher, NULL, &o), DEIT_E_INVALID_ARG, "train is NULL");
  assert_status_msg(deit_distill(s, g_teacher, g_train, NULL), DEIT_E_INVALID_ARG, "options is NULL");
  /* Images of the wrong size for the model. */
  uint8_t pix[2 * 32 * 32] = {0};
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, 2, 1, 32, 32};
  float logits[2 * CLASSES];
  assert_status_msg(deit_student_predict(s, &im, DEIT_HEAD_AVG, logits, 2 * CLASSES), DEIT_E_INVALID_ARG, "1x32x32");
  im.height = im.width = SIDE;
  im.channels = 2;
  assert_status_msg(deit_student_predict(s, &im, DEIT_HEAD_AVG, logits, 2 * CLASSES), DEIT_E_INVALID_ARG, "2x28x28");
  im.channels = 1;
  assert_status_msg(deit_student_predict(s, &im, (deit_head)5, logits, 2 * CLASSES), DEIT_E_INVALID_ARG, "head 5");
  im.dtype = DEIT_DTYPE_F32;
  im.layout = DEIT_LAYOUT_NHWC;
  assert_status_msg(deit_student_predict(s, &im, DEIT_HEAD_AVG, logits, 2 * CLASSES), DEIT_E_INVALID_ARG, "NHWC");
  deit_eval_result r = {.struct_size = 0};
  assert_status_msg(deit_student_evaluate(s, g_test, &r, NULL, 0), DEIT_E_INVALID_ARG, "struct_size");
  r.struct_size = sizeof r;
  int64_t confusion[3];
  assert_status_msg(deit_student_evaluate(s, g_test, &r, confusion, 3), DEIT_E_BUFFER_TOO_SMALL, "confusion");
  /* A teacher for another number of classes. */
  deit_teacher *t10 = NULL;
  assert_ok(deit_teacher_create("resnet18", 10, &t10));
  assert_ok(deit_distill_options_init(&o));
  o.batch_size = 32;
  assert_status_msg(deit_distill(s, t10, g_train, &o), DEIT_E_INVALID_ARG, "10 classes");
  deit_teacher_free(t10);
  deit_student_free(s);
  deit_student_free(NULL);
  deit_teacher_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_losses_match_hand_computation),
      cmocka_unit_test(test_teacher_learns),
      cmocka_unit_test(test_student_distills),
      cmocka_unit_test(test_distill_none_needs_no_teacher),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_weight_decay_defaults_per_optimizer),
      cmocka_unit_test(test_teacher_logit_cache_is_exact),
      cmocka_unit_test(test_teacher_logit_file),
      cmocka_unit_test(test_teacher_untouched_by_distillation),
      cmocka_unit_test(test_head_only_fine_tuning),
      cmocka_unit_test(test_dropout_active_in_training),
      cmocka_unit_test(test_resume_is_bit_exact),
      cmocka_unit_test(test_cancel_keeps_last_full_step),
      cmocka_unit_test(test_dist_head_learns_the_teacher),
      cmocka_unit_test(test_student_checkpoint_round_trip),
      cmocka_unit_test(test_onnx_export),
      cmocka_unit_test(test_teacher_checkpoint_and_pretrained_weights),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
