// RUN: recq-opt %s -convert-recq-fc-to-kernel=target=avx512-bf16 | FileCheck %s --check-prefix=BF16
// RUN: recq-opt %s -convert-recq-fc-to-kernel=target=avx2 | FileCheck %s --check-prefix=EMU
// RUN: recq-opt %s -convert-recq-fc-to-kernel=target=generic | FileCheck %s --check-prefix=GENERIC
// RUN: recq-opt %s -convert-recq-fc-to-kernel=target=amx | FileCheck %s --check-prefix=AMX
// RUN: recq-opt %s -convert-recq-fc-to-kernel=target=amx-emulated | FileCheck %s --check-prefix=AMXEMU

// A bf16 FC (bf16 weight, f32 input), N = 20, K = 3 (odd: one padded pair).
// The input is rounded to bf16 first, 16 columns at a time, into i16
// [M, 4] (K padded to pairs) with integer arithmetic: + 0x7fff + bit 16,
// NaN made quiet, the high half kept.
// BF16-LABEL: func @fc_bf16
// (Two pairs of k, padded to 16: the AMX kernel's tile rows.)
// BF16-DAG: %[[W:.*]] = arith.constant dense<{{.*}}> : tensor<1x16x64xbf16>
// BF16: %[[XB:[a-z0-9]+]] = scf.for
// BF16:   scf.for
// BF16:     vector.transfer_read %{{.*}} : tensor<?x3xf32>, vector<16xf32>
// BF16:     arith.bitcast %{{.*}} : vector<16xf32> to vector<16xi32>
// BF16:     arith.cmpf uno
// BF16:     arith.trunci %{{.*}} : vector<16xi32> to vector<16xi16>
// BF16:     vector.transfer_write %{{.*}} : vector<16xi16>, tensor<?x4xi16>
// The kernel: per pair of k, both bf16 of a row broadcast as one i32, two
// vdpbf16ps per row into vector<16xf32> accumulators (8 rows x 2).
// BF16: scf.for %[[NB:[a-z0-9]+]] =
// BF16:   scf.for
// BF16:     scf.for %[[J:[a-z0-9]+]] = {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// BF16:       vector.transfer_read %[[W]][%[[NB]], %[[J]], %{{.*}}]{{.*}} : tensor<1x16x64xbf16>, vector<32xbf16>
// BF16:       vector.transfer_read %[[XB]]{{.*}} : tensor<?x4xi16>, vector<2xi16>
// BF16:       vector.bitcast %{{.*}} : vector<2xi16> to vector<1xi32>
// BF16:       vector.broadcast %{{.*}} : i32 to vector<16xi32>
// BF16:       vector.bitcast %{{.*}} : vector<16xi32> to vector<32xbf16>
// BF16-COUNT-2: recq.pure_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"
// BF16-NOT: vector.fma
// BF16: return

// Elsewhere the exact emulation: the pairs of k swapped in the packed
// weight and the input buffer, one FMA per k on bf16 widened to f32.
// EMU-LABEL: func @fc_bf16
// EMU-DAG: %[[W:.*]] = arith.constant dense<{{.*}}> : tensor<2x4x16xbf16>
// EMU: vector.shuffle %{{.*}}, %{{.*}} [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14]
// EMU: scf.for %[[K:[a-z0-9]+]] = {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// EMU:   vector.transfer_read %[[W]]{{.*}} : tensor<2x4x16xbf16>, vector<16xbf16>
// EMU:   arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
// EMU:   tensor.extract %{{.*}}[%{{.*}}, %[[K]]] : tensor<?x4xi16>
// EMU:   arith.bitcast %{{.*}} : i16 to bf16
// EMU:   arith.extf %{{.*}} : bf16 to f32
// EMU-COUNT-6: vector.fma
// EMU-NOT: pure_intrinsic
// GENERIC: tensor<3x4x8xbf16>

// With AMX, tiles, on the same packed weight as vdpbf16ps's, for every
// batch size. The tiles' input is [M rounded up to 32, 32] bf16, the rows
// past M zero.
// AMX-LABEL: func @fc_bf16
// AMX-DAG: %[[W:.*]] = arith.constant dense<{{.*}}> : tensor<1x16x64xbf16>
// AMX-DAG: %[[SUMS:.*]] = memref.alloca() {alignment = 64 : i64} : memref<32x32xf32>
// AMX: %[[M:.*]] = tensor.dim %arg0, %c0
// AMX: %[[MP:.*]] = arith.muli %{{.*}}, %c32
// AMX: tensor.empty(%[[MP]]) : tensor<?x32xi16>
// AMX: scf.for %{{.*}} = %[[M]] to %[[MP]] step %c1
// AMX:   vector.transfer_write %cst{{.*}} : vector<16xi16>, tensor<?x32xi16>
// AMX: recq.intrinsic "llvm.x86.ldtilecfg"
// AMX-COUNT-4: recq.intrinsic "llvm.x86.tilezero"
// AMX: bufferization.to_memref %[[W]] read_only
// AMX-COUNT-4: recq.intrinsic "llvm.x86.tileloadd64"
// AMX: recq.intrinsic "llvm.x86.tdpbf16ps"(%c0_i8, %c4_i8, %c6_i8) : i8, i8, i8
// AMX: recq.intrinsic "llvm.x86.tdpbf16ps"(%c1_i8, %c4_i8, %c7_i8) : i8, i8, i8
// AMX: recq.intrinsic "llvm.x86.tdpbf16ps"(%c2_i8, %c5_i8, %c6_i8) : i8, i8, i8
// AMX: recq.intrinsic "llvm.x86.tdpbf16ps"(%c3_i8, %c5_i8, %c7_i8) : i8, i8, i8
// AMX-COUNT-4: recq.intrinsic "llvm.x86.tilestored64"
// The epilogue: the rows below M of the 32, two vectors of 16 columns
// each, from the sums, + bias, ReLU, masked past N = 20.
// AMX: %[[ROWS:.*]] = arith.minui %c32, %{{.*}} : index
// AMX: scf.for %[[R:.*]] = %c0 to %[[ROWS]] step %c1
// AMX:   vector.load %[[SUMS]][%[[R]], %c0] : memref<32x32xf32>, vector<16xf32>
// AMX:   arith.maximumf
// AMX:   vector.transfer_write {{.*}} {in_bounds = [true]} : vector<16xf32>, tensor<?x20xf32>
// AMX:   vector.load %[[SUMS]][%[[R]], %c16] : memref<32x32xf32>, vector<16xf32>
// AMX: recq.intrinsic "llvm.x86.tilerelease"()
// AMX-NOT: pure_intrinsic
// AMX: return

// amx-emulated: the same tiles, each instruction a call of the C model.
// AMXEMU-LABEL: func @fc_bf16
// AMXEMU: recq.intrinsic "llvm.x86.ldtilecfg"(%{{.*}}) emulator "recq_amx_emu_ldtilecfg"
// AMXEMU: recq.intrinsic "llvm.x86.tdpbf16ps"(%c0_i8, %c4_i8, %c6_i8) emulator "recq_amx_emu_tdpbf16ps"
// AMXEMU: recq.intrinsic "llvm.x86.tilerelease"() emulator "recq_amx_emu_tilerelease"
// AMXEMU-NOT: vector.fma
// AMXEMU: return
func.func @fc_bf16(%x: tensor<?x3xf32>) -> tensor<?x20xf32> {
  %w = arith.constant dense<1.5> : tensor<20x3xbf16>
  %b = arith.constant dense<0.5> : tensor<20xf32>
  %0 = recq.fc %x, %w, %b act(relu)
      : (tensor<?x3xf32>, tensor<20x3xbf16>, tensor<20xf32>) -> tensor<?x20xf32>
  return %0 : tensor<?x20xf32>
}
