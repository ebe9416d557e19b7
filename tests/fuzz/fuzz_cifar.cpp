// libFuzzer target: the CIFAR-10/100 binary reader.  Input: 1 byte selecting
// CIFAR-10 (even) or CIFAR-100 (odd), then the file (raw or gzip).
#include "core/error.h"
#include "data/dataset.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int32_t classes = (data[0] & 1) ? 100 : 10;
  deit::fuzz::MemFile file(data + 1, size - 1);
  try {
    const deit::data::Dataset ds = deit::data::read_cifar({file.path()}, classes);
    DEIT_FUZZ_CHECK(ds.count >= 1 && ds.channels == 3 && ds.height == 32 && ds.width == 32);
    DEIT_FUZZ_CHECK(ds.u8.size() == static_cast<size_t>(ds.count * ds.image_size()));
    DEIT_FUZZ_CHECK(ds.labels.size() == static_cast<size_t>(ds.count));
    for (const int64_t label : ds.labels) DEIT_FUZZ_CHECK(label >= 0 && label < ds.num_classes);
  } catch (const deit::Error& e) {
    DEIT_FUZZ_CHECK(e.status() == DEIT_E_FORMAT || e.status() == DEIT_E_IO);
    DEIT_FUZZ_CHECK(e.what()[0] != '\0');
  }
  return 0;
}
