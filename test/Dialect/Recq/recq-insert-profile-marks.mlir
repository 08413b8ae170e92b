// RUN: recq-opt %s -split-input-file -recq-insert-profile-marks | FileCheck %s

// A clock call before each numbered op (the id dropped) and a -1 before
// each return of a function holding one; a function without a numbered
// op gets none; the runtime's clock is declared once.
// CHECK-LABEL: module attributes {recq.profile_ops = ["relu a", "sigmoid b"]}
// CHECK:         func.func private @recq_profile_mark(i32)
// CHECK-LABEL:   func.func @recq_rest(
// CHECK:           %[[C0:.*]] = arith.constant 0 : i32
// CHECK-NEXT:      call @recq_profile_mark(%[[C0]]) : (i32) -> ()
// CHECK-NEXT:      %[[R:.*]] = recq.relu %{{.*}} : tensor<?x4xf32>
// CHECK-NEXT:      %[[C1:.*]] = arith.constant 1 : i32
// CHECK-NEXT:      call @recq_profile_mark(%[[C1]]) : (i32) -> ()
// CHECK-NEXT:      %[[S:.*]] = recq.sigmoid %[[R]] : tensor<?x4xf32>
// CHECK-NEXT:      %[[END:.*]] = arith.constant -1 : i32
// CHECK-NEXT:      call @recq_profile_mark(%[[END]]) : (i32) -> ()
// CHECK-NEXT:      return %[[S]]
// CHECK-NOT:     recq.profile_id
// CHECK-LABEL:   func.func @recq_bag_0(
// CHECK-NOT:       call @recq_profile_mark
// CHECK:           return
module attributes {recq.profile_ops = ["relu a", "sigmoid b"]} {
  func.func @recq_rest(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    %r = recq.relu %x {recq.profile_id = 0 : i32} : tensor<?x4xf32>
    %s = recq.sigmoid %r {recq.profile_id = 1 : i32} : tensor<?x4xf32>
    return %s : tensor<?x4xf32>
  }
  func.func @recq_bag_0(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
    %r = recq.relu %x : tensor<?x4xf32>
    return %r : tensor<?x4xf32>
  }
}

// -----

// Without recq.profile_ops (no --profile) nothing changes.
// CHECK-LABEL: func.func @main(
// CHECK-NOT:     recq_profile_mark
// CHECK:         recq.relu %{{.*}} {recq.profile_id = 0 : i32}
func.func @main(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %r = recq.relu %x {recq.profile_id = 0 : i32} : tensor<?x4xf32>
  return %r : tensor<?x4xf32>
}
