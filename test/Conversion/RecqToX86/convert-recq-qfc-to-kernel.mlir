// RUN: recq-opt %s -split-input-file -convert-recq-qfc-to-kernel=target=avx2 | FileCheck %s --check-prefix=AVX2
// RUN: recq-opt %s -split-input-file -convert-recq-qfc-to-kernel=target=avx512-vnni | FileCheck %s --check-prefix=VNNI
// RUN: recq-opt %s -split-input-file -convert-recq-qfc-to-kernel=target=generic | FileCheck %s --check-prefix=GENERIC

!x = !quant.uniform<u8:f32, 0.5:3>
!y = !quant.uniform<u8:f32, 0.25:5>
!w = !quant.uniform<i8:f32:0, {0.015748031496062992, 1.0, 1.0, 1.0, 1.0}>

// w = [[1, -2, 0.5], 0...] with scales {2/127, 1, ...} quantizes to
// [[64, -127, 32], 0...] (63.5 rounds to even 64; column sums -31, 0...).
// Folded per column, u8 result (Passes.td):
//   c = roundeven(b / (s_x s_w)) - z_x colsum: [64 + 93, -1, 0...]
//   mult = s_x s_w / s_y: [0.0314960629, 2.0, ...], add = z_y = 5
// and the ReLU is the clamp [5, 255]. N = 5 is past the few-column kernel.
//
// avx2 stores each pair of k of a column as two bytes, [N/16, K/2, 32] x
// i8: column 0's (k0, k1) are (64, -127), (k2, pad) (32, 0); a step loads
// 16 bytes and sign-extends them to the i16 pairs of one i32 lane each
// (0xFF81_0040 for column 0's first). The input is widened once to u16,
// [M, 4] (K padded to even with a zero column); per pair and row two
// vpmaddwd.
// AVX2-LABEL: func @qfc
// AVX2-DAG: arith.constant dense<{{\[\[\[}}64, -127, 0, 0, {{.*}}], [32, 0, 0, 0, {{.*}}]]]> : tensor<1x2x32xi8>
// AVX2-DAG: arith.constant dense<[157, -1, 0, {{.*}}]> : tensor<16xi32>
// AVX2-DAG: arith.constant dense<[0.0314960629, 2.000000e+00, 2.000000e+00, {{.*}}]> : tensor<16xf32>
// AVX2-DAG: arith.constant dense<[5.000000e+00, 5.000000e+00, {{.*}}]> : tensor<16xf32>
// AVX2-DAG: arith.constant dense<5.000000e+00> : vector<8xf32>
// AVX2-DAG: arith.constant dense<2.550000e+02> : vector<8xf32>
// AVX2: %[[X:.*]] = "quant.scast"(%{{.*}}) : (tensor<?x3x!quant.uniform<u8:f32, 5.000000e-01:3>>) -> tensor<?x3xi8>
// AVX2: linalg.fill {{.*}} -> tensor<?x4xi8>
// AVX2: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x4xi16>)
// AVX2:   arith.extui {{.*}} : i8 to i16
// AVX2: scf.for
// AVX2:   scf.for
// AVX2:     scf.for {{.*}} -> (vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>)
// AVX2:       vector.transfer_read {{.*}} : tensor<1x2x32xi8>, vector<16xi8>
// AVX2:       arith.extsi {{.*}} : vector<16xi8> to vector<16xi16>
// AVX2:       vector.bitcast {{.*}} : vector<16xi16> to vector<8xi32>
// AVX2-COUNT-12: recq.pure_intrinsic "llvm.x86.avx2.pmadd.wd"
// AVX2:     arith.sitofp
// AVX2:     math.fma
// AVX2:     math.roundeven
// AVX2:     arith.maximumf
// AVX2:     arith.minimumf
// AVX2:     arith.trunci {{.*}} : vector<8xi32> to vector<8xi8>
// AVX2:     vector.transfer_write
// AVX2: "quant.scast"(%{{.*}}) : (tensor<?x5xi8>) -> tensor<?x5x!quant.uniform<u8:f32, 2.500000e-01:5>>
//
// avx512-vnni packs 4 k of a column as bytes of one i32 lane:
// 64, -127 (0x81), 32, 0 -> 0x0020_8140 = 2130240; K = 3 is padded to 4
// with a zero column once, so every group is a whole 4-byte read. The
// groups are padded with zeros to 16 (AMX's weight tile, so the amx
// variant shares the weight); the loop stops at the one real group. (Large
// constants print as hex: 2130240 is 40 81 20 00 little-endian.)
// VNNI-LABEL: func @qfc
// VNNI-DAG: arith.constant dense<"0x40812000{{(00)+}}"> : tensor<1x16x32xi32>
// VNNI: linalg.fill {{.*}} -> tensor<?x4xi8>
// VNNI: %[[PADDED:.*]] = tensor.insert_slice %{{.*}} into %{{.*}}[0, 0] [%{{.*}}, 3] [1, 1] : tensor<?x3xi8> into tensor<?x4xi8>
// VNNI: scf.for {{.*}} -> (vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>, vector<16xi32>)
// VNNI: vector.transfer_read %[[PADDED]]{{.*}} {in_bounds = [true]} : tensor<?x4xi8>, vector<4xi8>
// VNNI-COUNT-16: recq.pure_intrinsic "llvm.x86.avx512.vpdpbusd.512"
//
// generic: one k per step, [1, 3, 8] x i8, i32 multiply-add.
// GENERIC-LABEL: func @qfc
// GENERIC-DAG: arith.constant dense<{{\[\[\[}}64, 0, 0, 0, 0, 0, 0, 0], [-127, 0, 0, 0, 0, 0, 0, 0], [32, 0, 0, 0, 0, 0, 0, 0]]]> : tensor<1x3x8xi8>
// GENERIC: arith.extsi {{.*}} : vector<4xi8> to vector<4xi32>
// GENERIC: arith.muli {{.*}} : vector<4xi32>
// GENERIC: arith.addi {{.*}} : vector<4xi32>
func.func @qfc(%x: tensor<?x3xf32>) -> tensor<?x5x!y> {
  %w = arith.constant dense<[[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]> : tensor<5x3xf32>
  %b = arith.constant dense<[0.5, -0.5, 0.0, 0.0, 0.0]> : tensor<5xf32>
  %xq = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!x>
  %wq = recq.quantize %w : tensor<5x3xf32> -> tensor<5x3x!w>
  %y = recq.qfc %xq, %wq, %b act(relu) : (tensor<?x3x!x>, tensor<5x3x!w>, tensor<5xf32>) -> tensor<?x5x!y>
  return %y : tensor<?x5x!y>
}

// -----

!x = !quant.uniform<u8:f32, 0.5:3>
!w = !quant.uniform<i8:f32:0, {0.015748031496062992, 1.0}>

// N = 2: the few-column kernel runs along K. f32 result: c = -z_x colsum =
// [93, 0], mult = s_x s_w, add = the bias, then the activation, no
// rounding. avx2 packs each column's pairs contiguously, [2, 8] x i32 (K = 3
// is one chunk of 16 bytes, read under a mask and widened in registers);
// one accumulator per row and column, reduced at the end, a scalar
// epilogue.
// AVX2-LABEL: func @f32_result
// AVX2-DAG: arith.constant dense<{{\[\[}}-8323008, 32, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]]> : tensor<2x8xi32>
// AVX2-DAG: arith.constant 93 : i32
// AVX2-NOT: linalg.generic
// AVX2: scf.for {{.*}} -> (vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>)
// AVX2: vector.transfer_read %{{.*}} : tensor<?x3xi8>, vector<16xi8>
// AVX2: arith.extui {{.*}} : vector<16xi8> to vector<16xi16>
// AVX2: recq.pure_intrinsic "llvm.x86.avx2.pmadd.wd"
// AVX2: vector.reduction <add>
// AVX2: math.fma {{.*}} : f32
// AVX2-NOT: math.roundeven
// AVX2: math.exp
// AVX2: tensor.insert
func.func @f32_result(%x: tensor<?x3xf32>) -> tensor<?x2xf32> {
  %w = arith.constant dense<[[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]]> : tensor<2x3xf32>
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %xq = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!x>
  %wq = recq.quantize %w : tensor<2x3xf32> -> tensor<2x3x!w>
  %y = recq.qfc %xq, %wq, %b act(sigmoid) : (tensor<?x3x!x>, tensor<2x3x!w>, tensor<2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

!x7 = !quant.uniform<u8<0:127>:f32, 0.5:3>
!y7 = !quant.uniform<u8<0:127>:f32, 0.25:5>
!w = !quant.uniform<i8:f32:0, {0.015748031496062992, 1.0, 1.0, 1.0, 1.0}>

// 7-bit input (--reduce-range): avx2 uses vpmaddubsw (u7 x s8 pair sums
// cannot saturate) and vpmaddwd with ones, on the VNNI layout (4 bytes of a
// column per lane: 2130240 as above); the u7 output clamps at 127. The
// generic kernel is unchanged.
// AVX2-LABEL: func @reduced_range
// AVX2-DAG: arith.constant dense<{{\[\[\[}}2130240, 0, {{.*}}]]]> : tensor<1x1x16xi32>
// AVX2-DAG: arith.constant dense<1.270000e+02> : vector<8xf32>
// AVX2-NOT: linalg.generic
// AVX2: recq.pure_intrinsic "llvm.x86.avx2.pmadd.ub.sw"({{.*}}) : (vector<32xi8>, vector<32xi8>) -> vector<16xi16>
// AVX2: recq.pure_intrinsic "llvm.x86.avx2.pmadd.wd"({{.*}}) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// GENERIC-LABEL: func @reduced_range
// GENERIC-NOT: recq.pure_intrinsic
func.func @reduced_range(%x: tensor<?x3xf32>) -> tensor<?x5x!y7> {
  %w = arith.constant dense<[[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]> : tensor<5x3xf32>
  %xq = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!x7>
  %wq = recq.quantize %w : tensor<5x3xf32> -> tensor<5x3x!w>
  %y = recq.qfc %xq, %wq act(relu) : (tensor<?x3x!x7>, tensor<5x3x!w>) -> tensor<?x5x!y7>
  return %y : tensor<?x5x!y7>
}

// -----

// An addend: each row's vector of it read under the column mask and added
// in the result's units (times 1 / 0.25) by one fma before rounding.
!xa = !quant.uniform<u8:f32, 0.5:3>
!ya = !quant.uniform<u8:f32, 0.25:5>
!wa = !quant.uniform<i8:f32:0, {0.015748031496062992, 1.0, 1.0, 1.0, 1.0}>
// VNNI-LABEL: func @qfc_addend
// VNNI-DAG: arith.constant dense<4.000000e+00> : vector<16xf32>
// VNNI: vector.transfer_read %[[A:.*]][%{{.*}}, %{{.*}}], %{{.*}}, %{{.*}} {in_bounds = [true]} : tensor<?x5xf32>, vector<16xf32>
// VNNI: math.fma %{{.*}}, %{{.*}}, %{{.*}} : vector<16xf32>
// VNNI: math.roundeven
// GENERIC-LABEL: func @qfc_addend
// GENERIC: vector.transfer_read {{.*}} : tensor<?x5xf32>, vector<4xf32>
func.func @qfc_addend(%x: tensor<?x3x!xa>, %a: tensor<?x5xf32>) -> tensor<?x5x!ya> {
  %w = arith.constant dense<[[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                             [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]> : tensor<5x3xf32>
  %wq = recq.quantize %w : tensor<5x3xf32> -> tensor<5x3x!wa>
  %y = recq.qfc %x, %wq addend(%a) act(relu)
      : (tensor<?x3x!xa>, tensor<5x3x!wa>, tensor<?x5xf32>) -> tensor<?x5x!ya>
  return %y : tensor<?x5x!ya>
}
