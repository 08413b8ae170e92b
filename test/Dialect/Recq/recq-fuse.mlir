// RUN: recq-opt %s -split-input-file -recq-fuse | FileCheck %s

!x = !quant.uniform<u8:f32, 0.5:3>
!h = !quant.uniform<u8:f32, 0.25>
!w1 = !quant.uniform<i8:f32:0, {0.1, 0.2}>
!w2 = !quant.uniform<i8:f32:0, {0.3}>

// Two quantized layers: the first absorbs the quantize of its result (u8
// out, fed straight to the second); the second ends the region (sigmoid,
// f32 out). No dequantize is left between them.
// CHECK-LABEL: func @chain
// CHECK: %[[XQ:.*]] = recq.quantize %{{.*}} : tensor<?x3xf32> -> tensor<?x3x!quant.uniform<u8:f32, 5.000000e-01:3>>
// CHECK: %[[H:.*]] = recq.qfc %[[XQ]], %{{.*}}, %{{.*}} act(relu) : ({{.*}}) -> tensor<?x2x!quant.uniform<u8:f32, 2.500000e-01>>
// CHECK-NOT: recq.dequantize
// CHECK: %[[Y:.*]] = recq.qfc %[[H]], %{{.*}} act(sigmoid) : ({{.*}}) -> tensor<?x1xf32>
// CHECK: return %[[Y]]
func.func @chain(%x: tensor<?x3xf32>) -> tensor<?x1xf32> {
  %w = arith.constant dense<1.0> : tensor<2x3xf32>
  %b = arith.constant dense<0.5> : tensor<2xf32>
  %w2 = arith.constant dense<1.0> : tensor<1x2xf32>
  %xq = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!x>
  %xd = recq.dequantize %xq : tensor<?x3x!x> -> tensor<?x3xf32>
  %wq = recq.quantize %w : tensor<2x3xf32> -> tensor<2x3x!w1>
  %wd = recq.dequantize %wq : tensor<2x3x!w1> -> tensor<2x3xf32>
  %h = recq.fc %xd, %wd, %b act(relu) : (tensor<?x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %hq = recq.quantize %h : tensor<?x2xf32> -> tensor<?x2x!h>
  %hd = recq.dequantize %hq : tensor<?x2x!h> -> tensor<?x2xf32>
  %w2q = recq.quantize %w2 : tensor<1x2xf32> -> tensor<1x2x!w2>
  %w2d = recq.dequantize %w2q : tensor<1x2x!w2> -> tensor<1x2xf32>
  %y = recq.fc %hd, %w2d act(sigmoid) : (tensor<?x2xf32>, tensor<1x2xf32>) -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}

// -----

!x = !quant.uniform<u8:f32, 0.5:3>
!h = !quant.uniform<u8:f32, 0.25>
!w1 = !quant.uniform<i8:f32:0, {0.1, 0.2}>

// An FC whose f32 result has another use keeps an f32 result; the quantize
// stays a separate op.
// CHECK-LABEL: func @two_uses
// CHECK: %[[Y:.*]] = recq.qfc {{.*}} -> tensor<?x2xf32>
// CHECK: recq.quantize %[[Y]]
func.func @two_uses(%x: tensor<?x3xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %w = arith.constant dense<1.0> : tensor<2x3xf32>
  %xq = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!x>
  %xd = recq.dequantize %xq : tensor<?x3x!x> -> tensor<?x3xf32>
  %wq = recq.quantize %w : tensor<2x3xf32> -> tensor<2x3x!w1>
  %wd = recq.dequantize %wq : tensor<2x3x!w1> -> tensor<2x3xf32>
  %h = recq.fc %xd, %wd : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
  %hq = recq.quantize %h : tensor<?x2xf32> -> tensor<?x2x!h>
  %hd = recq.dequantize %hq : tensor<?x2x!h> -> tensor<?x2xf32>
  return %h, %hd : tensor<?x2xf32>, tensor<?x2xf32>
}

// -----

!xs = !quant.uniform<i8:f32, 0.5>
!w1 = !quant.uniform<i8:f32:0, {0.1, 0.2}>

// Not fused: an f32 FC, and an FC whose input is i8 (qfc takes u8).
// CHECK-LABEL: func @left_alone
// CHECK-NOT: recq.qfc
// CHECK-COUNT-2: recq.fc
func.func @left_alone(%x: tensor<?x3xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %w = arith.constant dense<1.0> : tensor<2x3xf32>
  %a = recq.fc %x, %w : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
  %xq = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!xs>
  %xd = recq.dequantize %xq : tensor<?x3x!xs> -> tensor<?x3xf32>
  %wq = recq.quantize %w : tensor<2x3xf32> -> tensor<2x3x!w1>
  %wd = recq.dequantize %wq : tensor<2x3x!w1> -> tensor<2x3xf32>
  %b = recq.fc %xd, %wd : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
  return %a, %b : tensor<?x2xf32>, tensor<?x2xf32>
}

// -----

// The interaction's consecutive bags with the same pooling, offsets form
// and weights presence become one recq.embedding_bags ([B, T, D], tables in
// operand order) that the interaction reads directly.
// CHECK-LABEL: func @batch_bags
// CHECK-DAG: %[[BAGS:.*]] = recq.embedding_bags sum tables(%arg1, %arg2) indices(%arg4, %arg5) offsets(%arg6, %arg7) : {{.*}} -> tensor<?x2x4xf32>
// CHECK-DAG: %[[MEAN:.*]] = recq.embedding_bag mean %arg3
// CHECK-NOT: recq.embedding_bag sum
// CHECK: recq.interaction dot %arg0, [%[[BAGS]], %[[MEAN]]] : (tensor<?x4xf32>, tensor<?x2x4xf32>, tensor<?x4xf32>) -> tensor<?x10xf32>
func.func @batch_bags(%d: tensor<?x4xf32>, %t0: tensor<10x4xf32>, %t1: tensor<20x4xf32>, %t2: tensor<30x4xf32>,
                      %i0: tensor<?xi64>, %i1: tensor<?xi64>, %o0: tensor<?xi64>, %o1: tensor<?xi64>) -> tensor<?x10xf32> {
  %e0 = recq.embedding_bag sum %t0[%i0, %o0] : (tensor<10x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  %e1 = recq.embedding_bag sum %t1[%i1, %o1] : (tensor<20x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  %e2 = recq.embedding_bag mean %t2[%i0, %o0] : (tensor<30x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  %r = recq.interaction dot %d, [%e0, %e1, %e2] : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x10xf32>
  return %r : tensor<?x10xf32>
}

// -----

// A bag whose result is also used elsewhere stays a bag.
// CHECK-LABEL: func @shared_bag
// CHECK-NOT: recq.embedding_bags
// CHECK: recq.interaction dot %arg0, [%{{.*}}, %{{.*}}]
func.func @shared_bag(%d: tensor<?x4xf32>, %t0: tensor<10x4xf32>, %t1: tensor<20x4xf32>,
                      %i: tensor<?xi64>, %o: tensor<?xi64>) -> (tensor<?x7xf32>, tensor<?x4xf32>) {
  %e0 = recq.embedding_bag sum %t0[%i, %o] : (tensor<10x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  %e1 = recq.embedding_bag sum %t1[%i, %o] : (tensor<20x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  %r = recq.interaction dot %d, [%e0, %e1] : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x7xf32>
  return %r, %e1 : tensor<?x7xf32>, tensor<?x4xf32>
}

// -----

// The addend goes with the FC into recq.qfc, which still absorbs the
// requantization of its result.
// CHECK-LABEL: func @addend
// CHECK: %[[A:.*]] = recq.qfc %{{.*}}, %{{.*}} : ({{.*}}) -> tensor<?x2xf32>
// CHECK: %[[Y:.*]] = recq.qfc %{{.*}}, %{{.*}}, %{{.*}} addend(%[[A]]) act(relu) : ({{.*}}, tensor<?x2xf32>) -> tensor<?x2x!quant.uniform<u8:f32, 2.500000e-01>>
// CHECK: return %[[Y]]
func.func @addend(%x: tensor<?x3xf32>) -> tensor<?x2x!quant.uniform<u8:f32, 0.25>> {
  %w = arith.constant dense<1.0> : tensor<2x3xf32>
  %b = arith.constant dense<0.5> : tensor<2xf32>
  %xq = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!quant.uniform<u8:f32, 0.5:3>>
  %xd = recq.dequantize %xq : tensor<?x3x!quant.uniform<u8:f32, 0.5:3>> -> tensor<?x3xf32>
  %wq = recq.quantize %w : tensor<2x3xf32> -> tensor<2x3x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
  %wd = recq.dequantize %wq : tensor<2x3x!quant.uniform<i8:f32:0, {0.1, 0.2}>> -> tensor<2x3xf32>
  %a = recq.fc %xd, %wd : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
  %y = recq.fc %xd, %wd, %b addend(%a) act(relu)
      : (tensor<?x3xf32>, tensor<2x3xf32>, tensor<2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
  %yq = recq.quantize %y : tensor<?x2xf32> -> tensor<?x2x!quant.uniform<u8:f32, 0.25>>
  return %yq : tensor<?x2x!quant.uniform<u8:f32, 0.25>>
}
