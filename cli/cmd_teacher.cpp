// deitctl teacher: the notebook's first training step on its own: train (or fine-tune) a ResNet teacher,
// evaluate it on the test split and save its checkpoint.
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

int cmd_teacher(int argc, char** argv) {
  cxxopts::Options options(
      "deitctl teacher",
      "Train a ResNet teacher (or fine-tune pretrained weights), evaluate it on the test "
      "split and save it.");
  options.custom_help("--out FILE [options]");
  add_training_data_options(options, "where to write the teacher checkpoint (.safetensors; required)");
  add_teacher_options(options, "", true, kNotebookDefaults, nullptr);
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
  const RuntimeSettings rt = apply_runtime_options(args);
  TeacherSettings ts = teacher_settings(args, "", kNotebookDefaults);
  const StateOptions state = state_options(args);
  state.apply(&ts.train.state_path, &ts.train.state_every_steps, &ts.train.resume);
  const double fraction = get_or<double>(args, "fraction", 1.0);
  require_fraction("fraction", fraction);
  const std::string data_dir = get_or<std::string>(args, "data", kDefaultDataDir);
  install_sigint_handler(!rt.quiet);

  ProgressReporter progress(rt.quiet);
  DataSplits data = open_splits(data_dir, fraction, rt.seed, val_fraction_option(args), image_options(args), rt.quiet);
  apply_validation(args, data, &ts.val, &ts.best_path);
  TeacherPtr teacher = create_teacher(ts, data.train_info.num_classes, rt.device);
  const double train_seconds =
      ts.train.epochs > 0 ? train_teacher(teacher.get(), data.train.get(), ts, progress, rt.seed) : 0.0;
  throw_if_interrupted();
  const Evaluation e = evaluate_teacher(teacher.get(), data.test.get(), false);
  if (!rt.root) return kExitOk;  // rank 0 writes and reports for the group
  check(deit_teacher_save(teacher.get(), out.c_str()));  // the library writes atomically

  const std::string arch = teacher_arch(teacher.get());
  if (has(args, "json")) {
    Json j = Json::object();
    j["out"] = out;
    j["arch"] = arch;
    j["device"] = rt.device;
    j["train_count"] = data.train_info.count;
    j["test_count"] = data.test_info.count;
    j["accuracy"] = e.result.accuracy;
    j["loss"] = e.result.loss;
    j["train_seconds"] = train_seconds;
    j["eval_seconds"] = e.seconds;
    j["epochs"] = epochs_json(progress, DEIT_PHASE_TEACHER_TRAIN);
    std::printf("%s\n", dump_json(j, 2).c_str());
  } else {
    std::printf("teacher %s: test accuracy %s (%s images), loss %.4f; train %s, eval %s\nwrote %s\n",
                arch.c_str(), format_percent(e.result.accuracy).c_str(), format_count(e.result.count).c_str(),
                e.result.loss, format_seconds(train_seconds).c_str(), format_seconds(e.seconds).c_str(),
                out.c_str());
  }
  return kExitOk;
}

}  // namespace deitctl
