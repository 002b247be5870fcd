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
 *   notbefore  parent -> 'n' + int64 nanoseconds (host order); 8-byte values (stores written
 *              before nanoseconds) are int64 seconds
 *   revoked    access key -> int64 expiry (host order)
 *   blobs      name -> bytes
 *   blobver    name -> uint64 version (host order; a blob without one is version 1)
 *
 * Every mutation is one write transaction with LMDB's default durability (no MDB_NOSYNC),
 * run by wr_run: each operation below is only the body of its transaction. LMDB serialises
 * writers (across processes too), and readers never block (MVCC); iam_blob_cas compares the
 * version inside the write transaction, so it is atomic against every other process. The
 * environment is opened with MDB_NOTLS so read transactions are not bound to threads: finished read
 * transactions are reset and kept in a small pool, then renewed by the next reader on any thread
 * (cheaper than begin/abort each time).
 *
 * Thread-safety: env, the dbi handles and reserved are immutable after iam_lmdb_open /
 * iam_store_set_reserved; gen is atomic; the read-transaction pool is guarded by pool_mu.
 */
#include "idp/iam_impl.h"

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

#include "core/enc.h"
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
    DB_BLOBVER,
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
    [DB_BLOBVER] = {"blobver", 0},
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

struct iam_lmdb {
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

/* ---- transactions ---- */

static int rd_begin(struct iam_lmdb *st, MDB_txn **out)
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

static void rd_end(struct iam_lmdb *st, MDB_txn *t)
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

/* The body of one transaction: TS_OK to commit (a write), an error to abort. */
typedef int (*txn_body_fn)(struct iam_lmdb *st, MDB_txn *t, void *arg);

/* Runs body in one pooled read transaction; returns body's error or the begin's. */
static int rd_run(struct iam_lmdb *st, txn_body_fn body, void *arg)
{
    MDB_txn *t = NULL;
    int err = rd_begin(st, &t);

    if (err != TS_OK)
        return err;
    err = body(st, t, arg);
    rd_end(st, t);
    return err;
}

/* The arguments and results of a read operation, for its body. */
struct rd_args {
    const char *name;
    enum iam_dbi db;
    int64_t i64;        /* not-before (ns) */
    bool flag;          /* revoked */
    struct iam_strv sv; /* a list read */
    void *data;         /* a value read (NUL-terminated copy) */
    size_t len;
    uint64_t version;
    void *out; /* a record read (struct iam_user, struct iam_group) */
};

/* Runs body in one write transaction: begin, body, commit (bumping the generation) or abort
 * on body's error; LMDB's errors mapped by map_rc. Returns body's error or the commit's. */
static int wr_run(struct iam_lmdb *st, txn_body_fn body, void *arg)
{
    MDB_txn *t = NULL;
    int err, rc = mdb_txn_begin(st->env, NULL, 0, &t);

    if (rc != 0)
        return map_rc(rc, "write txn");
    err = body(st, t, arg);
    if (err != TS_OK) {
        mdb_txn_abort(t);
        return err;
    }
    rc = mdb_txn_commit(t);
    if (rc != 0)
        return map_rc(rc, "commit");
    atomic_fetch_add(&st->gen, 1);
    return TS_OK;
}

/* The arguments of a write operation, for its body (each uses the members it names). */
struct wr_args {
    const char *name;  /* the record's key: user, group, policy, target, parent, blob */
    const char *value; /* secret, policy name, policy JSON */
    const char *const *members;
    size_t n;
    bool flag; /* enabled */
    enum iam_dbi db;
    int64_t i64; /* not-before (ns), expiry (s) */
    const void *data;
    size_t len;
    uint64_t version;
    void *out; /* a record read (struct iam_user, struct iam_group) */
};

/* Collects every duplicate value of key in a DUPSORT db (empty when absent). */
static int dup_list(struct iam_lmdb *st, MDB_txn *t, enum iam_dbi db, const char *key,
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
static int key_list(struct iam_lmdb *st, enum iam_dbi db, struct iam_strv *out)
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

static int put_i64(struct iam_lmdb *st, MDB_txn *t, enum iam_dbi db, const char *key, int64_t x)
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

/* Not-before times: 'n' + int64 nanoseconds; an 8-byte value is whole seconds (a store
 * written before nanoseconds), read as that second's first nanosecond. */
#define NB_TAG 'n'
static int put_nb(struct iam_lmdb *st, MDB_txn *t, const char *key, int64_t ns)
{
    unsigned char buf[1 + sizeof ns];
    MDB_val k = mval(key), v = {sizeof buf, buf};
    buf[0] = NB_TAG;
    memcpy(buf + 1, &ns, sizeof ns);
    return map_rc(mdb_put(t, st->dbi[DB_NOTBEFORE], &k, &v, 0), "put notbefore");
}

/* The not-before time of key in ns: 0 when none, TS_E_INTERNAL when malformed. */
static int get_nb(struct iam_lmdb *st, MDB_txn *t, const char *key, int64_t *ns)
{
    MDB_val k = mval(key), v;
    int64_t x;
    int rc = mdb_get(t, st->dbi[DB_NOTBEFORE], &k, &v);

    *ns = 0;
    if (rc == MDB_NOTFOUND)
        return TS_OK;
    if (rc != 0)
        return map_rc(rc, "get notbefore");
    if (v.mv_size == 1 + sizeof x && ((const unsigned char *)v.mv_data)[0] == NB_TAG) {
        memcpy(ns, (const unsigned char *)v.mv_data + 1, sizeof x);
        return TS_OK;
    }
    if (get_i64(&v, &x) != TS_OK || x < 0 || x > INT64_MAX / 1000000000)
        return TS_E_INTERNAL;
    *ns = x * 1000000000;
    return TS_OK;
}

/* Whether key exists in db. */
static int exists(struct iam_lmdb *st, MDB_txn *t, enum iam_dbi db, const char *key)
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

static const struct iam_store_ops lmdb_ops;
static void lm_close(void *impl);

int iam_lmdb_open(const char *dir, const struct iam_store_ops **ops, void **out)
{
    struct iam_lmdb *st = NULL;
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
    *ops = &lmdb_ops;
    *out = st;
    return TS_OK;
fail:
    fprintf(stderr, "tessera: iam store %s: %s\n", dir, mdb_strerror(rc));
    if (t != NULL)
        mdb_txn_abort(t);
    lm_close(st);
    return TS_E_INTERNAL;
}

static void lm_close(void *impl)
{
    struct iam_lmdb *st = impl;
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

static uint64_t lm_generation(void *impl)
{
    struct iam_lmdb *st = impl;
    return atomic_load(&st->gen);
}

static int lm_set_reserved(void *impl, const char *root_name)
{
    struct iam_lmdb *st = impl;
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
static int user_rec_put(struct iam_lmdb *st, MDB_txn *t, const char *name, const char *secret,
                        bool enabled, unsigned flags)
{
    json_t *j = json_pack("{s:s, s:b}", "secret", secret, "enabled", enabled);
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    int err = TS_E_INTERNAL;

    json_decref(j);
    if (s != NULL) {
        MDB_val k = mval(name), v = mval(s);
        err = map_rc(mdb_put(t, st->dbi[DB_USERS], &k, &v, flags), "put user");
        enc_secret_free(s);
    }
    return err;
}

/* Reads the stored user record of name into *out (release with user_rec_free). */
static int user_rec_get(struct iam_lmdb *st, MDB_txn *t, const char *name, json_t **out)
{
    MDB_val k = mval(name), v;
    int rc = mdb_get(t, st->dbi[DB_USERS], &k, &v);
    if (rc != 0)
        return map_rc(rc, "get user");
    *out = user_rec_load(&v);
    return *out != NULL ? TS_OK : TS_E_INTERNAL;
}

/* NULL when name and secret follow the rules of iam_user_add, else the problem. */
static const char *check_user(const struct iam_lmdb *st, const char *name, const char *secret)
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

/* The not-before time a revocation made now writes: every credential issued up to now
 * (issue times are nanoseconds too) is before it, every one issued later is not. */
static int64_t nb_now(void)
{
    return iam_now_ns() + 1;
}

static int user_add_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    /* create-only in the one write transaction: MDB_NOOVERWRITE refuses an existing name */
    return user_rec_put(st, t, a->name, a->value, true, MDB_NOOVERWRITE);
}

/* Replaces the secret (a->value, or the stored one when NULL) and the status (a->flag); sets
 * the not-before time when the secret changes or the user is disabled. */
static int user_update_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    json_t *j = NULL;
    int err = user_rec_get(st, t, a->name, &j);

    if (err == TS_OK) {
        const char *secret = a->value;
        if (secret == NULL)
            secret = json_string_value(json_object_get(j, "secret"));
        err = user_rec_put(st, t, a->name, secret, a->flag, 0);
    }
    /* the sessions obtained with the old secret end with it; so do a disabled user's */
    if (err == TS_OK && (a->value != NULL || !a->flag))
        err = put_nb(st, t, a->name, nb_now());
    user_rec_free(j);
    return err;
}

/* Validates name and secret for add / set_secret; *msg (optional) gets the problem. */
static int user_args(struct iam_lmdb *st, const char *name, const char *secret, const char **msg)
{
    const char *why = check_user(st, name, secret);
    if (why == NULL)
        return TS_OK;
    if (msg != NULL)
        *msg = why;
    return TS_E_INVALID_ARGUMENT;
}

static int lm_user_add(void *impl, const char *name, const char *secret, const char **msg)
{
    struct wr_args a = {.name = name, .value = secret};
    int err = user_args(impl, name, secret, msg);
    return err != TS_OK ? err : wr_run(impl, user_add_body, &a);
}

/* Replaces the secret, keeping the stored status. */
static int set_secret_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    json_t *j = NULL;
    int err = user_rec_get(st, t, a->name, &j);
    if (err == TS_OK) {
        a->flag = json_is_true(json_object_get(j, "enabled"));
        err = user_update_body(st, t, a);
    }
    user_rec_free(j);
    return err;
}

static int lm_user_set_secret(void *impl, const char *name, const char *secret, const char **msg)
{
    struct wr_args a = {.name = name, .value = secret};
    int err = user_args(impl, name, secret, msg);
    return err != TS_OK ? err : wr_run(impl, set_secret_body, &a);
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

static size_t last_txnid(struct iam_lmdb *st)
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

static int user_read(struct iam_lmdb *st, const char *name, struct iam_user *out);

static int lm_user_get(void *impl, const char *name, struct iam_user *out)
{
    struct iam_lmdb *st = impl;
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

/* Reads user a->name into a->out (struct iam_user), left untouched on error. */
static int user_read_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct rd_args *a = arg;
    struct iam_user u = {0};
    json_t *j = NULL;
    int err = user_rec_get(st, t, a->name, &j);

    if (err == TS_OK) {
        u.name = strdup(a->name);
        u.secret = strdup(json_string_value(json_object_get(j, "secret")));
        u.enabled = json_is_true(json_object_get(j, "enabled"));
        if (u.name == NULL || u.secret == NULL)
            err = TS_E_INTERNAL;
    }
    if (err == TS_OK)
        err = get_nb(st, t, a->name, &u.not_before_ns);
    if (err == TS_OK)
        err = dup_list(st, t, DB_ATT_USER, a->name, &u.policies);
    if (err == TS_OK)
        err = dup_list(st, t, DB_UGROUPS, a->name, &u.groups);
    user_rec_free(j);
    if (err == TS_OK)
        *(struct iam_user *)a->out = u;
    else
        iam_user_cleanup(&u);
    return err;
}

static int user_read(struct iam_lmdb *st, const char *name, struct iam_user *out)
{
    struct rd_args a = {.name = name, .out = out};
    return key_ok(name) ? rd_run(st, user_read_body, &a) : TS_E_NO_SUCH_ENTITY;
}

static int lm_user_set_enabled(void *impl, const char *name, bool enabled)
{
    struct wr_args a = {.name = name, .flag = enabled};
    return key_ok(name) ? wr_run(impl, user_update_body, &a) : TS_E_NO_SUCH_ENTITY;
}

/* Removes the user, its group memberships and attachments, and revokes its sessions. */
static int user_remove_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    struct iam_strv groups = {0};
    MDB_val k = mval(a->name), v;
    int err, rc = mdb_del(t, st->dbi[DB_USERS], &k, NULL);

    if (rc != 0)
        return map_rc(rc, "del user");
    err = dup_list(st, t, DB_UGROUPS, a->name, &groups);
    for (size_t i = 0; err == TS_OK && i < groups.n; i++) {
        MDB_val gk = mval(groups.v[i]);
        v = mval(a->name);
        rc = mdb_del(t, st->dbi[DB_GMEMBERS], &gk, &v);
        if (rc != 0 && rc != MDB_NOTFOUND)
            err = map_rc(rc, "del member");
    }
    iam_strv_free(&groups);
    if (err != TS_OK)
        return err;
    rc = mdb_del(t, st->dbi[DB_UGROUPS], &k, NULL);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = mdb_del(t, st->dbi[DB_ATT_USER], &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return map_rc(rc, "del user links");
    return put_nb(st, t, a->name, nb_now());
}

static int lm_user_remove(void *impl, const char *name)
{
    struct wr_args a = {.name = name};
    return key_ok(name) ? wr_run(impl, user_remove_body, &a) : TS_E_NO_SUCH_ENTITY;
}

static int lm_user_list(void *impl, struct iam_strv *out)
{
    return key_list(impl, DB_USERS, out);
}

/* Sets the not-before time of a->name (of an existing user in a->db when not DB_COUNT). */
static int revoke_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    int err = a->db != DB_COUNT ? exists(st, t, a->db, a->name) : TS_OK;
    return err != TS_OK ? err : put_nb(st, t, a->name, a->i64);
}

static int lm_user_revoke_sessions(void *impl, const char *name, int64_t nb_ns)
{
    struct wr_args a = {.name = name, .db = DB_USERS, .i64 = nb_ns};
    return key_ok(name) ? wr_run(impl, revoke_body, &a) : TS_E_NO_SUCH_ENTITY;
}

static int parent_nb_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct rd_args *a = arg;
    return get_nb(st, t, a->name, &a->i64);
}

static int lm_parent_not_before(void *impl, const char *parent, int64_t *out)
{
    struct rd_args a = {.name = parent};

    if (!key_ok(parent)) {
        *out = 0;
        return TS_OK;
    }
    int err = rd_run(impl, parent_nb_body, &a);
    if (err == TS_OK)
        *out = a.i64;
    return err;
}

static int lm_parent_revoke_sessions(void *impl, const char *parent, int64_t nb_ns)
{
    struct wr_args a = {.name = parent, .db = DB_COUNT, .i64 = nb_ns};
    return key_ok(parent) ? wr_run(impl, revoke_body, &a) : TS_E_INVALID_ARGUMENT;
}

/* ---- groups ---- */

static int group_rec_put(struct iam_lmdb *st, MDB_txn *t, const char *group, bool enabled)
{
    MDB_val k = mval(group), v = mval(enabled ? "{\"enabled\":true}" : "{\"enabled\":false}");
    return map_rc(mdb_put(t, st->dbi[DB_GROUPS], &k, &v, 0), "put group");
}

/* Puts the pair (key, val) into a DUPSORT db; an existing pair is not an error. */
static int dup_put(struct iam_lmdb *st, MDB_txn *t, enum iam_dbi db, const char *key,
                   const char *val)
{
    MDB_val k = mval(key), v = mval(val);
    int rc = mdb_put(t, st->dbi[db], &k, &v, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? TS_OK : map_rc(rc, "put");
}

/* Deletes the pair (key, val) from a DUPSORT db (the whole key when val is NULL); an absent
 * one is not an error. */
static int dup_del(struct iam_lmdb *st, MDB_txn *t, enum iam_dbi db, const char *key,
                   const char *val)
{
    MDB_val k = mval(key), v;
    int rc;
    if (val != NULL)
        v = mval(val);
    rc = mdb_del(t, st->dbi[db], &k, val != NULL ? &v : NULL);
    return rc == MDB_NOTFOUND ? TS_OK : map_rc(rc, "del");
}

typedef int (*dup_fn)(struct iam_lmdb *st, MDB_txn *t, enum iam_dbi db, const char *key,
                      const char *val);

/* Adds (fn dup_put: each member must be a user) or removes (dup_del) the memberships of
 * a->members in group a->name, both directions; names too long for a key are skipped (adding
 * refused them before). */
static int members_apply(struct iam_lmdb *st, MDB_txn *t, const struct wr_args *a, dup_fn fn)
{
    int err = TS_OK;
    for (size_t i = 0; err == TS_OK && i < a->n; i++) {
        if (!key_ok(a->members[i]))
            continue;
        if (fn == dup_put)
            err = exists(st, t, DB_USERS, a->members[i]);
        if (err == TS_OK)
            err = fn(st, t, DB_GMEMBERS, a->name, a->members[i]);
        if (err == TS_OK)
            err = fn(st, t, DB_UGROUPS, a->members[i], a->name);
    }
    return err;
}

static int group_add_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    int err = exists(st, t, DB_GROUPS, a->name);

    if (err == TS_E_NO_SUCH_ENTITY)
        err = group_rec_put(st, t, a->name, true);
    return err == TS_OK ? members_apply(st, t, a, dup_put) : err;
}

static int lm_group_add(void *impl, const char *group, const char *const *members, size_t n)
{
    struct wr_args a = {.name = group, .members = members, .n = n};

    if (!group_name_ok(group))
        return TS_E_INVALID_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (!key_ok(members[i]))
            return TS_E_NO_SUCH_ENTITY;
    return wr_run(impl, group_add_body, &a);
}

static int group_remove_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    MDB_val k = mval(a->name), v;
    int err = exists(st, t, DB_GROUPS, a->name);

    if (err != TS_OK)
        return err;
    if (a->n == 0) {
        if (mdb_get(t, st->dbi[DB_GMEMBERS], &k, &v) == 0)
            return TS_E_GROUP_NOT_EMPTY;
        err = map_rc(mdb_del(t, st->dbi[DB_GROUPS], &k, NULL), "del group");
        return err == TS_OK ? dup_del(st, t, DB_ATT_GROUP, a->name, NULL) : err;
    }
    return members_apply(st, t, a, dup_del);
}

static int lm_group_remove(void *impl, const char *group, const char *const *members, size_t n)
{
    struct wr_args a = {.name = group, .members = members, .n = n};
    return key_ok(group) ? wr_run(impl, group_remove_body, &a) : TS_E_NO_SUCH_ENTITY;
}

/* Reads group a->name into a->out (struct iam_group), left untouched on error. */
static int group_get_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct rd_args *a = arg;
    struct iam_group g = {0};
    MDB_val k = mval(a->name), v;
    int err = map_rc(mdb_get(t, st->dbi[DB_GROUPS], &k, &v), "get group");

    if (err == TS_OK) {
        g.enabled = memmem(v.mv_data, v.mv_size, "true", 4) != NULL;
        g.name = strdup(a->name);
        if (g.name == NULL)
            err = TS_E_INTERNAL;
    }
    if (err == TS_OK)
        err = dup_list(st, t, DB_GMEMBERS, a->name, &g.members);
    if (err == TS_OK)
        err = dup_list(st, t, DB_ATT_GROUP, a->name, &g.policies);
    if (err == TS_OK)
        *(struct iam_group *)a->out = g;
    else
        iam_group_cleanup(&g);
    return err;
}

static int lm_group_get(void *impl, const char *group, struct iam_group *out)
{
    struct rd_args a = {.name = group, .out = out};
    return key_ok(group) ? rd_run(impl, group_get_body, &a) : TS_E_NO_SUCH_ENTITY;
}

static int lm_group_list(void *impl, struct iam_strv *out)
{
    return key_list(impl, DB_GROUPS, out);
}

static int group_enable_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    int err = exists(st, t, DB_GROUPS, a->name);
    return err != TS_OK ? err : group_rec_put(st, t, a->name, a->flag);
}

static int lm_group_set_enabled(void *impl, const char *group, bool enabled)
{
    struct wr_args a = {.name = group, .flag = enabled};
    return key_ok(group) ? wr_run(impl, group_enable_body, &a) : TS_E_NO_SUCH_ENTITY;
}

/* ---- policies ---- */

static int policy_put_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    MDB_val k = mval(a->name), v = mval(a->value);
    return map_rc(mdb_put(t, st->dbi[DB_POLICIES], &k, &v, 0), "put policy");
}

static int lm_policy_put(void *impl, const char *name, const char *json)
{
    struct wr_args a = {.name = name, .value = json};
    if (!policy_name_ok(name) || json == NULL)
        return TS_E_INVALID_ARGUMENT;
    return wr_run(impl, policy_put_body, &a);
}

/* Copies the value v into a->data (NUL-terminated) and a->len. */
static int value_copy(const MDB_val *v, struct rd_args *a)
{
    char *p = malloc(v->mv_size + 1);
    if (p == NULL)
        return TS_E_INTERNAL;
    memcpy(p, v->mv_data, v->mv_size);
    p[v->mv_size] = '\0';
    a->data = p;
    a->len = v->mv_size;
    return TS_OK;
}

static int policy_get_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct rd_args *a = arg;
    MDB_val k = mval(a->name), v;
    int err = map_rc(mdb_get(t, st->dbi[DB_POLICIES], &k, &v), "get policy");
    return err != TS_OK ? err : value_copy(&v, a);
}

static int lm_policy_get(void *impl, const char *name, char **json)
{
    struct rd_args a = {.name = name};

    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    int err = rd_run(impl, policy_get_body, &a);
    if (err == TS_OK)
        *json = a.data;
    return err;
}

/* Whether policy is attached to any target of any kind (full scan: attachments are few). */
static int policy_in_use(struct iam_lmdb *st, MDB_txn *t, const char *policy, bool *used)
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

static int policy_remove_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    MDB_val k = mval(a->name);
    bool used = false;
    int err = exists(st, t, DB_POLICIES, a->name);

    if (err == TS_OK)
        err = policy_in_use(st, t, a->name, &used);
    if (err == TS_OK && used)
        err = TS_E_POLICY_IN_USE;
    return err != TS_OK ? err : map_rc(mdb_del(t, st->dbi[DB_POLICIES], &k, NULL), "del policy");
}

static int lm_policy_remove(void *impl, const char *name)
{
    struct wr_args a = {.name = name};
    return key_ok(name) ? wr_run(impl, policy_remove_body, &a) : TS_E_NO_SUCH_ENTITY;
}

static int lm_policy_list(void *impl, struct iam_strv *out)
{
    return key_list(impl, DB_POLICIES, out);
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

static int attach_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    int err = a->flag ? exists(st, t, a->db == DB_ATT_USER ? DB_USERS : DB_GROUPS, a->name) : TS_OK;
    return err != TS_OK ? err : dup_put(st, t, a->db, a->name, a->value);
}

static int lm_attach(void *impl, enum iam_target kind, const char *target, const char *policy)
{
    bool checked = kind == IAM_TARGET_USER || kind == IAM_TARGET_GROUP;
    struct wr_args a = {.name = target, .value = policy, .db = att_db(kind), .flag = checked};

    if (a.db == DB_COUNT || !policy_name_ok(policy))
        return TS_E_INVALID_ARGUMENT;
    if (!key_ok(target))
        return checked ? TS_E_NO_SUCH_ENTITY : TS_E_INVALID_ARGUMENT;
    return wr_run(impl, attach_body, &a);
}

static int detach_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    MDB_val k = mval(a->name), v = mval(a->value);
    return map_rc(mdb_del(t, st->dbi[a->db], &k, &v), "detach");
}

static int lm_detach(void *impl, enum iam_target kind, const char *target, const char *policy)
{
    struct wr_args a = {.name = target, .value = policy, .db = att_db(kind)};

    if (a.db == DB_COUNT)
        return TS_E_INVALID_ARGUMENT;
    if (!key_ok(target) || !key_ok(policy))
        return TS_E_NO_SUCH_ENTITY;
    return wr_run(impl, detach_body, &a);
}

static int attached_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct rd_args *a = arg;
    return dup_list(st, t, a->db, a->name, &a->sv);
}

static int lm_attached(void *impl, enum iam_target kind, const char *target, struct iam_strv *out)
{
    struct rd_args a = {.name = target, .db = att_db(kind)};

    if (a.db == DB_COUNT)
        return TS_E_INVALID_ARGUMENT;
    if (!key_ok(target)) {
        *out = a.sv;
        return TS_OK;
    }
    int err = rd_run(impl, attached_body, &a);
    if (err != TS_OK) {
        iam_strv_free(&a.sv);
        return err;
    }
    *out = a.sv;
    return TS_OK;
}

/* ---- revoked keys ---- */

/* Deletes revocations whose expiry has passed. */
static int prune_revoked(struct iam_lmdb *st, MDB_txn *t, time_t now)
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

static int revoke_key_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    int err = prune_revoked(st, t, time(NULL));
    return err != TS_OK ? err : put_i64(st, t, DB_REVOKED, a->name, a->i64);
}

static int lm_revoke_key(void *impl, const char *access_key, time_t expires)
{
    struct wr_args a = {.name = access_key, .i64 = (int64_t)expires};
    return key_ok(access_key) ? wr_run(impl, revoke_key_body, &a) : TS_E_INVALID_ARGUMENT;
}

static int key_revoked_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct rd_args *a = arg;
    MDB_val k = mval(a->name), v;
    int64_t exp = 0;

    if (mdb_get(t, st->dbi[DB_REVOKED], &k, &v) == 0 && get_i64(&v, &exp) == TS_OK)
        a->flag = exp > (int64_t)time(NULL);
    return TS_OK;
}

static bool lm_key_revoked(void *impl, const char *access_key)
{
    struct rd_args a = {.name = access_key};

    if (!key_ok(access_key) || rd_run(impl, key_revoked_body, &a) != TS_OK)
        return false;
    return a.flag;
}

/* ---- blobs ---- */
/* ---- blobs ---- */

/* The version of blob name in t: 0 when absent, the stored one, or 1 for a blob stored
 * before versions. */
static int blob_version(struct iam_lmdb *st, MDB_txn *t, const char *name, uint64_t *ver)
{
    MDB_val k = mval(name), v;
    int rc = mdb_get(t, st->dbi[DB_BLOBS], &k, &v);

    *ver = 0;
    if (rc == MDB_NOTFOUND)
        return TS_OK;
    if (rc != 0)
        return map_rc(rc, "get blob");
    rc = mdb_get(t, st->dbi[DB_BLOBVER], &k, &v);
    if (rc == MDB_NOTFOUND) {
        *ver = 1;
        return TS_OK;
    }
    if (rc != 0 || v.mv_size != sizeof *ver)
        return rc != 0 ? map_rc(rc, "get blob version") : TS_E_INTERNAL;
    memcpy(ver, v.mv_data, sizeof *ver);
    return TS_OK;
}

/* Writes the blob with the next version, when a->flag only over version a->version. */
static int blob_put_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct wr_args *a = arg;
    MDB_val k = mval(a->name), v = {a->len, (void *)(a->len > 0 ? a->data : "")}, vv;
    uint64_t cur;
    int err = blob_version(st, t, a->name, &cur);

    if (err != TS_OK)
        return err;
    if (a->flag && cur != a->version)
        return TS_E_PRECONDITION_FAILED;
    err = map_rc(mdb_put(t, st->dbi[DB_BLOBS], &k, &v, 0), "put blob");
    cur++;
    vv.mv_size = sizeof cur;
    vv.mv_data = &cur;
    return err != TS_OK ? err : map_rc(mdb_put(t, st->dbi[DB_BLOBVER], &k, &vv, 0), "put version");
}

static int lm_blob_put(void *impl, const char *name, const void *data, size_t len)
{
    struct wr_args a = {.name = name, .data = data, .len = len};
    if (!key_ok(name) || (data == NULL && len > 0))
        return TS_E_INVALID_ARGUMENT;
    return wr_run(impl, blob_put_body, &a);
}

static int lm_blob_cas(void *impl, const char *name, uint64_t expected, const void *data,
                       size_t len)
{
    struct wr_args a = {.name = name, .data = data, .len = len, .flag = true, .version = expected};
    if (!key_ok(name) || (data == NULL && len > 0))
        return TS_E_INVALID_ARGUMENT;
    return wr_run(impl, blob_put_body, &a);
}

static int blob_get_body(struct iam_lmdb *st, MDB_txn *t, void *arg)
{
    struct rd_args *a = arg;
    MDB_val k = mval(a->name), v;
    int err = map_rc(mdb_get(t, st->dbi[DB_BLOBS], &k, &v), "get blob");
    if (err == TS_OK)
        err = blob_version(st, t, a->name, &a->version);
    return err != TS_OK ? err : value_copy(&v, a);
}

static int lm_blob_get(void *impl, const char *name, void **data, size_t *len, uint64_t *version)
{
    struct rd_args a = {.name = name};

    if (version != NULL)
        *version = 0;
    if (!key_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    int err = rd_run(impl, blob_get_body, &a);
    if (err != TS_OK)
        return err;
    *data = a.data;
    *len = a.len;
    if (version != NULL)
        *version = a.version;
    return TS_OK;
}

static const struct iam_store_ops lmdb_ops = {
    .close = lm_close,
    .generation = lm_generation,
    .set_reserved = lm_set_reserved,
    .user_add = lm_user_add,
    .user_set_secret = lm_user_set_secret,
    .user_get = lm_user_get,
    .user_set_enabled = lm_user_set_enabled,
    .user_remove = lm_user_remove,
    .user_list = lm_user_list,
    .user_revoke_sessions = lm_user_revoke_sessions,
    .parent_not_before = lm_parent_not_before,
    .parent_revoke_sessions = lm_parent_revoke_sessions,
    .group_add = lm_group_add,
    .group_remove = lm_group_remove,
    .group_get = lm_group_get,
    .group_list = lm_group_list,
    .group_set_enabled = lm_group_set_enabled,
    .policy_put = lm_policy_put,
    .policy_get = lm_policy_get,
    .policy_remove = lm_policy_remove,
    .policy_list = lm_policy_list,
    .attach = lm_attach,
    .detach = lm_detach,
    .attached = lm_attached,
    .revoke_key = lm_revoke_key,
    .key_revoked = lm_key_revoked,
    .blob_put = lm_blob_put,
    .blob_get = lm_blob_get,
    .blob_cas = lm_blob_cas,
};
