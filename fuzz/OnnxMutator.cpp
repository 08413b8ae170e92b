//===- OnnxMutator.cpp - Structure-aware mutations of ONNX models ---------===//

#include "OnnxMutator.h"

#include "onnx/onnx_pb.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace onnx;

namespace {

class Mutator {
public:
  explicit Mutator(unsigned seed) : rng(seed) {}

  /// One mutation of `model`; false when none applied.
  bool mutate(ModelProto &model) {
    std::vector<GraphProto *> graphs;
    collectGraphs(model.mutable_graph(), graphs);
    GraphProto &g = *graphs[below(graphs.size())];
    switch (below(12)) {
    case 0:
      return opType(g);
    case 1:
      return nodeInput(g);
    case 2:
    case 3:
      return attribute(g);
    case 4:
    case 5:
      return valueType(g);
    case 6:
    case 7:
      return initializer(g);
    case 8:
      return opset(model);
    case 9:
      return nodeList(g);
    case 10:
      return graphIo(g);
    default:
      model.set_ir_version(pick<int64_t>({3, 6, 7, 8, 9, 10, 99, -1}));
      return true;
    }
  }

private:
  std::mt19937 rng;

  size_t below(size_t n) { return n ? rng() % n : 0; }
  bool coin() { return rng() & 1; }
  template <typename T> T pick(std::initializer_list<T> values) {
    return *(values.begin() + below(values.size()));
  }
  int64_t anyInt() {
    switch (below(4)) {
    case 0:
      return pick<int64_t>({-1, 0, 1, 2, 3, 4, 7, 64});
    case 1:
      return pick<int64_t>({std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::min(),
                            int64_t(1) << 31, int64_t(1) << 40, -(1 << 20)});
    case 2:
      return static_cast<int64_t>(rng()) - (1u << 31);
    default:
      return static_cast<int64_t>(below(17)) - 8;
    }
  }
  float anyFloat() {
    return pick<float>({0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1e30f, -1e30f, 1e-40f,
                        std::numeric_limits<float>::quiet_NaN(),
                        std::numeric_limits<float>::infinity(),
                        -std::numeric_limits<float>::infinity(),
                        std::numeric_limits<float>::max()});
  }

  static void collectGraphs(GraphProto *g, std::vector<GraphProto *> &out) {
    out.push_back(g);
    for (NodeProto &node : *g->mutable_node())
      for (AttributeProto &a : *node.mutable_attribute()) {
        if (a.has_g())
          collectGraphs(a.mutable_g(), out);
        for (GraphProto &sub : *a.mutable_graphs())
          collectGraphs(&sub, out);
      }
  }

  /// Every value name the graph defines.
  static std::vector<std::string> names(const GraphProto &g) {
    std::vector<std::string> out;
    for (const ValueInfoProto &v : g.input())
      out.push_back(v.name());
    for (const TensorProto &t : g.initializer())
      out.push_back(t.name());
    for (const NodeProto &n : g.node())
      for (const std::string &o : n.output())
        out.push_back(o);
    return out;
  }

  NodeProto *someNode(GraphProto &g) {
    if (g.node_size() == 0)
      return nullptr;
    return g.mutable_node(below(g.node_size()));
  }

  bool opType(GraphProto &g) {
    NodeProto *n = someNode(g);
    if (!n)
      return false;
    n->set_op_type(pick<const char *>(
        {"Gemm", "MatMul", "Add", "Mul", "Sub", "Div", "Mod", "Relu",
         "Sigmoid", "Gather", "GatherElements", "ReduceSum", "ReduceMean",
         "ReduceMax", "Loop", "Concat", "Reshape", "Transpose", "Slice",
         "Unsqueeze", "Squeeze", "Cast", "Shape", "Range", "Flatten",
         "Identity", "Constant", "Where", "Sum", "Max", "Less", "Equal",
         "ConstantOfShape", "EmbeddingBag", "NoSuchOp", ""}));
    return true;
  }

  bool nodeInput(GraphProto &g) {
    NodeProto *n = someNode(g);
    if (!n)
      return false;
    std::vector<std::string> defined = names(g);
    std::string name = defined.empty() || below(8) == 0
                           ? pick<const char *>({"", "nowhere", "x"})
                           : defined[below(defined.size())];
    switch (below(4)) {
    case 0:
      n->add_input(name);
      return true;
    case 1:
      if (n->input_size() == 0)
        return false;
      n->mutable_input()->RemoveLast();
      return true;
    case 2:
      if (n->output_size() == 0)
        return false;
      n->set_output(below(n->output_size()), name);
      return true;
    default:
      if (n->input_size() == 0)
        return false;
      n->set_input(below(n->input_size()), name);
      return true;
    }
  }

  bool attribute(GraphProto &g) {
    NodeProto *n = someNode(g);
    if (!n)
      return false;
    if (n->attribute_size() == 0 || below(4) == 0) {
      AttributeProto *a = n->add_attribute();
      a->set_name(pick<const char *>({"axis", "axes", "keepdims", "transA",
                                      "transB", "alpha", "beta", "perm", "to",
                                      "value", "starts", "noop_with_empty_axes",
                                      "bogus"}));
      if (coin()) {
        a->set_type(AttributeProto::INT);
        a->set_i(anyInt());
      } else {
        a->set_type(AttributeProto::INTS);
        for (size_t k = below(4); k > 0; --k)
          a->add_ints(anyInt());
      }
      return true;
    }
    int index = static_cast<int>(below(n->attribute_size()));
    AttributeProto *a = n->mutable_attribute(index);
    switch (below(7)) {
    case 0:
      a->set_i(anyInt());
      return true;
    case 1:
      a->set_f(anyFloat());
      return true;
    case 2:
      if (a->ints_size())
        a->set_ints(below(a->ints_size()), anyInt());
      else
        a->add_ints(anyInt());
      return true;
    case 3:
      a->set_type(static_cast<AttributeProto::AttributeType>(below(15)));
      return true;
    case 4:
      n->mutable_attribute()->DeleteSubrange(index, 1);
      return true;
    case 5:
      if (a->has_t())
        return tensor(*a->mutable_t());
      a->mutable_ints()->Clear();
      return true;
    default:
      a->set_name(a->name() + "x");
      return true;
    }
  }

  bool shape(TypeProto &type) {
    if (!type.has_tensor_type())
      return false;
    TypeProto_Tensor &t = *type.mutable_tensor_type();
    if (below(4) == 0) {
      t.set_elem_type(static_cast<int32_t>(below(20)));
      return true;
    }
    TensorShapeProto &s = *t.mutable_shape();
    switch (below(4)) {
    case 0:
      s.add_dim()->set_dim_value(anyInt());
      return true;
    case 1:
      if (s.dim_size() == 0)
        return false;
      s.mutable_dim()->RemoveLast();
      return true;
    case 2:
      if (s.dim_size() == 0)
        return false;
      s.mutable_dim(below(s.dim_size()))->set_dim_param("n");
      return true;
    default:
      if (s.dim_size() == 0)
        return false;
      s.mutable_dim(below(s.dim_size()))->set_dim_value(anyInt());
      return true;
    }
  }

  bool valueType(GraphProto &g) {
    std::vector<ValueInfoProto *> values;
    for (ValueInfoProto &v : *g.mutable_input())
      values.push_back(&v);
    for (ValueInfoProto &v : *g.mutable_output())
      values.push_back(&v);
    for (ValueInfoProto &v : *g.mutable_value_info())
      values.push_back(&v);
    if (values.empty())
      return false;
    return shape(*values[below(values.size())]->mutable_type());
  }

  bool tensor(TensorProto &t) {
    switch (below(6)) {
    case 0:
      if (t.dims_size() && coin())
        t.set_dims(below(t.dims_size()), anyInt());
      else
        t.add_dims(anyInt());
      return true;
    case 1:
      t.set_data_type(static_cast<int32_t>(below(17)));
      return true;
    case 2: {
      // Floats that are not numbers, in place.
      std::string &raw = *t.mutable_raw_data();
      if (raw.size() >= 4) {
        float v = anyFloat();
        std::memcpy(&raw[below(raw.size() / 4) * 4], &v, 4);
      } else if (t.float_data_size()) {
        t.set_float_data(below(t.float_data_size()), anyFloat());
      } else {
        t.add_float_data(anyFloat());
      }
      return true;
    }
    case 3: {
      std::string &raw = *t.mutable_raw_data();
      if (raw.size() >= 8) {
        int64_t v = anyInt();
        std::memcpy(&raw[below(raw.size() / 8) * 8], &v, 8);
      } else {
        t.add_int64_data(anyInt());
      }
      return true;
    }
    case 4: {
      std::string &raw = *t.mutable_raw_data();
      raw.resize(below(raw.size() + 9));
      return true;
    }
    default:
      if (t.dims_size() == 0)
        return false;
      t.mutable_dims()->RemoveLast();
      return true;
    }
  }

  bool initializer(GraphProto &g) {
    if (g.initializer_size() == 0)
      return false;
    return tensor(*g.mutable_initializer(below(g.initializer_size())));
  }

  bool opset(ModelProto &model) {
    if (model.opset_import_size() == 0 || below(8) == 0) {
      OperatorSetIdProto *o = model.add_opset_import();
      o->set_domain(pick<const char *>({"", "ai.onnx", "com.microsoft"}));
      o->set_version(anyInt());
      return true;
    }
    OperatorSetIdProto *o =
        model.mutable_opset_import(below(model.opset_import_size()));
    if (below(4) == 0)
      o->set_domain(pick<const char *>({"ai.onnx.ml", "x", ""}));
    else
      o->set_version(pick<int64_t>({1, 7, 10, 11, 12, 13, 14, 15, 17, 18, 21,
                                    99, 0, -1}));
    return true;
  }

  bool nodeList(GraphProto &g) {
    int n = g.node_size();
    if (n == 0)
      return false;
    switch (below(3)) {
    case 0:
      g.mutable_node()->DeleteSubrange(below(n), 1);
      return true;
    case 1:
      *g.add_node() = g.node(below(n));
      return true;
    default:
      g.mutable_node()->SwapElements(below(n), below(n));
      return true;
    }
  }

  bool graphIo(GraphProto &g) {
    switch (below(3)) {
    case 0:
      if (g.input_size() == 0)
        return false;
      g.mutable_input()->DeleteSubrange(below(g.input_size()), 1);
      return true;
    case 1:
      if (g.output_size() == 0)
        return false;
      g.mutable_output()->DeleteSubrange(below(g.output_size()), 1);
      return true;
    default: {
      // An initializer that also is a graph input (ONNX allows it), or
      // its removal.
      if (g.initializer_size() == 0)
        return false;
      if (coin()) {
        g.mutable_initializer()->DeleteSubrange(
            below(g.initializer_size()), 1);
      } else {
        ValueInfoProto *v = g.add_input();
        v->set_name(g.initializer(below(g.initializer_size())).name());
      }
      return true;
    }
    }
  }
};

} // namespace

size_t recq::fuzz::mutateOnnx(uint8_t *data, size_t size, size_t maxSize,
                              unsigned seed) {
  ModelProto model;
  if (!model.ParseFromArray(data, static_cast<int>(size)) ||
      !model.has_graph())
    return 0;
  Mutator mutator(seed);
  // One to three changes, so that a mutant may need two fixes to be valid.
  int changes = 1 + seed % 3;
  for (int k = 0, tries = 0; k < changes && tries < 20; ++tries)
    k += mutator.mutate(model) ? 1 : 0;
  std::string bytes;
  if (!model.SerializeToString(&bytes) || bytes.size() > maxSize)
    return 0;
  std::memcpy(data, bytes.data(), bytes.size());
  return bytes.size();
}
