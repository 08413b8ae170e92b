//===- CompileFlow.h - recq-compile's precision flow ------------*- C++ -*-===//
//
// What recq-compile does between importing a model and lowering it, as its
// flags ask (docs/Tools.md, docs/Planner.md): the precision plan (--plan,
// --recalibrate, --accuracy-budget, --eval), quantization by flags
// (--tables, --quantize=int8, --calibration, --emit-calibration), the
// report (--report) and the numerical debugger (--compare-fp32).
//
// recq-compile fills CompileFlowOptions from its command line. Each step
// writes its status lines to `log` (recq-compile: stderr) and fails with an
// Error whose message recq-compile prints after the model's name.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DRIVER_COMPILEFLOW_H
#define RECQ_DRIVER_COMPILEFLOW_H

#include "recq/Driver/Plan.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <optional>
#include <string>

namespace recq {
struct CodegenTarget;
}

namespace recq::quant {

/// recq-compile's quantization and planning flags, as given (the defaults
/// are the flags' defaults).
struct CompileFlowOptions {
  std::string calibrationFile;             // --calibration
  std::string calibrationMethod = "l2";    // --calibration-method
  bool calibrationMethodGiven = false;     //   ... on the command line
  std::string interactionRange = "minmax"; // --interaction-range
  bool interactionRangeGiven = false;      //   ... on the command line
  bool interactionDenseApart = true;       // --interaction-dense-range
  double percentile = 99.99;               // --percentile
  int64_t calibrationChunk = 4096;         // --calibration-chunk
  std::string emitCalibration;             // --emit-calibration
  std::string quantizeMode = "none";       // --quantize: none, int8
  bool reduceRange = false;                // --reduce-range
  std::string tablePrecision = "fp32";     // --tables
  std::string accuracyBudget;              // --accuracy-budget
  std::string metric = "logloss";          // --metric
  std::string evalFile;                    // --eval
  int64_t planBatch = 512;                 // --plan-batch
  std::string costModel = "measured";      // --cost-model
  std::string costCache;                   // --cost-cache (empty: default)
  std::string planFile;                    // --plan
  std::string recalibrateFile;             // --recalibrate
  std::string reportDir;                   // --report
  std::string compareFile;                 // --compare-fp32
  /// --report runs `python -m recq.report` with this interpreter and this
  /// directory (recq's python/) on PYTHONPATH.
  std::string python, pythonDir;
  /// One line per calibration or planner step.
  std::function<void(llvm::StringRef)> progress;
};

/// The plan --plan names (rescaled by --recalibrate), or the one the
/// planner finds under --accuracy-budget; measured on --eval.
llvm::Expected<Plan> planPrecision(mlir::ModuleOp module,
                                   const CodegenTarget &target,
                                   const CompileFlowOptions &options,
                                   llvm::raw_ostream &log);

/// The precisions --tables and --quantize name, for every table and FC.
/// When anything is quantized, `record` receives the plan this amounts to
/// (no budget: chosen by hand), compiled into the artifact like a searched
/// plan so that recq-run --info, --reference and recq.compare know the
/// artifact's precisions, and --plan can compile it again.
llvm::Error quantizeByFlags(mlir::ModuleOp module, const CodegenTarget &target,
                            const CompileFlowOptions &options,
                            std::optional<Plan> &record,
                            llvm::raw_ostream &log);

/// --report: the plan as JSON in options.reportDir, then python -m
/// recq.report.
llvm::Error writeReport(const Plan &plan, const CompileFlowOptions &options);

/// --compare-fp32: each layer's output SQNR on options.compareFile, in
/// program order, and where error first appears and grows most.
llvm::Error printLayerErrors(mlir::ModuleOp module, const Plan &plan,
                             const CodegenTarget &target,
                             const CompileFlowOptions &options,
                             llvm::raw_ostream &log);

} // namespace recq::quant

#endif // RECQ_DRIVER_COMPILEFLOW_H
