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

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <type_traits>
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

/// The f32 that bf16 `bits` is.
float widen(uint16_t bits) {
  uint32_t word = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &word, 4);
  return f;
}

/// bf16 tiles: c (m x n f32) += a (m x k pairs) . b (k pairs x n).
struct Bf16Tiles {
  int m, n, k;
  std::vector<uint16_t> a, b;
  std::vector<float> c;
  Bf16Tiles(int m, int n, int k, unsigned seed) : m(m), n(n), k(k) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> value(-2.0f, 2.0f);
    auto bf16 = [&] {
      float f = value(rng);
      uint32_t word;
      std::memcpy(&word, &f, 4);
      return uint16_t(word >> 16); // truncated: any bf16 will do
    };
    a.resize(m * 2 * k);
    b.resize(k * 2 * n);
    c.resize(m * n);
    for (uint16_t &v : a)
      v = bf16();
    for (uint16_t &v : b)
      v = bf16();
    for (float &v : c)
      v = value(rng);
  }
  Config config() const {
    return Config().tile(0, m, 4 * n).tile(4, m, 4 * k).tile(6, k, 4 * n);
  }
  /// TDPBF16PS as the SDM's pseudo-code has it, for values far from the
  /// denormals: per (row, column), the even and the odd products each
  /// summed over k from 0 by FMAs, then c += even + odd.
  std::vector<float> reference() const {
    std::vector<float> out = c;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        float even = 0.0f, odd = 0.0f;
        for (int kk = 0; kk < k; ++kk) {
          even = std::fma(widen(a[i * 2 * k + 2 * kk]),
                          widen(b[kk * 2 * n + 2 * j]), even);
          odd = std::fma(widen(a[i * 2 * k + 2 * kk + 1]),
                         widen(b[kk * 2 * n + 2 * j + 1]), odd);
        }
        out[i * n + j] += even + odd;
      }
    return out;
  }
  /// Runs the model's TDPBF16PS on the tiles; returns c.
  std::vector<float> onModel() const {
    std::vector<float> out = c;
    Config cfg = config();
    recq_amx_emu_ldtilecfg(cfg.bytes);
    recq_amx_emu_tileloadd64(0, out.data(), 4 * n);
    recq_amx_emu_tileloadd64(4, a.data(), 4 * k);
    recq_amx_emu_tileloadd64(6, b.data(), 4 * n);
    recq_amx_emu_tdpbf16ps(0, 4, 6);
    recq_amx_emu_tilestored64(0, out.data(), 4 * n);
    recq_amx_emu_tilerelease();
    return out;
  }
};

TEST(AmxModel, Tdpbf16psSumsEvenAndOddProductsThenAdds) {
  for (auto [m, n, k] : kShapes) {
    SCOPED_TRACE(testing::Message() << m << " x " << n << " x " << k);
    Bf16Tiles t(m, n, k, unsigned(m * 1000 + n * 10 + k));
    std::vector<float> want = t.reference(), got = t.onModel();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], want[i]) << "element " << i;
  }
}

TEST(AmxModel, Tdpbf16psOrderIsNotVdpbf16ps) {
  // Pairs (1 x 1, -1 x 1) and (2^-12 x 2^-12, 0). In the SDM's order the
  // even sum is 1, then 1 + 2^-24, which rounds to 1; the odd sum is -1;
  // c = 0 + (1 - 1) = 0. Pair by pair (2j + 1, then 2j, as vdpbf16ps and
  // recq.fc's definition sum) the result is 2^-24.
  Bf16Tiles t(1, 1, 2, 1);
  uint16_t one = 0x3f80, minusOne = 0xbf80, tiny = 0x3980; // 2^-12
  t.a = {one, minusOne, tiny, 0};
  t.b = {one, one, tiny, 0};
  t.c = {0.0f};
  EXPECT_EQ(t.onModel()[0], 0.0f);
  float pairwise = 0.0f;
  pairwise = std::fma(widen(minusOne), widen(one), pairwise);
  pairwise = std::fma(widen(one), widen(one), pairwise);
  pairwise = std::fma(widen(tiny), widen(tiny), pairwise);
  EXPECT_EQ(pairwise, std::ldexp(1.0f, -24));
}

TEST(AmxModel, Tdpbf16psTreatsDenormalsAsZero) {
  Bf16Tiles t(1, 1, 1, 2);
  uint16_t denormal = 0x0040, one = 0x3f80,
           small = 0x0100; // 2^-126 * 0.5, 1, 2^-125
  // A denormal input reads as zero.
  t.a = {denormal, 0};
  t.b = {one, 0};
  t.c = {1.0f};
  EXPECT_EQ(t.onModel()[0], 1.0f);
  // A product below 2^-126 is flushed; so is c's sum.
  t.a = {small, 0};
  t.b = {0x3e80 /* 0.25 */, 0};
  t.c = {0.0f};
  EXPECT_EQ(t.onModel()[0], 0.0f);
}

#if defined(__x86_64__)
/// The same steps on the tile registers (AT&T order: sources first):
/// tdpbusd on Tiles, tdpbf16ps on Bf16Tiles.
template <typename T>
__attribute__((noinline)) void onHardware(const Config &cfg, T &t) {
  int64_t strideC = 4 * t.n, strideA = 4 * t.k, strideB = 4 * t.n;
  asm volatile("ldtilecfg %0" ::"m"(cfg.bytes));
  asm volatile("tileloadd (%0,%1,1), %%tmm0" ::"r"(t.c.data()), "r"(strideC)
               : "memory");
  asm volatile("tileloadd (%0,%1,1), %%tmm4" ::"r"(t.a.data()), "r"(strideA)
               : "memory");
  asm volatile("tileloadd (%0,%1,1), %%tmm6" ::"r"(t.b.data()), "r"(strideB)
               : "memory");
  if constexpr (std::is_same_v<T, Bf16Tiles>)
    asm volatile("tdpbf16ps %%tmm6, %%tmm4, %%tmm0" ::: "memory");
  else
    asm volatile("tdpbusd %%tmm6, %%tmm4, %%tmm0" ::: "memory");
  asm volatile("tilestored %%tmm0, (%0,%1,1)" ::"r"(t.c.data()), "r"(strideC)
               : "memory");
  asm volatile("tilerelease" ::: "memory");
}

TEST(AmxModel, Tdpbf16psAgreesWithTheInstruction) {
  uint32_t mask = 0;
  char missing[128];
  ASSERT_EQ(recq_target_features("amx", &mask), 0);
  if (recq_cpu_missing(mask & (RECQ_CPU_AMX_TILE | RECQ_CPU_AMX_BF16), missing,
                       sizeof missing) > 0)
    GTEST_SKIP() << "this CPU (or OS) lacks " << missing
                 << ": the model is checked against the SDM's order only";
  // The SDM gives the order; whether the silicon keeps it bit for bit is
  // what this finds out: within the summation bound it must be, and how
  // many outputs are identical is printed.
  int exact = 0, total = 0;
  for (auto [m, n, k] : kShapes) {
    SCOPED_TRACE(testing::Message() << m << " x " << n << " x " << k);
    Bf16Tiles hw(m, n, k, unsigned(m * 77 + n * 7 + k));
    std::vector<float> emu = hw.onModel();
    Config cfg = hw.config();
    onHardware(cfg, hw);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double magnitude = std::fabs(emu[i * n + j]);
        for (int kk = 0; kk < 2 * k; ++kk)
          magnitude +=
              std::fabs(double(widen(hw.a[i * 2 * k + kk])) *
                        widen(hw.b[(kk / 2) * 2 * n + 2 * j + kk % 2]));
        float bound =
            float(4.0 * (2 * k + 2) * std::ldexp(1.0, -24) * magnitude);
        EXPECT_NEAR(hw.c[i * n + j], emu[i * n + j], bound);
        exact += hw.c[i * n + j] == emu[i * n + j];
        ++total;
      }
  }
  std::printf("[ note ] tdpbf16ps: %d of %d outputs bit-identical to the "
              "model\n",
              exact, total);
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
