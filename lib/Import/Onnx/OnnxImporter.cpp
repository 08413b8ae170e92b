//===- OnnxImporter.cpp - ONNX ModelProto to recq -------------------------===//
//
// Reads a model with ONNX's own library (onnx::checker rejects malformed
// files, onnx::shape_inference fills in value types), then imports it on
// demand from the graph outputs (see Importer.h): each node goes to a
// raiser (multi-node shapes) or an emitter chosen by (op type,
// since-version). `recq-canonicalize` then folds activations into FCs.
//
// The library is built with exceptions: ONNX throws, and every throw is
// caught here and turned into an llvm::Error.
//
//===----------------------------------------------------------------------===//

#include "recq/Import/OnnxImporter.h"

#include "Importer.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "onnx/checker.h"
#include "onnx/shape_inference/implementation.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <exception>

using namespace mlir;
using namespace recq::onnx_import;
using llvm::Error;
using llvm::Expected;
using llvm::Twine;

//===----------------------------------------------------------------------===//
// Messages and attributes
//===----------------------------------------------------------------------===//

Error recq::onnx_import::makeError(const Twine &message) {
  return llvm::createStringError(message);
}

/// Nodes without a name are called by their first output.
static std::string displayName(const onnx::NodeProto &node) {
  if (!node.name().empty() || node.output_size() == 0)
    return node.name();
  return node.output(0);
}

Error recq::onnx_import::nodeError(const onnx::NodeProto &node,
                                   const Twine &what) {
  return makeError("node '" + displayName(node) + "' (" + node.op_type() +
                   "): " + what);
}

Error recq::onnx_import::unsupported(const onnx::NodeProto &node,
                                     const Twine &why) {
  return nodeError(node, "not supported: " + why);
}

const onnx::AttributeProto *
recq::onnx_import::findAttr(const onnx::NodeProto &node, StringRef name) {
  for (const auto &attr : node.attribute())
    if (attr.name() == name)
      return &attr;
  return nullptr;
}

int64_t recq::onnx_import::intAttr(const onnx::NodeProto &node,
                                   StringRef name, int64_t fallback) {
  const onnx::AttributeProto *attr = findAttr(node, name);
  return attr ? attr->i() : fallback;
}

float recq::onnx_import::floatAttr(const onnx::NodeProto &node,
                                   StringRef name, float fallback) {
  const onnx::AttributeProto *attr = findAttr(node, name);
  return attr ? attr->f() : fallback;
}

//===----------------------------------------------------------------------===//
// GraphIndex
//===----------------------------------------------------------------------===//

GraphIndex::GraphIndex(const onnx::GraphProto &graph, const GraphIndex *parent)
    : graph(graph), parent(parent) {
  for (const auto &node : graph.node()) {
    for (const auto &output : node.output())
      if (!output.empty())
        producers[output] = &node;
    for (const auto &input : node.input())
      ++uses[input];
  }
  for (const auto &output : graph.output())
    ++uses[output.name()];
}

int64_t GraphIndex::useCount(StringRef name) const {
  auto it = uses.find(name);
  return it == uses.end() ? 0 : it->second;
}

const onnx::NodeProto *GraphIndex::producer(StringRef name) const {
  auto it = producers.find(name);
  return it == producers.end() ? nullptr : it->second;
}

const onnx::NodeProto *GraphIndex::producer(StringRef name,
                                            StringRef opType) const {
  const onnx::NodeProto *node = producer(name);
  return node && node->op_type() == opType ? node : nullptr;
}

//===----------------------------------------------------------------------===//
// Importer
//===----------------------------------------------------------------------===//

Importer::Importer(MLIRContext &context, const onnx::ModelProto &model,
                   StringRef file, int64_t opset)
    : context(context), model(model), file(file.str()),
      directory(llvm::sys::path::parent_path(file).str()), opset(opset),
      builder(&context), main(model.graph()) {}

// Ops whose semantics did not change in a way that matters here across
// 11..17 have a single entry.
const Importer::Emitter Importer::kEmitters[] = {
    {"Add", 7, &Importer::emitAdd},
    {"Concat", 11, &Importer::raiseInteraction},
    {"Gather", 11, &Importer::emitGather},
    {"Gemm", 11, &Importer::emitGemm},
    {"Loop", 11, &Importer::raiseEmbeddingBagLoop},
    {"MatMul", 9, &Importer::emitMatMul},
    {"ReduceMax", 11, &Importer::raiseFixedLengthBag},
    {"ReduceMean", 11, &Importer::raiseFixedLengthBag},
    {"ReduceSum", 11, &Importer::raiseFixedLengthBag},
    {"Relu", 6, &Importer::emitUnary<recq::ReluOp>},
    {"Sigmoid", 6, &Importer::emitUnary<recq::SigmoidOp>},
};

const Importer::Emitter *Importer::findEmitter(StringRef opType) const {
  const Emitter *best = nullptr;
  for (const Emitter &e : kEmitters)
    if (opType == e.opType && e.since <= opset &&
        (!best || e.since > best->since))
      best = &e;
  return best;
}

Location Importer::loc(const onnx::NodeProto &node) {
  return NameLoc::get(StringAttr::get(&context, node.name()),
                      FileLineColLoc::get(&context, file, 0, 0));
}

Expected<Type> Importer::elementType(int32_t onnxType, const Twine &what) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return builder.getF32Type();
  case onnx::TensorProto::FLOAT16:
    return builder.getF16Type();
  case onnx::TensorProto::BFLOAT16:
    return builder.getBF16Type();
  case onnx::TensorProto::DOUBLE:
    return builder.getF64Type();
  case onnx::TensorProto::INT64:
    return builder.getI64Type();
  case onnx::TensorProto::INT32:
    return builder.getI32Type();
  case onnx::TensorProto::BOOL:
    return builder.getI1Type();
  default:
    return makeError(what + " has element type " +
                     onnx::TensorProto::DataType_Name(
                         static_cast<onnx::TensorProto::DataType>(onnxType)) +
                     ", which recq does not support");
  }
}

Expected<RankedTensorType>
Importer::valueType(const onnx::ValueInfoProto &info) {
  if (!info.type().has_tensor_type() ||
      !info.type().tensor_type().has_shape())
    return makeError("input '" + info.name() +
                     "' is not a tensor of known rank");
  const auto &tensor = info.type().tensor_type();
  Expected<Type> element =
      elementType(tensor.elem_type(), "input '" + info.name() + "'");
  if (!element)
    return element.takeError();
  SmallVector<int64_t> shape;
  for (const auto &dim : tensor.shape().dim())
    shape.push_back(dim.has_dim_value() && dim.dim_value() > 0
                        ? dim.dim_value()
                        : ShapedType::kDynamic);
  return RankedTensorType::get(shape, *element);
}

/// The bytes of an initializer stored outside the model file (ONNX's
/// external data: `location` relative to the model's directory, optional
/// `offset` and `length`), mapped rather than read: the only copy the
/// import makes of a table is its constant.
static Expected<std::unique_ptr<llvm::MemoryBuffer>>
readExternalData(const onnx::TensorProto &tensor, StringRef directory) {
  std::string location;
  uint64_t offset = 0, length = 0;
  bool hasLength = false;
  for (const auto &entry : tensor.external_data()) {
    if (entry.key() == "location")
      location = entry.value();
    else if (entry.key() == "offset" || entry.key() == "length") {
      uint64_t v;
      if (StringRef(entry.value()).getAsInteger(10, v))
        return makeError("initializer '" + tensor.name() + "': external " +
                         entry.key() + " '" + entry.value() +
                         "' is not a number");
      (entry.key() == "offset" ? offset : length) = v;
      hasLength |= entry.key() == "length";
    }
  }
  if (location.empty() || llvm::sys::path::is_absolute(location) ||
      StringRef(location).contains(".."))
    return makeError("initializer '" + tensor.name() +
                     "': external data location '" + location +
                     "' must be a relative path inside the model's directory");
  SmallString<256> path(directory);
  llvm::sys::path::append(path, location);
  uint64_t size;
  if (std::error_code ec = llvm::sys::fs::file_size(path, size))
    return makeError("initializer '" + tensor.name() + "': cannot read '" +
                     path + "': " + ec.message());
  if (!hasLength)
    length = offset <= size ? size - offset : 0;
  if (offset > size || length > size - offset)
    return makeError("initializer '" + tensor.name() + "': '" + path +
                     "' holds " + Twine(size) + " bytes, fewer than offset " +
                     Twine(offset) + " + length " + Twine(length));
  auto buffer = llvm::MemoryBuffer::getFileSlice(path, length, offset);
  if (!buffer)
    return makeError("initializer '" + tensor.name() + "': cannot read '" +
                     path + "': " + buffer.getError().message());
  return std::move(*buffer);
}

Expected<DenseElementsAttr>
Importer::tensorAttr(const onnx::TensorProto &tensor) {
  std::unique_ptr<llvm::MemoryBuffer> external;
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    auto bytes = readExternalData(tensor, directory);
    if (!bytes)
      return bytes.takeError();
    external = std::move(*bytes);
  }
  Expected<Type> element =
      elementType(tensor.data_type(), "initializer '" + tensor.name() + "'");
  if (!element)
    return element.takeError();
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  auto type = RankedTensorType::get(shape, *element);
  int64_t count = type.getNumElements();
  StringRef raw = external ? external->getBuffer() : StringRef(tensor.raw_data());

  auto fromValues = [&](auto values) -> Expected<DenseElementsAttr> {
    if (static_cast<int64_t>(values.size()) != count)
      return makeError("initializer '" + tensor.name() + "' holds " +
                       Twine(values.size()) + " values but its shape needs " +
                       Twine(count));
    return DenseElementsAttr::get(type, llvm::ArrayRef(values));
  };
  auto fromRaw = [&](auto zero) -> Expected<DenseElementsAttr> {
    using T = decltype(zero);
    if (raw.size() != count * sizeof(T))
      return makeError("initializer '" + tensor.name() + "' holds " +
                       Twine(raw.size()) + " bytes but its shape needs " +
                       Twine(count * sizeof(T)));
    // Straight into the constant (ONNX raw data is little-endian, as the
    // hosts recq targets are).
    return DenseElementsAttr::getFromRawBuffer(
        type, ArrayRef<char>(raw.data(), raw.size()));
  };

  switch (tensor.data_type()) {
  case onnx::TensorProto::FLOAT:
    if (!raw.empty())
      return fromRaw(float());
    return fromValues(std::vector<float>(tensor.float_data().begin(),
                                         tensor.float_data().end()));
  case onnx::TensorProto::INT64:
    if (!raw.empty())
      return fromRaw(int64_t());
    return fromValues(std::vector<int64_t>(tensor.int64_data().begin(),
                                           tensor.int64_data().end()));
  case onnx::TensorProto::INT32:
    if (!raw.empty())
      return fromRaw(int32_t());
    return fromValues(std::vector<int32_t>(tensor.int32_data().begin(),
                                           tensor.int32_data().end()));
  case onnx::TensorProto::BOOL: {
    std::vector<char> bytes;
    if (!raw.empty())
      bytes.assign(raw.begin(), raw.end());
    else
      bytes.assign(tensor.int32_data().begin(), tensor.int32_data().end());
    if (static_cast<int64_t>(bytes.size()) != count)
      return makeError("initializer '" + tensor.name() + "' holds " +
                       Twine(bytes.size()) + " values but its shape needs " +
                       Twine(count));
    SmallVector<bool> values(bytes.begin(), bytes.end());
    return DenseElementsAttr::get(type, llvm::ArrayRef(values));
  }
  default:
    return makeError("initializer '" + tensor.name() +
                     "': only float, int32, int64 and bool constants are "
                     "supported");
  }
}

Expected<Value> Importer::resolve(const onnx::NodeProto &user,
                                  StringRef name) {
  auto it = values.find(name);
  if (it != values.end())
    return it->second;
  if (const onnx::NodeProto *node = main.producer(name);
      node && node->op_type() != "Constant") {
    if (Error e = emitNode(*node))
      return std::move(e);
    it = values.find(name);
    if (it == values.end())
      return nodeError(*node, "output '" + name + "' is not imported (only "
                                                  "output 0 of this op is)");
    return it->second;
  }
  Expected<DenseElementsAttr> c = lookupConstant(main, name);
  if (!c)
    return c.takeError();
  if (!*c)
    return nodeError(user, "input '" + name + "' is not defined");
  // Constants are materialized at the start of the function, so the value
  // dominates every use whatever order nodes are emitted in.
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(builder.getInsertionBlock());
  auto op = builder.create<arith::ConstantOp>(
      NameLoc::get(StringAttr::get(&context, name)), *c);
  values[name] = op.getResult();
  return op.getResult();
}

Expected<Value> Importer::operand(const onnx::NodeProto &node, int index) {
  if (index >= node.input_size() || node.input(index).empty())
    return nodeError(node, "missing input " + Twine(index));
  return resolve(node, node.input(index));
}

Expected<DenseElementsAttr> Importer::lookupConstant(const GraphIndex &graph,
                                                     StringRef name) {
  for (const GraphIndex *g = &graph; g; g = g->parent) {
    const onnx::NodeProto *node = g->producer(name);
    if (!node)
      continue;
    if (node->op_type() != "Constant")
      return DenseElementsAttr();
    // A `Constant` node: read once, then cached like an initializer.
    std::string key = g == &main ? name.str() : "";
    if (!key.empty())
      if (auto it = constants.find(key); it != constants.end())
        return it->second;
    const onnx::AttributeProto *value = findAttr(*node, "value");
    if (!value)
      return unsupported(*node,
                         "only the 'value' form of Constant is supported");
    Expected<DenseElementsAttr> attr = tensorAttr(value->t());
    if (!attr)
      return attr.takeError();
    if (!key.empty())
      constants[key] = *attr;
    return *attr;
  }
  auto it = constants.find(name);
  return it == constants.end() ? DenseElementsAttr() : it->second;
}

Expected<DenseElementsAttr>
Importer::constantOperand(const onnx::NodeProto &node, int index,
                          StringRef role) {
  if (index >= node.input_size())
    return nodeError(node, "missing input " + Twine(index));
  Expected<DenseElementsAttr> c = lookupConstant(main, node.input(index));
  if (!c)
    return c.takeError();
  if (!*c)
    return unsupported(node, "the " + role + " '" + node.input(index) +
                                 "' is not a constant");
  return *c;
}

Error Importer::define(const onnx::NodeProto &node, Value value) {
  if (node.output_size() < 1)
    return nodeError(node, "has no output");
  values[node.output(0)] = value;
  return Error::success();
}

Error Importer::verifyNew(const onnx::NodeProto &node, Operation *op) {
  std::string message;
  ScopedDiagnosticHandler capture(&context, [&](Diagnostic &diag) {
    if (message.empty())
      message = diag.str();
    return success();
  });
  if (succeeded(mlir::verify(op)))
    return Error::success();
  return nodeError(node, message);
}

//===----------------------------------------------------------------------===//
// Emitters
//===----------------------------------------------------------------------===//

/// A constant float matrix as [rows, cols] values, optionally transposed and
/// scaled, for folding Gemm's transB and alpha into the weight.
static DenseElementsAttr transformWeight(DenseElementsAttr w, bool transpose,
                                         float scale) {
  auto type = cast<RankedTensorType>(w.getType());
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  auto values = llvm::to_vector(w.getValues<float>());
  std::vector<float> out(values.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      out[transpose ? c * rows + r : r * cols + c] = scale * values[r * cols + c];
  auto outType = RankedTensorType::get(
      transpose ? ArrayRef<int64_t>{cols, rows} : ArrayRef<int64_t>{rows, cols},
      type.getElementType());
  return DenseElementsAttr::get(outType, llvm::ArrayRef(out));
}

/// Builds `recq.fc input, weight[N, K] (, bias[N])` for `node`.
Error Importer::emitFc(const onnx::NodeProto &node, Value input,
                       DenseElementsAttr weight, DenseElementsAttr bias) {
  auto inputType = cast<RankedTensorType>(input.getType());
  auto weightType = cast<RankedTensorType>(weight.getType());
  auto resultType = RankedTensorType::get(
      {inputType.getDimSize(0), weightType.getDimSize(0)},
      inputType.getElementType());
  Location l = loc(node);
  Value w = builder.create<arith::ConstantOp>(l, weight);
  Value b = bias ? builder.create<arith::ConstantOp>(l, bias).getResult()
                 : Value();
  auto fc =
      builder.create<recq::FcOp>(l, resultType, input, w, b,
                                 /*addend=*/Value(), recq::Activation::none);
  if (Error e = verifyNew(node, fc))
    return e;
  return define(node, fc.getResult());
}

/// Gemm: Y = alpha * A' * B' + beta * C with a constant B (and C); alpha and
/// beta are folded into the constants, transB into the weight layout.
Error Importer::emitGemm(const onnx::NodeProto &node) {
  if (intAttr(node, "transA", 0) != 0)
    return unsupported(node, "transA = 1 (the activation must be [batch, K])");
  Expected<Value> input = operand(node, 0);
  if (!input)
    return input.takeError();
  if (cast<RankedTensorType>(input->getType()).getRank() != 2)
    return unsupported(node, "the input must be 2-D [batch, K]");
  Expected<DenseElementsAttr> b = constantOperand(node, 1, "weight");
  if (!b)
    return b.takeError();
  if (b->getType().getRank() != 2 ||
      !b->getType().getElementType().isF32())
    return unsupported(node, "the weight must be a 2-D f32 constant");
  bool transB = intAttr(node, "transB", 0) != 0;
  // recq.fc wants [N, K]; ONNX B is [K, N] unless transB.
  DenseElementsAttr weight =
      transformWeight(*b, /*transpose=*/!transB, floatAttr(node, "alpha", 1.0f));

  DenseElementsAttr bias;
  float beta = floatAttr(node, "beta", 1.0f);
  if (node.input_size() > 2 && !node.input(2).empty() && beta != 0.0f) {
    Expected<DenseElementsAttr> c = constantOperand(node, 2, "bias");
    if (!c)
      return c.takeError();
    int64_t n = weight.getType().getDimSize(0);
    // C broadcasts to [batch, N]: one value per output, or one for all.
    int64_t count = c->getType().getNumElements();
    if ((count != n && count != 1) || c->getType().getRank() > 2 ||
        (c->getType().getRank() == 2 && c->getType().getDimSize(0) != 1) ||
        !c->getType().getElementType().isF32())
      return unsupported(node, "the bias must be an f32 constant of " +
                                   Twine(n) + " values (one per output)");
    auto given = llvm::to_vector(c->getValues<float>());
    SmallVector<float> values(n);
    for (int64_t i = 0; i < n; ++i)
      values[i] = beta * given[count == 1 ? 0 : i];
    bias = DenseElementsAttr::get(
        RankedTensorType::get({n}, builder.getF32Type()), llvm::ArrayRef(values));
  }
  return emitFc(node, *input, weight, bias);
}

/// MatMul of a 2-D activation by a constant [K, N] matrix: an FC without
/// bias (a following Add supplies it).
Error Importer::emitMatMul(const onnx::NodeProto &node) {
  Expected<Value> input = operand(node, 0);
  if (!input)
    return input.takeError();
  Expected<DenseElementsAttr> b = constantOperand(node, 1, "right operand");
  if (!b) {
    llvm::consumeError(b.takeError());
    return unsupported(node, "only a 2-D activation times a constant matrix "
                             "is taken here (batched MatMuls belong to the "
                             "dot interaction)");
  }
  if (cast<RankedTensorType>(input->getType()).getRank() != 2 ||
      b->getType().getRank() != 2 || !b->getType().getElementType().isF32())
    return unsupported(node, "only a 2-D activation times a 2-D f32 constant "
                             "is supported");
  return emitFc(node, *input,
                transformWeight(*b, /*transpose=*/true, /*scale=*/1.0f), {});
}

/// Add of a constant vector to a bias-less FC whose result nothing else
/// uses: becomes the FC's bias.
Error Importer::emitAdd(const onnx::NodeProto &node) {
  if (node.input_size() != 2)
    return nodeError(node, "needs 2 inputs");
  for (int side = 0; side < 2; ++side) {
    Expected<DenseElementsAttr> c = lookupConstant(main, node.input(1 - side));
    if (!c)
      return c.takeError();
    const onnx::NodeProto *matmul = main.producer(node.input(side), "MatMul");
    if (!*c || !matmul || main.useCount(node.input(side)) != 1)
      continue;
    Expected<Value> product = resolve(node, node.input(side));
    if (!product)
      return product.takeError();
    auto fc = product->getDefiningOp<recq::FcOp>();
    if (!fc || fc.getBias())
      continue;
    int64_t n = fc.getType().getDimSize(1);
    if (c->getNumElements() != n || !c->getType().getElementType().isF32())
      return unsupported(node, "the added constant must hold one f32 value "
                               "per output (" + Twine(n) + ")");
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPoint(fc);
    auto bias = builder.create<arith::ConstantOp>(
        loc(node),
        c->reshape(RankedTensorType::get({n}, builder.getF32Type())));
    auto withBias = builder.create<recq::FcOp>(
        fc.getLoc(), fc.getType(), fc.getInput(), fc.getWeight(), bias,
        fc.getAddend(), fc.getActivation());
    fc->erase();
    values[node.input(side)] = withBias.getResult();
    return define(node, withBias.getResult());
  }
  return unsupported(node, "Add is only taken as the bias of a preceding "
                           "MatMul (a constant vector added to its result)");
}

/// Gather of one slice of a computed tensor by a constant scalar index
/// along axis 0, e.g. `Gather(offsets[T, B], k)`, the per-table offsets the
/// reference DLRM feeds: a rank-reducing `tensor.extract_slice`.
Error Importer::emitGather(const onnx::NodeProto &node) {
  if (Expected<DenseElementsAttr> table = lookupConstant(main, node.input(0));
      !table || *table) {
    if (!table)
      return table.takeError();
    return unsupported(node, "a Gather of rows of a constant table is only "
                             "taken as the lookup of an embedding bag");
  }
  if (intAttr(node, "axis", 0) != 0)
    return unsupported(node, "only Gather along axis 0 is supported");
  Expected<DenseElementsAttr> index = constantOperand(node, 1, "index");
  if (!index)
    return index.takeError();
  if (index->getType().getRank() != 0 ||
      (!index->getElementType().isInteger(64) &&
       !index->getElementType().isInteger(32)))
    return unsupported(node, "only a constant scalar index is supported");
  Expected<Value> data = operand(node, 0);
  if (!data)
    return data.takeError();
  auto dataType = cast<RankedTensorType>(data->getType());
  if (dataType.getRank() < 1)
    return nodeError(node, "cannot gather from a scalar");
  int64_t k = (*index->getValues<APInt>().begin()).getSExtValue();
  int64_t rows = dataType.getDimSize(0);
  if (!ShapedType::isDynamic(rows) && k < 0)
    k += rows;
  if (k < 0 || (!ShapedType::isDynamic(rows) && k >= rows))
    return nodeError(node, "index " + Twine(k) + " is outside [0, " +
                               Twine(rows) + ")");

  Location l = loc(node);
  SmallVector<OpFoldResult> offsets(dataType.getRank(), builder.getIndexAttr(0));
  offsets[0] = builder.getIndexAttr(k);
  SmallVector<OpFoldResult> sizes{builder.getIndexAttr(1)};
  for (int64_t d = 1; d < dataType.getRank(); ++d)
    sizes.push_back(dataType.isDynamicDim(d)
                        ? OpFoldResult(builder.create<tensor::DimOp>(
                                              l, *data, d).getResult())
                        : OpFoldResult(builder.getIndexAttr(
                              dataType.getDimSize(d))));
  SmallVector<OpFoldResult> strides(dataType.getRank(), builder.getIndexAttr(1));
  auto resultType = RankedTensorType::get(dataType.getShape().drop_front(),
                                          dataType.getElementType());
  auto slice = builder.create<tensor::ExtractSliceOp>(l, resultType, *data,
                                                      offsets, sizes, strides);
  return define(node, slice.getResult());
}

/// `Relu`/`Sigmoid` -> `recq.relu`/`recq.sigmoid` (folded into a preceding
/// FC by recq-canonicalize afterwards).
template <typename OpTy>
Error Importer::emitUnary(const onnx::NodeProto &node) {
  Expected<Value> input = operand(node, 0);
  if (!input)
    return input.takeError();
  auto op = builder.create<OpTy>(loc(node), *input);
  if (Error e = verifyNew(node, op))
    return e;
  return define(node, op.getResult());
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

Expected<OwningOpRef<ModuleOp>> Importer::run() {
  const onnx::GraphProto &graph = model.graph();
  for (const auto &init : graph.initializer()) {
    Expected<DenseElementsAttr> attr = tensorAttr(init);
    if (!attr)
      return attr.takeError();
    constants[init.name()] = *attr;
  }

  SmallVector<Type> inputTypes;
  SmallVector<std::string> inputNames;
  for (const auto &input : graph.input()) {
    if (constants.count(input.name()))
      continue; // IR < 4 lists initializers as inputs too
    Expected<RankedTensorType> type = valueType(input);
    if (!type)
      return type.takeError();
    inputTypes.push_back(*type);
    inputNames.push_back(input.name());
  }

  Location fileLoc = FileLineColLoc::get(&context, file, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  (*module)->setAttr("recq.onnx_opset", builder.getI64IntegerAttr(opset));
  builder.setInsertionPointToEnd(module->getBody());
  auto func = builder.create<func::FuncOp>(
      fileLoc, "main", builder.getFunctionType(inputTypes, {}));
  Block *entry = func.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(inputNames)) {
    values[name] = entry->getArgument(i);
    func.setArgAttr(i, "onnx.name", builder.getStringAttr(name));
  }
  builder.setInsertionPointToEnd(entry);

  // Import on demand from the outputs: a node is emitted when a value it
  // produces is needed (see Importer.h).
  SmallVector<Value> results;
  onnx::NodeProto outputUser;
  outputUser.set_name("graph outputs");
  outputUser.set_op_type("Return");
  for (const auto &output : graph.output()) {
    Expected<Value> value = resolve(outputUser, output.name());
    if (!value)
      return value.takeError();
    results.push_back(*value);
  }
  builder.create<func::ReturnOp>(fileLoc, results);
  func.setType(builder.getFunctionType(inputTypes, ValueRange(results).getTypes()));
  for (auto [i, output] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, "onnx.name", builder.getStringAttr(output.name()));

  PassManager pm(&context);
  pm.addPass(recq::createRecqCanonicalizePass());
  if (failed(pm.run(*module)) || failed(mlir::verify(*module)))
    return makeError("the imported module does not verify (a recq bug)");
  return std::move(module);
}

Error Importer::emitNode(const onnx::NodeProto &node) {
  if (!node.domain().empty() && node.domain() != "ai.onnx")
    return unsupported(node, "operator domain '" + node.domain() + "'");
  if (!inProgress.insert(&node).second)
    return nodeError(node, "depends on its own output");
  const Emitter *emitter = findEmitter(node.op_type());
  if (!emitter)
    return unsupported(node, "recq has no import for this op");
  Error e = (this->*emitter->fn)(node);
  inProgress.erase(&node);
  return e;
}

//===----------------------------------------------------------------------===//
// Entry point
//===----------------------------------------------------------------------===//

Expected<OwningOpRef<ModuleOp>>
recq::importOnnxFile(StringRef path, MLIRContext &context) {
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path);
  if (!buffer)
    return makeError("cannot read file: " + buffer.getError().message());
  return importOnnxBuffer((*buffer)->getBuffer(), path, context);
}

Expected<OwningOpRef<ModuleOp>>
recq::importOnnxBuffer(StringRef bytes, StringRef path, MLIRContext &context) {
  context.loadDialect<recq::RecqDialect, arith::ArithDialect,
                      func::FuncDialect, tensor::TensorDialect>();
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    return makeError("the model file is larger than 2 GB, protobuf's limit; "
                     "keep the tables in external data files");
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return makeError("not an ONNX model (the protobuf does not parse)");
  if (Error e = onnx_import::checkTensorData(model))
    return e;
  // The checker finds external data files relative to the model's
  // directory, which only its path form knows (it parses the file again).
  bool external = llvm::any_of(model.graph().initializer(), [](const auto &t) {
    return t.data_location() == onnx::TensorProto::EXTERNAL;
  });
  if (external && (path.empty() || path == "-"))
    return makeError("the model keeps initializers in external data files, "
                     "which are found next to the model file: import it "
                     "from a file, not from standard input");
  try {
    if (external)
      onnx::checker::check_model(path.str());
    else
      onnx::checker::check_model(model);
  } catch (const std::exception &e) {
    std::string what = e.what();
    while (!what.empty() && (what.back() == '\n' || what.back() == ' '))
      what.pop_back();
    std::replace(what.begin(), what.end(), '\n', ' ');
    return makeError("invalid ONNX model: " + what);
  }

  int64_t opset = -1;
  for (const auto &import : model.opset_import())
    if (import.domain().empty() || import.domain() == "ai.onnx")
      opset = import.version();
  if (opset < kMinOnnxOpset || opset > kMaxOnnxOpset)
    return makeError("opset " + Twine(opset) + " is not supported (recq "
                     "imports opsets " + Twine(kMinOnnxOpset) + " to " +
                     Twine(kMaxOnnxOpset) + ")");
  try {
    onnx::shape_inference::InferShapes(model);
  } catch (const std::exception &e) {
    return makeError(Twine("shape inference failed: ") + e.what());
  }
  return Importer(context, model, path, opset).run();
}
