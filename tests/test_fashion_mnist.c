/* The real Fashion-MNIST (apt-get install dataset-fashion-mnist) read through
 * deit_dataset_open_dir: sizes, class balance and a few known values.
 * Skipped (exit 77) when the data is not installed. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "test_support.h"

static const char* kDir = "/usr/share/datasets/fashion-mnist";

static deit_dataset* open_split(deit_split split) {
  deit_dataset* ds = NULL;
  assert_ok(deit_dataset_open_dir(kDir, split, &ds));
  assert_non_null(ds);
  return ds;
}

static void check_balanced(const deit_dataset* ds, int64_t per_class) {
  int64_t hist[10];
  assert_ok(deit_dataset_label_histogram(ds, hist, 10));
  for (int k = 0; k < 10; ++k) assert_int_equal(hist[k], per_class);
}

/* Sum of the first image's pixels: catches an off-by-one in the header skip. */
static int64_t first_image_sum(const deit_dataset* ds) {
  uint8_t px[28 * 28];
  assert_ok(deit_dataset_copy_images(ds, 0, 1, px, sizeof px));
  int64_t sum = 0;
  for (int i = 0; i < 28 * 28; ++i) sum += px[i];
  return sum;
}

static void test_test_split(void** state) {
  (void)state;
  deit_dataset* ds = open_split(DEIT_SPLIT_TEST);
  deit_dataset_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  assert_ok(deit_dataset_get_info(ds, &info));
  assert_int_equal(info.count, 10000);
  assert_int_equal(info.channels, 1);
  assert_int_equal(info.height, 28);
  assert_int_equal(info.width, 28);
  assert_int_equal(info.num_classes, 10);
  assert_int_equal(info.dtype, DEIT_DTYPE_U8);
  assert_int_equal(info.format, DEIT_FORMAT_IDX);
  check_balanced(ds, 1000);
  /* The published order: ankle boot, pullover, trouser, trouser, shirt, ... */
  const int32_t first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  int32_t labels[10];
  assert_ok(deit_dataset_copy_labels(ds, 0, 10, labels, 10));
  for (int i = 0; i < 10; ++i) assert_int_equal(labels[i], first[i]);
  assert_int_equal(first_image_sum(ds), 33456);
  /* The last image is readable too (the whole file was inflated). */
  uint8_t px[28 * 28];
  assert_ok(deit_dataset_copy_images(ds, 9999, 1, px, sizeof px));
  deit_dataset_free(ds);
}

static void test_train_split(void** state) {
  (void)state;
  deit_dataset* ds = open_split(DEIT_SPLIT_TRAIN);
  deit_dataset_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  assert_ok(deit_dataset_get_info(ds, &info));
  assert_int_equal(info.count, 60000);
  assert_int_equal(info.height, 28);
  assert_int_equal(info.num_classes, 10);
  check_balanced(ds, 6000);
  const int32_t first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  int32_t labels[10];
  assert_ok(deit_dataset_copy_labels(ds, 0, 10, labels, 10));
  for (int i = 0; i < 10; ++i) assert_int_equal(labels[i], first[i]);
  assert_int_equal(first_image_sum(ds), 76247);
  /* The reference notebook's kind of subset: 10% of the train split. */
  deit_dataset* sub = NULL;
  assert_ok(deit_dataset_subset_fraction(ds, 0.1, 42, &sub));
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  assert_ok(deit_dataset_get_info(sub, &info));
  assert_int_equal(info.count, 6000);
  assert_int_equal(info.num_classes, 10);
  int64_t hist[10];
  assert_ok(deit_dataset_label_histogram(sub, hist, 10));
  for (int k = 0; k < 10; ++k)
    assert_true(hist[k] > 450 && hist[k] < 750); /* a random draw, roughly balanced */
  deit_dataset_free(sub);
  deit_dataset_free(ds);
}

int main(void) {
  struct stat st;
  if (stat(kDir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    printf("test_fashion_mnist: %s not found (apt-get install dataset-fashion-mnist); skipped\n", kDir);
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_test_split),
      cmocka_unit_test(test_train_split),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
