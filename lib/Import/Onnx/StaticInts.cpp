//===- StaticInts.cpp - Integer expressions known at import time ----------===//
//
// Exporters compute reshape targets and gather indices at run time from
// `Shape` (torch writes `Concat(Unsqueeze(Gather(Shape(x), 0)), [-1], ...)`
// for `view(batch, -1, dim)`, and `Add(j, Mul(i, Gather(Shape(z), 2)))` for
// `z[:, li, lj]`). The raisers need those values at import time; this file
// evaluates such small integer tensors over the shapes the importer knows,
// with dynamic dimensions carried as symbols so that "the batch size" can
// be recognised without being known.
//
//===----------------------------------------------------------------------===//

#include "Importer.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/CheckedArithmetic.h"

using namespace mlir;
using namespace recq::onnx_import;
using llvm::SmallVector;

/// Booleans read as 0/1, other integers sign-extended.
static int64_t intValue(const APInt &v) {
  return v.getBitWidth() == 1 ? static_cast<int64_t>(v.getZExtValue())
                              : v.getSExtValue();
}

StaticInt Importer::symbolFor(StringRef name, int64_t dim) {
  std::string key = (name + "#" + llvm::Twine(dim)).str();
  auto [it, inserted] =
      symbols.try_emplace(key, -2 - static_cast<StaticInt>(symbols.size()));
  return it->second;
}

StaticInt Importer::dimOf(Value value, StringRef name, int64_t dim) {
  auto type = cast<RankedTensorType>(value.getType());
  if (type.isDynamicDim(dim))
    return symbolFor(name, dim);
  return type.getDimSize(dim);
}

std::optional<SmallVector<StaticInt>>
Importer::knownShape(const GraphIndex &graph, StringRef name) {
  if (auto it = shapeOverrides.find(name); it != shapeOverrides.end())
    return it->second;
  if (auto it = values.find(name); it != values.end()) {
    auto type = dyn_cast<RankedTensorType>(it->second.getType());
    if (!type)
      return std::nullopt;
    SmallVector<StaticInt> dims;
    for (int64_t d = 0; d < type.getRank(); ++d)
      dims.push_back(dimOf(it->second, name, d));
    return dims;
  }
  // A value the evaluation itself can compute is a vector of known length.
  if (graph.producer(name)) {
    if (std::optional<SmallVector<StaticInt>> ints = evalInts(graph, name)) {
      SmallVector<StaticInt> dims{static_cast<StaticInt>(ints->size())};
      return dims;
    }
  }
  return std::nullopt;
}

bool Importer::isConstInts(const GraphIndex &graph, StringRef name,
                           ArrayRef<int64_t> expected) {
  llvm::Expected<DenseElementsAttr> c = lookupConstant(graph, name);
  if (!c) {
    llvm::consumeError(c.takeError());
    return false;
  }
  if (!*c || !isa<IntegerType>(c->getElementType()) ||
      c->getNumElements() != static_cast<int64_t>(expected.size()))
    return false;
  for (auto [value, want] : llvm::zip(c->getValues<APInt>(), expected))
    if (intValue(value) != want)
      return false;
  return true;
}

std::optional<SmallVector<int64_t>>
Importer::axesOf(const GraphIndex &graph, const onnx::NodeProto &node) {
  if (const onnx::AttributeProto *attr = findAttr(node, "axes"))
    return SmallVector<int64_t>(attr->ints().begin(), attr->ints().end());
  if (node.input_size() < 2 || node.input(1).empty())
    return SmallVector<int64_t>{};
  std::optional<SmallVector<StaticInt>> axes = evalInts(graph, node.input(1));
  if (!axes || llvm::any_of(*axes, [](StaticInt v) { return !isKnown(v); }))
    return std::nullopt;
  return SmallVector<int64_t>(axes->begin(), axes->end());
}

/// Element-wise binary op with numpy broadcasting of a single element;
/// anything involving an unknown or a symbol is unknown. An empty operand
/// gives an empty result with one of 0 or 1 elements (numpy's [] + [x]),
/// and no result otherwise.
template <typename Fn>
static std::optional<SmallVector<StaticInt>>
broadcast(const SmallVector<StaticInt> &a, const SmallVector<StaticInt> &b,
          Fn fn) {
  if (a.empty() || b.empty()) {
    if (a.size() > 1 || b.size() > 1)
      return std::nullopt;
    return SmallVector<StaticInt>{};
  }
  if (a.size() != b.size() && a.size() != 1 && b.size() != 1)
    return std::nullopt;
  size_t n = std::max(a.size(), b.size());
  SmallVector<StaticInt> out(n);
  for (size_t i = 0; i < n; ++i) {
    StaticInt x = a[a.size() == 1 ? 0 : i], y = b[b.size() == 1 ? 0 : i];
    std::optional<int64_t> v;
    if (isKnown(x) && isKnown(y))
      v = fn(x, y);
    out[i] = v && isKnown(*v) ? *v : kUnknown;
  }
  return out;
}

std::optional<SmallVector<StaticInt>>
Importer::evalInts(const GraphIndex &graph, StringRef name) {
  llvm::Expected<DenseElementsAttr> c = lookupConstant(graph, name);
  if (!c) {
    llvm::consumeError(c.takeError());
    return std::nullopt;
  }
  if (*c) {
    if (!isa<IntegerType>(c->getElementType()) || c->getNumElements() > 4096)
      return std::nullopt;
    SmallVector<StaticInt> out;
    for (const APInt &v : c->getValues<APInt>())
      out.push_back(intValue(v));
    return out;
  }

  const onnx::NodeProto *node = nullptr;
  const GraphIndex *where = &graph;
  for (; where && !node; where = where->parent)
    if ((node = where->producer(name)))
      break;
  if (!node)
    return std::nullopt;
  const GraphIndex &g = *where;
  StringRef op = node->op_type();
  auto input = [&](int i) -> std::optional<SmallVector<StaticInt>> {
    if (i >= node->input_size() || node->input(i).empty())
      return std::nullopt;
    return evalInts(g, node->input(i));
  };

  if (op == "Shape") {
    if (findAttr(*node, "start") || findAttr(*node, "end"))
      return std::nullopt;
    return knownShape(g, node->input(0));
  }
  if (op == "Cast" || op == "Identity" || op == "Squeeze" ||
      op == "Unsqueeze" || op == "Reshape" || op == "Flatten")
    return input(0); // flat element order is unchanged
  if (op == "Gather") {
    std::optional<SmallVector<StaticInt>> data = input(0), indices = input(1);
    if (!data || !indices || intAttr(*node, "axis", 0) != 0)
      return std::nullopt;
    SmallVector<StaticInt> out;
    for (StaticInt i : *indices) {
      if (!isKnown(i))
        return std::nullopt;
      int64_t k = i < 0 ? i + static_cast<int64_t>(data->size()) : i;
      if (k < 0 || k >= static_cast<int64_t>(data->size()))
        return std::nullopt;
      out.push_back((*data)[k]);
    }
    return out;
  }
  if (op == "Concat") {
    SmallVector<StaticInt> out;
    for (int i = 0; i < node->input_size(); ++i) {
      std::optional<SmallVector<StaticInt>> part = input(i);
      if (!part)
        return std::nullopt;
      out.append(*part);
    }
    return out;
  }
  if (op == "Add" || op == "Sub" || op == "Mul") {
    std::optional<SmallVector<StaticInt>> a = input(0), b = input(1);
    if (!a || !b)
      return std::nullopt;
    // A result that overflows int64, or lands on a symbol's value, is
    // unknown.
    if (op == "Add")
      return broadcast(
          *a, *b, [](int64_t x, int64_t y) { return llvm::checkedAdd(x, y); });
    if (op == "Sub")
      return broadcast(
          *a, *b, [](int64_t x, int64_t y) { return llvm::checkedSub(x, y); });
    return broadcast(
        *a, *b, [](int64_t x, int64_t y) { return llvm::checkedMul(x, y); });
  }
  return std::nullopt;
}
