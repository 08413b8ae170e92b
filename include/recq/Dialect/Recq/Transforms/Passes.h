//===- Passes.h - recq dialect passes ---------------------------*- C++ -*-===//
//
// Declarations and registration of the passes in Passes.td.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DIALECT_RECQ_TRANSFORMS_PASSES_H
#define RECQ_DIALECT_RECQ_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "recq/Dialect/Recq/IR/RecqDialect.h"

namespace recq {

/// How many indices ahead embedding rows are prefetched unless told
/// (recq-prefetch-rows, recq-lower-to-llvm, recq-compile --prefetch-rows).
inline constexpr int64_t kDefaultPrefetchDistance = 32;

#define GEN_PASS_DECL
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"

/// Appends recq-lower-to-llvm (recq on tensors -> LLVM dialect) to `pm`,
/// which must run on a module. Needs the upstream passes registered.
/// `qfcKernel` overrides the int8 kernel variant (empty: `target`'s).
mlir::LogicalResult buildLowerToLLVMPipeline(mlir::OpPassManager &pm,
                                             llvm::StringRef target,
                                             int64_t prefetchDistance = kDefaultPrefetchDistance,
                                             llvm::StringRef qfcKernel = "");

/// The one recq.embedding_bags that recq-split-bags splits @main at, or
/// null when it leaves the module as it is.
mlir::Operation *splittableBags(mlir::func::FuncOp main);

/// Registers recq's named pipelines (recq-lower-to-llvm) for -pass-pipeline.
void registerRecqPipelines();

} // namespace recq

#endif // RECQ_DIALECT_RECQ_TRANSFORMS_PASSES_H
