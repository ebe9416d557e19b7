// Antialiased resize and center crop, bit-exact with PIL 9.4's Image.resize (BILINEAR, BICUBIC) and
// torchvision 0.14's Resize(int) / CenterCrop on PIL images.  The resampler is the published separable
// scheme PIL uses: per output position a window of input samples whose filter support widens with the
// reduction factor, weights normalised in double, then 22-bit fixed point; horizontal pass first into an
// intermediate covering only the rows the vertical pass reads.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <string>

#include "core/error.h"
#include "image/image.h"

namespace deit::image {
namespace {

// 8 bits of pixel, 2 of headroom for the sum of a bicubic window's overshoot: 22 fractional bits.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = int32_t{1} << (kPrecisionBits - 1);

// Expressions kept in PIL's form: a reordered double expression could flip a weight's last fixed-point bit.
double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct FilterDef {
  double (*fn)(double);
  double support;
};

FilterDef filter_def(Filter filter) {
  switch (filter) {
    case Filter::kBilinear: return {bilinear_filter, 1.0};
    case Filter::kBicubic: return {bicubic_filter, 2.0};
  }
  invalid_arg("resize: unknown filter " + std::to_string(static_cast<int>(filter)));
}

// Fixed-point weights for one axis: output position i reads count[i] inputs from first[i], with weights
// at weights[i * taps ...].
struct Coeffs {
  int taps = 0;
  std::vector<int32_t> first;
  std::vector<int32_t> count;
  std::vector<int32_t> weights;
};

int32_t to_fixed(double w) {
  // Round half away from zero, as (int) truncation of w * 2^22 -/+ 0.5.
  const double scaled = w * (1 << kPrecisionBits);
  return static_cast<int32_t>(w < 0 ? -0.5 + scaled : 0.5 + scaled);
}

Coeffs precompute(int32_t in_size, int32_t out_size, const FilterDef& filter) {
  // PIL passes the source box as floats; for any real image side the float is exact.
  const double scale = static_cast<double>(static_cast<float>(in_size)) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter.support * filterscale;
  const double ss = 1.0 / filterscale;  // multiplied, not divided, as PIL does: the rounding differs
  Coeffs c;
  c.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(static_cast<size_t>(out_size) * c.taps, 0);
  std::vector<double> k(c.taps);
  for (int32_t i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const int32_t lo = std::max(static_cast<int32_t>(center - support + 0.5), int32_t{0});
    const int32_t hi = std::min(static_cast<int32_t>(center + support + 0.5), in_size);
    const int n = std::min(hi - lo, c.taps);
    double sum = 0.0;
    for (int t = 0; t < n; ++t) {
      k[t] = filter.fn((t + lo - center + 0.5) * ss);
      sum += k[t];
    }
    int32_t* w = &c.weights[static_cast<size_t>(i) * c.taps];
    for (int t = 0; t < n; ++t) w[t] = to_fixed(sum != 0.0 ? k[t] / sum : k[t]);
    c.first[i] = lo;
    c.count[i] = n;
  }
  return c;
}

inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// One output pixel of the horizontal pass: n taps over interleaved pixels.  Separate scalar accumulators
// keep all channels in registers (measurably faster than an accumulator array).
inline void dot1(const uint8_t* p, const int32_t* w, int32_t n, uint8_t* dst) {
  int32_t a = kHalf;
  for (int32_t t = 0; t < n; ++t) a += p[t] * w[t];
  dst[0] = clip8(a);
}

inline void dot3(const uint8_t* p, const int32_t* w, int32_t n, uint8_t* dst) {
  int32_t a0 = kHalf, a1 = kHalf, a2 = kHalf;
  for (int32_t t = 0; t < n; ++t) {
    const int32_t wt = w[t];
    a0 += p[3 * t] * wt;
    a1 += p[3 * t + 1] * wt;
    a2 += p[3 * t + 2] * wt;
  }
  dst[0] = clip8(a0);
  dst[1] = clip8(a1);
  dst[2] = clip8(a2);
}

// Horizontal pass over `rows` input rows starting at row0.
template <int C>
void horizontal(const uint8_t* in, int32_t in_w, int32_t row0, int32_t rows, const Coeffs& k, int32_t out_w,
                uint8_t* out) {
  for (int32_t y = 0; y < rows; ++y) {
    const uint8_t* src = in + static_cast<size_t>(row0 + y) * in_w * C;
    uint8_t* dst = out + static_cast<size_t>(y) * out_w * C;
    for (int32_t x = 0; x < out_w; ++x) {
      const uint8_t* p = src + static_cast<size_t>(k.first[x]) * C;
      const int32_t* w = &k.weights[static_cast<size_t>(x) * k.taps];
      if constexpr (C == 3) dot3(p, w, k.count[x], dst + x * 3);
      else dot1(p, w, k.count[x], dst + x);
    }
  }
}

// Vertical pass: rows of `in` are contiguous, so a whole output row accumulates tap by tap; integer sums
// are order-independent, so this equals PIL's per-pixel loop.  k.first[] is relative to row 0 of `in`.
void vertical(const uint8_t* in, size_t row_len, const Coeffs& k, int32_t first_row, int32_t out_h,
              uint8_t* out) {
  std::vector<int32_t> acc(row_len);
  for (int32_t y = 0; y < out_h; ++y) {
    std::fill(acc.begin(), acc.end(), kHalf);
    const int32_t* w = &k.weights[static_cast<size_t>(y) * k.taps];
    const uint8_t* src = in + static_cast<size_t>(k.first[y] - first_row) * row_len;
    for (int32_t t = 0, n = k.count[y]; t < n; ++t, src += row_len) {
      const int32_t wt = w[t];
      for (size_t i = 0; i < row_len; ++i) acc[i] += src[i] * wt;
    }
    uint8_t* dst = out + static_cast<size_t>(y) * row_len;
    for (size_t i = 0; i < row_len; ++i) dst[i] = clip8(acc[i]);
  }
}

std::string dims(int32_t width, int32_t height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

void check_image(const Image& in, const char* what) {
  const std::string w = what;
  require(in.width >= 1 && in.height >= 1,
          w + ": empty image (" + dims(in.width, in.height) + ")");
  require(in.channels == 1 || in.channels == 3,
          w + ": channels must be 1 or 3, got " + std::to_string(in.channels));
  const uint64_t expected = static_cast<uint64_t>(in.width) * in.height * in.channels;
  require(in.hwc.size() == expected, w + ": pixel buffer holds " + std::to_string(in.hwc.size()) +
                                         " bytes, expected " + std::to_string(expected));
}

Image blank(int32_t width, int32_t height, int32_t channels) {
  Image out;
  out.width = width;
  out.height = height;
  out.channels = channels;
  out.hwc.assign(static_cast<size_t>(width) * height * channels, 0);
  return out;
}

// Python's int(round(n / 2.0)) for n >= 0: halves go to the even neighbour.
int32_t half_round_even(int32_t n) {
  const int32_t k = n / 2;
  if (n % 2 == 0) return k;
  return (k % 2 == 0) ? k : k + 1;
}

}  // namespace

Image resize(const Image& in, int32_t width, int32_t height, Filter filter) {
  check_image(in, "resize");
  require(width >= 1 && height >= 1, "resize: output size must be at least 1x1, got " + dims(width, height));
  const FilterDef def = filter_def(filter);
  const int32_t c = in.channels;
  const bool need_h = width != in.width;
  const bool need_v = height != in.height;
  if (!need_h && !need_v) return in;

  const Coeffs kv = precompute(in.height, height, def);
  // Only the rows some output row reads get the horizontal pass.
  const int32_t row_first = kv.first.front();
  const int32_t row_last = kv.first.back() + kv.count.back();
  Image tmp;
  if (need_h) {
    const Coeffs kh = precompute(in.width, width, def);
    tmp = blank(width, need_v ? row_last - row_first : in.height, c);
    const int32_t row0 = need_v ? row_first : 0;
    if (c == 1) horizontal<1>(in.hwc.data(), in.width, row0, tmp.height, kh, width, tmp.hwc.data());
    else horizontal<3>(in.hwc.data(), in.width, row0, tmp.height, kh, width, tmp.hwc.data());
    if (!need_v) return tmp;
  }
  const Image& src = need_h ? tmp : in;
  Image out = blank(width, height, c);
  const size_t row_len = static_cast<size_t>(width) * c;
  vertical(src.hwc.data(), row_len, kv, need_h ? row_first : 0, height, out.hwc.data());
  return out;
}

Size shorter_side_to(int32_t width, int32_t height, int32_t size) {
  require(width >= 1 && height >= 1,
          "shorter_side_to: image size must be at least 1x1, got " + dims(width, height));
  require(size >= 1, "shorter_side_to: size must be at least 1, got " + std::to_string(size));
  const bool portrait = width <= height;
  const int64_t shorter = portrait ? width : height;
  const int64_t longer = portrait ? height : width;
  // Python's int(size * long / short): exact product, one correctly rounded division, truncation.
  const double scaled = static_cast<double>(size * longer) / static_cast<double>(shorter);
  require(scaled < 2147483648.0, "shorter_side_to: resized long side " + std::to_string(scaled) +
                                     " does not fit in 32 bits");
  const int32_t new_long = static_cast<int32_t>(scaled);
  return portrait ? Size{size, new_long} : Size{new_long, size};
}

Image center_crop(const Image& in, int32_t width, int32_t height) {
  check_image(in, "center_crop");
  require(width >= 1 && height >= 1,
          "center_crop: crop size must be at least 1x1, got " + dims(width, height));
  // torchvision pads a too-small image with zeros (the extra pixel of an odd difference on the right and
  // bottom), then crops the padded image from the rounded center.
  const int32_t pad_left = width > in.width ? (width - in.width) / 2 : 0;
  const int32_t pad_top = height > in.height ? (height - in.height) / 2 : 0;
  const int32_t padded_w = std::max(width, in.width);
  const int32_t padded_h = std::max(height, in.height);
  const int32_t x0 = half_round_even(padded_w - width) - pad_left;  // first source column
  const int32_t y0 = half_round_even(padded_h - height) - pad_top;  // first source row
  const int32_t c = in.channels;
  Image out = blank(width, height, c);
  const int32_t col_lo = std::max(0, -x0);
  const int32_t col_hi = std::min(width, in.width - x0);
  for (int32_t y = std::max(0, -y0); y < std::min(height, in.height - y0); ++y) {
    const uint8_t* src = &in.hwc[(static_cast<size_t>(y + y0) * in.width + x0 + col_lo) * c];
    std::memcpy(&out.hwc[(static_cast<size_t>(y) * width + col_lo) * c], src,
                static_cast<size_t>(col_hi - col_lo) * c);
  }
  return out;
}

}  // namespace deit::image
