//===- ModelRunner.h - Compile a module variant, load it, run it -*- C++ -*-===//
//
// What calibration and the precision planner share: a module compiled with
// the real lowering to a temporary model.so (its tables, optionally all of
// them, in model.weights), loaded through the C API, and run on the
// arrays of an .npz named as the model's inputs, on any range of samples.
// Internal to lib/Driver.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_LIB_DRIVER_MODELRUNNER_H
#define RECQ_LIB_DRIVER_MODELRUNNER_H

#include "recq/Support/ModelApi.h"
#include "recq/Support/Npz.h"
#include "recq/Support/Samples.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace recq {
struct CodegenTarget;
}

namespace recq::quant {

/// Makes @main of `module` return `values` (each [batch, width] f32, width
/// static) side by side as one [batch, sum of widths] output named `name`,
/// and erases what no longer contributes to it.
llvm::Error returnSideBySide(mlir::ModuleOp module,
                             llvm::ArrayRef<mlir::Value> values,
                             llvm::StringRef name);

/// A compiled variant: `dir`/`stem`.so and, when it has any, .weights.
struct CompiledModel {
  std::string so, weights;
  /// Where each table (findPlanSites order) starts in `weights`; ~0 for a
  /// table kept in the library.
  std::vector<uint64_t> tableOffsets;
};

/// Compiles `module` (consumed: it is lowered in place) to `dir`/`stem`.so.
/// Tables above 1 MiB, or all of them with `allTablesExternal`, go to
/// `dir`/`stem`.weights.
llvm::Expected<CompiledModel> compileModule(mlir::ModuleOp module,
                                            llvm::StringRef dir,
                                            llvm::StringRef stem,
                                            const CodegenTarget &target,
                                            bool allTablesExternal = false);

/// A loaded model.so and the inputs it runs on.
class ModelRunner {
public:
  static llvm::Expected<std::unique_ptr<ModelRunner>>
  create(llvm::StringRef so, const Npz &npz, llvm::StringRef npzPath);

  /// Loads `so`, a variant of this runner's model (the same inputs), on
  /// this runner's inputs, without reading the .npz again.
  llvm::Expected<std::unique_ptr<ModelRunner>> variant(llvm::StringRef so) const;

  int64_t samples() const { return countSamples(inputs, tables); }
  /// Indices per sample each of the model's bags reads (artifact order).
  std::vector<double> lookupsPerSample() const;
  /// Whether run() can take any range (false: an input sliceSamples cannot
  /// cut, e.g. per-sample weights).
  bool cuttable() const;
  /// Sets the [samples, width] f32 input `name` to `row` in every sample
  /// (its shape from the other inputs' samples).
  llvm::Error setRowInput(llvm::StringRef name, llvm::ArrayRef<float> row);
  void setThreads(int threads) {
    loaded->api.setThreads(loaded->model, threads);
  }

  /// Output 0 for samples [begin, end) (begin 0, end samples(): all).
  llvm::Expected<std::vector<float>> run(int64_t begin, int64_t end);

  /// Seconds of the fastest of `repeats` runs on samples [0, batch), after
  /// a warm-up run (interference on a shared machine only adds time).
  llvm::Expected<double> time(int64_t batch, int repeats);

  /// One op of a per-op profile (recq-compile --profile): its name ("qfc
  /// /top/top.0/Gemm") and seconds per run, summed over threads.
  struct OpTime {
    std::string name;
    double seconds;
  };
  /// The per-op profile of `repeats` runs on samples [0, batch) after a
  /// warm-up run, each op's time the mean per run; an error when the model
  /// was compiled without the profile.
  llvm::Expected<std::vector<OpTime>> profile(int64_t batch, int repeats);

private:
  ModelRunner() = default;
  /// Runs samples [0, batch) once to warm up and then `repeats` times (at
  /// least once), calling `afterRun(i, seconds)` after run i (0: the
  /// warm-up).
  llvm::Error repeat(int64_t batch, int repeats,
                     llvm::function_ref<void(int, double)> afterRun);
  /// `so` loaded, no inputs yet.
  static llvm::Expected<std::unique_ptr<ModelRunner>> open(llvm::StringRef so);
  std::unique_ptr<LoadedModel> loaded;
  std::vector<SampleArray> inputs;
  std::vector<TableBinding> tables;
};

} // namespace recq::quant

#endif // RECQ_LIB_DRIVER_MODELRUNNER_H
