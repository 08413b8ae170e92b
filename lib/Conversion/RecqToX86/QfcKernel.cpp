//===- QfcKernel.cpp - recq.qfc to an int8 micro-kernel -------------------===//
//
// See Passes.td (convert-recq-qfc-to-kernel) for the folded epilogue, the
// packed layouts and the tiles.
//
//===----------------------------------------------------------------------===//

#include "recq/Conversion/Passes.h"

#include "Amx.h"
#include "MicroKernel.h"
#include "Qfc.h"
#include "recq/Conversion/Utils/Activation.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>
#include <limits>

namespace recq {
#define GEN_PASS_DEF_CONVERTRECQQFCTOKERNELPASS
#include "recq/Conversion/Passes.h.inc"
} // namespace recq

using namespace mlir;
using namespace recq::x86;

namespace {
template <typename T>
Value constantVector(OpBuilder &b, Location loc, ArrayRef<T> values, Type element) {
  auto type = RankedTensorType::get({int64_t(values.size())}, element);
  return b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(type, values));
}

/// [M, K] i8 -> [M, width] i8, zero past K.
Value padColumns(OpBuilder &b, Location loc, Value input, int64_t k,
                 int64_t width) {
  Type i8 = b.getI8Type();
  Value m = b.create<tensor::DimOp>(loc, input, 0);
  Value init = b.create<tensor::EmptyOp>(
      loc, ArrayRef<int64_t>{ShapedType::kDynamic, width}, i8, ValueRange{m});
  init = b.create<linalg::FillOp>(
              loc, ValueRange{b.create<arith::ConstantIntOp>(loc, 0, 8)},
              ValueRange{init})
             .getResult(0);
  SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes{m, b.getIndexAttr(k)};
  SmallVector<OpFoldResult> strides{b.getIndexAttr(1), b.getIndexAttr(1)};
  return b.create<tensor::InsertSliceOp>(loc, input, init, offsets, sizes,
                                         strides);
}

/// [M, K] u8 (as i8) -> [M, 2 * ceil(K / 2)] i16, zero-extended, with a
/// zero column when K is odd: the u16 pairs vpmaddwd multiplies (one pair
/// is one 32-bit broadcast). Element-wise, so LLVM vectorizes it.
Value widenToU16(OpBuilder &b, Location loc, Value input, int64_t k) {
  MLIRContext *ctx = b.getContext();
  Type i16 = b.getI16Type();
  int64_t width = 2 * ((k + 1) / 2);
  if (width > k)
    input = padColumns(b, loc, input, k, width);
  Value m = b.create<tensor::DimOp>(loc, input, 0);
  auto type = RankedTensorType::get({ShapedType::kDynamic, width}, i16);
  Value init = b.create<tensor::EmptyOp>(loc, type.getShape(), i16, ValueRange{m});
  AffineMap identity = AffineMap::getMultiDimIdentityMap(2, ctx);
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{type}, ValueRange{input}, ValueRange{init},
      ArrayRef<AffineMap>{identity, identity},
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        nb.create<linalg::YieldOp>(
            l, ValueRange{nb.create<arith::ExtUIOp>(l, i16, args[0]).getResult()});
      });
  return generic.getResult(0);
}

struct QfcToKernel : OpRewritePattern<recq::QfcOp> {
  QfcToKernel(MLIRContext *ctx, QTile tile, std::optional<QTile> narrowTile)
      : OpRewritePattern<recq::QfcOp>(ctx), baseTile(tile),
        narrowTile(narrowTile) {}

  LogicalResult matchAndRewrite(recq::QfcOp op,
                                PatternRewriter &rewriter) const override {
    auto inputQuant = cast<quant::UniformQuantizedType>(
        op.getInput().getType().getElementType());
    const QTile &tile = narrowTile && inputQuant.getStorageTypeMax() <= 127
                            ? *narrowTile
                            : baseTile;
    int64_t nr = tile.nr(), lanes = tile.lanes;
    auto weightType = op.getWeight().getType();
    int64_t n = weightType.getDimSize(0);
    int64_t blocks = (n + nr - 1) / nr;
    FailureOr<Folded> folded = fold(op, blocks * nr);
    if (failed(folded))
      return rewriter.notifyMatchFailure(
          op, "the weight is not recq.quantize of a constant, or the bias is "
              "not a constant");
    auto output = dyn_cast<quant::UniformQuantizedType>(
        op.getType().getElementType());
    if (output && op.getActivation() == recq::Activation::sigmoid)
      return rewriter.notifyMatchFailure(op, "sigmoid needs an f32 result");
    int64_t k = folded->k;

    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type i8 = rewriter.getI8Type(), i32 = rewriter.getI32Type();
    Type f32 = rewriter.getF32Type();
    auto accType = VectorType::get({lanes}, i32);
    auto floatType = VectorType::get({lanes}, f32);

    // The u8 input as its i8 storage.
    auto inputType = op.getInput().getType();
    Value input = rewriter.create<quant::StorageCastOp>(
        loc, RankedTensorType::get(inputType.getShape(), i8), op.getInput());
    Value wide;
    bool rowDot = n <= kRowDotMaxN;
    int64_t chunks = rowDotChunks(tile, k);
    if (tile.dot == Dot::Widen16 && !rowDot)
      wide = widenToU16(rewriter, loc, input, k);
    // The 4-byte paths read the input 4 k at a time: when K is not a
    // multiple of 4, a zero-padded copy (O(M K), once) beats a masked read
    // of the last group in every tile.
    // AMX reads it in tiles of 64 bytes of K.
    bool amx = tile.amx != Amx::None && !rowDot;
    Value bytesIn = input;
    int64_t kIn = k;
    int64_t kAlign = amx ? kAmxK : tile.kg == 4 ? 4 : 1;
    if (k % kAlign != 0 && !rowDot) {
      kIn = (k + kAlign - 1) / kAlign * kAlign;
      bytesIn = padColumns(rewriter, loc, input, k, kIn);
    }

    Value packed = rewriter.create<arith::ConstantOp>(
        loc, rowDot ? packRowDot(*folded, tile, ctx) : pack(*folded, tile, ctx));
    Value cVec = constantVector<int32_t>(rewriter, loc, folded->c, i32);
    Value multVec = constantVector<float>(rewriter, loc, folded->mult, f32);
    Value addVec = constantVector<float>(rewriter, loc, folded->add, f32);

    Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
    Value c1 = rewriter.create<arith::ConstantIndexOp>(loc, 1);
    Value cN = rewriter.create<arith::ConstantIndexOp>(loc, n);
    Value cMr = rewriter.create<arith::ConstantIndexOp>(loc, tile.mr);
    Value cNr = rewriter.create<arith::ConstantIndexOp>(loc, nr);
    Value cBlocks = rewriter.create<arith::ConstantIndexOp>(loc, blocks);
    int64_t fullGroups = (k + tile.kg - 1) / tile.kg;
    Value cGroups = rewriter.create<arith::ConstantIndexOp>(loc, fullGroups);
    Value m = rewriter.create<tensor::DimOp>(loc, input, 0);

    Type outElement = output ? i8 : f32;
    auto outType = RankedTensorType::get(op.getType().getShape(), outElement);
    SmallVector<Value> dyn;
    if (outType.isDynamicDim(0))
      dyn.push_back(m);
    Value init = rewriter.create<tensor::EmptyOp>(loc, outType.getShape(),
                                                  outElement, dyn);
    Value zeroAcc = rewriter.create<arith::ConstantOp>(loc, rewriter.getZeroAttr(accType));
    Value i8Pad = rewriter.create<arith::ConstantIntOp>(loc, 0, 8);
    Value i32Pad = rewriter.create<arith::ConstantIntOp>(loc, 0, 32);
    Value f32Pad = rewriter.create<arith::ConstantOp>(loc, rewriter.getF32FloatAttr(0));
    AffineMap rowMap = AffineMap::getMinorIdentityMap(2, 1, ctx);
    bool needMask = n % nr != 0;
    recq::Activation act = op.getActivation();
    // The addend, added after the bias: in f32, or in the result's units
    // (times 1 / its scale, one fma) before rounding.
    Value addend = op.getAddend();
    float addendScale = output ? float(1.0 / output.getScale()) : 1.0f;
    // `y` (a vector or a scalar) plus the addend's `a`.
    auto addAddend = [&](OpBuilder &b, Location l, Value y, Value a) -> Value {
      if (!output)
        return b.create<arith::AddFOp>(l, y, a);
      auto vector = dyn_cast<VectorType>(y.getType());
      TypedAttr scale =
          vector ? TypedAttr(DenseElementsAttr::get(vector, addendScale))
                 : TypedAttr(b.getF32FloatAttr(addendScale));
      return b.create<math::FmaOp>(l, a, b.create<arith::ConstantOp>(l, scale),
                                   y);
    };
    float lo = 0, hi = 0;
    if (output) {
      lo = act == recq::Activation::relu
               ? float(std::max<int64_t>(output.getZeroPoint(),
                                         output.getStorageTypeMin()))
               : float(output.getStorageTypeMin());
      hi = float(output.getStorageTypeMax());
    }

    // The input of row `row` at k group `g`, broadcast to one accumulator
    // vector's lanes (the Plain path: one element as i32).
    auto broadcastInput = [&](OpBuilder &b, Location l, Value row,
                              Value g) -> Value {
      switch (tile.dot) {
      case Dot::Plain: {
        Value x = b.create<tensor::ExtractOp>(l, input, ValueRange{row, g});
        return b.create<vector::BroadcastOp>(l, accType,
                                             b.create<arith::ExtUIOp>(l, i32, x));
      }
      case Dot::Widen16: {
        Value k0 = b.create<arith::MulIOp>(
            l, g, b.create<arith::ConstantIndexOp>(l, 2));
        Value pair = b.create<vector::TransferReadOp>(
            l, VectorType::get({2}, b.getI16Type()), wide, ValueRange{row, k0},
            b.create<arith::ConstantIntOp>(l, 0, 16), ArrayRef<bool>{true});
        Value word = b.create<vector::BitCastOp>(l, VectorType::get({1}, i32), pair);
        Value x = b.create<vector::ExtractOp>(l, word, ArrayRef<int64_t>{0});
        return b.create<vector::BroadcastOp>(l, accType, x);
      }
      case Dot::Vnni:
      case Dot::VnniEmulated:
      case Dot::Ubsw: {
        Value k0 = b.create<arith::MulIOp>(
            l, g, b.create<arith::ConstantIndexOp>(l, 4));
        Value bytes = b.create<vector::TransferReadOp>(
            l, VectorType::get({4}, i8), bytesIn, ValueRange{row, k0}, i8Pad,
            ArrayRef<bool>{true});
        Value word = b.create<vector::BitCastOp>(l, VectorType::get({1}, i32), bytes);
        Value x = b.create<vector::ExtractOp>(l, word, ArrayRef<int64_t>{0});
        return b.create<vector::BroadcastOp>(l, accType, x);
      }
      }
      llvm_unreachable("dot kind");
    };

    // The weights of column vector `v` of block `nb` at k group `g`.
    auto loadWeights = [&](OpBuilder &b, Location l, Value nb, Value g,
                           int64_t v) -> Value {
      // Where the vector starts in the block's row: Widen16 stores each
      // column's pair as two bytes.
      int64_t perColumn = tile.dot == Dot::Widen16 ? 2 : 1;
      Value col = b.create<arith::ConstantIndexOp>(l, perColumn * v * lanes);
      if (tile.dot == Dot::Plain) {
        Value w = b.create<vector::TransferReadOp>(
            l, VectorType::get({lanes}, i8), packed, ValueRange{nb, g, col},
            i8Pad, ArrayRef<bool>{true});
        return b.create<arith::ExtSIOp>(l, accType, w);
      }
      if (tile.dot == Dot::Widen16) {
        // The column pairs' bytes, sign-extended to the i16 pairs.
        Value w = b.create<vector::TransferReadOp>(
            l, VectorType::get({2 * lanes}, i8), packed, ValueRange{nb, g, col},
            i8Pad, ArrayRef<bool>{true});
        Value pairs = b.create<arith::ExtSIOp>(
            l, VectorType::get({2 * lanes}, b.getI16Type()), w);
        return b.create<vector::BitCastOp>(l, accType, pairs);
      }
      return b.create<vector::TransferReadOp>(l, accType, packed,
                                              ValueRange{nb, g, col}, i32Pad,
                                              ArrayRef<bool>{true});
    };

    // acc + dot(x, w) per lane.
    auto multiplyAdd = [&](OpBuilder &b, Location l, Value acc, Value x,
                           Value w) -> Value {
      switch (tile.dot) {
      case Dot::Plain:
        return b.create<arith::AddIOp>(l, acc, b.create<arith::MulIOp>(l, x, w));
      case Dot::Widen16: {
        auto pairs = VectorType::get({2 * lanes}, b.getI16Type());
        Value xs = b.create<vector::BitCastOp>(l, pairs, x);
        Value ws = b.create<vector::BitCastOp>(l, pairs, w);
        Value sum = b.create<recq::PureIntrinsicOp>(
            l, accType, b.getStringAttr(tile.intrinsic), ValueRange{xs, ws});
        return b.create<arith::AddIOp>(l, acc, sum);
      }
      case Dot::Ubsw: {
        auto bytes = VectorType::get({4 * lanes}, i8);
        auto pairs = VectorType::get({2 * lanes}, b.getI16Type());
        Value xs = b.create<vector::BitCastOp>(l, bytes, x);
        Value ws = b.create<vector::BitCastOp>(l, bytes, w);
        Value sums = b.create<recq::PureIntrinsicOp>(
            l, pairs, b.getStringAttr(tile.intrinsic), ValueRange{xs, ws});
        Value ones = b.create<arith::ConstantOp>(
            l, DenseElementsAttr::get(pairs, b.getI16IntegerAttr(1).getValue()));
        Value quads = b.create<recq::PureIntrinsicOp>(
            l, accType, b.getStringAttr(tile.intrinsic2), ValueRange{sums, ones});
        return b.create<arith::AddIOp>(l, acc, quads);
      }
      case Dot::Vnni:
        return b.create<recq::PureIntrinsicOp>(
            l, accType, b.getStringAttr(tile.intrinsic), ValueRange{acc, x, w});
      case Dot::VnniEmulated: {
        // Per lane: sum over its 4 bytes of u8(x) * s8(w), no saturation.
        auto bytes = VectorType::get({4 * lanes}, i8);
        auto wide = VectorType::get({4 * lanes}, i32);
        Value xs = b.create<arith::ExtUIOp>(
            l, wide, b.create<vector::BitCastOp>(l, bytes, x));
        Value ws = b.create<arith::ExtSIOp>(
            l, wide, b.create<vector::BitCastOp>(l, bytes, w));
        Value products = b.create<arith::MulIOp>(l, xs, ws);
        Value sum = acc;
        for (int64_t j = 0; j < 4; ++j) {
          SmallVector<int64_t> pick;
          for (int64_t lane = 0; lane < lanes; ++lane)
            pick.push_back(4 * lane + j);
          sum = b.create<arith::AddIOp>(
              l, sum,
              b.create<vector::ShuffleOp>(l, products, products, pick));
        }
        return sum;
      }
      }
      llvm_unreachable("dot kind");
    };

    // The epilogue's per-column values of the block from n0: the
    // zero-point correction, the multiplier and the bias of each column
    // vector, and where it starts.
    struct Columns {
      SmallVector<Value> col, c, mult, add;
    };
    auto columnsOf = [&](OpBuilder &b, Location l, Value n0) {
      Columns cols;
      for (int64_t v = 0; v < tile.nvec; ++v) {
        Value col = b.create<arith::AddIOp>(
            l, n0, b.create<arith::ConstantIndexOp>(l, v * lanes));
        cols.col.push_back(col);
        cols.c.push_back(b.create<vector::TransferReadOp>(
            l, accType, cVec, ValueRange{col}, i32Pad, ArrayRef<bool>{true}));
        cols.mult.push_back(b.create<vector::TransferReadOp>(
            l, floatType, multVec, ValueRange{col}, f32Pad,
            ArrayRef<bool>{true}));
        cols.add.push_back(b.create<vector::TransferReadOp>(
            l, floatType, addVec, ValueRange{col}, f32Pad,
            ArrayRef<bool>{true}));
      }
      return cols;
    };
    // The epilogue of row `row`: its sums `acc` (tile.nvec vectors) into
    // `out`.
    auto finishRow = [&](OpBuilder &b, Location l, const Columns &cols,
                         ArrayRef<Value> masks, Value row, ArrayRef<Value> acc,
                         Value out) -> Value {
      for (int64_t v = 0; v < tile.nvec; ++v) {
        Value t = b.create<arith::AddIOp>(l, acc[v], cols.c[v]);
        // math.fma is fused on every target (vector.fma may be split
        // into a multiply and an add where there is no FMA unit), so
        // the result is the same everywhere.
        Value y =
            b.create<math::FmaOp>(l, b.create<arith::SIToFPOp>(l, floatType, t),
                                  cols.mult[v], cols.add[v]);
        if (addend) {
          Value a = b.create<vector::TransferReadOp>(
              l, floatType, addend, ValueRange{row, cols.col[v]},
              AffineMapAttr::get(rowMap), f32Pad, masks[v],
              b.getBoolArrayAttr({true}));
          y = addAddend(b, l, y, a);
        }
        if (output) {
          y = b.create<math::RoundEvenOp>(l, y);
          y = b.create<arith::MaximumFOp>(
              l, y,
              b.create<arith::ConstantOp>(
                  l, DenseElementsAttr::get(floatType, lo)));
          y = b.create<arith::MinimumFOp>(
              l, y,
              b.create<arith::ConstantOp>(
                  l, DenseElementsAttr::get(floatType, hi)));
          y = b.create<arith::TruncIOp>(
              l, VectorType::get({lanes}, i8),
              b.create<arith::FPToSIOp>(l, accType, y));
        } else {
          y = recq::buildActivation(b, l, y, act);
        }
        out = b.create<vector::TransferWriteOp>(
                   l, y, out, ValueRange{row, cols.col[v]},
                   AffineMapAttr::get(rowMap), masks[v],
                   b.getBoolArrayAttr({true}))
                  .getResult();
      }
      return out;
    };

    // Rows [m0, m0 + rows) of column block nb, into `out`.
    auto kernel = [&](OpBuilder &b, Location l, Value nb, Value n0,
                      ArrayRef<Value> masks, Value m0, int64_t rows,
                      Value out) -> Value {
      SmallVector<Value> rowIdx = rowIndices(b, l, m0, rows);
      // (function_ref does not own: every callable is a named local.)
      auto blockWeights = [&](OpBuilder &sb, Location sl, Value g, int64_t v) {
        return loadWeights(sb, sl, nb, g, v);
      };
      AccumulatorTile dot{tile.nvec, blockWeights, broadcastInput, multiplyAdd};
      SmallVector<Value> inits(rows * tile.nvec, zeroAcc);
      SmallVector<Value> acc =
          accumulateLoop(b, l, dot, rowIdx, c0, cGroups, inits);
      Columns cols = columnsOf(b, l, n0);
      for (int64_t i = 0; i < rows; ++i)
        out = finishRow(b, l, cols, masks, rowIdx[i],
                        ArrayRef(acc).slice(i * tile.nvec, tile.nvec), out);
      return out;
    };

    // With AMX: the tiles, their configuration and a block's sums. Below
    // 32 rows no tile is used, and neither configured nor released.
    AmxTiles tiles(tile.amx, TileDot::Int8);
    Value sums, useTiles;
    if (amx) {
      Value config = tileConfig(rewriter, loc, op);
      sums = blockSums(rewriter, loc, op, TileDot::Int8);
      useTiles = rewriter.create<arith::CmpIOp>(
          loc, arith::CmpIPredicate::uge, m,
          rewriter.create<arith::ConstantIndexOp>(loc, kAmxRows));
      rewriter.create<scf::IfOp>(loc, useTiles, [&](OpBuilder &b, Location l) {
        tiles.configure(b, l, config);
        b.create<scf::YieldOp>(l);
      });
    }
    // Rows [m0, m0 + 32) of column block nb on AMX tiles, into `out`.
    auto amxKernel = [&](OpBuilder &b, Location l, Value nb, Value n0,
                         ArrayRef<Value> masks, Value m0, Value out) -> Value {
      tiles.block(b, l, bytesIn, packed, sums, m0, nb, kIn / kAmxK);
      // The block's rows in a loop: unrolled, their kAmxRows x nvec
      // writes are one chain of tensor values, and bufferization's
      // analysis of such chains grows with the square of their length
      // (an int8 MLPerf-shaped DLRM's amx variant took 4.8 s to lower,
      // the others 0.4 s).
      Columns cols = columnsOf(b, l, n0);
      return b
          .create<scf::ForOp>(
              l, c0, b.create<arith::ConstantIndexOp>(l, kAmxRows), c1,
              ValueRange{out},
              [&](OpBuilder &rb, Location rl, Value i, ValueRange ro) {
                SmallVector<Value> acc;
                for (int64_t v = 0; v < tile.nvec; ++v)
                  acc.push_back(rb.create<vector::LoadOp>(
                      rl, accType, sums,
                      ValueRange{i, rb.create<arith::ConstantIndexOp>(
                                        rl, v * lanes)}));
                Value row = rb.create<arith::AddIOp>(rl, m0, i);
                rb.create<scf::YieldOp>(
                    rl, finishRow(rb, rl, cols, masks, row, acc, ro[0]));
              })
          .getResult(0);
    };

    // Column masks of block nb (only when Nr does not divide N).
    auto columnMasks = [&](OpBuilder &b, Location l, Value n0) {
      SmallVector<Value> masks(tile.nvec, Value());
      if (!needMask)
        return masks;
      for (int64_t v = 0; v < tile.nvec; ++v) {
        Value start = b.create<arith::AddIOp>(
            l, n0, b.create<arith::ConstantIndexOp>(l, v * lanes));
        masks[v] = columnMask(b, l, cN, start, lanes);
      }
      return masks;
    };

    if (rowDot) {
      // Few columns: per tile of rows, one vector accumulator per (row,
      // column) runs along K; each is reduced to its output at the end.
      // The input is read in chunks of kg * lanes bytes, the last one
      // under a mask; the 16-bit path widens the chunk in registers.
      int64_t chunkBytes = tile.kg * lanes;
      int64_t fullChunks = k / chunkBytes;
      bool tail = fullChunks < chunks;
      auto loadInput = [&](OpBuilder &b, Location l, Value row, Value c,
                           bool masked) -> Value {
        Value col = b.create<arith::MulIOp>(
            l, c, b.create<arith::ConstantIndexOp>(l, chunkBytes));
        Value bytes = b.create<vector::TransferReadOp>(
            l, VectorType::get({chunkBytes}, i8), input, ValueRange{row, col},
            i8Pad, ArrayRef<bool>{!masked});
        if (tile.dot == Dot::Plain)
          return b.create<arith::ExtUIOp>(l, accType, bytes);
        if (tile.dot == Dot::Widen16)
          bytes = b.create<arith::ExtUIOp>(
              l, VectorType::get({chunkBytes}, b.getI16Type()), bytes);
        return b.create<vector::BitCastOp>(l, accType, bytes);
      };
      auto loadColumn = [&](OpBuilder &b, Location l, int64_t j, Value c) -> Value {
        Value col = b.create<arith::MulIOp>(
            l, c, b.create<arith::ConstantIndexOp>(l, lanes));
        Value cj = b.create<arith::ConstantIndexOp>(l, j);
        if (tile.dot == Dot::Plain)
          return b.create<arith::ExtSIOp>(
              l, accType,
              b.create<vector::TransferReadOp>(l, VectorType::get({lanes}, i8),
                                               packed, ValueRange{cj, col}, i8Pad,
                                               ArrayRef<bool>{true}));
        return b.create<vector::TransferReadOp>(l, accType, packed,
                                                ValueRange{cj, col}, i32Pad,
                                                ArrayRef<bool>{true});
      };
      auto dotKernel = [&](OpBuilder &b, Location l, Value m0, int64_t rows,
                           Value out) -> Value {
        SmallVector<Value> rowIdx = rowIndices(b, l, m0, rows);
        // One accumulator vector per (row, column) along K; the last chunk
        // of K reads the input under a mask.
        auto columnWeights = [&](OpBuilder &sb, Location sl, Value c,
                                 int64_t j) {
          return loadColumn(sb, sl, j, c);
        };
        auto wholeChunk = [&](OpBuilder &sb, Location sl, Value row, Value c) {
          return loadInput(sb, sl, row, c, /*masked=*/false);
        };
        auto lastChunk = [&](OpBuilder &sb, Location sl, Value row, Value c) {
          return loadInput(sb, sl, row, c, /*masked=*/true);
        };
        AccumulatorTile whole{n, columnWeights, wholeChunk, multiplyAdd};
        AccumulatorTile last{n, columnWeights, lastChunk, multiplyAdd};
        SmallVector<Value> inits(rows * n, zeroAcc);
        SmallVector<Value> acc = accumulateLoop(
            b, l, whole, rowIdx, c0,
            b.create<arith::ConstantIndexOp>(l, fullChunks), inits);
        if (tail)
          acc = accumulateStep(b, l, last, rowIdx,
                               b.create<arith::ConstantIndexOp>(l, fullChunks),
                               acc);
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < n; ++j) {
            Value sum = b.create<vector::ReductionOp>(
                l, vector::CombiningKind::ADD, acc[i * n + j]);
            Value t = b.create<arith::AddIOp>(
                l, sum, b.create<arith::ConstantIntOp>(l, folded->c[j], 32));
            Value y = b.create<math::FmaOp>(
                l, b.create<arith::SIToFPOp>(l, f32, t),
                b.create<arith::ConstantOp>(l, b.getF32FloatAttr(folded->mult[j])),
                b.create<arith::ConstantOp>(l, b.getF32FloatAttr(folded->add[j])));
            if (addend) {
              Value a = b.create<tensor::ExtractOp>(
                  l, addend,
                  ValueRange{rowIdx[i],
                             b.create<arith::ConstantIndexOp>(l, j)});
              y = addAddend(b, l, y, a);
            }
            if (output) {
              y = b.create<math::RoundEvenOp>(l, y);
              y = b.create<arith::MaximumFOp>(
                  l, y, b.create<arith::ConstantOp>(l, b.getF32FloatAttr(lo)));
              y = b.create<arith::MinimumFOp>(
                  l, y, b.create<arith::ConstantOp>(l, b.getF32FloatAttr(hi)));
              y = b.create<arith::TruncIOp>(
                  l, i8, b.create<arith::FPToSIOp>(l, i32, y));
            } else {
              y = recq::buildActivation(b, l, y, act);
            }
            out = b.create<tensor::InsertOp>(
                l, y, out,
                ValueRange{rowIdx[i], b.create<arith::ConstantIndexOp>(l, j)});
          }
        return out;
      };
      int64_t rowsPerTile = rowDotRows(n);
      Value cR = rewriter.create<arith::ConstantIndexOp>(loc, rowsPerTile);
      Value mFull = wholeTilesEnd(rewriter, loc, Value(), m, cR);
      Value result = forEachRowTile(rewriter, loc, c0, mFull, m, cR,
                                    rowsPerTile, init, dotKernel);
      if (output)
        result = rewriter.create<quant::StorageCastOp>(loc, op.getType(), result);
      rewriter.replaceOp(op, result);
      return success();
    }

    // Blocks of Mc rows (outer) keep the rows' input in L2 while every
    // column block passes over them; within a block, column blocks, then
    // blocks of 32 rows on AMX tiles (with AMX), then tiles of Mr rows,
    // then single rows.
    int64_t mc = rowBlock(tile, k);
    if (amx)
      mc = std::max<int64_t>(kAmxRows, mc / kAmxRows * kAmxRows);
    Value cAmxRows = rewriter.create<arith::ConstantIndexOp>(loc, kAmxRows);
    Value cMc = rewriter.create<arith::ConstantIndexOp>(loc, mc);
    auto rowBlocks = rewriter.create<scf::ForOp>(
        loc, c0, m, cMc, ValueRange{init},
        [&](OpBuilder &b, Location l, Value mb, ValueRange outs) {
          Value mEnd = b.create<arith::MinUIOp>(
              l, b.create<arith::AddIOp>(l, mb, cMc), m);
          // [mb, mAmx): AMX blocks; [mAmx, mFull): register tiles.
          Value mAmx =
              amx ? wholeTilesEnd(b, l, mb, mEnd, cAmxRows) : mb;
          Value mFull = wholeTilesEnd(b, l, mAmx, mEnd, cMr);
          auto blockLoop = b.create<scf::ForOp>(
              l, c0, cBlocks, c1, outs,
              [&](OpBuilder &bb, Location bl, Value nb, ValueRange o) {
                Value n0 = bb.create<arith::MulIOp>(bl, nb, cNr);
                SmallVector<Value> masks = columnMasks(bb, bl, n0);
                Value out = o[0];
                if (amx)
                  out = bb.create<scf::ForOp>(
                              bl, mb, mAmx, cAmxRows, ValueRange{out},
                              [&](OpBuilder &ab, Location al, Value m0,
                                  ValueRange ao) {
                                ab.create<scf::YieldOp>(
                                    al, amxKernel(ab, al, nb, n0, masks, m0,
                                                  ao[0]));
                              })
                            .getResult(0);
                auto tileOf = [&](OpBuilder &tb, Location tl, Value m0,
                                  int64_t rows, Value out) {
                  return kernel(tb, tl, nb, n0, masks, m0, rows, out);
                };
                bb.create<scf::YieldOp>(bl, forEachRowTile(bb, bl, mAmx, mFull,
                                                           mEnd, cMr, tile.mr,
                                                           out, tileOf));
              });
          b.create<scf::YieldOp>(l, blockLoop.getResults());
        });
    Value result = rowBlocks.getResult(0);
    if (amx)
      rewriter.create<scf::IfOp>(loc, useTiles, [&](OpBuilder &b, Location l) {
        tiles.release(b, l);
        b.create<scf::YieldOp>(l);
      });
    if (output)
      result = rewriter.create<quant::StorageCastOp>(loc, op.getType(), result);
    rewriter.replaceOp(op, result);
    return success();
  }

  QTile baseTile;
  std::optional<QTile> narrowTile;
};

struct ConvertRecqQfcToKernelPass
    : recq::impl::ConvertRecqQfcToKernelPassBase<ConvertRecqQfcToKernelPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    if (failed(recq::populateRecqQfcToKernelPatterns(patterns, target))) {
      getOperation().emitError()
          << "convert-recq-qfc-to-kernel: unknown target '" << target << "'";
      return signalPassFailure();
    }
    GreedyRewriteConfig config;
    config.strictMode = GreedyRewriteStrictness::ExistingOps;
    (void)applyPatternsAndFoldGreedily(getOperation(), std::move(patterns),
                                       config);
    // What could not be lowered is an error, not left for later passes.
    WalkResult left = getOperation().walk([](recq::QfcOp op) {
      op.emitOpError() << "cannot be lowered to a kernel: the weight must be "
                          "recq.quantize of a constant and the bias a "
                          "constant; a sigmoid needs an f32 result";
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace

LogicalResult recq::populateRecqQfcToKernelPatterns(RewritePatternSet &patterns,
                                                    StringRef target) {
  std::optional<QTile> tile = qtileFor(target);
  if (!tile)
    return failure();
  patterns.add<QfcToKernel>(patterns.getContext(), *tile,
                            narrowTileFor(target));
  return success();
}
