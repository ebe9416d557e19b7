// deit::image::decode on images built in memory: JPEG (TurboJPEG's encoder), PNG (libspng's encoder), BMP and
// PGM/PPM written byte by byte.  Pixels, EXIF orientation, channel conversion, and hostile input: every
// truncation, garbage, decompression bombs, none of which may crash or return.  Exit status: the number of
// failed checks (0: all passed).
#include <spng.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "image/image.h"

namespace {

using deit::image::DecodeOptions;
using deit::image::Image;
using Bytes = std::vector<uint8_t>;

int g_failures = 0;
int g_checks = 0;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    ++g_checks;                                                                     \
    if (!(cond)) {                                                                  \
      ++g_failures;                                                                 \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                               \
  } while (0)

Image decode(const Bytes& b, const std::string& name = "mem.img", DecodeOptions options = {}) {
  return deit::image::decode(b.data(), b.size(), name, options);
}

// Runs f, which must throw deit::Error with `status` and a message starting with "<name>: " and containing
// `needle`.  Returns false (after reporting) otherwise.
bool expect_error(const std::function<void()>& f, deit_status status, const std::string& name,
                  const std::string& needle, const char* what) {
  try {
    f();
  } catch (const deit::Error& e) {
    const std::string msg = e.what();
    const bool ok =
        e.status() == status && msg.rfind(name + ": ", 0) == 0 && msg.find(needle) != std::string::npos;
    if (!ok) std::fprintf(stderr, "%s: got status %d \"%s\"\n", what, e.status(), msg.c_str());
    return ok;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: non-deit exception %s\n", what, e.what());
    return false;
  }
  std::fprintf(stderr, "%s: returned instead of throwing\n", what);
  return false;
}

#define CHECK_ERROR(expr, status, name, needle) \
  CHECK(expect_error([&] { (void)(expr); }, status, name, needle, #expr))

// A smooth test pattern (JPEG keeps it within a few levels).
Bytes pattern(int w, int h, int channels) {
  Bytes px(static_cast<size_t>(w * h * channels));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        px[(y * w + x) * channels + c] = static_cast<uint8_t>(40 + 4 * x + 3 * y + 50 * c);
  return px;
}

int max_diff(const Bytes& a, const Bytes& b) {
  if (a.size() != b.size()) return 1 << 20;
  int d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(int{a[i]} - int{b[i]}));
  return d;
}

// ---- encoders ------------------------------------------------------------------------------------------

Bytes jpeg(const Bytes& px, int w, int h, int pixel_format, int subsamp) {
  tjhandle tj = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(tj, px.data(), w, 0, h, pixel_format, &out, &size, subsamp, 98, 0);
  if (rc != 0) std::fprintf(stderr, "tjCompress2: %s\n", tjGetErrorStr2(tj));
  Bytes b(out, out + size);
  tjFree(out);
  tjDestroy(tj);
  return b;
}

// An APP1 Exif segment holding IFD0 with a Make and an Orientation entry, inserted after SOI.  big_endian:
// "MM" byte order; trim: bytes cut off the end of the TIFF data.
Bytes with_exif(const Bytes& jpg, int orientation, bool big_endian = false, uint32_t ifd_offset = 8,
                uint16_t type = 3, size_t trim = 0) {
  Bytes tiff;
  auto u16 = [&](uint32_t v) {
    if (big_endian)
      tiff.insert(tiff.end(), {uint8_t(v >> 8), uint8_t(v)});
    else
      tiff.insert(tiff.end(), {uint8_t(v), uint8_t(v >> 8)});
  };
  auto u32 = [&](uint32_t v) {
    big_endian ? (u16(v >> 16), u16(v & 0xffff)) : (u16(v & 0xffff), u16(v >> 16));
  };
  tiff.insert(tiff.end(), big_endian ? std::initializer_list<uint8_t>{'M', 'M', 0, 42}
                                     : std::initializer_list<uint8_t>{'I', 'I', 42, 0});
  u32(ifd_offset);
  u16(2);                                        // two entries
  u16(0x010f), u16(2), u32(4), u32(0x00414243);  // Make: "CBA\0" inline
  u16(0x0112), u16(type), u32(1);
  u16(static_cast<uint32_t>(orientation)), u16(0);
  u32(0);  // no next IFD
  tiff.resize(tiff.size() - trim);
  Bytes seg = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  seg.insert(seg.end(), tiff.begin(), tiff.end());
  const size_t len = seg.size() - 2;
  seg[2] = uint8_t(len >> 8), seg[3] = uint8_t(len);
  // SOI, the APP1 segment, the rest (written index by index: GCC 12 misreads a two-byte insert).
  Bytes out(jpg.size() + seg.size());
  std::copy(seg.begin(), seg.end(), out.begin() + 2);
  out[0] = jpg[0], out[1] = jpg[1];
  std::copy(jpg.begin() + 2, jpg.end(), out.begin() + 2 + static_cast<std::ptrdiff_t>(seg.size()));
  return out;
}

Bytes png(int w, int h, int color_type, int depth, const Bytes& px, const Bytes& plte_rgb = {},
          const Bytes& trns = {}) {
  spng_ctx* ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr{};
  ihdr.width = static_cast<uint32_t>(w), ihdr.height = static_cast<uint32_t>(h);
  ihdr.bit_depth = static_cast<uint8_t>(depth), ihdr.color_type = static_cast<uint8_t>(color_type);
  spng_set_ihdr(ctx, &ihdr);
  if (!plte_rgb.empty()) {
    spng_plte plte{};
    plte.n_entries = static_cast<uint32_t>(plte_rgb.size() / 3);
    for (uint32_t i = 0; i < plte.n_entries; ++i) {
      plte.entries[i] = {plte_rgb[3 * i], plte_rgb[3 * i + 1], plte_rgb[3 * i + 2], 255};
    }
    spng_set_plte(ctx, &plte);
  }
  if (!trns.empty()) {
    spng_trns t{};
    t.n_type3_entries = static_cast<uint32_t>(trns.size());
    std::memcpy(t.type3_alpha, trns.data(), trns.size());
    spng_set_trns(ctx, &t);
  }
  int rc = spng_encode_image(ctx, px.data(), px.size(), SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  if (rc != 0) std::fprintf(stderr, "spng_encode_image: %s\n", spng_strerror(rc));
  size_t len = 0;
  void* buf = spng_get_png_buffer(ctx, &len, &rc);
  Bytes b(static_cast<uint8_t*>(buf), static_cast<uint8_t*>(buf) + len);
  std::free(buf);
  spng_ctx_free(ctx);
  return b;
}

void put_le(Bytes* b, uint32_t v, int n) {
  for (int i = 0; i < n; ++i) b->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// A BITMAPINFOHEADER BMP of `bpp` 8 (with `palette_rgb`), 24 or 32 from hwc pixels (rgb or indices).
Bytes bmp(int w, int h, int bpp, const Bytes& px, bool top_down = false, const Bytes& palette_rgb = {},
          uint32_t compression = 0) {
  const uint32_t colors = static_cast<uint32_t>(palette_rgb.size() / 3);
  const uint32_t stride = (static_cast<uint32_t>(w * bpp) + 31) / 32 * 4;
  const uint32_t offset = 14 + 40 + 4 * colors;
  Bytes b = {'B', 'M'};
  put_le(&b, offset + stride * h, 4), put_le(&b, 0, 4), put_le(&b, offset, 4);
  put_le(&b, 40, 4), put_le(&b, static_cast<uint32_t>(w), 4),
      put_le(&b, static_cast<uint32_t>(top_down ? -h : h), 4);
  put_le(&b, 1, 2), put_le(&b, static_cast<uint32_t>(bpp), 2), put_le(&b, compression, 4);
  put_le(&b, stride * h, 4), put_le(&b, 2835, 4), put_le(&b, 2835, 4), put_le(&b, colors, 4),
      put_le(&b, 0, 4);
  for (uint32_t i = 0; i < colors; ++i)
    b.insert(b.end(), {palette_rgb[3 * i + 2], palette_rgb[3 * i + 1], palette_rgb[3 * i], 0});
  for (int r = 0; r < h; ++r) {
    const int y = top_down ? r : h - 1 - r;
    Bytes row(stride, 0xEE);  // padding bytes must be ignored
    for (int x = 0; x < w; ++x) {
      if (bpp == 8) row[x] = px[y * w + x];
      for (int c = 0; bpp >= 24 && c < 3; ++c) row[x * (bpp / 8) + c] = px[(y * w + x) * 3 + 2 - c];
    }
    b.insert(b.end(), row.begin(), row.end());
  }
  return b;
}

Bytes text(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

Bytes pnm(const std::string& header, const Bytes& body) {
  Bytes b = text(header);
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

// ---- tests ---------------------------------------------------------------------------------------------

void test_jpeg() {
  const int w = 21, h = 13;
  const Bytes rgb = pattern(w, h, 3), gray = pattern(w, h, 1);
  Image img = decode(jpeg(rgb, w, h, TJPF_RGB, TJSAMP_444));
  CHECK(img.width == w && img.height == h && img.channels == 3);
  CHECK(max_diff(img.hwc, rgb) <= 4);
  img = decode(jpeg(gray, w, h, TJPF_GRAY, TJSAMP_GRAY));
  CHECK(img.width == w && img.height == h && img.channels == 1);
  CHECK(max_diff(img.hwc, gray) <= 4);
  // CMYK (TurboJPEG writes the Adobe marker and stores YCCK): PIL reads it inverted (c = 255 - v) and
  // converts with cmyk2rgb, so R = k - muldiv255(255 - c, k) for the stored values c and k.  Flat planes
  // come back within a level or two of what was encoded.
  auto muldiv255 = [](int a, int b) {
    const int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  for (const int k : {255, 128, 0}) {
    const int cmy[3] = {200, 100, 30};
    Bytes cmyk;
    for (int i = 0; i < w * h; ++i)
      cmyk.insert(cmyk.end(), {uint8_t(cmy[0]), uint8_t(cmy[1]), uint8_t(cmy[2]), uint8_t(k)});
    img = decode(jpeg(cmyk, w, h, TJPF_CMYK, TJSAMP_444));
    CHECK(img.width == w && img.height == h && img.channels == 3);
    Bytes want;
    for (int i = 0; i < w * h; ++i)
      for (const int c : cmy) want.push_back(static_cast<uint8_t>(k - muldiv255(255 - c, k)));
    CHECK(max_diff(img.hwc, want) <= 2);
  }
}

// in(x, y) of a w x h image must be at out(ox, oy); `map` gives (ox, oy).
bool mapped(const Image& in, const Image& out, const std::function<void(int, int, int*, int*)>& map) {
  for (int y = 0; y < in.height; ++y) {
    for (int x = 0; x < in.width; ++x) {
      int ox = 0, oy = 0;
      map(x, y, &ox, &oy);
      if (ox < 0 || oy < 0 || ox >= out.width || oy >= out.height) return false;
      for (int c = 0; c < in.channels; ++c) {
        if (in.hwc[(y * in.width + x) * in.channels + c] != out.hwc[(oy * out.width + ox) * out.channels + c])
          return false;
      }
    }
  }
  return true;
}

void test_exif() {
  const int w = 24, h = 16;
  const Bytes base = jpeg(pattern(w, h, 3), w, h, TJPF_RGB, TJSAMP_420);
  const Image plain = decode(base);
  DecodeOptions no_exif;
  no_exif.exif_orientation = false;
  for (const bool be : {false, true}) {
    Image r = decode(with_exif(base, 6, be));  // ROTATE_270: 90 degrees clockwise
    CHECK(r.width == h && r.height == w);
    CHECK(mapped(plain, r, [&](int x, int y, int* ox, int* oy) { *ox = h - 1 - y, *oy = x; }));
    r = decode(with_exif(base, 3, be));
    CHECK(r.width == w && r.height == h);
    CHECK(mapped(plain, r, [&](int x, int y, int* ox, int* oy) { *ox = w - 1 - x, *oy = h - 1 - y; }));
    r = decode(with_exif(base, 2, be));
    CHECK(mapped(plain, r, [&](int x, int y, int* ox, int* oy) { *ox = w - 1 - x, *oy = y; }));
    r = decode(with_exif(base, 8, be));  // ROTATE_90: counter-clockwise
    CHECK(r.width == h && r.height == w);
    CHECK(mapped(plain, r, [&](int x, int y, int* ox, int* oy) { *ox = y, *oy = w - 1 - x; }));
  }
  CHECK(decode(with_exif(base, 6), "a", no_exif).hwc == plain.hwc);
  CHECK(decode(with_exif(base, 6, false, 8, 4)).width == h);  // LONG counts too, as in PIL
  // Malformed EXIF is ignored, as PIL does: IFD offset past the end, orientation 9, ASCII type.
  CHECK(decode(with_exif(base, 6, false, 5000)).hwc == plain.hwc);
  CHECK(decode(with_exif(base, 9)).hwc == plain.hwc);
  CHECK(decode(with_exif(base, 6, true, 8, 2)).hwc == plain.hwc);
  CHECK(decode(with_exif(base, 6, false, 8, 3, 10)).hwc == plain.hwc);  // the segment ends in the entry
  CHECK(decode(with_exif(base, 6, false, 8, 3, 4)).width == h);         // only the next-IFD link is cut
}

void test_png() {
  const int w = 7, h = 5;
  const Bytes rgb = pattern(w, h, 3), gray = pattern(w, h, 1);
  Image img = decode(png(w, h, SPNG_COLOR_TYPE_TRUECOLOR, 8, rgb));
  CHECK(img.width == w && img.height == h && img.channels == 3 && img.hwc == rgb);
  img = decode(png(w, h, SPNG_COLOR_TYPE_GRAYSCALE, 8, gray));
  CHECK(img.channels == 1 && img.hwc == gray);
  Bytes g16(gray.size() * 2);  // host order for SPNG_FMT_PNG
  for (size_t i = 0; i < gray.size(); ++i) {
    const uint16_t v = static_cast<uint16_t>(gray[i] << 8 | (255 - gray[i]));
    std::memcpy(&g16[2 * i], &v, 2);
  }
  img = decode(png(w, h, SPNG_COLOR_TYPE_GRAYSCALE, 16, g16));
  CHECK(img.channels == 1 && img.hwc == gray);  // the high byte
  Bytes rgba;
  for (size_t i = 0; i < gray.size(); ++i)
    rgba.insert(rgba.end(), {rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], uint8_t(i)});
  img = decode(png(w, h, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA, 8, rgba));
  CHECK(img.channels == 3 && img.hwc == rgb);  // alpha dropped, not composited
  Bytes ga;
  for (const uint8_t g : gray) ga.insert(ga.end(), {g, uint8_t(255 - g)});
  img = decode(png(w, h, SPNG_COLOR_TYPE_GRAYSCALE_ALPHA, 8, ga));
  CHECK(img.channels == 1 && img.hwc == gray);
  const Bytes plte = {10, 20, 30, 200, 100, 0, 1, 2, 3};
  Bytes idx(static_cast<size_t>(w * h)), want;
  for (size_t i = 0; i < idx.size(); ++i) {
    idx[i] = static_cast<uint8_t>(i % 3);
    want.insert(want.end(), plte.begin() + 3 * idx[i], plte.begin() + 3 * idx[i] + 3);
  }
  CHECK(decode(png(w, h, SPNG_COLOR_TYPE_INDEXED, 8, idx, plte)).hwc == want);
  img = decode(png(w, h, SPNG_COLOR_TYPE_INDEXED, 8, idx, plte, {0, 128}));
  CHECK(img.channels == 3 && img.hwc == want);
  // A flipped bit in the IDAT data: the CRC check must catch it.
  Bytes bad = png(w, h, SPNG_COLOR_TYPE_TRUECOLOR, 8, rgb);
  bad[bad.size() - 20] ^= 1;
  CHECK_ERROR(decode(bad, "bad.png"), DEIT_E_FORMAT, "bad.png", "invalid PNG");
}

void test_bmp() {
  const int w = 5, h = 3;  // stride 16 (24-bit), 8 (8-bit): padding in every row
  const Bytes rgb = pattern(w, h, 3);
  for (const bool top_down : {false, true}) {
    for (const int bpp : {24, 32}) {
      const Image img = decode(bmp(w, h, bpp, rgb, top_down));
      CHECK(img.width == w && img.height == h && img.channels == 3 && img.hwc == rgb);
    }
  }
  const Bytes plte = {250, 0, 0, 0, 250, 0, 0, 0, 250, 9, 9, 9};
  Bytes idx(static_cast<size_t>(w * h)), want;
  for (size_t i = 0; i < idx.size(); ++i) {
    idx[i] = static_cast<uint8_t>(i % 4);
    want.insert(want.end(), plte.begin() + 3 * idx[i], plte.begin() + 3 * idx[i] + 3);
  }
  Image img = decode(bmp(w, h, 8, idx, false, plte));
  CHECK(img.channels == 3 && img.hwc == want);
  Bytes ramp;  // PIL opens a BMP whose palette is the gray ramp as mode "L"
  for (int i = 0; i < 256; ++i) ramp.insert(ramp.end(), {uint8_t(i), uint8_t(i), uint8_t(i)});
  const Bytes gray = pattern(w, h, 1);
  img = decode(bmp(w, h, 8, gray, true, ramp));
  CHECK(img.channels == 1 && img.hwc == gray);
  CHECK_ERROR(decode(bmp(w, h, 8, idx, false, plte, 1), "rle.bmp"), DEIT_E_FORMAT, "rle.bmp",
              "BMP compression 1 not supported");
  Bytes out_of_palette = bmp(w, h, 8, idx, false, plte);
  out_of_palette[out_of_palette.size() - 1 - 3] = 77;  // a pixel of the top row, past the 4 colours
  CHECK_ERROR(decode(out_of_palette, "p.bmp"), DEIT_E_FORMAT, "p.bmp", "palette index 77");
}

void test_pnm() {
  const Bytes rgb = pattern(3, 2, 3), gray = pattern(3, 2, 1);
  Image img = decode(pnm("P6\n# a comment\n3 2\n255\n", rgb));
  CHECK(img.width == 3 && img.height == 2 && img.channels == 3 && img.hwc == rgb);
  img = decode(pnm("P5 3 #c\n 2 255 ", gray));
  CHECK(img.channels == 1 && img.hwc == gray);
  img = decode(text("P2\n3 2\n100\n0 50 100\n# comment\n1 99 25\n"));
  CHECK(img.channels == 1 && (img.hwc == Bytes{0, 128, 255, 3, 252, 64}));  // round(v / 100 * 255)
  img = decode(text("P3 1 1 255 1 2 3"));
  CHECK(img.channels == 3 && (img.hwc == Bytes{1, 2, 3}));
  img = decode(pnm("P5 2 1 1000\n", {0x03, 0xE8, 0x01, 0xF4}));  // 1000, 500 of 1000
  CHECK((img.hwc == Bytes{255, 128}));
  CHECK_ERROR(decode(text("P2 1 1 10 11"), "x.pgm"), DEIT_E_FORMAT, "x.pgm", "exceeds maxval");
  CHECK_ERROR(decode(text("P5 1 1 0\n\x01"), "x.pgm"), DEIT_E_FORMAT, "x.pgm", "maxval");
  CHECK_ERROR(decode(text("P4 1 1\n\x01"), "x.pbm"), DEIT_E_FORMAT, "x.pbm", "PBM");
}

void test_channels() {
  const Bytes rgb = {10, 200, 30, 255, 255, 255, 0, 0, 0, 1, 2, 250};
  DecodeOptions opt;
  opt.channels = 1;
  Image img = decode(pnm("P6 2 2 255\n", rgb), "c.ppm", opt);
  CHECK(img.channels == 1 && img.hwc.size() == 4);
  for (int i = 0; i < 4; ++i) {
    const uint32_t l =
        (rgb[3 * i] * 19595u + rgb[3 * i + 1] * 38470u + rgb[3 * i + 2] * 7471u + 0x8000u) >> 16;
    CHECK(img.hwc[i] == l);
  }
  opt.channels = 3;
  img = decode(pnm("P5 2 1 255\n", {7, 9}), "c.pgm", opt);
  CHECK(img.channels == 3 && (img.hwc == Bytes{7, 7, 7, 9, 9, 9}));
  opt.channels = 0;
  CHECK(decode(pnm("P5 2 1 255\n", {7, 9}), "c.pgm", opt).channels == 1);
  opt.channels = 2;
  CHECK_ERROR(decode(pnm("P5 2 1 255\n", {7, 9}), "c.pgm", opt), DEIT_E_INVALID_ARG, "c.pgm", "channels");
}

// Every prefix of a valid file shorter than `complete` (default: the whole file) must throw deit::Error
// naming the file; the file with any one byte flipped must throw it or decode, never crash.
void all_prefixes_fail(const Bytes& full, const char* name, size_t complete = 0) {
  CHECK(decode(full, name).width > 0);
  int returned = 0;
  for (size_t n = 0; n < (complete ? complete : full.size()); ++n) {
    const Bytes cut(full.begin(), full.begin() + n);
    try {
      decode(cut, name);
      ++returned;
      std::fprintf(stderr, "%s: the first %zu of %zu bytes decoded\n", name, n, full.size());
    } catch (const deit::Error& e) {
      if (std::string(e.what()).rfind(std::string(name) + ": ", 0) != 0) ++returned;
    }
  }
  CHECK(returned == 0);
  for (size_t i = 0; i < full.size(); ++i) {  // corruption: any outcome but a crash
    Bytes bad = full;
    bad[i] ^= 0x5A;
    try {
      decode(bad, name);
    } catch (const deit::Error&) {
    }
  }
}

// A header claiming width x height, with its checksum right.
Bytes png_header(uint32_t w, uint32_t h) {
  Bytes b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (const uint32_t v : {w, h})
    b.insert(b.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
  b.insert(b.end(), {8, 2, 0, 0, 0});
  const uint32_t crc = static_cast<uint32_t>(crc32(0, b.data() + 12, 17));
  b.insert(b.end(), {uint8_t(crc >> 24), uint8_t(crc >> 16), uint8_t(crc >> 8), uint8_t(crc)});
  return b;
}

// A JPEG whose SOF0 claims width x height.
Bytes jpeg_claiming(uint16_t w, uint16_t h) {
  Bytes b = jpeg(pattern(8, 8, 3), 8, 8, TJPF_RGB, TJSAMP_444);
  for (size_t i = 2; i + 9 < b.size(); ++i) {
    if (b[i] == 0xFF && b[i + 1] == 0xC0) {
      b[i + 5] = uint8_t(h >> 8), b[i + 6] = uint8_t(h), b[i + 7] = uint8_t(w >> 8), b[i + 8] = uint8_t(w);
      break;
    }
  }
  return b;
}

void test_hostile() {
  CHECK_ERROR(decode(Bytes{}, "z.png"), DEIT_E_FORMAT, "z.png", "empty file");
  CHECK_ERROR(decode(text("GIF89a......"), "g.gif"), DEIT_E_FORMAT, "g.gif",
              "not a JPEG, PNG, BMP or PGM/PPM image");
  Bytes garbage(1000);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<uint8_t>(i * 7919 >> 3);
  CHECK_ERROR(decode(garbage, "junk"), DEIT_E_FORMAT, "junk", "not a JPEG");
  for (const char* magic :
       {"\xFF\xD8\xFF", "\x89PNG\r\n\x1A\n", "BM", "P6 "}) {  // right magic, garbage after
    Bytes b = text(magic);
    b.insert(b.end(), garbage.begin(), garbage.end());
    CHECK(expect_error([&] { decode(b, "junk"); }, DEIT_E_FORMAT, "junk", "", magic));
  }
  all_prefixes_fail(png(7, 5, SPNG_COLOR_TYPE_TRUECOLOR, 8, pattern(7, 5, 3)), "p.png");
  all_prefixes_fail(png(7, 5, SPNG_COLOR_TYPE_INDEXED, 8, Bytes(35, 1), {1, 2, 3, 4, 5, 6}), "i.png");
  all_prefixes_fail(jpeg(pattern(9, 7, 3), 9, 7, TJPF_RGB, TJSAMP_420), "p.jpg");
  all_prefixes_fail(with_exif(jpeg(pattern(9, 7, 1), 9, 7, TJPF_GRAY, TJSAMP_GRAY), 6), "e.jpg");
  all_prefixes_fail(bmp(5, 3, 24, pattern(5, 3, 3)), "p.bmp");
  all_prefixes_fail(bmp(5, 3, 8, Bytes(15, 1), true, {1, 2, 3, 4, 5, 6}), "i.bmp");
  all_prefixes_fail(pnm("P6 3 2 255\n", pattern(3, 2, 3)), "p.ppm");
  all_prefixes_fail(text("P2 2 2 255 1 2 3 4 "), "p.pgm", 18);  // plain PGM: the last "4" ends at EOF
  // Decompression bombs: refused from the header (no pixel data follows), before allocation.
  const std::string limit = "exceeds the limit of 89478485 (decompression bomb?)";
  CHECK_ERROR(decode(png_header(100000, 100000), "b.png"), DEIT_E_INVALID_ARG, "b.png",
              "100000 x 100000 pixels " + limit);
  CHECK_ERROR(decode(jpeg_claiming(60000, 60000), "b.jpg"), DEIT_E_INVALID_ARG, "b.jpg",
              "60000 x 60000 pixels " + limit);
  Bytes bomb_bmp = bmp(1, 1, 24, {1, 2, 3});
  for (int i = 0; i < 2; ++i) std::memcpy(&bomb_bmp[18 + 4 * i], "\xA0\x86\x01\x00", 4);  // 100000
  CHECK_ERROR(decode(bomb_bmp, "b.bmp"), DEIT_E_INVALID_ARG, "b.bmp", "100000 x 100000 pixels " + limit);
  CHECK_ERROR(decode(text("P6 100000 100000 255\n"), "b.ppm"), DEIT_E_INVALID_ARG, "b.ppm",
              "100000 x 100000");
  DecodeOptions small;
  small.max_pixels = 34;  // one pixel short of 7 x 5
  const std::string small_limit = "7 x 5 pixels exceeds the limit of 34";
  CHECK_ERROR(decode(png(7, 5, SPNG_COLOR_TYPE_TRUECOLOR, 8, pattern(7, 5, 3)), "s.png", small),
              DEIT_E_INVALID_ARG, "s.png", small_limit);
  CHECK_ERROR(decode(jpeg(pattern(7, 5, 3), 7, 5, TJPF_RGB, TJSAMP_444), "s.jpg", small), DEIT_E_INVALID_ARG,
              "s.jpg", small_limit);
  CHECK_ERROR(decode(bmp(7, 5, 24, pattern(7, 5, 3)), "s.bmp", small), DEIT_E_INVALID_ARG, "s.bmp",
              small_limit);
  CHECK_ERROR(decode(pnm("P6 7 5 255\n", pattern(7, 5, 3)), "s.ppm", small), DEIT_E_INVALID_ARG, "s.ppm",
              small_limit);
  small.max_pixels = 35;
  CHECK(decode(bmp(7, 5, 24, pattern(7, 5, 3)), "s.bmp", small).width == 7);
  const Bytes full = jpeg(pattern(40, 40, 3), 40, 40, TJPF_RGB, TJSAMP_420);
  CHECK_ERROR(decode(Bytes(full.begin(), full.end() - full.size() / 3), "t.jpg"), DEIT_E_FORMAT, "t.jpg",
              "Premature end of JPEG file");
}

void test_decode_file() {
  char dir[] = "/tmp/deit-test-decode-XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(!"mkdtemp");
    return;
  }
  const std::string empty = std::string(dir) + "/empty.png", good = std::string(dir) + "/x.jpg";
  std::fclose(std::fopen(empty.c_str(), "wb"));
  const Bytes ppm = pnm("P6 3 2 255\n", pattern(3, 2, 3));
  FILE* f = std::fopen(good.c_str(), "wb");  // the name says JPEG, the bytes PPM: content decides
  std::fwrite(ppm.data(), 1, ppm.size(), f);
  std::fclose(f);
  CHECK(deit::image::decode_file(good, {}).hwc == pattern(3, 2, 3));
  CHECK_ERROR(deit::image::decode_file(empty, {}), DEIT_E_FORMAT, empty, "empty file");
  CHECK_ERROR(deit::image::decode_file(std::string(dir) + "/none.png", {}), DEIT_E_IO,
              std::string(dir) + "/none.png", "");
  std::remove(empty.c_str()), std::remove(good.c_str()), rmdir(dir);
}

}  // namespace

int main() {
  test_jpeg();
  test_exif();
  test_png();
  test_bmp();
  test_pnm();
  test_channels();
  test_hostile();
  test_decode_file();
  std::printf("test_decode: %d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
