// The teacher behind deit_teacher: a torchvision ResNet (trainable, savable)
// or a TorchScript CNN (frozen stand-in).  One small interface so training and
// evaluation don't care which.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "models/data_card.h"
#include "models/input_norm.h"

namespace torch::nn {
class Module;
}

namespace deit::models {

class TeacherNet {
 public:
  virtual ~TeacherNet() = default;
  virtual at::Tensor forward(const at::Tensor& images) = 0;
  virtual void set_training(bool on) = 0;
  virtual void to(c10::Device device) = 0;
  virtual std::vector<at::Tensor> parameters() = 0;
  virtual std::vector<at::Tensor> head_parameters() = 0;
  // Non-trainable state that changes the outputs (BatchNorm running statistics).
  virtual std::vector<at::Tensor> buffers() = 0;
  // The nn::Module for weight I/O; nullptr for TorchScript teachers.
  virtual torch::nn::Module* module() = 0;
  // Replace the classifier with a fresh one of `num_classes` outputs.
  virtual void replace_head(int64_t num_classes) = 0;
};

struct Teacher {
  std::string arch;  // "resnet50", ..., or "torchscript"
  int64_t num_classes = 0;
  bool pretrained = false;  // weights were loaded: fine-tune the head only by default
  c10::Device device{c10::DeviceType::CPU};
  std::unique_ptr<TeacherNet> net;
  DataCard card;  // of the data it was last trained on (saved in its checkpoint)
  InputNormalizer normalizer;  // applies card.preprocess.normalize in forward()

  bool is_torchscript() const { return arch == "torchscript"; }
  // The network on x (pixels / 255), normalised first as its card says (models/input_norm.h).
  at::Tensor forward(const at::Tensor& x);
  void to(c10::Device d) {
    net->to(d);
    device = d;
  }
};

// The teacher's logits for x without gradients (not InferenceMode: they may feed a loss).
at::Tensor teacher_logits(Teacher& teacher, const at::Tensor& x);

std::unique_ptr<Teacher> make_resnet_teacher(const std::string& arch, int64_t num_classes);
std::unique_ptr<Teacher> load_torchscript_teacher(const std::string& path, int64_t num_classes);

// torchvision / timm ResNet weights from .safetensors; a classifier of another
// size is replaced by a fresh one (the notebook's new fc).
void load_pretrained_weights(Teacher& teacher, const std::string& path);

}  // namespace deit::models
