/* s3_tagging.c -- object and bucket tags: the x-amz-tagging header and the Tagging document,
 * parsed and checked with AWS's rules; the tagging operations of the embedded store; and the
 * tag condition keys the authz phase sees (s3_tags_declare): s3:ExistingObjectTag/<key> (the
 * tags of the object the request reads or changes, read before the decision),
 * s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys (the tags the request sets).
 *
 * Object tags live in the object's metadata record (obj_meta.tags), so that they are written
 * in the same LMDB commit as the object and removed with it; bucket tags are the bucket's
 * "tagging" configuration (obj_bconf_*). */
#include "objstore/s3_int.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xml.h"
#include "policy/pol.h"

#define TAG_KEY_MAX 128   /* characters (code points) */
#define TAG_VALUE_MAX 256 /* characters */
#define TAG_XML_MAX (256u << 10)

#define MSG_HEADER                                                                                 \
    "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters "   \
    "without tag name duplicates."

/* ---- the characters of a tag ---- */

static locale_t utf8_loc;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_init(void)
{
    utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Decodes one UTF-8 sequence at p (strict: no overlong forms, surrogates or values over
 * U+10FFFF): its length, or 0 when invalid. */
static size_t utf8_next(const unsigned char *p, uint32_t *cp)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t n = p[0] < 0x80             ? 1
               : (p[0] & 0xe0) == 0xc0 ? 2
               : (p[0] & 0xf0) == 0xe0 ? 3
               : (p[0] & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (n == 0)
        return 0;
    uint32_t v = n == 1 ? p[0] : p[0] & (0x7fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* AWS's tag characters: letters, numbers and spaces of any script, and + - = . _ : / @. A
 * system without the C.UTF-8 locale accepts ASCII ones only (stricter, never looser). */
static bool tag_char_ok(uint32_t cp)
{
    static const uint32_t spaces[] = {0xa0,   0x1680, 0x2000, 0x2001, 0x2002, 0x2003,
                                      0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
                                      0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000};
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
               (cp != 0 && strchr(" +-=._:/@", (int)cp) != NULL);
    for (size_t i = 0; i < sizeof spaces / sizeof *spaces; i++)
        if (cp == spaces[i])
            return true;
    pthread_once(&utf8_once, utf8_init);
    return utf8_loc != (locale_t)0 && iswalnum_l((wint_t)cp, utf8_loc);
}

/* min..max characters of tag text, each one tag_char_ok. */
static bool tag_text_ok(const char *s, size_t min, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    uint32_t cp;
    while (*p) {
        size_t len = utf8_next(p, &cp);
        if (len == 0 || ++n > max || !tag_char_ok(cp))
            return false;
        p += len;
    }
    return n >= min;
}

/* AWS's rules for a tag set of at most max tags (10 for an object, 50 for a bucket). */
static int tags_check(struct s3_ctx *c, const struct http_kv *v, size_t n, size_t max)
{
    if (n > max)
        return s3_fail(c, TS_E_BAD_REQUEST,
                       max == S3_MAX_OBJECT_TAGS ? "Object tags cannot be greater than 10"
                                                 : "Bucket tags cannot be greater than 50");
    for (size_t i = 0; i < n; i++) {
        if (!tag_text_ok(v[i].key, 1, TAG_KEY_MAX))
            return s3_fail(c, TS_E_INVALID_TAG, "The TagKey you have provided is invalid");
        if (!tag_text_ok(v[i].value, 0, TAG_VALUE_MAX))
            return s3_fail(c, TS_E_INVALID_TAG, "The TagValue you have provided is invalid");
        for (size_t j = 0; j < i; j++)
            if (strcmp(v[i].key, v[j].key) == 0)
                return s3_fail(c, TS_E_INVALID_TAG,
                               "Cannot provide multiple Tags with the same key");
        if (strncasecmp(v[i].key, "aws:", 4) == 0)
            return s3_fail(c, TS_E_INVALID_TAG, "System tags cannot be added/updated by requester");
    }
    return TS_OK;
}

/* ---- parsing ---- */

/* One URL-encoded part of the header into a malloc'ed string that is valid UTF-8 without
 * NUL (NULL otherwise; *oom set when allocation failed). */
static char *header_part(const char *s, size_t n, bool *oom)
{
    char *out = malloc(n + 1);
    if (out == NULL) {
        *oom = true;
        return NULL;
    }
    long len = enc_url_decode(s, n, out, true);
    const unsigned char *p = (const unsigned char *)out;
    uint32_t cp;
    bool ok = len >= 0 && strlen(out) == (size_t)len;
    while (ok && *p) {
        size_t l = utf8_next(p, &cp);
        ok = l > 0;
        p += l;
    }
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* x-amz-tagging: "k1=v1&k2=v2" (URL-encoded; "k" alone has an empty value) into *v, *n. */
static int tags_from_header(struct s3_ctx *c, const char *h, struct http_kv **v, size_t *n)
{
    bool oom = false;
    int rc = TS_OK;
    while (rc == TS_OK && *h) {
        size_t len = strcspn(h, "&"), kl = strcspn(h, "=");
        if (kl > len)
            kl = len;
        if (len > 0) {
            char *k = header_part(h, kl, &oom);
            char *val = k ? header_part(h + kl + (kl < len), len - kl - (kl < len), &oom) : NULL;
            bool dup = false;
            for (size_t i = 0; k && i < *n; i++)
                dup |= strcmp((*v)[i].key, k) == 0;
            if (k == NULL || val == NULL || *k == 0 || dup)
                rc = oom ? TS_E_INTERNAL : s3_fail(c, TS_E_INVALID_ARGUMENT, MSG_HEADER);
            else if (http_kv_add(v, n, k, val) != TS_OK)
                rc = TS_E_INTERNAL;
            free(k);
            free(val);
        }
        h += len + (h[len] == '&');
    }
    return rc == TS_OK ? tags_check(c, *v, *n, S3_MAX_OBJECT_TAGS) : rc;
}

int s3_tags_parse(struct s3_ctx *c, const char *xml, size_t len, size_t max, struct http_kv **v,
                  size_t *n)
{
    if (len > TAG_XML_MAX)
        return TS_E_MALFORMED_XML;
    struct xml_node *x = xml_parse(xml, len);
    struct xml_node *set = x && strcmp(x->name, "Tagging") == 0 ? xml_child(x, "TagSet") : NULL;
    int rc = set ? TS_OK : TS_E_MALFORMED_XML;
    size_t count = 0;
    for (struct xml_node *t = set ? set->child : NULL; t && rc == TS_OK; t = t->next) {
        const char *k = xml_child_text(t, "Key"), *val = xml_child_text(t, "Value");
        if (strcmp(t->name, "Tag") != 0 || k == NULL || val == NULL)
            rc = TS_E_MALFORMED_XML;
        else if (++count <= max && http_kv_add(v, n, k, val) != TS_OK)
            rc = TS_E_INTERNAL;
    }
    xml_free(x);
    if (rc == TS_OK && count > max)
        return tags_check(c, *v, count, max); /* too many: only counted */
    return rc == TS_OK ? tags_check(c, *v, *n, max) : rc;
}

/* The Tagging document of the request's body into *v, *n: MissingRequestBodyError, or
 * s3_tags_parse's errors. */
static int tags_from_body(struct s3_ctx *c, size_t max, struct http_kv **v, size_t *n)
{
    if (c->r->body == NULL || c->r->body_len == 0)
        return TS_E_MISSING_REQUEST_BODY;
    return s3_tags_parse(c, (const char *)c->r->body, c->r->body_len, max, v, n);
}

/* Writes <TagSet>...</TagSet>. */
static void tags_xml(struct buf *b, const struct http_kv *v, size_t n)
{
    xml_open(b, "TagSet", NULL);
    for (size_t i = 0; i < n; i++) {
        xml_open(b, "Tag", NULL);
        xml_elem(b, "Key", v[i].key);
        xml_elem(b, "Value", v[i].value);
        xml_close(b, "Tag");
    }
    xml_close(b, "TagSet");
}

static int reply_tagging(struct s3_ctx *c, const struct http_kv *v, size_t n)
{
    struct buf b;
    s3_xml_start(&b, TAG_XML_MAX, "Tagging");
    tags_xml(&b, v, n);
    xml_close(&b, "Tagging");
    return s3_reply_xml(c, 200, &b);
}

/* ---- condition keys ---- */

/* Adds the condition key prefix+name = value to the request's (copies kept in c->cond). */
static int cond_add(struct s3_ctx *c, const char *prefix, const char *name, const char *value)
{
    struct http_authz *q = &c->r->authz;
    char full[640];
    if (q->nkeys >= HTTP_AUTHZ_MAX_KEYS ||
        (size_t)snprintf(full, sizeof full, "%s%s", prefix, name) >= sizeof full ||
        http_kv_add(&c->cond, &c->ncond, full, value) != TS_OK)
        return TS_E_INTERNAL; /* never: at most 10 checked tags three ways */
    q->keys[q->nkeys++] = c->cond[c->ncond - 1];
    return TS_OK;
}

/* s3:ExistingObjectTag/<key> of the object the request reads (a copy: its source). The
 * gateway does not know them (docs/GATEWAY.md): conditions on them fail closed there. */
static int existing_tags(struct s3_ctx *c)
{
    const struct pol_principal *p = c->r->principal;
    const char *bucket = c->op->flags & S3_F_COPY ? c->src_bucket : c->bucket;
    const char *key = c->op->flags & S3_F_COPY ? c->src_key : c->key;
    struct obj_meta m;
    if (c->st->gw != NULL) {
        c->r->authz.unknown_keys = "s3:ExistingObjectTag/";
        return TS_OK;
    }
    if ((p != NULL && p->type == POL_PRINCIPAL_ROOT) || bucket == NULL || key == NULL)
        return TS_OK; /* root is allowed outright: nothing to read */
    const char *vid = c->op->flags & S3_F_COPY ? c->src_vid : c->vid;
    int rc = obj_version_head(c->st, bucket, key, vid, &m);
    if (rc == TS_E_METHOD_NOT_ALLOWED)
        obj_meta_cleanup(&m); /* a delete marker: no tags */
    if (rc == TS_E_NO_SUCH_KEY || rc == TS_E_NO_SUCH_BUCKET || rc == TS_E_NO_SUCH_VERSION ||
        rc == TS_E_METHOD_NOT_ALLOWED)
        return TS_OK; /* no tags; the operation answers the 404 once authorized */
    if (rc != TS_OK) {
        log_event(LOG_ERROR, "s3.tags", "the tags of %s/%s cannot be read: denied", bucket, key);
        return TS_E_ACCESS_DENIED; /* fail closed */
    }
    for (size_t i = 0; i < m.ntags && rc == TS_OK; i++)
        rc = cond_add(c, "s3:ExistingObjectTag/", m.tags[i].key, m.tags[i].value);
    obj_meta_cleanup(&m);
    return rc;
}

/* x-amz-tagging-directive of CopyObject: COPY (the default: the source's tags) or REPLACE
 * (the x-amz-tagging header's). */
static int tagging_directive(struct s3_ctx *c)
{
    const char *d = http_req_header(c->r, "x-amz-tagging-directive");
    if (d == NULL || strcmp(d, "COPY") == 0)
        return TS_OK;
    if (strcmp(d, "REPLACE") != 0)
        return s3_fail(c, TS_E_INVALID_ARGUMENT, "Unknown tagging directive.");
    c->tags_replace = true;
    return TS_OK;
}

int s3_tags_body(struct s3_ctx *c)
{
    if (c->has_tags)
        return TS_OK;
    http_kv_free(c->tags, c->ntags);
    c->tags = NULL;
    c->ntags = 0;
    int rc = tags_from_body(c, S3_MAX_OBJECT_TAGS, &c->tags, &c->ntags);
    c->has_tags = rc == TS_OK;
    return rc;
}

int s3_tags_cond_request(struct s3_ctx *c)
{
    int rc = TS_OK;
    for (size_t i = 0; c->has_tags && i < c->ntags && rc == TS_OK; i++) {
        rc = cond_add(c, "s3:RequestObjectTag/", c->tags[i].key, c->tags[i].value);
        if (rc == TS_OK)
            rc = cond_add(c, "s3:RequestObjectTagKeys", "", c->tags[i].key);
    }
    return rc;
}

int s3_tags_declare(struct s3_ctx *c)
{
    struct http_req *r = c->r;
    const char *h = http_req_header(r, "x-amz-tagging");
    int rc = TS_OK;
    if (c->op->flags & S3_F_TAGBODY) {
        r->authz.after_body = true; /* the conditions on the body's tags: decided with it */
        if (r->body == NULL)
            return TS_OK; /* first round: nothing is decided */
        /* A body that does not parse sets no keys (a condition on them cannot allow) and is
         * answered once the caller is authorized (s3_tags_body in finish). */
        rc = s3_tags_body(c);
        if (rc != TS_E_INTERNAL)
            rc = TS_OK;
    } else if ((c->op->flags & S3_F_TAGHDR) && h != NULL) {
        rc = tags_from_header(c, h, &c->tags, &c->ntags);
        if (rc == TS_OK && (c->op->flags & S3_F_COPY))
            rc = tagging_directive(c);
        c->has_tags = rc == TS_OK && (!(c->op->flags & S3_F_COPY) || c->tags_replace);
    } else if ((c->op->flags & S3_F_COPY) && (c->op->flags & S3_F_TAGHDR)) {
        rc = tagging_directive(c);
    }
    if (rc == TS_OK)
        rc = s3_tags_cond_request(c);
    if (rc == TS_OK && (c->op->flags & S3_F_EXTAG))
        rc = existing_tags(c);
    return rc;
}

/* ---- object tagging ---- */

int s3_get_object_tagging(struct s3_ctx *c)
{
    struct obj_meta m;
    int rc = obj_version_head(c->st, c->bucket, c->key, c->vid, &m);
    if (rc == TS_E_METHOD_NOT_ALLOWED)
        obj_meta_cleanup(&m);
    if (rc != TS_OK)
        return rc;
    s3_version_header(c, &m);
    rc = reply_tagging(c, m.tags, m.ntags);
    obj_meta_cleanup(&m);
    return rc;
}

/* Sets the tags of the version the request names (the current one without ?versionId=). */
static int tagging_set(struct s3_ctx *c, const struct http_kv *tags, size_t n, int status)
{
    int rc = obj_version_tags_set(c->st, c->bucket, c->key, c->vid, tags, n);
    if (rc == TS_OK && c->vid != NULL)
        http_reply_header(c->r, "x-amz-version-id", c->vid);
    return s3_reply_done(c, rc, status);
}

int s3_put_object_tagging(struct s3_ctx *c)
{
    if (!c->has_tags)
        return TS_E_INTERNAL; /* s3_finish answered the body's error */
    return tagging_set(c, c->tags, c->ntags, 200);
}

int s3_delete_object_tagging(struct s3_ctx *c)
{
    return tagging_set(c, NULL, 0, 204);
}

/* ---- bucket tagging ---- */

int s3_put_bucket_tagging(struct s3_ctx *c)
{
    struct http_kv *v = NULL;
    size_t n = 0, len = 0;
    void *enc = NULL;
    int rc = tags_from_body(c, S3_MAX_BUCKET_TAGS, &v, &n);
    if (rc == TS_OK && n > 0 && (enc = obj_tags_encode(v, n, &len)) == NULL)
        rc = TS_E_INTERNAL;
    if (rc == TS_OK) /* an empty tag set removes the tags */
        rc = obj_bconf_put(c->st, c->bucket, "tagging", enc, len);
    free(enc);
    http_kv_free(v, n);
    return s3_reply_done(c, rc, 204);
}

int s3_get_bucket_tagging(struct s3_ctx *c)
{
    struct http_kv *v = NULL;
    size_t n = 0, len;
    void *enc;
    int rc = obj_bconf_get(c->st, c->bucket, "tagging", &enc, &len);
    if (rc == TS_OK && enc == NULL)
        return TS_E_NO_SUCH_TAG_SET;
    if (rc == TS_OK)
        rc = obj_tags_decode(enc, len, &v, &n);
    free(enc);
    if (rc == TS_OK)
        rc = reply_tagging(c, v, n);
    http_kv_free(v, n);
    return rc;
}

int s3_delete_bucket_tagging(struct s3_ctx *c)
{
    return s3_reply_done(c, obj_bconf_put(c->st, c->bucket, "tagging", NULL, 0), 204);
}
