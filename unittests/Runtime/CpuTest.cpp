//===- CpuTest.cpp - CPU feature detection against /proc/cpuinfo ----------===//
//
// The kernel's view of the CPU (/proc/cpuinfo flags, which already account
// for XSAVE support) must agree with recq's CPUID/XGETBV detection.
//
//===----------------------------------------------------------------------===//

#include "recq/Runtime/recq_cpu.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace {

/// Flags of the first processor in /proc/cpuinfo; empty if unreadable.
std::set<std::string> procCpuFlags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0)
      continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;)
      flags.insert(w);
    return flags;
  }
  return {};
}

TEST(Cpu, AgreesWithProcCpuinfo) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "not an x86-64 host";
#endif
  std::set<std::string> flags = procCpuFlags();
  if (flags.empty())
    GTEST_SKIP() << "/proc/cpuinfo has no flags line";
  uint32_t features = recq_cpu_features();
  for (int i = 0; i < RECQ_CPU_NUM_FEATURES; ++i) {
    const char *name = recq_cpu_feature_name(1u << i);
    ASSERT_NE(name, nullptr);
    // AMX also needs the kernel's permission (arch_prctl; Linux 5.16+),
    // which /proc/cpuinfo does not show: detected implies listed.
    if (std::string(name).rfind("amx_", 0) == 0) {
      if ((features >> i) & 1u)
        EXPECT_EQ(flags.count(name), 1u) << "feature " << name;
      continue;
    }
    EXPECT_EQ((features >> i) & 1u, flags.count(name) ? 1u : 0u)
        << "feature " << name;
  }
}

TEST(Cpu, FeatureNamesAreSingleBits) {
  EXPECT_STREQ(recq_cpu_feature_name(RECQ_CPU_AVX512VNNI), "avx512_vnni");
  EXPECT_EQ(recq_cpu_feature_name(0), nullptr);
  EXPECT_EQ(recq_cpu_feature_name(RECQ_CPU_AVX2 | RECQ_CPU_FMA), nullptr);
}

TEST(Cpu, TargetsNestAndUnknownIsRejected) {
  uint32_t generic = 1, avx2 = 0, avx512 = 0, vnni = 0, bf16 = 0, unknown = 7;
  ASSERT_EQ(recq_target_features("generic", &generic), 0);
  ASSERT_EQ(recq_target_features("avx2", &avx2), 0);
  ASSERT_EQ(recq_target_features("avx512", &avx512), 0);
  ASSERT_EQ(recq_target_features("avx512-vnni", &vnni), 0);
  ASSERT_EQ(recq_target_features("avx512-bf16", &bf16), 0);
  EXPECT_EQ(generic, 0u);
  EXPECT_EQ(avx2 & ~avx512, 0u) << "avx512 must include avx2";
  EXPECT_EQ(avx512 & ~vnni, 0u) << "avx512-vnni must include avx512";
  EXPECT_TRUE(vnni & RECQ_CPU_AVX512VNNI);
  EXPECT_EQ(vnni & ~bf16, 0u) << "avx512-bf16 must include avx512-vnni";
  EXPECT_TRUE(bf16 & RECQ_CPU_AVX512BF16);
  uint32_t amx = 0;
  ASSERT_EQ(recq_target_features("amx", &amx), 0);
  EXPECT_EQ(bf16 & ~amx, 0u) << "amx must include avx512-bf16";
  EXPECT_EQ(amx & (RECQ_CPU_AMX_TILE | RECQ_CPU_AMX_INT8 | RECQ_CPU_AMX_BF16),
            uint32_t(RECQ_CPU_AMX_TILE | RECQ_CPU_AMX_INT8 | RECQ_CPU_AMX_BF16));
  EXPECT_EQ(recq_target_features("avx1024", &unknown), -1);
  EXPECT_EQ(unknown, 7u) << "an unknown target leaves the mask alone";
  EXPECT_EQ(recq_target_features(nullptr, &unknown), -1);
}

TEST(Cpu, MissingListsExactlyTheAbsentFeatures) {
  uint32_t have = recq_cpu_features();
  char buf[256];
  EXPECT_EQ(recq_cpu_missing(have, buf, sizeof buf), 0);
  EXPECT_STREQ(buf, "");

  uint32_t all = (1u << RECQ_CPU_NUM_FEATURES) - 1;
  int missing = recq_cpu_missing(all, buf, sizeof buf);
  EXPECT_EQ(missing, __builtin_popcount(all & ~have));
  for (int i = 0; i < RECQ_CPU_NUM_FEATURES; ++i) {
    const char *name = recq_cpu_feature_name(1u << i);
    bool listed = false;
    std::istringstream parts(buf);
    for (std::string part; std::getline(parts, part, ',');)
      listed |= part == name;
    EXPECT_EQ(listed, !(have & (1u << i))) << name << " in '" << buf << "'";
  }
}

TEST(Cpu, MissingTruncatesSafely) {
  char buf[4];
  std::memset(buf, 'x', sizeof buf);
  recq_cpu_missing((1u << RECQ_CPU_NUM_FEATURES) - 1, buf, sizeof buf);
  EXPECT_NE(std::memchr(buf, '\0', sizeof buf), nullptr)
      << "the output is NUL-terminated within the buffer";
  EXPECT_EQ(recq_cpu_missing(0, nullptr, 0), 0);
}

} // namespace
