//===- Lowering.h - shared pieces of convert-recq-to-linalg -----*- C++ -*-===//
//
// Private to lib/Conversion/RecqToLinalg: the helpers its files share and
// the embedding-bag patterns (EmbeddingBag.cpp) the pass adds.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_LIB_CONVERSION_RECQTOLINALG_LOWERING_H
#define RECQ_LIB_CONVERSION_RECQTOLINALG_LOWERING_H

#include "recq/Dialect/Recq/IR/RecqDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"

namespace recq::to_linalg {

/// `tensor.empty` of `type`, its dynamic sizes taken from `like`'s dims.
mlir::Value
emptyLike(mlir::OpBuilder &b, mlir::Location loc, mlir::RankedTensorType type,
          llvm::ArrayRef<std::pair<mlir::Value, int64_t>> dynamicFrom);

/// `empty` filled with zeros (linalg.fill).
mlir::Value zeroFilled(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::Value empty);

/// Fails with an error naming `what` unless `type`'s elements are f32.
mlir::LogicalResult requireF32(mlir::Operation *op, mlir::Type type,
                               llvm::StringRef what);

/// recq.embedding_bag and recq.embedding_bags to loops; each appends its
/// tables' index-status flags to `statuses`. With `sharedPools`, a table
/// function's bag (recq-split-bags) becomes a call of a pooling function
/// every table of its kind shares, made in that module.
void populateEmbeddingBagLoweringPatterns(
    mlir::RewritePatternSet &patterns,
    llvm::SmallVectorImpl<mlir::Value> &statuses, mlir::ModuleOp sharedPools);

} // namespace recq::to_linalg

#endif // RECQ_LIB_CONVERSION_RECQTOLINALG_LOWERING_H
