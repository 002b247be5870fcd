/* iam.h -- the IAM store: everything that must be remembered about identities and shared
 * between nodes (users, groups, policy documents, attachments, token keys, revocations).
 *
 * One implementation (DESIGN §4.6): idp/iam.c carries out every function below once, as
 * transactions over a key-value engine (idp/kv.h), so callers never see which engine holds
 * the data. Engines: the local one (idp/kv_lmdb.c, opened by iam_store_open: one LMDB
 * environment under the directory the server passes, DATA_DIR/.tessera/iam) and etcd
 * (idp/kv_etcd.c, iam_store_open_etcd). Every mutation is one engine transaction, durable
 * when the call returns (a kill -9 after the return never loses it; before, the old state
 * stays whole).
 *
 * Several processes (and, with etcd, several nodes) may share one store. Every mutation below
 * is atomic in the store itself; blobs that callers read, modify and write back carry a
 * version, and iam_blob_cas / iam_blob_update write only over the version that was read, so
 * concurrent edits are never lost (no process-local lock stands in for that).
 *
 * All functions return TS_OK or an error from core/err.h (TS_E_NO_SUCH_ENTITY,
 * TS_E_ENTITY_EXISTS, TS_E_INVALID_ARGUMENT with a message through the optional `msg`
 * out-param, TS_E_GROUP_NOT_EMPTY, TS_E_POLICY_IN_USE, TS_E_STORAGE_FULL, TS_E_INTERNAL).
 * On error, outputs are untouched and nothing was stored. All functions are thread-safe;
 * reads never block writers (LMDB MVCC; etcd: reads come from the node's mirror). Names
 * longer than KV_KEY_MAX (511) bytes are refused with TS_E_INVALID_ARGUMENT (writes) or not
 * found (reads).
 */
#ifndef TS_IAM_H
#define TS_IAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct iam_store;

/* A list of strings owned by whoever holds it; iam_strv_free(NULL) is a no-op. */
struct iam_strv {
    char **v;
    size_t n;
};
void iam_strv_free(struct iam_strv *sv);

/* Not-before times (revocations) are nanoseconds since the epoch (CLOCK_REALTIME), so that a
 * revocation ends every credential issued before it and none issued after it without waiting
 * for the next second. iam_now_ns is that clock. */
int64_t iam_now_ns(void);

struct iam_user {
    char *name;   /* the access key */
    char *secret; /* the secret key (never logged) */
    bool enabled;
    int64_t not_before_ns;    /* temporary credentials issued before this are revoked */
    struct iam_strv policies; /* attached directly */
    struct iam_strv groups;   /* groups the user is a member of */
};
void iam_user_cleanup(struct iam_user *u);

struct iam_group {
    char *name;
    bool enabled;
    struct iam_strv members;
    struct iam_strv policies;
};
void iam_group_cleanup(struct iam_group *g);

enum iam_target { IAM_TARGET_USER, IAM_TARGET_GROUP, IAM_TARGET_DN, IAM_TARGET_ROLE };

/* Opens (creating the directory, mode 0700, and the database, 0600, when needed) the store
 * under dir. Returns TS_OK with *out set, or TS_E_INTERNAL (message on stderr). */
int iam_store_open(const char *dir, struct iam_store **out);
/* Closes the store; no call may be running or follow. NULL is a no-op. */
void iam_store_close(struct iam_store *st);
/* A number that changes on every committed mutation, by this process or any other sharing
 * the store (caches key on it); node heartbeats (iam_node_put) leave it alone. It starts at
 * 1 on every open of an LMDB store. */
uint64_t iam_store_generation(struct iam_store *st);
/* The root user's name, which iam_user_add refuses (root lives in the environment, not
 * here). Call once before the store is shared between threads; the name is copied. */
int iam_store_set_reserved(struct iam_store *st, const char *root_name);

/* Users. name: 3..128 chars of [A-Za-z0-9_.@=+-]; secret: 8..40 printable chars (MinIO's
 * rules). Adding creates a new user only: an existing name is TS_E_ENTITY_EXISTS (checked and
 * written in one transaction), never a new secret for it (unlike MinIO's "user add"). On
 * TS_E_INVALID_ARGUMENT *msg (optional) names the problem (a static string). */
int iam_user_add(struct iam_store *st, const char *name, const char *secret, const char **msg);
/* Replaces the secret of an existing user (TS_E_NO_SUCH_ENTITY otherwise), keeping its status,
 * groups and policies, and sets its not-before time to now: the temporary credentials it
 * obtained before end (none obtained after; the call never waits). Same rules and *msg as
 * iam_user_add. */
int iam_user_set_secret(struct iam_store *st, const char *name, const char *secret,
                        const char **msg);
/* Fills *out (release with iam_user_cleanup): status, not-before time, the directly attached
 * policies and the groups the user is a member of. */
int iam_user_get(struct iam_store *st, const char *name, struct iam_user *out);
/* Disabling also sets the user's not-before time to now (its sessions are revoked and stay
 * revoked after a later enable; the call never waits). */
int iam_user_set_enabled(struct iam_store *st, const char *name, bool enabled);
/* Removes the user, its group memberships and its attachments, and sets its not-before time
 * to now (a later user of the same name does not inherit old sessions). */
int iam_user_remove(struct iam_store *st, const char *name);
/* All user names, sorted. */
int iam_user_list(struct iam_store *st, struct iam_strv *out);
/* Sets the user's not-before time to nb_ns (nanoseconds, iam_now_ns): every temporary
 * credential issued before it is revoked. TS_E_NO_SUCH_ENTITY when there is no such user. */
int iam_user_revoke_sessions(struct iam_store *st, const char *name, int64_t nb_ns);
/* Not-before time (ns) of any parent identity (static user name, LDAP DN, OIDC subject): 0
 * with TS_OK when none was ever set. Stores written before nanoseconds keep whole seconds,
 * read as that second's first nanosecond. */
int iam_parent_not_before(struct iam_store *st, const char *parent, int64_t *nb_ns);
int iam_parent_revoke_sessions(struct iam_store *st, const char *parent, int64_t nb_ns);

/* Groups. name: 1..128 printable chars without ',' and '/'. Adding members (which must all be
 * existing users, else TS_E_NO_SUCH_ENTITY and nothing changes) creates the group, enabled;
 * n == 0 just creates it. Removing members that are not members is not an error; a group left
 * empty stays. Removing with n == 0 removes the group and its attachments, only when it has
 * no members (as MinIO), else TS_E_GROUP_NOT_EMPTY. */
int iam_group_add(struct iam_store *st, const char *group, const char *const *members, size_t n);
int iam_group_remove(struct iam_store *st, const char *group, const char *const *members, size_t n);
/* Fills *out (release with iam_group_cleanup): status, members (sorted), attached policies. */
int iam_group_get(struct iam_store *st, const char *group, struct iam_group *out);
int iam_group_list(struct iam_store *st, struct iam_strv *out);

/* Policy documents, stored as the JSON text given (validated by the caller: policy/).
 * name: 1..128 printable chars without ',', '/' and spaces. Putting an existing name
 * replaces the document. Removing a policy that is attached anywhere is refused with
 * TS_E_POLICY_IN_USE (as MinIO): detach it first. */
int iam_policy_put(struct iam_store *st, const char *name, const char *json);
int iam_policy_get(struct iam_store *st, const char *name, char **json);
int iam_policy_remove(struct iam_store *st, const char *name);
int iam_policy_list(struct iam_store *st, struct iam_strv *out);

/* Attachments of policies to users, groups, LDAP DNs (normalised lower-case by the caller)
 * and roles. The store checks that a USER or GROUP target exists (TS_E_NO_SUCH_ENTITY) but
 * not the policy: the caller checks that it is stored (iam_policy_get) or canned
 * (pol_canned_json). Attaching twice is not an error; detaching what is not attached is
 * TS_E_NO_SUCH_ENTITY. iam_attached gives the sorted names (empty for unknown targets). */
int iam_attach(struct iam_store *st, enum iam_target kind, const char *target, const char *policy);
int iam_detach(struct iam_store *st, enum iam_target kind, const char *target, const char *policy);
int iam_attached(struct iam_store *st, enum iam_target kind, const char *target,
                 struct iam_strv *out);

/* Single revoked temporary access keys, remembered until their expiry (expired entries are
 * pruned by later iam_revoke_key calls). iam_key_revoked is false once expires has passed. */
int iam_revoke_key(struct iam_store *st, const char *access_key, time_t expires);
bool iam_key_revoked(struct iam_store *st, const char *access_key);

/* Opaque small blobs by name (token keys, role documents, LDAP sessions, settings), each
 * with a version: 0 while the blob does not exist, then a number that changes on every
 * write (stored beside the blob, table KV_BLOBVER).
 *
 * iam_blob_get gives a malloc'ed copy (*data is NUL-terminated past len for convenience)
 * and, when version is not NULL, its version. TS_E_NO_SUCH_ENTITY when absent (*version is
 * then set to 0).
 * iam_blob_put writes unconditionally (last writer wins): only for values that are not
 * derived from what was read.
 * iam_blob_cas writes only when the blob's version is still expected (0: only when it does
 * not exist), in one store transaction; TS_E_PRECONDITION_FAILED when it changed (nothing
 * written: read again, redo the edit, retry). */
int iam_blob_put(struct iam_store *st, const char *name, const void *data, size_t len);
int iam_blob_get(struct iam_store *st, const char *name, void **data, size_t *len,
                 uint64_t *version);
int iam_blob_cas(struct iam_store *st, const char *name, uint64_t expected, const void *data,
                 size_t len);

/* An edit of a blob for iam_blob_update: given the current content (old is NULL and oldlen 0
 * when the blob does not exist; NUL-terminated past oldlen), sets *out to a malloc'ed new
 * content and *outlen (or leaves *out NULL to write nothing) and returns TS_OK, or returns an
 * error that ends the update. It may be called several times (once per attempt), so it must
 * depend only on old and arg, and leave arg ready for another call. */
typedef int (*iam_blob_edit_fn)(const void *old, size_t oldlen, void *arg, void **out,
                                size_t *outlen);
/* Read-modify-write of one blob without losing concurrent edits: reads it, runs edit, and
 * writes the result with iam_blob_cas, retrying from the read on a conflict (up to
 * IAM_BLOB_RETRIES attempts, then TS_E_SERVICE_UNAVAILABLE). Returns edit's error, the
 * store's, or TS_OK. The written content is wiped (OPENSSL_cleanse) and freed. */
#define IAM_BLOB_RETRIES 1000
int iam_blob_update(struct iam_store *st, const char *name, iam_blob_edit_fn edit, void *arg);

/* Appended: groups can be disabled (their policies then no longer apply to members). */
int iam_group_set_enabled(struct iam_store *st, const char *group, bool enabled);

/* ---- engines and cluster (issue 16; idp/kv.h) ---- */
struct kv_etcd_config;
struct kv_status;
struct ts_error;
/* Opens the store on etcd (TESSERA_ETCD_ENDPOINTS): loads the prefix into this node's
 * mirror and starts following it. TS_OK, or TS_E_INTERNAL / TS_E_SERVICE_UNAVAILABLE with a
 * message on stderr naming the endpoint and the cause. */
int iam_store_open_etcd(const struct kv_etcd_config *cfg, struct iam_store **out);
/* TS_OK when revocable state (users, revocations, not-before times) may be trusted now;
 * else TS_E_SERVICE_UNAVAILABLE with err's message saying why (etcd past STALE_MAX). */
int iam_store_fresh(struct iam_store *st, struct ts_error *err);
/* The engine's name, applied revision, sync age, resync count, endpoint. */
void iam_store_status(struct iam_store *st, struct kv_status *out);
/* Node heartbeats (table KV_NODES, outside the generation): put replaces node id's record
 * (a JSON text); list gives every (id, record) pair sorted by id (ids and records are two
 * parallel lists); remove forgets one (TS_E_NO_SUCH_ENTITY if absent). */
int iam_node_put(struct iam_store *st, const char *id, const char *json);
int iam_node_list(struct iam_store *st, struct iam_strv *ids, struct iam_strv *records);
int iam_node_remove(struct iam_store *st, const char *id);

/* ---- service accounts (issue 20) ----
 *
 * Long-lived access keys that belong to a parent identity: a static user, an LDAP DN
 * (normalised) or an OpenID subject ("iss#sub"). The store keeps the record; sts/ decides
 * what it means (sts/svcacct.c): the secret arrives sealed and is never stored in clear.
 * Access keys share one namespace with static users: adding either refuses a name taken by
 * the other (TS_E_ENTITY_EXISTS). Removing a static user removes its service accounts in the
 * same transaction. */
struct iam_svcacct {
    char *access_key;
    char *parent;        /* static user name, normalised LDAP DN, or OpenID "iss#sub" */
    char *parent_type;   /* "static", "ldap" or "oidc" */
    char *sealed_secret; /* the secret sealed by sts/ (never the secret itself) */
    char *policy;        /* its own policy (JSON text), or NULL: the parent's policies */
    char *name;          /* or NULL */
    char *description;   /* or NULL */
    char *claims;        /* JSON object of the parent's claims at creation (federated), or NULL */
    struct iam_strv parent_policies; /* OpenID parent: the policies mapped at creation */
    struct iam_strv parent_groups;   /* LDAP parent: its group DNs at creation */
    int64_t expiration;              /* seconds since the epoch; 0: never expires */
    int64_t created_ns;              /* iam_now_ns() at creation */
    bool enabled;
};
void iam_svcacct_cleanup(struct iam_svcacct *s);
/* Adds s (access_key: the rules of user names; name up to 32 and description up to 256
 * characters without control characters). A static parent must exist. TS_E_ENTITY_EXISTS
 * when the access key is a user's or a service account's; TS_E_NO_SUCH_ENTITY when a static
 * parent does not exist; TS_E_INVALID_ARGUMENT with *msg. */
int iam_svcacct_add(struct iam_store *st, const struct iam_svcacct *s, const char **msg);
/* Fills *out (release with iam_svcacct_cleanup). TS_E_NO_SUCH_ENTITY when absent. */
int iam_svcacct_get(struct iam_store *st, const char *access_key, struct iam_svcacct *out);
/* An edit of a record inside its transaction: changes *s in place (access key, parent and
 * parent type are kept whatever it does) and returns TS_OK, or an error that ends the update
 * (*msg may name it). May run several times: it must depend only on s and arg. */
typedef int (*iam_svcacct_edit_fn)(struct iam_svcacct *s, void *arg, const char **msg);
int iam_svcacct_update(struct iam_store *st, const char *access_key, iam_svcacct_edit_fn edit,
                       void *arg, const char **msg);
int iam_svcacct_remove(struct iam_store *st, const char *access_key);
/* The access keys of parent's service accounts (parent NULL: all), sorted. */
int iam_svcacct_list(struct iam_store *st, const char *parent, struct iam_strv *out);

#endif
