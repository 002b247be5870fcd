/* fuzz_sigv4.c -- the SigV4 parsing layer (sts/sigv4.c): the Authorization header and the
 * presigned query (sigv4_parse), the canonical request (sigv4_canonical_request) and the
 * verification path, on a request built from the input:
 *   line 1: method, line 2: raw URI (path?query), following lines: "Name: value" headers.
 * The request time is taken from the request itself so that verification gets past the
 * clock check and reaches the canonical request and signature comparison. */
#include <stdint.h>
#include <string.h>

#include "sts/sigv4.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/unit/sts/fake_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXF (FAKE_MAX + 2)

static void hdr_iter(void *src, int (*fn)(void *fctx, const char *name, const char *value),
                     void *fctx)
{
    http_req_header_foreach(src, fn, fctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[MAXF];
    const char *hdrs[FAKE_MAX + 1];
    size_t nh = 0;
    struct http_req r;
    struct http_req_priv pv;
    struct sigv4_auth a;
    struct buf out;

    if (size > 16384)
        return 0;
    fz_fields(data, size, '\n', f, MAXF);
    for (size_t i = 2; i < MAXF && nh < FAKE_MAX; i++)
        if (strchr(f[i], ':') != NULL)
            hdrs[nh++] = f[i];
    hdrs[nh] = NULL;
    fake_req(&r, &pv, f[0], f[1], hdrs);

    int rc = sigv4_parse(&r, &a);
    if (rc == TS_OK) {
        const char *ph = sigv4_declared_payload(&a);
        (void)sigv4_verify(&r, &a, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", a.time,
                           ph, NULL);
        if (sigv4_install_filter(&r, &a, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL) ==
                TS_OK &&
            r.filter.finish != NULL)
            (void)r.filter.finish(&r, r.filter.ctx);
    } else if (rc == SIGV4_NONE) {
        if (sigv4_install_filter(&r, &a, NULL, NULL) == TS_OK && r.filter.finish != NULL)
            (void)r.filter.finish(&r, r.filter.ctx);
    }

    /* The pure layer, with the signed-header list taken from the last header line. */
    struct sigv4_input in = {.method = f[0],
                             .raw_path = r.raw_path,
                             .raw_query = r.raw_query,
                             .presigned = (size & 1) != 0,
                             .signed_headers = nh ? strchr(hdrs[nh - 1], ':') + 1 : "host",
                             .headers = hdr_iter,
                             .headers_src = &r,
                             .payload_hash = SIGV4_UNSIGNED_PAYLOAD};
    buf_init(&out, SIGV4_MAX_CANONICAL);
    (void)sigv4_canonical_request(&in, &out);
    buf_free(&out);

    fake_req_free(&r);
    fz_free_fields(f, MAXF);
    return 0;
}
