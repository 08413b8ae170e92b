// RUN: recq-opt %s -recq-lower-intrinsics | FileCheck %s

// CHECK-LABEL: func @dot
// CHECK: %[[R:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%arg0, %arg1, %arg2) : (vector<16xi32>, vector<16xi32>, vector<16xi32>) -> vector<16xi32>
// CHECK-NOT: recq.pure_intrinsic
// CHECK: return %[[R]]
func.func @dot(%acc: vector<16xi32>, %x: vector<16xi32>, %w: vector<16xi32>) -> vector<16xi32> {
  %r = recq.pure_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%acc, %x, %w)
      : (vector<16xi32>, vector<16xi32>, vector<16xi32>) -> vector<16xi32>
  return %r : vector<16xi32>
}
