#include "pipeline.h"

#include <cstdio>
#include <filesystem>
#include <tuple>

#include "distributed.h"

namespace deitctl {

namespace {
// Image files without split folders: the same images whatever the split.
bool one_image_set(const std::string& path, const deit_dataset_info& info) {
  namespace fs = std::filesystem;
  std::error_code ec;
  return info.format == DEIT_FORMAT_FOLDER &&
         !(fs::is_directory(path + "/train", ec) && (fs::is_directory(path + "/val", ec) || fs::is_directory(path + "/test", ec)));
}
// kHeldOutTest of one set of images (seeded: seed + 2, apart from the fraction's and the validation share's
// permutations) as the test split, the rest as the training split.
std::pair<DatasetPtr, DatasetPtr> hold_out_test(const deit_dataset* all, const std::string& dir, uint64_t seed,
                                                bool quiet) {
  auto [test, rest] = split_dataset(all, kHeldOutTest, seed + 2);
  if (!quiet)
    std::fprintf(stderr, "deitctl: %s is one set of images (no train/ and val/ folders): %s of its %s images are "
                 "held out as the test split\n", dir.c_str(), format_percent(kHeldOutTest).c_str(),
                 format_count(dataset_info(all).count).c_str());
  return {std::move(rest), std::move(test)};
}
// The recipe and validation fields the teacher's and the distillation's options share (`settings` must
// outlive the training call: best_path points into it).
template <class Options, class Settings>
void set_recipe_fields(Options& o, const Settings& settings) {
  o.augment = settings.recipe.augment_ptr();
  o.clip_grad = settings.recipe.clip_grad;
  o.val = settings.val;
  o.best_path = settings.best_path.empty() ? nullptr : settings.best_path.c_str();
}
}  // namespace

DatasetPtr open_split(const std::string& dir, deit_split split, uint64_t seed, const deit_image_options& images,
                      bool quiet) {
  DatasetPtr ds = open_dataset(dir, split, images);
  if (!one_image_set(dir, dataset_info(ds.get()))) return ds;
  auto [train, test] = hold_out_test(ds.get(), dir, seed, quiet);
  return split == DEIT_SPLIT_TEST ? std::move(test) : std::move(train);
}

DataSplits open_splits(const std::string& dir, double fraction, uint64_t seed, double val_fraction,
                       const deit_image_options& images, bool quiet) {
  DataSplits s;
  s.train = open_dataset(dir, DEIT_SPLIT_TRAIN, images);
  if (one_image_set(dir, dataset_info(s.train.get()))) std::tie(s.train, s.test) = hold_out_test(s.train.get(), dir, seed, quiet);
  s.full_train_count = dataset_info(s.train.get()).count;
  if (fraction < 1.0) s.train = subset_fraction(s.train.get(), fraction, seed);
  if (val_fraction > 0) {
    // Its own permutation (seed + 1), so that the held-out images do not follow the fraction's order.
    auto [val, rest] = split_dataset(s.train.get(), val_fraction, seed + 1);
    s.val = std::move(val);
    s.train = std::move(rest);
    s.val_count = dataset_info(s.val.get()).count;
  }
  if (!s.test) s.test = open_dataset(dir, DEIT_SPLIT_TEST, images);
  s.train_info = dataset_info(s.train.get());
  s.test_info = dataset_info(s.test.get());
  if (s.train_info.num_classes != s.test_info.num_classes)
    throw LibraryError(std::string(deit_status_str(DEIT_E_FORMAT)) + ": " + dir +
                       ": the training split has " + std::to_string(s.train_info.num_classes) +
                       " classes, the test split " + std::to_string(s.test_info.num_classes));
  return s;
}

double val_fraction_option(const cxxopts::ParseResult& args) {
  if (!has(args, "val-fraction")) return 0;
  const double f = get<double>(args, "val-fraction");
  if (!(f > 0 && f < 1)) throw UsageError("--val-fraction: must be in (0, 1)");
  return f;
}

TeacherPtr create_teacher(const TeacherSettings& settings, int32_t num_classes, const std::string& device) {
  deit_teacher* raw = nullptr;
  check(deit_teacher_create(settings.arch.c_str(), num_classes, &raw));
  TeacherPtr teacher(raw);
  if (!settings.weights.empty()) check(deit_teacher_load_weights(teacher.get(), settings.weights.c_str()));
  check(deit_teacher_set_device(teacher.get(), device.c_str()));
  return teacher;
}

double train_teacher(deit_teacher* teacher, const deit_dataset* train, TeacherSettings& settings,
                     ProgressReporter& progress, uint64_t seed) {
  deit_teacher_train_options o = settings.train;
  o.seed = seed;
  set_recipe_fields(o, settings);
  o.group = process_group();
  o.progress = progress.fn();
  o.user_data = progress.user_data();
  Stopwatch clock;
  const deit_status st = deit_teacher_train(teacher, train, &o);
  progress.clear_line();
  check(st);
  return clock.seconds();
}

StudentPtr create_student(const deit_student_config& config, uint64_t seed, const std::string& device) {
  deit_student* raw = nullptr;
  check(deit_student_create(&config, seed, &raw));
  StudentPtr student(raw);
  check(deit_student_set_device(student.get(), device.c_str()));
  return student;
}

DistillTiming distill_student(deit_student* student, deit_teacher* teacher, const deit_dataset* train,
                              StudentSettings& settings, ProgressReporter& progress, uint64_t seed) {
  deit_distill_options o = settings.distill;
  o.seed = seed;
  set_recipe_fields(o, settings);
  o.group = process_group();
  o.teacher_logits_path = settings.logits_cache.empty() ? nullptr : settings.logits_cache.c_str();
  o.progress = progress.fn();
  o.user_data = progress.user_data();
  const double logits_before = progress.phase_seconds(DEIT_PHASE_TEACHER_LOGITS);
  Stopwatch clock;
  const deit_status st = deit_distill(student, teacher, train, &o);
  progress.clear_line();
  check(st);
  DistillTiming t;
  t.teacher_logits_seconds = progress.phase_seconds(DEIT_PHASE_TEACHER_LOGITS) - logits_before;
  t.train_seconds = clock.seconds() - t.teacher_logits_seconds;
  if (t.train_seconds < 0) t.train_seconds = 0;
  return t;
}

namespace {

deit_eval_result blank_result() {
  deit_eval_result r{};
  r.struct_size = sizeof r;
  return r;
}

template <class Handle, class EvalFn>
Evaluation evaluate(Handle* model, const deit_dataset* data, bool confusion, EvalFn fn) {
  Evaluation e;
  e.result = blank_result();
  if (confusion) {
    const size_t k = static_cast<size_t>(dataset_info(data).num_classes);
    e.confusion.assign(k * k, 0);
  }
  Stopwatch clock;
  check(fn(model, data, &e.result, confusion ? e.confusion.data() : nullptr, e.confusion.size()));
  e.seconds = clock.seconds();
  // Evaluation takes no progress callback, so Ctrl-C is noticed only once it is done.
  throw_if_interrupted();
  return e;
}

}  // namespace

// Under a group every rank evaluates its share and gets the whole result.
Evaluation evaluate_teacher(deit_teacher* teacher, const deit_dataset* data, bool confusion) {
  deit_group* group = process_group();
  if (!group) return evaluate(teacher, data, confusion, deit_teacher_evaluate);
  return evaluate(teacher, data, confusion,
                  [group](deit_teacher* t, const deit_dataset* d, deit_eval_result* r, int64_t* c, size_t n) {
                    return deit_teacher_evaluate_group(t, d, group, r, c, n);
                  });
}

Evaluation evaluate_student(deit_student* student, const deit_dataset* data, bool confusion) {
  deit_group* group = process_group();
  if (!group) return evaluate(student, data, confusion, deit_student_evaluate);
  return evaluate(student, data, confusion,
                  [group](deit_student* m, const deit_dataset* d, deit_eval_result* r, int64_t* c, size_t n) {
                    return deit_student_evaluate_group(m, d, group, r, c, n);
                  });
}

Json checkpoint_description(const std::string& path) {
  const std::string text = describe_checkpoint(path);
  try {
    return Json::parse(text);
  } catch (const std::exception& e) {
    throw LibraryError(std::string(deit_status_str(DEIT_E_INTERNAL)) + ": deit_checkpoint_describe(" + path +
                       ") returned malformed JSON: " + e.what());
  }
}

Model load_model(const std::string& path, const std::string& device) {
  Model m;
  deit_checkpoint_kind kind = DEIT_CHECKPOINT_TEACHER;
  check(deit_checkpoint_read_kind(path.c_str(), &kind));  // the header alone: plain weights fail here
  if (kind == DEIT_CHECKPOINT_STUDENT) {
    deit_student* raw = nullptr;
    check(deit_student_load(path.c_str(), &raw));
    m.student.reset(raw);
    check(deit_student_set_device(raw, device.c_str()));
    const deit_student_config c = student_config(raw);
    m.num_classes = c.num_classes;
    m.in_channels = c.in_channels;
    m.img_size = c.img_size;
  } else {
    deit_teacher* raw = nullptr;
    check(deit_teacher_load(path.c_str(), &raw));
    m.teacher.reset(raw);
    check(deit_teacher_set_device(raw, device.c_str()));
    m.num_classes = teacher_num_classes(raw);
    m.in_channels = 3;
  }
  m.class_names = class_names(m.num_classes, [&m](int32_t k, char* buf, size_t capacity) {
    return m.student ? deit_student_class_name(m.student.get(), k, buf, capacity)
                     : deit_teacher_class_name(m.teacher.get(), k, buf, capacity);
  });
  deit_image_options_init(&m.image_options);
  const deit_status st = m.student ? deit_student_image_options(m.student.get(), &m.image_options)
                                   : deit_teacher_image_options(m.teacher.get(), &m.image_options);
  if (st != DEIT_E_STATE) check(st);
  m.has_image_options = st == DEIT_OK;
  return m;
}

void apply_validation(const cxxopts::ParseResult& args, const DataSplits& data, const deit_dataset** val,
                      std::string* best_path) {
  *val = data.val.get();
  *best_path = get_or<std::string>(args, "best", "");
  if (!best_path->empty() && !*val) throw UsageError("--best needs --val-fraction");
}

Json epoch_metrics_json(const EpochMetrics& m) {
  Json j = Json::object();
  j["phase"] = phase_key(m.phase);
  j["epoch"] = m.epoch;
  j["loss"] = m.loss;
  j["loss_cls"] = m.loss_cls;
  j["loss_dist"] = m.loss_dist;
  j["images_per_sec"] = m.images_per_sec;
  j["seconds"] = m.seconds;
  if (m.val_accuracy >= 0) j["val_accuracy"] = m.val_accuracy;
  return j;
}

Json epochs_json(const ProgressReporter& progress, deit_phase phase) {
  Json a = Json::array();
  for (const EpochMetrics& m : progress.epochs())
    if (m.phase == phase) a.push_back(epoch_metrics_json(m));
  return a;
}

Json eval_metrics_json(const char* model, const Evaluation& e, bool student) {
  Json j = Json::object();
  j["phase"] = "eval";
  j["model"] = model;
  j["count"] = e.result.count;
  j["accuracy"] = e.result.accuracy;
  j["loss"] = e.result.loss;
  if (student) {
    j["accuracy_cls"] = e.result.accuracy_cls;
    j["accuracy_dist"] = e.result.accuracy_dist;
  }
  j["seconds"] = e.seconds;
  return j;
}

}  // namespace deitctl
