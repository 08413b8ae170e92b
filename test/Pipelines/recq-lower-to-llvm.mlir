// RUN: recq-opt %S/../../examples/dlrm-tiny.mlir -recq-canonicalize -recq-lower-to-llvm | FileCheck %s
// RUN: recq-opt %S/../../examples/dlrm-tiny.mlir -recq-canonicalize -recq-lower-to-llvm=target=generic | FileCheck %s

// The whole fp32 pipeline leaves only the LLVM dialect; buffers come from
// the runtime's allocator.
// CHECK: llvm.func @_mlir_memref_to_llvm_free(!llvm.ptr)
// CHECK: llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr
// CHECK: llvm.func @dlrm(
// CHECK-NOT: recq.
// CHECK-NOT: tensor.
// CHECK-NOT: linalg.
// CHECK-NOT: scf.
// CHECK-NOT: memref.
