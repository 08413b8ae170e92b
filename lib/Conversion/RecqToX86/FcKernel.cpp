//===- FcKernel.cpp - fp32 recq.fc to a packed FMA micro-kernel -----------===//
//
// See Passes.td (convert-recq-fc-to-kernel) for the layout and tiling.
//
//===----------------------------------------------------------------------===//

#include "recq/Conversion/Passes.h"

#include "MicroKernel.h"
#include "recq/Conversion/Utils/Activation.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
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

/// Register tile of one target: Mr rows x Nr columns of accumulators.
struct Tile {
  int64_t mr, nr;
};

std::optional<Tile> tileFor(StringRef target) {
  if (target == "generic")
    return Tile{6, 8};
  if (target == "avx2")
    return Tile{6, 16};
  if (target == "avx512" || target == "avx512-vnni")
    return Tile{8, 32};
  return std::nullopt;
}

/// [N, K] -> [ceil(N / nr), K, nr], zero-padded columns.
DenseElementsAttr packWeight(DenseElementsAttr weight, int64_t nr) {
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t n = type.getDimSize(0), k = type.getDimSize(1);
  int64_t blocks = (n + nr - 1) / nr;
  std::vector<float> packed(blocks * k * nr, 0.0f);
  auto values = llvm::to_vector(weight.getValues<float>());
  for (int64_t col = 0; col < n; ++col)
    for (int64_t kk = 0; kk < k; ++kk)
      packed[((col / nr) * k + kk) * nr + col % nr] = values[col * k + kk];
  return DenseElementsAttr::get(
      RankedTensorType::get({blocks, k, nr}, type.getElementType()),
      llvm::ArrayRef(packed));
}

/// The bias padded to whole column blocks (zeros without a bias).
DenseElementsAttr padBias(DenseElementsAttr bias, int64_t n, int64_t padded,
                          Type f32) {
  std::vector<float> values(padded, 0.0f);
  if (bias) {
    auto given = llvm::to_vector(bias.getValues<float>());
    std::copy(given.begin(), given.end(), values.begin());
  }
  (void)n;
  return DenseElementsAttr::get(RankedTensorType::get({padded}, f32),
                                llvm::ArrayRef(values));
}

struct FcToKernel : OpRewritePattern<recq::FcOp> {
  FcToKernel(MLIRContext *ctx, Tile tile)
      : OpRewritePattern<recq::FcOp>(ctx), tile(tile) {}

  LogicalResult matchAndRewrite(recq::FcOp op,
                                PatternRewriter &rewriter) const override {
    DenseElementsAttr weight, bias;
    if (!op.getType().getElementType().isF32() ||
        !matchPattern(op.getWeight(), m_Constant(&weight)))
      return rewriter.notifyMatchFailure(op, "not an f32 FC with constant "
                                             "weights");
    if (op.getBias() && !matchPattern(op.getBias(), m_Constant(&bias)))
      return rewriter.notifyMatchFailure(op, "the bias is not constant");

    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    RankedTensorType type = op.getType();
    Type f32 = rewriter.getF32Type();
    Value input = op.getInput();
    auto weightType = cast<RankedTensorType>(weight.getType());
    int64_t n = weightType.getDimSize(0), k = weightType.getDimSize(1);
    int64_t nr = tile.nr;
    int64_t blocks = (n + nr - 1) / nr;
    auto vecType = VectorType::get({nr}, f32);

    Value packed =
        rewriter.create<arith::ConstantOp>(loc, packWeight(weight, nr));
    Value biasPad = rewriter.create<arith::ConstantOp>(
        loc, padBias(bias, n, blocks * nr, f32));
    Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
    Value c1 = rewriter.create<arith::ConstantIndexOp>(loc, 1);
    Value cK = rewriter.create<arith::ConstantIndexOp>(loc, k);
    Value cN = rewriter.create<arith::ConstantIndexOp>(loc, n);
    Value cNr = rewriter.create<arith::ConstantIndexOp>(loc, nr);
    Value cMr = rewriter.create<arith::ConstantIndexOp>(loc, tile.mr);
    Value cBlocks = rewriter.create<arith::ConstantIndexOp>(loc, blocks);
    Value m = rewriter.create<tensor::DimOp>(loc, input, 0);
    Value mFull = recq::x86::wholeTilesEnd(rewriter, loc, Value(), m, cMr);
    SmallVector<Value> dyn;
    if (type.isDynamicDim(0))
      dyn.push_back(m);
    Value init = rewriter.create<tensor::EmptyOp>(loc, type.getShape(), f32, dyn);
    Value zero = rewriter.create<arith::ConstantOp>(loc, rewriter.getZeroAttr(vecType));
    Value scalarPad = rewriter.create<arith::ConstantOp>(loc, rewriter.getF32FloatAttr(0));
    AffineMap rowMap = AffineMap::getMinorIdentityMap(2, 1, ctx);
    bool needMask = n % nr != 0;
    recq::Activation act = op.getActivation();

    // Rows [m0, m0 + rows) of column block nb, into `out`.
    auto kernel = [&](OpBuilder &b, Location l, Value nb, Value n0, Value mask,
                      Value biasVec, Value m0, int64_t rows,
                      Value out) -> Value {
      SmallVector<Value> rowIdx = recq::x86::rowIndices(b, l, m0, rows);
      // Per k: one packed weight vector, each row's input broadcast, FMAs.
      // (function_ref does not own: every callable is a named local.)
      auto weights = [&](OpBuilder &kb, Location kl, Value kk,
                         int64_t) -> Value {
        return kb.create<vector::TransferReadOp>(
            kl, vecType, packed, ValueRange{nb, kk, c0}, scalarPad,
            ArrayRef<bool>{true});
      };
      auto broadcast = [&](OpBuilder &kb, Location kl, Value row,
                           Value kk) -> Value {
        Value x = kb.create<tensor::ExtractOp>(kl, input, ValueRange{row, kk});
        return kb.create<vector::BroadcastOp>(kl, vecType, x);
      };
      auto fmaOf = [&](OpBuilder &kb, Location kl, Value acc, Value x,
                       Value w) -> Value {
        return kb.create<vector::FMAOp>(kl, x, w, acc);
      };
      recq::x86::AccumulatorTile fma{/*vectors=*/1, weights, broadcast, fmaOf};
      SmallVector<Value> inits(rows, zero);
      SmallVector<Value> acc =
          recq::x86::accumulateLoop(b, l, fma, rowIdx, c0, cK, inits);
      for (int64_t i = 0; i < rows; ++i) {
        Value v = b.create<arith::AddFOp>(l, acc[i], biasVec);
        v = recq::buildActivation(b, l, v, act);
        out = b.create<vector::TransferWriteOp>(
                   l, v, out, ValueRange{rowIdx[i], n0},
                   AffineMapAttr::get(rowMap), mask,
                   b.getBoolArrayAttr({true}))
                  .getResult();
      }
      return out;
    };

    auto blockLoop = rewriter.create<scf::ForOp>(
        loc, c0, cBlocks, c1, ValueRange{init},
        [&](OpBuilder &b, Location l, Value nb, ValueRange outs) {
          Value n0 = b.create<arith::MulIOp>(l, nb, cNr);
          Value biasVec = b.create<vector::TransferReadOp>(
              l, vecType, biasPad, ValueRange{n0}, scalarPad,
              ArrayRef<bool>{true});
          Value mask =
              needMask ? recq::x86::columnMask(b, l, cN, n0, nr) : Value();
          Value out = recq::x86::forEachRowTile(
              b, l, c0, mFull, m, cMr, tile.mr, outs[0],
              [&](OpBuilder &tb, Location tl, Value m0, int64_t rows, Value o) {
                return kernel(tb, tl, nb, n0, mask, biasVec, m0, rows, o);
              });
          b.create<scf::YieldOp>(l, out);
        });
    rewriter.replaceOp(op, blockLoop.getResult(0));
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
      getOperation().emitError() << "convert-recq-fc-to-kernel: unknown target '"
                                 << target << "'";
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
