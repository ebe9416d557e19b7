/* Image files through the C API: ImageFolder order and class names, train/ + val/ layouts, CSV list
 * files, bad files (failed naming the file, or skipped and counted), one file for prediction, and the
 * class names + preprocessing a model keeps in its checkpoint.  The images are small PPM/PGM files
 * written here, each one solid colour that says which file it is (a solid image stays exactly solid
 * through the resize, so the stored pixels identify the file); the decoders and the resampling are checked
 * against PIL on real photographs in tests/image. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test_support.h"

enum { SIDE = 28 };

static void make_dirs(const char *path) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; ++p) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) fail_msg("mkdir %s: %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) fail_msg("mkdir %s: %s", buf, strerror(errno));
}

/* deit_test_dir()/rel, with its folders made. */
static const char *file_at(const char *rel) {
  static char buf[4][1024];
  static int next;
  char *out = buf[next++ % 4];
  snprintf(out, sizeof buf[0], "%s/%s", deit_test_dir(), rel);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", out);
  char *slash = strrchr(dir, '/');
  *slash = '\0';
  make_dirs(dir);
  return out;
}

/* A w x h PPM of one colour (r, g, b). */
static void write_ppm(const char *rel, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  char header[64];
  const int n = snprintf(header, sizeof header, "P6\n%d %d\n255\n", w, h);
  const size_t size = (size_t)n + (size_t)w * (size_t)h * 3;
  uint8_t *data = malloc(size);
  assert_non_null(data);
  memcpy(data, header, (size_t)n);
  for (size_t i = 0; i < (size_t)w * (size_t)h; ++i) {
    data[(size_t)n + 3 * i] = r;
    data[(size_t)n + 3 * i + 1] = g;
    data[(size_t)n + 3 * i + 2] = b;
  }
  deit_test_write_file(file_at(rel), data, size);
  free(data);
}

/* deit_test_dir()/rel. */
static const char *under_test_dir(const char *rel) {
  static char buf[2][1024];
  static int next;
  char *out = buf[next++ % 2];
  snprintf(out, sizeof buf[0], "%s/%s", deit_test_dir(), rel);
  return out;
}

static deit_image_options small_options(void) {
  deit_image_options o;
  assert_ok(deit_image_options_init(&o));
  o.image_size = SIDE;
  o.crop_pct = 1.0;
  o.threads = 2;
  return o;
}

static deit_dataset_info info_of(const deit_dataset *ds) {
  deit_dataset_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  assert_ok(deit_dataset_get_info(ds, &info));
  return info;
}

/* The red value of every stored image (channel 0's first pixel) and the labels. */
static void reds_and_labels(const deit_dataset *ds, int n, int *reds, int32_t *labels) {
  const deit_dataset_info info = info_of(ds);
  assert_int_equal(info.count, n);
  const size_t per = (size_t)info.channels * (size_t)info.height * (size_t)info.width;
  uint8_t *px = malloc(per * (size_t)n);
  assert_non_null(px);
  assert_ok(deit_dataset_copy_images(ds, 0, n, px, per * (size_t)n));
  assert_ok(deit_dataset_copy_labels(ds, 0, n, labels, (size_t)n));
  for (int i = 0; i < n; ++i) {
    const uint8_t *img = px + per * (size_t)i;
    reds[i] = img[0];
    /* Solid in, solid out: the last pixel of channel 0 agrees. */
    assert_int_equal(img[(size_t)info.height * (size_t)info.width - 1], img[0]);
  }
  free(px);
}

static void expect_class_name(const deit_dataset *ds, int32_t k, const char *name) {
  char buf[64];
  assert_ok(deit_dataset_class_name(ds, k, buf, sizeof buf));
  assert_string_equal(buf, name);
}

/* torchvision's ImageFolder order: classes sorted by folder name, files in os.walk-sorted order (a
 * class's own files by name, "10" before "2", then its sub-folders); hidden folders and other files
 * left out. */
static void test_class_folder(void **state) {
  (void)state;
  write_ppm("classes/b_dog/x.PPM", 30, 20, 40, 0, 0);
  write_ppm("classes/a_cat/2.ppm", 20, 30, 20, 0, 0);
  write_ppm("classes/a_cat/10.ppm", 50, 50, 10, 0, 0);
  write_ppm("classes/a_cat/sub/1.ppm", 9, 9, 30, 0, 0);
  write_ppm("classes/.ipynb_checkpoints/y.ppm", 9, 9, 99, 0, 0);
  deit_test_write_file(file_at("classes/b_dog/notes.txt"), "not an image", 12);

  const deit_image_options o = small_options();
  deit_dataset *ds = NULL;
  assert_ok(deit_dataset_open_folder(under_test_dir("classes"), DEIT_SPLIT_TRAIN, &o, &ds));
  const deit_dataset_info info = info_of(ds);
  assert_int_equal(info.format, DEIT_FORMAT_FOLDER);
  assert_int_equal(info.num_classes, 2);
  assert_int_equal(info.channels, 3);
  assert_int_equal(info.height, SIDE);
  assert_int_equal(info.width, SIDE);
  assert_int_equal(info.skipped, 0);
  int reds[4];
  int32_t labels[4];
  reds_and_labels(ds, 4, reds, labels);
  const int want_reds[4] = {10, 20, 30, 40};
  const int32_t want_labels[4] = {0, 0, 0, 1};
  for (int i = 0; i < 4; ++i) {
    assert_int_equal(reds[i], want_reds[i]);
    assert_int_equal(labels[i], want_labels[i]);
  }
  expect_class_name(ds, 0, "a_cat");
  expect_class_name(ds, 1, "b_dog");
  char small[3];
  assert_status_msg(deit_dataset_class_name(ds, 0, small, sizeof small), DEIT_E_BUFFER_TOO_SMALL, "capacity");
  assert_status_msg(deit_dataset_class_name(ds, 2, small, sizeof small), DEIT_E_INVALID_ARG, "outside [0, 2)");

  /* Subsets keep the names; deit_dataset_open finds the folder too. */
  deit_dataset *first = NULL, *rest = NULL;
  assert_ok(deit_dataset_split(ds, 0.5, 1, &first, &rest));
  expect_class_name(rest, 1, "b_dog");
  deit_dataset_free(first);
  deit_dataset_free(rest);
  deit_dataset *again = NULL;
  assert_ok(deit_dataset_open(under_test_dir("classes"), DEIT_SPLIT_TEST, &o, &again));
  assert_int_equal(info_of(again).count, 4);
  deit_dataset_free(again);
  deit_dataset_free(ds);
}

/* train/ + val/: the split picks the folder, and val/'s labels follow train/'s classes even when val/ lacks
 * one; a val/ class the training split does not have is refused. */
static void test_split_folders(void **state) {
  (void)state;
  write_ppm("split/train/ant/1.ppm", 8, 8, 1, 0, 0);
  write_ppm("split/train/bee/1.ppm", 8, 8, 2, 0, 0);
  write_ppm("split/train/cow/1.ppm", 8, 8, 3, 0, 0);
  write_ppm("split/val/bee/1.ppm", 8, 8, 4, 0, 0);
  write_ppm("split/val/cow/1.ppm", 8, 8, 5, 0, 0);
  const deit_image_options o = small_options();
  deit_dataset *train = NULL, *val = NULL;
  assert_ok(deit_dataset_open_folder(under_test_dir("split"), DEIT_SPLIT_TRAIN, &o, &train));
  assert_ok(deit_dataset_open_folder(under_test_dir("split"), DEIT_SPLIT_TEST, &o, &val));
  assert_int_equal(info_of(train).count, 3);
  assert_int_equal(info_of(val).num_classes, 3);
  int reds[2];
  int32_t labels[2];
  reds_and_labels(val, 2, reds, labels);
  assert_int_equal(reds[0], 4);
  assert_int_equal(labels[0], 1);
  assert_int_equal(labels[1], 2);
  expect_class_name(val, 0, "ant");
  deit_dataset_free(train);
  deit_dataset_free(val);

  write_ppm("split/val/elk/1.ppm", 8, 8, 6, 0, 0);
  deit_dataset *bad = NULL;
  assert_status_msg(deit_dataset_open_folder(under_test_dir("split"), DEIT_SPLIT_TEST, &o, &bad), DEIT_E_FORMAT,
                    "split/val/elk: class \"elk\" is not among the training split's 3 classes");
  assert_null(bad);

  /* train/ alone: the test split is missing, said so. */
  write_ppm("trainonly/train/ant/1.ppm", 8, 8, 1, 0, 0);
  assert_ok(deit_dataset_open_folder(under_test_dir("trainonly"), DEIT_SPLIT_TRAIN, &o, &bad));
  assert_int_equal(info_of(bad).count, 1);
  expect_class_name(bad, 0, "ant");
  deit_dataset_free(bad);
  bad = NULL;
  assert_status_msg(deit_dataset_open_folder(under_test_dir("trainonly"), DEIT_SPLIT_TEST, &o, &bad), DEIT_E_IO,
                    "has train/ but no val/ or test/");
}

/* CSV list files: class-name labels sorted into indices, numeric labels as they are, paths relative to the
 * file; a missing file, a bad header or line, an empty list are errors naming the file. */
static void test_list_file(void **state) {
  (void)state;
  write_ppm("list/img/a.ppm", 8, 8, 11, 0, 0);
  write_ppm("list/img/b,c.ppm", 8, 8, 12, 0, 0);
  write_ppm("list/img/d.ppm", 8, 8, 13, 0, 0);
  const char *named = "path,label\r\nimg/a.ppm,zebra\r\n\r\nimg/b,c.ppm,yak\nimg/d.ppm, zebra\n";
  deit_test_write_file(file_at("list/named.csv"), named, strlen(named));
  const deit_image_options o = small_options();
  deit_dataset *ds = NULL;
  assert_ok(deit_dataset_open(under_test_dir("list/named.csv"), DEIT_SPLIT_TRAIN, &o, &ds));
  int reds[3];
  int32_t labels[3];
  reds_and_labels(ds, 3, reds, labels);
  assert_int_equal(reds[1], 12);
  assert_int_equal(labels[0], 1);
  assert_int_equal(labels[1], 0);
  assert_int_equal(labels[2], 1);
  expect_class_name(ds, 0, "yak");
  expect_class_name(ds, 1, "zebra");
  deit_dataset_free(ds);

  const char *numeric = "path,label\nimg/a.ppm,4\nimg/d.ppm,0\n";
  deit_test_write_file(file_at("list/numeric.csv"), numeric, strlen(numeric));
  assert_ok(deit_dataset_open_folder(under_test_dir("list/numeric.csv"), DEIT_SPLIT_TRAIN, &o, &ds));
  assert_int_equal(info_of(ds).num_classes, 5);
  expect_class_name(ds, 4, "");
  deit_dataset_free(ds);
  ds = NULL;

  const char *missing = "path,label\nimg/a.ppm,x\nimg/gone.ppm,y\n";
  deit_test_write_file(file_at("list/missing.csv"), missing, strlen(missing));
  assert_status_msg(deit_dataset_open_folder(under_test_dir("list/missing.csv"), DEIT_SPLIT_TRAIN, &o, &ds),
                    DEIT_E_IO, "missing.csv: line 3: ");
  assert_status_msg(deit_dataset_open_folder(under_test_dir("list/missing.csv"), DEIT_SPLIT_TRAIN, &o, &ds),
                    DEIT_E_IO, "img/gone.ppm: no such file");
  deit_test_write_file(file_at("list/header.csv"), "file,class\nimg/a.ppm,x\n", 22);
  assert_status_msg(deit_dataset_open_folder(under_test_dir("list/header.csv"), DEIT_SPLIT_TRAIN, &o, &ds),
                    DEIT_E_FORMAT, "header.csv: line 1 must be the header \"path,label\"");
  deit_test_write_file(file_at("list/noline.csv"), "path,label\nimg/a.ppm\n", 21);
  assert_status_msg(deit_dataset_open_folder(under_test_dir("list/noline.csv"), DEIT_SPLIT_TRAIN, &o, &ds),
                    DEIT_E_FORMAT, "noline.csv: line 2: expected \"path,label\"");
  deit_test_write_file(file_at("list/empty.csv"), "path,label\n", 11);
  assert_status_msg(deit_dataset_open_folder(under_test_dir("list/empty.csv"), DEIT_SPLIT_TRAIN, &o, &ds),
                    DEIT_E_FORMAT, "empty.csv: lists no images");
  deit_test_write_file(file_at("list/a.txt"), "path,label\n", 11);
  assert_status_msg(deit_dataset_open_folder(under_test_dir("list/a.txt"), DEIT_SPLIT_TRAIN, &o, &ds),
                    DEIT_E_FORMAT, "a list file must end in .csv");
  assert_null(ds);
}

/* Unreadable images fail the open naming the file, or with skip_bad are left out and counted; a class
 * without images, a folder without classes and a header claiming a huge image are refused. */
static void test_bad_files(void **state) {
  (void)state;
  write_ppm("bad/one/good.ppm", 8, 8, 7, 0, 0);
  write_ppm("bad/two/good.ppm", 8, 8, 8, 0, 0);
  deit_test_write_file(file_at("bad/two/empty.jpg"), "", 0);
  deit_image_options o = small_options();
  deit_dataset *ds = NULL;
  assert_status_msg(deit_dataset_open_folder(under_test_dir("bad"), DEIT_SPLIT_TRAIN, &o, &ds), DEIT_E_FORMAT,
                    "bad/two/empty.jpg: empty file");
  assert_null(ds);
  o.skip_bad = 1;
  assert_ok(deit_dataset_open_folder(under_test_dir("bad"), DEIT_SPLIT_TRAIN, &o, &ds));
  assert_int_equal(info_of(ds).count, 2);
  assert_int_equal(info_of(ds).skipped, 1);
  int reds[2];
  int32_t labels[2];
  reds_and_labels(ds, 2, reds, labels);
  assert_int_equal(reds[1], 8);
  assert_int_equal(labels[1], 1);
  deit_dataset_free(ds);
  ds = NULL;

  /* A PPM header claiming 100000 x 100000 pixels: refused before its pixels are allocated. */
  const char *bomb = "P6\n100000 100000\n255\n\x01\x02\x03";
  deit_test_write_file(file_at("bomb/c/huge.ppm"), bomb, strlen(bomb));
  o.skip_bad = 0;
  assert_status_msg(deit_dataset_open_folder(under_test_dir("bomb"), DEIT_SPLIT_TRAIN, &o, &ds),
                    DEIT_E_INVALID_ARG, "huge.ppm: ");
  assert_status_msg(deit_dataset_open_folder(under_test_dir("bomb"), DEIT_SPLIT_TRAIN, &o, &ds),
                    DEIT_E_INVALID_ARG, "exceeds the limit of 89478485");
  o.skip_bad = 1;
  assert_status_msg(deit_dataset_open_folder(under_test_dir("bomb"), DEIT_SPLIT_TRAIN, &o, &ds), DEIT_E_FORMAT,
                    "none of its 1 images could be read");

  make_dirs(under_test_dir("hollow/empty_class"));
  write_ppm("hollow/full/a.ppm", 8, 8, 1, 0, 0);
  assert_status_msg(deit_dataset_open_folder(under_test_dir("hollow"), DEIT_SPLIT_TRAIN, &o, &ds), DEIT_E_FORMAT,
                    "hollow/empty_class: class folder without images");
  write_ppm("flat/a.ppm", 8, 8, 1, 0, 0);
  assert_status_msg(deit_dataset_open_folder(under_test_dir("flat"), DEIT_SPLIT_TRAIN, &o, &ds), DEIT_E_FORMAT,
                    "flat: no class folders");
  assert_status_msg(deit_dataset_open_folder(under_test_dir("nowhere"), DEIT_SPLIT_TRAIN, &o, &ds), DEIT_E_IO,
                    "nowhere");
  assert_null(ds);
}

/* Option defaults and bounds. */
static void test_options(void **state) {
  (void)state;
  deit_image_options o;
  assert_ok(deit_image_options_init(&o));
  assert_int_equal(o.image_size, 224);
  assert_true(o.crop_pct == 0.875);
  assert_int_equal(o.filter, DEIT_RESIZE_BICUBIC);
  assert_int_equal(o.channels, 3);
  assert_int_equal(o.threads, 0);
  assert_int_equal(o.skip_bad, 0);
  assert_int_equal(o.max_pixels, 89478485);
  write_ppm("opts/c/a.ppm", 8, 8, 1, 0, 0);
  const struct {
    deit_image_options o;
    const char *message;
  } bad[] = {
      {{.struct_size = sizeof o, .image_size = 0, .crop_pct = 1, .channels = 3, .max_pixels = 9}, "image_size 0"},
      {{.struct_size = sizeof o, .image_size = 8, .crop_pct = 0, .channels = 3, .max_pixels = 9}, "crop_pct"},
      {{.struct_size = sizeof o, .image_size = 8, .crop_pct = 1, .channels = 2, .max_pixels = 9}, "channels 2"},
      {{.struct_size = sizeof o, .image_size = 8, .crop_pct = 1, .filter = (deit_resize_filter)7, .channels = 3,
        .max_pixels = 9},
       "filter 7 is not"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof *bad; ++k) {
    deit_dataset *ds = NULL;
    assert_status_msg(deit_dataset_open_folder(under_test_dir("opts"), DEIT_SPLIT_TRAIN, &bad[k].o, &ds),
                      DEIT_E_INVALID_ARG, bad[k].message);
  }
}

/* One file for prediction: the data set's stored pixels; gray as PIL's convert("L"). */
static void test_read_file(void **state) {
  (void)state;
  write_ppm("read/c/a.ppm", 40, 30, 200, 100, 50);
  deit_image_options o = small_options();
  uint8_t px[3 * SIDE * SIDE], stored[3 * SIDE * SIDE];
  assert_ok(deit_image_read_file(under_test_dir("read/c/a.ppm"), &o, px, sizeof px));
  deit_dataset *ds = NULL;
  assert_ok(deit_dataset_open_folder(under_test_dir("read"), DEIT_SPLIT_TRAIN, &o, &ds));
  assert_ok(deit_dataset_copy_images(ds, 0, 1, stored, sizeof stored));
  assert_memory_equal(px, stored, sizeof px);
  assert_int_equal(px[SIDE * SIDE], 100); /* planar: channel 1 after channel 0 */
  deit_dataset_free(ds);
  assert_status_msg(deit_image_read_file(under_test_dir("read/c/a.ppm"), &o, px, sizeof px - 1),
                    DEIT_E_BUFFER_TOO_SMALL, "needs 2352");
  o.channels = 1;
  assert_ok(deit_image_read_file(under_test_dir("read/c/a.ppm"), &o, px, SIDE * SIDE));
  assert_int_equal(px[0], (200 * 19595 + 100 * 38470 + 50 * 7471 + 0x8000) >> 16);
  assert_status_msg(deit_image_read_file(under_test_dir("read/c/none.ppm"), &o, px, sizeof px), DEIT_E_IO,
                    "none.ppm");
}

/* Models keep the class names and the preprocessing of the folder they learnt from, through their
 * checkpoints; a model trained on other data has neither. */
/* card/apple/ and card/pear/ style folders under the test dir: 8 small PPMs, the classes told apart by red. */
static void write_fruit_folder(const char *dir) {
  const char *const names[] = {"apple", "pear"};
  for (int k = 0; k < 8; ++k) {
    char rel[128];
    snprintf(rel, sizeof rel, "%s/%s/%d.ppm", dir, names[k % 2], k);
    write_ppm(rel, 30 + k, 28, (uint8_t)(k % 2 ? 220 : 30), (uint8_t)(20 * k), (uint8_t)(90 + 10 * k));
  }
}

/* The notebook's student for 2 classes of SIDE x SIDE RGB images, on the CPU. */
static deit_student *seed_student(uint64_t seed) {
  deit_student_config cfg;
  assert_ok(deit_student_config_init(&cfg, "seed", 2));
  cfg.img_size = SIDE;
  cfg.in_channels = 3;
  deit_student *student = NULL;
  assert_ok(deit_student_create(&cfg, seed, &student));
  assert_ok(deit_student_set_device(student, "cpu"));
  return student;
}

static deit_distill_options one_epoch_distill(void) {
  deit_distill_options d;
  assert_ok(deit_distill_options_init(&d));
  d.epochs = 1;
  d.batch_size = 8;
  return d;
}

static void test_model_card(void **state) {
  (void)state;
  write_fruit_folder("card");
  const deit_image_options o = small_options();
  deit_dataset *ds = NULL;
  assert_ok(deit_dataset_open_folder(under_test_dir("card"), DEIT_SPLIT_TRAIN, &o, &ds));

  deit_teacher *teacher = NULL;
  assert_ok(deit_teacher_create("resnet18", 2, &teacher));
  deit_teacher_train_options t;
  assert_ok(deit_teacher_train_options_init(&t));
  t.epochs = 1;
  t.batch_size = 8;
  t.device = "cpu";
  char buf[32];
  assert_ok(deit_teacher_class_name(teacher, 1, buf, sizeof buf));
  assert_string_equal(buf, "");
  deit_image_options got;
  assert_ok(deit_image_options_init(&got));
  assert_status_msg(deit_teacher_image_options(teacher, &got), DEIT_E_STATE, "not trained on image files");
  assert_ok(deit_teacher_train(teacher, ds, &t));
  const char *tpath = under_test_dir("card-teacher.safetensors");
  assert_ok(deit_teacher_save(teacher, tpath));
  deit_teacher_free(teacher);
  assert_ok(deit_teacher_load(tpath, &teacher));
  assert_ok(deit_teacher_class_name(teacher, 1, buf, sizeof buf));
  assert_string_equal(buf, "pear");
  assert_ok(deit_teacher_image_options(teacher, &got));
  assert_int_equal(got.image_size, SIDE);
  assert_true(got.crop_pct == 1.0);
  assert_int_equal(got.channels, 3);
  assert_int_equal(got.filter, DEIT_RESIZE_BICUBIC);

  deit_student *student = seed_student(1);
  deit_distill_options d = one_epoch_distill();
  assert_ok(deit_distill(student, teacher, ds, &d));
  const char *spath = under_test_dir("card-student.safetensors");
  assert_ok(deit_student_save(student, spath));
  deit_student_free(student);
  assert_ok(deit_student_load(spath, &student));
  assert_ok(deit_student_class_name(student, 0, buf, sizeof buf));
  assert_string_equal(buf, "apple");
  assert_ok(deit_student_image_options(student, &got));
  assert_int_equal(got.image_size, SIDE);
  assert_status_msg(deit_student_class_name(student, 2, buf, sizeof buf), DEIT_E_INVALID_ARG, "outside [0, 2)");
  static char description[1 << 16];
  assert_ok(deit_checkpoint_describe(spath, description, sizeof description, NULL));
  assert_non_null(strstr(description, "\"class_names\":[\"apple\",\"pear\"]"));

  /* Trained again on data without names: the card follows the data. */
  uint8_t px[2 * 3 * SIDE * SIDE] = {0};
  const int32_t labels[2] = {0, 1};
  const deit_images im = {px, DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, 2, 3, SIDE, SIDE};
  deit_dataset *plain = NULL;
  assert_ok(deit_dataset_from_memory(&im, labels, DEIT_DTYPE_I32, 2, &plain));
  d.batch_size = 2;
  assert_ok(deit_distill(student, teacher, plain, &d));
  assert_ok(deit_student_class_name(student, 0, buf, sizeof buf));
  assert_string_equal(buf, "");
  assert_status_msg(deit_student_image_options(student, &got), DEIT_E_STATE, "not trained on image files");
  deit_dataset_free(plain);
  deit_student_free(student);
  deit_teacher_free(teacher);
  deit_dataset_free(ds);
}

/* The largest |a - b| over n values, relative to the largest |b|. */
static double rel_diff(const float *a, const float *b, size_t n) {
  double d = 0, scale = 0;
  for (size_t k = 0; k < n; ++k) {
    const double e = fabs((double)a[k] - (double)b[k]);
    if (e > d) d = e;
    if (fabs((double)b[k]) > scale) scale = fabs((double)b[k]);
  }
  return d / (scale > 0 ? scale : 1);
}

/* Models trained on images opened with normalisation `n` (called `name`: mean, sd per RGB channel) keep it
 * and apply it to every input.  Oracle: the same weights in a model without it (deit_*_load_weights copies
 * weights only) on inputs normalised here by hand give the same logits; on the raw inputs they differ. */
static void check_input_normalization(deit_normalize n, const char *name, const float mean[3], const float sd[3]) {
  char file[128];
  write_fruit_folder("norm");
  deit_image_options o = small_options();
  deit_dataset *ds = NULL;
  o.normalize = n;
  assert_ok(deit_dataset_open_folder(under_test_dir("norm"), DEIT_SPLIT_TRAIN, &o, &ds));

  /* Inputs: the stored pixels / 255, and the same normalised by hand. */
  enum { N = 4, PIXELS = 3 * SIDE * SIDE };
  static uint8_t px[N * PIXELS];
  static float raw[N * PIXELS], normed[N * PIXELS];
  assert_ok(deit_dataset_copy_images(ds, 0, N, px, sizeof px));
  for (size_t k = 0; k < sizeof px; ++k) {
    const int c = (int)((k / (SIDE * SIDE)) % 3);
    raw[k] = (float)px[k] / 255.0f;
    normed[k] = (raw[k] - mean[c]) / sd[c];
  }
  const deit_images im_raw = {raw, DEIT_DTYPE_F32, DEIT_LAYOUT_NCHW, N, 3, SIDE, SIDE};
  const deit_images im_normed = {normed, DEIT_DTYPE_F32, DEIT_LAYOUT_NCHW, N, 3, SIDE, SIDE};
  float a[N * 2], b[N * 2], c[N * 2];

  deit_teacher *teacher = NULL, *plain_teacher = NULL;
  assert_ok(deit_teacher_create("resnet18", 2, &teacher));
  deit_teacher_train_options t;
  assert_ok(deit_teacher_train_options_init(&t));
  t.epochs = 1;
  t.batch_size = 8;
  t.device = "cpu";
  assert_ok(deit_teacher_train(teacher, ds, &t));
  snprintf(file, sizeof file, "norm-teacher-%s.safetensors", name);
  const char *tpath = under_test_dir(file);
  assert_ok(deit_teacher_save(teacher, tpath));
  deit_teacher_free(teacher);
  assert_ok(deit_teacher_load(tpath, &teacher));
  deit_image_options got;
  assert_ok(deit_image_options_init(&got));
  assert_ok(deit_teacher_image_options(teacher, &got));
  assert_int_equal(got.normalize, n);
  assert_ok(deit_teacher_create("resnet18", 2, &plain_teacher));
  assert_ok(deit_teacher_load_weights(plain_teacher, tpath));
  assert_ok(deit_teacher_predict(teacher, &im_raw, a, N * 2));
  assert_ok(deit_teacher_predict(plain_teacher, &im_normed, b, N * 2));
  assert_ok(deit_teacher_predict(plain_teacher, &im_raw, c, N * 2));
  assert_true(rel_diff(a, b, N * 2) < 1e-5);
  assert_true(rel_diff(a, c, N * 2) > 1e-3);

  deit_student *student = seed_student(1);
  deit_distill_options d = one_epoch_distill();
  assert_ok(deit_distill(student, teacher, ds, &d));
  snprintf(file, sizeof file, "norm-student-%s.safetensors", name);
  const char *spath = under_test_dir(file);
  assert_ok(deit_student_save(student, spath));
  deit_student_free(student);
  assert_ok(deit_student_load(spath, &student));
  assert_ok(deit_student_image_options(student, &got));
  assert_int_equal(got.normalize, n);
  static char description[1 << 16];
  assert_ok(deit_checkpoint_describe(spath, description, sizeof description, NULL));
  char card_entry[64];
  snprintf(card_entry, sizeof card_entry, "\"normalize\":\"%s\"", name);
  assert_non_null(strstr(description, card_entry));
  deit_student *plain_student = seed_student(2);
  assert_ok(deit_student_load_weights(plain_student, spath));
  assert_ok(deit_student_predict(student, &im_raw, DEIT_HEAD_AVG, a, N * 2));
  assert_ok(deit_student_predict(plain_student, &im_normed, DEIT_HEAD_AVG, b, N * 2));
  assert_ok(deit_student_predict(plain_student, &im_raw, DEIT_HEAD_AVG, c, N * 2));
  assert_true(rel_diff(a, b, N * 2) < 1e-5);
  assert_true(rel_diff(a, c, N * 2) > 1e-3);

  /* A training state written on normalised images does not resume on the same images without it. */
  snprintf(file, sizeof file, "norm-state-%s.safetensors", name);
  const char *state_path = under_test_dir(file);
  d.state_path = state_path;
  assert_ok(deit_distill(student, teacher, ds, &d));
  deit_dataset *plain_ds = NULL;
  o.normalize = DEIT_NORMALIZE_NONE;
  assert_ok(deit_dataset_open_folder(under_test_dir("norm"), DEIT_SPLIT_TRAIN, &o, &plain_ds));
  d.resume = 1;
  char message[64];
  snprintf(message, sizeof message, "normalize was %s, now none", name);
  assert_status_msg(deit_distill(student, teacher, plain_ds, &d), DEIT_E_INVALID_ARG, message);
  deit_dataset_free(plain_ds);

  deit_student_free(plain_student);
  deit_student_free(student);
  deit_teacher_free(plain_teacher);
  deit_teacher_free(teacher);
  deit_dataset_free(ds);
}

static void test_input_normalization(void **state) {
  (void)state;
  write_fruit_folder("norm");
  deit_image_options o = small_options();
  o.normalize = (deit_normalize)7;
  deit_dataset *ds = NULL;
  assert_status_msg(deit_dataset_open_folder(under_test_dir("norm"), DEIT_SPLIT_TRAIN, &o, &ds), DEIT_E_INVALID_ARG,
                    "options->normalize");
  assert_null(ds);
  const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f}, imagenet_std[3] = {0.229f, 0.224f, 0.225f};
  check_input_normalization(DEIT_NORMALIZE_IMAGENET, "imagenet", imagenet_mean, imagenet_std);
  const float half[3] = {0.5f, 0.5f, 0.5f};
  check_input_normalization(DEIT_NORMALIZE_INCEPTION, "inception", half, half);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_class_folder), cmocka_unit_test(test_split_folders), cmocka_unit_test(test_list_file),
      cmocka_unit_test(test_bad_files),    cmocka_unit_test(test_options),       cmocka_unit_test(test_read_file),
      cmocka_unit_test(test_model_card), cmocka_unit_test(test_input_normalization),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
