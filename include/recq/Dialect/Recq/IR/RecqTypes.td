//===- RecqTypes.td - recq types ---------------------------*- tablegen -*-===//
//
// `!recq.rowwise`: an embedding table quantized row by row. Unlike the quant
// dialect's per-axis type, whose scales are part of the type, a table has one
// scale and one bias per row (10^3 to 10^7 rows), so they live in the data,
// next to the row's values, and the type records only their precision.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DIALECT_RECQ_IR_RECQTYPES_TD
#define RECQ_DIALECT_RECQ_IR_RECQTYPES_TD

include "recq/Dialect/Recq/IR/RecqDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

class Recq_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Recq_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Recq_RowwiseTableType : Recq_Type<"RowwiseTable", "rowwise"> {
  let summary = "embedding table quantized row-wise (int8 or int4 codes)";
  let description = [{
    A table of `rows x cols` values stored as unsigned codes of `ui8` or `ui4`
    with one scale and one bias per row, in `f32` or `f16`. Element `j` of
    row `r` is `scale[r] * code[r][j] + bias[r]` (FBGEMM's and PyTorch's
    `embedding_bag_byte_rowwise` / `_4bit_rowwise` convention, where the bias
    is the row's minimum). A row is one contiguous record: its codes (two
    4-bit codes per byte, low nibble first, `cols` rounded up to even) then
    its scale and bias, so a lookup reads one run of `getRowBytes()` bytes.

    ```mlir
    !recq.rowwise<1000x64xui8, f32>   // 64 + 8 = 72 bytes per row
    !recq.rowwise<100000x128xui4, f16> // 64 + 4 = 68 bytes per row
    ```
  }];
  let parameters = (ins "int64_t":$rows, "int64_t":$cols,
                        "::mlir::IntegerType":$codeType,
                        "::mlir::FloatType":$scaleType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Bits per code: 8 or 4.
    unsigned getBitsPerCode() const { return getCodeType().getWidth(); }
    /// Bytes of one row's codes (int4 packs two per byte, rounded up).
    int64_t getCodeBytes() const;
    /// Bytes of one stored row: codes, then scale and bias.
    int64_t getRowBytes() const;
  }];
}

#endif // RECQ_DIALECT_RECQ_IR_RECQTYPES_TD
