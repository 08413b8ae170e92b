// RUN: recq-opt %s -split-input-file -recq-prefetch-rows | FileCheck %s
// RUN: recq-opt %s -split-input-file -recq-prefetch-rows=distance=0 | FileCheck %s --check-prefix=OFF

// A bag loop on buffers: the row 8 indices ahead (clamped to the bag's
// last index) is prefetched, one prefetch per 64-byte line of a 32-float
// row.
// CHECK-LABEL: func @bag
// CHECK: scf.for %[[K:.*]] = %[[BEGIN:.*]] to %[[END:.*]] step
// CHECK:   %[[LAST:.*]] = arith.subi %[[END]], %{{.*}}
// CHECK:   %[[C8:.*]] = arith.constant 8 : index
// CHECK:   %[[PLUS:.*]] = arith.addi %[[K]], %[[C8]]
// CHECK:   %[[AHEAD:.*]] = arith.minsi %[[PLUS]], %[[LAST]]
// CHECK:   %[[NEXT:.*]] = memref.load %[[I:.*]][%[[AHEAD]]]
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
