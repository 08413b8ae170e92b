/*===- recq_host.c - What the operating system offers the runtime ---------===*
 *
 * See recq_host.h.
 *
 *===----------------------------------------------------------------------===*/

#include "recq/Runtime/recq_host.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older kernels say EINVAL */
#endif

int recq_thp_mode(const char *path) {
  FILE *f = fopen(path ? path : "/sys/kernel/mm/transparent_hugepage/enabled",
                  "r");
  if (!f)
    return RECQ_THP_UNKNOWN;
  char line[256];
  int mode = RECQ_THP_UNKNOWN;
  if (fgets(line, sizeof line, f)) {
    if (strstr(line, "[always]"))
      mode = RECQ_THP_ALWAYS;
    else if (strstr(line, "[madvise]"))
      mode = RECQ_THP_MADVISE;
    else if (strstr(line, "[never]"))
      mode = RECQ_THP_NEVER;
  }
  fclose(f);
  return mode;
}

const char *recq_thp_mode_name(int mode) {
  switch (mode) {
  case RECQ_THP_NEVER:
    return "never";
  case RECQ_THP_MADVISE:
    return "madvise";
  case RECQ_THP_ALWAYS:
    return "always";
  default:
    return "unknown";
  }
}

int recq_thp_usable(void) {
  int mode = recq_thp_mode(NULL);
  return mode == RECQ_THP_ALWAYS || mode == RECQ_THP_MADVISE;
}

int64_t recq_huge_page_bytes(const void *p, size_t len, const char *path) {
  FILE *f = fopen(path ? path : "/proc/self/smaps", "r");
  if (!f)
    return -1;
  uintptr_t lo = (uintptr_t)p, hi = lo + len;
  int inside = 0;
  int64_t kib = 0;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    uintptr_t start, end;
    /* A mapping's header: "start-end perms offset dev inode [path]". */
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &start, &end) == 2) {
      inside = start >= lo && start < hi;
      continue;
    }
    if (!inside)
      continue;
    static const char *const kHuge[] = {"AnonHugePages:", "FilePmdMapped:",
                                        "ShmemPmdMapped:"};
    for (size_t k = 0; k < sizeof kHuge / sizeof kHuge[0]; ++k) {
      size_t n = strlen(kHuge[k]);
      if (strncmp(line, kHuge[k], n) == 0)
        kib += strtoll(line + n, NULL, 10);
    }
  }
  fclose(f);
  return kib * 1024;
}

int64_t recq_mem_available_bytes(const char *path) {
  FILE *f = fopen(path ? path : "/proc/meminfo", "r");
  if (!f)
    return -1;
  char line[256];
  long long kib = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %lld kB", &kib) == 1)
      break;
  fclose(f);
  return kib < 0 ? -1 : (int64_t)kib * 1024;
}

int recq_populate_mode(const char *setting, uint64_t bytes, int64_t available) {
  if (!setting || !*setting)
    return available < 0 || bytes <= (uint64_t)available / 2
               ? RECQ_POPULATE_BACKGROUND
               : RECQ_POPULATE_OFF;
  if (strcmp(setting, "0") == 0)
    return RECQ_POPULATE_OFF;
  if (strcmp(setting, "1") == 0)
    return RECQ_POPULATE_AT_LOAD;
  if (strcmp(setting, "background") == 0)
    return RECQ_POPULATE_BACKGROUND;
  return -1;
}

int recq_populate(void *p, size_t len) {
#ifdef MADV_POPULATE_READ
  if (madvise(p, len, MADV_POPULATE_READ) == 0)
    return 0;
  if (errno != EINVAL)
    return -1; /* EFAULT: past the file's end; ENOMEM, EINTR: give up */
#endif
  return madvise(p, len, MADV_WILLNEED) == 0 ? 1 : -1;
}
