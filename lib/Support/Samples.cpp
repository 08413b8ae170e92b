//===- Samples.cpp - Cut a model's inputs into ranges of samples ----------===//

#include "recq/Support/Samples.h"

#include "recq/Runtime/recq_abi.h"

#include "llvm/ADT/Twine.h"

using namespace recq;


int64_t recq::countSamples(const std::vector<SampleArray> &inputs,
                           const std::vector<TableBinding> &tables) {
  for (const SampleArray &in : inputs)
    if (in.dtype == 1 && in.shape.size() == 2)
      return in.shape[0];
  for (const TableBinding &t : tables) {
    if (t.offsets >= 0 || t.indices < 0)
      continue;
    const std::vector<int64_t> &shape = inputs[t.indices].shape;
    if (t.indicesRow >= 0 && shape.size() >= 2)
      return shape[1]; // [tables, samples(, L)]
    if (t.indicesRow < 0 && shape.size() == 2)
      return shape[0];
  }
  return -1;
}

llvm::Expected<std::vector<SampleArray>>
recq::sliceSamples(const std::vector<SampleArray> &inputs,
                   const std::vector<TableBinding> &tables, int64_t begin,
                   int64_t end) {
  int64_t samples = countSamples(inputs, tables);
  if (samples < 0 || begin < 0 || end > samples || begin > end)
    return llvm::createStringError("cannot cut samples [" + llvm::Twine(begin) + ", " +
                     llvm::Twine(end) + ") of " + llvm::Twine(samples));
  int64_t n = end - begin;
  std::vector<SampleArray> out(inputs.size());
  std::vector<bool> done(inputs.size(), false);
  // Samples [begin, end) of input i along dimension `axis`: 0 for
  // [samples, ...], 1 for a stacked [T, samples, ...] input (every row t).
  auto take = [&](size_t i, size_t axis) {
    const SampleArray &in = inputs[i];
    SampleArray &o = out[i];
    o.name = in.name, o.dtype = in.dtype, o.shape = in.shape;
    int64_t outer = 1, width = 1;
    for (size_t d = 0; d < axis; ++d)
      outer *= in.shape[d];
    for (size_t d = axis + 1; d < in.shape.size(); ++d)
      width *= in.shape[d];
    o.shape[axis] = n;
    for (int64_t r = 0; r < outer; ++r) {
      int64_t from = (r * in.shape[axis] + begin) * width;
      if (in.dtype == 1)
        o.f32.insert(o.f32.end(), in.f32.begin() + from,
                     in.f32.begin() + from + n * width);
      else
        o.i64.insert(o.i64.end(), in.i64.begin() + from,
                     in.i64.begin() + from + n * width);
    }
    done[i] = true;
  };

  for (const TableBinding &t : tables) {
    const SampleArray &idx = inputs[t.indices];
    if (t.offsets < 0) { // fixed-length bags: rows of [samples, L]
      if (!done[t.indices]) {
        size_t axis = t.indicesRow >= 0 ? 1 : 0; // stacked: [T, samples, L]
        if (idx.shape.size() <= axis || idx.shape[axis] != samples)
          return llvm::createStringError("input '" + idx.name +
                                         "' does not hold one bag per "
                                         "sample in dimension " +
                                         llvm::Twine(axis));
        take(t.indices, axis);
      }
      continue;
    }
    const SampleArray &off = inputs[t.offsets];
    int64_t cols = off.shape.back();
    int64_t bags = cols - (t.includeLast ? 1 : 0);
    if (bags != samples || idx.shape.size() != 1)
      return llvm::createStringError("input '" + off.name + "' does not hold one bag per "
                       "sample");
    const int64_t *o = off.i64.data() + (t.row >= 0 ? t.row * cols : 0);
    int64_t first = o[begin];
    int64_t last = end < cols ? o[end] : idx.shape[0];
    if (first < 0 || last < first || last > idx.shape[0])
      return llvm::createStringError("input '" + off.name + "' has offsets outside '" +
                       idx.name + "'");
    if (done[t.indices])
      return llvm::createStringError("input '" + idx.name + "' is read by two tables");
    SampleArray &oi = out[t.indices];
    oi.name = idx.name, oi.dtype = idx.dtype, oi.shape = {last - first};
    oi.i64.assign(idx.i64.begin() + first, idx.i64.begin() + last);
    done[t.indices] = true;
    // The offsets (every row of a shared matrix, each rebased on its own).
    if (!done[t.offsets]) {
      SampleArray &oo = out[t.offsets];
      int64_t keep = n + (t.includeLast ? 1 : 0);
      int64_t rows = off.shape.size() == 2 ? off.shape[0] : 1;
      oo.name = off.name, oo.dtype = off.dtype, oo.shape = off.shape;
      oo.shape.back() = keep;
      oo.i64.resize(rows * keep);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < keep; ++j)
          oo.i64[r * keep + j] =
              off.i64[r * cols + begin + j] - off.i64[r * cols + begin];
      done[t.offsets] = true;
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (done[i])
      continue;
    const SampleArray &in = inputs[i];
    if (in.shape.size() != 2 || in.shape[0] != samples || in.dtype != 1)
      return llvm::createStringError("cannot cut input '" + in.name + "' by sample (shape [" +
                       llvm::Twine(in.shape.empty() ? 0 : in.shape[0]) +
                       ", ...])");
    take(i, 0);
  }
  return out;
}

llvm::Error recq::readModelInputs(const ModelApi &api, const recq_model *model,
                                  const Npz &npz, llvm::StringRef npzPath,
                                  std::vector<SampleArray> &inputs,
                                  std::vector<TableBinding> &tables) {
  inputs.assign(api.numInputs(model), SampleArray());
  for (size_t i = 0; i < inputs.size(); ++i) {
    SampleArray &in = inputs[i];
    in.name = api.inputName(model, int(i));
    int rank;
    int64_t shape[8];
    api.inputInfo(model, int(i), &in.dtype, &rank, shape);
    auto it = npz.find(in.name);
    if (it == npz.end())
      return llvm::createStringError(npzPath + " has no array '" + in.name + "'");
    in.shape = it->second.shape;
    bool integers = it->second.dtype[0] == 'i' || it->second.dtype[0] == 'u' ||
                    it->second.dtype[0] == 'b';
    if (in.dtype != RECQ_DTYPE_F32 && !integers)
      return llvm::createStringError(npzPath + ": array '" + in.name +
                                     "' holds " + it->second.dtype +
                                     " values; the model takes integers");
    if (in.dtype == RECQ_DTYPE_F32)
      in.f32 = it->second.asF32();
    else
      in.i64 = it->second.asI64();
  }
  tables.clear();
  for (int t = 0, n = api.numTables(model); t < n; ++t) {
    TableBinding b;
    int last = 0;
    api.tableInfo(model, t, &b.indices, &b.offsets, &b.row, &last);
    b.indicesRow = api.tableIndicesRow(model, t);
    b.includeLast = last != 0;
    tables.push_back(b);
  }
  return llvm::Error::success();
}

recq::BoundInputs::BoundInputs(const std::vector<SampleArray> &inputs)
    : i32(inputs.size()) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const SampleArray &in = inputs[i];
    shapes.push_back(in.shape.data());
    if (in.dtype == RECQ_DTYPE_F32) {
      data.push_back(in.f32.data());
    } else if (in.dtype == RECQ_DTYPE_I64) {
      data.push_back(in.i64.data());
    } else {
      i32[i].assign(in.i64.begin(), in.i64.end());
      data.push_back(i32[i].data());
    }
  }
}
