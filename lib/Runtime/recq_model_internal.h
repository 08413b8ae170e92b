/*===- recq_model_internal.h - What the model runtime shares -------*- C -*-===*
 *
 * Private to lib/Runtime (not installed): struct recq_model, the limits
 * the model runtime's files agree on, and the functions one of them
 * defines and another calls. Those are hidden (RECQ_INTERNAL), so no
 * model.so exports them, and prefixed recq_internal_, so none collides
 * with a symbol of the program or the generated code.
 *
 *===----------------------------------------------------------------------===*/

#ifndef RECQ_RUNTIME_RECQ_MODEL_INTERNAL_H
#define RECQ_RUNTIME_RECQ_MODEL_INTERNAL_H

#include "recq/Runtime/recq.h"
#include "recq/Runtime/recq_abi.h"

#include "recq_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#ifndef RECQ_INTERNAL
#define RECQ_INTERNAL __attribute__((visibility("hidden")))
#endif

#define RECQ_MAX_RANK 8
#define RECQ_MAX_INPUTS 128
#define RECQ_MAX_PARTS 64
/* Batch tiles for the caches (recq_model_run): a tile's pooled rows, the
   [n, T, D] f32 the interaction reads (the widest activation of a
   DLRM), take about this many bytes, and a tile holds at least
   RECQ_MIN_CACHE_TILE samples, so the FCs still see enough rows.
   RECQ_TILE_SAMPLES overrides the tile at load (0: whole batches). On the
   MLPerf-shaped DLRM (T = 26, D = 128: 13 KiB a sample, so 157-sample
   tiles) batch 2048 took 28 ms a call in 128- to 256-sample tiles against
   33 ms whole (one thread, the AVX-512 VM; docs/performance.md). */
#define RECQ_TILE_BYTES ((int64_t)2 << 20)
#define RECQ_MIN_CACHE_TILE 128
/* Each tile reads every FC weight again: no tiles when they take more than
   this (the fp32 MLPerf-shaped model, 9.6 MB of weights, was 5% slower in
   157-sample tiles and no faster in 512- or 1024-sample ones; its int8
   twin, 2.4 MB, 14% faster). */
#define RECQ_TILE_MAX_WEIGHT_BYTES ((uint64_t)4 << 20)

/* How an input is cut into batch tiles. */
enum {
  ROLE_NONE,
  ROLE_DENSE,
  ROLE_OFFSETS,
  ROLE_INDICES,
  ROLE_FIXED,
  ROLE_WEIGHTS
};

struct recq_model {
  const recq_model_desc *desc;
  const recq_variant_desc *variant; /* the one this model runs */
  char variant_reason[192];         /* why (recq_model_target_reason) */
  char *weights; /* the mmapped model.weights (read-only), or NULL */
  size_t weights_bytes;
  /* RECQ_MMAP_POPULATE=background: the thread reading model.weights in
     (see map_weights), stopped and joined before the unmap. */
  pthread_t populator;
  int populating;
  atomic_int stop_populating;
  /* RECQ_GUARD_WEIGHTS: each weight's own copy between inaccessible
     pages (see guard_weights); NULL when off. */
  const char *guarded[RECQ_MAX_INPUTS];
  char *guard_maps[RECQ_MAX_INPUTS];
  size_t guard_bytes[RECQ_MAX_INPUTS];
  recq_pool *pool;
  int threads;
  /* Samples per batch tile (recq_model_run cuts larger batches so that
     each tile's activations stay in cache); 0: the whole batch. */
  int64_t tile_samples;
  int splittable;
  int role[RECQ_MAX_INPUTS];
  int table_of[RECQ_MAX_INPUTS]; /* the table reading an indices or
                                    weights input */
  /* Remote tables (recq_remote.c): the row store their rows are in, NULL
     when the model has none; how many tables read from it. */
  struct recq_row_store *store;
  int num_remote;
  /* Their hot rows (per weight; NULL: none) and the thread that drops rows
     announced as updated; what the fetches did (recq_table_store_stats). */
  struct recq_row_cache *caches[RECQ_MAX_INPUTS];
  struct recq_row_store_listener *listener;
  int64_t cache_rows;
  struct recq_remote_counters *counters;
};

/* What a model's fetches did (recq_model_table_store_stats); counted by
   calls on a const model, so held apart. */
typedef struct recq_remote_counters {
  _Atomic uint64_t calls, lookups, hits, fetched, dropped, subscriptions,
      fetch_ns;
} recq_remote_counters;

/* Sets st's code and message (printf-style; st may be NULL) and returns
   `code` (recq_status.c). */
RECQ_INTERNAL int recq_internal_set_status(recq_status *st, int code,
                                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Picks the variant of m->desc to run: `forced` ("" or NULL: the best
   this CPU runs; else that one, which this CPU must run), named by `by`
   in messages ("RECQ_TARGET", "the load option"). Sets m->variant and
   m->variant_reason (recq_model_variant.c). */
RECQ_INTERNAL int recq_internal_pick_variant(recq_model *m, const char *forced,
                                             const char *by, recq_status *st);

/*===----------------------------------------------------------------------===*
 * Remote tables (recq_remote.c)
 *===----------------------------------------------------------------------===*/

/* Opens the row store of a model with remote tables, its caches and the
   thread listening for updates, as `options` (or the environment) say. A
   model without remote tables opens nothing. */
RECQ_INTERNAL int recq_internal_remote_open(recq_model *m,
                                            const recq_load_options *options,
                                            recq_status *st);
RECQ_INTERNAL void recq_internal_remote_close(recq_model *m);

/* One call's remote rows: the inputs with each remote table's indices
   renumbered into its fetched rows, and those rows (weights[w], NULL for a
   weight read from model.weights). */
typedef struct recq_remote_call {
  const void *inputs[RECQ_MAX_INPUTS];
  const void *weights[RECQ_MAX_INPUTS];
  /* Per remote weight: its copy, and where each row fetched from the store
     goes in it (NULL: the fetch wrote the copy itself). */
  char *weights_owned[RECQ_MAX_INPUTS];
  int64_t *miss_at[RECQ_MAX_INPUTS];
  void *owned[6 * RECQ_MAX_INPUTS];
  int num_owned;
} recq_remote_call;

/* Checks the remote tables' indices and fetches their rows into `call`
   (released by recq_internal_remote_release; on failure nothing is
   held). */
RECQ_INTERNAL int recq_internal_remote_fetch(const recq_model *m,
                                             const void *const *inputs,
                                             const int64_t *const *shapes,
                                             recq_remote_call *call,
                                             recq_status *st);
RECQ_INTERNAL void recq_internal_remote_release(recq_remote_call *call);

/*===----------------------------------------------------------------------===*
 * Reading and checking inputs (recq_model_check.c)
 *===----------------------------------------------------------------------===*/

/// Reads element k of an integer input.
static inline int64_t int_at(const void *data, int32_t dtype, int64_t k) {
  return dtype == RECQ_DTYPE_I64 ? ((const int64_t *)data)[k]
                                 : ((const int32_t *)data)[k];
}

/* Table t's offsets: entry b is int_at(data, dtype, base + b), b < n (a
   1-D input, or row offsets_row of a [T, B] one). Only for tables with
   offsets. */
typedef struct offsets_view {
  const void *data;
  int32_t dtype;
  int64_t base, n;
} offsets_view;

RECQ_INTERNAL offsets_view recq_internal_offsets_of(
    const recq_model_desc *d, int t, const void *const *inputs,
    const int64_t *const *shapes);

static inline int64_t offset_at(offsets_view v, int64_t b) {
  return int_at(v.data, v.dtype, v.base + b);
}

/* How many indices table t reads. */
RECQ_INTERNAL int64_t recq_internal_indices_count(const recq_model_desc *d,
                                                  int t,
                                                  const int64_t *const *shapes);

/* Bags table t holds for inputs of these shapes. */
RECQ_INTERNAL int64_t recq_internal_bags_of(const recq_model_desc *d, int t,
                                            const int64_t *const *shapes);

/* Checks table t's offsets and its per-sample weights' shape. */
RECQ_INTERNAL int recq_internal_check_table(const recq_model_desc *d, int t,
                                            const void *const *inputs,
                                            const int64_t *const *shapes,
                                            recq_status *st);

/* The error for table t, whose kernel met an index outside the table. */
RECQ_INTERNAL int recq_internal_index_error(const recq_model_desc *d, int t,
                                            const void *const *inputs,
                                            const int64_t *const *shapes,
                                            int64_t sample_base,
                                            int64_t index_base,
                                            recq_status *st);

#endif /* RECQ_RUNTIME_RECQ_MODEL_INTERNAL_H */
