/*===- recq_cpu.c - CPU feature detection ---------------------------------===*
 *
 * CPUID tells what the CPU implements; XGETBV tells whether the OS saves the
 * YMM/ZMM state, without which AVX and AVX-512 instructions fault. A feature
 * counts only when both agree.
 *
 *===----------------------------------------------------------------------===*/

#include "recq/Runtime/recq_cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* Linux (5.16+) gives a process the AMX tile data state only on request;
   a tile instruction without it faults. Asking again is harmless. */
static int os_grants_amx(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
  enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
  return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
  return 0;
#endif
}

static uint64_t read_xcr0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

static uint32_t detect_features(void) {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
    return 0;
  const int osxsave = (ecx >> 27) & 1;
  const int has_fma = (ecx >> 12) & 1;
  const int has_f16c = (ecx >> 29) & 1;
  if (!osxsave)
    return 0;
  const uint64_t xcr0 = read_xcr0();
  const int os_avx = (xcr0 & 0x6) == 0x6;           /* XMM and YMM state */
  const int os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM */
  if (!os_avx)
    return 0;

  uint32_t features = 0;
  if (has_fma)
    features |= RECQ_CPU_FMA;
  if (has_f16c)
    features |= RECQ_CPU_F16C;

  unsigned max_leaf = __get_cpuid_max(0, NULL);
  if (max_leaf < 7)
    return features;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned leaf7_max_subleaf = eax;
  if ((ebx >> 5) & 1)
    features |= RECQ_CPU_AVX2;
  if (os_avx512) {
    if ((ebx >> 16) & 1)
      features |= RECQ_CPU_AVX512F;
    if ((ebx >> 30) & 1)
      features |= RECQ_CPU_AVX512BW;
    if ((ebx >> 31) & 1)
      features |= RECQ_CPU_AVX512VL;
    if ((ecx >> 11) & 1)
      features |= RECQ_CPU_AVX512VNNI;
  }
  /* AMX: the CPU has it, the OS saves XTILECFG and XTILEDATA, and lets
     this process use them. */
  const int os_amx = (xcr0 & 0x60000) == 0x60000;
  const int has_amx_tile = (edx >> 24) & 1;
  if (os_amx && has_amx_tile && os_grants_amx()) {
    features |= RECQ_CPU_AMX_TILE;
    if ((edx >> 25) & 1)
      features |= RECQ_CPU_AMX_INT8;
    if ((edx >> 22) & 1)
      features |= RECQ_CPU_AMX_BF16;
  }
  if (leaf7_max_subleaf >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    if ((eax >> 4) & 1)
      features |= RECQ_CPU_AVXVNNI;
    if (os_avx512 && ((eax >> 5) & 1))
      features |= RECQ_CPU_AVX512BF16;
  }
  return features;
}
#else
static uint32_t detect_features(void) { return 0; }
#endif

static const char *const kFeatureNames[RECQ_CPU_NUM_FEATURES] = {
    "fma",     "f16c",        "avx2",        "avx512f", "avx512bw",
    "avx512vl", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile",
    "amx_int8", "amx_bf16"};

/* The features RECQ_CPU_DISABLE names ("avx512f,avx512_vnni"), as a mask. */
static uint32_t disabled_features(void) {
  const char *list = getenv("RECQ_CPU_DISABLE");
  uint32_t mask = 0;
  while (list && *list) {
    size_t n = strcspn(list, ",");
    for (int i = 0; i < RECQ_CPU_NUM_FEATURES; ++i)
      if (strlen(kFeatureNames[i]) == n &&
          strncmp(list, kFeatureNames[i], n) == 0)
        mask |= 1u << i;
    list += n + (list[n] == ',');
  }
  return mask;
}

uint32_t recq_cpu_features(void) {
  return detect_features() & ~disabled_features();
}

const char *recq_cpu_feature_name(uint32_t feature) {
  for (int i = 0; i < RECQ_CPU_NUM_FEATURES; ++i)
    if (feature == (1u << i))
      return kFeatureNames[i];
  return NULL;
}

int recq_target_features(const char *target, uint32_t *mask) {
  const uint32_t avx2 = RECQ_CPU_AVX2 | RECQ_CPU_FMA | RECQ_CPU_F16C;
  const uint32_t avx512 =
      avx2 | RECQ_CPU_AVX512F | RECQ_CPU_AVX512BW | RECQ_CPU_AVX512VL;
  if (!target)
    return -1;
  if (strcmp(target, "generic") == 0)
    *mask = 0;
  else if (strcmp(target, "avx2") == 0)
    *mask = avx2;
  else if (strcmp(target, "avx512") == 0)
    *mask = avx512;
  else if (strcmp(target, "avx512-vnni") == 0)
    *mask = avx512 | RECQ_CPU_AVX512VNNI;
  else if (strcmp(target, "avx512-bf16") == 0)
    *mask = avx512 | RECQ_CPU_AVX512VNNI | RECQ_CPU_AVX512BF16;
  else if (strcmp(target, "amx") == 0)
    *mask = avx512 | RECQ_CPU_AVX512VNNI | RECQ_CPU_AVX512BF16 |
            RECQ_CPU_AMX_TILE | RECQ_CPU_AMX_INT8 | RECQ_CPU_AMX_BF16;
  else
    return -1;
  return 0;
}

int recq_cpu_missing(uint32_t mask, char *buf, size_t size) {
  const uint32_t missing = mask & ~recq_cpu_features();
  size_t used = 0;
  int count = 0;
  if (size > 0)
    buf[0] = '\0';
  for (int i = 0; i < RECQ_CPU_NUM_FEATURES; ++i) {
    if (!(missing & (1u << i)))
      continue;
    if (size > used) {
      int n = snprintf(buf + used, size - used, "%s%s", count ? "," : "",
                       kFeatureNames[i]);
      if (n > 0)
        used += (size_t)n < size - used ? (size_t)n : size - used - 1;
    }
    ++count;
  }
  return count;
}
