#include "models/weights.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/utils.h>

#include <cstring>
#include <unordered_map>

#include "core/error.h"
#include "core/json.h"

namespace deit::models {
namespace {

struct DtypePair {
  c10::ScalarType scalar;
  Dtype dtype;
};
constexpr DtypePair kPairs[] = {
    {c10::ScalarType::Float, Dtype::F32},     {c10::ScalarType::Half, Dtype::F16},
    {c10::ScalarType::BFloat16, Dtype::BF16}, {c10::ScalarType::Double, Dtype::F64},
    {c10::ScalarType::Long, Dtype::I64},      {c10::ScalarType::Int, Dtype::I32},
    {c10::ScalarType::Short, Dtype::I16},     {c10::ScalarType::Char, Dtype::I8},
    {c10::ScalarType::Byte, Dtype::U8},       {c10::ScalarType::Bool, Dtype::BOOL},
};

bool has_prefix(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool is_batch_counter(const std::string& name) {
  static const std::string kSuffix = "num_batches_tracked";
  return name.size() >= kSuffix.size() &&
         name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0 &&
         (name.size() == kSuffix.size() || name[name.size() - kSuffix.size() - 1] == '.');
}

}  // namespace

std::string shape_str(at::IntArrayRef shape) {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) {
    if (k) s += ", ";
    s += std::to_string(shape[k]);
  }
  return s + "]";
}


Dtype to_safetensors_dtype(c10::ScalarType type, const std::string& what) {
  for (const auto& p : kPairs) {
    if (p.scalar == type) return p.dtype;
  }
  fail(DEIT_E_UNSUPPORTED, what + ": dtype " + c10::toString(type) + " cannot be stored in safetensors");
}

c10::ScalarType to_scalar_type(Dtype dtype) {
  for (const auto& p : kPairs) {
    if (p.dtype == dtype) return p.scalar;
  }
  fail(DEIT_E_INTERNAL, std::string("no scalar type for safetensors dtype ") + dtype_name(dtype));
}

std::string dtype_label(c10::ScalarType type) {
  for (const auto& p : kPairs) {
    if (p.scalar == type) return dtype_name(p.dtype);
  }
  return c10::toString(type);
}

void save_state_dict(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> keep;  // the CPU copies stay alive until written
  std::vector<SafetensorView> views;
  keep.reserve(tensors.size());
  views.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const std::string what = path + ": tensor '" + printable(name) + "'";
    if (!tensor.defined()) invalid_arg(what + " is undefined");
    if (tensor.layout() != c10::kStrided || tensor.is_quantized()) {
      fail(DEIT_E_UNSUPPORTED, what + ": only dense tensors can be saved");
    }
    SafetensorView view;
    view.name = name;
    view.dtype = to_safetensors_dtype(tensor.scalar_type(), what);
    at::Tensor cpu = tensor.detach().cpu().contiguous();
    view.shape.assign(cpu.sizes().begin(), cpu.sizes().end());
    view.nbytes = static_cast<size_t>(cpu.numel()) * cpu.element_size();
    view.data = view.nbytes ? cpu.data_ptr() : nullptr;
    keep.push_back(std::move(cpu));
    views.push_back(std::move(view));
  }
  write_safetensors_atomic(path, metadata, views);
}

const at::Tensor* LoadedTensors::find(const std::string& name) const {
  for (const auto& entry : tensors) {
    if (entry.first == name) return &entry.second;
  }
  return nullptr;
}

LoadedTensors load_state_dict(const std::string& path) {
  const SafetensorsFile file = read_safetensors(path);
  LoadedTensors out;
  out.metadata = file.metadata;
  out.tensors.reserve(file.tensors.size());
  for (const SafetensorInfo& info : file.tensors) {
    const uint8_t* bytes = file.bytes(info);
    if (info.dtype == Dtype::BOOL) {
      // Any other byte in a bool tensor is undefined behaviour in kernels.
      for (uint64_t k = 0; k < info.nbytes(); ++k) {
        if (bytes[k] > 1) {
          fail(DEIT_E_FORMAT, path + ": tensor '" + printable(info.name) + "': BOOL element " +
                                  std::to_string(k) + " is " + std::to_string(bytes[k]) + ", not 0 or 1");
        }
      }
    }
    // A fresh tensor and a memcpy: owns its memory, and the file's offsets
    // need not be aligned for the tensor's dtype.
    at::Tensor t = at::empty(info.shape, at::TensorOptions().dtype(to_scalar_type(info.dtype)));
    if (info.nbytes()) std::memcpy(t.data_ptr(), bytes, static_cast<size_t>(info.nbytes()));
    out.tensors.emplace_back(info.name, std::move(t));
  }
  return out;
}

void copy_into_module(torch::nn::Module& module, const LoadedTensors& src, const std::string& path,
                      const std::set<std::string>& skip, bool allow_float_conversion,
                      const std::vector<std::string>& ignore_extra_prefixes) {
  std::unordered_map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, tensor] : src.tensors) by_name.emplace(name, &tensor);

  // Parameters, then buffers, as the module names them (undefined ones, e.g.
  // a Linear's absent bias, are not part of the state).
  std::vector<std::pair<std::string, at::Tensor>> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (item.value().defined()) targets.emplace_back(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    if (item.value().defined()) targets.emplace_back(item.key(), item.value());
  }

  // Check everything before the first copy, so a bad file changes nothing.
  std::vector<std::pair<at::Tensor, const at::Tensor*>> plan;
  std::set<std::string> used;
  for (const auto& [name, dst] : targets) {
    if (skip.count(name)) continue;
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      if (allow_float_conversion && is_batch_counter(name)) continue;
      fail(DEIT_E_FORMAT, path + ": missing tensor '" + name + "'");
    }
    const at::Tensor& s = *it->second;
    used.insert(name);
    if (s.sizes() != dst.sizes()) {
      fail(DEIT_E_FORMAT, path + ": tensor '" + name + "' has shape " + shape_str(s.sizes()) +
                              ", the model expects " + shape_str(dst.sizes()));
    }
    if (s.scalar_type() != dst.scalar_type()) {
      const bool convertible = allow_float_conversion && c10::isFloatingType(s.scalar_type()) &&
                               c10::isFloatingType(dst.scalar_type());
      if (!convertible) {
        fail(DEIT_E_FORMAT, path + ": tensor '" + name + "' has dtype " + dtype_label(s.scalar_type()) +
                                ", expected " + dtype_label(dst.scalar_type()));
      }
    }
    plan.emplace_back(dst, &s);
  }
  for (const auto& [name, tensor] : src.tensors) {
    if (used.count(name) || skip.count(name)) continue;
    bool ignored = false;
    for (const auto& prefix : ignore_extra_prefixes) ignored = ignored || has_prefix(name, prefix);
    if (!ignored) {
      fail(DEIT_E_FORMAT, path + ": unexpected tensor '" + printable(name) +
                              "' (the model has no such parameter or buffer)");
    }
  }

  // copy_ converts to the destination's dtype and device in place.
  torch::NoGradGuard no_grad;
  for (auto& [dst, s] : plan) dst.copy_(*s);
}

}  // namespace deit::models
