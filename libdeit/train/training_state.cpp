#include "train/training_state.h"

#include <sys/stat.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <sstream>
#include <utility>
#include <vector>

#include "core/error.h"
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

}  // namespace

void save_training_state(const std::string& path, torch::nn::Module& model,
                         torch::optim::Optimizer& optimizer, const TrainingPosition& position,
                         const std::map<std::string, std::string>& run) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& p : model.named_parameters()) tensors.emplace_back(p.key(), p.value().detach());
  for (const auto& b : model.named_buffers()) tensors.emplace_back(b.key(), b.value());
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
                         TrainingPosition* position) {
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
      invalid_arg(path + ": the training state was written for another run: " + k + " was " + saved +
                  ", now " + v + " (delete the file or change the settings back)");
  }
  TrainingPosition pos;
  pos.epoch = static_cast<int32_t>(parse_int(state.metadata, "epoch", path));
  pos.step = parse_int(state.metadata, "step", path);
  pos.global_step = parse_int(state.metadata, "global_step", path);
  require(pos.epoch >= 1 && pos.step >= 0 && pos.global_step >= 0,
          path + ": the position in the training state is out of range");

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
  models::copy_into_module(model, state, path, {}, false, {kOptimizerTensor});
  *position = pos;
  return true;
}

}  // namespace deit::train
