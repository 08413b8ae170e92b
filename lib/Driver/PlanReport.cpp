//===- PlanReport.cpp - A plan against the fp32 model ---------------------===//
//
// What recq-compile reports about a plan (recq/Driver/Planner.h): its
// accuracy on a data set (--eval), and each layer's output SQNR against
// fp32 (the numerical debugger, --compare-fp32).
//
//===----------------------------------------------------------------------===//

#include "PlannerInternal.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Target/Codegen.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using llvm::Error;
using llvm::Expected;

namespace recq::quant {

Expected<Accuracy> measurePlan(ModuleOp module, const Plan &plan,
                               llvm::StringRef npzPath,
                               const CodegenTarget &target,
                               llvm::StringRef metric) {
  auto ws = Workspace::create(npzPath);
  if (!ws)
    return ws.takeError();
  const Npz *npz = &(*ws)->npz;
  const std::string *dir = &(*ws)->dir;
  auto fp32Plan = listPieces(module);
  if (!fp32Plan)
    return fp32Plan.takeError();
  auto reference =
      runRealPlan(module, *fp32Plan, *dir, "fp32", target, *npz, npzPath);
  if (!reference)
    return reference.takeError();
  auto labels = readLabels(*npz, npzPath, reference->size());
  if (!labels)
    return labels.takeError();
  if (Error e = checkMetric(metric, !labels->empty(), npzPath))
    return std::move(e);
  auto outputs = runRealPlan(module, plan, *dir, "plan", target, *npz, npzPath);
  if (!outputs)
    return outputs.takeError();
  Scorer scorer(std::move(*reference), std::move(*labels), metric.str());
  return scorer.score(*outputs);
}

Expected<std::vector<LayerError>>
compareLayers(ModuleOp module, const Plan &plan, llvm::StringRef npzPath,
              const CodegenTarget &target) {
  auto ws = Workspace::create(npzPath);
  if (!ws)
    return ws.takeError();
  const Npz *npz = &(*ws)->npz;
  const std::string *dir = &(*ws)->dir;
  auto names = listPieces(module);
  if (!names)
    return names.takeError();
  auto sites = findPlanSites(module);
  if (!sites)
    return sites.takeError();

  // The model's output, then the layers in program order: their columns
  // in the outputs below, and what the plan makes of each.
  auto precisionOf = [&](llvm::StringRef kind, llvm::StringRef name) {
    const std::vector<Piece> &pieces = kind == "fc" ? plan.fcs : plan.tables;
    for (const Piece &p : pieces)
      if (p.name == name)
        return p.precision;
    return std::string("fp32");
  };
  auto widthOf = [](Value v) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    return type && type.getRank() == 2 ? type.getDimSize(1) : int64_t(0);
  };
  std::vector<LayerError> layers(1);
  layers[0].kind = "output";
  layers[0].name = "(the model's output)";
  layers[0].width = widthOf(module.lookupSymbol<func::FuncOp>("main")
                                .getBody()
                                .front()
                                .getTerminator()
                                ->getOperand(0));
  size_t fc = 0, bag = 0;
  module.walk([&](Operation *op) {
    if (!isa<recq::FcOp, recq::EmbeddingBagOp>(op))
      return;
    LayerError l;
    l.kind = isa<recq::FcOp>(op) ? "fc" : "table";
    l.name = isa<recq::FcOp>(op) ? names->fcs[fc++].name
                                 : names->tables[sites->bagTable[bag++]].name;
    l.precision = precisionOf(l.kind, l.name);
    l.width = widthOf(op->getResult(0));
    layers.push_back(l);
  });

  // One variant: the module returning [output, every layer] side by side.
  auto run = [&](const Plan *applied,
                 llvm::StringRef stem) -> Expected<std::vector<float>> {
    OwningOpRef<ModuleOp> copy = module.clone();
    auto main = copy->lookupSymbol<func::FuncOp>("main");
    SmallVector<Value> values;
    values.push_back(main.getBody().front().getTerminator()->getOperand(0));
    copy->walk([&](Operation *op) {
      if (isa<recq::FcOp, recq::EmbeddingBagOp>(op))
        values.push_back(op->getResult(0));
    });
    if (Error e = returnSideBySide(*copy, values, "layers"))
      return std::move(e);
    if (applied)
      if (Error e = applyPlan(*copy, *applied))
        return std::move(e);
    return runAll(compileAndLoad(*copy, *dir, stem, target, *npz, npzPath));
  };
  auto fp32 = run(nullptr, "fp32");
  if (!fp32)
    return fp32.takeError();
  auto planned = run(&plan, "plan");
  if (!planned)
    return planned.takeError();

  int64_t total = 0;
  for (const LayerError &l : layers)
    total += l.width;
  if (total == 0 || fp32->size() != planned->size() ||
      fp32->size() % total)
    return llvm::createStringError("the layer outputs do not line up (a recq "
                                   "bug)");
  int64_t rows = fp32->size() / total;
  int64_t column = 0;
  for (LayerError &l : layers) {
    double signal = 0, noise = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = column; c < column + l.width; ++c) {
        double ref = (*fp32)[r * total + c], x = (*planned)[r * total + c];
        signal += ref * ref;
        noise += (x - ref) * (x - ref);
      }
    l.sqnr = noise == 0 ? INFINITY : 10 * std::log10(signal / noise);
    column += l.width;
  }
  // The model's output last.
  std::rotate(layers.begin(), layers.begin() + 1, layers.end());
  return layers;
}

} // namespace recq::quant
