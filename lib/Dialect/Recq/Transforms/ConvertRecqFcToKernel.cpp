//===- ConvertRecqFcToKernel.cpp - recq.fc to a packed FMA micro-kernel ---===//
//
// See Passes.td (convert-recq-fc-to-kernel) for the layout and tiling.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "Activation.h"

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
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
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
    Value mFull = rewriter.create<arith::SubIOp>(
        loc, m, rewriter.create<arith::RemUIOp>(loc, m, cMr));
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
      SmallVector<Value> rowIdx;
      for (int64_t i = 0; i < rows; ++i)
        rowIdx.push_back(i == 0 ? m0
                                : b.create<arith::AddIOp>(
                                       l, m0,
                                       b.create<arith::ConstantIndexOp>(l, i))
                                      .getResult());
      SmallVector<Value> inits(rows, zero);
      auto kLoop = b.create<scf::ForOp>(
          l, c0, cK, c1, inits,
          [&](OpBuilder &kb, Location kl, Value kk, ValueRange acc) {
            Value w = kb.create<vector::TransferReadOp>(
                kl, vecType, packed, ValueRange{nb, kk, c0}, scalarPad,
                ArrayRef<bool>{true});
            SmallVector<Value> next;
            for (int64_t i = 0; i < rows; ++i) {
              Value x = kb.create<tensor::ExtractOp>(
                  kl, input, ValueRange{rowIdx[i], kk});
              Value xb = kb.create<vector::BroadcastOp>(kl, vecType, x);
              next.push_back(kb.create<vector::FMAOp>(kl, xb, w, acc[i]));
            }
            kb.create<scf::YieldOp>(kl, next);
          });
      for (int64_t i = 0; i < rows; ++i) {
        Value v = b.create<arith::AddFOp>(l, kLoop.getResult(i), biasVec);
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
          Value mask;
          if (needMask) {
            Value left = b.create<arith::MinUIOp>(
                l, b.create<arith::SubIOp>(l, cN, n0), cNr);
            mask = b.create<vector::CreateMaskOp>(
                l, VectorType::get({nr}, b.getI1Type()), ValueRange{left});
          }
          auto full = b.create<scf::ForOp>(
              l, c0, mFull, cMr, outs,
              [&](OpBuilder &fb, Location fl, Value m0, ValueRange o) {
                fb.create<scf::YieldOp>(
                    fl, kernel(fb, fl, nb, n0, mask, biasVec, m0, tile.mr, o[0]));
              });
          auto rest = b.create<scf::ForOp>(
              l, mFull, m, c1, full.getResults(),
              [&](OpBuilder &rb, Location rl, Value m0, ValueRange o) {
                rb.create<scf::YieldOp>(
                    rl, kernel(rb, rl, nb, n0, mask, biasVec, m0, 1, o[0]));
              });
          b.create<scf::YieldOp>(l, rest.getResults());
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
    std::optional<Tile> tile = tileFor(target);
    if (!tile) {
      getOperation().emitError() << "convert-recq-fc-to-kernel: unknown target '"
                                 << target << "'";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<FcToKernel>(&getContext(), *tile);
    // Each FC is rewritten once; nothing the rewrite creates matches again.
    GreedyRewriteConfig config;
    config.strictMode = GreedyRewriteStrictness::ExistingOps;
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns),
                                            config)))
      signalPassFailure();
  }
};

} // namespace
