/*===- recq_pool.c - The runtime's thread pool -----------------------------===*
 *
 * Part of the runtime linked into every model.so: the workers a loaded
 * model runs batch tiles, or a small batch's tables, on (recq_pool.h).
 *
 *===----------------------------------------------------------------------===*/

#include "recq_pool.h"

#include <pthread.h>
#include <stdlib.h>

/*===----------------------------------------------------------------------===*
 * Thread pool: `size` workers; the caller runs part 0 itself.
 *===----------------------------------------------------------------------===*/

struct recq_pool {
  int size;
  pthread_t *threads;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  pthread_mutex_t busy; /* held by the run using the workers */
  void (*fn)(void *, int);
  void *arg;
  int parts, next, pending;
  unsigned generation;
  int stop;
};

static void *pool_worker(void *p) {
  recq_pool *pool = p;
  unsigned seen = 0;
  pthread_mutex_lock(&pool->mu);
  for (;;) {
    while (!pool->stop && pool->generation == seen)
      pthread_cond_wait(&pool->wake, &pool->mu);
    if (pool->stop)
      break;
    seen = pool->generation;
    while (pool->next < pool->parts) {
      int part = pool->next++;
      pthread_mutex_unlock(&pool->mu);
      pool->fn(pool->arg, part);
      pthread_mutex_lock(&pool->mu);
      if (--pool->pending == 0)
        pthread_cond_signal(&pool->done);
    }
  }
  pthread_mutex_unlock(&pool->mu);
  return NULL;
}

void recq_internal_pool_destroy(recq_pool *pool) {
  if (!pool)
    return;
  pthread_mutex_lock(&pool->mu);
  pool->stop = 1;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->mu);
  for (int i = 0; i < pool->size; ++i)
    pthread_join(pool->threads[i], NULL);
  free(pool->threads);
  pthread_mutex_destroy(&pool->mu);
  pthread_mutex_destroy(&pool->busy);
  pthread_cond_destroy(&pool->wake);
  pthread_cond_destroy(&pool->done);
  free(pool);
}

recq_pool *recq_internal_pool_create(int workers) {
  recq_pool *pool = calloc(1, sizeof *pool);
  if (!pool)
    return NULL;
  pool->threads = calloc((size_t)workers, sizeof(pthread_t));
  pthread_mutex_init(&pool->mu, NULL);
  pthread_mutex_init(&pool->busy, NULL);
  pthread_cond_init(&pool->wake, NULL);
  pthread_cond_init(&pool->done, NULL);
  if (!pool->threads) {
    recq_internal_pool_destroy(pool);
    return NULL;
  }
  for (int i = 0; i < workers; ++i) {
    if (pthread_create(&pool->threads[i], NULL, pool_worker, pool) != 0)
      break;
    pool->size = i + 1;
  }
  if (pool->size == 0) {
    recq_internal_pool_destroy(pool);
    return NULL;
  }
  return pool;
}

/* Runs fn(arg, part) for part in [0, parts) on the workers and the caller. */
void recq_internal_pool_run(recq_pool *pool, int parts, void (*fn)(void *, int),
                            void *arg) {
  pthread_mutex_lock(&pool->mu);
  pool->fn = fn;
  pool->arg = arg;
  pool->parts = parts;
  pool->next = 0;
  pool->pending = parts;
  ++pool->generation;
  pthread_cond_broadcast(&pool->wake);
  while (pool->next < pool->parts) {
    int part = pool->next++;
    pthread_mutex_unlock(&pool->mu);
    fn(arg, part);
    pthread_mutex_lock(&pool->mu);
    --pool->pending;
  }
  while (pool->pending > 0)
    pthread_cond_wait(&pool->done, &pool->mu);
  pthread_mutex_unlock(&pool->mu);
}

int recq_internal_pool_size(const recq_pool *pool) { return pool->size; }

int recq_internal_pool_trylock(recq_pool *pool) {
  return pthread_mutex_trylock(&pool->busy);
}

void recq_internal_pool_unlock(recq_pool *pool) {
  pthread_mutex_unlock(&pool->busy);
}
