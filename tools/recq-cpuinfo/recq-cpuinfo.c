/*===- recq-cpuinfo.c - print the CPU features recq can use ---------------===*
 *
 * Prints one feature name per line, as the runtime detects them; with
 * `--targets`, the code-generation targets this machine can run instead.
 * The lit configuration turns these into available_features.
 *
 *===----------------------------------------------------------------------===*/

#include "recq/Runtime/recq_cpu.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  const uint32_t features = recq_cpu_features();
  if (argc == 2 && strcmp(argv[1], "--targets") == 0) {
    static const char *const targets[] = {"generic", "avx2", "avx512",
                                          "avx512-vnni", "avx512-bf16", "amx"};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); ++i) {
      uint32_t mask = 0;
      if (recq_target_features(targets[i], &mask) == 0 &&
          (mask & ~features) == 0)
        printf("%s\n", targets[i]);
    }
    return 0;
  }
  if (argc != 1) {
    int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
    fprintf(help ? stdout : stderr,
            "usage: recq-cpuinfo [--targets]\n"
            "  the x86 features recq's runtime detects, one per line; "
            "--targets: the code-generation targets this CPU runs\n"
            "exit status: 0 printed; 1 bad usage\n");
    return help ? 0 : 1;
  }
  for (int i = 0; i < RECQ_CPU_NUM_FEATURES; ++i)
    if (features & (1u << i))
      printf("%s\n", recq_cpu_feature_name(1u << i));
  return 0;
}
