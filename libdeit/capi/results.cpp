// Writing results into caller buffers, shared by the model shims.
#include "capi/results.h"

#include <cstring>

#include "capi/caller_struct.h"
#include "capi/guard.h"

namespace deit::capi {

// Copies a string result into a caller buffer.
void copy_string(const std::string& s, char* buf, size_t capacity) {
  if (capacity < s.size() + 1)
    fail(DEIT_E_BUFFER_TOO_SMALL, "capacity " + std::to_string(capacity) + " cannot hold " +
                                      std::to_string(s.size() + 1) + " bytes");
  std::memcpy(buf, s.c_str(), s.size() + 1);
}

void write_eval_result(const train::EvalResult& r, deit_eval_result* out, int64_t* confusion,
                       size_t confusion_capacity) {
  if (confusion) {
    if (confusion_capacity < r.confusion.size())
      fail(DEIT_E_BUFFER_TOO_SMALL, "confusion_capacity " + std::to_string(confusion_capacity) +
                                        " is smaller than num_classes^2 = " + std::to_string(r.confusion.size()));
    std::memcpy(confusion, r.confusion.data(), r.confusion.size() * sizeof(int64_t));
  }
  deit_eval_result full{};
  full.count = r.count;
  full.accuracy = r.accuracy;
  full.loss = r.loss;
  full.accuracy_cls = r.accuracy_cls;
  full.accuracy_dist = r.accuracy_dist;
  write_caller_struct(out, full, "result");
}

void check_eval_result(const deit_eval_result* result) {
  require_arg(result, "result");
  checked_struct_size<deit_eval_result>(result->struct_size, "result");
}

const char* name_at(const std::vector<std::string>& (*list)(), size_t index) noexcept {
  try {
    const std::vector<std::string>& names = list();  // a function-local static, built once
    return index < names.size() ? names[index].c_str() : nullptr;
  } catch (...) {  // out of memory building it
    return nullptr;
  }
}

// Copies [count x classes] logits to the caller.
void write_logits(const at::Tensor& logits, float* out, size_t capacity) {
  const at::Tensor host = logits.to(at::kFloat).cpu().contiguous();
  const size_t n = static_cast<size_t>(host.numel());
  if (capacity < n)
    fail(DEIT_E_BUFFER_TOO_SMALL, "capacity " + std::to_string(capacity) + " floats cannot hold count x num_classes = " +
                                      std::to_string(n));
  std::memcpy(out, host.data_ptr<float>(), n * sizeof(float));
}

}  // namespace deit::capi
