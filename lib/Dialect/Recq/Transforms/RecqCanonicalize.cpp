//===- RecqCanonicalize.cpp - recq-canonicalize pass ----------------------===//
//
// Applies the recq dialect's own folders and canonicalization patterns, and
// nothing from other dialects, with the greedy driver.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace recq {
#define GEN_PASS_DEF_RECQCANONICALIZEPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {
struct RecqCanonicalizePass
    : recq::impl::RecqCanonicalizePassBase<RecqCanonicalizePass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    auto *dialect = context->getLoadedDialect<recq::RecqDialect>();
    dialect->getCanonicalizationPatterns(patterns);
    for (RegisteredOperationName op : context->getRegisteredOperations())
      if (&op.getDialect() == dialect)
        op.getCanonicalizationPatterns(patterns, context);

    // The driver folds every op on its worklist, so seed it with the recq
    // ops only (and the ops the patterns create): upstream glue is left as
    // the importer wrote it.
    SmallVector<Operation *> recqOps;
    getOperation()->walk([&](Operation *op) {
      if (op->getDialect() == dialect)
        recqOps.push_back(op);
    });
    GreedyRewriteConfig config;
    config.strictMode = GreedyRewriteStrictness::ExistingAndNewOps;
    if (failed(applyOpPatternsAndFold(recqOps, std::move(patterns), config)))
      signalPassFailure();
  }
};
} // namespace
