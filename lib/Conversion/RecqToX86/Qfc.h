//===- Qfc.h - the int8 FC kernel's tiles and packed weights ----*- C++ -*-===//
//
// Private to lib/Conversion/RecqToX86: what convert-recq-qfc-to-kernel
// decides at compile time (the register tile and instruction per target,
// the folded epilogue constants, the packed weight layouts; QfcPacking.cpp)
// and the kernel that emits the loops (QfcKernel.cpp) reads.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_LIB_CONVERSION_RECQTOX86_QFC_H
#define RECQ_LIB_CONVERSION_RECQTOX86_QFC_H

#include "recq/Dialect/Recq/IR/RecqDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Support/LogicalResult.h"

#include <optional>
#include <vector>

namespace recq::x86 {

/// How one step of the k loop multiplies and accumulates.
enum class Dot {
  Vnni,         // vpdpbusd: 4 u8 x s8 products per i32 lane
  VnniEmulated, // the same layout and steps, the instruction in plain vector
                // code (tests the VNNI path on CPUs without AVX512-VNNI)
  Widen16,      // vpmaddwd on u16 x s16 pairs: 2 products per i32 lane
  Ubsw,         // vpmaddubsw + vpmaddwd(1): 4 u7 x s8 products per i32 lane,
                // exact only for 7-bit inputs (127 * 128 * 2 < 2^15)
  Plain,        // i32 multiply and add, 1 product per lane
};

/// Whether whole blocks of rows run on AMX tiles (see Amx.h).
enum class Amx {
  None,
  Native,   // tdpbusd
  Emulated, // the same code calling the runtime's C model of the tiles
};

struct QTile {
  Dot dot;
  int64_t lanes; // i32 lanes of one accumulator vector
  int64_t nvec;  // accumulator vectors per row: Nr = lanes * nvec
  int64_t mr;    // rows per register tile
  int64_t kg;    // k per step (per i32 lane)
  const char *intrinsic = nullptr;
  const char *intrinsic2 = nullptr; // Ubsw: the pair-summing vpmaddwd
  /// With AMX, blocks of kAmxRows rows run on tiles and the rest on this
  /// register tile; the input's K is padded to whole tile rows (kAmxK).
  Amx amx = Amx::None;
  int64_t nr() const { return lanes * nvec; }
};

/// The register tile of `target` (amx: VNNI's, with amx set).
std::optional<QTile> qtileFor(llvm::StringRef target);

/// The kernel for 7-bit inputs (codes 0..127, --reduce-range) where it is
/// faster than the target's exact 8-bit one: vpmaddubsw cannot saturate.
std::optional<QTile> narrowTileFor(llvm::StringRef target);

/// Rows per block of the outer M loop: as many whole register tiles as
/// keep the block's kernel input (u16 pairs, or bytes) within 128 KiB, so
/// it stays in L2 while every column block reads it.
int64_t rowBlock(const QTile &tile, int64_t k);

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
mlir::FailureOr<Folded> fold(recq::QfcOp op, int64_t paddedN);

/// The packed weight of `tile`'s layout (see Passes.td); VNNI's (and so
/// AMX's) k groups are padded with zeros to a multiple of kAmxGroups, so
/// the amx and avx512-vnni variants share it.
mlir::DenseElementsAttr pack(const Folded &f, const QTile &tile,
                             mlir::MLIRContext *ctx);

/// Up to this many output columns, the kernel runs along K instead
/// (`rowDot`): a column block of Nr lanes would be mostly padding.
inline constexpr int64_t kRowDotMaxN = 4;

/// Rows per register tile of the K-direction kernel for `n` columns:
/// `rows * n` accumulators + `n` weight vectors fit 16 registers.
inline int64_t rowDotRows(int64_t n) { return n <= 2 ? 4 : n == 3 ? 3 : 2; }

/// Elements of K (in the kernel's lane units: i32 lanes of kg values, or
/// bytes for Plain) per chunk, and the chunk count with K padded.
int64_t rowDotChunks(const QTile &tile, int64_t k);

/// Weights for the K-direction kernel: each column's k groups contiguous,
/// zero-padded to whole chunks: [N, chunks * lanes] x i32 (kg values per
/// lane, as in `pack`) or x i8 (Plain).
mlir::DenseElementsAttr packRowDot(const Folded &f, const QTile &tile,
                                   mlir::MLIRContext *ctx);

} // namespace recq::x86

#endif // RECQ_LIB_CONVERSION_RECQTOX86_QFC_H
