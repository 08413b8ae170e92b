//===- recq-compile.cpp - ONNX model to recq artifacts --------------------===//
//
// The compiler driver: imports an ONNX model, lowers it for one or more
// targets (--targets; one variant each) and stops at the stage `--emit`
// names, writing that stage's output:
//
//   mlir          the imported, raised module in the recq dialect
//   llvm-dialect  after recq-lower-to-llvm, for one target
//   llvm-ir       each variant translated and at -O3, linked in one module
//   obj           an ELF object holding every variant
//   so            model.so: the object, its interface description and the
//                 runtime (recq.h), linked by the system C compiler
//
// Without --emit, an output ending in .so gets `so`, anything else `mlir`.
//
// Every failure is one line on stderr, `error: <file>: <what>`, and exit
// status 1; 0 means the output was written (docs/Tools.md).
//
//===----------------------------------------------------------------------===//

#include "recq/Driver/CompileFlow.h"
#include "recq/Driver/Quantize.h"
#include "recq/Driver/RemoteTables.h"
#include "recq/Import/OnnxImporter.h"
#include "recq/Pipelines/Pipelines.h"
#include "recq/Runtime/recq_cpu.h"
#include "recq/Target/Codegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

namespace cl = llvm::cl;

namespace {
enum class EmitStage { Default, Mlir, LlvmDialect, LlvmIr, Obj, So };

cl::OptionCategory toolOptions("recq-compile options");
cl::opt<std::string> inputFile(cl::Positional, cl::cat(toolOptions),
                               cl::desc("<model.onnx>"));
cl::opt<bool> externalWeights(
    "external-weights", cl::cat(toolOptions),
    cl::desc("Put every embedding table in model.weights (mmapped at load)"));
cl::opt<bool> keepObject(
    "keep-object", cl::cat(toolOptions),
    cl::desc("With -o model.so: keep model.o and model.desc.c too (the "
             "generated code and its description), which link with "
             "librecq_model_runtime.a into a library or program of your own"));
cl::opt<bool> profileOps(
    "profile", cl::cat(toolOptions),
    cl::desc("Time each op of the model at run time (recq-run --profile, "
             "recq_model_profile_op; docs/Profiling.md): a clock read "
             "before each"));
cl::opt<bool> timing(
    "timing", cl::cat(toolOptions),
    cl::desc("Print the wall time of each phase (import, quantization and "
             "calibration or planning, code generation, link) on stderr at "
             "the end, as mlir-opt's --mlir-timing does for passes"));
cl::opt<uint64_t> weightsThreshold(
    "weights-threshold", cl::cat(toolOptions),
    cl::desc("Tables larger than this many bytes go to model.weights "
             "(default 1 MiB)"),
    cl::init(1 << 20));
cl::opt<std::string> remoteTables(
    "remote-tables", cl::cat(toolOptions),
    cl::desc("Keep these tables' rows out of the artifact, in a row store "
             "(docs/RemoteTables.md): 'all', 'above=BYTES' (larger as "
             "stored) or a comma-separated list of table names (as a plan "
             "names them). Their rows go to model.rows, which 'recq-tables "
             "push' copies into the store; the model reads them from the "
             "store named at load (RECQ_TABLE_STORE)"),
    cl::value_desc("all|above=BYTES|names"));
cl::opt<int64_t> prefetchDistance(
    "prefetch-rows", cl::cat(toolOptions),
    cl::desc("Prefetch embedding rows this many indices ahead (0: off; "
             "default 32)"),
    cl::init(recq::kDefaultPrefetchDistance));
cl::opt<std::string> calibrationFile(
    "calibration", cl::cat(toolOptions),
    cl::desc("Calibrate the FC inputs on these inputs (.npz) with the fp32 "
             "model"),
    cl::value_desc("calib.npz"));
cl::opt<std::string> calibrationMethod(
    "calibration-method", cl::cat(toolOptions),
    cl::desc("Scale choice: l2 (default), minmax, percentile"), cl::init("l2"));
cl::opt<std::string> interactionRange(
    "interaction-range", cl::cat(toolOptions),
    cl::desc("Scale choice for an FC input that is the interaction's output "
             "(dot products of pooled embeddings, long-tailed with bag "
             "length): minmax (default: keeps the calibrated range, so a "
             "sample with long bags is not clipped), l2, percentile"),
    cl::init("minmax"));
cl::opt<std::string> interactionDenseRange(
    "interaction-dense-range", cl::cat(toolOptions),
    cl::desc("The dense features at the front of a dot interaction's "
             "output: apart (default: a range of their own, by "
             "--calibration-method, and the FC reading them split in two "
             "int8 FCs) or shared (one range with the dot products, by "
             "--interaction-range: one int8 FC, less accurate)"),
    cl::init("apart"));
cl::opt<double> calibrationPercentile(
    "percentile", cl::cat(toolOptions),
    cl::desc("Percentile for --calibration-method=percentile"),
    cl::init(99.99));
cl::opt<int64_t> calibrationChunk(
    "calibration-chunk", cl::cat(toolOptions),
    cl::desc("Samples per calibration run (bounds memory; 0: all at once; "
             "default 4096)"),
    cl::init(4096));
cl::opt<std::string> emitCalibration(
    "emit-calibration", cl::cat(toolOptions),
    cl::desc("Write what calibration found (ranges, scales) as JSON"),
    cl::value_desc("file.json"));
cl::opt<std::string> quantizeMode(
    "quantize", cl::cat(toolOptions),
    cl::desc("Quantize the FCs: int8 (u8 activations x s8 per-channel "
             "weights, needs --calibration), bf16 (bf16 weights and inputs, "
             "f32 accumulation), or none (default)"),
    cl::init("none"));
cl::opt<bool> reduceRange(
    "reduce-range", cl::cat(toolOptions),
    cl::desc("With --quantize=int8: 7-bit activations (codes 0..127), so "
             "AVX2's vpmaddubsw cannot saturate and the avx2/avx512 kernels "
             "use it (faster on CPUs without AVX512-VNNI; half the "
             "activation resolution; PyTorch's fbgemm reduce_range)"));
cl::opt<std::string> tablePrecision(
    "tables", cl::cat(toolOptions),
    cl::desc("Embedding table storage: fp32 (default), fp16, int8 (row-wise, "
             "f32 scale and bias per row), int4 (row-wise, f16 scale and "
             "bias)"),
    cl::init("fp32"));
cl::opt<std::string> accuracyBudget(
    "accuracy-budget", cl::cat(toolOptions),
    cl::desc("Plan the precision of each FC and table: the cheapest plan "
             "whose accuracy change on --calibration stays within this "
             "budget (e.g. 0.1%, or 0.001; 0: all fp32). --tables and "
             "--quantize then cap the precision the search may use"),
    cl::value_desc("budget"));
cl::opt<std::string>
    metric("metric", cl::cat(toolOptions),
           cl::desc("The budget's metric: logloss (relative log-loss increase; "
                    "without labels, relative cross-entropy against the fp32 "
                    "outputs; default), auc (relative AUC drop), max-abs (max "
                    "|p - p_fp32|)"),
           cl::init("logloss"));
cl::opt<std::string> evalFile(
    "eval", cl::cat(toolOptions),
    cl::desc("Measure the plan, compiled, against fp32 on this held-out set "
             "(.npz) too"),
    cl::value_desc("eval.npz"));
cl::opt<int64_t> planBatch(
    "plan-batch", cl::cat(toolOptions),
    cl::desc("Deployment batch the planner measures costs at (default 512)"),
    cl::init(512));
cl::opt<std::string> costModel(
    "cost-model", cl::cat(toolOptions),
    cl::desc("Planner costs: measured (time variants on this CPU; default) "
             "or static (nominal rates: the same plan on any machine)"),
    cl::init("measured"));
cl::opt<std::string> costCache(
    "cost-cache", cl::cat(toolOptions),
    cl::desc("Where measured planner costs are kept per model and CPU and "
             "reused, or 'off' to measure every time (default: "
             "$RECQ_CACHE_DIR, else $XDG_CACHE_HOME/recq, else "
             "~/.cache/recq)"),
    cl::value_desc("dir|off"), cl::init(""));
cl::opt<std::string> emitPlan("emit-plan", cl::cat(toolOptions),
                              cl::desc("Write the precision plan as JSON"),
                              cl::value_desc("plan.json"));
cl::opt<std::string> reportDir(
    "report", cl::cat(toolOptions),
    cl::desc("Write the plan's report here: report.md with the sensitivity "
             "table and the visited plans, sensitivity.png, frontier.png "
             "(needs python3-matplotlib)"),
    cl::value_desc("dir"));
cl::opt<std::string> compareFile(
    "compare-fp32", cl::cat(toolOptions),
    cl::desc("Numerical debugger: run the plan and the fp32 model on these "
             "inputs (.npz) and print each FC's and bag's output SQNR "
             "against fp32, and where error first grows"),
    cl::value_desc("x.npz"));
cl::opt<std::string>
    planFile("plan", cl::cat(toolOptions),
             cl::desc("Compile exactly this plan (from --emit-plan), without "
                      "calibrating"),
             cl::value_desc("plan.json"));
cl::opt<std::string> recalibrateFile(
    "recalibrate", cl::cat(toolOptions),
    cl::desc("With --plan: keep its precisions, derive the int8 FCs' input "
             "scales again on these inputs (.npz)"),
    cl::value_desc("new.npz"));
cl::opt<bool> printTarget("print-target", cl::cat(toolOptions),
                          cl::desc("Print the default target and exit"));
cl::opt<bool> printPipeline(
    "print-pipeline", cl::cat(toolOptions),
    cl::desc("Print the pass pipeline that turns what --emit=mlir writes "
             "into what --emit=llvm-dialect writes, for --target and "
             "--prefetch-rows (replay it: recq-opt --pass-pipeline=...), "
             "and exit"));
cl::opt<std::string> outputFile("o", cl::cat(toolOptions),
                                cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"), cl::init("-"));
cl::opt<EmitStage>
    emit("emit", cl::cat(toolOptions), cl::desc("Stage to stop at and write"),
         cl::init(EmitStage::Default),
         cl::values(clEnumValN(EmitStage::Mlir, "mlir",
                               "the imported module in the recq dialect"),
                    clEnumValN(EmitStage::LlvmDialect, "llvm-dialect",
                               "the module lowered to the LLVM dialect"),
                    clEnumValN(EmitStage::LlvmIr, "llvm-ir",
                               "LLVM IR after -O3, every variant"),
                    clEnumValN(EmitStage::Obj, "obj",
                               "an object file, every variant"),
                    clEnumValN(EmitStage::So, "so",
                               "a shared library with the C API (recq.h)")));
cl::opt<std::string> targetList(
    "targets", cl::cat(toolOptions),
    cl::desc("Code-generation targets, one variant each in the library, "
             "which picks the best the CPU runs at load: amx, "
             "avx512-bf16, avx512-vnni, avx512, avx2, generic (default: "
             "every one the model's precisions use, generic included); "
             "--emit=llvm-dialect takes one (default: the best this CPU "
             "runs)"),
    cl::value_desc("a,b,..."), cl::init(""));
cl::opt<std::string>
    targetName("target", cl::cat(toolOptions),
               cl::desc("One code-generation target (--targets=name)"),
               cl::value_desc("name"), cl::init(""));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs()) << inputFile << ": " << message << "\n";
  return 1;
}

void progress(llvm::StringRef line) { llvm::errs() << "  " << line << "\n"; }

/// The quantization and planning flags for the library's flow.
recq::quant::CompileFlowOptions flowOptions() {
  recq::quant::CompileFlowOptions options;
  options.calibrationFile = calibrationFile;
  options.calibrationMethod = calibrationMethod;
  options.calibrationMethodGiven = calibrationMethod.getNumOccurrences() != 0;
  options.interactionRange = interactionRange;
  options.interactionRangeGiven = interactionRange.getNumOccurrences() != 0;
  options.interactionDenseApart = interactionDenseRange != "shared";
  options.percentile = calibrationPercentile;
  options.calibrationChunk = calibrationChunk;
  options.emitCalibration = emitCalibration;
  options.quantizeMode = quantizeMode;
  options.reduceRange = reduceRange;
  options.tablePrecision = tablePrecision;
  options.accuracyBudget = accuracyBudget;
  options.metric = metric;
  options.evalFile = evalFile;
  options.planBatch = planBatch;
  options.costModel = costModel;
  options.costCache = costCache;
  options.planFile = planFile;
  options.recalibrateFile = recalibrateFile;
  options.reportDir = reportDir;
  options.compareFile = compareFile;
  // --report runs python/recq/report.py (plots with matplotlib).
  options.python = RECQ_PYTHON;
  options.pythonDir = RECQ_PYTHON_DIR;
  options.progress = progress;
  return options;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // --mlir-elide-elementsattrs-if-larger=N and friends.
  mlir::registerAsmPrinterCLOptions();
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(
      argc, argv,
      "recq compiler: ONNX -> recq\n\n"
      "  recq-compile model.onnx -o model.so [--quantize=int8 --calibration "
      "calib.npz]\n"
      "  recq-compile model.onnx -o model.so --calibration calib.npz "
      "--accuracy-budget 0.1%\n"
      "  recq-compile model.onnx [--emit=mlir]   (prints the raised module)\n\n"
      "Exit status: 0 the output was written; 1 an error (bad arguments, an "
      "unreadable or unsupported model, no plan within the budget, a failed "
      "compile or link), one line on stderr naming the file and what is "
      "wrong.\n");

  if (printTarget) {
    llvm::outs() << recq::hostTarget().name << "\n";
    return 0;
  }
  // --timing: each phase a timer under the root, printed as a tree on
  // stderr when `timers` goes (at any return).
  mlir::DefaultTimingManager timers;
  timers.setEnabled(timing);
  timers.setDisplayMode(mlir::DefaultTimingManager::DisplayMode::Tree);
  mlir::TimingScope rootTimer = timers.getRootScope();
  if (inputFile.empty() && !printPipeline) {
    llvm::WithColor::error(llvm::errs()) << "no input model (recq-compile "
                                            "model.onnx [-o model.so])\n";
    return 1;
  }
  if (!targetName.empty() && !targetList.empty())
    return fail("give --target or --targets, not both");
  // `targets`: the variants to compile (none given: defaultTargets, once
  // the model is read). `target`: where calibration and planning run, and
  // what --emit=llvm-dialect and --print-pipeline show: the one given, or
  // the best this CPU runs.
  llvm::SmallVector<recq::CodegenTarget> targets;
  if (!targetName.empty() || !targetList.empty()) {
    auto parsed =
        recq::parseTargets(targetName.empty() ? targetList : targetName);
    if (!parsed)
      return fail(llvm::toString(parsed.takeError()));
    targets = std::move(*parsed);
  }
  recq::CodegenTarget target = recq::hostTarget();
  if (targets.size() == 1)
    target = targets.front();
  else if (!targets.empty() &&
           (printPipeline || emit == EmitStage::LlvmDialect))
    return fail("--print-pipeline and --emit=llvm-dialect show one target's "
                "lowering: give --target=NAME");
  target.prefetchDistance = prefetchDistance;
  if (printPipeline) {
    llvm::outs() << recq::codegenPipeline(recq::pipelineOptions(target))
                 << "\n";
    return 0;
  }

  // The lowering runs upstream passes by name and needs their dialects'
  // interface models (bufferization, conversion to LLVM).
  mlir::registerAllPasses();
  recq::registerAllRecqPasses();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::MLIRContext context(registry);

  mlir::TimingScope phase = rootTimer.nest("import");
  auto module = recq::importOnnxFile(inputFile, context);
  phase.stop();
  if (!module)
    return fail(llvm::toString(module.takeError()));
  // Remote tables are named as imported: precisions and batching come later.
  std::optional<recq::RemoteTableSelection> remote;
  if (!remoteTables.empty()) {
    auto selected = recq::selectRemoteTables(**module, remoteTables);
    if (!selected)
      return fail(llvm::toString(selected.takeError()));
    remote = std::move(*selected);
  }

  if (quantizeMode != "none" && quantizeMode != "int8" &&
      quantizeMode != "bf16")
    return fail("unknown --quantize '" + quantizeMode + "' (int8, bf16, none)");
  if (interactionDenseRange != "apart" && interactionDenseRange != "shared")
    return fail("unknown --interaction-dense-range '" + interactionDenseRange +
                "' (apart, shared)");
  recq::quant::CompileFlowOptions flow = flowOptions();
  // Calibration, planning and --compare run the model here: on `target`
  // when this CPU runs it, else on the best target it runs (a library
  // compiled for another CPU).
  recq::CodegenTarget runOn = target;
  if (!recq::cpuRuns(target)) {
    runOn = recq::hostTarget();
    runOn.prefetchDistance = prefetchDistance;
    if (quantizeMode == "int8" || !planFile.empty() || !accuracyBudget.empty())
      llvm::errs() << "this CPU cannot run " << target.name
                   << ": calibration and planning run on " << runOn.name
                   << "\n";
  }
  // `plan`: the precisions to apply (--plan, --accuracy-budget); `record`:
  // what the artifact carries (that plan, or the one the flags amount to).
  std::optional<recq::quant::Plan> plan, record;
  if (!planFile.empty() || !accuracyBudget.empty()) {
    phase = rootTimer.nest("plan precisions");
    auto planned =
        recq::quant::planPrecision(**module, runOn, flow, llvm::errs());
    if (!planned)
      return fail(llvm::toString(planned.takeError()));
    plan = std::move(*planned);
  } else {
    for (const cl::Option *planning :
         std::initializer_list<const cl::Option *>{&recalibrateFile, &evalFile,
                                                   &metric, &costModel,
                                                   &planBatch})
      if (planning->getNumOccurrences())
        return fail("--" + planning->ArgStr +
                    " applies to --accuracy-budget or --plan");
    phase = rootTimer.nest("quantize, calibrate");
    if (llvm::Error e = recq::quant::quantizeByFlags(**module, runOn, flow,
                                                     record, llvm::errs()))
      return fail(llvm::toString(std::move(e)));
    if (record)
      record->target = target.name;
  }
  phase.stop();
  if (plan && !compareFile.empty())
    if (llvm::Error e = recq::quant::printLayerErrors(**module, *plan, runOn,
                                                      flow, llvm::errs()))
      return fail(llvm::toString(std::move(e)));
  if (plan) {
    if (llvm::Error e = recq::quant::applyPlan(**module, *plan))
      return fail(llvm::toString(std::move(e)));
    record = plan;
    if (!emitPlan.empty())
      if (llvm::Error e = recq::quant::writePlan(*plan, emitPlan))
        return fail(llvm::toString(std::move(e)));
    if (!reportDir.empty())
      if (llvm::Error e = recq::quant::writeReport(*plan, flow))
        return fail(llvm::toString(std::move(e)));
  } else if (!reportDir.empty() || !compareFile.empty()) {
    return fail("--report and --compare-fp32 need --accuracy-budget or "
                "--plan");
  } else if (!emitPlan.empty()) {
    if (!record)
      return fail("--emit-plan: nothing is quantized (give --accuracy-budget, "
                  "--plan, --quantize=int8 or --tables)");
    if (llvm::Error e = recq::quant::writePlan(*record, emitPlan))
      return fail(llvm::toString(std::move(e)));
  }
  if (record) {
    std::string json;
    llvm::raw_string_ostream os(json);
    os << recq::quant::toJSON(*record);
    (**module)->setAttr("recq.plan", mlir::StringAttr::get(&context, os.str()));
  }

  EmitStage stage = emit;
  if (stage == EmitStage::Default)
    stage = llvm::StringRef(outputFile).ends_with(".so") ? EmitStage::So
                                                          : EmitStage::Mlir;
  if (stage == EmitStage::So &&
      !llvm::StringRef(outputFile).ends_with(".so"))
    return fail("--emit=so needs an output file named *.so (-o model.so)");
  // Before the description: it lists the tables in the order the
  // generated code reports their index checks.
  phase = rootTimer.nest("tables out, description");
  if (stage != EmitStage::Mlir) {
    auto batched = recq::quant::batchEmbeddingBags(**module);
    if (!batched)
      return fail(llvm::toString(batched.takeError()));
    if (profileOps) {
      auto profiled = recq::quant::numberProfiledOps(**module);
      if (!profiled)
        return fail(llvm::toString(profiled.takeError()));
    }
  }
  if (targets.empty())
    targets = stage == EmitStage::LlvmDialect
                  ? llvm::SmallVector<recq::CodegenTarget>{target}
                  : recq::defaultTargets(**module);
  for (recq::CodegenTarget &t : targets)
    t.prefetchDistance = prefetchDistance;
  std::string description;
  if (stage == EmitStage::So) {
    // model.so, model.weights (large tables), model.h side by side.
    llvm::StringRef stem = llvm::StringRef(outputFile).drop_back(3);
    std::string weightsPath = (stem + ".weights").str();
    llvm::sys::fs::remove(weightsPath);
    llvm::sys::fs::remove(recq::rowsFileOf(weightsPath));
    auto moved =
        recq::externalizeWeights(**module, weightsThreshold, externalWeights,
                                 weightsPath, remote ? &*remote : nullptr);
    if (!moved)
      return fail(llvm::toString(moved.takeError()));
    if (llvm::Error e = recq::writeModelHeader(**module, (stem + ".h").str()))
      return fail(llvm::toString(std::move(e)));
    std::string planPath = (stem + ".plan.json").str();
    llvm::sys::fs::remove(planPath);
    if (record)
      if (llvm::Error e = recq::quant::writePlan(*record, planPath))
        return fail(llvm::toString(std::move(e)));
    auto desc = recq::describeModelAsC(**module, targets);
    if (!desc)
      return fail(llvm::toString(desc.takeError()));
    description = std::move(*desc);
  }
  phase.stop();
  // The description's object compiles (cc) while the variants do.
  std::unique_ptr<recq::DescriptionObject> descriptionObject;
  if (stage == EmitStage::So) {
    auto started = recq::DescriptionObject::start(description);
    if (!started)
      return fail(llvm::toString(started.takeError()));
    descriptionObject = std::move(*started);
  }

  std::string error;
  std::string writeTo = outputFile;
  if (stage == EmitStage::So)
    writeTo += ".o";
  auto output = mlir::openOutputFile(writeTo, &error);
  if (!output) {
    llvm::WithColor::error(llvm::errs()) << error << "\n";
    return 1;
  }
  if (stage == EmitStage::Mlir) {
    phase = rootTimer.nest("print MLIR");
    (*module)->print(output->os(), mlir::OpPrintingFlags());
    output->keep();
    return 0;
  }

  if (stage == EmitStage::LlvmDialect) {
    phase = rootTimer.nest("lower to the LLVM dialect, print");
    if (llvm::Error e = recq::lowerToLLVMDialect(**module, targets.front()))
      return fail(llvm::toString(std::move(e)));
    (*module)->print(output->os(), mlir::OpPrintingFlags());
    output->keep();
    return 0;
  }

  if (stage == EmitStage::LlvmIr) {
    phase = rootTimer.nest("compile the variants, print LLVM IR");
    llvm::LLVMContext llvmContext;
    auto llvmModule = recq::compileVariants(**module, targets, llvmContext);
    if (!llvmModule)
      return fail(llvm::toString(llvmModule.takeError()));
    (*llvmModule)->print(output->os(), nullptr);
    output->keep();
    return 0;
  }
  phase = rootTimer.nest("lower, optimize, compile the variants");
  if (llvm::Error e = recq::compileToObject(**module, targets, output->os()))
    return fail(llvm::toString(std::move(e)));
  phase.stop();
  if (stage == EmitStage::Obj) {
    output->keep();
    return 0;
  }
  output->os().flush();
  phase = rootTimer.nest("link the library");
  llvm::Error linked =
      recq::linkSharedLibrary(writeTo, *descriptionObject, outputFile);
  phase.stop();
  if (linked)
    return fail(llvm::toString(std::move(linked)));
  if (keepObject) {
    llvm::StringRef stem = llvm::StringRef(outputFile).drop_back(3);
    std::string objectPath = (stem + ".o").str();
    if (std::error_code ec = llvm::sys::fs::copy_file(writeTo, objectPath))
      return fail("cannot write " + objectPath + ": " + ec.message());
    std::error_code ec;
    llvm::raw_fd_ostream desc((stem + ".desc.c").str(), ec);
    if (ec)
      return fail("cannot write " + stem.str() + ".desc.c: " + ec.message());
    desc << description;
  }
  return 0; // the object (not kept) is removed with `output`
}
