/* s3_gw.c -- the S3 route in gateway mode (`tessera gateway s3 URL`): the same operation table
 * (s3_ops.c), the same authn and authz phases, then the upstream instead of the embedded store.
 *
 * What tessera does itself in gateway mode:
 * - every request is authenticated and authorized before anything reaches the upstream; the
 *   query parameters forwarded are the operation's own and the known ones (anything else is
 *   501 NotImplemented: an operation the table does not know is never forwarded under another
 *   operation's action); a version id asks for the versioned action (s3:GetObjectVersion...);
 *   headers that ask the upstream for more (x-amz-tagging, object lock, ACLs) are authorized
 *   for what they ask (s3_authz_declare, as for the store); s3:ExistingObjectTag/<key> is not
 *   known here: conditions on it fail closed (s3_tags_declare, docs/GATEWAY.md);
 * - ListBuckets is filtered by the caller's policies; DeleteObjects is authorized per key;
 * - bucket policies are stored by tessera, in the IAM store (so in etcd when it is there), as
 *   blob "s3/bucket-policy/BUCKET", and evaluated by tessera; never sent to the upstream;
 * - so are CORS configurations (blob "s3/bucket-cors/BUCKET"): tessera answers preflights and
 *   adds the Access-Control-* headers (s3_cors.c); the upstream never sees Origin headers.
 * Everything else is forwarded (objstore/gateway.c) and the answer relayed.
 */
#include "objstore/s3_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xml.h"
#include "idp/iam.h"
#include "objstore/gw.h"
#include "policy/pol.h"
#include "sts/sigv4.h"

#define GW_ERR_BODY_MAX (64u << 10)
#define GW_LIST_MAX (8u << 20)
#define GW_WHOLE_MAX (64u << 10) /* a complete answer up to this size is sent in one piece */

/* ---- resolve: the query, versions, header-implied actions ---- */

/* Query parameters forwarded besides the operation's own subresource. */
static const char *const gw_params[] = {"prefix",
                                        "delimiter",
                                        "marker",
                                        "max-keys",
                                        "list-type",
                                        "continuation-token",
                                        "start-after",
                                        "fetch-owner",
                                        "encoding-type",
                                        "key-marker",
                                        "version-id-marker",
                                        "upload-id-marker",
                                        "max-uploads",
                                        "max-parts",
                                        "part-number-marker",
                                        "versionId",
                                        "partNumber",
                                        "uploadId",
                                        "select-type",
                                        "response-content-type",
                                        "response-content-language",
                                        "response-expires",
                                        "response-cache-control",
                                        "response-content-disposition",
                                        "response-content-encoding"};
/* Authentication in the query (verified by tessera) and SDK markers: never forwarded. */
static const char *const gw_dropped[] = {"X-Amz-Algorithm",
                                         "X-Amz-Credential",
                                         "X-Amz-Date",
                                         "X-Amz-Expires",
                                         "X-Amz-SignedHeaders",
                                         "X-Amz-Signature",
                                         "X-Amz-Security-Token",
                                         "AWSAccessKeyId",
                                         "Signature",
                                         "Expires",
                                         "x-id"};

static bool in_list(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* The query to forward (*out, malloc'ed, percent-encoded), or TS_E_NOT_IMPLEMENTED naming a
 * parameter the gateway does not know. */
static int gw_query(struct s3_ctx *c, char **out)
{
    struct http_req *r = c->r;
    const char *sub = c->op->query;
    size_t sublen = sub ? strcspn(sub, "=") : 0;
    struct buf b;
    buf_init(&b, 64 * 1024);
    *out = NULL;
    for (size_t i = 0; i < r->nquery; i++) {
        const char *k = r->query[i].key, *v = r->query[i].value;
        if (in_list(gw_dropped, sizeof gw_dropped / sizeof *gw_dropped, k))
            continue;
        if (!(sub && strlen(k) == sublen && strncmp(k, sub, sublen) == 0) &&
            !in_list(gw_params, sizeof gw_params / sizeof *gw_params, k)) {
            buf_free(&b);
            return s3_fail(c, TS_E_NOT_IMPLEMENTED,
                           "A query parameter of this request is not known to the gateway.");
        }
        char *ek = enc_uri_encode(k, strlen(k), false), *ev = enc_uri_encode(v, strlen(v), false);
        if (ek && ev)
            buf_addf(&b, "%s%s=%s", buf_len(&b) ? "&" : "", ek, ev);
        free(ek);
        free(ev);
        if (ek == NULL || ev == NULL) {
            buf_free(&b);
            return TS_E_INTERNAL;
        }
    }
    if (buf_failed(&b)) {
        buf_free(&b);
        return TS_E_INVALID_URI;
    }
    *out = buf_take(&b, NULL);
    return *out ? TS_OK : TS_E_INTERNAL;
}

int s3_gw_check_id(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (v == NULL)
        return TS_OK;
    if (n == 0 || n > 1024)
        return TS_E_INVALID_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (v[i] <= 0x20 || v[i] >= 0x7f)
            return TS_E_INVALID_ARGUMENT;
    return TS_OK;
}

/* ---- the request to the upstream ---- */

/* Request headers tessera consumed (authentication, framing) and never forwards. */
static const char *const gw_hdr_drop[] = {"x-amz-date",           "x-amz-content-sha256",
                                          "x-amz-security-token", "x-amz-decoded-content-length",
                                          "x-amz-trailer",        "x-amz-trailer-signature"};
/* Standard headers forwarded (besides every other x-amz-*). */
static const char *const gw_hdr_std[] = {"content-type",
                                         "content-md5",
                                         "content-disposition",
                                         "content-language",
                                         "cache-control",
                                         "expires",
                                         "range",
                                         "if-match",
                                         "if-none-match",
                                         "if-modified-since",
                                         "if-unmodified-since"};

struct fwd_walk {
    struct gw_xfer *x;
    bool trailer;  /* the body's checksum comes in a trailer: its algorithm header is dropped */
    bool new_body; /* the gateway rewrote the body: the client's digests of it are dropped */
    int rc;
};

static int fwd_hdr(void *ctx, const char *name, const char *value)
{
    struct fwd_walk *w = ctx;
    char low[128], enc[256];
    size_t n = strlen(name);
    if (n >= sizeof low)
        return 0;
    for (size_t i = 0; i <= n; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    bool amz = strncmp(low, "x-amz-", 6) == 0;
    if (in_list(gw_hdr_drop, sizeof gw_hdr_drop / sizeof *gw_hdr_drop, low) ||
        (w->trailer && strcmp(low, "x-amz-sdk-checksum-algorithm") == 0))
        return 0;
    if (w->new_body &&
        (strcmp(low, "content-md5") == 0 || strncmp(low, "x-amz-checksum-", 15) == 0 ||
         strcmp(low, "x-amz-sdk-checksum-algorithm") == 0))
        return 0;
    if (strcmp(low, "content-encoding") == 0) {
        if (s3_content_encoding(value, enc, sizeof enc)[0])
            w->rc = gw_xfer_header(w->x, low, enc);
    } else if (amz || in_list(gw_hdr_std, sizeof gw_hdr_std / sizeof *gw_hdr_std, low)) {
        w->rc = gw_xfer_header(w->x, low, value);
    }
    return w->rc != TS_OK;
}

/* A transfer for c's request: the path and query it names, the headers it forwards. */
static int gw_build(struct s3_ctx *c, const char *method, bool new_body, struct gw_xfer **out)
{
    struct http_req *r = c->r;
    char *query = NULL, *eb = NULL, *ek = NULL, *path = NULL;
    int rc = gw_query(c, &query);
    *out = NULL;
    if (rc != TS_OK)
        return rc;
    eb = c->bucket ? enc_uri_encode(c->bucket, strlen(c->bucket), false) : strdup("");
    ek = c->key ? enc_uri_encode(c->key, strlen(c->key), true) : strdup("");
    if (eb && ek && asprintf(&path, "/%s%s%s", eb, c->key ? "/" : "", ek) < 0)
        path = NULL;
    struct gw_xfer *x = path ? gw_xfer_new(c->st->gw, r, method, path, query) : NULL;
    free(query), free(eb), free(ek), free(path);
    if (x == NULL)
        return TS_E_INTERNAL;
    struct fwd_walk w = {x, http_req_header(r, "x-amz-trailer") != NULL, new_body, TS_OK};
    http_req_header_foreach(r, fwd_hdr, &w);
    if (w.rc != TS_OK) {
        gw_xfer_release(x);
        return w.rc;
    }
    *out = x;
    return TS_OK;
}

/* Builds and submits the request with the buffered body (or none). */
static int gw_send_buffered(struct s3_ctx *c)
{
    bool body = strcmp(c->r->method, "PUT") == 0 || strcmp(c->r->method, "POST") == 0;
    int rc = gw_build(c, c->r->method, false, &c->x);
    if (rc == TS_OK && body)
        rc = gw_xfer_body_data(c->x, c->r->body, c->r->body_len);
    return rc == TS_OK ? gw_xfer_submit(c->x) : rc;
}

/* route->start for operations whose body is object data (S3_F_STREAM): the transfer starts
 * now and the body streams through it. */
int s3_gw_start(struct s3_ctx *c)
{
    struct http_req *r = c->r;
    const char *dl = http_req_header(r, "x-amz-decoded-content-length");
    const char *ph = http_req_header(r, "x-amz-content-sha256");
    uint64_t len;
    if (!(c->op->flags & S3_F_STREAM))
        return TS_OK;
    if (dl != NULL) {
        char *end;
        len = strtoull(dl, &end, 10);
        if (*dl == 0 || *end)
            return s3_fail(c, TS_E_INVALID_ARGUMENT, "Invalid x-amz-decoded-content-length.");
    } else if (r->has_content_length) {
        len = r->content_length;
    } else {
        return TS_E_MISSING_CONTENT_LENGTH;
    }
    if (len == 0)
        return TS_OK; /* nothing to stream: sent from finish, once verified */
    /* The client's payload hash goes on when it is the body's (the upstream checks it too). */
    if (dl != NULL || ph == NULL || strlen(ph) != 64 || ph[strspn(ph, "0123456789abcdef")])
        ph = SIGV4_UNSIGNED_PAYLOAD;
    int rc = gw_build(c, r->method, false, &c->x);
    if (rc == TS_OK)
        rc = gw_xfer_body_stream(c->x, len, ph);
    if (rc == TS_OK)
        rc = gw_xfer_submit(c->x);
    if (rc == TS_OK)
        http_req_set_sink(r, (struct http_sink){gw_xfer_push, c->x});
    return rc;
}

/* ---- the answer ---- */

static const char *resp_header(const struct gw_resp *rs, const char *name)
{
    for (size_t i = 0; i < rs->nh; i++)
        if (strcasecmp(rs->h[i].key, name) == 0)
            return rs->h[i].value;
    return NULL;
}

/* Response headers relayed besides every x-amz-* (but the upstream's request ids). */
static const char *const gw_resp_std[] = {"content-range",    "etag",
                                          "last-modified",    "accept-ranges",
                                          "cache-control",    "content-disposition",
                                          "content-encoding", "content-language",
                                          "expires",          "location"};

static void relay_headers(struct s3_ctx *c, const struct gw_resp *rs)
{
    for (size_t i = 0; i < rs->nh; i++) {
        const char *k = rs->h[i].key;
        bool amz = strncasecmp(k, "x-amz-", 6) == 0 && strcasecmp(k, "x-amz-request-id") != 0 &&
                   strcasecmp(k, "x-amz-id-2") != 0;
        bool std = false;
        for (size_t s = 0; s < sizeof gw_resp_std / sizeof *gw_resp_std; s++)
            std |= strcasecmp(k, gw_resp_std[s]) == 0;
        if (amz || std)
            http_reply_header(c->r, k, rs->h[i].value);
    }
}

/* Codes by which an upstream refuses the gateway's own signature or keys: the gateway's
 * configuration is at fault, not the client's request. */
static const char *const gw_cred_codes[] = {
    "InvalidAccessKeyId",           "SignatureDoesNotMatch", "InvalidToken",   "ExpiredToken",
    "AuthorizationHeaderMalformed", "RequestTimeTooSkewed",  "InvalidSecurity"};

/* An error answer of the upstream: its code and message relayed in tessera's error document
 * (request id, resource); refusals of the gateway's credentials and 5xx other than 503
 * become 502 BadGateway naming the upstream. */
static int relay_error(struct s3_ctx *c, const struct gw_resp *rs)
{
    struct buf b;
    char code[64] = "", msg[600] = "", emsg[400];
    const char *url = gw_url(c->st->gw);
    int status = (int)rs->status;
    if (strcmp(c->r->method, "HEAD") == 0)
        return http_reply_head(c->r, status, 0);
    buf_init(&b, GW_ERR_BODY_MAX + 1);
    gw_xfer_read_all(c->x, &b, GW_ERR_BODY_MAX, emsg, sizeof emsg);
    struct xml_node *x = buf_len(&b) ? xml_parse(buf_str(&b), buf_len(&b)) : NULL;
    const char *xc = x ? xml_child_text(x, "Code") : NULL,
               *xm = x ? xml_child_text(x, "Message") : NULL;
    snprintf(code, sizeof code, "%s", xc && *xc ? xc : "");
    snprintf(msg, sizeof msg, "%s", xm ? xm : "");
    xml_free(x);
    buf_free(&b);
    gw_scrub(c->st->gw, msg);
    if (in_list(gw_cred_codes, sizeof gw_cred_codes / sizeof *gw_cred_codes, code)) {
        log_kv(LOG_ERROR, "gateway.credentials", "upstream", url, "code", code, NULL);
        snprintf(msg, sizeof msg,
                 "The upstream S3 server %s refused the gateway's credentials "
                 "(%s).",
                 url, code);
        return http_reply_error_relayed(c->r, 502, "BadGateway", msg);
    }
    if (status >= 500 && status != 501) { /* NotImplemented is an answer, not a failure */
        char m2[800];
        snprintf(m2, sizeof m2, "The upstream S3 server %s answered %d %s%s%s", url, status,
                 code[0] ? code : "(no error code)", msg[0] ? ": " : ".", msg);
        if (status == 503)
            return http_reply_error_relayed(c->r, 503, code[0] ? code : "ServiceUnavailable", m2);
        return http_reply_error_relayed(c->r, 502, "BadGateway", m2);
    }
    if (code[0] == 0)
        snprintf(code, sizeof code, "%s", status == 404 ? "NoSuchKey" : "InvalidRequest");
    return http_reply_error_relayed(c->r, status, code, msg[0] ? msg : code);
}

/* The answer of c->x relayed: status, headers, body (streamed). */
static int relay(struct s3_ctx *c)
{
    struct gw_resp rs;
    gw_xfer_wait(c->x, &rs);
    if (rs.err != TS_OK)
        return s3_fail(c, rs.err, rs.msg);
    if (rs.status >= 300 && rs.status != 304)
        return relay_error(c, &rs);
    const char *ct = resp_header(&rs, "Content-Type"), *cl = resp_header(&rs, "Content-Length");
    uint64_t len = cl ? strtoull(cl, NULL, 10) : 0;
    relay_headers(c, &rs);
    if (strcmp(c->r->method, "HEAD") == 0 || rs.status == 304 || rs.status == 204) {
        if (ct && rs.status != 204)
            http_reply_header(c->r, "Content-Type", ct);
        return http_reply_head(c->r, (int)rs.status, rs.status == 204 ? 0 : len);
    }
    void *body;
    if (cl != NULL && gw_xfer_take(c->x, len, GW_WHOLE_MAX, &body))
        return http_reply_data(c->r, (int)rs.status, ct, body ? body : (void *)"", len,
                               body != NULL);
    gw_xfer_ref(c->x);
    return http_reply_stream(c->r, (int)rs.status, ct, len, cl != NULL, gw_xfer_read, c->x,
                             gw_xfer_release);
}

/* The plain forward: every operation the gateway does not answer itself. */
static int gw_forward(struct s3_ctx *c)
{
    int rc = TS_OK;
    if (c->x != NULL)
        gw_xfer_verified(c->x); /* every check of the body passed: its last byte may go */
    else
        rc = gw_send_buffered(c);
    return rc == TS_OK ? relay(c) : rc;
}

/* A request of the gateway's own (the bucket list, a bucket's existence): method on path,
 * the whole answer in b (when not NULL, at most max bytes), the status in *status. TS_OK or
 * the transfer's error (in c->e). */
static int gw_fetch(struct s3_ctx *c, const char *method, const char *path, struct buf *b,
                    size_t max, long *status)
{
    struct gw_resp rs;
    char msg[400];
    struct gw_xfer *x = gw_xfer_new(c->st->gw, c->r, method, path, "");
    int rc = x ? gw_xfer_submit(x) : TS_E_INTERNAL;
    *status = 0;
    if (rc == TS_OK) {
        gw_xfer_wait(x, &rs);
        *status = rs.status;
        rc = rs.err != TS_OK ? s3_fail(c, rs.err, rs.msg) : TS_OK;
        if (rc == TS_OK && b != NULL && (rc = gw_xfer_read_all(x, b, max, msg, sizeof msg)))
            rc = s3_fail(c, rc, msg);
    }
    gw_xfer_detach(x);
    return rc;
}

/* ---- operations the gateway answers itself ---- */

/* The upstream's bucket list (*doc: the parsed ListAllMyBucketsResult, xml_free). */
static int gw_bucket_list(struct s3_ctx *c, struct xml_node **doc)
{
    struct buf b;
    long status;
    buf_init(&b, GW_LIST_MAX + 1);
    int rc = gw_fetch(c, "GET", "/", &b, GW_LIST_MAX, &status);
    *doc = NULL;
    if (rc == TS_OK && status != 200) {
        char m[200];
        snprintf(m, sizeof m, "The upstream S3 server %s answered ListBuckets with %ld.",
                 gw_url(c->st->gw), status);
        rc = s3_fail(c, TS_E_BAD_GATEWAY, m);
    } else if (rc == TS_OK && (*doc = xml_parse(buf_str(&b), buf_len(&b))) == NULL) {
        rc = s3_fail(c, TS_E_BAD_GATEWAY, "The upstream's bucket list does not parse.");
    }
    buf_free(&b);
    return rc;
}

/* ListBuckets: the upstream's whole list, then the embedded store's paging and filtering
 * (s3_list_buckets_reply): the query is tessera's, never forwarded. */
static int gw_list_buckets(struct s3_ctx *c)
{
    struct xml_node *doc;
    int rc = gw_bucket_list(c, &doc);
    if (rc != TS_OK)
        return rc;
    struct xml_node *bs = xml_child(doc, "Buckets");
    size_t n = 0;
    for (struct xml_node *k = bs ? bs->child : NULL; k; k = k->next)
        n++;
    struct s3_bucket_row *rows = calloc(n + 1, sizeof *rows);
    if (rows == NULL) {
        xml_free(doc);
        return TS_E_INTERNAL;
    }
    n = 0;
    for (struct xml_node *k = bs ? bs->child : NULL; k; k = k->next) {
        const char *name = xml_child_text(k, "Name");
        if (strcmp(k->name, "Bucket") == 0 && name != NULL)
            rows[n++] = (struct s3_bucket_row){name, xml_child_text(k, "CreationDate"),
                                               xml_child_text(k, "BucketRegion")};
    }
    rc = s3_list_buckets_reply(c, rows, n);
    free(rows);
    xml_free(doc);
    return rc;
}

int s3_gw_buckets_visible(struct s3_ctx *c, struct iam_strv *out)
{
    struct xml_node *doc;
    bool all = s3_authorize(c, "s3:ListAllMyBuckets", NULL, NULL, false) == TS_OK;
    int rc = gw_bucket_list(c, &doc);
    if (rc != TS_OK)
        return rc;
    struct xml_node *bs = xml_child(doc, "Buckets");
    size_t n = 0;
    for (struct xml_node *k = bs ? bs->child : NULL; k; k = k->next)
        n++;
    if (n > 0 && (out->v = calloc(n, sizeof *out->v)) == NULL)
        rc = TS_E_INTERNAL;
    for (struct xml_node *k = bs ? bs->child : NULL; rc == TS_OK && k; k = k->next) {
        const char *name = xml_child_text(k, "Name");
        if (name == NULL || !s3_bucket_visible(c, all, name))
            continue;
        if ((out->v[out->n] = strdup(name)) == NULL)
            rc = TS_E_INTERNAL;
        else
            out->n++;
    }
    xml_free(doc);
    return rc;
}

/* ---- bucket policies and CORS configurations: in the IAM store, applied by tessera ---- */

static void policy_blob(const char *bucket, char *out, size_t n)
{
    snprintf(out, n, "s3/bucket-policy/%s", bucket);
}

static void cors_blob(const char *bucket, char *out, size_t n)
{
    snprintf(out, n, "s3/bucket-cors/%s", bucket);
}

/* TS_OK when the upstream confirms bucket exists (HEAD), else NoSuchBucket or BadGateway. */
static int gw_bucket_check(struct s3_ctx *c)
{
    char path[80];
    long status;
    snprintf(path, sizeof path, "/%s", c->bucket); /* bucket names need no encoding */
    int rc = gw_fetch(c, "HEAD", path, NULL, 0, &status);
    if (rc == TS_OK && status == 404)
        return TS_E_NO_SUCH_BUCKET;
    if (rc == TS_OK && status != 200)
        return s3_fail(c, TS_E_BAD_GATEWAY, "The upstream did not confirm the bucket exists.");
    return rc;
}

/* Blob name as *doc (NULL, *len 0 when it is absent or empty; malloc'ed otherwise). */
static int gw_blob_get(struct gw *g, const char *name, void **doc, size_t *len)
{
    int rc = iam_blob_get(gw_iam(g), name, doc, len, NULL);
    if (rc == TS_E_NO_SUCH_ENTITY || (rc == TS_OK && *len == 0)) {
        free(*doc);
        *doc = NULL;
        *len = 0;
        return TS_OK;
    }
    return rc;
}

/* The gateway's resources: the bucket policy tessera keeps, and no ACL source (an upstream's
 * ACL never grants anything through the gateway). */
struct gw_res {
    struct pol_resource res;
    struct pol_doc *doc;
};

int s3_gw_policy_get(void *ctx, const char *bucket, const void **doc, void **handle)
{
    struct gw *g = ctx;
    char name[128], err[256];
    void *json = NULL;
    size_t len = 0;
    struct gw_res *gr = NULL;
    *doc = NULL;
    *handle = NULL;
    policy_blob(bucket, name, sizeof name);
    int rc = gw_blob_get(g, name, &json, &len);
    if (rc == TS_OK && json == NULL)
        return TS_OK; /* no policy */
    if (rc == TS_OK && (gr = calloc(1, sizeof *gr)) == NULL)
        rc = TS_E_INTERNAL;
    if (rc == TS_OK && pol_doc_parse(json, len, &gr->doc, err, sizeof err) != TS_OK) {
        log_event(LOG_ERROR, "gateway.policy", "stored policy of %s does not parse: %s", bucket,
                  err);
        rc = TS_E_INTERNAL; /* fail closed */
    }
    free(json);
    if (rc != TS_OK) {
        s3_gw_policy_release(gr);
        return rc;
    }
    gr->res.policy = gr->doc;
    *doc = &gr->res;
    *handle = gr;
    return rc;
}

void s3_gw_policy_release(void *handle)
{
    struct gw_res *gr = handle;
    if (gr != NULL)
        pol_doc_free(gr->doc);
    free(gr);
}

static int gw_put_bucket_policy(struct s3_ctx *c)
{
    char name[128], err[512] = "";
    if (c->r->body_len > OBJ_MAX_POLICY)
        return s3_fail(c, TS_E_MALFORMED_POLICY, "Policy exceeds the maximum allowed size");
    if (c->r->body_len == 0)
        return s3_fail(c, TS_E_MALFORMED_POLICY, "Policies must be valid JSON");
    if (pol_validate((const char *)c->r->body, c->r->body_len, err, sizeof err) != TS_OK)
        return err[0] ? s3_fail(c, TS_E_MALFORMED_POLICY, err) : TS_E_MALFORMED_POLICY;
    int rc = gw_bucket_check(c);
    policy_blob(c->bucket, name, sizeof name);
    if (rc == TS_OK)
        rc = iam_blob_put(gw_iam(c->st->gw), name, c->r->body, c->r->body_len);
    return s3_reply_done(c, rc, 204);
}

static int gw_get_bucket_policy(struct s3_ctx *c)
{
    char name[128];
    void *json = NULL;
    size_t len = 0;
    policy_blob(c->bucket, name, sizeof name);
    int rc = gw_blob_get(c->st->gw, name, &json, &len);
    if (rc == TS_OK && json == NULL)
        return TS_E_NO_SUCH_BUCKET_POLICY;
    if (rc != TS_OK)
        return rc;
    return http_reply_data(c->r, 200, "application/json", json, len, true);
}

static int gw_delete_bucket_policy(struct s3_ctx *c)
{
    char name[128];
    policy_blob(c->bucket, name, sizeof name);
    return s3_reply_done(c, iam_blob_put(gw_iam(c->st->gw), name, "", 0), 204);
}

int s3_gw_cors_get(struct gw *g, const char *bucket, void **doc, size_t *len)
{
    char name[128];
    cors_blob(bucket, name, sizeof name);
    return gw_blob_get(g, name, doc, len);
}

static int gw_put_bucket_cors(struct s3_ctx *c)
{
    char name[128], *doc = NULL;
    size_t len = 0;
    int rc = s3_cors_body(c, &doc, &len);
    if (rc == TS_OK)
        rc = gw_bucket_check(c);
    cors_blob(c->bucket, name, sizeof name);
    if (rc == TS_OK)
        rc = iam_blob_put(gw_iam(c->st->gw), name, doc, len);
    free(doc);
    return s3_reply_done(c, rc, 200);
}

static int gw_get_bucket_cors(struct s3_ctx *c)
{
    void *doc = NULL;
    size_t len = 0;
    int rc = s3_gw_cors_get(c->st->gw, c->bucket, &doc, &len);
    if (rc == TS_OK && doc == NULL)
        return TS_E_NO_SUCH_CORS;
    if (rc != TS_OK)
        return rc;
    return http_reply_data(c->r, 200, "application/xml", doc, len, true);
}

static int gw_delete_bucket_cors(struct s3_ctx *c)
{
    char name[128];
    cors_blob(c->bucket, name, sizeof name);
    return s3_reply_done(c, iam_blob_put(gw_iam(c->st->gw), name, "", 0), 204);
}

/* DeleteBucket: forwarded; once the upstream deleted it, its policy and CORS rules go too. */
static int gw_delete_bucket(struct s3_ctx *c)
{
    char name[128];
    int rc = gw_forward(c);
    if (rc == TS_OK && http_reply_status(c->r, NULL) == 204) {
        policy_blob(c->bucket, name, sizeof name);
        if (iam_blob_put(gw_iam(c->st->gw), name, "", 0) != TS_OK)
            log_event(LOG_ERROR, "gateway.policy", "cannot drop the policy of %s", c->bucket);
        cors_blob(c->bucket, name, sizeof name);
        if (iam_blob_put(gw_iam(c->st->gw), name, "", 0) != TS_OK)
            log_event(LOG_ERROR, "gateway.cors", "cannot drop the CORS rules of %s", c->bucket);
    }
    return rc;
}

/* ---- DeleteObjects: authorized per key ---- */

static void delete_error(struct buf *b, const char *key, const char *vid, int err)
{
    xml_open(b, "Error", NULL);
    xml_elem(b, "Key", key);
    if (vid)
        xml_elem(b, "VersionId", vid);
    xml_elem(b, "Code", ts_err_code(err));
    xml_elem(b, "Message", ts_err_message(err));
    xml_close(b, "Error");
}

/* Splits the request's <Delete> into the part the caller may delete (allowed: a new <Delete>
 * document) and the AccessDenied <Error> entries of the rest (denied). *nallowed, *ndenied. */
static int delete_split(struct s3_ctx *c, struct xml_node *x, struct buf *allowed,
                        struct buf *denied, size_t *nallowed, size_t *ndenied)
{
    const char *quiet = xml_child_text(x, "Quiet");
    *nallowed = *ndenied = 0;
    xml_begin(allowed);
    xml_open(allowed, "Delete", S3_XMLNS);
    if (quiet)
        xml_elem(allowed, "Quiet", quiet);
    for (struct xml_node *n = x->child; n; n = n->next) {
        const char *key = xml_child_text(n, "Key"), *vid = xml_child_text(n, "VersionId");
        if (strcmp(n->name, "Object") != 0)
            continue;
        if (key == NULL || obj_check_key(key) != TS_OK || s3_gw_check_id(vid) != TS_OK)
            return TS_E_MALFORMED_XML;
        const char *action = vid ? "s3:DeleteObjectVersion" : "s3:DeleteObject";
        /* The bypass header goes to the upstream (signed with the gateway's keys): each key
         * needs s3:BypassGovernanceRetention too, as in the store. */
        if (s3_authorize(c, action, c->bucket, key, false) != TS_OK ||
            (s3_lock_bypass_asked(c) &&
             s3_authorize(c, "s3:BypassGovernanceRetention", c->bucket, key, false) != TS_OK)) {
            delete_error(denied, key, vid, TS_E_ACCESS_DENIED);
            (*ndenied)++;
            continue;
        }
        xml_open(allowed, "Object", NULL);
        xml_elem(allowed, "Key", key);
        if (vid)
            xml_elem(allowed, "VersionId", vid);
        xml_close(allowed, "Object");
        (*nallowed)++;
    }
    xml_close(allowed, "Delete");
    return *nallowed + *ndenied == 0 || *nallowed + *ndenied > 1000 ? TS_E_MALFORMED_XML : TS_OK;
}

/* Sends the allowed part (a body the gateway wrote: its own Content-MD5) and answers the
 * upstream's DeleteResult with the denied keys' errors added. */
static int delete_forward(struct s3_ctx *c, struct buf *allowed, struct buf *denied)
{
    uint8_t md5[16];
    char *b64 = NULL, emsg[400];
    struct buf out;
    enc_md5(buf_str(allowed), buf_len(allowed), md5);
    int rc = gw_build(c, "POST", true, &c->x);
    if (rc == TS_OK &&
        ((b64 = enc_b64(md5, 16)) == NULL ||
         (rc = gw_xfer_header(c->x, "content-md5", b64)) != TS_OK ||
         (rc = gw_xfer_body_data(c->x, buf_str(allowed), buf_len(allowed))) != TS_OK))
        rc = rc ? rc : TS_E_INTERNAL;
    free(b64);
    if (rc == TS_OK)
        rc = gw_xfer_submit(c->x);
    if (rc != TS_OK || buf_len(denied) == 0)
        return rc == TS_OK ? relay(c) : rc;
    struct gw_resp rs;
    gw_xfer_wait(c->x, &rs);
    if (rs.err != TS_OK)
        return s3_fail(c, rs.err, rs.msg);
    if (rs.status != 200)
        return relay_error(c, &rs);
    buf_init(&out, GW_LIST_MAX + 64 * 1024);
    if ((rc = gw_xfer_read_all(c->x, &out, GW_LIST_MAX, emsg, sizeof emsg)) != TS_OK) {
        buf_free(&out);
        return s3_fail(c, rc, emsg);
    }
    char *end = strstr(buf_str(&out), "</DeleteResult>");
    if (end == NULL) {
        buf_free(&out);
        return s3_fail(c, TS_E_BAD_GATEWAY, "The upstream's DeleteResult does not parse.");
    }
    struct buf res;
    buf_init(&res, GW_LIST_MAX + 128 * 1024);
    buf_add(&res, buf_str(&out), (size_t)(end - buf_str(&out)));
    buf_add(&res, buf_str(denied), buf_len(denied));
    buf_adds(&res, end);
    buf_free(&out);
    return s3_reply_xml(c, 200, &res);
}

static int gw_delete_objects(struct s3_ctx *c)
{
    struct buf allowed, denied;
    size_t na, nd;
    struct xml_node *x = s3_body_xml(c);
    if (x == NULL || strcmp(x->name, "Delete") != 0) {
        xml_free(x);
        return TS_E_MALFORMED_XML;
    }
    buf_init(&allowed, OBJ_MAX_XML_BODY * 2);
    buf_init(&denied, OBJ_MAX_XML_BODY * 2);
    int rc = delete_split(c, x, &allowed, &denied, &na, &nd);
    xml_free(x);
    if (rc == TS_OK && na == 0) { /* nothing to send: answered here */
        struct buf b;
        s3_xml_start(&b, OBJ_MAX_XML_BODY * 2, "DeleteResult");
        buf_add(&b, buf_str(&denied), buf_len(&denied));
        xml_close(&b, "DeleteResult");
        rc = s3_reply_xml(c, 200, &b);
    } else if (rc == TS_OK) {
        rc = delete_forward(c, &allowed, &denied);
    }
    buf_free(&allowed);
    buf_free(&denied);
    return rc;
}

/* ---- the route's phases in gateway mode ---- */

/* Public access blocks and the policy status are about the policies tessera keeps and decides
 * with: the upstream's would say nothing true of them, so the gateway refuses them. (ACLs pass
 * through, authorized with their actions; an upstream's ACL grants nothing through the gateway,
 * whose decisions are tessera's policies alone.) */
static int gw_refused(struct s3_ctx *c)
{
    return s3_fail(c, TS_E_NOT_IMPLEMENTED,
                   "Public access blocks and policy status are not implemented by the gateway: "
                   "it decides with tessera's policies only.");
}

/* Operations the gateway answers itself (on the route's workers: they wait on the upstream
 * or the IAM store); every other one is forwarded (gw_forward_async). */
static const struct {
    s3_handler *local, *gw;
} gw_own[] = {
    {s3_list_buckets, gw_list_buckets},
    {s3_put_bucket_policy, gw_put_bucket_policy},
    {s3_get_bucket_policy, gw_get_bucket_policy},
    {s3_delete_bucket_policy, gw_delete_bucket_policy},
    {s3_put_bucket_cors, gw_put_bucket_cors},
    {s3_get_bucket_cors, gw_get_bucket_cors},
    {s3_delete_bucket_cors, gw_delete_bucket_cors},
    {s3_delete_bucket, gw_delete_bucket},
    {s3_delete_objects, gw_delete_objects},
    {s3_put_pab, gw_refused},
    {s3_get_pab, gw_refused},
    {s3_delete_pab, gw_refused},
    {s3_get_policy_status, gw_refused},
};

static s3_handler *gw_own_handler(const struct s3_ctx *c)
{
    for (size_t i = 0; i < sizeof gw_own / sizeof *gw_own; i++)
        if (c->op->finish == gw_own[i].local)
            return gw_own[i].gw;
    return NULL;
}

bool s3_gw_blocking(const struct s3_ctx *c)
{
    return gw_own_handler(c) != NULL;
}

/* The upstream's answer is ready (gateway thread, or the HTTP thread when it was at once):
 * relay it and end the request. */
static void forward_answer(void *arg)
{
    struct s3_ctx *c = arg;
    c->e = &c->aerr; /* the finish phase's error object is gone */
    int rc = relay(c);
    http_req_done(c->r, rc, rc == TS_OK ? NULL : ts_error_msg(&c->aerr));
}

/* The plain forward without waiting: the HTTP thread hands the request over (HTTP_PENDING)
 * and the answer is relayed when it comes. */
static int gw_forward_async(struct s3_ctx *c)
{
    int rc = TS_OK;
    if (c->x != NULL)
        gw_xfer_verified(c->x); /* every check of the body passed: its last byte may go */
    else
        rc = gw_send_buffered(c);
    if (rc != TS_OK)
        return rc;
    memset(&c->aerr, 0, sizeof c->aerr);
    gw_xfer_on_answer(c->x, forward_answer, c);
    return HTTP_PENDING;
}

int s3_gw_finish(struct s3_ctx *c)
{
    s3_handler *own = gw_own_handler(c);
    return own != NULL ? own(c) : gw_forward_async(c);
}

void s3_gw_cleanup(struct s3_ctx *c)
{
    gw_xfer_detach(c->x);
    c->x = NULL;
}
