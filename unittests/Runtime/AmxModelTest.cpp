//===- AmxModelTest.cpp - The C model of the AMX tile instructions --------===//
//
// recq_amx_emu.c is what the amx-emulated kernel runs instead of the tile
// instructions, so QfcKernelTest's amx-emulated results are only as good
// as this model. Here it is checked against a plain product of the tiles
// on every CPU, for the faults it must report, and, on a CPU with AMX,
// against the instructions themselves.
//
//===----------------------------------------------------------------------===//

#include "recq/Runtime/recq_amx_emu.h"
#include "recq/Runtime/recq_cpu.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace {

/// A palette-1 configuration: tile t of rows[t] x colsb[t].
struct Config {
  alignas(64) uint8_t bytes[64] = {};
  Config &tile(int t, int rows, int colsb) {
    bytes[0] = 1;
    bytes[16 + 2 * t] = uint8_t(colsb);
    bytes[17 + 2 * t] = uint8_t(colsb >> 8);
    bytes[48 + t] = uint8_t(rows);
    return *this;
  }
};

/// c (m x n i32) += a (m x 4k u8) . b (k x 4n s8), as TDPBUSD defines it.
void reference(std::vector<int32_t> &c, const std::vector<uint8_t> &a,
               const std::vector<int8_t> &b, int m, int n, int k) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      uint32_t sum = uint32_t(c[i * n + j]);
      for (int kk = 0; kk < 4 * k; ++kk)
        sum += uint32_t(int32_t(a[i * 4 * k + kk]) *
                        int32_t(b[(kk / 4) * 4 * n + 4 * j + kk % 4]));
      c[i * n + j] = int32_t(sum);
    }
}

struct Tiles {
  int m, n, k; // c: m x n i32; a: m x 4k bytes; b: k x 4n bytes
  std::vector<uint8_t> a;
  std::vector<int8_t> b;
  std::vector<int32_t> c;
  Tiles(int m, int n, int k, unsigned seed) : m(m), n(n), k(k) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> byte(0, 255);
    a.resize(m * 4 * k);
    b.resize(k * 4 * n);
    c.resize(m * n);
    for (uint8_t &v : a)
      v = uint8_t(byte(rng));
    for (int8_t &v : b)
      v = int8_t(byte(rng) - 128);
    for (int32_t &v : c)
      v = int32_t(rng()); // wraps as the hardware does
  }
  Config config() const {
    return Config().tile(0, m, 4 * n).tile(4, m, 4 * k).tile(6, k, 4 * n);
  }
};

/// The shapes the kernel uses (16 x 64 bytes everywhere) and smaller ones.
const int kShapes[][3] = {{16, 16, 16}, {1, 1, 1}, {5, 3, 7}, {16, 4, 16},
                          {16, 16, 1}};

TEST(AmxModel, TdpbusdIsThePlainProduct) {
  for (auto [m, n, k] : kShapes) {
    SCOPED_TRACE(testing::Message() << m << " x " << n << " x " << k);
    Tiles t(m, n, k, unsigned(m * 1000 + n * 10 + k));
    std::vector<int32_t> want = t.c, got(m * n, -1);
    reference(want, t.a, t.b, m, n, k);
    Config cfg = t.config();
    recq_amx_emu_ldtilecfg(cfg.bytes);
    recq_amx_emu_tileloadd64(0, t.c.data(), 4 * n);
    recq_amx_emu_tileloadd64(4, t.a.data(), 4 * k);
    recq_amx_emu_tileloadd64(6, t.b.data(), 4 * n);
    recq_amx_emu_tdpbusd(0, 4, 6);
    recq_amx_emu_tilestored64(0, got.data(), 4 * n);
    recq_amx_emu_tilerelease();
    EXPECT_EQ(got, want);
  }
}

TEST(AmxModel, TilezeroAndStridedRows) {
  Config cfg = Config().tile(1, 3, 8);
  recq_amx_emu_ldtilecfg(cfg.bytes);
  // Rows 16 bytes apart; tilestored writes only 8 bytes of each.
  std::vector<int32_t> in(12), out(12, 7);
  for (int i = 0; i < 12; ++i)
    in[i] = i + 1;
  recq_amx_emu_tileloadd64(1, in.data(), 16);
  recq_amx_emu_tilestored64(1, out.data(), 16);
  EXPECT_EQ(out, (std::vector<int32_t>{1, 2, 7, 7, 5, 6, 7, 7, 9, 10, 7, 7}));
  recq_amx_emu_tilezero(1);
  recq_amx_emu_tilestored64(1, out.data(), 16);
  EXPECT_EQ(out, (std::vector<int32_t>{0, 0, 7, 7, 0, 0, 7, 7, 0, 0, 7, 7}));
  recq_amx_emu_tilerelease();
}

TEST(AmxModelDeathTest, FaultsWhereTheHardwareFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(recq_amx_emu_tilezero(0), "tilezero before ldtilecfg");
  EXPECT_DEATH(recq_amx_emu_tdpbusd(0, 4, 6), "tdpbusd before ldtilecfg");
  Config cfg = Config().tile(0, 16, 64).tile(4, 16, 64).tile(6, 8, 64);
  EXPECT_DEATH(
      {
        recq_amx_emu_ldtilecfg(cfg.bytes);
        recq_amx_emu_tdpbusd(0, 4, 6);
      },
      "do not fit");
  EXPECT_DEATH(
      {
        recq_amx_emu_ldtilecfg(cfg.bytes);
        recq_amx_emu_tilezero(2);
      },
      "tmm2, which the configuration leaves unused");
  Config big = Config().tile(0, 17, 64);
  EXPECT_DEATH(recq_amx_emu_ldtilecfg(big.bytes), "tmm0 of 17 rows");
}

#if defined(__x86_64__)
/// The same steps on the tile registers (AT&T order: sources first).
__attribute__((noinline)) void onHardware(const Config &cfg, Tiles &t) {
  int64_t strideC = 4 * t.n, strideA = 4 * t.k, strideB = 4 * t.n;
  asm volatile("ldtilecfg %0" ::"m"(cfg.bytes));
  asm volatile("tileloadd (%0,%1,1), %%tmm0" ::"r"(t.c.data()), "r"(strideC)
               : "memory");
  asm volatile("tileloadd (%0,%1,1), %%tmm4" ::"r"(t.a.data()), "r"(strideA)
               : "memory");
  asm volatile("tileloadd (%0,%1,1), %%tmm6" ::"r"(t.b.data()), "r"(strideB)
               : "memory");
  asm volatile("tdpbusd %%tmm6, %%tmm4, %%tmm0" ::: "memory");
  asm volatile("tilestored %%tmm0, (%0,%1,1)" ::"r"(t.c.data()), "r"(strideC)
               : "memory");
  asm volatile("tilerelease" ::: "memory");
}
#endif

TEST(AmxModel, AgreesWithTheInstructions) {
  uint32_t mask = 0;
  char missing[128];
  ASSERT_EQ(recq_target_features("amx", &mask), 0);
  if (recq_cpu_missing(mask & (RECQ_CPU_AMX_TILE | RECQ_CPU_AMX_INT8), missing,
                       sizeof missing) > 0)
    GTEST_SKIP() << "this CPU (or OS) lacks " << missing
                 << ": the model is checked against the plain product only";
#if defined(__x86_64__)
  for (auto [m, n, k] : kShapes) {
    SCOPED_TRACE(testing::Message() << m << " x " << n << " x " << k);
    Tiles hw(m, n, k, unsigned(m * 77 + n * 7 + k));
    Tiles emu = hw;
    Config cfg = hw.config();
    onHardware(cfg, hw);
    recq_amx_emu_ldtilecfg(cfg.bytes);
    recq_amx_emu_tileloadd64(0, emu.c.data(), 4 * n);
    recq_amx_emu_tileloadd64(4, emu.a.data(), 4 * k);
    recq_amx_emu_tileloadd64(6, emu.b.data(), 4 * n);
    recq_amx_emu_tdpbusd(0, 4, 6);
    recq_amx_emu_tilestored64(0, emu.c.data(), 4 * n);
    recq_amx_emu_tilerelease();
    EXPECT_EQ(emu.c, hw.c);
  }
#endif
}

} // namespace
