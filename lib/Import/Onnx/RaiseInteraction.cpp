//===- RaiseInteraction.cpp - DLRM feature interaction to recq ------------===//
//
// The reference DLRM's dot interaction,
//
//   T = cat([x] + ly, dim=1).view(batch, -1, d)
//   Z = bmm(T, T.transpose(1, 2))
//   R = cat([x, Z[:, li, lj]], dim=1)
//
// reaches ONNX as Concat -> Reshape [B, -1, D] -> MatMul(T, Transpose(T,
// [0, 2, 1])) -> a gather of the pairs -> Concat. torch 1.13 writes the
// pair gather as Transpose(Z, [1, 2, 0]) -> Flatten(axis 2) -> Gather(axis
// 0) by `li * F + lj` -> Transpose/Reshape back to [B, P]; others gather on
// Reshape(Z, [B, F*F]) along axis 1. The pairs are read from the index
// constants and must be the lower triangle in row-major order (with or
// without the diagonal); F is derived from the features, not assumed.
//
// A Concat of features of one width that is not a dot interaction is
// DLRM's `cat` interaction.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"

using namespace mlir;
using namespace recq::onnx_import;
using llvm::Error;
using llvm::Expected;
using llvm::SmallVector;
using llvm::Twine;

namespace {

/// The features of the interaction, as the matcher resolved them.
struct Features {
  SmallVector<Value> values; // [B, D] each, dense first
  int64_t dim = 0;
  StaticInt batch = kUnknown;
};

class InteractionMatcher {
public:
  InteractionMatcher(Importer &importer, const onnx::NodeProto &concat)
      : importer(importer), concat(concat), main(importer.mainGraph()) {}

  /// Raises the dot form; `why` says what differed when it returns false
  /// without an error.
  Expected<bool> matchDot();
  Error emitCat();
  std::string why;

private:
  bool fail(const Twine &reason) {
    if (why.empty())
      why = reason.str();
    return false;
  }
  Expected<bool> resolveFeatures(const onnx::NodeProto &features,
                                 const onnx::NodeProto &user, Features &out);
  /// Reads the pair list gathered from `z` ([B, F, F]) into `pairs` and
  /// checks that `value` is those pairs laid out [B, P].
  bool matchPairs(StringRef value, StringRef z, int64_t numFeatures,
                  StaticInt batch,
                  SmallVector<std::pair<int64_t, int64_t>> &pairs);
  /// Replays Reshape/Transpose nodes between the pair gather and `value` on
  /// the symbolic shape `dims`.
  bool replayLayout(ArrayRef<const onnx::NodeProto *> chain,
                    SmallVector<StaticInt> dims, StaticInt batch, int64_t p);

  Importer &importer;
  const onnx::NodeProto &concat;
  const GraphIndex &main;
};

} // namespace

/// ONNX Reshape target `target` applied to `dims` (0 copies, one -1 infers):
/// true when it leaves `dims` as they are.
static bool reshapeKeeps(ArrayRef<StaticInt> target, ArrayRef<StaticInt> dims) {
  if (target.size() != dims.size())
    return false;
  int inferred = 0;
  for (auto [t, d] : llvm::zip(target, dims)) {
    if (t == -1)
      ++inferred;
    else if (t != 0 && t != d)
      return false;
  }
  return inferred <= 1;
}

bool InteractionMatcher::replayLayout(ArrayRef<const onnx::NodeProto *> chain,
                                      SmallVector<StaticInt> dims,
                                      StaticInt batch, int64_t p) {
  for (const onnx::NodeProto *node : llvm::reverse(chain)) {
    if (node->op_type() == "Transpose") {
      const onnx::AttributeProto *perm = findAttr(*node, "perm");
      SmallVector<StaticInt> permuted;
      if (perm) {
        for (int64_t axis : perm->ints()) {
          if (axis < 0 || axis >= static_cast<int64_t>(dims.size()))
            return fail("a Transpose of the pairs has a bad permutation");
          permuted.push_back(dims[axis]);
        }
      } else {
        permuted.assign(dims.rbegin(), dims.rend());
      }
      if (permuted.size() != dims.size())
        return fail("a Transpose of the pairs has a bad permutation");
      dims = permuted;
      continue;
    }
    std::optional<SmallVector<StaticInt>> target =
        importer.evalInts(main, node->input(1));
    if (!target || !reshapeKeeps(*target, dims))
      return fail("a Reshape of the pairs '" + node->name() +
                  "' reorders them");
  }
  if (dims.size() != 2 || dims[0] != batch || dims[1] != p)
    return fail("the pairs do not end up as [batch, pairs]");
  return true;
}

bool InteractionMatcher::matchPairs(
    StringRef value, StringRef z, int64_t numFeatures, StaticInt batch,
    SmallVector<std::pair<int64_t, int64_t>> &pairs) {
  // Peel the layout ops between the gather and the Concat.
  SmallVector<const onnx::NodeProto *> chain;
  const onnx::NodeProto *node = main.producer(value);
  while (node && (node->op_type() == "Reshape" ||
                  node->op_type() == "Transpose")) {
    chain.push_back(node);
    node = main.producer(node->input(0));
  }
  if (!node || node->op_type() != "Gather" || node->input_size() != 2)
    return fail("the second Concat input is not a gather of pairs");
  const onnx::NodeProto &gather = *node;
  int64_t f = numFeatures;
  int64_t axis = intAttr(gather, "axis", 0);

  SmallVector<StaticInt> dims;
  if (axis == 0) {
    // Gather(Flatten(Transpose(Z, [1, 2, 0]), axis=2), idx): [P, B].
    const onnx::NodeProto *flatten = main.producer(gather.input(0), "Flatten");
    const onnx::NodeProto *transpose =
        flatten ? main.producer(flatten->input(0), "Transpose") : nullptr;
    const onnx::AttributeProto *perm =
        transpose ? findAttr(*transpose, "perm") : nullptr;
    if (!transpose || transpose->input(0) != z ||
        intAttr(*flatten, "axis", 1) != 2 || !perm ||
        SmallVector<int64_t>(perm->ints().begin(), perm->ints().end()) !=
            SmallVector<int64_t>{1, 2, 0})
      return fail("the pairs are not gathered from Flatten(Transpose(Z, "
                  "[1, 2, 0]), axis=2)");
  } else if (axis == 1 || axis == -1) {
    // Gather(Reshape(Z, [B, F*F]), idx, axis=1): [B, P].
    const onnx::NodeProto *reshape = main.producer(gather.input(0), "Reshape");
    std::optional<SmallVector<StaticInt>> target =
        reshape ? importer.evalInts(main, reshape->input(1)) : std::nullopt;
    if (!reshape || reshape->input(0) != z || !target ||
        !reshapeKeeps(*target, {batch, f * f}))
      return fail("the pairs are not gathered from Z reshaped to "
                  "[batch, F*F]");
  } else {
    return fail("the pairs are gathered along axis " + Twine(axis));
  }

  std::optional<SmallVector<StaticInt>> index =
      importer.evalInts(main, gather.input(1));
  if (!index)
    return fail("the pair indices are not constants");
  for (StaticInt k : *index) {
    if (!isKnown(k) || k < 0 || k >= f * f)
      return fail("a pair index is not a constant in [0, F*F)");
    pairs.push_back({k / f, k % f});
  }
  int64_t p = static_cast<int64_t>(pairs.size());
  dims = axis == 0 ? SmallVector<StaticInt>{p, batch}
                   : SmallVector<StaticInt>{batch, p};
  return replayLayout(chain, dims, batch, p);
}

Expected<bool>
InteractionMatcher::resolveFeatures(const onnx::NodeProto &features,
                                    const onnx::NodeProto &user, Features &out) {
  if (intAttr(features, "axis", 0) != 1 || features.input_size() < 2)
    return fail("the features are not concatenated along axis 1");
  for (const std::string &name : features.input()) {
    Expected<Value> v = importer.resolve(user, name);
    if (!v)
      return v.takeError();
    auto type = cast<RankedTensorType>(v->getType());
    if (type.getRank() != 2 || type.isDynamicDim(1))
      return fail("feature '" + name + "' is not 2-D [batch, dim]");
    if (out.values.empty()) {
      out.dim = type.getDimSize(1);
      out.batch = importer.dimOf(*v, name, 0);
    } else if (type.getDimSize(1) != out.dim) {
      return fail("feature '" + name + "' has dimension " +
                  Twine(type.getDimSize(1)) + ", the first has " +
                  Twine(out.dim));
    }
    out.values.push_back(*v);
  }
  return true;
}

Expected<bool> InteractionMatcher::matchDot() {
  if (concat.input_size() != 2)
    return fail("the Concat does not join a dense vector and pairs");
  // Z = MatMul(T, Transpose(T, [0, 2, 1])), T = Reshape(features, [B, -1, D]).
  // Find Z by walking down from the pairs to the gather's source.
  const onnx::NodeProto *matmul = nullptr;
  for (const onnx::NodeProto *node = main.producer(concat.input(1));
       node && !matmul; node = main.producer(node->input(0))) {
    if (node->op_type() == "MatMul")
      matmul = node;
    else if (node->op_type() != "Reshape" && node->op_type() != "Transpose" &&
             node->op_type() != "Gather" && node->op_type() != "Flatten")
      break;
  }
  if (!matmul)
    return fail("no batched MatMul behind the second input");
  const onnx::NodeProto *transposed =
      main.producer(matmul->input(1), "Transpose");
  const onnx::AttributeProto *perm =
      transposed ? findAttr(*transposed, "perm") : nullptr;
  if (!transposed || transposed->input(0) != matmul->input(0) || !perm ||
      SmallVector<int64_t>(perm->ints().begin(), perm->ints().end()) !=
          SmallVector<int64_t>{0, 2, 1})
    return fail("the MatMul is not T times its transpose [0, 2, 1]");
  const onnx::NodeProto *reshape = main.producer(matmul->input(0), "Reshape");
  const onnx::NodeProto *features =
      reshape ? main.producer(reshape->input(0), "Concat") : nullptr;
  if (!features)
    return fail("T is not a Reshape of concatenated features");
  if (features->input(0) != concat.input(0))
    return fail("the dense vector is not the first feature");

  Features f;
  Expected<bool> resolved = resolveFeatures(*features, concat, f);
  if (!resolved || !*resolved)
    return resolved;
  int64_t numFeatures = static_cast<int64_t>(f.values.size());
  std::optional<SmallVector<StaticInt>> target =
      importer.evalInts(main, reshape->input(1));
  if (!target || target->size() != 3 || (*target)[2] != f.dim ||
      ((*target)[1] != -1 && (*target)[1] != numFeatures) ||
      ((*target)[0] != f.batch && (*target)[0] != 0 &&
       !((*target)[0] == -1 && (*target)[1] != -1)))
    return fail("T is not the features reshaped to [batch, F, dim]");

  importer.setKnownShape(matmul->output(0), {f.batch, numFeatures, numFeatures});
  SmallVector<std::pair<int64_t, int64_t>> pairs;
  if (!matchPairs(concat.input(1), matmul->output(0), numFeatures, f.batch,
                  pairs))
    return false;
  bool selfInteraction = !pairs.empty() && pairs[0].first == pairs[0].second;
  SmallVector<std::pair<int64_t, int64_t>> expected;
  for (int64_t i = 0; i < numFeatures; ++i)
    for (int64_t j = 0; j < i + (selfInteraction ? 1 : 0); ++j)
      expected.push_back({i, j});
  if (pairs != expected)
    return fail("the gathered pairs are not the lower triangle of the " +
                Twine(numFeatures) + "x" + Twine(numFeatures) +
                " dot products in row-major order");

  OpBuilder &builder = importer.getBuilder();
  int64_t batch = isKnown(f.batch) ? f.batch : ShapedType::kDynamic;
  auto resultType = RankedTensorType::get(
      {batch, recq::InteractionOp::getNumResultColumns(
                  recq::InteractionMode::dot, selfInteraction, numFeatures,
                  f.dim)},
      cast<RankedTensorType>(f.values[0].getType()).getElementType());
  auto op = builder.create<recq::InteractionOp>(
      importer.loc(concat), resultType, f.values[0],
      ArrayRef<Value>(f.values).drop_front(), recq::InteractionMode::dot,
      selfInteraction);
  if (Error e = importer.verifyNew(concat, op))
    return std::move(e);
  if (Error e = importer.define(concat, op.getResult()))
    return std::move(e);
  return true;
}

Error InteractionMatcher::emitCat() {
  Features f;
  Expected<bool> resolved = resolveFeatures(concat, concat, f);
  if (!resolved)
    return resolved.takeError();
  if (!*resolved)
    return unsupported(concat, "a Concat is only taken as a DLRM "
                               "interaction; as the cat interaction: " +
                                   why);
  OpBuilder &builder = importer.getBuilder();
  int64_t batch = isKnown(f.batch) ? f.batch : ShapedType::kDynamic;
  int64_t numFeatures = static_cast<int64_t>(f.values.size());
  auto resultType = RankedTensorType::get(
      {batch, numFeatures * f.dim},
      cast<RankedTensorType>(f.values[0].getType()).getElementType());
  auto op = builder.create<recq::InteractionOp>(
      importer.loc(concat), resultType, f.values[0],
      ArrayRef<Value>(f.values).drop_front(), recq::InteractionMode::cat,
      /*selfInteraction=*/false);
  if (Error e = importer.verifyNew(concat, op))
    return e;
  return importer.define(concat, op.getResult());
}

Error Importer::raiseInteraction(const onnx::NodeProto &concat) {
  InteractionMatcher matcher(*this, concat);
  // A Concat whose second input is built from a batched MatMul is a dot
  // interaction or nothing.
  bool fromMatMul = false;
  if (concat.input_size() == 2) {
    for (const onnx::NodeProto *node = main.producer(concat.input(1)); node;
         node = node->input_size() ? main.producer(node->input(0)) : nullptr) {
      if (node->op_type() == "MatMul") {
        fromMatMul = true;
        break;
      }
      if (node->op_type() != "Reshape" && node->op_type() != "Transpose" &&
          node->op_type() != "Gather" && node->op_type() != "Flatten")
        break;
    }
  }
  if (!fromMatMul)
    return matcher.emitCat();
  Expected<bool> dot = matcher.matchDot();
  if (!dot)
    return dot.takeError();
  if (!*dot)
    return unsupported(concat, "this Concat is not a DLRM dot interaction: " +
                                   matcher.why);
  return Error::success();
}
