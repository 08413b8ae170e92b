// RUN: recq-opt %s -split-input-file -convert-recq-to-linalg -verify-diagnostics

// A row-wise table the lowering cannot read: not stored bytes (a function
// argument has no storage layout the kernel knows).
func.func @rowwise(%t: !recq.rowwise<10x8xui8, f32>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x8xf32> {
  // expected-error @+2 {{'recq.embedding_bag' op lowering: the row-wise table must be stored bytes (recq.rowwise_cast, which recq-canonicalize makes of a constant's recq.rowwise_quantize)}}
  // expected-error @+1 {{failed to legalize operation 'recq.embedding_bag' that was explicitly marked illegal}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (!recq.rowwise<10x8xui8, f32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @bf16_table(%t: tensor<10x8xbf16>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x8xf32> {
  // expected-error @+2 {{'recq.embedding_bag' op lowering: a table of 'bf16' is not supported (f32, f16 or !recq.rowwise)}}
  // expected-error @+1 {{failed to legalize operation 'recq.embedding_bag' that was explicitly marked illegal}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x8xbf16>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// A table of recq.embedding_bags the lowering cannot read is named like a
// single bag's.
func.func @bags(%t: tensor<10x8xf32>, %u: tensor<10x8xbf16>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x2x8xf32> {
  // expected-error @+2 {{'recq.embedding_bags' op lowering: a table of 'bf16' is not supported (f32, f16 or !recq.rowwise)}}
  // expected-error @+1 {{failed to legalize operation 'recq.embedding_bags' that was explicitly marked illegal}}
  %0 = recq.embedding_bags sum tables(%t, %u) indices(%i, %i) offsets(%o, %o)
      : (tensor<10x8xf32>, tensor<10x8xbf16>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x2x8xf32>
  return %0 : tensor<?x2x8xf32>
}
