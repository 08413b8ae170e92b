//===- MicroKernel.cpp - the loops every FC micro-kernel shares -----------===//
//
// See MicroKernel.h.
//
//===----------------------------------------------------------------------===//

#include "MicroKernel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

SmallVector<Value> recq::x86::rowIndices(OpBuilder &b, Location loc, Value m0,
                                         int64_t rows) {
  SmallVector<Value> rowIdx;
  for (int64_t i = 0; i < rows; ++i)
    rowIdx.push_back(
        i == 0 ? m0
               : b.create<arith::AddIOp>(
                      loc, m0, b.create<arith::ConstantIndexOp>(loc, i))
                     .getResult());
  return rowIdx;
}

SmallVector<Value> recq::x86::accumulateStep(OpBuilder &b, Location loc,
                                             const AccumulatorTile &tile,
                                             ArrayRef<Value> rows, Value k,
                                             ValueRange acc) {
  SmallVector<Value> w;
  for (int64_t v = 0; v < tile.vectors; ++v)
    w.push_back(tile.loadWeights(b, loc, k, v));
  SmallVector<Value> next;
  for (size_t i = 0; i < rows.size(); ++i) {
    Value x = tile.loadInput(b, loc, rows[i], k);
    for (int64_t v = 0; v < tile.vectors; ++v)
      next.push_back(
          tile.multiplyAdd(b, loc, acc[i * tile.vectors + v], x, w[v]));
  }
  return next;
}

SmallVector<Value> recq::x86::accumulateLoop(OpBuilder &b, Location loc,
                                             const AccumulatorTile &tile,
                                             ArrayRef<Value> rows, Value lb,
                                             Value ub, ValueRange inits) {
  Value c1 = b.create<arith::ConstantIndexOp>(loc, 1);
  auto loop = b.create<scf::ForOp>(
      loc, lb, ub, c1, inits,
      [&](OpBuilder &kb, Location kl, Value k, ValueRange acc) {
        kb.create<scf::YieldOp>(kl, accumulateStep(kb, kl, tile, rows, k, acc));
      });
  return SmallVector<Value>(loop.getResults());
}

Value recq::x86::wholeTilesEnd(OpBuilder &b, Location loc, Value begin,
                               Value end, Value mr) {
  Value span = begin ? b.create<arith::SubIOp>(loc, end, begin) : end;
  return b.create<arith::SubIOp>(loc, end,
                                 b.create<arith::RemUIOp>(loc, span, mr));
}

Value recq::x86::forEachRowTile(
    OpBuilder &b, Location loc, Value begin, Value wholeEnd, Value end,
    Value cMr, int64_t mr, Value out,
    function_ref<Value(OpBuilder &, Location, Value, int64_t, Value)> tile) {
  auto whole = b.create<scf::ForOp>(
      loc, begin, wholeEnd, cMr, ValueRange{out},
      [&](OpBuilder &tb, Location tl, Value m0, ValueRange o) {
        tb.create<scf::YieldOp>(tl, tile(tb, tl, m0, mr, o[0]));
      });
  Value c1 = b.create<arith::ConstantIndexOp>(loc, 1);
  auto rest = b.create<scf::ForOp>(
      loc, wholeEnd, end, c1, whole.getResults(),
      [&](OpBuilder &rb, Location rl, Value m0, ValueRange o) {
        rb.create<scf::YieldOp>(rl, tile(rb, rl, m0, 1, o[0]));
      });
  return rest.getResult(0);
}

Value recq::x86::columnMask(OpBuilder &b, Location loc, Value n, Value start,
                            int64_t lanes) {
  Value left = b.create<arith::SubIOp>(
      loc, b.create<arith::MaxUIOp>(loc, n, start), start);
  left = b.create<arith::MinUIOp>(loc, left,
                                  b.create<arith::ConstantIndexOp>(loc, lanes));
  return b.create<vector::CreateMaskOp>(
      loc, VectorType::get({lanes}, b.getI1Type()), ValueRange{left});
}
