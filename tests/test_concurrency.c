/* Two threads, each with its own handles (data set, teacher, student), train
 * and predict at the same time.  The header's rule is that different handles
 * may be used concurrently; that only holds if nothing is shared behind them,
 * so each thread's results must equal, bit for bit, the same work done
 * sequentially with the same seeds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

enum { CLASSES = 3, SIDE = 8, N_TRAIN = 64, N_PREDICT = 8 };

static uint8_t g_pixels[N_TRAIN * SIDE * SIDE];
static int32_t g_labels[N_TRAIN];

/* Class k: a bright bar in row band k, plus noise. */
static void make_data(void) { deit_test_bar_images(g_pixels, g_labels, N_TRAIN, SIDE, CLASSES, 5); }

struct job {
  /* inputs */
  uint64_t teacher_seed, student_seed;
  double dropout;
  /* handles: only this job touches them */
  deit_dataset* data;
  deit_teacher* teacher;
  deit_student* student;
  /* outputs */
  deit_status status;
  char error[512];
  double teacher_loss, student_loss;
  float teacher_logits[N_PREDICT * CLASSES];
  float student_logits[N_PREDICT * CLASSES];
};

static int last_loss(const deit_progress* p, void* user_data) {
  if (p->end_of_epoch) *(double*)user_data = p->loss;
  return 0;
}

/* No cmocka asserts inside jobs (they are not thread-safe): failures are
 * recorded and checked on the main thread. */
#define TRY(call)                                                              \
  do {                                                                         \
    deit_status s_ = (call);                                                   \
    if (s_ != DEIT_OK) {                                                       \
      j->status = s_;                                                          \
      snprintf(j->error, sizeof j->error, "%s: %s", #call, deit_last_error()); \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* Data set, ResNet-18 teacher, tiny student (seeded). */
static void job_create(struct job* j) {
  deit_images im = {g_pixels, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, N_TRAIN, 1, SIDE, SIDE};
  TRY(deit_dataset_from_memory(&im, g_labels, DEIT_DTYPE_I32, CLASSES, &j->data));
  TRY(deit_teacher_create("resnet18", CLASSES, &j->teacher));
  TRY(deit_teacher_set_device(j->teacher, "cpu"));
  deit_student_config cfg;
  TRY(deit_student_config_init(&cfg, "seed", CLASSES));
  cfg.img_size = SIDE;
  cfg.patch_size = 4;
  cfg.embed_dim = 16;
  cfg.depth = 2;
  cfg.num_heads = 2;
  cfg.mlp_dim = 32;
  cfg.dropout = j->dropout;
  cfg.attn_dropout = j->dropout;
  TRY(deit_student_create(&cfg, j->student_seed, &j->student));
  TRY(deit_student_set_device(j->student, "cpu"));
}

/* Fine-tune the teacher's head, distill, predict with both. */
static void job_train(struct job* j) {
  if (j->status != DEIT_OK) return;
  deit_teacher_train_options to;
  TRY(deit_teacher_train_options_init(&to));
  to.epochs = 1;
  to.batch_size = 16;
  to.trainable = DEIT_TRAIN_HEAD; /* BatchNorm statistics still adapt: the whole net runs */
  to.seed = j->teacher_seed;
  to.progress = last_loss;
  to.user_data = &j->teacher_loss;
  TRY(deit_teacher_train(j->teacher, j->data, &to));
  deit_distill_options o;
  TRY(deit_distill_options_init(&o));
  o.epochs = 2;
  o.batch_size = 16;
  o.seed = j->student_seed + 100;
  o.progress = last_loss;
  o.user_data = &j->student_loss;
  TRY(deit_distill(j->student, j->teacher, j->data, &o));
  deit_images head = {g_pixels, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, N_PREDICT, 1, SIDE, SIDE};
  TRY(deit_teacher_predict(j->teacher, &head, j->teacher_logits, N_PREDICT * CLASSES));
  TRY(deit_student_predict(j->student, &head, DEIT_HEAD_AVG, j->student_logits, N_PREDICT * CLASSES));
}

static void job_free(struct job* j) {
  deit_student_free(j->student);
  deit_teacher_free(j->teacher);
  deit_dataset_free(j->data);
  j->student = NULL;
  j->teacher = NULL;
  j->data = NULL;
}

struct thread_arg {
  struct job* job;
  int create_in_thread;
  pthread_barrier_t* start;
};

static void* thread_main(void* p) {
  struct thread_arg* a = p;
  pthread_barrier_wait(a->start);
  if (a->create_in_thread) job_create(a->job);
  job_train(a->job);
  return NULL;
}

static void assert_job_ok(const struct job* j) {
  if (j->status != DEIT_OK) fail_msg("job failed: %s", j->error);
}

static void assert_same_results(const struct job* a, const struct job* b, const char* what) {
  if (a->teacher_loss != b->teacher_loss || a->student_loss != b->student_loss) {
    fail_msg("%s: losses differ from the sequential run: teacher %.17g vs %.17g, student %.17g vs %.17g",
             what, a->teacher_loss, b->teacher_loss, a->student_loss, b->student_loss);
  }
  if (memcmp(a->teacher_logits, b->teacher_logits, sizeof a->teacher_logits) != 0)
    fail_msg("%s: teacher logits differ from the sequential run", what);
  if (memcmp(a->student_logits, b->student_logits, sizeof a->student_logits) != 0)
    fail_msg("%s: student logits differ from the sequential run", what);
}

/* Two jobs one after the other, then the same two jobs in two threads
 * started together; every loss and logit must be bit-identical. */
/* The sequential reference of the two jobs, run once per dropout rate (0 or 0.1) for the whole executable. */
static const struct job* sequential_reference(double dropout) {
  static struct job seq[2][2];
  static int done[2];
  const int d = dropout > 0;
  if (!done[d]) {
    struct job jobs[2] = {{.teacher_seed = 1, .student_seed = 2, .dropout = dropout},
                          {.teacher_seed = 3, .student_seed = 4, .dropout = dropout}};
    for (int k = 0; k < 2; ++k) {
      job_create(&jobs[k]);
      job_train(&jobs[k]);
      job_free(&jobs[k]);
      assert_job_ok(&jobs[k]);
      seq[d][k] = jobs[k];
    }
    done[d] = 1;
  }
  return seq[d];
}

static void run_concurrently_and_compare(double dropout, int create_in_thread) {
  const struct job* seq = sequential_reference(dropout);
  /* Different seeds give different models: results swapped between threads would show. */
  assert_true(memcmp(seq[0].student_logits, seq[1].student_logits, sizeof seq[0].student_logits) != 0);

  struct job par[2] = {{.teacher_seed = 1, .student_seed = 2, .dropout = dropout},
                       {.teacher_seed = 3, .student_seed = 4, .dropout = dropout}};
  if (!create_in_thread) {
    for (int k = 0; k < 2; ++k) {
      job_create(&par[k]);
      assert_job_ok(&par[k]);
    }
  }
  pthread_barrier_t start;
  assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
  struct thread_arg args[2];
  pthread_t threads[2];
  for (int k = 0; k < 2; ++k) {
    args[k] = (struct thread_arg){&par[k], create_in_thread, &start};
    assert_int_equal(pthread_create(&threads[k], NULL, thread_main, &args[k]), 0);
  }
  for (int k = 0; k < 2; ++k) assert_int_equal(pthread_join(threads[k], NULL), 0);
  pthread_barrier_destroy(&start);
  for (int k = 0; k < 2; ++k) {
    job_free(&par[k]);
    assert_job_ok(&par[k]);
    char what[64];
    snprintf(what, sizeof what, "thread %d", k);
    assert_same_results(&par[k], &seq[k], what);
  }
}

/* The reference is meaningful: the same job twice gives the same bits. */
static void test_sequential_runs_are_deterministic(void** state) {
  (void)state;
  const struct job* first = sequential_reference(0.1);
  struct job again = {.teacher_seed = 1, .student_seed = 2, .dropout = 0.1};
  job_create(&again);
  job_train(&again);
  job_free(&again);
  assert_job_ok(&again);
  assert_same_results(&again, &first[0], "second run");
}

/* Handles made first, then trained and used concurrently. */
static void test_concurrent_training(void** state) {
  (void)state;
  run_concurrently_and_compare(0.0, 0);
}

/* Creation (seeded initialisation) in one thread while the other trains. */
static void test_concurrent_creation_and_training(void** state) {
  (void)state;
  run_concurrently_and_compare(0.0, 1);
}

/* Dropout draws random numbers while training (the seed model has 0.1):
 * each training run must draw from its own seeded generator. */
static void test_concurrent_training_with_dropout(void** state) {
  (void)state;
  run_concurrently_and_compare(0.1, 0);
}

/* deit_last_error() is per thread: a failure on one thread does not change
 * the message another thread reads. */
static void* fail_in_thread(void* arg) {
  deit_student* s = NULL;
  deit_status st = deit_student_load("/nonexistent/other-thread.safetensors", &s);
  snprintf(arg, 512, "%d %s", (int)st, deit_last_error());
  return NULL;
}

static void test_last_error_is_per_thread(void** state) {
  (void)state;
  deit_teacher* t = NULL;
  assert_status_msg(deit_teacher_create("resnet19", CLASSES, &t), DEIT_E_INVALID_ARG, "resnet19");
  char other[512] = "";
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, fail_in_thread, other), 0);
  assert_int_equal(pthread_join(thread, NULL), 0);
  assert_non_null(strstr(other, "other-thread.safetensors"));
  assert_non_null(strstr(deit_last_error(), "resnet19"));
  assert_null(strstr(deit_last_error(), "other-thread"));
}

static int setup(void** state) {
  (void)state;
  make_data();
  deit_set_log_level(DEIT_LOG_ERROR);
  return deit_set_num_threads(2) == DEIT_OK ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_last_error_is_per_thread),
      cmocka_unit_test(test_sequential_runs_are_deterministic),
      cmocka_unit_test(test_concurrent_training),
      cmocka_unit_test(test_concurrent_creation_and_training),
      cmocka_unit_test(test_concurrent_training_with_dropout),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
