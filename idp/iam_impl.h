/* iam_impl.h -- what an IAM store implementation provides (idp/iam.h is what callers use).
 *
 * An implementation fills one struct iam_store_ops (every member is required) and hands it
 * with its own state to iam_store_wrap; the functions of idp/iam.h then dispatch to it
 * (idp/iam.c). Each operation has the contract of the iam.h function of the same name, with
 * the implementation's state in place of the store. Shared by every implementation in
 * idp/iam.c: iam_blob_update's retry loop, iam_now_ns and the cleanup helpers.
 * Implementations: idp/iam_lmdb.c (local LMDB); an etcd one (issue 16) goes beside it.
 */
#ifndef TS_IAM_IMPL_H
#define TS_IAM_IMPL_H

#include "idp/iam.h"

struct iam_store_ops {
    void (*close)(void *impl);
    uint64_t (*generation)(void *impl);
    int (*set_reserved)(void *impl, const char *root_name);

    int (*user_add)(void *impl, const char *name, const char *secret, const char **msg);
    int (*user_set_secret)(void *impl, const char *name, const char *secret, const char **msg);
    int (*user_get)(void *impl, const char *name, struct iam_user *out);
    int (*user_set_enabled)(void *impl, const char *name, bool enabled);
    int (*user_remove)(void *impl, const char *name);
    int (*user_list)(void *impl, struct iam_strv *out);
    int (*user_revoke_sessions)(void *impl, const char *name, int64_t nb_ns);
    int (*parent_not_before)(void *impl, const char *parent, int64_t *nb_ns);
    int (*parent_revoke_sessions)(void *impl, const char *parent, int64_t nb_ns);

    int (*group_add)(void *impl, const char *group, const char *const *members, size_t n);
    int (*group_remove)(void *impl, const char *group, const char *const *members, size_t n);
    int (*group_get)(void *impl, const char *group, struct iam_group *out);
    int (*group_list)(void *impl, struct iam_strv *out);
    int (*group_set_enabled)(void *impl, const char *group, bool enabled);

    int (*policy_put)(void *impl, const char *name, const char *json);
    int (*policy_get)(void *impl, const char *name, char **json);
    int (*policy_remove)(void *impl, const char *name);
    int (*policy_list)(void *impl, struct iam_strv *out);

    int (*attach)(void *impl, enum iam_target kind, const char *target, const char *policy);
    int (*detach)(void *impl, enum iam_target kind, const char *target, const char *policy);
    int (*attached)(void *impl, enum iam_target kind, const char *target, struct iam_strv *out);

    int (*revoke_key)(void *impl, const char *access_key, time_t expires);
    bool (*key_revoked)(void *impl, const char *access_key);

    int (*blob_put)(void *impl, const char *name, const void *data, size_t len);
    int (*blob_get)(void *impl, const char *name, void **data, size_t *len, uint64_t *version);
    int (*blob_cas)(void *impl, const char *name, uint64_t expected, const void *data, size_t len);
};

/* Wraps an implementation's state into a store (ops must outlive it; close(impl) runs at
 * iam_store_close). TS_OK with *out set, or TS_E_INTERNAL (then close(impl) has run). */
int iam_store_wrap(const struct iam_store_ops *ops, void *impl, struct iam_store **out);

/* The LMDB implementation's opener (iam_store_open calls it): its state in *impl. */
int iam_lmdb_open(const char *dir, const struct iam_store_ops **ops, void **impl);

#endif
