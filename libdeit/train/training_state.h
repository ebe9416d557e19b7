// Resumable training state: the model's weights, the optimizer's state and the position in the run, in
// one .safetensors file written atomically (a crash leaves the previous state or the new one, never a
// partial file).  With the per-epoch data order and per-step random streams derived from the seed
// (train/distill.cpp), resuming from it gives the same final weights as a run never interrupted.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "train/train.h"

namespace deit::train {

struct TrainingPosition {
  int32_t epoch = 1;        // 1-based epoch of the next step to run
  int64_t step = 0;         // 0-based step within that epoch
  int64_t global_step = 0;  // steps done so far
};

// Tensors a trainer keeps beside the model (the weight average), saved and restored under their names.
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// `run` describes the settings and data the state belongs to (key -> value); a resume with any difference
// is refused, naming the key.
void save_training_state(const std::string& path, torch::nn::Module& model,
                         torch::optim::Optimizer& optimizer, const TrainingPosition& position,
                         const std::map<std::string, std::string>& run, const NamedTensors& extra = {});

// Loads the state into `model` and `optimizer` and returns true; false (nothing changed) when `path` does
// not exist.  DEIT_E_INVALID_ARG when it was written for another run, DEIT_E_FORMAT when it is not a
// training state or does not fit the model.
// `extra` is filled in place (each must be in the file, with its shape).
bool load_training_state(const std::string& path, torch::nn::Module& model,
                         torch::optim::Optimizer& optimizer, const std::map<std::string, std::string>& run,
                         TrainingPosition* position, const NamedTensors& extra = {});

// A training's identity, as a state written for it records it: "training" lists the settings as
// "name value" pairs (so that a refused resume can name the first that differs), then the seed and a
// fingerprint of the data.  The optimizer's settings are added by add_optim.
class RunIdentity {
 public:
  template <class T>
  RunIdentity& add(const char* name, const T& value) {
    text_ << (text_.tellp() > 0 ? " " : "") << name << " " << value;
    return *this;
  }
  // "name value ..." pairs written elsewhere (e.g. augment::describe).
  RunIdentity& add_pairs(const std::string& pairs) {
    text_ << (text_.tellp() > 0 ? " " : "") << pairs;
    return *this;
  }
  RunIdentity& add_optim(const OptimSettings& o);
  std::map<std::string, std::string> finish(uint64_t seed, const data::Dataset& ds,
                                            std::map<std::string, std::string> more = {});

 private:
  std::ostringstream text_ = precise();
  static std::ostringstream precise();
};

// Independent 64-bit seeds for stream `stream` (the data order, a step's dropout, ...) at `index`: a
// resumed run derives exactly what the uninterrupted one did.
uint64_t derive_seed(uint64_t seed, uint64_t stream, uint64_t index);

// FNV-1a over a data set's labels and image bytes: a resumed run must see the same data.
uint64_t data_checksum(const data::Dataset& ds);

// A training loop's state file: loads it when resuming, writes it at each epoch's end and every N steps.
class StateKeeper {
 public:
  // Data parallelism: every rank reads the state to resume; only rank 0 of `group` writes it.
  StateKeeper(const StateSettings& settings, const dist::Group* group, torch::nn::Module& model,
              torch::optim::Optimizer& optimizer, std::map<std::string, std::string> run, NamedTensors extra = {})
      : settings_(settings),
        writer_(group == nullptr || group->root()),
        model_(model),
        optimizer_(optimizer),
        run_(std::move(run)),
        extra_(std::move(extra)) {}
  // Where to start: the saved position when resuming from an existing state, else the beginning.
  TrainingPosition start();
  // After the 0-based `step` of `epoch` (of `steps`) finished, as global step `global_step`.
  void after_step(int32_t epoch, int64_t step, int64_t steps, int64_t global_step);

 private:
  const StateSettings& settings_;
  bool writer_;
  torch::nn::Module& model_;
  torch::optim::Optimizer& optimizer_;
  std::map<std::string, std::string> run_;
  NamedTensors extra_;
};

}  // namespace deit::train
