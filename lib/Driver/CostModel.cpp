//===- CostModel.cpp - What each candidate precision saves ----------------===//
//
// The planner's step 1 (recq/Driver/Planner.h): `measured` times compiled
// variants on this CPU, `static` uses nominal rates.
//
//===----------------------------------------------------------------------===//

#include "PlannerInternal.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Dialect/Recq/IR/RowwiseTable.h"
#include "recq/Driver/Quantize.h"
#include "recq/Target/Codegen.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <chrono>
#include <map>

using namespace mlir;
using llvm::Error;
using llvm::Expected;

namespace recq::quant {

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
constexpr double kStaticBf16Flops = 100e9; // flop/s (vdpbf16ps)
constexpr double kStaticInt8Ops = 100e9;   // op/s
} // namespace

static double staticFcSeconds(const Piece &fc, llvm::StringRef precision,
                              int64_t batch) {
  double weights = double(fc.dim0) * fc.dim1;
  double ops = 2.0 * batch * weights;
  if (precision == "int8")
    return std::max(weights / kStaticBandwidth, ops / kStaticInt8Ops);
  if (precision == "bf16")
    return std::max(2 * weights / kStaticBandwidth, ops / kStaticBf16Flops);
  return std::max(4 * weights / kStaticBandwidth, ops / kStaticFp32Flops);
}

/// Median of `values` (modified).
static double median(std::vector<double> values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2,
                   values.end());
  return values[values.size() / 2];
}

/// `plan` compiled for real from `module` (consumed) to `dir`/`stem`.so
/// with the per-op profile (recq-compile --profile), each FC's ops named
/// by its piece (names the model repeats are made unique there).
static Expected<CompiledModel>
compileProfiled(ModuleOp module, const Plan &plan, llvm::StringRef dir,
                llvm::StringRef stem, const CodegenTarget &target) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return llvm::createStringError("the module has no @main");
  size_t i = 0;
  main.walk([&](recq::FcOp fc) {
    if (i < plan.fcs.size())
      fc->setLoc(NameLoc::get(
          StringAttr::get(module.getContext(), plan.fcs[i].name), fc.getLoc()));
    ++i;
  });
  if (i != plan.fcs.size())
    return llvm::createStringError(
        llvm::formatv("the model has {0} FCs, the plan {1} (a recq bug)", i,
                      plan.fcs.size()));
  if (Error e = applyPlan(module, plan))
    return std::move(e);
  if (auto batched = batchEmbeddingBags(module); !batched)
    return batched.takeError();
  if (auto profiled = numberProfiledOps(module); !profiled)
    return profiled.takeError();
  return compileModule(module, dir, stem, target);
}

Error measureCosts(Plan &plan, Simulator &sim, ModuleOp module,
                   const PlanSites &sites, const Workspace &ws,
                   llvm::StringRef calibrationPath, const CodegenTarget &target,
                   const PlannerOptions &options) {
  using clock = std::chrono::steady_clock;
  auto say = [&](const llvm::Twine &line) {
    if (options.progress)
      options.progress(line.str());
  };
  const Npz *npz = &ws.npz;
  const std::string *dir = &ws.dir;
  // 2. Costs. The fp32 model (loading it writes its tables back to fp32).
  auto base = sim.load(plan);
  if (!base)
    return base.takeError();
  std::vector<double> lookups(plan.tables.size(), 0.0);
  std::vector<double> perBag = (*base)->lookupsPerSample();
  for (auto [bag, table] : llvm::enumerate(sites.bagTable))
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
  // What each FC saves in each precision (measured costs only).
  std::map<std::string, std::vector<double>> fcSaving;
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
    // Cached costs of this model on this CPU, if any (costKey).
    std::string cacheFile;
    std::optional<MeasuredCosts> cached;
    if (!options.costCache.empty()) {
      cacheFile = costFile(options.costCache,
                           costKey(module, target, options, lookups));
      cached = readCosts(cacheFile, plan.fcs.size());
    }
    if (cached) {
      fcSaving = cached->fcSaving;
      tablesSaving = cached->tablesSaving;
      plan.fp32Seconds = cached->fp32Seconds;
      say(llvm::formatv("costs (measured on this CPU at {0}, batch {1}, one "
                        "thread; cached in {2}): fp32 {3:f3} ms",
                        cached->measuredAt, options.batch, cacheFile,
                        plan.fp32Seconds * 1e3));
    } else {
      auto start = clock::now();
      // The precisions timed: each FC precision some FC has a measured
      // candidate of; every table precision when there are tables.
      std::vector<std::string> fcTimed, tableTimed;
      for (llvm::StringRef p : fcPrecisions().drop_front())
        if (llvm::any_of(plan.fcs, [&](const Piece &fc) {
              const Candidate *c = fc.candidate(p);
              return c && c->excluded.empty();
            }))
          fcTimed.push_back(p.str());
      if (!plan.tables.empty())
        for (llvm::StringRef p : tablePrecisions().drop_front())
          tableTimed.push_back(p.str());
      // The models timed, compiled for real with the per-op profile: the
      // fp32 model, then each timed FC precision on every FC beside each
      // timed table precision on every table (their ops are timed apart).
      std::vector<Plan> timed(1 + std::max(fcTimed.size(), tableTimed.size()),
                              plan);
      for (auto [k, p] : llvm::enumerate(timed)) {
        for (Piece &fc : p.fcs)
          fc.precision = k > 0 && k <= fcTimed.size() ? fcTimed[k - 1] : "fp32";
        for (Piece &t : p.tables)
          t.precision =
              k > 0 && k <= tableTimed.size() ? tableTimed[k - 1] : "fp32";
      }
      auto compiled = compileCopies(
          module, timed.size(),
          [&](ModuleOp copy, size_t k) -> Expected<CompiledModel> {
            return compileProfiled(copy, timed[k], *dir,
                                   "cost" + std::to_string(k), target);
          });
      if (!compiled)
        return compiled.takeError();
      std::vector<std::unique_ptr<ModelRunner>> runners;
      for (const CompiledModel &c : *compiled) {
        auto runner = ModelRunner::create(c.so, *npz, calibrationPath);
        if (!runner)
          return runner.takeError();
        (*runner)->setThreads(1);
        runners.push_back(std::move(*runner));
      }
      // Rounds over all models, so each sees the same machine load; each
      // op's time is its median over the rounds.
      std::vector<std::map<std::string, std::vector<double>>> opRounds(
          runners.size());
      std::vector<double> baseSeconds;
      for (int r = 0; r < options.rounds; ++r) {
        auto t = runners[0]->time(options.batch, 5);
        if (!t)
          return t.takeError();
        baseSeconds.push_back(*t);
        for (auto [k, runner] : llvm::enumerate(runners)) {
          auto ops = runner->profile(options.batch, 5);
          if (!ops)
            return ops.takeError();
          std::map<std::string, double> round;
          for (const ModelRunner::OpTime &op : *ops)
            round[op.name] += op.seconds;
          for (auto &[name, seconds] : round)
            opRounds[k][name].push_back(seconds);
        }
      }
      // An op's piece: an FC's ops are named by the FC ("qfc /top/top.0/Gemm",
      // its input's "quantize" too where it has one); the tables' by their
      // kind ("embedding_bags ...", "embedding_bag ...").
      std::vector<double> bags(runners.size(), 0.0);
      std::vector<std::map<std::string, double>> byFc(runners.size());
      for (auto [k, ops] : llvm::enumerate(opRounds))
        for (auto &[name, rounds] : ops) {
          auto [kind, node] = llvm::StringRef(name).split(' ');
          if (kind.starts_with("embedding_bag"))
            bags[k] += median(rounds);
          else
            byFc[k][node.str()] += median(rounds);
        }
      for (const Piece &fc : plan.fcs)
        if (!byFc[0].count(fc.name))
          return llvm::createStringError("the cost profile has no op of FC '" +
                                         fc.name + "' (a recq bug)");
      for (auto [k, p] : llvm::enumerate(fcTimed)) {
        std::vector<double> &saving = fcSaving[p];
        for (const Piece &fc : plan.fcs)
          saving.push_back(byFc[0][fc.name] - byFc[k + 1][fc.name]);
      }
      for (auto [k, p] : llvm::enumerate(tableTimed))
        tablesSaving[p] = bags[0] - bags[k + 1];
      plan.fp32Seconds = median(baseSeconds);
      say(llvm::formatv("costs (measured on this CPU, batch {0}, one thread): "
                        "fp32 {1:f3} ms ({2:f1} s)",
                        options.batch, plan.fp32Seconds * 1e3,
                        std::chrono::duration<double>(clock::now() - start)
                            .count()));
      if (!cacheFile.empty())
        writeCosts(cacheFile,
                   MeasuredCosts{plan.fp32Seconds, fcSaving, tablesSaving,
                                 nowUtc()},
                   say);
    }
    for (auto [i, fc] : llvm::enumerate(plan.fcs))
      for (Candidate &c : fc.candidates)
        c.saving = fcSaving.count(c.precision) ? fcSaving[c.precision][i] : 0;
    tablesSaving["fp32"] = 0;
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
    for (llvm::StringRef p : fcPrecisions().drop_front())
      if (const Candidate *c = fc.candidate(p))
        say(llvm::formatv("  {0,-28} {1,-4} saves {2,7:f1} us{3}", fc.name, p,
                          c->saving * 1e6,
                          c->excluded.empty() ? "" : ": " + c->excluded));
  for (llvm::StringRef p : tablePrecisions().drop_front())
    say(llvm::formatv("  all tables {0,-5}      save {1,7:f1} us{2}", p,
                      tablesSaving[p.str()] * 1e6,
                      tableExcluded.count(p.str())
                          ? ": " + tableExcluded[p.str()]
                          : std::string()));
  return Error::success();
}

} // namespace recq::quant
