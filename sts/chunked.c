/* chunked.c -- the request-body filter of SigV4: payload-hash checking, aws-chunked decoding
 * (signed chunks chained from the seed signature, unsigned chunks, trailers and their
 * signature) and x-amz-checksum-* verification. Installed by sigv4_install_filter() from the
 * authn hook; core/http feeds it the raw body and it passes the decoded bytes on with
 * http_req_body_emit(), so the object store never sees the framing. Each byte is hashed once
 * per algorithm that needs it (DESIGN §6): an x-amz-checksum-sha256 over a body whose
 * x-amz-content-sha256 is a hex hash reuses that digest.
 *
 * aws-chunked framing (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html):
 *   hex-size[;chunk-signature=<64 hex>]\r\n <size bytes> \r\n ... 0[;chunk-signature=..]\r\n
 * then either \r\n (no trailer) or trailer lines "name:value\r\n" (with a signed trailer the
 * last one is x-amz-trailer-signature) and a final \r\n.
 */
#include "sts/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/enc.h"
#include "core/err.h"

enum cstate {
    ST_SIZE,     /* reading a chunk-size line */
    ST_DATA,     /* inside chunk data */
    ST_DATA_END, /* expecting the \r\n after chunk data */
    ST_END,      /* expecting the empty line after the final chunk (no trailer) */
    ST_TRAILER,  /* reading trailer lines */
    ST_DONE,
};

struct sv4f {
    /* Mode, fixed at install. */
    bool chunked, signed_chunks, trailer, signed_trailer;

    /* Plain body: the declared x-amz-content-sha256. */
    bool check_payload;
    uint8_t want_payload[32];
    EVP_MD_CTX *payload;

    /* x-amz-checksum-*: algorithm, expected value (from header or trailer). */
    enum sigv4_cksum_algo ck_algo;
    bool ck_shared; /* SHA256 checksum taken from the payload digest */
    bool ck_from_trailer, ck_have;
    char ck_trailer_name[32];
    uint8_t ck_want[32];
    struct sigv4_cksum ck;

    /* aws-chunked state. */
    enum cstate st;
    char line[SIGV4_MAX_CHUNK_LINE];
    size_t linelen;
    uint64_t left;
    bool final_chunk;
    char chunk_sig[65], prev_sig[65];
    EVP_MD_CTX *chunk_md;
    uint8_t key[32];
    char amz_date[17], scope[256];
    bool have_decoded_len, trailer_sig_seen, trailer_any;
    uint64_t want_decoded, decoded;
    struct buf trailer_canon;
    size_t trailer_bytes;
};

static void sv4f_free(void *ctx)
{
    struct sv4f *f = ctx;
    if (f == NULL)
        return;
    EVP_MD_CTX_free(f->payload);
    EVP_MD_CTX_free(f->chunk_md);
    sigv4_cksum_free(&f->ck);
    buf_free(&f->trailer_canon);
    OPENSSL_cleanse(f->key, sizeof f->key);
    free(f);
}

/* Data bytes of the decoded body: checksum, count, pass on. */
static int body_bytes(struct http_req *r, struct sv4f *f, const uint8_t *p, size_t n)
{
    if (f->payload != NULL)
        EVP_DigestUpdate(f->payload, p, n);
    if (f->ck_algo != SIGV4_CK_NONE && !f->ck_shared)
        sigv4_cksum_update(&f->ck, p, n);
    f->decoded += n;
    return http_req_body_emit(r, p, n);
}

/* hex-size[;chunk-signature=sig] (line without \r\n). */
static int parse_size_line(struct sv4f *f, const char *s, size_t n)
{
    uint64_t size = 0;
    size_t i = 0;
    for (; i < n && enc_hexval((unsigned char)s[i]) >= 0; i++) {
        if (i >= 15)
            return TS_E_INVALID_REQUEST; /* > 2^60: nobody sends such chunks */
        size = size << 4 | (uint64_t)enc_hexval((unsigned char)s[i]);
    }
    if (i == 0)
        return TS_E_INVALID_REQUEST;
    if (f->signed_chunks) {
        static const char ext[] = ";chunk-signature=";
        if (n - i != sizeof ext - 1 + 64 || memcmp(s + i, ext, sizeof ext - 1) != 0)
            return TS_E_INVALID_REQUEST;
        memcpy(f->chunk_sig, s + i + sizeof ext - 1, 64);
        f->chunk_sig[64] = '\0';
    } else if (i < n && s[i] != ';') {
        return TS_E_INVALID_REQUEST; /* unsigned: chunk extensions are ignored */
    }
    if (f->have_decoded_len && size > f->want_decoded - f->decoded)
        return TS_E_INCOMPLETE_BODY; /* more than x-amz-decoded-content-length */
    f->left = size;
    f->final_chunk = size == 0;
    return TS_OK;
}

/* Checks the signature of the chunk just completed (chunk_md holds its hash). */
static int check_chunk_sig(struct sv4f *f)
{
    uint8_t h[32];
    char want[65];
    if (!f->signed_chunks)
        return TS_OK;
    if (EVP_DigestFinal_ex(f->chunk_md, h, NULL) != 1 ||
        EVP_DigestInit_ex(f->chunk_md, enc_md_sha256(), NULL) != 1)
        return TS_E_INTERNAL;
    sigv4_chunk_signature(f->key, f->amz_date, f->scope, f->prev_sig, h, want);
    if (CRYPTO_memcmp(want, f->chunk_sig, 64) != 0)
        return TS_E_SIGNATURE;
    memcpy(f->prev_sig, want, 65);
    return TS_OK;
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

/* One trailer line "name:value" (without \r\n). */
static int trailer_line(struct sv4f *f, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n), *ns = s, *ne, *vs, *ve = s + n;
    char name[64];
    size_t nl;

    if (colon == NULL)
        return TS_E_INVALID_REQUEST;
    ne = colon;
    vs = colon + 1;
    trim(&ns, &ne);
    trim(&vs, &ve);
    nl = (size_t)(ne - ns);
    if (nl == 0 || nl >= sizeof name)
        return TS_E_INVALID_REQUEST;
    for (size_t i = 0; i < nl; i++)
        name[i] = (char)((ns[i] >= 'A' && ns[i] <= 'Z') ? ns[i] + 32 : ns[i]);
    name[nl] = '\0';
    f->trailer_any = true;

    if (strcmp(name, "x-amz-trailer-signature") == 0) {
        char want[65];
        if (!f->signed_trailer || f->trailer_sig_seen)
            return TS_E_INVALID_REQUEST;
        if (buf_failed(&f->trailer_canon))
            return TS_E_INTERNAL;
        sigv4_trailer_signature(f->key, f->amz_date, f->scope, f->prev_sig,
                                buf_str(&f->trailer_canon), buf_len(&f->trailer_canon), want);
        if (ve - vs != 64 || CRYPTO_memcmp(want, vs, 64) != 0)
            return TS_E_SIGNATURE;
        f->trailer_sig_seen = true;
        return TS_OK;
    }
    if (f->trailer_sig_seen)
        return TS_E_INVALID_REQUEST; /* nothing may follow the signature */
    buf_add(&f->trailer_canon, name, nl);
    buf_add(&f->trailer_canon, ":", 1);
    buf_add(&f->trailer_canon, vs, (size_t)(ve - vs));
    buf_add(&f->trailer_canon, "\n", 1);

    if (sigv4_cksum_from_header(name) != SIGV4_CK_NONE) {
        uint8_t tmp[48];
        long len;
        if (!f->ck_from_trailer || strcmp(name, f->ck_trailer_name) != 0 || f->ck_have)
            return TS_E_INVALID_REQUEST; /* a checksum trailer that x-amz-trailer did not name */
        if ((size_t)(ve - vs) > 44)
            return TS_E_INVALID_REQUEST;
        len = enc_unb64(vs, (size_t)(ve - vs), tmp);
        if (len < 0 || (size_t)len != sigv4_cksum_size(f->ck_algo))
            return TS_E_INVALID_REQUEST;
        memcpy(f->ck_want, tmp, (size_t)len);
        f->ck_have = true;
    }
    return TS_OK;
}

/* A complete line (without \r\n) in the current state. */
static int on_line(struct sv4f *f, const char *s, size_t n)
{
    int rc;
    switch (f->st) {
    case ST_SIZE:
        rc = parse_size_line(f, s, n);
        if (rc != TS_OK)
            return rc;
        if (!f->final_chunk) {
            f->st = ST_DATA;
            return TS_OK;
        }
        rc = check_chunk_sig(f); /* the final chunk is signed too (empty data) */
        if (rc != TS_OK)
            return rc;
        f->st = f->trailer ? ST_TRAILER : ST_END;
        return TS_OK;
    case ST_END:
        if (n != 0)
            return TS_E_INVALID_REQUEST;
        f->st = ST_DONE;
        return TS_OK;
    case ST_TRAILER:
        if (n == 0) {
            f->st = ST_DONE;
            return TS_OK;
        }
        f->trailer_bytes += n;
        if (f->trailer_bytes > SIGV4_MAX_TRAILER)
            return TS_E_INVALID_REQUEST;
        return trailer_line(f, s, n);
    default:
        return TS_E_INTERNAL;
    }
}

static int chunked_write(struct http_req *r, struct sv4f *f, const uint8_t *p, size_t n)
{
    int rc;
    while (n > 0) {
        switch (f->st) {
        case ST_DATA: {
            size_t k = n < f->left ? n : (size_t)f->left;
            if (f->signed_chunks)
                EVP_DigestUpdate(f->chunk_md, p, k);
            rc = body_bytes(r, f, p, k);
            if (rc != TS_OK)
                return rc;
            p += k;
            n -= k;
            f->left -= k;
            if (f->left == 0) {
                f->st = ST_DATA_END;
                f->linelen = 0;
            }
            break;
        }
        case ST_DATA_END:
            /* Exactly "\r\n"; linelen counts the bytes seen. */
            if (*p != (f->linelen == 0 ? '\r' : '\n'))
                return TS_E_INVALID_REQUEST;
            p++;
            n--;
            if (++f->linelen == 2) {
                f->linelen = 0;
                rc = check_chunk_sig(f);
                if (rc != TS_OK)
                    return rc;
                f->st = ST_SIZE;
            }
            break;
        case ST_SIZE:
        case ST_END:
        case ST_TRAILER: {
            const uint8_t *nl = memchr(p, '\n', n);
            size_t k = nl ? (size_t)(nl - p) + 1 : n;
            if (f->linelen + k > sizeof f->line)
                return TS_E_INVALID_REQUEST; /* over-long size or trailer line */
            memcpy(f->line + f->linelen, p, k);
            f->linelen += k;
            p += k;
            n -= k;
            if (nl != NULL) {
                size_t len = f->linelen;
                f->linelen = 0;
                if (len < 2 || f->line[len - 2] != '\r')
                    return TS_E_INVALID_REQUEST;
                rc = on_line(f, f->line, len - 2);
                if (rc != TS_OK)
                    return rc;
            }
            break;
        }
        case ST_DONE:
            return TS_E_INVALID_REQUEST; /* bytes after the end of the chunked body */
        }
    }
    return TS_OK;
}

static int sv4f_write(struct http_req *r, void *ctx, const uint8_t *p, size_t n)
{
    struct sv4f *f = ctx;
    if (f->chunked)
        return chunked_write(r, f, p, n);
    return body_bytes(r, f, p, n);
}

static int sv4f_finish(struct http_req *r, void *ctx)
{
    struct sv4f *f = ctx;
    uint8_t digest[32], got[32];
    char *b64;

    if (f->chunked) {
        /* Some clients end the trailer without the final empty line. */
        bool trailer_end = f->st == ST_TRAILER && f->linelen == 0 && f->trailer_any;
        if (f->st != ST_DONE && !trailer_end)
            return TS_E_INCOMPLETE_BODY;
        if (f->ck_from_trailer && !f->ck_have)
            return TS_E_INVALID_REQUEST;
        if (f->signed_trailer && f->trailer_any && !f->trailer_sig_seen)
            return TS_E_SIGNATURE;
    }
    if (f->have_decoded_len && f->decoded != f->want_decoded)
        return TS_E_INCOMPLETE_BODY;
    if (f->payload != NULL) {
        if (EVP_DigestFinal_ex(f->payload, digest, NULL) != 1)
            return TS_E_INTERNAL;
        if (f->check_payload && CRYPTO_memcmp(digest, f->want_payload, 32) != 0)
            return TS_E_SHA256_MISMATCH;
    }
    if (f->ck_algo == SIGV4_CK_NONE || !f->ck_have)
        return TS_OK;
    if (f->ck_shared)
        memcpy(got, digest, 32);
    else
        sigv4_cksum_final(&f->ck, got);
    if (CRYPTO_memcmp(got, f->ck_want, sigv4_cksum_size(f->ck_algo)) != 0) {
        char msg[96]; /* AWS's: the algorithm named as in the header */
        snprintf(msg, sizeof msg, "The %s you specified did not match the calculated checksum.",
                 sigv4_cksum_name(f->ck_algo));
        return http_req_fail(r, TS_E_BAD_DIGEST, msg);
    }
    b64 = enc_b64(got, sigv4_cksum_size(f->ck_algo));
    if (b64 == NULL)
        return TS_E_INTERNAL;
    snprintf(r->checksum_algo, sizeof r->checksum_algo, "%s", sigv4_cksum_name(f->ck_algo));
    snprintf(r->checksum_b64, sizeof r->checksum_b64, "%s", b64);
    free(b64);
    return TS_OK;
}

/* ---- installation ---- */

struct ck_scan {
    int count;
    enum sigv4_cksum_algo algo;
    const char *value;
};

static int ck_scan_cb(void *ctx, const char *name, const char *value)
{
    struct ck_scan *s = ctx;
    enum sigv4_cksum_algo algo = sigv4_cksum_from_header(name);
    if (algo != SIGV4_CK_NONE) {
        s->count++;
        s->algo = algo;
        s->value = value;
    }
    return 0;
}

static bool is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (enc_hexval((unsigned char)s[i]) < 0)
            return false;
    return s[64] == '\0';
}

/* The checksum the request declares: a header, or a trailer named by x-amz-trailer. */
static int setup_checksum(struct http_req *r, struct sv4f *f)
{
    struct ck_scan s = {0, SIGV4_CK_NONE, NULL};
    const char *tr = http_req_header(r, "x-amz-trailer");

    /* CompleteMultipartUpload's checksum headers describe the object, not the XML body. */
    if (strcmp(r->method, "POST") == 0 && http_req_query(r, "uploadId") != NULL)
        return TS_OK;
    http_req_header_foreach(r, ck_scan_cb, &s);
    if (s.count > 1)
        return TS_E_INVALID_REQUEST;
    if (tr != NULL && f->trailer) {
        /* "x-amz-checksum-crc32" (possibly in a comma-separated list). */
        for (const char *p = tr; *p != '\0';) {
            const char *comma = strchr(p, ','), *e = comma ? comma : p + strlen(p);
            char name[32];
            trim(&p, &e);
            if ((size_t)(e - p) < sizeof name) {
                memcpy(name, p, (size_t)(e - p));
                name[e - p] = '\0';
                for (char *c = name; *c; c++)
                    if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c + 32);
                if (sigv4_cksum_from_header(name) != SIGV4_CK_NONE) {
                    if (f->ck_from_trailer || s.count > 0)
                        return TS_E_INVALID_REQUEST; /* expecting a single checksum */
                    f->ck_from_trailer = true;
                    f->ck_algo = sigv4_cksum_from_header(name);
                    memcpy(f->ck_trailer_name, name, (size_t)(e - p) + 1);
                }
            }
            if (comma == NULL)
                break;
            p = comma + 1;
        }
    }
    if (s.count == 1) {
        uint8_t tmp[48];
        size_t vl = strlen(s.value);
        long len = vl <= 44 ? enc_unb64(s.value, vl, tmp) : -1;
        if (len < 0 || (size_t)len != sigv4_cksum_size(s.algo))
            return TS_E_INVALID_REQUEST;
        f->ck_algo = s.algo;
        memcpy(f->ck_want, tmp, (size_t)len);
        f->ck_have = true;
    }
    if (f->ck_algo == SIGV4_CK_NONE)
        return TS_OK;
    if (f->ck_algo == SIGV4_CK_SHA256 && f->payload != NULL) {
        f->ck_shared = true;
        return TS_OK;
    }
    return sigv4_cksum_init(&f->ck, f->ck_algo);
}

/* What x-amz-content-sha256 (cs) asks of the filter: pass-through, aws-chunked (signed or
 * not, with or without a trailer) or a whole-payload hash. */
static int payload_mode(struct sv4f *f, const char *cs)
{
    if (cs == NULL || strcmp(cs, SIGV4_UNSIGNED_PAYLOAD) == 0) {
        /* pass-through */
    } else if (strcmp(cs, SIGV4_STREAMING_SIGNED) == 0) {
        f->chunked = f->signed_chunks = true;
    } else if (strcmp(cs, SIGV4_STREAMING_SIGNED_TRAILER) == 0) {
        f->chunked = f->signed_chunks = f->trailer = f->signed_trailer = true;
    } else if (strcmp(cs, SIGV4_STREAMING_UNSIGNED_TRAILER) == 0) {
        f->chunked = f->trailer = true;
    } else if (strncmp(cs, "STREAMING-", 10) == 0) {
        return TS_E_NOT_IMPLEMENTED;
    } else if (strlen(cs) == 64 && is_hex64(cs)) {
        f->check_payload = true;
        if (enc_unhex(cs, 32, f->want_payload) != 0)
            return TS_E_INVALID_ARGUMENT;
    } else {
        return TS_E_INVALID_ARGUMENT;
    }
    if (f->check_payload) {
        f->payload = EVP_MD_CTX_new();
        if (f->payload == NULL || EVP_DigestInit_ex(f->payload, enc_md_sha256(), NULL) != 1)
            return TS_E_INTERNAL;
    }
    return TS_OK;
}

/* aws-chunked: x-amz-decoded-content-length, required with signed chunks. */
static int decoded_length(struct http_req *r, struct sv4f *f)
{
    if (f->chunked) {
        const char *dl = http_req_header(r, "x-amz-decoded-content-length");
        if (dl != NULL) {
            char *end;
            unsigned long long v = strtoull(dl, &end, 10);
            if (*dl < '0' || *dl > '9' || *end != '\0')
                return TS_E_INVALID_ARGUMENT;
            f->have_decoded_len = true;
            f->want_decoded = v;
        } else if (f->signed_chunks) {
            return TS_E_MISSING_CONTENT_LENGTH;
        }
    }
    return TS_OK;
}

int sigv4_install_filter(struct http_req *r, const struct sigv4_auth *a, const char *secret,
                         struct sigv4_keycache *cache)
{
    const char *cs = a ? sigv4_declared_payload(a) : NULL;
    struct sv4f *f;
    int rc;

    if (cs == NULL)
        cs = http_req_header(r, "x-amz-content-sha256");
    f = calloc(1, sizeof *f);
    if (f == NULL)
        return TS_E_INTERNAL;
    buf_init(&f->trailer_canon, SIGV4_MAX_TRAILER + 1024);

    rc = payload_mode(f, cs);
    if (rc == TS_OK)
        rc = decoded_length(r, f);
    if (rc != TS_OK)
        goto fail;
    if (f->signed_chunks) {
        if (a == NULL || secret == NULL || a->presigned || a->signature[0] == '\0') {
            rc = TS_E_ACCESS_DENIED;
            goto fail;
        }
        sigv4_signing_key(secret, a->date, a->region, a->service, cache, f->key);
        memcpy(f->amz_date, a->amz_date, sizeof f->amz_date);
        snprintf(f->scope, sizeof f->scope, "%s/%s/%s/aws4_request", a->date, a->region,
                 a->service);
        memcpy(f->prev_sig, a->signature, 65);
        f->chunk_md = EVP_MD_CTX_new();
        if (f->chunk_md == NULL || EVP_DigestInit_ex(f->chunk_md, enc_md_sha256(), NULL) != 1) {
            rc = TS_E_INTERNAL;
            goto fail;
        }
    }
    rc = setup_checksum(r, f);
    if (rc != TS_OK)
        goto fail;

    if (!f->chunked && !f->check_payload && f->ck_algo == SIGV4_CK_NONE) {
        sv4f_free(f); /* nothing to check: no filter */
        return TS_OK;
    }
    r->filter = (struct http_filter){sv4f_write, sv4f_finish, sv4f_free, f};
    return TS_OK;
fail:
    sv4f_free(f);
    return rc;
}
