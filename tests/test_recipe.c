/* DeiT's recipe through the C API: augmentation options, the teacher run online on augmented batches,
 * determinism and resume with augmentation and drop path on, gradient clipping, and the teacher's schedule
 * and augmentation.  A small synthetic task (bar images) keeps it fast. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

enum { CLASSES = 4, SIDE = 28, N_TRAIN = 128 };

static deit_dataset *g_train;
static deit_teacher *g_teacher;
static deit_augment_options g_all; /* every op on */

static int setup(void **state) {
  (void)state;
  assert_ok(deit_set_num_threads(2));
  uint8_t *pix = malloc((size_t)N_TRAIN * SIDE * SIDE);
  int32_t labels[N_TRAIN];
  deit_test_bar_images(pix, labels, N_TRAIN, SIDE, CLASSES, 7);
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, N_TRAIN, 1, SIDE, SIDE};
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, CLASSES, &g_train));
  free(pix);
  assert_ok(deit_teacher_create("resnet18", CLASSES, &g_teacher));
  assert_ok(deit_teacher_set_device(g_teacher, "cpu"));
  assert_ok(deit_augment_options_init(&g_all));
  g_all.hflip = 1;
  g_all.erase_prob = 0.5;
  g_all.mixup_alpha = 0.8;
  g_all.cutmix_alpha = 1.0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  deit_teacher_free(g_teacher);
  deit_dataset_free(g_train);
  return 0;
}

static deit_student *make_student(uint64_t seed) {
  deit_student_config cfg;
  assert_ok(deit_student_config_init(&cfg, "seed", CLASSES));
  cfg.mlp_dim = 64;
  deit_student *s = NULL;
  assert_ok(deit_student_create(&cfg, seed, &s));
  assert_ok(deit_student_set_device(s, "cpu"));
  return s;
}

static deit_distill_options recipe_options(void) {
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  o.epochs = 2;
  o.batch_size = 16;
  o.seed = 4;
  o.optimizer = DEIT_OPTIM_ADAMW;
  o.schedule = DEIT_SCHEDULE_COSINE;
  o.warmup_epochs = 1;
  o.distillation = DEIT_DISTILL_SOFT;
  o.label_smoothing = 0.1;
  o.augment = &g_all;
  o.drop_path = 0.2;
  o.clip_grad = 1.0;
  return o;
}

struct counts {
  int logit_calls, train_calls;
};
static int count_phases(const deit_progress *p, void *user_data) {
  struct counts *c = user_data;
  if (p->phase == DEIT_PHASE_TEACHER_LOGITS) c->logit_calls++;
  else c->train_calls++;
  return 0;
}
struct cancel_at {
  int64_t step;
};
static int cancel_mid_epoch(const deit_progress *p, void *user_data) {
  const struct cancel_at *c = user_data;
  return p->phase == DEIT_PHASE_DISTILL && p->epoch == 1 && p->step > c->step && p->step < p->steps;
}

/* Distils make_student(11) with `o` and saves it to `out` (NULL: not saved). */
static deit_status distill_to(deit_distill_options o, const char *out) {
  deit_student *s = make_student(11);
  deit_status st = deit_distill(s, g_teacher, g_train, &o);
  if (out && st == DEIT_OK) assert_ok(deit_student_save(s, out));
  deit_student_free(s);
  return st;
}

static void test_augment_options(void **state) {
  (void)state;
  deit_augment_options a;
  memset(&a, 0xab, sizeof a);
  assert_ok(deit_augment_options_init(&a));
  assert_int_equal(a.struct_size, sizeof a);
  assert_int_equal(a.crop_padding, 4);
  assert_true(a.resized_crop_scale == 0.0 && a.hflip == 0 && a.erase_prob == 0.25);
  assert_true(a.mixup_alpha == 0.0 && a.cutmix_alpha == 0.0);
  assert_status_msg(deit_augment_options_init(NULL), DEIT_E_INVALID_ARG, "options is NULL");

  deit_distill_options o = recipe_options();
  o.epochs = 1;
  deit_augment_options bad = g_all;
  o.augment = &bad;
  bad.crop_padding = -1;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "crop_padding = -1");
  bad = g_all;
  bad.resized_crop_scale = 0.5;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "crop_padding and resized_crop_scale are both set");
  bad = g_all;
  bad.erase_prob = 1.5;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "erase_prob = 1.500000");
  bad = g_all;
  bad.mixup_alpha = -1;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "mixup_alpha = -1");
  bad = g_all;
  bad.struct_size = 0;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "augment->struct_size is 0");
  o.augment = &g_all;
  o.drop_path = 1.0;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "drop_path = 1.000000");
  o.drop_path = 0;
  o.clip_grad = -1;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "clip_grad = -1");
}

/* With augmentation the teacher sees every augmented batch: no logit pass, even with cache_teacher_logits;
 * without it the logits are computed once.  Augmentation changes the result; the same settings give the
 * same bytes. */
static void test_teacher_online_and_determinism(void **state) {
  (void)state;
  const char *a = deit_test_path("aug-a.safetensors"), *b = deit_test_path("aug-b.safetensors");
  const char *plain = deit_test_path("aug-plain.safetensors");
  deit_distill_options o = recipe_options();
  struct counts c = {0, 0};
  o.progress = count_phases;
  o.user_data = &c;
  assert_true(o.cache_teacher_logits == 1);
  assert_ok(distill_to(o, a));
  assert_int_equal(c.logit_calls, 0);
  assert_true(c.train_calls > 0);
  assert_ok(distill_to(o, b));
  assert_true(deit_test_files_equal(a, b));
  o.augment = NULL;
  c.logit_calls = 0;
  assert_ok(distill_to(o, plain));
  assert_true(c.logit_calls > 0);
  assert_false(deit_test_files_equal(a, plain));
  /* Each op alone changes the weights (it is applied). */
  o = recipe_options();
  deit_augment_options one;
  assert_ok(deit_augment_options_init(&one));
  one.crop_padding = 0;
  one.erase_prob = 0;
  o.augment = &one;
  assert_ok(distill_to(o, b)); /* an augment struct that changes nothing = no augmentation */
  o.augment = NULL;
  assert_ok(distill_to(o, plain));
  assert_true(deit_test_files_equal(b, plain));
  o.augment = &one;
  double *fields[] = {&one.erase_prob, &one.mixup_alpha, &one.cutmix_alpha};
  for (int i = 0; i < 3; ++i) {
    *fields[i] = 0.5;
    assert_ok(distill_to(o, b));
    assert_false(deit_test_files_equal(b, plain));
    *fields[i] = 0;
  }
  one.hflip = 1;
  assert_ok(distill_to(o, b));
  assert_false(deit_test_files_equal(b, plain));
  one.hflip = 0;
  one.crop_padding = 2;
  assert_ok(distill_to(o, b));
  assert_false(deit_test_files_equal(b, plain));
  one.crop_padding = 0;
  one.resized_crop_scale = 0.5;
  assert_ok(distill_to(o, b));
  assert_false(deit_test_files_equal(b, plain));
  /* Drop path changes training. */
  o = recipe_options();
  assert_ok(distill_to(o, a));
  o.drop_path = 0;
  assert_ok(distill_to(o, b));
  assert_false(deit_test_files_equal(a, b));
}

/* Stopped mid-epoch and resumed, a run with augmentation, mixing and drop path ends with the bytes of the
 * uninterrupted one; a state written with other augmentation is refused by name. */
static void test_resume_with_augmentation(void **state) {
  (void)state;
  const char *whole = deit_test_path("aug-whole.safetensors"), *resumed = deit_test_path("aug-resumed.safetensors");
  const char *st = deit_test_path("aug-state.safetensors");
  remove(st);
  deit_distill_options o = recipe_options();
  /* 128 steps an epoch, so that progress is reported before an epoch's end on any machine (reports are
   * throttled to one per 0.2 s): the cancel lands mid-epoch, after a state was written.  The weight
   * average is on: the state must carry it too. */
  o.batch_size = 1;
  o.ema_decay = 0.9;
  assert_ok(distill_to(o, whole));
  o.state_path = st;
  o.state_every_steps = 5;
  struct cancel_at c = {10};
  o.progress = cancel_mid_epoch;
  o.user_data = &c;
  assert_status_msg(distill_to(o, NULL), DEIT_E_CANCELLED, "cancelled");
  o.progress = NULL;
  o.resume = 1;
  deit_augment_options other = g_all;
  other.erase_prob = 0.25;
  o.augment = &other;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "erase_prob was 0.5, now 0.25");
  o.augment = &g_all;
  o.ema_decay = 0.8;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "ema was 0.9");
  o.ema_decay = 0.9;
  assert_ok(distill_to(o, resumed));
  assert_true(deit_test_files_equal(whole, resumed));
  remove(st);
}

/* clip_grad bounds each update: with SGD (lr 1, no momentum or decay) one step moves the weights by at most
 * lr * clip_grad in norm, so the logits barely move; without clipping they move a lot. */
static void test_clip_grad(void **state) {
  (void)state;
  enum { N = 8 };
  uint8_t pix[N * SIDE * SIDE];
  assert_ok(deit_dataset_copy_images(g_train, 0, N, pix, sizeof pix));
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, N, 1, SIDE, SIDE};
  float before[N * CLASSES], after[N * CLASSES];
  double moved[2];
  for (int clip = 0; clip < 2; ++clip) {
    deit_student *s = make_student(5);
    assert_ok(deit_student_predict(s, &im, DEIT_HEAD_AVG, before, N * CLASSES));
    deit_distill_options o;
    assert_ok(deit_distill_options_init(&o));
    o.epochs = 1;
    o.batch_size = N_TRAIN; /* one step */
    o.optimizer = DEIT_OPTIM_SGD;
    o.momentum = 0;
    o.lr = 1.0;
    o.distillation = DEIT_DISTILL_NONE;
    o.clip_grad = clip ? 1e-6 : 0;
    assert_ok(deit_distill(s, NULL, g_train, &o));
    assert_ok(deit_student_predict(s, &im, DEIT_HEAD_AVG, after, N * CLASSES));
    moved[clip] = 0;
    for (int i = 0; i < N * CLASSES; ++i) moved[clip] = fmax(moved[clip], fabs(after[i] - before[i]));
    deit_student_free(s);
  }
  printf("largest logit change: %g unclipped, %g clipped to 1e-6\n", moved[0], moved[1]);
  assert_true(moved[0] > 1e-2);
  assert_true(moved[1] < 1e-4);
}

/* The teacher's recipe fields: augmentation and the cosine schedule change its training, deterministically;
 * defaults (constant, no smoothing, no augmentation) are the notebook's. */
static void test_teacher_recipe(void **state) {
  (void)state;
  deit_teacher_train_options o;
  assert_ok(deit_teacher_train_options_init(&o));
  assert_true(o.schedule == DEIT_SCHEDULE_CONSTANT && o.warmup_epochs == 0 && o.label_smoothing == 0.0);
  assert_true(o.augment == NULL && o.clip_grad == 0.0);
  o.epochs = 1;
  o.batch_size = 32;
  const char *paths[4] = {deit_test_path("t-plain.safetensors"), deit_test_path("t-aug.safetensors"),
                          deit_test_path("t-aug2.safetensors"), deit_test_path("t-cos.safetensors")};
  for (int k = 0; k < 4; ++k) {
    deit_teacher *t = NULL;
    assert_ok(deit_teacher_create("resnet18", CLASSES, &t));
    deit_teacher_train_options ok = o;
    if (k == 1 || k == 2) ok.augment = &g_all;
    if (k == 3) {
      ok.schedule = DEIT_SCHEDULE_COSINE;
      ok.label_smoothing = 0.1;
      ok.clip_grad = 0.5;
    }
    assert_ok(deit_teacher_train(t, g_train, &ok));
    assert_ok(deit_teacher_save(t, paths[k]));
    deit_teacher_free(t);
  }
  assert_false(deit_test_files_equal(paths[0], paths[1]));
  assert_true(deit_test_files_equal(paths[1], paths[2]));
  assert_false(deit_test_files_equal(paths[0], paths[3]));
  o.warmup_epochs = 2;
  assert_status_msg(deit_teacher_train(g_teacher, g_train, &o), DEIT_E_INVALID_ARG, "warmup_epochs = 2; expected 0..1");
  o.warmup_epochs = 0;
  o.label_smoothing = 1.0;
  assert_status_msg(deit_teacher_train(g_teacher, g_train, &o), DEIT_E_INVALID_ARG, "label_smoothing = 1.000000");
}

/* deit_dataset_split: the subset_fraction subset and the rest, disjoint, together every image. */
static void test_split(void **state) {
  (void)state;
  enum { N = 40 };
  uint8_t pix[N * 4];
  int32_t labels[N];
  for (int i = 0; i < N; ++i) {
    memset(pix + 4 * i, i, 4); /* every pixel of image i is i */
    labels[i] = i % 3;
  }
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, N, 1, 2, 2};
  deit_dataset *ds = NULL, *first = NULL, *rest = NULL, *sub = NULL;
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 3, &ds));
  assert_ok(deit_dataset_split(ds, 0.25, 9, &first, &rest));
  assert_ok(deit_dataset_subset_fraction(ds, 0.25, 9, &sub));
  uint8_t a[N * 4], b[N * 4], c[N * 4];
  assert_ok(deit_dataset_copy_images(first, 0, 10, a, sizeof a));
  assert_ok(deit_dataset_copy_images(rest, 0, 30, b, sizeof b));
  assert_ok(deit_dataset_copy_images(sub, 0, 10, c, sizeof c));
  assert_memory_equal(a, c, 10 * 4);
  int seen[N] = {0};
  for (int i = 0; i < 10; ++i) seen[a[4 * i]]++;
  for (int i = 0; i < 30; ++i) seen[b[4 * i]]++;
  for (int i = 0; i < N; ++i) assert_int_equal(seen[i], 1);
  deit_dataset_free(first);
  deit_dataset_free(rest);
  deit_dataset_free(sub);
  first = rest = (deit_dataset *)1;
  assert_status_msg(deit_dataset_split(ds, 1.0, 9, &first, &rest), DEIT_E_INVALID_ARG, "leaves none");
  assert_null(first);
  assert_null(rest);
  assert_status_msg(deit_dataset_split(ds, 0.0, 9, &first, &rest), DEIT_E_INVALID_ARG, "outside (0, 1]");
  assert_status_msg(deit_dataset_split(ds, 0.5, 9, NULL, &rest), DEIT_E_INVALID_ARG, "first is NULL");
  deit_dataset_free(ds);
}

struct val_log {
  int epochs;
  double val[8];
  int bad; /* a report outside an epoch's end carried a validation accuracy */
};
static int record_val(const deit_progress *p, void *user_data) {
  struct val_log *v = user_data;
  if (p->phase == DEIT_PHASE_TEACHER_LOGITS) return 0;
  if (p->end_of_epoch && v->epochs < 8) v->val[v->epochs++] = p->val_accuracy;
  else if (!p->end_of_epoch && p->val_accuracy != -1.0) v->bad = 1;
  return 0;
}

/* A validation set is evaluated at each epoch's end: the last epoch's number is the trained model's
 * accuracy on it, and best_path holds the best epoch's model. */
static void test_validation(void **state) {
  (void)state;
  deit_dataset *val = NULL, *train = NULL;
  assert_ok(deit_dataset_split(g_train, 0.25, 1, &val, &train));
  const char *best = deit_test_path("best.safetensors");
  remove(best);
  deit_distill_options o = recipe_options();
  o.epochs = 3;
  o.val = val;
  o.best_path = best;
  o.ema_decay = 0.7; /* validation and best_path see the average, which the student ends with */
  struct val_log log = {0};
  o.progress = record_val;
  o.user_data = &log;
  deit_student *s = make_student(11);
  assert_ok(deit_distill(s, g_teacher, train, &o));
  assert_int_equal(log.epochs, 3);
  assert_false(log.bad);
  deit_eval_result r = {.struct_size = sizeof r};
  assert_ok(deit_student_evaluate(s, val, &r, NULL, 0));
  assert_true(r.accuracy == log.val[2]);
  double top = -1;
  for (int e = 0; e < 3; ++e) {
    assert_true(log.val[e] >= 0 && log.val[e] <= 1);
    if (log.val[e] > top) top = log.val[e];
  }
  deit_student *b = NULL;
  assert_ok(deit_student_load(best, &b));
  assert_ok(deit_student_evaluate(b, val, &r, NULL, 0));
  assert_true(r.accuracy == top);
  deit_student_free(b);
  deit_student_free(s);
  o.val = NULL;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "best_path is set but val is NULL");

  /* The teacher reports it too. */
  deit_teacher_train_options t;
  assert_ok(deit_teacher_train_options_init(&t));
  t.epochs = 2;
  t.batch_size = 32;
  t.val = val;
  struct val_log tl = {0};
  t.progress = record_val;
  t.user_data = &tl;
  deit_teacher *teacher = NULL;
  assert_ok(deit_teacher_create("resnet18", CLASSES, &teacher));
  assert_ok(deit_teacher_train(teacher, train, &t));
  assert_int_equal(tl.epochs, 2);
  assert_ok(deit_teacher_evaluate(teacher, val, &r, NULL, 0));
  assert_true(r.accuracy == tl.val[1]);
  deit_teacher_free(teacher);
  deit_dataset_free(val);
  deit_dataset_free(train);
}

static int cancel_after_epoch_1(const deit_progress *p, void *user_data) {
  (void)user_data;
  return p->phase == DEIT_PHASE_DISTILL && p->epoch == 1 && p->end_of_epoch;
}

/* The tensor `name` of a saved student as floats (fails the test unless it is F32). */
static const float *f32_tensor(const deit_test_safetensors *st, const char *name, size_t *count) {
  const deit_test_tensor *t = deit_test_safetensors_find(st, name);
  assert_non_null(t);
  assert_string_equal(t->dtype, "F32");
  *count = t->nbytes / sizeof(float);
  return (const float *)t->data;
}

/* ema_decay: the student ends with the average of its weights, updated after step t with
 * d_t = min(ema_decay, (1 + t) / (10 + t)).  One step per epoch and a constant lr make the weights after
 * each step (w1, w2) those of 1- and 2-epoch runs without the average, so two steps of the rule can be
 * recomputed here from w0 (the initial weights), w1 and w2: with ema_decay 0.15, d_0 = 0.1 (the warm-up)
 * and d_1 = 0.15 (the cap). */
static void test_weight_average(void **state) {
  (void)state;
  const char *w[3] = {deit_test_path("ema-w0.safetensors"), deit_test_path("ema-w1.safetensors"),
                      deit_test_path("ema-w2.safetensors")};
  const char *avg = deit_test_path("ema-avg.safetensors");
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  assert_true(o.ema_decay == 0.0);
  o.batch_size = N_TRAIN; /* one step an epoch */
  o.optimizer = DEIT_OPTIM_ADAMW;
  o.lr = 1e-2; /* steps large enough for d_t to show */
  o.distillation = DEIT_DISTILL_NONE;
  o.seed = 2;
  deit_student *s0 = make_student(11);
  assert_ok(deit_student_save(s0, w[0]));
  deit_student_free(s0);
  for (int e = 1; e <= 2; ++e) {
    o.epochs = e;
    assert_ok(distill_to(o, w[e]));
  }
  o.ema_decay = 0.15;
  assert_ok(distill_to(o, avg));
  const double d0 = 0.1, d1 = 0.15;
  deit_test_safetensors st[3], got;
  for (int k = 0; k < 3; ++k) deit_test_safetensors_read(w[k], &st[k]);
  deit_test_safetensors_read(avg, &got);
  int checked = 0;
  double worst = 0, moved = 0;
  for (int i = 0; i < got.count; ++i) {
    size_t n = 0, n0, n1, n2;
    const float *a = f32_tensor(&got, got.tensors[i].name, &n);
    const float *x0 = f32_tensor(&st[0], got.tensors[i].name, &n0);
    const float *x1 = f32_tensor(&st[1], got.tensors[i].name, &n1);
    const float *x2 = f32_tensor(&st[2], got.tensors[i].name, &n2);
    assert_true(n == n0 && n == n1 && n == n2);
    for (size_t j = 0; j < n; ++j) {
      const double after0 = d0 * x0[j] + (1 - d0) * x1[j];
      const double want = d1 * after0 + (1 - d1) * x2[j];
      worst = fmax(worst, fabs(a[j] - want) / (1e-3 + fabs(want)));
      moved = fmax(moved, fabs(a[j] - x2[j]));
    }
    checked++;
  }
  printf("weight average: %d tensors, largest relative error %g, largest distance from w2 %g\n", checked, worst,
         moved);
  assert_true(checked > 10);
  assert_true(worst < 1e-5);
  assert_true(moved > 1e-3); /* the average is not simply the last weights */
  for (int k = 0; k < 3; ++k) deit_test_safetensors_free(&st[k]);
  deit_test_safetensors_free(&got);

  /* Stopped after epoch 1 and resumed, the run ends with the bytes of the uninterrupted one: the state
   * carries the average (restarted from the weights, it would differ by ~3% of the distance after the 4
   * remaining steps' decays). */
  const char *whole = deit_test_path("ema-whole.safetensors"), *resumed = deit_test_path("ema-resumed.safetensors");
  const char *state_file = deit_test_path("ema-state.safetensors");
  remove(state_file);
  o.batch_size = N_TRAIN / 4;
  o.ema_decay = 0.9;
  assert_ok(distill_to(o, whole));
  o.state_path = state_file;
  o.progress = cancel_after_epoch_1;
  assert_status_msg(distill_to(o, NULL), DEIT_E_CANCELLED, "cancelled");
  o.progress = NULL;
  o.resume = 1;
  assert_ok(distill_to(o, resumed));
  assert_true(deit_test_files_equal(whole, resumed));
  remove(state_file);
  o.state_path = NULL;
  o.resume = 0;

  o.ema_decay = 1.0;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "ema_decay = 1.000000");
  o.ema_decay = -0.5;
  assert_status_msg(distill_to(o, NULL), DEIT_E_INVALID_ARG, "ema_decay = -0.500000");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_augment_options),
      cmocka_unit_test(test_weight_average),
      cmocka_unit_test(test_teacher_online_and_determinism),
      cmocka_unit_test(test_resume_with_augmentation),
      cmocka_unit_test(test_clip_grad),
      cmocka_unit_test(test_teacher_recipe),
      cmocka_unit_test(test_split),
      cmocka_unit_test(test_validation),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
