// decode_tool FILE CHANNELS: decodes FILE with deit::image::decode_file (channels 0, 1 or 3) and writes
// "W H C\n" then the raw hwc bytes to stdout, for tests/image/test_decode_vs_pil.py.  On a deit::Error
// it prints the message to stderr and exits 2; on bad usage it exits 1.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "image/image.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: decode_tool FILE CHANNELS\n");
    return 1;
  }
  deit::image::DecodeOptions options;
  options.channels = std::atoi(argv[2]);
  try {
    const deit::image::Image img = deit::image::decode_file(argv[1], options);
    std::printf("%d %d %d\n", img.width, img.height, img.channels);
    if (std::fwrite(img.hwc.data(), 1, img.hwc.size(), stdout) != img.hwc.size()) return 1;
    return std::fflush(stdout) == 0 ? 0 : 1;
  } catch (const deit::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
