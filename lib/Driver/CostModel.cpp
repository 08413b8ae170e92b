//===- CostModel.cpp - What each candidate precision saves ----------------===//
//
// The planner's step 2 (recq/Driver/Planner.h): `measured` times compiled
// variants on this CPU, `static` uses nominal rates.
//
//===----------------------------------------------------------------------===//

#include "PlannerInternal.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Dialect/Recq/IR/RowwiseTable.h"
#include "recq/Target/Codegen.h"

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
    auto start = clock::now();
    std::vector<double> baseSeconds;
    // FCs: what each one's int8 (bf16) saves where the search starts,
    // among int8 (bf16) neighbours: all FCs in that precision against all
    // but that one. Alone, an int8 FC pays a quantize and a dequantize at
    // its edges that a chain of int8 layers does not, so "alone" would
    // undersell it. Only precisions some FC has a measured candidate of.
    std::map<std::string, std::vector<double>> fcSaving;
    // The artifacts timed below, compiled first (on all cores, before any
    // timing): each precision's all-FCs and all-but-one variants.
    std::vector<Plan> timed;
    for (llvm::StringRef p : fcPrecisions().drop_front()) {
      bool measured = llvm::any_of(plan.fcs, [&](const Piece &fc) {
        const Candidate *c = fc.candidate(p);
        return c && c->excluded.empty();
      });
      if (!measured)
        continue;
      Plan all = plan;
      for (Piece &fc : all.fcs)
        fc.precision = p.str();
      timed.push_back(all);
      for (size_t i = 0; i < plan.fcs.size(); ++i) {
        timed.push_back(all);
        timed.back().fcs[i].precision = "fp32";
      }
    }
    if (Error e = sim.prefetch(timed))
      return e;
    for (llvm::StringRef p : fcPrecisions().drop_front()) {
      bool measured = llvm::any_of(plan.fcs, [&](const Piece &fc) {
        const Candidate *c = fc.candidate(p);
        return c && c->excluded.empty();
      });
      if (!measured)
        continue;
      std::vector<double> &saving = fcSaving[p.str()];
      saving.assign(plan.fcs.size(), 0.0);
      Plan all = plan;
      for (Piece &fc : all.fcs)
        fc.precision = p.str();
      auto baseP = sim.load(all);
      if (!baseP)
        return baseP.takeError();
      std::vector<double> basePSeconds;
      std::vector<double> fcRatio(plan.fcs.size(), 1.0);
      for (size_t i = 0; i < plan.fcs.size(); ++i) {
        Plan but = all;
        but.fcs[i].precision = "fp32";
        auto variant = sim.load(but);
        if (!variant)
          return variant.takeError();
        auto ratio = timeRatio(**baseP, **variant, options.batch,
                               options.rounds, basePSeconds);
        if (!ratio)
          return ratio.takeError();
        fcRatio[i] = *ratio;
      }
      double tp = median(basePSeconds);
      for (size_t i = 0; i < plan.fcs.size(); ++i)
        saving[i] = tp * (fcRatio[i] - 1);
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
        c.saving = fcSaving.count(c.precision) ? fcSaving[c.precision][i] : 0;
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
