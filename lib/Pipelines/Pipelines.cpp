//===- Pipelines.cpp - recq's named pass pipelines ------------------------===//
//
// recq-lower-to-llvm: the int8 and fp32 paths from recq ops on tensors to the
// LLVM dialect, and the code-generation pipeline around it, written as textual
// pipelines of recq's and upstream's passes so `recq-opt`, `recq-compile`
// and `recq-compile --print-pipeline` run and show exactly the same thing.
//
//===----------------------------------------------------------------------===//

#include "recq/Pipelines/Pipelines.h"

#include "recq/Conversion/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

/// Each line is one step; see docs/Lowering.md for why each is there.
/// `{qfc-target}` and `{fc-target}` are replaced by the FC kernels' variants
/// (the code-generation target's own unless a test names an emulated one).
static const char kLowerToLLVM[] =
    // int8 FCs -> kernels on storage types (while their quant types are
    // still there to read); the remaining quantize/dequantize -> integer
    // math on storage types; fp32 FCs with constant weights -> kernels;
    // the rest -> linalg/scf/vector on tensors (the tables' bags ->
    // calls of one pooling function per kind of table), tidied. (Dot
    // interactions first: calls of the runtime's kernel.)
    "convert-recq-interaction-to-call{target={target}},"
    "func.func(convert-recq-qfc-to-kernel{target={qfc-target}},"
    "recq-lower-quant-types,"
    "convert-recq-fc-to-kernel{target={fc-target}}),"
    "convert-recq-to-linalg,func.func(canonicalize,cse),"
    // Tensors -> buffers; results of @main are allocated and returned,
    // everything else is freed where its last use ends.
    "one-shot-bufferize{bufferize-function-boundaries=1 "
    "function-boundary-type-conversion=identity-layout-map},"
    "buffer-deallocation-pipeline,"
    // The copies it makes of results @main does not own (a constant, an
    // input returned as it is) -> allocations and copies.
    "convert-bufferization-to-memref,"
    // Table rows a few indices ahead (needs buffers).
    "func.func(recq-prefetch-rows{distance={distance}}),"
    // Target instructions of the int8 kernels -> llvm.call_intrinsic (or
    // calls of the runtime's AMX model, for amx-emulated).
    "recq-lower-intrinsics,"
    // Structured ops -> loops, vector transfers -> loads/stores.
    // (expand-strided-metadata writes affine.apply, so lower-affine follows).
    "func.func(convert-linalg-to-loops),convert-vector-to-scf,"
    "expand-strided-metadata,lower-affine,convert-scf-to-cf,canonicalize,"
    // Everything -> LLVM dialect.
    // Buffers come from the runtime's per-thread cache (recq_memref.c).
    // (a reduction's summation order is LLVM's fixed tree, not sequential)
    "convert-vector-to-llvm{reassociate-fp-reductions=1},convert-math-to-llvm,"
    "finalize-memref-to-llvm{use-generic-functions=1},"
    "convert-arith-to-llvm,convert-index-to-llvm,convert-cf-to-llvm,"
    "convert-func-to-llvm,reconcile-unrealized-casts";

std::string recq::lowerToLLVMPipeline(const PipelineOptions &options) {
  std::string text = kLowerToLLVM;
  auto substitute = [&](StringRef key, const std::string &value) {
    size_t at = text.find(key.str());
    text.replace(at, key.size(), value);
  };
  substitute("{qfc-target}",
             options.qfcKernel.empty() ? options.target : options.qfcKernel);
  substitute("{fc-target}",
             options.fcKernel.empty() ? options.target : options.fcKernel);
  substitute("{target}", options.target);
  substitute("{distance}", std::to_string(options.prefetchDistance));
  return text;
}

std::string recq::lowerModelPipeline(const PipelineOptions &options) {
  // One function per table and one for the rest, so the runtime can pool
  // the tables on its threads; @main renamed recq_entry, C entry points;
  // the profile's clock calls where recq-profile-ops numbered ops.
  return "recq-split-bags,recq-export-entry-points,recq-insert-profile-marks," +
         lowerToLLVMPipeline(options);
}

std::string recq::codegenPipeline(const PipelineOptions &options) {
  // recq-compile batches the bags (recq-fuse) before it describes the
  // model, then runs lowerModelPipeline.
  return "builtin.module(func.func(recq-fuse)," + lowerModelPipeline(options) +
         ")";
}

LogicalResult recq::buildLowerToLLVMPipeline(OpPassManager &pm,
                                             const PipelineOptions &options) {
  return parsePassPipeline(lowerToLLVMPipeline(options), pm, llvm::errs());
}

namespace {
struct LowerToLLVMOptions : PassPipelineOptions<LowerToLLVMOptions> {
  Option<std::string> target{
      *this, "target",
      llvm::cl::desc("Code-generation target: generic, avx2, avx512, "
                     "avx512-vnni, avx512-bf16"),
      llvm::cl::init("avx2")};
  Option<int64_t> prefetchDistance{
      *this, "prefetch-distance",
      llvm::cl::desc("Indices ahead to prefetch table rows (0: off)"),
      llvm::cl::init(recq::kDefaultPrefetchDistance)};
};
} // namespace

void recq::registerAllRecqPasses() {
  // Tests and tools may call this more than once; a pipeline name may be
  // registered only once.
  static const bool registered = [] {
    registerRecqPasses();
    registerRecqConversionPasses();
    PassPipelineRegistration<LowerToLLVMOptions>(
        "recq-lower-to-llvm",
        "Lower recq ops on tensors to the LLVM dialect "
        "(int8 and fp32 FC micro-kernels, convert-recq-to-linalg, "
        "bufferization, loops, LLVM conversion)",
        [](OpPassManager &pm, const LowerToLLVMOptions &options) {
          recq::PipelineOptions pipeline;
          pipeline.target = options.target;
          pipeline.prefetchDistance = options.prefetchDistance;
          if (failed(buildLowerToLLVMPipeline(pm, pipeline)))
            llvm::report_fatal_error("recq-lower-to-llvm does not parse");
        });
    return true;
  }();
  (void)registered;
}
