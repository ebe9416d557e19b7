// An ONNX graph builder and writer over ONNX's own protobuf schema and checker (Debian's libonnx).  Torch-free
// on purpose: it is compiled apart from the rest of libdeit (libdeit/CMakeLists.txt) because PyTorch's
// wheel ships protobuf headers of another version than the libprotobuf ONNX's generated code needs, and
// this header keeps protobuf's types out of every file that includes LibTorch's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace deit::onnx_export {

// The opset the graphs are written for: 17 is the first with LayerNormalization, and what Debian's ONNX
// 1.12 checks; onnxruntime has run it since 1.12.
constexpr int64_t kOpset = 17;

struct Attribute {
  enum class Kind { Int, Ints, Float };
  std::string name;
  Kind kind = Kind::Int;
  int64_t i = 0;
  std::vector<int64_t> ints;
  float f = 0;

  static Attribute integer(std::string name, int64_t v) { return {std::move(name), Kind::Int, v, {}, 0}; }
  static Attribute integers(std::string name, std::vector<int64_t> v) {
    return {std::move(name), Kind::Ints, 0, std::move(v), 0};
  }
  static Attribute real(std::string name, float v) { return {std::move(name), Kind::Float, 0, {}, v}; }
};

// Builds one float32 graph.  Names are the caller's: a node is named after its single output, and the
// checker refuses a name given twice.
class GraphBuilder {
 public:
  explicit GraphBuilder(const std::string& graph_name);
  ~GraphBuilder();
  GraphBuilder(const GraphBuilder&) = delete;
  GraphBuilder& operator=(const GraphBuilder&) = delete;

  // Graph inputs and outputs of type float32; a dimension < 0 is the symbolic dimension "batch".
  void add_input(const std::string& name, const std::vector<int64_t>& dims);
  void add_output(const std::string& name, const std::vector<int64_t>& dims);
  // Constant tensors (copied).  shape {} is a scalar.
  void add_float(const std::string& name, const std::vector<int64_t>& shape, const float* data);
  void add_int64(const std::string& name, const std::vector<int64_t>& shape, const std::vector<int64_t>& values);
  bool has_initializer(const std::string& name) const;
  // One node with one output, `output`; returns it.
  const std::string& node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
                          const std::vector<Attribute>& attributes = {});

  // Checks the model (ONNX's checker, then strict shape inference, which must agree with the declared
  // outputs) and writes it to `path` atomically.  A model the checker refuses is DEIT_E_INTERNAL (a bug in
  // the exporter), a file that cannot be written DEIT_E_IO; either way nothing is left at `path`.
  // metadata: the model's metadata_props (key, value).
  void write(const std::string& path, const std::string& producer_version, const std::string& doc,
             const std::vector<std::pair<std::string, std::string>>& metadata);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace deit::onnx_export
