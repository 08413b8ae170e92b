// RUN: recq-opt %s -recq-lower-quant-types -verify-diagnostics

// expected-error @+1 {{recq-lower-quant-types: quantized values must not cross the function boundary}}
func.func @boundary(%q: tensor<4x!quant.uniform<u8:f32, 0.5:3>>) -> tensor<4xf32> {
  %d = recq.dequantize %q : tensor<4x!quant.uniform<u8:f32, 0.5:3>> -> tensor<4xf32>
  return %d : tensor<4xf32>
}
