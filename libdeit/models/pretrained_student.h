// Pretrained students: plain safetensors state dicts under timm's names (timm's
// deit_*_distilled_patch16_224, deit_*_patch16_224 and vit_* layouts, no libdeit metadata needed), or
// libdeit student checkpoints, loaded into a student built for a new task.
#pragma once

#include <string>

#include "models/student.h"

namespace deit::models {

// The architecture the file's tensors describe (a libdeit checkpoint: its stored configuration).
//   embed_dim, in_channels, patch_size   patch_embed.proj.weight [D, C, P, P]
//   img_size                             pos_embed's patch grid (side × patch_size)
//   depth, mlp_dim, qkv_bias             blocks.N.*, blocks.0.mlp.fc1.weight, blocks.0.attn.qkv.bias
//   num_classes                          head.weight's rows (0 when the file has no head)
//   num_heads                            not stored in weights: the matching preset's, else embed_dim / 64
//                                        (every timm DeiT/ViT preset has 64-wide heads); neither → error
// and timm's layout for the rest (pre-norm, GELU, LayerNorm eps 1e-6, final norm, timm init).
// DEIT_E_FORMAT names what is missing or inconsistent.
StudentConfig student_config_from_weights(const std::string& path);

// What load_pretrained_weights did to fit the file to the student (each is also logged at INFO).
struct PretrainedFit {
  bool fresh_heads = false;          // the file's heads have another class count (or none): kept fresh
  bool dist_from_cls = false;        // no distillation token/head in the file: copies of the class ones
  bool pos_embed_resampled = false;  // another patch grid: bicubic (antialiased), prefix tokens kept
  bool channels_adapted = false;     // RGB patch embedding for another channel count (timm's rule)
};

// Copies the file's weights into `net`, adapting what a new task changes: heads for another class count
// are left as initialised; a non-distilled file starts dist_token / head_dist from cls_token / head (and
// the [DIST] position from the [CLS] one); pos_embed is resampled to net's grid as timm's
// resample_abs_pos_embed does (bicubic, antialias, prefix tokens unchanged); a 3-channel patch embedding
// is summed for 1 channel or repeated and rescaled for more (timm's adapt_input_conv).  Everything else
// must match net's architecture: the error (DEIT_E_FORMAT) names the first tensor that does not, and net
// is unchanged then.  A libdeit checkpoint's stored norm placement, activation, heads and eps must also
// match net's.
PretrainedFit load_pretrained_weights(DistilledViTImpl& net, const std::string& path);

}  // namespace deit::models
