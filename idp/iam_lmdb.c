/* iam_lmdb.c -- the local IAM store (idp/iam.h) over one LMDB environment.
 *
 * Layout: named databases in one environment (DATA_DIR/.tessera/iam, docs/ARCHITECTURE.md):
 *
 *   users      name -> {"secret":..,"enabled":bool}       (compact JSON)
 *   groups     name -> {"enabled":bool}
 *   gmembers   group -> user        (DUPSORT: the members, sorted)
 *   ugroups    user -> group        (DUPSORT: reverse index for iam_user_get().groups)
 *   policies   name -> policy JSON text
 *   att_user, att_group, att_dn, att_role   target -> policy   (DUPSORT)
 *   notbefore  parent -> int64 seconds (host order)
 *   revoked    access key -> int64 expiry (host order)
 *   blobs      name -> bytes
 *
 * Every mutation is one write transaction with LMDB's default durability (no MDB_NOSYNC);
 * LMDB serialises writers, and readers never block (MVCC). The environment is opened with
 * MDB_NOTLS so read transactions are not bound to threads: finished read transactions are
 * reset and kept in a small pool, then renewed by the next reader on any thread (cheaper than
 * begin/abort each time).
 *
 * Thread-safety: env, the dbi handles and reserved are immutable after iam_store_open /
 * iam_store_set_reserved; gen is atomic; the read-transaction pool is guarded by pool_mu.
 */
#include "idp/iam.h"

#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/log.h"

#define IAM_MAP_SIZE ((size_t)1 << 30) /* virtual; the file grows as needed */
#define IAM_POOL_MAX 16
#define IAM_KEY_MAX 511 /* LMDB's default maximum key (and DUPSORT value) size */
#define IAM_NAME_MAX 128

enum iam_dbi {
    DB_USERS,
    DB_GROUPS,
    DB_GMEMBERS,
    DB_UGROUPS,
    DB_POLICIES,
    DB_ATT_USER,
    DB_ATT_GROUP,
    DB_ATT_DN,
    DB_ATT_ROLE,
    DB_NOTBEFORE,
    DB_REVOKED,
    DB_BLOBS,
    DB_COUNT
};

static const struct {
    const char *name;
    unsigned flags;
} iam_dbs[DB_COUNT] = {
    [DB_USERS] = {"users", 0},
    [DB_GROUPS] = {"groups", 0},
    [DB_GMEMBERS] = {"gmembers", MDB_DUPSORT},
    [DB_UGROUPS] = {"ugroups", MDB_DUPSORT},
    [DB_POLICIES] = {"policies", 0},
    [DB_ATT_USER] = {"att_user", MDB_DUPSORT},
    [DB_ATT_GROUP] = {"att_group", MDB_DUPSORT},
    [DB_ATT_DN] = {"att_dn", MDB_DUPSORT},
    [DB_ATT_ROLE] = {"att_role", MDB_DUPSORT},
    [DB_NOTBEFORE] = {"notbefore", 0},
    [DB_REVOKED] = {"revoked", 0},
    [DB_BLOBS] = {"blobs", 0},
};

/* Users read by iam_user_get, cached by name (a direct-mapped table) and valid while the
 * environment's last committed transaction id is the one they were read at: any commit, by
 * this process or another one sharing the store, makes every entry stale. Every request signed
 * with static credentials reads its user; this spares it the record's JSON parse and the three
 * lookups. */
#define UCACHE_SLOTS 256
#define UCACHE_STRIPES 16
struct ucache_slot {
    size_t txnid; /* 0: empty */
    struct iam_user u;
};

struct iam_store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    char *reserved; /* root user name, or NULL */
    _Atomic uint64_t gen;
    pthread_mutex_t pool_mu;
    MDB_txn *pool[IAM_POOL_MAX];
    size_t npool;
    pthread_mutex_t ucache_mu[UCACHE_STRIPES];
    struct ucache_slot ucache[UCACHE_SLOTS];
};

/* ---- small helpers ---- */

static MDB_val mval(const char *s)
{
    MDB_val v = {strlen(s), (void *)s};
    return v;
}

/* Maps an LMDB return code to a ts_err, logging unexpected ones. */
static int map_rc(int rc, const char *what)
{
    if (rc == 0)
        return TS_OK;
    if (rc == MDB_NOTFOUND)
        return TS_E_NO_SUCH_ENTITY;
    if (rc == MDB_KEYEXIST)
        return TS_E_ENTITY_EXISTS;
    if (rc == MDB_BAD_VALSIZE)
        return TS_E_INVALID_ARGUMENT;
    if (rc == MDB_MAP_FULL)
        return TS_E_STORAGE_FULL;
    log_event(LOG_ERROR, "iam_store", "%s: %s", what, mdb_strerror(rc));
    return TS_E_INTERNAL;
}

static bool key_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= IAM_KEY_MAX;
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

/* ---- transactions ---- */

static int rd_begin(struct iam_store *st, MDB_txn **out)
{
    MDB_txn *t = NULL;
    int rc;

    pthread_mutex_lock(&st->pool_mu);
    if (st->npool > 0)
        t = st->pool[--st->npool];
    pthread_mutex_unlock(&st->pool_mu);
    if (t != NULL) {
        rc = mdb_txn_renew(t);
        if (rc == 0) {
            *out = t;
            return TS_OK;
        }
        mdb_txn_abort(t);
    }
    rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &t);
    if (rc != 0)
        return map_rc(rc, "read txn");
    *out = t;
    return TS_OK;
}

static void rd_end(struct iam_store *st, MDB_txn *t)
{
    if (t == NULL)
        return;
    mdb_txn_reset(t);
    pthread_mutex_lock(&st->pool_mu);
    if (st->npool < IAM_POOL_MAX) {
        st->pool[st->npool++] = t;
        t = NULL;
    }
    pthread_mutex_unlock(&st->pool_mu);
    if (t != NULL)
        mdb_txn_abort(t);
}

static int wr_begin(struct iam_store *st, MDB_txn **out)
{
    int rc = mdb_txn_begin(st->env, NULL, 0, out);
    return rc == 0 ? TS_OK : map_rc(rc, "write txn");
}

/* Commits t (always consumed) and bumps the generation on success. */
static int wr_commit(struct iam_store *st, MDB_txn *t)
{
    int rc = mdb_txn_commit(t);
    if (rc != 0)
        return map_rc(rc, "commit");
    atomic_fetch_add(&st->gen, 1);
    return TS_OK;
}

/* Collects every duplicate value of key in a DUPSORT db (empty when absent). */
static int dup_list(struct iam_store *st, MDB_txn *t, enum iam_dbi db, const char *key,
                    struct iam_strv *out)
{
    MDB_cursor *c = NULL;
    MDB_val k = mval(key), v;
    int rc, err = TS_OK;

    rc = mdb_cursor_open(t, st->dbi[db], &c);
    if (rc != 0)
        return map_rc(rc, "cursor");
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
    while (rc == 0) {
        err = strv_push(out, v.mv_data, v.mv_size);
        if (err != TS_OK)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP);
    }
    if (err == TS_OK && rc != MDB_NOTFOUND)
        err = map_rc(rc, "cursor");
    mdb_cursor_close(c);
    return err;
}

/* Collects every key of a non-DUPSORT db (or distinct keys of a DUPSORT one). */
static int key_list(struct iam_store *st, enum iam_dbi db, struct iam_strv *out)
{
    struct iam_strv sv = {0};
    MDB_txn *t = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc, err;

    err = rd_begin(st, &t);
    if (err != TS_OK)
        return err;
    rc = mdb_cursor_open(t, st->dbi[db], &c);
    if (rc != 0) {
        err = map_rc(rc, "cursor");
        goto out;
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        err = strv_push(&sv, k.mv_data, k.mv_size);
        if (err != TS_OK)
            goto out;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_NODUP);
    }
    if (rc != MDB_NOTFOUND) {
        err = map_rc(rc, "cursor");
        goto out;
    }
    *out = sv;
    sv.v = NULL;
    sv.n = 0;
    err = TS_OK;
out:
    if (c != NULL)
        mdb_cursor_close(c);
    rd_end(st, t);
    iam_strv_free(&sv);
    return err;
}

static int put_i64(struct iam_store *st, MDB_txn *t, enum iam_dbi db, const char *key, int64_t x)
{
    MDB_val k = mval(key), v = {sizeof(x), &x};
    int rc = mdb_put(t, st->dbi[db], &k, &v, 0);
    return map_rc(rc, "put");
}

static int get_i64(MDB_val *v, int64_t *x)
{
    if (v->mv_size != sizeof(*x))
        return TS_E_INTERNAL;
    memcpy(x, v->mv_data, sizeof(*x));
    return TS_OK;
}

/* Whether key exists in db. */
static int exists(struct iam_store *st, MDB_txn *t, enum iam_dbi db, const char *key)
{
    MDB_val k = mval(key), v;
    return map_rc(mdb_get(t, st->dbi[db], &k, &v), "get");
}

/* ---- open / close ---- */

static int mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    int rc = 0;

    if (p == NULL)
        return -1;
    for (char *s = p + 1; *s != '\0'; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
        if (rc != 0)
            break;
    }
    if (rc == 0 && mkdir(p, 0700) != 0 && errno != EEXIST)
        rc = -1;
    free(p);
    return rc;
}

int iam_store_open(const char *dir, struct iam_store **out)
{
    struct iam_store *st = NULL;
    MDB_txn *t = NULL;
    int rc;

    if (mkdir_p(dir) != 0) {
        fprintf(stderr, "tessera: iam store: cannot create %s: %s\n", dir, strerror(errno));
        return TS_E_INTERNAL;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return TS_E_INTERNAL;
    pthread_mutex_init(&st->pool_mu, NULL);
    for (int i = 0; i < UCACHE_STRIPES; i++)
        pthread_mutex_init(&st->ucache_mu[i], NULL);
    atomic_init(&st->gen, 1);
    rc = mdb_env_create(&st->env);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_env_set_maxdbs(st->env, DB_COUNT + 4)) != 0 ||
        (rc = mdb_env_set_mapsize(st->env, IAM_MAP_SIZE)) != 0 ||
        (rc = mdb_env_set_maxreaders(st->env, 256)) != 0)
        goto fail;
    rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600);
    if (rc != 0)
        goto fail;
    rc = mdb_txn_begin(st->env, NULL, 0, &t);
    if (rc != 0)
        goto fail;
    for (int i = 0; i < DB_COUNT; i++) {
        rc = mdb_dbi_open(t, iam_dbs[i].name, iam_dbs[i].flags | MDB_CREATE, &st->dbi[i]);
        if (rc != 0)
            goto fail;
    }
    rc = mdb_txn_commit(t);
    t = NULL;
    if (rc != 0)
        goto fail;
    *out = st;
    return TS_OK;
fail:
    fprintf(stderr, "tessera: iam store %s: %s\n", dir, mdb_strerror(rc));
    if (t != NULL)
        mdb_txn_abort(t);
    iam_store_close(st);
    return TS_E_INTERNAL;
}

void iam_store_close(struct iam_store *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->npool; i++)
        mdb_txn_abort(st->pool[i]);
    if (st->env != NULL)
        mdb_env_close(st->env);
    pthread_mutex_destroy(&st->pool_mu);
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
    return atomic_load(&st->gen);
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

/* ---- users ---- */

/* Releases a user record after wiping jansson's copy of the secret. NULL is a no-op. */
static void user_rec_free(json_t *j)
{
    json_t *s = json_object_get(j, "secret");
    if (json_is_string(s))
        OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
    json_decref(j);
}

static json_t *user_rec_load(MDB_val *v)
{
    json_t *j = json_loadb(v->mv_data, v->mv_size, 0, NULL);
    if (j != NULL && (!json_is_object(j) || !json_is_string(json_object_get(j, "secret")))) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* Writes the user record {"secret","enabled"}. */
static int user_rec_put(struct iam_store *st, MDB_txn *t, const char *name, const char *secret,
                        bool enabled, unsigned flags)
{
    json_t *j = json_pack("{s:s, s:b}", "secret", secret, "enabled", enabled);
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    int err = TS_E_INTERNAL;

    json_decref(j);
    if (s != NULL) {
        MDB_val k = mval(name), v = mval(s);
        err = map_rc(mdb_put(t, st->dbi[DB_USERS], &k, &v, flags), "put user");
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
    return err;
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

int iam_user_add(struct iam_store *st, const char *name, const char *secret, const char **msg)
{
    const char *why = check_user(st, name, secret);
    MDB_txn *t = NULL;
    int err;

    if (why != NULL) {
        if (msg != NULL)
            *msg = why;
        return TS_E_INVALID_ARGUMENT;
    }
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    /* create-only in the one write transaction: MDB_NOOVERWRITE refuses an existing name */
    err = user_rec_put(st, t, name, secret, true, MDB_NOOVERWRITE);
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

static void wait_next_second(void);

int iam_user_set_secret(struct iam_store *st, const char *name, const char *secret,
                        const char **msg)
{
    const char *why = check_user(st, name, secret);
    MDB_txn *t = NULL;
    MDB_val k, v;
    json_t *j = NULL;
    int err, rc;

    if (why != NULL) {
        if (msg != NULL)
            *msg = why;
        return TS_E_INVALID_ARGUMENT;
    }
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(name);
    rc = mdb_get(t, st->dbi[DB_USERS], &k, &v);
    if (rc != 0) {
        err = map_rc(rc, "get user");
        goto fail;
    }
    if ((j = user_rec_load(&v)) == NULL) {
        err = TS_E_INTERNAL;
        goto fail;
    }
    err = user_rec_put(st, t, name, secret, json_is_true(json_object_get(j, "enabled")), 0);
    /* the sessions obtained with the old secret end with it */
    if (err == TS_OK)
        err = put_i64(st, t, DB_NOTBEFORE, name, (int64_t)time(NULL) + 1);
    if (err != TS_OK)
        goto fail;
    user_rec_free(j);
    err = wr_commit(st, t);
    if (err == TS_OK)
        wait_next_second();
    return err;
fail:
    user_rec_free(j);
    mdb_txn_abort(t);
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
    dst->not_before = src->not_before;
    if (dst->name == NULL || dst->secret == NULL || strv_copy(&src->policies, &dst->policies) ||
        strv_copy(&src->groups, &dst->groups)) {
        iam_user_cleanup(dst);
        return TS_E_INTERNAL;
    }
    return TS_OK;
}

static size_t last_txnid(struct iam_store *st)
{
    MDB_envinfo info;
    return mdb_env_info(st->env, &info) == 0 ? info.me_last_txnid : 0;
}

static size_t ucache_index(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h & (UCACHE_SLOTS - 1);
}

static int user_read(struct iam_store *st, const char *name, struct iam_user *out);

int iam_user_get(struct iam_store *st, const char *name, struct iam_user *out)
{
    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    size_t idx = ucache_index(name), txnid = last_txnid(st);
    pthread_mutex_t *mu = &st->ucache_mu[idx % UCACHE_STRIPES];
    struct ucache_slot *sl = &st->ucache[idx];
    int err;

    pthread_mutex_lock(mu);
    if (txnid != 0 && sl->txnid == txnid && strcmp(sl->u.name, name) == 0) {
        err = user_copy(&sl->u, out);
        pthread_mutex_unlock(mu);
        return err;
    }
    pthread_mutex_unlock(mu);
    /* Read, then keep it only if no commit came in between (the id read first stands for
     * the state the read saw or an older one; a newer read just misses next time). */
    err = user_read(st, name, out);
    struct iam_user copy;
    if (err != TS_OK || txnid == 0 || last_txnid(st) != txnid || user_copy(out, &copy) != TS_OK)
        return err;
    pthread_mutex_lock(mu);
    iam_user_cleanup(&sl->u);
    sl->u = copy;
    sl->txnid = txnid;
    pthread_mutex_unlock(mu);
    return TS_OK;
}

static int user_read(struct iam_store *st, const char *name, struct iam_user *out)
{
    struct iam_user u = {0};
    MDB_txn *t = NULL;
    MDB_val k, v;
    json_t *j = NULL;
    int err, rc;

    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    err = rd_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(name);
    rc = mdb_get(t, st->dbi[DB_USERS], &k, &v);
    if (rc != 0) {
        err = map_rc(rc, "get user");
        goto out;
    }
    j = user_rec_load(&v);
    if (j == NULL) {
        err = TS_E_INTERNAL;
        goto out;
    }
    u.name = strdup(name);
    u.secret = strdup(json_string_value(json_object_get(j, "secret")));
    u.enabled = json_is_true(json_object_get(j, "enabled"));
    if (u.name == NULL || u.secret == NULL) {
        err = TS_E_INTERNAL;
        goto out;
    }
    rc = mdb_get(t, st->dbi[DB_NOTBEFORE], &k, &v);
    if (rc == 0) {
        int64_t nb;
        err = get_i64(&v, &nb);
        if (err != TS_OK)
            goto out;
        u.not_before = (time_t)nb;
    } else if (rc != MDB_NOTFOUND) {
        err = map_rc(rc, "get notbefore");
        goto out;
    }
    err = dup_list(st, t, DB_ATT_USER, name, &u.policies);
    if (err == TS_OK)
        err = dup_list(st, t, DB_UGROUPS, name, &u.groups);
    if (err != TS_OK)
        goto out;
    *out = u;
    memset(&u, 0, sizeof(u));
out:
    user_rec_free(j);
    rd_end(st, t);
    iam_user_cleanup(&u);
    return err;
}

/* Session tokens carry whole seconds. Disabling or removing a user revokes every session
 * issued up to the end of the current second (not-before = now + 1), and returns only once
 * that second has passed, so that sessions issued after the call are not caught. */
static void wait_next_second(void)
{
    time_t until = time(NULL) + 1;
    while (time(NULL) < until) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int iam_user_set_enabled(struct iam_store *st, const char *name, bool enabled)
{
    MDB_txn *t = NULL;
    MDB_val k, v;
    json_t *j = NULL;
    int err, rc;

    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(name);
    rc = mdb_get(t, st->dbi[DB_USERS], &k, &v);
    if (rc != 0) {
        err = map_rc(rc, "get user");
        goto fail;
    }
    j = user_rec_load(&v);
    if (j == NULL) {
        err = TS_E_INTERNAL;
        goto fail;
    }
    err = user_rec_put(st, t, name, json_string_value(json_object_get(j, "secret")), enabled, 0);
    if (err == TS_OK && !enabled)
        err = put_i64(st, t, DB_NOTBEFORE, name, (int64_t)time(NULL) + 1);
    if (err != TS_OK)
        goto fail;
    user_rec_free(j);
    err = wr_commit(st, t);
    if (err == TS_OK && !enabled)
        wait_next_second();
    return err;
fail:
    user_rec_free(j);
    mdb_txn_abort(t);
    return err;
}

int iam_user_remove(struct iam_store *st, const char *name)
{
    struct iam_strv groups = {0};
    MDB_txn *t = NULL;
    MDB_val k, v;
    int err, rc;

    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(name);
    rc = mdb_del(t, st->dbi[DB_USERS], &k, NULL);
    if (rc != 0) {
        err = map_rc(rc, "del user");
        goto fail;
    }
    err = dup_list(st, t, DB_UGROUPS, name, &groups);
    if (err != TS_OK)
        goto fail;
    for (size_t i = 0; i < groups.n; i++) {
        MDB_val gk = mval(groups.v[i]);
        v = mval(name);
        rc = mdb_del(t, st->dbi[DB_GMEMBERS], &gk, &v);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            err = map_rc(rc, "del member");
            goto fail;
        }
    }
    rc = mdb_del(t, st->dbi[DB_UGROUPS], &k, NULL);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = mdb_del(t, st->dbi[DB_ATT_USER], &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        err = map_rc(rc, "del user links");
        goto fail;
    }
    err = put_i64(st, t, DB_NOTBEFORE, name, (int64_t)time(NULL) + 1);
    if (err != TS_OK)
        goto fail;
    iam_strv_free(&groups);
    err = wr_commit(st, t);
    if (err == TS_OK)
        wait_next_second();
    return err;
fail:
    iam_strv_free(&groups);
    mdb_txn_abort(t);
    return err;
}

int iam_user_list(struct iam_store *st, struct iam_strv *out)
{
    return key_list(st, DB_USERS, out);
}

int iam_user_revoke_sessions(struct iam_store *st, const char *name, time_t now)
{
    MDB_txn *t = NULL;
    int err;

    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    err = exists(st, t, DB_USERS, name);
    if (err == TS_OK)
        err = put_i64(st, t, DB_NOTBEFORE, name, (int64_t)now);
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

int iam_parent_not_before(struct iam_store *st, const char *parent, time_t *out)
{
    MDB_txn *t = NULL;
    MDB_val k, v;
    int64_t nb = 0;
    int err, rc;

    if (!key_ok(parent)) {
        *out = 0;
        return TS_OK;
    }
    err = rd_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(parent);
    rc = mdb_get(t, st->dbi[DB_NOTBEFORE], &k, &v);
    if (rc == 0)
        err = get_i64(&v, &nb);
    else if (rc != MDB_NOTFOUND)
        err = map_rc(rc, "get notbefore");
    rd_end(st, t);
    if (err == TS_OK)
        *out = (time_t)nb;
    return err;
}

int iam_parent_revoke_sessions(struct iam_store *st, const char *parent, time_t now)
{
    MDB_txn *t = NULL;
    int err;

    if (!key_ok(parent))
        return TS_E_INVALID_ARGUMENT;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    err = put_i64(st, t, DB_NOTBEFORE, parent, (int64_t)now);
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

/* ---- groups ---- */

static int group_rec_put(struct iam_store *st, MDB_txn *t, const char *group, bool enabled)
{
    MDB_val k = mval(group), v = mval(enabled ? "{\"enabled\":true}" : "{\"enabled\":false}");
    return map_rc(mdb_put(t, st->dbi[DB_GROUPS], &k, &v, 0), "put group");
}

/* Puts the pair (key, val) into a DUPSORT db; an existing pair is not an error. */
static int dup_put(struct iam_store *st, MDB_txn *t, enum iam_dbi db, const char *key,
                   const char *val)
{
    MDB_val k = mval(key), v = mval(val);
    int rc = mdb_put(t, st->dbi[db], &k, &v, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? TS_OK : map_rc(rc, "put");
}

int iam_group_add(struct iam_store *st, const char *group, const char *const *members, size_t n)
{
    MDB_txn *t = NULL;
    int err;

    if (!group_name_ok(group))
        return TS_E_INVALID_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (!key_ok(members[i]))
            return TS_E_NO_SUCH_ENTITY;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    err = exists(st, t, DB_GROUPS, group);
    if (err == TS_E_NO_SUCH_ENTITY)
        err = group_rec_put(st, t, group, true);
    for (size_t i = 0; err == TS_OK && i < n; i++) {
        err = exists(st, t, DB_USERS, members[i]);
        if (err == TS_OK)
            err = dup_put(st, t, DB_GMEMBERS, group, members[i]);
        if (err == TS_OK)
            err = dup_put(st, t, DB_UGROUPS, members[i], group);
    }
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

int iam_group_remove(struct iam_store *st, const char *group, const char *const *members, size_t n)
{
    MDB_txn *t = NULL;
    MDB_val k, v;
    int err, rc;

    if (!key_ok(group))
        return TS_E_NO_SUCH_ENTITY;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    err = exists(st, t, DB_GROUPS, group);
    if (err != TS_OK)
        goto fail;
    k = mval(group);
    if (n == 0) {
        rc = mdb_get(t, st->dbi[DB_GMEMBERS], &k, &v);
        if (rc == 0) {
            err = TS_E_GROUP_NOT_EMPTY;
            goto fail;
        }
        rc = mdb_del(t, st->dbi[DB_GROUPS], &k, NULL);
        if (rc == 0) {
            rc = mdb_del(t, st->dbi[DB_ATT_GROUP], &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc != 0) {
            err = map_rc(rc, "del group");
            goto fail;
        }
        return wr_commit(st, t);
    }
    for (size_t i = 0; i < n; i++) {
        MDB_val uk;
        if (!key_ok(members[i]))
            continue;
        uk = mval(members[i]);
        v = mval(members[i]);
        rc = mdb_del(t, st->dbi[DB_GMEMBERS], &k, &v);
        if (rc == 0 || rc == MDB_NOTFOUND) {
            v = mval(group);
            rc = mdb_del(t, st->dbi[DB_UGROUPS], &uk, &v);
        }
        if (rc != 0 && rc != MDB_NOTFOUND) {
            err = map_rc(rc, "del member");
            goto fail;
        }
    }
    return wr_commit(st, t);
fail:
    mdb_txn_abort(t);
    return err;
}

int iam_group_get(struct iam_store *st, const char *group, struct iam_group *out)
{
    struct iam_group g = {0};
    MDB_txn *t = NULL;
    MDB_val k, v;
    int err, rc;

    if (!key_ok(group))
        return TS_E_NO_SUCH_ENTITY;
    err = rd_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(group);
    rc = mdb_get(t, st->dbi[DB_GROUPS], &k, &v);
    if (rc != 0) {
        err = map_rc(rc, "get group");
        goto out;
    }
    g.enabled = memmem(v.mv_data, v.mv_size, "true", 4) != NULL;
    g.name = strdup(group);
    if (g.name == NULL) {
        err = TS_E_INTERNAL;
        goto out;
    }
    err = dup_list(st, t, DB_GMEMBERS, group, &g.members);
    if (err == TS_OK)
        err = dup_list(st, t, DB_ATT_GROUP, group, &g.policies);
    if (err != TS_OK)
        goto out;
    *out = g;
    memset(&g, 0, sizeof(g));
out:
    rd_end(st, t);
    iam_group_cleanup(&g);
    return err;
}

int iam_group_list(struct iam_store *st, struct iam_strv *out)
{
    return key_list(st, DB_GROUPS, out);
}

int iam_group_set_enabled(struct iam_store *st, const char *group, bool enabled)
{
    MDB_txn *t = NULL;
    int err;

    if (!key_ok(group))
        return TS_E_NO_SUCH_ENTITY;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    err = exists(st, t, DB_GROUPS, group);
    if (err == TS_OK)
        err = group_rec_put(st, t, group, enabled);
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

/* ---- policies ---- */

int iam_policy_put(struct iam_store *st, const char *name, const char *json)
{
    MDB_txn *t = NULL;
    MDB_val k, v;
    int err;

    if (!policy_name_ok(name) || json == NULL)
        return TS_E_INVALID_ARGUMENT;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(name);
    v = mval(json);
    err = map_rc(mdb_put(t, st->dbi[DB_POLICIES], &k, &v, 0), "put policy");
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

int iam_policy_get(struct iam_store *st, const char *name, char **json)
{
    MDB_txn *t = NULL;
    MDB_val k, v;
    int err;

    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    err = rd_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(name);
    err = map_rc(mdb_get(t, st->dbi[DB_POLICIES], &k, &v), "get policy");
    if (err == TS_OK) {
        char *s = strndup(v.mv_data, v.mv_size);
        if (s == NULL)
            err = TS_E_INTERNAL;
        else
            *json = s;
    }
    rd_end(st, t);
    return err;
}

/* Whether policy is attached to any target of any kind (full scan: attachments are few). */
static int policy_in_use(struct iam_store *st, MDB_txn *t, const char *policy, bool *used)
{
    static const enum iam_dbi dbs[] = {DB_ATT_USER, DB_ATT_GROUP, DB_ATT_DN, DB_ATT_ROLE};
    size_t plen = strlen(policy);

    *used = false;
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]) && !*used; i++) {
        MDB_cursor *c = NULL;
        MDB_val k, v;
        int rc = mdb_cursor_open(t, st->dbi[dbs[i]], &c);
        if (rc != 0)
            return map_rc(rc, "cursor");
        for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (v.mv_size == plen && memcmp(v.mv_data, policy, plen) == 0) {
                *used = true;
                break;
            }
        }
        mdb_cursor_close(c);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return map_rc(rc, "cursor");
    }
    return TS_OK;
}

int iam_policy_remove(struct iam_store *st, const char *name)
{
    MDB_txn *t = NULL;
    MDB_val k;
    bool used;
    int err;

    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    err = exists(st, t, DB_POLICIES, name);
    if (err == TS_OK)
        err = policy_in_use(st, t, name, &used);
    if (err == TS_OK && used)
        err = TS_E_POLICY_IN_USE;
    if (err == TS_OK) {
        k = mval(name);
        err = map_rc(mdb_del(t, st->dbi[DB_POLICIES], &k, NULL), "del policy");
    }
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

int iam_policy_list(struct iam_store *st, struct iam_strv *out)
{
    return key_list(st, DB_POLICIES, out);
}

/* ---- attachments ---- */

static enum iam_dbi att_db(enum iam_target kind)
{
    switch (kind) {
    case IAM_TARGET_USER:
        return DB_ATT_USER;
    case IAM_TARGET_GROUP:
        return DB_ATT_GROUP;
    case IAM_TARGET_DN:
        return DB_ATT_DN;
    case IAM_TARGET_ROLE:
        return DB_ATT_ROLE;
    }
    return DB_COUNT;
}

int iam_attach(struct iam_store *st, enum iam_target kind, const char *target, const char *policy)
{
    enum iam_dbi db = att_db(kind);
    MDB_txn *t = NULL;
    int err = TS_OK;

    if (db == DB_COUNT || !policy_name_ok(policy))
        return TS_E_INVALID_ARGUMENT;
    if (!key_ok(target))
        return kind == IAM_TARGET_USER || kind == IAM_TARGET_GROUP ? TS_E_NO_SUCH_ENTITY
                                                                   : TS_E_INVALID_ARGUMENT;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    if (kind == IAM_TARGET_USER)
        err = exists(st, t, DB_USERS, target);
    else if (kind == IAM_TARGET_GROUP)
        err = exists(st, t, DB_GROUPS, target);
    if (err == TS_OK)
        err = dup_put(st, t, db, target, policy);
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

int iam_detach(struct iam_store *st, enum iam_target kind, const char *target, const char *policy)
{
    enum iam_dbi db = att_db(kind);
    MDB_txn *t = NULL;
    MDB_val k, v;
    int err;

    if (db == DB_COUNT)
        return TS_E_INVALID_ARGUMENT;
    if (!key_ok(target) || !key_ok(policy))
        return TS_E_NO_SUCH_ENTITY;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(target);
    v = mval(policy);
    err = map_rc(mdb_del(t, st->dbi[db], &k, &v), "detach");
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

int iam_attached(struct iam_store *st, enum iam_target kind, const char *target,
                 struct iam_strv *out)
{
    enum iam_dbi db = att_db(kind);
    struct iam_strv sv = {0};
    MDB_txn *t = NULL;
    int err;

    if (db == DB_COUNT)
        return TS_E_INVALID_ARGUMENT;
    if (!key_ok(target)) {
        *out = sv;
        return TS_OK;
    }
    err = rd_begin(st, &t);
    if (err != TS_OK)
        return err;
    err = dup_list(st, t, db, target, &sv);
    rd_end(st, t);
    if (err != TS_OK) {
        iam_strv_free(&sv);
        return err;
    }
    *out = sv;
    return TS_OK;
}

/* ---- revoked keys ---- */

/* Deletes revocations whose expiry has passed. */
static int prune_revoked(struct iam_store *st, MDB_txn *t, time_t now)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(t, st->dbi[DB_REVOKED], &c);

    if (rc != 0)
        return map_rc(rc, "cursor");
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int64_t exp;
        if (get_i64(&v, &exp) != TS_OK || exp <= (int64_t)now) {
            rc = mdb_cursor_del(c, 0);
            if (rc != 0)
                break;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? TS_OK : map_rc(rc, "prune");
}

int iam_revoke_key(struct iam_store *st, const char *access_key, time_t expires)
{
    MDB_txn *t = NULL;
    int err;

    if (!key_ok(access_key))
        return TS_E_INVALID_ARGUMENT;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    err = prune_revoked(st, t, time(NULL));
    if (err == TS_OK)
        err = put_i64(st, t, DB_REVOKED, access_key, (int64_t)expires);
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

bool iam_key_revoked(struct iam_store *st, const char *access_key)
{
    MDB_txn *t = NULL;
    MDB_val k, v;
    int64_t exp = 0;
    bool revoked = false;

    if (!key_ok(access_key) || rd_begin(st, &t) != TS_OK)
        return false;
    k = mval(access_key);
    if (mdb_get(t, st->dbi[DB_REVOKED], &k, &v) == 0 && get_i64(&v, &exp) == TS_OK)
        revoked = exp > (int64_t)time(NULL);
    rd_end(st, t);
    return revoked;
}

/* ---- blobs ---- */

int iam_blob_put(struct iam_store *st, const char *name, const void *data, size_t len)
{
    MDB_txn *t = NULL;
    MDB_val k, v;
    int err;

    if (!key_ok(name) || (data == NULL && len > 0))
        return TS_E_INVALID_ARGUMENT;
    err = wr_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(name);
    v.mv_size = len;
    v.mv_data = (void *)(len > 0 ? data : "");
    err = map_rc(mdb_put(t, st->dbi[DB_BLOBS], &k, &v, 0), "put blob");
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    return wr_commit(st, t);
}

int iam_blob_get(struct iam_store *st, const char *name, void **data, size_t *len)
{
    MDB_txn *t = NULL;
    MDB_val k, v;
    int err;

    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    err = rd_begin(st, &t);
    if (err != TS_OK)
        return err;
    k = mval(name);
    err = map_rc(mdb_get(t, st->dbi[DB_BLOBS], &k, &v), "get blob");
    if (err == TS_OK) {
        char *p = malloc(v.mv_size + 1);
        if (p == NULL) {
            err = TS_E_INTERNAL;
        } else {
            memcpy(p, v.mv_data, v.mv_size);
            p[v.mv_size] = '\0';
            *data = p;
            *len = v.mv_size;
        }
    }
    rd_end(st, t);
    return err;
}
