//===- ModelHandle.h - A compiled model.so and batches of inputs for it -*- C++ -*-===//
//
// For the C API tests and the runtime's fuzz targets: opens a model.so
// with dlopen (every C API function by dlsym: each model carries its own
// runtime) and builds a batch of valid inputs for it from its own
// description, with every choice (bag lengths, indices, features) drawn
// from a caller's source, a seeded generator or a fuzzer's bytes.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_UNITTESTS_RUNTIME_MODELHANDLE_H
#define RECQ_UNITTESTS_RUNTIME_MODELHANDLE_H

#include "recq/Runtime/recq_abi.h" // recq_dtype
#include "recq/Support/ModelSymbols.h"

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace recq::testing {

/// A model library opened with dlopen, its C API looked up
/// (recq::ModelApi); `error` says why not when it is unusable.
struct ModelLibrary : recq::ModelApi {
  explicit ModelLibrary(const std::string &path) : recq::ModelApi() {
    lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      error = dlerror();
      return;
    }
    if (const char *missing = recq::lookupModelApi(lib, *this))
      error = std::string("missing ") + missing;
  }
  ~ModelLibrary() {
    if (lib)
      dlclose(lib);
  }
  ModelLibrary(const ModelLibrary &) = delete;
  ModelLibrary &operator=(const ModelLibrary &) = delete;
  explicit operator bool() const { return lib && error.empty(); }

  void *lib = nullptr;
  std::string error;
};

/// What each input of a model is, from its description.
enum class Role { Dense, Indices, Offsets, Weights, Fixed, Other };

/// A model's inputs: dtype, shape (-1: dynamic) and role.
struct InputDesc {
  std::string name;
  int dtype = 0;
  std::vector<int64_t> shape;
  Role role = Role::Other;
  int table = -1; // the (first) table reading it
};

inline std::vector<InputDesc> describeInputs(const ModelLibrary &api,
                                             const recq_model *m) {
  std::vector<InputDesc> inputs(api.numInputs(m));
  for (int i = 0; i < (int)inputs.size(); ++i) {
    int rank = 0;
    int64_t shape[8];
    api.inputInfo(m, i, &inputs[i].dtype, &rank, shape);
    inputs[i].name = api.inputName(m, i);
    inputs[i].shape.assign(shape, shape + rank);
    if (inputs[i].dtype == RECQ_DTYPE_F32)
      inputs[i].role = Role::Dense;
  }
  for (int t = 0; t < api.numTables(m); ++t) {
    int indices, offsets, last;
    int64_t row;
    api.tableInfo(m, t, &indices, &offsets, &row, &last);
    auto mark = [&](int i, Role role) {
      if (inputs[i].table < 0)
        inputs[i].table = t;
      inputs[i].role = role;
    };
    mark(indices, offsets >= 0 ? Role::Indices : Role::Fixed);
    if (offsets >= 0)
      mark(offsets, Role::Offsets);
  }
  // Per-sample weights: f32 inputs shaped like indices (no table info
  // names them; a dense input has rank 2 and a static width).
  for (InputDesc &in : inputs)
    if (in.role == Role::Dense && in.shape.size() == 1)
      in.role = Role::Weights;
  return inputs;
}

/// One call's inputs: a buffer per input holding exactly its shape's
/// elements, and the pointer arrays recq_model_run takes.
struct Batch {
  std::vector<std::vector<char>> data;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<const void *> inputs;
  std::vector<const int64_t *> shapePtrs;
  int64_t batch = 0;

  /// Points `inputs` and `shapePtrs` at the buffers (empty: NULL).
  void finish() {
    inputs.resize(data.size());
    shapePtrs.resize(shapes.size());
    for (size_t i = 0; i < data.size(); ++i) {
      inputs[i] = data[i].empty() ? nullptr : data[i].data();
      shapePtrs[i] = shapes[i].data();
    }
  }
  int64_t elements(size_t i) const {
    int64_t n = 1;
    for (int64_t d : shapes[i])
      n *= d;
    return n;
  }
  template <typename T> T *as(size_t i) {
    return reinterpret_cast<T *>(data[i].data());
  }
};

inline size_t elementBytes(int dtype) { return dtype == RECQ_DTYPE_I64 ? 8 : 4; }

/// Stores integer `v` as element k of input i (i32 or i64).
inline void setInt(Batch &b, const InputDesc &in, size_t i, int64_t k,
                   int64_t v) {
  if (in.dtype == RECQ_DTYPE_I64)
    b.as<int64_t>(i)[k] = v;
  else
    b.as<int32_t>(i)[k] = static_cast<int32_t>(v);
}

/// A valid batch of `batch` samples: bags of 0..maxLength indices (a
/// fixed-length input's free bag length is 1..maxLength), every index in
/// its table, features in [-2, 2). `pick(n)` draws a value in [0, n).
inline Batch makeBatch(const ModelLibrary &api, const recq_model *m,
                       const std::vector<InputDesc> &desc, int64_t batch,
                       int64_t maxLength,
                       const std::function<uint64_t(uint64_t)> &pick) {
  Batch b;
  b.batch = batch;
  size_t n = desc.size();
  b.data.resize(n);
  b.shapes.resize(n);
  // Shapes first: offsets rows and fixed inputs from the batch.
  for (size_t i = 0; i < n; ++i) {
    const InputDesc &in = desc[i];
    b.shapes[i] = in.shape;
    if (in.role == Role::Dense || in.role == Role::Fixed) {
      int first = 0;
      if (in.role == Role::Fixed && api.tableIndicesRow(m, in.table) >= 0)
        first = 1; // [T, B, L]
      for (size_t r = 0; r < in.shape.size(); ++r)
        if (in.shape[r] < 0)
          b.shapes[i][r] = (int)r == first ? batch : 1 + pick(maxLength);
    } else if (in.role == Role::Offsets) {
      int t = in.table, indices, offsets, last;
      int64_t row;
      api.tableInfo(m, t, &indices, &offsets, &row, &last);
      b.shapes[i].back() = batch + last;
      if (b.shapes[i].size() == 2 && b.shapes[i][0] < 0)
        b.shapes[i][0] = 1;
    }
  }
  // Offsets rows and the lengths of the indices they cut.
  std::vector<int64_t> indexCount(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (desc[i].role != Role::Offsets)
      continue;
    b.data[i].resize(b.elements(i) * elementBytes(desc[i].dtype));
    for (int t = 0; t < api.numTables(m); ++t) {
      int indices, offsets, last;
      int64_t row;
      api.tableInfo(m, t, &indices, &offsets, &row, &last);
      if (offsets != (int)i)
        continue;
      int64_t cols = b.shapes[i].back(), base = row >= 0 ? row * cols : 0;
      int64_t at = 0;
      for (int64_t s = 0; s < batch; ++s) {
        setInt(b, desc[i], i, base + s, at);
        at += pick(maxLength + 1);
      }
      if (last)
        setInt(b, desc[i], i, base + batch, at);
      indexCount[indices] = at;
    }
    // Rows no table reads (a [T, B] input wider than its tables) stay 0.
  }
  for (size_t i = 0; i < n; ++i) {
    const InputDesc &in = desc[i];
    if (in.role == Role::Indices) {
      b.shapes[i] = {indexCount[i]};
    } else if (in.role == Role::Weights) {
      // Shaped like the indices of the table whose offsets cover it: the
      // indices input named before it with the same table.
      for (size_t j = 0; j < n; ++j)
        if (desc[j].role == Role::Indices && desc[j].table == in.table)
          b.shapes[i] = {indexCount[j]};
      if (in.table < 0)
        for (size_t j = 0; j < n; ++j)
          if (desc[j].role == Role::Indices)
            b.shapes[i] = {indexCount[j]};
    }
    if (in.role == Role::Offsets)
      continue;
    b.data[i].resize(b.elements(i) * elementBytes(in.dtype));
    for (int64_t k = 0; k < b.elements(i); ++k) {
      if (in.dtype == RECQ_DTYPE_F32) {
        b.as<float>(i)[k] = -2.0f + 4.0f * (pick(1 << 16) / 65536.0f);
        continue;
      }
      int t = in.table;
      if (in.role == Role::Fixed && api.tableIndicesRow(m, t) >= 0) {
        // Row r of a stacked input belongs to the table reading row r.
        int64_t per = b.elements(i) / b.shapes[i][0];
        for (int u = 0; u < api.numTables(m); ++u) {
          int indices;
          api.tableInfo(m, u, &indices, nullptr, nullptr, nullptr);
          if (indices == (int)i && api.tableIndicesRow(m, u) == k / per)
            t = u;
        }
      }
      setInt(b, in, i, k, pick(api.tableRows(m, t)));
    }
  }
  b.finish();
  return b;
}

} // namespace recq::testing

#endif // RECQ_UNITTESTS_RUNTIME_MODELHANDLE_H
