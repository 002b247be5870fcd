/* test_chunked.c -- the SigV4 body filter (sts/chunked.c): the aws-chunked example of the S3
 * API reference ("Signature Calculations for the Authorization Header: Transferring Payload in
 * Multiple Chunks") fed whole, byte by byte and in random splits; broken framing, bad chunk
 * signatures, length mismatches; unsigned and signed trailers with x-amz-checksum-*; plain
 * payload hashes and checksum headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_req.h"
#include "sts/sigv4.h"
#include "tests/harness/t.h"

#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_TIME 1369353600 /* 20130524T000000Z */
#define SCOPE "20130524/us-east-1/s3/aws4_request"

#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

static const char *aws_headers[] = {
    "Host: s3.amazonaws.com",
    "x-amz-date: 20130524T000000Z",
    "x-amz-storage-class: REDUCED_REDUNDANCY",
    "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
    "aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;"
    "x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=" SEED,
    "x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "Content-Encoding: aws-chunked",
    "x-amz-decoded-content-length: 66560",
    "Content-Length: 66824",
    NULL};

struct body {
    uint8_t *p;
    size_t n;
};

static void add(struct body *b, const void *p, size_t n)
{
    b->p = realloc(b->p, b->n + n);
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void adds(struct body *b, const char *s)
{
    add(b, s, strlen(s));
}

static struct body aws_body(void)
{
    struct body b = {NULL, 0};
    uint8_t *a = malloc(65536);
    memset(a, 'a', 65536);
    adds(&b, "10000;chunk-signature=" SIG1 "\r\n");
    add(&b, a, 65536);
    adds(&b, "\r\n400;chunk-signature=" SIG2 "\r\n");
    add(&b, a, 1024);
    adds(&b, "\r\n0;chunk-signature=" SIG3 "\r\n\r\n");
    free(a);
    return b;
}

enum split { WHOLE, BYTES, RANDOM };

/* Runs a request through parse, verify, install and the filter. Returns the first error;
 * *out (if not NULL) gets the decoded bytes. */
static int run(const char *method, const char *uri, const char *const *headers, const char *secret,
               const uint8_t *body, size_t n, enum split how, struct body *out, char *algo,
               char *b64)
{
    struct http_req r;
    struct http_req_priv pv;
    struct sigv4_auth a;
    int rc;

    fake_req(&r, &pv, method, uri, headers);
    rc = sigv4_parse(&r, &a);
    if (rc == TS_OK) {
        rc = sigv4_verify(&r, &a, secret, "us-east-1", S3_TIME, sigv4_declared_payload(&a), NULL);
        if (rc != TS_OK)
            goto done;
    } else if (rc == SIGV4_NONE) {
        secret = NULL;
    } else {
        goto done;
    }
    rc = sigv4_install_filter(&r, &a, secret, NULL);
    if (rc != TS_OK)
        goto done;
    if (r.filter.write == NULL) {
        rc = -2; /* no filter installed */
        goto done;
    }
    for (size_t off = 0; off < n && rc == TS_OK;) {
        size_t k = how == WHOLE ? n : how == BYTES ? 1 : 1 + (size_t)rand() % 9000;
        if (k > n - off)
            k = n - off;
        rc = r.filter.write(&r, r.filter.ctx, body + off, k);
        off += k;
    }
    if (rc == TS_OK)
        rc = r.filter.finish(&r, r.filter.ctx);
    if (out != NULL) {
        out->n = buf_len(&pv.out);
        out->p = malloc(out->n + 1);
        memcpy(out->p, buf_str(&pv.out), out->n);
    }
    if (algo != NULL) {
        strcpy(algo, r.checksum_algo);
        strcpy(b64, r.checksum_b64);
    }
done:
    fake_req_free(&r);
    return rc;
}

static bool all_a(const struct body *b, size_t n)
{
    if (b->n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (b->p[i] != 'a')
            return false;
    return true;
}

static void test_aws_example(void)
{
    struct body b = aws_body(), out;
    is_int(b.n, 66824, "example body length");
    for (int how = WHOLE; how <= RANDOM; how++) {
        for (int rep = 0; rep < (how == RANDOM ? 20 : 1); rep++) {
            out.p = NULL;
            is_int(run("PUT", "/examplebucket/chunkObject.txt", aws_headers, S3_SECRET, b.p, b.n,
                       (enum split)how, &out, NULL, NULL),
                   TS_OK, "aws-chunked example");
            ok(all_a(&out, 66560), "decoded body (split %d)", how);
            free(out.p);
        }
    }

    /* Seed signature wrong secret. */
    is_int(run("PUT", "/examplebucket/chunkObject.txt", aws_headers, "x", b.p, b.n, WHOLE, NULL,
               NULL, NULL),
           TS_E_SIGNATURE, "seed signature");

    /* A bad chunk signature (second chunk). */
    {
        struct body c = aws_body();
        uint8_t *p = memmem(c.p, c.n, SIG2, 64);
        p[10] ^= 1;
        is_int(run("PUT", "/examplebucket/chunkObject.txt", aws_headers, S3_SECRET, c.p, c.n, BYTES,
                   NULL, NULL, NULL),
               TS_E_SIGNATURE, "bad chunk signature");
        p[10] ^= 1;
        p = memmem(c.p, c.n, SIG3, 64); /* the final 0-size chunk is checked too */
        p[63] = p[63] == '0' ? '1' : '0';
        is_int(run("PUT", "/examplebucket/chunkObject.txt", aws_headers, S3_SECRET, c.p, c.n, WHOLE,
                   NULL, NULL, NULL),
               TS_E_SIGNATURE, "bad final chunk signature");
        free(c.p);
    }
    /* Changed data under a good signature. */
    {
        struct body c = aws_body();
        c.p[100] = 'b';
        is_int(run("PUT", "/examplebucket/chunkObject.txt", aws_headers, S3_SECRET, c.p, c.n,
                   RANDOM, NULL, NULL, NULL),
               TS_E_SIGNATURE, "tampered chunk data");
        free(c.p);
    }
    /* Truncations: everywhere must fail, never succeed. */
    {
        size_t cuts[] = {0, 1, 50, 88, 1000, 65624, 65625, 65626, 66700, 66820, 66822, 66823};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            int rc = run("PUT", "/examplebucket/chunkObject.txt", aws_headers, S3_SECRET, b.p,
                         cuts[i], RANDOM, NULL, NULL, NULL);
            is_int(rc, TS_E_INCOMPLETE_BODY, "truncated body");
        }
    }
    /* Bytes after the end. */
    {
        struct body c = aws_body();
        adds(&c, "x");
        is_int(run("PUT", "/examplebucket/chunkObject.txt", aws_headers, S3_SECRET, c.p, c.n, WHOLE,
                   NULL, NULL, NULL),
               TS_E_INVALID_REQUEST, "trailing garbage");
        free(c.p);
    }
    /* Garbled framing: missing CRLF after data, bad hex. */
    {
        struct body c = aws_body();
        c.p[88 + 65536] = 'x';
        is_int(run("PUT", "/examplebucket/chunkObject.txt", aws_headers, S3_SECRET, c.p, c.n, WHOLE,
                   NULL, NULL, NULL),
               TS_E_INVALID_REQUEST, "no CRLF after data");
        free(c.p);
        c = aws_body();
        c.p[0] = 'g';
        is_int(run("PUT", "/examplebucket/chunkObject.txt", aws_headers, S3_SECRET, c.p, c.n, WHOLE,
                   NULL, NULL, NULL),
               TS_E_INVALID_REQUEST, "bad hex size");
        free(c.p);
    }
    /* An endless chunk-size line is cut off at SIGV4_MAX_CHUNK_LINE. */
    {
        size_t n = 100000;
        uint8_t *p = malloc(n);
        memset(p, '0', n);
        is_int(run("PUT", "/examplebucket/chunkObject.txt", aws_headers, S3_SECRET, p, n, RANDOM,
                   NULL, NULL, NULL),
               TS_E_INVALID_REQUEST, "oversized chunk header");
        free(p);
    }
    free(b.p);
}

/* Builds a request signed by us (Authorization over the given headers) into hdrs[]. */
static void sign_headers(const char *method, const char *uri, const char **hdrs, char *authz,
                         size_t size, const char *signed_headers, const char *payload)
{
    struct http_req r;
    struct http_req_priv pv;
    struct sigv4_input in;
    char sig[65];
    size_t i;

    fake_req(&r, &pv, method, uri, hdrs);
    in = (struct sigv4_input){method, r.raw_path,     r.raw_query,
                              false,  signed_headers, (sigv4_header_iter)http_req_header_foreach,
                              &r,     payload};
    sigv4_signature(&in, S3_SECRET, "20130524T000000Z", "us-east-1", "s3", sig);
    fake_req_free(&r);
    snprintf(authz, size,
             "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/" SCOPE
             ", SignedHeaders=%s, Signature=%s",
             signed_headers, sig);
    for (i = 0; hdrs[i] != NULL; i++)
        ;
    hdrs[i] = authz;
    hdrs[i + 1] = NULL;
}

static void test_signed_trailer(void)
{
    char authz[512], sig[65], seed[65], csig[65], line[256];
    const char *hdrs[12] = {"Host: s3.amazonaws.com",
                            "x-amz-date: 20130524T000000Z",
                            "x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                            "x-amz-trailer: x-amz-checksum-crc32c",
                            "x-amz-decoded-content-length: 5",
                            NULL};
    uint8_t key[32], h[32];
    struct body b = {NULL, 0}, out = {NULL, 0};
    char algo[16], b64[96], canon[128];
    const char *crc = "mnG7TA=="; /* crc32c("hello") = 0x9a71bb4c */

    sign_headers("PUT", "/b/k", hdrs, authz, sizeof authz,
                 "host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-trailer",
                 SIGV4_STREAMING_SIGNED_TRAILER);
    memcpy(seed, strstr(authz, "Signature=") + 10, 65);
    sigv4_signing_key(S3_SECRET, "20130524", "us-east-1", "s3", NULL, key);

    enc_sha256("hello", 5, h);
    sigv4_chunk_signature(key, "20130524T000000Z", SCOPE, seed, h, csig);
    snprintf(line, sizeof line, "5;chunk-signature=%s\r\nhello\r\n", csig);
    adds(&b, line);
    enc_sha256("", 0, h);
    sigv4_chunk_signature(key, "20130524T000000Z", SCOPE, csig, h, sig);
    snprintf(line, sizeof line, "0;chunk-signature=%s\r\n", sig);
    adds(&b, line);
    snprintf(canon, sizeof canon, "x-amz-checksum-crc32c:%s\n", crc);
    sigv4_trailer_signature(key, "20130524T000000Z", SCOPE, sig, canon, strlen(canon), csig);
    snprintf(line, sizeof line, "x-amz-checksum-crc32c:%s\r\nx-amz-trailer-signature:%s\r\n\r\n",
             crc, csig);
    adds(&b, line);

    is_int(run("PUT", "/b/k", hdrs, S3_SECRET, b.p, b.n, BYTES, &out, algo, b64), TS_OK,
           "signed trailer");
    ok(out.n == 5 && memcmp(out.p, "hello", 5) == 0, "signed trailer body");
    is_str(algo, "CRC32C", "checksum algo");
    is_str(b64, crc, "checksum value");
    free(out.p);

    /* Wrong trailer signature. */
    {
        uint8_t *p = memmem(b.p, b.n, csig, 64);
        p[0] = p[0] == 'a' ? 'b' : 'a';
        is_int(run("PUT", "/b/k", hdrs, S3_SECRET, b.p, b.n, WHOLE, NULL, NULL, NULL),
               TS_E_SIGNATURE, "bad trailer signature");
        p[0] = csig[0];
    }
    /* Checksum changed in the trailer (signature then no longer matches either). */
    {
        uint8_t *p = memmem(b.p, b.n, "mnG7TA==", 8);
        p[0] = 'n';
        is_int(run("PUT", "/b/k", hdrs, S3_SECRET, b.p, b.n, WHOLE, NULL, NULL, NULL),
               TS_E_SIGNATURE, "tampered trailer");
        p[0] = 'm';
    }
    free(b.p);
}

static const char *ut_headers[] = {
    "Host: h", "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "x-amz-trailer: x-amz-checksum-crc32", "x-amz-decoded-content-length: 11", NULL};

static void test_unsigned_trailer(void)
{
    static const char good[] =
        "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    static const char bad[] =
        "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
    static const char none[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    static const char noend[] =
        "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n";
    struct body out = {NULL, 0};
    char algo[16], b64[96];

    /* crc32("hello world") = 0x0d4a1185 -> DUoRhQ== */
    is_int(run("PUT", "/b/k", ut_headers, NULL, (const uint8_t *)good, strlen(good), BYTES, &out,
               algo, b64),
           TS_OK, "unsigned trailer (anonymous)");
    ok(out.n == 11 && memcmp(out.p, "hello world", 11) == 0, "decoded");
    is_str(algo, "CRC32", "algo");
    is_str(b64, "DUoRhQ==", "b64");
    free(out.p);
    is_int(run("PUT", "/b/k", ut_headers, NULL, (const uint8_t *)bad, strlen(bad), RANDOM, NULL,
               NULL, NULL),
           TS_E_BAD_DIGEST, "trailer checksum mismatch");
    is_int(run("PUT", "/b/k", ut_headers, NULL, (const uint8_t *)none, strlen(none), WHOLE, NULL,
               NULL, NULL),
           TS_E_INVALID_REQUEST, "declared trailer missing");
    is_int(run("PUT", "/b/k", ut_headers, NULL, (const uint8_t *)noend, strlen(noend), WHOLE, NULL,
               NULL, NULL),
           TS_OK, "trailer without final empty line");
    {
        const char *h[] = {"Host: h", "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                           "x-amz-trailer: x-amz-checksum-crc32",
                           "x-amz-decoded-content-length: 12", NULL};
        is_int(run("PUT", "/b/k", h, NULL, (const uint8_t *)good, strlen(good), WHOLE, NULL, NULL,
                   NULL),
               TS_E_INCOMPLETE_BODY, "decoded length mismatch");
    }
    /* Signed streaming without credentials is refused. */
    is_int(run("PUT", "/b/k",
               (const char *[]){"Host: h", "x-amz-content-sha256: " SIGV4_STREAMING_SIGNED,
                                "x-amz-decoded-content-length: 1", NULL},
               NULL, (const uint8_t *)"", 0, WHOLE, NULL, NULL, NULL),
           TS_E_ACCESS_DENIED, "anonymous signed streaming");
}

static void test_plain(void)
{
    const char *ok_h[] = {
        "Host: h",
        "x-amz-content-sha256: "
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "x-amz-checksum-sha256: LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", NULL};
    const char *ck_h[] = {"Host: h", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                          "x-amz-checksum-crc32: NhCmhg==", NULL};
    const char *two_h[] = {
        "Host: h", "x-amz-checksum-crc32: NhCmhg==", "x-amz-checksum-crc32c: mnG7TA==", NULL};
    const char *bad64_h[] = {"Host: h", "x-amz-checksum-crc32: NhCmhg", NULL};
    const char *unsigned_h[] = {"Host: h", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                                "x-amz-checksum-algorithm: CRC32", NULL};
    const char *junk_h[] = {"Host: h", "x-amz-content-sha256: abc", NULL};
    const char *stream_h[] = {
        "Host: h", "x-amz-content-sha256: STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", NULL};
    char algo[16], b64[96];
    struct body out = {NULL, 0};

    is_int(run("PUT", "/b/k", ok_h, NULL, (const uint8_t *)"hello", 5, BYTES, &out, algo, b64),
           TS_OK, "payload hash + sha256 checksum");
    ok(out.n == 5 && memcmp(out.p, "hello", 5) == 0, "passed through");
    is_str(algo, "SHA256", "algo");
    is_str(b64, "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", "b64");
    free(out.p);
    is_int(run("PUT", "/b/k", ok_h, NULL, (const uint8_t *)"hellp", 5, WHOLE, NULL, NULL, NULL),
           TS_E_SHA256_MISMATCH, "payload hash mismatch");
    is_int(run("PUT", "/b/k", ck_h, NULL, (const uint8_t *)"hello", 5, WHOLE, NULL, algo, b64),
           TS_OK, "crc32 header");
    is_str(algo, "CRC32", "crc32 algo");
    is_int(run("PUT", "/b/k", ck_h, NULL, (const uint8_t *)"hellO", 5, WHOLE, NULL, NULL, NULL),
           TS_E_BAD_DIGEST, "crc32 header mismatch");
    is_int(run("PUT", "/b/k", two_h, NULL, (const uint8_t *)"hello", 5, WHOLE, NULL, NULL, NULL),
           TS_E_INVALID_REQUEST, "two checksum headers");
    is_int(run("PUT", "/b/k", bad64_h, NULL, (const uint8_t *)"hello", 5, WHOLE, NULL, NULL, NULL),
           TS_E_INVALID_REQUEST, "malformed checksum");
    is_int(
        run("PUT", "/b/k", unsigned_h, NULL, (const uint8_t *)"hello", 5, WHOLE, NULL, NULL, NULL),
        -2, "UNSIGNED-PAYLOAD: no filter");
    is_int(run("POST", "/b/k?uploadId=1", ck_h, NULL, (const uint8_t *)"<x/>", 4, WHOLE, NULL, NULL,
               NULL),
           -2, "CompleteMultipartUpload checksum headers ignored");
    is_int(run("PUT", "/b/k", junk_h, NULL, (const uint8_t *)"x", 1, WHOLE, NULL, NULL, NULL),
           TS_E_INVALID_ARGUMENT, "junk x-amz-content-sha256");
    is_int(run("PUT", "/b/k", stream_h, NULL, (const uint8_t *)"x", 1, WHOLE, NULL, NULL, NULL),
           TS_E_NOT_IMPLEMENTED, "SigV4a streaming");
}

static void test_missing_decoded_length(void)
{
    const char *h[] = {aws_headers[0], aws_headers[1], aws_headers[2], aws_headers[3],
                       aws_headers[4], aws_headers[5], aws_headers[7], NULL};
    struct body b = aws_body();
    /* Signature fails first because x-amz-decoded-content-length is signed: build the filter
     * directly instead. */
    struct http_req r;
    struct http_req_priv pv;
    struct sigv4_auth a;
    fake_req(&r, &pv, "PUT", "/examplebucket/chunkObject.txt", h);
    is_int(sigv4_parse(&r, &a), TS_OK, "parse");
    is_int(sigv4_install_filter(&r, &a, S3_SECRET, NULL), TS_E_MISSING_CONTENT_LENGTH,
           "decoded length required");
    fake_req_free(&r);
    free(b.p);
}

int main(void)
{
    srand(1);
    test_aws_example();
    test_signed_trailer();
    test_unsigned_trailer();
    test_plain();
    test_missing_decoded_length();
    return t_done();
}
