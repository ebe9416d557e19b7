#include "models/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "core/error.h"
#include "core/json.h"
#include "data/file_io.h"

// Tensor bytes are stored little-endian and copied as they are.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "libdeit's safetensors I/O assumes a little-endian host"
#endif

namespace deit::models {
namespace {

// A real header needs ~10 JSON values per tensor; this bounds the parser's
// memory on a hostile 100 MB header while allowing ~200k tensors.
constexpr size_t kMaxHeaderValues = size_t{1} << 21;

struct Dtype_entry {
  Dtype dtype;
  const char* name;
  size_t size;
};
constexpr Dtype_entry kDtypes[] = {
    {Dtype::F64, "F64", 8}, {Dtype::F32, "F32", 4},   {Dtype::F16, "F16", 2}, {Dtype::BF16, "BF16", 2},
    {Dtype::I64, "I64", 8}, {Dtype::I32, "I32", 4},   {Dtype::I16, "I16", 2}, {Dtype::I8, "I8", 1},
    {Dtype::U8, "U8", 1},   {Dtype::BOOL, "BOOL", 1},
};

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t k = 0; k < shape.size(); ++k) {
    if (k) s += ", ";
    s += std::to_string(shape[k]);
  }
  return s + "]";
}

std::string offsets_str(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// Product of the dims times the element size, or false on 64-bit overflow.
// The product of the non-zero dims must fit int64 too: LibTorch computes
// strides from them even for an empty tensor ([0, 2^62, 2^62] would overflow).
bool checked_nbytes(const std::vector<int64_t>& shape, size_t elem_size, uint64_t* numel, uint64_t* nbytes) {
  uint64_t n = 1;
  int64_t strides = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
    if (__builtin_mul_overflow(strides, std::max<int64_t>(d, 1), &strides)) return false;
  }
  uint64_t b = 0;
  if (__builtin_mul_overflow(n, static_cast<uint64_t>(elem_size), &b)) return false;
  *numel = n;
  *nbytes = b;
  return true;
}

// "an array", "a string", ... for messages.
std::string a_type(const Json& v) {
  if (v.is_null()) return "null";
  return std::string(v.is_array() || v.is_object() ? "an " : "a ") + v.type_name();
}

uint64_t read_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

class Checker {
 public:
  explicit Checker(const std::string& label) : label_(label) {}

  [[noreturn]] void fail_file(const std::string& what) const { fail(DEIT_E_FORMAT, label_ + ": " + what); }
  [[noreturn]] void fail_tensor(const std::string& name, const std::string& what) const {
    fail(DEIT_E_FORMAT, label_ + ": tensor '" + printable(name) + "': " + what);
  }

  // The 8-byte length prefix against the real size; returns the header length.
  uint64_t check_prefix(const uint8_t* first8, uint64_t file_size) const {
    if (file_size < 8) {
      fail_file("file is " + std::to_string(file_size) +
                " bytes, too short for a safetensors file (8-byte header length)");
    }
    const uint64_t n = read_le64(first8);
    if (n > kSafetensorsMaxHeaderBytes) {
      fail_file("header length " + std::to_string(n) + " exceeds the limit of " +
                std::to_string(kSafetensorsMaxHeaderBytes) + " bytes");
    }
    if (n > file_size - 8) {
      fail_file("header length " + std::to_string(n) + " runs past the end of the file (" +
                std::to_string(file_size) + " bytes)");
    }
    return n;
  }

  // Parses and validates the header; the data section is `data_size` bytes.
  void check_header(const uint8_t* header, size_t n, uint64_t data_size, SafetensorsFile* out) const {
    if (n == 0 || header[0] != '{') fail_file("header does not start with '{'");
    JsonParseOptions options;
    options.max_depth = 64;
    options.max_values = kMaxHeaderValues;
    // A repeated key is reported with what it names (a tensor, a field of one, a metadata key).
    bool duplicate = false;
    options.on_duplicate = [this, &duplicate](const std::vector<std::string>& path, const std::string& key) {
      duplicate = true;
      if (path.empty() && key == "__metadata__") fail_file("'__metadata__' appears twice");
      if (path.empty()) fail_tensor(key, "duplicate name");
      if (path.size() == 1 && path[0] == "__metadata__")
        fail_file("'__metadata__' key '" + printable(key) + "' appears twice");
      if (path.size() == 1) fail_tensor(path[0], "field '" + printable(key) + "' appears twice");
      duplicate = false;  // deeper: not a field safetensors has, check_entry reports the entry
    };
    Json root;
    try {
      root = parse_json(reinterpret_cast<const char*>(header), n, options);
    } catch (const Error& e) {
      if (duplicate) throw;  // reported above with what it names
      fail_file(std::string("header is not valid JSON (") + e.what() + " of the header)");
    }
    if (!root.is_object()) fail_file("header is not a JSON object");

    for (const auto& member : root.items()) {
      const std::string& name = member.key();
      if (name == "__metadata__") {
        check_metadata(member.value(), &out->metadata);
        continue;
      }
      out->tensors.push_back(check_entry(name, member.value(), data_size));
    }
    check_layout(out->tensors, data_size);
  }

 private:
  void check_metadata(const Json& entry, std::map<std::string, std::string>* metadata) const {
    if (entry.is_null()) return;  // what the reference reader accepts for "no metadata"
    if (!entry.is_object()) fail_file("'__metadata__' is not an object of strings");
    for (const auto& member : entry.items()) {
      const std::string& key = member.key();
      const Json& value = member.value();
      if (!value.is_string()) {
        fail_file("'__metadata__' value of '" + printable(key) + "' is " + a_type(value) +
                  ", expected a string");
      }
      metadata->emplace(key, value.get<std::string>());  // keys are unique (on_duplicate)
    }
  }

  SafetensorInfo check_entry(const std::string& name, const Json& entry, uint64_t data_size) const {
    if (!entry.is_object()) fail_tensor(name, "entry is " + a_type(entry) + ", expected an object");
    const Json* dtype = nullptr;
    const Json* shape = nullptr;
    const Json* offsets = nullptr;
    for (const auto& member : entry.items()) {
      const std::string& field = member.key();
      const Json** slot = field == "dtype"          ? &dtype
                          : field == "shape"        ? &shape
                          : field == "data_offsets" ? &offsets
                                                    : nullptr;
      if (!slot) fail_tensor(name, "unknown field '" + printable(field) + "'");
      *slot = &member.value();  // fields are unique (on_duplicate)
    }
    if (!dtype) fail_tensor(name, "missing 'dtype'");
    if (!shape) fail_tensor(name, "missing 'shape'");
    if (!offsets) fail_tensor(name, "missing 'data_offsets'");

    SafetensorInfo info;
    info.name = name;
    if (!dtype->is_string()) fail_tensor(name, "'dtype' is not a string");
    const std::string& dtype_text = dtype->get_ref<const std::string&>();
    if (!parse_dtype(dtype_text, &info.dtype)) {
      // Newer safetensors dtypes are valid files this build cannot load.
      static const char* const kOtherDtypes[] = {"U16",     "U32",     "U64", "C64",     "F8_E4M3",
                                                 "F8_E5M2", "F8_E8M0", "F4",  "F6_E2M3", "F6_E3M2"};
      for (const char* other : kOtherDtypes) {
        if (dtype_text == other) {
          fail(DEIT_E_UNSUPPORTED, label_ + ": tensor '" + printable(name) + "': dtype " + other +
                                       " is not supported by libdeit");
        }
      }
      fail_tensor(name, "unknown dtype '" + printable(dtype_text) + "'");
    }
    if (!shape->is_array()) fail_tensor(name, "'shape' is not an array of non-negative integers");
    for (const Json& d : *shape) {
      if (!json_is_int(d) || d.get<int64_t>() < 0)
        fail_tensor(name, "'shape' is not an array of non-negative integers");
      info.shape.push_back(d.get<int64_t>());
    }
    const auto valid_offset = [](const Json& v) { return json_is_int(v) && v.get<int64_t>() >= 0; };
    if (!offsets->is_array() || offsets->size() != 2 || !valid_offset((*offsets)[0]) ||
        !valid_offset((*offsets)[1])) {
      fail_tensor(name, "'data_offsets' is not two non-negative integers");
    }
    info.begin = (*offsets)[0].get<uint64_t>();
    info.end = (*offsets)[1].get<uint64_t>();
    if (info.begin > info.end)
      fail_tensor(name, "data_offsets " + offsets_str(info.begin, info.end) + " are reversed");
    if (info.end > data_size) {
      fail_tensor(name, "data_offsets " + offsets_str(info.begin, info.end) + " run past the data section (" +
                            std::to_string(data_size) + " bytes)");
    }
    uint64_t numel = 0, nbytes = 0;
    if (!checked_nbytes(info.shape, dtype_size(info.dtype), &numel, &nbytes)) {
      fail_tensor(name, "shape " + shape_str(info.shape) + " is too large (size overflows 64 bits)");
    }
    if (info.end - info.begin != nbytes) {
      fail_tensor(name, "data_offsets " + offsets_str(info.begin, info.end) + " hold " +
                            std::to_string(info.end - info.begin) + " bytes, but dtype " +
                            dtype_name(info.dtype) + " and shape " + shape_str(info.shape) + " need " +
                            std::to_string(nbytes));
    }
    return info;
  }

  // The tensors must tile the data section exactly, in offset order: no
  // overlap (aliasing), no gap and no trailing bytes (hidden content).
  void check_layout(const std::vector<SafetensorInfo>& tensors, uint64_t data_size) const {
    std::vector<size_t> order(tensors.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (tensors[a].begin != tensors[b].begin) return tensors[a].begin < tensors[b].begin;
      return tensors[a].end < tensors[b].end;
    });
    uint64_t expected = 0;
    const SafetensorInfo* previous = nullptr;
    for (size_t k : order) {
      const SafetensorInfo& t = tensors[k];
      if (t.begin < expected) {
        fail_tensor(t.name, "data_offsets " + offsets_str(t.begin, t.end) + " overlap tensor '" +
                                printable(previous->name) + "' " +
                                offsets_str(previous->begin, previous->end));
      }
      if (t.begin > expected) {
        fail_tensor(t.name, "data_offsets " + offsets_str(t.begin, t.end) + " leave a gap: bytes " +
                                offsets_str(expected, t.begin) + " belong to no tensor");
      }
      expected = t.end;
      previous = &t;
    }
    if (expected != data_size) {
      fail_file("bytes " + offsets_str(expected, data_size) + " at the end of the data section (" +
                std::to_string(data_size) + " bytes) belong to no tensor");
    }
  }

  std::string label_;
};

// Owns a file descriptor.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

[[noreturn]] void io_error(const std::string& path, const std::string& what, int err) {
  fail(DEIT_E_IO, path + ": " + what + (err ? std::string(": ") + std::strerror(err) : std::string()));
}

// Reads exactly `n` bytes at `offset`; false when the file ended first.
bool read_at(int fd, uint8_t* dst, uint64_t n, uint64_t offset, const std::string& path) {
  while (n > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, uint64_t{1} << 30));
    const ssize_t got = ::pread(fd, dst, chunk, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      io_error(path, "cannot read", errno);
    }
    if (got == 0) return false;
    dst += got;
    n -= static_cast<uint64_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

}  // namespace

const char* dtype_name(Dtype dtype) {
  for (const auto& e : kDtypes) {
    if (e.dtype == dtype) return e.name;
  }
  return "?";
}

size_t dtype_size(Dtype dtype) {
  for (const auto& e : kDtypes) {
    if (e.dtype == dtype) return e.size;
  }
  return 0;
}

bool parse_dtype(const std::string& name, Dtype* out) {
  for (const auto& e : kDtypes) {
    if (name == e.name) {
      *out = e.dtype;
      return true;
    }
  }
  return false;
}

uint64_t SafetensorInfo::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);  // validated not to overflow when read
  return n;
}

const SafetensorInfo* SafetensorsFile::find(const std::string& name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

SafetensorsFile parse_safetensors(const uint8_t* data, size_t size, const std::string& label) {
  if (!data && size) invalid_arg(label + ": null buffer");
  const Checker check(label);
  uint8_t prefix[8] = {0};
  if (size >= 8) std::memcpy(prefix, data, 8);
  const uint64_t n = check.check_prefix(prefix, size);
  SafetensorsFile file;
  file.label = label;
  check.check_header(data + 8, static_cast<size_t>(n), size - 8 - n, &file);
  file.data.assign(data + 8 + n, data + size);
  return file;
}

SafetensorsFile read_safetensors(const std::string& path, bool with_data) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) io_error(path, "cannot open", errno);
  struct stat st;
  if (::fstat(f.fd, &st) != 0) io_error(path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode)) io_error(path, "not a regular file", 0);
  const uint64_t size = static_cast<uint64_t>(st.st_size);

  const Checker check(path);
  uint8_t prefix[8] = {0};
  if (size >= 8 && !read_at(f.fd, prefix, 8, 0, path)) io_error(path, "file shrank while reading", 0);
  const uint64_t n = check.check_prefix(prefix, size);  // bounds n by the limit and the file size

  std::vector<uint8_t> header(static_cast<size_t>(n));
  if (!read_at(f.fd, header.data(), n, 8, path)) io_error(path, "file shrank while reading", 0);
  SafetensorsFile file;
  file.label = path;
  const uint64_t data_size = size - 8 - n;
  check.check_header(header.data(), header.size(), data_size, &file);
  if (!with_data) return file;

  // Only now, with every tensor accounted for, allocate the data section.
  file.data.resize(static_cast<size_t>(data_size));
  if (!read_at(f.fd, file.data.data(), data_size, 8 + n, path))
    io_error(path, "file shrank while reading", 0);
  return file;
}

void write_safetensors_atomic(const std::string& path, const std::map<std::string, std::string>& metadata,
                              const std::vector<SafetensorView>& tensors) {
  // Arguments first: nothing touches the disk for a bad call.
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const SafetensorView& t : tensors) {
    const std::string where = path + ": tensor '" + printable(t.name) + "': ";
    if (t.name == "__metadata__") invalid_arg(where + "the name is reserved");
    if (!names.insert(t.name).second) invalid_arg(where + "duplicate name");
    uint64_t numel = 0, nbytes = 0;
    const size_t elem = dtype_size(t.dtype);
    if (elem == 0) invalid_arg(where + "unknown dtype");
    if (!checked_nbytes(t.shape, elem, &numel, &nbytes)) {
      invalid_arg(where + "shape " + shape_str(t.shape) + " has a negative or too large dimension");
    }
    if (nbytes != t.nbytes) {
      invalid_arg(where + std::to_string(t.nbytes) + " bytes given, dtype " + dtype_name(t.dtype) +
                  " and shape " + shape_str(t.shape) + " need " + std::to_string(nbytes));
    }
    if (!t.data && t.nbytes) invalid_arg(where + "null data");
    Json shape = Json::array();
    for (int64_t d : t.shape) shape.push_back(d);
    Json entry = Json::object();
    entry["dtype"] = dtype_name(t.dtype);
    entry["shape"] = std::move(shape);
    entry["data_offsets"] = Json::array({offset, offset + nbytes});
    header[t.name] = std::move(entry);  // names are unique (checked above)
    offset += nbytes;
  }
  std::string text;
  try {
    text = dump_json(header);
  } catch (const Error& e) {
    invalid_arg(path + ": " + e.what());  // a name or metadata string that is not UTF-8
  }
  // Spaces (JSON whitespace) pad the header so the data section starts 8-byte aligned.
  text.append((8 - text.size() % 8) % 8, ' ');
  if (text.size() > kSafetensorsMaxHeaderBytes) invalid_arg(path + ": header too large (too many tensors)");
  uint8_t prefix[8];
  for (int k = 0; k < 8; ++k) prefix[k] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * k));

  std::vector<data::ByteSpan> parts{{prefix, sizeof(prefix)}, {text.data(), text.size()}};
  for (const SafetensorView& t : tensors) parts.push_back({t.data, t.nbytes});
  data::write_file_atomic(path, parts);
}

}  // namespace deit::models
