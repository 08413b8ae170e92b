//===- RecqOps.cpp - recq op verifiers, folders and patterns --------------===//
//
// Verifiers check every relation between static sizes and say, in the
// model's terms (rows, columns, features, tables), what does not match;
// dynamic sizes are left to the run time. Folders and canonicalization
// patterns normalise what the importer produces.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Dialect/Recq/IR/RowwiseTable.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Threading.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"

#include <cstring>
#include <vector>

using namespace mlir;
using namespace recq;

#define GET_OP_CLASSES
#include "recq/Dialect/Recq/IR/RecqOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shape helpers
//===----------------------------------------------------------------------===//

/// True when both sizes are static and differ.
static bool mismatch(int64_t a, int64_t b) {
  return !ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b;
}

/// Prints a shape as `4x?x8` for diagnostics.
static std::string shapeString(ShapedType type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      type.getShape(), os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      "x");
  return s;
}

//===----------------------------------------------------------------------===//
// Embedding bags
//===----------------------------------------------------------------------===//

namespace {
/// What a verifier needs to know about a table, whatever its storage.
struct TableInfo {
  int64_t rows;
  int64_t cols;
  /// The float element type of a tensor table; null for `!recq.rowwise`.
  Type elementType;
};
} // namespace

static FailureOr<TableInfo> getTableInfo(Operation *op, Type table,
                                         const Twine &name) {
  if (auto rowwise = dyn_cast<RowwiseTableType>(table))
    return TableInfo{rowwise.getRows(), rowwise.getCols(), Type()};
  auto tensor = cast<RankedTensorType>(table);
  if (tensor.getRank() != 2)
    return op->emitOpError() << name << " must be 2-D [rows, dim], got rank "
                             << tensor.getRank();
  return TableInfo{tensor.getDimSize(0), tensor.getDimSize(1),
                   tensor.getElementType()};
}

/// Checks one bag lookup: `name` is how diagnostics call the table ("table"
/// or "table 3"), `resultRows`/`resultCols` the result's batch and dim.
static LogicalResult verifyBag(Operation *op, const Twine &name,
                               Type tableType, Value indices, Value offsets,
                               Value weights, PoolingMode mode,
                               bool includeLastOffset, int64_t resultRows,
                               int64_t resultCols, Type resultElementType) {
  FailureOr<TableInfo> table = getTableInfo(op, tableType, name);
  if (failed(table))
    return failure();
  auto indicesType = cast<RankedTensorType>(indices.getType());
  if (mismatch(table->cols, resultCols))
    return op->emitOpError() << name << " has " << table->cols
                             << " columns but the result has " << resultCols;

  if (!offsets) {
    // Fixed-length bags: indices [batch, L].
    if (indicesType.getRank() != 2)
      return op->emitOpError()
             << "indices of " << name
             << " must be 2-D [batch, bag length] when no offsets are given, "
                "got rank "
             << indicesType.getRank();
    if (includeLastOffset)
      return op->emitOpError() << "include_last_offset needs offsets";
    if (mismatch(indicesType.getDimSize(0), resultRows))
      return op->emitOpError()
             << "indices of " << name << " describe "
             << indicesType.getDimSize(0) << " bags but the result has "
             << resultRows << " rows";
  } else {
    auto offsetsType = cast<RankedTensorType>(offsets.getType());
    if (indicesType.getRank() != 1)
      return op->emitOpError() << "indices of " << name
                               << " must be 1-D, got rank "
                               << indicesType.getRank();
    if (offsetsType.getRank() != 1)
      return op->emitOpError() << "offsets of " << name
                               << " must be 1-D, got rank "
                               << offsetsType.getRank();
    int64_t numOffsets = offsetsType.getDimSize(0);
    if (!ShapedType::isDynamic(numOffsets)) {
      if (includeLastOffset && numOffsets == 0)
        return op->emitOpError()
               << "include_last_offset needs at least one offset for " << name;
      int64_t numBags = includeLastOffset ? numOffsets - 1 : numOffsets;
      if (mismatch(numBags, resultRows))
        return op->emitOpError()
               << "offsets of " << name << " describe " << numBags
               << " bags but the result has " << resultRows << " rows";
    }
  }

  if (weights) {
    if (mode != PoolingMode::sum)
      return op->emitOpError()
             << "per_sample_weights are only supported with mode sum, got "
             << stringifyPoolingMode(mode);
    auto weightsType = cast<RankedTensorType>(weights.getType());
    if (weightsType.getRank() != indicesType.getRank())
      return op->emitOpError() << "per_sample_weights of " << name
                               << " must have the rank of its indices ("
                               << indicesType.getRank() << "), got rank "
                               << weightsType.getRank();
    for (int64_t d = 0; d < weightsType.getRank(); ++d)
      if (mismatch(weightsType.getDimSize(d), indicesType.getDimSize(d)))
        return op->emitOpError()
               << "per_sample_weights of " << name << " has "
               << weightsType.getDimSize(d) << " entries in dimension " << d
               << " but its indices have " << indicesType.getDimSize(d);
  }

  if (!resultElementType.isF32() && resultElementType != table->elementType) {
    if (table->elementType)
      return op->emitOpError()
             << "result element type must be f32 or the element type of "
             << name << " (" << table->elementType << "), got "
             << resultElementType;
    return op->emitOpError()
           << "result element type of a row-wise table lookup must be f32, got "
           << resultElementType;
  }
  return success();
}

LogicalResult EmbeddingBagOp::verify() {
  RankedTensorType resultType = getResult().getType();
  if (resultType.getRank() != 2)
    return emitOpError() << "result must be 2-D [batch, dim], got rank "
                         << resultType.getRank();
  return verifyBag(*this, "table", getTable().getType(), getIndices(),
                   getOffsets(), getPerSampleWeights(), getMode(),
                   getIncludeLastOffset(), resultType.getDimSize(0),
                   resultType.getDimSize(1), resultType.getElementType());
}

LogicalResult EmbeddingBagsOp::verify() {
  size_t numTables = getTables().size();
  if (numTables == 0)
    return emitOpError() << "needs at least one table";
  if (getIndices().size() != numTables)
    return emitOpError() << "has " << numTables << " tables but "
                         << getIndices().size() << " index tensors";
  size_t numOffsets = getOffsets().size();
  if (numOffsets != 0 && numOffsets != numTables)
    return emitOpError() << "offsets must be given for all " << numTables
                         << " tables or none, got " << numOffsets;
  size_t numWeights = getPerSampleWeights().size();
  if (numWeights != 0 && numWeights != numTables)
    return emitOpError() << "per_sample_weights must be given for all "
                         << numTables << " tables or none, got " << numWeights;

  RankedTensorType resultType = getResult().getType();
  if (resultType.getRank() != 3)
    return emitOpError() << "result must be 3-D [batch, tables, dim], got rank "
                         << resultType.getRank();
  if (mismatch(resultType.getDimSize(1), numTables))
    return emitOpError() << "result has room for " << resultType.getDimSize(1)
                         << " tables but the op pools " << numTables;

  for (size_t t = 0; t < numTables; ++t) {
    Value weights = numWeights ? getPerSampleWeights()[t] : Value();
    if (failed(verifyBag(*this, "table " + Twine(t), getTables()[t].getType(),
                         getIndices()[t],
                         numOffsets ? getOffsets()[t] : Value(), weights, getMode(),
                         getIncludeLastOffset(), resultType.getDimSize(0),
                         resultType.getDimSize(2),
                         resultType.getElementType())))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Fully connected layers
//===----------------------------------------------------------------------===//

/// Shape relations shared by `recq.fc` and `recq.qfc`.
static LogicalResult verifyFcShapes(Operation *op, ShapedType input,
                                    ShapedType weight, ShapedType bias,
                                    ShapedType result) {
  if (input.getRank() != 2)
    return op->emitOpError()
           << "input must be 2-D [batch, in_features], got rank "
           << input.getRank();
  if (weight.getRank() != 2)
    return op->emitOpError()
           << "weight must be 2-D [out_features, in_features], got rank "
           << weight.getRank();
  if (result.getRank() != 2)
    return op->emitOpError()
           << "result must be 2-D [batch, out_features], got rank "
           << result.getRank();
  if (mismatch(input.getDimSize(1), weight.getDimSize(1)))
    return op->emitOpError() << "input has " << input.getDimSize(1)
                             << " features but the weight takes "
                             << weight.getDimSize(1);
  if (mismatch(weight.getDimSize(0), result.getDimSize(1)))
    return op->emitOpError() << "weight has " << weight.getDimSize(0)
                             << " output features but the result has "
                             << result.getDimSize(1);
  if (mismatch(input.getDimSize(0), result.getDimSize(0)))
    return op->emitOpError() << "input has " << input.getDimSize(0)
                             << " rows but the result has "
                             << result.getDimSize(0);
  if (bias) {
    if (bias.getRank() != 1)
      return op->emitOpError()
             << "bias must be 1-D [out_features], got rank " << bias.getRank();
    if (mismatch(bias.getDimSize(0), weight.getDimSize(0)))
      return op->emitOpError()
             << "bias has " << bias.getDimSize(0)
             << " entries but the weight has " << weight.getDimSize(0)
             << " output features";
  }
  return success();
}

static ShapedType typeOrNull(Value v) {
  return v ? cast<ShapedType>(v.getType()) : ShapedType();
}

/// The addend of an FC, when there is one: the result's shape.
static LogicalResult verifyAddend(Operation *op, Value addend,
                                  RankedTensorType result) {
  if (!addend)
    return success();
  auto type = cast<RankedTensorType>(addend.getType());
  if (type.getRank() != 2 || result.getRank() != 2 ||
      mismatch(type.getDimSize(0), result.getDimSize(0)) ||
      mismatch(type.getDimSize(1), result.getDimSize(1)))
    return op->emitOpError()
           << "addend " << type << " must have the result's shape " << result;
  return success();
}

LogicalResult FcOp::verify() {
  if (getAddend() && !getResult().getType().getElementType().isF32())
    return emitOpError() << "an addend needs an f32 result";
  if (failed(verifyAddend(*this, getAddend(), getResult().getType())))
    return failure();
  return verifyFcShapes(*this, getInput().getType(), getWeight().getType(),
                        typeOrNull(getBias()), getResult().getType());
}

LogicalResult QfcOp::verify() {
  using namespace mlir::quant;
  RankedTensorType inputType = getInput().getType();
  RankedTensorType weightType = getWeight().getType();
  auto input = dyn_cast<UniformQuantizedType>(inputType.getElementType());
  if (!input || input.isSigned() || input.getStorageTypeIntegralWidth() != 8)
    return emitOpError() << "input must be per-tensor u8 "
                            "(!quant.uniform<u8:f32, scale:zero_point>), got "
                         << inputType.getElementType();

  Type weightElement = weightType.getElementType();
  auto isS8 = [](QuantizedType t) {
    return t.isSigned() && t.getStorageTypeIntegralWidth() == 8;
  };
  if (auto perAxis = dyn_cast<UniformQuantizedPerAxisType>(weightElement);
      perAxis && isS8(perAxis)) {
    if (perAxis.getQuantizedDimension() != 0)
      return emitOpError() << "per-channel weight scales must be along axis 0 "
                              "(out_features), got axis "
                           << perAxis.getQuantizedDimension();
    int64_t numScales = perAxis.getScales().size();
    if (weightType.getRank() >= 1 && mismatch(weightType.getDimSize(0), numScales))
      return emitOpError() << "weight has " << weightType.getDimSize(0)
                           << " output features but " << numScales
                           << " per-channel scales";
    for (auto [channel, zeroPoint] : llvm::enumerate(perAxis.getZeroPoints()))
      if (zeroPoint != 0)
        return emitOpError() << "weight must be symmetric (zero point 0); "
                                "channel "
                             << channel << " has zero point " << zeroPoint;
  } else if (auto perTensor = dyn_cast<UniformQuantizedType>(weightElement);
             perTensor && isS8(perTensor)) {
    if (perTensor.getZeroPoint() != 0)
      return emitOpError() << "weight must be symmetric (zero point 0), got "
                           << perTensor.getZeroPoint();
  } else {
    return emitOpError() << "weight must be s8 (!quant.uniform<i8:f32...>, per "
                            "tensor or per channel), got "
                         << weightElement;
  }

  Type resultElement = getResult().getType().getElementType();
  auto result = dyn_cast<UniformQuantizedType>(resultElement);
  if (!resultElement.isF32() &&
      !(result && result.getStorageTypeIntegralWidth() == 8))
    return emitOpError()
           << "result must be f32 or a per-tensor 8-bit quantized type, got "
           << resultElement;
  if (failed(verifyAddend(*this, getAddend(), getResult().getType())))
    return failure();

  return verifyFcShapes(*this, inputType, weightType, typeOrNull(getBias()),
                        getResult().getType());
}

//===----------------------------------------------------------------------===//
// InteractionOp
//===----------------------------------------------------------------------===//

int64_t InteractionOp::getNumResultColumns(InteractionMode mode,
                                           bool selfInteraction,
                                           int64_t numFeatures, int64_t dim) {
  if (mode == InteractionMode::cat)
    return numFeatures * dim;
  int64_t pairs = selfInteraction ? numFeatures * (numFeatures + 1) / 2
                                  : numFeatures * (numFeatures - 1) / 2;
  return dim + pairs;
}

int64_t InteractionOp::getNumFeatures() {
  int64_t count = 1;
  for (Value e : getEmbeddings()) {
    auto type = cast<RankedTensorType>(e.getType());
    if (type.getRank() == 2) {
      ++count;
      continue;
    }
    if (type.getRank() != 3 || type.isDynamicDim(1))
      return -1;
    count += type.getDimSize(1);
  }
  return count;
}

LogicalResult InteractionOp::verify() {
  RankedTensorType denseType = getDense().getType();
  if (denseType.getRank() != 2)
    return emitOpError() << "dense features must be 2-D [batch, dim], got rank "
                         << denseType.getRank();
  int64_t batch = denseType.getDimSize(0);
  int64_t dim = denseType.getDimSize(1);
  for (auto [i, e] : llvm::enumerate(getEmbeddings())) {
    auto type = cast<RankedTensorType>(e.getType());
    if (type.getRank() != 2 && type.getRank() != 3)
      return emitOpError() << "embedding operand " << i
                           << " must be [batch, dim] or [batch, tables, dim], "
                              "got rank "
                           << type.getRank();
    if (mismatch(type.getDimSize(type.getRank() - 1), dim))
      return emitOpError() << "embedding operand " << i << " has dimension "
                           << type.getDimSize(type.getRank() - 1)
                           << " but the dense features have " << dim;
    if (mismatch(type.getDimSize(0), batch))
      return emitOpError() << "embedding operand " << i << " has batch "
                           << type.getDimSize(0)
                           << " but the dense features have batch " << batch;
  }
  if (getSelfInteraction() && getMode() != InteractionMode::dot)
    return emitOpError() << "self_interaction applies to dot interaction only";

  RankedTensorType resultType = getResult().getType();
  if (resultType.getRank() != 2)
    return emitOpError() << "result must be 2-D [batch, columns], got rank "
                         << resultType.getRank();
  if (mismatch(resultType.getDimSize(0), batch))
    return emitOpError() << "result has batch " << resultType.getDimSize(0)
                         << " but the dense features have batch " << batch;
  int64_t numFeatures = getNumFeatures();
  if (numFeatures < 0 || ShapedType::isDynamic(dim))
    return success();
  int64_t expected = getNumResultColumns(getMode(), getSelfInteraction(),
                                         numFeatures, dim);
  if (mismatch(resultType.getDimSize(1), expected))
    return emitOpError() << stringifyInteractionMode(getMode())
                         << " interaction of " << numFeatures
                         << " features of dimension " << dim << " gives "
                         << expected << " columns, but the result has "
                         << resultType.getDimSize(1);
  return success();
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

/// Checks a float tensor against its quantized counterpart; `floatName` and
/// `quantName` say which is the op's input and which its result.
static LogicalResult verifyQuantPair(Operation *op, RankedTensorType floatType,
                                     RankedTensorType quantType,
                                     StringRef floatName, StringRef quantName) {
  if (failed(verifyCompatibleShape(floatType, quantType)))
    return op->emitOpError() << floatName << " shape " << shapeString(floatType)
                             << " does not match " << quantName << " shape "
                             << shapeString(quantType);
  auto quant = cast<quant::QuantizedType>(quantType.getElementType());
  if (quant.getExpressedType() != floatType.getElementType())
    return op->emitOpError() << quantName << " expresses "
                             << quant.getExpressedType() << " values but the "
                             << floatName << " holds "
                             << floatType.getElementType();
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(quant)) {
    int64_t axis = perAxis.getQuantizedDimension();
    if (axis >= quantType.getRank())
      return op->emitOpError() << "per-axis quantization along axis " << axis
                               << " of a rank-" << quantType.getRank()
                               << " tensor";
    int64_t numScales = perAxis.getScales().size();
    if (mismatch(quantType.getDimSize(axis), numScales))
      return op->emitOpError() << "axis " << axis << " has "
                               << quantType.getDimSize(axis)
                               << " elements but the type has " << numScales
                               << " scales";
  }
  return success();
}

LogicalResult QuantizeOp::verify() {
  return verifyQuantPair(*this, getInput().getType(), getResult().getType(),
                         "input", "result");
}

LogicalResult DequantizeOp::verify() {
  return verifyQuantPair(*this, getResult().getType(), getInput().getType(),
                         "result", "input");
}

OpFoldResult QuantizeOp::fold(FoldAdaptor) {
  // quantize(dequantize(q)) with the same type gives back q exactly.
  if (auto dequantize = getInput().getDefiningOp<DequantizeOp>())
    if (dequantize.getInput().getType() == getResult().getType())
      return dequantize.getInput();
  return {};
}

LogicalResult RowwiseQuantizeOp::verify() {
  RankedTensorType tableType = getTable().getType();
  RowwiseTableType resultType = getResult().getType();
  if (tableType.getRank() != 2)
    return emitOpError() << "table must be 2-D [rows, dim], got rank "
                         << tableType.getRank();
  if (mismatch(tableType.getDimSize(0), resultType.getRows()))
    return emitOpError() << "table has " << tableType.getDimSize(0)
                         << " rows but the row-wise type has "
                         << resultType.getRows();
  if (mismatch(tableType.getDimSize(1), resultType.getCols()))
    return emitOpError() << "table has " << tableType.getDimSize(1)
                         << " columns but the row-wise type has "
                         << resultType.getCols();
  return success();
}

/// The float values of a constant f16 (or splat) table, row-major.
static std::vector<float> tableValues(DenseElementsAttr values) {
  std::vector<float> out;
  out.reserve(values.getNumElements());
  for (APFloat v : values.getValues<APFloat>()) {
    bool lost;
    v.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
    out.push_back(v.convertToFloat());
  }
  return out;
}

LogicalResult RowwiseQuantizeOp::canonicalize(RowwiseQuantizeOp op,
                                              PatternRewriter &rewriter) {
  DenseElementsAttr values;
  if (!matchPattern(op.getTable(), m_Constant(&values)))
    return failure();
  RowwiseTableType type = op.getResult().getType();
  int64_t rows = type.getRows(), cols = type.getCols();
  int64_t rowBytes = type.getRowBytes();
  bool half = type.getScaleType().isF16();
  // An f32 table is read in place; others are converted first.
  std::vector<float> converted;
  const float *table;
  if (values.getElementType().isF32() && !values.isSplat()) {
    table = reinterpret_cast<const float *>(values.getRawData().data());
  } else {
    converted = tableValues(values);
    table = converted.data();
  }
  std::vector<char> bytes(rows * rowBytes);
  // Blocks of rows on the context's threads (a DLRM's 26 tables, 10^7
  // rows in all, were a tenth of its int8 compile).
  constexpr int64_t kBlockRows = 4096;
  mlir::parallelFor(
      op.getContext(), 0, (rows + kBlockRows - 1) / kBlockRows,
      [&](size_t block) {
        int64_t end = std::min<int64_t>(rows, int64_t(block + 1) * kBlockRows);
        for (int64_t r = int64_t(block) * kBlockRows; r < end; ++r)
          quantizeRowwise(
              table + r * cols, cols, type.getBitsPerCode(), half,
              reinterpret_cast<uint8_t *>(bytes.data() + r * rowBytes));
      });
  auto bytesType =
      RankedTensorType::get({rows, rowBytes}, rewriter.getIntegerType(8));
  Value constant = rewriter.create<arith::ConstantOp>(
      op.getLoc(), DenseElementsAttr::getFromRawBuffer(bytesType, bytes));
  rewriter.replaceOpWithNewOp<RowwiseCastOp>(op, type, constant);
  return success();
}

LogicalResult RowwiseCastOp::verify() {
  RankedTensorType bytesType = getBytes().getType();
  RowwiseTableType type = getResult().getType();
  if (bytesType.getRank() != 2 ||
      mismatch(bytesType.getDimSize(0), type.getRows()) ||
      mismatch(bytesType.getDimSize(1), type.getRowBytes()))
    return emitOpError() << "bytes must be [" << type.getRows() << ", "
                         << type.getRowBytes() << "] (rows, bytes per row) for "
                         << type << ", got " << bytesType;
  return success();
}

//===----------------------------------------------------------------------===//
// Target instructions
//===----------------------------------------------------------------------===//

LogicalResult IntrinsicOp::verify() {
  if (!getIntrinsic().starts_with("llvm."))
    return emitOpError() << "names an LLVM intrinsic (llvm.*), got '"
                         << getIntrinsic() << "'";
  if (getEmulator() && getEmulator()->empty())
    return emitOpError() << "has an empty emulator name";
  return success();
}

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

OpFoldResult ReluOp::fold(FoldAdaptor) {
  // relu is idempotent: relu(x) == x when x is already rectified.
  Operation *def = getInput().getDefiningOp();
  if (!def)
    return {};
  if (isa<ReluOp>(def))
    return getInput();
  if (auto fc = dyn_cast<FcOp>(def); fc && fc.getActivation() == Activation::relu)
    return getInput();
  return {};
}

namespace {
/// Folds `act(recq.fc ...)` into the FC's own activation when the FC has no
/// other use, e.g. `recq.relu(recq.fc %x, %w)` -> `recq.fc %x, %w act(relu)`.
template <typename ActivationOp, Activation kind>
struct FoldActivationIntoFc : OpRewritePattern<ActivationOp> {
  using OpRewritePattern<ActivationOp>::OpRewritePattern;

  LogicalResult matchAndRewrite(ActivationOp op,
                                PatternRewriter &rewriter) const override {
    auto fc = op.getInput().template getDefiningOp<FcOp>();
    if (!fc)
      return rewriter.notifyMatchFailure(op, "input is not a recq.fc");
    if (fc.getActivation() != Activation::none)
      return rewriter.notifyMatchFailure(op, "the fc already has an activation");
    if (!fc->hasOneUse())
      return rewriter.notifyMatchFailure(op,
                                         "the fc's plain output has other uses");
    rewriter.modifyOpInPlace(fc, [&] { fc.setActivation(kind); });
    rewriter.replaceOp(op, fc.getResult());
    return success();
  }
};
} // namespace

void ReluOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                         MLIRContext *context) {
  patterns.add<FoldActivationIntoFc<ReluOp, Activation::relu>>(context);
}

void SigmoidOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                            MLIRContext *context) {
  patterns.add<FoldActivationIntoFc<SigmoidOp, Activation::sigmoid>>(context);
}
