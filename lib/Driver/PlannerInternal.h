//===- PlannerInternal.h - What the planner's files share -------*- C++ -*-===//
//
// The precision planner of recq/Driver/Planner.h, by job:
//
//   CostModel.cpp    step 1, what each candidate saves (measured or static)
//   CostCache.cpp    measured costs kept per model and CPU, and reused
//   Sensitivity.cpp  plans run on the calibration set (the Simulator, the
//                    workspace, plans compiled for real) and step 2, each
//                    piece's sensitivity in each cheaper precision worth it
//   PlanSearch.cpp   step 3, the search (searchPlan)
//   PlanReport.cpp   a plan against fp32: measurePlan, compareLayers
//
// Internal to lib/Driver.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_LIB_DRIVER_PLANNERINTERNAL_H
#define RECQ_LIB_DRIVER_PLANNERINTERNAL_H

#include "ModelRunner.h"

#include "recq/Driver/Planner.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace recq::quant {

/// The labels of `npz` ("labels", one per sample), or none.
llvm::Expected<std::vector<float>>
readLabels(const Npz &npz, llvm::StringRef path, int64_t samples);

/// Runs plans of one model on one data set, every table in a .weights
/// file, where a table's precision is simulated by writing what its
/// quantized form reads back over its fp32 values. Plans of fp32 and int8
/// FCs run on one artifact, compiled once, whose FCs each have their int8
/// form simulated in f32 beside the fp32 one (recq-simulate-int8), chosen
/// per run; a plan with bf16 FCs on an artifact compiled for its FCs.
class Simulator {
public:
  /// `fcInputs`: each FC's int8 input parameters, for FC variants.
  Simulator(mlir::ModuleOp module, const PlanSites &sites, const Plan &pieces,
            std::vector<std::optional<FcInput>> fcInputs,
            const CodegenTarget &target, llvm::StringRef dir, const Npz &npz,
            llvm::StringRef npzPath);

  /// Whether table `t`'s precision can be simulated (a constant f32 table).
  bool simulates(unsigned t) const { return !data[t].empty(); }

  /// The outputs of `plan` on every sample.
  llvm::Expected<std::vector<float>> outputs(const Plan &plan);

  /// The loaded model of `plan` (tables written first).
  llvm::Expected<std::unique_ptr<ModelRunner>> load(const Plan &plan);

  /// Compiles the artifacts `plans` need (plans with bf16 FCs) and are not
  /// compiled yet, on as
  /// many threads as there are cores (each in an MLIR context of its own),
  /// so later outputs() and load() of those plans find them. Call it
  /// before timing anything: the compiles take every core.
  llvm::Error prefetch(llvm::ArrayRef<Plan> plans);

private:
  struct Artifact {
    CompiledModel model;
    std::vector<std::string> stored; // what each table's bytes now hold
  };

  llvm::Expected<Artifact *> artifactFor(const std::string &mask);
  /// The simulating artifact, compiled at the first call.
  llvm::Expected<Artifact *> simulating();
  /// The FCs of `copy` (the module, consumed) in the precisions of `mask`,
  /// compiled; safe to call on several threads, each with its own copy.
  llvm::Expected<CompiledModel> compileMask(mlir::ModuleOp copy,
                                            const std::string &mask) const;
  /// `copy` (consumed) compiled to `stem`.so with every table in its
  /// .weights file; safe to call on several threads.
  llvm::Expected<CompiledModel> compileWithTables(mlir::ModuleOp copy,
                                                  llvm::StringRef stem) const;
  llvm::Error writeTable(Artifact &a, unsigned t, llvm::StringRef precision);

  mlir::ModuleOp module;
  const PlanSites &sites;
  const Plan &pieces;
  std::vector<std::optional<FcInput>> fcInputs;
  const CodegenTarget &target;
  std::string dir;
  const Npz &npz;
  std::string npzPath;
  std::vector<llvm::ArrayRef<float>> data;
  std::list<std::vector<float>> splats;
  std::map<std::string, Artifact> artifacts;
  /// The first model loaded: its inputs are every variant's.
  std::unique_ptr<ModelRunner> firstLoaded;
  std::optional<Artifact> simArtifact;
  /// The simulating artifact loaded on the .npz's inputs and the switches.
  std::unique_ptr<ModelRunner> simFirst;
};

/// `count` compiles of copies of `module`: `compile(copy, i)` for each i,
/// on as many threads as there are cores, each copy in an MLIR context of
/// its own (read back from the module's bytecode); in order, or the first
/// error.
llvm::Expected<std::vector<CompiledModel>> compileCopies(
    mlir::ModuleOp module, size_t count,
    llvm::function_ref<llvm::Expected<CompiledModel>(mlir::ModuleOp, size_t)>
        compile);

/// Compiles `module` (a copy, consumed) to `dir`/`stem`.so and loads it on
/// the inputs of `npz`.
llvm::Expected<std::unique_ptr<ModelRunner>>
compileAndLoad(mlir::ModuleOp module, llvm::StringRef dir, llvm::StringRef stem,
               const CodegenTarget &target, const Npz &npz,
               llvm::StringRef npzPath, bool allTablesExternal = false);

/// Output 0 of `runner` on all its samples.
llvm::Expected<std::vector<float>>
runAll(llvm::Expected<std::unique_ptr<ModelRunner>> runner);

/// Compiles `plan` for real and runs it on all samples of `npz`.
llvm::Expected<std::vector<float>>
runRealPlan(mlir::ModuleOp module, const Plan &plan, llvm::StringRef dir,
            llvm::StringRef stem, const CodegenTarget &target, const Npz &npz,
            llvm::StringRef npzPath);

/// A data set and a temporary directory for compiled variants, removed
/// with this.
struct Workspace {
  static llvm::Expected<std::unique_ptr<Workspace>>
  create(llvm::StringRef npzPath);
  ~Workspace();

  Npz npz;
  std::string npzPath, dir;
};

/// Measured costs of a model on a CPU, as CostCache.cpp keeps them.
struct MeasuredCosts {
  double fp32Seconds = 0;
  /// What each FC saves in each precision (per FC, program order).
  std::map<std::string, std::vector<double>> fcSaving;
  /// What all tables save together in each precision.
  std::map<std::string, double> tablesSaving;
  std::string measuredAt; // when (ISO 8601 UTC)
};

/// What the measured costs of `module` depend on, one line each: this CPU
/// (its model name and the target), this build of recq (its executable's
/// size and time), the batch and rounds, every op of @main with its types
/// and attributes (constants by their type only: the values do not change
/// the time) and the lookups per sample of each table.
std::string costKey(mlir::ModuleOp module, const CodegenTarget &target,
                    const PlannerOptions &options,
                    llvm::ArrayRef<double> lookups);
/// The cache file of `key` under `dir` (costs-<hash of key>.json).
std::string costFile(llvm::StringRef dir, llvm::StringRef key);
/// The costs cached in `path` for a model of `fcs` FCs; none when the file
/// is missing, unreadable or not what this writes.
std::optional<MeasuredCosts> readCosts(llvm::StringRef path, size_t fcs);
/// Writes `c` to `path` through a temporary file (a reader never sees half
/// of it); a failure is only said: the costs are not lost.
void writeCosts(llvm::StringRef path, const MeasuredCosts &c,
                llvm::function_ref<void(const llvm::Twine &)> say);
/// The current time, ISO 8601 UTC.
std::string nowUtc();

/// Each piece's candidates, in its precision list's order: fp32 (no
/// change, no saving), the others unmeasured; bf16 FCs excluded unless
/// `bf16` (the target has vdpbf16ps), tables that are not constant f32
/// excluded.
void listCandidates(Plan &plan, const Simulator &sim, bool bf16);

/// Step 2: each piece of `plan` alone in each cheaper precision the search
/// may use (a candidate not excluded, or the ceiling), scored against the
/// fp32 model.
llvm::Error measureSensitivity(Plan &plan, Simulator &sim, const Scorer &scorer,
                               const PlannerOptions &options);

/// Step 1: what each candidate of `plan` saves per deployment batch
/// (options.costModel), plan.fp32Seconds, and the candidates not worth it
/// here excluded.
llvm::Error measureCosts(Plan &plan, Simulator &sim, mlir::ModuleOp module,
                         const PlanSites &sites, const Workspace &ws,
                         llvm::StringRef calibrationPath,
                         const CodegenTarget &target,
                         const PlannerOptions &options);

} // namespace recq::quant

#endif // RECQ_LIB_DRIVER_PLANNERINTERNAL_H
