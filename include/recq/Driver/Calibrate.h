//===- Calibrate.h - Run the fp32 model and record activations --*- C++ -*-===//
//
// Calibration (recq-compile --calibration calib.npz): the input of every
// recq.fc is an activation that int8 inference will quantize. A copy of
// the model whose single output is those activations side by side is
// compiled with the real fp32 lowering to a temporary model.so, run through
// the runtime on the calibration inputs in chunks of samples (two passes:
// range, then histogram), and each activation gets its u8 parameters from
// the chosen ScaleMethod.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DRIVER_CALIBRATE_H
#define RECQ_DRIVER_CALIBRATE_H

#include "recq/Quant/Calibration.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <functional>
#include <string>
#include <vector>

namespace recq {
struct CodegenTarget;
}

namespace recq::quant {

/// What calibration learned about one activation.
struct ActivationStats {
  std::string name; // "<fc node>:input"
  int64_t width = 0;
  uint64_t samples = 0;
  float min = 0, max = 0, meanAbs = 0;
  /// The FC reads a recq.interaction's output (dot products of pooled
  /// embeddings, whose tail grows with bag lengths).
  bool interaction = false;
  /// How params was chosen (CalibrationOptions::method, or
  /// interactionMethod for an interaction's output).
  ScaleMethod method = ScaleMethod::L2;
  QuantParams params;
  /// An FC reading a dot interaction's output: its first denseWidth
  /// columns (the dense features) are calibrated apart, with
  /// CalibrationOptions::method, into `dense`; min, max, meanAbs and
  /// params are then the dot products'. 0: one range for every column.
  int64_t denseWidth = 0;
  float denseMin = 0, denseMax = 0, denseMeanAbs = 0;
  QuantParams dense;

  FcInput input() const { return {params, denseWidth, dense}; }
};

struct CalibrationOptions {
  ScaleMethod method = ScaleMethod::L2;
  /// The range policy for an FC input that is a recq.interaction's output.
  /// Its values are dot products of pooled embeddings: a sample with long
  /// bags has a few far outside the bulk, and a range fitted to the bulk
  /// (l2, percentile) clips them, moving that sample's output by up to
  /// 0.4 in probability on the model kit's kaggle DLRM (docs/Quantization.md,
  /// "The int8 tail"). minmax (the default) keeps the calibrated range.
  ScaleMethod interactionMethod = ScaleMethod::MinMax;
  /// A dot interaction's output: its dense features get a range of their
  /// own (`method`), interactionMethod covering the dots only (true, the
  /// default); false: one range for all its columns (interactionMethod).
  bool interactionDenseApart = true;
  double percentile = 99.99;
  int bins = 2048;
  /// Samples per run of the model (memory: this many x the FC inputs'
  /// total width x 4 bytes); 0 runs the whole set at once.
  int64_t chunkSamples = 4096;
  /// The largest u8 code: 255, or 127 for 7-bit activations.
  int32_t qmax = 255;
  /// Called with one line per step (compile, run, each activation's
  /// histogram), each with the time it took; recq-compile prints them.
  std::function<void(llvm::StringRef)> progress;
};

/// Calibrates the FC inputs of `module` (not modified) on the arrays of
/// `npzPath`, named as the model's inputs.
llvm::Expected<std::vector<ActivationStats>>
calibrate(mlir::ModuleOp module, llvm::StringRef npzPath,
          const CodegenTarget &target, const CalibrationOptions &options);

/// The statistics as JSON (what --emit-calibration writes).
llvm::json::Value toJSON(const std::vector<ActivationStats> &stats,
                         const CalibrationOptions &options);

} // namespace recq::quant

#endif // RECQ_DRIVER_CALIBRATE_H
