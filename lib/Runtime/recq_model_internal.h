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
  int splittable;
  int role[RECQ_MAX_INPUTS];
  int table_of[RECQ_MAX_INPUTS]; /* the table reading an indices or
                                    weights input */
};

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
