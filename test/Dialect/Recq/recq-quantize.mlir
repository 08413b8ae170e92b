// RUN: recq-opt %s -split-input-file -recq-quantize | FileCheck %s

// The annotated FC gets a QDQ pair on its input (the annotation's type) and
// on its weight (s8, one scale per output row: max|w| / 127, 1 for a row of
// zeros); the bias stays f32 and the annotation goes. The FC without an
// annotation is left alone.
// CHECK-LABEL: func @two_layers
// CHECK: %[[XQ:.*]] = recq.quantize %{{.*}} : tensor<?x3xf32> -> tensor<?x3x!quant.uniform<u8:f32, 5.000000e-01:3>>
// CHECK: %[[XD:.*]] = recq.dequantize %[[XQ]]
// CHECK: %[[WQ:.*]] = recq.quantize %{{.*}} : tensor<2x3xf32> -> tensor<2x3x!quant.uniform<i8:f32:0, {0.015748031496062992,1.000000e+00}>>
// CHECK: %[[WD:.*]] = recq.dequantize %[[WQ]]
// CHECK: %[[H:.*]] = recq.fc %[[XD]], %[[WD]], %{{.*}} act(relu) :
// CHECK-NOT: recq.input_quant
// CHECK: recq.fc %[[H]], %{{.*}} : (tensor<?x2xf32>, tensor<1x2xf32>)
func.func @two_layers(%x: tensor<?x3xf32>) -> tensor<?x1xf32> {
  %w = arith.constant dense<[[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]]> : tensor<2x3xf32>
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %w2 = arith.constant dense<[[1.0, 1.0]]> : tensor<1x2xf32>
  %h = recq.fc %x, %w, %b act(relu) {recq.input_quant = !quant.uniform<u8:f32, 0.5:3>}
      : (tensor<?x3xf32>, tensor<2x3xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  %y = recq.fc %h, %w2 : (tensor<?x2xf32>, tensor<1x2xf32>) -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}
