//===- Pipelines.h - recq's pass pipelines ----------------------*- C++ -*-===//
//
// The code-generation pipeline, written as text so that recq-compile,
// recq-opt (--pass-pipeline, -recq-lower-to-llvm) and `recq-compile
// --print-pipeline` run and show exactly the same passes.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_PIPELINES_PIPELINES_H
#define RECQ_PIPELINES_PIPELINES_H

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"

#include <string>

namespace recq {

/// What the code-generation pipeline depends on.
struct PipelineOptions {
  /// generic, avx2, avx512, avx512-vnni, avx512-bf16, amx.
  std::string target = "avx2";
  /// Embedding rows prefetched this many indices ahead (0: off).
  int64_t prefetchDistance = kDefaultPrefetchDistance;
  /// The int8 kernel variant when it is not `target`'s own (empty: the
  /// target's; tests use avx512-vnni-emulated and amx-emulated).
  std::string qfcKernel;
  /// The same for the fp32 and bf16 FC kernel (tests use amx-emulated).
  std::string fcKernel;
};

/// recq-lower-to-llvm as text: recq ops on tensors to the LLVM dialect
/// (kernels, convert-recq-to-linalg, bufferization, loops, LLVM
/// conversion), a list of passes on a module (no `builtin.module(...)`).
std::string lowerToLLVMPipeline(const PipelineOptions &options);

/// What recq-compile runs on a model after describing it:
/// recq-split-bags, recq-export-entry-points, then recq-lower-to-llvm.
std::string lowerModelPipeline(const PipelineOptions &options);

/// The whole pipeline recq-compile runs after quantization, as
/// `builtin.module(...)`: the bags batched (recq-fuse), split per table,
/// the entry points named, recq-lower-to-llvm. What `--emit=mlir` writes,
/// run through it by `recq-opt --pass-pipeline=...`, is what
/// `--emit=llvm-dialect` writes.
std::string codegenPipeline(const PipelineOptions &options);

/// Appends recq-lower-to-llvm to `pm`, which must run on a module. Needs
/// the passes registered (registerAllRecqPasses).
mlir::LogicalResult buildLowerToLLVMPipeline(mlir::OpPassManager &pm,
                                             const PipelineOptions &options);

/// Registers recq's passes (dialect transforms and conversions) and its
/// named pipeline recq-lower-to-llvm; upstream's passes are registered
/// by the caller (mlir::registerAllPasses).
void registerAllRecqPasses();

} // namespace recq

#endif // RECQ_PIPELINES_PIPELINES_H
