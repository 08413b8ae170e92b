//===- CompileModule.h - Test helper: a recq module to a loaded model -*- C++ -*-===//
//
// Compiles a module with @main exactly as recq-compile does (description,
// lowering, -O3, object, model.so with the runtime) and loads it with
// dlopen, for tests that run generated code against a reference.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_UNITTESTS_TARGET_COMPILEMODULE_H
#define RECQ_UNITTESTS_TARGET_COMPILEMODULE_H

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Runtime/recq.h"
#include "recq/Runtime/recq_cpu.h"
#include "recq/Target/Codegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <memory>

#include <string>
#include <vector>

namespace recq::testing {

/// A context with every upstream dialect and extension registered (the
/// lowering needs them) and recq, func and arith loaded (to build @main).
inline std::unique_ptr<mlir::MLIRContext> makeContext() {
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  auto context = std::make_unique<mlir::MLIRContext>(registry);
  context->loadDialect<recq::RecqDialect, mlir::func::FuncDialect,
                       mlir::arith::ArithDialect>();
  return context;
}

/// The targets this CPU runs, among generic, avx2 and avx512.
inline std::vector<std::string> runnableTargets() {
  std::vector<std::string> out;
  for (const char *name : {"generic", "avx2", "avx512"}) {
    uint32_t mask = 0;
    if (recq_target_features(name, &mask) == 0 &&
        recq_cpu_missing(mask, nullptr, 0) == 0)
      out.push_back(name);
  }
  return out;
}

/// A compiled, loaded model; unloads and deletes its files when destroyed.
class LoadedModel {
public:
  /// With `externalTables`, every table moves to model.weights (mmapped
  /// at load) as recq-compile does with large ones.
  LoadedModel(mlir::ModuleOp module, const CodegenTarget &target,
              bool externalTables = false) {
    llvm::sys::fs::createTemporaryFile("recq-test", "so", so);
    if (externalTables) {
      weights = llvm::StringRef(so).drop_back(3).str() + ".weights";
      auto moved = externalizeWeights(module, 0, /*all=*/true, weights);
      if (!moved) {
        ADD_FAILURE() << llvm::toString(moved.takeError());
        return;
      }
      if (*moved == 0) {
        ADD_FAILURE() << "no table moved to " << weights;
        return;
      }
    }
    auto description = describeModelAsC(module, target);
    if (!description) {
      ADD_FAILURE() << llvm::toString(description.takeError());
      return;
    }
    llvm::SmallString<128> obj;
    llvm::sys::fs::createTemporaryFile("recq-test", "o", obj);
    {
      std::error_code ec;
      llvm::raw_fd_ostream os(obj, ec);
      if (llvm::Error e = compileToObject(module, target, os)) {
        ADD_FAILURE() << llvm::toString(std::move(e));
        return;
      }
    }
    llvm::Error linked = linkSharedLibrary(obj, *description, so);
    llvm::sys::fs::remove(obj);
    if (linked) {
      ADD_FAILURE() << llvm::toString(std::move(linked));
      return;
    }
    lib = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      ADD_FAILURE() << dlerror();
      return;
    }
    run = reinterpret_cast<decltype(&recq_model_run)>(
        dlsym(lib, "recq_model_run"));
    release = reinterpret_cast<decltype(&recq_model_free)>(
        dlsym(lib, "recq_model_free"));
    load = reinterpret_cast<decltype(&recq_model_load)>(
        dlsym(lib, "recq_model_load"));
    setThreads = reinterpret_cast<decltype(&recq_model_set_threads)>(
        dlsym(lib, "recq_model_set_threads"));
    weightsInfo = reinterpret_cast<decltype(&recq_model_weights_info)>(
        dlsym(lib, "recq_model_weights_info"));
    reload();
  }
  /// Frees the model and loads it again (the runtime reads its
  /// environment, e.g. RECQ_GUARD_WEIGHTS, at load).
  void reload() {
    std::string error = tryReload();
    if (!model)
      ADD_FAILURE() << error;
  }
  /// reload() that leaves a failed load to the caller: its message, or
  /// empty when it loaded.
  std::string tryReload() {
    unload();
    recq_status st;
    model = load(nullptr, &st);
    return model ? std::string() : std::string(st.message);
  }
  /// Frees the model (its weights unmapped); tryReload() loads it again.
  void unload() {
    if (model)
      release(model);
    model = nullptr;
  }
  /// model.weights, or empty without external tables.
  const std::string &weightsPath() const { return weights; }
  ~LoadedModel() {
    if (model)
      release(model);
    if (lib)
      dlclose(lib);
    if (!so.empty())
      llvm::sys::fs::remove(so);
    if (!weights.empty())
      llvm::sys::fs::remove(weights);
  }
  explicit operator bool() const { return model != nullptr; }

  /// Runs the model into `out` (its shape to `outShape`, when given); a
  /// failure carries the runtime's message.
  ::testing::AssertionResult runs(const void *const *inputs,
                                  const int64_t *const *shapes,
                                  std::vector<float> &out,
                                  int64_t *outShape = nullptr) {
    recq_status st;
    if (run(model, inputs, shapes, out.data(), out.size(), outShape, &st) ==
        RECQ_OK)
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << st.message;
  }

  recq_model *model = nullptr;
  decltype(&recq_model_run) run = nullptr;
  decltype(&recq_model_set_threads) setThreads = nullptr;
  decltype(&recq_model_weights_info) weightsInfo = nullptr;

private:
  llvm::SmallString<128> so;
  std::string weights;
  void *lib = nullptr;
  decltype(&recq_model_free) release = nullptr;
  decltype(&recq_model_load) load = nullptr;
};

} // namespace recq::testing

#endif // RECQ_UNITTESTS_TARGET_COMPILEMODULE_H
