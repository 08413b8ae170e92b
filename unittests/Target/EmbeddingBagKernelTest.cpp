//===- EmbeddingBagKernelTest.cpp - Pooling kernels against a reference ---===//
//
// For every table precision (f32, f16, row-wise int8 with f32 or f16 scale
// and bias, row-wise int4) and D in {1, 3, 16, 64, 128, 129}, builds one
// module whose output holds eight bags side by side: sum, sum with
// per-sample weights, mean and max, each with and without
// include_last_offset, over bags of every length 0..100. It is compiled the
// way recq-compile does (recq-quantize-tables, recq-canonicalize, lowering,
// model.so) for every target this CPU runs and compared bit for bit with a
// plain loop over this file's own quantizer, in the kernel's order.
//
// The test's quantizer is written from the rules in RowwiseTable.h with the
// compiler's `_Float16` for the half conversions, so it checks recq's
// bit-level f16 code too. The pooled results match exactly because both
// sides do the same f32 operations in the same order: a row-wise sum
// accumulates `fma(code, scale [* w], acc)` per column and the row biases
// [* w] as one scalar added at the end; max compares `fma(code, scale,
// bias)`; float tables add rows, or `fma(row, w, acc)`.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Dialect/Recq/IR/RowwiseTable.h"
#include "recq/Pipelines/Pipelines.h"
#include "recq/Runtime/recq_host.h"
#include "recq/Target/Codegen.h"

#include "CompileModule.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <utility>

using namespace mlir;

namespace {

struct Precision {
  const char *name;     // recq-quantize-tables precision
  const char *scale;    // scale-type ("" = the precision's default)
  unsigned bits;        // 32, 16, 8, 4
  bool halfScale;
};

const Precision kPrecisions[] = {
    {"fp32", "", 32, false}, {"fp16", "", 16, false},
    {"int8", "", 8, false},  {"int8", "f16", 8, true},
    {"int4", "", 4, true},
};

//===----------------------------------------------------------------------===//
// The reference: quantizer and pooling as plain loops
//===----------------------------------------------------------------------===//

float viaHalf(float v) { return float(_Float16(v)); }

/// A table as the kernel must see it: f32 values, or (row-wise) codes with
/// a scale and bias per row.
struct RefTable {
  int64_t dim;
  bool rowwise = false;
  std::vector<float> values; // f32 values, or the codes as f32
  std::vector<float> scale, bias;

  /// Element j of row r in f32.
  float at(int64_t r, int64_t j) const {
    float v = values[r * dim + j];
    return rowwise ? std::fma(v, scale[r], bias[r]) : v;
  }
};

RefTable referenceTable(const std::vector<float> &table, int64_t rows,
                        int64_t dim, const Precision &p) {
  RefTable out;
  out.dim = dim;
  out.values.resize(table.size());
  out.rowwise = p.bits <= 8;
  for (int64_t r = 0; r < rows; ++r) {
    const float *x = &table[r * dim];
    float *y = &out.values[r * dim];
    if (p.bits == 32) {
      std::copy(x, x + dim, y);
      continue;
    }
    if (p.bits == 16) {
      for (int64_t j = 0; j < dim; ++j)
        y[j] = viaHalf(x[j]);
      continue;
    }
    float levels = float((1 << p.bits) - 1);
    float lo = *std::min_element(x, x + dim), hi = *std::max_element(x, x + dim);
    float scale, bias, inverse;
    if (!p.halfScale) {
      scale = (hi - lo) / levels;
      bias = lo;
      inverse = levels / (hi - lo + 1e-8f);
    } else {
      bias = viaHalf(lo);
      scale = hi == bias ? 1.0f : viaHalf((hi - bias) / levels);
      if (scale == 0.0f || std::isinf(1.0f / scale))
        scale = 1.0f;
      inverse = 1.0f / scale;
    }
    for (int64_t j = 0; j < dim; ++j) {
      long code = std::lrint((x[j] - bias) * inverse);
      y[j] = float(std::min<long>(std::max<long>(code, 0), long(levels)));
    }
    out.scale.push_back(scale);
    out.bias.push_back(bias);
  }
  return out;
}

enum class Mode { sum, weighted, mean, max };

/// Pooled bag [begin, end) of the reference table, in the kernel's order:
/// rows in bag order; a row-wise sum accumulates fma(code, scale [* w],
/// acc) per column and the biases [* w] once, added at the end.
void referenceBag(const RefTable &t, const std::vector<int64_t> &indices,
                  const std::vector<float> &weights, int64_t begin, int64_t end,
                  Mode mode, float *out) {
  for (int64_t j = 0; j < t.dim; ++j) {
    float acc = mode == Mode::max ? -INFINITY : 0.0f, biases = 0.0f;
    for (int64_t k = begin; k < end; ++k) {
      int64_t r = indices[k];
      float w = mode == Mode::weighted ? weights[k] : 1.0f;
      if (mode == Mode::max) {
        acc = std::max(acc, t.at(r, j));
      } else if (t.rowwise) {
        float scale = mode == Mode::weighted ? t.scale[r] * w : t.scale[r];
        biases += mode == Mode::weighted ? t.bias[r] * w : t.bias[r];
        acc = std::fma(t.values[r * t.dim + j], scale, acc);
      } else if (mode == Mode::weighted) {
        acc = std::fma(t.at(r, j), w, acc);
      } else {
        acc += t.at(r, j);
      }
    }
    if (t.rowwise && mode != Mode::max)
      acc += biases;
    if (end == begin)
      acc = 0.0f;
    else if (mode == Mode::mean)
      acc /= float(end - begin);
    out[j] = acc;
  }
}

//===----------------------------------------------------------------------===//
// The module: eight bags into one [B, 9 * D] output
//===----------------------------------------------------------------------===//

/// main(dense [B, D], indices [n], offsets [B], offsets [B + 1],
///      weights [n]) -> cat(dense, 8 bags).
OwningOpRef<ModuleOp> buildBags(MLIRContext &context, int64_t rows,
                                int64_t dim, const std::vector<float> &table) {
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  Type f32 = b.getF32Type(), i64 = b.getI64Type();
  int64_t dyn = ShapedType::kDynamic;
  auto denseType = RankedTensorType::get({dyn, dim}, f32);
  auto vecI64 = RankedTensorType::get({dyn}, i64);
  auto vecF32 = RankedTensorType::get({dyn}, f32);
  auto outType = RankedTensorType::get({dyn, 9 * dim}, f32);
  auto func = b.create<func::FuncOp>(
      loc, "main",
      b.getFunctionType({denseType, vecI64, vecI64, vecI64, vecF32},
                        {outType}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  Value t = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(RankedTensorType::get({rows, dim}, f32),
                                  llvm::ArrayRef(table)));
  Value indices = entry->getArgument(1), weights = entry->getArgument(4);
  SmallVector<Value> bags;
  for (bool last : {false, true}) {
    Value offsets = entry->getArgument(last ? 3 : 2);
    for (Mode mode : {Mode::sum, Mode::weighted, Mode::mean, Mode::max}) {
      recq::PoolingMode pooling =
          mode == Mode::mean  ? recq::PoolingMode::mean
          : mode == Mode::max ? recq::PoolingMode::max
                              : recq::PoolingMode::sum;
      bags.push_back(b.create<recq::EmbeddingBagOp>(
          loc, denseType, t, indices, offsets,
          mode == Mode::weighted ? weights : Value(), pooling, last));
    }
  }
  Value out = b.create<recq::InteractionOp>(loc, outType, entry->getArgument(0),
                                            bags, recq::InteractionMode::cat,
                                            false);
  b.create<func::ReturnOp>(loc, out);
  return module;
}

LogicalResult quantizeTables(ModuleOp module, const Precision &p) {
  std::string pipeline = std::string("func.func(recq-quantize-tables{precision=") +
                         p.name + (*p.scale ? " scale-type=" : "") + p.scale +
                         "},recq-canonicalize)";
  PassManager pm(module.getContext());
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    return failure();
  return pm.run(module);
}

struct Case {
  int precision;
  int64_t dim;
};

class EmbeddingBagKernelTest : public ::testing::TestWithParam<Case> {
protected:
  static void SetUpTestSuite() {
    registerAllPasses();
    recq::registerAllRecqPasses();
  }
};

TEST_P(EmbeddingBagKernelTest, MatchesPlainLoops) {
  const Precision &p = kPrecisions[GetParam().precision];
  const int64_t dim = GetParam().dim, rows = 1000;
  std::mt19937 rng(unsigned(dim * 10 + GetParam().precision));
  // Rows on different scales and offsets, one constant row, one of zeros.
  std::vector<float> table(rows * dim);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float scale = std::ldexp(1.0f, int(r % 9) - 4), shift = float(r % 5) - 2;
    for (int64_t j = 0; j < dim; ++j)
      table[r * dim + j] = r == 7 ? 0.25f : r == 8 ? 0.0f
                                         : shift + scale * normal(rng);
  }
  // Bags of every length 0..100 in a shuffled order.
  std::vector<int64_t> lengths(101);
  std::iota(lengths.begin(), lengths.end(), 0);
  std::shuffle(lengths.begin(), lengths.end(), rng);
  const int64_t batch = lengths.size();
  std::vector<int64_t> offsets(batch + 1, 0), indices;
  std::vector<float> weights;
  std::uniform_int_distribution<int64_t> row(0, rows - 1);
  std::uniform_real_distribution<float> weight(-2.0f, 2.0f);
  for (int64_t bag = 0; bag < batch; ++bag) {
    offsets[bag + 1] = offsets[bag] + lengths[bag];
    for (int64_t k = 0; k < lengths[bag]; ++k) {
      indices.push_back(k % 13 == 5 ? 7 : row(rng)); // repeats too
      weights.push_back(weight(rng));
    }
  }
  std::vector<float> dense(batch * dim, 0.0f);

  RefTable ref = referenceTable(table, rows, dim, p);
  std::vector<float> want(batch * 9 * dim, 0.0f);
  for (int64_t bag = 0; bag < batch; ++bag) {
    int slot = 1;
    for (int last = 0; last < 2; ++last)
      for (Mode mode : {Mode::sum, Mode::weighted, Mode::mean, Mode::max})
        referenceBag(ref, indices, weights, offsets[bag],
                     offsets[bag + 1], mode,
                     &want[(bag * 9 + slot++) * dim]);
  }

  for (const std::string &name : recq::testing::runnableTargets()) {
    SCOPED_TRACE("target " + name);
    auto context = recq::testing::makeContext();
    OwningOpRef<ModuleOp> module = buildBags(*context, rows, dim, table);
    ASSERT_TRUE(succeeded(quantizeTables(*module, p)));
    recq::testing::LoadedModel model(*module, *recq::lookupTarget(name));
    ASSERT_TRUE(model);

    int64_t n = indices.size();
    int64_t denseShape[] = {batch, dim}, indexShape[] = {n},
            offsetShape[] = {batch}, lastShape[] = {batch + 1},
            weightShape[] = {n};
    const void *inputs[] = {dense.data(), indices.data(), offsets.data(),
                            offsets.data(), weights.data()};
    const int64_t *shapes[] = {denseShape, indexShape, offsetShape, lastShape,
                               weightShape};
    std::vector<float> out(want.size());
    int64_t outShape[2];
    ASSERT_TRUE(model.runs(inputs, shapes, out, outShape));
    ASSERT_EQ(outShape[0], batch);
    static const char *kSlots[] = {"sum", "weighted sum", "mean", "max"};
    for (int64_t bag = 0; bag < batch; ++bag)
      for (int slot = 1; slot < 9; ++slot)
        for (int64_t j = 0; j < dim; ++j) {
          int64_t at = (bag * 9 + slot) * dim + j;
          // Bit for bit (both NaN-free).
          ASSERT_EQ(out[at], want[at])
              << kSlots[(slot - 1) % 4]
              << (slot > 4 ? " include_last_offset" : "") << ", bag " << bag
              << " of length " << lengths[bag] << ", column " << j;
        }
  }
}

/// Sets an environment variable for its lifetime.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name(name) {
    setenv(name, value, 1);
  }
  ~ScopedEnv() { unsetenv(name); }

private:
  const char *name;
};

// Every table in model.weights, loaded with RECQ_GUARD_WEIGHTS (each
// table's own copy with an inaccessible page right after its last byte,
// then right before its first): bags full of the first and last rows give
// the same bits as unguarded, so no read of any precision, D or pooling
// mode strays past either end of a table; and indices outside the table
// (the row count, -1, the extremes of int64) come back as an error naming
// the value, not a fault. The same holds with the weights copied to huge
// pages (RECQ_HUGEPAGES=1). (AddressSanitizer cannot check this: the
// generated code is not instrumented, and mapped memory is all addressable
// to it.)
TEST_P(EmbeddingBagKernelTest, NeverReadsOutsideItsTable) {
  const Precision &p = kPrecisions[GetParam().precision];
  const int64_t dim = GetParam().dim, rows = 37;
  std::mt19937 rng(unsigned(dim * 7 + GetParam().precision));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> table(rows * dim);
  for (float &v : table)
    v = normal(rng);
  // Bags of lengths 0..20; most indices are the first or the last row.
  std::vector<int64_t> offsets(22, 0), indices;
  std::vector<float> weights;
  std::uniform_int_distribution<int64_t> pick(0, 3);
  for (int64_t bag = 0; bag < 21; ++bag) {
    offsets[bag + 1] = offsets[bag] + bag;
    for (int64_t k = 0; k < bag; ++k) {
      int64_t r = pick(rng);
      indices.push_back(r == 0 ? 0 : r == 1 ? rows / 2 : rows - 1);
      weights.push_back(0.5f);
    }
  }
  const int64_t batch = 21, n = indices.size();
  std::vector<float> dense(batch * dim, 0.0f);

  for (const std::string &name : recq::testing::runnableTargets()) {
    SCOPED_TRACE("target " + name);
    auto context = recq::testing::makeContext();
    OwningOpRef<ModuleOp> module = buildBags(*context, rows, dim, table);
    ASSERT_TRUE(succeeded(quantizeTables(*module, p)));
    recq::testing::LoadedModel model(*module, *recq::lookupTarget(name),
                                     /*externalTables=*/true);
    ASSERT_TRUE(model);

    int64_t denseShape[] = {batch, dim}, indexShape[] = {n},
            offsetShape[] = {batch}, lastShape[] = {batch + 1},
            weightShape[] = {n};
    const int64_t *shapes[] = {denseShape, indexShape, offsetShape, lastShape,
                               weightShape};
    auto run = [&](const std::vector<int64_t> &ids, std::vector<float> &out,
                   recq_status &st) {
      const void *inputs[] = {dense.data(), ids.data(), offsets.data(),
                              offsets.data(), weights.data()};
      out.assign(batch * 9 * dim, 0.0f);
      int64_t outShape[2];
      return model.run(model.model, inputs, shapes, out.data(), out.size(),
                       outShape, &st);
    };
    recq_status st;
    std::vector<float> want, got;
    ASSERT_EQ(run(indices, want, st), RECQ_OK) << st.message;
    const std::pair<const char *, const char *> loads[] = {
        {"RECQ_GUARD_WEIGHTS", "end"},
        {"RECQ_GUARD_WEIGHTS", "start"},
        {"RECQ_HUGEPAGES", "1"}};
    for (auto [variable, value] : loads) {
      SCOPED_TRACE(std::string(variable) + "=" + value);
      ScopedEnv env(variable, value);
      std::string error = model.tryReload();
      int thp = recq_thp_mode(nullptr);
      if (std::string(variable) == "RECQ_HUGEPAGES" &&
          thp != RECQ_THP_ALWAYS && thp != RECQ_THP_MADVISE) {
        // Asked for where the kernel has none: refused at load.
        EXPECT_FALSE(model);
        EXPECT_NE(error.find("transparent huge pages are"), std::string::npos)
            << error;
        continue;
      }
      ASSERT_TRUE(model) << error;
      ASSERT_EQ(run(indices, got, st), RECQ_OK) << st.message;
      ASSERT_EQ(0, std::memcmp(got.data(), want.data(),
                               want.size() * sizeof(float)));
      for (int64_t bad : {rows, int64_t(-1), rows + 4096,
                          std::numeric_limits<int64_t>::max(),
                          std::numeric_limits<int64_t>::min()}) {
        std::vector<int64_t> ids = indices;
        ids[n - 3] = bad; // in the last bag
        EXPECT_EQ(run(ids, got, st), RECQ_ERR_INDEX) << bad;
        EXPECT_NE(std::string(st.message)
                      .find("index " + std::to_string(bad) + " of sample 20"),
                  std::string::npos)
            << st.message;
      }
    }
    model.reload();
  }
}

// A batch whose bags are all empty has no indices; the caller may pass
// such an input as NULL (an empty std::vector's data() is NULL), and gets
// zeros, as PyTorch's EmbeddingBag gives for empty bags. NULL for an input
// with elements is an error, not a read of address 0.
TEST(EmbeddingBagInputsTest, EmptyIndicesMayBeNull) {
  registerAllPasses();
  recq::registerAllRecqPasses();
  const int64_t rows = 5, dim = 3;
  std::vector<float> table(rows * dim, 1.5f);
  auto context = recq::testing::makeContext();
  OwningOpRef<ModuleOp> module = buildBags(*context, rows, dim, table);
  ASSERT_TRUE(succeeded(quantizeTables(*module, kPrecisions[4]))); // int4
  recq::testing::LoadedModel model(
      *module, *recq::lookupTarget(recq::testing::runnableTargets().front()));
  ASSERT_TRUE(model);
  for (int64_t batch : {1, 40}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    std::vector<float> dense(batch * dim, 2.0f);
    std::vector<int64_t> offsets(batch + 1, 0);
    int64_t denseShape[] = {batch, dim}, emptyShape[] = {0},
            offsetShape[] = {batch}, lastShape[] = {batch + 1};
    const void *inputs[] = {dense.data(), nullptr, offsets.data(),
                            offsets.data(), nullptr};
    const int64_t *shapes[] = {denseShape, emptyShape, offsetShape, lastShape,
                               emptyShape};
    std::vector<float> out(batch * 9 * dim, -1.0f);
    int64_t outShape[2];
    recq_status st;
    ASSERT_TRUE(model.runs(inputs, shapes, out, outShape));
    for (int64_t bag = 0; bag < batch; ++bag)
      for (int64_t j = 0; j < 9 * dim; ++j)
        ASSERT_EQ(out[bag * 9 * dim + j], j < dim ? 2.0f : 0.0f)
            << "bag " << bag << ", column " << j;

    // One index, but its data NULL.
    int64_t oneShape[] = {1};
    offsets.back() = 1;
    const int64_t *withOne[] = {denseShape, oneShape, offsetShape, lastShape,
                                oneShape};
    EXPECT_EQ(model.run(model.model, inputs, withOne, out.data(), out.size(),
                        outShape, &st),
              RECQ_ERR_ARGUMENT);
    EXPECT_NE(std::string(st.message).find("'input_1' is NULL but has 1"),
              std::string::npos)
        << st.message;
  }
}

/// Drops the page cache's copy of `path` (its pages no process maps), so
/// the next read brings it in anew.
void dropCachedPages(const std::string &path) {
  int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << path;
  fdatasync(fd);
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

/// Whether the page cache of `dir`'s file system gives a file 2 MiB folios
/// that a 2 MiB-aligned mapping advised with MADV_HUGEPAGE maps as huge
/// pages (a kernel with large folios for that file system: Linux 6.16+ on
/// ext4). Empty when it does, else why not.
std::string fileHugePagesMissing(const std::string &dir) {
  if (!recq_thp_usable())
    return std::string("transparent huge pages are ") +
           recq_thp_mode_name(recq_thp_mode(nullptr));
  std::string path = dir + "/recq-thp-probe-XXXXXX";
  int fd = mkstemp(path.data());
  if (fd < 0)
    return "cannot create a file in " + dir;
  const size_t huge = size_t(2) << 20, len = 2 * huge;
  std::vector<char> bytes(len, 1);
  bool written = write(fd, bytes.data(), len) == ssize_t(len);
  close(fd);
  int64_t got = -1;
  if (written) {
    dropCachedPages(path);
    fd = open(path.c_str(), O_RDONLY);
    char *raw = static_cast<char *>(mmap(nullptr, len + huge, PROT_NONE,
                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    char *at = reinterpret_cast<char *>(
        (reinterpret_cast<uintptr_t>(raw) + huge - 1) & ~(huge - 1));
    if (mmap(at, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) != MAP_FAILED) {
      madvise(at, len, MADV_HUGEPAGE);
      volatile char sink = 0;
      for (size_t k = 0; k < len; k += 4096)
        sink = sink + at[k];
      got = recq_huge_page_bytes(at, len, nullptr);
    }
    munmap(raw, len + huge);
    close(fd);
  }
  std::remove(path.c_str());
  if (got > 0)
    return "";
  return got < 0 ? "no /proc/self/smaps"
                 : "this kernel's page cache maps files of " + dir +
                       " on 4 KiB pages only";
}

// model.weights is mapped 2 MiB-aligned and advised for transparent huge
// pages. Where the page cache gives the file 2 MiB folios (probed first on
// a file next to it), its tables are mapped by huge pages without a copy;
// RECQ_HUGEPAGES=0 asks for 4 KiB pages; RECQ_HUGEPAGES=1 copies. The
// results are the same bits every way.
TEST(EmbeddingBagInputsTest, WeightsOnHugePagesWithoutACopy) {
  registerAllPasses();
  recq::registerAllRecqPasses();
  const int64_t rows = 20000, dim = 64; // 5 MiB: two whole 2 MiB pages
  std::vector<float> table(rows * dim);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float &v : table)
    v = normal(rng);
  auto context = recq::testing::makeContext();
  OwningOpRef<ModuleOp> module = buildBags(*context, rows, dim, table);
  recq::testing::LoadedModel model(
      *module, *recq::lookupTarget(recq::testing::runnableTargets().front()),
      /*externalTables=*/true);
  ASSERT_TRUE(model);
  const std::string &weights = model.weightsPath();

  const int64_t batch = 64, length = 8, n = batch * length;
  std::vector<float> dense(batch * dim, 0.5f), w(n, 0.25f);
  std::vector<int64_t> indices(n), offsets(batch + 1);
  std::uniform_int_distribution<int64_t> pick(0, rows - 1);
  for (int64_t &i : indices)
    i = pick(rng);
  for (int64_t b = 0; b <= batch; ++b)
    offsets[b] = b * length;
  int64_t denseShape[] = {batch, dim}, indexShape[] = {n},
          offsetShape[] = {batch}, lastShape[] = {batch + 1};
  const void *inputs[] = {dense.data(), indices.data(), offsets.data(),
                          offsets.data(), w.data()};
  const int64_t *shapes[] = {denseShape, indexShape, offsetShape, lastShape,
                             indexShape};
  // Loads the model anew (its file read in again, all of it, at load) with
  // RECQ_HUGEPAGES=`huge` (null: unset); returns the bytes huge pages map.
  ScopedEnv populate("RECQ_MMAP_POPULATE", "1");
  auto load = [&](const char *huge) -> int64_t {
    if (huge)
      setenv("RECQ_HUGEPAGES", huge, 1);
    else
      unsetenv("RECQ_HUGEPAGES");
    model.unload();
    dropCachedPages(weights);
    std::string error = model.tryReload();
    unsetenv("RECQ_HUGEPAGES");
    EXPECT_TRUE(model) << error;
    int64_t bytes = 0, onHuge = -2;
    EXPECT_EQ(model.weightsInfo(model.model, &bytes, &onHuge), 0);
    EXPECT_GE(bytes, rows * dim * 4);
    return onHuge;
  };

  std::vector<float> small(batch * 9 * dim), got(small.size());
  int64_t onSmall = load("0");
  ASSERT_TRUE(model);
  ASSERT_TRUE(model.runs(inputs, shapes, small));
  if (onSmall >= 0) {
    EXPECT_EQ(onSmall, 0);
  }

  int64_t onHuge = load(nullptr);
  ASSERT_TRUE(model);
  ASSERT_TRUE(model.runs(inputs, shapes, got));
  EXPECT_EQ(got, small);

  if (recq_thp_usable()) {
    EXPECT_GE(load("1"), int64_t(4) << 20) << "RECQ_HUGEPAGES=1 copies";
    ASSERT_TRUE(model);
    ASSERT_TRUE(model.runs(inputs, shapes, got));
    EXPECT_EQ(got, small);
  }

  std::string dir = llvm::sys::path::parent_path(weights).str();
  if (std::string why = fileHugePagesMissing(dir); !why.empty())
    GTEST_SKIP() << "the mapping's huge pages are not checked: " << why;
  EXPECT_GE(onHuge, int64_t(4) << 20)
      << "the page cache gives 2 MiB folios here, but the model's weights "
         "were not mapped on them";
}

/// main(dense [B, D], then indices [n] and offsets [B] per table) ->
/// [B, (T + 1) * D], its body empty, `b` at its entry: the model of the
/// split-table tests, whose bags the caller adds.
func::FuncOp beginTablesMain(OpBuilder &b, ModuleOp module, int64_t tables,
                             int64_t dim) {
  Location loc = b.getUnknownLoc();
  b.setInsertionPointToEnd(module.getBody());
  Type f32 = b.getF32Type(), i64 = b.getI64Type();
  int64_t dyn = ShapedType::kDynamic;
  auto vecI64 = RankedTensorType::get({dyn}, i64);
  SmallVector<Type> args{RankedTensorType::get({dyn, dim}, f32)};
  for (int64_t t = 0; t < tables; ++t)
    args.append({vecI64, vecI64});
  auto outType = RankedTensorType::get({dyn, (tables + 1) * dim}, f32);
  auto func =
      b.create<func::FuncOp>(loc, "main", b.getFunctionType(args, {outType}));
  b.setInsertionPointToEnd(func.addEntryBlock());
  return func;
}

/// The inputs of beginTablesMain's model and their shapes.
class TablesInputs {
public:
  TablesInputs(const std::vector<float> &dense, int64_t batch, int64_t dim,
               const std::vector<std::vector<int64_t>> &indices,
               const std::vector<std::vector<int64_t>> &offsets)
      : denseShape{batch, dim}, offsetShape{batch}, indexShape(indices.size()) {
    inputs.push_back(dense.data());
    shapes.push_back(denseShape);
    for (size_t t = 0; t < indices.size(); ++t) {
      indexShape[t][0] = indices[t].size();
      inputs.insert(inputs.end(), {indices[t].data(), offsets[t].data()});
      shapes.insert(shapes.end(), {indexShape[t].data(), offsetShape});
    }
  }
  TablesInputs(const TablesInputs &) = delete; // shapes point into it

  /// Table t's indices (input 1 + 2t).
  void setIndices(int64_t t, const std::vector<int64_t> &ids) {
    inputs[1 + 2 * t] = ids.data();
  }

  std::vector<const void *> inputs;
  std::vector<const int64_t *> shapes;

private:
  int64_t denseShape[2], offsetShape[1];
  std::vector<std::array<int64_t, 1>> indexShape;
};

// A model whose tables are pooled by one recq.embedding_bags is split
// (recq-split-bags): a function per table writing its slot of the [B, T, D]
// buffer, then the rest. With a batch too small for tiles and enough
// lookups, the runtime runs the tables on its threads; the results are the
// same bits as on one thread and as a plain loop, and an index outside a
// table is still reported with its table and sample.
TEST(EmbeddingBagInputsTest, SplitTablesOnThreadsMatchOneThread) {
  registerAllPasses();
  recq::registerAllRecqPasses();
  const int64_t dim = 64, batch = 4, tables = 3;
  const int64_t rows[tables] = {1000, 37, 500};
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto context = recq::testing::makeContext();
  OpBuilder b(context.get());
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  func::FuncOp func = beginTablesMain(b, *module, tables, dim);
  Block *entry = &func.getBody().front();
  Type f32 = b.getF32Type();
  int64_t dyn = ShapedType::kDynamic;
  auto outType = cast<RankedTensorType>(func.getResultTypes()[0]);
  std::vector<std::vector<float>> data(tables);
  SmallVector<Value> tableValues, indexValues, offsetValues;
  for (int64_t t = 0; t < tables; ++t) {
    data[t].resize(rows[t] * dim);
    for (float &v : data[t])
      v = normal(rng);
    tableValues.push_back(b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(RankedTensorType::get({rows[t], dim}, f32),
                                    llvm::ArrayRef(data[t]))));
    indexValues.push_back(entry->getArgument(1 + 2 * t));
    offsetValues.push_back(entry->getArgument(2 + 2 * t));
  }
  Value bags = b.create<recq::EmbeddingBagsOp>(
      loc, RankedTensorType::get({dyn, tables, dim}, f32), tableValues,
      indexValues, offsetValues, ValueRange{}, recq::PoolingMode::sum);
  Value out = b.create<recq::InteractionOp>(loc, outType, entry->getArgument(0),
                                            ValueRange{bags},
                                            recq::InteractionMode::cat, false);
  b.create<func::ReturnOp>(loc, out);
  ASSERT_NE(recq::splittableBags(func), nullptr);

  // Bags of 1000-2500 rows (and one empty): lookups x D past the runtime's
  // threshold for waking its threads (RECQ_MIN_TABLE_WORK).
  std::vector<float> dense(batch * dim, 0.5f);
  std::vector<std::vector<int64_t>> indices(tables), offsets(tables);
  for (int64_t t = 0; t < tables; ++t)
    for (int64_t bag = 0; bag < batch; ++bag) {
      offsets[t].push_back(indices[t].size());
      std::uniform_int_distribution<int64_t> row(0, rows[t] - 1);
      int64_t n = t == 1 && bag == 0 ? 0 : 1000 + (bag * 700 + t * 300) % 1500;
      for (int64_t k = 0; k < n; ++k)
        indices[t].push_back(row(rng));
    }
  std::vector<float> want(batch * (tables + 1) * dim);
  for (int64_t bag = 0; bag < batch; ++bag) {
    for (int64_t j = 0; j < dim; ++j)
      want[bag * (tables + 1) * dim + j] = 0.5f;
    for (int64_t t = 0; t < tables; ++t) {
      int64_t end =
          bag + 1 < batch ? offsets[t][bag + 1] : int64_t(indices[t].size());
      for (int64_t j = 0; j < dim; ++j) {
        float sum = 0.0f;
        for (int64_t k = offsets[t][bag]; k < end; ++k)
          sum += data[t][indices[t][k] * dim + j];
        want[(bag * (tables + 1) + t + 1) * dim + j] = sum;
      }
    }
  }

  recq::testing::LoadedModel model(
      *module, *recq::lookupTarget(recq::testing::runnableTargets().back()));
  ASSERT_TRUE(model);
  TablesInputs in(dense, batch, dim, indices, offsets);
  auto &inputs = in.inputs;
  auto &shapes = in.shapes;
  for (int threads : {1, 2}) {
    SCOPED_TRACE(std::to_string(threads) + " thread(s)");
    model.setThreads(model.model, threads);
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<float> got(want.size(), -1.0f);
      int64_t outShape[2];
      ASSERT_TRUE(model.runs(inputs.data(), shapes.data(), got, outShape));
      for (size_t k = 0; k < want.size(); ++k)
        ASSERT_EQ(got[k], want[k]) << "element " << k << ", run " << rep;
    }
    // Table 2's last index of sample 1 outside the table.
    std::vector<int64_t> bad = indices[2];
    bad[offsets[2][2] - 1] = rows[2];
    in.setIndices(2, bad);
    std::vector<float> got(want.size());
    recq_status st;
    EXPECT_EQ(model.run(model.model, inputs.data(), shapes.data(), got.data(),
                        got.size(), nullptr, &st),
              RECQ_ERR_INDEX);
    EXPECT_NE(std::string(st.message).find("table 2: index 500 of sample 1 "),
              std::string::npos)
        << st.message;
    in.setIndices(2, indices[2]);
  }
}

// Split tables of every precision (recq-split-bags), D odd: the tables of
// one kind share one pooling function (convert-recq-to-linalg), which gets
// the table's rows, slot and buffers at run time; each table's bags match
// a plain loop, in the library and as model.weights, and an index outside
// a table that shares its function is reported with that table's own size.
TEST(EmbeddingBagInputsTest, SharedPoolingMatchesPlainLoopsPerTable) {
  registerAllPasses();
  recq::registerAllRecqPasses();
  const int64_t dim = 19, batch = 6;
  // int8 twice (one function), fp32 twice (one function), int4, fp16.
  const char *precisions[] = {"int8", "fp32", "int8", "int4", "fp32", "fp16"};
  const int64_t rows[] = {1000, 37, 500, 77, 3, 20};
  const int64_t tables = std::size(rows);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto context = recq::testing::makeContext();
  OpBuilder b(context.get());
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  func::FuncOp func = beginTablesMain(b, *module, tables, dim);
  Block *entry = &func.getBody().front();
  Type f32 = b.getF32Type();
  auto bagType = cast<RankedTensorType>(entry->getArgument(0).getType());
  auto outType = cast<RankedTensorType>(func.getResultTypes()[0]);
  std::vector<std::vector<float>> data(tables);
  std::vector<RefTable> refs;
  SmallVector<Value> bags;
  for (int64_t t = 0; t < tables; ++t) {
    data[t].resize(rows[t] * dim);
    for (float &v : data[t])
      v = normal(rng);
    const Precision &p = *llvm::find_if(kPrecisions, [&](const Precision &q) {
      return llvm::StringRef(q.name) == precisions[t] && !*q.scale;
    });
    refs.push_back(referenceTable(data[t], rows[t], dim, p));
    Value table = b.create<arith::ConstantOp>(
        loc, DenseElementsAttr::get(RankedTensorType::get({rows[t], dim}, f32),
                                    llvm::ArrayRef(data[t])));
    auto bag = b.create<recq::EmbeddingBagOp>(
        loc, bagType, table, entry->getArgument(1 + 2 * t),
        entry->getArgument(2 + 2 * t), Value(), recq::PoolingMode::sum);
    bag->setAttr("recq.table_precision", b.getStringAttr(precisions[t]));
    bags.push_back(bag);
  }
  Value out =
      b.create<recq::InteractionOp>(loc, outType, entry->getArgument(0), bags,
                                    recq::InteractionMode::cat, false);
  b.create<func::ReturnOp>(loc, out);
  {
    PassManager pm(context.get());
    ASSERT_TRUE(succeeded(parsePassPipeline(
        "func.func(recq-quantize-tables,recq-canonicalize,recq-fuse)", pm,
        llvm::errs())));
    ASSERT_TRUE(succeeded(pm.run(*module)));
  }
  ASSERT_NE(recq::splittableBags(func), nullptr);

  // A copy: lookupTarget returns an optional by value.
  const recq::CodegenTarget target =
      *recq::lookupTarget(recq::testing::runnableTargets().back());
  {
    // One pooling function per kind: int8, fp32, int4, fp16.
    OwningOpRef<ModuleOp> lowered = module->clone();
    ASSERT_FALSE(bool(recq::lowerToLLVMDialect(*lowered, target)));
    int pools = 0, tableFunctions = 0;
    lowered->walk([&](Operation *op) {
      if (auto name = op->getAttrOfType<StringAttr>("sym_name")) {
        pools += name.getValue().starts_with("recq_pool_");
        tableFunctions += name.getValue().starts_with("recq_bag_");
      }
    });
    EXPECT_EQ(pools, 4);
    EXPECT_EQ(tableFunctions, tables);
  }

  std::vector<float> dense(batch * dim, 0.25f);
  std::vector<std::vector<int64_t>> indices(tables), offsets(tables);
  for (int64_t t = 0; t < tables; ++t) {
    std::uniform_int_distribution<int64_t> row(0, rows[t] - 1);
    for (int64_t bag = 0; bag < batch; ++bag) {
      offsets[t].push_back(indices[t].size());
      int64_t n = (bag * 5 + t * 3) % 9; // 0..8 rows, some bags empty
      for (int64_t k = 0; k < n; ++k)
        indices[t].push_back(row(rng));
    }
  }
  std::vector<float> want(batch * (tables + 1) * dim);
  for (int64_t bag = 0; bag < batch; ++bag) {
    std::fill_n(&want[bag * (tables + 1) * dim], dim, 0.25f);
    for (int64_t t = 0; t < tables; ++t) {
      int64_t end =
          bag + 1 < batch ? offsets[t][bag + 1] : int64_t(indices[t].size());
      referenceBag(refs[t], indices[t], {}, offsets[t][bag], end, Mode::sum,
                   &want[(bag * (tables + 1) + t + 1) * dim]);
    }
  }

  TablesInputs in(dense, batch, dim, indices, offsets);
  auto &inputs = in.inputs;
  auto &shapes = in.shapes;
  for (bool external : {false, true}) {
    SCOPED_TRACE(external ? "tables in model.weights"
                          : "tables in the library");
    OwningOpRef<ModuleOp> copy = module->clone();
    recq::testing::LoadedModel model(*copy, target, external);
    ASSERT_TRUE(model);
    std::vector<float> got(want.size(), -1.0f);
    ASSERT_TRUE(model.runs(inputs.data(), shapes.data(), got));
    for (size_t k = 0; k < want.size(); ++k)
      ASSERT_EQ(got[k], want[k]) << "element " << k << " (table "
                                 << int64_t(k / dim) % (tables + 1) - 1 << ")";
    // Table 2 (int8, sharing its function with table 0's 1000 rows): its
    // own 500 rows bound it.
    std::vector<int64_t> bad = indices[2];
    bad[offsets[2][3]] = rows[2];
    in.setIndices(2, bad);
    recq_status st;
    EXPECT_EQ(model.run(model.model, inputs.data(), shapes.data(), got.data(),
                        got.size(), nullptr, &st),
              RECQ_ERR_INDEX);
    EXPECT_NE(std::string(st.message).find("table 2: index 500 of sample 3 "),
              std::string::npos)
        << st.message;
    in.setIndices(2, indices[2]);
  }
}

std::vector<Case> allCases() {
  std::vector<Case> out;
  for (int p = 0; p < int(std::size(kPrecisions)); ++p)
    for (int64_t dim : {1, 3, 16, 64, 128, 129})
      out.push_back({p, dim});
  return out;
}

INSTANTIATE_TEST_SUITE_P(
    PrecisionsAndDims, EmbeddingBagKernelTest, ::testing::ValuesIn(allCases()),
    [](const ::testing::TestParamInfo<Case> &info) {
      const Precision &p = kPrecisions[info.param.precision];
      return std::string(p.name) + (*p.scale ? std::string("_") + p.scale : "") +
             "_D" + std::to_string(info.param.dim);
    });

//===----------------------------------------------------------------------===//
// The compile-time quantizer against this file's reference, byte for byte
//===----------------------------------------------------------------------===//

TEST(RowwiseQuantizerTest, HalfConversionMatchesTheCompiler) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<uint32_t> bits;
  std::vector<float> values = {0.0f,     -0.0f,    1.0f,   65504.0f, 65519.0f,
                               65520.0f, 1e-8f,    6e-8f,  3e-8f,    5.96e-8f,
                               6.1e-5f,  6.09e-5f, 1e30f,  -1e30f,   INFINITY,
                               -INFINITY};
  for (int i = 0; i < 2000000; ++i) {
    uint32_t x = bits(rng);
    float v;
    std::memcpy(&v, &x, 4);
    if (!std::isnan(v))
      values.push_back(v);
  }
  for (float v : values) {
    _Float16 h = _Float16(v);
    uint16_t want;
    std::memcpy(&want, &h, 2);
    ASSERT_EQ(recq::floatToHalf(v), want) << v;
    ASSERT_EQ(recq::halfToFloat(want), float(h)) << v;
  }
}

TEST(RowwiseQuantizerTest, BytesMatchTheReference) {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Precision &p : kPrecisions) {
    if (p.bits > 8)
      continue;
    for (int64_t dim : {1, 2, 3, 16, 129}) {
      for (int trial = 0; trial < 200; ++trial) {
        std::vector<float> row(dim);
        // Scales from 2^-20 up (f16 scale and bias: within f16's range).
        float scale = std::ldexp(1.0f, trial % (p.halfScale ? 30 : 40) - 20);
        for (float &v : row)
          v = trial % 17 == 0 ? 1.5f : scale * normal(rng) + trial % 3;
        std::vector<uint8_t> bytes(
            recq::rowwiseRowBytes(dim, p.bits, p.halfScale));
        recq::quantizeRowwise(row.data(), dim, p.bits, p.halfScale,
                              bytes.data());
        RefTable want = referenceTable(row, 1, dim, p);
        // Decode the bytes the way the kernel does.
        int64_t codeBytes = p.bits == 8 ? dim : (dim + 1) / 2;
        float s, b;
        if (p.halfScale) {
          uint16_t hs, hb;
          std::memcpy(&hs, &bytes[codeBytes], 2);
          std::memcpy(&hb, &bytes[codeBytes + 2], 2);
          s = recq::halfToFloat(hs);
          b = recq::halfToFloat(hb);
        } else {
          std::memcpy(&s, &bytes[codeBytes], 4);
          std::memcpy(&b, &bytes[codeBytes + 4], 4);
        }
        std::vector<float> back(dim);
        recq::dequantizeRowwise(bytes.data(), dim, p.bits, p.halfScale,
                                back.data());
        for (int64_t j = 0; j < dim; ++j) {
          int code = p.bits == 8 ? bytes[j] : (bytes[j / 2] >> (4 * (j % 2))) & 15;
          ASSERT_EQ(std::fma(float(code), s, b), want.at(0, j))
              << p.name << " D=" << dim << " trial " << trial << " col " << j;
          // What the planner's simulated tables hold.
          ASSERT_EQ(back[j], want.at(0, j))
              << p.name << " D=" << dim << " trial " << trial << " col " << j;
        }
        if (p.bits == 4 && dim % 2) {
          ASSERT_EQ(bytes[codeBytes - 1] >> 4, 0) << "padding nibble";
        }
      }
    }
  }
}

} // namespace
