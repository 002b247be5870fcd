/* test_principals.c -- typed principals (issue 13, items 5 and 3) and condition keys with
 * many values (item 12):
 *   - a bucket-policy Principal matches only the ARN of the principal actually authenticated:
 *     a federated session whose user name is "bob" is not the static user bob;
 *   - a role ARN matches the sessions of that role only (principal->role_arn), never a
 *     session that merely spells the role in its own ARN;
 *   - the account principal: Allow for root only, Deny for everyone of the account;
 *   - ${aws:username} unset (federated, role sessions) matches nothing;
 *   - aws:PrincipalArn of a role session is the role's ARN;
 *   - every value of a condition key is checked: 200 groups, the denied one last, in a
 *     bucket/identity policy (claims) and in a trust policy (request keys);
 *   - the AssumeRole trust check for a signed caller (pol_role_trust_check with .caller).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "policy/pol.h"
#include "policy/roles.h"
#include "tests/harness/t.h"
#include "tests/unit/policy/pol_test_util.h"

#define ACCT "000000000000"

/* A principal as sts/authn.c builds it. */
static struct pol_principal *mk(enum pol_principal_type t, const char *username, const char *arn,
                                const char *role_arn)
{
    struct pol_principal *p = pol_principal_new(t);
    if (username != NULL)
        p->username = strdup(username);
    if (arn != NULL)
        p->arn = strdup(arn);
    if (role_arn != NULL)
        p->role_arn = strdup(role_arn);
    p->access_key =
        strdup(t == POL_PRINCIPAL_USER && username != NULL ? username : "AKIAEXAMPLE000000001");
    if (t == POL_PRINCIPAL_TEMP)
        p->source = strdup("oidc");
    return p;
}

static enum pol_decision eval(const char *pol, const struct pol_principal *p, const char *action,
                              const char *resource)
{
    struct pol_doc *d = tparse(pol);
    struct pol_request rq = {.action = action, .resource = resource, .principal = p};
    enum pol_decision r;
    ok(d != NULL, "policy parses");
    r = pol_doc_eval(d, &rq);
    pol_doc_free(d);
    return r;
}

#define PUT "s3:PutObject"
#define RES "arn:aws:s3:::home/carol/x"

static void test_typed(void)
{
    /* Static bob, bob's role-less session (his own ARN), a federated session of an OIDC user
     * named bob, an LDAP one, a session of role deploy, and a forged-looking session whose
     * ARN spells role deploy without having been admitted by it. */
    struct pol_principal *bob =
        mk(POL_PRINCIPAL_USER, "bob", "arn:aws:iam::" ACCT ":user/bob", NULL);
    struct pol_principal *bob_sess =
        mk(POL_PRINCIPAL_TEMP, "bob", "arn:aws:iam::" ACCT ":user/bob", NULL);
    struct pol_principal *oidc_bob =
        mk(POL_PRINCIPAL_TEMP, NULL,
           "arn:aws:sts::" ACCT ":federated-user/bob.OIDCBOBoidcbob0123456", NULL);
    struct pol_principal *ldap_bob =
        mk(POL_PRINCIPAL_TEMP, NULL,
           "arn:aws:sts::" ACCT ":federated-user/bob.LDAPBOBldapbob0123456", NULL);
    struct pol_principal *deploy =
        mk(POL_PRINCIPAL_TEMP, NULL, "arn:aws:sts::" ACCT ":assumed-role/deploy/ci",
           "arn:aws:iam::" ACCT ":role/deploy");
    struct pol_principal *spelled =
        mk(POL_PRINCIPAL_TEMP, NULL, "arn:aws:sts::" ACCT ":assumed-role/deploy/ci", NULL);
    struct pol_principal *root = mk(POL_PRINCIPAL_ROOT, "root", "arn:aws:iam::" ACCT ":root", NULL);
    struct pol_principal *anon = mk(POL_PRINCIPAL_ANONYMOUS, NULL, NULL, NULL);
    struct pol_principal *preferred_bob = mk(POL_PRINCIPAL_TEMP, "bob", oidc_bob->arn, NULL);

    static const char grant_user_bob[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':"
        "'arn:aws:iam::000000000000:user/bob'},'Action':'s3:PutObject',"
        "'Resource':'arn:aws:s3:::home/*'}]}";
    static const char grant_bare_bob[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':['bob']},"
        "'Action':'s3:PutObject','Resource':'arn:aws:s3:::home/*'}]}";
    is_int(eval(grant_user_bob, bob, PUT, RES), POL_ALLOW, "user/bob: static bob");
    is_int(eval(grant_user_bob, bob_sess, PUT, RES), POL_ALLOW, "user/bob: bob's own session");
    is_int(eval(grant_user_bob, oidc_bob, PUT, RES), POL_IMPLICIT_DENY, "user/bob: not OIDC bob");
    is_int(eval(grant_user_bob, preferred_bob, PUT, RES), POL_IMPLICIT_DENY,
           "user/bob: not a federated session even if its username were bob");
    is_int(eval(grant_user_bob, ldap_bob, PUT, RES), POL_IMPLICIT_DENY, "user/bob: not LDAP bob");
    is_int(eval(grant_user_bob, deploy, PUT, RES), POL_IMPLICIT_DENY, "user/bob: not a role");
    is_int(eval(grant_user_bob, anon, PUT, RES), POL_IMPLICIT_DENY, "user/bob: not anonymous");
    is_int(eval(grant_bare_bob, bob, PUT, RES), POL_ALLOW, "bare bob: static bob");
    is_int(eval(grant_bare_bob, preferred_bob, PUT, RES), POL_IMPLICIT_DENY,
           "bare bob: not a federated bob");
    is_int(eval(grant_bare_bob, ldap_bob, PUT, RES), POL_IMPLICIT_DENY, "bare bob: not LDAP bob");

    /* Role ARNs match sessions the role admitted, whatever the account spelled. */
    static const char grant_role[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':"
        "'arn:aws:iam::000000000000:role/deploy'},'Action':'s3:PutObject',"
        "'Resource':'arn:aws:s3:::home/*'}]}";
    static const char grant_role_path[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':"
        "'arn:aws:iam::123456789012:role/ci/deploy'},'Action':'s3:PutObject',"
        "'Resource':'arn:aws:s3:::home/*'}]}";
    static const char grant_session[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':"
        "'arn:aws:sts::000000000000:assumed-role/deploy/ci'},'Action':'s3:PutObject',"
        "'Resource':'arn:aws:s3:::home/*'}]}";
    is_int(eval(grant_role, deploy, PUT, RES), POL_ALLOW, "role arn: its session");
    is_int(eval(grant_role_path, deploy, PUT, RES), POL_ALLOW, "role arn with path/account");
    is_int(eval(grant_role, spelled, PUT, RES), POL_IMPLICIT_DENY,
           "role arn: not a session that only spells the role");
    is_int(eval(grant_role, bob, PUT, RES), POL_IMPLICIT_DENY, "role arn: not bob");
    is_int(eval(grant_session, deploy, PUT, RES), POL_ALLOW, "session arn: that session");
    is_int(eval(grant_session, bob, PUT, RES), POL_IMPLICIT_DENY, "session arn: not bob");

    /* A federated identity's ARN matches that identity only, whatever the account spelled. */
    static const char grant_fed[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':"
        "'arn:aws:sts::123456789012:federated-user/bob.OIDCBOBoidcbob0123456'},"
        "'Action':'s3:PutObject','Resource':'arn:aws:s3:::home/*'}]}";
    is_int(eval(grant_fed, oidc_bob, PUT, RES), POL_ALLOW, "federated-user: that identity");
    is_int(eval(grant_fed, ldap_bob, PUT, RES), POL_IMPLICIT_DENY, "federated-user: not another");
    is_int(eval(grant_fed, bob, PUT, RES), POL_IMPLICIT_DENY, "federated-user: not static bob");
    is_int(eval(grant_fed, deploy, PUT, RES), POL_IMPLICIT_DENY, "federated-user: not a role");

    /* The account: Allow only for root (identity policies decide for the others), Deny for
     * every principal of the account; NotPrincipal keeps the narrow sense. */
    static const char allow_acct[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':["
        "'arn:aws:iam::000000000000:root']},'Action':'s3:PutObject','Resource':'*'}]}";
    static const char allow_acct_id[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':"
        "'000000000000'},'Action':'s3:PutObject','Resource':'*'}]}";
    static const char deny_acct[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':'*',"
        "'Action':'s3:PutObject','Resource':'*'},{'Effect':'Deny','Principal':{'AWS':"
        "'arn:aws:iam::000000000000:root'},'Action':'s3:PutObject','Resource':'*'}]}";
    is_int(eval(allow_acct, root, PUT, RES), POL_ALLOW, "account allow: root");
    is_int(eval(allow_acct, bob, PUT, RES), POL_IMPLICIT_DENY, "account allow: not bob");
    is_int(eval(allow_acct, oidc_bob, PUT, RES), POL_IMPLICIT_DENY, "account allow: not oidc");
    is_int(eval(allow_acct_id, bob, PUT, RES), POL_IMPLICIT_DENY, "account id allow: not bob");
    is_int(eval(allow_acct_id, root, PUT, RES), POL_ALLOW, "account id allow: root");
    is_int(eval(deny_acct, bob, PUT, RES), POL_EXPLICIT_DENY, "account deny: bob");
    is_int(eval(deny_acct, oidc_bob, PUT, RES), POL_EXPLICIT_DENY, "account deny: oidc");
    is_int(eval(deny_acct, deploy, PUT, RES), POL_EXPLICIT_DENY, "account deny: role session");
    is_int(eval(deny_acct, anon, PUT, RES), POL_ALLOW, "account deny: not anonymous");

    /* ${aws:username} unset: the pattern matches nothing (no federated home folder). */
    static const char home[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:PutObject',"
        "'Resource':'arn:aws:s3:::home/${aws:username}/*'}]}";
    is_int(eval(home, bob, PUT, "arn:aws:s3:::home/bob/x"), POL_ALLOW, "home: static bob");
    is_int(eval(home, oidc_bob, PUT, "arn:aws:s3:::home/bob/x"), POL_IMPLICIT_DENY,
           "home: federated bob has no aws:username");
    is_int(eval(home, deploy, PUT, "arn:aws:s3:::home/bob/x"), POL_IMPLICIT_DENY,
           "home: role session has no aws:username");

    /* aws:PrincipalArn: the role's ARN for a role session, else the principal's ARN. */
    static const char parn[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:PutObject',"
        "'Resource':'*','Condition':{'ArnEquals':{'aws:PrincipalArn':"
        "'arn:aws:iam::000000000000:role/deploy'}}}]}";
    is_int(eval(parn, deploy, PUT, RES), POL_ALLOW, "PrincipalArn: role session");
    is_int(eval(parn, spelled, PUT, RES), POL_IMPLICIT_DENY, "PrincipalArn: spelled role");
    is_int(eval(parn, bob, PUT, RES), POL_IMPLICIT_DENY, "PrincipalArn: bob");

    pol_principal_free(bob);
    pol_principal_free(bob_sess);
    pol_principal_free(oidc_bob);
    pol_principal_free(ldap_bob);
    pol_principal_free(deploy);
    pol_principal_free(spelled);
    pol_principal_free(root);
    pol_principal_free(anon);
    pol_principal_free(preferred_bob);
}

/* 200 groups, the denied one last: every value is checked (item 12). */
static void test_many_values(void)
{
    static const char pol[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'*'},"
        "{'Effect':'Deny','Action':'s3:*','Resource':'*','Condition':{"
        "'ForAnyValue:StringEquals':{'jwt:groups':'blocked'}}}]}";
    static const char need_all[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'*',"
        "'Condition':{'ForAllValues:StringLike':{'jwt:groups':'g-*'}}}]}";
    static const char plain_deny[] =
        "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'*'},"
        "{'Effect':'Deny','Action':'s3:*','Resource':'*','Condition':{"
        "'StringEquals':{'jwt:groups':'blocked'}}}]}";
    struct pol_principal *p = mk(POL_PRINCIPAL_TEMP, NULL, "arn:aws:sts::" ACCT ":x/y", NULL);
    char g[32];

    for (int i = 0; i < 199; i++) {
        snprintf(g, sizeof g, "g-%03d", i);
        pol_principal_add_claim(p, "jwt:groups", g);
    }
    is_int(eval(pol, p, "s3:GetObject", "arn:aws:s3:::b/k"), POL_ALLOW, "199 groups: allowed");
    is_int(eval(need_all, p, "s3:GetObject", "arn:aws:s3:::b/k"), POL_ALLOW, "199 groups: all g-*");
    pol_principal_add_claim(p, "jwt:groups", "blocked");
    is_int(p->nclaims, 200, "200 groups");
    is_int(eval(pol, p, "s3:GetObject", "arn:aws:s3:::b/k"), POL_EXPLICIT_DENY,
           "ForAnyValue deny on the 200th group");
    is_int(eval(plain_deny, p, "s3:GetObject", "arn:aws:s3:::b/k"), POL_EXPLICIT_DENY,
           "StringEquals deny on the 200th group");
    is_int(eval(need_all, p, "s3:GetObject", "arn:aws:s3:::b/k"), POL_IMPLICIT_DENY,
           "ForAllValues: the 200th value breaks it");
    pol_principal_free(p);

    /* The same through request keys (how trust policies see a token's claims). */
    static const char trust[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
        "{\"Federated\":\"https://idp.example\"},\"Action\":\"sts:AssumeRoleWithWebIdentity\"},"
        "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"sts:*\",\"Condition\":"
        "{\"ForAnyValue:StringEquals\":{\"jwt:groups\":\"blocked\"}}}]}";
    struct http_kv claims[201];
    char names[201][16];
    const char *why = NULL;
    claims[0].key = "jwt:sub";
    claims[0].value = "alice";
    for (int i = 1; i <= 200; i++) {
        snprintf(names[i], sizeof names[i], i == 200 ? "blocked" : "g-%03d", i);
        claims[i].key = "jwt:groups";
        claims[i].value = names[i];
    }
    struct pol_trust_input in = {.action = "sts:AssumeRoleWithWebIdentity",
                                 .issuer = "https://idp.example",
                                 .claims = claims,
                                 .nclaims = 200};
    is_int(pol_role_trust_check(trust, &in, &why), TS_OK, "trust: 199 groups admitted");
    in.nclaims = 201;
    is_int(pol_role_trust_check(trust, &in, &why), TS_E_ACCESS_DENIED,
           "trust: the 200th group is denied");
    ok(why != NULL && strstr(why, "explicitly denies") != NULL, "why: %s", why ? why : "-");
}

/* AssumeRole by a signed caller: the trust policy decides by the caller's typed ARN. */
static void test_trust_principal(void)
{
    static const char trust_bob[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
        "{\"AWS\":\"arn:aws:iam::000000000000:user/bob\"},\"Action\":\"sts:AssumeRole\"}]}";
    static const char trust_oidc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
        "{\"Federated\":\"https://idp.example\"},\"Action\":\"sts:AssumeRoleWithWebIdentity\","
        "\"Condition\":{\"StringEquals\":{\"jwt:preferred_username\":\"carol\"}}}]}";
    static const char trust_star[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
        "\"Action\":\"sts:*\"},{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"bob\"},"
        "\"Action\":\"sts:AssumeRole\"}]}";
    static const char trust_acct[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
        "{\"AWS\":\"arn:aws:iam::000000000000:root\"},\"Action\":\"sts:AssumeRole\"}]}";
    struct pol_principal *bob =
        mk(POL_PRINCIPAL_USER, "bob", "arn:aws:iam::" ACCT ":user/bob", NULL);
    struct pol_principal *eve =
        mk(POL_PRINCIPAL_USER, "eve", "arn:aws:iam::" ACCT ":user/eve", NULL);
    struct pol_principal *root = mk(POL_PRINCIPAL_ROOT, "root", "arn:aws:iam::" ACCT ":root", NULL);
    struct pol_trust_input rq = {.action = "sts:AssumeRole", .caller = bob};
    const char *why = NULL;

    is_int(pol_role_trust_check(trust_bob, &rq, &why), TS_OK, "bob is trusted");
    rq.caller = eve;
    is_int(pol_role_trust_check(trust_bob, &rq, &why), TS_E_ACCESS_DENIED, "eve is not");
    rq.caller = bob;
    is_int(pol_role_trust_check(trust_oidc, &rq, &why), TS_E_ACCESS_DENIED,
           "an OIDC-only trust does not admit a static user");
    is_int(pol_role_trust_check(trust_star, &rq, &why), TS_E_ACCESS_DENIED, "explicit deny of bob");
    rq.caller = eve;
    is_int(pol_role_trust_check(trust_star, &rq, &why), TS_OK, "* admits eve");
    is_int(pol_role_trust_check(trust_acct, &rq, &why), TS_E_ACCESS_DENIED,
           "account principal does not admit users");
    rq.caller = root;
    is_int(pol_role_trust_check(trust_acct, &rq, &why), TS_OK, "account admits root");
    is_int(pol_role_trust_check("{not json", &rq, &why), TS_E_MALFORMED_POLICY,
           "broken trust refuses");
    pol_principal_free(bob);
    pol_principal_free(eve);
    pol_principal_free(root);
}

int main(void)
{
    test_typed();
    test_many_values();
    test_trust_principal();
    return t_done();
}
