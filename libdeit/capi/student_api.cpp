// deit_student_*, deit_distill and the distillation loss.
#include <torch/autograd.h>
#include <torch/utils.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

#include "capi/guard.h"
#include "capi/group_handle.h"
#include "capi/handles.h"
#include "capi/model_handles.h"
#include "capi/results.h"
#include "models/checkpoint.h"
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

// The int a C caller passed as an enum, read without loading an out-of-range
// value as the enum type (undefined behaviour in C++; UBSan reports it).
template <class E>
int raw_enum(const E& e) {
  std::underlying_type_t<E> v;
  std::memcpy(&v, &e, sizeof v);
  return static_cast<int>(v);
}

void to_c(const models::StudentConfig& c, deit_student_config* out) {
  out->img_size = static_cast<int32_t>(c.img_size);
  out->patch_size = static_cast<int32_t>(c.patch_size);
  out->in_channels = static_cast<int32_t>(c.in_channels);
  out->num_classes = static_cast<int32_t>(c.num_classes);
  out->embed_dim = static_cast<int32_t>(c.embed_dim);
  out->depth = static_cast<int32_t>(c.depth);
  out->num_heads = static_cast<int32_t>(c.num_heads);
  out->mlp_dim = static_cast<int32_t>(c.mlp_dim);
  out->pre_norm = c.pre_norm;
  out->gelu = c.gelu;
  out->dropout = c.dropout;
  out->attn_dropout = c.attn_dropout;
  out->ln_eps = c.ln_eps;
  out->qkv_bias = c.qkv_bias;
  out->trunc_normal_init = c.trunc_normal_init;
}

models::StudentConfig from_c(const deit_student_config& in) {
  models::StudentConfig c;
  c.preset = "custom";
  c.img_size = in.img_size;
  c.patch_size = in.patch_size;
  c.in_channels = in.in_channels;
  c.num_classes = in.num_classes;
  c.embed_dim = in.embed_dim;
  c.depth = in.depth;
  c.num_heads = in.num_heads;
  c.mlp_dim = in.mlp_dim;
  c.pre_norm = in.pre_norm != 0;
  c.gelu = in.gelu != 0;
  c.dropout = in.dropout;
  c.attn_dropout = in.attn_dropout;
  c.ln_eps = in.ln_eps;
  c.qkv_bias = in.qkv_bias != 0;
  c.final_norm = true;
  c.trunc_normal_init = in.trunc_normal_init != 0;
  // Keep the preset's name when the configuration still equals that preset.
  for (const auto& name : models::student_preset_names()) {
    models::StudentConfig p = models::student_preset(name, c.num_classes >= 1 ? c.num_classes : 1);
    p.preset = "custom";
    if (p.img_size == c.img_size && p.patch_size == c.patch_size && p.in_channels == c.in_channels &&
        p.embed_dim == c.embed_dim && p.depth == c.depth && p.num_heads == c.num_heads &&
        p.mlp_dim == c.mlp_dim && p.pre_norm == c.pre_norm && p.gelu == c.gelu && p.dropout == c.dropout &&
        p.attn_dropout == c.attn_dropout && p.ln_eps == c.ln_eps && p.qkv_bias == c.qkv_bias &&
        p.trunc_normal_init == c.trunc_normal_init) {
      c.preset = name;
      break;
    }
  }
  return c;
}

}  // namespace
}  // namespace deit::capi

extern "C" {

DEIT_API deit_status deit_student_config_init(deit_student_config* config, const char* preset,
                                              int32_t num_classes) {
  return guard(__func__, [&] {
    require_arg(config, "config");
    require_arg(preset, "preset");
    const models::StudentConfig c = models::student_preset(preset, num_classes);
    std::memset(config, 0, sizeof *config);
    config->struct_size = sizeof *config;
    capi::to_c(c, config);
  });
}

DEIT_API deit_status deit_student_create(const deit_student_config* config, uint64_t seed,
                                         deit_student** out) {
  return guard(__func__, [&] {
    reset_out(out);
    require_arg(config, "config");
    capi::check_struct_size(config->struct_size, sizeof(deit_student_config), "config");
    const models::StudentConfig c = capi::from_c(*config);
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
    h->net->eval();
    h->net->to(runtime::resolve_device("auto"));
    *out = h.release();
  });
}

DEIT_API deit_status deit_student_save(const deit_student* student, const char* path) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    require_arg(path, "path");
    models::save_student_checkpoint(student->config, *student->net, path);
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
    require_arg(config, "config");
    capi::check_struct_size(config->struct_size, sizeof(deit_student_config), "config");
    capi::to_c(student->config, config);
  });
}

DEIT_API deit_status deit_student_num_params(const deit_student* student, int64_t* out) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    require_arg(out, "out");
    *out = student->net->num_parameters();
  });
}

DEIT_API deit_status deit_distill_options_init(deit_distill_options* o) {
  return guard(__func__, [&] {
    require_arg(o, "options");
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->epochs = 5;
    o->batch_size = 64;
    o->lr = 1e-3;
    o->optimizer = DEIT_OPTIM_ADAM;
    o->momentum = 0.9;
    o->schedule = DEIT_SCHEDULE_CONSTANT;
    o->alpha = 0.5;
    o->temperature = 2.0;
    o->distillation = DEIT_DISTILL_SOFT;
    o->cache_teacher_logits = 1;
  });
}

DEIT_API deit_status deit_distill(deit_student* student, deit_teacher* teacher, const deit_dataset* train_set,
                                  const deit_distill_options* o) {
  return guard(__func__, [&] {
    require_arg(student, "student");
    require_arg(train_set, "train");
    require_arg(o, "options");
    // Callers built before the crash-safety fields pass a smaller struct: those fields stay off.
    constexpr size_t kBeforeState = offsetof(deit_distill_options, state_path);
    capi::check_struct_size(o->struct_size, kBeforeState, "options");
    train::DistillSettings s;
    if (o->struct_size >= offsetof(deit_distill_options, group))
      s.state = train::state_settings(o->state_path, o->state_every_steps, o->resume);
    if (o->struct_size >= offsetof(deit_distill_options, teacher_logits_path))
      capi::use_group(o->group, &s.group, &s.state);
    if (o->struct_size >= sizeof(deit_distill_options) && o->teacher_logits_path != nullptr)
      s.teacher_logits_path = o->teacher_logits_path;
    s.epochs = o->epochs;
    s.batch_size = o->batch_size;
    s.warmup_epochs = o->warmup_epochs;
    s.optim.optimizer = o->optimizer;
    s.optim.lr = o->lr;
    s.optim.weight_decay = o->weight_decay;
    s.optim.momentum = o->momentum;
    s.optim.schedule = o->schedule;
    s.loss.type = o->distillation;
    s.loss.alpha = o->alpha;
    s.loss.temperature = o->temperature;
    s.loss.label_smoothing = o->label_smoothing;
    s.seed = o->seed;
    s.cache_teacher_logits = o->cache_teacher_logits != 0;
    s.progress = {o->progress, o->user_data};
    if (o->device) student->net->to(runtime::resolve_device(o->device));
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
    const int t = capi::raw_enum(type);
    require(t == DEIT_DISTILL_SOFT || t == DEIT_DISTILL_HARD || t == DEIT_DISTILL_NONE,
            "distillation " + std::to_string(t) + " is not DEIT_DISTILL_SOFT, _HARD or _NONE");
    train::LossSettings s{type, alpha, temperature, label_smoothing};
    train::validate(s);
    require(teacher_logits != nullptr || type == DEIT_DISTILL_NONE,
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
  const int h = capi::raw_enum(head);
  require(h == DEIT_HEAD_AVG || h == DEIT_HEAD_CLS || h == DEIT_HEAD_DIST,
          "head " + std::to_string(h) + " is not DEIT_HEAD_AVG, _CLS or _DIST");
  const models::StudentConfig& c = student->config;
  student->net->eval();
  const at::Tensor x =
      train::caller_images(*images, c.in_channels, c.img_size, c.img_size, capi::device_of(*student));
  return train::student_logits(student->net, x, head);
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

}  // extern "C"
