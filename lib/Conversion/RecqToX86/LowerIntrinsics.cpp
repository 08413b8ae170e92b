//===- LowerIntrinsics.cpp - recq intrinsics to LLVM ----------------------===//
//
// See Passes.td (recq-lower-intrinsics).
//
//===----------------------------------------------------------------------===//

#include "recq/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/SymbolTable.h"
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

/// The type an emulator takes for an argument of `type`: i8 as i32.
Type emulatorArgType(Type type) {
  if (type.isInteger(8))
    return IntegerType::get(type.getContext(), 32);
  return type;
}

/// recq.intrinsic "name"(args) -> llvm.call_intrinsic "name"(args), or
/// llvm.call @emulator(args, i8 as i32).
struct IntrinsicLowering : OpRewritePattern<recq::IntrinsicOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(recq::IntrinsicOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    if (!op.getEmulator()) {
      rewriter.create<LLVM::CallIntrinsicOp>(
          loc, TypeRange{}, op.getIntrinsicAttr(), op.getArgs(),
          LLVM::FastmathFlagsAttr::get(op.getContext(), {}));
      rewriter.eraseOp(op);
      return success();
    }
    SmallVector<Value> args;
    for (Value arg : op.getArgs()) {
      Type type = emulatorArgType(arg.getType());
      args.push_back(type == arg.getType()
                         ? arg
                         : rewriter.create<LLVM::ZExtOp>(loc, type, arg));
    }
    rewriter.replaceOpWithNewOp<LLVM::CallOp>(op, TypeRange{},
                                              *op.getEmulator(), args);
    return success();
  }
};

struct RecqLowerIntrinsicsPass
    : recq::impl::RecqLowerIntrinsicsPassBase<RecqLowerIntrinsicsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Declare each emulator the module calls (the runtime defines them).
    OpBuilder builder(module.getBodyRegion());
    WalkResult declared = module.walk([&](recq::IntrinsicOp op) {
      if (!op.getEmulator())
        return WalkResult::advance();
      StringRef name = *op.getEmulator();
      SmallVector<Type> args;
      for (Type type : op.getArgs().getTypes())
        args.push_back(emulatorArgType(type));
      auto type = LLVM::LLVMFunctionType::get(
          LLVM::LLVMVoidType::get(&getContext()), args);
      Operation *existing = SymbolTable::lookupSymbolIn(module, name);
      if (!existing) {
        builder.setInsertionPointToStart(module.getBody());
        builder.create<LLVM::LLVMFuncOp>(module.getLoc(), name, type);
        return WalkResult::advance();
      }
      auto func = dyn_cast<LLVM::LLVMFuncOp>(existing);
      if (!func || func.getFunctionType() != type) {
        op.emitOpError() << "emulator @" << name
                         << " is already a symbol of another type";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (declared.wasInterrupted())
      return signalPassFailure();

    RewritePatternSet patterns(&getContext());
    recq::populateRecqIntrinsicsToLLVMPatterns(patterns);
    // Only the recq intrinsics change; every other op stays as it is.
    ConversionTarget target(getContext());
    target.addIllegalOp<recq::PureIntrinsicOp, recq::IntrinsicOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void recq::populateRecqIntrinsicsToLLVMPatterns(RewritePatternSet &patterns) {
  patterns.add<PureIntrinsicLowering, IntrinsicLowering>(
      patterns.getContext());
}
