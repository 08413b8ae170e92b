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
#include "recq/Dialect/Recq/Transforms/Passes.h"
#include "recq/Runtime/recq.h"
#include "recq/Runtime/recq_cpu.h"
#include "recq/Target/Codegen.h"

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

/// Compiles one FC to a model.so and returns its path.
std::string compileFc(const Case &c, const std::vector<float> &weight,
                      const std::vector<float> &bias,
                      const recq::CodegenTarget &target) {
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  MLIRContext context(registry);
  context.loadDialect<recq::RecqDialect, func::FuncDialect,
                      arith::ArithDialect>();
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  ModuleOp module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module.getBody());
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

  auto description = recq::describeModelAsC(module, target);
  EXPECT_TRUE(bool(description));
  if (!description)
    return "";
  if (llvm::Error e = recq::lowerToLLVMDialect(module, target)) {
    ADD_FAILURE() << llvm::toString(std::move(e));
    return "";
  }
  llvm::LLVMContext llvmContext;
  auto llvmModule = recq::translateAndOptimize(module, llvmContext, target);
  EXPECT_TRUE(bool(llvmModule));
  if (!llvmModule)
    return "";
  llvm::SmallString<128> obj, so;
  llvm::sys::fs::createTemporaryFile("recq-fc", "o", obj);
  llvm::sys::fs::createTemporaryFile("recq-fc", "so", so);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(obj, ec);
    EXPECT_FALSE(bool(recq::emitObject(**llvmModule, target, os)));
  }
  EXPECT_FALSE(bool(recq::linkSharedLibrary(obj, *description, so)));
  llvm::sys::fs::remove(obj);
  module->erase();
  return std::string(so);
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

std::vector<std::string> runnableTargets() {
  std::vector<std::string> out;
  for (const char *name : {"generic", "avx2", "avx512"}) {
    uint32_t mask = 0;
    if (recq_target_features(name, &mask) == 0 &&
        recq_cpu_missing(mask, nullptr, 0) == 0)
      out.push_back(name);
  }
  return out;
}

class FcKernelTest : public ::testing::TestWithParam<Case> {
protected:
  static void SetUpTestSuite() {
    registerAllPasses();
    recq::registerRecqPasses();
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

  for (const std::string &name : runnableTargets()) {
    SCOPED_TRACE("target " + name);
    std::string so = compileFc(c, weight, bias, *recq::lookupTarget(name));
    ASSERT_FALSE(so.empty());
    void *lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(lib, nullptr) << dlerror();
    auto load = reinterpret_cast<decltype(&recq_model_load)>(
        dlsym(lib, "recq_model_load"));
    auto run = reinterpret_cast<decltype(&recq_model_run)>(
        dlsym(lib, "recq_model_run"));
    auto release = reinterpret_cast<decltype(&recq_model_free)>(
        dlsym(lib, "recq_model_free"));
    recq_status st;
    recq_model *model = load(nullptr, &st);
    ASSERT_NE(model, nullptr) << st.message;
    // M: below, at and past every row tile (6, 8), and a large batch.
    for (int64_t m : {1, 3, 6, 7, 13, 17, 100}) {
      std::vector<float> x(m * c.k), out(m * c.n);
      for (float &v : x)
        v = dist(rng);
      int64_t shape[2] = {m, c.k};
      const void *inputs[] = {x.data()};
      const int64_t *shapes[] = {shape};
      int64_t outShape[2];
      ASSERT_EQ(run(model, inputs, shapes, out.data(), out.size(), outShape,
                    &st),
                RECQ_OK)
          << st.message;
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
    release(model);
    dlclose(lib);
    llvm::sys::fs::remove(so);
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
