// RUN: recq-opt %s -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=fp16}))' -verify-diagnostics
// RUN: recq-opt %s -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=int4}))' -verify-diagnostics
// RUN: recq-opt %s -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=int8}))' | FileCheck %s

// f16 values, or an f16 scale and bias, cannot hold 1e6: an error, not
// infinities. int8 with f32 scale and bias (the default) can.
// CHECK: recq.rowwise_quantize {{.*}} -> !recq.rowwise<2x2xui8, f32>
func.func @f(%i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x2xf32> {
  %t = arith.constant dense<[[1.0, 2.0], [3.0, 1.0e6]]> : tensor<2x2xf32>
  // expected-error @+1 {{'recq.embedding_bag' op the table has values up to 1.000000e+06, beyond f16's range (65504): store it in fp32, or in int8 with scale-type=f32}}
  %e = recq.embedding_bag sum %t[%i, %o] : (tensor<2x2xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x2xf32>
  return %e : tensor<?x2xf32>
}
