//===- Calibrate.cpp - Run the fp32 model and record activations ----------===//

#include "recq/Driver/Calibrate.h"

#include "ModelRunner.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Driver/Quantize.h"
#include "recq/Support/Npz.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Parallel.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>

using namespace mlir;
using llvm::Error;
using llvm::Expected;


/// Rewrites @main of `module` to return the inputs of its FCs side by side,
/// [batch, sum of K]; returns their names and widths.
static Expected<std::vector<recq::quant::ActivationStats>>
exposeFcInputs(ModuleOp module, bool denseApart) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return llvm::createStringError("the module has no @main");
  SmallVector<recq::FcOp> fcs;
  main.walk([&](recq::FcOp fc) { fcs.push_back(fc); });
  if (fcs.empty())
    return llvm::createStringError("the model has no fully connected layer to calibrate");

  std::vector<recq::quant::ActivationStats> stats;
  for (auto [i, fc] : llvm::enumerate(fcs)) {
    auto type = cast<RankedTensorType>(fc.getInput().getType());
    if (type.isDynamicDim(1))
      return llvm::createStringError("an FC input has a dynamic width");
    recq::quant::ActivationStats s;
    auto name = dyn_cast<NameLoc>(fc.getLoc());
    s.name = (name ? name.getName().str() : "fc" + std::to_string(i)) +
             ":input";
    s.width = type.getDimSize(1);
    auto interaction = fc.getInput().getDefiningOp<recq::InteractionOp>();
    s.interaction = interaction != nullptr;
    // A dot interaction's output: the dense features, then the dots.
    if (denseApart && interaction &&
        interaction.getMode() == recq::InteractionMode::dot) {
      int64_t dense = interaction.getDense().getType().getDimSize(1);
      if (dense > 0 && dense < s.width)
        s.denseWidth = dense;
    }
    stats.push_back(s);
  }

  SmallVector<Value> inputs;
  for (recq::FcOp fc : fcs)
    inputs.push_back(fc.getInput());
  if (Error e = recq::quant::returnSideBySide(module, inputs, "calibration"))
    return std::move(e);
  return stats;
}

Expected<std::vector<recq::quant::ActivationStats>>
recq::quant::calibrate(ModuleOp module, StringRef npzPath,
                       const CodegenTarget &target,
                       const CalibrationOptions &options) {
  auto npz = readNpz(npzPath);
  if (!npz)
    return npz.takeError();
  OwningOpRef<ModuleOp> copy = module.clone();
  auto stats = exposeFcInputs(*copy, options.interactionDenseApart);
  if (!stats)
    return stats.takeError();
  // The interaction's bags batched as recq-compile batches them: the model
  // compiles to one function per table, all sharing one pooling function
  // per kind of table (convert-recq-to-linalg), and the runtime pools them
  // on its threads. The same values (--emit-calibration unchanged). Most
  // of this compile is now lowering, -O3 and code generation of one
  // target, its fp32 weights stored as bytes (storeConstantsAsBytes).
  if (auto batched = batchEmbeddingBags(*copy); !batched)
    return batched.takeError();

  SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("recq-calibration", dir))
    return llvm::createStringError("cannot create a temporary directory: " + ec.message());
  auto cleanup = llvm::make_scope_exit(
      [&] { llvm::sys::fs::remove_directories(dir); });
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point start) {
    return std::chrono::duration<double>(clock::now() - start).count();
  };
  auto report = [&](const llvm::Twine &what, double seconds) {
    if (options.progress)
      options.progress((what + llvm::formatv(" ({0:f2} s)", seconds)).str());
  };
  auto start = clock::now();
  auto so = compileModule(*copy, dir, "calibration", target);
  if (!so)
    return so.takeError();
  report("compiled the fp32 model with its " + llvm::Twine(stats->size()) +
             " FC inputs as outputs",
         since(start));
  auto runner = ModelRunner::create(so->so, *npz, npzPath);
  if (!runner)
    return runner.takeError();
  ModelRunner &r = **runner;

  // Chunks of samples, so memory stays bounded whatever the calibration
  // set's size: pass 1 finds each activation's range and mean |x|, pass 2
  // fills histograms set up from them. One chunk is run once.
  int64_t samples = r.samples();
  int64_t chunk = options.chunkSamples > 0 && r.cuttable()
                      ? options.chunkSamples
                      : std::max<int64_t>(samples, 1);
  int64_t numChunks = samples > 0 ? (samples + chunk - 1) / chunk : 1;
  // Each activation's first column in a row of the outputs, and the row's
  // width.
  std::vector<int64_t> columns;
  int64_t total = 0;
  for (const ActivationStats &s : *stats) {
    columns.push_back(total);
    total += s.width;
  }
  std::vector<float> kept; // the single chunk's values, reused by pass 2
  auto forEachChunk = [&](int pass,
                          llvm::function_ref<void(const std::vector<float> &,
                                                  int64_t rows)>
                              use) -> Error {
    for (int64_t c = 0; c < numChunks; ++c) {
      auto chunkStart = clock::now();
      int64_t begin = c * chunk, end = std::min(samples, begin + chunk);
      if (numChunks == 1 && pass == 2) {
        use(kept, total ? static_cast<int64_t>(kept.size()) / total : 0);
        return Error::success();
      }
      auto values = numChunks == 1 ? r.run(0, samples) : r.run(begin, end);
      if (!values)
        return values.takeError();
      int64_t rows = total ? static_cast<int64_t>(values->size()) / total : 0;
      use(*values, rows);
      if (numChunks == 1)
        kept = std::move(*values);
      report(llvm::formatv("pass {0}/2: samples {1}-{2} of {3}", pass, begin,
                           std::max(end, begin), samples),
             since(chunkStart));
    }
    return Error::success();
  };

  // Pass 1: range, mean |x| and count per activation (and per part of a
  // dot interaction's output: the dense features, the dots).
  std::vector<double> sumAbs(stats->size(), 0.0);
  std::vector<double> denseSumAbs(stats->size(), 0.0);
  constexpr float inf = std::numeric_limits<float>::infinity();
  for (ActivationStats &s : *stats) {
    s.min = s.denseMin = inf;
    s.max = s.denseMax = -inf;
    s.samples = 0;
    s.params.qmax = s.dense.qmax = options.qmax;
  }
  if (Error e = forEachChunk(1, [&](const std::vector<float> &v, int64_t rows) {
        for (auto [i, s] : llvm::enumerate(*stats)) {
          for (int64_t row = 0; row < rows; ++row) {
            const float *x = &v[row * total + columns[i]];
            for (int64_t c = 0; c < s.denseWidth; ++c) {
              s.denseMin = std::min(s.denseMin, x[c]);
              s.denseMax = std::max(s.denseMax, x[c]);
              denseSumAbs[i] += std::fabs(x[c]);
            }
            for (int64_t c = s.denseWidth; c < s.width; ++c) {
              s.min = std::min(s.min, x[c]);
              s.max = std::max(s.max, x[c]);
              sumAbs[i] += std::fabs(x[c]);
            }
          }
          s.samples += rows;
        }
      }))
    return std::move(e);

  // Pass 2: histograms over [min, max], bins fine where the bulk is.
  std::vector<Histogram> histograms, denseHistograms;
  for (auto [i, s] : llvm::enumerate(*stats)) {
    if (s.samples == 0) {
      s.min = s.max = s.denseMin = s.denseMax = 0;
      histograms.emplace_back(0.0f, 0.0f, 0.0f, options.bins);
      denseHistograms.emplace_back(0.0f, 0.0f, 0.0f, options.bins);
      continue;
    }
    s.meanAbs = static_cast<float>(
        sumAbs[i] / (double(s.samples) * (s.width - s.denseWidth)));
    histograms.emplace_back(s.min, s.max, s.meanAbs, options.bins);
    if (s.denseWidth == 0) {
      s.denseMin = s.denseMax = 0;
      denseHistograms.emplace_back(0.0f, 0.0f, 0.0f, options.bins);
      continue;
    }
    s.denseMeanAbs =
        static_cast<float>(denseSumAbs[i] / (double(s.samples) * s.denseWidth));
    denseHistograms.emplace_back(s.denseMin, s.denseMax, s.denseMeanAbs,
                                 options.bins);
  }
  // Each activation's histograms on a thread of their own (a bin is an
  // asinh: 17 million values took 0.3 s of one thread on the MLPerf-shaped
  // DLRM); each histogram is filled in sample order, as in turn.
  if (Error e = forEachChunk(2, [&](const std::vector<float> &v, int64_t rows) {
        llvm::parallelFor(0, stats->size(), [&](size_t i) {
          const ActivationStats &s = (*stats)[i];
          std::vector<float> values, dense;
          for (int64_t row = 0; row < rows; ++row) {
            const float *x = &v[row * total + columns[i]];
            dense.insert(dense.end(), x, x + s.denseWidth);
            values.insert(values.end(), x + s.denseWidth, x + s.width);
          }
          histograms[i].add(values);
          if (s.denseWidth)
            denseHistograms[i].add(dense);
        });
      }))
    return std::move(e);

  // Each activation's scales on a thread of its own (the MSE search took
  // 0.6 s for the MLPerf-shaped DLRM's 8 in turn), reported in order.
  std::vector<double> seconds(stats->size());
  llvm::parallelFor(0, stats->size(), [&](size_t i) {
    auto searchStart = clock::now();
    ActivationStats &s = (*stats)[i];
    s.method = s.interaction ? options.interactionMethod : options.method;
    if (s.samples)
      s.params = chooseParams(histograms[i], s.method, options.percentile,
                              options.qmax);
    if (s.samples && s.denseWidth)
      s.dense = chooseParams(denseHistograms[i], options.method,
                             options.percentile, options.qmax);
    seconds[i] = since(searchStart);
  });
  for (auto [i, s] : llvm::enumerate(*stats)) {
    std::string how;
    if (s.denseWidth)
      how =
          llvm::formatv(" (the interaction's dots, {0}; its {1} dense "
                        "features apart: scale {2:e3}, zero point {3}, {4})",
                        scaleMethodName(s.method), s.denseWidth, s.dense.scale,
                        s.dense.zeroPoint, scaleMethodName(options.method));
    else if (s.interaction)
      how = std::string(" (the interaction's output: ") +
            scaleMethodName(s.method) + ")";
    report(llvm::formatv("[{0}/{1}] {2}: {3} values, scale {4:e3}, zero point "
                         "{5}{6}",
                         i + 1, stats->size(), s.name, s.samples * s.width,
                         s.params.scale, s.params.zeroPoint, how),
           seconds[i]);
  }
  return std::move(*stats);
}

llvm::json::Value
recq::quant::toJSON(const std::vector<ActivationStats> &stats,
                    const CalibrationOptions &options) {
  llvm::json::Array tensors;
  for (const ActivationStats &s : stats) {
    llvm::json::Object t{{"name", s.name},
                         {"width", s.width},
                         {"samples", static_cast<int64_t>(s.samples)},
                         {"min", s.min},
                         {"max", s.max},
                         {"mean_abs", s.meanAbs},
                         {"scale", s.params.scale},
                         {"zero_point", s.params.zeroPoint},
                         {"qmax", s.params.qmax},
                         {"method", scaleMethodName(s.method)}};
    // A dot interaction's output: min .. method above are its dots'.
    if (s.denseWidth)
      t["dense"] =
          llvm::json::Object{{"width", s.denseWidth},
                             {"min", s.denseMin},
                             {"max", s.denseMax},
                             {"mean_abs", s.denseMeanAbs},
                             {"scale", s.dense.scale},
                             {"zero_point", s.dense.zeroPoint},
                             {"method", scaleMethodName(options.method)}};
    tensors.push_back(std::move(t));
  }
  llvm::json::Object root{
      {"method", scaleMethodName(options.method)},
      {"interaction_method", scaleMethodName(options.interactionMethod)},
      {"tensors", std::move(tensors)}};
  if (options.method == ScaleMethod::Percentile)
    root["percentile"] = options.percentile;
  return llvm::json::Value(std::move(root));
}
