/* test_kv_etcd.c -- the etcd engine (idp/kv_etcd.c) against a real etcd (/usr/bin/etcd, from
 * Debian's etcd-server, started here on free loopback ports with a temporary data directory,
 * killed at exit, also when a check fails or the test crashes: PR_SET_PDEATHSIG). No etcd
 * binary is a failure, not a skip. Labels "unit;etcd". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../../harness/t.h"
#include "core/err.h"
#include "idp/etcd.h"
#include "idp/kv.h"
#include "tests/unit/idp/kv_contract.h"

#define ETCD_BIN "/usr/bin/etcd"

static pid_t etcd_pid = -1;
static char data_dir[] = "/tmp/tessera-etcd-XXXXXX";
static int client_port, peer_port;
static char endpoint[64];

static void etcd_stop(void)
{
    if (etcd_pid > 0) {
        kill(etcd_pid, SIGKILL);
        waitpid(etcd_pid, NULL, 0);
        etcd_pid = -1;
    }
}

static void cleanup(void)
{
    etcd_stop();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", data_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", data_dir);
}

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &l) != 0)
        return -1;
    close(s);
    return ntohs(a.sin_port);
}

/* Whether etcd answers a range at the endpoint. */
static bool etcd_ready(void)
{
    struct etcd_config ec = {.endpoints = endpoint};
    struct etcd *c;
    json_t *req = etcd_range_req("x", 1, NULL, 0, 0, 0), *resp = NULL;
    bool ok = false;
    if (etcd_new(&ec, &c) == TS_OK) {
        ok = etcd_call(c, "range", "/v3/kv/range", req, &resp) == TS_OK;
        etcd_free(c);
    }
    json_decref(req);
    json_decref(resp);
    return ok;
}

static void etcd_start(void)
{
    char cu[64], pu[64], ic[96];
    snprintf(cu, sizeof cu, "http://127.0.0.1:%d", client_port);
    snprintf(pu, sizeof pu, "http://127.0.0.1:%d", peer_port);
    snprintf(ic, sizeof ic, "t=%s", pu);
    pid_t parent = getpid();
    etcd_pid = fork();
    if (etcd_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(ETCD_BIN, "etcd", "--name", "t", "--data-dir", data_dir, "--listen-client-urls", cu,
              "--advertise-client-urls", cu, "--listen-peer-urls", pu,
              "--initial-advertise-peer-urls", pu, "--initial-cluster", ic, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !etcd_ready(); i++)
        usleep(50000);
}

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- an engine instance ---- */

struct inst {
    const struct kv_engine_ops *ops;
    void *eng;
};

static int open_inst(struct inst *in, const char *prefix, int stale)
{
    struct kv_etcd_config cfg = {.endpoints = endpoint, .prefix = prefix, .stale_max_s = stale};
    return kv_etcd_open(&cfg, &in->ops, &in->eng);
}

/* Bodies. */
struct kvarg {
    const struct kv_engine_ops *ops;
    enum kv_table tb;
    const char *key, *member, *val;
    char got[256];
    int rc;
};

static int body_put(struct kv_txn *t, void *arg)
{
    struct kvarg *a = arg;
    return a->ops->put(t, a->tb, a->key, a->val, strlen(a->val));
}

static int body_get(struct kv_txn *t, void *arg)
{
    struct kvarg *a = arg;
    const void *v;
    size_t l;
    a->got[0] = '\0';
    a->rc = a->ops->get(t, a->tb, a->key, &v, &l);
    if (a->rc == TS_OK)
        snprintf(a->got, sizeof a->got, "%.*s", (int)l, (const char *)v);
    return TS_OK;
}

static int body_madd(struct kv_txn *t, void *arg)
{
    struct kvarg *a = arg;
    return a->ops->member_add(t, a->tb, a->key, a->member);
}

static int put(struct inst *in, enum kv_table tb, const char *key, const char *val)
{
    struct kvarg a = {.ops = in->ops, .tb = tb, .key = key, .val = val};
    return in->ops->run(in->eng, true, body_put, &a);
}

static int get(struct inst *in, enum kv_table tb, const char *key, char *out, size_t n)
{
    struct kvarg a = {.ops = in->ops, .tb = tb, .key = key};
    in->ops->run(in->eng, false, body_get, &a);
    snprintf(out, n, "%s", a.got);
    return a.rc;
}

/* Polls (up to ms) until key has value want on in. */
static bool sees(struct inst *in, enum kv_table tb, const char *key, const char *want, int ms)
{
    char got[256];
    for (int64_t end = ms_now() + ms; ms_now() <= end; usleep(5000))
        if (get(in, tb, key, got, sizeof got) == TS_OK && strcmp(got, want) == 0)
            return true;
    return false;
}

/* ---- checks ---- */

static int collect(const char *key, const void *val, size_t vlen, void *arg)
{
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 512 - n, "%s=%.*s;", key, (int)vlen, (const char *)val);
    return TS_OK;
}

/* Inside one write body: read-your-writes, del of a set key, each sees the overlay. */
static int body_overlay(struct kv_txn *t, void *arg)
{
    struct kvarg *a = arg;
    const struct kv_engine_ops *o = a->ops;
    char walk[512] = "";
    const void *v;
    size_t l;
    ok(o->member_add(t, KV_GMEMBERS, "g/1", "u 1") == TS_OK, "member_add");
    ok(o->member_add(t, KV_GMEMBERS, "g/1", "u%2") == TS_OK, "member_add 2");
    ok(o->member_add(t, KV_GMEMBERS, "g/1", "u 1") == TS_E_ENTITY_EXISTS, "member_add twice");
    ok(o->member_add(t, KV_GMEMBERS, "g/10", "x") == TS_OK, "member_add other key");
    ok(o->member_has(t, KV_GMEMBERS, "g/1", "u%2") == TS_OK, "member_has own write");
    o->each(t, KV_GMEMBERS, "g/1", collect, walk);
    is_str(walk, "g/1=u 1;g/1=u%2;", "each of a key, own writes");
    ok(o->put(t, KV_POLICIES, "p", "doc", 3) == TS_OK, "put");
    ok(o->get(t, KV_POLICIES, "p", &v, &l) == TS_OK && l == 3, "get own put");
    ok(o->del(t, KV_POLICIES, "nope") == TS_E_NO_SUCH_ENTITY, "del absent");
    return TS_OK;
}

static int body_overlay2(struct kv_txn *t, void *arg)
{
    struct kvarg *a = arg;
    const struct kv_engine_ops *o = a->ops;
    char walk[512] = "";
    ok(o->del(t, KV_GMEMBERS, "g/1") == TS_OK, "del set key");
    ok(o->member_has(t, KV_GMEMBERS, "g/1", "u 1") == TS_E_NO_SUCH_ENTITY, "member gone");
    ok(o->member_add(t, KV_GMEMBERS, "g/1", "new") == TS_OK, "re-add after del");
    o->each(t, KV_GMEMBERS, NULL, collect, walk);
    is_str(walk, "g/1=new;g/10=x;", "each of the table, own writes");
    return TS_OK;
}

static int body_noop(struct kv_txn *t, void *arg)
{
    return TS_OK;
}

static void check_basics(struct inst *a, struct inst *b)
{
    struct kvarg x = {.ops = a->ops};
    char got[256];
    ok(a->ops->run(a->eng, true, body_overlay, &x) == TS_OK, "overlay body");
    ok(a->ops->run(a->eng, true, body_overlay2, &x) == TS_OK, "overlay body 2");
    ok(get(a, KV_POLICIES, "p", got, sizeof got) == TS_OK, "read-your-writes after commit");
    is_str(got, "doc", "value after commit");
    uint64_t g = a->ops->generation(a->eng);
    ok(a->ops->run(a->eng, true, body_noop, &x) == TS_OK, "empty write");
    is_int(a->ops->generation(a->eng), g, "an empty write changes nothing");
    ok(put(a, KV_NODES, "n1", "{}") == TS_OK, "node put");
    is_int(a->ops->generation(a->eng), g, "KV_NODES outside the generation");
    /* a write on A is seen on B within 1 s */
    int64_t t0 = ms_now();
    ok(put(a, KV_USERS, "alice", "v1") == TS_OK, "put on A");
    ok(sees(b, KV_USERS, "alice", "v1", 1000), "B sees A's write within 1 s (%lld ms)",
       (long long)(ms_now() - t0));
    struct kvarg m = {.ops = b->ops, .tb = KV_GMEMBERS, .key = "g/1", .member = "new"};
    ok(b->ops->run(b->eng, false, body_get,
                   &(struct kvarg){.ops = b->ops, .tb = KV_USERS, .key = "alice"}) == TS_OK,
       "read on B");
    ok(b->ops->run(b->eng, true, body_madd, &m) == TS_E_ENTITY_EXISTS,
       "B sees the set written on A");
}

/* Two instances increment one counter concurrently: every increment lands. */
struct incr {
    struct inst *in;
    int n, fails;
};

static int body_incr(struct kv_txn *t, void *arg)
{
    struct incr *c = arg;
    const void *v;
    size_t l;
    char buf[32] = "0";
    int rc = c->in->ops->get(t, KV_BLOBS, "counter", &v, &l);
    if (rc == TS_OK)
        snprintf(buf, sizeof buf, "%.*s", (int)l, (const char *)v);
    else if (rc != TS_E_NO_SUCH_ENTITY)
        return rc;
    snprintf(buf, sizeof buf, "%d", atoi(buf) + 1);
    return c->in->ops->put(t, KV_BLOBS, "counter", buf, strlen(buf));
}

static void *incr_thread(void *arg)
{
    struct incr *c = arg;
    for (int i = 0; i < c->n; i++)
        if (c->in->ops->run(c->in->eng, true, body_incr, c) != TS_OK)
            c->fails++;
    return NULL;
}

static void check_conflicts(struct inst *a, struct inst *b)
{
    struct incr ca = {a, 40, 0}, cb = {b, 40, 0};
    pthread_t ta, tb;
    char got[256];
    pthread_create(&ta, NULL, incr_thread, &ca);
    pthread_create(&tb, NULL, incr_thread, &cb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    is_int(ca.fails + cb.fails, 0, "failed increments");
    /* B's last increment reaches A's mirror through the watch, a moment after B returns */
    ok(sees(a, KV_BLOBS, "counter", "80", 1000) && sees(b, KV_BLOBS, "counter", "80", 1000),
       "every concurrent increment landed, on both instances");
    ok(get(a, KV_BLOBS, "counter", got, sizeof got) == TS_OK, "counter");
    is_str(got, "80", "and no more");
}

static void check_prefixes(struct inst *a)
{
    struct inst c;
    char got[256];
    ok(open_inst(&c, "other/", 60) == TS_OK, "open a second deployment");
    ok(get(&c, KV_USERS, "alice", got, sizeof got) == TS_E_NO_SUCH_ENTITY,
       "prefixes isolate deployments");
    ok(put(&c, KV_USERS, "alice", "other") == TS_OK, "put in the other deployment");
    usleep(300000);
    ok(get(a, KV_USERS, "alice", got, sizeof got) == TS_OK && strcmp(got, "v1") == 0,
       "the first deployment keeps its value");
    c.ops->close(c.eng);
}

/* Kill etcd, check staleness and 503s, restart it, check recovery and the resync. */
static void check_outage(struct inst *a, struct inst *b)
{
    struct inst s;
    struct ts_error err = {0};
    struct kv_status st;
    ok(open_inst(&s, "", 2) == TS_OK, "open with STALE_MAX 2 s");
    ok(s.ops->fresh(s.eng, &err) == TS_OK, "fresh at start");
    etcd_stop();
    int64_t t0 = ms_now();
    int rc = put(a, KV_USERS, "bob", "x");
    int64_t took = ms_now() - t0;
    is_int(rc, TS_E_SERVICE_UNAVAILABLE, "write with etcd down");
    ok(took < 5000, "write with etcd down answers within 5 s (%lld ms)", (long long)took);
    usleep(3000000);
    ok(s.ops->fresh(s.eng, &err) == TS_E_SERVICE_UNAVAILABLE, "stale after STALE_MAX");
    ok(strstr(err.msg, "TESSERA_ETCD_STALE_MAX=2") != NULL, "message: %s", err.msg);
    ok(a->ops->fresh(a->eng, NULL) == TS_OK, "STALE_MAX 60 still fresh");
    char got[256];
    ok(get(&s, KV_USERS, "alice", got, sizeof got) == TS_OK, "reads from the mirror go on");
    etcd_start();
    ok(put(b, KV_USERS, "carol", "back") == TS_OK, "write on B after etcd returns");
    ok(sees(a, KV_USERS, "carol", "back", 5000), "A resynchronised and follows again");
    bool fresh = false;
    for (int i = 0; i < 100 && !fresh; i++, usleep(50000))
        fresh = s.ops->fresh(s.eng, NULL) == TS_OK;
    ok(fresh, "fresh again after etcd returned");
    a->ops->status(a->eng, &st);
    is_str(st.engine, "etcd", "status engine");
    ok(st.resyncs >= 1, "a resync was counted (%llu)", (unsigned long long)st.resyncs);
    struct kv_status sb;
    b->ops->status(b->eng, &sb);
    ok(st.revision > 0 && st.synced_ms_ago >= 0 && st.fresh, "status fields");
    ok(strcmp(st.endpoint, endpoint) == 0, "status endpoint %s", st.endpoint);
    s.ops->close(s.eng);
}

static void measure(struct inst *a)
{
    int64_t t0 = ms_now();
    for (int i = 0; i < 100; i++)
        put(a, KV_BLOBS, "bench", "v");
    int64_t w = ms_now() - t0;
    char got[256];
    struct timespec s, e;
    clock_gettime(CLOCK_MONOTONIC, &s);
    for (int i = 0; i < 200000; i++)
        get(a, KV_USERS, "alice", got, sizeof got);
    clock_gettime(CLOCK_MONOTONIC, &e);
    double ns = ((e.tv_sec - s.tv_sec) * 1e9 + (e.tv_nsec - s.tv_nsec)) / 200000;
    fprintf(stderr, "write (txn + read-your-writes): %.2f ms; mirror read run: %.0f ns\n",
            w / 100.0, ns);
}

int main(void)
{
    if (access(ETCD_BIN, X_OK) != 0) {
        fprintf(stderr, "FAIL: %s not found (Debian package etcd-server)\n", ETCD_BIN);
        return 1;
    }
    if (mkdtemp(data_dir) == NULL)
        return 1;
    atexit(cleanup);
    client_port = free_port();
    peer_port = free_port();
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", client_port);
    etcd_start();
    ok(etcd_ready(), "etcd started at %s", endpoint);
    struct inst a, b;
    ok(open_inst(&a, "", 60) == TS_OK, "open A");
    ok(open_inst(&b, "", 60) == TS_OK, "open B");
    if (t_failed)
        return t_done();
    struct inst c;
    ok(open_inst(&c, "contract/", 60) == TS_OK, "open the contract's own prefix");
    if (!t_failed) {
        is_int(kv_contract_run(c.ops, c.eng), 0, "the engine contract");
        c.ops->close(c.eng);
    }
    check_basics(&a, &b);
    check_conflicts(&a, &b);
    check_prefixes(&a);
    measure(&a);
    check_outage(&a, &b);
    a.ops->close(a.eng);
    b.ops->close(b.eng);
    etcd_stop();
    struct inst d;
    ok(open_inst(&d, "", 60) == TS_E_SERVICE_UNAVAILABLE, "open with etcd down refused");
    return t_done();
}
