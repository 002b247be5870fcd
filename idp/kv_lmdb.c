/* kv_lmdb.c -- the local key-value engine (idp/kv.h) over one LMDB environment.
 *
 * Layout (DATA_DIR/.tessera/iam, docs/ARCHITECTURE.md): one named database per table of
 * KV_TABLES, with the table's name; set tables are DUPSORT databases (key -> each member as
 * one duplicate, kept sorted by LMDB), plain tables map key -> value. The values are the
 * bytes idp/iam.c gives (its record formats are described there). One more database, "meta",
 * holds the generation counter ("generation" -> uint64, host order), incremented by every
 * write transaction that changes a table other than KV_NODES: so the generation follows
 * commits of every process sharing the directory, and heartbeats leave it alone.
 *
 * Transactions: a write runs body in one LMDB write transaction with the default durability
 * (no MDB_NOSYNC; LMDB serialises writers across processes, so a body runs once); a write
 * body that changed nothing is aborted. Reads run in pooled read transactions: the
 * environment is opened with MDB_NOTLS so read transactions are not bound to threads, and
 * finished ones are reset and renewed by the next reader on any thread. Values handed out in a
 * write transaction are copies (LMDB moves data when the transaction writes again), freed
 * when the transaction ends; in a read transaction they point into the map.
 *
 * generation(): the counter as of the last committed transaction, minus its value at open,
 * plus 1. The pair (last transaction id, counter) is cached under a sequence lock, so the
 * usual call is mdb_env_info and three atomic loads; a commit by anyone (seen as a new last
 * transaction id) costs one read of the counter.
 *
 * Thread-safety: env and the dbi handles are immutable after kv_lmdb_open; the pool is
 * guarded by pool_mu, the cached generation by gen_mu (writers) and gen_seq (readers).
 */
#include "idp/kv.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"

#define LM_MAP_SIZE ((size_t)1 << 30) /* virtual; the file grows as needed */
#define LM_POOL_MAX 16
#define LM_META KV_TABLE_COUNT /* the "meta" database, after the tables */

static const char gen_key[] = "generation";

struct kv_lmdb {
    MDB_env *env;
    MDB_dbi dbi[KV_TABLE_COUNT + 1];
    char dir[256];
    pthread_mutex_t pool_mu;
    MDB_txn *pool[LM_POOL_MAX];
    size_t npool;
    uint64_t base;            /* the counter at open */
    pthread_mutex_t gen_mu;   /* serialises updates of the cached pair */
    _Atomic uint64_t gen_seq; /* odd while the pair is being updated */
    _Atomic uint64_t gen_txnid;
    _Atomic uint64_t gen_count;
};

/* A value copied out of a write transaction, freed at its end. */
struct lm_copy {
    struct lm_copy *next;
    unsigned char data[];
};

struct kv_txn {
    struct kv_lmdb *e;
    MDB_txn *txn;
    bool write;
    bool wrote;     /* something changed */
    bool wrote_gen; /* something outside KV_NODES changed */
    struct lm_copy *copies;
};

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

static bool name_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= KV_KEY_MAX;
}

static MDB_val mval(const char *s)
{
    MDB_val v = {strlen(s), (void *)s};
    return v;
}

/* Whether tb is a table of the kind wanted and key (and member, when given) are valid. */
static bool args_ok(enum kv_table tb, bool set, const char *key, const char *member, bool need)
{
    if ((unsigned)tb >= KV_TABLE_COUNT || kv_tables[tb].set != set || !name_ok(key))
        return false;
    return !need || name_ok(member);
}

static void mark_written(struct kv_txn *t, enum kv_table tb)
{
    t->wrote = true;
    if (tb != KV_NODES)
        t->wrote_gen = true;
}

/* In a write transaction, replaces v's data by a copy that lives until the transaction
 * ends. */
static int stable(struct kv_txn *t, MDB_val *v)
{
    if (!t->write)
        return TS_OK;
    struct lm_copy *c = malloc(sizeof *c + v->mv_size + 1);
    if (c == NULL)
        return TS_E_INTERNAL;
    memcpy(c->data, v->mv_data, v->mv_size);
    c->data[v->mv_size] = '\0';
    c->next = t->copies;
    t->copies = c;
    v->mv_data = c->data;
    return TS_OK;
}

static void copies_free(struct kv_txn *t)
{
    while (t->copies != NULL) {
        struct lm_copy *c = t->copies;
        t->copies = c->next;
        free(c);
    }
}

/* ---- operations inside a transaction ---- */

static int lm_get(struct kv_txn *t, enum kv_table tb, const char *key, const void **val,
                  size_t *len)
{
    if (!args_ok(tb, false, key, NULL, false))
        return TS_E_INVALID_ARGUMENT;
    MDB_val k = mval(key), v;
    int err = map_rc(mdb_get(t->txn, t->e->dbi[tb], &k, &v), "get");
    if (err == TS_OK)
        err = stable(t, &v);
    if (err == TS_OK) {
        *val = v.mv_data;
        *len = v.mv_size;
    }
    return err;
}

static int lm_put(struct kv_txn *t, enum kv_table tb, const char *key, const void *val, size_t len)
{
    if (!t->write || !args_ok(tb, false, key, NULL, false) || (val == NULL && len > 0))
        return TS_E_INVALID_ARGUMENT;
    MDB_val k = mval(key), v = {len, (void *)(len > 0 ? val : "")};
    int err = map_rc(mdb_put(t->txn, t->e->dbi[tb], &k, &v, 0), "put");
    if (err == TS_OK)
        mark_written(t, tb);
    return err;
}

static int lm_del(struct kv_txn *t, enum kv_table tb, const char *key)
{
    if (!t->write || (unsigned)tb >= KV_TABLE_COUNT || !name_ok(key))
        return TS_E_INVALID_ARGUMENT;
    MDB_val k = mval(key);
    int err = map_rc(mdb_del(t->txn, t->e->dbi[tb], &k, NULL), "del");
    if (err == TS_OK)
        mark_written(t, tb);
    return err;
}

/* Adds (add) or removes the pair (key, member) of set table tb. */
static int member_write(struct kv_txn *t, enum kv_table tb, const char *key, const char *member,
                        bool add)
{
    if (!t->write || !args_ok(tb, true, key, member, true))
        return TS_E_INVALID_ARGUMENT;
    MDB_val k = mval(key), v = mval(member);
    int rc = add ? mdb_put(t->txn, t->e->dbi[tb], &k, &v, MDB_NODUPDATA)
                 : mdb_del(t->txn, t->e->dbi[tb], &k, &v);
    int err = map_rc(rc, add ? "member add" : "member del");
    if (err == TS_OK)
        mark_written(t, tb);
    return err;
}

static int lm_member_add(struct kv_txn *t, enum kv_table tb, const char *key, const char *member)
{
    return member_write(t, tb, key, member, true);
}

static int lm_member_del(struct kv_txn *t, enum kv_table tb, const char *key, const char *member)
{
    return member_write(t, tb, key, member, false);
}

static int lm_member_has(struct kv_txn *t, enum kv_table tb, const char *key, const char *member)
{
    if (!args_ok(tb, true, key, member, true))
        return TS_E_INVALID_ARGUMENT;
    MDB_cursor *c = NULL;
    MDB_val k = mval(key), v = mval(member);
    int rc = mdb_cursor_open(t->txn, t->e->dbi[tb], &c);
    if (rc == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_GET_BOTH);
    mdb_cursor_close(c);
    return map_rc(rc, "member has");
}

/* Calls fn for the entry (k, v) under the cursor: the key NUL-terminated, a set member too,
 * a plain value as stored (copied in a write transaction). */
static int each_call(struct kv_txn *t, bool set, MDB_val *k, MDB_val *v, kv_each_fn fn, void *arg)
{
    char key[KV_KEY_MAX + 1], member[KV_KEY_MAX + 1];

    if (k->mv_size > KV_KEY_MAX || (set && v->mv_size > KV_KEY_MAX))
        return TS_E_INTERNAL;
    memcpy(key, k->mv_data, k->mv_size);
    key[k->mv_size] = '\0';
    if (set) {
        memcpy(member, v->mv_data, v->mv_size);
        member[v->mv_size] = '\0';
        return fn(key, member, v->mv_size, arg);
    }
    int err = stable(t, v);
    return err != TS_OK ? err : fn(key, v->mv_data, v->mv_size, arg);
}

static int lm_each(struct kv_txn *t, enum kv_table tb, const char *key, kv_each_fn fn, void *arg)
{
    if ((unsigned)tb >= KV_TABLE_COUNT || (key != NULL && !args_ok(tb, true, key, NULL, false)))
        return TS_E_INVALID_ARGUMENT;
    bool set = kv_tables[tb].set;
    MDB_cursor *c = NULL;
    MDB_val k = {0, NULL}, v;
    int err = TS_OK, rc = mdb_cursor_open(t->txn, t->e->dbi[tb], &c);

    if (rc != 0)
        return map_rc(rc, "cursor");
    if (key != NULL)
        k = mval(key);
    rc = mdb_cursor_get(c, &k, &v, key != NULL ? MDB_SET_KEY : MDB_FIRST);
    while (rc == 0 && err == TS_OK) {
        err = each_call(t, set, &k, &v, fn, arg);
        rc = mdb_cursor_get(c, &k, &v, key != NULL ? MDB_NEXT_DUP : MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (err == TS_OK && rc != MDB_NOTFOUND)
        err = map_rc(rc, "cursor");
    return err;
}

/* ---- the generation ---- */

static uint64_t last_txnid(struct kv_lmdb *e)
{
    MDB_envinfo info;
    return mdb_env_info(e->env, &info) == 0 ? (uint64_t)info.me_last_txnid : 0;
}

/* The counter as stored in txn (0 when never written). */
static int counter_get(struct kv_lmdb *e, MDB_txn *txn, uint64_t *out)
{
    MDB_val k = mval(gen_key), v;
    int rc = mdb_get(txn, e->dbi[LM_META], &k, &v);

    *out = 0;
    if (rc == MDB_NOTFOUND)
        return TS_OK;
    if (rc != 0 || v.mv_size != sizeof *out)
        return rc != 0 ? map_rc(rc, "get generation") : TS_E_INTERNAL;
    memcpy(out, v.mv_data, sizeof *out);
    return TS_OK;
}

/* Records that the counter was count as of transaction txnid (kept when newer). */
static void gen_note(struct kv_lmdb *e, uint64_t txnid, uint64_t count)
{
    pthread_mutex_lock(&e->gen_mu);
    if (txnid > atomic_load(&e->gen_txnid)) {
        atomic_fetch_add(&e->gen_seq, 1);
        atomic_store(&e->gen_txnid, txnid);
        atomic_store(&e->gen_count, count);
        atomic_fetch_add(&e->gen_seq, 1);
    }
    pthread_mutex_unlock(&e->gen_mu);
}

static int rd_begin(struct kv_lmdb *e, MDB_txn **out);
static void rd_end(struct kv_lmdb *e, MDB_txn *t);

static uint64_t lm_generation(void *eng)
{
    struct kv_lmdb *e = eng;
    uint64_t last = last_txnid(e), s1 = atomic_load(&e->gen_seq);
    uint64_t txnid = atomic_load(&e->gen_txnid), count = atomic_load(&e->gen_count);

    if ((s1 & 1) == 0 && s1 == atomic_load(&e->gen_seq) && txnid == last)
        return count - e->base + 1;
    MDB_txn *t = NULL;
    if (rd_begin(e, &t) == TS_OK) {
        /* a snapshot at least as new as last: its counter stands for every commit up to it */
        if (counter_get(e, t, &count) == TS_OK)
            gen_note(e, mdb_txn_id(t), count);
        rd_end(e, t);
    }
    /* the newest count noted (by this call or a later one) */
    return atomic_load(&e->gen_count) - e->base + 1;
}

/* ---- transactions ---- */

static int rd_begin(struct kv_lmdb *e, MDB_txn **out)
{
    MDB_txn *t = NULL;
    int rc;

    pthread_mutex_lock(&e->pool_mu);
    if (e->npool > 0)
        t = e->pool[--e->npool];
    pthread_mutex_unlock(&e->pool_mu);
    if (t != NULL) {
        rc = mdb_txn_renew(t);
        if (rc == 0) {
            *out = t;
            return TS_OK;
        }
        mdb_txn_abort(t);
    }
    rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t);
    if (rc != 0)
        return map_rc(rc, "read txn");
    *out = t;
    return TS_OK;
}

static void rd_end(struct kv_lmdb *e, MDB_txn *t)
{
    if (t == NULL)
        return;
    mdb_txn_reset(t);
    pthread_mutex_lock(&e->pool_mu);
    if (e->npool < LM_POOL_MAX) {
        e->pool[e->npool++] = t;
        t = NULL;
    }
    pthread_mutex_unlock(&e->pool_mu);
    if (t != NULL)
        mdb_txn_abort(t);
}

/* Commits the write transaction t->txn (its body returned TS_OK): nothing when nothing
 * changed, else with the counter incremented when a table in the generation changed. */
static int wr_commit(struct kv_txn *t)
{
    struct kv_lmdb *e = t->e;
    uint64_t count = 0, txnid = mdb_txn_id(t->txn);
    int err = counter_get(e, t->txn, &count);

    if (err != TS_OK || !t->wrote) {
        mdb_txn_abort(t->txn);
        return err;
    }
    if (t->wrote_gen) {
        MDB_val k = mval(gen_key), v = {sizeof count, &count};
        count++;
        err = map_rc(mdb_put(t->txn, e->dbi[LM_META], &k, &v, 0), "put generation");
        if (err != TS_OK) {
            mdb_txn_abort(t->txn);
            return err;
        }
    }
    err = map_rc(mdb_txn_commit(t->txn), "commit");
    if (err == TS_OK)
        gen_note(e, txnid, count);
    return err;
}

static int lm_run(void *eng, bool write, kv_body_fn body, void *arg)
{
    struct kv_lmdb *e = eng;
    struct kv_txn t = {.e = e, .write = write};
    int err;

    if (!write) {
        err = rd_begin(e, &t.txn);
        if (err != TS_OK)
            return err;
        err = body(&t, arg);
        rd_end(e, t.txn);
        return err;
    }
    err = map_rc(mdb_txn_begin(e->env, NULL, 0, &t.txn), "write txn");
    if (err != TS_OK)
        return err;
    err = body(&t, arg);
    if (err != TS_OK)
        mdb_txn_abort(t.txn);
    else
        err = wr_commit(&t);
    copies_free(&t);
    return err;
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

/* Opens (creating) every table's database and "meta"; reads the counter into e->base. */
static int open_dbs(struct kv_lmdb *e)
{
    MDB_txn *t = NULL;
    int rc = mdb_txn_begin(e->env, NULL, 0, &t);

    for (int i = 0; rc == 0 && i <= KV_TABLE_COUNT; i++) {
        const char *name = i < KV_TABLE_COUNT ? kv_tables[i].name : "meta";
        unsigned flags = i < KV_TABLE_COUNT && kv_tables[i].set ? MDB_DUPSORT : 0;
        rc = mdb_dbi_open(t, name, flags | MDB_CREATE, &e->dbi[i]);
    }
    if (rc == 0 && counter_get(e, t, &e->base) != TS_OK)
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        /* the cached pair stays empty (txnid 0): the first generation() reads it */
        atomic_store(&e->gen_count, e->base);
        return mdb_txn_commit(t);
    }
    mdb_txn_abort(t);
    return rc;
}

static void lm_close(void *eng);
static const struct kv_engine_ops lmdb_ops;

int kv_lmdb_open(const char *dir, const struct kv_engine_ops **ops, void **eng)
{
    struct kv_lmdb *e = NULL;
    int rc;

    if (mkdir_p(dir) != 0) {
        fprintf(stderr, "tessera: iam store: cannot create %s: %s\n", dir, strerror(errno));
        return TS_E_INTERNAL;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return TS_E_INTERNAL;
    snprintf(e->dir, sizeof e->dir, "%s", dir);
    pthread_mutex_init(&e->pool_mu, NULL);
    pthread_mutex_init(&e->gen_mu, NULL);
    rc = mdb_env_create(&e->env);
    if (rc == 0 && (rc = mdb_env_set_maxdbs(e->env, KV_TABLE_COUNT + 4)) == 0 &&
        (rc = mdb_env_set_mapsize(e->env, LM_MAP_SIZE)) == 0 &&
        (rc = mdb_env_set_maxreaders(e->env, 256)) == 0 &&
        (rc = mdb_env_open(e->env, dir, MDB_NOTLS, 0600)) == 0)
        rc = open_dbs(e);
    if (rc != 0) {
        fprintf(stderr, "tessera: iam store %s: %s\n", dir, mdb_strerror(rc));
        lm_close(e);
        return TS_E_INTERNAL;
    }
    *ops = &lmdb_ops;
    *eng = e;
    return TS_OK;
}

static void lm_close(void *eng)
{
    struct kv_lmdb *e = eng;
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->npool; i++)
        mdb_txn_abort(e->pool[i]);
    if (e->env != NULL)
        mdb_env_close(e->env);
    pthread_mutex_destroy(&e->pool_mu);
    pthread_mutex_destroy(&e->gen_mu);
    free(e);
}

static int lm_fresh(void *eng, struct ts_error *err)
{
    return TS_OK;
}

static void lm_status(void *eng, struct kv_status *out)
{
    struct kv_lmdb *e = eng;
    memset(out, 0, sizeof *out);
    out->engine = "lmdb";
    out->synced_ms_ago = 0;
    out->fresh = true;
    snprintf(out->endpoint, sizeof out->endpoint, "%s", e->dir);
}

static const struct kv_engine_ops lmdb_ops = {
    .close = lm_close,
    .generation = lm_generation,
    .run = lm_run,
    .get = lm_get,
    .put = lm_put,
    .del = lm_del,
    .member_add = lm_member_add,
    .member_del = lm_member_del,
    .member_has = lm_member_has,
    .each = lm_each,
    .fresh = lm_fresh,
    .status = lm_status,
};
