//===- RemoteTables.h - Which tables live in a row store --------*- C++ -*-===//
//
// recq-compile --remote-tables: the tables whose rows stay out of the
// artifact (docs/RemoteTables.md).
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DRIVER_REMOTETABLES_H
#define RECQ_DRIVER_REMOTETABLES_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace recq {

/// Marks the tables `spec` selects as remote (recq::kRemoteTableAttr on
/// each table's constant, holding its name as a plan names it: the ONNX
/// node of its first lookup). `spec` is "all", "above=BYTES" (tables
/// larger than that as stored: fp32, fp16 or row-wise bytes) or a
/// comma-separated list of names. Run it after the plan's precisions are
/// applied and before the tables are batched. Returns how many tables it
/// marked; an unknown name is an error that lists the model's tables.
llvm::Expected<int> markRemoteTables(mlir::ModuleOp module,
                                     llvm::StringRef spec);

} // namespace recq

#endif // RECQ_DRIVER_REMOTETABLES_H
