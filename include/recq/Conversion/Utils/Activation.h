//===- Activation.h - recq activations as arith/math ops --------*- C++ -*-===//
//
// One definition of what `relu` and `sigmoid` compute, shared by the
// lowerings that apply them (FC epilogues, standalone recq.relu/sigmoid),
// on f32 scalars or vectors of f32.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_CONVERSION_UTILS_ACTIVATION_H
#define RECQ_CONVERSION_UTILS_ACTIVATION_H

#include "recq/Dialect/Recq/IR/RecqDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"

namespace recq {

/// relu: max(v, 0) (arith.maximumf: NaN stays NaN, as torch's relu);
/// sigmoid: 1 / (1 + exp(-v)); none: v.
inline mlir::Value buildActivation(mlir::OpBuilder &b, mlir::Location loc,
                                   mlir::Value v, Activation act) {
  using namespace mlir;
  if (act == Activation::none)
    return v;
  Type type = v.getType();
  if (act == Activation::relu) {
    Value zero = b.create<arith::ConstantOp>(loc, b.getZeroAttr(type));
    return b.create<arith::MaximumFOp>(loc, v, zero);
  }
  TypedAttr oneAttr = b.getF32FloatAttr(1.0f);
  if (auto vec = dyn_cast<VectorType>(type))
    oneAttr = DenseElementsAttr::get(vec, oneAttr);
  Value one = b.create<arith::ConstantOp>(loc, oneAttr);
  Value e = b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, v));
  return b.create<arith::DivFOp>(loc, one, b.create<arith::AddFOp>(loc, one, e));
}

} // namespace recq

#endif // RECQ_CONVERSION_UTILS_ACTIVATION_H
