#include "train/training_state.h"

#include <ATen/core/grad_mode.h>
#include <sys/stat.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <sstream>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "models/input_norm.h"
#include "models/weights.h"

namespace deit::train {
namespace {

constexpr const char* kKind = "training_state";
constexpr const char* kOptimizerTensor = "optimizer.archive";
constexpr const char* kRunPrefix = "run.";

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

int64_t parse_int(const std::map<std::string, std::string>& meta, const std::string& key,
                  const std::string& path) {
  const auto it = meta.find(key);
  require(it != meta.end(), path + ": not a libdeit training state (no '" + key + "' in its metadata)");
  try {
    size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  fail(DEIT_E_FORMAT, path + ": metadata '" + key + "' is not an integer: '" + it->second + "'");
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// "alpha was 0.5, now 0.25": the first setting that differs.  A run description's entries are either one
// value or a list of "name value" pairs (run_description in distill.cpp, the teacher's in teacher_train.cpp).
std::string difference(const std::string& key, const std::string& saved, const std::string& now) {
  const std::vector<std::string> a = words(saved), b = words(now);
  if (a.size() == b.size() && a.size() % 2 == 0 && a.size() >= 2) {
    for (size_t i = 0; i < a.size(); i += 2)
      if (a[i] == b[i] && a[i + 1] != b[i + 1]) return a[i] + " was " + a[i + 1] + ", now " + b[i + 1];
  }
  return key + " was " + saved + ", now " + now;
}

}  // namespace

void save_training_state(const std::string& path, torch::nn::Module& model,
                         torch::optim::Optimizer& optimizer, const TrainingPosition& position,
                         const std::map<std::string, std::string>& run, const NamedTensors& extra) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : model.named_parameters()) tensors.emplace_back(p.key(), p.value().detach());
  for (const auto& b : model.named_buffers()) tensors.emplace_back(b.key(), b.value());
  for (const auto& [name, t] : extra) tensors.emplace_back(name, t.detach());
  // The optimizer's own serialisation (moments and step counts, in parameter order), kept as bytes: it
  // is LibTorch's format for every optimizer and version.
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  const std::string blob = bytes.str();
  tensors.emplace_back(kOptimizerTensor, at::from_blob(const_cast<char*>(blob.data()),
                                                       {static_cast<int64_t>(blob.size())}, at::kByte));

  std::map<std::string, std::string> meta = {{"libdeit.kind", kKind},
                                             {"epoch", std::to_string(position.epoch)},
                                             {"step", std::to_string(position.step)},
                                             {"global_step", std::to_string(position.global_step)}};
  for (const auto& [k, v] : run) meta[kRunPrefix + k] = v;
  models::save_state_dict(path, tensors, meta);
}

bool load_training_state(const std::string& path, torch::nn::Module& model,
                         torch::optim::Optimizer& optimizer, const std::map<std::string, std::string>& run,
                         TrainingPosition* position, const NamedTensors& extra) {
  if (!file_exists(path)) return false;
  const models::LoadedTensors state = models::load_state_dict(path);
  const auto kind = state.metadata.find("libdeit.kind");
  if (kind == state.metadata.end() || kind->second != kKind)
    fail(DEIT_E_FORMAT, path + ": not a libdeit training state (libdeit.kind is '" +
                            (kind == state.metadata.end() ? std::string() : kind->second) + "')");
  for (const auto& [k, v] : run) {
    const auto it = state.metadata.find(kRunPrefix + k);
    const std::string saved = it == state.metadata.end() ? "(absent)" : it->second;
    if (saved != v)
      invalid_arg(path + ": the training state was written for another run: " + difference(k, saved, v) +
                  " (delete the file or change the settings back)");
  }
  TrainingPosition pos;
  pos.epoch = static_cast<int32_t>(parse_int(state.metadata, "epoch", path));
  pos.step = parse_int(state.metadata, "step", path);
  pos.global_step = parse_int(state.metadata, "global_step", path);
  require(pos.epoch >= 1 && pos.step >= 0 && pos.global_step >= 0,
          path + ": the position in the training state is out of range");

  std::vector<std::string> beside_model = {kOptimizerTensor};
  std::vector<const at::Tensor*> saved_extra;  // checked here, copied once nothing else can fail
  for (const auto& [name, t] : extra) {
    const at::Tensor* saved = state.find(name);
    if (saved == nullptr || !saved->sizes().equals(t.sizes()))
      fail(DEIT_E_FORMAT, path + ": the training state has no tensor '" + name + "' of the model's shape");
    beside_model.push_back(name);
    saved_extra.push_back(saved);
  }
  const at::Tensor* blob = state.find(kOptimizerTensor);
  if (blob == nullptr || blob->scalar_type() != at::kByte || blob->dim() != 1)
    fail(DEIT_E_FORMAT, path + ": the training state has no optimizer archive");
  // Optimizer first: if its archive is unreadable, the model is still untouched.
  std::istringstream bytes(std::string(static_cast<const char*>(blob->data_ptr()), blob->numel()));
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes);
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    fail(DEIT_E_FORMAT, path + ": the optimizer state does not load: " + e.what_without_backtrace());
  }
  models::copy_into_module(model, state, path, {}, false, beside_model);
  at::NoGradGuard no_grad;
  for (size_t k = 0; k < extra.size(); ++k) extra[k].second.detach().copy_(*saved_extra[k]);
  *position = pos;
  return true;
}

StateSettings state_settings(const char* path, int32_t every_steps, int32_t resume) {
  require(every_steps >= 0, "state_every_steps = " + std::to_string(every_steps) + "; expected 0 or more");
  require(path != nullptr || !resume, "resume needs state_path");
  StateSettings s;
  s.path = path ? path : "";
  s.every_steps = every_steps;
  s.resume = resume != 0;
  return s;
}

std::ostringstream RunIdentity::precise() {
  std::ostringstream os;
  os.precision(17);  // doubles exactly: a resume with lr 1e-3 + 1 ulp is another run
  return os;
}

RunIdentity& RunIdentity::add_optim(const OptimSettings& o) {
  return add("optimizer", o.optimizer)
      .add("lr", o.lr)
      .add("wd", o.weight_decay)
      .add("momentum", o.momentum)
      .add("schedule", o.schedule)
      .add("warmup_steps", o.warmup_steps);
}

std::map<std::string, std::string> RunIdentity::finish(uint64_t seed, const data::Dataset& ds,
                                                       std::map<std::string, std::string> more) {
  more["training"] = text_.str();
  more["seed"] = std::to_string(seed);
  more["images"] = std::to_string(ds.count);
  more["data_checksum"] = std::to_string(data_checksum(ds));
  // Models trained on image files normalise their input as the data says: a resume must not switch it.
  // (IDX, CIFAR and memory data sets keep the description they had.)
  if (ds.preprocess.image_size > 0)
    more["normalize"] = models::normalization(ds.preprocess.normalize).name;
  return more;
}

uint64_t derive_seed(uint64_t seed, uint64_t stream, uint64_t index) {
  return splitmix64(seed + kGoldenGamma * (stream * 0x100000001ULL + index + 1));
}

uint64_t data_checksum(const data::Dataset& ds) {
  uint64_t h = fnv1a(kFnvOffset, ds.labels.data(), ds.labels.size() * sizeof(int64_t));
  h = fnv1a(h, ds.u8.data(), ds.u8.size());
  return fnv1a(h, ds.f32.data(), ds.f32.size() * sizeof(float));
}

TrainingPosition StateKeeper::start() {
  TrainingPosition pos;
  if (settings_.resume && load_training_state(settings_.path, model_, optimizer_, run_, &pos, extra_))
    log(DEIT_LOG_INFO, "resuming from " + settings_.path + " at epoch " + std::to_string(pos.epoch) +
                           ", step " + std::to_string(pos.step + 1));
  return pos;
}

void StateKeeper::after_step(int32_t epoch, int64_t step, int64_t steps, int64_t global_step) {
  if (settings_.path.empty() || !writer_) return;
  const bool epoch_end = step + 1 == steps;
  if (!epoch_end && !(settings_.every_steps > 0 && (global_step + 1) % settings_.every_steps == 0)) return;
  const TrainingPosition next{epoch_end ? epoch + 1 : epoch, epoch_end ? 0 : step + 1, global_step + 1};
  save_training_state(settings_.path, model_, optimizer_, next, run_, extra_);
}

}  // namespace deit::train
