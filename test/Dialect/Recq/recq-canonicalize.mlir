// RUN: recq-opt %s -recq-canonicalize | FileCheck %s

// recq-canonicalize applies recq's patterns and folders only; ops of other
// dialects are left exactly as they were.

// CHECK-LABEL: func @mlp
// CHECK: %[[C1:.*]] = arith.constant 1 : index
// CHECK: %[[C2:.*]] = arith.constant 2 : index
// CHECK: %[[SUM:.*]] = arith.addi %[[C1]], %[[C2]] : index
// CHECK: %[[H:.*]] = recq.fc %{{.*}}, %{{.*}}, %{{.*}} act(relu)
// CHECK-NOT: recq.relu
// CHECK: %[[P:.*]] = recq.fc %[[H]], %{{.*}} act(sigmoid)
// CHECK-NOT: recq.sigmoid
// CHECK: return %[[P]], %[[SUM]]
func.func @mlp(%x: tensor<?x13xf32>, %w0: tensor<8x13xf32>,
               %b0: tensor<8xf32>, %w1: tensor<1x8xf32>)
    -> (tensor<?x1xf32>, index) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %sum = arith.addi %c1, %c2 : index
  %0 = recq.fc %x, %w0, %b0
      : (tensor<?x13xf32>, tensor<8x13xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %1 = recq.relu %0 : tensor<?x8xf32>
  %2 = recq.fc %1, %w1 : (tensor<?x8xf32>, tensor<1x8xf32>) -> tensor<?x1xf32>
  %3 = recq.sigmoid %2 : tensor<?x1xf32>
  return %3, %sum : tensor<?x1xf32>, index
}

// CHECK-LABEL: func @requantize
// CHECK-SAME: (%[[Q:.*]]: tensor
// CHECK-NEXT: return %[[Q]]
func.func @requantize(%q: tensor<4x!quant.uniform<u8:f32, 0.5:3>>)
    -> tensor<4x!quant.uniform<u8:f32, 0.5:3>> {
  %0 = recq.dequantize %q : tensor<4x!quant.uniform<u8:f32, 0.5:3>> -> tensor<4xf32>
  %1 = recq.quantize %0 : tensor<4xf32> -> tensor<4x!quant.uniform<u8:f32, 0.5:3>>
  return %1 : tensor<4x!quant.uniform<u8:f32, 0.5:3>>
}
