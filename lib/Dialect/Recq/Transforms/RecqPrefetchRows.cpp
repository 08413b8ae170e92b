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

  /// The index `distance` positions after the one `load` reads at `k`, in
  /// the whole index stream (the next bags' indices included, so short bags
  /// are prefetched too), clamped to the last index.
  Value loadAhead(OpBuilder &b, Location l, memref::LoadOp load, Value k) {
    Value indices = load.getMemRef();
    auto type = cast<MemRefType>(indices.getType());
    Value one = b.create<arith::ConstantIndexOp>(l, 1);
    Value dist = b.create<arith::ConstantIndexOp>(l, distance);
    Value c0 = b.create<arith::ConstantIndexOp>(l, 0);
    if (type.getRank() == 2 && type.getLayout().isIdentity()) {
      // [B, L] fixed-length bags: position bag * L + k of the flat stream.
      Value length = b.create<memref::DimOp>(l, indices, 1);
      Value count = b.create<arith::MulIOp>(
          l, b.create<memref::DimOp>(l, indices, c0), length);
      Value at = b.create<arith::AddIOp>(
          l, b.create<arith::MulIOp>(l, load.getIndices()[0], length), k);
      // One op per statement: arguments' evaluation order is the
      // compiler's choice, and the IR's order would follow it (clang and
      // gcc built different IR here).
      Value last = b.create<arith::SubIOp>(l, count, one);
      Value plus = b.create<arith::AddIOp>(l, at, dist);
      Value ahead = b.create<arith::MinSIOp>(l, plus, last);
      Value flat = b.create<memref::CollapseShapeOp>(
          l, indices, ArrayRef<ReassociationIndices>{{0, 1}});
      return b.create<memref::LoadOp>(l, flat, ValueRange{ahead});
    }
    Value last = type.getRank() == 1
                     ? b.create<arith::SubIOp>(
                           l, b.create<memref::DimOp>(l, indices, c0), one)
                           .getResult()
                     : b.create<arith::SubIOp>(
                           l, cast<scf::ForOp>(load->getParentOp())
                                  .getUpperBound(),
                           one)
                           .getResult();
    Value ahead = b.create<arith::MinSIOp>(
        l, b.create<arith::AddIOp>(l, k, dist), last);
    SmallVector<Value> at(load.getIndices());
    at.back() = ahead;
    return b.create<memref::LoadOp>(l, indices, at);
  }

  /// The row read of the loop body: transfer_read(table[index_cast(load
  /// indices[.., k]), 0]) on buffers, the row index possibly clamped with
  /// arith.minui (which the prefetched row then gets too).
  void prefetch(scf::ForOp loop) {
    Value k = loop.getInductionVar();
    for (auto read : loop.getBody()->getOps<vector::TransferReadOp>()) {
      auto table = dyn_cast<MemRefType>(read.getSource().getType());
      if (!table || table.getRank() != 2)
        continue;
      // The row index, possibly clamped to the table (checked indices).
      Value rowIndex = read.getIndices()[0];
      auto clamp = rowIndex.getDefiningOp<arith::MinUIOp>();
      if (clamp)
        rowIndex = clamp.getLhs();
      auto cast = rowIndex.getDefiningOp<arith::IndexCastOp>();
      auto load = cast ? cast.getIn().getDefiningOp<memref::LoadOp>()
                       : memref::LoadOp();
      if (!load || load->getBlock() != loop.getBody() ||
          load.getIndices().back() != k)
        continue;

      OpBuilder b(loop.getBody(), loop.getBody()->begin());
      Location l = read.getLoc();
      Value next = loadAhead(b, l, load, k);
      Value row = b.create<arith::IndexCastOp>(l, b.getIndexType(), next);
      if (clamp)
        row = b.create<arith::MinUIOp>(l, row, clamp.getRhs());
      int64_t rowBytes = table.getDimSize(1) *
                         table.getElementType().getIntOrFloatBitWidth() / 8;
      int64_t perLine = 64 * 8 / table.getElementType().getIntOrFloatBitWidth();
      SmallVector<int64_t> columns;
      for (int64_t line = 0; line * 64 < rowBytes; ++line)
        columns.push_back(line * perLine);
      // Rows whose size neither divides nor is a multiple of 64 bytes (a
      // row-wise int8 row of 72, an int4 row of 36) start anywhere in a
      // line and may end one line further: prefetch their last element's
      // line too.
      if (rowBytes % 64 != 0 && 64 % rowBytes != 0)
        columns.push_back(table.getDimSize(1) - 1);
      for (int64_t column : columns)
        b.create<memref::PrefetchOp>(
            l, read.getSource(),
            ValueRange{row, b.create<arith::ConstantIndexOp>(l, column)},
            /*isWrite=*/false, /*localityHint=*/3, /*isDataCache=*/true);
      return; // one row read per bag loop
    }
  }
};

} // namespace
