// RUN: recq-opt %s -split-input-file -recq-simulate-int8 -verify-diagnostics

// What recq-quantize refuses, recq-simulate-int8 refuses too, naming the FC.
func.func @weight_argument(%x: tensor<?x2xf32>, %w: tensor<2x2xf32>) -> tensor<?x2xf32> {
  // expected-error @+1 {{cannot quantize an FC whose weight is not a constant}}
  %y = recq.fc %x, %w {recq.input_quant = !quant.uniform<u8:f32, 0.1>}
      : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

func.func @per_channel_activation(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x2xf32>
  // expected-error @+1 {{per-channel activation quantization is not supported}}
  %y = recq.fc %x, %w {recq.input_quant = !quant.uniform<u8:f32:1, {0.1, 0.2}>}
      : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
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

func.func @bf16_fc(%x: tensor<?x2xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x2xbf16>
  // expected-error @+1 {{only f32 FCs can be quantized (input 'tensor<?x2xf32>', weight 'tensor<2x2xbf16>')}}
  %y = recq.fc %x, %w {recq.input_quant = !quant.uniform<u8:f32, 0.1>}
      : (tensor<?x2xf32>, tensor<2x2xbf16>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
