// RUN: recq-opt %s -split-input-file -recq-export-entry-points | FileCheck %s

// @main becomes @recq_entry (uses follow), and the runtime's functions get
// the C interface; other functions are left as they are.
// CHECK-LABEL: func.func @recq_bag_0() attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @recq_rest() attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @helper()
// CHECK-NOT: llvm.emit_c_interface
// CHECK: call @recq_entry()
// CHECK-LABEL: func.func @recq_entry() attributes {llvm.emit_c_interface}
func.func @recq_bag_0() { return }
func.func @recq_rest() { return }
func.func @helper() {
  call @main() : () -> ()
  return
}
func.func @main() { return }

// -----

// Without @main nothing is renamed.
// CHECK-LABEL: func.func @other()
// CHECK-NOT: recq_entry
func.func @other() { return }
