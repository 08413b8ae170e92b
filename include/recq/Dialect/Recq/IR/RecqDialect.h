//===- RecqDialect.h - recq dialect, types, attributes, ops -----*- C++ -*-===//
//
// The one header a user of the recq dialect includes: the dialect class, its
// enums and attributes, the row-wise table type and the ops.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DIALECT_RECQ_IR_RECQDIALECT_H
#define RECQ_DIALECT_RECQ_IR_RECQDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "recq/Dialect/Recq/IR/RecqOpsDialect.h.inc"

#include "recq/Dialect/Recq/IR/RecqEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "recq/Dialect/Recq/IR/RecqOpsTypes.h.inc"

#define GET_OP_CLASSES
#include "recq/Dialect/Recq/IR/RecqOps.h.inc"

#include <optional>
#include <string>

namespace recq {
/// The ONNX node's name an op's location carries (a NameLoc, or one
/// inside a FusedLoc), if any.
std::optional<std::string> onnxNodeName(mlir::Location loc);
} // namespace recq

#endif // RECQ_DIALECT_RECQ_IR_RECQDIALECT_H
