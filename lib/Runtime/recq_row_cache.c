/*===- recq_row_cache.c - Hot rows of remote tables, in the process --------===*
 *
 * Part of the model runtime (recq_remote.c uses it). One cache per remote
 * table, holding rows in their stored format, sized in bytes, shared by the
 * model's threads: 16 shards, each a fixed array of row slots (its share of
 * the bytes), an open-addressing index (linear probing, deletion by
 * backward shift) and a CLOCK hand. Eviction: CLOCK (second chance) -- a
 * hit sets the slot's bit; a new row takes the first slot the hand finds
 * with its bit clear, clearing the bits it passes; an approximation of LRU
 * that costs no list updates on hits. A row is served for at most `ttl_ms`
 * after the store returned it (the staleness bound of online updates,
 * docs/RemoteTables.md); an update's announcement drops it sooner.
 *
 *===----------------------------------------------------------------------===*/

#include "recq_row_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 16
#define EMPTY UINT32_MAX

typedef struct shard {
  pthread_mutex_t lock;
  uint32_t capacity; /* row slots */
  uint32_t used;
  uint32_t hand;
  uint32_t mask;   /* index size - 1 (a power of two >= 2 * capacity) */
  uint32_t *index; /* slot of each index entry, EMPTY */
  int64_t *rows;   /* row of each slot */
  int64_t *stamps; /* when the store returned it (ms) */
  uint8_t *referenced;
  char *data; /* capacity x row_bytes */
} shard;

struct recq_row_cache {
  int64_t row_bytes;
  int64_t ttl_ms;
  _Atomic int64_t valid_after; /* rows read before this are stale */
  shard shards[SHARDS];
};

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

recq_row_cache *recq_row_cache_create(int64_t row_bytes, int64_t bytes,
                                      int64_t ttl_ms) {
  if (row_bytes <= 0 || bytes < row_bytes * SHARDS)
    return NULL;
  recq_row_cache *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->row_bytes = row_bytes;
  c->ttl_ms = ttl_ms;
  int64_t per_shard = bytes / row_bytes / SHARDS;
  if (per_shard > (1 << 28))
    per_shard = 1 << 28;
  for (int k = 0; k < SHARDS; ++k) {
    shard *s = &c->shards[k];
    pthread_mutex_init(&s->lock, NULL);
    s->capacity = (uint32_t)per_shard;
    uint32_t size = 2;
    while (size < 2 * s->capacity)
      size <<= 1;
    s->mask = size - 1;
    s->index = malloc(sizeof *s->index * size);
    s->rows = malloc(sizeof *s->rows * s->capacity);
    s->stamps = malloc(sizeof *s->stamps * s->capacity);
    s->referenced = calloc(s->capacity, 1);
    s->data = malloc((size_t)(s->capacity * row_bytes));
    if (!s->index || !s->rows || !s->stamps || !s->referenced || !s->data) {
      recq_row_cache_destroy(c);
      return NULL;
    }
    memset(s->index, 0xff, sizeof *s->index * size);
  }
  return c;
}

void recq_row_cache_destroy(recq_row_cache *c) {
  if (!c)
    return;
  for (int k = 0; k < SHARDS; ++k) {
    shard *s = &c->shards[k];
    free(s->index);
    free(s->rows);
    free(s->stamps);
    free(s->referenced);
    free(s->data);
    pthread_mutex_destroy(&s->lock);
  }
  free(c);
}

int64_t recq_row_cache_capacity(const recq_row_cache *c) {
  return c ? (int64_t)c->shards[0].capacity * SHARDS : 0;
}

static shard *shard_of(recq_row_cache *c, int64_t row, uint64_t *hash) {
  *hash = mix((uint64_t)row);
  return &c->shards[*hash % SHARDS];
}

/* The index entry holding `row`, or the empty one where it would go. */
static uint32_t probe(const shard *s, uint64_t hash, int64_t row) {
  uint32_t at = (uint32_t)(hash >> 8) & s->mask;
  while (s->index[at] != EMPTY && s->rows[s->index[at]] != row)
    at = (at + 1) & s->mask;
  return at;
}

/* Empties index entry `at`, moving back the entries of its run that
   would no longer be found (linear probing's deletion). */
static void unindex(shard *s, uint32_t at) {
  s->index[at] = EMPTY;
  for (uint32_t next = (at + 1) & s->mask; s->index[next] != EMPTY;
       next = (next + 1) & s->mask) {
    uint32_t home =
        (uint32_t)(mix((uint64_t)s->rows[s->index[next]]) >> 8) & s->mask;
    /* Does `home` lie cyclically in (at, next]? Then it stays. */
    int stays =
        at <= next ? (home > at && home <= next) : (home > at || home <= next);
    if (!stays) {
      s->index[at] = s->index[next];
      s->index[next] = EMPTY;
      at = next;
    }
  }
}

/* The shard of `row`, locked, and the index entry for it in `*at` (NULL
   for a shard without slots). */
static shard *lock_row(recq_row_cache *c, int64_t row, uint64_t *hash,
                       uint32_t *at) {
  shard *s = shard_of(c, row, hash);
  if (s->capacity == 0)
    return NULL;
  pthread_mutex_lock(&s->lock);
  *at = probe(s, *hash, row);
  return s;
}

int recq_row_cache_get(recq_row_cache *c, int64_t row, int64_t now_ms,
                       char *out) {
  uint64_t hash;
  uint32_t at;
  shard *s = lock_row(c, row, &hash, &at);
  if (!s)
    return 0;
  int hit = 0;
  if (s->index[at] != EMPTY) {
    uint32_t slot = s->index[at];
    int64_t stamp = s->stamps[slot];
    if (stamp >= 0 && now_ms - stamp < c->ttl_ms &&
        stamp >= atomic_load_explicit(&c->valid_after, memory_order_relaxed)) {
      s->referenced[slot] = 1;
      memcpy(out, s->data + (size_t)slot * (size_t)c->row_bytes,
             (size_t)c->row_bytes);
      hit = 1;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return hit;
}

/* Takes a slot for `row` in shard s (whose index entry for it is `*at`,
   empty): a free one, or CLOCK's victim. */
static uint32_t take_slot(shard *s, uint64_t hash, int64_t row, uint32_t *at) {
  uint32_t slot;
  if (s->used < s->capacity) {
    slot = s->used++;
  } else {
    /* CLOCK: the first slot without its second chance. */
    while (s->referenced[s->hand]) {
      s->referenced[s->hand] = 0;
      s->hand = (s->hand + 1) % s->capacity;
    }
    slot = s->hand;
    s->hand = (s->hand + 1) % s->capacity;
    unindex(s, probe(s, mix((uint64_t)s->rows[slot]), s->rows[slot]));
    *at = probe(s, hash, row); /* the shift may have moved the gap */
  }
  s->index[*at] = slot;
  s->rows[slot] = row;
  s->referenced[slot] = 0;
  return slot;
}

void recq_row_cache_put(recq_row_cache *c, int64_t row, int64_t stamp_ms,
                        const char *bytes) {
  uint64_t hash;
  uint32_t at;
  shard *s = lock_row(c, row, &hash, &at);
  if (!s)
    return;
  uint32_t slot;
  if (s->index[at] != EMPTY) {
    slot = s->index[at];
    int64_t held = s->stamps[slot];
    /* A newer read is there already, or the row was dropped (an update)
       after this read started: its bytes may be the old ones. */
    if (held > stamp_ms || (held < 0 && stamp_ms <= -held)) {
      pthread_mutex_unlock(&s->lock);
      return;
    }
  } else {
    slot = take_slot(s, hash, row, &at);
  }
  s->stamps[slot] = stamp_ms;
  memcpy(s->data + (size_t)slot * (size_t)c->row_bytes, bytes,
         (size_t)c->row_bytes);
  pthread_mutex_unlock(&s->lock);
}

void recq_row_cache_drop(recq_row_cache *c, int64_t row, int64_t now_ms) {
  uint64_t hash;
  uint32_t at;
  shard *s = lock_row(c, row, &hash, &at);
  if (!s)
    return;
  /* A tombstone stamped with the drop's time (negated): a miss for gets,
     and refuses the puts of reads that started before it. */
  uint32_t slot =
      s->index[at] != EMPTY ? s->index[at] : take_slot(s, hash, row, &at);
  s->stamps[slot] = -(now_ms > 0 ? now_ms : 1);
  pthread_mutex_unlock(&s->lock);
}

void recq_row_cache_forget_before(recq_row_cache *c, int64_t now_ms) {
  atomic_store(&c->valid_after, now_ms);
}
