/*
 * libdeit — fine-tune a CNN teacher, distill it into a DeiT student, run the
 * student's averaged-head inference.  The one public header: C99, no C++ or
 * LibTorch types.  docs/API.md is the contract (ownership, threading, errors,
 * versioning) and changes together with this file.
 *
 * Conventions
 *  - Every fallible call returns a deit_status (DEIT_OK == 0, errors < 0) and
 *    hands objects back through a trailing out-parameter that is set to NULL
 *    on failure.  deit_last_error() then says what went wrong on this thread.
 *  - Handles are opaque; each has one *_free() that accepts NULL.
 *  - Buffers are owned by the caller and borrowed for the duration of the call.
 *  - Options structs start with `struct_size`; fill them with the matching
 *    *_init() first, then change fields.  Fields are only appended.  The
 *    *_init() names are macros that pass the caller's sizeof to *_init_sized(),
 *    so that a newer library writes nothing past an older caller's struct;
 *    bindings call *_init_sized() with their struct's size.  An options
 *    field's comment starts with the default *_init() gives it; a field
 *    without one starts at 0 / NULL.
 *  - Threading: a handle must not be used by two threads at the same time;
 *    different handles may be used concurrently from different threads.
 *    deit_last_error() is per thread.
 */
#ifndef DEIT_DEIT_H
#define DEIT_DEIT_H

#include <stddef.h>
#include <stdint.h>

#define DEIT_VERSION_MAJOR 0
#define DEIT_VERSION_MINOR 1
#define DEIT_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH */
#define DEIT_VERSION_NUMBER \
  (DEIT_VERSION_MAJOR * 10000 + DEIT_VERSION_MINOR * 100 + DEIT_VERSION_PATCH)

#if defined(_WIN32)
#define DEIT_API __declspec(dllexport)
#elif defined(__GNUC__)
#define DEIT_API __attribute__((visibility("default")))
#else
#define DEIT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Status codes.  Values never change; new ones are only appended.          */
/* ------------------------------------------------------------------------ */
typedef enum deit_status {
  DEIT_OK = 0,
  DEIT_E_INVALID_ARG = -1,      /* a NULL pointer, a size or enum out of range */
  DEIT_E_IO = -2,               /* a file could not be opened, read or written */
  DEIT_E_FORMAT = -3,           /* a file's contents are malformed */
  DEIT_E_OOM = -4,              /* out of host or device memory */
  DEIT_E_UNSUPPORTED = -5,      /* valid request this build cannot serve */
  DEIT_E_CANCELLED = -6,        /* a progress callback asked to stop */
  DEIT_E_BUFFER_TOO_SMALL = -7, /* an output buffer's capacity is too small */
  DEIT_E_STATE = -8,            /* the object is not in a state for this call */
  DEIT_E_INTERNAL = -9,         /* a bug in libdeit or LibTorch */
  DEIT_E_DEVICE = -10,          /* the requested device is not available */
  DEIT_E_NUMERIC = -11,         /* training produced a NaN or infinite loss */
  DEIT_E_DISTRIBUTED = -12      /* another process of the group failed or did not
                                   answer within the group's timeout */
} deit_status;

/* ------------------------------------------------------------------------ */
/* Version and errors                                                       */
/* ------------------------------------------------------------------------ */

/* "MAJOR.MINOR.PATCH" of the library actually loaded. Never NULL. */
DEIT_API const char *deit_version_string(void);
/* DEIT_VERSION_NUMBER of the library actually loaded. */
DEIT_API uint32_t deit_version_number(void);
/* Static English text for a status; "unknown status" for other values. */
DEIT_API const char *deit_status_str(deit_status status);
/* Message of the last failed call on this thread ("" if none). Never NULL.
 * Valid until the next libdeit call on this thread. */
DEIT_API const char *deit_last_error(void);

/* ------------------------------------------------------------------------ */
/* Logging.  Quiet by default: only warnings and errors go to stderr.       */
/* ------------------------------------------------------------------------ */
typedef enum deit_log_level {
  DEIT_LOG_DEBUG = 0,
  DEIT_LOG_INFO = 1,
  DEIT_LOG_WARN = 2,
  DEIT_LOG_ERROR = 3,
  DEIT_LOG_OFF = 4
} deit_log_level;

typedef void (*deit_log_fn)(deit_log_level level, const char *message,
                            void *user_data);

/* Route log lines to fn (NULL restores the default stderr writer).  The
 * callback may be called from any thread that calls into libdeit. */
DEIT_API deit_status deit_set_log_callback(deit_log_fn fn, void *user_data);
/* Lines below `level` are dropped. Default DEIT_LOG_WARN. */
DEIT_API deit_status deit_set_log_level(deit_log_level level);

/* ------------------------------------------------------------------------ */
/* Runtime: process-wide settings, threads and devices                      */
/* ------------------------------------------------------------------------ */

/* What libdeit changes in the process (docs/API.md, "Process-wide settings").
 * Applied once: by deit_runtime_init, or else with these defaults by the
 * first training, evaluation, prediction or thread call. */
typedef struct deit_runtime_options {
  uint32_t struct_size;
  int32_t num_threads;          /* 0: OMP_NUM_THREADS when set, else every core */
  int32_t single_threaded_blas; /* 1: OpenBLAS gets one thread (LibTorch's threads
                                   split the work) unless OPENBLAS_NUM_THREADS is
                                   set; 0: OpenBLAS is left as it is */
  int32_t tune_malloc;          /* 1: glibc's malloc keeps freed blocks during a
                                   call (mmap and trim thresholds 1 GiB, unless
                                   the environment sets malloc options) and
                                   malloc_trim()s after it; 0: malloc is left alone */
} deit_runtime_options;

DEIT_API deit_status deit_runtime_options_init_sized(deit_runtime_options *options, size_t struct_size);
#define deit_runtime_options_init(options) deit_runtime_options_init_sized((options), sizeof *(options))
/* Apply the settings now (NULL: the defaults).  Call it before any other
 * libdeit work: DEIT_E_STATE once the settings have been applied. */
DEIT_API deit_status deit_runtime_init(const deit_runtime_options *options);
/* The settings in effect, or the defaults still to be applied (*applied 0);
 * applied may be NULL. */
DEIT_API deit_status deit_runtime_get(deit_runtime_options *options, int *applied);

/* Intra-op CPU threads for all work (process-wide). 0 = number of cores.
 * Default: OMP_NUM_THREADS when set to a positive number, else the number of cores. */
DEIT_API deit_status deit_set_num_threads(int32_t n);
/* Current intra-op thread count. */
DEIT_API int32_t deit_get_num_threads(void);
/* Version of the LibTorch libdeit was compiled against ("1.13.1", "2.11.0"). Never NULL. */
DEIT_API const char *deit_libtorch_version(void);
/* 1 if libdeit was compiled against a CUDA-enabled LibTorch (whether or not a
 * device is present), else 0. */
DEIT_API int deit_cuda_compiled(void);
/* 1 if this build has CUDA and a device is present, else 0. */
DEIT_API int deit_cuda_available(void);
/* Number of CUDA devices (0 on CPU-only builds). */
DEIT_API int32_t deit_cuda_device_count(void);
/* Check a device spec ("auto", "cpu", "cuda", "cuda:N") and write the device
 * it resolves to ("cpu" or "cuda:N") into buf, NUL-terminated.
 * DEIT_E_INVALID_ARG for a malformed spec, DEIT_E_DEVICE when the device is
 * not available, DEIT_E_BUFFER_TOO_SMALL when capacity is too small. */
DEIT_API deit_status deit_resolve_device(const char *spec, char *buf,
                                         size_t capacity);

/* ------------------------------------------------------------------------ */
/* Data sets                                                                */
/* ------------------------------------------------------------------------ */
typedef struct deit_dataset deit_dataset;

typedef enum deit_split { DEIT_SPLIT_TRAIN = 0, DEIT_SPLIT_TEST = 1 } deit_split;

typedef enum deit_dtype {
  DEIT_DTYPE_U8 = 0,  /* images: 0..255, scaled to [0, 1] as ToTensor does */
  DEIT_DTYPE_F32 = 1, /* images: used as given */
  DEIT_DTYPE_I32 = 2, /* labels */
  DEIT_DTYPE_I64 = 3  /* labels */
} deit_dtype;

typedef enum deit_layout {
  DEIT_LAYOUT_NCHW = 0,
  DEIT_LAYOUT_NHWC = 1 /* uint8 only */
} deit_layout;

typedef enum deit_dataset_format {
  DEIT_FORMAT_IDX = 0,      /* MNIST family */
  DEIT_FORMAT_CIFAR10 = 1,  /* CIFAR-10 binary batches */
  DEIT_FORMAT_CIFAR100 = 2, /* CIFAR-100 binary (fine labels) */
  DEIT_FORMAT_MEMORY = 3,   /* built from caller buffers */
  DEIT_FORMAT_FOLDER = 4    /* image files: class folders or a list file */
} deit_dataset_format;

/* A borrowed block of images: count x channels x height x width. */
typedef struct deit_images {
  const void *data;
  deit_dtype dtype;   /* DEIT_DTYPE_U8 or DEIT_DTYPE_F32 */
  deit_layout layout; /* NHWC only with U8 */
  int64_t count;
  int32_t channels;
  int32_t height;
  int32_t width;
} deit_images;

/* Open a directory holding an IDX pair (train-images-idx3-ubyte[.gz] and
 * train-labels-idx1-ubyte[.gz], or t10k-* for the test split), CIFAR-10
 * (data_batch_1..5.bin / test_batch.bin, optionally inside
 * cifar-10-batches-bin/) or CIFAR-100 (train.bin / test.bin, optionally
 * inside cifar-100-binary/), or image class folders (deit_dataset_open_folder
 * with the default deit_image_options). */
DEIT_API deit_status deit_dataset_open_dir(const char *dir, deit_split split,
                                           deit_dataset **out);
/* Open an IDX image file and label file (.gz or raw). */
DEIT_API deit_status deit_dataset_open_idx(const char *images_path,
                                           const char *labels_path,
                                           deit_dataset **out);
/* Open CIFAR binary files; num_classes is 10 (CIFAR-10) or 100 (CIFAR-100,
 * fine labels). The files are concatenated in order. */
DEIT_API deit_status deit_dataset_open_cifar(const char *const *paths,
                                             size_t n_paths,
                                             int32_t num_classes,
                                             deit_dataset **out);
/* Copy caller buffers into a new data set.  labels has images->count
 * entries of label_dtype (I32 or I64).  num_classes 0 = max label + 1. */
DEIT_API deit_status deit_dataset_from_memory(const deit_images *images,
                                              const void *labels,
                                              deit_dtype label_dtype,
                                              int32_t num_classes,
                                              deit_dataset **out);
DEIT_API void deit_dataset_free(deit_dataset *dataset);

/* Image files (JPEG, PNG, BMP, PGM/PPM) become stored images the way
 * torchvision's Resize(resize) + CenterCrop(image_size) + ToTensor make them
 * from PIL images, pixel for pixel: alpha dropped, the shorter side resized
 * (antialiased) to resize = floor(image_size / crop_pct), the centre
 * image_size x image_size kept.  One difference: a JPEG's EXIF orientation is
 * applied (PIL's ImageOps.exif_transpose), which torchvision's loader skips,
 * so that phone photographs are upright.  Files are decoded once,
 * when the data set is opened, on several threads; the data set then holds
 * count x channels x image_size x image_size bytes (224 px RGB: 147 KiB an
 * image).  Training augmentation (random-resized crop and the rest) works on
 * these stored images. */
typedef enum deit_resize_filter {
  DEIT_RESIZE_BILINEAR = 0,
  DEIT_RESIZE_BICUBIC = 1 /* timm's DeiT evaluation */
} deit_resize_filter;

/* How a model trained on image files normalises its input.  The data set
 * stores pixels; the model keeps the normalisation in its checkpoint and
 * applies it to every input it gets: in training and evaluation, in
 * deit_*_predict (whose F32 input stays pixels / 255) and in the ONNX export. */
typedef enum deit_normalize {
  DEIT_NORMALIZE_NONE = 0,     /* the model sees pixels / 255 */
  DEIT_NORMALIZE_IMAGENET = 1, /* (pixels / 255 - mean) / std with ImageNet's
                                  mean (0.485, 0.456, 0.406) and std (0.229,
                                  0.224, 0.225) per RGB channel (their averages
                                  0.449 / 0.226 for 1 channel): the input of
                                  torchvision's and timm's deit_* and resnet*
                                  pretrained weights */
  DEIT_NORMALIZE_INCEPTION = 2 /* (pixels / 255 - 0.5) / 0.5: timm's vit_*
                                  (augreg) weights */
} deit_normalize;

typedef struct deit_image_options {
  uint32_t struct_size;
  int32_t image_size;        /* 224: side of the stored square images */
  double crop_pct;           /* 0.875: timm's evaluation crop; 1: resize the
                                shorter side to image_size itself */
  deit_resize_filter filter; /* BICUBIC */
  int32_t channels;          /* 3: RGB (gray files repeated); 1: gray, as
                                PIL's convert("L") */
  int32_t threads;           /* 0: the runtime's thread count (deit_runtime_init
                                or the hardware) */
  int32_t skip_bad;          /* 0: an unreadable image fails the open, naming
                                the file; 1: it is skipped with a warning
                                (DEIT_LOG_WARN) and the rest are kept */
  int64_t max_pixels;        /* 89478485 (PIL's bomb limit): larger images are
                                refused before their pixels are allocated */
  /* Added after max_pixels (a smaller struct_size leaves it off). */
  deit_normalize normalize;  /* NONE: the input normalisation of the models
                                trained on these images (IMAGENET for
                                pretrained timm/torchvision weights) */
} deit_image_options;

DEIT_API deit_status deit_image_options_init_sized(deit_image_options *options, size_t struct_size);
#define deit_image_options_init(options) deit_image_options_init_sized((options), sizeof *(options))

/* Open image files.  `path` is one of:
 *  - a folder of class folders (torchvision's ImageFolder: one sub-folder per
 *    class, classes sorted by name give the labels 0, 1, ...; files with the
 *    extensions .jpg .jpeg .png .bmp .pgm .ppm .pnm in any letter case, sorted,
 *    sub-folders of a class included): that folder, whatever the split;
 *  - a folder holding such folders as train/ and val/ (or test/), as ImageNet
 *    is laid out: split picks one; the classes must agree;
 *  - a CSV list file (.csv) with the header "path,label" and one image a line,
 *    paths relative to the file; labels are class names (sorted into indices)
 *    or, when every label is a number, the indices themselves.
 * options NULL: the defaults.  Class names are kept (deit_dataset_class_name).
 * DEIT_E_IO names a missing file or folder, DEIT_E_FORMAT names an unreadable
 * image (unless skip_bad), an empty class folder or a malformed list line. */
DEIT_API deit_status deit_dataset_open_folder(const char *path, deit_split split,
                                              const deit_image_options *options,
                                              deit_dataset **out);
/* Open whatever `path` holds: a .csv list file (deit_dataset_open_folder), or
 * a directory as deit_dataset_open_dir reads it (IDX, CIFAR, else image class
 * folders), image files made with `options` (NULL: the defaults).  What
 * deitctl's --data accepts. */
DEIT_API deit_status deit_dataset_open(const char *path, deit_split split,
                                       const deit_image_options *options,
                                       deit_dataset **out);
/* Read one image file preprocessed as deit_dataset_open_folder would store it:
 * channels x image_size x image_size uint8 (NCHW) into buf, for prediction
 * on photographs of any size. */
DEIT_API deit_status deit_image_read_file(const char *path, const deit_image_options *options,
                                          uint8_t *buf, size_t capacity_bytes);
/* The name of class `index` (NUL-terminated into buf): the folder name or
 * list-file label of image folders, "" for data sets without names (IDX,
 * CIFAR, memory).  DEIT_E_INVALID_ARG for an index outside [0, num_classes),
 * DEIT_E_BUFFER_TOO_SMALL when capacity is too small. */
DEIT_API deit_status deit_dataset_class_name(const deit_dataset *dataset, int32_t index,
                                             char *buf, size_t capacity);

typedef struct deit_dataset_info {
  uint32_t struct_size; /* set to sizeof(deit_dataset_info) before the call */
  int64_t count;
  int32_t channels;
  int32_t height;
  int32_t width;
  int32_t num_classes;
  deit_dtype dtype; /* how images are stored: U8 or F32 */
  deit_dataset_format format;
  int64_t skipped; /* image files left out as unreadable (skip_bad) when the
                      data set (or the one it is a subset of) was opened */
} deit_dataset_info;

DEIT_API deit_status deit_dataset_get_info(const deit_dataset *dataset,
                                           deit_dataset_info *info);
/* counts[k] = number of images with label k, for k < num_classes.
 * DEIT_E_BUFFER_TOO_SMALL when capacity < num_classes. */
DEIT_API deit_status deit_dataset_label_histogram(const deit_dataset *dataset,
                                                  int64_t *counts,
                                                  size_t capacity);
/* A random subset of round(fraction * count) images (at least 1), chosen by
 * a permutation seeded with `seed` (the notebook's subset). 0 < fraction <= 1. */
DEIT_API deit_status deit_dataset_subset_fraction(const deit_dataset *dataset,
                                                  double fraction,
                                                  uint64_t seed,
                                                  deit_dataset **out);
/* Split into the subset_fraction subset (`first`, round(fraction * count)
 * images, the same permutation) and the rest (`rest`), disjoint and together
 * all images: e.g. a validation set held out of the training split.  Both must
 * be non-empty.  On error neither is created. */
DEIT_API deit_status deit_dataset_split(const deit_dataset *dataset, double fraction,
                                        uint64_t seed, deit_dataset **first,
                                        deit_dataset **rest);
/* The first n images (n >= 1; n larger than count takes all). */
DEIT_API deit_status deit_dataset_subset_first(const deit_dataset *dataset,
                                               int64_t n, deit_dataset **out);
/* Copy images [start, start+count) as stored (NCHW, dtype of the info) into
 * buf; capacity_bytes must hold them. */
DEIT_API deit_status deit_dataset_copy_images(const deit_dataset *dataset,
                                              int64_t start, int64_t count,
                                              void *buf, size_t capacity_bytes);
/* Copy labels [start, start+count) into buf (capacity in elements). */
DEIT_API deit_status deit_dataset_copy_labels(const deit_dataset *dataset,
                                              int64_t start, int64_t count,
                                              int32_t *buf, size_t capacity);


/* ------------------------------------------------------------------------ */
/* Progress reporting (training and evaluation)                             */
/* ------------------------------------------------------------------------ */
typedef enum deit_phase {
  DEIT_PHASE_TEACHER_TRAIN = 0,  /* fine-tuning the teacher */
  DEIT_PHASE_TEACHER_LOGITS = 1, /* caching the frozen teacher's logits */
  DEIT_PHASE_DISTILL = 2,        /* training the student */
  DEIT_PHASE_EVALUATE = 3        /* evaluating a model */
} deit_phase;

typedef struct deit_progress {
  uint32_t struct_size;
  deit_phase phase;
  int32_t epoch;  /* 1-based */
  int32_t epochs;
  int64_t step;   /* 1-based within the epoch */
  int64_t steps;  /* steps in this epoch */
  double loss;      /* running mean of the total loss this epoch */
  double loss_cls;  /* distillation: running mean of the class-head CE */
  double loss_dist; /* distillation: running mean of the dist-head loss */
  double lr;
  double images_per_sec; /* this epoch so far */
  double seconds;        /* since the epoch started */
  int32_t end_of_epoch;  /* 1 on the epoch's last report */
  /* Added in 0.2 (read it only when struct_size covers it). */
  double val_accuracy;   /* -1, except on an epoch's last report when a
                            validation set is given: the accuracy on it
                            (the student's averaged heads) */
} deit_progress;

/* Return 0 to go on; any other value cancels the call, which then returns
 * DEIT_E_CANCELLED with the model left usable (weights as of the last full
 * step).  Called on the calling thread, at most a few times per second plus
 * once at the end of every epoch. */
typedef int (*deit_progress_fn)(const deit_progress *progress, void *user_data);

typedef enum deit_optimizer {
  DEIT_OPTIM_ADAM = 0,
  DEIT_OPTIM_ADAMW = 1,
  DEIT_OPTIM_SGD = 2 /* with momentum */
} deit_optimizer;

typedef enum deit_schedule {
  DEIT_SCHEDULE_CONSTANT = 0,
  DEIT_SCHEDULE_COSINE = 1 /* linear warmup, then cosine decay to 0 */
} deit_schedule;

/* Result of an evaluation.  For a teacher only `accuracy` and `loss` are
 * meaningful; for a student `accuracy` is that of the averaged head. */
typedef struct deit_eval_result {
  uint32_t struct_size;
  int64_t count;
  double accuracy;      /* fraction in [0, 1] */
  double loss;          /* mean cross-entropy of the averaged logits */
  double accuracy_cls;  /* student: class head alone */
  double accuracy_dist; /* student: distillation head alone */
} deit_eval_result;

/* ------------------------------------------------------------------------ */
/* Data-parallel groups: several processes (on one or many machines) train  */
/* one model together on PyTorch's c10d (Gloo for CPU tensors, NCCL for     */
/* CUDA ones).  Each rank trains on its part of every global batch (the     */
/* options' batch_size is per rank), gradients are averaged before each     */
/* update, so all ranks hold the same weights; evaluations are split and    */
/* summed.  Every rank makes the same calls in the same order.  A rank that */
/* dies or stalls makes the others' calls fail with DEIT_E_DISTRIBUTED      */
/* after at most timeout_seconds.  docs/DISTRIBUTED.md has the details.     */
/* ------------------------------------------------------------------------ */
typedef struct deit_group deit_group;

typedef struct deit_group_options {
  uint32_t struct_size;
  int32_t rank;            /* 0 .. world_size - 1 */
  int32_t world_size;      /* 1 */
  int32_t local_rank;      /* 0: rank on this machine (for choosing cuda:N) */
  const char *master_addr; /* "127.0.0.1": the host of rank 0's rendezvous store */
  int32_t master_port;     /* 29500 */
  const char *backend;     /* NULL or "auto" (NCCL with CUDA, else Gloo), "gloo", "nccl" */
  double timeout_seconds;  /* 300: joining and every collective */
} deit_group_options;

DEIT_API deit_status deit_group_options_init_sized(deit_group_options *options, size_t struct_size);
#define deit_group_options_init(options) deit_group_options_init_sized((options), sizeof *(options))
/* Fill rank, world_size, local_rank, master_addr and master_port from
 * torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
 * MASTER_PORT) and timeout_seconds from DEIT_DIST_TIMEOUT when set.  Without
 * WORLD_SIZE the options describe one process.  DEIT_E_INVALID_ARG names a
 * malformed or missing variable.  master_addr then points into the
 * environment. */
DEIT_API deit_status deit_group_options_from_env(deit_group_options *options);
/* Join the group: returns when all world_size ranks have joined, or fails
 * (DEIT_E_DISTRIBUTED) after timeout_seconds.  world_size 1 opens no socket.
 * DEIT_E_UNSUPPORTED when this build lacks the backend. */
DEIT_API deit_status deit_group_create(const deit_group_options *options,
                                       deit_group **out);
DEIT_API void deit_group_free(deit_group *group);
DEIT_API deit_status deit_group_rank(const deit_group *group, int32_t *rank,
                                     int32_t *world_size);
/* Wait until every rank has called it. */
DEIT_API deit_status deit_group_barrier(deit_group *group);
/* 1 if this build can form multi-process groups with `backend` ("gloo",
 * "nccl"), else 0. */
DEIT_API int deit_group_backend_available(const char *backend);

/* ------------------------------------------------------------------------ */
/* Teacher: a torchvision ResNet, or a TorchScript CNN                      */
/* ------------------------------------------------------------------------ */
typedef struct deit_teacher deit_teacher;

/* The teacher architectures deit_teacher_create knows, by index from 0
 * ("resnet18", ...); NULL past the last.  The strings are static. */
DEIT_API const char *deit_teacher_arch_name(size_t index);
/* arch: "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"
 * (torchvision's), or "resnet18-small-image", "resnet34-small-image",
 * "resnet50-small-image": the CIFAR ResNet's stem (3x3 stride-1 conv1, no
 * max-pool) for images of about 32 px and less: layer1 works at 28x28
 * instead of 7x7, ~16x the multiply-adds (~13x the training time measured
 * on a CPU); torchvision's pretrained weights do not fit it.  Or
 * "resnet20-small-image", "resnet56-small-image": He et al.'s CIFAR
 * ResNet-20/56 (that stem, three stages of 16/32/64 channels, no layer4,
 * torchvision's 1x1-conv shortcuts), for small images from scratch: at 28 px
 * ResNet-20 costs the multiply-adds of "resnet18" with 1/40 of its
 * parameters.  Initialised as torchvision
 * does, from seed 0 (the same weights every time); placed on device "auto". */
DEIT_API deit_status deit_teacher_create(const char *arch, int32_t num_classes,
                                         deit_teacher **out);
/* Load torchvision/timm ResNet weights (a .safetensors state dict) into the
 * teacher.  An `fc` whose class count differs is replaced by a fresh one, as
 * in the reference notebook; any other missing/extra/mis-shaped tensor is an
 * error naming it.  Marks the teacher as pretrained. */
DEIT_API deit_status deit_teacher_load_weights(deit_teacher *teacher,
                                               const char *safetensors_path);
/* A TorchScript module (torch.jit.save) that maps float NCHW images to
 * [N, num_classes] logits stands in as the teacher (evaluate/predict/distill;
 * it is not fine-tuned or saved by libdeit). */
DEIT_API deit_status deit_teacher_load_torchscript(const char *path,
                                                   int32_t num_classes,
                                                   deit_teacher **out);
/* A teacher checkpoint written by deit_teacher_save. */
DEIT_API deit_status deit_teacher_load(const char *path, deit_teacher **out);
/* Write a .safetensors checkpoint (configuration in __metadata__), atomically. */
DEIT_API deit_status deit_teacher_save(const deit_teacher *teacher, const char *path);
DEIT_API void deit_teacher_free(deit_teacher *teacher);
/* Move the teacher to a device ("auto", "cpu", "cuda", "cuda:N"). */
DEIT_API deit_status deit_teacher_set_device(deit_teacher *teacher, const char *device);
/* Writes the architecture name ("resnet50", "torchscript"). */
DEIT_API deit_status deit_teacher_get_arch(const deit_teacher *teacher, char *buf,
                                           size_t capacity);
DEIT_API deit_status deit_teacher_num_classes(const deit_teacher *teacher, int32_t *out);

typedef enum deit_trainable {
  DEIT_TRAIN_AUTO = 0, /* head only after deit_teacher_load_weights, else all */
  DEIT_TRAIN_HEAD = 1, /* only fc (the reference notebook) */
  DEIT_TRAIN_ALL = 2
} deit_trainable;

/* Augmentation of training batches, for the teacher (deit_teacher_train_options.
 * augment) and the student (deit_distill_options.augment), as in DeiT's
 * recipe.  The ops run on the batch's device (the same on CPU and CUDA); their
 * random draws come from the run's seed and step, so runs stay deterministic
 * and resumable.  Order: crop, flip, erasing, then mixup / cutmix.  With
 * augmentation the teacher runs on each augmented batch during distillation
 * (its logits are not cached).  deit_augment_options_init gives the defaults
 * below, which work on small gray images and on photographs alike. */
typedef struct deit_augment_options {
  uint32_t struct_size;
  int32_t crop_padding;      /* 4: random crop of the image size after zero
                                padding by this many pixels (torchvision's
                                RandomCrop(size, padding)); 0: off */
  double resized_crop_scale; /* 0: off; s in (0, 1]: RandomResizedCrop with
                                area [s, 1] and ratio [3/4, 4/3], bilinear,
                                instead of crop_padding (which must be 0) */
  int32_t hflip;             /* 0; 1: mirror each image with probability 1/2
                                (off by default: it breaks digits and text) */
  double erase_prob;         /* 0.25: RandomErasing of a box of 2-33% of the
                                image (zero fill), per image */
  double mixup_alpha;        /* 0: off; > 0: mixup, lambda ~ Beta(a, a) */
  double cutmix_alpha;       /* 0: off; > 0: cutmix; with both, each batch
                                uses one or the other with probability 1/2 */
} deit_augment_options;

DEIT_API deit_status deit_augment_options_init_sized(deit_augment_options *options, size_t struct_size);
#define deit_augment_options_init(options) deit_augment_options_init_sized((options), sizeof *(options))

typedef struct deit_teacher_train_options {
  uint32_t struct_size;
  int32_t epochs;      /* 3 */
  int32_t batch_size;  /* 64 */
  double lr;           /* 1e-3 */
  deit_optimizer optimizer; /* ADAM */
  double weight_decay; /* -1: the optimizer's default (Adam, SGD 0; AdamW 0.05) */
  double momentum;     /* 0.9; SGD only */
  deit_trainable trainable; /* AUTO */
  uint64_t seed;       /* 0 */
  const char *device;  /* NULL: keep the teacher's device */
  deit_progress_fn progress;
  void *user_data;
  /* Crash safety, as in deit_distill_options (a smaller struct_size leaves
     them off): a resumable state written at each epoch's end (and every
     state_every_steps steps) to state_path; resume continues from it. */
  const char *state_path;
  int32_t state_every_steps;
  int32_t resume;
  /* Data parallelism (NULL: this process alone).  batch_size is per rank;
     only rank 0 writes state_path; every rank reads it to resume. */
  deit_group *group;
  /* The training recipe (fields added in 0.2; a smaller struct_size leaves
     them at these defaults). */
  deit_schedule schedule;   /* CONSTANT; COSINE: cosine decay to 0 over the run */
  int32_t warmup_epochs;    /* 0; linear warmup before COSINE */
  double label_smoothing;   /* 0 */
  const deit_augment_options *augment; /* NULL: the images as stored */
  double clip_grad;         /* 0: off; > 0: largest global gradient norm */
  /* Validation (added in 0.2): val evaluated at every epoch's end
     (deit_progress.val_accuracy); with best_path, the checkpoint of the
     epoch with the best validation accuracy so far is written there
     (atomically; a resumed run starts the comparison afresh). */
  const deit_dataset *val;  /* NULL: none */
  const char *best_path;    /* NULL: none; needs val */
} deit_teacher_train_options;

DEIT_API deit_status deit_teacher_train_options_init_sized(deit_teacher_train_options *options, size_t struct_size);
#define deit_teacher_train_options_init(options) deit_teacher_train_options_init_sized((options), sizeof *(options))
/* Fine-tune on `train` (train mode: BatchNorm statistics adapt; eval mode
 * afterwards).  The last incomplete batch is dropped, as in the notebook. */
DEIT_API deit_status deit_teacher_train(deit_teacher *teacher, const deit_dataset *train,
                                        const deit_teacher_train_options *options);
/* Accuracy and loss on `data` in eval mode.  confusion: NULL, or a
 * num_classes x num_classes row-major buffer (row = true label) of
 * `confusion_capacity` elements. */
DEIT_API deit_status deit_teacher_evaluate(deit_teacher *teacher, const deit_dataset *data,
                                           deit_eval_result *result, int64_t *confusion,
                                           size_t confusion_capacity);
/* deit_teacher_evaluate with each rank of `group` evaluating its share of
 * `data` (every rank passes the same data); every rank gets the whole result. */
DEIT_API deit_status deit_teacher_evaluate_group(deit_teacher *teacher, const deit_dataset *data,
                                                 deit_group *group, deit_eval_result *result,
                                                 int64_t *confusion, size_t confusion_capacity);
/* Logits [count x num_classes] for caller images into `logits` (capacity in
 * floats). */
DEIT_API deit_status deit_teacher_predict(deit_teacher *teacher, const deit_images *images,
                                          float *logits, size_t capacity);

/* ------------------------------------------------------------------------ */
/* Student: the DeiT vision transformer with [CLS] and [DIST] tokens         */
/* ------------------------------------------------------------------------ */
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
  int32_t pre_norm;  /* 0: post-norm (seed), 1: pre-norm (timm) */
  int32_t gelu;      /* 0: ReLU (seed), 1: GELU (timm) */
  double dropout;    /* seed 0.1, timm presets 0 */
  double attn_dropout;
  double ln_eps;     /* seed 1e-5, timm 1e-6 */
  int32_t qkv_bias;
  int32_t trunc_normal_init; /* 1: timm init; 0: PyTorch defaults, zero tokens */
} deit_student_config;

/* Fill a configuration from a preset: "seed" (the reference notebook's
 * model), "deit-tiny", "deit-small", "deit-base" (224 pixels), "small-image"
 * (28-32 pixel images: patch 4, width 64, depth 6, timm layout). */
/* The presets by index from 0 ("seed", ...); NULL past the last (static strings). */
DEIT_API const char *deit_student_preset_name(size_t index);
DEIT_API deit_status deit_student_config_init_sized(deit_student_config *config,
                                                    size_t struct_size, const char *preset,
                                                    int32_t num_classes);
#define deit_student_config_init(config, preset, num_classes) \
  deit_student_config_init_sized((config), sizeof *(config), (preset), (num_classes))
DEIT_API deit_status deit_student_create(const deit_student_config *config, uint64_t seed,
                                         deit_student **out);
/* Load / save a student checkpoint (.safetensors, timm names, configuration
 * in __metadata__; written atomically). */
DEIT_API deit_status deit_student_load(const char *path, deit_student **out);
DEIT_API deit_status deit_student_save(const deit_student *student, const char *path);
DEIT_API void deit_student_free(deit_student *student);
DEIT_API deit_status deit_student_set_device(deit_student *student, const char *device);
DEIT_API deit_status deit_student_get_config(const deit_student *student,
                                             deit_student_config *config);
DEIT_API deit_status deit_student_num_params(const deit_student *student, int64_t *out);
/* Pretrained students (added in 0.2): a plain safetensors state dict under
 * timm's names (timm's deit_{tiny,small,base}_distilled_patch16_224, the
 * non-distilled deit_*_patch16_224 and vit_* layouts, as
 * safetensors.torch.save_file(model.state_dict()) writes them), or a libdeit
 * student checkpoint.  deit_student_config_from_weights reads the
 * architecture from the tensors (num_heads, which weights do not store, from
 * the preset of that shape, else embed_dim / 64; num_classes 0 when the file
 * has no head); set num_classes, img_size, in_channels for the new task,
 * create the student, then load the weights into it. */
DEIT_API deit_status deit_student_config_from_weights_sized(deit_student_config *config,
                                                            size_t struct_size, const char *path);
#define deit_student_config_from_weights(config, path) \
  deit_student_config_from_weights_sized((config), sizeof *(config), (path))
/* Copies the file's weights into `student`, fitted to it: heads of another
 * class count stay as initialised; a non-distilled file starts [DIST]'s
 * token, position and head from [CLS]'s; pos_embed is resampled to the
 * student's patch grid (bicubic with antialiasing, prefix tokens kept: timm's
 * resample_abs_pos_embed); RGB patch weights are summed for 1 channel or
 * repeated for more (timm's adapt_input_conv).  Any other difference is
 * DEIT_E_FORMAT naming the tensor, and the student is unchanged. */
DEIT_API deit_status deit_student_load_weights(deit_student *student, const char *path);

typedef enum deit_distillation {
  DEIT_DISTILL_SOFT = 0, /* KL(teacher || student) at temperature T, x T^2 */
  DEIT_DISTILL_HARD = 1, /* CE against the teacher's argmax */
  DEIT_DISTILL_NONE = 2  /* the dist head learns the labels too */
} deit_distillation;

typedef enum deit_head {
  DEIT_HEAD_AVG = 0, /* mean of both heads' logits (DeiT inference) */
  DEIT_HEAD_CLS = 1,
  DEIT_HEAD_DIST = 2
} deit_head;

typedef struct deit_distill_options {
  uint32_t struct_size;
  int32_t epochs;       /* 5 */
  int32_t batch_size;   /* 64 */
  double lr;            /* 1e-3 */
  deit_optimizer optimizer; /* ADAM */
  double weight_decay;  /* -1: the optimizer's default (Adam, SGD 0; AdamW 0.05) */
  double momentum;      /* 0.9; SGD only */
  deit_schedule schedule; /* CONSTANT */
  int32_t warmup_epochs;  /* 0; COSINE only */
  double alpha;         /* 0.5: weight of the distillation loss */
  double temperature;   /* 2 */
  deit_distillation distillation; /* SOFT */
  double label_smoothing; /* 0: for the class head's CE */
  uint64_t seed;        /* 0 */
  const char *device;   /* NULL: keep the student's device */
  int32_t cache_teacher_logits; /* 1: compute the frozen teacher's logits once */
  deit_progress_fn progress;
  void *user_data;
  /* Crash safety (fields added in 0.1; a smaller struct_size leaves them off). */
  const char *state_path;    /* NULL: none.  A resumable training state (weights,
                                optimizer, position; .safetensors) written
                                atomically here at the end of every epoch */
  int32_t state_every_steps; /* 0; N > 0: also every N steps */
  int32_t resume;            /* 0; 1: continue from state_path when it exists
                                (DEIT_E_INVALID_ARG if it was written by a
                                run with other settings or data) */
  deit_group *group;         /* NULL; data parallelism as for the teacher.
                                The teacher-logit pass is split over the
                                ranks too.  Same seed and global batch (ranks
                                x batch_size) give the weights one process
                                would reach, to float rounding. */
  /* Added after group (a smaller struct_size leaves it off). */
  const char *teacher_logits_path; /* NULL: none.  With cache_teacher_logits, a
                                file (.safetensors) that keeps the teacher's
                                logits between runs: used when it was written
                                for the same training images and labels and a
                                teacher with the same weights, else computed
                                and written there (atomically) */
  /* The training recipe (fields added in 0.2, as for the teacher). */
  const deit_augment_options *augment; /* NULL: the images as stored */
  double clip_grad;          /* 0: off; > 0: largest global gradient norm */
  double drop_path;          /* 0: stochastic depth rate of the last block
                                (block i of d: rate * i / (d - 1), timm's rule);
                                training only */
  /* Validation, as for the teacher (added in 0.2). */
  const deit_dataset *val;   /* NULL: none */
  const char *best_path;     /* NULL: none; needs val */
  /* Added after best_path (a smaller struct_size leaves it off). */
  double ema_decay;          /* 0: off; in (0, 1): keep an exponential moving
                                average of the weights (DeiT's model EMA; decay
                                min(ema_decay, (1 + t) / (10 + t)) after step
                                t); validation and best_path see the average,
                                and the student ends holding it */
} deit_distill_options;

DEIT_API deit_status deit_distill_options_init_sized(deit_distill_options *options, size_t struct_size);
#define deit_distill_options_init(options) deit_distill_options_init_sized((options), sizeof *(options))
/* Train the student on `train` against the frozen teacher (eval mode, no
 * gradients).  teacher may be NULL only with DEIT_DISTILL_NONE.
 * Runs are deterministic: the same settings, data, seed and thread count give
 * the same weights, also when a run killed at any point is resumed from its
 * state_path. */
DEIT_API deit_status deit_distill(deit_student *student, deit_teacher *teacher,
                                  const deit_dataset *train,
                                  const deit_distill_options *options);
/* The distillation loss on caller logits ([n x classes] each, labels int64):
 * loss = alpha * dist_part + (1 - alpha) * cls_part.  Any of the three
 * outputs may be NULL. */
DEIT_API deit_status deit_distillation_loss(const float *cls_logits, const float *dist_logits,
                                            const float *teacher_logits, const int64_t *labels,
                                            int64_t n, int32_t num_classes,
                                            deit_distillation type, double alpha,
                                            double temperature, double label_smoothing,
                                            double *loss, double *loss_cls, double *loss_dist);

/* Accuracy of all three heads on `data` (eval mode). confusion as for the
 * teacher, for the averaged head. */
DEIT_API deit_status deit_student_evaluate(deit_student *student, const deit_dataset *data,
                                           deit_eval_result *result, int64_t *confusion,
                                           size_t confusion_capacity);
/* deit_student_evaluate split over the ranks of `group`, as for the teacher. */
DEIT_API deit_status deit_student_evaluate_group(deit_student *student, const deit_dataset *data,
                                                 deit_group *group, deit_eval_result *result,
                                                 int64_t *confusion, size_t confusion_capacity);
/* Logits [count x num_classes] of the chosen head. */
DEIT_API deit_status deit_student_predict(deit_student *student, const deit_images *images,
                                          deit_head head, float *logits, size_t capacity);

/* What a model keeps of the data set it was trained (or distilled) on, saved
 * in its checkpoint: the class names, "" when the data set had none (IDX,
 * CIFAR, memory), and the preprocessing of image folders.  Index outside
 * [0, num_classes): DEIT_E_INVALID_ARG. */
DEIT_API deit_status deit_teacher_class_name(const deit_teacher *teacher, int32_t index,
                                             char *buf, size_t capacity);
DEIT_API deit_status deit_student_class_name(const deit_student *student, int32_t index,
                                             char *buf, size_t capacity);
/* The deit_image_options (image_size, crop_pct, filter, channels; the rest
 * defaults) the model's training images were made with, for
 * deit_image_read_file: photographs are then prepared as in training.
 * DEIT_E_STATE when the model was not trained on image files. */
DEIT_API deit_status deit_teacher_image_options(const deit_teacher *teacher,
                                                deit_image_options *options);
DEIT_API deit_status deit_student_image_options(const deit_student *student,
                                                deit_image_options *options);
/* Predicted classes of the chosen head (capacity in elements). */
DEIT_API deit_status deit_student_classify(deit_student *student, const deit_images *images,
                                           deit_head head, int32_t *classes, size_t capacity);

/* ------------------------------------------------------------------------ */
/* ONNX export (added in 0.2)                                               */
/* ------------------------------------------------------------------------ */
typedef struct deit_onnx_options {
  uint32_t struct_size;
  deit_head head; /* AVG: the output is DeiT's averaged head; CLS / DIST: that head's */
} deit_onnx_options;

DEIT_API deit_status deit_onnx_options_init_sized(deit_onnx_options *options, size_t struct_size);
#define deit_onnx_options_init(options) deit_onnx_options_init_sized((options), sizeof *(options))
/* Writes the student's inference (eval mode) as an ONNX model, opset 17:
 * input "images", float32 [batch, in_channels, img_size, img_size], the
 * values deit_student_predict takes as F32 NCHW (pixels / 255); output
 * "logits", float32 [batch, num_classes]; batch is a symbolic dimension.
 * The weights are initializers under their checkpoint (timm) names.  The
 * model passes ONNX's checker and strict shape inference before it is
 * written, atomically (a file that cannot be written is DEIT_E_IO and leaves
 * nothing at path).  options NULL: the defaults.  docs/INTEROP.md lists the
 * operators. */
DEIT_API deit_status deit_student_export_onnx(const deit_student *student, const char *path,
                                              const deit_onnx_options *options);

/* ------------------------------------------------------------------------ */
/* Checkpoint inspection                                                    */
/* ------------------------------------------------------------------------ */
/* Writes a JSON description of a libdeit checkpoint (kind, configuration,
 * parameter count, tensors with dtype and shape) into buf.  When needed is
 * not NULL it receives the size required (including the NUL); buf may be
 * NULL with capacity 0 to ask for that size (DEIT_E_BUFFER_TOO_SMALL). */
DEIT_API deit_status deit_checkpoint_describe(const char *path, char *buf, size_t capacity,
                                              size_t *needed);

/* What a libdeit checkpoint holds. */
typedef enum deit_checkpoint_kind {
  DEIT_CHECKPOINT_TEACHER = 0, /* written by deit_teacher_save */
  DEIT_CHECKPOINT_STUDENT = 1  /* written by deit_student_save */
} deit_checkpoint_kind;
/* The kind of a libdeit checkpoint, from the file's header alone (no
 * tensor data is read), so that a caller can choose deit_teacher_load or
 * deit_student_load.  DEIT_E_FORMAT for a file that is no libdeit model
 * checkpoint (plain torchvision/timm weights, a training state, not
 * safetensors); DEIT_E_IO when it cannot be read. */
DEIT_API deit_status deit_checkpoint_read_kind(const char *path, deit_checkpoint_kind *out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DEIT_DEIT_H */
