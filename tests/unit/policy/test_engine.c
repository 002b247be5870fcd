/* test_engine.c -- the authorizer (policy/engine.c) over a real IAM store (LMDB engine)
 * in a temporary directory: user and group policies, disabled users and groups, canned and
 * stored policies (a stored one overrides a canned name), temporary credentials with mapped
 * policies or the parent's current policies, session policies, bucket policies, cache
 * invalidation on every store mutation, and concurrent use. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "idp/iam.h"
#include "policy/pol.h"
#include "tests/harness/t.h"
#include "tests/unit/policy/pol_test_util.h"

#define R(b) "arn:aws:s3:::" b

static struct iam_store *st;
static struct pol_engine *eng;

static void put_policy(const char *name, const char *single_quoted)
{
    char *j = tq(single_quoted);
    is_int(pol_validate(j, strlen(j), NULL, 0), 0, name);
    is_int(iam_policy_put(st, name, j), 0, name);
    free(j);
}

static enum pol_decision authz(const struct pol_principal *p, const char *action,
                               const char *resource, const struct pol_doc *bp, const char **why)
{
    struct pol_request rq = {
        .action = action, .resource = resource, .principal = p, .now = 1748736000};
    return pol_authorize(eng, &rq, bp, why);
}

static void check(const struct pol_principal *p, const char *action, const char *resource,
                  const struct pol_doc *bp, enum pol_decision want, const char *want_why,
                  const char *name)
{
    const char *why = NULL;
    enum pol_decision got = authz(p, action, resource, bp, &why);
    ok(got == want, "%s: %s %s: got %s (%s), want %s", name, action, resource ? resource : "-",
       tdec(got), why ? why : "-", tdec(want));
    ok(why != NULL, "%s: why is set", name);
    if (want_why != NULL && why != NULL)
        ok(strcmp(why, want_why) == 0, "%s: why \"%s\", want \"%s\"", name, why, want_why);
}

static void setup(void)
{
    const char *devs[] = {"dave"}, *ops[] = {"dave"};
    is_int(iam_user_add(st, "alice", "alicesecret1", NULL), 0, "add alice");
    is_int(iam_user_add(st, "bob", "bobsecret12", NULL), 0, "add bob");
    is_int(iam_user_add(st, "carol", "carolsecret1", NULL), 0, "add carol");
    is_int(iam_user_add(st, "dave", "davesecret1", NULL), 0, "add dave");
    is_int(iam_user_add(st, "eve", "evesecret12", NULL), 0, "add eve");
    put_policy("bobpol", "{'Version':'2012-10-17','Statement':["
                         "{'Effect':'Allow','Action':'s3:ListBucket','Resource':'*'},"
                         "{'Effect':'Deny','Action':'s3:*','Resource':'arn:aws:s3:::secret/*'}]}");
    put_policy("devpol", "{'Version':'2012-10-17','Statement':{'Effect':'Allow',"
                         "'Action':'s3:GetObject','Resource':'arn:aws:s3:::dev/*'}}");
    /* a stored policy named like a canned one overrides it */
    put_policy("writeonly", "{'Version':'2012-10-17','Statement':{'Effect':'Allow',"
                            "'Action':'s3:GetObject','Resource':'arn:aws:s3:::*'}}");
    is_int(iam_attach(st, IAM_TARGET_USER, "alice", "readonly"), 0, "attach alice");
    is_int(iam_attach(st, IAM_TARGET_USER, "bob", "bobpol"), 0, "attach bob");
    is_int(iam_attach(st, IAM_TARGET_USER, "carol", "readwrite"), 0, "attach carol");
    is_int(iam_attach(st, IAM_TARGET_USER, "eve", "writeonly"), 0, "attach eve");
    is_int(iam_attach(st, IAM_TARGET_USER, "eve", "no-such-policy"), 0, "attach eve 2");
    is_int(iam_user_set_enabled(st, "carol", false), 0, "disable carol");
    is_int(iam_group_add(st, "devs", devs, 1), 0, "group devs");
    is_int(iam_group_add(st, "ops", ops, 1), 0, "group ops");
    is_int(iam_attach(st, IAM_TARGET_GROUP, "devs", "devpol"), 0, "attach devs");
    is_int(iam_attach(st, IAM_TARGET_GROUP, "ops", "readwrite"), 0, "attach ops");
    is_int(iam_group_set_enabled(st, "ops", false), 0, "disable ops");
}

static void test_users(void)
{
    struct pol_principal *root = tprincipal('R', "admin", NULL);
    struct pol_principal *alice = tprincipal('U', "alice", NULL);
    struct pol_principal *bob = tprincipal('U', "bob", NULL);
    struct pol_principal *carol = tprincipal('U', "carol", NULL);
    struct pol_principal *dave = tprincipal('U', "dave", NULL);
    struct pol_principal *eve = tprincipal('U', "eve", NULL);
    struct pol_principal *ghost = tprincipal('U', "ghost", NULL);

    check(root, "admin:ServerInfo", NULL, NULL, POL_ALLOW, "root is allowed everything", "root");
    check(alice, "s3:GetObject", R("b/k"), NULL, POL_ALLOW, "allowed by identity policy",
          "alice readonly get");
    check(alice, "s3:PutObject", R("b/k"), NULL, POL_IMPLICIT_DENY, "no statement allows",
          "alice readonly put");
    check(bob, "s3:ListBucket", R("b"), NULL, POL_ALLOW, NULL, "bob list");
    check(bob, "s3:GetObject", R("secret/k"), NULL, POL_EXPLICIT_DENY,
          "explicit deny in identity policy", "bob deny");
    check(carol, "s3:GetObject", R("b/k"), NULL, POL_IMPLICIT_DENY,
          "user does not exist or is disabled", "carol disabled");
    check(ghost, "s3:GetObject", R("b/k"), NULL, POL_IMPLICIT_DENY,
          "user does not exist or is disabled", "missing user");
    check(dave, "s3:GetObject", R("dev/k"), NULL, POL_ALLOW, NULL, "dave via group");
    check(dave, "s3:PutObject", R("dev/k"), NULL, POL_IMPLICIT_DENY, NULL,
          "dave: disabled group skipped");
    check(eve, "s3:GetObject", R("b/k"), NULL, POL_ALLOW, NULL, "stored overrides canned");
    check(eve, "s3:PutObject", R("b/k"), NULL, POL_IMPLICIT_DENY, NULL,
          "stored overrides canned: canned meaning gone");

    /* every mutation invalidates what the engine cached */
    is_int(iam_group_set_enabled(st, "ops", true), 0, "enable ops");
    check(dave, "s3:PutObject", R("dev/k"), NULL, POL_ALLOW, NULL, "dave: group enabled");
    is_int(iam_user_set_enabled(st, "carol", true), 0, "enable carol");
    check(carol, "s3:DeleteObject", R("b/k"), NULL, POL_ALLOW, NULL, "carol enabled");
    put_policy("devpol", "{'Version':'2012-10-17','Statement':{'Effect':'Deny',"
                         "'Action':'s3:*','Resource':'arn:aws:s3:::dev/*'}}");
    check(dave, "s3:GetObject", R("dev/k"), NULL, POL_EXPLICIT_DENY, NULL, "devpol replaced");
    is_int(iam_detach(st, IAM_TARGET_GROUP, "devs", "devpol"), 0, "detach devpol");
    check(dave, "s3:GetObject", R("dev/k"), NULL, POL_ALLOW, NULL, "devpol detached");
    is_int(iam_group_set_enabled(st, "ops", false), 0, "disable ops again");

    pol_principal_free(root);
    pol_principal_free(alice);
    pol_principal_free(bob);
    pol_principal_free(carol);
    pol_principal_free(dave);
    pol_principal_free(eve);
    pol_principal_free(ghost);
}

static struct pol_principal *temp(const char *parent, const char *source, const char *policies,
                                  const char *session)
{
    struct pol_principal *p = tprincipal('T', parent, NULL);
    p->parent = parent != NULL ? strdup(parent) : NULL;
    p->source = strdup(source);
    if (policies != NULL) {
        struct http_kv kv[8];
        size_t n = tkv(policies, kv, 8);
        p->policies.v = calloc(n, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            p->policies.v[p->policies.n++] = strdup(kv[i].value);
        tkv_free(kv, n);
    }
    if (session != NULL)
        p->session_doc = tparse(session);
    return p;
}

static void test_temp(void)
{
    struct pol_principal *ldap = temp("uid=jd,dc=example", "ldap", "p=readonly;p=devpol", NULL);
    struct pol_principal *sa = temp("alice", "static", NULL, NULL);
    struct pol_principal *sess =
        temp("alice", "static", NULL,
             "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"
             "'Resource':'arn:aws:s3:::b/*'},{'Effect':'Deny','Action':'s3:GetObject',"
             "'Resource':'arn:aws:s3:::b/private/*'}]}");
    struct pol_principal *gone = temp("nobody", "static", NULL, NULL);
    struct pol_principal *oidc = temp(NULL, "oidc", NULL, NULL);
    struct pol_principal *raw = temp("alice", "static", NULL, NULL);
    raw->session_policy = tq("{'Statement':{'Effect':'Allow','Action':'s3:GetObject',"
                             "'Resource':'arn:aws:s3:::only/*'}}");
    struct pol_principal *badsess = temp("alice", "static", NULL, NULL);
    badsess->session_policy = strdup("{not json");

    check(ldap, "s3:GetObject", R("b/k"), NULL, POL_ALLOW, NULL, "ldap mapped readonly");
    check(ldap, "s3:PutObject", R("b/k"), NULL, POL_IMPLICIT_DENY, NULL, "ldap mapped put");
    check(sa, "s3:GetObject", R("b/k"), NULL, POL_ALLOW, NULL, "temp: parent's policies");
    check(sa, "s3:PutObject", R("b/k"), NULL, POL_IMPLICIT_DENY, NULL, "temp: parent's put");
    is_int(iam_attach(st, IAM_TARGET_USER, "alice", "readwrite"), 0, "attach alice readwrite");
    check(sa, "s3:PutObject", R("b/k"), NULL, POL_ALLOW, NULL, "temp: parent's current policies");
    check(sess, "s3:GetObject", R("b/k"), NULL, POL_ALLOW, NULL, "session allows");
    check(sess, "s3:PutObject", R("b/k"), NULL, POL_IMPLICIT_DENY, "session policy does not allow",
          "session intersects");
    check(sess, "s3:GetObject", R("c/k"), NULL, POL_IMPLICIT_DENY, "session policy does not allow",
          "session resource");
    check(sess, "s3:GetObject", R("b/private/k"), NULL, POL_EXPLICIT_DENY,
          "explicit deny in session policy", "session deny");
    check(raw, "s3:GetObject", R("only/k"), NULL, POL_ALLOW, NULL, "uncompiled session policy");
    check(raw, "s3:GetObject", R("b/k"), NULL, POL_IMPLICIT_DENY, NULL,
          "uncompiled session policy limits");
    check(badsess, "s3:GetObject", R("b/k"), NULL, POL_IMPLICIT_DENY, "session policy is invalid",
          "invalid session policy fails closed");
    check(gone, "s3:GetObject", R("b/k"), NULL, POL_IMPLICIT_DENY,
          "parent user does not exist or is disabled", "temp: parent gone");
    check(oidc, "s3:GetObject", R("b/k"), NULL, POL_IMPLICIT_DENY, "no statement allows",
          "oidc without policies");
    is_int(iam_user_set_enabled(st, "alice", false), 0, "disable alice");
    check(sa, "s3:GetObject", R("b/k"), NULL, POL_IMPLICIT_DENY, NULL, "temp: parent disabled");
    is_int(iam_user_set_enabled(st, "alice", true), 0, "enable alice");
    is_int(iam_detach(st, IAM_TARGET_USER, "alice", "readwrite"), 0, "detach alice readwrite");

    struct pol_doc *bp = tparse("{'Version':'2012-10-17','Statement':{'Effect':'Allow',"
                                "'Principal':'*','Action':'s3:GetObject',"
                                "'Resource':'arn:aws:s3:::pub/*'}}");
    check(oidc, "s3:GetObject", R("pub/k"), bp, POL_ALLOW, "allowed by bucket policy",
          "oidc via bucket policy");
    check(sess, "s3:GetObject", R("pub/k"), bp, POL_IMPLICIT_DENY, "session policy does not allow",
          "bucket policy does not bypass the session policy");
    pol_doc_free(bp);

    pol_principal_free(ldap);
    pol_principal_free(sa);
    pol_principal_free(sess);
    pol_principal_free(gone);
    pol_principal_free(oidc);
    pol_principal_free(raw);
    pol_principal_free(badsess);
}

static void test_bucket(void)
{
    struct pol_principal *anon = tprincipal('A', NULL, NULL);
    struct pol_principal *bob = tprincipal('U', "bob", NULL);
    struct pol_principal *alice = tprincipal('U', "alice", NULL);
    struct pol_doc *bp = tparse(
        "{'Version':'2012-10-17','Statement':["
        "{'Effect':'Allow','Principal':'*','Action':'s3:GetObject','Resource':'arn:aws:s3:::pub/"
        "*'},"
        "{'Effect':'Allow','Principal':{'AWS':['arn:aws:iam::*:user/bob']},'Action':'s3:PutObject',"
        "'Resource':['arn:aws:s3:::pub/*','arn:aws:s3:::secret/*']},"
        "{'Effect':'Deny','Principal':{'AWS':'alice'},'Action':'s3:GetObject',"
        "'Resource':'arn:aws:s3:::pub/nope/*'}]}");

    check(anon, "s3:GetObject", R("pub/k"), bp, POL_ALLOW, "allowed by bucket policy",
          "anonymous get");
    check(anon, "s3:PutObject", R("pub/k"), bp, POL_IMPLICIT_DENY,
          "no bucket policy allows anonymous", "anonymous put");
    check(anon, "s3:GetObject", R("pub/k"), NULL, POL_IMPLICIT_DENY, NULL, "anonymous, no bp");
    check(NULL, "s3:GetObject", R("pub/k"), bp, POL_ALLOW, NULL, "NULL principal is anonymous");
    check(bob, "s3:PutObject", R("pub/k"), bp, POL_ALLOW, "allowed by bucket policy",
          "bob via bucket policy");
    check(bob, "s3:PutObject", R("secret/k"), bp, POL_EXPLICIT_DENY,
          "explicit deny in identity policy", "identity deny beats bucket allow");
    check(alice, "s3:PutObject", R("pub/k"), bp, POL_IMPLICIT_DENY, NULL,
          "bucket principal is bob only");
    check(alice, "s3:GetObject", R("pub/nope/k"), bp, POL_EXPLICIT_DENY,
          "explicit deny in bucket policy", "bucket deny beats identity allow");
    check(alice, "s3:GetObject", R("pub/k"), bp, POL_ALLOW, NULL, "alice identity + bucket");
    pol_doc_free(bp);
    pol_principal_free(anon);
    pol_principal_free(bob);
    pol_principal_free(alice);
}

static volatile int stop;

static void *worker(void *arg)
{
    struct pol_principal *dave = tprincipal('U', "dave", NULL);
    long bad = 0;
    for (int i = 0; i < 3000; i++) {
        enum pol_decision d = authz(dave, "s3:GetObject", R("dev/k"), NULL, NULL);
        if (d != POL_ALLOW && d != POL_IMPLICIT_DENY)
            bad++;
    }
    pol_principal_free(dave);
    *(long *)arg = bad;
    return NULL;
}

/* Fail closed: a stored policy that cannot be parsed denies every request of the principals it
 * is attached to (directly, through a group, or mapped into a session), even where another
 * policy allows, since its Deny statements cannot be known; nothing is cached, so replacing
 * it with a good document takes effect at once. */
static void test_unusable_policy(void)
{
    struct pol_principal *frank = tprincipal('U', "frank", NULL);
    struct pol_principal *grace = tprincipal('U', "grace", NULL);
    struct pol_principal *mapped = temp("uid=m,dc=example", "ldap", "p=readonly;p=broken", NULL);

    is_int(iam_user_add(st, "frank", "franksecret1", NULL), 0, "add frank");
    is_int(iam_user_add(st, "grace", "gracesecret1", NULL), 0, "add grace");
    /* the store holds what it is given: validation is the admin API's job */
    is_int(iam_policy_put(st, "broken", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\""),
           0, "store a broken policy");
    is_int(iam_attach(st, IAM_TARGET_USER, "frank", "readwrite"), 0, "attach frank readwrite");
    is_int(iam_attach(st, IAM_TARGET_USER, "frank", "broken"), 0, "attach frank broken");
    is_int(iam_attach(st, IAM_TARGET_USER, "grace", "readwrite"), 0, "attach grace readwrite");
    const char *gm[] = {"grace"};
    is_int(iam_group_add(st, "bgrp", gm, 1), 0, "group bgrp");
    is_int(iam_attach(st, IAM_TARGET_GROUP, "bgrp", "broken"), 0, "attach bgrp broken");

    check(frank, "s3:GetObject", R("b/k"), NULL, POL_IMPLICIT_DENY, NULL, "unusable own policy");
    check(grace, "s3:GetObject", R("b/k"), NULL, POL_IMPLICIT_DENY, NULL, "unusable group policy");
    check(mapped, "s3:GetObject", R("b/k"), NULL, POL_IMPLICIT_DENY,
          "too many policies, or one could not be read", "unusable mapped policy");
    /* fixed: allowed again at once */
    put_policy("broken", "{'Version':'2012-10-17','Statement':{'Effect':'Deny',"
                         "'Action':'s3:PutObject','Resource':'*'}}");
    check(frank, "s3:GetObject", R("b/k"), NULL, POL_ALLOW, NULL, "fixed own policy");
    check(frank, "s3:PutObject", R("b/k"), NULL, POL_EXPLICIT_DENY, NULL, "fixed policy denies");
    check(grace, "s3:GetObject", R("b/k"), NULL, POL_ALLOW, NULL, "fixed group policy");
    check(mapped, "s3:GetObject", R("b/k"), NULL, POL_ALLOW, NULL, "fixed mapped policy");
    pol_principal_free(frank);
    pol_principal_free(grace);
    pol_principal_free(mapped);
}

static void test_threads(void)
{
    pthread_t th[4];
    long bad[4] = {0};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, worker, &bad[i]);
    for (int i = 0; i < 40; i++) {
        iam_attach(st, IAM_TARGET_GROUP, "devs", i % 2 ? "readonly" : "writeonly");
        iam_detach(st, IAM_TARGET_GROUP, "devs", i % 2 ? "writeonly" : "readonly");
        usleep(200);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        is_int(bad[i], 0, "worker saw only allow or implicit deny");
    }
}

int main(void)
{
    char dir[] = "/tmp/pol_engine_XXXXXX";
    char cmd[128];
    if (mkdtemp(dir) == NULL)
        return 1;
    is_int(iam_store_open(dir, &st), 0, "store open");
    if (st == NULL)
        return t_done();
    eng = pol_engine_new(st);
    ok(eng != NULL, "engine");
    setup();
    test_users();
    test_temp();
    test_bucket();
    test_unusable_policy();
    test_threads();
    pol_engine_free(eng);
    iam_store_close(st);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", dir);
    return t_done();
}
