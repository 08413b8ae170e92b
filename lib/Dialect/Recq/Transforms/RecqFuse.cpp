//===- RecqFuse.cpp - dequantize -> fc [-> quantize] into recq.qfc --------===//
//
// See Passes.td (recq-fuse).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace recq {
#define GEN_PASS_DEF_RECQFUSEPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {

bool isPerTensor8Bit(Type tensorType) {
  auto q = dyn_cast<quant::UniformQuantizedType>(
      cast<RankedTensorType>(tensorType).getElementType());
  return q && q.getStorageTypeIntegralWidth() == 8;
}

bool isU8PerTensor(Type tensorType) {
  auto q = dyn_cast<quant::UniformQuantizedType>(
      cast<RankedTensorType>(tensorType).getElementType());
  return q && !q.isSigned() && q.getStorageTypeIntegralWidth() == 8;
}

/// s8 with zero point 0, per tensor or per output channel (axis 0).
bool isS8Symmetric(Type tensorType) {
  Type element = cast<RankedTensorType>(tensorType).getElementType();
  if (auto q = dyn_cast<quant::UniformQuantizedType>(element))
    return q.isSigned() && q.getStorageTypeIntegralWidth() == 8 &&
           q.getZeroPoint() == 0;
  if (auto q = dyn_cast<quant::UniformQuantizedPerAxisType>(element))
    return q.isSigned() && q.getStorageTypeIntegralWidth() == 8 &&
           q.getQuantizedDimension() == 0 &&
           llvm::all_of(q.getZeroPoints(), [](int64_t z) { return z == 0; });
  return false;
}

struct FuseQuantizedFc : OpRewritePattern<recq::FcOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(recq::FcOp fc,
                                PatternRewriter &rewriter) const override {
    auto input = fc.getInput().getDefiningOp<recq::DequantizeOp>();
    auto weight = fc.getWeight().getDefiningOp<recq::DequantizeOp>();
    if (!input || !weight)
      return rewriter.notifyMatchFailure(fc, "operands are not dequantized");
    if (!isU8PerTensor(input.getInput().getType()) ||
        !isS8Symmetric(weight.getInput().getType()))
      return rewriter.notifyMatchFailure(fc, "not u8 activations x s8 "
                                             "symmetric weights");

    // Absorb the requantization of the result when nothing else reads the
    // f32 values.
    recq::QuantizeOp requantize;
    if (fc->hasOneUse() && fc.getActivation() != recq::Activation::sigmoid)
      if (auto q = dyn_cast<recq::QuantizeOp>(*fc->user_begin());
          q && isPerTensor8Bit(q.getType()))
        requantize = q;

    Type resultType =
        requantize ? requantize.getType() : Type(fc.getType());
    auto qfc = rewriter.create<recq::QfcOp>(
        fc.getLoc(), resultType, input.getInput(), weight.getInput(),
        fc.getBias(), fc.getActivation());
    if (requantize) {
      rewriter.replaceOp(requantize, qfc.getResult());
      rewriter.eraseOp(fc);
    } else {
      rewriter.replaceOp(fc, qfc.getResult());
    }
    return success();
  }
};

struct RecqFusePass : recq::impl::RecqFusePassBase<RecqFusePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseQuantizedFc>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
