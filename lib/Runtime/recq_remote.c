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

#include "recq/Runtime/recq_row_store.h"

#include <stdlib.h>
#include <string.h>

#define RECQ_DEFAULT_STORE_TIMEOUT_MS 1000

static int remote_weight(const recq_model_desc *d, int w) {
  return w >= 0 && w < d->num_weights && d->weights[w].remote;
}

int recq_internal_remote_open(recq_model *m, const char *spec, int timeout_ms,
                              recq_status *st) {
  const recq_model_desc *d = m->desc;
  if (!d->rows_id)
    return RECQ_OK;
  for (int t = 0; t < d->num_tables; ++t)
    if (remote_weight(d, d->tables[t].weight))
      ++m->num_remote;
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
  if (timeout_ms <= 0) {
    const char *env = getenv("RECQ_TABLE_STORE_TIMEOUT_MS");
    if (env && *env) {
      char *end = NULL;
      long value = strtol(env, &end, 10);
      if (*end || value <= 0 || value > 3600 * 1000)
        return recq_internal_set_status(
            st, RECQ_ERR_ARGUMENT,
            "RECQ_TABLE_STORE_TIMEOUT_MS is '%s'; it takes milliseconds, "
            "1 to 3600000",
            env);
      timeout_ms = (int)value;
    } else {
      timeout_ms = RECQ_DEFAULT_STORE_TIMEOUT_MS;
    }
  }
  m->store = recq_row_store_open(spec, timeout_ms, st);
  return m->store ? RECQ_OK : st ? st->code : RECQ_ERR_STORE;
}

void recq_internal_remote_close(recq_model *m) {
  recq_row_store_close(m->store);
  m->store = NULL;
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
    batches[num_batches++] = (recq_row_batch){
        wd->name, d->rows_id, w, row_bytes, distinct, rows, copy};
    call->weights[w] = copy;
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
  int code = recq_row_store_get(m->store, batches, num_batches, st);
  if (code != RECQ_OK)
    recq_internal_remote_release(call);
  return code;
oom:
  recq_internal_remote_release(call);
  return recq_internal_set_status(st, RECQ_ERR_MEMORY, "out of memory");
}
