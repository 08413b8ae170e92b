// RUN: recq-opt %s -split-input-file -convert-recq-qfc-to-kernel=target=avx2 -verify-diagnostics

!x = !quant.uniform<u8:f32, 0.5:3>
!w = !quant.uniform<i8:f32:0, {0.1, 0.2}>

// The weights are quantized and packed at compile time: a weight that is
// not recq.quantize of a constant is refused.
func.func @weight_argument(%xq: tensor<?x3x!x>, %wq: tensor<2x3x!w>) -> tensor<?x2xf32> {
  // expected-error @+1 {{cannot be lowered to a kernel: the weight must be recq.quantize of a constant}}
  %y = recq.qfc %xq, %wq : (tensor<?x3x!x>, tensor<2x3x!w>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

!x = !quant.uniform<u8:f32, 0.5:3>
!y = !quant.uniform<u8:f32, 0.25>
!w = !quant.uniform<i8:f32:0, {0.1, 0.2}>

// A sigmoid is not a clamp: it needs an f32 result.
func.func @sigmoid_u8(%x: tensor<?x3xf32>) -> tensor<?x2x!y> {
  %w = arith.constant dense<1.0> : tensor<2x3xf32>
  %xq = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!x>
  %wq = recq.quantize %w : tensor<2x3xf32> -> tensor<2x3x!w>
  // expected-error @+1 {{a sigmoid needs an f32 result}}
  %y = recq.qfc %xq, %wq act(sigmoid) : (tensor<?x3x!x>, tensor<2x3x!w>) -> tensor<?x2x!y>
  return %y : tensor<?x2x!y>
}

