//===- RaiseEmbeddingBag.cpp - torch's EmbeddingBag shapes to recq --------===//
//
// torch 1.13 exports `nn.EmbeddingBag(input, offsets)` as
//
//   begins = Concat(offsets, Unsqueeze(Gather(Shape(indices), 0)))
//   ends   = Slice(begins, starts=[1], ends=[INT64_MAX], axes=[0])
//   y      = Loop(Gather(Shape(ends), 0), true) body(i, cond):
//              b    = Unsqueeze(Gather(begins, i), [0])
//              e    = Unsqueeze(Gather(ends, i), [0])
//              rows = Gather(table, Slice(indices, b, e, [0]))
//              [rows = Mul(rows, Unsqueeze(Slice(weights, b, e, [0]), [1]))]
//              out  = ReduceSum|ReduceMean|ReduceMax(rows, axes=[0],
//                                                    keepdims=0)
//
// With `include_last_offset`, `begins` is the offsets themselves. The 2-D
// input form builds the offsets with `Range(0, numel, L)` and flattens the
// indices with `Reshape(indices, [-1])`. Fixed-length bags are also written
// without a loop: `Reduce*(Gather(table, indices[B, L]), axes=[1])`.
//
// Each raiser checks every node of its shape and reports the first
// difference, so a Loop that only looks like an EmbeddingBag is refused,
// not misread.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <algorithm>

using namespace mlir;
using namespace recq::onnx_import;
using llvm::Error;
using llvm::Expected;
using llvm::Twine;

namespace {

/// What the matcher learned about one EmbeddingBag.
struct BagPattern {
  std::string table;
  std::string indices;
  std::string offsets;          // empty for fixed-length bags
  std::string perSampleWeights; // empty when absent
  recq::PoolingMode mode = recq::PoolingMode::sum;
  bool includeLastOffset = false;
};

/// The pooling mode of a reduction op type, if it is one.
std::optional<recq::PoolingMode> poolingMode(StringRef opType) {
  if (opType == "ReduceSum")
    return recq::PoolingMode::sum;
  if (opType == "ReduceMean")
    return recq::PoolingMode::mean;
  if (opType == "ReduceMax")
    return recq::PoolingMode::max;
  return std::nullopt;
}

} // namespace

/// The integers of a constant, or an error naming it when it holds
/// something else.
static Expected<SmallVector<int64_t>> intsOf(const onnx::NodeProto &node,
                                             DenseElementsAttr value,
                                             StringRef role, StringRef name) {
  if (!value.getElementType().isSignlessInteger())
    return nodeError(node,
                     "the " + role + " '" + name + "' must hold integers");
  SmallVector<int64_t> out;
  for (const APInt &v : value.getValues<APInt>())
    out.push_back(v.getSExtValue());
  return out;
}

/// A bag whose indices are a constant of the graph: every index is checked
/// against the table here, at compile time (the runtime checks what it is
/// given, not what the model holds), with its offsets and weights, which
/// must then be constants too; the pooled rows are computed here, as
/// PyTorch's EmbeddingBag computes them, and `node` becomes a constant.
static Error emitConstantBag(Importer &importer, const onnx::NodeProto &node,
                             const BagPattern &pattern, DenseElementsAttr table,
                             DenseElementsAttr indices) {
  const GraphIndex &main = importer.mainGraph();
  int64_t rows = table.getType().getDimSize(0);
  int64_t dim = table.getType().getDimSize(1);
  int64_t rank = indices.getType().getRank();
  bool fixed = pattern.offsets.empty();
  if (rank != (fixed ? 2 : 1))
    return nodeError(node, "the constant indices '" + pattern.indices +
                               "' must be " + (fixed ? "[B, L]" : "1-D") +
                               ", not rank " + Twine(rank));
  Expected<SmallVector<int64_t>> index =
      intsOf(node, indices, "indices", pattern.indices);
  if (!index)
    return index.takeError();
  for (auto [k, v] : llvm::enumerate(*index))
    if (v < 0 || v >= rows)
      return nodeError(node, "index " + Twine(v) + " at position " + Twine(k) +
                                 " of the constant indices '" +
                                 pattern.indices + "' is outside the table '" +
                                 pattern.table + "' ([0, " + Twine(rows) +
                                 "))");
  int64_t n = index->size();
  // Bag b holds positions [begin[b], begin[b + 1]).
  SmallVector<int64_t> begin;
  if (fixed) {
    int64_t length = indices.getType().getDimSize(1);
    for (int64_t b = 0; b <= indices.getType().getDimSize(0); ++b)
      begin.push_back(b * length);
  } else {
    Expected<DenseElementsAttr> offsets =
        importer.lookupConstant(main, pattern.offsets);
    if (!offsets)
      return offsets.takeError();
    if (!*offsets)
      return unsupported(node, "constant indices '" + pattern.indices +
                                   "' with offsets '" + pattern.offsets +
                                   "' that are not a constant");
    if (offsets->getType().getRank() != 1)
      return nodeError(node, "the offsets '" + pattern.offsets +
                                 "' must be a 1-D tensor");
    Expected<SmallVector<int64_t>> o =
        intsOf(node, *offsets, "offsets", pattern.offsets);
    if (!o)
      return o.takeError();
    for (auto [b, v] : llvm::enumerate(*o)) {
      int64_t previous = b ? (*o)[b - 1] : 0;
      if ((b == 0 && v != 0) || v < previous || v > n)
        return nodeError(node, "offset " + Twine(v) + " of bag " + Twine(b) +
                                   " in the constant offsets '" +
                                   pattern.offsets +
                                   "' is not in order within the " + Twine(n) +
                                   " indices (they start at 0 "
                                   "and never decrease)");
    }
    begin.assign(o->begin(), o->end());
    if (!pattern.includeLastOffset)
      begin.push_back(n);
    else if (begin.empty() || begin.back() != n)
      return nodeError(node, "the last of the constant offsets '" +
                                 pattern.offsets + "' must be " + Twine(n));
  }
  SmallVector<float> weights;
  if (!pattern.perSampleWeights.empty()) {
    Expected<DenseElementsAttr> w =
        importer.lookupConstant(main, pattern.perSampleWeights);
    if (!w)
      return w.takeError();
    if (!*w || !w->getElementType().isF32() || w->getNumElements() != n)
      return unsupported(node, "constant indices '" + pattern.indices +
                                   "' with per-sample weights that are not "
                                   "an f32 constant of their length");
    llvm::append_range(weights, w->getValues<float>());
  }
  if (!table.getElementType().isF32())
    return unsupported(node, "constant indices into a table that is not f32");

  SmallVector<float> values = llvm::to_vector(table.getValues<float>());
  int64_t bags = static_cast<int64_t>(begin.size()) - 1;
  SmallVector<float> pooled(bags * dim, 0.0f);
  for (int64_t b = 0; b < bags; ++b) {
    float *out = &pooled[b * dim];
    for (int64_t k = begin[b]; k < begin[b + 1]; ++k) {
      const float *row = &values[(*index)[k] * dim];
      float w = weights.empty() ? 1.0f : weights[k];
      for (int64_t j = 0; j < dim; ++j) {
        if (pattern.mode == recq::PoolingMode::max)
          out[j] = k == begin[b] ? row[j] : std::max(out[j], row[j]);
        else
          out[j] += w * row[j];
      }
    }
    int64_t length = begin[b + 1] - begin[b];
    if (pattern.mode == recq::PoolingMode::mean && length > 0)
      for (int64_t j = 0; j < dim; ++j)
        out[j] /= static_cast<float>(length);
  }
  auto type = RankedTensorType::get({bags, dim}, table.getElementType());
  Value result = importer.getBuilder().create<arith::ConstantOp>(
      importer.loc(node), DenseElementsAttr::get(type, ArrayRef(pooled)));
  return importer.define(node, result);
}

/// Builds the recq.embedding_bag for `pattern` and defines `node`'s output.
static Error emitBag(Importer &importer, const onnx::NodeProto &node,
                     const BagPattern &pattern) {
  const GraphIndex &main = importer.mainGraph();
  Expected<DenseElementsAttr> table =
      importer.lookupConstant(main, pattern.table);
  if (!table)
    return table.takeError();
  if (!*table)
    return unsupported(node, "the embedding table '" + pattern.table +
                                 "' is not a constant");
  if (table->getType().getRank() != 2 ||
      !isa<FloatType>(table->getElementType()))
    return unsupported(node, "the embedding table '" + pattern.table +
                                 "' must be a 2-D float tensor");

  Expected<DenseElementsAttr> constantIndices =
      importer.lookupConstant(main, pattern.indices);
  if (!constantIndices)
    return constantIndices.takeError();
  if (*constantIndices)
    return emitConstantBag(importer, node, pattern, *table, *constantIndices);

  Expected<Value> indices = importer.resolve(node, pattern.indices);
  if (!indices)
    return indices.takeError();
  Value offsets, weights;
  if (!pattern.offsets.empty()) {
    Expected<Value> v = importer.resolve(node, pattern.offsets);
    if (!v)
      return v.takeError();
    offsets = *v;
  }
  if (!pattern.perSampleWeights.empty()) {
    Expected<Value> v = importer.resolve(node, pattern.perSampleWeights);
    if (!v)
      return v.takeError();
    weights = *v;
  }

  // Ranks are checked before any dimension is read: a model may declare
  // them wrong (found by libFuzzer: a scalar offsets input).
  auto rankOf = [](Value v) -> int64_t {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    return type ? type.getRank() : -1;
  };
  if (offsets && rankOf(offsets) != 1)
    return nodeError(node, "the offsets '" + pattern.offsets +
                               "' must be a 1-D tensor, not rank " +
                               Twine(rankOf(offsets)));
  int64_t batch = ShapedType::kDynamic;
  if (offsets) {
    int64_t n = cast<RankedTensorType>(offsets.getType()).getDimSize(0);
    if (!ShapedType::isDynamic(n))
      batch = pattern.includeLastOffset ? n - 1 : n;
  } else if (auto type = dyn_cast<RankedTensorType>(indices->getType());
             type && type.getRank() == 2) {
    batch = type.getDimSize(0);
  }
  OpBuilder &builder = importer.getBuilder();
  Location l = importer.loc(node);
  auto resultType = RankedTensorType::get(
      {batch, table->getType().getDimSize(1)}, table->getElementType());
  Value tableValue = builder.create<arith::ConstantOp>(l, *table);
  auto bag = builder.create<recq::EmbeddingBagOp>(
      l, resultType, tableValue, *indices, offsets, weights, pattern.mode,
      pattern.includeLastOffset);
  if (Error e = importer.verifyNew(node, bag))
    return e;
  return importer.define(node, bag.getResult());
}

//===----------------------------------------------------------------------===//
// The Loop form
//===----------------------------------------------------------------------===//

namespace {

/// Matches one EmbeddingBag Loop; `why` holds the first difference.
class LoopMatcher {
public:
  LoopMatcher(Importer &importer, const onnx::NodeProto &loop)
      : importer(importer), loop(loop), main(importer.mainGraph()) {}

  std::optional<BagPattern> match();
  std::string why;

private:
  bool fail(const Twine &reason) {
    if (why.empty())
      why = reason.str();
    return false;
  }
  bool matchBody(const GraphIndex &body, BagPattern &pattern,
                 std::string &begins, std::string &ends);
  /// `Unsqueeze(Gather(source, iter), [0])` in the body; sets `source`.
  bool matchBound(const GraphIndex &body, StringRef name, StringRef iter,
                  std::string &source);
  /// `Slice(data, b, e, axes=[0] [, steps=[1]])` in the body; sets `data`.
  bool matchBagSlice(const GraphIndex &body, const onnx::NodeProto *slice,
                     StringRef b, StringRef e, std::string &data);
  bool matchOffsets(BagPattern &pattern, StringRef begins, StringRef ends);
  bool matchFixedLength(BagPattern &pattern);

  Importer &importer;
  const onnx::NodeProto &loop;
  const GraphIndex &main;
};

} // namespace

bool LoopMatcher::matchBound(const GraphIndex &body, StringRef name,
                             StringRef iter, std::string &source) {
  const onnx::NodeProto *unsqueeze = body.producer(name, "Unsqueeze");
  if (!unsqueeze)
    return fail("a bag bound is not an Unsqueeze");
  std::optional<SmallVector<int64_t>> axes =
      importer.axesOf(body, *unsqueeze);
  if (!axes || *axes != SmallVector<int64_t>{0})
    return fail("a bag bound is not unsqueezed on axis 0");
  const onnx::NodeProto *gather =
      body.producer(unsqueeze->input(0), "Gather");
  if (!gather || gather->input_size() != 2 || gather->input(1) != iter ||
      intAttr(*gather, "axis", 0) != 0)
    return fail("a bag bound is not read at the iteration number");
  source = gather->input(0);
  return true;
}

bool LoopMatcher::matchBagSlice(const GraphIndex &body,
                                const onnx::NodeProto *slice, StringRef b,
                                StringRef e, std::string &data) {
  if (!slice || slice->op_type() != "Slice")
    return fail("the bag's indices are not a Slice");
  if (slice->input_size() < 3 || slice->input(1) != b || slice->input(2) != e)
    return fail("the bag's slice does not run from its begin to its end");
  if (slice->input_size() > 3 && !slice->input(3).empty() &&
      !importer.isConstInts(body, slice->input(3), {0}))
    return fail("the bag's slice is not along axis 0");
  if (slice->input_size() > 4 && !slice->input(4).empty() &&
      !importer.isConstInts(body, slice->input(4), {1}))
    return fail("the bag's slice has a step other than 1");
  data = slice->input(0);
  return true;
}

bool LoopMatcher::matchBody(const GraphIndex &body, BagPattern &pattern,
                            std::string &begins, std::string &ends) {
  const onnx::GraphProto &g = body.graph;
  if (g.input_size() != 2 || g.output_size() != 2)
    return fail("the body has " + Twine(g.input_size()) + " inputs and " +
                Twine(g.output_size()) +
                " outputs (expected iteration, condition -> condition, bag)");
  StringRef iter = g.input(0).name(), condIn = g.input(1).name();

  // The condition stays true: Cast/Identity of the incoming one or of a
  // constant.
  const onnx::NodeProto *cond = body.producer(g.output(0).name());
  if (g.output(0).name() != condIn &&
      (!cond || (cond->op_type() != "Cast" && cond->op_type() != "Identity") ||
       (cond->input(0) != condIn &&
        !importer.isConstInts(body, cond->input(0), {1}))))
    return fail("the loop condition is computed in the body");

  const onnx::NodeProto *reduce = body.producer(g.output(1).name());
  std::optional<recq::PoolingMode> mode =
      reduce ? poolingMode(reduce->op_type()) : std::nullopt;
  if (!mode)
    return fail("the bag is not pooled by ReduceSum, ReduceMean or ReduceMax");
  pattern.mode = *mode;
  if (intAttr(*reduce, "keepdims", 1) != 0)
    return fail("the pooling keeps the reduced dimension");
  std::optional<SmallVector<int64_t>> axes = importer.axesOf(body, *reduce);
  if (!axes || *axes != SmallVector<int64_t>{0})
    return fail("the pooling is not over axis 0 (the bag's rows)");

  // rows = Gather(table, slice) [* Unsqueeze(Slice(weights), [1])]
  const onnx::NodeProto *rows = body.producer(reduce->input(0));
  const onnx::NodeProto *weightsUnsqueeze = nullptr;
  if (rows && rows->op_type() == "Mul" && rows->input_size() == 2) {
    const onnx::NodeProto *mul = rows;
    rows = body.producer(mul->input(0), "Gather");
    weightsUnsqueeze = body.producer(mul->input(1), "Unsqueeze");
    if (!rows) {
      rows = body.producer(mul->input(1), "Gather");
      weightsUnsqueeze = body.producer(mul->input(0), "Unsqueeze");
    }
    if (!rows || !weightsUnsqueeze)
      return fail("the pooled rows are multiplied by something other than "
                  "per-sample weights");
  }
  if (!rows || rows->op_type() != "Gather" || rows->input_size() != 2 ||
      intAttr(*rows, "axis", 0) != 0)
    return fail("the pooled rows are not a Gather from the table");
  pattern.table = rows->input(0);

  const onnx::NodeProto *slice = body.producer(rows->input(1));
  if (!slice || slice->input_size() < 3)
    return fail("the bag's indices are not a Slice");
  std::string beginSource, endSource;
  if (!matchBound(body, slice->input(1), iter, beginSource) ||
      !matchBound(body, slice->input(2), iter, endSource))
    return false;
  if (!matchBagSlice(body, slice, slice->input(1), slice->input(2),
                     pattern.indices))
    return false;
  begins = beginSource;
  ends = endSource;

  if (weightsUnsqueeze) {
    std::optional<SmallVector<int64_t>> wAxes =
        importer.axesOf(body, *weightsUnsqueeze);
    if (!wAxes || (*wAxes != SmallVector<int64_t>{1} &&
                   *wAxes != SmallVector<int64_t>{-1}))
      return fail("the per-sample weights are not unsqueezed on axis 1");
    if (!matchBagSlice(body, body.producer(weightsUnsqueeze->input(0)),
                       slice->input(1), slice->input(2),
                       pattern.perSampleWeights))
      return false;
  }
  // Everything the body reads from outside must come from the main graph.
  for (StringRef name : {StringRef(pattern.table), StringRef(pattern.indices),
                         StringRef(begins), StringRef(ends),
                         StringRef(pattern.perSampleWeights)})
    if (!name.empty() && body.producer(name))
      return fail("'" + name + "' is computed inside the body");
  return true;
}

/// `Slice(x, starts=[1], ends=[big], axes=[0])`: everything but the first.
static bool isDropFirst(Importer &importer, const GraphIndex &g,
                        const onnx::NodeProto *slice, StringRef x) {
  if (!slice || slice->op_type() != "Slice" || slice->input_size() < 3 ||
      slice->input(0) != x || !importer.isConstInts(g, slice->input(1), {1}))
    return false;
  std::optional<SmallVector<StaticInt>> end = importer.evalInts(g, slice->input(2));
  if (!end || end->size() != 1 || (*end)[0] < (int64_t{1} << 31))
    return false;
  if (slice->input_size() > 3 && !slice->input(3).empty() &&
      !importer.isConstInts(g, slice->input(3), {0}))
    return false;
  return slice->input_size() <= 4 || slice->input(4).empty() ||
         importer.isConstInts(g, slice->input(4), {1});
}

bool LoopMatcher::matchOffsets(BagPattern &pattern, StringRef begins,
                               StringRef ends) {
  if (!isDropFirst(importer, main, main.producer(ends), begins))
    return fail("the bag ends are not the bag begins shifted by one");
  // The trip count is the number of bags: Gather(Shape(ends), 0).
  const onnx::NodeProto *count = main.producer(loop.input(0), "Gather");
  const onnx::NodeProto *shape =
      count ? main.producer(count->input(0), "Shape") : nullptr;
  if (!shape || shape->input(0) != ends ||
      !importer.isConstInts(main, count->input(1), {0}))
    return fail("the trip count is not the number of bags");

  // Without include_last_offset the begins are Concat(offsets, [numel]).
  const onnx::NodeProto *concat = main.producer(begins, "Concat");
  if (concat && concat->input_size() == 2) {
    const onnx::NodeProto *unsqueeze =
        main.producer(concat->input(1), "Unsqueeze");
    const onnx::NodeProto *gather =
        unsqueeze ? main.producer(unsqueeze->input(0), "Gather") : nullptr;
    const onnx::NodeProto *numel =
        gather ? main.producer(gather->input(0), "Shape") : nullptr;
    if (!numel || numel->input(0) != pattern.indices ||
        !importer.isConstInts(main, gather->input(1), {0}))
      return fail("the bag begins append something other than the number "
                  "of indices");
    pattern.offsets = concat->input(0);
    pattern.includeLastOffset = false;
  } else {
    pattern.offsets = begins.str();
    pattern.includeLastOffset = true;
  }
  return true;
}

/// The 2-D input form: offsets `Range(0, numel, L)` over indices
/// `Reshape(indices2d, [-1])` become fixed-length bags of `indices2d`.
bool LoopMatcher::matchFixedLength(BagPattern &pattern) {
  const onnx::NodeProto *range = main.producer(pattern.offsets, "Range");
  if (!range)
    return true; // real offsets
  const onnx::NodeProto *flat = main.producer(pattern.indices, "Reshape");
  if (!flat || !importer.isConstInts(main, flat->input(1), {-1}))
    return fail("the offsets are a Range but the indices are not a "
                "flattened 2-D tensor");
  std::string indices2d = flat->input(0);
  // delta = Cast(Gather(Shape(indices2d), 1)): the bag length L.
  const onnx::NodeProto *delta = main.producer(range->input(2));
  while (delta && delta->op_type() == "Cast")
    delta = main.producer(delta->input(0));
  const onnx::NodeProto *shape =
      delta && delta->op_type() == "Gather"
          ? main.producer(delta->input(0), "Shape")
          : nullptr;
  if (!importer.isConstInts(main, range->input(0), {0}) || !shape ||
      shape->input(0) != indices2d ||
      !importer.isConstInts(main, delta->input(1), {1}))
    return fail("the offsets Range does not step by the bag length");
  if (pattern.includeLastOffset)
    return fail("fixed-length bags with include_last_offset");
  pattern.indices = indices2d;
  pattern.offsets.clear();
  if (!pattern.perSampleWeights.empty()) {
    const onnx::NodeProto *wflat =
        main.producer(pattern.perSampleWeights, "Reshape");
    if (!wflat || !importer.isConstInts(main, wflat->input(1), {-1}))
      return fail("the per-sample weights of fixed-length bags are not a "
                  "flattened 2-D tensor");
    pattern.perSampleWeights = wflat->input(0);
  }
  return true;
}

std::optional<BagPattern> LoopMatcher::match() {
  if (loop.input_size() != 2 || loop.output_size() != 1) {
    fail("it carries loop state (" + Twine(loop.input_size() - 2) +
         " values) or has " + Twine(loop.output_size()) + " outputs");
    return std::nullopt;
  }
  const onnx::AttributeProto *bodyAttr = findAttr(loop, "body");
  if (!bodyAttr || !bodyAttr->has_g()) {
    fail("it has no body");
    return std::nullopt;
  }
  if (!loop.input(1).empty() && !importer.isConstInts(main, loop.input(1), {1})) {
    fail("its initial condition is not the constant true");
    return std::nullopt;
  }
  GraphIndex body(bodyAttr->g(), &main);
  BagPattern pattern;
  std::string begins, ends;
  if (!matchBody(body, pattern, begins, ends) ||
      !matchOffsets(pattern, begins, ends) || !matchFixedLength(pattern))
    return std::nullopt;
  return pattern;
}

Error Importer::raiseEmbeddingBagLoop(const onnx::NodeProto &loop) {
  LoopMatcher matcher(*this, loop);
  std::optional<BagPattern> pattern = matcher.match();
  if (!pattern)
    return unsupported(loop, "this Loop is not an EmbeddingBag as "
                             "torch.onnx.export writes it: " +
                                 matcher.why);
  return emitBag(*this, loop, *pattern);
}

//===----------------------------------------------------------------------===//
// The fixed-length form without a loop
//===----------------------------------------------------------------------===//

Error Importer::raiseFixedLengthBag(const onnx::NodeProto &reduce) {
  auto refuse = [&](const Twine &why) {
    return unsupported(reduce, "a reduction is only taken as the pooling of "
                               "fixed-length embedding bags "
                               "(Reduce over axis 1 of a Gather of table rows "
                               "by [batch, L] indices): " +
                                   why);
  };
  BagPattern pattern;
  pattern.mode = *poolingMode(reduce.op_type());
  if (intAttr(reduce, "keepdims", 1) != 0)
    return refuse("it keeps the reduced dimension");
  std::optional<SmallVector<int64_t>> axes = axesOf(main, reduce);
  if (!axes || *axes != SmallVector<int64_t>{1})
    return refuse("it does not reduce axis 1 only");
  const onnx::NodeProto *gather = main.producer(reduce.input(0), "Gather");
  if (!gather || gather->input_size() != 2 || intAttr(*gather, "axis", 0) != 0)
    return refuse("its input is not a Gather along axis 0");
  Expected<DenseElementsAttr> table = lookupConstant(main, gather->input(0));
  if (!table)
    return table.takeError();
  if (!*table)
    return refuse("the gathered tensor is not a constant table");
  Expected<Value> indices = resolve(*gather, gather->input(1));
  if (!indices)
    return indices.takeError();
  if (cast<RankedTensorType>(indices->getType()).getRank() != 2)
    return refuse("the indices are not 2-D [batch, L]");
  pattern.table = gather->input(0);
  pattern.indices = gather->input(1);
  return emitBag(*this, reduce, pattern);
}
