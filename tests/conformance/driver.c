/* deit_conformance_driver: the libdeit side of the conformance tests.  The
 * Python tests (tests/conformance/test_*.py) build the reference models in
 * PyTorch, write weights and inputs to files, run this program and compare.
 * It uses the public C API only, always on the CPU, and exits 0 on success,
 * 1 on a libdeit error (message on stderr), 2 on bad usage.
 *
 * Raw files are little-endian arrays without a header: images float32 NCHW,
 * labels int64, logits float32 [N, classes].
 *
 *   student-init PRESET CLASSES SEED DROPOUT OUT.safetensors
 *       create a student (DROPOUT "keep", or a value for dropout and
 *       attn_dropout) and save it
 *   student-from-weights FILE CLASSES IMG CHANNELS SEED OUT.safetensors
 *       deit_student_config_from_weights(FILE), then CLASSES, IMG, CHANNELS
 *       ("file": as read) set, deit_student_create with SEED,
 *       deit_student_load_weights(FILE), saved; prints the configuration:
 *       "img_size P patch_size P in_channels C num_classes K embed_dim D
 *       depth L num_heads H mlp_dim M qkv_bias B"
 *   student-predict CKPT IMAGES.f32 N OUT.f32
 *       logits of the class, distillation and averaged heads, in that order
 *   teacher-init ARCH CLASSES OUT.safetensors
 *       create a ResNet teacher (seed 0) and save it
 *   teacher-predict TEACHER IMAGES.f32 N C H W OUT.f32
 *   teacher-save TEACHER OUT.safetensors
 *       a libdeit checkpoint of TEACHER (e.g. weights:ARCH:CLASSES:PATH)
 *   distill STUDENT TEACHER IMAGES.f32 LABELS.i64 N TYPE ALPHA T OPTIM LR OUT.safetensors [KEY=VALUE...]
 *       deit_distill with the N images as one batch, so every epoch is one
 *       step of OPTIM (adam, adamw, or sgd without momentum); prints one line
 *       per epoch, "epoch E lr R loss L cls C dist D": the learning rate and
 *       the losses of that epoch's step, as the progress callback reports
 *       them at the epoch's end.  Optional settings (default):
 *         epochs=E      (1)
 *         wd=W          weight_decay (0)
 *         smoothing=S   label_smoothing (0)
 *         schedule=S    constant or cosine (constant)
 *         warmup=E      warmup_epochs (0; cosine only): with one step per
 *                       epoch, also the warmup in steps
 *   loss CASES.txt LOGITS.f32 LABELS.i64 N CLASSES
 *       LOGITS holds cls, dist and teacher logits; every line of CASES is
 *       "TYPE ALPHA T LABEL_SMOOTHING"; prints "L C D" per case
 *
 * TEACHER: weights:ARCH:CLASSES:PATH (deit_teacher_create +
 * deit_teacher_load_weights), torchscript:CLASSES:PATH, checkpoint:PATH or
 * none.  TYPE: soft, hard or none. */
#include <deit/deit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                                   \
  do {                                                                                                \
    deit_status st_ = (call);                                                                         \
    if (st_ != DEIT_OK) {                                                                             \
      fprintf(stderr, "driver: %s failed: %s: %s\n", #call, deit_status_str(st_), deit_last_error()); \
      exit(1);                                                                                        \
    }                                                                                                 \
  } while (0)

static void usage(const char* msg) {
  fprintf(stderr, "driver: %s (see the comment at the top of tests/conformance/driver.c)\n", msg);
  exit(2);
}

static void* xmalloc(size_t n) {
  void* p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "driver: out of memory (%zu bytes)\n", n);
    exit(1);
  }
  return p;
}

static long long parse_int(const char* s, const char* what) {
  char* end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || !end || *end || end == s) {
    fprintf(stderr, "driver: %s '%s' is not an integer\n", what, s);
    exit(2);
  }
  return v;
}

static double parse_double(const char* s, const char* what) {
  char* end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || !end || *end || end == s) {
    fprintf(stderr, "driver: %s '%s' is not a number\n", what, s);
    exit(2);
  }
  return v;
}

static deit_distillation parse_type(const char* s) {
  if (strcmp(s, "soft") == 0) return DEIT_DISTILL_SOFT;
  if (strcmp(s, "hard") == 0) return DEIT_DISTILL_HARD;
  if (strcmp(s, "none") == 0) return DEIT_DISTILL_NONE;
  fprintf(stderr, "driver: distillation type '%s' is not soft, hard or none\n", s);
  exit(2);
}

/* Reads exactly `size` bytes (the file must be that long). */
static void* read_exact(const char* path, size_t size) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "driver: cannot open %s: %s\n", path, strerror(errno));
    exit(1);
  }
  void* buf = xmalloc(size);
  size_t got = fread(buf, 1, size, f);
  int extra = fgetc(f);
  fclose(f);
  if (got != size || extra != EOF) {
    fprintf(stderr, "driver: %s does not hold exactly %zu bytes\n", path, size);
    exit(1);
  }
  return buf;
}

static void write_all(const char* path, const void* data, size_t size) {
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
    fprintf(stderr, "driver: cannot write %s: %s\n", path, strerror(errno));
    exit(1);
  }
}

static deit_images f32_images(const float* data, long long n, int c, int h, int w) {
  deit_images im = {data, DEIT_DTYPE_F32, DEIT_LAYOUT_NCHW, n, c, h, w};
  return im;
}

/* NULL for "none". */
static deit_teacher* open_teacher(const char* spec) {
  deit_teacher* t = NULL;
  if (strcmp(spec, "none") == 0) return NULL;
  char* copy = xmalloc(strlen(spec) + 1);
  strcpy(copy, spec);
  char *kind = copy, *rest = strchr(copy, ':');
  if (!rest)
    usage("a TEACHER is weights:ARCH:CLASSES:PATH, torchscript:CLASSES:PATH, checkpoint:PATH or none");
  *rest++ = '\0';
  if (strcmp(kind, "checkpoint") == 0) {
    CHECK(deit_teacher_load(rest, &t));
  } else if (strcmp(kind, "torchscript") == 0) {
    char* path = strchr(rest, ':');
    if (!path) usage("torchscript:CLASSES:PATH expected");
    *path++ = '\0';
    CHECK(deit_teacher_load_torchscript(path, (int32_t)parse_int(rest, "CLASSES"), &t));
  } else if (strcmp(kind, "weights") == 0) {
    char* classes = strchr(rest, ':');
    char* path = classes ? strchr(classes + 1, ':') : NULL;
    if (!path) usage("weights:ARCH:CLASSES:PATH expected");
    *classes++ = '\0';
    *path++ = '\0';
    CHECK(deit_teacher_create(rest, (int32_t)parse_int(classes, "CLASSES"), &t));
    CHECK(deit_teacher_load_weights(t, path));
  } else {
    usage("unknown TEACHER kind");
  }
  free(copy);
  CHECK(deit_teacher_set_device(t, "cpu"));
  return t;
}

static int cmd_student_init(int argc, char** argv) {
  if (argc != 5) usage("student-init PRESET CLASSES SEED DROPOUT OUT");
  deit_student_config cfg;
  CHECK(deit_student_config_init(&cfg, argv[0], (int32_t)parse_int(argv[1], "CLASSES")));
  if (strcmp(argv[3], "keep") != 0) cfg.dropout = cfg.attn_dropout = parse_double(argv[3], "DROPOUT");
  deit_student* s = NULL;
  CHECK(deit_student_create(&cfg, (uint64_t)parse_int(argv[2], "SEED"), &s));
  CHECK(deit_student_save(s, argv[4]));
  deit_student_free(s);
  return 0;
}

static int cmd_student_from_weights(int argc, char** argv) {
  if (argc != 6) usage("student-from-weights FILE CLASSES IMG CHANNELS SEED OUT");
  deit_student_config cfg;
  CHECK(deit_student_config_from_weights(&cfg, argv[0]));
  if (strcmp(argv[1], "file") != 0) cfg.num_classes = (int32_t)parse_int(argv[1], "CLASSES");
  if (strcmp(argv[2], "file") != 0) cfg.img_size = (int32_t)parse_int(argv[2], "IMG");
  if (strcmp(argv[3], "file") != 0) cfg.in_channels = (int32_t)parse_int(argv[3], "CHANNELS");
  deit_student* s = NULL;
  CHECK(deit_student_create(&cfg, (uint64_t)parse_int(argv[4], "SEED"), &s));
  CHECK(deit_student_load_weights(s, argv[0]));
  CHECK(deit_student_save(s, argv[5]));
  deit_student_free(s);
  printf("img_size %d patch_size %d in_channels %d num_classes %d embed_dim %d depth %d num_heads %d mlp_dim %d "
         "qkv_bias %d\n",
         cfg.img_size, cfg.patch_size, cfg.in_channels, cfg.num_classes, cfg.embed_dim, cfg.depth,
         cfg.num_heads, cfg.mlp_dim, cfg.qkv_bias);
  return 0;
}

static int cmd_student_predict(int argc, char** argv) {
  if (argc != 4) usage("student-predict CKPT IMAGES N OUT");
  deit_student* s = NULL;
  CHECK(deit_student_load(argv[0], &s));
  CHECK(deit_student_set_device(s, "cpu"));
  deit_student_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.struct_size = sizeof cfg;
  CHECK(deit_student_get_config(s, &cfg));
  const long long n = parse_int(argv[2], "N");
  const size_t pixels = (size_t)n * cfg.in_channels * cfg.img_size * cfg.img_size;
  float* x = read_exact(argv[1], pixels * sizeof(float));
  const size_t k = (size_t)n * cfg.num_classes;
  float* out = xmalloc(3 * k * sizeof(float));
  deit_images im = f32_images(x, n, cfg.in_channels, cfg.img_size, cfg.img_size);
  const deit_head heads[3] = {DEIT_HEAD_CLS, DEIT_HEAD_DIST, DEIT_HEAD_AVG};
  for (int i = 0; i < 3; ++i) CHECK(deit_student_predict(s, &im, heads[i], out + i * k, k));
  write_all(argv[3], out, 3 * k * sizeof(float));
  free(out);
  free(x);
  deit_student_free(s);
  return 0;
}

static int cmd_student_export_onnx(int argc, char** argv) {
  if (argc != 3) usage("student-export-onnx CKPT HEAD OUT (HEAD: avg, cls or dist)");
  deit_onnx_options o;
  CHECK(deit_onnx_options_init(&o));
  if (strcmp(argv[1], "cls") == 0) {
    o.head = DEIT_HEAD_CLS;
  } else if (strcmp(argv[1], "dist") == 0) {
    o.head = DEIT_HEAD_DIST;
  } else if (strcmp(argv[1], "avg") != 0) {
    usage("HEAD is avg, cls or dist");
  }
  deit_student* s = NULL;
  CHECK(deit_student_load(argv[0], &s));
  CHECK(deit_student_export_onnx(s, argv[2], &o));
  deit_student_free(s);
  return 0;
}

static int cmd_teacher_init(int argc, char** argv) {
  if (argc != 3) usage("teacher-init ARCH CLASSES OUT");
  deit_teacher* t = NULL;
  CHECK(deit_teacher_create(argv[0], (int32_t)parse_int(argv[1], "CLASSES"), &t));
  CHECK(deit_teacher_save(t, argv[2]));
  deit_teacher_free(t);
  return 0;
}

static int cmd_teacher_save(int argc, char** argv) {
  if (argc != 2) usage("teacher-save TEACHER OUT");
  deit_teacher* t = open_teacher(argv[0]);
  if (!t) usage("teacher-save needs a teacher");
  CHECK(deit_teacher_save(t, argv[1]));
  deit_teacher_free(t);
  return 0;
}

static int cmd_teacher_predict(int argc, char** argv) {
  if (argc != 7) usage("teacher-predict TEACHER IMAGES N C H W OUT");
  deit_teacher* t = open_teacher(argv[0]);
  if (!t) usage("teacher-predict needs a teacher");
  int32_t classes = 0;
  CHECK(deit_teacher_num_classes(t, &classes));
  const long long n = parse_int(argv[2], "N");
  const int c = (int)parse_int(argv[3], "C"), h = (int)parse_int(argv[4], "H"),
            w = (int)parse_int(argv[5], "W");
  float* x = read_exact(argv[1], (size_t)n * c * h * w * sizeof(float));
  const size_t k = (size_t)n * classes;
  float* out = xmalloc(k * sizeof(float));
  deit_images im = f32_images(x, n, c, h, w);
  CHECK(deit_teacher_predict(t, &im, out, k));
  write_all(argv[6], out, k * sizeof(float));
  free(out);
  free(x);
  deit_teacher_free(t);
  return 0;
}

/* The end-of-epoch reports (the epoch's mean losses: with one step, those of
 * that step), one per epoch. */
struct epoch_reports {
  int32_t epochs;
  int32_t seen;
  int bad; /* a report out of order, or of an epoch with more than one step */
  deit_progress* p;
};

static int on_progress(const deit_progress* p, void* user_data) {
  struct epoch_reports* r = user_data;
  if (p->phase != DEIT_PHASE_DISTILL || !p->end_of_epoch) return 0;
  if (r->seen >= r->epochs || p->epoch != r->seen + 1 || p->steps != 1 || p->step != 1) {
    r->bad = 1;
    return 0;
  }
  r->p[r->seen++] = *p;
  return 0;
}

/* Applies one optional "KEY=VALUE" setting of `distill`. */
static void distill_setting(deit_distill_options* o, const char* arg) {
  const char* eq = strchr(arg, '=');
  if (!eq) usage("a distill setting is KEY=VALUE");
  const size_t klen = (size_t)(eq - arg);
  const char* v = eq + 1;
#define KEY(name) (klen == strlen(name) && strncmp(arg, name, klen) == 0)
  if (KEY("epochs")) {
    o->epochs = (int32_t)parse_int(v, "epochs");
  } else if (KEY("wd")) {
    o->weight_decay = parse_double(v, "wd");
  } else if (KEY("smoothing")) {
    o->label_smoothing = parse_double(v, "smoothing");
  } else if (KEY("schedule")) {
    if (strcmp(v, "constant") == 0)
      o->schedule = DEIT_SCHEDULE_CONSTANT;
    else if (strcmp(v, "cosine") == 0)
      o->schedule = DEIT_SCHEDULE_COSINE;
    else
      usage("schedule is constant or cosine");
  } else if (KEY("warmup")) {
    o->warmup_epochs = (int32_t)parse_int(v, "warmup");
  } else {
    fprintf(stderr, "driver: unknown distill setting '%s'\n", arg);
    exit(2);
  }
#undef KEY
}

static int cmd_distill(int argc, char** argv) {
  if (argc < 11) usage("distill STUDENT TEACHER IMAGES LABELS N TYPE ALPHA T OPTIM LR OUT [KEY=VALUE...]");
  deit_distill_options o;
  CHECK(deit_distill_options_init(&o));
  o.epochs = 1;
  if (strcmp(argv[8], "adam") == 0) {
    o.optimizer = DEIT_OPTIM_ADAM;
  } else if (strcmp(argv[8], "adamw") == 0) {
    o.optimizer = DEIT_OPTIM_ADAMW;
  } else if (strcmp(argv[8], "sgd") == 0) {
    o.optimizer = DEIT_OPTIM_SGD;
    o.momentum = 0.0; /* the step is -lr * gradient: the gradients can be read off the weights */
  } else {
    usage("OPTIM is adam, adamw or sgd");
  }
  o.lr = parse_double(argv[9], "LR");
  o.distillation = parse_type(argv[5]);
  o.alpha = parse_double(argv[6], "ALPHA");
  o.temperature = parse_double(argv[7], "T");
  for (int i = 11; i < argc; ++i) distill_setting(&o, argv[i]);
  if (o.epochs < 1) usage("epochs must be at least 1");

  deit_student* s = NULL;
  CHECK(deit_student_load(argv[0], &s));
  CHECK(deit_student_set_device(s, "cpu"));
  deit_teacher* t = open_teacher(argv[1]);
  deit_student_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.struct_size = sizeof cfg;
  CHECK(deit_student_get_config(s, &cfg));
  const long long n = parse_int(argv[4], "N");
  const size_t pixels = (size_t)n * cfg.in_channels * cfg.img_size * cfg.img_size;
  float* x = read_exact(argv[2], pixels * sizeof(float));
  int64_t* labels = read_exact(argv[3], (size_t)n * sizeof(int64_t));
  deit_images im = f32_images(x, n, cfg.in_channels, cfg.img_size, cfg.img_size);
  deit_dataset* ds = NULL;
  CHECK(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I64, cfg.num_classes, &ds));

  o.batch_size = (int32_t)n; /* the whole data set is one batch: one optimizer step per epoch */
  o.device = "cpu";
  struct epoch_reports r;
  memset(&r, 0, sizeof r);
  r.epochs = o.epochs;
  r.p = xmalloc((size_t)o.epochs * sizeof *r.p);
  o.progress = on_progress;
  o.user_data = &r;
  CHECK(deit_distill(s, t, ds, &o));
  if (r.bad || r.seen != o.epochs) {
    fprintf(stderr,
            "driver: expected one end-of-epoch report of a 1-step epoch for each of %d epochs, in order "
            "(got %d%s)\n",
            (int)o.epochs, (int)r.seen, r.bad ? " and others out of order" : "");
    return 1;
  }
  CHECK(deit_student_save(s, argv[10]));
  for (int32_t e = 0; e < r.seen; ++e)
    printf("epoch %d lr %.17g loss %.17g cls %.17g dist %.17g\n", (int)r.p[e].epoch, r.p[e].lr, r.p[e].loss,
           r.p[e].loss_cls, r.p[e].loss_dist);
  free(r.p);
  deit_dataset_free(ds);
  free(labels);
  free(x);
  deit_teacher_free(t);
  deit_student_free(s);
  return 0;
}

static int cmd_loss(int argc, char** argv) {
  if (argc != 5) usage("loss CASES LOGITS LABELS N CLASSES");
  const long long n = parse_int(argv[3], "N");
  const int classes = (int)parse_int(argv[4], "CLASSES");
  const size_t k = (size_t)n * classes;
  float* logits = read_exact(argv[1], 3 * k * sizeof(float));
  int64_t* labels = read_exact(argv[2], (size_t)n * sizeof(int64_t));
  FILE* f = fopen(argv[0], "r");
  if (!f) {
    fprintf(stderr, "driver: cannot open %s: %s\n", argv[0], strerror(errno));
    return 1;
  }
  char type[16];
  double alpha, temperature, smoothing;
  int rc;
  while ((rc = fscanf(f, "%15s %lf %lf %lf", type, &alpha, &temperature, &smoothing)) == 4) {
    double loss, loss_cls, loss_dist;
    CHECK(deit_distillation_loss(logits, logits + k, logits + 2 * k, labels, n, classes, parse_type(type),
                                 alpha, temperature, smoothing, &loss, &loss_cls, &loss_dist));
    printf("%.17g %.17g %.17g\n", loss, loss_cls, loss_dist);
  }
  fclose(f);
  if (rc != EOF) {
    fprintf(stderr, "driver: %s: a line is not 'TYPE ALPHA T LABEL_SMOOTHING'\n", argv[0]);
    return 1;
  }
  free(labels);
  free(logits);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) usage("missing command");
  const char* cmd = argv[1];
  argc -= 2;
  argv += 2;
  if (strcmp(cmd, "student-init") == 0) return cmd_student_init(argc, argv);
  if (strcmp(cmd, "student-from-weights") == 0) return cmd_student_from_weights(argc, argv);
  if (strcmp(cmd, "teacher-save") == 0) return cmd_teacher_save(argc, argv);
  if (strcmp(cmd, "student-predict") == 0) return cmd_student_predict(argc, argv);
  if (strcmp(cmd, "student-export-onnx") == 0) return cmd_student_export_onnx(argc, argv);
  if (strcmp(cmd, "teacher-init") == 0) return cmd_teacher_init(argc, argv);
  if (strcmp(cmd, "teacher-predict") == 0) return cmd_teacher_predict(argc, argv);
  if (strcmp(cmd, "distill") == 0) return cmd_distill(argc, argv);
  if (strcmp(cmd, "loss") == 0) return cmd_loss(argc, argv);
  usage("unknown command");
  return 2;
}
