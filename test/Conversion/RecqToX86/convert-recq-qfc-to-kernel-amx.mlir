// RUN: recq-opt %s -split-input-file -convert-recq-qfc-to-kernel=target=amx | FileCheck %s --check-prefix=AMX
// RUN: recq-opt %s -split-input-file -convert-recq-qfc-to-kernel=target=amx-emulated | FileCheck %s --check-prefix=EMU

!x = !quant.uniform<u8:f32, 0.5:3>
!w = !quant.uniform<i8:f32, 0.01>

// amx: blocks of 32 rows x 32 columns in four int32 tiles, 64 of K per
// step. N = 40 is two column blocks; K = 100 is padded with zero columns
// to 128 (two steps) once, and the weight's 25 k groups to 32 (whole tile
// rows) in the VNNI layout: [2, 32, 32] x i32. With at least 32 rows the
// tiles are configured once (palette 1, eight tiles of 16 rows x 64 bytes)
// and released at the end; the rows past the last block of 32 (all of
// them below 32) run the VNNI register kernel.
// AMX-LABEL: func @qfc
// AMX-DAG: memref.alloca() {alignment = 64 : i64} : memref<32x32xi32>
// AMX-DAG: %[[CFG:.*]] = memref.alloca() {alignment = 64 : i64} : memref<64xi8>
// AMX-DAG: %[[CFGV:.*]] = arith.constant dense<[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 64, 0, 64, 0, 64, 0, 64, 0, 64, 0, 64, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0]> : vector<64xi8>
// AMX-DAG: arith.constant dense<{{.*}}> : tensor<2x32x32xi32>
// AMX: vector.store %[[CFGV]], %[[CFG]]
// AMX: tensor.insert_slice {{.*}} into tensor<?x128xi8>
// AMX: %[[TILES:.*]] = arith.cmpi uge, %{{.*}}, %c32 : index
// AMX: scf.if %[[TILES]] {
// AMX: recq.intrinsic "llvm.x86.ldtilecfg"(%{{.*}}) : !llvm.ptr
// AMX-NEXT: }
// AMX: scf.for
// AMX:   scf.for
// AMX:     scf.for
// AMX-COUNT-4: recq.intrinsic "llvm.x86.tilezero"
// AMX:       scf.for %{{.*}} = %c0 to %c2 step %c1 {
// AMX:         bufferization.to_memref %{{.*}} read_only : memref<?x128xi8, strided<[?, ?], offset: ?>>
// AMX:         bufferization.to_memref %{{.*}} read_only : memref<2x32x32xi32, strided<[?, ?, ?], offset: ?>>
// AMX-COUNT-4: recq.intrinsic "llvm.x86.tileloadd64"
// AMX:         recq.intrinsic "llvm.x86.tdpbusd"(%c0_i8, %c4_i8, %c6_i8) : i8, i8, i8
// AMX:         recq.intrinsic "llvm.x86.tdpbusd"(%c1_i8, %c4_i8, %c7_i8) : i8, i8, i8
// AMX:         recq.intrinsic "llvm.x86.tdpbusd"(%c2_i8, %c5_i8, %c6_i8) : i8, i8, i8
// AMX:         recq.intrinsic "llvm.x86.tdpbusd"(%c3_i8, %c5_i8, %c7_i8) : i8, i8, i8
// AMX:       }
// AMX-COUNT-4: recq.intrinsic "llvm.x86.tilestored64"
// The epilogue loops over the block's 32 rows (unrolled, the chain of
// tensor writes made bufferization slow), two column vectors a row.
// AMX:       scf.for %[[R:.*]] = %c0 to %c32 step %c1
// AMX-COUNT-2: vector.load %{{.*}}[%[[R]], %{{.*}}] : memref<32x32xi32>, vector<16xi32>
// AMX-COUNT-2: math.fma
// AMX-NOT: vector.load
// AMX:       scf.yield
// AMX:     scf.for
// AMX:       recq.pure_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// AMX: scf.if %[[TILES]] {
// AMX-NEXT: recq.intrinsic "llvm.x86.tilerelease"()
// AMX-NOT: recq.intrinsic

// amx-emulated: the same loops, each tile instruction naming its C model;
// the rest on the emulated VNNI kernel.
// EMU-LABEL: func @qfc
// EMU: recq.intrinsic "llvm.x86.ldtilecfg"(%{{.*}}) emulator "recq_amx_emu_ldtilecfg" : !llvm.ptr
// EMU: recq.intrinsic "llvm.x86.tdpbusd"(%c0_i8, %c4_i8, %c6_i8) emulator "recq_amx_emu_tdpbusd" : i8, i8, i8
// EMU: recq.intrinsic "llvm.x86.tilerelease"() emulator "recq_amx_emu_tilerelease"
// EMU-NOT: recq.pure_intrinsic
func.func @qfc(%x: tensor<?x100xf32>, %w: tensor<40x100xf32>) -> tensor<?x40xf32> {
  %wc = arith.constant dense<0.5> : tensor<40x100xf32>
  %xq = recq.quantize %x : tensor<?x100xf32> -> tensor<?x100x!x>
  %wq = recq.quantize %wc : tensor<40x100xf32> -> tensor<40x100x!w>
  %y = recq.qfc %xq, %wq : (tensor<?x100x!x>, tensor<40x100x!w>) -> tensor<?x40xf32>
  return %y : tensor<?x40xf32>
}

// -----

!x = !quant.uniform<u8:f32, 0.5:3>
!w = !quant.uniform<i8:f32, 0.01>

// Up to 4 columns the kernel runs along K on VNNI: no tiles.
// AMX-LABEL: func @few_columns
// AMX-NOT: recq.intrinsic
// AMX: recq.pure_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// AMX-NOT: recq.intrinsic
func.func @few_columns(%x: tensor<?x100xf32>) -> tensor<?x2xf32> {
  %wc = arith.constant dense<0.5> : tensor<2x100xf32>
  %xq = recq.quantize %x : tensor<?x100xf32> -> tensor<?x100x!x>
  %wq = recq.quantize %wc : tensor<2x100xf32> -> tensor<2x100x!w>
  %y = recq.qfc %xq, %wq : (tensor<?x100x!x>, tensor<2x100x!w>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
