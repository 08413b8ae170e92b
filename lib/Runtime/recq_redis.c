/*===- recq_redis.c - The row store: a Redis Cluster client ----------------===*
 *
 * See recq_row_store.h. One exchange (get or put) sorts the rows by hash
 * slot, forms one MGET/MSET per slot run (at most KEYS_PER_COMMAND keys),
 * appends every command to its node's connection, flushes every
 * connection, then reads the replies node by node: the nodes work in
 * parallel and the call pays about one round trip. Commands that come back
 * redirected, refused or lost are sent again in the next round, after the
 * slot map is read again, until they succeed or the deadline passes.
 *
 *===----------------------------------------------------------------------===*/

#define _GNU_SOURCE /* memrchr */
#include "recq/Runtime/recq_row_store.h"

#include "recq_model_internal.h"

#include <hiredis/hiredis.h>

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 16384
#define MAX_NODES 64
#define KEYS_PER_COMMAND 256
#define KEY_BYTES 64
#define HOST_BYTES 128

/* libhiredis, loaded on the first open. */
typedef struct hiredis_api {
  redisContext *(*connect)(const char *, int, const struct timeval);
  int (*set_timeout)(redisContext *, const struct timeval);
  void (*free_context)(redisContext *);
  int (*append_argv)(redisContext *, int, const char **, const size_t *);
  int (*get_reply)(redisContext *, void **);
  int (*buffer_write)(redisContext *, int *);
  void (*free_reply)(void *);
} hiredis_api;

static hiredis_api api;
static int api_loaded;
static char api_error[160];
static pthread_once_t api_once = PTHREAD_ONCE_INIT;

static void load_hiredis(void) {
  void *lib = dlopen("libhiredis.so.0.14", RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    lib = dlopen("libhiredis.so", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    snprintf(api_error, sizeof api_error, "%s", dlerror());
    return;
  }
#define LOAD(field, name)                                                      \
  do {                                                                         \
    *(void **)&api.field = dlsym(lib, name);                                   \
    if (!api.field) {                                                          \
      snprintf(api_error, sizeof api_error, "libhiredis lacks %s", name);      \
      return;                                                                  \
    }                                                                          \
  } while (0)
  LOAD(connect, "redisConnectWithTimeout");
  LOAD(set_timeout, "redisSetTimeout");
  LOAD(free_context, "redisFree");
  LOAD(append_argv, "redisAppendCommandArgv");
  LOAD(get_reply, "redisGetReply");
  LOAD(buffer_write, "redisBufferWrite");
  LOAD(free_reply, "freeReplyObject");
#undef LOAD
  api_loaded = 1; /* the library stays loaded for the process */
}

typedef struct node {
  char host[HOST_BYTES];
  int port;
  redisContext *c;
  /* This round's commands on the connection, in the order sent. */
  int *sent;
  int num_sent;
} node;

struct recq_row_store {
  pthread_mutex_t lock;
  char spec[512];
  int timeout_ms;
  node nodes[MAX_NODES];
  int num_nodes, num_seeds;
  int16_t slot_node[SLOTS]; /* -1: no node serves it */
  recq_row_store_stats stats;
};

/*===----------------------------------------------------------------------===*
 * Time, keys, slots
 *===----------------------------------------------------------------------===*/

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval timeval_of(int64_t ms) {
  if (ms < 1)
    ms = 1;
  struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
  return tv;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* CRC16-CCITT (XMODEM), as Redis Cluster hashes keys. */
static uint16_t crc16(const char *buf, size_t len) {
  uint16_t crc = 0;
  for (size_t i = 0; i < len; ++i) {
    crc ^= (uint16_t)((unsigned char)buf[i] << 8);
    for (int b = 0; b < 8; ++b)
      crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021)
                           : (uint16_t)(crc << 1);
  }
  return crc;
}

/* The hash tag of a row's key (what its slot hashes) and the key. */
static int tag_of(char *buf, size_t size, uint64_t model_id, int32_t table,
                  int64_t row) {
  return snprintf(buf, size, "%016llx:%d:%lld", (unsigned long long)model_id,
                  (int)table, (long long)(row % RECQ_ROW_STORE_TABLE_SLOTS));
}

static int key_of(char *buf, size_t size, uint64_t model_id, int32_t table,
                  int64_t row) {
  char tag[KEY_BYTES];
  tag_of(tag, sizeof tag, model_id, table, row);
  return snprintf(buf, size, "recq:{%s}:%lld", tag, (long long)row);
}

static int slot_of(uint64_t model_id, int32_t table, int64_t row) {
  char tag[KEY_BYTES];
  int n = tag_of(tag, sizeof tag, model_id, table, row);
  return crc16(tag, (size_t)n) & (SLOTS - 1);
}

/*===----------------------------------------------------------------------===*
 * Nodes and the slot map
 *===----------------------------------------------------------------------===*/

static int find_node(recq_row_store *s, const char *host, int port) {
  for (int i = 0; i < s->num_nodes; ++i)
    if (s->nodes[i].port == port && strcmp(s->nodes[i].host, host) == 0)
      return i;
  if (s->num_nodes == MAX_NODES || strlen(host) >= HOST_BYTES)
    return -1;
  node *n = &s->nodes[s->num_nodes];
  memset(n, 0, sizeof *n);
  strcpy(n->host, host);
  n->port = port;
  return s->num_nodes++;
}

static void disconnect(node *n) {
  if (n->c)
    api.free_context(n->c);
  n->c = NULL;
}

/* Connects node i if it is not; on failure `why` holds the reason. */
static int connect_node(recq_row_store *s, int i, int64_t deadline, char *why,
                        size_t why_size) {
  node *n = &s->nodes[i];
  if (n->c)
    return 0;
  int64_t left = deadline - now_ms();
  if (left < 1) {
    snprintf(why, why_size, "%s:%d: deadline passed before connecting", n->host,
             n->port);
    return -1;
  }
  n->c = api.connect(n->host, n->port, timeval_of(left));
  if (!n->c || n->c->err) {
    snprintf(why, why_size, "%s:%d: %s", n->host, n->port,
             n->c ? n->c->errstr : "cannot allocate a connection");
    disconnect(n);
    return -1;
  }
  return 0;
}

/* One command on node i, its reply waited for (the slot map, ASKING). */
static redisReply *command(recq_row_store *s, int i, int argc,
                           const char **argv, int64_t deadline, char *why,
                           size_t why_size) {
  if (connect_node(s, i, deadline, why, why_size) != 0)
    return NULL;
  node *n = &s->nodes[i];
  void *reply = NULL;
  api.set_timeout(n->c, timeval_of(deadline - now_ms()));
  if (api.append_argv(n->c, argc, argv, NULL) != REDIS_OK ||
      api.get_reply(n->c, &reply) != REDIS_OK || !reply) {
    snprintf(why, why_size, "%s:%d: %s", n->host, n->port, n->c->errstr);
    disconnect(n);
    return NULL;
  }
  return reply;
}

/* Reads the slot map from the first node that answers: CLUSTER SLOTS,
   each range's master; a standalone server (cluster support disabled)
   serves every slot. */
static int read_slot_map(recq_row_store *s, int64_t deadline, char *why,
                         size_t why_size) {
  const char *argv[] = {"CLUSTER", "SLOTS"};
  int known = s->num_nodes;
  /* A node that hangs gets a quarter of the deadline, not all of it. */
  int64_t budget = s->timeout_ms / 4 < 50 ? 50 : s->timeout_ms / 4;
  for (int i = 0; i < known; ++i) {
    int64_t until = now_ms() + budget;
    redisReply *r = command(s, i, 2, argv, until < deadline ? until : deadline,
                            why, why_size);
    if (!r)
      continue;
    if (r->type == REDIS_REPLY_ERROR &&
        strstr(r->str, "cluster support disabled")) {
      for (int k = 0; k < SLOTS; ++k)
        s->slot_node[k] = (int16_t)i;
      api.free_reply(r);
      return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY) {
      snprintf(why, why_size, "%s:%d: CLUSTER SLOTS: %s", s->nodes[i].host,
               s->nodes[i].port,
               r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
      api.free_reply(r);
      continue;
    }
    for (int k = 0; k < SLOTS; ++k)
      s->slot_node[k] = -1;
    for (size_t e = 0; e < r->elements; ++e) {
      redisReply *range = r->element[e];
      if (range->type != REDIS_REPLY_ARRAY || range->elements < 3)
        continue;
      redisReply *master = range->element[2];
      if (master->type != REDIS_REPLY_ARRAY || master->elements < 2 ||
          master->element[0]->type != REDIS_REPLY_STRING ||
          master->element[1]->type != REDIS_REPLY_INTEGER)
        continue;
      /* An empty host is the node we asked. */
      const char *host =
          master->element[0]->len ? master->element[0]->str : s->nodes[i].host;
      int owner = find_node(s, host, (int)master->element[1]->integer);
      long long lo = range->element[0]->integer,
                hi = range->element[1]->integer;
      for (long long k = lo; k <= hi && k < SLOTS && k >= 0; ++k)
        s->slot_node[k] = (int16_t)owner;
    }
    api.free_reply(r);
    return 0;
  }
  return -1;
}

/*===----------------------------------------------------------------------===*
 * Open and close
 *===----------------------------------------------------------------------===*/

recq_row_store *recq_row_store_open(const char *spec, int timeout_ms,
                                    recq_status *st) {
  if (!spec || strncmp(spec, "redis://", 8) != 0) {
    recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                             "the row store '%s' is not redis://host:port"
                             "[,host:port...]",
                             spec ? spec : "(null)");
    return NULL;
  }
  pthread_once(&api_once, load_hiredis);
  if (!api_loaded) {
    recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                             "the row store needs libhiredis (Debian: "
                             "libhiredis0.14): %s",
                             api_error);
    return NULL;
  }
  recq_row_store *s = calloc(1, sizeof *s);
  if (!s) {
    recq_internal_set_status(st, RECQ_ERR_MEMORY, "out of memory");
    return NULL;
  }
  snprintf(s->spec, sizeof s->spec, "%s", spec);
  s->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
  pthread_mutex_init(&s->lock, NULL);
  /* The seeds: host:port, comma-separated. */
  const char *p = spec + 8;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char item[HOST_BYTES + 8];
    const char *colon = memrchr(p, ':', len);
    char *stop = NULL;
    long port = colon ? strtol(colon + 1, &stop, 10) : 0;
    if (!colon || colon == p || len >= sizeof item || stop != p + len ||
        port <= 0 || port > 65535 || (size_t)(colon - p) >= HOST_BYTES) {
      recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                               "the row store '%s': '%.*s' is not host:port",
                               spec, (int)len, p);
      recq_row_store_close(s);
      return NULL;
    }
    memcpy(item, p, (size_t)(colon - p));
    item[colon - p] = '\0';
    if (find_node(s, item, (int)port) < 0) {
      recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                               "the row store '%s' names too many nodes", spec);
      recq_row_store_close(s);
      return NULL;
    }
    p += len;
    if (*p == ',')
      ++p;
  }
  if (s->num_nodes == 0) {
    recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                             "the row store '%s' names no node", spec);
    recq_row_store_close(s);
    return NULL;
  }
  s->num_seeds = s->num_nodes;
  char why[256] = "";
  if (read_slot_map(s, now_ms() + s->timeout_ms, why, sizeof why) != 0) {
    recq_internal_set_status(st, RECQ_ERR_STORE,
                             "no node of the row store %s answers (%s)", spec,
                             why);
    recq_row_store_close(s);
    return NULL;
  }
  return s;
}

void recq_row_store_close(recq_row_store *s) {
  if (!s)
    return;
  for (int i = 0; i < s->num_nodes; ++i) {
    disconnect(&s->nodes[i]);
    free(s->nodes[i].sent);
  }
  pthread_mutex_destroy(&s->lock);
  free(s);
}

const char *recq_row_store_spec(const recq_row_store *s) {
  return s ? s->spec : "";
}

void recq_row_store_get_stats(recq_row_store *s, recq_row_store_stats *out) {
  if (!s || !out)
    return;
  pthread_mutex_lock(&s->lock);
  *out = s->stats;
  pthread_mutex_unlock(&s->lock);
}

/*===----------------------------------------------------------------------===*
 * One exchange: get or put
 *===----------------------------------------------------------------------===*/

typedef struct item {
  int32_t slot;
  int32_t batch;
  int64_t k; /* row k of its batch */
} item;

typedef struct cmd {
  int slot;
  int64_t first, count; /* its items */
  int ask;              /* node an ASK sent it to, -1: none */
  int done;
} cmd;

static int by_slot(const void *a, const void *b) {
  const item *x = a, *y = b;
  if (x->slot != y->slot)
    return x->slot < y->slot ? -1 : 1;
  if (x->batch != y->batch)
    return x->batch < y->batch ? -1 : 1;
  return x->k < y->k ? -1 : x->k > y->k;
}

typedef struct exchange {
  recq_row_store *s;
  const recq_row_batch *batches;
  item *items;
  cmd *cmds;
  int64_t num_cmds;
  int put;
  /* Per command argv scratch: 1 + 2 * KEYS_PER_COMMAND strings. */
  const char *argv[1 + 2 * KEYS_PER_COMMAND];
  size_t lens[1 + 2 * KEYS_PER_COMMAND];
  char keys[KEYS_PER_COMMAND][KEY_BYTES];
} exchange;

/* "table 'name' row R" of the command's first item. */
static void describe_row(const exchange *x, const cmd *c, int64_t at, char *buf,
                         size_t size) {
  const item *it = &x->items[c->first + at];
  const recq_row_batch *b = &x->batches[it->batch];
  snprintf(buf, size, "table '%s' row %lld", b->table,
           (long long)b->rows[it->k]);
}

static int append_command(exchange *x, int node_index, int64_t ci) {
  cmd *c = &x->cmds[ci];
  node *n = &x->s->nodes[node_index];
  if (c->ask >= 0) {
    const char *asking[] = {"ASKING"};
    if (api.append_argv(n->c, 1, asking, NULL) != REDIS_OK)
      return -1;
  }
  int argc = 0;
  x->argv[argc] = x->put ? "MSET" : "MGET";
  x->lens[argc++] = 4;
  for (int64_t j = 0; j < c->count; ++j) {
    const item *it = &x->items[c->first + j];
    const recq_row_batch *b = &x->batches[it->batch];
    int len =
        key_of(x->keys[j], KEY_BYTES, b->model_id, b->table_id, b->rows[it->k]);
    x->argv[argc] = x->keys[j];
    x->lens[argc++] = (size_t)len;
    if (x->put) {
      x->argv[argc] = b->data + it->k * b->row_bytes;
      x->lens[argc++] = (size_t)b->row_bytes;
    }
  }
  if (api.append_argv(n->c, argc, x->argv, x->lens) != REDIS_OK)
    return -1;
  n->sent[n->num_sent++] = (int)ci;
  x->s->stats.commands++;
  return 0;
}

enum { REPLY_DONE, REPLY_AGAIN, REPLY_FATAL };

/* One command's reply: rows copied (get), a redirection noted, or a fatal
   error in `why`. */
static int take_reply(exchange *x, int node_index, cmd *c, redisReply *r,
                      int *reread_map, char *why, size_t why_size) {
  recq_row_store *s = x->s;
  node *n = &s->nodes[node_index];
  char row[160];
  if (r->type == REDIS_REPLY_ERROR) {
    int slot = 0;
    char target[HOST_BYTES + 16];
    if ((strncmp(r->str, "MOVED ", 6) == 0 ||
         strncmp(r->str, "ASK ", 4) == 0) &&
        sscanf(strchr(r->str, ' ') + 1, "%d %143s", &slot, target) == 2) {
      char *colon = strrchr(target, ':');
      int to = -1;
      if (colon) {
        *colon = '\0';
        to = find_node(s, target, atoi(colon + 1));
      }
      if (to < 0) {
        describe_row(x, c, 0, row, sizeof row);
        snprintf(why, why_size, "%s: node %s:%d redirects to '%s'", row,
                 n->host, n->port, strchr(r->str, ' ') + 1);
        return REPLY_FATAL;
      }
      s->stats.redirects++;
      if (r->str[0] == 'M') {
        if (slot >= 0 && slot < SLOTS)
          s->slot_node[slot] = (int16_t)to;
        c->ask = -1;
        *reread_map = 1;
      } else {
        c->ask = to;
      }
      return REPLY_AGAIN;
    }
    if (strncmp(r->str, "TRYAGAIN", 8) == 0 ||
        strncmp(r->str, "CLUSTERDOWN", 11) == 0 ||
        strncmp(r->str, "LOADING", 7) == 0 ||
        strncmp(r->str, "MASTERDOWN", 10) == 0) {
      describe_row(x, c, 0, row, sizeof row);
      snprintf(why, why_size, "%s: node %s:%d: %s", row, n->host, n->port,
               r->str);
      *reread_map = 1;
      return REPLY_AGAIN;
    }
    describe_row(x, c, 0, row, sizeof row);
    snprintf(why, why_size, "%s: node %s:%d: %s", row, n->host, n->port,
             r->str);
    return REPLY_FATAL;
  }
  if (x->put) {
    if (r->type == REDIS_REPLY_STATUS)
      return REPLY_DONE;
    describe_row(x, c, 0, row, sizeof row);
    snprintf(why, why_size, "%s: node %s:%d answered MSET with type %d", row,
             n->host, n->port, r->type);
    return REPLY_FATAL;
  }
  if (r->type != REDIS_REPLY_ARRAY || (int64_t)r->elements != c->count) {
    describe_row(x, c, 0, row, sizeof row);
    snprintf(why, why_size, "%s: node %s:%d answered MGET of %lld keys with %s",
             row, n->host, n->port, (long long)c->count,
             r->type == REDIS_REPLY_ARRAY ? "another count" : "no array");
    return REPLY_FATAL;
  }
  for (int64_t j = 0; j < c->count; ++j) {
    const item *it = &x->items[c->first + j];
    const recq_row_batch *b = &x->batches[it->batch];
    redisReply *e = r->element[j];
    if (e->type == REDIS_REPLY_STRING && (int64_t)e->len == b->row_bytes) {
      memcpy(b->data + it->k * b->row_bytes, e->str, (size_t)b->row_bytes);
      continue;
    }
    describe_row(x, c, j, row, sizeof row);
    if (e->type == REDIS_REPLY_NIL)
      snprintf(why, why_size,
               "%s is not in the store (node %s:%d): push the model's rows "
               "first (recq-tables push)",
               row, n->host, n->port);
    else
      snprintf(why, why_size,
               "%s: node %s:%d holds %zu bytes, the model's rows have %lld",
               row, n->host, n->port,
               e->type == REDIS_REPLY_STRING ? e->len : (size_t)0,
               (long long)b->row_bytes);
    return REPLY_FATAL;
  }
  return REPLY_DONE;
}

/* Reads node i's replies of this round. A lost connection leaves its
   commands for the next round. */
static int read_replies(exchange *x, int i, int64_t deadline, int *reread_map,
                        char *why, size_t why_size) {
  node *n = &x->s->nodes[i];
  int fatal = 0;
  api.set_timeout(n->c, timeval_of(deadline - now_ms()));
  for (int q = 0; q < n->num_sent; ++q) {
    cmd *c = &x->cmds[n->sent[q]];
    void *reply = NULL;
    if (c->ask >= 0) { /* ASKING's +OK */
      if (api.get_reply(n->c, &reply) != REDIS_OK || !reply)
        goto lost;
      api.free_reply(reply);
      reply = NULL;
    }
    if (api.get_reply(n->c, &reply) != REDIS_OK || !reply)
      goto lost;
    if (!fatal) {
      int got = take_reply(x, i, c, reply, reread_map, why, why_size);
      if (got == REPLY_DONE) {
        c->done = 1;
        c->ask = -1;
      }
      fatal = got == REPLY_FATAL;
    }
    api.free_reply(reply);
    continue;
  lost : {
    char row[160];
    describe_row(x, c, 0, row, sizeof row);
    snprintf(why, why_size, "%s: node %s:%d: %s", row, n->host, n->port,
             n->c->errstr[0] ? n->c->errstr : "connection lost");
    disconnect(n);
    *reread_map = 1;
    break;
  }
  }
  n->num_sent = 0;
  return fatal ? -1 : 0;
}

static int exchange_rows(recq_row_store *s, const recq_row_batch *batches,
                         int num_batches, int put, recq_status *st) {
  if (!s || (!batches && num_batches > 0))
    return recq_internal_set_status(st, RECQ_ERR_ARGUMENT,
                                    "NULL row store or batches");
  int64_t total = 0;
  for (int b = 0; b < num_batches; ++b)
    total += batches[b].count;
  if (total == 0)
    return RECQ_OK;
  exchange *x = calloc(1, sizeof *x);
  item *items = malloc(sizeof *items * (size_t)total);
  cmd *cmds = malloc(sizeof *cmds * (size_t)total);
  if (!x || !items || !cmds) {
    free(x);
    free(items);
    free(cmds);
    return recq_internal_set_status(st, RECQ_ERR_MEMORY, "out of memory");
  }
  int64_t n = 0;
  for (int b = 0; b < num_batches; ++b)
    for (int64_t k = 0; k < batches[b].count; ++k) {
      items[n].slot =
          slot_of(batches[b].model_id, batches[b].table_id, batches[b].rows[k]);
      items[n].batch = b;
      items[n++].k = k;
    }
  qsort(items, (size_t)total, sizeof *items, by_slot);
  int64_t num_cmds = 0;
  for (int64_t j = 0; j < total;) {
    int64_t end = j + 1;
    while (end < total && items[end].slot == items[j].slot &&
           end - j < KEYS_PER_COMMAND)
      ++end;
    cmds[num_cmds++] = (cmd){items[j].slot, j, end - j, -1, 0};
    j = end;
  }
  x->s = s;
  x->batches = batches;
  x->items = items;
  x->cmds = cmds;
  x->num_cmds = num_cmds;
  x->put = put;

  pthread_mutex_lock(&s->lock);
  s->stats.calls++;
  s->stats.rows += (uint64_t)total;
  int64_t deadline = now_ms() + s->timeout_ms;
  int code = RECQ_OK;
  char why[768] = "";
  for (int round = 0;; ++round) {
    int64_t pending = 0;
    for (int64_t ci = 0; ci < num_cmds; ++ci)
      pending += !cmds[ci].done;
    if (pending == 0)
      break;
    if (round > 0) {
      s->stats.retries++;
      int64_t left = deadline - now_ms();
      if (left <= 0) {
        code = recq_internal_set_status(
            st, RECQ_ERR_STORE,
            "the row store %s: %lld commands unanswered "
            "after %d ms (%s)",
            s->spec, (long long)pending, s->timeout_ms,
            why[0] ? why : "no node answered");
        break;
      }
      /* Back off a little: 2, 4, ... 64 ms, within the deadline. */
      int64_t pause = (int64_t)1 << (round < 6 ? round : 6);
      sleep_ms(pause < left ? pause : left);
    }
    for (int i = 0; i < s->num_nodes; ++i) {
      node *nd = &s->nodes[i];
      if (!nd->sent) {
        nd->sent = malloc(sizeof *nd->sent * (size_t)num_cmds);
        if (!nd->sent) {
          code = recq_internal_set_status(st, RECQ_ERR_MEMORY, "out of memory");
          goto out;
        }
      } else if (round == 0) {
        int *grown = realloc(nd->sent, sizeof *nd->sent * (size_t)num_cmds);
        if (!grown) {
          code = recq_internal_set_status(st, RECQ_ERR_MEMORY, "out of memory");
          goto out;
        }
        nd->sent = grown;
      }
      nd->num_sent = 0;
    }
    int reread_map = 0;
    /* Send: every pending command to its node. */
    for (int64_t ci = 0; ci < num_cmds; ++ci) {
      cmd *c = &cmds[ci];
      if (c->done)
        continue;
      int to = c->ask >= 0 ? c->ask : s->slot_node[c->slot];
      if (to < 0) {
        char row[160];
        describe_row(x, c, 0, row, sizeof row);
        snprintf(why, sizeof why, "%s: no node serves slot %d", row, c->slot);
        reread_map = 1;
        continue;
      }
      char reason[256];
      if (connect_node(s, to, deadline, reason, sizeof reason) != 0 ||
          append_command(x, to, ci) != 0) {
        if (s->nodes[to].c)
          snprintf(reason, sizeof reason, "%s:%d: %s", s->nodes[to].host,
                   s->nodes[to].port, s->nodes[to].c->errstr);
        char row[160];
        describe_row(x, c, 0, row, sizeof row);
        snprintf(why, sizeof why, "%s: node %s", row, reason);
        disconnect(&s->nodes[to]);
        s->nodes[to].num_sent = 0; /* the next round sends them again */
        reread_map = 1;
      }
    }
    /* Flush every connection before reading any reply. */
    for (int i = 0; i < s->num_nodes; ++i) {
      node *nd = &s->nodes[i];
      if (!nd->c || nd->num_sent == 0)
        continue;
      api.set_timeout(nd->c, timeval_of(deadline - now_ms()));
      int flushed = 0;
      while (!flushed)
        if (api.buffer_write(nd->c, &flushed) != REDIS_OK) {
          char row[160];
          describe_row(x, &cmds[nd->sent[0]], 0, row, sizeof row);
          snprintf(why, sizeof why, "%s: node %s:%d: %s", row, nd->host,
                   nd->port, nd->c->errstr);
          disconnect(nd);
          nd->num_sent = 0;
          reread_map = 1;
          break;
        }
    }
    int fatal = 0;
    for (int i = 0; i < s->num_nodes; ++i) {
      node *nd = &s->nodes[i];
      if (!nd->c || nd->num_sent == 0)
        continue;
      if (read_replies(x, i, deadline, &reread_map, why, sizeof why) != 0)
        fatal = 1;
    }
    if (fatal) {
      code = recq_internal_set_status(st, RECQ_ERR_STORE, "%s", why);
      break;
    }
    if (reread_map) {
      char ignored[256];
      read_slot_map(s, deadline, ignored, sizeof ignored);
    }
  }
out:
  pthread_mutex_unlock(&s->lock);
  free(items);
  free(cmds);
  free(x);
  return code;
}

int recq_row_store_get(recq_row_store *s, const recq_row_batch *batches,
                       int num_batches, recq_status *st) {
  return exchange_rows(s, batches, num_batches, 0, st);
}

int recq_row_store_put(recq_row_store *s, const recq_row_batch *batches,
                       int num_batches, recq_status *st) {
  return exchange_rows(s, batches, num_batches, 1, st);
}

/*===----------------------------------------------------------------------===*
 * Announcements: publish, and a thread that listens
 *===----------------------------------------------------------------------===*/

int recq_row_store_publish(recq_row_store *s, const char *channel,
                           const char *message, size_t len, recq_status *st) {
  const char *argv[] = {"PUBLISH", channel, message};
  size_t lens[] = {7, strlen(channel), len};
  pthread_mutex_lock(&s->lock);
  int64_t deadline = now_ms() + s->timeout_ms;
  char why[320] = "no node";
  int code = RECQ_ERR_STORE;
  /* Any node: the cluster forwards a publication to every node. */
  for (int i = 0; i < s->num_nodes && code != RECQ_OK; ++i) {
    if (connect_node(s, i, deadline, why, sizeof why) != 0)
      continue;
    node *n = &s->nodes[i];
    void *reply = NULL;
    api.set_timeout(n->c, timeval_of(deadline - now_ms()));
    if (api.append_argv(n->c, 3, argv, lens) != REDIS_OK ||
        api.get_reply(n->c, &reply) != REDIS_OK || !reply) {
      snprintf(why, sizeof why, "%s:%d: %s", n->host, n->port, n->c->errstr);
      disconnect(n);
      continue;
    }
    if (((redisReply *)reply)->type == REDIS_REPLY_INTEGER)
      code = RECQ_OK;
    else
      snprintf(why, sizeof why, "%s:%d: PUBLISH refused", n->host, n->port);
    api.free_reply(reply);
  }
  pthread_mutex_unlock(&s->lock);
  if (code != RECQ_OK)
    return recq_internal_set_status(st, RECQ_ERR_STORE,
                                    "the row store %s: cannot announce on "
                                    "'%s' (%s)",
                                    s->spec, channel, why);
  return RECQ_OK;
}

struct recq_row_store_listener {
  recq_row_store *store;
  char channel[128];
  recq_row_store_message_fn fn;
  void *ctx;
  pthread_t thread;
  atomic_int stop;
  atomic_int subscribed; /* 1 once the first SUBSCRIBE was answered */
};

/* Subscribes on the first node that answers and passes each message on;
   after a lost connection, subscribes again (elsewhere if need be) and
   tells fn (NULL message) that messages may have been missed. */
static void *listen_loop(void *arg) {
  recq_row_store_listener *l = arg;
  recq_row_store *s = l->store;
  int next = 0;
  while (!atomic_load(&l->stop)) {
    char host[HOST_BYTES];
    int port;
    pthread_mutex_lock(&s->lock);
    int count = s->num_nodes;
    snprintf(host, sizeof host, "%s", s->nodes[next % count].host);
    port = s->nodes[next % count].port;
    pthread_mutex_unlock(&s->lock);
    ++next;
    redisContext *c = api.connect(host, port, timeval_of(500));
    const char *argv[] = {"SUBSCRIBE", l->channel};
    void *reply = NULL;
    if (!c || c->err || api.append_argv(c, 2, argv, NULL) != REDIS_OK ||
        api.get_reply(c, &reply) != REDIS_OK) {
      if (c)
        api.free_context(c);
      for (int k = 0; k < 10 && !atomic_load(&l->stop); ++k)
        sleep_ms(20);
      continue;
    }
    api.free_reply(reply);
    l->fn(l->ctx, NULL, 0); /* subscribed: anything before may be missed */
    atomic_store(&l->subscribed, 1);
    while (!atomic_load(&l->stop)) {
      struct pollfd p = {c->fd, POLLIN, 0};
      int ready = poll(&p, 1, 100);
      if (ready < 0 && errno == EINTR)
        continue;
      if (ready <= 0)
        continue;
      reply = NULL;
      if (api.get_reply(c, &reply) != REDIS_OK || !reply)
        break;
      redisReply *r = reply;
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
          r->element[2]->type == REDIS_REPLY_STRING)
        l->fn(l->ctx, r->element[2]->str, r->element[2]->len);
      api.free_reply(reply);
    }
    api.free_context(c);
  }
  return NULL;
}

recq_row_store_listener *recq_row_store_listen(recq_row_store *s,
                                               const char *channel,
                                               recq_row_store_message_fn fn,
                                               void *ctx, recq_status *st) {
  recq_row_store_listener *l = calloc(1, sizeof *l);
  if (!l || strlen(channel) >= sizeof l->channel) {
    free(l);
    recq_internal_set_status(st, RECQ_ERR_ARGUMENT, "cannot listen on '%s'",
                             channel);
    return NULL;
  }
  l->store = s;
  strcpy(l->channel, channel);
  l->fn = fn;
  l->ctx = ctx;
  atomic_init(&l->stop, 0);
  atomic_init(&l->subscribed, 0);
  if (pthread_create(&l->thread, NULL, listen_loop, l) != 0) {
    free(l);
    recq_internal_set_status(st, RECQ_ERR_MEMORY,
                             "cannot start the thread listening on '%s'",
                             channel);
    return NULL;
  }
  /* Until the first subscription (within the store's deadline): from then
     on every announcement reaches fn. A store that does not answer in
     time leaves the thread trying; the rows' TTL bounds staleness. */
  int64_t deadline = now_ms() + s->timeout_ms;
  while (!atomic_load(&l->subscribed) && now_ms() < deadline)
    sleep_ms(1);
  return l;
}

void recq_row_store_unlisten(recq_row_store_listener *l) {
  if (!l)
    return;
  atomic_store(&l->stop, 1);
  pthread_join(l->thread, NULL);
  free(l);
}
