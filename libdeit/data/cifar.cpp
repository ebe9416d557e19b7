// CIFAR binary batches: fixed-size records of label byte(s) + 3x32x32 pixels,
// already channel-major (all red, then green, then blue), so NCHW as stored.
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/file_io.h"

namespace deit::data {
namespace {

constexpr int32_t kSide = 32;
constexpr int64_t kPixels = 3 * kSide * kSide;  // 3072
constexpr int kCoarseClasses = 20;              // CIFAR-100 superclasses

}  // namespace

Dataset read_cifar(const std::vector<std::string>& paths, int32_t num_classes) {
  if (num_classes != 10 && num_classes != 100)
    invalid_arg("num_classes " + std::to_string(num_classes) +
                " is neither 10 (CIFAR-10) nor 100 (CIFAR-100)");
  require(!paths.empty(), "no CIFAR files given");
  const bool c100 = num_classes == 100;
  // CIFAR-100 records carry the coarse label before the fine one.
  const int64_t label_bytes = c100 ? 2 : 1;
  const int64_t record = label_bytes + kPixels;
  const char* name = c100 ? "CIFAR-100" : "CIFAR-10";

  Dataset ds;
  for (const std::string& path : paths) {
    const std::vector<uint8_t> buf = read_file(path);
    const auto size = static_cast<int64_t>(buf.size());
    if (size == 0 || size % record != 0) {
      fail(DEIT_E_FORMAT, path + ": size " + std::to_string(size) +
                              " bytes is not a positive multiple of the " + name + " record size " +
                              std::to_string(record) + " (" + std::to_string(label_bytes) + " label byte" +
                              (c100 ? "s" : "") + " + 3x32x32 pixels)");
    }
    const int64_t n = size / record;
    const size_t base = ds.u8.size();
    ds.u8.resize(base + static_cast<size_t>(n * kPixels));
    ds.labels.reserve(ds.labels.size() + static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* rec = buf.data() + i * record;
      if (c100 && rec[0] >= kCoarseClasses) {
        fail(DEIT_E_FORMAT, path + ": record " + std::to_string(i) + " has coarse label " +
                                std::to_string(rec[0]) + ", outside [0, 20) for CIFAR-100");
      }
      const int label = rec[label_bytes - 1];
      if (label >= num_classes) {
        fail(DEIT_E_FORMAT, path + ": record " + std::to_string(i) + " has label " + std::to_string(label) +
                                ", outside [0, " + std::to_string(num_classes) + ") for " + name);
      }
      ds.labels.push_back(label);
      std::memcpy(ds.u8.data() + base + i * kPixels, rec + label_bytes, kPixels);
    }
    ds.count += n;
  }
  ds.channels = 3;
  ds.height = kSide;
  ds.width = kSide;
  ds.num_classes = num_classes;
  ds.dtype = DEIT_DTYPE_U8;
  ds.format = c100 ? DEIT_FORMAT_CIFAR100 : DEIT_FORMAT_CIFAR10;
  ds.source = paths.size() == 1 ? paths[0] : paths[0] + " (+" + std::to_string(paths.size() - 1) + " more)";
  if (log_enabled(DEIT_LOG_DEBUG)) {
    log(DEIT_LOG_DEBUG, "read " + std::to_string(ds.count) + " images 3x32x32, " +
                            std::to_string(num_classes) + " classes from " + ds.source);
  }
  return ds;
}

}  // namespace deit::data
