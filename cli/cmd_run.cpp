// deitctl run: the reference notebook end to end (teacher fine-tune, distillation, evaluation) with its
// outputs in one directory.
#include <algorithm>
#include <cstdio>
#include <string>

#include "commands.h"
#include "common.h"
#include "defaults.h"
#include "json.h"
#include "options.h"
#include "pipeline.h"
#include "prediction_grid.h"
#include "progress.h"

namespace deitctl {

namespace {

constexpr int kGridImages = 32;  // predictions.png: 4 rows of 8
constexpr int kGridColumns = 8;

// Epochs that see about `budget` images of a training set of n, within [1, kMaxBudgetEpochs].
int32_t budget_epochs(int64_t budget, int64_t n) {
  const int64_t e = (budget + n / 2) / std::max<int64_t>(n, 1);
  return static_cast<int32_t>(std::clamp<int64_t>(e, 1, kMaxBudgetEpochs));
}

std::string augment_text(const RecipeSettings& r) {
  if (!r.augment) return "no augmentation";
  const deit_augment_options& a = *r.augment;
  std::string t;
  auto item = [&](const std::string& x) { t += (t.empty() ? "" : ", ") + x; };
  if (a.crop_padding > 0) item("crop pad " + std::to_string(a.crop_padding));
  if (a.resized_crop_scale > 0) item("resized crop " + format_number(a.resized_crop_scale));
  if (a.hflip) item("flip");
  if (a.erase_prob > 0) item("erase " + format_number(a.erase_prob));
  if (a.mixup_alpha > 0) item("mixup " + format_number(a.mixup_alpha));
  if (a.cutmix_alpha > 0) item("cutmix " + format_number(a.cutmix_alpha));
  return t.empty() ? "no augmentation" : "augment " + t;
}

std::string describe_config(const TeacherSettings& t, const StudentSettings& s, double fraction,
                            const DataSplits& data, const RuntimeSettings& rt) {
  const deit_distill_options& d = s.distill;
  char buf[800];
  std::snprintf(buf, sizeof buf,
                "teacher %s %s, %d epoch%s, %s lr %g %s, %s | student %s, %d epoch%s, %s lr %g %s, %s, %s "
                "distillation (alpha %g, T %g) | batch %d | %s%s training images | device %s, %d threads",
                t.arch.c_str(), t.weights.empty() ? "from scratch" : ("from " + t.weights).c_str(),
                t.train.epochs, t.train.epochs == 1 ? "" : "s", optimizer_name(t.train.optimizer), t.train.lr,
                schedule_name(t.train.schedule), augment_text(t.recipe).c_str(), s.preset.c_str(), d.epochs,
                d.epochs == 1 ? "" : "s", optimizer_name(d.optimizer), d.lr, schedule_name(d.schedule),
                augment_text(s.recipe).c_str(), distillation_name(d.distillation), d.alpha, d.temperature,
                d.batch_size,
                fraction < 1.0 || data.val ? (format_count(data.train_info.count) + " of ").c_str() : "",
                format_count(data.full_train_count).c_str(), rt.device.c_str(), rt.threads);
  std::string out = buf;
  if (d.ema_decay > 0) out += " | student weight average, decay " + format_number(d.ema_decay);
  if (data.val) out += " | " + format_count(data.val_count) + " held out for validation";
  return out;
}

void write_predictions(const std::string& path, deit_student* student, const DataSplits& data,
                       const std::string& data_dir) {
  const int n = static_cast<int>(std::min<int64_t>(kGridImages, data.test_info.count));
  std::vector<uint8_t> pixels = copy_images_u8(data.test.get(), 0, n);
  std::vector<int32_t> truth = copy_labels(data.test.get(), 0, n);
  const deit_images images = u8_images(pixels.data(), DEIT_LAYOUT_NCHW, n, data.test_info.channels,
                                       data.test_info.height, data.test_info.width);
  std::vector<int32_t> predicted(static_cast<size_t>(n));
  check(deit_student_classify(student, &images, DEIT_HEAD_AVG, predicted.data(), predicted.size()));
  PredictionGrid grid;
  grid.images = pixels.data();
  grid.count = n;
  grid.channels = images.channels;
  grid.height = images.height;
  grid.width = images.width;
  grid.predicted = predicted.data();
  grid.truth = truth.data();
  // The data set's own names (image folders), else Fashion-MNIST's when the directory says so.
  grid.class_names = class_names(data.test.get());
  if (grid.class_names.empty()) grid.class_names = class_names_for(data_dir, data.test_info.num_classes);
  write_predictions_png(path, grid, kGridColumns);
}

void print_table(const std::string& arch, const Evaluation& te, double teacher_train,
                 const std::string& preset, const Evaluation& se, const DistillTiming& dt, double total,
                 int64_t test_count) {
  auto row = [](const std::string& name, const std::string& acc, const std::string& time) {
    std::string line = "  " + name;
    line.resize(std::max<size_t>(line.size(), 30), ' ');
    char num[16];
    std::snprintf(num, sizeof num, " %9s", acc.c_str());
    line += num;
    if (!time.empty()) line += "   " + time;
    std::fprintf(stderr, "%s\n", line.c_str());
  };
  std::fprintf(stderr, "\nresults on the test split (%s images)\n", format_count(test_count).c_str());
  row("model", "accuracy", "time");
  row("teacher " + arch, format_percent(te.result.accuracy),
      "train " + format_seconds(teacher_train) + ", eval " + format_seconds(te.seconds));
  row("student " + preset + ", averaged heads", format_percent(se.result.accuracy),
      "teacher logits " + format_seconds(dt.teacher_logits_seconds) + ", train " +
          format_seconds(dt.train_seconds) + ", eval " + format_seconds(se.seconds));
  row("student " + preset + ", cls head", format_percent(se.result.accuracy_cls), "");
  row("student " + preset + ", dist head", format_percent(se.result.accuracy_dist), "");
  row("total", "", format_seconds(total));
}

}  // namespace

int cmd_run(int argc, char** argv) {
  Stopwatch total;
  cxxopts::Options options(
      "deitctl run",
      "Train a ResNet teacher, distill it into a DeiT student and evaluate both.\nIt starts from DeiT's "
      "recipe on a budget (AdamW + cosine, label smoothing, the teacher on augmented batches, soft "
      "distillation, epochs from budgets of images seen); --full starts from the reference notebook's configuration instead. Any option given "
      "overrides either.");
  options.custom_help("[options]");
  add_data_options(options);
  // clang-format off
  options.add_options("Data")
      ("keep-best", "with --val-fraction: also write teacher-best.safetensors and student-best.safetensors, "
                    "the epochs with the best validation accuracy")
      ("out", std::string("output directory, created if missing (default ./") + kDefaultRunOut + ")",
       cxxopts::value<std::string>(), "DIR");
  // clang-format on
  add_teacher_options(options, "teacher-", true, kCpuDefaults, &kNotebookDefaults);
  add_student_options(options, "student-", kCpuDefaults, &kNotebookDefaults);
  add_recipe_options(options, kCpuDefaults, &kNotebookDefaults);
  // clang-format off
  options.add_options("Output")
      ("json", "print summary.json on stdout")
      ("full", "the reference notebook's configuration (ResNet-50, Adam, no augmentation, fixed epochs)");
  // clang-format on
  add_image_options(options);
  add_runtime_options(options);
  auto args = parse_args(options, argc, argv);
  if (has(args, "help")) {
    print_help(options);
    return kExitOk;
  }

  const RuntimeSettings rt = apply_runtime_options(args);
  const bool full = has(args, "full");
  const RunDefaults& d = full ? kNotebookDefaults : kCpuDefaults;
  TeacherSettings ts = teacher_settings(args, "teacher-", d);
  StudentSettings ss = student_settings(args, "student-", d);
  const double fraction = get_or<double>(args, "fraction", d.fraction);
  require_fraction("fraction", fraction);
  const std::string data_dir = get_or<std::string>(args, "data", kDefaultDataDir);
  const std::string out_dir = get_or<std::string>(args, "out", kDefaultRunOut);
  const bool json = has(args, "json");
  install_sigint_handler(!rt.quiet);

  ProgressReporter progress(rt.quiet);
  auto note = [&](const std::string& line) {
    if (rt.quiet) return;
    progress.clear_line();
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  };

  note(std::string("deitctl run: ") + (full ? "--full" : "device " + rt.device) + ": using " + d.name +
       (full ? "" : "; --full for the reference notebook's"));

  if (rt.root) make_dirs(out_dir);
  DataSplits data = open_splits(data_dir, fraction, rt.seed, val_fraction_option(args), image_options(args), rt.quiet);
  if (has(args, "keep-best") && !data.val) throw UsageError("--keep-best needs --val-fraction");
  ts.val = ss.val = data.val.get();
  if (has(args, "keep-best") && rt.root) {
    ts.best_path = join_path(out_dir, "teacher-best.safetensors");
    ss.best_path = join_path(out_dir, "student-best.safetensors");
  }
  // Small images keep their resolution in the CIFAR ResNet; pretrained weights fit only the arch they name.
  const int side = std::max(data.train_info.height, data.train_info.width);
  if (d.small_image_teacher_arch && !has(args, "teacher-arch") && ts.weights.empty() &&
      side <= kSmallImageSide) {
    ts.arch = d.small_image_teacher_arch;
    note("deitctl run: teacher " + ts.arch + " for " + std::to_string(data.train_info.height) + "x" +
         std::to_string(data.train_info.width) + " images (at most " + std::to_string(kSmallImageSide) +
         " px, from scratch; " + d.teacher_arch + " above; --teacher-arch to choose)");
  }
  // Epochs from the budgets of images seen, unless given: a small data set gets as many steps as a large one.
  const int64_t n = data.train_info.count;
  if (d.teacher_budget > 0 && !has(args, "teacher-epochs")) ts.train.epochs = budget_epochs(d.teacher_budget, n);
  if (d.student_budget > 0 && !has(args, "student-epochs")) ss.distill.epochs = budget_epochs(d.student_budget, n);
  const bool budgeted = (d.teacher_budget > 0 && !has(args, "teacher-epochs")) ||
                        (d.student_budget > 0 && !has(args, "student-epochs"));
  if (budgeted)
    note("deitctl run: epochs from budgets of images seen (teacher " + format_count(d.teacher_budget) +
         ", student " + format_count(d.student_budget) + ") over " + format_count(n) +
         " training images: teacher " + std::to_string(ts.train.epochs) + ", student " +
         std::to_string(ss.distill.epochs) + " (--teacher-epochs / --student-epochs to choose)");
  if (ts.recipe.augment && ts.train.epochs > 0 && ts.train.epochs < d.teacher_augment_min_epochs &&
      !ts.recipe.augment_given) {
    ts.recipe.augment.reset();
    note("deitctl run: the teacher trains without augmentation: " + std::to_string(ts.train.epochs) +
         " epoch" + (ts.train.epochs == 1 ? "" : "s") + " are fewer than " +
         std::to_string(d.teacher_augment_min_epochs) +
         ", where it underfits and augmentation slows it (--teacher-augment on to keep it)");
  }
  note("deitctl run: " + describe_config(ts, ss, fraction, data, rt));

  // 1. Teacher: build, fine-tune, evaluate, save.
  TeacherPtr teacher = create_teacher(ts, data.train_info.num_classes, rt.device);
  const std::string arch = teacher_arch(teacher.get());
  const double teacher_train =
      ts.train.epochs > 0 ? train_teacher(teacher.get(), data.train.get(), ts, progress, rt.seed) : 0.0;
  throw_if_interrupted();
  note("teacher: evaluating on the test split (" + format_count(data.test_info.count) + " images)");
  const Evaluation te = evaluate_teacher(teacher.get(), data.test.get(), false);
  note("teacher accuracy: " + format_percent(te.result.accuracy) + " (" + format_seconds(te.seconds) + ")");
  if (rt.root) check(deit_teacher_save(teacher.get(), join_path(out_dir, "teacher.safetensors").c_str()));  // atomic
  throw_if_interrupted();

  // 2. Student: build, distill, evaluate all heads, save.
  const deit_student_config config = make_student_config(ss, data.train_info);
  StudentPtr student = create_student(config, rt.seed, rt.device);
  const int64_t params = student_params(student.get());
  DistillTiming dt{0, 0};
  if (ss.distill.epochs > 0)
    dt =
        distill_student(student.get(), ss.distill.distillation == DEIT_DISTILL_NONE ? nullptr : teacher.get(),
                        data.train.get(), ss, progress, rt.seed);
  throw_if_interrupted();
  note("student: evaluating on the test split (" + format_count(data.test_info.count) + " images)");
  const Evaluation se = evaluate_student(student.get(), data.test.get(), false);
  note("student accuracy: avg " + format_percent(se.result.accuracy) + ", cls " +
       format_percent(se.result.accuracy_cls) + ", dist " + format_percent(se.result.accuracy_dist) + " (" +
       format_seconds(se.seconds) + ")");
  throw_if_interrupted();
  if (!rt.root) return kExitOk;  // rank 0 writes and reports for the group
  check(deit_student_save(student.get(), join_path(out_dir, "student.safetensors").c_str()));  // atomic
  throw_if_interrupted();

  // 3. The rest of the outputs.
  if (png_supported())
    write_predictions(join_path(out_dir, "predictions.png"), student.get(), data, data_dir);
  else
    note("deitctl run: built without stb: predictions.png is not written");

  std::string metrics;
  for (const EpochMetrics& m : progress.epochs())
    if (m.phase == DEIT_PHASE_TEACHER_TRAIN || m.phase == DEIT_PHASE_DISTILL)
      metrics += dump_json(epoch_metrics_json(m)) + "\n";
  metrics += dump_json(eval_metrics_json("teacher", te, false)) + "\n";
  metrics += dump_json(eval_metrics_json("student", se, true)) + "\n";
  write_file_atomic(join_path(out_dir, "metrics.jsonl"), metrics);

  Json summary = Json::object();
  summary["version"] = deit_version_string();
  summary["device"] = rt.device;
  summary["threads"] = rt.threads;
  summary["data"] = Json{{"dir", data_dir},
                         {"format", format_name(data.train_info.format)},
                         {"train_count", data.train_info.count},
                         {"test_count", data.test_info.count},
                         {"classes", data.train_info.num_classes},
                         {"fraction", fraction}};
  summary["teacher"] = Json{{"arch", arch},
                            {"epochs", ts.train.epochs},
                            {"accuracy", te.result.accuracy},
                            {"train_seconds", teacher_train},
                            {"eval_seconds", te.seconds}};
  summary["student"] = Json{
      {"preset", ss.preset},
      {"params", params},
      {"epochs", ss.distill.epochs},
      {"accuracy",
       Json{{"avg", se.result.accuracy}, {"cls", se.result.accuracy_cls}, {"dist", se.result.accuracy_dist}}},
      {"teacher_logits_seconds", dt.teacher_logits_seconds},
      {"train_seconds", dt.train_seconds},
      {"eval_seconds", se.seconds}};
  const std::string summary_text = dump_json(summary, 2) + "\n";
  write_file_atomic(join_path(out_dir, "summary.json"), summary_text);

  if (!rt.quiet) {
    print_table(arch, te, teacher_train, ss.preset, se, dt, total.seconds(), data.test_info.count);
    std::fprintf(stderr,
                 "\nwrote %s/: teacher.safetensors, student.safetensors, metrics.jsonl, summary.json%s\n",
                 out_dir.c_str(), png_supported() ? ", predictions.png" : "");
  }
  if (json) std::fputs(summary_text.c_str(), stdout);
  return kExitOk;
}

}  // namespace deitctl
