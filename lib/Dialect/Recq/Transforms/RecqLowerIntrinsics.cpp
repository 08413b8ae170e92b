//===- RecqLowerIntrinsics.cpp - recq.pure_intrinsic to LLVM --------------===//
//
// See Passes.td (recq-lower-intrinsics).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

namespace recq {
#define GEN_PASS_DEF_RECQLOWERINTRINSICSPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {
struct RecqLowerIntrinsicsPass
    : recq::impl::RecqLowerIntrinsicsPassBase<RecqLowerIntrinsicsPass> {
  void runOnOperation() override {
    getOperation().walk([](recq::PureIntrinsicOp op) {
      OpBuilder b(op);
      auto call = b.create<LLVM::CallIntrinsicOp>(
          op.getLoc(), TypeRange{op.getType()}, op.getIntrinsicAttr(),
          op.getArgs(), LLVM::FastmathFlagsAttr::get(op.getContext(), {}));
      op.replaceAllUsesWith(call.getResult(0));
      op.erase();
    });
  }
};
} // namespace
