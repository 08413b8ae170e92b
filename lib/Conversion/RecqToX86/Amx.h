//===- Amx.h - the int8 FC kernel's AMX tiles -------------------*- C++ -*-===//
//
// Private to lib/Conversion/RecqToX86. On AMX, convert-recq-qfc-to-kernel
// computes blocks of 32 rows x 32 columns in four int32 tiles (tmm0..3),
// two input tiles of 16 rows x 64 bytes (tmm4, tmm5) and two weight tiles
// of 16 k groups x 16 columns x 4 bytes (tmm6, tmm7): four tdpbusd per 64
// of K. The sums go to a 32 x 32 i32 buffer on the stack, from which the
// register kernel's epilogue reads them. Every tile is 16 rows x 64
// bytes, so one configuration serves the whole kernel.
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

/// Emits the tile instructions, native or as calls of the C model.
class AmxTiles {
public:
  explicit AmxTiles(Amx kind) : kind(kind) {}
  /// ldtilecfg from `config` (a memref<64xi8>, see tileConfig).
  void configure(mlir::OpBuilder &b, mlir::Location loc,
                 mlir::Value config) const;
  /// tilerelease.
  void release(mlir::OpBuilder &b, mlir::Location loc) const;
  /// Accumulates rows [m0, m0 + 32) of `input` (a [M, K'] i8 tensor, K' a
  /// multiple of 64) times column block `nb` of `packed` (the VNNI layout
  /// [blocks, groups, 32] x i32, groups a multiple of 16) over `kSteps`
  /// steps of 64, and stores the 32 x 32 i32 sums in `sums` (a
  /// memref<32x32xi32>).
  void block(mlir::OpBuilder &b, mlir::Location loc, mlir::Value input,
             mlir::Value packed, mlir::Value sums, mlir::Value m0,
             mlir::Value nb, int64_t kSteps) const;

private:
  void emit(mlir::OpBuilder &b, mlir::Location loc, llvm::StringRef name,
            mlir::ValueRange args) const;
  Amx kind;
};

/// A memref<64xi8> at the entry of the function around `at` holding the
/// palette-1 configuration: tmm0..7 of 16 rows x 64 bytes each.
mlir::Value tileConfig(mlir::OpBuilder &b, mlir::Location loc,
                       mlir::Operation *at);
/// A memref<32x32xi32> at the entry of the function around `at`, for the
/// sums of one block.
mlir::Value blockSums(mlir::OpBuilder &b, mlir::Location loc,
                      mlir::Operation *at);

} // namespace recq::x86

#endif // RECQ_LIB_CONVERSION_RECQTOX86_AMX_H
