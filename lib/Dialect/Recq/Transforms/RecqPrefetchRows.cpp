//===- RecqPrefetchRows.cpp - Prefetch embedding rows ahead ----------------===//
//
// See Passes.td (recq-prefetch-rows).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace recq {
#define GEN_PASS_DEF_RECQPREFETCHROWSPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {

struct RecqPrefetchRowsPass
    : recq::impl::RecqPrefetchRowsPassBase<RecqPrefetchRowsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (distance <= 0)
      return; // prefetching off
    getOperation().walk([&](scf::ForOp loop) {
      if (loop->hasAttr("recq.bag_rows"))
        prefetch(loop);
    });
  }

  /// The row read of the loop body: transfer_read(table[index_cast(load
  /// indices[.., k]), 0]) on buffers.
  void prefetch(scf::ForOp loop) {
    Value k = loop.getInductionVar();
    for (auto read : loop.getBody()->getOps<vector::TransferReadOp>()) {
      auto table = dyn_cast<MemRefType>(read.getSource().getType());
      if (!table || table.getRank() != 2)
        continue;
      auto cast = read.getIndices()[0].getDefiningOp<arith::IndexCastOp>();
      auto load = cast ? cast.getIn().getDefiningOp<memref::LoadOp>()
                       : memref::LoadOp();
      if (!load || load->getBlock() != loop.getBody() ||
          load.getIndices().back() != k)
        continue;

      OpBuilder b(loop.getBody(), loop.getBody()->begin());
      Location l = read.getLoc();
      Value one = b.create<arith::ConstantIndexOp>(l, 1);
      Value last = b.create<arith::SubIOp>(l, loop.getUpperBound(), one);
      Value ahead = b.create<arith::MinSIOp>(
          l,
          b.create<arith::AddIOp>(
              l, k, b.create<arith::ConstantIndexOp>(l, distance)),
          last);
      SmallVector<Value> at(load.getIndices());
      at.back() = ahead;
      Value next = b.create<memref::LoadOp>(l, load.getMemRef(), at);
      Value row = b.create<arith::IndexCastOp>(l, b.getIndexType(), next);
      int64_t rowBytes = table.getDimSize(1) *
                         table.getElementType().getIntOrFloatBitWidth() / 8;
      int64_t perLine = 64 * 8 / table.getElementType().getIntOrFloatBitWidth();
      for (int64_t line = 0; line * 64 < rowBytes; ++line) {
        Value column = b.create<arith::ConstantIndexOp>(l, line * perLine);
        b.create<memref::PrefetchOp>(l, read.getSource(),
                                     ValueRange{row, column},
                                     /*isWrite=*/false, /*localityHint=*/3,
                                     /*isDataCache=*/true);
      }
      return; // one row read per bag loop
    }
  }
};

} // namespace
