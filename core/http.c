/* http.c -- the HTTP server over libmicrohttpd and the request lifecycle of core/http.h.
 *
 * Threading: MHD_USE_EPOLL_INTERNAL_THREAD with a thread pool (DESIGN §6: the measured
 * winner on two cores). libmicrohttpd calls the access handler several times per request:
 * once when the headers are in (we route, authenticate and start the handler), once per body
 * chunk, and once at the end (we finish and queue the reply). Replies are queued on the
 * second call or later so connections stay alive; an error found while a body is still
 * pending is queued at once so the rest of the body is discarded (and an
 * "Expect: 100-continue" client never sends it).
 */
#include "core/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"

#define HTTP_MAX_ROUTES 16
#define HTTP_DEFAULT_BODY_MAX (1u << 20)
/* After an error found mid-body (a bad chunk signature, a sink failure), up to this many
 * remaining declared body bytes are read and discarded before answering: closing a socket
 * with unread data makes the kernel send a reset that destroys the error response. */
#define HTTP_DRAIN_MAX (8u << 20)
/* Query parameters a request may have (S3 calls use a dozen or so); more is 400 InvalidURI. */
#define HTTP_QUERY_MAX 256
#define HTTP_QUERY_MAX_STR "256"

struct http_server {
    struct MHD_Daemon *daemon;
    struct http_config cfg;
    const struct http_route *routes[HTTP_MAX_ROUTES];
    size_t nroutes;
    http_authn_fn authn_begin, authn_finish;
    void *authn_ctx;
    http_authn_form_fn authn_form; /* with authn_ctx */
    http_authz_fn authz;
    void *authz_ctx;
    http_authz_remote_fn authz_remote; /* NULL: the authz hook never waits */
    char *cert_pem, *key_pem;
    unsigned port;
    atomic_uint_fast64_t next_id;
    atomic_int in_flight;
    atomic_bool stopping; /* shutting down: new requests are answered 503 */

    /* Connections suspended by http_req_suspend (flow control of streamed bodies) or parked
     * for http_req_done, resumed all at once before the daemon stops (libmicrohttpd aborts on
     * a suspended connection at stop); guarded by susp_lock. */
    pthread_mutex_t susp_lock;
    struct http_req_priv *susp_head;
    bool no_suspend; /* stopping: http_req_suspend refuses */

    /* Worker pools for blocking requests, one per route that has route->blocking (so that a
     * stuck directory cannot take the object store's writers, nor the other way round). */
    struct http_pool *pools[HTTP_MAX_ROUTES]; /* by route index; NULL: none */
    /* The pool of requests whose authorization may wait on a remote decision source
     * (authz_remote), whatever their route: NULL when there is none. */
    struct http_pool *authz_pool;
};

/* A pool: threads and a queue of suspended requests (guarded by lock). */
struct http_pool {
    pthread_t *threads;
    unsigned nthreads;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct http_req_priv *head, *tail;
    unsigned queued;
    bool stop;
};

/* Blocking requests waiting for a worker beyond this are refused with SlowDown. */
#define HTTP_WORK_QUEUE_MAX 256

/* Per connection (MHD_OPTION_NOTIFY_CONNECTION): the request announced by on_uri and not yet
 * released. libmicrohttpd can announce a request and then never complete it (0.9.75 does so
 * when a request line's arguments overflow the connection's memory pool); such a request is
 * released when its connection closes, so that no path leaks it. */
struct http_conn {
    struct http_req *cur;
};

struct http_req_priv {
    struct http_server *srv;
    struct MHD_Connection *conn;
    struct http_conn *hc; /* NULL when the connection has none (out of memory) */
    bool counted;         /* counted in srv->in_flight (from the first handler call) */
    bool started;         /* first call done */
    bool body_expected;   /* the request announced a body */
    int err;              /* pending error (TS_OK when none) */
    char *err_msg;
    bool have_sink;
    struct http_sink sink;
    struct buf body;
    struct http_kv *hdrs; /* response headers */
    size_t nhdrs;
    struct MHD_Response *resp;
    int status;
    int reply_err; /* the error http_reply_error answered with (TS_OK otherwise) */
    bool queued;
    uint64_t bytes_out;
    bool offloaded;    /* handed to a worker; the connection is suspended */
    bool offload_done; /* the worker completed it: queue the reply */
    /* The authorization phase of the first call handed to a worker (authz_remote): RUNNING
     * while it runs (connection suspended), DONE once resumed until the first call's rerun. */
    enum { AUTHZ_INLINE, AUTHZ_RUNNING, AUTHZ_DONE } authz_off;
    bool (*job)(struct http_req *r); /* what the worker runs; true: resume the connection */
    struct http_req *req;            /* back pointer for the work queue */
    struct http_req_priv *wnext;     /* work queue link */
    /* Under srv->susp_lock: */
    bool suspended;  /* suspended by http_req_suspend or parked (listed in srv->susp_head) */
    bool pending;    /* finish returned HTTP_PENDING */
    bool async_done; /* http_req_done was called */
    bool parked;     /* waiting for http_req_done, the connection suspended */
    struct http_req_priv *snext, **sprev;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- request accessors ---- */

const char *http_req_header(struct http_req *r, const char *name)
{
    if (r->priv == NULL || r->priv->conn == NULL)
        return NULL;
    return MHD_lookup_connection_value(r->priv->conn, MHD_HEADER_KIND, name);
}

struct header_iter {
    int (*fn)(void *ctx, const char *name, const char *value);
    void *ctx;
};

static enum MHD_Result header_iter_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct header_iter *it = cls;
    (void)kind;
    return it->fn(it->ctx, key, value ? value : "") == 0 ? MHD_YES : MHD_NO;
}

void http_req_header_foreach(struct http_req *r,
                             int (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    struct header_iter it = {fn, ctx};
    if (r->priv == NULL || r->priv->conn == NULL)
        return;
    MHD_get_connection_values(r->priv->conn, MHD_HEADER_KIND, header_iter_cb, &it);
}

const char *http_req_query(struct http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nquery; i++)
        if (strcmp(r->query[i].key, name) == 0)
            return r->query[i].value;
    return NULL;
}

bool http_req_aws_signed(struct http_req *r)
{
    const char *auth = http_req_header(r, "Authorization");
    return (auth != NULL && strncmp(auth, "AWS", 3) == 0) ||
           http_req_query(r, "X-Amz-Credential") != NULL ||
           http_req_query(r, "X-Amz-Signature") != NULL || http_req_query(r, "Signature") != NULL;
}

void http_req_set_sink(struct http_req *r, struct http_sink sink)
{
    r->priv->sink = sink;
    r->priv->have_sink = true;
}

int http_req_body_emit(struct http_req *r, const uint8_t *p, size_t n)
{
    struct http_req_priv *pv = r->priv;
    if (n == 0)
        return TS_OK;
    if (pv->have_sink)
        return pv->sink.write(pv->sink.ctx, p, n);
    if (buf_add(&pv->body, p, n) != 0)
        return TS_E_ENTITY_TOO_LARGE;
    return TS_OK;
}

/* ---- responses ---- */

void http_reply_header(struct http_req *r, const char *name, const char *value)
{
    /* A header that cannot be stored (out of memory) is dropped. */
    (void)http_kv_add(&r->priv->hdrs, &r->priv->nhdrs, name, value);
}

int http_reply_status(const struct http_req *r, int *err)
{
    if (err != NULL)
        *err = r->priv->reply_err;
    return r->priv->resp != NULL ? r->priv->status : 0;
}

/* Attaches the collected headers and the request id; the response becomes the reply. */
static int reply_set(struct http_req *r, int status, struct MHD_Response *resp,
                     const char *content_type)
{
    struct http_req_priv *pv = r->priv;
    if (resp == NULL)
        return TS_E_INTERNAL;
    if (pv->resp != NULL) { /* a second reply is a bug in the caller; keep the first */
        MHD_destroy_response(resp);
        return TS_E_INTERNAL;
    }
    MHD_add_response_header(resp, "x-amz-request-id", r->request_id);
    MHD_add_response_header(resp, "Server", "tessera");
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t i = 0; i < pv->nhdrs; i++)
        MHD_add_response_header(resp, pv->hdrs[i].key, pv->hdrs[i].value);
    pv->resp = resp;
    pv->status = status;
    return TS_OK;
}

int http_reply_data(struct http_req *r, int status, const char *content_type, void *data,
                    size_t len, bool take)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, data, take ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (resp == NULL && take)
        free(data);
    r->priv->bytes_out = len;
    return reply_set(r, status, resp, content_type);
}

int http_reply_fd(struct http_req *r, int status, const char *content_type, int fd, uint64_t off,
                  uint64_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(len, fd, off);
    if (resp == NULL)
        close(fd);
    r->priv->bytes_out = len;
    return reply_set(r, status, resp, content_type);
}

static ssize_t head_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls, (void)pos, (void)buf, (void)max;
    return MHD_CONTENT_READER_END_WITH_ERROR; /* never called for HEAD */
}

int http_reply_head(struct http_req *r, int status, uint64_t len)
{
    struct MHD_Response *resp;
    if (strcmp(r->method, "HEAD") == 0)
        resp = MHD_create_response_from_callback(len, 4096, head_reader, NULL, NULL);
    else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    return reply_set(r, status, resp, NULL);
}

int http_kv_add(struct http_kv **v, size_t *n, const char *key, const char *value)
{
    struct http_kv *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (nv == NULL)
        return TS_E_INTERNAL;
    *v = nv;
    char *k = strdup(key), *val = strdup(value);
    if (k == NULL || val == NULL) {
        free(k);
        free(val);
        return TS_E_INTERNAL;
    }
    nv[*n].key = k;
    nv[*n].value = val;
    (*n)++;
    return TS_OK;
}

void http_kv_free(struct http_kv *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

/* The error document of each style (http.h), as a template: %c, %m, %r and %t stand for the
 * code, the message, the request id and the STS fault type, %s for the S3 resource, %b and %k
 * for the S3 BucketName and Key elements (when the request names them); each value is escaped
 * for the style. */
static const struct err_doc {
    const char *ctype, *tmpl;
} err_docs[] = {
    [HTTP_ERR_S3] = {"application/xml",
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%c</Code><Message>%m"
                     "</Message>%b%k<Resource>%s</Resource><RequestId>%r</RequestId><HostId>"
                     "tessera</HostId></Error>\n"},
    [HTTP_ERR_STS] = {"text/xml",
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse "
                      "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>%t</Type>"
                      "<Code>%c</Code><Message>%m</Message></Error><RequestId>%r</RequestId>"
                      "</ErrorResponse>\n"},
    [HTTP_ERR_JSON] = {"application/json",
                       "{\"Code\":\"%c\",\"Message\":\"%m\",\"RequestId\":\"%r\"}\n"},
    [HTTP_ERR_HTML] =
        {"text/html; charset=utf-8",
         "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%c"
         "</title></head><body><h1>%c</h1><p id=\"message\">%m</p><p>Request id: "
         "<code>%r</code></p><p><a id=\"back\" href=\"/login\">Back to sign in</a></p>"
         "</body></html>\n"},
};

/* Writes the error document of style into b with the values of r, code, msg and status. */
static void err_doc_render(struct buf *b, enum http_err_style style, const struct http_req *r,
                           const char *code, const char *msg, int status)
{
    for (const char *p = err_docs[style].tmpl; *p; p++) {
        const char *pct = strchr(p, '%'), *v = NULL, *elem = NULL;
        if (pct == NULL) {
            buf_adds(b, p);
            return;
        }
        buf_add(b, p, (size_t)(pct - p));
        p = pct + 1;
        if (*p == 'c')
            v = code;
        else if (*p == 'm')
            v = msg;
        else if (*p == 'r')
            v = r->request_id;
        else if (*p == 't')
            v = status >= 500 ? "Receiver" : "Sender";
        else if (*p == 's')
            v = r->resource ? r->resource : (r->path ? r->path : "/");
        else if (*p == 'b' || *p == 'k') {
            v = *p == 'b' ? r->bucket : r->key;
            elem = *p == 'b' ? "BucketName" : "Key";
        }
        if (v == NULL)
            continue;
        if (elem)
            buf_addf(b, "<%s>", elem);
        if (style == HTTP_ERR_JSON)
            buf_add_json(b, v);
        else
            buf_add_xml(b, v);
        if (elem)
            buf_addf(b, "</%s>", elem);
    }
}

/* The error document of r's route style for status, code and msg. */
static int reply_error_doc(struct http_req *r, int status, const char *code, const char *msg)
{
    struct buf b;
    enum http_err_style style = r->route ? r->route->err_style : HTTP_ERR_S3;
    if ((size_t)style >= sizeof err_docs / sizeof *err_docs || err_docs[style].tmpl == NULL)
        style = HTTP_ERR_S3;
    buf_init(&b, 1 << 16);
    err_doc_render(&b, style, r, code, msg, status);
    if (status == 503)
        http_reply_header(r, "Retry-After", "1");
    size_t len;
    char *body = buf_take(&b, &len);
    if (body == NULL)
        return reply_set(
            r, 500, MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT), NULL);
    /* HEAD and 304 carry no body; libmicrohttpd omits it for HEAD itself. */
    if (status == 304) {
        free(body);
        return http_reply_head(r, status, 0);
    }
    return http_reply_data(r, status, err_docs[style].ctype, body, len, true);
}

int http_reply_error(struct http_req *r, int err, const char *msg)
{
    r->priv->reply_err = err;
    if (err == TS_E_SKEWED)
        http_reply_header(r, "Retry-After", "1");
    return reply_error_doc(r, ts_err_status(err), ts_err_code(err),
                           msg != NULL ? msg : ts_err_message(err));
}

int http_reply_error_relayed(struct http_req *r, int status, const char *code, const char *msg)
{
    if (status < 300 || status > 599)
        status = 502;
    return reply_error_doc(r, status, code, msg);
}

/* ---- streamed replies and flow control ---- */

struct stream_ctx {
    http_stream_fn read;
    void *ctx;
    void (*free_ctx)(void *);
};

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream_ctx *sc = cls;
    (void)pos;
    long n = sc->read(sc->ctx, buf, max);
    if (n == HTTP_STREAM_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return (ssize_t)n;
}

#define HTTP_STREAM_BLOCK (48u << 10) /* bytes of a streamed response read at a time */

static void stream_free(void *cls)
{
    struct stream_ctx *sc = cls;
    if (sc->free_ctx)
        sc->free_ctx(sc->ctx);
    free(sc);
}

int http_reply_stream(struct http_req *r, int status, const char *content_type, uint64_t len,
                      bool len_known, http_stream_fn read, void *ctx, void (*free_ctx)(void *))
{
    struct stream_ctx *sc = malloc(sizeof *sc);
    if (sc == NULL) {
        if (free_ctx)
            free_ctx(ctx);
        return TS_E_INTERNAL;
    }
    *sc = (struct stream_ctx){read, ctx, free_ctx};
    /* MHD allocates (and zeroes) the block with every response: no more than the body needs,
     * and under 64 KiB, whose free would consolidate and trim the thread's heap each time. */
    size_t block = len_known && len < HTTP_STREAM_BLOCK ? (size_t)len + 1 : HTTP_STREAM_BLOCK;
    struct MHD_Response *resp = MHD_create_response_from_callback(
        len_known ? len : MHD_SIZE_UNKNOWN, block, stream_reader, sc, stream_free);
    if (resp == NULL)
        stream_free(sc);
    r->priv->bytes_out = len_known ? len : 0;
    return reply_set(r, status, resp, content_type);
}

bool http_req_suspend(struct http_req *r)
{
    struct http_req_priv *pv = r->priv;
    struct http_server *s = pv->srv;
    bool ok = true;
    pthread_mutex_lock(&s->susp_lock);
    if (s->no_suspend) {
        ok = false;
    } else if (!pv->suspended) {
        pv->suspended = true;
        pv->snext = s->susp_head;
        pv->sprev = &s->susp_head;
        if (s->susp_head)
            s->susp_head->sprev = &pv->snext;
        s->susp_head = pv;
        MHD_suspend_connection(pv->conn);
    }
    pthread_mutex_unlock(&s->susp_lock);
    return ok;
}

/* Unlinks pv from the suspended list and resumes its connection; susp_lock held. */
static void susp_resume_locked(struct http_req_priv *pv)
{
    if (!pv->suspended)
        return;
    *pv->sprev = pv->snext;
    if (pv->snext)
        pv->snext->sprev = pv->sprev;
    pv->suspended = false;
    MHD_resume_connection(pv->conn);
}

void http_req_resume(struct http_req *r)
{
    struct http_server *s = r->priv->srv;
    pthread_mutex_lock(&s->susp_lock);
    susp_resume_locked(r->priv);
    pthread_mutex_unlock(&s->susp_lock);
}

/* Stopping: every connection suspended by flow control is resumed (its stream then fails)
 * and no new suspension is allowed. */
static void susp_resume_all(struct http_server *s)
{
    pthread_mutex_lock(&s->susp_lock);
    s->no_suspend = true;
    while (s->susp_head)
        susp_resume_locked(s->susp_head);
    pthread_mutex_unlock(&s->susp_lock);
}

static void req_fail(struct http_req *r, int err, const char *msg);
static int authz_offload(struct http_server *s, struct http_req *r, struct MHD_Connection *c);
/* req_fail with e's message (the code's default when it has none). */
static void req_fail_e(struct http_req *r, int err, const struct ts_error *e)
{
    req_fail(r, err, ts_error_msg(e));
}

/* ---- the authorization phase ---- */

int http_authorize(struct http_req *r, const struct http_authz *q, struct ts_error *e)
{
    struct http_server *s = r->priv->srv;
    struct ts_error local;
    int deny = q->deny ? q->deny : TS_E_ACCESS_DENIED;
    if (e == NULL)
        e = &local;
    ts_error_set(e, TS_OK, NULL);
    if (s == NULL || s->authz == NULL)
        return ts_error_set(e, deny, NULL); /* fail closed: nobody to ask */
    if (s->authz(s->authz_ctx, r, q, e) == TS_OK)
        return ts_error_set(e, TS_OK, NULL);
    e->code = deny;
    return deny;
}

/* resolve, then authz, for r (the phase between authn and route->start). body: the body is
 * buffered (second round for routes that name the operation in it). */
static int req_authorize(struct http_req *r, bool body)
{
    struct ts_error e = {TS_OK, ""};
    int err;
    if (r->route->no_authn || r->route->no_authz)
        return TS_OK;
    if (r->route->resolve == NULL) {
        req_fail(r, TS_E_ACCESS_DENIED, NULL); /* fail closed: nothing declared */
        return TS_E_ACCESS_DENIED;
    }
    if (body) {
        free(r->authz.owned);
        memset(&r->authz, 0, sizeof r->authz);
    }
    err = r->route->resolve(r, &e);
    if (err != TS_OK) {
        req_fail_e(r, err, &e);
        return err;
    }
    if (!(r->authz.after_body && !body))
        err = http_authorize(r, &r->authz, &e);
    if (err != TS_OK)
        req_fail_e(r, err, &e);
    return err;
}

/* The authorization phase and route->start (the tail of the first call, when authn is not
 * deferred). */
static void req_authorize_start(struct http_req *r)
{
    struct http_req_priv *pv = r->priv;
    struct ts_error e = {TS_OK, ""};
    int err;
    if (req_authorize(r, false) != TS_OK)
        return;
    if (r->route->start) {
        err = r->route->start(r, &e);
        if (err != TS_OK) {
            req_fail_e(r, err, &e);
            return;
        }
    }
    if (!pv->have_sink && r->has_content_length && r->content_length > r->body_max)
        req_fail(r, TS_E_ENTITY_TOO_LARGE, NULL);
}

/* Whether r's authorization may wait on a remote decision source (authz_remote). */
static bool authz_waits(struct http_server *s, const struct http_req *r)
{
    return s->authz_remote != NULL && s->authz_pool != NULL && r->route != NULL &&
           !r->route->no_authn && !r->route->no_authz && s->authz_remote(s->authz_ctx, r);
}

/* ---- request parsing ---- */

static void req_fail(struct http_req *r, int err, const char *msg)
{
    if (r->priv->err != TS_OK)
        return;
    r->priv->err = err;
    if (msg)
        r->priv->err_msg = strdup(msg);
}

/* Splits the raw URI into path and query and decodes both. Returns TS_OK or an error (*msg
 * then names the problem, or stays NULL for the error's default message). */
static int req_parse_uri(struct http_req *r, const char **msg)
{
    const char *uri = r->raw_uri, *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    if (plen == 0 || uri[0] != '/')
        return TS_E_INVALID_URI;
    r->raw_path = strndup(uri, plen);
    r->raw_query = strdup(q ? q + 1 : "");
    r->path = malloc(plen + 1);
    if (r->raw_path == NULL || r->raw_query == NULL || r->path == NULL)
        return TS_E_INTERNAL;
    long n = enc_url_decode(uri, plen, r->path, false);
    if (n < 0 || memchr(r->path, '\0', (size_t)n) != NULL)
        return TS_E_INVALID_URI;

    /* Query: k=v&k2&k3=v3, decoded with '+' as space (as Go's url.ParseQuery, which MinIO
     * and the S3 SDKs agree with). */
    size_t cap = 0;
    for (const char *p = r->raw_query; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            size_t vlen = eq ? len - klen - 1 : 0;
            if (r->nquery == HTTP_QUERY_MAX) {
                *msg = "The request has more than " HTTP_QUERY_MAX_STR " query parameters.";
                return TS_E_INVALID_URI;
            }
            if (r->nquery == cap) {
                cap = cap ? cap * 2 : 8;
                struct http_kv *nq = realloc(r->query, cap * sizeof *nq);
                if (nq == NULL)
                    return TS_E_INTERNAL;
                r->query = nq;
            }
            char *k = malloc(klen + 1), *v = malloc(vlen + 1);
            if (k == NULL || v == NULL) {
                free(k);
                free(v);
                return TS_E_INTERNAL;
            }
            r->query[r->nquery].key = k;
            r->query[r->nquery].value = v;
            r->nquery++;
            long kl = enc_url_decode(p, klen, k, true);
            long vl = eq ? enc_url_decode(eq + 1, vlen, v, true) : (v[0] = '\0', 0);
            if (kl < 0 || vl < 0 || memchr(k, '\0', (size_t)kl) || memchr(v, '\0', (size_t)vl))
                return TS_E_INVALID_URI;
        }
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return TS_OK;
}

static void req_peer(struct http_req *r, struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    strcpy(r->source_ip, "0.0.0.0");
    if (ci == NULL || ci->client_addr == NULL)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->source_ip,
                  sizeof r->source_ip);
    else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            inet_ntop(AF_INET, &a6->s6_addr[12], r->source_ip, sizeof r->source_ip);
        else
            inet_ntop(AF_INET6, a6, r->source_ip, sizeof r->source_ip);
    }
}

/* ---- the libmicrohttpd callbacks ---- */

static void req_release(struct http_server *s, struct http_req *r,
                        enum MHD_RequestTerminationCode toe);

size_t http_req_peer_chain(const struct http_req *r, struct http_der *out, size_t max)
{
    const union MHD_ConnectionInfo *ci;
    const gnutls_datum_t *certs;
    unsigned int n = 0;

    if (!r->tls || r->priv == NULL || r->priv->conn == NULL ||
        r->priv->srv->cfg.client_ca_pem == NULL)
        return 0;
    ci = MHD_get_connection_info(r->priv->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL)
        return 0;
    gnutls_session_t tls = (gnutls_session_t)ci->tls_session;
    if (gnutls_certificate_type_get(tls) != GNUTLS_CRT_X509)
        return 0;
    certs = gnutls_certificate_get_peers(tls, &n);
    if (certs == NULL)
        return 0;
    for (unsigned int i = 0; i < n && i < max; i++) {
        out[i].data = certs[i].data;
        out[i].len = certs[i].size;
    }
    return n;
}

static void *on_uri(void *cls, const char *uri_c, struct MHD_Connection *c)
{
    char *uri = (char *)uri_c;
    struct http_server *s = cls;
    struct http_req *r = calloc(1, sizeof *r);
    struct http_req_priv *pv = calloc(1, sizeof *pv);
    if (r == NULL || pv == NULL) {
        free(r);
        free(pv);
        return NULL;
    }
    r->priv = pv;
    pv->srv = s;
    pv->conn = c;
    r->raw_uri = strdup(uri ? uri : "/");
    if (r->raw_uri == NULL) { /* the access handler then closes the connection */
        free(r);
        free(pv);
        return NULL;
    }
    r->started_us = now_us();
    uint64_t id = atomic_fetch_add(&s->next_id, 1);
    snprintf(r->request_id, sizeof r->request_id, "%016llX", (unsigned long long)id);
    /* The query is ours to parse (req_parse_uri, from the copy above, with our own limit).
     * libmicrohttpd splits it next into one record per argument in the connection's fixed
     * memory pool, and 0.9.75 neither answers nor completes a request whose arguments do not
     * fit. uri points into libmicrohttpd's (writable) read buffer, and the arguments are parsed
     * from just after the '?' once this returns: ending the string there leaves it none. */
    char *q = uri != NULL ? strchr(uri, '?') : NULL;
    if (q != NULL)
        q[1] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    pv->hc = ci != NULL ? ci->socket_context : NULL;
    if (pv->hc != NULL) {
        if (pv->hc->cur != NULL) /* announced before and never completed */
            req_release(s, pv->hc->cur, MHD_REQUEST_TERMINATED_WITH_ERROR);
        pv->hc->cur = r;
    }
    return r;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *s = cls;
    (void)c;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(struct http_conn));
        return;
    }
    struct http_conn *hc = *socket_context;
    *socket_context = NULL;
    if (hc != NULL && hc->cur != NULL)
        req_release(s, hc->cur, MHD_REQUEST_TERMINATED_WITH_ERROR);
    free(hc);
}

static size_t on_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    return strlen(s); /* keep everything raw: we decode ourselves (SigV4 needs the raw form) */
}

static const struct http_route *route_find(struct http_server *s, struct http_req *r)
{
    for (size_t i = 0; i < s->nroutes; i++)
        if (s->routes[i]->match == NULL || s->routes[i]->match(r))
            return s->routes[i];
    return NULL;
}

/* true when r went to a worker (authz_offload): the caller must not touch it any more. */
static bool req_first_call(struct http_server *s, struct http_req *r, struct MHD_Connection *c,
                           const char *method)
{
    struct http_req_priv *pv = r->priv;
    r->method = method;
    req_peer(r, c);
    r->tls = s->cert_pem != NULL;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (errno || *end || end == cl || cl[0] == '-') {
            req_fail(r, TS_E_INVALID_ARGUMENT, "Invalid Content-Length");
        } else {
            r->has_content_length = true;
            r->content_length = v;
        }
    }
    pv->body_expected = (r->has_content_length && r->content_length > 0) || te != NULL;

    const char *msg = NULL;
    int err = req_parse_uri(r, &msg);
    /* Route matchers read r->path: no route (the default error style) when it is missing. */
    r->route = r->path != NULL && r->raw_query != NULL ? route_find(s, r) : NULL;
    if (err != TS_OK) {
        req_fail(r, err, msg);
        return false;
    }
    if (r->route == NULL) {
        req_fail(r, TS_E_METHOD_NOT_ALLOWED, NULL);
        return false;
    }
    if (pv->err != TS_OK)
        return false;
    if (r->route->prepare != NULL)
        r->route->prepare(r);
    r->body_max = r->route->body_max ? r->route->body_max : HTTP_DEFAULT_BODY_MAX;
    buf_init(&pv->body, r->body_max);
    if (r->has_content_length && r->content_length > r->body_max)
        pv->body_expected = true; /* the handler may still choose a sink */

    struct ts_error e = {TS_OK, ""};
    if (!r->route->no_authn && s->authn_begin) {
        err = s->authn_begin(s->authn_ctx, r, &e);
        if (err != TS_OK) {
            req_fail_e(r, err, &e);
            return false;
        }
    }
    if (!r->authn_deferred) {
        int off = authz_offload(s, r, c);
        if (off > 0)
            return true;
        if (off == 0)
            req_authorize_start(r);
    }
    return false;
}

/* Runs after the whole body arrived: filters finish, deferred authn, the handler. */
static void req_complete(struct http_req *r)
{
    struct http_req_priv *pv = r->priv;
    struct ts_error e = {TS_OK, ""};
    int err;
    if (pv->err == TS_OK && r->filter.finish) {
        err = r->filter.finish(r, r->filter.ctx);
        if (err != TS_OK)
            req_fail(r, err, NULL);
    }
    if (pv->err == TS_OK && r->authn_deferred) {
        struct http_server *s = pv->srv;
        r->body = (uint8_t *)buf_str(&pv->body);
        r->body_len = buf_len(&pv->body);
        err = s->authn_finish ? s->authn_finish(s->authn_ctx, r, &e) : TS_E_INTERNAL;
        if (err == TS_OK && req_authorize(r, false) != TS_OK)
            return;
        if (err == TS_OK && r->route->start)
            err = r->route->start(r, &e);
        if (err == TS_OK && pv->have_sink && buf_len(&pv->body) > 0) {
            /* The handler wants a sink after all: hand it the buffered body. */
            struct buf tmp = pv->body;
            buf_init(&pv->body, 0);
            err = pv->sink.write(pv->sink.ctx, (const uint8_t *)buf_str(&tmp), buf_len(&tmp));
            buf_free(&tmp);
        }
        if (err != TS_OK)
            req_fail_e(r, err, &e);
    }
    if (pv->err == TS_OK) {
        r->body = (uint8_t *)buf_str(&pv->body);
        r->body_len = buf_len(&pv->body);
        if (r->authz.after_body && req_authorize(r, true) != TS_OK)
            return;
        /* finish replied (TS_OK) or failed (queue answers the error); TS_OK without a reply,
         * or no finish, is answered InternalError by queue. */
        err = r->route->finish ? r->route->finish(r, &e) : TS_E_INTERNAL;
        if (err == HTTP_PENDING)
            pv->pending = true; /* http_req_done ends it */
        else if (err != TS_OK)
            req_fail_e(r, err, &e);
    }
}

static enum MHD_Result queue(struct http_req *r, struct MHD_Connection *c)
{
    struct http_req_priv *pv = r->priv;
    if (pv->resp == NULL) {
        http_reply_error(r, pv->err != TS_OK ? pv->err : TS_E_INTERNAL, pv->err_msg);
        if (pv->resp == NULL)
            return MHD_NO;
    }
    pv->queued = true;
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)pv->status, pv->resp);
    return rc;
}

/* ---- workers for blocking requests ---- */

/* ---- finishing on another thread (HTTP_PENDING) ---- */

/* After a finish that returned HTTP_PENDING: true when http_req_done came already (the reply
 * can go); else r is parked -- its connection suspended (now, unless suspended says it is
 * already) and listed like http_req_suspend's, so that a stop resumes it -- until
 * http_req_done. */
static bool req_park(struct http_req *r, bool suspended)
{
    struct http_req_priv *pv = r->priv;
    struct http_server *s = pv->srv;
    pthread_mutex_lock(&s->susp_lock);
    bool done = pv->async_done;
    if (!done) {
        pv->parked = pv->offloaded = pv->suspended = true;
        pv->snext = s->susp_head;
        pv->sprev = &s->susp_head;
        if (s->susp_head)
            s->susp_head->sprev = &pv->snext;
        s->susp_head = pv;
        if (!suspended)
            MHD_suspend_connection(pv->conn);
    }
    pthread_mutex_unlock(&s->susp_lock);
    return done;
}

void http_req_done(struct http_req *r, int err, const char *msg)
{
    struct http_req_priv *pv = r->priv;
    struct http_server *s = pv->srv;
    pthread_mutex_lock(&s->susp_lock);
    if (err != TS_OK)
        req_fail(r, err, msg);
    pv->async_done = true;
    if (pv->parked) {
        pv->offload_done = true;
        susp_resume_locked(pv); /* on_access runs again and queues the reply */
    }
    pthread_mutex_unlock(&s->susp_lock);
}

/* The jobs of the workers: each ends by saying it is done (read once the connection is
 * resumed), and returns whether the worker resumes the connection (not when the request
 * waits for http_req_done, which then does). */
static bool job_complete(struct http_req *r)
{
    req_complete(r);
    if (r->priv->pending && !req_park(r, true))
        return false;
    r->priv->offload_done = true;
    return true;
}

static bool job_authorize(struct http_req *r)
{
    req_authorize_start(r);
    r->priv->authz_off = AUTHZ_DONE;
    return true;
}

/* Suspends the connection and queues r for a worker of pool p, which runs job. false when the
 * queue is full. */
static bool offload(struct http_pool *p, struct http_req *r, struct MHD_Connection *c,
                    bool (*job)(struct http_req *r))
{
    struct http_req_priv *pv = r->priv;
    pthread_mutex_lock(&p->lock);
    if (p->queued >= HTTP_WORK_QUEUE_MAX || p->stop) {
        pthread_mutex_unlock(&p->lock);
        return false;
    }
    if (job == job_complete)
        pv->offloaded = true;
    else
        pv->authz_off = AUTHZ_RUNNING;
    pv->job = job;
    pv->conn = c;
    pv->req = r;
    pv->wnext = NULL;
    MHD_suspend_connection(c);
    if (p->tail)
        p->tail->wnext = pv;
    else
        p->head = pv;
    p->tail = pv;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return true;
}

static void *worker_main(void *arg)
{
    struct http_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (p->head == NULL && !p->stop)
            pthread_cond_wait(&p->cond, &p->lock);
        struct http_req_priv *pv = p->head;
        if (pv == NULL) { /* stopping and nothing left */
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        p->head = pv->wnext;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->lock);
        struct MHD_Connection *conn = pv->conn;
        if (pv->job(pv->req)) /* else parked: http_req_done resumes it (pv may be gone) */
            MHD_resume_connection(conn); /* on_access runs again */
    }
}

/* Lets the workers finish what is queued, joins them and frees the pool. NULL is a no-op. */
static void pool_free(struct http_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p->threads);
    free(p);
}

static struct http_pool *pool_new(unsigned n)
{
    struct http_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->threads = calloc(n, sizeof *p->threads);
    if (p->threads == NULL) {
        pool_free(p);
        return NULL;
    }
    for (; p->nthreads < n; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, worker_main, p) != 0) {
            pool_free(p);
            return NULL;
        }
    return p;
}

static int workers_start(struct http_server *s)
{
    if (s->cfg.thread_per_connection)
        return 0; /* blocking requests then run on the connection's own thread */
    if (s->authz_remote != NULL &&
        (s->authz_pool = pool_new(s->cfg.workers ? s->cfg.workers : 16)) == NULL)
        return -1;
    for (size_t i = 0; i < s->nroutes; i++)
        if (s->routes[i]->blocking != NULL &&
            (s->pools[i] = pool_new(s->routes[i]->workers ? s->routes[i]->workers
                                    : s->cfg.workers      ? s->cfg.workers
                                                          : 8)) == NULL)
            return -1;
    return 0;
}

static void workers_stop(struct http_server *s)
{
    pool_free(s->authz_pool);
    s->authz_pool = NULL;
    for (size_t i = 0; i < HTTP_MAX_ROUTES; i++) {
        pool_free(s->pools[i]);
        s->pools[i] = NULL;
    }
}

static struct http_pool *route_pool(struct http_server *s, const struct http_route *route)
{
    for (size_t i = 0; route != NULL && i < s->nroutes; i++)
        if (s->routes[i] == route)
            return s->pools[i];
    return NULL;
}

/* The first call's authorization phase on a worker of the authz pool, when it may wait (the
 * connection is suspended meanwhile; libmicrohttpd repeats the first call once it is
 * resumed). 1: handed over (r belongs to the worker until then); 0: run it here; -1: the
 * pool is full (r failed with SlowDown). */
static int authz_offload(struct http_server *s, struct http_req *r, struct MHD_Connection *c)
{
    if (!authz_waits(s, r))
        return 0;
    if (offload(s->authz_pool, r, c, job_authorize))
        return 1;
    req_fail(r, TS_E_SLOW_DOWN, NULL);
    return -1;
}

/* The pool that must finish r (body in, r->body set), or NULL for this thread: the route's
 * for its blocking requests; the authz pool when an authorization still to come (deferred
 * authn, a second round after the body, per-item or follow-up checks of the handler) may
 * wait. */
static struct http_pool *finish_pool(struct http_server *s, struct http_req *r)
{
    struct http_pool *pool = route_pool(s, r->route);
    if (pool != NULL && r->route->blocking != NULL && r->route->blocking(r))
        return pool;
    if ((r->authn_deferred || r->authz.after_body ||
         (r->authz.flags & (HTTP_AUTHZ_PER_ITEM | HTTP_AUTHZ_ASKS_AGAIN))) &&
        authz_waits(s, r))
        return s->authz_pool;
    return NULL;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    struct http_server *s = cls;
    struct http_req *r = *req_cls;
    (void)url, (void)version;
    if (r == NULL)
        return MHD_NO;
    struct http_req_priv *pv = r->priv;

    if (!pv->started) {
        pv->started = true;
        pv->counted = true;
        atomic_fetch_add(&s->in_flight, 1);
        if (req_first_call(s, r, c, method))
            return MHD_YES; /* a worker authorizes it; the first call comes again */
        if (atomic_load(&s->stopping)) {
            http_reply_header(r, "Connection", "close");
            req_fail(r, TS_E_SERVICE_UNAVAILABLE, "The server is shutting down.");
        }
        /* An error while a body is pending is answered now: the body is discarded. */
        if (pv->err != TS_OK && pv->body_expected)
            return queue(r, c);
        return MHD_YES;
    }
    if (pv->queued)
        return MHD_YES;
    if (pv->authz_off == AUTHZ_DONE) { /* the first call again, after its authorization */
        pv->authz_off = AUTHZ_INLINE;
        if (pv->err != TS_OK && pv->body_expected)
            return queue(r, c);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->body_received += n;
        if (pv->err == TS_OK) {
            int err = r->filter.write
                          ? r->filter.write(r, r->filter.ctx, (const uint8_t *)upload_data, n)
                          : http_req_body_emit(r, (const uint8_t *)upload_data, n);
            if (err != TS_OK)
                req_fail(r, err, NULL);
        }
        if (pv->err != TS_OK && !(r->has_content_length && r->content_length >= r->body_received &&
                                  r->content_length - r->body_received <= HTTP_DRAIN_MAX))
            return queue(r, c);
        return MHD_YES;
    }
    if (pv->offloaded) /* resumed by the worker that completed it */
        return pv->offload_done ? queue(r, c) : MHD_YES;
    struct http_pool *pool;
    if (pv->err == TS_OK && r->route) {
        r->body = (uint8_t *)buf_str(&pv->body);
        r->body_len = buf_len(&pv->body);
        if ((pool = finish_pool(s, r)) != NULL) {
            if (offload(pool, r, c, job_complete))
                return MHD_YES;
            req_fail(r, TS_E_SLOW_DOWN, NULL);
            return queue(r, c);
        }
    }
    if (pv->err == TS_OK)
        req_complete(r);
    if (pv->pending && !req_park(r, false))
        return MHD_YES; /* http_req_done resumes it */
    return queue(r, c);
}

/* v in decimal into out (at least 21 bytes): cheaper than snprintf on every request. */
static void u64_str(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

static void access_log(struct http_req *r, enum MHD_RequestTerminationCode toe)
{
    struct http_req_priv *pv = r->priv;
    char status[24], dur[24], in[24], out[24];
    uint64_t took = now_us() - r->started_us;
    int ridx = -1;
    for (size_t i = 0; i < pv->srv->nroutes; i++)
        if (pv->srv->routes[i] == r->route)
            ridx = (int)i;
    metrics_request(ridx, r->route ? r->route->name : "none", pv->queued ? pv->status : 0, took,
                    r->body_received, pv->bytes_out);
    if (!log_enabled(LOG_INFO))
        return;
    u64_str(status, pv->queued ? (uint64_t)pv->status : 0);
    u64_str(dur, took);
    u64_str(in, r->body_received);
    u64_str(out, pv->bytes_out);
    log_kv(LOG_INFO, "access", "request_id", r->request_id, "remote", r->source_ip, "method",
           r->method, "path", r->raw_path, "route", r->route ? r->route->name : NULL, "status",
           status, "duration_us", dur, "bytes_in", in, "bytes_out", out, "error",
           pv->err != TS_OK ? ts_err_code(pv->err) : NULL, "aborted",
           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? NULL : "true", NULL);
}

/* Logs and frees a request and everything it holds; the one place a request ends. */
static void req_release(struct http_server *s, struct http_req *r,
                        enum MHD_RequestTerminationCode toe)
{
    struct http_req_priv *pv = r->priv;
    if (pv->hc != NULL && pv->hc->cur == r)
        pv->hc->cur = NULL;
    if (pv->suspended) { /* not expected: libmicrohttpd ends no suspended connection */
        pthread_mutex_lock(&s->susp_lock);
        if (pv->suspended) {
            *pv->sprev = pv->snext;
            if (pv->snext)
                pv->snext->sprev = pv->sprev;
            pv->suspended = false;
        }
        pthread_mutex_unlock(&s->susp_lock);
    }
    if (pv->started)
        access_log(r, toe);
    if (r->route && r->route->cleanup && r->hctx != NULL)
        r->route->cleanup(r);
    r->hctx = NULL;
    if (r->filter.free)
        r->filter.free(r->filter.ctx);
    if (r->principal_free)
        r->principal_free(r->principal);
    free(r->authz.owned);
    http_kv_free(r->query, r->nquery);
    free(r->raw_uri);
    free(r->raw_path);
    free(r->path);
    free(r->raw_query);
    free(r->bucket);
    free(r->key);
    http_kv_free(pv->hdrs, pv->nhdrs);
    if (pv->resp)
        MHD_destroy_response(pv->resp);
    buf_free(&pv->body);
    free(pv->err_msg);
    bool counted = pv->counted;
    free(pv);
    free(r);
    if (counted)
        atomic_fetch_sub(&s->in_flight, 1);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *req_cls;
    (void)c;
    if (r == NULL)
        return;
    *req_cls = NULL;
    req_release(cls, r, toe);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    LOG_DEBUG_EV("http.mhd", "%s", msg);
}

/* ---- server ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct buf b;
    char chunk[4096];
    size_t n;
    buf_init(&b, 1 << 20);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    return buf_take(&b, NULL);
}

struct http_server *http_server_new(const struct http_config *cfg)
{
    struct http_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->cfg = *cfg;
    uint64_t seed;
    enc_random(&seed, sizeof seed);
    /* Request ids: a random high half (unique per start) and a counter. */
    atomic_init(&s->next_id, seed & 0xFFFFFFFF00000000ull);
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->stopping, false);
    pthread_mutex_init(&s->susp_lock, NULL);
    if (cfg->cert_file) {
        s->cert_pem = slurp(cfg->cert_file);
        s->key_pem = slurp(cfg->key_file);
        if (s->cert_pem == NULL || s->key_pem == NULL) {
            fprintf(stderr, "tessera: cannot read TLS certificate %s or key %s\n", cfg->cert_file,
                    cfg->key_file);
            http_server_free(s);
            return NULL;
        }
    }
    return s;
}

void http_server_add_route(struct http_server *s, const struct http_route *route)
{
    if (s->nroutes < HTTP_MAX_ROUTES)
        s->routes[s->nroutes++] = route;
}

void http_server_set_authz_remote(struct http_server *s, http_authz_remote_fn fn)
{
    s->authz_remote = fn;
}

void http_server_set_authz(struct http_server *s, http_authz_fn fn, void *ctx)
{
    s->authz = fn;
    s->authz_ctx = ctx;
}

void http_server_set_authn(struct http_server *s, http_authn_fn begin, http_authn_fn finish,
                           void *ctx)
{
    s->authn_begin = begin;
    s->authn_finish = finish;
    s->authn_ctx = ctx;
}

void http_server_set_authn_form(struct http_server *s, http_authn_form_fn fn)
{
    s->authn_form = fn;
}

int http_authenticate_form(struct http_req *r, const struct http_form_auth *a, struct ts_error *e)
{
    struct http_server *s = r->priv->srv;
    if (s == NULL || s->authn_form == NULL)
        return ts_error_set(e, TS_E_ACCESS_DENIED, NULL); /* fail closed: nobody to ask */
    return s->authn_form(s->authn_ctx, r, a, e);
}

bool http_authz_may_wait(struct http_req *r)
{
    return r->priv->srv != NULL && authz_waits(r->priv->srv, r);
}

/* Parses HOST:PORT / [V6]:PORT / :PORT into a socket address. */
static int parse_address(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon;
    memset(ss, 0, sizeof *ss);
    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof host)
            return -1;
        memcpy(host, addr + 1, (size_t)(end - addr - 1));
        host[end - addr - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL || (size_t)(colon - addr) >= sizeof host)
            return -1;
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || colon[1] == '\0')
        return -1;
    if (host[0] == '\0')
        strcpy(host, "0.0.0.0");
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof *s4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof *s6;
        return 1;
    }
    if (strcmp(host, "localhost") == 0) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof *s4;
        return 0;
    }
    return -1;
}

/* libmicrohttpd's fatal errors: say what happened before aborting. */
static void on_mhd_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
    (void)cls;
    log_event(LOG_ERROR, "http.panic", "libmicrohttpd: %s (%s:%u)", reason ? reason : "",
              file ? file : "", line);
    abort();
}

int http_server_start(struct http_server *s)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int v6 = parse_address(s->cfg.address, &ss, &sslen);
    if (v6 < 0) {
        fprintf(stderr, "tessera: invalid --address %s (want HOST:PORT)\n", s->cfg.address);
        return -1;
    }
    MHD_set_panic_func(on_mhd_panic, NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = s->cfg.threads ? s->cfg.threads : (unsigned)(cores > 0 ? cores : 1);
    unsigned flags =
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (s->cfg.thread_per_connection) {
        flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                MHD_USE_ITC | MHD_USE_ERROR_LOG;
        threads = 1;
    }
    if (v6)
        flags |= MHD_USE_IPv6;
    if (s->cert_pem)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_LISTEN_BACKLOG_SIZE,
         threads > 1 ? threads : 1024, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections ? s->cfg.max_connections : 4096, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.connection_timeout ? s->cfg.connection_timeout : 60,
         NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
         (intptr_t)(s->cfg.header_max ? s->cfg.header_max + 16384 : 32768), NULL},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, s},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)on_unescape, s},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
        {s->cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->cert_pem},
        {s->cert_pem ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->key_pem},
        /* A trust list makes libmicrohttpd ask for (GNUTLS_CERT_REQUEST), not require, a
         * client certificate; it verifies none: http_req_peer_chain's caller does. */
        {s->cert_pem && s->cfg.client_ca_pem ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0,
         (void *)s->cfg.client_ca_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, opts,
                                 MHD_OPTION_END);
    if (s->daemon == NULL) {
        fprintf(stderr, "tessera: cannot listen on %s: %s\n", s->cfg.address,
                errno ? strerror(errno) : "libmicrohttpd refused the configuration");
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    if (workers_start(s) != 0) {
        fprintf(stderr, "tessera: cannot start worker threads\n");
        return -1;
    }
    return 0;
}

unsigned http_server_port(struct http_server *s)
{
    return s->port;
}

void http_server_free(struct http_server *s)
{
    if (s == NULL)
        return;
    if (s->daemon) {
        /* New requests get 503, in-flight ones have up to 30 s to finish, then the daemon
         * stops. (MHD_quiesce_daemon is not used: with an epoll thread pool, libmicrohttpd
         * 0.9.75 races its workers removing the listen socket and can abort.) */
        atomic_store(&s->stopping, true);
        for (int i = 0; i < 3000 && atomic_load(&s->in_flight) > 0; i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        workers_stop(s); /* resumes what they still hold before the daemon goes */
        susp_resume_all(s);
        MHD_stop_daemon(s->daemon);
    }
    workers_stop(s);
    pthread_mutex_destroy(&s->susp_lock);
    free(s->cert_pem);
    free(s->key_pem);
    free(s);
}

int http_req_fail(struct http_req *r, int err, const char *msg)
{
    if (err != TS_OK)
        req_fail(r, err, msg);
    return err;
}

/* ---- multipart/form-data (libmicrohttpd's post processor) ---- */

struct http_form {
    struct MHD_PostProcessor *pp;
    http_form_fn fn;
    void *ctx;
    int err; /* the first error: the callback's, or TS_E_MALFORMED_POST */
};

static enum MHD_Result form_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    struct http_form *f = cls;
    (void)kind, (void)transfer_encoding;
    struct http_form_piece p = {key ? key : "", filename, content_type, off};
    int rc = f->fn(f->ctx, &p, (const uint8_t *)data, size);
    if (rc != TS_OK && f->err == TS_OK)
        f->err = rc;
    return rc == TS_OK ? MHD_YES : MHD_NO;
}

int http_form_new(struct http_req *r, size_t bufsize, http_form_fn fn, void *ctx,
                  struct http_form **out)
{
    const char *ct = http_req_header(r, "Content-Type");
    static const char mp[] = "multipart/form-data";
    *out = NULL;
    /* The post processor would take a urlencoded form too: this parser is for multipart. */
    if (ct == NULL || strncasecmp(ct, mp, sizeof mp - 1) != 0 || strstr(ct, "boundary=") == NULL)
        return TS_E_MALFORMED_POST;
    struct http_form *f = calloc(1, sizeof *f);
    if (f == NULL)
        return TS_E_INTERNAL;
    f->fn = fn;
    f->ctx = ctx;
    f->pp = MHD_create_post_processor(r->priv->conn, bufsize < 1024 ? 1024 : bufsize, form_iter, f);
    if (f->pp == NULL) {
        free(f);
        return TS_E_MALFORMED_POST;
    }
    *out = f;
    return TS_OK;
}

int http_form_feed(struct http_form *f, const uint8_t *p, size_t n)
{
    if (f->err != TS_OK)
        return f->err;
    if (MHD_post_process(f->pp, (const char *)p, n) != MHD_YES && f->err == TS_OK)
        f->err = TS_E_MALFORMED_POST;
    return f->err;
}

int http_form_end(struct http_form *f)
{
    enum MHD_Result done = f->pp != NULL ? MHD_destroy_post_processor(f->pp) : MHD_NO;
    f->pp = NULL;
    if (f->err == TS_OK && done != MHD_YES)
        f->err = TS_E_MALFORMED_POST;
    return f->err;
}

void http_form_free(struct http_form *f)
{
    if (f == NULL)
        return;
    if (f->pp != NULL)
        MHD_destroy_post_processor(f->pp);
    free(f);
}
