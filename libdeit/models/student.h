// The student: DeiT, a ViT with two prefix tokens ([CLS] for the labels, [DIST] for the teacher) and two
// heads.  Parameter names follow timm's VisionTransformerDistilled for every preset (cls_token,
// dist_token, pos_embed, patch_embed.proj.*, blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*,
// norm.*, head.*, head_dist.*), so weights move both ways between libdeit and timm.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <deit/deit.h>

#include "models/input_norm.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace deit::models {

// Start from student_preset() and change fields one by one; validate() says which field is wrong.
struct StudentConfig {
  std::string preset;  // the preset it started from (informational)
  int64_t img_size = 0;
  int64_t patch_size = 0;
  int64_t in_channels = 0;
  int64_t num_classes = 0;
  int64_t embed_dim = 0;
  int64_t depth = 0;
  int64_t num_heads = 0;
  int64_t mlp_dim = 0;
  bool pre_norm = false;    // true: x + f(norm(x)) (timm); false: norm(x + f(x)) (nn.TransformerEncoderLayer)
  bool gelu = false;        // MLP activation: GELU (erf) or ReLU
  double dropout = 0;       // after the attention projection, after the MLP activation and after fc2
  double attn_dropout = 0;  // on the attention probabilities
  double ln_eps = 0;        // every LayerNorm
  bool qkv_bias = false;
  bool final_norm = false;         // a LayerNorm ("norm") before the heads
  bool trunc_normal_init = false;  // timm init; false: PyTorch defaults with zero tokens/pos_embed
};

// StudentConfig's architecture fields, each once, in deit_student_config's order: the C API's conversion,
// the checkpoint's configuration, preset matching and a training state's run description all come from
// these lists.  A field added to StudentConfig gets its line here.
#define DEIT_STUDENT_C_FIELDS(X) \
  X(img_size)                    \
  X(patch_size)                  \
  X(in_channels)                 \
  X(num_classes)                 \
  X(embed_dim)                   \
  X(depth)                       \
  X(num_heads)                   \
  X(mlp_dim)                     \
  X(pre_norm)                    \
  X(gelu)                        \
  X(dropout)                     \
  X(attn_dropout)                \
  X(ln_eps)                      \
  X(qkv_bias)                    \
  X(trunc_normal_init)
// ... and those a C caller cannot set (every preset has a final norm; timm's layout needs it).
#define DEIT_STUDENT_ARCH_FIELDS(X) DEIT_STUDENT_C_FIELDS(X) X(final_norm)

// Same architecture (every field but the informational preset name).
bool same_architecture(const StudentConfig& a, const StudentConfig& b);
// "img_size 28 patch_size 7 ... final_norm 1": every architecture field, doubles exactly.
std::string describe_architecture(const StudentConfig& c);
// The preset whose architecture `c` has (for c.num_classes), or "custom".
std::string matching_preset(const StudentConfig& c);

// "seed" (the reference notebook), "deit-tiny", "deit-small", "deit-base".
const std::vector<std::string>& student_preset_names();
// Throws DEIT_E_INVALID_ARG for an unknown name (listing the valid ones) or num_classes < 1.
StudentConfig student_preset(const std::string& name, int64_t num_classes);
// Throws DEIT_E_INVALID_ARG naming the first offending field.
void validate(const StudentConfig& config);
// (img_size / patch_size)^2
int64_t num_patches(const StudentConfig& config);

class PatchEmbedImpl : public torch::nn::Module {
 public:
  explicit PatchEmbedImpl(const StudentConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // [B, C, H, W] -> [B, N, D]
  torch::nn::Conv2d proj{nullptr};                // kernel = stride = patch
};
TORCH_MODULE(PatchEmbed);

// Multi-head self-attention with a fused qkv projection ([3D, D]: q rows, then k, then v, the layout of
// PyTorch's MultiheadAttention.in_proj_weight).
class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const StudentConfig& c);
  // Queries for the first n_query tokens only (keys and values from all); n_query <= 0: every token.
  // Returns [B, n_query, D] after proj and its dropout.
  torch::Tensor forward(const torch::Tensor& x, int64_t n_query = 0);
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t num_heads_, head_dim_;
  double attn_dropout_, dropout_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const StudentConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // fc2(drop(act(fc1(x)))), then drop
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  bool gelu_;
  double dropout_;
};
TORCH_MODULE(Mlp);

// One transformer block for both norm placements (config.pre_norm).
class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const StudentConfig& c);
  // n_out > 0: only the first n_out rows are computed (they attend to every token); exact for those rows.
  torch::Tensor forward(const torch::Tensor& x, int64_t n_out = 0);
  torch::nn::LayerNorm norm1{nullptr};
  Attention attn{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};
  // Stochastic depth: in training, each image skips the block's attention and MLP branches with this
  // probability (the kept ones scaled by 1 / (1 - p)), masks from the dropout stream (ops/fused_ops.h).
  double drop_path = 0;

 private:
  torch::Tensor drop_branch(const torch::Tensor& branch) const;
  bool pre_norm_;
};
TORCH_MODULE(Block);

class DistilledViTImpl : public torch::nn::Module {
 public:
  // Validates the config (DEIT_E_INVALID_ARG) and initialises as config.trunc_normal_init says.
  explicit DistilledViTImpl(const StudentConfig& config);

  // x: [B, in_channels, img_size, img_size] float.  Returns {cls_logits, dist_logits}, each [B, classes].
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x);
  // The [CLS] and [DIST] rows after the final norm: [B, 2, D].
  torch::Tensor forward_features(const torch::Tensor& x);

  int64_t num_parameters() const;
  const StudentConfig& config() const { return config_; }
  // Stochastic depth for training (a training setting, not part of the architecture): block i of d drops
  // its branches with probability rate * i / (d - 1), as timm's drop_path_rate.  0 turns it off.
  void set_drop_path(double rate);

  // The input normalisation of the images it was trained on (models/input_norm.h), applied first in
  // forward_features; set with the student's data card (capi/model_handles.h set_card).  Not a parameter or
  // buffer: the state dict stays timm's.
  deit_normalize input_norm = DEIT_NORMALIZE_NONE;

  // The last block only needs the [CLS] and [DIST] rows after attention (queries for 2 tokens, MLP on
  // 2 rows): the same logits and gradients for fewer FLOPs.  Off only to compare against the full path.
  bool last_block_prefix_only = true;

  torch::Tensor cls_token, pos_embed, dist_token;
  PatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};  // empty when !config.final_norm
  torch::nn::Linear head{nullptr}, head_dist{nullptr};

 private:
  StudentConfig config_;
  std::vector<Block> block_list_;  // blocks, typed
  InputNormalizer normalizer_;     // applies input_norm
};
TORCH_MODULE(DistilledViT);

// DeiT's inference: the mean of the two heads' logits (DEIT_HEAD_AVG), or one head's.
torch::Tensor head_logits(const std::pair<torch::Tensor, torch::Tensor>& heads, deit_head head);
// head_logits of x without gradients (the model's mode as it is).
torch::Tensor predict_logits(DistilledViT& student, const torch::Tensor& x, deit_head head);

}  // namespace deit::models
