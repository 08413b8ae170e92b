//===- SamplesTest.cpp - Cutting model inputs into ranges of samples ------===//

#include "recq/Support/Samples.h"

#include <gtest/gtest.h>

using namespace recq;

namespace {

SampleArray f32(std::string name, std::vector<int64_t> shape,
                std::vector<float> values) {
  SampleArray a;
  a.name = std::move(name), a.dtype = 1, a.shape = std::move(shape);
  a.f32 = std::move(values);
  return a;
}

SampleArray i64(std::string name, std::vector<int64_t> shape,
                std::vector<int64_t> values) {
  SampleArray a;
  a.name = std::move(name), a.dtype = 2, a.shape = std::move(shape);
  a.i64 = std::move(values);
  return a;
}

// Three samples: dense rows, two tables sharing a [2, 3] offsets matrix,
// and a fixed-length [3, 2] table.
struct Model {
  std::vector<SampleArray> inputs{
      f32("dense", {3, 2}, {0, 1, 10, 11, 20, 21}),
      i64("offsets", {2, 3}, {0, 2, 2, /**/ 0, 1, 3}),
      i64("idx0", {4}, {5, 6, 7, 8}),     // bags {5,6} {} {7,8}
      i64("idx1", {4}, {1, 2, 3, 4}),     // bags {1} {2,3} {4}
      i64("fixed", {3, 2}, {9, 9, 8, 8, 7, 7})};
  std::vector<TableBinding> tables{{2, 1, 0, false}, {3, 1, 1, false},
                                   {4, -1, -1, false}};
};

TEST(SamplesTest, CountsTheDenseRows) {
  Model m;
  EXPECT_EQ(countSamples(m.inputs, m.tables), 3);
}

TEST(SamplesTest, MiddleSampleRebasesEachOffsetsRow) {
  Model m;
  auto cut = sliceSamples(m.inputs, m.tables, 1, 3);
  ASSERT_TRUE(bool(cut)) << llvm::toString(cut.takeError());
  const auto &c = *cut;
  EXPECT_EQ(c[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(c[0].f32, (std::vector<float>{10, 11, 20, 21}));
  EXPECT_EQ(c[1].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(c[1].i64, (std::vector<int64_t>{0, 0, /**/ 0, 2}));
  EXPECT_EQ(c[2].i64, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(c[3].i64, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(c[4].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(c[4].i64, (std::vector<int64_t>{8, 8, 7, 7}));
}

TEST(SamplesTest, IncludeLastOffsetKeepsTheClosingOffset) {
  std::vector<SampleArray> inputs{f32("dense", {2, 1}, {0, 1}),
                                  i64("offsets", {3}, {0, 1, 4}),
                                  i64("idx", {4}, {1, 2, 3, 4})};
  std::vector<TableBinding> tables{{2, 1, -1, true}};
  auto cut = sliceSamples(inputs, tables, 1, 2);
  ASSERT_TRUE(bool(cut)) << llvm::toString(cut.takeError());
  EXPECT_EQ((*cut)[1].i64, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ((*cut)[2].i64, (std::vector<int64_t>{2, 3, 4}));
}

TEST(SamplesTest, PerSampleWeightsCannotBeCut) {
  Model m;
  m.inputs.push_back(f32("weights", {4}, {1, 1, 1, 1}));
  auto cut = sliceSamples(m.inputs, m.tables, 0, 1);
  ASSERT_FALSE(bool(cut));
  EXPECT_NE(llvm::toString(cut.takeError()).find("'weights'"), std::string::npos);
}

TEST(SamplesTest, BadRangeIsAnError) {
  Model m;
  auto cut = sliceSamples(m.inputs, m.tables, 2, 4);
  ASSERT_FALSE(bool(cut));
  llvm::consumeError(cut.takeError());
}

} // namespace
