//===- InteractionReference.h - the dot interaction, plainly ---*- C++ -*-===//
//
// The reference both interaction tests (the runtime's kernels and the
// compiled models) check a sample's output row against: the dense
// features, then the dot product of every pair of features (i, j), j < i
// (j <= i with self), row-major, summed in double.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_UNITTESTS_INTERACTIONREFERENCE_H
#define RECQ_UNITTESTS_INTERACTIONREFERENCE_H

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>

namespace recq::testing {

/// Whether `row` holds feature(0)'s `dim` floats exactly, then each pair's
/// dot product within `tolerance` times the sum of its |products| (plus
/// `tolerance` / 10, for sums near 0): sums in another order than the
/// reference's differ by rounding only.
inline ::testing::AssertionResult interactionRowMatches(
    const float *row, const std::function<const float *(int64_t)> &feature,
    int64_t features, int64_t dim, bool self, double tolerance) {
  for (int64_t d = 0; d < dim; ++d)
    if (row[d] != feature(0)[d])
      return ::testing::AssertionFailure() << "dense " << d << ": " << row[d]
                                           << ", expected " << feature(0)[d];
  int64_t column = dim;
  for (int64_t i = 0; i < features; ++i)
    for (int64_t j = 0; j < i + (self ? 1 : 0); ++j, ++column) {
      double dot = 0, magnitude = 0;
      for (int64_t d = 0; d < dim; ++d) {
        double p = double(feature(i)[d]) * feature(j)[d];
        dot += p;
        magnitude += std::fabs(p);
      }
      if (std::fabs(row[column] - dot) > tolerance * (magnitude + 0.1))
        return ::testing::AssertionFailure()
               << "pair (" << i << ", " << j << "): " << row[column]
               << ", expected " << dot;
    }
  return ::testing::AssertionSuccess();
}

} // namespace recq::testing

#endif // RECQ_UNITTESTS_INTERACTIONREFERENCE_H
