// Writing results into caller buffers (capacity checked), shared by the model shims.
#pragma once

#include <ATen/ATen.h>
#include <deit/deit.h>

#include <string>
#include <vector>

#include "train/train.h"

namespace deit::capi {

void copy_string(const std::string& s, char* buf, size_t capacity);
void check_eval_result(const deit_eval_result* result);
void write_eval_result(const train::EvalResult& r, deit_eval_result* out, int64_t* confusion,
                       size_t confusion_capacity);
// Entry `index` of a static name list (NULL past the end, or when the list cannot be built).
const char* name_at(const std::vector<std::string>& (*list)(), size_t index) noexcept;
// Copies [count x classes] logits to the caller (capacity in floats).
void write_logits(const at::Tensor& logits, float* out, size_t capacity);

}  // namespace deit::capi
