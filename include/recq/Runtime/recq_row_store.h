/*===- recq_row_store.h - Rows of remote tables in Redis Cluster ---*- C -*-===*
 *
 * The client the runtime reads remote tables' rows through and that
 * `recq-tables` writes them with (docs/RemoteTables.md). A store is named
 * "redis://host:port[,host:port...]": the seed nodes of a Redis Cluster
 * (or one standalone Redis server). The client reads the cluster's slot map
 * (CLUSTER SLOTS), sends each node its rows in pipelined MGET/MSET
 * commands, one per hash slot and up to 256 keys, to every node before it
 * reads any reply, follows MOVED (re-reading the slot map) and ASK
 * redirections, retries TRYAGAIN/CLUSTERDOWN/LOADING and lost connections,
 * and fails when the call's deadline passes, naming the table, the row and
 * the node. libhiredis is loaded with dlopen when a store is opened, so a
 * model without remote tables never needs it.
 *
 * A row of table `table_id` of the model whose .rows file has id
 * `model_id` is the string key
 *
 *   recq:{<model_id, 16 hex digits>:<table_id>:<row % 64>}:<row>
 *
 * holding the row's bytes as the kernel reads them (fp32, fp16 or
 * row-wise int8/int4 codes with their scale and bias). The hash tag puts
 * each table in 64 hash slots (the rows equal modulo 64 in one), so the
 * rows a batch needs, wherever they are in the table, group into at most
 * 64 MGETs per table, spread over the nodes.
 *
 *===----------------------------------------------------------------------===*/

#ifndef RECQ_RUNTIME_RECQ_ROW_STORE_H
#define RECQ_RUNTIME_RECQ_ROW_STORE_H

#include "recq/Runtime/recq.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RECQ_ROW_STORE_TABLE_SLOTS 64

typedef struct recq_row_store recq_row_store;

/// Some rows of one table: `count` rows `rows[k]`, each `row_bytes` at
/// `data + k * row_bytes` (filled by get, read by put).
typedef struct recq_row_batch {
  const char *table; /* its name, for messages */
  uint64_t model_id;
  int32_t table_id;
  int64_t row_bytes;
  int64_t count;
  const int64_t *rows;
  char *data;
} recq_row_batch;

/// What a store did since it was opened.
typedef struct recq_row_store_stats {
  uint64_t calls;     /* get and put calls */
  uint64_t rows;      /* rows read or written */
  uint64_t commands;  /* MGET/MSET commands sent, retries included */
  uint64_t redirects; /* MOVED and ASK replies followed */
  uint64_t retries;   /* rounds that resent commands (a node lost,
                         TRYAGAIN, CLUSTERDOWN) */
} recq_row_store_stats;

/// Opens the store `spec` names and reads its slot map. `timeout_ms` bounds
/// every get and put (and the open itself). Fails with RECQ_ERR_ARGUMENT
/// for a malformed spec or a missing libhiredis, RECQ_ERR_STORE when no
/// node answers.
recq_row_store *recq_row_store_open(const char *spec, int timeout_ms,
                                    recq_status *st);
/// Reads every row of `batches` (RECQ_ERR_STORE: a node down or slow past
/// the deadline, a missing row, a row of another size). Thread-safe: calls
/// share the store's connections one at a time.
int recq_row_store_get(recq_row_store *s, const recq_row_batch *batches,
                       int num_batches, recq_status *st);
/// Writes every row of `batches`; each row's key is set at once (MSET), so
/// a reader sees a row's old bytes or its new ones, never a mix.
int recq_row_store_put(recq_row_store *s, const recq_row_batch *batches,
                       int num_batches, recq_status *st);
/// The store's spec, as opened.
const char *recq_row_store_spec(const recq_row_store *s);
void recq_row_store_get_stats(recq_row_store *s, recq_row_store_stats *out);
void recq_row_store_close(recq_row_store *s);

/// Publishes `message` on `channel` (any node; the cluster forwards it to
/// every node's subscribers).
int recq_row_store_publish(recq_row_store *s, const char *channel,
                           const char *message, size_t len, recq_status *st);

/// A thread subscribed to a channel on one node of the store (another when
/// that one goes away), calling `fn` with each message, and with a NULL
/// message each time it (re)subscribes: messages published before may have
/// been missed. `fn` runs on that thread. Returns once the first
/// subscription is answered, or the store's deadline has passed.
typedef void (*recq_row_store_message_fn)(void *ctx, const char *message,
                                          size_t len);
typedef struct recq_row_store_listener recq_row_store_listener;
recq_row_store_listener *recq_row_store_listen(recq_row_store *s,
                                               const char *channel,
                                               recq_row_store_message_fn fn,
                                               void *ctx, recq_status *st);
/// Stops and joins the thread (within about 100 ms).
void recq_row_store_unlisten(recq_row_store_listener *l);

#ifdef __cplusplus
}
#endif

#endif /* RECQ_RUNTIME_RECQ_ROW_STORE_H */
