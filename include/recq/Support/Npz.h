//===- Npz.h - numpy .npz archives -------------------------------*- C++ -*-===//
//
// Reads and writes the tensor exchange format of recq: numpy's .npz (a zip
// of .npy files, stored or deflated, as numpy.savez and savez_compressed
// write them). Little-endian f32, f64, i64, i32, bool and u8 arrays in C
// order; libzip does the zip part.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_SUPPORT_NPZ_H
#define RECQ_SUPPORT_NPZ_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace recq {

struct NpyArray {
  std::string dtype; // numpy descr without byte order: "f4", "i8", ...
  std::vector<int64_t> shape;
  std::vector<char> data; // C order, little endian

  int64_t numElements() const;
  size_t elementSize() const;
  /// A copy converted to f32 / i64 (from any numeric dtype here).
  std::vector<float> asF32() const;
  std::vector<int64_t> asI64() const;
};

using Npz = std::map<std::string, NpyArray>;

/// Reads every array of the .npz at `path`.
llvm::Expected<Npz> readNpz(llvm::StringRef path);
/// Writes `arrays` as an uncompressed .npz (numpy.savez's format).
llvm::Error writeNpz(llvm::StringRef path, const Npz &arrays);

} // namespace recq

#endif // RECQ_SUPPORT_NPZ_H
