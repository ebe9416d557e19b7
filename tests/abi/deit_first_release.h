/*
 * A frozen copy of deit.h as a program built against its first release sees
 * it: the option structs end where they ended then (without the crash-safety,
 * group and teacher-logit fields appended since), with the *_init macros over
 * *_init_sized that deit.h has from now on.  Cut to what first_release.c calls.
 * Never edit the layouts here: this file stands for programs already built.
 */
#ifndef DEIT_FIRST_RELEASE_H
#define DEIT_FIRST_RELEASE_H

#include <stddef.h>
#include <stdint.h>

typedef enum deit_status {
  DEIT_OK = 0,
  DEIT_E_INVALID_ARG = -1
} deit_status;

const char *deit_last_error(void);
deit_status deit_set_num_threads(int32_t n);

typedef struct deit_dataset deit_dataset;
typedef enum deit_dtype { DEIT_DTYPE_U8 = 0, DEIT_DTYPE_F32 = 1, DEIT_DTYPE_I32 = 2, DEIT_DTYPE_I64 = 3 } deit_dtype;
typedef enum deit_layout { DEIT_LAYOUT_NCHW = 0, DEIT_LAYOUT_NHWC = 1 } deit_layout;
typedef enum deit_dataset_format { DEIT_FORMAT_IDX = 0, DEIT_FORMAT_MEMORY = 3 } deit_dataset_format;
typedef struct deit_images {
  const void *data;
  deit_dtype dtype;
  deit_layout layout;
  int64_t count;
  int32_t channels;
  int32_t height;
  int32_t width;
} deit_images;
deit_status deit_dataset_from_memory(const deit_images *images, const void *labels, deit_dtype label_dtype,
                                     int32_t num_classes, deit_dataset **out);
void deit_dataset_free(deit_dataset *dataset);
typedef struct deit_dataset_info {
  uint32_t struct_size;
  int64_t count;
  int32_t channels;
  int32_t height;
  int32_t width;
  int32_t num_classes;
  deit_dtype dtype;
  deit_dataset_format format;
} deit_dataset_info;
deit_status deit_dataset_get_info(const deit_dataset *dataset, deit_dataset_info *info);

typedef struct deit_progress deit_progress;
typedef int (*deit_progress_fn)(const deit_progress *progress, void *user_data);
typedef enum deit_optimizer { DEIT_OPTIM_ADAM = 0, DEIT_OPTIM_ADAMW = 1, DEIT_OPTIM_SGD = 2 } deit_optimizer;
typedef enum deit_schedule { DEIT_SCHEDULE_CONSTANT = 0, DEIT_SCHEDULE_COSINE = 1 } deit_schedule;
typedef struct deit_eval_result {
  uint32_t struct_size;
  int64_t count;
  double accuracy;
  double loss;
  double accuracy_cls;
  double accuracy_dist;
} deit_eval_result;

typedef struct deit_group deit_group;
typedef struct deit_group_options {
  uint32_t struct_size;
  int32_t rank;
  int32_t world_size;
  int32_t local_rank;
  const char *master_addr;
  int32_t master_port;
  const char *backend;
  double timeout_seconds;
} deit_group_options;
deit_status deit_group_options_init_sized(deit_group_options *options, size_t struct_size);
#define deit_group_options_init(options) deit_group_options_init_sized((options), sizeof *(options))
deit_status deit_group_options_from_env(deit_group_options *options);
deit_status deit_group_create(const deit_group_options *options, deit_group **out);
void deit_group_free(deit_group *group);

typedef struct deit_teacher deit_teacher;
deit_status deit_teacher_create(const char *arch, int32_t num_classes, deit_teacher **out);
void deit_teacher_free(deit_teacher *teacher);
typedef enum deit_trainable { DEIT_TRAIN_AUTO = 0, DEIT_TRAIN_HEAD = 1, DEIT_TRAIN_ALL = 2 } deit_trainable;
typedef struct deit_teacher_train_options {
  uint32_t struct_size;
  int32_t epochs;
  int32_t batch_size;
  double lr;
  deit_optimizer optimizer;
  double weight_decay;
  double momentum;
  deit_trainable trainable;
  uint64_t seed;
  const char *device;
  deit_progress_fn progress;
  void *user_data;
} deit_teacher_train_options;
deit_status deit_teacher_train_options_init_sized(deit_teacher_train_options *options, size_t struct_size);
#define deit_teacher_train_options_init(options) \
  deit_teacher_train_options_init_sized((options), sizeof *(options))
deit_status deit_teacher_train(deit_teacher *teacher, const deit_dataset *train,
                               const deit_teacher_train_options *options);
deit_status deit_teacher_evaluate(deit_teacher *teacher, const deit_dataset *data, deit_eval_result *result,
                                  int64_t *confusion, size_t confusion_capacity);

typedef struct deit_student deit_student;
typedef struct deit_student_config {
  uint32_t struct_size;
  int32_t img_size;
  int32_t patch_size;
  int32_t in_channels;
  int32_t num_classes;
  int32_t embed_dim;
  int32_t depth;
  int32_t num_heads;
  int32_t mlp_dim;
  int32_t pre_norm;
  int32_t gelu;
  double dropout;
  double attn_dropout;
  double ln_eps;
  int32_t qkv_bias;
  int32_t trunc_normal_init;
} deit_student_config;
deit_status deit_student_config_init_sized(deit_student_config *config, size_t struct_size, const char *preset,
                                           int32_t num_classes);
#define deit_student_config_init(config, preset, num_classes) \
  deit_student_config_init_sized((config), sizeof *(config), (preset), (num_classes))
deit_status deit_student_create(const deit_student_config *config, uint64_t seed, deit_student **out);
void deit_student_free(deit_student *student);
deit_status deit_student_get_config(const deit_student *student, deit_student_config *config);
typedef enum deit_distillation { DEIT_DISTILL_SOFT = 0, DEIT_DISTILL_HARD = 1, DEIT_DISTILL_NONE = 2 } deit_distillation;
typedef struct deit_distill_options {
  uint32_t struct_size;
  int32_t epochs;
  int32_t batch_size;
  double lr;
  deit_optimizer optimizer;
  double weight_decay;
  double momentum;
  deit_schedule schedule;
  int32_t warmup_epochs;
  double alpha;
  double temperature;
  deit_distillation distillation;
  double label_smoothing;
  uint64_t seed;
  const char *device;
  int32_t cache_teacher_logits;
  deit_progress_fn progress;
  void *user_data;
} deit_distill_options;
deit_status deit_distill_options_init_sized(deit_distill_options *options, size_t struct_size);
#define deit_distill_options_init(options) deit_distill_options_init_sized((options), sizeof *(options))
deit_status deit_distill(deit_student *student, deit_teacher *teacher, const deit_dataset *train,
                         const deit_distill_options *options);
deit_status deit_student_evaluate(deit_student *student, const deit_dataset *data, deit_eval_result *result,
                                  int64_t *confusion, size_t confusion_capacity);

#endif /* DEIT_FIRST_RELEASE_H */
