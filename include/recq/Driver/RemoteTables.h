//===- RemoteTables.h - Which tables live in a row store --------*- C++ -*-===//
//
// recq-compile --remote-tables: the tables whose rows stay out of the
// artifact (docs/RemoteTables.md).
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DRIVER_REMOTETABLES_H
#define RECQ_DRIVER_REMOTETABLES_H

#include "recq/Target/Codegen.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace recq {

/// The tables `spec` selects in `module` as imported (before precisions
/// are applied and tables batched): "all", "above=BYTES" (tables larger
/// than that as stored, decided when they are written) or a
/// comma-separated list of names as a plan names them (the ONNX node of
/// each table's first lookup). An unknown name is an error listing the
/// model's tables; so is a malformed size. Pass the result to
/// externalizeWeights.
llvm::Expected<RemoteTableSelection> selectRemoteTables(mlir::ModuleOp module,
                                                        llvm::StringRef spec);

} // namespace recq

#endif // RECQ_DRIVER_REMOTETABLES_H
