//===- RemoteTables.cpp - Which tables live in a row store ----------------===//
//
// See RemoteTables.h.
//
//===----------------------------------------------------------------------===//

#include "recq/Driver/RemoteTables.h"

#include "recq/Driver/Plan.h"

#include "llvm/ADT/SmallVector.h"

using llvm::Expected;

Expected<recq::RemoteTableSelection>
recq::selectRemoteTables(mlir::ModuleOp module, llvm::StringRef spec) {
  spec = spec.trim();
  if (spec.empty())
    return llvm::createStringError(
        "--remote-tables takes 'all', 'above=BYTES' or a list of table names");
  auto pieces = quant::listPieces(module);
  if (!pieces)
    return pieces.takeError();
  RemoteTableSelection selection;
  selection.spec = spec.str();
  for (const quant::Piece &p : pieces->tables)
    selection.names.push_back(p.name);
  if (selection.names.empty())
    return llvm::createStringError("--remote-tables: the model has no "
                                   "embedding table");

  llvm::StringRef rest = spec;
  if (spec == "all")
    return selection;
  if (rest.consume_front("above=")) {
    uint64_t bytes = 0;
    if (rest.getAsInteger(10, bytes))
      return llvm::createStringError(
          "--remote-tables=above= takes a number of bytes, not '" + rest + "'");
    return selection;
  }
  llvm::SmallVector<llvm::StringRef> listed;
  spec.split(listed, ',', -1, /*KeepEmpty=*/false);
  std::string known;
  for (const std::string &name : selection.names)
    known += (known.empty() ? "" : ", ") + name;
  for (llvm::StringRef name : listed)
    if (!llvm::is_contained(selection.names, name.trim().str()))
      return llvm::createStringError(
          "--remote-tables names '" + name.trim().str() +
          "', which the model lacks (its tables: " + known + ")");
  return selection;
}
