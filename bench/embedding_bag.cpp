//===- embedding_bag.cpp - Pooled lookups: recq vs this CPU's gather rate ---===//
//
// For tables of 10^4 .. 10^7 rows (in cache to far beyond the last-level
// cache), D in {16, 64, 128}, every table precision (fp32, fp16, row-wise
// int8 and int4), bag lengths 1, 10, 100 and batches 1, 512, 2048, on one
// thread:
//  - recq: a model.so holding one sum-pooled recq.embedding_bag, compiled
//    for this CPU's best target exactly as recq-compile compiles it (the
//    table is the model's mmapped weights file), called through
//    recq_model_run: the runtime's index and offsets checks and the copy of
//    the output to the caller's buffer are in the time (`recq_s`); the
//    generated code called directly is `kernel_s`;
//  - gather: this CPU's random-row gather rate for the same row size, index
//    stream and table memory: a plain loop touching every cache line of
//    each row (one AVX2 load per line, OR-ed into accumulators), rows
//    prefetched 0, 4, 8, 16 or 32 indices ahead, the fastest counts: the
//    memory-bound ceiling of any kernel reading those rows.
// Indices are uniform over the table and drawn fresh for every call, so a
// large table's rows come from DRAM. Prints one JSON object per line
// (bench/embedding_bag.py adds PyTorch's operators and prints the table).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Dialect/Recq/IR/RowwiseTable.h"
#include "recq/Pipelines/Pipelines.h"
#include "recq/Runtime/recq.h"
#include "recq/Runtime/recq_abi.h"
#include "recq/Target/Codegen.h"

#include "Ceilings.h"

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

#include <immintrin.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace mlir;
using namespace recq::bench;

namespace {

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "embedding_bag: %s\n", message.c_str());
  std::exit(1);
}

struct Precision {
  const char *name;
  unsigned bits; // 32, 16, 8, 4
};
const Precision kPrecisions[] = {
    {"fp32", 32}, {"fp16", 16}, {"int8", 8}, {"int4", 4}};

int64_t rowBytes(const Precision &p, int64_t dim) {
  if (p.bits >= 16)
    return dim * p.bits / 8;
  return recq::rowwiseRowBytes(dim, p.bits, /*halfScale=*/p.bits == 4);
}

//===----------------------------------------------------------------------===//
// The table, in a memfd the model maps as its weights file
//===----------------------------------------------------------------------===//

class Table {
public:
  /// In a memfd (shmem: 4 KiB pages unless its THP is on), or with `dir`
  /// in a file there, read back as recq's runtime maps model.weights.
  Table(int64_t rows, int64_t dim, const Precision &p, const std::string &dir)
      : bytes(rows * rowBytes(p, dim)),
        fileBytes(RECQ_WEIGHTS_HEADER_BYTES + rows * rowBytes(p, dim)) {
    if (dir.empty()) {
      fd = memfd_create("recq-bench-table", 0);
    } else {
      std::string path = dir + "/recq-bench-table-XXXXXX";
      fd = mkstemp(path.data());
      if (fd >= 0)
        unlink(path.c_str()); // /proc/self/fd/N still opens it
    }
    if (fd < 0 || ftruncate(fd, fileBytes) != 0)
      fail("cannot create the table's file");
    void *m =
        mmap(nullptr, fileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
      fail("cannot map the table");
    // A model.weights file: the header (recq_abi.h), then the table.
    file = static_cast<char *>(m);
    recq_weights_header header = {};
    std::memcpy(header.magic, RECQ_WEIGHTS_MAGIC, sizeof header.magic);
    header.version = RECQ_WEIGHTS_VERSION;
    header.header_bytes = RECQ_WEIGHTS_HEADER_BYTES;
    header.model_id = kModelId;
    header.file_bytes = uint64_t(fileBytes);
    std::memcpy(file, &header, sizeof header);
    data = file + RECQ_WEIGHTS_HEADER_BYTES;
    // Values that use every code; rows quantized as recq-compile does.
    std::mt19937 rng(unsigned(rows + dim + p.bits));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> row(dim);
    int64_t stride = rowBytes(p, dim);
    for (int64_t r = 0; r < rows; ++r) {
      for (float &v : row)
        v = u(rng);
      char *out = data + r * stride;
      if (p.bits == 32) {
        std::memcpy(out, row.data(), dim * 4);
      } else if (p.bits == 16) {
        for (int64_t j = 0; j < dim; ++j) {
          uint16_t h = recq::floatToHalf(row[j]);
          std::memcpy(out + 2 * j, &h, 2);
        }
      } else {
        recq::quantizeRowwise(row.data(), dim, p.bits, p.bits == 4,
                              reinterpret_cast<uint8_t *>(out));
      }
    }
    if (!dir.empty())
      readBackLikeTheRuntime();
  }
  /// The file written out and dropped from the page cache, then mapped
  /// as the runtime maps model.weights (2 MiB-aligned, advised for huge
  /// pages unless RECQ_HUGEPAGES=0) and read in: the folios the page cache
  /// now holds are the ones the model maps too.
  void readBackLikeTheRuntime() {
    msync(file, fileBytes, MS_SYNC);
    munmap(file, fileBytes);
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    const size_t huge = size_t(2) << 20;
    char *raw = static_cast<char *>(mmap(nullptr, fileBytes + huge, PROT_NONE,
                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    char *at = reinterpret_cast<char *>(
        (reinterpret_cast<uintptr_t>(raw) + huge - 1) & ~(huge - 1));
    if (raw == MAP_FAILED || mmap(at, fileBytes, PROT_READ,
                                  MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
      fail("cannot map the table's file");
    if (at > raw)
      munmap(raw, at - raw);
    size_t page = 4096, end = (fileBytes + page - 1) / page * page;
    if (at + end < raw + fileBytes + huge)
      munmap(at + end, raw + fileBytes + huge - (at + end));
    const char *env = getenv("RECQ_HUGEPAGES");
    madvise(at, fileBytes,
            env && *env == '0' ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
    volatile char sink = 0;
    for (int64_t k = 0; k < fileBytes; k += page)
      sink = sink + at[k];
    file = at;
    data = file + RECQ_WEIGHTS_HEADER_BYTES;
  }
  /// Points `data` (what the kernel-only call and the gather loop read) at
  /// a copy in anonymous memory advised for transparent huge pages, to see
  /// how much of the time is TLB misses. (The model's own run reads its
  /// copy from RECQ_HUGEPAGES=1, which --huge-pages sets.)
  void useHugePages() {
    void *m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
      fail("cannot map the huge-page copy");
    madvise(m, bytes, MADV_HUGEPAGE);
    std::memcpy(m, data, bytes);
    huge = static_cast<char *>(m);
    std::swap(data, huge);
  }
  ~Table() {
    munmap(file, fileBytes);
    if (huge) // `data` is the huge-page copy (useHugePages)
      munmap(data, bytes);
    close(fd);
  }
  char *huge = nullptr;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd); }

  /// The id the model's description and the file's header share.
  static constexpr uint64_t kModelId = 0x72656371626e6368ull;
  int64_t bytes, fileBytes;
  char *file = nullptr; // the mapped file: header, then the table
  char *data;           // what the kernel-only call and gather loop read
  int fd = -1;
};

//===----------------------------------------------------------------------===//
// recq
//===----------------------------------------------------------------------===//

/// main(indices [n] i64, offsets [B] i64, table (a weight)) -> [B, D] f32.
OwningOpRef<ModuleOp> buildBag(MLIRContext &ctx, int64_t rows, int64_t dim,
                               const Precision &p, int64_t bytes) {
  OpBuilder b(&ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  Type f32 = b.getF32Type(), i64 = b.getI64Type();
  int64_t dyn = ShapedType::kDynamic;
  Type storage =
      p.bits == 32 ? RankedTensorType::get({rows, dim}, f32)
      : p.bits == 16
          ? RankedTensorType::get({rows, dim}, b.getF16Type())
          : RankedTensorType::get({rows, rowBytes(p, dim)}, b.getIntegerType(8));
  auto vec = RankedTensorType::get({dyn}, i64);
  auto outType = RankedTensorType::get({dyn, dim}, f32);
  auto func = b.create<func::FuncOp>(
      loc, "main", b.getFunctionType({vec, vec, storage}, {outType}));
  func.setArgAttr(0, "onnx.name", b.getStringAttr("indices"));
  func.setArgAttr(1, "onnx.name", b.getStringAttr("offsets"));
  func.setArgAttr(2, "recq.weight",
                  b.getDictionaryAttr(
                      {b.getNamedAttr("offset", b.getI64IntegerAttr(
                                                    RECQ_WEIGHTS_HEADER_BYTES)),
                       b.getNamedAttr("bytes", b.getI64IntegerAttr(bytes))}));
  // The table's file carries the same id (Table::kModelId).
  (*module)->setAttr(
      "recq.weights_id",
      b.getIntegerAttr(b.getIntegerType(64), llvm::APInt(64, Table::kModelId)));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  Value table = entry->getArgument(2);
  if (p.bits < 16)
    table = b.create<recq::RowwiseCastOp>(
        loc,
        recq::RowwiseTableType::get(
            &ctx, rows, dim,
            IntegerType::get(&ctx, p.bits, IntegerType::Unsigned),
            p.bits == 4 ? FloatType(b.getF16Type()) : FloatType(b.getF32Type())),
        table);
  Value bag = b.create<recq::EmbeddingBagOp>(
      loc, outType, table, entry->getArgument(0), entry->getArgument(1),
      Value(), recq::PoolingMode::sum, false);
  b.create<func::ReturnOp>(loc, bag);
  return module;
}

class RecqBag {
public:
  RecqBag(int64_t rows, int64_t dim, const Precision &p, const Table &table,
          const recq::CodegenTarget &target) {
    DialectRegistry registry;
    registerAllDialects(registry);
    registerAllExtensions(registry);
    MLIRContext ctx(registry);
    ctx.loadDialect<recq::RecqDialect, func::FuncDialect, arith::ArithDialect>();
    OwningOpRef<ModuleOp> module = buildBag(ctx, rows, dim, p, table.bytes);
    auto description = recq::describeModelAsC(*module, target);
    if (!description)
      fail(llvm::toString(description.takeError()));
    llvm::SmallString<128> obj;
    llvm::sys::fs::createTemporaryFile("recq-bench", "o", obj);
    llvm::sys::fs::createTemporaryFile("recq-bench", "so", so);
    {
      std::error_code ec;
      llvm::raw_fd_ostream os(obj, ec);
      if (llvm::Error e = recq::compileToObject(*module, target, os))
        fail(llvm::toString(std::move(e)));
    }
    // The runtime keeps its allocator hidden; a shim frees the result of a
    // direct kernel call.
    *description += "void _mlir_memref_to_llvm_free(void *);\n"
                    "__attribute__((visibility(\"default\"))) void "
                    "recq_bench_free(void *p) { _mlir_memref_to_llvm_free(p); }\n";
    if (llvm::Error e = recq::linkSharedLibrary(obj, *description, so))
      fail(llvm::toString(std::move(e)));
    llvm::sys::fs::remove(obj);
    lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      fail(dlerror());
    auto load = reinterpret_cast<decltype(&recq_model_load)>(
        dlsym(lib, "recq_model_load"));
    run = reinterpret_cast<decltype(&recq_model_run)>(
        dlsym(lib, "recq_model_run"));
    release = reinterpret_cast<decltype(&recq_model_free)>(
        dlsym(lib, "recq_model_free"));
    auto threads = reinterpret_cast<decltype(&recq_model_set_threads)>(
        dlsym(lib, "recq_model_set_threads"));
    kernel = reinterpret_cast<Kernel>(dlsym(
        lib,
        ("_mlir_ciface_recq_entry" + recq::variantSuffix(target)).c_str()));
    freeFn = reinterpret_cast<void (*)(void *)>(dlsym(lib, "recq_bench_free"));
    if (!kernel || !freeFn)
      fail("the benchmark model lacks its kernel entry points");
    tableData = &table.data;
    tableShape[0] = rows;
    tableShape[1] = table.bytes / rows / (p.bits == 32 ? 4 : p.bits == 16 ? 2 : 1);
    recq_status st;
    model = load(table.path().c_str(), &st);
    if (!model)
      fail(st.message);
    threads(model, 1);
    auto info = reinterpret_cast<decltype(&recq_model_weights_info)>(
        dlsym(lib, "recq_model_weights_info"));
    hugeBytesOf = reinterpret_cast<int64_t (*)(const void *, size_t,
                                               const char *)>(
        dlsym(lib, "recq_huge_page_bytes"));
    if (!info || !hugeBytesOf)
      fail("the benchmark model lacks recq_model_weights_info");
    int64_t all = 0;
    info(model, &all, &weightsOnHugePages);
  }
  /// Bytes of the model's weights on huge pages, at load.
  int64_t weightsOnHugePages = 0;
  /// recq_huge_page_bytes, from the model's runtime.
  int64_t (*hugeBytesOf)(const void *, size_t, const char *) = nullptr;
  ~RecqBag() {
    release(model);
    dlclose(lib);
    llvm::sys::fs::remove(so);
  }

  void operator()(const int64_t *indices, int64_t n, const int64_t *offsets,
                  int64_t batch, float *out, int64_t dim) {
    int64_t ishape[] = {n}, oshape[] = {batch};
    const void *inputs[] = {indices, offsets};
    const int64_t *shapes[] = {ishape, oshape};
    recq_status st;
    if (run(model, inputs, shapes, out, size_t(batch * dim), nullptr, &st) !=
        RECQ_OK)
      fail(st.message);
  }

  /// The generated code alone (its in-loop index checks included): no
  /// offsets checks, no copy of the output.
  void kernelOnly(const int64_t *indices, int64_t n, const int64_t *offsets,
                  int64_t batch) {
    Desc1 in{indices, indices, 0, n, 1}, off{offsets, offsets, 0, batch, 1};
    Desc2 t{*tableData, *tableData, 0, {tableShape[0], tableShape[1]},
            {tableShape[1], 1}};
    struct {
      Desc2 out;
      Desc1 status; // the checked indices' flag per table
    } results;
    kernel(&results, &in, &off, &t);
    freeFn(const_cast<void *>(results.out.allocated));
    freeFn(const_cast<void *>(results.status.allocated));
  }

private:
  struct Desc1 {
    const void *allocated, *aligned;
    int64_t offset, size, stride;
  };
  struct Desc2 {
    const void *allocated, *aligned;
    int64_t offset, sizes[2], strides[2];
  };
  using Kernel = void (*)(void *, Desc1 *, Desc1 *, Desc2 *);
  Kernel kernel = nullptr;
  void (*freeFn)(void *) = nullptr;
  char *const *tableData = nullptr; // the table's current `data`
  int64_t tableShape[2] = {0, 0};
  llvm::SmallString<128> so;
  void *lib = nullptr;
  recq_model *model = nullptr;
  decltype(&recq_model_run) run = nullptr;
  decltype(&recq_model_free) release = nullptr;
};

//===----------------------------------------------------------------------===//
// Timing
//===----------------------------------------------------------------------===//

using Clock = std::chrono::steady_clock;

/// Calls of `fn(call)` that take ~20 ms, counting calls from `call`.
template <typename Fn> int64_t callsFor(Fn &fn, int64_t &call) {
  for (int64_t calls = 1;; calls *= 2) {
    auto t0 = Clock::now();
    for (int64_t c = 0; c < calls; ++c)
      fn(call++);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0.02 || calls > (1 << 20))
      return calls;
  }
}

/// Seconds per call of `calls` calls of `fn`.
template <typename Fn> double sampleSeconds(Fn &fn, int64_t calls,
                                            int64_t &call) {
  auto t0 = Clock::now();
  for (int64_t c = 0; c < calls; ++c)
    fn(call++);
  return std::chrono::duration<double>(Clock::now() - t0).count() / calls;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Median seconds per call of `fn(call)` over 7 samples of ~20 ms.
template <typename Fn> double medianSeconds(Fn fn) {
  int64_t call = 0, calls = callsFor(fn, call);
  std::vector<double> samples;
  for (int r = 0; r < 7; ++r)
    samples.push_back(sampleSeconds(fn, calls, call));
  return median(samples);
}

/// Times `fns` in 9 interleaved rounds of one ~20 ms sample each, so a
/// change in the machine's load (it is shared) falls on all of them
/// alike: each one's median seconds per call, and the median over rounds
/// of each one's time relative to the last one's.
template <typename... Fns>
std::pair<std::vector<double>, std::vector<double>> interleaved(Fns... fns) {
  constexpr size_t n = sizeof...(Fns);
  int64_t call = 0;
  int64_t calls[n] = {callsFor(fns, call)...};
  std::vector<double> rounds[n];
  for (int r = 0; r < 9; ++r) {
    size_t k = 0;
    ((rounds[k].push_back(sampleSeconds(fns, calls[k], call)), ++k), ...);
  }
  std::vector<double> medians, relative;
  for (size_t k = 0; k < n; ++k) {
    medians.push_back(median(rounds[k]));
    std::vector<double> ratio;
    for (int r = 0; r < 9; ++r)
      ratio.push_back(rounds[k][r] / rounds[n - 1][r]);
    relative.push_back(median(ratio));
  }
  return {medians, relative};
}

} // namespace

int main(int argc, char **argv) {
  bool quick = false, hugePages = false;
  std::string tableDir;
  std::vector<int64_t> dimList, lengthList, batchList;
  std::string precisionList;
  auto parseList = [](char *s) {
    std::vector<int64_t> out;
    while (*s) {
      out.push_back(std::strtoll(s, &s, 10));
      if (*s == ',')
        ++s;
    }
    return out;
  };
  int64_t prefetch = -1;
  std::vector<int64_t> rowCounts = {10000, 100000, 1000000, 10000000};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--huge-pages") == 0) {
      hugePages = true;
    } else if (std::strncmp(argv[i], "--table-dir=", 12) == 0) {
      tableDir = argv[i] + 12;
    } else if (std::strncmp(argv[i], "--prefetch-distance=", 20) == 0) {
      prefetch = std::strtoll(argv[i] + 20, nullptr, 10);
    } else if (std::strncmp(argv[i], "--rows=", 7) == 0) {
      rowCounts = parseList(argv[i] + 7);
    } else if (std::strncmp(argv[i], "--dims=", 7) == 0) {
      dimList = parseList(argv[i] + 7);
    } else if (std::strncmp(argv[i], "--lengths=", 10) == 0) {
      lengthList = parseList(argv[i] + 10);
    } else if (std::strncmp(argv[i], "--batches=", 10) == 0) {
      batchList = parseList(argv[i] + 10);
    } else if (std::strncmp(argv[i], "--precisions=", 13) == 0) {
      precisionList = argv[i] + 13;
    } else {
      bool help = std::strcmp(argv[i], "--help") == 0 ||
                  std::strcmp(argv[i], "-h") == 0;
      std::fprintf(help ? stdout : stderr,
                   "usage: %s [--quick] [--rows=10000,1000000] "
                   "[--dims=16,64] [--lengths=1,10] [--batches=512] "
                   "[--precisions=int8,int4] "
                   "[--prefetch-distance=N] [--huge-pages] "
                   "[--table-dir=DIR]\n"
                   "  --quick: D=64, bags of 10, batches of 512 only (unless "
                   "--dims, --lengths, --batches say otherwise)\n"
                   "  --huge-pages: the tables copied to huge pages "
                   "(RECQ_HUGEPAGES=1)\n"
                   "  --table-dir=DIR: each table in a file in DIR, mapped "
                   "as the runtime maps model.weights (on huge pages where "
                   "DIR's page cache has 2 MiB folios; RECQ_HUGEPAGES=0: "
                   "4 KiB pages), instead of a memfd (4 KiB pages)\n",
                   argv[0]);
      return help ? 0 : 1;
    }
  }
  // Steady state: the model's mapping of the table is faulted in at load
  // (a fresh model's first touch of each page is docs/performance.md's
  // separate point).
  setenv("RECQ_MMAP_POPULATE", "1", 0);
  if (hugePages)
    setenv("RECQ_HUGEPAGES", "1", 1);
  registerAllPasses();
  recq::registerAllRecqPasses();
  recq::CodegenTarget target = recq::hostTarget();
  if (prefetch >= 0)
    target.prefetchDistance = prefetch;
  std::vector<int64_t> dims = !dimList.empty() ? dimList
                              : quick           ? std::vector<int64_t>{64}
                                      : std::vector<int64_t>{16, 64, 128};
  std::vector<int64_t> lengths = !lengthList.empty() ? lengthList
                                 : quick ? std::vector<int64_t>{10}
                                         : std::vector<int64_t>{1, 10, 100};
  std::vector<int64_t> batches = !batchList.empty() ? batchList
                                 : quick ? std::vector<int64_t>{512}
                                         : std::vector<int64_t>{1, 512, 2048};
  std::fprintf(stderr, "target %s, 1 thread\n", target.name.c_str());

  // A pool of index streams, each call takes the next window.
  constexpr int64_t kPool = 1 << 22;
  std::mt19937_64 rng(7);
  for (int64_t rows : rowCounts) {
    std::vector<int64_t> pool(kPool);
    std::uniform_int_distribution<int64_t> pick(0, rows - 1);
    for (int64_t &v : pool)
      v = pick(rng);
    for (int64_t dim : dims)
      for (const Precision &p : kPrecisions) {
        if (!precisionList.empty() &&
            ("," + precisionList + ",").find(std::string(",") + p.name +
                                             ",") == std::string::npos)
          continue;
        Table table(rows, dim, p, tableDir);
        RecqBag bag(rows, dim, p, table, target);
        if (hugePages)
          table.useHugePages();
        int64_t stride = rowBytes(p, dim);
        for (int64_t batch : batches)
          for (int64_t length : lengths) {
            int64_t n = batch * length;
            std::vector<int64_t> offsets(batch);
            for (int64_t b = 0; b < batch; ++b)
              offsets[b] = b * length;
            std::vector<float> out(batch * dim);
            int64_t windows = std::max<int64_t>(1, kPool / n);
            auto window = [&](int64_t call) {
              return pool.data() + (call % windows) * std::min(n, kPool);
            };
            volatile uint64_t sink = 0;
            // The gather loop's best prefetch distance, then the three
            // timed in interleaved rounds.
            int best = 0;
            double bestS = 1e30;
            for (int prefetch : {0, 4, 8, 16, 32}) {
              double t = medianSeconds([&](int64_t call) {
                sink = sink + gatherRows(table.data, stride, window(call), n,
                                         prefetch);
              });
              if (t < bestS)
                bestS = t, best = prefetch;
            }
            auto [seconds, relative] = interleaved(
                [&](int64_t call) {
                  bag(window(call), n, offsets.data(), batch, out.data(), dim);
                },
                [&](int64_t call) {
                  bag.kernelOnly(window(call), n, offsets.data(), batch);
                },
                [&](int64_t call) {
                  gatherRowsAndWrite(table.data, stride, window(call), batch,
                                     length, best, out.data(), dim);
                },
                [&](int64_t call) {
                  sink = sink + gatherRows(table.data, stride, window(call), n,
                                           best);
                });
            std::printf(
                "{\"rows\": %lld, \"dim\": %lld, \"precision\": \"%s\", "
                "\"row_bytes\": %lld, \"batch\": %lld, \"length\": %lld, "
                "\"recq_s\": %.4e, \"kernel_s\": %.4e, \"gather_s\": %.4e, "
                "\"gather_write_s\": %.4e, "
                "\"gather_prefetch\": %d, \"recq_vs_gather\": %.4f, "
                "\"kernel_vs_gather\": %.4f, "
                "\"kernel_vs_gather_write\": %.4f, "
                "\"weights_huge_mib\": %.1f, \"table_huge_mib\": %.1f}\n",
                (long long)rows, (long long)dim, p.name, (long long)stride,
                (long long)batch, (long long)length, seconds[0], seconds[1],
                seconds[3], seconds[2], best, 1.0 / relative[0],
                1.0 / relative[1], relative[2] / relative[1],
                bag.weightsOnHugePages / 1048576.0,
                bag.hugeBytesOf(table.data, table.bytes, nullptr) / 1048576.0);
            std::fflush(stdout);
          }
      }
  }
  return 0;
}
