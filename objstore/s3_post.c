/* s3_post.c -- PostObject: a browser upload (POST /bucket, an HTML form as multipart/form-data).
 *
 * The body is parsed as it arrives (http_form_*: libmicrohttpd's post processor, bounded by
 * S3_POST_BUF) by the sink of route->start:
 *
 *   fields (at most S3_POST_MAX_FIELDS bytes) ─► the file part begins:
 *     key (${filename} replaced) checked ─► refused fields (501) ─► the form's signature
 *     (http_authenticate_form: V4 or V2, the signer becomes r->principal; none: anonymous)
 *     ─► the policy (s3_post_policy.c) ─► tags, checksum, Content-MD5 fields ─► s3:PutObject
 *     on the key (s3_authorize_post; in finish when the authorizer may wait) ─► a new writer
 *   file data ─► the writer (its size bounded by content-length-range and 5 GiB), checksum
 *   fields after the file are ignored (S3's rule)
 *
 * route->finish (on a worker): the body ended with its closing boundary, a file came, the
 * minimum size, the digests; only then is the object committed, and the answer is S3's:
 * a 303 to success_action_redirect, or success_action_status 200 / 201 (PostResponse) / 204.
 * Nothing is stored unless every check passed: the writer's temporary file is removed with
 * the request otherwise. */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/xml.h"
#include "policy/pol.h"
#include "sts/sigv4.h"

#define S3_POST_BUF (16u << 10)            /* the post processor's buffer */
#define S3_POST_MAX_FIELDS (64u << 10)     /* bytes of the fields' names and values, all together */
#define S3_POST_MAX_NFIELDS 100            /* fields */
#define S3_POST_MAX_FILE OBJ_MAX_PART_SIZE /* S3's limit for a POST upload: 5 GiB */
#define S3_POST_MAX_URL 2048               /* success_action_redirect */

enum post_state { POST_FIELDS, POST_FILE, POST_AFTER };

struct s3_post {
    struct http_form *form;
    enum post_state state;
    struct http_kv *fields; /* the fields before the file, as sent (names and values) */
    size_t nfields;
    struct buf cur; /* the value of the field being received (its name: cur_name) */
    char *cur_name;
    size_t field_bytes; /* of every field's name and value so far */
    char *key;          /* the object's key (${filename} replaced); c->key points here */
    bool authorized;    /* s3:PutObject was asked and allowed */
    struct s3_post_limits lim;
    uint64_t size;
    struct sigv4_cksum ck; /* an x-amz-checksum-* field's algorithm */
    char ck_want[96];      /* its base64 value */
    bool has_file;
};

void s3_post_free(struct s3_post *p)
{
    if (p == NULL)
        return;
    http_form_free(p->form);
    http_kv_free(p->fields, p->nfields);
    buf_free(&p->cur);
    free(p->cur_name);
    free(p->key);
    sigv4_cksum_free(&p->ck);
    free(p);
}

/* The value of the form's field name (any case), or NULL. */
static const char *field(const struct s3_post *p, const char *name)
{
    for (size_t i = 0; i < p->nfields; i++)
        if (strcasecmp(p->fields[i].key, name) == 0)
            return p->fields[i].value;
    return NULL;
}

static int missing(struct s3_ctx *c, const char *name)
{
    return c->e != NULL ? ts_error_set(c->e, TS_E_INVALID_ARGUMENT,
                                       "Bucket POST must contain a field named '%s'.  If it is "
                                       "specified, please check the order of the fields.",
                                       name)
                        : TS_E_INVALID_ARGUMENT;
}

/* The field being received is complete: kept (a name may come once). */
static int field_end(struct s3_ctx *c, struct s3_post *p)
{
    if (p->cur_name == NULL)
        return TS_OK;
    int rc = TS_OK;
    if (buf_failed(&p->cur))
        rc = TS_E_INTERNAL;
    else if (field(p, p->cur_name) != NULL)
        rc = c->e != NULL
                 ? ts_error_set(c->e, TS_E_INVALID_ARGUMENT,
                                "The form field '%.64s' may be given only once.", p->cur_name)
                 : TS_E_INVALID_ARGUMENT;
    else if (strlen(buf_str(&p->cur)) != buf_len(&p->cur))
        rc = s3_fail(c, TS_E_INVALID_ARGUMENT, "Form fields may not contain NUL characters.");
    else if (http_kv_add(&p->fields, &p->nfields, p->cur_name, buf_str(&p->cur)) != TS_OK)
        rc = TS_E_INTERNAL;
    free(p->cur_name);
    p->cur_name = NULL;
    buf_free(&p->cur);
    return rc;
}

/* A field begins (name): bounded in number and, with its value, in bytes. */
static int field_begin(struct s3_ctx *c, struct s3_post *p, const char *name)
{
    int rc = field_end(c, p);
    if (rc != TS_OK)
        return rc;
    p->field_bytes += strlen(name);
    if (p->nfields >= S3_POST_MAX_NFIELDS || p->field_bytes > S3_POST_MAX_FIELDS)
        return TS_E_POST_PRE_DATA_TOO_LARGE;
    if ((p->cur_name = strdup(name)) == NULL)
        return TS_E_INTERNAL;
    buf_init(&p->cur, S3_POST_MAX_FIELDS + 1);
    return TS_OK;
}

/* The key field with every ${filename} replaced by the file's name, checked with the store's
 * rule for keys. */
static int post_key(struct s3_ctx *c, struct s3_post *p, const char *filename)
{
    const char *k = field(p, "key");
    struct buf b;
    if (k == NULL || k[0] == '\0')
        return missing(c, "key");
    buf_init(&b, OBJ_MAX_KEY_LEN * 2 + 64);
    for (const char *s = k; *s;) {
        const char *v = strstr(s, "${filename}");
        size_t n = v ? (size_t)(v - s) : strlen(s);
        buf_add(&b, s, n);
        if (v != NULL)
            buf_adds(&b, filename ? filename : "");
        s += n + (v ? 11 : 0);
    }
    if (buf_failed(&b)) {
        buf_free(&b);
        return TS_E_KEY_TOO_LONG;
    }
    p->key = buf_take(&b, NULL);
    if (p->key == NULL)
        return TS_E_INTERNAL;
    int rc = obj_check_key(p->key);
    if (rc == TS_E_INVALID_URI)
        return s3_fail(c, TS_E_INVALID_ARGUMENT, "Object keys must be valid UTF-8.");
    if (rc != TS_OK)
        return rc;
    for (size_t i = 0; i < p->nfields; i++) /* the policy sees the key that is stored */
        if (strcasecmp(p->fields[i].key, "key") == 0) {
            free(p->fields[i].value);
            p->fields[i].value = strdup(p->key);
            if (p->fields[i].value == NULL)
                return TS_E_INTERNAL;
        }
    free(c->r->key);
    c->r->key = strdup(p->key);
    c->key = p->key;
    return TS_OK;
}

static void principal_free(void *p)
{
    pol_principal_free(p);
}

/* Who signed the form: V4 (x-amz-algorithm, x-amz-credential, x-amz-date, x-amz-signature),
 * V2 (AWSAccessKeyId, signature), or nobody (the anonymous principal, whatever the request's
 * headers said). A signed form needs every field of its version and a policy. */
static int post_signer(struct s3_ctx *c, struct s3_post *p)
{
    static const char *const v4[] = {"x-amz-algorithm", "x-amz-credential", "x-amz-date",
                                     "x-amz-signature", "policy"};
    static const char *const v2[] = {"AWSAccessKeyId", "signature", "policy"};
    bool is4 = false, is2 = field(p, "AWSAccessKeyId") || field(p, "signature");
    for (size_t i = 0; i < 4; i++)
        is4 |= field(p, v4[i]) != NULL;
    for (size_t i = 0; is4 && i < 5; i++)
        if (field(p, v4[i]) == NULL)
            return missing(c, v4[i]);
    for (size_t i = 0; is2 && !is4 && i < 3; i++)
        if (field(p, v2[i]) == NULL)
            return missing(c, v2[i]);
    if (is4 || is2) {
        struct http_form_auth a = {
            .version = is4 ? 4 : 2,
            .policy = field(p, "policy"),
            .algorithm = field(p, "x-amz-algorithm"),
            .credential = field(p, "x-amz-credential"),
            .amz_date = field(p, "x-amz-date"),
            .access_key = field(p, "AWSAccessKeyId"),
            .signature = field(p, is4 ? "x-amz-signature" : "signature"),
            .security_token = field(p, "x-amz-security-token"),
        };
        return http_authenticate_form(c->r, &a, c->e);
    }
    struct pol_principal *anon = c->r->principal;
    if (anon != NULL && anon->type == POL_PRINCIPAL_ANONYMOUS)
        return TS_OK;
    if ((anon = pol_principal_new(POL_PRINCIPAL_ANONYMOUS)) == NULL)
        return TS_E_INTERNAL;
    if (c->r->principal != NULL && c->r->principal_free != NULL)
        c->r->principal_free(c->r->principal);
    c->r->principal = anon;
    c->r->principal_free = principal_free;
    return TS_OK;
}

/* The checksum fields: at most one x-amz-checksum-<algo> (x-amz-checksum-algorithm, when
 * given, must name it), and Content-MD5. */
static int post_digests(struct s3_ctx *c, struct s3_post *p)
{
    enum sigv4_cksum_algo algo = SIGV4_CK_NONE;
    const char *algo_field = field(p, "x-amz-checksum-algorithm");
    for (size_t i = 0; i < p->nfields; i++) {
        enum sigv4_cksum_algo a = sigv4_cksum_from_header(p->fields[i].key);
        if (a == SIGV4_CK_NONE)
            continue;
        uint8_t raw[64];
        const char *v = p->fields[i].value;
        if (algo != SIGV4_CK_NONE)
            return s3_fail(c, TS_E_INVALID_REQUEST, "Expecting a single x-amz-checksum- field.");
        if (strlen(v) >= sizeof p->ck_want ||
            enc_unb64(v, strlen(v), raw) != (long)sigv4_cksum_size(a))
            return s3_fail(c, TS_E_INVALID_REQUEST, "Value for x-amz-checksum- field is invalid.");
        algo = a;
        snprintf(p->ck_want, sizeof p->ck_want, "%s", v);
    }
    if (algo_field != NULL && strcasecmp(algo_field, sigv4_cksum_name(algo)) != 0)
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "x-amz-checksum-algorithm must name the x-amz-checksum- field sent.");
    if (algo != SIGV4_CK_NONE && sigv4_cksum_init(&p->ck, algo) != TS_OK)
        return TS_E_INTERNAL;
    const char *md5 = field(p, "Content-MD5");
    if (md5 != NULL) {
        uint8_t raw[64];
        if (strlen(md5) > 64 || enc_unb64(md5, strlen(md5), raw) != 16)
            return TS_E_INVALID_DIGEST;
        memcpy(c->md5, raw, 16);
        c->has_md5 = true;
    }
    return TS_OK;
}

/* Every field before the file is in: the checks of the top comment, then the writer. */
static int post_file_begin(struct s3_ctx *c, struct s3_post *p, const char *filename)
{
    int rc = post_key(c, p, filename);
    for (size_t i = 0; rc == TS_OK && i < p->nfields; i++) {
        rc = s3_refused(p->fields[i].key, p->fields[i].value, c->e);
        if (rc == TS_OK)
            rc = s3_sse_field(c, p->fields[i].key, p->fields[i].value);
    }
    if (rc == TS_OK)
        rc = post_signer(c, p);
    c->form_acl = field(p, "acl");
    if (rc == TS_OK) /* the signer writes: its ACL checked before any byte is kept */
        rc = s3_acl_write_prepare(c, c->form_acl != NULL ? c->form_acl : "private");
    p->lim = (struct s3_post_limits){0, UINT64_MAX};
    if (rc == TS_OK && field(p, "policy") != NULL) {
        struct s3_post_form f = {p->fields, p->nfields, c->bucket};
        rc = s3_post_policy_check(field(p, "policy"), &f, enc_now(), &p->lim, c->e);
    }
    const char *tagging = field(p, "tagging");
    if (rc == TS_OK && tagging != NULL) {
        rc = s3_tags_parse(c, tagging, strlen(tagging), S3_MAX_OBJECT_TAGS, &c->tags, &c->ntags);
        c->has_tags = rc == TS_OK;
    }
    if (rc == TS_OK)
        rc = post_digests(c, p);
    /* Asked now, before any byte of the file is kept, unless the authorizer may wait on a
     * remote decision: that is asked in finish, on a worker, before anything is stored. */
    if (rc == TS_OK && !http_authz_may_wait(c->r)) {
        rc = s3_authorize_post(c);
        p->authorized = rc == TS_OK;
    }
    if (rc == TS_OK)
        rc = s3_sse_decide(c);
    if (rc == TS_OK)
        rc = obj_writer_new(c->st, &c->w);
    if (rc == TS_OK)
        rc = s3_sse_writer(c);
    p->state = POST_FILE;
    p->has_file = true;
    return rc;
}

static int post_file_data(struct s3_ctx *c, struct s3_post *p, const uint8_t *data, size_t n)
{
    if (p->size + n > p->lim.max)
        return s3_fail(c, TS_E_ENTITY_TOO_LARGE,
                       "Your proposed upload exceeds the maximum allowed size");
    if (p->size + n > S3_POST_MAX_FILE)
        return TS_E_ENTITY_TOO_LARGE;
    p->size += n;
    if (p->ck.algo != SIGV4_CK_NONE)
        sigv4_cksum_update(&p->ck, data, n);
    return obj_writer_write(c->w, data, n);
}

/* The form parser's callback: fields, then the file, then (ignored) whatever follows it. */
static int post_piece(void *ctx, const struct http_form_piece *pc, const uint8_t *data, size_t n)
{
    struct s3_ctx *c = ctx;
    struct s3_post *p = c->post;
    int rc = TS_OK;
    if (pc->off == 0 && p->state == POST_FIELDS) {
        bool file = strcasecmp(pc->name, "file") == 0;
        rc = file ? field_end(c, p) : field_begin(c, p, pc->name);
        if (rc == TS_OK && file)
            rc = post_file_begin(c, p, pc->filename);
    } else if (pc->off == 0 && p->state == POST_FILE) {
        p->state = POST_AFTER; /* S3 ignores the fields after the file */
    }
    if (rc != TS_OK || n == 0)
        return rc;
    switch (p->state) {
    case POST_FIELDS:
        p->field_bytes += n;
        if (p->field_bytes > S3_POST_MAX_FIELDS)
            return TS_E_POST_PRE_DATA_TOO_LARGE;
        return buf_add(&p->cur, data, n) == 0 ? TS_OK : TS_E_INTERNAL;
    case POST_FILE:
        return post_file_data(c, p, data, n);
    case POST_AFTER:
        p->field_bytes += n; /* parsed and dropped, within the same bound */
        return p->field_bytes > 2 * S3_POST_MAX_FIELDS ? TS_E_MALFORMED_POST : TS_OK;
    }
    return TS_E_INTERNAL;
}

/* The body's bytes, on the HTTP thread: errors are answered with their message (the phase's
 * struct ts_error is gone by now). */
static int post_sink(void *ctx, const uint8_t *data, size_t n)
{
    struct s3_ctx *c = ctx;
    struct ts_error e = {TS_OK, ""};
    c->e = &e;
    int rc = http_form_feed(c->post->form, data, n);
    c->e = NULL;
    return http_req_fail(c->r, rc, ts_error_msg(&e));
}

int s3_post_start(struct s3_ctx *c)
{
    struct s3_post *p = calloc(1, sizeof *p);
    if (p == NULL)
        return TS_E_INTERNAL;
    c->post = p;
    buf_init(&p->cur, 1);
    int rc = http_form_new(c->r, S3_POST_BUF, post_piece, c, &p->form);
    if (rc == TS_E_MALFORMED_POST)
        return s3_fail(c, TS_E_PRECONDITION_FAILED,
                       "Bucket POST must be of the enclosure-type multipart/form-data");
    if (rc != TS_OK)
        return rc;
    http_req_set_sink(c->r, (struct http_sink){post_sink, c});
    return TS_OK;
}

/* The URL success_action_redirect names, when S3 would follow it: http(s), printable ASCII
 * without spaces (it becomes a Location header), at most S3_POST_MAX_URL bytes. */
static const char *redirect_url(const struct s3_post *p)
{
    const char *u = field(p, "success_action_redirect");
    if (u == NULL)
        u = field(p, "redirect");
    if (u == NULL || strlen(u) > S3_POST_MAX_URL ||
        (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0))
        return NULL;
    for (const char *s = u; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return NULL;
    return u;
}

/* A query parameter name=value (value URI-encoded) appended to b after sep. */
static void add_param(struct buf *b, char sep, const char *name, const char *value)
{
    char *v = enc_uri_encode(value, strlen(value), false);
    buf_addf(b, "%c%s=%s", sep, name, v ? v : "");
    if (v == NULL)
        buf_adds(b, "\x01"); /* never a valid header: the reply fails closed */
    free(v);
}

/* The object's URL (path style, from the request's Host) into b; false without a Host. */
static bool object_url(struct s3_ctx *c, struct buf *b)
{
    const char *host = http_req_header(c->r, "Host");
    char *k = enc_uri_encode(c->key, strlen(c->key), true);
    bool ok = host != NULL && host[0] != '\0' && k != NULL && strpbrk(host, "\r\n/") == NULL;
    if (ok)
        buf_addf(b, "%s://%s/%s/%s", c->r->tls ? "https" : "http", host, c->bucket, k);
    free(k);
    return ok;
}

/* S3's answer to a stored upload. */
static int post_reply(struct s3_ctx *c, const char *etag)
{
    const struct s3_post *p = c->post;
    const char *status = field(p, "success_action_status"), *redir = redirect_url(p);
    char q[64];
    struct buf b;
    snprintf(q, sizeof q, "\"%s\"", etag);
    http_reply_header(c->r, "ETag", q);
    if (obj_writer_encrypted(c->w))
        http_reply_header(c->r, OBJ_SSE_HDR, OBJ_SSE_ALGO);
    buf_init(&b, S3_POST_MAX_URL + 4 * OBJ_MAX_KEY_LEN + 256);
    if (redir != NULL) {
        buf_adds(&b, redir);
        add_param(&b, strchr(redir, '?') ? '&' : '?', "bucket", c->bucket);
        add_param(&b, '&', "key", c->key);
        add_param(&b, '&', "etag", q);
        if (buf_failed(&b) || strchr(buf_str(&b), '\x01') != NULL) {
            buf_free(&b);
            return TS_E_INTERNAL;
        }
        http_reply_header(c->r, "Location", buf_str(&b));
        buf_free(&b);
        return s3_reply_empty(c, 303);
    }
    bool has_url = object_url(c, &b);
    if (has_url && !buf_failed(&b))
        http_reply_header(c->r, "Location", buf_str(&b));
    int code = status == NULL ? 204 : atoi(status);
    if (code != 200 && code != 201)
        code = 204;
    if (code != 201) {
        buf_free(&b);
        return s3_reply_empty(c, code);
    }
    struct buf x;
    buf_init(&x, 8 * OBJ_MAX_KEY_LEN + S3_POST_MAX_URL);
    xml_begin(&x);
    xml_open(&x, "PostResponse", NULL);
    xml_elem(&x, "Location", has_url ? buf_str(&b) : "");
    xml_elem(&x, "Bucket", c->bucket);
    xml_elem(&x, "Key", c->key);
    xml_elem(&x, "ETag", q);
    xml_close(&x, "PostResponse");
    buf_free(&b);
    return s3_reply_xml(c, 201, &x);
}

/* The object's metadata from the form: Content-Type, the kept headers, tags, checksum. */
static int post_meta(struct s3_ctx *c, const struct s3_post *p, struct obj_meta *m)
{
    const char *ct = field(p, "Content-Type");
    int rc = TS_OK;
    if (ct != NULL && ct[0] != '\0' && (m->content_type = strdup(ct)) == NULL)
        return TS_E_INTERNAL;
    for (size_t i = 0; rc == TS_OK && i < p->nfields; i++)
        rc = s3_meta_field(m, p->fields[i].key, p->fields[i].value);
    if (rc == TS_OK && c->has_tags)
        rc = obj_meta_set_tags(m, c->tags, c->ntags);
    if (rc == TS_OK)
        rc = s3_acl_apply(c, m);
    if (rc == TS_OK && p->ck.algo != SIGV4_CK_NONE) {
        char name[48];
        snprintf(name, sizeof name, "x-amz-checksum-%s", sigv4_cksum_name(p->ck.algo));
        rc = obj_meta_add_hdr(m, name, p->ck_want);
    }
    return rc;
}

/* The digests the form declared, of the bytes received. */
static int post_verify(struct s3_ctx *c, struct s3_post *p, const uint8_t md5[16])
{
    if (c->has_md5 && memcmp(md5, c->md5, 16) != 0)
        return TS_E_BAD_DIGEST;
    if (p->ck.algo == SIGV4_CK_NONE)
        return TS_OK;
    uint8_t got[32];
    size_t n = sigv4_cksum_size(p->ck.algo);
    const char *name = sigv4_cksum_name(p->ck.algo);
    sigv4_cksum_final(&p->ck, got);
    char *b64 = enc_b64(got, n);
    int rc = b64 == NULL ? TS_E_INTERNAL : strcmp(b64, p->ck_want) == 0 ? TS_OK : TS_E_BAD_DIGEST;
    free(b64);
    if (rc == TS_E_BAD_DIGEST && c->e != NULL)
        ts_error_set(c->e, rc, "The %s you specified did not match the calculated checksum.", name);
    return rc;
}

int s3_post_finish(struct s3_ctx *c)
{
    struct s3_post *p = c->post;
    struct obj_meta m = {0};
    uint8_t md5[16];
    char etag[48];
    int rc = p != NULL ? http_form_end(p->form) : TS_E_INTERNAL;
    if (rc == TS_OK && !p->has_file)
        rc =
            s3_fail(c, TS_E_INVALID_ARGUMENT, "POST requires exactly one file upload per request.");
    if (rc == TS_OK && p->size < p->lim.min)
        rc = s3_fail(c, TS_E_ENTITY_TOO_SMALL,
                     "Your proposed upload is smaller than the minimum allowed size");
    if (rc == TS_OK && !p->authorized)
        rc = s3_authorize_post(c);
    if (rc == TS_OK)
        rc = obj_writer_finish(c->w, md5);
    if (rc == TS_OK)
        rc = post_verify(c, p, md5);
    if (rc == TS_OK)
        rc = post_meta(c, p, &m);
    if (rc == TS_OK) {
        enc_hex(md5, 16, etag);
        memcpy(m.etag, etag, sizeof m.etag);
        m.mtime = (int64_t)enc_now();
        rc = obj_object_commit(c->st, c->bucket, c->key, c->w, &m);
    }
    if (rc == TS_OK) {
        s3_version_header(c, &m);
        rc = post_reply(c, etag);
    }
    obj_meta_cleanup(&m);
    return rc;
}
