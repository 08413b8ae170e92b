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

#endif // RECQ_DIALECT_RECQ_TRANSFORMS_PASSES_TD
