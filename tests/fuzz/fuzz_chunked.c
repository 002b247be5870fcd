/* fuzz_chunked.c -- the SigV4 body filter (sts/chunked.c, sts/checksum.c): aws-chunked
 * decoding with and without chunk signatures, trailers with x-amz-checksum-*, plain payload
 * hashes and checksum headers, fed in pieces whose sizes come from the input.
 *
 * Input: byte 0 selects the mode, byte 1 the split size, the rest is the body.
 *   mode % 6 == 0  STREAMING-UNSIGNED-PAYLOAD-TRAILER, x-amz-trailer: x-amz-checksum-crc32
 *   mode % 6 == 1  STREAMING-AWS4-HMAC-SHA256-PAYLOAD (raw: chunk signatures as given)
 *   mode % 6 == 2  STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER with a crc32c trailer
 *   mode % 6 == 3  signed chunks built by this harness around the input (valid framing and
 *                  signatures, the input split into chunks at '|'), so the decoder's
 *                  signed path and the decoded-length check are reached
 *   mode % 6 == 4  a hex payload hash + x-amz-checksum-sha256 header
 *   mode % 6 == 5  unsigned trailer naming x-amz-checksum-crc64nvme */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "sts/sigv4.h"
#include "tests/unit/sts/fake_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AMZ_DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"

static void build_signed(const uint8_t *p, size_t n, struct buf *body, size_t *decoded)
{
    uint8_t key[32], h[32];
    char prev[65], sig[65], line[128];
    size_t start = 0;

    sigv4_signing_key(SECRET, "20130524", "us-east-1", "s3", NULL, key);
    memcpy(prev, SEED, 65);
    *decoded = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '|')
            continue;
        size_t len = i - start;
        if (len > 0) {
            SHA256(p + start, len, h);
            sigv4_chunk_signature(key, AMZ_DATE, SCOPE, prev, h, sig);
            snprintf(line, sizeof line, "%zx;chunk-signature=%s\r\n", len, sig);
            buf_add(body, line, strlen(line));
            buf_add(body, p + start, len);
            buf_add(body, "\r\n", 2);
            memcpy(prev, sig, 65);
            *decoded += len;
        }
        start = i + 1;
    }
    SHA256((const uint8_t *)"", 0, h);
    sigv4_chunk_signature(key, AMZ_DATE, SCOPE, prev, h, sig);
    snprintf(line, sizeof line, "0;chunk-signature=%s\r\n\r\n", sig);
    buf_add(body, line, strlen(line));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_req r;
    struct http_req_priv pv;
    struct sigv4_auth a;
    struct buf body;
    char declen[64];
    const char *hdrs[8];
    size_t nh = 0, decoded = 0;
    const uint8_t *p;
    size_t n, step;
    int mode, rc;

    if (size < 2 || size > 65536)
        return 0;
    mode = data[0] % 6;
    step = (size_t)data[1] + 1;
    buf_init(&body, 1u << 20);
    if (mode == 3)
        build_signed(data + 2, size - 2, &body, &decoded);
    else
        buf_add(&body, data + 2, size - 2);
    p = (const uint8_t *)buf_str(&body);
    n = body.len;
    if (mode != 3)
        decoded = n > 16 ? n - 16 : n; /* mostly wrong: the length check must catch it */
    snprintf(declen, sizeof declen, "x-amz-decoded-content-length: %zu", decoded);

    hdrs[nh++] = "Host: bucket.s3.amazonaws.com";
    hdrs[nh++] = "x-amz-date: " AMZ_DATE;
    switch (mode) {
    case 0:
        hdrs[nh++] = "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER";
        hdrs[nh++] = "x-amz-trailer: x-amz-checksum-crc32";
        break;
    case 1:
    case 3:
        hdrs[nh++] = "x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
        hdrs[nh++] = declen;
        break;
    case 2:
        hdrs[nh++] = "x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
        hdrs[nh++] = "x-amz-trailer: x-amz-checksum-crc32c";
        hdrs[nh++] = declen;
        break;
    case 4:
        hdrs[nh++] = "x-amz-content-sha256: "
                     "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        hdrs[nh++] = "x-amz-checksum-sha256: LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";
        break;
    default:
        hdrs[nh++] = "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER";
        hdrs[nh++] = "x-amz-trailer: x-amz-checksum-crc64nvme";
        break;
    }
    hdrs[nh] = NULL;
    fake_req(&r, &pv, "PUT", "/bucket/key", hdrs);

    /* The parsed authentication the filter chains from (sigv4_verify is fuzzed elsewhere). */
    memset(&a, 0, sizeof a);
    snprintf(a.access_key, sizeof a.access_key, "AKIAIOSFODNN7EXAMPLE");
    memcpy(a.date, "20130524", 9);
    snprintf(a.region, sizeof a.region, "us-east-1");
    snprintf(a.service, sizeof a.service, "s3");
    memcpy(a.signature, SEED, 65);
    memcpy(a.amz_date, AMZ_DATE, sizeof AMZ_DATE);
    a.content_sha256 = http_req_header(&r, "x-amz-content-sha256");

    rc = sigv4_install_filter(&r, &a, SECRET, NULL);
    if (rc == TS_OK && r.filter.write != NULL) {
        for (size_t off = 0; off < n && rc == TS_OK; off += step) {
            size_t k = n - off < step ? n - off : step;
            rc = r.filter.write(&r, r.filter.ctx, p + off, k);
        }
        if (rc == TS_OK && r.filter.finish != NULL)
            rc = r.filter.finish(&r, r.filter.ctx);
        /* A correctly signed body built here must decode to exactly the input chunks. */
        if (mode == 3 && rc != TS_OK && memchr(data + 2, '|', size - 2) == NULL && size > 2)
            abort();
        if (rc == TS_OK && mode == 3 && pv.out.len != decoded)
            abort();
    }
    fake_req_free(&r);
    buf_free(&body);
    return 0;
}
