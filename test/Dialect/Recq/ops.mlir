// RUN: recq-opt %s | recq-opt | FileCheck %s
// RUN: recq-opt %s --mlir-print-op-generic | recq-opt | FileCheck %s
// RUN: recq-opt %s --emit-bytecode | recq-opt | FileCheck %s

// Every recq op and type round-trips through the custom form, the generic
// form and bytecode.

// CHECK-LABEL: func @embedding_bag_float
// CHECK: recq.embedding_bag sum %{{.*}}[%{{.*}}, %{{.*}}] :
// CHECK-SAME: (tensor<1000x16xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x16xf32>
// CHECK: recq.embedding_bag max %{{.*}}[%{{.*}}, %{{.*}}] include_last_offset :
// CHECK-SAME: (tensor<50x8xf16>, tensor<7xi32>, tensor<4xi32>) -> tensor<3x8xf16>
// CHECK: recq.embedding_bag sum %{{.*}}[%{{.*}}, %{{.*}}] weights(%{{.*}}) :
func.func @embedding_bag_float(%t: tensor<1000x16xf32>, %i: tensor<?xi64>,
                               %o: tensor<?xi64>, %w: tensor<?xf32>,
                               %h: tensor<50x8xf16>, %i7: tensor<7xi32>,
                               %o4: tensor<4xi32>)
    -> (tensor<?x16xf32>, tensor<3x8xf16>, tensor<?x16xf32>) {
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<1000x16xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x16xf32>
  %1 = recq.embedding_bag max %h[%i7, %o4] include_last_offset
      : (tensor<50x8xf16>, tensor<7xi32>, tensor<4xi32>) -> tensor<3x8xf16>
  %2 = recq.embedding_bag sum %t[%i, %o] weights(%w)
      : (tensor<1000x16xf32>, tensor<?xi64>, tensor<?xi64>, tensor<?xf32>)
      -> tensor<?x16xf32>
  return %0, %1, %2 : tensor<?x16xf32>, tensor<3x8xf16>, tensor<?x16xf32>
}

// CHECK-LABEL: func @embedding_bag_rowwise
// CHECK-SAME: !recq.rowwise<1000x16xui8, f32>
// CHECK-SAME: !recq.rowwise<300x7xui4, f16>
// CHECK: recq.embedding_bag mean %{{.*}}[%{{.*}}, %{{.*}}] :
// CHECK-SAME: (!recq.rowwise<1000x16xui8, f32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x16xf32>
// CHECK: recq.embedding_bag sum %{{.*}}[%{{.*}}, %{{.*}}] weights(%{{.*}}) include_last_offset :
// CHECK-SAME: (!recq.rowwise<300x7xui4, f16>, tensor<?xi64>, tensor<?xi64>, tensor<?xf32>) -> tensor<?x7xf32>
func.func @embedding_bag_rowwise(%q8: !recq.rowwise<1000x16xui8, f32>,
                                 %q4: !recq.rowwise<300x7xui4, f16>,
                                 %i: tensor<?xi64>, %o: tensor<?xi64>,
                                 %w: tensor<?xf32>)
    -> (tensor<?x16xf32>, tensor<?x7xf32>) {
  %0 = recq.embedding_bag mean %q8[%i, %o]
      : (!recq.rowwise<1000x16xui8, f32>, tensor<?xi64>, tensor<?xi64>)
      -> tensor<?x16xf32>
  %1 = recq.embedding_bag sum %q4[%i, %o] weights(%w) include_last_offset
      : (!recq.rowwise<300x7xui4, f16>, tensor<?xi64>, tensor<?xi64>,
         tensor<?xf32>) -> tensor<?x7xf32>
  return %0, %1 : tensor<?x16xf32>, tensor<?x7xf32>
}

// CHECK-LABEL: func @embedding_bag_fixed_length
// CHECK: recq.embedding_bag sum %{{.*}}[%{{.*}}] :
// CHECK-SAME: (tensor<1000x16xf32>, tensor<?x4xi64>) -> tensor<?x16xf32>
// CHECK: recq.embedding_bag sum %{{.*}}[%{{.*}}] weights(%{{.*}}) :
// CHECK: recq.embedding_bags max tables(%{{.*}}, %{{.*}}) indices(%{{.*}}, %{{.*}}) :
// CHECK-SAME: -> tensor<?x2x16xf32>
func.func @embedding_bag_fixed_length(%t: tensor<1000x16xf32>,
                                      %i: tensor<?x4xi64>,
                                      %w: tensor<?x4xf32>)
    -> (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x2x16xf32>) {
  %0 = recq.embedding_bag sum %t[%i]
      : (tensor<1000x16xf32>, tensor<?x4xi64>) -> tensor<?x16xf32>
  %1 = recq.embedding_bag sum %t[%i] weights(%w)
      : (tensor<1000x16xf32>, tensor<?x4xi64>, tensor<?x4xf32>)
      -> tensor<?x16xf32>
  %2 = recq.embedding_bags max tables(%t, %t) indices(%i, %i)
      : (tensor<1000x16xf32>, tensor<1000x16xf32>, tensor<?x4xi64>,
         tensor<?x4xi64>) -> tensor<?x2x16xf32>
  return %0, %1, %2 : tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x2x16xf32>
}

// CHECK-LABEL: func @embedding_bags
// CHECK: recq.embedding_bags sum tables(%{{.*}}, %{{.*}}) indices(%{{.*}}, %{{.*}}) offsets(%{{.*}}, %{{.*}}) :
// CHECK-SAME: -> tensor<?x2x16xf32>
// CHECK: recq.embedding_bags sum tables(%{{.*}}) indices(%{{.*}}) offsets(%{{.*}}) weights(%{{.*}}) include_last_offset :
// CHECK-SAME: -> tensor<4x1x16xf32>
func.func @embedding_bags(%t0: tensor<100x16xf32>,
                          %t1: !recq.rowwise<5000x16xui8, f32>,
                          %i: tensor<?xi64>, %o: tensor<?xi64>,
                          %w: tensor<?xf32>, %o5: tensor<5xi64>)
    -> (tensor<?x2x16xf32>, tensor<4x1x16xf32>) {
  %0 = recq.embedding_bags sum tables(%t0, %t1) indices(%i, %i)
      offsets(%o, %o)
      : (tensor<100x16xf32>, !recq.rowwise<5000x16xui8, f32>,
         tensor<?xi64>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>)
      -> tensor<?x2x16xf32>
  %1 = recq.embedding_bags sum tables(%t0) indices(%i) offsets(%o5)
      weights(%w) include_last_offset
      : (tensor<100x16xf32>, tensor<?xi64>, tensor<5xi64>, tensor<?xf32>)
      -> tensor<4x1x16xf32>
  return %0, %1 : tensor<?x2x16xf32>, tensor<4x1x16xf32>
}

// CHECK-LABEL: func @fc
// CHECK: recq.fc %{{.*}}, %{{.*}}, %{{.*}} act(relu) :
// CHECK: recq.fc %{{.*}}, %{{.*}} :
// CHECK-SAME: (tensor<?x13xf32>, tensor<3x13xbf16>) -> tensor<?x3xf32>
// CHECK: recq.fc %{{.*}}, %{{.*}}, %{{.*}} act(sigmoid) :
func.func @fc(%x: tensor<?x13xf32>, %w: tensor<512x13xf32>,
              %b: tensor<512xf32>, %wb: tensor<3x13xbf16>,
              %w1: tensor<1x13xf32>, %b1: tensor<1xf32>)
    -> (tensor<?x512xf32>, tensor<?x3xf32>, tensor<?x1xf32>) {
  %0 = recq.fc %x, %w, %b act(relu)
      : (tensor<?x13xf32>, tensor<512x13xf32>, tensor<512xf32>) -> tensor<?x512xf32>
  %1 = recq.fc %x, %wb : (tensor<?x13xf32>, tensor<3x13xbf16>) -> tensor<?x3xf32>
  %2 = recq.fc %x, %w1, %b1 act(sigmoid)
      : (tensor<?x13xf32>, tensor<1x13xf32>, tensor<1xf32>) -> tensor<?x1xf32>
  return %0, %1, %2 : tensor<?x512xf32>, tensor<?x3xf32>, tensor<?x1xf32>
}

// CHECK-LABEL: func @qfc
// CHECK: recq.qfc %{{.*}}, %{{.*}}, %{{.*}} act(relu) :
// CHECK-SAME: tensor<?x5x!quant.uniform<u8:f32, 5.000000e-02:12>>
// CHECK-SAME: tensor<3x5x!quant.uniform<i8:f32:0, {1.000000e-02,2.000000e-02,3.000000e-02}>>
// CHECK-SAME: tensor<3xi32>
// CHECK-SAME: -> tensor<?x3x!quant.uniform<u8:f32, 1.000000e-01>>
// CHECK: recq.qfc %{{.*}}, %{{.*}} :
// CHECK-SAME: tensor<3x5x!quant.uniform<i8:f32, 2.500000e-01>>
// CHECK-SAME: -> tensor<?x3xf32>
func.func @qfc(%x: tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
               %w: tensor<3x5x!quant.uniform<i8:f32:0, {0.01, 0.02, 0.03}>>,
               %b: tensor<3xi32>,
               %wt: tensor<3x5x!quant.uniform<i8:f32, 0.25>>)
    -> (tensor<?x3x!quant.uniform<u8:f32, 0.1>>, tensor<?x3xf32>) {
  %0 = recq.qfc %x, %w, %b act(relu)
      : (tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
         tensor<3x5x!quant.uniform<i8:f32:0, {0.01, 0.02, 0.03}>>,
         tensor<3xi32>) -> tensor<?x3x!quant.uniform<u8:f32, 0.1>>
  %1 = recq.qfc %x, %wt
      : (tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
         tensor<3x5x!quant.uniform<i8:f32, 0.25>>) -> tensor<?x3xf32>
  return %0, %1 : tensor<?x3x!quant.uniform<u8:f32, 0.1>>, tensor<?x3xf32>
}

// CHECK-LABEL: func @interaction
// CHECK: recq.interaction dot %{{.*}}, [%{{.*}}, %{{.*}}] :
// CHECK-SAME: -> tensor<?x19xf32>
// CHECK: recq.interaction dot %{{.*}}, [%{{.*}}] self_interaction :
// CHECK-SAME: -> tensor<?x22xf32>
// CHECK: recq.interaction cat %{{.*}}, [%{{.*}}, %{{.*}}] :
// CHECK-SAME: -> tensor<?x64xf32>
// CHECK: recq.interaction dot %{{.*}}, [] :
func.func @interaction(%x: tensor<?x16xf32>, %a: tensor<?x16xf32>,
                       %b: tensor<?x16xf32>, %s: tensor<?x2x16xf32>)
    -> (tensor<?x19xf32>, tensor<?x22xf32>, tensor<?x64xf32>, tensor<?x16xf32>) {
  // 3 features: 16 + 3 pairs.
  %0 = recq.interaction dot %x, [%a, %b]
      : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x19xf32>
  // 1 + 2 stacked features with self interaction: 16 + 3*4/2 = 22.
  %1 = recq.interaction dot %x, [%s] self_interaction
      : (tensor<?x16xf32>, tensor<?x2x16xf32>) -> tensor<?x22xf32>
  %2 = recq.interaction cat %x, [%a, %s]
      : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x2x16xf32>) -> tensor<?x64xf32>
  %3 = recq.interaction dot %x, [] : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return %0, %1, %2, %3 : tensor<?x19xf32>, tensor<?x22xf32>, tensor<?x64xf32>, tensor<?x16xf32>
}

// CHECK-LABEL: func @quantize
// CHECK: recq.quantize %{{.*}} : tensor<?x64xf32> -> tensor<?x64x!quant.uniform<u8:f32, 5.000000e-01:3>>
// CHECK: recq.dequantize %{{.*}} : tensor<?x64x!quant.uniform<u8:f32, 5.000000e-01:3>> -> tensor<?x64xf32>
// CHECK: recq.quantize %{{.*}} : tensor<2x3xf32> -> tensor<2x3x!quant.uniform<i8:f32:0, {1.000000e-01,2.000000e-01}>>
func.func @quantize(%x: tensor<?x64xf32>, %w: tensor<2x3xf32>)
    -> (tensor<?x64xf32>, tensor<2x3x!quant.uniform<i8:f32:0, {0.1, 0.2}>>) {
  %q = recq.quantize %x : tensor<?x64xf32> -> tensor<?x64x!quant.uniform<u8:f32, 0.5:3>>
  %d = recq.dequantize %q : tensor<?x64x!quant.uniform<u8:f32, 0.5:3>> -> tensor<?x64xf32>
  %p = recq.quantize %w : tensor<2x3xf32> -> tensor<2x3x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
  return %d, %p : tensor<?x64xf32>, tensor<2x3x!quant.uniform<i8:f32:0, {0.1, 0.2}>>
}

// CHECK-LABEL: func @rowwise_quantize
// CHECK: recq.rowwise_quantize %{{.*}} : tensor<1000x16xf32> -> !recq.rowwise<1000x16xui8, f32>
// CHECK: recq.rowwise_quantize %{{.*}} : tensor<1000x16xf32> -> !recq.rowwise<1000x16xui4, f16>
func.func @rowwise_quantize(%t: tensor<1000x16xf32>)
    -> (!recq.rowwise<1000x16xui8, f32>, !recq.rowwise<1000x16xui4, f16>) {
  %0 = recq.rowwise_quantize %t : tensor<1000x16xf32> -> !recq.rowwise<1000x16xui8, f32>
  %1 = recq.rowwise_quantize %t : tensor<1000x16xf32> -> !recq.rowwise<1000x16xui4, f16>
  return %0, %1 : !recq.rowwise<1000x16xui8, f32>, !recq.rowwise<1000x16xui4, f16>
}

// CHECK-LABEL: func @activations
// CHECK: recq.relu %{{.*}} : tensor<?x8xf32>
// CHECK: recq.sigmoid %{{.*}} : tensor<?x8xf32>
func.func @activations(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %0 = recq.relu %x : tensor<?x8xf32>
  %1 = recq.sigmoid %0 : tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func @rowwise_cast
// CHECK: recq.rowwise_cast %{{.*}} : tensor<300x8xi8> -> !recq.rowwise<300x7xui4, f16>
func.func @rowwise_cast(%b: tensor<300x8xi8>) -> !recq.rowwise<300x7xui4, f16> {
  %0 = recq.rowwise_cast %b : tensor<300x8xi8> -> !recq.rowwise<300x7xui4, f16>
  return %0 : !recq.rowwise<300x7xui4, f16>
}

// An addend (f32, the result's shape) on recq.fc and recq.qfc.
// CHECK-LABEL: func @fc_addend
// CHECK: %[[A:.*]] = recq.fc %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
// CHECK: recq.fc %{{.*}}, %{{.*}}, %{{.*}} addend(%[[A]]) act(relu) : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
// CHECK: recq.qfc %{{.*}}, %{{.*}} addend(%[[A]]) act(relu) : (tensor<?x4x!quant.uniform<u8:f32, 1.000000e-01>>, tensor<3x4x!quant.uniform<i8:f32, 2.000000e-01>>, tensor<?x3xf32>) -> tensor<?x3x!quant.uniform<u8:f32, 5.000000e-01>>
func.func @fc_addend(%x: tensor<?x4xf32>, %w: tensor<3x4xf32>, %b: tensor<3xf32>,
                     %xq: tensor<?x4x!quant.uniform<u8:f32, 0.1>>,
                     %wq: tensor<3x4x!quant.uniform<i8:f32, 0.2>>)
    -> (tensor<?x3xf32>, tensor<?x3x!quant.uniform<u8:f32, 0.5>>) {
  %a = recq.fc %x, %w : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  %y = recq.fc %x, %w, %b addend(%a) act(relu)
      : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<3xf32>, tensor<?x3xf32>) -> tensor<?x3xf32>
  %q = recq.qfc %xq, %wq addend(%a) act(relu)
      : (tensor<?x4x!quant.uniform<u8:f32, 0.1>>, tensor<3x4x!quant.uniform<i8:f32, 0.2>>, tensor<?x3xf32>)
      -> tensor<?x3x!quant.uniform<u8:f32, 0.5>>
  return %y, %q : tensor<?x3xf32>, tensor<?x3x!quant.uniform<u8:f32, 0.5>>
}
