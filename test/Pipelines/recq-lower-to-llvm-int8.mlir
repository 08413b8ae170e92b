// RUN: recq-opt %s -recq-lower-to-llvm=target=avx512-vnni | FileCheck %s --check-prefix=VNNI
// RUN: recq-opt %s -recq-lower-to-llvm=target=avx2 | FileCheck %s --check-prefix=AVX2
// RUN: recq-opt %s -recq-lower-to-llvm=target=generic | FileCheck %s --check-prefix=GENERIC

// Two int8 layers (u8 between them) lower all the way to the LLVM dialect:
// the target's dot instruction as an intrinsic call, no quantized type and
// no recq op left.
// VNNI: llvm.func @main
// VNNI: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// VNNI-NOT: quant.uniform
// VNNI-NOT: recq.
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// AVX2-NOT: recq.
// GENERIC-NOT: llvm.call_intrinsic
// GENERIC: llvm.intr.fma
!x = !quant.uniform<u8:f32, 0.5:3>
!h = !quant.uniform<u8:f32, 0.25>
!w1 = !quant.uniform<i8:f32:0, {0.1, 0.2}>
!w2 = !quant.uniform<i8:f32:0, {0.3}>
func.func @main(%x: tensor<?x3xf32>) -> tensor<?x1xf32> {
  %w = arith.constant dense<1.0> : tensor<2x3xf32>
  %b = arith.constant dense<0.5> : tensor<2xf32>
  %w2 = arith.constant dense<1.0> : tensor<1x2xf32>
  %xq = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!x>
  %wq = recq.quantize %w : tensor<2x3xf32> -> tensor<2x3x!w1>
  %h = recq.qfc %xq, %wq, %b act(relu) : (tensor<?x3x!x>, tensor<2x3x!w1>, tensor<2xf32>) -> tensor<?x2x!h>
  %w2q = recq.quantize %w2 : tensor<1x2xf32> -> tensor<1x2x!w2>
  %y = recq.qfc %h, %w2q act(sigmoid) : (tensor<?x2x!h>, tensor<1x2x!w2>) -> tensor<?x1xf32>
  return %y : tensor<?x1xf32>
}
