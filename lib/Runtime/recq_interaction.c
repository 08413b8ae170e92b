/*===- recq_interaction.c - the dot interaction's kernels -----------------===*
 *
 * See recq_interaction.h. One walk over the lower triangle of pairs, in
 * blocks of 3 rows (i) x 4 columns (j): a block's 12 dot products share
 * their loads (3 + 4 vectors a step for 12 multiply-adds), and a row's 4
 * sums land side by side in the output. Blocks on the diagonal compute a
 * few pairs past it (j >= i, or j > i with self) and drop them; rows and
 * columns past the last feature read feature 0 and are dropped too. On the
 * MLPerf-shaped DLRM (27 features) that is 444 dot products for 351 pairs.
 *
 *===----------------------------------------------------------------------===*/

#include "recq/Runtime/recq_interaction.h"

#include <immintrin.h>
#include <string.h>

enum { kRows = 3, kCols = 4 };

/* The dot products of rows r[0..2] with columns c[0..3], `dim` floats each. */
typedef void (*block_fn)(const float *const *r, const float *const *c,
                         int64_t dim, float sums[kRows][kCols]);

static void block_generic(const float *const *r, const float *const *c,
                          int64_t dim, float sums[kRows][kCols]) {
  for (int i = 0; i < kRows; ++i)
    for (int j = 0; j < kCols; ++j) {
      /* Four partial sums, so the adds need not wait on each other. */
      float s[4] = {0, 0, 0, 0};
      int64_t k = 0;
      for (; k + 4 <= dim; k += 4)
        for (int l = 0; l < 4; ++l)
          s[l] += r[i][k + l] * c[j][k + l];
      for (; k < dim; ++k)
        s[0] += r[i][k] * c[j][k];
      sums[i][j] = (s[0] + s[1]) + (s[2] + s[3]);
    }
}

#define RECQ_AVX2 __attribute__((target("avx2,fma")))

/* The lane sums of a0..a3, in that order. */
RECQ_AVX2 static inline __m128 sum4(__m256 a0, __m256 a1, __m256 a2,
                                    __m256 a3) {
  __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* 12 accumulators, three row vectors and one column vector: the 16 ymm
   registers. The last dim % 8 floats are read under a mask (a masked-off
   lane reads nothing, so a row may end at a page's end). */
#define RECQ_STEP(LOAD)                                                        \
  do {                                                                         \
    __m256 x0 = LOAD(r[0] + k), x1 = LOAD(r[1] + k), x2 = LOAD(r[2] + k);      \
    __m256 y = LOAD(c[0] + k);                                                 \
    s00 = _mm256_fmadd_ps(x0, y, s00);                                         \
    s10 = _mm256_fmadd_ps(x1, y, s10);                                         \
    s20 = _mm256_fmadd_ps(x2, y, s20);                                         \
    y = LOAD(c[1] + k);                                                        \
    s01 = _mm256_fmadd_ps(x0, y, s01);                                         \
    s11 = _mm256_fmadd_ps(x1, y, s11);                                         \
    s21 = _mm256_fmadd_ps(x2, y, s21);                                         \
    y = LOAD(c[2] + k);                                                        \
    s02 = _mm256_fmadd_ps(x0, y, s02);                                         \
    s12 = _mm256_fmadd_ps(x1, y, s12);                                         \
    s22 = _mm256_fmadd_ps(x2, y, s22);                                         \
    y = LOAD(c[3] + k);                                                        \
    s03 = _mm256_fmadd_ps(x0, y, s03);                                         \
    s13 = _mm256_fmadd_ps(x1, y, s13);                                         \
    s23 = _mm256_fmadd_ps(x2, y, s23);                                         \
  } while (0)

RECQ_AVX2 static void block_avx2(const float *const *r, const float *const *c,
                                 int64_t dim, float sums[kRows][kCols]) {
  __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s03 = s00;
  __m256 s10 = s00, s11 = s00, s12 = s00, s13 = s00;
  __m256 s20 = s00, s21 = s00, s22 = s00, s23 = s00;
  int64_t k = 0;
  for (; k + 8 <= dim; k += 8)
    RECQ_STEP(_mm256_loadu_ps);
  if (k < dim) {
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(dim - k)),
                                      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
#define RECQ_MASKED(p) _mm256_maskload_ps((p), mask)
    RECQ_STEP(RECQ_MASKED);
#undef RECQ_MASKED
  }
  _mm_storeu_ps(sums[0], sum4(s00, s01, s02, s03));
  _mm_storeu_ps(sums[1], sum4(s10, s11, s12, s13));
  _mm_storeu_ps(sums[2], sum4(s20, s21, s22, s23));
}
#undef RECQ_STEP

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static void interact(const recq_feature_group *groups, int64_t num_groups,
                     int64_t dim, int64_t batch, int64_t self, float *out,
                     int64_t out_stride, block_fn block) {
  int64_t features = 0;
  for (int64_t g = 0; g < num_groups; ++g)
    features += groups[g].count;
  if (features <= 0 || batch <= 0)
    return;
  const int64_t diagonal = self ? 1 : 0;
  const float *feature[features];
  for (int64_t s = 0; s < batch; ++s) {
    int64_t f = 0;
    for (int64_t g = 0; g < num_groups; ++g)
      for (int64_t t = 0; t < groups[g].count; ++t)
        feature[f++] = groups[g].data + s * groups[g].sample_stride +
                       t * groups[g].feature_stride;
    float *row = out + s * out_stride;
    memcpy(row, feature[0], (size_t)dim * sizeof(float));
    float *pairs = row + dim;
    for (int64_t i0 = 1 - diagonal; i0 < features; i0 += kRows) {
      const float *r[kRows];
      for (int i = 0; i < kRows; ++i)
        r[i] = feature[min64(i0 + i, features - 1)];
      /* Columns j < end cover the block's last row. */
      int64_t end = min64(i0 + kRows - 1, features - 1) + diagonal;
      for (int64_t j0 = 0; j0 < end; j0 += kCols) {
        const float *c[kCols];
        for (int j = 0; j < kCols; ++j)
          c[j] = feature[j0 + j < features ? j0 + j : 0];
        float sums[kRows][kCols];
        block(r, c, dim, sums);
        for (int i = 0; i < kRows && i0 + i < features; ++i) {
          int64_t row_i = i0 + i;
          int64_t n = min64(kCols, row_i + diagonal - j0);
          float *dst = pairs + row_i * (row_i - 1 + 2 * diagonal) / 2 + j0;
          for (int64_t j = 0; j < n; ++j)
            dst[j] = sums[i][j];
        }
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

void recq_interaction_dot_f32_avx2(const recq_feature_group *groups,
                                   int64_t num_groups, int64_t dim,
                                   int64_t batch, int64_t self, float *out,
                                   int64_t out_stride) {
  interact(groups, num_groups, dim, batch, self, out, out_stride, block_avx2);
}
