// A tiny DLRM in the recq dialect, as the ONNX importer will produce it:
// 4 dense features -> bottom MLP 4-8 (ReLU), two tables of dimension 8,
// dot interaction (3 features: 8 + 3 columns), top MLP 11-4-1 (sigmoid).
// `recq-opt examples/dlrm-tiny.mlir -recq-canonicalize` folds the
// activations into the FCs.
func.func @dlrm(%dense: tensor<?x4xf32>,
                %idx0: tensor<?xi64>, %off0: tensor<?xi64>,
                %idx1: tensor<?xi64>, %off1: tensor<?xi64>,
                %bw: tensor<8x4xf32>, %bb: tensor<8xf32>,
                %t0: tensor<100x8xf32>, %t1: tensor<40x8xf32>,
                %tw0: tensor<4x11xf32>, %tb0: tensor<4xf32>,
                %tw1: tensor<1x4xf32>, %tb1: tensor<1xf32>) -> tensor<?x1xf32> {
  %b0 = recq.fc %dense, %bw, %bb
      : (tensor<?x4xf32>, tensor<8x4xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  %b1 = recq.relu %b0 : tensor<?x8xf32>
  %e0 = recq.embedding_bag sum %t0[%idx0, %off0]
      : (tensor<100x8xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x8xf32>
  %e1 = recq.embedding_bag sum %t1[%idx1, %off1]
      : (tensor<40x8xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x8xf32>
  %z = recq.interaction dot %b1, [%e0, %e1]
      : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) -> tensor<?x11xf32>
  %h0 = recq.fc %z, %tw0, %tb0
      : (tensor<?x11xf32>, tensor<4x11xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %h1 = recq.relu %h0 : tensor<?x4xf32>
  %p0 = recq.fc %h1, %tw1, %tb1
      : (tensor<?x4xf32>, tensor<1x4xf32>, tensor<1xf32>) -> tensor<?x1xf32>
  %p = recq.sigmoid %p0 : tensor<?x1xf32>
  return %p : tensor<?x1xf32>
}
