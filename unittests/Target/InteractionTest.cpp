//===- InteractionTest.cpp - recq.interaction compiled and run ------------===//
//
// The dot interaction compiled to model.so and run on every target this
// CPU runs, against a plain reference: for each sample, the dense
// features, then the dot product of every pair of features (i, j), j < i
// (j <= i with self_interaction), row-major, on D from 4 to 128 and 2 to 27
// features (the MLPerf-shaped DLRM's 27 x 128 among them). Sums in
// another order than the reference's differ by rounding only: a relative
// tolerance of 1e-5 of the sum of |products|.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Pipelines/Pipelines.h"

#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FormatVariadic.h"

#include "../Runtime/InteractionReference.h"
#include "CompileModule.h"

#include <random>

using namespace mlir;

namespace {

struct Shape {
  int64_t tables, dim;
  bool self;
};

class InteractionTest : public ::testing::TestWithParam<Shape> {
protected:
  static void SetUpTestSuite() {
    registerAllPasses();
    recq::registerAllRecqPasses();
  }
};

TEST_P(InteractionTest, MatchesThePlainReference) {
  auto [tables, dim, self] = GetParam();
  int64_t features = tables + 1;
  int64_t pairs = self ? features * (features + 1) / 2
                       : features * (features - 1) / 2;
  int64_t width = dim + pairs;
  std::string text = llvm::formatv(R"mlir(
    func.func @main(%x: tensor<?x{1}xf32>, %e: tensor<?x{0}x{1}xf32>) -> tensor<?x{2}xf32> {
      %r = recq.interaction dot %x, [%e] {3} : (tensor<?x{1}xf32>, tensor<?x{0}x{1}xf32>) -> tensor<?x{2}xf32>
      return %r : tensor<?x{2}xf32>
    })mlir",
                                   tables, dim, width,
                                   self ? "self_interaction" : "");
  const int64_t batch = 37;
  std::mt19937 rng(int(tables * 1000 + dim));
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> x(batch * dim), e(batch * tables * dim);
  for (float &v : x)
    v = dist(rng);
  for (float &v : e)
    v = dist(rng);
  auto feature = [&](int64_t s, int64_t f) {
    return f == 0 ? &x[s * dim] : &e[(s * tables + f - 1) * dim];
  };
  for (const std::string &target : recq::testing::runnableTargets()) {
    SCOPED_TRACE("target " + target);
    auto context = recq::testing::makeContext();
    OwningOpRef<ModuleOp> module =
        parseSourceString<ModuleOp>(text, context.get());
    ASSERT_TRUE(module);
    recq::testing::LoadedModel model(*module, *recq::lookupTarget(target));
    ASSERT_TRUE(model);
    int64_t xShape[2] = {batch, dim}, eShape[3] = {batch, tables, dim};
    const void *inputs[] = {x.data(), e.data()};
    const int64_t *shapes[] = {xShape, eShape};
    std::vector<float> out(batch * width);
    int64_t outShape[2];
    ASSERT_TRUE(model.runs(inputs, shapes, out, outShape));
    ASSERT_EQ(outShape[1], width);
    for (int64_t s = 0; s < batch; ++s)
      ASSERT_TRUE(recq::testing::interactionRowMatches(
          &out[s * width], [&](int64_t f) { return feature(s, f); }, features,
          dim, self, 1e-5))
          << "sample " << s;
  }
}

std::string name(const ::testing::TestParamInfo<Shape> &info) {
  return llvm::formatv("T{0}_D{1}{2}", info.param.tables, info.param.dim,
                       info.param.self ? "_self" : "");
}

// D = 4, 16, 20, 32, 128; 1, 3, 4, 5, 8 and 26 tables; with and without
// the diagonal.
INSTANTIATE_TEST_SUITE_P(
    Shapes, InteractionTest,
    ::testing::Values(Shape{26, 128, false}, Shape{26, 128, true},
                      Shape{3, 16, false}, Shape{4, 16, true},
                      Shape{8, 32, false}, Shape{1, 16, false},
                      Shape{1, 16, true}, Shape{8, 4, false},
                      Shape{5, 20, true}),
    name);

} // namespace
