// The frozen teacher's logits for a training set, kept in a file between runs (deit_distill_options.
// teacher_logits_path).  The file records fingerprints of what the logits depend on: every training image and
// label, and the teacher's architecture, weights and buffers.  It is used only when both match, so a
// changed data set or a fine-tuned teacher never gets stale logits; otherwise they are computed again and
// the file rewritten.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "models/teacher.h"

namespace deit::train {

struct LogitCacheKey {
  uint64_t data = 0;     // data_checksum: labels and image bytes
  uint64_t teacher = 0;  // teacher_fingerprint
  int64_t images = 0;
  int64_t classes = 0;
};

// FNV-1a over the teacher's architecture name, class count and every parameter and buffer (names in order,
// dtype, shape, bytes).
uint64_t teacher_fingerprint(models::Teacher& teacher);

LogitCacheKey logit_cache_key(models::Teacher& teacher, const data::Dataset& ds);

// The logits [images, classes] (float32, CPU) when `path` holds them for `key`.  Undefined when the file does
// not exist, was written for other data or another teacher (logged at INFO), or cannot be used (unreadable,
// malformed, not a logit cache: logged as a warning; it will be overwritten).
at::Tensor read_logit_cache(const std::string& path, const LogitCacheKey& key);

// Writes `logits` for `key` atomically (the old file or the complete new one, never a partial file).
// DEIT_E_IO when it cannot be written.
void write_logit_cache(const std::string& path, const LogitCacheKey& key, const at::Tensor& logits);

}  // namespace deit::train
