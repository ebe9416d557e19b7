#include "data/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <random>
#include <system_error>

#include "core/error.h"

namespace deit::data {
namespace {

// strerror() is not thread-safe; the generic category's message is.
std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool has_gzip_magic(const uint8_t* p, size_t n) {
  return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

std::string gib(uint64_t bytes) {
  if (bytes % (uint64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  return std::to_string(bytes) + " bytes";
}

[[noreturn]] void too_large(const std::string& path, uint64_t max_bytes) {
  fail(DEIT_E_FORMAT, path + ": larger than the " + gib(max_bytes) + " limit for a data file");
}

std::vector<uint8_t> read_raw(const std::string& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(DEIT_E_IO, path + ": cannot open: " + errno_text(errno));
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(DEIT_E_IO, path + ": cannot stat: " + errno_text(errno));
  if (S_ISDIR(st.st_mode)) fail(DEIT_E_IO, path + ": cannot open: is a directory");

  // Regular files: read the known size in place.  Then read to EOF in small
  // chunks, for pipes and files that grew meanwhile, without doubling the buffer.
  // (/dev/zero as a path must not eat all memory.)
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) too_large(path, max_bytes);
  std::vector<uint8_t> buf(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0);
  size_t used = 0;
  auto read_some = [&](uint8_t* dst, size_t n) -> size_t {
    for (;;) {
      const ssize_t got = ::read(fd, dst, std::min<size_t>(n, size_t{1} << 30));
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) fail(DEIT_E_IO, path + ": read error: " + errno_text(errno));
    }
  };
  while (used < buf.size()) {
    const size_t got = read_some(buf.data() + used, buf.size() - used);
    if (got == 0) break;
    used += got;
  }
  if (used < buf.size()) {
    buf.resize(used);  // the file shrank while we read it
    return buf;
  }
  uint8_t chunk[1 << 16];
  for (size_t got; (got = read_some(chunk, sizeof chunk)) > 0;) {
    if (buf.size() + got > max_bytes) too_large(path, max_bytes);
    buf.insert(buf.end(), chunk, chunk + got);
  }
  return buf;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& in, const std::string& path, uint64_t max_bytes) {
  z_stream zs{};
  // 15 + 16: a gzip wrapper (header and CRC-32/size trailer are checked by zlib).
  const int init = inflateInit2(&zs, 15 + 16);
  if (init == Z_MEM_ERROR) throw std::bad_alloc();
  if (init != Z_OK) fail(DEIT_E_INTERNAL, path + ": inflateInit2 failed (" + std::to_string(init) + ")");
  struct Ender {
    z_stream* zs;
    ~Ender() { inflateEnd(zs); }
  } ender{&zs};

  // Start from the size the trailer claims (mod 2^32), but never more than
  // deflate's best ratio (~1032:1) allows, so a lying trailer cannot make us
  // allocate gigabytes up front.
  uint64_t hint = in.size() * 4;
  if (in.size() >= 18) {
    const uint8_t* t = in.data() + in.size() - 4;
    const uint64_t isize = uint64_t{t[0]} | uint64_t{t[1]} << 8 | uint64_t{t[2]} << 16 | uint64_t{t[3]} << 24;
    hint = std::min<uint64_t>(std::max<uint64_t>(isize, 1), uint64_t{in.size()} * 1032);
  }
  // One byte more than the limit: producing it proves the stream is too big.
  const uint64_t cap = max_bytes + 1;
  std::vector<uint8_t> out(static_cast<size_t>(std::min(hint, cap)));
  size_t produced = 0;
  size_t consumed = 0;

  for (;;) {
    // Never full at `cap`: reaching it fails below, before another round.
    if (produced == out.size())
      out.resize(static_cast<size_t>(std::min<uint64_t>(std::max<uint64_t>(out.size() * 2, 1 << 16), cap)));
    const size_t in_chunk = std::min<size_t>(in.size() - consumed, UINT_MAX);
    const size_t out_chunk = std::min<size_t>(out.size() - produced, UINT_MAX);
    zs.next_in = const_cast<Bytef*>(in.data() + consumed);
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(out_chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    consumed += in_chunk - zs.avail_in;
    produced += out_chunk - zs.avail_out;
    if (produced > max_bytes) {
      fail(DEIT_E_FORMAT, path + ": gzip stream inflates to more than the " + gib(max_bytes) +
                              " limit (a decompression bomb?)");
    }

    if (rc == Z_STREAM_END) {
      if (consumed == in.size()) break;
      // `gzip -c a b > c` makes a valid multi-member file: inflate each member.
      if (has_gzip_magic(in.data() + consumed, in.size() - consumed)) {
        inflateReset(&zs);
        continue;
      }
      fail(DEIT_E_FORMAT, path + ": corrupt gzip stream: " + std::to_string(in.size() - consumed) +
                              " bytes of trailing data after the end of the stream");
    }
    if (rc == Z_MEM_ERROR) throw std::bad_alloc();
    if (rc == Z_DATA_ERROR || rc == Z_STREAM_ERROR || rc == Z_NEED_DICT) {
      fail(DEIT_E_FORMAT, path + ": corrupt gzip stream: " + (zs.msg ? zs.msg : "invalid data") +
                              " (at compressed byte " + std::to_string(consumed) + ")");
    }
    // Z_OK or Z_BUF_ERROR: no progress possible with all input consumed and
    // room left for output means the stream stops before its end.
    if (consumed == in.size() && produced < out.size()) {
      fail(DEIT_E_FORMAT, path + ": corrupt gzip stream: truncated (ends after " + std::to_string(in.size()) +
                              " compressed bytes, " + std::to_string(produced) + " bytes inflated)");
    }
  }
  out.resize(produced);
  out.shrink_to_fit();
  return out;
}

// Writes all `n` bytes; returns 0 or the errno of the failure.
int write_all(int fd, const void* src, size_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  while (n > 0) {
    const size_t chunk = std::min<size_t>(n, size_t{1} << 30);
    const ssize_t put = ::write(fd, p, chunk);
    if (put < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += put;
    n -= static_cast<size_t>(put);
  }
  return 0;
}

// Removes the temp file unless it was renamed into place, whatever throws.
struct TempFile {
  std::string path;
  int fd = -1;
  bool committed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!path.empty() && !committed) ::unlink(path.c_str());
  }
};

uint64_t random_suffix() {
  uint64_t r = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  try {
    std::random_device rd;
    r ^= (static_cast<uint64_t>(rd()) << 32) ^ rd();
  } catch (...) {
    // No entropy source: the clock (and O_EXCL below) still keep names apart.
  }
  return r;
}

[[noreturn]] void write_error(const std::string& path, const char* step, int err) {
  fail(DEIT_E_IO, path + ": " + step + ": " + errno_text(err));
}

}  // namespace

void write_file_atomic(const std::string& path, const std::vector<ByteSpan>& parts) {
  // A temp file in the same directory, so that rename() is atomic.
  TempFile tmp;
  int err = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    char suffix[64];
    std::snprintf(suffix, sizeof(suffix), ".tmp-%ld-%016llx", static_cast<long>(::getpid()),
                  static_cast<unsigned long long>(random_suffix()));
    const std::string name = path + suffix;
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      tmp.fd = fd;
      tmp.path = name;
      break;
    }
    err = errno;
    if (err != EEXIST) break;
  }
  if (tmp.fd < 0) write_error(path, "cannot create a temporary file beside it", err);

  err = 0;  // an EEXIST of an earlier attempt
  const char* step = "cannot write";
  for (size_t k = 0; k < parts.size() && !err; ++k) err = write_all(tmp.fd, parts[k].data, parts[k].size);
  if (!err && ::fsync(tmp.fd) != 0) {
    err = errno;
    step = "cannot flush to disk";
  }
  const int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0 && !err) err = errno;
  if (!err && ::rename(tmp.path.c_str(), path.c_str()) != 0) {
    err = errno;
    step = "cannot rename the temporary file over it";
  }
  if (err) write_error(path, step, err);  // ~TempFile removes the temp file
  tmp.committed = true;

  // Make the rename itself durable; best effort (some file systems refuse).
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
  std::vector<uint8_t> raw = read_raw(path, max_bytes);
  if (has_gzip_magic(raw.data(), raw.size())) return gunzip(raw, path, max_bytes);
  if (ends_with(path, ".gz")) {
    fail(DEIT_E_FORMAT,
         path + ": not a gzip file (" +
             (raw.size() < 2 ? std::to_string(raw.size()) + " bytes long" : std::string("no 1f 8b magic")) +
             ")");
  }
  return raw;
}

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void require_directory(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) fail(DEIT_E_IO, dir + ": cannot open: " + errno_text(errno));
  if (!S_ISDIR(st.st_mode)) fail(DEIT_E_IO, dir + ": not a directory");
}

uint32_t read_be32(const std::vector<uint8_t>& buf, size_t offset, const std::string& path,
                   const char* what) {
  if (offset > buf.size() || buf.size() - offset < 4) {
    fail(DEIT_E_FORMAT, path + ": truncated " + what + ": needs " + std::to_string(offset + 4) +
                            " bytes, the file has " + std::to_string(buf.size()));
  }
  const uint8_t* p = buf.data() + offset;
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

bool mul_nonneg(int64_t a, int64_t b, int64_t* product) {
  return !__builtin_mul_overflow(a, b, product);
}

}  // namespace deit::data
