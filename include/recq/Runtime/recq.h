/*===- recq.h - C API of a model compiled by recq -----------------*- C -*-===*
 *
 * A model compiled by `recq-compile model.onnx -o model.so` carries this API
 * (the runtime is linked into it). Link with model.so, or dlopen it:
 *
 *   recq_status st;
 *   recq_model *m = recq_model_load(NULL, &st);
 *   const void *inputs[] = {dense_x, offsets, indices_0, ...};
 *   const int64_t *shapes[] = {dense_x_shape, ...};
 *   recq_model_run(m, inputs, shapes, out, out_capacity, &st);
 *   recq_model_free(m);
 *
 * Every index is checked against its table's row count and every offsets
 * vector for order and range before the compiled code runs: a bad input
 * returns RECQ_ERR_INDEX with a message naming table, sample and value.
 *
 *===----------------------------------------------------------------------===*/

#ifndef RECQ_RUNTIME_RECQ_H
#define RECQ_RUNTIME_RECQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RECQ_EXPORT
#define RECQ_EXPORT __attribute__((visibility("default")))
#endif

typedef enum recq_status_code {
  RECQ_OK = 0,
  RECQ_ERR_ARGUMENT = 1, /* a NULL pointer, a wrong count */
  RECQ_ERR_SHAPE = 2,    /* an input shape the model does not take */
  RECQ_ERR_INDEX = 3,    /* an index or offset outside its table/input */
  RECQ_ERR_CPU = 4,      /* this CPU lacks the model's instruction set */
  RECQ_ERR_MEMORY = 5,   /* out of memory, or the output buffer is small */
  RECQ_ERR_STORE = 6,    /* the row store of remote tables failed: a node
                            down or slow past the deadline, a missing or
                            malformed row (docs/RemoteTables.md) */
} recq_status_code;

typedef struct recq_status {
  int code;
  char message[256];
} recq_status;

typedef struct recq_model recq_model;

/// Loads the model this library carries. `path` names its weights file
/// (NULL: model.weights next to the library). The library holds the model
/// compiled for one or more targets (recq-compile --targets); the load
/// picks the first, best first, that this CPU runs, or the one the
/// RECQ_TARGET environment variable names. Fails with RECQ_ERR_CPU when
/// the CPU runs none of them, or not the one named.
RECQ_EXPORT recq_model *recq_model_load(const char *path, recq_status *st);

/// recq_model_load with options; a NULL `options` is all defaults.
typedef struct recq_load_options {
  const char *weights_path; /* as recq_model_load's `path` */
  /* Run this variant ("avx2", "avx512-vnni", ...; NULL or "": pick, or
     RECQ_TARGET when set). Fails with RECQ_ERR_ARGUMENT when the library
     has no such variant, RECQ_ERR_CPU when this CPU cannot run it. */
  const char *target;
  /* The row store of the model's remote tables (recq-compile
     --remote-tables; docs/RemoteTables.md): "redis://host:port[,...]";
     NULL or "": RECQ_TABLE_STORE. A model with remote tables fails to load
     without one (RECQ_ERR_ARGUMENT) or when no node answers
     (RECQ_ERR_STORE). */
  const char *table_store;
  /* Deadline of each call's fetch, in ms (0: RECQ_TABLE_STORE_TIMEOUT_MS,
     else 1000). */
  int table_store_timeout_ms;
  /* Bytes of hot remote rows kept in the process, shared by its threads
     (0: RECQ_TABLE_CACHE_BYTES, else 256 MiB; -1: no cache), and how long
     a kept row is served after it was read, in ms (0:
     RECQ_TABLE_CACHE_TTL_MS, else 1000): the bound on how stale a row can
     be after an update (announced updates drop rows sooner). */
  int64_t table_cache_bytes;
  int table_cache_ttl_ms;
} recq_load_options;
RECQ_EXPORT recq_model *recq_model_load_with(const recq_load_options *options,
                                             recq_status *st);
RECQ_EXPORT void recq_model_free(recq_model *m);

/// What a model's remote tables did since the load (docs/RemoteTables.md).
typedef struct recq_table_store_stats {
  uint64_t calls;         /* runs that read remote rows */
  uint64_t lookups;       /* distinct rows they needed (per call, summed) */
  uint64_t cache_hits;    /* of those, rows the cache held */
  uint64_t fetched_rows;  /* rows read from the store */
  uint64_t commands;      /* the store's MGET commands, retries included */
  uint64_t redirects;     /* MOVED and ASK replies followed */
  uint64_t retries;       /* rounds that sent commands again */
  uint64_t dropped_rows;  /* rows dropped by update announcements */
  uint64_t subscriptions; /* times the listener for announcements
                             subscribed (0: not yet; more: it lost its node
                             and subscribed again, dropping every row) */
  double fetch_seconds;   /* time spent in exchanges with the store */
  int64_t cache_rows;     /* rows the cache holds at most (0: no cache) */
} recq_table_store_stats;
/// Fills `out`; -1 when the model has no remote tables.
RECQ_EXPORT int recq_model_table_store_stats(recq_model *m,
                                             recq_table_store_stats *out);

/// Threads a run uses: batch tiles run in parallel on a pool the model
/// owns (the calling thread takes one tile). Set at load from
/// RECQ_NUM_THREADS, else the number of online CPUs. Results do not depend
/// on the thread count. Returns the count now in effect.
RECQ_EXPORT int recq_model_set_threads(recq_model *m, int threads);
RECQ_EXPORT int recq_model_threads(const recq_model *m);

/// Introspection.
RECQ_EXPORT int recq_model_num_inputs(const recq_model *m);
RECQ_EXPORT int recq_model_num_outputs(const recq_model *m);
/// Name, dtype (1 f32, 2 i64, 3 i32), rank and shape (-1: dynamic) of input
/// or output `i`; `shape` must hold `rank` entries (8 is always enough).
RECQ_EXPORT const char *recq_model_input_name(const recq_model *m, int i);
RECQ_EXPORT int recq_model_input_info(const recq_model *m, int i, int *dtype,
                                      int *rank, int64_t *shape);
RECQ_EXPORT const char *recq_model_output_name(const recq_model *m, int i);
RECQ_EXPORT int recq_model_output_info(const recq_model *m, int i, int *dtype,
                                       int *rank, int64_t *shape);
RECQ_EXPORT int recq_model_num_tables(const recq_model *m);
RECQ_EXPORT int64_t recq_model_table_rows(const recq_model *m, int t);
/// Which inputs table `t` reads: its indices, its offsets (-1: fixed-length
/// bags of a [B, L] indices input), the row of a [T, B] offsets input (-1:
/// 1-D offsets), and whether its offsets include the last one.
RECQ_EXPORT int recq_model_table_info(const recq_model *m, int t,
                                      int *indices_input, int *offsets_input,
                                      int64_t *offsets_row,
                                      int *include_last_offset);
/// The row table `t` reads of a stacked [T, B, L] (or [T, B]) indices
/// input of fixed-length bags, -1 when it reads the whole input (or t is
/// out of range).
RECQ_EXPORT int64_t recq_model_table_indices_row(const recq_model *m, int t);
/// The target of the variant this model runs.
RECQ_EXPORT const char *recq_model_target(const recq_model *m);
/// Why the load picked it, one line ("the best of 4 this CPU runs;
/// avx512-vnni lacks avx512_vnni", "RECQ_TARGET=avx2").
RECQ_EXPORT const char *recq_model_target_reason(const recq_model *m);
/// The variants the library holds, best first: target and the CPU feature
/// mask it needs (recq_cpu.h). Returns NULL for an index out of range.
RECQ_EXPORT int recq_model_num_variants(const recq_model *m);
RECQ_EXPORT const char *recq_model_variant(const recq_model *m, int i,
                                           uint32_t *cpu_features);
/// The precision plan the model was compiled with (recq-compile
/// --accuracy-budget or --plan) as JSON, the format of --emit-plan; NULL
/// when it was compiled without one.
RECQ_EXPORT const char *recq_model_plan(const recq_model *m);

/// The per-op profile of a model compiled with `recq-compile --profile`
/// (docs/Profiling.md): how many ops it times (0 without --profile; -1 on
/// NULL).
RECQ_EXPORT int recq_model_profile_size(const recq_model *m);
/// Op i of the profile: its name ("qfc /top/top.0/Gemm", or "embedding
/// bags (the runtime's calls)"), and since the load or the last reset the
/// nanoseconds its code took, summed over threads, and how many times it
/// ran. NULL when i is out of range. Every model loaded from the same
/// library shares the counters.
RECQ_EXPORT const char *recq_model_profile_op(const recq_model *m, int i,
                                              uint64_t *nanoseconds,
                                              uint64_t *calls);
/// Sets the profile's counters to 0.
RECQ_EXPORT void recq_model_profile_reset(recq_model *m);

/// The model's mapped weights file (`model.weights`): its size in bytes
/// (0 when the model has none) and how many of them huge pages map (-1
/// when the system does not say). Returns 0, or -1 on NULL.
RECQ_EXPORT int recq_model_weights_info(const recq_model *m, int64_t *bytes,
                                        int64_t *huge_bytes);

/// Number of floats output 0 has for inputs of these shapes (its batch
/// comes from the dense inputs or the bags), to size `out`; -1 on NULL.
RECQ_EXPORT int64_t recq_model_output_size(const recq_model *m,
                                           const int64_t *const *shapes);

/// Runs the model: `inputs[i]` points at input i's data (row-major, its
/// dtype; NULL is allowed for an input without elements, such as the
/// indices of a batch whose bags are all empty), `shapes[i]` at its
/// dimensions. Output 0 (f32) is written to `out` (room for `out_capacity`
/// floats); its shape to `out_shape` (rank entries). Returns the status code,
/// also stored in `st`. Safe to call from several threads at once.
RECQ_EXPORT int recq_model_run(const recq_model *m, const void *const *inputs,
                               const int64_t *const *shapes, float *out,
                               size_t out_capacity, int64_t *out_shape,
                               recq_status *st);

#ifdef __cplusplus
}
#endif

#endif /* RECQ_RUNTIME_RECQ_H */
