/* test_acl_decision.c -- how the authorizer combines a resource's ACL source with the policies
 * (pol_authorize_res, policy/engine.c), and what makes a bucket policy public
 * (pol_doc_is_public): an explicit Deny anywhere wins over an ACL; the ACL is asked only when
 * no policy allowed; RestrictPublicBuckets takes a public policy's Allow from anonymous callers
 * only; a temporary principal's session policy still limits; a failing ACL source allows
 * nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "idp/iam.h"
#include "policy/pol.h"
#include "tests/harness/t.h"
#include "tests/unit/policy/pol_test_util.h"

static struct iam_store *st;
static struct pol_engine *eng;
static int acl_calls;

/* A fake ACL source: grants everything ("yes"), nothing ("no"). */
static enum pol_decision acl_src(const void *ctx, const struct pol_request *rq)
{
    (void)rq;
    acl_calls++;
    return strcmp(ctx, "yes") == 0 ? POL_ALLOW : POL_IMPLICIT_DENY;
}

static enum pol_decision ask(const struct pol_principal *p, const char *resource,
                             const struct pol_doc *bp, const char *acl, bool restrict_public)
{
    struct pol_request rq = {
        .action = "s3:GetObject", .resource = resource, .principal = p, .now = 1748736000};
    struct pol_resource res = {bp, restrict_public, acl ? acl_src : NULL, acl};
    return pol_authorize_res(eng, &rq, &res, NULL);
}

static void put_policy(const char *name, const char *single_quoted, const char *user)
{
    char *j = tq(single_quoted);
    is_int(iam_policy_put(st, name, j), 0, name);
    is_int(iam_attach(st, IAM_TARGET_USER, user, name), 0, name);
    free(j);
}

static void test_combining(void)
{
    struct pol_principal *anon = tprincipal('A', NULL, NULL);
    struct pol_principal *reader = tprincipal('U', "reader", NULL);
    struct pol_principal *denied = tprincipal('U', "denied", NULL);
    struct pol_principal *none = tprincipal('U', "none", NULL);
    struct pol_doc *deny_all = tparse("{'Version':'2012-10-17','Statement':{'Effect':'Deny',"
                                      "'Principal':'*','Action':'s3:GetObject',"
                                      "'Resource':'arn:aws:s3:::b/secret'}}");
    struct pol_doc *pub = tparse("{'Version':'2012-10-17','Statement':{'Effect':'Allow',"
                                 "'Principal':'*','Action':'s3:GetObject',"
                                 "'Resource':'arn:aws:s3:::b/*'}}");
    const char *k = "arn:aws:s3:::b/k", *secret = "arn:aws:s3:::b/secret";

    ok(ask(anon, k, NULL, "yes", false) == POL_ALLOW, "anonymous: the ACL allows");
    ok(ask(anon, k, NULL, "no", false) == POL_IMPLICIT_DENY, "anonymous: nothing allows");
    ok(ask(anon, k, NULL, NULL, false) == POL_IMPLICIT_DENY, "anonymous: no ACL source");
    ok(ask(none, k, NULL, "yes", false) == POL_ALLOW, "a user without policies: the ACL allows");
    ok(ask(anon, secret, deny_all, "yes", false) == POL_EXPLICIT_DENY,
       "a bucket policy's Deny beats the ACL");
    ok(ask(denied, k, NULL, "yes", false) == POL_EXPLICIT_DENY,
       "an identity policy's Deny beats the ACL");
    acl_calls = 0;
    ok(ask(reader, k, NULL, "yes", false) == POL_ALLOW && acl_calls == 0,
       "the identity policy allows: the ACL is never asked");
    ok(ask(anon, k, pub, "no", false) == POL_ALLOW && acl_calls == 0,
       "the bucket policy allows: the ACL is never asked");
    ok(ask(anon, k, pub, "no", true) == POL_IMPLICIT_DENY,
       "RestrictPublicBuckets: a public policy allows anonymous nothing");
    ok(ask(anon, k, pub, "yes", true) == POL_ALLOW, "... the ACL still may (IgnorePublicAcls not)");
    ok(ask(none, k, pub, NULL, true) == POL_ALLOW, "... a signed caller keeps the policy's Allow");
    ok(ask(anon, secret, deny_all, NULL, true) == POL_EXPLICIT_DENY, "... and Deny stays");
    /* A session whose policy does not allow: the ACL does not lift it. */
    struct pol_principal *tmp = tprincipal('T', "none", NULL);
    tmp->source = strdup("static");
    tmp->parent = strdup("none");
    tmp->session_policy = tq("{'Version':'2012-10-17','Statement':{'Effect':'Allow',"
                             "'Action':'s3:ListBucket','Resource':'*'}}");
    ok(ask(tmp, k, NULL, "yes", false) == POL_IMPLICIT_DENY, "the session policy still limits");
    pol_principal_free(tmp);
    pol_doc_free(deny_all);
    pol_doc_free(pub);
    pol_principal_free(anon);
    pol_principal_free(reader);
    pol_principal_free(denied);
    pol_principal_free(none);
}

static void public_case(const char *stmt, bool want, const char *name)
{
    char doc[2048];
    snprintf(doc, sizeof doc, "{'Version':'2012-10-17','Statement':[%s]}", stmt);
    struct pol_doc *d = tparse(doc);
    ok(d != NULL && pol_doc_is_public(d) == want, "%s: public %d", name, want);
    pol_doc_free(d);
}

#define ALLOW_STAR "'Effect':'Allow','Principal':'*','Action':'s3:GetObject','Resource':'*'"

static void test_public(void)
{
    public_case("{" ALLOW_STAR "}", true, "Principal *");
    public_case("{'Effect':'Allow','Principal':{'AWS':['*']},'Action':'s3:GetObject',"
                "'Resource':'*'}",
                true, "AWS *");
    public_case("{'Effect':'Allow','NotPrincipal':{'AWS':'bob'},'Action':'s3:GetObject',"
                "'Resource':'*'}",
                true, "NotPrincipal");
    public_case("{'Effect':'Allow','Principal':{'AWS':'bob'},'Action':'s3:GetObject',"
                "'Resource':'*'}",
                false, "a named principal");
    public_case("{'Effect':'Deny','Principal':'*','Action':'s3:GetObject','Resource':'*'}", false,
                "a Deny");
    public_case("{" ALLOW_STAR ",'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}}}", false,
                "fixed source IP");
    public_case("{" ALLOW_STAR ",'Condition':{'StringEquals':{'aws:PrincipalArn':'x'}}}", false,
                "fixed principal ARN");
    public_case("{" ALLOW_STAR ",'Condition':{'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}}}", true,
                "a negated condition restricts nothing");
    public_case("{" ALLOW_STAR ",'Condition':{'StringEquals':{'aws:UserAgent':'x'}}}", true,
                "a user agent restricts nothing");
    public_case("{" ALLOW_STAR ",'Condition':{'StringEqualsIfExists':{'aws:SourceArn':'x'}}}", true,
                "...IfExists restricts nothing");
    ok(!pol_doc_is_public(NULL), "no policy");
}

int main(void)
{
    char dir[] = "/tmp/pol_acl_XXXXXX", cmd[128];
    if (mkdtemp(dir) == NULL)
        return 1;
    is_int(iam_store_open(dir, &st), 0, "store open");
    eng = pol_engine_new(st);
    is_int(iam_user_add(st, "reader", "readersecret1", NULL), 0, "reader");
    is_int(iam_user_add(st, "denied", "deniedsecret1", NULL), 0, "denied");
    is_int(iam_user_add(st, "none", "nonesecret12", NULL), 0, "none");
    put_policy("readpol",
               "{'Version':'2012-10-17','Statement':{'Effect':'Allow','Action':'s3:GetObject',"
               "'Resource':'arn:aws:s3:::b/*'}}",
               "reader");
    put_policy("denypol",
               "{'Version':'2012-10-17','Statement':{'Effect':'Deny','Action':'s3:GetObject',"
               "'Resource':'arn:aws:s3:::b/*'}}",
               "denied");
    test_combining();
    test_public();
    pol_engine_free(eng);
    iam_store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup of %s failed\n", dir);
    return t_done();
}
