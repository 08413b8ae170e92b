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
