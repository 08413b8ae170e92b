//===- Codegen.cpp - recq module to LLVM IR and object code ---------------===//

#include "recq/Target/Codegen.h"

#include "recq/Pipelines/Pipelines.h"
#include "recq/Runtime/recq_cpu.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"

using namespace mlir;
using llvm::Error;
using llvm::Expected;

std::optional<recq::CodegenTarget> recq::lookupTarget(llvm::StringRef name) {
  // x86-64-v3 is Haswell's set (AVX2, FMA, F16C, BMI); v4 adds
  // AVX512F/BW/CD/DQ/VL. "-prefer-256-bit" lets LLVM's vectorizers use zmm
  // (LLVM has no "prefer-512-bit"; naming it only printed a warning).
  if (name == "generic")
    return CodegenTarget{"generic", "x86-64", ""};
  if (name == "avx2")
    return CodegenTarget{"avx2", "x86-64-v3", ""};
  if (name == "avx512")
    return CodegenTarget{"avx512", "x86-64-v4", "-prefer-256-bit"};
  if (name == "avx512-vnni")
    return CodegenTarget{"avx512-vnni", "x86-64-v4",
                         "+avx512vnni,-prefer-256-bit"};
  return std::nullopt;
}

recq::CodegenTarget recq::hostTarget() {
  for (const char *name : {"avx512-vnni", "avx512", "avx2"}) {
    uint32_t mask = 0;
    if (recq_target_features(name, &mask) == 0 &&
        recq_cpu_missing(mask, nullptr, 0) == 0)
      return *lookupTarget(name);
  }
  return *lookupTarget("generic");
}

/// Runs `pm` on `module`, turning diagnostics into one error message.
static Error runCapturingDiagnostics(PassManager &pm, ModuleOp module) {
  std::string message;
  ScopedDiagnosticHandler capture(module.getContext(), [&](Diagnostic &diag) {
    if (diag.getSeverity() != DiagnosticSeverity::Error)
      return success();
    if (!message.empty())
      message += "; ";
    llvm::raw_string_ostream os(message);
    os << diag.getLocation() << ": " << diag.str();
    return success();
  });
  if (succeeded(pm.run(module)))
    return Error::success();
  return llvm::createStringError("lowering failed: " +
                   (message.empty() ? std::string("unknown reason") : message));
}

recq::PipelineOptions recq::pipelineOptions(const CodegenTarget &target) {
  PipelineOptions options;
  options.target = target.name;
  options.prefetchDistance = target.prefetchDistance;
  options.qfcKernel = target.qfcKernel;
  return options;
}

Error recq::lowerToLLVMDialect(ModuleOp module, const CodegenTarget &target) {
  // recq-split-bags, recq-export-entry-points, recq-lower-to-llvm: see
  // lowerModelPipeline (recq-compile --print-pipeline shows it).
  PassManager pm(module.getContext());
  if (failed(parsePassPipeline(lowerModelPipeline(pipelineOptions(target)), pm,
                               llvm::errs())))
    return llvm::createStringError("recq-lower-to-llvm does not parse (a recq bug)");
  return runCapturingDiagnostics(pm, module);
}

static Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const recq::CodegenTarget &target) {
  static const bool initialized = [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    return true;
  }();
  (void)initialized;
  llvm::Triple triple("x86_64-pc-linux-gnu");
  std::string error;
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(triple.getTriple(), error);
  if (!llvmTarget)
    return llvm::createStringError("no LLVM x86 target: " + error);
  llvm::TargetOptions options;
  std::unique_ptr<llvm::TargetMachine> machine(
      llvmTarget->createTargetMachine(triple.getTriple(), target.cpu,
                                      target.features, options,
                                      llvm::Reloc::PIC_, std::nullopt,
                                      llvm::CodeGenOptLevel::Aggressive));
  if (!machine)
    return llvm::createStringError("cannot create a target machine for " + target.name);
  return std::move(machine);
}

Expected<std::unique_ptr<llvm::Module>>
recq::translateAndOptimize(ModuleOp module, llvm::LLVMContext &context,
                           const CodegenTarget &target) {
  registerBuiltinDialectTranslation(*module.getContext());
  registerLLVMDialectTranslation(*module.getContext());
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, context, "recq_model");
  if (!llvmModule)
    return llvm::createStringError("translation to LLVM IR failed (a recq bug)");

  Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(target);
  if (!machine)
    return machine.takeError();
  llvmModule->setDataLayout((*machine)->createDataLayout());
  llvmModule->setTargetTriple((*machine)->getTargetTriple().getTriple());
  for (llvm::Function &f : *llvmModule) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", target.cpu);
    if (!target.features.empty())
      f.addFnAttr("target-features", target.features);
  }

  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder(machine->get());
  builder.registerModuleAnalyses(mam);
  builder.registerCGSCCAnalyses(cgam);
  builder.registerFunctionAnalyses(fam);
  builder.registerLoopAnalyses(lam);
  builder.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm =
      builder.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(*llvmModule, mam);
  return std::move(llvmModule);
}

Error recq::emitObject(llvm::Module &module, const CodegenTarget &target,
                       llvm::raw_pwrite_stream &os) {
  Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(target);
  if (!machine)
    return machine.takeError();
  llvm::legacy::PassManager pm;
  if ((*machine)->addPassesToEmitFile(pm, os, nullptr,
                                      llvm::CodeGenFileType::ObjectFile))
    return llvm::createStringError("the target cannot emit object files");
  pm.run(module);
  return Error::success();
}
