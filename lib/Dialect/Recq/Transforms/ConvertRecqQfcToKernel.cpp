//===- ConvertRecqQfcToKernel.cpp - recq.qfc to an int8 micro-kernel ------===//
//
// See Passes.td (convert-recq-qfc-to-kernel) for the folded epilogue, the
// packed layouts and the tiles.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/Transforms/Passes.h"

#include "Activation.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Quant/QuantOps.h"
#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>
#include <limits>

namespace recq {
#define GEN_PASS_DEF_CONVERTRECQQFCTOKERNELPASS
#include "recq/Dialect/Recq/Transforms/Passes.h.inc"
} // namespace recq

using namespace mlir;

namespace {

/// How one step of the k loop multiplies and accumulates.
enum class Dot {
  Vnni,        // vpdpbusd: 4 u8 x s8 products per i32 lane
  VnniEmulated, // the same layout and steps, the instruction in plain vector
                // code (tests the VNNI path on CPUs without AVX512-VNNI)
  Widen16,     // vpmaddwd on u16 x s16 pairs: 2 products per i32 lane
  Ubsw,        // vpmaddubsw + vpmaddwd(1): 4 u7 x s8 products per i32 lane,
               // exact only for 7-bit inputs (127 * 128 * 2 < 2^15)
  Plain,       // i32 multiply and add, 1 product per lane
};

struct QTile {
  Dot dot;
  int64_t lanes; // i32 lanes of one accumulator vector
  int64_t nvec;  // accumulator vectors per row: Nr = lanes * nvec
  int64_t mr;    // rows per register tile
  int64_t kg;    // k per step (per i32 lane)
  const char *intrinsic = nullptr;
  const char *intrinsic2 = nullptr; // Ubsw: the pair-summing vpmaddwd
  int64_t nr() const { return lanes * nvec; }
};

std::optional<QTile> qtileFor(StringRef target) {
  if (target == "generic")
    return QTile{Dot::Plain, 4, 2, 4, 1};
  if (target == "avx2")
    return QTile{Dot::Widen16, 8, 2, 6, 2, "llvm.x86.avx2.pmadd.wd"};
  if (target == "avx512")
    return QTile{Dot::Widen16, 16, 2, 8, 2, "llvm.x86.avx512.pmaddw.d.512"};
  if (target == "avx512-vnni")
    return QTile{Dot::Vnni, 16, 2, 8, 4, "llvm.x86.avx512.vpdpbusd.512"};
  if (target == "avx512-vnni-emulated")
    return QTile{Dot::VnniEmulated, 16, 2, 8, 4};
  return std::nullopt;
}

/// The kernel for 7-bit inputs (codes 0..127, --reduce-range) where it is
/// faster than the target's exact 8-bit one: vpmaddubsw cannot saturate.
std::optional<QTile> narrowTileFor(StringRef target) {
  if (target == "avx2")
    return QTile{Dot::Ubsw, 8, 2, 6, 4, "llvm.x86.avx2.pmadd.ub.sw",
                 "llvm.x86.avx2.pmadd.wd"};
  if (target == "avx512")
    return QTile{Dot::Ubsw, 16, 2, 8, 4, "llvm.x86.avx512.pmaddubs.w.512",
                 "llvm.x86.avx512.pmaddw.d.512"};
  return std::nullopt;
}

/// Rows per block of the outer M loop: as many whole register tiles as
/// keep the block's kernel input (u16 pairs, or bytes) within 128 KiB, so
/// it stays in L2 while every column block reads it.
int64_t rowBlock(const QTile &tile, int64_t k) {
  int64_t rowBytes = tile.dot == Dot::Widen16 ? 4 * ((k + 1) / 2) : k;
  int64_t rows = (128 * 1024) / std::max<int64_t>(rowBytes, 1);
  return std::max<int64_t>(tile.mr, rows / tile.mr * tile.mr);
}

/// What the compiler knows about one qfc: quantized weights and the folded
/// per-column epilogue constants (padded to whole column blocks).
struct Folded {
  int64_t n = 0, k = 0;
  std::vector<int8_t> weight; // [n, k]
  std::vector<int32_t> c;
  std::vector<float> mult, add;
};

/// Quantizes the f32 constant behind `recq.quantize` as recq.quantize's
/// lowering does (f32 division by the f32 scale, round half to even,
/// clamp), and folds the epilogue. Fails when the weight or bias is not a
/// compile-time constant.
FailureOr<Folded> fold(recq::QfcOp op, int64_t paddedN) {
  auto quantize = op.getWeight().getDefiningOp<recq::QuantizeOp>();
  DenseElementsAttr weight, bias;
  if (!quantize || !matchPattern(quantize.getInput(), m_Constant(&weight)))
    return failure();
  if (op.getBias() && !matchPattern(op.getBias(), m_Constant(&bias)))
    return failure();
  auto weightType = cast<RankedTensorType>(weight.getType());
  Folded f;
  f.n = weightType.getDimSize(0);
  f.k = weightType.getDimSize(1);

  Type weightElement = op.getWeight().getType().getElementType();
  SmallVector<double> scales;
  if (auto perAxis = dyn_cast<quant::UniformQuantizedPerAxisType>(weightElement))
    scales.assign(perAxis.getScales().begin(), perAxis.getScales().end());
  else
    scales.assign(f.n, cast<quant::UniformQuantizedType>(weightElement).getScale());

  auto values = weight.getValues<float>();
  auto it = values.begin();
  f.weight.resize(f.n * f.k);
  std::vector<int64_t> colSum(f.n, 0);
  for (int64_t row = 0; row < f.n; ++row) {
    float scale = static_cast<float>(scales[row]);
    for (int64_t col = 0; col < f.k; ++col, ++it) {
      float q = std::nearbyint(*it / scale);
      q = std::min(127.0f, std::max(-128.0f, q));
      f.weight[row * f.k + col] = static_cast<int8_t>(q);
      colSum[row] += static_cast<int8_t>(q);
    }
  }

  auto input = cast<quant::UniformQuantizedType>(
      op.getInput().getType().getElementType());
  double sx = input.getScale();
  int64_t zx = input.getZeroPoint();
  auto output = dyn_cast<quant::UniformQuantizedType>(
      op.getType().getElementType());
  bool intBias = bias && bias.getElementType().isInteger(32);
  f.c.assign(paddedN, 0);
  f.mult.assign(paddedN, 0.0f);
  f.add.assign(paddedN, 0.0f);
  for (int64_t col = 0; col < f.n; ++col) {
    double sxw = sx * scales[col];
    int64_t c = -zx * colSum[col];
    double b = 0;
    if (intBias)
      c += bias.getValues<int32_t>()[col];
    else if (bias)
      b = bias.getValues<float>()[col];
    if (output) {
      if (!intBias) {
        double units = std::nearbyint(b / sxw);
        units = std::clamp(units, double(std::numeric_limits<int32_t>::min()),
                           double(std::numeric_limits<int32_t>::max()));
        c += static_cast<int64_t>(units);
      }
      f.mult[col] = static_cast<float>(sxw / output.getScale());
      f.add[col] = static_cast<float>(output.getZeroPoint());
    } else {
      f.mult[col] = static_cast<float>(sxw);
      f.add[col] = static_cast<float>(b);
    }
    f.c[col] = static_cast<int32_t>(std::clamp<int64_t>(
        c, std::numeric_limits<int32_t>::min(),
        std::numeric_limits<int32_t>::max()));
  }
  return f;
}

/// One i32 lane of packed weights: the kg weights `weight(g * kg + i)` of k
/// group `g` as 4 bytes (kg = 4) or 2 x i16 (kg = 2), k ascending from the
/// low bits.
int32_t packLane(const QTile &tile, int64_t g,
                 llvm::function_ref<int32_t(int64_t)> weight) {
  uint32_t lane = 0;
  for (int64_t i = 0; i < tile.kg; ++i) {
    uint32_t w = uint32_t(weight(g * tile.kg + i));
    lane |= tile.kg == 4 ? (w & 0xffu) << (8 * i) : (w & 0xffffu) << (16 * i);
  }
  return static_cast<int32_t>(lane);
}

/// The packed weight of `tile`'s layout (see Passes.td).
DenseElementsAttr pack(const Folded &f, const QTile &tile, MLIRContext *ctx) {
  int64_t nr = tile.nr();
  int64_t blocks = (f.n + nr - 1) / nr;
  int64_t groups = (f.k + tile.kg - 1) / tile.kg;
  auto at = [&](int64_t col, int64_t kk) -> int32_t {
    return col < f.n && kk < f.k ? f.weight[col * f.k + kk] : 0;
  };
  if (tile.dot == Dot::Plain) {
    std::vector<int8_t> packed(blocks * f.k * nr);
    for (int64_t nb = 0; nb < blocks; ++nb)
      for (int64_t kk = 0; kk < f.k; ++kk)
        for (int64_t j = 0; j < nr; ++j)
          packed[(nb * f.k + kk) * nr + j] = at(nb * nr + j, kk);
    return DenseElementsAttr::get(
        RankedTensorType::get({blocks, f.k, nr}, IntegerType::get(ctx, 8)),
        llvm::ArrayRef(packed));
  }
  std::vector<int32_t> packed(blocks * groups * nr);
  for (int64_t nb = 0; nb < blocks; ++nb)
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t j = 0; j < nr; ++j)
        packed[(nb * groups + g) * nr + j] =
            packLane(tile, g, [&](int64_t kk) { return at(nb * nr + j, kk); });
  return DenseElementsAttr::get(
      RankedTensorType::get({blocks, groups, nr}, IntegerType::get(ctx, 32)),
      llvm::ArrayRef(packed));
}

template <typename T>
Value constantVector(OpBuilder &b, Location loc, ArrayRef<T> values, Type element) {
  auto type = RankedTensorType::get({int64_t(values.size())}, element);
  return b.create<arith::ConstantOp>(loc, DenseElementsAttr::get(type, values));
}

/// [M, K] i8 -> [M, width] i8, zero past K.
Value padColumns(OpBuilder &b, Location loc, Value input, int64_t k,
                 int64_t width) {
  Type i8 = b.getI8Type();
  Value m = b.create<tensor::DimOp>(loc, input, 0);
  Value init = b.create<tensor::EmptyOp>(
      loc, ArrayRef<int64_t>{ShapedType::kDynamic, width}, i8, ValueRange{m});
  init = b.create<linalg::FillOp>(
              loc, ValueRange{b.create<arith::ConstantIntOp>(loc, 0, 8)},
              ValueRange{init})
             .getResult(0);
  SmallVector<OpFoldResult> offsets{b.getIndexAttr(0), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes{m, b.getIndexAttr(k)};
  SmallVector<OpFoldResult> strides{b.getIndexAttr(1), b.getIndexAttr(1)};
  return b.create<tensor::InsertSliceOp>(loc, input, init, offsets, sizes,
                                         strides);
}

/// [M, K] u8 (as i8) -> [M, 2 * ceil(K / 2)] i16, zero-extended, with a
/// zero column when K is odd: the u16 pairs vpmaddwd multiplies (one pair
/// is one 32-bit broadcast). Element-wise, so LLVM vectorizes it.
Value widenToU16(OpBuilder &b, Location loc, Value input, int64_t k) {
  MLIRContext *ctx = b.getContext();
  Type i16 = b.getI16Type();
  int64_t width = 2 * ((k + 1) / 2);
  if (width > k)
    input = padColumns(b, loc, input, k, width);
  Value m = b.create<tensor::DimOp>(loc, input, 0);
  auto type = RankedTensorType::get({ShapedType::kDynamic, width}, i16);
  Value init = b.create<tensor::EmptyOp>(loc, type.getShape(), i16, ValueRange{m});
  AffineMap identity = AffineMap::getMultiDimIdentityMap(2, ctx);
  auto generic = b.create<linalg::GenericOp>(
      loc, TypeRange{type}, ValueRange{input}, ValueRange{init},
      ArrayRef<AffineMap>{identity, identity},
      SmallVector<utils::IteratorType>(2, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange args) {
        nb.create<linalg::YieldOp>(
            l, ValueRange{nb.create<arith::ExtUIOp>(l, i16, args[0]).getResult()});
      });
  return generic.getResult(0);
}

/// Up to this many output columns, the kernel runs along K instead
/// (`rowDot`): a column block of Nr lanes would be mostly padding.
constexpr int64_t kRowDotMaxN = 4;

/// Rows per register tile of the K-direction kernel for `n` columns:
/// `rows * n` accumulators + `n` weight vectors fit 16 registers.
int64_t rowDotRows(int64_t n) { return n <= 2 ? 4 : n == 3 ? 3 : 2; }

/// Elements of K (in the kernel's lane units: i32 lanes of kg values, or
/// bytes for Plain) per chunk, and the chunk count with K padded.
int64_t rowDotChunks(const QTile &tile, int64_t k) {
  int64_t groups = (k + tile.kg - 1) / tile.kg;
  return (groups + tile.lanes - 1) / tile.lanes;
}

/// Weights for the K-direction kernel: each column's k groups contiguous,
/// zero-padded to whole chunks: [N, chunks * lanes] x i32 (kg values per
/// lane, as in `pack`) or x i8 (Plain).
DenseElementsAttr packRowDot(const Folded &f, const QTile &tile,
                             MLIRContext *ctx) {
  int64_t width = rowDotChunks(tile, f.k) * tile.lanes;
  auto at = [&](int64_t col, int64_t kk) -> int32_t {
    return kk < f.k ? f.weight[col * f.k + kk] : 0;
  };
  if (tile.dot == Dot::Plain) {
    std::vector<int8_t> packed(f.n * width, 0);
    for (int64_t col = 0; col < f.n; ++col)
      for (int64_t kk = 0; kk < f.k; ++kk)
        packed[col * width + kk] = f.weight[col * f.k + kk];
    return DenseElementsAttr::get(
        RankedTensorType::get({f.n, width}, IntegerType::get(ctx, 8)),
        llvm::ArrayRef(packed));
  }
  std::vector<int32_t> packed(f.n * width, 0);
  for (int64_t col = 0; col < f.n; ++col)
    for (int64_t g = 0; g < width; ++g)
      packed[col * width + g] =
          packLane(tile, g, [&](int64_t kk) { return at(col, kk); });
  return DenseElementsAttr::get(
      RankedTensorType::get({f.n, width}, IntegerType::get(ctx, 32)),
      llvm::ArrayRef(packed));
}

struct QfcToKernel : OpRewritePattern<recq::QfcOp> {
  QfcToKernel(MLIRContext *ctx, QTile tile, std::optional<QTile> narrowTile)
      : OpRewritePattern<recq::QfcOp>(ctx), baseTile(tile),
        narrowTile(narrowTile) {}

  LogicalResult matchAndRewrite(recq::QfcOp op,
                                PatternRewriter &rewriter) const override {
    auto inputQuant = cast<quant::UniformQuantizedType>(
        op.getInput().getType().getElementType());
    const QTile &tile = narrowTile && inputQuant.getStorageTypeMax() <= 127
                            ? *narrowTile
                            : baseTile;
    int64_t nr = tile.nr(), lanes = tile.lanes;
    auto weightType = op.getWeight().getType();
    int64_t n = weightType.getDimSize(0);
    int64_t blocks = (n + nr - 1) / nr;
    FailureOr<Folded> folded = fold(op, blocks * nr);
    if (failed(folded))
      return rewriter.notifyMatchFailure(
          op, "the weight is not recq.quantize of a constant, or the bias is "
              "not a constant");
    auto output = dyn_cast<quant::UniformQuantizedType>(
        op.getType().getElementType());
    if (output && op.getActivation() == recq::Activation::sigmoid)
      return rewriter.notifyMatchFailure(op, "sigmoid needs an f32 result");
    int64_t k = folded->k;

    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type i8 = rewriter.getI8Type(), i32 = rewriter.getI32Type();
    Type f32 = rewriter.getF32Type();
    auto accType = VectorType::get({lanes}, i32);
    auto floatType = VectorType::get({lanes}, f32);
    auto maskType = VectorType::get({lanes}, rewriter.getI1Type());

    // The u8 input as its i8 storage.
    auto inputType = op.getInput().getType();
    Value input = rewriter.create<quant::StorageCastOp>(
        loc, RankedTensorType::get(inputType.getShape(), i8), op.getInput());
    Value wide;
    bool rowDot = n <= kRowDotMaxN;
    int64_t chunks = rowDotChunks(tile, k);
    if (tile.dot == Dot::Widen16 && !rowDot)
      wide = widenToU16(rewriter, loc, input, k);
    // The 4-byte paths read the input 4 k at a time: when K is not a
    // multiple of 4, a zero-padded copy (O(M K), once) beats a masked read
    // of the last group in every tile.
    Value bytesIn = input;
    int64_t kIn = k;
    if (tile.kg == 4 && k % 4 != 0 && !rowDot) {
      kIn = (k + 3) / 4 * 4;
      bytesIn = padColumns(rewriter, loc, input, k, kIn);
    }

    Value packed = rewriter.create<arith::ConstantOp>(
        loc, rowDot ? packRowDot(*folded, tile, ctx) : pack(*folded, tile, ctx));
    Value cVec = constantVector<int32_t>(rewriter, loc, folded->c, i32);
    Value multVec = constantVector<float>(rewriter, loc, folded->mult, f32);
    Value addVec = constantVector<float>(rewriter, loc, folded->add, f32);

    Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
    Value c1 = rewriter.create<arith::ConstantIndexOp>(loc, 1);
    Value cN = rewriter.create<arith::ConstantIndexOp>(loc, n);
    Value cMr = rewriter.create<arith::ConstantIndexOp>(loc, tile.mr);
    Value cNr = rewriter.create<arith::ConstantIndexOp>(loc, nr);
    Value cBlocks = rewriter.create<arith::ConstantIndexOp>(loc, blocks);
    int64_t fullGroups =
        tile.dot == Dot::Widen16 ? (k + 1) / 2 : kIn / tile.kg;
    Value cGroups = rewriter.create<arith::ConstantIndexOp>(loc, fullGroups);
    Value m = rewriter.create<tensor::DimOp>(loc, input, 0);

    Type outElement = output ? i8 : f32;
    auto outType = RankedTensorType::get(op.getType().getShape(), outElement);
    SmallVector<Value> dyn;
    if (outType.isDynamicDim(0))
      dyn.push_back(m);
    Value init = rewriter.create<tensor::EmptyOp>(loc, outType.getShape(),
                                                  outElement, dyn);
    Value zeroAcc = rewriter.create<arith::ConstantOp>(loc, rewriter.getZeroAttr(accType));
    Value i8Pad = rewriter.create<arith::ConstantIntOp>(loc, 0, 8);
    Value i32Pad = rewriter.create<arith::ConstantIntOp>(loc, 0, 32);
    Value f32Pad = rewriter.create<arith::ConstantOp>(loc, rewriter.getF32FloatAttr(0));
    AffineMap rowMap = AffineMap::getMinorIdentityMap(2, 1, ctx);
    bool needMask = n % nr != 0;
    recq::Activation act = op.getActivation();
    float lo = 0, hi = 0;
    if (output) {
      lo = act == recq::Activation::relu
               ? float(std::max<int64_t>(output.getZeroPoint(),
                                         output.getStorageTypeMin()))
               : float(output.getStorageTypeMin());
      hi = float(output.getStorageTypeMax());
    }

    // The input of row `row` at k group `g`, broadcast to one accumulator
    // vector's lanes (the Plain path: one element as i32).
    auto broadcastInput = [&](OpBuilder &b, Location l, Value row,
                              Value g) -> Value {
      switch (tile.dot) {
      case Dot::Plain: {
        Value x = b.create<tensor::ExtractOp>(l, input, ValueRange{row, g});
        return b.create<vector::BroadcastOp>(l, accType,
                                             b.create<arith::ExtUIOp>(l, i32, x));
      }
      case Dot::Widen16: {
        Value k0 = b.create<arith::MulIOp>(
            l, g, b.create<arith::ConstantIndexOp>(l, 2));
        Value pair = b.create<vector::TransferReadOp>(
            l, VectorType::get({2}, b.getI16Type()), wide, ValueRange{row, k0},
            b.create<arith::ConstantIntOp>(l, 0, 16), ArrayRef<bool>{true});
        Value word = b.create<vector::BitCastOp>(l, VectorType::get({1}, i32), pair);
        Value x = b.create<vector::ExtractOp>(l, word, ArrayRef<int64_t>{0});
        return b.create<vector::BroadcastOp>(l, accType, x);
      }
      case Dot::Vnni:
      case Dot::VnniEmulated:
      case Dot::Ubsw: {
        Value k0 = b.create<arith::MulIOp>(
            l, g, b.create<arith::ConstantIndexOp>(l, 4));
        Value bytes = b.create<vector::TransferReadOp>(
            l, VectorType::get({4}, i8), bytesIn, ValueRange{row, k0}, i8Pad,
            ArrayRef<bool>{true});
        Value word = b.create<vector::BitCastOp>(l, VectorType::get({1}, i32), bytes);
        Value x = b.create<vector::ExtractOp>(l, word, ArrayRef<int64_t>{0});
        return b.create<vector::BroadcastOp>(l, accType, x);
      }
      }
      llvm_unreachable("dot kind");
    };

    // The weights of column vector `v` of block `nb` at k group `g`.
    auto loadWeights = [&](OpBuilder &b, Location l, Value nb, Value g,
                           int64_t v) -> Value {
      Value col = b.create<arith::ConstantIndexOp>(l, v * lanes);
      if (tile.dot == Dot::Plain) {
        Value w = b.create<vector::TransferReadOp>(
            l, VectorType::get({lanes}, i8), packed, ValueRange{nb, g, col},
            i8Pad, ArrayRef<bool>{true});
        return b.create<arith::ExtSIOp>(l, accType, w);
      }
      return b.create<vector::TransferReadOp>(l, accType, packed,
                                              ValueRange{nb, g, col}, i32Pad,
                                              ArrayRef<bool>{true});
    };

    // acc + dot(x, w) per lane.
    auto multiplyAdd = [&](OpBuilder &b, Location l, Value acc, Value x,
                           Value w) -> Value {
      switch (tile.dot) {
      case Dot::Plain:
        return b.create<arith::AddIOp>(l, acc, b.create<arith::MulIOp>(l, x, w));
      case Dot::Widen16: {
        auto pairs = VectorType::get({2 * lanes}, b.getI16Type());
        Value xs = b.create<vector::BitCastOp>(l, pairs, x);
        Value ws = b.create<vector::BitCastOp>(l, pairs, w);
        Value sum = b.create<recq::PureIntrinsicOp>(
            l, accType, b.getStringAttr(tile.intrinsic), ValueRange{xs, ws});
        return b.create<arith::AddIOp>(l, acc, sum);
      }
      case Dot::Ubsw: {
        auto bytes = VectorType::get({4 * lanes}, i8);
        auto pairs = VectorType::get({2 * lanes}, b.getI16Type());
        Value xs = b.create<vector::BitCastOp>(l, bytes, x);
        Value ws = b.create<vector::BitCastOp>(l, bytes, w);
        Value sums = b.create<recq::PureIntrinsicOp>(
            l, pairs, b.getStringAttr(tile.intrinsic), ValueRange{xs, ws});
        Value ones = b.create<arith::ConstantOp>(
            l, DenseElementsAttr::get(pairs, b.getI16IntegerAttr(1).getValue()));
        Value quads = b.create<recq::PureIntrinsicOp>(
            l, accType, b.getStringAttr(tile.intrinsic2), ValueRange{sums, ones});
        return b.create<arith::AddIOp>(l, acc, quads);
      }
      case Dot::Vnni:
        return b.create<recq::PureIntrinsicOp>(
            l, accType, b.getStringAttr(tile.intrinsic), ValueRange{acc, x, w});
      case Dot::VnniEmulated: {
        // Per lane: sum over its 4 bytes of u8(x) * s8(w), no saturation.
        auto bytes = VectorType::get({4 * lanes}, i8);
        auto wide = VectorType::get({4 * lanes}, i32);
        Value xs = b.create<arith::ExtUIOp>(
            l, wide, b.create<vector::BitCastOp>(l, bytes, x));
        Value ws = b.create<arith::ExtSIOp>(
            l, wide, b.create<vector::BitCastOp>(l, bytes, w));
        Value products = b.create<arith::MulIOp>(l, xs, ws);
        Value sum = acc;
        for (int64_t j = 0; j < 4; ++j) {
          SmallVector<int64_t> pick;
          for (int64_t lane = 0; lane < lanes; ++lane)
            pick.push_back(4 * lane + j);
          sum = b.create<arith::AddIOp>(
              l, sum,
              b.create<vector::ShuffleOp>(l, products, products, pick));
        }
        return sum;
      }
      }
      llvm_unreachable("dot kind");
    };

    // Rows [m0, m0 + rows) of column block nb, into `out`.
    auto kernel = [&](OpBuilder &b, Location l, Value nb, Value n0,
                      ArrayRef<Value> masks, Value m0, int64_t rows,
                      Value out) -> Value {
      SmallVector<Value> rowIdx;
      for (int64_t i = 0; i < rows; ++i)
        rowIdx.push_back(
            i == 0 ? m0
                   : b.create<arith::AddIOp>(
                          l, m0, b.create<arith::ConstantIndexOp>(l, i))
                         .getResult());
      auto step = [&](OpBuilder &sb, Location sl, Value g, ValueRange acc) {
        SmallVector<Value> w;
        for (int64_t v = 0; v < tile.nvec; ++v)
          w.push_back(loadWeights(sb, sl, nb, g, v));
        SmallVector<Value> next;
        for (int64_t i = 0; i < rows; ++i) {
          Value x = broadcastInput(sb, sl, rowIdx[i], g);
          for (int64_t v = 0; v < tile.nvec; ++v)
            next.push_back(multiplyAdd(sb, sl, acc[i * tile.nvec + v], x, w[v]));
        }
        return next;
      };
      SmallVector<Value> inits(rows * tile.nvec, zeroAcc);
      auto kLoop = b.create<scf::ForOp>(
          l, c0, cGroups, c1, inits,
          [&](OpBuilder &kb, Location kl, Value g, ValueRange acc) {
            kb.create<scf::YieldOp>(kl, step(kb, kl, g, acc));
          });
      SmallVector<Value> acc(kLoop.getResults());

      for (int64_t v = 0; v < tile.nvec; ++v) {
        Value col = b.create<arith::AddIOp>(
            l, n0, b.create<arith::ConstantIndexOp>(l, v * lanes));
        Value cv = b.create<vector::TransferReadOp>(l, accType, cVec, ValueRange{col},
                                                    i32Pad, ArrayRef<bool>{true});
        Value mult = b.create<vector::TransferReadOp>(
            l, floatType, multVec, ValueRange{col}, f32Pad, ArrayRef<bool>{true});
        Value add = b.create<vector::TransferReadOp>(
            l, floatType, addVec, ValueRange{col}, f32Pad, ArrayRef<bool>{true});
        for (int64_t i = 0; i < rows; ++i) {
          Value t = b.create<arith::AddIOp>(l, acc[i * tile.nvec + v], cv);
          // math.fma is fused on every target (vector.fma may be split
          // into a multiply and an add where there is no FMA unit), so
          // the result is the same everywhere.
          Value y = b.create<math::FmaOp>(
              l, b.create<arith::SIToFPOp>(l, floatType, t), mult, add);
          if (output) {
            y = b.create<math::RoundEvenOp>(l, y);
            y = b.create<arith::MaximumFOp>(
                l, y,
                b.create<arith::ConstantOp>(
                    l, DenseElementsAttr::get(floatType, lo)));
            y = b.create<arith::MinimumFOp>(
                l, y,
                b.create<arith::ConstantOp>(
                    l, DenseElementsAttr::get(floatType, hi)));
            y = b.create<arith::TruncIOp>(
                l, VectorType::get({lanes}, i8),
                b.create<arith::FPToSIOp>(l, accType, y));
          } else {
            y = recq::buildActivation(b, l, y, act);
          }
          out = b.create<vector::TransferWriteOp>(
                     l, y, out, ValueRange{rowIdx[i], col},
                     AffineMapAttr::get(rowMap), masks[v],
                     b.getBoolArrayAttr({true}))
                    .getResult();
        }
      }
      return out;
    };

    // Column masks of block nb (only when Nr does not divide N).
    auto columnMasks = [&](OpBuilder &b, Location l, Value n0) {
      SmallVector<Value> masks(tile.nvec, Value());
      if (!needMask)
        return masks;
      // Lanes left in column vector v: clamp(N - n0 - v * lanes, 0, lanes).
      for (int64_t v = 0; v < tile.nvec; ++v) {
        Value start = b.create<arith::AddIOp>(
            l, n0, b.create<arith::ConstantIndexOp>(l, v * lanes));
        Value left = b.create<arith::SubIOp>(
            l, b.create<arith::MaxUIOp>(l, cN, start), start);
        left = b.create<arith::MinUIOp>(
            l, left, b.create<arith::ConstantIndexOp>(l, lanes));
        masks[v] = b.create<vector::CreateMaskOp>(l, maskType, ValueRange{left});
      }
      return masks;
    };

    if (rowDot) {
      // Few columns: per tile of rows, one vector accumulator per (row,
      // column) runs along K; each is reduced to its output at the end.
      // The input is read in chunks of kg * lanes bytes, the last one
      // under a mask; the 16-bit path widens the chunk in registers.
      int64_t chunkBytes = tile.kg * lanes;
      int64_t fullChunks = k / chunkBytes;
      bool tail = fullChunks < chunks;
      auto loadInput = [&](OpBuilder &b, Location l, Value row, Value c,
                           bool masked) -> Value {
        Value col = b.create<arith::MulIOp>(
            l, c, b.create<arith::ConstantIndexOp>(l, chunkBytes));
        Value bytes = b.create<vector::TransferReadOp>(
            l, VectorType::get({chunkBytes}, i8), input, ValueRange{row, col},
            i8Pad, ArrayRef<bool>{!masked});
        if (tile.dot == Dot::Plain)
          return b.create<arith::ExtUIOp>(l, accType, bytes);
        if (tile.dot == Dot::Widen16)
          bytes = b.create<arith::ExtUIOp>(
              l, VectorType::get({chunkBytes}, b.getI16Type()), bytes);
        return b.create<vector::BitCastOp>(l, accType, bytes);
      };
      auto loadColumn = [&](OpBuilder &b, Location l, int64_t j, Value c) -> Value {
        Value col = b.create<arith::MulIOp>(
            l, c, b.create<arith::ConstantIndexOp>(l, lanes));
        Value cj = b.create<arith::ConstantIndexOp>(l, j);
        if (tile.dot == Dot::Plain)
          return b.create<arith::ExtSIOp>(
              l, accType,
              b.create<vector::TransferReadOp>(l, VectorType::get({lanes}, i8),
                                               packed, ValueRange{cj, col}, i8Pad,
                                               ArrayRef<bool>{true}));
        return b.create<vector::TransferReadOp>(l, accType, packed,
                                                ValueRange{cj, col}, i32Pad,
                                                ArrayRef<bool>{true});
      };
      auto dotKernel = [&](OpBuilder &b, Location l, Value m0, int64_t rows,
                           Value out) -> Value {
        SmallVector<Value> rowIdx;
        for (int64_t i = 0; i < rows; ++i)
          rowIdx.push_back(i == 0 ? m0
                                  : b.create<arith::AddIOp>(
                                         l, m0, b.create<arith::ConstantIndexOp>(l, i))
                                        .getResult());
        auto step = [&](OpBuilder &sb, Location sl, Value c, ValueRange acc,
                        bool masked) {
          SmallVector<Value> w;
          for (int64_t j = 0; j < n; ++j)
            w.push_back(loadColumn(sb, sl, j, c));
          SmallVector<Value> next;
          for (int64_t i = 0; i < rows; ++i) {
            Value x = loadInput(sb, sl, rowIdx[i], c, masked);
            for (int64_t j = 0; j < n; ++j)
              next.push_back(multiplyAdd(sb, sl, acc[i * n + j], x, w[j]));
          }
          return next;
        };
        SmallVector<Value> inits(rows * n, zeroAcc);
        auto kLoop = b.create<scf::ForOp>(
            l, c0, b.create<arith::ConstantIndexOp>(l, fullChunks), c1, inits,
            [&](OpBuilder &kb, Location kl, Value c, ValueRange acc) {
              kb.create<scf::YieldOp>(kl, step(kb, kl, c, acc, false));
            });
        SmallVector<Value> acc(kLoop.getResults());
        if (tail)
          acc = step(b, l, b.create<arith::ConstantIndexOp>(l, fullChunks), acc,
                     true);
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < n; ++j) {
            Value sum = b.create<vector::ReductionOp>(
                l, vector::CombiningKind::ADD, acc[i * n + j]);
            Value t = b.create<arith::AddIOp>(
                l, sum, b.create<arith::ConstantIntOp>(l, folded->c[j], 32));
            Value y = b.create<math::FmaOp>(
                l, b.create<arith::SIToFPOp>(l, f32, t),
                b.create<arith::ConstantOp>(l, b.getF32FloatAttr(folded->mult[j])),
                b.create<arith::ConstantOp>(l, b.getF32FloatAttr(folded->add[j])));
            if (output) {
              y = b.create<math::RoundEvenOp>(l, y);
              y = b.create<arith::MaximumFOp>(
                  l, y, b.create<arith::ConstantOp>(l, b.getF32FloatAttr(lo)));
              y = b.create<arith::MinimumFOp>(
                  l, y, b.create<arith::ConstantOp>(l, b.getF32FloatAttr(hi)));
              y = b.create<arith::TruncIOp>(
                  l, i8, b.create<arith::FPToSIOp>(l, i32, y));
            } else {
              y = recq::buildActivation(b, l, y, act);
            }
            out = b.create<tensor::InsertOp>(
                l, y, out,
                ValueRange{rowIdx[i], b.create<arith::ConstantIndexOp>(l, j)});
          }
        return out;
      };
      int64_t rowsPerTile = rowDotRows(n);
      Value cR = rewriter.create<arith::ConstantIndexOp>(loc, rowsPerTile);
      Value mFull = rewriter.create<arith::SubIOp>(
          loc, m, rewriter.create<arith::RemUIOp>(loc, m, cR));
      auto full = rewriter.create<scf::ForOp>(
          loc, c0, mFull, cR, ValueRange{init},
          [&](OpBuilder &b, Location l, Value m0, ValueRange o) {
            b.create<scf::YieldOp>(l, dotKernel(b, l, m0, rowsPerTile, o[0]));
          });
      auto rest = rewriter.create<scf::ForOp>(
          loc, mFull, m, c1, full.getResults(),
          [&](OpBuilder &b, Location l, Value m0, ValueRange o) {
            b.create<scf::YieldOp>(l, dotKernel(b, l, m0, 1, o[0]));
          });
      Value result = rest.getResult(0);
      if (output)
        result = rewriter.create<quant::StorageCastOp>(loc, op.getType(), result);
      rewriter.replaceOp(op, result);
      return success();
    }

    // Blocks of Mc rows (outer) keep the rows' input in L2 while every
    // column block passes over them; within a block, column blocks, then
    // tiles of Mr rows, then single rows.
    int64_t mc = rowBlock(tile, k);
    Value cMc = rewriter.create<arith::ConstantIndexOp>(loc, mc);
    auto rowBlocks = rewriter.create<scf::ForOp>(
        loc, c0, m, cMc, ValueRange{init},
        [&](OpBuilder &b, Location l, Value mb, ValueRange outs) {
          Value mEnd = b.create<arith::MinUIOp>(
              l, b.create<arith::AddIOp>(l, mb, cMc), m);
          Value rows = b.create<arith::SubIOp>(l, mEnd, mb);
          Value mFull = b.create<arith::SubIOp>(
              l, mEnd, b.create<arith::RemUIOp>(l, rows, cMr));
          auto blockLoop = b.create<scf::ForOp>(
              l, c0, cBlocks, c1, outs,
              [&](OpBuilder &bb, Location bl, Value nb, ValueRange o) {
                Value n0 = bb.create<arith::MulIOp>(bl, nb, cNr);
                SmallVector<Value> masks = columnMasks(bb, bl, n0);
                auto full = bb.create<scf::ForOp>(
                    bl, mb, mFull, cMr, o,
                    [&](OpBuilder &fb, Location fl, Value m0, ValueRange fo) {
                      fb.create<scf::YieldOp>(
                          fl, kernel(fb, fl, nb, n0, masks, m0, tile.mr, fo[0]));
                    });
                auto rest = bb.create<scf::ForOp>(
                    bl, mFull, mEnd, c1, full.getResults(),
                    [&](OpBuilder &rb, Location rl, Value m0, ValueRange ro) {
                      rb.create<scf::YieldOp>(
                          rl, kernel(rb, rl, nb, n0, masks, m0, 1, ro[0]));
                    });
                bb.create<scf::YieldOp>(bl, rest.getResults());
              });
          b.create<scf::YieldOp>(l, blockLoop.getResults());
        });
    Value result = rowBlocks.getResult(0);
    if (output)
      result = rewriter.create<quant::StorageCastOp>(loc, op.getType(), result);
    rewriter.replaceOp(op, result);
    return success();
  }

  QTile baseTile;
  std::optional<QTile> narrowTile;
};

struct ConvertRecqQfcToKernelPass
    : recq::impl::ConvertRecqQfcToKernelPassBase<ConvertRecqQfcToKernelPass> {
  using Base::Base;
  void runOnOperation() override {
    std::optional<QTile> tile = qtileFor(target);
    if (!tile) {
      getOperation().emitError()
          << "convert-recq-qfc-to-kernel: unknown target '" << target << "'";
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<QfcToKernel>(&getContext(), *tile, narrowTileFor(target));
    GreedyRewriteConfig config;
    config.strictMode = GreedyRewriteStrictness::ExistingOps;
    (void)applyPatternsAndFoldGreedily(getOperation(), std::move(patterns),
                                       config);
    // What could not be lowered is an error, not left for later passes.
    WalkResult left = getOperation().walk([](recq::QfcOp op) {
      op.emitOpError() << "cannot be lowered to a kernel: the weight must be "
                          "recq.quantize of a constant and the bias a "
                          "constant; a sigmoid needs an f32 result";
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
