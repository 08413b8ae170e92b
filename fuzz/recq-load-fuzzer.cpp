//===- recq-load-fuzzer.cpp - recq_model_load on hostile weights files ----===//
//
// A model whose tables live in model.weights (int8 rows, test-models/
// interaction_weights.so) is loaded with each input as its weights file:
// the load must fail with a message, or succeed and then run a valid
// batch (whatever the tables' bytes hold) without reading outside them.
//
//===----------------------------------------------------------------------===//

#include "MemFile.h"
#include "ModelHandle.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

using namespace recq::testing;

namespace {
// Open until the process ends (no dlclose before LeakSanitizer looks).
ModelLibrary *api = nullptr;
} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  // One thread: a load then starts no pool (which would cost more than
  // everything else an input does).
  setenv("RECQ_NUM_THREADS", "1", 1);
  api = new ModelLibrary(RECQ_TEST_MODELS_DIR "/interaction_weights.so");
  if (!*api) {
    std::fprintf(stderr, "recq-load-fuzzer: %s\n", api->error.c_str());
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static recq::fuzz::MemFile file;
  recq_status st;
  std::memset(&st, 0x5a, sizeof st); // the runtime must write it
  recq_model *m = api->load(file.write(data, size).c_str(), &st);
  if (!m) {
    if (st.code == RECQ_OK || !std::memchr(st.message, 0, sizeof st.message) ||
        !st.message[0])
      std::abort(); // a failed load says why
    return 0;
  }
  std::vector<InputDesc> desc = describeInputs(*api, m);
  std::mt19937_64 rng(size);
  Batch b = makeBatch(*api, m, desc, 1 + size % 40, 4,
                      [&](uint64_t n) { return n ? rng() % n : 0; });
  std::vector<float> out(b.batch);
  int64_t shape[8];
  if (api->run(m, b.inputs.data(), b.shapePtrs.data(), out.data(), out.size(),
               shape, &st) != RECQ_OK)
    std::abort(); // valid inputs run on any weights
  api->free(m);
  return 0;
}
