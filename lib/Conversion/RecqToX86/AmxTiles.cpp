//===- AmxTiles.cpp - the FC kernels' AMX tiles ---------------------------===//
//
// See Amx.h.
//
//===----------------------------------------------------------------------===//

#include "Amx.h"
#include "Buffers.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace recq::x86;

namespace {
// Tiles: four int32 sums, two input rows blocks, two weight column blocks.
enum : int { kSum00 = 0, kSum01, kSum10, kSum11, kIn0, kIn1, kW0, kW1 };

/// The tile as the intrinsics' immediate.
Value tileNumber(OpBuilder &b, Location loc, int tile) {
  return b.create<arith::ConstantIntOp>(loc, tile, 8);
}

/// How many elements of `buffer`'s type fill 64 bytes (a tile row).
int64_t perTileRow(Value buffer) {
  return kAmxK /
         (cast<ShapedType>(buffer.getType()).getElementTypeBitWidth() / 8);
}

/// Where `buffer[indices]` is, as an !llvm.ptr, and the byte stride of
/// `buffer`'s dimension `strideDim` as an i64.
std::pair<Value, Value> addressAndStride(OpBuilder &b, Location loc,
                                         Value buffer, ValueRange indices,
                                         int64_t strideDim) {
  ElementAddress at = elementAddress(b, loc, buffer, indices);
  Value stride = b.create<arith::IndexCastOp>(
      loc, b.getI64Type(),
      b.create<arith::MulIOp>(
          loc, at.strides[strideDim],
          b.create<arith::ConstantIndexOp>(loc, at.elementBytes)));
  return {asPointer(b, loc, at.address), stride};
}

/// A new buffer at the entry of the function around `at`.
Value entryAlloca(OpBuilder &b, Location loc, Operation *at, MemRefType type) {
  OpBuilder::InsertionGuard guard(b);
  auto func = at->getParentOfType<FunctionOpInterface>();
  b.setInsertionPointToStart(&func.getFunctionBody().front());
  return b.create<memref::AllocaOp>(loc, type, b.getI64IntegerAttr(64));
}
} // namespace

void AmxTiles::emit(OpBuilder &b, Location loc, StringRef name,
                    ValueRange args) const {
  auto op = b.create<recq::IntrinsicOp>(
      loc, b.getStringAttr(("llvm.x86." + name).str()), args, StringAttr());
  if (kind == Amx::Emulated)
    op.setEmulatorAttr(b.getStringAttr(("recq_amx_emu_" + name).str()));
}

void AmxTiles::configure(OpBuilder &b, Location loc, Value config) const {
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
  emit(b, loc, "ldtilecfg",
       addressAndStride(b, loc, config, ValueRange{zero}, 0).first);
}

void AmxTiles::release(OpBuilder &b, Location loc) const {
  emit(b, loc, "tilerelease", {});
}

void AmxTiles::block(OpBuilder &b, Location loc, Value input, Value packed,
                     Value sums, Value m0, Value nb, int64_t kSteps) const {
  for (int tile : {kSum00, kSum01, kSum10, kSum11})
    emit(b, loc, "tilezero", tileNumber(b, loc, tile));
  Value c0 = b.create<arith::ConstantIndexOp>(loc, 0);
  Value c1 = b.create<arith::ConstantIndexOp>(loc, 1);
  Value c16 = b.create<arith::ConstantIndexOp>(loc, 16);
  // Where a step's input columns start, and the second weight tile's
  // columns, in elements.
  Value kStep = b.create<arith::ConstantIndexOp>(loc, perTileRow(input));
  Value wHalf = b.create<arith::ConstantIndexOp>(loc, perTileRow(packed));
  StringRef dotName = dot == TileDot::Int8 ? "tdpbusd" : "tdpbf16ps";
  b.create<scf::ForOp>(
      loc, c0, b.create<arith::ConstantIndexOp>(loc, kSteps), c1, ValueRange{},
      [&](OpBuilder &kb, Location kl, Value step, ValueRange) {
        // (Taken inside the loop, so bufferization sees the buffers in
        // use until it ends.)
        Value in = readOnlyBuffer(kb, kl, input);
        Value w = readOnlyBuffer(kb, kl, packed);
        Value k0 = kb.create<arith::MulIOp>(kl, step, kStep);
        Value g0 = kb.create<arith::MulIOp>(
            kl, step, kb.create<arith::ConstantIndexOp>(kl, kAmxGroups));
        Value m16 = kb.create<arith::AddIOp>(kl, m0, c16);
        // A tile's rows are the input's rows (dimension 0), or a packed
        // block's k groups (dimension 1).
        auto load = [&](int tile, Value buffer, ValueRange at, int64_t rows) {
          auto [ptr, stride] = addressAndStride(kb, kl, buffer, at, rows);
          emit(kb, kl, "tileloadd64",
               ValueRange{tileNumber(kb, kl, tile), ptr, stride});
        };
        load(kIn0, in, ValueRange{m0, k0}, 0);
        load(kIn1, in, ValueRange{m16, k0}, 0);
        load(kW0, w, ValueRange{nb, g0, c0}, 1);
        load(kW1, w, ValueRange{nb, g0, wHalf}, 1);
        for (auto [sum, a, wt] : {std::tuple{kSum00, kIn0, kW0},
                                  {kSum01, kIn0, kW1},
                                  {kSum10, kIn1, kW0},
                                  {kSum11, kIn1, kW1}})
          emit(kb, kl, dotName,
               ValueRange{tileNumber(kb, kl, sum), tileNumber(kb, kl, a),
                          tileNumber(kb, kl, wt)});
        kb.create<scf::YieldOp>(kl);
      });
  for (auto [tile, row, col] : {std::tuple{kSum00, 0, 0},
                                {kSum01, 0, 16},
                                {kSum10, 16, 0},
                                {kSum11, 16, 16}}) {
    auto [ptr, stride] = addressAndStride(
        b, loc, sums,
        ValueRange{b.create<arith::ConstantIndexOp>(loc, row),
                   b.create<arith::ConstantIndexOp>(loc, col)},
        0);
    emit(b, loc, "tilestored64",
         ValueRange{tileNumber(b, loc, tile), ptr, stride});
  }
}

Value recq::x86::tileConfig(OpBuilder &b, Location loc, Operation *at) {
  auto type = MemRefType::get({64}, b.getI8Type());
  Value config = entryAlloca(b, loc, at, type);
  // Palette 1; tmm0..7 each 16 rows (bytes 48..55) of 64 bytes (colsb,
  // u16 at bytes 16..31); everything else 0.
  SmallVector<int8_t> bytes(64, 0);
  bytes[0] = 1;
  for (int t = 0; t < 8; ++t) {
    bytes[16 + 2 * t] = 64;
    bytes[48 + t] = 16;
  }
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfterValue(config);
  auto vectorType = VectorType::get({64}, b.getI8Type());
  Value value = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(vectorType, llvm::ArrayRef(bytes)));
  b.create<vector::StoreOp>(loc, value, config,
                            ValueRange{b.create<arith::ConstantIndexOp>(loc, 0)});
  return config;
}

Value recq::x86::blockSums(OpBuilder &b, Location loc, Operation *at,
                           TileDot dot) {
  Type element = dot == TileDot::Int8 ? Type(b.getI32Type()) : b.getF32Type();
  return entryAlloca(b, loc, at,
                     MemRefType::get({kAmxRows, kAmxCols}, element));
}
