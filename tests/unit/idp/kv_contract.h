/* kv_contract.h -- what every key-value engine (idp/kv.h) promises, as one test suite that
 * each engine's unit test runs on a freshly opened engine over an EMPTY store:
 *
 *     failed = kv_contract_run(ops, eng);
 *
 * Engine-neutral: it uses only struct kv_engine_ops (no knowledge of LMDB or etcd) and the
 * harness tests/harness/t.h. Transactions are written as scripts (struct kvc_step): each
 * step is one call on the transaction handle and the result it must give, so a write body
 * stays re-runnable (it resets what it found at its start, as kv.h asks of every body).
 * Returns the number of checks that failed in it. */
#ifndef TS_KV_CONTRACT_H
#define TS_KV_CONTRACT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "idp/kv.h"
#include "tests/harness/t.h"

/* One call inside a transaction. op: 'p' put (val), 'd' del, '+' member_add (val), '-'
 * member_del (val), '?' member_has (val), 'g' get (val: the value it must give, when
 * want is TS_OK), 'w' each (key NULL: the whole table; val: what it must walk, as
 * "key=value;" entries). want: the return code it must give. */
struct kvc_step {
    char op;
    enum kv_table tb;
    const char *key;
    const char *val;
    int want;
};

struct kvc_script {
    const struct kv_engine_ops *o;
    const struct kvc_step *steps;
    size_t n;
    int ret;  /* what the body returns (TS_OK: commit) */
    int bad;  /* steps that did not give what they must (reset by every run of the body) */
    int runs; /* how many times the engine ran the body */
};

/* kv_each_fn appending "key=value;" to the char[4096] arg. */
static int kvc_dump_fn(const char *key, const void *val, size_t vlen, void *arg)
{
    char *out = arg;
    size_t used = strlen(out);
    int n = snprintf(out + used, 4096 - used, "%s=%.*s;", key, (int)vlen, (const char *)val);
    return n < 0 || (size_t)n >= 4096 - used ? TS_E_INTERNAL : TS_OK;
}

/* Runs step s; false (with a message) when it did not give what it must. */
static bool kvc_step_ok(struct kv_txn *t, const struct kv_engine_ops *o, const struct kvc_step *s)
{
    const void *v = NULL;
    size_t n = 0;
    char dump[4096] = "";
    const char *val = s->val != NULL ? s->val : "";
    int rc = TS_E_INTERNAL;

    switch (s->op) {
    case 'p':
        rc = o->put(t, s->tb, s->key, val, strlen(val));
        break;
    case 'd':
        rc = o->del(t, s->tb, s->key);
        break;
    case '+':
        rc = o->member_add(t, s->tb, s->key, val);
        break;
    case '-':
        rc = o->member_del(t, s->tb, s->key, val);
        break;
    case '?':
        rc = o->member_has(t, s->tb, s->key, val);
        break;
    case 'g':
        rc = o->get(t, s->tb, s->key, &v, &n);
        break;
    case 'w':
        rc = o->each(t, s->tb, s->key, kvc_dump_fn, dump);
        break;
    }
    bool good = rc == s->want;
    if (good && rc == TS_OK && s->op == 'g')
        good = n == strlen(val) && (n == 0 || memcmp(v, val, n) == 0);
    if (good && rc == TS_OK && s->op == 'w')
        good = strcmp(dump, val) == 0;
    if (!good)
        fprintf(stderr, "  step %c %s/%.40s: rc %d (want %d)%s%s\n", s->op, kv_tables[s->tb].name,
                s->key != NULL ? s->key : "*", rc, s->want, s->op == 'w' ? " walked " : "",
                s->op == 'w' ? dump : "");
    return good;
}

static int kvc_body(struct kv_txn *t, void *arg)
{
    struct kvc_script *sc = arg;
    sc->bad = 0;
    sc->runs++;
    for (size_t i = 0; i < sc->n; i++)
        if (!kvc_step_ok(t, sc->o, &sc->steps[i]))
            sc->bad++;
    return sc->ret;
}

#define KVC_N(steps) (sizeof(steps) / sizeof((steps)[0]))

/* Runs the steps in one transaction whose body returns ret; checks that every step gave
 * what it must and that kv_run returned want. */
static void kvc_run(const struct kv_engine_ops *o, void *eng, bool write,
                    const struct kvc_step *steps, size_t n, int ret, int want, const char *what)
{
    struct kvc_script sc = {.o = o, .steps = steps, .n = n, .ret = ret};
    int rc = o->run(eng, write, kvc_body, &sc);
    is_int(rc, want, what);
    ok(sc.runs >= 1, "%s: the body ran", what);
    is_int(sc.bad, 0, what);
}

#define KVC_WRITE(o, e, steps, what) kvc_run(o, e, true, steps, KVC_N(steps), TS_OK, TS_OK, what)
#define KVC_READ(o, e, steps, what) kvc_run(o, e, false, steps, KVC_N(steps), TS_OK, TS_OK, what)

/* Plain tables: get, put (create, replace), del; tables are separate. */
static void kvc_plain(const struct kv_engine_ops *o, void *e)
{
    static const struct kvc_step w1[] = {
        {'g', KV_USERS, "alice", NULL, TS_E_NO_SUCH_ENTITY},
        {'p', KV_USERS, "alice", "one", TS_OK},
        {'p', KV_USERS, "bob", "b", TS_OK},
        {'p', KV_GROUPS, "alice", "a group", TS_OK},
        {'p', KV_POLICIES, "empty", "", TS_OK},
    };
    static const struct kvc_step r1[] = {
        {'g', KV_USERS, "alice", "one", TS_OK},
        {'g', KV_GROUPS, "alice", "a group", TS_OK},
        {'g', KV_POLICIES, "empty", "", TS_OK},
        {'g', KV_POLICIES, "alice", NULL, TS_E_NO_SUCH_ENTITY},
        {'w', KV_USERS, NULL, "alice=one;bob=b;", TS_OK},
    };
    static const struct kvc_step w2[] = {
        {'p', KV_USERS, "alice", "two", TS_OK},
        {'d', KV_USERS, "bob", NULL, TS_OK},
        {'d', KV_USERS, "bob", NULL, TS_E_NO_SUCH_ENTITY},
        {'d', KV_USERS, "carol", NULL, TS_E_NO_SUCH_ENTITY},
    };
    static const struct kvc_step r2[] = {
        {'g', KV_USERS, "alice", "two", TS_OK},
        {'g', KV_USERS, "bob", NULL, TS_E_NO_SUCH_ENTITY},
        {'w', KV_USERS, NULL, "alice=two;", TS_OK},
        {'w', KV_GROUPS, NULL, "alice=a group;", TS_OK},
    };
    KVC_WRITE(o, e, w1, "plain: put");
    KVC_READ(o, e, r1, "plain: get after put");
    KVC_WRITE(o, e, w2, "plain: replace, del");
    KVC_READ(o, e, r2, "plain: get after replace, del");
}

/* Set tables: member_add/del/has, each over one key sorted bytewise, whole-table walks
 * sorted by key then member; keys that are prefixes of each other stay apart. */
static void kvc_sets(const struct kv_engine_ops *o, void *e)
{
    static const struct kvc_step w1[] = {
        {'+', KV_GMEMBERS, "g", "b", TS_OK},
        {'+', KV_GMEMBERS, "g", "a", TS_OK},
        {'+', KV_GMEMBERS, "g", "c", TS_OK},
        {'+', KV_GMEMBERS, "g", "\xc3\xa9", TS_OK},
        {'+', KV_GMEMBERS, "g", "Z", TS_OK},
        {'+', KV_GMEMBERS, "g", "a b", TS_OK},
        {'+', KV_GMEMBERS, "g", "a/b", TS_OK},
        {'+', KV_GMEMBERS, "g", "a%2F", TS_OK},
        {'+', KV_GMEMBERS, "g", "b", TS_E_ENTITY_EXISTS},
        {'+', KV_GMEMBERS, "g/x", "inner", TS_OK},
        {'+', KV_GMEMBERS, "g x", "space", TS_OK},
        {'+', KV_GMEMBERS, "f", "first", TS_OK},
        {'+', KV_UGROUPS, "g", "other", TS_OK},
    };
    static const struct kvc_step r1[] = {
        {'w', KV_GMEMBERS, "g", "g=Z;g=a;g=a b;g=a%2F;g=a/b;g=b;g=c;g=\xc3\xa9;", TS_OK},
        {'w', KV_GMEMBERS, "g/x", "g/x=inner;", TS_OK},
        {'w', KV_GMEMBERS, "nobody", "", TS_OK},
        {'w', KV_UGROUPS, NULL, "g=other;", TS_OK},
        {'w', KV_GMEMBERS, NULL,
         "f=first;g=Z;g=a;g=a b;g=a%2F;g=a/b;g=b;g=c;g=\xc3\xa9;g x=space;g/x=inner;", TS_OK},
        {'?', KV_GMEMBERS, "g", "a/b", TS_OK},
        {'?', KV_GMEMBERS, "g", "inner", TS_E_NO_SUCH_ENTITY},
        {'?', KV_GMEMBERS, "g/x", "a", TS_E_NO_SUCH_ENTITY},
        {'?', KV_GMEMBERS, "nobody", "a", TS_E_NO_SUCH_ENTITY},
    };
    static const struct kvc_step w2[] = {
        {'-', KV_GMEMBERS, "g", "c", TS_OK},
        {'-', KV_GMEMBERS, "g", "c", TS_E_NO_SUCH_ENTITY},
        {'-', KV_GMEMBERS, "nobody", "c", TS_E_NO_SUCH_ENTITY},
        {'-', KV_GMEMBERS, "f", "first", TS_OK}, /* its last member: f is gone */
        {'d', KV_GMEMBERS, "g x", NULL, TS_OK},
        {'d', KV_GMEMBERS, "g x", NULL, TS_E_NO_SUCH_ENTITY},
        {'d', KV_GMEMBERS, "f", NULL, TS_E_NO_SUCH_ENTITY},
    };
    static const struct kvc_step r2[] = {
        {'w', KV_GMEMBERS, NULL, "g=Z;g=a;g=a b;g=a%2F;g=a/b;g=b;g=\xc3\xa9;g/x=inner;", TS_OK},
        {'?', KV_GMEMBERS, "g x", "space", TS_E_NO_SUCH_ENTITY},
        {'d', KV_GMEMBERS, "g", NULL, TS_OK}, /* in a write: the whole set */
        {'w', KV_GMEMBERS, NULL, "g/x=inner;", TS_OK},
    };
    KVC_WRITE(o, e, w1, "sets: member_add");
    KVC_READ(o, e, r1, "sets: walks after member_add");
    KVC_WRITE(o, e, w2, "sets: member_del, del");
    KVC_WRITE(o, e, r2, "sets: del of a set");
}

/* Inside a write body the body's own writes are read back: get, member_has, walks. */
static void kvc_read_your_writes(const struct kv_engine_ops *o, void *e)
{
    static const struct kvc_step seed[] = {
        {'p', KV_BLOBS, "b1", "old", TS_OK},   {'p', KV_BLOBS, "b2", "two", TS_OK},
        {'+', KV_ATT_USER, "u1", "p1", TS_OK}, {'+', KV_ATT_USER, "u1", "p2", TS_OK},
        {'+', KV_ATT_USER, "u2", "p9", TS_OK},
    };
    static const struct kvc_step w[] = {
        {'p', KV_BLOBS, "b1", "new", TS_OK},
        {'g', KV_BLOBS, "b1", "new", TS_OK},
        {'p', KV_BLOBS, "b0", "zero", TS_OK},
        {'d', KV_BLOBS, "b2", NULL, TS_OK},
        {'g', KV_BLOBS, "b2", NULL, TS_E_NO_SUCH_ENTITY},
        {'w', KV_BLOBS, NULL, "b0=zero;b1=new;", TS_OK},
        {'p', KV_BLOBS, "b0", "again", TS_OK},
        {'g', KV_BLOBS, "b0", "again", TS_OK},
        {'+', KV_ATT_USER, "u1", "p0", TS_OK},
        {'-', KV_ATT_USER, "u1", "p2", TS_OK},
        {'?', KV_ATT_USER, "u1", "p0", TS_OK},
        {'?', KV_ATT_USER, "u1", "p2", TS_E_NO_SUCH_ENTITY},
        {'w', KV_ATT_USER, "u1", "u1=p0;u1=p1;", TS_OK},
        {'d', KV_ATT_USER, "u2", NULL, TS_OK},
        {'?', KV_ATT_USER, "u2", "p9", TS_E_NO_SUCH_ENTITY},
        {'w', KV_ATT_USER, "u2", "", TS_OK},
        {'+', KV_ATT_USER, "u3", "p3", TS_OK},
        {'w', KV_ATT_USER, NULL, "u1=p0;u1=p1;u3=p3;", TS_OK},
        {'-', KV_ATT_USER, "u3", "p3", TS_OK},
        {'w', KV_ATT_USER, NULL, "u1=p0;u1=p1;", TS_OK},
    };
    static const struct kvc_step after[] = {
        {'w', KV_BLOBS, NULL, "b0=again;b1=new;", TS_OK},
        {'w', KV_ATT_USER, NULL, "u1=p0;u1=p1;", TS_OK},
    };
    KVC_WRITE(o, e, seed, "ryw: seed");
    KVC_WRITE(o, e, w, "ryw: reads inside the write");
    KVC_READ(o, e, after, "ryw: committed");
}

/* A body that returns an error: kv_run returns it and nothing is written. */
static void kvc_abort(const struct kv_engine_ops *o, void *e)
{
    static const struct kvc_step w[] = {
        {'p', KV_POLICIES, "never", "x", TS_OK},
        {'d', KV_USERS, "alice", NULL, TS_OK},
        {'+', KV_ATT_ROLE, "r", "never", TS_OK},
    };
    static const struct kvc_step after[] = {
        {'g', KV_POLICIES, "never", NULL, TS_E_NO_SUCH_ENTITY},
        {'g', KV_USERS, "alice", "two", TS_OK},
        {'w', KV_ATT_ROLE, NULL, "", TS_OK},
    };
    uint64_t g0 = o->generation(e);
    kvc_run(o, e, true, w, KVC_N(w), TS_E_POLICY_IN_USE, TS_E_POLICY_IN_USE, "abort: error");
    ok(o->generation(e) == g0, "abort: generation unchanged");
    KVC_READ(o, e, after, "abort: nothing written");
}

/* The generation changes with every committed change outside KV_NODES, and only then. */
static void kvc_generation(const struct kv_engine_ops *o, void *e)
{
    static const struct kvc_step change[] = {{'p', KV_NOTBEFORE, "p", "1", TS_OK}};
    static const struct kvc_step nodes[] = {
        {'p', KV_NODES, "node-a", "{\"up\":1}", TS_OK},
        {'p', KV_NODES, "node-b", "{\"up\":2}", TS_OK},
        {'w', KV_NODES, NULL, "node-a={\"up\":1};node-b={\"up\":2};", TS_OK},
    };
    static const struct kvc_step nodes_del[] = {{'d', KV_NODES, "node-b", NULL, TS_OK}};
    static const struct kvc_step nothing[] = {
        {'g', KV_NOTBEFORE, "p", "1", TS_OK},
        {'+', KV_ATT_USER, "u1", "p1", TS_E_ENTITY_EXISTS},
        {'-', KV_ATT_USER, "u1", "nope", TS_E_NO_SUCH_ENTITY},
        {'d', KV_REVOKED, "nope", NULL, TS_E_NO_SUCH_ENTITY},
    };
    static const struct kvc_step read[] = {{'g', KV_NOTBEFORE, "p", "1", TS_OK}};
    static const struct kvc_step after[] = {{'w', KV_NODES, NULL, "node-a={\"up\":1};", TS_OK}};
    uint64_t g0 = o->generation(e), g1;

    KVC_WRITE(o, e, change, "gen: a change");
    g1 = o->generation(e);
    ok(g1 != g0, "gen: changed by a write");
    KVC_WRITE(o, e, nodes, "gen: nodes only");
    KVC_WRITE(o, e, nodes_del, "gen: nodes del");
    ok(o->generation(e) == g1, "gen: not changed by writes to KV_NODES only");
    KVC_WRITE(o, e, nothing, "gen: a write that writes nothing");
    ok(o->generation(e) == g1, "gen: not changed by a write body that wrote nothing");
    KVC_READ(o, e, read, "gen: a read");
    ok(o->generation(e) == g1, "gen: not changed by a read");
    KVC_READ(o, e, after, "gen: nodes written");
    KVC_WRITE(o, e, change, "gen: the same value again");
    ok(o->generation(e) != g1, "gen: changed by a put (even of the same value)");
}

/* Keys and members with '/', '%', spaces, UTF-8, and of KV_KEY_MAX bytes. */
static void kvc_keys(const struct kv_engine_ops *o, void *e)
{
    static char max[KV_KEY_MAX + 1], dump[2 * KV_KEY_MAX + 64];
    for (size_t i = 0; i < KV_KEY_MAX; i++) /* "é/% é/% ...x": KV_KEY_MAX bytes of UTF-8 */
        max[i] = i < KV_KEY_MAX / 5 * 5 ? "\xc3\xa9/% "[i % 5] : 'x';
    max[KV_KEY_MAX] = '\0';
    snprintf(dump, sizeof dump, "%s=%s;", max, max);
    const struct kvc_step w[] = {
        {'p', KV_REVOKED, "a/b%2Fc d", "1", TS_OK},
        {'p', KV_REVOKED, "\xe2\x82\xac uro", "2", TS_OK},
        {'p', KV_REVOKED, max, "3", TS_OK},
        {'+', KV_ATT_DN, max, max, TS_OK},
        {'+', KV_ATT_DN, "cn=a b,dc=x/y", "p%1", TS_OK},
    };
    const struct kvc_step r[] = {
        {'g', KV_REVOKED, "a/b%2Fc d", "1", TS_OK},
        {'g', KV_REVOKED, "a/b", NULL, TS_E_NO_SUCH_ENTITY},
        {'g', KV_REVOKED, "\xe2\x82\xac uro", "2", TS_OK},
        {'g', KV_REVOKED, max, "3", TS_OK},
        {'?', KV_ATT_DN, max, max, TS_OK},
        {'w', KV_ATT_DN, max, dump, TS_OK},
        {'w', KV_ATT_DN, "cn=a b,dc=x/y", "cn=a b,dc=x/y=p%1;", TS_OK},
    };
    KVC_WRITE(o, e, w, "keys: write");
    KVC_READ(o, e, r, "keys: read");
}

/* Values: bytes (NUL included, large), valid inside the body after later writes; a walk
 * stops at its callback's error; writes are refused in a read transaction. */
struct kvc_bytes {
    const struct kv_engine_ops *o;
    char *big;
    size_t bigsz;
    int bad;
};

static int kvc_stop_fn(const char *key, const void *val, size_t vlen, void *arg)
{
    (*(int *)arg)++;
    return TS_E_ENTITY_EXISTS;
}

static int kvc_bytes_write(struct kv_txn *t, void *arg)
{
    struct kvc_bytes *b = arg;
    b->bad = 0;
    if (b->o->put(t, KV_BLOBS, "nul", "a\0b", 3) != TS_OK ||
        b->o->put(t, KV_BLOBS, "big", b->big, b->bigsz) != TS_OK)
        b->bad++;
    return TS_OK;
}

static int kvc_bytes_read(struct kv_txn *t, void *arg)
{
    struct kvc_bytes *b = arg;
    const void *v = NULL, *w = NULL;
    size_t n = 0, m = 0;
    int calls = 0;

    b->bad = 0;
    if (b->o->get(t, KV_BLOBS, "nul", &v, &n) != TS_OK || n != 3 || memcmp(v, "a\0b", 3) != 0)
        b->bad++;
    if (b->o->get(t, KV_BLOBS, "big", &w, &m) != TS_OK || m != b->bigsz ||
        memcmp(w, b->big, m) != 0)
        b->bad++;
    if (b->o->each(t, KV_BLOBS, NULL, kvc_stop_fn, &calls) != TS_E_ENTITY_EXISTS || calls != 1)
        b->bad++;
    return TS_OK;
}

/* In a write: a value got stays valid after the body writes other keys. */
static int kvc_bytes_stable(struct kv_txn *t, void *arg)
{
    struct kvc_bytes *b = arg;
    const void *v = NULL;
    size_t n = 0;

    b->bad = 0;
    if (b->o->get(t, KV_BLOBS, "big", &v, &n) != TS_OK)
        b->bad++;
    for (int i = 0; i < 50; i++) {
        char k[32];
        snprintf(k, sizeof k, "filler-%02d", i);
        if (b->o->put(t, KV_BLOBS, k, b->big, 4000) != TS_OK)
            b->bad++;
    }
    if (v != NULL && (n != b->bigsz || memcmp(v, b->big, n) != 0))
        b->bad++;
    return TS_OK;
}

static int kvc_write_in_read(struct kv_txn *t, void *arg)
{
    struct kvc_bytes *b = arg;
    b->bad = 0;
    if (b->o->put(t, KV_BLOBS, "ro", "x", 1) == TS_OK)
        b->bad++;
    return TS_OK;
}

static void kvc_values(const struct kv_engine_ops *o, void *e)
{
    struct kvc_bytes b = {.o = o, .bigsz = 64 * 1024};
    b.big = malloc(b.bigsz);
    if (b.big == NULL)
        return;
    for (size_t i = 0; i < b.bigsz; i++)
        b.big[i] = (char)(i * 7 + i / 251);
    is_int(o->run(e, true, kvc_bytes_write, &b), TS_OK, "values: write");
    is_int(b.bad, 0, "values: written");
    is_int(o->run(e, false, kvc_bytes_read, &b), TS_OK, "values: read");
    is_int(b.bad, 0, "values: bytes as written; a walk stops at its callback's error");
    is_int(o->run(e, true, kvc_bytes_stable, &b), TS_OK, "values: stable");
    is_int(b.bad, 0, "values: a value got stays valid after later writes in the body");
    o->run(e, false, kvc_write_in_read, &b);
    is_int(b.bad, 0, "values: put refused in a read transaction");
    free(b.big);
}

static int kv_contract_run(const struct kv_engine_ops *ops, void *eng)
{
    int before = t_failed;
    kvc_plain(ops, eng);
    kvc_sets(ops, eng);
    kvc_read_your_writes(ops, eng);
    kvc_abort(ops, eng);
    kvc_generation(ops, eng);
    kvc_keys(ops, eng);
    kvc_values(ops, eng);
    return t_failed - before;
}

#endif
