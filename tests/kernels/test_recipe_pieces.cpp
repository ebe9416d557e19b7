// White-box tests of DeiT's recipe pieces (libdeit/augment/, the mixed-target loss, drop path): each
// augmentation op against a straightforward reference (loops, or LibTorch's own interpolation for the
// resized crop, which is what torchvision's F.resized_crop runs on tensors), the per-step draws
// (deterministic, the same rows for a data-parallel rank as for one process), mixed targets, and stochastic
// depth in training only.
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "augment/augment.h"
#include "check.h"
#include "models/student.h"
#include "ops/fused_ops.h"
#include "train/losses.h"

namespace {

using deit_test::check;
using deit_test::report;

using namespace deit;

double max_diff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

at::Tensor images(int64_t B, int64_t C, int64_t H, int64_t W, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::rand({B, C, H, W}, gen, at::kFloat) + 0.1;  // no zeros: a zero fill is visible
}

void test_pad_crop() {
  const int64_t B = 5, C = 2, H = 7, W = 9, pad = 3;
  const at::Tensor x = images(B, C, H, W, 1);
  const at::Tensor top = at::tensor({0, 6, 3, 1, 5}, at::kLong), left = at::tensor({6, 0, 2, 4, 3}, at::kLong);
  const at::Tensor got = augment::ops::pad_crop(x, pad, top, left);
  at::Tensor ref = at::zeros_like(x);
  auto X = x.accessor<float, 4>();
  auto R = ref.accessor<float, 4>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < H; ++i)
        for (int64_t j = 0; j < W; ++j) {
          const int64_t y = i + top[b].item<int64_t>() - pad, xx = j + left[b].item<int64_t>() - pad;
          R[b][c][i][j] = (y >= 0 && y < H && xx >= 0 && xx < W) ? X[b][c][y][xx] : 0.0f;
        }
  check(got.equal(ref), "pad_crop equals zero padding then cropping (torchvision RandomCrop)");
}

void test_resized_crop() {
  const int64_t B = 4, C = 3, H = 12, W = 10;
  const at::Tensor x = images(B, C, H, W, 2);
  // Boxes that shrink, enlarge and keep each dimension.
  const at::Tensor top = at::tensor({0, 3, 5, 0}, at::kLong), left = at::tensor({0, 2, 1, 4}, at::kLong);
  const at::Tensor h = at::tensor({12, 5, 7, 3}, at::kLong), w = at::tensor({10, 8, 3, 6}, at::kLong);
  const at::Tensor got = augment::ops::resized_crop(x, top, left, h, w);
  double worst = 0;
  for (int64_t b = 0; b < B; ++b) {
    const at::Tensor crop = x[b].unsqueeze(0)
                                .narrow(2, top[b].item<int64_t>(), h[b].item<int64_t>())
                                .narrow(3, left[b].item<int64_t>(), w[b].item<int64_t>());
    const at::Tensor ref = at::upsample_bilinear2d(crop, {H, W}, /*align_corners=*/false);
    worst = std::max(worst, max_diff(got[b], ref[0]));
  }
  check(worst < 1e-5, "resized_crop equals F.interpolate(bilinear) of the crop (max diff " + std::to_string(worst) + ")");
}

void test_flip_erase_mix() {
  const int64_t B = 4, C = 2, H = 6, W = 5;
  const at::Tensor x = images(B, C, H, W, 3);
  const at::Tensor flip = at::tensor({1, 0, 1, 0}, at::kLong).to(at::kBool);
  const at::Tensor f = augment::ops::hflip(x, flip);
  bool ok = true;
  for (int64_t b = 0; b < B; ++b) ok = ok && f[b].equal(flip[b].item<bool>() ? x[b].flip({2}) : x[b]);
  check(ok, "hflip mirrors exactly the chosen images");

  const at::Tensor use = at::tensor({1, 1, 0, 1}, at::kLong).to(at::kBool);
  const at::Tensor top = at::tensor({1, 0, 2, 5}, at::kLong), left = at::tensor({2, 0, 1, 4}, at::kLong);
  const at::Tensor h = at::tensor({3, 6, 2, 1}, at::kLong), w = at::tensor({2, 5, 2, 1}, at::kLong);
  const at::Tensor e = augment::ops::erase(x, use, top, left, h, w);
  at::Tensor ref = x.clone();
  for (int64_t b = 0; b < B; ++b)
    if (use[b].item<bool>())
      ref[b].narrow(1, top[b].item<int64_t>(), h[b].item<int64_t>()).narrow(2, left[b].item<int64_t>(), w[b].item<int64_t>()).zero_();
  check(e.equal(ref), "erase zeroes exactly each chosen image's box (torchvision F.erase, value 0)");

  const at::Tensor m = augment::ops::mixup(x, 0.3);
  check(max_diff(m[1], 0.3 * x[1] + 0.7 * x[2]) < 1e-6, "mixup pairs image i with image B-1-i");
  const at::Tensor c = augment::ops::cutmix(x, 1, 2, 3, 2);
  at::Tensor cref = x.clone();
  cref.narrow(2, 1, 3).narrow(3, 2, 2).copy_(x.flip({0}).narrow(2, 1, 3).narrow(3, 2, 2));
  check(c.equal(cref), "cutmix pastes the box from the paired image");
}

void test_apply_draws() {
  augment::Settings s;
  s.crop_padding = 2;
  s.hflip = true;
  s.erase_prob = 0.5;
  const int64_t G = 16, H = 10, W = 10;
  const at::Tensor x = images(G, 1, H, W, 4);
  const at::Tensor labels = at::arange(G, at::kLong);
  const augment::Batch a = augment::apply(s, x, labels, 77), b = augment::apply(s, x, labels, 77);
  const augment::Batch other = augment::apply(s, x, labels, 78);
  check(a.images.equal(b.images), "apply: the same seed gives the same batch");
  check(!a.images.equal(other.images), "apply: another seed gives another batch");
  check(!a.images.equal(x), "apply: the batch changed");
  const augment::Batch part = augment::apply(s, x.narrow(0, 4, 8), labels.narrow(0, 4, 8), 77, 4, G);
  check(part.images.equal(a.images.narrow(0, 4, 8)), "apply: a rank's rows get the draws of one process");
  check(!a.mixed_with.defined() && a.lam == 1.0, "apply: nothing mixed without mixup / cutmix");
  // The erased share and the crop offsets over many draws.
  augment::Settings erase_only;
  erase_only.erase_prob = 0.5;
  int64_t erased = 0, total = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    const at::Tensor e = augment::apply(erase_only, x, labels, seed).images;
    erased += (e == 0).flatten(1).any(1).sum().item<int64_t>();
    total += G;
  }
  const double rate = static_cast<double>(erased) / static_cast<double>(total);
  check(std::abs(rate - 0.5) < 0.1, "apply: erase_prob 0.5 erases " + std::to_string(rate) + " of the images");

  augment::Settings mix;
  mix.cutmix_alpha = 1.0;
  const augment::Batch cm = augment::apply(mix, x, labels, 5);
  // lam is corrected to the pasted area: the share of pixels that still equal the image's own.
  const double own = (cm.images == x).to(at::kDouble).mean().item<double>();
  check(cm.mixed_with.defined() && cm.mixed_with.equal(labels.flip({0})) && std::abs(own - cm.lam) < 1e-9,
        "apply: cutmix's lam (" + std::to_string(cm.lam) + ") is the unpasted share (" + std::to_string(own) + ")");
  mix.cutmix_alpha = 0;
  mix.mixup_alpha = 0.8;
  const augment::Batch mu = augment::apply(mix, x, labels, 5);
  check(mu.lam > 0 && mu.lam < 1 && max_diff(mu.images, augment::ops::mixup(x, mu.lam)) < 1e-6,
        "apply: mixup with lam " + std::to_string(mu.lam));
}

void test_mixed_targets_loss() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  const int64_t B = 6, K = 5;
  const at::Tensor logits = at::randn({B, K}, gen, at::kDouble);
  const at::Tensor a = at::tensor({0, 1, 2, 3, 4, 0}, at::kLong), b = a.flip({0});
  for (double eps : {0.0, 0.1}) {
    const double lam = 0.35;
    const at::Tensor got = train::cross_entropy(logits, train::Targets(a, b, lam), eps);
    auto smooth = [&](const at::Tensor& y) {
      return at::one_hot(y, K).to(at::kDouble) * (1 - eps) + eps / static_cast<double>(K);
    };
    const at::Tensor target = lam * smooth(a) + (1 - lam) * smooth(b);
    const at::Tensor ref = -(target * at::log_softmax(logits, 1)).sum(1).mean();
    check(std::abs(got.item<double>() - ref.item<double>()) < 1e-12,
          "CE with mixed targets is the CE against the mixed (smoothed) one-hot vectors, eps " + std::to_string(eps));
  }
}

void test_drop_path() {
  models::StudentConfig c = models::student_preset("deit-tiny", 3);
  c.img_size = 16;
  c.patch_size = 4;
  c.embed_dim = 16;
  c.num_heads = 2;
  c.mlp_dim = 32;
  c.depth = 4;
  models::DistilledViT net(c);
  net->set_drop_path(0.3);
  std::vector<double> rates;
  for (const auto& m : net->blocks->children()) rates.push_back(m->as<models::BlockImpl>()->drop_path);
  check(rates.size() == 4 && rates[0] == 0.0 && std::abs(rates[1] - 0.1) < 1e-12 && std::abs(rates[3] - 0.3) < 1e-12,
        "set_drop_path: block i of 4 drops with 0.3 * i / 3");

  models::Block block(c);
  const at::Tensor x = at::randn({64, 5, c.embed_dim});
  torch::NoGradGuard no_grad;
  block->eval();
  const at::Tensor plain = block(x);
  block->drop_path = 0.5;
  check(block(x).equal(plain), "drop path is off in eval mode");
  block->train();
  const ops::DropoutStreamScope stream(123);
  const at::Tensor y = block(x);
  // An image that drops both branches leaves the block unchanged (pre-norm: x + 0 + 0): about 1 in 4.
  const int64_t same = (y == x).flatten(1).all(1).sum().item<int64_t>();
  check(same >= 4 && same <= 28, "training: " + std::to_string(same) + " of 64 images skip both branches (expect ~16)");
  block->drop_path = 0.0;
  check(block(x).equal(plain), "drop_path 0 in training (no dropout) is the plain block");
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  test_pad_crop();
  test_resized_crop();
  test_flip_erase_mix();
  test_apply_draws();
  test_mixed_targets_loss();
  test_drop_path();
  return report();
}
