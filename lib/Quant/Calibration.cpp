//===- Calibration.cpp - Activation histograms and u8 scale choice --------===//

#include "recq/Quant/Calibration.h"

#include <algorithm>
#include <cmath>

using namespace recq::quant;

uint8_t QuantParams::quantize(float x) const {
  float q = std::nearbyint(x / scale) + static_cast<float>(zeroPoint);
  return static_cast<uint8_t>(std::clamp(q, 0.0f, static_cast<float>(qmax)));
}

QuantParams recq::quant::paramsForRange(float lo, float hi, int32_t qmax) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  QuantParams p;
  p.qmax = qmax;
  if (hi - lo <= 0.0f || !std::isfinite(hi - lo))
    return p; // an all-zero tensor: scale 1, zero point 0
  float levels = static_cast<float>(qmax);
  p.scale = (hi - lo) / levels;
  p.zeroPoint = static_cast<int32_t>(
      std::clamp(std::nearbyint(-lo / p.scale), 0.0f, levels));
  return p;
}

const char *recq::quant::scaleMethodName(ScaleMethod method) {
  switch (method) {
  case ScaleMethod::MinMax:
    return "minmax";
  case ScaleMethod::Percentile:
    return "percentile";
  case ScaleMethod::L2:
    return "l2";
  }
  return "?";
}

std::optional<ScaleMethod> recq::quant::parseScaleMethod(llvm::StringRef name) {
  if (name == "minmax")
    return ScaleMethod::MinMax;
  if (name == "percentile")
    return ScaleMethod::Percentile;
  if (name == "l2")
    return ScaleMethod::L2;
  return std::nullopt;
}

Histogram::Histogram(float lo, float hi, float unit, int bins)
    : unit(unit > 0.0f ? unit : 0.0f), counts(std::max(bins, 1), 0) {
  hi = std::max(hi, lo);
  auto toT = [&](double x) { return this->unit ? std::asinh(x / this->unit) : x; };
  auto fromT = [&](double t) { return this->unit ? this->unit * std::sinh(t) : t; };
  tLow = toT(lo);
  double tHigh = toT(hi);
  tStep = (tHigh - tLow) / counts.size();
  if (!(tStep > 0.0))
    tStep = 1.0; // one value seen: every observation goes to bin 0
  edges.resize(counts.size() + 1);
  for (size_t i = 0; i <= counts.size(); ++i)
    edges[i] = static_cast<float>(fromT(tLow + i * tStep));
  edges.front() = lo;
  edges.back() = std::max(hi, edges.back());
}

int Histogram::binOf(float v) const {
  double t = unit ? std::asinh(double(v) / unit) : double(v);
  int bin = static_cast<int>((t - tLow) / tStep);
  return std::clamp(bin, 0, numBins() - 1);
}

void Histogram::add(llvm::ArrayRef<float> values) {
  for (float v : values) {
    if (!std::isfinite(v))
      continue;
    counts[binOf(v)] += 1;
    ++totalCount;
  }
}

float Histogram::quantile(double fraction) const {
  double target = fraction * totalCount;
  double seen = 0;
  for (int i = 0; i < numBins(); ++i) {
    if (seen + counts[i] >= target && counts[i] > 0) {
      double within = (target - seen) / counts[i];
      return edges[i] + static_cast<float>(within) * (edges[i + 1] - edges[i]);
    }
    seen += counts[i];
  }
  return hi();
}

double recq::quant::expectedSquaredError(const Histogram &h,
                                         QuantParams params) {
  if (h.total() == 0)
    return 0.0;
  double lowest = params.lowest(), highest = params.highest();
  double rounding = double(params.scale) * params.scale / 12.0;
  double sum = 0;
  for (int i = 0; i < h.numBins(); ++i) {
    if (!h.count(i))
      continue;
    // Values spread evenly over the bin: clipped ones err by their mean
    // squared distance to the edge, the others by the rounding noise.
    double c = h.binCenter(i), w = double(h.edge(i + 1)) - h.edge(i);
    double spread = w * w / 12.0;
    double err = c < lowest    ? (c - lowest) * (c - lowest) + spread
                 : c > highest ? (c - highest) * (c - highest) + spread
                               : rounding;
    sum += err * h.count(i);
  }
  return sum / h.total();
}

namespace {

/// expectedSquaredError for many candidate ranges over one histogram, each
/// in O(log bins): the bins' counts, first and second moments about their
/// centers and spreads as prefix sums (long double, so expanding
/// `(c - edge)^2` over a side's bins loses no more than the direct sum's
/// rounding in practice); the rounding noise applies to the bins between
/// the clipped sides, counted exactly.
class ErrorTable {
public:
  explicit ErrorTable(const Histogram &h) {
    int bins = h.numBins();
    centers.reserve(bins);
    prefix.assign(bins + 1, {});
    for (int i = 0; i < bins; ++i) {
      // The reference's values: the float center, as a double.
      double c = h.binCenter(i), w = double(h.edge(i + 1)) - h.edge(i);
      long double n = h.count(i);
      centers.push_back(c);
      const Sums &p = prefix[i];
      prefix[i + 1] = {p.count + h.count(i), p.nc + n * c, p.ncc + n * c * c,
                       p.spread + n * (w * w / 12.0)};
    }
    total = h.total();
  }

  double error(const QuantParams &params) const {
    if (total == 0)
      return 0.0;
    double lowest = params.lowest(), highest = params.highest();
    double rounding = double(params.scale) * params.scale / 12.0;
    // Bins [0, low) have centers below `lowest`, [high, bins) above
    // `highest`.
    size_t low = std::lower_bound(centers.begin(), centers.end(), lowest) -
                 centers.begin();
    size_t high = std::upper_bound(centers.begin(), centers.end(), highest) -
                  centers.begin();
    high = std::max(high, low);
    const Sums &l = prefix[low], &h = prefix[high], &all = prefix.back();
    // (Counts below 2^64 are exact in a long double's 64-bit mantissa.)
    auto clipped = [](uint64_t n, long double nc, long double ncc,
                      long double spread, long double edge) {
      return ncc - 2 * edge * nc + edge * edge * (long double)n + spread;
    };
    long double sum = clipped(l.count, l.nc, l.ncc, l.spread, lowest) +
                      clipped(all.count - h.count, all.nc - h.nc,
                              all.ncc - h.ncc, all.spread - h.spread, highest) +
                      (long double)rounding * double(h.count - l.count);
    return double(sum / total);
  }

private:
  struct Sums {
    uint64_t count = 0;
    long double nc = 0, ncc = 0, spread = 0;
  };
  std::vector<double> centers;
  std::vector<Sums> prefix; ///< sums over bins [0, i)
  uint64_t total = 0;
};

} // namespace

QuantParams recq::quant::chooseParams(const Histogram &h, ScaleMethod method,
                                      double percentile, int32_t qmax) {
  if (h.total() == 0)
    return paramsForRange(0, 0, qmax);
  switch (method) {
  case ScaleMethod::MinMax:
    return paramsForRange(h.lo(), h.hi(), qmax);
  case ScaleMethod::Percentile: {
    double p = std::clamp(percentile, 50.0, 100.0) / 100.0;
    return paramsForRange(h.quantile(1.0 - p), h.quantile(p), qmax);
  }
  case ScaleMethod::L2:
    break;
  }
  // Clip from each side at bin edges on a grid of 128 positions per side
  // (up to half of the bins each, which with asinh bins reaches well into
  // the bulk), keeping the range with the smallest
  // expected error; min/max is the first candidate, so l2 never does
  // worse than minmax on the histogram.
  const int steps = 128;
  int bins = h.numBins();
  ErrorTable table(h);
  QuantParams best = paramsForRange(h.lo(), h.hi(), qmax);
  double bestError = table.error(best);
  for (int a = 0; a < steps; ++a) {
    int cutLow = a * (bins / 2) / steps;
    for (int b = 0; b < steps; ++b) {
      int cutHigh = b * (bins / 2) / steps;
      if (!a && !b)
        continue;
      float lo = h.edge(cutLow);
      float hi = h.edge(bins - cutHigh);
      QuantParams candidate = paramsForRange(lo, hi, qmax);
      double error = table.error(candidate);
      if (error < bestError) {
        bestError = error;
        best = candidate;
      }
    }
  }
  return best;
}
