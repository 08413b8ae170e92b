//===- Passes.td - recq dialect passes ---------------------*- tablegen -*-===//
//
// Passes on the recq dialect. Keep them alphabetical within a group.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DIALECT_RECQ_TRANSFORMS_PASSES_TD
#define RECQ_DIALECT_RECQ_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Cleanups
//===----------------------------------------------------------------------===//

def RecqCanonicalizePass : Pass<"recq-canonicalize"> {
  let summary = "Fold recq ops into their canonical form.";
  let description = [{
    Runs only the recq dialect's folders and canonicalization patterns,
    greedily, so a pipeline can normalise what the importer produced without
    also running every upstream canonicalization (which may, for instance,
    rewrite `tensor` glue the raising patterns still want to see).

    Folds today:
    - `recq.relu(recq.fc act(none))` into `recq.fc act(relu)`, and likewise
      `recq.sigmoid` into `act(sigmoid)`, when the FC has no other use;
    - `recq.relu` of a value that is already rectified (a `recq.relu`, or an
      FC with `act(relu)`) into that value;
    - `recq.quantize(recq.dequantize %q)` back into `%q` when the types
      agree (that round trip is exact).

    Before / after:
    ```mlir
    %0 = recq.fc %x, %w, %b : (...) -> tensor<?x8xf32>
    %1 = recq.relu %0 : tensor<?x8xf32>
    // becomes
    %1 = recq.fc %x, %w, %b act(relu) : (...) -> tensor<?x8xf32>
    ```
  }];
  let dependentDialects = ["::recq::RecqDialect"];
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def RecqQuantizePass : Pass<"recq-quantize", "::mlir::func::FuncOp"> {
  let summary = "Insert quantize/dequantize pairs around the FCs calibration "
                "annotated.";
  let description = [{
    Applies int8 to every `recq.fc` that carries a `recq.input_quant`
    attribute: the `!quant.uniform<u8:f32, scale:zero_point>` type its input
    activation gets, which `recq-compile --quantize=int8` sets from
    calibration (for a ReLU-followed layer this is the range of the ReLU's
    output, since calibration records the next layer's input).

    - the input goes through `recq.quantize` to that type and back through
      `recq.dequantize`;
    - the constant weight `[N, K]` gets s8 symmetric per-output-channel
      scales `max|w[n, :]| / 127` (1 for an all-zero row) and goes through
      the same pair with `!quant.uniform<i8:f32:0, {...}>`;
    - the bias stays f32 (`recq-fuse` and the kernel fold it).

    The FC itself is unchanged; the graph is now in QDQ form and computes
    what int8 inference will compute. `recq-fuse` turns each
    `dequantize -> fc [-> quantize]` into `recq.qfc`. Between two quantized
    layers the pair `quantize(fc1) -> dequantize -> fc2` becomes `qfc1`
    with u8 output feeding `qfc2` directly.

    Refused with an error naming the FC: a weight that is not a constant,
    an annotation that is not per-tensor u8 (per-channel activations, or
    i8), a non-f32 FC.

    ```mlir
    %y = recq.fc %x, %w, %b act(relu) {recq.input_quant = !quant.uniform<u8:f32, 0.05:12>}
    // becomes
    %q = recq.quantize %x : ... -> tensor<?x512x!quant.uniform<u8:f32, 0.05:12>>
    %xd = recq.dequantize %q : ...
    %wq = recq.quantize %w : tensor<256x512xf32> -> tensor<256x512x!quant.uniform<i8:f32:0, {...}>>
    %wd = recq.dequantize %wq : ...
    %y = recq.fc %xd, %wd, %b act(relu)
    ```
  }];
  let dependentDialects = ["::recq::RecqDialect",
                           "::mlir::quant::QuantizationDialect"];
}

def RecqQuantizeTablesPass
    : Pass<"recq-quantize-tables", "::mlir::func::FuncOp"> {
  let summary = "Store constant embedding tables in fp16, or row-wise "
                "int8/int4.";
  let description = [{
    Changes the storage of every constant f32 table an embedding bag reads
    (a table several bags share is converted once):

    - `fp16`: the constant becomes an f16 tensor (rounded to nearest even);
      pooling still accumulates in f32;
    - `int8`, `int4`: the table goes through `recq.rowwise_quantize` to
      `!recq.rowwise<RxDxui8, f32>` / `!recq.rowwise<RxDxui4, f16>` (FBGEMM's
      and PyTorch's `embedding_bag_byte_rowwise` and `_4bit_rowwise` forms;
      `scale-type` overrides the scale and bias precision).
      `recq-canonicalize` then quantizes the constant at compile time;
    - `fp32`: nothing changes.

    Tables that are not constants are left alone. A `recq.embedding_bag`
    with a `recq.table_precision = "fp32" | "fp16" | "int8" | "int4"`
    attribute (the precision planner's choice for that table) gets that
    storage instead of the option's; two bags sharing one table must agree.

    ```mlir
    %e = recq.embedding_bag sum %t[%i, %o] : (tensor<1000x64xf32>, ...) -> tensor<?x64xf32>
    // precision=int8 gives
    %q = recq.rowwise_quantize %t : tensor<1000x64xf32> -> !recq.rowwise<1000x64xui8, f32>
    %e = recq.embedding_bag sum %q[%i, %o] : (!recq.rowwise<1000x64xui8, f32>, ...) -> tensor<?x64xf32>
    ```
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"int8\"",
           "Table storage: fp32, fp16, int8, int4">,
    Option<"scaleType", "scale-type", "std::string", /*default=*/"\"\"",
           "Row-wise scale and bias: f32 or f16 (default: f32 for int8, "
           "f16 for int4)">,
  ];
  let dependentDialects = ["::recq::RecqDialect",
                           "::mlir::arith::ArithDialect"];
}

def RecqFusePass : Pass<"recq-fuse", "::mlir::func::FuncOp"> {
  let summary = "Fuse dequantize -> fc [-> quantize] into recq.qfc, and an "
                "interaction's embedding bags into recq.embedding_bags.";
  let description = [{
    `recq.fc(recq.dequantize %xq, recq.dequantize %wq, %b)` with a per-tensor
    u8 input and an s8 weight becomes `recq.qfc %xq, %wq, %b`:

    - when the FC's only use is a `recq.quantize` to a per-tensor 8-bit type
      (and its activation is `none` or `relu`), the quantize is absorbed and
      the `qfc` returns that type: the requantization is in the GEMM's
      epilogue and the next layer reads the u8 values directly;
    - otherwise the `qfc` returns f32 (the edge of the int8 region: the
      sigmoid output, the interaction input, an output used twice).

    FCs whose operands are not both dequantized are left alone.

    Multi-table batching: consecutive embedding operands of a
    `recq.interaction` that are `recq.embedding_bag` results used only
    there, with the same pooling mode, offsets form (`include_last_offset`
    too), per-sample weights presence and result type, become one
    `recq.embedding_bags` (tables in operand order, any mix of table sizes
    and precisions) whose `[B, T, D]` result the interaction reads as T
    features. Its lowering writes every table's pooled rows straight into
    that tensor: no per-table result, no concatenation.

    ```mlir
    %e0 = recq.embedding_bag sum %t0[%i0, %o0] : ... -> tensor<?x64xf32>
    %e1 = recq.embedding_bag sum %t1[%i1, %o1] : ... -> tensor<?x64xf32>
    %r = recq.interaction dot %d, [%e0, %e1] : ...
    // becomes
    %e = recq.embedding_bags sum tables(%t0, %t1) indices(%i0, %i1) offsets(%o0, %o1)
        : ... -> tensor<?x2x64xf32>
    %r = recq.interaction dot %d, [%e] : ...
    ```
  }];
  let dependentDialects = ["::recq::RecqDialect"];
}

def RecqSplitBagsPass : Pass<"recq-split-bags", "::mlir::ModuleOp"> {
  let summary = "Replace @main by one function per embedding table and one "
                "for the rest of the model, so the runtime can pool the "
                "tables in parallel.";
  let description = [{
    When `@main` holds exactly one `recq.embedding_bags` (in its body, and
    no `recq.embedding_bag` beside it) whose operands are `@main`'s
    arguments or side-effect-free values made from them and constants, it
    is replaced by:

    - `@recq_bag_<t>` for each table t: `@main`'s arguments and the
      caller's `[B, T, D]` buffer (a memref), whose slot t it fills in
      place with the table's `recq.embedding_bag` (`tensor.insert_slice`
      into `bufferization.to_tensor ... restrict writable`, which
      `convert-recq-to-linalg` turns into pooling straight into the slot,
      then `bufferization.materialize_in_destination`); it returns nothing
      (`convert-recq-to-linalg` adds its index status);
    - `@recq_rest`: `@main` with the `[B, T, D]` tensor as one more
      argument, read where the bags' result was.

    The runtime calls the table functions, on its threads when the batch is
    too small to cut into tiles, then `@recq_rest`; the bags' `[B, T, D]`
    buffer is its own, written in place and read by the interaction without
    a copy. Any other module is left as it is (`@main` stays whole).

    ```mlir
    func.func @main(%i0: tensor<?xi64>, %i1: tensor<?xi64>, ...) -> ... {
      %e = recq.embedding_bags sum tables(%t0, %t1) indices(%i0, %i1) ...
      %r = recq.interaction dot %d, [%e] : ...
    }
    // becomes
    func.func @recq_bag_0(%i0: ..., %i1: ..., ..., %buf: memref<?x2x4xf32>) {
      %emb = bufferization.to_tensor %buf restrict writable : ...
      %b = recq.embedding_bag sum %t0[%i0, %o0] : ... -> tensor<?x4xf32>
      %s = tensor.insert_slice %b into %emb[0, 0, 0] [%n, 1, 4] [1, 1, 1]
      bufferization.materialize_in_destination %s in restrict writable %buf
      return
    }
    func.func @recq_bag_1(...)   // table 1 into slot 1
    func.func @recq_rest(%i0: ..., %i1: ..., ..., %emb: tensor<?x2x4xf32>) -> ... {
      %r = recq.interaction dot %d, [%emb] : ...
    }
    ```
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect"];
}

//===----------------------------------------------------------------------===//
// Lowering
//===----------------------------------------------------------------------===//

def ConvertRecqFcToKernelPass
    : Pass<"convert-recq-fc-to-kernel", "::mlir::func::FuncOp"> {
  let summary = "Lower fp32 recq.fc with constant weights to a register-blocked "
                "FMA micro-kernel over weights packed at compile time.";
  let description = [{
    The weight `[N, K]` is packed at compile time into column blocks of
    `Nr` outputs, `[ceil(N / Nr), K, Nr]`, zero-padded, so the kernel reads
    one contiguous `vector<Nr x f32>` per `k`. The kernel walks column
    blocks (outer) and tiles of `Mr` rows (inner), keeping `Mr`
    accumulators of `vector<Nr x f32>` in registers through the `k` loop:
    per `k`, one load of the packed block and `Mr` broadcast-FMAs. The
    epilogue adds the bias and applies the activation in registers before
    one store per row; the last column block stores under a mask when
    `Nr` does not divide `N`, and the rows after the last full tile run the
    same kernel with `Mr = 1`.

    Tile sizes per target (option `target`), chosen so the accumulators,
    the weight vector and the broadcast fit the register file:

    | target | Nr | Mr | registers |
    | --- | --- | --- | --- |
    | `generic` (SSE2, 16 xmm) | 8 | 6 | 12 acc + 2 + 1 |
    | `avx2` (16 ymm) | 16 | 6 | 12 acc + 2 + 1 |
    | `avx512`, `avx512-vnni` (32 zmm) | 32 | 8 | 16 acc + 2 + 1 |

    FCs whose weight is not a constant are left to
    `convert-recq-to-linalg`.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"avx2\"",
           "Code-generation target: generic, avx2, avx512, avx512-vnni">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def ConvertRecqQfcToKernelPass
    : Pass<"convert-recq-qfc-to-kernel", "::mlir::func::FuncOp"> {
  let summary = "Lower recq.qfc to an int8 register-blocked micro-kernel "
                "with the requantization folded into its epilogue.";
  let description = [{
    Everything that does not depend on the input is done at compile time:
    the weight (`recq.quantize` of a constant) is quantized with its
    per-channel scales, packed for the target, and its column sums are
    folded with the input zero point and the bias into one i32 per column,
    the scales into one f32 multiplier per column. With `acc[m, n]` the
    exact i32 sum of `x_q[m, k] * w_q[n, k]`, `s_x, z_x` the input's scale
    and zero point, `s_w[n]` the weight's, and `b[n]` the f32 bias:

    - u8/i8 result (`s_y, z_y`):
      `c[n] = roundeven(b[n] / (s_x s_w[n])) - z_x * sum_k w_q[n, k]`,
      `mult[n] = f32(s_x s_w[n] / s_y)` (in double, then rounded),
      `y = clamp(roundeven(fma(f32(acc + c[n]), mult[n], z_y)), lo, 255)`
      where `lo` is `z_y` with `relu` (the ReLU is the clamp) and the
      storage minimum without;
    - f32 result: `c[n] = -z_x * sum_k w_q[n, k]`,
      `mult[n] = f32(s_x s_w[n])`,
      `y = act(fma(f32(acc + c[n]), mult[n], b[n]))`.

    The integer part is exact; the float part is one fused multiply-add
    and one rounding, so the gtest reference reproduces it bit for bit.

    The kernel walks blocks of `Nr` columns (outer) and tiles of `Mr` rows
    (inner), keeping `Mr x Nr` i32 accumulators in registers through the
    `k` loop; per target:

    | target | k per step | instruction | Nr | Mr | packed weight |
    | --- | --- | --- | --- | --- | --- |
    | `avx512-vnni` | 4 | `vpdpbusd` zmm | 32 | 8 | `[N/32, K/4, 32] x i32` (4 k of a column in one lane) |
    | `avx512` | 2 | `vpmaddwd` zmm | 32 | 8 | `[N/32, K/2, 32] x i32` (2 k as i16) |
    | `avx2` | 2 | `vpmaddwd` ymm | 16 | 6 | `[N/16, K/2, 16] x i32` (2 k as i16) |
    | `generic` | 1 | `vector` multiply-add on i32 | 8 | 4 | `[N/8, K, 8] x i8` |
    | `avx2`, 7-bit input | 4 | `vpmaddubsw` + `vpmaddwd` ymm | 16 | 6 | `[N/16, K/4, 16] x i32` |

    The 16-bit paths widen both sides so nothing saturates (`vpmaddubsw`
    would saturate `255 * 127 * 2`): the weight at compile time, the
    input once per call into u16 (K padded to even). `vpdpbusd` has no
    intermediate 16-bit sum; when K is not a multiple of 4 the input is
    copied once with zero columns to the next multiple. Rows are cut into
    blocks of as many whole tiles as keep the block's kernel input within
    128 KiB (L2) while every column block reads it. The N tail is a masked
    store; rows after the last full tile run the kernel with `Mr = 1`.

    With 7-bit inputs (a `!quant.uniform<u8<0:127>:...>` input, what
    `recq-compile --reduce-range` produces) `avx2` and `avx512` use
    `vpmaddubsw` + `vpmaddwd` with ones on the VNNI layout (4 k per lane):
    `127 * 128 * 2 < 2^15`, so the pair sums are exact.

    Up to 4 output columns, a column block would be mostly padding: the
    kernel runs along K instead, one vector accumulator per (row, column)
    over chunks of K (the 16-bit path widens each chunk in registers),
    reduced at the end, with a scalar epilogue; weights `[N, K]` in the
    same per-lane packing.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"avx2\"",
           "Code-generation target: generic, avx2, avx512, avx512-vnni">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::quant::QuantizationDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
}

def RecqLowerIntrinsicsPass
    : Pass<"recq-lower-intrinsics", "::mlir::func::FuncOp"> {
  let summary = "recq.pure_intrinsic to llvm.call_intrinsic.";
  let description = [{
    Runs after bufferization (whose deallocation refuses ops with unknown
    memory effects, as `llvm.call_intrinsic` has): each
    `recq.pure_intrinsic "name"(args)` becomes
    `llvm.call_intrinsic "name"(args)` with the same types.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def RecqPrefetchRowsPass : Pass<"recq-prefetch-rows", "::mlir::func::FuncOp"> {
  let summary = "Prefetch the table rows an embedding bag reads a few "
                "indices ahead.";
  let description = [{
    Runs on buffers, after bufferization. In every loop over a bag's
    indices (`scf.for` marked `recq.bag_rows` by `convert-recq-to-linalg`)
    it reads the index `distance` positions ahead in the whole index stream
    (the next bags' indices too, so bags shorter than `distance` are
    prefetched; clamped to the last index, so it never reads past the
    indices; `[B, L]` fixed-length indices are read through their
    flattened view) and issues one `memref.prefetch` per 64-byte line of
    that table row (plus one for its last element when rows are not
    line-aligned, as 72-byte int8 or 36-byte int4 rows are, so a row that
    straddles a line boundary is fetched whole). The row loads
    that follow then find the row in cache instead of waiting on DRAM for
    each index in turn; for tables far larger than the last-level cache
    this is where the time goes.

    ```mlir
    scf.for %k = %begin to %end step %c1 ... {recq.bag_rows} {
      %i = memref.load %indices[%k]
      ...vector.transfer_read %table[%row, %c0]...
    }
    // gains, at the top of the body:
    %ahead = arith.minsi (%k + distance), (dim(%indices) - 1)
    %j = memref.load %indices[%ahead]
    memref.prefetch %table[%rowj, %c0], read, locality<3>, data
    ```
  }];
  let options = [
    Option<"distance", "distance", "int64_t",
           /*default=*/"::recq::kDefaultPrefetchDistance",
           "How many indices ahead to prefetch (0: off)">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def RecqLowerQuantTypesPass
    : Pass<"recq-lower-quant-types", "::mlir::func::FuncOp"> {
  let summary = "Lower recq.quantize/dequantize to integer arithmetic on "
                "storage types.";
  let description = [{
    `!quant.uniform` tensors become tensors of their storage type (`i8`
    for `u8` and `i8`, the same bits), so the rest of the lowering
    (bufferization, LLVM) sees ordinary integers:

    - `recq.quantize`: `q = clamp(roundeven(x / scale) + zero_point,
      storage_min, storage_max)` element-wise, per tensor or along the
      quantized dimension (scales and zero points as constant vectors);
    - `recq.dequantize`: `x = (q - zero_point) * scale`, `q` read as
      signed or unsigned as the type says.

    Rounding is half to even, as `recq::quant::QuantParams` and FBGEMM
    round. A function whose signature carries quantized types is refused.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::tensor::TensorDialect"
  ];
}

def ConvertRecqToLinalgPass
    : Pass<"convert-recq-to-linalg", "::mlir::func::FuncOp"> {
  let summary = "Lower fp32 recq ops to linalg, scf and vector on tensors.";
  let description = [{
    The first step of the fp32 lowering; the result bufferizes with
    upstream's one-shot bufferization.

    - `recq.fc` becomes `linalg.matmul_transpose_b` into a zero-filled
      `[batch, N]` tensor, followed (when there is a bias or an activation)
      by one element-wise `linalg.generic` adding the bias and applying
      `relu` (`arith.maximumf` with 0) or `sigmoid` (`1 / (1 + exp(-x))`).
    - `recq.interaction dot` stacks the features into `[batch, F, D]`,
      multiplies them with `linalg.batch_matmul_transpose_b`, and gathers
      the lower triangle with a `linalg.generic` over `[batch, pairs]` that
      reads the pair's row and column from two constant index vectors; the
      dense vector and the pairs are inserted side by side into the result.
      `cat` inserts the features side by side.
    - `recq.embedding_bag` is not a structured op (bags have data-dependent
      lengths): it becomes an `scf.for` over bags around an `scf.for` over
      the bag's indices, accumulating one `vector<D x f32>` by add or max
      (`fma(row, weight, acc)` with per-sample weights); `mean` divides by
      the bag length and an empty bag gives zeros. Rows wider than 64
      columns are pooled in blocks of 64, each by its own loop over the
      bag's rows, so a block's accumulator stays in registers (a D = 128
      f32 accumulator alone fills AVX2's 16 registers); the first block's
      loop reads the rows from memory, the others from cache. A block of a
      row is read with one `vector.transfer_read` and turned into f32 in
      registers:
      - f32 as is, f16 with `arith.extf`;
      - `!recq.rowwise` tables (through `recq.rowwise_cast`, their bytes
        `[rows, row bytes]`): scale and bias from the row's end
        (`vector.bitcast`), the codes as bytes converted with `uitofp`
        (int4: read as 32-bit words, 8 columns each, unpacked with a shift
        and a mask per nibble position, nibble-major; the bag is pooled in
        that order and put back into column order with one
        `vector.shuffle` per bag, not per row).
        Dequantization is fused into the pooling loop; no dequantized table
        exists. Sums take the bias out of the vector work: the codes
        accumulate as `fma(code, scale [* w], acc)` and the biases `[* w]`
        as one f32 scalar added once per bag; `max` compares
        `fma(code, scale, bias)`.
      Indices are checked in the loop at the cost of three scalar ops per
      row: the row index is clamped to the table (`arith.minui` with the
      last row, so a bad index reads that row, never memory past the
      table) and a loop-carried `i1` records whether any index was outside
      `[0, rows)`. The function gets one more result, `tensor<T x i64>`
      marked `recq.index_status`: 1 for each of its T bags (program order)
      that met a bad index. The runtime validates offsets once per call
      and turns a set flag into an error naming table, sample and value.

    - `recq.embedding_bags`: the same loop nest once per table, each
      writing its slot of one `[B, T, D]` tensor; one index flag per table.

    bf16 tables, row-wise tables that are not stored bytes and the
    quantized ops are refused with an error naming the op.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
}

#endif // RECQ_DIALECT_RECQ_TRANSFORMS_PASSES_TD
