// RUN: recq-opt %s -split-input-file -verify-diagnostics

// Every diagnostic of the recq dialect's verifiers and type parser.

//===----------------------------------------------------------------------===//
// !recq.rowwise
//===----------------------------------------------------------------------===//

// Test: a row-wise table has exactly two dimensions.
// expected-error @+1 {{a row-wise table is 2-D (rows x cols), got 3 dimensions}}
func.func private @f(!recq.rowwise<4x4x4xui8, f32>)

// -----

// Test: codes are integers and the scale is a float.
// expected-error @+1 {{expected integer codes and a float scale type, got 'f32' and 'i8'}}
func.func private @f(!recq.rowwise<4x4xf32, i8>)

// -----

// expected-error @+1 {{a row-wise table needs at least one row and one column, got 0x16}}
func.func private @f(!recq.rowwise<0x16xui8, f32>)

// -----

// Test: codes are unsigned; signed i8 is the quant dialect's business.
// expected-error @+1 {{row-wise codes must be ui8 or ui4, got 'i8'}}
func.func private @f(!recq.rowwise<10x16xi8, f32>)

// -----

// expected-error @+1 {{row-wise codes must be ui8 or ui4, got 'ui2'}}
func.func private @f(!recq.rowwise<10x16xui2, f32>)

// -----

// expected-error @+1 {{row-wise scale and bias must be f32 or f16, got 'bf16'}}
func.func private @f(!recq.rowwise<10x16xui4, bf16>)

// -----

//===----------------------------------------------------------------------===//
// recq.embedding_bag
//===----------------------------------------------------------------------===//

func.func @f(%t: tensor<2x10x16xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) {
  // expected-error @+1 {{table must be 2-D [rows, dim], got rank 3}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<2x10x16xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<4x2xi64>, %o: tensor<?xi64>) {
  // expected-error @+1 {{indices of table must be 1-D, got rank 2}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x16xf32>, tensor<4x2xi64>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<2x2xi64>) {
  // expected-error @+1 {{offsets of table must be 1-D, got rank 2}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x16xf32>, tensor<?xi64>, tensor<2x2xi64>) -> tensor<?x16xf32>
  return
}

// -----

// Test: without offsets the indices are fixed-length bags [batch, L].
func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>) {
  // expected-error @+1 {{indices of table must be 2-D [batch, bag length] when no offsets are given, got rank 1}}
  %0 = recq.embedding_bag sum %t[%i]
      : (tensor<10x16xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<4x3xi64>) {
  // expected-error @+1 {{indices of table describe 4 bags but the result has 5 rows}}
  %0 = recq.embedding_bag sum %t[%i]
      : (tensor<10x16xf32>, tensor<4x3xi64>) -> tensor<5x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<4x3xi64>) {
  // expected-error @+1 {{include_last_offset needs offsets}}
  %0 = recq.embedding_bag sum %t[%i] include_last_offset
      : (tensor<10x16xf32>, tensor<4x3xi64>) -> tensor<4x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<4x3xi64>, %w: tensor<4x2xf32>) {
  // expected-error @+1 {{per_sample_weights of table has 2 entries in dimension 1 but its indices have 3}}
  %0 = recq.embedding_bag sum %t[%i] weights(%w)
      : (tensor<10x16xf32>, tensor<4x3xi64>, tensor<4x2xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x64xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) {
  // expected-error @+1 {{table has 64 columns but the result has 32}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x64xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x32xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<0xi64>) {
  // expected-error @+1 {{include_last_offset needs at least one offset for table}}
  %0 = recq.embedding_bag sum %t[%i, %o] include_last_offset
      : (tensor<10x16xf32>, tensor<?xi64>, tensor<0xi64>) -> tensor<?x16xf32>
  return
}

// -----

// Test: with include_last_offset, 8 offsets make 7 bags.
func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<8xi64>) {
  // expected-error @+1 {{offsets of table describe 7 bags but the result has 8 rows}}
  %0 = recq.embedding_bag sum %t[%i, %o] include_last_offset
      : (tensor<10x16xf32>, tensor<?xi64>, tensor<8xi64>) -> tensor<8x16xf32>
  return
}

// -----

// This one is OK: without include_last_offset, 8 offsets make 8 bags.
func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<8xi64>) {
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x16xf32>, tensor<?xi64>, tensor<8xi64>) -> tensor<8x16xf32>
  return
}

// -----

// Test: PyTorch accepts per_sample_weights only with mode='sum'.
func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>,
             %w: tensor<?xf32>) {
  // expected-error @+1 {{per_sample_weights are only supported with mode sum, got mean}}
  %0 = recq.embedding_bag mean %t[%i, %o] weights(%w)
      : (tensor<10x16xf32>, tensor<?xi64>, tensor<?xi64>, tensor<?xf32>)
      -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>,
             %w: tensor<2x3xf32>) {
  // expected-error @+1 {{per_sample_weights of table must have the rank of its indices (1), got rank 2}}
  %0 = recq.embedding_bag sum %t[%i, %o] weights(%w)
      : (tensor<10x16xf32>, tensor<?xi64>, tensor<?xi64>, tensor<2x3xf32>)
      -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<6xi64>, %o: tensor<?xi64>,
             %w: tensor<5xf32>) {
  // expected-error @+1 {{per_sample_weights of table has 5 entries in dimension 0 but its indices have 6}}
  %0 = recq.embedding_bag sum %t[%i, %o] weights(%w)
      : (tensor<10x16xf32>, tensor<6xi64>, tensor<?xi64>, tensor<5xf32>)
      -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf16>, %i: tensor<?xi64>, %o: tensor<?xi64>) {
  // expected-error @+1 {{result element type must be f32 or the element type of table ('f16'), got 'bf16'}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x16xf16>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x16xbf16>
  return
}

// -----

func.func @f(%t: !recq.rowwise<10x16xui8, f16>, %i: tensor<?xi64>,
             %o: tensor<?xi64>) {
  // expected-error @+1 {{result element type of a row-wise table lookup must be f32, got 'f16'}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (!recq.rowwise<10x16xui8, f16>, tensor<?xi64>, tensor<?xi64>)
      -> tensor<?x16xf16>
  return
}

// -----

func.func @f(%t: !recq.rowwise<10x16xui8, f32>, %i: tensor<?xi64>,
             %o: tensor<?xi64>) {
  // expected-error @+1 {{table has 16 columns but the result has 15}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (!recq.rowwise<10x16xui8, f32>, tensor<?xi64>, tensor<?xi64>)
      -> tensor<?x15xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) {
  // expected-error @+1 {{result must be 2-D [batch, dim], got rank 3}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x16xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x1x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xf32>, %o: tensor<?xi64>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x16xf32>, tensor<?xf32>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// recq.embedding_bags
//===----------------------------------------------------------------------===//

func.func @f() {
  // expected-error @+1 {{needs at least one table}}
  %0 = recq.embedding_bags sum tables() indices() : () -> tensor<4x0x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) {
  // expected-error @+1 {{has 2 tables but 1 index tensors}}
  %0 = recq.embedding_bags sum tables(%t, %t) indices(%i) offsets(%o, %o)
      : (tensor<10x16xf32>, tensor<10x16xf32>, tensor<?xi64>, tensor<?xi64>,
         tensor<?xi64>) -> tensor<?x2x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) {
  // expected-error @+1 {{offsets must be given for all 2 tables or none, got 1}}
  %0 = recq.embedding_bags sum tables(%t, %t) indices(%i, %i) offsets(%o)
      : (tensor<10x16xf32>, tensor<10x16xf32>, tensor<?xi64>, tensor<?xi64>,
         tensor<?xi64>) -> tensor<?x2x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>,
             %w: tensor<?xf32>) {
  // expected-error @+1 {{per_sample_weights must be given for all 2 tables or none, got 1}}
  %0 = recq.embedding_bags sum tables(%t, %t) indices(%i, %i) offsets(%o, %o)
      weights(%w)
      : (tensor<10x16xf32>, tensor<10x16xf32>, tensor<?xi64>, tensor<?xi64>,
         tensor<?xi64>, tensor<?xi64>, tensor<?xf32>) -> tensor<?x2x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) {
  // expected-error @+1 {{result must be 3-D [batch, tables, dim], got rank 2}}
  %0 = recq.embedding_bags sum tables(%t) indices(%i) offsets(%o)
      : (tensor<10x16xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) {
  // expected-error @+1 {{result has room for 3 tables but the op pools 2}}
  %0 = recq.embedding_bags sum tables(%t, %t) indices(%i, %i) offsets(%o, %o)
      : (tensor<10x16xf32>, tensor<10x16xf32>, tensor<?xi64>, tensor<?xi64>,
         tensor<?xi64>, tensor<?xi64>) -> tensor<?x3x16xf32>
  return
}

// -----

// Test: per-table checks name the table.
func.func @f(%t: tensor<10x16xf32>, %u: tensor<10x8xf32>, %i: tensor<?xi64>,
             %o: tensor<?xi64>) {
  // expected-error @+1 {{table 1 has 8 columns but the result has 16}}
  %0 = recq.embedding_bags sum tables(%t, %u) indices(%i, %i) offsets(%o, %o)
      : (tensor<10x16xf32>, tensor<10x8xf32>, tensor<?xi64>, tensor<?xi64>,
         tensor<?xi64>, tensor<?xi64>) -> tensor<?x2x16xf32>
  return
}

// -----

func.func @f(%t: tensor<10x16xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>,
             %o5: tensor<5xi64>) {
  // expected-error @+1 {{offsets of table 1 describe 5 bags but the result has 4 rows}}
  %0 = recq.embedding_bags sum tables(%t, %t) indices(%i, %i) offsets(%o, %o5)
      : (tensor<10x16xf32>, tensor<10x16xf32>, tensor<?xi64>, tensor<?xi64>,
         tensor<?xi64>, tensor<5xi64>) -> tensor<4x2x16xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// recq.fc
//===----------------------------------------------------------------------===//

func.func @f(%x: tensor<2x4x13xf32>, %w: tensor<8x13xf32>) {
  // expected-error @+1 {{input must be 2-D [batch, in_features], got rank 3}}
  %0 = recq.fc %x, %w : (tensor<2x4x13xf32>, tensor<8x13xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x13xf32>, %w: tensor<13xf32>) {
  // expected-error @+1 {{weight must be 2-D [out_features, in_features], got rank 1}}
  %0 = recq.fc %x, %w : (tensor<?x13xf32>, tensor<13xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x13xf32>, %w: tensor<8x13xf32>) {
  // expected-error @+1 {{result must be 2-D [batch, out_features], got rank 1}}
  %0 = recq.fc %x, %w : (tensor<?x13xf32>, tensor<8x13xf32>) -> tensor<8xf32>
  return
}

// -----

// Test: the weight is [out_features, in_features], as in nn.Linear.
func.func @f(%x: tensor<?x13xf32>, %w: tensor<13x512xf32>) {
  // expected-error @+1 {{input has 13 features but the weight takes 512}}
  %0 = recq.fc %x, %w : (tensor<?x13xf32>, tensor<13x512xf32>) -> tensor<?x13xf32>
  return
}

// -----

func.func @f(%x: tensor<?x512xf32>, %w: tensor<256x512xf32>) {
  // expected-error @+1 {{weight has 256 output features but the result has 128}}
  %0 = recq.fc %x, %w : (tensor<?x512xf32>, tensor<256x512xf32>) -> tensor<?x128xf32>
  return
}

// -----

func.func @f(%x: tensor<4x13xf32>, %w: tensor<8x13xf32>) {
  // expected-error @+1 {{input has 4 rows but the result has 7}}
  %0 = recq.fc %x, %w : (tensor<4x13xf32>, tensor<8x13xf32>) -> tensor<7x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x13xf32>, %w: tensor<8x13xf32>, %b: tensor<1x8xf32>) {
  // expected-error @+1 {{bias must be 1-D [out_features], got rank 2}}
  %0 = recq.fc %x, %w, %b
      : (tensor<?x13xf32>, tensor<8x13xf32>, tensor<1x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x13xf32>, %w: tensor<256x13xf32>, %b: tensor<100xf32>) {
  // expected-error @+1 {{bias has 100 entries but the weight has 256 output features}}
  %0 = recq.fc %x, %w, %b
      : (tensor<?x13xf32>, tensor<256x13xf32>, tensor<100xf32>) -> tensor<?x256xf32>
  return
}

// -----

func.func @f(%x: tensor<?x13xf16>, %w: tensor<8x13xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float or bfloat16 type values}}
  %0 = recq.fc %x, %w : (tensor<?x13xf16>, tensor<8x13xf32>) -> tensor<?x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// recq.qfc
//===----------------------------------------------------------------------===//

func.func @f(%x: tensor<?x5x!quant.uniform<i8:f32, 0.05:12>>,
             %w: tensor<3x5x!quant.uniform<i8:f32, 0.25>>) {
  // expected-error @+1 {{input must be per-tensor u8 (!quant.uniform<u8:f32, scale:zero_point>), got '!quant.uniform<i8:f32, 5.000000e-02:12>'}}
  %0 = recq.qfc %x, %w
      : (tensor<?x5x!quant.uniform<i8:f32, 0.05:12>>,
         tensor<3x5x!quant.uniform<i8:f32, 0.25>>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
             %w: tensor<3x5x!quant.uniform<i8:f32:1, {0.1, 0.1, 0.1, 0.1, 0.1}>>) {
  // expected-error @+1 {{per-channel weight scales must be along axis 0 (out_features), got axis 1}}
  %0 = recq.qfc %x, %w
      : (tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
         tensor<3x5x!quant.uniform<i8:f32:1, {0.1, 0.1, 0.1, 0.1, 0.1}>>)
      -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
             %w: tensor<3x5x!quant.uniform<i8:f32:0, {0.1, 0.2}>>) {
  // expected-error @+1 {{weight has 3 output features but 2 per-channel scales}}
  %0 = recq.qfc %x, %w
      : (tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
         tensor<3x5x!quant.uniform<i8:f32:0, {0.1, 0.2}>>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
             %w: tensor<3x5x!quant.uniform<i8:f32:0, {0.1, 0.2:5, 0.3}>>) {
  // expected-error @+1 {{weight must be symmetric (zero point 0); channel 1 has zero point 5}}
  %0 = recq.qfc %x, %w
      : (tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
         tensor<3x5x!quant.uniform<i8:f32:0, {0.1, 0.2:5, 0.3}>>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
             %w: tensor<3x5x!quant.uniform<i8:f32, 0.25:5>>) {
  // expected-error @+1 {{weight must be symmetric (zero point 0), got 5}}
  %0 = recq.qfc %x, %w
      : (tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
         tensor<3x5x!quant.uniform<i8:f32, 0.25:5>>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
             %w: tensor<3x5x!quant.uniform<u8:f32, 0.25>>) {
  // expected-error @+1 {{weight must be s8 (!quant.uniform<i8:f32...>, per tensor or per channel), got '!quant.uniform<u8:f32, 2.500000e-01>'}}
  %0 = recq.qfc %x, %w
      : (tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
         tensor<3x5x!quant.uniform<u8:f32, 0.25>>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
             %w: tensor<3x5x!quant.uniform<i8:f32, 0.25>>) {
  // expected-error @+1 {{result must be f32 or a per-tensor 8-bit quantized type, got 'i32'}}
  %0 = recq.qfc %x, %w
      : (tensor<?x5x!quant.uniform<u8:f32, 0.05:12>>,
         tensor<3x5x!quant.uniform<i8:f32, 0.25>>) -> tensor<?x3xi32>
  return
}

// -----

// Test: qfc shares recq.fc's shape checks.
func.func @f(%x: tensor<?x4x!quant.uniform<u8:f32, 0.05:12>>,
             %w: tensor<3x5x!quant.uniform<i8:f32, 0.25>>) {
  // expected-error @+1 {{input has 4 features but the weight takes 5}}
  %0 = recq.qfc %x, %w
      : (tensor<?x4x!quant.uniform<u8:f32, 0.05:12>>,
         tensor<3x5x!quant.uniform<i8:f32, 0.25>>) -> tensor<?x3xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// recq.interaction
//===----------------------------------------------------------------------===//

func.func @f(%x: tensor<?x1x16xf32>, %a: tensor<?x16xf32>) {
  // expected-error @+1 {{dense features must be 2-D [batch, dim], got rank 3}}
  %0 = recq.interaction dot %x, [%a]
      : (tensor<?x1x16xf32>, tensor<?x16xf32>) -> tensor<?x17xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %a: tensor<?x1x1x16xf32>) {
  // expected-error @+1 {{embedding operand 0 must be [batch, dim] or [batch, tables, dim], got rank 4}}
  %0 = recq.interaction dot %x, [%a]
      : (tensor<?x16xf32>, tensor<?x1x1x16xf32>) -> tensor<?x17xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %a: tensor<?x16xf32>, %b: tensor<?x32xf32>) {
  // expected-error @+1 {{embedding operand 1 has dimension 32 but the dense features have 16}}
  %0 = recq.interaction dot %x, [%a, %b]
      : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x32xf32>) -> tensor<?x19xf32>
  return
}

// -----

func.func @f(%x: tensor<4x16xf32>, %a: tensor<8x16xf32>) {
  // expected-error @+1 {{embedding operand 0 has batch 8 but the dense features have batch 4}}
  %0 = recq.interaction dot %x, [%a]
      : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x17xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %a: tensor<?x16xf32>) {
  // expected-error @+1 {{self_interaction applies to dot interaction only}}
  %0 = recq.interaction cat %x, [%a] self_interaction
      : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x32xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %a: tensor<?x16xf32>) {
  // expected-error @+1 {{result must be 2-D [batch, columns], got rank 3}}
  %0 = recq.interaction dot %x, [%a]
      : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x1x17xf32>
  return
}

// -----

func.func @f(%x: tensor<4x16xf32>, %a: tensor<?x16xf32>) {
  // expected-error @+1 {{result has batch 8 but the dense features have batch 4}}
  %0 = recq.interaction dot %x, [%a]
      : (tensor<4x16xf32>, tensor<?x16xf32>) -> tensor<8x17xf32>
  return
}

// -----

// Test: DLRM's shape, 27 features of dimension 128, gives 128 + 351 columns.
func.func @f(%x: tensor<?x128xf32>, %e: tensor<?x26x128xf32>) {
  // expected-error @+1 {{dot interaction of 27 features of dimension 128 gives 479 columns, but the result has 480}}
  %0 = recq.interaction dot %x, [%e]
      : (tensor<?x128xf32>, tensor<?x26x128xf32>) -> tensor<?x480xf32>
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %a: tensor<?x16xf32>) {
  // expected-error @+1 {{cat interaction of 2 features of dimension 16 gives 32 columns, but the result has 33}}
  %0 = recq.interaction cat %x, [%a]
      : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x33xf32>
  return
}

// -----

// This one is OK: a dynamic table count leaves the width to the run time.
func.func @f(%x: tensor<?x16xf32>, %e: tensor<?x?x16xf32>) {
  %0 = recq.interaction dot %x, [%e]
      : (tensor<?x16xf32>, tensor<?x?x16xf32>) -> tensor<?x100xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// recq.quantize, recq.dequantize, recq.rowwise_quantize
//===----------------------------------------------------------------------===//

func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{input shape 4x8 does not match result shape 4x9}}
  %0 = recq.quantize %x : tensor<4x8xf32> -> tensor<4x9x!quant.uniform<u8:f32, 0.5>>
  return
}

// -----

func.func @f(%x: tensor<4x8xf16>) {
  // expected-error @+1 {{result expresses 'f32' values but the input holds 'f16'}}
  %0 = recq.quantize %x : tensor<4x8xf16> -> tensor<4x8x!quant.uniform<u8:f32, 0.5>>
  return
}

// -----

func.func @f(%x: tensor<4x2xf32>) {
  // expected-error @+1 {{per-axis quantization along axis 2 of a rank-2 tensor}}
  %0 = recq.quantize %x : tensor<4x2xf32> -> tensor<4x2x!quant.uniform<i8:f32:2, {0.5, 0.5}>>
  return
}

// -----

func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{axis 1 has 8 elements but the type has 2 scales}}
  %0 = recq.quantize %x : tensor<4x8xf32> -> tensor<4x8x!quant.uniform<i8:f32:1, {0.5, 0.5}>>
  return
}

// -----

func.func @f(%q: tensor<4x8x!quant.uniform<u8:f32, 0.5>>) {
  // expected-error @+1 {{result shape 4x7 does not match input shape 4x8}}
  %0 = recq.dequantize %q : tensor<4x8x!quant.uniform<u8:f32, 0.5>> -> tensor<4x7xf32>
  return
}

// -----

func.func @f(%q: tensor<4x8x!quant.uniform<u8:f32, 0.5>>) {
  // expected-error @+1 {{input expresses 'f32' values but the result holds 'bf16'}}
  %0 = recq.dequantize %q : tensor<4x8x!quant.uniform<u8:f32, 0.5>> -> tensor<4x8xbf16>
  return
}

// -----

func.func @f(%t: tensor<1000xf32>) {
  // expected-error @+1 {{table must be 2-D [rows, dim], got rank 1}}
  %0 = recq.rowwise_quantize %t : tensor<1000xf32> -> !recq.rowwise<1000x1xui8, f32>
  return
}

// -----

func.func @f(%t: tensor<1000x16xf32>) {
  // expected-error @+1 {{table has 1000 rows but the row-wise type has 999}}
  %0 = recq.rowwise_quantize %t : tensor<1000x16xf32> -> !recq.rowwise<999x16xui8, f32>
  return
}

// -----

func.func @f(%t: tensor<1000x16xf32>) {
  // expected-error @+1 {{table has 16 columns but the row-wise type has 8}}
  %0 = recq.rowwise_quantize %t : tensor<1000x16xf32> -> !recq.rowwise<1000x8xui4, f16>
  return
}

// -----

func.func @f(%b: tensor<1000x70xi8>) {
  // expected-error @+1 {{bytes must be [1000, 72] (rows, bytes per row) for '!recq.rowwise<1000x64xui8, f32>', got 'tensor<1000x70xi8>'}}
  %0 = recq.rowwise_cast %b : tensor<1000x70xi8> -> !recq.rowwise<1000x64xui8, f32>
  return
}

// -----

func.func @fc_addend_shape(%x: tensor<?x4xf32>, %w: tensor<3x4xf32>, %a: tensor<?x2xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{addend 'tensor<?x2xf32>' must have the result's shape 'tensor<?x3xf32>'}}
  %y = recq.fc %x, %w addend(%a) : (tensor<?x4xf32>, tensor<3x4xf32>, tensor<?x2xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

func.func @qfc_addend_shape(%xq: tensor<?x4x!quant.uniform<u8:f32, 0.1>>,
                            %wq: tensor<3x4x!quant.uniform<i8:f32, 0.2>>,
                            %a: tensor<3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{addend 'tensor<3xf32>' must have the result's shape 'tensor<?x3xf32>'}}
  %y = recq.qfc %xq, %wq addend(%a)
      : (tensor<?x4x!quant.uniform<u8:f32, 0.1>>, tensor<3x4x!quant.uniform<i8:f32, 0.2>>, tensor<3xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

func.func @fc_addend_bf16_result(%x: tensor<?x4xbf16>, %w: tensor<3x4xbf16>, %a: tensor<?x3xf32>) -> tensor<?x3xbf16> {
  // expected-error @+1 {{an addend needs an f32 result}}
  %y = recq.fc %x, %w addend(%a) : (tensor<?x4xbf16>, tensor<3x4xbf16>, tensor<?x3xf32>) -> tensor<?x3xbf16>
  return %y : tensor<?x3xbf16>
}
