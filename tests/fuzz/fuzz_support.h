// Helpers shared by the libFuzzer targets: the readers take paths, so each
// input is handed over as an anonymous in-memory file (/proc/self/fd/N),
// never touching the disk.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace deit::fuzz {

class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) {
    fd_ = ::memfd_create("deit-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) die("memfd_create failed");
    size_t done = 0;
    while (done < size) {
      const ssize_t put = ::write(fd_, data + done, size - done);
      if (put <= 0) die("write to memfd failed");
      done += static_cast<size_t>(put);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  [[noreturn]] static void die(const char* what) {
    std::fprintf(stderr, "fuzz harness: %s\n", what);
    std::abort();
  }
  int fd_ = -1;
  std::string path_;
};

// A broken invariant is a finding: abort so libFuzzer saves the input.
#define DEIT_FUZZ_CHECK(cond)                                                           \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

}  // namespace deit::fuzz
