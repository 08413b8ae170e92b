//===- Pipelines.cpp - recq's named pass pipelines ------------------------===//
//
// recq-lower-to-llvm: the fp32 path from recq ops on tensors to the LLVM
// dialect, written as a textual pipeline of recq's and upstream's passes so
// `recq-opt` and `recq-compile` run exactly the same thing.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

/// Each line is one step; see docs/Lowering.md for why each is there.
static const char kLowerToLLVM[] =
    // recq ops -> linalg/scf/vector on tensors, tidied.
    "func.func(convert-recq-to-linalg,canonicalize,cse),"
    // Tensors -> buffers; results of @main are allocated and returned,
    // everything else is freed where its last use ends.
    "one-shot-bufferize{bufferize-function-boundaries=1 "
    "function-boundary-type-conversion=identity-layout-map},"
    "buffer-deallocation-pipeline,"
    // Structured ops -> loops, vector transfers -> loads/stores.
    // (expand-strided-metadata writes affine.apply, so lower-affine follows).
    "func.func(convert-linalg-to-loops),convert-vector-to-scf,"
    "expand-strided-metadata,lower-affine,convert-scf-to-cf,canonicalize,"
    // Everything -> LLVM dialect.
    "convert-vector-to-llvm,convert-math-to-llvm,finalize-memref-to-llvm,"
    "convert-arith-to-llvm,convert-index-to-llvm,convert-cf-to-llvm,"
    "convert-func-to-llvm,reconcile-unrealized-casts";

LogicalResult recq::buildLowerToLLVMPipeline(OpPassManager &pm) {
  return parsePassPipeline(kLowerToLLVM, pm, llvm::errs());
}

void recq::registerRecqPipelines() {
  PassPipelineRegistration<>(
      "recq-lower-to-llvm",
      "Lower fp32 recq ops on tensors to the LLVM dialect "
      "(convert-recq-to-linalg, bufferization, loops, LLVM conversion)",
      [](OpPassManager &pm) {
        if (failed(buildLowerToLLVMPipeline(pm)))
          llvm::report_fatal_error("recq-lower-to-llvm does not parse");
      });
}
