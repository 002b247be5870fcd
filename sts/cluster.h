/* cluster.h -- this node's place among the nodes sharing one IAM store (issue 16).
 *
 * Every server writes a heartbeat record into the store's node table (iam_node_put, outside
 * the generation) when it starts and every CLUSTER_HEARTBEAT_S seconds from its own thread,
 * and removes it on a clean shutdown. `tessera admin cluster status` (GET cluster/status,
 * admin:ServerInfo) lists the records with the store's own status. The node id is 16 random
 * hex digits drawn at each start (a restarted node is a new node; the record's address says
 * which machine it is); records of nodes that stopped without removing theirs (kill -9, power
 * loss) show as down and are forgotten CLUSTER_FORGET_S after their last heartbeat.
 *
 * Record (JSON): {"id", "address" (the URL the node listens on), "version", "started",
 * "updated" (unix seconds), "revision" (the store revision the node has applied, etcd; 0 on
 * LMDB), "engine", "key_ids" (the token keys it verifies with, oldest first), "mint_key_id"
 * (the one it seals with)}.
 */
#ifndef TS_STS_CLUSTER_H
#define TS_STS_CLUSTER_H

#include <jansson.h>
#include <time.h>

#include "idp/iam.h"
#include "sts/sts.h"

#define CLUSTER_HEARTBEAT_S 2 /* seconds between two heartbeats of a node */
#define CLUSTER_UP_S 10       /* a node is up when its last heartbeat is at most this old */
#define CLUSTER_FORGET_S 3600 /* records older than this are removed by any node */
#define CLUSTER_ID_LEN 16

struct sts_cluster;

/* Draws this node's id and attaches the heartbeats to c (c must outlive it). Call before the
 * server serves requests. NULL on failure (message on stderr). */
struct sts_cluster *sts_cluster_new(struct sts_ctx *c);
/* Writes the first heartbeat (address: the URL the server listens on) and starts the thread
 * that writes the next ones. A store error is logged, never fatal (the thread retries).
 * TS_OK or TS_E_INTERNAL (no thread). */
int sts_cluster_start(struct sts_cluster *cl, const char *address, const char *version);
/* Stops the thread and removes this node's record (at the start of a clean shutdown; the
 * status endpoint keeps answering until the server is freed). NULL is a no-op. */
void sts_cluster_stop(struct sts_cluster *cl);
/* sts_cluster_stop, then detaches from the STS context and frees. After the HTTP server is
 * freed (no request reads it any more). NULL is a no-op. */
void sts_cluster_free(struct sts_cluster *cl);

/* The answer of GET cluster/status: the store's status (engine, revision, fresh, message when
 * not fresh, synced_ms_ago, resyncs, endpoint), this node's id ("node", null without
 * heartbeats) and the nodes (cluster_node_json of each record, sorted by id). sts may be
 * NULL. TS_OK with *out, or a store error. */
int sts_cluster_status(struct iam_store *st, struct sts_ctx *sts, json_t **out);

/* One node of the status from its record: the record's fields, "up" (its last heartbeat at
 * most CLUSTER_UP_S before now), "age_s" (now - updated) and "self" (id == self_id). A record
 * that is not a JSON object with an integer "updated" gives {"id", "up": false, "error"}.
 * Pure (for tests). NULL on OOM. */
json_t *cluster_node_json(const char *id, const char *record, const char *self_id, time_t now);

#endif
