/*===- recq_pool.h - The runtime's thread pool (internal) ----------*- C -*-===*
 *
 * A fixed set of worker threads that run the numbered parts of one job
 * together with the calling thread (recq_pool.c). Private to lib/Runtime:
 * not installed, and its functions are hidden in every model.so.
 *
 *===----------------------------------------------------------------------===*/

#ifndef RECQ_RUNTIME_RECQ_POOL_H
#define RECQ_RUNTIME_RECQ_POOL_H

/* Functions one file of the runtime defines and another calls: not
   exported from a model.so. */
#ifndef RECQ_INTERNAL
#define RECQ_INTERNAL __attribute__((visibility("hidden")))
#endif

typedef struct recq_pool recq_pool;

/* Starts `workers` threads; NULL when none starts (fewer than asked may:
   recq_internal_pool_size says how many did). */
RECQ_INTERNAL recq_pool *recq_internal_pool_create(int workers);

/* Stops and joins the workers and frees the pool; NULL does nothing. */
RECQ_INTERNAL void recq_internal_pool_destroy(recq_pool *pool);

/* The number of workers running (the caller is one more thread). */
RECQ_INTERNAL int recq_internal_pool_size(const recq_pool *pool);

/* Runs fn(arg, part) for part in [0, parts) on the workers and the caller;
   returns when every part is done. One run at a time: hold the pool's
   busy lock around it. */
RECQ_INTERNAL void recq_internal_pool_run(recq_pool *pool, int parts,
                                          void (*fn)(void *, int), void *arg);

/* The pool's busy lock, held by the run using the workers: trylock returns
   0 when it took it (pthread_mutex_trylock), unlock releases it. */
RECQ_INTERNAL int recq_internal_pool_trylock(recq_pool *pool);
RECQ_INTERNAL void recq_internal_pool_unlock(recq_pool *pool);

#endif /* RECQ_RUNTIME_RECQ_POOL_H */
