// RUN: recq-opt %s -split-input-file -recq-prefetch-rows=distance=8 | FileCheck %s
// RUN: recq-opt %s -split-input-file -recq-prefetch-rows=distance=0 | FileCheck %s --check-prefix=OFF

// A bag loop on buffers: the row 8 positions ahead in the whole index
// stream (clamped to the last index, not to the bag's, so the next bags'
// rows are on their way too) is prefetched, one prefetch per 64-byte line
// of a 32-float row.
// CHECK-LABEL: func @bag
// CHECK: scf.for %[[K:.*]] = %[[BEGIN:.*]] to %[[END:.*]] step
// CHECK:   %[[C8:.*]] = arith.constant 8 : index
// CHECK:   %[[N:.*]] = memref.dim %[[I:.*]], %{{.*}} : memref<?xi64>
// CHECK:   %[[LAST:.*]] = arith.subi %[[N]], %{{.*}}
// CHECK:   %[[PLUS:.*]] = arith.addi %[[K]], %[[C8]]
// CHECK:   %[[AHEAD:.*]] = arith.minsi %[[PLUS]], %[[LAST]]
// CHECK:   %[[NEXT:.*]] = memref.load %[[I]][%[[AHEAD]]]
// CHECK:   %[[ROW:.*]] = arith.index_cast %[[NEXT]]
// CHECK:   memref.prefetch %[[T:.*]][%[[ROW]], %{{.*}}], read, locality<3>, data : memref<1000x32xf32>
// CHECK:   %[[C16:.*]] = arith.constant 16 : index
// CHECK:   memref.prefetch %[[T]][%[[ROW]], %[[C16]]], read, locality<3>, data
// CHECK-NOT: memref.prefetch
// CHECK:   memref.load %[[I]][%[[K]]]
// OFF-NOT: memref.prefetch
func.func @bag(%t: memref<1000x32xf32>, %i: memref<?xi64>, %begin: index, %end: index) -> vector<32xf32> {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<32xf32>
  %r = scf.for %k = %begin to %end step %c1 iter_args(%acc = %zero) -> (vector<32xf32>) {
    %v = memref.load %i[%k] : memref<?xi64>
    %row = arith.index_cast %v : i64 to index
    %x = vector.transfer_read %t[%row, %c0], %pad {in_bounds = [true]} : memref<1000x32xf32>, vector<32xf32>
    %s = arith.addf %acc, %x : vector<32xf32>
    scf.yield %s : vector<32xf32>
  } {recq.bag_rows}
  return %r : vector<32xf32>
}

// -----

// Loops without the mark are left alone.
// CHECK-LABEL: func @unmarked
// CHECK-NOT: memref.prefetch
func.func @unmarked(%t: memref<1000x32xf32>, %i: memref<?xi64>, %n: index) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %pad = arith.constant 0.0 : f32
  scf.for %k = %c0 to %n step %c1 {
    %v = memref.load %i[%k] : memref<?xi64>
    %row = arith.index_cast %v : i64 to index
    %x = vector.transfer_read %t[%row, %c0], %pad {in_bounds = [true]} : memref<1000x32xf32>, vector<32xf32>
  }
  return
}

// -----

// Fixed-length bags [B, L]: the stream is the flattened index matrix, so
// position bag * L + k + 8 (clamped to B * L - 1) of its collapsed view.
// CHECK-LABEL: func @fixed
// CHECK: scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step
// CHECK:   %[[L:.*]] = memref.dim %[[I:.*]], %c1{{.*}} : memref<?x4xi64>
// CHECK:   %[[B:.*]] = memref.dim %[[I]], %c0{{.*}} : memref<?x4xi64>
// CHECK:   %[[N:.*]] = arith.muli %[[B]], %[[L]]
// CHECK:   %[[BL:.*]] = arith.muli %arg2, %[[L]]
// CHECK:   %[[AT:.*]] = arith.addi %[[BL]], %[[K]]
// CHECK:   %[[LAST:.*]] = arith.subi %[[N]], %{{.*}}
// CHECK:   %[[PLUS:.*]] = arith.addi %[[AT]], %{{.*}}
// CHECK:   %[[AHEAD:.*]] = arith.minsi %[[PLUS]], %[[LAST]]
// CHECK:   %[[FLAT:.*]] = memref.collapse_shape %[[I]] {{\[\[}}0, 1]] : memref<?x4xi64> into memref<?xi64>
// CHECK:   memref.load %[[FLAT]][%[[AHEAD]]]
// CHECK:   memref.prefetch
func.func @fixed(%t: memref<1000x16xf32>, %i: memref<?x4xi64>, %bag: index) -> vector<16xf32> {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<16xf32>
  %r = scf.for %k = %c0 to %c4 step %c1 iter_args(%acc = %zero) -> (vector<16xf32>) {
    %v = memref.load %i[%bag, %k] : memref<?x4xi64>
    %row = arith.index_cast %v : i64 to index
    %x = vector.transfer_read %t[%row, %c0], %pad {in_bounds = [true]} : memref<1000x16xf32>, vector<16xf32>
    %s = arith.addf %acc, %x : vector<16xf32>
    scf.yield %s : vector<16xf32>
  } {recq.bag_rows}
  return %r : vector<16xf32>
}

// -----

// A checked row index (clamped to the table with arith.minui) is still
// recognised; the prefetched row is clamped the same way.
// CHECK-LABEL: func @clamped
// CHECK: %[[LAST:.*]] = arith.constant 999 : index
// CHECK: scf.for
// CHECK:   %[[NEXT:.*]] = memref.load
// CHECK:   %[[ROW:.*]] = arith.index_cast %[[NEXT]]
// CHECK:   %[[SAFE:.*]] = arith.minui %[[ROW]], %[[LAST]] : index
// CHECK:   memref.prefetch %{{.*}}[%[[SAFE]], %{{.*}}], read, locality<3>, data
func.func @clamped(%t: memref<1000x16xf32>, %i: memref<?xi64>, %n: index) -> vector<16xf32> {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %last = arith.constant 999 : index
  %pad = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<16xf32>
  %r = scf.for %k = %c0 to %n step %c1 iter_args(%acc = %zero) -> (vector<16xf32>) {
    %v = memref.load %i[%k] : memref<?xi64>
    %row = arith.index_cast %v : i64 to index
    %safe = arith.minui %row, %last : index
    %x = vector.transfer_read %t[%safe, %c0], %pad {in_bounds = [true]} : memref<1000x16xf32>, vector<16xf32>
    %s = arith.addf %acc, %x : vector<16xf32>
    scf.yield %s : vector<16xf32>
  } {recq.bag_rows}
  return %r : vector<16xf32>
}

// -----

// Row-wise int8 rows of 72 bytes start anywhere in a line: the lines of
// bytes 0, 64 and 71 are prefetched.
// CHECK-LABEL: func @unaligned_rows
// CHECK: memref.prefetch %{{.*}}[%{{.*}}, %c0{{.*}}], read, locality<3>, data : memref<1000x72xi8>
// CHECK: memref.prefetch %{{.*}}[%{{.*}}, %c64{{.*}}], read, locality<3>, data : memref<1000x72xi8>
// CHECK: memref.prefetch %{{.*}}[%{{.*}}, %c71{{.*}}], read, locality<3>, data : memref<1000x72xi8>
// CHECK-NOT: memref.prefetch
func.func @unaligned_rows(%t: memref<1000x72xi8>, %i: memref<?xi64>, %n: index) -> vector<64xi8> {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %pad = arith.constant 0 : i8
  %zero = arith.constant dense<0> : vector<64xi8>
  %r = scf.for %k = %c0 to %n step %c1 iter_args(%acc = %zero) -> (vector<64xi8>) {
    %v = memref.load %i[%k] : memref<?xi64>
    %row = arith.index_cast %v : i64 to index
    %x = vector.transfer_read %t[%row, %c0], %pad {in_bounds = [true]} : memref<1000x72xi8>, vector<64xi8>
    %s = arith.addi %acc, %x : vector<64xi8>
    scf.yield %s : vector<64xi8>
  } {recq.bag_rows}
  return %r : vector<64xi8>
}
