//===- FcKernelTest.cpp - The fp32 and bf16 FC kernels against a reference
//-===//
//
// Builds a module with one recq.fc (random constant weights and bias, each
// activation), compiles it the way recq-compile does (lowering, -O3 for the
// target, object, model.so with the runtime), loads it with dlopen and
// compares its output with a plain triple loop for odd shapes: M, N and K
// that are not multiples of any target's tile, on every target this CPU
// runs. A bf16 FC (bf16 weights) must match, bit for bit, a plain C model
// of its definition: the input rounded to bf16, FMAs in vdpbf16ps's order;
// the native AVX-512 BF16 kernel runs where the CPU has it. The AMX
// kernel (tdpbf16ps) sums in its own order: amx-emulated must match a
// plain C model of that order bit for bit, and every AMX result must be
// within the bound recq.fc documents of the definition.
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
#include <cstring>
#include <random>

using namespace mlir;

namespace {

struct Case {
  int64_t n, k;
  recq::Activation act;
};

/// Builds the module of one FC with these constants (the weight stored
/// in bf16, rounded to nearest even, with `bf16`).
OwningOpRef<ModuleOp> buildFc(MLIRContext &context, const Case &c,
                              const std::vector<float> &weight,
                              const std::vector<float> &bias,
                              bool bf16 = false) {
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
  DenseElementsAttr wAttr = DenseElementsAttr::get(
      RankedTensorType::get({c.n, c.k}, f32), llvm::ArrayRef(weight));
  if (bf16) {
    std::vector<APFloat> rounded;
    for (float v : weight) {
      APFloat r(v);
      bool lost;
      r.convert(APFloat::BFloat(), APFloat::rmNearestTiesToEven, &lost);
      rounded.push_back(r);
    }
    wAttr = DenseElementsAttr::get(
        RankedTensorType::get({c.n, c.k}, b.getBF16Type()), rounded);
  }
  Value w = b.create<arith::ConstantOp>(loc, wAttr);
  Value bv = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(RankedTensorType::get({c.n}, f32),
                                  llvm::ArrayRef(bias)));
  Value y = b.create<recq::FcOp>(loc, outType, entry->getArgument(0), w, bv,
                                 /*addend=*/Value(), c.act);
  b.create<func::ReturnOp>(loc, y);
  return module;
}

/// `v` after `act`.
float activate(float v, recq::Activation act) {
  if (act == recq::Activation::relu)
    return v > 0 ? v : 0;
  if (act == recq::Activation::sigmoid)
    return 1.0f / (1.0f + std::exp(-v));
  return v;
}

float reference(const std::vector<float> &x, const std::vector<float> &w,
                const std::vector<float> &bias, int64_t m, int64_t n,
                int64_t k, recq::Activation act) {
  double acc = bias[n];
  for (int64_t kk = 0; kk < k; ++kk)
    acc += double(x[m * k + kk]) * w[n * k + kk];
  return activate(float(acc), act);
}

/// Draws `m` rows of input for `c`, runs `model` on them into `out`
/// ([m, N]) and checks the output's shape.
void runBatch(recq::testing::LoadedModel &model, const Case &c, int64_t m,
              std::mt19937 &rng, std::uniform_real_distribution<float> &dist,
              std::vector<float> &x, std::vector<float> &out) {
  x.resize(m * c.k);
  out.resize(m * c.n);
  for (float &v : x)
    v = dist(rng);
  int64_t shape[2] = {m, c.k};
  const void *inputs[] = {x.data()};
  const int64_t *shapes[] = {shape};
  int64_t outShape[2];
  ASSERT_TRUE(model.runs(inputs, shapes, out, outShape));
  EXPECT_EQ(outShape[0], m);
  EXPECT_EQ(outShape[1], c.n);
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
      std::vector<float> x, out;
      ASSERT_NO_FATAL_FAILURE(runBatch(model, c, m, rng, dist, x, out));
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

/// f32 -> bf16 -> f32, to nearest even (NaN stays NaN).
float roundBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f))
    bits |= 0x400000;
  else
    bits += 0x7fff + ((bits >> 16) & 1);
  bits &= 0xffff0000u;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// Element (row, kk) of the [rows, k] matrix `v` rounded to bf16; 0 past
/// K (the kernels' padding).
float bf16At(const std::vector<float> &v, int64_t row, int64_t kk, int64_t k) {
  return kk < k ? roundBf16(v[row * k + kk]) : 0.0f;
}

/// A bf16 FC as recq.fc defines it: input and weight rounded to bf16, the
/// exact products summed in f32 per pair of k (2j + 1, then 2j), then the
/// bias and the activation in f32.
float referenceBf16(const std::vector<float> &x, const std::vector<float> &w,
                    const std::vector<float> &bias, int64_t m, int64_t n,
                    int64_t k, recq::Activation act) {
  float acc = 0.0f;
  for (int64_t j = 0; 2 * j < k; ++j) {
    acc = std::fma(bf16At(x, m, 2 * j + 1, k), bf16At(w, n, 2 * j + 1, k), acc);
    acc = std::fma(bf16At(x, m, 2 * j, k), bf16At(w, n, 2 * j, k), acc);
  }
  return activate(acc + bias[n], act);
}

/// A bf16 FC as the AMX kernel computes it (tdpbf16ps, Intel SDM): per 32
/// of K, the even and the odd products each summed from 0, then their sum
/// added to the row's sum; then the bias and the activation.
float referenceAmxBf16(const std::vector<float> &x, const std::vector<float> &w,
                       const std::vector<float> &bias, int64_t m, int64_t n,
                       int64_t k, recq::Activation act) {
  float acc = 0.0f;
  for (int64_t k0 = 0; k0 < k; k0 += 32) {
    float even = 0.0f, odd = 0.0f;
    for (int64_t kk = k0; kk < k0 + 32; kk += 2) {
      even = std::fma(bf16At(x, m, kk, k), bf16At(w, n, kk, k), even);
      odd = std::fma(bf16At(x, m, kk + 1, k), bf16At(w, n, kk + 1, k), odd);
    }
    acc += even + odd;
  }
  return activate(acc + bias[n], act);
}

/// The bound recq.fc documents between a bf16 FC's sums in two orders
/// (the definition's and tdpbf16ps's): 2 (K + 1) 2^-24 (sum of |products|
/// + |bias|), before the activation (ReLU and sigmoid do not widen it).
float orderBound(const std::vector<float> &x, const std::vector<float> &w,
                 const std::vector<float> &bias, int64_t m, int64_t n,
                 int64_t k) {
  double magnitude = std::fabs(bias[n]);
  for (int64_t kk = 0; kk < k; ++kk)
    magnitude +=
        std::fabs(double(roundBf16(x[m * k + kk])) * roundBf16(w[n * k + kk]));
  return float(2.0 * double(k + 1) * std::ldexp(1.0, -24) * magnitude);
}

/// How a bf16 kernel must relate to the definition (referenceBf16).
enum class Bf16Order {
  Definition, // the same bits
  Amx,        // the bits of referenceAmxBf16
  AmxNative,  // within orderBound of referenceAmxBf16
};

/// Runs the bf16 FC of `c` compiled for `target` (its FC kernel
/// `fcKernel`, when given) on odd batches and wants the C model's bits
/// (sigmoid: within 1e-6, its exp is not libm's), or for AMX as `order`
/// says; always within orderBound of the definition, and within bf16's
/// precision of the f32 FC.
void checkBf16(const Case &c, const std::string &target,
               const std::string &fcKernel = "",
               Bf16Order order = Bf16Order::Definition) {
  std::mt19937 rng(c.n * 1000 + c.k + 7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> weight(c.n * c.k), bias(c.n);
  for (float &v : weight)
    v = dist(rng);
  for (float &v : bias)
    v = dist(rng);
  auto context = recq::testing::makeContext();
  OwningOpRef<ModuleOp> module =
      buildFc(*context, c, weight, bias, /*bf16=*/true);
  recq::CodegenTarget codegen = *recq::lookupTarget(target);
  codegen.fcKernel = fcKernel;
  recq::testing::LoadedModel model(*module, codegen);
  ASSERT_TRUE(model);
  int64_t exact = 0, compared = 0;
  // Around every row tile (8, and AMX's 32: partial blocks padded).
  for (int64_t m : {1, 3, 7, 8, 17, 31, 32, 33, 100}) {
    std::vector<float> x, out;
    ASSERT_NO_FATAL_FAILURE(runBatch(model, c, m, rng, dist, x, out));
    bool tiles = order != Bf16Order::Definition;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        float got = out[i * c.n + j];
        float definition = referenceBf16(x, weight, bias, i, j, c.k, c.act);
        float want = tiles ? referenceAmxBf16(x, weight, bias, i, j, c.k, c.act)
                           : definition;
        float bound = orderBound(x, weight, bias, i, j, c.k);
        std::string where = "M=" + std::to_string(m) +
                            " N=" + std::to_string(c.n) +
                            " K=" + std::to_string(c.k) + " at (" +
                            std::to_string(i) + ", " + std::to_string(j) + ")";
        ASSERT_NEAR(got, definition, bound + 1e-6f) << where;
        if (tiles && order == Bf16Order::AmxNative) {
          ++compared;
          exact += got == want;
          ASSERT_NEAR(got, want, 2 * bound + 1e-6f) << where;
        } else if (c.act == recq::Activation::sigmoid) {
          ASSERT_NEAR(got, want, 1e-6f) << where;
        } else {
          ASSERT_EQ(got, want) << where;
        }
        // bf16 keeps 8 bits: each of the K products is within 2^-7 of fp32's.
        float f32 = reference(x, weight, bias, i, j, c.k, c.act);
        ASSERT_NEAR(got, f32, 0.01f * (1 + std::sqrt(float(c.k))));
      }
  }
  if (compared > 0)
    std::printf("[ note ] tdpbf16ps: %lld of %lld outputs bit-identical to "
                "the SDM's order (the rest within the bound)\n",
                (long long)exact, (long long)compared);
}

TEST_P(FcKernelTest, Bf16EmulationMatchesItsDefinition) {
  for (const std::string &name : recq::testing::runnableTargets()) {
    SCOPED_TRACE("target " + name);
    checkBf16(GetParam(), name);
  }
}

TEST_P(FcKernelTest, Bf16WithVdpbf16psMatchesItsDefinition) {
  char missing[128];
  uint32_t mask = 0;
  ASSERT_EQ(recq_target_features("avx512-bf16", &mask), 0);
  if (recq_cpu_missing(mask, missing, sizeof missing) > 0)
    GTEST_SKIP() << "the avx512-bf16 kernel needs " << missing
                 << ", which this CPU lacks";
  checkBf16(GetParam(), "avx512-bf16");
}

// The AMX kernel's tiling, packing, padding, tile configuration and
// epilogue on any CPU: each tile instruction a call of the runtime's C
// model (recq_amx_emu.c).
TEST_P(FcKernelTest, Bf16AmxEmulatedMatchesTheTileOrder) {
  checkBf16(GetParam(), "avx2", "amx-emulated", Bf16Order::Amx);
}

TEST_P(FcKernelTest, Bf16WithTdpbf16psIsWithinTheBound) {
  char missing[128];
  uint32_t mask = 0;
  ASSERT_EQ(recq_target_features("amx", &mask), 0);
  if (recq_cpu_missing(mask, missing, sizeof missing) > 0)
    GTEST_SKIP() << "the amx kernel needs " << missing
                 << ", which this CPU (or OS) lacks; its tiles ran on the C "
                    "model in Bf16AmxEmulatedMatchesTheTileOrder";
  checkBf16(GetParam(), "amx", "", Bf16Order::AmxNative);
}

// N and K around every target's column tile (8, 16, 32) and odd; N <= 4
// runs the fp32 along-K kernel.
INSTANTIATE_TEST_SUITE_P(
    OddShapes, FcKernelTest,
    ::testing::Values(Case{1, 1, recq::Activation::none},
                      Case{3, 13, recq::Activation::relu},
                      Case{16, 17, recq::Activation::none},
                      Case{17, 3, recq::Activation::relu},
                      Case{33, 64, recq::Activation::sigmoid},
                      Case{100, 100, recq::Activation::relu},
                      Case{1, 479, recq::Activation::sigmoid},
                      Case{64, 1, recq::Activation::none},
                      // Few columns (fp32: along K), K past one chunk.
                      Case{2, 33, recq::Activation::relu},
                      Case{4, 100, recq::Activation::sigmoid}),
    [](const ::testing::TestParamInfo<Case> &info) {
      return "N" + std::to_string(info.param.n) + "_K" +
             std::to_string(info.param.k) + "_" +
             recq::stringifyActivation(info.param.act).str();
    });

} // namespace
