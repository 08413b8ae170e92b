//===- InteractionKernelTest.cpp - the dot interaction's C kernels --------===//
//
// recq_interaction_dot_f32_{generic,avx2} against a plain reference in
// double, on dimensions that are not multiples of the vector width (the
// masked tail), feature counts that leave partial 3 x 4 blocks, features
// spread over several groups with padded strides, and output rows wider
// than the result (the padding must stay untouched). The avx2 kernel runs
// where the CPU has AVX2 and FMA, and says why it is skipped elsewhere.
//
//===----------------------------------------------------------------------===//

#include "recq/Runtime/recq_cpu.h"
#include "recq/Runtime/recq_interaction.h"

#include "InteractionReference.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

using Kernel = void (*)(const recq_feature_group *, int64_t, int64_t,
                        int64_t, int64_t, float *, int64_t);

struct Case {
  std::vector<int64_t> counts; // features per group (the dense group: 1)
  int64_t dim;
  bool self;
};

struct Named {
  const char *name;
  Kernel kernel;
  uint32_t needs;
};

const Named kKernels[] = {
    {"generic", recq_interaction_dot_f32_generic, 0},
    {"avx2", recq_interaction_dot_f32_avx2, RECQ_CPU_AVX2 | RECQ_CPU_FMA},
};

class InteractionKernelTest
    : public ::testing::TestWithParam<std::tuple<int, Case>> {};

TEST_P(InteractionKernelTest, MatchesThePlainReference) {
  const auto &[which, c] = GetParam();
  const Named &k = kKernels[which];
  char missing[128];
  if (recq_cpu_missing(k.needs, missing, sizeof missing) > 0)
    GTEST_SKIP() << "this CPU lacks " << missing << " for the " << k.name
                 << " kernel";
  const int64_t batch = 5, dim = c.dim, diagonal = c.self ? 1 : 0;
  std::mt19937 rng(int(dim * 131 + c.counts.size()));
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  // Each group: its own buffer, a feature stride of dim + 3 and a sample
  // stride with 5 more floats of padding.
  std::vector<std::vector<float>> data;
  std::vector<recq_feature_group> groups;
  int64_t features = 0;
  for (int64_t count : c.counts) {
    int64_t featureStride = dim + 3, sampleStride = count * featureStride + 5;
    data.emplace_back(batch * sampleStride);
    for (float &v : data.back())
      v = dist(rng);
    groups.push_back({data.back().data(), sampleStride, featureStride, count});
    features += count;
  }
  auto feature = [&](int64_t s, int64_t f) {
    for (const recq_feature_group &g : groups) {
      if (f < g.count)
        return g.data + s * g.sample_stride + f * g.feature_stride;
      f -= g.count;
    }
    return (const float *)nullptr;
  };
  int64_t pairs = features * (features - 1 + 2 * diagonal) / 2;
  int64_t width = dim + pairs, stride = width + 7;
  const float kUntouched = -12345.0f;
  std::vector<float> out(batch * stride, kUntouched);
  k.kernel(groups.data(), int64_t(groups.size()), dim, batch, diagonal,
           out.data(), stride);
  for (int64_t s = 0; s < batch; ++s) {
    const float *row = &out[s * stride];
    ASSERT_TRUE(recq::testing::interactionRowMatches(
        row, [&](int64_t f) { return feature(s, f); }, features, dim, c.self,
        1e-6))
        << "sample " << s;
    for (int64_t p = width; p < stride; ++p)
      ASSERT_EQ(row[p], kUntouched) << "sample " << s << ", padding " << p;
  }
}

std::string name(const ::testing::TestParamInfo<std::tuple<int, Case>> &info) {
  const auto &[which, c] = info.param;
  std::string text = std::string(kKernels[which].name) + "_F";
  for (int64_t count : c.counts)
    text += "_" + std::to_string(count);
  return text + "_D" + std::to_string(c.dim) + (c.self ? "_self" : "");
}

// The dense group plus: one [B, T, D] result (26: the MLPerf shape, 27
// features; 2, 3, 4, 6 tables: each partial block), single [B, D]
// operands, a mix; D = 1, 3, 8, 9, 13, 16, 64, 127, 128; no features
// but the dense one.
INSTANTIATE_TEST_SUITE_P(
    Shapes, InteractionKernelTest,
    ::testing::Combine(
        ::testing::Values(0, 1),
        ::testing::Values(Case{{1, 26}, 128, false}, Case{{1, 26}, 128, true},
                          Case{{1, 26}, 127, false}, Case{{1, 2}, 9, false},
                          Case{{1, 3}, 13, true}, Case{{1, 4}, 8, false},
                          Case{{1, 6}, 3, true}, Case{{1, 1, 1, 1}, 16, false},
                          Case{{1, 5, 1, 2}, 64, true}, Case{{1}, 16, false},
                          Case{{1}, 16, true}, Case{{1, 7}, 1, false})),
    name);

} // namespace
