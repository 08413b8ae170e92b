//===- MicroKernel.h - the loops every FC micro-kernel shares ---*- C++ -*-===//
//
// Private to lib/Conversion/RecqToX86. The fp32 and int8 FC kernels are the
// same register-blocked loop nest around different arithmetic: tiles of
// rows, each a loop over k that keeps rows x vectors accumulators in
// registers (per step: each weight vector loaded once, each row's input
// broadcast once, one multiply-add per accumulator), leftover rows one at a
// time, and masked stores past the last column. This header builds that
// nest; the kernels supply the loads and the multiply-add.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_LIB_CONVERSION_RECQTOX86_MICROKERNEL_H
#define RECQ_LIB_CONVERSION_RECQTOX86_MICROKERNEL_H

#include "mlir/IR/Builders.h"
#include "llvm/ADT/STLFunctionalExtras.h"

namespace recq::x86 {

/// The arithmetic of one register tile's k loop.
struct AccumulatorTile {
  /// Accumulator vectors per row.
  int64_t vectors;
  /// The weights of accumulator vector `v` at step `k`.
  llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                 mlir::Value k, int64_t v)>
      loadWeights;
  /// The input of row `row` at step `k`, ready to multiply with weights.
  llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                 mlir::Value row, mlir::Value k)>
      loadInput;
  /// `acc + x * w` in the kernel's arithmetic.
  llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                 mlir::Value acc, mlir::Value x, mlir::Value w)>
      multiplyAdd;
};

/// `m0, m0 + 1, ..., m0 + rows - 1`.
llvm::SmallVector<mlir::Value> rowIndices(mlir::OpBuilder &b,
                                          mlir::Location loc, mlir::Value m0,
                                          int64_t rows);

/// One step `k` of `tile` on `rows`: returns the accumulators after it,
/// row-major (`acc[i * vectors + v]`).
llvm::SmallVector<mlir::Value>
accumulateStep(mlir::OpBuilder &b, mlir::Location loc,
               const AccumulatorTile &tile, llvm::ArrayRef<mlir::Value> rows,
               mlir::Value k, mlir::ValueRange acc);

/// `scf.for %k = lb to ub step 1` of accumulateStep from `inits`; returns
/// the loop's results.
llvm::SmallVector<mlir::Value>
accumulateLoop(mlir::OpBuilder &b, mlir::Location loc,
               const AccumulatorTile &tile, llvm::ArrayRef<mlir::Value> rows,
               mlir::Value lb, mlir::Value ub, mlir::ValueRange inits);

/// Where the whole tiles of `mr` rows of [begin, end) end:
/// `end - (end - begin) % mr`, or `end - end % mr` when `begin` is null (0).
mlir::Value wholeTilesEnd(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value begin, mlir::Value end, mlir::Value mr);

/// Builds `tile(b, loc, m0, rows, out) -> out` for each tile of `mr` rows
/// in [begin, wholeEnd) (one `scf.for` stepping by `cMr`, the constant
/// `mr`), then for each leftover row in [wholeEnd, end) with `rows = 1`,
/// threading `out` through both loops; returns the last value.
mlir::Value
forEachRowTile(mlir::OpBuilder &b, mlir::Location loc, mlir::Value begin,
               mlir::Value wholeEnd, mlir::Value end, mlir::Value cMr,
               int64_t mr, mlir::Value out,
               llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                              mlir::Value m0, int64_t rows,
                                              mlir::Value out)>
                   tile);

/// The mask of a vector of `lanes` columns starting at column `start` of
/// `n`: its first `clamp(n - start, 0, lanes)` lanes.
mlir::Value columnMask(mlir::OpBuilder &b, mlir::Location loc, mlir::Value n,
                       mlir::Value start, int64_t lanes);

} // namespace recq::x86

#endif // RECQ_LIB_CONVERSION_RECQTOX86_MICROKERNEL_H
