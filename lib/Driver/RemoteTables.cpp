//===- RemoteTables.cpp - Which tables live in a row store ----------------===//
//
// See RemoteTables.h.
//
//===----------------------------------------------------------------------===//

#include "recq/Driver/RemoteTables.h"

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Driver/Plan.h"
#include "recq/Target/Codegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;
using llvm::Expected;

Expected<int> recq::markRemoteTables(ModuleOp module, llvm::StringRef spec) {
  spec = spec.trim();
  if (spec.empty())
    return llvm::createStringError(
        "--remote-tables takes 'all', 'above=BYTES' or a list of table names");
  auto sites = quant::findPlanSites(module);
  if (!sites)
    return sites.takeError();
  auto pieces = quant::listPieces(module);
  if (!pieces)
    return pieces.takeError();

  bool all = spec == "all";
  std::optional<uint64_t> above;
  llvm::StringSet<> named;
  if (spec.consume_front("above=")) {
    uint64_t bytes = 0;
    if (spec.getAsInteger(10, bytes))
      return llvm::createStringError("--remote-tables=above= takes a number "
                                     "of bytes, not '" +
                                     spec + "'");
    above = bytes;
  } else if (!all) {
    llvm::SmallVector<llvm::StringRef> names;
    spec.split(names, ',', -1, /*KeepEmpty=*/false);
    for (llvm::StringRef name : names)
      named.insert(name.trim());
    std::string known;
    for (const quant::Piece &p : pieces->tables)
      known += (known.empty() ? "" : ", ") + p.name;
    for (const auto &name : named)
      if (llvm::none_of(pieces->tables, [&](const quant::Piece &p) {
            return p.name == name.getKey();
          }))
        return llvm::createStringError(
            "--remote-tables names '" + name.getKey().str() +
            "', which the model lacks (its tables: " +
            (known.empty() ? "none" : known) + ")");
  }

  int marked = 0;
  for (auto [table, piece] : llvm::zip(sites->tables, pieces->tables)) {
    Value rows = table;
    if (auto view = rows.getDefiningOp<recq::RowwiseCastOp>())
      rows = view.getBytes();
    auto constant = rows.getDefiningOp<arith::ConstantOp>();
    auto value = constant ? dyn_cast<DenseElementsAttr>(constant.getValue())
                          : DenseElementsAttr();
    uint64_t bytes =
        value ? value.getNumElements() *
                    (value.getElementType().getIntOrFloatBitWidth() / 8)
              : 0;
    bool wanted =
        all || (above && bytes > *above) || named.contains(piece.name);
    if (!wanted)
      continue;
    if (!value)
      return llvm::createStringError(
          "table '" + piece.name +
          "' cannot be remote: its rows are computed, not a constant");
    constant->setAttr(kRemoteTableAttr,
                      StringAttr::get(module.getContext(), piece.name));
    ++marked;
  }
  return marked;
}
