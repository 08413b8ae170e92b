/*===- recq_model_load.c - Load and free a compiled model ------------------===*
 *
 * Linked into every model.so next to the generated code and its
 * recq_model_description, with the rest of the model runtime
 * (recq_model_info.c, recq_model_check.c, recq_model_run.c). Loading checks
 * the ABI version and the CPU, maps model.weights (after checking its
 * header), decides how each input is cut into batch tiles and starts the
 * thread pool (recq_pool.c).
 *
 *===----------------------------------------------------------------------===*/

#define _GNU_SOURCE /* dladdr */

#include "recq_model_internal.h"

#include "recq/Runtime/recq_cpu.h"
#include "recq/Runtime/recq_host.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
    return recq_internal_set_status(
        st, RECQ_ERR_ARGUMENT,
        "RECQ_HUGEPAGES=1, but this kernel's transparent huge "
        "pages are %s (/sys/kernel/mm/transparent_hugepage/"
        "enabled); unset RECQ_HUGEPAGES or set them to "
        "'madvise'",
        thp == RECQ_THP_NEVER ? "off ('never')" : "unavailable");
  }
  const size_t huge = (size_t)2 << 20;
  size_t len = (m->weights_bytes + huge - 1) / huge * huge;
  char *start =
      map_aligned(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  if (start == MAP_FAILED)
    return recq_internal_set_status(
        st, RECQ_ERR_MEMORY, "RECQ_HUGEPAGES: cannot map %zu bytes", len);
  if (madvise(start, len, MADV_HUGEPAGE) != 0) {
    munmap(start, len);
    return recq_internal_set_status(
        st, RECQ_ERR_MEMORY, "RECQ_HUGEPAGES=1: madvise(MADV_HUGEPAGE) failed");
  }
  memcpy(start, m->weights, m->weights_bytes);
  mprotect(start, len, PROT_READ);
  munmap(m->weights, m->weights_bytes);
  m->weights = start;
  m->weights_bytes = len;
  return RECQ_OK;
}

/* RECQ_MMAP_POPULATE=background: recq_populate in 32 MiB pieces, in
   order, until the end, a piece it cannot read in, or recq_model_free
   asking it to stop. */
static void *populate_in_background(void *arg) {
  recq_model *m = arg;
  const size_t piece = (size_t)32 << 20;
  for (size_t at = 0; at < m->weights_bytes; at += piece) {
    if (atomic_load_explicit(&m->stop_populating, memory_order_relaxed))
      break;
    size_t len = m->weights_bytes - at < piece ? m->weights_bytes - at : piece;
    if (recq_populate(m->weights + at, len) < 0)
      break;
  }
  return NULL;
}

/* Reads model.weights in as RECQ_MMAP_POPULATE says (recq_populate_mode:
   by default in the background when it is at most half of MemAvailable):
   a batch that touches a page not yet read pays a page fault, and one
   from disk a read; the first batch after a load pays one per new page
   (12-30x a warm batch with 10^6-row tables, docs/performance.md). */
static int read_weights_in(recq_model *m, recq_status *st) {
  const char *setting = getenv("RECQ_MMAP_POPULATE");
  int mode = recq_populate_mode(setting, m->weights_bytes,
                                recq_mem_available_bytes(NULL));
  if (mode < 0)
    return recq_internal_set_status(
        st, RECQ_ERR_ARGUMENT,
        "RECQ_MMAP_POPULATE is '%s'; it takes 0, 1 or background", setting);
  if (mode == RECQ_POPULATE_AT_LOAD)
    recq_populate(m->weights, m->weights_bytes);
  if (mode == RECQ_POPULATE_BACKGROUND) {
    atomic_init(&m->stop_populating, 0);
    /* No thread (a process at its limit) only loses the head start. */
    m->populating =
        pthread_create(&m->populator, NULL, populate_in_background, m) == 0;
  }
  return RECQ_OK;
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
    return recq_internal_set_status(
        st, RECQ_ERR_ARGUMENT,
        "'%s' is not a recq weights file (%llu bytes, no "
        "RECQWTS header)",
        path, (unsigned long long)size);
  if (h.version != RECQ_WEIGHTS_VERSION ||
      h.header_bytes != RECQ_WEIGHTS_HEADER_BYTES)
    return recq_internal_set_status(
        st, RECQ_ERR_ARGUMENT,
        "'%s' is a version %u weights file (header %u bytes); "
        "this runtime reads version %d",
        path, h.version, h.header_bytes, RECQ_WEIGHTS_VERSION);
  if (h.model_id != d->weights_id)
    return recq_internal_set_status(
        st, RECQ_ERR_ARGUMENT,
        "'%s' holds the weights of another model (id %016llx; "
        "this model was compiled with %016llx)",
        path, (unsigned long long)h.model_id,
        (unsigned long long)d->weights_id);
  if (size != d->weights_file_bytes || h.file_bytes != size)
    return recq_internal_set_status(
        st, RECQ_ERR_ARGUMENT,
        "the weights file '%s' has %llu bytes (its header says "
        "%llu), the model was compiled with %llu: truncated or "
        "overwritten",
        path, (unsigned long long)size, (unsigned long long)h.file_bytes,
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
   - RECQ_MMAP_POPULATE (read_weights_in): 1 reads it all in before the
     load returns, background (the default, for a file at most half of
     MemAvailable) on a thread from the load on, 0 each page on first use.
   - RECQ_HUGEPAGES=1 copies it to anonymous huge pages
     (copy_to_huge_pages), which works on any file system. */
static int map_weights(recq_model *m, const char *path, recq_status *st) {
  char buf[4096];
  if (!path) {
    Dl_info info;
    if (!dladdr((const void *)&recq_model_description, &info) ||
        !info.dli_fname)
      return recq_internal_set_status(
          st, RECQ_ERR_ARGUMENT,
          "cannot find the model library's path to locate "
          "its .weights file; pass its path to "
          "recq_model_load");
    size_t n = strlen(info.dli_fname);
    if (n >= 3 && strcmp(info.dli_fname + n - 3, ".so") == 0)
      n -= 3;
    if (n + 9 > sizeof buf)
      return recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                                      "model path too long");
    memcpy(buf, info.dli_fname, n);
    strcpy(buf + n, ".weights");
    path = buf;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                                    "cannot open the weights file '%s'", path);
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    close(fd);
    return recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
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
    return recq_internal_set_status(st, RECQ_ERR_MEMORY, "cannot mmap '%s'",
                                    path);
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
  return read_weights_in(m, st);
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
    return recq_internal_set_status(
        st, RECQ_ERR_ARGUMENT,
        "RECQ_GUARD_WEIGHTS is '%s'; it takes 'end' or 'start'", where);
  const recq_model_desc *d = m->desc;
  if (d->num_weights > RECQ_MAX_INPUTS)
    return recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                                    "too many weights to guard");
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  for (int w = 0; w < d->num_weights; ++w) {
    if (d->weights[w].remote)
      continue; /* fetched per call */
    size_t n = (size_t)d->weights[w].bytes;
    size_t body = (n + page - 1) / page * page;
    size_t total = body + 2 * page;
    char *map =
        mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
      return recq_internal_set_status(st, RECQ_ERR_MEMORY,
                                      "cannot map guarded weights");
    m->guard_maps[w] = map;
    m->guard_bytes[w] = total;
    char *data = map + page + (at_end ? body - n : 0);
    if (body && mprotect(map + page, body, PROT_READ | PROT_WRITE) != 0)
      return recq_internal_set_status(st, RECQ_ERR_MEMORY,
                                      "cannot protect guarded weights");
    memcpy(data, m->weights + d->weights[w].offset, n);
    if (body && mprotect(map + page, body, PROT_READ) != 0)
      return recq_internal_set_status(st, RECQ_ERR_MEMORY,
                                      "cannot protect guarded weights");
    m->guarded[w] = data;
  }
  return RECQ_OK;
}

static void unmap_weights(recq_model *m) {
  if (m->populating) {
    atomic_store(&m->stop_populating, 1);
    pthread_join(m->populator, NULL);
    m->populating = 0;
  }
  for (int w = 0; w < RECQ_MAX_INPUTS; ++w)
    if (m->guard_maps[w])
      munmap(m->guard_maps[w], m->guard_bytes[w]);
  if (m->weights)
    munmap(m->weights, m->weights_bytes);
}

recq_model *recq_model_load(const char *path, recq_status *st) {
  recq_load_options options = {path, NULL, NULL, 0, 0, 0};
  return recq_model_load_with(&options, st);
}

/* Samples per batch tile when RECQ_TILE_SAMPLES does not say: those whose
   pooled rows take RECQ_TILE_BYTES, at least RECQ_MIN_CACHE_TILE; 0 (whole
   batches) for a model without tables or with FC weights over
   RECQ_TILE_MAX_WEIGHT_BYTES. */
static int64_t default_tile_samples(const recq_model_desc *d) {
  if (d->fc_weight_bytes > RECQ_TILE_MAX_WEIGHT_BYTES)
    return 0;
  int64_t bytes = 0;
  for (int t = 0; t < d->num_tables; ++t)
    bytes += (int64_t)sizeof(float) * d->tables[t].dim;
  if (bytes == 0)
    return 0;
  int64_t tile = RECQ_TILE_BYTES / bytes;
  return tile < RECQ_MIN_CACHE_TILE ? RECQ_MIN_CACHE_TILE : tile;
}

recq_model *recq_model_load_with(const recq_load_options *options,
                                 recq_status *st) {
  const recq_model_desc *desc = &recq_model_description;
  if (desc->abi_version != RECQ_ABI_VERSION) {
    recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                             "model ABI %u, runtime ABI %u", desc->abi_version,
                             RECQ_ABI_VERSION);
    return NULL;
  }
  const char *path = options ? options->weights_path : NULL;
  recq_model *m = malloc(sizeof *m);
  if (!m) {
    recq_internal_set_status(st, RECQ_ERR_MEMORY, "out of memory");
    return NULL;
  }
  memset(m, 0, sizeof *m);
  m->desc = desc;
  /* The variant first: a CPU that runs none is refused before any file
     is opened. */
  const char *forced = options ? options->target : NULL;
  const char *by = "the load option target";
  if (!forced || !*forced) {
    forced = getenv("RECQ_TARGET");
    by = "RECQ_TARGET";
  }
  if (recq_internal_pick_variant(m, forced, by, st) != RECQ_OK) {
    free(m);
    return NULL;
  }
  /* Remote tables are not in model.weights (a model whose tables are all
     remote has none). */
  if (desc->weights_file_bytes > 0 && map_weights(m, path, st) != RECQ_OK) {
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
  if (recq_internal_remote_open(m, options, st) != RECQ_OK) {
    recq_internal_remote_close(m);
    unmap_weights(m);
    free(m);
    return NULL;
  }
  classify_inputs(m);
  const char *tile = getenv("RECQ_TILE_SAMPLES");
  m->tile_samples = default_tile_samples(desc);
  if (tile && *tile) {
    char *end = NULL;
    long long value = strtoll(tile, &end, 10);
    if (*end || value < 0) {
      recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                               "RECQ_TILE_SAMPLES is '%s'; it takes a number "
                               "of samples, 0 for whole batches",
                               tile);
      recq_internal_remote_close(m);
      unmap_weights(m);
      free(m);
      return NULL;
    }
    m->tile_samples = value;
  }
  int threads = 0;
  const char *env = getenv("RECQ_NUM_THREADS");
  if (env && *env)
    threads = atoi(env);
  if (threads <= 0)
    threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  recq_model_set_threads(m, threads);
  recq_internal_set_status(st, RECQ_OK, "ok");
  return m;
}

void recq_model_free(recq_model *m) {
  if (!m)
    return;
  recq_internal_pool_destroy(m->pool);
  recq_internal_remote_close(m);
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
  recq_internal_pool_destroy(m->pool);
  m->pool = threads > 1 ? recq_internal_pool_create(threads - 1) : NULL;
  m->threads = m->pool ? recq_internal_pool_size(m->pool) + 1 : 1;
  return m->threads;
}

int recq_model_threads(const recq_model *m) { return m ? m->threads : 0; }
