// White-box tests of the student's shortcuts (libdeit/ops/fused_ops.cpp, the last block's prefix-only
// path): each must give the same outputs and gradients as the straightforward LibTorch computation.
// Built from the library's sources directly, since the shared library exports only the C API.
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "check.h"
#include "models/student.h"
#include "ops/fused_ops.h"

namespace {

using deit_test::check;
using deit_test::report;

using namespace deit::models;
using namespace deit::ops;

// Largest absolute difference relative to the reference's largest magnitude.
double rel_err(const at::Tensor& got, const at::Tensor& ref) {
  const double scale = std::max(ref.abs().max().item<double>(), 1e-30);
  return (got - ref).abs().max().item<double>() / scale;
}

void check_close(const at::Tensor& got, const at::Tensor& ref, double tol, const std::string& what) {
  const double err = rel_err(got, ref);
  check(err <= tol, what + ": relative error " + std::to_string(err));
}

// A dropout mask as the kernels apply it, observed from their outputs rather than recomputed with the
// library's generator: each element must be 0 or 1/(1-p).  `what` names the kernel in messages.
at::Tensor observed_mask(const at::Tensor& scaled, double p, const std::string& what) {
  const float keep = static_cast<float>(1.0 / (1.0 - p));
  const at::Tensor kept = scaled.ne(0);
  const double off = (scaled.masked_select(kept) - keep).abs().max().item<double>();
  check(off <= 1e-6 * keep, what + ": every element is dropped or scaled by 1/(1-p) (off by " +
                                std::to_string(off) + ")");
  const double rate = 1.0 - kept.to(at::kDouble).mean().item<double>();
  const double sigma = std::sqrt(p * (1 - p) / static_cast<double>(scaled.numel()));
  check(std::abs(rate - p) < 5 * sigma,
        what + ": drop rate " + std::to_string(rate) + " for p = " + std::to_string(p));
  return kept.to(at::kFloat) * keep;
}

void test_drop_rate() {
  for (double p : {0.1, 0.5}) {
    const uint32_t threshold = deit::ops::detail::dropout_threshold(p);
    const int64_t n = 1 << 20;
    int64_t dropped = 0;
    for (int64_t i = 0; i < n; ++i)
      dropped += deit::ops::detail::dropout_keeps(12345, threshold, i) ? 0 : 1;
    const double rate = static_cast<double>(dropped) / n, sigma = std::sqrt(p * (1 - p) / n);
    check(std::abs(rate - p) < 5 * sigma,
          "drop rate " + std::to_string(rate) + " for p = " + std::to_string(p));
    // Neighbouring elements, seeds and the two halves of a 64-bit index give independent masks.
    int64_t same_seed = 0, same_high = 0;
    for (int64_t i = 0; i < 100000; ++i) {
      same_seed += deit::ops::detail::dropout_keeps(12345, threshold, i) ==
                   deit::ops::detail::dropout_keeps(12346, threshold, i);
      same_high += deit::ops::detail::dropout_keeps(12345, threshold, i) ==
                   deit::ops::detail::dropout_keeps(12345, threshold, i + (int64_t{1} << 32));
    }
    const double agree = p * p + (1 - p) * (1 - p);  // expected agreement of two independent masks
    check(std::abs(same_seed / 1e5 - agree) < 0.01, "masks of different seeds are independent");
    check(std::abs(same_high / 1e5 - agree) < 0.01, "indices 2^32 apart get independent mask bits");
  }
}

void test_dropout_matches_mask() {
  const at::Tensor x = torch::randn({7, 33, 50}).requires_grad_(true);
  const at::Tensor r = torch::randn({7, 33, 50});
  at::manual_seed(3);
  at::Tensor y = fast_dropout(x, 0.25, true);
  (y * r).sum().backward();
  // The mask, read off the output of dropout applied to ones under the same seed.
  at::manual_seed(3);
  const at::Tensor mask = observed_mask(fast_dropout(torch::ones({7, 33, 50}), 0.25, true), 0.25, "fast_dropout");
  check_close(y.detach(), x.detach() * mask, 0, "fast_dropout forward = x * mask / (1 - p)");
  check_close(x.grad(), r * mask, 0, "fast_dropout backward = grad * the forward's mask / (1 - p)");
  at::manual_seed(4);
  check(!at::equal(fast_dropout(torch::ones({7, 33, 50}), 0.25, true), mask), "another seed, another mask");
  check(fast_dropout(x, 0.25, false).is_same(x), "fast_dropout is the identity in eval mode");
}

// The hidden-layer mask relu_dropout_mlp draws for `rows` rows of H units after at::manual_seed(seed), observed
// through the MLP itself: with fc1 giving 1 for every unit and fc2 the identity, the output is the mask.
at::Tensor observed_mlp_mask(uint64_t seed, double p, int64_t rows, int64_t D, int64_t H) {
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::randn({rows, D}), w1 = torch::zeros({H, D}), b1 = torch::ones({H});
  const at::Tensor w2 = torch::eye(H), b2 = torch::zeros({H});
  at::manual_seed(seed);
  return observed_mask(relu_dropout_mlp(x, w1, b1, w2, b2, p, /*training=*/true), p,
                       "relu_dropout_mlp's hidden mask (" + std::to_string(rows) + " x " + std::to_string(H) + ")");
}

// rows = batch x tokens rows of width D through H hidden units.  The fast path works in chunks of rows shared
// among the threads (about 2^18 hidden floats each): the large case has several chunks per thread.
void test_mlp(double p, int64_t batch, int64_t tokens, int64_t D, int64_t H) {
  const int64_t O = D;
  torch::manual_seed(11);
  auto x = torch::randn({batch, tokens, D}).requires_grad_(true);
  auto w1 = (torch::randn({H, D}) * 0.3).requires_grad_(true), b1 = torch::randn({H}).requires_grad_(true);
  auto w2 = (torch::randn({O, H}) * 0.3).requires_grad_(true), b2 = torch::randn({O}).requires_grad_(true);
  const at::Tensor r = torch::randn({batch, tokens, O});
  const std::vector<at::Tensor> params = {x, w1, b1, w2, b2};

  auto run_fast = [&] {
    at::manual_seed(5);
    at::Tensor y = relu_dropout_mlp(x, w1, b1, w2, b2, p, /*training=*/true);
    (y * r).sum().backward();
    std::vector<at::Tensor> out = {y.detach()};
    for (const auto& t : params) out.push_back(t.grad().clone()), t.grad().zero_();
    return out;
  };
  const std::vector<at::Tensor> fast = run_fast(), again = run_fast();

  // The straightforward computation with the mask the MLP draws (observed, see observed_mlp_mask).
  at::Tensor h = torch::relu(torch::linear(x, w1, b1));
  if (p > 0) h = h * observed_mlp_mask(5, p, batch * tokens, D, H).view({batch, tokens, H});
  at::Tensor y_ref = torch::linear(h, w2, b2);
  (y_ref * r).sum().backward();
  const std::string tag = "relu_dropout_mlp (p = " + std::to_string(p) + ", " + std::to_string(batch * tokens) +
                          " x " + std::to_string(D) + " -> " + std::to_string(H) + ", " +
                          std::to_string(at::get_num_threads()) + " threads)";
  check_close(fast[0], y_ref.detach(), 1e-6, tag + " output");
  const char* names[] = {"x", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
  for (size_t i = 0; i < params.size(); ++i)
    check_close(fast[i + 1], params[i].grad(), 1e-5, tag + " gradient of " + names[i]);
  bool same = true;
  for (size_t i = 0; i < fast.size(); ++i) same = same && at::equal(fast[i], again[i]);
  check(same, tag + ": a second run gives bit-identical outputs and gradients");

  // Without gradients (evaluation) the hidden layer stays in per-thread buffers: same output.
  if (p == 0) {
    torch::NoGradGuard no_grad;
    check_close(relu_dropout_mlp(x, w1, b1, w2, b2, 0.3, /*training=*/false), y_ref.detach(), 1e-6,
                tag + " output without gradients");
  }
}

// No rows (an empty batch): empty output, zero weight gradients, no crash.
void test_mlp_no_rows() {
  auto x = torch::randn({0, 18, 8}).requires_grad_(true);
  auto w1 = torch::randn({64, 8}).requires_grad_(true), b1 = torch::randn({64}).requires_grad_(true);
  auto w2 = torch::randn({8, 64}).requires_grad_(true), b2 = torch::randn({8}).requires_grad_(true);
  at::Tensor y = relu_dropout_mlp(x, w1, b1, w2, b2, 0.1, /*training=*/true);
  y.sum().backward();
  check(y.sizes() == x.sizes() && x.grad().numel() == 0 && w1.grad().abs().sum().item<double>() == 0,
        "relu_dropout_mlp on 0 rows: empty output, zero gradients");
}

void test_prefix_only_last_block() {
  StudentConfig c = student_preset("seed", 5);
  c.embed_dim = 16, c.depth = 2, c.num_heads = 2, c.mlp_dim = 32, c.dropout = 0, c.attn_dropout = 0;
  torch::manual_seed(2);
  DistilledViT m(c);
  {
    torch::NoGradGuard no_grad;  // non-zero tokens and positions, so every row differs
    m->cls_token.normal_(), m->dist_token.normal_(), m->pos_embed.normal_();
  }
  m->train();
  const at::Tensor x = torch::rand({6, 3, 28, 28});
  auto run = [&](bool prefix_only) {
    m->last_block_prefix_only = prefix_only;
    m->zero_grad();
    auto [cls, dist] = m->forward(x);
    (cls.pow(2).sum() + dist.sum()).backward();
    std::vector<at::Tensor> out = {cls.detach(), dist.detach()};
    for (const auto& p : m->parameters()) out.push_back(p.grad().clone());
    return out;
  };
  const auto fast = run(true), full = run(false);
  double worst = 0;
  for (size_t i = 0; i < fast.size(); ++i) worst = std::max(worst, rel_err(fast[i], full[i]));
  check(worst <= 1e-5, "last block on [CLS]/[DIST] rows only: logits and all " +
                           std::to_string(fast.size() - 2) + " gradients, worst relative error " +
                           std::to_string(worst));
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  test_drop_rate();
  test_dropout_matches_mask();
  test_mlp(0.0, 4, 9, 12, 40);
  test_mlp(0.3, 4, 9, 12, 40);
  torch::set_num_threads(2);
  test_mlp(0.0, 12, 50, 8, 2048);
  test_mlp(0.3, 12, 50, 8, 2048);
  torch::set_num_threads(1);
  test_mlp_no_rows();
  test_prefix_only_last_block();
  return report();
}
