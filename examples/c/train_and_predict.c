/* libdeit from C: fine-tune a small ResNet-18 teacher on a few hundred
 * Fashion-MNIST images, distill it into the reference notebook's DeiT
 * student, print both accuracies and a few predictions, save the student.
 *
 *   train_and_predict [DATA_DIR [STUDENT.safetensors]]
 *
 * DATA_DIR holds the IDX files (default /usr/share/datasets/fashion-mnist,
 * Debian's dataset-fashion-mnist).  Tiny on purpose: about half a minute on
 * two CPU cores, so the accuracies are far from what full training gives. */
#include <deit/deit.h>
#include <stdio.h>
#include <stdlib.h>

enum { TRAIN_IMAGES = 2000, TEST_IMAGES = 500, SHOWN = 5 };

static const char* const kClassNames[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* Every call returns a status; on failure deit_last_error() says why. */
#define CHECK(call)                                                                 \
  do {                                                                              \
    deit_status st_ = (call);                                                       \
    if (st_ != DEIT_OK) {                                                           \
      fprintf(stderr, "error: %s (%s)\n", deit_last_error(), deit_status_str(st_)); \
      goto done;                                                                    \
    }                                                                               \
  } while (0)

/* Progress callback: one line per finished epoch; returning non-zero would cancel. */
static int print_epoch(const deit_progress* p, void* user_data) {
  (void)user_data;
  if (p->end_of_epoch && p->phase != DEIT_PHASE_TEACHER_LOGITS)
    printf("  %s epoch %d/%d: loss %.4f, %.0f images/s\n",
           p->phase == DEIT_PHASE_TEACHER_TRAIN ? "teacher" : "student", p->epoch, p->epochs, p->loss,
           p->images_per_sec);
  return 0;
}

int main(int argc, char** argv) {
  const char* data_dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  const char* student_path = argc > 2 ? argv[2] : "student.safetensors";
  int rc = 1;
  deit_dataset *all_train = NULL, *all_test = NULL, *train = NULL, *test = NULL;
  deit_teacher* teacher = NULL;
  deit_student* student = NULL;
  uint8_t* pixels = NULL;

  printf("libdeit %s\n", deit_version_string());
  CHECK(deit_dataset_open_dir(data_dir, DEIT_SPLIT_TRAIN, &all_train));
  CHECK(deit_dataset_open_dir(data_dir, DEIT_SPLIT_TEST, &all_test));
  CHECK(deit_dataset_subset_first(all_train, TRAIN_IMAGES, &train));
  CHECK(deit_dataset_subset_first(all_test, TEST_IMAGES, &test));
  deit_dataset_info info = {.struct_size = sizeof info};
  CHECK(deit_dataset_get_info(test, &info));

  /* Teacher: ResNet-18 from scratch, two epochs over the small subset. */
  CHECK(deit_teacher_create("resnet18", info.num_classes, &teacher));
  deit_teacher_train_options topt;
  CHECK(deit_teacher_train_options_init(&topt));
  topt.epochs = 2;
  topt.batch_size = 32;
  topt.progress = print_epoch;
  CHECK(deit_teacher_train(teacher, train, &topt));
  deit_eval_result r = {.struct_size = sizeof r};
  CHECK(deit_teacher_evaluate(teacher, test, &r, NULL, 0));
  printf("teacher accuracy %.1f%% on %lld test images\n", 100 * r.accuracy, (long long)r.count);

  /* Student: the notebook's 4-layer DeiT, soft distillation for six epochs. */
  deit_student_config cfg;
  CHECK(deit_student_config_init(&cfg, "seed", info.num_classes));
  CHECK(deit_student_create(&cfg, 0, &student));
  deit_distill_options dopt;
  CHECK(deit_distill_options_init(&dopt));
  dopt.epochs = 6;
  dopt.batch_size = 32;
  dopt.progress = print_epoch;
  CHECK(deit_distill(student, teacher, train, &dopt));
  CHECK(deit_student_evaluate(student, test, &r, NULL, 0));
  printf("student accuracy %.1f%% (class head %.1f%%, distillation head %.1f%%)\n", 100 * r.accuracy,
         100 * r.accuracy_cls, 100 * r.accuracy_dist);
  CHECK(deit_student_save(student, student_path));
  printf("student saved to %s\n", student_path);

  /* A few predictions: the data set's own images, fed back as caller buffers. */
  const size_t image_bytes = (size_t)info.channels * info.height * info.width;
  pixels = malloc(SHOWN * image_bytes);
  if (!pixels) goto done;
  CHECK(deit_dataset_copy_images(test, 0, SHOWN, pixels, SHOWN * image_bytes));
  int32_t labels[SHOWN], classes[SHOWN];
  CHECK(deit_dataset_copy_labels(test, 0, SHOWN, labels, SHOWN));
  deit_images images = {pixels,        DEIT_DTYPE_U8, DEIT_LAYOUT_NCHW, SHOWN,
                        info.channels, info.height,   info.width};
  CHECK(deit_student_classify(student, &images, DEIT_HEAD_AVG, classes, SHOWN));
  for (int i = 0; i < SHOWN; ++i)
    printf("  image %d: predicted %-12s true %s\n", i, info.num_classes == 10 ? kClassNames[classes[i]] : "?",
           info.num_classes == 10 ? kClassNames[labels[i]] : "?");
  rc = 0;

done:
  free(pixels);
  deit_student_free(student);
  deit_teacher_free(teacher);
  deit_dataset_free(test);
  deit_dataset_free(train);
  deit_dataset_free(all_test);
  deit_dataset_free(all_train);
  return rc;
}
