// RUN: recq-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=fp32}))' | FileCheck %s
// RUN: recq-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=int8}))' | FileCheck %s --check-prefix=DEFAULT

// Each bag's recq.table_precision (the planner's choice) overrides the
// option; a bag without one gets the option's precision.
// CHECK-LABEL: func @per_bag
// CHECK: %[[A:.*]] = arith.constant {{.*}} : tensor<4x3xf32>
// CHECK: %[[QA:.*]] = recq.rowwise_quantize %[[A]] : tensor<4x3xf32> -> !recq.rowwise<4x3xui4, f16>
// CHECK: %[[B:.*]] = arith.constant {{.*}} : tensor<5x3xf16>
// CHECK: %[[C:.*]] = arith.constant {{.*}} : tensor<6x3xf32>
// CHECK-NOT: rowwise_quantize
// CHECK: recq.embedding_bag sum %[[QA]]
// CHECK: recq.embedding_bag sum %[[B]]
// CHECK: recq.embedding_bag sum %[[C]]
// DEFAULT-LABEL: func @per_bag
// DEFAULT: rowwise<4x3xui4, f16>
// DEFAULT: tensor<5x3xf16>
// DEFAULT: recq.rowwise_quantize %{{.*}} : tensor<6x3xf32> -> !recq.rowwise<6x3xui8, f32>
func.func @per_bag(%i: tensor<?xi64>, %o: tensor<?xi64>) -> (tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>) {
  %a = arith.constant dense<1.0> : tensor<4x3xf32>
  %b = arith.constant dense<2.0> : tensor<5x3xf32>
  %c = arith.constant dense<3.0> : tensor<6x3xf32>
  %ea = recq.embedding_bag sum %a[%i, %o] {recq.table_precision = "int4"} : (tensor<4x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  %eb = recq.embedding_bag sum %b[%i, %o] {recq.table_precision = "fp16"} : (tensor<5x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  %ec = recq.embedding_bag sum %c[%i, %o] : (tensor<6x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  return %ea, %eb, %ec : tensor<?x3xf32>, tensor<?x3xf32>, tensor<?x3xf32>
}

// -----

// Two bags sharing a table and agreeing: converted once.
// CHECK-LABEL: func @shared_agree
// CHECK: recq.rowwise_quantize
// CHECK-NOT: recq.rowwise_quantize
// CHECK: return
func.func @shared_agree(%i: tensor<?xi64>, %o: tensor<?xi64>) -> (tensor<?x3xf32>, tensor<?x3xf32>) {
  %t = arith.constant dense<1.0> : tensor<4x3xf32>
  %e = recq.embedding_bag sum %t[%i, %o] {recq.table_precision = "int8"} : (tensor<4x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  %m = recq.embedding_bag mean %t[%i, %o] {recq.table_precision = "int8"} : (tensor<4x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  return %e, %m : tensor<?x3xf32>, tensor<?x3xf32>
}
