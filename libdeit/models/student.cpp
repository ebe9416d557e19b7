#include "models/student.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "runtime/runtime.h"
#include "ops/fused_ops.h"

namespace deit::models {
namespace {

namespace nn = torch::nn;

// The presets, one line each (num_classes is filled in by student_preset).
// clang-format off
const StudentConfig kPresets[] = {
  // preset      img  patch in cls dim  depth heads mlp   pre_nrm gelu   drop attn ln_eps qkv_b final tn_init
  {"seed",       28,  7,    3, 0,  32,  4,    4,    2048, false,  false, 0.1, 0.1, 1e-5,  true, true,  false},
  {"deit-tiny",  224, 16,   3, 0,  192, 12,   3,    768,  true,   true,  0.0, 0.0, 1e-6,  true, true,  true},
  {"deit-small", 224, 16,   3, 0,  384, 12,   6,    1536, true,   true,  0.0, 0.0, 1e-6,  true, true,  true},
  {"deit-base",  224, 16,   3, 0,  768, 12,   12,   3072, true,   true,  0.0, 0.0, 1e-6,  true, true,  true},
  // DeiT's block (timm layout) sized for 28-32 pixel images: 4-pixel patches (49 tokens on 28x28), 6 blocks
  // of width 64.  Small ViTs of this shape reach ~92% on Fashion-MNIST with augmentation (issue 16).
  {"small-image", 28, 4,    3, 0,  64,  6,    4,    128,  true,   true,  0.0, 0.0, 1e-6,  true, true,  true},
};
// clang-format on

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// Sizes are capped so that products of them (sequence length, tensor sizes) stay far from overflow.
void require_size(int64_t value, const char* field) {
  constexpr int64_t kMax = int64_t{1} << 24;
  require(value >= 1 && value <= kMax, std::string("student config: ") + field + " must be in [1, " +
                                           std::to_string(kMax) + "] (got " + std::to_string(value) + ")");
}

void require_probability(double p, const char* field) {
  require(p >= 0.0 && p < 1.0,
          std::string("student config: ") + field + " must be in [0, 1) (got " + num(p) + ")");
}

// PyTorch's nn.init.trunc_normal_ (inverse-CDF sampling), bounds [a, b] absolute as in timm.
void trunc_normal_(torch::Tensor t, double std, double a = -2.0, double b = 2.0) {
  torch::NoGradGuard no_grad;
  auto cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double l = cdf(a / std), u = cdf(b / std);
  t.uniform_(2 * l - 1, 2 * u - 1).erfinv_().mul_(std * std::sqrt(2.0)).clamp_(a, b);
}

// Per-head attention products up to this many multiply-adds (queries x keys x head_dim) skip GEMM calls.
constexpr int64_t kSmallAttention = 4096;

std::string shape_str(const torch::Tensor& x) {
  std::ostringstream os;
  os << x.sizes();
  return os.str();
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Configuration

const std::vector<std::string>& student_preset_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const StudentConfig& p : kPresets) v.push_back(p.preset);
    return v;
  }();
  return names;
}

StudentConfig student_preset(const std::string& name, int64_t num_classes) {
  for (const StudentConfig& p : kPresets) {
    if (p.preset != name) continue;
    require_size(num_classes, "num_classes");
    StudentConfig c = p;
    c.num_classes = num_classes;
    return c;
  }
  invalid_arg("unknown student preset '" + name + "' (valid: " + join_names(student_preset_names()) + ")");
}

bool same_architecture(const StudentConfig& a, const StudentConfig& b) {
#define DEIT_SAME(field) a.field == b.field &&
  return DEIT_STUDENT_ARCH_FIELDS(DEIT_SAME) true;
#undef DEIT_SAME
}

std::string describe_architecture(const StudentConfig& c) {
  std::ostringstream os;
  os.precision(17);
#define DEIT_DESCRIBE(field) os << (os.tellp() > 0 ? " " : "") << #field " " << c.field;
  DEIT_STUDENT_ARCH_FIELDS(DEIT_DESCRIBE)
#undef DEIT_DESCRIBE
  return os.str();
}

std::string matching_preset(const StudentConfig& c) {
  if (c.num_classes < 1) return "custom";
  for (const std::string& name : student_preset_names())
    if (same_architecture(student_preset(name, c.num_classes), c)) return name;
  return "custom";
}

void validate(const StudentConfig& c) {
  require_size(c.img_size, "img_size");
  require_size(c.patch_size, "patch_size");
  require_size(c.in_channels, "in_channels");
  require_size(c.num_classes, "num_classes");
  require_size(c.embed_dim, "embed_dim");
  require_size(c.depth, "depth");
  require_size(c.num_heads, "num_heads");
  require_size(c.mlp_dim, "mlp_dim");
  require(c.img_size % c.patch_size == 0, "student config: img_size (" + std::to_string(c.img_size) +
                                              ") must be a multiple of patch_size (" +
                                              std::to_string(c.patch_size) + ")");
  require(c.embed_dim % c.num_heads == 0, "student config: embed_dim (" + std::to_string(c.embed_dim) +
                                              ") must be a multiple of num_heads (" +
                                              std::to_string(c.num_heads) + ")");
  require_probability(c.dropout, "dropout");
  require_probability(c.attn_dropout, "attn_dropout");
  require(std::isfinite(c.ln_eps) && c.ln_eps > 0,
          "student config: ln_eps must be > 0 (got " + num(c.ln_eps) + ")");
}

int64_t num_patches(const StudentConfig& c) {
  const int64_t side = c.img_size / c.patch_size;
  return side * side;
}

// ---------------------------------------------------------------------------------------------------------
// Modules

PatchEmbedImpl::PatchEmbedImpl(const StudentConfig& c)
    : proj(register_module(
          "proj",
          nn::Conv2d(nn::Conv2dOptions(c.in_channels, c.embed_dim, c.patch_size).stride(c.patch_size)))) {}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& x) {
  return proj(x).flatten(2).transpose(1, 2);
}

AttentionImpl::AttentionImpl(const StudentConfig& c)
    : qkv(register_module("qkv",
                          nn::Linear(nn::LinearOptions(c.embed_dim, 3 * c.embed_dim).bias(c.qkv_bias)))),
      proj(register_module("proj", nn::Linear(c.embed_dim, c.embed_dim))),
      num_heads_(c.num_heads),
      head_dim_(c.embed_dim / c.num_heads),
      attn_dropout_(c.attn_dropout),
      dropout_(c.dropout) {
  // nn.MultiheadAttention's own init (the model may override it with timm's).
  torch::NoGradGuard no_grad;
  nn::init::xavier_uniform_(qkv->weight);
  if (qkv->bias.defined()) qkv->bias.zero_();
  proj->bias.zero_();
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, int64_t n_query) {
  const int64_t B = x.size(0), N = x.size(1), D = num_heads_ * head_dim_;
  const int64_t nq = n_query > 0 && n_query < N ? n_query : N;
  torch::Tensor q, k, v;
  if (nq == N) {
    auto parts = qkv(x).reshape({B, N, 3, num_heads_, head_dim_}).permute({2, 0, 3, 1, 4}).unbind(0);
    q = parts[0], k = parts[1], v = parts[2];
  } else {
    // Rows 0..D-1 of the fused weight make q, the rest k and v: slice it instead of computing all q.
    const torch::Tensor& w = qkv->weight;
    const torch::Tensor& b = qkv->bias;
    q = torch::linear(x.narrow(1, 0, nq), w.narrow(0, 0, D), b.defined() ? b.narrow(0, 0, D) : b)
            .reshape({B, nq, num_heads_, head_dim_})
            .transpose(1, 2);
    auto parts = torch::linear(x, w.narrow(0, D, 2 * D), b.defined() ? b.narrow(0, D, 2 * D) : b)
                     .reshape({B, N, 2, num_heads_, head_dim_})
                     .permute({2, 0, 3, 1, 4})
                     .unbind(0);
    k = parts[0], v = parts[1];
  }
  const double p = is_training() ? attn_dropout_ : 0.0;
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim_));
  torch::Tensor out;
  if (x.device().is_cpu() && nq * N * head_dim_ <= kSmallAttention) {
    // Tiny per-head products (the seed student: 18 x 8 by 8 x 18): LibTorch's CPU bmm would make one GEMM
    // call per batch and head, whose overhead dwarfs the arithmetic; broadcast products and sums are a few
    // vectorised passes instead.  Same maths: softmax(q k^T / sqrt(head_dim)), dropout, @ v.
    torch::Tensor attn = ((q * scale).unsqueeze(3) * k.unsqueeze(2)).sum(-1);  // [B, H, nq, N]
    attn = ops::fast_dropout(attn.softmax(-1), p, true);
    out = (attn.unsqueeze(-1) * v.unsqueeze(2)).sum(3);  // [B, H, nq, head_dim]
  } else {
#if TORCH_VERSION_MAJOR >= 2
    // The same maths in fused kernels.
    out = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, p, /*is_causal=*/false);
#else
    torch::Tensor attn = torch::matmul(q * scale, k.transpose(-2, -1));
    attn = ops::fast_dropout(attn.softmax(-1), p, true);
    out = torch::matmul(attn, v);
#endif
  }
  out = proj(out.transpose(1, 2).reshape({B, nq, D}));
  return ops::fast_dropout(out, dropout_, is_training());
}

MlpImpl::MlpImpl(const StudentConfig& c)
    : fc1(register_module("fc1", nn::Linear(c.embed_dim, c.mlp_dim))),
      fc2(register_module("fc2", nn::Linear(c.mlp_dim, c.embed_dim))),
      gelu_(c.gelu),
      dropout_(c.dropout) {}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor h;
  if (gelu_) {
    h = fc2(ops::fast_dropout(torch::gelu(fc1(x)), dropout_, is_training()));
  } else {
    h = ops::relu_dropout_mlp(x, fc1->weight, fc1->bias, fc2->weight, fc2->bias, dropout_, is_training());
  }
  return ops::fast_dropout(h, dropout_, is_training());
}

BlockImpl::BlockImpl(const StudentConfig& c)
    : norm1(register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({c.embed_dim}).eps(c.ln_eps)))),
      attn(register_module("attn", Attention(c))),
      norm2(register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({c.embed_dim}).eps(c.ln_eps)))),
      mlp(register_module("mlp", Mlp(c))),
      pre_norm_(c.pre_norm) {}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, int64_t n_out) {
  const int64_t N = x.size(1);
  const int64_t n = n_out > 0 && n_out < N ? n_out : N;
  const torch::Tensor rows = n < N ? x.narrow(1, 0, n) : x;
  if (pre_norm_) {  // timm: x + attn(norm1(x)); x + mlp(norm2(x))
    torch::Tensor y = rows + drop_branch(attn(norm1(x), n));
    return y + drop_branch(mlp(norm2(y)));
  }
  // nn.TransformerEncoderLayer (norm_first=False): norm1(x + attn(x)); norm2(x + mlp(x))
  torch::Tensor y = norm1(rows + drop_branch(attn(x, n)));
  return norm2(y + drop_branch(mlp(y)));
}

torch::Tensor BlockImpl::drop_branch(const torch::Tensor& branch) const {
  if (!is_training() || drop_path <= 0.0) return branch;
  // One keep / drop per image: dropout of a [B, 1, 1] tensor of ones, broadcast over the tokens.
  return branch * ops::fast_dropout(torch::ones({branch.size(0), 1, 1}, branch.options()), drop_path, true);
}

void DistilledViTImpl::set_drop_path(double rate) {
  require(std::isfinite(rate) && rate >= 0.0 && rate < 1.0,
          "drop_path = " + std::to_string(rate) + "; expected a value in [0, 1)");
  const size_t d = block_list_.size();
  for (size_t i = 0; i < d; ++i)
    block_list_[i]->drop_path = d > 1 ? rate * static_cast<double>(i) / static_cast<double>(d - 1) : rate;
}

DistilledViTImpl::DistilledViTImpl(const StudentConfig& config) : config_(config) {
  validate(config_);
  const int64_t D = config_.embed_dim;
  // Registration order as timm's state_dict: cls_token, pos_embed, dist_token, patch_embed, blocks, ...
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, D}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, num_patches(config_) + 2, D}));
  dist_token = register_parameter("dist_token", torch::zeros({1, 1, D}));
  patch_embed = register_module("patch_embed", PatchEmbed(config_));
  blocks = register_module("blocks", nn::ModuleList());
  for (int64_t i = 0; i < config_.depth; ++i) {
    block_list_.emplace_back(config_);
    blocks->push_back(block_list_.back());
  }
  if (config_.final_norm)
    norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({D}).eps(config_.ln_eps)));
  head = register_module("head", nn::Linear(D, config_.num_classes));
  head_dist = register_module("head_dist", nn::Linear(D, config_.num_classes));

  if (config_.trunc_normal_init) {
    // timm / DeiT: trunc_normal(.02) tokens, positions and Linear weights; Linear bias 0; LayerNorm 1/0
    // (LibTorch's default); the patch conv keeps its default init.
    torch::NoGradGuard no_grad;
    trunc_normal_(pos_embed, 0.02);
    trunc_normal_(cls_token, 0.02);
    trunc_normal_(dist_token, 0.02);
    for (const auto& m : modules(/*include_self=*/false)) {
      if (auto* lin = m->as<nn::Linear>()) {
        trunc_normal_(lin->weight, 0.02);
        if (lin->bias.defined()) lin->bias.zero_();
      }
    }
  }
  // Otherwise the reference notebook's: zero tokens and positions, PyTorch's default module inits.
}

torch::Tensor DistilledViTImpl::forward_features(const torch::Tensor& x) {
  const StudentConfig& c = config_;
  require(x.dim() == 4 && x.size(1) == c.in_channels && x.size(2) == c.img_size && x.size(3) == c.img_size,
          "student input must be [B, " + std::to_string(c.in_channels) + ", " + std::to_string(c.img_size) +
              ", " + std::to_string(c.img_size) + "] (got " + shape_str(x) + ")");
  const int64_t B = x.size(0);
  torch::Tensor t = torch::cat(
      {cls_token.expand({B, -1, -1}), dist_token.expand({B, -1, -1}), patch_embed(normalizer_(x, input_norm))},
      1);
  t = t + pos_embed;
  const size_t last = block_list_.size() - 1;
  for (size_t i = 0; i < block_list_.size(); ++i)
    t = block_list_[i](t, last_block_prefix_only && i == last ? 2 : 0);
  t = t.narrow(1, 0, 2);  // LayerNorm is per row: normalising only [CLS] and [DIST] is exact
  return norm.is_empty() ? t : norm(t);
}

std::pair<torch::Tensor, torch::Tensor> DistilledViTImpl::forward(const torch::Tensor& x) {
  torch::Tensor f = forward_features(x);
  return {head(f.select(1, 0)), head_dist(f.select(1, 1))};
}

int64_t DistilledViTImpl::num_parameters() const {
  int64_t n = 0;
  for (const torch::Tensor& p : parameters()) n += p.numel();
  return n;
}

torch::Tensor head_logits(const std::pair<torch::Tensor, torch::Tensor>& heads, deit_head head) {
  switch (head) {
    case DEIT_HEAD_CLS: return heads.first;
    case DEIT_HEAD_DIST: return heads.second;
    default: return (heads.first + heads.second) / 2;
  }
}

torch::Tensor predict_logits(DistilledViT& student, const torch::Tensor& x, deit_head head) {
  runtime::ensure_threads();  // a prediction may be the process's first tensor work
  torch::NoGradGuard no_grad;
  return head_logits(student->forward(x), head);
}

}  // namespace deit::models
