//===- recq-run.cpp - Run and benchmark a compiled recq model -------------===//
//
//   recq-run model.so --inputs in.npz [--reference ref.npz] [--output out.npz]
//            [--batch N] [--bench] [--iters N] [--atol X] [--info]
//   recq-run model.so --check new.npz [--accuracy-budget B] [--fp32 m.so]
//
// Loads model.so through its C API (recq.h), feeds it the arrays of an .npz
// named as the model's inputs (the first --batch samples: dense rows,
// offsets columns and the indices those bags cover), and compares output 0
// with the reference (the array named like the output, or `reference`)
// under the tolerance that fits the artifact (referenceRule below). --bench
// times --iters runs and prints p50/p90/p99 latency and samples/s.
//
// Exit status (docs/Tools.md): 0 the model ran and, where there was a
// reference or --check, met its tolerance or budget; 1 an error (bad
// arguments, unreadable files, a model that fails to load or to run);
// 2 the model ran but its outputs are outside the tolerance (--reference)
// or the budget (--check).
//
//===----------------------------------------------------------------------===//

#include "recq/Quant/Accuracy.h"
#include "recq/Runtime/recq.h"
#include "recq/Runtime/recq_cpu.h"
#include "recq/Support/ModelApi.h"
#include "recq/Support/Npz.h"
#include "recq/Support/Samples.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"


#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

namespace cl = llvm::cl;
using llvm::errs;
using llvm::outs;

namespace {
cl::OptionCategory toolOptions("recq-run options");
cl::opt<std::string> modelPath(cl::Positional, cl::cat(toolOptions),
                               cl::desc("<model.so>"), cl::Required);
cl::opt<std::string> inputsPath("inputs", cl::cat(toolOptions),
                                cl::desc("Inputs (.npz)"),
                                cl::value_desc("file"));
cl::opt<std::string> referencePath(
    "reference", cl::cat(toolOptions),
    cl::desc("Reference outputs (.npz; default: --inputs when it holds them)"),
    cl::value_desc("file"));
cl::opt<std::string> outputPath("output", cl::cat(toolOptions),
                                cl::desc("Write the outputs (.npz)"),
                                cl::value_desc("file"));
cl::opt<int64_t> batchSize("batch", cl::cat(toolOptions),
                           cl::desc("Use the first N samples (default: all)"),
                           cl::init(-1));
cl::opt<bool> bench("bench", cl::cat(toolOptions),
                    cl::desc("Time --iters runs"));
cl::opt<bool> profile(
    "profile", cl::cat(toolOptions),
    cl::desc("With --bench: each op's share of the timed runs (a model "
             "compiled with recq-compile --profile; docs/Profiling.md)"));
cl::opt<int> iters("iters", cl::cat(toolOptions),
                   cl::desc("Runs to time with --bench"), cl::init(100));
cl::opt<double> tolerance(
    "atol", cl::cat(toolOptions),
    cl::desc("Largest accepted |output - reference| (default: 1e-5 for an "
             "fp32 model; a quantized one is held to its plan's budget)"),
    cl::init(recq::quant::kFp32Tolerance));
cl::opt<bool> info("info", cl::cat(toolOptions),
                   cl::desc("Print the model's interface and variants, "
                            "which one runs and why, and exit"));
cl::opt<std::string> targetName(
    "target", cl::cat(toolOptions),
    cl::desc("Run this variant of the model (default: the best this CPU "
             "runs, or RECQ_TARGET's)"),
    cl::value_desc("name"), cl::init(""));
cl::opt<std::string> checkPath(
    "check", cl::cat(toolOptions),
    cl::desc("Drift check: run on these inputs (.npz) and compare with the "
             "fp32 outputs (its 'reference' array, or --fp32) under the "
             "plan's metric; exit 2 when the budget is broken"),
    cl::value_desc("new.npz"));
cl::opt<std::string> budgetText(
    "accuracy-budget", cl::cat(toolOptions),
    cl::desc("With --check: the budget (default: the plan's), e.g. 0.1%"),
    cl::value_desc("budget"));
cl::opt<std::string> metricName(
    "metric", cl::cat(toolOptions),
    cl::desc("With --check: logloss, auc or max-abs (default: the plan's)"));
cl::opt<std::string>
    fp32Path("fp32", cl::cat(toolOptions),
             cl::desc("With --check: the fp32 model.so whose outputs are the "
                      "reference (default: the inputs' 'reference' array)"),
             cl::value_desc("model-fp32.so"));

/// recq-run --profile: each op's time per run, most first.
void printProfile(const recq::ModelApi &api, recq_model *model, int runs) {
  struct Op {
    const char *name;
    uint64_t ns, calls;
  };
  std::vector<Op> ops;
  uint64_t total = 0;
  for (int i = 0, n = api.profileSize(model); i < n; ++i) {
    Op op{};
    op.name = api.profileOp(model, i, &op.ns, &op.calls);
    total += op.ns;
    ops.push_back(op);
  }
  llvm::stable_sort(ops, [](const Op &a, const Op &b) { return a.ns > b.ns; });
  outs() << llvm::format("profile: %zu ops, ms per run (summed over "
                         "threads), share of the profiled time:\n",
                         ops.size());
  for (const Op &op : ops)
    outs() << llvm::format(
        "  %9.3f ms %6.2f%%  %6.1f calls  %s\n", op.ns * 1e-6 / runs,
        total ? 100.0 * op.ns / total : 0.0, double(op.calls) / runs, op.name);
  outs() << llvm::format("  %9.3f ms in all\n", total * 1e-6 / runs);
}

int fail(const llvm::Twine &message) {
  llvm::WithColor::error(errs()) << message << "\n";
  return 1;
}

/// The features in `mask`, as /proc/cpuinfo names them ("nothing": none).
std::string featureList(uint32_t mask) {
  std::string list;
  for (int i = 0; i < RECQ_CPU_NUM_FEATURES; ++i)
    if (mask & (1u << i))
      list += (list.empty() ? "" : ",") +
              std::string(recq_cpu_feature_name(1u << i));
  return list.empty() ? "nothing" : list;
}

std::string shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape))
    s += (i ? ", " : "") + (d < 0 ? std::string("?") : std::to_string(d));
  return s + "]";
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t k = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[k];
}
} // namespace

/// The plan compiled into the model, parsed (nullopt: none or unreadable).
static std::optional<llvm::json::Value> parsePlan(const char *text) {
  if (!text)
    return std::nullopt;
  auto value = llvm::json::parse(text);
  if (!value) {
    llvm::consumeError(value.takeError());
    return std::nullopt;
  }
  return std::move(*value);
}

/// The plan's budget; nullopt for a plan chosen by hand (its budget is
/// null: recq-compile --quantize/--tables).
static std::optional<double> planBudget(const llvm::json::Object &plan) {
  std::optional<double> budget = plan.getNumber("budget");
  if (budget && std::isnan(*budget))
    return std::nullopt;
  return budget;
}

/// The precision plan compiled into the model, one line per piece.
static void printPlan(const char *text) {
  if (!text) {
    outs() << "plan: none (every FC and table in fp32)\n";
    return;
  }
  std::optional<llvm::json::Value> plan = parsePlan(text);
  const llvm::json::Object *root = plan ? plan->getAsObject() : nullptr;
  if (!root) {
    outs() << "plan: unreadable\n";
    return;
  }
  if (std::optional<double> budget = planBudget(*root))
    outs() << "plan: metric " << root->getString("metric").value_or("?")
           << llvm::format(", budget %g", *budget);
  else
    outs() << "plan: by hand (recq-compile --quantize/--tables), no budget";
  if (auto batch = root->getInteger("batch"); batch && *batch > 0)
    outs() << ", costs at batch " << *batch;
  outs() << "\n";
  for (llvm::StringRef kind : {"fcs", "tables"})
    if (const llvm::json::Array *pieces = root->getArray(kind))
      for (const llvm::json::Value &v : *pieces)
        if (const llvm::json::Object *piece = v.getAsObject())
          outs() << (kind == "fcs" ? "  fc    " : "  table ")
                 << piece->getString("name").value_or("?") << ": "
                 << piece->getString("precision").value_or("?") << "\n";
}

/// Whether the plan stores any FC or table below fp32.
static bool quantizes(const llvm::json::Object &plan) {
  for (llvm::StringRef kind : {"fcs", "tables"})
    if (const llvm::json::Array *pieces = plan.getArray(kind))
      for (const llvm::json::Value &v : *pieces)
        if (const llvm::json::Object *piece = v.getAsObject())
          if (piece->getString("precision").value_or("fp32") != "fp32")
            return true;
  return false;
}

/// --reference: output 0 against the reference under the tolerance that
/// fits the artifact --
///   --atol X given, or an fp32 model: max |p - ref| <= X (default 1e-5);
///   a planned model: the plan's metric within the plan's budget;
///   quantized by --quantize/--tables (a plan without a budget): relative
///   log-loss and, with labels, relative AUC within kFixedPrecisionBudget.
/// Returns the exit status: 0 within, 2 outside.
static int referenceRule(const char *planText, const float *out,
                         std::vector<float> expected, std::vector<float> labels,
                         int64_t count) {
  double maxAbs = 0, maxRel = 0;
  for (int64_t k = 0; k < count; ++k) {
    double diff = std::fabs(double(out[k]) - expected[k]);
    double rel = diff / std::max(1e-12, std::fabs(double(expected[k])));
    if (std::isnan(diff) || diff > maxAbs) // a NaN output is the largest
      maxAbs = diff;                       // difference, and stays so
    if (std::isnan(rel) || rel > maxRel)
      maxRel = rel;
  }
  std::optional<llvm::json::Value> parsed = parsePlan(planText);
  const llvm::json::Object *plan = parsed ? parsed->getAsObject() : nullptr;
  if (tolerance.getNumOccurrences() || !plan || !quantizes(*plan)) {
    bool ok = maxAbs <= tolerance;
    outs() << llvm::format("reference: max |diff| %.3g, max rel %.3g "
                           "(tolerance %.3g%s): %s\n",
                           maxAbs, maxRel, double(tolerance),
                           tolerance.getNumOccurrences() ? ", --atol"
                                                         : ", fp32 model",
                           ok ? "ok" : "MISMATCH");
    return ok ? 0 : 2;
  }
  std::vector<float> got(out, out + count);
  expected.resize(count);
  if (static_cast<int64_t>(labels.size()) >= count)
    labels.resize(count);
  else
    labels.clear();
  std::optional<double> budget = planBudget(*plan);
  bool planned = budget.has_value();
  std::vector<std::pair<std::string, double>> rules; // metric, budget
  if (planned) {
    rules.push_back(
        {plan->getString("metric").value_or("logloss").str(), *budget});
  } else {
    rules.push_back({"logloss", recq::quant::kFixedPrecisionBudget});
    if (!labels.empty())
      rules.push_back({"auc", recq::quant::kFixedPrecisionBudget});
  }
  bool ok = true;
  std::string verdicts;
  bool bothClasses = llvm::any_of(labels, [](float l) { return l > 0.5f; }) &&
                     llvm::any_of(labels, [](float l) { return l <= 0.5f; });
  for (auto &[metric, budget] : rules) {
    if (metric == "auc" && !bothClasses) {
      if (!planned) { // the default rule's AUC half needs both classes
        verdicts += (verdicts.empty() ? "" : ", ") +
                    std::string("auc undefined (one class of labels)");
        continue;
      }
      metric = "logloss"; // an AUC plan checked on data without both classes
    }
    recq::quant::Scorer scorer(expected, labels, metric);
    recq::quant::Accuracy a = scorer.score(got);
    bool within = a.loss <= budget;
    ok = ok && within;
    verdicts +=
        llvm::formatv("{0}{1} change {2:e2} (budget {3:e2})",
                      verdicts.empty() ? "" : ", ", metric, a.loss, budget);
  }
  outs() << llvm::format("reference: max |diff| %.3g; ", maxAbs) << verdicts
         << (planned ? " -- the plan's budget"
                     : " -- a quantized model's default budget")
         << (labels.empty() ? ", no labels" : "") << ": "
         << (ok ? "ok" : "OUTSIDE THE BUDGET") << "\n";
  return ok ? 0 : 2;
}

/// Output 0 of the fp32 model for the drift check: --fp32's model run on
/// `inputs`, else the --check file's 'reference' array.
static llvm::Expected<std::vector<float>>
fp32Outputs(const std::vector<recq::SampleArray> &inputs, int64_t count) {
  if (fp32Path.empty()) {
    auto npz = recq::readNpz(checkPath);
    if (!npz)
      return npz.takeError();
    auto ref = npz->find("reference");
    if (ref == npz->end())
      return llvm::createStringError(
          checkPath + " has no 'reference' array (the fp32 model's outputs): "
                      "add one, or give --fp32 model-fp32.so");
    std::vector<float> values = ref->second.asF32();
    if (static_cast<int64_t>(values.size()) < count)
      return llvm::createStringError(
          checkPath + ": 'reference' holds " + llvm::Twine(values.size()) +
          " values, the output " + llvm::Twine(count));
    values.resize(count);
    return values;
  }
  auto loaded = recq::LoadedModel::open(fp32Path);
  if (!loaded)
    return loaded.takeError();
  const recq::ModelApi &api = (*loaded)->api;
  recq_model *model = (*loaded)->model;
  recq_status st;
  if (api.numInputs(model) != static_cast<int>(inputs.size()))
    return llvm::createStringError(fp32Path + " takes " +
                                   llvm::Twine(api.numInputs(model)) +
                                   " inputs, the model " +
                                   llvm::Twine(inputs.size()));
  recq::BoundInputs bound(inputs);
  std::vector<const void *> &data = bound.data;
  std::vector<const int64_t *> &shapes = bound.shapes;
  int64_t size = api.outputSize(model, shapes.data());
  if (size != count)
    return llvm::createStringError(fp32Path + " gives " + llvm::Twine(size) +
                                   " outputs, the model " + llvm::Twine(count));
  std::vector<float> out(std::max<int64_t>(size, 1));
  int64_t shape[8];
  if (api.run(model, data.data(), shapes.data(), out.data(), out.size(), shape,
              &st) != RECQ_OK)
    return llvm::createStringError(fp32Path + ": " + st.message);
  out.resize(size);
  return out;
}

/// The drift check: `out` against the fp32 outputs under the budget.
/// Returns the exit status: 0 within budget, 2 broken (naming the plan's
/// quantized pieces by their measured sensitivity), 1 on an error.
static int checkDrift(const char *planText, const std::vector<float> &all,
                      std::vector<float> fp32, const recq::Npz &npz,
                      int64_t count) {
  std::vector<float> out(all.begin(), all.begin() + count);
  std::optional<llvm::json::Value> parsed = parsePlan(planText);
  const llvm::json::Object *plan = parsed ? parsed->getAsObject() : nullptr;
  std::string metric = metricName;
  if (metric.empty())
    metric = plan ? plan->getString("metric").value_or("logloss").str()
                  : "logloss";
  std::optional<double> budget;
  if (!budgetText.empty()) {
    budget = recq::quant::parseBudget(budgetText);
    if (!budget)
      return fail("--accuracy-budget '" + budgetText +
                  "' is not a non-negative number (0.1% or 0.001)");
  } else if (plan) {
    budget = planBudget(*plan);
  }
  if (!budget)
    return fail("--check needs --accuracy-budget (the model carries no "
                "plan with one)");
  std::vector<float> labels;
  if (auto it = npz.find("labels"); it != npz.end()) {
    labels = it->second.asF32();
    if (static_cast<int64_t>(labels.size()) != count)
      return fail(checkPath + ": 'labels' has " + llvm::Twine(labels.size()) +
                  " values for " + llvm::Twine(count) + " outputs");
  }
  if (llvm::Error e =
          recq::quant::checkMetric(metric, !labels.empty(), checkPath))
    return fail(llvm::toString(std::move(e)));
  recq::quant::Scorer scorer(std::move(fp32), std::move(labels), metric);
  recq::quant::Accuracy a = scorer.score(out);
  bool ok = a.loss <= *budget;
  outs() << llvm::format("drift check on %s, %lld samples: %s %.3e, budget "
                         "%.3e: %s\n",
                         checkPath.c_str(), (long long)a.samples,
                         metric.c_str(), a.loss, *budget,
                         ok ? static_cast<const char *>("within budget")
                            : static_cast<const char *>("BUDGET BROKEN"));
  if (scorer.hasLabels())
    outs() << llvm::format("  log-loss %.5f (fp32 %.5f), AUC %.5f (fp32 "
                           "%.5f), mean |dp| %.2e, max |dp| %.2e\n",
                           a.logLoss, a.fp32LogLoss, a.auc, a.fp32Auc,
                           a.meanAbsDelta, a.maxAbsDelta);
  else
    outs() << llvm::format("  mean |dp| %.2e, max |dp| %.2e (no labels)\n",
                           a.meanAbsDelta, a.maxAbsDelta);
  if (ok)
    return 0;

  // The plan's quantized pieces, the most sensitive (alone, on the
  // calibration data) first: where to look, and what to do.
  if (plan) {
    if (const llvm::json::Object *acc = plan->getObject("accuracy"))
      if (const llvm::json::Object *cal = acc->getObject("calibration"))
        if (auto loss = cal->getNumber("loss"))
          outs() << llvm::format("  the plan measured %.3e on its "
                                 "calibration set\n",
                                 *loss);
    struct Suspect {
      std::string kind, name, precision;
      double loss;
    };
    std::vector<Suspect> suspects;
    for (llvm::StringRef kind : {"fcs", "tables"})
      if (const llvm::json::Array *pieces = plan->getArray(kind))
        for (const llvm::json::Value &v : *pieces) {
          const llvm::json::Object *piece = v.getAsObject();
          if (!piece)
            continue;
          std::string precision =
              piece->getString("precision").value_or("fp32").str();
          if (precision == "fp32")
            continue;
          double loss = NAN;
          if (const llvm::json::Array *cands = piece->getArray("candidates"))
            for (const llvm::json::Value &c : *cands)
              if (const llvm::json::Object *co = c.getAsObject())
                if (co->getString("precision") == precision)
                  loss = co->getNumber("loss").value_or(NAN);
          suspects.push_back({kind == "fcs" ? "fc" : "table",
                              piece->getString("name").value_or("?").str(),
                              precision, loss});
        }
    std::stable_sort(suspects.begin(), suspects.end(),
                     [](const Suspect &a, const Suspect &b) {
                       return (std::isnan(b.loss) ? -INFINITY : b.loss) <
                              (std::isnan(a.loss) ? -INFINITY : a.loss);
                     });
    if (!suspects.empty())
      outs() << "  quantized pieces, most sensitive on the calibration data "
                "first:\n";
    for (const Suspect &s : suspects)
      outs() << llvm::format("    %-5s %-32s %-5s alone: %.3e\n",
                             s.kind.c_str(), s.name.c_str(),
                             s.precision.c_str(), s.loss);
  }
  outs() << "  new scales, same precisions: recq-compile model.onnx --plan "
            "<model>.plan.json --recalibrate "
         << checkPath << " -o <model>.so\n"
         << "  a new plan: recq-compile model.onnx --calibration " << checkPath
         << " --accuracy-budget <budget> -o <model>.so\n";
  return 2;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // libLLVM registers a `threads` option of its own; recq-run's replaces it.
  if (cl::Option *llvmThreads = cl::getRegisteredOptions().lookup("threads"))
    llvmThreads->removeArgument();
  static cl::opt<int> threads(
      "threads", cl::cat(toolOptions),
      cl::desc("Threads per run (default: RECQ_NUM_THREADS, else all CPUs)"),
      cl::init(0));
  cl::HideUnrelatedOptions(toolOptions);
  cl::ParseCommandLineOptions(
      argc, argv,
      "recq model runner\n\n"
      "  recq-run model.so --inputs in.npz [--reference ref.npz] [--bench]\n"
      "  recq-run model.so --check new.npz   (the drift check)\n"
      "  recq-run model.so --info\n\n"
      "--reference (default: --inputs when it holds 'reference') compares\n"
      "with a tolerance that fits the model: an fp32 model max |diff| <=\n"
      "1e-5; a planned model its plan's metric within its budget; a model\n"
      "quantized by --quantize/--tables relative log-loss and AUC within 1%;\n"
      "--atol X: max |diff| <= X for any model.\n\n"
      "Exit status: 0 ran, and met the tolerance or budget where one\n"
      "applied; 1 an error (arguments, files, load, run); 2 ran, but the\n"
      "outputs are outside the tolerance (--reference) or the budget\n"
      "(--check).\n");

  auto loaded = recq::LoadedModel::open(modelPath, targetName);
  if (!loaded)
    return fail(llvm::toString(loaded.takeError()));
  const recq::ModelApi &api = (*loaded)->api;
  recq_model *model = (*loaded)->model;
  recq_status status;

  int numInputs = api.numInputs(model);
  if (info) {
    outs() << "target: " << api.target(model) << " (" << api.targetReason(model)
           << ")\n";
    for (int v = 0; v < api.numVariants(model); ++v) {
      uint32_t needs = 0;
      const char *name = api.variant(model, v, &needs);
      char missing[160];
      bool runs = recq_cpu_missing(needs, missing, sizeof missing) == 0;
      outs() << "variant " << v << ": " << name << ", needs "
             << featureList(needs) << "; "
             << (runs ? "this CPU runs it" : "this CPU lacks ")
             << (runs ? "" : missing)
             << (llvm::StringRef(name) == api.target(model) ? " (running)" : "")
             << "\n";
    }
    for (int i = 0; i < numInputs; ++i) {
      int dtype, rank;
      int64_t shape[8];
      api.inputInfo(model, i, &dtype, &rank, shape);
      outs() << "input " << i << ": " << api.inputName(model, i) << " "
             << (dtype == 1 ? "f32" : dtype == 2 ? "i64" : "i32") << " "
             << shapeString({shape, static_cast<size_t>(rank)}) << "\n";
    }
    for (int o = 0; o < api.numOutputs(model); ++o) {
      int dtype, rank;
      int64_t shape[8];
      api.outputInfo(model, o, &dtype, &rank, shape);
      outs() << "output " << o << ": " << api.outputName(model, o) << " f32 "
             << shapeString({shape, static_cast<size_t>(rank)}) << "\n";
    }
    for (int t = 0; t < api.numTables(model); ++t) {
      int indices, offsets, last;
      int64_t row;
      api.tableInfo(model, t, &indices, &offsets, &row, &last);
      int64_t indicesRow = api.tableIndicesRow(model, t);
      outs() << "table " << t << ": " << api.tableRows(model, t)
             << " rows, indices '" << api.inputName(model, indices) << "'"
             << (indicesRow >= 0 ? "[" + std::to_string(indicesRow) + "]" : "");
      if (offsets >= 0)
        outs() << ", offsets '" << api.inputName(model, offsets) << "'"
               << (row >= 0 ? "[" + std::to_string(row) + "]" : "")
               << (last ? " (include_last_offset)" : "");
      outs() << "\n";
    }
    int64_t weightBytes = 0, hugeBytes = 0;
    api.weightsInfo(model, &weightBytes, &hugeBytes);
    if (weightBytes > 0) {
      // Both in the file's unit: KiB under 1 MiB, else MiB.
      bool small = weightBytes < (1 << 20);
      auto amount = [&](int64_t b) {
        return llvm::format(small ? "%.1f KiB" : "%.1f MiB",
                            b / (small ? 1024.0 : 1048576.0));
      };
      outs() << "weights: " << amount(weightBytes) << " mapped, ";
      if (hugeBytes >= 0)
        outs() << amount(hugeBytes) << " of them on huge pages\n";
      else
        outs() << "huge pages unknown (no /proc/self/smaps)\n";
    }
    printPlan(api.plan(model));
    return 0;
  }
  bool checking = !checkPath.empty();
  if (checking) {
    if (!inputsPath.empty() || !referencePath.empty() || bench)
      return fail("--check runs on its own inputs: drop --inputs, "
                  "--reference and --bench");
    inputsPath = checkPath.getValue();
  } else if (!budgetText.empty() || !metricName.empty() || !fp32Path.empty()) {
    return fail("--accuracy-budget, --metric and --fp32 apply to --check");
  }
  if (inputsPath.empty())
    return fail("--inputs is required (or --info, --check)");
  if (threads > 0)
    api.setThreads(model, threads);
  int usedThreads = api.threads(model);

  auto npz = recq::readNpz(inputsPath);
  if (!npz)
    return fail(llvm::toString(npz.takeError()));

  // The inputs, cut to the first --batch samples (recq::sliceSamples:
  // dense rows, each table's bags and the indices they cover).
  std::vector<recq::SampleArray> inputs;
  std::vector<recq::TableBinding> tables;
  if (llvm::Error e = recq::readModelInputs(api, model, *npz, inputsPath,
                                            inputs, tables))
    return fail(llvm::toString(std::move(e)));
  int64_t batch = recq::countSamples(inputs, tables);
  if (batchSize > 0 && batch >= 0 && batchSize < batch) {
    auto cut = recq::sliceSamples(inputs, tables, 0, batchSize);
    if (!cut)
      return fail(inputsPath + ": --batch: " + llvm::toString(cut.takeError()));
    inputs = std::move(*cut);
    batch = batchSize;
  }
  // i32 inputs are held as i64 until here.
  recq::BoundInputs bound(inputs);
  std::vector<const void *> &data = bound.data;
  std::vector<const int64_t *> &shapes = bound.shapes;
  int outRank, outDtype;
  int64_t outShapeDecl[8];
  api.outputInfo(model, 0, &outDtype, &outRank, outShapeDecl);
  size_t capacity = std::max<int64_t>(api.outputSize(model, shapes.data()), 1);
  std::vector<float> out(capacity);
  int64_t outShape[8] = {0};

  auto runOnce = [&]() {
    return api.run(model, data.data(), shapes.data(), out.data(), out.size(),
                   outShape, &status);
  };
  if (runOnce() != RECQ_OK)
    return fail(modelPath + ": " + status.message);
  std::vector<int64_t> shape(outShape, outShape + outRank);
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  std::string outName = api.outputName(model, 0);
  outs() << "output '" << outName << "' " << shapeString(shape) << "\n";

  if (checking) {
    auto fp32 = fp32Outputs(inputs, count);
    if (!fp32)
      return fail(llvm::toString(fp32.takeError()));
    return checkDrift(api.plan(model), out, *fp32, *npz, count);
  }

  int exitCode = 0;
  std::string refFile = referencePath.empty() ? inputsPath.getValue()
                                              : referencePath.getValue();
  auto refNpz = referencePath.empty() ? std::move(npz) : recq::readNpz(refFile);
  if (!refNpz)
    return fail(llvm::toString(refNpz.takeError()));
  auto ref = refNpz->find(outName);
  if (ref == refNpz->end())
    ref = refNpz->find("reference");
  if (ref != refNpz->end()) {
    std::vector<float> expected = ref->second.asF32();
    if (static_cast<int64_t>(expected.size()) < count)
      return fail(refFile + ": the reference holds " +
                  llvm::Twine(expected.size()) + " values, the output " +
                  llvm::Twine(count));
    std::vector<float> labels;
    if (auto it = refNpz->find("labels"); it != refNpz->end())
      labels = it->second.asF32();
    exitCode = referenceRule(api.plan(model), out.data(), std::move(expected),
                             std::move(labels), count);
  } else if (!referencePath.empty()) {
    return fail(refFile + " has no array '" + outName + "' or 'reference'");
  }

  if (!outputPath.empty()) {
    recq::Npz result;
    recq::NpyArray &a = result[outName];
    a.dtype = "f4";
    a.shape = shape;
    a.data.resize(count * sizeof(float));
    std::memcpy(a.data.data(), out.data(), a.data.size());
    if (llvm::Error e = recq::writeNpz(outputPath, result))
      return fail(llvm::toString(std::move(e)));
  }

  if (profile && !bench)
    return fail("--profile times the --bench runs: add --bench");
  if (profile && api.profileSize(model) <= 0)
    return fail(modelPath + " was compiled without --profile (recompile it "
                            "with recq-compile --profile)");
  if (bench) {
    if (profile)
      api.profileReset(model);
    recq_table_store_stats before{};
    bool remote = api.tableStoreStats(model, &before) == 0;
    std::vector<double> ms;
    for (int k = 0; k < std::max(iters.getValue(), 1); ++k) {
      auto start = std::chrono::steady_clock::now();
      if (runOnce() != RECQ_OK)
        return fail(modelPath + ": " + status.message);
      ms.push_back(std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - start)
                       .count());
    }
    double p50 = percentile(ms, 0.5);
    if (batch < 0)
      batch = outRank > 0 ? outShape[0] : 1;
    outs() << llvm::format("bench: batch %lld, %d runs, %d thread(s): "
                           "p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, "
                           "%.0f samples/s\n",
                           (long long)std::max<int64_t>(batch, 1), iters.getValue(),
                           usedThreads, p50, percentile(ms, 0.9),
                           percentile(ms, 0.99),
                           std::max<int64_t>(batch, 1) * 1000.0 / p50);
    if (profile)
      printProfile(api, model, std::max(iters.getValue(), 1));
    recq_table_store_stats after{};
    if (remote && api.tableStoreStats(model, &after) == 0) {
      // The timed runs' share: after minus before.
      uint64_t lookups = after.lookups - before.lookups;
      uint64_t hits = after.cache_hits - before.cache_hits;
      uint64_t runs = std::max<uint64_t>(after.calls - before.calls, 1);
      outs() << llvm::format(
          "remote tables: %.1f distinct rows a run, cache hits %.1f%% "
          "(%lld rows cached at most), %.1f rows fetched a run in %.1f "
          "commands, %.3f ms a run in the store; %llu redirects, %llu "
          "retries\n",
          double(lookups) / runs,
          lookups ? 100.0 * double(hits) / double(lookups) : 0.0,
          (long long)after.cache_rows,
          double(after.fetched_rows - before.fetched_rows) / runs,
          double(after.commands - before.commands) / runs,
          1e3 * (after.fetch_seconds - before.fetch_seconds) / runs,
          (unsigned long long)(after.redirects - before.redirects),
          (unsigned long long)(after.retries - before.retries));
    }
  }
  return exitCode;
}
