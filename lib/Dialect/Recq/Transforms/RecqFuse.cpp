//===- RecqFuse.cpp - dequantize -> fc [-> quantize] into recq.qfc --------===//
//
// See Passes.td (recq-fuse).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace recq {
#define GEN_PASS_DEF_RECQFUSEPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {

bool isPerTensor8Bit(Type tensorType) {
  auto q = dyn_cast<quant::UniformQuantizedType>(
      cast<RankedTensorType>(tensorType).getElementType());
  return q && q.getStorageTypeIntegralWidth() == 8;
}

bool isU8PerTensor(Type tensorType) {
  auto q = dyn_cast<quant::UniformQuantizedType>(
      cast<RankedTensorType>(tensorType).getElementType());
  return q && !q.isSigned() && q.getStorageTypeIntegralWidth() == 8;
}

/// s8 with zero point 0, per tensor or per output channel (axis 0).
bool isS8Symmetric(Type tensorType) {
  Type element = cast<RankedTensorType>(tensorType).getElementType();
  if (auto q = dyn_cast<quant::UniformQuantizedType>(element))
    return q.isSigned() && q.getStorageTypeIntegralWidth() == 8 &&
           q.getZeroPoint() == 0;
  if (auto q = dyn_cast<quant::UniformQuantizedPerAxisType>(element))
    return q.isSigned() && q.getStorageTypeIntegralWidth() == 8 &&
           q.getQuantizedDimension() == 0 &&
           llvm::all_of(q.getZeroPoints(), [](int64_t z) { return z == 0; });
  return false;
}

struct FuseQuantizedFc : OpRewritePattern<recq::FcOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(recq::FcOp fc,
                                PatternRewriter &rewriter) const override {
    auto input = fc.getInput().getDefiningOp<recq::DequantizeOp>();
    auto weight = fc.getWeight().getDefiningOp<recq::DequantizeOp>();
    if (!input || !weight)
      return rewriter.notifyMatchFailure(fc, "operands are not dequantized");
    if (!isU8PerTensor(input.getInput().getType()) ||
        !isS8Symmetric(weight.getInput().getType()))
      return rewriter.notifyMatchFailure(fc, "not u8 activations x s8 "
                                             "symmetric weights");

    // Absorb the requantization of the result when nothing else reads the
    // f32 values.
    recq::QuantizeOp requantize;
    if (fc->hasOneUse() && fc.getActivation() != recq::Activation::sigmoid)
      if (auto q = dyn_cast<recq::QuantizeOp>(*fc->user_begin());
          q && isPerTensor8Bit(q.getType()))
        requantize = q;

    Type resultType =
        requantize ? requantize.getType() : Type(fc.getType());
    auto qfc = rewriter.create<recq::QfcOp>(
        fc.getLoc(), resultType, input.getInput(), weight.getInput(),
        fc.getBias(), fc.getAddend(), fc.getActivation());
    if (requantize) {
      rewriter.replaceOp(requantize, qfc.getResult());
      rewriter.eraseOp(fc);
    } else {
      rewriter.replaceOp(fc, qfc.getResult());
    }
    return success();
  }
};

/// Bags that can share one recq.embedding_bags: same pooling, offsets form
/// and weights presence, same result type.
bool batchable(recq::EmbeddingBagOp a, recq::EmbeddingBagOp b) {
  return a.getMode() == b.getMode() &&
         a.getIncludeLastOffset() == b.getIncludeLastOffset() &&
         static_cast<bool>(a.getOffsets()) == static_cast<bool>(b.getOffsets()) &&
         static_cast<bool>(a.getPerSampleWeights()) ==
             static_cast<bool>(b.getPerSampleWeights()) &&
         a.getType() == b.getType();
}

/// The interaction's consecutive embedding operands that are bags used only
/// there become one recq.embedding_bags whose [B, T, D] result the
/// interaction reads directly.
struct BatchEmbeddingBags : OpRewritePattern<recq::InteractionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(recq::InteractionOp op,
                                PatternRewriter &rewriter) const override {
    auto bagOf = [&](Value v) {
      auto bag = v.getDefiningOp<recq::EmbeddingBagOp>();
      return bag && bag->hasOneUse() ? bag : recq::EmbeddingBagOp();
    };
    SmallVector<Value> operands;
    bool changed = false;
    auto embeddings = op.getEmbeddings();
    for (size_t i = 0; i < embeddings.size();) {
      recq::EmbeddingBagOp first = bagOf(embeddings[i]);
      size_t j = i + 1;
      while (first && j < embeddings.size() && bagOf(embeddings[j]) &&
             batchable(first, bagOf(embeddings[j])))
        ++j;
      if (!first || j - i < 2) {
        operands.push_back(embeddings[i++]);
        continue;
      }
      SmallVector<Value> tables, indices, offsets, weights;
      for (size_t k = i; k < j; ++k) {
        recq::EmbeddingBagOp bag = bagOf(embeddings[k]);
        tables.push_back(bag.getTable());
        indices.push_back(bag.getIndices());
        if (Value o = bag.getOffsets())
          offsets.push_back(o);
        if (Value w = bag.getPerSampleWeights())
          weights.push_back(w);
      }
      RankedTensorType type = first.getType();
      auto batched = rewriter.create<recq::EmbeddingBagsOp>(
          op.getLoc(),
          RankedTensorType::get({type.getDimSize(0), int64_t(j - i),
                                 type.getDimSize(1)},
                                type.getElementType()),
          tables, indices, offsets, weights, first.getMode(),
          first.getIncludeLastOffset());
      operands.push_back(batched);
      changed = true;
      i = j;
    }
    if (!changed)
      return rewriter.notifyMatchFailure(op, "no two batchable bags in a row");
    SmallVector<Operation *> dead;
    for (Value v : op.getEmbeddings())
      if (auto bag = bagOf(v))
        dead.push_back(bag);
    rewriter.replaceOpWithNewOp<recq::InteractionOp>(
        op, op.getType(), op.getDense(), operands, op.getMode(),
        op.getSelfInteraction());
    for (Operation *bag : dead)
      if (bag->use_empty())
        rewriter.eraseOp(bag);
    return success();
  }
};

struct RecqFusePass : recq::impl::RecqFusePassBase<RecqFusePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseQuantizedFc, BatchEmbeddingBags>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
