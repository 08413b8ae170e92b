//===- Quantize.cpp - Apply int8 to a calibrated module -------------------===//

#include "recq/Driver/Quantize.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/SmallPtrSet.h"

using namespace mlir;


/// Runs `pipeline` on `module`; its error diagnostics become the Error.
static llvm::Error runPipeline(ModuleOp module, llvm::StringRef pipeline,
                               llvm::StringRef what) {
  MLIRContext *ctx = module.getContext();
  std::string message;
  ScopedDiagnosticHandler capture(ctx, [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Error) {
      llvm::raw_string_ostream os(message);
      os << (message.empty() ? "" : "; ") << diag.getLocation() << ": "
         << diag.str();
    }
    return success();
  });
  PassManager pm(ctx);
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    return llvm::createStringError("the " + what +
                                   " pipeline does not parse (a recq bug)");
  if (failed(pm.run(module)))
    return llvm::createStringError(what + " failed: " + message);
  return llvm::Error::success();
}

llvm::Expected<int> recq::quant::batchEmbeddingBags(ModuleOp module) {
  if (llvm::Error e =
          runPipeline(module, "func.func(recq-fuse)", "batching embedding bags"))
    return std::move(e);
  int count = 0;
  module.walk([&](recq::EmbeddingBagsOp bags) {
    count += bags.getTables().size();
  });
  return count;
}

llvm::Expected<int> recq::quant::numberProfiledOps(ModuleOp module) {
  if (llvm::Error e =
          runPipeline(module, "recq-profile-ops", "numbering the profiled ops"))
    return std::move(e);
  auto names = module->getAttrOfType<ArrayAttr>("recq.profile_ops");
  return names ? int(names.size()) : 0;
}

llvm::Expected<int> recq::quant::quantizeTables(ModuleOp module,
                                                llvm::StringRef precision) {
  if (precision != "fp32" && precision != "fp16" && precision != "int8" &&
      precision != "int4")
    return llvm::createStringError("unknown table precision '" + precision +
                                   "' (fp32, fp16, int8, int4)");
  if (llvm::Error e = runPipeline(
          module,
          ("func.func(recq-quantize-tables{precision=" + precision +
           "},recq-canonicalize)")
              .str(),
          "table quantization"))
    return std::move(e);
  llvm::SmallPtrSet<Operation *, 8> tables;
  module.walk([&](recq::EmbeddingBagOp bag) {
    Type type = bag.getTable().getType();
    bool changed = isa<recq::RowwiseTableType>(type) ||
                   getElementTypeOrSelf(type).isF16();
    if (changed && bag.getTable().getDefiningOp())
      tables.insert(bag.getTable().getDefiningOp());
  });
  return static_cast<int>(tables.size());
}

/// Annotates each FC of @main whose entry in `inputs` (one per FC, program
/// order) is set with its input's u8 types, as recq-quantize and
/// recq-simulate-int8 read them. Returns how many FCs it annotated.
static llvm::Expected<int>
annotateFcInputs(ModuleOp module,
                 llvm::ArrayRef<std::optional<recq::quant::FcInput>> inputs) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return llvm::createStringError("the module has no @main");
  SmallVector<recq::FcOp> fcs;
  main.walk([&](recq::FcOp fc) { fcs.push_back(fc); });
  if (fcs.size() != inputs.size())
    return llvm::createStringError("int8 parameters for " +
                                   llvm::Twine(inputs.size()) +
                                   " FC inputs but the model has " +
                                   llvm::Twine(fcs.size()) + " FCs");
  MLIRContext *ctx = module.getContext();
  ctx->loadDialect<mlir::quant::QuantizationDialect>();
  Builder b(ctx);
  auto u8 = [&](const recq::quant::QuantParams &p) {
    return TypeAttr::get(mlir::quant::UniformQuantizedType::get(
        /*flags=*/0, b.getIntegerType(8), b.getF32Type(), p.scale, p.zeroPoint,
        0, p.qmax));
  };
  int count = 0;
  for (auto [fc, in] : llvm::zip(fcs, inputs)) {
    if (!in)
      continue;
    fc->setAttr("recq.input_quant", u8(in->params));
    if (in->denseWidth > 0) {
      fc->setAttr("recq.input_quant_dense", u8(in->dense));
      fc->setAttr("recq.input_dense_width",
                  b.getI64IntegerAttr(in->denseWidth));
    }
    ++count;
  }
  return count;
}

llvm::Expected<int>
recq::quant::quantizeFcs(ModuleOp module,
                         llvm::ArrayRef<std::optional<FcInput>> inputs) {
  auto annotated = annotateFcInputs(module, inputs);
  if (!annotated || *annotated == 0)
    return annotated;
  if (llvm::Error e = runPipeline(
          module, "func.func(recq-quantize,recq-fuse,recq-canonicalize)",
          "int8 quantization"))
    return std::move(e);
  // The model's FCs, not the qfc ops: the FC reading a dot interaction's
  // output becomes two (recq-quantize).
  return *annotated;
}

llvm::Error
recq::quant::simulateInt8Fcs(ModuleOp module,
                             llvm::ArrayRef<std::optional<FcInput>> inputs) {
  auto annotated = annotateFcInputs(module, inputs);
  if (!annotated)
    return annotated.takeError();
  return runPipeline(module, "func.func(recq-simulate-int8)",
                     "int8 simulation");
}

llvm::Expected<int>
recq::quant::quantizeToInt8(ModuleOp module,
                            llvm::ArrayRef<ActivationStats> stats) {
  std::vector<std::optional<FcInput>> inputs;
  for (const ActivationStats &s : stats)
    inputs.push_back(s.input());
  auto count = quantizeFcs(module, inputs);
  if (!count)
    return llvm::createStringError(
        "calibration measured " + llvm::Twine(stats.size()) +
        " FC inputs: " + llvm::toString(count.takeError()));
  return count;
}

llvm::Expected<int>
recq::quant::storeFcWeightsInBf16(ModuleOp module, llvm::ArrayRef<bool> which) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return llvm::createStringError("the module has no @main");
  SmallVector<recq::FcOp> fcs;
  main.walk([&](recq::FcOp fc) { fcs.push_back(fc); });
  if (!which.empty() && which.size() != fcs.size())
    return llvm::createStringError(
        "bf16 choices for " + llvm::Twine(which.size()) +
        " FCs but the model has " + llvm::Twine(fcs.size()) + " FCs");
  OpBuilder b(module.getContext());
  Type bf16 = b.getBF16Type();
  int count = 0;
  for (auto [i, fc] : llvm::enumerate(fcs)) {
    if (!which.empty() && !which[i])
      continue;
    DenseElementsAttr weight;
    if (!matchPattern(fc.getWeight(), m_Constant(&weight)) ||
        !weight.getElementType().isF32() ||
        !fc.getInput().getType().getElementType().isF32())
      return llvm::createStringError(
          "FC " + llvm::Twine(i) +
          " is not an f32 FC with constant weights; bf16 needs one");
    auto values =
        llvm::map_to_vector(weight.getValues<APFloat>(), [&](APFloat v) {
          bool lost;
          v.convert(APFloat::BFloat(), APFloat::rmNearestTiesToEven, &lost);
          return v;
        });
    auto type = RankedTensorType::get(weight.getType().getShape(), bf16);
    b.setInsertionPoint(fc);
    Value stored = b.create<arith::ConstantOp>(
        fc.getWeight().getLoc(), DenseElementsAttr::get(type, values));
    Operation *old = fc.getWeight().getDefiningOp();
    fc.getWeightMutable().assign(stored);
    if (old->use_empty())
      old->erase();
    ++count;
  }
  return count;
}

llvm::Error
recq::quant::quantizeFcsTo(ModuleOp module, llvm::ArrayRef<bool> bf16,
                           llvm::ArrayRef<std::optional<FcInput>> int8Inputs) {
  if (llvm::is_contained(bf16, true)) {
    auto stored = storeFcWeightsInBf16(module, bf16);
    if (!stored)
      return stored.takeError();
  }
  auto count = quantizeFcs(module, int8Inputs);
  if (!count)
    return count.takeError();
  return llvm::Error::success();
}
