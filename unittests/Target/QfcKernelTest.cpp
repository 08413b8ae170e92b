//===- QfcKernelTest.cpp - The int8 FC kernel against an integer reference ===//
//
// One module per (N, K) holds recq.qfc ops on the same u8 input and s8
// per-channel weights: u8 result with ReLU and plain f32 result on every
// shape and, for K in {3, 17, 479} (the epilogue does not depend on K;
// every N runs), also u8 without ReLU, f32 with ReLU, and u8 and f32 results
// with ReLU and an addend (the plain f32 variant's result). Each op costs
// about half a second of compile per kernel, so the other shapes run two
// (the grid took 20 minutes on a 2-core AVX2 VM with four). It is compiled the
// way recq-compile does (packing, kernel, folded epilogue, -O3, model.so) for
// every int8 kernel this CPU runs, and the emulated VNNI and AMX kernels
// everywhere (AMX: blocks of 32 rows at M >= 32, the rest on VNNI), and each
// output is compared bit for bit with plain integer loops and the epilogue's
// definition (Passes.td, convert-recq-qfc-to-kernel):
//
//   acc = sum_k x_q * w_q (exact, i32)
//   u8:  c = roundeven(b / (s_x s_w)) - z_x * colsum,
//        q = clamp(roundeven(fma(f32(acc + c), f32(s_x s_w / s_y), z_y)))
//   f32: y = fma(f32(acc - z_x * colsum), f32(s_x s_w), b)
//   with an addend a: u8 fma(a, f32(1 / s_y), fma(...)) before rounding,
//        f32 y + a, each before the ReLU
//
// The model's input is f32 `s_x (q - z_x)`, which recq.quantize maps back to
// exactly q; u8 results are dequantized and their codes recovered exactly.
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
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <map>
#include <random>

using namespace mlir;

namespace {

const int64_t kSizes[] = {1, 3, 13, 16, 17, 64, 100, 479, 512, 1024};
// "All combinations that run fast": M * N * K up to 2^25 multiply-adds.
constexpr int64_t kMaxWork = int64_t(1) << 25;

struct Params {
  double sx = 0.037;
  int64_t zx = 7;
  double sy = 0.21;
  int64_t zy = 113;
  int64_t qmax = 255; // 127: 7-bit activations (--reduce-range), in and out
  std::vector<double> sw;    // [N]
  std::vector<int8_t> wq;    // [N, K]
  std::vector<float> bias;   // [N]
};

/// The six variants; the addend is variant 2's result.
struct Variant {
  bool u8;
  bool relu;
  bool addend = false;
};
const Variant kVariants[] = {{true, false},      {true, true},
                             {false, false},     {false, true},
                             {true, true, true}, {false, true, true}};
constexpr int64_t kAddendVariant = 2;

/// The kVariants a module for width `k` holds, in output column order (the
/// addend's source before its users).
std::vector<int64_t> variantsOf(int64_t k) {
  if (k == 3 || k == 17 || k == 479)
    return {0, 1, 2, 3, 4, 5};
  return {1, 2};
}

quant::UniformQuantizedType u8Type(MLIRContext *ctx, double scale, int64_t zp,
                                   int64_t qmax) {
  Builder b(ctx);
  return quant::UniformQuantizedType::get(0, b.getIntegerType(8),
                                          b.getF32Type(), scale, zp, 0, qmax);
}

OwningOpRef<ModuleOp> buildModule(MLIRContext &ctx, int64_t n, int64_t k,
                                  const Params &p) {
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  Type f32 = b.getF32Type();
  int64_t dyn = ShapedType::kDynamic;
  auto inType = RankedTensorType::get({dyn, k}, f32);
  std::vector<int64_t> variants = variantsOf(k);
  auto outType =
      RankedTensorType::get({dyn, int64_t(variants.size()) * n}, f32);
  auto func = b.create<func::FuncOp>(loc, "main",
                                     b.getFunctionType({inType}, {outType}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  Value x = entry->getArgument(0);

  auto inQ = u8Type(&ctx, p.sx, p.zx, p.qmax);
  auto outQ = u8Type(&ctx, p.sy, p.zy, p.qmax);
  auto wQ = quant::UniformQuantizedPerAxisType::get(
      quant::QuantizationFlags::Signed, b.getIntegerType(8), f32, p.sw,
      SmallVector<int64_t>(n, 0), 0, -128, 127);
  std::vector<float> w(n * k);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j)
      w[i * k + j] = float(p.wq[i * k + j] * p.sw[i]);
  Value wf = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(RankedTensorType::get({n, k}, f32),
                                  llvm::ArrayRef(w)));
  Value wq = b.create<recq::QuantizeOp>(
      loc, RankedTensorType::get({n, k}, wQ), wf);
  Value bias = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(RankedTensorType::get({n}, f32),
                                  llvm::ArrayRef(p.bias)));
  Value xq = b.create<recq::QuantizeOp>(
      loc, RankedTensorType::get({dyn, k}, inQ), x);

  Value m = b.create<tensor::DimOp>(loc, x, 0);
  Value all = b.create<tensor::EmptyOp>(loc, outType.getShape(), f32,
                                        ValueRange{m});
  Value addend;
  for (auto [i, vi] : llvm::enumerate(variants)) {
    const Variant &v = kVariants[vi];
    auto act = v.relu ? recq::Activation::relu : recq::Activation::none;
    auto f32Out = RankedTensorType::get({dyn, n}, f32);
    Value a = v.addend ? addend : Value();
    Value y;
    if (v.u8) {
      Value q = b.create<recq::QfcOp>(
          loc, RankedTensorType::get({dyn, n}, outQ), xq, wq, bias, a, act);
      y = b.create<recq::DequantizeOp>(loc, f32Out, q);
    } else {
      y = b.create<recq::QfcOp>(loc, f32Out, xq, wq, bias, a, act);
    }
    if (vi == kAddendVariant)
      addend = y;
    all = b.create<tensor::InsertSliceOp>(
        loc, y, all,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(i * n)},
        ArrayRef<OpFoldResult>{m, b.getIndexAttr(n)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }
  b.create<func::ReturnOp>(loc, all);
  return module;
}

/// The expected output of variant `v` at (row, col) from the exact sum.
float expected(const Params &p, const Variant &v, int64_t col, int32_t acc,
               int64_t colSum) {
  double sxw = p.sx * p.sw[col];
  float plain = std::fma(float(int32_t(acc - p.zx * colSum)), float(sxw),
                         p.bias[col]); // variant 2, the addend
  float a = v.addend ? plain : 0.0f;
  if (v.u8) {
    int64_t c = int64_t(std::nearbyint(p.bias[col] / sxw)) - p.zx * colSum;
    float mult = float(sxw / p.sy);
    float y = std::fma(float(int32_t(acc + c)), mult, float(p.zy));
    if (v.addend)
      y = std::fma(a, float(1.0 / p.sy), y);
    y = std::nearbyint(y);
    float lo = v.relu ? float(p.zy) : 0.0f;
    y = std::min(float(p.qmax), std::max(lo, y));
    return y; // the code
  }
  float y = v.addend ? plain + a : plain;
  return v.relu ? std::max(y, 0.0f) : y;
}

/// The int8 kernels to test: (CPU target, kernel variant).
std::vector<std::pair<std::string, std::string>> kernels() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string &name : recq::testing::runnableTargets()) {
    out.emplace_back(name, name);
    if (name == "avx2") {
      // The VNNI layout and steps, without vpdpbusd; the AMX kernel's
      // tiling, packing, tile configuration and epilogue, each tile
      // instruction a call of the runtime's C model (recq_amx_emu.c).
      out.emplace_back(name, "avx512-vnni-emulated");
      out.emplace_back(name, "amx-emulated");
    }
  }
  for (const char *native : {"avx512-vnni", "amx"}) {
    uint32_t mask = 0;
    char missing[128];
    if (recq_target_features(native, &mask) == 0 &&
        recq_cpu_missing(mask, missing, sizeof missing) == 0)
      out.emplace_back(native, native);
    else
      std::printf("[ note ] the %s kernel itself not run: this CPU lacks %s "
                  "(it runs as %s-emulated)\n",
                  native, missing,
                  std::string(native) == "amx" ? "amx" : "avx512-vnni");
  }
  return out;
}

class QfcKernelTest : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {
protected:
  static void SetUpTestSuite() {
    registerAllPasses();
    recq::registerAllRecqPasses();
  }
};

/// Checks every kernel on (n, k) with inputs and outputs of codes 0..qmax.
void checkShape(int64_t n, int64_t k, int64_t qmax) {
  std::mt19937 rng(unsigned(n * 7919 + k + qmax));
  std::uniform_int_distribution<int> u8(0, int(qmax)), s8(-128, 127);
  std::uniform_real_distribution<double> scale(0.002, 0.02);
  std::uniform_real_distribution<float> biasDist(-3.0f, 3.0f);
  Params p;
  p.qmax = qmax;
  p.zy = qmax == 255 ? 113 : 57;
  p.sw.resize(n);
  p.wq.resize(n * k);
  p.bias.resize(n);
  for (double &s : p.sw)
    s = scale(rng);
  for (int8_t &w : p.wq)
    w = int8_t(s8(rng));
  for (float &b : p.bias)
    b = biasDist(rng);
  // Scale the output so that the codes span the whole range, clamps
  // included, whatever K is.
  p.sy = p.sx * 0.01 * std::sqrt(double(k)) * 40;
  std::vector<int64_t> colSum(n, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j)
      colSum[i] += p.wq[i * k + j];

  std::vector<int64_t> rows;
  for (int64_t m : kSizes)
    if (m * n * k <= kMaxWork)
      rows.push_back(m);
  ASSERT_FALSE(rows.empty());

  // Inputs and exact sums per M, shared by every kernel.
  std::map<int64_t, std::vector<uint8_t>> xq;
  std::map<int64_t, std::vector<int32_t>> acc;
  for (int64_t m : rows) {
    auto &x = xq[m];
    x.resize(m * k);
    for (uint8_t &v : x)
      v = uint8_t(u8(rng));
    auto &a = acc[m];
    a.assign(m * n, 0);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int32_t s = 0;
        for (int64_t kk = 0; kk < k; ++kk)
          s += int32_t(x[i * k + kk]) * p.wq[j * k + kk];
        a[i * n + j] = s;
      }
  }

  for (const auto &[cpu, kernel] : kernels()) {
    // Only avx2 and avx512 have a 7-bit kernel; the others run their own.
    if (qmax != 255 && kernel != "avx2" && kernel != "avx512")
      continue;
    SCOPED_TRACE("target " + cpu + ", kernel " + kernel + ", codes 0.." +
                 std::to_string(qmax));
    auto context = recq::testing::makeContext();
    context->loadDialect<tensor::TensorDialect, quant::QuantizationDialect>();
    OwningOpRef<ModuleOp> module = buildModule(*context, n, k, p);
    recq::CodegenTarget target = *recq::lookupTarget(cpu);
    target.qfcKernel = kernel;
    recq::testing::LoadedModel model(*module, target);
    ASSERT_TRUE(model);
    std::vector<int64_t> variantIds = variantsOf(k);
    int64_t variants = int64_t(variantIds.size());
    for (int64_t m : rows) {
      std::vector<float> x(m * k), out(m * variants * n);
      for (int64_t i = 0; i < m * k; ++i)
        x[i] = float(p.sx * (int64_t(xq[m][i]) - p.zx));
      int64_t shape[2] = {m, k};
      const void *inputs[] = {x.data()};
      const int64_t *shapes[] = {shape};
      int64_t outShape[2];
      ASSERT_TRUE(model.runs(inputs, shapes, out, outShape));
      for (int64_t i = 0; i < m; ++i)
        for (auto [vi, id] : llvm::enumerate(variantIds)) {
          const Variant &v = kVariants[id];
          for (int64_t j = 0; j < n; ++j) {
            float got = out[i * variants * n + vi * n + j];
            if (v.u8) // back to the code: (q - z_y) * s_y
              got = float(std::nearbyint(got / p.sy) + p.zy);
            float want = expected(p, v, j, acc[m][i * n + j], colSum[j]);
            ASSERT_EQ(got, want)
                << (v.u8 ? "u8" : "f32") << (v.relu ? " relu" : "")
                << (v.addend ? " addend" : "") << " M=" << m << " N=" << n
                << " K=" << k << " at (" << i << ", " << j << "), acc "
                << acc[m][i * n + j];
          }
        }
    }
  }
}

TEST_P(QfcKernelTest, BitExactAgainstIntegerReference) {
  auto [n, k] = GetParam();
  checkShape(n, k, 255);
}

// 7-bit activations: the avx2/avx512 kernels switch to vpmaddubsw, which is
// exact only because the codes stop at 127.
class QfcKernelReducedRangeTest : public QfcKernelTest {};

TEST_P(QfcKernelReducedRangeTest, BitExactAgainstIntegerReference) {
  auto [n, k] = GetParam();
  checkShape(n, k, 127);
}

std::vector<std::pair<int64_t, int64_t>> shapes() {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t n : kSizes)
    for (int64_t k : kSizes)
      if (n * k <= kMaxWork)
        out.emplace_back(n, k);
  // Every column count of the K-direction kernel (N <= 4), not only 1, 3.
  for (auto [n, k] : {std::pair<int64_t, int64_t>{2, 479}, {4, 13}, {4, 100}})
    out.emplace_back(n, k);
  return out;
}

/// N, K in {1, 3, 17, 100, 479, 1024} up to N*K = 2^17: every tail and
/// both kernels (few columns, column blocks) with 7-bit inputs.
std::vector<std::pair<int64_t, int64_t>> reducedRangeShapes() {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t n : {1, 3, 17, 100, 479, 1024})
    for (int64_t k : {1, 3, 17, 100, 479, 1024})
      if (n * k <= 128 * 1024)
        out.emplace_back(n, k);
  return out;
}

std::string shapeName(
    const ::testing::TestParamInfo<std::pair<int64_t, int64_t>> &info) {
  return "N" + std::to_string(info.param.first) + "_K" +
         std::to_string(info.param.second);
}

INSTANTIATE_TEST_SUITE_P(Shapes, QfcKernelTest, ::testing::ValuesIn(shapes()),
                         shapeName);
INSTANTIATE_TEST_SUITE_P(Shapes, QfcKernelReducedRangeTest,
                         ::testing::ValuesIn(reducedRangeShapes()), shapeName);

} // namespace
