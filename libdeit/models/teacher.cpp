// The ResNet teacher and the loading of torchvision/timm weights into it.
#include "models/teacher.h"

#include <set>

#include "core/error.h"
#include "runtime/runtime.h"
#include "models/resnet.h"
#include "models/weights.h"

namespace deit::models {
namespace {

class ResNetTeacher : public TeacherNet {
 public:
  ResNetTeacher(const std::string& arch, int64_t num_classes) : net_(make_resnet(arch, num_classes)) {
    net_->eval();
  }
  at::Tensor forward(const at::Tensor& images) override { return net_->forward(images); }
  void set_training(bool on) override { net_->train(on); }
  void to(c10::Device device) override { net_->to(device); }
  std::vector<at::Tensor> parameters() override { return net_->parameters(); }
  std::vector<at::Tensor> head_parameters() override { return net_->head_parameters(); }
  std::vector<at::Tensor> buffers() override { return net_->buffers(); }
  torch::nn::Module* module() override { return net_.get(); }
  void replace_head(int64_t num_classes) override { net_->replace_fc(num_classes); }

 private:
  ResNet net_;
};

}  // namespace

std::unique_ptr<Teacher> make_resnet_teacher(const std::string& arch, int64_t num_classes) {
  auto t = std::make_unique<Teacher>();
  t->net = std::make_unique<ResNetTeacher>(arch, num_classes);
  t->arch = arch;
  t->num_classes = num_classes;
  return t;
}

void load_pretrained_weights(Teacher& teacher, const std::string& path) {
  torch::nn::Module* module = teacher.net->module();
  if (!module) fail(DEIT_E_UNSUPPORTED, "a TorchScript teacher carries its own weights");
  const LoadedTensors src = load_state_dict(path);
  // A classifier for another number of classes (ImageNet's 1000) is not
  // loaded: the teacher keeps its fresh fc for the task, as the notebook does.
  std::set<std::string> skip;
  for (const auto& [name, tensor] : src.tensors) {
    if (name == "fc.weight" && tensor.dim() == 2 && tensor.size(0) != teacher.num_classes) {
      skip = {"fc.weight", "fc.bias"};
    }
  }
  copy_into_module(*module, src, path, skip, /*allow_float_conversion=*/true);
  teacher.pretrained = true;
}

at::Tensor Teacher::forward(const at::Tensor& x) {
  return net->forward(normalizer(x, card.preprocess.normalize));
}

at::Tensor teacher_logits(Teacher& teacher, const at::Tensor& x) {
  runtime::ensure_threads();  // a prediction may be the process's first tensor work
  torch::NoGradGuard no_grad;
  return teacher.forward(x);
}

}  // namespace deit::models
