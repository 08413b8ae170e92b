//===- RecqProfile.cpp - The per-op profile's marks -----------------------===//
//
// See Passes.td (recq-profile-ops, recq-insert-profile-marks).
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"

namespace recq {
#define GEN_PASS_DEF_RECQINSERTPROFILEMARKSPASS
#define GEN_PASS_DEF_RECQPROFILEOPSPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {
/// The op attribute holding an op's index in the profile.
constexpr llvm::StringLiteral kProfileId = "recq.profile_id";
/// The module attribute listing the profiled ops' names.
constexpr llvm::StringLiteral kProfileOps = "recq.profile_ops";
/// The runtime's clock (lib/Runtime/recq_profile.c).
constexpr llvm::StringLiteral kMark = "recq_profile_mark";

/// Whether `op` does work at run time: not a view of bytes as a table
/// (recq.rowwise_cast), not an op of constants only (a weight's quantize,
/// done at compile time).
bool doesWork(Operation *op) {
  if (isa<recq::RowwiseCastOp>(op))
    return false;
  return llvm::any_of(op->getOperands(), [](Value v) {
    return !matchPattern(v, m_Constant());
  });
}

struct RecqProfileOpsPass
    : recq::impl::RecqProfileOpsPassBase<RecqProfileOpsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main) {
      module.emitError("recq-profile-ops: the module has no @main");
      return signalPassFailure();
    }
    Builder b(&getContext());
    SmallVector<Attribute> names;
    main.walk([&](Operation *op) {
      if (!isa<recq::RecqDialect>(op->getDialect()) || !doesWork(op))
        return;
      std::string name =
          op->getName().stripDialect().str();
      if (auto node = recq::onnxNodeName(op->getLoc()))
        name += " " + *node;
      op->setAttr(kProfileId, b.getI32IntegerAttr(int32_t(names.size())));
      names.push_back(b.getStringAttr(name));
    });
    module->setAttr(kProfileOps, b.getArrayAttr(names));
  }
};

struct RecqInsertProfileMarksPass
    : recq::impl::RecqInsertProfileMarksPassBase<RecqInsertProfileMarksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!module->hasAttr(kProfileOps))
      return;
    OpBuilder b(&getContext());
    auto markType = b.getFunctionType({b.getI32Type()}, {});
    auto mark = [&](Location loc, int32_t id) {
      Value value = b.create<arith::ConstantIntOp>(loc, id, 32);
      b.create<func::CallOp>(loc, kMark, TypeRange(), ValueRange(value));
    };
    bool any = false;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      SmallVector<std::pair<Operation *, int32_t>> marked;
      fn.walk([&](Operation *op) {
        if (auto id = op->getAttrOfType<IntegerAttr>(kProfileId))
          marked.push_back({op, int32_t(id.getInt())});
      });
      if (marked.empty())
        continue;
      any = true;
      for (auto [op, id] : marked) {
        b.setInsertionPoint(op);
        mark(op->getLoc(), id);
        op->removeAttr(kProfileId);
      }
      fn.walk([&](func::ReturnOp ret) {
        b.setInsertionPoint(ret);
        mark(ret.getLoc(), -1);
      });
    }
    if (!any || module.lookupSymbol(kMark))
      return;
    b.setInsertionPointToStart(module.getBody());
    auto decl = b.create<func::FuncOp>(module.getLoc(), kMark, markType);
    decl.setPrivate();
  }
};
} // namespace
