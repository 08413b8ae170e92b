//===- FcKernelTest.cpp - The fp32 FC micro-kernel against a reference ----===//
//
// Builds a module with one recq.fc (random constant weights and bias, each
// activation), compiles it the way recq-compile does (lowering, -O3 for the
// target, object, model.so with the runtime), loads it with dlopen and
// compares its output with a plain triple loop for odd shapes: M, N and K
// that are not multiples of any target's tile, on every target this CPU
// runs.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Pipelines/Pipelines.h"
#include "recq/Runtime/recq.h"
#include "recq/Runtime/recq_cpu.h"
#include "recq/Target/Codegen.h"

#include "CompileModule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cmath>
#include <random>

using namespace mlir;

namespace {

struct Case {
  int64_t n, k;
  recq::Activation act;
};

/// Builds the module of one FC with these constants.
OwningOpRef<ModuleOp> buildFc(MLIRContext &context, const Case &c,
                              const std::vector<float> &weight,
                              const std::vector<float> &bias) {
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  Type f32 = b.getF32Type();
  auto inType = RankedTensorType::get({ShapedType::kDynamic, c.k}, f32);
  auto outType = RankedTensorType::get({ShapedType::kDynamic, c.n}, f32);
  auto func = b.create<func::FuncOp>(loc, "main",
                                     b.getFunctionType({inType}, {outType}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  Value w = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(RankedTensorType::get({c.n, c.k}, f32),
                                  llvm::ArrayRef(weight)));
  Value bv = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(RankedTensorType::get({c.n}, f32),
                                  llvm::ArrayRef(bias)));
  Value y = b.create<recq::FcOp>(loc, outType, entry->getArgument(0), w, bv,
                                 c.act);
  b.create<func::ReturnOp>(loc, y);
  return module;
}

float reference(const std::vector<float> &x, const std::vector<float> &w,
                const std::vector<float> &bias, int64_t m, int64_t n,
                int64_t k, recq::Activation act) {
  double acc = bias[n];
  for (int64_t kk = 0; kk < k; ++kk)
    acc += double(x[m * k + kk]) * w[n * k + kk];
  float v = float(acc);
  if (act == recq::Activation::relu)
    return v > 0 ? v : 0;
  if (act == recq::Activation::sigmoid)
    return 1.0f / (1.0f + std::exp(-v));
  return v;
}

class FcKernelTest : public ::testing::TestWithParam<Case> {
protected:
  static void SetUpTestSuite() {
    registerAllPasses();
    recq::registerAllRecqPasses();
  }
};

TEST_P(FcKernelTest, MatchesPlainLoops) {
  const Case &c = GetParam();
  std::mt19937 rng(c.n * 1000 + c.k);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> weight(c.n * c.k), bias(c.n);
  for (float &v : weight)
    v = dist(rng);
  for (float &v : bias)
    v = dist(rng);

  for (const std::string &name : recq::testing::runnableTargets()) {
    SCOPED_TRACE("target " + name);
    auto context = recq::testing::makeContext();
    OwningOpRef<ModuleOp> module = buildFc(*context, c, weight, bias);
    recq::testing::LoadedModel model(*module, *recq::lookupTarget(name));
    ASSERT_TRUE(model);
    // M: below, at and past every row tile (6, 8), and a large batch.
    for (int64_t m : {1, 3, 6, 7, 13, 17, 100}) {
      std::vector<float> x(m * c.k), out(m * c.n);
      for (float &v : x)
        v = dist(rng);
      int64_t shape[2] = {m, c.k};
      const void *inputs[] = {x.data()};
      const int64_t *shapes[] = {shape};
      int64_t outShape[2];
      ASSERT_TRUE(model.runs(inputs, shapes, out, outShape));
      EXPECT_EQ(outShape[0], m);
      EXPECT_EQ(outShape[1], c.n);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < c.n; ++j) {
          float want = reference(x, weight, bias, i, j, c.k, c.act);
          ASSERT_NEAR(out[i * c.n + j], want, 1e-4f * (1 + std::fabs(want)))
              << "M=" << m << " N=" << c.n << " K=" << c.k << " at (" << i
              << ", " << j << ")";
        }
    }
  }
}

// N and K around every target's column tile (8, 16, 32) and odd.
INSTANTIATE_TEST_SUITE_P(
    OddShapes, FcKernelTest,
    ::testing::Values(Case{1, 1, recq::Activation::none},
                      Case{3, 13, recq::Activation::relu},
                      Case{16, 17, recq::Activation::none},
                      Case{17, 3, recq::Activation::relu},
                      Case{33, 64, recq::Activation::sigmoid},
                      Case{100, 100, recq::Activation::relu},
                      Case{1, 479, recq::Activation::sigmoid},
                      Case{64, 1, recq::Activation::none}),
    [](const ::testing::TestParamInfo<Case> &info) {
      return "N" + std::to_string(info.param.n) + "_K" +
             std::to_string(info.param.k) + "_" +
             recq::stringifyActivation(info.param.act).str();
    });

} // namespace
