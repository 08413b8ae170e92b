//===- OnnxImporter.h - ONNX ModelProto to recq ------------------*- C++ -*-===//
//
// Imports an ONNX model file into a module with one `func.func @main` in the
// recq dialect (plus arith constants for initializers). Malformed files,
// opsets outside 11..17 and nodes recq cannot take are reported as
// llvm::Error values whose message names the node and its op type.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_IMPORT_ONNXIMPORTER_H
#define RECQ_IMPORT_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace recq {

/// Oldest and newest default-domain opset the importer accepts.
constexpr int64_t kMinOnnxOpset = 11;
constexpr int64_t kMaxOnnxOpset = 17;

/// Reads, checks (onnx::checker, shape inference) and imports the model at
/// `path`. On failure returns an error whose message is one line, e.g.
/// "node 'loop_3' (Loop): not supported: ...".
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importOnnxFile(llvm::StringRef path, mlir::MLIRContext &context);

/// Imports the serialized model `bytes`; `path` names it in locations and
/// locates its external data files (if any).
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importOnnxBuffer(llvm::StringRef bytes, llvm::StringRef path,
                 mlir::MLIRContext &context);

} // namespace recq

#endif // RECQ_IMPORT_ONNXIMPORTER_H
