//===- RecqOps.td - recq operations ------------------------*- tablegen -*-===//
//
// The ops of a DLRM-style model. Shapes follow PyTorch: an FC weight is
// [out_features, in_features]; a table is [rows, dim]; a batch is dimension 0.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DIALECT_RECQ_IR_RECQOPS_TD
#define RECQ_DIALECT_RECQ_IR_RECQOPS_TD

include "recq/Dialect/Recq/IR/RecqDialect.td"
include "recq/Dialect/Recq/IR/RecqAttrs.td"
include "recq/Dialect/Recq/IR/RecqTypes.td"
include "mlir/Dialect/Quant/QuantOpsBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Recq_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def Recq_FcTensor : RankedTensorOf<[F32, BF16]>;
def Recq_IndexTensor : RankedTensorOf<[I32, I64]>;
def Recq_WeightsTensor : RankedTensorOf<[F32]>;
def Recq_QuantizedTensor : RankedTensorOf<[quant_QuantizedType]>;
def Recq_TableType : AnyTypeOf<[Recq_FloatTensor, Recq_RowwiseTableType],
    "embedding table (2-D float tensor or !recq.rowwise)">;

//===----------------------------------------------------------------------===//
// Embedding bags
//===----------------------------------------------------------------------===//

def Recq_EmbeddingBagOp
    : Recq_Op<"embedding_bag", [Pure, AttrSizedOperandSegments]> {
  let summary = "pooled lookup of bags of rows in one embedding table";
  let description = [{
    PyTorch's `nn.EmbeddingBag` with offsets. Bag `b` holds the indices
    `indices[offsets[b] .. offsets[b+1])` (the last bag runs to the end of
    `indices`, or to the last offset with `include_last_offset`). Its rows
    are pooled by `mode` (`sum`, `mean` or `max`), each first multiplied by
    its `per_sample_weights` entry when those are given (`sum` only). An
    empty bag gives a row of zeros. Pooling accumulates in f32 whatever the
    table's precision; the result is f32 or the table's own float type.

    Without offsets, `indices` is 2-D `[batch, L]`: fixed-length bags of `L`
    indices each (PyTorch's 2-D input form), and `per_sample_weights`, if
    given, has the same shape.

    An index outside `[0, rows)` is not undefined behaviour: the compiled
    model returns an error status naming table, sample and value.

    ```mlir
    %e = recq.embedding_bag sum %table[%indices, %offsets]
        : (tensor<1000x16xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x16xf32>
    %q = recq.embedding_bag mean %qtable[%indices, %offsets] include_last_offset
        : (!recq.rowwise<1000x16xui4, f16>, tensor<?xi64>, tensor<?xi64>)
        -> tensor<?x16xf32>
    %f = recq.embedding_bag sum %table[%indices2d]
        : (tensor<1000x16xf32>, tensor<?x4xi64>) -> tensor<?x16xf32>
    ```
  }];
  let arguments = (ins Recq_TableType:$table,
                       Recq_IndexTensor:$indices,
                       Optional<Recq_IndexTensor>:$offsets,
                       Optional<Recq_WeightsTensor>:$per_sample_weights,
                       Recq_PoolingMode:$mode,
                       UnitAttr:$include_last_offset);
  let results = (outs Recq_FloatTensor:$result);
  let assemblyFormat = [{
    $mode $table `[` $indices (`,` $offsets^)? `]`
    (`weights` `(` $per_sample_weights^ `)`)?
    (`include_last_offset` $include_last_offset^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Recq_EmbeddingBagsOp
    : Recq_Op<"embedding_bags", [Pure, AttrSizedOperandSegments]> {
  let summary = "several embedding bags, one per table, pooled in one op";
  let description = [{
    `T` independent `recq.embedding_bag` lookups with one pooling mode, one
    table each, written side by side into a `[batch, T, dim]` result: slot
    `t` holds table `t`'s pooled rows. Produced by `recq-fuse` so that one
    loop nest covers tables x batch (threading, prefetch) and the result can
    feed `recq.interaction` without a copy. Every table has the same `dim`;
    `offsets` and `per_sample_weights` are each given for all tables or none
    (no offsets: every table's indices are 2-D fixed-length bags).

    ```mlir
    %e = recq.embedding_bags sum tables(%t0, %t1) indices(%i0, %i1)
        offsets(%o0, %o1)
        : (tensor<100x16xf32>, !recq.rowwise<5000x16xui8, f32>,
           tensor<?xi64>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>)
        -> tensor<?x2x16xf32>
    ```
  }];
  let arguments = (ins Variadic<Recq_TableType>:$tables,
                       Variadic<Recq_IndexTensor>:$indices,
                       Variadic<Recq_IndexTensor>:$offsets,
                       Variadic<Recq_WeightsTensor>:$per_sample_weights,
                       Recq_PoolingMode:$mode,
                       UnitAttr:$include_last_offset);
  let results = (outs Recq_FloatTensor:$result);
  let assemblyFormat = [{
    $mode `tables` `(` $tables `)` `indices` `(` $indices `)`
    (`offsets` `(` $offsets^ `)`)?
    (`weights` `(` $per_sample_weights^ `)`)?
    (`include_last_offset` $include_last_offset^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Fully connected layers
//===----------------------------------------------------------------------===//

def Recq_FcOp : Recq_Op<"fc", [Pure, AttrSizedOperandSegments]> {
  let summary = "fully connected layer: act(input x weight^T + bias)";
  let description = [{
    `result[m, n] = act(sum_k input[m, k] * weight[n, k] + bias[n])` with the
    weight laid out `[out_features, in_features]` like `nn.Linear`. `act` is
    `none` (default, not printed), `relu` or `sigmoid`. Operands are f32 or
    bf16; accumulation is f32.

    With `addend(%a)` (f32, the result's shape), `%a[m, n]` is added after
    the bias and before the activation: `recq-quantize` sums the two halves
    of an FC split by input columns this way.

    A **bf16 FC** (f32 input and result, bf16 weight: `recq-compile
    --quantize=bf16`) rounds its input to bf16 (to nearest even) and sums
    the exact products in f32, in the order AVX-512 BF16's `vdpbf16ps`
    does: for each pair of k, `2j + 1` then `2j` (an odd K's last k alone).
    Every target computes exactly that; where `vdpbf16ps` runs (target
    `avx512-bf16`), inputs and results below 2^-126 are flushed to zero.
    The exception is target `amx`, whose `tdpbf16ps` sums in its own order
    (Intel SDM): per 32 of K, the even and the odd products each from 0,
    then their sum added to the row's. Its result `y'` is within
    `2 (K + 1) 2^-24 (sum_k |x_k w_k| + |bias|)` of the definition's `y`
    before the activation (x and w rounded to bf16; ReLU and sigmoid do
    not widen the gap), and, like `vdpbf16ps`, it flushes values below
    2^-126 to zero.

    ```mlir
    %h = recq.fc %x, %w, %b act(relu)
        : (tensor<?x13xf32>, tensor<512x13xf32>, tensor<512xf32>) -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins Recq_FcTensor:$input,
                       Recq_FcTensor:$weight,
                       Optional<Recq_FcTensor>:$bias,
                       Optional<RankedTensorOf<[F32]>>:$addend,
                       DefaultValuedAttr<Recq_Activation,
                                         "::recq::Activation::none">:$activation);
  let results = (outs Recq_FcTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? (`addend` `(` $addend^ `)`)?
    (`act` `(` $activation^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Recq_QfcOp : Recq_Op<"qfc", [Pure, AttrSizedOperandSegments]> {
  let summary = "int8 fully connected layer with a fused requantization";
  let description = [{
    The int8 form of `recq.fc`, as FBGEMM computes it: u8 activations
    (asymmetric, per tensor) times s8 weights (symmetric, per output channel
    or per tensor) accumulate in i32; the epilogue adds the bias, removes the
    input zero point's contribution, applies `act`, rescales, rounds to
    nearest even and clamps to the result type: u8/i8 (per tensor) to feed
    the next int8 layer, or f32 at the edge of an int8 region. The bias is
    i32 in units of `input_scale * weight_scale[n]`, or f32.

    With `addend(%a)` (f32, the result's shape), `%a[m, n]` is added in
    f32 after the bias and before the activation; with a u8/i8 result, as
    `fma(a, 1 / result_scale, y)` on the value `y` in result units before
    rounding (the addend's own rounding, once, is the only difference to
    adding it in real units).

    Created by `recq-fuse` from `dequantize -> fc -> quantize`, never by the
    importer.

    ```mlir
    %y = recq.qfc %x, %w, %b act(relu)
        : (tensor<?x512x!quant.uniform<u8:f32, 0.05:12>>,
           tensor<256x512x!quant.uniform<i8:f32:0, {0.01, 0.02, ...}>>,
           tensor<256xi32>) -> tensor<?x256x!quant.uniform<u8:f32, 0.1>>
    ```
  }];
  let arguments = (ins Recq_QuantizedTensor:$input,
                       Recq_QuantizedTensor:$weight,
                       Optional<RankedTensorOf<[I32, F32]>>:$bias,
                       Optional<RankedTensorOf<[F32]>>:$addend,
                       DefaultValuedAttr<Recq_Activation,
                                         "::recq::Activation::none">:$activation);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? (`addend` `(` $addend^ `)`)?
    (`act` `(` $activation^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Feature interaction
//===----------------------------------------------------------------------===//

def Recq_InteractionOp : Recq_Op<"interaction", [Pure]> {
  let summary = "DLRM feature interaction (pairwise dot products or concat)";
  let description = [{
    The features of a sample are the dense vector `dense[b]` followed by the
    embedding vectors, each operand contributing one (`[B, D]`) or `T`
    (`[B, T, D]`, the result of `recq.embedding_bags`) features of
    dimension `D`; call their count `F`.

    `dot`: the result row is `dense[b]` followed by the dot products
    `<f_i, f_j>` for `0 <= j < i < F` in row-major order (i outer),
    `D + F*(F-1)/2` columns; with `self_interaction`, `j <= i` and
    `D + F*(F+1)/2` columns. This is DLRM's `interact_features`.

    `cat`: the result row is all `F` feature vectors concatenated, `F*D`
    columns.

    ```mlir
    %z = recq.interaction dot %x, [%e0, %e1]
        : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x19xf32>
    ```
  }];
  let arguments = (ins Recq_FcTensor:$dense,
                       Variadic<Recq_FcTensor>:$embeddings,
                       Recq_InteractionMode:$mode,
                       UnitAttr:$self_interaction);
  let results = (outs Recq_FcTensor:$result);
  let assemblyFormat = [{
    $mode $dense `,` `[` $embeddings `]`
    (`self_interaction` $self_interaction^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Columns of the result for `numFeatures` features (dense included) of
    /// dimension `dim`.
    static int64_t getNumResultColumns(::recq::InteractionMode mode,
                                       bool selfInteraction,
                                       int64_t numFeatures, int64_t dim);
    /// Number of features (dense included), or -1 when an operand's feature
    /// count is dynamic.
    int64_t getNumFeatures();
  }];
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def Recq_QuantizeOp : Recq_Op<"quantize", [Pure]> {
  let summary = "float tensor to a quant-dialect quantized tensor";
  let description = [{
    `q = clamp(round_half_even(x / scale) + zero_point)` per tensor or per
    axis, as the result's `!quant.uniform` type says. Marks the entry into an
    int8 region.

    ```mlir
    %q = recq.quantize %x : tensor<?x64xf32> -> tensor<?x64x!quant.uniform<u8:f32, 0.5:3>>
    ```
  }];
  let arguments = (ins Recq_FloatTensor:$input);
  let results = (outs Recq_QuantizedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Recq_DequantizeOp : Recq_Op<"dequantize", [Pure]> {
  let summary = "quant-dialect quantized tensor to a float tensor";
  let description = [{
    `x = scale * (q - zero_point)`. Marks the exit from an int8 region.

    ```mlir
    %x = recq.dequantize %q : tensor<?x64x!quant.uniform<u8:f32, 0.5:3>> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Recq_QuantizedTensor:$input);
  let results = (outs Recq_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Recq_RowwiseQuantizeOp : Recq_Op<"rowwise_quantize", [Pure]> {
  let summary = "float embedding table to a row-wise quantized table";
  let description = [{
    Quantizes each row on its own: `bias = min(row)`,
    `scale = (max(row) - min(row)) / (2^bits - 1)`, codes rounded to nearest
    (even). Applied to constant tables at compile time.

    ```mlir
    %q = recq.rowwise_quantize %t : tensor<1000x16xf32> -> !recq.rowwise<1000x16xui8, f32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[F32, F16]>:$table);
  let results = (outs Recq_RowwiseTableType:$result);
  let assemblyFormat =
      "$table attr-dict `:` type($table) `->` qualified(type($result))";
  let hasVerifier = 1;
  // Of a constant table: the quantized bytes as a constant, through
  // recq.rowwise_cast.
  let hasCanonicalizeMethod = 1;
}

def Recq_RowwiseCastOp : Recq_Op<"rowwise_cast", [Pure]> {
  let summary = "bytes [rows, row bytes] viewed as a row-wise quantized table";
  let description = [{
    The storage of a `!recq.rowwise` table: `rows` records of
    `getRowBytes()` bytes each (codes, then scale and bias). `recq-canonicalize`
    folds `recq.rowwise_quantize` of a constant into this op on a constant
    `i8` tensor, which the lowering reads and `recq-compile` can move to
    `model.weights`.

    ```mlir
    %q = recq.rowwise_cast %bytes : tensor<1000x72xi8> -> !recq.rowwise<1000x64xui8, f32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I8]>:$bytes);
  let results = (outs Recq_RowwiseTableType:$result);
  let assemblyFormat =
      "$bytes attr-dict `:` type($bytes) `->` qualified(type($result))";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Glue
//===----------------------------------------------------------------------===//

class Recq_UnaryFloatOp<string mnemonic, list<Trait> traits = []>
    : Recq_Op<mnemonic, !listconcat(traits,
          [Pure, SameOperandsAndResultType])> {
  let arguments = (ins Recq_FloatTensor:$input);
  let results = (outs Recq_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Recq_ReluOp : Recq_UnaryFloatOp<"relu"> {
  let summary = "elementwise max(x, 0)";
  let description = [{
    Left by the importer where a `Relu` does not follow an FC; after an FC it
    is folded into `recq.fc ... act(relu)` by canonicalization.

    ```mlir
    %y = recq.relu %x : tensor<?x16xf32>
    ```
  }];
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Recq_SigmoidOp : Recq_UnaryFloatOp<"sigmoid"> {
  let summary = "elementwise 1 / (1 + exp(-x))";
  let description = [{
    After an FC it is folded into `recq.fc ... act(sigmoid)`.

    ```mlir
    %p = recq.sigmoid %x : tensor<?x1xf32>
    ```
  }];
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Kernel building blocks
//===----------------------------------------------------------------------===//

def Recq_PureIntrinsicOp : Recq_Op<"pure_intrinsic", [Pure]> {
  let summary = "a side-effect-free LLVM intrinsic on vectors";
  let description = [{
    What the int8 kernels use for target instructions (`vpdpbusd`,
    `vpmaddwd`) while the code is still on tensors. `llvm.call_intrinsic`
    has unknown memory effects, which stops bufferization's deallocation
    and the loop-invariant motion the kernels need; this op is `Pure`, and
    `recq-lower-intrinsics` turns it into `llvm.call_intrinsic` once the
    code is on buffers. The intrinsic must really be pure (arithmetic on
    its operands).

    ```mlir
    %acc1 = recq.pure_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%acc, %x, %w)
        : (vector<16xi32>, vector<16xi32>, vector<16xi32>) -> vector<16xi32>
    ```
  }];
  let arguments = (ins StrAttr:$intrinsic, Variadic<AnyVectorOfAnyRank>:$args);
  let results = (outs AnyVectorOfAnyRank:$result);
  let assemblyFormat = [{
    $intrinsic `(` $args `)` attr-dict `:` functional-type($args, $result)
  }];
}

def Recq_IntrinsicOp
    : Recq_Op<"intrinsic", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "an LLVM intrinsic that reads and writes state: AMX tiles";
  let description = [{
    What the AMX int8 kernel uses for the tile instructions (`ldtilecfg`,
    `tileloadd64`, `tdpbusd`, `tilestored64`, `tilezero`, `tilerelease`):
    they act on the tile registers and memory, not on SSA values, so the
    op reads and writes memory (which bufferization's deallocation
    accepts, unlike `llvm.call_intrinsic`'s unknown effects) and is never
    moved across another. Tile numbers are `i8` constants (the
    intrinsics' immediates), addresses `!llvm.ptr`, strides `i64`.

    `recq-lower-intrinsics` turns it into `llvm.call_intrinsic`, or, with
    `emulator`, into a call of that runtime function: the plain C model of
    the instruction (`lib/Runtime/recq_amx_emu.c`) that tests the kernel
    on CPUs without AMX. The function takes each `i8` as an `i32`.

    ```mlir
    recq.intrinsic "llvm.x86.tdpbusd"(%c0, %c4, %c6) : i8, i8, i8
    recq.intrinsic "llvm.x86.tdpbusd"(%c0, %c4, %c6)
        emulator "recq_amx_emu_tdpbusd" : i8, i8, i8
    ```
  }];
  let arguments = (ins StrAttr:$intrinsic, Variadic<AnyType>:$args,
                       OptionalAttr<StrAttr>:$emulator);
  let assemblyFormat = [{
    $intrinsic `(` $args `)` (`emulator` $emulator^)? attr-dict
    (`:` type($args)^)?
  }];
  let hasVerifier = 1;
}

#endif // RECQ_DIALECT_RECQ_IR_RECQOPS_TD
