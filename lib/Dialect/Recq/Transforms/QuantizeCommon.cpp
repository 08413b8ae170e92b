//===- QuantizeCommon.cpp - What recq-quantize and recq-simulate-int8 share ===//

#include "QuantizeCommon.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;

namespace recq::detail {

/// The u8 per-tensor type of annotation `name` on `fc`, or an error.
static FailureOr<quant::UniformQuantizedType> inputType(FcOp fc,
                                                        llvm::StringRef name) {
  auto annotation = fc->getAttrOfType<TypeAttr>(name);
  if (!annotation)
    return fc.emitOpError() << "'" << name << "' must be a type";
  Type element = annotation.getValue();
  if (isa<quant::UniformQuantizedPerAxisType>(element))
    return fc.emitOpError() << "per-channel activation quantization is not "
                               "supported (activations are u8 per tensor), got "
                            << element;
  auto input = dyn_cast<quant::UniformQuantizedType>(element);
  if (!input || input.isSigned() || input.getStorageTypeIntegralWidth() != 8 ||
      !input.getExpressedType().isF32())
    return fc.emitOpError() << "activations are quantized to u8 per tensor "
                               "(!quant.uniform<u8:f32, scale:zero_point>), got "
                            << element;
  return input;
}

FailureOr<InputAnnotation> readInputAnnotation(FcOp fc,
                                               DenseElementsAttr &weight) {
  InputAnnotation a;
  FailureOr<quant::UniformQuantizedType> input = inputType(fc, kInputQuant);
  if (failed(input))
    return failure();
  a.input = *input;
  if (!fc.getType().getElementType().isF32())
    return fc.emitOpError() << "only f32 FCs can be quantized";
  if (!matchPattern(fc.getWeight(), m_Constant(&weight)))
    return fc.emitOpError() << "cannot quantize an FC whose weight is not a "
                               "constant (the weights are quantized at "
                               "compile time)";
  if (!weight.getElementType().isF32() ||
      !fc.getInput().getType().getElementType().isF32())
    return fc.emitOpError() << "only f32 FCs can be quantized (input "
                            << fc.getInput().getType() << ", weight "
                            << weight.getType() << ")";
  bool hasDense = fc->hasAttr(kDenseQuant), hasWidth = fc->hasAttr(kDenseWidth);
  if (hasDense != hasWidth)
    return fc.emitOpError()
           << "'" << kDenseQuant << "' and '" << kDenseWidth << "' go together";
  if (!hasDense)
    return a;
  FailureOr<quant::UniformQuantizedType> dense = inputType(fc, kDenseQuant);
  if (failed(dense))
    return failure();
  auto width = fc->getAttrOfType<IntegerAttr>(kDenseWidth);
  if (!width)
    return fc.emitOpError() << "'" << kDenseWidth << "' must be an integer";
  int64_t k = weight.getType().getShape()[1];
  if (width.getInt() < 1 || width.getInt() >= k)
    return fc.emitOpError()
           << "'" << kDenseWidth << "' must leave columns on both sides: it is "
           << width.getInt() << " of K = " << k;
  a.dense = *dense;
  a.denseWidth = width.getInt();
  return a;
}

SmallVector<double> perChannelScales(DenseElementsAttr weight) {
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t n = type.getDimSize(0), k = type.getDimSize(1);
  SmallVector<double> scales(n, 0.0);
  auto values = weight.getValues<float>();
  auto it = values.begin();
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col, ++it)
      scales[row] = std::max(scales[row], std::fabs(double(*it)));
  for (double &s : scales)
    s = s > 0 ? s / 127.0 : 1.0;
  return scales;
}

Value columns(OpBuilder &b, Location loc, Value v, int64_t begin,
              int64_t width) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
  sizes[1] = b.getIndexAttr(width);
  SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(begin)};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  return b.create<tensor::ExtractSliceOp>(loc, v, offsets, sizes, strides);
}

DenseElementsAttr weightColumns(DenseElementsAttr weight, int64_t begin,
                                int64_t width) {
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t n = type.getDimSize(0), k = type.getDimSize(1);
  auto values = llvm::to_vector(weight.getValues<float>());
  SmallVector<float> out;
  out.reserve(n * width);
  for (int64_t row = 0; row < n; ++row)
    out.append(values.begin() + row * k + begin,
               values.begin() + row * k + begin + width);
  return DenseElementsAttr::get(type.clone({n, width}), ArrayRef<float>(out));
}

} // namespace recq::detail
