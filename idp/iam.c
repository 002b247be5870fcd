/* iam.c -- the IAM store (idp/iam.h), once, over a key-value engine (idp/kv.h).
 *
 * Every operation is the body of one engine transaction: it validates its arguments, then
 * reads and writes the tables of KV_TABLES. Write bodies may run several times (the etcd
 * engine reruns one whose reads changed before it committed), so each depends only on its
 * struct op and what it reads, and builds its outputs afresh. Records (values):
 *
 *   users      name -> {"secret":..,"enabled":bool}       (compact JSON)
 *   groups     name -> {"enabled":bool}
 *   gmembers   group -> {user}      ugroups   user -> {group}   (both directions, one txn)
 *   policies   name -> policy JSON text
 *   att_user, att_group, att_dn, att_role   target -> {policy}
 *   notbefore  parent -> 'n' + int64 nanoseconds (host order); 8-byte values (stores written
 *              before nanoseconds) are int64 seconds
 *   revoked    access key -> int64 expiry (host order), pruned by later revocations
 *   blobs      name -> bytes
 *   blobver    name -> uint64 version (host order; a blob without one is version 1)
 *   nodes      node id -> heartbeat JSON
 *   svcaccts   access key -> {"parent","ptype","secret" (sealed by sts/),"policy","name",
 *              "desc","claims":{..},"ppol":[..],"pgrp":[..],"exp","created","enabled"}
 *   svcparent  parent -> {access key}  (written with the record, in one txn)
 *
 * Users read by iam_user_get are cached by name (a direct-mapped table) and valid while the
 * engine's generation is the one they were read at: any change, by this node or another one,
 * makes every entry stale. Every request signed with static credentials reads its user; this
 * spares it the record's JSON parse and the lookups.
 *
 * Thread-safety: kv, eng and reserved are immutable after iam_store_from_engine /
 * iam_store_set_reserved; the cache is guarded by striped mutexes.
 */
#include "idp/iam.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "idp/kv.h"

const struct kv_table_def kv_tables[KV_TABLE_COUNT] = {
#define KV_DEF(id, name, set) [id] = {name, set},
    KV_TABLES(KV_DEF)
#undef KV_DEF
};

#define IAM_NAME_MAX 128
#define UCACHE_SLOTS 256
#define UCACHE_STRIPES 16

struct ucache_slot {
    uint64_t gen; /* 0: empty */
    struct iam_user u;
};

struct iam_store {
    const struct kv_engine_ops *kv;
    void *eng;
    char *reserved; /* root user name, or NULL */
    pthread_mutex_t ucache_mu[UCACHE_STRIPES];
    struct ucache_slot ucache[UCACHE_SLOTS];
};

/* The arguments and results of one operation, for its body (each uses the members it
 * names). */
struct op {
    const struct kv_engine_ops *kv;
    const char *name;  /* the record's key: user, group, policy, target, parent, blob, node */
    const char *value; /* secret, policy name, policy JSON, node record */
    const char *const *members;
    size_t n;
    bool flag; /* enabled; checked; compare the version */
    enum kv_table tb;
    int64_t i64; /* not-before (ns), expiry (s) */
    int64_t now; /* seconds, for pruning */
    const void *data;
    size_t len;
    uint64_t version;
    /* results */
    struct iam_strv sv, sv2;
    void *copy; /* a value read (NUL-terminated copy) */
    size_t copylen;
    void *out; /* a record read (struct iam_user, struct iam_group, struct iam_svcacct) */
    iam_svcacct_edit_fn edit; /* iam_svcacct_update */
    void *edit_arg;
    const char *msg; /* a body's explanation of TS_E_INVALID_ARGUMENT */
};

static int run(struct iam_store *st, bool write, kv_body_fn body, struct op *a)
{
    a->kv = st->kv;
    return st->kv->run(st->eng, write, body, a);
}

/* ---- small helpers ---- */

static bool key_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= KV_KEY_MAX;
}

static int absent_ok(int err)
{
    return err == TS_E_NO_SUCH_ENTITY ? TS_OK : err;
}

static int present_ok(int err)
{
    return err == TS_E_ENTITY_EXISTS ? TS_OK : err;
}

static int strv_push(struct iam_strv *sv, const char *s, size_t n)
{
    char **nv = realloc(sv->v, (sv->n + 1) * sizeof(*nv));
    if (nv == NULL)
        return TS_E_INTERNAL;
    sv->v = nv;
    nv[sv->n] = strndup(s, n);
    if (nv[sv->n] == NULL)
        return TS_E_INTERNAL;
    sv->n++;
    return TS_OK;
}

/* kv_each_fn collecting members (set table) into the struct iam_strv arg. */
static int collect_member(const char *key, const void *val, size_t vlen, void *arg)
{
    return strv_push(arg, val, vlen);
}

/* kv_each_fn collecting keys into the struct iam_strv arg. */
static int collect_key(const char *key, const void *val, size_t vlen, void *arg)
{
    return strv_push(arg, key, strlen(key));
}

/* The members of key in set table tb, sorted, into *out (emptied first). */
static int set_list(struct kv_txn *t, const struct op *a, enum kv_table tb, const char *key,
                    struct iam_strv *out)
{
    iam_strv_free(out);
    return a->kv->each(t, tb, key, collect_member, out);
}

static int exists(struct kv_txn *t, const struct op *a, enum kv_table tb, const char *key)
{
    const void *v;
    size_t n;
    return a->kv->get(t, tb, key, &v, &n);
}

/* Copies the value (v, n) into a->copy (NUL-terminated) and a->copylen. */
static int value_copy(const void *v, size_t n, struct op *a)
{
    char *p = malloc(n + 1);
    if (p == NULL)
        return TS_E_INTERNAL;
    memcpy(p, v, n);
    p[n] = '\0';
    free(a->copy);
    a->copy = p;
    a->copylen = n;
    return TS_OK;
}

static int put_i64(struct kv_txn *t, const struct op *a, enum kv_table tb, const char *key,
                   int64_t x)
{
    return a->kv->put(t, tb, key, &x, sizeof x);
}

/* Not-before times: 'n' + int64 nanoseconds; an 8-byte value is whole seconds (a store
 * written before nanoseconds), read as that second's first nanosecond. */
#define NB_TAG 'n'
static int put_nb(struct kv_txn *t, const struct op *a, const char *key, int64_t ns)
{
    unsigned char buf[1 + sizeof ns];
    buf[0] = NB_TAG;
    memcpy(buf + 1, &ns, sizeof ns);
    return a->kv->put(t, KV_NOTBEFORE, key, buf, sizeof buf);
}

/* The not-before time of key in ns: 0 when none, TS_E_INTERNAL when malformed. */
static int get_nb(struct kv_txn *t, const struct op *a, const char *key, int64_t *ns)
{
    const unsigned char *v;
    size_t n;
    int64_t x;
    int err = a->kv->get(t, KV_NOTBEFORE, key, (const void **)&v, &n);

    *ns = 0;
    if (err != TS_OK)
        return absent_ok(err);
    if (n == 1 + sizeof x && v[0] == NB_TAG) {
        memcpy(ns, v + 1, sizeof x);
        return TS_OK;
    }
    if (n != sizeof x)
        return TS_E_INTERNAL;
    memcpy(&x, v, sizeof x);
    if (x < 0 || x > INT64_MAX / 1000000000)
        return TS_E_INTERNAL;
    *ns = x * 1000000000;
    return TS_OK;
}

/* The not-before time a revocation made now writes: every credential issued up to now
 * (issue times are nanoseconds too) is before it, every one issued later is not. */
static int64_t nb_now(void)
{
    return iam_now_ns() + 1;
}

/* ---- the store ---- */

int iam_store_from_engine(const struct kv_engine_ops *ops, void *eng, struct iam_store **out)
{
    struct iam_store *st = calloc(1, sizeof *st);
    if (st == NULL) {
        ops->close(eng);
        return TS_E_INTERNAL;
    }
    st->kv = ops;
    st->eng = eng;
    for (int i = 0; i < UCACHE_STRIPES; i++)
        pthread_mutex_init(&st->ucache_mu[i], NULL);
    *out = st;
    return TS_OK;
}

int iam_store_open(const char *dir, struct iam_store **out)
{
    const struct kv_engine_ops *ops;
    void *eng;
    int rc = kv_lmdb_open(dir, &ops, &eng);
    return rc == TS_OK ? iam_store_from_engine(ops, eng, out) : rc;
}

void iam_store_close(struct iam_store *st)
{
    if (st == NULL)
        return;
    st->kv->close(st->eng);
    for (int i = 0; i < UCACHE_STRIPES; i++) {
        pthread_mutex_destroy(&st->ucache_mu[i]);
        for (size_t j = i; j < UCACHE_SLOTS; j += UCACHE_STRIPES)
            iam_user_cleanup(&st->ucache[j].u);
    }
    free(st->reserved);
    free(st);
}

uint64_t iam_store_generation(struct iam_store *st)
{
    return st->kv->generation(st->eng);
}

int iam_store_fresh(struct iam_store *st, struct ts_error *err)
{
    return st->kv->fresh(st->eng, err);
}

void iam_store_status(struct iam_store *st, struct kv_status *out)
{
    st->kv->status(st->eng, out);
}

int iam_store_set_reserved(struct iam_store *st, const char *root_name)
{
    char *copy = root_name != NULL ? strdup(root_name) : NULL;
    if (root_name != NULL && copy == NULL)
        return TS_E_INTERNAL;
    free(st->reserved);
    st->reserved = copy;
    return TS_OK;
}

int64_t iam_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Every key of plain table tb, sorted. */
static int key_list_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    iam_strv_free(&a->sv);
    return a->kv->each(t, a->tb, NULL, collect_key, &a->sv);
}

/* Runs body (a read) and hands a->sv to *out, or frees it on error (*out untouched). */
static int read_list(struct iam_store *st, kv_body_fn body, struct op *a, struct iam_strv *out)
{
    int err = run(st, false, body, a);
    if (err != TS_OK) {
        iam_strv_free(&a->sv);
        return err;
    }
    *out = a->sv;
    return TS_OK;
}

static int key_list(struct iam_store *st, enum kv_table tb, struct iam_strv *out)
{
    struct op a = {.tb = tb};
    return read_list(st, key_list_body, &a, out);
}

/* ---- validation ---- */

static bool user_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("_.@=+-", c) != NULL;
}

static const char *check_user_name(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n < 3 || n > IAM_NAME_MAX)
        return "user name must be 3 to 128 characters long";
    for (size_t i = 0; i < n; i++)
        if (!user_name_char(name[i]))
            return "user name may only contain letters, digits and _ . @ = + -";
    return NULL;
}

/* Printable ASCII or UTF-8, none of the characters in bad. */
static bool name_ok(const char *name, size_t max, const char *bad)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || strchr(bad, c) != NULL)
            return false;
    }
    return true;
}

static bool group_name_ok(const char *name)
{
    return name_ok(name, IAM_NAME_MAX, ",/");
}

static bool policy_name_ok(const char *name)
{
    return name_ok(name, IAM_NAME_MAX, ", /");
}

/* NULL when name and secret follow the rules of iam_user_add, else the problem. */
static const char *check_user(const struct iam_store *st, const char *name, const char *secret)
{
    const char *why = check_user_name(name);
    size_t slen = secret != NULL ? strlen(secret) : 0;

    if (why == NULL && (slen < 8 || slen > 40))
        why = "secret key must be 8 to 40 characters long";
    for (size_t i = 0; why == NULL && i < slen; i++)
        if ((unsigned char)secret[i] < 0x20 || secret[i] == 0x7f)
            why = "secret key may not contain control characters";
    if (why == NULL && st->reserved != NULL && strcmp(name, st->reserved) == 0)
        why = "user name is reserved for the root user";
    return why;
}

/* Validates name and secret for add / set_secret; *msg (optional) gets the problem. */
static int user_args(struct iam_store *st, const char *name, const char *secret, const char **msg)
{
    const char *why = check_user(st, name, secret);
    if (why == NULL)
        return TS_OK;
    if (msg != NULL)
        *msg = why;
    return TS_E_INVALID_ARGUMENT;
}

/* ---- users ---- */

/* Releases a user record after wiping jansson's copy of the secret. NULL is a no-op. */
static void user_rec_free(json_t *j)
{
    json_t *s = json_object_get(j, "secret");
    if (json_is_string(s))
        OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
    json_decref(j);
}

/* Writes the user record {"secret","enabled"}. */
static int user_rec_put(struct kv_txn *t, const struct op *a, const char *secret, bool enabled)
{
    json_t *j = json_pack("{s:s, s:b}", "secret", secret, "enabled", enabled);
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    int err = TS_E_INTERNAL;

    json_decref(j);
    if (s != NULL) {
        err = a->kv->put(t, KV_USERS, a->name, s, strlen(s));
        enc_secret_free(s);
    }
    return err;
}

/* Reads the stored user record of a->name into *out (release with user_rec_free). */
static int user_rec_get(struct kv_txn *t, const struct op *a, json_t **out)
{
    const void *v;
    size_t n;
    int err = a->kv->get(t, KV_USERS, a->name, &v, &n);
    json_t *j = err == TS_OK ? json_loadb(v, n, 0, NULL) : NULL;

    if (err != TS_OK)
        return err;
    if (j != NULL && (!json_is_object(j) || !json_is_string(json_object_get(j, "secret")))) {
        json_decref(j);
        j = NULL;
    }
    *out = j;
    return j != NULL ? TS_OK : TS_E_INTERNAL;
}

/* Creates user a->name with secret a->value, enabled; an existing name is refused. */
static int user_add_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    int err = exists(t, a, KV_USERS, a->name);

    if (err == TS_E_NO_SUCH_ENTITY) /* one namespace of access keys with service accounts */
        err = exists(t, a, KV_SVCACCTS, a->name);
    if (err == TS_OK)
        return TS_E_ENTITY_EXISTS;
    return err == TS_E_NO_SUCH_ENTITY ? user_rec_put(t, a, a->value, true) : err;
}

int iam_user_add(struct iam_store *st, const char *name, const char *secret, const char **msg)
{
    struct op a = {.name = name, .value = secret};
    int err = user_args(st, name, secret, msg);
    return err != TS_OK ? err : run(st, true, user_add_body, &a);
}

/* Rewrites user a->name: with the secret a->value keeping the status, or (a->value NULL)
 * with the status a->flag keeping the secret. Sets the not-before time when the secret
 * changes or the user is disabled: the sessions obtained with the old secret end with it;
 * so do a disabled user's. */
static int user_update_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    json_t *j = NULL;
    int err = user_rec_get(t, a, &j);

    if (err == TS_OK) {
        bool enabled = a->value != NULL ? json_is_true(json_object_get(j, "enabled")) : a->flag;
        const char *secret = a->value;
        if (secret == NULL)
            secret = json_string_value(json_object_get(j, "secret"));
        err = user_rec_put(t, a, secret, enabled);
        if (err == TS_OK && (a->value != NULL || !enabled))
            err = put_nb(t, a, a->name, nb_now());
    }
    user_rec_free(j);
    return err;
}

int iam_user_set_secret(struct iam_store *st, const char *name, const char *secret,
                        const char **msg)
{
    struct op a = {.name = name, .value = secret};
    int err = user_args(st, name, secret, msg);
    return err != TS_OK ? err : run(st, true, user_update_body, &a);
}

int iam_user_set_enabled(struct iam_store *st, const char *name, bool enabled)
{
    struct op a = {.name = name, .flag = enabled};
    return key_ok(name) ? run(st, true, user_update_body, &a) : TS_E_NO_SUCH_ENTITY;
}

/* Reads user a->name into a->out (struct iam_user), left untouched on error. */
static int user_read_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    struct iam_user u = {0};
    json_t *j = NULL;
    int err = user_rec_get(t, a, &j);

    if (err == TS_OK) {
        u.name = strdup(a->name);
        u.secret = strdup(json_string_value(json_object_get(j, "secret")));
        u.enabled = json_is_true(json_object_get(j, "enabled"));
        if (u.name == NULL || u.secret == NULL)
            err = TS_E_INTERNAL;
    }
    if (err == TS_OK)
        err = get_nb(t, a, a->name, &u.not_before_ns);
    if (err == TS_OK)
        err = set_list(t, a, KV_ATT_USER, a->name, &u.policies);
    if (err == TS_OK)
        err = set_list(t, a, KV_UGROUPS, a->name, &u.groups);
    user_rec_free(j);
    if (err == TS_OK)
        *(struct iam_user *)a->out = u;
    else
        iam_user_cleanup(&u);
    return err;
}

static int strv_copy(const struct iam_strv *src, struct iam_strv *dst)
{
    memset(dst, 0, sizeof *dst);
    if (src->n == 0)
        return TS_OK;
    dst->v = calloc(src->n, sizeof *dst->v);
    if (dst->v == NULL)
        return TS_E_INTERNAL;
    for (; dst->n < src->n; dst->n++)
        if ((dst->v[dst->n] = strdup(src->v[dst->n])) == NULL) {
            iam_strv_free(dst);
            return TS_E_INTERNAL;
        }
    return TS_OK;
}

static int user_copy(const struct iam_user *src, struct iam_user *dst)
{
    memset(dst, 0, sizeof *dst);
    dst->name = strdup(src->name);
    dst->secret = strdup(src->secret);
    dst->enabled = src->enabled;
    dst->not_before_ns = src->not_before_ns;
    if (dst->name == NULL || dst->secret == NULL || strv_copy(&src->policies, &dst->policies) ||
        strv_copy(&src->groups, &dst->groups)) {
        iam_user_cleanup(dst);
        return TS_E_INTERNAL;
    }
    return TS_OK;
}

static size_t ucache_index(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h & (UCACHE_SLOTS - 1);
}

int iam_user_get(struct iam_store *st, const char *name, struct iam_user *out)
{
    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    size_t idx = ucache_index(name);
    uint64_t gen = iam_store_generation(st);
    pthread_mutex_t *mu = &st->ucache_mu[idx % UCACHE_STRIPES];
    struct ucache_slot *sl = &st->ucache[idx];
    struct op a = {.name = name, .out = out};
    struct iam_user copy;
    int err;

    pthread_mutex_lock(mu);
    if (gen != 0 && sl->gen == gen && strcmp(sl->u.name, name) == 0) {
        err = user_copy(&sl->u, out);
        pthread_mutex_unlock(mu);
        return err;
    }
    pthread_mutex_unlock(mu);
    /* Read, then keep it only if no change came in between (the generation read first
     * stands for the state the read saw or an older one; a newer read just misses). */
    err = run(st, false, user_read_body, &a);
    if (err != TS_OK || gen == 0 || iam_store_generation(st) != gen ||
        user_copy(out, &copy) != TS_OK)
        return err;
    pthread_mutex_lock(mu);
    iam_user_cleanup(&sl->u);
    sl->u = copy;
    sl->gen = gen;
    pthread_mutex_unlock(mu);
    return TS_OK;
}

static int svc_remove_of_parent(struct kv_txn *t, struct op *a, const char *ptype);

/* Removes user a->name, its group memberships, attachments and service accounts, and revokes
 * its sessions. */
static int user_remove_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    int err = a->kv->del(t, KV_USERS, a->name);

    if (err == TS_OK)
        err = set_list(t, a, KV_UGROUPS, a->name, &a->sv);
    for (size_t i = 0; err == TS_OK && i < a->sv.n; i++)
        err = absent_ok(a->kv->member_del(t, KV_GMEMBERS, a->sv.v[i], a->name));
    if (err == TS_OK)
        err = absent_ok(a->kv->del(t, KV_UGROUPS, a->name));
    if (err == TS_OK)
        err = absent_ok(a->kv->del(t, KV_ATT_USER, a->name));
    if (err == TS_OK)
        err = svc_remove_of_parent(t, a, "static");
    return err != TS_OK ? err : put_nb(t, a, a->name, nb_now());
}

int iam_user_remove(struct iam_store *st, const char *name)
{
    struct op a = {.name = name};
    int err = key_ok(name) ? run(st, true, user_remove_body, &a) : TS_E_NO_SUCH_ENTITY;
    iam_strv_free(&a.sv);
    iam_strv_free(&a.sv2);
    return err;
}

int iam_user_list(struct iam_store *st, struct iam_strv *out)
{
    return key_list(st, KV_USERS, out);
}

/* Sets the not-before time of a->name (of an existing user when a->flag). */
static int revoke_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    int err = a->flag ? exists(t, a, KV_USERS, a->name) : TS_OK;
    return err != TS_OK ? err : put_nb(t, a, a->name, a->i64);
}

int iam_user_revoke_sessions(struct iam_store *st, const char *name, int64_t nb_ns)
{
    struct op a = {.name = name, .flag = true, .i64 = nb_ns};
    return key_ok(name) ? run(st, true, revoke_body, &a) : TS_E_NO_SUCH_ENTITY;
}

static int parent_nb_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    return get_nb(t, a, a->name, &a->i64);
}

int iam_parent_not_before(struct iam_store *st, const char *parent, int64_t *nb_ns)
{
    struct op a = {.name = parent};

    if (!key_ok(parent)) {
        *nb_ns = 0;
        return TS_OK;
    }
    int err = run(st, false, parent_nb_body, &a);
    if (err == TS_OK)
        *nb_ns = a.i64;
    return err;
}

int iam_parent_revoke_sessions(struct iam_store *st, const char *parent, int64_t nb_ns)
{
    struct op a = {.name = parent, .i64 = nb_ns};
    return key_ok(parent) ? run(st, true, revoke_body, &a) : TS_E_INVALID_ARGUMENT;
}

/* ---- groups ---- */

static int group_rec_put(struct kv_txn *t, const struct op *a, bool enabled)
{
    const char *rec = enabled ? "{\"enabled\":true}" : "{\"enabled\":false}";
    return a->kv->put(t, KV_GROUPS, a->name, rec, strlen(rec));
}

/* Adds (each member must be a user) or removes the memberships of a->members in group
 * a->name, both directions; names too long for a key are skipped (adding refused them
 * before). Adding what is there and removing what is not are not errors. */
static int members_apply(struct kv_txn *t, const struct op *a, bool add)
{
    int err = TS_OK;
    for (size_t i = 0; err == TS_OK && i < a->n; i++) {
        const char *m = a->members[i];
        if (!key_ok(m))
            continue;
        if (add) {
            err = exists(t, a, KV_USERS, m);
            if (err == TS_OK)
                err = present_ok(a->kv->member_add(t, KV_GMEMBERS, a->name, m));
            if (err == TS_OK)
                err = present_ok(a->kv->member_add(t, KV_UGROUPS, m, a->name));
        } else {
            err = absent_ok(a->kv->member_del(t, KV_GMEMBERS, a->name, m));
            if (err == TS_OK)
                err = absent_ok(a->kv->member_del(t, KV_UGROUPS, m, a->name));
        }
    }
    return err;
}

static int group_add_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    int err = exists(t, a, KV_GROUPS, a->name);

    if (err == TS_E_NO_SUCH_ENTITY)
        err = group_rec_put(t, a, true);
    return err == TS_OK ? members_apply(t, a, true) : err;
}

int iam_group_add(struct iam_store *st, const char *group, const char *const *members, size_t n)
{
    struct op a = {.name = group, .members = members, .n = n};

    if (!group_name_ok(group))
        return TS_E_INVALID_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (!key_ok(members[i]))
            return TS_E_NO_SUCH_ENTITY;
    return run(st, true, group_add_body, &a);
}

/* kv_each_fn that stops a walk at its first entry. */
static int stop_at_first(const char *key, const void *val, size_t vlen, void *arg)
{
    return TS_E_GROUP_NOT_EMPTY;
}

static int group_remove_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    int err = exists(t, a, KV_GROUPS, a->name);

    if (err != TS_OK)
        return err;
    if (a->n > 0)
        return members_apply(t, a, false);
    err = a->kv->each(t, KV_GMEMBERS, a->name, stop_at_first, NULL);
    if (err == TS_OK)
        err = a->kv->del(t, KV_GROUPS, a->name);
    return err == TS_OK ? absent_ok(a->kv->del(t, KV_ATT_GROUP, a->name)) : err;
}

int iam_group_remove(struct iam_store *st, const char *group, const char *const *members, size_t n)
{
    struct op a = {.name = group, .members = members, .n = n};
    return key_ok(group) ? run(st, true, group_remove_body, &a) : TS_E_NO_SUCH_ENTITY;
}

/* Reads group a->name into a->out (struct iam_group), left untouched on error. */
static int group_get_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    struct iam_group g = {0};
    const void *v;
    size_t n;
    int err = a->kv->get(t, KV_GROUPS, a->name, &v, &n);

    if (err == TS_OK) {
        g.enabled = memmem(v, n, "true", 4) != NULL;
        g.name = strdup(a->name);
        if (g.name == NULL)
            err = TS_E_INTERNAL;
    }
    if (err == TS_OK)
        err = set_list(t, a, KV_GMEMBERS, a->name, &g.members);
    if (err == TS_OK)
        err = set_list(t, a, KV_ATT_GROUP, a->name, &g.policies);
    if (err == TS_OK)
        *(struct iam_group *)a->out = g;
    else
        iam_group_cleanup(&g);
    return err;
}

int iam_group_get(struct iam_store *st, const char *group, struct iam_group *out)
{
    struct op a = {.name = group, .out = out};
    return key_ok(group) ? run(st, false, group_get_body, &a) : TS_E_NO_SUCH_ENTITY;
}

int iam_group_list(struct iam_store *st, struct iam_strv *out)
{
    return key_list(st, KV_GROUPS, out);
}

static int group_enable_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    int err = exists(t, a, KV_GROUPS, a->name);
    return err != TS_OK ? err : group_rec_put(t, a, a->flag);
}

int iam_group_set_enabled(struct iam_store *st, const char *group, bool enabled)
{
    struct op a = {.name = group, .flag = enabled};
    return key_ok(group) ? run(st, true, group_enable_body, &a) : TS_E_NO_SUCH_ENTITY;
}

/* ---- policies ---- */

/* Writes a->value (a text) under a->name in table a->tb. */
static int text_put_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    return a->kv->put(t, a->tb, a->name, a->value, strlen(a->value));
}

int iam_policy_put(struct iam_store *st, const char *name, const char *json)
{
    struct op a = {.name = name, .value = json, .tb = KV_POLICIES};
    if (!policy_name_ok(name) || json == NULL)
        return TS_E_INVALID_ARGUMENT;
    return run(st, true, text_put_body, &a);
}

static int policy_get_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    const void *v;
    size_t n;
    int err = a->kv->get(t, KV_POLICIES, a->name, &v, &n);
    return err != TS_OK ? err : value_copy(v, n, a);
}

int iam_policy_get(struct iam_store *st, const char *name, char **json)
{
    struct op a = {.name = name};

    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    int err = run(st, false, policy_get_body, &a);
    if (err == TS_OK)
        *json = a.copy;
    return err;
}

/* kv_each_fn: TS_E_POLICY_IN_USE (ending the walk) when the member is the policy arg. */
static int is_policy(const char *key, const void *val, size_t vlen, void *arg)
{
    const char *policy = arg;
    return vlen == strlen(policy) && memcmp(val, policy, vlen) == 0 ? TS_E_POLICY_IN_USE : TS_OK;
}

/* Removes policy a->name unless it is attached to any target of any kind (a full walk:
 * attachments are few). */
static int policy_remove_body(struct kv_txn *t, void *arg)
{
    static const enum kv_table att[] = {KV_ATT_USER, KV_ATT_GROUP, KV_ATT_DN, KV_ATT_ROLE};
    struct op *a = arg;
    int err = exists(t, a, KV_POLICIES, a->name);

    for (size_t i = 0; err == TS_OK && i < sizeof att / sizeof att[0]; i++)
        err = a->kv->each(t, att[i], NULL, is_policy, (void *)a->name);
    return err != TS_OK ? err : a->kv->del(t, KV_POLICIES, a->name);
}

int iam_policy_remove(struct iam_store *st, const char *name)
{
    struct op a = {.name = name};
    return key_ok(name) ? run(st, true, policy_remove_body, &a) : TS_E_NO_SUCH_ENTITY;
}

int iam_policy_list(struct iam_store *st, struct iam_strv *out)
{
    return key_list(st, KV_POLICIES, out);
}

/* ---- attachments ---- */

static enum kv_table att_table(enum iam_target kind)
{
    switch (kind) {
    case IAM_TARGET_USER:
        return KV_ATT_USER;
    case IAM_TARGET_GROUP:
        return KV_ATT_GROUP;
    case IAM_TARGET_DN:
        return KV_ATT_DN;
    case IAM_TARGET_ROLE:
        return KV_ATT_ROLE;
    }
    return KV_TABLE_COUNT;
}

/* Attaches policy a->value to a->name in a->tb (when a->flag, an existing user or group). */
static int attach_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    enum kv_table owner = a->tb == KV_ATT_USER ? KV_USERS : KV_GROUPS;
    int err = a->flag ? exists(t, a, owner, a->name) : TS_OK;
    return err != TS_OK ? err : present_ok(a->kv->member_add(t, a->tb, a->name, a->value));
}

int iam_attach(struct iam_store *st, enum iam_target kind, const char *target, const char *policy)
{
    bool checked = kind == IAM_TARGET_USER || kind == IAM_TARGET_GROUP;
    struct op a = {.name = target, .value = policy, .tb = att_table(kind), .flag = checked};

    if (a.tb == KV_TABLE_COUNT || !policy_name_ok(policy))
        return TS_E_INVALID_ARGUMENT;
    if (!key_ok(target))
        return checked ? TS_E_NO_SUCH_ENTITY : TS_E_INVALID_ARGUMENT;
    return run(st, true, attach_body, &a);
}

static int detach_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    return a->kv->member_del(t, a->tb, a->name, a->value);
}

int iam_detach(struct iam_store *st, enum iam_target kind, const char *target, const char *policy)
{
    struct op a = {.name = target, .value = policy, .tb = att_table(kind)};

    if (a.tb == KV_TABLE_COUNT)
        return TS_E_INVALID_ARGUMENT;
    if (!key_ok(target) || !key_ok(policy))
        return TS_E_NO_SUCH_ENTITY;
    return run(st, true, detach_body, &a);
}

static int attached_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    return set_list(t, a, a->tb, a->name, &a->sv);
}

int iam_attached(struct iam_store *st, enum iam_target kind, const char *target,
                 struct iam_strv *out)
{
    struct op a = {.name = target, .tb = att_table(kind)};

    if (a.tb == KV_TABLE_COUNT)
        return TS_E_INVALID_ARGUMENT;
    if (!key_ok(target)) {
        *out = a.sv;
        return TS_OK;
    }
    return read_list(st, attached_body, &a, out);
}

/* ---- revoked keys ---- */

/* An expiry as stored (int64 seconds): false when malformed. */
static bool expiry_get(const void *val, size_t vlen, int64_t *exp)
{
    if (vlen != sizeof *exp)
        return false;
    memcpy(exp, val, sizeof *exp);
    return true;
}

/* kv_each_fn collecting into arg (a struct op: sv) the revocations expired at a->now. */
static int collect_expired(const char *key, const void *val, size_t vlen, void *arg)
{
    struct op *a = arg;
    int64_t exp;
    if (expiry_get(val, vlen, &exp) && exp > a->now)
        return TS_OK;
    return strv_push(&a->sv, key, strlen(key));
}

/* Deletes revocations whose expiry has passed, then revokes a->name until a->i64. */
static int revoke_key_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    int err;

    iam_strv_free(&a->sv);
    a->now = (int64_t)time(NULL);
    err = a->kv->each(t, KV_REVOKED, NULL, collect_expired, a);
    for (size_t i = 0; err == TS_OK && i < a->sv.n; i++)
        err = absent_ok(a->kv->del(t, KV_REVOKED, a->sv.v[i]));
    return err != TS_OK ? err : put_i64(t, a, KV_REVOKED, a->name, a->i64);
}

int iam_revoke_key(struct iam_store *st, const char *access_key, time_t expires)
{
    struct op a = {.name = access_key, .i64 = (int64_t)expires};
    int err = key_ok(access_key) ? run(st, true, revoke_key_body, &a) : TS_E_INVALID_ARGUMENT;
    iam_strv_free(&a.sv);
    return err;
}

static int key_revoked_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    const void *v;
    size_t n;
    int64_t exp = 0;

    a->flag = false;
    if (a->kv->get(t, KV_REVOKED, a->name, &v, &n) == TS_OK && expiry_get(v, n, &exp))
        a->flag = exp > (int64_t)time(NULL);
    return TS_OK;
}

bool iam_key_revoked(struct iam_store *st, const char *access_key)
{
    struct op a = {.name = access_key};

    if (!key_ok(access_key) || run(st, false, key_revoked_body, &a) != TS_OK)
        return false;
    return a.flag;
}

/* ---- blobs ---- */

/* The version of blob name: 0 when absent, the stored one, or 1 for a blob stored before
 * versions. */
static int blob_version(struct kv_txn *t, const struct op *a, uint64_t *ver)
{
    const void *v;
    size_t n;
    int err = exists(t, a, KV_BLOBS, a->name);

    *ver = 0;
    if (err != TS_OK)
        return absent_ok(err);
    err = a->kv->get(t, KV_BLOBVER, a->name, &v, &n);
    *ver = 1;
    if (err != TS_OK)
        return absent_ok(err);
    if (n != sizeof *ver)
        return TS_E_INTERNAL;
    memcpy(ver, v, sizeof *ver);
    return TS_OK;
}

/* Writes the blob with the next version, when a->flag only over version a->version. */
static int blob_put_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    uint64_t cur;
    int err = blob_version(t, a, &cur);

    if (err != TS_OK)
        return err;
    if (a->flag && cur != a->version)
        return TS_E_PRECONDITION_FAILED;
    err = a->kv->put(t, KV_BLOBS, a->name, a->data, a->len);
    cur++;
    return err != TS_OK ? err : a->kv->put(t, KV_BLOBVER, a->name, &cur, sizeof cur);
}

int iam_blob_put(struct iam_store *st, const char *name, const void *data, size_t len)
{
    struct op a = {.name = name, .data = data, .len = len};
    if (!key_ok(name) || (data == NULL && len > 0))
        return TS_E_INVALID_ARGUMENT;
    return run(st, true, blob_put_body, &a);
}

int iam_blob_cas(struct iam_store *st, const char *name, uint64_t expected, const void *data,
                 size_t len)
{
    struct op a = {.name = name, .data = data, .len = len, .flag = true, .version = expected};
    if (!key_ok(name) || (data == NULL && len > 0))
        return TS_E_INVALID_ARGUMENT;
    return run(st, true, blob_put_body, &a);
}

static int blob_get_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    const void *v;
    size_t n;
    int err = a->kv->get(t, KV_BLOBS, a->name, &v, &n);
    if (err == TS_OK)
        err = value_copy(v, n, a);
    return err != TS_OK ? err : blob_version(t, a, &a->version);
}

int iam_blob_get(struct iam_store *st, const char *name, void **data, size_t *len,
                 uint64_t *version)
{
    struct op a = {.name = name};

    if (version != NULL)
        *version = 0;
    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    int err = run(st, false, blob_get_body, &a);
    if (err != TS_OK) {
        free(a.copy);
        return err;
    }
    *data = a.copy;
    *len = a.copylen;
    if (version != NULL)
        *version = a.version;
    return TS_OK;
}

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

/* ---- nodes ---- */

int iam_node_put(struct iam_store *st, const char *id, const char *json)
{
    struct op a = {.name = id, .value = json, .tb = KV_NODES};
    if (!key_ok(id) || json == NULL)
        return TS_E_INVALID_ARGUMENT;
    return run(st, true, text_put_body, &a);
}

/* kv_each_fn collecting (id, record) into arg (a struct op: sv, sv2). */
static int collect_node(const char *key, const void *val, size_t vlen, void *arg)
{
    struct op *a = arg;
    int err = strv_push(&a->sv, key, strlen(key));
    return err != TS_OK ? err : strv_push(&a->sv2, val, vlen);
}

static int node_list_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    iam_strv_free(&a->sv);
    iam_strv_free(&a->sv2);
    return a->kv->each(t, KV_NODES, NULL, collect_node, a);
}

int iam_node_list(struct iam_store *st, struct iam_strv *ids, struct iam_strv *records)
{
    struct op a = {0};
    int err = run(st, false, node_list_body, &a);

    if (err != TS_OK) {
        iam_strv_free(&a.sv);
        iam_strv_free(&a.sv2);
        return err;
    }
    *ids = a.sv;
    *records = a.sv2;
    return TS_OK;
}

static int node_remove_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    return a->kv->del(t, KV_NODES, a->name);
}

int iam_node_remove(struct iam_store *st, const char *id)
{
    struct op a = {.name = id};
    return key_ok(id) ? run(st, true, node_remove_body, &a) : TS_E_NO_SUCH_ENTITY;
}

/* ---- service accounts ---- */

#define SVC_NAME_MAX 32
#define SVC_DESC_MAX 256

static bool text_ok(const char *s, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return n <= max;
}

/* NULL when s may be stored, else the problem. */
static const char *svc_check(const struct iam_store *st, const struct iam_svcacct *s)
{
    const char *why = check_user_name(s->access_key);
    if (why != NULL)
        return "access key must be 3 to 128 letters, digits or _ . @ = + -";
    if (st->reserved != NULL && strcmp(s->access_key, st->reserved) == 0)
        return "access key is reserved for the root user";
    if (!key_ok(s->parent) || s->parent_type == NULL ||
        (strcmp(s->parent_type, "static") != 0 && strcmp(s->parent_type, "ldap") != 0 &&
         strcmp(s->parent_type, "oidc") != 0))
        return "parent must be a static user, an LDAP DN or an OpenID subject";
    if (s->sealed_secret == NULL || s->sealed_secret[0] == '\0')
        return "sealed secret missing";
    if (!text_ok(s->name, SVC_NAME_MAX))
        return "name must be at most 32 characters, without control characters";
    if (!text_ok(s->description, SVC_DESC_MAX))
        return "description must be at most 256 characters, without control characters";
    if (s->expiration < 0)
        return "expiration must be in the future";
    return NULL;
}

static json_t *strv_json(const struct iam_strv *sv)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < sv->n; i++)
        if (json_array_append_new(a, json_string(sv->v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static int set_opt_str(json_t *o, const char *k, const char *v)
{
    return v == NULL ? 0 : json_object_set_new(o, k, json_string(v));
}

/* The record of s (compact JSON, malloc'ed) or NULL (OOM, or claims not a JSON object). */
static char *svc_encode(const struct iam_svcacct *s)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o*, s:o*, s:I, s:I, s:b}", "parent", s->parent,
                          "ptype", s->parent_type, "secret", s->sealed_secret, "ppol",
                          strv_json(&s->parent_policies), "pgrp", strv_json(&s->parent_groups),
                          "exp", (json_int_t)s->expiration, "created", (json_int_t)s->created_ns,
                          "enabled", s->enabled);
    json_t *cl = s->claims != NULL ? json_loads(s->claims, JSON_REJECT_DUPLICATES, NULL) : NULL;
    char *text = NULL;
    int bad = o == NULL || (s->claims != NULL && !json_is_object(cl));

    bad |= o != NULL && (set_opt_str(o, "policy", s->policy) | set_opt_str(o, "name", s->name) |
                         set_opt_str(o, "desc", s->description));
    if (!bad && cl != NULL)
        bad = json_object_set(o, "claims", cl);
    if (!bad)
        text = json_dumps(o, JSON_COMPACT);
    json_decref(cl);
    json_decref(o);
    return text;
}

static int strv_from_json(json_t *arr, struct iam_strv *out)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        if (!json_is_string(e) || strv_push(out, json_string_value(e), json_string_length(e)))
            return TS_E_INTERNAL;
    }
    return TS_OK;
}

static char *opt_dup(json_t *o, const char *k, int *bad)
{
    json_t *v = json_object_get(o, k);
    char *d;
    if (v == NULL)
        return NULL;
    if (!json_is_string(v) || (d = strdup(json_string_value(v))) == NULL) {
        *bad = 1;
        return NULL;
    }
    return d;
}

/* Decodes the record (v, n) of access key ak into *out (zeroed first). */
static int svc_decode(const char *ak, const void *v, size_t n, struct iam_svcacct *out)
{
    json_t *o = json_loadb(v, n, 0, NULL), *cl = json_object_get(o, "claims");
    int bad = !json_is_object(o) || !json_is_integer(json_object_get(o, "exp")) ||
              !json_is_integer(json_object_get(o, "created"));

    memset(out, 0, sizeof *out);
    if (!bad) {
        out->access_key = strdup(ak);
        out->parent = opt_dup(o, "parent", &bad);
        out->parent_type = opt_dup(o, "ptype", &bad);
        out->sealed_secret = opt_dup(o, "secret", &bad);
        out->policy = opt_dup(o, "policy", &bad);
        out->name = opt_dup(o, "name", &bad);
        out->description = opt_dup(o, "desc", &bad);
        out->claims = json_is_object(cl) ? json_dumps(cl, JSON_COMPACT) : NULL;
        out->expiration = json_integer_value(json_object_get(o, "exp"));
        out->created_ns = json_integer_value(json_object_get(o, "created"));
        out->enabled = json_is_true(json_object_get(o, "enabled"));
        bad |= out->access_key == NULL || out->parent == NULL || out->parent_type == NULL ||
               out->sealed_secret == NULL || (cl != NULL && out->claims == NULL);
        bad |= strv_from_json(json_object_get(o, "ppol"), &out->parent_policies) != TS_OK;
        bad |= strv_from_json(json_object_get(o, "pgrp"), &out->parent_groups) != TS_OK;
    }
    json_decref(o);
    if (bad)
        iam_svcacct_cleanup(out);
    return bad ? TS_E_INTERNAL : TS_OK;
}

static int svc_put(struct kv_txn *t, const struct op *a, const struct iam_svcacct *s)
{
    char *text = svc_encode(s);
    int err = text != NULL ? a->kv->put(t, KV_SVCACCTS, s->access_key, text, strlen(text))
                           : TS_E_INTERNAL;
    enc_secret_free(text);
    return err;
}

static int svc_read(struct kv_txn *t, const struct op *a, const char *ak, struct iam_svcacct *s)
{
    const void *v;
    size_t n;
    int err = a->kv->get(t, KV_SVCACCTS, ak, &v, &n);
    memset(s, 0, sizeof *s); /* always safe to clean up */
    return err != TS_OK ? err : svc_decode(ak, v, n, s);
}

static int svc_add_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    const struct iam_svcacct *s = a->out;
    int err = exists(t, a, KV_USERS, s->access_key);

    if (err == TS_E_NO_SUCH_ENTITY)
        err = exists(t, a, KV_SVCACCTS, s->access_key);
    if (err == TS_OK)
        return TS_E_ENTITY_EXISTS;
    if (err != TS_E_NO_SUCH_ENTITY)
        return err;
    if (strcmp(s->parent_type, "static") == 0 && (err = exists(t, a, KV_USERS, s->parent)) != TS_OK)
        return err;
    err = svc_put(t, a, s);
    return err != TS_OK ? err
                        : present_ok(a->kv->member_add(t, KV_SVCPARENT, s->parent, s->access_key));
}

int iam_svcacct_add(struct iam_store *st, const struct iam_svcacct *s, const char **msg)
{
    struct op a = {.out = (void *)s};
    const char *why = svc_check(st, s);

    if (why != NULL) {
        if (msg != NULL)
            *msg = why;
        return TS_E_INVALID_ARGUMENT;
    }
    return run(st, true, svc_add_body, &a);
}

static int svc_get_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    struct iam_svcacct s;
    int err = svc_read(t, a, a->name, &s);
    if (err != TS_OK)
        iam_svcacct_cleanup(&s);
    if (err == TS_OK) {
        iam_svcacct_cleanup(a->out);
        *(struct iam_svcacct *)a->out = s;
    }
    return err;
}

int iam_svcacct_get(struct iam_store *st, const char *access_key, struct iam_svcacct *out)
{
    struct iam_svcacct s = {0};
    struct op a = {.name = access_key, .out = &s};
    int err = key_ok(access_key) ? run(st, false, svc_get_body, &a) : TS_E_NO_SUCH_ENTITY;
    if (err == TS_OK)
        *out = s;
    return err;
}

/* Moves the identity fields (access key, parent, parent type) of from into to, freeing
 * to's: an edit cannot change them. */
static void svc_identity_move(struct iam_svcacct *to, struct iam_svcacct *from)
{
    free(to->access_key);
    free(to->parent);
    free(to->parent_type);
    to->access_key = from->access_key;
    to->parent = from->parent;
    to->parent_type = from->parent_type;
    from->access_key = from->parent = from->parent_type = NULL;
}

static int svc_update_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    struct iam_svcacct s, keep = {0};
    int err = svc_read(t, a, a->name, &s);

    a->msg = NULL;
    if (err == TS_OK) {
        keep.access_key = strdup(s.access_key);
        keep.parent = strdup(s.parent);
        keep.parent_type = strdup(s.parent_type);
        if (keep.access_key == NULL || keep.parent == NULL || keep.parent_type == NULL)
            err = TS_E_INTERNAL;
    }
    if (err == TS_OK)
        err = a->edit(&s, a->edit_arg, &a->msg);
    if (err == TS_OK) {
        svc_identity_move(&s, &keep);
        a->msg = svc_check(a->out, &s);
        err = a->msg != NULL ? TS_E_INVALID_ARGUMENT : svc_put(t, a, &s);
    }
    iam_svcacct_cleanup(&s);
    iam_svcacct_cleanup(&keep);
    return err;
}

int iam_svcacct_update(struct iam_store *st, const char *access_key, iam_svcacct_edit_fn edit,
                       void *arg, const char **msg)
{
    struct op a = {.name = access_key, .edit = edit, .edit_arg = arg, .out = st};
    int err = key_ok(access_key) ? run(st, true, svc_update_body, &a) : TS_E_NO_SUCH_ENTITY;
    if (err == TS_E_INVALID_ARGUMENT && msg != NULL)
        *msg = a.msg;
    return err;
}

/* Deletes service account ak and its index entry. */
static int svc_delete(struct kv_txn *t, const struct op *a, const char *ak)
{
    struct iam_svcacct s;
    int err = svc_read(t, a, ak, &s);

    if (err == TS_OK)
        err = a->kv->del(t, KV_SVCACCTS, ak);
    if (err == TS_OK)
        err = absent_ok(a->kv->member_del(t, KV_SVCPARENT, s.parent, ak));
    iam_svcacct_cleanup(&s);
    return err;
}

static int svc_remove_body(struct kv_txn *t, void *arg)
{
    return svc_delete(t, arg, ((struct op *)arg)->name);
}

int iam_svcacct_remove(struct iam_store *st, const char *access_key)
{
    struct op a = {.name = access_key};
    return key_ok(access_key) ? run(st, true, svc_remove_body, &a) : TS_E_NO_SUCH_ENTITY;
}

/* Removes the service accounts of parent a->name of type ptype (user removal). */
static int svc_remove_of_parent(struct kv_txn *t, struct op *a, const char *ptype)
{
    int err = set_list(t, a, KV_SVCPARENT, a->name, &a->sv2);

    for (size_t i = 0; err == TS_OK && i < a->sv2.n; i++) {
        struct iam_svcacct s;
        err = absent_ok(svc_read(t, a, a->sv2.v[i], &s));
        if (err == TS_OK && s.parent_type != NULL && strcmp(s.parent_type, ptype) == 0)
            err = svc_delete(t, a, a->sv2.v[i]);
        iam_svcacct_cleanup(&s);
    }
    return err;
}

static int svc_list_body(struct kv_txn *t, void *arg)
{
    struct op *a = arg;
    iam_strv_free(&a->sv);
    if (a->name == NULL)
        return a->kv->each(t, KV_SVCACCTS, NULL, collect_key, &a->sv);
    return set_list(t, a, KV_SVCPARENT, a->name, &a->sv);
}

int iam_svcacct_list(struct iam_store *st, const char *parent, struct iam_strv *out)
{
    struct op a = {.name = parent};
    if (parent != NULL && !key_ok(parent)) {
        memset(out, 0, sizeof *out);
        return TS_OK;
    }
    return read_list(st, svc_list_body, &a, out);
}

void iam_svcacct_cleanup(struct iam_svcacct *s)
{
    if (s == NULL)
        return;
    free(s->access_key);
    free(s->parent);
    free(s->parent_type);
    enc_secret_free(s->sealed_secret);
    free(s->policy);
    free(s->name);
    free(s->description);
    free(s->claims);
    iam_strv_free(&s->parent_policies);
    iam_strv_free(&s->parent_groups);
    memset(s, 0, sizeof *s);
}

/* ---- cleanup of returned records ---- */

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
