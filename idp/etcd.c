/* etcd.c -- the etcd v3 JSON gateway client (idp/etcd.h). */
#include "idp/etcd.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "core/buf.h"
#include "core/curlx.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

#define ETCD_MAX_EP 16
#define ETCD_POOL 8
#define ETCD_MAX_RESP (64u * 1024 * 1024)
#define ETCD_MAX_LINE (16u * 1024 * 1024)

struct etcd {
    char *ep[ETCD_MAX_EP];
    size_t nep;
    atomic_size_t cur;
    atomic_bool failing; /* the last request found no endpoint (logged once) */
    char *ca_file, *cert, *key, *user, *pass;
    long connect_ms, timeout_ms;
    pthread_mutex_t lock; /* token and pool */
    char *token;
    CURL *pool[ETCD_POOL];
    size_t npool;
};

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

static int add_endpoint(struct etcd *c, const char *s, size_t n)
{
    while (n > 0 && (s[0] == ' ' || s[0] == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '/'))
        n--;
    if (n == 0)
        return 0;
    if (!((n > 7 && strncmp(s, "http://", 7) == 0) || (n > 8 && strncmp(s, "https://", 8) == 0))) {
        fprintf(stderr, "tessera: etcd endpoint %.*s: expected an http:// or https:// URL\n",
                (int)n, s);
        return TS_E_INVALID_ARGUMENT;
    }
    if (c->nep == ETCD_MAX_EP) {
        fprintf(stderr, "tessera: more than %d etcd endpoints\n", ETCD_MAX_EP);
        return TS_E_INVALID_ARGUMENT;
    }
    if ((c->ep[c->nep] = strndup(s, n)) == NULL)
        return TS_E_INTERNAL;
    c->nep++;
    return 0;
}

int etcd_new(const struct etcd_config *cfg, struct etcd **out)
{
    struct etcd *c = calloc(1, sizeof *c);
    int rc = TS_OK;
    if (c == NULL || curlx_global_init() != 0) {
        free(c);
        return TS_E_INTERNAL;
    }
    pthread_mutex_init(&c->lock, NULL);
    for (const char *p = cfg->endpoints != NULL ? cfg->endpoints : ""; rc == TS_OK;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        rc = add_endpoint(c, p, n);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (rc == TS_OK && c->nep == 0) {
        fprintf(stderr, "tessera: no etcd endpoint given\n");
        rc = TS_E_INVALID_ARGUMENT;
    }
    c->ca_file = dup_or_null(cfg->ca_file);
    c->cert = dup_or_null(cfg->client_cert);
    c->key = dup_or_null(cfg->client_key);
    c->user = dup_or_null(cfg->username);
    c->pass = strdup(cfg->password != NULL ? cfg->password : "");
    c->connect_ms = cfg->connect_ms > 0 ? cfg->connect_ms : 1000;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 3000;
    if (rc == TS_OK && c->pass == NULL)
        rc = TS_E_INTERNAL;
    if (rc != TS_OK) {
        etcd_free(c);
        return rc;
    }
    *out = c;
    return TS_OK;
}

void etcd_free(struct etcd *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nep; i++)
        free(c->ep[i]);
    for (size_t i = 0; i < c->npool; i++)
        curl_easy_cleanup(c->pool[i]);
    free(c->ca_file);
    free(c->cert);
    free(c->key);
    free(c->user);
    enc_secret_free(c->pass);
    enc_secret_free(c->token);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void etcd_endpoint(struct etcd *c, char *out, size_t n)
{
    snprintf(out, n, "%s", c->ep[atomic_load(&c->cur) % c->nep]);
}

/* ---- JSON helpers ---- */

json_t *etcd_b64(const void *p, size_t n)
{
    char *s = enc_b64(p, n);
    json_t *j = s != NULL ? json_string(s) : NULL;
    free(s);
    return j;
}

int etcd_unb64(json_t *s, char **out, size_t *len)
{
    const char *in = s != NULL ? json_string_value(s) : "";
    if (in == NULL)
        return -1;
    size_t n = strlen(in);
    char *b = malloc(3 * (n / 4) + 1);
    long l = b != NULL ? enc_unb64(in, n, (uint8_t *)b) : -1;
    if (l < 0) {
        free(b);
        return -1;
    }
    b[l] = '\0';
    *out = b;
    *len = (size_t)l;
    return 0;
}

int64_t etcd_i64(json_t *obj, const char *member)
{
    json_t *v = json_object_get(obj, member);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    const char *s = json_string_value(v);
    if (s == NULL)
        return 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    return *end == '\0' ? (int64_t)x : 0;
}

int64_t etcd_header_rev(json_t *resp)
{
    return etcd_i64(json_object_get(resp, "header"), "revision");
}

char *etcd_prefix_end(const char *p, size_t n, size_t *elen)
{
    char *e = malloc(n + 1);
    if (e == NULL)
        return NULL;
    memcpy(e, p, n);
    while (n > 0 && (unsigned char)e[n - 1] == 0xff)
        n--;
    if (n == 0) { /* every key: etcd's "\0" range end */
        e[0] = '\0';
        *elen = 1;
        return e;
    }
    e[n - 1]++;
    e[n] = '\0';
    *elen = n;
    return e;
}

static int set_key_range(json_t *o, const char *key, size_t klen, const char *end, size_t elen)
{
    int rc = json_object_set_new(o, "key", etcd_b64(key, klen));
    if (end != NULL)
        rc |= json_object_set_new(o, "range_end", etcd_b64(end, elen));
    return rc;
}

static json_t *i64_json(int64_t v)
{
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    return json_string(b);
}

json_t *etcd_range_req(const char *key, size_t klen, const char *end, size_t elen, int64_t rev,
                       int64_t limit)
{
    json_t *o = json_object();
    int rc = o != NULL ? set_key_range(o, key, klen, end, elen) : -1;
    if (rev > 0)
        rc |= json_object_set_new(o, "revision", i64_json(rev));
    if (limit > 0)
        rc |= json_object_set_new(o, "limit", i64_json(limit));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *etcd_cmp_mod(const char *key, size_t klen, const char *end, size_t elen, const char *result,
                     int64_t rev)
{
    json_t *o = json_pack("{s:s, s:s, s:o}", "target", "MOD", "result", result, "mod_revision",
                          i64_json(rev));
    if (o != NULL && set_key_range(o, key, klen, end, elen) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *etcd_op_put(const char *key, size_t klen, const void *val, size_t vlen)
{
    return json_pack("{s:{s:o, s:o}}", "request_put", "key", etcd_b64(key, klen), "value",
                     etcd_b64(val, vlen));
}

json_t *etcd_op_del(const char *key, size_t klen, const char *end, size_t elen)
{
    json_t *o = json_object();
    if (o == NULL || set_key_range(o, key, klen, end, elen) != 0) {
        json_decref(o);
        return NULL;
    }
    return json_pack("{s:o}", "request_delete_range", o);
}

json_t *etcd_op_range(json_t *range_req)
{
    return range_req != NULL ? json_pack("{s:o}", "request_range", range_req) : NULL;
}

/* ---- requests ---- */

static CURLcode on_ssl_ctx(CURL *curl, void *sslctx, void *ud)
{
    const struct etcd *c = ud;
    (void)curl;
    if (SSL_CTX_load_verify_locations(sslctx, c->ca_file, NULL) != 1)
        return CURLE_SSL_CACERT_BADFILE;
    return CURLE_OK;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    return buf_add(ud, p, size * n) == 0 ? size * n : 0;
}

/* The options every request shares: endpoint ep + path, TLS, timeouts (timeout_ms 0: none). */
static void set_common(struct etcd *c, CURL *h, size_t ep, const char *path, long timeout_ms,
                       struct curl_slist *hdrs)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", c->ep[ep], path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tessera");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (c->ca_file != NULL && strncmp(c->ep[ep], "https:", 6) == 0) {
        curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
        curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, (void *)c);
    }
    if (c->cert != NULL)
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
    if (c->key != NULL)
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
}

/* The headers: JSON, and the token when there is one (wiped by hdrs_free). */
static struct curl_slist *hdrs_new(struct etcd *c)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    pthread_mutex_lock(&c->lock);
    if (h != NULL && c->token != NULL) {
        size_t n = strlen(c->token) + 32;
        char *line = malloc(n);
        if (line != NULL) {
            snprintf(line, n, "Authorization: %s", c->token);
            struct curl_slist *next = curl_slist_append(h, line);
            h = next != NULL ? next : h;
            enc_secret_free(line);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return h;
}

static void hdrs_free(struct curl_slist *h)
{
    for (struct curl_slist *s = h; s != NULL; s = s->next)
        OPENSSL_cleanse(s->data, strlen(s->data));
    curl_slist_free_all(h);
}

static CURL *handle_get(struct etcd *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->npool > 0)
        h = c->pool[--c->npool];
    pthread_mutex_unlock(&c->lock);
    if (h != NULL)
        curl_easy_reset(h);
    return h != NULL ? h : curl_easy_init();
}

static void handle_put(struct etcd *c, CURL *h)
{
    pthread_mutex_lock(&c->lock);
    if (c->npool < ETCD_POOL) {
        c->pool[c->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (h != NULL)
        curl_easy_cleanup(h);
}

/* One POST to endpoint ep: the curl code, *status and the body into *out. */
static CURLcode post_once(struct etcd *c, size_t ep, const char *path, const char *body,
                          struct buf *out, long *status)
{
    CURL *h = handle_get(c);
    struct curl_slist *hdrs = hdrs_new(c);
    CURLcode cc = CURLE_FAILED_INIT;
    *status = 0;
    if (h != NULL && hdrs != NULL) {
        set_common(c, h, ep, path, c->timeout_ms, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
        cc = curl_easy_perform(h);
        if (cc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    }
    hdrs_free(hdrs);
    if (h != NULL)
        handle_put(c, h);
    return cc;
}

/* Authenticates at endpoint ep (the password and the token never leave this function but to
 * etcd and c->token). TS_OK, TS_E_SERVICE_UNAVAILABLE, or TS_E_ACCESS_DENIED. */
static int authenticate(struct etcd *c, size_t ep)
{
    json_t *req = json_pack("{s:s, s:s}", "name", c->user, "password", c->pass);
    char *body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    struct buf out;
    long status;
    int rc = TS_E_INTERNAL;
    buf_init(&out, 1024 * 1024);
    json_decref(req); /* jansson keeps its own copy of the password: freed, not wiped */
    if (body != NULL) {
        CURLcode cc = post_once(c, ep, "/v3/auth/authenticate", body, &out, &status);
        json_t *r = cc == CURLE_OK && status == 200 ? json_loads(buf_str(&out), 0, NULL) : NULL;
        const char *tok = json_string_value(json_object_get(r, "token"));
        rc = tok != NULL                       ? TS_OK
             : cc != CURLE_OK || status >= 500 ? TS_E_SERVICE_UNAVAILABLE
                                               : TS_E_ACCESS_DENIED;
        if (tok != NULL) {
            pthread_mutex_lock(&c->lock);
            enc_secret_free(c->token);
            c->token = strdup(tok);
            pthread_mutex_unlock(&c->lock);
        } else {
            log_event(LOG_ERROR, "etcd", "authentication as %s at %s failed (HTTP %ld)", c->user,
                      c->ep[ep], status);
        }
        json_decref(r);
        enc_secret_free(body);
    }
    if (out.p != NULL)
        OPENSSL_cleanse(out.p, out.cap);
    buf_free(&out);
    return rc;
}

static bool bad_token(long status, const char *body)
{
    return status == 401 || strstr(body, "invalid auth token") != NULL ||
           strstr(body, "user name is empty") != NULL;
}

static void record_latency(const char *op, struct timespec *t0)
{
    struct timespec t1;
    char labels[64];
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t us = (uint64_t)(t1.tv_sec - t0->tv_sec) * 1000000 +
                  (uint64_t)((t1.tv_nsec - t0->tv_nsec) / 1000);
    snprintf(labels, sizeof labels, "op=\"%s\"", op);
    metrics_inc("tessera_etcd_requests_total", "Requests to etcd, by operation.", labels, 1);
    metrics_inc("tessera_etcd_request_microseconds_total",
                "Time spent in requests to etcd (microseconds), by operation.", labels, us);
}

/* One request at endpoint ep, authenticating once more when the token was refused. */
static int call_at(struct etcd *c, size_t ep, const char *path, const char *body, struct buf *out,
                   long *status)
{
    for (int attempt = 0;; attempt++) {
        if (c->user != NULL && c->token == NULL) {
            int rc = authenticate(c, ep);
            if (rc != TS_OK)
                return rc;
        }
        buf_free(out);
        buf_init(out, ETCD_MAX_RESP);
        CURLcode cc = post_once(c, ep, path, body, out, status);
        if (cc != CURLE_OK || *status >= 500) {
            if (!atomic_load(&c->failing))
                log_event(LOG_WARN, "etcd", "%s%s: %.300s", c->ep[ep], path,
                          cc != CURLE_OK ? curl_easy_strerror(cc) : buf_str(out));
            return TS_E_SERVICE_UNAVAILABLE;
        }
        if (c->user == NULL || attempt > 0 || !bad_token(*status, buf_str(out)))
            return TS_OK;
        pthread_mutex_lock(&c->lock);
        enc_secret_free(c->token);
        c->token = NULL;
        pthread_mutex_unlock(&c->lock);
    }
}

int etcd_call(struct etcd *c, const char *op, const char *path, json_t *body, json_t **resp)
{
    char *text = json_dumps(body, JSON_COMPACT);
    struct buf out;
    struct timespec t0;
    int rc = TS_E_SERVICE_UNAVAILABLE;
    long status = 0;
    if (text == NULL)
        return TS_E_INTERNAL;
    buf_init(&out, ETCD_MAX_RESP);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t first = atomic_load(&c->cur);
    for (size_t i = 0; i < c->nep && rc == TS_E_SERVICE_UNAVAILABLE; i++) {
        size_t ep = (first + i) % c->nep;
        rc = call_at(c, ep, path, text, &out, &status);
        if (rc == TS_OK)
            atomic_store(&c->cur, ep);
    }
    record_latency(op, &t0);
    if (rc == TS_E_SERVICE_UNAVAILABLE && !atomic_exchange(&c->failing, true))
        log_event(LOG_ERROR, "etcd", "no etcd endpoint answers (%s): retrying", op);
    else if (rc != TS_E_SERVICE_UNAVAILABLE && atomic_exchange(&c->failing, false))
        log_event(LOG_INFO, "etcd", "etcd answers again at %s", c->ep[atomic_load(&c->cur)]);
    if (rc == TS_OK && status != 200) {
        log_event(LOG_ERROR, "etcd", "%s refused (HTTP %ld): %.300s", op, status, buf_str(&out));
        rc = TS_E_INTERNAL;
    }
    if (rc == TS_OK && (*resp = json_loads(buf_str(&out), 0, NULL)) == NULL)
        rc = TS_E_INTERNAL;
    if (out.p != NULL)
        OPENSSL_cleanse(out.p, out.cap);
    buf_free(&out);
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    return rc;
}

/* ---- watch ---- */

struct watch_state {
    const struct etcd_watch_cb *cb;
    struct buf line;
    int stop_rc; /* what on_result returned, when it stopped the stream */
    bool bad;    /* an unparsable line or an error object */
};

static int watch_line(struct watch_state *w, const char *s, size_t n)
{
    json_t *o = json_loadb(s, n, 0, NULL);
    json_t *res = json_object_get(o, "result");
    int rc = 0;
    if (res == NULL) {
        if (o != NULL || n > 0)
            log_event(LOG_WARN, "etcd", "watch: unexpected message: %.200s", s);
        w->bad = o != NULL || n > 0;
        rc = w->bad ? -1 : 0;
    } else if ((rc = w->cb->on_result(res, w->cb->arg)) != 0) {
        w->stop_rc = rc;
    }
    json_decref(o);
    return rc;
}

static size_t on_watch_body(char *p, size_t size, size_t n, void *ud)
{
    struct watch_state *w = ud;
    size_t len = size * n;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '\n') {
            if (buf_add(&w->line, &p[i], 1) != 0)
                return 0;
            continue;
        }
        int rc = watch_line(w, buf_str(&w->line), buf_len(&w->line));
        buf_free(&w->line);
        buf_init(&w->line, ETCD_MAX_LINE);
        if (rc != 0)
            return 0;
    }
    return len;
}

static int on_watch_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    struct watch_state *w = ud;
    return w->cb->stop(w->cb->arg) ? 1 : 0;
}

int etcd_watch(struct etcd *c, const char *key, size_t klen, const char *end, size_t elen,
               int64_t start_rev, const struct etcd_watch_cb *cb)
{
    json_t *cr = json_object();
    if (cr == NULL || set_key_range(cr, key, klen, end, elen) != 0 ||
        json_object_set_new(cr, "start_revision", i64_json(start_rev)) != 0) {
        json_decref(cr);
        return TS_E_INTERNAL;
    }
    json_t *req = json_pack("{s:o}", "create_request", cr);
    char *body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    size_t ep = atomic_load(&c->cur) % c->nep;
    if (body == NULL || (c->user != NULL && c->token == NULL && authenticate(c, ep) != TS_OK)) {
        free(body);
        return TS_E_SERVICE_UNAVAILABLE;
    }
    struct watch_state w = {.cb = cb};
    buf_init(&w.line, ETCD_MAX_LINE);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = hdrs_new(c);
    CURLcode cc = CURLE_FAILED_INIT;
    if (h != NULL && hdrs != NULL) {
        set_common(c, h, ep, "/v3/watch", 0, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_watch_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
        cc = curl_easy_perform(h);
    }
    long status = 0;
    if (h != NULL)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status == 401 && c->user != NULL) { /* the token expired: a new one next time */
        pthread_mutex_lock(&c->lock);
        enc_secret_free(c->token);
        c->token = NULL;
        pthread_mutex_unlock(&c->lock);
    }
    hdrs_free(hdrs);
    curl_easy_cleanup(h);
    buf_free(&w.line);
    free(body);
    if (w.stop_rc != 0)
        return w.stop_rc;
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        return TS_OK;
    if ((cc != CURLE_OK || status != 200 || w.bad) && !atomic_load(&c->failing))
        log_event(LOG_WARN, "etcd", "watch at %s ended: %s (HTTP %ld)", c->ep[ep],
                  cc != CURLE_OK ? curl_easy_strerror(cc) : "closed", status);
    atomic_store(&c->cur, (ep + 1) % c->nep); /* try the next endpoint next time */
    return TS_E_SERVICE_UNAVAILABLE;
}
