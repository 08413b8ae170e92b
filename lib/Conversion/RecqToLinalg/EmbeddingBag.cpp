//===- EmbeddingBag.cpp - recq embedding bags to scf/vector loops ---------===//
//
// See Passes.td (convert-recq-to-linalg, recq.embedding_bag): a loop over
// bags around a loop over each bag's rows, the row read and dequantized in
// registers, the indices checked in the loop.
//
//===----------------------------------------------------------------------===//

#include "Lowering.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/ADT/StringMap.h"

#include <cmath>
#include <memory>
#include <optional>

using namespace mlir;
using namespace recq::to_linalg;

namespace {

//===----------------------------------------------------------------------===//
// recq.embedding_bag
//===----------------------------------------------------------------------===//

/// How one table row is read and turned into `vector<D x f32>`.
class RowReader {
public:
  /// Null (with an error emitted) for a table the lowering cannot read.
  static std::optional<RowReader> create(Operation *op, Value table) {
    if (auto tensor = dyn_cast<RankedTensorType>(table.getType())) {
      Type element = tensor.getElementType();
      if (!element.isF32() && !element.isF16()) {
        op->emitOpError() << "lowering: a table of " << element
                         << " is not supported (f32, f16 or !recq.rowwise)";
        return std::nullopt;
      }
      return RowReader(table, tensor.getDimSize(1), {});
    }
    auto type = cast<recq::RowwiseTableType>(table.getType());
    auto cast = table.getDefiningOp<recq::RowwiseCastOp>();
    if (!cast) {
      op->emitOpError() << "lowering: the row-wise table must be stored bytes "
                          "(recq.rowwise_cast, which recq-canonicalize makes "
                          "of a constant's recq.rowwise_quantize)";
      return std::nullopt;
    }
    return RowReader(cast.getBytes(), type.getCols(), type);
  }

  /// A reader of `storage` (the float table, or a row-wise table's bytes
  /// when `rowwise` is set) with `dim` columns; its row count may be
  /// dynamic (a pooling function shared by tables of one kind).
  static RowReader of(Value storage, int64_t dim,
                      recq::RowwiseTableType rowwise) {
    return RowReader(storage, dim, rowwise);
  }

  /// The storage the kernel reads: the float table, or its bytes.
  Value storage() const { return storage_; }
  int64_t dim() const { return dim_; }
  recq::RowwiseTableType rowwise() const { return rowwise_; }

  /// The last row's index (the bound an index is clamped to).
  Value lastRow(OpBuilder &b, Location l) const {
    int64_t rows = cast<ShapedType>(storage_.getType()).getDimSize(0);
    if (!ShapedType::isDynamic(rows))
      return b.create<arith::ConstantIndexOp>(l, rows - 1);
    Value n = b.create<tensor::DimOp>(l, storage_, 0);
    return b.create<arith::SubIOp>(l, n,
                                   b.create<arith::ConstantIndexOp>(l, 1));
  }

  /// A block of at most kChunkColumns consecutive columns, pooled by its
  /// own loop over the bag's rows so its accumulator stays in registers
  /// (D = 128 f32 lanes would take every AVX2 register and spill): the
  /// row is read once from memory by the first block's loop and from
  /// cache by the others.
  static constexpr int64_t kChunkColumns = 64;
  struct Chunk {
    int64_t column;  ///< first column
    int64_t columns; ///< columns it produces
    int64_t lanes;   ///< lanes of its values (int4: two per byte read)
    int64_t bytes;   ///< int4: code bytes it reads
  };

  /// int4 codes are read in groups of kNibbleGroupBytes bytes, each
  /// zero-extended to 32-bit lanes (one vpmovzxbd from memory on x86) and
  /// split into its low nibbles (`& 15`) and high nibbles (`>> 4`).
  static constexpr int64_t kNibbleGroupBytes = 8;

  /// The column blocks of a row. An int4 block is pooled group by group
  /// in "low nibbles, then high nibbles" order: lanes `[2g, 2g + n)` of a
  /// group of `n` bytes starting at byte `g` hold its even columns
  /// `2g + 2j` and lanes `[2g + n, 2g + 2n)` its odd ones. No per-row
  /// shuffles; `toColumns` interleaves the pooled block once per bag. A
  /// block reads the codes rounded up to 4 bytes (the row's f16 scale and
  /// bias follow them, so this stays inside the row); lanes past the last
  /// column are dropped.
  SmallVector<Chunk> chunks() const {
    SmallVector<Chunk> out;
    if (isInt4()) {
      int64_t bytes = (rowwise_.getCodeBytes() + 3) / 4 * 4;
      for (int64_t at = 0; at < bytes; at += kChunkColumns / 2) {
        int64_t n = std::min(kChunkColumns / 2, bytes - at);
        out.push_back({2 * at, std::min(2 * n, dim_ - 2 * at), 2 * n, n});
      }
      return out;
    }
    for (int64_t c = 0; c < dim_; c += kChunkColumns) {
      int64_t n = std::min(kChunkColumns, dim_ - c);
      out.push_back({c, n, n, 0});
    }
    return out;
  }

  bool isInt4() const { return rowwise_ && rowwise_.getBitsPerCode() == 4; }

  /// The byte groups of an int4 block: (first byte in the block, bytes).
  static SmallVector<std::pair<int64_t, int64_t>> groups(const Chunk &chunk) {
    SmallVector<std::pair<int64_t, int64_t>> out;
    for (int64_t g = 0; g < chunk.bytes; g += kNibbleGroupBytes)
      out.push_back({g, std::min(kNibbleGroupBytes, chunk.bytes - g)});
    return out;
  }

  /// A pooled block (vector<lanes>) in column order (vector<columns>).
  /// Per int4 group of 8 bytes: unpack low/high (even and odd columns
  /// side by side within each 128-bit half), then the two halves
  /// exchanged: 4 shuffles per 16 columns on AVX2.
  Value toColumns(OpBuilder &b, Location l, const Chunk &chunk,
                  Value pooled) const {
    if (!isInt4())
      return pooled;
    auto slice = [&](int64_t at, int64_t n) -> Value {
      return b.create<vector::ExtractStridedSliceOp>(
          l, pooled, ArrayRef<int64_t>{at}, ArrayRef<int64_t>{n},
          ArrayRef<int64_t>{1});
    };
    SmallVector<Value> parts;
    for (auto [g, n] : groups(chunk)) {
      Value even = slice(2 * g, n), odd = slice(2 * g + n, n);
      if (n == 8) {
        Value lo = b.create<vector::ShuffleOp>(
            l, even, odd, ArrayRef<int64_t>{0, 8, 1, 9, 4, 12, 5, 13});
        Value hi = b.create<vector::ShuffleOp>(
            l, even, odd, ArrayRef<int64_t>{2, 10, 3, 11, 6, 14, 7, 15});
        parts.push_back(b.create<vector::ShuffleOp>(
            l, lo, hi, ArrayRef<int64_t>{0, 1, 2, 3, 8, 9, 10, 11}));
        parts.push_back(b.create<vector::ShuffleOp>(
            l, lo, hi, ArrayRef<int64_t>{4, 5, 6, 7, 12, 13, 14, 15}));
        continue;
      }
      SmallVector<int64_t> mask;
      for (int64_t j = 0; j < n; ++j)
        mask.append({j, n + j});
      parts.push_back(b.create<vector::ShuffleOp>(l, even, odd, mask));
    }
    Value columns = concat(b, l, parts);
    if (chunk.columns == chunk.lanes)
      return columns;
    return b.create<vector::ExtractStridedSliceOp>(
        l, columns, ArrayRef<int64_t>{0}, ArrayRef<int64_t>{chunk.columns},
        ArrayRef<int64_t>{1});
  }

  /// One block of a table row in registers: `values` (f32), or for a
  /// row-wise table its codes as f32 with the row's scale and bias (f32
  /// scalars).
  struct Row {
    Value values, scale, bias;
  };

  /// Reads block `chunk` of row `row` of the table.
  Row read(OpBuilder &b, Location l, Value row, const Chunk &chunk) const {
    Type f32 = b.getF32Type();
    auto vecType = VectorType::get({chunk.lanes}, f32);
    Value first = b.create<arith::ConstantIndexOp>(l, chunk.column);
    if (!rowwise_) {
      Type element = cast<RankedTensorType>(storage_.getType()).getElementType();
      Value pad = b.create<arith::ConstantOp>(l, b.getZeroAttr(element));
      Value values = b.create<vector::TransferReadOp>(
          l, VectorType::get({chunk.lanes}, element), storage_,
          ValueRange{row, first}, pad, ArrayRef<bool>{true});
      if (!element.isF32())
        values = b.create<arith::ExtFOp>(l, vecType, values);
      return {values, Value(), Value()};
    }
    Type i8 = b.getIntegerType(8);
    Value pad = b.create<arith::ConstantOp>(l, b.getZeroAttr(i8));
    int64_t codeBytes = rowwise_.getCodeBytes();
    auto readBytes = [&](int64_t count, int64_t at) -> Value {
      return b.create<vector::TransferReadOp>(
          l, VectorType::get({count}, i8), storage_,
          ValueRange{row, b.create<arith::ConstantIndexOp>(l, at)}, pad,
          ArrayRef<bool>{true});
    };
    // Scale and bias after the codes: f32 ones each their own read (a
    // broadcast load, a scalar add from memory); f16 ones one 4-byte read
    // converted together (one vcvtph2ps for both).
    FloatType scaleType = rowwise_.getScaleType();
    int64_t scaleBytes = scaleType.getWidth() / 8;
    Value scale, bias;
    if (scaleType.isF32()) {
      auto readScalar = [&](int64_t at) -> Value {
        Value one = b.create<vector::BitCastOp>(
            l, VectorType::get({1}, scaleType), readBytes(scaleBytes, at));
        return b.create<vector::ExtractOp>(l, one, ArrayRef<int64_t>{0});
      };
      scale = readScalar(codeBytes);
      bias = readScalar(codeBytes + scaleBytes);
    } else {
      Value both = b.create<arith::ExtFOp>(
          l, VectorType::get({2}, f32),
          b.create<vector::BitCastOp>(l, VectorType::get({2}, scaleType),
                                      readBytes(2 * scaleBytes, codeBytes))
              .getResult());
      scale = b.create<vector::ExtractOp>(l, both, ArrayRef<int64_t>{0});
      bias = b.create<vector::ExtractOp>(l, both, ArrayRef<int64_t>{1});
    }

    if (isInt4()) {
      // Per group: its bytes as 32-bit lanes, then low and high nibbles.
      Type i32 = b.getI32Type();
      SmallVector<Value> parts;
      for (auto [g, n] : groups(chunk)) {
        auto laneType = VectorType::get({n}, i32);
        Value bytes = b.create<arith::ExtUIOp>(
            l, laneType, readBytes(n, chunk.column / 2 + g));
        auto splat = [&](int64_t v) -> Value {
          return b.create<arith::ConstantOp>(
              l, DenseElementsAttr::get(laneType, b.getIntegerAttr(i32, v)));
        };
        parts.push_back(b.create<arith::AndIOp>(l, bytes, splat(15)));
        parts.push_back(b.create<arith::ShRUIOp>(l, bytes, splat(4)));
      }
      return {b.create<arith::UIToFPOp>(l, vecType, concat(b, l, parts)),
              scale, bias};
    }
    Value codes = readBytes(chunk.lanes, chunk.column);
    return {b.create<arith::UIToFPOp>(l, vecType, codes), scale, bias};
  }

  /// The row's f32 values: `fma(code, scale, bias)` for a row-wise row.
  static Value dequantize(OpBuilder &b, Location l, const Row &r) {
    if (!r.scale)
      return r.values;
    auto type = cast<VectorType>(r.values.getType());
    return b.create<math::FmaOp>(l, r.values,
                                 b.create<vector::SplatOp>(l, type, r.scale),
                                 b.create<vector::SplatOp>(l, type, r.bias));
  }

  bool isRowwise() const { return static_cast<bool>(rowwise_); }

  /// `parts` (1-D vectors of one element type) side by side.
  static Value concat(OpBuilder &b, Location l, SmallVector<Value> parts) {
    while (parts.size() > 1) {
      SmallVector<Value> joined;
      for (size_t k = 0; k + 1 < parts.size(); k += 2) {
        int64_t n = cast<VectorType>(parts[k].getType()).getNumElements() +
                    cast<VectorType>(parts[k + 1].getType()).getNumElements();
        joined.push_back(b.create<vector::ShuffleOp>(
            l, parts[k], parts[k + 1],
            llvm::to_vector(llvm::seq<int64_t>(0, n))));
      }
      if (parts.size() % 2)
        joined.push_back(parts.back());
      parts = std::move(joined);
    }
    return parts[0];
  }

private:
  RowReader(Value storage, int64_t dim, recq::RowwiseTableType rowwise)
      : storage_(storage), dim_(dim), rowwise_(rowwise) {}

  Value storage_;
  int64_t dim_;
  recq::RowwiseTableType rowwise_;
};

/// Pools every bag of one table into `init` (a [B, D] tensor, or slot
/// `slot` (an index) of a [B, T, D] one; null: a new [B, D] tensor of
/// `type`). Returns the filled tensor and the i1 "an index was outside the
/// table".
std::pair<Value, Value>
poolBags(OpBuilder &rewriter, Location loc, const RowReader *reader,
         Value indices, Value offsets, Value weights, recq::PoolingMode mode,
         bool last, RankedTensorType type, Value init, Value slot) {
  Type f32 = rewriter.getF32Type();
  bool fixed = !offsets;

  Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
  Value c1 = rewriter.create<arith::ConstantIndexOp>(loc, 1);
  Value numIndices = rewriter.create<tensor::DimOp>(loc, indices, 0);
  Value numBags, numOffsets, bagLength;
  if (fixed) {
    numBags = numIndices;
    bagLength = rewriter.create<tensor::DimOp>(loc, indices, 1);
  } else {
    numOffsets = rewriter.create<tensor::DimOp>(loc, offsets, 0);
    numBags =
        last ? rewriter.create<arith::SubIOp>(loc, numOffsets, c1).getResult()
             : numOffsets;
  }
  if (!init)
    init = rewriter.create<tensor::EmptyOp>(
        loc, type.getShape(), f32,
        type.isDynamicDim(0) ? ValueRange{numBags} : ValueRange{});
  Value zero =
      rewriter.create<arith::ConstantOp>(loc, rewriter.getZeroAttr(f32));
  Value negInf = rewriter.create<arith::ConstantOp>(
      loc, rewriter.getFloatAttr(f32, -std::numeric_limits<float>::infinity()));
  // Per column block: zeros, and where its pooling starts (-inf for max).
  SmallVector<RowReader::Chunk> chunks = reader->chunks();
  SmallVector<Value> zeroVecs, startVecs;
  for (const RowReader::Chunk &chunk : chunks) {
    auto vecType = VectorType::get({chunk.lanes}, f32);
    zeroVecs.push_back(rewriter.create<vector::SplatOp>(loc, vecType, zero));
    startVecs.push_back(
        mode == recq::PoolingMode::max
            ? rewriter.create<vector::SplatOp>(loc, vecType, negInf).getResult()
            : zeroVecs.back());
  }

  auto readIndex = [&](OpBuilder &b, Location l, Value tensor,
                       ValueRange at) -> Value {
    Value v = b.create<tensor::ExtractOp>(l, tensor, at);
    return b.create<arith::IndexCastOp>(l, b.getIndexType(), v);
  };

  // Checked indices: a row index is clamped to the table (an index
  // outside it reads the last row instead of memory past the table) and
  // any index outside [0, rows) sets a flag the function returns; the
  // runtime turns a set flag into an error naming table, sample and value.
  Value lastRow = reader->lastRow(rewriter, loc);
  Value noneBad = rewriter.create<arith::ConstantIntOp>(loc, 0, 1);
  auto outer = rewriter.create<scf::ForOp>(
      loc, c0, numBags, c1, ValueRange{init, noneBad},
      [&](OpBuilder &b, Location l, Value bag, ValueRange iterArgs) {
        // The bag's index range [begin, end).
        Value begin, end;
        if (fixed) {
          begin = c0;
          end = bagLength;
        } else {
          begin = readIndex(b, l, offsets, bag);
          Value next = b.create<arith::AddIOp>(l, bag, c1);
          if (last) {
            end = readIndex(b, l, offsets, next);
          } else {
            Value hasNext = b.create<arith::CmpIOp>(
                l, arith::CmpIPredicate::ult, next, numOffsets);
            end = b.create<scf::IfOp>(
                       l, hasNext,
                       [&](OpBuilder &t, Location tl) {
                         t.create<scf::YieldOp>(
                             tl, readIndex(t, tl, offsets, next));
                       },
                       [&](OpBuilder &e, Location el) {
                         e.create<scf::YieldOp>(el, numIndices);
                       })
                      .getResult(0);
          }
        }
        // Row-wise sums take the bias out of the vector work: the codes
        // accumulate as fma(code, scale [* w], acc) and the biases
        // [* w] as one scalar (summed by the first block's loop), added
        // once per bag.
        bool factored = reader->isRowwise() && mode != recq::PoolingMode::max;
        Value dest = iterArgs[0], badOut, biasSum;
        for (auto [c, chunk] : llvm::enumerate(chunks)) {
          // Pooling runs on the block's lanes (see RowReader::chunks).
          auto vecType = VectorType::get({chunk.lanes}, f32);
          Value zeroVec = zeroVecs[c], startVec = startVecs[c];
          // The first block's loop checks the indices (and is the one
          // recq-prefetch-rows prefetches whole rows in).
          bool firstChunk = chunk.column == 0;
          bool sumsBias = factored && firstChunk;
          SmallVector<Value> start{startVec, iterArgs[1]};
          if (sumsBias)
            start.push_back(zero);
          auto inner = b.create<scf::ForOp>(
              l, begin, end, c1, start,
              [&](OpBuilder &ib, Location il, Value k, ValueRange acc) {
                SmallVector<Value> at =
                    fixed ? SmallVector<Value>{bag, k} : SmallVector<Value>{k};
                Value index = readIndex(ib, il, indices, at);
                Value clamped = ib.create<arith::MinUIOp>(il, index, lastRow);
                Value bad = acc[1];
                if (firstChunk)
                  bad = ib.create<arith::OrIOp>(
                      il, acc[1],
                      ib.create<arith::CmpIOp>(il, arith::CmpIPredicate::ne,
                                               clamped, index));
                RowReader::Row row = reader->read(ib, il, clamped, chunk);
                Value w = weights
                              ? ib.create<tensor::ExtractOp>(il, weights, at)
                                    .getResult()
                              : Value();
                SmallVector<Value> next;
                if (factored) {
                  // acc: pooled codes, the bad flag[, the biases].
                  Value scale = row.scale;
                  if (w)
                    scale = ib.create<arith::MulFOp>(il, scale, w);
                  next.push_back(ib.create<math::FmaOp>(
                      il, row.values,
                      ib.create<vector::SplatOp>(il, vecType, scale), acc[0]));
                  next.push_back(bad);
                  if (sumsBias) {
                    Value bias = row.bias;
                    if (w)
                      bias = ib.create<arith::MulFOp>(il, bias, w);
                    next.push_back(ib.create<arith::AddFOp>(il, acc[2], bias));
                  }
                } else {
                  Value values = RowReader::dequantize(ib, il, row);
                  if (w)
                    next.push_back(ib.create<math::FmaOp>(
                        il, values, ib.create<vector::SplatOp>(il, vecType, w),
                        acc[0]));
                  else if (mode == recq::PoolingMode::max)
                    next.push_back(
                        ib.create<arith::MaximumFOp>(il, acc[0], values));
                  else
                    next.push_back(
                        ib.create<arith::AddFOp>(il, acc[0], values));
                  next.push_back(bad);
                }
                ib.create<scf::YieldOp>(il, next);
              });
          // recq-prefetch-rows finds the loop by this mark after
          // bufferization.
          if (firstChunk) {
            inner->setAttr("recq.bag_rows", b.getUnitAttr());
            badOut = inner.getResult(1);
          }
          if (sumsBias)
            biasSum = inner.getResult(2);
          Value pooled = inner.getResult(0);
          if (factored)
            pooled = b.create<arith::AddFOp>(
                l, pooled, b.create<vector::SplatOp>(l, vecType, biasSum));
          Value count = b.create<arith::SubIOp>(l, end, begin);
          Value empty =
              b.create<arith::CmpIOp>(l, arith::CmpIPredicate::sle, count, c0);
          if (mode == recq::PoolingMode::mean) {
            Value n = b.create<arith::UIToFPOp>(
                l, f32,
                b.create<arith::IndexCastOp>(
                    l, b.getI64Type(), b.create<arith::MaxSIOp>(l, count, c1)));
            pooled = b.create<arith::DivFOp>(
                l, pooled, b.create<vector::SplatOp>(l, vecType, n));
          } else if (mode == recq::PoolingMode::max) {
            pooled = b.create<arith::SelectOp>(l, empty, zeroVec, pooled);
          }
          pooled = reader->toColumns(b, l, chunk, pooled);
          SmallVector<Value> at{
              bag, b.create<arith::ConstantIndexOp>(l, chunk.column)};
          if (slot)
            at.insert(at.begin() + 1, slot);
          AffineMap minor =
              AffineMap::getMinorIdentityMap(type.getRank(), 1, b.getContext());
          dest = b.create<vector::TransferWriteOp>(
                      l, pooled, dest, at, AffineMapAttr::get(minor), Value(),
                      b.getBoolArrayAttr({true}))
                     .getResult();
        }
        b.create<scf::YieldOp>(l, ValueRange{dest, badOut});
      });
  return std::make_pair(outer.getResult(0), outer.getResult(1));
}

/// The pooling functions tables of one kind share (see
/// EmbeddingBagLowering), made in `module` on first use: one per storage
/// type (its row count aside), row-wise layout, mode, operand types and
/// destination.
class PoolFunctions {
public:
  explicit PoolFunctions(ModuleOp module) : module(module) {}

  /// The function for the kind of table `bag` reads (through `reader`)
  /// into `buffer`.
  func::FuncOp get(recq::EmbeddingBagOp bag, const RowReader &reader,
                   Value buffer) {
    SmallVector<Type> inputs{storageType(reader.storage().getType())};
    for (Value v : operandsOf(bag))
      inputs.push_back(operandType(v));
    inputs.push_back(buffer.getType());
    inputs.push_back(IndexType::get(module.getContext()));
    std::string key;
    llvm::raw_string_ostream os(key);
    for (Type t : inputs)
      os << t << ';';
    if (recq::RowwiseTableType rowwise = reader.rowwise())
      os << rowwise.getCols() << 'x' << rowwise.getCodeType() << ','
         << rowwise.getScaleType();
    os << ';' << recq::stringifyPoolingMode(bag.getMode()) << ';'
       << bag.getIncludeLastOffset() << bool(bag.getOffsets())
       << bool(bag.getPerSampleWeights());
    func::FuncOp &fn = byKind[key];
    if (!fn)
      fn = build(bag, reader, inputs);
    return fn;
  }

  /// The bag's index, offset and weight tensors, those it has, in order.
  static SmallVector<Value> operandsOf(recq::EmbeddingBagOp bag) {
    SmallVector<Value> out{bag.getIndices()};
    for (Value v : {bag.getOffsets(), bag.getPerSampleWeights()})
      if (v)
        out.push_back(v);
    return out;
  }

  /// The buffer a table's storage (a tensor) is passed in: its row count
  /// dynamic. (A whole constant or argument: identity layout.)
  static MemRefType storageType(Type tensor) {
    auto type = cast<RankedTensorType>(tensor);
    SmallVector<int64_t> shape(type.getShape());
    shape[0] = ShapedType::kDynamic;
    return MemRefType::get(shape, type.getElementType());
  }

  /// The buffer an index, offset or weight tensor is passed in: a
  /// function's argument as it is (identity layout, so recq-prefetch-rows
  /// can read [B, L] indices as one stream); anything else with any offset
  /// and outer strides and a unit inner stride, so a row of a [T, B]
  /// offsets input (recq-split-bags slices one per table) passes as the
  /// subview it is. (Buffers are passed, not tensors: one-shot
  /// bufferization would give a tensor argument an identity layout and
  /// pass such a row with a bare `memref.cast`, which drops its offset:
  /// llvm/llvm-project#83276, open.)
  static MemRefType operandType(Value tensor) {
    auto type = cast<RankedTensorType>(tensor.getType());
    if (isa<BlockArgument>(tensor))
      return MemRefType::get(type.getShape(), type.getElementType());
    SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
    strides.back() = 1;
    return MemRefType::get(type.getShape(), type.getElementType(),
                           StridedLayoutAttr::get(type.getContext(),
                                                  ShapedType::kDynamic,
                                                  strides));
  }

private:
  /// @recq_pool_<n>(%storage, %indices[, %offsets][, %weights], %buf,
  /// %slot) -> i1, buffers but the slot: pools the bags into slot %slot of
  /// %buf in place and returns "an index was outside the table". Never
  /// inlined: its callers are one-call wrappers, one per table, and it is
  /// compiled once.
  func::FuncOp build(recq::EmbeddingBagOp bag, const RowReader &like,
                     ArrayRef<Type> inputs) {
    Location loc = bag.getLoc();
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto fn = b.create<func::FuncOp>(
        loc, "recq_pool_" + std::to_string(byKind.size() - 1),
        b.getFunctionType(inputs, {b.getI1Type()}));
    // Private to the module: internal in LLVM (convert-func-to-llvm reads
    // the linkage from this attribute), so the library does not export it.
    fn.setPrivate();
    fn->setAttr("llvm.linkage", LLVM::LinkageAttr::get(
                                    b.getContext(), LLVM::Linkage::Internal));
    fn->setAttr("no_inline", b.getUnitAttr());
    SymbolTable(module).insert(fn); // a unique name, should one clash
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    auto args = entry->getArguments();
    size_t next = 0;
    auto read = [&]() -> Value {
      Value buffer = args[next++];
      auto type = cast<MemRefType>(buffer.getType());
      return b.create<bufferization::ToTensorOp>(
          loc, RankedTensorType::get(type.getShape(), type.getElementType()),
          buffer, /*restrict=*/true, /*writable=*/false);
    };
    Value storage = read(), indices = read();
    Value offsets = bag.getOffsets() ? read() : Value();
    Value weights = bag.getPerSampleWeights() ? read() : Value();
    Value buffer = args[next++], slot = args[next++];
    auto bufferType = cast<MemRefType>(buffer.getType());
    auto destType = RankedTensorType::get(bufferType.getShape(),
                                          bufferType.getElementType());
    Value dest = b.create<bufferization::ToTensorOp>(
        loc, destType, buffer, /*restrict=*/true, /*writable=*/true);
    RowReader reader = RowReader::of(storage, like.dim(), like.rowwise());
    auto [pooled, bad] =
        poolBags(b, loc, &reader, indices, offsets, weights, bag.getMode(),
                 bag.getIncludeLastOffset(), destType, dest, slot);
    auto store = b.create<bufferization::MaterializeInDestinationOp>(
        loc, pooled, buffer);
    store.setRestrict(true);
    store.setWritable(true);
    b.create<func::ReturnOp>(loc, bad);
    return fn;
  }

  ModuleOp module;
  llvm::StringMap<func::FuncOp> byKind;
};

/// A bag lowering: each table it lowers appends its i1 "an index was
/// outside the table" to `statuses`, which the pass returns.
template <typename OpTy>
struct BagLowering : OpRewritePattern<OpTy> {
  BagLowering(MLIRContext *ctx, SmallVectorImpl<Value> &statuses)
      : OpRewritePattern<OpTy>(ctx), statuses(statuses) {}
  SmallVectorImpl<Value> &statuses;
};

struct EmbeddingBagLowering : BagLowering<recq::EmbeddingBagOp> {
  /// `pools` null: no shared functions, every table's loops inline.
  EmbeddingBagLowering(MLIRContext *ctx, SmallVectorImpl<Value> &statuses,
                       std::unique_ptr<PoolFunctions> pools)
      : BagLowering(ctx, statuses), pools(std::move(pools)) {}
  std::unique_ptr<PoolFunctions> pools;

  LogicalResult matchAndRewrite(recq::EmbeddingBagOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<RowReader> reader = RowReader::create(op, op.getTable());
    if (!reader || failed(requireF32(op, op.getType(), "result")))
      return failure();
    // A bag whose only use inserts it into slot t of a [B, T, D] tensor
    // (recq-split-bags' table functions) pools straight into that tensor.
    tensor::InsertSliceOp insert;
    int64_t slot = -1;
    if (op->hasOneUse()) {
      insert = dyn_cast<tensor::InsertSliceOp>(*op->user_begin());
      slot = insert ? slotOf(insert, op.getType()) : -1;
    }
    if (slot >= 0 && pools)
      if (auto store = storedInPlace(insert))
        return callShared(op, *reader, insert, store, slot, rewriter);
    Location loc = op.getLoc();
    Value slotIndex = slot >= 0
                          ? rewriter.create<arith::ConstantIndexOp>(loc, slot)
                          : Value();
    auto [pooled, bad] = poolBags(
        rewriter, loc, &*reader, op.getIndices(), op.getOffsets(),
        op.getPerSampleWeights(), op.getMode(), op.getIncludeLastOffset(),
        slot >= 0 ? insert.getResultType() : op.getType(),
        slot >= 0 ? insert.getDest() : Value(), slotIndex);
    statuses.push_back(bad);
    if (slot >= 0) {
      rewriter.replaceOp(insert, pooled);
      rewriter.eraseOp(op);
    } else {
      rewriter.replaceOp(op, pooled);
    }
    return success();
  }

  /// recq-split-bags' table function: `insert` fills the tensor of a
  /// caller's buffer (`bufferization.to_tensor %buf restrict writable`)
  /// and is stored back in place into %buf, its only use. That store.
  static bufferization::MaterializeInDestinationOp
  storedInPlace(tensor::InsertSliceOp insert) {
    auto view = insert.getDest().getDefiningOp<bufferization::ToTensorOp>();
    if (!view || !view.getRestrict() || !view.getWritable() ||
        !insert->hasOneUse())
      return {};
    auto store = dyn_cast<bufferization::MaterializeInDestinationOp>(
        *insert->user_begin());
    if (!store || store.getSource() != insert.getResult() ||
        store.getDest() != view.getMemref() || !store.getRestrict() ||
        !store.getWritable())
      return {};
    return store;
  }

  /// The table's pooling as a call of the function its kind of table
  /// shares (PoolFunctions): LLVM compiles one loop nest per kind instead
  /// of one per table (26 alike in a DLRM).
  LogicalResult callShared(recq::EmbeddingBagOp op, const RowReader &reader,
                           tensor::InsertSliceOp insert,
                           bufferization::MaterializeInDestinationOp store,
                           int64_t slot, PatternRewriter &rewriter) const {
    Location loc = op.getLoc();
    Value buffer = store.getDest();
    func::FuncOp fn = pools->get(op, reader, buffer);
    rewriter.setInsertionPoint(store);
    // The tensors as the buffers they bufferize to, read only (without a
    // tensor.cast first: MLIR 19's canonicalize rewrites
    // to_memref(tensor.cast) into a to_memref that drops read_only, and a
    // constant table would then be copied on every call; fixed upstream
    // after 19, llvm/llvm-project#150511).
    auto asBuffer = [&](Value tensor, MemRefType type) -> Value {
      auto shaped = cast<RankedTensorType>(tensor.getType());
      auto exact = MemRefType::get(shaped.getShape(), type.getElementType(),
                                   type.getLayout());
      Value buffer = rewriter.create<bufferization::ToMemrefOp>(
          loc, exact, tensor, /*read_only=*/true);
      if (exact != type)
        buffer = rewriter.create<memref::CastOp>(loc, type, buffer);
      return buffer;
    };
    FunctionType type = fn.getFunctionType();
    SmallVector<Value> args{
        asBuffer(reader.storage(), cast<MemRefType>(type.getInput(0)))};
    for (auto [i, v] : llvm::enumerate(PoolFunctions::operandsOf(op)))
      args.push_back(asBuffer(v, cast<MemRefType>(type.getInput(i + 1))));
    args.push_back(buffer);
    args.push_back(rewriter.create<arith::ConstantIndexOp>(loc, slot));
    auto call = rewriter.create<func::CallOp>(loc, fn, args);
    statuses.push_back(call.getResult(0));
    rewriter.eraseOp(store);
    rewriter.eraseOp(insert);
    rewriter.eraseOp(op);
    return success();
  }

  /// t when `insert` puts a whole [B, D] `bag` at [0, t, 0] of a [B, T, D]
  /// tensor (unit strides, sizes [B, 1, D]); else -1.
  static int64_t slotOf(tensor::InsertSliceOp insert, RankedTensorType bag) {
    RankedTensorType dest = insert.getResultType();
    if (insert.getSource().getType() != bag || dest.getRank() != 3 ||
        dest.getDimSize(2) != bag.getDimSize(1) ||
        dest.getDimSize(0) != bag.getDimSize(0) || !insert.hasUnitStride())
      return -1;
    ArrayRef<int64_t> offsets = insert.getStaticOffsets();
    ArrayRef<int64_t> sizes = insert.getStaticSizes();
    if (offsets[0] != 0 || offsets[2] != 0 ||
        ShapedType::isDynamic(offsets[1]) || sizes[1] != 1 ||
        sizes[2] != bag.getDimSize(1))
      return -1;
    // The batch: B of the destination (static, or its dim 0).
    if (!ShapedType::isDynamic(sizes[0]))
      return sizes[0] == dest.getDimSize(0) ? offsets[1] : -1;
    auto dim = insert.getSizes().front().getDefiningOp<tensor::DimOp>();
    std::optional<int64_t> index = dim ? dim.getConstantIndex() : std::nullopt;
    return dim && dim.getSource() == insert.getDest() && index == 0 ? offsets[1]
                                                                    : -1;
  }
};

/// One loop nest per table, all writing their slot of one [B, T, D]
/// tensor (which the interaction reads without a copy).
struct EmbeddingBagsLowering : BagLowering<recq::EmbeddingBagsOp> {
  using BagLowering::BagLowering;

  LogicalResult matchAndRewrite(recq::EmbeddingBagsOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType type = op.getType();
    if (failed(requireF32(op, type, "result")))
      return failure();
    Location loc = op.getLoc();
    // The batch: the first table's bag count.
    Value init;
    if (type.isDynamicDim(0)) {
      Value batch;
      if (op.getOffsets().empty()) {
        batch = rewriter.create<tensor::DimOp>(loc, op.getIndices()[0], 0);
      } else {
        batch = rewriter.create<tensor::DimOp>(loc, op.getOffsets()[0], 0);
        if (op.getIncludeLastOffset())
          batch = rewriter.create<arith::SubIOp>(
              loc, batch, rewriter.create<arith::ConstantIndexOp>(loc, 1));
      }
      init = rewriter.create<tensor::EmptyOp>(loc, type.getShape(),
                                              type.getElementType(),
                                              ValueRange{batch});
    } else {
      init = rewriter.create<tensor::EmptyOp>(loc, type.getShape(),
                                              type.getElementType());
    }
    SmallVector<Value> flags;
    for (auto [t, table] : llvm::enumerate(op.getTables())) {
      Value offsets = op.getOffsets().empty() ? Value() : op.getOffsets()[t];
      Value weights = op.getPerSampleWeights().empty()
                          ? Value()
                          : op.getPerSampleWeights()[t];
      std::optional<RowReader> reader = RowReader::create(op, table);
      if (!reader)
        return failure();
      auto [pooled, bad] =
          poolBags(rewriter, loc, &*reader, op.getIndices()[t], offsets,
                   weights, op.getMode(), op.getIncludeLastOffset(), type, init,
                   rewriter.create<arith::ConstantIndexOp>(loc, t));
      init = pooled;
      flags.push_back(bad);
    }
    llvm::append_range(statuses, flags);
    rewriter.replaceOp(op, init);
    return success();
  }
};

} // namespace

void recq::to_linalg::populateEmbeddingBagLoweringPatterns(
    RewritePatternSet &patterns, SmallVectorImpl<Value> &statuses,
    ModuleOp sharedPools) {
  // The bag pattern owns the functions' cache (built once per pass run).
  patterns.add<EmbeddingBagLowering>(
      patterns.getContext(), statuses,
      sharedPools ? std::make_unique<PoolFunctions>(sharedPools) : nullptr);
  patterns.add<EmbeddingBagsLowering>(patterns.getContext(), statuses);
}
