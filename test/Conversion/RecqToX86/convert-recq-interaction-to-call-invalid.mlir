// RUN: recq-opt %s --convert-recq-interaction-to-call=target=neon --verify-diagnostics

// A target the pass has no kernel for.
// expected-error@below {{convert-recq-interaction-to-call: unknown target 'neon'}}
module {
  func.func @f(%x: tensor<?x4xf32>, %e: tensor<?x2x4xf32>) -> tensor<?x7xf32> {
    %r = recq.interaction dot %x, [%e] : (tensor<?x4xf32>, tensor<?x2x4xf32>) -> tensor<?x7xf32>
    return %r : tensor<?x7xf32>
  }
}
