//===- RecqSplitBags.cpp - One function per table, one for the rest -------===//
//
// See Passes.td (recq-split-bags).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace recq {
#define GEN_PASS_DEF_RECQSPLITBAGSPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

/// Adds the ops of @main's body that `v` is computed from to `slice`;
/// false when one of them cannot be cloned into another function (it has
/// side effects or regions, or is not in the body).
static bool collectSlice(Value v, Block *body,
                         llvm::SetVector<Operation *> &slice) {
  Operation *op = v.getDefiningOp();
  if (!op)
    return cast<BlockArgument>(v).getOwner() == body;
  if (slice.contains(op))
    return true;
  if (op->getBlock() != body || op->getNumRegions() != 0 ||
      !isMemoryEffectFree(op))
    return false;
  for (Value operand : op->getOperands())
    if (!collectSlice(operand, body, slice))
      return false;
  slice.insert(op);
  return true;
}

Operation *recq::splittableBags(func::FuncOp main) {
  if (!main || !main.getBody().hasOneBlock())
    return nullptr;
  Block *body = &main.getBody().front();
  // One recq.embedding_bags and no lone bag (whose index status would
  // fall outside the tables' order).
  Operation *found = nullptr;
  int batched = 0, lone = 0;
  main.walk([&](Operation *op) {
    if (isa<recq::EmbeddingBagOp>(op))
      ++lone;
    else if (isa<recq::EmbeddingBagsOp>(op))
      found = op, ++batched;
  });
  if (batched != 1 || lone != 0 || found->getBlock() != body)
    return nullptr;
  llvm::SetVector<Operation *> slice;
  for (Value operand : found->getOperands())
    if (!collectSlice(operand, body, slice))
      return nullptr;
  return found;
}

namespace {

struct RecqSplitBagsPass
    : recq::impl::RecqSplitBagsPassBase<RecqSplitBagsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    auto bags =
        dyn_cast_or_null<recq::EmbeddingBagsOp>(recq::splittableBags(main));
    if (!bags)
      return;
    OpBuilder b(module.getContext());
    b.setInsertionPoint(main);
    for (int64_t t = 0, n = bags.getTables().size(); t < n; ++t)
      buildTable(b, main, bags, t);
    buildRest(b, main, bags);
    main.erase();
  }

  /// @recq_bag_<t>(main's arguments, %buf: memref<BxTxD>): fills slot t
  /// of the caller's buffer in place; returns nothing.
  void buildTable(OpBuilder &b, func::FuncOp main, recq::EmbeddingBagsOp bags,
                  int64_t t) {
    Location loc = bags.getLoc();
    RankedTensorType embType = bags.getType();
    auto embBuffer =
        MemRefType::get(embType.getShape(), embType.getElementType());
    SmallVector<Type> inputs(main.getArgumentTypes());
    inputs.push_back(embBuffer);
    auto fn = b.create<func::FuncOp>(main.getLoc(),
                                     ("recq_bag_" + llvm::Twine(t)).str(),
                                     b.getFunctionType(inputs, {}));
    Block *entry = fn.addEntryBlock();
    OpBuilder fb = OpBuilder::atBlockEnd(entry);
    IRMapping map;
    map.map(main.getArguments(), entry->getArguments().drop_back());

    Value table = bags.getTables()[t], indices = bags.getIndices()[t];
    Value offsets = bags.getOffsets().empty() ? Value() : bags.getOffsets()[t];
    Value weights = bags.getPerSampleWeights().empty()
                        ? Value()
                        : bags.getPerSampleWeights()[t];
    // What the table's operands are computed from, in @main's order.
    llvm::SetVector<Operation *> slice;
    for (Value v : {table, indices, offsets, weights})
      if (v)
        (void)collectSlice(v, &main.getBody().front(), slice);
    for (Operation &op : main.getBody().front())
      if (slice.contains(&op))
        fb.clone(op, map);

    // The caller's buffer, written in place (defined before the
    // bag, which convert-recq-to-linalg pools straight into it).
    Value buffer = entry->getArguments().back();
    Value emb = fb.create<bufferization::ToTensorOp>(
        loc, embType, buffer, /*restrict=*/true, /*writable=*/true);
    int64_t dim = embType.getDimSize(2);
    auto bagType = RankedTensorType::get({embType.getDimSize(0), dim},
                                         embType.getElementType());
    Value pooled = fb.create<recq::EmbeddingBagOp>(
        loc, bagType, map.lookup(table), map.lookup(indices),
        offsets ? map.lookup(offsets) : Value(),
        weights ? map.lookup(weights) : Value(), bags.getMode(),
        bags.getIncludeLastOffset());
    OpFoldResult batch =
        embType.isDynamicDim(0)
            ? OpFoldResult(fb.create<tensor::DimOp>(loc, emb, 0).getResult())
            : OpFoldResult(fb.getIndexAttr(embType.getDimSize(0)));
    Value filled = fb.create<tensor::InsertSliceOp>(
        loc, pooled, emb,
        ArrayRef<OpFoldResult>{fb.getIndexAttr(0), fb.getIndexAttr(t),
                               fb.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{batch, fb.getIndexAttr(1), fb.getIndexAttr(dim)},
        ArrayRef<OpFoldResult>{fb.getIndexAttr(1), fb.getIndexAttr(1),
                               fb.getIndexAttr(1)});
    auto store = fb.create<bufferization::MaterializeInDestinationOp>(
        loc, filled, buffer);
    store.setRestrict(true);
    store.setWritable(true);
    fb.create<func::ReturnOp>(loc);
  }

  /// @recq_rest: @main reading %emb (one more argument) for the bags.
  void buildRest(OpBuilder &b, func::FuncOp main, recq::EmbeddingBagsOp bags) {
    auto rest = cast<func::FuncOp>(b.clone(*main));
    rest.setSymName("recq_rest");
    Operation *clone = nullptr;
    rest.walk([&](recq::EmbeddingBagsOp op) { clone = op; });
    unsigned at = rest.getNumArguments();
    rest.insertArgument(at, bags.getType(), {}, bags.getLoc());
    clone->getResult(0).replaceAllUsesWith(rest.getArgument(at));
    clone->erase();
    // The tables and offset rows only the bags read.
    for (Operation &op :
         llvm::make_early_inc_range(llvm::reverse(rest.getBody().front())))
      if (op.use_empty() && !op.hasTrait<OpTrait::IsTerminator>() &&
          isMemoryEffectFree(&op) && op.getNumRegions() == 0)
        op.erase();
  }
};

} // namespace
