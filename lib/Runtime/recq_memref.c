/*===- recq_memref.c - Support functions MLIR's lowering calls ------------===*
 *
 * `memref.copy` between buffers whose layouts are not both contiguous
 * lowers to a call to `memrefCopy` (MLIR's C runner utilities define it;
 * compiled models must not depend on those, so the runtime does).
 *
 *===----------------------------------------------------------------------===*/

#include <stdint.h>
#include <string.h>

typedef struct recq_unranked_memref {
  int64_t rank;
  void *descriptor; /* {alloc, aligned, offset, sizes[rank], strides[rank]} */
} recq_unranked_memref;

__attribute__((visibility("hidden"))) void
memrefCopy(int64_t elem_size, recq_unranked_memref *src,
           recq_unranked_memref *dst) {
  int64_t rank = src->rank;
  const int64_t *s = (const int64_t *)src->descriptor;
  const int64_t *d = (const int64_t *)dst->descriptor;
  char *src_base, *dst_base;
  memcpy(&src_base, &s[1], sizeof src_base);
  memcpy(&dst_base, &d[1], sizeof dst_base);
  src_base += s[2] * elem_size;
  dst_base += d[2] * elem_size;
  const int64_t *sizes = &s[3], *src_strides = &s[3 + rank],
                *dst_strides = &d[3 + rank];
  int64_t total = 1;
  for (int64_t r = 0; r < rank; ++r)
    total *= sizes[r];
  if (total == 0)
    return;
  if (rank == 0) {
    memcpy(dst_base, src_base, (size_t)elem_size);
    return;
  }
  /* Walk every element with a mixed-radix counter. */
  int64_t index[16] = {0};
  for (int64_t n = 0; n < total; ++n) {
    int64_t so = 0, doff = 0;
    for (int64_t r = 0; r < rank; ++r) {
      so += index[r] * src_strides[r];
      doff += index[r] * dst_strides[r];
    }
    memcpy(dst_base + doff * elem_size, src_base + so * elem_size,
           (size_t)elem_size);
    for (int64_t r = rank - 1; r >= 0; --r) {
      if (++index[r] < sizes[r])
        break;
      index[r] = 0;
    }
  }
}
