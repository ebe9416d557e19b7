// deitctl export MODEL --onnx OUT: a student checkpoint's inference as an ONNX model (deit_student_export_onnx).
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "commands.h"
#include "common.h"
#include "json.h"
#include "options.h"
#include "pipeline.h"

namespace deitctl {

int cmd_export(int argc, char** argv) {
  cxxopts::Options options("deitctl export",
                           "Write a student checkpoint's inference as an ONNX model (opset 17): input \"images\" "
                           "float32 [batch, C, H, W] with pixels / 255, output \"logits\" [batch, classes].");
  options.custom_help("MODEL --onnx OUT [options]");
  options.positional_help("");
  // clang-format off
  options.add_options()
      ("model", "student checkpoint (.safetensors written by libdeit)", cxxopts::value<std::string>(), "MODEL")
      ("onnx", "the ONNX file to write (replaced atomically)", cxxopts::value<std::string>(), "OUT")
      ("head", "the head the model outputs: avg (DeiT's inference), cls or dist (default avg)",
       cxxopts::value<std::string>(), "HEAD")
      ("json", "print what was written as JSON")
      ("h,help", "show this help");
  // clang-format on
  options.parse_positional({"model"});
  auto args = parse_args(options, argc, argv);
  if (has(args, "help")) {
    print_help(options);
    return kExitOk;
  }
  if (!has(args, "model")) throw UsageError("MODEL is required");
  if (!has(args, "onnx")) throw UsageError("--onnx OUT is required (ONNX is the one export format)");
  const std::string path = get<std::string>(args, "model");
  const std::string out = get<std::string>(args, "onnx");
  deit_onnx_options o;
  check(deit_onnx_options_init(&o));
  if (has(args, "head")) o.head = parse_head("head", get<std::string>(args, "head"));

  // The kind first, from the header alone: a teacher is refused without loading its weights.
  deit_checkpoint_kind kind = DEIT_CHECKPOINT_STUDENT;
  check(deit_checkpoint_read_kind(path.c_str(), &kind));
  if (kind != DEIT_CHECKPOINT_STUDENT)
    throw LibraryError(std::string(deit_status_str(DEIT_E_UNSUPPORTED)) + ": " + path +
                       " is a teacher checkpoint; deitctl export writes students (DeiT's inference) only");
  deit_student* raw = nullptr;
  check(deit_student_load(path.c_str(), &raw));
  StudentPtr student(raw);
  check(deit_student_export_onnx(student.get(), out.c_str(), &o));

  const deit_student_config c = student_config(student.get());
  struct stat st {};
  const long long bytes = ::stat(out.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
  if (has(args, "json")) {
    Json j = Json::object();
    // Opset 17: what deit_student_export_onnx writes (deit.h).
    j["model"] = path;
    j["onnx"] = out;
    j["opset"] = 17;
    j["head"] = head_name(o.head);
    j["bytes"] = bytes;
    Json input = Json::array();
    input.push_back("batch");
    input.push_back(c.in_channels);
    input.push_back(c.img_size);
    input.push_back(c.img_size);
    Json output = Json::array();
    output.push_back("batch");
    output.push_back(c.num_classes);
    j["input"] = input;
    j["output"] = output;
    std::printf("%s\n", dump_json(j).c_str());
    return kExitOk;
  }
  std::printf("wrote %s: ONNX opset 17, %s head, %s bytes\n", out.c_str(), head_name(o.head),
              format_count(bytes).c_str());
  std::printf("  input  images float32 [batch, %d, %d, %d] (pixels / 255)\n", c.in_channels, c.img_size,
              c.img_size);
  std::printf("  output logits float32 [batch, %d]\n", c.num_classes);
  return kExitOk;
}

}  // namespace deitctl
