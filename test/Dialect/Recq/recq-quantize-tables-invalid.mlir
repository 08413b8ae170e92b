// RUN: recq-opt %s -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=int2}))' -verify-diagnostics
// RUN: not recq-opt %s -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=int8 scale-type=bf16}))' 2>&1 | FileCheck %s

// CHECK: unknown scale-type 'bf16' (f32, f16)
// expected-error @+1 {{recq-quantize-tables: unknown precision 'int2' (fp32, fp16, int8, int4)}}
func.func @f(%i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x3xf32> {
  %t = arith.constant dense<1.0> : tensor<4x3xf32>
  %e = recq.embedding_bag sum %t[%i, %o] : (tensor<4x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  return %e : tensor<?x3xf32>
}
