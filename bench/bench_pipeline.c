/*
 * libdeit's side of the speed comparison (bench/compare.sh), through the C API only.
 *
 * The same phases and settings as bench/reference_pipeline.py and bench/pytorch_inmemory.py:
 *   teacher  head-only fine-tune of a ResNet-50 teacher (deit_teacher_train, DEIT_TRAIN_HEAD,
 *            1 epoch, batch 64, Adam 1e-3) on the first N train images
 *   distill  the seed student distilled from that teacher (soft KD, T 2, alpha 0.5, Adam 1e-3,
 *            batch 64, teacher logits cached) for E epochs on the first N train images;
 *            images/s = images trained / (logits time + epochs time), both from the progress
 *            callback (DEIT_PHASE_TEACHER_LOGITS and DEIT_PHASE_DISTILL)
 *   eval     deit_student_evaluate on the first N test images, timed around the call
 * plus the process's peak RSS.  Models start from libdeit's seeded random initialisation: no
 * pretrained weights exist here and throughput does not depend on them.
 *
 *   bench_pipeline [--phase teacher|distill|eval|all] [--threads N] [--device cpu|cuda|cuda:N]
 *                  [--data DIR] [--teacher-images N] [--distill-images N] [--epochs E]
 *                  [--eval-images N] [--seed S] [--json FILE]
 * Exits 77 (skipped) when the data set or the requested device is absent.
 */
#define _POSIX_C_SOURCE 200809L

#include <deit/deit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#define SKIPPED 77
#define BATCH 64

typedef struct options {
  const char* phase;
  int threads;
  const char* device;
  const char* data;
  long teacher_images;
  long distill_images;
  int epochs;
  long eval_images;
  unsigned long long seed;
  const char* json;
} options;

/* What the progress callback saw: the last report of each epoch carries its time. */
typedef struct phase_times {
  double teacher_train_seconds;
  double teacher_train_images;
  double logits_seconds;
  double distill_seconds;
  double distill_images;
  int distill_epochs_seen;
} phase_times;

typedef struct phase_result {
  int ran;
  double images;
  double seconds;
  double images_per_sec;
  double wall_seconds; /* around the whole C call: includes moving the data to the device */
  double logits_seconds;
  double epochs_seconds;
  double loss;
  double accuracy;
} phase_result;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double peak_rss_mib(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1.0;
  return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static int on_progress(const deit_progress* p, void* user_data) {
  phase_times* t = (phase_times*)user_data;
  if (!p->end_of_epoch) return 0;
  switch (p->phase) {
    case DEIT_PHASE_TEACHER_TRAIN:
      t->teacher_train_seconds += p->seconds;
      t->teacher_train_images += p->images_per_sec * p->seconds;
      break;
    case DEIT_PHASE_TEACHER_LOGITS: t->logits_seconds += p->seconds; break;
    case DEIT_PHASE_DISTILL:
      t->distill_seconds += p->seconds;
      t->distill_images += p->images_per_sec * p->seconds;
      t->distill_epochs_seen++;
      break;
    default: break;
  }
  return 0;
}

static int fail(const char* what, deit_status st) {
  fprintf(stderr, "bench_pipeline: %s: %s (%s)\n", what, deit_last_error(), deit_status_str(st));
  return 1;
}

static void usage(FILE* f) {
  fprintf(f,
          "usage: bench_pipeline [--phase teacher|distill|eval|all] [--threads N] [--device SPEC]\n"
          "                      [--data DIR] [--teacher-images N] [--distill-images N] [--epochs E]\n"
          "                      [--eval-images N] [--seed S] [--json FILE]\n");
}

static int parse_long(const char* name, const char* text, long min, long* out) {
  char* end = NULL;
  errno = 0;
  const long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min) {
    fprintf(stderr, "bench_pipeline: %s = '%s': expected an integer >= %ld\n", name, text, min);
    return 0;
  }
  *out = v;
  return 1;
}

static int parse_args(int argc, char** argv, options* o) {
  o->phase = "all";
  o->threads = 0;
  o->device = "cpu";
  o->data = "/usr/share/datasets/fashion-mnist";
  o->teacher_images = 1280;
  o->distill_images = 6400;
  o->epochs = 1;
  o->eval_images = 10000;
  o->seed = 0;
  o->json = NULL;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "bench_pipeline: %s needs a value\n", a);
      return 0;
    }
    const char* v = argv[++i];
    long n = 0;
    if (!strcmp(a, "--phase")) {
      if (strcmp(v, "teacher") && strcmp(v, "distill") && strcmp(v, "eval") && strcmp(v, "all")) {
        fprintf(stderr, "bench_pipeline: --phase %s: expected teacher, distill, eval or all\n", v);
        return 0;
      }
      o->phase = v;
    } else if (!strcmp(a, "--threads")) {
      if (!parse_long(a, v, 0, &n)) return 0;
      o->threads = (int)n;
    } else if (!strcmp(a, "--device")) {
      o->device = v;
    } else if (!strcmp(a, "--data")) {
      o->data = v;
    } else if (!strcmp(a, "--teacher-images")) {
      if (!parse_long(a, v, BATCH, &o->teacher_images)) return 0;
    } else if (!strcmp(a, "--distill-images")) {
      if (!parse_long(a, v, BATCH, &o->distill_images)) return 0;
    } else if (!strcmp(a, "--epochs")) {
      if (!parse_long(a, v, 1, &n)) return 0;
      o->epochs = (int)n;
    } else if (!strcmp(a, "--eval-images")) {
      if (!parse_long(a, v, 1, &o->eval_images)) return 0;
    } else if (!strcmp(a, "--seed")) {
      if (!parse_long(a, v, 0, &n)) return 0;
      o->seed = (unsigned long long)n;
    } else if (!strcmp(a, "--json")) {
      o->json = v;
    } else {
      fprintf(stderr, "bench_pipeline: unknown option %s\n", a);
      usage(stderr);
      return 0;
    }
  }
  return 1;
}

static int want(const options* o, const char* phase) {
  return !strcmp(o->phase, "all") || !strcmp(o->phase, phase);
}

/* The first n images of a split; exits 77 when the files are absent. */
static int open_subset(const options* o, deit_split split, long n, deit_dataset** out) {
  char path[4096];
  struct stat sb;
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", o->data,
           split == DEIT_SPLIT_TRAIN ? "train" : "t10k");
  if (stat(path, &sb) != 0) {
    fprintf(stderr, "bench_pipeline: %s not found (apt-get install dataset-fashion-mnist); skipped\n", path);
    exit(SKIPPED);
  }
  deit_dataset* all = NULL;
  deit_status st = deit_dataset_open_dir(o->data, split, &all);
  if (st != DEIT_OK) return fail("opening the data set", st);
  st = deit_dataset_subset_first(all, n, out);
  deit_dataset_free(all);
  if (st != DEIT_OK) return fail("taking a subset", st);
  return 0;
}

static int run_teacher(const options* o, deit_teacher* teacher, phase_result* r) {
  deit_dataset* train = NULL;
  if (open_subset(o, DEIT_SPLIT_TRAIN, o->teacher_images, &train)) return 1;
  phase_times times;
  memset(&times, 0, sizeof times);
  deit_teacher_train_options opt;
  deit_teacher_train_options_init(&opt);
  opt.epochs = 1;
  opt.batch_size = BATCH;
  opt.trainable = DEIT_TRAIN_HEAD;
  opt.seed = o->seed;
  opt.device = o->device;
  opt.progress = on_progress;
  opt.user_data = &times;
  const double t0 = now_seconds();
  const deit_status st = deit_teacher_train(teacher, train, &opt);
  r->wall_seconds = now_seconds() - t0;
  deit_dataset_free(train);
  if (st != DEIT_OK) return fail("deit_teacher_train", st);
  if (times.teacher_train_seconds <= 0) {
    fprintf(stderr, "bench_pipeline: the teacher's training reported no finished epoch\n");
    return 1;
  }
  r->ran = 1;
  r->images = times.teacher_train_images;
  r->seconds = times.teacher_train_seconds;
  r->images_per_sec = r->images / r->seconds;
  return 0;
}

static int run_distill(const options* o, deit_student* student, deit_teacher* teacher, phase_result* r) {
  deit_dataset* train = NULL;
  if (open_subset(o, DEIT_SPLIT_TRAIN, o->distill_images, &train)) return 1;
  phase_times times;
  memset(&times, 0, sizeof times);
  deit_distill_options opt;
  deit_distill_options_init(&opt);
  opt.epochs = o->epochs;
  opt.batch_size = BATCH;
  opt.lr = 1e-3;
  opt.optimizer = DEIT_OPTIM_ADAM;
  opt.alpha = 0.5;
  opt.temperature = 2.0;
  opt.distillation = DEIT_DISTILL_SOFT;
  opt.cache_teacher_logits = 1;
  opt.seed = o->seed;
  opt.device = o->device;
  opt.progress = on_progress;
  opt.user_data = &times;
  const double t0 = now_seconds();
  const deit_status st = deit_distill(student, teacher, train, &opt);
  r->wall_seconds = now_seconds() - t0;
  deit_dataset_free(train);
  if (st != DEIT_OK) return fail("deit_distill", st);
  if (times.distill_epochs_seen != o->epochs || times.logits_seconds <= 0) {
    fprintf(stderr,
            "bench_pipeline: expected %d distillation epochs and a logits phase, saw %d epochs, %.3f s of "
            "logits\n",
            o->epochs, times.distill_epochs_seen, times.logits_seconds);
    return 1;
  }
  r->ran = 1;
  r->images = times.distill_images;
  r->logits_seconds = times.logits_seconds;
  r->epochs_seconds = times.distill_seconds;
  r->seconds = r->logits_seconds + r->epochs_seconds;
  r->images_per_sec = r->images / r->seconds;
  return 0;
}

static int run_eval(const options* o, deit_student* student, phase_result* r) {
  deit_dataset* test = NULL;
  if (open_subset(o, DEIT_SPLIT_TEST, o->eval_images, &test)) return 1;
  deit_eval_result res;
  memset(&res, 0, sizeof res);
  res.struct_size = sizeof res;
  const double t0 = now_seconds();
  const deit_status st = deit_student_evaluate(student, test, &res, NULL, 0);
  r->wall_seconds = now_seconds() - t0;
  deit_dataset_free(test);
  if (st != DEIT_OK) return fail("deit_student_evaluate", st);
  r->ran = 1;
  r->images = (double)res.count;
  r->seconds = r->wall_seconds;
  r->images_per_sec = r->images / r->seconds;
  r->accuracy = res.accuracy;
  return 0;
}

static void print_phase(FILE* f, const char* name, const phase_result* r, int* first) {
  if (!r->ran) return;
  fprintf(f,
          "%s\n    \"%s\": {\"images\": %.0f, \"seconds\": %.4f, \"images_per_sec\": %.2f, \"wall_seconds\": "
          "%.4f",
          *first ? "" : ",", name, r->images, r->seconds, r->images_per_sec, r->wall_seconds);
  if (r->epochs_seconds > 0)
    fprintf(f, ", \"logits_seconds\": %.4f, \"epochs_seconds\": %.4f, \"epoch_images_per_sec\": %.2f",
            r->logits_seconds, r->epochs_seconds, r->images / r->epochs_seconds);
  if (!strcmp(name, "eval"))
    fprintf(f, ", \"batch_size\": 256, \"accuracy\": %.4f", r->accuracy);
  else
    fprintf(f, ", \"batch_size\": %d", BATCH);
  fprintf(f, "}");
  *first = 0;
}

static int write_json(const options* o, const char* device, const phase_result* teacher,
                      const phase_result* distill, const phase_result* eval) {
  FILE* f = fopen(o->json, "w");
  if (!f) {
    fprintf(stderr, "bench_pipeline: cannot write %s: %s\n", o->json, strerror(errno));
    return 1;
  }
  fprintf(f, "{\n  \"implementation\": \"libdeit\",\n  \"device\": \"%s\",\n  \"threads\": %d,\n", device,
          (int)deit_get_num_threads());
  fprintf(f, "  \"libdeit_version\": \"%s\",\n  \"epochs\": %d,\n  \"phases\": {", deit_version_string(),
          o->epochs);
  int first = 1;
  print_phase(f, "teacher", teacher, &first);
  print_phase(f, "distill", distill, &first);
  print_phase(f, "eval", eval, &first);
  /* No C API reports device memory; compare.sh shows n/a for it. */
  fprintf(f, "\n  },\n  \"peak_rss_mib\": %.1f,\n  \"peak_device_mib\": null\n}\n", peak_rss_mib());
  if (fclose(f) != 0) {
    fprintf(stderr, "bench_pipeline: writing %s failed: %s\n", o->json, strerror(errno));
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  options o;
  if (!parse_args(argc, argv, &o)) return 2;

  char device[64];
  deit_status st = deit_resolve_device(o.device, device, sizeof device);
  if (st == DEIT_E_DEVICE) {
    fprintf(stderr, "bench_pipeline: device %s is not available (%s); skipped\n", o.device,
            deit_last_error());
    return SKIPPED;
  }
  if (st != DEIT_OK) return fail("--device", st);
  st = deit_set_num_threads(o.threads);
  if (st != DEIT_OK) return fail("--threads", st);

  phase_result teacher_r, distill_r, eval_r;
  memset(&teacher_r, 0, sizeof teacher_r);
  memset(&distill_r, 0, sizeof distill_r);
  memset(&eval_r, 0, sizeof eval_r);
  deit_teacher* teacher = NULL;
  deit_student* student = NULL;
  int rc = 0;

  /* Only the models a phase needs, so that each phase's peak memory is its own. */
  if (want(&o, "teacher") || want(&o, "distill")) {
    st = deit_teacher_create("resnet50", 10, &teacher);
    if (st == DEIT_OK) st = deit_teacher_set_device(teacher, device);
    if (st != DEIT_OK) rc = fail("creating the ResNet-50 teacher", st);
  }
  if (!rc && (want(&o, "distill") || want(&o, "eval"))) {
    deit_student_config cfg;
    st = deit_student_config_init(&cfg, "seed", 10);
    if (st == DEIT_OK) st = deit_student_create(&cfg, o.seed, &student);
    if (st == DEIT_OK) st = deit_student_set_device(student, device);
    if (st != DEIT_OK) rc = fail("creating the seed student", st);
  }
  if (!rc && want(&o, "teacher")) rc = run_teacher(&o, teacher, &teacher_r);
  if (!rc && want(&o, "distill")) rc = run_distill(&o, student, teacher, &distill_r);
  if (!rc && want(&o, "eval")) rc = run_eval(&o, student, &eval_r);

  if (!rc) {
    const phase_result* all[3] = {&teacher_r, &distill_r, &eval_r};
    const char* names[3] = {"teacher", "distill", "eval"};
    for (int i = 0; i < 3; ++i)
      if (all[i]->ran)
        printf("libdeit %s: %.1f images/s (%.0f images, %.2f s)\n", names[i], all[i]->images_per_sec,
               all[i]->images, all[i]->seconds);
    printf("libdeit: peak RSS %.0f MiB\n", peak_rss_mib());
    if (o.json) rc = write_json(&o, device, &teacher_r, &distill_r, &eval_r);
  }
  deit_student_free(student);
  deit_teacher_free(teacher);
  return rc;
}
