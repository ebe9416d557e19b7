// Image folders and list files: scanning (torchvision's ImageFolder order), parallel decoding into one
// stored uint8 buffer, bad files failed or skipped.
#include "data/image_folder.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/c_enum.h"
#include "core/error.h"
#include "core/log.h"
#include "data/file_io.h"

namespace deit::data {
namespace fs = std::filesystem;
namespace {

// One image to decode: its path and label.
struct Entry {
  std::string path;
  int64_t label = 0;
};

struct Listing {
  std::vector<Entry> entries;
  std::vector<std::string> class_names;  // empty: numeric labels (list file)
  int32_t num_classes = 0;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// torchvision's IMG_EXTENSIONS less .tif/.tiff/.webp (no decoder here: counted and reported), plus .pnm.
bool decodable_extension(const std::string& ext) {
  static const std::set<std::string> kDecodable = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".pnm"};
  return kDecodable.count(lower(ext)) > 0;
}
bool undecodable_image_extension(const std::string& ext) {
  static const std::set<std::string> kOther = {".tif", ".tiff", ".webp", ".gif"};
  return kOther.count(lower(ext)) > 0;
}

std::string io_reason(const std::error_code& ec) { return ec ? ": " + ec.message() : ""; }

// Sub-folders of `dir`, sorted by name.  Hidden ones (".ipynb_checkpoints", ".git") are left out: unlike
// torchvision, where such a folder silently becomes a class.
std::vector<std::string> sorted_subfolders(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
  if (ec) fail(DEIT_E_IO, dir + ": cannot list" + io_reason(ec));
  std::vector<std::string> names;
  for (const fs::directory_entry& e : it) {
    const std::string name = e.path().filename().string();
    if (!name.empty() && name[0] != '.' && e.is_directory(ec)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The image files under `dir` (sub-folders included) in os.walk-sorted order, as ImageFolder lists them.
std::vector<std::string> image_files(const std::string& dir, int64_t* undecodable) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, file name): sorts like os.walk
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
  if (ec) fail(DEIT_E_IO, dir + ": cannot list" + io_reason(ec));
  for (; it != end; it.increment(ec)) {
    if (ec) fail(DEIT_E_IO, dir + ": cannot list" + io_reason(ec));
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    const std::string ext = p.extension().string();
    if (decodable_extension(ext)) {
      found.emplace_back(p.parent_path().string(), name);
    } else if (undecodable_image_extension(ext)) {
      ++*undecodable;
    }
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  paths.reserve(found.size());
  for (const auto& [folder, name] : found) paths.push_back(folder + "/" + name);
  return paths;
}

// A folder of class folders.  `classes` empty: they come from the folder; else the folder's classes must
// be among them (a val/ folder checked against train/'s, so that label k means the same class in both).
Listing list_class_folder(const std::string& dir, const std::vector<std::string>& classes) {
  const std::vector<std::string> found = sorted_subfolders(dir);
  if (found.empty())
    fail(DEIT_E_FORMAT, dir + ": no class folders (expected one sub-folder of images per class, "
                              "as torchvision's ImageFolder)");
  Listing out;
  out.class_names = classes.empty() ? found : classes;
  out.num_classes = static_cast<int32_t>(out.class_names.size());
  int64_t undecodable = 0;
  for (const std::string& name : found) {
    const auto at = std::lower_bound(out.class_names.begin(), out.class_names.end(), name);
    if (at == out.class_names.end() || *at != name)
      fail(DEIT_E_FORMAT, dir + "/" + name + ": class \"" + name + "\" is not among the training split's " +
                              std::to_string(out.num_classes) + " classes");
    const std::vector<std::string> files = image_files(dir + "/" + name, &undecodable);
    if (files.empty())
      fail(DEIT_E_FORMAT, dir + "/" + name + ": class folder without images (.jpg .jpeg .png .bmp .pgm .ppm .pnm)");
    const int64_t label = at - out.class_names.begin();
    for (const std::string& f : files) out.entries.push_back({f, label});
  }
  if (undecodable > 0)
    log(DEIT_LOG_WARN, dir + ": left out " + std::to_string(undecodable) +
                           " .tif/.tiff/.webp/.gif files (libdeit decodes JPEG, PNG, BMP and PGM/PPM)");
  return out;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// "path,label" lines after that header; paths relative to the list file's folder.
Listing list_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(DEIT_E_IO, path + ": cannot open: " + std::strerror(errno));
  const std::string base = fs::path(path).parent_path().string();
  std::string line;
  if (!std::getline(in, line) || lower(trim(line)) != "path,label")
    fail(DEIT_E_FORMAT, path + ": line 1 must be the header \"path,label\"");
  std::vector<std::pair<std::string, std::string>> rows;
  for (int64_t number = 2; std::getline(in, line); ++number) {
    if (trim(line).empty()) continue;
    // The last comma: a path may hold commas, a label does not.
    const size_t comma = line.rfind(',');
    const std::string file = comma == std::string::npos ? "" : trim(line.substr(0, comma));
    const std::string label = comma == std::string::npos ? "" : trim(line.substr(comma + 1));
    if (file.empty() || label.empty())
      fail(DEIT_E_FORMAT, path + ": line " + std::to_string(number) + ": expected \"path,label\", got \"" +
                              line.substr(0, 200) + "\"");
    const std::string resolved = fs::path(file).is_absolute() || base.empty() ? file : base + "/" + file;
    if (!is_regular_file(resolved))
      fail(DEIT_E_IO, path + ": line " + std::to_string(number) + ": " + resolved + ": no such file");
    rows.emplace_back(resolved, label);
  }
  if (rows.empty()) fail(DEIT_E_FORMAT, path + ": lists no images");
  Listing out;
  const bool numeric = std::all_of(rows.begin(), rows.end(), [](const auto& r) { return all_digits(r.second); });
  if (numeric) {
    for (const auto& [file, label] : rows) {
      out.entries.push_back({file, std::stoll(label)});
      out.num_classes = std::max(out.num_classes, static_cast<int32_t>(out.entries.back().label + 1));
    }
    return out;
  }
  std::map<std::string, int64_t> index;
  for (const auto& row : rows) index.emplace(row.second, 0);
  for (auto& [name, k] : index) {  // sorted names -> 0, 1, ...
    k = static_cast<int64_t>(out.class_names.size());
    out.class_names.push_back(name);
  }
  for (const auto& [file, label] : rows) out.entries.push_back({file, index.at(label)});
  out.num_classes = static_cast<int32_t>(out.class_names.size());
  return out;
}

// The split folder of a train/ + val/ layout: "val" before "test", as ImageNet's.
std::string split_folder(const std::string& dir, deit_split split) {
  if (split == DEIT_SPLIT_TRAIN) return dir + "/train";
  for (const char* name : {"val", "test"}) {
    if (is_directory(dir + "/" + name)) return dir + "/" + name;
  }
  fail(DEIT_E_IO, dir + ": has train/ but no val/ or test/ folder for the test split");
}

// train/ beside val/ or test/, or train/ holding class folders itself (then the test split is missing:
// an error, not a class called "train").
bool has_split_folders(const std::string& dir) {
  const std::string train = dir + "/train";
  if (!is_directory(train)) return false;
  if (is_directory(dir + "/val") || is_directory(dir + "/test")) return true;
  return !sorted_subfolders(train).empty();
}

Listing list_path(const std::string& path, deit_split split) {
  if (is_regular_file(path)) {
    if (lower(fs::path(path).extension().string()) != ".csv")
      fail(DEIT_E_FORMAT, path + ": a list file must end in .csv (\"path,label\" lines); for a folder of "
                                 "class folders pass the folder");
    return list_file(path);
  }
  require_directory(path);
  if (!has_split_folders(path)) return list_class_folder(path, {});
  const Listing train = list_class_folder(path + "/train", {});
  if (split == DEIT_SPLIT_TRAIN) return train;
  return list_class_folder(split_folder(path, split), train.class_names);
}

// Planar copy of an interleaved image into dst (channels x h x w).
void to_planar(const image::Image& im, uint8_t* dst) {
  const size_t hw = static_cast<size_t>(im.width) * static_cast<size_t>(im.height);
  const auto c_n = static_cast<size_t>(im.channels);
  for (size_t p = 0; p < hw; ++p)
    for (size_t c = 0; c < c_n; ++c) dst[c * hw + p] = im.hwc[p * c_n + c];
}

void preprocess_into(const std::string& path, const ImageSettings& s, uint8_t* dst) {
  image::DecodeOptions d;
  d.channels = s.channels;
  d.max_pixels = s.max_pixels;
  const image::Image decoded = image::decode_file(path, d);
  const image::Size size = image::shorter_side_to(decoded.width, decoded.height, s.resize_size());
  const image::Filter filter = s.filter == DEIT_RESIZE_BILINEAR ? image::Filter::kBilinear : image::Filter::kBicubic;
  const image::Image resized = image::resize(decoded, size.width, size.height, filter);
  to_planar(image::center_crop(resized, s.image_size, s.image_size), dst);
}

// Decodes entries[i] into images + i * per on `threads` threads.  Returns the indices that failed (with
// skip_bad; without it the first failure in file order is thrown once all threads have stopped).
std::vector<size_t> decode_all(const std::vector<Entry>& entries, const ImageSettings& s, uint8_t* images,
                               size_t per) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<size_t, std::string> failures;  // index -> message
  std::exception_ptr first_error;
  size_t first_error_index = SIZE_MAX;
  auto work = [&] {
    for (size_t i = next++; i < entries.size() && !stop; i = next++) {
      try {
        preprocess_into(entries[i].path, s, images + i * per);
      } catch (const Error& e) {
        std::lock_guard<std::mutex> lock(mu);
        failures.emplace(i, e.what());
        if (!s.skip_bad && i < first_error_index) {
          first_error_index = i;
          first_error = std::current_exception();
          stop = true;
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (i < first_error_index) {
          first_error_index = i;
          first_error = std::current_exception();
        }
        stop = true;
      }
    }
  };
  const int64_t wanted = s.threads > 0 ? s.threads : std::max(1u, std::thread::hardware_concurrency());
  const auto n_threads = static_cast<size_t>(std::clamp<int64_t>(wanted, 1, 256));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < std::min(n_threads, entries.size()); ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);
  std::vector<size_t> bad;
  for (const auto& [i, message] : failures) {
    log(DEIT_LOG_WARN, "skipped " + message);
    bad.push_back(i);
  }
  return bad;
}

}  // namespace

int32_t ImageSettings::resize_size() const {
  return static_cast<int32_t>(std::floor(static_cast<double>(image_size) / crop_pct));
}

void validate(const ImageSettings& s) {
  require(s.image_size >= 1 && s.image_size <= 4096,
          "image options: image_size " + std::to_string(s.image_size) + " is outside [1, 4096]");
  require(s.crop_pct > 0.05 && s.crop_pct <= 1.0,
          "image options: crop_pct " + std::to_string(s.crop_pct) + " is outside (0.05, 1]");
  checked_enum(s.filter, "image options: filter");
  require(s.threads >= 0 && s.threads <= 256,
          "image options: threads " + std::to_string(s.threads) + " is outside [0, 256]");
  require(s.channels == 1 || s.channels == 3,
          "image options: channels " + std::to_string(s.channels) + " is not 1 (gray) or 3 (RGB)");
  require(s.max_pixels >= 1, "image options: max_pixels " + std::to_string(s.max_pixels) + " is below 1");
}

std::vector<uint8_t> read_image_file(const std::string& path, const ImageSettings& s) {
  validate(s);
  std::vector<uint8_t> out(static_cast<size_t>(s.channels) * static_cast<size_t>(s.image_size) *
                           static_cast<size_t>(s.image_size));
  preprocess_into(path, s, out.data());
  return out;
}

Dataset open_folder(const std::string& path, deit_split split, const ImageSettings& s) {
  validate(s);
  checked_enum(split, "split");
  const Listing listing = list_path(path, split);

  Dataset ds;
  ds.channels = s.channels;
  ds.height = ds.width = s.image_size;
  ds.num_classes = listing.num_classes;
  ds.class_names = listing.class_names;
  ds.preprocess = {s.image_size, s.crop_pct, s.filter, s.channels, s.normalize};
  ds.format = DEIT_FORMAT_FOLDER;
  ds.dtype = DEIT_DTYPE_U8;
  const auto per = static_cast<size_t>(ds.image_size());
  int64_t bytes = 0;
  if (!mul_nonneg(static_cast<int64_t>(per), static_cast<int64_t>(listing.entries.size()), &bytes))
    invalid_arg(path + ": " + std::to_string(listing.entries.size()) + " images overflow a 64-bit size");
  log(DEIT_LOG_INFO, path + ": decoding " + std::to_string(listing.entries.size()) + " images to " +
                         std::to_string(s.channels) + "x" + std::to_string(s.image_size) + "x" +
                         std::to_string(s.image_size) + " (" + std::to_string(bytes >> 20) + " MiB) on " +
                         (s.threads > 0 ? std::to_string(s.threads) : std::string("all")) + " threads");
  ds.u8.resize(static_cast<size_t>(bytes));
  const std::vector<size_t> bad = decode_all(listing.entries, s, ds.u8.data(), per);

  // Keep the good images, in order.
  size_t kept = 0;
  auto next_bad = bad.begin();
  ds.labels.reserve(listing.entries.size() - bad.size());
  for (size_t i = 0; i < listing.entries.size(); ++i) {
    if (next_bad != bad.end() && *next_bad == i) {
      ++next_bad;
      continue;
    }
    if (kept != i) std::memmove(ds.u8.data() + kept * per, ds.u8.data() + i * per, per);
    ds.labels.push_back(listing.entries[i].label);
    ++kept;
  }
  if (kept == 0) fail(DEIT_E_FORMAT, path + ": none of its " + std::to_string(bad.size()) + " images could be read");
  if (!bad.empty()) {
    log(DEIT_LOG_WARN, path + ": skipped " + std::to_string(bad.size()) + " of " +
                           std::to_string(listing.entries.size()) + " images that could not be read");
  }
  ds.u8.resize(kept * per);
  ds.u8.shrink_to_fit();
  ds.count = static_cast<int64_t>(kept);
  ds.skipped = static_cast<int64_t>(bad.size());
  ds.source = path;
  return ds;
}

Dataset open_any(const std::string& path, deit_split split, const ImageSettings& s) {
  if (is_regular_file(path)) return open_folder(path, split, s);
  return open_dir(path, split, &s);
}

bool looks_like_image_folder(const std::string& dir) {
  if (!is_directory(dir)) return false;
  if (has_split_folders(dir)) return true;
  // Class folders: at least one sub-folder holding an image file directly.
  for (const std::string& name : sorted_subfolders(dir)) {
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(dir + "/" + name, ec)) {
      if (decodable_extension(e.path().extension().string())) return true;
    }
  }
  return false;
}

}  // namespace deit::data
