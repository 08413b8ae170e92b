//===- PlanSearch.cpp - Per-layer precision search under a budget ---------===//
//
// searchPlan (recq/Driver/Planner.h): calibration, the fp32 reference,
// step 1 (CostModel.cpp), step 2 (Sensitivity.cpp), then step 3, the
// search, and the chosen plan compiled for real.
//
//===----------------------------------------------------------------------===//

#include "PlannerInternal.h"

#include "recq/Runtime/recq_cpu.h"
#include "recq/Target/Codegen.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <chrono>
#include <cmath>

using namespace mlir;
using llvm::Error;
using llvm::Expected;

namespace recq::quant {

namespace {
/// The piece's position in its precision list (0: fp32).
int rank(const Piece &p, llvm::StringRef precision) {
  llvm::ArrayRef<llvm::StringRef> list =
      p.kind == Piece::Fc ? fcPrecisions() : tablePrecisions();
  return llvm::find(list, precision) - list.begin();
}
} // namespace

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
  // (A model without FCs, e.g. tables alone, has nothing to calibrate.)
  std::vector<ActivationStats> stats;
  if (!plan.fcs.empty()) {
    auto calibrated =
        calibrate(module, calibrationPath, target, options.calibration);
    if (!calibrated)
      return calibrated.takeError();
    stats = std::move(*calibrated);
  }
  std::vector<std::optional<FcInput>> fcInputs;
  for (auto [piece, s] : llvm::zip(plan.fcs, stats)) {
    piece.input = s.input();
    fcInputs.push_back(s.input());
  }
  say(llvm::formatv(
      "calibrated {0} FC inputs ({1:f1} s)", stats.size(),
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

  // 1. Costs, then 2. each piece's sensitivity in the precisions the costs
  // leave worth it.
  listCandidates(plan, sim, /*bf16=*/targetFeatures(target) &
                                RECQ_CPU_AVX512BF16);
  if (Error e = measureCosts(plan, sim, module, *sites, **ws, calibrationPath,
                             target, options))
    return std::move(e);
  if (Error e = measureSensitivity(plan, sim, scorer, options))
    return std::move(e);
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
