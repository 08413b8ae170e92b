/*===- recq_row_cache.h - Hot rows of remote tables, in the process -*- C
 *-*-===*
 *
 * Private to lib/Runtime. See recq_row_cache.c. Times are CLOCK_MONOTONIC
 * milliseconds, all positive.
 *
 *===----------------------------------------------------------------------===*/

#ifndef RECQ_RUNTIME_RECQ_ROW_CACHE_H
#define RECQ_RUNTIME_RECQ_ROW_CACHE_H

#include <stdint.h>

#ifndef RECQ_INTERNAL
#define RECQ_INTERNAL __attribute__((visibility("hidden")))
#endif

typedef struct recq_row_cache recq_row_cache;

/* A cache of rows of `row_bytes` in about `bytes` (NULL when that is less
   than 16 rows, or out of memory), each served for `ttl_ms`. */
RECQ_INTERNAL recq_row_cache *
recq_row_cache_create(int64_t row_bytes, int64_t bytes, int64_t ttl_ms);
RECQ_INTERNAL void recq_row_cache_destroy(recq_row_cache *c);
/* Rows it holds at most. */
RECQ_INTERNAL int64_t recq_row_cache_capacity(const recq_row_cache *c);
/* Copies `row` to `out` when it holds it, fresh at `now_ms`: 1, else 0. */
RECQ_INTERNAL int recq_row_cache_get(recq_row_cache *c, int64_t row,
                                     int64_t now_ms, char *out);
/* Keeps `row`'s bytes, read from the store by a fetch that started at
   `stamp_ms`, unless a newer read or a later drop holds the row. */
RECQ_INTERNAL void recq_row_cache_put(recq_row_cache *c, int64_t row,
                                      int64_t stamp_ms, const char *bytes);
/* Forgets `row` (updated in the store at about `now_ms`): reads that
   started before then do not put it back. */
RECQ_INTERNAL void recq_row_cache_drop(recq_row_cache *c, int64_t row,
                                       int64_t now_ms);

/* Forgets every row read before `now_ms` (announcements may have been
   missed). */
RECQ_INTERNAL void recq_row_cache_forget_before(recq_row_cache *c,
                                                int64_t now_ms);

#endif /* RECQ_RUNTIME_RECQ_ROW_CACHE_H */
