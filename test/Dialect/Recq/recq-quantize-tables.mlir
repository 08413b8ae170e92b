// RUN: recq-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=int8}))' | FileCheck %s --check-prefix=INT8
// RUN: recq-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=int4}))' | FileCheck %s --check-prefix=INT4
// RUN: recq-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=int8 scale-type=f16}))' | FileCheck %s --check-prefix=INT8H
// RUN: recq-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=fp16}))' | FileCheck %s --check-prefix=FP16
// RUN: recq-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=fp32}))' | FileCheck %s --check-prefix=FP32
// RUN: recq-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(recq-quantize-tables{precision=int8},recq-canonicalize))' | FileCheck %s --check-prefix=FOLD

// A constant table read by two bags is converted once; both bags read the
// converted table.
// INT8-LABEL: func @shared
// INT8: %[[T:.*]] = arith.constant {{.*}} : tensor<4x3xf32>
// INT8: %[[Q:.*]] = recq.rowwise_quantize %[[T]] : tensor<4x3xf32> -> !recq.rowwise<4x3xui8, f32>
// INT8-NOT: recq.rowwise_quantize
// INT8: recq.embedding_bag sum %[[Q]]
// INT8: recq.embedding_bag mean %[[Q]]
// INT4-LABEL: func @shared
// INT4: recq.rowwise_quantize %{{.*}} : tensor<4x3xf32> -> !recq.rowwise<4x3xui4, f16>
// INT8H-LABEL: func @shared
// INT8H: recq.rowwise_quantize %{{.*}} : tensor<4x3xf32> -> !recq.rowwise<4x3xui8, f16>
// FP16-LABEL: func @shared
// FP16: %[[H:.*]] = arith.constant dense<{{\[\[}}0.000000e+00, 1.000000e+00, 2.000000e+00], [-1.000000e+00, 5.000000e-01, 3.000000e+00], [4.000000e+00, 4.000000e+00, 4.000000e+00], [9.997550e-02, 1.999510e-01, 3.000490e-01]]> : tensor<4x3xf16>
// FP16: recq.embedding_bag sum %[[H]]{{.*}} : (tensor<4x3xf16>
// FP16: recq.embedding_bag mean %[[H]]{{.*}} : (tensor<4x3xf16>
// FP32-LABEL: func @shared
// FP32-NOT: rowwise
// FP32-NOT: f16
// FP32: return
// The bytes, FBGEMM's rules (row 0: codes 0, 128, 255, then scale 2/255 and
// bias 0 as f32; row 2 is constant: scale 0, codes 0, bias 4).
// FOLD-LABEL: func @shared
// FOLD: %[[B:.*]] = arith.constant dense<{{\[\[}}0, -128, -1, -127, -128, 0, 60, 0, 0, 0, 0], [0, 96, -1, -127, -128, -128, 60, 0, 0, -128, -65], [0, 0, 0, 0, 0, 0, 0, 0, 0, -128, 64], [0, 127, -1, 104, -102, 77, 58, -51, -52, -52, 61]]> : tensor<4x11xi8>
// FOLD: %[[V:.*]] = recq.rowwise_cast %[[B]] : tensor<4x11xi8> -> !recq.rowwise<4x3xui8, f32>
// FOLD-NOT: recq.rowwise_quantize
// FOLD: recq.embedding_bag sum %[[V]]
func.func @shared(%i: tensor<?xi64>, %o: tensor<?xi64>) -> (tensor<?x3xf32>, tensor<?x3xf32>) {
  %t = arith.constant dense<[[0.0, 1.0, 2.0], [-1.0, 0.5, 3.0], [4.0, 4.0, 4.0], [0.1, 0.2, 0.3]]> : tensor<4x3xf32>
  %e = recq.embedding_bag sum %t[%i, %o] : (tensor<4x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  %m = recq.embedding_bag mean %t[%i, %o] : (tensor<4x3xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x3xf32>
  return %e, %m : tensor<?x3xf32>, tensor<?x3xf32>
}

// -----

// A table that is not a constant is left alone.
// INT8-LABEL: func @argument
// INT8-NOT: rowwise_quantize
// INT8: recq.embedding_bag sum %arg0
func.func @argument(%t: tensor<10x4xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x4xf32> {
  %e = recq.embedding_bag sum %t[%i, %o] : (tensor<10x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  return %e : tensor<?x4xf32>
}

// -----

// The tables of recq.embedding_bags too.
// INT4-LABEL: func @bags
// INT4: %[[Q:.*]] = recq.rowwise_quantize %{{.*}} -> !recq.rowwise<2x2xui4, f16>
// INT4: recq.embedding_bags sum tables(%[[Q]], %arg0)
func.func @bags(%t1: tensor<5x2xf32>, %i0: tensor<?xi64>, %i1: tensor<?xi64>, %o0: tensor<?xi64>, %o1: tensor<?xi64>) -> tensor<?x2x2xf32> {
  %t0 = arith.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %e = recq.embedding_bags sum tables(%t0, %t1) indices(%i0, %i1) offsets(%o0, %o1)
      : (tensor<2x2xf32>, tensor<5x2xf32>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x2x2xf32>
  return %e : tensor<?x2x2xf32>
}
