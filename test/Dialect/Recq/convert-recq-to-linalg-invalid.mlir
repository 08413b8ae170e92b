// RUN: recq-opt %s -split-input-file -convert-recq-to-linalg -verify-diagnostics

// Row-wise quantized tables are lowered by a later issue (#6).
func.func @rowwise(%t: !recq.rowwise<10x8xui8, f32>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x8xf32> {
  // expected-error @+2 {{'recq.embedding_bag' op lowering: row-wise quantized tables are not supported yet}}
  // expected-error @+1 {{failed to legalize operation 'recq.embedding_bag' that was explicitly marked illegal}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (!recq.rowwise<10x8xui8, f32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

func.func @f16_table(%t: tensor<10x8xf16>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x8xf32> {
  // expected-error @+2 {{'recq.embedding_bag' op lowering: table of type 'tensor<10x8xf16>' is not supported yet (fp32 only)}}
  // expected-error @+1 {{failed to legalize operation 'recq.embedding_bag' that was explicitly marked illegal}}
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x8xf16>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// Multi-table bags come from recq-fuse (issue #6), which has no lowering yet.
func.func @bags(%t: tensor<10x8xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x1x8xf32> {
  // expected-error @+1 {{failed to legalize operation 'recq.embedding_bags' that was explicitly marked illegal}}
  %0 = recq.embedding_bags sum tables(%t) indices(%i) offsets(%o)
      : (tensor<10x8xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x1x8xf32>
  return %0 : tensor<?x1x8xf32>
}
