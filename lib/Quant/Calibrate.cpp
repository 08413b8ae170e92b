//===- Calibrate.cpp - Run the fp32 model and record activations ----------===//

#include "recq/Quant/Calibrate.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Runtime/recq.h"
#include "recq/Support/Npz.h"
#include "recq/Target/Codegen.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <dlfcn.h>

#include <chrono>
#include <cmath>

using namespace mlir;
using llvm::Error;
using llvm::Expected;

static Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 message.str());
}

/// Rewrites @main of `module` to return the inputs of its FCs side by side,
/// [batch, sum of K]; returns their names and widths.
static Expected<std::vector<recq::quant::ActivationStats>>
exposeFcInputs(ModuleOp module) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return makeError("the module has no @main");
  SmallVector<recq::FcOp> fcs;
  main.walk([&](recq::FcOp fc) { fcs.push_back(fc); });
  if (fcs.empty())
    return makeError("the model has no fully connected layer to calibrate");

  std::vector<recq::quant::ActivationStats> stats;
  int64_t total = 0;
  for (auto [i, fc] : llvm::enumerate(fcs)) {
    auto type = cast<RankedTensorType>(fc.getInput().getType());
    if (type.isDynamicDim(1))
      return makeError("an FC input has a dynamic width");
    recq::quant::ActivationStats s;
    auto name = dyn_cast<NameLoc>(fc.getLoc());
    s.name = (name ? name.getName().str() : "fc" + std::to_string(i)) +
             ":input";
    s.width = type.getDimSize(1);
    total += s.width;
    stats.push_back(s);
  }

  auto ret = cast<func::ReturnOp>(main.getBody().front().getTerminator());
  OpBuilder b(ret);
  Location loc = ret.getLoc();
  Value first = fcs[0].getInput();
  auto firstType = cast<RankedTensorType>(first.getType());
  SmallVector<Value> dynamic;
  OpFoldResult batch = b.getIndexAttr(firstType.getDimSize(0));
  if (firstType.isDynamicDim(0)) {
    Value dim = b.create<tensor::DimOp>(loc, first, 0);
    dynamic.push_back(dim);
    batch = dim;
  }
  auto type = RankedTensorType::get({firstType.getDimSize(0), total},
                                    b.getF32Type());
  Value all = b.create<tensor::EmptyOp>(loc, type.getShape(), b.getF32Type(),
                                        dynamic);
  int64_t column = 0;
  for (recq::FcOp fc : fcs) {
    int64_t width = cast<RankedTensorType>(fc.getInput().getType()).getDimSize(1);
    all = b.create<tensor::InsertSliceOp>(
        loc, fc.getInput(), all,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(column)},
        ArrayRef<OpFoldResult>{batch, b.getIndexAttr(width)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    column += width;
  }
  b.create<func::ReturnOp>(loc, all);
  ret.erase();
  main.setType(b.getFunctionType(main.getArgumentTypes(), {type}));
  main.setAllResultAttrs(ArrayRef<DictionaryAttr>{b.getDictionaryAttr(
      b.getNamedAttr("onnx.name", b.getStringAttr("calibration")))});
  return stats;
}

/// Compiles `module` (in the LLVM dialect path) to `dir`/calibration.so.
static Expected<std::string> compile(ModuleOp module, StringRef dir,
                                     const recq::CodegenTarget &target) {
  SmallString<256> so(dir), weights(dir), object(dir);
  llvm::sys::path::append(so, "calibration.so");
  llvm::sys::path::append(weights, "calibration.weights");
  llvm::sys::path::append(object, "calibration.o");
  if (auto moved = recq::externalizeWeights(module, 1 << 20, false, weights);
      !moved)
    return moved.takeError();
  auto description = recq::describeModelAsC(module, target);
  if (!description)
    return description.takeError();
  if (Error e = recq::lowerToLLVMDialect(module, target))
    return std::move(e);
  llvm::LLVMContext context;
  auto llvmModule = recq::translateAndOptimize(module, context, target);
  if (!llvmModule)
    return llvmModule.takeError();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(object, ec);
    if (ec)
      return makeError("cannot write " + object + ": " + ec.message());
    if (Error e = recq::emitObject(**llvmModule, target, os))
      return std::move(e);
  }
  if (Error e = recq::linkSharedLibrary(object, *description, so))
    return std::move(e);
  return std::string(so);
}

/// Runs the calibration library on the arrays of `npz`; returns output 0.
static Expected<std::vector<float>> run(StringRef so, const recq::Npz &npz,
                                        StringRef npzPath) {
  void *lib = dlopen(so.str().c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    return makeError(llvm::Twine("cannot load the calibration model: ") +
                     dlerror());
  auto closeLib = llvm::make_scope_exit([&] { dlclose(lib); });
  auto load = reinterpret_cast<decltype(&recq_model_load)>(
      dlsym(lib, "recq_model_load"));
  auto release = reinterpret_cast<decltype(&recq_model_free)>(
      dlsym(lib, "recq_model_free"));
  auto numInputs = reinterpret_cast<decltype(&recq_model_num_inputs)>(
      dlsym(lib, "recq_model_num_inputs"));
  auto inputName = reinterpret_cast<decltype(&recq_model_input_name)>(
      dlsym(lib, "recq_model_input_name"));
  auto inputInfo = reinterpret_cast<decltype(&recq_model_input_info)>(
      dlsym(lib, "recq_model_input_info"));
  auto outputSize = reinterpret_cast<decltype(&recq_model_output_size)>(
      dlsym(lib, "recq_model_output_size"));
  auto runModel = reinterpret_cast<decltype(&recq_model_run)>(
      dlsym(lib, "recq_model_run"));
  recq_status st;
  recq_model *model = load(nullptr, &st);
  if (!model)
    return makeError(llvm::Twine("calibration model: ") + st.message);
  auto freeModel = llvm::make_scope_exit([&] { release(model); });

  int n = numInputs(model);
  std::vector<std::vector<float>> f32(n);
  std::vector<std::vector<int64_t>> i64(n);
  std::vector<std::vector<int32_t>> i32(n);
  std::vector<const void *> data(n);
  std::vector<const int64_t *> shapes(n);
  for (int i = 0; i < n; ++i) {
    const char *name = inputName(model, i);
    auto it = npz.find(name);
    if (it == npz.end())
      return makeError(npzPath + " has no array '" + name + "'");
    int dtype, rank;
    int64_t shape[8];
    inputInfo(model, i, &dtype, &rank, shape);
    if (static_cast<int>(it->second.shape.size()) != rank)
      return makeError(npzPath + ": '" + name + "' has rank " +
                       llvm::Twine(it->second.shape.size()) +
                       ", the model takes " + llvm::Twine(rank));
    shapes[i] = it->second.shape.data();
    if (dtype == 1) {
      f32[i] = it->second.asF32();
      data[i] = f32[i].data();
    } else if (dtype == 2) {
      i64[i] = it->second.asI64();
      data[i] = i64[i].data();
    } else {
      std::vector<int64_t> wide = it->second.asI64();
      i32[i].assign(wide.begin(), wide.end());
      data[i] = i32[i].data();
    }
  }
  int64_t size = outputSize(model, shapes.data());
  if (size < 0)
    return makeError("calibration model: bad input shapes");
  std::vector<float> out(std::max<int64_t>(size, 1));
  int64_t outShape[8];
  if (runModel(model, data.data(), shapes.data(), out.data(), out.size(),
               outShape, &st) != RECQ_OK)
    return makeError(npzPath + ": " + st.message);
  out.resize(size);
  return out;
}

Expected<std::vector<recq::quant::ActivationStats>>
recq::quant::calibrate(ModuleOp module, StringRef npzPath,
                       const CodegenTarget &target,
                       const CalibrationOptions &options) {
  auto npz = readNpz(npzPath);
  if (!npz)
    return npz.takeError();
  OwningOpRef<ModuleOp> copy = module.clone();
  auto stats = exposeFcInputs(*copy);
  if (!stats)
    return stats.takeError();

  SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("recq-calibration", dir))
    return makeError("cannot create a temporary directory: " + ec.message());
  auto cleanup = llvm::make_scope_exit(
      [&] { llvm::sys::fs::remove_directories(dir); });
  using clock = std::chrono::steady_clock;
  auto report = [&](const llvm::Twine &what, clock::time_point start) {
    if (options.progress)
      options.progress(
          (what + llvm::formatv(" ({0:f2} s)",
                                std::chrono::duration<double>(clock::now() - start)
                                    .count()))
              .str());
  };
  auto start = clock::now();
  auto so = compile(*copy, dir, target);
  if (!so)
    return so.takeError();
  report("compiled the fp32 model with its " + llvm::Twine(stats->size()) +
             " FC inputs as outputs",
         start);
  start = clock::now();
  auto values = run(*so, *npz, npzPath);
  if (!values)
    return values.takeError();

  int64_t total = 0;
  for (const ActivationStats &s : *stats)
    total += s.width;
  int64_t rows = total ? static_cast<int64_t>(values->size()) / total : 0;
  report("ran it on " + llvm::Twine(rows) + " samples", start);
  int64_t column = 0;
  int done = 0;
  for (ActivationStats &s : *stats) {
    start = clock::now();
    // Pass 1: range and the scale of the bulk; pass 2: the histogram.
    std::vector<float> v;
    v.reserve(rows * s.width);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < s.width; ++c)
        v.push_back((*values)[r * total + column + c]);
    column += s.width;
    s.samples = rows;
    s.params.qmax = options.qmax;
    if (v.empty())
      continue;
    s.min = *std::min_element(v.begin(), v.end());
    s.max = *std::max_element(v.begin(), v.end());
    double sum = 0;
    for (float x : v)
      sum += std::fabs(x);
    s.meanAbs = static_cast<float>(sum / v.size());
    Histogram h(s.min, s.max, s.meanAbs, options.bins);
    h.add(v);
    s.params = chooseParams(h, options.method, options.percentile, options.qmax);
    report(llvm::formatv("[{0}/{1}] {2}: {3} values, scale {4:e3}, zero point {5}",
                         ++done, stats->size(), s.name, v.size(), s.params.scale,
                         s.params.zeroPoint),
           start);
  }
  return std::move(*stats);
}

llvm::json::Value
recq::quant::toJSON(const std::vector<ActivationStats> &stats,
                    const CalibrationOptions &options) {
  llvm::json::Array tensors;
  for (const ActivationStats &s : stats)
    tensors.push_back(llvm::json::Object{
        {"name", s.name},
        {"width", s.width},
        {"samples", static_cast<int64_t>(s.samples)},
        {"min", s.min},
        {"max", s.max},
        {"mean_abs", s.meanAbs},
        {"scale", s.params.scale},
        {"zero_point", s.params.zeroPoint},
        {"qmax", s.params.qmax}});
  const char *method = options.method == ScaleMethod::L2       ? "l2"
                       : options.method == ScaleMethod::MinMax ? "minmax"
                                                               : "percentile";
  llvm::json::Object root{{"method", method}, {"tensors", std::move(tensors)}};
  if (options.method == ScaleMethod::Percentile)
    root["percentile"] = options.percentile;
  return llvm::json::Value(std::move(root));
}
