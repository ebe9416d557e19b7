// libFuzzer target: deit::image::decode (JPEG, PNG, BMP, PGM/PPM by magic) on the raw input, with a small
// pixel limit so that a header may claim a big image but none is allocated.  Any exception other than
// deit::Error, any sanitizer report and any broken invariant of an accepted image is a bug.
#include <string>

#include "core/error.h"
#include "fuzz_support.h"
#include "image/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  deit::image::DecodeOptions options;
  options.max_pixels = int64_t{1} << 20;
  options.channels = size > 0 ? (data[size - 1] % 3 == 2 ? 3 : data[size - 1] % 3) : 0;  // 0, 1 or 3
  try {
    const deit::image::Image img = deit::image::decode(data, size, "fuzz", options);
    DEIT_FUZZ_CHECK(img.width >= 1 && img.height >= 1);
    DEIT_FUZZ_CHECK(int64_t{img.width} * img.height <= options.max_pixels);
    DEIT_FUZZ_CHECK(img.channels == 1 || img.channels == 3);
    DEIT_FUZZ_CHECK(options.channels == 0 || img.channels == options.channels);
    DEIT_FUZZ_CHECK(img.hwc.size() == static_cast<size_t>(img.width) * img.height * img.channels);
  } catch (const deit::Error& e) {
    DEIT_FUZZ_CHECK(e.status() == DEIT_E_FORMAT || e.status() == DEIT_E_INVALID_ARG);
    DEIT_FUZZ_CHECK(std::string(e.what()).rfind("fuzz: ", 0) == 0);
  }
  return 0;
}
