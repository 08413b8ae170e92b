//===- Buffers.cpp - tensors read in place by kernels and calls -----------===//
//
// See Buffers.h.
//
//===----------------------------------------------------------------------===//

#include "Buffers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

Value recq::x86::readOnlyBuffer(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
  auto layout =
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides);
  auto memrefType =
      MemRefType::get(type.getShape(), type.getElementType(), layout);
  return b.create<bufferization::ToMemrefOp>(loc, memrefType, tensor,
                                             b.getUnitAttr());
}

recq::x86::ElementAddress recq::x86::elementAddress(OpBuilder &b, Location loc,
                                                    Value buffer,
                                                    ValueRange indices) {
  auto type = cast<MemRefType>(buffer.getType());
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  auto meta = b.create<memref::ExtractStridedMetadataOp>(loc, buffer);
  Value offset = meta.getOffset();
  for (auto [index, stride] : llvm::zip(indices, meta.getStrides()))
    offset = b.create<arith::AddIOp>(
        loc, offset, b.create<arith::MulIOp>(loc, index, stride));
  Value base = b.create<memref::ExtractAlignedPointerAsIndexOp>(loc, buffer);
  Value address = b.create<arith::AddIOp>(
      loc, base,
      b.create<arith::MulIOp>(loc, offset,
                              b.create<arith::ConstantIndexOp>(loc, bytes)));
  return {address, SmallVector<Value>(meta.getStrides()), bytes};
}

Value recq::x86::asPointer(OpBuilder &b, Location loc, Value address) {
  return b.create<LLVM::IntToPtrOp>(
      loc, LLVM::LLVMPointerType::get(b.getContext()),
      b.create<arith::IndexCastOp>(loc, b.getI64Type(), address));
}
