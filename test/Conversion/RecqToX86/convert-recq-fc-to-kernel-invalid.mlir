// RUN: recq-opt %s -convert-recq-fc-to-kernel=target=sse9 -verify-diagnostics

// expected-error @+1 {{convert-recq-fc-to-kernel: unknown target 'sse9'}}
func.func @f(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  return %x : tensor<4x8xf32>
}
