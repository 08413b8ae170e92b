//===- Plan.h - A per-layer precision plan and how it applies ---*- C++ -*-===//
//
// A precision plan (recq-compile --emit-plan / --plan, docs/Planner.md)
// names every FC layer and every embedding table of a model with the
// precision it is compiled in, and what the planner measured for each
// candidate precision: its sensitivity (the model's output change with that
// piece alone in that precision, on the calibration data) and its cost (an
// estimate of the model's run time at the deployment batch with that
// choice). An int8 FC also carries its input activation's u8 parameters, so
// a plan compiles again without calibrating.
//
// Pieces are named by their ONNX node (an FC by its Gemm/MatMul node, a
// table by the node of the first bag that reads it).
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DRIVER_PLAN_H
#define RECQ_DRIVER_PLAN_H

#include "recq/Quant/Accuracy.h"
#include "recq/Quant/Calibration.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace recq::quant {

/// The precisions a piece can take, most precise first.
llvm::ArrayRef<llvm::StringRef> fcPrecisions();    // fp32, bf16, int8
llvm::ArrayRef<llvm::StringRef> tablePrecisions(); // fp32, fp16, int8, int4

/// One precision a piece was measured in.
struct Candidate {
  std::string precision;
  /// The model's change with only this piece in this precision (the
  /// Accuracy::loss); 0 for fp32.
  double loss = kUnmeasured;
  double meanAbsDelta = kUnmeasured, maxAbsDelta = kUnmeasured;
  /// Seconds this choice saves per deployment batch against fp32.
  double saving = kUnmeasured;
  /// Why the search does not use it (e.g. "not faster here"); empty: usable.
  std::string excluded;
};

struct Piece {
  enum Kind { Fc, Table } kind = Fc;
  std::string name;
  /// FC: {N, K} (output, input width); table: {rows, dim}.
  int64_t dim0 = 0, dim1 = 0;
  std::string precision = "fp32";
  /// The input's u8 parameters of an int8 FC.
  std::optional<FcInput> input;
  std::vector<Candidate> candidates;

  const Candidate *candidate(llvm::StringRef precision) const;
};

/// One plan the search evaluated.
struct VisitedPlan {
  int step = 0;
  std::string change; // "start", or "<piece>: int4 -> int8"
  double loss = kUnmeasured;
  double seconds = kUnmeasured; // estimated run time per deployment batch
  std::string precisions;        // compact: one letter per piece
};

struct Plan {
  static constexpr int kVersion = 1;
  std::string metric = "logloss"; // logloss, auc, max-abs
  double budget = kUnmeasured;    // a fraction (0.001 = 0.1%); NaN: by hand
  std::string target;
  std::string calibrationMethod;  // how the int8 FCs' scales were chosen
  std::string interactionMethod;  // ... and the interaction output's
  int64_t batch = 0;              // deployment batch the costs are for
  std::string costModel;          // measured, static
  double fp32Seconds = kUnmeasured;
  std::vector<Piece> fcs, tables;
  std::vector<VisitedPlan> visited;
  Accuracy calibration, eval;     // the chosen plan, compiled for real

  /// Seconds per deployment batch this plan is estimated to take.
  double estimatedSeconds() const;
  /// One letter per piece (FCs, then tables): f fp32, b bf16, h fp16, 8
  /// int8, 4 int4.
  std::string compact() const;
};

llvm::json::Value toJSON(const Plan &plan);
/// Fails naming `what` (a file name) and the offending field.
llvm::Expected<Plan> planFromJSON(const llvm::json::Value &value,
                                  llvm::StringRef what);
llvm::Expected<Plan> readPlan(llvm::StringRef path);
llvm::Error writePlan(const Plan &plan, llvm::StringRef path);

/// Where a plan's tables are in a module: the distinct tables of @main in
/// program order, and which table each embedding bag reads (bags in
/// program order, as the artifact lists them).
struct PlanSites {
  std::vector<mlir::Value> tables;
  std::vector<unsigned> bagTable;
};
llvm::Expected<PlanSites> findPlanSites(mlir::ModuleOp module);

/// Every FC and table of @main in program order, all fp32, with shapes.
llvm::Expected<Plan> listPieces(mlir::ModuleOp module);

/// Compiles `plan` into `module`: each table's bags get their table's
/// precision (recq-quantize-tables), each int8 FC its input parameters
/// (recq-quantize, recq-fuse). Fails when the plan and the model do not
/// name the same pieces, or an int8 FC has no input parameters.
llvm::Error applyPlan(mlir::ModuleOp module, const Plan &plan);

} // namespace recq::quant

#endif // RECQ_DRIVER_PLAN_H
