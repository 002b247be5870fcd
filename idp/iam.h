/* iam.h -- the IAM store: everything that must be remembered about identities and shared
 * between nodes (users, groups, policy documents, attachments, token keys, revocations).
 *
 * This is one interface (DESIGN §4.6) so that an etcd-backed store can sit beside the local
 * one. The local implementation (idp/iam_lmdb.c) keeps it in one LMDB environment under the
 * directory the server passes (DATA_DIR/.tessera/iam): every mutation is one write
 * transaction, durable when the call returns (a kill -9 after the return never loses it;
 * before, the old state stays whole).
 *
 * All functions return TS_OK or an error from core/err.h (TS_E_NO_SUCH_ENTITY,
 * TS_E_ENTITY_EXISTS, TS_E_INVALID_ARGUMENT with a message through the optional `msg`
 * out-param, TS_E_GROUP_NOT_EMPTY, TS_E_POLICY_IN_USE, TS_E_STORAGE_FULL, TS_E_INTERNAL).
 * On error, outputs are untouched and nothing was stored. All functions are thread-safe;
 * reads never block writers (LMDB MVCC). Names longer than 511 bytes (LMDB's key limit) are
 * refused with TS_E_INVALID_ARGUMENT (writes) or not found (reads).
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
    char *name;   /* the access key */
    char *secret; /* the secret key (never logged) */
    bool enabled;
    time_t not_before;        /* temporary credentials issued before this are revoked */
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
/* A number that changes on every committed mutation (caches key on it). Not persisted: it
 * starts at 1 on every open. */
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
 * obtained before end. Same rules and *msg as iam_user_add. */
int iam_user_set_secret(struct iam_store *st, const char *name, const char *secret,
                        const char **msg);
/* Fills *out (release with iam_user_cleanup): status, not-before time, the directly attached
 * policies and the groups the user is a member of. */
int iam_user_get(struct iam_store *st, const char *name, struct iam_user *out);
/* Disabling also sets the user's not-before time to now (its sessions are revoked and stay
 * revoked after a later enable). */
int iam_user_set_enabled(struct iam_store *st, const char *name, bool enabled);
/* Removes the user, its group memberships and its attachments, and sets its not-before time
 * to now (a later user of the same name does not inherit old sessions). */
int iam_user_remove(struct iam_store *st, const char *name);
/* All user names, sorted. */
int iam_user_list(struct iam_store *st, struct iam_strv *out);
/* Sets the user's not-before time to now: every temporary credential it holds is revoked.
 * TS_E_NO_SUCH_ENTITY when there is no such user. */
int iam_user_revoke_sessions(struct iam_store *st, const char *name, time_t now);
/* Not-before time of any parent identity (static user name, LDAP DN, OIDC subject): 0 with
 * TS_OK when none was ever set. */
int iam_parent_not_before(struct iam_store *st, const char *parent, time_t *out);
int iam_parent_revoke_sessions(struct iam_store *st, const char *parent, time_t now);

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

/* Opaque small blobs by name (token keys, role documents, settings). iam_blob_get gives a
 * malloc'ed copy (*data is NUL-terminated past len for convenience). */
int iam_blob_put(struct iam_store *st, const char *name, const void *data, size_t len);
int iam_blob_get(struct iam_store *st, const char *name, void **data, size_t *len);

/* Appended: groups can be disabled (their policies then no longer apply to members). */
int iam_group_set_enabled(struct iam_store *st, const char *group, bool enabled);

#endif
