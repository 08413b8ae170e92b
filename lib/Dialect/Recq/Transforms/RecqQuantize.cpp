//===- RecqQuantize.cpp - QDQ pairs around the calibrated FCs -------------===//
//
// See Passes.td (recq-quantize).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

namespace recq {
#define GEN_PASS_DEF_RECQQUANTIZEPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kInputQuant = "recq.input_quant";

/// s8 symmetric scale of each row of a [N, K] f32 constant: max|w| / 127,
/// or 1 for a row of zeros.
SmallVector<double> perChannelScales(DenseElementsAttr weight) {
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t n = type.getDimSize(0), k = type.getDimSize(1);
  SmallVector<double> scales(n, 0.0);
  auto values = weight.getValues<float>();
  auto it = values.begin();
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col, ++it)
      scales[row] = std::max(scales[row], std::fabs(double(*it)));
  for (double &s : scales)
    s = s > 0 ? s / 127.0 : 1.0;
  return scales;
}

/// `dequantize(quantize(value))` through `type`'s element type.
Value roundTrip(OpBuilder &b, Location loc, Value value, Type element) {
  auto type = cast<RankedTensorType>(value.getType());
  Value q = b.create<recq::QuantizeOp>(loc, type.clone(element), value);
  return b.create<recq::DequantizeOp>(loc, type, q);
}

constexpr llvm::StringLiteral kDenseQuant = "recq.input_quant_dense";
constexpr llvm::StringLiteral kDenseWidth = "recq.input_dense_width";

/// The u8 per-tensor type of annotation `name` on `fc`, or an error.
FailureOr<quant::UniformQuantizedType> inputType(recq::FcOp fc,
                                                 llvm::StringRef name) {
  auto annotation = fc->getAttrOfType<TypeAttr>(name);
  if (!annotation)
    return fc.emitOpError() << "'" << name << "' must be a type";
  Type element = annotation.getValue();
  if (isa<quant::UniformQuantizedPerAxisType>(element))
    return fc.emitOpError() << "per-channel activation quantization is not "
                               "supported (activations are u8 per tensor), got "
                            << element;
  auto input = dyn_cast<quant::UniformQuantizedType>(element);
  if (!input || input.isSigned() || input.getStorageTypeIntegralWidth() != 8 ||
      !input.getExpressedType().isF32())
    return fc.emitOpError() << "activations are quantized to u8 per tensor "
                               "(!quant.uniform<u8:f32, scale:zero_point>), got "
                            << element;
  return input;
}

/// The QDQ pairs of one FC: its input through `input`, its constant weight
/// through s8 per-output-channel scales.
void insertQdq(recq::FcOp fc, DenseElementsAttr weight,
               quant::UniformQuantizedType input) {
  OpBuilder b(fc);
  Location loc = fc.getLoc();
  SmallVector<double> scales = perChannelScales(weight);
  SmallVector<int64_t> zeroPoints(scales.size(), 0);
  auto weightElement = quant::UniformQuantizedPerAxisType::get(
      quant::QuantizationFlags::Signed, b.getIntegerType(8), b.getF32Type(),
      scales, zeroPoints, /*quantizedDimension=*/0, /*storageTypeMin=*/-128,
      /*storageTypeMax=*/127);
  fc.getInputMutable().assign(roundTrip(b, loc, fc.getInput(), input));
  fc.getWeightMutable().assign(
      roundTrip(b, loc, fc.getWeight(), weightElement));
}

/// Columns [begin, begin + width) of the [B, K] tensor `v`.
Value columns(OpBuilder &b, Location loc, Value v, int64_t begin,
              int64_t width) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
  sizes[1] = b.getIndexAttr(width);
  SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(begin)};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  return b.create<tensor::ExtractSliceOp>(loc, v, offsets, sizes, strides);
}

/// Columns [begin, begin + width) of the constant [N, K] f32 `weight`.
DenseElementsAttr weightColumns(DenseElementsAttr weight, int64_t begin,
                                int64_t width) {
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t n = type.getDimSize(0), k = type.getDimSize(1);
  auto values = llvm::to_vector(weight.getValues<float>());
  SmallVector<float> out;
  out.reserve(n * width);
  for (int64_t row = 0; row < n; ++row)
    out.append(values.begin() + row * k + begin,
               values.begin() + row * k + begin + width);
  return DenseElementsAttr::get(type.clone({n, width}), ArrayRef<float>(out));
}

/// An FC whose input's first `width` columns get their own u8 type
/// (`dense`) and the rest `rest`: two FCs over the two column ranges, each
/// quantized on its own (input type and weight scales); the first's f32
/// result is the second's addend.
LogicalResult splitAndQuantize(recq::FcOp fc, DenseElementsAttr weight,
                               quant::UniformQuantizedType dense, int64_t width,
                               quant::UniformQuantizedType rest) {
  int64_t k = weight.getType().getShape()[1];
  if (width < 1 || width >= k)
    return fc.emitOpError()
           << "'" << kDenseWidth << "' must leave columns on both sides: it is "
           << width << " of K = " << k;
  OpBuilder b(fc);
  Location loc = fc.getLoc();
  Value x = fc.getInput();
  // Each half's weight columns, copied once: its constant and its QDQ
  // pair's scales.
  auto part = [&](int64_t begin, int64_t cols, Value bias, Value addend,
                  recq::Activation act, quant::UniformQuantizedType input) {
    // Created one statement each: the order of the ops must not depend on
    // the compiler's order of evaluating arguments.
    DenseElementsAttr w = weightColumns(weight, begin, cols);
    Value slice = columns(b, loc, x, begin, cols);
    Value constant = b.create<arith::ConstantOp>(loc, w);
    auto half = b.create<recq::FcOp>(loc, fc.getType(), slice, constant, bias,
                                     addend, act);
    insertQdq(half, w, input);
    return half;
  };
  // The dense columns' f32 result is the addend of the dots' FC, which
  // keeps the bias and the activation.
  recq::FcOp head =
      part(0, width, Value(), Value(), recq::Activation::none, dense);
  recq::FcOp tail = part(width, k - width, fc.getBias(), head.getResult(),
                         fc.getActivation(), rest);
  fc.replaceAllUsesWith(tail.getResult());
  fc.erase();
  return success();
}

LogicalResult quantizeFc(recq::FcOp fc) {
  FailureOr<quant::UniformQuantizedType> input = inputType(fc, kInputQuant);
  if (failed(input))
    return failure();
  if (!fc.getType().getElementType().isF32())
    return fc.emitOpError() << "only f32 FCs can be quantized";
  DenseElementsAttr weight;
  if (!matchPattern(fc.getWeight(), m_Constant(&weight)))
    return fc.emitOpError() << "cannot quantize an FC whose weight is not a "
                               "constant (the weights are quantized at "
                               "compile time)";
  bool hasDense = fc->hasAttr(kDenseQuant), hasWidth = fc->hasAttr(kDenseWidth);
  if (hasDense != hasWidth)
    return fc.emitOpError()
           << "'" << kDenseQuant << "' and '" << kDenseWidth << "' go together";
  if (hasDense) {
    FailureOr<quant::UniformQuantizedType> dense = inputType(fc, kDenseQuant);
    auto width = fc->getAttrOfType<IntegerAttr>(kDenseWidth);
    if (failed(dense))
      return failure();
    if (!width)
      return fc.emitOpError() << "'" << kDenseWidth << "' must be an integer";
    return splitAndQuantize(fc, weight, *dense, width.getInt(), *input);
  }
  insertQdq(fc, weight, *input);
  fc->removeAttr(kInputQuant);
  return success();
}

struct RecqQuantizePass
    : recq::impl::RecqQuantizePassBase<RecqQuantizePass> {
  void runOnOperation() override {
    SmallVector<recq::FcOp> fcs;
    getOperation().walk([&](recq::FcOp fc) {
      if (fc->hasAttr(kInputQuant))
        fcs.push_back(fc);
    });
    for (recq::FcOp fc : fcs)
      if (failed(quantizeFc(fc)))
        return signalPassFailure();
  }
};

} // namespace
