//===- Accuracy.h - A model's outputs against the fp32 model's --*- C++ -*-===//
//
// The metrics the precision planner budgets and the drift check verifies
// (docs/Planner.md): a model's probabilities on one data set against the
// fp32 model's on the same samples, and the labels when there are some.
//
//   logloss  relative log-loss increase, (LL - LL_fp32) / LL_fp32; without
//            labels, the relative increase of the cross-entropy against the
//            fp32 outputs as soft labels over their own entropy (the
//            normalized entropy drift);
//   auc      relative AUC drop, (AUC_fp32 - AUC) / AUC_fp32 (needs labels);
//   max-abs  max |p - p_fp32|.
//
// logloss and auc count a change in either direction: scoring better than
// fp32 by more than the budget on one data set is drift too.
//
// LLVM Support only: recq-run links it.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_QUANT_ACCURACY_H
#define RECQ_QUANT_ACCURACY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace recq::quant {

constexpr double kUnmeasured = NAN;

/// The budget a quantized artifact is held to when it carries none (its
/// precisions were chosen by --quantize/--tables, not by the planner):
/// relative log-loss and, with labels, relative AUC change against fp32,
/// each at most 1%. recq-run --reference and `python -m recq.compare`
/// apply it (python/recq/tolerance.py holds the same number).
constexpr double kFixedPrecisionBudget = 0.01;
/// An fp32 artifact's outputs against the fp32 reference: max |p - ref|.
constexpr double kFp32Tolerance = 1e-5;

/// How far a model's outputs moved from the fp32 model's on one data set.
struct Accuracy {
  double loss = kUnmeasured;       // the planner's metric (see Metric)
  double logLoss = kUnmeasured;    // with labels: mean log-loss
  double fp32LogLoss = kUnmeasured;
  double auc = kUnmeasured;        // with labels
  double fp32Auc = kUnmeasured;
  double meanAbsDelta = kUnmeasured; // mean |p - p_fp32|
  double maxAbsDelta = kUnmeasured;  // max |p - p_fp32|
  int64_t samples = 0;
};

/// The fp32 model's outputs on one data set (and the labels, if any), and
/// how another model's outputs on the same samples compare.
class Scorer {
public:
  /// `labels` may be empty; otherwise one per output.
  Scorer(std::vector<float> reference, std::vector<float> labels,
         std::string metric);

  Accuracy score(const std::vector<float> &p) const;
  bool hasLabels() const { return !labels.empty(); }

private:
  double logLoss(const std::vector<float> &p) const;
  double crossEntropy(const std::vector<float> &p) const;
  double auc(const std::vector<float> &p) const;

  std::vector<float> reference, labels;
  std::string metric;
  double fp32LogLoss = NAN, fp32Auc = NAN, fp32Entropy = NAN;
};

/// Fails on an unknown metric, or auc without labels (naming `path`).
llvm::Error checkMetric(llvm::StringRef metric, bool hasLabels,
                        llvm::StringRef path);

/// Parses "0.1%" (a percentage) or "0.001" (a fraction).
std::optional<double> parseBudget(llvm::StringRef text);

} // namespace recq::quant

#endif // RECQ_QUANT_ACCURACY_H
