// State dicts <-> safetensors files: the LibTorch side of weight I/O.
// Our own checkpoints load strictly (every name, shape and dtype must match);
// foreign torchvision/timm exports may opt into float conversion.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "models/safetensors.h"

namespace torch::nn {
class Module;
}

namespace deit::models {

// float32/16, bfloat16, float64, int64/32/16/8, uint8, bool.  Other scalar
// types throw DEIT_E_UNSUPPORTED naming `what`.
Dtype to_safetensors_dtype(c10::ScalarType type, const std::string& what);
c10::ScalarType to_scalar_type(Dtype dtype);
// The safetensors name ("F32") of a scalar type, or c10's name when it has none.
std::string dtype_label(c10::ScalarType type);
// "[1000, 2048]": a shape as the loading errors print it.
std::string shape_str(at::IntArrayRef shape);

// Writes `tensors` (any device; copied to CPU and made contiguous) in the
// order given, atomically.  Duplicate names throw DEIT_E_INVALID_ARG.
void save_state_dict(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata);

struct LoadedTensors {
  std::map<std::string, std::string> metadata;
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // CPU, own their memory, file order
  const at::Tensor* find(const std::string& name) const;    // nullptr when absent
};

LoadedTensors load_state_dict(const std::string& path);

// Copies `src` into every parameter and buffer of `module` (recursively),
// matched by exact name.  Everything is checked before anything is copied,
// so on error the module is unchanged; the error (DEIT_E_FORMAT) names the
// first problem, in module order, then the first unexpected tensor in file
// order:
//   "<path>: missing tensor 'layer1.0.conv1.weight'"
//   "<path>: tensor 'fc.weight' has shape [1000, 2048], the model expects [10, 2048]"
//   "<path>: tensor 'x' has dtype F16, expected F32"
//   "<path>: unexpected tensor 'x' (the model has no such parameter or buffer)"
// Names in `skip` are neither required nor copied nor reported as extra.
// allow_float_conversion (foreign weights): floating tensors of another
// float dtype are converted; a missing BatchNorm `num_batches_tracked`
// counter is tolerated (some exporters drop it; eval doesn't use it).
// Extra tensors whose names start with one of `ignore_extra_prefixes` are ignored.
// The module keeps its device and dtypes.
void copy_into_module(torch::nn::Module& module, const LoadedTensors& src, const std::string& path,
                      const std::set<std::string>& skip = {}, bool allow_float_conversion = false,
                      const std::vector<std::string>& ignore_extra_prefixes = {});

}  // namespace deit::models
