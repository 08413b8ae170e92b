//===- ModelApiTest.cpp - The C API of compiled models on hostile input ---===//
//
// Every way a caller can get recq_model_load and recq_model_run wrong gets
// an error status naming the input, the table, the sample and the value,
// and no read or write outside a buffer (the asan preset runs this under
// AddressSanitizer, with the runtime instrumented). The models are small
// ONNX models compiled by recq-compile (cmake/RecqTestModels.cmake); one
// of them reads its tables from model.weights. The last test runs one
// model from several threads at once (the tsan preset runs it under
// ThreadSanitizer) and wants the bits of serial runs.
//
//===----------------------------------------------------------------------===//

#include "ModelHandle.h"

#include "recq/Runtime/recq_cpu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <random>
#include <thread>

#include <unistd.h>

#ifndef RECQ_TEST_MODELS_DIR
#error "RECQ_TEST_MODELS_DIR must name the compiled test models' directory"
#endif

using namespace recq::testing;

namespace {

std::string modelPath(const std::string &name, const char *ext = ".so") {
  return std::string(RECQ_TEST_MODELS_DIR) + "/" + name + ext;
}

/// A loaded test model with its inputs described.
struct Loaded {
  explicit Loaded(const std::string &name, const char *weights = nullptr)
      : api(modelPath(name)) {
    if (!api)
      return;
    recq_status st;
    std::string path = weights ? weights : "";
    model = api.load(weights ? path.c_str() : nullptr, &st);
    if (!model) {
      error = st.message;
      return;
    }
    desc = describeInputs(api, model);
  }
  ~Loaded() {
    if (model)
      api.free(model);
  }
  explicit operator bool() const { return model != nullptr; }

  /// A valid batch drawn from `seed`.
  Batch batch(int64_t samples, uint64_t seed = 1, int64_t maxLength = 4) {
    std::mt19937_64 rng(seed);
    return makeBatch(api, model, desc, samples, maxLength,
                     [&](uint64_t n) { return n ? rng() % n : 0; });
  }
  /// Runs `b`: the status, with the output in `out` (sized for the batch,
  /// or `capacity` floats).
  int run(Batch &b, std::vector<float> &out, recq_status &st,
          int64_t capacity = -1) {
    b.finish();
    int64_t need = api.outputSize(model, b.shapePtrs.data());
    out.assign(capacity >= 0 ? capacity : std::max<int64_t>(need, 1), -7.0f);
    int64_t shape[8];
    return api.run(model, b.inputs.data(), b.shapePtrs.data(), out.data(),
                   out.size(), shape, &st);
  }
  int input(const char *name) const {
    for (size_t i = 0; i < desc.size(); ++i)
      if (desc[i].name == name)
        return (int)i;
    ADD_FAILURE() << "no input " << name;
    return 0;
  }

  ModelLibrary api;
  recq_model *model = nullptr;
  std::vector<InputDesc> desc;
  std::string error;
};

#define ASSERT_LOADED(m)                                                       \
  ASSERT_TRUE(m.api) << m.api.error;                                           \
  ASSERT_TRUE(m) << m.error

/// The status code is `code` and the message holds every one of `parts`.
::testing::AssertionResult fails(int got, const recq_status &st, int code,
                                 std::initializer_list<const char *> parts) {
  if (got != code || st.code != code)
    return ::testing::AssertionFailure()
           << "status " << got << " (st.code " << st.code << "), wanted "
           << code << ": " << st.message;
  for (const char *part : parts)
    if (!std::strstr(st.message, part))
      return ::testing::AssertionFailure()
             << "'" << st.message << "' does not say '" << part << "'";
  return ::testing::AssertionSuccess();
}

TEST(ModelApiTest, ValidBatchesRunOnEveryModel) {
  for (const char *name :
       {"interaction", "bag_last", "bag_weighted", "stacked", "fixed"}) {
    SCOPED_TRACE(name);
    Loaded m(name);
    ASSERT_LOADED(m);
    for (int64_t samples : {1, 3, 40, 257}) {
      Batch b = m.batch(samples, samples);
      std::vector<float> out;
      recq_status st;
      ASSERT_EQ(m.run(b, out, st), RECQ_OK) << st.message;
      for (float v : out)
        ASSERT_TRUE(std::isfinite(v));
    }
  }
}

TEST(ModelApiTest, NullPointersAreArgumentErrors) {
  Loaded m("interaction");
  ASSERT_LOADED(m);
  Batch b = m.batch(4);
  std::vector<float> out(16);
  recq_status st;
  EXPECT_TRUE(fails(m.api.run(nullptr, b.inputs.data(), b.shapePtrs.data(),
                              out.data(), out.size(), nullptr, &st),
                    st, RECQ_ERR_ARGUMENT, {"NULL"}));
  EXPECT_TRUE(fails(m.api.run(m.model, nullptr, b.shapePtrs.data(),
                              out.data(), out.size(), nullptr, &st),
                    st, RECQ_ERR_ARGUMENT, {"NULL"}));
  EXPECT_TRUE(fails(m.api.run(m.model, b.inputs.data(), nullptr, out.data(),
                              out.size(), nullptr, &st),
                    st, RECQ_ERR_ARGUMENT, {"NULL"}));
  EXPECT_TRUE(fails(m.api.run(m.model, b.inputs.data(), b.shapePtrs.data(),
                              nullptr, 0, nullptr, &st),
                    st, RECQ_ERR_ARGUMENT, {"NULL"}));
  // A NULL status is allowed: the code still comes back.
  EXPECT_EQ(m.api.run(m.model, nullptr, nullptr, nullptr, 0, nullptr, nullptr),
            RECQ_ERR_ARGUMENT);
  // One NULL shape, one NULL input with elements.
  int dense = m.input("dense_x");
  b.shapePtrs[dense] = nullptr;
  EXPECT_TRUE(fails(m.api.run(m.model, b.inputs.data(), b.shapePtrs.data(),
                              out.data(), out.size(), nullptr, &st),
                    st, RECQ_ERR_ARGUMENT, {"'dense_x'", "NULL shape"}));
  b.finish();
  b.inputs[dense] = nullptr;
  EXPECT_TRUE(fails(m.api.run(m.model, b.inputs.data(), b.shapePtrs.data(),
                              out.data(), out.size(), nullptr, &st),
                    st, RECQ_ERR_ARGUMENT, {"'dense_x' is NULL but has 20"}));
  // Introspection of no model, or past the last input, table or output.
  EXPECT_EQ(m.api.numInputs(nullptr), -1);
  EXPECT_EQ(m.api.numTables(nullptr), -1);
  EXPECT_EQ(m.api.inputName(nullptr, 0), nullptr);
  EXPECT_EQ(m.api.inputName(m.model, 99), nullptr);
  EXPECT_EQ(m.api.inputInfo(m.model, -1, nullptr, nullptr, nullptr), -1);
  EXPECT_EQ(m.api.outputInfo(m.model, 7, nullptr, nullptr, nullptr), -1);
  EXPECT_EQ(m.api.tableRows(m.model, 2), -1);
  EXPECT_EQ(m.api.tableRows(nullptr, 0), -1);
  EXPECT_EQ(m.api.tableInfo(nullptr, 0, nullptr, nullptr, nullptr, nullptr),
            -1);
  EXPECT_EQ(m.api.outputSize(m.model, nullptr), -1);
  // A negative dimension has no output size (regression: the run fuzzer
  // found INT64_MIN offsets overflowing the bag count, a UBSan report).
  {
    Batch neg = m.batch(4);
    neg.shapes[m.input("offsets")][1] = std::numeric_limits<int64_t>::min();
    neg.finish();
    EXPECT_EQ(m.api.outputSize(m.model, neg.shapePtrs.data()), -1);
    neg.shapes[m.input("offsets")][1] = -1;
    EXPECT_EQ(m.api.outputSize(m.model, neg.shapePtrs.data()), -1);
  }
  m.api.free(nullptr); // a no-op
}

TEST(ModelApiTest, BadShapesAreShapeErrors) {
  Loaded m("interaction");
  ASSERT_LOADED(m);
  int dense = m.input("dense_x"), offsets = m.input("offsets");
  std::vector<float> out;
  recq_status st;
  {
    Batch b = m.batch(4);
    b.shapes[dense][1] = 6; // the model takes 5 features
    b.data[dense].resize(4 * 6 * 4);
    EXPECT_TRUE(fails(m.run(b, out, st), st, RECQ_ERR_SHAPE,
                      {"'dense_x'", "dimension 1 is 6", "takes 5"}));
  }
  {
    Batch b = m.batch(4);
    b.shapes[dense][0] = -3;
    EXPECT_TRUE(fails(m.run(b, out, st), st, RECQ_ERR_SHAPE,
                      {"'dense_x'", "dimension 0 is -3"}));
  }
  {
    // Dimensions whose product wraps around 64 bits, with no data: an
    // error, not a product of 0 that lets NULL through.
    Batch b = m.batch(4);
    b.shapes[dense] = {int64_t(1) << 62, 5};
    b.data[dense].clear();
    EXPECT_TRUE(fails(m.run(b, out, st, 16), st, RECQ_ERR_SHAPE,
                      {"'dense_x'", "more than 2^48"}));
  }
  {
    Batch b = m.batch(4);
    b.shapes[dense][0] = 3; // offsets say 4
    b.data[dense].resize(3 * 5 * 4);
    EXPECT_TRUE(fails(m.run(b, out, st, 16), st, RECQ_ERR_SHAPE,
                      {"4 bags", "batch is 3"}));
  }
  {
    // Offsets of one row where the model's tables read two.
    Batch b = m.batch(4);
    EXPECT_EQ(b.shapes[offsets][0], 2);
    b.shapes[offsets][0] = 1;
    b.data[offsets].resize(4 * 8);
    EXPECT_TRUE(fails(m.run(b, out, st), st, RECQ_ERR_SHAPE,
                      {"'offsets'", "dimension 0 is 1", "takes 2"}));
  }
  {
    // The output buffer too small for the batch.
    Batch b = m.batch(10);
    EXPECT_TRUE(fails(m.run(b, out, st, 9), st, RECQ_ERR_MEMORY,
                      {"needs 10 floats", "holds 9"}));
    for (float v : out)
      EXPECT_EQ(v, -7.0f) << "written past a failed check";
  }
}

TEST(ModelApiTest, BadOffsetsAreIndexErrors) {
  Loaded m("interaction");
  ASSERT_LOADED(m);
  int offsets = m.input("offsets");
  std::vector<float> out;
  recq_status st;
  auto at = [&](Batch &b, int row, int sample) -> int64_t & {
    return b.as<int64_t>(offsets)[row * b.shapes[offsets][1] + sample];
  };
  {
    Batch b = m.batch(6, 3);
    at(b, 0, 0) = 1;
    EXPECT_TRUE(fails(m.run(b, out, st), st, RECQ_ERR_INDEX,
                      {"table 0", "first offset is 1", "'offsets'"}));
  }
  {
    Batch b = m.batch(6, 3);
    at(b, 1, 4) = at(b, 1, 3) - 1;
    at(b, 1, 3) += 1; // sample 4's offset is now below sample 3's
    EXPECT_TRUE(fails(m.run(b, out, st), st, RECQ_ERR_INDEX,
                      {"table 1", "of sample 4 is below", "must not decrease"}));
  }
  {
    Batch b = m.batch(6, 3);
    at(b, 0, 5) = b.shapes[m.input("indices_0")][0] + 1;
    EXPECT_TRUE(fails(m.run(b, out, st), st, RECQ_ERR_INDEX,
                      {"table 0", "of sample 5 is past"}));
  }
  {
    Batch b = m.batch(6, 3);
    at(b, 0, 2) = -5;
    EXPECT_TRUE(fails(m.run(b, out, st), st, RECQ_ERR_INDEX,
                      {"table 0", "offset -5 of sample 2"}));
  }
  {
    Batch b = m.batch(6, 3);
    at(b, 1, 1) = std::numeric_limits<int64_t>::max();
    EXPECT_TRUE(fails(m.run(b, out, st), st, RECQ_ERR_INDEX,
                      {"table 1", "of sample 1 is past"}));
  }

  Loaded last("bag_last");
  ASSERT_LOADED(last);
  int lastOffsets = last.input("offsets");
  {
    Batch b = last.batch(5, 4);
    b.shapes[lastOffsets] = {0}; // no bags, and no last offset either
    b.data[lastOffsets].clear();
    b.shapes[last.input("indices")] = {0};
    b.data[last.input("indices")].clear();
    EXPECT_TRUE(fails(last.run(b, out, st, 16), st, RECQ_ERR_SHAPE,
                      {"'offsets' are empty", "last offset included"}));
  }
  {
    Batch b = last.batch(5, 4);
    int64_t n = b.shapes[last.input("indices")][0];
    b.as<int64_t>(lastOffsets)[5] = n - 1;
    if (n > 0 && b.as<int64_t>(lastOffsets)[4] <= n - 1) {
      EXPECT_TRUE(fails(last.run(b, out, st), st, RECQ_ERR_INDEX,
                        {"last offset is", "not the number of indices"}));
    }
  }
}

TEST(ModelApiTest, IndicesOutsideTheirTableNameTableSampleAndValue) {
  struct Case {
    const char *model, *input;
    int table;
  };
  for (Case c : {Case{"interaction", "indices_1", 1},
                 Case{"bag_last", "indices", 0},
                 Case{"bag_weighted", "indices", 0},
                 Case{"stacked", "indices", 2}, Case{"fixed", "indices", 0}}) {
    SCOPED_TRACE(c.model);
    Loaded m(c.model);
    ASSERT_LOADED(m);
    // Batches that run whole and, on two threads, in tiles: the sample
    // named is the caller's, not a tile's.
    m.api.setThreads(m.model, 2);
    for (int64_t samples : {7, 200}) {
      for (int64_t bad : {int64_t(-1), m.api.tableRows(m.model, c.table),
                          std::numeric_limits<int64_t>::max(),
                          std::numeric_limits<int64_t>::min()}) {
        Batch b = m.batch(samples, 11, 3);
        int i = m.input(c.input);
        int64_t count = b.elements(i), position = count - 1;
        if (std::string(c.model) == "stacked")
          position = count - 2; // in the last table's row
        if (m.desc[i].dtype == RECQ_DTYPE_I32 &&
            (bad > INT32_MAX || bad < INT32_MIN))
          continue;
        ASSERT_GT(count, 0);
        setInt(b, m.desc[i], i, position, bad);
        std::vector<float> out;
        recq_status st;
        std::string value = "index " + std::to_string(bad) + " of sample ";
        std::string table = "table " + std::to_string(c.table) + ":";
        std::string input = "(input '" + std::string(c.input) + "'";
        EXPECT_TRUE(fails(m.run(b, out, st), st, RECQ_ERR_INDEX,
                          {table.c_str(), value.c_str(), input.c_str()}));
        // The last sample holds the last index (bags may be empty: the
        // last non-empty one).
        EXPECT_TRUE(std::strstr(st.message, "outside [0, ")) << st.message;
      }
    }
  }
}

TEST(ModelApiTest, EmptyBatchesAndNonFiniteFeaturesRun) {
  Loaded m("interaction");
  ASSERT_LOADED(m);
  std::vector<float> out;
  recq_status st;
  {
    Batch b = m.batch(0);
    EXPECT_EQ(m.run(b, out, st), RECQ_OK) << st.message;
  }
  {
    Batch b = m.batch(8);
    int dense = m.input("dense_x");
    b.as<float>(dense)[0] = std::numeric_limits<float>::quiet_NaN();
    b.as<float>(dense)[6] = std::numeric_limits<float>::infinity();
    b.as<float>(dense)[12] = -std::numeric_limits<float>::infinity();
    ASSERT_EQ(m.run(b, out, st), RECQ_OK) << st.message;
    EXPECT_TRUE(std::isnan(out[0])) << out[0];
    for (int k = 3; k < 8; ++k)
      EXPECT_TRUE(std::isfinite(out[k])) << "sample " << k;
  }
}

std::vector<char> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}

/// `bytes` written to a fresh file; removed when the test ends.
struct TempFile {
  explicit TempFile(const std::vector<char> &bytes) {
    char name[] = "/tmp/recq-weights-XXXXXX";
    int fd = mkstemp(name);
    path = name;
    if (fd >= 0) {
      if (!bytes.empty() &&
          write(fd, bytes.data(), bytes.size()) != (ssize_t)bytes.size())
        ADD_FAILURE() << "cannot write " << path;
      close(fd);
    }
  }
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
};

TEST(ModelApiTest, WeightsFilesThatAreNotTheModelsAreRefused) {
  std::vector<char> good = readFile(modelPath("interaction_weights", ".weights"));
  ASSERT_GT(good.size(), 64u);
  {
    TempFile file(good);
    Loaded m("interaction_weights", file.path.c_str());
    ASSERT_LOADED(m);
    Batch b = m.batch(9);
    std::vector<float> out;
    recq_status st;
    EXPECT_EQ(m.run(b, out, st), RECQ_OK) << st.message;
  }
  struct Case {
    const char *what;
    std::vector<char> bytes;
    const char *message;
  };
  std::vector<Case> cases;
  cases.push_back({"empty", {}, "is not a recq weights file"});
  cases.push_back({"header only",
                   std::vector<char>(good.begin(), good.begin() + 64),
                   "header says"});
  cases.push_back(
      {"truncated", std::vector<char>(good.begin(), good.end() - 1),
       "truncated"});
  std::vector<char> longer = good;
  longer.push_back(0);
  cases.push_back({"one byte more", longer, "truncated or overwritten"});
  std::vector<char> magic = good;
  magic[0] = 'X';
  cases.push_back({"no magic", magic, "no RECQWTS header"});
  std::vector<char> version = good;
  version[8] = 9;
  cases.push_back({"version 9", version, "version 9 weights file"});
  std::vector<char> id = good;
  id[16] ^= 1;
  cases.push_back({"another id", id, "weights of another model"});
  cases.push_back({"another model's file",
                   readFile(modelPath("bag_last_weights", ".weights")),
                   "weights of another model"});
  for (const Case &c : cases) {
    SCOPED_TRACE(c.what);
    TempFile file(c.bytes);
    Loaded m("interaction_weights", file.path.c_str());
    ASSERT_TRUE(m.api) << m.api.error;
    EXPECT_FALSE(m);
    EXPECT_NE(m.error.find(c.message), std::string::npos) << m.error;
    EXPECT_NE(m.error.find(file.path), std::string::npos) << m.error;
  }
  Loaded missing("interaction_weights", "/nonexistent/model.weights");
  EXPECT_FALSE(missing);
  EXPECT_NE(missing.error.find("cannot open the weights file"),
            std::string::npos)
      << missing.error;
}

// RECQ_MMAP_POPULATE: each mode loads and runs with the same bits; a
// model freed while its background thread still reads model.weights in
// stops it first (ASan/TSan would see a read of an unmapped page or a
// race); an unknown setting is refused, naming it.
TEST(ModelApiTest, WeightsAreReadInAsRecqMmapPopulateSays) {
  std::vector<float> want;
  {
    ::setenv("RECQ_MMAP_POPULATE", "0", 1);
    Loaded m("interaction_weights");
    ASSERT_TRUE(m) << m.error;
    Batch b = m.batch(37);
    recq_status st;
    ASSERT_EQ(m.run(b, want, st), RECQ_OK) << st.message;
  }
  for (const char *setting : {"1", "background", ""}) {
    SCOPED_TRACE(std::string("RECQ_MMAP_POPULATE=") + setting);
    ::setenv("RECQ_MMAP_POPULATE", setting, 1);
    for (int i = 0; i < 20; ++i) {
      Loaded m("interaction_weights");
      ASSERT_TRUE(m) << m.error;
      if (i % 2) // freed at once, or after a run
        continue;
      std::vector<float> got;
      Batch b = m.batch(37);
      recq_status st;
      ASSERT_EQ(m.run(b, got, st), RECQ_OK) << st.message;
      EXPECT_EQ(got, want);
    }
  }
  ::setenv("RECQ_MMAP_POPULATE", "sometimes", 1);
  Loaded bad("interaction_weights");
  ::unsetenv("RECQ_MMAP_POPULATE");
  EXPECT_FALSE(bad);
  EXPECT_NE(bad.error.find("RECQ_MMAP_POPULATE is 'sometimes'; it takes 0, 1 "
                           "or background"),
            std::string::npos)
      << bad.error;
}

// Several threads call recq_model_run on one loaded model, each with its
// own inputs, while the model's pool cuts large batches into tiles: every
// result has the bits of the same batch run alone.
TEST(ModelApiTest, ConcurrentRunsMatchSerialRuns) {
  for (const char *name : {"interaction", "stacked"}) {
    SCOPED_TRACE(name);
    Loaded m(name);
    ASSERT_LOADED(m);
    m.api.setThreads(m.model, 2);
    const int threads = 4, calls = 12;
    std::vector<Batch> batches;
    std::vector<std::vector<float>> serial(threads * calls);
    for (int k = 0; k < threads * calls; ++k) {
      batches.push_back(m.batch(1 + (k * 37) % 120, 100 + k));
      recq_status st;
      ASSERT_EQ(m.run(batches[k], serial[k], st), RECQ_OK) << st.message;
    }
    std::vector<std::vector<float>> parallel(threads * calls);
    std::vector<std::string> errors(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (int c = 0; c < calls; ++c) {
          int k = t * calls + c;
          recq_status st;
          std::vector<float> &out = parallel[k];
          out.assign(serial[k].size(), -7.0f);
          int64_t shape[8];
          if (m.api.run(m.model, batches[k].inputs.data(),
                        batches[k].shapePtrs.data(), out.data(), out.size(),
                        shape, &st) != RECQ_OK)
            errors[t] = st.message;
        }
      });
    for (std::thread &t : pool)
      t.join();
    for (const std::string &e : errors)
      EXPECT_EQ(e, "");
    for (int k = 0; k < threads * calls; ++k)
      ASSERT_EQ(0, std::memcmp(serial[k].data(), parallel[k].data(),
                               serial[k].size() * sizeof(float)))
          << "call " << k;
  }
}

// A library holds one variant per target (best first). The load runs the
// first this CPU runs, or the one the load option or RECQ_TARGET names,
// and refuses an unknown name or a variant the CPU cannot run;
// RECQ_CPU_DISABLE plays a smaller CPU. Every variant the CPU runs gives
// the same outputs (fp32: within 1e-5).
TEST(ModelApiTest, VariantsArePickedForcedAndRefused) {
  Loaded m("interaction_weights");
  ASSERT_LOADED(m);
  ASSERT_EQ(m.api.numVariants(m.model), 3);
  std::vector<std::string> names;
  for (int v = 0; v < 3; ++v) {
    uint32_t needs = ~0u;
    names.push_back(m.api.variant(m.model, v, &needs));
    EXPECT_EQ(needs == 0, names.back() == "generic");
  }
  EXPECT_EQ(names, (std::vector<std::string>{"avx512", "avx2", "generic"}));
  EXPECT_EQ(m.api.variant(m.model, 3, nullptr), nullptr);
  EXPECT_EQ(m.api.variant(m.model, -1, nullptr), nullptr);
  EXPECT_EQ(m.api.numVariants(nullptr), -1);
  EXPECT_EQ(m.api.targetReason(nullptr), nullptr);
  EXPECT_NE(std::strstr(m.api.targetReason(m.model),
                        "the best variant this CPU runs, of 3"),
            nullptr);

  std::string weights = modelPath("interaction_weights", ".weights");
  auto load = [&](const char *target, recq_status &st) {
    recq_load_options options = {weights.c_str(), target};
    return m.api.loadWith(&options, &st);
  };
  recq_status st;
  EXPECT_EQ(load("sse9", st), nullptr);
  EXPECT_TRUE(fails(st.code, st, RECQ_ERR_ARGUMENT,
                    {"the variant 'sse9'", "this model has avx512, avx2, "
                                           "generic"}));
  ::setenv("RECQ_CPU_DISABLE", "avx2", 1);
  EXPECT_EQ(load("avx2", st), nullptr);
  EXPECT_TRUE(fails(st.code, st, RECQ_ERR_CPU,
                    {"'avx2', which needs", "this CPU lacks it"}));
  recq_model *fallback = load(nullptr, st);
  ::unsetenv("RECQ_CPU_DISABLE");
  ASSERT_NE(fallback, nullptr) << st.message;
  EXPECT_STREQ(m.api.target(fallback), "generic");
  m.api.free(fallback);

  // Each variant this CPU runs, forced by the option and by RECQ_TARGET.
  Batch b = m.batch(37, 5);
  std::vector<float> reference;
  ASSERT_EQ(m.run(b, reference, st), RECQ_OK) << st.message;
  for (const std::string &name : names) {
    SCOPED_TRACE(name);
    uint32_t needs = 0;
    for (int v = 0; v < 3; ++v)
      if (name == m.api.variant(m.model, v, &needs))
        break;
    char missing[128];
    if (recq_cpu_missing(needs, missing, sizeof missing) > 0)
      continue;
    ::setenv("RECQ_TARGET", name.c_str(), 1);
    recq_model *byEnv = load(nullptr, st);
    ::unsetenv("RECQ_TARGET");
    ASSERT_NE(byEnv, nullptr) << st.message;
    EXPECT_EQ(std::string(m.api.targetReason(byEnv)), "RECQ_TARGET=" + name);
    m.api.free(byEnv);
    recq_model *forced = load(name.c_str(), st);
    ASSERT_NE(forced, nullptr) << st.message;
    EXPECT_EQ(m.api.target(forced), name);
    std::vector<float> out(reference.size());
    int64_t shape[8];
    ASSERT_EQ(m.api.run(forced, b.inputs.data(), b.shapePtrs.data(), out.data(),
                        out.size(), shape, &st),
              RECQ_OK)
        << st.message;
    m.api.free(forced);
    for (size_t i = 0; i < out.size(); ++i)
      ASSERT_NEAR(out[i], reference[i], 1e-5) << "output " << i;
  }
}

} // namespace
