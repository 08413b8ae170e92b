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

    An FC that also carries `recq.input_quant_dense` (a second u8 type)
    and `recq.input_dense_width = D` gets one type for its input's first
    `D` columns and `recq.input_quant` for the rest: calibration sets them
    on the FC reading a dot interaction's output, whose first `D` columns
    are the dense features and the rest the dot products, ranges apart by
    100x (one scale for both rounds most dense features to 0 or 1 code).
    The FC becomes two, over columns `[0, D)` (no bias) and `[D, K)` (the
    bias, the activation, and the first's f32 result as its `addend`), each
    quantized as above with its own weight scales. `recq-fuse` makes them
    a `recq.qfc` with an f32 result and one whose epilogue adds it.

    Refused with an error naming the FC: a weight that is not a constant,
    an annotation that is not per-tensor u8 (per-channel activations, or
    i8), a non-f32 FC, one of the two dense annotations without the other,
    a dense width that leaves no column on one side.

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
                           "::mlir::quant::QuantizationDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def RecqSimulateInt8Pass
    : Pass<"recq-simulate-int8", "::mlir::func::FuncOp"> {
  let summary = "Give every calibrated FC an int8 simulation, chosen at run "
                "time.";
  let description = [{
    The precision planner's model: one compiled artifact on which any set
    of FCs runs int8, so measuring each FC's int8 sensitivity (and the plans
    the search visits) needs no compile per candidate.

    Every `recq.fc` that carries the annotations `recq-quantize` reads
    (`recq.input_quant`, and `recq.input_quant_dense` with
    `recq.input_dense_width`) becomes an `scf.if` between two forms: the
    FC as it was, and its int8 form computed in f32: the input through
    `recq.quantize` to its u8 type and back through `recq.dequantize`, the
    weight replaced by its s8 per-output-channel codes (`max|w[n, :]| /
    127`, rounded to nearest even and saturated, as the int8 kernel packs
    them) times their scale, the bias and activation unchanged; with dense
    columns, the two FCs `recq-quantize` makes, each with its own input type
    and weight scales. The int8 kernel sums the same integer products
    exactly and scales once, so the two differ by the f32 summation order
    only.

    Which form runs is read from a new last argument of the function,
    `tensor<B x N x f32>` named `recq.int8_switches` (`onnx.name`; B as the
    first such FC's input has it, N the function's FCs in program order):
    column `i` of row 0 nonzero runs FC `i` in int8. Unannotated FCs are
    left alone (their column is ignored); a function with no annotated FC
    is unchanged.

    Refused with an error naming the FC, as by `recq-quantize`: a weight
    that is not a constant, an annotation that is not per-tensor u8, a
    non-f32 FC, one of the two dense annotations without the other, a dense
    width that leaves no column on one side; and an input that is not
    `[batch, K]`.

    ```mlir
    %y = recq.fc %x, %w, %b act(relu) {recq.input_quant = !quant.uniform<u8:f32, 0.05:12>}
    // becomes (%s the new argument)
    %on = ... tensor.extract %s[0, i] != 0 ...
    %y = scf.if %on -> (tensor<?x256xf32>) {
      %q = recq.quantize %x : ... -> tensor<?x512x!quant.uniform<u8:f32, 0.05:12>>
      %xd = recq.dequantize %q : ...
      %w8 = arith.constant dense<...> : tensor<256x512xf32>  // codes x scales
      %y8 = recq.fc %xd, %w8, %b act(relu) : ...
      scf.yield %y8 : tensor<?x256xf32>
    } else {
      %y32 = recq.fc %x, %w, %b act(relu) : ...
      scf.yield %y32 : tensor<?x256xf32>
    }
    ```
  }];
  let dependentDialects = ["::recq::RecqDialect",
                           "::mlir::quant::QuantizationDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
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

def RecqExportEntryPointsPass
    : Pass<"recq-export-entry-points", "::mlir::ModuleOp"> {
  let summary = "Name the model's functions as the runtime calls them and "
                "give each a C entry point.";
  let description = [{
    The last step before the lowering to LLVM, after `recq-split-bags`:
    `@main` becomes `@recq_entry` (a shared library must not define
    `main`), and `@recq_entry`, `@recq_rest` and every `@recq_bag_<t>` get
    `llvm.emit_c_interface`, so `convert-func-to-llvm` adds the
    `_mlir_ciface_*` entry points that take memref descriptors by pointer
    (what `model.so`'s runtime calls). Other functions are left as they
    are.
  }];
}

//===----------------------------------------------------------------------===//
// Profiling
//===----------------------------------------------------------------------===//

def RecqInsertProfileMarksPass
    : Pass<"recq-insert-profile-marks", "::mlir::ModuleOp"> {
  let summary = "Call the runtime's profile clock before each op "
                "`recq-profile-ops` numbered.";
  let description = [{
    The second half of `recq-compile --profile`, run on each variant before
    its lowering (after `recq-split-bags`, so each op's mark lands in the
    function the op went to). Before every op carrying
    `recq.profile_id = i` it inserts `func.call @recq_profile_mark(i)`, and
    before each `func.return` of a function holding such a call
    `func.call @recq_profile_mark(-1)`. The runtime adds the time from one
    mark to the next to the first one's op (docs/Profiling.md), so ops
    without an id (a slice, a constant, the result copies) count as part of
    the numbered op before them. The marks are calls to an external
    function, which no pass moves ops across. A module without
    `recq.profile_ops` is left as it is.

    ```mlir
    %y = recq.qfc %x, %w ... {recq.profile_id = 3 : i32} : ...
    // becomes
    %c3 = arith.constant 3 : i32
    func.call @recq_profile_mark(%c3) : (i32) -> ()
    %y = recq.qfc %x, %w ... : ...
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect"];
}

def RecqProfileOpsPass : Pass<"recq-profile-ops", "::mlir::ModuleOp"> {
  let summary = "Number the recq ops of @main for the per-op profile.";
  let description = [{
    The first half of `recq-compile --profile`, run once before the
    variants are compiled (and before the model's description is written,
    which carries the names): each recq op of `@main` that does work at run
    time (not `recq.rowwise_cast`, a view; not an op of constants only,
    such as a weight's `recq.quantize`), in program order, gets
    `recq.profile_id` (its index), and the module gets
    `recq.profile_ops`, the ops' names: the op's name without `recq.`, then
    its ONNX node's name when its location has one (`qfc /top/top.0/Gemm`).
    `recq-insert-profile-marks` turns the ids into calls of the runtime's
    clock; `recq-run --profile` prints the time of each.

    A module without `@main` is an error.
  }];
}

//===----------------------------------------------------------------------===//
// Buffers
//===----------------------------------------------------------------------===//

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

#endif // RECQ_DIALECT_RECQ_TRANSFORMS_PASSES_TD
