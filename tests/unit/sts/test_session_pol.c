/* test_session_pol.c -- managed session policies (PolicyArns): the ARN/name parser, the
 * PolicyArns.member.N.arn collector and AWS's PackedPolicySize. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "sts/sts_int.h"
#include "tests/harness/t.h"

static int name_of(const char *v, char *out)
{
    return sts_policy_arn_name(v, out);
}

static void test_arn_name(void)
{
    char n[STS_POLICY_NAME_MAX + 1];

    is_int(name_of("arn:aws:iam::000000000000:policy/ro", n), TS_OK, "aws arn");
    is_str(n, "ro", "name");
    is_int(name_of("arn:aws:iam::123456789012:policy/my-pol.1", n), TS_OK, "any account");
    is_str(n, "my-pol.1", "name 2");
    is_int(name_of("arn:aws:iam:::policy/x", n), TS_OK, "no account");
    is_int(name_of("arn:minio:iam:::policy/consoleAdmin", n), TS_OK, "minio partition");
    is_int(name_of("readwrite", n), TS_OK, "plain name");
    is_str(n, "readwrite", "plain");
    is_int(name_of("arn:aws:s3:::bucket", n), TS_E_STS_INVALID_PARAMETER, "s3 arn");
    is_int(name_of("arn:aws:iam::000000000000:role/r", n), TS_E_STS_INVALID_PARAMETER, "role");
    is_int(name_of("arn:aws:iam::000000000000:policy/", n), TS_E_STS_INVALID_PARAMETER, "empty");
    is_int(name_of("arn:aws:iam::000000000000:policy/a/b", n), TS_E_STS_INVALID_PARAMETER, "path");
    is_int(name_of("arn:aws:iam::acct:policy/a", n), TS_E_STS_INVALID_PARAMETER, "account");
    is_int(name_of("a b", n), TS_E_STS_INVALID_PARAMETER, "space");
    is_int(name_of("a,b", n), TS_E_STS_INVALID_PARAMETER, "comma");
    is_int(name_of("", n), TS_E_STS_INVALID_PARAMETER, "empty plain");
    is_int(name_of("a\x01", n), TS_E_STS_INVALID_PARAMETER, "control");
    char long_name[200];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    is_int(name_of(long_name, n), TS_E_STS_INVALID_PARAMETER, "too long");
    long_name[128] = '\0';
    is_int(name_of(long_name, n), TS_OK, "128");
}

static void test_collect(void)
{
    struct http_kv kv[16];
    struct iam_strv out;
    struct ts_error e;
    char keys[16][48];

    /* out of order, a duplicate index (first wins), a duplicate name, other parameters */
    kv[0] = (struct http_kv){"Action", "AssumeRole"};
    kv[1] = (struct http_kv){"PolicyArns.member.2.arn", "arn:aws:iam::000000000000:policy/b"};
    kv[2] = (struct http_kv){"PolicyArns.member.1.arn", "a"};
    kv[3] = (struct http_kv){"PolicyArns.member.1.arn", "ignored"};
    kv[4] = (struct http_kv){"PolicyArns.member.3.arn", "arn:aws:iam::000000000000:policy/a"};
    is_int(sts_session_policy_arns(kv, 5, &out, &e), TS_OK, "collect");
    is_int(out.n, 2, "two names");
    if (out.n == 2) {
        is_str(out.v[0], "a", "first by index");
        is_str(out.v[1], "b", "second");
    }
    iam_strv_free(&out);

    is_int(sts_session_policy_arns(kv, 1, &out, &e), TS_OK, "none");
    is_int(out.n, 0, "no names");

    for (int i = 0; i < 11; i++) {
        snprintf(keys[i], sizeof keys[i], "PolicyArns.member.%d.arn", i + 1);
        kv[i] = (struct http_kv){keys[i], "a"};
    }
    is_int(sts_session_policy_arns(kv, 10, &out, &e), TS_OK, "ten");
    iam_strv_free(&out);
    is_int(sts_session_policy_arns(kv, 11, &out, &e), TS_E_STS_VALIDATION, "eleven");
    is_int(out.n, 0, "empty on error");
    kv[0] = (struct http_kv){"PolicyArns.member.0.arn", "a"};
    is_int(sts_session_policy_arns(kv, 1, &out, &e), TS_E_STS_INVALID_PARAMETER, "index 0");
    kv[0] = (struct http_kv){"PolicyArns.member.1.Arn", "a"};
    is_int(sts_session_policy_arns(kv, 1, &out, &e), TS_E_STS_INVALID_PARAMETER, "bad member");
    kv[0] = (struct http_kv){"PolicyArns.member.99999999999999999999.arn", "a"};
    is_int(sts_session_policy_arns(kv, 1, &out, &e), TS_E_STS_VALIDATION, "huge index");
    kv[0] = (struct http_kv){"PolicyArns.member.1.arn", "arn:aws:s3:::x"};
    is_int(sts_session_policy_arns(kv, 1, &out, &e), TS_E_STS_INVALID_PARAMETER, "not policy");
}

static void test_packed(void)
{
    const char *one[] = {"ro"}; /* arn:aws:iam::000000000000:policy/ro: 35 characters */
    char big[2049];

    is_int(sts_packed_policy_size(NULL, NULL, 0), -1, "none");
    is_int(sts_packed_policy_size("{}", NULL, 0), 1, "tiny inline");
    is_int(sts_packed_policy_size(NULL, one, 1), 2, "one arn");
    memset(big, 'x', 2048);
    big[2048] = '\0';
    is_int(sts_packed_policy_size(big, NULL, 0), 100, "full");
    is_int(sts_packed_policy_size(big, one, 1), 102, "over");
    big[1024] = '\0';
    is_int(sts_packed_policy_size(big, NULL, 0), 50, "half");
}

int main(void)
{
    test_arn_name();
    test_collect();
    test_packed();
    return t_done();
}
