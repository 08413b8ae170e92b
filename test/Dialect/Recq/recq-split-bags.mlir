// RUN: recq-opt %s -split-input-file -recq-split-bags | FileCheck %s
// RUN: recq-opt %s -split-input-file -recq-split-bags -convert-recq-to-linalg -canonicalize \
// RUN:   -one-shot-bufferize="bufferize-function-boundaries=1 function-boundary-type-conversion=identity-layout-map" \
// RUN:   -canonicalize | FileCheck %s --check-prefix=INPLACE

// One function per table: the table's constant and its row of the [T, B]
// offsets cloned in, its bag inserted into slot t of the caller's buffer;
// @recq_rest reads that buffer where @main read the bags; @main is gone.
// CHECK-LABEL: func.func @recq_bag_0(
// CHECK-SAME:    %{{.*}}: tensor<?x4xf32>, %[[I0:.*]]: tensor<?xi64>, %{{.*}}: tensor<?xi64>, %[[O:.*]]: tensor<2x?xi64>, %[[BUF:.*]]: memref<?x2x4xf32>) {
// CHECK:         %[[T0:.*]] = arith.constant dense<1.000000e+00> : tensor<10x4xf32>
// CHECK:         %[[O0:.*]] = tensor.extract_slice %[[O]][0, 0]
// CHECK:         %[[EMB:.*]] = bufferization.to_tensor %[[BUF]] restrict writable
// CHECK:         %[[BAG:.*]] = recq.embedding_bag sum %[[T0]][%[[I0]], %[[O0]]]
// CHECK:         %[[B:.*]] = tensor.dim %[[EMB]], %c0
// CHECK:         %[[IN:.*]] = tensor.insert_slice %[[BAG]] into %[[EMB]][0, 0, 0] [%[[B]], 1, 4] [1, 1, 1]
// CHECK:         bufferization.materialize_in_destination %[[IN]] in restrict writable %[[BUF]]
// CHECK-LABEL: func.func @recq_bag_1(
// CHECK:         arith.constant dense<2.000000e+00> : tensor<20x4xf32>
// CHECK:         tensor.extract_slice %{{.*}}[1, 0]
// CHECK:         tensor.insert_slice %{{.*}} into %{{.*}}[0, 1, 0]
// CHECK-LABEL: func.func @recq_rest(
// CHECK-SAME:    %[[D:.*]]: tensor<?x4xf32>, %{{.*}}: tensor<?xi64>, %{{.*}}: tensor<?xi64>, %{{.*}}: tensor<2x?xi64>, %[[E:.*]]: tensor<?x2x4xf32>) -> tensor<?x12xf32>
// CHECK-NOT:     arith.constant
// CHECK-NOT:     recq.embedding_bag
// CHECK:         recq.interaction cat %[[D]], [%[[E]]]
// CHECK-NOT:   func.func @main

// Lowered, each table function calls the pooling function the two f32
// tables share (its storage with a dynamic row count, the indices (an
// argument: identity layout) and the table's row of the offsets (any
// offset) as buffers, slot t); bufferized, it pools
// straight into its slot of the argument (no buffer of its own, no copy)
// and returns only its index status.
// INPLACE-LABEL: func.func @recq_bag_0(
// INPLACE-SAME:    %[[I0:[^:]*]]: memref<?xi64>, %{{[^:]*}}: memref<?xi64>, %[[O:[^:]*]]: memref<2x?xi64>, %[[BUF:[^:]*]]: memref<?x2x4xf32>) -> (memref<1xi64> {recq.index_status})
// INPLACE-NOT:     memref.alloc(
// INPLACE-NOT:     memref.copy
// INPLACE:         %[[T0:.*]] = memref.get_global @__constant_10x4xf32
// INPLACE:         memref.subview %[[O]][0, 0] [1, %{{.*}}] [1, 1]
// INPLACE:         %[[S0:.*]] = memref.cast %[[T0]] : memref<10x4xf32> to memref<?x4xf32>
// INPLACE:         call @[[POOL:recq_pool_0]](%[[S0]], %[[I0]], %{{.*}}, %[[BUF]], %c0)
// INPLACE-NOT:     memref.copy
// INPLACE:         return
// INPLACE-LABEL: func.func @recq_bag_1(
// INPLACE:         %[[O1:.*]] = memref.subview %{{.*}}[1, 0] [1, %{{.*}}] [1, 1]
// INPLACE:         call @[[POOL]](%{{.*}}, %{{.*}}, %[[O1]], %{{.*}}, %c1)
// INPLACE-LABEL: func.func private @recq_pool_0(
// INPLACE-SAME:    %[[T:[^:]*]]: memref<?x4xf32>, %[[I:[^:]*]]: memref<?xi64>, %[[OFF:[^:]*]]: memref<?xi64, strided<[1], offset: ?>>, %[[OUT:[^:]*]]: memref<?x2x4xf32>, %[[SLOT:[^:]*]]: index) -> i1
// INPLACE-SAME:    llvm.linkage = #llvm.linkage<internal>
// INPLACE-SAME:    no_inline
// INPLACE-NOT:     memref.alloc
// INPLACE:         %[[ROWS:.*]] = memref.dim %[[T]], %c0
// INPLACE:         %[[LAST:.*]] = arith.subi %[[ROWS]], %c1
// INPLACE:         arith.minui %{{.*}}, %[[LAST]]
// INPLACE:         vector.transfer_read %[[T]]
// INPLACE:         vector.transfer_write %{{.*}}, %[[OUT]][%{{.*}}, %[[SLOT]], %c0]
// INPLACE-NOT:     memref.copy
// INPLACE:         return
// INPLACE-NOT:   func.func private @recq_pool_1
func.func @main(%d: tensor<?x4xf32>, %i0: tensor<?xi64>, %i1: tensor<?xi64>, %o: tensor<2x?xi64>) -> tensor<?x12xf32> {
  %t0 = arith.constant dense<1.0> : tensor<10x4xf32>
  %t1 = arith.constant dense<2.0> : tensor<20x4xf32>
  %c1 = arith.constant 1 : index
  %n = tensor.dim %o, %c1 : tensor<2x?xi64>
  %o0 = tensor.extract_slice %o[0, 0] [1, %n] [1, 1] : tensor<2x?xi64> to tensor<?xi64>
  %o1 = tensor.extract_slice %o[1, 0] [1, %n] [1, 1] : tensor<2x?xi64> to tensor<?xi64>
  %0 = recq.embedding_bags sum tables(%t0, %t1) indices(%i0, %i1) offsets(%o0, %o1)
      : (tensor<10x4xf32>, tensor<20x4xf32>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x2x4xf32>
  %r = recq.interaction cat %d, [%0] : (tensor<?x4xf32>, tensor<?x2x4xf32>) -> tensor<?x12xf32>
  return %r : tensor<?x12xf32>
}

// -----

// Tables of two kinds (f32 and row-wise int8, whose bytes are passed):
// one pooling function each.
// INPLACE-LABEL: func.func @recq_bag_0(
// INPLACE:         call @recq_pool_0(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %c0)
// INPLACE-LABEL: func.func @recq_bag_1(
// INPLACE:         %[[BYTES:.*]] = memref.get_global @__constant_20x12xi8 : memref<20x12xi8>
// INPLACE:         %[[DYN:.*]] = memref.cast %[[BYTES]] : memref<20x12xi8> to memref<?x12xi8>
// INPLACE:         call @recq_pool_1(%[[DYN]], %{{.*}}, %{{.*}}, %{{.*}}, %c1)
// INPLACE:       func.func private @recq_pool_0(%{{[^:]*}}: memref<?x4xf32>,
// INPLACE:       func.func private @recq_pool_1(%{{[^:]*}}: memref<?x12xi8>,
// INPLACE:         vector.bitcast
// INPLACE:         math.fma
func.func @main(%d: tensor<?x4xf32>, %i0: tensor<?xi64>, %i1: tensor<?xi64>, %o: tensor<2x?xi64>) -> tensor<?x12xf32> {
  %t0 = arith.constant dense<1.0> : tensor<10x4xf32>
  %b1 = arith.constant dense<3> : tensor<20x12xi8>
  %t1 = recq.rowwise_cast %b1 : tensor<20x12xi8> -> !recq.rowwise<20x4xui8, f32>
  %c1 = arith.constant 1 : index
  %n = tensor.dim %o, %c1 : tensor<2x?xi64>
  %o0 = tensor.extract_slice %o[0, 0] [1, %n] [1, 1] : tensor<2x?xi64> to tensor<?xi64>
  %o1 = tensor.extract_slice %o[1, 0] [1, %n] [1, 1] : tensor<2x?xi64> to tensor<?xi64>
  %0 = recq.embedding_bags sum tables(%t0, %t1) indices(%i0, %i1) offsets(%o0, %o1)
      : (tensor<10x4xf32>, !recq.rowwise<20x4xui8, f32>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x2x4xf32>
  %r = recq.interaction cat %d, [%0] : (tensor<?x4xf32>, tensor<?x2x4xf32>) -> tensor<?x12xf32>
  return %r : tensor<?x12xf32>
}

// -----

// Bags not fused into one recq.embedding_bags: @main stays whole.
// CHECK-LABEL: func.func @main(
// CHECK-COUNT-2: recq.embedding_bag sum
// CHECK-NOT:   func.func @recq_bag_0
func.func @main(%t0: tensor<10x4xf32>, %t1: tensor<20x4xf32>, %i0: tensor<?xi64>, %i1: tensor<?xi64>, %o0: tensor<?xi64>, %o1: tensor<?xi64>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %0 = recq.embedding_bag sum %t0[%i0, %o0] : (tensor<10x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  %1 = recq.embedding_bag sum %t1[%i1, %o1] : (tensor<20x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  return %0, %1 : tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// A lone bag beside the fused ones (its index status would fall between
// the tables'): @main stays whole.
// CHECK-LABEL: func.func @main(
// CHECK:       recq.embedding_bags
// CHECK:       recq.embedding_bag sum
// CHECK-NOT:   func.func @recq_rest
func.func @main(%t0: tensor<10x4xf32>, %t1: tensor<20x4xf32>, %i0: tensor<?xi64>, %i1: tensor<?xi64>, %o0: tensor<?xi64>, %o1: tensor<?xi64>) -> (tensor<?x2x4xf32>, tensor<?x4xf32>) {
  %0 = recq.embedding_bags sum tables(%t0, %t1) indices(%i0, %i1) offsets(%o0, %o1)
      : (tensor<10x4xf32>, tensor<20x4xf32>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x2x4xf32>
  %1 = recq.embedding_bag sum %t0[%i0, %o0] : (tensor<10x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  return %0, %1 : tensor<?x2x4xf32>, tensor<?x4xf32>
}
