//===- recq-import-fuzzer.cpp - libFuzzer target for the ONNX importer ----===//
//
// Feeds arbitrary bytes to the importer as a model file. Every input must
// end in a module or an llvm::Error; a crash, a sanitizer report, an
// uncaught exception or a hang is a bug. Built by the `fuzz` preset
// (clang-19, -fsanitize=fuzzer,address); run with scripts/fuzz.
//
//===----------------------------------------------------------------------===//

#include "recq/Import/OnnxImporter.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A context per input would dominate the time, one for the whole run
  // would grow without bound (attributes are uniqued in it and never
  // freed): a fresh one every 256 inputs.
  static std::unique_ptr<mlir::MLIRContext> context;
  static unsigned uses = 0;
  if (!context || ++uses % 256 == 0) {
    context = std::make_unique<mlir::MLIRContext>(
        mlir::MLIRContext::Threading::DISABLED);
    context->printOpOnDiagnostic(false);
  }
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  auto module = recq::importOnnxBuffer(bytes, "fuzz-input.onnx", *context);
  if (!module)
    llvm::consumeError(module.takeError());
  return 0;
}
