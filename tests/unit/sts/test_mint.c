/* test_mint.c -- the minter (credentials shape, token content, duration bounds), ARN and
 * role-id shapes, STS form parsing and AssumeRole parameter validation, revocation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "sts/sts_int.h"
#include "tests/harness/t.h"

static char dir_tmpl[] = "/tmp/ts_sts_mint_XXXXXX";

static const char *policy_of_len(size_t n)
{
    static char buf[4096];
    const char *base = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                       "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/*\"}]}";
    size_t bl = strlen(base);
    if (n < bl || n >= sizeof buf)
        return NULL;
    memcpy(buf, base, bl);
    memset(buf + bl, ' ', n - bl);
    buf[n] = '\0';
    return buf;
}

int main(void)
{
    struct ts_error te;
    struct iam_store *st = NULL;
    struct sts_ctx *c;
    struct sts_config cfg = {.region = "us-east-1",
                             .root_user = "rootuser",
                             .root_secret = "rootsecret123",
                             .max_duration = 43200};
    char path[256];
    long d;
    int rc;

    if (mkdtemp(dir_tmpl) == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/iam", dir_tmpl);
    if (iam_store_open(path, &st) != TS_OK)
        return 1;
    c = sts_ctx_new(&cfg, st, NULL);
    ok(c != NULL, "ctx");
    if (c == NULL)
        return t_done();

    /* ---- sts_mint ---- */
    {
        const char *pols[] = {"readonly"};
        struct http_kv claims[] = {{"ldap:username", "alice"}};
        struct sts_session s = {.parent = "cn=alice,dc=example,dc=org",
                                .username = "alice",
                                .source = "ldap",
                                .policies = pols,
                                .npolicies = 1,
                                .session_name = "s1",
                                .claims = claims,
                                .nclaims = 1,
                                .duration = 3600};
        struct sts_creds cr, cr2;
        struct sts_token t;
        char sec[41];
        time_t now = enc_now();

        memset(&cr, 0, sizeof cr);
        rc = sts_mint(c, &s, &cr);
        is_int(rc, TS_OK, "mint");
        is_int(strlen(cr.access_key), 20, "ak len");
        is_int(strlen(cr.secret_key), 40, "secret len");
        ok(cr.expires - cr.issued == 3600, "expiry = issued + duration");
        ok(cr.issued >= now && cr.issued <= now + 2, "issued now");
        ok(cr.session_token != NULL && strlen(cr.session_token) < 1024, "token size");
        ok(strncmp(cr.arn, "arn:aws:sts::000000000000:federated-user/alice.", 47) == 0,
           "arn: the federated identity, not the DN");
        {
            char want[96];
            snprintf(want, sizeof want, "000000000000:%s", strrchr(cr.arn, '/') + 1);
            is_str(cr.role_id, want, "role id: ACCOUNT:NAME");
        }
        memset(&t, 0, sizeof t);
        rc = sts_unseal(c, cr.session_token, strlen(cr.session_token), now, &t, sec);
        is_int(rc, TS_OK, "minted token unseals");
        is_str(sec, cr.secret_key, "secret derivable from token");
        is_str(t.access_key, cr.access_key, "token ak");
        is_str(t.parent, s.parent, "token parent");
        is_str(t.username, "alice", "token username");
        is_str(t.source, "ldap", "token source");
        is_int(t.policies.n, 1, "token policies");
        is_int(t.nclaims, 1, "token claims");
        sts_token_cleanup(&t);

        memset(&cr2, 0, sizeof cr2);
        is_int(sts_mint(c, &s, &cr2), TS_OK, "mint 2");
        ok(strcmp(cr.access_key, cr2.access_key) != 0, "fresh access key");
        ok(strcmp(cr.secret_key, cr2.secret_key) != 0, "fresh secret");
        sts_creds_cleanup(&cr2);

        /* Bounds. */
        s.duration = 43201;
        memset(&cr2, 0, sizeof cr2);
        is_int(sts_mint(c, &s, &cr2), TS_E_INVALID_ARGUMENT, "duration above max");
        s.duration = 0;
        is_int(sts_mint(c, &s, &cr2), TS_E_INVALID_ARGUMENT, "duration 0");
        s.duration = 900;
        s.parent = NULL;
        is_int(sts_mint(c, &s, &cr2), TS_E_INVALID_ARGUMENT, "no parent");
        ok(cr2.session_token == NULL, "untouched on error");

        /* Revocation of one access key. */
        ok(!iam_key_revoked(st, cr.access_key), "not revoked yet");
        is_int(sts_revoke_access_key(c, cr.access_key), TS_OK, "revoke key");
        ok(iam_key_revoked(st, cr.access_key), "revoked");
        sts_creds_cleanup(&cr);
    }

    /* ARN shapes. */
    {
        /* A verified role names the session; a static user's or root's role-less session is
         * its parent; every other session is its federated identity, whatever its session
         * name or the provider's RolePolicy role (typed ARNs, never the request's RoleArn). */
        char rid[STS_ROLE_ID_LEN + 1], rid2[STS_ROLE_ID_LEN + 1];
        char *a = sts_session_arn("Builder", "alice", "static", "ci", "AK");
        is_str(a, "arn:aws:sts::000000000000:assumed-role/Builder/ci", "arn of a role session");
        free(a);
        a = sts_session_arn("Builder", "http://idp/realms/x#bob", "oidc", NULL, "AKAKAK");
        is_str(a, "arn:aws:sts::000000000000:assumed-role/Builder/AKAKAK", "no session name");
        free(a);
        a = sts_session_arn(NULL, "uid=bob,dc=x", "ldap", NULL, "AKAKAK");
        ok(a != NULL && strncmp(a, "arn:aws:sts::000000000000:federated-user/bob.", 45) == 0 &&
               strlen(a) == 45 + 22,
           "ldap arn: federated-user/<first RDN value>.<digest>");
        free(a);
        a = sts_session_arn(NULL, "alice", "static", "ci", "AKAKAK");
        is_str(a, "arn:aws:iam::000000000000:user/alice", "static session: the parent's arn");
        free(a);
        a = sts_session_arn(NULL, "rootuser", "root", "ci", "AKAKAK");
        is_str(a, "arn:aws:iam::000000000000:root", "root session: root's arn");
        free(a);
        a = sts_session_userid(NULL, "alice", "static", NULL, "AKAKAK");
        is_str(a, "AKAKAK", "static session userid, no session");
        free(a);
        a = sts_session_userid(NULL, "alice", "static", "s", "AKAKAK");
        is_str(a, "AKAKAK:s", "static session userid");
        free(a);
        sts_role_id("Builder", rid);
        sts_role_id("Builder2", rid2);
        ok(strlen(rid) == 21 && strncmp(rid, "AROA", 4) == 0 &&
               strspn(rid + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == 17,
           "role id AROA + 17 base32");
        ok(strcmp(rid, rid2) != 0, "role ids differ");
        a = sts_session_userid("Builder", "alice", "static", "ci", "AK");
        ok(a != NULL && strncmp(a, rid, 21) == 0 && strcmp(a + 21, ":ci") == 0,
           "role session userid ROLEID:SESSION");
        free(a);
    }
    /* Federated names: ARN-legal, bounded, one per identity. */
    {
        const char *parents[][2] = {
            {"oidc", "http://127.0.0.1:18080/realms/demo#6f1d2c3a-7b7e-4a51-9c1e-0c7f1f5e2b11"},
            {"oidc", "http://127.0.0.1:18081/realms/demo#6f1d2c3a-7b7e-4a51-9c1e-0c7f1f5e2b11"},
            {"oidc", "http://127.0.0.1:18080/realms/demo#6f1d2c3a-7b7e-4a51-9c1e-0c7f1f5e2b12"},
            {"ldap", "http://127.0.0.1:18080/realms/demo#6f1d2c3a-7b7e-4a51-9c1e-0c7f1f5e2b11"},
            {"ldap", "cn=J\\, Smith+uid=js,ou=People,dc=example,dc=org"},
            {"ldap", "cn=J\\, Smith+uid=js,ou=people,dc=example,dc=org"},
            {"oidc", "https://i#"},
            {"oidc", "https://i#/../\"\x01 \xc3\xa9"
                     "tr\xc3\xa4"
                     "ng\xc3\xa9"
                     "-s\xc3\xbc"
                     "bject-\xc3\xa9\xc3\xa9"},
        };
        char *names[8];
        for (size_t i = 0; i < 8; i++) {
            names[i] = sts_federated_name(parents[i][0], parents[i][1]);
            ok(names[i] != NULL && strlen(names[i]) >= 22 && strlen(names[i]) <= 43 &&
                   strspn(names[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789_+=,.@-") == strlen(names[i]),
               "federated name %zu ARN-legal, 22..43 chars", i);
            for (size_t j = 0; j < i; j++)
                ok(strcmp(names[i], names[j]) != 0, "names %zu and %zu differ", j, i);
        }
        char *again = sts_federated_name("clientgrants", parents[0][1]);
        is_str(again, names[0], "client grants and web identity: one OpenID identity");
        free(again);
        ok(strncmp(names[0], "6f1d2c3a-7b7e-4a51-9.", 21) == 0, "hint: the subject");
        ok(strncmp(names[4], "J_.", 3) == 0, "hint: the first RDN value");
        for (size_t i = 0; i < 8; i++)
            free(names[i]);
    }
    {
        char exp[32];
        sts_time_expiration(1565295972, exp);
        is_str(exp, "2019-08-08T20:26:12Z", "expiration format");
    }

    /* ---- form parsing ---- */
    {
        struct sts_params p = {0};
        const char *body = "Action=AssumeRole&Version=2011-06-15&Policy=%7B%22a%22+b%7D&"
                           "Empty=&NoEq&&RoleSessionName=a%2Bb&Action=Other";
        rc = sts_params_parse_form(&p, body, strlen(body));
        is_int(rc, TS_OK, "form parse");
        is_str(sts_param(&p, "Action"), "AssumeRole", "first wins");
        is_str(sts_param(&p, "Version"), "2011-06-15", "version");
        is_str(sts_param(&p, "Policy"), "{\"a\" b}", "decoded, + is space");
        is_str(sts_param(&p, "Empty"), "", "empty value");
        is_str(sts_param(&p, "NoEq"), "", "no =");
        is_str(sts_param(&p, "RoleSessionName"), "a+b", "%2B");
        is_str(sts_param(&p, "Missing"), NULL, "absent");
        sts_params_cleanup(&p);
        rc = sts_params_parse_form(&p, "A=%zz", 5);
        is_int(rc, TS_E_STS_INVALID_PARAMETER, "bad escape");
        sts_params_cleanup(&p);
        rc = sts_params_parse_form(&p, "A=%4", 4);
        is_int(rc, TS_E_STS_INVALID_PARAMETER, "short escape");
        sts_params_cleanup(&p);
        rc = sts_params_parse_form(&p, "", 0);
        is_int(rc, TS_OK, "empty body");
        is_int(p.n, 0, "no params");
        sts_params_cleanup(&p);
    }

    /* ---- parameter validation ---- */
    is_int(sts_check_version(NULL, &te), TS_E_STS_MISSING_PARAMETER, "no version");
    is_int(sts_check_version("2010-01-01", &te), TS_E_STS_INVALID_PARAMETER, "bad version");
    is_int(sts_check_version("2011-06-15", &te), TS_OK, "version");

    d = 0;
    is_int(sts_check_duration(c, NULL, &d, &te), TS_OK, "default duration");
    is_int(d, 3600, "default 3600");
    is_int(sts_check_duration(c, "899", &d, &te), TS_E_STS_VALIDATION, "899");
    ok(strstr(te.msg, "greater than or equal to 900") != NULL, "899 message: %s", te.msg);
    is_int(sts_check_duration(c, "900", &d, &te), TS_OK, "900");
    is_int(d, 900, "900 value");
    is_int(sts_check_duration(c, "43200", &d, &te), TS_OK, "43200");
    is_int(d, 43200, "43200 value");
    is_int(sts_check_duration(c, "43201", &d, &te), TS_E_STS_VALIDATION, "43201");
    is_int(sts_check_duration(c, "abc", &d, &te), TS_E_STS_INVALID_PARAMETER, "abc");
    is_int(sts_check_duration(c, "-900", &d, &te), TS_E_STS_INVALID_PARAMETER, "negative");
    is_int(sts_check_duration(c, "99999999999999999999999", &d, &te), TS_E_STS_INVALID_PARAMETER,
           "overflow");
    is_int(sts_check_duration(c, "", &d, &te), TS_E_STS_INVALID_PARAMETER, "empty");

    is_int(sts_check_policy(NULL, &te), TS_OK, "no policy");
    is_int(sts_check_policy(policy_of_len(2048), &te), TS_OK, "policy 2048");
    is_int(sts_check_policy(policy_of_len(2049), &te), TS_E_STS_VALIDATION, "policy 2049");
    ok(strstr(te.msg, "2048") != NULL, "2049 message: %s", te.msg);
    is_int(sts_check_policy("", &te), TS_E_STS_VALIDATION, "empty policy");
    is_int(sts_check_policy("{not json", &te), TS_E_STS_MALFORMED_POLICY, "malformed policy");
    is_int(sts_check_policy("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Maybe\","
                            "\"Action\":\"s3:*\",\"Resource\":\"*\"}]}",
                            &te),
           TS_E_STS_MALFORMED_POLICY, "bad effect");

    is_int(sts_check_role_arn(NULL, &te), TS_OK, "no role arn");
    is_int(sts_check_role_arn("arn:aws:iam::123456789012:role/demo", &te), TS_OK, "role arn");
    is_int(sts_check_role_arn("arn:minio:iam:::role/dummy-internal", &te), TS_OK, "minio role arn");
    is_int(sts_check_role_arn("arn:aws:iam::1:r", &te), TS_E_STS_VALIDATION, "short arn");
    is_int(sts_check_role_arn("this-is-not-an-arn-at-all", &te), TS_E_STS_VALIDATION, "not an arn");
    is_int(sts_check_role_arn("arn:aws:iam::123456789012:", &te), TS_E_STS_VALIDATION,
           "empty resource");
    is_int(sts_check_role_arn("arn:xxx:xxx:xxx:xxxx", &te), TS_OK,
           "MinIO's documented placeholder ARN");

    is_int(sts_check_session_name(NULL, &te), TS_OK, "no session name");
    is_int(sts_check_session_name("ok_name+=,.@-1", &te), TS_OK, "session name");
    is_int(sts_check_session_name("a", &te), TS_E_STS_VALIDATION, "1 char");
    is_int(sts_check_session_name("ab", &te), TS_OK, "2 chars");
    is_int(sts_check_session_name("has space", &te), TS_E_STS_VALIDATION, "space");
    is_int(sts_check_session_name("a/b", &te), TS_E_STS_VALIDATION, "slash");
    {
        char n64[66];
        memset(n64, 'x', 64);
        n64[64] = 0;
        is_int(sts_check_session_name(n64, &te), TS_OK, "64 chars");
        n64[64] = 'x';
        n64[65] = 0;
        is_int(sts_check_session_name(n64, &te), TS_E_STS_VALIDATION, "65 chars");
    }

    /* ---- action table ---- */
    is_int(sts_set_backend(c, "AssumeRoleWithLDAPIdentity", NULL), TS_OK, "register ldap");
    is_int(sts_set_backend(c, "DeleteEverything", NULL), TS_E_INVALID_ARGUMENT,
           "unknown action refused");
    is_int(sts_set_backend(c, "GetCallerIdentity", NULL), TS_E_INVALID_ARGUMENT,
           "a built-in action takes no backend");
    is_int(sts_set_backend(c, "AssumeRole", NULL), TS_E_INVALID_ARGUMENT,
           "AssumeRole keeps the static backend");

    /* ---- revoke a user's sessions ---- */
    {
        int64_t nb = 0, before = iam_now_ns(), after;
        is_int(iam_user_add(st, "bob-user", "bobsecret123", NULL), TS_OK, "add user");
        is_int(sts_revoke_user(c, "bob-user"), TS_OK, "revoke user");
        after = iam_now_ns();
        struct iam_user u;
        memset(&u, 0, sizeof u);
        is_int(iam_user_get(st, "bob-user", &u), TS_OK, "get user");
        ok(u.not_before_ns > before && u.not_before_ns <= after + 1, "not_before is now (ns)");
        ok(after - before < 500000000, "revoke returns without waiting for the next second");
        iam_user_cleanup(&u);
        is_int(sts_revoke_user(c, "uid=x,dc=ldap"), TS_OK, "revoke ldap parent");
        is_int(iam_parent_not_before(st, "uid=x,dc=ldap", &nb), TS_OK, "parent nb");
        ok(nb > before, "parent not_before set");
    }

    sts_ctx_free(c);
    iam_store_close(st);
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_tmpl);
        if (system(cmd) != 0)
            fprintf(stderr, "cleanup failed\n");
    }
    return t_done();
}
