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

/// A bag's own storage choice (the precision planner sets it), over the
/// pass's `precision` option.
constexpr llvm::StringLiteral kTablePrecision = "recq.table_precision";

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
    if (!isPrecision(precision)) {
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
    llvm::DenseMap<Value, Converted> converted;
    WalkResult result = getOperation().walk([&](Operation *op) {
      if (auto bag = dyn_cast<recq::EmbeddingBagOp>(op)) {
        std::string want = precision;
        if (Attribute attr = bag->getAttr(kTablePrecision)) {
          auto name = dyn_cast<StringAttr>(attr);
          if (!name || !isPrecision(name.getValue())) {
            bag->emitOpError() << "'" << kTablePrecision
                               << "' must be \"fp32\", \"fp16\", \"int8\" or "
                                  "\"int4\"";
            return WalkResult::interrupt();
          }
          want = name.str();
        }
        if (failed(convert(bag.getTableMutable(), want, converted)))
          return WalkResult::interrupt();
      } else if (auto bags = dyn_cast<recq::EmbeddingBagsOp>(op)) {
        for (OpOperand &table : bags.getTablesMutable())
          if (failed(convert(table, precision, converted)))
            return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  /// A table's new value and the precision it was stored in.
  struct Converted {
    Value value;
    std::string precision;
  };

  static bool isPrecision(llvm::StringRef p) {
    return p == "fp32" || p == "fp16" || p == "int8" || p == "int4";
  }

  LogicalResult convert(OpOperand &table, llvm::StringRef want,
                        llvm::DenseMap<Value, Converted> &converted) {
    Value value = table.get();
    auto done = converted.find(value);
    if (done != converted.end()) {
      if (done->second.precision != want)
        return table.getOwner()->emitOpError()
               << "shares its table with a bag stored in "
               << done->second.precision << ", but asks for " << want;
      table.set(done->second.value);
      return success();
    }
    auto type = dyn_cast<RankedTensorType>(value.getType());
    DenseElementsAttr values;
    if (!type || !type.getElementType().isF32() ||
        !matchPattern(value, m_Constant(&values)))
      return success();
    if (want == "fp32") {
      converted[value] = {value, want.str()};
      return success();
    }
    bool int4 = want == "int4";
    bool halfScale = scaleType.empty() ? int4 : scaleType == "f16";
    if ((want == "fp16" || halfScale) &&
        failed(checkHalfRange(table.getOwner(), values)))
      return failure();
    OpBuilder b(value.getContext());
    b.setInsertionPointAfterValue(value);
    Location loc = value.getLoc();
    Value replacement;
    if (want == "fp16") {
      replacement = b.create<arith::ConstantOp>(loc, toHalf(values));
    } else {
      auto rowwise = recq::RowwiseTableType::get(
          b.getContext(), type.getDimSize(0), type.getDimSize(1),
          IntegerType::get(b.getContext(), int4 ? 4 : 8, IntegerType::Unsigned),
          halfScale ? FloatType(b.getF16Type()) : FloatType(b.getF32Type()));
      replacement = b.create<recq::RowwiseQuantizeOp>(loc, rowwise, value);
    }
    converted[value] = {replacement, want.str()};
    table.set(replacement);
    return success();
  }
};

} // namespace
