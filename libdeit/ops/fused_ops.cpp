#include "ops/fused_ops.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

#include "core/hash.h"

namespace deit::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Chris Wellons' lowbias32: a 32-bit bijection with strong avalanche.  32-bit multiplies vectorise
// (AVX2 vpmulld), 64-bit ones do not: that is why the mask hashes 32-bit halves.
inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

// The mask's uniform 32-bit value for element index = (index_hi << 32) + index_lo: hashes of 32-bit halves so
// that the loops over index_lo vectorise.
inline uint32_t segment_key(uint32_t seed_hi, int64_t index) {
  return static_cast<uint32_t>(static_cast<uint64_t>(index) >> 32) * 0x9e3779b9U + seed_hi;
}
inline uint32_t mask_bits(uint32_t seed_lo, uint32_t key, uint32_t index_lo) {
  return mix32(mix32(index_lo ^ seed_lo) ^ key);
}
// End of the run of indices from `begin` that share their high 32 bits.
inline int64_t segment_end(int64_t begin, int64_t end) {
  return std::min(end, static_cast<int64_t>((static_cast<uint64_t>(begin) | 0xffffffffULL) + 1));
}

// 0 for a dropped element, scale for a kept one (a select of constants vectorises; a bool-to-float cast does
// not).
inline float keep_factor(uint32_t bits, uint32_t threshold, float scale) {
  return bits >= threshold ? scale : 0.0f;
}

// The calling thread's DropoutStreamScope state, if one is installed.
thread_local bool t_stream_active = false;
thread_local uint64_t t_stream_state = 0;
thread_local int64_t t_batch_offset = 0;  // samples before this process's in the global batch
thread_local int64_t t_batch = 0;         // this process's samples (0: not data parallel)

// Where a batch-major tensor's mask indices start: its elements continue the global batch's, so that a
// data-parallel rank draws the masks one process would draw for the same rows.
int64_t mask_base(int64_t numel) {
  if (!t_stream_active || t_batch <= 0 || t_batch_offset == 0 || numel % t_batch != 0) return 0;
  return t_batch_offset * (numel / t_batch);
}

// A fresh mask seed: from the thread's stream (splitmix64), else from the default CPU generator (so that
// at::manual_seed makes plain use reproducible).
uint64_t next_seed() {
  if (t_stream_active) return splitmix64(t_stream_state += kGoldenGamma);
  auto gen = at::detail::getDefaultCPUGenerator();
  auto* impl = at::check_generator<at::CPUGeneratorImpl>(gen);
  std::lock_guard<std::mutex> lock(impl->mutex_);
  return impl->random64();
}

bool fast_path(const at::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == at::kFloat;
}

constexpr int64_t kGrain = 16384;  // elements per parallel task: enough work to pay for a thread wake-up

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define DEIT_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DEIT_VECTOR_CLONES
#endif

// out[i] = keep(base + i) ? in[i] * scale : 0 over the flat range [begin, end).
DEIT_VECTOR_CLONES
void masked_scale(const float* __restrict in, float* __restrict out, int64_t begin, int64_t end,
                  uint64_t seed, uint32_t threshold, float scale, int64_t base) {
  const auto seed_lo = static_cast<uint32_t>(seed), seed_hi = static_cast<uint32_t>(seed >> 32);
  for (int64_t s = begin; s < end;) {
    const int64_t e = segment_end(base + s, base + end) - base;
    const uint32_t key = segment_key(seed_hi, base + s), lo = static_cast<uint32_t>(base + s),
                   n = static_cast<uint32_t>(e - s);
    const float* __restrict x = in + s;
    float* __restrict y = out + s;
    // Multiplying by 0 or scale (as PyTorch's dropout does) instead of branching lets the loop vectorise.
    for (uint32_t k = 0; k < n; ++k)
      y[k] = x[k] * keep_factor(mask_bits(seed_lo, key, lo + k), threshold, scale);
    s = e;
  }
}

// Row-major h [rows, cols] in place: h = max(h + b, 0), then dropout (threshold 0: none).  Element (r, c) has
// mask index base + r * cols + c, the same as fast_dropout's for a contiguous tensor.
DEIT_VECTOR_CLONES
void bias_relu_dropout_rows(float* __restrict h, const float* __restrict b, int64_t row_begin,
                            int64_t row_end, int64_t cols, uint64_t seed, uint32_t threshold, float scale,
                            int64_t base) {
  const auto seed_lo = static_cast<uint32_t>(seed), seed_hi = static_cast<uint32_t>(seed >> 32);
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* __restrict row = h + r * cols;
    if (threshold == 0) {
      for (int64_t c = 0; c < cols; ++c) row[c] = std::max(row[c] + b[c], 0.0f);
      continue;
    }
    for (int64_t s = r * cols, end = s + cols; s < end;) {
      const int64_t e = segment_end(base + s, base + end) - base;
      const uint32_t key = segment_key(seed_hi, base + s), lo = static_cast<uint32_t>(base + s),
                     n = static_cast<uint32_t>(e - s);
      float* __restrict y = h + s;
      const float* __restrict bias = b + (s - r * cols);
      for (uint32_t k = 0; k < n; ++k)
        y[k] =
            std::max(y[k] + bias[k], 0.0f) * keep_factor(mask_bits(seed_lo, key, lo + k), threshold, scale);
      s = e;
    }
  }
}

// g[i] = h[i] > 0 ? g[i] * scale : 0: the gradient through ReLU and dropout, read off their output h.
DEIT_VECTOR_CLONES
void relu_dropout_grad(float* __restrict g, const float* __restrict h, int64_t begin, int64_t end,
                       float scale) {
  // A select on the bits, as threshold_backward selects (a NaN gradient where h <= 0 still becomes 0); an
  // integer test of h > 0 (positive, not NaN) keeps the loop free of branches.
  for (int64_t i = begin; i < end; ++i) {
    uint32_t hb, vb;
    const float v = g[i] * scale;
    std::memcpy(&hb, &h[i], 4);
    std::memcpy(&vb, &v, 4);
    const uint32_t keep = 0U - static_cast<uint32_t>(hb - 1U < 0x7f800000U);
    vb &= keep;
    std::memcpy(&g[i], &vb, 4);
  }
}

void parallel_masked_scale(const at::Tensor& in, at::Tensor& out, uint64_t seed, uint32_t threshold,
                           float scale, int64_t base) {
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, in.numel(), kGrain, [&](int64_t begin, int64_t end) {
    masked_scale(src, dst, begin, end, seed, threshold, scale, base);
  });
}

struct CounterDropout : public torch::autograd::Function<CounterDropout> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double p) {
    const uint64_t seed = next_seed();
    const uint32_t threshold = detail::dropout_threshold(p);
    const auto scale = static_cast<float>(1.0 / (1.0 - p));
    const int64_t base = mask_base(x.numel());
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["base"] = base;
    ctx->saved_data["p"] = p;
    const at::Tensor in = x.contiguous();
    at::Tensor out = at::empty_like(in);
    parallel_masked_scale(in, out, seed, threshold, scale, base);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    const double p = ctx->saved_data["p"].toDouble();
    const at::Tensor g = grads[0].contiguous();
    at::Tensor out = at::empty_like(g);
    parallel_masked_scale(g, out, seed, detail::dropout_threshold(p), static_cast<float>(1.0 / (1.0 - p)),
                          ctx->saved_data["base"].toInt());
    return {out, at::Tensor()};
  }
};

// The ReLU MLP works through its rows in chunks whose hidden layer (chunk_rows x H floats) stays in the
// core's cache between the passes over it (first product, bias-ReLU-dropout, second product; in the backward
// pass the ReLU-dropout gradient and three products), and the chunks are shared among LibTorch's threads.
// LibTorch runs its CPU matrix products on one thread (OpenBLAS gets one: runtime.cpp), so without this the
// FFN, most of the seed student's FLOPs, used one core of two.
constexpr int64_t kChunkFloats = 1 << 18;  // 1 MiB of hidden layer per chunk: a Zen 3/4 core's L2

// Rows per chunk for `rows` rows of `hidden` units: about kChunkFloats each, and a multiple of the threads
// in number so that none waits for another's last chunk.
int64_t chunk_rows(int64_t rows, int64_t hidden) {
  if (rows <= 0) return 1;
  const int64_t target = std::max<int64_t>(8, kChunkFloats / std::max<int64_t>(1, hidden));
  const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
  int64_t chunks = (rows + target - 1) / target;
  chunks = (chunks + threads - 1) / threads * threads;
  return std::max<int64_t>(1, (rows + chunks - 1) / chunks);
}

// Calls fn(local, first_row, rows) for each chunk of [0, total_rows), the chunks spread over LibTorch's
// threads; a thread takes a contiguous run of chunks in order, with local = begin_thread() before them and
// end_thread(local, first_chunk) after.
template <typename Begin, typename Fn, typename End>
void for_row_chunks(int64_t total_rows, int64_t rows_per_chunk, Begin begin_thread, Fn fn, End end_thread) {
  const int64_t chunks = (total_rows + rows_per_chunk - 1) / rows_per_chunk;
  at::parallel_for(0, chunks, 1, [&](int64_t first, int64_t last) {
    // Grad mode is per thread and LibTorch's workers start with it on; these products are not recorded.
    const at::NoGradGuard no_grad;
    auto local = begin_thread();
    for (int64_t c = first; c < last; ++c) {
      const int64_t r0 = c * rows_per_chunk;
      fn(local, r0, std::min(rows_per_chunk, total_rows - r0));
    }
    end_thread(local, first);
  });
}

struct MlpForward {
  uint64_t seed = 0;
  uint32_t threshold = 0;  // 0: no dropout
  float scale = 1.0f;
  int64_t base = 0;
};

// The dropout of a hidden layer of `hidden_numel` elements with probability p (0: none).
MlpForward mlp_dropout(double p, int64_t hidden_numel) {
  MlpForward f;
  f.scale = static_cast<float>(1.0 / (1.0 - p));
  if (p > 0) {
    f.seed = next_seed();
    f.threshold = detail::dropout_threshold(p);
    f.base = mask_base(hidden_numel);
  }
  return f;
}

// y = fc2(dropout(relu(fc1(x)))) for contiguous x [M, D]; the hidden layer goes to `h` [M, H] when it is
// defined (training keeps it for the backward pass), else to a per-thread chunk buffer.
at::Tensor mlp_forward(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1, const at::Tensor& w2,
                       const at::Tensor& b2, const MlpForward& f, at::Tensor h) {
  const int64_t rows = x.size(0), hidden = w1.size(0), step = chunk_rows(rows, hidden);
  at::Tensor y = at::empty({rows, w2.size(0)}, x.options());
  const at::Tensor w1t = w1.t(), w2t = w2.t(), bias1 = b1.contiguous();
  const float* bp = bias1.data_ptr<float>();
  const bool keep = h.defined();
  for_row_chunks(
      rows, step,
      [&] { return keep ? h : at::empty({std::min(step, rows), hidden}, x.options()); },
      [&](at::Tensor& buffer, int64_t r0, int64_t n) {
        at::Tensor hc = keep ? buffer.narrow(0, r0, n) : buffer.narrow(0, 0, n);
        at::mm_out(hc, x.narrow(0, r0, n), w1t);
        // Bias added in this pass: addmm would first copy the broadcast bias, one more pass.
        bias_relu_dropout_rows(hc.data_ptr<float>(), bp, 0, n, hidden, f.seed, f.threshold, f.scale,
                               f.base + r0 * hidden);
        at::Tensor yc = y.narrow(0, r0, n);
        at::addmm_out(yc, b2, hc, w2t);
      },
      [](at::Tensor&, int64_t) {});
  return y;
}

// Saves x [M, D] and the hidden layer after ReLU and dropout [M, H]; nothing else.
struct ReluDropoutMlp : public torch::autograd::Function<ReluDropoutMlp> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w1,
                            const at::Tensor& b1, const at::Tensor& w2, const at::Tensor& b2, double p) {
    at::Tensor h = at::empty({x.size(0), w1.size(0)}, x.options());
    const MlpForward f = mlp_dropout(p, h.numel());
    at::Tensor y = mlp_forward(x, w1, b1, w2, b2, f, h);
    ctx->save_for_backward({x, w1, w2, h});
    ctx->saved_data["scale"] = static_cast<double>(f.scale);
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w1 = saved[1], &w2 = saved[2], &h = saved[3];
    const auto scale = static_cast<float>(ctx->saved_data["scale"].toDouble());
    const at::Tensor gy = grads[0].contiguous();
    const int64_t rows = x.size(0), hidden = h.size(1), step = chunk_rows(rows, hidden);
    at::Tensor grad_x = at::empty_like(x);
    // Each thread sums the weight gradients of its chunks; the threads' sums are added in the order of their
    // first chunk, so a run is deterministic for a given number of threads.
    struct Partial {
      at::Tensor g, grad_w1, grad_b1, grad_w2;
    };
    std::mutex mutex;
    std::vector<std::pair<int64_t, Partial>> partials;
    auto zero_partial = [&](at::Tensor g) {
      return Partial{std::move(g), at::zeros_like(w1), at::zeros({hidden}, h.options()), at::zeros_like(w2)};
    };
    for_row_chunks(
        rows, step, [&] { return zero_partial(at::empty({std::min(step, rows), hidden}, h.options())); },
        [&](Partial& t, int64_t r0, int64_t n) {
          const at::Tensor gyc = gy.narrow(0, r0, n), hc = h.narrow(0, r0, n);
          t.grad_w2.addmm_(gyc.t(), hc);
          at::Tensor g = t.g.narrow(0, 0, n);
          at::mm_out(g, gyc, w2);
          relu_dropout_grad(g.data_ptr<float>(), hc.data_ptr<float>(), 0, g.numel(), scale);
          t.grad_w1.addmm_(g.t(), x.narrow(0, r0, n));
          t.grad_b1.add_(g.sum(0));
          at::Tensor gxc = grad_x.narrow(0, r0, n);
          at::mm_out(gxc, g, w1);
        },
        [&](Partial& t, int64_t first_chunk) {
          t.g = at::Tensor();
          std::lock_guard<std::mutex> lock(mutex);
          partials.emplace_back(first_chunk, std::move(t));
        });
    std::sort(partials.begin(), partials.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    Partial sum = zero_partial(at::Tensor());  // stays zero with no rows
    for (const auto& [first_chunk, t] : partials) {
      sum.grad_w1.add_(t.grad_w1);
      sum.grad_b1.add_(t.grad_b1);
      sum.grad_w2.add_(t.grad_w2);
    }
    return {grad_x, sum.grad_w1, sum.grad_b1, sum.grad_w2, gy.sum(0), at::Tensor()};
  }
};

}  // namespace

namespace detail {

uint32_t dropout_threshold(double p) {
  // P(drop) = threshold / 2^32, within 2^-32 of p.
  return static_cast<uint32_t>(std::min(std::llround(p * 4294967296.0), 4294967295LL));
}

bool dropout_keeps(uint64_t seed, uint32_t threshold, int64_t index) {
  const uint32_t key = segment_key(static_cast<uint32_t>(seed >> 32), index);
  return mask_bits(static_cast<uint32_t>(seed), key, static_cast<uint32_t>(index)) >= threshold;
}

}  // namespace detail

DropoutStreamScope::DropoutStreamScope(uint64_t seed, int64_t batch_offset, int64_t batch)
    : had_previous_(t_stream_active),
      previous_(t_stream_state),
      previous_offset_(t_batch_offset),
      previous_batch_(t_batch) {
  t_stream_active = true;
  t_stream_state = seed;
  t_batch_offset = batch_offset;
  t_batch = batch;
}

DropoutStreamScope::~DropoutStreamScope() {
  t_stream_active = had_previous_;
  t_stream_state = previous_;
  t_batch_offset = previous_offset_;
  t_batch = previous_batch_;
}

at::Tensor fast_dropout(const at::Tensor& x, double p, bool training) {
  if (!training || p <= 0) return x;
  if (!fast_path(x)) return at::dropout(x, p, /*train=*/true);
  return CounterDropout::apply(x, p);
}

at::Tensor relu_dropout_mlp(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1,
                            const at::Tensor& w2, const at::Tensor& b2, double p, bool training) {
  const double q = training ? p : 0.0;
  if (!fast_path(x) || !fast_path(w1) || !fast_path(w2)) {
    at::Tensor h = at::relu(at::linear(x, w1, b1));
    return at::linear(q > 0 ? at::dropout(h, q, /*train=*/true) : h, w2, b2);
  }
  const at::Tensor flat = x.reshape({-1, x.size(-1)}).contiguous();
  std::vector<int64_t> out_shape = x.sizes().vec();
  out_shape.back() = w2.size(0);
  const bool needs_grad = at::GradMode::is_enabled() &&
                          (x.requires_grad() || w1.requires_grad() || b1.requires_grad() ||
                           w2.requires_grad() || b2.requires_grad());
  if (needs_grad) return ReluDropoutMlp::apply(flat, w1, b1, w2, b2, q).view(out_shape);
  // Inference: nothing to save, so the hidden layer never leaves the per-thread chunk buffers.
  const MlpForward f = mlp_dropout(q, flat.size(0) * w1.size(0));
  return mlp_forward(flat, w1, b1, w2, b2, f, at::Tensor()).view(out_shape);
}

}  // namespace deit::ops
