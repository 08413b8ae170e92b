//===- InteractionCall.cpp - recq.interaction dot to the runtime's kernel -===//
//
// See Passes.td (convert-recq-interaction-to-call) and the kernels in
// lib/Runtime/recq_interaction.c.
//
//===----------------------------------------------------------------------===//

#include "recq/Conversion/Passes.h"

#include "Buffers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace recq {
#define GEN_PASS_DEF_CONVERTRECQINTERACTIONTOCALLPASS
#include "recq/Conversion/Passes.h.inc"
} // namespace recq

using namespace mlir;
using namespace recq::x86;

namespace {

/// The runtime's kernel for code-generation target `target`, or "" for a
/// target it does not know. Every AVX-512 and AMX CPU has AVX2 and FMA.
StringRef kernelFor(StringRef target) {
  if (target == "generic")
    return "recq_interaction_dot_f32_generic";
  if (llvm::is_contained(
          {"avx2", "avx512", "avx512-vnni", "avx512-bf16", "amx"}, target))
    return "recq_interaction_dot_f32_avx2";
  return "";
}

/// Whether the kernel computes `op`: dot products of f32 features of a
/// static dimension and count, every operand [B, D] or [B, T, D].
bool handled(recq::InteractionOp op) {
  if (op.getMode() != recq::InteractionMode::dot ||
      !op.getType().getElementType().isF32() || op.getNumFeatures() < 0)
    return false;
  auto dense = cast<RankedTensorType>(op.getDense().getType());
  return dense.getRank() == 2 && !dense.isDynamicDim(1) &&
         llvm::all_of(op->getOperands(), [](Value v) {
           return cast<RankedTensorType>(v.getType()).getElementType().isF32();
         });
}

struct Lowering {
  OpBuilder &b;
  Location loc;

  Value index(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
  Value i64(Value v) {
    return b.create<arith::IndexCastOp>(loc, b.getI64Type(), v);
  }
  Value i64(int64_t v) { return b.create<arith::ConstantIntOp>(loc, v, 64); }
  Value pointer(Value address) { return asPointer(b, loc, address); }

  /// Replaces `op` by a call of `kernel` writing a new buffer.
  void rewrite(recq::InteractionOp op, StringRef kernel, Value groups) {
    SmallVector<Value> features{op.getDense()};
    llvm::append_range(features, op.getEmbeddings());
    // One recq_feature_group {data, sample_stride, feature_stride, count}
    // per operand (recq_interaction.h).
    for (auto [g, feature] : llvm::enumerate(features)) {
      auto type = cast<RankedTensorType>(feature.getType());
      auto [address, strides, bytes] =
          elementAddress(b, loc, readOnlyBuffer(b, loc, feature));
      bool grouped = type.getRank() == 3;
      Value fields[4] = {i64(address), i64(strides[0]),
                         grouped ? i64(strides[1]) : i64(0),
                         i64(grouped ? type.getDimSize(1) : 1)};
      for (auto [f, field] : llvm::enumerate(fields))
        b.create<memref::StoreOp>(loc, field, groups,
                                  ValueRange{index(g), index(f)});
    }
    RankedTensorType type = op.getType();
    auto outType = MemRefType::get(type.getShape(), type.getElementType());
    Value batch = b.create<tensor::DimOp>(loc, op.getDense(), 0);
    SmallVector<Value> dynamic;
    if (type.isDynamicDim(0))
      dynamic.push_back(batch);
    Value out = b.create<memref::AllocOp>(loc, outType, dynamic,
                                          b.getI64IntegerAttr(64));
    auto [outAddress, outStrides, outBytes] = elementAddress(b, loc, out);
    auto denseType = cast<RankedTensorType>(op.getDense().getType());
    Value groupsAddress =
        b.create<memref::ExtractAlignedPointerAsIndexOp>(loc, groups);
    b.create<func::CallOp>(loc, kernel, TypeRange{},
                           ValueRange{pointer(groupsAddress),
                                      i64(int64_t(features.size())),
                                      i64(denseType.getDimSize(1)), i64(batch),
                                      i64(op.getSelfInteraction() ? 1 : 0),
                                      pointer(outAddress), i64(outStrides[0])});
    Value result = b.create<bufferization::ToTensorOp>(
        loc, type, out, /*restrict=*/true, /*writable=*/true);
    op.replaceAllUsesWith(result);
    op.erase();
  }
};

struct ConvertRecqInteractionToCallPass
    : recq::impl::ConvertRecqInteractionToCallPassBase<
          ConvertRecqInteractionToCallPass> {
  using ConvertRecqInteractionToCallPassBase::
      ConvertRecqInteractionToCallPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    StringRef kernel = kernelFor(target);
    if (kernel.empty()) {
      module.emitError() << "convert-recq-interaction-to-call: unknown target '"
                         << target << "'";
      return signalPassFailure();
    }
    SmallVector<recq::InteractionOp> ops;
    module.walk([&](recq::InteractionOp op) {
      if (handled(op))
        ops.push_back(op);
    });
    if (ops.empty())
      return;
    OpBuilder b(&getContext());
    // The kernel's declaration (the runtime linked into model.so defines it).
    if (!module.lookupSymbol(kernel)) {
      b.setInsertionPointToStart(module.getBody());
      Type ptr = LLVM::LLVMPointerType::get(&getContext());
      Type i64 = b.getI64Type();
      auto decl = b.create<func::FuncOp>(
          module.getLoc(), kernel,
          b.getFunctionType({ptr, i64, i64, i64, i64, ptr, i64}, {}));
      decl.setPrivate();
    }
    for (recq::InteractionOp op : ops) {
      // The groups' descriptors on the stack, at the function's entry.
      auto fn = op->getParentOfType<FunctionOpInterface>();
      b.setInsertionPointToStart(&fn.getFunctionBody().front());
      int64_t operands = op->getNumOperands();
      Value groups = b.create<memref::AllocaOp>(
          op.getLoc(), MemRefType::get({operands, 4}, b.getI64Type()));
      b.setInsertionPoint(op);
      Lowering{b, op.getLoc()}.rewrite(op, kernel, groups);
    }
  }
};

} // namespace
