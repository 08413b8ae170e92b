//===- RecqAttrs.td - recq enums and attributes ------------*- tablegen -*-===//
//
// Enumerations carried by recq ops: pooling mode, activation and interaction
// kind. Each is an I32EnumAttr (stored as an i32, as arith.cmpi's predicate
// is) and prints as a bare keyword inside an op: `recq.fc ... act(relu)`.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DIALECT_RECQ_IR_RECQATTRS_TD
#define RECQ_DIALECT_RECQ_IR_RECQATTRS_TD

include "recq/Dialect/Recq/IR/RecqDialect.td"
include "mlir/IR/EnumAttr.td"

/// Pooling of the rows of one bag, as in PyTorch's `nn.EmbeddingBag(mode=)`.
def Recq_PoolingMode : I32EnumAttr<"PoolingMode", "embedding bag pooling", [
    I32EnumAttrCase<"sum", 0>,
    I32EnumAttrCase<"mean", 1>,
    I32EnumAttrCase<"max", 2>]> {
  let cppNamespace = "::recq";
}

/// Activation applied to an FC output before it is stored.
def Recq_Activation : I32EnumAttr<"Activation", "fc activation", [
    I32EnumAttrCase<"none", 0>,
    I32EnumAttrCase<"relu", 1>,
    I32EnumAttrCase<"sigmoid", 2>]> {
  let cppNamespace = "::recq";
}

/// Feature interaction kind of DLRM: pairwise dot products or concatenation.
def Recq_InteractionMode : I32EnumAttr<"InteractionMode", "feature interaction", [
    I32EnumAttrCase<"dot", 0>,
    I32EnumAttrCase<"cat", 1>]> {
  let cppNamespace = "::recq";
}

#endif // RECQ_DIALECT_RECQ_IR_RECQATTRS_TD
