#include "images.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "common.h"

#ifdef DEITCTL_HAVE_STB
// Debian's libstb.so carries stb_image's implementation.
#include <stb/stb_image.h>
#endif

namespace deitctl {

namespace {

[[noreturn]] void fail(deit_status status, const std::string& what) {
  throw LibraryError(std::string(deit_status_str(status)) + ": " + what);
}

}  // namespace

// ---- image files ----------------------------------------------------------------------------------

#ifdef DEITCTL_HAVE_STB
Image load_image_file(const std::string& path) {
  int w = 0, h = 0, n = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load(path.c_str(), &w, &h, &n, 0), stbi_image_free);
  if (!px) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(DEIT_E_IO, path + ": " + std::strerror(errno));
    std::fclose(f);
    fail(DEIT_E_FORMAT, path + ": not a readable image (" + stbi_failure_reason() + ")");
  }
  Image img;
  img.channels = n;
  img.height = h;
  img.width = w;
  img.hwc.assign(px.get(),
                 px.get() + static_cast<size_t>(w) * static_cast<size_t>(h) * static_cast<size_t>(n));
  return img;
}
#else
Image load_image_file(const std::string& path) {
  fail(DEIT_E_UNSUPPORTED, path + ": deitctl was built without stb (libstb-dev); use --idx");
}
#endif

Image convert_channels(const Image& in, int model_channels) {
  const bool in_gray = in.channels <= 2;  // gray or gray + alpha
  Image out;
  out.height = in.height;
  out.width = in.width;
  out.channels = (model_channels == 1 || in_gray) ? 1 : 3;
  const size_t pixels = static_cast<size_t>(in.height) * static_cast<size_t>(in.width);
  out.hwc.resize(pixels * static_cast<size_t>(out.channels));
  const size_t stride = static_cast<size_t>(in.channels);
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* p = &in.hwc[i * stride];
    if (in_gray) {
      out.hwc[i] = p[0];
    } else if (out.channels == 1) {
      const double y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
      out.hwc[i] = static_cast<uint8_t>(y + 0.5 > 255 ? 255 : y + 0.5);
    } else {
      out.hwc[i * 3 + 0] = p[0];
      out.hwc[i * 3 + 1] = p[1];
      out.hwc[i * 3 + 2] = p[2];
    }
  }
  return out;
}

// ---- IDX ------------------------------------------------------------------------------------------

namespace {

// gzread reads gzip and plain files alike.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path), f_(gzopen(path.c_str(), "rb")) {
    if (!f_) fail(DEIT_E_IO, path + ": " + std::strerror(errno ? errno : ENOENT));
  }
  ~GzFile() {
    if (f_) gzclose(f_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  void read(void* buf, size_t n, const char* what) {
    auto* p = static_cast<uint8_t*>(buf);
    while (n > 0) {
      const unsigned chunk = n > (1u << 30) ? (1u << 30) : static_cast<unsigned>(n);
      const int got = gzread(f_, p, chunk);
      if (got < 0) {
        int err = 0;
        const char* msg = gzerror(f_, &err);
        fail(DEIT_E_FORMAT, path_ + ": " + msg);
      }
      if (got == 0) fail(DEIT_E_FORMAT, path_ + ": truncated while reading " + what);
      p += got;
      n -= static_cast<size_t>(got);
    }
  }
  uint32_t be32(const char* what) {
    uint8_t b[4];
    read(b, 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
  }

 private:
  std::string path_;
  gzFile f_;
};

// Magic: two zero bytes, the dtype (0x08 = ubyte), the number of dimensions.
void check_magic(uint32_t magic, uint32_t dims, const std::string& path, const char* kind) {
  if (magic != (0x0800u | dims)) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", magic);
    fail(DEIT_E_FORMAT, path + ": magic number " + buf + " is not that of an IDX " + kind +
                            " file (0x0000080" + std::to_string(dims) + ")");
  }
}

}  // namespace

IdxImages read_idx_images(const std::string& path, int64_t limit) {
  GzFile f(path);
  check_magic(f.be32("the header"), 3, path, "image");
  const uint32_t n = f.be32("the header"), h = f.be32("the header"), w = f.be32("the header");
  if (h == 0 || w == 0 || h > 4096 || w > 4096)
    fail(DEIT_E_FORMAT, path + ": implausible image size " + std::to_string(h) + "x" + std::to_string(w));
  IdxImages out;
  out.count = limit > 0 && static_cast<uint64_t>(limit) < n ? limit : static_cast<int64_t>(n);
  out.height = static_cast<int>(h);
  out.width = static_cast<int>(w);
  out.pixels.resize(static_cast<size_t>(out.count) * h * w);
  f.read(out.pixels.data(), out.pixels.size(), "the images");
  return out;
}

std::vector<int32_t> read_idx_labels(const std::string& path, int64_t limit) {
  GzFile f(path);
  check_magic(f.be32("the header"), 1, path, "label");
  const uint32_t n = f.be32("the header");
  const int64_t count = limit > 0 && static_cast<uint64_t>(limit) < n ? limit : static_cast<int64_t>(n);
  std::vector<uint8_t> raw(static_cast<size_t>(count));
  f.read(raw.data(), raw.size(), "the labels");
  return std::vector<int32_t>(raw.begin(), raw.end());
}

}  // namespace deitctl
