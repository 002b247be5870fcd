/* kv_etcd.c -- the etcd engine of the IAM store (idp/kv.h; docs/ARCHITECTURE.md, "The IAM
 * store on etcd").
 *
 * Layout under P = <TESSERA_ETCD_PATH_PREFIX>tessera/:
 *   P<table>/<esc key>                 plain tables: the value
 *   P<table>/<esc key>/<esc member>    set tables: one empty value per member
 *   P.del/<table>                      put by every transaction that deletes in <table>
 *   P.rev                              put by every transaction (its mod_revision is the
 *                                      revision of the prefix's last change)
 * esc percent-encodes '%', '/' and the bytes below 0x21 and 0x7f, so that a prefix scan of
 * one key's members is exact.
 *
 * Every node keeps a mirror of P (per table a sorted array: O(log n) lookups under a rwlock),
 * loaded by a range read and followed by one watch from the revision after it. A broken
 * watch (connection lost, compaction, cancel, or a watch that lags the heartbeat) leads to a
 * resync: a fresh range read at the current revision replaces the mirror, then a new watch.
 *
 * Freshness: every 500 ms a linearizable read of P.rev gives the revision M of the prefix's
 * last change at time t; once the mirror has applied M, it was current at t. fresh() fails
 * once that time is older than TESSERA_ETCD_STALE_MAX.
 *
 * Writes: the body runs on the mirror (read lock) with an overlay of its own writes; what it
 * read is recorded (key -> mod_revision seen, 0 when absent; iterated ranges). The commit is
 * one txn: compares mod_revision == seen for each key read, and for each iterated range
 * mod_revision < snapshot+1 (catches puts) plus P.del/<table> == seen (catches deletes);
 * success ops are the puts and deletes, failure op a read of P.rev. On conflict the engine
 * waits until the mirror has applied that P.rev, and runs the body again; on success it waits
 * until the mirror has applied the txn's revision (read-your-writes).
 */
#include "idp/kv.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "idp/etcd.h"
#include "idp/iam.h"

#define KE_TXN_MAX 128  /* etcd's default --max-txn-ops (per branch) */
#define KE_ATTEMPTS 64  /* body reruns after conflicts */
#define KE_WAIT_MS 2000 /* read-your-writes / conflict wait */
#define KE_HB_MS 500    /* heartbeat period */
#define KE_LAG_MS 5000  /* a watch that lags a heartbeat this long is restarted */
#define KE_PAGE 1000    /* keys per range page in a resync */
#define KE_HB_RING 16
#define KE_KEYBUF 4096

/* ---- keys ---- */

static bool esc_needed(unsigned char c)
{
    return c == '%' || c == '/' || c < 0x21 || c == 0x7f;
}

static int add_esc(struct buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (esc_needed(*p) ? buf_addf(b, "%%%02X", *p) : buf_add(b, p, 1))
            return -1;
    return 0;
}

/* s[0..n) unescaped into a new string; NULL when malformed (or holds a NUL). */
static char *unesc(const char *s, size_t n)
{
    char *o = malloc(n + 1), *w = o;
    for (size_t i = 0; o != NULL && i < n; i++) {
        if (s[i] != '%') {
            *w++ = s[i];
            continue;
        }
        int hi = i + 2 < n ? enc_hexval(s[i + 1]) : -1, lo = hi >= 0 ? enc_hexval(s[i + 2]) : -1;
        if (lo < 0 || (hi == 0 && lo == 0)) {
            free(o);
            return NULL;
        }
        *w++ = (char)(hi * 16 + lo);
        i += 2;
    }
    if (o != NULL)
        *w = '\0';
    if (o != NULL && (w == o || strlen(o) != (size_t)(w - o))) {
        free(o);
        return NULL;
    }
    return o;
}

/* ---- the mirror ---- */

struct ment {
    char *key, *member; /* member NULL in plain tables */
    char *val;          /* NUL-terminated past vlen */
    size_t vlen;
    int64_t mod;
};

struct mtab {
    struct ment *v;
    size_t n, cap;
};

struct mirror {
    struct mtab t[KV_TABLE_COUNT];
    int64_t delmod[KV_TABLE_COUNT]; /* mod_revision of P.del/<table> */
};

static int ment_cmp(const char *key, const char *member, const struct ment *m)
{
    int c = strcmp(key, m->key);
    return c != 0 ? c : strcmp(member ? member : "", m->member ? m->member : "");
}

static int ment_qcmp(const void *a, const void *b)
{
    const struct ment *x = a;
    return ment_cmp(x->key, x->member, b);
}

/* The index of the first entry >= (key, member). */
static size_t mtab_lb(const struct mtab *t, const char *key, const char *member)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ment_cmp(key, member, &t->v[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct ment *mtab_find(const struct mtab *t, const char *key, const char *member)
{
    size_t i = mtab_lb(t, key, member);
    return i < t->n && ment_cmp(key, member, &t->v[i]) == 0 ? &t->v[i] : NULL;
}

static void ment_free(struct ment *m)
{
    free(m->key);
    free(m->member);
    free(m->val);
}

static void mirror_free(struct mirror *m)
{
    for (size_t i = 0; i < KV_TABLE_COUNT; i++) {
        for (size_t j = 0; j < m->t[i].n; j++)
            ment_free(&m->t[i].v[j]);
        free(m->t[i].v);
    }
    memset(m, 0, sizeof *m);
}

static int mtab_append(struct mtab *t, struct ment *m)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct ment *v = realloc(t->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = *m;
    return 0;
}

/* Inserts or replaces (taking m's strings); deletes when m->val is NULL. */
static int mtab_set(struct mtab *t, struct ment *m)
{
    size_t i = mtab_lb(t, m->key, m->member);
    bool found = i < t->n && ment_cmp(m->key, m->member, &t->v[i]) == 0;
    if (found)
        ment_free(&t->v[i]);
    if (m->val == NULL) {
        if (found)
            memmove(&t->v[i], &t->v[i + 1], (t->n-- - i - 1) * sizeof *t->v);
        ment_free(m);
        return 0;
    }
    if (found) {
        t->v[i] = *m;
        return 0;
    }
    if (mtab_append(t, m) != 0) {
        ment_free(m);
        return -1;
    }
    memmove(&t->v[i + 1], &t->v[i], (t->n - i - 1) * sizeof *t->v);
    t->v[i] = *m;
    return 0;
}

/* ---- the engine ---- */

struct hb {
    int64_t t_ms, rev;
};

struct ke {
    struct etcd *c;
    char *pfx, *pend; /* P and the end of its range */
    size_t pfxlen, pendlen;
    int stale_max_s;
    pthread_rwlock_t lock; /* the mirror */
    struct mirror m;
    _Atomic int64_t applied; /* written under lock */
    atomic_uint_fast64_t gen, resyncs;
    pthread_mutex_t mu; /* hb ring, confirmed; cv: applied moved, or stop */
    pthread_cond_t cv;
    struct hb ring[KE_HB_RING];
    size_t nring;
    _Atomic int64_t confirmed_ms; /* monotonic; 0: never */
    atomic_bool stop, rewatch;
    pthread_t watch_thr, hb_thr;
    bool threads;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The etcd key of (tb, key[, member]) into b; with range, the key's member prefix
 * ("P<table>/<esc key>/"), or with key NULL the table's ("P<table>/"). */
static int key_of(const struct ke *e, struct buf *b, enum kv_table tb, const char *key,
                  const char *member, bool range)
{
    buf_init(b, KE_KEYBUF);
    buf_add(b, e->pfx, e->pfxlen);
    buf_adds(b, kv_tables[tb].name);
    buf_adds(b, "/");
    if (key != NULL) {
        add_esc(b, key);
        if (member != NULL || range)
            buf_adds(b, "/");
        if (member != NULL)
            add_esc(b, member);
    }
    return buf_failed(b) ? -1 : 0;
}

static int meta_key(const struct ke *e, struct buf *b, int tb)
{
    buf_init(b, KE_KEYBUF);
    buf_add(b, e->pfx, e->pfxlen);
    if (tb < 0)
        buf_adds(b, ".rev");
    else
        buf_addf(b, ".del/%s", kv_tables[tb].name);
    return buf_failed(b) ? -1 : 0;
}

static int table_of(const char *s, size_t n)
{
    for (int i = 0; i < KV_TABLE_COUNT; i++)
        if (strlen(kv_tables[i].name) == n && memcmp(kv_tables[i].name, s, n) == 0)
            return i;
    return -1;
}

/* Parses etcd key k (with P): a table entry (*tb >= 0, m->key and m->member set), a deletion
 * clock (*tb >= 0, *del), P.rev or anything else (*tb -1). */
static void parse_key(const struct ke *e, const char *k, size_t n, int *tb, bool *del,
                      struct ment *m)
{
    *tb = -1;
    *del = false;
    memset(m, 0, sizeof *m);
    if (n <= e->pfxlen || memcmp(k, e->pfx, e->pfxlen) != 0)
        return;
    k += e->pfxlen;
    n -= e->pfxlen;
    if (n > 5 && memcmp(k, ".del/", 5) == 0) {
        *tb = table_of(k + 5, n - 5);
        *del = true;
        return;
    }
    const char *sl = memchr(k, '/', n);
    int t = sl != NULL ? table_of(k, (size_t)(sl - k)) : -1;
    if (t < 0)
        return;
    const char *rest = sl + 1, *end = k + n;
    const char *sl2 = memchr(rest, '/', (size_t)(end - rest));
    if ((sl2 != NULL) != kv_tables[t].set)
        return;
    m->key = unesc(rest, (size_t)((sl2 ? sl2 : end) - rest));
    m->member = sl2 != NULL ? unesc(sl2 + 1, (size_t)(end - sl2 - 1)) : NULL;
    if (m->key == NULL || (sl2 != NULL && m->member == NULL)) {
        ment_free(m);
        memset(m, 0, sizeof *m);
        return;
    }
    *tb = t;
}

/* Applies one kv of etcd (put, or delete when del) to mirror m. Returns 1 when a table
 * other than KV_NODES changed, 0 otherwise, -1 on OOM. */
static int apply_kv(const struct ke *e, struct mirror *m, json_t *kv, bool del, bool sorted)
{
    char *k = NULL, *v = NULL;
    size_t kl, vl;
    int tb;
    bool clock;
    struct ment me;
    if (etcd_unb64(json_object_get(kv, "key"), &k, &kl) != 0)
        return 0;
    parse_key(e, k, kl, &tb, &clock, &me);
    free(k);
    int64_t mod = etcd_i64(kv, "mod_revision");
    if (tb < 0 || clock) {
        if (tb >= 0)
            m->delmod[tb] = del ? 0 : mod;
        return 0;
    }
    if (!del && etcd_unb64(json_object_get(kv, "value"), &v, &vl) != 0) {
        ment_free(&me);
        return 0;
    }
    me.val = v;
    me.vlen = del ? 0 : vl;
    me.mod = mod;
    if (!sorted && !del)
        return mtab_append(&m->t[tb], &me) != 0 ? (ment_free(&me), -1) : tb != KV_NODES;
    return mtab_set(&m->t[tb], &me) != 0 ? -1 : tb != KV_NODES;
}

/* Confirms the heartbeats the mirror has caught up with (mu held). */
static void confirm_locked(struct ke *e)
{
    int64_t applied = atomic_load(&e->applied);
    size_t keep = 0;
    for (size_t i = 0; i < e->nring; i++) {
        if (e->ring[i].rev <= applied) {
            if (e->ring[i].t_ms > atomic_load(&e->confirmed_ms))
                atomic_store(&e->confirmed_ms, e->ring[i].t_ms);
        } else {
            e->ring[keep++] = e->ring[i];
        }
    }
    e->nring = keep;
}

static void applied_moved(struct ke *e)
{
    pthread_mutex_lock(&e->mu);
    confirm_locked(e);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* ---- resync and watch ---- */

/* One page of a resync: keys from *from (replaced by the key after the last one), at *rev (0:
 * current, then set). *more tells whether another page follows. */
static int resync_page(struct ke *e, struct mirror *nm, char **from, size_t *fromlen, int64_t *rev,
                       bool *more)
{
    json_t *req = etcd_range_req(*from, *fromlen, e->pend, e->pendlen, *rev, KE_PAGE), *resp;
    if (req == NULL)
        return TS_E_INTERNAL;
    int rc = etcd_call(e->c, "range", "/v3/kv/range", req, &resp);
    json_decref(req);
    if (rc != TS_OK)
        return rc;
    if (*rev == 0)
        *rev = etcd_header_rev(resp);
    json_t *kvs = json_object_get(resp, "kvs"), *kv;
    size_t i;
    json_array_foreach(kvs, i, kv)
    {
        if (apply_kv(e, nm, kv, false, false) < 0)
            rc = TS_E_INTERNAL;
    }
    *more = json_is_true(json_object_get(resp, "more")) && json_array_size(kvs) > 0;
    if (*more) {
        char *k;
        size_t kl;
        if (etcd_unb64(json_object_get(json_array_get(kvs, json_array_size(kvs) - 1), "key"), &k,
                       &kl) != 0) {
            rc = TS_E_INTERNAL;
        } else {
            free(*from);
            *from = k;
            *fromlen = kl + 1; /* the key after: k followed by a NUL byte */
        }
    }
    json_decref(resp);
    return rc;
}

/* Loads the whole prefix at the current revision and replaces the mirror with it. */
static int resync(struct ke *e)
{
    int64_t t0 = now_ms(), rev = 0;
    struct mirror nm = {0};
    size_t fromlen = e->pfxlen;
    char *from = strndup(e->pfx, e->pfxlen);
    bool more = true;
    int rc = from != NULL ? TS_OK : TS_E_INTERNAL;
    while (rc == TS_OK && more)
        rc = resync_page(e, &nm, &from, &fromlen, &rev, &more);
    free(from);
    for (size_t i = 0; rc == TS_OK && i < KV_TABLE_COUNT; i++)
        if (nm.t[i].n > 1)
            qsort(nm.t[i].v, nm.t[i].n, sizeof *nm.t[i].v, ment_qcmp);
    if (rc != TS_OK) {
        mirror_free(&nm);
        return rc;
    }
    pthread_rwlock_wrlock(&e->lock);
    mirror_free(&e->m);
    e->m = nm;
    atomic_store(&e->applied, rev);
    atomic_fetch_add(&e->gen, 1);
    pthread_rwlock_unlock(&e->lock);
    pthread_mutex_lock(&e->mu);
    if (t0 > atomic_load(&e->confirmed_ms)) /* a linearizable read: current at t0 */
        atomic_store(&e->confirmed_ms, t0);
    pthread_mutex_unlock(&e->mu);
    applied_moved(e);
    return TS_OK;
}

/* One watch result: events applied under the write lock; cancel or compaction ends the
 * watch (1: resync). */
static int on_result(json_t *res, void *arg)
{
    struct ke *e = arg;
    if (json_is_true(json_object_get(res, "canceled")) || etcd_i64(res, "compact_revision") > 0) {
        log_event(LOG_WARN, "etcd", "watch ended by etcd (compacted at %lld): resync",
                  (long long)etcd_i64(res, "compact_revision"));
        return 1;
    }
    json_t *evs = json_object_get(res, "events"), *ev;
    size_t i;
    if (json_array_size(evs) == 0)
        return 0;
    int64_t top = 0;
    bool changed = false;
    int rc = 0;
    pthread_rwlock_wrlock(&e->lock);
    json_array_foreach(evs, i, ev)
    {
        json_t *kv = json_object_get(ev, "kv");
        const char *type = json_string_value(json_object_get(ev, "type"));
        int r = apply_kv(e, &e->m, kv, type != NULL && strcmp(type, "DELETE") == 0, true);
        changed |= r > 0;
        rc = r < 0 ? 1 : rc; /* out of memory: the mirror is incomplete, reload it */
        int64_t mod = etcd_i64(kv, "mod_revision");
        top = mod > top ? mod : top;
    }
    if (top > atomic_load(&e->applied))
        atomic_store(&e->applied, top);
    if (changed)
        atomic_fetch_add(&e->gen, 1);
    pthread_rwlock_unlock(&e->lock);
    applied_moved(e);
    return rc;
}

static bool watch_stop(void *arg)
{
    struct ke *e = arg;
    return atomic_load(&e->stop) || atomic_load(&e->rewatch);
}

/* The CLOCK_MONOTONIC time ms from now. */
static struct timespec after_ms(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

/* Sleeps ms, or less when the engine closes. */
static void nap(struct ke *e, long ms)
{
    struct timespec ts = after_ms(ms);
    pthread_mutex_lock(&e->mu);
    while (!atomic_load(&e->stop) && pthread_cond_timedwait(&e->cv, &e->mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&e->mu);
}

static void *watch_main(void *arg)
{
    struct ke *e = arg;
    struct etcd_watch_cb cb = {.on_result = on_result, .stop = watch_stop, .arg = e};
    bool need_resync = false;
    long backoff = 100;
    while (!atomic_load(&e->stop)) {
        if (need_resync) {
            if (resync(e) != TS_OK) {
                nap(e, backoff);
                backoff = backoff < 2000 ? backoff * 2 : 2000;
                continue;
            }
            atomic_fetch_add(&e->resyncs, 1);
            metrics_inc("tessera_etcd_watch_resyncs_total",
                        "Full reloads of the IAM mirror from etcd after a broken watch.", NULL, 1);
            need_resync = false;
            backoff = 100;
        }
        atomic_store(&e->rewatch, false);
        int rc = etcd_watch(e->c, e->pfx, e->pfxlen, e->pend, e->pendlen,
                            atomic_load(&e->applied) + 1, &cb);
        if (atomic_load(&e->stop))
            break;
        need_resync = true;
        if (rc == TS_E_SERVICE_UNAVAILABLE)
            nap(e, backoff);
    }
    return NULL;
}

/* ---- heartbeat ---- */

static void publish_gauges(struct ke *e)
{
    int64_t c = atomic_load(&e->confirmed_ms);
    metrics_set("tessera_etcd_stale_seconds",
                "Seconds since the IAM mirror was last confirmed current with etcd.", NULL,
                c > 0 ? (now_ms() - c) / 1000 : -1);
    metrics_set("tessera_etcd_applied_revision",
                "The etcd revision the IAM mirror of this node has applied.", NULL,
                atomic_load(&e->applied));
}

/* Reads P.rev (linearizable: needs a quorum) and records (now, its mod_revision). */
static void heartbeat(struct ke *e)
{
    struct buf k;
    json_t *req = NULL, *resp = NULL;
    int64_t t = now_ms();
    if (meta_key(e, &k, -1) == 0)
        req = etcd_range_req(buf_str(&k), buf_len(&k), NULL, 0, 0, 0);
    buf_free(&k);
    int rc = req != NULL ? etcd_call(e->c, "heartbeat", "/v3/kv/range", req, &resp) : -1;
    json_decref(req);
    if (rc == TS_OK) {
        int64_t rev = etcd_i64(json_array_get(json_object_get(resp, "kvs"), 0), "mod_revision");
        pthread_mutex_lock(&e->mu);
        if (e->nring == KE_HB_RING)
            memmove(&e->ring[0], &e->ring[1], --e->nring * sizeof e->ring[0]);
        e->ring[e->nring++] = (struct hb){t, rev};
        confirm_locked(e);
        if (e->nring > 0 && t - e->ring[0].t_ms > KE_LAG_MS) { /* the watch is stuck */
            log_event(LOG_WARN, "etcd", "watch lags revision %lld: restarting it",
                      (long long)e->ring[0].rev);
            e->nring = 0;
            atomic_store(&e->rewatch, true);
        }
        pthread_mutex_unlock(&e->mu);
    }
    json_decref(resp);
    publish_gauges(e);
}

static void *hb_main(void *arg)
{
    struct ke *e = arg;
    while (!atomic_load(&e->stop)) {
        heartbeat(e);
        nap(e, KE_HB_MS);
    }
    return NULL;
}

/* Waits (at most ms) until the mirror has applied rev. */
static bool wait_applied(struct ke *e, int64_t rev, long ms)
{
    int64_t deadline = now_ms() + ms;
    pthread_mutex_lock(&e->mu);
    while (atomic_load(&e->applied) < rev && !atomic_load(&e->stop)) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        struct timespec ts = after_ms((long)left);
        pthread_cond_timedwait(&e->cv, &e->mu, &ts);
    }
    pthread_mutex_unlock(&e->mu);
    return atomic_load(&e->applied) >= rev;
}

/* ---- transactions ---- */

struct went { /* a write of the body: (tb, key[, member]) present with val, or removed */
    enum kv_table tb;
    char *key, *member;
    bool present;
    char *val;
    size_t vlen;
};

struct rd { /* a read: key (end NULL) seen at mod, or range [key, end) iterated */
    char *key, *end;
    size_t klen, elen;
    int64_t mod;
};

struct kv_txn {
    struct ke *e;
    bool write;
    int64_t snap;
    struct went *w;
    size_t nw, capw;
    struct rd *r;
    size_t nr, capr;
    void **gc; /* what the body may still point to: freed at the end */
    size_t ngc, capgc;
};

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 8;
    void *nv = realloc(*v, c * size);
    if (nv == NULL)
        return false;
    *v = nv;
    *cap = c;
    return true;
}

/* Remembers p (freed with the transaction); NULL when p is NULL or memory ran out. */
static void *keep(struct kv_txn *t, void *p)
{
    if (p != NULL && !grow((void **)&t->gc, &t->capgc, t->ngc, sizeof *t->gc)) {
        free(p);
        return NULL;
    }
    if (p != NULL)
        t->gc[t->ngc++] = p;
    return p;
}

static void txn_free(struct kv_txn *t)
{
    for (size_t i = 0; i < t->ngc; i++)
        free(t->gc[i]);
    for (size_t i = 0; i < t->nr; i++) {
        free(t->r[i].key);
        free(t->r[i].end);
    }
    free(t->gc);
    free(t->w);
    free(t->r);
}

static bool name_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= KV_KEY_MAX;
}

static bool args_ok(enum kv_table tb, bool set, const char *key, const char *member, bool need)
{
    if ((unsigned)tb >= KV_TABLE_COUNT || kv_tables[tb].set != set || !name_ok(key))
        return false;
    return !need || name_ok(member);
}

static struct went *went_find(struct kv_txn *t, enum kv_table tb, const char *key,
                              const char *member)
{
    for (size_t i = t->nw; i-- > 0;) {
        struct went *w = &t->w[i];
        if (w->tb == tb && strcmp(w->key, key) == 0 &&
            ((member == NULL && w->member == NULL) ||
             (member != NULL && w->member != NULL && strcmp(w->member, member) == 0)))
            return w;
    }
    return NULL;
}

static int went_set(struct kv_txn *t, enum kv_table tb, const char *key, const char *member,
                    const void *val, size_t vlen)
{
    struct went *w = went_find(t, tb, key, member);
    if (w == NULL) {
        if (!grow((void **)&t->w, &t->capw, t->nw, sizeof *t->w))
            return TS_E_INTERNAL;
        w = &t->w[t->nw];
        *w = (struct went){.tb = tb, .key = keep(t, strdup(key))};
        w->member = member != NULL ? keep(t, strdup(member)) : NULL;
        if (w->key == NULL || (member != NULL && w->member == NULL))
            return TS_E_INTERNAL;
        t->nw++;
    }
    w->present = val != NULL;
    w->val = NULL;
    w->vlen = 0;
    if (val != NULL) {
        if ((w->val = keep(t, malloc(vlen + 1))) == NULL)
            return TS_E_INTERNAL;
        memcpy(w->val, val, vlen);
        w->val[vlen] = '\0';
        w->vlen = vlen;
    }
    return TS_OK;
}

/* Records a read of etcd key b (end NULL) at mod, or of range [b, end). */
static int record(struct kv_txn *t, struct buf *b, bool range, int64_t mod)
{
    if (!t->write)
        return TS_OK;
    size_t elen = 0;
    char *end = range ? etcd_prefix_end(buf_str(b), buf_len(b), &elen) : NULL;
    for (size_t i = 0; i < t->nr; i++)
        if (t->r[i].klen == buf_len(b) && memcmp(t->r[i].key, buf_str(b), buf_len(b)) == 0 &&
            (t->r[i].end != NULL) == range) {
            free(end);
            return TS_OK;
        }
    if ((range && end == NULL) || !grow((void **)&t->r, &t->capr, t->nr, sizeof *t->r)) {
        free(end);
        return TS_E_INTERNAL;
    }
    size_t klen;
    char *key = buf_take(b, &klen);
    if (key == NULL) {
        free(end);
        return TS_E_INTERNAL;
    }
    t->r[t->nr++] = (struct rd){key, end, klen, elen, mod};
    return TS_OK;
}

static int record_key(struct kv_txn *t, enum kv_table tb, const char *key, const char *member,
                      const struct ment *m)
{
    struct buf b;
    if (!t->write)
        return TS_OK;
    int rc = key_of(t->e, &b, tb, key, member, false) == 0
                 ? record(t, &b, false, m != NULL ? m->mod : 0)
                 : TS_E_INTERNAL;
    buf_free(&b);
    return rc;
}

/* The range of key's members (set table), or of the whole table (key NULL), and the
 * table's deletion clock. */
static int record_range(struct kv_txn *t, enum kv_table tb, const char *key)
{
    struct buf b;
    if (!t->write)
        return TS_OK;
    int rc = key_of(t->e, &b, tb, key, NULL, true) == 0 ? record(t, &b, true, 0) : TS_E_INTERNAL;
    buf_free(&b);
    if (rc == TS_OK)
        rc = meta_key(t->e, &b, (int)tb) == 0 ? record(t, &b, false, t->e->m.delmod[tb])
                                              : TS_E_INTERNAL;
    buf_free(&b);
    return rc;
}

/* Looks (tb, key[, member]) up in the body's writes, then in the mirror (recording the read):
 * 1 present (*val, *len), 0 absent, or an error (< 0: -TS_E_...). */
static int lookup(struct kv_txn *t, enum kv_table tb, const char *key, const char *member,
                  const void **val, size_t *len)
{
    struct went *w = went_find(t, tb, key, member);
    if (w != NULL) {
        *val = w->val;
        *len = w->vlen;
        return w->present ? 1 : 0;
    }
    struct ment *m = mtab_find(&t->e->m.t[tb], key, member);
    if (record_key(t, tb, key, member, m) != TS_OK)
        return -TS_E_INTERNAL;
    if (m == NULL)
        return 0;
    *val = m->val;
    *len = m->vlen;
    return 1;
}

static int ke_get(struct kv_txn *t, enum kv_table tb, const char *key, const void **val,
                  size_t *len)
{
    if (!args_ok(tb, false, key, NULL, false))
        return TS_E_INVALID_ARGUMENT;
    int r = lookup(t, tb, key, NULL, val, len);
    return r < 0 ? -r : r ? TS_OK : TS_E_NO_SUCH_ENTITY;
}

static int ke_put(struct kv_txn *t, enum kv_table tb, const char *key, const void *val, size_t len)
{
    if (!args_ok(tb, false, key, NULL, false) || val == NULL)
        return TS_E_INVALID_ARGUMENT;
    return t->write ? went_set(t, tb, key, NULL, val, len) : TS_E_INTERNAL;
}

static int ke_member_has(struct kv_txn *t, enum kv_table tb, const char *key, const char *member)
{
    const void *v;
    size_t l;
    if (!args_ok(tb, true, key, member, true))
        return TS_E_INVALID_ARGUMENT;
    int r = lookup(t, tb, key, member, &v, &l);
    return r < 0 ? -r : r ? TS_OK : TS_E_NO_SUCH_ENTITY;
}

static int ke_member_add(struct kv_txn *t, enum kv_table tb, const char *key, const char *member)
{
    if (!t->write)
        return TS_E_INTERNAL;
    int rc = ke_member_has(t, tb, key, member);
    if (rc == TS_OK)
        return TS_E_ENTITY_EXISTS;
    return rc == TS_E_NO_SUCH_ENTITY ? went_set(t, tb, key, member, "", 0) : rc;
}

static int ke_member_del(struct kv_txn *t, enum kv_table tb, const char *key, const char *member)
{
    if (!t->write)
        return TS_E_INTERNAL;
    int rc = ke_member_has(t, tb, key, member);
    return rc == TS_OK ? went_set(t, tb, key, member, NULL, 0) : rc;
}

/* An entry of a merged walk (mirror and the body's writes). */
struct item {
    const char *key, *member, *val;
    size_t vlen;
};

static int item_cmp(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c != 0 ? c : strcmp(x->member ? x->member : "", y->member ? y->member : "");
}

/* The entries of key (set table) or of the whole table (key NULL), sorted, with the body's
 * writes applied: *out (malloc'ed), *n. */
static int merged(struct kv_txn *t, enum kv_table tb, const char *key, struct item **out, size_t *n)
{
    const struct mtab *tab = &t->e->m.t[tb];
    size_t i = key != NULL ? mtab_lb(tab, key, "") : 0, cap = 0;
    *out = NULL;
    *n = 0;
    for (; i < tab->n && (key == NULL || strcmp(tab->v[i].key, key) == 0); i++) {
        const struct ment *m = &tab->v[i];
        if (went_find(t, tb, m->key, m->member) != NULL)
            continue;
        if (!grow((void **)out, &cap, *n, sizeof **out))
            return TS_E_INTERNAL;
        (*out)[(*n)++] = (struct item){m->key, m->member, m->val, m->vlen};
    }
    for (size_t j = 0; j < t->nw; j++) {
        const struct went *w = &t->w[j];
        if (w->tb != tb || !w->present || (key != NULL && strcmp(w->key, key) != 0))
            continue;
        if (!grow((void **)out, &cap, *n, sizeof **out))
            return TS_E_INTERNAL;
        (*out)[(*n)++] = (struct item){w->key, w->member, w->val, w->vlen};
    }
    if (*n > 0)
        qsort(*out, *n, sizeof **out, item_cmp);
    return TS_OK;
}

/* The entries of key's set (or of the whole table, key NULL) as the body sees them, with the
 * range recorded for the commit's compares. */
static int walk(struct kv_txn *t, enum kv_table tb, const char *key, struct item **it, size_t *n)
{
    int rc = record_range(t, tb, key);
    return rc == TS_OK ? merged(t, tb, key, it, n) : rc;
}

static int ke_each(struct kv_txn *t, enum kv_table tb, const char *key, kv_each_fn fn, void *arg)
{
    if ((unsigned)tb >= KV_TABLE_COUNT || (key != NULL && !args_ok(tb, true, key, NULL, false)))
        return TS_E_INVALID_ARGUMENT;
    struct item *it;
    size_t n;
    int rc = walk(t, tb, key, &it, &n);
    if (rc != TS_OK)
        return rc;
    bool set = kv_tables[tb].set;
    for (size_t i = 0; i < n && rc == TS_OK; i++)
        rc = set ? fn(it[i].key, it[i].member, strlen(it[i].member), arg)
                 : fn(it[i].key, it[i].val, it[i].vlen, arg);
    free(it);
    return rc;
}

static int ke_del(struct kv_txn *t, enum kv_table tb, const char *key)
{
    if ((unsigned)tb >= KV_TABLE_COUNT || !args_ok(tb, kv_tables[tb].set, key, NULL, false))
        return TS_E_INVALID_ARGUMENT;
    if (!t->write)
        return TS_E_INTERNAL;
    if (!kv_tables[tb].set) {
        const void *v;
        size_t l;
        int r = lookup(t, tb, key, NULL, &v, &l);
        return r < 0 ? -r : r ? went_set(t, tb, key, NULL, NULL, 0) : TS_E_NO_SUCH_ENTITY;
    }
    struct item *it;
    size_t n;
    int rc = walk(t, tb, key, &it, &n);
    if (rc != TS_OK)
        return rc;
    for (size_t i = 0; i < n && rc == TS_OK; i++) {
        char *m = keep(t, strdup(it[i].member)); /* went_set may move what it points to */
        rc = m != NULL ? went_set(t, tb, key, m, NULL, 0) : TS_E_INTERNAL;
    }
    free(it);
    return rc == TS_OK && n == 0 ? TS_E_NO_SUCH_ENTITY : rc;
}

/* ---- commit ---- */

static int push(json_t *arr, json_t *o)
{
    return o != NULL ? json_array_append_new(arr, o) : -1;
}

static int push_meta_put(struct ke *e, json_t *ops, int tb)
{
    struct buf b;
    int rc =
        meta_key(e, &b, tb) == 0 ? push(ops, etcd_op_put(buf_str(&b), buf_len(&b), "", 0)) : -1;
    buf_free(&b);
    return rc;
}

/* The success operations: the body's writes, the deletion clocks of the tables it deleted
 * in, and P.rev. 1 when there is nothing to write. */
static int build_ops(struct kv_txn *t, json_t *ops)
{
    bool deleted[KV_TABLE_COUNT] = {false};
    int rc = 0;
    for (size_t i = 0; i < t->nw && rc == 0; i++) {
        const struct went *w = &t->w[i];
        struct buf b;
        if ((rc = key_of(t->e, &b, w->tb, w->key, w->member, false)) != 0)
            break;
        if (w->present)
            rc = push(ops, etcd_op_put(buf_str(&b), buf_len(&b), w->val, w->vlen));
        else if (mtab_find(&t->e->m.t[w->tb], w->key, w->member) != NULL) {
            rc = push(ops, etcd_op_del(buf_str(&b), buf_len(&b), NULL, 0));
            deleted[w->tb] = true;
        }
        buf_free(&b);
    }
    for (int tb = 0; tb < KV_TABLE_COUNT && rc == 0; tb++)
        if (deleted[tb])
            rc = push_meta_put(t->e, ops, tb);
    if (rc != 0)
        return -1;
    if (json_array_size(ops) == 0)
        return 1;
    return push_meta_put(t->e, ops, -1);
}

/* A range compare "mod_revision < snap+1" over [P+a, P+b) (b NULL: to the prefix's end). */
static int push_range_cmp(struct kv_txn *t, json_t *cmps, const char *a, size_t alen, const char *b,
                          size_t blen)
{
    struct ke *e = t->e;
    struct buf k, end;
    buf_init(&k, KE_KEYBUF);
    buf_init(&end, KE_KEYBUF);
    buf_add(&k, e->pfx, e->pfxlen);
    buf_add(&k, a, alen);
    if (b != NULL) {
        buf_add(&end, e->pfx, e->pfxlen);
        buf_add(&end, b, blen);
    } else {
        buf_add(&end, e->pend, e->pendlen);
    }
    int rc = buf_failed(&k) || buf_failed(&end)
                 ? -1
                 : push(cmps, etcd_cmp_mod(buf_str(&k), buf_len(&k), buf_str(&end), buf_len(&end),
                                           "LESS", t->snap + 1));
    buf_free(&k);
    buf_free(&end);
    return rc;
}

/* The compares: one per key read and per range iterated; past etcd's limit, the whole
 * prefix but the node heartbeats must be unchanged since the snapshot (conservative). */
static int build_cmps(struct kv_txn *t, json_t *cmps)
{
    int rc = 0;
    if (t->nr > KE_TXN_MAX) {
        static const char dn[] = ".del/nodes", dn0[] = ".del/nodes\0", n0[] = "nodes/",
                          n1[] = "nodes0";
        rc |= push_range_cmp(t, cmps, "", 0, dn, sizeof dn - 1);
        rc |= push_range_cmp(t, cmps, dn0, sizeof dn0 - 1, n0, sizeof n0 - 1);
        rc |= push_range_cmp(t, cmps, n1, sizeof n1 - 1, NULL, 0);
        return rc;
    }
    for (size_t i = 0; i < t->nr && rc == 0; i++) {
        const struct rd *r = &t->r[i];
        rc = push(cmps, r->end != NULL
                            ? etcd_cmp_mod(r->key, r->klen, r->end, r->elen, "LESS", t->snap + 1)
                            : etcd_cmp_mod(r->key, r->klen, NULL, 0, "EQUAL", r->mod));
    }
    return rc;
}

/* The txn request for the body's writes: *req, or NULL when there is nothing to write. */
static int build_txn(struct kv_txn *t, json_t **req)
{
    json_t *cmps = json_array(), *ops = json_array(), *fail = json_array();
    struct buf b;
    *req = NULL;
    int r = cmps && ops && fail ? build_ops(t, ops) : -1;
    if (r == 0 && json_array_size(ops) > KE_TXN_MAX) {
        log_event(LOG_ERROR, "etcd",
                  "a transaction of %zu writes is over etcd's limit of %d operations",
                  json_array_size(ops), KE_TXN_MAX);
        r = -TS_E_INVALID_ARGUMENT;
    }
    if (r == 0 &&
        (build_cmps(t, cmps) != 0 || meta_key(t->e, &b, -1) != 0 ||
         push(fail, etcd_op_range(etcd_range_req(buf_str(&b), buf_len(&b), NULL, 0, 0, 0))) != 0))
        r = -1;
    if (r == 0)
        buf_free(&b);
    if (r == 0 && (*req = json_pack("{s:O, s:O, s:O}", "compare", cmps, "success", ops, "failure",
                                    fail)) == NULL)
        r = -1;
    json_decref(cmps);
    json_decref(ops);
    json_decref(fail);
    return r == 1                        ? TS_OK
           : r == -TS_E_INVALID_ARGUMENT ? TS_E_INVALID_ARGUMENT
           : r != 0                      ? TS_E_INTERNAL
                                         : TS_OK;
}

/* Runs body once on the mirror and commits what it wrote. TS_OK with *rev the txn's revision
 * (0: nothing written), or *conflict set with *rev the revision to wait for; or an error. */
static int attempt(struct ke *e, kv_body_fn body, void *arg, bool *conflict, int64_t *rev)
{
    struct kv_txn t = {.e = e, .write = true};
    json_t *req = NULL, *resp = NULL;
    *conflict = false;
    *rev = 0;
    pthread_rwlock_rdlock(&e->lock);
    t.snap = atomic_load(&e->applied);
    int rc = body(&t, arg);
    if (rc == TS_OK && t.nw > 0)
        rc = build_txn(&t, &req);
    pthread_rwlock_unlock(&e->lock);
    txn_free(&t);
    if (rc != TS_OK || req == NULL)
        return rc;
    rc = etcd_call(e->c, "txn", "/v3/kv/txn", req, &resp);
    json_decref(req);
    if (rc != TS_OK)
        return rc;
    if (json_is_true(json_object_get(resp, "succeeded"))) {
        *rev = etcd_header_rev(resp);
    } else {
        json_t *rr = json_object_get(json_array_get(json_object_get(resp, "responses"), 0),
                                     "response_range");
        *rev = etcd_i64(json_array_get(json_object_get(rr, "kvs"), 0), "mod_revision");
        *conflict = true;
    }
    json_decref(resp);
    return TS_OK;
}

static int ke_run(void *eng, bool write, kv_body_fn body, void *arg)
{
    struct ke *e = eng;
    if (!write) {
        struct kv_txn t = {.e = e};
        pthread_rwlock_rdlock(&e->lock);
        t.snap = atomic_load(&e->applied);
        int rc = body(&t, arg);
        pthread_rwlock_unlock(&e->lock);
        txn_free(&t);
        return rc;
    }
    for (int i = 0; i < KE_ATTEMPTS; i++) {
        bool conflict;
        int64_t rev;
        int rc = attempt(e, body, arg, &conflict, &rev);
        if (rc != TS_OK)
            return rc;
        if (!conflict) {
            if (rev > 0 && !wait_applied(e, rev, KE_WAIT_MS))
                log_event(LOG_WARN, "etcd", "committed revision %lld not yet applied here",
                          (long long)rev);
            return TS_OK;
        }
        if (!wait_applied(e, rev, KE_WAIT_MS) || i > 8)
            nap(e, 5L * i); /* not caught up yet (or a writer outside tessera): back off */
    }
    log_event(LOG_ERROR, "etcd", "transaction abandoned after %d conflicts", KE_ATTEMPTS);
    return TS_E_SERVICE_UNAVAILABLE;
}

/* ---- the engine's other operations ---- */

static uint64_t ke_generation(void *eng)
{
    return atomic_load(&((struct ke *)eng)->gen);
}

static int64_t synced_ago(struct ke *e)
{
    int64_t c = atomic_load(&e->confirmed_ms);
    return c > 0 ? now_ms() - c : -1;
}

static int ke_fresh(void *eng, struct ts_error *err)
{
    struct ke *e = eng;
    int64_t ago = synced_ago(e);
    if (ago >= 0 && ago <= (int64_t)e->stale_max_s * 1000)
        return TS_OK;
    if (err == NULL)
        return TS_E_SERVICE_UNAVAILABLE;
    return ts_error_set(err, TS_E_SERVICE_UNAVAILABLE,
                        "IAM store (etcd) not synchronised for %lld s (TESSERA_ETCD_STALE_MAX=%d)",
                        (long long)(ago / 1000), e->stale_max_s);
}

static void ke_status(void *eng, struct kv_status *out)
{
    struct ke *e = eng;
    memset(out, 0, sizeof *out);
    out->engine = "etcd";
    out->revision = (uint64_t)atomic_load(&e->applied);
    out->synced_ms_ago = synced_ago(e);
    out->fresh = ke_fresh(e, NULL) == TS_OK;
    out->resyncs = atomic_load(&e->resyncs);
    etcd_endpoint(e->c, out->endpoint, sizeof out->endpoint);
}

static void ke_close(void *eng)
{
    struct ke *e = eng;
    if (e == NULL)
        return;
    if (e->threads) {
        pthread_mutex_lock(&e->mu);
        atomic_store(&e->stop, true);
        pthread_cond_broadcast(&e->cv);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->watch_thr, NULL);
        pthread_join(e->hb_thr, NULL);
    }
    mirror_free(&e->m);
    etcd_free(e->c);
    free(e->pfx);
    free(e->pend);
    pthread_rwlock_destroy(&e->lock);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
}

static const struct kv_engine_ops ke_ops = {
    .close = ke_close,
    .generation = ke_generation,
    .run = ke_run,
    .get = ke_get,
    .put = ke_put,
    .del = ke_del,
    .member_add = ke_member_add,
    .member_del = ke_member_del,
    .member_has = ke_member_has,
    .each = ke_each,
    .fresh = ke_fresh,
    .status = ke_status,
};

/* Locks and the condition variable (on the monotonic clock); writers are preferred so that
 * readers cannot starve the watch. */
static int ke_init_sync(struct ke *e)
{
    pthread_rwlockattr_t ra;
    pthread_condattr_t ca;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&e->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    return pthread_mutex_init(&e->mu, NULL) == 0 ? 0 : -1;
}

static void register_metrics(void)
{
    static const char *const ops[] = {"range", "txn", "heartbeat"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        char l[32];
        snprintf(l, sizeof l, "op=\"%s\"", ops[i]);
        metrics_inc("tessera_etcd_requests_total", "Requests to etcd, by operation.", l, 0);
        metrics_inc("tessera_etcd_request_microseconds_total",
                    "Time spent in requests to etcd (microseconds), by operation.", l, 0);
    }
    metrics_inc("tessera_etcd_watch_resyncs_total",
                "Full reloads of the IAM mirror from etcd after a broken watch.", NULL, 0);
}

static int ke_new(const struct kv_etcd_config *cfg, struct ke **out)
{
    struct etcd_config ec = {
        .endpoints = cfg->endpoints,
        .ca_file = cfg->ca_file,
        .client_cert = cfg->client_cert,
        .client_key = cfg->client_key,
        .username = cfg->username,
        .password = cfg->password,
    };
    const char *p = cfg->prefix != NULL ? cfg->prefix : "";
    struct ke *e = calloc(1, sizeof *e);
    if (e == NULL || ke_init_sync(e) != 0) {
        free(e);
        return TS_E_INTERNAL;
    }
    atomic_store(&e->gen, 1);
    e->stale_max_s = cfg->stale_max_s > 0 ? cfg->stale_max_s : 60;
    e->pfxlen = strlen(p) + strlen("tessera/");
    if ((e->pfx = malloc(e->pfxlen + 1)) != NULL)
        snprintf(e->pfx, e->pfxlen + 1, "%stessera/", p);
    e->pend = e->pfx != NULL ? etcd_prefix_end(e->pfx, e->pfxlen, &e->pendlen) : NULL;
    int rc = e->pend != NULL ? etcd_new(&ec, &e->c) : TS_E_INTERNAL;
    if (rc != TS_OK) {
        ke_close(e);
        return rc;
    }
    *out = e;
    return TS_OK;
}

int kv_etcd_open(const struct kv_etcd_config *cfg, const struct kv_engine_ops **ops, void **eng)
{
    struct ke *e;
    char ep[256];
    int rc = ke_new(cfg, &e);
    if (rc != TS_OK)
        return rc;
    register_metrics();
    if ((rc = resync(e)) != TS_OK) {
        etcd_endpoint(e->c, ep, sizeof ep);
        fprintf(stderr, "tessera: cannot load the IAM store from etcd (%s, last tried %s): %s\n",
                cfg->endpoints, ep,
                rc == TS_E_SERVICE_UNAVAILABLE ? "unreachable or without quorum"
                                               : "request refused (see the log)");
        ke_close(e);
        return rc;
    }
    if (pthread_create(&e->watch_thr, NULL, watch_main, e) != 0) {
        ke_close(e);
        return TS_E_INTERNAL;
    }
    if (pthread_create(&e->hb_thr, NULL, hb_main, e) != 0) {
        atomic_store(&e->stop, true);
        pthread_join(e->watch_thr, NULL);
        ke_close(e);
        return TS_E_INTERNAL;
    }
    e->threads = true;
    publish_gauges(e);
    *ops = &ke_ops;
    *eng = e;
    return TS_OK;
}

int iam_store_open_etcd(const struct kv_etcd_config *cfg, struct iam_store **out)
{
    const struct kv_engine_ops *ops;
    void *eng;
    int rc = kv_etcd_open(cfg, &ops, &eng);
    return rc == TS_OK ? iam_store_from_engine(ops, eng, out) : rc;
}
