/*===- recq_model.c - Load, check and run a compiled model ----------------===*
 *
 * Linked into every model.so next to the generated code and its
 * recq_model_description. Checks the CPU at load, and every input's shape
 * and offsets vector before calling the generated code; the generated code
 * checks every index in its pooling loop (it never reads outside a table)
 * and returns a flag per table, which this file turns into an error.
 *
 *===----------------------------------------------------------------------===*/

#define _GNU_SOURCE /* dladdr */

#include "recq/Runtime/recq.h"
#include "recq/Runtime/recq_abi.h"
#include "recq/Runtime/recq_cpu.h"
#include "recq/Runtime/recq_host.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The generated code's allocator (recq_memref.c). */
void *_mlir_memref_to_llvm_alloc(uint64_t size);
void _mlir_memref_to_llvm_free(void *p);

#define RECQ_MAX_RANK 8
#define RECQ_MAX_INPUTS 128
#define RECQ_MAX_PARTS 64
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

/*===----------------------------------------------------------------------===*
 * Thread pool: `size` workers; the caller runs part 0 itself.
 *===----------------------------------------------------------------------===*/

typedef struct recq_pool {
  int size;
  pthread_t *threads;
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  pthread_mutex_t busy; /* held by the run using the workers */
  void (*fn)(void *, int);
  void *arg;
  int parts, next, pending;
  unsigned generation;
  int stop;
} recq_pool;

static void *pool_worker(void *p) {
  recq_pool *pool = p;
  unsigned seen = 0;
  pthread_mutex_lock(&pool->mu);
  for (;;) {
    while (!pool->stop && pool->generation == seen)
      pthread_cond_wait(&pool->wake, &pool->mu);
    if (pool->stop)
      break;
    seen = pool->generation;
    while (pool->next < pool->parts) {
      int part = pool->next++;
      pthread_mutex_unlock(&pool->mu);
      pool->fn(pool->arg, part);
      pthread_mutex_lock(&pool->mu);
      if (--pool->pending == 0)
        pthread_cond_signal(&pool->done);
    }
  }
  pthread_mutex_unlock(&pool->mu);
  return NULL;
}

static void pool_destroy(recq_pool *pool) {
  if (!pool)
    return;
  pthread_mutex_lock(&pool->mu);
  pool->stop = 1;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->mu);
  for (int i = 0; i < pool->size; ++i)
    pthread_join(pool->threads[i], NULL);
  free(pool->threads);
  pthread_mutex_destroy(&pool->mu);
  pthread_mutex_destroy(&pool->busy);
  pthread_cond_destroy(&pool->wake);
  pthread_cond_destroy(&pool->done);
  free(pool);
}

static recq_pool *pool_create(int workers) {
  recq_pool *pool = calloc(1, sizeof *pool);
  if (!pool)
    return NULL;
  pool->threads = calloc((size_t)workers, sizeof(pthread_t));
  pthread_mutex_init(&pool->mu, NULL);
  pthread_mutex_init(&pool->busy, NULL);
  pthread_cond_init(&pool->wake, NULL);
  pthread_cond_init(&pool->done, NULL);
  if (!pool->threads) {
    pool_destroy(pool);
    return NULL;
  }
  for (int i = 0; i < workers; ++i) {
    if (pthread_create(&pool->threads[i], NULL, pool_worker, pool) != 0)
      break;
    pool->size = i + 1;
  }
  if (pool->size == 0) {
    pool_destroy(pool);
    return NULL;
  }
  return pool;
}

/* Runs fn(arg, part) for part in [0, parts) on the workers and the caller. */
static void pool_run(recq_pool *pool, int parts, void (*fn)(void *, int),
                     void *arg) {
  pthread_mutex_lock(&pool->mu);
  pool->fn = fn;
  pool->arg = arg;
  pool->parts = parts;
  pool->next = 0;
  pool->pending = parts;
  ++pool->generation;
  pthread_cond_broadcast(&pool->wake);
  while (pool->next < pool->parts) {
    int part = pool->next++;
    pthread_mutex_unlock(&pool->mu);
    fn(arg, part);
    pthread_mutex_lock(&pool->mu);
    --pool->pending;
  }
  while (pool->pending > 0)
    pthread_cond_wait(&pool->done, &pool->mu);
  pthread_mutex_unlock(&pool->mu);
}

/*===----------------------------------------------------------------------===*
 * Model
 *===----------------------------------------------------------------------===*/

/* How an input is cut into batch tiles. */
enum { ROLE_NONE, ROLE_DENSE, ROLE_OFFSETS, ROLE_INDICES, ROLE_FIXED,
       ROLE_WEIGHTS };

struct recq_model {
  const recq_model_desc *desc;
  char *weights;  /* the mmapped model.weights (read-only), or NULL */
  size_t weights_bytes;
  /* RECQ_GUARD_WEIGHTS: each weight's own copy between inaccessible
     pages (see guard_weights); NULL when off. */
  const char *guarded[RECQ_MAX_INPUTS];
  char *guard_maps[RECQ_MAX_INPUTS];
  size_t guard_bytes[RECQ_MAX_INPUTS];
  recq_pool *pool;
  int threads;
  int splittable;
  int role[RECQ_MAX_INPUTS];
  int table_of[RECQ_MAX_INPUTS]; /* the table reading an indices or
                                    weights input */
};

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

/* Decides how each input is cut into batch tiles; a model with an input
   that fits none of the roles runs every batch whole. */
static void classify_inputs(recq_model *m) {
  const recq_model_desc *d = m->desc;
  m->splittable = d->num_inputs <= RECQ_MAX_INPUTS && d->num_outputs >= 1 &&
                  d->outputs[0].rank == 2 && d->outputs[0].shape[0] < 0 &&
                  d->outputs[0].shape[1] >= 0;
  for (int i = 0; i < d->num_inputs && i < RECQ_MAX_INPUTS; ++i) {
    m->role[i] = ROLE_NONE;
    m->table_of[i] = -1;
    const recq_tensor_desc *in = &d->inputs[i];
    if (in->dtype == RECQ_DTYPE_F32 && in->rank == 2 && in->shape[0] < 0)
      m->role[i] = ROLE_DENSE;
  }
  for (int t = 0; t < d->num_tables && m->splittable; ++t) {
    const recq_table_desc *table = &d->tables[t];
    int idx = table->indices_input;
    if (m->table_of[idx] >= 0 || table->indices_row >= 0)
      m->splittable = 0; /* two tables share an indices input (stacked
                            indices: tiles would cut dimension 1) */
    m->table_of[idx] = t;
    int w = table->weights_input;
    if (table->offsets_input >= 0) {
      m->role[idx] = ROLE_INDICES;
      m->role[table->offsets_input] = ROLE_OFFSETS;
      if (w >= 0) { /* cut like its indices */
        if (m->table_of[w] >= 0)
          m->splittable = 0;
        m->table_of[w] = t;
        m->role[w] = ROLE_WEIGHTS;
      }
    } else {
      m->role[idx] = ROLE_FIXED;
      if (w >= 0)
        m->role[w] = ROLE_FIXED; /* [B, L] like its indices */
    }
  }
  for (int i = 0; i < d->num_inputs && i < RECQ_MAX_INPUTS; ++i)
    if (m->role[i] == ROLE_NONE)
      m->splittable = 0;
}

/* Maps `len` bytes (`prot`, `flags`; of `fd` from offset 0, or anonymous
   memory with fd -1) at a 2 MiB-aligned address, so that every 2 MiB can
   be mapped by one huge-page entry (for a file, its offset and the
   address agree modulo 2 MiB). */
static void *map_aligned(size_t len, int prot, int flags, int fd) {
  const size_t huge = (size_t)2 << 20;
  char *raw = mmap(NULL, len + huge, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED)
    return MAP_FAILED;
  char *start = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
  if (mmap(start, len, prot, flags | MAP_FIXED, fd, 0) == MAP_FAILED) {
    munmap(raw, len + huge);
    return MAP_FAILED;
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  char *end = start + (len + page - 1) / page * page;
  if (start > raw)
    munmap(raw, (size_t)(start - raw));
  if (end < raw + len + huge)
    munmap(end, (size_t)(raw + len + huge - end));
  return start;
}

/* RECQ_HUGEPAGES=1: the weights move from the file mapping to anonymous
   memory, 2 MiB aligned and advised for transparent huge pages, so that
   random rows of a large table cost far fewer TLB misses (a 4 KiB-page
   mapping of a table past a few MiB misses the TLB on nearly every row).
   The price: load copies the file (time and resident memory grow with the
   tables; the pages are no longer shared with the page cache). Unlike the
   default mapping's advice (map_weights), it works on any file system. */
static int copy_to_huge_pages(recq_model *m, recq_status *st) {
  /* Asked for and not available is an error, not a silent copy for
     nothing. */
  if (!recq_thp_usable()) {
    int thp = recq_thp_mode(NULL);
    return set_status(st, RECQ_ERR_ARGUMENT,
                      "RECQ_HUGEPAGES=1, but this kernel's transparent huge "
                      "pages are %s (/sys/kernel/mm/transparent_hugepage/"
                      "enabled); unset RECQ_HUGEPAGES or set them to "
                      "'madvise'",
                      thp == RECQ_THP_NEVER ? "off ('never')"
                                            : "unavailable");
  }
  const size_t huge = (size_t)2 << 20;
  size_t len = (m->weights_bytes + huge - 1) / huge * huge;
  char *start =
      map_aligned(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  if (start == MAP_FAILED)
    return set_status(st, RECQ_ERR_MEMORY,
                      "RECQ_HUGEPAGES: cannot map %zu bytes", len);
  if (madvise(start, len, MADV_HUGEPAGE) != 0) {
    munmap(start, len);
    return set_status(st, RECQ_ERR_MEMORY,
                      "RECQ_HUGEPAGES=1: madvise(MADV_HUGEPAGE) failed");
  }
  memcpy(start, m->weights, m->weights_bytes);
  mprotect(start, len, PROT_READ);
  munmap(m->weights, m->weights_bytes);
  m->weights = start;
  m->weights_bytes = len;
  return RECQ_OK;
}

/* Reads every page of [p, p + len) in now. */
static void populate(char *p, size_t len) {
#ifdef MADV_POPULATE_READ
  if (madvise(p, len, MADV_POPULATE_READ) == 0)
    return;
#endif
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  volatile char sink = 0;
  for (size_t at = 0; at < len; at += page)
    sink ^= p[at];
  (void)sink;
}

/* Checks that the mapped file at `bytes` (`size` bytes, named `path`) is
   this model's weights file: recq's header, its version, this model's id
   and size. Read through the mapping, after its huge-page advice: a read()
   first would fill the page cache with small folios. */
static int check_weights_header(const recq_model_desc *d, const char *bytes,
                                const char *path, uint64_t size,
                                recq_status *st) {
  recq_weights_header h;
  memset(&h, 0, sizeof h);
  if (size >= sizeof h)
    memcpy(&h, bytes, sizeof h);
  if (size < sizeof h ||
      memcmp(h.magic, RECQ_WEIGHTS_MAGIC, sizeof h.magic) != 0)
    return set_status(st, RECQ_ERR_ARGUMENT,
                      "'%s' is not a recq weights file (%llu bytes, no "
                      "RECQWTS header)",
                      path, (unsigned long long)size);
  if (h.version != RECQ_WEIGHTS_VERSION ||
      h.header_bytes != RECQ_WEIGHTS_HEADER_BYTES)
    return set_status(st, RECQ_ERR_ARGUMENT,
                      "'%s' is a version %u weights file (header %u bytes); "
                      "this runtime reads version %d",
                      path, h.version, h.header_bytes, RECQ_WEIGHTS_VERSION);
  if (h.model_id != d->weights_id)
    return set_status(st, RECQ_ERR_ARGUMENT,
                      "'%s' holds the weights of another model (id %016llx; "
                      "this model was compiled with %016llx)",
                      path, (unsigned long long)h.model_id,
                      (unsigned long long)d->weights_id);
  if (size != d->weights_file_bytes || h.file_bytes != size)
    return set_status(st, RECQ_ERR_ARGUMENT,
                      "the weights file '%s' has %llu bytes (its header says "
                      "%llu), the model was compiled with %llu: truncated or "
                      "overwritten",
                      path, (unsigned long long)size,
                      (unsigned long long)h.file_bytes,
                      (unsigned long long)d->weights_file_bytes);
  return RECQ_OK;
}

/* mmaps the model's .weights file: `path`, or the library's own path with
   ".so" replaced by ".weights". Read-only and shared with the page cache,
   so load time does not grow with the tables.
   - By default the mapping is 2 MiB-aligned and advised for transparent
     huge pages (where they are `always` or `madvise`): a kernel whose page
     cache holds large folios for the file system (ext4 on Linux 6.18, where
     recq is developed) then maps the tables 2 MiB at a time, at no cost in
     load time or memory; elsewhere the advice changes nothing. RECQ_HUGEPAGES=0
     maps it plainly, on 4 KiB pages.
   - RECQ_MMAP_POPULATE=1 reads it all in at load instead of on first use.
   - RECQ_HUGEPAGES=1 copies it to anonymous huge pages
     (copy_to_huge_pages), which works on any file system. */
static int map_weights(recq_model *m, const char *path, recq_status *st) {
  char buf[4096];
  if (!path) {
    Dl_info info;
    if (!dladdr((const void *)&recq_model_description, &info) ||
        !info.dli_fname)
      return set_status(st, RECQ_ERR_ARGUMENT,
                        "cannot find the model library's path to locate "
                        "its .weights file; pass its path to "
                        "recq_model_load");
    size_t n = strlen(info.dli_fname);
    if (n >= 3 && strcmp(info.dli_fname + n - 3, ".so") == 0)
      n -= 3;
    if (n + 9 > sizeof buf)
      return set_status(st, RECQ_ERR_ARGUMENT, "model path too long");
    memcpy(buf, info.dli_fname, n);
    strcpy(buf + n, ".weights");
    path = buf;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return set_status(st, RECQ_ERR_ARGUMENT,
                      "cannot open the weights file '%s'", path);
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    close(fd);
    return set_status(st, RECQ_ERR_ARGUMENT,
                      "cannot stat the weights file '%s'", path);
  }
  if ((uint64_t)sb.st_size < sizeof(recq_weights_header)) {
    close(fd);
    return check_weights_header(m->desc, NULL, path, (uint64_t)sb.st_size, st);
  }
  /* RECQ_HUGEPAGES: 1 copies, 0 keeps 4 KiB pages, unset advises. */
  const char *huge = getenv("RECQ_HUGEPAGES");
  int copy = huge && *huge == '1', small = huge && *huge == '0';
  size_t len = (size_t)sb.st_size;
  void *base = small ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0)
                     : map_aligned(len, PROT_READ, MAP_PRIVATE, fd);
  close(fd);
  if (base == MAP_FAILED)
    return set_status(st, RECQ_ERR_MEMORY, "cannot mmap '%s'", path);
  m->weights = base;
  m->weights_bytes = len;
  /* Advice, before the first fault: the folios read in are then huge
     (or, with RECQ_HUGEPAGES=0, never mapped as such). */
  if (small)
    madvise(base, len, MADV_NOHUGEPAGE);
  else if (!copy && recq_thp_usable())
    madvise(base, len, MADV_HUGEPAGE);
  int code = check_weights_header(m->desc, base, path, len, st);
  if (code != RECQ_OK)
    return code; /* the caller unmaps */
  if (copy)
    return copy_to_huge_pages(m, st);
  const char *all = getenv("RECQ_MMAP_POPULATE");
  if (all && *all == '1')
    populate(base, len);
  return RECQ_OK;
}

/* RECQ_GUARD_WEIGHTS=end (or start) copies every weight into its own
   mapping with an inaccessible page right after its last byte (or right
   before its first) and one on the other side, so that generated code
   reading outside a table faults at once instead of reading its
   neighbour. A debugging and test aid (AddressSanitizer cannot see these
   reads: the generated code is not instrumented, and mmapped memory is
   all addressable to it); costs a copy of the weights at load. */
static int guard_weights(recq_model *m, const char *where, recq_status *st) {
  int at_end = strcmp(where, "end") == 0;
  if (!at_end && strcmp(where, "start") != 0)
    return set_status(st, RECQ_ERR_ARGUMENT,
                      "RECQ_GUARD_WEIGHTS is '%s'; it takes 'end' or 'start'",
                      where);
  const recq_model_desc *d = m->desc;
  if (d->num_weights > RECQ_MAX_INPUTS)
    return set_status(st, RECQ_ERR_ARGUMENT, "too many weights to guard");
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  for (int w = 0; w < d->num_weights; ++w) {
    size_t n = (size_t)d->weights[w].bytes;
    size_t body = (n + page - 1) / page * page;
    size_t total = body + 2 * page;
    char *map = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                     0);
    if (map == MAP_FAILED)
      return set_status(st, RECQ_ERR_MEMORY, "cannot map guarded weights");
    m->guard_maps[w] = map;
    m->guard_bytes[w] = total;
    char *data = map + page + (at_end ? body - n : 0);
    if (body && mprotect(map + page, body, PROT_READ | PROT_WRITE) != 0)
      return set_status(st, RECQ_ERR_MEMORY, "cannot protect guarded weights");
    memcpy(data, m->weights + d->weights[w].offset, n);
    if (body && mprotect(map + page, body, PROT_READ) != 0)
      return set_status(st, RECQ_ERR_MEMORY, "cannot protect guarded weights");
    m->guarded[w] = data;
  }
  return RECQ_OK;
}

static void unmap_weights(recq_model *m) {
  for (int w = 0; w < RECQ_MAX_INPUTS; ++w)
    if (m->guard_maps[w])
      munmap(m->guard_maps[w], m->guard_bytes[w]);
  if (m->weights)
    munmap(m->weights, m->weights_bytes);
}

recq_model *recq_model_load(const char *path, recq_status *st) {
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
  memset(m, 0, sizeof *m);
  m->desc = desc;
  if (desc->num_weights > 0 && map_weights(m, path, st) != RECQ_OK) {
    unmap_weights(m);
    free(m);
    return NULL;
  }
  const char *guard = getenv("RECQ_GUARD_WEIGHTS");
  if (guard && *guard && guard_weights(m, guard, st) != RECQ_OK) {
    unmap_weights(m);
    free(m);
    return NULL;
  }
  classify_inputs(m);
  int threads = 0;
  const char *env = getenv("RECQ_NUM_THREADS");
  if (env && *env)
    threads = atoi(env);
  if (threads <= 0)
    threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  recq_model_set_threads(m, threads);
  set_status(st, RECQ_OK, "ok");
  return m;
}

void recq_model_free(recq_model *m) {
  if (!m)
    return;
  pool_destroy(m->pool);
  unmap_weights(m);
  free(m);
}

int recq_model_set_threads(recq_model *m, int threads) {
  if (!m)
    return -1;
  if (threads < 1)
    threads = 1;
  if (threads > RECQ_MAX_PARTS)
    threads = RECQ_MAX_PARTS;
  pool_destroy(m->pool);
  m->pool = threads > 1 ? pool_create(threads - 1) : NULL;
  m->threads = m->pool ? m->pool->size + 1 : 1;
  return m->threads;
}

int recq_model_threads(const recq_model *m) { return m ? m->threads : 0; }

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
const char *recq_model_target(const recq_model *m) {
  return m ? m->desc->target : NULL;
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

/// Reads element k of an integer input.
static int64_t int_at(const void *data, int32_t dtype, int64_t k) {
  return dtype == RECQ_DTYPE_I64 ? ((const int64_t *)data)[k]
                                 : ((const int32_t *)data)[k];
}

/* How many indices table t reads: every element of its indices input, or
   of its row of a stacked one. */
static int64_t indices_count(const recq_model_desc *d, int t,
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

/* Table t's offsets: entry b is int_at(data, dtype, base + b), b < n (a
   1-D input, or row offsets_row of a [T, B] one). Only for tables with
   offsets. */
typedef struct offsets_view {
  const void *data;
  int32_t dtype;
  int64_t base, n;
} offsets_view;

static offsets_view offsets_of(const recq_model_desc *d, int t,
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

static int64_t offset_at(offsets_view v, int64_t b) {
  return int_at(v.data, v.dtype, v.base + b);
}

/// Checks table t's offsets (once per call) and its per-sample weights'
/// shape. The indices themselves are checked by the compiled code, in the
/// pooling loop, which reports a table that met a bad one (index_error).
static int check_table(const recq_model_desc *d, int t,
                       const void *const *inputs, const int64_t *const *shapes,
                       recq_status *st) {
  const recq_table_desc *table = &d->tables[t];
  const recq_tensor_desc *in = &d->inputs[table->indices_input];
  int64_t count = indices_count(d, t, shapes);
  if (table->indices_row >= 0 &&
      table->indices_row >= shapes[table->indices_input][0])
    return set_status(st, RECQ_ERR_SHAPE,
                      "table %d reads row %lld of the stacked indices '%s', "
                      "which has %lld rows",
                      t, (long long)table->indices_row, in->name,
                      (long long)shapes[table->indices_input][0]);
  if (table->weights_input >= 0) {
    const recq_tensor_desc *wd = &d->inputs[table->weights_input];
    for (int r = 0; r < in->rank; ++r)
      if (wd->rank != in->rank ||
          shapes[table->weights_input][r] != shapes[table->indices_input][r])
        return set_status(st, RECQ_ERR_SHAPE,
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
    return set_status(st, RECQ_ERR_SHAPE,
                      "table %d reads row %lld of the offsets '%s', which "
                      "has %lld rows",
                      t, (long long)table->offsets_row, od->name,
                      (long long)oshape[0]);
  offsets_view v = offsets_of(d, t, inputs, shapes);
  const char *name = od->name;
  if (table->include_last_offset && v.n == 0)
    return set_status(st, RECQ_ERR_SHAPE,
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
      return set_status(st, RECQ_ERR_INDEX,
                        "table %d: the first offset is %lld; offsets start "
                        "at 0 (input '%s')",
                        t, (long long)o, name);
    if (o < prev)
      return set_status(st, RECQ_ERR_INDEX,
                        "table %d: offset %lld of sample %lld is below the "
                        "previous one, %lld; offsets must not decrease "
                        "(input '%s')",
                        t, (long long)o, (long long)b, (long long)prev, name);
    if (o > count)
      return set_status(st, RECQ_ERR_INDEX,
                        "table %d: offset %lld of sample %lld is past the "
                        "table's %lld indices (input '%s')",
                        t, (long long)o, (long long)b, (long long)count, name);
    prev = o;
  }
  if (table->include_last_offset && v.n > 0 && offset_at(v, v.n - 1) != count)
    return set_status(st, RECQ_ERR_INDEX,
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
  offsets_view v = offsets_of(d, t, inputs, shapes);
  int64_t b = 0;
  while (b + 1 < v.n && offset_at(v, b + 1) <= k)
    ++b;
  return b;
}

/* The error for table t, whose kernel met an index outside the table:
   finds the first one. `sample_base`/`index_base` place this slice in the
   caller's batch. */
static int index_error(const recq_model_desc *d, int t,
                       const void *const *inputs,
                       const int64_t *const *shapes, int64_t sample_base,
                       int64_t index_base, recq_status *st) {
  const recq_table_desc *table = &d->tables[t];
  const recq_tensor_desc *in = &d->inputs[table->indices_input];
  int64_t count = indices_count(d, t, shapes);
  /* A row of a stacked input starts `count` indices per row in. */
  int64_t base = table->indices_row >= 0 ? table->indices_row * count : 0;
  for (int64_t k = 0; k < count; ++k) {
    int64_t v = int_at(inputs[table->indices_input], in->dtype, base + k);
    if (v < 0 || v >= table->rows) {
      char where[64] = "";
      if (table->indices_row >= 0)
        snprintf(where, sizeof where, " row %lld,",
                 (long long)table->indices_row);
      return set_status(
          st, RECQ_ERR_INDEX,
          "table %d: index %lld of sample %lld is outside [0, %lld) "
          "(input '%s',%s position %lld)",
          t, (long long)v,
          (long long)(sample_base + sample_of(d, t, inputs, shapes, k)),
          (long long)table->rows, in->name, where, (long long)(index_base + k));
    }
  }
  return set_status(st, RECQ_ERR_INDEX,
                    "table %d: the compiled code reported an index outside "
                    "the table that the runtime cannot find (a recq bug)",
                    t);
}

static int64_t bags_of(const recq_model_desc *d, int t,
                       const int64_t *const *shapes);

/* What pooling table t costs: its lookups times D. */
static int64_t table_cost(const recq_model_desc *d, int t,
                          const int64_t *const *shapes) {
  return indices_count(d, t, shapes) * d->tables[t].dim;
}

/* A split model's table functions on one batch (or tile): `order` lists
   the tables, costliest first (so the pool's next free thread takes the
   next costliest and the last ones to start are short). */
typedef struct recq_bags_job {
  const recq_model_desc *d;
  void **args;
  int order[RECQ_MAX_INPUTS];
  int64_t flags[RECQ_MAX_INPUTS]; /* 1: an index outside table t */
} recq_bags_job;

static void run_bag(void *arg, int part) {
  recq_bags_job *job = arg;
  int t = job->order[part];
  int64_t result[5]; /* i64 [1]: {alloc, aligned, offset, size, stride} */
  job->d->bags[t](result, job->args);
  void *alloc;
  const int64_t *flag;
  memcpy(&alloc, &result[0], sizeof alloc);
  memcpy(&flag, &result[1], sizeof flag);
  job->flags[t] = flag[result[2]];
  _mlir_memref_to_llvm_free(alloc);
}

/* Runs the generated code on one whole batch (or tile) and copies output
   0 to `out`. The shapes and offsets are already checked; an index outside
   its table is reported here, placed in the caller's batch by
   `sample_base` and `index_base[t]` (NULL: 0). A split model's tables run
   on `tables` (the caller holds its `busy`), or on this thread when NULL. */
static int run_slice(const recq_model *m, const void *const *inputs,
                     const int64_t *const *shapes, float *out,
                     size_t out_capacity, int64_t *out_shape,
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
    const void *data =
        m->guarded[w] ? m->guarded[w] : m->weights + wd->offset;
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
  if (d->rest) {
    /* The tables' pooled rows, [n, T, D] f32, which the interaction reads
       in place. */
    int64_t n = bags_of(d, 0, shapes), tables_n = d->num_tables;
    int64_t dim = d->tables[0].dim;
    emb = _mlir_memref_to_llvm_alloc(
        (uint64_t)(n * tables_n * dim > 0 ? n * tables_n * dim : 1) *
        sizeof(float));
    if (!emb)
      return set_status(st, RECQ_ERR_MEMORY, "out of memory");
    int64_t emb_desc[9] = {0, 0, 0, n, tables_n, dim, tables_n * dim, dim, 1};
    memcpy(&emb_desc[0], &emb, sizeof emb);
    memcpy(&emb_desc[1], &emb, sizeof emb);
    args[d->num_inputs + d->num_weights] = emb_desc;
    job.d = d;
    job.args = args;
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
      pool_run(tables, d->num_tables, run_bag, &job);
    } else {
      for (int p = 0; p < d->num_tables; ++p)
        run_bag(&job, p);
    }
    d->rest(results, args);
  } else {
    d->entry(results, args);
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
        code = set_status(st, RECQ_ERR_MEMORY,
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
    if (!d->rest) {
      memcpy(&alloc, &r[0], sizeof alloc);
      memcpy(&flags, &r[1], sizeof flags);
      flags += r[2];
    }
    for (int t = 0; t < d->num_tables && code == RECQ_OK; ++t)
      if (flags[t])
        code = index_error(d, t, inputs, shapes, sample_base,
                           index_base ? index_base[t] : 0, st);
    _mlir_memref_to_llvm_free(alloc);
  }
  _mlir_memref_to_llvm_free(emb);
  return code;
}

/* Bags table t holds for inputs of these shapes. */
static int64_t bags_of(const recq_model_desc *d, int t,
                       const int64_t *const *shapes) {
  const recq_table_desc *table = &d->tables[t];
  if (table->offsets_input < 0) {
    int64_t bags, length;
    fixed_bags(d, t, shapes, &bags, &length);
    return bags;
  }
  return offsets_of(d, t, NULL, shapes).n -
         (table->include_last_offset ? 1 : 0);
}

int64_t recq_model_output_size(const recq_model *m,
                               const int64_t *const *shapes) {
  if (!m || (!shapes && m->desc->num_inputs > 0))
    return -1;
  const recq_model_desc *d = m->desc;
  /* A shape recq_model_run would refuse has no output size (and a negative
     dimension must not reach bags_of's arithmetic: UBSan and the run
     fuzzer found INT64_MIN - 1 there). */
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
    batch = bags_of(d, 0, shapes);
  int64_t count = 1;
  for (int k = 0; k < d->outputs[0].rank; ++k) {
    int64_t dim = d->outputs[0].shape[k];
    if (__builtin_mul_overflow(count, dim < 0 ? (batch < 0 ? 0 : batch) : dim,
                               &count))
      return -1;
  }
  return count;
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
    offsets_view v = offsets_of(d, t, inputs, shapes);
    total += b < v.n ? offset_at(v, b) : indices_count(d, t, shapes);
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
                        const int64_t *const *shapes, int64_t batch,
                        int parts, int64_t *bounds) {
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
  const int64_t *const *shapes;
  float *out;
  int64_t out_cols, batch;
  int parts;
  int64_t bounds[RECQ_MAX_PARTS + 1]; /* tile p is samples [bounds[p], bounds[p+1]) */
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
    size_t elt = in->dtype == RECQ_DTYPE_I32 ? 4 : in->dtype == RECQ_DTYPE_I64 ? 8 : 4;
    const char *data = job->inputs[i];
    inputs[i] = data;
    if (m->role[i] == ROLE_DENSE) {
      inputs[i] = data + (size_t)(b0 * full[1]) * elt;
      shape[0] = n;
    } else if (m->role[i] == ROLE_FIXED) {
      inputs[i] = data + (size_t)(b0 * (in->rank > 1 ? full[1] : 1)) * elt;
      shape[0] = n;
    } else if (m->role[i] == ROLE_INDICES || m->role[i] == ROLE_WEIGHTS) {
      offsets_view v = offsets_of(d, m->table_of[i], job->inputs, job->shapes);
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
        m, inputs, shapes, job->out + b0 * job->out_cols,
        (size_t)(n * job->out_cols), out_shape, b0, index_base, NULL, &st);
    if (job->codes[part] != RECQ_OK)
      memcpy(job->messages[part], st.message, sizeof st.message);
  }
cleanup:
  for (int k = 0; k < num_scratch; ++k)
    _mlir_memref_to_llvm_free(scratch[k]);
}

int recq_model_run(const recq_model *m, const void *const *inputs,
                   const int64_t *const *shapes, float *out,
                   size_t out_capacity, int64_t *out_shape, recq_status *st) {
  if (!m || !out)
    return set_status(st, RECQ_ERR_ARGUMENT, "NULL model or output");
  const recq_model_desc *d = m->desc;
  /* A model without inputs (its output a constant) takes NULL for both. */
  static const void *const no_inputs[1];
  static const int64_t *const no_shapes[1];
  if (d->num_inputs == 0) {
    inputs = inputs ? inputs : no_inputs;
    shapes = shapes ? shapes : no_shapes;
  }
  if (!inputs || !shapes)
    return set_status(st, RECQ_ERR_ARGUMENT, "NULL inputs or shapes");

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
    return set_status(st, RECQ_ERR_ARGUMENT, "too many inputs or outputs");
  for (int i = 0; i < d->num_inputs; ++i) {
    const recq_tensor_desc *in = &d->inputs[i];
    if (!shapes[i])
      return set_status(st, RECQ_ERR_ARGUMENT, "input '%s': NULL shape",
                        in->name);
    int64_t count = 1;
    for (int r = 0; r < in->rank; ++r) {
      int64_t got = shapes[i][r];
      if (got < 0 || (in->shape[r] >= 0 && got != in->shape[r]))
        return set_status(st, RECQ_ERR_SHAPE,
                          "input '%s': dimension %d is %lld, the model "
                          "takes %lld",
                          in->name, r, (long long)got,
                          (long long)in->shape[r]);
      /* No product of dimensions below may wrap around. */
      if (__builtin_mul_overflow(count, got, &count) ||
          count > RECQ_MAX_ELEMENTS)
        return set_status(st, RECQ_ERR_SHAPE,
                          "input '%s' has more than 2^48 elements (dimension "
                          "%d is %lld)",
                          in->name, r, (long long)got);
    }
    if (!inputs[i] && count > 0)
      return set_status(st, RECQ_ERR_ARGUMENT,
                        "input '%s' is NULL but has %lld elements", in->name,
                        (long long)count);
    data[i] = inputs[i] ? inputs[i] : (const void *)no_elements;
    if (in->dtype == RECQ_DTYPE_F32 && in->rank == 2) {
      if (batch >= 0 && shapes[i][0] != batch)
        return set_status(st, RECQ_ERR_SHAPE,
                          "input '%s' has batch %lld, another input %lld",
                          in->name, (long long)shapes[i][0], (long long)batch);
      batch = shapes[i][0];
    }
  }
  inputs = data;
  for (int t = 0; t < d->num_tables; ++t) {
    int code = check_table(d, t, inputs, shapes, st);
    if (code != RECQ_OK)
      return code;
    int64_t bags = bags_of(d, t, shapes);
    if (batch >= 0 && bags != batch)
      return set_status(st, RECQ_ERR_SHAPE,
                        "table %d has %lld bags but the batch is %lld", t,
                        (long long)bags, (long long)batch);
    batch = bags; /* a model without dense inputs takes it from the bags */
  }

  int64_t out_count = 1, out_cols = 1;
  for (int k = 0; k < d->outputs[0].rank; ++k) {
    int64_t dim = d->outputs[0].shape[k];
    if (dim < 0)
      dim = batch >= 0 ? batch : 1;
    if (__builtin_mul_overflow(out_count, dim, &out_count) ||
        out_count > RECQ_MAX_ELEMENTS)
      return set_status(st, RECQ_ERR_SHAPE,
                        "the output would have more than 2^48 elements "
                        "(batch %lld)",
                        (long long)batch);
    if (k > 0)
      out_cols *= dim;
  }
  if ((size_t)out_count > out_capacity)
    return set_status(st, RECQ_ERR_MEMORY,
                      "the output needs %lld floats, the buffer holds %zu",
                      (long long)out_count, out_capacity);

  /* Batch tiles in parallel when the model splits by sample and the batch
     is large enough to pay for the hand-off; each tile is computed exactly
     as it would be alone, so the thread count never changes a result. */
  int parts = 1;
  if (m->pool && batch >= 2 * RECQ_MIN_TILE && m->splittable) {
    parts = m->pool->size + 1;
    if (batch / parts < RECQ_MIN_TILE)
      parts = (int)(batch / RECQ_MIN_TILE);
  }
  if (parts > 1 && pthread_mutex_trylock(&m->pool->busy) != 0)
    parts = 1; /* another call has the workers: run on this thread */
  if (parts <= 1) {
    /* A batch too small for tiles: a split model's tables on the workers
       instead, when their lookups are enough work to pay for waking them.
       Every table is computed exactly as alone, so again the thread count
       never changes a result. */
    recq_pool *tables = NULL;
    if (m->pool && d->rest && d->num_tables >= 2 &&
        table_work(d, shapes) >= RECQ_MIN_TABLE_WORK &&
        pthread_mutex_trylock(&m->pool->busy) == 0)
      tables = m->pool;
    int code = run_slice(m, inputs, shapes, out, out_capacity, out_shape, 0,
                         NULL, tables, st);
    if (tables)
      pthread_mutex_unlock(&m->pool->busy);
    if (code == RECQ_OK)
      set_status(st, RECQ_OK, "ok");
    return code;
  }

  recq_slice_job job;
  job.model = m;
  job.inputs = inputs;
  job.shapes = shapes;
  job.out = out;
  job.out_cols = out_cols;
  job.batch = batch;
  job.parts = parts;
  split_batch(d, inputs, shapes, batch, parts, job.bounds);
  for (int p = 0; p < parts; ++p)
    job.codes[p] = RECQ_OK;
  pool_run(m->pool, parts, run_part, &job);
  pthread_mutex_unlock(&m->pool->busy);
  for (int p = 0; p < parts; ++p)
    if (job.codes[p] != RECQ_OK)
      return set_status(st, job.codes[p], "%s", job.messages[p]);
  if (out_shape) {
    out_shape[0] = batch;
    for (int k = 1; k < d->outputs[0].rank; ++k)
      out_shape[k] = d->outputs[0].shape[k];
  }
  set_status(st, RECQ_OK, "ok");
  return RECQ_OK;
}
