/* s3_route.c -- the S3 route (everything no earlier route took): path-style addressing
 * /{bucket}/{key}, operation lookup in the s3_ops table (route->resolve, which declares what
 * the authz phase checks before the body), and the helpers the handlers share. */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cfg.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/xml.h"
#include "policy/pol.h"

/* The names of the request besides its bucket and key, each checked with the store's rules
 * (obj_int.h, names.c) before anything is authorized or looked up: the upload id, the part
 * number, a version id, and the copy source with its own version id and range. */
static int s3_check_names(struct s3_ctx *c)
{
    struct http_req *r = c->r;
    int rc = TS_OK;
    if (c->op->flags & S3_F_UPLOAD) { /* the upstream's ids have the upstream's form */
        const char *id = http_req_query(r, "uploadId");
        rc = c->st->gw == NULL                           ? obj_check_upload_id(id)
             : id == NULL || s3_gw_check_id(id) != TS_OK ? TS_E_NO_SUCH_UPLOAD
                                                         : TS_OK;
    }
    if (rc == TS_OK && (c->op->flags & S3_F_PART) &&
        obj_check_part_number(http_req_query(r, "partNumber"), &c->part) != TS_OK)
        return s3_fail(c, TS_E_INVALID_ARGUMENT,
                       "Part number must be an integer between 1 and 10000, inclusive");
    if (rc == TS_OK && c->key != NULL) {
        c->vid = http_req_query(r, "versionId");
        rc = s3_check_version_id(c, c->vid);
        if (rc == TS_E_INVALID_ARGUMENT)
            return s3_fail(c, rc, "Invalid version id specified");
    }
    if (rc == TS_OK && (c->op->flags & S3_F_COPY))
        rc = s3_copy_source_parse(c);
    if (rc == TS_OK && (c->op->flags & S3_F_COPY) && (c->op->flags & S3_F_PART)) {
        const char *range = http_req_header(r, "x-amz-copy-source-range");
        /* Both ends are required here (bytes=first-last); the source's size is checked when
         * it is read. */
        if (range != NULL) {
            if (!s3_range_parse(range, &c->cs_range) || !c->cs_range.has_first ||
                !c->cs_range.has_last)
                rc = s3_fail(c, TS_E_INVALID_ARGUMENT, S3_MSG_COPY_RANGE);
            else
                c->has_cs_range = true;
        }
    }
    return rc;
}

/* Request headers that ask for something tessera does not do. Never drop what a client asked
 * for: a request carrying one is refused with 501 NotImplemented naming the header, before any
 * body is read (docs/API.md "Refused headers"), unless its value is the one listed as
 * `accepted` (what tessera does anyway: the standard storage class).
 * Prefixes and values, any case. */
static const struct {
    const char *prefix, *what, *accepted;
    bool form_only; /* a PostObject field only (as a header it is taken: s3_lock.c) */
} refused_headers[] = {
    {"x-amz-object-lock-", "object lock in browser POST uploads is not implemented", NULL, true},
    {"x-amz-storage-class", "storage classes other than STANDARD are not implemented", "STANDARD",
     false},
};

static int refused(const char *name, const char *value, struct ts_error *e, bool header)
{
    for (size_t i = 0; i < sizeof refused_headers / sizeof *refused_headers; i++) {
        const char *p = refused_headers[i].prefix, *ok = refused_headers[i].accepted;
        if (header && refused_headers[i].form_only)
            continue;
        if (strncasecmp(name, p, strlen(p)) == 0 &&
            (ok == NULL || value == NULL || strcasecmp(value, ok) != 0))
            return ts_error_set(e, TS_E_NOT_IMPLEMENTED, "%.64s: %s by this server.", name,
                                refused_headers[i].what);
    }
    return TS_OK;
}

int s3_refused(const char *name, const char *value, struct ts_error *e)
{
    return refused(name, value, e, false);
}

static int refused_hdr(void *ctx, const char *name, const char *value)
{
    return refused(name, value, ctx, true) != TS_OK;
}

/* TS_E_NOT_IMPLEMENTED (its message in e) when r carries one of refused_headers. */
static int s3_check_refused_headers(struct http_req *r, struct ts_error *e)
{
    e->code = TS_OK;
    http_req_header_foreach(r, refused_hdr, e);
    return e->code;
}

/* route->resolve: the bucket and key of the path, the operation of the s3_ops table, every
 * name checked, and the authorization the operation asks for (s3_authz_declare). */
static void s3_cleanup(struct http_req *r);

static int s3_resolve(struct http_req *r, struct ts_error *e)
{
    struct s3_ctx *c;
    enum s3_scope scope = S3_SVC;
    int rc;
    if (r->hctx != NULL) { /* the second round, once the body is in (S3_F_TAGBODY) */
        s3_cleanup(r);
        r->hctx = NULL;
    }
    if ((c = calloc(1, sizeof *c)) == NULL)
        return TS_E_INTERNAL;
    r->hctx = c;
    c->r = r;
    c->e = e;
    c->st = r->route->ctx;
    if (r->path == NULL || r->path[0] != '/')
        return TS_E_INVALID_URI;
    const char *p = r->path + 1, *slash = strchr(p, '/');
    size_t blen = slash ? (size_t)(slash - p) : strlen(p);
    if (blen) {
        free(r->bucket);
        r->bucket = strndup(p, blen);
        if (r->bucket == NULL)
            return TS_E_INTERNAL;
        c->bucket = r->bucket;
        scope = S3_BKT;
        if (slash && slash[1]) {
            free(r->key);
            r->key = strdup(slash + 1);
            if (r->key == NULL)
                return TS_E_INTERNAL;
            c->key = r->key;
            scope = S3_OBJ;
        }
    }
    size_t rl = 2 + blen + (c->key ? strlen(c->key) + 1 : 0);
    c->resource = malloc(rl + 1);
    if (c->resource == NULL)
        return TS_E_INTERNAL;
    snprintf(c->resource, rl + 1, "/%s%s%s", c->bucket ? c->bucket : "", c->key ? "/" : "",
             c->key ? c->key : "");
    r->resource = c->resource;
    /* Every name is checked here, with the rules the store applies (obj_int.h), before the
     * operation is authorized or anything is looked up. */
    rc = c->key ? obj_check_key(c->key) : TS_OK;
    if (rc == TS_E_INVALID_URI)
        return s3_fail(c, rc, "Object keys must be valid UTF-8.");
    if (rc == TS_OK && c->bucket && obj_check_bucket(c->bucket) != TS_OK)
        return s3_fail(c, TS_E_INVALID_BUCKET_NAME,
                       "The specified bucket is not valid: a bucket name is 3 to 63 letters, "
                       "digits, dots, hyphens and underscores.");
    if (rc != TS_OK)
        return rc;
    c->op = s3_op_find(r, scope);
    if (c->op == NULL)
        return TS_E_METHOD_NOT_ALLOWED;
    if (strcmp(c->op->name, "CreateBucket") == 0 && obj_bucket_name_reserved(c->bucket))
        return s3_fail(c, TS_E_INVALID_BUCKET_NAME,
                       "The specified bucket is not valid: the name tessera is reserved for the "
                       "admin API's paths (/tessera/admin/).");
    rc = s3_check_names(c);
    if (rc == TS_OK && c->st->gw != NULL && (c->op->flags & S3_F_FORM))
        return s3_fail(c, TS_E_NOT_IMPLEMENTED,
                       "Browser POST uploads are not implemented by the gateway: the upstream "
                       "would need a policy signed with its own keys.");
    if (rc == TS_OK)
        rc = s3_sse_request(c); /* SSE-C without TLS: refused by both backends */
    if (c->st->gw != NULL)      /* what tessera's store refuses, the upstream may do */
        return rc == TS_OK ? s3_authz_declare(c) : rc;
    if (rc == TS_OK)
        rc = s3_check_refused_headers(r, e);
    if (rc == TS_OK && (c->op->flags & S3_F_CONDWRITE))
        rc = s3_precond_parse(c);
    if (rc == TS_OK && c->bucket != NULL && !(c->op->flags & S3_F_CREATE))
        rc = obj_bucket_exists(c->st, c->bucket); /* the existence rule (s3_existence) */
    return rc == TS_OK ? s3_authz_declare(c) : rc;
}

/* The one rule of what a caller learns about existence in the embedded store, for every
 * operation of the table (docs/API.md "Missing buckets and keys"), as S3 does:
 * - a bucket that does not exist is 404 NoSuchBucket for every authenticated or anonymous
 *   caller, whatever its rights: checked by s3_resolve before the authz phase (an error while
 *   checking is a 500, never an allow);
 * - a key (or a version: NoSuchVersion) that does not exist is 404 NoSuchKey only for a caller
 *   allowed the operation (the
 *   authz phase decided that before anything was looked up) AND allowed s3:ListBucket on the
 *   key's bucket (the copy source's for a copy), asked of the same authorizer now; anyone else
 *   is answered 403 AccessDenied, as a denial, so a missing key and a key it may not read look
 *   alike to it. Any error of that question denies.
 * Applied to what start and finish return, so that no handler decides it. */
int s3_existence(struct s3_ctx *c, int rc)
{
    if (rc != TS_E_NO_SUCH_KEY && rc != TS_E_NO_SUCH_VERSION)
        return rc;
    const char *bucket = (c->op->flags & S3_F_COPY) ? c->src_bucket : c->bucket;
    if (c->existence_known ||
        (bucket != NULL && s3_authorize(c, "s3:ListBucket", bucket, NULL, false) == TS_OK)) {
        c->existence_known = true;
        return rc;
    }
    return c->e != NULL ? ts_error_set(c->e, TS_E_ACCESS_DENIED, NULL) : TS_E_ACCESS_DENIED;
}

/* The object checked (S3_F_OBJECT; the bucket was, by s3_resolve), once the operation is
 * authorized. */
static int s3_check_target(struct s3_ctx *c)
{
    int rc = TS_OK;
    if (c->op->flags & S3_F_OBJECT) {
        struct obj_meta m;
        rc = obj_version_head(c->st, c->bucket, c->key, c->vid, &m);
        if (rc == TS_OK || rc == TS_E_METHOD_NOT_ALLOWED)
            obj_meta_cleanup(&m);
    }
    return rc;
}

/* route->start, once the authz phase allowed the operation: s3_check_target, then the
 * operation's own start; what it answers about a missing key goes through s3_existence. An
 * S3_F_TAGBODY operation is decided only once its body is in: its start does nothing, and the
 * target is checked in finish. */
static int s3_start(struct http_req *r, struct ts_error *e)
{
    struct s3_ctx *c = r->hctx;
    if (c == NULL || c->op == NULL)
        return TS_E_INTERNAL;
    c->e = e;
    if (c->op->flags & S3_F_TAGBODY)
        return TS_OK;
    if (c->st->gw != NULL)
        return s3_gw_start(c);
    int rc = s3_check_target(c);
    if (rc == TS_OK && (c->op->flags & S3_F_ACLHDR))
        rc = s3_acl_write_prepare(c, NULL);
    if (rc == TS_OK && (c->op->flags & S3_F_LOCKHDR))
        rc = s3_lock_prepare(c);
    if (rc == TS_OK && c->op->start != NULL)
        rc = c->op->start(c);
    return s3_existence(c, rc);
}

/* route->finish: the operation replied (TS_OK) or returns the error the server answers
 * (through s3_existence). */
static int s3_finish(struct http_req *r, struct ts_error *e)
{
    struct s3_ctx *c = r->hctx;
    c->e = e;
    bool tagbody = (c->op->flags & S3_F_TAGBODY) != 0;
    int rc = tagbody && c->st->gw == NULL ? s3_existence(c, s3_check_target(c)) : TS_OK;
    if (rc == TS_OK && tagbody)
        rc = s3_tags_body(c);
    if (rc != TS_OK)
        return rc;
    return c->st->gw != NULL ? s3_gw_finish(c) : s3_existence(c, c->op->finish(c));
}

static void s3_cleanup(struct http_req *r)
{
    struct s3_ctx *c = r->hctx; /* set: the core calls cleanup only then */
    s3_gw_cleanup(c);
    for (size_t i = 0; i < HTTP_AUTHZ_MAX_ITEMS; i++)
        free(c->arn[i]);
    s3_post_free(c->post);
    obj_writer_free(c->w);
    if (c->ck != NULL)
        sigv4_cksum_free(c->ck);
    free(c->ck);
    http_kv_free(c->tags, c->ntags);
    http_kv_free(c->cond, c->ncond);
    free(c->src_bucket);
    free(c->src_key);
    free(c->src_vid);
    free(c->wowner);
    if (r->resource == c->resource)
        r->resource = NULL;
    free(c->resource);
    free(c);
}

/* Requests that change the store end in fsyncs (data file, directory, metadata commit): they
 * finish on the route's worker threads (S3_WRITE_WORKERS), so that the HTTP threads keep
 * serving reads and more writes overlap their syncs; the metadata commits of concurrent
 * writes are grouped (obj_int_group_commit). Reads stay on the HTTP threads. */
static bool s3_blocking(struct http_req *r)
{
    const struct s3_ctx *c = r->hctx;
    if (c != NULL && c->op != NULL && c->st->gw != NULL)
        return s3_gw_blocking(c);
    return c != NULL && c->op != NULL && strcmp(r->method, "GET") != 0 &&
           strcmp(r->method, "HEAD") != 0;
}

/* No match hook: the route of everything no earlier route took. */
static const struct http_route s3_route =
    HTTP_ROUTE("s3", HTTP_ERR_S3, OBJ_MAX_XML_BODY, .prepare = s3_cors_prepare,
               .resolve = s3_resolve, .start = s3_start, .finish = s3_finish, .cleanup = s3_cleanup,
               .blocking = s3_blocking, .workers = S3_WRITE_WORKERS);

void obj_route_init(struct http_route *route, struct obj_store *st, struct pol_engine *pe)
{
    st->pe = pe;
    snprintf(st->region, sizeof st->region, "%s", cfg_str(CFG_REGION)); /* the one SigV4 uses */
    *route = s3_route;
    route->ctx = st;
}

int obj_gateway_route_init(struct http_route *route, struct gw *gw, struct pol_engine *pe,
                           struct obj_store **out)
{
    struct obj_store *st = calloc(1, sizeof *st);
    if ((*out = st) == NULL)
        return TS_E_INTERNAL;
    st->gw = gw;
    obj_route_init(route, st, pe);
    route->workers = S3_GATEWAY_WORKERS;
    return TS_OK;
}

void obj_gateway_free(struct obj_store *st)
{
    free(st);
}

/* ---- helpers ---- */

int s3_fail(struct s3_ctx *c, int err, const char *msg)
{
    return c->e != NULL ? ts_error_set(c->e, err, "%s", msg) : err;
}

int s3_reply_xml(struct s3_ctx *c, int status, struct buf *b)
{
    size_t len;
    if (buf_failed(b))
        return TS_E_INTERNAL;
    char *data = buf_take(b, &len);
    if (data == NULL)
        return TS_E_INTERNAL;
    return http_reply_data(c->r, status, "application/xml", data, len, true);
}

int s3_reply_empty(struct s3_ctx *c, int status)
{
    return http_reply_data(c->r, status, NULL, NULL, 0, false);
}

int s3_reply_done(struct s3_ctx *c, int rc, int status)
{
    return rc != TS_OK ? rc : s3_reply_empty(c, status);
}

void s3_xml_start(struct buf *b, size_t max, const char *root)
{
    buf_init(b, max);
    xml_begin(b);
    xml_open(b, root, S3_XMLNS);
}

int s3_reply_copy_result(struct s3_ctx *c, const char *root, int64_t mtime, const char *etag)
{
    struct buf b;
    char t[32];
    s3_xml_start(&b, 4096, root);
    enc_time_iso8601((time_t)mtime, t);
    xml_elem(&b, "LastModified", t);
    xml_elemf(&b, "ETag", "\"%s\"", etag);
    xml_close(&b, root);
    return s3_reply_xml(c, 200, &b);
}

const char *s3_owner_of(const struct s3_ctx *c)
{
    const struct pol_principal *p = c->r->principal;
    if (p == NULL)
        return NULL;
    switch (p->type) {
    case POL_PRINCIPAL_ROOT:
        return OBJ_OWNER_ROOT;
    case POL_PRINCIPAL_USER:
        return p->arn;
    case POL_PRINCIPAL_TEMP:
        if (p->role_arn != NULL)
            return p->role_arn; /* every session of the role */
        if (p->source != NULL && strcmp(p->source, "root") == 0)
            return OBJ_OWNER_ROOT;
        return p->arn; /* the parent user's ARN, or the federated user's (one per identity) */
    case POL_PRINCIPAL_SVC:
        return p->arn; /* its parent's ARN, as the parent's own sessions */
    case POL_PRINCIPAL_ANONYMOUS:
        break;
    }
    return NULL;
}

void s3_canonical_id(const char *owner, char id[65])
{
    if (owner == NULL || strcmp(owner, OBJ_OWNER_ROOT) == 0) {
        snprintf(id, 65, "%s", S3_OWNER_ID);
    } else {
        uint8_t md[32];
        enc_sha256(owner, strlen(owner), md);
        enc_hex(md, sizeof md, id);
    }
}

void s3_xml_owner_ids(struct buf *b, const char *owner)
{
    char id[65];
    const char *colon = owner != NULL ? strrchr(owner, ':') : NULL;
    s3_canonical_id(owner, id);
    xml_elem(b, "ID", id);
    if (owner == NULL || strcmp(owner, OBJ_OWNER_ROOT) == 0)
        xml_elem(b, "DisplayName", S3_OWNER_NAME);
    else
        xml_elem(b, "DisplayName", colon != NULL ? colon + 1 : owner);
}

void s3_xml_owner_as(struct buf *b, const char *elem, const char *owner)
{
    xml_open(b, elem, NULL);
    s3_xml_owner_ids(b, owner);
    xml_close(b, elem);
}

void s3_xml_owner(struct buf *b, const char *elem)
{
    s3_xml_owner_as(b, elem, OBJ_OWNER_ROOT);
}

int s3_body_md5_check(struct s3_ctx *c)
{
    const char *md5 = http_req_header(c->r, "Content-MD5");
    uint8_t want[64], got[16];
    if (md5 == NULL)
        return TS_OK;
    size_t n = strlen(md5);
    if (n > 64 || enc_unb64(md5, n, want) != 16)
        return TS_E_INVALID_DIGEST;
    enc_md5(c->r->body ? c->r->body : (const uint8_t *)"", c->r->body_len, got);
    return memcmp(want, got, 16) == 0 ? TS_OK : TS_E_BAD_DIGEST;
}

struct xml_node *s3_body_xml(struct s3_ctx *c)
{
    if (c->r->body == NULL || c->r->body_len == 0)
        return NULL;
    return xml_parse((const char *)c->r->body, c->r->body_len);
}

const char *s3_content_encoding(const char *value, char *out, size_t n)
{
    /* aws-chunked is the transfer framing, not the object's encoding. */
    const char *p = value;
    size_t used = 0;
    out[0] = 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *t = p;
        while (t < p + len && *t == ' ')
            t++;
        size_t tl = (size_t)(p + len - t);
        if (tl > 0 && strncasecmp(t, "aws-chunked", 11) != 0 && used + tl + 2 < n) {
            if (used)
                out[used++] = ',';
            memcpy(out + used, t, tl);
            out[used += tl] = 0;
        }
        p += len + (p[len] == ',');
    }
    return out;
}

void s3_version_header(struct s3_ctx *c, const struct obj_meta *m)
{
    if (m->vid[0])
        http_reply_header(c->r, "x-amz-version-id", m->vid);
}

int s3_check_version_id(const struct s3_ctx *c, const char *v)
{
    return c->st->gw != NULL ? s3_gw_check_id(v) : obj_check_version_id(v);
}

struct meta_walk {
    struct obj_meta *m;
    int rc;
};

static const char *const kept_headers[] = {"cache-control", "content-disposition",
                                           "content-language", "expires"};

int s3_meta_field(struct obj_meta *m, const char *name, const char *value)
{
    int rc = TS_OK;
    if (strncasecmp(name, "x-amz-meta-", 11) == 0) {
        /* Kept as UTF-8 text (RFC 2047 decoded); object_headers encodes it again. */
        struct buf t;
        buf_init(&t, 2 * strlen(value) + 1);
        rc = buf_add_header_text(&t, value) == 0 ? obj_meta_add_hdr(m, name, buf_str(&t))
                                                 : TS_E_INTERNAL;
        buf_free(&t);
    } else if (strcasecmp(name, "content-encoding") == 0) {
        char out[256];
        if (s3_content_encoding(value, out, sizeof out)[0])
            rc = obj_meta_add_hdr(m, "content-encoding", out);
    } else {
        for (size_t i = 0; i < sizeof kept_headers / sizeof *kept_headers; i++)
            if (strcasecmp(name, kept_headers[i]) == 0)
                rc = obj_meta_add_hdr(m, kept_headers[i], value);
    }
    return rc;
}

static int meta_hdr(void *ctx, const char *name, const char *value)
{
    struct meta_walk *mw = ctx;
    mw->rc = s3_meta_field(mw->m, name, value);
    return mw->rc != TS_OK;
}

int s3_meta_from_req(struct s3_ctx *c, struct obj_meta *m)
{
    struct meta_walk mw = {m, TS_OK};
    const char *ct = http_req_header(c->r, "Content-Type");
    if (ct && *ct) {
        m->content_type = strdup(ct);
        if (m->content_type == NULL)
            return TS_E_INTERNAL;
    }
    http_req_header_foreach(c->r, meta_hdr, &mw);
    if (mw.rc == TS_OK)
        mw.rc = s3_acl_apply(c, m); /* checked by s3_acl_write_prepare */
    if (mw.rc == TS_OK)
        s3_lock_apply(c, m);           /* checked by s3_lock_prepare */
    if (mw.rc == TS_OK && c->has_tags) /* x-amz-tagging, checked by s3_tags_declare */
        mw.rc = obj_meta_set_tags(m, c->tags, c->ntags);
    if (mw.rc == TS_OK && c->r->checksum_algo[0] && c->r->checksum_b64[0]) {
        char name[48] = "x-amz-checksum-";
        strncat(name, c->r->checksum_algo, sizeof name - strlen(name) - 1);
        mw.rc = obj_meta_add_hdr(m, name, c->r->checksum_b64);
    }
    return mw.rc;
}

static int body_sink(void *ctx, const uint8_t *p, size_t n)
{
    struct s3_ctx *c = ctx;
    if (obj_writer_size(c->w) + n > c->max_size)
        return TS_E_ENTITY_TOO_LARGE;
    if (c->ck != NULL) /* a part of an upload with a checksum, sent without one */
        sigv4_cksum_update(c->ck, p, n);
    return obj_writer_write(c->w, p, n);
}

int s3_stream_body(struct s3_ctx *c, uint64_t max)
{
    struct http_req *r = c->r;
    const char *md5 = http_req_header(r, "Content-MD5");
    const char *dl = http_req_header(r, "x-amz-decoded-content-length");
    const char *te = http_req_header(r, "Transfer-Encoding");
    uint64_t len;
    if (md5) {
        uint8_t raw[64];
        size_t n = strlen(md5);
        if (n > 64 || enc_unb64(md5, n, raw) != 16)
            return TS_E_INVALID_DIGEST;
        memcpy(c->md5, raw, 16);
        c->has_md5 = true;
    }
    if (dl) {
        char *end;
        len = strtoull(dl, &end, 10);
        if (*dl == 0 || *end)
            return s3_fail(c, TS_E_INVALID_ARGUMENT, "Invalid x-amz-decoded-content-length.");
    } else if (r->has_content_length) {
        len = r->content_length;
    } else if (te && strcasestr(te, "chunked")) {
        len = 0;
    } else {
        return TS_E_MISSING_CONTENT_LENGTH;
    }
    if (len > max)
        return TS_E_ENTITY_TOO_LARGE;
    c->max_size = max;
    int rc = obj_writer_new(c->st, &c->w);
    if (rc == TS_OK)
        rc = s3_sse_writer(c);
    if (rc != TS_OK)
        return rc;
    http_req_set_sink(r, (struct http_sink){body_sink, c});
    return TS_OK;
}

int s3_finish_body(struct s3_ctx *c, char etag[48])
{
    uint8_t md5[16];
    int rc = obj_writer_finish(c->w, md5);
    if (rc != TS_OK)
        return rc;
    if (c->has_md5 && memcmp(md5, c->md5, 16) != 0)
        return TS_E_BAD_DIGEST;
    const char *dl = http_req_header(c->r, "x-amz-decoded-content-length");
    if (dl && strtoull(dl, NULL, 10) != obj_writer_size(c->w))
        return TS_E_INCOMPLETE_BODY;
    enc_hex(md5, 16, etag);
    return TS_OK;
}

void s3_etag_unquote(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '"' || s[n - 1] == ' '))
        s[--n] = 0;
    size_t i = 0;
    while (s[i] == '"' || s[i] == ' ')
        i++;
    memmove(s, s + i, n - i + 1);
}

/* Whether etag is in the comma-separated list of (possibly quoted, W/) ETags, or list is *. */
static bool etag_match(const char *list, const char *etag)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (strncmp(t, "W/", 2) == 0)
            t += 2;
        s3_etag_unquote(t);
        if (strcmp(t, "*") == 0 || strcmp(t, etag) == 0)
            return true;
    }
    return false;
}

int s3_conditions(const struct obj_meta *m, const char *if_match, const char *if_none_match,
                  const char *if_modified_since, const char *if_unmodified_since)
{
    time_t t;
    if (if_match) {
        if (!etag_match(if_match, m->etag))
            return TS_E_PRECONDITION_FAILED;
    } else if (if_unmodified_since && enc_time_parse_http(if_unmodified_since, &t) == 0 &&
               m->mtime > (int64_t)t) {
        return TS_E_PRECONDITION_FAILED;
    }
    if (if_none_match) {
        if (etag_match(if_none_match, m->etag))
            return TS_E_NOT_MODIFIED;
    } else if (if_modified_since && enc_time_parse_http(if_modified_since, &t) == 0 &&
               m->mtime <= (int64_t)t) {
        return TS_E_NOT_MODIFIED;
    }
    return TS_OK;
}

/* Reads a decimal number at *p (one digit at least), saturating at UINT64_MAX. */
static bool range_num(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
    }
    *p = s;
    *v = x;
    return true;
}

bool s3_range_parse(const char *h, struct s3_range *out)
{
    struct s3_range rg = {0};
    if (h == NULL || strncmp(h, "bytes=", 6) != 0)
        return false;
    h += 6;
    rg.has_first = range_num(&h, &rg.first);
    if (*h++ != '-')
        return false;
    rg.has_last = range_num(&h, &rg.last);
    if (*h != 0 || !(rg.has_first || rg.has_last))
        return false; /* trailing bytes, several ranges ("a-b,c-d"), or a lone "-" */
    if (rg.has_first && rg.has_last && rg.last < rg.first)
        return false; /* RFC 9110 14.1.1: an invalid byte-range-spec */
    *out = rg;
    return true;
}

int s3_range_resolve(const struct s3_range *rg, uint64_t size, uint64_t *first, uint64_t *last)
{
    uint64_t a, b;
    if (!rg->has_first) {
        /* bytes=-N: the last N bytes (all of them when N >= size). */
        if (rg->last == 0 || size == 0)
            return -1;
        a = rg->last >= size ? 0 : size - rg->last;
        b = size - 1;
    } else {
        if (rg->first >= size)
            return -1;
        a = rg->first;
        b = rg->has_last && rg->last < size ? rg->last : size - 1;
    }
    *first = a;
    *last = b;
    return 0;
}

int s3_query_uint(struct s3_ctx *c, const char *name, uint64_t def, uint64_t max, uint64_t *out)
{
    const char *v = http_req_query(c->r, name);
    char *end;
    if (v == NULL) {
        *out = def;
        return TS_OK;
    }
    if (*v < '0' || *v > '9')
        return TS_E_INVALID_ARGUMENT;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end)
        return TS_E_INVALID_ARGUMENT;
    *out = x > max ? max : x;
    return TS_OK;
}
