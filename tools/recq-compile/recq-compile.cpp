//===- recq-compile.cpp - ONNX model to recq artifacts --------------------===//
//
// The compiler driver: imports an ONNX model, lowers it for a target and
// stops at the stage `--emit` names, writing that stage's output:
//
//   mlir          the imported, raised module in the recq dialect
//   llvm-dialect  after recq-lower-to-llvm
//   llvm-ir       after translation and -O3 for the target
//   obj           an ELF object for the target
//   so            model.so: the object, its interface description and the
//                 runtime (recq.h), linked by the system C compiler
//
// Without --emit, an output ending in .so gets `so`, anything else `mlir`.
//
// Every failure is one line on stderr, `error: <file>: <what>`, and exit
// status 1; 0 means the output was written (docs/Tools.md).
//
//===----------------------------------------------------------------------===//

#include "recq/Import/OnnxImporter.h"
#include "recq/Pipelines/Pipelines.h"
#include "recq/Quant/Calibrate.h"
#include "recq/Quant/Planner.h"
#include "recq/Quant/Quantize.h"
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
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

#include <cmath>

namespace cl = llvm::cl;

extern char **environ;

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
cl::opt<uint64_t> weightsThreshold(
    "weights-threshold", cl::cat(toolOptions),
    cl::desc("Tables larger than this many bytes go to model.weights "
             "(default 1 MiB)"),
    cl::init(1 << 20));
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
             "weights, needs --calibration), or none (default)"),
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
                               "LLVM IR after -O3 for the target"),
                    clEnumValN(EmitStage::Obj, "obj",
                               "an object file for the target"),
                    clEnumValN(EmitStage::So, "so",
                               "a shared library with the C API (recq.h)")));
cl::opt<std::string>
    targetName("target", cl::cat(toolOptions),
               cl::desc("Code-generation target: generic, avx2, avx512, "
                        "avx512-vnni (default: the best this CPU runs)"),
               cl::value_desc("name"), cl::init(""));

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs()) << inputFile << ": " << message << "\n";
  return 1;
}


void progress(llvm::StringRef line) { llvm::errs() << "  " << line << "\n"; }

/// Calibration as the flags ask, with scales chosen by `method` (and by
/// `interaction` for the interaction's output; empty: --interaction-range).
llvm::Expected<recq::quant::CalibrationOptions>
calibrationOptions(llvm::StringRef method, llvm::StringRef interaction = "") {
  recq::quant::CalibrationOptions options;
  auto parsed = recq::quant::parseScaleMethod(method);
  if (!parsed)
    return llvm::createStringError("unknown --calibration-method '" + method +
                                   "' (l2, minmax, percentile)");
  options.method = *parsed;
  if (interaction.empty())
    interaction = interactionRange;
  auto parsedInteraction = recq::quant::parseScaleMethod(interaction);
  if (!parsedInteraction)
    return llvm::createStringError("unknown --interaction-range '" +
                                   interaction + "' (minmax, l2, percentile)");
  options.interactionMethod = *parsedInteraction;
  options.percentile = calibrationPercentile;
  options.chunkSamples = calibrationChunk;
  if (reduceRange)
    options.qmax = 127;
  options.progress = progress;
  return options;
}

/// "5 int8, 3 fp32" for the pieces of one kind.
std::string countPrecisions(const std::vector<recq::quant::Piece> &pieces,
                            llvm::ArrayRef<llvm::StringRef> precisions) {
  std::string out;
  for (llvm::StringRef p : precisions) {
    auto n = llvm::count_if(pieces, [&](const recq::quant::Piece &piece) {
      return piece.precision == p;
    });
    if (n)
      out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + p.str();
  }
  return out.empty() ? "none" : out;
}

std::string describeAccuracy(const recq::quant::Accuracy &a) {
  std::string out = llvm::formatv("{0} {1:e3}", metric.getValue(), a.loss);
  if (!std::isnan(a.logLoss))
    out += llvm::formatv(", log-loss {0:f5} (fp32 {1:f5}), AUC {2:f5} (fp32 "
                         "{3:f5})",
                         a.logLoss, a.fp32LogLoss, a.auc, a.fp32Auc);
  out += llvm::formatv(", max |dp| {0:e2}, {1} samples", a.maxAbsDelta,
                       a.samples);
  return out;
}

/// --report: the plan as JSON in the directory, then python -m recq.report.
llvm::Error writeReport(const recq::quant::Plan &plan) {
  if (std::error_code ec = llvm::sys::fs::create_directories(reportDir))
    return llvm::createStringError("cannot create " + reportDir + ": " +
                                   ec.message());
  llvm::SmallString<256> planPath(reportDir);
  llvm::sys::path::append(planPath, "plan.json");
  if (llvm::Error e = recq::quant::writePlan(plan, planPath))
    return e;
  std::string pythonPath = std::string("PYTHONPATH=") + RECQ_PYTHON_DIR;
  llvm::StringRef args[] = {RECQ_PYTHON, "-m",  "recq.report",
                            planPath,    "--out", reportDir};
  std::vector<llvm::StringRef> env;
  std::vector<std::string> keep;
  for (char **e = environ; *e; ++e)
    if (!llvm::StringRef(*e).starts_with("PYTHONPATH="))
      keep.push_back(*e);
  keep.push_back(pythonPath);
  for (const std::string &e : keep)
    env.push_back(e);
  std::string message;
  int status = llvm::sys::ExecuteAndWait(RECQ_PYTHON, args, env, {}, 0, 0,
                                         &message);
  if (status != 0)
    return llvm::createStringError(
        "the report (" RECQ_PYTHON " -m recq.report) failed" +
        (message.empty() ? std::string() : ": " + message));
  return llvm::Error::success();
}

/// --compare-fp32: each layer's output SQNR, in program order.
llvm::Error printLayerErrors(mlir::ModuleOp module,
                             const recq::quant::Plan &plan,
                             const recq::CodegenTarget &target) {
  auto layers = recq::quant::compareLayers(module, plan, compareFile, target);
  if (!layers)
    return layers.takeError();
  llvm::errs() << "layer outputs against fp32 on " << compareFile
               << " (SQNR in dB, higher is closer; program order):\n";
  double upstream = INFINITY, worstDrop = 0;
  const recq::quant::LayerError *first = nullptr, *worst = nullptr;
  for (const recq::quant::LayerError &l : *layers) {
    bool isOutput = l.kind == "output";
    llvm::errs() << llvm::format("  %-6s %-34s %-5s %6lld %8.2f", l.kind.c_str(),
                                 l.name.c_str(), l.precision.c_str(),
                                 (long long)l.width, l.sqnr);
    if (!isOutput && std::isfinite(l.sqnr)) {
      if (!first) {
        first = &l;
        llvm::errs() << "  <- error first appears";
      }
      double drop = upstream - l.sqnr;
      if (std::isfinite(upstream) && drop > worstDrop) {
        worstDrop = drop;
        worst = &l;
      }
      upstream = std::min(upstream, l.sqnr);
    }
    llvm::errs() << "\n";
  }
  if (worst)
    llvm::errs() << llvm::format("  largest drop: %s (%s), %.1f dB below "
                                 "every layer before it\n",
                                 worst->name.c_str(), worst->precision.c_str(),
                                 worstDrop);
  else if (!first)
    llvm::errs() << "  every layer matches fp32 exactly\n";
  return llvm::Error::success();
}

/// The plan --plan names (rescaled by --recalibrate), or the one the
/// planner finds under --accuracy-budget; measured on --eval.
llvm::Expected<recq::quant::Plan>
planPrecision(mlir::ModuleOp module, const recq::CodegenTarget &target) {
  recq::quant::Plan plan;
  if (!planFile.empty()) {
    if (!accuracyBudget.empty())
      return llvm::createStringError(
          "--plan compiles a plan, --accuracy-budget searches one: give one");
    if (tablePrecision != "fp32" || quantizeMode != "none" ||
        !calibrationFile.empty() || reduceRange)
      return llvm::createStringError(
          "--plan fixes every precision and scale: drop --tables, "
          "--quantize, --calibration and --reduce-range (--recalibrate "
          "new.npz derives new scales)");
    auto read = recq::quant::readPlan(planFile);
    if (!read)
      return read.takeError();
    plan = std::move(*read);
    if (!recalibrateFile.empty()) {
      std::string method = calibrationMethod.getNumOccurrences() ||
                                   plan.calibrationMethod.empty()
                               ? calibrationMethod.getValue()
                               : plan.calibrationMethod;
      // A plan from before --interaction-range used one method for all.
      std::string interaction =
          interactionRange.getNumOccurrences() ? interactionRange.getValue()
          : !plan.interactionMethod.empty()    ? plan.interactionMethod
          : !plan.calibrationMethod.empty()    ? plan.calibrationMethod
                                               : interactionRange.getValue();
      auto options = calibrationOptions(method, interaction);
      if (!options)
        return options.takeError();
      for (const recq::quant::Piece &fc : plan.fcs)
        if (fc.input)
          options->qmax = fc.input->qmax;
      llvm::errs() << "recalibrating on " << recalibrateFile << " ...\n";
      auto stats =
          recq::quant::calibrate(module, recalibrateFile, target, *options);
      if (!stats)
        return stats.takeError();
      if (stats->size() != plan.fcs.size())
        return llvm::createStringError(
            planFile + " has " + llvm::Twine(plan.fcs.size()) +
            " FCs, the model " + llvm::Twine(stats->size()));
      for (auto [fc, s] : llvm::zip(plan.fcs, *stats))
        fc.input = s.params;
      plan.calibrationMethod = method;
      plan.interactionMethod = interaction;
      plan.calibration = recq::quant::Accuracy();
    }
    llvm::errs() << "compiling the plan of " << planFile << "\n";
  } else {
    if (!recalibrateFile.empty())
      return llvm::createStringError("--recalibrate needs --plan plan.json");
    auto budget = recq::quant::parseBudget(accuracyBudget);
    if (!budget)
      return llvm::createStringError(
          "--accuracy-budget '" + accuracyBudget +
          "' is not a non-negative number (0.1% or 0.001)");
    if (calibrationFile.empty())
      return llvm::createStringError(
          "--accuracy-budget needs --calibration calib.npz (the data the "
          "search measures on)");
    auto calibration = calibrationOptions(calibrationMethod);
    if (!calibration)
      return calibration.takeError();
    recq::quant::PlannerOptions options;
    options.metric = metric;
    options.budget = *budget;
    options.batch = planBatch;
    options.costModel = costModel;
    options.fcCeiling = quantizeMode == "int8" ? "int8" : "fp32";
    options.tableCeiling = tablePrecision;
    options.calibration = *calibration;
    options.calibration.progress = nullptr;
    options.progress = progress;
    llvm::errs() << "planning precisions on " << calibrationFile
                 << llvm::format(" (budget: %s change <= %g) ...\n",
                                 metric.getValue().c_str(), *budget);
    auto searched =
        recq::quant::searchPlan(module, calibrationFile, target, options);
    if (!searched)
      return searched.takeError();
    plan = std::move(*searched);
    plan.calibrationMethod = calibrationMethod;
    plan.interactionMethod = interactionRange;
  }
  if (!evalFile.empty()) {
    auto accuracy = recq::quant::measurePlan(
        module, plan, evalFile, target,
        plan.metric.empty() ? metric.getValue() : plan.metric);
    if (!accuracy)
      return accuracy.takeError();
    plan.eval = *accuracy;
  }
  llvm::errs() << "plan: FCs " << countPrecisions(plan.fcs,
                                                  recq::quant::fcPrecisions())
               << "; tables "
               << countPrecisions(plan.tables, recq::quant::tablePrecisions())
               << "\n";
  if (!std::isnan(plan.calibration.loss) && plan.calibration.samples)
    llvm::errs() << "  calibration set: "
                 << describeAccuracy(plan.calibration) << "\n";
  if (plan.eval.samples)
    llvm::errs() << "  eval set:        " << describeAccuracy(plan.eval)
                 << "\n";
  return plan;
}

/// The precisions --tables and --quantize name, for every table and FC.
/// When anything is quantized, `record` receives the plan this amounts to
/// (no budget: chosen by hand), compiled into the artifact like a searched
/// plan so that recq-run --info, --reference and recq.compare know the
/// artifact's precisions, and --plan can compile it again.
int quantizeByFlags(mlir::ModuleOp module, const recq::CodegenTarget &target,
                    std::optional<recq::quant::Plan> &record) {
  // The pieces by name, before anything changes them; an fp32 compile
  // records nothing and needs none.
  llvm::Expected<recq::quant::Plan> pieces = recq::quant::Plan();
  if (tablePrecision != "fp32" || quantizeMode == "int8")
    pieces = recq::quant::listPieces(module);
  if (!pieces)
    return fail(llvm::toString(pieces.takeError()));
  // Tables first, so calibration sees the activations the deployed model
  // will compute.
  if (tablePrecision != "fp32") {
    auto count = recq::quant::quantizeTables(module, tablePrecision);
    if (!count)
      return fail(llvm::toString(count.takeError()));
    llvm::errs() << "stored " << *count << " embedding tables in "
                 << tablePrecision << "\n";
    for (recq::quant::Piece &table : pieces->tables)
      table.precision = tablePrecision;
    record = *pieces;
  }

  if (quantizeMode == "int8" && calibrationFile.empty())
    return fail("--quantize=int8 needs --calibration calib.npz (the "
                "activation scales come from calibration)");
  if (reduceRange && quantizeMode != "int8")
    return fail("--reduce-range applies to --quantize=int8");
  if (!calibrationFile.empty()) {
    auto calibration = calibrationOptions(calibrationMethod);
    if (!calibration)
      return fail(llvm::toString(calibration.takeError()));
    recq::quant::CalibrationOptions &options = *calibration;
    llvm::errs() << "calibrating on " << calibrationFile << " ...\n";
    auto stats =
        recq::quant::calibrate(module, calibrationFile, target, options);
    if (!stats)
      return fail(llvm::toString(stats.takeError()));
    llvm::errs() << "calibrated " << stats->size() << " activations on "
                 << (stats->empty() ? 0 : stats->front().samples)
                 << " samples\n";
    if (!emitCalibration.empty()) {
      std::error_code ec;
      llvm::raw_fd_ostream os(emitCalibration, ec);
      if (ec)
        return fail("cannot write " + emitCalibration + ": " + ec.message());
      os << llvm::formatv("{0:2}", recq::quant::toJSON(*stats, options))
         << "\n";
    }
    if (quantizeMode == "int8") {
      auto count = recq::quant::quantizeToInt8(module, *stats);
      if (!count)
        return fail(llvm::toString(count.takeError()));
      llvm::errs() << "quantized " << *count << " FCs to int8\n";
      if (stats->size() != pieces->fcs.size())
        return fail("calibration found " + llvm::Twine(stats->size()) +
                    " FC inputs for " + llvm::Twine(pieces->fcs.size()) +
                    " FCs (a recq bug)");
      for (auto [fc, s] : llvm::zip(pieces->fcs, *stats)) {
        fc.precision = "int8";
        fc.input = s.params;
      }
      pieces->calibrationMethod = calibrationMethod;
      pieces->interactionMethod = interactionRange;
      record = *pieces;
    }
  } else if (!emitCalibration.empty()) {
    return fail("--emit-calibration needs --calibration calib.npz");
  }

  return 0;
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
  if (inputFile.empty() && !printPipeline) {
    llvm::WithColor::error(llvm::errs()) << "no input model (recq-compile "
                                            "model.onnx [-o model.so])\n";
    return 1;
  }
  std::optional<recq::CodegenTarget> target =
      targetName.empty() ? recq::hostTarget() : recq::lookupTarget(targetName);
  if (!target)
    return fail("unknown target '" + targetName +
                "' (generic, avx2, avx512, avx512-vnni)");
  target->prefetchDistance = prefetchDistance;
  if (printPipeline) {
    llvm::outs() << recq::codegenPipeline(recq::pipelineOptions(*target))
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

  auto module = recq::importOnnxFile(inputFile, context);
  if (!module)
    return fail(llvm::toString(module.takeError()));

  if (quantizeMode != "none" && quantizeMode != "int8")
    return fail("unknown --quantize '" + quantizeMode + "' (int8, none)");
  // `plan`: the precisions to apply (--plan, --accuracy-budget); `record`:
  // what the artifact carries (that plan, or the one the flags amount to).
  std::optional<recq::quant::Plan> plan, record;
  if (!planFile.empty() || !accuracyBudget.empty()) {
    auto planned = planPrecision(**module, *target);
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
    if (int status = quantizeByFlags(**module, *target, record))
      return status;
    if (record)
      record->target = target->name;
  }
  if (plan && !compareFile.empty())
    if (llvm::Error e = printLayerErrors(**module, *plan, *target))
      return fail(llvm::toString(std::move(e)));
  if (plan) {
    if (llvm::Error e = recq::quant::applyPlan(**module, *plan))
      return fail(llvm::toString(std::move(e)));
    record = plan;
    if (!emitPlan.empty())
      if (llvm::Error e = recq::quant::writePlan(*plan, emitPlan))
        return fail(llvm::toString(std::move(e)));
    if (!reportDir.empty())
      if (llvm::Error e = writeReport(*plan))
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
  if (stage != EmitStage::Mlir) {
    auto batched = recq::quant::batchEmbeddingBags(**module);
    if (!batched)
      return fail(llvm::toString(batched.takeError()));
  }
  std::string description;
  if (stage == EmitStage::So) {
    // model.so, model.weights (large tables), model.h side by side.
    llvm::StringRef stem = llvm::StringRef(outputFile).drop_back(3);
    std::string weightsPath = (stem + ".weights").str();
    llvm::sys::fs::remove(weightsPath);
    auto moved = recq::externalizeWeights(**module, weightsThreshold,
                                          externalWeights, weightsPath);
    if (!moved)
      return fail(llvm::toString(moved.takeError()));
    if (llvm::Error e = recq::writeModelHeader(**module, (stem + ".h").str()))
      return fail(llvm::toString(std::move(e)));
    std::string planPath = (stem + ".plan.json").str();
    llvm::sys::fs::remove(planPath);
    if (record)
      if (llvm::Error e = recq::quant::writePlan(*record, planPath))
        return fail(llvm::toString(std::move(e)));
    auto desc = recq::describeModelAsC(**module, *target);
    if (!desc)
      return fail(llvm::toString(desc.takeError()));
    description = std::move(*desc);
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
    (*module)->print(output->os(), mlir::OpPrintingFlags());
    output->keep();
    return 0;
  }

  if (llvm::Error e = recq::lowerToLLVMDialect(**module, *target))
    return fail(llvm::toString(std::move(e)));
  if (stage == EmitStage::LlvmDialect) {
    (*module)->print(output->os(), mlir::OpPrintingFlags());
    output->keep();
    return 0;
  }

  llvm::LLVMContext llvmContext;
  auto llvmModule = recq::translateAndOptimize(**module, llvmContext, *target);
  if (!llvmModule)
    return fail(llvm::toString(llvmModule.takeError()));
  if (stage == EmitStage::LlvmIr) {
    (*llvmModule)->print(output->os(), nullptr);
    output->keep();
    return 0;
  }
  if (llvm::Error e = recq::emitObject(**llvmModule, *target, output->os()))
    return fail(llvm::toString(std::move(e)));
  if (stage == EmitStage::Obj) {
    output->keep();
    return 0;
  }
  output->os().flush();
  llvm::Error linked =
      recq::linkSharedLibrary(writeTo, description, outputFile);
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
