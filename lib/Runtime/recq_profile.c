/*===- recq_profile.c - The per-op profile (recq-compile --profile) -------===*
 *
 * Part of the model runtime. Code compiled with --profile calls
 * recq_profile_mark(id) before each profiled op and recq_profile_mark(-1)
 * before it returns (recq-insert-profile-marks); the runtime wraps its calls
 * of the tables' functions the same way. The time from one mark to the
 * next on the same thread goes to the first mark's op, so everything
 * between two profiled ops (slices, copies, frees) counts as the first.
 *
 * The counters are this library's own (static, and the runtime is linked
 * into each model.so): every model loaded from the same file shares them.
 * Adds are relaxed atomics, so threads running at once sum their times.
 *
 *===----------------------------------------------------------------------===*/

#include "recq_model_internal.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* The most ops a profile holds; ids beyond it are not counted (and
   recq_model_profile_size says how many are). */
#define RECQ_PROFILE_MAX_OPS 1024

static _Atomic uint64_t op_nanoseconds[RECQ_PROFILE_MAX_OPS];
static _Atomic uint64_t op_calls[RECQ_PROFILE_MAX_OPS];
static _Thread_local int32_t current = -1;
static _Thread_local uint64_t since;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((visibility("hidden"))) void recq_profile_mark(int32_t id) {
  uint64_t now = now_ns();
  if (current >= 0 && current < RECQ_PROFILE_MAX_OPS) {
    atomic_fetch_add_explicit(&op_nanoseconds[current], now - since,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&op_calls[current], 1, memory_order_relaxed);
  }
  current = id;
  since = now;
}

int recq_model_profile_size(const recq_model *m) {
  if (!m)
    return -1;
  int n = m->desc->num_profile_ops;
  return n < RECQ_PROFILE_MAX_OPS ? n : RECQ_PROFILE_MAX_OPS;
}

const char *recq_model_profile_op(const recq_model *m, int i,
                                  uint64_t *nanoseconds, uint64_t *calls) {
  if (!m || i < 0 || i >= recq_model_profile_size(m))
    return NULL;
  if (nanoseconds)
    *nanoseconds =
        atomic_load_explicit(&op_nanoseconds[i], memory_order_relaxed);
  if (calls)
    *calls = atomic_load_explicit(&op_calls[i], memory_order_relaxed);
  return m->desc->profile_ops[i];
}

void recq_model_profile_reset(recq_model *m) {
  (void)m;
  for (int i = 0; i < RECQ_PROFILE_MAX_OPS; ++i) {
    atomic_store_explicit(&op_nanoseconds[i], 0, memory_order_relaxed);
    atomic_store_explicit(&op_calls[i], 0, memory_order_relaxed);
  }
}
