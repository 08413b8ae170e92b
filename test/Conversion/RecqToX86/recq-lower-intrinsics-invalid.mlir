// RUN: recq-opt %s -split-input-file -verify-diagnostics
// RUN: recq-opt %s -split-input-file -recq-lower-intrinsics -verify-diagnostics

func.func @not_llvm(%p: !llvm.ptr) {
  // expected-error @+1 {{names an LLVM intrinsic (llvm.*), got 'x86.tilezero'}}
  recq.intrinsic "x86.tilezero"(%p) : !llvm.ptr
  return
}

// -----

func.func @empty_emulator(%c: i8) {
  // expected-error @+1 {{has an empty emulator name}}
  recq.intrinsic "llvm.x86.tilezero"(%c) emulator "" : i8
  return
}
