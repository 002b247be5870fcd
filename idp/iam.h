/* iam.h -- the IAM store: everything that must be remembered about identities and shared
 * between nodes (users, groups, policy documents, attachments, token keys, revocations).
 *
 * This is one interface (DESIGN §4.6) so that an etcd-backed store can sit beside the local
 * one. The local implementation (idp/iam_lmdb.c) keeps it in LMDB under DATA_DIR/iam/:
 * every mutation is one write transaction, durable when the call returns (a kill -9 after
 * the return never loses it; before, the old state stays whole).
 *
 * All functions return TS_OK or an error from core/err.h (TS_E_NO_SUCH_ENTITY,
 * TS_E_ENTITY_EXISTS, TS_E_INVALID_ARGUMENT with a message through the optional `msg`
 * out-param, TS_E_INTERNAL). On error, outputs are untouched and nothing was stored. All
 * functions are thread-safe; reads never block writers (LMDB MVCC).
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

struct iam_user {
    char *name;    /* the access key */
    char *secret;  /* the secret key (never logged) */
    bool enabled;
    time_t not_before;         /* temporary credentials issued before this are revoked */
    struct iam_strv policies;  /* attached directly */
    struct iam_strv groups;    /* groups the user is a member of */
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

/* Opens (creating when needed) the store under dir. */
int iam_store_open(const char *dir, struct iam_store **out);
void iam_store_close(struct iam_store *st);
/* A number that changes on every committed mutation (caches key on it). */
uint64_t iam_store_generation(struct iam_store *st);

/* Users. name: 3..128 chars of [A-Za-z0-9_.@=+-]; secret: 8..40 chars (MinIO's rules). */
int iam_user_add(struct iam_store *st, const char *name, const char *secret, const char **msg);
int iam_user_get(struct iam_store *st, const char *name, struct iam_user *out);
int iam_user_set_enabled(struct iam_store *st, const char *name, bool enabled);
int iam_user_remove(struct iam_store *st, const char *name);
int iam_user_list(struct iam_store *st, struct iam_strv *out);
/* Sets the user's not-before time to now: every temporary credential it holds is revoked. */
int iam_user_revoke_sessions(struct iam_store *st, const char *name, time_t now);
/* Not-before time for parents that are not static users (LDAP DNs, OIDC subjects). */
int iam_parent_not_before(struct iam_store *st, const char *parent, time_t *out);
int iam_parent_revoke_sessions(struct iam_store *st, const char *parent, time_t now);

/* Groups. Adding members creates the group; removing with n == 0 removes the group (only
 * when it has no members, as MinIO). */
int iam_group_add(struct iam_store *st, const char *group, const char *const *members, size_t n);
int iam_group_remove(struct iam_store *st, const char *group, const char *const *members,
                     size_t n);
int iam_group_get(struct iam_store *st, const char *group, struct iam_group *out);
int iam_group_list(struct iam_store *st, struct iam_strv *out);

/* Policy documents, stored as the JSON text given (validated by the caller: policy/). */
int iam_policy_put(struct iam_store *st, const char *name, const char *json);
int iam_policy_get(struct iam_store *st, const char *name, char **json);
int iam_policy_remove(struct iam_store *st, const char *name);
int iam_policy_list(struct iam_store *st, struct iam_strv *out);

/* Attachments of policies to users, groups, LDAP DNs (normalised lower-case by the caller)
 * and roles. Attaching requires the policy to exist (canned ones are checked by caller). */
int iam_attach(struct iam_store *st, enum iam_target kind, const char *target, const char *policy);
int iam_detach(struct iam_store *st, enum iam_target kind, const char *target, const char *policy);
int iam_attached(struct iam_store *st, enum iam_target kind, const char *target,
                 struct iam_strv *out);

/* Single revoked temporary access keys, remembered until their expiry. */
int iam_revoke_key(struct iam_store *st, const char *access_key, time_t expires);
bool iam_key_revoked(struct iam_store *st, const char *access_key);

/* Opaque small blobs by name (token keys, role documents, settings). */
int iam_blob_put(struct iam_store *st, const char *name, const void *data, size_t len);
int iam_blob_get(struct iam_store *st, const char *name, void **data, size_t *len);

#endif
