//===- Passes.td - recq conversion passes ------------------*- tablegen -*-===//
//
// Lowerings out of the recq dialect, one directory per target dialect under
// lib/Conversion/. Each pass is a thin driver around an exported populate
// function (include/recq/Conversion/<X>To<Y>/<X>To<Y>.h), so recq-compile's
// pipeline and a replay in recq-opt run the same patterns. Keep them
// alphabetical within a group.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_CONVERSION_PASSES_TD
#define RECQ_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// RecqToLinalg: fp32 recq ops and the quantize/dequantize math on tensors
//===----------------------------------------------------------------------===//

def ConvertRecqToLinalgPass
    : Pass<"convert-recq-to-linalg", "::mlir::ModuleOp"> {
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
    - In `recq-split-bags`' table functions (the bag inserted into slot t
      of `bufferization.to_tensor %buf restrict writable`, stored back into
      `%buf`), the bag becomes a call of a private function that every
      table of its kind shares: `@recq_pool_<n>(%storage, %indices
      [, %offsets][, %weights], %buf, %slot) -> i1` (the index flag), the
      table's storage cast to a dynamic row count, marked `no_inline` and
      internal (`llvm.linkage`: not exported from the library). A
      kind is the storage type but for its rows, the row-wise layout, the
      mode and the operand types: the 26 tables of an MLPerf DLRM share one
      loop nest, which LLVM then optimizes and compiles once instead of 26
      times. (Hence a module pass: it adds functions.)

    bf16 tables, row-wise tables that are not stored bytes and the
    quantized ops are refused with an error naming the op.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
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

//===----------------------------------------------------------------------===//
// RecqToX86: register-blocked FC micro-kernels and their x86 intrinsics
//===----------------------------------------------------------------------===//

def ConvertRecqFcToKernelPass
    : Pass<"convert-recq-fc-to-kernel", "::mlir::func::FuncOp"> {
  let summary = "Lower fp32 and bf16 recq.fc with constant weights to "
                "register-blocked micro-kernels over weights packed at "
                "compile time.";
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

    An fp32 FC of up to 4 columns would fill a column block with padding
    (N = 1: 1 useful lane in 32), so it runs along K instead: the weight
    packed `[N, K']` (K padded to whole vectors of the target's width:
    16 on avx512, 8 on avx2, 4 on generic), per tile of rows (4 for
    N <= 2, 3 for N = 3, 2 for N = 4) one accumulator vector per (row,
    column) over K (the input's last vector read under a mask), each
    reduced to its output at the end, then the bias and the activation.

    Tile sizes per target (option `target`), chosen so the accumulators,
    the weight vector and the broadcast fit the register file:

    | target | Nr | Mr | registers |
    | --- | --- | --- | --- |
    | `generic` (SSE2, 16 xmm) | 8 | 6 | 12 acc + 2 + 1 |
    | `avx2` (16 ymm) | 16 | 6 | 12 acc + 2 + 1 |
    | `avx512`, `avx512-vnni`, `avx512-bf16` (32 zmm) | 32 | 8 | 16 acc + 2 + 1 |

    **bf16 FCs** (bf16 weight, f32 input; see `recq.fc`) round the input
    to bf16 first, 16 columns at a time into a `[M, 2 ceil(K/2)]` bf16
    buffer (integer arithmetic on the bits, to nearest even, so no target
    needs bf16 instructions), and accumulate in f32 in the order of
    AVX-512 BF16's `vdpbf16ps`: per pair of k, `2j + 1` then `2j`.

    - `avx512-bf16`: the weight is packed `[ceil(N/32), P, 64]` bf16 (P:
      `ceil(K/2)` pairs padded to a multiple of 16, the AMX tiles' rows),
      each `vector<32 x bf16>` 16 columns x (`2j`, `2j + 1`); per pair of
      k the input's two bf16 are broadcast as one i32 and each of the
      2 x Mr `vector<16 x f32>` accumulators takes one `vdpbf16ps`.
    - `amx`: AMX tiles (`tdpbf16ps`), for every batch size (so a row's
      result does not depend on the batch it came in), on the same packed
      weight: the input is rounded into a `[M', 2P]` bf16 buffer (M'
      rounded up to 32, the padding zero), and for each block of 32 rows
      (in blocks of rows whose input fits 128 KiB) x 32 columns four f32
      sum tiles (tmm0..3) take, per 32 of K, two input tiles (16 rows x
      16 pairs, tmm4, tmm5), two weight tiles (16 pairs x 16 columns,
      tmm6, tmm7; the two halves of 16 packed rows) and four `tdpbf16ps`.
      The sums go to a 32 x 32 f32 stack buffer, from which the epilogue
      adds the bias, applies the activation and stores the rows below M
      and the columns below N. `tdpbf16ps` sums in its own order (see
      `recq.fc`). `amx-emulated` is the same kernel with each tile
      instruction a call of the runtime's C model: a test variant for any
      CPU.
    - every other target runs the exact emulation: the weight packed
      `[ceil(N/Nr), 2 ceil(K/2), Nr]` bf16 with the k of each pair swapped
      (the input buffer too), widened to f32 on load, and one FMA per k
      (each product of two bf16 is exact in f32, so an FMA rounds as
      `vdpbf16ps` does). The results are bit-identical to `avx512-bf16`'s
      except below 2^-126, which `vdpbf16ps` flushes to zero.

    FCs whose weight is not a constant are left to
    `convert-recq-to-linalg`.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"avx2\"",
           "Code-generation target: generic, avx2, avx512, avx512-vnni, "
           "avx512-bf16, amx (amx-emulated for tests)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::recq::RecqDialect",
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
    | `avx512-vnni` | 4 | `vpdpbusd` zmm | 32 | 8 | `[N/32, K/4, 32] x i32` (4 k of a column in one lane; K/4 padded to a multiple of 16, AMX's weight tile) |
    | `avx512` | 2 | `vpmaddwd` zmm | 32 | 8 | `[N/32, K/2, 64] x i8` (a column's 2 k as bytes, sign-extended to its i16 pair as loaded) |
    | `avx2` | 2 | `vpmaddwd` ymm | 16 | 6 | `[N/16, K/2, 32] x i8` (as avx512) |
    | `generic` | 1 | `vector` multiply-add on i32 | 8 | 4 | `[N/8, K, 8] x i8` |
    | `avx2`, 7-bit input | 4 | `vpmaddubsw` + `vpmaddwd` ymm | 16 | 6 | `[N/16, K/4, 16] x i32` |
    | `amx` | 64 | `tdpbusd` on tiles (rest: `vpdpbusd`) | 32 | 32 | `avx512-vnni`'s (one copy for both variants) |

    With AMX, each row block runs blocks of 32 rows x 32 columns on four
    int32 tiles (two input tiles of 16 rows x 64 bytes, two weight tiles
    that are the halves of the VNNI block's 128-byte rows), stores the sums
    to a 32 x 32 i32 stack buffer and runs the same epilogue on them; the
    input is copied once with K padded to a multiple of 64. The remaining
    rows, and FCs of up to 4 columns, run the VNNI kernel. The tile
    instructions are `recq.intrinsic` ops; `amx-emulated` names the
    runtime's C model of each as its emulator (tests on any CPU).

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
           "Code-generation target: generic, avx2, avx512, avx512-vnni, "
           "avx512-bf16, amx (and, for tests, avx512-vnni-emulated, "
           "amx-emulated)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::quant::QuantizationDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
}

def ConvertRecqInteractionToCallPass
    : Pass<"convert-recq-interaction-to-call", "::mlir::ModuleOp"> {
  let summary = "Lower recq.interaction dot to a call of the runtime's "
                "interaction kernel for the target.";
  let description = [{
    A dot interaction (f32, static feature count and dimension) becomes a
    call of `recq_interaction_dot_f32_<isa>` (lib/Runtime/recq_interaction.c,
    declared in recq_interaction.h) writing a new `[B, D + pairs]` buffer,
    read on as a tensor (`bufferization.to_tensor restrict writable`). Its
    operands are read in place (`bufferization.to_memref read_only`) and
    described to the kernel by one `{address, sample stride, feature
    stride, count}` record each, in an `i64` stack buffer at the function's
    entry. The kernel walks the triangle of pairs in blocks of 3 x 4 dot
    products that share their loads (AVX2: 12 accumulators, 7 loads for 12
    FMAs a step; the blocks on the diagonal compute a few pairs more and
    drop them), and is written once in the runtime instead of being
    unrolled into every variant: the lowering of `convert-recq-to-linalg`
    (a vector reduction per pair, 351 for 27 features) took twice the time
    at run time and most of the interaction's compile time.

    Kernel per target (option `target`): `generic`: SSE2 (every x86-64);
    `avx2`, `avx512`, `avx512-vnni`, `avx512-bf16`, `amx`: the AVX2 + FMA
    kernel (256-bit; every CPU of those targets has AVX2 and FMA). The
    module gets the kernel's declaration, so this is a module pass.

    Left to `convert-recq-to-linalg`: `cat` interactions and ones with a
    dynamic feature count or dimension.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"avx2\"",
           "Code-generation target: generic, avx2, avx512, avx512-vnni, "
           "avx512-bf16, amx">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect", "::mlir::tensor::TensorDialect"
  ];
}

def RecqLowerIntrinsicsPass
    : Pass<"recq-lower-intrinsics", "::mlir::ModuleOp"> {
  let summary = "recq.pure_intrinsic and recq.intrinsic to LLVM calls.";
  let description = [{
    Runs after bufferization (whose deallocation refuses ops with unknown
    memory effects, as `llvm.call_intrinsic` has): each
    `recq.pure_intrinsic "name"(args)` and `recq.intrinsic "name"(args)`
    becomes `llvm.call_intrinsic "name"(args)` with the same types. A
    `recq.intrinsic` with an `emulator` becomes `llvm.call @emulator(args)`
    instead, its `i8` arguments zero-extended to `i32` (a C `int`), and the
    module gets the function's declaration: the runtime defines it. A
    module pass, so it may add those declarations.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // RECQ_CONVERSION_PASSES_TD
