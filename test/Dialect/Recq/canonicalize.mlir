// RUN: recq-opt %s -canonicalize -split-input-file | FileCheck %s

// recq's folders and patterns, as the upstream canonicalizer runs them.

// CHECK-LABEL: func @relu_into_fc
// CHECK-SAME: (%[[X:.*]]: tensor<?x13xf32>, %[[W:.*]]: tensor<8x13xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK-NEXT: %[[FC:.*]] = recq.fc %[[X]], %[[W]], %[[B]] act(relu)
// CHECK-NEXT: return %[[FC]]
func.func @relu_into_fc(%x: tensor<?x13xf32>, %w: tensor<8x13xf32>,
                        %b: tensor<8xf32>) -> tensor<?x8xf32> {
  %0 = recq.fc %x, %w, %b
      : (tensor<?x13xf32>, tensor<8x13xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %1 = recq.relu %0 : tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func @sigmoid_into_fc
// CHECK-NEXT: %[[FC:.*]] = recq.fc %{{.*}}, %{{.*}} act(sigmoid)
// CHECK-NEXT: return %[[FC]]
func.func @sigmoid_into_fc(%x: tensor<?x8xf32>, %w: tensor<1x8xf32>)
    -> tensor<?x1xf32> {
  %0 = recq.fc %x, %w : (tensor<?x8xf32>, tensor<1x8xf32>) -> tensor<?x1xf32>
  %1 = recq.sigmoid %0 : tensor<?x1xf32>
  return %1 : tensor<?x1xf32>
}

// -----

// The FC's plain output is still needed, so the relu stays separate.
// CHECK-LABEL: func @fc_with_other_use
// CHECK-NEXT: %[[FC:.*]] = recq.fc %{{.*}}, %{{.*}} :
// CHECK-NEXT: %[[R:.*]] = recq.relu %[[FC]]
// CHECK-NEXT: return %[[FC]], %[[R]]
func.func @fc_with_other_use(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>)
    -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %0 = recq.fc %x, %w : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %1 = recq.relu %0 : tensor<?x4xf32>
  return %0, %1 : tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// An FC that already has an activation keeps a following one apart.
// CHECK-LABEL: func @fc_with_activation
// CHECK-NEXT: %[[FC:.*]] = recq.fc %{{.*}}, %{{.*}} act(sigmoid)
// CHECK-NEXT: %[[R:.*]] = recq.relu %[[FC]]
// CHECK-NEXT: return %[[R]]
func.func @fc_with_activation(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>)
    -> tensor<?x4xf32> {
  %0 = recq.fc %x, %w act(sigmoid)
      : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %1 = recq.relu %0 : tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}

// -----

// CHECK-LABEL: func @relu_is_idempotent
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>
// CHECK-NEXT: %[[R:.*]] = recq.relu %[[X]]
// CHECK-NEXT: return %[[R]]
func.func @relu_is_idempotent(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = recq.relu %x : tensor<?x8xf32>
  %1 = recq.relu %0 : tensor<?x8xf32>
  %2 = recq.relu %1 : tensor<?x8xf32>
  return %2 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func @relu_after_relu_fc
// CHECK-NEXT: %[[FC:.*]] = recq.fc %{{.*}}, %{{.*}} act(relu)
// CHECK-NEXT: return %[[FC]], %[[FC]]
func.func @relu_after_relu_fc(%x: tensor<?x8xf32>, %w: tensor<4x8xf32>)
    -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %0 = recq.fc %x, %w act(relu)
      : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %1 = recq.relu %0 : tensor<?x4xf32>
  return %0, %1 : tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// CHECK-LABEL: func @requantize_same_type
// CHECK-SAME: (%[[Q:.*]]: tensor<?x8x!quant.uniform<u8:f32, 5.000000e-01:3>>)
// CHECK-NEXT: return %[[Q]]
func.func @requantize_same_type(%q: tensor<?x8x!quant.uniform<u8:f32, 0.5:3>>)
    -> tensor<?x8x!quant.uniform<u8:f32, 0.5:3>> {
  %0 = recq.dequantize %q : tensor<?x8x!quant.uniform<u8:f32, 0.5:3>> -> tensor<?x8xf32>
  %1 = recq.quantize %0 : tensor<?x8xf32> -> tensor<?x8x!quant.uniform<u8:f32, 0.5:3>>
  return %1 : tensor<?x8x!quant.uniform<u8:f32, 0.5:3>>
}

// -----

// A different scale is a real requantization and stays.
// CHECK-LABEL: func @requantize_other_type
// CHECK-NEXT: recq.dequantize
// CHECK-NEXT: recq.quantize
func.func @requantize_other_type(%q: tensor<?x8x!quant.uniform<u8:f32, 0.5:3>>)
    -> tensor<?x8x!quant.uniform<u8:f32, 0.25:3>> {
  %0 = recq.dequantize %q : tensor<?x8x!quant.uniform<u8:f32, 0.5:3>> -> tensor<?x8xf32>
  %1 = recq.quantize %0 : tensor<?x8xf32> -> tensor<?x8x!quant.uniform<u8:f32, 0.25:3>>
  return %1 : tensor<?x8x!quant.uniform<u8:f32, 0.25:3>>
}

// -----

// Dequantize then quantize is lossy the other way round and is kept.
// CHECK-LABEL: func @quantize_then_dequantize
// CHECK-NEXT: recq.quantize
// CHECK-NEXT: recq.dequantize
func.func @quantize_then_dequantize(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = recq.quantize %x : tensor<?x8xf32> -> tensor<?x8x!quant.uniform<u8:f32, 0.5:3>>
  %1 = recq.dequantize %0 : tensor<?x8x!quant.uniform<u8:f32, 0.5:3>> -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}
