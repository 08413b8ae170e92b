//===- RecqQuantizeTables.cpp - fp16 / row-wise int8, int4 tables ---------===//
//
// See Passes.td (recq-quantize-tables).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "recq/Dialect/Recq/IR/RowwiseTable.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/DenseMap.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace recq {
#define GEN_PASS_DEF_RECQQUANTIZETABLESPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {

/// The f16 constant of an f32 constant table.
DenseElementsAttr toHalf(DenseElementsAttr values) {
  auto type = cast<RankedTensorType>(values.getType());
  auto halfType = type.clone(Float16Type::get(type.getContext()));
  if (values.isSplat())
    return DenseElementsAttr::get(
        halfType, APFloat(APFloat::IEEEhalf(),
                          APInt(16, recq::floatToHalf(
                                        values.getSplatValue<float>()))));
  ArrayRef<char> raw = values.getRawData();
  const float *in = reinterpret_cast<const float *>(raw.data());
  std::vector<uint16_t> half(values.getNumElements());
  for (size_t i = 0; i < half.size(); ++i)
    half[i] = recq::floatToHalf(in[i]);
  return DenseElementsAttr::getFromRawBuffer(
      halfType, ArrayRef<char>(reinterpret_cast<const char *>(half.data()),
                               half.size() * 2));
}

/// f16 values, scales or biases cannot hold a table with values beyond
/// f16's range (65504): say so rather than store infinities.
LogicalResult checkHalfRange(Operation *bag, DenseElementsAttr values) {
  float largest = 0;
  if (values.isSplat()) {
    largest = std::fabs(values.getSplatValue<float>());
  } else {
    ArrayRef<char> raw = values.getRawData();
    const float *in = reinterpret_cast<const float *>(raw.data());
    for (size_t i = 0, e = values.getNumElements(); i < e; ++i)
      largest = std::max(largest, std::fabs(in[i]));
  }
  if (largest <= 65504.0f)
    return success();
  return bag->emitOpError()
         << "the table has values up to " << largest
         << ", beyond f16's range (65504): store it in fp32, or in int8 with "
            "scale-type=f32";
}

struct RecqQuantizeTablesPass
    : recq::impl::RecqQuantizeTablesPassBase<RecqQuantizeTablesPass> {
  using Base::Base;

  void runOnOperation() override {
    if (precision != "fp32" && precision != "fp16" && precision != "int8" &&
        precision != "int4") {
      getOperation().emitError()
          << "recq-quantize-tables: unknown precision '" << precision
          << "' (fp32, fp16, int8, int4)";
      return signalPassFailure();
    }
    if (!scaleType.empty() && scaleType != "f32" && scaleType != "f16") {
      getOperation().emitError() << "recq-quantize-tables: unknown scale-type '"
                                 << scaleType << "' (f32, f16)";
      return signalPassFailure();
    }
    if (precision == "fp32")
      return;
    llvm::DenseMap<Value, Value> converted;
    getOperation().walk([&](Operation *op) {
      if (auto bag = dyn_cast<recq::EmbeddingBagOp>(op))
        convert(bag.getTableMutable(), converted);
      else if (auto bags = dyn_cast<recq::EmbeddingBagsOp>(op))
        for (OpOperand &table : bags.getTablesMutable())
          convert(table, converted);
    });
  }

  void convert(OpOperand &table, llvm::DenseMap<Value, Value> &converted) {
    Value value = table.get();
    if (Value done = converted.lookup(value)) {
      table.set(done);
      return;
    }
    auto type = dyn_cast<RankedTensorType>(value.getType());
    DenseElementsAttr values;
    if (!type || !type.getElementType().isF32() ||
        !matchPattern(value, m_Constant(&values)))
      return;
    bool int4 = precision == "int4";
    bool halfScale = scaleType.empty() ? int4 : scaleType == "f16";
    if ((precision == "fp16" || halfScale) && failed(checkHalfRange(
                                                  table.getOwner(), values)))
      return signalPassFailure();
    OpBuilder b(value.getContext());
    b.setInsertionPointAfterValue(value);
    Location loc = value.getLoc();
    Value replacement;
    if (precision == "fp16") {
      replacement = b.create<arith::ConstantOp>(loc, toHalf(values));
    } else {
      auto rowwise = recq::RowwiseTableType::get(
          b.getContext(), type.getDimSize(0), type.getDimSize(1),
          IntegerType::get(b.getContext(), int4 ? 4 : 8, IntegerType::Unsigned),
          halfScale ? FloatType(b.getF16Type()) : FloatType(b.getF32Type()));
      replacement = b.create<recq::RowwiseQuantizeOp>(loc, rowwise, value);
    }
    converted[value] = replacement;
    table.set(replacement);
  }
};

} // namespace
