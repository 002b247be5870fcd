/* test_federate.c -- the one federation flow (sts_federate) without a network: the built-in
 * static-user backend (AssumeRole) and a fake directory backend, with and without tessera
 * roles whose trust policies admit or refuse them; errors come back as one struct ts_error
 * and nothing replies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "policy/roles.h"
#include "sts/sts_int.h"
#include "tests/harness/t.h"
#include "tests/unit/sts/fake_ldap.h"

static char dir_tmpl[] = "/tmp/ts_sts_fed_XXXXXX";

static struct sts_params *params(const char *const *kv)
{
    struct sts_params *p = sts_params_new();
    for (size_t i = 0; p != NULL && kv[i] != NULL; i += 2)
        sts_params_set(p, kv[i], kv[i + 1]);
    return p;
}

/* Runs action with the parameters kv as caller; returns the code, *f filled on TS_OK. */
static int fed(struct sts_ctx *c, const char *action, struct pol_principal *caller,
               const char *const *kv, struct sts_federation *f, struct ts_error *err)
{
    struct http_req r;
    struct sts_params *p = params(kv);
    int rc;

    memset(&r, 0, sizeof r);
    snprintf(r.source_ip, sizeof r.source_ip, "127.0.0.1");
    snprintf(r.request_id, sizeof r.request_id, "REQ1");
    r.principal = caller;
    rc = sts_federate(c, action, &r, p, f, err);
    sts_params_free(p);
    return rc;
}

static struct pol_principal *user(const char *name)
{
    struct pol_principal *p = pol_principal_new(POL_PRINCIPAL_USER);
    p->username = strdup(name);
    p->access_key = strdup(name);
    sts_principal_ids(p);
    return p;
}

static void put_role(struct iam_store *st, const char *name, const char *trust)
{
    char err[256];
    is_int(pol_role_put(st, name, trust, strlen(trust), false, err, sizeof err), TS_OK, name);
    is_int(iam_attach(st, IAM_TARGET_ROLE, name, "readonly"), TS_OK, "attach to the role");
}

/* Runs action and checks that role admitted the caller with exactly the role's policy. */
static void admitted(struct sts_ctx *c, const char *action, struct pol_principal *caller,
                     const char *const *kv, const char *role, struct sts_federation *f)
{
    struct ts_error err;
    is_int(fed(c, action, caller, kv, f, &err), TS_OK, role);
    is_str(f->role, role, "the role admitted the identity");
    ok(f->policies.n == 1 && strcmp(f->policies.v[0], "readonly") == 0, "exactly the role's");
}

static void test_static(struct sts_ctx *c, struct iam_store *st)
{
    struct pol_principal *bob = user("bob"), *eve = user("eve");
    struct pol_principal *anon = pol_principal_new(POL_PRINCIPAL_ANONYMOUS);
    struct sts_federation f;
    struct ts_error err;
    const char *with_role[] = {"RoleArn", "arn:aws:iam::000000000000:role/for-bob",
                               "RoleSessionName", "ci", NULL};
    const char *no_role[] = {"RoleSessionName", "ci", NULL};
    const char *bad_dur[] = {"DurationSeconds", "10", NULL};

    put_role(st, "for-bob",
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
             "{\"AWS\":\"arn:aws:iam::000000000000:user/bob\"},\"Action\":\"sts:AssumeRole\"}]}");
    admitted(c, "AssumeRole", bob, with_role, "for-bob", &f);
    is_str(f.creds.arn, "arn:aws:sts::000000000000:assumed-role/for-bob/ci", "role ARN");
    is_str(f.session.source, "static", "source");
    sts_federation_cleanup(&f);

    is_int(fed(c, "AssumeRole", eve, with_role, &f, &err), TS_E_STS_ACCESS_DENIED, "eve refused");
    ok(strstr(err.msg, "user/eve is not authorized") != NULL, "message: %s", err.msg);
    ok(f.creds.session_token == NULL && f.claims.parent == NULL, "nothing left on error");

    is_int(fed(c, "AssumeRole", bob, no_role, &f, &err), TS_OK, "no role");
    ok(f.role[0] == '\0' && f.policies.n == 0, "parent's own policies (none carried)");
    is_str(f.creds.arn, "arn:aws:iam::000000000000:user/bob", "parent's ARN");
    sts_federation_cleanup(&f);

    is_int(fed(c, "AssumeRole", anon, no_role, &f, &err), TS_E_STS_ACCESS_DENIED, "anonymous");
    ok(strstr(err.msg, "Authentication Token") != NULL, "precheck first: %s", err.msg);
    is_int(fed(c, "AssumeRole", anon, bad_dur, &f, &err), TS_E_STS_ACCESS_DENIED,
           "precheck before parameter checks");
    is_int(fed(c, "AssumeRole", bob, bad_dur, &f, &err), TS_E_STS_VALIDATION, "duration");
    pol_principal_free(bob);
    pol_principal_free(eve);
    pol_principal_free(anon);
}

static void test_directory(struct sts_ctx *c, struct iam_store *st)
{
    struct sts_federation f;
    struct ts_error err;
    const char *dave[] = {"LDAPUsername",
                          "dave",
                          "LDAPPassword",
                          "pw",
                          "RoleArn",
                          "arn:aws:iam::000000000000:role/ldap-dave",
                          NULL};
    const char *erin_role[] = {"LDAPUsername",
                               "erin",
                               "LDAPPassword",
                               "pw",
                               "RoleArn",
                               "arn:aws:iam::000000000000:role/ldap-dave",
                               NULL};
    const char *bad_pw[] = {"LDAPUsername",
                            "dave",
                            "LDAPPassword",
                            "no",
                            "RoleArn",
                            "arn:aws:iam::000000000000:role/ldap-dave",
                            NULL};
    const char *plain[] = {"LDAPUsername", "dave", "LDAPPassword", "pw", NULL};

    is_int(fed(c, "AssumeRoleWithLDAPIdentity", NULL, plain, &f, &err), TS_E_STS_NOT_IMPLEMENTED,
           "no backend plugged in");
    is_int(sts_set_backend(c, "AssumeRoleWithLDAPIdentity", &fake_ldap_backend), TS_OK, "plug");
    put_role(st, "ldap-dave",
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
             "{\"Federated\":\"ldap\"},\"Action\":\"sts:AssumeRoleWithLDAPIdentity\","
             "\"Condition\":{\"StringEquals\":{\"ldap:username\":\"dave\"}}}]}");
    admitted(c, "AssumeRoleWithLDAPIdentity", NULL, dave, "ldap-dave", &f);
    is_str(f.session.parent, FAKE_LDAP_DN, "parent is the DN");
    sts_federation_cleanup(&f);

    is_int(fed(c, "AssumeRoleWithLDAPIdentity", NULL, erin_role, &f, &err), TS_E_ACCESS_DENIED,
           "erin refused by the condition");
    ok(strstr(err.msg, "Not authorized to assume role ldap-dave") != NULL, "msg: %s", err.msg);
    is_int(fed(c, "AssumeRoleWithLDAPIdentity", NULL, bad_pw, &f, &err), TS_E_STS_ACCESS_DENIED,
           "authentication before trust");
    is_str(err.msg, "bad password", "the backend's message");

    /* No role and no attachment: the mapper refuses; with one, the session gets it. */
    is_int(fed(c, "AssumeRoleWithLDAPIdentity", NULL, plain, &f, &err), TS_E_STS_ACCESS_DENIED,
           "nothing mapped");
    is_int(iam_attach(st, IAM_TARGET_DN, FAKE_LDAP_DN, "readonly"), TS_OK, "dn");
    is_int(fed(c, "AssumeRoleWithLDAPIdentity", NULL, plain, &f, &err), TS_OK, "mapped");
    ok(f.role[0] == '\0' && f.policies.n == 1, "mapped policy");
    sts_federation_cleanup(&f);
}

int main(void)
{
    struct iam_store *st = NULL;
    struct pol_engine *pe;
    struct sts_ctx *c;
    struct sts_config cfg = {.region = "us-east-1",
                             .root_user = "rootuser",
                             .root_secret = "rootsecret123",
                             .max_duration = 43200};
    char path[256], cmd[300];

    if (mkdtemp(dir_tmpl) == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/iam", dir_tmpl);
    if (iam_store_open(path, &st) != TS_OK)
        return 1;
    pe = pol_engine_new(st);
    c = sts_ctx_new(&cfg, st, pe);
    ok(pe != NULL && c != NULL, "setup");
    if (c == NULL)
        return t_done();
    is_int(iam_user_add(st, "bob", "bobsecret123", NULL), TS_OK, "bob");
    is_int(iam_user_add(st, "eve", "evesecret123", NULL), TS_OK, "eve");
    test_static(c, st);
    test_directory(c, st);
    sts_ctx_free(c);
    pol_engine_free(pe);
    iam_store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir_tmpl);
    if (system(cmd) != 0)
        return 1;
    return t_done();
}
