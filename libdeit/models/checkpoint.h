// libdeit checkpoints: safetensors files whose __metadata__ carries the model
// kind, the format version and the configuration as JSON.  Written
// atomically; loading checks every name, shape and dtype and names the first
// mismatch.
#pragma once

#include <memory>
#include <string>

#include "models/data_card.h"
#include "models/student.h"
#include "models/teacher.h"
#include "models/weights.h"

namespace deit::models {

// Bumped when the layout of libdeit checkpoints changes incompatibly.
constexpr int kCheckpointFormatVersion = 1;

void save_teacher_checkpoint(const Teacher& teacher, const std::string& path);
std::unique_ptr<Teacher> load_teacher_checkpoint(const std::string& path);

struct StudentCheckpoint {
  StudentConfig config;
  DataCard card;
  DistilledViT net{nullptr};
};
void save_student_checkpoint(const StudentConfig& config, const DistilledViTImpl& net, const DataCard& card,
                             const std::string& path);
StudentCheckpoint load_student_checkpoint(const std::string& path);
// The configuration of `src` when it is a libdeit student checkpoint; false for a file without libdeit
// metadata (a plain state dict).  Another libdeit kind or a bad configuration throws DEIT_E_FORMAT.
bool student_checkpoint_config(const LoadedTensors& src, const std::string& path, StudentConfig* out);

// JSON: {"kind", "format_version", "config", "data" (when the model has a DataCard), "params",
// "tensors": [{"name","dtype","shape"}]}.
std::string describe_checkpoint(const std::string& path);
// "teacher" or "student", from the file's header alone (no tensor data is read); DEIT_E_FORMAT naming what
// the file is otherwise (plain weights, a training state).
std::string checkpoint_kind(const std::string& path);

}  // namespace deit::models
