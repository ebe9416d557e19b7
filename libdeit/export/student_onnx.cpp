#include "export/student_onnx.h"

#include <torch/torch.h>

#include <cmath>
#include <map>

#include "core/error.h"
#include "export/onnx_writer.h"
#include "models/input_norm.h"

namespace deit::onnx_export {
namespace {

using Names = std::vector<std::string>;

// Walks the student the way DistilledViTImpl::forward does and emits the same operations.  Parameters
// become initializers when first used, so the head left out of a one-head export is not in the file.
class StudentGraph {
 public:
  StudentGraph(const models::DistilledViTImpl& net, GraphBuilder& g)
      : c_(net.config()), input_norm_(net.input_norm), g_(g) {
    for (const auto& p : net.named_parameters()) params_.emplace(p.key(), p.value());
  }

  std::string logits(const std::string& images, deit_head head) {
    const int64_t D = c_.embed_dim, p = c_.patch_size;
    // The student's input normalisation (models/input_norm.h): (images - mean) / std, per channel.
    std::string in = images;
    const auto [mean, std] = models::normalization_constants(input_norm_, c_.in_channels);
    if (!mean.empty()) {
      auto channel_constant = [&](const std::string& name, const std::vector<double>& v) {
        const std::vector<float> f(v.begin(), v.end());
        if (!g_.has_initializer(name)) g_.add_float(name, {1, c_.in_channels, 1, 1}, f.data());
        return name;
      };
      in = g_.node("Sub", {in, channel_constant("normalize/mean", mean)}, "images/centred");
      in = g_.node("Div", {in, channel_constant("normalize/std", std)}, "images/normalized");
    }
    // Patch embedding: a conv with kernel = stride = patch, then [B, D, g, g] -> [B, N, D].
    std::string x = g_.node("Conv", {in, param("patch_embed.proj.weight"), param("patch_embed.proj.bias")},
                            "patch_embed/conv",
                            {Attribute::integers("kernel_shape", {p, p}), Attribute::integers("strides", {p, p})});
    x = g_.node("Reshape", {x, ints("shape/patches", {0, D, -1})}, "patch_embed/flatten");
    x = g_.node("Transpose", {x}, "patch_embed/tokens", {Attribute::integers("perm", {0, 2, 1})});

    // [CLS] and [DIST] broadcast over the batch: Expand to [batch, 1, 1] (the batch size read from the input).
    const std::string prefix = g_.node("Concat", {param("cls_token"), param("dist_token")}, "prefix_tokens",
                                       {Attribute::integer("axis", 1)});
    const std::string shape = g_.node("Shape", {images}, "batch/shape");
    const std::string batch =
        g_.node("Slice", {shape, ints("index/0", {0}), ints("index/1", {1})}, "batch/size");
    const std::string expand_to =
        g_.node("Concat", {batch, ints("shape/1x1", {1, 1})}, "batch/expand_shape", {Attribute::integer("axis", 0)});
    const std::string prefix_b = g_.node("Expand", {prefix, expand_to}, "prefix_tokens/batch");
    x = g_.node("Concat", {prefix_b, x}, "tokens", {Attribute::integer("axis", 1)});
    x = g_.node("Add", {x, param("pos_embed")}, "tokens/pos");

    for (int64_t i = 0; i < c_.depth; ++i) x = block(x, "blocks." + std::to_string(i));

    // Only the [CLS] and [DIST] rows go on (LayerNorm is per row).
    x = g_.node("Slice", {x, ints("index/0", {0}), ints("index/2", {2}), ints("index/1", {1})}, "prefix_rows");
    if (c_.final_norm) x = layer_norm(x, "norm");
    const std::string cls = g_.node("Gather", {x, scalar_index(0)}, "features/cls", {Attribute::integer("axis", 1)});
    const std::string dist =
        g_.node("Gather", {x, scalar_index(1)}, "features/dist", {Attribute::integer("axis", 1)});
    switch (head) {
      case DEIT_HEAD_CLS: return classifier(cls, "head", "logits");
      case DEIT_HEAD_DIST: return classifier(dist, "head_dist", "logits");
      default: {
        // (cls + dist) / 2, as models::head_logits (x 0.5 is exact).
        const std::string sum = g_.node(
            "Add", {classifier(cls, "head", "head/logits"), classifier(dist, "head_dist", "head_dist/logits")},
            "heads/sum");
        return g_.node("Mul", {sum, real("const/half", 0.5f)}, "logits");
      }
    }
  }

 private:
  // A parameter as an initializer, float32, under its own name.
  std::string param(const std::string& name) {
    if (!g_.has_initializer(name)) {
      auto it = params_.find(name);
      require(it != params_.end(), "ONNX export: the student has no parameter '" + name + "'");
      const at::Tensor t = it->second.detach().to(at::kCPU, at::kFloat).contiguous();
      g_.add_float(name, t.sizes().vec(), t.data_ptr<float>());
    }
    return name;
  }

  std::string ints(const std::string& name, const std::vector<int64_t>& values) {
    if (!g_.has_initializer(name)) g_.add_int64(name, {static_cast<int64_t>(values.size())}, values);
    return name;
  }

  std::string scalar_index(int64_t i) {
    const std::string name = "index/scalar" + std::to_string(i);
    if (!g_.has_initializer(name)) g_.add_int64(name, {}, {i});
    return name;
  }

  std::string real(const std::string& name, float v) {
    if (!g_.has_initializer(name)) g_.add_float(name, {}, &v);
    return name;
  }

  std::string layer_norm(const std::string& x, const std::string& prefix) {
    return g_.node("LayerNormalization", {x, param(prefix + ".weight"), param(prefix + ".bias")}, prefix,
                   {Attribute::integer("axis", -1), Attribute::real("epsilon", static_cast<float>(c_.ln_eps))});
  }

  // x @ W^T (+ b) for [B, T, in] inputs.  The weight stays in PyTorch's [out, in] layout under its own name;
  // onnxruntime folds the Transpose of a constant when it loads the model.
  std::string linear(const std::string& x, const std::string& prefix, bool bias) {
    const std::string wt =
        g_.node("Transpose", {param(prefix + ".weight")}, prefix + ".weight/T", {Attribute::integers("perm", {1, 0})});
    std::string y = g_.node("MatMul", {x, wt}, prefix + "/matmul");
    if (bias) y = g_.node("Add", {y, param(prefix + ".bias")}, prefix);
    return y;
  }

  // A [B, D] row through a head: Gemm with the [classes, D] weight as it is.
  std::string classifier(const std::string& x, const std::string& prefix, const std::string& out) {
    return g_.node("Gemm", {x, param(prefix + ".weight"), param(prefix + ".bias")}, out,
                   {Attribute::integer("transB", 1)});
  }

  std::string attention(const std::string& x, const std::string& prefix) {
    const int64_t H = c_.num_heads, hd = c_.embed_dim / c_.num_heads;
    // qkv [B, T, 3D] -> [3, B, H, T, hd]: q rows, then k, then v (AttentionImpl's layout).
    std::string qkv = linear(x, prefix + ".qkv", c_.qkv_bias);
    qkv = g_.node("Reshape", {qkv, ints("shape/qkv", {0, 0, 3, H, hd})}, prefix + "/qkv_heads");
    qkv = g_.node("Transpose", {qkv}, prefix + "/qkv_split", {Attribute::integers("perm", {2, 0, 3, 1, 4})});
    auto part = [&](int64_t k, const char* name) {
      return g_.node("Gather", {qkv, scalar_index(k)}, prefix + "/" + name, {Attribute::integer("axis", 0)});
    };
    const std::string q = part(0, "q"), k = part(1, "k"), v = part(2, "v");
    // softmax(q / sqrt(hd) . k^T) . v, the scale on q as in AttentionImpl.
    const std::string qs = g_.node(
        "Mul", {q, real("const/attn_scale", static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd))))},
        prefix + "/q_scaled");
    const std::string kt = g_.node("Transpose", {k}, prefix + "/k_t", {Attribute::integers("perm", {0, 1, 3, 2})});
    std::string a = g_.node("MatMul", {qs, kt}, prefix + "/scores");
    a = g_.node("Softmax", {a}, prefix + "/probs", {Attribute::integer("axis", -1)});
    std::string o = g_.node("MatMul", {a, v}, prefix + "/context");
    o = g_.node("Transpose", {o}, prefix + "/context_t", {Attribute::integers("perm", {0, 2, 1, 3})});
    o = g_.node("Reshape", {o, ints("shape/tokens", {0, 0, c_.embed_dim})}, prefix + "/merged");
    return linear(o, prefix + ".proj", true);
  }

  std::string mlp(const std::string& x, const std::string& prefix) {
    std::string h = linear(x, prefix + ".fc1", true);
    if (c_.gelu) {
      // GELU with erf, as torch::gelu: x * 0.5 * (1 + erf(x / sqrt(2))).
      const std::string e = g_.node(
          "Erf", {g_.node("Mul", {h, real("const/inv_sqrt2", static_cast<float>(M_SQRT1_2))}, prefix + "/gelu_in")},
          prefix + "/gelu_erf");
      const std::string one_plus = g_.node("Add", {e, real("const/one", 1.0f)}, prefix + "/gelu_1p");
      h = g_.node("Mul", {g_.node("Mul", {h, real("const/half", 0.5f)}, prefix + "/gelu_half"), one_plus},
                  prefix + "/gelu");
    } else {
      h = g_.node("Relu", {h}, prefix + "/relu");
    }
    return linear(h, prefix + ".fc2", true);
  }

  std::string block(const std::string& x, const std::string& b) {
    if (c_.pre_norm) {  // timm: x + attn(norm1(x)); x + mlp(norm2(x))
      const std::string y = g_.node("Add", {x, attention(layer_norm(x, b + ".norm1"), b + ".attn")}, b + "/attn_res");
      return g_.node("Add", {y, mlp(layer_norm(y, b + ".norm2"), b + ".mlp")}, b + "/mlp_res");
    }
    // nn.TransformerEncoderLayer (norm_first=False): norm1(x + attn(x)); norm2(x + mlp(x))
    const std::string y =
        layer_norm(g_.node("Add", {x, attention(x, b + ".attn")}, b + "/attn_res"), b + ".norm1");
    return layer_norm(g_.node("Add", {y, mlp(y, b + ".mlp")}, b + "/mlp_res"), b + ".norm2");
  }

  const models::StudentConfig& c_;
  deit_normalize input_norm_;
  GraphBuilder& g_;
  std::map<std::string, at::Tensor> params_;
};

}  // namespace

void export_student(const models::DistilledViT& student, deit_head head, const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& metadata) {
  const models::StudentConfig& c = student->config();
  GraphBuilder g("libdeit student");
  g.add_input("images", {-1, c.in_channels, c.img_size, c.img_size});
  StudentGraph graph(*student, g);
  torch::NoGradGuard no_grad;
  const std::string out = graph.logits("images", head);
  require(out == "logits", "ONNX export: the graph's last node is '" + out + "', not 'logits'");
  g.add_output("logits", {-1, c.num_classes});
  g.write(path, deit_version_string(),
          "libdeit DeiT student (" + models::describe_architecture(c) + "). Input images: float32 [batch, " +
              std::to_string(c.in_channels) + ", " + std::to_string(c.img_size) + ", " + std::to_string(c.img_size) +
              "] as deit_student_predict takes them (pixel / 255). Output logits: float32 [batch, " +
              std::to_string(c.num_classes) + "].",
          metadata);
}

}  // namespace deit::onnx_export
