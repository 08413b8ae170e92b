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

/// The argument recq-simulate-int8 adds (its `onnx.name`, the model
/// input's name): [batch, FCs] f32, column i of row 0 nonzero runs FC i in
/// its int8 form.
inline constexpr llvm::StringLiteral kInt8SwitchesName = "recq.int8_switches";

#define GEN_PASS_DECL
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"

/// The one recq.embedding_bags that recq-split-bags splits @main at, or
/// null when it leaves the module as it is.
mlir::Operation *splittableBags(mlir::func::FuncOp main);

} // namespace recq

#endif // RECQ_DIALECT_RECQ_TRANSFORMS_PASSES_H
