/*===- recq_amx_emu.h - a plain C model of the AMX tile instructions -*- C
 *-*-===*
 *
 * What the amx-emulated int8 and bf16 kernels call instead of the AMX
 *instructions (recq.intrinsic's `emulator`), so the AMX kernel's tiling,
 *packing, tile configuration and epilogue are tested on CPUs without AMX. Each
 *function does what the instruction of its name does (Intel SDM, palette 1:
 *eight tiles of up to 16 rows x 64 bytes), on tiles kept per thread as the
 * hardware keeps them per thread. A use the hardware faults on (a tile
 * instruction before ldtilecfg, a shape a dot product refuses, a bad
 * configuration) prints what is wrong and aborts, as the fault would end
 * the process. Tile numbers are the instructions' immediates.
 *
 *===----------------------------------------------------------------------===*/

#ifndef RECQ_RUNTIME_RECQ_AMX_EMU_H
#define RECQ_RUNTIME_RECQ_AMX_EMU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// LDTILECFG: the 64-byte configuration at `config` (palette, start row,
/// colsb[16] as u16 at byte 16, rows[16] at byte 48); zeroes every tile.
void recq_amx_emu_ldtilecfg(const void *config);
/// TILERELEASE: back to the initial state (no configuration).
void recq_amx_emu_tilerelease(void);
/// TILEZERO tmm`tile`.
void recq_amx_emu_tilezero(int tile);
/// TILELOADD tmm`tile`, [base + row * stride]: its rows x colsb bytes;
/// the rest of the tile is zero.
void recq_amx_emu_tileloadd64(int tile, const void *base, int64_t stride);
/// TILESTORED [base + row * stride], tmm`tile`: its rows x colsb bytes.
void recq_amx_emu_tilestored64(int tile, void *base, int64_t stride);
/// TDPBUSD tmm`c`, tmm`a`, tmm`b`: for each row m and i32 column n of c,
/// c[m][n] += sum over k of the 4 products u8 a[m][4k + i] * s8 b[k][4n + i]
/// (i32, wrapping), k over a's colsb / 4.
void recq_amx_emu_tdpbusd(int c, int a, int b);
/// TDPBF16PS tmm`c`, tmm`a`, tmm`b`: for each row m and f32 column n of c,
/// with e and o the sums (FMAs from 0, k in order, k over a's colsb / 4)
/// of the even products bf16 a[m][2k] * b[k][2n] and of the odd ones
/// a[m][2k + 1] * b[k][2n + 1], c[m][n] += e + o. To nearest even;
/// denormal inputs read as zero and denormal results are flushed to zero
/// (the SDM's pseudo-code; MXCSR plays no part).
void recq_amx_emu_tdpbf16ps(int c, int a, int b);

#ifdef __cplusplus
}
#endif

#endif /* RECQ_RUNTIME_RECQ_AMX_EMU_H */
