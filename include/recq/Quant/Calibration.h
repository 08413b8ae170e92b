//===- Calibration.h - Activation histograms and u8 scale choice -*- C++ -*-===//
//
// The quantization math of calibration (issue #5): a histogram of one
// activation tensor over the calibration data, and the choice of its u8
// affine parameters (`real = scale * (q - zero_point)`, q in [0, 255]) by
// one of three methods:
//
//   minmax      the whole observed range;
//   percentile  the range between the (100 - p)th and the p-th percentile,
//               so rare outliers do not stretch the scale;
//   l2          the clipping range that minimises the expected squared
//               error over the histogram: clipping error for values
//               outside, rounding noise (scale^2 / 12) inside. The default.
//
// Every range is widened to include 0 so that 0 (padding, ReLU's floor) is
// exact. No MLIR here; the calibration driver feeds it.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_QUANT_CALIBRATION_H
#define RECQ_QUANT_CALIBRATION_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace recq::quant {

/// u8 affine quantization parameters.
struct QuantParams {
  float scale = 1.0f;
  int32_t zeroPoint = 0;
  /// The largest code: 255, or 127 for 7-bit activations (--reduce-range).
  int32_t qmax = 255;

  /// Nearest code, rounding half to even, saturated to [0, qmax].
  uint8_t quantize(float x) const;
  float dequantize(uint8_t q) const { return scale * (int32_t(q) - zeroPoint); }
  /// The representable range [scale * (0 - zp), scale * (qmax - zp)].
  float lowest() const { return dequantize(0); }
  float highest() const { return dequantize(static_cast<uint8_t>(qmax)); }
};

/// An int8 FC's input parameters: one u8 range for all its columns, or,
/// with denseWidth > 0 (the FC reading a dot interaction's output), `dense`
/// for its first denseWidth columns, the dense features, and `params` for
/// the dot products after them: their ranges lie 100x apart, and one scale
/// for both rounds most dense features to 0 or 1 code.
struct FcInput {
  QuantParams params;
  int64_t denseWidth = 0;
  QuantParams dense;
};

/// Parameters whose range covers [lo, hi] widened to include 0, with 0
/// exactly representable (the zero point is an integer code), codes 0..qmax.
QuantParams paramsForRange(float lo, float hi, int32_t qmax = 255);

enum class ScaleMethod { MinMax, Percentile, L2 };
std::optional<ScaleMethod> parseScaleMethod(llvm::StringRef name);
/// "minmax", "percentile", "l2": the name parseScaleMethod reads.
const char *scaleMethodName(ScaleMethod method);

/// Counts of values over a fixed [lo, hi] (the observed range, from a
/// first pass over the data). Bins are equal in asinh(x / unit): fine near
/// zero, where a tensor's bulk is, and coarse in the tails, so a heavy
/// tail neither blurs the bulk into a few bins nor needs millions of bins.
/// `unit` is the scale of the bulk (e.g. the mean |x| of the first pass);
/// 0 picks equal-width bins.
class Histogram {
public:
  Histogram(float lo, float hi, float unit = 0.0f, int bins = 2048);

  void add(llvm::ArrayRef<float> values);
  int numBins() const { return static_cast<int>(counts.size()); }
  float lo() const { return edges.front(); }
  float hi() const { return edges.back(); }
  /// Bin i holds [edge(i), edge(i + 1)).
  float edge(int i) const { return edges[i]; }
  float binCenter(int i) const { return 0.5f * (edges[i] + edges[i + 1]); }
  uint64_t count(int i) const { return counts[i]; }
  uint64_t total() const { return totalCount; }
  /// The value below which `fraction` of the observations lie (linear
  /// within a bin).
  float quantile(double fraction) const;

private:
  int binOf(float v) const;

  float unit;
  double tLow, tStep; // bins are equal in t = asinh(x / unit)
  std::vector<float> edges;
  std::vector<uint64_t> counts;
  uint64_t totalCount = 0;
};

/// Expected squared quantization error per observation of the values in
/// `histogram` under `params`.
double expectedSquaredError(const Histogram &histogram, QuantParams params);

/// Chooses the parameters of one tensor. `percentile` (e.g. 99.99) is used
/// by ScaleMethod::Percentile.
QuantParams chooseParams(const Histogram &histogram, ScaleMethod method,
                         double percentile = 99.99, int32_t qmax = 255);

} // namespace recq::quant

#endif // RECQ_QUANT_CALIBRATION_H
