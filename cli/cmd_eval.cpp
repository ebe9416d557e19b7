// deitctl eval: the accuracy of a saved student or teacher checkpoint (its kind is read from the file) on a
// data split, with the confusion matrix on request.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "defaults.h"
#include "json.h"
#include "options.h"
#include "pipeline.h"

namespace deitctl {

namespace {

std::string model_summary(const Model& m, const std::string& path) {
  if (m.student) {
    const deit_student_config c = student_config(m.student.get());
    // The preset's name is kept in the checkpoint's configuration only (deit_student_config has the shape).
    const Json description = checkpoint_description(path);
    const Json* cfg = json_member(description, "config");
    const std::string preset = cfg ? json_string(*cfg, "preset", "custom") : "custom";
    return "student " + preset + ", " + std::to_string(c.img_size) + "x" + std::to_string(c.img_size) + "x" +
           std::to_string(c.in_channels) + ", " + std::to_string(c.num_classes) + " classes";
  }
  return "teacher " + teacher_arch(m.teacher.get()) + ", " + std::to_string(m.num_classes) + " classes";
}

// Confusion of one student head over a whole data set, by classifying it batch by batch (the library's
// evaluation gives the averaged head's only).
std::vector<int64_t> head_confusion(const Model& m, const deit_dataset* ds, deit_head head) {
  const deit_dataset_info info = dataset_info(ds);
  const size_t k = static_cast<size_t>(info.num_classes);
  std::vector<int64_t> confusion(k * k, 0);
  for (int64_t start = 0; start < info.count; start += kImagesPerCall) {
    const int64_t n = std::min(kImagesPerCall, info.count - start);
    const std::vector<uint8_t> pixels = copy_images_u8(ds, start, n);
    const std::vector<int32_t> labels = copy_labels(ds, start, n);
    const deit_images im =
        u8_images(pixels.data(), DEIT_LAYOUT_NCHW, n, info.channels, info.height, info.width);
    std::vector<int32_t> predicted(static_cast<size_t>(n));
    check(deit_student_classify(m.student.get(), &im, head, predicted.data(), predicted.size()));
    for (int64_t i = 0; i < n; ++i) {
      const size_t t = static_cast<size_t>(labels[static_cast<size_t>(i)]);
      const size_t p = static_cast<size_t>(predicted[static_cast<size_t>(i)]);
      if (t < k && p < k) ++confusion[t * k + p];
    }
    throw_if_interrupted();
  }
  return confusion;
}

void print_confusion(const std::vector<int64_t>& confusion, size_t k, const char* head) {
  int64_t biggest = 1;
  for (int64_t v : confusion) biggest = std::max(biggest, v);
  const int w = std::max(4, static_cast<int>(std::to_string(biggest).size()) + 1);
  std::printf("\nconfusion matrix (%s; rows: true class, columns: predicted class)\n%6s", head, "");
  for (size_t c = 0; c < k; ++c) std::printf("%*zu", w, c);
  std::printf("\n");
  for (size_t r = 0; r < k; ++r) {
    std::printf("%6zu", r);
    for (size_t c = 0; c < k; ++c) std::printf("%*lld", w, static_cast<long long>(confusion[r * k + c]));
    std::printf("\n");
  }
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  cxxopts::Options options("deitctl eval", "Accuracy of a student or teacher checkpoint on a data split.");
  options.custom_help("MODEL [options]");
  options.positional_help("");
  // clang-format off
  options.add_options()
      ("model", "student or teacher checkpoint", cxxopts::value<std::string>(), "MODEL")
      ("data", std::string(kDataHelp) + " (default " + kDefaultDataDir + ")", cxxopts::value<std::string>(),
       "DIR")
      ("split", "test or train (default test)", cxxopts::value<std::string>(), "SPLIT")
      ("head", "student head whose accuracy/confusion is reported: avg, cls or dist (default avg)",
       cxxopts::value<std::string>(), "HEAD")
      ("confusion", "print the confusion matrix")
      ("json", "print JSON");
  // clang-format on
  add_image_options(options);
  add_runtime_options(options);
  options.parse_positional({"model"});
  auto args = parse_args(options, argc, argv);
  if (has(args, "help")) {
    print_help(options);
    return kExitOk;
  }
  if (!has(args, "model")) throw UsageError("MODEL is required");
  const std::string path = get<std::string>(args, "model");
  const std::string data_dir = get_or<std::string>(args, "data", kDefaultDataDir);
  const std::string split_name = get_or<std::string>(args, "split", "test");
  const deit_split split = parse_split("split", split_name);
  const deit_head head =
      has(args, "head") ? parse_head("head", get<std::string>(args, "head")) : DEIT_HEAD_AVG;
  const bool want_confusion = has(args, "confusion");
  const RuntimeSettings rt = apply_runtime_options(args);
  install_sigint_handler(!rt.quiet);

  Model m = load_model(path, rt.device);
  if (m.teacher && has(args, "head") && head != DEIT_HEAD_AVG)
    throw UsageError("--head: " + path + " is a teacher checkpoint; it has one head");
  // Image files are prepared as the model's training images were, unless options say otherwise.
  DatasetPtr ds = open_split(data_dir, split, rt.seed,
                             image_options(args, m.has_image_options ? &m.image_options : nullptr), rt.quiet);
  const deit_dataset_info info = dataset_info(ds.get());
  if (info.num_classes > m.num_classes)
    throw LibraryError(std::string(deit_status_str(DEIT_E_INVALID_ARG)) + ": " + data_dir + " has " +
                       std::to_string(info.num_classes) + " classes but the model " + path + " predicts " +
                       std::to_string(m.num_classes));
  // Named classes must mean the same on both sides, or the accuracy would be silently wrong.
  const std::vector<std::string> data_names = class_names(ds.get());
  for (size_t k = 0; k < data_names.size() && !m.class_names.empty(); ++k) {
    const std::string& name = data_names[k];
    if (name != m.class_names[k])
      throw LibraryError(std::string(deit_status_str(DEIT_E_INVALID_ARG)) + ": " + data_dir + ": class " +
                         std::to_string(k) + " is \"" + name + "\" but the model's class " + std::to_string(k) +
                         " is \"" + m.class_names[k] + "\"");
  }

  // The library's confusion matrix is the averaged head's (a teacher's only head).
  const bool library_confusion = want_confusion && head == DEIT_HEAD_AVG;
  const Evaluation e = m.student ? evaluate_student(m.student.get(), ds.get(), library_confusion)
                                 : evaluate_teacher(m.teacher.get(), ds.get(), library_confusion);
  std::vector<int64_t> confusion = e.confusion;
  if (want_confusion && !library_confusion) confusion = head_confusion(m, ds.get(), head);
  const double accuracy = head == DEIT_HEAD_CLS    ? e.result.accuracy_cls
                          : head == DEIT_HEAD_DIST ? e.result.accuracy_dist
                                                   : e.result.accuracy;
  const size_t k = static_cast<size_t>(info.num_classes);

  if (has(args, "json")) {
    Json j = Json::object();
    j["model"] = path;
    j["kind"] = m.kind();
    j["data"] = data_dir;
    j["split"] = split_name;
    j["count"] = e.result.count;
    j["loss"] = e.result.loss;
    j["seconds"] = e.seconds;
    if (m.student) {
      j["head"] = head_name(head);
      j["accuracy"] = accuracy;
      j["accuracy_avg"] = e.result.accuracy;
      j["accuracy_cls"] = e.result.accuracy_cls;
      j["accuracy_dist"] = e.result.accuracy_dist;
    } else {
      j["accuracy"] = accuracy;
    }
    if (want_confusion) {
      Json rows = Json::array();
      for (size_t r = 0; r < k; ++r) {
        Json row = Json::array();
        for (size_t c = 0; c < k; ++c) row.push_back(confusion[r * k + c]);
        rows.push_back(row);
      }
      j["confusion"] = rows;
    }
    std::printf("%s\n", dump_json(j, 2).c_str());
    return kExitOk;
  }
  std::printf("%s (%s)\n%s split of %s: %s images\n", path.c_str(), model_summary(m, path).c_str(),
              split_name.c_str(), data_dir.c_str(), format_count(e.result.count).c_str());
  if (m.student)
    std::printf("accuracy: avg %s, cls %s, dist %s; loss %.4f (%s)\n",
                format_percent(e.result.accuracy).c_str(), format_percent(e.result.accuracy_cls).c_str(),
                format_percent(e.result.accuracy_dist).c_str(), e.result.loss,
                format_seconds(e.seconds).c_str());
  else
    std::printf("accuracy: %s; loss %.4f (%s)\n", format_percent(e.result.accuracy).c_str(), e.result.loss,
                format_seconds(e.seconds).c_str());
  if (want_confusion)
    print_confusion(confusion, k, m.student ? (std::string(head_name(head)) + " head").c_str() : "teacher");
  return kExitOk;
}

}  // namespace deitctl
