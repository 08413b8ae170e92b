/*===- recq_model.c - Load, check and run a compiled model ----------------===*
 *
 * Linked into every model.so next to the generated code and its
 * recq_model_description. Checks the CPU at load, every input's shape, and
 * every index and offsets vector before calling the generated code, so the
 * code itself never reads outside a table.
 *
 *===----------------------------------------------------------------------===*/

#include "recq/Runtime/recq.h"
#include "recq/Runtime/recq_abi.h"
#include "recq/Runtime/recq_cpu.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The generated code's allocator (recq_memref.c). */
void _mlir_memref_to_llvm_free(void *p);

struct recq_model {
  const recq_model_desc *desc;
};

#define RECQ_MAX_RANK 8

static int set_status(recq_status *st, int code, const char *fmt, ...) {
  if (st) {
    st->code = code;
    va_list args;
    va_start(args, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, args);
    va_end(args);
  }
  return code;
}

recq_model *recq_model_load(const char *path, recq_status *st) {
  (void)path;
  const recq_model_desc *desc = &recq_model_description;
  if (desc->abi_version != RECQ_ABI_VERSION) {
    set_status(st, RECQ_ERR_ARGUMENT, "model ABI %u, runtime ABI %u",
               desc->abi_version, RECQ_ABI_VERSION);
    return NULL;
  }
  char missing[128];
  if (recq_cpu_missing(desc->cpu_features, missing, sizeof missing) > 0) {
    set_status(st, RECQ_ERR_CPU,
               "this CPU lacks %s, which the model's target '%s' needs "
               "(recompile with --target=avx2 or --target=generic)",
               missing, desc->target);
    return NULL;
  }
  recq_model *m = malloc(sizeof *m);
  if (!m) {
    set_status(st, RECQ_ERR_MEMORY, "out of memory");
    return NULL;
  }
  m->desc = desc;
  set_status(st, RECQ_OK, "ok");
  return m;
}

void recq_model_free(recq_model *m) { free(m); }

int recq_model_num_inputs(const recq_model *m) { return m->desc->num_inputs; }
int recq_model_num_outputs(const recq_model *m) { return m->desc->num_outputs; }
int recq_model_num_tables(const recq_model *m) { return m->desc->num_tables; }
const char *recq_model_target(const recq_model *m) { return m->desc->target; }

int64_t recq_model_table_rows(const recq_model *m, int t) {
  return t >= 0 && t < m->desc->num_tables ? m->desc->tables[t].rows : -1;
}

int recq_model_table_info(const recq_model *m, int t, int *indices_input,
                          int *offsets_input, int64_t *offsets_row,
                          int *include_last_offset) {
  if (t < 0 || t >= m->desc->num_tables)
    return -1;
  const recq_table_desc *d = &m->desc->tables[t];
  if (indices_input)
    *indices_input = d->indices_input;
  if (offsets_input)
    *offsets_input = d->offsets_input;
  if (offsets_row)
    *offsets_row = d->offsets_row;
  if (include_last_offset)
    *include_last_offset = d->include_last_offset;
  return 0;
}

static int tensor_info(const recq_tensor_desc *d, int *dtype, int *rank,
                       int64_t *shape) {
  if (dtype)
    *dtype = d->dtype;
  if (rank)
    *rank = d->rank;
  if (shape)
    memcpy(shape, d->shape, sizeof(int64_t) * (size_t)d->rank);
  return 0;
}

const char *recq_model_input_name(const recq_model *m, int i) {
  return i >= 0 && i < m->desc->num_inputs ? m->desc->inputs[i].name : NULL;
}
const char *recq_model_output_name(const recq_model *m, int i) {
  return i >= 0 && i < m->desc->num_outputs ? m->desc->outputs[i].name : NULL;
}
int recq_model_input_info(const recq_model *m, int i, int *dtype, int *rank,
                          int64_t *shape) {
  if (i < 0 || i >= m->desc->num_inputs)
    return -1;
  return tensor_info(&m->desc->inputs[i], dtype, rank, shape);
}
int recq_model_output_info(const recq_model *m, int i, int *dtype, int *rank,
                           int64_t *shape) {
  if (i < 0 || i >= m->desc->num_outputs)
    return -1;
  return tensor_info(&m->desc->outputs[i], dtype, rank, shape);
}

/// Reads element k of an integer input.
static int64_t int_at(const void *data, int32_t dtype, int64_t k) {
  return dtype == RECQ_DTYPE_I64 ? ((const int64_t *)data)[k]
                                 : ((const int32_t *)data)[k];
}

/// Checks table t's indices and offsets; the batch every table agrees on
/// is `batch` (-1 until the first table sets it).
static int check_table(const recq_model_desc *d, int t,
                       const void *const *inputs, const int64_t *const *shapes,
                       recq_status *st) {
  const recq_table_desc *table = &d->tables[t];
  const recq_tensor_desc *in = &d->inputs[table->indices_input];
  const void *indices = inputs[table->indices_input];
  int64_t count = 1;
  for (int r = 0; r < in->rank; ++r)
    count *= shapes[table->indices_input][r];

  if (table->offsets_input >= 0) {
    const recq_tensor_desc *od = &d->inputs[table->offsets_input];
    const int64_t *oshape = shapes[table->offsets_input];
    int64_t n = od->rank == 2 ? oshape[1] : oshape[0];
    const void *offsets = inputs[table->offsets_input];
    int64_t base = table->offsets_row >= 0 ? table->offsets_row * n : 0;
    int64_t prev = 0;
    for (int64_t b = 0; b < n; ++b) {
      int64_t o = int_at(offsets, od->dtype, base + b);
      if ((b == 0 && o != 0) || o < prev || o > count)
        return set_status(st, RECQ_ERR_INDEX,
                          "table %d: offset %lld of sample %lld is out of "
                          "order or outside [0, %lld] (input '%s')",
                          t, (long long)o, (long long)b, (long long)count,
                          od->name);
      prev = o;
    }
    if (table->include_last_offset && n > 0 &&
        int_at(offsets, od->dtype, base + n - 1) != count)
      return set_status(st, RECQ_ERR_INDEX,
                        "table %d: the last offset is %lld, not the number "
                        "of indices %lld",
                        t, (long long)int_at(offsets, od->dtype, base + n - 1),
                        (long long)count);
    /* Sample of index k: the bag whose range holds it (for the message). */
    int64_t b = 0;
    for (int64_t k = 0; k < count; ++k) {
      while (b + 1 < n && int_at(offsets, od->dtype, base + b + 1) <= k)
        ++b;
      int64_t v = int_at(indices, in->dtype, k);
      if (v < 0 || v >= table->rows)
        return set_status(st, RECQ_ERR_INDEX,
                          "table %d: index %lld of sample %lld is outside "
                          "[0, %lld) (input '%s', position %lld)",
                          t, (long long)v, (long long)b,
                          (long long)table->rows, in->name, (long long)k);
    }
    return RECQ_OK;
  }
  int64_t length = in->rank == 2 ? shapes[table->indices_input][1] : 1;
  for (int64_t k = 0; k < count; ++k) {
    int64_t v = int_at(indices, in->dtype, k);
    if (v < 0 || v >= table->rows)
      return set_status(st, RECQ_ERR_INDEX,
                        "table %d: index %lld of sample %lld is outside "
                        "[0, %lld) (input '%s')",
                        t, (long long)v, (long long)(k / length),
                        (long long)table->rows, in->name);
  }
  return RECQ_OK;
}

int recq_model_run(const recq_model *m, const void *const *inputs,
                   const int64_t *const *shapes, float *out,
                   size_t out_capacity, int64_t *out_shape, recq_status *st) {
  if (!m || !inputs || !shapes || !out)
    return set_status(st, RECQ_ERR_ARGUMENT, "NULL model, inputs or output");
  const recq_model_desc *d = m->desc;

  /* Shapes: static dimensions must match; dynamic ones are free here and
     tied together by the checks below and the generated code's loops. */
  int64_t batch = -1;
  for (int i = 0; i < d->num_inputs; ++i) {
    const recq_tensor_desc *in = &d->inputs[i];
    if (!inputs[i] || !shapes[i])
      return set_status(st, RECQ_ERR_ARGUMENT, "input '%s' is NULL", in->name);
    for (int r = 0; r < in->rank; ++r) {
      int64_t got = shapes[i][r];
      if (got < 0 || (in->shape[r] >= 0 && got != in->shape[r]))
        return set_status(st, RECQ_ERR_SHAPE,
                          "input '%s': dimension %d is %lld, the model "
                          "takes %lld",
                          in->name, r, (long long)got,
                          (long long)in->shape[r]);
    }
    if (in->dtype == RECQ_DTYPE_F32 && in->rank == 2) {
      if (batch >= 0 && shapes[i][0] != batch)
        return set_status(st, RECQ_ERR_SHAPE,
                          "input '%s' has batch %lld, another input %lld",
                          in->name, (long long)shapes[i][0], (long long)batch);
      batch = shapes[i][0];
    }
  }
  for (int t = 0; t < d->num_tables; ++t) {
    const recq_table_desc *table = &d->tables[t];
    int64_t bags;
    if (table->offsets_input >= 0) {
      const recq_tensor_desc *od = &d->inputs[table->offsets_input];
      const int64_t *oshape = shapes[table->offsets_input];
      bags = (od->rank == 2 ? oshape[1] : oshape[0]) -
             (table->include_last_offset ? 1 : 0);
    } else {
      bags = shapes[table->indices_input][0];
    }
    if (batch >= 0 && bags != batch)
      return set_status(st, RECQ_ERR_SHAPE,
                        "table %d has %lld bags but the batch is %lld", t,
                        (long long)bags, (long long)batch);
    int code = check_table(d, t, inputs, shapes, st);
    if (code != RECQ_OK)
      return code;
  }

  /* Memref descriptors over the caller's buffers (no copies). */
  int64_t descs[64][3 + 2 * RECQ_MAX_RANK];
  void *args[64];
  if (d->num_inputs > 64 || d->num_outputs > 8)
    return set_status(st, RECQ_ERR_ARGUMENT, "too many inputs or outputs");
  for (int i = 0; i < d->num_inputs; ++i) {
    const recq_tensor_desc *in = &d->inputs[i];
    int64_t *desc = descs[i];
    const void *data = inputs[i];
    memcpy(&desc[0], &data, sizeof data);
    memcpy(&desc[1], &data, sizeof data);
    desc[2] = 0;
    int64_t stride = 1;
    for (int r = in->rank - 1; r >= 0; --r) {
      desc[3 + r] = shapes[i][r];
      desc[3 + in->rank + r] = stride;
      stride *= shapes[i][r];
    }
    args[i] = desc;
  }
  int64_t results[8 * (3 + 2 * RECQ_MAX_RANK)];
  d->entry(results, args);

  /* Output 0 to the caller; every result buffer freed. */
  int code = RECQ_OK;
  int64_t *r = results;
  for (int o = 0; o < d->num_outputs; ++o) {
    int rank = d->outputs[o].rank;
    void *alloc, *aligned;
    memcpy(&alloc, &r[0], sizeof alloc);
    memcpy(&aligned, &r[1], sizeof aligned);
    if (o == 0) {
      int64_t count = 1;
      for (int k = 0; k < rank; ++k) {
        count *= r[3 + k];
        if (out_shape)
          out_shape[k] = r[3 + k];
      }
      if ((size_t)count > out_capacity)
        code = set_status(st, RECQ_ERR_MEMORY,
                          "the output needs %lld floats, the buffer holds %zu",
                          (long long)count, out_capacity);
      else
        memcpy(out, (const float *)aligned + r[2], sizeof(float) * count);
    }
    _mlir_memref_to_llvm_free(alloc);
    r += 3 + 2 * rank;
  }
  if (code == RECQ_OK)
    set_status(st, RECQ_OK, "ok");
  return code;
}
