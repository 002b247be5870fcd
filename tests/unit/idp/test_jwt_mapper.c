/* test_jwt_mapper.c -- policy/mapper.c: claims → policy names for OIDC (claim mode, role
 * mode, Keycloak group paths) and LDAP (DN attachments), against a real IAM store. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "idp/iam.h"
#include "idp/idp.h"
#include "policy/mapper.h"
#include "tests/harness/t.h"

static const char *POL = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                         "\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::b/*\"]}]}";

static void push(struct iam_strv *sv, const char *s)
{
    sv->v = realloc(sv->v, (sv->n + 1) * sizeof *sv->v);
    sv->v[sv->n++] = strdup(s);
}

static int has(const struct iam_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return 1;
    return 0;
}

/* Issue 13 items 15 and 13: names an identity may carry; tag keys that differ only in case. */
static void test_names_and_tags(void)
{
    static const char *const good[] = {"alice",
                                       "repo:acme/app:ref:refs/heads/main",
                                       "CN=J\xc3\xa9r\xc3\xb4me,DC=example",
                                       "\xf0\x9f\x98\x80",
                                       "a b\xef\xbf\xbd",
                                       "\xe2\x80\xa8"};
    static const char *const bad[] = {
        "",          "a\x01",      "a\tb",          "a\nb",
        "a\x7f",     "a\xc2\x85",  "a\xef\xbf\xbe", "a\xef\xbf\xbf",
        "\xff",      "\xc0\xaf",   "\xed\xa0\x80",  "\xf4\x90\x80\x80",
        "a\xe2\x82", "\x1b[31mred"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ok(idp_name_ok(good[i]), "name ok: %s", good[i]);
    ok(idp_name_ok(bad[0]), "the empty name is valid text (callers check lengths)");
    for (size_t i = 1; i < sizeof bad / sizeof bad[0]; i++)
        ok(!idp_name_ok(bad[i]), "name refused: case %zu", i);
    ok(!idp_name_ok(NULL), "NULL refused");

    const char *k1[] = {"team", "Project", "cost-center"};
    const char *k2[] = {"Team", "project", "team"};
    const char *k3[] = {"a", "A"};
    is_int(idp_tag_keys_duplicate(k1, 3), -1, "distinct keys");
    is_int(idp_tag_keys_duplicate(k2, 3), 2, "Team and team are one key");
    is_int(idp_tag_keys_duplicate(k3, 2), 1, "a and A");
    is_int(idp_tag_keys_duplicate(k3, 0), -1, "no keys");
}

int main(void)
{
    test_names_and_tags();
    char dir[] = "/tmp/tessera-mapper-XXXXXX";
    struct iam_store *st = NULL;
    struct idp_claims c;
    struct iam_strv out = {0};
    const char *why = NULL;
    const char *members[] = {"alice"};

    ok(mkdtemp(dir) != NULL, "temp dir");
    is_int(iam_store_open(dir, &st), TS_OK, "store");
    is_int(iam_policy_put(st, "p1", POL), TS_OK, "p1");
    is_int(iam_policy_put(st, "p2", POL), TS_OK, "p2");
    is_int(iam_policy_put(st, "p3", POL), TS_OK, "p3");
    is_int(iam_user_add(st, "alice", "alice-secret-1", NULL), TS_OK, "user");
    is_int(iam_group_add(st, "admins", members, 1), TS_OK, "group admins");
    is_int(iam_attach(st, IAM_TARGET_GROUP, "admins", "p2"), TS_OK, "attach p2 to admins");
    is_int(iam_group_add(st, "off", members, 1), TS_OK, "group off");
    is_int(iam_attach(st, IAM_TARGET_GROUP, "off", "p3"), TS_OK, "attach p3 to off");
    is_int(iam_group_set_enabled(st, "off", false), TS_OK, "disable off");
    is_int(iam_attach(st, IAM_TARGET_DN, "uid=bob,ou=people,dc=example,dc=org", "p1"), TS_OK,
           "attach p1 to a DN");
    is_int(iam_attach(st, IAM_TARGET_DN, "cn=ops,ou=groups,dc=example,dc=org", "p3"), TS_OK,
           "attach p3 to a group DN");

    /* Claim mode: stored and canned names kept, unknown ones ignored, duplicates once. */
    memset(&c, 0, sizeof c);
    c.kind = IDP_OIDC;
    push(&c.policies, "p1");
    push(&c.policies, "no-such-policy");
    push(&c.policies, "readonly");
    push(&c.policies, "p1");
    is_int(pol_map_claims(st, &c, &out, &why), TS_OK, "claim mode");
    is_int(out.n, 2, "two usable policies");
    ok(out.n == 2 && strcmp(out.v[0], "p1") == 0 && strcmp(out.v[1], "readonly") == 0,
       "first-seen order, deduplicated");
    iam_strv_free(&out);

    /* Groups: Keycloak paths, disabled groups ignored, unknown groups ignored. */
    push(&c.groups, "/admins");
    push(&c.groups, "/off");
    push(&c.groups, "ghosts");
    push(&c.groups, "/a/b");
    is_int(pol_map_claims(st, &c, &out, &why), TS_OK, "groups mode");
    ok(has(&out, "p2"), "policy of the /admins group applies");
    ok(!has(&out, "p3"), "policy of a disabled group does not");
    is_int(out.n, 3, "p1, readonly, p2");
    iam_strv_free(&out);
    idp_claims_cleanup(&c);

    /* Groups only, no policy claim. */
    memset(&c, 0, sizeof c);
    c.kind = IDP_OIDC;
    push(&c.groups, "admins");
    is_int(pol_map_claims(st, &c, &out, &why), TS_OK, "groups only");
    ok(out.n == 1 && has(&out, "p2"), "group policy");
    iam_strv_free(&out);
    idp_claims_cleanup(&c);

    /* Nothing usable: AccessDenied, output untouched. */
    memset(&c, 0, sizeof c);
    c.kind = IDP_OIDC;
    push(&c.policies, "nope");
    out.v = (char **)0x1;
    out.n = 123;
    is_int(pol_map_claims(st, &c, &out, &why), TS_E_STS_ACCESS_DENIED, "unknown policy only");
    ok(why != NULL, "reason given");
    ok(out.n == 123 && out.v == (char **)0x1, "out untouched on error");
    idp_claims_cleanup(&c);
    memset(&c, 0, sizeof c);
    out.v = NULL;
    out.n = 0;
    is_int(pol_map_claims(st, &c, &out, &why), TS_E_STS_ACCESS_DENIED, "no claims at all");

    /* LDAP: attachments of the user DN and group DNs; groups are not tessera groups. */
    memset(&c, 0, sizeof c);
    c.kind = IDP_LDAP;
    c.groups_are_dns = true; /* the mapper reads the data, not the kind */
    c.dn = strdup("uid=bob,ou=people,dc=example,dc=org");
    push(&c.groups, "cn=ops,ou=groups,dc=example,dc=org");
    push(&c.groups, "admins");
    is_int(pol_map_claims(st, &c, &out, &why), TS_OK, "LDAP");
    ok(out.n == 2 && has(&out, "p1") && has(&out, "p3"), "DN and group DN attachments");
    iam_strv_free(&out);
    idp_claims_cleanup(&c);

    ok(pol_map_policy_exists(st, "consoleAdmin"), "canned policy exists");
    ok(!pol_map_policy_exists(st, ""), "empty name does not");

    iam_store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        ok(0, "cleanup");
    return t_done();
}
