//===- Amx.h - the FC kernels' AMX tiles ------------------------*- C++ -*-===//
//
// Private to lib/Conversion/RecqToX86. On AMX, the int8 and bf16 FC
// kernels compute blocks of 32 rows x 32 columns in four 32-bit sum tiles
// (tmm0..3), two input tiles of 16 rows x 64 bytes (tmm4, tmm5) and two
// weight tiles of 16 k groups x 16 columns x 4 bytes (tmm6, tmm7): four
// dot products per 64 bytes of K (tdpbusd: 64 k of u8 x s8 in i32;
// tdpbf16ps: 32 k of bf16 pairs in f32). The sums go to a 32 x 32 buffer
// on the stack, from which the kernel's epilogue reads them. Every tile
// is 16 rows x 64 bytes, so one configuration serves every kernel.
//
// The tile instructions are recq.intrinsic ops: the instruction itself, or
// (amx-emulated) a call of the runtime's C model of it, so the same loops
// run, and are tested, on CPUs without AMX.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_LIB_CONVERSION_RECQTOX86_AMX_H
#define RECQ_LIB_CONVERSION_RECQTOX86_AMX_H

#include "Qfc.h"

#include "mlir/IR/Builders.h"

namespace recq::x86 {

/// Rows and columns of one block of four int32 tiles.
inline constexpr int64_t kAmxRows = 32, kAmxCols = 32;
/// k groups (of 4 bytes) per tile row step: 64 bytes of K.
inline constexpr int64_t kAmxGroups = 16;
inline constexpr int64_t kAmxK = 4 * kAmxGroups;

/// The tiles' dot product: tdpbusd (u8 x s8 groups of 4, i32 sums) or
/// tdpbf16ps (bf16 pairs, f32 sums).
enum class TileDot { Int8, Bf16 };

/// Emits the tile instructions, native or as calls of the C model.
class AmxTiles {
public:
  AmxTiles(Amx kind, TileDot dot) : kind(kind), dot(dot) {}
  /// ldtilecfg from `config` (a memref<64xi8>, see tileConfig).
  void configure(mlir::OpBuilder &b, mlir::Location loc,
                 mlir::Value config) const;
  /// tilerelease.
  void release(mlir::OpBuilder &b, mlir::Location loc) const;
  /// Accumulates rows [m0, m0 + 32) of `input` (a [M, K'] tensor of K'
  /// a multiple of 64 bytes: i8, or bf16 as i16) times column block `nb`
  /// of `packed` ([blocks, groups, 128 bytes]: the VNNI layout's i32 x 32,
  /// or bf16 pairs x 32; groups a multiple of 16) over `kSteps` steps of
  /// 64 bytes, and stores the 32 x 32 sums in `sums` (blockSums).
  void block(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input,
             mlir::Value packed, mlir::Value sums, mlir::Value m0,
             mlir::Value nb, int64_t kSteps) const;

private:
  void emit(mlir::OpBuilder &b, mlir::Location loc, llvm::StringRef name,
            mlir::ValueRange args) const;
  Amx kind;
  TileDot dot;
};

/// A memref<64xi8> at the entry of the function around `at` holding the
/// palette-1 configuration: tmm0..7 of 16 rows x 64 bytes each.
mlir::Value tileConfig(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::Operation *at);
/// A memref<32x32xi32> (f32 for bf16) at the entry of the function around
/// `at`, for the sums of one block.
mlir::Value blockSums(mlir::OpBuilder &b, mlir::Location loc,
                      mlir::Operation *at, TileDot dot);

} // namespace recq::x86

#endif // RECQ_LIB_CONVERSION_RECQTOX86_AMX_H
