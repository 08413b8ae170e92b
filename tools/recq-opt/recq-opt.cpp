//===- recq-opt.cpp - mlir-opt for the recq dialect -----------------------===//
//
// Parses, verifies, transforms and prints IR with the recq dialect, the
// upstream dialects recq's pipeline uses, and recq's passes registered.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Pipelines/Pipelines.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<recq::RecqDialect, mlir::arith::ArithDialect,
                  mlir::bufferization::BufferizationDialect,
                  mlir::func::FuncDialect, mlir::LLVM::LLVMDialect,
                  mlir::linalg::LinalgDialect, mlir::math::MathDialect,
                  mlir::memref::MemRefDialect,
                  mlir::quant::QuantizationDialect, mlir::scf::SCFDialect,
                  mlir::tensor::TensorDialect, mlir::vector::VectorDialect,
                  mlir::x86vector::X86VectorDialect>();

  // Upstream dialects with their external interface models (bufferization,
  // conversion to LLVM), as mlir-opt has them: the lowering needs them.
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // Upstream passes (the lowering pipeline is written in them) and recq's.
  mlir::registerAllPasses();
  recq::registerAllRecqPasses();

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "recq optimizer driver\n", registry));
}
