/* Data parallelism on c10d Gloo: this executable starts copies of itself as
 * the ranks of a group on 127.0.0.1 (torchrun's environment variables), and
 * checks that
 *  - two ranks with half the batch each reach the weights one process reaches
 *    with the whole batch (logits to float tolerance, dropout included), and
 *    both ranks hold the same model (bit for bit), teacher included;
 *  - an evaluation split over the ranks counts what one process counts;
 *  - a rank that dies makes the other's call fail with DEIT_E_DISTRIBUTED
 *    within its timeout, and a rank that never comes makes joining fail;
 *  - the environment is parsed strictly.
 * A copy runs as a rank when DEIT_TEST_ROLE is set (see rank_main). */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_support.h"

extern char** environ;

enum { CLASSES = 3, SIDE = 8, N_TRAIN = 96, N_TEST = 45, N_PREDICT = 16, BATCH = 16, EPOCHS = 3 };

static uint8_t g_pixels[N_TRAIN * SIDE * SIDE];
static int32_t g_labels[N_TRAIN];
static char g_self[4096];

/* Class k: a bright bar in row band k, plus noise (the same in every process). */
static void make_data(void) { deit_test_bar_images(g_pixels, g_labels, N_TRAIN, SIDE, CLASSES, 11); }

static deit_images images(int64_t first, int64_t count) {
  deit_images im = {g_pixels + first * SIDE * SIDE, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, count, 1, SIDE, SIDE};
  return im;
}

static deit_student_config tiny_config(void) {
  deit_student_config cfg;
  deit_student_config_init(&cfg, "seed", CLASSES);
  cfg.img_size = SIDE;
  cfg.patch_size = 4;
  cfg.embed_dim = 16;
  cfg.depth = 2;
  cfg.num_heads = 2;
  cfg.mlp_dim = 32;
  cfg.dropout = 0.1; /* the masks must follow the global batch too */
  cfg.attn_dropout = 0.1;
  return cfg;
}

/* What a distillation run produced: the loss at each epoch's end and logits
 * of both heads averaged on the first N_PREDICT training images. */
struct run_result {
  double epoch_loss[EPOCHS];
  float logits[N_PREDICT * CLASSES];
  double test_accuracy;
  int64_t test_count;
};

static int record_loss(const deit_progress* p, void* user_data) {
  struct run_result* r = user_data;
  if (p->phase == DEIT_PHASE_DISTILL && p->end_of_epoch && p->epoch >= 1 && p->epoch <= EPOCHS)
    r->epoch_loss[p->epoch - 1] = p->loss;
  return 0;
}

/* Distill a fresh student from the untrained ResNet-18 (seed-0 weights: the
 * same in every process) with `batch` images per process. */
static deit_status distill_run(deit_group* group, int batch, struct run_result* r, char* err, size_t cap) {
  deit_dataset *train = NULL, *test = NULL;
  deit_teacher* teacher = NULL;
  deit_student* student = NULL;
  deit_status st;
  deit_images all = images(0, N_TRAIN), head = images(0, N_TEST);
#define STEP(call)                                                    \
  if ((st = (call)) != DEIT_OK) {                                     \
    snprintf(err, cap, "%s: %s", #call, deit_last_error());          \
    goto done;                                                        \
  }
  STEP(deit_dataset_from_memory(&all, g_labels, DEIT_DTYPE_I32, CLASSES, &train));
  STEP(deit_dataset_from_memory(&head, g_labels, DEIT_DTYPE_I32, CLASSES, &test));
  STEP(deit_teacher_create("resnet18", CLASSES, &teacher));
  STEP(deit_teacher_set_device(teacher, "cpu"));
  deit_student_config cfg = tiny_config();
  STEP(deit_student_create(&cfg, 3, &student));
  STEP(deit_student_set_device(student, "cpu"));
  deit_distill_options o;
  deit_distill_options_init(&o);
  o.epochs = EPOCHS;
  o.batch_size = batch;
  o.seed = 7;
  o.progress = record_loss;
  o.user_data = r;
  o.group = group;
  STEP(deit_distill(student, teacher, train, &o));
  deit_images pred = images(0, N_PREDICT);
  STEP(deit_student_predict(student, &pred, DEIT_HEAD_AVG, r->logits, N_PREDICT * CLASSES));
  deit_eval_result e;
  memset(&e, 0, sizeof e);
  e.struct_size = sizeof e;
  if (group) {
    STEP(deit_student_evaluate_group(student, test, group, &e, NULL, 0));
  } else {
    STEP(deit_student_evaluate(student, test, &e, NULL, 0));
  }
  r->test_accuracy = e.accuracy;
  r->test_count = e.count;
done:
#undef STEP
  deit_student_free(student);
  deit_teacher_free(teacher);
  deit_dataset_free(test);
  deit_dataset_free(train);
  return st;
}

/* ---- rank side ----------------------------------------------------------- */

static const char* out_path(const char* name, int rank) {
  static char buf[4][4200];
  static int k = 0;
  char* p = buf[k++ % 4];
  snprintf(p, sizeof buf[0], "%s/%s.%d", getenv("DEIT_TEST_OUT"), name, rank);
  return p;
}

static void write_result(const char* name, int rank, const void* data, size_t size) {
  FILE* f = fopen(out_path(name, rank), "wb");
  if (!f || fwrite(data, 1, size, f) != size) _exit(90);
  fclose(f);
}

static int g_die_at_step = -1;
static int die_or_go_on(const deit_progress* p, void* user_data) {
  (void)user_data;
  if (p->phase == DEIT_PHASE_DISTILL && p->step >= g_die_at_step) _exit(3); /* as if killed */
  return 0;
}

/* One rank: role "train" (distill + a teacher fine-tune), "die" (rank 1
 * exits in the middle; rank 0 reports the status it got), "alone" (join a
 * group nobody else joins).  Writes its findings under DEIT_TEST_OUT. */
static int rank_main(const char* role) {
  make_data();
  deit_set_num_threads(1);
  deit_group_options go;
  deit_group_options_init(&go);
  if (deit_group_options_from_env(&go) != DEIT_OK) return 80;
  const int rank = go.rank;
  char err[1024] = "";
  deit_group* group = NULL;
  deit_status st = deit_group_create(&go, &group);
  if (strcmp(role, "alone") == 0) {
    snprintf(err, sizeof err, "%d %s", (int)st, deit_last_error());
    write_result("status", rank, err, strlen(err));
    return 0;
  }
  if (st != DEIT_OK) {
    fprintf(stderr, "rank %d: deit_group_create: %s\n", rank, deit_last_error());
    return 81;
  }
  if (strcmp(role, "train") == 0) {
    struct run_result r;
    memset(&r, 0, sizeof r);
    st = distill_run(group, BATCH / go.world_size, &r, err, sizeof err);
    if (st != DEIT_OK) {
      fprintf(stderr, "rank %d: %s\n", rank, err);
      return 82;
    }
    write_result("student", rank, &r, sizeof r);
    /* The teacher: every rank must end with the same weights and statistics. */
    deit_dataset* train = NULL;
    deit_teacher* teacher = NULL;
    deit_images all = images(0, N_TRAIN);
    float logits[N_PREDICT * CLASSES];
    deit_teacher_train_options to;
    deit_teacher_train_options_init(&to);
    to.epochs = 1;
    to.batch_size = BATCH / go.world_size;
    to.group = group;
    if (deit_dataset_from_memory(&all, g_labels, DEIT_DTYPE_I32, CLASSES, &train) != DEIT_OK ||
        deit_teacher_create("resnet18", CLASSES, &teacher) != DEIT_OK ||
        deit_teacher_set_device(teacher, "cpu") != DEIT_OK ||
        deit_teacher_train(teacher, train, &to) != DEIT_OK) {
      fprintf(stderr, "rank %d: teacher: %s\n", rank, deit_last_error());
      return 83;
    }
    deit_images pred = images(0, N_PREDICT);
    if (deit_teacher_predict(teacher, &pred, logits, N_PREDICT * CLASSES) != DEIT_OK) return 84;
    write_result("teacher", rank, logits, sizeof logits);
    deit_teacher_free(teacher);
    deit_dataset_free(train);
  } else if (strcmp(role, "die") == 0) {
    deit_dataset* train = NULL;
    deit_student* student = NULL;
    deit_images all = images(0, N_TRAIN);
    deit_student_config cfg = tiny_config();
    if (deit_dataset_from_memory(&all, g_labels, DEIT_DTYPE_I32, CLASSES, &train) != DEIT_OK ||
        deit_student_create(&cfg, 3, &student) != DEIT_OK)
      return 85;
    deit_distill_options o;
    deit_distill_options_init(&o);
    o.epochs = 50; /* long enough that rank 1's death comes first */
    o.batch_size = 4;
    o.distillation = DEIT_DISTILL_NONE;
    o.group = group;
    if (rank == 1) {
      g_die_at_step = 3;
      o.progress = die_or_go_on;
    }
    st = deit_distill(student, NULL, train, &o);
    snprintf(err, sizeof err, "%d %s", (int)st, deit_last_error());
    write_result("status", rank, err, strlen(err));
    deit_student_free(student);
    deit_dataset_free(train);
  }
  deit_group_free(group);
  return 0;
}

/* ---- test side ----------------------------------------------------------- */

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  assert_int_equal(bind(fd, (struct sockaddr*)&a, sizeof a), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr*)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Start ranks `first`..`first + n - 1` of a world of `world` running `role`. */
static void spawn_ranks(pid_t* pids, int first, int n, int world, int port, const char* role,
                        const char* timeout) {
  for (int i = 0; i < n; ++i) {
    char rank[16], ws[16], pt[16];
    snprintf(rank, sizeof rank, "%d", first + i);
    snprintf(ws, sizeof ws, "%d", world);
    snprintf(pt, sizeof pt, "%d", port);
    setenv("DEIT_TEST_ROLE", role, 1);
    setenv("DEIT_TEST_OUT", deit_test_dir(), 1);
    setenv("RANK", rank, 1);
    setenv("LOCAL_RANK", rank, 1);
    setenv("WORLD_SIZE", ws, 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", pt, 1);
    setenv("DEIT_DIST_TIMEOUT", timeout, 1);
    char* argv[] = {g_self, NULL};
    assert_int_equal(posix_spawn(&pids[i], g_self, NULL, NULL, argv, environ), 0);
  }
  const char* vars[] = {"DEIT_TEST_ROLE", "RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                        "DEIT_DIST_TIMEOUT"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; ++i) unsetenv(vars[i]);
}

/* Waits for the processes; returns the seconds it took.  Kills them and fails
 * the test after `limit` seconds: a hang is a failure, never a wait forever. */
static double wait_ranks(pid_t* pids, int n, int* statuses, double limit) {
  const double start = now_seconds();
  int left = n;
  while (left > 0) {
    for (int i = 0; i < n; ++i) {
      if (pids[i] <= 0) continue;
      int st = 0;
      if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
        statuses[i] = st;
        pids[i] = 0;
        --left;
      }
    }
    if (left > 0 && now_seconds() - start > limit) {
      for (int i = 0; i < n; ++i)
        if (pids[i] > 0) kill(pids[i], SIGKILL);
      fail_msg("ranks still running after %.0f s", limit);
    }
    usleep(20000);
  }
  return now_seconds() - start;
}

static void read_result(const char* name, int rank, void* data, size_t size) {
  FILE* f = fopen(out_path(name, rank), "rb");
  assert_non_null(f);
  assert_int_equal(fread(data, 1, size, f), size);
  fclose(f);
}

static void read_text(const char* name, int rank, char* buf, size_t cap) {
  FILE* f = fopen(out_path(name, rank), "rb");
  assert_non_null(f);
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = '\0';
  fclose(f);
}

static void test_two_ranks_equal_one_process(void** state) {
  (void)state;
  setenv("DEIT_TEST_OUT", deit_test_dir(), 1);
  struct run_result one;
  memset(&one, 0, sizeof one);
  char err[1024] = "";
  deit_set_num_threads(1);
  if (distill_run(NULL, BATCH, &one, err, sizeof err) != DEIT_OK) fail_msg("%s", err);

  pid_t pids[2];
  int statuses[2];
  spawn_ranks(pids, 0, 2, 2, free_port(), "train", "60");
  wait_ranks(pids, 2, statuses, 240);
  for (int i = 0; i < 2; ++i) {
    if (!WIFEXITED(statuses[i]) || WEXITSTATUS(statuses[i]) != 0)
      fail_msg("rank %d ended with status %d", i, statuses[i]);
  }
  struct run_result r[2];
  read_result("student", 0, &r[0], sizeof r[0]);
  read_result("student", 1, &r[1], sizeof r[1]);
  /* Both ranks hold the same model. */
  assert_memory_equal(r[0].logits, r[1].logits, sizeof r[0].logits);
  /* ... the one a single process reaches with the whole batch: same data
   * order, same dropout masks, gradients averaged instead of summed in one
   * batch (float rounding only). */
  double worst = 0, scale = 0;
  for (int i = 0; i < N_PREDICT * CLASSES; ++i) {
    worst = fmax(worst, fabs((double)r[0].logits[i] - one.logits[i]));
    scale = fmax(scale, fabs(one.logits[i]));
  }
  printf("max |logit difference| %.3g (largest logit %.3g)\n", worst, scale);
  assert_true(worst <= 1e-4 * scale + 1e-5);
  for (int e = 0; e < EPOCHS; ++e) {
    printf("epoch %d loss: one process %.9f, two ranks %.9f\n", e + 1, one.epoch_loss[e], r[0].epoch_loss[e]);
    assert_true(fabs(one.epoch_loss[e] - r[0].epoch_loss[e]) <= 1e-5 * fabs(one.epoch_loss[e]));
    assert_true(r[0].epoch_loss[e] == r[1].epoch_loss[e]); /* every rank reports the group's loss */
  }
  /* The split evaluation counts the same images as one process. */
  assert_int_equal(r[0].test_count, N_TEST);
  assert_true(fabs(r[0].test_accuracy - one.test_accuracy) < 0.5 / N_TEST);
  assert_true(r[0].test_accuracy == r[1].test_accuracy);
  /* The teacher fine-tuned by both ranks is identical on both. */
  float t0[N_PREDICT * CLASSES], t1[N_PREDICT * CLASSES];
  read_result("teacher", 0, t0, sizeof t0);
  read_result("teacher", 1, t1, sizeof t1);
  assert_memory_equal(t0, t1, sizeof t0);
}

static void test_dead_rank_stops_the_others(void** state) {
  (void)state;
  pid_t pids[2];
  int statuses[2];
  spawn_ranks(pids, 0, 2, 2, free_port(), "die", "30");
  const double seconds = wait_ranks(pids, 2, statuses, 120);
  assert_true(WIFEXITED(statuses[1]) && WEXITSTATUS(statuses[1]) == 3); /* it died */
  assert_true(WIFEXITED(statuses[0]) && WEXITSTATUS(statuses[0]) == 0); /* it returned */
  char text[2048];
  read_text("status", 0, text, sizeof text);
  printf("rank 0 after %.1f s: %s\n", seconds, text);
  assert_int_equal(atoi(text), DEIT_E_DISTRIBUTED);
  assert_non_null(strstr(text, "rank 0 of 2"));
  assert_non_null(strstr(text, "averaging gradients"));
}

static void test_missing_rank_fails_to_join(void** state) {
  (void)state;
  pid_t pid[1];
  int status[1];
  spawn_ranks(pid, 0, 1, 2, free_port(), "alone", "3");
  const double seconds = wait_ranks(pid, 1, status, 60);
  assert_true(WIFEXITED(status[0]) && WEXITSTATUS(status[0]) == 0);
  char text[2048];
  read_text("status", 0, text, sizeof text);
  printf("after %.1f s: %s\n", seconds, text);
  assert_int_equal(atoi(text), DEIT_E_DISTRIBUTED);
  assert_non_null(strstr(text, "could not join"));
}

static void test_environment_is_parsed_strictly(void** state) {
  (void)state;
  deit_group_options o;
  assert_ok(deit_group_options_init(&o));
  unsetenv("WORLD_SIZE");
  assert_ok(deit_group_options_from_env(&o));
  assert_int_equal(o.world_size, 1);
  setenv("WORLD_SIZE", "2", 1);
  unsetenv("RANK");
  assert_status_msg(deit_group_options_from_env(&o), DEIT_E_INVALID_ARG, "RANK is not");
  setenv("RANK", "2", 1);
  assert_status_msg(deit_group_options_from_env(&o), DEIT_E_INVALID_ARG, "RANK='2'");
  setenv("RANK", "1", 1);
  setenv("MASTER_PORT", "70000", 1);
  assert_status_msg(deit_group_options_from_env(&o), DEIT_E_INVALID_ARG, "MASTER_PORT='70000'");
  setenv("MASTER_PORT", "2x", 1);
  assert_status_msg(deit_group_options_from_env(&o), DEIT_E_INVALID_ARG, "MASTER_PORT='2x'");
  setenv("MASTER_PORT", "29555", 1);
  setenv("MASTER_ADDR", "10.1.2.3", 1);
  assert_ok(deit_group_options_from_env(&o));
  assert_int_equal(o.rank, 1);
  assert_int_equal(o.world_size, 2);
  assert_int_equal(o.local_rank, 1);
  assert_int_equal(o.master_port, 29555);
  assert_string_equal(o.master_addr, "10.1.2.3");
  const char* vars[] = {"WORLD_SIZE", "RANK", "MASTER_PORT", "MASTER_ADDR"};
  for (size_t i = 0; i < 4; ++i) unsetenv(vars[i]);

  deit_group* g = NULL;
  deit_group_options_init(&o);
  o.rank = 2;
  o.world_size = 2;
  assert_status_msg(deit_group_create(&o, &g), DEIT_E_INVALID_ARG, "rank = 2");
  assert_null(g);
  deit_group_options_init(&o);
  o.backend = "mpi";
  assert_status_msg(deit_group_create(&o, &g), DEIT_E_INVALID_ARG, "backend 'mpi'");
  o.backend = "gloo";
  o.timeout_seconds = 0;
  assert_status_msg(deit_group_create(&o, &g), DEIT_E_INVALID_ARG, "timeout_seconds");
}

static int cancel_in_logit_pass(const deit_progress* p, void* user_data) {
  (void)user_data;
  return p->phase == DEIT_PHASE_TEACHER_LOGITS;
}

/* A group of one opens no socket and changes nothing. */
static void test_group_of_one_is_one_process(void** state) {
  (void)state;
  deit_group_options o;
  deit_group_options_init(&o);
  o.master_port = 1; /* never used */
  deit_group* g = NULL;
  assert_ok(deit_group_create(&o, &g));
  int32_t rank = -1, world = -1;
  assert_ok(deit_group_rank(g, &rank, &world));
  assert_int_equal(rank, 0);
  assert_int_equal(world, 1);
  assert_ok(deit_group_barrier(g));
  struct run_result a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  char err[1024];
  if (distill_run(NULL, BATCH, &a, err, sizeof err) != DEIT_OK) fail_msg("%s", err);
  if (distill_run(g, BATCH, &b, err, sizeof err) != DEIT_OK) fail_msg("%s", err);
  assert_memory_equal(a.logits, b.logits, sizeof a.logits);
  assert_true(a.test_accuracy == b.test_accuracy);

  /* A cancel during the teacher-logit pass still cancels (no other rank to wait for). */
  deit_dataset* train = NULL;
  deit_teacher* teacher = NULL;
  deit_student* student = NULL;
  deit_images all = images(0, N_TRAIN);
  deit_student_config cfg = tiny_config();
  assert_ok(deit_dataset_from_memory(&all, g_labels, DEIT_DTYPE_I32, CLASSES, &train));
  assert_ok(deit_teacher_create("resnet18", CLASSES, &teacher));
  assert_ok(deit_student_create(&cfg, 3, &student));
  deit_distill_options dopt;
  deit_distill_options_init(&dopt);
  dopt.group = g;
  dopt.progress = cancel_in_logit_pass;
  assert_status_msg(deit_distill(student, teacher, train, &dopt), DEIT_E_CANCELLED, "cancelled");
  deit_student_free(student);
  deit_teacher_free(teacher);
  deit_dataset_free(train);
  deit_group_free(g);
}

int main(int argc, char** argv) {
  (void)argc;
  const char* role = getenv("DEIT_TEST_ROLE");
  if (role) return rank_main(role);
  if (!deit_group_backend_available("gloo")) {
    fprintf(stderr, "SKIP: this libdeit has no c10d Gloo (install libgloo-dev and rebuild)\n");
    return 77;
  }
  ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
  if (n <= 0) snprintf(g_self, sizeof g_self, "%s", argv[0]);
  make_data();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_environment_is_parsed_strictly),
      cmocka_unit_test(test_group_of_one_is_one_process),
      cmocka_unit_test(test_two_ranks_equal_one_process),
      cmocka_unit_test(test_dead_rank_stops_the_others),
      cmocka_unit_test(test_missing_rank_fails_to_join),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
