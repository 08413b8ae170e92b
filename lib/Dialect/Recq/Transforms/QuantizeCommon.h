//===- QuantizeCommon.h - What recq-quantize and recq-simulate-int8 share -===//
//
// The calibration annotations on a recq.fc and the int8 arithmetic both
// passes apply to it: recq-quantize as QDQ pairs, recq-simulate-int8 as
// fake-quantized f32 values. Internal to lib/Dialect/Recq/Transforms.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_LIB_DIALECT_RECQ_TRANSFORMS_QUANTIZECOMMON_H
#define RECQ_LIB_DIALECT_RECQ_TRANSFORMS_QUANTIZECOMMON_H

#include "recq/Dialect/Recq/IR/RecqDialect.h"

#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace recq::detail {

/// The u8 type of an FC's input (or, with the dense pair, of its columns
/// after the dense ones).
inline constexpr llvm::StringLiteral kInputQuant = "recq.input_quant";
/// The u8 type of the first `kDenseWidth` columns of the input.
inline constexpr llvm::StringLiteral kDenseQuant = "recq.input_quant_dense";
inline constexpr llvm::StringLiteral kDenseWidth = "recq.input_dense_width";

/// An FC's input annotations, checked: the u8 type of its columns (after
/// the dense ones, when `denseWidth` > 0) and of its dense columns.
struct InputAnnotation {
  mlir::quant::UniformQuantizedType input;
  mlir::quant::UniformQuantizedType dense; // null without dense columns
  int64_t denseWidth = 0;
};

/// Reads and checks the annotations of `fc` (an f32 FC with a constant
/// [N, K] weight, returned in `weight`); emits an error naming the FC and
/// fails otherwise.
mlir::FailureOr<InputAnnotation> readInputAnnotation(FcOp fc,
                                                     mlir::DenseElementsAttr &weight);

/// s8 symmetric scale of each row of a [N, K] f32 constant: max|w| / 127,
/// or 1 for a row of zeros.
llvm::SmallVector<double> perChannelScales(mlir::DenseElementsAttr weight);

/// Columns [begin, begin + width) of the [B, K] tensor `v`.
mlir::Value columns(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v,
                    int64_t begin, int64_t width);

/// Columns [begin, begin + width) of the constant [N, K] f32 `weight`.
mlir::DenseElementsAttr weightColumns(mlir::DenseElementsAttr weight,
                                      int64_t begin, int64_t width);

} // namespace recq::detail

#endif // RECQ_LIB_DIALECT_RECQ_TRANSFORMS_QUANTIZECOMMON_H
