//===- Codegen.cpp - recq module to LLVM IR and object code ---------------===//

#include "recq/Target/Codegen.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Pipelines/Pipelines.h"
#include "recq/Runtime/recq_cpu.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Linker/Linker.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/BLAKE3.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/Threading.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Transforms/IPO/ConstantMerge.h"
#include "llvm/Transforms/IPO/GlobalDCE.h"
#include "llvm/Transforms/Utils/Cloning.h"

#include <algorithm>
#include <numeric>

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
  if (name == "avx512-bf16")
    return CodegenTarget{"avx512-bf16", "x86-64-v4",
                         "+avx512vnni,+avx512bf16,-prefer-256-bit"};
  // Intel Xeons since Sapphire Rapids: AMX tiles for the int8 FCs, and
  // everything avx512-bf16 has (every AMX CPU has AVX512_BF16).
  if (name == "amx")
    return CodegenTarget{"amx", "x86-64-v4",
                         "+avx512vnni,+avx512bf16,+amx-tile,+amx-int8,"
                         "+amx-bf16,-prefer-256-bit"};
  return std::nullopt;
}

/// Every target, best first: the order of a model's variants.
static constexpr const char *kTargetsBestFirst[] = {
    "amx", "avx512-bf16", "avx512-vnni", "avx512", "avx2", "generic"};

uint32_t recq::targetFeatures(const CodegenTarget &target) {
  uint32_t mask = 0;
  if (recq_target_features(target.name.c_str(), &mask) != 0)
    return ~0u; // no CPU has every feature
  return mask;
}

bool recq::cpuRuns(const CodegenTarget &target) {
  return recq_cpu_missing(targetFeatures(target), nullptr, 0) == 0;
}

recq::CodegenTarget recq::hostTarget() {
  for (const char *name : kTargetsBestFirst)
    if (CodegenTarget target = *lookupTarget(name); cpuRuns(target))
      return target;
  return *lookupTarget("generic");
}

std::string recq::targetNames() {
  return llvm::join(std::begin(kTargetsBestFirst), std::end(kTargetsBestFirst),
                    ", ");
}

Expected<llvm::SmallVector<recq::CodegenTarget>>
recq::parseTargets(llvm::StringRef list) {
  llvm::SmallVector<llvm::StringRef> names;
  list.split(names, ',', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  if (names.empty())
    return llvm::createStringError("no target named (" + targetNames() + ")");
  for (llvm::StringRef name : names)
    if (!lookupTarget(name.trim()))
      return llvm::createStringError("unknown target '" + name.trim() + "' (" +
                                     targetNames() + ")");
  llvm::SmallVector<CodegenTarget> targets;
  for (const char *name : kTargetsBestFirst)
    if (llvm::any_of(names,
                     [&](llvm::StringRef n) { return n.trim() == name; }))
      targets.push_back(*lookupTarget(name));
  return targets;
}

llvm::SmallVector<recq::CodegenTarget> recq::defaultTargets(ModuleOp module) {
  // The int8 FC kernel has AMX (tdpbusd) and VNNI (vpdpbusd) forms, the
  // bf16 one AMX (tdpbf16ps) and AVX-512 BF16 (vdpbf16ps) forms; fp32 FCs
  // run avx512's kernel on all four.
  bool int8 = false, bf16 = false;
  module.walk([&](recq::QfcOp) { int8 = true; });
  module.walk([&](recq::FcOp fc) {
    bf16 |= fc.getWeight().getType().getElementType().isBF16();
  });
  llvm::SmallVector<CodegenTarget> targets;
  for (const char *name : kTargetsBestFirst) {
    llvm::StringRef n(name);
    if ((n == "avx512-bf16" && !bf16) || (n == "avx512-vnni" && !int8) ||
        (n == "amx" && !int8 && !bf16))
      continue;
    targets.push_back(*lookupTarget(name));
  }
  return targets;
}

std::string recq::variantSuffix(const CodegenTarget &target) {
  std::string suffix = "__" + target.name;
  std::replace(suffix.begin(), suffix.end(), '-', '_');
  return suffix;
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
  options.fcKernel = target.fcKernel;
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
    // Only the C interface of an entry point is called (by the model's
    // description); the function it wraps is internal, so LLVM inlines it
    // into the wrapper and drops it instead of emitting both (the tables'
    // functions were emitted twice: a third of a DLRM's machine code).
    if (llvmModule->getFunction(("_mlir_ciface_" + f.getName()).str()))
      f.setLinkage(llvm::GlobalValue::InternalLinkage);
    f.addFnAttr("target-cpu", target.cpu);
    if (!target.features.empty())
      f.addFnAttr("target-features", target.features);
  }

  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  // No SLP vectorizer: the kernels are vector code already (the vector
  // dialect), and on the MLPerf-shaped and tiny DLRMs at every precision
  // (fp32, bf16, int8 with int8/int4/fp16 tables) and every target it
  // changed no instruction of the object while taking a fifth of -O3's
  // time. The loop vectorizer stays: the pooling loops use it.
  llvm::PipelineTuningOptions tuning;
  tuning.SLPVectorization = false;
  llvm::PassBuilder builder(machine->get(), tuning);
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

/// Renames `variant`'s exported functions and globals to end with
/// `suffix`; marks its constants unnamed_addr (the generated code never
/// compares their addresses), so equal ones of two variants can merge.
static void nameVariant(llvm::Module &variant, llvm::StringRef suffix) {
  for (llvm::GlobalValue &value : variant.global_values()) {
    if (value.isDeclaration())
      continue;
    if (!value.hasLocalLinkage())
      value.setName(value.getName() + suffix);
    if (auto *global = llvm::dyn_cast<llvm::GlobalVariable>(&value))
      if (global->isConstant() && global->hasLocalLinkage())
        global->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  }
}

/// Lowers `module` (consumed) for `target`, translates it into `context`,
/// optimizes it and names its exports as the variant's.
static Expected<std::unique_ptr<llvm::Module>>
compileVariant(ModuleOp module, const recq::CodegenTarget &target,
               llvm::LLVMContext &context) {
  if (Error e = recq::lowerToLLVMDialect(module, target))
    return std::move(e);
  Expected<std::unique_ptr<llvm::Module>> variant =
      recq::translateAndOptimize(module, context, target);
  if (!variant)
    return variant.takeError();
  nameVariant(**variant, recq::variantSuffix(target));
  return variant;
}

llvm::Error
recq::onModuleCopies(ModuleOp module, size_t count,
                     llvm::function_ref<llvm::Error(ModuleOp, size_t)> work) {
  int cores = std::max(1, llvm::get_physical_cores());
  if (count < 2 || cores < 2) {
    for (size_t i = 0; i < count; ++i) {
      OwningOpRef<ModuleOp> copy = module.clone();
      if (llvm::Error e = work(*copy, i))
        return e;
    }
    return llvm::Error::success();
  }
  std::string bytecode;
  {
    llvm::raw_string_ostream os(bytecode);
    if (failed(writeBytecodeToFile(module, os)))
      return llvm::createStringError("cannot write the module's bytecode "
                                     "(a recq bug)");
  }
  const DialectRegistry &registry = module.getContext()->getDialectRegistry();
  std::vector<std::string> errors(count);
  {
    llvm::DefaultThreadPool pool(
        llvm::hardware_concurrency(std::min<unsigned>(count, unsigned(cores))));
    for (size_t i = 0; i < count; ++i)
      pool.async([&, i] {
        MLIRContext context(registry, MLIRContext::Threading::DISABLED);
        ParserConfig config(&context);
        OwningOpRef<ModuleOp> copy =
            parseSourceString<ModuleOp>(bytecode, config, "module copy");
        if (!copy)
          errors[i] = "cannot read the module back (a recq bug)";
        else if (llvm::Error e = work(*copy, i))
          errors[i] = llvm::toString(std::move(e));
      });
    pool.wait();
  }
  for (const std::string &error : errors)
    if (!error.empty())
      return llvm::createStringError(error);
  return llvm::Error::success();
}

Expected<std::unique_ptr<llvm::Module>>
recq::compileVariants(ModuleOp module, llvm::ArrayRef<CodegenTarget> targets,
                      llvm::LLVMContext &context) {
  if (targets.empty())
    return llvm::createStringError("no target to compile for");
  if (targets.size() == 1) {
    OwningOpRef<ModuleOp> copy = module.clone();
    return compileVariant(*copy, targets.front(), context);
  }
  // Several: each variant in its own MLIR and LLVM contexts, on as many
  // threads as there are cores, then linked here in target order (so the
  // result does not depend on which finished first).
  std::vector<llvm::SmallVector<char, 0>> bitcodes(targets.size());
  if (llvm::Error e = onModuleCopies(
          module, targets.size(), [&](ModuleOp copy, size_t i) -> llvm::Error {
            llvm::LLVMContext llvmContext;
            Expected<std::unique_ptr<llvm::Module>> variant =
                compileVariant(copy, targets[i], llvmContext);
            if (!variant)
              return variant.takeError();
            llvm::raw_svector_ostream os(bitcodes[i]);
            llvm::WriteBitcodeToFile(**variant, os);
            return llvm::Error::success();
          }))
    return std::move(e);
  std::unique_ptr<llvm::Module> linked;
  for (size_t i = 0; i < targets.size(); ++i) {
    llvm::StringRef data(bitcodes[i].data(), bitcodes[i].size());
    Expected<std::unique_ptr<llvm::Module>> variant = llvm::parseBitcodeFile(
        llvm::MemoryBufferRef(data, targets[i].name), context);
    if (!variant)
      return variant.takeError();
    if (!linked) {
      linked = std::move(*variant);
      continue;
    }
    if (llvm::Linker::linkModules(*linked, std::move(*variant)))
      return llvm::createStringError("linking the " + targets[i].name +
                                     " variant failed (a recq bug)");
  }
  // Constants equal across variants, stored once.
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder builder;
  builder.registerModuleAnalyses(mam);
  llvm::ModulePassManager mpm;
  mpm.addPass(llvm::ConstantMergePass());
  mpm.addPass(llvm::GlobalDCEPass());
  mpm.run(*linked, mam);
  return std::move(linked);
}

/// Constants of at least this many bytes are named by their contents
/// (shareConstantsByContent).
static constexpr size_t kSharedConstantBytes = 1024;
/// Constant arrays of numbers of at least this many bytes are stored as
/// byte arrays (storeConstantsAsBytes).
static constexpr size_t kBytesConstantMin = 256;

/// Appends the bytes `value` occupies in memory to `bytes`: false for
/// anything but zeros and (nests of arrays of) integer or floating-point
/// data whose elements are stored without padding.
static bool appendConstantBytes(const llvm::Constant *value,
                                const llvm::DataLayout &layout,
                                std::vector<char> &bytes) {
  llvm::Type *type = value->getType();
  if (llvm::isa<llvm::ConstantAggregateZero>(value)) {
    bytes.resize(bytes.size() + layout.getTypeAllocSize(type).getFixedValue());
    return true;
  }
  // Its elements are i8-i64, half, bfloat, float or double: none padded.
  if (auto *data = llvm::dyn_cast<llvm::ConstantDataArray>(value)) {
    llvm::StringRef raw = data->getRawDataValues();
    bytes.insert(bytes.end(), raw.begin(), raw.end());
    return true;
  }
  auto *array = llvm::dyn_cast<llvm::ConstantArray>(value);
  if (!array)
    return false;
  for (const llvm::Use &element : array->operands())
    if (!appendConstantBytes(llvm::cast<llvm::Constant>(element.get()), layout,
                             bytes))
      return false;
  return true;
}

void recq::storeConstantsAsBytes(llvm::Module &module) {
  // The assembly printer writes a float array one APFloat at a time: the
  // fp32 MLPerf-shaped DLRM's 9 MB of FC weights took 1.4 s of codegen,
  // 0.6 s as bytes. The raw data is in the host's byte order.
  const llvm::DataLayout &layout = module.getDataLayout();
  if (!layout.isLittleEndian() || !llvm::sys::IsLittleEndianHost)
    return;
  llvm::LLVMContext &context = module.getContext();
  for (llvm::GlobalVariable &global :
       llvm::make_early_inc_range(module.globals())) {
    // Zeros are written as a count already.
    if (!global.isConstant() || !global.hasDefinitiveInitializer() ||
        global.isThreadLocal() ||
        llvm::isa<llvm::ConstantAggregateZero>(global.getInitializer()))
      continue;
    llvm::Type *type = global.getValueType();
    auto *array = llvm::dyn_cast<llvm::ArrayType>(type);
    // Byte arrays are printed in one piece already; small ones are not
    // worth the copy.
    if (!array || array->getElementType()->isIntegerTy(8) ||
        layout.getTypeAllocSize(type) < kBytesConstantMin)
      continue;
    std::vector<char> bytes;
    if (!appendConstantBytes(global.getInitializer(), layout, bytes) ||
        bytes.size() != layout.getTypeAllocSize(type))
      continue;
    auto *replacement = new llvm::GlobalVariable(
        module,
        llvm::ArrayType::get(llvm::Type::getInt8Ty(context), bytes.size()),
        /*isConstant=*/true, global.getLinkage(),
        llvm::ConstantDataArray::getRaw(
            llvm::StringRef(bytes.data(), bytes.size()), bytes.size(),
            llvm::Type::getInt8Ty(context)),
        "", &global);
    replacement->copyAttributesFrom(&global);
    // At least the alignment the code was compiled against.
    replacement->setAlignment(layout.getPreferredAlign(&global));
    replacement->setComdat(global.getComdat());
    replacement->setDSOLocal(global.isDSOLocal());
    replacement->takeName(&global);
    global.replaceAllUsesWith(replacement);
    global.eraseFromParent();
  }
}

/// Machine code of `module` (every function for the CPU and features its
/// attributes name) as an ELF object to `os`, on this thread.
static Error emitObjectHere(llvm::Module &module, llvm::raw_pwrite_stream &os) {
  recq::storeConstantsAsBytes(module);
  // The baseline machine: each function's attributes select its own
  // subtarget (target-cpu, target-features).
  Expected<std::unique_ptr<llvm::TargetMachine>> machine =
      createTargetMachine(*recq::lookupTarget("generic"));
  if (!machine)
    return machine.takeError();
  llvm::legacy::PassManager pm;
  if ((*machine)->addPassesToEmitFile(pm, os, nullptr,
                                      llvm::CodeGenFileType::ObjectFile))
    return llvm::createStringError("the target cannot emit object files");
  pm.run(module);
  return Error::success();
}

/// The object of one partition, read from `bitcode` into a context of
/// its own.
static Expected<llvm::SmallVector<char, 0>>
emitPartition(llvm::StringRef bitcode) {
  llvm::LLVMContext context;
  Expected<std::unique_ptr<llvm::Module>> part = llvm::parseBitcodeFile(
      llvm::MemoryBufferRef(bitcode, "partition"), context);
  if (!part)
    return part.takeError();
  llvm::SmallVector<char, 0> object;
  llvm::raw_svector_ostream os(object);
  if (Error e = emitObjectHere(**part, os))
    return std::move(e);
  return object;
}

/// `module` split into `parts` modules, as bitcode, whose functions'
/// instruction counts are about equal (largest first, each to the lightest
/// partition so far; llvm::SplitModule spreads by name or round robin, and
/// a model's variants differ 4x in size). Every local becomes a hidden
/// global named "recq.local.*" (apart from the runtime's names), so a
/// partition can use what another defines; the variables go to the
/// lightest partition.
static std::vector<llvm::SmallVector<char, 0>>
partitionAsBitcode(llvm::Module &module, unsigned parts) {
  for (llvm::GlobalValue &value : module.global_values()) {
    if (value.isDeclaration() || !value.hasLocalLinkage())
      continue;
    // Made unique by the module where two would clash.
    value.setName("recq.local." + value.getName());
    value.setLinkage(llvm::GlobalValue::ExternalLinkage);
    value.setVisibility(llvm::GlobalValue::HiddenVisibility);
  }
  std::vector<std::pair<unsigned, llvm::Function *>> functions;
  for (llvm::Function &f : module)
    if (!f.isDeclaration())
      functions.push_back({f.getInstructionCount(), &f});
  llvm::stable_sort(functions, [](const auto &a, const auto &b) {
    return a.first > b.first;
  });
  std::vector<uint64_t> load(parts, 0);
  auto lightest = [&] {
    return unsigned(llvm::min_element(load) - load.begin());
  };
  llvm::DenseMap<const llvm::GlobalValue *, unsigned> owner;
  for (auto [size, f] : functions) {
    unsigned p = lightest();
    owner[f] = p;
    load[p] += size + 1;
  }
  unsigned rest = lightest();
  std::vector<llvm::SmallVector<char, 0>> bitcodes(parts);
  for (unsigned p = 0; p < parts; ++p) {
    llvm::ValueToValueMapTy map;
    std::unique_ptr<llvm::Module> part =
        llvm::CloneModule(module, map, [&](const llvm::GlobalValue *value) {
          auto it = owner.find(value);
          return (it == owner.end() ? rest : it->second) == p;
        });
    llvm::raw_svector_ostream out(bitcodes[p]);
    llvm::WriteBitcodeToFile(*part, out);
  }
  return bitcodes;
}

/// `objects` joined into one relocatable object (`ld -r`) written to `os`.
static Error joinObjects(llvm::StringRef ld,
                         llvm::ArrayRef<llvm::SmallVector<char, 0>> objects,
                         llvm::raw_pwrite_stream &os) {
  std::vector<std::string> paths;
  auto removeAll = llvm::make_scope_exit([&] {
    for (const std::string &path : paths)
      llvm::sys::fs::remove(path);
  });
  auto temporary = [&](llvm::StringRef suffix) -> Expected<std::string> {
    llvm::SmallString<128> path;
    if (std::error_code ec =
            llvm::sys::fs::createTemporaryFile("recq-part", suffix, path))
      return llvm::createStringError("cannot create a temporary file: " +
                                     ec.message());
    paths.push_back(path.str().str());
    return paths.back();
  };
  llvm::SmallVector<std::string> args{ld.str(), "-r", "-o"};
  Expected<std::string> joined = temporary("o");
  if (!joined)
    return joined.takeError();
  args.push_back(*joined);
  for (const llvm::SmallVector<char, 0> &object : objects) {
    Expected<std::string> path = temporary("o");
    if (!path)
      return path.takeError();
    std::error_code ec;
    llvm::raw_fd_ostream file(*path, ec);
    if (!ec)
      file.write(object.data(), object.size());
    file.close();
    if (ec || file.has_error())
      return llvm::createStringError("cannot write " + *path);
    args.push_back(*path);
  }
  llvm::SmallVector<llvm::StringRef> argRefs(args.begin(), args.end());
  std::string message;
  if (llvm::sys::ExecuteAndWait(ld, argRefs, std::nullopt, {}, 0, 0,
                                &message) != 0)
    return llvm::createStringError(
        "joining the object's partitions failed (" + ld +
        (message.empty() ? "" : ": " + message) + ")");
  auto buffer = llvm::MemoryBuffer::getFile(*joined);
  if (!buffer)
    return llvm::createStringError("cannot read " + *joined + ": " +
                                   buffer.getError().message());
  os << (*buffer)->getBuffer();
  return Error::success();
}

Error recq::emitObject(llvm::Module &module, llvm::raw_pwrite_stream &os) {
  // Instruction selection is most of a compile: on several cores the
  // module is split into partitions (locals become hidden globals, so one
  // partition may use another's constants), each compiled on a thread in
  // a context of its own, and the objects are joined. Functions are
  // compiled the same wherever they land.
  recq::storeConstantsAsBytes(module); // before the partitions' bitcode
  unsigned functions = llvm::count_if(
      module, [](const llvm::Function &f) { return !f.isDeclaration(); });
  unsigned cores = llvm::get_physical_cores() > 0
                       ? unsigned(llvm::get_physical_cores())
                       : 1u;
  // Three partitions a core, taken by the cores as they free up: a
  // function's instruction count predicts its codegen time poorly (on the
  // MLPerf-like model's 4 variants, two partitions by count kept one core
  // busy 4x longer than the other; three a core cut the object's time
  // from 6.6 to 5.0 s on 2 cores, six a core added more cloning than it
  // balanced).
  unsigned parts = std::min(cores * 3, functions);
  // Without ld (binutils, which cc needs too) the object comes in one
  // piece, the same code.
  llvm::ErrorOr<std::string> ld = llvm::sys::findProgramByName("ld");
  if (parts < 2 || !ld)
    return emitObjectHere(module, os);
  std::vector<llvm::SmallVector<char, 0>> bitcodes =
      partitionAsBitcode(module, parts);
  std::vector<llvm::SmallVector<char, 0>> objects(bitcodes.size());
  std::vector<std::string> errors(bitcodes.size());
  {
    llvm::DefaultThreadPool pool(
        llvm::hardware_concurrency(std::min(parts, cores)));
    for (size_t i = 0; i < bitcodes.size(); ++i)
      pool.async([&, i] {
        llvm::StringRef bitcode(bitcodes[i].data(), bitcodes[i].size());
        auto object = emitPartition(bitcode);
        if (object)
          objects[i] = std::move(*object);
        else
          errors[i] = llvm::toString(object.takeError());
      });
    pool.wait();
  }
  for (const std::string &error : errors)
    if (!error.empty())
      return llvm::createStringError(error);
  return joinObjects(*ld, objects, os);
}

/// Adds `value`'s elements to `hasher`, each leaf a tag byte then its
/// bytes: 0 for zeros (no bytes follow), 1 for integer or float data (its
/// raw bytes, as many as its type holds). The caller hashes the type,
/// which fixes every element's type and size, so equal hashes mean equal
/// memory. False for anything else (addresses, expressions).
static bool hashConstant(const llvm::Constant *value, llvm::BLAKE3 &hasher) {
  static constexpr uint8_t kZeros = 0, kData = 1;
  if (llvm::isa<llvm::ConstantAggregateZero>(value)) {
    hasher.update(llvm::ArrayRef(kZeros));
    return true;
  }
  if (auto *data = llvm::dyn_cast<llvm::ConstantDataSequential>(value)) {
    hasher.update(llvm::ArrayRef(kData));
    hasher.update(data->getRawDataValues());
    return true;
  }
  if (!llvm::isa<llvm::ConstantAggregate>(value))
    return false;
  for (const llvm::Use &element : value->operands())
    if (!hashConstant(llvm::cast<llvm::Constant>(element.get()), hasher))
      return false;
  return true;
}

/// Names `variant`'s large local constants by their contents
/// ("recq.const.<BLAKE3 of type and bytes>.a<alignment>") as hidden
/// linkonce_odr globals, each in a COMDAT of its name: the linker keeps
/// one of equal constants from several variants' objects (the tables
/// small enough to stay in the library, weights whose layout two targets
/// share), as ConstantMerge does within one module.
static void shareConstantsByContent(llvm::Module &variant) {
  const llvm::DataLayout &layout = variant.getDataLayout();
  for (llvm::GlobalVariable &global :
       llvm::make_early_inc_range(variant.globals())) {
    if (!global.hasLocalLinkage() || !global.isConstant() ||
        !global.hasGlobalUnnamedAddr() || !global.hasInitializer() ||
        layout.getTypeAllocSize(global.getValueType()) < kSharedConstantBytes)
      continue;
    llvm::BLAKE3 hasher;
    std::string type;
    llvm::raw_string_ostream os(type);
    global.getValueType()->print(os);
    hasher.update(type);
    if (!hashConstant(global.getInitializer(), hasher))
      continue;
    std::string name = "recq.const." + llvm::toHex(hasher.final<16>(), true) +
                       ".a" +
                       std::to_string(global.getAlign().valueOrOne().value());
    if (llvm::GlobalVariable *same = variant.getNamedGlobal(name)) {
      global.replaceAllUsesWith(same);
      global.eraseFromParent();
      continue;
    }
    global.setName(name);
    global.setLinkage(llvm::GlobalValue::LinkOnceODRLinkage);
    global.setVisibility(llvm::GlobalValue::HiddenVisibility);
    global.setDSOLocal(true);
    global.setComdat(variant.getOrInsertComdat(name));
  }
}

Error recq::compileToObject(ModuleOp module,
                            llvm::ArrayRef<CodegenTarget> targets,
                            llvm::raw_pwrite_stream &os) {
  // Several variants: each lowered, optimized and compiled to an object
  // on a thread of its own, the objects joined by `ld -r`. (Linking them
  // into one LLVM module first, then splitting it again for codegen,
  // cost 2-3 s of single-threaded bitcode reading, linking and cloning
  // on the MLPerf-shaped DLRM's five variants.)
  llvm::ErrorOr<std::string> ld = llvm::sys::findProgramByName("ld");
  if (targets.size() > 1 && ld) {
    // The generic variant first: it takes longest (its wide vector
    // operations are split into SSE2's and scalar ones; 2.7 s against
    // 1.9-2.2 s on the DLRM), and the longest first lets the cores finish
    // together.
    std::vector<size_t> order(targets.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_partition(order.begin(), order.end(), [&](size_t i) {
      return targets[i].name == "generic";
    });
    std::vector<llvm::SmallVector<char, 0>> objects(targets.size());
    if (Error e = onModuleCopies(
            module, targets.size(), [&](ModuleOp copy, size_t j) -> Error {
              size_t i = order[j];
              llvm::LLVMContext context;
              Expected<std::unique_ptr<llvm::Module>> variant =
                  compileVariant(copy, targets[i], context);
              if (!variant)
                return variant.takeError();
              shareConstantsByContent(**variant);
              llvm::raw_svector_ostream out(objects[i]);
              return emitObjectHere(**variant, out);
            }))
      return e;
    return joinObjects(*ld, objects, os);
  }
  llvm::LLVMContext context;
  Expected<std::unique_ptr<llvm::Module>> linked =
      compileVariants(module, targets, context);
  if (!linked)
    return linked.takeError();
  return emitObject(**linked, os);
}
