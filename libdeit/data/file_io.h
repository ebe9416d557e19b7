// Whole-file reads with transparent gunzip, atomic whole-file writes, and bounds-checked header parsing.
// Torch-free like the rest of data/: the readers are plain byte crunching.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace deit::data {

// No data set we read is near this size; anything that inflates past it is
// treated as a decompression bomb rather than allowed to exhaust memory.
constexpr uint64_t kMaxDecompressedBytes = uint64_t{4} << 30;

// The whole file at `path`.  A file that starts with the gzip magic 1f 8b is
// inflated (multi-member streams included); a path ending in ".gz" must be
// gzip.  Throws deit::Error: DEIT_E_IO when the file cannot be opened or read,
// DEIT_E_FORMAT for a corrupt or truncated gzip stream, or a file (raw or
// inflated) larger than `max_bytes`.
std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes = kMaxDecompressedBytes);

// A borrowed range of bytes to write.
struct ByteSpan {
  const void* data;
  size_t size;
};

// Writes `parts`, in order, as the file `path`, atomically: a temp file beside it (exclusive, random
// name), fsync, rename over `path`, then a best-effort fsync of the directory.  Throws DEIT_E_IO naming
// `path` and the step that failed; `path` is then as it was and no temp file is left.
void write_file_atomic(const std::string& path, const std::vector<ByteSpan>& parts);

bool is_regular_file(const std::string& path);
bool is_directory(const std::string& path);
// Throws DEIT_E_IO "<dir>: cannot open: <reason>" / "<dir>: not a directory".
void require_directory(const std::string& dir);

// The big-endian u32 at buf[offset..offset+4); DEIT_E_FORMAT naming `path`
// and `what` (e.g. "IDX header") when the buffer ends before it.
uint32_t read_be32(const std::vector<uint8_t>& buf, size_t offset, const std::string& path, const char* what);

// a * b, or false when the product does not fit in int64 (inputs >= 0).
bool mul_nonneg(int64_t a, int64_t b, int64_t* product);

}  // namespace deit::data
