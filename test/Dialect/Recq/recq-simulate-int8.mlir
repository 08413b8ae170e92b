// RUN: recq-opt %s -split-input-file -recq-simulate-int8 | FileCheck %s

// The annotated FC becomes an scf.if on column 0 of row 0 of the new
// argument: its int8 form in f32 (the input through its u8 type and back,
// the weight rounded to its s8 codes: row 0's scale is 2/127, so 1.0 is
// 63.5 codes, rounded to even 64, read back as 1.00787401; the zero row's
// scale is 1) or the FC as it was. The second FC (column 1) has no
// annotation and is left alone.
// CHECK-LABEL: func @two_layers
// CHECK-SAME: (%[[X:.*]]: tensor<?x3xf32>, %[[S:.*]]: tensor<?x2xf32> {onnx.name = "recq.int8_switches"})
// CHECK: %[[W:.*]] = arith.constant dense<{{\[}}[1.000000e+00, -2.000000e+00, 5.000000e-01], [0.000000e+00, 0.000000e+00, 0.000000e+00]]>
// CHECK: %[[B:.*]] = arith.constant dense<[5.000000e-01, -5.000000e-01]>
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[COL:.*]] = arith.constant 0 : index
// CHECK: %[[ROWS:.*]] = tensor.dim %[[S]], %[[C0]]
// CHECK: %[[ANY:.*]] = arith.cmpi sgt, %[[ROWS]], %[[C0]]
// CHECK: %[[V:.*]] = scf.if %[[ANY]] -> (f32) {
// CHECK:   tensor.extract %[[S]][%[[C0]], %[[COL]]]
// CHECK: %[[ON:.*]] = arith.cmpf one, %[[V]]
// CHECK: %[[H:.*]] = scf.if %[[ON]] -> (tensor<?x2xf32>) {
// CHECK:   %[[Q:.*]] = recq.quantize %[[X]] : tensor<?x3xf32> -> tensor<?x3x!quant.uniform<u8:f32, 5.000000e-01:3>>
// CHECK:   %[[XD:.*]] = recq.dequantize %[[Q]]
// CHECK:   %[[W8:.*]] = arith.constant dense<{{\[}}[1.00787401, -2.000000e+00, 5.039370e-01], [0.000000e+00, 0.000000e+00, 0.000000e+00]]>
// CHECK:   %[[Y8:.*]] = recq.fc %[[XD]], %[[W8]], %[[B]] act(relu)
// CHECK:   scf.yield %[[Y8]]
// CHECK: } else {
// CHECK:   %[[Y:.*]] = recq.fc %[[X]], %[[W]], %[[B]] act(relu) :
// CHECK:   scf.yield %[[Y]]
// CHECK: }
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

// Dense columns apart: the int8 form is the two FCs recq-quantize makes,
// each with its own input type and weight scales (columns [0, 2): rows'
// scales 2/127 and 4/127; columns [2, 5): 2/127 and 1 for the zero row);
// the first's result is the second's addend. A static batch gives the
// switches that batch.
// CHECK-LABEL: func @dense_columns_apart
// CHECK-SAME: %{{.*}}: tensor<4x1xf32> {onnx.name = "recq.int8_switches"}
// CHECK: scf.if %{{.*}} -> (tensor<4x2xf32>) {
// CHECK:   %[[X0:.*]] = tensor.extract_slice %[[X:.*]][0, 0] [4, 2] [1, 1]
// CHECK:   %[[Q0:.*]] = recq.quantize %[[X0]] : tensor<4x2xf32> -> tensor<4x2x!quant.uniform<u8:f32, 1.000000e-02>>
// CHECK:   %[[D0:.*]] = recq.dequantize %[[Q0]]
// CHECK:   %[[W0:.*]] = arith.constant dense<{{\[}}[1.00787401, -2.000000e+00], [0.000000e+00, 4.000000e+00]]>
// CHECK:   %[[H:.*]] = recq.fc %[[D0]], %[[W0]] : (tensor<4x2xf32>, tensor<2x2xf32>) -> tensor<4x2xf32>
// CHECK:   %[[X1:.*]] = tensor.extract_slice %[[X]][0, 2] [4, 3] [1, 1]
// CHECK:   %[[Q1:.*]] = recq.quantize %[[X1]] : tensor<4x3xf32> -> tensor<4x3x!quant.uniform<u8:f32, 1.000000e-01>>
// CHECK:   %[[D1:.*]] = recq.dequantize %[[Q1]]
// CHECK:   %[[W1:.*]] = arith.constant dense<{{\[}}[5.039370e-01, 1.00787401, 2.000000e+00], [0.000000e+00, 0.000000e+00, 0.000000e+00]]>
// CHECK:   recq.fc %[[D1]], %[[W1]], %{{.*}} addend(%[[H]]) act(relu)
// CHECK: } else {
// CHECK:   recq.fc %[[X]], %{{.*}}, %{{.*}} act(relu) : (tensor<4x5xf32>, tensor<2x5xf32>, tensor<2xf32>) -> tensor<4x2xf32>
func.func @dense_columns_apart(%x: tensor<4x5xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[1.0, -2.0, 0.5, 1.0, 2.0], [0.0, 4.0, 0.0, 0.0, 0.0]]> : tensor<2x5xf32>
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %y = recq.fc %x, %w, %b act(relu) {recq.input_quant = !quant.uniform<u8:f32, 0.1>,
                                      recq.input_quant_dense = !quant.uniform<u8:f32, 0.01>,
                                      recq.input_dense_width = 2 : i64}
      : (tensor<4x5xf32>, tensor<2x5xf32>, tensor<2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// No annotated FC: the function is unchanged (no new argument).
// CHECK-LABEL: func @nothing_annotated
// CHECK-SAME: (%{{.*}}: tensor<?x3xf32>) -> tensor<?x2xf32>
// CHECK-NOT: scf.if
// CHECK: recq.fc
func.func @nothing_annotated(%x: tensor<?x3xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<1.0> : tensor<2x3xf32>
  %y = recq.fc %x, %w : (tensor<?x3xf32>, tensor<2x3xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
