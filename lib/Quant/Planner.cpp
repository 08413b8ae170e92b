//===- Planner.cpp - Per-layer precision search under a budget ------------===//

#include "recq/Quant/Planner.h"

#include "ModelRunner.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Dialect/Recq/IR/RowwiseTable.h"
#include "recq/Quant/Quantize.h"
#include "recq/Target/Codegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <list>
#include <map>
#include <numeric>

using namespace mlir;
using llvm::Error;
using llvm::Expected;

namespace recq::quant {

/// The labels of `npz` ("labels", one per sample), or none.
static Expected<std::vector<float>> readLabels(const Npz &npz,
                                               llvm::StringRef path,
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

namespace {
/// Runs plans of one model on one data set. FCs are compiled for real, one
/// artifact per set of int8 FCs, every table in its .weights file; a
/// table's precision is simulated by writing what its quantized form reads
/// back over its fp32 values there.
class Simulator {
public:
  /// `fcInputs`: each FC's int8 input parameters, for FC variants.
  Simulator(ModuleOp module, const PlanSites &sites, const Plan &pieces,
            std::vector<std::optional<QuantParams>> fcInputs,
            const CodegenTarget &target, llvm::StringRef dir, const Npz &npz,
            llvm::StringRef npzPath)
      : module(module), sites(sites), pieces(pieces),
        fcInputs(std::move(fcInputs)), target(target), dir(dir.str()),
        npz(npz), npzPath(npzPath.str()) {
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

  /// Whether table `t`'s precision can be simulated (a constant f32 table).
  bool simulates(unsigned t) const { return !data[t].empty(); }

  /// The outputs of `plan` on every sample.
  Expected<std::vector<float>> outputs(const Plan &plan) {
    auto runner = load(plan);
    if (!runner)
      return runner.takeError();
    return (*runner)->run(0, (*runner)->samples());
  }

  /// The loaded model of `plan` (tables written first).
  Expected<std::unique_ptr<ModelRunner>> load(const Plan &plan) {
    std::string mask;
    for (const Piece &p : plan.fcs)
      mask += p.precision == "int8" ? '8' : 'f';
    auto artifact = artifactFor(mask);
    if (!artifact)
      return artifact.takeError();
    Artifact &a = **artifact;
    for (auto [t, p] : llvm::enumerate(plan.tables))
      if (simulates(t) && a.stored[t] != p.precision)
        if (Error e = writeTable(a, t, p.precision))
          return std::move(e);
    return ModelRunner::create(a.model.so, npz, npzPath);
  }

private:
  struct Artifact {
    CompiledModel model;
    std::vector<std::string> stored; // what each table's bytes now hold
  };

  Expected<Artifact *> artifactFor(const std::string &mask) {
    auto it = artifacts.find(mask);
    if (it != artifacts.end())
      return &it->second;
    OwningOpRef<ModuleOp> copy = module.clone();
    std::vector<std::optional<QuantParams>> inputs(mask.size());
    for (size_t i = 0; i < mask.size(); ++i)
      if (mask[i] == '8')
        inputs[i] = fcInputs.at(i);
    auto count = quantizeFcs(*copy, inputs);
    if (!count)
      return count.takeError();
    auto compiled = compileModule(*copy, dir, "v" + mask, target,
                                  /*allTablesExternal=*/true);
    if (!compiled)
      return compiled.takeError();
    if (compiled->tableOffsets.size() != sites.tables.size())
      return llvm::createStringError(
          llvm::formatv("the compiled variant has {0} tables, the model {1} "
                        "(a recq bug)",
                        compiled->tableOffsets.size(), sites.tables.size()));
    Artifact a{std::move(*compiled),
               std::vector<std::string>(sites.tables.size(), "fp32")};
    return &artifacts.emplace(mask, std::move(a)).first->second;
  }

  Error writeTable(Artifact &a, unsigned t, llvm::StringRef precision) {
    uint64_t offset = a.model.tableOffsets.at(t);
    if (offset == ~uint64_t(0))
      return llvm::createStringError("table '" + pieces.tables[t].name +
                                     "' is not in the weights file");
    int64_t rows = pieces.tables[t].dim0, dim = pieces.tables[t].dim1;
    ArrayRef<float> fp32 = data[t];
    std::vector<float> out(fp32.size());
    if (precision == "fp32") {
      std::copy(fp32.begin(), fp32.end(), out.begin());
    } else if (precision == "fp16") {
      for (size_t i = 0; i < fp32.size(); ++i)
        out[i] = halfToFloat(floatToHalf(fp32[i]));
    } else {
      unsigned bits = precision == "int4" ? 4 : 8;
      bool halfScale = bits == 4;
      std::vector<uint8_t> row(rowwiseRowBytes(dim, bits, halfScale));
      for (int64_t r = 0; r < rows; ++r) {
        quantizeRowwise(&fp32[r * dim], dim, bits, halfScale, row.data());
        dequantizeRowwise(row.data(), dim, bits, halfScale, &out[r * dim]);
      }
    }
    int fd = ::open(a.model.weights.c_str(), O_WRONLY);
    if (fd < 0)
      return llvm::createStringError("cannot open " + a.model.weights);
    auto close = llvm::make_scope_exit([&] { ::close(fd); });
    const char *bytes = reinterpret_cast<const char *>(out.data());
    size_t left = out.size() * 4;
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

  ModuleOp module;
  const PlanSites &sites;
  const Plan &pieces;
  std::vector<std::optional<QuantParams>> fcInputs;
  const CodegenTarget &target;
  std::string dir;
  const Npz &npz;
  std::string npzPath;
  std::vector<ArrayRef<float>> data;
  std::list<std::vector<float>> splats;
  std::map<std::string, Artifact> artifacts;
};

/// The piece's position in its precision list (0: fp32).
int rank(const Piece &p, llvm::StringRef precision) {
  llvm::ArrayRef<llvm::StringRef> list =
      p.kind == Piece::Fc ? fcPrecisions() : tablePrecisions();
  return llvm::find(list, precision) - list.begin();
}
} // namespace

/// Compiles `module` (a copy, consumed) to `dir`/`stem`.so and loads it on
/// the inputs of `npz`.
static Expected<std::unique_ptr<ModelRunner>>
compileAndLoad(ModuleOp module, llvm::StringRef dir, llvm::StringRef stem,
               const CodegenTarget &target, const Npz &npz,
               llvm::StringRef npzPath, bool allTablesExternal = false) {
  auto compiled = compileModule(module, dir, stem, target, allTablesExternal);
  if (!compiled)
    return compiled.takeError();
  return ModelRunner::create(compiled->so, npz, npzPath);
}

/// Output 0 of `runner` on all its samples.
static Expected<std::vector<float>>
runAll(Expected<std::unique_ptr<ModelRunner>> runner) {
  if (!runner)
    return runner.takeError();
  return (*runner)->run(0, (*runner)->samples());
}

/// Compiles `plan` for real and runs it on all samples of `npz`.
static Expected<std::vector<float>>
runRealPlan(ModuleOp module, const Plan &plan, llvm::StringRef dir,
            llvm::StringRef stem, const CodegenTarget &target, const Npz &npz,
            llvm::StringRef npzPath) {
  OwningOpRef<ModuleOp> copy = module.clone();
  if (Error e = applyPlan(*copy, plan))
    return std::move(e);
  return runAll(compileAndLoad(*copy, dir, stem, target, npz, npzPath));
}

namespace {
/// A data set and a temporary directory for compiled variants, removed
/// with this.
struct Workspace {
  static Expected<std::unique_ptr<Workspace>> create(llvm::StringRef npzPath) {
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
  ~Workspace() { llvm::sys::fs::remove_directories(dir); }

  Npz npz;
  std::string npzPath, dir;
};
} // namespace

Expected<Accuracy> measurePlan(ModuleOp module, const Plan &plan,
                               llvm::StringRef npzPath,
                               const CodegenTarget &target,
                               llvm::StringRef metric) {
  auto ws = Workspace::create(npzPath);
  if (!ws)
    return ws.takeError();
  const Npz *npz = &(*ws)->npz;
  const std::string *dir = &(*ws)->dir;
  auto fp32Plan = listPieces(module);
  if (!fp32Plan)
    return fp32Plan.takeError();
  auto reference =
      runRealPlan(module, *fp32Plan, *dir, "fp32", target, *npz, npzPath);
  if (!reference)
    return reference.takeError();
  auto labels = readLabels(*npz, npzPath, reference->size());
  if (!labels)
    return labels.takeError();
  if (Error e = checkMetric(metric, !labels->empty(), npzPath))
    return std::move(e);
  auto outputs = runRealPlan(module, plan, *dir, "plan", target, *npz, npzPath);
  if (!outputs)
    return outputs.takeError();
  Scorer scorer(std::move(*reference), std::move(*labels), metric.str());
  return scorer.score(*outputs);
}

Expected<std::vector<LayerError>>
compareLayers(ModuleOp module, const Plan &plan, llvm::StringRef npzPath,
              const CodegenTarget &target) {
  auto ws = Workspace::create(npzPath);
  if (!ws)
    return ws.takeError();
  const Npz *npz = &(*ws)->npz;
  const std::string *dir = &(*ws)->dir;
  auto names = listPieces(module);
  if (!names)
    return names.takeError();
  auto sites = findPlanSites(module);
  if (!sites)
    return sites.takeError();

  // The model's output, then the layers in program order: their columns
  // in the outputs below, and what the plan makes of each.
  auto precisionOf = [&](llvm::StringRef kind, llvm::StringRef name) {
    const std::vector<Piece> &pieces = kind == "fc" ? plan.fcs : plan.tables;
    for (const Piece &p : pieces)
      if (p.name == name)
        return p.precision;
    return std::string("fp32");
  };
  auto widthOf = [](Value v) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    return type && type.getRank() == 2 ? type.getDimSize(1) : int64_t(0);
  };
  std::vector<LayerError> layers(1);
  layers[0].kind = "output";
  layers[0].name = "(the model's output)";
  layers[0].width = widthOf(module.lookupSymbol<func::FuncOp>("main")
                                .getBody()
                                .front()
                                .getTerminator()
                                ->getOperand(0));
  size_t fc = 0, bag = 0;
  module.walk([&](Operation *op) {
    if (!isa<recq::FcOp, recq::EmbeddingBagOp>(op))
      return;
    LayerError l;
    l.kind = isa<recq::FcOp>(op) ? "fc" : "table";
    l.name = isa<recq::FcOp>(op) ? names->fcs[fc++].name
                                 : names->tables[sites->bagTable[bag++]].name;
    l.precision = precisionOf(l.kind, l.name);
    l.width = widthOf(op->getResult(0));
    layers.push_back(l);
  });

  // One variant: the module returning [output, every layer] side by side.
  auto run = [&](const Plan *applied,
                 llvm::StringRef stem) -> Expected<std::vector<float>> {
    OwningOpRef<ModuleOp> copy = module.clone();
    auto main = copy->lookupSymbol<func::FuncOp>("main");
    SmallVector<Value> values;
    values.push_back(main.getBody().front().getTerminator()->getOperand(0));
    copy->walk([&](Operation *op) {
      if (isa<recq::FcOp, recq::EmbeddingBagOp>(op))
        values.push_back(op->getResult(0));
    });
    if (Error e = returnSideBySide(*copy, values, "layers"))
      return std::move(e);
    if (applied)
      if (Error e = applyPlan(*copy, *applied))
        return std::move(e);
    return runAll(compileAndLoad(*copy, *dir, stem, target, *npz, npzPath));
  };
  auto fp32 = run(nullptr, "fp32");
  if (!fp32)
    return fp32.takeError();
  auto planned = run(&plan, "plan");
  if (!planned)
    return planned.takeError();

  int64_t total = 0;
  for (const LayerError &l : layers)
    total += l.width;
  if (total == 0 || fp32->size() != planned->size() ||
      fp32->size() % total)
    return llvm::createStringError("the layer outputs do not line up (a recq "
                                   "bug)");
  int64_t rows = fp32->size() / total;
  int64_t column = 0;
  for (LayerError &l : layers) {
    double signal = 0, noise = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = column; c < column + l.width; ++c) {
        double ref = (*fp32)[r * total + c], x = (*planned)[r * total + c];
        signal += ref * ref;
        noise += (x - ref) * (x - ref);
      }
    l.sqnr = noise == 0 ? INFINITY : 10 * std::log10(signal / noise);
    column += l.width;
  }
  // The model's output last.
  std::rotate(layers.begin(), layers.begin() + 1, layers.end());
  return layers;
}

//===----------------------------------------------------------------------===//
// Costs
//===----------------------------------------------------------------------===//

/// Bytes one row of a `dim`-wide table takes in `precision`.
static double rowBytes(llvm::StringRef precision, int64_t dim) {
  if (precision == "fp16")
    return 2.0 * dim;
  if (precision == "int8")
    return double(rowwiseRowBytes(dim, 8, false));
  if (precision == "int4")
    return double(rowwiseRowBytes(dim, 4, true));
  return 4.0 * dim;
}

namespace {
/// Nominal rates of the static cost model.
constexpr double kStaticBandwidth = 10e9;  // bytes/s, streamed weights
constexpr double kStaticGather = 5e9;      // bytes/s, random table rows
constexpr double kStaticFp32Flops = 50e9;  // flop/s
constexpr double kStaticInt8Ops = 100e9;   // op/s
} // namespace

static double staticFcSeconds(const Piece &fc, llvm::StringRef precision,
                              int64_t batch) {
  double weights = double(fc.dim0) * fc.dim1;
  double ops = 2.0 * batch * weights;
  if (precision == "int8")
    return std::max(weights / kStaticBandwidth, ops / kStaticInt8Ops);
  return std::max(4 * weights / kStaticBandwidth, ops / kStaticFp32Flops);
}

/// Median of `values` (modified).
static double median(std::vector<double> values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2,
                   values.end());
  return values[values.size() / 2];
}

/// Run time of `variant` over `base`'s at `batch` on one thread, A/B
/// interleaved so both see the same machine load. Also accumulates base's
/// times into `baseSeconds`.
static Expected<double> timeRatio(ModelRunner &base, ModelRunner &variant,
                                  int64_t batch, int rounds,
                                  std::vector<double> &baseSeconds) {
  base.setThreads(1);
  variant.setThreads(1);
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    auto tb = base.time(batch, 5);
    if (!tb)
      return tb.takeError();
    auto tv = variant.time(batch, 5);
    if (!tv)
      return tv.takeError();
    ratios.push_back(*tv / *tb);
    baseSeconds.push_back(*tb);
  }
  return median(ratios);
}

//===----------------------------------------------------------------------===//
// The search
//===----------------------------------------------------------------------===//

Expected<Plan> searchPlan(ModuleOp module, llvm::StringRef calibrationPath,
                          const CodegenTarget &target,
                          const PlannerOptions &options) {
  using clock = std::chrono::steady_clock;
  auto say = [&](const llvm::Twine &line) {
    if (options.progress)
      options.progress(line.str());
  };
  auto pieces = listPieces(module);
  if (!pieces)
    return pieces.takeError();
  Plan plan = std::move(*pieces);
  plan.metric = options.metric;
  plan.budget = options.budget;
  plan.target = target.name;
  plan.batch = options.batch;
  plan.costModel = options.costModel;
  if (options.costModel != "measured" && options.costModel != "static")
    return llvm::createStringError("unknown cost model '" + options.costModel +
                                   "' (measured, static)");
  if (rank(Piece{Piece::Fc}, options.fcCeiling) >= int(fcPrecisions().size()) ||
      rank(Piece{Piece::Table}, options.tableCeiling) >=
          int(tablePrecisions().size()))
    return llvm::createStringError("unknown precision ceiling");

  auto ws = Workspace::create(calibrationPath);
  if (!ws)
    return ws.takeError();
  const Npz *npz = &(*ws)->npz;
  const std::string *dir = &(*ws)->dir;
  if (Error e = checkMetric(options.metric, npz->count("labels") != 0,
                            calibrationPath))
    return std::move(e);

  // A budget of 0 admits no change: every piece stays fp32.
  if (options.budget == 0 && options.fcCeiling == "fp32" &&
      options.tableCeiling == "fp32") {
    say("budget 0: every FC and table stays fp32");
    plan.calibration.loss = 0;
    return plan;
  }

  auto sites = findPlanSites(module);
  if (!sites)
    return sites.takeError();

  // Activation scales of every FC, from the fp32 model.
  auto start = clock::now();
  auto stats = calibrate(module, calibrationPath, target, options.calibration);
  if (!stats)
    return stats.takeError();
  std::vector<std::optional<QuantParams>> fcInputs;
  for (auto [piece, s] : llvm::zip(plan.fcs, *stats)) {
    piece.input = s.params;
    fcInputs.push_back(s.params);
  }
  say(llvm::formatv("calibrated {0} FC inputs ({1:f1} s)", stats->size(),
                    std::chrono::duration<double>(clock::now() - start).count()));

  Simulator sim(module, *sites, plan, std::move(fcInputs), target, *dir, *npz,
                calibrationPath);
  start = clock::now();
  auto reference = sim.outputs(plan);
  if (!reference)
    return reference.takeError();
  auto labels = readLabels(*npz, calibrationPath, reference->size());
  if (!labels)
    return labels.takeError();
  Scorer scorer(*reference, std::move(*labels), options.metric);
  say(llvm::formatv("fp32 model on {0} samples ({1:f1} s)", reference->size(),
                    std::chrono::duration<double>(clock::now() - start).count()));

  // 1. Sensitivity: each piece alone in each cheaper precision.
  auto fp32Candidate = [] {
    Candidate c;
    c.precision = "fp32";
    c.loss = c.meanAbsDelta = c.maxAbsDelta = c.saving = 0;
    return c;
  };
  auto record = [&](Piece &piece, llvm::StringRef precision,
                    const Accuracy &a) {
    Candidate c;
    c.precision = precision.str();
    c.loss = a.loss;
    c.meanAbsDelta = a.meanAbsDelta;
    c.maxAbsDelta = a.maxAbsDelta;
    piece.candidates.push_back(c);
    say(llvm::formatv("  {0,-28} {1,-5} loss {2,9:e2}  mean|dp| {3:e2}  "
                      "max|dp| {4:e2}",
                      piece.name, precision, a.loss, a.meanAbsDelta,
                      a.maxAbsDelta));
  };
  int total = int(plan.fcs.size() + 3 * plan.tables.size());
  say(llvm::formatv("sensitivity: {0} variants, one piece each", total));
  for (auto [i, fc] : llvm::enumerate(plan.fcs)) {
    fc.candidates.push_back(fp32Candidate());
    Plan one = plan;
    one.fcs[i].precision = "int8";
    auto out = sim.outputs(one);
    if (!out)
      return out.takeError();
    record(fc, "int8", scorer.score(*out));
  }
  for (auto [t, table] : llvm::enumerate(plan.tables)) {
    table.candidates.push_back(fp32Candidate());
    for (llvm::StringRef p : tablePrecisions().drop_front()) {
      if (!sim.simulates(t)) {
        Candidate c;
        c.precision = p.str();
        c.excluded = "not a constant f32 table";
        table.candidates.push_back(c);
        continue;
      }
      Plan one = plan;
      one.tables[t].precision = p.str();
      auto out = sim.outputs(one);
      if (!out)
        return out.takeError();
      record(table, p, scorer.score(*out));
    }
  }
  // 2. Costs. The fp32 model (loading it writes its tables back to fp32).
  auto base = sim.load(plan);
  if (!base)
    return base.takeError();
  std::vector<double> lookups(plan.tables.size(), 0.0);
  std::vector<double> perBag = (*base)->lookupsPerSample();
  for (auto [bag, table] : llvm::enumerate(sites->bagTable))
    if (bag < perBag.size())
      lookups[table] += perBag[bag];
  double fp32TableBytes = 0;
  for (auto [t, table] : llvm::enumerate(plan.tables))
    fp32TableBytes += lookups[t] * rowBytes("fp32", table.dim1);
  auto tableShare = [&](size_t t) {
    return fp32TableBytes > 0
               ? lookups[t] * rowBytes("fp32", plan.tables[t].dim1) /
                     fp32TableBytes
               : 0.0;
  };
  // Total saving of all tables in each precision.
  std::map<std::string, double> tablesSaving;
  if (options.costModel == "static") {
    double seconds = 0;
    for (Piece &fc : plan.fcs) {
      double fp32 = staticFcSeconds(fc, "fp32", options.batch);
      seconds += fp32;
      for (Candidate &c : fc.candidates)
        c.saving = fp32 - staticFcSeconds(fc, c.precision, options.batch);
    }
    for (auto [t, table] : llvm::enumerate(plan.tables))
      seconds += options.batch * lookups[t] * rowBytes("fp32", table.dim1) /
                 kStaticGather;
    plan.fp32Seconds = seconds;
    for (llvm::StringRef p : tablePrecisions()) {
      double saving = 0;
      for (auto [t, table] : llvm::enumerate(plan.tables))
        saving += options.batch * lookups[t] *
                  (rowBytes("fp32", table.dim1) - rowBytes(p, table.dim1)) /
                  kStaticGather;
      tablesSaving[p.str()] = saving;
    }
    say(llvm::formatv("costs (static model, batch {0}): fp32 {1:f3} ms",
                      options.batch, plan.fp32Seconds * 1e3));
  } else {
    start = clock::now();
    std::vector<double> baseSeconds;
    // FCs: what each one's int8 saves where the search starts, among
    // int8 neighbours (all FCs int8 against all but that one). Alone, an
    // int8 FC pays a quantize and a dequantize at its edges that a chain
    // of int8 layers does not, so "alone" would undersell it.
    std::vector<double> fcSaving(plan.fcs.size(), 0.0);
    if (!plan.fcs.empty()) {
      Plan allInt8 = plan;
      for (Piece &fc : allInt8.fcs)
        fc.precision = "int8";
      auto base8 = sim.load(allInt8);
      if (!base8)
        return base8.takeError();
      std::vector<double> base8Seconds;
      std::vector<double> fcRatio(plan.fcs.size(), 1.0);
      for (size_t i = 0; i < plan.fcs.size(); ++i) {
        Plan but = allInt8;
        but.fcs[i].precision = "fp32";
        auto variant = sim.load(but);
        if (!variant)
          return variant.takeError();
        auto ratio = timeRatio(**base8, **variant, options.batch,
                               options.rounds, base8Seconds);
        if (!ratio)
          return ratio.takeError();
        fcRatio[i] = *ratio;
      }
      double t8 = median(base8Seconds);
      for (size_t i = 0; i < plan.fcs.size(); ++i)
        fcSaving[i] = t8 * (fcRatio[i] - 1);
    }
    // The fp32 model's run time.
    (*base)->setThreads(1);
    for (int r = 0; r < options.rounds; ++r) {
      auto t = (*base)->time(options.batch, 5);
      if (!t)
        return t.takeError();
      baseSeconds.push_back(*t);
    }
    // Tables: the embedding bags alone (the model cut after them, so the
    // FCs' time and its noise are not in the comparison), fp32 against
    // all tables in each precision, compiled for real.
    auto bagsOnly = [&](llvm::StringRef p)
        -> Expected<std::unique_ptr<ModelRunner>> {
      Plan all = plan;
      for (Piece &t : all.tables)
        t.precision = p.str();
      for (Piece &fc : all.fcs)
        fc.precision = "fp32";
      OwningOpRef<ModuleOp> copy = module.clone();
      if (Error e = applyPlan(*copy, all))
        return std::move(e);
      SmallVector<Value> pooled;
      copy->walk([&](recq::EmbeddingBagOp bag) {
        pooled.push_back(bag.getResult());
      });
      if (Error e = returnSideBySide(*copy, pooled, "bags"))
        return std::move(e);
      return compileAndLoad(*copy, *dir, ("bags-" + p).str(), target, *npz,
                            calibrationPath, /*allTablesExternal=*/true);
    };
    if (!plan.tables.empty()) {
      auto bags32 = bagsOnly("fp32");
      if (!bags32)
        return bags32.takeError();
      for (llvm::StringRef p : tablePrecisions().drop_front()) {
        auto variant = bagsOnly(p);
        if (!variant)
          return variant.takeError();
        std::vector<double> bagSeconds;
        auto ratio = timeRatio(**bags32, **variant, options.batch,
                               options.rounds, bagSeconds);
        if (!ratio)
          return ratio.takeError();
        tablesSaving[p.str()] = median(bagSeconds) * (1 - *ratio);
      }
    }
    plan.fp32Seconds = median(baseSeconds);
    for (auto [i, fc] : llvm::enumerate(plan.fcs))
      for (Candidate &c : fc.candidates)
        c.saving = c.precision == "fp32" ? 0 : fcSaving[i];
    tablesSaving["fp32"] = 0;
    say(llvm::formatv("costs (measured on this CPU, batch {0}, one thread): "
                      "fp32 {1:f3} ms ({2:f1} s)",
                      options.batch, plan.fp32Seconds * 1e3,
                      std::chrono::duration<double>(clock::now() - start)
                          .count()));
  }
  // Shares of the tables' savings, and what is not worth it here: a
  // candidate saving under 0.5% of the run, or no more than a more precise
  // one.
  double floor = 0.005 * plan.fp32Seconds;
  std::string lastKept = "fp32";
  std::map<std::string, std::string> tableExcluded;
  for (llvm::StringRef p : tablePrecisions().drop_front()) {
    double saving = tablesSaving[p.str()];
    if (saving <= floor)
      tableExcluded[p.str()] =
          llvm::formatv("not faster here (all tables save {0:f2}% of the run)",
                        100 * saving / plan.fp32Seconds);
    else if (saving <= tablesSaving[lastKept])
      tableExcluded[p.str()] = "no faster than " + lastKept + " here";
    else
      lastKept = p.str();
  }
  for (auto [t, table] : llvm::enumerate(plan.tables))
    for (Candidate &c : table.candidates) {
      if (c.precision == "fp32")
        continue;
      c.saving = tablesSaving[c.precision] * tableShare(t);
      if (c.excluded.empty() && tableExcluded.count(c.precision))
        c.excluded = tableExcluded[c.precision];
    }
  for (Piece &fc : plan.fcs)
    for (Candidate &c : fc.candidates)
      if (c.precision != "fp32" && c.excluded.empty() && c.saving <= floor)
        c.excluded = llvm::formatv("not faster here (saves {0:f2}% of the run)",
                                   100 * c.saving / plan.fp32Seconds);
  for (const Piece &fc : plan.fcs)
    if (const Candidate *c = fc.candidate("int8"))
      say(llvm::formatv("  {0,-28} int8 saves {1,7:f1} us{2}", fc.name,
                        c->saving * 1e6,
                        c->excluded.empty() ? "" : ": " + c->excluded));
  for (llvm::StringRef p : tablePrecisions().drop_front())
    say(llvm::formatv("  all tables {0,-5}      save {1,7:f1} us{2}", p,
                      tablesSaving[p.str()] * 1e6,
                      tableExcluded.count(p.str())
                          ? ": " + tableExcluded[p.str()]
                          : std::string()));

  // 3. The search. A piece's ladder: the precisions it may take, most
  // precise first.
  std::vector<Piece *> all;
  for (Piece &p : plan.fcs)
    all.push_back(&p);
  for (Piece &p : plan.tables)
    all.push_back(&p);
  std::vector<std::vector<const Candidate *>> ladder(all.size());
  std::vector<size_t> at(all.size());
  for (auto [i, piece] : llvm::enumerate(all)) {
    llvm::StringRef ceiling =
        piece->kind == Piece::Fc ? options.fcCeiling : options.tableCeiling;
    for (const Candidate &c : piece->candidates)
      if (rank(*piece, c.precision) >= rank(*piece, ceiling) &&
          (c.excluded.empty() || c.precision == ceiling) && !std::isnan(c.loss))
        ladder[i].push_back(&c);
    if (ladder[i].empty())
      return llvm::createStringError("'" + piece->name + "' cannot be " +
                                     ceiling + " (" +
                                     piece->candidate(ceiling)->excluded + ")");
    at[i] = ladder[i].size() - 1;
    piece->precision = ladder[i][at[i]]->precision;
  }
  auto stepBack = [&]() -> std::optional<std::string> {
    int best = -1;
    double bestRatio = -INFINITY, bestGain = -INFINITY;
    for (size_t i = 0; i < all.size(); ++i) {
      if (at[i] == 0)
        continue;
      const Candidate *cur = ladder[i][at[i]], *next = ladder[i][at[i] - 1];
      double gain = cur->loss - next->loss;
      double given = std::max(cur->saving - next->saving, 1e-12);
      double ratio = gain / given;
      if (ratio > bestRatio || (ratio == bestRatio && gain > bestGain)) {
        best = int(i);
        bestRatio = ratio;
        bestGain = gain;
      }
    }
    if (best < 0)
      return std::nullopt;
    std::string from = all[best]->precision;
    --at[best];
    all[best]->precision = ladder[best][at[best]]->precision;
    return all[best]->name + ": " + from + " -> " + all[best]->precision;
  };
  auto visit = [&](const std::string &change, double loss,
                   llvm::StringRef how) {
    VisitedPlan v;
    v.step = int(plan.visited.size());
    v.change = change;
    v.loss = loss;
    v.seconds = plan.estimatedSeconds();
    v.precisions = plan.compact();
    plan.visited.push_back(v);
    say(llvm::formatv("step {0,2} {1,-40} loss {2,9:e2} ({3})  est. {4:f3} ms "
                      "({5:f2}x fp32)  {6}",
                      v.step, change, loss, how, v.seconds * 1e3,
                      plan.fp32Seconds / v.seconds, v.precisions));
  };
  auto infeasible = [&](double loss) {
    return llvm::createStringError(llvm::formatv(
        "no plan meets the budget: {0} {1:e3} > {2:e3} with every piece as "
        "precise as allowed (FCs {3}, tables {4}); raise "
        "--accuracy-budget or allow more precision",
        options.metric, loss, options.budget, options.fcCeiling,
        options.tableCeiling));
  };

  say(llvm::formatv("search: budget {0} {1:e3}", options.metric,
                    options.budget));
  auto simulated = sim.outputs(plan);
  if (!simulated)
    return simulated.takeError();
  double loss = scorer.score(*simulated).loss;
  visit("start: the cheapest plan", loss, "simulated");
  while (!(loss <= options.budget)) {
    auto change = stepBack();
    if (!change)
      return infeasible(loss);
    auto out = sim.outputs(plan);
    if (!out)
      return out.takeError();
    loss = scorer.score(*out).loss;
    visit(*change, loss, "simulated");
  }
  // The chosen plan compiled for real.
  for (int round = 0;; ++round) {
    auto real = runRealPlan(module, plan, *dir,
                            "plan" + std::to_string(round), target, *npz,
                            calibrationPath);
    if (!real)
      return real.takeError();
    plan.calibration = scorer.score(*real);
    say(llvm::formatv("compiled for real: loss {0:e3} on the calibration set",
                      plan.calibration.loss));
    if (plan.calibration.loss <= options.budget)
      break;
    auto change = stepBack();
    if (!change)
      return infeasible(plan.calibration.loss);
    visit(*change, NAN, "compiled next");
  }
  return plan;
}

} // namespace recq::quant
