//===- CheckTensors.cpp - Tensor data that matches its dims ---------------===//
//
// Runs before onnx's checker and shape inference, which read a constant's
// data by its dims without comparing the two (libonnx 1.14 copies past the
// end of a raw_data shorter than its dims say: found by the
// structure-aware fuzzer). Every tensor of the model, in every graph and
// node attribute, must hold exactly the elements its dims give.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/Twine.h"

#include <algorithm>
#include <limits>
#include <optional>

using llvm::Error;
using llvm::Twine;

namespace {

/// Bytes per element of an ONNX data type in raw_data; 0 for STRING and
/// types recq does not know.
uint64_t rawElementBytes(int32_t type) {
  switch (type) {
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::BOOL:
    return 1;
  case onnx::TensorProto::UINT16:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
    return 2;
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32:
    return 4;
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::UINT64:
  case onnx::TensorProto::COMPLEX64:
    return 8;
  case onnx::TensorProto::COMPLEX128:
    return 16;
  default:
    return 0;
  }
}

/// How many values the typed field of `t`'s data type holds.
int64_t typedValues(const onnx::TensorProto &t) {
  switch (t.data_type()) {
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::COMPLEX64:
    return t.float_data_size();
  case onnx::TensorProto::INT64:
    return t.int64_data_size();
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::COMPLEX128:
    return t.double_data_size();
  case onnx::TensorProto::UINT32:
  case onnx::TensorProto::UINT64:
    return t.uint64_data_size();
  case onnx::TensorProto::STRING:
    return t.string_data_size();
  default:
    return t.int32_data_size();
  }
}

Error checkTensor(const onnx::TensorProto &t, const Twine &where) {
  auto fail = [&](const Twine &what) {
    return recq::onnx_import::makeError("tensor '" + t.name() + "' (" + where +
                                        "): " + what);
  };
  if (t.data_type() != onnx::TensorProto::STRING &&
      rawElementBytes(t.data_type()) == 0)
    return fail("data type " + Twine(t.data_type()) +
                " is not a numeric ONNX type recq reads");
  uint64_t elements = 1;
  for (int64_t d : t.dims()) {
    if (d < 0)
      return fail("dimension " + Twine(d) + " is negative");
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements))
      return fail("its dims hold more elements than fit in 64 bits");
  }
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    return Error::success(); // checked where the file is read
  bool complex = t.data_type() == onnx::TensorProto::COMPLEX64 ||
                 t.data_type() == onnx::TensorProto::COMPLEX128;
  if (t.has_raw_data()) {
    uint64_t bytes = rawElementBytes(t.data_type());
    uint64_t want;
    if (bytes == 0 || __builtin_mul_overflow(elements, bytes, &want) ||
        want != t.raw_data().size())
      return fail("its dims hold " + Twine(elements) + " elements, but its " +
                  Twine(t.raw_data().size()) + " bytes of raw_data hold " +
                  (bytes ? Twine(t.raw_data().size() / bytes) : Twine("no")) +
                  " whole ones");
    return Error::success();
  }
  uint64_t values = static_cast<uint64_t>(typedValues(t));
  if (values != elements * (complex ? 2 : 1))
    return fail("its dims hold " + Twine(elements) + " elements, but it has " +
                Twine(values) + " values");
  return Error::success();
}

/// The most dimensions a tensor may have. ONNX's shape inference gives
/// ConstantOfShape, Reshape and Expand a result of as many dimensions as
/// their shape operand has elements, and builds that shape in memory:
/// a declared [137979312] shape operand took it past 4 GB.
constexpr int64_t kMaxRank = 64;

/// The static length of each 1-D value the graph declares: its inputs,
/// value_info, initializers and Constant nodes' values.
llvm::StringMap<int64_t> declaredLengths(const onnx::GraphProto &g) {
  llvm::StringMap<int64_t> lengths;
  auto fromType = [&](const onnx::ValueInfoProto &v) {
    if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape())
      return;
    const onnx::TensorShapeProto &shape = v.type().tensor_type().shape();
    if (shape.dim_size() == 1 && shape.dim(0).has_dim_value())
      lengths[v.name()] = shape.dim(0).dim_value();
  };
  for (const onnx::ValueInfoProto &v : g.input())
    fromType(v);
  for (const onnx::ValueInfoProto &v : g.value_info())
    fromType(v);
  for (const onnx::TensorProto &t : g.initializer())
    if (t.dims_size() == 1)
      lengths[t.name()] = t.dims(0);
  for (const onnx::NodeProto &node : g.node())
    if (node.op_type() == "Constant" && node.output_size() == 1)
      for (const onnx::AttributeProto &a : node.attribute())
        if (a.name() == "value" && a.has_t() && a.t().dims_size() == 1)
          lengths[node.output(0)] = a.t().dims(0);
  return lengths;
}

/// Ops whose result, for 1-D operands, is as long as their longest operand
/// (element-wise, with broadcasting): ONNX's shape inference carries a
/// declared length through them.
bool keepsLength(llvm::StringRef op) {
  static const llvm::StringSet<> ops = {
      "Abs",   "Add",     "And",          "BitShift", "Cast",      "CastLike",
      "Ceil",  "Clip",    "Div",          "Equal",    "Erf",       "Exp",
      "Floor", "Greater", "GreaterOrEqual", "Identity", "Less", "LessOrEqual",
      "Log",   "Max",     "Mean",         "Min",      "Mod",       "Mul",
      "Neg",   "Not",     "Or",           "Pow",      "Reciprocal", "Relu",
      "Round", "Sigmoid", "Sign",         "Sqrt",     "Sub",       "Sum",
      "Tanh",  "Where",   "Xor"};
  return ops.contains(op);
}

/// A shape operand too long for a tensor's rank, found before shape
/// inference builds the shape. The 1-D lengths the graph declares are
/// carried, in node order, through element-wise ops (the longest operand),
/// Concat (the sum) and Gather (the indices' length), as shape inference
/// carries them: a declared [2^40] input reached ConstantOfShape through
/// Concat and Sum.
Error checkShapeOperands(const onnx::GraphProto &g) {
  llvm::StringMap<int64_t> lengths = declaredLengths(g);
  // (A negative declared length is malformed and left to the checker:
  // it is no length here, and the sums below stay in range.)
  auto lengthOf = [&](const std::string &name) -> std::optional<int64_t> {
    auto it = lengths.find(name);
    if (it == lengths.end() || it->second < 0)
      return std::nullopt;
    return it->second;
  };
  for (const onnx::NodeProto &node : g.node()) {
    int operand = node.op_type() == "ConstantOfShape" ? 0
                  : node.op_type() == "Reshape" || node.op_type() == "Expand"
                      ? 1
                      : -1;
    if (operand >= 0 && node.input_size() > operand)
      if (std::optional<int64_t> n = lengthOf(node.input(operand));
          n && *n > kMaxRank)
        return recq::onnx_import::nodeError(
            node, "its shape operand '" + node.input(operand) + "' has " +
                      Twine(*n) +
                      " elements: a result of that many dimensions is not "
                      "supported (at most " +
                      Twine(kMaxRank) + ")");
    // The length of the node's (one) result, where the graph fixes it.
    if (node.output_size() != 1 || lengths.count(node.output(0)))
      continue;
    std::optional<int64_t> length;
    if (keepsLength(node.op_type())) {
      for (const std::string &in : node.input())
        if (std::optional<int64_t> n = lengthOf(in))
          length = std::max(length.value_or(0), *n);
    } else if (node.op_type() == "Concat") {
      int64_t sum = 0;
      for (const std::string &in : node.input())
        if (std::optional<int64_t> n = lengthOf(in))
          sum = *n > std::numeric_limits<int64_t>::max() - sum
                    ? std::numeric_limits<int64_t>::max()
                    : sum + *n;
      if (sum > 0)
        length = sum;
    } else if (node.op_type() == "Gather" && node.input_size() == 2) {
      length = lengthOf(node.input(1));
    }
    if (length)
      lengths[node.output(0)] = *length;
  }
  return Error::success();
}

Error checkGraph(const onnx::GraphProto &g, int depth) {
  if (depth > 64)
    return recq::onnx_import::makeError(
        "graphs nest more than 64 deep (Loop bodies within Loop bodies)");
  for (const onnx::TensorProto &t : g.initializer())
    if (Error e = checkTensor(t, "initializer of graph '" + g.name() + "'"))
      return e;
  if (Error e = checkShapeOperands(g))
    return e;
  for (const onnx::NodeProto &node : g.node())
    for (const onnx::AttributeProto &a : node.attribute()) {
      std::string where = "attribute '" + a.name() + "' of node '" +
                          node.name() + "' (" + node.op_type() + ")";
      if (a.has_t())
        if (Error e = checkTensor(a.t(), where))
          return e;
      for (const onnx::TensorProto &t : a.tensors())
        if (Error e = checkTensor(t, where))
          return e;
      if (a.has_g())
        if (Error e = checkGraph(a.g(), depth + 1))
          return e;
      for (const onnx::GraphProto &sub : a.graphs())
        if (Error e = checkGraph(sub, depth + 1))
          return e;
    }
  return Error::success();
}

} // namespace

Error recq::onnx_import::checkTensorData(const onnx::ModelProto &model) {
  return checkGraph(model.graph(), 0);
}
