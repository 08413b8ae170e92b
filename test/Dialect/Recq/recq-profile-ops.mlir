// RUN: recq-opt %s -split-input-file -verify-diagnostics -recq-profile-ops | FileCheck %s

// The recq ops of @main that do work at run time, numbered in program
// order and named after their kind and ONNX node; a weight's quantize (of
// a constant) and a table's rowwise_cast (a view) are not; other
// functions are left alone.
// CHECK: module attributes {recq.profile_ops = ["quantize /fc0", "qfc /fc0", "embedding_bag", "interaction /cat", "relu"]}
// CHECK-LABEL: func.func @main(
// CHECK:         recq.quantize %arg0 {recq.profile_id = 0 : i32}
// CHECK:         recq.quantize %{{.*}} :
// CHECK-NOT:     recq.profile_id
// CHECK:         recq.qfc {{.*}}{recq.profile_id = 1 : i32}
// CHECK:         recq.rowwise_cast %{{.*}} :
// CHECK:         recq.embedding_bag {{.*}}{recq.profile_id = 2 : i32}
// CHECK:         recq.interaction {{.*}}{recq.profile_id = 3 : i32}
// CHECK:         recq.relu {{.*}}{recq.profile_id = 4 : i32}
// CHECK-LABEL: func.func @other(
// CHECK-NOT:     recq.profile_id
func.func @main(%x: tensor<?x3xf32>, %bytes: tensor<10x12xi8>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x8xf32> {
  %w = arith.constant dense<1.0> : tensor<4x3xf32>
  %qx = recq.quantize %x : tensor<?x3xf32> -> tensor<?x3x!quant.uniform<u8:f32, 0.1>> loc("/fc0")
  %qw = recq.quantize %w : tensor<4x3xf32> -> tensor<4x3x!quant.uniform<i8:f32, 0.01>> loc("/fc0")
  %y = recq.qfc %qx, %qw : (tensor<?x3x!quant.uniform<u8:f32, 0.1>>, tensor<4x3x!quant.uniform<i8:f32, 0.01>>) -> tensor<?x4xf32> loc("/fc0")
  %t = recq.rowwise_cast %bytes : tensor<10x12xi8> -> !recq.rowwise<10x4xui8, f32>
  %b = recq.embedding_bag sum %t[%i, %o] : (!recq.rowwise<10x4xui8, f32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  %c = recq.interaction cat %y, [%b] : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x8xf32> loc("/cat")
  %r = recq.relu %c : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}
func.func @other(%x: tensor<?x6xf32>) -> tensor<?x6xf32> {
  %r = recq.relu %x : tensor<?x6xf32>
  return %r : tensor<?x6xf32>
}

// -----

// expected-error @below {{recq-profile-ops: the module has no @main}}
module {
  func.func @not_main(%x: tensor<?x6xf32>) -> tensor<?x6xf32> {
    %r = recq.relu %x : tensor<?x6xf32>
    return %r : tensor<?x6xf32>
  }
}
