/*===- recq_host.c - What the operating system offers the runtime ---------===*
 *
 * See recq_host.h.
 *
 *===----------------------------------------------------------------------===*/

#include "recq/Runtime/recq_host.h"

#include <stdio.h>
#include <string.h>

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
