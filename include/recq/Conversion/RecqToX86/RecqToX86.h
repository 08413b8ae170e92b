//===- RecqToX86.h - recq FCs to x86 micro-kernels --------------*- C++ -*-===//
//
// The target-specific lowering: fp32 recq.fc (convert-recq-fc-to-kernel)
// and int8 recq.qfc (convert-recq-qfc-to-kernel) to register-blocked
// micro-kernels over weights packed at compile time, and the x86
// instructions they use (recq.pure_intrinsic) to llvm.call_intrinsic
// (recq-lower-intrinsics); the dot interaction to a call of the runtime's
// kernel for the target (convert-recq-interaction-to-call, a pass only).
//
// Targets: generic (SSE2), avx2, avx512, avx512-vnni; the int8 kernels
// also take avx512-vnni-emulated (the VNNI layout in plain vector code).
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_CONVERSION_RECQTOX86_RECQTOX86_H
#define RECQ_CONVERSION_RECQTOX86_RECQTOX86_H

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace recq {

/// fp32 recq.fc with constant weights to the FMA micro-kernel of `target`.
/// Fails (adding nothing) when `target` is not one the kernel knows.
mlir::LogicalResult
populateRecqFcToKernelPatterns(mlir::RewritePatternSet &patterns,
                               llvm::StringRef target);

/// recq.qfc to the int8 micro-kernel of `target`, requantization in its
/// epilogue. Fails (adding nothing) when `target` is not one it knows.
mlir::LogicalResult
populateRecqQfcToKernelPatterns(mlir::RewritePatternSet &patterns,
                                llvm::StringRef target);

/// recq.pure_intrinsic to llvm.call_intrinsic of the same name and types.
void populateRecqIntrinsicsToLLVMPatterns(mlir::RewritePatternSet &patterns);

} // namespace recq

#endif // RECQ_CONVERSION_RECQTOX86_RECQTOX86_H
