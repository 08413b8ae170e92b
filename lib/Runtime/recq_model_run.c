/*===- recq_model_run.c - Run a compiled model on a batch ------------------===*
 *
 * Part of the model runtime: recq_model_run checks every input's shape
 * (and, through recq_model_check.c, every offsets vector) before calling
 * the generated code, on the whole batch or on tiles of it in parallel on
 * the model's thread pool, and turns the generated code's per-table index
 * flags into an error.
 *
 *===----------------------------------------------------------------------===*/

#include "recq_model_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The generated code's allocator (recq_memref.c). */
void *_mlir_memref_to_llvm_alloc(uint64_t size);
void _mlir_memref_to_llvm_free(void *p);

/* No input or output may have more elements than this (2^48: far past
   any real batch, and every byte offset derived from it fits 64 bits). */
#define RECQ_MAX_ELEMENTS ((int64_t)1 << 48)
/* Fewer samples than this per tile do not pay for waking a worker. */
#define RECQ_MIN_TILE 16
/* Nor do tables whose lookups times D add up to less than this, e.g. 8k
   lookups at D = 64: waking a worker took ~56 us on the 2-vCPU VM recq is
   developed on. There, 8 int8 tables of 500k rows, D = 64, fresh random
   indices per call (bench/small_batch_tables.py), two threads against
   one with the tables on the pool: 328k lookups x D 0.77x, 410k 0.82x,
   819k 1.25x, 1.6M 1.3x (single runs, +-20% between runs). */
#define RECQ_MIN_TABLE_WORK (1 << 19)

/* What pooling table t costs: its lookups times D. */
static int64_t table_cost(const recq_model_desc *d, int t,
                          const int64_t *const *shapes) {
  return recq_internal_indices_count(d, t, shapes) * d->tables[t].dim;
}

/* A split model's table functions on one batch (or tile): `order` lists
   the tables, costliest first (so the pool's next free thread takes the
   next costliest and the last ones to start are short). */
typedef struct recq_bags_job {
  const recq_variant_desc *v;
  void **args;
  int order[RECQ_MAX_INPUTS];
  int64_t flags[RECQ_MAX_INPUTS]; /* 1: an index outside table t */
  int32_t profile_bags;           /* the profile's id of the bags, -1: none */
} recq_bags_job;

static void run_bag(void *arg, int part) {
  recq_bags_job *job = arg;
  int t = job->order[part];
  int64_t result[5]; /* i64 [1]: {alloc, aligned, offset, size, stride} */
  int32_t profiled = job->profile_bags;
  if (profiled >= 0)
    recq_profile_mark(profiled);
  job->v->bags[t](result, job->args);
  if (profiled >= 0)
    recq_profile_mark(-1);
  void *alloc;
  const int64_t *flag;
  memcpy(&alloc, &result[0], sizeof alloc);
  memcpy(&flag, &result[1], sizeof flag);
  job->flags[t] = flag[result[2]];
  _mlir_memref_to_llvm_free(alloc);
}

/* Runs the generated code on one whole batch (or tile) and copies output
   0 to `out`; `weights[w]`, when given and not NULL, replaces weight w (a
   remote table's fetched rows). The shapes and offsets are already checked; an
   index outside its table is reported here, placed in the caller's batch by
   `sample_base` and `index_base[t]` (NULL: 0). A split model's tables run
   on `tables` (the caller holds its `busy`), or on this thread when NULL. */
static int run_slice(const recq_model *m, const void *const *inputs,
                     const void *const *weights, const int64_t *const *shapes,
                     float *out, size_t out_capacity, int64_t *out_shape,
                     int64_t sample_base, const int64_t *index_base,
                     recq_pool *tables, recq_status *st) {
  const recq_model_desc *d = m->desc;
  /* Memref descriptors over the caller's buffers (no copies). */
  int64_t descs[RECQ_MAX_INPUTS][3 + 2 * RECQ_MAX_RANK];
  void *args[2 * RECQ_MAX_INPUTS + 1]; /* + a split model's [B, T, D] */
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
  int64_t wdescs[RECQ_MAX_INPUTS][3 + 2 * RECQ_MAX_RANK];
  for (int w = 0; w < d->num_weights; ++w) {
    const recq_weight_desc *wd = &d->weights[w];
    int64_t *desc = wdescs[w];
    const void *data = weights && weights[w] ? weights[w]
                       : m->guarded[w]       ? m->guarded[w]
                                             : m->weights + wd->offset;
    memcpy(&desc[0], &data, sizeof data);
    memcpy(&desc[1], &data, sizeof data);
    desc[2] = 0;
    int64_t stride = 1;
    for (int r = wd->rank - 1; r >= 0; --r) {
      desc[3 + r] = wd->shape[r];
      desc[3 + wd->rank + r] = stride;
      stride *= wd->shape[r];
    }
    args[d->num_inputs + w] = desc;
  }
  /* The outputs, then (with tables, unless split) the index status:
     i64 [T]. */
  int64_t results[9 * (3 + 2 * RECQ_MAX_RANK)];
  recq_bags_job job;
  void *emb = NULL;
  const recq_variant_desc *v = m->variant;
  if (v->rest) {
    /* The tables' pooled rows, [n, T, D] f32, which the interaction reads
       in place. */
    int64_t n = recq_internal_bags_of(d, 0, shapes), tables_n = d->num_tables;
    int64_t dim = d->tables[0].dim;
    emb = _mlir_memref_to_llvm_alloc(
        (uint64_t)(n * tables_n * dim > 0 ? n * tables_n * dim : 1) *
        sizeof(float));
    if (!emb)
      return recq_internal_set_status(st, RECQ_ERR_MEMORY, "out of memory");
    int64_t emb_desc[9] = {0, 0, 0, n, tables_n, dim, tables_n * dim, dim, 1};
    memcpy(&emb_desc[0], &emb, sizeof emb);
    memcpy(&emb_desc[1], &emb, sizeof emb);
    args[d->num_inputs + d->num_weights] = emb_desc;
    job.v = v;
    job.args = args;
    job.profile_bags = d->num_profile_ops > 0 ? d->profile_bags : -1;
    for (int t = 0; t < d->num_tables; ++t)
      job.order[t] = t;
    if (tables) {
      /* Costliest first (insertion sort; T is small). */
      int64_t cost[RECQ_MAX_INPUTS];
      for (int t = 0; t < d->num_tables; ++t) {
        cost[t] = table_cost(d, t, shapes);
        int k = t;
        for (; k > 0 && cost[job.order[k - 1]] < cost[t]; --k)
          job.order[k] = job.order[k - 1];
        job.order[k] = t;
      }
      recq_internal_pool_run(tables, d->num_tables, run_bag, &job);
    } else {
      for (int p = 0; p < d->num_tables; ++p)
        run_bag(&job, p);
    }
    v->rest(results, args);
  } else {
    v->entry(results, args);
  }

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
        code = recq_internal_set_status(
            st, RECQ_ERR_MEMORY,
            "the output needs %lld floats, the buffer holds %zu",
            (long long)count, out_capacity);
      else
        memcpy(out, (const float *)aligned + r[2], sizeof(float) * count);
    }
    _mlir_memref_to_llvm_free(alloc);
    r += 3 + 2 * rank;
  }
  if (d->num_tables > 0) {
    void *alloc = NULL;
    const int64_t *flags = job.flags;
    if (!v->rest) {
      memcpy(&alloc, &r[0], sizeof alloc);
      memcpy(&flags, &r[1], sizeof flags);
      flags += r[2];
    }
    for (int t = 0; t < d->num_tables && code == RECQ_OK; ++t)
      if (flags[t])
        code = recq_internal_index_error(d, t, inputs, shapes, sample_base,
                                         index_base ? index_base[t] : 0, st);
    _mlir_memref_to_llvm_free(alloc);
  }
  _mlir_memref_to_llvm_free(emb);
  return code;
}

/* Lookups before sample b, over every table with offsets (fixed-length
   tables add the same count to every sample and do not change a split). */
static int64_t lookups_before(const recq_model_desc *d,
                              const void *const *inputs,
                              const int64_t *const *shapes, int64_t b) {
  int64_t total = 0;
  for (int t = 0; t < d->num_tables; ++t) {
    if (d->tables[t].offsets_input < 0)
      continue;
    offsets_view v = recq_internal_offsets_of(d, t, inputs, shapes);
    total +=
        b < v.n ? offset_at(v, b) : recq_internal_indices_count(d, t, shapes);
  }
  return total;
}

/* The tables' work: table_cost over every table. */
static int64_t table_work(const recq_model_desc *d,
                          const int64_t *const *shapes) {
  int64_t work = 0;
  for (int t = 0; t < d->num_tables; ++t)
    work += table_cost(d, t, shapes);
  return work;
}

/* Tile boundaries with about the same work in each tile: a sample costs
   its lookups plus, for its dense part, the batch's mean lookups per
   sample; so bags of very different lengths along the batch still give
   every thread the same share. */
static void split_batch(const recq_model_desc *d, const void *const *inputs,
                        const int64_t *const *shapes, int64_t batch, int parts,
                        int64_t *bounds) {
  int64_t all = lookups_before(d, inputs, shapes, batch);
  /* cost(b) = b * all / batch + lookups_before(b), i.e. scaled by batch: */
  double total = 2.0 * (double)all;
  bounds[0] = 0;
  for (int p = 1; p < parts; ++p) {
    double goal = total * p / parts;
    int64_t lo = bounds[p - 1], hi = batch;
    while (lo < hi) { /* first b whose cost reaches the goal */
      int64_t mid = lo + (hi - lo) / 2;
      double cost = (double)mid * (double)all / (double)batch +
                    (double)lookups_before(d, inputs, shapes, mid);
      if (cost < goal)
        lo = mid + 1;
      else
        hi = mid;
    }
    bounds[p] = all > 0 ? lo : batch * p / parts;
  }
  bounds[parts] = batch;
  /* Keep every tile non-empty. */
  for (int p = 1; p < parts; ++p)
    if (bounds[p] <= bounds[p - 1])
      bounds[p] = bounds[p - 1] + 1;
  for (int p = parts - 1; p > 0; --p)
    if (bounds[p] >= bounds[p + 1])
      bounds[p] = bounds[p + 1] - 1;
}

typedef struct recq_slice_job {
  const recq_model *model;
  const void *const *inputs;
  const void *const *weights;
  const int64_t *const *shapes;
  float *out;
  int64_t out_cols, batch;
  int parts;
  int64_t bounds[RECQ_MAX_PARTS +
                 1]; /* tile p is samples [bounds[p], bounds[p+1]) */
  int codes[RECQ_MAX_PARTS];
  char messages[RECQ_MAX_PARTS][256];
} recq_slice_job;

/* Runs samples [b0, b1) of the job: cuts every input (rebasing offsets
   into a scratch buffer) and writes the tile's rows of the output. */
static void run_part(void *arg, int part) {
  recq_slice_job *job = arg;
  const recq_model *m = job->model;
  const recq_model_desc *d = m->desc;
  int64_t b0 = job->bounds[part];
  int64_t b1 = job->bounds[part + 1];
  int64_t n = b1 - b0;
  const void *inputs[RECQ_MAX_INPUTS];
  int64_t shape_store[RECQ_MAX_INPUTS][RECQ_MAX_RANK];
  const int64_t *shapes[RECQ_MAX_INPUTS];
  void *scratch[RECQ_MAX_INPUTS];
  int num_scratch = 0;

  for (int i = 0; i < d->num_inputs; ++i) {
    const recq_tensor_desc *in = &d->inputs[i];
    const int64_t *full = job->shapes[i];
    int64_t *shape = shape_store[i];
    memcpy(shape, full, sizeof(int64_t) * (size_t)in->rank);
    shapes[i] = shape;
    size_t elt = in->dtype == RECQ_DTYPE_I32   ? 4
                 : in->dtype == RECQ_DTYPE_I64 ? 8
                                               : 4;
    const char *data = job->inputs[i];
    inputs[i] = data;
    if (m->role[i] == ROLE_DENSE) {
      inputs[i] = data + (size_t)(b0 * full[1]) * elt;
      shape[0] = n;
    } else if (m->role[i] == ROLE_FIXED) {
      inputs[i] = data + (size_t)(b0 * (in->rank > 1 ? full[1] : 1)) * elt;
      shape[0] = n;
    } else if (m->role[i] == ROLE_INDICES || m->role[i] == ROLE_WEIGHTS) {
      offsets_view v =
          recq_internal_offsets_of(d, m->table_of[i], job->inputs, job->shapes);
      int64_t begin = offset_at(v, b0);
      int64_t end = b1 < v.n ? offset_at(v, b1) : full[0];
      inputs[i] = data + (size_t)begin * elt;
      shape[0] = end - begin;
    } else if (m->role[i] == ROLE_OFFSETS) {
      int last = 0;
      for (int t = 0; t < d->num_tables; ++t)
        if (d->tables[t].offsets_input == i)
          last = d->tables[t].include_last_offset;
      int64_t rows = in->rank == 2 ? full[0] : 1;
      int64_t cols = in->rank == 2 ? full[1] : full[0];
      int64_t keep = n + last;
      char *cut = _mlir_memref_to_llvm_alloc((uint64_t)(rows * keep) * elt);
      if (!cut) {
        job->codes[part] = RECQ_ERR_MEMORY;
        snprintf(job->messages[part], 256, "out of memory");
        goto cleanup;
      }
      scratch[num_scratch++] = cut;
      for (int64_t r = 0; r < rows; ++r) {
        int64_t begin = int_at(data, in->dtype, r * cols + b0);
        for (int64_t j = 0; j < keep; ++j) {
          int64_t v = int_at(data, in->dtype, r * cols + b0 + j) - begin;
          if (elt == 8)
            ((int64_t *)cut)[r * keep + j] = v;
          else
            ((int32_t *)cut)[r * keep + j] = (int32_t)v;
        }
      }
      inputs[i] = cut;
      shape[in->rank - 1] = keep;
    }
  }
  {
    /* Where each table's indices of this tile start in the caller's. */
    int64_t index_base[RECQ_MAX_INPUTS];
    for (int t = 0; t < d->num_tables && t < RECQ_MAX_INPUTS; ++t) {
      const recq_table_desc *table = &d->tables[t];
      int i = table->indices_input;
      index_base[t] = ((const char *)inputs[i] - (const char *)job->inputs[i]) /
                      (d->inputs[i].dtype == RECQ_DTYPE_I32 ? 4 : 8);
    }
    recq_status st = {RECQ_OK, ""};
    int64_t out_shape[RECQ_MAX_RANK];
    job->codes[part] = run_slice(
        m, inputs, job->weights, shapes, job->out + b0 * job->out_cols,
        (size_t)(n * job->out_cols), out_shape, b0, index_base, NULL, &st);
    if (job->codes[part] != RECQ_OK)
      memcpy(job->messages[part], st.message, sizeof st.message);
  }
cleanup:
  for (int k = 0; k < num_scratch; ++k)
    _mlir_memref_to_llvm_free(scratch[k]);
}

static int run_batch(const recq_model *m, const void *const *inputs,
                     const void *const *weights, const int64_t *const *shapes,
                     float *out, size_t out_capacity, int64_t *out_shape,
                     int64_t batch, recq_status *st);

int recq_model_run(const recq_model *m, const void *const *inputs,
                   const int64_t *const *shapes, float *out,
                   size_t out_capacity, int64_t *out_shape, recq_status *st) {
  if (!m || !out)
    return recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                                    "NULL model or output");
  const recq_model_desc *d = m->desc;
  /* A model without inputs (its output a constant) takes NULL for both. */
  static const void *const no_inputs[1];
  static const int64_t *const no_shapes[1];
  if (d->num_inputs == 0) {
    inputs = inputs ? inputs : no_inputs;
    shapes = shapes ? shapes : no_shapes;
  }
  if (!inputs || !shapes)
    return recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                                    "NULL inputs or shapes");

  /* Shapes: static dimensions must match; dynamic ones are free here and
     tied together by the checks below and the generated code's loops. */
  int64_t batch = -1;
  /* An input without elements (the indices of a batch whose bags are all
     empty) may come as NULL, as an empty std::vector's data() does; the
     generated code never reads it, but its descriptors get a real
     address. */
  const void *data[RECQ_MAX_INPUTS];
  static const int64_t no_elements[1];
  if (d->num_inputs > RECQ_MAX_INPUTS || d->num_weights > RECQ_MAX_INPUTS ||
      d->num_tables > RECQ_MAX_INPUTS || d->num_outputs > 8)
    return recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                                    "too many inputs or outputs");
  for (int i = 0; i < d->num_inputs; ++i) {
    const recq_tensor_desc *in = &d->inputs[i];
    if (!shapes[i])
      return recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                                      "input '%s': NULL shape", in->name);
    int64_t count = 1;
    for (int r = 0; r < in->rank; ++r) {
      int64_t got = shapes[i][r];
      if (got < 0 || (in->shape[r] >= 0 && got != in->shape[r]))
        return recq_internal_set_status(
            st, RECQ_ERR_SHAPE,
            "input '%s': dimension %d is %lld, the model "
            "takes %lld",
            in->name, r, (long long)got, (long long)in->shape[r]);
      /* No product of dimensions below may wrap around. */
      if (__builtin_mul_overflow(count, got, &count) ||
          count > RECQ_MAX_ELEMENTS)
        return recq_internal_set_status(
            st, RECQ_ERR_SHAPE,
            "input '%s' has more than 2^48 elements (dimension "
            "%d is %lld)",
            in->name, r, (long long)got);
    }
    if (!inputs[i] && count > 0)
      return recq_internal_set_status(
          st, RECQ_ERR_ARGUMENT, "input '%s' is NULL but has %lld elements",
          in->name, (long long)count);
    data[i] = inputs[i] ? inputs[i] : (const void *)no_elements;
    if (in->dtype == RECQ_DTYPE_F32 && in->rank == 2) {
      if (batch >= 0 && shapes[i][0] != batch)
        return recq_internal_set_status(
            st, RECQ_ERR_SHAPE, "input '%s' has batch %lld, another input %lld",
            in->name, (long long)shapes[i][0], (long long)batch);
      batch = shapes[i][0];
    }
  }
  inputs = data;
  for (int t = 0; t < d->num_tables; ++t) {
    int code = recq_internal_check_table(d, t, inputs, shapes, st);
    if (code != RECQ_OK)
      return code;
    int64_t bags = recq_internal_bags_of(d, t, shapes);
    if (batch >= 0 && bags != batch)
      return recq_internal_set_status(
          st, RECQ_ERR_SHAPE, "table %d has %lld bags but the batch is %lld", t,
          (long long)bags, (long long)batch);
    batch = bags; /* a model without dense inputs takes it from the bags */
  }

  if (!m->store)
    return run_batch(m, inputs, NULL, shapes, out, out_capacity, out_shape,
                     batch, st);
  /* Remote tables: their rows fetched, their indices renumbered into them. */
  recq_remote_call *call = malloc(sizeof *call);
  if (!call)
    return recq_internal_set_status(st, RECQ_ERR_MEMORY, "out of memory");
  int code = recq_internal_remote_fetch(m, inputs, shapes, call, st);
  if (code == RECQ_OK) {
    code = run_batch(m, call->inputs, call->weights, shapes, out, out_capacity,
                     out_shape, batch, st);
    recq_internal_remote_release(call);
  }
  free(call);
  return code;
}

/* recq_model_run on checked inputs: the output's size, then the batch whole
   or in tiles. */
static int run_batch(const recq_model *m, const void *const *inputs,
                     const void *const *weights, const int64_t *const *shapes,
                     float *out, size_t out_capacity, int64_t *out_shape,
                     int64_t batch, recq_status *st) {
  const recq_model_desc *d = m->desc;
  int64_t out_count = 1, out_cols = 1;
  for (int k = 0; k < d->outputs[0].rank; ++k) {
    int64_t dim = d->outputs[0].shape[k];
    if (dim < 0)
      dim = batch >= 0 ? batch : 1;
    if (__builtin_mul_overflow(out_count, dim, &out_count) ||
        out_count > RECQ_MAX_ELEMENTS)
      return recq_internal_set_status(
          st, RECQ_ERR_SHAPE,
          "the output would have more than 2^48 elements "
          "(batch %lld)",
          (long long)batch);
    if (k > 0)
      out_cols *= dim;
  }
  if ((size_t)out_count > out_capacity)
    return recq_internal_set_status(
        st, RECQ_ERR_MEMORY,
        "the output needs %lld floats, the buffer holds %zu",
        (long long)out_count, out_capacity);

  /* Batch tiles in parallel when the model splits by sample and the batch
     is large enough to pay for the hand-off; each tile is computed exactly
     as it would be alone, so the thread count never changes a result. */
  int parts = 1;
  if (m->pool && batch >= 2 * RECQ_MIN_TILE && m->splittable) {
    parts = recq_internal_pool_size(m->pool) + 1;
    if (batch / parts < RECQ_MIN_TILE)
      parts = (int)(batch / RECQ_MIN_TILE);
  }
  /* Tiles of at most tile_samples, so that a tile's activations (the
     bags' [n, T, D] output the interaction reads, the FCs' outputs) stay
     in cache between the ops, on one thread too. */
  if (m->splittable && m->tile_samples > 0 && batch > m->tile_samples) {
    int64_t want = (batch + m->tile_samples - 1) / m->tile_samples;
    if (want > RECQ_MAX_PARTS)
      want = RECQ_MAX_PARTS;
    if (want > parts)
      parts = (int)want;
  }
  int pooled = parts > 1 && m->pool && recq_internal_pool_trylock(m->pool) == 0;
  if (parts > 1 && !pooled &&
      (m->tile_samples == 0 || batch <= m->tile_samples))
    parts = 1; /* another call has the workers: run on this thread */
  if (parts <= 1) {
    /* A batch too small for tiles: a split model's tables on the workers
       instead, when their lookups are enough work to pay for waking them.
       Every table is computed exactly as alone, so again the thread count
       never changes a result. */
    recq_pool *tables = NULL;
    if (m->pool && m->variant->rest && d->num_tables >= 2 &&
        table_work(d, shapes) >= RECQ_MIN_TABLE_WORK &&
        recq_internal_pool_trylock(m->pool) == 0)
      tables = m->pool;
    int code = run_slice(m, inputs, weights, shapes, out, out_capacity,
                         out_shape, 0, NULL, tables, st);
    if (tables)
      recq_internal_pool_unlock(m->pool);
    if (code == RECQ_OK)
      recq_internal_set_status(st, RECQ_OK, "ok");
    return code;
  }

  recq_slice_job job;
  job.model = m;
  job.inputs = inputs;
  job.weights = weights;
  job.shapes = shapes;
  job.out = out;
  job.out_cols = out_cols;
  job.batch = batch;
  job.parts = parts;
  split_batch(d, inputs, shapes, batch, parts, job.bounds);
  for (int p = 0; p < parts; ++p)
    job.codes[p] = RECQ_OK;
  if (pooled) {
    recq_internal_pool_run(m->pool, parts, run_part, &job);
    recq_internal_pool_unlock(m->pool);
  } else {
    for (int p = 0; p < parts; ++p)
      run_part(&job, p);
  }
  for (int p = 0; p < parts; ++p)
    if (job.codes[p] != RECQ_OK)
      return recq_internal_set_status(st, job.codes[p], "%s", job.messages[p]);
  if (out_shape) {
    out_shape[0] = batch;
    for (int k = 1; k < d->outputs[0].rank; ++k)
      out_shape[k] = d->outputs[0].shape[k];
  }
  recq_internal_set_status(st, RECQ_OK, "ok");
  return RECQ_OK;
}
