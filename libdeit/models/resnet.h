// The teacher: torchvision's ResNet-18/34/50/101/152 (v1.5, stride on the 3x3 conv of the bottleneck) and
// He et al.'s CIFAR ResNets built from the same blocks,
// with torchvision's state-dict names so its weights load unchanged (conv1.weight, bn1.*,
// layerL.B.convK.weight, layerL.B.bnK.*, layerL.0.downsample.{0,1}.*, fc.*).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace deit::models {

// "resnet18", "resnet34", "resnet50", "resnet101", "resnet152" (torchvision's), then "resnet18-small-image",
// "resnet34-small-image", "resnet50-small-image": the CIFAR ResNet's stem (3x3 stride-1 conv1, no max-pool)
// for images of about 32 px and less: at 28 px layer1 works at 28x28 instead of 7x7, ~16x the multiply-adds
// of torchvision's stem (~13x its training time measured on a CPU); then "resnet20-small-image" and
// "resnet56-small-image", He et al.'s CIFAR ResNet-20/56 (three stages of 16/32/64 planes, no layer4), for
// small images trained from scratch: at 28 px ResNet-20 costs about what torchvision's ResNet-18 does.
const std::vector<std::string>& resnet_arch_names();

class ResNetImpl : public torch::nn::Module {
 public:
  // Throws deit::Error(DEIT_E_INVALID_ARG) for an unknown arch or num_classes < 1.
  ResNetImpl(const std::string& arch, int64_t num_classes);

  // x: [B, 3, H, W] float, NCHW or channels_last.  Returns logits [B, num_classes].
  torch::Tensor forward(torch::Tensor x);
  // Everything before fc: the pooled features [B, fc_in_features()].
  torch::Tensor features(torch::Tensor x);

  // Swaps fc for a freshly initialised Linear(fc_in_features(), num_classes) on fc's device and dtype
  // (a pretrained 1000-class head replaced for the task's classes).
  void replace_fc(int64_t num_classes);
  int64_t fc_in_features() const { return fc_in_features_; }
  int64_t num_classes() const { return fc->options.out_features(); }
  const std::string& arch() const { return arch_; }
  // The parameters of fc (what a head-only fine-tune trains).
  std::vector<torch::Tensor> head_parameters();

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr};
  torch::nn::Sequential layer4{nullptr};  // empty in the three-stage CIFAR ResNets
  torch::nn::Linear fc{nullptr};

 private:
  std::string arch_;
  bool small_image_stem_ = false;
  int64_t fc_in_features_ = 0;
};
TORCH_MODULE(ResNet);

// Same as ResNet(arch, num_classes); the arch name is checked first.
ResNet make_resnet(const std::string& arch, int64_t num_classes);

}  // namespace deit::models
