// The default of every field of the public options structs, written once.  The *_init_sized functions
// write them, and the fields an older caller's smaller struct lacks read as them (caller_struct.h).
// deit.h repeats each default in a comment; bindings/python/tests/test_header_defaults.py checks the two agree.
// A field appended to a struct in deit.h gets its line here.
#pragma once

#include <deit/deit.h>

#include "data/image_folder.h"

namespace deit::capi {

// X(field, default)
#define DEIT_TEACHER_TRAIN_OPTIONS(X) \
  X(epochs, 3)                        \
  X(batch_size, 64)                   \
  X(lr, 1e-3)                         \
  X(optimizer, DEIT_OPTIM_ADAM)       \
  X(weight_decay, -1.0)               \
  X(momentum, 0.9)                    \
  X(trainable, DEIT_TRAIN_AUTO)       \
  X(seed, 0)                          \
  X(device, nullptr)                  \
  X(progress, nullptr)                \
  X(user_data, nullptr)               \
  X(state_path, nullptr)              \
  X(state_every_steps, 0)             \
  X(resume, 0)                        \
  X(group, nullptr)                   \
  X(schedule, DEIT_SCHEDULE_CONSTANT) \
  X(warmup_epochs, 0)                 \
  X(label_smoothing, 0.0)             \
  X(augment, nullptr)                 \
  X(clip_grad, 0.0)                   \
  X(val, nullptr)                     \
  X(best_path, nullptr)

#define DEIT_DISTILL_OPTIONS(X)         \
  X(epochs, 5)                          \
  X(batch_size, 64)                     \
  X(lr, 1e-3)                           \
  X(optimizer, DEIT_OPTIM_ADAM)         \
  X(weight_decay, -1.0)                 \
  X(momentum, 0.9)                      \
  X(schedule, DEIT_SCHEDULE_CONSTANT)   \
  X(warmup_epochs, 0)                   \
  X(alpha, 0.5)                         \
  X(temperature, 2.0)                   \
  X(distillation, DEIT_DISTILL_SOFT)    \
  X(label_smoothing, 0.0)               \
  X(seed, 0)                            \
  X(device, nullptr)                    \
  X(cache_teacher_logits, 1)            \
  X(progress, nullptr)                  \
  X(user_data, nullptr)                 \
  X(state_path, nullptr)                \
  X(state_every_steps, 0)               \
  X(resume, 0)                          \
  X(group, nullptr)                     \
  X(teacher_logits_path, nullptr)       \
  X(augment, nullptr)                   \
  X(clip_grad, 0.0)                     \
  X(drop_path, 0.0)                     \
  X(val, nullptr)                       \
  X(best_path, nullptr)                 \
  X(ema_decay, 0.0)

#define DEIT_AUGMENT_OPTIONS(X) \
  X(crop_padding, 4)            \
  X(resized_crop_scale, 0.0)    \
  X(hflip, 0)                   \
  X(erase_prob, 0.25)           \
  X(mixup_alpha, 0.0)           \
  X(cutmix_alpha, 0.0)

// Image folders: data::ImageSettings' member defaults (also open_dir's).
#define DEIT_IMAGE_OPTIONS(X)                                \
  X(image_size, data::ImageSettings{}.image_size)             \
  X(crop_pct, data::ImageSettings{}.crop_pct)                 \
  X(filter, data::ImageSettings{}.filter)                     \
  X(channels, data::ImageSettings{}.channels)                 \
  X(threads, data::ImageSettings{}.threads)                   \
  X(skip_bad, data::ImageSettings{}.skip_bad ? 1 : 0)         \
  X(max_pixels, data::ImageSettings{}.max_pixels)              \
  X(normalize, data::ImageSettings{}.normalize)

#define DEIT_GROUP_OPTIONS(X)    \
  X(rank, 0)                     \
  X(world_size, 1)               \
  X(local_rank, 0)               \
  X(master_addr, "127.0.0.1")    \
  X(master_port, 29500)          \
  X(backend, nullptr)            \
  X(timeout_seconds, 300.0)

#define DEIT_RUNTIME_OPTIONS(X) \
  X(num_threads, 0)              \
  X(single_threaded_blas, 1)     \
  X(tune_malloc, 1)

#define DEIT_ONNX_OPTIONS(X) \
  X(head, DEIT_HEAD_AVG)

template <class S>
S option_defaults();

#define DEIT_SET_DEFAULT(field, value) o.field = value;
#define DEIT_DEFAULTS_OF(S, TABLE) \
  template <>                      \
  inline S option_defaults<S>() {  \
    S o{};                         \
    o.struct_size = sizeof o;      \
    TABLE(DEIT_SET_DEFAULT)        \
    return o;                      \
  }
DEIT_DEFAULTS_OF(deit_teacher_train_options, DEIT_TEACHER_TRAIN_OPTIONS)
DEIT_DEFAULTS_OF(deit_distill_options, DEIT_DISTILL_OPTIONS)
DEIT_DEFAULTS_OF(deit_augment_options, DEIT_AUGMENT_OPTIONS)
DEIT_DEFAULTS_OF(deit_image_options, DEIT_IMAGE_OPTIONS)
DEIT_DEFAULTS_OF(deit_group_options, DEIT_GROUP_OPTIONS)
DEIT_DEFAULTS_OF(deit_runtime_options, DEIT_RUNTIME_OPTIONS)
DEIT_DEFAULTS_OF(deit_onnx_options, DEIT_ONNX_OPTIONS)
#undef DEIT_DEFAULTS_OF
#undef DEIT_SET_DEFAULT

}  // namespace deit::capi
