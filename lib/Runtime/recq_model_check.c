/*===- recq_model_check.c - Check a call's inputs against the model --------===*
 *
 * Part of the model runtime. Checks every table's offsets vector and
 * per-sample weights before the generated code runs (recq_model_run.c
 * checks the shapes); the generated code checks every index in its pooling
 * loop (it never reads outside a table) and returns a flag per table, which
 * this file turns into an error naming the first bad index. Also the
 * shape arithmetic of tables (indices, bags) and recq_model_output_size.
 *
 *===----------------------------------------------------------------------===*/

#include "recq_model_internal.h"

#include <stdint.h>
#include <stdio.h>

/* How many indices table t reads: every element of its indices input, or
   of its row of a stacked one. */
int64_t recq_internal_indices_count(const recq_model_desc *d, int t,
                                    const int64_t *const *shapes) {
  const recq_table_desc *table = &d->tables[t];
  const recq_tensor_desc *in = &d->inputs[table->indices_input];
  int64_t count = 1;
  for (int r = table->indices_row >= 0 ? 1 : 0; r < in->rank; ++r)
    count *= shapes[table->indices_input][r];
  return count;
}

/* Samples x bag length of a fixed-length table's indices: [B, L] or row t
   of [T, B, L]; [B] or row t of [T, B] are bags of one. */
static void fixed_bags(const recq_model_desc *d, int t,
                       const int64_t *const *shapes, int64_t *bags,
                       int64_t *length) {
  const recq_table_desc *table = &d->tables[t];
  const recq_tensor_desc *in = &d->inputs[table->indices_input];
  const int64_t *shape = shapes[table->indices_input];
  int first = table->indices_row >= 0 ? 1 : 0;
  *bags = in->rank > first ? shape[first] : 1;
  *length = in->rank > first + 1 ? shape[first + 1] : 1;
}

offsets_view recq_internal_offsets_of(const recq_model_desc *d, int t,
                                      const void *const *inputs,
                                      const int64_t *const *shapes) {
  const recq_table_desc *table = &d->tables[t];
  const recq_tensor_desc *od = &d->inputs[table->offsets_input];
  const int64_t *oshape = shapes[table->offsets_input];
  offsets_view v;
  v.data = inputs ? inputs[table->offsets_input] : NULL;
  v.dtype = od->dtype;
  v.n = od->rank == 2 ? oshape[1] : oshape[0];
  v.base = table->offsets_row >= 0 ? table->offsets_row * v.n : 0;
  return v;
}

/// Checks table t's offsets (once per call) and its per-sample weights'
/// shape. The indices themselves are checked by the compiled code, in the
/// pooling loop, which reports a table that met a bad one
/// (recq_internal_index_error).
int recq_internal_check_table(const recq_model_desc *d, int t,
                              const void *const *inputs,
                              const int64_t *const *shapes, recq_status *st) {
  const recq_table_desc *table = &d->tables[t];
  const recq_tensor_desc *in = &d->inputs[table->indices_input];
  int64_t count = recq_internal_indices_count(d, t, shapes);
  if (table->indices_row >= 0 &&
      table->indices_row >= shapes[table->indices_input][0])
    return recq_internal_set_status(
        st, RECQ_ERR_SHAPE,
        "table %d reads row %lld of the stacked indices '%s', "
        "which has %lld rows",
        t, (long long)table->indices_row, in->name,
        (long long)shapes[table->indices_input][0]);
  if (table->weights_input >= 0) {
    const recq_tensor_desc *wd = &d->inputs[table->weights_input];
    for (int r = 0; r < in->rank; ++r)
      if (wd->rank != in->rank ||
          shapes[table->weights_input][r] != shapes[table->indices_input][r])
        return recq_internal_set_status(
            st, RECQ_ERR_SHAPE,
            "table %d: the per-sample weights '%s' do not have "
            "the shape of the indices '%s' (dimension %d: %lld "
            "vs %lld)",
            t, wd->name, in->name, r,
            (long long)shapes[table->weights_input][r],
            (long long)shapes[table->indices_input][r]);
  }
  if (table->offsets_input < 0)
    return RECQ_OK;

  const recq_tensor_desc *od = &d->inputs[table->offsets_input];
  const int64_t *oshape = shapes[table->offsets_input];
  if (table->offsets_row >= 0 && od->rank == 2 &&
      table->offsets_row >= oshape[0])
    return recq_internal_set_status(
        st, RECQ_ERR_SHAPE,
        "table %d reads row %lld of the offsets '%s', which "
        "has %lld rows",
        t, (long long)table->offsets_row, od->name, (long long)oshape[0]);
  offsets_view v = recq_internal_offsets_of(d, t, inputs, shapes);
  const char *name = od->name;
  if (table->include_last_offset && v.n == 0)
    return recq_internal_set_status(
        st, RECQ_ERR_SHAPE,
        "table %d: the offsets '%s' are empty, but the model "
        "takes them with the last offset included (one more "
        "than the bags)",
        t, name);
  /* PyTorch's EmbeddingBag rules: the first offset is 0, none decreases,
     none is past the indices. */
  int64_t prev = 0;
  for (int64_t b = 0; b < v.n; ++b) {
    int64_t o = offset_at(v, b);
    if (b == 0 && o != 0)
      return recq_internal_set_status(
          st, RECQ_ERR_INDEX,
          "table %d: the first offset is %lld; offsets start "
          "at 0 (input '%s')",
          t, (long long)o, name);
    if (o < prev)
      return recq_internal_set_status(
          st, RECQ_ERR_INDEX,
          "table %d: offset %lld of sample %lld is below the "
          "previous one, %lld; offsets must not decrease "
          "(input '%s')",
          t, (long long)o, (long long)b, (long long)prev, name);
    if (o > count)
      return recq_internal_set_status(
          st, RECQ_ERR_INDEX,
          "table %d: offset %lld of sample %lld is past the "
          "table's %lld indices (input '%s')",
          t, (long long)o, (long long)b, (long long)count, name);
    prev = o;
  }
  if (table->include_last_offset && v.n > 0 && offset_at(v, v.n - 1) != count)
    return recq_internal_set_status(
        st, RECQ_ERR_INDEX,
        "table %d: the last offset is %lld, not the number "
        "of indices %lld",
        t, (long long)offset_at(v, v.n - 1), (long long)count);
  return RECQ_OK;
}

/* The sample (bag) that position k of table t's indices belongs to. */
static int64_t sample_of(const recq_model_desc *d, int t,
                         const void *const *inputs,
                         const int64_t *const *shapes, int64_t k) {
  const recq_table_desc *table = &d->tables[t];
  if (table->offsets_input < 0) {
    int64_t bags, length;
    fixed_bags(d, t, shapes, &bags, &length);
    return length > 0 ? k / length : 0;
  }
  offsets_view v = recq_internal_offsets_of(d, t, inputs, shapes);
  int64_t b = 0;
  while (b + 1 < v.n && offset_at(v, b + 1) <= k)
    ++b;
  return b;
}

/* The error for table t, whose kernel met an index outside the table:
   finds the first one. `sample_base`/`index_base` place this slice in the
   caller's batch. */
int recq_internal_index_error(const recq_model_desc *d, int t,
                              const void *const *inputs,
                              const int64_t *const *shapes, int64_t sample_base,
                              int64_t index_base, recq_status *st) {
  const recq_table_desc *table = &d->tables[t];
  const recq_tensor_desc *in = &d->inputs[table->indices_input];
  int64_t count = recq_internal_indices_count(d, t, shapes);
  /* A row of a stacked input starts `count` indices per row in. */
  int64_t base = table->indices_row >= 0 ? table->indices_row * count : 0;
  for (int64_t k = 0; k < count; ++k) {
    int64_t v = int_at(inputs[table->indices_input], in->dtype, base + k);
    if (v < 0 || v >= table->rows) {
      char where[64] = "";
      if (table->indices_row >= 0)
        snprintf(where, sizeof where, " row %lld,",
                 (long long)table->indices_row);
      return recq_internal_set_status(
          st, RECQ_ERR_INDEX,
          "table %d: index %lld of sample %lld is outside [0, %lld) "
          "(input '%s',%s position %lld)",
          t, (long long)v,
          (long long)(sample_base + sample_of(d, t, inputs, shapes, k)),
          (long long)table->rows, in->name, where, (long long)(index_base + k));
    }
  }
  return recq_internal_set_status(
      st, RECQ_ERR_INDEX,
      "table %d: the compiled code reported an index outside "
      "the table that the runtime cannot find (a recq bug)",
      t);
}

/* Bags table t holds for inputs of these shapes. */
int64_t recq_internal_bags_of(const recq_model_desc *d, int t,
                              const int64_t *const *shapes) {
  const recq_table_desc *table = &d->tables[t];
  if (table->offsets_input < 0) {
    int64_t bags, length;
    fixed_bags(d, t, shapes, &bags, &length);
    return bags;
  }
  return recq_internal_offsets_of(d, t, NULL, shapes).n -
         (table->include_last_offset ? 1 : 0);
}

int64_t recq_model_output_size(const recq_model *m,
                               const int64_t *const *shapes) {
  if (!m || (!shapes && m->desc->num_inputs > 0))
    return -1;
  const recq_model_desc *d = m->desc;
  /* A shape recq_model_run would refuse has no output size (and a negative
     dimension must not reach recq_internal_bags_of's arithmetic: UBSan and the
     run fuzzer found INT64_MIN - 1 there). */
  for (int i = 0; i < d->num_inputs; ++i) {
    if (!shapes[i])
      return -1;
    for (int r = 0; r < d->inputs[i].rank; ++r)
      if (shapes[i][r] < 0)
        return -1;
  }
  int64_t batch = -1;
  for (int i = 0; i < d->num_inputs; ++i)
    if (d->inputs[i].dtype == RECQ_DTYPE_F32 && d->inputs[i].rank == 2 &&
        d->inputs[i].shape[0] < 0)
      batch = shapes[i][0];
  if (batch < 0 && d->num_tables > 0)
    batch = recq_internal_bags_of(d, 0, shapes);
  int64_t count = 1;
  for (int k = 0; k < d->outputs[0].rank; ++k) {
    int64_t dim = d->outputs[0].shape[k];
    if (__builtin_mul_overflow(count, dim < 0 ? (batch < 0 ? 0 : batch) : dim,
                               &count))
      return -1;
  }
  return count;
}
