//===- QfcPacking.cpp - the int8 FC's tiles, epilogue and packing ---------===//
//
// See Passes.td (convert-recq-qfc-to-kernel) for the folded epilogue and
// the packed layouts, and Qfc.h.
//
//===----------------------------------------------------------------------===//

#include "Qfc.h"

#include "Amx.h"

#include "mlir/Dialect/Quant/QuantTypes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Matchers.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace recq::x86;

std::optional<QTile> recq::x86::qtileFor(StringRef target) {
  if (target == "generic")
    return QTile{Dot::Plain, 4, 2, 4, 1};
  if (target == "avx2")
    return QTile{Dot::Widen16, 8, 2, 6, 2, "llvm.x86.avx2.pmadd.wd"};
  if (target == "avx512")
    return QTile{Dot::Widen16, 16, 2, 8, 2, "llvm.x86.avx512.pmaddw.d.512"};
  if (target == "avx512-vnni" || target == "avx512-bf16")
    return QTile{Dot::Vnni, 16, 2, 8, 4, "llvm.x86.avx512.vpdpbusd.512"};
  if (target == "avx512-vnni-emulated")
    return QTile{Dot::VnniEmulated, 16, 2, 8, 4};
  // AMX's B tile is 16 k groups x 16 columns of 4 bytes: the VNNI layout,
  // so the rows AMX does not take run on VNNI over the same weights.
  if (target == "amx") {
    QTile tile{Dot::Vnni, 16, 2, 8, 4, "llvm.x86.avx512.vpdpbusd.512"};
    tile.amx = Amx::Native;
    return tile;
  }
  if (target == "amx-emulated") {
    QTile tile{Dot::VnniEmulated, 16, 2, 8, 4};
    tile.amx = Amx::Emulated;
    return tile;
  }
  return std::nullopt;
}

/// The kernel for 7-bit inputs (codes 0..127, --reduce-range) where it is
/// faster than the target's exact 8-bit one: vpmaddubsw cannot saturate.
std::optional<QTile> recq::x86::narrowTileFor(StringRef target) {
  if (target == "avx2")
    return QTile{Dot::Ubsw,
                 8,
                 2,
                 6,
                 4,
                 "llvm.x86.avx2.pmadd.ub.sw",
                 "llvm.x86.avx2.pmadd.wd"};
  if (target == "avx512")
    return QTile{Dot::Ubsw,
                 16,
                 2,
                 8,
                 4,
                 "llvm.x86.avx512.pmaddubs.w.512",
                 "llvm.x86.avx512.pmaddw.d.512"};
  return std::nullopt;
}

/// Rows per block of the outer M loop: as many whole register tiles as
/// keep the block's kernel input (u16 pairs, or bytes) within 128 KiB, so
/// it stays in L2 while every column block reads it.
int64_t recq::x86::rowBlock(const QTile &tile, int64_t k) {
  int64_t rowBytes = tile.dot == Dot::Widen16 ? 4 * ((k + 1) / 2) : k;
  int64_t rows = (128 * 1024) / std::max<int64_t>(rowBytes, 1);
  return std::max<int64_t>(tile.mr, rows / tile.mr * tile.mr);
}

/// Quantizes the f32 constant behind `recq.quantize` as recq.quantize's
/// lowering does (f32 division by the f32 scale, round half to even,
/// clamp), and folds the epilogue. Fails when the weight or bias is not a
/// compile-time constant.
FailureOr<Folded> recq::x86::fold(recq::QfcOp op, int64_t paddedN) {
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
  if (auto perAxis =
          dyn_cast<quant::UniformQuantizedPerAxisType>(weightElement))
    scales.assign(perAxis.getScales().begin(), perAxis.getScales().end());
  else
    scales.assign(f.n,
                  cast<quant::UniformQuantizedType>(weightElement).getScale());

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
  auto output =
      dyn_cast<quant::UniformQuantizedType>(op.getType().getElementType());
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
    f.c[col] = static_cast<int32_t>(
        std::clamp<int64_t>(c, std::numeric_limits<int32_t>::min(),
                            std::numeric_limits<int32_t>::max()));
  }
  return f;
}

/// One i32 lane of packed weights: the kg weights `weight(g * kg + i)` of k
/// group `g` as 4 bytes (kg = 4) or 2 x i16 (kg = 2), k ascending from the
/// low bits.
static int32_t packLane(const QTile &tile, int64_t g,
                        llvm::function_ref<int32_t(int64_t)> weight) {
  uint32_t lane = 0;
  for (int64_t i = 0; i < tile.kg; ++i) {
    uint32_t w = uint32_t(weight(g * tile.kg + i));
    lane |= tile.kg == 4 ? (w & 0xffu) << (8 * i) : (w & 0xffffu) << (16 * i);
  }
  return static_cast<int32_t>(lane);
}

/// The packed weight of `tile`'s layout (see Passes.td).
DenseElementsAttr recq::x86::pack(const Folded &f, const QTile &tile,
                                  MLIRContext *ctx) {
  int64_t nr = tile.nr();
  int64_t blocks = (f.n + nr - 1) / nr;
  int64_t groups = (f.k + tile.kg - 1) / tile.kg;
  // Whole AMX weight tiles; the VNNI kernels take the same layout (they
  // stop at the last real group), so a library's amx and avx512-vnni
  // variants store one copy of each weight (ConstantMerge).
  if (tile.dot == Dot::Vnni || tile.dot == Dot::VnniEmulated)
    groups = (groups + kAmxGroups - 1) / kAmxGroups * kAmxGroups;
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
  if (tile.dot == Dot::Widen16) {
    // Stored as bytes, widened to the i16 pairs as they are loaded: half
    // the memory of the pairs themselves.
    std::vector<int8_t> packed(blocks * groups * 2 * nr);
    for (int64_t nb = 0; nb < blocks; ++nb)
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t j = 0; j < nr; ++j)
          for (int64_t t = 0; t < 2; ++t)
            packed[((nb * groups + g) * nr + j) * 2 + t] =
                at(nb * nr + j, 2 * g + t);
    return DenseElementsAttr::get(
        RankedTensorType::get({blocks, groups, 2 * nr},
                              IntegerType::get(ctx, 8)),
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

/// Elements of K (in the kernel's lane units: i32 lanes of kg values, or
/// bytes for Plain) per chunk, and the chunk count with K padded.
int64_t recq::x86::rowDotChunks(const QTile &tile, int64_t k) {
  int64_t groups = (k + tile.kg - 1) / tile.kg;
  return (groups + tile.lanes - 1) / tile.lanes;
}

/// Weights for the K-direction kernel: each column's k groups contiguous,
/// zero-padded to whole chunks: [N, chunks * lanes] x i32 (kg values per
/// lane, as in `pack`) or x i8 (Plain).
DenseElementsAttr recq::x86::packRowDot(const Folded &f, const QTile &tile,
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
