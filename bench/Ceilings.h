//===- Ceilings.h - This CPU's measured ceilings, for the benchmarks -*- C++ -*-===//
//
// The loops the benchmarks measure recq against: the peak rate of each
// dot-product instruction recq's kernels use (fp32 FMA, vpdpbusd,
// vpmaddwd, vdpbf16ps, and the AMX tile instructions) and a random-row
// gather loop that touches exactly the bytes a pooling kernel reads, with
// the least work per row. Used by qfc_gemm.cpp, embedding_bag.cpp and
// roofline.cpp. Each peak loop is called only where the CPU has its
// instructions (the AMX ones after recq_cpu_features has asked for the
// tile permission).
//
//===----------------------------------------------------------------------===//
#ifndef RECQ_BENCH_CEILINGS_H
#define RECQ_BENCH_CEILINGS_H

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

namespace recq::bench {

//===----------------------------------------------------------------------===//
// Peaks
//===----------------------------------------------------------------------===//

inline constexpr int64_t kPeakIters = 10'000'000;

/// The best of 5 runs of a peak loop (the machine may be shared).
inline double best(double (*peak)()) {
  double b = 0;
  for (int i = 0; i < 5; ++i)
    b = std::max(b, peak());
  return b;
}

__attribute__((target("avx512f,avx512vnni"))) inline double peakVpdpbusd() {
  __m512i acc[12];
  for (auto &a : acc)
    a = _mm512_setzero_si512();
  __m512i x = _mm512_set1_epi32(0x01020304), w = _mm512_set1_epi32(0x01010101);
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kPeakIters; ++i) {
#pragma GCC unroll 16
    for (auto &a : acc)
      a = _mm512_dpbusd_epi32(a, x, w);
    asm volatile("" : "+v"(x));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  __m512i sum = acc[0];
  for (int i = 1; i < 12; ++i)
    sum = _mm512_add_epi32(sum, acc[i]);
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  volatile int sink = lanes[0];
  (void)sink;
  return 12.0 * kPeakIters * 64 * 2 / s / 1e9;
}

// AVX2: the multiplies do not depend on the accumulators (only the adds
// chain), so 6 accumulators with 6 different weights keep the ports busy
// within 16 ymm registers; the asm barrier makes every multiply happen in
// every iteration.
__attribute__((target("avx2"))) inline double peakVpmaddwd() {
  __m256i acc[6], w[6];
  for (int i = 0; i < 6; ++i) {
    acc[i] = _mm256_setzero_si256();
    w[i] = _mm256_set1_epi32(0x00010001 + i);
  }
  __m256i x = _mm256_set1_epi32(0x00020003);
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kPeakIters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < 6; ++j)
      acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(x, w[j]));
    asm volatile("" : "+x"(x));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  __m256i sum = acc[0];
  for (int i = 1; i < 6; ++i)
    sum = _mm256_add_epi32(sum, acc[i]);
  volatile int sink = _mm256_extract_epi32(sum, 0);
  (void)sink;
  return 6.0 * kPeakIters * 16 * 2 / s / 1e9;
}

__attribute__((target("avx2"))) inline double peakVpmaddubsw() {
  __m256i acc[6], w[6];
  for (int i = 0; i < 6; ++i) {
    acc[i] = _mm256_setzero_si256();
    w[i] = _mm256_set1_epi8(char(1 + i));
  }
  __m256i x = _mm256_set1_epi8(3);
  __m256i ones = _mm256_set1_epi16(1);
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kPeakIters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < 6; ++j)
      acc[j] = _mm256_add_epi32(
          acc[j], _mm256_madd_epi16(_mm256_maddubs_epi16(x, w[j]), ones));
    asm volatile("" : "+x"(x));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  __m256i sum = acc[0];
  for (int i = 1; i < 6; ++i)
    sum = _mm256_add_epi32(sum, acc[i]);
  volatile int sink = _mm256_extract_epi32(sum, 0);
  (void)sink;
  return 6.0 * kPeakIters * 32 * 2 / s / 1e9;
}

// AMX: four int32 tiles fed by two input and two weight tiles, as recq's
// kernel uses them; tdpbusd is 16 x 16 x 64 multiply-adds. Needs the tile
// permission, which recq_cpu_features has asked for.
inline double peakTdpbusd() {
  alignas(64) uint8_t config[64] = {1};
  for (int t = 0; t < 8; ++t) {
    config[16 + 2 * t] = 64;
    config[48 + t] = 16;
  }
  alignas(64) static uint8_t data[16 * 64] = {1, 2, 3};
  constexpr int64_t iters = kPeakIters / 10;
  asm volatile("ldtilecfg %0" ::"m"(config));
  int64_t stride = 64;
  asm volatile("tileloadd (%0,%1,1), %%tmm4\n\t"
               "tileloadd (%0,%1,1), %%tmm5\n\t"
               "tileloadd (%0,%1,1), %%tmm6\n\t"
               "tileloadd (%0,%1,1), %%tmm7\n\t"
               "tilezero %%tmm0\n\ttilezero %%tmm1\n\t"
               "tilezero %%tmm2\n\ttilezero %%tmm3" ::"r"(data),
               "r"(stride)
               : "memory");
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iters; ++i)
    asm volatile("tdpbusd %%tmm6, %%tmm4, %%tmm0\n\t"
                 "tdpbusd %%tmm7, %%tmm4, %%tmm1\n\t"
                 "tdpbusd %%tmm6, %%tmm5, %%tmm2\n\t"
                 "tdpbusd %%tmm7, %%tmm5, %%tmm3" ::
                     : "memory");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  asm volatile("tilerelease" ::: "memory");
  return 4.0 * iters * 16 * 16 * 64 * 2 / s / 1e9;
}


// fp32 FMA (vfmadd231ps), 12 independent accumulators: 2 FLOPs per lane.
__attribute__((target("avx512f"))) inline double peakFmaZmm() {
  __m512 acc[12];
  for (auto &a : acc)
    a = _mm512_setzero_ps();
  __m512 x = _mm512_set1_ps(1.0001f), w = _mm512_set1_ps(0.9999f);
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kPeakIters; ++i) {
#pragma GCC unroll 16
    for (auto &a : acc)
      a = _mm512_fmadd_ps(x, w, a);
    asm volatile("" : "+v"(x));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  __m512 sum = acc[0];
  for (int i = 1; i < 12; ++i)
    sum = _mm512_add_ps(sum, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  volatile float sink = lanes[0];
  (void)sink;
  return 12.0 * kPeakIters * 16 * 2 / s / 1e9;
}

__attribute__((target("avx2,fma"))) inline double peakFmaYmm() {
  __m256 acc[12];
  for (auto &a : acc)
    a = _mm256_setzero_ps();
  __m256 x = _mm256_set1_ps(1.0001f), w = _mm256_set1_ps(0.9999f);
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kPeakIters; ++i) {
#pragma GCC unroll 16
    for (auto &a : acc)
      a = _mm256_fmadd_ps(x, w, a);
    asm volatile("" : "+x"(x));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  __m256 sum = acc[0];
  for (int i = 1; i < 12; ++i)
    sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  volatile float sink = lanes[0];
  (void)sink;
  return 12.0 * kPeakIters * 8 * 2 / s / 1e9;
}

// bf16 pairs (vdpbf16ps zmm): 32 multiply-adds per instruction.
__attribute__((target("avx512f,avx512bf16"))) inline double peakVdpbf16ps() {
  __m512 acc[12];
  for (auto &a : acc)
    a = _mm512_setzero_ps();
  __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f803f80),
           w = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f);
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kPeakIters; ++i) {
#pragma GCC unroll 16
    for (auto &a : acc)
      a = _mm512_dpbf16_ps(a, x, w);
    asm volatile("" : "+v"(x));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  __m512 sum = acc[0];
  for (int i = 1; i < 12; ++i)
    sum = _mm512_add_ps(sum, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  volatile float sink = lanes[0];
  (void)sink;
  return 12.0 * kPeakIters * 32 * 2 / s / 1e9;
}

// AMX-BF16: as peakTdpbusd, tdpbf16ps is 16 x 16 x 32 multiply-adds.
inline double peakTdpbf16ps() {
  alignas(64) uint8_t config[64] = {1};
  for (int t = 0; t < 8; ++t) {
    config[16 + 2 * t] = 64;
    config[48 + t] = 16;
  }
  alignas(64) static uint16_t data[16 * 32] = {0x3f80, 0x3f80};
  constexpr int64_t iters = kPeakIters / 10;
  asm volatile("ldtilecfg %0" ::"m"(config));
  int64_t stride = 64;
  asm volatile("tileloadd (%0,%1,1), %%tmm4\n\t"
               "tileloadd (%0,%1,1), %%tmm5\n\t"
               "tileloadd (%0,%1,1), %%tmm6\n\t"
               "tileloadd (%0,%1,1), %%tmm7\n\t"
               "tilezero %%tmm0\n\ttilezero %%tmm1\n\t"
               "tilezero %%tmm2\n\ttilezero %%tmm3" ::"r"(data),
               "r"(stride)
               : "memory");
  auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iters; ++i)
    asm volatile("tdpbf16ps %%tmm6, %%tmm4, %%tmm0\n\t"
                 "tdpbf16ps %%tmm7, %%tmm4, %%tmm1\n\t"
                 "tdpbf16ps %%tmm6, %%tmm5, %%tmm2\n\t"
                 "tdpbf16ps %%tmm7, %%tmm5, %%tmm3" ::
                     : "memory");
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  asm volatile("tilerelease" ::: "memory");
  return 4.0 * iters * 16 * 16 * 32 * 2 / s / 1e9;
}

/// This CPU's model name, as /proc/cpuinfo gives it.
inline std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown CPU";
}


//===----------------------------------------------------------------------===//
// The gather ceiling
//===----------------------------------------------------------------------===//

/// Requests row `indices[min(k + prefetch, n - 1)]`: every 64-byte line
/// and the one holding its last byte.
__attribute__((target("avx2"), always_inline)) inline void
prefetchRow(const char *table, int64_t stride, const int64_t *indices,
            int64_t k, int64_t n, int prefetch) {
  const char *ahead = table + indices[std::min(k + prefetch, n - 1)] * stride;
  for (int64_t line = 0; line < stride; line += 64)
    _mm_prefetch(ahead + line, _MM_HINT_T0);
  _mm_prefetch(ahead + stride - 1, _MM_HINT_T0);
}

/// ORs every 64-byte line of `row` into `a` (one 32-byte load per line,
/// and one ending at the row's last byte: rows here are at least 12 bytes,
/// int4 at D = 16).
__attribute__((target("avx2"), always_inline)) inline __m256i
touchRow(const char *row, int64_t stride, __m256i a) {
  int64_t last = std::max<int64_t>(stride - 32, 0);
  for (int64_t line = 0; line < last; line += 64)
    a = _mm256_or_si256(
        a, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row + line)));
  if (stride >= 32)
    return _mm256_or_si256(
        a, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(row + last)));
  if (stride >= 16)
    return _mm256_or_si256(
        a, _mm256_castsi128_si256(_mm_loadu_si128(
               reinterpret_cast<const __m128i *>(row + stride - 16))));
  return _mm256_or_si256(
      a, _mm256_castsi128_si256(_mm_loadl_epi64(
             reinterpret_cast<const __m128i *>(row + stride - 8))));
}

/// Touches every line of each row, OR-ing into four accumulators; rows
/// are requested `prefetch` indices ahead when it is not 0. Memory traffic
/// is exactly the kernel's reads; work per row is the least possible.
__attribute__((target("avx2"), noinline)) inline uint64_t
gatherRows(const char *table, int64_t stride, const int64_t *indices,
           int64_t n, int prefetch) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256(), _mm256_setzero_si256()};
  for (int64_t k = 0; k < n; ++k) {
    if (prefetch)
      prefetchRow(table, stride, indices, k, n, prefetch);
    acc[k & 3] = touchRow(table + indices[k] * stride, stride, acc[k & 3]);
  }
  __m256i all = _mm256_or_si256(_mm256_or_si256(acc[0], acc[1]),
                                _mm256_or_si256(acc[2], acc[3]));
  return uint64_t(_mm256_extract_epi64(all, 0));
}

/// gatherRows over bags of `length` rows, writing each bag's `dim` floats
/// (its rows' bits OR-ed, as 32-byte stores) to `out`: the same row reads
/// plus the [B, D] f32 output every pooling kernel writes. For short bags
/// the output is most of the traffic (bags of one int8 row of D = 64: 72
/// bytes read, 256 written).
__attribute__((target("avx2"), noinline)) inline void
gatherRowsAndWrite(const char *table, int64_t stride, const int64_t *indices,
                   int64_t batch, int64_t length, int prefetch, float *out,
                   int64_t dim) {
  int64_t n = batch * length;
  for (int64_t b = 0; b < batch; ++b) {
    __m256i acc = _mm256_setzero_si256();
    for (int64_t k = b * length; k < (b + 1) * length; ++k) {
      if (prefetch)
        prefetchRow(table, stride, indices, k, n, prefetch);
      acc = touchRow(table + indices[k] * stride, stride, acc);
    }
    for (int64_t j = 0; j + 8 <= dim; j += 8)
      _mm256_storeu_ps(out + b * dim + j, _mm256_castsi256_ps(acc));
  }
}

} // namespace recq::bench

#endif // RECQ_BENCH_CEILINGS_H
