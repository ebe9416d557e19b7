// deitctl plumbing shared by every subcommand: error kinds and exit codes, RAII handles over the C API,
// atomic file output, and the SIGINT flag.
#pragma once

#include <deit/deit.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace deitctl {

// Exit codes.
constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report it

// A runtime failure reported by the library ("<status text>: <deit_last_error()>"): exit 1.
struct LibraryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A command-line mistake: printed with the usage line, exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Ctrl-C was pressed and the work stopped: exit 130.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// Throws LibraryError for a failed status (Interrupted for a cancellation caused by Ctrl-C).
void check(deit_status status);

// ---- SIGINT ---------------------------------------------------------------------------------------
// Installs a handler that only sets a flag (a second Ctrl-C kills the process the usual way).
void install_sigint_handler(bool announce);
bool interrupted();
// Throws Interrupted when Ctrl-C was pressed; called between steps that cannot be cancelled.
void throw_if_interrupted();

// ---- handles --------------------------------------------------------------------------------------
struct DatasetDeleter {
  void operator()(deit_dataset* p) const { deit_dataset_free(p); }
};
struct TeacherDeleter {
  void operator()(deit_teacher* p) const { deit_teacher_free(p); }
};
struct StudentDeleter {
  void operator()(deit_student* p) const { deit_student_free(p); }
};
using DatasetPtr = std::unique_ptr<deit_dataset, DatasetDeleter>;
using TeacherPtr = std::unique_ptr<deit_teacher, TeacherDeleter>;
using StudentPtr = std::unique_ptr<deit_student, StudentDeleter>;

// An IDX/CIFAR directory, an image folder or a .csv list file (deit_dataset_open).
DatasetPtr open_dataset(const std::string& path, deit_split split, const deit_image_options& images);
// Classes 0..n-1 named by a deit_*_class_name call (index, buf, capacity); empty when the data had no names
// (the library names all classes or none).
std::vector<std::string> class_names(int32_t n, const std::function<deit_status(int32_t, char*, size_t)>& name_at);
std::vector<std::string> class_names(const deit_dataset* ds);
DatasetPtr subset_fraction(const deit_dataset* ds, double fraction, uint64_t seed);
// deit_dataset_split: {the random fraction, the rest}.
std::pair<DatasetPtr, DatasetPtr> split_dataset(const deit_dataset* ds, double fraction, uint64_t seed);
deit_dataset_info dataset_info(const deit_dataset* ds);
const char* format_name(deit_dataset_format format);
// Images [start, start + count) as uint8 NCHW (float data sets are scaled back from [0, 1]).
std::vector<uint8_t> copy_images_u8(const deit_dataset* ds, int64_t start, int64_t count);
std::vector<int32_t> copy_labels(const deit_dataset* ds, int64_t start, int64_t count);
// Caller-owned uint8 pixels described for deit_*_predict / _classify (no copy).
deit_images u8_images(const uint8_t* data, deit_layout layout, int64_t count, int channels, int height, int width);
// Images per library call when a command goes through a whole set.
constexpr int64_t kImagesPerCall = 256;

std::string teacher_arch(const deit_teacher* t);
int32_t teacher_num_classes(const deit_teacher* t);
deit_student_config student_config(const deit_student* s);
int64_t student_params(const deit_student* s);

// deit_checkpoint_describe's JSON text for a checkpoint file.
std::string describe_checkpoint(const std::string& path);

// ---- runtime --------------------------------------------------------------------------------------
// Validates a device spec and returns what it resolves to ("cpu" or "cuda:N").  A malformed spec is a
// usage error; a device that is not there a runtime error.
std::string resolve_device(const std::string& spec);
// deit_set_num_threads (0 = all cores); returns the thread count in effect.
int32_t set_threads(int32_t n);

// ---- files ----------------------------------------------------------------------------------------
// "<path>.tmp" that is removed on destruction unless commit() renamed it to <path>: an output is either
// complete under its final name or absent, even when an exception (or Ctrl-C) unwinds the stack.
class TempFile {
 public:
  explicit TempFile(std::string path);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& tmp_path() const { return tmp_; }
  // rename() into place; throws LibraryError on failure.
  void commit();

 private:
  std::string path_, tmp_;
  bool committed_ = false;
};

// Writes `contents` to `path` atomically (temp file, flush, fsync, rename).
void write_file_atomic(const std::string& path, const std::string& contents);
// mkdir -p; throws on failure.
void make_dirs(const std::string& dir);
std::string join_path(const std::string& dir, const std::string& name);

// ---- small formatting helpers ----------------------------------------------------------------------
std::string format_seconds(double s);         // "12.3 s", "4 min 05 s"
std::string format_percent(double fraction);  // "91.23%"
std::string format_count(int64_t n);          // "1,234,567"
std::string format_number(double v);          // "%g": "0.001", "0.25"

}  // namespace deitctl
