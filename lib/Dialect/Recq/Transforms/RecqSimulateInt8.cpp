//===- RecqSimulateInt8.cpp - int8 FCs simulated, switched at run time ----===//
//
// See Passes.td (recq-simulate-int8).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "QuantizeCommon.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <algorithm>
#include <cmath>

namespace recq {
#define GEN_PASS_DEF_RECQSIMULATEINT8PASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;
using namespace recq::detail;

namespace {

/// `weight` as its int8 form reads back: each row's s8 codes (the scale
/// max|w| / 127, rounded to nearest even and saturated, as the int8
/// kernel's packing does) times the row's scale.
DenseElementsAttr roundedWeight(DenseElementsAttr weight) {
  auto type = cast<RankedTensorType>(weight.getType());
  int64_t n = type.getDimSize(0), k = type.getDimSize(1);
  SmallVector<double> scales = perChannelScales(weight);
  auto values = weight.getValues<float>();
  auto it = values.begin();
  SmallVector<float> out;
  out.reserve(n * k);
  for (int64_t row = 0; row < n; ++row) {
    float scale = static_cast<float>(scales[row]);
    for (int64_t col = 0; col < k; ++col, ++it) {
      float q = std::clamp(std::nearbyint(*it / scale), -128.0f, 127.0f);
      out.push_back(scale * q);
    }
  }
  return DenseElementsAttr::get(type, ArrayRef<float>(out));
}

/// `x` through the u8 type `element` and back.
Value fakeQuantize(OpBuilder &b, Location loc, Value x,
                   quant::UniformQuantizedType element) {
  auto type = cast<RankedTensorType>(x.getType());
  Value q = b.create<recq::QuantizeOp>(loc, type.clone(element), x);
  return b.create<recq::DequantizeOp>(loc, type, q);
}

/// The int8 form of `fc` in f32: its input fake-quantized, its weight
/// rounded; with dense columns, the two FCs recq-quantize makes.
Value simulateInt8(OpBuilder &b, Location loc, recq::FcOp fc,
                   DenseElementsAttr weight, const InputAnnotation &a) {
  Value x = fc.getInput();
  // One op per statement: the IR's order must not follow the compiler's
  // order of evaluating arguments.
  auto part = [&](int64_t begin, int64_t cols, Value bias, Value addend,
                  recq::Activation act, quant::UniformQuantizedType input) {
    Value slice = cols == weight.getType().getShape()[1]
                      ? x
                      : columns(b, loc, x, begin, cols);
    Value in = fakeQuantize(b, loc, slice, input);
    DenseElementsAttr w = roundedWeight(weightColumns(weight, begin, cols));
    Value constant = b.create<arith::ConstantOp>(loc, w);
    return b
        .create<recq::FcOp>(loc, fc.getType(), in, constant, bias, addend, act)
        .getResult();
  };
  int64_t k = weight.getType().getShape()[1];
  if (a.denseWidth == 0)
    return part(0, k, fc.getBias(), fc.getAddend(), fc.getActivation(),
                a.input);
  Value head = part(0, a.denseWidth, Value(), Value(), recq::Activation::none,
                    a.dense);
  return part(a.denseWidth, k - a.denseWidth, fc.getBias(), head,
              fc.getActivation(), a.input);
}

struct RecqSimulateInt8Pass
    : recq::impl::RecqSimulateInt8PassBase<RecqSimulateInt8Pass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    SmallVector<recq::FcOp> fcs;
    func.walk([&](recq::FcOp fc) { fcs.push_back(fc); });
    struct Simulated {
      size_t column;
      recq::FcOp fc;
      DenseElementsAttr weight;
      InputAnnotation annotation;
    };
    SmallVector<Simulated> simulated;
    for (auto [i, fc] : llvm::enumerate(fcs)) {
      if (!fc->hasAttr(kInputQuant))
        continue;
      DenseElementsAttr weight;
      FailureOr<InputAnnotation> a = readInputAnnotation(fc, weight);
      if (failed(a))
        return signalPassFailure();
      if (fc.getInput().getType().getRank() != 2) {
        fc.emitOpError() << "int8 simulation takes a [batch, K] input";
        return signalPassFailure();
      }
      simulated.push_back({i, fc, weight, *a});
    }
    if (simulated.empty())
      return;

    // The switches: [batch, FCs] f32, the batch as the first FC's input has
    // it; row 0 of column i nonzero runs FC i in int8.
    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    int64_t batch = simulated.front().fc.getInput().getType().getDimSize(0);
    auto switchType = RankedTensorType::get(
        {batch, static_cast<int64_t>(fcs.size())}, b.getF32Type());
    unsigned index = func.getNumArguments();
    func.insertArgument(
        index, switchType,
        b.getDictionaryAttr(b.getNamedAttr("onnx.name",
                                           b.getStringAttr(recq::kInt8SwitchesName))),
        func.getLoc());
    Value switches = func.getArgument(index);

    for (Simulated &s : simulated) {
      recq::FcOp fc = s.fc;
      Location loc = fc.getLoc();
      b.setInsertionPoint(fc);
      Value c0 = b.create<arith::ConstantIndexOp>(loc, 0);
      Value column = b.create<arith::ConstantIndexOp>(loc, s.column);
      Value zero = b.create<arith::ConstantOp>(loc, b.getF32FloatAttr(0.0f));
      // Row 0's switch; an empty batch computes nothing either way.
      Value rows = b.create<tensor::DimOp>(loc, switches, c0);
      Value any =
          b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sgt, rows, c0);
      auto read = b.create<scf::IfOp>(
          loc, any,
          [&](OpBuilder &t, Location l) {
            Value v = t.create<tensor::ExtractOp>(l, switches,
                                                  ValueRange{c0, column});
            t.create<scf::YieldOp>(l, v);
          },
          [&](OpBuilder &e, Location l) {
            e.create<scf::YieldOp>(l, zero);
          });
      Value on = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::ONE,
                                         read.getResult(0), zero);
      for (llvm::StringRef name : {kInputQuant, kDenseQuant, kDenseWidth})
        fc->removeAttr(name);
      auto choose = b.create<scf::IfOp>(
          loc, on,
          [&](OpBuilder &t, Location l) {
            t.create<scf::YieldOp>(l,
                                   simulateInt8(t, l, fc, s.weight, s.annotation));
          },
          [&](OpBuilder &e, Location l) {
            e.create<scf::YieldOp>(l, e.clone(*fc.getOperation())->getResults());
          });
      fc.getResult().replaceAllUsesWith(choose.getResult(0));
      fc.erase();
    }
  }
};

} // namespace
