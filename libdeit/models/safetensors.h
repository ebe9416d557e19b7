// The safetensors file format, without LibTorch: an 8-byte little-endian
// header length N, N bytes of JSON header, then the tensor bytes.  The reader
// is strict (files come from users and the internet): every size is checked
// against the real file size before anything is allocated, the data section
// must be covered exactly by the tensors, and every error names the file and
// the tensor.  The writer is atomic: temp file, fsync, rename.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace deit::models {

enum class Dtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(Dtype dtype);                    // "F32", ...
size_t dtype_size(Dtype dtype);                         // bytes per element
bool parse_dtype(const std::string& name, Dtype* out);  // false for an unknown name

// Largest JSON header accepted (the reference implementation's limit).
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

struct SafetensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the data section
  uint64_t end = 0;
  uint64_t nbytes() const { return end - begin; }
  uint64_t numel() const;  // product of shape (1 for a scalar)
};

struct SafetensorsFile {
  std::string label;                            // file path (or caller's label) for messages
  std::map<std::string, std::string> metadata;  // "__metadata__"
  std::vector<SafetensorInfo> tensors;          // in header order
  std::vector<uint8_t> data;                    // the data section only

  const SafetensorInfo* find(const std::string& name) const;  // nullptr when absent
  const uint8_t* bytes(const SafetensorInfo& t) const { return data.data() + t.begin; }
};

// Reads and validates a whole file.  DEIT_E_IO when it cannot be opened or
// read, DEIT_E_FORMAT ("<path>: tensor '<name>': <what>") when malformed.
// Without `with_data` the header alone is read and checked (`data` stays empty).
SafetensorsFile read_safetensors(const std::string& path, bool with_data = true);

// The same checks on bytes in memory (the whole file image); the bytes are copied.
SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& label);

struct SafetensorView {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // nbytes little-endian bytes, borrowed for the call
  size_t nbytes = 0;
};

// Writes tensors in the given order after a header padded with spaces to a
// multiple of 8 bytes.  Bad arguments (duplicate or reserved names, sizes that
// disagree with the shape) throw DEIT_E_INVALID_ARG before anything is
// written; failures to write throw DEIT_E_IO naming `path`.  A temp file in
// the same directory is renamed over `path`, so `path` is either the old file
// or the complete new one, and the temp file never outlives a failure.
void write_safetensors_atomic(const std::string& path, const std::map<std::string, std::string>& metadata,
                              const std::vector<SafetensorView>& tensors);

}  // namespace deit::models
