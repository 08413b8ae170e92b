//===- LowerIntrinsics.cpp - recq.pure_intrinsic to LLVM ------------------===//
//
// See Passes.td (recq-lower-intrinsics).
//
//===----------------------------------------------------------------------===//

#include "recq/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Transforms/DialectConversion.h"

namespace recq {
#define GEN_PASS_DEF_RECQLOWERINTRINSICSPASS
#include "recq/Conversion/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {

/// recq.pure_intrinsic "name"(args) -> llvm.call_intrinsic "name"(args).
struct PureIntrinsicLowering : OpRewritePattern<recq::PureIntrinsicOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(recq::PureIntrinsicOp op,
                                PatternRewriter &rewriter) const override {
    auto call = rewriter.create<LLVM::CallIntrinsicOp>(
        op.getLoc(), TypeRange{op.getType()}, op.getIntrinsicAttr(),
        op.getArgs(), LLVM::FastmathFlagsAttr::get(op.getContext(), {}));
    rewriter.replaceOp(op, call.getResult(0));
    return success();
  }
};

struct RecqLowerIntrinsicsPass
    : recq::impl::RecqLowerIntrinsicsPassBase<RecqLowerIntrinsicsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    recq::populateRecqIntrinsicsToLLVMPatterns(patterns);
    // Only recq.pure_intrinsic changes; every other op stays as it is.
    ConversionTarget target(getContext());
    target.addIllegalOp<recq::PureIntrinsicOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void recq::populateRecqIntrinsicsToLLVMPatterns(RewritePatternSet &patterns) {
  patterns.add<PureIntrinsicLowering>(patterns.getContext());
}
