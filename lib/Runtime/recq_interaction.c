/*===- recq_interaction.c - the dot interaction's kernels -----------------===*
 *
 * See recq_interaction.h. One walk over the lower triangle of pairs, in
 * blocks of 3 rows (i) x up to 4 columns (j): a block's 12 dot products
 * share their loads (3 + 4 vectors a step for 12 multiply-adds), and a
 * row's 4 sums land side by side in the output. A row block's last column
 * block is as wide as its last row needs; the pairs it computes past the
 * diagonal (j >= i, or j > i with self: 3 a row block) are dropped, and so
 * are rows past the last feature (which read the last feature again). On
 * the MLPerf-shaped DLRM (27 features) that is 378 dot products for 351
 * pairs.
 *
 *===----------------------------------------------------------------------===*/

#include "recq/Runtime/recq_interaction.h"

#include <immintrin.h>
#include <string.h>

enum { kRows = 3, kCols = 4 };

/* The dot products of rows r[0..2] with columns c[0..cols-1] (cols <= 4),
   `dim` floats each; row i's first n[i] (<= cols) of them stored at
   dst[i]. */
typedef void (*block_fn)(const float *const *r, const float *const *c, int cols,
                         int64_t dim, float *const *dst, const int *n);

/* Calls BLOCK_COLS with `cols` as a constant, so each width's block is
   its own inlined copy (columns past it are neither loaded nor summed). */
#define RECQ_BY_COLS(BLOCK_COLS)                                               \
  do {                                                                         \
    switch (cols) {                                                            \
    case 1:                                                                    \
      BLOCK_COLS(r, c, dim, dst, n, 1);                                        \
      break;                                                                   \
    case 2:                                                                    \
      BLOCK_COLS(r, c, dim, dst, n, 2);                                        \
      break;                                                                   \
    case 3:                                                                    \
      BLOCK_COLS(r, c, dim, dst, n, 3);                                        \
      break;                                                                   \
    default:                                                                   \
      BLOCK_COLS(r, c, dim, dst, n, 4);                                        \
    }                                                                          \
  } while (0)

/* SSE2 (every x86-64 CPU): the AVX2 kernel's block on 4 lanes, with a
   multiply and an add for each FMA; the last dim % 4 floats are summed one
   at a time. */

/* The lane sums of a0..a3, in that order (two unpacks, two adds, two
   moves, one add: SSE2 has no horizontal add). */
static inline __m128 sum4_sse2(__m128 a0, __m128 a1, __m128 a2, __m128 a3) {
  __m128 s01 = _mm_add_ps(_mm_unpacklo_ps(a0, a1), _mm_unpackhi_ps(a0, a1));
  __m128 s23 = _mm_add_ps(_mm_unpacklo_ps(a2, a3), _mm_unpackhi_ps(a2, a3));
  return _mm_add_ps(_mm_movelh_ps(s01, s23), _mm_movehl_ps(s23, s01));
}

#define RECQ_COLUMN_SSE2(J)                                                    \
  if (cols > J) {                                                              \
    __m128 y = _mm_loadu_ps(c[J] + k);                                         \
    s0##J = _mm_add_ps(s0##J, _mm_mul_ps(x0, y));                              \
    s1##J = _mm_add_ps(s1##J, _mm_mul_ps(x1, y));                              \
    s2##J = _mm_add_ps(s2##J, _mm_mul_ps(x2, y));                              \
  }

static inline __attribute__((always_inline)) void
block_generic_cols(const float *const *r, const float *const *c, int64_t dim,
                   float *const *dst, const int *n, const int cols) {
  __m128 s00 = _mm_setzero_ps(), s01 = s00, s02 = s00, s03 = s00;
  __m128 s10 = s00, s11 = s00, s12 = s00, s13 = s00;
  __m128 s20 = s00, s21 = s00, s22 = s00, s23 = s00;
  int64_t k = 0;
  for (; k + 4 <= dim; k += 4) {
    __m128 x0 = _mm_loadu_ps(r[0] + k), x1 = _mm_loadu_ps(r[1] + k),
           x2 = _mm_loadu_ps(r[2] + k);
    RECQ_COLUMN_SSE2(0)
    RECQ_COLUMN_SSE2(1)
    RECQ_COLUMN_SSE2(2)
    RECQ_COLUMN_SSE2(3)
  }
  float sums[kRows][kCols];
  _mm_storeu_ps(sums[0], sum4_sse2(s00, s01, s02, s03));
  _mm_storeu_ps(sums[1], sum4_sse2(s10, s11, s12, s13));
  _mm_storeu_ps(sums[2], sum4_sse2(s20, s21, s22, s23));
  for (int i = 0; i < kRows; ++i)
    for (int j = 0; j < n[i]; ++j) {
      float tail = 0;
      for (int64_t t = k; t < dim; ++t)
        tail += r[i][t] * c[j][t];
      dst[i][j] = sums[i][j] + tail;
    }
}
#undef RECQ_COLUMN_SSE2

static inline void block_generic(const float *const *r, const float *const *c,
                                 int cols, int64_t dim, float *const *dst,
                                 const int *n) {
  RECQ_BY_COLS(block_generic_cols);
}

#define RECQ_AVX2 __attribute__((target("avx2,fma")))

/* The lane sums of a0..a3, in that order. */
RECQ_AVX2 static inline __m128 sum4(__m256 a0, __m256 a1, __m256 a2,
                                    __m256 a3) {
  __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* The first n of the 4 sums to dst (n = 4: one store; fewer: masked). */
RECQ_AVX2 static inline void store_sums(float *dst, __m128 sums, int n) {
  if (n == 4)
    _mm_storeu_ps(dst, sums);
  else if (n > 0)
    _mm_maskstore_ps(
        dst, _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3)),
        sums);
}

/* Up to 12 accumulators, three row vectors and one column vector: the 16
   ymm registers. The last dim % 8 floats are read under a mask (a
   masked-off lane reads nothing, so a row may end at a page's end). */
#define RECQ_COLUMN(J, LOAD)                                                   \
  if (cols > J) {                                                              \
    __m256 y = LOAD(c[J] + k);                                                 \
    s0##J = _mm256_fmadd_ps(x0, y, s0##J);                                     \
    s1##J = _mm256_fmadd_ps(x1, y, s1##J);                                     \
    s2##J = _mm256_fmadd_ps(x2, y, s2##J);                                     \
  }
#define RECQ_STEP(LOAD)                                                        \
  do {                                                                         \
    __m256 x0 = LOAD(r[0] + k), x1 = LOAD(r[1] + k), x2 = LOAD(r[2] + k);      \
    RECQ_COLUMN(0, LOAD)                                                       \
    RECQ_COLUMN(1, LOAD)                                                       \
    RECQ_COLUMN(2, LOAD)                                                       \
    RECQ_COLUMN(3, LOAD)                                                       \
  } while (0)

/* The first `cols` columns of a block (a constant once inlined). */
RECQ_AVX2 static inline __attribute__((always_inline)) void
block_avx2_cols(const float *const *r, const float *const *c, int64_t dim,
                float *const *dst, const int *n, const int cols) {
  __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s03 = s00;
  __m256 s10 = s00, s11 = s00, s12 = s00, s13 = s00;
  __m256 s20 = s00, s21 = s00, s22 = s00, s23 = s00;
  int64_t k = 0;
  for (; k + 8 <= dim; k += 8)
    RECQ_STEP(_mm256_loadu_ps);
  if (k < dim) {
    __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(dim - k)),
                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#define RECQ_MASKED(p) _mm256_maskload_ps((p), mask)
    RECQ_STEP(RECQ_MASKED);
#undef RECQ_MASKED
  }
  store_sums(dst[0], sum4(s00, s01, s02, s03), n[0]);
  store_sums(dst[1], sum4(s10, s11, s12, s13), n[1]);
  store_sums(dst[2], sum4(s20, s21, s22, s23), n[2]);
}
#undef RECQ_STEP
#undef RECQ_COLUMN

RECQ_AVX2 static inline void block_avx2(const float *const *r,
                                        const float *const *c, int cols,
                                        int64_t dim, float *const *dst,
                                        const int *n) {
  RECQ_BY_COLS(block_avx2_cols);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Inlined into each kernel with its block function, which is inlined in
   turn (in the AVX2 kernel's instruction set). */
static inline __attribute__((always_inline)) void
interact(const recq_feature_group *groups, int64_t num_groups, int64_t dim,
         int64_t batch, int64_t self, float *out, int64_t out_stride,
         block_fn block) {
  int64_t features = 0;
  for (int64_t g = 0; g < num_groups; ++g)
    features += groups[g].count;
  if (features <= 0 || batch <= 0)
    return;
  const int64_t diagonal = self ? 1 : 0;
  /* This sample's features, and the next one's (prefetched meanwhile,
     three features a row block: the batch's features come from the bags
     through L2 or L3, not from L1). */
  const float *feature[features], *next[features];
  for (int64_t s = 0; s < batch; ++s) {
    int64_t f = 0;
    for (int64_t g = 0; g < num_groups; ++g)
      for (int64_t t = 0; t < groups[g].count; ++t, ++f) {
        feature[f] = groups[g].data + s * groups[g].sample_stride +
                     t * groups[g].feature_stride;
        next[f] = s + 1 < batch ? feature[f] + groups[g].sample_stride : 0;
      }
    float *row = out + s * out_stride;
    memcpy(row, feature[0], (size_t)dim * sizeof(float));
    float *pairs = row + dim;
    for (int64_t i0 = 1 - diagonal; i0 < features; i0 += kRows) {
      for (int64_t p = i0 == 1 ? 0 : i0; p < min64(i0 + kRows, features); ++p)
        if (next[p])
          for (int64_t k = 0; k < dim; k += 16)
            __builtin_prefetch(next[p] + k, 0, 3);
      const float *r[kRows];
      for (int i = 0; i < kRows; ++i)
        r[i] = feature[min64(i0 + i, features - 1)];
      /* Columns j < end cover the block's last row. */
      int64_t end = min64(i0 + kRows - 1, features - 1) + diagonal;
      for (int64_t j0 = 0; j0 < end; j0 += kCols) {
        int cols = (int)min64(kCols, end - j0);
        const float *c[kCols];
        for (int j = 0; j < cols; ++j)
          c[j] = feature[j0 + j];
        /* Row i's pairs (i, j0..): the first n[i] of the block's row. */
        float *dst[kRows];
        int n[kRows];
        for (int i = 0; i < kRows; ++i) {
          int64_t row_i = i0 + i;
          n[i] = row_i < features ? (int)(row_i + diagonal - j0 < cols
                                              ? row_i + diagonal - j0
                                              : cols)
                                  : 0;
          if (n[i] < 0)
            n[i] = 0;
          dst[i] = pairs + row_i * (row_i - 1 + 2 * diagonal) / 2 + j0;
        }
        block(r, c, cols, dim, dst, n);
      }
    }
  }
}

void recq_interaction_dot_f32_generic(const recq_feature_group *groups,
                                      int64_t num_groups, int64_t dim,
                                      int64_t batch, int64_t self, float *out,
                                      int64_t out_stride) {
  interact(groups, num_groups, dim, batch, self, out, out_stride,
           block_generic);
}

RECQ_AVX2 void recq_interaction_dot_f32_avx2(const recq_feature_group *groups,
                                             int64_t num_groups, int64_t dim,
                                             int64_t batch, int64_t self,
                                             float *out, int64_t out_stride) {
  interact(groups, num_groups, dim, batch, self, out, out_stride, block_avx2);
}
