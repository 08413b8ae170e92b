//===- ModelApi.h - The C API of a model.so opened with dlopen --*- C++ -*-===//
//
// Tools that load a compiled model at run time (recq-run, calibration) open
// it here; its C API's table is recq/Support/ModelSymbols.h.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_SUPPORT_MODELAPI_H
#define RECQ_SUPPORT_MODELAPI_H

#include "recq/Support/ModelSymbols.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>

namespace recq {

/// The C API, looked up in the loaded model.
class LoadedModel {
public:
  /// Opens model.so at `path` and loads its model: the variant `target`
  /// names, or ("") the one the runtime picks (recq_model_load_with).
  static llvm::Expected<std::unique_ptr<LoadedModel>>
  open(llvm::StringRef path, llvm::StringRef target = "");
  ~LoadedModel();
  LoadedModel(const LoadedModel &) = delete;
  LoadedModel &operator=(const LoadedModel &) = delete;

  ModelApi api{};
  recq_model *model = nullptr;

private:
  LoadedModel() = default;
  void *lib = nullptr;
};

} // namespace recq

#endif // RECQ_SUPPORT_MODELAPI_H
