//===- ModelRunner.cpp - Compile a module variant, load it, run it --------===//

#include "ModelRunner.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Runtime/recq_abi.h"
#include "recq/Target/Codegen.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>

using namespace mlir;
using llvm::Error;
using llvm::Expected;

Error recq::quant::returnSideBySide(ModuleOp module, ArrayRef<Value> values,
                                    StringRef name) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return llvm::createStringError("the module has no @main");
  if (values.empty())
    return llvm::createStringError("nothing to return");
  int64_t total = 0;
  for (Value v : values) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || type.getRank() != 2 || type.isDynamicDim(1) ||
        !type.getElementType().isF32())
      return llvm::createStringError(
          "a value to return is not a [batch, width] f32 tensor");
    total += type.getDimSize(1);
  }
  auto ret = cast<func::ReturnOp>(main.getBody().front().getTerminator());
  OpBuilder b(ret);
  Location loc = ret.getLoc();
  auto firstType = cast<RankedTensorType>(values[0].getType());
  SmallVector<Value> dynamic;
  OpFoldResult batch = b.getIndexAttr(firstType.getDimSize(0));
  if (firstType.isDynamicDim(0)) {
    Value dim = b.create<tensor::DimOp>(loc, values[0], 0);
    dynamic.push_back(dim);
    batch = dim;
  }
  auto type = RankedTensorType::get({firstType.getDimSize(0), total},
                                    b.getF32Type());
  Value all = b.create<tensor::EmptyOp>(loc, type.getShape(), b.getF32Type(),
                                        dynamic);
  int64_t column = 0;
  for (Value v : values) {
    int64_t width = cast<RankedTensorType>(v.getType()).getDimSize(1);
    all = b.create<tensor::InsertSliceOp>(
        loc, v, all,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(column)},
        ArrayRef<OpFoldResult>{batch, b.getIndexAttr(width)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    column += width;
  }
  b.create<func::ReturnOp>(loc, all);
  ret.erase();
  main.setType(b.getFunctionType(main.getArgumentTypes(), {type}));
  main.setAllResultAttrs(ArrayRef<DictionaryAttr>{
      b.getDictionaryAttr(b.getNamedAttr("onnx.name", b.getStringAttr(name)))});
  // What fed only the old outputs (recq's ops are Pure).
  for (bool changed = true; changed;) {
    changed = false;
    SmallVector<Operation *> dead;
    for (Operation &op : main.getBody().front())
      if (isOpTriviallyDead(&op))
        dead.push_back(&op);
    for (Operation *op : llvm::reverse(dead)) {
      op->erase();
      changed = true;
    }
  }
  return Error::success();
}

Expected<recq::quant::CompiledModel>
recq::quant::compileModule(ModuleOp module, StringRef dir, StringRef stem,
                           const CodegenTarget &target,
                           bool allTablesExternal) {
  SmallString<256> so(dir), weights(dir), object(dir);
  llvm::sys::path::append(so, stem + ".so");
  llvm::sys::path::append(weights, stem + ".weights");
  llvm::sys::path::append(object, stem + ".o");
  auto moved = recq::externalizeWeights(module, 1 << 20, allTablesExternal,
                                        weights);
  if (!moved)
    return moved.takeError();
  // Each distinct table in program order (recq-fuse's batching keeps it),
  // whether one bag or an embedding_bags op reads it.
  std::vector<uint64_t> offsets;
  auto main = module.lookupSymbol<func::FuncOp>("main");
  SmallVector<Value> tables;
  main.walk([&](Operation *op) {
    if (auto bag = dyn_cast<recq::EmbeddingBagOp>(op))
      tables.push_back(bag.getTable());
    else if (auto bags = dyn_cast<recq::EmbeddingBagsOp>(op))
      llvm::append_range(tables, bags.getTables());
  });
  llvm::SmallPtrSet<void *, 16> seen;
  for (Value table : tables) {
    if (!seen.insert(table.getAsOpaquePointer()).second)
      continue;
    uint64_t offset = ~uint64_t(0);
    if (auto arg = dyn_cast<BlockArgument>(table))
      if (auto info = main.getArgAttrOfType<DictionaryAttr>(arg.getArgNumber(),
                                                            "recq.weight"))
        offset = info.getAs<IntegerAttr>("offset").getInt();
    offsets.push_back(offset);
  }
  auto description = recq::describeModelAsC(module, target);
  if (!description)
    return description.takeError();
  // Compiled by cc while the model's code is generated.
  auto descriptionObject = recq::DescriptionObject::start(*description);
  if (!descriptionObject)
    return descriptionObject.takeError();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(object, ec);
    if (ec)
      return llvm::createStringError("cannot write " + object + ": " +
                                     ec.message());
    if (Error e = recq::compileToObject(module, target, os))
      return std::move(e);
  }
  if (Error e = recq::linkSharedLibrary(object, **descriptionObject, so))
    return std::move(e);
  llvm::sys::fs::remove(object);
  return CompiledModel{std::string(so), *moved ? std::string(weights) : "",
                       std::move(offsets)};
}

Expected<std::unique_ptr<recq::quant::ModelRunner>>
recq::quant::ModelRunner::open(StringRef so) {
  std::unique_ptr<ModelRunner> r(new ModelRunner);
  auto loaded = LoadedModel::open(so);
  if (!loaded)
    return loaded.takeError();
  r->loaded = std::move(*loaded);
  return std::move(r);
}

Expected<std::unique_ptr<recq::quant::ModelRunner>>
recq::quant::ModelRunner::create(StringRef so, const Npz &npz,
                                 StringRef npzPath) {
  auto opened = open(so);
  if (!opened)
    return opened.takeError();
  std::unique_ptr<ModelRunner> r = std::move(*opened);
  const ModelApi &api = r->loaded->api;
  if (Error e = readModelInputs(api, r->loaded->model, npz, npzPath, r->inputs,
                                r->tables))
    return std::move(e);
  for (auto [i, in] : llvm::enumerate(r->inputs)) {
    int dtype, rank;
    int64_t shape[8];
    api.inputInfo(r->loaded->model, int(i), &dtype, &rank, shape);
    if (static_cast<int>(in.shape.size()) != rank)
      return llvm::createStringError(npzPath + ": '" + in.name + "' has rank " +
                                     llvm::Twine(in.shape.size()) +
                                     ", the model takes " + llvm::Twine(rank));
  }
  return std::move(r);
}

Expected<std::unique_ptr<recq::quant::ModelRunner>>
recq::quant::ModelRunner::variant(StringRef so) const {
  auto opened = open(so);
  if (!opened)
    return opened.takeError();
  std::unique_ptr<ModelRunner> r = std::move(*opened);
  const ModelApi &api = r->loaded->api;
  int count = api.numInputs(r->loaded->model);
  if (count != int(inputs.size()))
    return llvm::createStringError(
        so + ": takes " + llvm::Twine(count) + " inputs, its model " +
        llvm::Twine(inputs.size()) + " (a recq bug)");
  for (int i = 0; i < count; ++i)
    if (const char *name = api.inputName(r->loaded->model, i);
        !name || inputs[i].name != name)
      return llvm::createStringError(so + ": input " + llvm::Twine(i) +
                                     " is not '" + inputs[i].name +
                                     "' (a recq bug)");
  r->inputs = inputs;
  r->tables = tables;
  return std::move(r);
}

llvm::Error recq::quant::ModelRunner::setRowInput(StringRef name,
                                                ArrayRef<float> row) {
  auto it = llvm::find_if(
      inputs, [&](const SampleArray &in) { return in.name == name; });
  if (it == inputs.end() || it->dtype != RECQ_DTYPE_F32)
    return llvm::createStringError("the model has no f32 input '" + name +
                                   "' (a recq bug)");
  // The samples the other inputs hold: this one, shapeless while they are
  // counted, does not count.
  it->shape.clear();
  int64_t n = countSamples(inputs, tables);
  if (n < 0)
    return llvm::createStringError("cannot count the samples of the model's "
                                   "inputs (a recq bug)");
  it->shape = {n, static_cast<int64_t>(row.size())};
  it->f32.clear();
  it->f32.reserve(n * row.size());
  for (int64_t i = 0; i < n; ++i)
    it->f32.insert(it->f32.end(), row.begin(), row.end());
  return Error::success();
}

std::vector<double> recq::quant::ModelRunner::lookupsPerSample() const {
  std::vector<double> lookups;
  double n = std::max<int64_t>(samples(), 1);
  for (const TableBinding &t : tables) {
    double count = t.indices >= 0 ? double(inputs[t.indices].i64.size()) : 0;
    // A row of a stacked [tables, samples, L] input: one table's share.
    if (t.indicesRow >= 0 && !inputs[t.indices].shape.empty() &&
        inputs[t.indices].shape[0] > 0)
      count /= double(inputs[t.indices].shape[0]);
    lookups.push_back(count / n);
  }
  return lookups;
}

bool recq::quant::ModelRunner::cuttable() const {
  if (samples() < 2)
    return false;
  auto cut = sliceSamples(inputs, tables, 0, 1);
  if (!cut) {
    llvm::consumeError(cut.takeError());
    return false;
  }
  return true;
}


/// Runs `model` once on `bound` into `out` (sized here).
static Error runBound(const recq::ModelApi &api, recq_model *model,
                      const recq::BoundInputs &bound,
                      std::vector<float> &out) {
  int64_t size = api.outputSize(model, bound.shapes.data());
  if (size < 0)
    return llvm::createStringError("bad input shapes for the model");
  out.resize(std::max<int64_t>(size, 1));
  int64_t outShape[8];
  recq_status st;
  if (api.run(model, bound.data.data(), bound.shapes.data(), out.data(),
              out.size(), outShape, &st) != RECQ_OK)
    return llvm::createStringError(st.message);
  out.resize(size);
  return Error::success();
}

Expected<std::vector<float>> recq::quant::ModelRunner::run(int64_t begin,
                                                           int64_t end) {
  std::vector<SampleArray> cut;
  const std::vector<SampleArray> *use = &inputs;
  if (begin != 0 || end != samples()) {
    auto sliced = sliceSamples(inputs, tables, begin, end);
    if (!sliced)
      return sliced.takeError();
    cut = std::move(*sliced);
    use = &cut;
  }
  std::vector<float> out;
  if (Error e = runBound(loaded->api, loaded->model, BoundInputs(*use), out))
    return std::move(e);
  return out;
}

Error recq::quant::ModelRunner::repeat(
    int64_t batch, int repeats,
    llvm::function_ref<void(int, double)> afterRun) {
  batch = std::min(batch, samples());
  auto sliced = sliceSamples(inputs, tables, 0, batch);
  if (!sliced)
    return sliced.takeError();
  BoundInputs bound(*sliced);
  std::vector<float> out;
  for (int i = 0; i <= std::max(repeats, 1); ++i) {
    auto start = std::chrono::steady_clock::now();
    if (Error e = runBound(loaded->api, loaded->model, bound, out))
      return e;
    afterRun(i, std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                              start)
                    .count());
  }
  return Error::success();
}

Expected<double> recq::quant::ModelRunner::time(int64_t batch, int repeats) {
  double best = INFINITY;
  if (Error e = repeat(batch, repeats, [&](int i, double seconds) {
        if (i > 0) // the first run warms caches and pages
          best = std::min(best, seconds);
      }))
    return std::move(e);
  return best;
}

Expected<std::vector<recq::quant::ModelRunner::OpTime>>
recq::quant::ModelRunner::profile(int64_t batch, int repeats) {
  const ModelApi &api = loaded->api;
  int ops = api.profileSize(loaded->model);
  if (ops <= 0)
    return llvm::createStringError("the model has no per-op profile (a recq "
                                   "bug: compiled without it)");
  repeats = std::max(repeats, 1);
  if (Error e = repeat(batch, repeats, [&](int i, double) {
        if (i == 0) // the warm-up run is not counted
          api.profileReset(loaded->model);
      }))
    return std::move(e);
  std::vector<OpTime> times;
  for (int i = 0; i < ops; ++i) {
    uint64_t ns = 0, calls = 0;
    const char *name = api.profileOp(loaded->model, i, &ns, &calls);
    times.push_back({name ? name : "", double(ns) * 1e-9 / repeats});
  }
  return times;
}
