//===- QuantizeTest.cpp - recq.quantize/dequantize compiled and run -------===//
//
// quantize -> dequantize round trips compiled to model.so (through
// recq-lower-quant-types and the whole pipeline) give, bit for bit, what
// the reference quantizer recq::quant::QuantParams gives: rounding half to
// even, saturation at both ends, per tensor (u8, zero point != 0) and per
// output channel (i8 symmetric), on every target this CPU runs.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Pipelines/Pipelines.h"
#include "recq/Quant/Calibration.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"

#include "CompileModule.h"

#include <cmath>
#include <random>

using namespace mlir;

namespace {

class QuantizeTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    registerAllPasses();
    recq::registerAllRecqPasses();
  }

  /// Runs `text` (an @main from [?, cols] f32 to the same) on `x`.
  std::vector<float> runModule(StringRef text, const std::string &target,
                               const std::vector<float> &x, int64_t cols) {
    auto context = recq::testing::makeContext();
    OwningOpRef<ModuleOp> module =
        parseSourceString<ModuleOp>(text, context.get());
    EXPECT_TRUE(module);
    if (!module)
      return {};
    recq::testing::LoadedModel model(*module, *recq::lookupTarget(target));
    EXPECT_TRUE(model);
    if (!model)
      return {};
    int64_t shape[2] = {static_cast<int64_t>(x.size()) / cols, cols};
    const void *inputs[] = {x.data()};
    const int64_t *shapes[] = {shape};
    std::vector<float> out(x.size());
    int64_t outShape[2];
    EXPECT_TRUE(model.runs(inputs, shapes, out, outShape));
    return out;
  }
};

/// Values that hit every rounding case: exact halves (even and odd), both
/// saturation ends, zero, and random values across the range.
std::vector<float> probeValues(float scale, int count, int seed) {
  std::vector<float> v;
  for (int k = -300; k <= 300; ++k)
    v.push_back(scale * (k + 0.5f)); // ties
  for (float x : {0.0f, -0.0f, 1e9f, -1e9f, scale * 252.5f, scale * -3.5f})
    v.push_back(x);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-200 * scale, 200 * scale);
  while (static_cast<int>(v.size()) < count)
    v.push_back(dist(rng));
  return v;
}

TEST_F(QuantizeTest, PerTensorU8MatchesTheReferenceBitForBit) {
  const char *text = R"mlir(
    func.func @main(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
      %q = recq.quantize %x : tensor<?x4xf32> -> tensor<?x4x!quant.uniform<u8:f32, 0.25:3>>
      %d = recq.dequantize %q : tensor<?x4x!quant.uniform<u8:f32, 0.25:3>> -> tensor<?x4xf32>
      return %d : tensor<?x4xf32>
    })mlir";
  recq::quant::QuantParams ref{0.25f, 3};
  std::vector<float> x = probeValues(0.25f, 1024, 1);
  x.resize(x.size() / 4 * 4);
  for (const std::string &target : recq::testing::runnableTargets()) {
    SCOPED_TRACE("target " + target);
    std::vector<float> got = runModule(text, target, x, 4);
    ASSERT_EQ(got.size(), x.size());
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(got[i], ref.dequantize(ref.quantize(x[i])))
          << "x = " << x[i] << " (" << i << ")";
  }
}

TEST_F(QuantizeTest, PerChannelI8MatchesTheReferenceBitForBit) {
  // [rows, 3] quantized along axis 1 (one scale per column), symmetric.
  const char *text = R"mlir(
    func.func @main(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
      %q = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!quant.uniform<i8:f32:1, {0.125, 0.5, 2.0}>>
      %d = recq.dequantize %q : tensor<?x3x!quant.uniform<i8:f32:1, {0.125, 0.5, 2.0}>> -> tensor<?x3xf32>
      return %d : tensor<?x3xf32>
    })mlir";
  const float scales[3] = {0.125f, 0.5f, 2.0f};
  std::vector<float> x = probeValues(0.5f, 999, 2);
  x.resize(x.size() / 3 * 3);
  for (const std::string &target : recq::testing::runnableTargets()) {
    SCOPED_TRACE("target " + target);
    std::vector<float> got = runModule(text, target, x, 3);
    ASSERT_EQ(got.size(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      float s = scales[i % 3];
      float q = std::clamp(std::nearbyint(x[i] / s), -128.0f, 127.0f);
      ASSERT_EQ(got[i], q * s) << "x = " << x[i] << " column " << i % 3;
    }
  }
}

} // namespace
