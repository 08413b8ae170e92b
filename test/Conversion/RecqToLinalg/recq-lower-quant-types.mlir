// RUN: recq-opt %s -split-input-file -recq-lower-quant-types | FileCheck %s

// Per tensor, u8: q = clamp(roundeven(x / 0.5) + 3, 0, 255) stored as i8;
// back: (zext(q) - 3) * 0.5.
// CHECK-LABEL: func @per_tensor
// CHECK: %[[Q:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<?x4xf32>) outs(%{{.*}} : tensor<?x4xi8>)
// CHECK:   %[[S:.*]] = arith.constant 5.000000e-01 : f32
// CHECK:   %[[Z:.*]] = arith.constant 3.000000e+00 : f32
// CHECK:   %[[D:.*]] = arith.divf %{{.*}}, %[[S]]
// CHECK:   %[[R:.*]] = math.roundeven %[[D]]
// CHECK:   %[[A:.*]] = arith.addf %[[R]], %[[Z]]
// CHECK:   arith.maximumf %[[A]], %{{.*}}
// CHECK:   arith.constant 2.550000e+02 : f32
// CHECK:   arith.minimumf
// CHECK:   arith.fptosi %{{.*}} : f32 to i32
// CHECK:   arith.trunci %{{.*}} : i32 to i8
// CHECK: linalg.generic {{.*}} ins(%[[Q]] : tensor<?x4xi8>) outs(%{{.*}} : tensor<?x4xf32>)
// CHECK:   arith.extui %{{.*}} : i8 to i32
// CHECK:   arith.sitofp
// CHECK:   arith.subf
// CHECK:   arith.mulf
// CHECK-NOT: quant.uniform
func.func @per_tensor(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %q = recq.quantize %x : tensor<?x4xf32> -> tensor<?x4x!quant.uniform<u8:f32, 0.5:3>>
  %d = recq.dequantize %q : tensor<?x4x!quant.uniform<u8:f32, 0.5:3>> -> tensor<?x4xf32>
  return %d : tensor<?x4xf32>
}

// -----

// Per axis 0, i8 symmetric: scales and zero points as constant vectors
// read along d0; signed range and sign extension.
// CHECK-LABEL: func @per_axis
// CHECK-DAG: %[[SC:.*]] = arith.constant dense<[1.000000e-01, 2.000000e-01, 4.000000e-01]> : tensor<3xf32>
// CHECK-DAG: %[[ZP:.*]] = arith.constant dense<0.000000e+00> : tensor<3xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[AXIS:.*]], #[[AXIS]], #{{.*}}]{{.*}} ins(%{{.*}}, %[[SC]], %[[ZP]] : tensor<3x2xf32>, tensor<3xf32>, tensor<3xf32>)
// CHECK:   arith.constant -1.280000e+02 : f32
// CHECK:   arith.constant 1.270000e+02 : f32
// CHECK: arith.extsi %{{.*}} : i8 to i32
func.func @per_axis(%w: tensor<3x2xf32>) -> tensor<3x2xf32> {
  %q = recq.quantize %w : tensor<3x2xf32> -> tensor<3x2x!quant.uniform<i8:f32:0, {0.1, 0.2, 0.4}>>
  %d = recq.dequantize %q : tensor<3x2x!quant.uniform<i8:f32:0, {0.1, 0.2, 0.4}>> -> tensor<3x2xf32>
  return %d : tensor<3x2xf32>
}

// -----

// quant.scast between a quantized tensor and its storage (what the int8
// kernels read and write) is the identity once types are lowered.
// CHECK-LABEL: func @storage_cast
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xi8>)
// CHECK-NOT: quant.scast
// CHECK: linalg.generic {{.*}} ins(%[[X]] : tensor<?x4xi8>)
func.func @storage_cast(%x: tensor<?x4xi8>) -> tensor<?x4xf32> {
  %q = "quant.scast"(%x) : (tensor<?x4xi8>) -> tensor<?x4x!quant.uniform<u8:f32, 0.5:3>>
  %d = recq.dequantize %q : tensor<?x4x!quant.uniform<u8:f32, 0.5:3>> -> tensor<?x4xf32>
  return %d : tensor<?x4xf32>
}
