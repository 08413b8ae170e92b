//===- Buffers.h - tensors read in place by kernels and calls ---*- C++ -*-===//
//
// Private to lib/Conversion/RecqToX86. The AMX tile loads and the calls of
// the runtime's interaction kernel read their operands where they are: a
// tensor as a buffer of whatever strided layout bufferization gives it,
// and an element's address and the buffer's strides from its metadata.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_LIB_CONVERSION_RECQTOX86_BUFFERS_H
#define RECQ_LIB_CONVERSION_RECQTOX86_BUFFERS_H

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallVector.h"

namespace recq::x86 {

/// `tensor` as a buffer of any strided layout, read only
/// (bufferization.to_memref read_only: nothing writes it).
mlir::Value readOnlyBuffer(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value tensor);

/// Where an element of a buffer is, and the buffer's layout.
struct ElementAddress {
  /// The element's address in bytes, as an index.
  mlir::Value address;
  /// The buffer's strides, in elements.
  llvm::SmallVector<mlir::Value> strides;
  /// Bytes per element.
  int64_t elementBytes;
};

/// Where `buffer[indices]` is (no indices: its first element).
ElementAddress elementAddress(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value buffer,
                              mlir::ValueRange indices = {});

/// `address` (an index) as an !llvm.ptr.
mlir::Value asPointer(mlir::OpBuilder &b, mlir::Location loc,
                      mlir::Value address);

} // namespace recq::x86

#endif // RECQ_LIB_CONVERSION_RECQTOX86_BUFFERS_H
