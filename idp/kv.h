/* kv.h -- the key-value engine under the IAM store (issue 16).
 *
 * idp/iam.c implements every operation of idp/iam.h once, as transaction bodies over this
 * interface; an engine only stores tables of keys and runs transactions:
 *   idp/kv_lmdb.c  the local store (one LMDB environment, DATA_DIR/.tessera/iam; the default)
 *   idp/kv_etcd.c  etcd (TESSERA_ETCD_ENDPOINTS): every node keeps an in-memory mirror of its
 *                  prefix, followed by one watch; reads come from the mirror, writes are etcd
 *                  transactions compared on what the body read.
 *
 * Tables. A plain table maps a key (a non-empty string) to a value (bytes). A set table maps a
 * key to a set of members (non-empty strings), iterated sorted. Keys and members of at most
 * KV_KEY_MAX bytes (engines may refuse longer ones with TS_E_INVALID_ARGUMENT).
 *
 * Transactions. kv_run(eng, write, body, arg) runs body with a transaction handle:
 *  - Every read in one transaction sees one consistent state (a snapshot), plus the
 *    transaction's own earlier writes (read-your-writes inside the body).
 *  - A write transaction is atomic and serializable: it commits only if nothing it read
 *    (keys it got, tables or key ranges it iterated) changed since its snapshot; otherwise
 *    the ENGINE runs body again on a fresh snapshot (etcd; LMDB serialises writers so never
 *    needs to). So a write body may run several times: it must depend only on arg and
 *    what it reads, and leave arg ready for another run (reset its outputs at its start).
 *  - body returns TS_OK to commit (write) or an error to abort: nothing is written and
 *    kv_run returns that error.
 *  - When kv_run returns TS_OK from a write, the write is durable (LMDB synced; etcd
 *    acknowledged by a quorum) and visible to every later read on this node.
 *  - A write whose body wrote nothing commits nothing (no generation change).
 * Engine errors: TS_E_SERVICE_UNAVAILABLE (etcd unreachable, no quorum, or too many
 * conflicts; the message in the engine's log says which), TS_E_STORAGE_FULL, TS_E_INTERNAL.
 *
 * Generation: a number that changes whenever any table other than KV_NODES changes, by
 * this node or another one (caches above key on it). Changes only to KV_NODES (node
 * heartbeats) do not change it.
 *
 * Values are the bytes the caller gives; engines do not interpret them. Handles and pointers
 * returned by get/each are valid only inside the body that received them.
 */
#ifndef TS_KV_H
#define TS_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KV_KEY_MAX 511

/* The tables (names are used by engines as LMDB database names and etcd key segments). */
#define KV_TABLES(X)                                                                               \
    X(KV_USERS, "users", false)       /* name -> {"secret":..,"enabled":bool} */                   \
    X(KV_GROUPS, "groups", false)     /* name -> {"enabled":bool} */                               \
    X(KV_GMEMBERS, "gmembers", true)  /* group -> {user} */                                        \
    X(KV_UGROUPS, "ugroups", true)    /* user -> {group} */                                        \
    X(KV_POLICIES, "policies", false) /* name -> policy JSON text */                               \
    X(KV_ATT_USER, "att_user", true)  /* user -> {policy} */                                       \
    X(KV_ATT_GROUP, "att_group", true)                                                             \
    X(KV_ATT_DN, "att_dn", true)                                                                   \
    X(KV_ATT_ROLE, "att_role", true)                                                               \
    X(KV_NOTBEFORE, "notbefore", false) /* parent -> not-before time */                            \
    X(KV_REVOKED, "revoked", false)     /* access key -> expiry */                                 \
    X(KV_BLOBS, "blobs", false)         /* name -> bytes */                                        \
    X(KV_BLOBVER, "blobver", false)     /* name -> version */                                      \
    X(KV_NODES, "nodes", false)         /* node id -> heartbeat JSON (not in generation) */        \
    X(KV_SVCACCTS, "svcaccts", false)   /* service account access key -> record JSON */            \
    X(KV_SVCPARENT, "svcparent", true)  /* parent -> {service account access key} */

enum kv_table {
#define KV_ENUM(id, name, set) id,
    KV_TABLES(KV_ENUM)
#undef KV_ENUM
        KV_TABLE_COUNT
};

struct kv_table_def {
    const char *name;
    bool set;
};
extern const struct kv_table_def kv_tables[KV_TABLE_COUNT];

struct kv_txn; /* engine-defined */

typedef int (*kv_body_fn)(struct kv_txn *t, void *arg);
/* Called by each for every entry in order: plain tables give (key, value, vlen), set tables
 * give (key, member, strlen(member)). A non-TS_OK return stops the walk and is returned. */
typedef int (*kv_each_fn)(const char *key, const void *val, size_t vlen, void *arg);

/* What an engine reports about itself (iam_store_status; `tessera admin cluster status`). */
struct kv_status {
    const char *engine;    /* "lmdb" or "etcd" (static) */
    uint64_t revision;     /* etcd: the revision this node's mirror has applied; LMDB: 0 */
    int64_t synced_ms_ago; /* etcd: time since the mirror was last confirmed current; -1 if never */
    bool fresh;            /* may revocable state be trusted (etcd: synced within STALE_MAX) */
    uint64_t resyncs;      /* etcd: full resynchronisations after a broken watch */
    char endpoint[256];    /* etcd: the endpoint in use; LMDB: the directory */
};

struct kv_engine_ops {
    void (*close)(void *eng);
    uint64_t (*generation)(void *eng);
    int (*run)(void *eng, bool write, kv_body_fn body, void *arg);

    /* get: TS_OK with *val (NOT NUL-terminated) and *len, or TS_E_NO_SUCH_ENTITY. Plain
     * tables only. */
    int (*get)(struct kv_txn *t, enum kv_table tb, const char *key, const void **val, size_t *len);
    /* put: creates or replaces (plain tables; write transactions only). */
    int (*put)(struct kv_txn *t, enum kv_table tb, const char *key, const void *val, size_t len);
    /* del: plain table: removes key; set table: removes key with all its members.
     * TS_E_NO_SUCH_ENTITY when there was nothing to remove. */
    int (*del)(struct kv_txn *t, enum kv_table tb, const char *key);
    /* member_add: adds member to key's set; TS_E_ENTITY_EXISTS when already there (nothing
     * changes). member_del: TS_E_NO_SUCH_ENTITY when not there. member_has: TS_OK or
     * TS_E_NO_SUCH_ENTITY. Set tables only. */
    int (*member_add)(struct kv_txn *t, enum kv_table tb, const char *key, const char *member);
    int (*member_del)(struct kv_txn *t, enum kv_table tb, const char *key, const char *member);
    int (*member_has)(struct kv_txn *t, enum kv_table tb, const char *key, const char *member);
    /* each: walks key's members (set table, key != NULL), or the whole table (key == NULL:
     * every key of a plain table; every (key, member) pair of a set table), sorted by key
     * (bytewise) then member. Entries the body itself wrote or removed are included or
     * skipped accordingly. */
    int (*each)(struct kv_txn *t, enum kv_table tb, const char *key, kv_each_fn fn, void *arg);

    /* Whether revocable state may be trusted now: TS_OK, or TS_E_SERVICE_UNAVAILABLE with a
     * message (e.g. "IAM store (etcd) not synchronised for 75 s; the limit is
     * TESSERA_ETCD_STALE_MAX=60 s"). LMDB: always TS_OK. */
    int (*fresh)(void *eng, struct ts_error *err);
    void (*status)(void *eng, struct kv_status *out);
};

/* Wraps an opened engine into the IAM store (idp/iam.c): TS_OK with *out set, or
 * TS_E_INTERNAL (then ops->close(eng) has run). */
struct iam_store;
int iam_store_from_engine(const struct kv_engine_ops *ops, void *eng, struct iam_store **out);

/* Engine openers (iam_store_open picks one from the configuration). On TS_OK *ops and *eng
 * are set; otherwise a message went to stderr. */
int kv_lmdb_open(const char *dir, const struct kv_engine_ops **ops, void **eng);

struct kv_etcd_config {
    const char *endpoints;   /* comma-separated URLs (http:// or https://) */
    const char *prefix;      /* key prefix (TESSERA_ETCD_PATH_PREFIX), may be "" */
    const char *ca_file;     /* TESSERA_CA_FILE, or NULL */
    const char *client_cert; /* TESSERA_ETCD_CLIENT_CERT, or NULL */
    const char *client_key;  /* TESSERA_ETCD_CLIENT_CERT_KEY, or NULL */
    const char *username;    /* TESSERA_ETCD_USERNAME, or NULL (no auth) */
    const char *password;    /* TESSERA_ETCD_PASSWORD */
    int stale_max_s;         /* TESSERA_ETCD_STALE_MAX (default 60) */
};
int kv_etcd_open(const struct kv_etcd_config *cfg, const struct kv_engine_ops **ops, void **eng);

#endif
