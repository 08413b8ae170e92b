//===- roofline.cpp - This CPU's measured peaks and gather time, as JSON ---===//
//
// What bench/sxs.py builds a whole model's roofline from:
//  - the peak rate of each instruction recq's FC kernels use that this CPU
//    has (fp32 FMA on zmm and ymm, vpdpbusd, vpmaddwd, vdpbf16ps, tdpbusd,
//    tdpbf16ps), GOPS with 2 ops per multiply-add, the best of 5 runs, run
//    on --threads threads at once and summed;
//  - for each --gather=FILE, the time of a plain loop reading exactly the
//    bytes a batch's lookups read: FILE holds int64 values, a count n and
//    then n (byte offset, byte length) pairs into one buffer (the model's
//    tables laid end to end). The loop touches every 64-byte line of each
//    span (Ceilings.h's touchRow), requesting spans 0, 4, 8, 16 or 32
//    ahead; the fastest counts. The buffer is anonymous memory advised for
//    transparent huge pages, filled before timing; the spans are split
//    into --threads contiguous parts gathered at once. Median of 7 timings
//    of repeated passes (~20 ms each).
//
//   recq-bench-roofline [--threads=N] [--gather=FILE]...
//
// Prints one JSON object. Exit status: 0, or 1 for a bad argument or an
// unreadable gather file (the message says which).
//
//===----------------------------------------------------------------------===//

#include "recq/Runtime/recq_cpu.h"

#include "Ceilings.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace recq::bench;

namespace {

using Clock = std::chrono::steady_clock;

/// `peak` run on `threads` threads at once: the sum of their rates.
double onThreads(double (*peak)(), int threads) {
  std::vector<double> rates(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { rates[t] = best(peak); });
  for (auto &th : pool)
    th.join();
  double sum = 0;
  for (double r : rates)
    sum += r;
  return sum;
}

struct Spans {
  std::string path;
  std::vector<int64_t> offsets, lengths;
  int64_t bytes = 0; // of the buffer: the end of the last span
  int64_t touched = 0;
};

bool readSpans(const std::string &path, Spans &spans, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  int64_t n = -1;
  if (!in.read(reinterpret_cast<char *>(&n), sizeof n) || n < 0) {
    error = "cannot read a span count from '" + path + "'";
    return false;
  }
  std::vector<int64_t> pairs(2 * n);
  if (!in.read(reinterpret_cast<char *>(pairs.data()), 16 * n)) {
    error = "'" + path + "' holds fewer than the " + std::to_string(n) +
            " spans it announces";
    return false;
  }
  spans.path = path;
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = pairs[2 * k], len = pairs[2 * k + 1];
    if (off < 0 || len < 8 || len > (1 << 20)) {
      error = "span " + std::to_string(k) + " of '" + path +
              "' is not an offset >= 0 and a length in [8, 1 MiB]";
      return false;
    }
    spans.offsets.push_back(off);
    spans.lengths.push_back(len);
    spans.bytes = std::max(spans.bytes, off + len);
    spans.touched += len;
  }
  return true;
}

/// touchRow over spans [begin, end), each requested `prefetch` ahead.
__attribute__((target("avx2"), noinline)) uint64_t
gatherSpans(const char *base, const Spans &s, int64_t begin, int64_t end,
            int prefetch) {
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256(), _mm256_setzero_si256()};
  for (int64_t k = begin; k < end; ++k) {
    if (prefetch) {
      int64_t a = std::min(k + prefetch, end - 1);
      const char *ahead = base + s.offsets[a];
      for (int64_t line = 0; line < s.lengths[a]; line += 64)
        _mm_prefetch(ahead + line, _MM_HINT_T0);
      _mm_prefetch(ahead + s.lengths[a] - 1, _MM_HINT_T0);
    }
    acc[k & 3] = touchRow(base + s.offsets[k], s.lengths[k], acc[k & 3]);
  }
  __m256i all = _mm256_or_si256(_mm256_or_si256(acc[0], acc[1]),
                                _mm256_or_si256(acc[2], acc[3]));
  return uint64_t(_mm256_extract_epi64(all, 0));
}

/// Seconds per pass over all spans on `threads` threads (contiguous
/// parts), median of 7 timings of enough passes for ~20 ms.
double timeGather(const char *base, const Spans &s, int threads,
                  int prefetch) {
  int64_t n = s.offsets.size();
  std::vector<uint64_t> sinks(threads);
  auto pass = [&](int passes) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        int64_t begin = n * t / threads, end = n * (t + 1) / threads;
        for (int p = 0; p < passes; ++p)
          sinks[t] += gatherSpans(base, s, begin, end, prefetch);
      });
    for (auto &th : pool)
      th.join();
  };
  pass(1); // warm
  int passes = 1;
  for (;;) {
    auto t0 = Clock::now();
    pass(passes);
    double sec = std::chrono::duration<double>(Clock::now() - t0).count();
    if (sec > 0.02 || passes > (1 << 20))
      break;
    passes *= 2;
  }
  std::vector<double> times;
  for (int r = 0; r < 7; ++r) {
    auto t0 = Clock::now();
    pass(passes);
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count() /
                    passes);
  }
  std::nth_element(times.begin(), times.begin() + 3, times.end());
  volatile uint64_t sink = 0;
  for (uint64_t v : sinks)
    sink = sink + v;
  return times[3];
}

void printJsonString(const std::string &s) {
  std::putchar('"');
  for (char c : s) {
    if (c == '"' || c == '\\')
      std::putchar('\\');
    if (static_cast<unsigned char>(c) >= 0x20)
      std::putchar(c);
  }
  std::putchar('"');
}

} // namespace

int main(int argc, char **argv) {
  int threads = 1;
  std::vector<std::string> gathers;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--threads=", 0) == 0) {
      threads = std::atoi(arg.c_str() + 10);
      if (threads < 1 || threads > 256) {
        std::fprintf(stderr, "%s: --threads must be 1..256\n", argv[0]);
        return 1;
      }
    } else if (arg.rfind("--gather=", 0) == 0) {
      gathers.push_back(arg.substr(9));
    } else {
      std::fprintf(stderr,
                   "usage: %s [--threads=N] [--gather=FILE]...\n"
                   "prints this CPU's peak GOPS per instruction and the "
                   "time of each gather (see bench/roofline.cpp)\n",
                   argv[0]);
      return arg == "--help" || arg == "-h" ? 0 : 1;
    }
  }
  std::vector<Spans> all(gathers.size());
  for (size_t g = 0; g < gathers.size(); ++g) {
    std::string error;
    if (!readSpans(gathers[g], all[g], error)) {
      std::fprintf(stderr, "%s: %s\n", argv[0], error.c_str());
      return 1;
    }
  }

  uint32_t f = recq_cpu_features();
  auto has = [&](uint32_t mask) { return (f & mask) == mask; };
  std::printf("{\"cpu\": ");
  printJsonString(cpuModel());
  std::printf(", \"threads\": %d, \"features\": [", threads);
  bool first = true;
  for (uint32_t bit = 1; bit < (1u << RECQ_CPU_NUM_FEATURES); bit <<= 1)
    if (f & bit) {
      std::printf("%s\"%s\"", first ? "" : ", ", recq_cpu_feature_name(bit));
      first = false;
    }
  std::printf("],\n \"peaks_gops\": {");
  struct Peak {
    const char *name;
    uint32_t needs;
    double (*fn)();
  } peaks[] = {
      {"fma_ymm", RECQ_CPU_AVX2 | RECQ_CPU_FMA, peakFmaYmm},
      {"fma_zmm", RECQ_CPU_AVX512F, peakFmaZmm},
      {"vpmaddwd", RECQ_CPU_AVX2, peakVpmaddwd},
      {"vpdpbusd", RECQ_CPU_AVX512F | RECQ_CPU_AVX512VNNI, peakVpdpbusd},
      {"vdpbf16ps", RECQ_CPU_AVX512F | RECQ_CPU_AVX512BF16, peakVdpbf16ps},
      {"tdpbusd", RECQ_CPU_AMX_TILE | RECQ_CPU_AMX_INT8, peakTdpbusd},
      {"tdpbf16ps", RECQ_CPU_AMX_TILE | RECQ_CPU_AMX_BF16, peakTdpbf16ps},
  };
  first = true;
  for (const Peak &p : peaks) {
    if (!has(p.needs))
      continue;
    std::printf("%s\"%s\": %.1f", first ? "" : ", ", p.name,
                onThreads(p.fn, threads));
    std::fflush(stdout);
    first = false;
  }
  std::printf("},\n \"gathers\": [");
  for (size_t g = 0; g < all.size(); ++g) {
    const Spans &s = all[g];
    size_t bytes = (s.bytes + (2 << 20) - 1) & ~size_t((2 << 20) - 1);
    void *mem = mmap(nullptr, bytes ? bytes : 1, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
      std::fprintf(stderr, "%s: cannot map %zu bytes for '%s'\n", argv[0],
                   bytes, s.path.c_str());
      return 1;
    }
    madvise(mem, bytes, MADV_HUGEPAGE);
    std::memset(mem, 0x5a, bytes);
    double bestSec = 0;
    int bestPrefetch = 0;
    for (int prefetch : {0, 4, 8, 16, 32}) {
      double sec = timeGather(static_cast<const char *>(mem), s, threads,
                              prefetch);
      if (bestSec == 0 || sec < bestSec) {
        bestSec = sec;
        bestPrefetch = prefetch;
      }
    }
    munmap(mem, bytes);
    std::printf("%s\n  {\"file\": ", g ? "," : "");
    printJsonString(s.path);
    std::printf(", \"spans\": %zu, \"bytes\": %lld, \"buffer_bytes\": %lld, "
                "\"seconds\": %.4e, \"prefetch\": %d}",
                s.offsets.size(), static_cast<long long>(s.touched),
                static_cast<long long>(s.bytes), bestSec, bestPrefetch);
    std::fflush(stdout);
  }
  std::printf("]}\n");
  return 0;
}
