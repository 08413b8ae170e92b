//===- Sensitivity.cpp - Plans run on the calibration set, sensitivity ----===//
//
// The planner's step 2 (recq/Driver/Planner.h) and what it runs on: the
// Simulator (FC variants compiled for real, a table's precision simulated
// in the weights file), plans compiled for real, the temporary workspace.
//
//===----------------------------------------------------------------------===//

#include "PlannerInternal.h"

#include "recq/Dialect/Recq/IR/RowwiseTable.h"
#include "recq/Dialect/Recq/Transforms/Passes.h"
#include "recq/Driver/Quantize.h"
#include "recq/Target/Codegen.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

using namespace mlir;
using llvm::Error;
using llvm::Expected;

namespace recq::quant {

/// The labels of `npz` ("labels", one per sample), or none.
Expected<std::vector<float>> readLabels(const Npz &npz, llvm::StringRef path,
                                        int64_t samples) {
  auto it = npz.find("labels");
  if (it == npz.end())
    return std::vector<float>();
  std::vector<float> labels = it->second.asF32();
  if (static_cast<int64_t>(labels.size()) != samples)
    return llvm::createStringError(path + ": 'labels' has " +
                                   llvm::Twine(labels.size()) +
                                   " values for " + llvm::Twine(samples) +
                                   " samples");
  return labels;
}

//===----------------------------------------------------------------------===//
// Plans run on the calibration set
//===----------------------------------------------------------------------===//

Simulator::Simulator(ModuleOp module, const PlanSites &sites,
                     const Plan &pieces,
                     std::vector<std::optional<FcInput>> fcInputs,
                     const CodegenTarget &target, llvm::StringRef dir,
                     const Npz &npz, llvm::StringRef npzPath)
    : module(module), sites(sites), pieces(pieces),
      fcInputs(std::move(fcInputs)), target(target), dir(dir.str()), npz(npz),
      npzPath(npzPath.str()) {
  for (Value table : sites.tables) {
    DenseElementsAttr values;
    if (!matchPattern(table, m_Constant(&values)) ||
        !values.getElementType().isF32()) {
      data.emplace_back();
      continue;
    }
    if (values.isSplat()) {
      splats.emplace_back(values.getNumElements(),
                          values.getSplatValue<float>());
      data.push_back(splats.back());
      continue;
    }
    ArrayRef<char> raw = values.getRawData();
    data.push_back(ArrayRef<float>(
        reinterpret_cast<const float *>(raw.data()), raw.size() / 4));
  }
}

Expected<std::vector<float>> Simulator::outputs(const Plan &plan) {
  auto runner = load(plan);
  if (!runner)
    return runner.takeError();
  return (*runner)->run(0, (*runner)->samples());
}

/// Which artifact `plan` runs on: a character per FC, '8' int8, 'b' bf16,
/// 'f' fp32.
static std::string maskOf(const Plan &plan) {
  std::string mask;
  for (const Piece &p : plan.fcs)
    mask += p.precision == "int8" ? '8' : p.precision == "bf16" ? 'b' : 'f';
  return mask;
}

/// Whether plans of `mask` run on the simulating artifact: every FC fp32
/// or int8 (bf16 FCs are compiled for real).
static bool simulatedMask(const std::string &mask) {
  return mask.find('b') == std::string::npos;
}

Expected<std::unique_ptr<ModelRunner>> Simulator::load(const Plan &plan) {
  std::string mask = maskOf(plan);
  bool simulated = simulatedMask(mask);
  auto artifact = simulated ? simulating() : artifactFor(mask);
  if (!artifact)
    return artifact.takeError();
  Artifact &a = **artifact;
  for (auto [t, p] : llvm::enumerate(plan.tables))
    if (simulates(t) && a.stored[t] != p.precision)
      if (Error e = writeTable(a, t, p.precision))
        return std::move(e);
  if (simulated) {
    auto runner = simFirst->variant(a.model.so);
    if (!runner || mask.empty()) // no FC: no switches
      return runner;
    std::vector<float> switches;
    for (char c : mask)
      switches.push_back(c == '8' ? 1.0f : 0.0f);
    if (Error e = (*runner)->setRowInput(recq::kInt8SwitchesName, switches))
      return std::move(e);
    return runner;
  }
  // The .npz is read once, by the first model loaded.
  if (!firstLoaded) {
    auto first = ModelRunner::create(a.model.so, npz, npzPath);
    if (!first)
      return first.takeError();
    firstLoaded = std::move(*first);
  }
  return firstLoaded->variant(a.model.so);
}

Expected<Simulator::Artifact *> Simulator::simulating() {
  if (simArtifact)
    return &*simArtifact;
  OwningOpRef<ModuleOp> copy = module.clone();
  if (Error e = simulateInt8Fcs(*copy, fcInputs))
    return std::move(e);
  auto compiled = compileWithTables(*copy, "simulated");
  if (!compiled)
    return compiled.takeError();
  // Its inputs: the .npz's and the switches (all off; load() sets them).
  Npz withSwitches = npz;
  NpyArray &off = withSwitches[recq::kInt8SwitchesName.str()];
  off.dtype = "f4";
  off.shape = {1, static_cast<int64_t>(fcInputs.size())};
  off.data.assign(fcInputs.size() * sizeof(float), 0);
  auto first = ModelRunner::create(compiled->so, withSwitches, npzPath);
  if (!first)
    return first.takeError();
  simFirst = std::move(*first);
  simArtifact = Artifact{std::move(*compiled),
                         std::vector<std::string>(sites.tables.size(), "fp32")};
  return &*simArtifact;
}

Expected<CompiledModel> Simulator::compileMask(ModuleOp copy,
                                               const std::string &mask) const {
  llvm::SmallVector<bool> bf16;
  std::vector<std::optional<FcInput>> inputs(mask.size());
  for (size_t i = 0; i < mask.size(); ++i) {
    bf16.push_back(mask[i] == 'b');
    if (mask[i] == '8')
      inputs[i] = fcInputs.at(i);
  }
  if (llvm::Error e = quantizeFcsTo(copy, bf16, inputs))
    return std::move(e);
  return compileWithTables(copy, "v" + mask);
}

Expected<CompiledModel> Simulator::compileWithTables(ModuleOp copy,
                                                     llvm::StringRef stem) const {
  auto compiled = compileModule(copy, dir, stem, target,
                                /*allTablesExternal=*/true);
  if (!compiled)
    return compiled.takeError();
  if (compiled->tableOffsets.size() != sites.tables.size())
    return llvm::createStringError(
        llvm::formatv("the compiled {0} has {1} tables, the model {2} (a "
                      "recq bug)",
                      stem, compiled->tableOffsets.size(),
                      sites.tables.size()));
  return compiled;
}

Expected<Simulator::Artifact *>
Simulator::artifactFor(const std::string &mask) {
  auto it = artifacts.find(mask);
  if (it != artifacts.end())
    return &it->second;
  OwningOpRef<ModuleOp> copy = module.clone();
  auto compiled = compileMask(*copy, mask);
  if (!compiled)
    return compiled.takeError();
  Artifact a{std::move(*compiled),
             std::vector<std::string>(sites.tables.size(), "fp32")};
  return &artifacts.emplace(mask, std::move(a)).first->second;
}

Error Simulator::prefetch(llvm::ArrayRef<Plan> plans) {
  std::vector<std::string> masks;
  for (const Plan &plan : plans) {
    std::string mask = maskOf(plan);
    if (simulatedMask(mask))
      continue; // the simulating artifact runs it
    if (!artifacts.count(mask) && !llvm::is_contained(masks, mask))
      masks.push_back(mask);
  }
  if (masks.size() < 2)
    return Error::success(); // artifactFor compiles it when asked
  auto compiled =
      compileCopies(module, masks.size(), [&](ModuleOp copy, size_t i) {
        return compileMask(copy, masks[i]);
      });
  if (!compiled)
    return compiled.takeError();
  for (auto [mask, model] : llvm::zip(masks, *compiled)) {
    Artifact a{std::move(model),
               std::vector<std::string>(sites.tables.size(), "fp32")};
    artifacts.emplace(mask, std::move(a));
  }
  return Error::success();
}

Expected<std::vector<CompiledModel>> compileCopies(
    ModuleOp module, size_t count,
    llvm::function_ref<Expected<CompiledModel>(ModuleOp, size_t)> compile) {
  std::vector<std::optional<CompiledModel>> compiled(count);
  if (Error e =
          onModuleCopies(module, count, [&](ModuleOp copy, size_t i) -> Error {
            auto result = compile(copy, i);
            if (!result)
              return result.takeError();
            compiled[i] = std::move(*result);
            return Error::success();
          }))
    return std::move(e);
  std::vector<CompiledModel> models;
  for (std::optional<CompiledModel> &model : compiled)
    models.push_back(std::move(*model));
  return models;
}

Error Simulator::writeTable(Artifact &a, unsigned t,
                            llvm::StringRef precision) {
  uint64_t offset = a.model.tableOffsets.at(t);
  if (offset == ~uint64_t(0))
    return llvm::createStringError("table '" + pieces.tables[t].name +
                                   "' is not in the weights file");
  int64_t rows = pieces.tables[t].dim0, dim = pieces.tables[t].dim1;
  ArrayRef<float> fp32 = data[t];
  // fp32 is written back as it is; the others as what they read back.
  std::vector<float> out(precision == "fp32" ? 0 : fp32.size());
  // Rows in blocks on every core: the 78 rewrites of a 26-table model
  // convert ~10^8 values each way.
  constexpr int64_t kBlock = 1024;
  auto eachBlock = [&](auto &&convert) {
    llvm::parallelFor(0, (rows + kBlock - 1) / kBlock, [&](size_t b) {
      int64_t begin = int64_t(b) * kBlock;
      convert(begin, std::min(rows, begin + kBlock));
    });
  };
  if (precision == "fp16") {
    eachBlock([&](int64_t begin, int64_t end) {
      for (int64_t i = begin * dim; i < end * dim; ++i)
        out[i] = halfToFloat(floatToHalf(fp32[i]));
    });
  } else if (precision != "fp32") {
    unsigned bits = precision == "int4" ? 4 : 8;
    bool halfScale = bits == 4;
    eachBlock([&](int64_t begin, int64_t end) {
      std::vector<uint8_t> row(rowwiseRowBytes(dim, bits, halfScale));
      for (int64_t r = begin; r < end; ++r) {
        quantizeRowwise(&fp32[r * dim], dim, bits, halfScale, row.data());
        dequantizeRowwise(row.data(), dim, bits, halfScale, &out[r * dim]);
      }
    });
  }
  int fd = ::open(a.model.weights.c_str(), O_WRONLY);
  if (fd < 0)
    return llvm::createStringError("cannot open " + a.model.weights);
  auto close = llvm::make_scope_exit([&] { ::close(fd); });
  ArrayRef<float> values = precision == "fp32" ? fp32 : ArrayRef<float>(out);
  const char *bytes = reinterpret_cast<const char *>(values.data());
  size_t left = values.size() * 4;
  off_t at = static_cast<off_t>(offset);
  while (left) {
    ssize_t n = ::pwrite(fd, bytes, left, at);
    if (n <= 0)
      return llvm::createStringError("writing " + a.model.weights +
                                     " failed");
    bytes += n;
    at += n;
    left -= size_t(n);
  }
  a.stored[t] = precision.str();
  return Error::success();
}

/// Compiles `module` (a copy, consumed) to `dir`/`stem`.so and loads it on
/// the inputs of `npz`.
Expected<std::unique_ptr<ModelRunner>>
compileAndLoad(ModuleOp module, llvm::StringRef dir, llvm::StringRef stem,
               const CodegenTarget &target, const Npz &npz,
               llvm::StringRef npzPath, bool allTablesExternal) {
  auto compiled = compileModule(module, dir, stem, target, allTablesExternal);
  if (!compiled)
    return compiled.takeError();
  return ModelRunner::create(compiled->so, npz, npzPath);
}

/// Output 0 of `runner` on all its samples.
Expected<std::vector<float>>
runAll(Expected<std::unique_ptr<ModelRunner>> runner) {
  if (!runner)
    return runner.takeError();
  return (*runner)->run(0, (*runner)->samples());
}

/// Compiles `plan` for real and runs it on all samples of `npz`.
Expected<std::vector<float>>
runRealPlan(ModuleOp module, const Plan &plan, llvm::StringRef dir,
            llvm::StringRef stem, const CodegenTarget &target, const Npz &npz,
            llvm::StringRef npzPath) {
  OwningOpRef<ModuleOp> copy = module.clone();
  if (Error e = applyPlan(*copy, plan))
    return std::move(e);
  return runAll(compileAndLoad(*copy, dir, stem, target, npz, npzPath));
}

Expected<std::unique_ptr<Workspace>>
Workspace::create(llvm::StringRef npzPath) {
  auto npz = readNpz(npzPath);
  if (!npz)
    return npz.takeError();
  SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("recq-plan", dir))
    return llvm::createStringError("cannot create a temporary directory: " +
                                   ec.message());
  return std::unique_ptr<Workspace>(
      new Workspace{std::move(*npz), npzPath.str(), std::string(dir)});
}

Workspace::~Workspace() { llvm::sys::fs::remove_directories(dir); }

//===----------------------------------------------------------------------===//
// Sensitivity
//===----------------------------------------------------------------------===//

void listCandidates(Plan &plan, const Simulator &sim, bool bf16) {
  auto candidate = [](llvm::StringRef precision, llvm::StringRef excluded) {
    Candidate c;
    c.precision = precision.str();
    c.excluded = excluded.str();
    if (precision == "fp32")
      c.loss = c.meanAbsDelta = c.maxAbsDelta = c.saving = 0;
    return c;
  };
  for (Piece &fc : plan.fcs)
    for (llvm::StringRef p : fcPrecisions())
      fc.candidates.push_back(candidate(
          p, p == "bf16" && !bf16 ? "this CPU has no AVX-512 BF16 (vdpbf16ps)"
                                  : ""));
  for (auto [t, table] : llvm::enumerate(plan.tables))
    for (llvm::StringRef p : tablePrecisions())
      table.candidates.push_back(candidate(
          p, p != "fp32" && !sim.simulates(t) ? "not a constant f32 table"
                                               : ""));
}

Error measureSensitivity(Plan &plan, Simulator &sim, const Scorer &scorer,
                         const PlannerOptions &options) {
  auto say = [&](const llvm::Twine &line) {
    if (options.progress)
      options.progress(line.str());
  };
  // A candidate the search may use: not excluded (by the CPU or the
  // costs), or the user's ceiling, which the search keeps regardless.
  auto wanted = [&](const Piece &piece, const Candidate &c) {
    llvm::StringRef ceiling =
        piece.kind == Piece::Fc ? options.fcCeiling : options.tableCeiling;
    return c.precision != "fp32" &&
           (c.excluded.empty() || c.precision == ceiling);
  };
  std::vector<std::pair<Piece *, Candidate *>> toMeasure;
  for (Piece &piece : plan.fcs)
    for (Candidate &c : piece.candidates)
      if (wanted(piece, c))
        toMeasure.push_back({&piece, &c});
  size_t fcCount = toMeasure.size();
  for (auto [t, piece] : llvm::enumerate(plan.tables))
    for (Candidate &c : piece.candidates)
      if (wanted(piece, c) && sim.simulates(t))
        toMeasure.push_back({&piece, &c});
  say(llvm::formatv("sensitivity: {0} variants, one piece each (candidates "
                    "excluded above are not measured)",
                    toMeasure.size()));
  using clock = std::chrono::steady_clock;
  auto seconds = [](clock::time_point since) {
    return std::chrono::duration<double>(clock::now() - since).count();
  };
  // The plan with only `piece` in `precision`.
  auto alone = [&](const Piece *piece, llvm::StringRef precision) {
    Plan one = plan;
    bool fc = piece->kind == Piece::Fc;
    std::vector<Piece> &list = fc ? one.fcs : one.tables;
    const std::vector<Piece> &from = fc ? plan.fcs : plan.tables;
    list[piece - from.data()].precision = precision.str();
    return one;
  };
  // Every FC variant that needs a compile (bf16) compiled first, on all
  // cores.
  std::vector<Plan> variants;
  for (size_t i = 0; i < fcCount; ++i)
    variants.push_back(
        alone(toMeasure[i].first, toMeasure[i].second->precision));
  if (Error e = sim.prefetch(variants))
    return e;
  auto start = clock::now();
  for (auto [i, job] : llvm::enumerate(toMeasure)) {
    auto [piece, c] = job;
    if (i == fcCount && fcCount > 0) {
      say(llvm::formatv("  FCs: {0:f1} s", seconds(start)));
      start = clock::now();
    }
    auto out = sim.outputs(alone(piece, c->precision));
    if (!out)
      return out.takeError();
    Accuracy a = scorer.score(*out);
    c->loss = a.loss;
    c->meanAbsDelta = a.meanAbsDelta;
    c->maxAbsDelta = a.maxAbsDelta;
    say(llvm::formatv("  {0,-28} {1,-5} loss {2,9:e2}  mean|dp| {3:e2}  "
                      "max|dp| {4:e2}",
                      piece->name, c->precision, a.loss, a.meanAbsDelta,
                      a.maxAbsDelta));
  }
  say(llvm::formatv("  {0}: {1:f1} s",
                    toMeasure.size() > fcCount ? "tables" : "FCs",
                    seconds(start)));
  return Error::success();
}

} // namespace recq::quant
