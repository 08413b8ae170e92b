// RUN: recq-opt %s -split-input-file -convert-recq-fc-to-kernel=target=avx2 | FileCheck %s --check-prefix=AVX2
// RUN: recq-opt %s -split-input-file -convert-recq-fc-to-kernel=target=avx512 | FileCheck %s --check-prefix=AVX512
// RUN: recq-opt %s -split-input-file -convert-recq-fc-to-kernel=target=generic | FileCheck %s --check-prefix=GENERIC

// N = 20 outputs, K = 3: avx2 packs [2, 3, 16] (20 columns padded to 32),
// rows in tiles of 6 then one at a time, the second column block stored
// under a mask of min(20 - n0, 16) lanes.
// AVX2-LABEL: func @fc
// AVX2-DAG: %[[W:.*]] = arith.constant dense<{{.*}}> : tensor<2x3x16xf32>
// AVX2-DAG: %[[B:.*]] = arith.constant dense<{{.*}}> : tensor<32xf32>
// AVX2-DAG: %[[C6:.*]] = arith.constant 6 : index
// AVX2: %[[M:.*]] = tensor.dim %[[X:.*]], %{{.*}} : tensor<?x3xf32>
// AVX2: %[[REM:.*]] = arith.remui %[[M]], %[[C6]]
// AVX2: %[[FULL:.*]] = arith.subi %[[M]], %[[REM]]
// AVX2: scf.for %[[NB:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// AVX2:   vector.transfer_read %[[B]]
// AVX2:   %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<16xi1>
// AVX2:   scf.for %{{.*}} = %{{.*}} to %[[FULL]] step %[[C6]]
// AVX2:     %[[ACC:.*]]:6 = scf.for %[[K:.*]] = {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// AVX2:       vector.transfer_read %[[W]][%[[NB]], %[[K]], %{{.*}}]
// AVX2-COUNT-6: vector.fma
// AVX2:     arith.maximumf
// AVX2-COUNT-6: vector.transfer_write {{.*}}, %[[MASK]] {in_bounds = [true]}
// AVX2:   scf.for %{{.*}} = %[[FULL]] to %[[M]] step
// AVX2:     scf.for {{.*}} -> (vector<16xf32>)
// AVX512: tensor<1x3x32xf32>
// AVX512: -> (vector<32xf32>, vector<32xf32>, vector<32xf32>, vector<32xf32>, vector<32xf32>, vector<32xf32>, vector<32xf32>, vector<32xf32>)
// GENERIC: tensor<3x3x8xf32>
// GENERIC: -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
func.func @fc(%x: tensor<?x3xf32>) -> tensor<?x20xf32> {
  %w = arith.constant dense<1.0> : tensor<20x3xf32>
  %b = arith.constant dense<0.5> : tensor<20xf32>
  %0 = recq.fc %x, %w, %b act(relu)
      : (tensor<?x3xf32>, tensor<20x3xf32>, tensor<20xf32>) -> tensor<?x20xf32>
  return %0 : tensor<?x20xf32>
}

// -----

// When Nr divides N there is no mask; an FC whose weight is a function
// argument is left for convert-recq-to-linalg.
// AVX2-LABEL: func @no_tail
// AVX2-NOT: vector.create_mask
// AVX2: recq.fc %{{.*}}, %{{.*}} :
func.func @no_tail(%x: tensor<4x8xf32>, %w2: tensor<16x8xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %w = arith.constant dense<1.0> : tensor<16x8xf32>
  %0 = recq.fc %x, %w : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  %1 = recq.fc %x, %w2 : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  return %0, %1 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// N = 1 (the top MLP's last layer): along K, one zmm accumulator per row
// of a 4-row tile, K = 19 as one whole vector and one masked, reduced at
// the end, then bias and sigmoid. The weight [1, 32]: K padded to vectors.
// AVX512-LABEL: func @few_columns
// AVX512-DAG: %[[W:.*]] = arith.constant dense<{{.*}}> : tensor<1x32xf32>
// AVX512: scf.for {{.*}} step %c4
// AVX512:   scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// AVX512:     vector.transfer_read %[[W]]{{.*}} {in_bounds = [true]} : tensor<1x32xf32>, vector<16xf32>
// AVX512-COUNT-4: vector.fma
// AVX512:   vector.transfer_read %arg0{{.*}} : tensor<?x19xf32>, vector<16xf32>
// AVX512:   vector.reduction <add>, %{{.*}} : vector<16xf32> into f32
// AVX512:   math.exp
// AVX512:   tensor.insert
// AVX2-LABEL: func @few_columns
// AVX2: tensor<1x24xf32>
// AVX2: vector.reduction <add>, %{{.*}} : vector<8xf32> into f32
// GENERIC-LABEL: func @few_columns
// GENERIC: tensor<1x20xf32>
// GENERIC: vector.reduction <add>, %{{.*}} : vector<4xf32> into f32
func.func @few_columns(%x: tensor<?x19xf32>) -> tensor<?x1xf32> {
  %w = arith.constant dense<0.5> : tensor<1x19xf32>
  %b = arith.constant dense<0.25> : tensor<1xf32>
  %0 = recq.fc %x, %w, %b act(sigmoid) : (tensor<?x19xf32>, tensor<1x19xf32>, tensor<1xf32>) -> tensor<?x1xf32>
  return %0 : tensor<?x1xf32>
}
