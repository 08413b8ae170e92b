//===- FcKernel.cpp - fp32 and bf16 recq.fc to packed micro-kernels -------===//
//
// See Passes.td (convert-recq-fc-to-kernel) for the layouts and tiling.
// Both kinds of FC share the loops (buildFcLoops): column blocks, tiles of
// rows, accumulators in registers through the k loop, then bias,
// activation and masked stores; they differ in how a k step reads the
// weights and the input and multiplies them. With AMX, a bf16 FC runs on
// tiles instead (amxBf16Fc; see Amx.h).
//
//===----------------------------------------------------------------------===//

#include "recq/Conversion/Passes.h"

#include "Amx.h"
#include "MicroKernel.h"
#include "recq/Conversion/Utils/Activation.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace recq {
#define GEN_PASS_DEF_CONVERTRECQFCTOKERNELPASS
#include "recq/Conversion/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {

using recq::x86::Amx;

/// Register tile of one target: Mr rows x Nr columns of accumulators;
/// `dotBf16`: the target has AVX-512 BF16's vdpbf16ps; `amx`: bf16 FCs run
/// on AMX tiles (tdpbf16ps), or on the C model of them (amx-emulated, a
/// test variant for any CPU).
struct Tile {
  int64_t mr, nr;
  bool dotBf16 = false;
  Amx amx = Amx::None;
};

std::optional<Tile> tileFor(StringRef target) {
  if (target == "generic")
    return Tile{6, 8};
  if (target == "avx2")
    return Tile{6, 16};
  if (target == "avx512" || target == "avx512-vnni")
    return Tile{8, 32};
  if (target == "avx512-bf16")
    return Tile{8, 32, /*dotBf16=*/true};
  if (target == "amx")
    return Tile{8, 32, /*dotBf16=*/true, Amx::Native};
  if (target == "amx-emulated")
    return Tile{8, 32, /*dotBf16=*/false, Amx::Emulated};
  return std::nullopt;
}

/// The weight [N, K] packed for a kernel reading one `width`-element vector
/// per k step and column block of `nr` columns: [ceil(N / nr), steps,
/// width], where `source(s, lane)` says which (column within the block, k)
/// element [b, s, lane] holds, zero past N or K. Same element type.
DenseElementsAttr packWeight(
    DenseElementsAttr weight, int64_t nr, int64_t steps, int64_t width,
    llvm::function_ref<std::pair<int64_t, int64_t>(int64_t, int64_t)> source) {
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t n = type.getDimSize(0), k = type.getDimSize(1);
  int64_t blocks = (n + nr - 1) / nr;
  const llvm::fltSemantics &semantics =
      cast<FloatType>(type.getElementType()).getFloatSemantics();
  std::vector<APFloat> packed(blocks * steps * width,
                              APFloat::getZero(semantics));
  auto values = llvm::to_vector(weight.getValues<APFloat>());
  for (int64_t blk = 0; blk < blocks; ++blk)
    for (int64_t s = 0; s < steps; ++s)
      for (int64_t lane = 0; lane < width; ++lane) {
        auto [c, kk] = source(s, lane);
        int64_t col = blk * nr + c;
        if (col < n && kk < k)
          packed[(blk * steps + s) * width + lane] = values[col * k + kk];
      }
  return DenseElementsAttr::get(
      RankedTensorType::get({blocks, steps, width}, type.getElementType()),
      packed);
}

/// The bias padded to whole column blocks (zeros without a bias).
DenseElementsAttr padBias(DenseElementsAttr bias, int64_t padded, Type f32) {
  std::vector<float> values(padded, 0.0f);
  if (bias) {
    auto given = llvm::to_vector(bias.getValues<float>());
    std::copy(given.begin(), given.end(), values.begin());
  }
  return DenseElementsAttr::get(RankedTensorType::get({padded}, f32),
                                llvm::ArrayRef(values));
}

/// How one kind of FC kernel computes: `vectors` accumulators of
/// vector<lanes x f32> per row (vectors * lanes = Nr), a k loop of `steps`,
/// and the loads and multiply-add of a step (as AccumulatorTile, with the
/// column block `nb` given too).
struct FcArithmetic {
  int64_t vectors, lanes;
  Value steps;
  std::function<Value(OpBuilder &, Location, Value nb, Value k, int64_t v)>
      loadWeights;
  std::function<Value(OpBuilder &, Location, Value row, Value k)> loadInput;
  std::function<Value(OpBuilder &, Location, Value acc, Value x, Value w)>
      multiplyAdd;
};

/// The loops every FC kernel shares, writing `op`'s result: column blocks
/// of Nr (outer), tiles of Mr rows (inner; then single rows), the k loop of
/// `arith` on Mr x vectors accumulators, then per row the bias, the
/// activation and stores masked past column N.
Value buildFcLoops(PatternRewriter &rewriter, recq::FcOp op, Tile tile,
                   DenseElementsAttr bias, int64_t n,
                   const FcArithmetic &arith) {
  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  RankedTensorType type = op.getType();
  Type f32 = rewriter.getF32Type();
  int64_t nr = tile.nr, lanes = arith.lanes;
  int64_t blocks = (n + nr - 1) / nr;
  auto vecType = VectorType::get({lanes}, f32);

  Value biasPad =
      rewriter.create<arith::ConstantOp>(loc, padBias(bias, blocks * nr, f32));
  Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
  Value c1 = rewriter.create<arith::ConstantIndexOp>(loc, 1);
  Value cN = rewriter.create<arith::ConstantIndexOp>(loc, n);
  Value cNr = rewriter.create<arith::ConstantIndexOp>(loc, nr);
  Value cMr = rewriter.create<arith::ConstantIndexOp>(loc, tile.mr);
  Value cBlocks = rewriter.create<arith::ConstantIndexOp>(loc, blocks);
  Value m = rewriter.create<tensor::DimOp>(loc, op.getInput(), 0);
  Value mFull = recq::x86::wholeTilesEnd(rewriter, loc, Value(), m, cMr);
  SmallVector<Value> dyn;
  if (type.isDynamicDim(0))
    dyn.push_back(m);
  Value init = rewriter.create<tensor::EmptyOp>(loc, type.getShape(), f32, dyn);
  Value zero =
      rewriter.create<arith::ConstantOp>(loc, rewriter.getZeroAttr(vecType));
  Value scalarPad =
      rewriter.create<arith::ConstantOp>(loc, rewriter.getF32FloatAttr(0));
  AffineMap rowMap = AffineMap::getMinorIdentityMap(2, 1, ctx);
  bool needMask = n % nr != 0;
  recq::Activation act = op.getActivation();

  // Rows [m0, m0 + rows) of column block nb, into `out`.
  auto kernel = [&](OpBuilder &b, Location l, Value nb, Value n0,
                    ArrayRef<Value> masks, ArrayRef<Value> biasVecs,
                    ArrayRef<Value> cols, Value m0, int64_t rows,
                    Value out) -> Value {
    SmallVector<Value> rowIdx = recq::x86::rowIndices(b, l, m0, rows);
    // (function_ref does not own: every callable is a named local.)
    auto weights = [&](OpBuilder &kb, Location kl, Value kk,
                       int64_t v) -> Value {
      return arith.loadWeights(kb, kl, nb, kk, v);
    };
    recq::x86::AccumulatorTile step{arith.vectors, weights, arith.loadInput,
                                    arith.multiplyAdd};
    SmallVector<Value> inits(rows * arith.vectors, zero);
    SmallVector<Value> acc =
        recq::x86::accumulateLoop(b, l, step, rowIdx, c0, arith.steps, inits);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t v = 0; v < arith.vectors; ++v) {
        Value y =
            b.create<arith::AddFOp>(l, acc[i * arith.vectors + v], biasVecs[v]);
        y = recq::buildActivation(b, l, y, act);
        out = b.create<vector::TransferWriteOp>(
                   l, y, out, ValueRange{rowIdx[i], cols[v]},
                   AffineMapAttr::get(rowMap), masks[v],
                   b.getBoolArrayAttr({true}))
                  .getResult();
      }
    return out;
  };

  auto blockLoop = rewriter.create<scf::ForOp>(
      loc, c0, cBlocks, c1, ValueRange{init},
      [&](OpBuilder &b, Location l, Value nb, ValueRange outs) {
        Value n0 = b.create<arith::MulIOp>(l, nb, cNr);
        SmallVector<Value> cols, biasVecs, masks;
        for (int64_t v = 0; v < arith.vectors; ++v) {
          Value col =
              v == 0
                  ? n0
                  : b.create<arith::AddIOp>(
                        l, n0, b.create<arith::ConstantIndexOp>(l, v * lanes));
          cols.push_back(col);
          biasVecs.push_back(b.create<vector::TransferReadOp>(
              l, vecType, biasPad, ValueRange{col}, scalarPad,
              ArrayRef<bool>{true}));
          masks.push_back(needMask ? recq::x86::columnMask(b, l, cN, col, lanes)
                                   : Value());
        }
        Value out = recq::x86::forEachRowTile(
            b, l, c0, mFull, m, cMr, tile.mr, outs[0],
            [&](OpBuilder &tb, Location tl, Value m0, int64_t rows, Value o) {
              return kernel(tb, tl, nb, n0, masks, biasVecs, cols, m0, rows, o);
            });
        b.create<scf::YieldOp>(l, out);
      });
  return blockLoop.getResult(0);
}

//===----------------------------------------------------------------------===//
// fp32
//===----------------------------------------------------------------------===//

/// An fp32 FC: weights [ceil(N / Nr), K, Nr], one vector<Nr x f32> per k,
/// broadcast-FMAs.
void fp32Arithmetic(PatternRewriter &rewriter, recq::FcOp op,
                    DenseElementsAttr weight, Tile tile, FcArithmetic &arith) {
  Location loc = op.getLoc();
  Value input = op.getInput();
  int64_t k = weight.getType().getDimSize(1), nr = tile.nr;
  auto vecType = VectorType::get({nr}, rewriter.getF32Type());
  Value packed = rewriter.create<arith::ConstantOp>(
      loc, packWeight(weight, nr, k, nr, [](int64_t s, int64_t lane) {
        return std::make_pair(lane, s);
      }));
  Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
  Value pad =
      rewriter.create<arith::ConstantOp>(loc, rewriter.getF32FloatAttr(0));
  arith.vectors = 1;
  arith.lanes = nr;
  arith.steps = rewriter.create<arith::ConstantIndexOp>(loc, k);
  arith.loadWeights = [=](OpBuilder &b, Location l, Value nb, Value kk,
                          int64_t) -> Value {
    return b.create<vector::TransferReadOp>(
        l, vecType, packed, ValueRange{nb, kk, c0}, pad, ArrayRef<bool>{true});
  };
  arith.loadInput = [=](OpBuilder &b, Location l, Value row,
                        Value kk) -> Value {
    Value x = b.create<tensor::ExtractOp>(l, input, ValueRange{row, kk});
    return b.create<vector::BroadcastOp>(l, vecType, x);
  };
  arith.multiplyAdd = [](OpBuilder &b, Location l, Value acc, Value x,
                         Value w) -> Value {
    return b.create<vector::FMAOp>(l, x, w, acc);
  };
}

/// Columns up to which an fp32 FC runs along K (fp32AlongK): a block of
/// Nr columns would be mostly padding (N = 1: 1 useful lane in 32).
constexpr int64_t kAlongKMaxN = 4;

/// An fp32 FC of few columns (N <= kAlongKMaxN): per tile of rows, one
/// accumulator vector of the target's width per (row, column) runs along
/// K in chunks (the weight [N, K] zero-padded to whole chunks, the input's
/// last chunk read under a mask), each reduced to its output at the end,
/// then the bias and the activation. Its sums are in another order than
/// the column-block kernel's (a tree over the lanes), within fp32
/// rounding of it.
Value fp32AlongK(PatternRewriter &rewriter, recq::FcOp op,
                 DenseElementsAttr weight, DenseElementsAttr bias, Tile tile) {
  Location loc = op.getLoc();
  RankedTensorType type = op.getType();
  Type f32 = rewriter.getF32Type();
  int64_t n = weight.getType().getDimSize(0),
          k = weight.getType().getDimSize(1);
  // One register: Nr is two of them on every target.
  int64_t lanes = tile.nr / 2;
  int64_t chunks = (k + lanes - 1) / lanes, fullChunks = k / lanes;
  auto vecType = VectorType::get({lanes}, f32);
  // [N, chunks * lanes]: column j's k contiguous, zero past K.
  Value packed = rewriter.create<arith::ConstantOp>(
      loc, packWeight(weight, 1, chunks * lanes, 1, [](int64_t s, int64_t) {
             return std::make_pair(0, s);
           }).reshape(RankedTensorType::get({n, chunks * lanes}, f32)));
  Value input = op.getInput();
  Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
  Value cLanes = rewriter.create<arith::ConstantIndexOp>(loc, lanes);
  Value pad =
      rewriter.create<arith::ConstantOp>(loc, rewriter.getF32FloatAttr(0));
  Value zero =
      rewriter.create<arith::ConstantOp>(loc, rewriter.getZeroAttr(vecType));
  Value m = rewriter.create<tensor::DimOp>(loc, input, 0);
  SmallVector<Value> dyn;
  if (type.isDynamicDim(0))
    dyn.push_back(m);
  Value init = rewriter.create<tensor::EmptyOp>(loc, type.getShape(), f32, dyn);
  SmallVector<float> biases(n, 0.0f);
  if (bias)
    biases = llvm::to_vector(bias.getValues<float>());
  recq::Activation act = op.getActivation();

  auto loadInput = [&](OpBuilder &b, Location l, Value row, Value c,
                       bool masked) -> Value {
    Value col = b.create<arith::MulIOp>(l, c, cLanes);
    return b.create<vector::TransferReadOp>(
        l, vecType, input, ValueRange{row, col}, pad, ArrayRef<bool>{!masked});
  };
  auto loadColumn = [&](OpBuilder &b, Location l, Value c, int64_t j) -> Value {
    Value col = b.create<arith::MulIOp>(l, c, cLanes);
    return b.create<vector::TransferReadOp>(
        l, vecType, packed,
        ValueRange{b.create<arith::ConstantIndexOp>(l, j), col}, pad,
        ArrayRef<bool>{true});
  };
  auto fma = [](OpBuilder &b, Location l, Value acc, Value x,
                Value w) -> Value {
    return b.create<vector::FMAOp>(l, x, w, acc);
  };
  auto rowTile = [&](OpBuilder &b, Location l, Value m0, int64_t rows,
                     Value out) -> Value {
    SmallVector<Value> rowIdx = recq::x86::rowIndices(b, l, m0, rows);
    auto whole = [&](OpBuilder &sb, Location sl, Value row, Value c) {
      return loadInput(sb, sl, row, c, /*masked=*/false);
    };
    auto last = [&](OpBuilder &sb, Location sl, Value row, Value c) {
      return loadInput(sb, sl, row, c, /*masked=*/true);
    };
    recq::x86::AccumulatorTile wholeStep{n, loadColumn, whole, fma};
    recq::x86::AccumulatorTile lastStep{n, loadColumn, last, fma};
    SmallVector<Value> acc(rows * n, zero);
    acc = recq::x86::accumulateLoop(
        b, l, wholeStep, rowIdx, c0,
        b.create<arith::ConstantIndexOp>(l, fullChunks), acc);
    if (fullChunks < chunks)
      acc = recq::x86::accumulateStep(
          b, l, lastStep, rowIdx,
          b.create<arith::ConstantIndexOp>(l, fullChunks), acc);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < n; ++j) {
        Value y = b.create<vector::ReductionOp>(l, vector::CombiningKind::ADD,
                                                acc[i * n + j]);
        y = b.create<arith::AddFOp>(
            l, y, b.create<arith::ConstantOp>(l, b.getF32FloatAttr(biases[j])));
        y = recq::buildActivation(b, l, y, act);
        out = b.create<tensor::InsertOp>(
            l, y, out,
            ValueRange{rowIdx[i], b.create<arith::ConstantIndexOp>(l, j)});
      }
    return out;
  };
  // Rows per tile: rows x N accumulators and N weight vectors in 16
  // registers (as the int8 kernel's along-K tiles).
  int64_t rows = n <= 2 ? 4 : n == 3 ? 3 : 2;
  Value cRows = rewriter.create<arith::ConstantIndexOp>(loc, rows);
  Value mFull = recq::x86::wholeTilesEnd(rewriter, loc, Value(), m, cRows);
  return recq::x86::forEachRowTile(rewriter, loc, c0, mFull, m, cRows, rows,
                                   init, rowTile);
}

//===----------------------------------------------------------------------===//
// bf16
//===----------------------------------------------------------------------===//

/// `x` (f32 or a vector of f32) rounded to bf16, to nearest even, NaN kept
/// a quiet NaN, as the i16 of its bits: integer arithmetic, so no target
/// needs bf16 instructions (LLVM would call __truncsfbf2, which Debian 12's
/// libgcc lacks; it does for a masked store of bf16 too, so buffers of bf16
/// are stored as i16).
Value roundToBf16(OpBuilder &b, Location loc, Value x) {
  Type f32 = x.getType();
  auto shaped = dyn_cast<VectorType>(f32);
  auto like = [&](Type element) -> Type {
    return shaped ? Type(VectorType::get(shaped.getShape(), element)) : element;
  };
  Type i32 = like(b.getI32Type());
  auto constant = [&](int64_t v) -> Value {
    return b.create<arith::ConstantOp>(
        loc,
        shaped ? TypedAttr(DenseElementsAttr::get(
                     cast<ShapedType>(i32), b.getI32IntegerAttr(v).getValue()))
               : TypedAttr(b.getI32IntegerAttr(v)));
  };
  Value bits = b.create<arith::BitcastOp>(loc, i32, x);
  // bits + 0x7fff + (bit 16 of bits): ties go to the even bf16.
  Value lsb = b.create<arith::AndIOp>(
      loc, b.create<arith::ShRUIOp>(loc, bits, constant(16)), constant(1));
  Value rounded = b.create<arith::AddIOp>(
      loc, b.create<arith::AddIOp>(loc, bits, constant(0x7fff)), lsb);
  Value quiet = b.create<arith::OrIOp>(loc, bits, constant(0x400000));
  Value nan = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::UNO, x, x);
  Value chosen = b.create<arith::SelectOp>(loc, nan, quiet, rounded);
  return b.create<arith::TruncIOp>(
      loc, like(b.getI16Type()),
      b.create<arith::ShRUIOp>(loc, chosen, constant(16)));
}

/// The input [M, K] f32 rounded to bf16, as i16 [M', steps] (steps even,
/// the columns past K zero; M' is M rounded up to a multiple of
/// `rowMultiple`, the rows past M zero), 16 columns at a time; with
/// `swapPairs`, columns 2j and 2j + 1 trade places (the emulated kernel's
/// k order).
Value roundInput(OpBuilder &b, Location loc, Value input, int64_t steps,
                 bool swapPairs, int64_t rowMultiple = 1) {
  constexpr int64_t kChunk = 16;
  Type f32 = b.getF32Type(), i16 = b.getI16Type();
  auto chunkType = VectorType::get({kChunk}, f32);
  Value c0 = b.create<arith::ConstantIndexOp>(loc, 0);
  Value c1 = b.create<arith::ConstantIndexOp>(loc, 1);
  Value cChunk = b.create<arith::ConstantIndexOp>(loc, kChunk);
  Value cSteps = b.create<arith::ConstantIndexOp>(loc, steps);
  Value m = b.create<tensor::DimOp>(loc, input, 0);
  Value mPadded = m;
  if (rowMultiple > 1) {
    // (m + multiple - 1) / multiple * multiple; (arith.ceildivui would
    // need arith-expand before the LLVM conversion.)
    Value cMultiple = b.create<arith::ConstantIndexOp>(loc, rowMultiple);
    Value bumped = b.create<arith::AddIOp>(
        loc, m, b.create<arith::ConstantIndexOp>(loc, rowMultiple - 1));
    mPadded = b.create<arith::MulIOp>(
        loc, b.create<arith::DivUIOp>(loc, bumped, cMultiple), cMultiple);
  }
  Value init = b.create<tensor::EmptyOp>(
      loc, ArrayRef<int64_t>{ShapedType::kDynamic, steps}, i16,
      ValueRange{mPadded});
  Value pad = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0));
  SmallVector<int64_t> swapped;
  for (int64_t i = 0; i < kChunk; ++i)
    swapped.push_back(i ^ 1);
  auto rows = b.create<scf::ForOp>(
      loc, c0, m, c1, ValueRange{init},
      [&](OpBuilder &rb, Location rl, Value row, ValueRange rowOut) {
        auto cols = rb.create<scf::ForOp>(
            rl, c0, cSteps, cChunk, rowOut,
            [&](OpBuilder &cb, Location cl, Value k0, ValueRange out) {
              // Columns past K read as 0 (the transfer's padding).
              Value x = cb.create<vector::TransferReadOp>(
                  cl, chunkType, input, ValueRange{row, k0}, pad,
                  ArrayRef<bool>{false});
              if (swapPairs)
                x = cb.create<vector::ShuffleOp>(cl, x, x, swapped);
              Value y = roundToBf16(cb, cl, x);
              Value written = cb.create<vector::TransferWriteOp>(
                                    cl, y, out[0], ValueRange{row, k0},
                                    ArrayRef<bool>{false})
                                  .getResult();
              cb.create<scf::YieldOp>(cl, written);
            });
        rb.create<scf::YieldOp>(rl, cols.getResults());
      });
  if (rowMultiple == 1)
    return rows.getResult(0);
  auto zeroChunk = VectorType::get({kChunk}, i16);
  Value zeros = b.create<arith::ConstantOp>(loc, b.getZeroAttr(zeroChunk));
  auto padRows = b.create<scf::ForOp>(
      loc, m, mPadded, c1, rows.getResults(),
      [&](OpBuilder &rb, Location rl, Value row, ValueRange rowOut) {
        auto cols = rb.create<scf::ForOp>(
            rl, c0, cSteps, cChunk, rowOut,
            [&](OpBuilder &cb, Location cl, Value k0, ValueRange out) {
              cb.create<scf::YieldOp>(
                  cl, cb.create<vector::TransferWriteOp>(cl, zeros, out[0],
                                                         ValueRange{row, k0},
                                                         ArrayRef<bool>{false})
                          .getResult());
            });
        rb.create<scf::YieldOp>(rl, cols.getResults());
      });
  return padRows.getResult(0);
}

/// Pairs of k of the bf16 weights' packing shared by vdpbf16ps and AMX:
/// ceil(K / 2) padded to whole AMX tile rows.
int64_t pairsPacked(int64_t k) {
  int64_t groups = recq::x86::kAmxGroups;
  return ((k + 1) / 2 + groups - 1) / groups * groups;
}

/// The bf16 weight [N, K] as [ceil(N / nr), pairsPacked(K), nr x 2]:
/// element [b, j, 2c + i] is column b * nr + c at k = 2j + i. For
/// vdpbf16ps (nr = 32), each row is two vectors of 16 columns' pairs; for
/// tdpbf16ps, 16 rows of it are one weight tile of each half.
DenseElementsAttr packPairs(DenseElementsAttr weight, int64_t nr) {
  return packWeight(weight, nr, pairsPacked(weight.getType().getDimSize(1)),
                    2 * nr, [](int64_t j, int64_t lane) {
                      return std::make_pair(lane / 2, 2 * j + lane % 2);
                    });
}

/// A bf16 FC: with vdpbf16ps (avx512-bf16) on pairs of k, else its exact
/// emulation with FMAs in the same order.
void bf16Arithmetic(PatternRewriter &rewriter, recq::FcOp op,
                    DenseElementsAttr weight, Tile tile, FcArithmetic &arith) {
  Location loc = op.getLoc();
  int64_t k = weight.getType().getDimSize(1);
  int64_t pairs = (k + 1) / 2;
  Type f32 = rewriter.getF32Type(), bf16 = rewriter.getBF16Type();
  Value x;
  if (tile.dotBf16) {
    // Weights [ceil(N / 32), pairs, 32 x 2]: per pair j of k, two
    // vector<32 x bf16> of 16 columns x (k = 2j, 2j + 1) each, as
    // vdpbf16ps pairs them (pairsPacked: the AMX kernel's layout too).
    constexpr int64_t kLanes = 16;
    Value packed =
        rewriter.create<arith::ConstantOp>(loc, packPairs(weight, tile.nr));
    x = roundInput(rewriter, loc, op.getInput(), 2 * pairs,
                   /*swapPairs=*/false);
    auto pairType = VectorType::get({2 * kLanes}, bf16);
    auto accType = VectorType::get({kLanes}, f32);
    Value bf16Pad =
        rewriter.create<arith::ConstantOp>(loc, rewriter.getZeroAttr(bf16));
    Value i16Pad =
        rewriter.create<arith::ConstantOp>(loc, rewriter.getI16IntegerAttr(0));
    arith.vectors = tile.nr / kLanes;
    arith.lanes = kLanes;
    arith.steps = rewriter.create<arith::ConstantIndexOp>(loc, pairs);
    arith.loadWeights = [=](OpBuilder &b, Location l, Value nb, Value j,
                            int64_t v) -> Value {
      Value at = b.create<arith::ConstantIndexOp>(l, v * 2 * kLanes);
      return b.create<vector::TransferReadOp>(l, pairType, packed,
                                              ValueRange{nb, j, at}, bf16Pad,
                                              ArrayRef<bool>{true});
    };
    arith.loadInput = [=](OpBuilder &b, Location l, Value row,
                          Value j) -> Value {
      // x[row, 2j] and x[row, 2j + 1] as one i32, in every lane.
      Value k0 =
          b.create<arith::MulIOp>(l, j, b.create<arith::ConstantIndexOp>(l, 2));
      Value two = b.create<vector::TransferReadOp>(
          l, VectorType::get({2}, b.getI16Type()), x, ValueRange{row, k0},
          i16Pad, ArrayRef<bool>{true});
      Value word = b.create<vector::ExtractOp>(
          l,
          b.create<vector::BitCastOp>(l, VectorType::get({1}, b.getI32Type()),
                                      two),
          ArrayRef<int64_t>{0});
      Value lanes = b.create<vector::BroadcastOp>(
          l, VectorType::get({kLanes}, b.getI32Type()), word);
      return b.create<vector::BitCastOp>(l, pairType, lanes);
    };
    arith.multiplyAdd = [=](OpBuilder &b, Location l, Value acc, Value xs,
                            Value ws) -> Value {
      return b.create<recq::PureIntrinsicOp>(
          l, accType, b.getStringAttr("llvm.x86.avx512bf16.dpbf16ps.512"),
          ValueRange{acc, ws, xs});
    };
  } else {
    // Weights [ceil(N / Nr), 2 * ceil(K / 2), Nr] with the k of each
    // pair swapped, as the input: FMAs in vdpbf16ps's order (2j + 1,
    // then 2j; an odd K's padding first).
    int64_t nr = tile.nr, steps = 2 * pairs;
    Value packed = rewriter.create<arith::ConstantOp>(
        loc, packWeight(weight, nr, steps, nr, [](int64_t s, int64_t lane) {
          return std::make_pair(lane, s ^ 1);
        }));
    Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
    x = roundInput(rewriter, loc, op.getInput(), steps, /*swapPairs=*/true);
    auto vecType = VectorType::get({nr}, f32);
    auto wType = VectorType::get({nr}, bf16);
    Value bf16Pad =
        rewriter.create<arith::ConstantOp>(loc, rewriter.getZeroAttr(bf16));
    arith.vectors = 1;
    arith.lanes = nr;
    arith.steps = rewriter.create<arith::ConstantIndexOp>(loc, steps);
    arith.loadWeights = [=](OpBuilder &b, Location l, Value nb, Value kk,
                            int64_t) -> Value {
      Value w = b.create<vector::TransferReadOp>(l, wType, packed,
                                                 ValueRange{nb, kk, c0},
                                                 bf16Pad, ArrayRef<bool>{true});
      return b.create<arith::ExtFOp>(l, vecType, w);
    };
    arith.loadInput = [=](OpBuilder &b, Location l, Value row,
                          Value kk) -> Value {
      Value v = b.create<tensor::ExtractOp>(l, x, ValueRange{row, kk});
      v = b.create<arith::BitcastOp>(l, b.getBF16Type(), v);
      return b.create<vector::BroadcastOp>(
          l, vecType, b.create<arith::ExtFOp>(l, b.getF32Type(), v));
    };
    arith.multiplyAdd = [](OpBuilder &b, Location l, Value acc, Value xs,
                           Value ws) -> Value {
      return b.create<vector::FMAOp>(l, xs, ws, acc);
    };
  }
}

/// A bf16 FC on AMX tiles (tdpbf16ps): the input rounded to bf16 and
/// padded to whole tiles (rows to 32, K to 32); per block of Mc rows (kept
/// in L2), per column block of 32, per 32 rows, the four sum tiles over K
/// (AmxTiles::block), then from the sums the bias, the activation and
/// stores of the rows below M and the columns below N. Every batch size
/// runs on tiles, so a row's result does not depend on how many rows a
/// call (or a thread's share of it) has: tdpbf16ps sums in another order
/// than the register kernel.
Value amxBf16Fc(PatternRewriter &rewriter, recq::FcOp op,
                DenseElementsAttr weight, DenseElementsAttr bias, Amx kind) {
  using namespace recq::x86;
  Location loc = op.getLoc();
  RankedTensorType type = op.getType();
  Type f32 = rewriter.getF32Type();
  constexpr int64_t kLanes = 16;
  int64_t n = weight.getType().getDimSize(0),
          k = weight.getType().getDimSize(1);
  int64_t kPadded = 2 * pairsPacked(k), blocks = (n + kAmxCols - 1) / kAmxCols;
  auto vecType = VectorType::get({kLanes}, f32);

  Value packed =
      rewriter.create<arith::ConstantOp>(loc, packPairs(weight, kAmxCols));
  Value x = roundInput(rewriter, loc, op.getInput(), kPadded,
                       /*swapPairs=*/false, kAmxRows);
  Value biasPad = rewriter.create<arith::ConstantOp>(
      loc, padBias(bias, blocks * kAmxCols, f32));
  AmxTiles tiles(kind, TileDot::Bf16);
  Value config = tileConfig(rewriter, loc, op);
  Value sums = blockSums(rewriter, loc, op, TileDot::Bf16);
  tiles.configure(rewriter, loc, config);

  Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
  Value c1 = rewriter.create<arith::ConstantIndexOp>(loc, 1);
  Value cN = rewriter.create<arith::ConstantIndexOp>(loc, n);
  Value cRows = rewriter.create<arith::ConstantIndexOp>(loc, kAmxRows);
  Value cCols = rewriter.create<arith::ConstantIndexOp>(loc, kAmxCols);
  Value cBlocks = rewriter.create<arith::ConstantIndexOp>(loc, blocks);
  Value m = rewriter.create<tensor::DimOp>(loc, op.getInput(), 0);
  Value mPadded = rewriter.create<tensor::DimOp>(loc, x, 0);
  SmallVector<Value> dyn;
  if (type.isDynamicDim(0))
    dyn.push_back(m);
  Value init = rewriter.create<tensor::EmptyOp>(loc, type.getShape(), f32, dyn);
  Value scalarPad =
      rewriter.create<arith::ConstantOp>(loc, rewriter.getF32FloatAttr(0));
  AffineMap rowMap =
      AffineMap::getMinorIdentityMap(2, 1, rewriter.getContext());
  recq::Activation act = op.getActivation();
  // The rows of a block's input (2 bytes per k) within 128 KiB.
  int64_t mc = std::max<int64_t>(kAmxRows, (128 * 1024) / (2 * kPadded) /
                                               kAmxRows * kAmxRows);
  Value cMc = rewriter.create<arith::ConstantIndexOp>(loc, mc);

  // The sums of rows [m0, m0 + rows) to `out`, columns [n0, n0 + 32).
  auto epilogue = [&](OpBuilder &b, Location l, Value m0, Value n0,
                      ArrayRef<Value> biasVecs, ArrayRef<Value> masks,
                      Value out) -> Value {
    Value rows =
        b.create<arith::MinUIOp>(l, cRows, b.create<arith::SubIOp>(l, m, m0));
    auto rowLoop = b.create<scf::ForOp>(
        l, c0, rows, c1, ValueRange{out},
        [&](OpBuilder &rb, Location rl, Value r, ValueRange o) {
          Value row = rb.create<arith::AddIOp>(rl, m0, r);
          Value result = o[0];
          for (int64_t v = 0; v < kAmxCols / kLanes; ++v) {
            Value at = rb.create<arith::ConstantIndexOp>(rl, v * kLanes);
            Value y =
                rb.create<vector::LoadOp>(rl, vecType, sums, ValueRange{r, at});
            y = rb.create<arith::AddFOp>(rl, y, biasVecs[v]);
            y = recq::buildActivation(rb, rl, y, act);
            Value col = rb.create<arith::AddIOp>(rl, n0, at);
            result = rb.create<vector::TransferWriteOp>(
                           rl, y, result, ValueRange{row, col},
                           AffineMapAttr::get(rowMap), masks[v],
                           rb.getBoolArrayAttr({true}))
                         .getResult();
          }
          rb.create<scf::YieldOp>(rl, result);
        });
    return rowLoop.getResult(0);
  };

  auto rowBlocks = rewriter.create<scf::ForOp>(
      loc, c0, mPadded, cMc, ValueRange{init},
      [&](OpBuilder &b, Location l, Value mb, ValueRange outs) {
        Value mEnd = b.create<arith::MinUIOp>(
            l, b.create<arith::AddIOp>(l, mb, cMc), mPadded);
        auto blockLoop = b.create<scf::ForOp>(
            l, c0, cBlocks, c1, outs,
            [&](OpBuilder &bb, Location bl, Value nb, ValueRange o) {
              Value n0 = bb.create<arith::MulIOp>(bl, nb, cCols);
              SmallVector<Value> biasVecs, masks;
              for (int64_t v = 0; v < kAmxCols / kLanes; ++v) {
                Value col = bb.create<arith::AddIOp>(
                    bl, n0, bb.create<arith::ConstantIndexOp>(bl, v * kLanes));
                biasVecs.push_back(bb.create<vector::TransferReadOp>(
                    bl, vecType, biasPad, ValueRange{col}, scalarPad,
                    ArrayRef<bool>{true}));
                masks.push_back(n % kAmxCols != 0
                                    ? columnMask(bb, bl, cN, col, kLanes)
                                    : Value());
              }
              auto tileRows = bb.create<scf::ForOp>(
                  bl, mb, mEnd, cRows, o,
                  [&](OpBuilder &tb, Location tl, Value m0, ValueRange to) {
                    tiles.block(tb, tl, x, packed, sums, m0, nb,
                                pairsPacked(k) / kAmxGroups);
                    tb.create<scf::YieldOp>(
                        tl, epilogue(tb, tl, m0, n0, biasVecs, masks, to[0]));
                  });
              bb.create<scf::YieldOp>(bl, tileRows.getResults());
            });
        b.create<scf::YieldOp>(l, blockLoop.getResults());
      });
  tiles.release(rewriter, loc);
  return rowBlocks.getResult(0);
}

/// Every FC of f32 activations with constant weights: fp32 or bf16.
struct FcToKernel : OpRewritePattern<recq::FcOp> {
  FcToKernel(MLIRContext *ctx, Tile tile)
      : OpRewritePattern<recq::FcOp>(ctx), tile(tile) {}

  LogicalResult matchAndRewrite(recq::FcOp op,
                                PatternRewriter &rewriter) const override {
    DenseElementsAttr weight, bias;
    if (!op.getType().getElementType().isF32() ||
        !op.getInput().getType().getElementType().isF32() ||
        !matchPattern(op.getWeight(), m_Constant(&weight)))
      return rewriter.notifyMatchFailure(op, "not an FC of f32 activations "
                                             "with constant weights");
    if (op.getBias() && !matchPattern(op.getBias(), m_Constant(&bias)))
      return rewriter.notifyMatchFailure(op, "the bias is not constant");
    // (convert-recq-to-linalg lowers an FC with an addend.)
    if (op.getAddend())
      return rewriter.notifyMatchFailure(op, "the FC has an addend");
    if (weight.getElementType().isBF16() && tile.amx != Amx::None) {
      rewriter.replaceOp(op, amxBf16Fc(rewriter, op, weight, bias, tile.amx));
      return success();
    }
    if (weight.getElementType().isF32() &&
        weight.getType().getDimSize(0) <= kAlongKMaxN) {
      rewriter.replaceOp(op, fp32AlongK(rewriter, op, weight, bias, tile));
      return success();
    }
    FcArithmetic arith;
    if (weight.getElementType().isF32())
      fp32Arithmetic(rewriter, op, weight, tile, arith);
    else if (weight.getElementType().isBF16())
      bf16Arithmetic(rewriter, op, weight, tile, arith);
    else
      return rewriter.notifyMatchFailure(op, "weights neither f32 nor bf16");
    rewriter.replaceOp(op, buildFcLoops(rewriter, op, tile, bias,
                                        weight.getType().getDimSize(0), arith));
    return success();
  }

  Tile tile;
};

struct ConvertRecqFcToKernelPass
    : recq::impl::ConvertRecqFcToKernelPassBase<ConvertRecqFcToKernelPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    if (failed(recq::populateRecqFcToKernelPatterns(patterns, target))) {
      getOperation().emitError()
          << "convert-recq-fc-to-kernel: unknown target '" << target << "'";
      return signalPassFailure();
    }
    // Each FC is rewritten once; nothing the rewrite creates matches again.
    GreedyRewriteConfig config;
    config.strictMode = GreedyRewriteStrictness::ExistingOps;
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns),
                                            config)))
      signalPassFailure();
  }
};

} // namespace

LogicalResult recq::populateRecqFcToKernelPatterns(RewritePatternSet &patterns,
                                                   StringRef target) {
  std::optional<Tile> tile = tileFor(target);
  if (!tile)
    return failure();
  patterns.add<FcToKernel>(patterns.getContext(), *tile);
  return success();
}
