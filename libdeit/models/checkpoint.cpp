#include "models/checkpoint.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/json.h"
#include "models/resnet.h"
#include "models/weights.h"

namespace deit::models {
namespace {

// Metadata keys (safetensors metadata is string -> string).
constexpr const char* kKind = "libdeit.kind";
constexpr const char* kFormat = "libdeit.format_version";
constexpr const char* kConfig = "libdeit.config";
constexpr const char* kLibVersion = "libdeit.version";

std::vector<std::pair<std::string, at::Tensor>> state_of(const torch::nn::Module& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

std::map<std::string, std::string> metadata(const std::string& kind, const Json& config) {
  return {{kKind, kind},
          {kFormat, std::to_string(kCheckpointFormatVersion)},
          {kConfig, config.dump()},
          {kLibVersion, deit_version_string()}};
}

// Checks that a loaded file is a libdeit checkpoint of `kind` and returns its config.
Json expect_checkpoint(const LoadedTensors& src, const std::string& path, const std::string& kind) {
  auto get = [&](const char* key) -> const std::string* {
    auto it = src.metadata.find(key);
    return it == src.metadata.end() ? nullptr : &it->second;
  };
  const std::string* k = get(kKind);
  if (!k) fail(DEIT_E_FORMAT, path + ": not a libdeit checkpoint (no '" + std::string(kKind) + "' in __metadata__)");
  if (*k != kind)
    fail(DEIT_E_FORMAT, path + ": a libdeit " + printable(*k) + " checkpoint, not a " + kind + " checkpoint");
  const std::string* v = get(kFormat);
  if (!v || *v != std::to_string(kCheckpointFormatVersion))
    fail(DEIT_E_FORMAT, path + ": checkpoint format version " + (v ? printable(*v) : std::string("(missing)")) +
                            "; this libdeit reads version " + std::to_string(kCheckpointFormatVersion));
  const std::string* c = get(kConfig);
  if (!c) fail(DEIT_E_FORMAT, path + ": no '" + std::string(kConfig) + "' in __metadata__");
  try {
    Json config = Json::parse(*c);
    if (!config.is_object()) fail(DEIT_E_FORMAT, "the configuration is not a JSON object");
    return config;
  } catch (const Error& e) {
    fail(DEIT_E_FORMAT, path + ": configuration: " + e.what());
  }
}

Json student_config_json(const StudentConfig& c) {
  Json j = Json::object();
  j.set("preset", c.preset);
  j.set("img_size", c.img_size);
  j.set("patch_size", c.patch_size);
  j.set("in_channels", c.in_channels);
  j.set("num_classes", c.num_classes);
  j.set("embed_dim", c.embed_dim);
  j.set("depth", c.depth);
  j.set("num_heads", c.num_heads);
  j.set("mlp_dim", c.mlp_dim);
  j.set("pre_norm", c.pre_norm);
  j.set("gelu", c.gelu);
  j.set("dropout", c.dropout);
  j.set("attn_dropout", c.attn_dropout);
  j.set("ln_eps", c.ln_eps);
  j.set("qkv_bias", c.qkv_bias);
  j.set("final_norm", c.final_norm);
  j.set("trunc_normal_init", c.trunc_normal_init);
  return j;
}

StudentConfig student_config_from_json(const Json& j, const std::string& path) {
  try {
    StudentConfig c;
    c.preset = j.get_string("preset");
    c.img_size = j.get_int("img_size");
    c.patch_size = j.get_int("patch_size");
    c.in_channels = j.get_int("in_channels");
    c.num_classes = j.get_int("num_classes");
    c.embed_dim = j.get_int("embed_dim");
    c.depth = j.get_int("depth");
    c.num_heads = j.get_int("num_heads");
    c.mlp_dim = j.get_int("mlp_dim");
    c.pre_norm = j.get_bool("pre_norm");
    c.gelu = j.get_bool("gelu");
    c.dropout = j.get_double("dropout");
    c.attn_dropout = j.get_double("attn_dropout");
    c.ln_eps = j.get_double("ln_eps");
    c.qkv_bias = j.get_bool("qkv_bias");
    c.final_norm = j.get_bool("final_norm");
    c.trunc_normal_init = j.get_bool("trunc_normal_init");
    validate(c);
    return c;
  } catch (const Error& e) {
    fail(DEIT_E_FORMAT, path + ": student configuration: " + e.what());
  }
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Buffers, not parameters: left out of the parameter count.
bool is_batchnorm_statistic(const std::string& name) {
  return ends_with(name, "running_mean") || ends_with(name, "running_var") || ends_with(name, "num_batches_tracked");
}

}  // namespace

void save_teacher_checkpoint(const Teacher& teacher, const std::string& path) {
  const torch::nn::Module* m = teacher.net->module();
  if (!m) fail(DEIT_E_UNSUPPORTED, "a TorchScript teacher is not saved by libdeit; keep its original file");
  Json config = Json::object();
  config.set("arch", teacher.arch);
  config.set("num_classes", teacher.num_classes);
  save_state_dict(path, state_of(*m), metadata("teacher", config));
}

std::unique_ptr<Teacher> load_teacher_checkpoint(const std::string& path) {
  const LoadedTensors src = load_state_dict(path);
  const Json config = expect_checkpoint(src, path, "teacher");
  std::string arch;
  int64_t num_classes = 0;
  try {
    arch = config.get_string("arch");
    num_classes = config.get_int("num_classes");
  } catch (const Error& e) {
    fail(DEIT_E_FORMAT, path + ": teacher configuration: " + e.what());
  }
  const auto& names = resnet_arch_names();
  if (std::find(names.begin(), names.end(), arch) == names.end() || num_classes < 1)
    fail(DEIT_E_FORMAT, path + ": teacher configuration names arch '" + printable(arch) + "' with " +
                            std::to_string(num_classes) + " classes, which libdeit cannot build");
  auto teacher = make_resnet_teacher(arch, num_classes);
  copy_into_module(*teacher->net->module(), src, path, {}, /*allow_float_conversion=*/false);
  teacher->pretrained = true;
  return teacher;
}

void save_student_checkpoint(const StudentConfig& config, const DistilledViTImpl& net, const std::string& path) {
  save_state_dict(path, state_of(net), metadata("student", student_config_json(config)));
}

StudentCheckpoint load_student_checkpoint(const std::string& path) {
  const LoadedTensors src = load_state_dict(path);
  StudentCheckpoint ck;
  ck.config = student_config_from_json(expect_checkpoint(src, path, "student"), path);
  ck.net = DistilledViT(ck.config);
  copy_into_module(*ck.net, src, path, {}, /*allow_float_conversion=*/false);
  return ck;
}

std::string describe_checkpoint(const std::string& path) {
  const LoadedTensors src = load_state_dict(path);
  const auto kind = src.metadata.find(kKind);
  if (kind == src.metadata.end())
    fail(DEIT_E_FORMAT, path + ": not a libdeit checkpoint (no '" + std::string(kKind) + "' in __metadata__)");
  const Json config = expect_checkpoint(src, path, kind->second);
  Json out = Json::object();
  out.set("path", path);
  out.set("kind", kind->second);
  out.set("format_version", static_cast<int64_t>(kCheckpointFormatVersion));
  const auto ver = src.metadata.find(kLibVersion);
  out.set("libdeit_version", ver == src.metadata.end() ? std::string() : ver->second);
  out.set("config", config);
  int64_t params = 0;
  Json tensors = Json::array();
  for (const auto& [name, t] : src.tensors) {
    Json e = Json::object();
    e.set("name", name);
    e.set("dtype", dtype_label(t.scalar_type()));
    Json shape = Json::array();
    for (int64_t d : t.sizes()) shape.push_back(d);
    e.set("shape", shape);
    tensors.push_back(std::move(e));
    if (!is_batchnorm_statistic(name)) params += t.numel();
  }
  out.set("params", params);
  out.set("tensors", tensors);
  return out.dump();
}

}  // namespace deit::models
