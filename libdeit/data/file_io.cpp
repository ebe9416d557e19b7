#include "data/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
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

}  // namespace

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
