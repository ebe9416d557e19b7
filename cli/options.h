// Command-line parsing shared by the subcommands: cxxopts wrappers that turn every mistake into a
// UsageError, enum option values, and the option groups for teacher training and distillation.
#pragma once

#include <deit/deit.h>

#include <cxxopts.hpp>
#include <optional>
#include <string>

#include "common.h"
#include "defaults.h"

namespace deitctl {

// Parses argv (argv[0] is the subcommand).  Unknown options, missing values, malformed numbers and
// positional arguments the command does not take are UsageErrors.
cxxopts::ParseResult parse_args(cxxopts::Options& options, int argc, char** argv);

bool has(const cxxopts::ParseResult& args, const std::string& name);

// --help: the option groups in pipeline order (ungrouped, Data, Teacher, Student, Output, Runtime).
void print_help(cxxopts::Options& options);

template <class T>
T get(const cxxopts::ParseResult& args, const std::string& name) {
  try {
    return args[name].as<T>();
  } catch (const cxxopts::exceptions::exception& e) {
    throw UsageError("--" + name + ": " + e.what());
  }
}

// The option's value when given on the command line, else `fallback`.
template <class T>
T get_or(const cxxopts::ParseResult& args, const std::string& name, T fallback) {
  return has(args, name) ? get<T>(args, name) : fallback;
}

// Enum values: parse_* throw UsageError naming the option and the accepted words.
deit_optimizer parse_optimizer(const std::string& option, const std::string& value);
deit_schedule parse_schedule(const std::string& option, const std::string& value);
deit_distillation parse_distillation(const std::string& option, const std::string& value);
deit_trainable parse_trainable(const std::string& option, const std::string& value);
deit_head parse_head(const std::string& option, const std::string& value);
deit_split parse_split(const std::string& option, const std::string& value);
const char* optimizer_name(deit_optimizer o);
const char* schedule_name(deit_schedule s);
const char* distillation_name(deit_distillation d);
const char* head_name(deit_head h);

// Range checks that make a bad number a usage error instead of a library error.
// "a, b or c" / membership, over a library list such as deit_teacher_arch_name (NULL past the last).
std::string names_of(const char* (*name_at)(size_t));
bool is_one_of(const std::string& value, const char* (*name_at)(size_t));

void require_positive(const std::string& option, double value);
void require_non_negative(const std::string& option, double value);
void require_fraction(const std::string& option, double value);  // 0 < value <= 1

// --device, --threads, --seed, --quiet.
void add_runtime_options(cxxopts::Options& options);

// --image-size, --crop-pct, --resize-filter, --gray, --skip-bad: how image folders and list files become
// stored images (deit_image_options); IDX and CIFAR directories ignore them.
void add_image_options(cxxopts::Options& options);
// The options given, over `base` (NULL: the library's defaults).
deit_image_options image_options(const cxxopts::ParseResult& args, const deit_image_options* base = nullptr);
// True when an image option was given (predict then overrides the checkpoint's preprocessing).
bool has_image_options(const cxxopts::ParseResult& args);

// The Data group: --data, --fraction, --val-fraction (which images train, in teacher, distill and run) ...
void add_data_options(cxxopts::Options& options);
// ... and teacher's and distill's --best FILE, --out FILE, --json.
void add_training_data_options(cxxopts::Options& options, const char* out_help);
// A string option the command cannot do without (UsageError "--name is required").
std::string required(const cxxopts::ParseResult& args, const std::string& name);

// --state FILE, --state-every N, --resume (crash safety of `teacher` and `distill`).
void add_state_options(cxxopts::Options& options);
struct StateOptions {
  std::string path;  // empty: none
  int32_t every = 0;
  bool resume = false;
  // Into a C options struct (`path` must outlive the training call).
  void apply(const char** state_path, int32_t* every_steps, int32_t* resume_flag) const;
};
// Usage errors for --resume/--state-every without --state; says on stderr (unless --quiet) that the run
// resumes when the state file exists.
StateOptions state_options(const cxxopts::ParseResult& args);
struct RuntimeSettings {
  std::string device;  // resolved: "cpu" or "cuda:N"
  int32_t threads;     // in effect
  uint64_t seed;
  bool quiet;          // --quiet, or a rank other than 0
  deit_group* group;   // under torchrun / `deitctl launch` (cli/distributed.h); NULL alone
  bool root;           // rank 0, or alone: prints results and writes files
};
// Applies --threads and resolves --device.
RuntimeSettings apply_runtime_options(const cxxopts::ParseResult& args);

// Augmentation and gradient clipping, shared by the teacher and the student (DeiT's recipe): --augment,
// --crop-padding, --resized-crop, --hflip, --erase, --mixup, --cutmix, --clip-grad.
void add_recipe_options(cxxopts::Options& options, const RunDefaults& d, const RunDefaults* full);
struct RecipeSettings {
  std::optional<deit_augment_options> augment;  // none: the images as stored
  double clip_grad = 0;
  // The command line chose augmentation (--augment, --teacher-augment or an op such as --erase) rather than
  // leaving it to the defaults.
  bool augment_given = false;
  // The C options' pointer to `augment` (this struct must outlive the training call).
  const deit_augment_options* augment_ptr() const { return augment ? &*augment : nullptr; }
};
// `prefix` "teacher-" (in `run`): --teacher-augment, when given, overrides --augment for the teacher.
RecipeSettings recipe_settings(const cxxopts::ParseResult& args, const RunDefaults& d,
                               const std::string& prefix);

// Teacher training options.  `prefix` is "teacher-" in `run` and "" in `teacher`; --batch-size is
// shared with the student in `run`, so it is added only when add_batch_size is set.
void add_teacher_options(cxxopts::Options& options, const std::string& prefix, bool add_batch_size,
                         const RunDefaults& d, const RunDefaults* full);
struct TeacherSettings {
  std::string arch;
  std::string weights;  // .safetensors with pretrained weights, or ""
  deit_teacher_train_options train;
  RecipeSettings recipe;
  const deit_dataset* val = nullptr;  // validation at each epoch's end
  std::string best_path;              // with val: the best epoch's checkpoint
};
TeacherSettings teacher_settings(const cxxopts::ParseResult& args, const std::string& prefix,
                                 const RunDefaults& d);

// Student and distillation options.  `prefix` is "student-" in `run` (for --student-preset and
// --student-epochs) and "" in `distill`.
void add_student_options(cxxopts::Options& options, const std::string& prefix, const RunDefaults& d,
                         const RunDefaults* full);
struct StudentSettings {
  std::string preset;
  int32_t patch_size;  // 0: the preset's
  std::string init;    // --init: pretrained weights (timm names or a libdeit student); the architecture is theirs
  deit_distill_options distill;
  RecipeSettings recipe;
  const deit_dataset* val = nullptr;  // validation at each epoch's end
  std::string best_path;              // with val: the best epoch's checkpoint
  std::string logits_cache;  // --logits-cache: distill_student points distill.teacher_logits_path here
};
StudentSettings student_settings(const cxxopts::ParseResult& args, const std::string& prefix,
                                 const RunDefaults& d);

// A student configuration from a preset (or, with --init, from the weights' tensors), adapted to the
// data: class count, and the image size when the images are square and differ from the preset's.
deit_student_config make_student_config(const StudentSettings& s, const deit_dataset_info& data);

}  // namespace deitctl
