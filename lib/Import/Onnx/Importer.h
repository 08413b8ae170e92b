//===- Importer.h - ONNX graph to recq, internal interface ------*- C++ -*-===//
//
// The importer's pieces share this class: the driver and the per-node
// emitters (OnnxImporter.cpp), the static evaluation of the small integer
// expressions exporters build from `Shape` (StaticInts.cpp), and the raising
// of multi-node shapes to single recq ops (RaiseEmbeddingBag.cpp,
// RaiseInteraction.cpp).
//
// Nodes are imported on demand, starting from the graph outputs: asking for
// a value emits its producer (after the producer's own operands). A raiser
// matches a node together with the nodes behind it, so nodes that only
// compute what a raised op already knows (the EmbeddingBag loop's trip
// count, the interaction's reshape targets) are never emitted at all. Nodes
// no output depends on are not imported.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_LIB_IMPORT_ONNX_IMPORTER_H
#define RECQ_LIB_IMPORT_ONNX_IMPORTER_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include "onnx/onnx_pb.h"

#include <optional>

namespace recq::onnx_import {

llvm::Error makeError(const llvm::Twine &message);
/// "node 'name' (OpType): what".
llvm::Error nodeError(const onnx::NodeProto &node, const llvm::Twine &what);
/// "node 'name' (OpType): not supported: why".
llvm::Error unsupported(const onnx::NodeProto &node, const llvm::Twine &why);

/// Every tensor of `model` (initializers and node attributes, in every
/// graph) holds exactly the elements its dims give, of a type recq reads.
/// Runs before onnx's checker and shape inference, which trust the dims.
llvm::Error checkTensorData(const onnx::ModelProto &model);

/// The attribute `name` of `node`, or null.
const onnx::AttributeProto *findAttr(const onnx::NodeProto &node,
                                     llvm::StringRef name);
int64_t intAttr(const onnx::NodeProto &node, llvm::StringRef name,
                int64_t fallback);
float floatAttr(const onnx::NodeProto &node, llvm::StringRef name,
                float fallback);

/// One ONNX graph (the model's, or a Loop body) indexed by value name.
struct GraphIndex {
  explicit GraphIndex(const onnx::GraphProto &graph,
                      const GraphIndex *parent = nullptr);
  /// The node producing `name` in this graph, or null (a graph input, an
  /// initializer, or a value of an enclosing graph).
  const onnx::NodeProto *producer(llvm::StringRef name) const;
  /// The node producing `name` if its op type is `opType`.
  const onnx::NodeProto *producer(llvm::StringRef name,
                                  llvm::StringRef opType) const;

  /// How many node inputs (and graph outputs) of this graph name `name`;
  /// uses inside subgraphs are not counted.
  int64_t useCount(llvm::StringRef name) const;

  const onnx::GraphProto &graph;
  const GraphIndex *parent;
  llvm::StringMap<const onnx::NodeProto *> producers;
  llvm::StringMap<int64_t> uses;
};

/// A dimension or integer known at import time. Dynamic dimensions are
/// symbols: equal symbols are the same unknown size. `kUnknown` is a value
/// the evaluation could not determine.
using StaticInt = int64_t;
constexpr StaticInt kUnknown = INT64_MIN;
inline bool isSymbol(StaticInt v) { return v < -1 && v != kUnknown; }
inline bool isKnown(StaticInt v) { return v != kUnknown && !isSymbol(v); }

class Importer {
public:
  Importer(mlir::MLIRContext &context, const onnx::ModelProto &model,
           llvm::StringRef file, int64_t opset);

  llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>> run();

  //===--------------------------------------------------------------------===//
  // Values
  //===--------------------------------------------------------------------===//

  /// The MLIR value for ONNX value `name` of the main graph, emitting its
  /// producer first if needed. `user` is the node asking (for messages).
  llvm::Expected<mlir::Value> resolve(const onnx::NodeProto &user,
                                      llvm::StringRef name);
  /// `resolve` of input `index` of `node`.
  llvm::Expected<mlir::Value> operand(const onnx::NodeProto &node, int index);
  /// The constant (initializer or `Constant` node output) named `name` in
  /// `graph` or an enclosing graph, or null.
  llvm::Expected<mlir::DenseElementsAttr> lookupConstant(const GraphIndex &graph,
                                                         llvm::StringRef name);
  /// The constant behind input `index` of `node`, or an error naming it.
  llvm::Expected<mlir::DenseElementsAttr>
  constantOperand(const onnx::NodeProto &node, int index,
                  llvm::StringRef role);
  /// Records `value` as output 0 of `node`.
  llvm::Error define(const onnx::NodeProto &node, mlir::Value value);
  /// Verifies a newly built op; a failure (e.g. a shape mismatch) is
  /// reported against the node with the verifier's message.
  llvm::Error verifyNew(const onnx::NodeProto &node, mlir::Operation *op);
  mlir::Location loc(const onnx::NodeProto &node);

  //===--------------------------------------------------------------------===//
  // Static integers (StaticInts.cpp)
  //===--------------------------------------------------------------------===//

  /// The elements of the small integer tensor `name` (a constant, or
  /// `Shape`/`Gather`/`Concat`/`Unsqueeze`/arithmetic over known shapes),
  /// flattened; unknown entries are kUnknown. None when even the element
  /// count is unknown.
  std::optional<llvm::SmallVector<StaticInt>> evalInts(const GraphIndex &graph,
                                                       llvm::StringRef name);
  /// The dimensions of value `name` as far as they are known: symbols for
  /// dynamic ones.
  std::optional<llvm::SmallVector<StaticInt>> knownShape(const GraphIndex &graph,
                                                         llvm::StringRef name);
  /// Makes `knownShape(name)` answer `dims` (for values the importer never
  /// emits, whose shape it derives while matching).
  void setKnownShape(llvm::StringRef name, llvm::ArrayRef<StaticInt> dims) {
    shapeOverrides[name] = llvm::SmallVector<StaticInt>(dims);
  }
  /// The symbol standing for dynamic dimension `dim` of value `name`.
  StaticInt symbolFor(llvm::StringRef name, int64_t dim);
  /// The symbol or size of a dimension of an emitted value.
  StaticInt dimOf(mlir::Value value, llvm::StringRef name, int64_t dim);

  /// True when `name` is a constant tensor equal to `expected`.
  bool isConstInts(const GraphIndex &graph, llvm::StringRef name,
                   llvm::ArrayRef<int64_t> expected);
  /// The reduction/unsqueeze axes of `node` (attribute `axes` or input 1),
  /// or none when they are not constant.
  std::optional<llvm::SmallVector<int64_t>> axesOf(const GraphIndex &graph,
                                                   const onnx::NodeProto &node);

  const GraphIndex &mainGraph() const { return main; }
  mlir::OpBuilder &getBuilder() { return builder; }
  mlir::MLIRContext &getContext() { return context; }

private:
  llvm::Error emitNode(const onnx::NodeProto &node);

  using EmitFn = llvm::Error (Importer::*)(const onnx::NodeProto &);
  /// One emitter: handles `opType` from opset `since` on (until a later
  /// entry for the same op takes over).
  struct Emitter {
    const char *opType;
    int64_t since;
    EmitFn fn;
  };
  static const Emitter kEmitters[];
  const Emitter *findEmitter(llvm::StringRef opType) const;

  llvm::Expected<mlir::Type> elementType(int32_t onnxType,
                                         const llvm::Twine &what);
  llvm::Expected<mlir::RankedTensorType>
  valueType(const onnx::ValueInfoProto &info);
  llvm::Expected<mlir::DenseElementsAttr>
  tensorAttr(const onnx::TensorProto &tensor);

  // Emitters of single nodes (OnnxImporter.cpp).
  llvm::Error emitFc(const onnx::NodeProto &node, mlir::Value input,
                     mlir::DenseElementsAttr weight,
                     mlir::DenseElementsAttr bias);
  llvm::Error emitGemm(const onnx::NodeProto &node);
  llvm::Error emitMatMul(const onnx::NodeProto &node);
  llvm::Error emitAdd(const onnx::NodeProto &node);
  llvm::Error emitGather(const onnx::NodeProto &node);
  template <typename OpTy>
  llvm::Error emitUnary(const onnx::NodeProto &node);

  // Raisers of multi-node shapes.
  /// torch's EmbeddingBag `Loop` (RaiseEmbeddingBag.cpp).
  llvm::Error raiseEmbeddingBagLoop(const onnx::NodeProto &loop);
  /// `Reduce*(Gather(table, indices[B, L]), axes=[1])` (RaiseEmbeddingBag.cpp).
  llvm::Error raiseFixedLengthBag(const onnx::NodeProto &reduce);
  /// The DLRM interaction's final `Concat` (RaiseInteraction.cpp).
  llvm::Error raiseInteraction(const onnx::NodeProto &concat);

  mlir::MLIRContext &context;
  const onnx::ModelProto &model;
  std::string file;
  std::string directory;
  int64_t opset;
  mlir::OpBuilder builder;
  GraphIndex main;
  llvm::StringMap<mlir::Value> values;
  llvm::StringMap<mlir::DenseElementsAttr> constants;
  llvm::StringMap<mlir::RankedTensorType> inputTypes;
  llvm::StringMap<llvm::SmallVector<StaticInt>> shapeOverrides;
  llvm::StringMap<StaticInt> symbols;
  /// Nodes being emitted (a cycle would be a malformed graph).
  llvm::SmallPtrSet<const onnx::NodeProto *, 16> inProgress;
};

} // namespace recq::onnx_import

#endif // RECQ_LIB_IMPORT_ONNX_IMPORTER_H
