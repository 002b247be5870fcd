/* gateway.c -- the gateway's upstream: one libcurl multi handle and its thread per upstream,
 * transfers that stream through bounded rings, SigV4 signing with the upstream's keys. The
 * contract and the flow control are described in gw.h.
 *
 * Threads: the gateway thread alone calls libcurl on the multi handle and its easy handles
 * (add, remove, pause, socket actions); other threads ask it through the transfer's `want` bits
 * and an eventfd in its epoll set, which also holds curl's sockets. Each transfer's state is
 * guarded by its own lock; the gateway's lock guards only the list of transfers with a request
 * pending, and is never held while taking a transfer's lock after it (lock order: transfer, then
 * gateway; transfer, then core's suspension lock).
 */
#include "objstore/gw.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "core/curlx.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "sts/sigv4.h"

#define GW_WANT_ADD 1u
#define GW_WANT_PAUSE 2u /* apply the pause bits as they are now */
#define GW_WANT_ABORT 4u
#define GW_MAX_TRIES 2            /* attempts of a body-less idempotent request without an answer */
#define GW_RESUME_AT (128u << 10) /* response bytes that wake a waiting reader */
#define GW_CURL_BUFFER (128L << 10) /* libcurl's receive buffer (<= GW_RING - GW_RESUME_AT) */
#define GW_PUSH_MAX (64u << 10)     /* a client body write (libmicrohttpd reads at most 32 KiB) */
#define GW_CACHED 32                /* ring buffers and easy handles kept for reuse */

struct ring {
    uint8_t *p; /* GW_RING bytes once used */
    size_t off, len;
};

struct gw {
    char *url;  /* scheme://host[:port] + base path, no trailing slash */
    char *host; /* the Host header */
    char region[64];
    char *ak, *sk;
    long timeout_s;
    struct curlx_req ca; /* only ca_file and ca_extra are used */
    struct sigv4_keycache *kc;
    struct iam_store *iam;
    CURLM *multi;
    int ep, wake;   /* the gateway thread's epoll set (curl's sockets, wake), an eventfd */
    int64_t due_ms; /* when curl wants its timeout action (CLOCK_MONOTONIC ms), -1: never */
    bool hdrs_new;  /* an answer's headers came in this round (gateway thread) */
    pthread_t thr;
    bool started;
    pthread_mutex_t lock; /* pending, stop */
    struct gw_xfer *pending;
    bool stop;
    struct gw_xfer *active; /* added to the multi handle (gateway thread only) */
    /* Reused memory (under lock): ring buffers and easy handles of finished transfers. */
    uint8_t *bufs[GW_CACHED];
    size_t nbufs;
    CURL *easy[GW_CACHED];
    size_t neasy;
};

struct gw_xfer {
    struct gw *g;
    atomic_int refs;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    CURL *h;
    struct http_req *r; /* NULL once detached */
    char *method, *path, *query, *url;
    struct http_kv *rq; /* request headers (lower-case names) */
    size_t nrq;
    struct curl_slist *slist;
    /* request body */
    int body;      /* 0 none, 1 streamed, 2 data */
    uint8_t *data; /* body 2: the whole body */
    char payload_hash[65];
    uint64_t total, pushed, sent;
    struct ring up;
    bool verified, body_susp, send_paused;
    /* response */
    long status;
    bool got_headers;
    struct http_kv *rh;
    size_t nrh, rh_bytes;
    struct ring down;
    bool recv_paused, reader_susp;
    /* state */
    bool done, aborted;
    CURLcode cc;
    unsigned want;
    bool in_pending, added;
    void (*cb)(void *); /* gw_xfer_on_answer */
    void *cb_arg;
    bool cb_fired, in_cb;
    struct gw_xfer *pnext, *anext, **aprev;
    int tries;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- rings: circular buffers of GW_RING bytes, their memory reused (gw->bufs) ---- */

/* A buffer of GW_RING bytes: a cached one, else a new one. NULL when out of memory. */
static uint8_t *buf_get(struct gw *g)
{
    uint8_t *p = NULL;
    pthread_mutex_lock(&g->lock);
    if (g->nbufs > 0)
        p = g->bufs[--g->nbufs];
    pthread_mutex_unlock(&g->lock);
    return p ? p : malloc(GW_RING);
}

static void buf_put(struct gw *g, uint8_t *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    if (g->nbufs < GW_CACHED) {
        g->bufs[g->nbufs++] = p;
        p = NULL;
    }
    pthread_mutex_unlock(&g->lock);
    free(p);
}

/* Appends p[0..n): TS_OK, or TS_E_INTERNAL when it does not fit (or out of memory). */
static int ring_add(struct gw *g, struct ring *rg, const void *p, size_t n)
{
    if (n > GW_RING - rg->len || (rg->p == NULL && (rg->p = buf_get(g)) == NULL))
        return TS_E_INTERNAL;
    size_t tail = (rg->off + rg->len) % GW_RING, first = GW_RING - tail < n ? GW_RING - tail : n;
    memcpy(rg->p + tail, p, first);
    memcpy(rg->p, (const uint8_t *)p + first, n - first);
    rg->len += n;
    return TS_OK;
}

static size_t ring_take(struct ring *rg, void *out, size_t max)
{
    size_t n = rg->len < max ? rg->len : max;
    if (n == 0)
        return 0;
    size_t first = GW_RING - rg->off < n ? GW_RING - rg->off : n;
    memcpy(out, rg->p + rg->off, first);
    memcpy((uint8_t *)out + first, rg->p, n - first);
    rg->off = (rg->off + n) % GW_RING;
    rg->len -= n;
    return n;
}

/* ---- requests to the gateway thread ---- */

static void wake(struct gw *g)
{
    uint64_t one = 1;
    if (write(g->wake, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, the thread is awake anyway */
    }
}

/* Asks the gateway thread for what (GW_WANT_*); x->lock held. */
static void want_locked(struct gw_xfer *x, unsigned what)
{
    struct gw *g = x->g;
    x->want |= what;
    if (x->in_pending)
        return;
    x->in_pending = true;
    atomic_fetch_add(&x->refs, 1); /* the pending list's */
    pthread_mutex_lock(&g->lock);
    x->pnext = g->pending;
    g->pending = x;
    pthread_mutex_unlock(&g->lock);
    wake(g);
}

/* Whether the answer can be relayed now (x->lock held): a success once its headers are in,
 * anything else once it is complete. */
static bool answer_ready(const struct gw_xfer *x)
{
    return x->done || (x->got_headers && (x->status < 300 || x->status == 304));
}

/* Calls the gw_xfer_on_answer callback if the answer is ready and it was not called yet. */
static void xfer_fire(struct gw_xfer *x)
{
    pthread_mutex_lock(&x->lock);
    bool go = x->cb != NULL && !x->cb_fired && x->r != NULL && answer_ready(x);
    if (go)
        x->cb_fired = x->in_cb = true;
    pthread_mutex_unlock(&x->lock);
    if (!go)
        return;
    x->cb(x->cb_arg);
    pthread_mutex_lock(&x->lock);
    x->in_cb = false;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
}

void gw_xfer_on_answer(struct gw_xfer *x, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&x->lock);
    x->cb = fn;
    x->cb_arg = arg;
    pthread_mutex_unlock(&x->lock);
    xfer_fire(x);
}

/* The transfer ended (cc); wakes whoever waits for it. Gateway thread. */
static void xfer_done(struct gw_xfer *x, CURLcode cc)
{
    pthread_mutex_lock(&x->lock);
    if (!x->done) {
        x->done = true;
        x->cc = cc;
    }
    pthread_cond_broadcast(&x->cond);
    if (x->r != NULL && (x->reader_susp || x->body_susp))
        http_req_resume(x->r);
    x->reader_susp = x->body_susp = false;
    pthread_mutex_unlock(&x->lock);
    xfer_fire(x);
}

static void active_unlink(struct gw_xfer *x)
{
    *x->aprev = x->anext;
    if (x->anext)
        x->anext->aprev = x->aprev;
    x->added = false;
}

static void loop_apply(struct gw *g, struct gw_xfer *x)
{
    pthread_mutex_lock(&x->lock);
    unsigned want = x->want;
    long bits = (x->recv_paused ? CURLPAUSE_RECV : 0) | (x->send_paused ? CURLPAUSE_SEND : 0);
    bool done = x->done;
    x->want = 0;
    x->in_pending = false;
    pthread_mutex_unlock(&x->lock);
    if (want & GW_WANT_ABORT) {
        if (x->added) {
            curl_multi_remove_handle(g->multi, x->h);
            active_unlink(x);
            xfer_done(x, CURLE_ABORTED_BY_CALLBACK);
            gw_xfer_release(x); /* the active list's */
        } else {
            xfer_done(x, CURLE_ABORTED_BY_CALLBACK);
        }
        return;
    }
    if ((want & GW_WANT_ADD) && !x->added && !done) {
        if (curl_multi_add_handle(g->multi, x->h) != CURLM_OK) {
            xfer_done(x, CURLE_OUT_OF_MEMORY);
            return;
        }
        atomic_fetch_add(&x->refs, 1); /* the active list's */
        x->added = true;
        x->anext = g->active;
        x->aprev = &g->active;
        if (g->active)
            g->active->aprev = &x->anext;
        g->active = x;
    }
    if ((want & GW_WANT_PAUSE) && x->added && !done)
        curl_easy_pause(x->h, (int)bits); /* may call the callbacks: no lock held */
}

/* Whether a failed attempt may be made again: a request without a body, idempotent, that
 * got no answer at all (a pooled connection the upstream had closed, a refused connect). */
static bool xfer_retry(struct gw_xfer *x, CURLcode cc)
{
    bool idem = strcmp(x->method, "GET") == 0 || strcmp(x->method, "HEAD") == 0 ||
                strcmp(x->method, "DELETE") == 0;
    bool transient = cc == CURLE_COULDNT_CONNECT || cc == CURLE_SEND_ERROR ||
                     cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING;
    pthread_mutex_lock(&x->lock);
    bool ok = idem && transient && x->body == 0 && x->status == 0 && !x->aborted &&
              ++x->tries < GW_MAX_TRIES;
    pthread_mutex_unlock(&x->lock);
    return ok;
}

static void loop_reap(struct gw *g)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(g->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct gw_xfer *x = NULL;
        CURLcode cc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(g->multi, m->easy_handle);
        if (x == NULL)
            continue;
        if (cc != CURLE_OK && xfer_retry(x, cc) &&
            curl_multi_add_handle(g->multi, x->h) == CURLM_OK) {
            log_kv(LOG_WARN, "gateway.retry", "upstream", g->url, "error", curl_easy_strerror(cc),
                   NULL);
            continue;
        }
        active_unlink(x);
        xfer_done(x, cc);
        gw_xfer_release(x);
    }
}

/* Relays the answers whose headers came during this round: after curl is done with the round
 * rather than from the header callback, so that a small answer is usually complete by then and
 * goes to the client in one piece (gw_xfer_take). */
static void loop_fire(struct gw *g)
{
    if (!g->hdrs_new)
        return;
    g->hdrs_new = false;
    for (struct gw_xfer *x = g->active; x != NULL; x = x->anext)
        xfer_fire(x);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CURLMOPT_SOCKETFUNCTION: curl's interest in socket s, mirrored in the epoll set. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sockp)
{
    struct gw *g = ud;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(g->ep, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev = {
        .events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u),
        .data.fd = s,
    };
    if (epoll_ctl(g->ep, sockp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0 &&
        epoll_ctl(g->ep, sockp ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, s, &ev) != 0)
        return -1;
    curl_multi_assign(g->multi, s, (void *)1);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when to run curl's timeout action next. */
static int on_timer(CURLM *m, long timeout_ms, void *ud)
{
    struct gw *g = ud;
    (void)m;
    g->due_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    return 0;
}

/* The gateway thread: applies what other threads asked, then lets curl act on the sockets
 * that are ready (curl_multi_socket_action: only those transfers are looked at). */
static void *gw_main(void *arg)
{
    struct gw *g = arg;
    struct epoll_event evs[64];
    for (;;) {
        pthread_mutex_lock(&g->lock);
        struct gw_xfer *list = g->pending;
        bool stop = g->stop;
        g->pending = NULL;
        pthread_mutex_unlock(&g->lock);
        while (list != NULL) {
            struct gw_xfer *next = list->pnext;
            loop_apply(g, list);
            gw_xfer_release(list); /* the pending list's */
            list = next;
        }
        if (stop)
            break;
        int running, wait = 1000;
        if (g->due_ms >= 0) {
            int64_t left = g->due_ms - now_ms();
            wait = left <= 0 ? 0 : left < wait ? (int)left : wait;
        }
        int n = epoll_wait(g->ep, evs, 64, wait);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd == g->wake) {
                uint64_t v;
                if (read(g->wake, &v, sizeof v) < 0) {
                    /* EAGAIN: read by an earlier round */
                }
                continue;
            }
            int act = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                      (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                      (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(g->multi, evs[i].data.fd, act, &running);
        }
        if (g->due_ms >= 0 && now_ms() >= g->due_ms) {
            g->due_ms = -1; /* the action sets the next one */
            curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        loop_reap(g); /* fires the transfers that ended (xfer_done) */
        loop_fire(g);
    }
    while (g->active != NULL) {
        struct gw_xfer *x = g->active;
        curl_multi_remove_handle(g->multi, x->h);
        active_unlink(x);
        xfer_done(x, CURLE_ABORTED_BY_CALLBACK);
        gw_xfer_release(x);
    }
    return NULL;
}

/* ---- the upstream ---- */

/* scheme://host[:port][/base] into g->url (no trailing slash) and g->host. */
static int gw_parse_url(struct gw *g, const char *url, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL, *q = NULL;
    int rc = TS_E_INVALID_ARGUMENT;
    if (u == NULL)
        return TS_E_INTERNAL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(err, errlen, "the upstream URL must be http(s)://HOST[:PORT][/PATH]");
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    curl_url_get(u, CURLUPART_USER, &user, 0);
    curl_url_get(u, CURLUPART_QUERY, &q, 0);
    if (user != NULL || q != NULL) {
        snprintf(err, errlen,
                 "the upstream URL carries no credentials and no query: the "
                 "upstream's keys are TESSERA_ROOT_USER/TESSERA_ROOT_PASSWORD");
        goto out;
    }
    size_t plen = path ? strlen(path) : 0;
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    size_t n = strlen(scheme) + strlen(host) + (port ? strlen(port) : 0) + plen + 8;
    g->url = malloc(n);
    g->host = malloc(n);
    if (g->url == NULL || g->host == NULL) {
        rc = TS_E_INTERNAL;
        goto out;
    }
    snprintf(g->host, n, "%s%s%s", host, port ? ":" : "", port ? port : "");
    snprintf(g->url, n, "%s://%s%.*s", scheme, g->host, (int)plen, path ? path : "");
    rc = TS_OK;
out:
    curl_free(scheme), curl_free(host), curl_free(port), curl_free(path), curl_free(user);
    curl_free(q);
    curl_url_cleanup(u);
    return rc;
}

int gw_open(const struct gw_config *cfg, struct gw **out, char *err, size_t errlen)
{
    struct gw *g = calloc(1, sizeof *g);
    *out = NULL;
    /* Every transfer allocates and frees libcurl's buffers (GW_CURL_BUFFER): served from the
     * heap and not given back to the kernel after each one (a fresh mmap or a trimmed heap
     * costs a page fault per 4 KiB on every request). What stays is bounded by the peak. */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    if (g == NULL || curlx_global_init() != 0)
        return free(g), TS_E_INTERNAL;
    pthread_mutex_init(&g->lock, NULL);
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    g->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g->due_ms = -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = g->wake};
    int rc = g->ep < 0 || g->wake < 0 || epoll_ctl(g->ep, EPOLL_CTL_ADD, g->wake, &ev) != 0
                 ? TS_E_INTERNAL
                 : gw_parse_url(g, cfg->url, err, errlen);
    snprintf(g->region, sizeof g->region, "%s", cfg->region);
    g->ak = strdup(cfg->access_key);
    g->sk = strdup(cfg->secret_key);
    g->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 60;
    g->iam = cfg->iam;
    g->ca.ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    g->ca.ca_extra = curlx_ca_dir(cfg->certs_dir);
    g->kc = sigv4_keycache_new();
    g->multi = curl_multi_init();
    if (rc == TS_OK && (g->ak == NULL || g->sk == NULL || g->kc == NULL || g->multi == NULL))
        rc = TS_E_INTERNAL;
    if (rc == TS_OK) {
        curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, 256L);
        curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g);
        curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, on_timer);
        curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g);
        if (pthread_create(&g->thr, NULL, gw_main, g) != 0)
            rc = TS_E_INTERNAL;
        else
            g->started = true;
    }
    if (rc != TS_OK) {
        if (rc == TS_E_INTERNAL)
            snprintf(err, errlen, "out of memory");
        gw_close(g);
        return rc;
    }
    *out = g;
    return TS_OK;
}

void gw_close(struct gw *g)
{
    if (g == NULL)
        return;
    if (g->started) {
        pthread_mutex_lock(&g->lock);
        g->stop = true;
        pthread_mutex_unlock(&g->lock);
        wake(g);
        pthread_join(g->thr, NULL);
    }
    while (g->pending != NULL) { /* asked after the thread's last round */
        struct gw_xfer *x = g->pending;
        g->pending = x->pnext;
        x->in_pending = false;
        xfer_done(x, CURLE_ABORTED_BY_CALLBACK);
        gw_xfer_release(x);
    }
    for (size_t i = 0; i < g->neasy; i++)
        curl_easy_cleanup(g->easy[i]);
    for (size_t i = 0; i < g->nbufs; i++)
        free(g->bufs[i]);
    if (g->multi)
        curl_multi_cleanup(g->multi);
    if (g->ep >= 0)
        close(g->ep);
    if (g->wake >= 0)
        close(g->wake);
    sigv4_keycache_free(g->kc);
    if (g->sk)
        OPENSSL_cleanse(g->sk, strlen(g->sk));
    free(g->sk);
    free(g->ak);
    free(g->url);
    free(g->host);
    free((char *)g->ca.ca_file);
    curlx_strv_free((char **)g->ca.ca_extra);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

const char *gw_url(const struct gw *g)
{
    return g->url;
}

struct iam_store *gw_iam(const struct gw *g)
{
    return g->iam;
}

void gw_scrub(const struct gw *g, char *text)
{
    size_t n = strlen(g->ak);
    for (char *p = n ? strstr(text, g->ak) : NULL; p != NULL; p = strstr(p, g->ak))
        memset(p, '*', n);
}

/* ---- curl callbacks (gateway thread) ---- */

static size_t on_header(char *b, size_t size, size_t n, void *ud)
{
    struct gw_xfer *x = ud;
    size_t len = size * n;
    pthread_mutex_lock(&x->lock);
    if (len >= 5 && strncmp(b, "HTTP/", 5) == 0) {
        const char *sp = memchr(b, ' ', len);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        http_kv_free(x->rh, x->nrh); /* a 1xx answer's headers */
        x->rh = NULL;
        x->nrh = x->rh_bytes = 0;
    } else if (len <= 2 && (b[0] == '\r' || b[0] == '\n')) {
        if (x->status >= 200) {
            x->got_headers = x->g->hdrs_new = true;
            pthread_cond_broadcast(&x->cond);
        }
    } else if (x->nrh < GW_MAX_RESP_HEADERS && x->rh_bytes + len < GW_MAX_RESP_HEADER_BYTES) {
        char line[GW_MAX_RESP_HEADER_BYTES];
        memcpy(line, b, len);
        line[len] = 0;
        char *colon = strchr(line, ':'), *end = line + len;
        while (end > line && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            *--end = 0;
        if (colon != NULL) {
            *colon++ = 0;
            while (*colon == ' ' || *colon == '\t')
                colon++;
            if (http_kv_add(&x->rh, &x->nrh, line, colon) == TS_OK)
                x->rh_bytes += len;
        }
    }
    pthread_mutex_unlock(&x->lock);
    return len;
}

static size_t on_write(char *b, size_t size, size_t n, void *ud)
{
    struct gw_xfer *x = ud;
    size_t len = size * n;
    pthread_mutex_lock(&x->lock);
    if (len > GW_RING - x->down.len && len <= GW_RING) {
        x->recv_paused = true; /* curl keeps the data and delivers it again once resumed */
        pthread_mutex_unlock(&x->lock);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (ring_add(x->g, &x->down, b, len) != TS_OK)
        len = 0; /* an error for curl */
    /* The reader waits for a useful amount (each resume costs a round through the event
     * loop), or for the end (xfer_done). */
    if (x->reader_susp && x->r != NULL && x->down.len >= GW_RESUME_AT) {
        http_req_resume(x->r);
        x->reader_susp = false;
    }
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    return len;
}

/* Sends what the ring holds; the last byte of the body only once verified. */
static size_t on_read(char *b, size_t size, size_t n, void *ud)
{
    struct gw_xfer *x = ud;
    size_t max = size * n, got;
    pthread_mutex_lock(&x->lock);
    if (x->aborted) {
        pthread_mutex_unlock(&x->lock);
        return CURL_READFUNC_ABORT;
    }
    uint64_t left = x->total - x->sent, avail = x->body == 2 ? left : x->up.len;
    if (!x->verified && left > 0 && avail >= left)
        avail = left - 1;
    if (avail == 0 && left > 0) {
        x->send_paused = true;
        pthread_mutex_unlock(&x->lock);
        return CURL_READFUNC_PAUSE;
    }
    if (x->body == 2) {
        got = avail < max ? (size_t)avail : max;
        memcpy(b, x->data + x->sent, got);
    } else {
        got = ring_take(&x->up, b, avail < max ? (size_t)avail : max);
    }
    x->sent += got;
    if (x->body_susp && x->up.len < GW_RING / 2 && x->r != NULL) {
        x->body_susp = false;
        http_req_resume(x->r);
    }
    pthread_mutex_unlock(&x->lock);
    return got;
}

/* ---- one request ---- */

struct gw_xfer *gw_xfer_new(struct gw *g, struct http_req *r, const char *method, const char *path,
                            const char *query)
{
    struct gw_xfer *x = calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    x->g = g;
    atomic_init(&x->refs, 1);
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->cond, NULL);
    x->r = r;
    x->method = strdup(method);
    x->path = strdup(path);
    x->query = strdup(query ? query : "");
    pthread_mutex_lock(&g->lock);
    x->h = g->neasy > 0 ? g->easy[--g->neasy] : NULL;
    pthread_mutex_unlock(&g->lock);
    if (x->h != NULL)
        curl_easy_reset(x->h);
    else
        x->h = curl_easy_init();
    if (x->method == NULL || x->path == NULL || x->query == NULL || x->h == NULL ||
        gw_xfer_header(x, "host", g->host) != TS_OK) {
        gw_xfer_release(x);
        return NULL;
    }
    x->verified = true; /* until a streamed body says otherwise */
    return x;
}

int gw_xfer_header(struct gw_xfer *x, const char *name, const char *value)
{
    return http_kv_add(&x->rq, &x->nrq, name, value);
}

int gw_xfer_body_stream(struct gw_xfer *x, uint64_t len, const char *payload_hash)
{
    x->body = 1;
    x->total = len;
    x->verified = len == 0;
    snprintf(x->payload_hash, sizeof x->payload_hash, "%s", payload_hash);
    return TS_OK;
}

int gw_xfer_body_data(struct gw_xfer *x, const void *data, size_t len)
{
    x->body = 2;
    x->total = len;
    sigv4_sha256_hex(data, len, x->payload_hash);
    if (len > 0 && (x->data = malloc(len)) == NULL)
        return TS_E_INTERNAL;
    if (len > 0)
        memcpy(x->data, data, len);
    return TS_OK;
}

/* ---- signing ---- */

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct http_kv *)a)->key, ((const struct http_kv *)b)->key);
}

static void rq_iter(void *src, int (*fn)(void *fctx, const char *name, const char *value),
                    void *fctx)
{
    struct gw_xfer *x = src;
    for (size_t i = 0; i < x->nrq; i++)
        if (fn(fctx, x->rq[i].key, x->rq[i].value) != 0)
            return;
}

/* x-amz-date, x-amz-content-sha256 and Authorization over every header of x->rq (sorted by
 * name, every one signed). TS_OK or TS_E_INTERNAL. */
static int xfer_sign(struct gw_xfer *x)
{
    struct gw *g = x->g;
    char amz[17], sig[65], signed_h[2048] = "";
    size_t used = 0;
    enc_time_amz(time(NULL), amz);
    const char *ph = x->body == 0 ? SIGV4_EMPTY_SHA256 : x->payload_hash;
    if (gw_xfer_header(x, "x-amz-date", amz) != TS_OK ||
        gw_xfer_header(x, "x-amz-content-sha256", ph) != TS_OK)
        return TS_E_INTERNAL;
    qsort(x->rq, x->nrq, sizeof *x->rq, kv_cmp);
    for (size_t i = 0; i < x->nrq; i++) {
        if (i > 0 && strcmp(x->rq[i].key, x->rq[i - 1].key) == 0)
            continue;
        int k = snprintf(signed_h + used, sizeof signed_h - used, "%s%s", used ? ";" : "",
                         x->rq[i].key);
        if (k < 0 || (size_t)k >= sizeof signed_h - used)
            return TS_E_INTERNAL;
        used += (size_t)k;
    }
    struct sigv4_input in = {x->method, x->path, x->query, false, signed_h, rq_iter, x, ph};
    if (sigv4_signature(&in, g->sk, amz, g->region, "s3", sig) != TS_OK)
        return TS_E_INTERNAL;
    size_t alen = strlen(g->ak) + strlen(g->region) + strlen(signed_h) + 200;
    char *auth = malloc(alen);
    if (auth == NULL)
        return TS_E_INTERNAL;
    snprintf(auth, alen,
             "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/s3/aws4_request, SignedHeaders=%s, "
             "Signature=%s",
             g->ak, amz, g->region, signed_h, sig);
    int rc = gw_xfer_header(x, "authorization", auth);
    free(auth);
    return rc;
}

/* The header lines for curl, with curl's own defaults that nobody signed removed. */
static int xfer_slist(struct gw_xfer *x)
{
    static const char *const off[] = {"Expect:", "Accept:", "Content-Type:"};
    bool ctype = false;
    for (size_t i = 0; i <= x->nrq + 2; i++) {
        char *line = NULL;
        if (i < x->nrq) {
            ctype |= strcmp(x->rq[i].key, "content-type") == 0;
            if (asprintf(&line, "%s: %s", x->rq[i].key, x->rq[i].value) < 0)
                return TS_E_INTERNAL;
        } else if (i - x->nrq < 2 || !ctype) {
            line = strdup(off[i - x->nrq]);
        } else {
            continue;
        }
        struct curl_slist *n = line ? curl_slist_append(x->slist, line) : NULL;
        free(line);
        if (n == NULL)
            return TS_E_INTERNAL;
        x->slist = n;
    }
    return TS_OK;
}

static void xfer_options(struct gw_xfer *x)
{
    struct gw *g = x->g;
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_URL, x->url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, g->timeout_s < 10 ? g->timeout_s : 10L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, g->timeout_s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->slist);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, x);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, GW_CURL_BUFFER);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, GW_CURL_BUFFER);
    if (strncmp(g->url, "https:", 6) == 0)
        curlx_set_ca(h, &g->ca);
    if (strcmp(x->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(x->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->total);
    } else if (strcmp(x->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->total);
    } else if (strcmp(x->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, x->method);
    }
}

int gw_xfer_submit(struct gw_xfer *x)
{
    struct gw *g = x->g;
    if (xfer_sign(x) != TS_OK || xfer_slist(x) != TS_OK)
        return TS_E_INTERNAL;
    if (asprintf(&x->url, "%s%s%s%s", g->url, x->path, x->query[0] ? "?" : "", x->query) < 0) {
        x->url = NULL;
        return TS_E_INTERNAL;
    }
    xfer_options(x);
    pthread_mutex_lock(&x->lock);
    want_locked(x, GW_WANT_ADD);
    pthread_mutex_unlock(&x->lock);
    return TS_OK;
}

/* ---- the client's side ---- */

int gw_xfer_push(void *ctx, const uint8_t *p, size_t n)
{
    struct gw_xfer *x = ctx;
    int rc = TS_OK;
    pthread_mutex_lock(&x->lock);
    if (x->pushed + n > x->total) {
        rc = TS_E_INCOMPLETE_BODY; /* more than declared */
    } else if (x->done) {
        x->pushed += n; /* the upstream answered already: finish relays it */
    } else if ((rc = ring_add(x->g, &x->up, p, n)) == TS_OK) {
        x->pushed += n;
        if (x->send_paused) {
            x->send_paused = false;
            want_locked(x, GW_WANT_PAUSE);
        }
        if (x->up.len > GW_RING - GW_PUSH_MAX && x->r != NULL) { /* the next write fits */
            if (http_req_suspend(x->r))
                x->body_susp = true;
            else
                rc = TS_E_SERVICE_UNAVAILABLE;
        }
    }
    pthread_mutex_unlock(&x->lock);
    return rc;
}

void gw_xfer_verified(struct gw_xfer *x)
{
    pthread_mutex_lock(&x->lock);
    x->verified = true;
    if (x->send_paused) {
        x->send_paused = false;
        want_locked(x, GW_WANT_PAUSE);
    }
    pthread_mutex_unlock(&x->lock);
}

/* Why the transfer failed, naming the upstream (never its keys, which are not in its URL). */
static int xfer_error(struct gw_xfer *x, char *msg, size_t msglen)
{
    CURLcode cc = x->cc;
    const char *why = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
        snprintf(msg, msglen, "The upstream S3 server %s cannot be reached: %s.", x->g->url, why);
        return TS_E_SERVICE_UNAVAILABLE;
    }
    if (cc == CURLE_OPERATION_TIMEDOUT)
        snprintf(msg, msglen, "The upstream S3 server %s did not answer within %ld s.", x->g->url,
                 x->g->timeout_s);
    else
        snprintf(msg, msglen, "The upstream S3 server %s failed: %s.", x->g->url, why);
    return TS_E_BAD_GATEWAY;
}

void gw_xfer_wait(struct gw_xfer *x, struct gw_resp *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&x->lock);
    while (!x->got_headers && !x->done)
        pthread_cond_wait(&x->cond, &x->lock);
    if (x->got_headers) {
        out->status = x->status;
        out->h = x->rh;
        out->nh = x->nrh;
    } else {
        out->err = xfer_error(x, out->msg, sizeof out->msg);
    }
    pthread_mutex_unlock(&x->lock);
}

int gw_xfer_read_all(struct gw_xfer *x, struct buf *out, size_t max, char *msg, size_t msglen)
{
    uint8_t tmp[16384];
    int rc = TS_OK;
    pthread_mutex_lock(&x->lock);
    for (;;) {
        size_t n = ring_take(&x->down, tmp, sizeof tmp);
        if (n > 0) {
            if (x->recv_paused) {
                x->recv_paused = false;
                want_locked(x, GW_WANT_PAUSE);
            }
            if (buf_len(out) + n <= max)
                buf_add(out, tmp, n);
            continue;
        }
        if (x->done)
            break;
        pthread_cond_wait(&x->cond, &x->lock);
    }
    if (x->cc != CURLE_OK)
        rc = xfer_error(x, msg, msglen);
    pthread_mutex_unlock(&x->lock);
    return rc;
}

long gw_xfer_read(void *ctx, char *b, size_t max)
{
    struct gw_xfer *x = ctx;
    long rc;
    pthread_mutex_lock(&x->lock);
    if (x->down.len > 0) {
        rc = (long)ring_take(&x->down, b, max);
        if (x->recv_paused && x->down.len < GW_RING / 2) {
            x->recv_paused = false;
            want_locked(x, GW_WANT_PAUSE);
        }
    } else if (x->done) {
        rc = x->cc == CURLE_OK ? HTTP_STREAM_END : HTTP_STREAM_ERROR;
        if (x->cc != CURLE_OK)
            log_kv(LOG_WARN, "gateway.stream", "upstream", x->g->url, "error",
                   x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->cc), NULL);
    } else if (x->r != NULL && http_req_suspend(x->r)) {
        x->reader_susp = true;
        rc = 0;
    } else {
        rc = HTTP_STREAM_ERROR;
    }
    pthread_mutex_unlock(&x->lock);
    return rc;
}

bool gw_xfer_take(struct gw_xfer *x, uint64_t len, size_t max, void **out)
{
    bool ok = false;
    *out = NULL;
    pthread_mutex_lock(&x->lock);
    if (x->done && x->cc == CURLE_OK && len <= max && x->down.len == len &&
        (len == 0 || (*out = malloc(len)) != NULL)) {
        ring_take(&x->down, *out, len);
        ok = true;
    }
    pthread_mutex_unlock(&x->lock);
    return ok;
}

void gw_xfer_ref(struct gw_xfer *x)
{
    atomic_fetch_add(&x->refs, 1);
}

void gw_xfer_release(void *ctx)
{
    struct gw_xfer *x = ctx;
    if (x == NULL || atomic_fetch_sub(&x->refs, 1) != 1)
        return;
    struct gw *g = x->g;
    pthread_mutex_lock(&g->lock);
    if (x->h != NULL && g->neasy < GW_CACHED) {
        g->easy[g->neasy++] = x->h; /* no longer in the multi handle: its transfer ended */
        x->h = NULL;
    }
    pthread_mutex_unlock(&g->lock);
    if (x->h)
        curl_easy_cleanup(x->h);
    curl_slist_free_all(x->slist);
    http_kv_free(x->rq, x->nrq);
    http_kv_free(x->rh, x->nrh);
    buf_put(g, x->up.p);
    buf_put(g, x->down.p);
    free(x->data);
    free(x->method);
    free(x->path);
    free(x->query);
    free(x->url);
    pthread_mutex_destroy(&x->lock);
    pthread_cond_destroy(&x->cond);
    free(x);
}

void gw_xfer_detach(struct gw_xfer *x)
{
    if (x == NULL)
        return;
    pthread_mutex_lock(&x->lock);
    x->r = NULL;
    x->reader_susp = x->body_susp = false;
    while (x->in_cb) /* the callback may use the request: let it end */
        pthread_cond_wait(&x->cond, &x->lock);
    if (!x->done) {
        x->aborted = true;
        want_locked(x, GW_WANT_ABORT);
    }
    pthread_mutex_unlock(&x->lock);
    gw_xfer_release(x);
}
