//===- OnnxImporter.cpp - ONNX ModelProto to recq -------------------------===//
//
// Reads a model with ONNX's own library (onnx::checker rejects malformed
// files, onnx::shape_inference fills in value types), then walks the graph
// once, calling a per-op emitter chosen by (op type, since-version) for each
// node. Emitters map nodes to recq ops; `recq-canonicalize` then folds
// activations into FCs. Multi-node shapes (the exporter's EmbeddingBag Loop,
// the dot interaction) are raised by a separate step that is not written
// yet, so such nodes are reported as not supported, by name.
//
// This is the one translation unit built with exceptions: ONNX throws, and
// every throw is caught here and turned into an llvm::Error.
//
//===----------------------------------------------------------------------===//

#include "recq/Import/OnnxImporter.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include "onnx/checker.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"

#include <algorithm>
#include <cstring>
#include <exception>

using namespace mlir;
using llvm::Error;
using llvm::Expected;
using llvm::Twine;

namespace {

Error makeError(const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 message.str());
}

/// "node 'name' (OpType): what".
Error nodeError(const onnx::NodeProto &node, const Twine &what) {
  return makeError("node '" + node.name() + "' (" + node.op_type() + "): " +
                   what);
}

/// "node 'name' (OpType): not supported: why".
Error unsupported(const onnx::NodeProto &node, const Twine &why) {
  return nodeError(node, "not supported: " + why);
}

//===----------------------------------------------------------------------===//
// Importer
//===----------------------------------------------------------------------===//

class Importer {
public:
  Importer(MLIRContext &context, const onnx::ModelProto &model,
           StringRef file, int64_t opset)
      : context(context), model(model), file(file.str()), opset(opset),
        builder(&context) {}

  Expected<OwningOpRef<ModuleOp>> run();

private:
  using EmitFn = Error (Importer::*)(const onnx::NodeProto &);
  /// One emitter: handles `opType` from opset `since` on (until a later
  /// entry for the same op takes over).
  struct Emitter {
    const char *opType;
    int64_t since;
    EmitFn fn;
  };
  static const Emitter kEmitters[];
  const Emitter *findEmitter(StringRef opType) const;

  Expected<Type> elementType(int32_t onnxType, StringRef what);
  Expected<RankedTensorType> valueType(const onnx::ValueInfoProto &info);
  Expected<DenseElementsAttr> tensorAttr(const onnx::TensorProto &tensor);
  Expected<Value> operand(const onnx::NodeProto &node, int index);
  /// The constant behind operand `index`, or an error naming it.
  Expected<DenseElementsAttr> constantOperand(const onnx::NodeProto &node,
                                              int index, StringRef role);
  Error define(const onnx::NodeProto &node, Value value);
  /// Verifies a newly built op; a failure (e.g. a shape mismatch) is
  /// reported against the node with the verifier's message.
  Error verifyNew(const onnx::NodeProto &node, Operation *op);
  Location loc(const onnx::NodeProto &node);

  Error emitFc(const onnx::NodeProto &node, Value input,
               DenseElementsAttr weight, DenseElementsAttr bias);
  Error emitConstant(const onnx::NodeProto &node);
  Error emitGemm(const onnx::NodeProto &node);
  Error emitMatMul(const onnx::NodeProto &node);
  Error emitAdd(const onnx::NodeProto &node);
  template <typename OpTy>
  Error emitUnary(const onnx::NodeProto &node);

  MLIRContext &context;
  const onnx::ModelProto &model;
  std::string file;
  int64_t opset;
  OpBuilder builder;
  llvm::StringMap<Value> values;
  llvm::StringMap<DenseElementsAttr> constants;
};

// Ops whose semantics did not change in a way that matters here across
// 11..17 have a single entry.
const Importer::Emitter Importer::kEmitters[] = {
    {"Add", 7, &Importer::emitAdd},
    {"Constant", 11, &Importer::emitConstant},
    {"Gemm", 11, &Importer::emitGemm},
    {"MatMul", 9, &Importer::emitMatMul},
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

Expected<Type> Importer::elementType(int32_t onnxType, StringRef what) {
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

Expected<DenseElementsAttr>
Importer::tensorAttr(const onnx::TensorProto &tensor) {
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
    return makeError("initializer '" + tensor.name() +
                     "' keeps its data in an external file: not supported");
  Expected<Type> element =
      elementType(tensor.data_type(), "initializer '" + tensor.name() + "'");
  if (!element)
    return element.takeError();
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  auto type = RankedTensorType::get(shape, *element);
  int64_t count = type.getNumElements();
  const std::string &raw = tensor.raw_data();

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
    std::vector<T> values(count);
    std::memcpy(values.data(), raw.data(), raw.size());
    return fromValues(values);
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
  default:
    return makeError("initializer '" + tensor.name() +
                     "': only float, int32 and int64 constants are supported");
  }
}

Expected<Value> Importer::operand(const onnx::NodeProto &node, int index) {
  if (index >= node.input_size() || node.input(index).empty())
    return nodeError(node, "missing input " + Twine(index));
  const std::string &name = node.input(index);
  auto it = values.find(name);
  if (it != values.end())
    return it->second;
  auto c = constants.find(name);
  if (c == constants.end())
    return nodeError(node, "input '" + name + "' is not defined");
  auto op = builder.create<arith::ConstantOp>(loc(node), c->second);
  values[name] = op.getResult();
  return op.getResult();
}

Expected<DenseElementsAttr>
Importer::constantOperand(const onnx::NodeProto &node, int index,
                          StringRef role) {
  if (index >= node.input_size())
    return nodeError(node, "missing input " + Twine(index));
  auto c = constants.find(node.input(index));
  if (c == constants.end())
    return unsupported(node, "the " + role + " '" + node.input(index) +
                                 "' is not a constant");
  return c->second;
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

/// `Constant` with a `value` tensor: recorded like an initializer.
Error Importer::emitConstant(const onnx::NodeProto &node) {
  for (const auto &attr : node.attribute()) {
    if (attr.name() != "value")
      continue;
    Expected<DenseElementsAttr> value = tensorAttr(attr.t());
    if (!value)
      return value.takeError();
    constants[node.output(0)] = *value;
    return Error::success();
  }
  return unsupported(node, "only the 'value' form of Constant is supported");
}

/// Reads a float attribute, or `fallback` when absent.
static float floatAttr(const onnx::NodeProto &node, StringRef name,
                       float fallback) {
  for (const auto &attr : node.attribute())
    if (attr.name() == name)
      return attr.f();
  return fallback;
}

static int64_t intAttr(const onnx::NodeProto &node, StringRef name,
                       int64_t fallback) {
  for (const auto &attr : node.attribute())
    if (attr.name() == name)
      return attr.i();
  return fallback;
}

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
  auto fc = builder.create<recq::FcOp>(l, resultType, input, w, b,
                                       recq::Activation::none);
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
  if (node.input_size() > 2 && !node.input(2).empty()) {
    Expected<DenseElementsAttr> c = constantOperand(node, 2, "bias");
    if (!c)
      return c.takeError();
    int64_t n = weight.getType().getDimSize(0);
    if (c->getType().getNumElements() != n ||
        !c->getType().getElementType().isF32())
      return unsupported(node, "the bias must be an f32 constant of " +
                                   Twine(n) + " values (one per output)");
    float beta = floatAttr(node, "beta", 1.0f);
    auto values = llvm::to_vector(
        llvm::map_range(c->getValues<float>(), [&](float v) { return beta * v; }));
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

/// Add of a constant vector to a bias-less FC with no other use: becomes
/// the FC's bias.
Error Importer::emitAdd(const onnx::NodeProto &node) {
  for (int side = 0; side < 2; ++side) {
    auto fcValue = values.find(node.input(side));
    auto c = constants.find(node.input(1 - side));
    if (fcValue == values.end() || c == constants.end())
      continue;
    auto fc = fcValue->second.getDefiningOp<recq::FcOp>();
    if (!fc || fc.getBias() || !fc->getResult(0).use_empty())
      continue;
    int64_t n = fc.getType().getDimSize(1);
    if (c->second.getNumElements() != n ||
        !c->second.getType().getElementType().isF32())
      return unsupported(node, "the added constant must hold one f32 value "
                               "per output (" + Twine(n) + ")");
    builder.setInsertionPoint(fc);
    auto bias = builder.create<arith::ConstantOp>(
        loc(node), c->second.reshape(
                       RankedTensorType::get({n}, builder.getF32Type())));
    auto withBias = builder.create<recq::FcOp>(
        fc.getLoc(), fc.getType(), fc.getInput(), fc.getWeight(), bias,
        fc.getActivation());
    fc->erase();
    builder.setInsertionPointToEnd(withBias->getBlock());
    values[node.input(side)] = withBias.getResult();
    return define(node, withBias.getResult());
  }
  return unsupported(node, "Add is only taken as the bias of a preceding "
                           "MatMul (a constant vector added to its result)");
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

  for (const auto &node : graph.node()) {
    if (!node.domain().empty() && node.domain() != "ai.onnx")
      return unsupported(node, "operator domain '" + node.domain() + "'");
    const Emitter *emitter = findEmitter(node.op_type());
    if (!emitter)
      return unsupported(node, "recq has no import for this op");
    if (Error e = (this->*emitter->fn)(node))
      return std::move(e);
  }

  SmallVector<Value> results;
  for (const auto &output : graph.output()) {
    auto it = values.find(output.name());
    if (it == values.end())
      return makeError("graph output '" + output.name() +
                       "' is not computed by any imported node");
    results.push_back(it->second);
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

} // namespace

//===----------------------------------------------------------------------===//
// Entry point
//===----------------------------------------------------------------------===//

Expected<OwningOpRef<ModuleOp>>
recq::importOnnxFile(StringRef path, MLIRContext &context) {
  context.loadDialect<recq::RecqDialect, arith::ArithDialect,
                      func::FuncDialect>();
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path);
  if (!buffer)
    return makeError("cannot read file: " + buffer.getError().message());

  onnx::ModelProto model;
  if (!model.ParseFromArray((*buffer)->getBufferStart(),
                            static_cast<int>((*buffer)->getBufferSize())))
    return makeError("not an ONNX model (the protobuf does not parse)");
  try {
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
