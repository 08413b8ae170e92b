//===- RecqExportEntryPoints.cpp - The runtime's entry points -------------===//
//
// See Passes.td (recq-export-entry-points).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/IR/SymbolTable.h"

namespace recq {
#define GEN_PASS_DEF_RECQEXPORTENTRYPOINTSPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {
struct RecqExportEntryPointsPass
    : recq::impl::RecqExportEntryPointsPassBase<RecqExportEntryPointsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    for (auto fn : module.getOps<func::FuncOp>())
      if (fn.getSymName() == "recq_rest" ||
          fn.getSymName().starts_with("recq_bag_"))
        fn->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main)
      return;
    if (failed(SymbolTable::replaceAllSymbolUses(
            main, StringAttr::get(ctx, "recq_entry"), module))) {
      main.emitError("recq-export-entry-points: cannot rename @main");
      return signalPassFailure();
    }
    SymbolTable::setSymbolName(main, "recq_entry");
    main->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
  }
};
} // namespace
