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
  /* Rows of the innermost dimension are contiguous on both sides in every
     copy recq's lowering makes: one memcpy per row. */
  int64_t inner = 1;
  int64_t outer_rank = rank;
  if (src_strides[rank - 1] == 1 && dst_strides[rank - 1] == 1) {
    inner = sizes[rank - 1];
    outer_rank = rank - 1;
  }
  size_t row_bytes = (size_t)(inner * elem_size);
  int64_t rows = total / inner;
  /* Walk the rows with a mixed-radix counter over the outer dimensions. */
  int64_t index[16] = {0};
  for (int64_t n = 0; n < rows; ++n) {
    int64_t so = 0, doff = 0;
    for (int64_t r = 0; r < outer_rank; ++r) {
      so += index[r] * src_strides[r];
      doff += index[r] * dst_strides[r];
    }
    memcpy(dst_base + doff * elem_size, src_base + so * elem_size, row_bytes);
    for (int64_t r = outer_rank - 1; r >= 0; --r) {
      if (++index[r] < sizes[r])
        break;
      index[r] = 0;
    }
  }
}

/*===----------------------------------------------------------------------===*
 * Buffers of the generated code
 *
 * The lowering calls these instead of malloc/free (finalize-memref-to-llvm's
 * use-generic-functions). Each thread keeps the blocks its runs freed and
 * hands them out again, so after the first call a run allocates nothing and
 * touches no fresh pages: the arena of a thread is the set of its cached
 * blocks. Blocks are 64-byte aligned; a 64-byte header before each holds its
 * capacity and, for a block of its own mapping, the mapping's length.
 * Blocks of 2 MiB or more get their own 2 MiB-aligned mapping advised for
 * transparent huge pages: the first call of a batch size then faults its
 * buffers in 2 MiB at a time (with 4 KiB pages, ~2,500 faults took ~6 ms
 * of a 12 ms first batch of 2048 on a model whose warm batch takes 6 ms),
 * and warm calls miss the TLB less on them.
 *===----------------------------------------------------------------------===*/

#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#define RECQ_CACHE_SLOTS 64
#define RECQ_HEADER 64
#define RECQ_HUGE ((size_t)2 << 20)

/* The header before each block: its capacity; the length of its own
   mapping (0: posix_memalign's). */
typedef struct recq_block_header {
  size_t capacity;
  size_t mapped;
} recq_block_header;

/* A block of `capacity` bytes in a 2 MiB-aligned mapping of its own,
   advised for huge pages; NULL if the mapping fails. */
static char *map_block(size_t capacity) {
  size_t len = (capacity + RECQ_HEADER + RECQ_HUGE - 1) & ~(RECQ_HUGE - 1);
  char *raw = mmap(NULL, len + RECQ_HUGE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return NULL;
  char *start =
      (char *)(((uintptr_t)raw + RECQ_HUGE - 1) & ~(uintptr_t)(RECQ_HUGE - 1));
  if (start > raw)
    munmap(raw, (size_t)(start - raw));
  if (start + len < raw + len + RECQ_HUGE)
    munmap(start + len, (size_t)(raw + len + RECQ_HUGE - (start + len)));
  madvise(start, len, MADV_HUGEPAGE); /* advice: without THP, 4 KiB pages */
  recq_block_header h = {len - RECQ_HEADER, len};
  memcpy(start, &h, sizeof h);
  return start + RECQ_HEADER;
}

static void release_block(void *block) {
  recq_block_header h;
  memcpy(&h, (char *)block - RECQ_HEADER, sizeof h);
  if (h.mapped)
    munmap((char *)block - RECQ_HEADER, h.mapped);
  else
    free((char *)block - RECQ_HEADER);
}

typedef struct recq_block_cache {
  void *blocks[RECQ_CACHE_SLOTS];
  int count;
} recq_block_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void release_cache(void *p) {
  recq_block_cache *cache = p;
  for (int i = 0; i < cache->count; ++i)
    release_block(cache->blocks[i]);
  free(cache);
}

static void make_cache_key(void) { pthread_key_create(&cache_key, release_cache); }

static recq_block_cache *thread_cache(void) {
  pthread_once(&cache_once, make_cache_key);
  recq_block_cache *cache = pthread_getspecific(cache_key);
  if (!cache) {
    cache = calloc(1, sizeof *cache);
    if (cache)
      pthread_setspecific(cache_key, cache);
  }
  return cache;
}

static size_t block_capacity(void *block) {
  size_t capacity;
  memcpy(&capacity, (char *)block - RECQ_HEADER, sizeof capacity);
  return capacity;
}

__attribute__((visibility("hidden"))) void *
_mlir_memref_to_llvm_aligned_alloc(uint64_t alignment, uint64_t size) {
  (void)alignment; /* every block is 64-byte aligned, the most recq asks */
  recq_block_cache *cache = thread_cache();
  if (cache) {
    /* The smallest cached block that fits and wastes at most half. */
    int best = -1;
    for (int i = 0; i < cache->count; ++i) {
      size_t c = block_capacity(cache->blocks[i]);
      if (c >= size && c <= 2 * size + 4096 &&
          (best < 0 || c < block_capacity(cache->blocks[best])))
        best = i;
    }
    if (best >= 0) {
      void *block = cache->blocks[best];
      cache->blocks[best] = cache->blocks[--cache->count];
      return block;
    }
  }
  size_t capacity = (size + 63) & ~(size_t)63;
  if (capacity >= RECQ_HUGE - RECQ_HEADER) {
    char *block = map_block(capacity);
    if (block)
      return block;
  }
  char *raw = NULL;
  if (posix_memalign((void **)&raw, 64, capacity + RECQ_HEADER) != 0)
    return NULL;
  recq_block_header h = {capacity, 0};
  memcpy(raw, &h, sizeof h);
  return raw + RECQ_HEADER;
}

__attribute__((visibility("hidden"))) void *
_mlir_memref_to_llvm_alloc(uint64_t size) {
  return _mlir_memref_to_llvm_aligned_alloc(64, size);
}

__attribute__((visibility("hidden"))) void _mlir_memref_to_llvm_free(void *p) {
  if (!p)
    return;
  recq_block_cache *cache = thread_cache();
  if (cache && cache->count < RECQ_CACHE_SLOTS) {
    cache->blocks[cache->count++] = p;
    return;
  }
  release_block(p);
}
