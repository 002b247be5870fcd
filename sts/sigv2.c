/* sigv2.c -- AWS Signature Version 2 for S3 (header `Authorization: AWS AK:SIG` and presigned
 * `?AWSAccessKeyId=&Expires=&Signature=`). Older SDKs still presign with it by default
 * (Debian's boto3 among them) and MinIO accepts it, so S3 requests may use it; STS and the
 * admin API require SigV4 (sts/authn.c refuses V2 on every route but S3's).
 *
 *   StringToSign = VERB \n Content-MD5 \n Content-Type \n Date-or-Expires \n
 *                  CanonicalizedAmzHeaders CanonicalizedResource
 *   Signature    = base64(HMAC-SHA1(secret, StringToSign))
 *
 * CanonicalizedResource is the raw path followed by the sub-resources of interest, sorted,
 * with their decoded values. There is no payload hash: Content-MD5, when sent, is signed, and
 * the object store checks the body against it. Every x-amz-* header is part of the string to
 * sign (CanonicalizedAmzHeaders), so none is unsigned. Presigned URLs expire at most a week
 * (plus the clock skew) after they are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "sts/sigv4.h"

#define SIGV2_SKEW 900

/* Query parameters that are part of the canonical resource (AWS's list, as botocore and
 * MinIO use it), and so signed. Every query parameter that selects an S3 operation of a
 * different IAM action (objstore/s3_ops.c: acl, cors, delete, encryption, lifecycle,
 * location, object-lock, policy, tagging, uploadId, uploads, versioning, versions) must be
 * here, or a V2 signature for one operation would be good for another ("list-type" only
 * picks the ListObjects version of the same action). Sorted. */
static const char *const sub_resources[] = {
    "acl",
    "cors",
    "delete",
    "encryption",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
};

static bool is_sub_resource(const char *k)
{
    for (size_t i = 0; i < sizeof sub_resources / sizeof sub_resources[0]; i++)
        if (strcmp(k, sub_resources[i]) == 0)
            return true;
    return false;
}

static int fail(struct sigv4_auth *a, int err, const char *msg)
{
    a->err_msg = msg;
    return err;
}

int sigv2_parse(struct http_req *r, struct sigv4_auth *a)
{
    const char *h = http_req_header(r, "Authorization");
    memset(a, 0, sizeof *a);
    strcpy(a->service, "s3");
    if (h != NULL) {
        while (*h == ' ')
            h++;
        if (strncmp(h, "AWS ", 4) != 0)
            return SIGV4_NONE;
        h += 4;
        const char *colon = strrchr(h, ':');
        if (colon == NULL || colon == h || (size_t)(colon - h) >= sizeof a->access_key ||
            strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof a->signature)
            return fail(a, TS_E_AUTH_HEADER_MALFORMED, "The authorization header is malformed.");
        memcpy(a->access_key, h, (size_t)(colon - h));
        strcpy(a->signature, colon + 1);
        a->security_token = http_req_header(r, "x-amz-security-token");
        return TS_OK;
    }
    const char *ak = http_req_query(r, "AWSAccessKeyId"), *sig = http_req_query(r, "Signature");
    const char *exp = http_req_query(r, "Expires");
    if (ak == NULL || sig == NULL)
        return SIGV4_NONE;
    if (exp == NULL || *ak == '\0' || strlen(ak) >= sizeof a->access_key || *sig == '\0' ||
        strlen(sig) >= sizeof a->signature)
        return fail(a, TS_E_ACCESS_DENIED,
                    "Query-string authentication requires the "
                    "Signature, Expires and AWSAccessKeyId parameters");
    /* S3's answer to an Expires that is not a time (V2 has no 400 for its query): a time in
     * the past, negative included, is expired (sigv2_verify). */
    long long e;
    if (!sigv4_parse_seconds(exp, &e)) {
        snprintf(a->err_buf, sizeof a->err_buf,
                 "Invalid date (should be seconds since epoch): %.64s", exp);
        return fail(a, TS_E_ACCESS_DENIED, a->err_buf);
    }
    a->presigned = true;
    a->time = (time_t)e;
    strcpy(a->access_key, ak);
    strcpy(a->signature, sig);
    a->security_token = http_req_query(r, "x-amz-security-token");
    return TS_OK;
}

struct amz_header {
    char *name; /* lower-case */
    const char *value;
};

struct amz_collect {
    struct amz_header *v;
    size_t n, cap;
    bool failed;
};

static int collect_amz(void *ctx, const char *name, const char *value)
{
    struct amz_collect *c = ctx;
    if (strncasecmp(name, "x-amz-", 6) != 0)
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct amz_header *v = cap > 256 ? NULL : realloc(c->v, cap * sizeof *v);
        if (v == NULL) {
            c->failed = true;
            return 1;
        }
        c->v = v;
        c->cap = cap;
    }
    char *lower = strdup(name);
    if (lower == NULL) {
        c->failed = true;
        return 1;
    }
    for (char *p = lower; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    c->v[c->n].name = lower;
    c->v[c->n++].value = value;
    return 0;
}

static int amz_cmp(const void *x, const void *y)
{
    return strcmp(((const struct amz_header *)x)->name, ((const struct amz_header *)y)->name);
}

static void add_trimmed(struct buf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    buf_add(b, v, n);
}

static int kv_cmp(const void *x, const void *y)
{
    const struct http_kv *a = *(const struct http_kv *const *)x;
    const struct http_kv *b = *(const struct http_kv *const *)y;
    return strcmp(a->key, b->key);
}

/* Whether key appears in the raw query as "key=..." rather than a bare "key". */
static bool raw_has_value(const char *q, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = q; *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
            return true;
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return false;
}

/* Builds the string to sign with `date` on the date line. */
static int string_to_sign(struct http_req *r, const char *date, const char *resource,
                          const char *query_token, struct buf *b)
{
    const char *md5 = http_req_header(r, "Content-MD5");
    const char *ctype = http_req_header(r, "Content-Type");
    struct amz_collect amz = {0};
    const struct http_kv *subs[64];
    size_t nsubs = 0;

    buf_addf(b, "%s\n", r->method);
    if (md5)
        add_trimmed(b, md5);
    buf_adds(b, "\n");
    if (ctype)
        add_trimmed(b, ctype);
    buf_adds(b, "\n");
    buf_adds(b, date);
    buf_adds(b, "\n");
    http_req_header_foreach(r, collect_amz, &amz);
    /* Presigned V2 URLs carry the session token as a query parameter, but clients sign it
     * as the x-amz-security-token header it would have been. */
    if (query_token != NULL && http_req_header(r, "x-amz-security-token") == NULL)
        collect_amz(&amz, "x-amz-security-token", query_token);
    if (amz.failed)
        goto fail;
    if (amz.n > 1)
        qsort(amz.v, amz.n, sizeof *amz.v, amz_cmp);
    for (size_t i = 0; i < amz.n; i++) {
        /* Repeated headers join with ','. */
        if (i > 0 && strcmp(amz.v[i].name, amz.v[i - 1].name) == 0) {
            buf_adds(b, ",");
        } else {
            if (i > 0)
                buf_adds(b, "\n");
            buf_addf(b, "%s:", amz.v[i].name);
        }
        add_trimmed(b, amz.v[i].value);
    }
    if (amz.n > 0)
        buf_adds(b, "\n");
    buf_adds(b, resource);
    for (size_t i = 0; i < r->nquery && nsubs < 64; i++)
        if (is_sub_resource(r->query[i].key))
            subs[nsubs++] = &r->query[i];
    qsort(subs, nsubs, sizeof subs[0], kv_cmp);
    for (size_t i = 0; i < nsubs; i++) {
        buf_adds(b, i == 0 ? "?" : "&");
        buf_adds(b, subs[i]->key);
        if (raw_has_value(r->raw_query, subs[i]->key)) { /* "uploads" has none, "uploadId=x" has */
            buf_adds(b, "=");
            buf_adds(b, subs[i]->value);
        }
    }
    for (size_t i = 0; i < amz.n; i++)
        free(amz.v[i].name);
    free(amz.v);
    return buf_failed(b) ? TS_E_INTERNAL : TS_OK;
fail:
    for (size_t i = 0; i < amz.n; i++)
        free(amz.v[i].name);
    free(amz.v);
    return TS_E_INTERNAL;
}

static bool matches_resource(struct http_req *r, const struct sigv4_auth *a, const char *secret,
                             const char *date, const char *resource)
{
    struct buf b;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    bool ok = false;
    buf_init(&b, 1 << 16);
    if (string_to_sign(r, date, resource, a->presigned ? a->security_token : NULL, &b) == TS_OK &&
        HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)buf_str(&b),
             buf_len(&b), mac, &maclen) != NULL) {
        LOG_DEBUG_EV("sigv2.string_to_sign", "%s", buf_str(&b));
        char *sig = enc_b64(mac, maclen);
        if (sig != NULL)
            ok = enc_ct_equal(sig, strlen(sig), a->signature, strlen(a->signature));
        free(sig);
    }
    buf_free(&b);
    return ok;
}

/* The canonical resource is the raw path; for a bucket alone ("/bucket") SDKs sign
 * "/bucket/", so that form is accepted too. */
static bool matches(struct http_req *r, const struct sigv4_auth *a, const char *secret,
                    const char *date)
{
    const char *path = r->raw_path;
    if (matches_resource(r, a, secret, date, path))
        return true;
    if (path[0] == '/' && path[1] != '\0' && strchr(path + 1, '/') == NULL) {
        char with_slash[512];
        if (strlen(path) + 2 > sizeof with_slash)
            return false;
        snprintf(with_slash, sizeof with_slash, "%s/", path);
        return matches_resource(r, a, secret, date, with_slash);
    }
    return false;
}

int sigv2_verify(struct http_req *r, struct sigv4_auth *a, const char *secret, time_t now)
{
    if (a->presigned) {
        char exp[32];
        if (now > a->time)
            return fail(a, TS_E_EXPIRED_PRESIGN, "Request has expired");
        /* V2 has no lifetime of its own: the same cap as X-Amz-Expires (with the clock skew
         * allowed for the signer). */
        if (a->time - now > SIGV4_MAX_EXPIRES + SIGV2_SKEW)
            return fail(a, TS_E_ACCESS_DENIED,
                        "Expires must be less than a week (604800 seconds) from now.");
        snprintf(exp, sizeof exp, "%lld", (long long)a->time);
        if (!matches(r, a, secret, exp))
            return fail(a, TS_E_SIGNATURE, NULL);
        return TS_OK;
    }
    const char *date = http_req_header(r, "Date");
    const char *amz = http_req_header(r, "x-amz-date");
    time_t t;
    if ((amz == NULL || enc_time_parse_http(amz, &t) != 0) &&
        (date == NULL || enc_time_parse_http(date, &t) != 0))
        return fail(a, TS_E_ACCESS_DENIED,
                    "AWS authentication requires a valid Date or x-amz-date header");
    if (t < now - SIGV2_SKEW || t > now + SIGV2_SKEW)
        return fail(a, TS_E_SKEWED, NULL);
    /* With x-amz-date present, AWS signs an empty date line; MinIO and botocore keep the Date
     * header's value there. Accept either. */
    if (matches(r, a, secret, date ? date : "") || (amz != NULL && matches(r, a, secret, "")))
        return TS_OK;
    return fail(a, TS_E_SIGNATURE, NULL);
}
