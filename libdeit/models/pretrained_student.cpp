// Pretrained students from timm state dicts: recognising the architecture and fitting the weights to a
// new task (see pretrained_student.h).
#include "models/pretrained_student.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "models/checkpoint.h"
#include "models/weights.h"

namespace deit::models {
namespace {

// sqrt(n) when n is a positive square, else 0.
int64_t square_side(int64_t n) {
  if (n < 1) return 0;
  auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  return side * side == n ? side : 0;
}

const at::Tensor& require_tensor(const LoadedTensors& src, const std::string& name, int64_t dim,
                                 const std::string& path) {
  const at::Tensor* t = src.find(name);
  if (!t)
    fail(DEIT_E_FORMAT, path + ": no tensor '" + name + "': not a timm ViT/DeiT state dict");
  if (t->dim() != dim)
    fail(DEIT_E_FORMAT, path + ": tensor '" + name + "' has shape " + shape_str(t->sizes()) + "; expected " +
                            std::to_string(dim) + " dimensions");
  return *t;
}

void put(LoadedTensors& src, const std::string& name, at::Tensor value) {
  for (auto& [n, t] : src.tensors)
    if (n == name) {
      t = std::move(value);
      return;
    }
  src.tensors.emplace_back(name, std::move(value));
}

// The prefix rows of pos_embed: [CLS], and [DIST] when the file has a distillation token.
int64_t prefix_rows(const LoadedTensors& src) { return src.find("dist_token") ? 2 : 1; }

// The side of pos_embed's square patch grid after `prefix` rows.
int64_t grid_side(const at::Tensor& pos, int64_t prefix, const std::string& path) {
  const int64_t side = square_side(pos.size(1) - prefix);
  if (side == 0)
    fail(DEIT_E_FORMAT, path + ": pos_embed has " + std::to_string(pos.size(1)) + " rows: not " +
                            std::to_string(prefix) + " prefix tokens and a square patch grid");
  return side;
}

}  // namespace

StudentConfig student_config_from_weights(const std::string& path) {
  const LoadedTensors src = load_state_dict(path);
  StudentConfig own;
  if (student_checkpoint_config(src, path, &own)) return own;

  const at::Tensor& proj = require_tensor(src, "patch_embed.proj.weight", 4, path);
  if (proj.size(2) != proj.size(3))
    fail(DEIT_E_FORMAT, path + ": tensor 'patch_embed.proj.weight' has shape " + shape_str(proj.sizes()) +
                            "; libdeit's patches are square");
  StudentConfig c = student_preset("deit-tiny", 1);  // timm's layout: pre-norm, GELU, eps 1e-6, timm init
  c.embed_dim = proj.size(0);
  c.in_channels = proj.size(1);
  c.patch_size = proj.size(2);
  const at::Tensor& pos = require_tensor(src, "pos_embed", 3, path);
  c.img_size = grid_side(pos, prefix_rows(src), path) * c.patch_size;
  require_tensor(src, "blocks.0.attn.qkv.weight", 2, path);
  c.depth = 1;
  while (src.find("blocks." + std::to_string(c.depth) + ".attn.qkv.weight")) ++c.depth;
  c.mlp_dim = require_tensor(src, "blocks.0.mlp.fc1.weight", 2, path).size(0);
  c.qkv_bias = src.find("blocks.0.attn.qkv.bias") != nullptr;
  if (!src.find("norm.weight"))
    fail(DEIT_E_FORMAT, path + ": no tensor 'norm.weight' (a ViT pooled through fc_norm is not a DeiT layout)");
  const at::Tensor* head = src.find("head.weight");
  c.num_classes = head && head->dim() == 2 ? head->size(0) : 0;

  // num_heads is not in the weights: a preset of the same shape says it, else timm's 64-wide heads.
  c.num_heads = 0;
  for (const std::string& name : student_preset_names()) {
    StudentConfig p = student_preset(name, std::max<int64_t>(c.num_classes, 1));
    p.img_size = c.img_size;  // a preset at another resolution or channel count is still that preset
    p.in_channels = c.in_channels;
    StudentConfig probe = c;
    probe.num_classes = p.num_classes;
    probe.num_heads = p.num_heads;
    if (same_architecture(p, probe)) {
      c.num_heads = p.num_heads;
      break;
    }
  }
  if (c.num_heads == 0 && c.embed_dim % 64 == 0) c.num_heads = c.embed_dim / 64;
  if (c.num_heads == 0)
    fail(DEIT_E_FORMAT, path + ": embed_dim " + std::to_string(c.embed_dim) +
                            " matches no preset and is not a multiple of 64, so num_heads cannot be told "
                            "from the weights; create the student with its num_heads and load the weights "
                            "into it");
  c.preset = matching_preset(c);
  return c;
}

PretrainedFit load_pretrained_weights(DistilledViTImpl& net, const std::string& path) {
  const StudentConfig& c = net.config();
  LoadedTensors src = load_state_dict(path);
  StudentConfig own;
  if (student_checkpoint_config(src, path, &own)) {
    // What the tensors cannot show must agree with the stored configuration.
    auto check = [&](const char* field, double file, double model) {
      if (file != model)
        fail(DEIT_E_FORMAT, path + ": the checkpoint's " + field + " is " + std::to_string(file) +
                                ", the student's " + std::to_string(model));
    };
    check("pre_norm", own.pre_norm, c.pre_norm);
    check("gelu", own.gelu, c.gelu);
    check("num_heads", static_cast<double>(own.num_heads), static_cast<double>(c.num_heads));
    check("ln_eps", own.ln_eps, c.ln_eps);
    check("final_norm", own.final_norm, c.final_norm);
  }
  PretrainedFit fit;
  const bool distilled = src.find("dist_token") != nullptr;
  const int64_t file_prefix = prefix_rows(src);
  const at::Tensor* cls = src.find("cls_token");
  if (!distilled && cls) {
    put(src, "dist_token", cls->clone());
    fit.dist_from_cls = true;
  }

  // pos_embed: prefix rows kept ([DIST] from [CLS] when the file has none), the grid resampled.
  if (const at::Tensor* pos = src.find("pos_embed");
      pos && pos->dim() == 3 && pos->size(0) == 1 && pos->size(2) == c.embed_dim) {
    const int64_t side = grid_side(*pos, file_prefix, path);
    const int64_t want = c.img_size / c.patch_size;
    at::Tensor p = pos->to(at::kFloat);
    at::Tensor prefix = p.narrow(1, 0, file_prefix);
    if (file_prefix == 1) prefix = at::cat({prefix, prefix}, 1);
    at::Tensor grid = p.narrow(1, file_prefix, side * side);
    if (side != want) {
      // timm's resample_abs_pos_embed: [1, N, D] -> [1, D, side, side], F.interpolate(bicubic,
      // antialias=True, align_corners=False), back to [1, want², D].
      const std::vector<int64_t> size{want, want};
      at::Tensor img = grid.reshape({1, side, side, c.embed_dim}).permute({0, 3, 1, 2});
      img = at::_upsample_bicubic2d_aa(img, size, /*align_corners=*/false);
      grid = img.permute({0, 2, 3, 1}).reshape({1, want * want, c.embed_dim});
      fit.pos_embed_resampled = true;
      log(DEIT_LOG_INFO, path + ": pos_embed resampled from a " + std::to_string(side) + "x" +
                             std::to_string(side) + " to a " + std::to_string(want) + "x" +
                             std::to_string(want) + " patch grid (bicubic)");
    }
    put(src, "pos_embed", at::cat({prefix, grid}, 1).contiguous());
  }

  // A 3-channel patch embedding for the student's channel count, as timm's adapt_input_conv.
  if (const at::Tensor* w = src.find("patch_embed.proj.weight");
      w && w->dim() == 4 && w->size(1) != c.in_channels) {
    if (w->size(1) != 3)
      fail(DEIT_E_FORMAT, path + ": tensor 'patch_embed.proj.weight' has " + std::to_string(w->size(1)) +
                              " input channels, the student " + std::to_string(c.in_channels) +
                              "; only RGB weights are adapted to another channel count");
    at::Tensor f = w->to(at::kFloat);
    at::Tensor adapted;
    if (c.in_channels == 1) {
      adapted = f.sum(1, /*keepdim=*/true);
    } else {
      const int64_t repeat = (c.in_channels + 2) / 3;
      adapted = f.repeat({1, repeat, 1, 1}).narrow(1, 0, c.in_channels) * (3.0 / static_cast<double>(c.in_channels));
    }
    put(src, "patch_embed.proj.weight", adapted.contiguous());
    fit.channels_adapted = true;
    log(DEIT_LOG_INFO, path + ": patch embedding adapted from 3 to " + std::to_string(c.in_channels) +
                           " input channels");
  }

  // Heads: kept as initialised for another class count; a non-distilled file's head starts both.
  std::set<std::string> skip;
  const at::Tensor* head = src.find("head.weight");
  if (!head || head->dim() != 2 || head->size(0) != c.num_classes) {
    skip = {"head.weight", "head.bias", "head_dist.weight", "head_dist.bias"};
    fit.fresh_heads = true;
    log(DEIT_LOG_INFO, path + ": heads initialised afresh for " + std::to_string(c.num_classes) +
                           " classes (the file's have " + (head ? std::to_string(head->size(0)) : "none") + ")");
  } else if (!src.find("head_dist.weight")) {
    put(src, "head_dist.weight", head->clone());
    if (const at::Tensor* b = src.find("head.bias")) put(src, "head_dist.bias", b->clone());
    fit.dist_from_cls = true;
  }
  if (fit.dist_from_cls)
    log(DEIT_LOG_INFO, path + ": no distillation token in the file; [DIST] starts as a copy of [CLS]" +
                           std::string(fit.fresh_heads ? "" : " (token, position and head)"));
  copy_into_module(net, src, path, skip, /*allow_float_conversion=*/true);
  return fit;
}

}  // namespace deit::models
