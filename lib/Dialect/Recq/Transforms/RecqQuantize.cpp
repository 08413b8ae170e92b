//===- RecqQuantize.cpp - QDQ pairs around the calibrated FCs -------------===//
//
// See Passes.td (recq-quantize).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
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

LogicalResult quantizeFc(recq::FcOp fc) {
  auto annotation = fc->getAttrOfType<TypeAttr>(kInputQuant);
  if (!annotation)
    return fc.emitOpError() << "'" << kInputQuant << "' must be a type";
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
  if (!fc.getType().getElementType().isF32())
    return fc.emitOpError() << "only f32 FCs can be quantized";
  DenseElementsAttr weight;
  if (!matchPattern(fc.getWeight(), m_Constant(&weight)))
    return fc.emitOpError() << "cannot quantize an FC whose weight is not a "
                               "constant (the weights are quantized at "
                               "compile time)";

  OpBuilder b(fc);
  Location loc = fc.getLoc();
  MLIRContext *ctx = fc.getContext();
  SmallVector<double> scales = perChannelScales(weight);
  SmallVector<int64_t> zeroPoints(scales.size(), 0);
  auto i8 = IntegerType::get(ctx, 8);
  auto weightElement = quant::UniformQuantizedPerAxisType::get(
      quant::QuantizationFlags::Signed, i8, b.getF32Type(), scales, zeroPoints,
      /*quantizedDimension=*/0, /*storageTypeMin=*/-128,
      /*storageTypeMax=*/127);
  fc.getInputMutable().assign(roundTrip(b, loc, fc.getInput(), input));
  fc.getWeightMutable().assign(
      roundTrip(b, loc, fc.getWeight(), weightElement));
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
