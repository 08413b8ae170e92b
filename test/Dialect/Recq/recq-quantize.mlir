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

// -----

// The FC reading [dense | dots] with a separate type for the first 2
// columns: two FCs over columns [0, 2) (no bias) and [2, 5) (the bias and
// the ReLU), each with its own QDQ pairs and weight scales; the first's
// result is the second's addend.
// CHECK-LABEL: func @dense_columns_apart
// CHECK: %[[B:.*]] = arith.constant dense<[5.000000e-01, -5.000000e-01]> : tensor<2xf32>
// CHECK: %[[X0:.*]] = tensor.extract_slice %[[X:.*]][0, 0] [%{{.*}}, 2] [1, 1] : tensor<?x5xf32> to tensor<?x2xf32>
// CHECK: %[[W0:.*]] = arith.constant dense<{{\[}}[1.000000e+00, -2.000000e+00], [0.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
// CHECK: %[[Q0:.*]] = recq.quantize %[[X0]] : tensor<?x2xf32> -> tensor<?x2x!quant.uniform<u8:f32, 1.000000e-02>>
// CHECK: %[[D0:.*]] = recq.dequantize %[[Q0]]
// CHECK: recq.quantize %[[W0]] : tensor<2x2xf32> -> tensor<2x2x!quant.uniform<i8:f32:0, {0.015748031496062992,0.031496062992125984}>>
// CHECK: %[[H:.*]] = recq.fc %[[D0]], %{{.*}} : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
// CHECK: %[[X1:.*]] = tensor.extract_slice %[[X]][0, 2] [%{{.*}}, 3] [1, 1] : tensor<?x5xf32> to tensor<?x3xf32>
// CHECK: %[[W1:.*]] = arith.constant dense<{{\[}}[5.000000e-01, 1.000000e+00, 2.000000e+00], [0.000000e+00, 0.000000e+00, 0.000000e+00]]> : tensor<2x3xf32>
// CHECK: recq.quantize %[[X1]] : tensor<?x3xf32> -> tensor<?x3x!quant.uniform<u8:f32, 2.000000e+00:100>>
// CHECK: recq.quantize %[[W1]] : tensor<2x3xf32> -> tensor<2x3x!quant.uniform<i8:f32:0, {0.015748031496062992,1.000000e+00}>>
// CHECK: %[[T:.*]] = recq.fc %{{.*}}, %{{.*}}, %[[B]] addend(%[[H]]) act(relu) : (tensor<?x3xf32>, tensor<2x3xf32>, tensor<2xf32>, tensor<?x2xf32>) -> tensor<?x2xf32>
// CHECK-NOT: recq.input_quant
// CHECK: return %[[T]]
func.func @dense_columns_apart(%x: tensor<?x5xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<[[1.0, -2.0, 0.5, 1.0, 2.0], [0.0, 4.0, 0.0, 0.0, 0.0]]> : tensor<2x5xf32>
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %y = recq.fc %x, %w, %b act(relu) {recq.input_quant = !quant.uniform<u8:f32, 2.0:100>,
                                     recq.input_quant_dense = !quant.uniform<u8:f32, 0.01>,
                                     recq.input_dense_width = 2 : i64}
      : (tensor<?x5xf32>, tensor<2x5xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// The second FC keeps the activation, a sigmoid here.
// CHECK-LABEL: func @dense_columns_apart_sigmoid
// CHECK: %[[H:.*]] = recq.fc %{{.*}}, %{{.*}} : (tensor<?x1xf32>, tensor<1x1xf32>) -> tensor<?x1xf32>
// CHECK: %[[P:.*]] = recq.fc %{{.*}}, %{{.*}} addend(%[[H]]) act(sigmoid) : (tensor<?x2xf32>, tensor<1x2xf32>, tensor<?x1xf32>) -> tensor<?x1xf32>
// CHECK: return %[[P]]
func.func @dense_columns_apart_sigmoid(%x: tensor<?x3xf32>) -> tensor<?x1xf32> {
  %w = arith.constant dense<[[1.0, -2.0, 0.5]]> : tensor<1x3xf32>
  %y = recq.fc %x, %w act(sigmoid) {recq.input_quant = !quant.uniform<u8:f32, 2.0:100>,
                                    recq.input_quant_dense = !quant.uniform<u8:f32, 0.01>,
                                    recq.input_dense_width = 1 : i64}
      : (tensor<?x3xf32>, tensor<1x3xf32>) -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}
