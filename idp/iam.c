/* iam.c -- the IAM store interface (idp/iam.h): dispatch to the implementation's operations
 * (idp/iam_impl.h), and what every implementation shares: the blob read-modify-write loop over
 * iam_blob_cas, the not-before clock and the cleanup of returned records. */
#include "idp/iam_impl.h"

#include <openssl/crypto.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

struct iam_store {
    const struct iam_store_ops *ops;
    void *impl;
};

int iam_store_wrap(const struct iam_store_ops *ops, void *impl, struct iam_store **out)
{
    struct iam_store *st = malloc(sizeof *st);
    if (st == NULL) {
        ops->close(impl);
        return TS_E_INTERNAL;
    }
    st->ops = ops;
    st->impl = impl;
    *out = st;
    return TS_OK;
}

int iam_store_open(const char *dir, struct iam_store **out)
{
    const struct iam_store_ops *ops;
    void *impl;
    int rc = iam_lmdb_open(dir, &ops, &impl);
    return rc == TS_OK ? iam_store_wrap(ops, impl, out) : rc;
}

void iam_store_close(struct iam_store *st)
{
    if (st == NULL)
        return;
    st->ops->close(st->impl);
    free(st);
}

int64_t iam_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- dispatch ---- */

#define IAM_CALL(op, ...) return st->ops->op(st->impl, __VA_ARGS__)

uint64_t iam_store_generation(struct iam_store *st)
{
    return st->ops->generation(st->impl);
}
int iam_store_set_reserved(struct iam_store *st, const char *root_name)
{
    IAM_CALL(set_reserved, root_name);
}
int iam_user_add(struct iam_store *st, const char *name, const char *secret, const char **msg)
{
    IAM_CALL(user_add, name, secret, msg);
}
int iam_user_set_secret(struct iam_store *st, const char *name, const char *secret,
                        const char **msg)
{
    IAM_CALL(user_set_secret, name, secret, msg);
}
int iam_user_get(struct iam_store *st, const char *name, struct iam_user *out)
{
    IAM_CALL(user_get, name, out);
}
int iam_user_set_enabled(struct iam_store *st, const char *name, bool enabled)
{
    IAM_CALL(user_set_enabled, name, enabled);
}
int iam_user_remove(struct iam_store *st, const char *name)
{
    IAM_CALL(user_remove, name);
}
int iam_user_list(struct iam_store *st, struct iam_strv *out)
{
    IAM_CALL(user_list, out);
}
int iam_user_revoke_sessions(struct iam_store *st, const char *name, int64_t nb_ns)
{
    IAM_CALL(user_revoke_sessions, name, nb_ns);
}
int iam_parent_not_before(struct iam_store *st, const char *parent, int64_t *nb_ns)
{
    IAM_CALL(parent_not_before, parent, nb_ns);
}
int iam_parent_revoke_sessions(struct iam_store *st, const char *parent, int64_t nb_ns)
{
    IAM_CALL(parent_revoke_sessions, parent, nb_ns);
}
int iam_group_add(struct iam_store *st, const char *group, const char *const *members, size_t n)
{
    IAM_CALL(group_add, group, members, n);
}
int iam_group_remove(struct iam_store *st, const char *group, const char *const *members, size_t n)
{
    IAM_CALL(group_remove, group, members, n);
}
int iam_group_get(struct iam_store *st, const char *group, struct iam_group *out)
{
    IAM_CALL(group_get, group, out);
}
int iam_group_list(struct iam_store *st, struct iam_strv *out)
{
    IAM_CALL(group_list, out);
}
int iam_group_set_enabled(struct iam_store *st, const char *group, bool enabled)
{
    IAM_CALL(group_set_enabled, group, enabled);
}
int iam_policy_put(struct iam_store *st, const char *name, const char *json)
{
    IAM_CALL(policy_put, name, json);
}
int iam_policy_get(struct iam_store *st, const char *name, char **json)
{
    IAM_CALL(policy_get, name, json);
}
int iam_policy_remove(struct iam_store *st, const char *name)
{
    IAM_CALL(policy_remove, name);
}
int iam_policy_list(struct iam_store *st, struct iam_strv *out)
{
    IAM_CALL(policy_list, out);
}
int iam_attach(struct iam_store *st, enum iam_target kind, const char *target, const char *policy)
{
    IAM_CALL(attach, kind, target, policy);
}
int iam_detach(struct iam_store *st, enum iam_target kind, const char *target, const char *policy)
{
    IAM_CALL(detach, kind, target, policy);
}
int iam_attached(struct iam_store *st, enum iam_target kind, const char *target,
                 struct iam_strv *out)
{
    IAM_CALL(attached, kind, target, out);
}
int iam_revoke_key(struct iam_store *st, const char *access_key, time_t expires)
{
    IAM_CALL(revoke_key, access_key, expires);
}
bool iam_key_revoked(struct iam_store *st, const char *access_key)
{
    IAM_CALL(key_revoked, access_key);
}
int iam_blob_put(struct iam_store *st, const char *name, const void *data, size_t len)
{
    IAM_CALL(blob_put, name, data, len);
}
int iam_blob_get(struct iam_store *st, const char *name, void **data, size_t *len,
                 uint64_t *version)
{
    IAM_CALL(blob_get, name, data, len, version);
}
int iam_blob_cas(struct iam_store *st, const char *name, uint64_t expected, const void *data,
                 size_t len)
{
    IAM_CALL(blob_cas, name, expected, data, len);
}

/* ---- shared by every implementation ---- */

static void wipe_free(void *p, size_t n)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, n);
    free(p);
}

int iam_blob_update(struct iam_store *st, const char *name, iam_blob_edit_fn edit, void *arg)
{
    for (int attempt = 0; attempt < IAM_BLOB_RETRIES; attempt++) {
        void *old = NULL, *next = NULL;
        size_t oldlen = 0, nextlen = 0;
        uint64_t ver = 0;
        int rc = iam_blob_get(st, name, &old, &oldlen, &ver);

        if (rc != TS_OK && rc != TS_E_NO_SUCH_ENTITY)
            return rc;
        rc = edit(old, oldlen, arg, &next, &nextlen);
        wipe_free(old, oldlen);
        if (rc != TS_OK || next == NULL) {
            wipe_free(next, nextlen);
            return rc;
        }
        rc = iam_blob_cas(st, name, ver, next, nextlen);
        wipe_free(next, nextlen);
        if (rc != TS_E_PRECONDITION_FAILED)
            return rc;
        sched_yield(); /* another writer won this round: read its result and redo the edit */
    }
    return TS_E_SERVICE_UNAVAILABLE;
}

void iam_strv_free(struct iam_strv *sv)
{
    if (sv == NULL)
        return;
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

void iam_user_cleanup(struct iam_user *u)
{
    if (u == NULL)
        return;
    free(u->name);
    if (u->secret != NULL) {
        OPENSSL_cleanse(u->secret, strlen(u->secret));
        free(u->secret);
    }
    iam_strv_free(&u->policies);
    iam_strv_free(&u->groups);
    memset(u, 0, sizeof(*u));
}

void iam_group_cleanup(struct iam_group *g)
{
    if (g == NULL)
        return;
    free(g->name);
    iam_strv_free(&g->members);
    iam_strv_free(&g->policies);
    memset(g, 0, sizeof(*g));
}
