// The notebook's steps over the C API, shared by `run`, `teacher`, `distill`, `eval` and `predict`:
// build/load models, train, evaluate (timed), and the metrics lines they produce.
#pragma once

#include <deit/deit.h>

#include <chrono>
#include <string>
#include <vector>

#include "common.h"
#include "json.h"
#include "options.h"
#include "progress.h"

namespace deitctl {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// The training split (optionally a seeded random fraction of it, less a validation share held out of it)
// and the test split of a directory.  An image folder without train/ + val/ (or test/) folders, or a list
// file, is one set of images: kHeldOutTest of them (seeded) become the test split, with a note on stderr.
struct DataSplits {
  DatasetPtr train;
  DatasetPtr val;  // null without a validation share
  DatasetPtr test;
  deit_dataset_info train_info;  // after the fraction and the validation share
  deit_dataset_info test_info;
  int64_t full_train_count;
  int64_t val_count = 0;
};
constexpr double kHeldOutTest = 0.2;
// One split as open_splits makes it (`eval`): of one set of images, the held-out share or the rest.
DatasetPtr open_split(const std::string& dir, deit_split split, uint64_t seed, const deit_image_options& images,
                      bool quiet);
DataSplits open_splits(const std::string& dir, double fraction, uint64_t seed, double val_fraction,
                       const deit_image_options& images, bool quiet);

// --val-fraction F (0 < F < 1) of the training split: 0 when not given.
double val_fraction_option(const cxxopts::ParseResult& args);

// A new teacher of settings.arch (with settings.weights loaded when given) on `device`.
TeacherPtr create_teacher(const TeacherSettings& settings, int32_t num_classes, const std::string& device);
// Trains; returns the wall time.
double train_teacher(deit_teacher* teacher, const deit_dataset* train, TeacherSettings& settings,
                     ProgressReporter& progress, uint64_t seed);

StudentPtr create_student(const deit_student_config& config, uint64_t seed, const std::string& device);
struct DistillTiming {
  double train_seconds;           // wall time of deit_distill less the teacher-logit pass
  double teacher_logits_seconds;  // the DEIT_PHASE_TEACHER_LOGITS phase
};
DistillTiming distill_student(deit_student* student, deit_teacher* teacher, const deit_dataset* train,
                              StudentSettings& settings, ProgressReporter& progress, uint64_t seed);

struct Evaluation {
  deit_eval_result result;
  double seconds;
  std::vector<int64_t> confusion;  // num_classes^2 row-major (row = true class) when asked for
};
Evaluation evaluate_teacher(deit_teacher* teacher, const deit_dataset* data, bool confusion);
Evaluation evaluate_student(deit_student* student, const deit_dataset* data, bool confusion);

// A checkpoint loaded by its kind (deit_checkpoint_read_kind).
struct Model {
  TeacherPtr teacher;  // exactly one of the two is set
  StudentPtr student;
  int32_t num_classes = 0;
  int32_t in_channels = 3;  // what the model wants; the library repeats a gray channel for 3
  int32_t img_size = 0;     // student only; 0 = any
  std::vector<std::string> class_names;  // from its checkpoint; empty when it has none
  bool has_image_options = false;        // trained on image files: image_options is their preprocessing
  deit_image_options image_options{};

  const char* kind() const { return student ? "student" : "teacher"; }
};
Model load_model(const std::string& path, const std::string& device);
// deit_checkpoint_describe's JSON, parsed.
Json checkpoint_description(const std::string& path);

// --val-fraction's validation set and --best into a trainer's settings.
void apply_validation(const cxxopts::ParseResult& args, const DataSplits& data, const deit_dataset** val,
                      std::string* best_path);

// metrics.jsonl lines.
Json epoch_metrics_json(const EpochMetrics& m);
Json eval_metrics_json(const char* model, const Evaluation& e, bool student);
// The epochs of one phase, as metrics lines, for a --json result.
Json epochs_json(const ProgressReporter& progress, deit_phase phase);

}  // namespace deitctl
