// deitctl predict: a saved student or teacher checkpoint (its kind is read from the file) on image files, a
// folder of them, or an IDX image file: the most probable classes of each image.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
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
    j["file"] = p.name;
    if (p.index >= 0) j["index"] = p.index;
    j["class"] = cls;
    if (!style.class_names.empty()) j["class_name"] = style.class_names[static_cast<size_t>(cls)];
    if (p.label >= 0) j["label"] = p.label;
    Json top = Json::array();
    for (size_t r = 0; r < k; ++r) {
      Json t = Json{{"class", static_cast<int64_t>(order[r])}, {"probability", prob[order[r]]}};
      if (!style.class_names.empty()) t["name"] = style.class_names[order[r]];
      top.push_back(t);
    }
    Json logits = Json::array(), probs = Json::array();
    for (float v : p.logits) logits.push_back(static_cast<double>(v));
    for (double v : prob) probs.push_back(v);
    j["top"] = top;
    j["logits"] = logits;
    j["probabilities"] = probs;
    std::printf("%s\n", dump_json(j).c_str());
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
  for (int64_t start = 0; start < set.count; start += kImagesPerCall) {
    const int64_t n = std::min(kImagesPerCall, set.count - start);
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
