//===- CalibrationTest.cpp - Histograms and u8 scale choice ---------------===//

#include "recq/Quant/Calibration.h"
#include "recq/Quant/Accuracy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace recq::quant;

namespace {

/// Mean squared error of quantizing `values` with `p`, measured.
double measuredError(const std::vector<float> &values, QuantParams p) {
  double sum = 0;
  for (float v : values) {
    double d = v - p.dequantize(p.quantize(v));
    sum += d * d;
  }
  return sum / values.size();
}

/// The two passes of calibration: range and mean |x|, then the counts.
Histogram histogramOf(const std::vector<float> &values, int bins = 2048) {
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  double meanAbs = 0;
  for (float v : values)
    meanAbs += std::fabs(v);
  Histogram h(*lo, *hi, static_cast<float>(meanAbs / values.size()), bins);
  h.add(values);
  return h;
}

TEST(QuantParams, ZeroIsExactAndTheRangeIsCovered) {
  for (auto [lo, hi] : {std::pair{-1.0f, 3.0f}, {0.0f, 6.0f}, {-4.0f, -1.0f},
                        {0.5f, 2.0f}, {-0.013f, 17.9f}}) {
    QuantParams p = paramsForRange(lo, hi);
    EXPECT_EQ(p.dequantize(p.quantize(0.0f)), 0.0f) << lo << " " << hi;
    EXPECT_GE(p.zeroPoint, 0);
    EXPECT_LE(p.zeroPoint, 255);
    // The widened range [min(lo, 0), max(hi, 0)] is inside the codes, up to
    // the rounding of the zero point (half a step).
    EXPECT_LE(p.lowest(), std::min(lo, 0.0f) + p.scale / 2);
    EXPECT_GE(p.highest(), std::max(hi, 0.0f) - p.scale / 2);
  }
  QuantParams unit = paramsForRange(0, 255);
  EXPECT_FLOAT_EQ(unit.scale, 1.0f);
  EXPECT_EQ(unit.zeroPoint, 0);
  EXPECT_EQ(unit.quantize(2.5f), 2); // half to even
  EXPECT_EQ(unit.quantize(3.5f), 4);
  EXPECT_EQ(unit.quantize(300.0f), 255);
  EXPECT_EQ(unit.quantize(-1.0f), 0);
}

TEST(QuantParams, AllZeroTensorGetsUnitScale) {
  QuantParams p = paramsForRange(0, 0);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zeroPoint, 0);
}

TEST(Histogram, CountsAndQuantiles) {
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i)
    values.push_back(i / 1000.0f);
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  Histogram h(*lo, *hi, /*unit=*/0.0f, 100); // equal-width bins
  h.add(values);
  EXPECT_EQ(h.total(), 1000u);
  uint64_t sum = 0;
  for (int i = 0; i < h.numBins(); ++i)
    sum += h.count(i);
  EXPECT_EQ(sum, 1000u);
  EXPECT_NEAR(h.quantile(0.5), 0.5, 0.02);
  EXPECT_NEAR(h.quantile(0.9), 0.9, 0.02);
}

TEST(Histogram, AsinhBinsAreFineNearZero) {
  Histogram h(-1000.0f, 1000.0f, /*unit=*/1.0f, 2048);
  int center = h.numBins() / 2;
  float inner = h.edge(center + 1) - h.edge(center);
  float outer = h.edge(h.numBins()) - h.edge(h.numBins() - 1);
  EXPECT_LT(inner, 0.01f);
  EXPECT_GT(outer, 1.0f);
  EXPECT_FLOAT_EQ(h.lo(), -1000.0f);
  EXPECT_FLOAT_EQ(h.hi(), 1000.0f);
}

TEST(ScaleChoice, MinMaxCoversEverything) {
  std::vector<float> values{-2.0f, 0.5f, 7.0f, 3.0f};
  QuantParams p = chooseParams(histogramOf(values), ScaleMethod::MinMax);
  EXPECT_NEAR(p.lowest(), -2.0f, p.scale);
  EXPECT_NEAR(p.highest(), 7.0f, p.scale);
}

TEST(ScaleChoice, PercentileClipsARareOutlier) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(100000);
  for (float &v : values)
    v = normal(rng);
  values[0] = 1000.0f; // one sample in 10^5
  Histogram h = histogramOf(values);
  QuantParams minmax = chooseParams(h, ScaleMethod::MinMax);
  QuantParams pct = chooseParams(h, ScaleMethod::Percentile, 99.9);
  EXPECT_GT(minmax.highest(), 999.0f);
  EXPECT_LT(pct.highest(), 10.0f);
  // Everything but the outlier is quantized far more finely.
  std::vector<float> bulk(values.begin() + 1, values.end());
  EXPECT_LT(measuredError(bulk, pct), 0.01 * measuredError(bulk, minmax));
}

TEST(ScaleChoice, L2MinimisesTheErrorAndMatchesMinMaxOnUniform) {
  // Student's t with 2 degrees of freedom: a tail that stretches min/max.
  std::mt19937 rng(2);
  std::student_t_distribution<float> heavy(2.0f);
  std::vector<float> tails(100000);
  for (float &v : tails)
    v = heavy(rng);
  Histogram h = histogramOf(tails);
  QuantParams minmax = chooseParams(h, ScaleMethod::MinMax);
  QuantParams pct = chooseParams(h, ScaleMethod::Percentile, 99.99);
  QuantParams l2 = chooseParams(h, ScaleMethod::L2);
  EXPECT_LT(expectedSquaredError(h, l2), expectedSquaredError(h, minmax));
  EXPECT_LE(expectedSquaredError(h, l2), expectedSquaredError(h, pct));
  // ... and on the data itself (measured here: 0.66 against 0.74).
  EXPECT_LT(measuredError(tails, l2), 0.95 * measuredError(tails, minmax));
  EXPECT_LT(l2.highest() - l2.lowest(), minmax.highest() - minmax.lowest());

  std::uniform_real_distribution<float> flat(-1.0f, 3.0f);
  std::vector<float> uniform(100000);
  for (float &v : uniform)
    v = flat(rng);
  Histogram u = histogramOf(uniform);
  QuantParams l2u = chooseParams(u, ScaleMethod::L2);
  // Clipping a flat distribution costs more than it saves.
  EXPECT_NEAR(l2u.lowest(), -1.0f, 0.05f);
  EXPECT_NEAR(l2u.highest(), 3.0f, 0.05f);
}

/// The l2 search as a plain loop: every candidate of chooseParams' grid
/// scored by expectedSquaredError, the first of the smallest kept.
QuantParams referenceL2(const Histogram &h, int32_t qmax) {
  const int steps = 128, bins = h.numBins();
  QuantParams best = paramsForRange(h.lo(), h.hi(), qmax);
  double bestError = expectedSquaredError(h, best);
  for (int a = 0; a < steps; ++a)
    for (int b = 0; b < steps; ++b) {
      if (!a && !b)
        continue;
      QuantParams c =
          paramsForRange(h.edge(a * (bins / 2) / steps),
                         h.edge(bins - b * (bins / 2) / steps), qmax);
      double e = expectedSquaredError(h, c);
      if (e < bestError)
        bestError = e, best = c;
    }
  return best;
}

// chooseParams scores the candidates from prefix sums (O(log bins) each)
// instead of a pass over the bins: it picks what the plain search picks,
// on bulk-and-tail, skewed, one-sided, sparse and flat data, 8 and 7 bits.
TEST(ScaleChoice, L2SearchPicksWhatThePlainSearchPicks) {
  std::mt19937 rng(9);
  std::student_t_distribution<float> heavy(2.0f);
  std::lognormal_distribution<float> skewed(0.0f, 1.0f);
  std::exponential_distribution<float> expo(3.0f);
  std::uniform_real_distribution<float> flat(-1.0f, 3.0f);
  std::vector<std::vector<float>> sets(5, std::vector<float>(50000));
  for (float &v : sets[0])
    v = heavy(rng);
  for (float &v : sets[1])
    v = skewed(rng) - 0.5f;
  for (float &v : sets[2])
    v = expo(rng);                            // relu-like: nothing below zero
  for (size_t i = 0; i < sets[3].size(); ++i) // clusters, empty bins between
    sets[3][i] = float(i % 7) * 3.0f + 0.01f * heavy(rng);
  for (float &v : sets[4])
    v = flat(rng);
  for (size_t k = 0; k < sets.size(); ++k)
    for (int bins : {2048, 301})
      for (int32_t qmax : {255, 127}) {
        Histogram h = histogramOf(sets[k], bins);
        QuantParams got = chooseParams(h, ScaleMethod::L2, 99.99, qmax);
        QuantParams want = referenceL2(h, qmax);
        EXPECT_EQ(got.scale, want.scale)
            << "set " << k << ", " << bins << " bins, qmax " << qmax;
        EXPECT_EQ(got.zeroPoint, want.zeroPoint)
            << "set " << k << ", " << bins << " bins, qmax " << qmax;
      }
}

TEST(ScaleChoice, ExpectedErrorTracksTheMeasuredError) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(1.0f, 2.0f);
  std::vector<float> values(200000);
  for (float &v : values)
    v = normal(rng);
  Histogram h = histogramOf(values);
  for (ScaleMethod m :
       {ScaleMethod::MinMax, ScaleMethod::Percentile, ScaleMethod::L2}) {
    QuantParams p = chooseParams(h, m, 99.9);
    double expected = expectedSquaredError(h, p);
    double measured = measuredError(values, p);
    EXPECT_NEAR(expected, measured, 0.15 * measured) << int(m);
  }
}

TEST(ScaleChoice, ReluOutputsKeepZeroAtCodeZero) {
  std::mt19937 rng(4);
  std::exponential_distribution<float> expo(1.0f);
  std::vector<float> values(50000);
  for (float &v : values)
    v = expo(rng);
  for (ScaleMethod m :
       {ScaleMethod::MinMax, ScaleMethod::Percentile, ScaleMethod::L2}) {
    QuantParams p = chooseParams(histogramOf(values), m);
    EXPECT_EQ(p.zeroPoint, 0) << int(m);
  }
}

TEST(ScaleChoice, MethodNames) {
  EXPECT_EQ(parseScaleMethod("l2"), ScaleMethod::L2);
  EXPECT_EQ(parseScaleMethod("minmax"), ScaleMethod::MinMax);
  EXPECT_EQ(parseScaleMethod("percentile"), ScaleMethod::Percentile);
  EXPECT_FALSE(parseScaleMethod("kl"));
  for (ScaleMethod m :
       {ScaleMethod::L2, ScaleMethod::MinMax, ScaleMethod::Percentile})
    EXPECT_EQ(parseScaleMethod(scaleMethodName(m)), m);
}

// A NaN output is the largest difference there is: a model that outputs
// NaN must fail a max-abs budget, not pass it (std::max drops the NaN).
TEST(Scorer, NanOutputIsTheLargestDifference) {
  Scorer scorer({0.1f, 0.2f, 0.3f}, {}, "max-abs");
  Accuracy a = scorer.score({0.1f, NAN, 0.3f});
  EXPECT_TRUE(std::isnan(a.maxAbsDelta));
  EXPECT_FALSE(a.loss <= 1.0);
  EXPECT_NEAR(scorer.score({0.1f, 0.25f, 0.3f}).maxAbsDelta, 0.05, 1e-6);
}

} // namespace
