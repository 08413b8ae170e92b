//===- recq-run-fuzzer.cpp - recq_model_run on hostile inputs -------------===//
//
// Each input picks a test model (test-models/: bags with offsets, with the
// last offset, with per-sample weights, stacked and fixed-length bags, a
// DLRM interaction), a batch of valid inputs for it, then up to eight
// hostile edits: an index or offset set to any value, a dimension changed
// (the buffer follows the shape it claims; a shape too large for memory
// comes with a NULL pointer), a NULL input or shape, NaN or inf features,
// a short output buffer, one thread or two. recq_model_run must return a
// status with a message, and read and write nothing outside the buffers
// (AddressSanitizer watches them; the runtime is instrumented).
//
//===----------------------------------------------------------------------===//

#include "ModelHandle.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

using namespace recq::testing;

namespace {

/// A test model loaded twice: on one thread and on two (set once here; a
/// pool started per input would cost more than the input).
struct Model {
  std::unique_ptr<ModelLibrary> api;
  recq_model *model = nullptr, *twoThreads = nullptr;
  std::vector<InputDesc> desc;
};
// Reachable until the process ends (LeakSanitizer would report the loaded
// models after a destructor cleared them).
std::vector<Model> &models = *new std::vector<Model>;

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  for (const char *name : {"interaction", "bag_last", "bag_weighted",
                           "stacked", "fixed", "interaction_weights"}) {
    Model m;
    std::string path = std::string(RECQ_TEST_MODELS_DIR "/") + name + ".so";
    m.api = std::make_unique<ModelLibrary>(path);
    recq_status st;
    if (*m.api) {
      m.model = m.api->load(nullptr, &st);
      m.twoThreads = m.api->load(nullptr, &st);
    }
    if (!m.model || !m.twoThreads) {
      std::fprintf(stderr, "recq-run-fuzzer: cannot load %s: %s\n",
                   path.c_str(), *m.api ? st.message : m.api->error.c_str());
      std::abort();
    }
    m.api->setThreads(m.model, 1);
    m.api->setThreads(m.twoThreads, 2);
    m.desc = describeInputs(*m.api, m.model);
    models.push_back(std::move(m));
  }
  return 0;
}

static int64_t anyValue(FuzzedDataProvider &in) {
  switch (in.ConsumeIntegralInRange(0, 3)) {
  case 0:
    return in.PickValueInArray<int64_t>(
        {-1, 0, 1, 2, 9, 10, 11, 12, std::numeric_limits<int64_t>::max(),
         std::numeric_limits<int64_t>::min(), std::numeric_limits<int32_t>::max(),
         std::numeric_limits<int32_t>::min()});
  case 1:
    return in.ConsumeIntegralInRange<int64_t>(-64, 64);
  default:
    return in.ConsumeIntegral<int64_t>();
  }
}

/// Makes input i's buffer hold what its shape claims: resized (new elements
/// from `in`), or NULL when the claim is too large to hold.
static void fitBuffer(Batch &b, const InputDesc &d, size_t i,
                      FuzzedDataProvider &in) {
  int64_t count = 1;
  bool huge = false;
  for (int64_t dim : b.shapes[i]) {
    if (dim < 0)
      return; // the runtime refuses a negative dimension before reading
    if (__builtin_mul_overflow(count, dim, &count) || count > (1 << 20))
      huge = true;
  }
  if (huge) {
    b.data[i].clear();
    return;
  }
  size_t old = b.data[i].size();
  b.data[i].resize(count * elementBytes(d.dtype));
  for (size_t k = old; k < b.data[i].size(); ++k)
    b.data[i][k] = static_cast<char>(in.ConsumeIntegral<uint8_t>());
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  Model &m = models[in.ConsumeIntegralInRange<size_t>(0, models.size() - 1)];
  int64_t batch = in.ConsumeIntegralInRange<int64_t>(0, 300);
  int64_t maxLength = in.ConsumeIntegralInRange<int64_t>(0, 6);
  recq_model *model = in.ConsumeBool() ? m.twoThreads : m.model;
  Batch b = makeBatch(*m.api, model, m.desc, batch, maxLength, [&](uint64_t n) {
    return n ? in.ConsumeIntegralInRange<uint64_t>(0, n - 1) : 0;
  });
  size_t n = m.desc.size();
  std::vector<bool> nullShape(n, false);
  int64_t outCapacity = -1;
  for (int edits = in.ConsumeIntegralInRange(0, 8); edits > 0; --edits) {
    size_t i = in.ConsumeIntegralInRange<size_t>(0, n - 1);
    const InputDesc &d = m.desc[i];
    int64_t count = b.data[i].size() / elementBytes(d.dtype);
    switch (in.ConsumeIntegralInRange(0, 5)) {
    case 0: // an element set to any value
      if (count == 0)
        break;
      if (d.dtype == RECQ_DTYPE_F32)
        b.as<float>(i)[in.ConsumeIntegralInRange<int64_t>(0, count - 1)] =
            in.PickValueInArray<float>(
                {std::numeric_limits<float>::quiet_NaN(),
                 std::numeric_limits<float>::infinity(),
                 -std::numeric_limits<float>::infinity(), 1e38f, -0.0f,
                 std::numeric_limits<float>::denorm_min()});
      else
        setInt(b, d, i, in.ConsumeIntegralInRange<int64_t>(0, count - 1),
               anyValue(in));
      break;
    case 1: { // a dimension changed
      if (b.shapes[i].empty())
        break;
      size_t r = in.ConsumeIntegralInRange<size_t>(0, b.shapes[i].size() - 1);
      b.shapes[i][r] = in.ConsumeBool()
                           ? in.ConsumeIntegralInRange<int64_t>(-2, 400)
                           : anyValue(in);
      fitBuffer(b, d, i, in);
      break;
    }
    case 2: // a NULL input
      b.data[i].clear();
      break;
    case 3:
      nullShape[i] = true;
      break;
    case 4:
      outCapacity = in.ConsumeIntegralInRange<int64_t>(0, 2 * batch + 4);
      break;
    default: // an element of an integer input off by one
      if (count > 0 && d.dtype != RECQ_DTYPE_F32) {
        int64_t k = in.ConsumeIntegralInRange<int64_t>(0, count - 1);
        int64_t v = d.dtype == RECQ_DTYPE_I64 ? b.as<int64_t>(i)[k]
                                              : b.as<int32_t>(i)[k];
        // Wrapping, as an off-by-one of INT64_MAX is INT64_MIN.
        uint64_t u = static_cast<uint64_t>(v);
        setInt(b, d, i, k,
               static_cast<int64_t>(in.ConsumeBool() ? u + 1 : u - 1));
      }
      break;
    }
  }
  b.finish();
  for (size_t i = 0; i < n; ++i)
    if (nullShape[i])
      b.shapePtrs[i] = nullptr;
  int64_t need = m.api->outputSize(model, b.shapePtrs.data());
  if (outCapacity < 0)
    outCapacity = need > 0 && need < (1 << 22) ? need : 1;
  // Exactly the capacity claimed, so a write past it is a report.
  std::unique_ptr<float[]> out(new float[outCapacity ? outCapacity : 1]);
  int64_t shape[8];
  recq_status st;
  std::memset(&st, 0x5a, sizeof st);
  int code = m.api->run(model, b.inputs.data(), b.shapePtrs.data(), out.get(),
                        outCapacity, shape, &st);
  if (code < RECQ_OK || code > RECQ_ERR_MEMORY || code != st.code ||
      !std::memchr(st.message, 0, sizeof st.message) || !st.message[0])
    std::abort(); // every call ends in a status and a message
  return 0;
}
