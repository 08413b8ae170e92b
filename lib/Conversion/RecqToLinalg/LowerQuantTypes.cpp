//===- LowerQuantTypes.cpp - quantize/dequantize to integer math ----------===//
//
// See Passes.td (recq-lower-quant-types).
//
//===----------------------------------------------------------------------===//

#include "recq/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace recq {
#define GEN_PASS_DEF_RECQLOWERQUANTTYPESPASS
#include "recq/Conversion/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {

/// Scale and zero point of each position along the quantized dimension
/// (one entry, axis -1, for a per-tensor type).
struct QuantInfo {
  quant::QuantizedType type;
  int64_t axis = -1;
  SmallVector<double> scales;
  SmallVector<int64_t> zeroPoints;
};

std::optional<QuantInfo> infoOf(Type tensorType) {
  auto tensor = dyn_cast<RankedTensorType>(tensorType);
  if (!tensor)
    return std::nullopt;
  QuantInfo info;
  if (auto t = dyn_cast<quant::UniformQuantizedType>(tensor.getElementType())) {
    info.type = t;
    info.scales = {t.getScale()};
    info.zeroPoints = {t.getZeroPoint()};
    return info;
  }
  if (auto t = dyn_cast<quant::UniformQuantizedPerAxisType>(
          tensor.getElementType())) {
    info.type = t;
    info.axis = t.getQuantizedDimension();
    info.scales.assign(t.getScales().begin(), t.getScales().end());
    info.zeroPoints.assign(t.getZeroPoints().begin(), t.getZeroPoints().end());
    return info;
  }
  return std::nullopt;
}

/// The affine map reading the per-axis vectors: (d0..dn) -> (d_axis), or
/// () -> () scalars folded as constants for per-tensor types.
AffineMap axisMap(MLIRContext *ctx, int64_t rank, int64_t axis) {
  return AffineMap::get(rank, 0, getAffineDimExpr(axis, ctx));
}

/// Emits `linalg.generic` over `input` (and per-axis scale / zero-point
/// vectors) with `body(b, loc, x, scale, zeroPoint)` as the element function.
Value elementwise(OpBuilder &b, Location loc, Value input, Type resultElement,
                  const QuantInfo &info,
                  function_ref<Value(OpBuilder &, Location, Value, Value, Value)>
                      body) {
  auto type = cast<RankedTensorType>(input.getType());
  int64_t rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> dynamic;
  for (int64_t d = 0; d < rank; ++d)
    if (type.isDynamicDim(d))
      dynamic.push_back(b.create<tensor::DimOp>(loc, input, d));
  Value init = b.create<tensor::EmptyOp>(loc, type.getShape(), resultElement,
                                         dynamic);
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  SmallVector<Value> inputs{input};
  SmallVector<AffineMap> maps{identity};
  bool perAxis = info.axis >= 0;
  if (perAxis) {
    int64_t n = static_cast<int64_t>(info.scales.size());
    SmallVector<float> scales(info.scales.begin(), info.scales.end());
    SmallVector<float> zps(info.zeroPoints.begin(), info.zeroPoints.end());
    auto vec = RankedTensorType::get({n}, b.getF32Type());
    inputs.push_back(b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(vec, ArrayRef<float>(scales))));
    inputs.push_back(b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(vec, ArrayRef<float>(zps))));
    maps.push_back(axisMap(ctx, rank, info.axis));
    maps.push_back(axisMap(ctx, rank, info.axis));
  }
  maps.push_back(identity);
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{RankedTensorType::get(type.getShape(), resultElement)},
      inputs, ValueRange{init}, maps,
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value scale, zp;
        if (perAxis) {
          scale = args[1];
          zp = args[2];
        } else {
          scale = nb.create<arith::ConstantOp>(
              l, nb.getF32FloatAttr(static_cast<float>(info.scales[0])));
          zp = nb.create<arith::ConstantOp>(
              l, nb.getF32FloatAttr(static_cast<float>(info.zeroPoints[0])));
        }
        nb.create<linalg::YieldOp>(l, body(nb, l, args[0], scale, zp));
      });
  return generic.getResult(0);
}

struct QuantizeLowering : OpConversionPattern<recq::QuantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(recq::QuantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    std::optional<QuantInfo> info = infoOf(op.getType());
    if (!info || !cast<RankedTensorType>(op.getInput().getType())
                      .getElementType()
                      .isF32())
      return rewriter.notifyMatchFailure(op, "not f32 -> uniform quantized");
    Type storage = info->type.getStorageType();
    float lo = static_cast<float>(info->type.getStorageTypeMin());
    float hi = static_cast<float>(info->type.getStorageTypeMax());
    Value result = elementwise(
        rewriter, op.getLoc(), adaptor.getInput(), storage, *info,
        [&](OpBuilder &b, Location l, Value x, Value scale, Value zp) {
          Value q = b.create<math::RoundEvenOp>(
              l, b.create<arith::DivFOp>(l, x, scale));
          q = b.create<arith::AddFOp>(l, q, zp);
          q = b.create<arith::MaximumFOp>(
              l, q, b.create<arith::ConstantOp>(l, b.getF32FloatAttr(lo)));
          q = b.create<arith::MinimumFOp>(
              l, q, b.create<arith::ConstantOp>(l, b.getF32FloatAttr(hi)));
          Value wide = b.create<arith::FPToSIOp>(l, b.getI32Type(), q);
          return b.create<arith::TruncIOp>(l, storage, wide).getResult();
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct DequantizeLowering : OpConversionPattern<recq::DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(recq::DequantizeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    std::optional<QuantInfo> info = infoOf(op.getInput().getType());
    if (!info || !op.getType().getElementType().isF32())
      return rewriter.notifyMatchFailure(op, "not uniform quantized -> f32");
    bool isSigned = info->type.isSigned();
    Value result = elementwise(
        rewriter, op.getLoc(), adaptor.getInput(), rewriter.getF32Type(),
        *info, [&](OpBuilder &b, Location l, Value q, Value scale, Value zp) {
          Value wide =
              isSigned
                  ? b.create<arith::ExtSIOp>(l, b.getI32Type(), q).getResult()
                  : b.create<arith::ExtUIOp>(l, b.getI32Type(), q).getResult();
          Value x = b.create<arith::SIToFPOp>(l, b.getF32Type(), wide);
          return b
              .create<arith::MulFOp>(l, b.create<arith::SubFOp>(l, x, zp),
                                     scale)
              .getResult();
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// `quant.scast` between a quantized tensor and its storage tensor (the
/// kernels read and write storage values) is the identity on storage types.
struct StorageCastLowering : OpConversionPattern<quant::StorageCastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(quant::StorageCastOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type converted = getTypeConverter()->convertType(op.getType());
    if (converted != adaptor.getArg().getType())
      return rewriter.notifyMatchFailure(op, "not a storage cast of a tensor");
    rewriter.replaceOp(op, adaptor.getArg());
    return success();
  }
};

struct RecqLowerQuantTypesPass
    : recq::impl::RecqLowerQuantTypesPassBase<RecqLowerQuantTypesPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    auto isQuant = [](Type t) {
      auto tensor = dyn_cast<RankedTensorType>(t);
      return tensor && isa<quant::QuantizedType>(tensor.getElementType());
    };
    if (llvm::any_of(func.getArgumentTypes(), isQuant) ||
        llvm::any_of(func.getResultTypes(), isQuant)) {
      func.emitError() << "recq-lower-quant-types: quantized values must not "
                          "cross the function boundary";
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    TypeConverter converter;
    recq::populateQuantStorageTypeConversion(converter);
    RewritePatternSet patterns(ctx);
    recq::populateRecqLowerQuantTypesPatterns(converter, patterns);
    ConversionTarget target(*ctx);
    target.addIllegalOp<recq::QuantizeOp, recq::DequantizeOp,
                        quant::StorageCastOp>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    if (failed(applyPartialConversion(func, target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void recq::populateQuantStorageTypeConversion(TypeConverter &converter) {
  converter.addConversion([](Type t) { return t; });
  converter.addConversion([](RankedTensorType t) -> Type {
    if (auto q = dyn_cast<quant::QuantizedType>(t.getElementType()))
      return RankedTensorType::get(t.getShape(), q.getStorageType());
    return t;
  });
}

void recq::populateRecqLowerQuantTypesPatterns(TypeConverter &converter,
                                               RewritePatternSet &patterns) {
  patterns.add<QuantizeLowering, DequantizeLowering, StorageCastLowering>(
      converter, patterns.getContext());
}
