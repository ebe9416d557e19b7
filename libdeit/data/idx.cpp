// IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST): a big-endian header
// (magic 00 00 <type> <ndims>, then one u32 per dimension) and raw elements.
#include <algorithm>
#include <climits>
#include <cstdio>

#include "core/error.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/file_io.h"

namespace deit::data {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions (N, H, W)
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension (N)
constexpr uint8_t kTypeUbyte = 0x08;

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string hex8(uint32_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", v & 0xffu);
  return buf;
}

const char* idx_type_name(uint32_t type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0b: return "short";
    case 0x0c: return "int";
    case 0x0d: return "float";
    case 0x0e: return "double";
    default: return "unknown type";
  }
}

// Checks the magic number; the element type gets its own message because a
// float or int IDX file is well-formed, just not something we read.
void check_magic(const std::vector<uint8_t>& buf, const std::string& path, uint32_t expected,
                 const char* kind) {
  const uint32_t magic = read_be32(buf, 0, path, "IDX header");
  const uint32_t ndims = expected & 0xff;
  if ((magic >> 16) == 0 && (magic & 0xff) == ndims && ((magic >> 8) & 0xff) != kTypeUbyte) {
    const uint32_t type = (magic >> 8) & 0xff;
    fail(DEIT_E_FORMAT, path + ": IDX element type " + hex8(type) + " (" + idx_type_name(type) +
                            ") is not supported; only " + hex8(kTypeUbyte) + " (unsigned byte)");
  }
  if (magic != expected) {
    std::string hint;
    if (magic == kLabelsMagic) hint = "; this looks like a labels file";
    if (magic == kImagesMagic) hint = "; this looks like an images file";
    if ((magic >> 16) == 0x1f8b) hint = "; this looks like gzip data";
    fail(DEIT_E_FORMAT, path + ": wrong magic number " + hex32(magic) + " for an IDX " + kind +
                            " file (expected " + hex32(expected) + ")" + hint);
  }
}

// Compares the size the header implies with the bytes present.
void check_size(const std::vector<uint8_t>& buf, const std::string& path, int64_t expected,
                const std::string& what) {
  const auto have = static_cast<uint64_t>(buf.size());
  if (have < static_cast<uint64_t>(expected)) {
    fail(DEIT_E_FORMAT, path + ": truncated: header says " + what + " (" + std::to_string(expected) +
                            " bytes with the header) but the file has " + std::to_string(have) + " bytes");
  }
  if (have > static_cast<uint64_t>(expected)) {
    const uint64_t extra = have - static_cast<uint64_t>(expected);
    fail(DEIT_E_FORMAT, path + ": " + std::to_string(extra) + (extra == 1 ? " byte" : " bytes") +
                            " of trailing data after " + what + " (expected " + std::to_string(expected) +
                            " bytes, the file has " + std::to_string(have) + ")");
  }
}

void check_header_length(const std::vector<uint8_t>& buf, const std::string& path, size_t header,
                         const char* kind) {
  if (buf.size() < header) {
    fail(DEIT_E_FORMAT, path + ": truncated: " + std::to_string(buf.size()) + " bytes, shorter than the " +
                            std::to_string(header) + "-byte header of an IDX " + kind + " file");
  }
}

// Magic first (so a labels file passed as images says so, whatever its length), then the length.
void check_header(const std::vector<uint8_t>& buf, const std::string& path, uint32_t magic, size_t header,
                  const char* kind) {
  if (buf.size() < 4) check_header_length(buf, path, header, kind);
  check_magic(buf, path, magic, kind);
  check_header_length(buf, path, header, kind);
}

}  // namespace

Dataset read_idx(const std::string& images_path, const std::string& labels_path) {
  Dataset ds;
  {
    std::vector<uint8_t> buf = read_file(images_path);
    check_header(buf, images_path, kImagesMagic, 16, "images");
    const uint32_t n = read_be32(buf, 4, images_path, "IDX header");
    const uint32_t h = read_be32(buf, 8, images_path, "IDX header");
    const uint32_t w = read_be32(buf, 12, images_path, "IDX header");
    const std::string dims = std::to_string(n) + " x " + std::to_string(h) + " x " + std::to_string(w);
    if (n == 0) fail(DEIT_E_FORMAT, images_path + ": header says 0 images: the data set is empty");
    if (h == 0 || w == 0) fail(DEIT_E_FORMAT, images_path + ": header dimensions " + dims + " include a 0");
    int64_t pixels = 0;
    int64_t total = 0;
    if (!mul_nonneg(n, h, &pixels) || !mul_nonneg(pixels, w, &pixels) ||
        __builtin_add_overflow(pixels, 16, &total))
      fail(DEIT_E_FORMAT, images_path + ": header dimensions " + dims + " overflow a 64-bit size");
    if (h > INT32_MAX || w > INT32_MAX)
      fail(DEIT_E_FORMAT, images_path + ": header dimensions " + dims + ": an image side exceeds 2^31 - 1");
    check_size(buf, images_path, total,
               std::to_string(n) + " images of " + std::to_string(h) + "x" + std::to_string(w));
    // Reuse the buffer: dropping the 16-byte header is one memmove, no second copy.
    buf.erase(buf.begin(), buf.begin() + 16);
    ds.u8 = std::move(buf);
    ds.count = n;
    ds.channels = 1;
    ds.height = static_cast<int32_t>(h);
    ds.width = static_cast<int32_t>(w);
  }

  const std::vector<uint8_t> buf = read_file(labels_path);
  check_header(buf, labels_path, kLabelsMagic, 8, "labels");
  const uint32_t n = read_be32(buf, 4, labels_path, "IDX header");
  if (n == 0) fail(DEIT_E_FORMAT, labels_path + ": header says 0 labels: the data set is empty");
  check_size(buf, labels_path, int64_t{n} + 8, std::to_string(n) + " labels");
  if (int64_t{n} != ds.count) {
    fail(DEIT_E_FORMAT, images_path + " has " + std::to_string(ds.count) + " images but " + labels_path +
                            " has " + std::to_string(n) + " labels");
  }
  ds.labels.assign(buf.begin() + 8, buf.end());
  ds.num_classes = 1 + static_cast<int32_t>(*std::max_element(buf.begin() + 8, buf.end()));
  ds.dtype = DEIT_DTYPE_U8;
  ds.format = DEIT_FORMAT_IDX;
  ds.source = images_path;
  if (log_enabled(DEIT_LOG_DEBUG)) {
    log(DEIT_LOG_DEBUG, "read " + std::to_string(ds.count) + " images 1x" + std::to_string(ds.height) + "x" +
                            std::to_string(ds.width) + ", " + std::to_string(ds.num_classes) +
                            " classes from " + images_path);
  }
  return ds;
}

}  // namespace deit::data
