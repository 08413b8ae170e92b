//===- RecqQuantize.cpp - QDQ pairs around the calibrated FCs -------------===//
//
// See Passes.td (recq-quantize).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "QuantizeCommon.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h" // a dependent dialect
#include "mlir/IR/Builders.h"

namespace recq {
#define GEN_PASS_DEF_RECQQUANTIZEPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;
using namespace recq::detail;

namespace {

/// `dequantize(quantize(value))` through `type`'s element type.
Value roundTrip(OpBuilder &b, Location loc, Value value, Type element) {
  auto type = cast<RankedTensorType>(value.getType());
  Value q = b.create<recq::QuantizeOp>(loc, type.clone(element), value);
  return b.create<recq::DequantizeOp>(loc, type, q);
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

/// An FC whose input's first `width` columns get their own u8 type
/// (`dense`) and the rest `rest`: two FCs over the two column ranges, each
/// quantized on its own (input type and weight scales); the first's f32
/// result is the second's addend.
LogicalResult splitAndQuantize(recq::FcOp fc, DenseElementsAttr weight,
                               quant::UniformQuantizedType dense, int64_t width,
                               quant::UniformQuantizedType rest) {
  int64_t k = weight.getType().getShape()[1];
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
  DenseElementsAttr weight;
  FailureOr<InputAnnotation> a = readInputAnnotation(fc, weight);
  if (failed(a))
    return failure();
  if (a->denseWidth > 0)
    return splitAndQuantize(fc, weight, a->dense, a->denseWidth, a->input);
  insertQdq(fc, weight, a->input);
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
