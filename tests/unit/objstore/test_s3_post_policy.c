/* test_s3_post_policy.c -- the POST policy of browser uploads (objstore/s3_post_policy.c):
 * conditions, coverage of the form's fields, expiration and S3's error messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "objstore/s3_int.h"
#include "tests/harness/t.h"

#define NOW 1700000000 /* 2023-11-14T22:13:20Z */

static struct http_kv form_fields[] = {
    {"key", "user/42/a.txt"}, {"Content-Type", "text/plain"}, {"x-amz-meta-who", "me"},
    {"policy", "exempt"},     {"x-ignore-me", "exempt"},      {"file", "exempt"},
};

/* Checks the policy text doc (base64-encoded here) against the form of n fields. */
static int check(const char *doc, size_t n, struct s3_post_limits *lim, struct ts_error *e)
{
    char *b64 = enc_b64((const uint8_t *)doc, strlen(doc));
    struct s3_post_form f = {form_fields, n, "bkt"};
    struct s3_post_limits l;
    int rc = s3_post_policy_check(b64, &f, NOW, lim ? lim : &l, e);
    free(b64);
    return rc;
}

#define EXP "\"expiration\": \"2030-01-01T00:00:00.000Z\", "
#define BASE "{\"bucket\": \"bkt\"}, [\"starts-with\", \"$key\", \"user/42/\"], "
#define REST "[\"eq\", \"$Content-Type\", \"text/plain\"], {\"X-Amz-Meta-Who\": \"me\"}"

int main(void)
{
    struct ts_error e;
    struct s3_post_limits lim;
    const size_t all = sizeof form_fields / sizeof *form_fields;

    is_int(check("{" EXP "\"conditions\": [" BASE REST "]}", all, &lim, &e), TS_OK, "allowed");
    is_int(lim.min, 0, "no range: min");
    ok(lim.max == UINT64_MAX, "no range: max");
    is_int(check("{" EXP "\"conditions\": [" BASE REST ", [\"content-length-range\", 5, 10],"
                 " [\"content-length-range\", \"2\", 8]]}",
                 all, &lim, &e),
           TS_OK, "ranges");
    ok(lim.min == 5 && lim.max == 8, "ranges intersect: %llu..%llu", (unsigned long long)lim.min,
       (unsigned long long)lim.max);
    /* starts-with "" accepts anything; an absent field is "" */
    is_int(check("{" EXP "\"conditions\": [" BASE REST ", [\"starts-with\", \"$absent\", \"\"]]}",
                 all, NULL, &e),
           TS_OK, "empty prefix");
    is_int(check("{" EXP "\"conditions\": [" BASE "{\"x-amz-meta-who\": \"me\"}]}", all, NULL, &e),
           TS_E_ACCESS_DENIED, "Content-Type not covered");
    is_str(e.msg, "Invalid according to Policy: Extra input fields: Content-Type", "extra msg");
    is_int(check("{" EXP "\"conditions\": [" REST ", [\"starts-with\", \"$key\", \"user/7/\"]]}",
                 all, NULL, &e),
           TS_E_ACCESS_DENIED, "key prefix");
    is_str(e.msg,
           "Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", "
           "\"user/7/\"]",
           "condition msg");
    is_int(check("{" EXP "\"conditions\": [{\"bucket\": \"other\"}, " REST "]}", all, NULL, &e),
           TS_E_ACCESS_DENIED, "bucket");
    is_int(check("{\"expiration\": \"2023-11-14T22:13:20Z\", \"conditions\": [" BASE REST "]}", all,
                 NULL, &e),
           TS_E_ACCESS_DENIED, "expired at now");
    is_str(e.msg, "Invalid according to Policy: Policy expired.", "expired msg");
    /* not policy documents */
    is_int(check("[1]", all, NULL, &e), TS_E_INVALID_POLICY_DOCUMENT, "not an object");
    is_str(e.msg, "Invalid Policy: Invalid JSON.", "json msg");
    is_int(check("{\"conditions\": []}", all, NULL, &e), TS_E_INVALID_POLICY_DOCUMENT, "no exp");
    is_int(check("{\"expiration\": \"soon\", \"conditions\": []}", all, NULL, &e),
           TS_E_INVALID_POLICY_DOCUMENT, "bad exp");
    is_int(check("{" EXP "\"conditions\": {}}", all, NULL, &e), TS_E_INVALID_POLICY_DOCUMENT,
           "conditions not a list");
    is_int(check("{" EXP "\"conditions\": [[\"eq\", \"$key\"]]}", all, NULL, &e),
           TS_E_INVALID_POLICY_DOCUMENT, "two arguments");
    is_str(e.msg, "Invalid Policy: Invalid eq: wrong number of arguments.", "args msg");
    is_int(check("{" EXP "\"conditions\": [[\"content-length-range\", 9, 3]]}", all, NULL, &e),
           TS_E_INVALID_POLICY_DOCUMENT, "reversed range");
    is_int(check("{" EXP "\"conditions\": [{\"key\": 1}]}", all, NULL, &e),
           TS_E_INVALID_POLICY_DOCUMENT, "value not a string");
    is_int(check("{" EXP "\"conditions\": [\"eq\"]}", all, NULL, &e), TS_E_INVALID_POLICY_DOCUMENT,
           "condition a string");
    /* a malformed condition is refused even after one that fails */
    is_int(check("{\"expiration\": \"2001-01-01T00:00:00Z\", \"conditions\": [[\"like\"]]}", all,
                 NULL, &e),
           TS_E_INVALID_POLICY_DOCUMENT, "unknown operation, expired");
    ok(s3_post_exempt("X-Ignore-Foo") && s3_post_exempt("AWSAccessKeyId") &&
           !s3_post_exempt("x-amz-credential"),
       "exempt fields");
    return t_done();
}
