//===- RecqToLinalg.cpp - fp32 recq ops to linalg/scf/vector --------------===//
//
// See Passes.td (convert-recq-to-linalg) for what each op becomes. The
// embedding bags' loops are in EmbeddingBag.cpp.
//
//===----------------------------------------------------------------------===//

#include "recq/Conversion/Passes.h"

#include "Lowering.h"
#include "recq/Conversion/Utils/Activation.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace recq {
#define GEN_PASS_DEF_CONVERTRECQTOLINALGPASS
#include "recq/Conversion/Passes.h.inc"
} // namespace recq

using namespace mlir;
using namespace recq::to_linalg;

/// `tensor.empty` of `type`, its dynamic sizes taken from `like`'s dims.
Value recq::to_linalg::emptyLike(
    OpBuilder &b, Location loc, RankedTensorType type,
    ArrayRef<std::pair<Value, int64_t>> dynamicFrom) {
  SmallVector<Value> sizes;
  unsigned next = 0;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    if (!type.isDynamicDim(d))
      continue;
    auto [source, dim] = dynamicFrom[next++];
    sizes.push_back(b.create<tensor::DimOp>(loc, source, dim));
  }
  return b.create<tensor::EmptyOp>(loc, type.getShape(), type.getElementType(),
                                   sizes);
}

Value recq::to_linalg::zeroFilled(OpBuilder &b, Location loc, Value empty) {
  auto type = cast<RankedTensorType>(empty.getType());
  Value zero =
      b.create<arith::ConstantOp>(loc, b.getZeroAttr(type.getElementType()));
  return b.create<linalg::FillOp>(loc, zero, empty).getResult(0);
}

LogicalResult recq::to_linalg::requireF32(Operation *op, Type type,
                                          StringRef what) {
  if (getElementTypeOrSelf(type).isF32())
    return success();
  return op->emitOpError() << "lowering: " << what << " of type " << type
                           << " is not supported yet (fp32 only)";
}

namespace {

//===----------------------------------------------------------------------===//
// recq.fc
//===----------------------------------------------------------------------===//

struct FcLowering : OpRewritePattern<recq::FcOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(recq::FcOp op,
                                PatternRewriter &rewriter) const override {
    // (A bf16 FC's weight is a constant: convert-recq-fc-to-kernel.)
    if (failed(requireF32(op, op.getType(), "result")) ||
        failed(requireF32(op, op.getInput().getType(), "input")) ||
        failed(requireF32(op, op.getWeight().getType(), "non-constant weight")))
      return failure();
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value input = op.getInput();
    Value empty = emptyLike(rewriter, loc, type, {{input, 0}});
    Value product =
        rewriter
            .create<linalg::MatmulTransposeBOp>(
                loc, TypeRange{type}, ValueRange{input, op.getWeight()},
                ValueRange{zeroFilled(rewriter, loc, empty)})
            .getResult(0);
    Value bias = op.getBias(), addend = op.getAddend();
    recq::Activation act = op.getActivation();
    if (!bias && !addend && act == recq::Activation::none) {
      rewriter.replaceOp(op, product);
      return success();
    }

    // One element-wise pass: + bias, + addend, then the activation.
    MLIRContext *ctx = rewriter.getContext();
    AffineMap identity = AffineMap::getMultiDimIdentityMap(2, ctx);
    SmallVector<Value> inputs{product};
    SmallVector<AffineMap> maps{identity};
    if (bias) {
      inputs.push_back(bias);
      maps.push_back(AffineMap::get(2, 0, getAffineDimExpr(1, ctx)));
    }
    if (addend) {
      inputs.push_back(addend);
      maps.push_back(identity);
    }
    maps.push_back(identity);
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, TypeRange{type}, inputs, ValueRange{empty}, maps,
        SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value v = args[0];
          if (bias)
            v = b.create<arith::AddFOp>(l, v, args[1]);
          if (addend)
            v = b.create<arith::AddFOp>(l, v, args[bias ? 2 : 1]);
          b.create<linalg::YieldOp>(l, recq::buildActivation(b, l, v, act));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// recq.interaction
//===----------------------------------------------------------------------===//

struct InteractionLowering : OpRewritePattern<recq::InteractionOp> {
  using OpRewritePattern::OpRewritePattern;

  /// Inserts the features of `v` ([B, D] or [B, T, D]) side by side into
  /// `dest` [B, columns] from feature slot `slot` on; returns the next slot.
  static int64_t insertFeatures(OpBuilder &b, Location loc, Value v,
                                Value &dest, int64_t slot, int64_t dim) {
    auto type = cast<RankedTensorType>(v.getType());
    int64_t count = type.getRank() == 3 ? type.getDimSize(1) : 1;
    OpFoldResult batch =
        type.isDynamicDim(0)
            ? OpFoldResult(b.create<tensor::DimOp>(loc, v, 0).getResult())
            : OpFoldResult(b.getIndexAttr(type.getDimSize(0)));
    Value flat = v;
    if (type.getRank() == 3) {
      auto flatType = RankedTensorType::get({type.getDimSize(0), count * dim},
                                            type.getElementType());
      flat = b.create<tensor::CollapseShapeOp>(
          loc, flatType, v, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
    }
    SmallVector<OpFoldResult> offsets{b.getIndexAttr(0),
                                      b.getIndexAttr(slot * dim)};
    SmallVector<OpFoldResult> sizes{batch, b.getIndexAttr(count * dim)};
    SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
    dest = b.create<tensor::InsertSliceOp>(loc, flat, dest, offsets, sizes,
                                           strides);
    return slot + count;
  }

  LogicalResult matchAndRewrite(recq::InteractionOp op,
                                PatternRewriter &rewriter) const override {
    if (failed(requireF32(op, op.getType(), "result")))
      return failure();
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    Value dense = op.getDense();
    int64_t dim = cast<RankedTensorType>(dense.getType()).getDimSize(1);
    int64_t numFeatures = op.getNumFeatures();
    if (numFeatures < 0 || ShapedType::isDynamic(dim))
      return op.emitOpError() << "lowering needs a static feature count and "
                                 "dimension";
    SmallVector<Value> features{dense};
    llvm::append_range(features, op.getEmbeddings());
    Value result = emptyLike(rewriter, loc, type, {{dense, 0}});

    if (op.getMode() == recq::InteractionMode::cat) {
      int64_t slot = 0;
      for (Value f : features)
        slot = insertFeatures(rewriter, loc, f, result, slot, dim);
      rewriter.replaceOp(op, result);
      return success();
    }

    // Per sample: read every feature once as a vector<D>, copy the dense
    // one to the row's start, then write each pair's dot product straight
    // to its column (the pairs (i, j), j < i, or j <= i, row-major).
    Type f32 = type.getElementType();
    auto vecType = VectorType::get({dim}, f32);
    Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
    Value c1 = rewriter.create<arith::ConstantIndexOp>(loc, 1);
    Value batchSize = rewriter.create<tensor::DimOp>(loc, dense, 0);
    Value pad =
        rewriter.create<arith::ConstantOp>(loc, rewriter.getZeroAttr(f32));
    bool self = op.getSelfInteraction();
    AffineMap rowMap =
        AffineMap::getMinorIdentityMap(2, 1, rewriter.getContext());
    auto loop = rewriter.create<scf::ForOp>(
        loc, c0, batchSize, c1, ValueRange{result},
        [&](OpBuilder &b, Location l, Value sample, ValueRange iter) {
          SmallVector<Value> vecs;
          for (Value feature : features) {
            auto ft = cast<RankedTensorType>(feature.getType());
            int64_t count = ft.getRank() == 3 ? ft.getDimSize(1) : 1;
            for (int64_t t = 0; t < count; ++t) {
              SmallVector<Value> at{sample};
              if (ft.getRank() == 3)
                at.push_back(b.create<arith::ConstantIndexOp>(l, t));
              at.push_back(c0);
              AffineMap map = AffineMap::getMinorIdentityMap(ft.getRank(), 1,
                                                             b.getContext());
              vecs.push_back(b.create<vector::TransferReadOp>(
                  l, vecType, feature, at, AffineMapAttr::get(map), pad,
                  /*mask=*/Value(), b.getBoolArrayAttr({true})));
            }
          }
          Value row = b.create<vector::TransferWriteOp>(
                           l, vecs[0], iter[0], ValueRange{sample, c0},
                           AffineMapAttr::get(rowMap), Value(),
                           b.getBoolArrayAttr({true}))
                          .getResult();
          // The dot products in column order, written kChunk at a time:
          // one vector store per chunk rather than a scalar insert per
          // pair (351 for 27 features, which also made bufferization's
          // analysis quadratic).
          constexpr int64_t kChunk = 16;
          SmallVector<Value> dots;
          int64_t column = dim;
          auto flush = [&] {
            auto chunkType = VectorType::get({int64_t(dots.size())}, f32);
            Value chunk =
                b.create<arith::ConstantOp>(l, b.getZeroAttr(chunkType));
            for (auto [lane, dot] : llvm::enumerate(dots))
              chunk = b.create<vector::InsertOp>(l, dot, chunk, int64_t(lane));
            row = b.create<vector::TransferWriteOp>(
                       l, chunk, row,
                       ValueRange{sample,
                                  b.create<arith::ConstantIndexOp>(l, column)},
                       AffineMapAttr::get(rowMap), Value(),
                       b.getBoolArrayAttr({true}))
                      .getResult();
            column += dots.size();
            dots.clear();
          };
          for (int64_t i = 0; i < numFeatures; ++i)
            for (int64_t j = 0; j < i + (self ? 1 : 0); ++j) {
              Value product = b.create<arith::MulFOp>(l, vecs[i], vecs[j]);
              dots.push_back(b.create<vector::ReductionOp>(
                  l, vector::CombiningKind::ADD, product));
              if (int64_t(dots.size()) == kChunk)
                flush();
            }
          if (!dots.empty())
            flush();
          b.create<scf::YieldOp>(l, row);
        });
    result = loop.getResult(0);
    rewriter.replaceOp(op, result);
    return success();
  }
};

template <typename OpTy> struct UnaryLowering : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    if (failed(requireF32(op, op.getType(), "result")))
      return failure();
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    SmallVector<std::pair<Value, int64_t>> dyn;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        dyn.push_back({op.getInput(), d});
    Value empty = emptyLike(rewriter, loc, type, dyn);
    AffineMap identity = AffineMap::getMultiDimIdentityMap(
        type.getRank(), rewriter.getContext());
    auto generic = rewriter.create<linalg::GenericOp>(
        loc, TypeRange{type}, ValueRange{op.getInput()}, ValueRange{empty},
        ArrayRef<AffineMap>{identity, identity},
        SmallVector<utils::IteratorType>(type.getRank(),
                                         utils::IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          recq::Activation act = std::is_same_v<OpTy, recq::ReluOp>
                                     ? recq::Activation::relu
                                     : recq::Activation::sigmoid;
          b.create<linalg::YieldOp>(l,
                                    recq::buildActivation(b, l, args[0], act));
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct ConvertRecqToLinalgPass
    : recq::impl::ConvertRecqToLinalgPassBase<ConvertRecqToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ModuleOp module = getOperation();
    SmallVector<Value> statuses;
    RewritePatternSet patterns(ctx);
    recq::populateRecqToLinalgConversionPatterns(patterns, statuses, module);
    FrozenRewritePatternSet frozen(std::move(patterns));
    ConversionTarget target(*ctx);
    recq::configureRecqToLinalgConversionTarget(target);
    // The functions there are now: the pooling functions the patterns add
    // are made lowered.
    auto funcs = llvm::to_vector(module.getOps<func::FuncOp>());
    for (func::FuncOp func : funcs) {
      statuses.clear();
      if (failed(applyPartialConversion(func, target, frozen)))
        return signalPassFailure();
      if (!statuses.empty() && failed(returnIndexStatus(func, statuses)))
        return signalPassFailure();
    }
  }

  /// Appends `tensor<T x i64>`, 1 where bag op t (in program order) met an
  /// index outside its table, to `func`'s results, marked
  /// `recq.index_status`.
  static LogicalResult returnIndexStatus(func::FuncOp func,
                                         ArrayRef<Value> statuses) {
    if (!func.getBody().hasOneBlock())
      return func.emitOpError("index status: a function of one block only");
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    for (Value s : statuses)
      if (s.getParentBlock() != ret->getBlock())
        return func.emitOpError(
            "index status: every embedding bag must be in the function's "
            "body, not a nested region");
    OpBuilder b(ret);
    Location loc = ret.getLoc();
    SmallVector<Value> flags;
    for (Value s : statuses)
      flags.push_back(b.create<arith::ExtUIOp>(loc, b.getI64Type(), s));
    auto type = RankedTensorType::get({int64_t(flags.size())}, b.getI64Type());
    Value status = b.create<tensor::FromElementsOp>(loc, type, flags);
    ret.getOperandsMutable().append(status);
    func.insertResult(func.getNumResults(), type,
                      b.getDictionaryAttr(b.getNamedAttr("recq.index_status",
                                                         b.getUnitAttr())));
    return success();
  }
};

} // namespace

void recq::populateRecqToLinalgConversionPatterns(
    RewritePatternSet &patterns, SmallVectorImpl<Value> &indexStatuses,
    ModuleOp sharedPools) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<FcLowering, InteractionLowering, UnaryLowering<recq::ReluOp>,
               UnaryLowering<recq::SigmoidOp>>(ctx);
  populateEmbeddingBagLoweringPatterns(patterns, indexStatuses, sharedPools);
}

void recq::configureRecqToLinalgConversionTarget(ConversionTarget &target) {
  // Everything else of recq (the quantized ops) has no fp32 lowering and is
  // reported as failing to legalize.
  target.addIllegalDialect<recq::RecqDialect>();
  // Kernel building blocks stay until recq-lower-intrinsics; a table's
  // bytes view dies with the bags that read it (canonicalize).
  target.addLegalOp<recq::PureIntrinsicOp, recq::IntrinsicOp,
                    recq::RowwiseCastOp>();
  target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
}
