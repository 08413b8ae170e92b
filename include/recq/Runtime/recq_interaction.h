/*===- recq_interaction.h - the dot interaction's kernels ----------*- C -*-===*
 *
 * What the generated code calls for a `recq.interaction dot` (lowered by
 * convert-recq-interaction-to-call, see
 *docs/generated/RecqConversionPasses.md): one kernel per instruction set,
 *written once here rather than unrolled into every variant of every model. For
 *each of `batch` samples the output row is the dense features (the first
 *feature) followed by the dot product of every pair of features (i, j), j < i
 *(j <= i with `self`), in row-major order, as recq.interaction defines it.
 *
 *===----------------------------------------------------------------------===*/

#ifndef RECQ_RUNTIME_RECQ_INTERACTION_H
#define RECQ_RUNTIME_RECQ_INTERACTION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One operand of the interaction: `count` features of `dim` floats each
/// (the dense operand: 1; an embedding bags result [B, T, D]: T). Feature t
/// of sample s starts at `data + s * sample_stride + t * feature_stride`
/// (strides in floats); its `dim` floats are contiguous.
typedef struct recq_feature_group {
  const float *data;
  int64_t sample_stride;
  int64_t feature_stride;
  int64_t count;
} recq_feature_group;

/// Writes `batch` rows of `dim + pairs` floats to `out`, rows `out_stride`
/// floats apart. The features are the groups' in order (the dense one
/// first). `self` nonzero: the pairs include (i, i).
/// `generic`: SSE2 (any x86-64); `avx2`: AVX2 + FMA (the model's avx512
/// and amx variants call it too); both take 3 x 4 pairs at a time.
void recq_interaction_dot_f32_generic(const recq_feature_group *groups,
                                      int64_t num_groups, int64_t dim,
                                      int64_t batch, int64_t self, float *out,
                                      int64_t out_stride);
void recq_interaction_dot_f32_avx2(const recq_feature_group *groups,
                                   int64_t num_groups, int64_t dim,
                                   int64_t batch, int64_t self, float *out,
                                   int64_t out_stride);

#ifdef __cplusplus
}
#endif

#endif /* RECQ_RUNTIME_RECQ_INTERACTION_H */
