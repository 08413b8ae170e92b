//===- qfc_gemm.cpp - int8 GEMM: recq's qfc vs oneDNN vs the CPU's peak ---===//
//
// For the DLRM shapes (M x N x K), on one thread, in one run:
//  - recq (and recq u7, 7-bit activations as --reduce-range makes them):
//    a module holding one recq.qfc (u8 x s8 per-channel -> u8, bias,
//    ReLU, zero points: the whole fused epilogue), compiled for this CPU's
//    best target exactly as recq-compile compiles (same lowering, -O3) and
//    called directly through its C interface, so the time is the kernel's
//    (input widening and epilogue included), not the runtime's;
//  - oneDNN: its int8 matmul, u8 src x s8 weights (reordered to its own
//    layout outside the timing) -> u8 dst, src/dst zero points, per-column
//    output scales, f32 bias, ReLU post-op;
//  - the peak of the dot-product instruction each side can use on this
//    CPU, measured with independent accumulators: vpdpbusd zmm (when the
//    CPU has AVX512-VNNI), vpmaddwd ymm (recq's avx2 kernel: u16 x s16
//    pairs, exact), vpmaddubsw + vpmaddwd ymm (the saturating u8 x s8 path
//    of AVX2 libraries).
// GOPS count 2 operations per multiply-add; times are medians.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Pipelines/Pipelines.h"
#include "recq/Runtime/recq_cpu.h"
#include "recq/Target/Codegen.h"

#include "Ceilings.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <immintrin.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace mlir;
using namespace recq::bench;

namespace {

struct Shape {
  int64_t m, n, k;
};

template <typename T>
struct MemRef2D {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
};

using Entry = void (*)(MemRef2D<int8_t> *, MemRef2D<int8_t> *);
using FreeFn = void (*)(void *);

/// Median seconds of one call of `fn`, over `reps` timings each long enough
/// to measure (calls are repeated to fill ~4 ms).
double medianSeconds(const std::function<void()> &fn, int reps = 15) {
  using clock = std::chrono::steady_clock;
  fn(); // warm up
  auto t0 = clock::now();
  fn();
  double once = std::chrono::duration<double>(clock::now() - t0).count();
  int inner = std::max(1, int(4e-3 / std::max(once, 1e-9)));
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    auto start = clock::now();
    for (int i = 0; i < inner; ++i)
      fn();
    times.push_back(std::chrono::duration<double>(clock::now() - start).count() /
                    inner);
  }
  std::nth_element(times.begin(), times.begin() + reps / 2, times.end());
  return times[reps / 2];
}

//===----------------------------------------------------------------------===//
// recq
//===----------------------------------------------------------------------===//

/// One compiled qfc: @main(x: [M, K] u8 as i8) -> [M, N] u8 as i8.
class RecqQfc {
public:
  RecqQfc(const Shape &s, const std::vector<float> &w,
          const std::vector<float> &bias, const recq::CodegenTarget &target,
          int64_t qmax) {
    DialectRegistry registry;
    registerAllDialects(registry);
    registerAllExtensions(registry);
    MLIRContext ctx(registry);
    ctx.loadDialect<recq::RecqDialect, func::FuncDialect, arith::ArithDialect,
                    quant::QuantizationDialect>();
    OpBuilder b(&ctx);
    Location loc = b.getUnknownLoc();
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    b.setInsertionPointToEnd(module->getBody());
    Type i8 = b.getIntegerType(8), f32 = b.getF32Type();
    int64_t dyn = ShapedType::kDynamic;
    auto inType = RankedTensorType::get({dyn, s.k}, i8);
    auto outType = RankedTensorType::get({dyn, s.n}, i8);
    auto func = b.create<func::FuncOp>(loc, "main",
                                       b.getFunctionType({inType}, {outType}));
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToEnd(entry);
    auto u8 = [&](double scale, int64_t zp) {
      return quant::UniformQuantizedType::get(0, i8, f32, scale, zp, 0, qmax);
    };
    std::vector<double> scales(s.n);
    for (int64_t i = 0; i < s.n; ++i) {
      float mx = 0;
      for (int64_t j = 0; j < s.k; ++j)
        mx = std::max(mx, std::fabs(w[i * s.k + j]));
      scales[i] = mx > 0 ? mx / 127.0 : 1.0;
    }
    auto wType = quant::UniformQuantizedPerAxisType::get(
        quant::QuantizationFlags::Signed, i8, f32, scales,
        SmallVector<int64_t>(s.n, 0), 0, -128, 127);
    Value x = b.create<quant::StorageCastOp>(
        loc, RankedTensorType::get({dyn, s.k}, u8(0.05, 12)),
        entry->getArgument(0));
    Value wf = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(RankedTensorType::get({s.n, s.k}, f32),
                                    llvm::ArrayRef(w)));
    Value wq = b.create<recq::QuantizeOp>(
        loc, RankedTensorType::get({s.n, s.k}, wType), wf);
    Value bv = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(RankedTensorType::get({s.n}, f32),
                                    llvm::ArrayRef(bias)));
    Value y = b.create<recq::QfcOp>(
        loc, RankedTensorType::get({dyn, s.n}, u8(0.1, 3)), x, wq, bv,
        /*addend=*/Value(), recq::Activation::relu);
    b.create<func::ReturnOp>(
        loc, ValueRange{b.create<quant::StorageCastOp>(loc, outType, y)});

    llvm::SmallString<128> obj;
    llvm::sys::fs::createTemporaryFile("recq-bench", "o", obj);
    llvm::sys::fs::createTemporaryFile("recq-bench", "so", so);
    {
      std::error_code ec;
      llvm::raw_fd_ostream os(obj, ec);
      if (llvm::Error e = recq::compileToObject(*module, target, os))
        fail(llvm::toString(std::move(e)));
    }
    // The kernel's buffers come from the runtime's allocator (recq_memref.c).
    auto cc = llvm::sys::findProgramByName("cc");
    if (!cc)
      fail("no cc on PATH");
    // The runtime keeps its allocator hidden; a shim hands back results.
    llvm::SmallString<128> shim;
    llvm::sys::fs::createTemporaryFile("recq-bench-shim", "c", shim);
    {
      std::error_code ec;
      llvm::raw_fd_ostream os(shim, ec);
      os << "void _mlir_memref_to_llvm_free(void *);\n"
            "__attribute__((visibility(\"default\"))) void "
            "recq_bench_free(void *p) { _mlir_memref_to_llvm_free(p); }\n";
    }
    std::string out = so.str().str(), in = obj.str().str(),
                shimPath = shim.str().str();
    llvm::StringRef args[] = {*cc,  "-shared", "-o", out,
                              in,   shimPath,  RECQ_MODEL_RUNTIME};
    if (llvm::sys::ExecuteAndWait(*cc, args) != 0)
      fail("linking the benchmark kernel failed");
    llvm::sys::fs::remove(obj);
    llvm::sys::fs::remove(shim);
    lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      fail(dlerror());
    entryFn = reinterpret_cast<Entry>(dlsym(
        lib,
        ("_mlir_ciface_recq_entry" + recq::variantSuffix(target)).c_str()));
    freeFn = reinterpret_cast<FreeFn>(dlsym(lib, "recq_bench_free"));
    if (!entryFn || !freeFn)
      fail("the benchmark kernel lacks its entry points");
  }
  ~RecqQfc() {
    if (lib)
      dlclose(lib);
    llvm::sys::fs::remove(so);
  }

  void run(int8_t *x, int64_t m, int64_t k) {
    MemRef2D<int8_t> in{x, x, 0, {m, k}, {k, 1}}, out;
    entryFn(&out, &in);
    freeFn(out.allocated);
  }

private:
  [[noreturn]] static void fail(const std::string &message) {
    std::fprintf(stderr, "qfc_gemm: %s\n", message.c_str());
    std::exit(1);
  }
  llvm::SmallString<128> so;
  void *lib = nullptr;
  Entry entryFn = nullptr;
  FreeFn freeFn = nullptr;
};

//===----------------------------------------------------------------------===//
// oneDNN
//===----------------------------------------------------------------------===//

class DnnlQfc {
public:
  DnnlQfc(const Shape &s, const std::vector<float> &w,
          const std::vector<float> &bias)
      : eng(dnnl::engine::kind::cpu, 0), stream(eng) {
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    dnnl::memory::desc a({s.m, s.k}, dt::u8, tag::ab);
    dnnl::memory::desc wAny({s.k, s.n}, dt::s8, tag::any);
    dnnl::memory::desc wPlain({s.k, s.n}, dt::s8, tag::ab);
    dnnl::memory::desc c({s.m, s.n}, dt::u8, tag::ab);
    dnnl::memory::desc biasDesc({1, s.n}, dt::f32, tag::ab);
    std::vector<float> scales(s.n);
    std::vector<int8_t> wq(s.k * s.n);
    for (int64_t i = 0; i < s.n; ++i) {
      float mx = 0;
      for (int64_t j = 0; j < s.k; ++j)
        mx = std::max(mx, std::fabs(w[i * s.k + j]));
      float sw = mx > 0 ? mx / 127.0f : 1.0f;
      scales[i] = 0.05f * sw / 0.1f;
      for (int64_t j = 0; j < s.k; ++j) // [K, N]
        wq[j * s.n + i] = int8_t(std::nearbyint(w[i * s.k + j] / sw));
    }
    dnnl::primitive_attr attr;
    attr.set_output_scales(1 << 1, scales);
    attr.set_zero_points(DNNL_ARG_SRC, 0, {12});
    attr.set_zero_points(DNNL_ARG_DST, 0, {3});
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
    dnnl::matmul::desc desc(a, wAny, biasDesc, c);
    dnnl::matmul::primitive_desc pd(desc, attr, eng);
    impl = pd.impl_info_str();
    prim = dnnl::matmul(pd);
    src = dnnl::memory(a, eng);
    dst = dnnl::memory(c, eng);
    biasMem = dnnl::memory(biasDesc, eng);
    std::copy(bias.begin(), bias.end(), static_cast<float *>(biasMem.get_data_handle()));
    // Weights into oneDNN's own layout, outside the timing.
    dnnl::memory plain(wPlain, eng, wq.data());
    weights = dnnl::memory(pd.weights_desc(), eng);
    dnnl::reorder(plain, weights).execute(stream, plain, weights);
    stream.wait();
  }

  uint8_t *input() { return static_cast<uint8_t *>(src.get_data_handle()); }

  void run() {
    prim.execute(stream, {{DNNL_ARG_SRC, src},
                          {DNNL_ARG_WEIGHTS, weights},
                          {DNNL_ARG_BIAS, biasMem},
                          {DNNL_ARG_DST, dst}});
    stream.wait();
  }

  std::string impl;

private:
  dnnl::engine eng;
  dnnl::stream stream;
  dnnl::matmul prim;
  dnnl::memory src, dst, weights, biasMem;
};

} // namespace

// oneDNN runs on OpenMP (Debian's build): one thread, as recq.
extern "C" void omp_set_num_threads(int);

int main(int argc, char **argv) {
  bool quick = false;
  std::string targetName;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
      continue;
    }
    if (arg.rfind("--target=", 0) == 0) {
      targetName = arg.substr(9);
      continue;
    }
    bool help = arg == "--help" || arg == "-h";
    std::fprintf(help ? stdout : stderr,
                 "usage: %s [--quick] [--target=NAME]\n"
                 "  int8 GEMM on one thread at DLRM shapes: recq's qfc "
                 "against oneDNN's int8 matmul and this CPU's dot-product "
                 "peaks (GOPS, medians)\n"
                 "  --quick: fewer shapes and rounds\n"
                 "  --target: recq's kernel for that target (default: the "
                 "best this CPU runs)\n"
                 "exit status: 0 measured; 1 bad usage or a target this CPU "
                 "cannot run\n",
                 argv[0]);
    return help ? 0 : 1;
  }
  omp_set_num_threads(1);
  registerAllPasses();
  recq::registerAllRecqPasses();
  recq::CodegenTarget target = recq::hostTarget();
  if (!targetName.empty()) {
    std::optional<recq::CodegenTarget> named = recq::lookupTarget(targetName);
    if (!named || !recq::cpuRuns(*named)) {
      std::fprintf(stderr, "%s: unknown target '%s', or one this CPU cannot "
                   "run (%s)\n",
                   argv[0], targetName.c_str(), recq::targetNames().c_str());
      return 1;
    }
    target = *named;
  }

  std::printf("int8 GEMM, 1 thread, GOPS (2 ops per multiply-add), medians\n");
  std::printf("CPU: %s\n", cpuModel().c_str());
  std::printf("recq target: %s\n\n", target.name.c_str());
  bool vnni = recq::cpuRuns(*recq::lookupTarget("avx512-vnni")),
       amx = recq::cpuRuns(*recq::lookupTarget("amx"));
  double pVnni = vnni ? best(peakVpdpbusd) : 0;
  double pAmx = amx ? best(peakTdpbusd) : 0;
  double pWd = best(peakVpmaddwd), pUbsw = best(peakVpmaddubsw);
  if (amx)
    std::printf("peak tdpbusd (4 tiles)       : %7.1f GOPS\n", pAmx);
  else
    std::printf("peak tdpbusd                 :     n/a (this CPU or OS lacks AMX)\n");
  if (vnni)
    std::printf("peak vpdpbusd zmm            : %7.1f GOPS\n", pVnni);
  else
    std::printf("peak vpdpbusd zmm            :     n/a (this CPU lacks AVX512-VNNI)\n");
  std::printf("peak vpmaddwd ymm            : %7.1f GOPS (recq avx2: exact u16 x s16 pairs)\n", pWd);
  std::printf("peak vpmaddubsw+vpmaddwd ymm : %7.1f GOPS (saturating u8 x s8 path)\n\n", pUbsw);
  // The peak of the instruction recq's kernel for `target` uses.
  uint32_t features = recq::targetFeatures(target);
  bool targetAmx = features & RECQ_CPU_AMX_INT8;
  bool targetVnni = features & RECQ_CPU_AVX512VNNI;
  double peak = targetAmx ? pAmx : targetVnni ? pVnni : pWd;
  const char *peakName = targetAmx ? "tdpbusd" : targetVnni ? "vpdpbusd" : "vpmaddwd";

  std::vector<std::pair<int64_t, int64_t>> nk = {
      {512, 13}, {256, 512}, {64, 256}, {128, 256}, {1024, 479},
      {1024, 1024}, {512, 1024}, {1, 256}};
  std::vector<int64_t> ms = {1, 16, 128, 512, 2048};
  if (quick)
    ms = {1, 128};
  std::printf("recq: exact u8 activations; recq u7: 7-bit activations "
              "(--reduce-range); ratios: oneDNN time / recq time\n\n");
  std::printf("%5s %5s %5s | %8s %8s %8s | %7s %7s | %6s %6s | %s\n", "M", "N",
              "K", "recq", "recq u7", "oneDNN", "recq", "oneDNN", "o/recq",
              "o/u7", "oneDNN impl");
  std::printf("%5s %5s %5s | %8s %8s %8s | %7s %7s | %6s %6s |\n", "", "", "",
              "GOPS", "GOPS", "GOPS", peakName, peakName, "", "");
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::uniform_int_distribution<int> u8(0, 255);
  for (auto [n, k] : nk) {
    std::vector<float> w(n * k), bias(n);
    for (float &v : w)
      v = dist(rng);
    for (float &v : bias)
      v = dist(rng);
    RecqQfc recqKernel({0, n, k}, w, bias, target, 255);
    RecqQfc recq7Kernel({0, n, k}, w, bias, target, 127);
    for (int64_t m : ms) {
      Shape s{m, n, k};
      std::vector<int8_t> x(m * k), x7(m * k);
      for (int8_t &v : x)
        v = int8_t(u8(rng));
      for (size_t i = 0; i < x.size(); ++i)
        x7[i] = int8_t(uint8_t(x[i]) >> 1);
      DnnlQfc dnnlKernel(s, w, bias);
      std::copy(x.begin(), x.end(), reinterpret_cast<int8_t *>(dnnlKernel.input()));
      double ops = 2.0 * m * n * k;
      double tRecq = medianSeconds([&] { recqKernel.run(x.data(), m, k); });
      double tRecq7 = medianSeconds([&] { recq7Kernel.run(x7.data(), m, k); });
      double tDnnl = medianSeconds([&] { dnnlKernel.run(); });
      double gRecq = ops / tRecq / 1e9, gRecq7 = ops / tRecq7 / 1e9,
             gDnnl = ops / tDnnl / 1e9;
      std::string impl = dnnlKernel.impl;
      std::printf("%5ld %5ld %5ld | %8.1f %8.1f %8.1f | %6.1f%% %6.1f%% | "
                  "%5.2fx %5.2fx | %s\n",
                  long(m), long(n), long(k), gRecq, gRecq7, gDnnl,
                  100 * gRecq / peak, 100 * gDnnl / peak, tDnnl / tRecq,
                  tDnnl / tRecq7, impl.c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
