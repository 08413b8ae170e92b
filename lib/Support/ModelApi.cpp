//===- ModelApi.cpp - A model.so opened with dlopen -----------------------===//

#include "recq/Support/ModelApi.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"

llvm::Expected<std::unique_ptr<recq::LoadedModel>>
recq::LoadedModel::open(llvm::StringRef path, llvm::StringRef target) {
  std::unique_ptr<LoadedModel> m(new LoadedModel);
  llvm::SmallString<256> absolute(path);
  llvm::sys::fs::make_absolute(absolute);
  m->lib = dlopen(absolute.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->lib)
    return llvm::createStringError(llvm::Twine("cannot load ") + path + ": " +
                                   dlerror());
  if (const char *missing = lookupModelApi(m->lib, m->api)) {
    // A library with part of the API is a model from another recq.
    if (!m->api.load)
      return llvm::createStringError(path +
                                     ": not a recq model (no recq_model_load)");
    return llvm::createStringError(
        path + ": a model compiled by another version of recq (it has no " +
        missing + "); compile it again with this recq-compile");
  }
  recq_status st;
  std::string targetName = target.str();
  recq_load_options options = {nullptr, targetName.c_str()};
  m->model = m->api.loadWith(&options, &st);
  if (!m->model)
    return llvm::createStringError(path + ": " + st.message);
  return std::move(m);
}

recq::LoadedModel::~LoadedModel() {
  if (model)
    api.free(model);
  if (lib)
    dlclose(lib);
}
