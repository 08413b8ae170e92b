/*===- recq_cpu.h - CPU feature detection for recq artifacts ------*- C -*-===*
 *
 * Which x86 instruction-set extensions this CPU and OS support, and which a
 * code-generation target needs. Artifacts check this at load time; the test
 * suite uses it to decide which kernels it can run. Plain C11, no LLVM.
 *
 *===----------------------------------------------------------------------===*/

#ifndef RECQ_RUNTIME_RECQ_CPU_H
#define RECQ_RUNTIME_RECQ_CPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define RECQ_EXPORT __declspec(dllexport)
#else
#define RECQ_EXPORT __attribute__((visibility("default")))
#endif

/// One bit per instruction-set extension. A bit is set only when both the
/// CPU has the extension and the OS saves the registers it uses (XCR0).
typedef enum recq_cpu_feature {
  RECQ_CPU_FMA = 1u << 0,
  RECQ_CPU_F16C = 1u << 1,
  RECQ_CPU_AVX2 = 1u << 2,
  RECQ_CPU_AVX512F = 1u << 3,
  RECQ_CPU_AVX512BW = 1u << 4,
  RECQ_CPU_AVX512VL = 1u << 5,
  RECQ_CPU_AVX512VNNI = 1u << 6,
  RECQ_CPU_AVX512BF16 = 1u << 7,
  RECQ_CPU_AVXVNNI = 1u << 8,
  RECQ_CPU_AMX_TILE = 1u << 9,
  RECQ_CPU_AMX_INT8 = 1u << 10,
  RECQ_CPU_AMX_BF16 = 1u << 11,
} recq_cpu_feature;

/// Number of distinct features in recq_cpu_feature.
#define RECQ_CPU_NUM_FEATURES 12

/// Bit mask of the features usable on this machine (0 on non-x86 hosts).
/// Computed once per call from CPUID/XGETBV; cheap, no allocation. The AMX
/// features count only when the OS also enables the tile state (XCR0 bits
/// 17 and 18) and grants this process its use: on Linux the first call
/// asks with arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), which
/// every AMX program must do once before its first tile instruction. The
/// features the environment variable RECQ_CPU_DISABLE lists (comma
/// separated, as recq_cpu_feature_name spells them) count as missing: a
/// test runs the code paths of a CPU without them.
RECQ_EXPORT uint32_t recq_cpu_features(void);

/// Lower-case name of one feature as Linux's /proc/cpuinfo spells it
/// ("avx512_vnni"), or NULL for a value that is not a single feature.
RECQ_EXPORT const char *recq_cpu_feature_name(uint32_t feature);

/// Features a code-generation target needs: "generic" (none), "avx2"
/// (AVX2, FMA, F16C), "avx512" (+ AVX512F/BW/VL), "avx512-vnni" (+ VNNI),
/// "avx512-bf16" (+ VNNI and AVX512_BF16), "amx" (+ AMX-TILE, AMX-INT8 and
/// AMX-BF16: every AMX CPU has AVX512_BF16).
/// Writes the mask to *mask and returns 0, or returns -1 for an unknown name.
RECQ_EXPORT int recq_target_features(const char *target, uint32_t *mask);

/// Writes the names of the features in `mask` that this machine lacks,
/// comma separated, to `buf` (always NUL-terminated when size > 0).
/// Returns the number of missing features.
RECQ_EXPORT int recq_cpu_missing(uint32_t mask, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* RECQ_RUNTIME_RECQ_CPU_H */
