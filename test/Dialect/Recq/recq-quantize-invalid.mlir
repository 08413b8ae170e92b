// RUN: recq-opt %s -split-input-file -recq-quantize -verify-diagnostics

func.func @per_channel_activation(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{per-channel activation quantization is not supported}}
  %y = recq.fc %x, %w {recq.input_quant = !quant.uniform<u8:f32:1, {0.1, 0.2}>}
      : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

func.func @signed_activation(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{activations are quantized to u8 per tensor}}
  %y = recq.fc %x, %w {recq.input_quant = !quant.uniform<i8:f32, 0.1>}
      : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

func.func @weight_argument(%x: tensor<?x2xf32>, %w: tensor<2x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{cannot quantize an FC whose weight is not a constant}}
  %y = recq.fc %x, %w {recq.input_quant = !quant.uniform<u8:f32, 0.1>}
      : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

func.func @not_a_type(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{'recq.input_quant' must be a type}}
  %y = recq.fc %x, %w {recq.input_quant = 0.5 : f32}
      : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
