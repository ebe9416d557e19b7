// deitctl distill: the notebook's second training step on its own: distill a DeiT student from a saved
// teacher (or train it without one), evaluate it on the test split and save its checkpoint.
#include <cstdio>
#include <string>

#include "commands.h"
#include "common.h"
#include "defaults.h"
#include "json.h"
#include "options.h"
#include "pipeline.h"
#include "progress.h"

namespace deitctl {

int cmd_distill(int argc, char** argv) {
  cxxopts::Options options(
      "deitctl distill",
      "Distill a saved teacher into a new DeiT student (or pretrained weights, --init), evaluate it "
      "(all heads) on the test "
      "split and save it.");
  options.custom_help("--teacher FILE --out FILE [options]");
  add_training_data_options(options, "where to write the student checkpoint (.safetensors; required)");
  // clang-format off
  options.add_options("Teacher")
      ("teacher", "teacher checkpoint from `deitctl teacher` or `deitctl run` "
                  "(not needed with --distillation none)",
       cxxopts::value<std::string>(), "FILE");
  // clang-format on
  add_student_options(options, "", kNotebookDefaults, nullptr);
  // clang-format off
  options.add_options("Student")
      ("init", "fine-tune pretrained weights instead of a new student: a safetensors state dict under "
               "timm's names (deit_*_distilled_patch16_224, deit_*/vit_* patch16) or a libdeit student; "
               "heads start afresh for the data's classes, pos_embed is resampled to its image size",
       cxxopts::value<std::string>(), "FILE");
  // clang-format on
  add_recipe_options(options, kNotebookDefaults, nullptr);
  add_state_options(options);
  add_image_options(options);
  add_runtime_options(options);
  auto args = parse_args(options, argc, argv);
  if (has(args, "help")) {
    print_help(options);
    return kExitOk;
  }
  const std::string out = required(args, "out");
  StudentSettings ss = student_settings(args, "", kNotebookDefaults);
  const StateOptions state = state_options(args);
  state.apply(&ss.distill.state_path, &ss.distill.state_every_steps, &ss.distill.resume);
  const bool need_teacher = ss.distill.distillation != DEIT_DISTILL_NONE;
  const std::string teacher_path =
      need_teacher ? required(args, "teacher") : get_or<std::string>(args, "teacher", "");
  const RuntimeSettings rt = apply_runtime_options(args);
  const double fraction = get_or<double>(args, "fraction", 1.0);
  require_fraction("fraction", fraction);
  const std::string data_dir = get_or<std::string>(args, "data", kDefaultDataDir);
  install_sigint_handler(!rt.quiet);

  ProgressReporter progress(rt.quiet);
  TeacherPtr teacher;
  if (need_teacher) {
    deit_teacher* raw = nullptr;
    check(deit_teacher_load(teacher_path.c_str(), &raw));
    teacher.reset(raw);
    check(deit_teacher_set_device(raw, rt.device.c_str()));
  }
  DataSplits data = open_splits(data_dir, fraction, rt.seed, val_fraction_option(args), image_options(args), rt.quiet);
  apply_validation(args, data, &ss.val, &ss.best_path);
  if (teacher && teacher_num_classes(teacher.get()) != data.train_info.num_classes)
    throw LibraryError(std::string(deit_status_str(DEIT_E_INVALID_ARG)) + ": the teacher " + teacher_path +
                       " has " + std::to_string(teacher_num_classes(teacher.get())) +
                       " classes, the data in " + data_dir + " " +
                       std::to_string(data.train_info.num_classes));
  const deit_student_config config = make_student_config(ss, data.train_info);
  StudentPtr student = create_student(config, rt.seed, rt.device);
  if (!ss.init.empty()) {
    check(deit_student_load_weights(student.get(), ss.init.c_str()));
    ss.preset = "from " + ss.init;  // what the summary and --json call the student
    if (!rt.quiet)
      std::fprintf(stderr, "student: weights from %s (%d px, patch %d, width %d, depth %d, %d heads)\n",
                   ss.init.c_str(), config.img_size, config.patch_size, config.embed_dim, config.depth,
                   config.num_heads);
  }
  DistillTiming dt{0, 0};
  if (ss.distill.epochs > 0)
    dt = distill_student(student.get(), teacher.get(), data.train.get(), ss, progress, rt.seed);
  throw_if_interrupted();
  const Evaluation e = evaluate_student(student.get(), data.test.get(), false);
  if (!rt.root) return kExitOk;  // rank 0 writes and reports for the group
  check(deit_student_save(student.get(), out.c_str()));  // the library writes atomically

  if (has(args, "json")) {
    Json j = Json::object();
    j["out"] = out;
    j["preset"] = ss.preset;
    j["params"] = student_params(student.get());
    j["device"] = rt.device;
    j["train_count"] = data.train_info.count;
    j["test_count"] = data.test_info.count;
    j["accuracy"] =
        Json{{"avg", e.result.accuracy}, {"cls", e.result.accuracy_cls}, {"dist", e.result.accuracy_dist}};
    j["loss"] = e.result.loss;
    j["teacher_logits_seconds"] = dt.teacher_logits_seconds;
    j["train_seconds"] = dt.train_seconds;
    j["eval_seconds"] = e.seconds;
    j["epochs"] = epochs_json(progress, DEIT_PHASE_DISTILL);
    std::printf("%s\n", dump_json(j, 2).c_str());
  } else {
    std::printf(
        "student %s: test accuracy avg %s, cls %s, dist %s (%s images); train %s, eval %s\nwrote %s\n",
        ss.preset.c_str(), format_percent(e.result.accuracy).c_str(),
        format_percent(e.result.accuracy_cls).c_str(), format_percent(e.result.accuracy_dist).c_str(),
        format_count(e.result.count).c_str(),
        format_seconds(dt.train_seconds + dt.teacher_logits_seconds).c_str(),
        format_seconds(e.seconds).c_str(), out.c_str());
  }
  return kExitOk;
}

}  // namespace deitctl
