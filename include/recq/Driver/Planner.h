//===- Planner.h - Per-layer precision search under a budget ----*- C++ -*-===//
//
// recq-compile --calibration calib.npz --accuracy-budget 0.1%: the
// precision planner (docs/Planner.md).
//
// 1. Sensitivity: each FC (int8) and each table (fp16, int8, int4) alone in
//    each candidate precision, the rest fp32; the model's outputs on the
//    calibration set against the fp32 model's: the budget's metric, mean
//    and max |dp|. FC variants are compiled for real; a table's variant is
//    the fp32 artifact with that table's values replaced by what its
//    quantized form reads back (what the fused kernel computes, up to f32
//    summation order), so no table needs a compile of its own.
// 2. Cost: what each candidate saves per deployment batch. `measured`
//    times each op on this CPU with the per-op profile, in the fp32 model
//    and in models with every FC and every table in a cheaper precision
//    (compiled for real, timed in interleaved rounds, median per op): an
//    FC's saving is its ops' fp32 time minus their time among neighbours
//    of the same precision, where the search starts; the tables' saving
//    in a precision, the bags' fp32 time minus theirs, is shared out over
//    tables by the bytes their lookups read. A candidate that saves
//    nothing here is excluded.
//    `static` uses nominal rates (bytes and flops), for plans that must
//    not depend on the machine's load.
// 3. Search: start from the cheapest plan; while the budget is broken,
//    move the piece with the best (expected loss recovered / saving given
//    up) to its next more precise candidate, and measure the whole model
//    again. The chosen plan is then compiled for real and measured; an
//    infeasible budget is an error naming the best loss reached.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DRIVER_PLANNER_H
#define RECQ_DRIVER_PLANNER_H

#include "recq/Driver/Calibrate.h"
#include "recq/Driver/Plan.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <string>

namespace recq {
struct CodegenTarget;
}

namespace recq::quant {

struct PlannerOptions {
  /// logloss (relative log-loss increase; without labels, the relative
  /// cross-entropy against the fp32 outputs), auc (relative AUC drop),
  /// max-abs (max |p - p_fp32|).
  std::string metric = "logloss";
  double budget = 0.001;
  /// Deployment batch the costs are measured at.
  int64_t batch = 512;
  std::string costModel = "measured"; // measured, static
  /// Timing rounds per A/B comparison (measured costs).
  int rounds = 7;
  /// Directory where measured costs are kept per model and CPU, and
  /// reused (recq-compile --cost-cache); empty: measured every time.
  std::string costCache;
  /// The most precise precision the search may use (a user's constraint,
  /// e.g. tables no larger than int8): fp32 leaves every candidate open.
  std::string fcCeiling = "fp32", tableCeiling = "fp32";
  CalibrationOptions calibration;
  /// One line per step.
  std::function<void(llvm::StringRef)> progress;
};

/// Searches a plan for `module` (not modified) on the calibration set;
/// the result's `calibration` accuracy is the chosen plan's, compiled for
/// real. Fails on an infeasible budget, naming the best loss reached.
llvm::Expected<Plan> searchPlan(mlir::ModuleOp module,
                                llvm::StringRef calibrationPath,
                                const CodegenTarget &target,
                                const PlannerOptions &options);

/// Compiles `plan` for `module` (not modified) and the fp32 model, runs
/// both on `npzPath` and compares them under `metric`.
llvm::Expected<Accuracy> measurePlan(mlir::ModuleOp module, const Plan &plan,
                                     llvm::StringRef npzPath,
                                     const CodegenTarget &target,
                                     llvm::StringRef metric);

/// One FC's or embedding bag's output in a plan against fp32.
struct LayerError {
  std::string kind;      // fc, table, output
  std::string name;      // the piece (a bag by its table's name)
  std::string precision; // the piece's precision in the plan
  int64_t width = 0;
  double sqnr = 0;       // dB: 10 log10(sum ref^2 / sum (x - ref)^2)
};

/// The numerical debugger (recq-compile --compare-fp32 x.npz): `plan` and
/// the fp32 model, each compiled to also return every FC's and every bag's
/// output, run on `npzPath`; each output's SQNR against fp32, in program
/// order, then the model's output. (An exposed FC output is used twice, so
/// its int8 successor requantizes it from f32 instead of taking u8
/// straight from the GEMM: the same values up to one rounding.)
llvm::Expected<std::vector<LayerError>>
compareLayers(mlir::ModuleOp module, const Plan &plan, llvm::StringRef npzPath,
              const CodegenTarget &target);

} // namespace recq::quant

#endif // RECQ_DRIVER_PLANNER_H
