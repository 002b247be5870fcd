/* test_sigv4.c -- SigV4 canonical requests and signatures against AWS's published vectors
 * (the aws-sig-v4-test-suite, as shipped in awslabs/aws-c-auth, and the S3 API reference's
 * "Signature Calculations for the Authorization Header" and presigned-URL examples), then
 * sigv4_parse / sigv4_verify on whole requests: time skew, expiry, region, tampering, SigV2.
 */
#include <stdio.h>
#include <string.h>

#include "fake_req.h"
#include "sts/sigv4.h"
#include "tests/harness/t.h"

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SUITE_TIME 1440938160 /* 20150830T123600Z */
#define S3_TIME 1369353600    /* 20130524T000000Z */

/* ---- the pure layer over a plain header list ---- */

struct kvlist {
    const char *const *lines; /* "Name: value" */
};

static void kv_iter(void *src, int (*fn)(void *, const char *, const char *), void *fctx)
{
    const struct kvlist *l = src;
    for (size_t i = 0; l->lines[i] != NULL; i++) {
        char name[128];
        const char *c = strchr(l->lines[i], ':'), *v = c + 1;
        snprintf(name, sizeof name, "%.*s", (int)(c - l->lines[i]), l->lines[i]);
        while (*v == ' ')
            v++;
        if (fn(fctx, name, v) != 0)
            return;
    }
}

static void test_canonical(void)
{
    static const char *const h1[] = {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z",
                                     NULL};
    static const char *const h2[] = {"Host:example.amazonaws.com", "My-Header1: value1",
                                     "My-Header2: \"a   b   c\"", "X-Amz-Date:20150830T123600Z",
                                     NULL};
    struct kvlist l1 = {h1}, l2 = {h2};
    struct sigv4_input in = {
        "GET", "/", "", false, "host;x-amz-date", kv_iter, &l1, SIGV4_EMPTY_SHA256};
    struct buf b;

    buf_init(&b, 4096);
    is_int(sigv4_canonical_request(&in, &b), TS_OK, "get-vanilla creq");
    is_str(buf_str(&b),
           "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
           "get-vanilla canonical request");
    buf_free(&b);

    in.headers_src = &l2;
    in.signed_headers = "host;my-header1;my-header2;x-amz-date";
    buf_init(&b, 4096);
    is_int(sigv4_canonical_request(&in, &b), TS_OK, "get-header-value-trim creq");
    is_str(
        buf_str(&b),
        "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
        "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n" SIGV4_EMPTY_SHA256,
        "get-header-value-trim canonical request");
    buf_free(&b);

    /* Query: sorted by encoded key, values re-encoded once, X-Amz-Signature dropped when
     * presigned, a key without '=' gets an empty value; path never double-encoded. */
    in = (struct sigv4_input){"GET",
                              "/a%20b/c%24d/%E1%88%B4",
                              "b=2&a=x%2Fy&X-Amz-Signature=zz&acl&A=1",
                              true,
                              "host",
                              kv_iter,
                              &l1,
                              "UNSIGNED-PAYLOAD"};
    buf_init(&b, 4096);
    is_int(sigv4_canonical_request(&in, &b), TS_OK, "query creq");
    is_str(buf_str(&b),
           "GET\n/a%20b/c%24d/%E1%88%B4\nA=1&a=x%2Fy&acl=&b=2\nhost:example.amazonaws.com\n\nhost\n"
           "UNSIGNED-PAYLOAD",
           "query canonical request");
    buf_free(&b);

    /* Missing signed header, bad escape. */
    in.signed_headers = "host;x-missing";
    buf_init(&b, 4096);
    is_int(sigv4_canonical_request(&in, &b), TS_E_AUTH_HEADER_MALFORMED, "missing signed header");
    buf_free(&b);
    in.signed_headers = "host";
    in.raw_path = "/bad%zz";
    buf_init(&b, 4096);
    is_int(sigv4_canonical_request(&in, &b), TS_E_INVALID_URI, "bad escape");
    buf_free(&b);
}

static void test_signing_key(void)
{
    /* IAM docs: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215/us-east-1/iam. */
    uint8_t k1[32], k2[32], k3[32];
    char hex[65];
    struct sigv4_keycache *c = sigv4_keycache_new();
    sigv4_signing_key(SUITE_SECRET, "20120215", "us-east-1", "iam", NULL, k1);
    enc_hex(k1, 32, hex);
    is_str(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d",
           "signing key (IAM example)");
    sigv4_signing_key(SUITE_SECRET, "20120215", "us-east-1", "iam", c, k2);
    sigv4_signing_key(SUITE_SECRET, "20120215", "us-east-1", "iam", c, k3); /* cache hit */
    ok(memcmp(k1, k2, 32) == 0 && memcmp(k1, k3, 32) == 0, "cached key equals derived key");
    sigv4_signing_key("other", "20120215", "us-east-1", "iam", c, k2);
    ok(memcmp(k1, k2, 32) != 0, "different secret, different key");
    sigv4_keycache_free(c);
}

/* ---- whole requests ---- */

struct vec {
    const char *name, *method, *uri;
    const char *headers[8];
    const char *payload;
};

/* AWS SigV4 test suite (service "service"): each request carries its published
 * Authorization header; verifying it proves canonicalisation and signing. */
static const struct vec suite[] = {
    {"get-vanilla",
     "GET",
     "/",
     {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
     NULL},
    {"post-vanilla",
     "POST",
     "/",
     {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
     NULL},
    {"get-vanilla-query-order-key-case",
     "GET",
     "/?Param2=value2&Param1=value1",
     {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
     NULL},
    {"get-header-value-trim",
     "GET",
     "/",
     {"Host:example.amazonaws.com", "My-Header1: value1", "My-Header2: \"a   b   c\"",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, "
      "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
      "X-Amz-Date:20150830T123600Z"},
     NULL},
    {"get-header-key-duplicate",
     "GET",
     "/",
     {"Host:example.amazonaws.com", "My-Header1:value2", "My-Header1:value2", "My-Header1:value1",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;my-header1;x-amz-date, "
      "Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
      "X-Amz-Date:20150830T123600Z"},
     NULL},
    {"get-header-value-order",
     "GET",
     "/",
     {"Host:example.amazonaws.com", "My-Header1:value4", "My-Header1:value1", "My-Header1:value3",
      "My-Header1:value2",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;my-header1;x-amz-date, "
      "Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
      "X-Amz-Date:20150830T123600Z"},
     NULL},
    {"get-utf8",
     "GET",
     "/\xe1\x88\xb4",
     {"Host:example.amazonaws.com",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
      "X-Amz-Date:20150830T123600Z"},
     NULL},
    {"get-space-unnormalized",
     "GET",
     "/example space/",
     {"Host:example.amazonaws.com",
      /* unlisted: its value is the payload line, signed anyway (S3 accepts it so) */
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
      "X-Amz-Date:20150830T123600Z"},
     NULL},
    {"get-slash-dot-slash-unnormalized (S3 does not normalise)",
     "GET",
     "/./",
     {"Host:example.amazonaws.com",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=68714168e6557f8f2de0ef956fc24dc2593a4bd2961f8df51898d8a134695145",
      "X-Amz-Date:20150830T123600Z"},
     NULL},
    {"get-vanilla-utf8-query",
     "GET",
     "/?\xe1\x88\xb4=bar",
     {"Host:example.amazonaws.com",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
      "X-Amz-Date:20150830T123600Z"},
     NULL},
    {"get-vanilla-query-unreserved",
     "GET",
     "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~"
     "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
     {"Host:example.amazonaws.com",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
      "X-Amz-Date:20150830T123600Z"},
     NULL},
    {"get-vanilla-empty-query-key",
     "GET",
     "/?Param1=value1",
     {"Host:example.amazonaws.com",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
      "X-Amz-Date:20150830T123600Z"},
     NULL},
    {"post-x-www-form-urlencoded",
     "POST",
     "/",
     {"Content-Type:application/x-www-form-urlencoded", "Host:example.amazonaws.com",
      "Content-Length:13",
      "x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
      "Authorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
      "aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;"
      "x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
      "X-Amz-Date:20150830T123600Z"},
     "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"},
};

/* S3 API reference, "Signature Calculations for the Authorization Header". */
static const struct vec s3[] = {
    {"S3 GET Object (Range)",
     "GET",
     "/test.txt",
     {"Host: examplebucket.s3.amazonaws.com", "Range: bytes=0-9",
      "x-amz-content-sha256: " SIGV4_EMPTY_SHA256, "x-amz-date: 20130524T000000Z",
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
      "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
     NULL},
    {"S3 PUT Object",
     "PUT",
     "/test%24file.text",
     {"Host: examplebucket.s3.amazonaws.com", "Date: Fri, 24 May 2013 00:00:00 GMT",
      "x-amz-date: 20130524T000000Z", "x-amz-storage-class: REDUCED_REDUNDANCY",
      "x-amz-content-sha256: 44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
      "aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
      "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
     NULL},
    {"S3 GET Bucket Lifecycle",
     "GET",
     "/?lifecycle",
     {"Host: examplebucket.s3.amazonaws.com", "x-amz-content-sha256: " SIGV4_EMPTY_SHA256,
      "x-amz-date: 20130524T000000Z",
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
      "aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
      "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
     NULL},
    {"S3 GET Bucket (List Objects)",
     "GET",
     "/?max-keys=2&prefix=J",
     {"Host: examplebucket.s3.amazonaws.com", "x-amz-content-sha256: " SIGV4_EMPTY_SHA256,
      "x-amz-date: 20130524T000000Z",
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
      "aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
      "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
     NULL},
};

static int verify_vec(const struct vec *v, const char *secret, time_t now, const char *region,
                      struct sigv4_keycache *kc)
{
    struct http_req r;
    struct http_req_priv pv;
    struct sigv4_auth a;
    int rc;
    fake_req(&r, &pv, v->method, v->uri, v->headers);
    rc = sigv4_parse(&r, &a);
    if (rc == TS_OK) {
        const char *ph = v->payload ? v->payload : sigv4_declared_payload(&a);
        rc = sigv4_verify(&r, &a, secret, region, now, ph, kc);
    }
    fake_req_free(&r);
    return rc;
}

static void test_vectors(void)
{
    struct sigv4_keycache *kc = sigv4_keycache_new();
    for (size_t i = 0; i < sizeof suite / sizeof suite[0]; i++) {
        is_int(verify_vec(&suite[i], SUITE_SECRET, SUITE_TIME, NULL, NULL), TS_OK, suite[i].name);
        is_int(verify_vec(&suite[i], SUITE_SECRET, SUITE_TIME, "us-east-1", kc), TS_OK,
               suite[i].name);
        is_int(verify_vec(&suite[i], SUITE_SECRET "x", SUITE_TIME, NULL, kc), TS_E_SIGNATURE,
               suite[i].name);
    }
    for (size_t i = 0; i < sizeof s3 / sizeof s3[0]; i++) {
        is_int(verify_vec(&s3[i], S3_SECRET, S3_TIME + 60, "us-east-1", kc), TS_OK, s3[i].name);
        is_int(verify_vec(&s3[i], S3_SECRET, S3_TIME - 60, "us-east-1", kc), TS_OK, s3[i].name);
        is_int(verify_vec(&s3[i], SUITE_SECRET, S3_TIME, NULL, kc), TS_E_SIGNATURE, s3[i].name);
        is_int(verify_vec(&s3[i], S3_SECRET, S3_TIME + 901, NULL, kc), TS_E_SKEWED, s3[i].name);
        is_int(verify_vec(&s3[i], S3_SECRET, S3_TIME - 901, NULL, kc), TS_E_SKEWED, s3[i].name);
    }
    /* Region: the configured one or us-east-1; the vectors are signed for us-east-1. */
    is_int(verify_vec(&s3[0], S3_SECRET, S3_TIME, "eu-west-1", kc), TS_OK, "us-east-1 accepted");
    sigv4_keycache_free(kc);
}

static void test_pure_signature(void)
{
    /* sigv4_signature (the client side) reproduces the suite's get-vanilla. */
    static const char *const h[] = {"Host:example.amazonaws.com", "X-Amz-Date:20150830T123600Z",
                                    NULL};
    struct kvlist l = {h};
    struct sigv4_input in = {
        "GET", "/", "", false, "host;x-amz-date", kv_iter, &l, SIGV4_EMPTY_SHA256};
    char sig[65];
    is_int(sigv4_signature(&in, SUITE_SECRET, "20150830T123600Z", "us-east-1", "service", sig),
           TS_OK, "sign get-vanilla");
    is_str(sig, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
           "get-vanilla signature");
}

#define PRESIGN_URI(exp, sig)                                                                      \
    "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"  \
    "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=" exp              \
    "&X-Amz-SignedHeaders=host&X-Amz-Signature=" sig

static void test_presigned(void)
{
    /* S3 API reference, "Authenticating Requests: Using Query Parameters". */
    struct vec v = {
        "presigned GET",
        "GET",
        PRESIGN_URI("86400", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
        {"Host: examplebucket.s3.amazonaws.com"},
        NULL};
    struct http_req r;
    struct http_req_priv pv;
    struct sigv4_auth a;

    is_int(verify_vec(&v, S3_SECRET, S3_TIME + 3600, "us-east-1", NULL), TS_OK, "presigned ok");
    is_int(verify_vec(&v, S3_SECRET, S3_TIME + 86400, NULL, NULL), TS_OK, "presigned last second");
    is_int(verify_vec(&v, S3_SECRET, S3_TIME + 86401, NULL, NULL), TS_E_EXPIRED_PRESIGN,
           "presigned expired");
    is_int(verify_vec(&v, S3_SECRET, S3_TIME - 901, NULL, NULL), TS_E_ACCESS_DENIED,
           "presigned not yet valid");
    is_int(verify_vec(&v, "nope", S3_TIME, NULL, NULL), TS_E_SIGNATURE, "presigned wrong secret");
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, "eu-west-1", NULL), TS_OK, "us-east-1 always ok");

    fake_req(&r, &pv, "GET", v.uri, v.headers);
    is_int(sigv4_parse(&r, &a), TS_OK, "presigned parse");
    ok(a.presigned, "presigned flag");
    is_str(a.access_key, "AKIAIOSFODNN7EXAMPLE", "presigned access key");
    is_str(a.region, "us-east-1", "presigned region");
    is_str(a.service, "s3", "presigned service");
    is_int(a.expires, 86400, "presigned expires");
    is_str(sigv4_declared_payload(&a), "UNSIGNED-PAYLOAD", "presigned payload");
    fake_req_free(&r);

    /* Tampered query. */
    v.uri = PRESIGN_URI(
        "86400", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") "&extra=1";
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_SIGNATURE, "presigned tampered");
    v.uri =
        PRESIGN_URI("604801", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_AUTH_QUERY_MALFORMED,
           "expires > 7 days");
    /* Not a number, negative, 0, over a week: malformed (400 AuthorizationQueryParametersError). */
    v.uri = PRESIGN_URI("0", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_AUTH_QUERY_MALFORMED, "expires 0");
    static const char *const bad_expires[] = {"-1",
                                              "-0x1",
                                              "abc",
                                              "",
                                              "+5",
                                              " 5",
                                              "5 ",
                                              "1e3",
                                              "9223372036854775808",
                                              "604801",
                                              "9223372036854775807"};
    static const char *const bad_msg[] = {
        "X-Amz-Expires must be non-negative",    "X-Amz-Expires should be a number",
        "X-Amz-Expires should be a number",      "X-Amz-Expires should be a number",
        "X-Amz-Expires should be a number",      "X-Amz-Expires should be a number",
        "X-Amz-Expires should be a number",      "X-Amz-Expires should be a number",
        "X-Amz-Expires should be a number",      "X-Amz-Expires must be less than a week",
        "X-Amz-Expires must be less than a week"};
    for (size_t i = 0; i < sizeof bad_expires / sizeof *bad_expires; i++) {
        char uri[512];
        snprintf(uri, sizeof uri,
                 "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE"
                 "%%2F20130524%%2Fus-east-1%%2Fs3%%2Faws4_request&X-Amz-Date=20130524T000000Z&X-"
                 "Amz-Expires=%s&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b8"
                 "6d86835f995330da4c265957d157751f604d404",
                 bad_expires[i]);
        fake_req(&r, &pv, "GET", uri, v.headers);
        is_int(sigv4_parse(&r, &a), TS_E_AUTH_QUERY_MALFORMED, bad_expires[i]);
        ok(a.err_msg != NULL && strncmp(a.err_msg, bad_msg[i], strlen(bad_msg[i])) == 0,
           "X-Amz-Expires message");
        fake_req_free(&r);
    }
    v.uri = PRESIGN_URI("86400", "AEEED9BB");
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_AUTH_QUERY_MALFORMED, "bad sig");
    v.uri = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20130524T000000Z";
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_AUTH_QUERY_MALFORMED,
           "missing parameters");
}

/* Every x-amz-* header must be signed (S3's rule): an extra one turns a good signature into
 * AccessDenied, naming it, for header and presigned authentication alike. */
static void test_unsigned_headers(void)
{
    struct vec v = s3[0]; /* GET Object (Range), SignedHeaders host;range;x-amz-content-sha256;
                             x-amz-date */
    struct vec p = {
        "presigned GET",
        "GET",
        PRESIGN_URI("86400", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
        {"Host: examplebucket.s3.amazonaws.com"},
        NULL};
    struct http_req r;
    struct http_req_priv pv;
    struct sigv4_auth a;

    v.headers[5] = "X-Amz-Copy-Source: /private/secret";
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_ACCESS_DENIED,
           "header auth: unsigned x-amz-copy-source");
    v.headers[5] = "x-amz-meta-colour: blue";
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_ACCESS_DENIED,
           "header auth: unsigned x-amz-meta-*");
    v.headers[5] = "X-Amzn-Trace-Id: Root=1-abc"; /* not x-amz-: left unsigned by SDKs */
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_OK, "x-amzn-trace-id unsigned");
    v.headers[5] = "Content-Type: text/html"; /* unsigned non-x-amz headers stay allowed */
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_OK, "content-type unsigned");
    /* An unlisted x-amz-content-sha256 is the payload line: another value fails the
     * signature, not the rule. */
    p.headers[1] = "x-amz-content-sha256: UNSIGNED-PAYLOAD";
    is_int(verify_vec(&p, S3_SECRET, S3_TIME, NULL, NULL), TS_OK,
           "presigned: x-amz-content-sha256 UNSIGNED-PAYLOAD unlisted");
    p.headers[1] = "x-amz-content-sha256: " SIGV4_EMPTY_SHA256;
    is_int(verify_vec(&p, S3_SECRET, S3_TIME, NULL, NULL), TS_E_SIGNATURE,
           "presigned: another x-amz-content-sha256 breaks the signature");
    p.headers[1] = NULL;

    p.headers[1] = "x-amz-copy-source: /private/secret";
    p.headers[2] = "X-Amz-Metadata-Directive: REPLACE";
    is_int(verify_vec(&p, S3_SECRET, S3_TIME, NULL, NULL), TS_E_ACCESS_DENIED,
           "presigned: unsigned x-amz-copy-source");
    fake_req(&r, &pv, "GET", p.uri, p.headers);
    is_int(sigv4_parse(&r, &a), TS_OK, "presigned parse");
    is_int(sigv4_verify(&r, &a, S3_SECRET, NULL, S3_TIME, sigv4_declared_payload(&a), NULL),
           TS_E_ACCESS_DENIED, "presigned: unsigned headers");
    is_str(a.err_msg,
           "There were headers present in the request which were not signed "
           "(HeadersNotSigned: x-amz-copy-source, x-amz-metadata-directive)",
           "the message names them");
    fake_req_free(&r);
    /* A header-signed x-amz-security-token on a presigned URL is a header like another. */
    p.headers[1] = "x-amz-security-token: tok";
    p.headers[2] = NULL;
    is_int(verify_vec(&p, S3_SECRET, S3_TIME, NULL, NULL), TS_E_ACCESS_DENIED,
           "presigned: unsigned x-amz-security-token header");
}

/* Parses a request; the previous one stays alive until the next call (borrowed strings). */
static struct http_req po_r;
static struct http_req_priv po_pv;
static bool po_live;

static int parse_only(const char *uri, const char *const *headers, struct sigv4_auth *a)
{
    if (po_live)
        fake_req_free(&po_r);
    fake_req(&po_r, &po_pv, "GET", uri, headers);
    po_live = true;
    return sigv4_parse(&po_r, a);
}

static void test_parse_errors(void)
{
    struct sigv4_auth a;
    const char *none[] = {"Host: h", "x-amz-content-sha256: UNSIGNED-PAYLOAD", NULL};
    const char *v2[] = {"Host: h", "Authorization: AWS AKID:c2lnbmF0dXJl", NULL};
    const char *nohost[] = {
        "Host: h", "x-amz-date: 20130524T000000Z",
        "Authorization: AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=x-amz-date, Signature=" SIGV4_EMPTY_SHA256,
        NULL};
    const char *baddate[] = {
        "Host: h", "x-amz-date: 20130525T000000Z",
        "Authorization: AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" SIGV4_EMPTY_SHA256,
        NULL};
    const char *nodate[] = {
        "Host: h",
        "Authorization: AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=" SIGV4_EMPTY_SHA256,
        NULL};
    const char *badcred[] = {
        "Host: h", "x-amz-date: 20130524T000000Z",
        "Authorization: AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws5_request, "
        "SignedHeaders=host, Signature=" SIGV4_EMPTY_SHA256,
        NULL};
    const char *slashak[] = {
        "Host: h", "x-amz-date: 20130524T000000Z", "X-Amz-Security-Token: tok",
        "Authorization: AWS4-HMAC-SHA256   Credential=A/K/20130524/us-west-2/sts/aws4_request ,"
        "SignedHeaders=host;x-amz-date,Signature=" SIGV4_EMPTY_SHA256,
        NULL};
    const char *missing[] = {"Host: h", "x-amz-date: 20130524T000000Z",
                             "Authorization: AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/"
                             "s3/aws4_request, SignedHeaders=host",
                             NULL};

    is_int(parse_only("/b/k", none, &a), SIGV4_NONE, "anonymous");
    is_str(a.content_sha256, "UNSIGNED-PAYLOAD", "anonymous content sha");
    is_int(parse_only("/b/k", v2, &a), SIGV4_V2, "SigV2 header");
    is_int(parse_only("/b/k?AWSAccessKeyId=AK&Signature=x&Expires=1", none, &a), SIGV4_V2,
           "SigV2 query");
    is_int(parse_only("/b/k", nohost, &a), TS_E_AUTH_HEADER_MALFORMED, "host not signed");
    ok(a.err_msg != NULL, "error message set");
    is_int(parse_only("/b/k", baddate, &a), TS_E_AUTH_HEADER_MALFORMED, "scope date mismatch");
    is_int(parse_only("/b/k", nodate, &a), TS_E_ACCESS_DENIED, "no date");
    is_int(parse_only("/b/k", badcred, &a), TS_E_AUTH_HEADER_MALFORMED, "bad terminator");
    is_int(parse_only("/b/k", missing, &a), TS_E_AUTH_HEADER_MALFORMED, "no signature");
    is_int(parse_only("/b/k", slashak, &a), TS_OK, "access key with slash");
    is_str(a.access_key, "A/K", "access key");
    is_str(a.region, "us-west-2", "region");
    is_str(a.service, "sts", "service");
    is_str(a.security_token, "tok", "security token");
    ok(sigv4_declared_payload(&a) == NULL, "no declared payload for header auth");
    is_int(parse_only("/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256", slashak, &a), TS_E_INVALID_ARGUMENT,
           "header and query auth");
    is_int(parse_only("/b/k?X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256", none, &a),
           TS_E_NOT_IMPLEMENTED, "SigV4a");
}

static void test_region_and_tamper(void)
{
    struct vec v = s3[0];
    /* The Range header changed after signing. */
    v.headers[1] = "Range: bytes=0-10";
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_SIGNATURE, "tampered header");
    v = s3[0];
    v.method = "HEAD";
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_SIGNATURE, "tampered method");
    v = s3[0];
    v.uri = "/test.txu";
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_SIGNATURE, "tampered path");
    v = s3[0];
    v.uri = "/test%2Etxt"; /* same path, other encoding: decoded then re-encoded */
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_OK, "equivalent encoding");
    v = s3[0];
    v.headers[1] = "X-Other: 1"; /* signed Range header removed */
    is_int(verify_vec(&v, S3_SECRET, S3_TIME, NULL, NULL), TS_E_AUTH_HEADER_MALFORMED,
           "signed header missing");

    /* Region check: a request signed for eu-west-1 against a us-east-1 server. */
    {
        static const char *const h[] = {"Host: h", "x-amz-date: 20130524T000000Z", NULL};
        struct kvlist l = {h};
        struct sigv4_input in = {
            "GET", "/", "", false, "host;x-amz-date", kv_iter, &l, SIGV4_EMPTY_SHA256};
        char sig[65], authz[512];
        struct vec w = {"eu", "GET", "/", {"Host: h", "x-amz-date: 20130524T000000Z", authz}, NULL};
        sigv4_signature(&in, S3_SECRET, "20130524T000000Z", "eu-west-1", "s3", sig);
        snprintf(authz, sizeof authz,
                 "Authorization: AWS4-HMAC-SHA256 Credential=AK/20130524/eu-west-1/s3/"
                 "aws4_request, SignedHeaders=host;x-amz-date, Signature=%s",
                 sig);
        is_int(verify_vec(&w, S3_SECRET, S3_TIME, "eu-west-1", NULL), TS_OK, "eu-west-1 server");
        is_int(verify_vec(&w, S3_SECRET, S3_TIME, NULL, NULL), TS_OK, "any region");
        is_int(verify_vec(&w, S3_SECRET, S3_TIME, "us-east-1", NULL), TS_E_AUTH_HEADER_MALFORMED,
               "wrong region");
    }
}

int main(void)
{
    test_canonical();
    test_signing_key();
    test_pure_signature();
    test_vectors();
    test_presigned();
    test_unsigned_headers();
    test_parse_errors();
    test_region_and_tamper();
    if (po_live)
        fake_req_free(&po_r);
    return t_done();
}
