/*===- recq_model_info.c - What a loaded model takes and holds -------------===*
 *
 * Part of the model runtime: the C API's introspection (recq.h): inputs,
 * outputs and tables of the model's recq_model_description, its
 * plan and weights file.
 *
 *===----------------------------------------------------------------------===*/

#include "recq_model_internal.h"

#include "recq/Runtime/recq_host.h"

#include <stdint.h>
#include <string.h>

/* Introspection: a NULL model or an index out of range gets -1 (or NULL),
   never a read. */
int recq_model_num_inputs(const recq_model *m) {
  return m ? m->desc->num_inputs : -1;
}
int recq_model_num_outputs(const recq_model *m) {
  return m ? m->desc->num_outputs : -1;
}
int recq_model_num_tables(const recq_model *m) {
  return m ? m->desc->num_tables : -1;
}

const char *recq_model_plan(const recq_model *m) {
  return m ? m->desc->plan_json : NULL;
}

int recq_model_weights_info(const recq_model *m, int64_t *bytes,
                            int64_t *huge_bytes) {
  if (!m)
    return -1;
  /* The file's size (a huge-page copy is rounded up to 2 MiB). */
  int64_t size = m->weights ? (int64_t)m->desc->weights_file_bytes : 0;
  if (bytes)
    *bytes = size;
  if (huge_bytes) {
    int64_t huge =
        m->weights ? recq_huge_page_bytes(m->weights, m->weights_bytes, NULL)
                   : 0;
    *huge_bytes = huge > size ? size : huge;
  }
  return 0;
}

int64_t recq_model_table_rows(const recq_model *m, int t) {
  return m && t >= 0 && t < m->desc->num_tables ? m->desc->tables[t].rows : -1;
}

int recq_model_table_info(const recq_model *m, int t, int *indices_input,
                          int *offsets_input, int64_t *offsets_row,
                          int *include_last_offset) {
  if (!m || t < 0 || t >= m->desc->num_tables)
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

int64_t recq_model_table_indices_row(const recq_model *m, int t) {
  if (!m || t < 0 || t >= m->desc->num_tables)
    return -1;
  return m->desc->tables[t].indices_row;
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
  return m && i >= 0 && i < m->desc->num_inputs ? m->desc->inputs[i].name
                                                : NULL;
}
const char *recq_model_output_name(const recq_model *m, int i) {
  return m && i >= 0 && i < m->desc->num_outputs ? m->desc->outputs[i].name
                                                 : NULL;
}
int recq_model_input_info(const recq_model *m, int i, int *dtype, int *rank,
                          int64_t *shape) {
  if (!m || i < 0 || i >= m->desc->num_inputs)
    return -1;
  return tensor_info(&m->desc->inputs[i], dtype, rank, shape);
}
int recq_model_output_info(const recq_model *m, int i, int *dtype, int *rank,
                           int64_t *shape) {
  if (!m || i < 0 || i >= m->desc->num_outputs)
    return -1;
  return tensor_info(&m->desc->outputs[i], dtype, rank, shape);
}
