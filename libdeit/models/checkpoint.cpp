#include "models/checkpoint.h"

#include <algorithm>
#include <climits>
#include <map>

#include "core/error.h"
#include "core/json.h"
#include "models/resnet.h"
#include "models/safetensors.h"
#include "models/weights.h"

namespace deit::models {
namespace {

// Metadata keys (safetensors metadata is string -> string).
constexpr const char* kKind = "libdeit.kind";
constexpr const char* kFormat = "libdeit.format_version";
constexpr const char* kConfig = "libdeit.config";
constexpr const char* kLibVersion = "libdeit.version";
constexpr const char* kData = "libdeit.data";  // the DataCard; absent when empty (and in older files)

std::vector<std::pair<std::string, at::Tensor>> state_of(const torch::nn::Module& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : m.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

std::map<std::string, std::string> metadata(const std::string& kind, const Json& config, const DataCard& card) {
  std::map<std::string, std::string> m = {{kKind, kind},
                                          {kFormat, std::to_string(kCheckpointFormatVersion)},
                                          {kConfig, dump_json(config)},
                                          {kLibVersion, deit_version_string()}};
  if (!card.empty()) m[kData] = dump_json(card_json(card));
  return m;
}

DataCard card_in(const LoadedTensors& src, int64_t num_classes, const std::string& path) {
  const auto it = src.metadata.find(kData);
  if (it == src.metadata.end()) return {};
  Json j;
  try {
    j = parse_json(it->second);
  } catch (const Error& e) {
    fail(DEIT_E_FORMAT, path + ": data card: " + e.what());
  }
  return card_from_json(j, num_classes, path);
}

// The file's libdeit kind ("teacher", "student", a training state's ...); DEIT_E_FORMAT naming the file when
// it has none, with `hint` appended (what to use for plain weights).
const std::string& kind_in(const std::map<std::string, std::string>& metadata, const std::string& path,
                           const std::string& hint = "") {
  const auto it = metadata.find(kKind);
  if (it == metadata.end())
    fail(DEIT_E_FORMAT,
         path + ": not a libdeit checkpoint (no '" + std::string(kKind) + "' in __metadata__)" + hint);
  return it->second;
}

// Checks that a loaded file is a libdeit checkpoint of `kind` and returns its config.
Json expect_checkpoint(const LoadedTensors& src, const std::string& path, const std::string& kind) {
  auto get = [&](const char* key) -> const std::string* {
    auto it = src.metadata.find(key);
    return it == src.metadata.end() ? nullptr : &it->second;
  };
  const std::string& k =
      kind_in(src.metadata, path,
              kind == "student" ? "; plain timm weights load with deit_student_config_from_weights and "
                                  "deit_student_load_weights"
                                : "; plain torchvision/timm weights load with deit_teacher_create and "
                                  "deit_teacher_load_weights");
  if (k != kind)
    fail(DEIT_E_FORMAT, path + ": a libdeit " + printable(k) + " checkpoint, not a " + kind + " checkpoint");
  const std::string* v = get(kFormat);
  if (!v || *v != std::to_string(kCheckpointFormatVersion))
    fail(DEIT_E_FORMAT, path + ": checkpoint format version " + (v ? printable(*v) : std::string("(missing)")) +
                            "; this libdeit reads version " + std::to_string(kCheckpointFormatVersion));
  const std::string* c = get(kConfig);
  if (!c) fail(DEIT_E_FORMAT, path + ": no '" + std::string(kConfig) + "' in __metadata__");
  try {
    Json config = parse_json(*c);
    if (!config.is_object()) fail(DEIT_E_FORMAT, "the configuration is not a JSON object");
    return config;
  } catch (const Error& e) {
    fail(DEIT_E_FORMAT, path + ": configuration: " + e.what());
  }
}

// One JSON key per StudentConfig field (models/student.h), typed as the field.
void read_field(const Json& j, const char* key, int64_t* out) { *out = json_int(j, key); }
void read_field(const Json& j, const char* key, double* out) { *out = json_double(j, key); }
void read_field(const Json& j, const char* key, bool* out) { *out = json_bool(j, key); }

Json student_config_json(const StudentConfig& c) {
  Json j = Json::object();
  j["preset"] = c.preset;
#define DEIT_WRITE(field) j[#field] = c.field;
  DEIT_STUDENT_ARCH_FIELDS(DEIT_WRITE)
#undef DEIT_WRITE
  return j;
}

StudentConfig student_config_from_json(const Json& j, const std::string& path) {
  try {
    StudentConfig c;
    c.preset = json_string(j, "preset");
#define DEIT_READ(field) read_field(j, #field, &c.field);
    DEIT_STUDENT_ARCH_FIELDS(DEIT_READ)
#undef DEIT_READ
    validate(c);
    return c;
  } catch (const Error& e) {
    fail(DEIT_E_FORMAT, path + ": student configuration: " + e.what());
  }
}

// Elements of every tensor in the file: what a model built from its
// configuration may allocate, since loading needs all of it from the file.
int64_t elements_in_file(const LoadedTensors& src) {
  int64_t total = 0;
  for (const auto& entry : src.tensors) total += entry.second.numel();  // bounded by the file size
  return total;
}

// a * b + c with saturation at INT64_MAX (all inputs >= 0).
int64_t mul_add_sat(int64_t a, int64_t b, int64_t c) {
  int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out) || __builtin_add_overflow(out, c, &out)) return INT64_MAX;
  return out;
}

// The configuration must not make us allocate more than the file could fill:
// a hostile or corrupted config (embed_dim 2^24, depth 2^24, 2^30 classes)
// would otherwise allocate terabytes, or take hours initialising weights,
// before the first tensor mismatch is noticed.
void require_model_fits_file(int64_t needed, const LoadedTensors& src, const std::string& path,
                             const std::string& what) {
  const int64_t have = elements_in_file(src);
  if (needed > have) {
    fail(DEIT_E_FORMAT, path + ": " + what + " needs at least " +
                            (needed == INT64_MAX ? std::string("2^63") : std::to_string(needed)) +
                            " weights but the file holds " + std::to_string(have) +
                            " (a corrupted or foreign configuration?)");
  }
}

// A lower bound on the student's parameter count (the weight matrices of
// every block, the patch projection, the position table and both heads).
int64_t student_min_params(const StudentConfig& c) {
  const int64_t d = c.embed_dim;
  int64_t per_block = mul_add_sat(4 * d, d, 0);          // qkv (3 d x d) + proj (d x d)
  per_block = mul_add_sat(2 * c.mlp_dim, d, per_block);  // fc1 + fc2
  int64_t n = mul_add_sat(c.depth, per_block, 0);
  n = mul_add_sat(mul_add_sat(c.in_channels, c.patch_size * c.patch_size, 0), d, n);  // patch_embed
  n = mul_add_sat(num_patches(c) + 2, d, n);                                          // pos_embed
  return mul_add_sat(2 * c.num_classes, d, n);                                        // head + head_dist
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
  config["arch"] = teacher.arch;
  config["num_classes"] = teacher.num_classes;
  save_state_dict(path, state_of(*m), metadata("teacher", config, teacher.card));
}

std::unique_ptr<Teacher> load_teacher_checkpoint(const std::string& path) {
  const LoadedTensors src = load_state_dict(path);
  const Json config = expect_checkpoint(src, path, "teacher");
  std::string arch;
  int64_t num_classes = 0;
  try {
    arch = json_string(config, "arch");
    num_classes = json_int(config, "num_classes");
  } catch (const Error& e) {
    fail(DEIT_E_FORMAT, path + ": teacher configuration: " + e.what());
  }
  const auto& names = resnet_arch_names();
  if (std::find(names.begin(), names.end(), arch) == names.end() || num_classes < 1)
    fail(DEIT_E_FORMAT, path + ": teacher configuration names arch '" + printable(arch) + "' with " +
                            std::to_string(num_classes) + " classes, which libdeit cannot build");
  // fc alone is num_classes x (512 or more) weights.
  require_model_fits_file(
      mul_add_sat(num_classes, 512, 0), src, path,
      "teacher configuration (" + arch + ", " + std::to_string(num_classes) + " classes)");
  auto teacher = make_resnet_teacher(arch, num_classes);
  copy_into_module(*teacher->net->module(), src, path, {}, /*allow_float_conversion=*/false);
  teacher->pretrained = true;
  teacher->card = card_in(src, num_classes, path);
  return teacher;
}

void save_student_checkpoint(const StudentConfig& config, const DistilledViTImpl& net, const DataCard& card,
                             const std::string& path) {
  save_state_dict(path, state_of(net), metadata("student", student_config_json(config), card));
}

StudentCheckpoint load_student_checkpoint(const std::string& path) {
  const LoadedTensors src = load_state_dict(path);
  StudentCheckpoint ck;
  ck.config = student_config_from_json(expect_checkpoint(src, path, "student"), path);
  require_model_fits_file(student_min_params(ck.config), src, path, "student configuration");
  ck.net = DistilledViT(ck.config);
  copy_into_module(*ck.net, src, path, {}, /*allow_float_conversion=*/false);
  ck.card = card_in(src, ck.config.num_classes, path);
  return ck;
}

bool student_checkpoint_config(const LoadedTensors& src, const std::string& path, StudentConfig* out) {
  if (src.metadata.find(kKind) == src.metadata.end()) return false;
  *out = student_config_from_json(expect_checkpoint(src, path, "student"), path);
  return true;
}

std::string describe_checkpoint(const std::string& path) {
  const LoadedTensors src = load_state_dict(path);
  const std::string& kind = kind_in(src.metadata, path);
  const Json config = expect_checkpoint(src, path, kind);
  Json out = Json::object();
  out["path"] = path;
  out["kind"] = kind;
  out["format_version"] = static_cast<int64_t>(kCheckpointFormatVersion);
  const auto ver = src.metadata.find(kLibVersion);
  out["libdeit_version"] = ver == src.metadata.end() ? std::string() : ver->second;
  out["config"] = config;
  const int64_t classes = json_int_or(config, "num_classes", 0);
  const DataCard card = card_in(src, classes, path);
  if (!card.empty()) out["data"] = card_json(card);
  int64_t params = 0;
  Json tensors = Json::array();
  for (const auto& [name, t] : src.tensors) {
    Json e = Json::object();
    e["name"] = name;
    e["dtype"] = dtype_label(t.scalar_type());
    Json shape = Json::array();
    for (int64_t d : t.sizes()) shape.push_back(d);
    e["shape"] = shape;
    tensors.push_back(std::move(e));
    if (!is_batchnorm_statistic(name)) params += t.numel();
  }
  out["params"] = params;
  out["tensors"] = tensors;
  return dump_json(out);
}

std::string checkpoint_kind(const std::string& path) {
  const SafetensorsFile header = read_safetensors(path, /*with_data=*/false);
  const std::string& kind = kind_in(header.metadata, path);
  if (kind != "teacher" && kind != "student")
    fail(DEIT_E_FORMAT,
         path + ": a libdeit " + printable(kind) + " file, not a teacher or student checkpoint");
  return kind;
}

}  // namespace deit::models
