// RUN: recq-opt %s -split-input-file -convert-recq-to-linalg | FileCheck %s

// An FC: matmul against the [N, K] weight into a zero-filled result, then
// bias and activation in one element-wise generic.
// CHECK-LABEL: func @fc_relu
// CHECK-SAME: (%[[X:.*]]: tensor<?x3xf32>, %[[W:.*]]: tensor<5x3xf32>, %[[B:.*]]: tensor<5xf32>)
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}) : tensor<?x5xf32>
// CHECK: %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[E]] : tensor<?x5xf32>)
// CHECK: %[[M:.*]] = linalg.matmul_transpose_b ins(%[[X]], %[[W]] : tensor<?x3xf32>, tensor<5x3xf32>) outs(%[[Z]] : tensor<?x5xf32>)
// CHECK: %[[R:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[B]] : tensor<?x5xf32>, tensor<5xf32>) outs(%[[E]] : tensor<?x5xf32>)
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK: return %[[R]]
func.func @fc_relu(%x: tensor<?x3xf32>, %w: tensor<5x3xf32>, %b: tensor<5xf32>) -> tensor<?x5xf32> {
  %0 = recq.fc %x, %w, %b act(relu)
      : (tensor<?x3xf32>, tensor<5x3xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

// Without bias and activation the matmul is the result.
// CHECK-LABEL: func @fc_plain
// CHECK: %[[M:.*]] = linalg.matmul_transpose_b
// CHECK-NOT: linalg.generic
// CHECK: return %[[M]]
func.func @fc_plain(%x: tensor<2x3xf32>, %w: tensor<5x3xf32>) -> tensor<2x5xf32> {
  %0 = recq.fc %x, %w : (tensor<2x3xf32>, tensor<5x3xf32>) -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

// An addend joins the bias in the element-wise pass, before the ReLU.
// CHECK-LABEL: func @fc_addend
// CHECK: %[[M:.*]] = linalg.matmul_transpose_b
// CHECK: linalg.generic {{.*}} ins(%[[M]], %{{.*}}, %[[A:.*]] : tensor<?x5xf32>, tensor<5xf32>, tensor<?x5xf32>)
// CHECK: ^bb0(%[[P:.*]]: f32, %[[B:.*]]: f32, %[[AV:.*]]: f32, %{{.*}}: f32):
// CHECK:   %[[S:.*]] = arith.addf %[[P]], %[[B]]
// CHECK:   %[[T:.*]] = arith.addf %[[S]], %[[AV]]
// CHECK:   arith.maximumf %[[T]]
func.func @fc_addend(%x: tensor<?x3xf32>, %w: tensor<5x3xf32>, %b: tensor<5xf32>,
                     %a: tensor<?x5xf32>) -> tensor<?x5xf32> {
  %0 = recq.fc %x, %w, %b addend(%a) act(relu)
      : (tensor<?x3xf32>, tensor<5x3xf32>, tensor<5xf32>, tensor<?x5xf32>) -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

// CHECK-LABEL: func @fc_sigmoid
// CHECK: linalg.generic
// CHECK: %[[N:.*]] = arith.negf
// CHECK: %[[X:.*]] = math.exp %[[N]]
// CHECK: %[[D:.*]] = arith.addf %{{.*}}, %[[X]]
// CHECK: arith.divf %{{.*}}, %[[D]]
func.func @fc_sigmoid(%x: tensor<2x3xf32>, %w: tensor<1x3xf32>, %b: tensor<1xf32>) -> tensor<2x1xf32> {
  %0 = recq.fc %x, %w, %b act(sigmoid)
      : (tensor<2x3xf32>, tensor<1x3xf32>, tensor<1xf32>) -> tensor<2x1xf32>
  return %0 : tensor<2x1xf32>
}

// -----

// A bag: a loop over bags (bounds from the offsets, the last bag running to
// the end of the indices) around a loop over the bag's rows, accumulating
// one vector of the table's dimension. Indices are checked in the loop: the
// row read is clamped to the table (minui with the last row) and a flag,
// carried through both loops, records any index outside [0, 10); the
// function returns the flags of its bags as an extra result.
// CHECK-LABEL: func @bag_sum
// CHECK-SAME: (%[[T:.*]]: tensor<10x8xf32>, %[[I:.*]]: tensor<?xi64>, %[[O:.*]]: tensor<?xi64>) -> (tensor<?x8xf32>, tensor<1xi64> {recq.index_status})
// CHECK-DAG: %[[NI:.*]] = tensor.dim %[[I]]
// CHECK-DAG: %[[NB:.*]] = tensor.dim %[[O]]
// CHECK-DAG: %[[ZERO:.*]] = vector.splat %{{.*}} : vector<8xf32>
// CHECK-DAG: %[[LAST:.*]] = arith.constant 9 : index
// CHECK-DAG: %[[FALSE:.*]] = arith.constant false
// CHECK: %[[R:.*]]:2 = scf.for %[[BAG:.*]] = %{{.*}} to %[[NB]] {{.*}} iter_args(%[[ACC:.*]] = %{{.*}}, %[[BAD0:.*]] = %[[FALSE]]) -> (tensor<?x8xf32>, i1)
// CHECK:   %[[BEGIN:.*]] = arith.index_cast
// CHECK:   %[[END:.*]] = scf.if
// CHECK:     scf.yield %[[NI]]
// CHECK:   %[[V:.*]]:2 = scf.for %[[K:.*]] = %[[BEGIN]] to %[[END]] {{.*}} iter_args(%[[S:.*]] = %[[ZERO]], %[[BAD:.*]] = %[[BAD0]]) -> (vector<8xf32>, i1)
// CHECK:     %[[IDX:.*]] = arith.index_cast
// CHECK:     %[[ROW:.*]] = arith.minui %[[IDX]], %[[LAST]] : index
// CHECK:     %[[NE:.*]] = arith.cmpi ne, %[[ROW]], %[[IDX]] : index
// CHECK:     %[[BAD1:.*]] = arith.ori %[[BAD]], %[[NE]] : i1
// CHECK:     %[[VALS:.*]] = vector.transfer_read %[[T]][%[[ROW]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<10x8xf32>, vector<8xf32>
// CHECK:     %[[SUM:.*]] = arith.addf %[[S]], %[[VALS]] : vector<8xf32>
// CHECK:     scf.yield %[[SUM]], %[[BAD1]]
// CHECK:   } {recq.bag_rows}
// CHECK:   %[[W:.*]] = vector.transfer_write %[[V]]#0, %[[ACC]][%[[BAG]], %{{.*}}] {in_bounds = [true]}
// CHECK:   scf.yield %[[W]], %[[V]]#1
// CHECK: %[[FLAG:.*]] = arith.extui %[[R]]#1 : i1 to i64
// CHECK: %[[STATUS:.*]] = tensor.from_elements %[[FLAG]] : tensor<1xi64>
// CHECK: return %[[R]]#0, %[[STATUS]]
func.func @bag_sum(%t: tensor<10x8xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x8xf32> {
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x8xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x8xf32>
  return %0 : tensor<?x8xf32>
}

// -----

// max starts from -inf and gives zeros for an empty bag; weights scale rows.
// CHECK-LABEL: func @bag_max
// CHECK: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: vector.splat %[[NEGINF]] : vector<4xf32>
// CHECK: scf.for
// CHECK: scf.for
// CHECK: arith.maximumf
// CHECK: arith.cmpi sle
// CHECK: arith.select
func.func @bag_max(%t: tensor<10x4xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x4xf32> {
  %0 = recq.embedding_bag max %t[%i, %o] include_last_offset
      : (tensor<10x4xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

// CHECK-LABEL: func @bag_mean_weighted_fixed
// CHECK: scf.for
// CHECK: scf.for
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x3xi64>
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x3xf32>
// CHECK: math.fma
// CHECK: arith.addf
// CHECK: arith.maxsi
// CHECK: arith.divf
func.func @bag_mean_weighted_fixed(%t: tensor<10x4xf32>, %i: tensor<?x3xi64>, %w: tensor<?x3xf32>) -> tensor<?x4xf32> {
  %0 = recq.embedding_bag sum %t[%i] weights(%w)
      : (tensor<10x4xf32>, tensor<?x3xi64>, tensor<?x3xf32>) -> tensor<?x4xf32>
  %1 = recq.embedding_bag mean %t[%i]
      : (tensor<10x4xf32>, tensor<?x3xi64>) -> tensor<?x4xf32>
  return %1 : tensor<?x4xf32>
}

// -----

// The dot interaction: per sample, each feature read once as a vector<4>,
// the dense one copied to the row's start, then the pairs (1,0) (2,0)
// (2,1) as multiply + reduction, gathered into one vector<3> written at
// column 4 (chunks of at most 16 dot products).
// CHECK-LABEL: func @interaction_dot
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[E0:.*]]: tensor<?x4xf32>, %[[E1:.*]]: tensor<?x4xf32>)
// CHECK: scf.for %[[B:.*]] = {{.*}} iter_args(%[[ROW:.*]] = %{{.*}}) -> (tensor<?x7xf32>)
// CHECK:   %[[F0:.*]] = vector.transfer_read %[[X]][%[[B]], %{{.*}}]{{.*}} : tensor<?x4xf32>, vector<4xf32>
// CHECK:   %[[F1:.*]] = vector.transfer_read %[[E0]][%[[B]], %{{.*}}]
// CHECK:   %[[F2:.*]] = vector.transfer_read %[[E1]][%[[B]], %{{.*}}]
// CHECK:   %[[D:.*]] = vector.transfer_write %[[F0]], %[[ROW]][%[[B]], %{{.*}}]
// CHECK:   %[[P10:.*]] = arith.mulf %[[F1]], %[[F0]]
// CHECK:   %[[S10:.*]] = vector.reduction <add>, %[[P10]]
// CHECK:   arith.mulf %[[F2]], %[[F0]]
// CHECK:   arith.mulf %[[F2]], %[[F1]]
// CHECK:   %[[V0:.*]] = vector.insert %[[S10]], %{{.*}} [0] : f32 into vector<3xf32>
// CHECK:   %[[V1:.*]] = vector.insert %{{.*}}, %[[V0]] [1]
// CHECK:   %[[V2:.*]] = vector.insert %{{.*}}, %[[V1]] [2]
// CHECK:   %[[C4:.*]] = arith.constant 4 : index
// CHECK:   vector.transfer_write %[[V2]], %[[D]][%[[B]], %[[C4]]] {in_bounds = [true]} : vector<3xf32>, tensor<?x7xf32>
// CHECK-NOT: tensor.insert
// CHECK-NOT: linalg.
func.func @interaction_dot(%x: tensor<?x4xf32>, %e0: tensor<?x4xf32>, %e1: tensor<?x4xf32>) -> tensor<?x7xf32> {
  %0 = recq.interaction dot %x, [%e0, %e1]
      : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x7xf32>
  return %0 : tensor<?x7xf32>
}

// -----

// With self_interaction the diagonal is included: (0,0) (1,0) (1,1).
// CHECK-LABEL: func @interaction_self
// CHECK-SAME: (%{{.*}}: tensor<?x4xf32>, %[[E:.*]]: tensor<?x1x4xf32>)
// CHECK: %[[F1:.*]] = vector.transfer_read %[[E]][%{{.*}}, %{{.*}}, %{{.*}}]{{.*}} : tensor<?x1x4xf32>, vector<4xf32>
// CHECK: arith.mulf %[[F0:.*]], %[[F0]]
// CHECK: arith.mulf %[[F1]], %[[F0]]
// CHECK: arith.mulf %[[F1]], %[[F1]]
// CHECK: vector.transfer_write {{.*}} : vector<3xf32>, tensor<?x7xf32>
func.func @interaction_self(%x: tensor<?x4xf32>, %e: tensor<?x1x4xf32>) -> tensor<?x7xf32> {
  %0 = recq.interaction dot %x, [%e] self_interaction
      : (tensor<?x4xf32>, tensor<?x1x4xf32>) -> tensor<?x7xf32>
  return %0 : tensor<?x7xf32>
}

// -----

// Seven features, 21 pairs: a chunk of 16 dot products at column 4, then
// the last 5 at column 20.
// CHECK-LABEL: func @interaction_chunks
// CHECK-COUNT-16: vector.reduction <add>
// CHECK: %[[C4:.*]] = arith.constant 4 : index
// CHECK: vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %[[C4]]] {in_bounds = [true]} : vector<16xf32>, tensor<?x25xf32>
// CHECK-COUNT-5: vector.reduction <add>
// CHECK: %[[C20:.*]] = arith.constant 20 : index
// CHECK: vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %[[C20]]] {in_bounds = [true]} : vector<5xf32>, tensor<?x25xf32>
func.func @interaction_chunks(%x: tensor<?x4xf32>, %e: tensor<?x6x4xf32>) -> tensor<?x25xf32> {
  %0 = recq.interaction dot %x, [%e]
      : (tensor<?x4xf32>, tensor<?x6x4xf32>) -> tensor<?x25xf32>
  return %0 : tensor<?x25xf32>
}

// -----

// CHECK-LABEL: func @interaction_cat
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, 0] [2, 4] [1, 1]
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2]] : tensor<2x2x4xf32> into tensor<2x8xf32>
// CHECK: tensor.insert_slice %{{.*}} into %{{.*}}[0, 4] [2, 8] [1, 1]
func.func @interaction_cat(%x: tensor<2x4xf32>, %e: tensor<2x2x4xf32>) -> tensor<2x12xf32> {
  %0 = recq.interaction cat %x, [%e]
      : (tensor<2x4xf32>, tensor<2x2x4xf32>) -> tensor<2x12xf32>
  return %0 : tensor<2x12xf32>
}

// -----

// An f16 table: the row is read in f16 and extended; pooling is in f32.
// CHECK-LABEL: func @embedding_bag_f16
// CHECK: scf.for
// CHECK: %[[R:.*]] = vector.transfer_read %arg0[%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<10x5xf16>, vector<5xf16>
// CHECK: %[[X:.*]] = arith.extf %[[R]] : vector<5xf16> to vector<5xf32>
// CHECK: arith.maximumf %{{.*}}, %[[X]] : vector<5xf32>
func.func @embedding_bag_f16(%t: tensor<10x5xf16>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x5xf32> {
  %0 = recq.embedding_bag max %t[%i, %o]
      : (tensor<10x5xf16>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

// Row-wise int8 with f32 scale and bias: one row is one record of 5 code
// bytes then 4 bytes of scale and 4 of bias. Dequantization is fused into
// the pooling loop, the bias taken out of the vector work: the codes
// accumulate as fma(code, scale * w, acc), the biases * w as one scalar
// added once per bag.
// CHECK-LABEL: func @embedding_bag_int8
// CHECK-SAME: (%[[B:.*]]: tensor<10x13xi8>
// CHECK: scf.for {{.*}} -> (vector<5xf32>, i1, f32)
// CHECK: %[[SB:.*]] = vector.transfer_read %[[B]][%[[ROW:.*]], %c5{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<10x13xi8>, vector<4xi8>
// CHECK: %[[S1:.*]] = vector.bitcast %[[SB]] : vector<4xi8> to vector<1xf32>
// CHECK: %[[S:.*]] = vector.extract %[[S1]][0]
// CHECK: %[[BB:.*]] = vector.transfer_read %[[B]][%[[ROW]], %c9{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<10x13xi8>, vector<4xi8>
// CHECK: %[[B1:.*]] = vector.bitcast %[[BB]] : vector<4xi8> to vector<1xf32>
// CHECK: %[[BI:.*]] = vector.extract %[[B1]][0]
// CHECK: %[[C:.*]] = vector.transfer_read %[[B]][%[[ROW]], %c0{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<10x13xi8>, vector<5xi8>
// CHECK: %[[F:.*]] = arith.uitofp %[[C]] : vector<5xi8> to vector<5xf32>
// CHECK: %[[W:.*]] = tensor.extract %arg3
// CHECK: %[[SW:.*]] = arith.mulf %[[S]], %[[W]] : f32
// CHECK: %[[SWV:.*]] = vector.splat %[[SW]] : vector<5xf32>
// CHECK: math.fma %[[F]], %[[SWV]], %{{.*}} : vector<5xf32>
// CHECK: %[[BW:.*]] = arith.mulf %[[BI]], %[[W]] : f32
// CHECK: arith.addf %{{.*}}, %[[BW]] : f32
// CHECK: } {recq.bag_rows}
// CHECK: vector.splat %{{.*}}#2 : vector<5xf32>
// CHECK: arith.addf
func.func @embedding_bag_int8(%b: tensor<10x13xi8>, %i: tensor<?xi64>, %o: tensor<?xi64>, %w: tensor<?xf32>) -> tensor<?x5xf32> {
  %t = recq.rowwise_cast %b : tensor<10x13xi8> -> !recq.rowwise<10x5xui8, f32>
  %0 = recq.embedding_bag sum %t[%i, %o] weights(%w)
      : (!recq.rowwise<10x5xui8, f32>, tensor<?xi64>, tensor<?xi64>, tensor<?xf32>) -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

// Row-wise int4 with f16 scale and bias: 3 bytes hold 5 codes, low nibble
// first. The codes are read rounded up to 4 bytes (reaching into the
// scale's first byte, whose lanes are dropped), zero-extended to 32-bit
// lanes and split into low nibbles (even columns) and high nibbles (odd
// columns). The bag is pooled in that order and interleaved back into
// column order once per bag.
// The f16 scale and bias are one 4-byte read, converted together.
// CHECK-LABEL: func @embedding_bag_int4
// CHECK: %[[SB:.*]] = vector.transfer_read %arg0[%{{.*}}, %c3{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<10x7xi8>, vector<4xi8>
// CHECK: %[[H:.*]] = vector.bitcast %[[SB]] : vector<4xi8> to vector<2xf16>
// CHECK: %[[HS:.*]] = arith.extf %[[H]] : vector<2xf16> to vector<2xf32>
// CHECK: vector.extract %[[HS]][0] : f32 from vector<2xf32>
// CHECK: vector.extract %[[HS]][1] : f32 from vector<2xf32>
// CHECK: %[[C:.*]] = vector.transfer_read %arg0[%{{.*}}, %c0{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<10x7xi8>, vector<4xi8>
// CHECK: %[[W:.*]] = arith.extui %[[C]] : vector<4xi8> to vector<4xi32>
// CHECK: %[[M:.*]] = arith.constant dense<15> : vector<4xi32>
// CHECK: %[[LO:.*]] = arith.andi %[[W]], %[[M]] : vector<4xi32>
// CHECK: %[[S:.*]] = arith.constant dense<4> : vector<4xi32>
// CHECK: %[[HI:.*]] = arith.shrui %[[W]], %[[S]] : vector<4xi32>
// CHECK: %[[CODES:.*]] = vector.shuffle %[[LO]], %[[HI]] [0, 1, 2, 3, 4, 5, 6, 7] : vector<4xi32>, vector<4xi32>
// CHECK: %[[F:.*]] = arith.uitofp %[[CODES]] : vector<8xi32> to vector<8xf32>
// CHECK: math.fma %[[F]], %{{.*}} : vector<8xf32>
// CHECK: arith.addf
// CHECK: } {recq.bag_rows}
// CHECK-NOT: arith.mulf
// CHECK: %[[MEAN:.*]] = arith.divf %{{.*}} : vector<8xf32>
// CHECK: %[[EVEN:.*]] = vector.extract_strided_slice %[[MEAN]] {offsets = [0], sizes = [4], strides = [1]}
// CHECK: %[[ODD:.*]] = vector.extract_strided_slice %[[MEAN]] {offsets = [4], sizes = [4], strides = [1]}
// CHECK: %[[ALL:.*]] = vector.shuffle %[[EVEN]], %[[ODD]] [0, 4, 1, 5, 2, 6, 3, 7] : vector<4xf32>, vector<4xf32>
// CHECK: %[[COLS:.*]] = vector.extract_strided_slice %[[ALL]] {offsets = [0], sizes = [5], strides = [1]}
// CHECK: vector.transfer_write %[[COLS]]
func.func @embedding_bag_int4(%b: tensor<10x7xi8>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x5xf32> {
  %t = recq.rowwise_cast %b : tensor<10x7xi8> -> !recq.rowwise<10x5xui4, f16>
  %0 = recq.embedding_bag mean %t[%i, %o]
      : (!recq.rowwise<10x5xui4, f16>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x5xf32>
  return %0 : tensor<?x5xf32>
}

// -----

// A full 64-column int4 block: four 8-byte groups, each zero-extended
// (one vpmovzxbd from memory on x86) and split; per group, the pooled even
// and odd columns are interleaved by unpack and 128-bit-half shuffles of 8
// lanes (AVX's unpcklps/unpckhps and vperm2f128), then side by side.
// CHECK-LABEL: func @embedding_bag_int4_64
// CHECK-COUNT-4: arith.extui %{{.*}} : vector<8xi8> to vector<8xi32>
// CHECK: arith.uitofp %{{.*}} : vector<64xi32> to vector<64xf32>
// CHECK: } {recq.bag_rows}
// CHECK: vector.extract_strided_slice %{{.*}} {offsets = [0], sizes = [8], strides = [1]} : vector<64xf32> to vector<8xf32>
// CHECK: vector.extract_strided_slice %{{.*}} {offsets = [8], sizes = [8], strides = [1]} : vector<64xf32> to vector<8xf32>
// CHECK: %[[LO:.*]] = vector.shuffle %{{.*}}, %{{.*}} [0, 8, 1, 9, 4, 12, 5, 13] : vector<8xf32>, vector<8xf32>
// CHECK: %[[HI:.*]] = vector.shuffle %{{.*}}, %{{.*}} [2, 10, 3, 11, 6, 14, 7, 15] : vector<8xf32>, vector<8xf32>
// CHECK: vector.shuffle %[[LO]], %[[HI]] [0, 1, 2, 3, 8, 9, 10, 11] : vector<8xf32>, vector<8xf32>
// CHECK: vector.shuffle %[[LO]], %[[HI]] [4, 5, 6, 7, 12, 13, 14, 15] : vector<8xf32>, vector<8xf32>
// CHECK-COUNT-3: vector.extract_strided_slice %{{.*}} {offsets = [{{[0-9]+}}], sizes = [8], strides = [1]} : vector<64xf32> to vector<8xf32>
// CHECK: %[[ROW:.*]] = vector.shuffle %{{.*}} : vector<32xf32>, vector<32xf32>
// CHECK: vector.transfer_write %[[ROW]]
func.func @embedding_bag_int4_64(%b: tensor<10x36xi8>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x64xf32> {
  %t = recq.rowwise_cast %b : tensor<10x36xi8> -> !recq.rowwise<10x64xui4, f16>
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (!recq.rowwise<10x64xui4, f16>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// A row-wise row of more than 64 columns is pooled in column blocks, each by
// its own loop over the bag; the biases are summed by the first block's loop
// only, and every block adds that sum once per bag.
// CHECK-LABEL: func @embedding_bag_int8_72
// CHECK: %[[FIRST:.*]]:3 = scf.for {{.*}} -> (vector<64xf32>, i1, f32) {
// CHECK:   arith.addf %{{.*}}, %{{.*}} : f32
// CHECK: } {recq.bag_rows}
// CHECK: %[[B0:.*]] = vector.splat %[[FIRST]]#2 : vector<64xf32>
// CHECK: arith.addf %[[FIRST]]#0, %[[B0]] : vector<64xf32>
// CHECK: %[[SECOND:.*]]:2 = scf.for {{.*}} -> (vector<8xf32>, i1) {
// CHECK-NOT: arith.addf
// CHECK: }
// CHECK: %[[B1:.*]] = vector.splat %[[FIRST]]#2 : vector<8xf32>
// CHECK: arith.addf %[[SECOND]]#0, %[[B1]] : vector<8xf32>
func.func @embedding_bag_int8_72(%b: tensor<10x80xi8>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x72xf32> {
  %t = recq.rowwise_cast %b : tensor<10x80xi8> -> !recq.rowwise<10x72xui8, f32>
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (!recq.rowwise<10x72xui8, f32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x72xf32>
  return %0 : tensor<?x72xf32>
}

// -----

// recq.embedding_bags: one loop nest per table, each writing its slot of one
// [B, T, D] tensor; one index flag per table, in operand order.
// CHECK-LABEL: func @embedding_bags
// CHECK-SAME: -> (tensor<?x2x4xf32>, tensor<2xi64> {recq.index_status})
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}) : tensor<?x2x4xf32>
// CHECK: %[[A:.*]]:2 = scf.for {{.*}} iter_args(%[[ACC0:.*]] = %[[E]], %{{.*}} = %{{.*}}) -> (tensor<?x2x4xf32>, i1)
// CHECK:   vector.transfer_read %arg0
// CHECK:   vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %c0{{.*}}, %c0{{.*}}] {in_bounds = [true]} : vector<4xf32>, tensor<?x2x4xf32>
// CHECK: %[[B:.*]]:2 = scf.for {{.*}} iter_args(%[[ACC1:.*]] = %[[A]]#0, %{{.*}} = %{{.*}}) -> (tensor<?x2x4xf32>, i1)
// CHECK:   vector.transfer_read %arg1
// CHECK:   vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %c1{{.*}}, %c0{{.*}}] {in_bounds = [true]} : vector<4xf32>, tensor<?x2x4xf32>
// CHECK: %[[F0:.*]] = arith.extui %[[A]]#1 : i1 to i64
// CHECK: %[[F1:.*]] = arith.extui %[[B]]#1 : i1 to i64
// CHECK: %[[S:.*]] = tensor.from_elements %[[F0]], %[[F1]] : tensor<2xi64>
// CHECK: return %[[B]]#0, %[[S]]
func.func @embedding_bags(%t0: tensor<10x4xf32>, %t1: tensor<20x4xf32>, %i0: tensor<?xi64>, %i1: tensor<?xi64>, %o0: tensor<?xi64>, %o1: tensor<?xi64>) -> tensor<?x2x4xf32> {
  %0 = recq.embedding_bags sum tables(%t0, %t1) indices(%i0, %i1) offsets(%o0, %o1)
      : (tensor<10x4xf32>, tensor<20x4xf32>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x2x4xf32>
  return %0 : tensor<?x2x4xf32>
}

// -----

// Rows wider than 64 columns are pooled in blocks of 64 (here 64, 64 and
// 2), each block by its own loop over the bag's rows, so its accumulator
// stays in registers; only the first block's loop checks the indices and is
// marked for prefetching.
// CHECK-LABEL: func @wide_rows
// CHECK: scf.for
// CHECK:   scf.for {{.*}} -> (vector<64xf32>, i1)
// CHECK:     arith.cmpi ne
// CHECK:     vector.transfer_read %arg0[%{{.*}}, %c0{{.*}}]{{.*}} : tensor<10x130xf32>, vector<64xf32>
// CHECK:   } {recq.bag_rows}
// CHECK:   vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %c0{{.*}}] {in_bounds = [true]} : vector<64xf32>
// CHECK:   scf.for {{.*}} -> (vector<64xf32>, i1)
// CHECK-NOT: arith.cmpi ne
// CHECK:     vector.transfer_read %arg0[%{{.*}}, %c64{{.*}}]{{.*}} : tensor<10x130xf32>, vector<64xf32>
// CHECK:   }
// CHECK-NOT: recq.bag_rows
// CHECK:   vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %c64{{.*}}] {in_bounds = [true]} : vector<64xf32>
// CHECK:   scf.for {{.*}} -> (vector<2xf32>, i1)
// CHECK:     vector.transfer_read %arg0[%{{.*}}, %c128{{.*}}]{{.*}} : tensor<10x130xf32>, vector<2xf32>
// CHECK:   vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %c128{{.*}}] {in_bounds = [true]} : vector<2xf32>
func.func @wide_rows(%t: tensor<10x130xf32>, %i: tensor<?xi64>, %o: tensor<?xi64>) -> tensor<?x130xf32> {
  %0 = recq.embedding_bag sum %t[%i, %o]
      : (tensor<10x130xf32>, tensor<?xi64>, tensor<?xi64>) -> tensor<?x130xf32>
  return %0 : tensor<?x130xf32>
}
