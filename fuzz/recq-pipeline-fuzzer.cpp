//===- recq-pipeline-fuzzer.cpp - import, raise, lower, emit an object ----===//
//
// Every input that imports is compiled the way recq-compile compiles it
// (recq-fuse, tables stored in a precision the input's hash picks, the
// model description, the lowering to the LLVM dialect, -O3 and an object
// for a target the hash picks) into memory. Every step must end in a
// result or an llvm::Error. Built with the structure-aware mutator
// (CustomMutator.cpp), so most inputs are models. Prints at exit how many
// inputs imported and how many became objects.
//
//===----------------------------------------------------------------------===//

#include "recq/Driver/Quantize.h"
#include "recq/Import/OnnxImporter.h"
#include "recq/Pipelines/Pipelines.h"
#include "recq/Target/Codegen.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/xxhash.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

unsigned long imported = 0, compiled = 0;

void report() {
  std::fprintf(stderr,
               "recq-pipeline-fuzzer: %lu inputs imported, %lu compiled to "
               "objects\n",
               imported, compiled);
}

std::unique_ptr<mlir::MLIRContext> freshContext() {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  auto context = std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
  context->printOpOnDiagnostic(false);
  return context;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  mlir::registerAllPasses();
  recq::registerAllRecqPasses();
  std::atexit(report);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A fresh context every 64 inputs bounds what uniquing keeps.
  static std::unique_ptr<mlir::MLIRContext> context;
  static unsigned uses = 0;
  if (!context || ++uses % 64 == 0)
    context = freshContext();
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  auto module = recq::importOnnxBuffer(bytes, "fuzz-input.onnx", *context);
  if (!module) {
    llvm::consumeError(module.takeError());
    return 0;
  }
  ++imported;
  uint64_t hash = llvm::xxh3_64bits(
      llvm::ArrayRef<uint8_t>(data, size));
  const char *precisions[] = {"fp32", "fp16", "int8", "int4"};
  const char *targets[] = {"generic", "avx2", "avx512", "avx512-vnni"};
  auto target = recq::lookupTarget(targets[hash % 4]);
  if (!target)
    std::abort(); // every name above is a target
  const char *precision = precisions[(hash >> 2) % 4];
  mlir::ModuleOp m = **module;
  auto step = [](llvm::Error e) {
    if (!e)
      return true;
    llvm::consumeError(std::move(e));
    return false;
  };
  if (std::string(precision) != "fp32") {
    auto count = recq::quant::quantizeTables(m, precision);
    if (!count)
      return step(count.takeError()), 0;
  }
  auto batched = recq::quant::batchEmbeddingBags(m);
  if (!batched)
    return step(batched.takeError()), 0;
  auto description = recq::describeModelAsC(m, *target);
  if (!description)
    return step(description.takeError()), 0;
  llvm::SmallVector<char, 0> object;
  llvm::raw_svector_ostream os(object);
  if (!step(recq::compileToObject(m, *target, os)))
    return 0;
  ++compiled;
  return 0;
}
