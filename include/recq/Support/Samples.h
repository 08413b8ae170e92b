//===- Samples.h - Cut a model's inputs into ranges of samples --*- C++ -*-===//
//
// A DLRM's inputs are not all [samples, ...]: each table reads bags, whose
// indices are one flat vector delimited by an offsets vector (or a row of a
// [tables, samples] offsets matrix). Taking samples [begin, end) means
// taking those rows of the dense inputs, those bags, the indices they cover,
// and offsets rebased to start at 0. Used to run calibration in chunks.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_SUPPORT_SAMPLES_H
#define RECQ_SUPPORT_SAMPLES_H

#include "recq/Support/ModelApi.h"
#include "recq/Support/Npz.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace recq {

/// One model input: f32 values (dtype 1) or integers (any other dtype,
/// held as i64).
struct SampleArray {
  std::string name;
  int dtype = 1;
  std::vector<int64_t> shape;
  std::vector<float> f32;
  std::vector<int64_t> i64;
};

/// Which inputs one embedding table reads (recq_model_table_info).
struct TableBinding {
  int indices = -1;
  int offsets = -1;   // -1: fixed-length bags, [samples, L] indices
  int64_t row = -1;   // row of a [tables, samples] offsets input; -1: 1-D
  bool includeLast = false;
  int64_t indicesRow = -1; // row of a stacked [tables, samples, L] indices
                           // input (fixed-length bags); -1: its own input
};

/// The pointers recq_model_run takes for `inputs`, in input order (i32
/// inputs converted here); valid while this and `inputs` live.
struct BoundInputs {
  explicit BoundInputs(const std::vector<SampleArray> &inputs);
  std::vector<std::vector<int32_t>> i32;
  std::vector<const void *> data;
  std::vector<const int64_t *> shapes;
};

/// The number of samples: the rows of the first 2-D f32 input, or of the
/// first fixed-length indices input; -1 when there is neither.
int64_t countSamples(const std::vector<SampleArray> &inputs,
                     const std::vector<TableBinding> &tables);

/// Samples [begin, end) of `inputs`. Fails, naming the input, on an input
/// it cannot cut by sample (e.g. per-sample weights, which follow the
/// indices and are not described by the tables).
llvm::Expected<std::vector<SampleArray>>
sliceSamples(const std::vector<SampleArray> &inputs,
             const std::vector<TableBinding> &tables, int64_t begin,
             int64_t end);

/// The arrays of `npz` named as `model`'s inputs, in input order, with the
/// model's dtypes, and which inputs each of its tables reads. Fails naming
/// `npzPath` and the input when an array is missing.
llvm::Error readModelInputs(const ModelApi &api, const recq_model *model,
                            const Npz &npz, llvm::StringRef npzPath,
                            std::vector<SampleArray> &inputs,
                            std::vector<TableBinding> &tables);

} // namespace recq

#endif // RECQ_SUPPORT_SAMPLES_H
