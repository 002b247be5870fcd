/* s3_object.c -- S3 object operations: PutObject, GetObject/HeadObject (ranges, conditions,
 * response-* overrides), DeleteObject, CopyObject. */
#include "objstore/s3_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/xml.h"
#include "policy/pol.h"

int s3_precond_parse(struct s3_ctx *c)
{
    const char *inm = http_req_header(c->r, "If-None-Match");
    const char *im = http_req_header(c->r, "If-Match");
    if (inm != NULL) {
        while (*inm == ' ' || *inm == '\t')
            inm++;
        size_t n = strcspn(inm, " \t");
        if (n != 1 || inm[0] != '*' || inm[n + strspn(inm + n, " \t")] != 0)
            return s3_fail(c, TS_E_NOT_IMPLEMENTED,
                           "A header you provided implies functionality that is not "
                           "implemented: If-None-Match other than *.");
    }
    c->pre = (struct obj_precond){.if_none_match_any = inm != NULL, .if_match = im};
    c->has_pre = inm != NULL || im != NULL;
    return TS_OK;
}

struct obj_precond *s3_precond(struct s3_ctx *c)
{
    return c->has_pre ? &c->pre : NULL;
}

/* A conditional PUT fails fast, before its body is read; the commit checks again. */
int s3_put_object_start(struct s3_ctx *c)
{
    int rc = obj_precond_early(c->st, c->bucket, c->key, s3_precond(c));
    if (rc == TS_OK)
        rc = s3_sse_decide(c);
    return rc == TS_OK ? s3_stream_body(c, OBJ_MAX_OBJECT_SIZE) : rc;
}

int s3_put_object(struct s3_ctx *c)
{
    struct obj_meta m = {0};
    char etag[48], q[64];
    int rc = s3_finish_body(c, etag);
    if (rc != TS_OK)
        return rc;
    rc = s3_meta_from_req(c, &m);
    if (rc == TS_OK) {
        memcpy(m.etag, etag, sizeof m.etag);
        m.mtime = (int64_t)enc_now();
        rc = obj_object_commit_if(c->st, c->bucket, c->key, c->w, &m, s3_precond(c));
    }
    if (rc == TS_OK) {
        snprintf(q, sizeof q, "\"%s\"", etag);
        http_reply_header(c->r, "ETag", q);
        s3_ck_headers(c, &m);
        s3_version_header(c, &m);
        s3_expiration_header(c, &m);
        if (obj_writer_encrypted(c->w))
            http_reply_header(c->r, OBJ_SSE_HDR, OBJ_SSE_ALGO);
        rc = s3_reply_empty(c, 200);
    }
    obj_meta_cleanup(&m);
    return rc;
}

static const struct {
    const char *kept, *header, *override;
} std_headers[] = {
    {"cache-control", "Cache-Control", "response-cache-control"},
    {"content-disposition", "Content-Disposition", "response-content-disposition"},
    {"content-encoding", "Content-Encoding", "response-content-encoding"},
    {"content-language", "Content-Language", "response-content-language"},
    {"expires", "Expires", "response-expires"},
};

/* The response-* query parameters that override a header of the answer. */
static bool has_overrides(struct s3_ctx *c)
{
    if (http_req_query(c->r, "response-content-type") != NULL)
        return true;
    for (size_t i = 0; i < sizeof std_headers / sizeof *std_headers; i++)
        if (http_req_query(c->r, std_headers[i].override) != NULL)
            return true;
    return false;
}

/* The headers of a GET or HEAD answer. The object's checksum describes the whole object: as S3,
 * it is sent only when the whole object is returned (not for a Range) and the request asked for
 * it (x-amz-checksum-mode: ENABLED); a client validating it against a part would fail. For
 * ?partNumber=N of a multipart object (part: its index, else -1) the part's checksum is sent
 * instead, when it has one. */
static void object_headers(struct s3_ctx *c, const struct obj_meta *m, bool whole, int part)
{
    char t[64];
    snprintf(t, sizeof t, "\"%s\"", m->etag);
    http_reply_header(c->r, "ETag", t);
    enc_time_http((time_t)m->mtime, t);
    http_reply_header(c->r, "Last-Modified", t);
    http_reply_header(c->r, "Accept-Ranges", "bytes");
    s3_version_header(c, m);
    s3_expiration_header(c, m);
    for (size_t i = 0; i < m->nhdrs; i++)
        if (strncmp(m->hdrs[i].key, "x-amz-meta-", 11) == 0) {
            /* UTF-8 text goes out RFC 2047-encoded: clients read header bytes as ISO-8859-1. */
            struct buf v;
            buf_init(&v, 3 * strlen(m->hdrs[i].value) + 16);
            if (buf_add_rfc2047(&v, m->hdrs[i].value) == 0)
                http_reply_header(c->r, m->hdrs[i].key, buf_str(&v));
            buf_free(&v);
        }
    for (size_t i = 0; i < sizeof std_headers / sizeof *std_headers; i++) {
        const char *v = http_req_query(c->r, std_headers[i].override);
        if (v == NULL)
            v = obj_meta_hdr(m, std_headers[i].kept);
        if (v)
            http_reply_header(c->r, std_headers[i].header, v);
    }
    if (m->ntags > 0) {
        snprintf(t, sizeof t, "%zu", m->ntags);
        http_reply_header(c->r, "x-amz-tagging-count", t);
    }
    s3_sse_echo(c, m);
    s3_lock_headers(c, m);
    const char *mode = http_req_header(c->r, "x-amz-checksum-mode");
    if (mode && strcasecmp(mode, "ENABLED") == 0) {
        if (part >= 0)
            s3_ck_headers_part(c, m, (size_t)part);
        else if (whole)
            s3_ck_headers(c, m);
    }
}

/* The bytes of part N (?partNumber=N) of m into [*a, *b] and *part (its index; -1 for an
 * object not uploaded in parts, which is one part): AWS's rules -- not with a Range
 * (InvalidRequest), N past the parts (InvalidPartNumber, 416). */
static int part_range(struct s3_ctx *c, const struct obj_meta *m, const char *pn, uint64_t *a,
                      uint64_t *b, int *part)
{
    unsigned want, number;
    uint64_t off = 0, size = m->size;
    const uint8_t *ck;
    char t[32];
    if (obj_check_part_number(pn, &want) != TS_OK)
        return s3_fail(c, TS_E_INVALID_ARGUMENT,
                       "Part number must be an integer between 1 and 10000, inclusive");
    if (http_req_header(c->r, "Range") != NULL)
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "Cannot specify both Range header and partNumber query parameter");
    if (want > (m->nparts ? m->nparts : 1))
        return TS_E_INVALID_PART_NUMBER;
    *part = -1;
    if (m->nparts == 0) {
        *a = 0;
        *b = m->size ? m->size - 1 : 0;
        return TS_OK;
    }
    for (size_t i = 0; i < want; i++) {
        obj_meta_part_get(m, i, &number, &size, &ck);
        if (i + 1 < want)
            off += size;
    }
    *a = off;
    *b = size ? off + size - 1 : off;
    snprintf(t, sizeof t, "%zu", m->nparts);
    http_reply_header(c->r, "x-amz-mp-parts-count", t);
    *part = (int)want - 1;
    return TS_OK;
}

/* The bytes a GET or HEAD answers: *a, *len, *status 200 (the whole object) or 206 with its
 * Content-Range (?partNumber=N: part_range; a Range), *part as part_range sets it. */
static int select_bytes(struct s3_ctx *c, const struct obj_meta *m, uint64_t *a, uint64_t *len,
                        int *status, int *part)
{
    struct s3_range rg;
    uint64_t b = m->size ? m->size - 1 : 0;
    char cr[96];
    const char *pn = http_req_query(c->r, "partNumber");
    if (pn != NULL) {
        int rc = part_range(c, m, pn, a, &b, part);
        if (rc != TS_OK)
            return rc;
    } else if (!s3_range_parse(http_req_header(c->r, "Range"), &rg)) {
        return TS_OK; /* none, or not one well-formed range: ignored (200, the whole object) */
    } else if (s3_range_resolve(&rg, m->size, a, &b) != 0) {
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)m->size);
        http_reply_header(c->r, "Content-Range", cr);
        return TS_E_INVALID_RANGE;
    }
    snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)*a, (unsigned long long)b,
             (unsigned long long)m->size);
    http_reply_header(c->r, "Content-Range", cr);
    *len = m->size ? b - *a + 1 : 0;
    *status = 206;
    return TS_OK;
}

int s3_missing_version(struct s3_ctx *c, int rc, struct obj_meta *m)
{
    char vid[OBJ_VID_LEN + 1], t[64];
    if (rc == TS_E_METHOD_NOT_ALLOWED) {
        http_reply_header(c->r, "x-amz-delete-marker", "true");
        s3_version_header(c, m);
        enc_time_http((time_t)m->mtime, t);
        http_reply_header(c->r, "Last-Modified", t);
        http_reply_header(c->r, "Allow", "DELETE");
        obj_meta_cleanup(m);
        return s3_fail(c, rc, "The specified method is not allowed against this resource.");
    }
    if (rc != TS_E_NO_SUCH_KEY || c->vid != NULL || s3_existence(c, rc) != TS_E_NO_SUCH_KEY)
        return rc;
    if (obj_version_current_dm(c->st, c->bucket, c->key, vid)) {
        http_reply_header(c->r, "x-amz-delete-marker", "true");
        http_reply_header(c->r, "x-amz-version-id", vid);
    }
    return rc;
}

/* An encrypted object's body streamed: the range decrypted chunk by chunk as the connection
 * takes it, after head (the bytes read before replying). */
struct get_stream {
    struct obj_reader *rd;
    char *head;
    size_t hlen, hoff;
    uint64_t off, left; /* what follows head */
};

static long get_stream_read(void *ctx, char *buf, size_t max)
{
    struct get_stream *g = ctx;
    if (g->hoff < g->hlen) {
        size_t k = g->hlen - g->hoff < max ? g->hlen - g->hoff : max;
        memcpy(buf, g->head + g->hoff, k);
        g->hoff += k;
        return (long)k;
    }
    if (g->left == 0)
        return HTTP_STREAM_END;
    size_t k = g->left < max ? (size_t)g->left : max;
    if (obj_reader_read(g->rd, g->off, buf, k) != TS_OK)
        return HTTP_STREAM_ERROR; /* a chunk that does not authenticate: the body is cut */
    g->off += k;
    g->left -= k;
    return (long)k;
}

static void get_stream_free(void *ctx)
{
    struct get_stream *g = ctx;
    obj_reader_free(g->rd);
    free(g->head);
    free(g);
}

/* Encrypted bodies up to this size are decrypted whole into one buffer (in place, no copy). */
#define S3_SSE_BUFFERED (1u << 20)

/* The body of a GET: bytes [a, a + len) of the object. Small ones (encrypted ones up to
 * S3_SSE_BUFFERED) are read into a buffer; larger plain ones go out with sendfile; larger
 * encrypted ones are streamed, their first chunk read before the status is sent, so that a
 * damaged file fails with 500 unless the damage is further in (the connection is then cut).
 * *fd is taken. */
static int get_body(struct s3_ctx *c, const struct obj_meta *m, int *fd, int status, const char *ct,
                    uint64_t a, uint64_t len)
{
    struct obj_reader *rd;
    int rc = obj_reader_new(c->st, m, *fd, &rd);
    *fd = -1;
    if (rc != TS_OK)
        return rc;
    bool enc = obj_reader_encrypted(rd);
    if (!enc && len > OBJ_SMALL_GET) {
        rc = http_reply_fd(c->r, status, ct, obj_reader_take_fd(rd), a, len);
        obj_reader_free(rd);
        return rc;
    }
    size_t first = len <= (enc ? S3_SSE_BUFFERED : OBJ_SMALL_GET)
                       ? (size_t)len
                       : OBJ_SSE_CHUNK - (size_t)(a % OBJ_SSE_CHUNK);
    char *buf = malloc(first ? first : 1);
    rc = buf == NULL ? TS_E_INTERNAL : obj_reader_read(rd, a, buf, first);
    struct get_stream *g = rc == TS_OK && first < len ? malloc(sizeof *g) : NULL;
    if (rc != TS_OK || (first < len && g == NULL)) {
        free(buf);
        obj_reader_free(rd);
        return rc == TS_OK ? TS_E_INTERNAL : rc;
    }
    if (first == len) {
        obj_reader_free(rd);
        return http_reply_data(c->r, status, ct, buf, len, true);
    }
    *g = (struct get_stream){rd, buf, first, 0, a + first, len - first};
    return http_reply_stream(c->r, status, ct, len, true, get_stream_read, g, get_stream_free);
}

int s3_get_object(struct s3_ctx *c)
{
    struct http_req *r = c->r;
    struct obj_meta m;
    int fd = -1;
    bool head = strcmp(r->method, "HEAD") == 0;
    const struct pol_principal *p = r->principal;
    /* As S3: an anonymous reader may not choose the Content-Type (or any other header) the
     * object is served with; a public object would otherwise become an HTML page of this
     * origin. */
    if ((p == NULL || p->type == POL_PRINCIPAL_ANONYMOUS) && has_overrides(c))
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "Request specific response headers cannot be used for anonymous "
                       "GET requests.");
    int rc = obj_version_open(c->st, c->bucket, c->key, c->vid, &m, &fd);
    if (rc != TS_OK)
        return s3_missing_version(c, rc, &m);
    rc = s3_conditions(&m, http_req_header(r, "If-Match"), http_req_header(r, "If-None-Match"),
                       http_req_header(r, "If-Modified-Since"),
                       http_req_header(r, "If-Unmodified-Since"));
    if (rc == TS_E_NOT_MODIFIED) {
        char t[64];
        snprintf(t, sizeof t, "\"%s\"", m.etag);
        http_reply_header(r, "ETag", t);
        enc_time_http((time_t)m.mtime, t);
        http_reply_header(r, "Last-Modified", t);
        rc = http_reply_data(r, 304, NULL, NULL, 0, false);
        goto out;
    }
    if (rc != TS_OK)
        goto out;
    uint64_t a = 0, len = m.size;
    int status = 200, part = -1;
    if ((rc = select_bytes(c, &m, &a, &len, &status, &part)) != TS_OK)
        goto out;
    object_headers(c, &m, status == 200 || (part == -1 && http_req_query(r, "partNumber")), part);
    const char *ct = http_req_query(r, "response-content-type");
    if (ct == NULL)
        ct = m.content_type ? m.content_type : "binary/octet-stream";
    if (head) {
        http_reply_header(r, "Content-Type", ct);
        rc = http_reply_head(r, status, len);
    } else {
        rc = get_body(c, &m, &fd, status, ct, a, len);
    }
out:
    if (fd >= 0)
        close(fd);
    obj_meta_cleanup(&m);
    return rc;
}

int s3_delete_object(struct s3_ctx *c)
{
    struct obj_del_res res;
    unsigned flags = s3_lock_bypass(c) ? OBJ_DEL_BYPASS_GOVERNANCE : 0; /* authorized (s3_ops.c) */
    int rc = obj_object_delete_version_flags(c->st, c->bucket, c->key, c->vid, flags, &res);
    if (rc != TS_OK)
        return s3_lock_denied(c, rc);
    if (res.dm)
        http_reply_header(c->r, "x-amz-delete-marker", "true");
    if (res.vid[0])
        http_reply_header(c->r, "x-amz-version-id", res.vid);
    return s3_reply_empty(c, 204);
}

/* ---- copies ---- */

int s3_copy_source_parse(struct s3_ctx *c)
{
    const char *h = http_req_header(c->r, "x-amz-copy-source");
    if (h == NULL)
        return TS_E_INVALID_ARGUMENT;
    size_t n = strcspn(h, "?");
    const char *q = h[n] == '?' ? h + n + 1 : NULL;
    int rc;
    /* The only query a copy source takes: ?versionId=, with the rule of the request's own. */
    if (q != NULL && (strncmp(q, "versionId=", 10) != 0 || s3_check_version_id(c, q + 10) != TS_OK))
        return TS_E_INVALID_ARGUMENT;
    c->src_versioned = q != NULL; /* s3:GetObjectVersion on the source (s3_authz_declare) */
    if (q != NULL && (c->src_vid = strdup(q + 10)) == NULL)
        return TS_E_INTERNAL;
    char *dec = malloc(n + 1);
    if (dec == NULL)
        return TS_E_INTERNAL;
    long dl = enc_url_decode(h, n, dec, false);
    if (dl < 0 || memchr(dec, 0, (size_t)dl)) {
        free(dec);
        return TS_E_INVALID_ARGUMENT;
    }
    dec[dl] = 0;
    char *p = dec[0] == '/' ? dec + 1 : dec, *slash = strchr(p, '/');
    if (slash == NULL || slash == p || slash[1] == 0) {
        free(dec);
        return TS_E_INVALID_ARGUMENT; /* must be sourcebucket/sourcekey */
    }
    *slash = 0;
    rc = obj_check_bucket(p);
    if (rc == TS_OK)
        rc = obj_check_key(slash + 1);
    if (rc == TS_E_INVALID_URI)
        rc = TS_E_INVALID_ARGUMENT; /* not UTF-8: in a header, not in the URI */
    if (rc == TS_OK) {
        c->src_bucket = strdup(p);
        c->src_key = strdup(slash + 1);
        if (c->src_bucket == NULL || c->src_key == NULL)
            rc = TS_E_INTERNAL;
    }
    free(dec);
    return rc;
}

int s3_copy_source(struct s3_ctx *c)
{
    if (c->src_bucket == NULL || c->src_key == NULL)
        return TS_E_INTERNAL; /* s3_copy_source_parse did not run: never look anything up */
    return TS_OK; /* s3:GetObject on the source was declared and decided in the authz phase */
}

int s3_copy_conditions(struct s3_ctx *c, const struct obj_meta *m)
{
    struct http_req *r = c->r;
    int rc = s3_conditions(m, http_req_header(r, "x-amz-copy-source-if-match"),
                           http_req_header(r, "x-amz-copy-source-if-none-match"),
                           http_req_header(r, "x-amz-copy-source-if-modified-since"),
                           http_req_header(r, "x-amz-copy-source-if-unmodified-since"));
    return rc == TS_E_NOT_MODIFIED ? TS_E_PRECONDITION_FAILED : rc;
}

int s3_copy_from_source(struct s3_ctx *c, s3_copy_body_fn body, void *arg)
{
    struct obj_meta src;
    struct obj_reader *rd = NULL;
    int fd = -1;
    int rc = obj_version_open(c->st, c->src_bucket, c->src_key, c->src_vid, &src, &fd);
    if (rc == TS_E_METHOD_NOT_ALLOWED) {
        obj_meta_cleanup(&src);
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "The source of a copy request may not specifically refer to a delete "
                       "marker by version id.");
    }
    if (rc != TS_OK)
        return rc;
    if (src.vid[0])
        http_reply_header(c->r, "x-amz-copy-source-version-id", src.vid);
    rc = s3_copy_conditions(c, &src);
    if (rc == TS_OK) {
        rc = obj_reader_new(c->st, &src, fd, &rd);
        fd = -1;
    }
    if (rc == TS_OK)
        rc = body(c, &src, rd, arg);
    obj_reader_free(rd);
    if (fd >= 0)
        close(fd);
    obj_meta_cleanup(&src);
    return rc;
}

int s3_copy_data(struct s3_ctx *c, struct obj_reader *rd, uint64_t off, uint64_t len, bool hash,
                 uint8_t md5[16])
{
    int rc = obj_writer_new(c->st, &c->w);
    if (rc == TS_OK)
        rc = s3_sse_writer(c);
    if (rc == TS_OK)
        rc = obj_writer_copy(c->w, rd, off, len, hash);
    if (rc == TS_OK)
        rc = obj_writer_finish(c->w, md5);
    return rc;
}

/* A copy's destination named by If-Match does not exist: NoSuchKey only for a caller allowed
 * s3:ListBucket on the destination's bucket too (s3_existence asks it of the source's). */
static int copy_dest_missing(struct s3_ctx *c, int rc)
{
    if (rc == TS_E_NO_SUCH_KEY && s3_authorize(c, "s3:ListBucket", c->bucket, NULL, false) != TS_OK)
        return c->e != NULL ? ts_error_set(c->e, TS_E_ACCESS_DENIED, NULL) : TS_E_ACCESS_DENIED;
    return rc;
}

static int copy_dest_early(struct s3_ctx *c)
{
    return copy_dest_missing(c, obj_precond_early(c->st, c->bucket, c->key, s3_precond(c)));
}

static int copy_object_body(struct s3_ctx *c, const struct obj_meta *src, struct obj_reader *rd,
                            void *arg)
{
    bool replace = *(const bool *)arg;
    struct obj_meta m = {0};
    uint8_t md5[16];
    /* Encryption is a change: a copy onto itself that asks for it is allowed (as S3). */
    if (!replace && !c->sse_asked && strcmp(c->src_bucket, c->bucket) == 0 &&
        strcmp(c->src_key, c->key) == 0) {
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "This copy request is illegal because it is trying to copy an object "
                       "to itself without changing the object's metadata, storage class, "
                       "website redirect location or encryption attributes.");
    }
    int rc = replace ? s3_meta_from_req(c, &m) : obj_meta_copy(&m, src);
    /* The copy is one piece: no parts, and no composite checksum (which names the parts). */
    if (rc == TS_OK)
        rc = obj_meta_set_parts(&m, 0, 0);
    for (size_t i = 0; rc == TS_OK && i < m.nhdrs; i++)
        if (sigv4_cksum_from_header(m.hdrs[i].key) != SIGV4_CK_NONE &&
            strchr(m.hdrs[i].value, '-') != NULL) {
            char name[32];
            snprintf(name, sizeof name, "%s", m.hdrs[i].key);
            obj_meta_del_hdr(&m, name);
            break; /* an object keeps one checksum */
        }
    /* The tags: the source's (x-amz-tagging-directive COPY, the default) or the request's. */
    if (rc == TS_OK)
        rc = c->tags_replace ? obj_meta_set_tags(&m, c->tags, c->ntags)
                             : obj_meta_set_tags(&m, src->tags, src->ntags);
    if (rc == TS_OK) /* never the source's ACL: the request's, and the copier owns the copy */
        rc = s3_acl_apply(c, &m);
    s3_lock_apply(c, &m); /* nor the source's lock: the request's, or the bucket's default */
    /* A plain MD5 ETag stays valid for the same bytes; a multipart one is recomputed. The
     * copy is encrypted as the request or the destination bucket asks, whatever the source. */
    bool hash = strchr(src->etag, '-') != NULL;
    if (rc == TS_OK) /* the destination's precondition, before the copy; the commit checks again */
        rc = copy_dest_early(c);
    if (rc == TS_OK)
        rc = s3_sse_decide(c);
    if (rc == TS_OK)
        rc = s3_copy_data(c, rd, 0, src->size, hash, md5);
    if (rc == TS_OK) {
        if (hash)
            enc_hex(md5, 16, m.etag);
        else
            memcpy(m.etag, src->etag, sizeof m.etag);
        m.mtime = (int64_t)enc_now();
        rc = copy_dest_missing(
            c, obj_object_commit_if(c->st, c->bucket, c->key, c->w, &m, s3_precond(c)));
    }
    if (rc == TS_OK) {
        s3_version_header(c, &m);
        s3_expiration_header(c, &m);
        if (obj_writer_encrypted(c->w))
            http_reply_header(c->r, OBJ_SSE_HDR, OBJ_SSE_ALGO);
        rc = s3_reply_copy_result(c, "CopyObjectResult", m.mtime, m.etag);
    }
    obj_meta_cleanup(&m);
    return rc;
}

int s3_copy_object(struct s3_ctx *c)
{
    const char *dir = http_req_header(c->r, "x-amz-metadata-directive");
    bool replace = false;
    if (dir) {
        if (strcmp(dir, "REPLACE") == 0)
            replace = true;
        else if (strcmp(dir, "COPY") != 0)
            return TS_E_INVALID_ARGUMENT;
    }
    return s3_copy_from_source(c, copy_object_body, &replace);
}
