//===- Plan.cpp - A per-layer precision plan and how it applies -----------===//

#include "recq/Driver/Plan.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Driver/Quantize.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using llvm::Error;
using llvm::Expected;
namespace json = llvm::json;

namespace recq::quant {

llvm::ArrayRef<llvm::StringRef> fcPrecisions() {
  static const llvm::StringRef names[] = {"fp32", "bf16", "int8"};
  return names;
}

llvm::ArrayRef<llvm::StringRef> tablePrecisions() {
  static const llvm::StringRef names[] = {"fp32", "fp16", "int8", "int4"};
  return names;
}

const Candidate *Piece::candidate(llvm::StringRef p) const {
  for (const Candidate &c : candidates)
    if (c.precision == p)
      return &c;
  return nullptr;
}

double Plan::estimatedSeconds() const {
  double seconds = fp32Seconds;
  for (const std::vector<Piece> *pieces : {&fcs, &tables})
    for (const Piece &p : *pieces)
      if (const Candidate *c = p.candidate(p.precision);
          c && !std::isnan(c->saving))
        seconds -= c->saving;
  return seconds;
}

std::string Plan::compact() const {
  std::string s;
  for (const std::vector<Piece> *pieces : {&fcs, &tables})
    for (const Piece &p : *pieces)
      s += p.precision == "fp32"   ? 'f'
           : p.precision == "fp16" ? 'h'
           : p.precision == "bf16" ? 'b'
           : p.precision == "int8" ? '8'
                                   : '4';
  return s;
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

/// NaN (not measured) as null.
static json::Value number(double v) {
  if (std::isnan(v))
    return nullptr;
  return v;
}

static json::Value toJSON(const Accuracy &a) {
  return json::Object{{"loss", number(a.loss)},
                      {"log_loss", number(a.logLoss)},
                      {"fp32_log_loss", number(a.fp32LogLoss)},
                      {"auc", number(a.auc)},
                      {"fp32_auc", number(a.fp32Auc)},
                      {"mean_abs_delta", number(a.meanAbsDelta)},
                      {"max_abs_delta", number(a.maxAbsDelta)},
                      {"samples", a.samples}};
}

static json::Value toJSON(const Piece &p) {
  json::Array candidates;
  for (const Candidate &c : p.candidates) {
    json::Object o{{"precision", c.precision},
                   {"loss", number(c.loss)},
                   {"mean_abs_delta", number(c.meanAbsDelta)},
                   {"max_abs_delta", number(c.maxAbsDelta)},
                   {"saving_seconds", number(c.saving)}};
    if (!c.excluded.empty())
      o["excluded"] = c.excluded;
    candidates.push_back(std::move(o));
  }
  json::Object o{{"name", p.name},
                 {"shape", json::Array{p.dim0, p.dim1}},
                 {"precision", p.precision},
                 {"candidates", std::move(candidates)}};
  if (p.input) {
    const QuantParams &q = p.input->params;
    json::Object in{
        {"scale", q.scale}, {"zero_point", q.zeroPoint}, {"qmax", q.qmax}};
    if (p.input->denseWidth > 0)
      in["dense"] = json::Object{{"width", p.input->denseWidth},
                                 {"scale", p.input->dense.scale},
                                 {"zero_point", p.input->dense.zeroPoint}};
    o["input"] = std::move(in);
  }
  return json::Value(std::move(o));
}

json::Value toJSON(const Plan &plan) {
  json::Array fcs, tables, visited;
  for (const Piece &p : plan.fcs)
    fcs.push_back(toJSON(p));
  for (const Piece &p : plan.tables)
    tables.push_back(toJSON(p));
  for (const VisitedPlan &v : plan.visited)
    visited.push_back(json::Object{{"step", v.step},
                                   {"change", v.change},
                                   {"loss", number(v.loss)},
                                   {"seconds", number(v.seconds)},
                                   {"plan", v.precisions}});
  return json::Object{
      {"recq_plan", Plan::kVersion},
      {"metric", plan.metric},
      {"budget", number(plan.budget)},
      {"target", plan.target},
      {"calibration_method", plan.calibrationMethod},
      {"interaction_method", plan.interactionMethod},
      {"batch", plan.batch},
      {"cost_model", plan.costModel},
      {"fp32_seconds", number(plan.fp32Seconds)},
      {"estimated_seconds", number(plan.estimatedSeconds())},
      {"fcs", std::move(fcs)},
      {"tables", std::move(tables)},
      {"visited", std::move(visited)},
      {"accuracy", json::Object{{"calibration", toJSON(plan.calibration)},
                                {"eval", toJSON(plan.eval)}}}};
}

namespace {
/// Reads fields off JSON objects, remembering the first problem.
class Reader {
public:
  explicit Reader(llvm::StringRef what) : what(what.str()) {}

  double number(const json::Object &o, llvm::StringRef key,
                llvm::StringRef where) {
    const json::Value *v = o.get(key);
    if (!v || v->kind() == json::Value::Null)
      return kUnmeasured;
    if (auto d = v->getAsNumber())
      return *d;
    fail(where + "." + key + " is not a number");
    return kUnmeasured;
  }
  std::string string(const json::Object &o, llvm::StringRef key,
                     llvm::StringRef where, bool required = false) {
    if (auto s = o.getString(key))
      return s->str();
    if (required || o.get(key))
      fail(where + "." + key + (o.get(key) ? " is not a string" : " is missing"));
    return "";
  }
  const json::Array *array(const json::Object &o, llvm::StringRef key,
                           llvm::StringRef where) {
    if (const json::Array *a = o.getArray(key))
      return a;
    fail(where + "." + key + " is missing or not an array");
    return nullptr;
  }
  void fail(const llvm::Twine &message) {
    if (error.empty())
      error = message.str();
  }
  Error take() {
    if (error.empty())
      return Error::success();
    return llvm::createStringError(what + ": " + error);
  }

  std::string what, error;
};
} // namespace

static Accuracy accuracyFromJSON(const json::Object *o, Reader &r,
                                 llvm::StringRef where) {
  Accuracy a;
  if (!o)
    return a;
  a.loss = r.number(*o, "loss", where);
  a.logLoss = r.number(*o, "log_loss", where);
  a.fp32LogLoss = r.number(*o, "fp32_log_loss", where);
  a.auc = r.number(*o, "auc", where);
  a.fp32Auc = r.number(*o, "fp32_auc", where);
  a.meanAbsDelta = r.number(*o, "mean_abs_delta", where);
  a.maxAbsDelta = r.number(*o, "max_abs_delta", where);
  double samples = r.number(*o, "samples", where);
  a.samples = std::isnan(samples) ? 0 : int64_t(samples);
  return a;
}

static void piecesFromJSON(const json::Array *array, Piece::Kind kind,
                           std::vector<Piece> &out, Reader &r,
                           llvm::StringRef where) {
  if (!array)
    return;
  llvm::ArrayRef<llvm::StringRef> allowed =
      kind == Piece::Fc ? fcPrecisions() : tablePrecisions();
  for (auto [i, value] : llvm::enumerate(*array)) {
    std::string at = llvm::formatv("{0}[{1}]", where, i).str();
    const json::Object *o = value.getAsObject();
    if (!o) {
      r.fail(at + " is not an object");
      return;
    }
    Piece p;
    p.kind = kind;
    p.name = r.string(*o, "name", at, /*required=*/true);
    p.precision = r.string(*o, "precision", at, /*required=*/true);
    if (!p.precision.empty() && !llvm::is_contained(allowed, p.precision))
      r.fail(at + ".precision '" + p.precision + "' is not one of " +
             llvm::join(allowed, ", "));
    if (const json::Array *shape = o->getArray("shape");
        shape && shape->size() == 2) {
      p.dim0 = (*shape)[0].getAsInteger().value_or(0);
      p.dim1 = (*shape)[1].getAsInteger().value_or(0);
    }
    if (const json::Object *in = o->getObject("input")) {
      QuantParams q;
      q.scale = float(r.number(*in, "scale", at + ".input"));
      double zp = r.number(*in, "zero_point", at + ".input");
      double qmax = r.number(*in, "qmax", at + ".input");
      if (std::isnan(q.scale) || !(q.scale > 0) || std::isnan(zp) ||
          std::isnan(qmax) || (qmax != 255 && qmax != 127) || zp < 0 ||
          zp > qmax)
        r.fail(at + ".input needs a positive scale, a zero_point in [0, qmax] "
                    "and qmax 255 or 127");
      q.zeroPoint = std::isnan(zp) ? 0 : int32_t(zp);
      q.qmax = std::isnan(qmax) ? 255 : int32_t(qmax);
      FcInput input{q};
      if (const json::Object *dense = in->getObject("dense")) {
        std::string dat = at + ".input.dense";
        double width = r.number(*dense, "width", dat);
        double dzp = r.number(*dense, "zero_point", dat);
        input.dense.scale = float(r.number(*dense, "scale", dat));
        input.dense.qmax = q.qmax;
        if (std::isnan(width) || width < 1 || width >= double(p.dim1) ||
            std::isnan(input.dense.scale) || !(input.dense.scale > 0) ||
            std::isnan(dzp) || dzp < 0 || dzp > q.qmax)
          r.fail(dat + " needs a width in [1, K), a positive scale and a "
                       "zero_point in [0, qmax]");
        else {
          input.denseWidth = int64_t(width);
          input.dense.zeroPoint = int32_t(dzp);
        }
      }
      p.input = input;
    }
    if (const json::Array *cands = o->getArray("candidates"))
      for (auto [j, cv] : llvm::enumerate(*cands)) {
        std::string cat = llvm::formatv("{0}.candidates[{1}]", at, j).str();
        const json::Object *co = cv.getAsObject();
        if (!co) {
          r.fail(cat + " is not an object");
          continue;
        }
        Candidate c;
        c.precision = r.string(*co, "precision", cat, true);
        c.loss = r.number(*co, "loss", cat);
        c.meanAbsDelta = r.number(*co, "mean_abs_delta", cat);
        c.maxAbsDelta = r.number(*co, "max_abs_delta", cat);
        c.saving = r.number(*co, "saving_seconds", cat);
        c.excluded = r.string(*co, "excluded", cat);
        p.candidates.push_back(std::move(c));
      }
    out.push_back(std::move(p));
  }
}

Expected<Plan> planFromJSON(const json::Value &value, llvm::StringRef what) {
  const json::Object *root = value.getAsObject();
  if (!root)
    return llvm::createStringError(what + ": a plan is a JSON object");
  auto version = root->getInteger("recq_plan");
  if (!version)
    return llvm::createStringError(
        what + ": not a recq plan (no \"recq_plan\" version field)");
  if (*version != Plan::kVersion)
    return llvm::createStringError(what + ": plan version " +
                                   llvm::Twine(*version) + ", this recq reads " +
                                   llvm::Twine(Plan::kVersion));
  Reader r(what);
  Plan plan;
  plan.metric = r.string(*root, "metric", "plan");
  plan.budget = r.number(*root, "budget", "plan");
  plan.target = r.string(*root, "target", "plan");
  plan.calibrationMethod = r.string(*root, "calibration_method", "plan");
  plan.interactionMethod = r.string(*root, "interaction_method", "plan");
  double batch = r.number(*root, "batch", "plan");
  plan.batch = std::isnan(batch) ? 0 : int64_t(batch);
  plan.costModel = r.string(*root, "cost_model", "plan");
  plan.fp32Seconds = r.number(*root, "fp32_seconds", "plan");
  piecesFromJSON(r.array(*root, "fcs", "plan"), Piece::Fc, plan.fcs, r,
                 "fcs");
  piecesFromJSON(r.array(*root, "tables", "plan"), Piece::Table, plan.tables,
                 r, "tables");
  if (const json::Array *visited = root->getArray("visited"))
    for (const json::Value &v : *visited)
      if (const json::Object *o = v.getAsObject()) {
        VisitedPlan p;
        double step = r.number(*o, "step", "visited");
        p.step = std::isnan(step) ? 0 : int(step);
        p.change = r.string(*o, "change", "visited");
        p.loss = r.number(*o, "loss", "visited");
        p.seconds = r.number(*o, "seconds", "visited");
        p.precisions = r.string(*o, "plan", "visited");
        plan.visited.push_back(std::move(p));
      }
  if (const json::Object *acc = root->getObject("accuracy")) {
    plan.calibration =
        accuracyFromJSON(acc->getObject("calibration"), r, "accuracy.calibration");
    plan.eval = accuracyFromJSON(acc->getObject("eval"), r, "accuracy.eval");
  }
  if (Error e = r.take())
    return std::move(e);
  return plan;
}

Expected<Plan> readPlan(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return llvm::createStringError("cannot read " + path + ": " +
                                   buffer.getError().message());
  auto value = json::parse((*buffer)->getBuffer());
  if (!value)
    return llvm::createStringError(path + ": not JSON: " +
                                   llvm::toString(value.takeError()));
  return planFromJSON(*value, path);
}

Error writePlan(const Plan &plan, llvm::StringRef path) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return llvm::createStringError("cannot write " + path + ": " +
                                   ec.message());
  os << llvm::formatv("{0:2}", toJSON(plan)) << "\n";
  return Error::success();
}

//===----------------------------------------------------------------------===//
// The pieces of a module
//===----------------------------------------------------------------------===//

namespace {
/// PlanSites with the ops typed.
struct ModulePieces {
  SmallVector<recq::FcOp> fcs;
  SmallVector<Value> tables;
  /// Each bag and which of `tables` it reads.
  SmallVector<std::pair<recq::EmbeddingBagOp, unsigned>> bags;
};
} // namespace

static Expected<ModulePieces> collect(ModuleOp module) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return llvm::createStringError("the module has no @main");
  ModulePieces pieces;
  bool batched = false;
  main.walk([&](Operation *op) {
    if (auto fc = dyn_cast<recq::FcOp>(op)) {
      pieces.fcs.push_back(fc);
    } else if (auto bag = dyn_cast<recq::EmbeddingBagOp>(op)) {
      Value table = bag.getTable();
      auto *it = llvm::find(pieces.tables, table);
      unsigned index = it - pieces.tables.begin();
      if (it == pieces.tables.end())
        pieces.tables.push_back(table);
      pieces.bags.push_back({bag, index});
    } else if (isa<recq::EmbeddingBagsOp>(op)) {
      batched = true;
    }
  });
  if (batched)
    return llvm::createStringError(
        "precision plans apply before tables are batched (recq-fuse)");
  return pieces;
}

Expected<PlanSites> findPlanSites(ModuleOp module) {
  auto pieces = collect(module);
  if (!pieces)
    return pieces.takeError();
  PlanSites sites;
  sites.tables.assign(pieces->tables.begin(), pieces->tables.end());
  for (auto &bag : pieces->bags)
    sites.bagTable.push_back(bag.second);
  return sites;
}

/// Every piece of `pieces`, all fp32, named and shaped.
static Plan listPieces(const ModulePieces &pieces) {
  Plan plan;
  llvm::StringSet<> seen;
  auto unique = [&](std::string name) {
    std::string base = name;
    for (int i = 2; !seen.insert(name).second; ++i)
      name = base + "#" + std::to_string(i);
    return name;
  };
  for (auto [i, fcRef] : llvm::enumerate(pieces.fcs)) {
    recq::FcOp fc = fcRef; // op handles are used by value
    Piece p;
    p.kind = Piece::Fc;
    p.name = unique(
        recq::onnxNodeName(fc.getLoc()).value_or("fc" + std::to_string(i)));
    auto w = cast<ShapedType>(fc.getWeight().getType());
    p.dim0 = w.getDimSize(0);
    p.dim1 = w.getDimSize(1);
    plan.fcs.push_back(std::move(p));
  }
  for (auto [i, table] : llvm::enumerate(pieces.tables)) {
    Piece p;
    p.kind = Piece::Table;
    recq::EmbeddingBagOp first;
    for (auto &[bag, index] : pieces.bags)
      if (index == i) {
        first = bag;
        break;
      }
    p.name = unique(recq::onnxNodeName(first.getLoc())
                        .value_or("table" + std::to_string(i)));
    if (auto shaped = dyn_cast<ShapedType>(table.getType())) {
      p.dim0 = shaped.getDimSize(0);
      p.dim1 = shaped.getDimSize(1);
    } else if (auto rowwise = dyn_cast<recq::RowwiseTableType>(table.getType())) {
      p.dim0 = rowwise.getRows();
      p.dim1 = rowwise.getCols();
    }
    plan.tables.push_back(std::move(p));
  }
  return plan;
}

Expected<Plan> listPieces(ModuleOp module) {
  auto pieces = collect(module);
  if (!pieces)
    return pieces.takeError();
  return listPieces(*pieces);
}

Error applyPlan(ModuleOp module, const Plan &plan) {
  auto pieces = collect(module);
  if (!pieces)
    return pieces.takeError();
  Plan names = listPieces(*pieces);
  auto match = [&](const std::vector<Piece> &model,
                   const std::vector<Piece> &planned,
                   llvm::StringRef what) -> Error {
    for (const Piece &p : planned)
      if (llvm::none_of(model, [&](const Piece &m) { return m.name == p.name; }))
        return llvm::createStringError("the plan names " + what + " '" +
                                       p.name + "', which the model lacks");
    for (const Piece &m : model)
      if (llvm::none_of(planned, [&](const Piece &p) { return p.name == m.name; }))
        return llvm::createStringError("the model's " + what + " '" + m.name +
                                       "' is not in the plan");
    return Error::success();
  };
  if (Error e = match(names.fcs, plan.fcs, "FC"))
    return e;
  if (Error e = match(names.tables, plan.tables, "table"))
    return e;
  auto find = [](const std::vector<Piece> &planned, llvm::StringRef name) {
    return llvm::find_if(planned,
                         [&](const Piece &p) { return p.name == name; });
  };

  // Tables: each bag gets its table's precision.
  Builder b(module.getContext());
  for (auto &[bag, index] : pieces->bags) {
    const Piece &p = *find(plan.tables, names.tables[index].name);
    bag->setAttr("recq.table_precision", b.getStringAttr(p.precision));
  }
  auto tables = quantizeTables(module, "fp32");
  if (!tables)
    return tables.takeError();

  // FCs: bf16 ones, and int8 ones with their input parameters.
  llvm::SmallVector<bool> bf16;
  std::vector<std::optional<FcInput>> inputs;
  for (const Piece &named : names.fcs) {
    const Piece &p = *find(plan.fcs, named.name);
    if (p.precision == "int8" && !p.input)
      return llvm::createStringError("the plan's int8 FC '" + p.name +
                                     "' has no input parameters");
    bf16.push_back(p.precision == "bf16");
    inputs.push_back(p.precision == "int8" ? p.input : std::nullopt);
  }
  return quantizeFcsTo(module, bf16, inputs);
}

} // namespace recq::quant
