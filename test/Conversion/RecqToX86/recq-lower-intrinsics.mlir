// RUN: recq-opt %s -recq-lower-intrinsics | FileCheck %s

// The emulators @tiles calls, each declared once.
// CHECK: llvm.func @recq_amx_emu_tdpbusd(i32, i32, i32)
// CHECK: llvm.func @recq_amx_emu_tileloadd64(i32, !llvm.ptr, i64)
// CHECK-NOT: llvm.func @recq_amx_emu

// CHECK-LABEL: func @dot
// CHECK: %[[R:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%arg0, %arg1, %arg2) : (vector<16xi32>, vector<16xi32>, vector<16xi32>) -> vector<16xi32>
// CHECK-NOT: recq.pure_intrinsic
// CHECK: return %[[R]]
func.func @dot(%acc: vector<16xi32>, %x: vector<16xi32>, %w: vector<16xi32>) -> vector<16xi32> {
  %r = recq.pure_intrinsic "llvm.x86.avx512.vpdpbusd.512"(%acc, %x, %w)
      : (vector<16xi32>, vector<16xi32>, vector<16xi32>) -> vector<16xi32>
  return %r : vector<16xi32>
}

// A tile instruction: the intrinsic itself, or a call of its C model (i8
// immediates as i32), declared once (at the top) however often it is
// called.
// CHECK-LABEL: func @tiles
// CHECK: llvm.call_intrinsic "llvm.x86.ldtilecfg"(%arg0) : (!llvm.ptr) -> ()
// CHECK: llvm.call_intrinsic "llvm.x86.tileloadd64"(%[[T4:.*]], %arg0, %arg1) : (i8, !llvm.ptr, i64) -> ()
// CHECK: %[[E4:.*]] = llvm.zext %[[T4]] : i8 to i32
// CHECK: llvm.call @recq_amx_emu_tileloadd64(%[[E4]], %arg0, %arg1) : (i32, !llvm.ptr, i64) -> ()
// CHECK: llvm.call @recq_amx_emu_tdpbusd(
// CHECK: llvm.call @recq_amx_emu_tdpbusd(
// CHECK: llvm.call_intrinsic "llvm.x86.tilerelease"() : () -> ()
// CHECK-NOT: recq.intrinsic
func.func @tiles(%p: !llvm.ptr, %stride: i64) {
  %c0 = arith.constant 0 : i8
  %c4 = arith.constant 4 : i8
  %c6 = arith.constant 6 : i8
  recq.intrinsic "llvm.x86.ldtilecfg"(%p) : !llvm.ptr
  recq.intrinsic "llvm.x86.tileloadd64"(%c4, %p, %stride) : i8, !llvm.ptr, i64
  recq.intrinsic "llvm.x86.tileloadd64"(%c4, %p, %stride) emulator "recq_amx_emu_tileloadd64" : i8, !llvm.ptr, i64
  recq.intrinsic "llvm.x86.tdpbusd"(%c0, %c4, %c6) emulator "recq_amx_emu_tdpbusd" : i8, i8, i8
  recq.intrinsic "llvm.x86.tdpbusd"(%c0, %c4, %c6) emulator "recq_amx_emu_tdpbusd" : i8, i8, i8
  recq.intrinsic "llvm.x86.tilerelease"()
  return
}
