// libFuzzer target: the IDX reader (raw and gzip) on a fuzzed images/labels pair.
// Input: 2 bytes little-endian = length of the images file, then the images
// file, then the labels file.  Any exception other than deit::Error, any
// sanitizer report and any broken invariant of an accepted data set is a bug.
#include <algorithm>

#include "core/error.h"
#include "data/dataset.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t images_len = std::min<size_t>(data[0] | size_t{data[1]} << 8, size - 2);
  deit::fuzz::MemFile images(data + 2, images_len);
  deit::fuzz::MemFile labels(data + 2 + images_len, size - 2 - images_len);
  try {
    const deit::data::Dataset ds = deit::data::read_idx(images.path(), labels.path());
    DEIT_FUZZ_CHECK(ds.count >= 1 && ds.channels == 1 && ds.height >= 1 && ds.width >= 1);
    DEIT_FUZZ_CHECK(ds.u8.size() == static_cast<size_t>(ds.count * ds.image_size()));
    DEIT_FUZZ_CHECK(ds.labels.size() == static_cast<size_t>(ds.count));
    for (const int64_t label : ds.labels) DEIT_FUZZ_CHECK(label >= 0 && label < ds.num_classes);
  } catch (const deit::Error& e) {
    DEIT_FUZZ_CHECK(e.status() == DEIT_E_FORMAT || e.status() == DEIT_E_IO);
    DEIT_FUZZ_CHECK(e.what()[0] != '\0');
  }
  return 0;
}
