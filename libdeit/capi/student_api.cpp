// deit_student_*, deit_distill and the distillation loss.
#include <torch/autograd.h>
#include <torch/utils.h>

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
#include "export/student_onnx.h"
#include "models/checkpoint.h"
#include "models/pretrained_student.h"
#include "runtime/runtime.h"
#include "train/feed.h"
#include "train/train.h"

using deit::capi::guard;
using deit::capi::require_arg;
using deit::capi::reset_out;
using namespace deit;

namespace deit::capi {

c10::Device device_of(const deit_student& s) {
  return s.net->parameters().front().device();
}

namespace {

// deit_student_config <-> StudentConfig, field by field (models/student.h lists them).
deit_student_config to_c(const models::StudentConfig& c) {
  deit_student_config out{};
  out.struct_size = sizeof out;
#define DEIT_TO_C(field) out.field = static_cast<decltype(out.field)>(c.field);
  DEIT_STUDENT_C_FIELDS(DEIT_TO_C)
#undef DEIT_TO_C
  return out;
}

models::StudentConfig from_c(const deit_student_config& in) {
  models::StudentConfig c;
#define DEIT_FROM_C(field) c.field = static_cast<decltype(c.field)>(in.field);
  DEIT_STUDENT_C_FIELDS(DEIT_FROM_C)
#undef DEIT_FROM_C
  c.final_norm = true;
  // Keep the preset's name when the configuration still equals that preset.
  c.preset = models::matching_preset(c);
  return c;
}

}  // namespace
}  // namespace deit::capi

extern "C" {

DEIT_API const char* deit_student_preset_name(size_t index) {
  return capi::name_at(models::student_preset_names, index);
}

DEIT_API deit_status deit_student_config_init_sized(deit_student_config* config, size_t size,
                                                    const char* preset, int32_t num_classes) {
  return guard(__func__, [&] {
    require_arg(preset, "preset");
    capi::init_caller_struct(config, size, capi::to_c(models::student_preset(preset, num_classes)), "config");
  });
}

DEIT_API deit_status deit_student_create(const deit_student_config* config, uint64_t seed,
                                         deit_student** out) {
  return guard(__func__, [&] {
    reset_out(out);
    const models::StudentConfig c =
        capi::from_c(capi::read_caller_struct(config, capi::to_c(models::student_preset("seed", 1)), "config"));
    models::validate(c);
    auto h = std::make_unique<deit_student>();
    h->config = c;
    runtime::seeded_init(seed, [&] { h->net = models::DistilledViT(c); });
    h->net->eval();
    h->net->to(runtime::resolve_device("auto"));
    *out = h.release();
  });
}

DEIT_API deit_status deit_student_load(const char* path, deit_student** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(path, "path");
    auto h = std::make_unique<deit_student>();
    models::StudentCheckpoint ck = models::load_student_checkpoint(path);
    h->config = ck.config;
    h->net = ck.net;
    capi::set_card(*h, ck.card);
    h->net->eval();
    h->net->to(runtime::resolve_device("auto"));
    *out = h.release();
  });
}

DEIT_API deit_status deit_student_config_from_weights_sized(deit_student_config* config, size_t size,
                                                            const char* path) {
  return guard(__func__, [&] {
    require_arg(path, "path");
    capi::init_caller_struct(config, size, capi::to_c(models::student_config_from_weights(path)), "config");
  });
}

DEIT_API deit_status deit_student_load_weights(deit_student* student, const char* path) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    require_arg(path, "path");
    models::load_pretrained_weights(*student->net, path);
  });
}

DEIT_API deit_status deit_student_save(const deit_student* student, const char* path) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    require_arg(path, "path");
    models::save_student_checkpoint(student->config, *student->net, student->card, path);
  });
}

DEIT_API void deit_student_free(deit_student* student) {
  guard(__func__, [&] { delete student; });
}

DEIT_API deit_status deit_student_set_device(deit_student* student, const char* device) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    require_arg(device, "device");
    student->net->to(runtime::resolve_device(device));
  });
}

DEIT_API deit_status deit_student_get_config(const deit_student* student, deit_student_config* config) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    capi::write_caller_struct(config, capi::to_c(student->config), "config");
  });
}

DEIT_API deit_status deit_student_num_params(const deit_student* student, int64_t* out) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    require_arg(out, "out");
    *out = student->net->num_parameters();
  });
}

DEIT_API deit_status deit_distill_options_init_sized(deit_distill_options* o, size_t size) {
  return guard(__func__, [&] {
    capi::init_caller_struct(o, size, capi::option_defaults<deit_distill_options>(), "options");
  });
}

DEIT_API deit_status deit_distill(deit_student* student, deit_teacher* teacher, const deit_dataset* train_set,
                                  const deit_distill_options* options) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    require_arg(train_set, "train");
    const deit_distill_options o =
        capi::read_caller_struct(options, capi::option_defaults<deit_distill_options>(), "options");
    train::DistillSettings s;
    s.state = train::state_settings(o.state_path, o.state_every_steps, o.resume);
    s.group = capi::group_of(o.group);
    if (o.teacher_logits_path != nullptr) s.teacher_logits_path = o.teacher_logits_path;
    s.epochs = o.epochs;
    s.batch_size = o.batch_size;
    s.warmup_epochs = o.warmup_epochs;
    s.optim = train::optim_settings(o.optimizer, o.lr, o.weight_decay, o.momentum, o.schedule);
    s.loss = {checked_enum(o.distillation, "distillation"), o.alpha, o.temperature, o.label_smoothing};
    s.recipe = capi::recipe_settings(o.augment, o.clip_grad);
    s.val = o.val ? &o.val->data : nullptr;
    if (o.best_path) s.best_path = o.best_path;
    s.drop_path = o.drop_path;
    s.ema_decay = o.ema_decay;
    s.seed = o.seed;
    s.cache_teacher_logits = o.cache_teacher_logits != 0;
    s.progress = {o.progress, o.user_data};
    if (o.device) student->net->to(runtime::resolve_device(o.device));
    capi::set_card(*student, models::card_of(train_set->data));
    s.card = student->card;
    train::distill(student->net, student->config, teacher ? teacher->teacher.get() : nullptr, train_set->data,
                   s);
  });
}

DEIT_API deit_status deit_distillation_loss(const float* cls_logits, const float* dist_logits,
                                            const float* teacher_logits, const int64_t* labels, int64_t n,
                                            int32_t num_classes, deit_distillation type, double alpha,
                                            double temperature, double label_smoothing, double* loss,
                                            double* loss_cls, double* loss_dist) {
  return guard(__func__, [&] {
    require_arg(cls_logits, "cls_logits");
    require_arg(dist_logits, "dist_logits");
    require_arg(labels, "labels");
    require(n >= 1, "n = " + std::to_string(n) + "; expected at least 1");
    require(num_classes >= 1, "num_classes = " + std::to_string(num_classes) + "; expected at least 1");
    train::LossSettings s{checked_enum(type, "distillation"), alpha, temperature, label_smoothing};
    train::validate(s);
    require(teacher_logits != nullptr || s.type == DEIT_DISTILL_NONE,
            "teacher_logits is NULL; it is required unless type is DEIT_DISTILL_NONE");
    for (int64_t i = 0; i < n; ++i)
      require(labels[i] >= 0 && labels[i] < num_classes,
              "labels[" + std::to_string(i) + "] = " + std::to_string(labels[i]) + " is outside [0, " +
                  std::to_string(num_classes) + ")");
    auto borrow = [&](const float* p) {
      return at::from_blob(const_cast<float*>(p), {n, num_classes}, at::kFloat).to(at::kDouble);
    };
    torch::NoGradGuard no_grad;
    const at::Tensor y = at::from_blob(const_cast<int64_t*>(labels), {n}, at::kLong).clone();
    const train::LossParts parts =
        train::distillation_loss(borrow(cls_logits), borrow(dist_logits),
                                 teacher_logits ? borrow(teacher_logits) : at::Tensor(), y, s);
    if (loss) *loss = parts.total.item<double>();
    if (loss_cls) *loss_cls = parts.cls.item<double>();
    if (loss_dist) *loss_dist = parts.dist.item<double>();
  });
}

}  // extern "C"

// C++ linkage: shared bodies of the shims below (one returns a tensor).
namespace {
// deit_student_evaluate and its split version (group NULL: this process alone).
void evaluate_student(deit_student* student, const deit_dataset* data, dist::Group* group,
                      deit_eval_result* result, int64_t* confusion, size_t confusion_capacity) {
  require_arg(student, "student");
  require_arg(data, "data");
  capi::check_eval_result(result);
  capi::write_eval_result(train::evaluate_student(student->net, student->config, data->data, group), result,
                          confusion, confusion_capacity);
}

at::Tensor predict_logits(deit_student* student, const deit_images* images, const deit_head& head) {
  require_arg(student, "student");
  require_arg(images, "images");
  const deit_head h = checked_enum(head, "head");
  const models::StudentConfig& c = student->config;
  student->net->eval();
  const at::Tensor x =
      train::caller_images(*images, c.in_channels, c.img_size, c.img_size, capi::device_of(*student));
  return models::predict_logits(student->net, x, h);
}
}  // namespace

extern "C" {

DEIT_API deit_status deit_student_predict(deit_student* student, const deit_images* images, deit_head head,
                                          float* logits, size_t capacity) {
  return guard(__func__, [&] {
    require_arg(logits, "logits");
    capi::write_logits(predict_logits(student, images, head), logits, capacity);
  });
}

DEIT_API deit_status deit_student_classify(deit_student* student, const deit_images* images, deit_head head,
                                           int32_t* classes, size_t capacity) {
  return guard(__func__, [&] {
    require_arg(classes, "classes");
    const at::Tensor pred = predict_logits(student, images, head).argmax(1).to(at::kInt).cpu().contiguous();
    if (capacity < static_cast<size_t>(pred.numel()))
      fail(DEIT_E_BUFFER_TOO_SMALL, "capacity " + std::to_string(capacity) + " cannot hold " +
                                        std::to_string(pred.numel()) + " classes");
    std::memcpy(classes, pred.data_ptr<int32_t>(), static_cast<size_t>(pred.numel()) * sizeof(int32_t));
  });
}

DEIT_API deit_status deit_student_evaluate(deit_student* student, const deit_dataset* data,
                                           deit_eval_result* result, int64_t* confusion,
                                           size_t confusion_capacity) {
  return guard(__func__,
               [&] { evaluate_student(student, data, nullptr, result, confusion, confusion_capacity); });
}

DEIT_API deit_status deit_student_evaluate_group(deit_student* student, const deit_dataset* data,
                                                 deit_group* group, deit_eval_result* result,
                                                 int64_t* confusion, size_t confusion_capacity) {
  return guard(__func__, [&] {
    require_arg(group, "group");
    evaluate_student(student, data, group->group.get(), result, confusion, confusion_capacity);
  });
}

DEIT_API deit_status deit_onnx_options_init_sized(deit_onnx_options* o, size_t size) {
  return guard(__func__, [&] {
    capi::init_caller_struct(o, size, capi::option_defaults<deit_onnx_options>(), "options");
  });
}

DEIT_API deit_status deit_student_export_onnx(const deit_student* student, const char* path,
                                              const deit_onnx_options* options) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    require_arg(path, "path");
    const deit_onnx_options defaults = capi::option_defaults<deit_onnx_options>();
    const deit_onnx_options o = options ? capi::read_caller_struct(options, defaults, "options") : defaults;
    const deit_head head = checked_enum(o.head, "options->head");
    static const char* const kHeadNames[] = {"avg", "cls", "dist"};
    std::vector<std::pair<std::string, std::string>> metadata{{"libdeit.head", kHeadNames[head]}};
    if (!student->card.empty()) metadata.emplace_back("libdeit.data_card", models::card_json(student->card).dump());
    onnx_export::export_student(student->net, head, path, metadata);
  });
}

}  // extern "C"
