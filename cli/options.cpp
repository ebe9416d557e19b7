#include "options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <utility>

#include "distributed.h"

namespace deitctl {

cxxopts::ParseResult parse_args(cxxopts::Options& options, int argc, char** argv) {
  try {
    auto result = options.parse(argc, argv);
    if (!result.unmatched().empty())
      throw UsageError("unexpected argument '" + result.unmatched().front() + "'");
    return result;
  } catch (const cxxopts::exceptions::exception& e) {
    throw UsageError(e.what());
  }
}

bool has(const cxxopts::ParseResult& args, const std::string& name) {
  return args.count(name) > 0;
}

void print_help(cxxopts::Options& options) {
  static const char* const kOrder[] = {"", "Data", "Teacher", "Student", "Output", "Runtime"};
  std::vector<std::string> groups;
  for (const char* g : kOrder)
    for (const std::string& have : options.groups())
      if (have == g) groups.push_back(have);
  for (const std::string& have : options.groups())
    if (std::find(groups.begin(), groups.end(), have) == groups.end()) groups.push_back(have);
  options.set_width(110);
  std::printf("%s\n", options.help(groups).c_str());
}

// ---- enum values ----------------------------------------------------------------------------------

namespace {

template <class E, size_t N>
E parse_enum(const std::string& option, const std::string& value,
             const std::pair<const char*, E> (&table)[N]) {
  std::string words;
  for (const auto& [word, e] : table) {
    if (value == word) return e;
    words += words.empty() ? word : std::string(", ") + word;
  }
  throw UsageError("--" + option + ": '" + value + "' is not one of " + words);
}

template <class E, size_t N>
const char* enum_name(E e, const std::pair<const char*, E> (&table)[N]) {
  for (const auto& [word, v] : table)
    if (v == e) return word;
  return "?";
}

constexpr std::pair<const char*, deit_optimizer> kOptimizers[] = {
    {"adam", DEIT_OPTIM_ADAM}, {"adamw", DEIT_OPTIM_ADAMW}, {"sgd", DEIT_OPTIM_SGD}};
constexpr std::pair<const char*, deit_schedule> kSchedules[] = {{"constant", DEIT_SCHEDULE_CONSTANT},
                                                                {"cosine", DEIT_SCHEDULE_COSINE}};
constexpr std::pair<const char*, deit_distillation> kDistillations[] = {
    {"soft", DEIT_DISTILL_SOFT}, {"hard", DEIT_DISTILL_HARD}, {"none", DEIT_DISTILL_NONE}};
constexpr std::pair<const char*, deit_trainable> kTrainables[] = {
    {"auto", DEIT_TRAIN_AUTO}, {"head", DEIT_TRAIN_HEAD}, {"all", DEIT_TRAIN_ALL}};
constexpr std::pair<const char*, deit_head> kHeads[] = {
    {"avg", DEIT_HEAD_AVG}, {"cls", DEIT_HEAD_CLS}, {"dist", DEIT_HEAD_DIST}};
constexpr std::pair<const char*, deit_normalize> kNormalizations[] = {
    {"none", DEIT_NORMALIZE_NONE}, {"imagenet", DEIT_NORMALIZE_IMAGENET}, {"inception", DEIT_NORMALIZE_INCEPTION}};
constexpr std::pair<const char*, deit_split> kSplits[] = {{"test", DEIT_SPLIT_TEST},
                                                          {"train", DEIT_SPLIT_TRAIN}};

}  // namespace

deit_optimizer parse_optimizer(const std::string& option, const std::string& value) {
  return parse_enum(option, value, kOptimizers);
}
deit_schedule parse_schedule(const std::string& option, const std::string& value) {
  return parse_enum(option, value, kSchedules);
}
deit_distillation parse_distillation(const std::string& option, const std::string& value) {
  return parse_enum(option, value, kDistillations);
}
deit_trainable parse_trainable(const std::string& option, const std::string& value) {
  return parse_enum(option, value, kTrainables);
}
deit_head parse_head(const std::string& option, const std::string& value) {
  return parse_enum(option, value, kHeads);
}
deit_split parse_split(const std::string& option, const std::string& value) {
  return parse_enum(option, value, kSplits);
}
const char* optimizer_name(deit_optimizer o) {
  return enum_name(o, kOptimizers);
}
const char* schedule_name(deit_schedule s) {
  return enum_name(s, kSchedules);
}
const char* distillation_name(deit_distillation d) {
  return enum_name(d, kDistillations);
}
const char* head_name(deit_head h) {
  return enum_name(h, kHeads);
}

// ---- names the library lists ----------------------------------------------------------------------

std::string names_of(const char* (*name_at)(size_t)) {
  std::string out;
  std::vector<std::string> names;
  for (size_t i = 0; name_at(i) != nullptr; ++i) names.emplace_back(name_at(i));
  for (size_t i = 0; i < names.size(); ++i)
    out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return out;
}

bool is_one_of(const std::string& value, const char* (*name_at)(size_t)) {
  for (size_t i = 0; name_at(i) != nullptr; ++i)
    if (value == name_at(i)) return true;
  return false;
}

// ---- ranges ---------------------------------------------------------------------------------------

void require_positive(const std::string& option, double value) {
  if (!(value > 0) || !std::isfinite(value)) throw UsageError("--" + option + ": must be greater than 0");
}
void require_non_negative(const std::string& option, double value) {
  if (!(value >= 0) || !std::isfinite(value)) throw UsageError("--" + option + ": must be 0 or more");
}
void require_fraction(const std::string& option, double value) {
  if (!(value > 0 && value <= 1)) throw UsageError("--" + option + ": must be in (0, 1]");
}

// ---- help texts -----------------------------------------------------------------------------------

namespace {

std::string num(double v) {
  return format_number(v);
}

// "(default X)" or, in `run`, "(default X; --full: Y)" when the two configurations differ.
std::string dflt(const std::string& value, const std::string& full_value, bool have_full) {
  if (!have_full || value == full_value) return " (default " + value + ")";
  return " (default " + value + "; --full: " + full_value + ")";
}

}  // namespace

// ---- runtime --------------------------------------------------------------------------------------

void add_runtime_options(cxxopts::Options& options) {
  // clang-format off
  options.add_options("Runtime")
      ("device", "auto, cpu, cuda or cuda:N (default auto)", cxxopts::value<std::string>(), "DEV")
      ("threads", "CPU threads, 0 = all cores (default 0)", cxxopts::value<int32_t>(), "N")
      ("seed", "random seed for subsets, initialisation and shuffling (default 0)",
       cxxopts::value<uint64_t>(), "N")
      ("quiet", "no progress output, only errors")
      ("h,help", "show this help");
  // clang-format on
}

RuntimeSettings apply_runtime_options(const cxxopts::ParseResult& args) {
  RuntimeSettings r;
  r.group = process_group();  // joins the group first when started by torchrun or `deitctl launch`
  r.root = is_root();
  r.quiet = has(args, "quiet") || !r.root;  // one rank reports
  r.seed = get_or<uint64_t>(args, "seed", 0);
  r.threads = set_threads(get_or<int32_t>(args, "threads", 0));
  std::string device = get_or<std::string>(args, "device", "auto");
  // One GPU per rank of a machine, as torchrun does it.
  if (r.group && deit_cuda_available() && (device == "auto" || device == "cuda"))
    device = "cuda:" + std::to_string(process_local_rank());
  r.device = resolve_device(device);
  return r;
}

// ---- image files ----------------------------------------------------------------------------------

namespace {
const char* const kImageOptionNames[] = {"image-size", "crop-pct", "resize-filter", "gray", "skip-bad", "normalize"};
}  // namespace

void add_image_options(cxxopts::Options& options) {
  deit_image_options d;
  deit_image_options_init(&d);
  // clang-format off
  options.add_options("Image folders and list files (torchvision's Resize + CenterCrop)")
      ("image-size", "side of the stored square images (default " + std::to_string(d.image_size) + ")",
       cxxopts::value<int32_t>(), "N")
      ("crop-pct", "the shorter side is resized to image-size / crop-pct before the centre crop (default " +
       format_number(d.crop_pct) + ", timm's; 1 = no margin)", cxxopts::value<double>(), "F")
      ("resize-filter", "bilinear or bicubic (default bicubic)", cxxopts::value<std::string>(), "NAME")
      ("gray", "store gray images (1 channel) instead of RGB")
      ("skip-bad", "skip unreadable image files with a warning instead of failing")
      ("normalize", "none, imagenet or inception: the input normalisation of the models trained on these "
       "images, kept in their checkpoints (imagenet for torchvision's and timm's deit/resnet weights, inception "
       "(0.5, 0.5) for timm's vit weights; default none)",
       cxxopts::value<std::string>(), "NAME");
  // clang-format on
}

bool has_image_options(const cxxopts::ParseResult& args) {
  for (const char* name : kImageOptionNames)
    if (has(args, name)) return true;
  return false;
}

deit_image_options image_options(const cxxopts::ParseResult& args, const deit_image_options* base) {
  deit_image_options o;
  deit_image_options_init(&o);
  if (base) o = *base;
  o.image_size = get_or<int32_t>(args, "image-size", o.image_size);
  if (has(args, "image-size")) require_positive("image-size", o.image_size);
  o.crop_pct = get_or<double>(args, "crop-pct", o.crop_pct);
  if (!(o.crop_pct > 0.05 && o.crop_pct <= 1)) throw UsageError("--crop-pct: must be in (0.05, 1]");
  if (has(args, "resize-filter")) {
    const std::string f = get<std::string>(args, "resize-filter");
    if (f != "bilinear" && f != "bicubic") throw UsageError("--resize-filter: bilinear or bicubic, not '" + f + "'");
    o.filter = f == "bilinear" ? DEIT_RESIZE_BILINEAR : DEIT_RESIZE_BICUBIC;
  }
  if (has(args, "gray")) o.channels = 1;
  if (has(args, "skip-bad")) o.skip_bad = 1;
  if (has(args, "normalize")) o.normalize = parse_enum("normalize", get<std::string>(args, "normalize"), kNormalizations);
  return o;
}

// ---- data -----------------------------------------------------------------------------------------

void add_data_options(cxxopts::Options& options) {
  // clang-format off
  options.add_options("Data")
      ("data", std::string(kDataHelp) + " (default " + kDefaultDataDir + ")", cxxopts::value<std::string>(),
       "DIR")
      ("fraction", "random fraction of the training split (default 1)", cxxopts::value<double>(), "F")
      ("val-fraction", "hold out this fraction of the training images for validation at every epoch's end",
       cxxopts::value<double>(), "F");
  // clang-format on
}

void add_training_data_options(cxxopts::Options& options, const char* out_help) {
  add_data_options(options);
  // clang-format off
  options.add_options("Data")
      ("best", "with --val-fraction: also write the checkpoint of the epoch with the best validation accuracy "
               "here", cxxopts::value<std::string>(), "FILE")
      ("out", out_help, cxxopts::value<std::string>(), "FILE")
      ("json", "print the result as JSON on stdout");
  // clang-format on
}

// ---- crash safety ---------------------------------------------------------------------------------


std::string required(const cxxopts::ParseResult& args, const std::string& name) {
  if (!has(args, name)) throw UsageError("--" + name + " is required");
  return get<std::string>(args, name);
}

void add_state_options(cxxopts::Options& options) {
  // clang-format off
  options.add_options("Crash safety")
      ("state", "write a resumable training state here (.safetensors) at the end of every epoch",
       cxxopts::value<std::string>(), "FILE")
      ("state-every", "also write it every N steps", cxxopts::value<int32_t>(), "N")
      ("resume", "continue from --state FILE when it exists (same settings and data; exact same result)");
  // clang-format on
}

StateOptions state_options(const cxxopts::ParseResult& args) {
  StateOptions s;
  s.path = get_or<std::string>(args, "state", "");
  s.every = get_or<int32_t>(args, "state-every", 0);
  s.resume = has(args, "resume");
  if ((s.resume || has(args, "state-every")) && s.path.empty())
    throw UsageError("--resume and --state-every need --state FILE");
  if (has(args, "state-every")) require_positive("state-every", s.every);
  if (s.resume && !has(args, "quiet") && std::ifstream(s.path).good())
    std::fprintf(stderr, "deitctl: resuming from %s (the state written last)\n", s.path.c_str());
  return s;
}

void StateOptions::apply(const char** state_path, int32_t* every_steps, int32_t* resume_flag) const {
  *state_path = path.empty() ? nullptr : path.c_str();
  *every_steps = every;
  *resume_flag = resume ? 1 : 0;
}

// ---- the recipe shared by both models ------------------------------------------------------------

void add_recipe_options(cxxopts::Options& options, const RunDefaults& d, const RunDefaults* full) {
  const RunDefaults& c = full ? *full : d;
  deit_augment_options a;
  check(deit_augment_options_init(&a));
  auto add = options.add_options("Augmentation");
  add("augment",
      "on: augment both models' training batches (the library's defaults, changed by the options below); "
      "off: the images as stored" +
          dflt(d.augment ? "on" : "off", c.augment ? "on" : "off", full != nullptr),
      cxxopts::value<std::string>(), "on|off");
  add("crop-padding", "random crop after zero padding by N pixels, 0 = off (default " +
                          std::to_string(a.crop_padding) + ")",
      cxxopts::value<int32_t>(), "N");
  add("resized-crop", "random-resized crop of area [S, 1] instead (e.g. 0.08, DeiT's; default off)",
      cxxopts::value<double>(), "S");
  add("hflip", "mirror half the images (not for digits or text)");
  add("erase", "random-erasing probability (default " + num(a.erase_prob) + ")", cxxopts::value<double>(), "P");
  add("mixup", "mixup alpha, 0 = off (default " + num(a.mixup_alpha) + "; DeiT 0.8)", cxxopts::value<double>(),
      "A");
  add("cutmix", "cutmix alpha, 0 = off (default " + num(a.cutmix_alpha) + "; DeiT 1)", cxxopts::value<double>(),
      "A");
  add("clip-grad", "largest gradient norm, 0 = off" + dflt(num(d.clip_grad), num(c.clip_grad), full != nullptr),
      cxxopts::value<double>(), "N");
}

RecipeSettings recipe_settings(const cxxopts::ParseResult& args, const RunDefaults& d,
                               const std::string& prefix) {
  static const char* const kOps[] = {"crop-padding", "resized-crop", "hflip", "erase", "mixup", "cutmix"};
  RecipeSettings r;
  const bool teacher = !prefix.empty();
  bool on = teacher ? d.teacher_augment : d.augment;
  const std::string sw = teacher && has(args, prefix + "augment") ? prefix + "augment" : "augment";
  if (has(args, sw)) {
    const std::string v = get<std::string>(args, sw);
    if (v != "on" && v != "off") throw UsageError("--" + sw + ": '" + v + "' is not one of on, off");
    on = v == "on";
    r.augment_given = true;
    for (const char* op : kOps)
      if (!on && has(args, op) && sw == "augment")
        throw UsageError(std::string("--") + op + " needs augmentation, but --augment is off");
  } else {
    for (const char* op : kOps) r.augment_given = r.augment_given || has(args, op);
    on = on || r.augment_given;
  }
  if (on) {
    deit_augment_options a;
    check(deit_augment_options_init(&a));
    a.crop_padding = get_or<int32_t>(args, "crop-padding", a.crop_padding);
    if (has(args, "resized-crop")) {
      a.resized_crop_scale = get<double>(args, "resized-crop");
      if (!has(args, "crop-padding")) a.crop_padding = 0;  // one crop or the other
      require_fraction("resized-crop", a.resized_crop_scale);
    }
    a.hflip = has(args, "hflip") ? 1 : a.hflip;
    a.erase_prob = get_or<double>(args, "erase", a.erase_prob);
    a.mixup_alpha = get_or<double>(args, "mixup", a.mixup_alpha);
    a.cutmix_alpha = get_or<double>(args, "cutmix", a.cutmix_alpha);
    require_non_negative("crop-padding", a.crop_padding);
    if (!(a.erase_prob >= 0 && a.erase_prob <= 1)) throw UsageError("--erase: must be in [0, 1]");
    require_non_negative("mixup", a.mixup_alpha);
    require_non_negative("cutmix", a.cutmix_alpha);
    r.augment = a;
  }
  r.clip_grad = get_or<double>(args, "clip-grad", d.clip_grad);
  require_non_negative("clip-grad", r.clip_grad);
  return r;
}

// ---- teacher --------------------------------------------------------------------------------------

void add_teacher_options(cxxopts::Options& options, const std::string& prefix, bool add_batch_size,
                         const RunDefaults& d, const RunDefaults* full) {
  const RunDefaults& c = full ? *full : d;
  const bool two = full != nullptr;
  auto add = options.add_options("Teacher");
  add(prefix + "arch",
      names_of(deit_teacher_arch_name) +
          dflt(d.small_image_teacher_arch
                   ? std::string(d.small_image_teacher_arch) + " for images of at most " +
                         std::to_string(kSmallImageSide) + " px trained from scratch, else " + d.teacher_arch
                   : std::string(d.teacher_arch),
               c.teacher_arch, two),
      cxxopts::value<std::string>(), "ARCH");
  add(prefix + "weights",
      "pretrained torchvision/timm weights (.safetensors) for the architecture; the fc head is replaced "
      "and, by default, only it is trained",
      cxxopts::value<std::string>(), "FILE");
  add(prefix + "epochs",
      "teacher training epochs" +
          dflt(std::to_string(d.teacher_epochs), std::to_string(c.teacher_epochs), two),
      cxxopts::value<int32_t>(), "N");
  add(prefix + "lr", "teacher learning rate" + dflt(num(d.teacher_lr), num(c.teacher_lr), two),
      cxxopts::value<double>(), "LR");
  add(prefix + "optimizer",
      std::string("adam, adamw or sgd") +
          dflt(optimizer_name(d.teacher_optimizer), optimizer_name(c.teacher_optimizer), two),
      cxxopts::value<std::string>(), "NAME");
  add(prefix + "weight-decay", "teacher weight decay (default 0, adamw 0.05)", cxxopts::value<double>(),
      "WD");
  add(prefix + "trainable", "auto (head only with --" + prefix + "weights, else all), head or all",
      cxxopts::value<std::string>(), "WHICH");
  add(prefix + "schedule",
      std::string("constant or cosine") +
          dflt(schedule_name(d.teacher_schedule), schedule_name(c.teacher_schedule), two),
      cxxopts::value<std::string>(), "NAME");
  add(prefix + "warmup-epochs", "linear warmup epochs of the cosine schedule (default 0)",
      cxxopts::value<int32_t>(), "N");
  add(prefix + "label-smoothing",
      "label smoothing" + dflt(num(d.teacher_label_smoothing), num(c.teacher_label_smoothing), two),
      cxxopts::value<double>(), "E");
  if (add_batch_size)
    add("batch-size", "batch size" + dflt(std::to_string(d.batch_size), std::to_string(c.batch_size), two),
        cxxopts::value<int32_t>(), "N");
  if (!prefix.empty())
    add(prefix + "augment",
        std::string("on or off: augment the teacher's batches (default: --augment when given, else ") +
            (d.teacher_augment ? "on" : "off") + ")",
        cxxopts::value<std::string>(), "on|off");
}

TeacherSettings teacher_settings(const cxxopts::ParseResult& args, const std::string& prefix,
                                 const RunDefaults& d) {
  TeacherSettings t;
  t.arch = get_or<std::string>(args, prefix + "arch", d.teacher_arch);
  t.weights = get_or<std::string>(args, prefix + "weights", "");
  if (!is_one_of(t.arch, deit_teacher_arch_name))
    throw UsageError("--" + prefix + "arch: '" + t.arch + "' is not one of " + names_of(deit_teacher_arch_name));
  deit_teacher_train_options& o = t.train;
  check(deit_teacher_train_options_init(&o));
  o.epochs = get_or<int32_t>(args, prefix + "epochs", d.teacher_epochs);
  o.lr = get_or<double>(args, prefix + "lr", d.teacher_lr);
  o.batch_size = get_or<int32_t>(args, "batch-size", d.batch_size);
  o.optimizer = d.teacher_optimizer;
  if (has(args, prefix + "optimizer"))
    o.optimizer = parse_optimizer(prefix + "optimizer", get<std::string>(args, prefix + "optimizer"));
  // Unless one is given, the library's default for the optimizer (deit.h).
  if (has(args, prefix + "weight-decay")) o.weight_decay = get<double>(args, prefix + "weight-decay");
  if (has(args, prefix + "trainable"))
    o.trainable = parse_trainable(prefix + "trainable", get<std::string>(args, prefix + "trainable"));
  o.schedule = has(args, prefix + "schedule")
                   ? parse_schedule(prefix + "schedule", get<std::string>(args, prefix + "schedule"))
                   : d.teacher_schedule;
  o.warmup_epochs = get_or<int32_t>(args, prefix + "warmup-epochs", 0);
  o.label_smoothing = get_or<double>(args, prefix + "label-smoothing", d.teacher_label_smoothing);
  require_non_negative(prefix + "warmup-epochs", o.warmup_epochs);
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1))
    throw UsageError("--" + prefix + "label-smoothing: must be in [0, 1)");
  t.recipe = recipe_settings(args, d, prefix);
  require_non_negative(prefix + "epochs", o.epochs);
  require_positive(prefix + "lr", o.lr);
  require_positive("batch-size", o.batch_size);
  if (has(args, prefix + "weight-decay")) require_non_negative(prefix + "weight-decay", o.weight_decay);
  return t;
}

// ---- student --------------------------------------------------------------------------------------

void add_student_options(cxxopts::Options& options, const std::string& prefix, const RunDefaults& d,
                         const RunDefaults* full) {
  const RunDefaults& c = full ? *full : d;
  const bool two = full != nullptr;
  auto add = options.add_options("Student");
  add(prefix + "preset",
      names_of(deit_student_preset_name) + dflt(d.student_preset, c.student_preset, two),
      cxxopts::value<std::string>(), "NAME");
  add("patch-size", "patch size (default: the preset's)", cxxopts::value<int32_t>(), "N");
  add(prefix + "epochs",
      "student training epochs" +
          dflt(std::to_string(d.student_epochs), std::to_string(c.student_epochs), two),
      cxxopts::value<int32_t>(), "N");
  add("lr", "student learning rate" + dflt(num(d.lr), num(c.lr), two), cxxopts::value<double>(), "LR");
  add("optimizer",
      std::string("adam, adamw or sgd") + dflt(optimizer_name(d.optimizer), optimizer_name(c.optimizer), two),
      cxxopts::value<std::string>(), "NAME");
  add("weight-decay", "weight decay (default 0, adamw 0.05)", cxxopts::value<double>(), "WD");
  add("schedule",
      std::string("constant or cosine") + dflt(schedule_name(d.schedule), schedule_name(c.schedule), two),
      cxxopts::value<std::string>(), "NAME");
  add("warmup-epochs",
      "linear warmup epochs of the cosine schedule" +
          dflt(std::to_string(d.warmup_epochs), std::to_string(c.warmup_epochs), two),
      cxxopts::value<int32_t>(), "N");
  add("alpha", "weight of the distillation loss" + dflt(num(d.alpha), num(c.alpha), two),
      cxxopts::value<double>(), "A");
  add("temperature", "soft distillation temperature" + dflt(num(d.temperature), num(c.temperature), two),
      cxxopts::value<double>(), "T");
  add("distillation",
      std::string("soft, hard or none") +
          dflt(distillation_name(d.distillation), distillation_name(c.distillation), two),
      cxxopts::value<std::string>(), "KIND");
  add("label-smoothing",
      "label smoothing of the class head" + dflt(num(d.label_smoothing), num(c.label_smoothing), two),
      cxxopts::value<double>(), "E");
  add("drop-path", "stochastic depth rate of the last block" + dflt(num(d.drop_path), num(c.drop_path), two),
      cxxopts::value<double>(), "R");
  add("ema",
      "keep an exponential moving average of the student's weights with this decay (e.g. 0.999) and end "
      "with it; 0 = off" + dflt(num(d.ema_decay), num(c.ema_decay), two),
      cxxopts::value<double>(), "DECAY");
  add("logits-cache",
      "keep the teacher's logits for the training images in this file (.safetensors) between runs: "
      "used when written for the same data and teacher, else recomputed and rewritten",
      cxxopts::value<std::string>(), "FILE");
  if (prefix.empty())  // `run` adds --batch-size with the teacher options
    add("batch-size", "batch size" + dflt(std::to_string(d.batch_size), std::to_string(c.batch_size), two),
        cxxopts::value<int32_t>(), "N");
}

StudentSettings student_settings(const cxxopts::ParseResult& args, const std::string& prefix,
                                 const RunDefaults& d) {
  StudentSettings s;
  s.preset = get_or<std::string>(args, prefix + "preset", d.student_preset);
  s.patch_size = get_or<int32_t>(args, "patch-size", 0);
  s.init = get_or<std::string>(args, "init", "");
  if (has(args, "init") && s.init.empty()) throw UsageError("--init: empty path");
  if (!s.init.empty() && (has(args, prefix + "preset") || has(args, "patch-size")))
    throw UsageError("--init: the architecture comes from the weights; leave out --" + prefix + "preset and --patch-size");
  deit_distill_options& o = s.distill;
  check(deit_distill_options_init(&o));
  o.epochs = get_or<int32_t>(args, prefix + "epochs", d.student_epochs);
  o.batch_size = get_or<int32_t>(args, "batch-size", d.batch_size);
  o.lr = get_or<double>(args, "lr", d.lr);
  o.optimizer = has(args, "optimizer") ? parse_optimizer("optimizer", get<std::string>(args, "optimizer"))
                                       : d.optimizer;
  if (has(args, "weight-decay")) o.weight_decay = get<double>(args, "weight-decay");
  o.schedule =
      has(args, "schedule") ? parse_schedule("schedule", get<std::string>(args, "schedule")) : d.schedule;
  o.warmup_epochs = get_or<int32_t>(args, "warmup-epochs", d.warmup_epochs);
  o.alpha = get_or<double>(args, "alpha", d.alpha);
  o.temperature = get_or<double>(args, "temperature", d.temperature);
  o.distillation = has(args, "distillation")
                       ? parse_distillation("distillation", get<std::string>(args, "distillation"))
                       : d.distillation;
  o.label_smoothing = get_or<double>(args, "label-smoothing", d.label_smoothing);
  require_non_negative(prefix + "epochs", o.epochs);
  require_positive("batch-size", o.batch_size);
  require_positive("lr", o.lr);
  if (has(args, "weight-decay")) require_non_negative("weight-decay", o.weight_decay);
  require_non_negative("warmup-epochs", o.warmup_epochs);
  if (!(o.alpha >= 0 && o.alpha <= 1)) throw UsageError("--alpha: must be in [0, 1]");
  require_positive("temperature", o.temperature);
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1))
    throw UsageError("--label-smoothing: must be in [0, 1)");
  if (has(args, "patch-size")) require_positive("patch-size", s.patch_size);
  o.drop_path = get_or<double>(args, "drop-path", d.drop_path);
  if (!(o.drop_path >= 0 && o.drop_path < 1)) throw UsageError("--drop-path: must be in [0, 1)");
  o.ema_decay = get_or<double>(args, "ema", d.ema_decay);
  if (!(o.ema_decay >= 0 && o.ema_decay < 1)) throw UsageError("--ema: must be 0 (off) or in (0, 1)");
  s.recipe = recipe_settings(args, d, "");
  s.logits_cache = get_or<std::string>(args, "logits-cache", "");
  if (has(args, "logits-cache") && s.logits_cache.empty()) throw UsageError("--logits-cache: empty path");
  return s;
}

deit_student_config make_student_config(const StudentSettings& s, const deit_dataset_info& data) {
  deit_student_config c;
  if (!s.init.empty()) {
    check(deit_student_config_from_weights(&c, s.init.c_str()));
    c.num_classes = data.num_classes;  // heads of another class count start afresh
    if (data.height == data.width && data.height != c.img_size) c.img_size = data.height;
    return c;
  }
  const deit_status st = deit_student_config_init(&c, s.preset.c_str(), data.num_classes);
  if (st == DEIT_E_INVALID_ARG)
    throw UsageError("student preset '" + s.preset + "' is not one of " + names_of(deit_student_preset_name));
  check(st);
  if (s.patch_size > 0) c.patch_size = s.patch_size;
  if (data.height == data.width && data.height != c.img_size) c.img_size = data.height;
  return c;
}

}  // namespace deitctl
