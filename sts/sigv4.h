/* sigv4.h -- AWS Signature Version 4: parsing and verifying signed requests (Authorization
 * header and presigned query), aws-chunked streaming bodies (signed chunks, trailers) and
 * the x-amz-checksum-* body checksums. Module-internal to sts/ (sts_authenticate is the
 * caller); a pure library over struct http_req that knows nothing of users or tokens.
 *
 * Typical use in the authn hook:
 *
 *     struct sigv4_auth a;
 *     int rc = sigv4_parse(r, &a);
 *     if (rc == SIGV4_NONE)           -> anonymous; still call sigv4_install_filter(r, &a,
 *                                        NULL, NULL) so body checksums are verified
 *     else if (rc != TS_OK)           -> reply rc (a.err_msg has a better message)
 *     secret = lookup(a.access_key, a.security_token)  (check a.service: "s3" / "sts")
 *     ph = sigv4_declared_payload(&a);
 *     if (ph == NULL)                 -> the signature covers the body hash (STS, admin):
 *                                        defer, then at authn finish pass the hex SHA-256 of
 *                                        r->body (sigv4_sha256_hex) as payload_hash
 *     rc = sigv4_verify(r, &a, secret, region, now, ph, cache);
 *     rc = sigv4_install_filter(r, &a, secret, cache);   (before any body byte is seen)
 *
 * Spec: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
 * sigv4-streaming-trailers.html. S3 rules are used: the canonical URI is the path as sent,
 * decoded once and re-encoded once (never double-encoded, never normalised).
 *
 * Thread-safety: every function is thread-safe; struct sigv4_keycache is internally locked.
 *
 * @test tests/unit/sts/test_sigv4.c, test_chunked.c, test_checksum.c (fake_req.h: a request
 * without a server)
 */
#ifndef TS_SIGV4_H
#define TS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "core/http.h"

/* sigv4_parse(): the request carries no AWS authentication at all (anonymous). Not a ts_err
 * value (those are small and non-negative). */
#define SIGV4_NONE (-1)
/* sigv4_parse: the request carries Signature Version 2 auth (see sigv2_parse). */
#define SIGV4_V2 (-2)

#define SIGV4_MAX_SKEW 900              /* seconds: header auth, and presigned "not yet" */
#define SIGV4_MAX_EXPIRES 604800        /* presigned X-Amz-Expires upper bound (7 days) */
#define SIGV4_MAX_CHUNK_LINE 4096       /* bytes of an aws-chunked size line or trailer line */
#define SIGV4_MAX_TRAILER 16384         /* bytes of all trailer lines together */
#define SIGV4_MAX_CANONICAL (64 * 1024) /* canonical request size limit */

#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_STREAMING_SIGNED "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define SIGV4_STREAMING_SIGNED_TRAILER "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
#define SIGV4_STREAMING_UNSIGNED_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

/* What a request claims (filled by sigv4_parse). Strings are NUL-terminated. */
struct sigv4_auth {
    bool presigned;             /* query-string auth (X-Amz-Algorithm=AWS4-HMAC-SHA256) */
    char access_key[129];       /* from the credential scope */
    char date[9];               /* scope date YYYYMMDD */
    char region[64];            /* scope region */
    char service[32];           /* scope service: "s3", "sts", ... */
    char signed_headers[1024];  /* ';'-separated, lower-case, as sent */
    char signature[65];         /* 64 lower-case hex digits */
    char amz_date[17];          /* X-Amz-Date (or the Date header, reformatted) YYYYMMDDTHHMMSSZ */
    time_t time;                /* amz_date as a time */
    long expires;               /* presigned X-Amz-Expires (0..604800); 0 for header auth */
    const char *security_token; /* X-Amz-Security-Token header / query (borrowed) or NULL */
    const char *content_sha256; /* x-amz-content-sha256 header (presigned: also the
                                   X-Amz-Content-Sha256 query parameter), borrowed, or NULL.
                                   Filled with SIGV4_NONE too. */
    const char *err_msg;        /* after a failure: a client-safe message (static, or in
                                   err_buf below), or NULL */
    char err_buf[256];          /* a message naming what failed (unsigned headers) */
};

/* A cache of derived signing keys keyed by (secret, date, region, service) -- DESIGN §6:
 * deriving costs four HMACs per request, a cache hit one SHA-256. Entries hold no secret in
 * clear (the key is a SHA-256 of the tuple) and are wiped on free. Thread-safe. */
struct sigv4_keycache;
struct sigv4_keycache *sigv4_keycache_new(void);    /* NULL on OOM */
void sigv4_keycache_free(struct sigv4_keycache *c); /* NULL is a no-op */

/* ---- request level (struct http_req) ---- */

/* Parses the request's SigV4 authentication: the Authorization header (AWS4-HMAC-SHA256
 * Credential=AK/date/region/service/aws4_request, SignedHeaders=..., Signature=...) or the
 * presigned query (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-SignedHeaders, X-Amz-Signature, X-Amz-Security-Token). *a is always fully written
 * (zeroed first). Returns
 *   TS_OK                          parsed (syntax only: nothing verified yet);
 *   SIGV4_NONE                     no authentication at all (a->content_sha256 still set);
 *   TS_E_AUTH_HEADER_MALFORMED     bad Authorization header, bad/missing date, "host" not
 *                                  signed, scope date != X-Amz-Date's day;
 *   TS_E_AUTH_QUERY_MALFORMED      the same for presigned queries (400
 *                                  AuthorizationQueryParametersError, S3's messages): a missing
 *                                  parameter, a malformed X-Amz-Credential, X-Amz-Date,
 *                                  X-Amz-SignedHeaders or X-Amz-Signature, another
 *                                  X-Amz-Algorithm, an X-Amz-Expires that is not a number,
 *                                  negative or over SIGV4_MAX_EXPIRES (0 parses: expired);
 *   TS_E_NOT_IMPLEMENTED           SigV2 (header "AWS AK:sig" or Signature= query), SigV4a;
 *   TS_E_INVALID_ARGUMENT          both header and query authentication.
 * On failure a->err_msg says why (static string). */
int sigv4_parse(struct http_req *r, struct sigv4_auth *a);

/* A whole number of seconds as a presigned URL writes it (X-Amz-Expires, V2's Expires): an
 * optional '-' and decimal digits only, within 64 bits. false: not a number. */
bool sigv4_parse_seconds(const char *s, long long *out);

/* The payload hash the signature covers, when known before the body: the
 * x-amz-content-sha256 value (a hex SHA-256, UNSIGNED-PAYLOAD or one of the STREAMING-*
 * values), or UNSIGNED-PAYLOAD for presigned requests without one. NULL when the caller must
 * hash the body itself (header auth without x-amz-content-sha256: STS, admin API; for a GET
 * without a body that is SIGV4_EMPTY_SHA256). */
const char *sigv4_declared_payload(const struct sigv4_auth *a);

/* Verifies the signature of a parsed request with the secret key of a->access_key:
 * - time: header auth within SIGV4_MAX_SKEW of now, else TS_E_SKEWED; presigned: not before
 *   amz_date - SIGV4_MAX_SKEW (TS_E_ACCESS_DENIED) and not after amz_date + expires, and
 *   never with an X-Amz-Expires of 0 (TS_E_EXPIRED_PRESIGN, 403 "Request has expired");
 * - region: a->region must be `region` or "us-east-1" (region NULL or "" accepts any), else
 *   TS_E_AUTH_HEADER_MALFORMED / TS_E_AUTH_QUERY_MALFORMED;
 * - every x-amz-* header of the request must be listed in SignedHeaders (S3's rule, header
 *   and presigned alike), else TS_E_ACCESS_DENIED "There were headers present in the request
 *   which were not signed" naming them (a->err_buf): no handler ever sees an x-amz-* header
 *   the signer did not sign. x-amz-content-sha256 may be unlisted: its value is the payload
 *   line of the canonical request (payload_hash), signed either way;
 * - the signature over the canonical request with payload_hash (see
 *   sigv4_declared_payload; NULL means SIGV4_EMPTY_SHA256), compared in constant time:
 *   TS_E_SIGNATURE on mismatch.
 * The service is NOT checked (caller: a->service). cache may be NULL. Returns TS_OK or the
 * error, with a->err_msg set on failure. Never logs the secret or signatures. */
int sigv4_verify(struct http_req *r, struct sigv4_auth *a, const char *secret, const char *region,
                 time_t now, const char *payload_hash, struct sigv4_keycache *cache);

/* Installs r->filter for the body according to a->content_sha256 and the checksum headers:
 * - a hex SHA-256: the raw body is hashed and compared at the end (TS_E_SHA256_MISMATCH);
 * - UNSIGNED-PAYLOAD or none: pass-through;
 * - STREAMING-AWS4-HMAC-SHA256-PAYLOAD: aws-chunked decoding, every chunk signature checked
 *   (chained from a->signature) including the final 0-size chunk (TS_E_SIGNATURE);
 * - STREAMING-UNSIGNED-PAYLOAD-TRAILER: aws-chunked without signatures, then trailer lines;
 * - STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: signed chunks and a signed trailer
 *   (x-amz-trailer-signature);
 * - x-amz-decoded-content-length (required for the signed STREAMING modes, else
 *   TS_E_MISSING_CONTENT_LENGTH) must equal the decoded size (TS_E_INCOMPLETE_BODY);
 *   truncated framing is TS_E_INCOMPLETE_BODY, garbled framing or an over-long size/trailer
 *   line TS_E_INVALID_REQUEST;
 * - one x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256} header, or the trailer named by
 *   x-amz-trailer, is verified against the decoded body (TS_E_BAD_DIGEST); a malformed value,
 *   several checksum headers, or a declared trailer that never came is TS_E_INVALID_REQUEST.
 *   On success the filter's finish sets r->checksum_algo / r->checksum_b64. The headers of
 *   CompleteMultipartUpload (POST ?uploadId) describe the object, not the body: ignored.
 * Streaming-signed modes need the secret (the same as for sigv4_verify, which must have
 * succeeded); secret may be NULL for anonymous requests, in which case they are
 * TS_E_ACCESS_DENIED. Decoded bytes go on with http_req_body_emit(). When nothing needs
 * checking no filter is installed. Returns TS_OK or an error (TS_E_NOT_IMPLEMENTED for an
 * unknown STREAMING-* value, TS_E_INVALID_ARGUMENT for any other x-amz-content-sha256 that is
 * not 64 hex digits). */
int sigv4_install_filter(struct http_req *r, const struct sigv4_auth *a, const char *secret,
                         struct sigv4_keycache *cache);

/* Lower-case hex SHA-256 of p[0..n) into out (65 bytes). */
void sigv4_sha256_hex(const void *p, size_t n, char out[65]);

/* ---- pure layer (no struct http_req): canonical request, signing ---- */

/* Calls fn(fctx, name, value) for every request header, as http_req_header_foreach does;
 * stops when fn returns non-zero. */
typedef void (*sigv4_header_iter)(void *src,
                                  int (*fn)(void *fctx, const char *name, const char *value),
                                  void *fctx);

struct sigv4_input {
    const char *method;         /* "GET" */
    const char *raw_path;       /* percent-encoded path as sent; "" is "/" */
    const char *raw_query;      /* after '?', without it; "" or NULL when none */
    bool presigned;             /* leave X-Amz-Signature out of the canonical query */
    const char *signed_headers; /* "host;x-amz-date" (lower-case, sorted as sent) */
    sigv4_header_iter headers;  /* header source */
    void *headers_src;
    const char *payload_hash; /* hex SHA-256, UNSIGNED-PAYLOAD, STREAMING-... */
};

/* Builds the canonical request into out (a buf_init'ed buffer, appended to):
 *   method \n canonical-uri \n canonical-query \n canonical-headers \n signed-headers \n hash
 * Signed header values are trimmed, inner whitespace runs collapsed to one space, and
 * several headers of one name joined with ','. Returns TS_OK, TS_E_INVALID_URI for a bad
 * %-escape in path or query, TS_E_AUTH_HEADER_MALFORMED for a signed header the request
 * lacks or a malformed SignedHeaders list, TS_E_INTERNAL when out failed (OOM/limit). */
int sigv4_canonical_request(const struct sigv4_input *in, struct buf *out);

/* The derived signing key HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
 * "aws4_request"); cached when cache is not NULL. */
void sigv4_signing_key(const char *secret, const char *date, const char *region,
                       const char *service, struct sigv4_keycache *cache, uint8_t key[32]);

/* The signature (lower-case hex, 65 bytes with NUL) of a request: builds the canonical
 * request, the string to sign "AWS4-HMAC-SHA256\n" amz_date "\n" date/region/service/
 * aws4_request "\n" hex(sha256(canonical)), and signs it. The scope date is amz_date's first
 * 8 characters. Returns what sigv4_canonical_request returns. For clients and tests. */
int sigv4_signature(const struct sigv4_input *in, const char *secret, const char *amz_date,
                    const char *region, const char *service, char sig[65]);

/* Signature of one aws-chunked chunk:
 *   HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n" amz_date "\n" scope "\n" prev_sig "\n"
 *             SIGV4_EMPTY_SHA256 "\n" hex(sha256(data)))
 * where scope is "date/region/service/aws4_request". data_sha256 is the raw 32-byte hash. */
void sigv4_chunk_signature(const uint8_t key[32], const char *amz_date, const char *scope,
                           const char *prev_sig, const uint8_t data_sha256[32], char sig[65]);
/* Signature of a trailer: HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" amz_date "\n" scope "\n"
 * prev_sig "\n" hex(sha256(trailer))) where trailer is the canonical trailer text, each
 * header as "name:value\n" (the x-amz-trailer-signature line excluded). */
void sigv4_trailer_signature(const uint8_t key[32], const char *amz_date, const char *scope,
                             const char *prev_sig, const char *trailer, size_t n, char sig[65]);

/* ---- checksums (checksum.c) ---- */

enum sigv4_cksum_algo {
    SIGV4_CK_NONE,
    SIGV4_CK_CRC32,
    SIGV4_CK_CRC32C,
    SIGV4_CK_CRC64NVME,
    SIGV4_CK_SHA1,
    SIGV4_CK_SHA256,
};

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), standard pre/post inversion:
 * start with crc = 0, feed pieces by passing the previous result. "123456789" -> 0xE3069283. */
uint32_t sigv4_crc32c(uint32_t crc, const void *p, size_t n);
/* CRC-64/NVME (Rocksoft polynomial 0xAD93D23594C93659, reflected 0x9A6C9329AC4BC9B5,
 * init and xorout all ones): start with 0, chain like crc32c. "123456789" ->
 * 0xAE8B14860A799888. */
uint64_t sigv4_crc64nvme(uint64_t crc, const void *p, size_t n);

/* A running checksum of one algorithm. */
struct sigv4_cksum {
    enum sigv4_cksum_algo algo;
    uint32_t crc32;
    uint64_t crc64;
    void *md; /* EVP_MD_CTX for SHA1/SHA256 */
};

/* "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"; "" for NONE. */
const char *sigv4_cksum_name(enum sigv4_cksum_algo algo);
/* The algorithm of a header/trailer name such as "x-amz-checksum-crc32" (case-insensitive);
 * SIGV4_CK_NONE when name is not one of the five. */
enum sigv4_cksum_algo sigv4_cksum_from_header(const char *name);
/* Digest size in bytes: 4, 4, 8, 20, 32 (0 for NONE). */
size_t sigv4_cksum_size(enum sigv4_cksum_algo algo);
/* Starts a checksum. Returns TS_OK or TS_E_INTERNAL (OOM). */
int sigv4_cksum_init(struct sigv4_cksum *c, enum sigv4_cksum_algo algo);
void sigv4_cksum_update(struct sigv4_cksum *c, const void *p, size_t n);
/* Writes the big-endian digest (sigv4_cksum_size bytes) into out; the checksum is done
 * (call sigv4_cksum_free afterwards). */
void sigv4_cksum_final(struct sigv4_cksum *c, uint8_t out[32]);
void sigv4_cksum_free(struct sigv4_cksum *c); /* idempotent; a zeroed struct is fine */
/* The algorithm named "CRC32", "CRC32C", "CRC64NVME", "SHA1" or "SHA256" (any case; the
 * x-amz-checksum-algorithm values); SIGV4_CK_NONE for anything else or NULL. */
enum sigv4_cksum_algo sigv4_cksum_from_name(const char *name);
/* CRC32, CRC32C and CRC64NVME: the algorithms whose values combine (sigv4_crc_combine). */
bool sigv4_cksum_is_crc(enum sigv4_cksum_algo algo);
/* A CRC's value from its big-endian digest d (sigv4_cksum_size bytes), and back. */
uint64_t sigv4_crc_get(enum sigv4_cksum_algo algo, const uint8_t *d);
void sigv4_crc_put(enum sigv4_cksum_algo algo, uint64_t v, uint8_t *out);
/* The CRC of A||B from crc1 = CRC(A), crc2 = CRC(B) and len2 = length of B in bytes
 * (len2 < 2^60): zlib's crc32_combine for CRC32, the same GF(2) method for CRC32C and
 * CRC64NVME. 0 for the other algorithms. */
uint64_t sigv4_crc_combine(enum sigv4_cksum_algo algo, uint64_t crc1, uint64_t crc2, uint64_t len2);

/* ---- Signature Version 2 (S3 only; sts/sigv2.c) ---- */

/* Parses `Authorization: AWS AK:SIG` or the AWSAccessKeyId/Expires/Signature query into a
 * (access_key, signature (base64), presigned, time = Expires, security_token, service "s3").
 * Returns TS_OK, SIGV4_NONE when the request carries no V2 auth, or an error. */
int sigv2_parse(struct http_req *r, struct sigv4_auth *a);
/* Verifies a V2 signature (HMAC-SHA1) for secret at now: presigned URLs until Expires,
 * header auth within 15 minutes of Date / x-amz-date. TS_OK or an error (a->err_msg set). */
int sigv2_verify(struct http_req *r, struct sigv4_auth *a, const char *secret, time_t now);

#endif
