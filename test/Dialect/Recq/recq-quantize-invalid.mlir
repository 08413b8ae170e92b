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

// -----

func.func @dense_type_without_width(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x4xf32>
  // expected-error @+1 {{'recq.input_quant_dense' and 'recq.input_dense_width' go together}}
  %y = recq.fc %x, %w {recq.input_quant = !quant.uniform<u8:f32, 0.1>,
                       recq.input_quant_dense = !quant.uniform<u8:f32, 0.01>}
      : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

func.func @dense_width_is_all_columns(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x4xf32>
  // expected-error @+1 {{'recq.input_dense_width' must leave columns on both sides: it is 4 of K = 4}}
  %y = recq.fc %x, %w {recq.input_quant = !quant.uniform<u8:f32, 0.1>,
                       recq.input_quant_dense = !quant.uniform<u8:f32, 0.01>,
                       recq.input_dense_width = 4 : i64}
      : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

func.func @dense_type_per_channel(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x4xf32>
  // expected-error @+1 {{per-channel activation quantization is not supported}}
  %y = recq.fc %x, %w {recq.input_quant = !quant.uniform<u8:f32, 0.1>,
                       recq.input_quant_dense = !quant.uniform<u8:f32:1, {0.1, 0.2}>,
                       recq.input_dense_width = 2 : i64}
      : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// A bf16 FC (recq-compile --quantize=bf16 made it) is not quantized again:
// an error, not a crash reading its weight as f32.
func.func @bf16_fc(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x2xbf16>
  // expected-error @+1 {{only f32 FCs can be quantized (input 'tensor<?x2xf32>', weight 'tensor<2x2xbf16>')}}
  %y = recq.fc %x, %w {recq.input_quant = !quant.uniform<u8:f32, 0.1>}
      : (tensor<?x2xf32>, tensor<2x2xbf16>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
