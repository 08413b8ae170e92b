//===- OnnxMutator.h - Structure-aware mutations of ONNX models -*- C++ -*-===//
//
// libFuzzer's byte mutations rarely get past the protobuf parser and the
// ONNX checker. This mutator parses the model, changes one thing a model
// file can get wrong (an op type, a node input, an attribute, a dimension,
// a dtype, an initializer's dims or bytes, including NaN and inf, an
// opset, a node removed or repeated, in the main graph or a Loop body)
// and serializes it again. Debian has no libprotobuf-mutator; this is
// recq's own, over onnx::ModelProto.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_FUZZ_ONNXMUTATOR_H
#define RECQ_FUZZ_ONNXMUTATOR_H

#include <cstddef>
#include <cstdint>

namespace recq::fuzz {

/// Mutates the serialized model in data[0, size) in place (at most
/// `maxSize` bytes) and returns its new size, or 0 when `data` is not a
/// model (the caller then mutates bytes).
size_t mutateOnnx(uint8_t *data, size_t size, size_t maxSize,
                  unsigned seed);

} // namespace recq::fuzz

#endif // RECQ_FUZZ_ONNXMUTATOR_H
