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

int s3_put_object_start(struct s3_ctx *c)
{
    return s3_stream_body(c, OBJ_MAX_OBJECT_SIZE);
}

static void checksum_header(struct s3_ctx *c, const struct obj_meta *m)
{
    for (size_t i = 0; i < m->nhdrs; i++)
        if (strncmp(m->hdrs[i].key, "x-amz-checksum-", 15) == 0) {
            char name[48];
            snprintf(name, sizeof name, "x-amz-checksum-%s", m->hdrs[i].key + 15);
            for (char *p = name; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            http_reply_header(c->r, name, m->hdrs[i].value);
        }
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
        rc = obj_object_commit(c->st, c->bucket, c->key, c->w, &m);
    }
    if (rc == TS_OK) {
        snprintf(q, sizeof q, "\"%s\"", etag);
        http_reply_header(c->r, "ETag", q);
        checksum_header(c, &m);
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
 * it (x-amz-checksum-mode: ENABLED); a client validating it against a part would fail. */
static void object_headers(struct s3_ctx *c, const struct obj_meta *m, bool whole)
{
    char t[64];
    snprintf(t, sizeof t, "\"%s\"", m->etag);
    http_reply_header(c->r, "ETag", t);
    enc_time_http((time_t)m->mtime, t);
    http_reply_header(c->r, "Last-Modified", t);
    http_reply_header(c->r, "Accept-Ranges", "bytes");
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
    const char *mode = http_req_header(c->r, "x-amz-checksum-mode");
    if (whole && mode && strcasecmp(mode, "ENABLED") == 0)
        checksum_header(c, m);
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
    int rc = obj_object_open(c->st, c->bucket, c->key, &m, &fd);
    if (rc != TS_OK)
        return rc;
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
    uint64_t a = 0, b = m.size ? m.size - 1 : 0, len = m.size;
    int status = 200;
    struct s3_range rg;
    /* A Range that is not one well-formed range is ignored (200, the whole object). */
    if (s3_range_parse(http_req_header(r, "Range"), &rg)) {
        if (s3_range_resolve(&rg, m.size, &a, &b) != 0) {
            char cr[64];
            snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)m.size);
            http_reply_header(r, "Content-Range", cr);
            rc = TS_E_INVALID_RANGE;
            goto out;
        }
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)a,
                 (unsigned long long)b, (unsigned long long)m.size);
        http_reply_header(r, "Content-Range", cr);
        len = b - a + 1;
        status = 206;
    }
    object_headers(c, &m, status == 200);
    const char *ct = http_req_query(r, "response-content-type");
    if (ct == NULL)
        ct = m.content_type ? m.content_type : "binary/octet-stream";
    if (head) {
        http_reply_header(r, "Content-Type", ct);
        rc = http_reply_head(r, status, len);
    } else if (len <= OBJ_SMALL_GET) {
        /* Small bodies: one pread into a buffer beats sendfile (DESIGN §6). */
        char *buf = malloc(len ? len : 1);
        ssize_t got = buf ? pread(fd, buf, len, (off_t)a) : -1;
        if (got != (ssize_t)len) {
            free(buf);
            rc = TS_E_INTERNAL;
            goto out;
        }
        rc = http_reply_data(r, status, ct, buf, len, true);
    } else {
        rc = http_reply_fd(r, status, ct, fd, a, len);
        fd = -1;
    }
out:
    if (fd >= 0)
        close(fd);
    obj_meta_cleanup(&m);
    return rc;
}

int s3_delete_object(struct s3_ctx *c)
{
    return s3_reply_done(c, obj_object_delete(c->st, c->bucket, c->key), 204);
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
    c->src_versioned = q != NULL && strcmp(q + 10, "null") != 0;
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
    int fd = -1;
    int rc = obj_object_open(c->st, c->src_bucket, c->src_key, &src, &fd);
    if (rc != TS_OK)
        return rc;
    rc = s3_copy_conditions(c, &src);
    if (rc == TS_OK)
        rc = body(c, &src, fd, arg);
    if (fd >= 0)
        close(fd);
    obj_meta_cleanup(&src);
    return rc;
}

int s3_copy_data(struct s3_ctx *c, int fd, uint64_t off, uint64_t len, bool hash, uint8_t md5[16])
{
    int rc = obj_writer_new(c->st, &c->w);
    if (rc == TS_OK)
        rc = obj_writer_copy_fd(c->w, fd, off, len, hash);
    if (rc == TS_OK)
        rc = obj_writer_finish(c->w, md5);
    return rc;
}

static int copy_object_body(struct s3_ctx *c, const struct obj_meta *src, int fd, void *arg)
{
    bool replace = *(const bool *)arg;
    struct obj_meta m = {0};
    uint8_t md5[16];
    if (!replace && strcmp(c->src_bucket, c->bucket) == 0 && strcmp(c->src_key, c->key) == 0) {
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "This copy request is illegal because it is trying to copy an object "
                       "to itself without changing the object's metadata, storage class, "
                       "website redirect location or encryption attributes.");
    }
    int rc = replace ? s3_meta_from_req(c, &m) : obj_meta_copy(&m, src);
    /* The tags: the source's (x-amz-tagging-directive COPY, the default) or the request's. */
    if (rc == TS_OK)
        rc = c->tags_replace ? obj_meta_set_tags(&m, c->tags, c->ntags)
                             : obj_meta_set_tags(&m, src->tags, src->ntags);
    if (rc == TS_OK) /* never the source's ACL: the request's, and the copier owns the copy */
        rc = s3_acl_apply(c, &m);
    /* A plain MD5 ETag stays valid for the same bytes; a multipart one is recomputed. */
    bool hash = strchr(src->etag, '-') != NULL;
    if (rc == TS_OK)
        rc = s3_copy_data(c, fd, 0, src->size, hash, md5);
    if (rc == TS_OK) {
        if (hash)
            enc_hex(md5, 16, m.etag);
        else
            memcpy(m.etag, src->etag, sizeof m.etag);
        m.mtime = (int64_t)enc_now();
        rc = obj_object_commit(c->st, c->bucket, c->key, c->w, &m);
    }
    if (rc == TS_OK)
        rc = s3_reply_copy_result(c, "CopyObjectResult", m.mtime, m.etag);
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
