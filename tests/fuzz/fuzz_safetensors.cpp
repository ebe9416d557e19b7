// libFuzzer target: the safetensors reader, on bytes in memory and through a
// file (the two paths check the same things and must agree).
#include <cstring>

#include "core/error.h"
#include "fuzz_support.h"
#include "models/safetensors.h"

namespace {

using deit::models::SafetensorsFile;

void check_accepted(const SafetensorsFile& f) {
  // The tensors tile the data section exactly, each sized by dtype x shape.
  uint64_t total = 0;
  for (const auto& t : f.tensors) {
    DEIT_FUZZ_CHECK(t.begin <= t.end && t.end <= f.data.size());
    DEIT_FUZZ_CHECK(t.nbytes() == t.numel() * deit::models::dtype_size(t.dtype));
    total += t.nbytes();
  }
  DEIT_FUZZ_CHECK(total == f.data.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  deit_status mem_status = DEIT_OK, file_status = DEIT_OK;
  size_t mem_tensors = 0;
  try {
    const SafetensorsFile f = deit::models::parse_safetensors(data, size, "fuzz");
    check_accepted(f);
    mem_tensors = f.tensors.size();
  } catch (const deit::Error& e) {
    mem_status = e.status();
    DEIT_FUZZ_CHECK(std::strncmp(e.what(), "fuzz: ", 6) == 0);  // names the file
  }
  deit::fuzz::MemFile file(data, size);
  try {
    const SafetensorsFile f = deit::models::read_safetensors(file.path());
    check_accepted(f);
    DEIT_FUZZ_CHECK(f.tensors.size() == mem_tensors);
  } catch (const deit::Error& e) {
    file_status = e.status();
    DEIT_FUZZ_CHECK(e.what()[0] != '\0');
  }
  DEIT_FUZZ_CHECK(mem_status == file_status);
  DEIT_FUZZ_CHECK(mem_status == DEIT_OK || mem_status == DEIT_E_FORMAT || mem_status == DEIT_E_UNSUPPORTED);
  return 0;
}
