/*===- recq_host.h - What the operating system offers the runtime ---------===*
 *
 * C11, no LLVM/MLIR dependency (part of every model.so's runtime).
 *
 *===----------------------------------------------------------------------===*/

#ifndef RECQ_RUNTIME_RECQ_HOST_H
#define RECQ_RUNTIME_RECQ_HOST_H

#include "recq/Runtime/recq_cpu.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Linux's transparent huge pages setting. */
enum {
  RECQ_THP_UNKNOWN = 0, /* no such file (a kernel without THP), or unreadable */
  RECQ_THP_NEVER = 1,
  RECQ_THP_MADVISE = 2, /* only for memory advised with MADV_HUGEPAGE */
  RECQ_THP_ALWAYS = 3,
};

/* The bracketed choice in `path` (NULL:
   /sys/kernel/mm/transparent_hugepage/enabled), e.g. "always [madvise]
   never" is RECQ_THP_MADVISE. */
RECQ_EXPORT int recq_thp_mode(const char *path);

/* "always", "madvise", "never" or "unknown". */
RECQ_EXPORT const char *recq_thp_mode_name(int mode);

/* 1 when memory advised with MADV_HUGEPAGE may get transparent huge pages
   (the setting is `always` or `madvise`). */
RECQ_EXPORT int recq_thp_usable(void);

/* Bytes of the mappings that start in [p, p + len) which huge pages map
   (their AnonHugePages, FilePmdMapped and ShmemPmdMapped in `path`; NULL:
   /proc/self/smaps); -1 when it cannot be read. */
RECQ_EXPORT int64_t recq_huge_page_bytes(const void *p, size_t len,
                                         const char *path);

/* Reads [p, p + len) of a file mapping in and maps it
   (MADV_POPULATE_READ; on a kernel without it, before Linux 5.14,
   MADV_WILLNEED, which only starts the reads). It never touches a page
   itself: a page past the file's end (the file truncated under the
   mapping) makes it stop with -1 where a read would raise SIGBUS.
   Returns 0 when all of it is mapped, 1 when the reads were only started,
   -1 when part of it could not be read in. */
RECQ_EXPORT int recq_populate(void *p, size_t len);

/* MemAvailable of `path` (NULL: /proc/meminfo) in bytes; -1 when it
   cannot be read. */
RECQ_EXPORT int64_t recq_mem_available_bytes(const char *path);

/* How model.weights is read in (RECQ_MMAP_POPULATE). */
enum {
  RECQ_POPULATE_OFF = 0,        /* "0": each page on first use */
  RECQ_POPULATE_AT_LOAD = 1,    /* "1": all of it before the load returns */
  RECQ_POPULATE_BACKGROUND = 2, /* "background": a thread, from the load on */
};

/* The mode `setting` names ("0", "1", "background"; NULL or "": the
   default, background for a file of `bytes` at most half of `available`
   bytes (MemAvailable; negative: unknown, taken as enough), else off, so
   tables near or past the memory are not read in whole); -1 for any
   other setting. */
RECQ_EXPORT int recq_populate_mode(const char *setting, uint64_t bytes,
                                   int64_t available);

#ifdef __cplusplus
}
#endif

#endif /* RECQ_RUNTIME_RECQ_HOST_H */
