#include "common.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace deitctl {

// ---- errors & SIGINT -------------------------------------------------------------------------------

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
volatile std::sig_atomic_t g_announce = 0;

extern "C" void on_sigint(int) {
  g_interrupted = 1;
  if (g_announce) {
    // write(2) is async-signal-safe; stdio is not.
    static const char msg[] = "\ndeitctl: stopping after the current step (Ctrl-C again to kill)\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
  }
}
}  // namespace

void install_sigint_handler(bool announce) {
  g_announce = announce ? 1 : 0;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  // SA_RESETHAND: the first Ctrl-C asks for a clean stop, a second one kills at once.
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
}

bool interrupted() {
  return g_interrupted != 0;
}

void throw_if_interrupted() {
  if (interrupted()) throw Interrupted();
}

void check(deit_status status) {
  if (status == DEIT_OK) return;
  if (status == DEIT_E_CANCELLED && interrupted()) throw Interrupted();
  throw LibraryError(std::string(deit_status_str(status)) + ": " + deit_last_error());
}

// ---- data sets & models ---------------------------------------------------------------------------

DatasetPtr open_dataset(const std::string& path, deit_split split, const deit_image_options& images) {
  deit_dataset* raw = nullptr;
  check(deit_dataset_open(path.c_str(), split, &images, &raw));
  return DatasetPtr(raw);
}

std::vector<std::string> class_names(int32_t n, const std::function<deit_status(int32_t, char*, size_t)>& name_at) {
  std::vector<std::string> names;
  for (int32_t k = 0; k < n; ++k) {
    char buf[1024];
    check(name_at(k, buf, sizeof buf));
    if (buf[0] == '\0') return {};
    names.emplace_back(buf);
  }
  return names;
}

std::vector<std::string> class_names(const deit_dataset* ds) {
  return class_names(dataset_info(ds).num_classes, [ds](int32_t k, char* buf, size_t capacity) {
    return deit_dataset_class_name(ds, k, buf, capacity);
  });
}

DatasetPtr subset_fraction(const deit_dataset* ds, double fraction, uint64_t seed) {
  deit_dataset* raw = nullptr;
  check(deit_dataset_subset_fraction(ds, fraction, seed, &raw));
  return DatasetPtr(raw);
}

std::pair<DatasetPtr, DatasetPtr> split_dataset(const deit_dataset* ds, double fraction, uint64_t seed) {
  deit_dataset *first = nullptr, *rest = nullptr;
  check(deit_dataset_split(ds, fraction, seed, &first, &rest));
  return {DatasetPtr(first), DatasetPtr(rest)};
}

deit_dataset_info dataset_info(const deit_dataset* ds) {
  deit_dataset_info info{};
  info.struct_size = sizeof info;
  check(deit_dataset_get_info(ds, &info));
  return info;
}

const char* format_name(deit_dataset_format format) {
  switch (format) {
    case DEIT_FORMAT_IDX: return "IDX";
    case DEIT_FORMAT_CIFAR10: return "CIFAR-10";
    case DEIT_FORMAT_CIFAR100: return "CIFAR-100";
    case DEIT_FORMAT_MEMORY: return "memory";
    case DEIT_FORMAT_FOLDER: return "images";
  }
  return "unknown";
}

std::vector<uint8_t> copy_images_u8(const deit_dataset* ds, int64_t start, int64_t count) {
  const deit_dataset_info info = dataset_info(ds);
  const size_t n = static_cast<size_t>(count) * static_cast<size_t>(info.channels) *
                   static_cast<size_t>(info.height) * static_cast<size_t>(info.width);
  std::vector<uint8_t> out(n);
  if (info.dtype == DEIT_DTYPE_U8) {
    check(deit_dataset_copy_images(ds, start, count, out.data(), n));
    return out;
  }
  std::vector<float> f(n);
  check(deit_dataset_copy_images(ds, start, count, f.data(), n * sizeof(float)));
  for (size_t i = 0; i < n; ++i) {
    const float v = f[i] * 255.0f + 0.5f;
    out[i] = static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
  }
  return out;
}

deit_images u8_images(const uint8_t* data, deit_layout layout, int64_t count, int channels, int height,
                      int width) {
  deit_images im{};
  im.data = data;
  im.dtype = DEIT_DTYPE_U8;
  im.layout = layout;
  im.count = count;
  im.channels = channels;
  im.height = height;
  im.width = width;
  return im;
}

std::vector<int32_t> copy_labels(const deit_dataset* ds, int64_t start, int64_t count) {
  std::vector<int32_t> out(static_cast<size_t>(count));
  check(deit_dataset_copy_labels(ds, start, count, out.data(), out.size()));
  return out;
}

std::string teacher_arch(const deit_teacher* t) {
  char buf[64] = {0};
  check(deit_teacher_get_arch(t, buf, sizeof buf));
  return buf;
}

int32_t teacher_num_classes(const deit_teacher* t) {
  int32_t n = 0;
  check(deit_teacher_num_classes(t, &n));
  return n;
}

deit_student_config student_config(const deit_student* s) {
  deit_student_config c{};
  c.struct_size = sizeof c;
  check(deit_student_get_config(s, &c));
  return c;
}

int64_t student_params(const deit_student* s) {
  int64_t n = 0;
  check(deit_student_num_params(s, &n));
  return n;
}

std::string describe_checkpoint(const std::string& path) {
  size_t needed = 0;
  std::string buf(4096, '\0');
  deit_status st = deit_checkpoint_describe(path.c_str(), buf.data(), buf.size(), &needed);
  if (st == DEIT_E_BUFFER_TOO_SMALL && needed > buf.size()) {
    buf.assign(needed, '\0');
    st = deit_checkpoint_describe(path.c_str(), buf.data(), buf.size(), &needed);
  }
  check(st);
  buf.resize(std::strlen(buf.c_str()));
  return buf;
}

// ---- runtime --------------------------------------------------------------------------------------

std::string resolve_device(const std::string& spec) {
  char buf[64] = {0};
  const deit_status st = deit_resolve_device(spec.c_str(), buf, sizeof buf);
  if (st == DEIT_E_INVALID_ARG) throw UsageError(std::string("--device: ") + deit_last_error());
  check(st);
  return buf;
}

int32_t set_threads(int32_t n) {
  if (n < 0) throw UsageError("--threads: must be 0 (all cores) or more");
  check(deit_set_num_threads(n));
  return deit_get_num_threads();
}

// ---- files ----------------------------------------------------------------------------------------

namespace {
[[noreturn]] void io_error(const std::string& what, const std::string& path, int err) {
  throw LibraryError(std::string(deit_status_str(DEIT_E_IO)) + ": " + what + " " + path + ": " +
                     std::strerror(err));
}
}  // namespace

TempFile::TempFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {}

TempFile::~TempFile() {
  if (!committed_) std::remove(tmp_.c_str());
}

void TempFile::commit() {
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) io_error("cannot rename to", path_, errno);
  committed_ = true;
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  TempFile tmp(path);
  const int fd = ::open(tmp.tmp_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) io_error("cannot create", tmp.tmp_path(), errno);
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;  // Ctrl-C lands here too; finish the file regardless
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      io_error("cannot write", tmp.tmp_path(), err);
    }
    done += static_cast<size_t>(n);
  }
  // fsync before rename: after a crash the final name never points at a short file.
  if (::fsync(fd) != 0 || ::close(fd) != 0) io_error("cannot write", tmp.tmp_path(), errno);
  tmp.commit();
}

void make_dirs(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) io_error("cannot create directory", dir, ec.value());
  if (!std::filesystem::is_directory(dir, ec)) io_error("not a directory:", dir, ENOTDIR);
}

std::string join_path(const std::string& dir, const std::string& name) {
  return (std::filesystem::path(dir) / name).string();
}

// ---- formatting -----------------------------------------------------------------------------------

std::string format_seconds(double s) {
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  } else {
    const long total = static_cast<long>(s + 0.5);
    if (total < 3600)
      std::snprintf(buf, sizeof buf, "%ld min %02ld s", total / 60, total % 60);
    else
      std::snprintf(buf, sizeof buf, "%ld h %02ld min", total / 3600, (total / 60) % 60);
  }
  return buf;
}

std::string format_percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * fraction);
  return buf;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string format_count(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

}  // namespace deitctl
