//===- RecqDialect.td - recq dialect definition ------------*- tablegen -*-===//
//
// The recq dialect: domain ops of recommendation models (embedding bags, fully
// connected layers, feature interaction) on tensors, in fp32/fp16/bf16 and in
// the quantized forms recq's precision planner chooses.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DIALECT_RECQ_IR_RECQDIALECT_TD
#define RECQ_DIALECT_RECQ_IR_RECQDIALECT_TD

include "mlir/IR/OpBase.td"

def Recq_Dialect : Dialect {
  let name = "recq";
  let cppNamespace = "::recq";
  let summary = "Ops of recommendation models: embedding bags, FC, interaction.";
  let description = [{
    The recq dialect holds a DLRM-style model as a handful of domain ops:
    `recq.embedding_bag` (and the batched `recq.embedding_bags`), `recq.fc`
    and its int8 form `recq.qfc`, `recq.interaction`, and the
    `recq.quantize`/`recq.dequantize` ops at the edges of int8 regions.
    Quantized activations and weights use the `quant` dialect's uniform types
    (per tensor and per axis); row-wise quantized embedding tables, whose
    scales live in the data rather than the type, use `!recq.rowwise`.

    Every op works on ranked tensors. The batch dimension may be dynamic; the
    verifiers check every relation between static sizes and say in the
    model's own terms (rows, columns, features, tables) what does not match.
  }];
  let dependentDialects = ["::mlir::quant::QuantizationDialect",
                           "::mlir::arith::ArithDialect"];
  let useDefaultTypePrinterParser = 1;
  let hasConstantMaterializer = 0;
}

/// Base class of every recq op.
class Recq_Op<string mnemonic, list<Trait> traits = []>
    : Op<Recq_Dialect, mnemonic, traits>;

#endif // RECQ_DIALECT_RECQ_IR_RECQDIALECT_TD
