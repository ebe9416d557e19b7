#include "augment/augment.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"

namespace deit::augment {
namespace {

constexpr int kTries = 10;  // torchvision's RandomResizedCrop and RandomErasing try 10 boxes

at::Tensor long_on(const at::Tensor& t, const at::Device& device) { return t.to(at::kLong).to(device); }

// [B] -> [B, 1, n, 1] (dim 2) or [B, 1, 1, n] (dim 3) broadcastable against [B, C, H, W].
at::Tensor along(const at::Tensor& t, int64_t dim) {
  return dim == 2 ? t.view({t.size(0), 1, t.size(1), 1}) : t.view({t.size(0), 1, 1, t.size(1)});
}

// Rows (dim 2) or columns (dim 3) `index` [B, n] of x, keeping the other spatial size.
at::Tensor take(const at::Tensor& x, int64_t dim, const at::Tensor& index) {
  std::vector<int64_t> shape = x.sizes().vec();
  shape[static_cast<size_t>(dim)] = index.size(1);
  return x.gather(dim, along(index, dim).expand(shape));
}

// Linear interpolation of one spatial dimension: `out` samples from boxes [start, start + len) of a
// dimension, F.interpolate's half-pixel rule (source = (i + 0.5) * len / out - 0.5, at least 0), computed
// in float as PyTorch's CPU kernel does.
at::Tensor resample(const at::Tensor& x, int64_t dim, const at::Tensor& start, const at::Tensor& len, int64_t out) {
  const at::Device dev = x.device();
  const at::Tensor i = at::arange(out, at::TensorOptions().dtype(at::kFloat).device(dev)).view({1, out});
  const at::Tensor lenf = len.to(dev).to(at::kFloat).view({-1, 1});
  const at::Tensor scale = lenf / static_cast<float>(out);
  const at::Tensor src = ((i + 0.5f) * scale - 0.5f).clamp_min(0.0f);
  at::Tensor i0 = src.to(at::kLong);  // truncation = floor for src >= 0
  const at::Tensor last = long_on(len, dev).view({-1, 1}) - 1;
  i0 = at::minimum(i0, last);
  const at::Tensor i1 = at::minimum(i0 + 1, last);
  const at::Tensor w1 = along(src - i0.to(at::kFloat), dim);
  const at::Tensor s = long_on(start, dev).view({-1, 1});
  const at::Tensor a = take(x, dim, i0 + s);
  const at::Tensor b = take(x, dim, i1 + s);
  return a + (b - a) * w1;
}

// Whether each row/column index lies in [start, start + len): [B, n].
at::Tensor inside(int64_t n, const at::Tensor& start, const at::Tensor& len, const at::Device& dev) {
  const at::Tensor i = at::arange(n, at::TensorOptions().dtype(at::kLong).device(dev)).view({1, n});
  const at::Tensor s = long_on(start, dev).view({-1, 1});
  return (i >= s) & (i < s + long_on(len, dev).view({-1, 1}));
}

struct Boxes {
  at::Tensor use, top, left, height, width;  // CPU: bool, then int64 [B]
  // Sets image k's box (filled on the CPU element by element: a few numbers per image).
  void set(int64_t k, int64_t t, int64_t l, int64_t h, int64_t w) {
    use.data_ptr<bool>()[k] = true;
    top.data_ptr<int64_t>()[k] = t;
    left.data_ptr<int64_t>()[k] = l;
    height.data_ptr<int64_t>()[k] = h;
    width.data_ptr<int64_t>()[k] = w;
  }
};

Boxes make_boxes(int64_t n) {
  return {at::zeros({n}, at::kBool), at::zeros({n}, at::kLong), at::zeros({n}, at::kLong),
          at::zeros({n}, at::kLong), at::zeros({n}, at::kLong)};
}

Boxes narrow(const Boxes& b, int64_t offset, int64_t n) {
  return {b.use.narrow(0, offset, n), b.top.narrow(0, offset, n), b.left.narrow(0, offset, n),
          b.height.narrow(0, offset, n), b.width.narrow(0, offset, n)};
}

int64_t pick(double u, int64_t count) { return std::min(count - 1, static_cast<int64_t>(u * count)); }

// torchvision's RandomResizedCrop.get_params for `n` images of H x W, from uniforms u [n, kTries, 4].
Boxes resized_crop_boxes(int64_t n, int64_t H, int64_t W, double scale_min, const at::Tensor& u) {
  Boxes b = make_boxes(n);
  const auto U = u.accessor<double, 3>();
  const double area = static_cast<double>(H * W);
  const double log_lo = std::log(3.0 / 4.0), log_hi = std::log(4.0 / 3.0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t top = -1, left = 0, h = H, w = W;
    for (int t = 0; t < kTries && top < 0; ++t) {
      const double target = area * (scale_min + (1.0 - scale_min) * U[k][t][0]);
      const double ratio = std::exp(log_lo + (log_hi - log_lo) * U[k][t][1]);
      const int64_t cw = std::llround(std::sqrt(target * ratio));
      const int64_t ch = std::llround(std::sqrt(target / ratio));
      if (cw <= 0 || cw > W || ch <= 0 || ch > H) continue;
      h = ch;
      w = cw;
      top = pick(U[k][t][2], H - h + 1);
      left = pick(U[k][t][3], W - w + 1);
    }
    if (top < 0) {  // torchvision's fallback: the centre crop of the clamped ratio
      const double in_ratio = static_cast<double>(W) / static_cast<double>(H);
      h = H;
      w = W;
      if (in_ratio < 3.0 / 4.0) h = std::llround(static_cast<double>(W) / (3.0 / 4.0));
      if (in_ratio > 4.0 / 3.0) w = std::llround(static_cast<double>(H) * (4.0 / 3.0));
      h = std::min(h, H);
      w = std::min(w, W);
      top = (H - h) / 2;
      left = (W - w) / 2;
    }
    b.set(k, top, left, h, w);
  }
  return b;
}

// torchvision's RandomErasing.get_params (scale 0.02..0.33, ratio 0.3..3.3) for images erased with
// probability p, from uniforms u [n, 1 + kTries * 4].
Boxes erase_boxes(int64_t n, int64_t H, int64_t W, double p, const at::Tensor& u) {
  Boxes b = make_boxes(n);
  const auto U = u.accessor<double, 2>();
  const double area = static_cast<double>(H * W);
  const double log_lo = std::log(0.3), log_hi = std::log(3.3);
  for (int64_t k = 0; k < n; ++k) {
    if (U[k][0] >= p) continue;
    for (int t = 0; t < kTries; ++t) {
      const double* v = &U[k][1 + 4 * t];
      const double target = area * (0.02 + (0.33 - 0.02) * v[0]);
      const double ratio = std::exp(log_lo + (log_hi - log_lo) * v[1]);
      const int64_t h = std::llround(std::sqrt(target * ratio));
      const int64_t w = std::llround(std::sqrt(target / ratio));
      if (!(h < H && w < W) || h <= 0 || w <= 0) continue;
      b.set(k, pick(v[2], H - h + 1), pick(v[3], W - w + 1), h, w);
      break;
    }
  }
  return b;
}

double beta_draw(double alpha, at::Generator& gen) {
  const at::Tensor g = at::_standard_gamma(at::full({2}, alpha, at::kDouble), gen);
  const double a = g[0].item<double>(), b = g[1].item<double>();
  return a + b > 0 ? a / (a + b) : 0.5;
}

void require_probability(double p, const char* name) {
  require(std::isfinite(p) && p >= 0.0 && p <= 1.0,
          std::string(name) + " = " + std::to_string(p) + "; expected a value in [0, 1]");
}

}  // namespace

void validate(const Settings& s) {
  require(s.crop_padding >= 0 && s.crop_padding <= 1024,
          "crop_padding = " + std::to_string(s.crop_padding) + "; expected 0..1024 pixels");
  require(std::isfinite(s.resized_crop_scale) && s.resized_crop_scale >= 0.0 && s.resized_crop_scale <= 1.0,
          "resized_crop_scale = " + std::to_string(s.resized_crop_scale) +
              "; expected 0 (off) or the smallest area fraction in (0, 1]");
  require(s.crop_padding == 0 || s.resized_crop_scale == 0.0,
          "crop_padding and resized_crop_scale are both set; choose one crop");
  require_probability(s.erase_prob, "erase_prob");
  require(std::isfinite(s.mixup_alpha) && s.mixup_alpha >= 0.0,
          "mixup_alpha = " + std::to_string(s.mixup_alpha) + "; expected 0 (off) or a value > 0");
  require(std::isfinite(s.cutmix_alpha) && s.cutmix_alpha >= 0.0,
          "cutmix_alpha = " + std::to_string(s.cutmix_alpha) + "; expected 0 (off) or a value > 0");
}

bool mixes(const Settings& s) { return s.mixup_alpha > 0.0 || s.cutmix_alpha > 0.0; }

bool changes_inputs(const Settings& s) {
  return s.crop_padding > 0 || s.resized_crop_scale > 0.0 || s.hflip || s.erase_prob > 0.0 || mixes(s);
}

std::string describe(const Settings& s) {
  std::ostringstream o;
  o.precision(17);
  o << "crop_padding " << s.crop_padding << " resized_crop_scale " << s.resized_crop_scale << " hflip "
    << s.hflip << " erase_prob " << s.erase_prob << " mixup_alpha " << s.mixup_alpha << " cutmix_alpha "
    << s.cutmix_alpha;
  return o.str();
}

namespace ops {

at::Tensor pad_crop(const at::Tensor& x, int64_t pad, const at::Tensor& top, const at::Tensor& left) {
  const int64_t H = x.size(2), W = x.size(3);
  const at::Tensor padded = at::constant_pad_nd(x, {pad, pad, pad, pad}, 0.0);
  const at::Device dev = x.device();
  const at::Tensor rows = long_on(top, dev).view({-1, 1}) + at::arange(H, at::TensorOptions(dev).dtype(at::kLong));
  const at::Tensor cols = long_on(left, dev).view({-1, 1}) + at::arange(W, at::TensorOptions(dev).dtype(at::kLong));
  return take(take(padded, 2, rows), 3, cols);
}

at::Tensor resized_crop(const at::Tensor& x, const at::Tensor& top, const at::Tensor& left,
                        const at::Tensor& height, const at::Tensor& width) {
  return resample(resample(x, 2, top, height, x.size(2)), 3, left, width, x.size(3));
}

at::Tensor hflip(const at::Tensor& x, const at::Tensor& flip) {
  return at::where(flip.to(x.device()).view({-1, 1, 1, 1}), x.flip({3}), x);
}

at::Tensor erase(const at::Tensor& x, const at::Tensor& erase, const at::Tensor& top, const at::Tensor& left,
                 const at::Tensor& height, const at::Tensor& width) {
  const at::Device dev = x.device();
  const at::Tensor rows = along(inside(x.size(2), top, height, dev), 2);
  const at::Tensor cols = along(inside(x.size(3), left, width, dev), 3);
  return x.masked_fill(rows & cols & erase.to(dev).view({-1, 1, 1, 1}), 0.0);
}

at::Tensor mixup(const at::Tensor& x, double lam) { return x * lam + x.flip({0}) * (1.0 - lam); }

at::Tensor cutmix(const at::Tensor& x, int64_t top, int64_t left, int64_t height, int64_t width) {
  at::Tensor out = x.clone();
  if (height > 0 && width > 0)
    out.narrow(2, top, height).narrow(3, left, width).copy_(x.flip({0}).narrow(2, top, height).narrow(3, left, width));
  return out;
}

}  // namespace ops

Batch apply(const Settings& s, const at::Tensor& images, const at::Tensor& labels, uint64_t seed,
            int64_t offset, int64_t global) {
  const int64_t B = images.size(0), H = images.size(2), W = images.size(3);
  const int64_t G = global > 0 ? global : B;
  require(offset >= 0 && offset + B <= G, "augment: rows outside the global batch");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Batch out{images, labels, at::Tensor(), 1.0};
  at::Tensor& x = out.images;
  // Per-image numbers for the whole global batch, in a fixed order, then this rank's rows.
  if (s.crop_padding > 0) {
    const at::Tensor corner = at::randint(0, 2 * s.crop_padding + 1, {2, G}, gen, at::kLong);
    x = ops::pad_crop(x, s.crop_padding, corner[0].narrow(0, offset, B), corner[1].narrow(0, offset, B));
  } else if (s.resized_crop_scale > 0.0) {
    const Boxes b = narrow(resized_crop_boxes(G, H, W, s.resized_crop_scale,
                                              at::rand({G, kTries, 4}, gen, at::kDouble)),
                           offset, B);
    x = ops::resized_crop(x, b.top, b.left, b.height, b.width);
  }
  if (s.hflip) x = ops::hflip(x, at::rand({G}, gen, at::kDouble).narrow(0, offset, B) < 0.5);
  if (s.erase_prob > 0.0) {
    const Boxes b =
        narrow(erase_boxes(G, H, W, s.erase_prob, at::rand({G, 1 + kTries * 4}, gen, at::kDouble)), offset, B);
    x = ops::erase(x, b.use, b.top, b.left, b.height, b.width);
  }
  if (mixes(s)) {
    const at::Tensor u = at::rand({3}, gen, at::kDouble);
    const bool use_cutmix = s.cutmix_alpha > 0.0 && (s.mixup_alpha <= 0.0 || u[0].item<double>() < 0.5);
    double lam = beta_draw(use_cutmix ? s.cutmix_alpha : s.mixup_alpha, gen);
    if (use_cutmix) {  // timm's rand_bbox: a box of area (1 - lam) centred anywhere, clipped; lam corrected
      const double cut = std::sqrt(1.0 - lam);
      const int64_t ch = static_cast<int64_t>(static_cast<double>(H) * cut);
      const int64_t cw = static_cast<int64_t>(static_cast<double>(W) * cut);
      const int64_t cy = pick(u[1].item<double>(), H), cx = pick(u[2].item<double>(), W);
      const int64_t y0 = std::clamp<int64_t>(cy - ch / 2, 0, H), y1 = std::clamp<int64_t>(cy + ch / 2, 0, H);
      const int64_t x0 = std::clamp<int64_t>(cx - cw / 2, 0, W), x1 = std::clamp<int64_t>(cx + cw / 2, 0, W);
      x = ops::cutmix(x, y0, x0, y1 - y0, x1 - x0);
      lam = 1.0 - static_cast<double>((y1 - y0) * (x1 - x0)) / static_cast<double>(H * W);
    } else {
      x = ops::mixup(x, lam);
    }
    out.lam = lam;
    out.mixed_with = labels.flip({0});
  }
  return out;
}

}  // namespace deit::augment
