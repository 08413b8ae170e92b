//===- recq-compile.cpp - ONNX model to recq artifacts --------------------===//
//
// The compiler driver. Today it imports an ONNX model and prints the recq
// module (`--emit=mlir`); the later stages (llvm-ir, obj, so) join as the
// lowering lands. Every failure is one line on stderr,
// `error: <file>: <what>`, and exit status 1.
//
//===----------------------------------------------------------------------===//

#include "recq/Import/OnnxImporter.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

namespace cl = llvm::cl;

namespace {
enum class EmitStage { Mlir };

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.onnx>"),
                               cl::Required);
cl::opt<std::string> outputFile("o", cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"));
cl::opt<EmitStage> emit(
    "emit", cl::desc("Stage to stop at and print"), cl::init(EmitStage::Mlir),
    cl::values(clEnumValN(EmitStage::Mlir, "mlir",
                          "the imported module in the recq dialect")));
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // --mlir-elide-elementsattrs-if-larger=N and friends.
  mlir::registerAsmPrinterCLOptions();
  cl::ParseCommandLineOptions(argc, argv, "recq compiler: ONNX -> recq\n");

  mlir::MLIRContext context;
  auto module = recq::importOnnxFile(inputFile, context);
  if (!module) {
    llvm::WithColor::error(llvm::errs())
        << inputFile << ": " << llvm::toString(module.takeError()) << "\n";
    return 1;
  }

  std::string error;
  auto output = mlir::openOutputFile(outputFile, &error);
  if (!output) {
    llvm::WithColor::error(llvm::errs()) << error << "\n";
    return 1;
  }
  (*module)->print(output->os(), mlir::OpPrintingFlags());
  output->keep();
  return 0;
}
