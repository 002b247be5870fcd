/* test_doc.c -- parsing and validation of policy documents (policy/doc.c): every malformed
 * document is rejected with TS_E_MALFORMED_POLICY and a message naming the problem; valid
 * forms (no Version, 2008-10-17, single Statement object, MinIO's consoleAdmin without
 * Resource, trust policies) are accepted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "policy/pol.h"
#include "tests/harness/t.h"
#include "tests/unit/policy/pol_test_util.h"

#define S3ALL "'Action':'s3:*','Resource':'*'"

struct bad {
    const char *json; /* single-quoted */
    const char *want; /* substring of the error message */
};

static const struct bad bads[] = {
    {"not json{", "invalid JSON at line 1, column"},
    {"{\n'Version': }", "invalid JSON at line 2"},
    {"[]", "policy must be a JSON object"},
    {"{'Version':'2012-10-17','Statement':[{'Effect':'Allow'," S3ALL ",'Effect':'Deny'}]}",
     "duplicate"},
    {"{'Version':'2013-01-01','Statement':[]}", "invalid Version"},
    {"{'Version':2012,'Statement':[]}", "invalid Version"},
    {"{'Version':'2012-10-17'}", "missing Statement"},
    {"{'Statement':'x'}", "Statement must be an object or a list"},
    {"{'Statement':[5]}", "statement 1: not an object"},
    {"{'Statements':[]}", "unknown policy element \"Statements\""},
    {"{'Id':5,'Statement':[]}", "Id must be a string"},
    {"{'Statement':[{" S3ALL "}]}", "statement 1: missing Effect"},
    {"{'Statement':[{'Effect':'Permit'," S3ALL "}]}", "unknown Effect \"Permit\""},
    {"{'Statement':[{'Effect':'allow'," S3ALL "}]}", "unknown Effect \"allow\""},
    {"{'Statement':[{'Effect':true," S3ALL "}]}", "Effect must be a string"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL "},{'Effect':'Allow','Resource':'*'}]}",
     "statement 2: missing Action"},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:*','NotAction':'s3:Get*','Resource':'*'}]}",
     "both Action and NotAction"},
    {"{'Statement':[{'Effect':'Allow','Action':'GetObject','Resource':'*'}]}",
     "invalid action \"GetObject\""},
    {"{'Statement':[{'Effect':'Allow','Action':'ec2:RunInstances','Resource':'*'}]}",
     "unknown service \"ec2\""},
    {"{'Statement':[{'Effect':'Allow','Action':':GetObject','Resource':'*'}]}",
     "invalid action \":GetObject\""},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:','Resource':'*'}]}", "invalid action \"s3:\""},
    {"{'Statement':[{'Effect':'Allow','Action':[],'Resource':'*'}]}", "Action is an empty list"},
    {"{'Statement':[{'Effect':'Allow','Action':5,'Resource':'*'}]}",
     "Action must be a string or a list of strings"},
    {"{'Statement':[{'Effect':'Allow','Action':['s3:GetObject',5],'Resource':'*'}]}",
     "Action must be a string or a list of strings"},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:GetObject'}]}", "missing Resource"},
    {"{'Statement':[{'Effect':'Allow','Action':'*'}]}", "missing Resource"},
    {"{'Statement':[{'Effect':'Allow','NotAction':'admin:*'}]}", "missing Resource"},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'mybucket'}]}",
     "invalid resource \"mybucket\": not an ARN"},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:*','Resource':['*','bucket/*']}]}",
     "invalid resource \"bucket/*\""},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'arn:aws:s3'}]}", "bad ARN"},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'arn:aws:s3:::'}]}", "bad ARN"},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'arn::s3:::b'}]}", "bad ARN"},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'arn:aws:ec2:::b'}]}",
     "bad ARN service \"ec2\""},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'arn:aws:s3:us-east-1:1:b'}]}",
     "S3 ARNs have no region or account"},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'*','NotResource':'*'}]}",
     "both Resource and NotResource"},
    {"{'Statement':[{'Effect':'Allow','Action':'s3:*','Resource':{}}]}",
     "Resource must be a string or a list of strings"},
    {"{'Statement':[{'Effect':'Allow','Actions':'s3:*','Resource':'*'}]}",
     "unknown element \"Actions\""},
    {"{'Statement':[{'Sid':5,'Effect':'Allow'," S3ALL "}]}", "Sid must be a string"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':'x'}]}", "Condition must be an object"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'StringSorta':{'k':'v'}}}]}",
     "unsupported condition operator \"StringSorta\""},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'NullIfExists':{'k':'true'}}}]}",
     "unsupported condition operator \"NullIfExists\""},
    {"{'Statement':[{'Effect':'Allow'," S3ALL
     ",'Condition':{'ForSomeValues:StringLike':{'k':'v'}}}]}",
     "unsupported condition operator \"ForSomeValues:StringLike\""},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'StringEquals':'x'}}]}",
     "condition operator StringEquals must map condition keys to values"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'StringEquals':{}}}]}",
     "must map condition keys to values"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'StringEquals':{'k':{'a':1}}}}]}",
     "wrong value type for condition key k under StringEquals"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'StringEquals':{'k':null}}}]}",
     "wrong value type"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'StringEquals':{'k':['a',[1]]}}}]}",
     "wrong value type"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'StringEquals':{'k':[]}}}]}",
     "has no values"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'StringEquals':{'':'v'}}}]}",
     "empty condition key"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'NumericLessThan':{'k':'abc'}}}]}",
     "\"abc\" for key k is not a number"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'DateLessThan':{'k':'yesterday'}}}]}",
     "\"yesterday\" for key k is not a date"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL
     ",'Condition':{'IpAddress':{'aws:SourceIp':'300.1.1.1'}}}]}",
     "not an IP address or CIDR"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL
     ",'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/33'}}}]}",
     "not an IP address or CIDR"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL
     ",'Condition':{'NotIpAddress':{'aws:SourceIp':'::1/129'}}}]}",
     "not an IP address or CIDR"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL
     ",'Condition':{'Bool':{'aws:SecureTransport':'yes'}}}]}",
     "must be true or false"},
    {"{'Statement':[{'Effect':'Allow'," S3ALL ",'Condition':{'Null':{'k':'maybe'}}}]}",
     "must be true or false"},
    {"{'Statement':[{'Effect':'Allow','Principal':'bob'," S3ALL "}]}",
     "Principal must be \"*\" or an object"},
    {"{'Statement':[{'Effect':'Allow','Principal':{'Foo':'x'}," S3ALL "}]}",
     "unknown Principal type \"Foo\""},
    {"{'Statement':[{'Effect':'Allow','Principal':{'AWS':[]}," S3ALL "}]}", "empty list"},
    {"{'Statement':[{'Effect':'Allow','Principal':'*','NotPrincipal':'*'," S3ALL "}]}",
     "both Principal and NotPrincipal"},
    {"{'Statement':[{'Effect':'Allow','NotPrincipal':{}," S3ALL "}]}",
     "NotPrincipal must be \"*\" or an object"},
};

static const char *const goods[] = {
    "{'Statement':[{'Effect':'Allow'," S3ALL "}]}",
    "{'Version':'2008-10-17','Statement':{'Effect':'Deny'," S3ALL "}}",
    "{'Version':'2012-10-17','Id':'x','Statement':[]}",
    "{'Version':'2012-10-17','Statement':[{'Sid':'A','Effect':'Allow','Action':['admin:*']},"
    "{'Effect':'Allow','Action':'kms:*'}]}",
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'Federated':'oidc'},"
    "'Action':'sts:AssumeRoleWithWebIdentity','Condition':{'StringEquals':{'jwt:aud':'app'}}}]}",
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'sts:AssumeRole',"
    "'Resource':'arn:aws:iam::123456789012:role/dev'}]}",
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'sts:*',"
    "'Resource':'arn:aws:sts::123456789012:assumed-role/x/y'}]}",
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'*',"
    "'Condition':{'NumericLessThan':{'s3:max-keys':10},'Bool':{'aws:SecureTransport':true},"
    "'DateLessThan':{'aws:EpochTime':1700000000},'NumericEquals':{'k':1.5}}}]}",
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'S3:getobject',"
    "'Resource':'arn:aws:s3:::b/${aws:username}/*','Condition':{"
    "'forallvalues:stringlikeifexists':{'jwt:groups':['a*']},'IpAddressIfExists':{"
    "'aws:SourceIp':['10.0.0.0/8','::1','2001:db8::/32']}}}]}",
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':['*']},"
    "'Action':'s3:GetObject','Resource':'arn:aws:s3:::b/*'}]}",
    "{'Statement':[{'Effect':'Allow','Action':'*','Resource':'arn:aws:s3:::*'}]}",
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        char *j = tq(bads[i].json), err[512] = "";
        struct pol_doc *sentinel = (struct pol_doc *)(uintptr_t)0x1234, *d = sentinel;
        int rc = pol_doc_parse(j, strlen(j), &d, err, sizeof(err));
        is_int(rc, TS_E_MALFORMED_POLICY, bads[i].json);
        ok(d == sentinel, "bad %zu: *out untouched", i);
        ok(strstr(err, bads[i].want) != NULL, "bad %zu: error \"%s\" should contain \"%s\"", i, err,
           bads[i].want);
        is_int(pol_validate(j, strlen(j), NULL, 0), TS_E_MALFORMED_POLICY, "validate, no err buf");
        free(j);
    }
}

static void test_good(void)
{
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
        char *j = tq(goods[i]), err[512] = "";
        struct pol_doc *d = NULL;
        int rc = pol_doc_parse(j, strlen(j), &d, err, sizeof(err));
        ok(rc == 0 && d != NULL, "good %zu rejected: %s", i, err);
        ok(pol_validate(j, strlen(j), err, sizeof(err)) == 0, "validate good: %s", err);
        pol_doc_free(d);
        free(j);
    }
}

static void test_limits(void)
{
    size_t n = POL_MAX_DOC_LEN + 1;
    char *big = malloc(n + 1), err[256] = "", small[8];
    struct pol_doc *d = NULL;
    memset(big, ' ', n);
    big[n] = '\0';
    memcpy(big, "{\"Statement\":[]}", 16);
    is_int(pol_doc_parse(big, n, &d, err, sizeof(err)), TS_E_MALFORMED_POLICY, "too large");
    ok(strstr(err, "limit is 20480") != NULL, "size error names the limit: %s", err);
    is_int(pol_doc_parse(big, POL_MAX_DOC_LEN, &d, err, sizeof(err)), 0, "at the limit");
    pol_doc_free(d);
    free(big);
    d = NULL;
    is_int(pol_doc_parse("{", 1, &d, small, sizeof(small)), TS_E_MALFORMED_POLICY, "truncated");
    is_int(strlen(small), sizeof(small) - 1, "error message truncated to the buffer");
    is_int(pol_doc_parse(NULL, 0, &d, err, sizeof(err)), TS_E_MALFORMED_POLICY, "NULL json");
    /* a document with an embedded NUL is not JSON */
    is_int(pol_doc_parse("{}\0x", 4, &d, err, sizeof(err)), TS_E_MALFORMED_POLICY, "NUL byte");
    pol_doc_free(NULL);
}

static void test_canned_parse(void)
{
    const char *names[] = {"readonly", "readwrite", "writeonly", "diagnostics", "consoleAdmin"};
    for (size_t i = 0; i < 5; i++) {
        const char *j = pol_canned_json(names[i]);
        char err[256] = "";
        ok(j != NULL, "canned %s", names[i]);
        if (j != NULL)
            ok(pol_validate(j, strlen(j), err, sizeof(err)) == 0, "canned %s valid: %s", names[i],
               err);
        if (j != NULL) {
            struct pol_doc *d = NULL;
            ok(pol_doc_parse(j, strlen(j), &d, err, sizeof(err)) == 0, "canned %s parses",
               names[i]);
            pol_doc_free(d);
        }
    }
    ok(pol_canned_json(NULL) == NULL, "NULL name");
}

/* Written policies name actions tessera checks (pol_validate); stored ones still parse. */
static void test_known_actions(void)
{
    static const struct {
        const char *action;
        bool ok;
    } cases[] = {
        {"s3:GetObject", true},
        {"S3:getobject", true},
        {"s3:Get*", true},
        {"s3:*", true},
        {"*", true},
        {"sts:AssumeRole", true},
        {"sts:TagSession", true},
        {"admin:CreateUser", true},
        {"admin:ServerInfo", true},
        {"s3:?etObject", true},
        {"s3:GetObjekt", false},
        {"s3:Frob*", false},
        {"admin:ServerUpdate", false},
        {"sts:GetSessionToken", true},
        {"sts:GetFederationToken", false},
        {"kms:*", true},               /* MinIO's KMS actions (consoleAdmin names kms:*) */
        {"s3:GetObjectVersion", true}, /* an S3 action tessera does not check yet */
        {"kms:Frob", false},
        {"iam:PassRole", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char json[256], err[256] = "";
        struct pol_doc *d = NULL;
        snprintf(json, sizeof json,
                 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\","
                 "\"Action\":[\"%s\"],\"Resource\":[\"arn:aws:s3:::*\"]}]}",
                 cases[i].action);
        int rc = pol_validate(json, strlen(json), err, sizeof err);
        ok(rc == (cases[i].ok ? TS_OK : TS_E_MALFORMED_POLICY), "written policy with %s: %s",
           cases[i].action, err);
        if (!cases[i].ok)
            ok(strstr(err, cases[i].action) != NULL, "the error names %s", cases[i].action);
        ok(pol_doc_parse(json, strlen(json), &d, err, sizeof err) == TS_OK,
           "stored policy with %s still parses", cases[i].action);
        pol_doc_free(d);
        ok(pol_action_known(cases[i].action) == cases[i].ok || strcmp(cases[i].action, "*") == 0,
           "pol_action_known(%s)", cases[i].action);
    }
}

int main(void)
{
    test_known_actions();
    test_bad();
    test_good();
    test_limits();
    test_canned_parse();
    return t_done();
}
