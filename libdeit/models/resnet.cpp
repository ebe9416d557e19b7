#include "models/resnet.h"

#include <torch/torch.h>

#include <array>

#include "core/error.h"

namespace deit::models {
namespace {

namespace nn = torch::nn;

struct ArchSpec {
  const char* name;
  bool bottleneck;
  std::array<int64_t, 4> blocks;  // blocks per stage (layer1..layer4); 0: no such stage
  int64_t width;                  // layer1's planes, doubled at each later stage (and conv1's channels)
  // The CIFAR ResNet's stem (He et al. 2016, section 4.2): a 3x3 stride-1 conv1 and no max-pool, so that
  // layer1 sees 28x28 images at 28x28 instead of 7x7 (torchvision's stem divides by 4: at 28 px layer4
  // works on 1x1 maps).  Same names; conv1.weight is [width, C, 3, 3], so torchvision's weights do not load.
  bool small_image_stem;
};

// torchvision's table (resnet.py: _resnet(BasicBlock|Bottleneck, layers)), then the small-image stems on
// it, then He et al.'s CIFAR ResNets (6n+2 layers: three stages of n basic blocks, 16/32/64 planes), with
// torchvision's projection shortcut (1x1 conv + BN) where the shape changes instead of the paper's
// zero-padded identity.  At 28 px ResNet-20 costs about the multiply-adds of torchvision's ResNet-18 with
// 1/40 of its parameters, and trains faster on a CPU (its 11M-parameter optimizer step is gone).
const ArchSpec kArchs[] = {
    {"resnet18", false, {2, 2, 2, 2}, 64, false},
    {"resnet34", false, {3, 4, 6, 3}, 64, false},
    {"resnet50", true, {3, 4, 6, 3}, 64, false},
    {"resnet101", true, {3, 4, 23, 3}, 64, false},
    {"resnet152", true, {3, 8, 36, 3}, 64, false},
    {"resnet18-small-image", false, {2, 2, 2, 2}, 64, true},
    {"resnet34-small-image", false, {3, 4, 6, 3}, 64, true},
    {"resnet50-small-image", true, {3, 4, 6, 3}, 64, true},
    {"resnet20-small-image", false, {3, 3, 3, 0}, 16, true},
    {"resnet56-small-image", false, {9, 9, 9, 0}, 16, true},
};

const ArchSpec& find_arch(const std::string& arch) {
  for (const ArchSpec& a : kArchs)
    if (arch == a.name) return a;
  std::string names;
  for (const std::string& n : resnet_arch_names()) names += (names.empty() ? "" : ", ") + n;
  invalid_arg("unknown teacher architecture '" + arch + "' (valid: " + names + ")");
}

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

nn::BatchNorm2d bn(int64_t channels) {
  return nn::BatchNorm2d(nn::BatchNorm2dOptions(channels).eps(1e-5).momentum(0.1));
}

// The projection shortcut: 1x1 conv (carrying the stride) + BN, named "0" and "1" as in torchvision.
nn::Sequential downsample_for(int64_t in, int64_t out, int64_t stride) {
  if (stride == 1 && in == out) return nn::Sequential(nullptr);
  return nn::Sequential(conv(in, out, 1, stride), bn(out));
}

// BasicBlock (ResNet-18/34): 3x3 (stride) -> 3x3, expansion 1.
class BasicBlockImpl : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;

  BasicBlockImpl(int64_t in, int64_t planes, int64_t stride)
      : conv1(register_module("conv1", conv(in, planes, 3, stride))),
        bn1(register_module("bn1", bn(planes))),
        conv2(register_module("conv2", conv(planes, planes, 3, 1))),
        bn2(register_module("bn2", bn(planes))),
        downsample(downsample_for(in, planes, stride)) {
    if (!downsample.is_empty()) register_module("downsample", downsample);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = bn1(conv1(x)).relu_();
    out = bn2(conv2(out));
    // In place as torchvision does: the BN backward needs its input, not its output.
    out += downsample.is_empty() ? x : downsample->forward(x);
    return out.relu_();
  }

  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Sequential downsample;
};

// Bottleneck v1.5 (ResNet-50/101/152): 1x1 -> 3x3 (stride) -> 1x1, expansion 4.
class BottleneckImpl : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;

  BottleneckImpl(int64_t in, int64_t planes, int64_t stride)
      : conv1(register_module("conv1", conv(in, planes, 1, 1))),
        bn1(register_module("bn1", bn(planes))),
        conv2(register_module("conv2", conv(planes, planes, 3, stride))),
        bn2(register_module("bn2", bn(planes))),
        conv3(register_module("conv3", conv(planes, planes * kExpansion, 1, 1))),
        bn3(register_module("bn3", bn(planes * kExpansion))),
        downsample(downsample_for(in, planes * kExpansion, stride)) {
    if (!downsample.is_empty()) register_module("downsample", downsample);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = bn1(conv1(x)).relu_();
    out = bn2(conv2(out)).relu_();
    out = bn3(conv3(out));
    out += downsample.is_empty() ? x : downsample->forward(x);
    return out.relu_();
  }

  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Conv2d conv3;
  nn::BatchNorm2d bn3;
  nn::Sequential downsample;
};

template <typename Block>
nn::Sequential make_stage(int64_t& in, int64_t planes, int64_t blocks, int64_t stride) {
  nn::Sequential stage;
  stage->push_back(std::make_shared<Block>(in, planes, stride));
  in = planes * Block::kExpansion;
  for (int64_t i = 1; i < blocks; ++i) stage->push_back(std::make_shared<Block>(in, planes, 1));
  return stage;
}

}  // namespace

const std::vector<std::string>& resnet_arch_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const ArchSpec& a : kArchs) v.emplace_back(a.name);
    return v;
  }();
  return names;
}

ResNetImpl::ResNetImpl(const std::string& arch, int64_t num_classes) : arch_(arch) {
  const ArchSpec& spec = find_arch(arch);
  require(num_classes >= 1, "num_classes must be >= 1 (got " + std::to_string(num_classes) + ")");

  small_image_stem_ = spec.small_image_stem;
  conv1 = register_module("conv1", small_image_stem_ ? conv(3, spec.width, 3, 1) : conv(3, spec.width, 7, 2));
  bn1 = register_module("bn1", bn(spec.width));
  int64_t in = spec.width;
  nn::Sequential* stages[] = {&layer1, &layer2, &layer3, &layer4};
  for (int s = 0; s < 4; ++s) {
    if (spec.blocks[s] == 0) continue;  // layer4 stays empty (nullptr) in the three-stage CIFAR nets
    const int64_t planes = spec.width << s;
    const int64_t stride = s == 0 ? 1 : 2;
    *stages[s] = spec.bottleneck ? make_stage<BottleneckImpl>(in, planes, spec.blocks[s], stride)
                                 : make_stage<BasicBlockImpl>(in, planes, spec.blocks[s], stride);
    register_module("layer" + std::to_string(s + 1), *stages[s]);
  }
  fc_in_features_ = in;
  fc = register_module("fc", nn::Linear(in, num_classes));

  // torchvision's init: kaiming_normal_(fan_out, relu) for convs; BN 1/0 and Linear's default
  // (kaiming_uniform a=sqrt(5), uniform bias) are what LibTorch's constructors already give.
  torch::NoGradGuard no_grad;
  for (const auto& m : modules(/*include_self=*/false))
    if (auto* c = m->as<nn::Conv2d>())
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
}

torch::Tensor ResNetImpl::features(torch::Tensor x) {
  require(x.dim() == 4 && x.size(1) == 3,
          "teacher input must be [B, 3, H, W] (got " + std::to_string(x.dim()) + " dims" +
              (x.dim() >= 2 ? ", " + std::to_string(x.size(1)) + " channels)" : ")"));
  x = bn1(conv1(x)).relu_();
  if (!small_image_stem_) x = torch::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);
  x = layer3->forward(layer2->forward(layer1->forward(x)));
  if (!layer4.is_empty()) x = layer4->forward(x);
  // flatten, not view: the activations may be channels_last.
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  return fc(features(std::move(x)));
}

void ResNetImpl::replace_fc(int64_t num_classes) {
  require(num_classes >= 1, "num_classes must be >= 1 (got " + std::to_string(num_classes) + ")");
  nn::Linear fresh(fc_in_features_, num_classes);
  fresh->to(fc->weight.device(), fc->weight.scalar_type());
  replace_module("fc", fresh);
  fc = fresh;
}

std::vector<torch::Tensor> ResNetImpl::head_parameters() {
  return fc->parameters();
}

ResNet make_resnet(const std::string& arch, int64_t num_classes) {
  find_arch(arch);  // the arch error before any allocation
  return ResNet(arch, num_classes);
}

}  // namespace deit::models
