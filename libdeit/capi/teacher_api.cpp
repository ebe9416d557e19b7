// deit_teacher_*: create, load, save, train, evaluate, predict.
#include <cstddef>
#include <cstring>

#include "capi/caller_struct.h"
#include "capi/guard.h"
#include "capi/group_handle.h"
#include "capi/handles.h"
#include "capi/model_handles.h"
#include "capi/option_defaults.h"
#include "capi/recipe_options.h"
#include "capi/results.h"
#include "core/c_enum.h"
#include "models/checkpoint.h"
#include "models/resnet.h"
#include "runtime/runtime.h"
#include "train/feed.h"
#include "train/train.h"

using deit::capi::guard;
using deit::capi::require_arg;
using deit::capi::reset_out;

using namespace deit;

extern "C" {

DEIT_API const char* deit_teacher_arch_name(size_t index) {
  return capi::name_at(models::resnet_arch_names, index);
}

DEIT_API deit_status deit_teacher_create(const char* arch, int32_t num_classes, deit_teacher** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(arch, "arch");
    require(num_classes >= 1, "num_classes = " + std::to_string(num_classes) + "; expected at least 1");
    auto h = std::make_unique<deit_teacher>();
    // Seed 0: the same architecture always starts from the same weights.
    runtime::seeded_init(0, [&] { h->teacher = models::make_resnet_teacher(arch, num_classes); });
    h->teacher->to(runtime::resolve_device("auto"));
    *out = h.release();
  });
}

DEIT_API deit_status deit_teacher_load_weights(deit_teacher* teacher, const char* path) {
  return guard(__func__, [&] {
    require_arg(teacher, "teacher");
    require_arg(path, "safetensors_path");
    models::load_pretrained_weights(*teacher->teacher, path);
  });
}

DEIT_API deit_status deit_teacher_load_torchscript(const char* path, int32_t num_classes,
                                                   deit_teacher** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(path, "path");
    auto h = std::make_unique<deit_teacher>();
    h->teacher = models::load_torchscript_teacher(path, num_classes);
    h->teacher->to(runtime::resolve_device("auto"));
    *out = h.release();
  });
}

DEIT_API deit_status deit_teacher_load(const char* path, deit_teacher** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(path, "path");
    auto h = std::make_unique<deit_teacher>();
    h->teacher = models::load_teacher_checkpoint(path);
    h->teacher->to(runtime::resolve_device("auto"));
    *out = h.release();
  });
}

DEIT_API deit_status deit_teacher_save(const deit_teacher* teacher, const char* path) {
  return guard(__func__, [&] {
    require_arg(teacher, "teacher");
    require_arg(path, "path");
    models::save_teacher_checkpoint(*teacher->teacher, path);
  });
}

DEIT_API void deit_teacher_free(deit_teacher* teacher) {
  guard(__func__, [&] { delete teacher; });
}

DEIT_API deit_status deit_teacher_set_device(deit_teacher* teacher, const char* device) {
  return guard(__func__, [&] {
    require_arg(teacher, "teacher");
    require_arg(device, "device");
    teacher->teacher->to(runtime::resolve_device(device));
  });
}

DEIT_API deit_status deit_teacher_get_arch(const deit_teacher* teacher, char* buf, size_t capacity) {
  return guard(__func__, [&] {
    require_arg(teacher, "teacher");
    require_arg(buf, "buf");
    capi::copy_string(teacher->teacher->arch, buf, capacity);
  });
}

DEIT_API deit_status deit_teacher_num_classes(const deit_teacher* teacher, int32_t* out) {
  return guard(__func__, [&] {
    require_arg(teacher, "teacher");
    require_arg(out, "out");
    *out = static_cast<int32_t>(teacher->teacher->num_classes);
  });
}

DEIT_API deit_status deit_teacher_train_options_init_sized(deit_teacher_train_options* o, size_t size) {
  return guard(__func__, [&] {
    capi::init_caller_struct(o, size, capi::option_defaults<deit_teacher_train_options>(), "options");
  });
}

DEIT_API deit_status deit_teacher_train(deit_teacher* teacher, const deit_dataset* train_set,
                                        const deit_teacher_train_options* options) {
  return guard(__func__, [&] {
    require_arg(teacher, "teacher");
    require_arg(train_set, "train");
    const deit_teacher_train_options o =
        capi::read_caller_struct(options, capi::option_defaults<deit_teacher_train_options>(), "options");
    train::TeacherTrainSettings s;
    s.state = train::state_settings(o.state_path, o.state_every_steps, o.resume);
    s.group = capi::group_of(o.group);
    s.epochs = o.epochs;
    s.batch_size = o.batch_size;
    s.warmup_epochs = o.warmup_epochs;
    s.optim = train::optim_settings(o.optimizer, o.lr, o.weight_decay, o.momentum, o.schedule);
    s.label_smoothing = o.label_smoothing;
    s.recipe = capi::recipe_settings(o.augment, o.clip_grad);
    s.val = o.val ? &o.val->data : nullptr;
    if (o.best_path) s.best_path = o.best_path;
    s.trainable = checked_enum(o.trainable, "trainable");
    s.seed = o.seed;
    s.progress = {o.progress, o.user_data};
    if (o.device) teacher->teacher->to(runtime::resolve_device(o.device));
    teacher->teacher->card = models::card_of(train_set->data);
    train::train_teacher(*teacher->teacher, train_set->data, s);
  });
}

}  // extern "C"

namespace {
// deit_teacher_evaluate and its split version (group NULL: this process alone).
void evaluate_teacher(deit_teacher* teacher, const deit_dataset* data, dist::Group* group,
                      deit_eval_result* result, int64_t* confusion, size_t confusion_capacity) {
  require_arg(teacher, "teacher");
  require_arg(data, "data");
  capi::check_eval_result(result);
  capi::write_eval_result(train::evaluate_teacher(*teacher->teacher, data->data, group), result, confusion,
                          confusion_capacity);
}
}  // namespace

extern "C" {

DEIT_API deit_status deit_teacher_evaluate(deit_teacher* teacher, const deit_dataset* data,
                                           deit_eval_result* result, int64_t* confusion,
                                           size_t confusion_capacity) {
  return guard(__func__,
               [&] { evaluate_teacher(teacher, data, nullptr, result, confusion, confusion_capacity); });
}

DEIT_API deit_status deit_teacher_evaluate_group(deit_teacher* teacher, const deit_dataset* data,
                                                 deit_group* group, deit_eval_result* result,
                                                 int64_t* confusion, size_t confusion_capacity) {
  return guard(__func__, [&] {
    require_arg(group, "group");
    evaluate_teacher(teacher, data, group->group.get(), result, confusion, confusion_capacity);
  });
}

DEIT_API deit_status deit_teacher_predict(deit_teacher* teacher, const deit_images* images, float* logits,
                                          size_t capacity) {
  return guard(__func__, [&] {
    require_arg(teacher, "teacher");
    require_arg(images, "images");
    require_arg(logits, "logits");
    models::Teacher& t = *teacher->teacher;
    t.net->set_training(false);
    const at::Tensor x = train::caller_images(*images, 3, images->height, images->width, t.device);
    capi::write_logits(models::teacher_logits(t, x), logits, capacity);
  });
}

}  // extern "C"
