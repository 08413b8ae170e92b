//===- CustomMutator.cpp - libFuzzer's mutator for ONNX fuzz targets ------===//
//
// Linked into the structure-aware targets: three mutations in four change
// the parsed model (OnnxMutator), the fourth is libFuzzer's own on bytes,
// so inputs that no longer parse are explored too.
//
//===----------------------------------------------------------------------===//

#include "OnnxMutator.h"

#include <cstddef>
#include <cstdint>

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t maxSize);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size,
                                          size_t maxSize, unsigned int seed) {
  if (seed % 4 != 0)
    if (size_t n = recq::fuzz::mutateOnnx(data, size, maxSize, seed))
      return n;
  return LLVMFuzzerMutate(data, size, maxSize);
}
