// RUN: recq-opt %s --convert-recq-interaction-to-call=target=avx2 --split-input-file | FileCheck %s
// RUN: recq-opt %s --convert-recq-interaction-to-call=target=avx512-vnni --split-input-file | FileCheck %s --check-prefix=AVX512
// RUN: recq-opt %s --convert-recq-interaction-to-call=target=generic --split-input-file | FileCheck %s --check-prefix=GENERIC

// A [B, D] dense operand and a [B, T, D] one: one record each
// {address, sample stride, feature stride, count} in a stack buffer, then
// the kernel writes a new [B, D + pairs] buffer read on as a tensor.
// CHECK: func.func private @recq_interaction_dot_f32_avx2(!llvm.ptr, i64, i64, i64, i64, !llvm.ptr, i64)
// CHECK-LABEL: func.func @grouped
// CHECK-SAME: (%[[X:.*]]: tensor<?x16xf32>, %[[E:.*]]: tensor<?x3x16xf32>)
// CHECK: %[[GROUPS:.*]] = memref.alloca() : memref<2x4xi64>
// CHECK: %[[XM:.*]] = bufferization.to_memref %[[X]] read_only
// CHECK: %[[XMETA:.*]], %[[XOFF:.*]], %{{.*}}:2, %[[XSTR:.*]]:2 = memref.extract_strided_metadata %[[XM]]
// CHECK: %[[XPTR:.*]] = memref.extract_aligned_pointer_as_index %[[XM]]
// CHECK: %[[XBYTES:.*]] = arith.muli %[[XOFF]], %c4
// CHECK: %[[XADDR:.*]] = arith.addi %[[XPTR]], %[[XBYTES]]
// CHECK: %[[XA:.*]] = arith.index_cast %[[XADDR]] : index to i64
// CHECK: %[[XS:.*]] = arith.index_cast %[[XSTR]]#0 : index to i64
// CHECK: memref.store %[[XA]], %[[GROUPS]][%c0{{.*}}, %c0{{.*}}]
// CHECK: memref.store %[[XS]], %[[GROUPS]][%c0{{.*}}, %c1{{.*}}]
// CHECK: %[[EM:.*]] = bufferization.to_memref %[[E]] read_only
// CHECK: %{{.*}}, %{{.*}}, %{{.*}}:3, %[[ESTR:.*]]:3 = memref.extract_strided_metadata %[[EM]]
// CHECK: arith.index_cast %[[ESTR]]#0
// CHECK: %[[EF:.*]] = arith.index_cast %[[ESTR]]#1 : index to i64
// CHECK: %[[T:.*]] = arith.constant 3 : i64
// CHECK: memref.store %[[EF]], %[[GROUPS]][%c1{{.*}}, %c2{{.*}}]
// CHECK: memref.store %[[T]], %[[GROUPS]][%c1{{.*}}, %c3{{.*}}]
// CHECK: %[[B:.*]] = tensor.dim %[[X]], %c0
// CHECK: %[[OUT:.*]] = memref.alloc(%[[B]]) {alignment = 64 : i64} : memref<?x22xf32>
// CHECK: %[[GP:.*]] = memref.extract_aligned_pointer_as_index %[[GROUPS]]
// CHECK: %[[GPTR:.*]] = llvm.inttoptr
// CHECK: call @recq_interaction_dot_f32_avx2(%[[GPTR]], %c2_i64, %c16_i64, %{{.*}}, %c0_i64{{.*}}, %{{.*}}, %{{.*}})
// CHECK: %[[R:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<?x22xf32>
// CHECK: return %[[R]]
// AVX512: call @recq_interaction_dot_f32_avx2(
// GENERIC: call @recq_interaction_dot_f32_generic(
func.func @grouped(%x: tensor<?x16xf32>, %e: tensor<?x3x16xf32>) -> tensor<?x22xf32> {
  %r = recq.interaction dot %x, [%e] : (tensor<?x16xf32>, tensor<?x3x16xf32>) -> tensor<?x22xf32>
  return %r : tensor<?x22xf32>
}

// -----

// Two interactions, one declaration; self_interaction passes 1; a static
// batch allocates a static buffer; [B, D] embeddings: count 1.
// CHECK: func.func private @recq_interaction_dot_f32_avx2
// CHECK-NOT: func.func private @recq_interaction_dot_f32_avx2
// CHECK-LABEL: func.func @two
// CHECK-COUNT-2: memref.alloca() : memref<3x4xi64>
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<8x14xf32>
// CHECK: call @recq_interaction_dot_f32_avx2(%{{.*}}, %c3_i64{{.*}}, %c8_i64{{.*}}, %{{.*}}, %c1_i64{{.*}}, %{{.*}}, %{{.*}})
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<8x11xf32>
// CHECK: call @recq_interaction_dot_f32_avx2(%{{.*}}, %c3_i64{{.*}}, %c8_i64{{.*}}, %{{.*}}, %c0_i64{{.*}}, %{{.*}}, %{{.*}})
// CHECK-NOT: recq.interaction
func.func @two(%x: tensor<8x8xf32>, %e0: tensor<8x8xf32>, %e1: tensor<8x8xf32>) -> (tensor<8x14xf32>, tensor<8x11xf32>) {
  %s = recq.interaction dot %x, [%e0, %e1] self_interaction : (tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x14xf32>
  %d = recq.interaction dot %x, [%e0, %e1] : (tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x11xf32>
  return %s, %d : tensor<8x14xf32>, tensor<8x11xf32>
}

// -----

// Left to convert-recq-to-linalg: cat, and no declaration when nothing is
// converted.
// CHECK-NOT: func.func private
// CHECK-LABEL: func.func @cat
// CHECK: recq.interaction cat
func.func @cat(%x: tensor<?x4xf32>, %e: tensor<?x2x4xf32>) -> tensor<?x12xf32> {
  %r = recq.interaction cat %x, [%e] : (tensor<?x4xf32>, tensor<?x2x4xf32>) -> tensor<?x12xf32>
  return %r : tensor<?x12xf32>
}
