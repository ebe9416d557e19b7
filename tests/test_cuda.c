/* Training and inference on a CUDA device through the C API: the same
 * student gives the same logits on the device as on the CPU, the teacher and
 * the student train there and learn, and results come back to the CPU.
 * Exits 77 (ctest's "skipped", never "passed") without a CUDA device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_support.h"

enum { CLASSES = 4, SIDE = 28, N_TRAIN = 512, N_TEST = 128 };

static deit_dataset *bars(int n, unsigned seed) {
  uint8_t *pix = malloc((size_t)n * SIDE * SIDE);
  int32_t *labels = malloc(sizeof(int32_t) * (size_t)n);
  deit_test_bar_images(pix, labels, n, SIDE, CLASSES, seed);
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, n, 1, SIDE, SIDE};
  deit_dataset *ds = NULL;
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, CLASSES, &ds));
  free(pix);
  free(labels);
  return ds;
}

static deit_dataset *g_train, *g_test;

static int setup(void **state) {
  (void)state;
  g_train = bars(N_TRAIN, 1);
  g_test = bars(N_TEST, 2);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  deit_dataset_free(g_train);
  deit_dataset_free(g_test);
  return 0;
}

static deit_student *small_student(uint64_t seed) {
  deit_student_config cfg;
  assert_ok(deit_student_config_init(&cfg, "seed", CLASSES));
  cfg.mlp_dim = 128;
  deit_student *s = NULL;
  assert_ok(deit_student_create(&cfg, seed, &s));
  return s;
}

static void test_student_logits_match_cpu(void **state) {
  (void)state;
  deit_student *s = small_student(3);
  uint8_t pix[16 * SIDE * SIDE];
  assert_ok(deit_dataset_copy_images(g_test, 0, 16, pix, sizeof pix));
  deit_images im = {pix, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, 16, 1, SIDE, SIDE};
  float cpu[16 * CLASSES], gpu[16 * CLASSES];
  assert_ok(deit_student_set_device(s, "cpu"));
  assert_ok(deit_student_predict(s, &im, DEIT_HEAD_AVG, cpu, 16 * CLASSES));
  assert_ok(deit_student_set_device(s, "cuda"));
  assert_ok(deit_student_predict(s, &im, DEIT_HEAD_AVG, gpu, 16 * CLASSES));
  double worst = 0, scale = 0;
  for (int i = 0; i < 16 * CLASSES; ++i) {
    worst = fmax(worst, fabs(cpu[i] - gpu[i]));
    scale = fmax(scale, fabs(cpu[i]));
  }
  printf("student logits, cuda vs cpu: max difference %.3g (scale %.3g)\n", worst, scale);
  /* TF32 or reduced-precision reductions on the device: 1e-3 of the scale. */
  assert_true(worst <= 1e-3 * scale);
  deit_student_free(s);
}

static void test_teacher_and_student_train_on_cuda(void **state) {
  (void)state;
  deit_teacher *t = NULL;
  assert_ok(deit_teacher_create("resnet18", CLASSES, &t));
  assert_ok(deit_teacher_set_device(t, "cuda"));
  deit_teacher_train_options to;
  assert_ok(deit_teacher_train_options_init(&to));
  to.epochs = 2;
  to.batch_size = 32;
  to.lr = 3e-4;
  assert_ok(deit_teacher_train(t, g_train, &to));
  deit_eval_result tr = {.struct_size = sizeof tr};
  assert_ok(deit_teacher_evaluate(t, g_test, &tr, NULL, 0));
  printf("teacher on cuda: accuracy %.3f\n", tr.accuracy);
  assert_true(tr.accuracy > 0.7); /* chance 0.25 */

  deit_student *s = small_student(5);
  deit_distill_options o;
  assert_ok(deit_distill_options_init(&o));
  o.epochs = 5;
  o.batch_size = 32;
  o.device = "cuda";
  assert_ok(deit_distill(s, t, g_train, &o));
  deit_eval_result sr = {.struct_size = sizeof sr};
  assert_ok(deit_student_evaluate(s, g_test, &sr, NULL, 0));
  printf("student on cuda: accuracy avg %.3f cls %.3f dist %.3f\n", sr.accuracy, sr.accuracy_cls,
         sr.accuracy_dist);
  assert_true(sr.accuracy > 0.7);
  /* A checkpoint saved from the device loads on the CPU with the same predictions. */
  const char *path = deit_test_path("cuda-student.safetensors");
  assert_ok(deit_student_save(s, path));
  deit_student *back = NULL;
  assert_ok(deit_student_load(path, &back));
  assert_ok(deit_student_set_device(back, "cpu"));
  deit_eval_result br = {.struct_size = sizeof br};
  assert_ok(deit_student_evaluate(back, g_test, &br, NULL, 0));
  assert_true(fabs(br.accuracy - sr.accuracy) <= 2.0 / N_TEST);
  deit_student_free(back);
  deit_student_free(s);
  deit_teacher_free(t);
}

int main(void) {
  if (!deit_cuda_available()) {
    fprintf(stderr, "test_cuda: skipped: no CUDA device (CUDA compiled in: %d, LibTorch %s)\n",
            deit_cuda_compiled(), deit_libtorch_version());
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_student_logits_match_cpu),
      cmocka_unit_test(test_teacher_and_student_train_on_cuda),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
