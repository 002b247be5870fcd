/* http.h -- the HTTP server (libmicrohttpd underneath) and the request every handler sees.
 *
 * A request goes through fixed phases, as in nginx:
 *
 *   headers in ─► route ─► authn (hook) ─► resolve ─► authz (hook) ─► route->start
 *             ─► body (filter ─► sink | buffer) ─► authn finish ─► route->finish ─► log
 *
 * - The router picks the first registered route whose match() accepts the request.
 * - The authn hook (sts_authenticate, registered by cli/) verifies SigV4 and sets
 *   r->principal. When the signature covers a body that has not arrived yet (STS and admin
 *   calls sign the payload hash without an x-amz-content-sha256 header) it sets
 *   r->authn_deferred: the body is then buffered and authn_finish runs before route->start.
 *   It may also install r->filter, which sees the raw body first (payload hashing,
 *   aws-chunked decoding) and passes decoded bytes on with http_req_body_emit().
 * - route->resolve names the operation from the route's table: it fills r->authz with the
 *   action(s) and resource(s) the operation is authorized for. The authz hook (the one
 *   authorizer, pol_authz_http, registered by cli/) then decides; any error or a missing hook
 *   or descriptor is a denial (fail closed). Handlers never authorize the request themselves;
 *   operations that act on several items (DeleteObjects, ListBuckets) declare
 *   HTTP_AUTHZ_PER_ITEM and ask the same authorizer per item with http_authorize(). A route
 *   whose operation is named in the body (STS forms) sets r->authz.after_body: resolve and
 *   authz then run again once the body is buffered, before route->finish (its start must
 *   not act). With deferred authn, resolve and authz run after authn finish.
 * - route->start decides what happens to the body: stream it into a sink
 *   (http_req_set_sink) or let the server buffer it (default, up to r->body_max bytes).
 * - route->finish runs once the whole body was received and every filter finished
 *   without error; it replies (http_reply_*) or returns an error, never both. Every phase
 *   reports an error the same way (TS_OK or a code, with a struct ts_error carrying the
 *   message); only the server answers errors, in the route's error style, and once a phase
 *   failed no later phase (route->finish included) is called.
 * - route->cleanup (optional) runs when the request is done, whatever happened, if r->hctx
 *   is set (it frees it; the core then clears r->hctx).
 *
 * A request is handled by one thread at a time (the HTTP thread, then for blocking requests a
 * worker of the route's pool for finish); nothing in struct http_req is shared. Responses are
 * queued on the second call of the access handler or later, never the first, so connections stay
 * alive (DESIGN §6).
 */
#ifndef TS_HTTP_H
#define TS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_req;
struct http_server;
struct ts_error;

enum http_err_style {
    HTTP_ERR_S3,   /* <Error><Code/><Message/><Resource/><RequestId/></Error> */
    HTTP_ERR_STS,  /* <ErrorResponse xmlns=sts><Error><Type/><Code/><Message/></Error>... */
    HTTP_ERR_JSON, /* {"Code":..,"Message":..,"RequestId":..} (admin API) */
    HTTP_ERR_HTML, /* a small HTML page: code, message, a link back to /login (browser login) */
};

struct http_kv {
    char *key;
    char *value;
};

/* Appends copies of key and value to the array *v of *n pairs: TS_OK, or TS_E_INTERNAL with
 * the array unchanged in content. */
int http_kv_add(struct http_kv **v, size_t *n, const char *key, const char *value);
/* Frees the keys and values of v[0..n) and v itself. */
void http_kv_free(struct http_kv *v, size_t n);

/* Where body bytes go after any filter. write returns TS_OK or an error, which ends the
 * request with that error. */
struct http_sink {
    int (*write)(void *ctx, const uint8_t *p, size_t n);
    void *ctx;
};

/* A body filter, installed by the authn hook. write receives raw body bytes and passes the
 * decoded ones on with http_req_body_emit(); finish runs at the end of the body (verify a
 * payload hash, read trailers); free releases ctx. All return TS_OK or an error. */
struct http_filter {
    int (*write)(struct http_req *r, void *ctx, const uint8_t *p, size_t n);
    int (*finish)(struct http_req *r, void *ctx);
    void (*free)(void *ctx);
    void *ctx;
};

/* ---- authorization: what an operation asks for ---- */

/* e.g. CopyObject: s3:PutObject on the target, s3:GetObject on the source, and in gateway mode
 * the actions its headers imply (s3:PutObjectTagging for x-amz-tagging...) */
#define HTTP_AUTHZ_MAX_ITEMS 4
/* request condition keys: the listing ones, and up to 10 object tags three ways
 * (s3:ExistingObjectTag/k, s3:RequestObjectTag/k, s3:RequestObjectTagKeys) */
#define HTTP_AUTHZ_MAX_KEYS 40

/* flags of struct http_authz */
#define HTTP_AUTHZ_PUBLIC                                                                          \
    1u                              /* no check: the operation authenticates its caller itself     \
                                       (federated logins) or only answers an error */
#define HTTP_AUTHZ_SIGNED 2u        /* anonymous callers are denied */
#define HTTP_AUTHZ_STATIC 4u        /* temporary credentials are denied */
#define HTTP_AUTHZ_UNLESS_DENIED 8u /* allowed unless a policy explicitly denies (AssumeRole) */
#define HTTP_AUTHZ_ANY_CALLER 16u   /* every caller the other flags admit (GetCallerIdentity) */
#define HTTP_AUTHZ_PER_ITEM                                                                        \
    32u                         /* the handler asks per item (http_authorize); the phase           \
                                   applies SIGNED / STATIC only */
#define HTTP_AUTHZ_QUIET 64u    /* denials are not audited (probing, e.g. ListBuckets) */
#define HTTP_AUTHZ_EXPLAIN 128u /* the denial message names the action and the reason */
#define HTTP_AUTHZ_ASKS_AGAIN                                                                      \
    256u /* the handler may ask the authorizer a follow-up question (http_authorize: S3, may a     \
            missing key be named): finish runs where an authorization may wait */

/* One authorization question: the principal (r->principal) may do action on resource. */
struct http_authz_item {
    const char *action;    /* "s3:GetObject", "admin:CreateUser", "sts:AssumeRole" */
    const char *resource;  /* ARN; NULL: an action without resource */
    const char *policy_of; /* the resource's own policy is policy_get(policy_ctx, policy_of)
                            * (S3: the bucket name); NULL: none */
    const char *version;   /* S3: the object version the item names (its ACL is that
                            * version's); NULL: the current one */
};

struct http_authz {
    struct http_authz_item item[HTTP_AUTHZ_MAX_ITEMS]; /* every one must be allowed */
    size_t nitems;
    unsigned flags;   /* HTTP_AUTHZ_* */
    const char *op;   /* operation name, for audit lines and messages */
    const char *self; /* a static user whose access key is this is allowed (its own secret) */
    int deny;         /* the error of a denial; 0: TS_E_ACCESS_DENIED */
    bool after_body;  /* set by resolve: call again once the body is buffered */
    struct http_kv keys[HTTP_AUTHZ_MAX_KEYS]; /* request condition keys (s3:prefix...) */
    size_t nkeys;
    /* Condition keys starting with this prefix (case-insensitive) have values the server could
     * not learn (e.g. "s3:ExistingObjectTag/" in gateway mode): a condition on one fails
     * closed (Deny statements apply, Allow statements do not). NULL: none. */
    const char *unknown_keys;
    /* What the resource says (S3: the bucket policy, public access block and ACLs, as a
     * policy/pol.h struct pol_resource): TS_OK with *doc (NULL: nothing) and a *handle for
     * policy_release, or an error, which denies. */
    int (*policy_get)(void *ctx, const char *name, const void **doc, void **handle);
    void (*policy_release)(void *handle);
    void *policy_ctx;
    void *owned; /* memory resolve allocated for the strings above; core free()s it */
};

struct http_route {
    const char *name;                  /* for logs and metrics: "s3", "sts", "admin" */
    bool (*match)(struct http_req *r); /* NULL matches everything */
    /* The phases below never reply with an error themselves: each returns TS_OK or an error
     * code with e (core/err.h, zeroed by core) filled, and core alone answers it in the
     * route's error style (e's message, or the code's default when it has none). */
    int (*start)(struct http_req *r, struct ts_error *e); /* TS_OK, or an error */
    /* TS_OK once it replied (http_reply_*), or an error and no reply; never both. TS_OK
     * without a reply is answered InternalError. */
    int (*finish)(struct http_req *r, struct ts_error *e);
    void (*cleanup)(struct http_req *r);
    enum http_err_style err_style;
    size_t body_max; /* buffered-body limit; 0 means 1 MiB */
    bool no_authn;   /* health, metrics: skip the authn hook (and authorization) */
    /* Names the operation (see the top comment): fills r->authz; TS_OK or an error (e: its
     * message). A route without it and without no_authn or no_authz is denied everything
     * (fail closed). */
    int (*resolve)(struct http_req *r, struct ts_error *e);
    bool no_authz; /* every request is public (browser login pages): no authz phase */
    /* Optional: runs once the route is chosen, before the authn hook, whatever happens next.
     * It may add reply headers (http_reply_header) that every answer to r then carries, error
     * answers of any later phase included (S3: the CORS headers of an allowed origin). */
    void (*prepare)(struct http_req *r);
    /* Optional: true when this request's finish may wait (on a remote service such as an
     * LDAP directory, or on fsync). It then runs on a worker thread of this route's own pool
     * while the connection is suspended, so that slow work never holds up the HTTP threads nor
     * another route's workers. Called once the whole body is in (r->body or the sink). */
    bool (*blocking)(struct http_req *r);
    unsigned workers; /* threads of that pool; 0: the server's cfg.workers, else 8 */
    void *ctx;        /* the module's state; handlers read r->route->ctx */
};

/* A route's description: its name, error style and body limit, then its hooks and flags as
 * designated initializers (.match = ..., .finish = ...). ctx is set when the module starts. */
#define HTTP_ROUTE(route_name, style, max_body, ...)                                               \
    {                                                                                              \
        .name = (route_name), .err_style = (style), .body_max = (max_body), __VA_ARGS__            \
    }

struct http_req {
    /* Set before routing; read-only afterwards. */
    const char *method;    /* "GET", ... */
    char *raw_uri;         /* as received: /bucket/key?x=y */
    char *raw_path;        /* percent-encoded path, without the query */
    char *path;            /* decoded path (never contains NUL) */
    char *raw_query;       /* after '?', or "" */
    struct http_kv *query; /* decoded query parameters in the order received */
    size_t nquery;
    char request_id[24]; /* also sent as x-amz-request-id */
    char source_ip[64];  /* textual peer address */
    bool tls;            /* connection is TLS */
    bool has_content_length;
    uint64_t content_length;
    uint64_t started_us; /* monotonic microseconds at arrival */
    const struct http_route *route;

    /* Authentication (set by the authn hook). */
    void *principal; /* struct pol_principal * (policy/pol.h) */
    void (*principal_free)(void *);
    bool authn_deferred;
    struct http_filter filter;

    /* Authorization: what the operation asks (route->resolve), decided by the authz hook. */
    struct http_authz authz;

    /* Body. */
    size_t body_max; /* limit for a buffered body */
    uint8_t *body;   /* buffered body (NUL-terminated), when no sink was set */
    size_t body_len;
    uint64_t body_received; /* raw bytes received from the socket */

    /* Set by the body filter once it verified an x-amz-checksum-* header or trailer: the
     * algorithm ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256") and the base64 value,
     * for the object store to keep and return. Empty when none. Content-MD5 is checked by
     * the object store, which computes the MD5 for the ETag anyway. */
    char checksum_algo[16];
    char checksum_b64[96];

    /* Handler state, owned by the route (freed in route->cleanup). */
    void *hctx;

    /* Error details for the response / access log. */
    const char *resource; /* S3 <Resource>, e.g. "/bucket/key" (borrowed) */
    char *bucket, *key;   /* filled by the S3 router for logs and errors (owned) */

    /* Private to core/http.c. */
    struct http_req_priv *priv;
};

/* ---- request accessors (all borrowed pointers, valid for the request's lifetime) ---- */

/* A request header, case-insensitive name; NULL when absent. */
const char *http_req_header(struct http_req *r, const char *name);
/* Calls fn for every header (name as received). Stops early when fn returns non-zero. */
void http_req_header_foreach(struct http_req *r,
                             int (*fn)(void *ctx, const char *name, const char *value), void *ctx);
/* A decoded query parameter, or NULL when absent ("" when present without a value). */
const char *http_req_query(struct http_req *r, const char *name);
/* Whether r carries an AWS signature (an Authorization header "AWS…", or an X-Amz-Credential,
 * X-Amz-Signature or Signature query parameter): the server's own unsigned pages (/login,
 * /health/, /metrics) leave such requests to the S3 route, for buckets of those names. */
bool http_req_aws_signed(struct http_req *r);

/* Makes the body go to sink instead of the buffer. Call from route->start only. */
void http_req_set_sink(struct http_req *r, struct http_sink sink);
/* For sinks and filters whose write is about to return err: msg (copied; NULL: the code's
 * default) is the message the server answers err with. Returns err. */
int http_req_fail(struct http_req *r, int err, const char *msg);
/* For filters: hands decoded body bytes to the sink or buffer. Returns TS_OK or an error. */
int http_req_body_emit(struct http_req *r, const uint8_t *p, size_t n);

/* ---- responses: each request gets exactly one http_reply_* call ---- */

/* Adds a response header (copied). Call before http_reply_*. */
void http_reply_header(struct http_req *r, const char *name, const char *value);
/* Replies with data (copied unless take, in which case it is free()d by the server). */
int http_reply_data(struct http_req *r, int status, const char *content_type, void *data,
                    size_t len, bool take);
/* Replies with len bytes of fd from off (sendfile). Takes ownership of fd. */
int http_reply_fd(struct http_req *r, int status, const char *content_type, int fd, uint64_t off,
                  uint64_t len);
/* Replies with an empty body but a Content-Length of len (HEAD). */
int http_reply_head(struct http_req *r, int status, uint64_t len);
/* Replies with an error shaped after r->route->err_style. msg NULL uses the default. */
int http_reply_error(struct http_req *r, int err, const char *msg);
/* The same document for an error that is not one of tessera's codes: one relayed from an
 * upstream server (the gateway), with its status, code and message. */
int http_reply_error_relayed(struct http_req *r, int status, const char *code, const char *msg);

/* ---- streamed replies and flow control (the gateway's relay) ---- */

/* http_stream_fn results besides a byte count */
#define HTTP_STREAM_END (-1)   /* the body is complete */
#define HTTP_STREAM_ERROR (-2) /* abort: the connection is closed, the client sees a short body */
/* Copies up to max bytes of the reply body into buf and returns their count; or returns 0
 * after http_req_suspend when none is available yet (http_req_resume calls it again); or one
 * of the HTTP_STREAM_* values. Runs on the HTTP thread serving the request. */
typedef long (*http_stream_fn)(void *ctx, char *buf, size_t max);
/* Replies status with a body produced by read (len bytes; len_known false: unknown, sent
 * chunked). free_ctx(ctx) runs when the reply is done with, whatever happened (also when
 * this call fails). */
int http_reply_stream(struct http_req *r, int status, const char *content_type, uint64_t len,
                      bool len_known, http_stream_fn read, void *ctx, void (*free_ctx)(void *));
/* route->finish may return HTTP_PENDING (when it runs on the HTTP thread, i.e. the route does
 * not mark the request blocking): the request was handed to another thread, which replies
 * (http_reply_*) or not, then calls http_req_done -- exactly once. Meanwhile the connection is
 * suspended; nothing waits. */
#define HTTP_PENDING (-100)
/* Ends a request whose finish returned HTTP_PENDING: err TS_OK (it replied) or an error for
 * the server to answer (msg: its message, or NULL). Any thread. */
void http_req_done(struct http_req *r, int err, const char *msg);
/* Stops serving r's connection -- reading its body, or writing its streamed reply -- until
 * http_req_resume. Call only where libmicrohttpd runs r: a sink's write, a filter, a stream
 * reader. false when the server is stopping: do not wait then, fail the request. */
bool http_req_suspend(struct http_req *r);
/* Serves r's connection again after http_req_suspend; from any thread; a no-op when r is not
 * suspended. The caller guarantees r is alive (its route->cleanup has not returned). */
void http_req_resume(struct http_req *r);
/* The status of the reply made so far (0 before any); *err (optional) gets the error that
 * http_reply_error answered with, TS_OK for other replies. For metrics of the routes. */
int http_reply_status(const struct http_req *r, int *err);

/* A DER-encoded certificate the TLS peer sent; borrowed from the connection. */
struct http_der {
    const unsigned char *data;
    size_t len;
};
/* The certificate chain the client presented in r's TLS handshake (leaf first, as sent;
 * unverified), when the server asks for client certificates (http_config.client_ca_pem):
 * up to max entries into out, valid while r lives. Returns how many the client sent (0: none,
 * or no TLS, or not asked). */
size_t http_req_peer_chain(const struct http_req *r, struct http_der *out, size_t max);

/* ---- server ---- */

struct http_config {
    const char *address;   /* HOST:PORT; IPv6 as [::1]:9000 */
    const char *cert_file; /* PEM, or NULL for plain HTTP */
    const char *key_file;
    unsigned threads;            /* 0: one per core */
    unsigned max_connections;    /* 0: 4096 */
    unsigned connection_timeout; /* idle seconds; 0: 60 */
    size_t header_max;           /* bytes of request line + headers; 0: 16 KiB */
    bool thread_per_connection;  /* instead of the epoll pool (for benchmarks only) */
    unsigned workers;            /* threads per pool of blocking requests (route->blocking); 0: 8 */
    /* With TLS: PEM certificates sent to clients as the acceptable issuers; when set, the
     * listener requests -- never requires -- a client certificate on every handshake (the TLS
     * layer checks the client's proof of possession of its key, nothing else): whoever uses
     * the chain (http_req_peer_chain) verifies it. NULL: no client certificate is asked.
     * Borrowed: it must outlive the server. */
    const char *client_ca_pem;
};

/* The authn hook: begin runs after routing (may set r->authn_deferred and r->filter);
 * finish runs after the buffered body when deferred. Both return TS_OK or an error with e
 * filled; neither replies. */
typedef int (*http_authn_fn)(void *ctx, struct http_req *r, struct ts_error *e);

/* The authz hook: decides q for r's principal. TS_OK allows; anything else denies (e: the
 * denial with a message for the caller when q asks HTTP_AUTHZ_EXPLAIN). */
typedef int (*http_authz_fn)(void *ctx, struct http_req *r, const struct http_authz *q,
                             struct ts_error *e);

/* Optional, with the authz hook (same ctx): true when deciding for r may wait on a remote
 * decision source (an authorization plugin). Such requests are authorized on a worker of the
 * server's authz pool (cfg.workers threads, else 16) while the connection is suspended,
 * never on an HTTP thread, and so is their finish when it authorizes again (deferred authn,
 * after_body, HTTP_AUTHZ_PER_ITEM). r->principal is NULL while authn is deferred. */
typedef bool (*http_authz_remote_fn)(void *ctx, const struct http_req *r);

/* Asks the server's authz hook about q for r (the phase does this for r->authz; handlers for
 * the items of HTTP_AUTHZ_PER_ITEM operations). TS_OK, or q->deny (TS_E_ACCESS_DENIED when
 * 0) for a denial, an error, or no hook. msg (optional) gets the message. */
int http_authorize(struct http_req *r, const struct http_authz *q, struct ts_error *e);

/* ---- credentials carried in a form (S3 browser POST uploads) ---- */

/* The signature fields of an HTML form POST, as sent (borrowed; NULL when absent). The
 * signed string is the base64 policy itself. */
struct http_form_auth {
    int version;                /* 4: x-amz-algorithm/credential/date/signature; 2: V2 */
    const char *policy;         /* the policy field (base64), the string signed */
    const char *algorithm;      /* V4: x-amz-algorithm */
    const char *credential;     /* V4: x-amz-credential, AK/YYYYMMDD/region/s3/aws4_request */
    const char *amz_date;       /* V4: x-amz-date, YYYYMMDDTHHMMSSZ */
    const char *access_key;     /* V2: AWSAccessKeyId */
    const char *signature;      /* V4: hex x-amz-signature; V2: base64 signature */
    const char *security_token; /* x-amz-security-token, or NULL */
};

/* The form authn hook (registered with the authn hook's ctx): verifies a's signature of its
 * policy with the signer's secret and, on TS_OK, makes the signer r->principal (replacing
 * the one the request's headers gave). An error (e filled) leaves r->principal alone. */
typedef int (*http_authn_form_fn)(void *ctx, struct http_req *r, const struct http_form_auth *a,
                                  struct ts_error *e);
void http_server_set_authn_form(struct http_server *s, http_authn_form_fn fn);
/* Runs the form authn hook for r: TS_OK (r->principal is the form's signer), or its error;
 * TS_E_ACCESS_DENIED when no hook is registered (fail closed). */
int http_authenticate_form(struct http_req *r, const struct http_form_auth *a, struct ts_error *e);
/* Whether an authorization of r (http_authorize) may wait on a remote decision source: a
 * handler then asks where waiting is allowed (its finish, on a worker), not in a sink. */
bool http_authz_may_wait(struct http_req *r);

/* ---- multipart/form-data bodies, parsed incrementally (libmicrohttpd's post processor) ---- */

/* One piece of a form part's value: the part's name, filename (NULL when none) and
 * Content-Type (NULL when none); off is the offset of data in the value. Every part is
 * announced at least once, with off 0 (an empty value: n 0). */
struct http_form_piece {
    const char *name, *filename, *content_type;
    uint64_t off;
};
/* Receives the pieces in order: TS_OK, or an error that stops the parser (http_form_feed
 * returns it). */
typedef int (*http_form_fn)(void *ctx, const struct http_form_piece *p, const uint8_t *data,
                            size_t n);
struct http_form;
/* A parser of r's multipart/form-data body (its Content-Type names the boundary); no part
 * header or piece is larger than bufsize (>= 1024). TS_OK with *out, or TS_E_MALFORMED_POST
 * (not multipart/form-data, no usable boundary) or TS_E_INTERNAL. */
int http_form_new(struct http_req *r, size_t bufsize, http_form_fn fn, void *ctx,
                  struct http_form **out);
/* Parses n more body bytes: TS_OK, the callback's error, or TS_E_MALFORMED_POST. */
int http_form_feed(struct http_form *f, const uint8_t *p, size_t n);
/* The body is complete: TS_OK when it ended with the closing boundary, TS_E_MALFORMED_POST
 * otherwise (truncated, garbled), or the error an earlier feed returned. */
int http_form_end(struct http_form *f);
void http_form_free(struct http_form *f); /* NULL is a no-op */

/* Creates a server (not yet listening). Returns NULL with a message on stderr on failure. */
struct http_server *http_server_new(const struct http_config *cfg);
/* Routes are tried in the order added; the route is borrowed and must outlive the server. */
void http_server_add_route(struct http_server *s, const struct http_route *route);
void http_server_set_authn(struct http_server *s, http_authn_fn begin, http_authn_fn finish,
                           void *ctx);
void http_server_set_authz(struct http_server *s, http_authz_fn fn, void *ctx);
/* Sets the authz_remote predicate (before http_server_start). */
void http_server_set_authz_remote(struct http_server *s, http_authz_remote_fn fn);
/* Starts listening. Returns 0, or -1 with a message on stderr. */
int http_server_start(struct http_server *s);
/* The bound port (useful with port 0). */
unsigned http_server_port(struct http_server *s);
/* Stops accepting, lets in-flight requests finish, frees the server. NULL is a no-op. */
void http_server_free(struct http_server *s);

#endif
