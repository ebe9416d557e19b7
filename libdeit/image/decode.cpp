// Image files into uint8 pixels as PIL opens and converts them: JPEG through TurboJPEG (the libjpeg-turbo
// PIL links, default ISLOW DCT and fancy upsampling, so pixels agree bit for bit), PNG through libspng,
// BMP and PGM/PPM parsed here.  Every byte of the input is hostile: all offsets are bounds-checked, and a
// header over max_pixels is refused before pixel memory is allocated.
#include <spng.h>
#include <turbojpeg.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "core/error.h"
#include "data/file_io.h"
#include "image/image.h"

namespace deit::image {
namespace {

// Larger than any image file max_pixels lets through (89 M pixels as 16-bit PPM: 537 MB).
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;
// libspng's limit on one ancillary chunk and on all of them together: text or ICC chunks cannot exhaust
// memory.  IDAT is streamed and not subject to it.
constexpr size_t kPngChunkLimit = size_t{64} << 20;

[[noreturn]] void format_error(const std::string& name, const std::string& what) {
  fail(DEIT_E_FORMAT, name + ": " + what);
}

// The decompression-bomb guard: called with the header's dimensions before anything is allocated.
void check_size(int64_t width, int64_t height, const std::string& name, const DecodeOptions& options) {
  if (width < 1 || height < 1) {
    format_error(name, "invalid image size " + std::to_string(width) + " x " + std::to_string(height));
  }
  int64_t pixels = 0;
  if (!data::mul_nonneg(width, height, &pixels) || pixels > options.max_pixels) {
    invalid_arg(name + ": " + std::to_string(width) + " x " + std::to_string(height) +
                " pixels exceeds the limit of " + std::to_string(options.max_pixels) +
                " (decompression bomb?)");
  }
}

Image new_image(int64_t width, int64_t height, int32_t channels) {
  Image img;
  img.width = static_cast<int32_t>(width);
  img.height = static_cast<int32_t>(height);
  img.channels = channels;
  img.hwc.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * static_cast<size_t>(channels));
  return img;
}

bool has_prefix(const uint8_t* data, size_t size, const char* magic, size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

uint32_t le16(const uint8_t* p) {
  return p[0] | uint32_t{p[1]} << 8;
}
uint32_t le32(const uint8_t* p) {
  return le16(p) | le16(p + 2) << 16;
}
uint32_t be16(const uint8_t* p) {
  return uint32_t{p[0]} << 8 | p[1];
}

// ---- EXIF orientation ----------------------------------------------------------------------------------

// A TIFF structure (the EXIF payload) read with its own byte order; every read is bounds-checked and an
// out-of-range one reads as "absent".
struct Tiff {
  const uint8_t* p;
  size_t n;
  bool big_endian;
  bool u16(size_t at, uint32_t* v) const {
    if (at > n || n - at < 2) return false;
    *v = big_endian ? be16(p + at) : le16(p + at);
    return true;
  }
  bool u32(size_t at, uint32_t* v) const {
    uint32_t hi = 0, lo = 0;
    if (!u16(at, big_endian ? &hi : &lo) || !u16(at + 2, big_endian ? &lo : &hi)) return false;
    *v = hi << 16 | lo;
    return true;
  }
};

// The Orientation tag (0x0112) of IFD0, or 1 when absent or malformed.  Like PIL: entries are read until
// the data ends, the last 0x0112 entry wins, and only a single SHORT (or LONG) value 1..8 counts.
int tiff_orientation(const uint8_t* p, size_t n) {
  if (n < 8) return 1;
  const bool le = std::memcmp(p, "II*\0", 4) == 0;
  const bool be = std::memcmp(p, "MM\0*", 4) == 0;
  if (!le && !be) return 1;
  const Tiff tiff{p, n, be};
  uint32_t ifd = 0, count = 0;
  if (!tiff.u32(4, &ifd) || !tiff.u16(ifd, &count)) return 1;
  uint32_t orientation = 1;
  for (uint32_t i = 0; i < count; ++i) {
    const size_t entry = size_t{ifd} + 2 + size_t{i} * 12;
    uint32_t tag = 0, type = 0, values = 0, value = 0;
    if (!tiff.u16(entry, &tag) || !tiff.u16(entry + 2, &type) || !tiff.u32(entry + 4, &values)) break;
    if (entry + 12 > n) break;
    if (tag != 0x0112) continue;
    value = 0;
    if (values == 1 && type == 3) tiff.u16(entry + 8, &value);
    if (values == 1 && type == 4) tiff.u32(entry + 8, &value);
    orientation = value;
  }
  return orientation >= 1 && orientation <= 8 ? static_cast<int>(orientation) : 1;
}

// Walks the JPEG markers before the first scan to the first APP1 "Exif\0" segment, the one PIL reads.
int jpeg_orientation(const uint8_t* data, size_t size) {
  size_t pos = 2;  // after SOI
  while (pos + 4 <= size && data[pos] == 0xFF) {
    const uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) break;  // SOS, EOI: no more headers
    const size_t length = be16(data + pos + 2);
    if (length < 2 || length > size - pos - 2) break;
    const uint8_t* seg = data + pos + 4;
    const size_t seg_len = length - 2;
    if (marker == 0xE1 && seg_len >= 5 && std::memcmp(seg, "Exif\0", 5) == 0) {
      return seg_len >= 6 && seg[5] == 0 ? tiff_orientation(seg + 6, seg_len - 6) : 1;
    }
    pos += 2 + length;
  }
  return 1;
}

// PIL's Image.transpose for ImageOps.exif_transpose: output pixel (x, y) comes from source (sx, sy).
Image apply_orientation(const Image& in, int orientation) {
  if (orientation <= 1) return in;
  const bool swap = orientation >= 5;
  Image out = new_image(swap ? in.height : in.width, swap ? in.width : in.height, in.channels);
  const int64_t w = in.width, h = in.height, c = in.channels;
  for (int64_t y = 0; y < out.height; ++y) {
    for (int64_t x = 0; x < out.width; ++x) {
      int64_t sx = x, sy = y;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;                  // FLIP_LEFT_RIGHT
        case 3: sx = w - 1 - x, sy = h - 1 - y; break;  // ROTATE_180
        case 4: sy = h - 1 - y; break;                  // FLIP_TOP_BOTTOM
        case 5: sx = y, sy = x; break;                  // TRANSPOSE
        case 6: sx = y, sy = h - 1 - x; break;          // ROTATE_270 (clockwise)
        case 7: sx = w - 1 - y, sy = h - 1 - x; break;  // TRANSVERSE
        default: sx = w - 1 - y, sy = x; break;         // 8: ROTATE_90 (counter-clockwise)
      }
      std::memcpy(&out.hwc[static_cast<size_t>((y * out.width + x) * c)],
                  &in.hwc[static_cast<size_t>((sy * w + sx) * c)], static_cast<size_t>(c));
    }
  }
  return out;
}

// ---- JPEG ----------------------------------------------------------------------------------------------

struct TjDeleter {
  void operator()(void* handle) const { tjDestroy(handle); }
};
using TjHandle = std::unique_ptr<void, TjDeleter>;

// PIL's (a * b + 127) / 255 in integers (MULDIV255 in libImaging).
uint32_t muldiv255(uint32_t a, uint32_t b) {
  const uint32_t t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

// PIL reads CMYK JPEGs with Adobe polarity (rawmode "CMYK;I": c = 255 - v for the stored value v that
// libjpeg returns), then converts with nk = 255 - k, out = clip(nk - muldiv255(c, nk)).  Composed:
// nk = v_k and R = v_k - muldiv255(255 - v_c, v_k), likewise G from v_m and B from v_y.
void cmyk_to_rgb(const std::vector<uint8_t>& cmyk, Image* img) {
  const size_t pixels = cmyk.size() / 4;
  for (size_t i = 0; i < pixels; ++i) {
    const uint32_t nk = cmyk[i * 4 + 3];
    for (size_t c = 0; c < 3; ++c) {
      const int32_t v =
          static_cast<int32_t>(nk) - static_cast<int32_t>(muldiv255(255u - cmyk[i * 4 + c], nk));
      img->hwc[i * 3 + c] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    }
  }
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  TjHandle tj(tjInitDecompress());
  if (!tj) fail(DEIT_E_OOM, name + ": cannot create a JPEG decoder: " + tjGetErrorStr2(nullptr));
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  // TurboJPEG 2.1 takes a non-const buffer but only reads it.
  unsigned char* buf = const_cast<unsigned char*>(data);
  if (tjDecompressHeader3(tj.get(), buf, size, &width, &height, &subsamp, &colorspace) != 0) {
    format_error(name, std::string("invalid JPEG: ") + tjGetErrorStr2(tj.get()));
  }
  check_size(width, height, name, options);
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const bool gray = colorspace == TJCS_GRAY;
  const int format = gray ? TJPF_GRAY : cmyk ? TJPF_CMYK : TJPF_RGB;
  Image img = new_image(width, height, gray ? 1 : 3);
  std::vector<uint8_t> cmyk_pixels;
  if (cmyk) cmyk_pixels.resize(img.hwc.size() / 3 * 4);
  uint8_t* out = cmyk ? cmyk_pixels.data() : img.hwc.data();
  // Flags 0: accurate integer DCT and fancy upsampling, libjpeg's defaults and PIL's.  A warning
  // ("Premature end of JPEG file") fails too: a truncated file must not come back half grey.  Except
  // stray bytes between segments ("extraneous bytes before marker"), which some cameras write into
  // otherwise whole images (a few ImageNet photos): PIL decodes those, so do we.
  if (tjDecompress2(tj.get(), buf, size, out, width, 0, height, format, 0) != 0) {
    const bool warning = tjGetErrorCode(tj.get()) == TJERR_WARNING;
    const std::string message = tjGetErrorStr2(tj.get());
    if (!warning || message.find("extraneous bytes before marker") == std::string::npos)
      format_error(name, std::string(warning ? "corrupt or truncated JPEG data: " : "invalid JPEG: ") + message);
  }
  if (cmyk) cmyk_to_rgb(cmyk_pixels, &img);
  if (options.exif_orientation) img = apply_orientation(img, jpeg_orientation(data, size));
  return img;
}

// ---- PNG -----------------------------------------------------------------------------------------------

struct SpngDeleter {
  void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};

[[noreturn]] void png_error(const std::string& name, int rc) {
  format_error(name, std::string("invalid PNG: ") + spng_strerror(rc));
}

// 16-bit samples (host order from libspng) keep their high byte, as PIL does for 16-bit RGB(A) and
// gray+alpha.  (PIL opens a plain 16-bit gray PNG as mode "I" and convert("L") then clips every value
// above 255 to white; we take the high byte there as well.)
void take_gray(const std::vector<uint8_t>& raw, bool sixteen_bit, Image* img) {
  const size_t pixels = img->hwc.size();
  for (size_t i = 0; i < pixels; ++i) {
    if (sixteen_bit) {
      uint16_t v = 0;
      std::memcpy(&v, &raw[i * 4], 2);
      img->hwc[i] = static_cast<uint8_t>(v >> 8);
    } else {
      img->hwc[i] = raw[i * 2];
    }
  }
}

uint32_t be32(const uint8_t* p) {
  return be16(p) << 16 | be16(p + 2);
}

// libspng stops reading at the end of the zlib stream, so a file cut after it (in the last IDAT's CRC or in
// IEND) would decode.  A truncated file must fail: every chunk must be complete, with its CRC right, up to
// IEND.
void check_png_chunks(const uint8_t* data, size_t size, const std::string& name) {
  size_t pos = 8;
  while (size - pos >= 12) {
    const uint32_t length = be32(data + pos);
    if (length > size - pos - 12) break;
    const uint32_t crc = be32(data + pos + 8 + length);
    if (crc32(crc32(0, nullptr, 0), data + pos + 4, length + 4) != crc)
      format_error(name, "invalid PNG: CRC error");
    if (std::memcmp(data + pos + 4, "IEND", 4) == 0) return;
    pos += 12 + size_t{length};
  }
  format_error(name, "truncated PNG data (no IEND chunk)");
}

Image decode_png(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  std::unique_ptr<spng_ctx, SpngDeleter> ctx(spng_ctx_new(0));
  if (!ctx) fail(DEIT_E_OOM, name + ": cannot create a PNG decoder");
  // Width and height: the PNG maximum (max_pixels is checked on their product below).
  int rc = spng_set_image_limits(ctx.get(), 0x7fffffff, 0x7fffffff);
  if (rc == 0) rc = spng_set_chunk_limits(ctx.get(), kPngChunkLimit, kPngChunkLimit);
  if (rc == 0) rc = spng_set_png_buffer(ctx.get(), data, size);
  spng_ihdr ihdr{};
  if (rc == 0) rc = spng_get_ihdr(ctx.get(), &ihdr);
  if (rc != 0) png_error(name, rc);
  check_size(ihdr.width, ihdr.height, name, options);
  const bool gray = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE;
  const bool gray_alpha = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA;
  const bool sixteen_bit = ihdr.bit_depth == 16;
  // SPNG_FMT_G8 only takes gray of depth <= 8 (it scales 1, 2 and 4 bits to 0..255, as PIL does); 16-bit
  // gray is decoded as GA16 and gray+alpha in its own layout (GA8 / GA16), then reduced here.
  int fmt = SPNG_FMT_RGB8;
  if (gray) fmt = sixteen_bit ? SPNG_FMT_GA16 : SPNG_FMT_G8;
  if (gray_alpha) fmt = SPNG_FMT_PNG;
  size_t out_size = 0;
  rc = spng_decoded_image_size(ctx.get(), fmt, &out_size);
  if (rc != 0) png_error(name, rc);
  Image img = new_image(ihdr.width, ihdr.height, gray || gray_alpha ? 1 : 3);
  const bool direct = fmt == SPNG_FMT_RGB8 || fmt == SPNG_FMT_G8;
  std::vector<uint8_t> raw(direct ? 0 : out_size);
  if (direct && out_size != img.hwc.size()) png_error(name, SPNG_EINTERNAL);
  rc = spng_decode_image(ctx.get(), direct ? img.hwc.data() : raw.data(), out_size, fmt, 0);
  if (rc != 0) png_error(name, rc);
  if (!direct) take_gray(raw, sixteen_bit, &img);
  check_png_chunks(data, size, name);
  return img;
}

// ---- BMP -----------------------------------------------------------------------------------------------

struct BmpHeader {
  int64_t width = 0, height = 0;  // height > 0: bottom-up rows
  uint32_t bpp = 0, compression = 0, colors = 0, header_size = 0;
  uint64_t offset = 0;  // of the pixels
};

constexpr uint32_t kBiRgb = 0, kBiBitfields = 3;

BmpHeader read_bmp_header(const uint8_t* data, size_t size, const std::string& name) {
  if (size < 14 + 40) format_error(name, "truncated BMP header");
  BmpHeader h;
  h.offset = le32(data + 10);
  h.header_size = le32(data + 14);
  if (h.header_size != 40 && h.header_size != 52 && h.header_size != 56 && h.header_size != 108 &&
      h.header_size != 124) {
    format_error(name, "BMP header size " + std::to_string(h.header_size) + " not supported");
  }
  if (size < 14 + uint64_t{h.header_size}) format_error(name, "truncated BMP header");
  h.width = static_cast<int32_t>(le32(data + 18));
  h.height = static_cast<int32_t>(le32(data + 22));
  h.bpp = le16(data + 28);
  h.compression = le32(data + 30);
  h.colors = le32(data + 46);
  return h;
}

// The byte positions of R, G and B in a 24/32-bit pixel: BGR for BI_RGB; with BI_BITFIELDS the masks
// (at offset 54 for every header size) must each select one whole byte.
void bmp_channel_bytes(const uint8_t* data, size_t size, const BmpHeader& h, const std::string& name,
                       int pos[3]) {
  pos[0] = 2, pos[1] = 1, pos[2] = 0;
  if (h.compression != kBiBitfields) return;
  if (size < 54 + 12) format_error(name, "truncated BMP header");
  for (int c = 0; c < 3; ++c) {
    const uint32_t mask = le32(data + 54 + 4 * c);
    pos[c] = -1;
    for (int b = 0; b < static_cast<int>(h.bpp) / 8; ++b) {
      if (mask == 0xFFu << (8 * b)) pos[c] = b;
    }
    if (pos[c] < 0) format_error(name, "BMP bit fields layout not supported");
  }
}

// Palette (BGRX entries after the header).  gray: PIL's rule for opening as mode "L" (or "1"): entry i is
// (i, i, i), or black and white for 2 colours.
std::vector<uint8_t> bmp_palette(const uint8_t* data, size_t size, const BmpHeader& h,
                                 const std::string& name, bool* gray) {
  const uint64_t start = 14 + uint64_t{h.header_size};
  if (start + 4 * uint64_t{h.colors} > size) format_error(name, "truncated BMP palette");
  std::vector<uint8_t> rgb(3 * size_t{h.colors});
  *gray = true;
  for (size_t i = 0; i < h.colors; ++i) {
    const uint8_t* e = data + start + 4 * i;
    rgb[3 * i] = e[2], rgb[3 * i + 1] = e[1], rgb[3 * i + 2] = e[0];
    const uint8_t want = h.colors == 2 ? static_cast<uint8_t>(i * 255) : static_cast<uint8_t>(i);
    if (e[0] != want || e[1] != want || e[2] != want) *gray = false;
  }
  return rgb;
}

Image decode_bmp(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  BmpHeader h = read_bmp_header(data, size, name);
  if (h.compression != kBiRgb && h.compression != kBiBitfields) {
    format_error(name, "BMP compression " + std::to_string(h.compression) + " not supported");
  }
  const bool paletted = h.bpp == 1 || h.bpp == 4 || h.bpp == 8;
  if (!paletted && h.bpp != 24 && h.bpp != 32)
    format_error(name, "BMP bit depth " + std::to_string(h.bpp) + " not supported");
  if (h.compression == kBiBitfields && paletted) format_error(name, "BMP bit fields with a palette");
  const bool top_down = h.height < 0;
  check_size(h.width, top_down ? -h.height : h.height, name, options);
  const int64_t height = top_down ? -h.height : h.height;
  if (paletted && h.colors == 0) h.colors = 1u << h.bpp;
  if (paletted && h.colors > 65536)
    format_error(name, "BMP palette of " + std::to_string(h.colors) + " colours");
  // As PIL: a pixel offset pointing at the palette itself means "right after the palette".
  if (paletted && h.offset == 14 + uint64_t{h.header_size}) h.offset += 4 * uint64_t{h.colors};
  const uint64_t stride = (static_cast<uint64_t>(h.width) * h.bpp + 31) / 32 * 4;
  int64_t pixel_bytes = 0;
  if (!data::mul_nonneg(static_cast<int64_t>(stride), height, &pixel_bytes) || h.offset > size ||
      static_cast<uint64_t>(pixel_bytes) > size - h.offset) {
    format_error(name, "truncated BMP pixel data");
  }
  bool gray = false;
  std::vector<uint8_t> palette;
  if (paletted) palette = bmp_palette(data, size, h, name, &gray);
  int pos[3];
  if (!paletted) bmp_channel_bytes(data, size, h, name, pos);
  Image img = new_image(h.width, height, gray ? 1 : 3);
  const size_t bytes_pp = h.bpp / 8, w = static_cast<size_t>(h.width);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = data + h.offset + stride * static_cast<uint64_t>(top_down ? y : height - 1 - y);
    uint8_t* out = &img.hwc[static_cast<size_t>(y) * w * static_cast<size_t>(img.channels)];
    for (size_t x = 0; x < w; ++x) {
      if (!paletted) {
        for (int c = 0; c < 3; ++c) out[3 * x + c] = row[x * bytes_pp + pos[c]];
        continue;
      }
      const size_t bit = x * h.bpp;
      const uint32_t index = (row[bit / 8] >> (8 - h.bpp - bit % 8)) & ((1u << h.bpp) - 1);
      if (index >= h.colors)
        format_error(name, "BMP palette index " + std::to_string(index) + " out of range");
      if (gray) out[x] = palette[3 * index];
      if (!gray) std::memcpy(out + 3 * x, &palette[3 * index], 3);
    }
  }
  return img;
}

// ---- PGM / PPM -----------------------------------------------------------------------------------------

bool pnm_space(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// A header number as PIL's _read_token reads it: leading whitespace skipped, "#" comments skipped up to
// CR or LF (even inside a token), at most 10 digits, ended by one whitespace byte which is consumed.
uint32_t pnm_header_number(const uint8_t* data, size_t size, size_t* pos, const std::string& name) {
  std::string token;
  while (*pos < size && token.size() <= 10) {
    const uint8_t c = data[(*pos)++];
    if (pnm_space(c)) {
      if (token.empty()) continue;
      break;
    }
    if (c == '#') {
      while (*pos < size && data[*pos] != '\r' && data[*pos] != '\n') ++*pos;
      if (*pos < size) ++*pos;
      continue;
    }
    if (c < '0' || c > '9') format_error(name, "invalid PGM/PPM header");
    token += static_cast<char>(c);
  }
  if (token.empty()) format_error(name, "truncated PGM/PPM header");
  if (token.size() > 10) format_error(name, "PGM/PPM header number too long");
  const uint64_t v = std::stoull(token);
  if (v > 0x7fffffff) format_error(name, "PGM/PPM header number " + token + " too large");
  return static_cast<uint32_t>(v);
}

// PIL's min(255, round(v / maxval * 255)), rounding half to even as Python does, for every v a sample
// of that width can hold.  (PIL opens 16-bit PGM as mode "I", whose convert("L") clips; we scale.)
std::vector<uint8_t> pnm_scale_table(uint32_t maxval) {
  std::vector<uint8_t> table(maxval < 256 ? 256 : 65536);
  for (size_t v = 0; v < table.size(); ++v) {
    const double scaled = std::nearbyint(static_cast<double>(v) / maxval * 255.0);
    table[v] = static_cast<uint8_t>(std::min(scaled, 255.0));
  }
  return table;
}

// P2 / P3 samples: decimal numbers separated by whitespace, "#" comments up to CR or LF.
void pnm_read_plain(const uint8_t* data, size_t size, size_t pos, uint32_t maxval, const std::string& name,
                    const std::vector<uint8_t>& table, Image* img) {
  for (uint8_t& out : img->hwc) {
    while (pos < size && (pnm_space(data[pos]) || data[pos] == '#')) {
      if (data[pos] == '#') {
        while (pos < size && data[pos] != '\r' && data[pos] != '\n') ++pos;
      } else {
        ++pos;
      }
    }
    uint32_t v = 0;
    size_t digits = 0;
    for (; pos < size && data[pos] >= '0' && data[pos] <= '9'; ++pos, ++digits) {
      if (digits == 10) format_error(name, "PGM/PPM sample too long");
      v = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{v} * 10 + (data[pos] - '0'), 0xffffffff));
    }
    if (digits == 0) format_error(name, pos < size ? "invalid PGM/PPM sample" : "truncated PGM/PPM data");
    if (pos < size && !pnm_space(data[pos]) && data[pos] != '#') format_error(name, "invalid PGM/PPM sample");
    if (v > maxval)
      format_error(name, "PGM/PPM sample " + std::to_string(v) + " exceeds maxval " + std::to_string(maxval));
    out = table[v];
  }
}

Image decode_pnm(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  const char kind = static_cast<char>(data[1]);
  if (kind == '1' || kind == '4') format_error(name, "PBM bitmaps (P1, P4) not supported");
  size_t pos = 2;
  const uint32_t width = pnm_header_number(data, size, &pos, name);
  const uint32_t height = pnm_header_number(data, size, &pos, name);
  check_size(width, height, name, options);
  const uint32_t maxval = pnm_header_number(data, size, &pos, name);
  if (maxval < 1 || maxval > 65535)
    format_error(name, "PGM/PPM maxval " + std::to_string(maxval) + " not in 1..65535");
  const bool rgb = kind == '3' || kind == '6';
  Image img = new_image(width, height, rgb ? 3 : 1);
  const std::vector<uint8_t> table = pnm_scale_table(maxval);
  if (kind == '2' || kind == '3') {
    pnm_read_plain(data, size, pos, maxval, name, table, &img);
    return img;
  }
  const size_t sample_bytes = maxval < 256 ? 1 : 2;
  if ((size - pos) / sample_bytes < img.hwc.size()) format_error(name, "truncated PGM/PPM data");
  const uint8_t* p = data + pos;
  for (size_t i = 0; i < img.hwc.size(); ++i) {
    img.hwc[i] = table[sample_bytes == 1 ? p[i] : be16(p + 2 * i)];
  }
  return img;
}

// ---- channels ------------------------------------------------------------------------------------------

// PIL's convert("L"): ITU-R 601-2 luma in 16-bit fixed point.
Image to_gray(const Image& in) {
  Image out = new_image(in.width, in.height, 1);
  for (size_t i = 0; i < out.hwc.size(); ++i) {
    const uint8_t* p = &in.hwc[3 * i];
    out.hwc[i] = static_cast<uint8_t>((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
  }
  return out;
}

Image to_rgb(const Image& in) {
  Image out = new_image(in.width, in.height, 3);
  for (size_t i = 0; i < in.hwc.size(); ++i) std::memset(&out.hwc[3 * i], in.hwc[i], 3);
  return out;
}

Image decode_any(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  if (has_prefix(data, size, "\xFF\xD8\xFF", 3)) return decode_jpeg(data, size, name, options);
  if (has_prefix(data, size, "\x89PNG\r\n\x1A\n", 8)) return decode_png(data, size, name, options);
  if (has_prefix(data, size, "BM", 2)) return decode_bmp(data, size, name, options);
  if (size >= 3 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' && pnm_space(data[2])) {
    return decode_pnm(data, size, name, options);
  }
  format_error(name, "not a JPEG, PNG, BMP or PGM/PPM image");
}

}  // namespace

Image decode(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  if (options.channels != 0 && options.channels != 1 && options.channels != 3) {
    invalid_arg(name + ": channels must be 0, 1 or 3, not " + std::to_string(options.channels));
  }
  if (options.max_pixels < 1) invalid_arg(name + ": max_pixels must be at least 1");
  if (size == 0) format_error(name, "empty file");
  if (data == nullptr) invalid_arg(name + ": no data");
  Image img = decode_any(data, size, name, options);
  if (options.channels == 1 && img.channels == 3) return to_gray(img);
  if (options.channels == 3 && img.channels == 1) return to_rgb(img);
  return img;
}

Image decode_file(const std::string& path, const DecodeOptions& options) {
  const std::vector<uint8_t> bytes = data::read_file(path, kMaxFileBytes);
  return decode(bytes.data(), bytes.size(), path, options);
}

}  // namespace deit::image
