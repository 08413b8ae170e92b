// RUN: recq-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=fp32}))' -verify-diagnostics

func.func @bad_attr(%i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x3xf32> {
  %t = arith.constant dense<1.0> : tensor<4x3xf32>
  // expected-error @+1 {{'recq.table_precision' must be "fp32", "fp16", "int8" or "int4"}}
  %e = recq.embedding_bag sum %t[%i, %o] {recq.table_precision = "int2"} : (tensor<4x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  return %e : tensor<?x3xf32>
}

// -----

func.func @disagree(%i: tensor<?xi64>, %o: tensor<?xi64>) -> (tensor<?x3xf32>, tensor<?x3xf32>) {
  %t = arith.constant dense<1.0> : tensor<4x3xf32>
  %e = recq.embedding_bag sum %t[%i, %o] {recq.table_precision = "int8"} : (tensor<4x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  // expected-error @+1 {{shares its table with a bag stored in int8, but asks for fp16}}
  %m = recq.embedding_bag mean %t[%i, %o] {recq.table_precision = "fp16"} : (tensor<4x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  return %e, %m : tensor<?x3xf32>, tensor<?x3xf32>
}
