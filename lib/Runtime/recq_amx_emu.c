/*===- recq_amx_emu.c - a plain C model of the AMX tile instructions ------===*
 *
 * See recq_amx_emu.h. Written from the instructions' definitions (Intel
 * SDM vol. 2, TDPBUSD's and TDPBF16PS's pseudo-code), not from the
 * kernels, so that the kernels' first test is against an independent
 * model.
 *
 *===----------------------------------------------------------------------===*/

#include "recq/Runtime/recq_amx_emu.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kTiles = 8, kMaxRows = 16, kMaxColsb = 64 };

typedef struct {
  int configured;
  uint8_t rows[kTiles];
  uint16_t colsb[kTiles];
  uint8_t data[kTiles][kMaxRows][kMaxColsb];
} tile_state;

/* Per thread, as the hardware keeps it. */
static _Thread_local tile_state state;

static void fault(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fault(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fputs("recq AMX model: ", stderr);
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
  abort();
}

/* A tile number the instruction may name, on a configured state. */
static void check_tile(const char *what, int tile) {
  if (!state.configured)
    fault("%s before ldtilecfg (#UD)", what);
  if (tile < 0 || tile >= kTiles)
    fault("%s names tmm%d (there are %d)", what, tile, kTiles);
  if (state.rows[tile] == 0 || state.colsb[tile] == 0)
    fault("%s uses tmm%d, which the configuration leaves unused", what, tile);
}

void recq_amx_emu_ldtilecfg(const void *config) {
  const uint8_t *bytes = (const uint8_t *)config;
  if (bytes[0] == 0) { /* palette 0: the initial state */
    recq_amx_emu_tilerelease();
    return;
  }
  if (bytes[0] != 1)
    fault("ldtilecfg: palette %u (only 1 exists) (#GP)", bytes[0]);
  if (bytes[1] != 0)
    fault("ldtilecfg: start_row %u (recq never restarts) (#GP)", bytes[1]);
  for (int i = 2; i < 16; ++i)
    if (bytes[i] != 0)
      fault("ldtilecfg: reserved byte %d is %u (#GP)", i, bytes[i]);
  memset(&state, 0, sizeof state);
  for (int t = 0; t < 16; ++t) {
    uint16_t colsb = (uint16_t)(bytes[16 + 2 * t] | bytes[17 + 2 * t] << 8);
    uint8_t rows = bytes[48 + t];
    if (t >= kTiles) {
      if (colsb || rows)
        fault("ldtilecfg: tmm%d configured (palette 1 has %d) (#GP)", t,
              kTiles);
      continue;
    }
    if (rows > kMaxRows || colsb > kMaxColsb || (rows == 0) != (colsb == 0))
      fault("ldtilecfg: tmm%d of %u rows x %u bytes (#GP)", t, rows, colsb);
    state.rows[t] = rows;
    state.colsb[t] = colsb;
  }
  state.configured = 1;
}

void recq_amx_emu_tilerelease(void) { memset(&state, 0, sizeof state); }

void recq_amx_emu_tilezero(int tile) {
  check_tile("tilezero", tile);
  memset(state.data[tile], 0, sizeof state.data[tile]);
}

void recq_amx_emu_tileloadd64(int tile, const void *base, int64_t stride) {
  check_tile("tileloadd", tile);
  memset(state.data[tile], 0, sizeof state.data[tile]);
  for (int r = 0; r < state.rows[tile]; ++r)
    memcpy(state.data[tile][r], (const uint8_t *)base + r * stride,
           state.colsb[tile]);
}

void recq_amx_emu_tilestored64(int tile, void *base, int64_t stride) {
  check_tile("tilestored", tile);
  for (int r = 0; r < state.rows[tile]; ++r)
    memcpy((uint8_t *)base + r * stride, state.data[tile][r],
           state.colsb[tile]);
}

/* The checks every dot-product instruction makes of tmm`c` += tmm`a` .
 * tmm`b` (dword elements): configured, distinct tiles of fitting shapes. */
static void check_dot(const char *what, int c, int a, int b) {
  check_tile(what, c);
  check_tile(what, a);
  check_tile(what, b);
  if (c == a || c == b || a == b)
    fault("%s tmm%d, tmm%d, tmm%d: the tiles must differ (#UD)", what, c, a, b);
  if (state.rows[a] != state.rows[c] || state.colsb[b] != state.colsb[c] ||
      state.rows[b] != state.colsb[a] / 4 || state.colsb[a] % 4 ||
      state.colsb[c] % 4)
    fault("%s: tmm%d %ux%u += tmm%d %ux%u . tmm%d %ux%u do not fit (#UD)", what,
          c, state.rows[c], state.colsb[c], a, state.rows[a], state.colsb[a], b,
          state.rows[b], state.colsb[b]);
}

/* The bytes of each row of tmm`c` past its colsb are zeroed. */
static void zero_past_colsb(int c) {
  for (int i = 0; i < state.rows[c]; ++i)
    memset(&state.data[c][i][state.colsb[c]], 0, kMaxColsb - state.colsb[c]);
}

void recq_amx_emu_tdpbusd(int c, int a, int b) {
  check_dot("tdpbusd", c, a, b);
  const int m = state.rows[c], k = state.colsb[a] / 4, n = state.colsb[c] / 4;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      int32_t acc;
      memcpy(&acc, &state.data[c][i][4 * j], 4);
      uint32_t sum = (uint32_t)acc;
      for (int kk = 0; kk < k; ++kk)
        for (int q = 0; q < 4; ++q)
          sum += (uint32_t)((int32_t)state.data[a][i][4 * kk + q] *
                            (int32_t)(int8_t)state.data[b][kk][4 * j + q]);
      acc = (int32_t)sum;
      memcpy(&state.data[c][i][4 * j], &acc, 4);
    }
  zero_past_colsb(c);
}

/* An f32 below 2^-126 in magnitude (a denormal) as a zero of its sign:
 * TDPBF16PS treats denormal inputs as zero and flushes denormal results. */
static float flush(float x) {
  return fabsf(x) < 0x1p-126f ? copysignf(0.0f, x) : x;
}

/* The bf16 `bits` as the f32 it is (make_fp32), a denormal as zero. */
static float bf16_at(const uint8_t *bytes) {
  uint32_t bits = (uint32_t)(bytes[0] | bytes[1] << 8) << 16;
  float x;
  memcpy(&x, &bits, 4);
  return flush(x);
}

void recq_amx_emu_tdpbf16ps(int c, int a, int b) {
  check_dot("tdpbf16ps", c, a, b);
  const int m = state.rows[c], k = state.colsb[a] / 4, n = state.colsb[c] / 4;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      /* The even and the odd products each summed over k, by FMAs (to
       * nearest even); then their sum added to c[i][j]. */
      float even = 0.0f, odd = 0.0f;
      for (int kk = 0; kk < k; ++kk) {
        even = flush(fmaf(bf16_at(&state.data[a][i][4 * kk]),
                          bf16_at(&state.data[b][kk][4 * j]), even));
        odd = flush(fmaf(bf16_at(&state.data[a][i][4 * kk + 2]),
                         bf16_at(&state.data[b][kk][4 * j + 2]), odd));
      }
      float acc;
      memcpy(&acc, &state.data[c][i][4 * j], 4);
      acc = flush(flush(acc) + flush(even + odd));
      memcpy(&state.data[c][i][4 * j], &acc, 4);
    }
  zero_past_colsb(c);
}
