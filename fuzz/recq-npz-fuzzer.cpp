//===- recq-npz-fuzzer.cpp - libFuzzer target for the .npz reader ---------===//
//
// Every input is read as an .npz file (recq-run's inputs, calibration and
// evaluation sets): it must give arrays whose data holds exactly their
// shape's elements, or an llvm::Error.
//
//===----------------------------------------------------------------------===//

#include "MemFile.h"

#include "recq/Support/Npz.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static recq::fuzz::MemFile file;
  auto arrays = recq::readNpz(file.write(data, size));
  if (!arrays) {
    llvm::consumeError(arrays.takeError());
    return 0;
  }
  for (const auto &[name, array] : *arrays) {
    if (static_cast<size_t>(array.numElements()) * array.elementSize() !=
        array.data.size())
      std::abort(); // a reader bug: the data does not match the shape
    (void)array.asF32();
    (void)array.asI64();
  }
  return 0;
}
