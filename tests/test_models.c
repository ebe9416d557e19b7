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
 * pooled CNN both see it from the first step). */
static deit_dataset *make_task(int n, unsigned seed) {
  uint8_t *pix = malloc((size_t)n * SIDE * SIDE);
  int32_t *labels = malloc(sizeof(int32_t) * (size_t)n);
  srand(seed);
  for (int i = 0; i < n; ++i) {
    int k = i % CLASSES;
    labels[i] = k;
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

static deit_student *make_student(uint64_t seed) {
  deit_student_config cfg;
  assert_ok(deit_student_config_init(&cfg, "seed", CLASSES));
  cfg.mlp_dim = 128; /* small and fast; the rest is the notebook's model */
  deit_student *s = NULL;
  assert_ok(deit_student_create(&cfg, seed, &s));
  assert_ok(deit_student_set_device(s, "cpu"));
  return s;
}

static deit_teacher *make_teacher(void) {
  deit_teacher *t = NULL;
  assert_ok(deit_teacher_create("resnet18", CLASSES, &t));
  assert_ok(deit_teacher_set_device(t, "cpu"));
  return t;
}

struct progress_log {
  int calls;
  int epochs_ended;
  double last_epoch_loss[16];
  int cancel_at_call; /* 0: never */
  deit_phase last_phase;
  int logit_calls; /* calls in the teacher-logit pass */
};

static int record_progress(const deit_progress *p, void *user_data) {
  struct progress_log *log = user_data;
  log->calls++;
  log->last_phase = p->phase;
  if (p->phase == DEIT_PHASE_TEACHER_LOGITS) log->logit_calls++;
  assert_int_equal(p->struct_size, sizeof(deit_progress));
  assert_true(p->step >= 1 && p->step <= p->steps);
  assert_true(p->epoch >= 1 && p->epoch <= p->epochs);
  if (p->end_of_epoch && p->phase != DEIT_PHASE_TEACHER_LOGITS) {
    assert_int_equal(p->step, p->steps);
    if (p->epoch <= 16) log->last_epoch_loss[p->epoch - 1] = p->loss;
    log->epochs_ended++;
  }
  return log->cancel_at_call && log->calls >= log->cancel_at_call;
}

/* Shared across tests: training is the expensive part. */
static deit_dataset *g_train, *g_test;
static deit_teacher *g_teacher;

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

/* Distils a fresh make_student(student_seed) with `o`, recording progress;
 * returns the number of progress calls of the teacher-logit pass and puts
 * the o.epochs epoch losses into `losses`. */
static int distill_recorded(uint64_t student_seed, deit_teacher *teacher, const deit_dataset *train,
                            deit_distill_options o, double *losses) {
  deit_student *s = make_student(student_seed);
  struct progress_log log = {0};
  o.progress = record_progress;
  o.user_data = &log;
  assert_ok(deit_distill(s, teacher, train, &o));
  for (int e = 0; e < o.epochs; ++e) losses[e] = log.last_epoch_loss[e];
  deit_student_free(s);
  return log.logit_calls;
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

static void test_cancel_leaves_student_usable(void **state) {
  (void)state;
  deit_student *s = make_student(9);
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  o.batch_size = 8;
  o.epochs = 3;
  struct progress_log log = {0};
  log.cancel_at_call = 2;
  o.progress = record_progress;
  o.user_data = &log;
  assert_status_msg(deit_distill(s, g_teacher, g_train, &o), DEIT_E_CANCELLED, "cancelled");
  assert_int_equal(log.calls, 2);
  deit_eval_result r = {.struct_size = sizeof r};
  assert_ok(deit_student_evaluate(s, g_test, &r, NULL, 0));
  assert_int_equal(r.count, N_TEST);
  deit_student_free(s);
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

static int files_equal(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int same = fa && fb;
  while (same) {
    int ca = fgetc(fa), cb = fgetc(fb);
    if (ca != cb) same = 0;
    if (ca == EOF || cb == EOF) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
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
  assert_true(files_equal(p1, p2));
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

static void test_teacher_checkpoint_and_pretrained_weights(void **state) {
  (void)state;
  assert_non_null(g_teacher);
  const char *p = deit_test_path("teacher.safetensors");
  assert_ok(deit_teacher_save(g_teacher, p));
  deit_teacher *t = NULL;
  assert_ok(deit_teacher_load(p, &t));
  assert_ok(deit_teacher_set_device(t, "cpu"));
  char arch[32];
  assert_ok(deit_teacher_get_arch(t, arch, sizeof arch));
  assert_string_equal(arch, "resnet18");
  assert_status_msg(deit_teacher_get_arch(t, arch, 4), DEIT_E_BUFFER_TOO_SMALL, "capacity");
  deit_eval_result a = {.struct_size = sizeof a}, b = {.struct_size = sizeof b};
  assert_ok(deit_teacher_evaluate(g_teacher, g_test, &a, NULL, 0));
  assert_ok(deit_teacher_evaluate(t, g_test, &b, NULL, 0));
  assert_true(a.accuracy == b.accuracy && a.loss == b.loss);
  deit_teacher_free(t);

  /* Weights of a 1000-class model (ImageNet's head) load into a 10-class
   * teacher: every tensor but fc is taken, fc stays fresh. */
  deit_teacher *imagenet = NULL, *task = NULL;
  assert_ok(deit_teacher_create("resnet18", 1000, &imagenet));
  const char *w = deit_test_path("resnet18-1000.safetensors");
  assert_ok(deit_teacher_save(imagenet, w));
  assert_ok(deit_teacher_create("resnet18", 10, &task));
  assert_ok(deit_teacher_load_weights(task, w));
  int32_t nc = 0;
  assert_ok(deit_teacher_num_classes(task, &nc));
  assert_int_equal(nc, 10);
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
      cmocka_unit_test(test_teacher_logit_cache_is_exact),
      cmocka_unit_test(test_teacher_logit_file),
      cmocka_unit_test(test_cancel_leaves_student_usable),
      cmocka_unit_test(test_student_checkpoint_round_trip),
      cmocka_unit_test(test_teacher_checkpoint_and_pretrained_weights),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
