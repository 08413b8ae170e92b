//===- CompileFlow.cpp - recq-compile's precision flow --------------------===//

#include "recq/Driver/CompileFlow.h"

#include "recq/Driver/Calibrate.h"
#include "recq/Driver/Planner.h"
#include "recq/Driver/Quantize.h"
#include "recq/Target/Codegen.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <cmath>
#include <cstdlib>

extern char **environ;

using namespace mlir;
using llvm::Error;
using llvm::Expected;

namespace recq::quant {

/// Calibration as the flags ask, with scales chosen by `method` (and by
/// `interaction` for the interaction's output; empty: --interaction-range).
static Expected<CalibrationOptions>
calibrationOptions(const CompileFlowOptions &flags, llvm::StringRef method,
                   llvm::StringRef interaction = "") {
  CalibrationOptions options;
  auto parsed = parseScaleMethod(method);
  if (!parsed)
    return llvm::createStringError("unknown --calibration-method '" + method +
                                   "' (l2, minmax, percentile)");
  options.method = *parsed;
  if (interaction.empty())
    interaction = flags.interactionRange;
  auto parsedInteraction = parseScaleMethod(interaction);
  if (!parsedInteraction)
    return llvm::createStringError("unknown --interaction-range '" +
                                   interaction + "' (minmax, l2, percentile)");
  options.interactionMethod = *parsedInteraction;
  options.interactionDenseApart = flags.interactionDenseApart;
  options.percentile = flags.percentile;
  options.chunkSamples = flags.calibrationChunk;
  if (flags.reduceRange)
    options.qmax = 127;
  options.progress = flags.progress;
  return options;
}

/// Where measured costs are cached: `flag` (--cost-cache) when given, else
/// $RECQ_CACHE_DIR, else $XDG_CACHE_HOME/recq, else ~/.cache/recq; "off"
/// (or no home) caches nothing.
static std::string costCacheDir(llvm::StringRef flag) {
  std::string dir = flag.str();
  if (dir.empty())
    if (const char *env = std::getenv("RECQ_CACHE_DIR"))
      dir = env;
  if (dir.empty()) {
    llvm::SmallString<128> path;
    if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
      path = xdg;
    else if (const char *home = std::getenv("HOME"); home && *home)
      llvm::sys::path::append(path, home, ".cache");
    else
      return "";
    llvm::sys::path::append(path, "recq");
    dir = std::string(path);
  }
  return dir == "off" ? "" : dir;
}

/// "5 int8, 3 fp32" for the pieces of one kind.
static std::string countPrecisions(const std::vector<Piece> &pieces,
                                   llvm::ArrayRef<llvm::StringRef> precisions) {
  std::string out;
  for (llvm::StringRef p : precisions) {
    auto n = llvm::count_if(pieces, [&](const Piece &piece) {
      return piece.precision == p;
    });
    if (n)
      out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + p.str();
  }
  return out.empty() ? "none" : out;
}

/// `a` under `metric` (the --metric flag's name), with log-loss and AUC when
/// measured.
static std::string describeAccuracy(const Accuracy &a, llvm::StringRef metric) {
  std::string out = llvm::formatv("{0} {1:e3}", metric, a.loss);
  if (!std::isnan(a.logLoss))
    out += llvm::formatv(", log-loss {0:f5} (fp32 {1:f5}), AUC {2:f5} (fp32 "
                         "{3:f5})",
                         a.logLoss, a.fp32LogLoss, a.auc, a.fp32Auc);
  out += llvm::formatv(", max |dp| {0:e2}, {1} samples", a.maxAbsDelta,
                       a.samples);
  return out;
}

Error writeReport(const Plan &plan, const CompileFlowOptions &options) {
  const std::string &reportDir = options.reportDir;
  if (std::error_code ec = llvm::sys::fs::create_directories(reportDir))
    return llvm::createStringError("cannot create " + reportDir + ": " +
                                   ec.message());
  llvm::SmallString<256> planPath(reportDir);
  llvm::sys::path::append(planPath, "plan.json");
  if (Error e = writePlan(plan, planPath))
    return e;
  std::string pythonPath = "PYTHONPATH=" + options.pythonDir;
  llvm::StringRef args[] = {options.python, "-m",    "recq.report",
                            planPath,       "--out", reportDir};
  std::vector<llvm::StringRef> env;
  std::vector<std::string> keep;
  for (char **e = environ; *e; ++e)
    if (!llvm::StringRef(*e).starts_with("PYTHONPATH="))
      keep.push_back(*e);
  keep.push_back(pythonPath);
  for (const std::string &e : keep)
    env.push_back(e);
  std::string message;
  int status =
      llvm::sys::ExecuteAndWait(options.python, args, env, {}, 0, 0, &message);
  if (status != 0)
    return llvm::createStringError(
        "the report (" + options.python + " -m recq.report) failed" +
        (message.empty() ? std::string() : ": " + message));
  return Error::success();
}

Error printLayerErrors(ModuleOp module, const Plan &plan,
                       const CodegenTarget &target,
                       const CompileFlowOptions &options,
                       llvm::raw_ostream &log) {
  const std::string &compareFile = options.compareFile;
  auto layers = compareLayers(module, plan, compareFile, target);
  if (!layers)
    return layers.takeError();
  log << "layer outputs against fp32 on " << compareFile
      << " (SQNR in dB, higher is closer; program order):\n";
  double upstream = INFINITY, worstDrop = 0;
  const LayerError *first = nullptr, *worst = nullptr;
  for (const LayerError &l : *layers) {
    bool isOutput = l.kind == "output";
    log << llvm::format("  %-6s %-34s %-5s %6lld %8.2f", l.kind.c_str(),
                        l.name.c_str(), l.precision.c_str(), (long long)l.width,
                        l.sqnr);
    if (!isOutput && std::isfinite(l.sqnr)) {
      if (!first) {
        first = &l;
        log << "  <- error first appears";
      }
      double drop = upstream - l.sqnr;
      if (std::isfinite(upstream) && drop > worstDrop) {
        worstDrop = drop;
        worst = &l;
      }
      upstream = std::min(upstream, l.sqnr);
    }
    log << "\n";
  }
  if (worst)
    log << llvm::format("  largest drop: %s (%s), %.1f dB below "
                        "every layer before it\n",
                        worst->name.c_str(), worst->precision.c_str(),
                        worstDrop);
  else if (!first)
    log << "  every layer matches fp32 exactly\n";
  return Error::success();
}

Expected<Plan> planPrecision(ModuleOp module, const CodegenTarget &target,
                             const CompileFlowOptions &flags,
                             llvm::raw_ostream &log) {
  const std::string &planFile = flags.planFile,
                    &accuracyBudget = flags.accuracyBudget,
                    &tablePrecision = flags.tablePrecision,
                    &quantizeMode = flags.quantizeMode,
                    &calibrationFile = flags.calibrationFile,
                    &recalibrateFile = flags.recalibrateFile,
                    &calibrationMethod = flags.calibrationMethod,
                    &interactionRange = flags.interactionRange,
                    &metric = flags.metric, &evalFile = flags.evalFile;
  Plan plan;
  if (!planFile.empty()) {
    if (!accuracyBudget.empty())
      return llvm::createStringError(
          "--plan compiles a plan, --accuracy-budget searches one: give one");
    if (tablePrecision != "fp32" || quantizeMode != "none" ||
        !calibrationFile.empty() || flags.reduceRange)
      return llvm::createStringError(
          "--plan fixes every precision and scale: drop --tables, "
          "--quantize, --calibration and --reduce-range (--recalibrate "
          "new.npz derives new scales)");
    auto read = readPlan(planFile);
    if (!read)
      return read.takeError();
    plan = std::move(*read);
    if (!recalibrateFile.empty()) {
      std::string method =
          flags.calibrationMethodGiven || plan.calibrationMethod.empty()
              ? calibrationMethod
              : plan.calibrationMethod;
      // A plan from before --interaction-range used one method for all.
      std::string interaction =
          flags.interactionRangeGiven       ? interactionRange
          : !plan.interactionMethod.empty() ? plan.interactionMethod
          : !plan.calibrationMethod.empty() ? plan.calibrationMethod
                                            : interactionRange;
      auto options = calibrationOptions(flags, method, interaction);
      if (!options)
        return options.takeError();
      for (const Piece &fc : plan.fcs)
        if (fc.input)
          options->qmax = fc.input->params.qmax;
      log << "recalibrating on " << recalibrateFile << " ...\n";
      auto stats = calibrate(module, recalibrateFile, target, *options);
      if (!stats)
        return stats.takeError();
      if (stats->size() != plan.fcs.size())
        return llvm::createStringError(
            planFile + " has " + llvm::Twine(plan.fcs.size()) +
            " FCs, the model " + llvm::Twine(stats->size()));
      for (auto [fc, s] : llvm::zip(plan.fcs, *stats))
        fc.input = s.input();
      plan.calibrationMethod = method;
      plan.interactionMethod = interaction;
      plan.calibration = Accuracy();
    }
    log << "compiling the plan of " << planFile << "\n";
  } else {
    if (!recalibrateFile.empty())
      return llvm::createStringError("--recalibrate needs --plan plan.json");
    auto budget = parseBudget(accuracyBudget);
    if (!budget)
      return llvm::createStringError(
          "--accuracy-budget '" + accuracyBudget +
          "' is not a non-negative number (0.1% or 0.001)");
    if (calibrationFile.empty())
      return llvm::createStringError(
          "--accuracy-budget needs --calibration calib.npz (the data the "
          "search measures on)");
    auto calibration = calibrationOptions(flags, calibrationMethod);
    if (!calibration)
      return calibration.takeError();
    PlannerOptions options;
    options.metric = metric;
    options.budget = *budget;
    options.batch = flags.planBatch;
    options.costModel = flags.costModel;
    options.costCache = costCacheDir(flags.costCache);
    options.fcCeiling = quantizeMode == "int8" || quantizeMode == "bf16"
                            ? quantizeMode
                            : "fp32";
    options.tableCeiling = tablePrecision;
    options.calibration = *calibration;
    options.calibration.progress = nullptr;
    options.progress = flags.progress;
    log << "planning precisions on " << calibrationFile
        << llvm::format(" (budget: %s change <= %g) ...\n", metric.c_str(),
                        *budget);
    auto searched = searchPlan(module, calibrationFile, target, options);
    if (!searched)
      return searched.takeError();
    plan = std::move(*searched);
    plan.calibrationMethod = calibrationMethod;
    plan.interactionMethod = interactionRange;
  }
  if (!evalFile.empty()) {
    auto accuracy = measurePlan(module, plan, evalFile, target,
                                plan.metric.empty() ? metric : plan.metric);
    if (!accuracy)
      return accuracy.takeError();
    plan.eval = *accuracy;
  }
  log << "plan: FCs " << countPrecisions(plan.fcs, fcPrecisions())
      << "; tables " << countPrecisions(plan.tables, tablePrecisions()) << "\n";
  if (!std::isnan(plan.calibration.loss) && plan.calibration.samples)
    log << "  calibration set: " << describeAccuracy(plan.calibration, metric)
        << "\n";
  if (plan.eval.samples)
    log << "  eval set:        " << describeAccuracy(plan.eval, metric) << "\n";
  return plan;
}

Error quantizeByFlags(ModuleOp module, const CodegenTarget &target,
                      const CompileFlowOptions &flags,
                      std::optional<Plan> &record, llvm::raw_ostream &log) {
  const std::string &tablePrecision = flags.tablePrecision,
                    &quantizeMode = flags.quantizeMode,
                    &calibrationFile = flags.calibrationFile,
                    &emitCalibration = flags.emitCalibration;
  // The pieces by name, before anything changes them; an fp32 compile
  // records nothing and needs none.
  Expected<Plan> pieces = Plan();
  if (tablePrecision != "fp32" || quantizeMode != "none")
    pieces = listPieces(module);
  if (!pieces)
    return pieces.takeError();
  // Tables first, so calibration sees the activations the deployed model
  // will compute.
  if (tablePrecision != "fp32") {
    auto count = quantizeTables(module, tablePrecision);
    if (!count)
      return count.takeError();
    log << "stored " << *count << " embedding tables in " << tablePrecision
        << "\n";
    for (Piece &table : pieces->tables)
      table.precision = tablePrecision;
    record = *pieces;
  }

  if (quantizeMode == "bf16") {
    // No calibration: bf16 keeps fp32's range.
    auto count = storeFcWeightsInBf16(module);
    if (!count)
      return count.takeError();
    log << "stored the weights of " << *count << " FCs in bf16\n";
    for (Piece &fc : pieces->fcs)
      fc.precision = "bf16";
    record = *pieces;
  }
  if (quantizeMode == "int8" && calibrationFile.empty())
    return llvm::createStringError(
        llvm::Twine("--quantize=int8 needs --calibration calib.npz (the "
                    "activation scales come from calibration)"));
  if (flags.reduceRange && quantizeMode != "int8")
    return llvm::createStringError(
        llvm::Twine("--reduce-range applies to --quantize=int8"));
  if (!calibrationFile.empty()) {
    auto calibration = calibrationOptions(flags, flags.calibrationMethod);
    if (!calibration)
      return calibration.takeError();
    CalibrationOptions &options = *calibration;
    log << "calibrating on " << calibrationFile << " ...\n";
    auto stats = calibrate(module, calibrationFile, target, options);
    if (!stats)
      return stats.takeError();
    log << "calibrated " << stats->size() << " activations on "
        << (stats->empty() ? 0 : stats->front().samples) << " samples\n";
    if (!emitCalibration.empty()) {
      std::error_code ec;
      llvm::raw_fd_ostream os(emitCalibration, ec);
      if (ec)
        return llvm::createStringError("cannot write " + emitCalibration +
                                       ": " + ec.message());
      os << llvm::formatv("{0:2}", toJSON(*stats, options)) << "\n";
    }
    if (quantizeMode == "int8") {
      auto count = quantizeToInt8(module, *stats);
      if (!count)
        return count.takeError();
      log << "quantized " << *count << " FCs to int8\n";
      if (stats->size() != pieces->fcs.size())
        return llvm::createStringError(
            "calibration found " + llvm::Twine(stats->size()) +
            " FC inputs for " + llvm::Twine(pieces->fcs.size()) +
            " FCs (a recq bug)");
      for (auto [fc, s] : llvm::zip(pieces->fcs, *stats)) {
        fc.precision = "int8";
        fc.input = s.input();
      }
      pieces->calibrationMethod = flags.calibrationMethod;
      pieces->interactionMethod = flags.interactionRange;
      record = *pieces;
    }
  } else if (!emitCalibration.empty()) {
    return llvm::createStringError(
        llvm::Twine("--emit-calibration needs --calibration calib.npz"));
  }

  return Error::success();
}

} // namespace recq::quant
