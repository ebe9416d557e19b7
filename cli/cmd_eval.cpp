// deitctl eval / deitctl predict: use a saved student or teacher checkpoint (its kind is read from the
// file) on a data split, on image files, or on an IDX image file.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "defaults.h"
#include "images.h"
#include "json.h"
#include "options.h"
#include "pipeline.h"

namespace deitctl {

namespace {

constexpr int64_t kBatch = 256;  // images per library call when going through a whole set

deit_images u8_images(const uint8_t* data, deit_layout layout, int64_t count, int channels, int height,
                      int width) {
  deit_images im{};
  im.data = data;
  im.dtype = DEIT_DTYPE_U8;
  im.layout = layout;
  im.count = count;
  im.channels = channels;
  im.height = height;
  im.width = width;
  return im;
}

// Logits [count x num_classes] of the model's chosen head (a teacher has one).
std::vector<float> predict_logits(const Model& m, const deit_images& images, deit_head head) {
  std::vector<float> logits(static_cast<size_t>(images.count) * static_cast<size_t>(m.num_classes));
  if (m.student)
    check(deit_student_predict(m.student.get(), &images, head, logits.data(), logits.size()));
  else
    check(deit_teacher_predict(m.teacher.get(), &images, logits.data(), logits.size()));
  return logits;
}

void check_size(const Model& m, const std::string& what, int height, int width) {
  if (m.img_size > 0 && (height != m.img_size || width != m.img_size))
    throw LibraryError(std::string(deit_status_str(DEIT_E_INVALID_ARG)) + ": " + what + " is " +
                       std::to_string(width) + "x" + std::to_string(height) + " but the model takes " +
                       std::to_string(m.img_size) + "x" + std::to_string(m.img_size) +
                       " images (deitctl does not resize; resize the image first)");
}

std::string model_summary(const Model& m) {
  if (m.student) {
    const deit_student_config c = student_config(m.student.get());
    const Json* cfg = m.description.find("config");
    const std::string preset = cfg && cfg->find("preset") ? cfg->find("preset")->str() : "custom";
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
  for (int64_t start = 0; start < info.count; start += kBatch) {
    const int64_t n = std::min(kBatch, info.count - start);
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
    j.set("model", path).set("kind", m.kind).set("data", data_dir).set("split", split_name);
    j.set("count", e.result.count).set("loss", e.result.loss).set("seconds", e.seconds);
    if (m.student) {
      j.set("head", head_name(head));
      j.set("accuracy", accuracy);
      j.set("accuracy_avg", e.result.accuracy);
      j.set("accuracy_cls", e.result.accuracy_cls);
      j.set("accuracy_dist", e.result.accuracy_dist);
    } else {
      j.set("accuracy", accuracy);
    }
    if (want_confusion) {
      Json rows = Json::array();
      for (size_t r = 0; r < k; ++r) {
        Json row = Json::array();
        for (size_t c = 0; c < k; ++c) row.push(confusion[r * k + c]);
        rows.push(row);
      }
      j.set("confusion", rows);
    }
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf("%s (%s)\n%s split of %s: %s images\n", path.c_str(), model_summary(m).c_str(),
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

namespace {

struct Prediction {
  std::string name;
  int64_t index;  // within an IDX file, else -1
  int32_t label;  // true class when known, else -1
  std::vector<float> logits;
};

std::string format_probability(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", p);
  return buf;
}

// How predictions are printed: the k most probable classes, named when the model has class names.
struct ReportStyle {
  bool json = false;
  size_t top = 5;
  std::vector<std::string> class_names;

  std::string cls(size_t k) const {
    return class_names.empty() ? std::to_string(k) : std::to_string(k) + " (" + class_names[k] + ")";
  }
};

void report(const Prediction& p, const ReportStyle& style) {
  const auto best = std::max_element(p.logits.begin(), p.logits.end());
  const int32_t cls = static_cast<int32_t>(best - p.logits.begin());
  // Softmax with the max subtracted, for range safety.
  std::vector<double> prob(p.logits.size());
  double sum = 0;
  for (size_t i = 0; i < prob.size(); ++i)
    sum += prob[i] = std::exp(static_cast<double>(p.logits[i] - *best));
  for (double& v : prob) v /= sum;
  // The top k, most probable first (ties: the lower class, as argmax).
  std::vector<size_t> order(prob.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const size_t k = std::min(style.top, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](size_t a, size_t b) { return prob[a] > prob[b] || (prob[a] == prob[b] && a < b); });
  if (style.json) {
    Json j = Json::object();
    j.set("file", p.name);
    if (p.index >= 0) j.set("index", p.index);
    j.set("class", cls);
    if (!style.class_names.empty()) j.set("class_name", style.class_names[static_cast<size_t>(cls)]);
    if (p.label >= 0) j.set("label", p.label);
    Json top = Json::array();
    for (size_t r = 0; r < k; ++r) {
      Json t = Json::object().set("class", static_cast<int64_t>(order[r])).set("probability", prob[order[r]]);
      if (!style.class_names.empty()) t.set("name", style.class_names[order[r]]);
      top.push(t);
    }
    Json logits = Json::array(), probs = Json::array();
    for (float v : p.logits) logits.push(static_cast<double>(v));
    for (double v : prob) probs.push(v);
    j.set("top", top).set("logits", logits).set("probabilities", probs);
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  // name, class, probability, [true class], then the runners-up: one line per image.
  std::string line = (p.index >= 0 ? p.name + "[" + std::to_string(p.index) + "]" : p.name) + "\t" +
                     style.cls(order[0]) + "\t" + format_probability(prob[order[0]]);
  if (p.label >= 0) line += "\ttrue " + style.cls(static_cast<size_t>(p.label)) + (cls == p.label ? "" : "\tWRONG");
  for (size_t r = 1; r < k; ++r) line += "\t" + style.cls(order[r]) + " " + format_probability(prob[order[r]]);
  std::printf("%s\n", line.c_str());
}

// Image files named on the command line, a folder standing for the image files under it (sorted).
std::vector<std::string> expand_image_paths(const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  static const char* const kExtensions[] = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".pnm"};
  std::vector<std::string> out;
  for (const std::string& a : args) {
    std::error_code ec;
    if (!fs::is_directory(a, ec)) {
      out.push_back(a);
      continue;
    }
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(a, ec), end; !ec && it != end; it.increment(ec)) {
      std::string ext = it->path().extension().string();
      for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (it->is_regular_file(ec) &&
          std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions))
        found.push_back(it->path().string());
    }
    if (ec) throw LibraryError(std::string(deit_status_str(DEIT_E_IO)) + ": " + a + ": " + ec.message());
    if (found.empty()) throw LibraryError(std::string(deit_status_str(DEIT_E_IO)) + ": " + a + ": no image files");
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

// How photographs are prepared: as the model's training images were (its checkpoint), else a student's
// input size from the centre square (crop_pct 1, bilinear); the image options given override either.
// False for a teacher without either: its images go in as they are (a ResNet takes any size).
bool photo_options(const Model& m, const cxxopts::ParseResult& args, deit_image_options* out) {
  deit_image_options base;
  deit_image_options_init(&base);
  if (m.has_image_options) {
    base = m.image_options;
  } else if (m.student) {
    base.image_size = m.img_size;
    base.crop_pct = 1.0;
    base.filter = DEIT_RESIZE_BILINEAR;
    base.channels = m.in_channels;
  } else if (!has_image_options(args)) {
    return false;
  }
  *out = image_options(args, &base);
  return true;
}

}  // namespace

int cmd_predict(int argc, char** argv) {
  cxxopts::Options options(
      "deitctl predict",
      "Classify image files (JPEG, PNG, BMP, PGM/PPM; a folder stands for the images under it) or the images "
      "of an IDX file with a student or teacher checkpoint.\nPhotographs of any size are prepared as the "
      "model's training images were (resize + centre crop, from its checkpoint); a student trained on other "
      "data gets its input size from the centre square.\nPrints one line per image: name, class, probability, "
      "then the runners-up of the top K (--json: one JSON object per line with the top K, logits and "
      "probabilities).");
  options.custom_help("MODEL IMAGE|FOLDER... | MODEL --idx FILE [options]");
  options.positional_help("");
  // clang-format off
  options.add_options()
      ("model", "student or teacher checkpoint", cxxopts::value<std::string>(), "MODEL")
      ("idx", "an IDX image file (raw or .gz) instead of image files", cxxopts::value<std::string>(), "FILE")
      ("labels", "with --idx: the matching IDX label file, to show the true classes and the accuracy",
       cxxopts::value<std::string>(), "FILE")
      ("limit", "with --idx: only the first N images", cxxopts::value<int64_t>(), "N")
      ("head", "student head: avg, cls or dist (default avg)", cxxopts::value<std::string>(), "HEAD")
      ("top", "show the K most probable classes (default 5)", cxxopts::value<int32_t>(), "K")
      ("json", "one JSON object per image");
  // clang-format on
  add_image_options(options);
  add_runtime_options(options);
  options.parse_positional({"model"});
  // Image paths are the positional arguments after MODEL (kept whole: no comma splitting).
  std::vector<std::string> files;
  cxxopts::ParseResult args;
  try {
    args = options.parse(argc, argv);
    files = args.unmatched();
  } catch (const cxxopts::exceptions::exception& e) {
    throw UsageError(e.what());
  }
  if (has(args, "help")) {
    print_help(options);
    return kExitOk;
  }
  if (!has(args, "model")) throw UsageError("MODEL is required");
  const bool idx = has(args, "idx");
  if (idx == !files.empty())
    throw UsageError(idx ? "give image files or --idx, not both" : "no images given");
  if (!idx && (has(args, "labels") || has(args, "limit")))
    throw UsageError("--labels and --limit go with --idx");
  const int64_t limit = get_or<int64_t>(args, "limit", 0);
  if (has(args, "limit") && limit < 1) throw UsageError("--limit: must be 1 or more");
  const deit_head head =
      has(args, "head") ? parse_head("head", get<std::string>(args, "head")) : DEIT_HEAD_AVG;
  const bool json = has(args, "json");
  const int32_t top = get_or<int32_t>(args, "top", 5);
  if (top < 1) throw UsageError("--top: must be 1 or more");
  const std::string path = get<std::string>(args, "model");
  const RuntimeSettings rt = apply_runtime_options(args);
  install_sigint_handler(!rt.quiet);

  Model m = load_model(path, rt.device);
  if (m.teacher && has(args, "head") && head != DEIT_HEAD_AVG)
    throw UsageError("--head: " + path + " is a teacher checkpoint; it has one head");

  ReportStyle style;
  style.json = json;
  style.top = static_cast<size_t>(top);
  style.class_names = m.class_names;
  if (!idx) {
    deit_image_options prep;
    const bool resize = photo_options(m, args, &prep);
    for (const std::string& file : expand_image_paths(files)) {
      if (resize) {
        std::vector<uint8_t> chw(static_cast<size_t>(prep.channels) * static_cast<size_t>(prep.image_size) *
                                 static_cast<size_t>(prep.image_size));
        check(deit_image_read_file(file.c_str(), &prep, chw.data(), chw.size()));
        const deit_images im =
            u8_images(chw.data(), DEIT_LAYOUT_NCHW, 1, prep.channels, prep.image_size, prep.image_size);
        report({file, -1, -1, predict_logits(m, im, head)}, style);
      } else {
        // A gray image stays 1 channel even for a 3-channel model: the library repeats it.
        const Image img = convert_channels(load_image_file(file), m.in_channels);
        const deit_images im =
            u8_images(img.hwc.data(), DEIT_LAYOUT_NHWC, 1, img.channels, img.height, img.width);
        report({file, -1, -1, predict_logits(m, im, head)}, style);
      }
      throw_if_interrupted();
    }
    return kExitOk;
  }

  const std::string idx_path = get<std::string>(args, "idx");
  const IdxImages set = read_idx_images(idx_path, limit);
  std::vector<int32_t> labels;
  if (has(args, "labels")) {
    labels = read_idx_labels(get<std::string>(args, "labels"), limit);
    if (static_cast<int64_t>(labels.size()) != set.count)
      throw LibraryError(std::string(deit_status_str(DEIT_E_FORMAT)) + ": " + idx_path + " has " +
                         std::to_string(set.count) + " images but the label file " +
                         std::to_string(labels.size()) + " labels");
  }
  check_size(m, idx_path, set.height, set.width);
  const size_t plane = static_cast<size_t>(set.height) * static_cast<size_t>(set.width);
  int64_t correct = 0;
  for (int64_t start = 0; start < set.count; start += kBatch) {
    const int64_t n = std::min(kBatch, set.count - start);
    const deit_images im = u8_images(set.pixels.data() + static_cast<size_t>(start) * plane, DEIT_LAYOUT_NCHW,
                                     n, 1, set.height, set.width);
    const std::vector<float> logits = predict_logits(m, im, head);
    const size_t k = static_cast<size_t>(m.num_classes);
    for (int64_t i = 0; i < n; ++i) {
      Prediction p{
          idx_path, start + i, labels.empty() ? -1 : labels[static_cast<size_t>(start + i)],
          std::vector<float>(logits.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(i) * k),
                             logits.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(i + 1) * k))};
      const int32_t cls =
          static_cast<int32_t>(std::max_element(p.logits.begin(), p.logits.end()) - p.logits.begin());
      correct += cls == p.label;
      report(p, style);
    }
    throw_if_interrupted();
  }
  if (!labels.empty() && !rt.quiet)
    std::fprintf(stderr, "accuracy: %s (%s of %s)\n",
                 format_percent(static_cast<double>(correct) / static_cast<double>(set.count)).c_str(),
                 format_count(correct).c_str(), format_count(set.count).c_str());
  return kExitOk;
}

}  // namespace deitctl
