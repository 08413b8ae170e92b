//===- Accuracy.cpp - A model's outputs against the fp32 model's ----------===//

#include "recq/Quant/Accuracy.h"

#include <algorithm>
#include <numeric>

namespace recq::quant {

std::optional<double> parseBudget(llvm::StringRef text) {
  text = text.trim();
  bool percent = text.consume_back("%");
  double value;
  if (text.trim().getAsDouble(value) || !(value >= 0) || std::isinf(value))
    return std::nullopt;
  return percent ? value / 100.0 : value;
}

llvm::Error checkMetric(llvm::StringRef metric, bool hasLabels,
                        llvm::StringRef path) {
  if (metric != "logloss" && metric != "auc" && metric != "max-abs")
    return llvm::createStringError("unknown metric '" + metric +
                                   "' (logloss, auc, max-abs)");
  if (metric == "auc" && !hasLabels)
    return llvm::createStringError(
        "--metric auc needs labels: " + path +
        " has no 'labels' array (use logloss or max-abs)");
  return llvm::Error::success();
}

Scorer::Scorer(std::vector<float> reference, std::vector<float> labels,
               std::string metric)
    : reference(std::move(reference)), labels(std::move(labels)),
      metric(std::move(metric)) {
  if (!this->labels.empty()) {
    fp32LogLoss = logLoss(this->reference);
    fp32Auc = auc(this->reference);
  } else {
    fp32Entropy = crossEntropy(this->reference);
  }
}

Accuracy Scorer::score(const std::vector<float> &p) const {
  Accuracy a;
  a.samples = static_cast<int64_t>(p.size());
  double sum = 0, largest = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double d = std::fabs(double(p[i]) - reference[i]);
    sum += d;
    if (std::isnan(d) || d > largest) // a NaN output is the largest
      largest = d;                    // difference, and stays so
  }
  a.meanAbsDelta = p.empty() ? 0 : sum / p.size();
  a.maxAbsDelta = largest;
  if (!labels.empty()) {
    a.logLoss = logLoss(p);
    a.fp32LogLoss = fp32LogLoss;
    a.auc = auc(p);
    a.fp32Auc = fp32Auc;
  }
  // Changes count in either direction: a model that scores better than
  // fp32 on one data set by more than the budget has drifted as far as one
  // that scores worse (and the search cannot bank on lucky cancellation).
  if (metric == "max-abs")
    a.loss = a.maxAbsDelta;
  else if (metric == "auc")
    a.loss = std::fabs(fp32Auc - a.auc) / fp32Auc;
  else if (!labels.empty())
    a.loss = std::fabs(a.logLoss - fp32LogLoss) / fp32LogLoss;
  else
    a.loss = std::fabs(crossEntropy(p) - fp32Entropy) / fp32Entropy;
  return a;
}

static double clampProbability(double p) {
  return std::min(std::max(p, 1e-7), 1.0 - 1e-7);
}

double Scorer::logLoss(const std::vector<float> &p) const {
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double q = clampProbability(p[i]);
    sum -= labels[i] > 0.5f ? std::log(q) : std::log(1 - q);
  }
  return p.empty() ? 0 : sum / p.size();
}

/// Cross-entropy of `p` against the fp32 outputs as soft labels: its
/// increase over the fp32 model's own entropy is the normalized entropy
/// drift.
double Scorer::crossEntropy(const std::vector<float> &p) const {
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    double y = reference[i], q = clampProbability(p[i]);
    sum -= y * std::log(q) + (1 - y) * std::log(1 - q);
  }
  return p.empty() ? 0 : sum / p.size();
}

/// Rank-sum AUC, ties averaged.
double Scorer::auc(const std::vector<float> &p) const {
  std::vector<size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return p[a] < p[b]; });
  double positives = 0, rankSum = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && p[order[j]] == p[order[i]])
      ++j;
    double rank = 0.5 * (i + 1 + j); // mean of ranks i+1 .. j
    for (size_t k = i; k < j; ++k)
      if (labels[order[k]] > 0.5f) {
        positives += 1;
        rankSum += rank;
      }
    i = j;
  }
  double negatives = double(p.size()) - positives;
  if (positives == 0 || negatives == 0)
    return NAN;
  return (rankSum - positives * (positives + 1) / 2) /
         (positives * negatives);
}

} // namespace recq::quant
