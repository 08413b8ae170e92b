/*===- recq_remote.c - Remote tables: their rows fetched per call ----------===*
 *
 * Part of the model runtime. A remote table's rows are not in
 * model.weights but in a row store (recq_row_store.h). Before a call runs,
 * recq_internal_remote_fetch checks every index of the remote tables,
 * collects the distinct rows each remote table's lookups read (all its
 * lookups in the batch, across every bag that reads it), fetches them in
 * one exchange with the store, and hands the generated code a compact copy
 * of the table (the fetched rows, in row order) and the indices renumbered
 * into it. The pooling kernels then run as on a local table and read the
 * same bytes in the same order: the outputs are bit-identical to the
 * local artifact's.
 *
 *===----------------------------------------------------------------------===*/

#include "recq_model_internal.h"

#include "recq_row_cache.h"

#include "recq/Runtime/recq_row_store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECQ_DEFAULT_STORE_TIMEOUT_MS 1000
#define RECQ_DEFAULT_CACHE_BYTES ((int64_t)256 << 20)
#define RECQ_DEFAULT_CACHE_TTL_MS 1000

static int remote_weight(const recq_model_desc *d, int w) {
  return w >= 0 && w < d->num_weights && d->weights[w].remote;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A setting: the option when not 0, else the environment variable, else
   `fallback`; -2 (and st set) when the variable is malformed. */
static int64_t setting(int64_t option, const char *env, int64_t fallback,
                       int64_t max, recq_status *st) {
  if (option != 0)
    return option;
  const char *text = getenv(env);
  if (!text || !*text)
    return fallback;
  char *end = NULL;
  long long value = strtoll(text, &end, 10);
  if (*end || value < 0 || value > max) {
    recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                             "%s is '%s'; it takes a number, 0 to %lld", env,
                             text, (long long)max);
    return -2;
  }
  return value;
}

/* The row store's announcement of updated rows: "<weight> <row> ...". */
static void on_update(void *ctx, const char *message, size_t len) {
  recq_model *m = ctx;
  int64_t now = now_ms();
  if (!message) { /* (re)subscribed: announcements may have been missed */
    atomic_fetch_add(&m->counters->subscriptions, 1);
    for (int w = 0; w < RECQ_MAX_INPUTS; ++w)
      if (m->caches[w])
        recq_row_cache_forget_before(m->caches[w], now);
    return;
  }
  char text[8192];
  if (len >= sizeof text)
    len = sizeof text - 1; /* recq-tables sends shorter messages */
  memcpy(text, message, len);
  text[len] = '\0';
  char *at = text, *end = NULL;
  long w = strtol(at, &end, 10);
  if (end == at || w < 0 || w >= RECQ_MAX_INPUTS || !m->caches[w])
    return;
  for (at = end;; at = end) {
    long long row = strtoll(at, &end, 10);
    if (end == at)
      break;
    recq_row_cache_drop(m->caches[w], row, now);
    atomic_fetch_add(&m->counters->dropped, 1);
  }
}

int recq_internal_remote_open(recq_model *m, const recq_load_options *options,
                              recq_status *st) {
  const recq_model_desc *d = m->desc;
  if (!d->rows_id)
    return RECQ_OK;
  for (int t = 0; t < d->num_tables; ++t)
    if (remote_weight(d, d->tables[t].weight))
      ++m->num_remote;
  const char *spec = options ? options->table_store : NULL;
  if (!spec || !*spec)
    spec = getenv("RECQ_TABLE_STORE");
  if (!spec || !*spec) {
    const char *first = "?";
    for (int w = 0; w < d->num_weights; ++w)
      if (d->weights[w].remote) {
        first = d->weights[w].name;
        break;
      }
    return recq_internal_set_status(
        st, RECQ_ERR_ARGUMENT,
        "the model reads %d tables from a row store ('%s', ...): name it with "
        "RECQ_TABLE_STORE=redis://host:port[,host:port...] or the load "
        "option table_store",
        m->num_remote, first);
  }
  int64_t timeout = setting(options ? options->table_store_timeout_ms : 0,
                            "RECQ_TABLE_STORE_TIMEOUT_MS",
                            RECQ_DEFAULT_STORE_TIMEOUT_MS, 3600 * 1000, st);
  if (timeout == -2)
    return RECQ_ERR_ARGUMENT;
  int64_t cache_bytes =
      setting(options ? options->table_cache_bytes : 0,
              "RECQ_TABLE_CACHE_BYTES", RECQ_DEFAULT_CACHE_BYTES,
              INT64_MAX / 2, st);
  if (cache_bytes == -2)
    return RECQ_ERR_ARGUMENT;
  int64_t ttl = setting(options ? options->table_cache_ttl_ms : 0,
                        "RECQ_TABLE_CACHE_TTL_MS", RECQ_DEFAULT_CACHE_TTL_MS,
                        3600 * 1000, st);
  if (ttl == -2)
    return RECQ_ERR_ARGUMENT;
  if (timeout <= 0 || ttl < 0 || cache_bytes < -1)
    return recq_internal_set_status(
        st, RECQ_ERR_ARGUMENT,
        "load options: table_store_timeout_ms %lld, table_cache_bytes %lld, "
        "table_cache_ttl_ms %lld (the first must be positive, the others 0 "
        "or more; table_cache_bytes -1: no cache)",
        (long long)timeout, (long long)cache_bytes, (long long)ttl);
  m->counters = calloc(1, sizeof *m->counters);
  if (!m->counters)
    return recq_internal_set_status(st, RECQ_ERR_MEMORY, "out of memory");
  m->store = recq_row_store_open(spec, (int)timeout, st);
  if (!m->store)
    return st ? st->code : RECQ_ERR_STORE;

  /* Caches: the bytes shared by the remote tables in proportion to their
     size, never more than a table (none for a share under 16 rows). */
  if (cache_bytes > 0 && ttl > 0) {
    double all = 0;
    for (int w = 0; w < d->num_weights; ++w)
      if (d->weights[w].remote)
        all += (double)d->weights[w].bytes;
    for (int w = 0; w < d->num_weights && w < RECQ_MAX_INPUTS; ++w) {
      const recq_weight_desc *wd = &d->weights[w];
      if (!wd->remote || wd->shape[0] <= 0)
        continue;
      int64_t row_bytes = (int64_t)wd->bytes / wd->shape[0];
      int64_t share = (int64_t)((double)cache_bytes * (double)wd->bytes / all);
      /* Room for every row, even when the hash puts more in one shard. */
      int64_t whole = (int64_t)wd->bytes * 2 + 16 * row_bytes;
      m->caches[w] =
          recq_row_cache_create(row_bytes, share < whole ? share : whole, ttl);
      m->cache_rows += recq_row_cache_capacity(m->caches[w]);
    }
    if (m->cache_rows > 0) {
      char channel[64];
      snprintf(channel, sizeof channel, "recq:%016llx:updates",
               (unsigned long long)d->rows_id);
      m->listener = recq_row_store_listen(m->store, channel, on_update, m, st);
      if (!m->listener)
        return st ? st->code : RECQ_ERR_MEMORY;
    }
  }
  return RECQ_OK;
}

void recq_internal_remote_close(recq_model *m) {
  recq_row_store_unlisten(m->listener);
  m->listener = NULL;
  for (int w = 0; w < RECQ_MAX_INPUTS; ++w) {
    recq_row_cache_destroy(m->caches[w]);
    m->caches[w] = NULL;
  }
  recq_row_store_close(m->store);
  m->store = NULL;
  free(m->counters);
  m->counters = NULL;
}

int recq_model_table_store_stats(recq_model *m, recq_table_store_stats *out) {
  if (!m || !out || !m->store)
    return -1;
  recq_row_store_stats store;
  recq_row_store_get_stats(m->store, &store);
  out->calls = atomic_load(&m->counters->calls);
  out->lookups = atomic_load(&m->counters->lookups);
  out->cache_hits = atomic_load(&m->counters->hits);
  out->fetched_rows = atomic_load(&m->counters->fetched);
  out->commands = store.commands;
  out->redirects = store.redirects;
  out->retries = store.retries;
  out->dropped_rows = atomic_load(&m->counters->dropped);
  out->subscriptions = atomic_load(&m->counters->subscriptions);
  out->fetch_seconds = (double)atomic_load(&m->counters->fetch_ns) * 1e-9;
  out->cache_rows = m->cache_rows;
  return 0;
}

static int compare_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Position of `v` in the sorted, distinct `rows[0, n)` (present). */
static int64_t position_of(const int64_t *rows, int64_t n, int64_t v) {
  int64_t lo = 0, hi = n;
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (rows[mid] <= v)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

static void *own(recq_remote_call *call, void *p) {
  if (p)
    call->owned[call->num_owned++] = p;
  return p;
}

void recq_internal_remote_release(recq_remote_call *call) {
  for (int k = 0; k < call->num_owned; ++k)
    free(call->owned[k]);
  call->num_owned = 0;
}

int recq_internal_remote_fetch(const recq_model *m, const void *const *inputs,
                               const int64_t *const *shapes,
                               recq_remote_call *call, recq_status *st) {
  const recq_model_desc *d = m->desc;
  memcpy(call->inputs, inputs, sizeof(void *) * (size_t)d->num_inputs);
  memset(call->weights, 0, sizeof call->weights);
  memset(call->weights_owned, 0, sizeof call->weights_owned);
  memset(call->miss_at, 0, sizeof call->miss_at);
  call->num_owned = 0;

  /* Every index of a remote table in range first: the fetch must not ask
     the store for rows the table lacks. */
  for (int t = 0; t < d->num_tables; ++t) {
    const recq_table_desc *table = &d->tables[t];
    if (!remote_weight(d, table->weight))
      continue;
    const recq_tensor_desc *in = &d->inputs[table->indices_input];
    int64_t count = recq_internal_indices_count(d, t, shapes);
    int64_t base = table->indices_row >= 0 ? table->indices_row * count : 0;
    const void *data = inputs[table->indices_input];
    for (int64_t k = 0; k < count; ++k) {
      int64_t v = int_at(data, in->dtype, base + k);
      if (v < 0 || v >= table->rows)
        return recq_internal_index_error(d, t, inputs, shapes, 0, 0, st);
    }
  }

  /* The remote tables' indices inputs, copied to be renumbered. */
  void *copies[RECQ_MAX_INPUTS] = {0};
  for (int t = 0; t < d->num_tables; ++t) {
    const recq_table_desc *table = &d->tables[t];
    int i = table->indices_input;
    if (!remote_weight(d, table->weight) || call->inputs[i] != inputs[i])
      continue;
    const recq_tensor_desc *in = &d->inputs[i];
    int64_t n = 1;
    for (int r = 0; r < in->rank; ++r)
      n *= shapes[i][r];
    size_t bytes = (size_t)n * (in->dtype == RECQ_DTYPE_I32 ? 4 : 8);
    void *copy = own(call, malloc(bytes ? bytes : 1));
    if (!copy)
      goto oom;
    memcpy(copy, inputs[i], bytes);
    call->inputs[i] = copies[i] = copy;
  }

  recq_row_batch batches[RECQ_MAX_INPUTS];
  int num_batches = 0;
  int64_t now = now_ms(); /* the reads' stamp in the caches */
  for (int w = 0; w < d->num_weights; ++w) {
    if (!d->weights[w].remote)
      continue;
    const recq_weight_desc *wd = &d->weights[w];
    /* Every lookup of the tables reading weight w. */
    int64_t total = 0;
    for (int t = 0; t < d->num_tables; ++t)
      if (d->tables[t].weight == w)
        total += recq_internal_indices_count(d, t, shapes);
    int64_t *rows = own(call, malloc(sizeof(int64_t) * (size_t)(total + 1)));
    if (!rows)
      goto oom;
    int64_t n = 0;
    for (int t = 0; t < d->num_tables; ++t) {
      const recq_table_desc *table = &d->tables[t];
      if (table->weight != w)
        continue;
      const recq_tensor_desc *in = &d->inputs[table->indices_input];
      int64_t count = recq_internal_indices_count(d, t, shapes);
      int64_t base = table->indices_row >= 0 ? table->indices_row * count : 0;
      for (int64_t k = 0; k < count; ++k)
        rows[n++] = int_at(inputs[table->indices_input], in->dtype, base + k);
    }
    /* Distinct rows, in order. */
    qsort(rows, (size_t)n, sizeof *rows, compare_i64);
    int64_t distinct = 0;
    for (int64_t k = 0; k < n; ++k)
      if (distinct == 0 || rows[distinct - 1] != rows[k])
        rows[distinct++] = rows[k];
    int64_t row_bytes =
        wd->shape[0] > 0 ? (int64_t)wd->bytes / wd->shape[0] : 0;
    size_t bytes = ((size_t)(distinct * row_bytes) + 63) & ~(size_t)63;
    char *copy = own(call, aligned_alloc(64, bytes ? bytes : 64));
    if (!copy)
      goto oom;
    call->weights[w] = call->weights_owned[w] = copy;
    /* The cache's rows first; the rest from the store, into `fetched`. */
    recq_row_cache *cache = m->caches[w];
    int64_t missing = distinct;
    int64_t *miss_rows = rows, *miss_at = NULL;
    char *fetched = copy;
    if (cache) {
      miss_rows = own(call, malloc(sizeof(int64_t) * (size_t)(distinct + 1)));
      miss_at = own(call, malloc(sizeof(int64_t) * (size_t)(distinct + 1)));
      if (!miss_rows || !miss_at)
        goto oom;
      missing = 0;
      for (int64_t k = 0; k < distinct; ++k)
        if (!recq_row_cache_get(cache, rows[k], now, copy + k * row_bytes)) {
          miss_rows[missing] = rows[k];
          miss_at[missing++] = k;
        }
      fetched = own(call, malloc((size_t)(missing * row_bytes) + 1));
      if (!fetched)
        goto oom;
      call->miss_at[w] = miss_at;
    }
    atomic_fetch_add(&m->counters->lookups, (uint64_t)distinct);
    atomic_fetch_add(&m->counters->hits, (uint64_t)(distinct - missing));
    if (missing > 0)
      batches[num_batches++] = (recq_row_batch){
          wd->name, d->rows_id, w, row_bytes, missing, miss_rows, fetched};
    /* Renumber: each lookup reads its row's place among the distinct. */
    for (int t = 0; t < d->num_tables; ++t) {
      const recq_table_desc *table = &d->tables[t];
      if (table->weight != w)
        continue;
      int i = table->indices_input;
      const recq_tensor_desc *in = &d->inputs[i];
      int64_t count = recq_internal_indices_count(d, t, shapes);
      int64_t base = table->indices_row >= 0 ? table->indices_row * count : 0;
      void *out = copies[i];
      for (int64_t k = 0; k < count; ++k) {
        int64_t at =
            position_of(rows, distinct, int_at(inputs[i], in->dtype, base + k));
        if (in->dtype == RECQ_DTYPE_I64)
          ((int64_t *)out)[base + k] = at;
        else
          ((int32_t *)out)[base + k] = (int32_t)at;
      }
    }
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int code = recq_row_store_get(m->store, batches, num_batches, st);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  atomic_fetch_add(&m->counters->calls, 1);
  atomic_fetch_add(&m->counters->fetch_ns,
                   (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
                              (t1.tv_nsec - t0.tv_nsec)));
  if (code != RECQ_OK) {
    recq_internal_remote_release(call);
    return code;
  }
  /* Fetched rows to their places in the copies, and into the caches. */
  for (int b = 0; b < num_batches; ++b) {
    const recq_row_batch *batch = &batches[b];
    int w = batch->table_id;
    atomic_fetch_add(&m->counters->fetched, (uint64_t)batch->count);
    if (!m->caches[w])
      continue;
    char *copy = call->weights_owned[w];
    for (int64_t k = 0; k < batch->count; ++k) {
      const char *row = batch->data + k * batch->row_bytes;
      memcpy(copy + call->miss_at[w][k] * batch->row_bytes, row,
             (size_t)batch->row_bytes);
      recq_row_cache_put(m->caches[w], batch->rows[k], now, row);
    }
  }
  return RECQ_OK;
oom:
  recq_internal_remote_release(call);
  return recq_internal_set_status(st, RECQ_ERR_MEMORY, "out of memory");
}
