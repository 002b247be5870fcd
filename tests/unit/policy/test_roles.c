/* test_roles.c -- roles (policy/roles.h): ARNs, trust validation, the role set in a real IAM
 * store, and trust evaluation over token claims and session tags. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "idp/iam.h"
#include "policy/roles.h"
#include "tests/harness/t.h"

#define ISS "https://token.actions.example.com"

static const char trust_gh[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
    "\"Principal\":{\"Federated\":\"arn:aws:iam::000000000000:oidc-provider/"
    "token.actions.example.com\"},\"Action\":\"sts:AssumeRoleWithWebIdentity\","
    "\"Condition\":{\"StringLike\":{\"token.actions.example.com:sub\":"
    "\"repo:acme/*:ref:refs/heads/main\"},\"ForAnyValue:StringEquals\":"
    "{\"token.actions.example.com:aud\":[\"sts.amazonaws.com\",\"tessera\"]}}}]}";

static const char trust_tags[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
    "\"Principal\":{\"Federated\":\"corp\"},"
    "\"Action\":[\"sts:AssumeRoleWithWebIdentity\",\"sts:TagSession\"],"
    "\"Condition\":{\"StringEquals\":{\"aws:RequestTag/team\":\"blue\"}}},"
    "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"sts:*\","
    "\"Condition\":{\"StringEquals\":{\"jwt:sub\":\"mallory\"}}}]}";

static int check(const char *trust, const char *sub, const char *aud, const char *team,
                 const char **why)
{
    struct http_kv claims[] = {
        {"jwt:sub", (char *)sub}, {"jwt:aud", "other"}, {"jwt:aud", (char *)aud}};
    struct http_kv tags[] = {{"team", (char *)team}};
    struct pol_trust_input in = {
        .action = "sts:AssumeRoleWithWebIdentity",
        .issuer = ISS,
        .provider_name = "corp",
        .claims = claims,
        .nclaims = 3,
        .tags = tags,
        .ntags = team != NULL ? 1 : 0,
    };
    return pol_role_trust_check(trust, &in, why);
}

int main(void)
{
    char name[POL_ROLE_NAME_MAX + 1], arn[128], err[256], dir[] = "/tmp/t-roles-XXXXXX";
    const char *why = NULL;
    struct iam_store *st = NULL;
    struct iam_strv sv = {0};
    char *trust = NULL;

    /* names and ARNs */
    ok(pol_role_name_ok("ci-deploy_1.x@y=z,w+v"), "valid name");
    ok(!pol_role_name_ok("") && !pol_role_name_ok("a/b") && !pol_role_name_ok("a b"), "bad names");
    is_int(pol_role_arn("ci", arn, sizeof arn), TS_OK, "arn");
    is_str(arn, "arn:aws:iam::000000000000:role/ci", "arn text");
    ok(pol_role_from_arn("arn:aws:iam::000000000000:role/ci", name) && strcmp(name, "ci") == 0,
       "from arn");
    ok(pol_role_from_arn("arn:aws:iam::000000000000:role/path/to/ci", name) &&
           strcmp(name, "ci") == 0,
       "from arn with a path");
    ok(pol_role_from_arn("arn:aws:iam:::role/ci", name), "from arn without account");
    ok(!pol_role_from_arn("arn:aws:iam::123456789012:role/ci", name), "other account");
    ok(!pol_role_from_arn("arn:minio:iam:::role/abc", name), "minio role arn");
    ok(!pol_role_from_arn("arn:aws:iam::000000000000:user/ci", name), "user arn");

    /* validation */
    is_int(pol_role_trust_validate(trust_gh, strlen(trust_gh), err, sizeof err), TS_OK, "gh ok");
    is_int(pol_role_trust_validate(trust_tags, strlen(trust_tags), err, sizeof err), TS_OK,
           "tags ok");
    static const char no_prin[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
                                  "\"Allow\",\"Action\":\"sts:AssumeRoleWithWebIdentity\"}]}";
    is_int(pol_role_trust_validate(no_prin, strlen(no_prin), err, sizeof err),
           TS_E_MALFORMED_POLICY, "no principal");
    static const char s3[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                             "\"Principal\":\"*\",\"Action\":\"s3:GetObject\"}]}";
    is_int(pol_role_trust_validate(s3, strlen(s3), err, sizeof err), TS_E_MALFORMED_POLICY,
           "s3 action");
    is_int(pol_role_trust_validate("{", 1, err, sizeof err), TS_E_MALFORMED_POLICY, "not json");

    /* trust evaluation: subjects, wildcards, multi-valued aud */
    is_int(check(trust_gh, "repo:acme/widgets:ref:refs/heads/main", "tessera", NULL, &why), TS_OK,
           "gh main");
    is_int(check(trust_gh, "repo:acme/widgets:ref:refs/heads/dev", "tessera", NULL, &why),
           TS_E_ACCESS_DENIED, "gh dev");
    is_int(check(trust_gh, "repo:evil/widgets:ref:refs/heads/main", "tessera", NULL, &why),
           TS_E_ACCESS_DENIED, "gh other org");
    is_int(check(trust_gh, "repo:acme/widgets:ref:refs/heads/main", "nope", NULL, &why),
           TS_E_ACCESS_DENIED, "gh wrong aud");
    /* tags need sts:TagSession, which trust_gh does not allow */
    is_int(check(trust_gh, "repo:acme/widgets:ref:refs/heads/main", "tessera", "blue", &why),
           TS_E_ACCESS_DENIED, "gh with tags");
    ok(why != NULL && strstr(why, "TagSession") != NULL, "why names TagSession");
    /* by provider name, tag conditions, explicit deny */
    is_int(check(trust_tags, "bob", "x", "blue", &why), TS_OK, "tags blue");
    is_int(check(trust_tags, "bob", "x", "red", &why), TS_E_ACCESS_DENIED, "tags red");
    is_int(check(trust_tags, "bob", "x", NULL, &why), TS_E_ACCESS_DENIED, "no tags");
    is_int(check(trust_tags, "mallory", "x", "blue", &why), TS_E_ACCESS_DENIED, "deny");
    ok(why != NULL && strstr(why, "explicitly") != NULL, "why explicit");
    is_int(check("not json", "bob", "x", NULL, &why), TS_E_MALFORMED_POLICY, "bad stored doc");

    /* the role set in a real store */
    ok(mkdtemp(dir) != NULL, "mkdtemp");
    is_int(iam_store_open(dir, &st), TS_OK, "open");
    is_int(pol_role_list(st, &sv), TS_OK, "empty list");
    is_int(sv.n, 0, "no roles");
    iam_strv_free(&sv);
    is_int(pol_role_put(st, "b", trust_gh, strlen(trust_gh), false, err, sizeof err), TS_OK, "b");
    is_int(pol_role_put(st, "a", trust_tags, strlen(trust_tags), false, err, sizeof err), TS_OK,
           "a");
    is_int(pol_role_put(st, "a", trust_gh, strlen(trust_gh), false, err, sizeof err),
           TS_E_ENTITY_EXISTS, "dup");
    is_int(pol_role_put(st, "x/y", trust_gh, strlen(trust_gh), false, err, sizeof err),
           TS_E_INVALID_ARGUMENT, "bad name");
    is_int(iam_attach(st, IAM_TARGET_ROLE, "a", "readonly"), TS_OK, "attach");
    is_int(pol_role_list(st, &sv), TS_OK, "list");
    ok(sv.n == 2 && strcmp(sv.v[0], "a") == 0 && strcmp(sv.v[1], "b") == 0, "sorted list");
    iam_strv_free(&sv);
    is_int(pol_role_put(st, "a", trust_gh, strlen(trust_gh), true, err, sizeof err), TS_OK,
           "replace");
    is_int(pol_role_get(st, "a", &trust, NULL, &sv), TS_OK, "get");
    is_str(trust, trust_gh, "replaced trust");
    ok(sv.n == 1 && strcmp(sv.v[0], "readonly") == 0, "attachments kept");
    free(trust);
    iam_strv_free(&sv);
    is_int(pol_role_remove(st, "a"), TS_OK, "remove");
    is_int(pol_role_get(st, "a", NULL, NULL, NULL), TS_E_NO_SUCH_ENTITY, "gone");
    is_int(iam_attached(st, IAM_TARGET_ROLE, "a", &sv), TS_OK, "attached after remove");
    is_int(sv.n, 0, "detached on remove");
    iam_strv_free(&sv);
    is_int(pol_role_remove(st, "a"), TS_E_NO_SUCH_ENTITY, "remove twice");
    iam_store_close(st);
    {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            ok(0, "cleanup");
    }
    return t_done();
}
