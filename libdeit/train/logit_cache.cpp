#include "train/logit_cache.h"

#include <cstring>
#include <map>
#include <vector>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "data/file_io.h"
#include "models/safetensors.h"
#include "train/training_state.h"

namespace deit::train {
namespace {

constexpr const char* kKind = "deit-teacher-logits";
constexpr const char* kTensor = "logits";

uint64_t hash_tensor(uint64_t h, const std::string& name, const at::Tensor& t) {
  h = fnv1a(h, name.data(), name.size());
  const int8_t dtype = static_cast<int8_t>(t.scalar_type());
  h = fnv1a(h, &dtype, 1);
  for (int64_t d : t.sizes()) h = fnv1a(h, &d, sizeof d);
  const at::Tensor c = t.detach().to(at::kCPU).contiguous();
  return fnv1a(h, c.data_ptr(), c.nbytes());
}

std::map<std::string, std::string> metadata_of(const LogitCacheKey& key) {
  return {{"kind", kKind},
          {"data_checksum", std::to_string(key.data)},
          {"teacher_fingerprint", std::to_string(key.teacher)},
          {"images", std::to_string(key.images)},
          {"classes", std::to_string(key.classes)}};
}

}  // namespace

uint64_t teacher_fingerprint(models::Teacher& teacher) {
  uint64_t h = fnv1a(kFnvOffset, teacher.arch.data(), teacher.arch.size());
  h = fnv1a(h, &teacher.num_classes, sizeof teacher.num_classes);
  int64_t i = 0;
  for (const at::Tensor& p : teacher.net->parameters()) h = hash_tensor(h, "p" + std::to_string(i++), p);
  i = 0;
  for (const at::Tensor& b : teacher.net->buffers()) h = hash_tensor(h, "b" + std::to_string(i++), b);
  return h;
}

LogitCacheKey logit_cache_key(models::Teacher& teacher, const data::Dataset& ds) {
  return {data_checksum(ds), teacher_fingerprint(teacher), ds.count, teacher.num_classes};
}

at::Tensor read_logit_cache(const std::string& path, const LogitCacheKey& key) {
  if (!data::is_regular_file(path)) return at::Tensor();
  models::SafetensorsFile f;
  try {
    f = models::read_safetensors(path);
  } catch (const Error& e) {
    log(DEIT_LOG_WARN, "teacher-logit cache " + path + " cannot be used (" + e.what() + "); recomputing");
    return at::Tensor();
  }
  const auto kind = f.metadata.find("kind");
  if (kind == f.metadata.end() || kind->second != kKind) {
    log(DEIT_LOG_WARN, "teacher-logit cache " + path + " is not a teacher-logit file; recomputing");
    return at::Tensor();
  }
  for (const auto& [name, value] : metadata_of(key)) {
    const auto found = f.metadata.find(name);
    if (found == f.metadata.end() || found->second != value) {
      log(DEIT_LOG_INFO, "teacher-logit cache " + path + " was written for " +
                             (name == "teacher_fingerprint" ? "another teacher" : "other training data") +
                             " (" + name + " differs); recomputing");
      return at::Tensor();
    }
  }
  const models::SafetensorInfo* t = f.find(kTensor);
  if (t == nullptr || t->dtype != models::Dtype::F32 ||
      t->shape != std::vector<int64_t>{key.images, key.classes}) {
    log(DEIT_LOG_WARN, "teacher-logit cache " + path + " has no float32 [" + std::to_string(key.images) +
                           ", " + std::to_string(key.classes) + "] tensor '" + kTensor + "'; recomputing");
    return at::Tensor();
  }
  at::Tensor logits = at::empty({key.images, key.classes}, at::kFloat);
  std::memcpy(logits.data_ptr<float>(), f.bytes(*t), t->nbytes());
  return logits;
}

void write_logit_cache(const std::string& path, const LogitCacheKey& key, const at::Tensor& logits) {
  const at::Tensor c = logits.detach().to(at::kCPU, at::kFloat).contiguous();
  require(c.dim() == 2 && c.size(0) == key.images && c.size(1) == key.classes,
          "teacher logits do not match the cache key's shape");
  models::SafetensorView view;
  view.name = kTensor;
  view.dtype = models::Dtype::F32;
  view.shape = {key.images, key.classes};
  view.data = c.data_ptr();
  view.nbytes = c.nbytes();
  models::write_safetensors_atomic(path, metadata_of(key), {view});
}

}  // namespace deit::train
