// A TorchScript CNN as the teacher: any model torch.jit.save wrote that maps
// float NCHW images to [N, num_classes] logits.  Kept in its own file so only
// this translation unit pays for the TorchScript headers.
#include <torch/script.h>

#include "core/error.h"
#include "models/teacher.h"

namespace deit::models {
namespace {

class ScriptTeacher : public TeacherNet {
 public:
  ScriptTeacher(torch::jit::Module m, int64_t num_classes)
      : module_(std::move(m)), num_classes_(num_classes) {
    module_.eval();
  }
  at::Tensor forward(const at::Tensor& images) override {
    c10::IValue out = module_.forward({images});
    if (!out.isTensor())
      fail(DEIT_E_FORMAT, "the TorchScript teacher returned a " + out.tagKind() + ", not a tensor");
    at::Tensor logits = out.toTensor();
    if (logits.dim() != 2 || logits.size(0) != images.size(0) || logits.size(1) != num_classes_)
      fail(DEIT_E_FORMAT, "the TorchScript teacher returned logits of shape " + shape_of(logits) +
                              ", expected [" + std::to_string(images.size(0)) + ", " +
                              std::to_string(num_classes_) + "]");
    return logits;
  }
  void set_training(bool on) override { module_.train(on); }
  void to(c10::Device device) override { module_.to(device); }
  std::vector<at::Tensor> parameters() override {
    std::vector<at::Tensor> out;
    for (const auto& p : module_.parameters()) out.push_back(p);
    return out;
  }
  std::vector<at::Tensor> head_parameters() override { return {}; }
  std::vector<at::Tensor> buffers() override {
    std::vector<at::Tensor> out;
    for (const auto& b : module_.buffers()) out.push_back(b);
    return out;
  }
  torch::nn::Module* module() override { return nullptr; }
  void replace_head(int64_t) override {
    fail(DEIT_E_UNSUPPORTED, "the classifier of a TorchScript teacher cannot be replaced");
  }

 private:
  static std::string shape_of(const at::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
  }
  torch::jit::Module module_;
  int64_t num_classes_;
};

}  // namespace

std::unique_ptr<Teacher> load_torchscript_teacher(const std::string& path, int64_t num_classes) {
  require(num_classes >= 1, "num_classes = " + std::to_string(num_classes) + "; expected at least 1");
  torch::jit::Module m;
  {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(DEIT_E_IO, path + ": cannot open");
    std::fclose(f);
  }
  try {
    m = torch::jit::load(path, c10::Device(c10::DeviceType::CPU));
  } catch (const c10::Error& e) {
    fail(DEIT_E_FORMAT, path + ": not a loadable TorchScript file: " + e.what_without_backtrace());
  }
  auto t = std::make_unique<Teacher>();
  t->net = std::make_unique<ScriptTeacher>(std::move(m), num_classes);
  t->arch = "torchscript";
  t->num_classes = num_classes;
  t->pretrained = true;
  return t;
}

}  // namespace deit::models
