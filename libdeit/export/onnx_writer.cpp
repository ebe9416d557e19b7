#include "export/onnx_writer.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <set>
#include <stdexcept>

#include "core/error.h"
#include "data/file_io.h"

namespace deit::onnx_export {

struct GraphBuilder::Impl {
  ::onnx::ModelProto model;
  ::onnx::GraphProto* graph = model.mutable_graph();
  std::set<std::string> initializers;

  void value_info(::onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims) {
    v->set_name(name);
    ::onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(::onnx::TensorProto::FLOAT);
    for (int64_t d : dims) {
      ::onnx::TensorShapeProto_Dimension* dim = t->mutable_shape()->add_dim();
      if (d < 0)
        dim->set_dim_param("batch");
      else
        dim->set_dim_value(d);
    }
  }

  ::onnx::TensorProto* initializer(const std::string& name, const std::vector<int64_t>& shape) {
    require(initializers.insert(name).second, "ONNX export: initializer '" + name + "' given twice");
    ::onnx::TensorProto* t = graph->add_initializer();
    t->set_name(name);
    for (int64_t d : shape) t->add_dims(d);
    return t;
  }
};

GraphBuilder::GraphBuilder(const std::string& graph_name) : impl_(std::make_unique<Impl>()) {
  impl_->graph->set_name(graph_name);
}

GraphBuilder::~GraphBuilder() = default;

void GraphBuilder::add_input(const std::string& name, const std::vector<int64_t>& dims) {
  impl_->value_info(impl_->graph->add_input(), name, dims);
}

void GraphBuilder::add_output(const std::string& name, const std::vector<int64_t>& dims) {
  impl_->value_info(impl_->graph->add_output(), name, dims);
}

namespace {
size_t numel(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}
}  // namespace

void GraphBuilder::add_float(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
  ::onnx::TensorProto* t = impl_->initializer(name, shape);
  t->set_data_type(::onnx::TensorProto::FLOAT);
  // raw_data is little-endian, as this host (models/safetensors.cpp refuses to build on any other).
  t->set_raw_data(data, numel(shape) * sizeof(float));
}

void GraphBuilder::add_int64(const std::string& name, const std::vector<int64_t>& shape,
                             const std::vector<int64_t>& values) {
  require(numel(shape) == values.size(), "ONNX export: initializer '" + name + "' has the wrong element count");
  ::onnx::TensorProto* t = impl_->initializer(name, shape);
  t->set_data_type(::onnx::TensorProto::INT64);
  for (int64_t v : values) t->add_int64_data(v);
}

bool GraphBuilder::has_initializer(const std::string& name) const {
  return impl_->initializers.count(name) > 0;
}

const std::string& GraphBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                      const std::string& output, const std::vector<Attribute>& attributes) {
  ::onnx::NodeProto* n = impl_->graph->add_node();
  n->set_op_type(op);
  n->set_name(output);
  for (const std::string& in : inputs) n->add_input(in);
  n->add_output(output);
  for (const Attribute& a : attributes) {
    ::onnx::AttributeProto* p = n->add_attribute();
    p->set_name(a.name);
    switch (a.kind) {
      case Attribute::Kind::Int:
        p->set_type(::onnx::AttributeProto::INT);
        p->set_i(a.i);
        break;
      case Attribute::Kind::Ints:
        p->set_type(::onnx::AttributeProto::INTS);
        for (int64_t v : a.ints) p->add_ints(v);
        break;
      case Attribute::Kind::Float:
        p->set_type(::onnx::AttributeProto::FLOAT);
        p->set_f(a.f);
        break;
    }
  }
  return output;
}

void GraphBuilder::write(const std::string& path, const std::string& producer_version, const std::string& doc,
                         const std::vector<std::pair<std::string, std::string>>& metadata) {
  ::onnx::ModelProto& m = impl_->model;
  m.set_ir_version(::onnx::IR_VERSION);
  m.set_producer_name("libdeit");
  m.set_producer_version(producer_version);
  m.set_doc_string(doc);
  ::onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  for (const auto& [key, value] : metadata) {
    ::onnx::StringStringEntryProto* e = m.add_metadata_props();
    e->set_key(key);
    e->set_value(value);
  }
  try {
    ::onnx::checker::check_model(m);
    // Strict: a node whose input shapes do not fit it, or an output whose inferred shape differs from the
    // declared one, throws.  The inferred shapes stay in the file as value_info.
    ::onnx::shape_inference::InferShapes(m, ::onnx::OpSchemaRegistry::Instance(),
                                         ::onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/1,
                                                                       /*data_prop=*/true));
  } catch (const std::exception& e) {
    fail(DEIT_E_INTERNAL, path + ": the exported ONNX graph does not pass ONNX's checks: " + e.what());
  }
  std::string bytes;
  if (!m.SerializeToString(&bytes))
    fail(DEIT_E_INTERNAL, path + ": protobuf could not serialise the ONNX model (larger than 2 GiB?)");
  data::write_file_atomic(path, {{bytes.data(), bytes.size()}});
}

}  // namespace deit::onnx_export
