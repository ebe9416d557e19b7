// Command-line front end to deit::image::resize / center_crop for test_resize_vs_pil.py: raw interleaved
// bytes in, raw bytes out on stdout, so the test compares against PIL without any decoder in the loop.
//   resize_tool IN.raw W H C OUT_W OUT_H FILTER
//   resize_tool --preprocess IN.raw W H C SIZE CROP FILTER   (torchvision Resize(SIZE) + CenterCrop(CROP))
//   resize_tool --bench REPS IN.raw W H C SIZE FILTER         (median ms of REPS shorter-side resizes)
// FILTER is bilinear or bicubic.  Errors go to stderr with exit status 2.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "image/image.h"

namespace {

using deit::image::Filter;
using deit::image::Image;

int32_t parse_int(const char* s, const char* what) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < INT32_MIN || v > INT32_MAX) {
    throw std::runtime_error(std::string("bad ") + what + ": '" + s + "'");
  }
  return static_cast<int32_t>(v);
}

Filter parse_filter(const std::string& s) {
  if (s == "bilinear") return Filter::kBilinear;
  if (s == "bicubic") return Filter::kBicubic;
  throw std::runtime_error("unknown filter '" + s + "' (bilinear or bicubic)");
}

Image read_raw(const char* path, const char* w, const char* h, const char* c) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(std::string("cannot open ") + path);
  Image img;
  img.width = parse_int(w, "width");
  img.height = parse_int(h, "height");
  img.channels = parse_int(c, "channels");
  img.hwc.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return img;  // size consistency is resize()'s to check
}

void write_raw(const Image& img) {
  if (std::fwrite(img.hwc.data(), 1, img.hwc.size(), stdout) != img.hwc.size() || std::fflush(stdout) != 0) {
    throw std::runtime_error("cannot write to stdout");
  }
}

Image preprocess(const Image& in, int32_t size, int32_t crop, Filter filter) {
  const deit::image::Size s = deit::image::shorter_side_to(in.width, in.height, size);
  return deit::image::center_crop(deit::image::resize(in, s.width, s.height, filter), crop, crop);
}

double bench_ms(const Image& in, int32_t size, Filter filter, int reps) {
  const deit::image::Size s = deit::image::shorter_side_to(in.width, in.height, size);
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const Image out = deit::image::resize(in, s.width, s.height, filter);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (out.hwc.empty()) throw std::runtime_error("empty result");
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

int run(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "--preprocess" && argc == 9) {
    const Image in = read_raw(argv[2], argv[3], argv[4], argv[5]);
    write_raw(preprocess(in, parse_int(argv[6], "size"), parse_int(argv[7], "crop"), parse_filter(argv[8])));
    return 0;
  }
  if (mode == "--bench" && argc == 9) {
    const int reps = parse_int(argv[2], "reps");
    if (reps < 1) throw std::runtime_error("reps must be at least 1");
    const Image in = read_raw(argv[3], argv[4], argv[5], argv[6]);
    std::printf("median_ms %.3f\n", bench_ms(in, parse_int(argv[7], "size"), parse_filter(argv[8]), reps));
    return 0;
  }
  if (argc == 8 && mode.rfind("--", 0) != 0) {
    const Image in = read_raw(argv[1], argv[2], argv[3], argv[4]);
    write_raw(deit::image::resize(in, parse_int(argv[5], "output width"), parse_int(argv[6], "output height"),
                                  parse_filter(argv[7])));
    return 0;
  }
  throw std::runtime_error(
      "usage: resize_tool IN.raw W H C OUT_W OUT_H FILTER\n"
      "       resize_tool --preprocess IN.raw W H C SIZE CROP FILTER\n"
      "       resize_tool --bench REPS IN.raw W H C SIZE FILTER");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "resize_tool: %s\n", e.what());
    return 2;
  }
}
