/* test_eval.c -- evaluation of policy documents with AWS IAM semantics (policy/eval.c,
 * cond.c, vars.c). Table-driven; the policies follow the S3 examples of the AWS IAM
 * documentation (home folders with ${aws:username}, deny without TLS, IP allow-lists,
 * prefix-limited listing, NotAction/NotResource, condition operators, bucket policies). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/pol.h"
#include "tests/harness/t.h"
#include "tests/unit/policy/pol_test_util.h"

#define A POL_ALLOW
#define D POL_IMPLICIT_DENY
#define X POL_EXPLICIT_DENY

#define NOW_2025 1748736000LL /* 2025-06-01T00:00:00Z */

/* AWS IAM docs: "allows IAM users to access their own home directory in Amazon S3". */
#define P_HOME                                                                                     \
    "{'Version':'2012-10-17','Statement':["                                                        \
    "{'Sid':'List','Effect':'Allow','Action':'s3:ListBucket','Resource':'arn:aws:s3:::bucket',"    \
    "'Condition':{'StringLike':{'s3:prefix':['','home/','home/${aws:username}/*']}}},"             \
    "{'Sid':'Objects','Effect':'Allow','Action':['s3:GetObject','s3:PutObject'],"                  \
    "'Resource':'arn:aws:s3:::bucket/home/${aws:username}/*'}]}"

/* AWS: deny any S3 request that does not use TLS. */
#define P_TLS                                                                                      \
    "{'Version':'2012-10-17','Statement':["                                                        \
    "{'Effect':'Allow','Action':'s3:*','Resource':'*'},"                                           \
    "{'Effect':'Deny','Action':'s3:*','Resource':['arn:aws:s3:::secure','arn:aws:s3:::secure/*']," \
    "'Condition':{'Bool':{'aws:SecureTransport':'false'}}}]}"

#define P_IP                                                                                       \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'arn:aws:s3:::b/*','Condition':{'IpAddress':{'aws:SourceIp':"                      \
    "['192.0.2.0/24','203.0.113.7','2001:db8::/32']}}}]}"

#define P_NOTIP                                                                                    \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'*'},"      \
    "{'Effect':'Deny','Action':'s3:*','Resource':'*',"                                             \
    "'Condition':{'NotIpAddress':{'aws:SourceIp':['10.0.0.0/8','fd00::/8']}}}]}"

#define P_PREFIX                                                                                   \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:ListBucket',"             \
    "'Resource':'arn:aws:s3:::corp','Condition':{'StringLike':{'s3:prefix':['projects/*',"         \
    "'shared/*']},'StringEquals':{'s3:delimiter':'/'}}}]}"

#define P_NOTACTION                                                                                \
    "{'Version':'2012-10-17','Statement':{'Effect':'Allow','NotAction':['s3:DeleteObject',"        \
    "'s3:DeleteBucket'],'Resource':'*'}}"

#define P_NOTRES                                                                                   \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:*',"                      \
    "'NotResource':['arn:aws:s3:::secret','arn:aws:s3:::secret/*']}]}"

#define P_DENY_NOTRES                                                                              \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'*'},"      \
    "{'Effect':'Deny','Action':'s3:*','NotResource':['arn:aws:s3:::only','arn:aws:s3:::only/"      \
    "*']}]}"

#define P_DENY_ORDER                                                                               \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:*','Resource':'*'},"      \
    "{'Effect':'Deny','Action':'s3:DeleteObject','Resource':'arn:aws:s3:::b/*'}]}"

#define P_IFEXISTS                                                                                 \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:PutObject',"              \
    "'Resource':'*','Condition':{'StringEqualsIfExists':{'s3:x-amz-acl':'private'}}}]}"

#define P_NUM_IFEXISTS                                                                             \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:ListBucket',"             \
    "'Resource':'*','Condition':{'NumericLessThanEqualsIfExists':{'s3:max-keys':'100'}}}]}"

#define P_FORANY                                                                                   \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'*','Condition':{'ForAnyValue:StringEquals':{'jwt:groups':['admins','ops']}}}]}"

#define P_FORALL                                                                                   \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'*','Condition':{'ForAllValues:StringLike':{'jwt:groups':'team-*'}}}]}"

#define P_FORANY_NEG                                                                               \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'*','Condition':{'ForAnyValue:StringNotEquals':{'jwt:groups':'guests'}}}]}"

#define P_FORALL_NEG                                                                               \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'*','Condition':{'ForAllValues:StringNotLike':{'jwt:groups':'bad-*'}}}]}"

#define P_NULL_DENY                                                                                \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Deny','Action':'s3:PutObject','Resource':'*'" \
    ","                                                                                            \
    "'Condition':{'Null':{'s3:x-amz-server-side-encryption':'true'}}},"                            \
    "{'Effect':'Allow','Action':'s3:*','Resource':'*'}]}"

#define P_NULL_FALSE                                                                               \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'*','Condition':{'Null':{'jwt:sub':false}}}]}"

#define P_DATE                                                                                     \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'*','Condition':{'DateGreaterThan':{'aws:CurrentTime':'2020-01-01T00:00:00Z'},"    \
    "'DateLessThan':{'aws:CurrentTime':'2030-01-01T00:00:00Z'}}}]}"

#define P_DATE_EPOCH                                                                               \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'*','Condition':{'DateLessThanEquals':{'aws:EpochTime':1700000000}}}]}"

#define P_DATE_EQ                                                                                  \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'*','Condition':{'DateEquals':{'custom:date':'2024-01-02T03:04:05Z'}}},"           \
    "{'Effect':'Allow','Action':'s3:PutObject','Resource':'*',"                                    \
    "'Condition':{'DateNotEquals':{'custom:date':'2024-01-02T03:04:05Z'}}},"                       \
    "{'Effect':'Allow','Action':'s3:DeleteObject','Resource':'*',"                                 \
    "'Condition':{'DateGreaterThanEquals':{'custom:date':'2024-01-02'}}}]}"

#define P_NUM                                                                                      \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:ListBucket',"             \
    "'Resource':'*','Condition':{'NumericLessThan':{'s3:max-keys':'10'}}},"                        \
    "{'Effect':'Allow','Action':'s3:GetObject','Resource':'*',"                                    \
    "'Condition':{'NumericEquals':{'s3:max-keys':10}}},"                                           \
    "{'Effect':'Allow','Action':'s3:PutObject','Resource':'*',"                                    \
    "'Condition':{'NumericNotEquals':{'s3:max-keys':'10'}}},"                                      \
    "{'Effect':'Allow','Action':'s3:DeleteObject','Resource':'*',"                                 \
    "'Condition':{'NumericGreaterThan':{'s3:max-keys':'10'}}},"                                    \
    "{'Effect':'Allow','Action':'s3:ListBucketVersions','Resource':'*',"                           \
    "'Condition':{'NumericGreaterThanEquals':{'s3:max-keys':'10.5'}}}]}"

#define P_ESC                                                                                      \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'arn:aws:s3:::b/${*}lit${?}${$}end'}]}"

#define P_2008                                                                                     \
    "{'Version':'2008-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':'arn:aws:s3:::b/${aws:username}'}]}"

#define P_CASE                                                                                     \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':['S3:GetObject','s3:list*']," \
    "'Resource':['arn:aws:s3:::Data/*','arn:aws:s3:::Data']}]}"

#define P_BUCKET_PUBLIC                                                                            \
    "{'Version':'2012-10-17','Statement':[{'Sid':'PublicRead','Effect':'Allow','Principal':'*',"   \
    "'Action':['s3:GetObject'],'Resource':['arn:aws:s3:::pub/*']}]}"

#define P_BUCKET_AWS                                                                               \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow',"                                      \
    "'Principal':{'AWS':['arn:aws:iam::*:user/alice','carol']},"                                   \
    "'Action':'s3:*','Resource':'arn:aws:s3:::pub/*'}]}"

#define P_BUCKET_AWSSTAR                                                                           \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'AWS':'*'},"              \
    "'Action':'s3:ListBucket','Resource':'arn:aws:s3:::pub'}]}"

#define P_BUCKET_NOTPRIN                                                                           \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Principal':'*','Action':'s3:*',"      \
    "'Resource':'arn:aws:s3:::vault/*'},{'Effect':'Deny','NotPrincipal':{'AWS':'alice'},"          \
    "'Action':'s3:*','Resource':'arn:aws:s3:::vault/*'}]}"

#define P_STR                                                                                      \
    "{'Version':'2012-10-17','Statement':["                                                        \
    "{'Effect':'Allow','Action':'s3:GetObject','Resource':'*',"                                    \
    "'Condition':{'StringEqualsIgnoreCase':{'jwt:email':'bob@example.COM'}}},"                     \
    "{'Effect':'Allow','Action':'s3:PutObject','Resource':'*',"                                    \
    "'Condition':{'StringEquals':{'jwt:email':'bob@example.com'}}},"                               \
    "{'Effect':'Allow','Action':'s3:DeleteObject','Resource':'*',"                                 \
    "'Condition':{'StringNotEqualsIgnoreCase':{'jwt:email':'BOB@EXAMPLE.COM'}}},"                  \
    "{'Effect':'Allow','Action':'s3:ListBucket','Resource':'*',"                                   \
    "'Condition':{'StringNotLike':{'s3:prefix':'private/*'}}},"                                    \
    "{'Effect':'Allow','Action':'s3:GetObjectTagging','Resource':'*',"                             \
    "'Condition':{'StringLike':{'s3:prefix':'file?.txt'}}}]}"

#define P_ARN                                                                                      \
    "{'Version':'2012-10-17','Statement':["                                                        \
    "{'Effect':'Allow','Action':'s3:GetObject','Resource':'*',"                                    \
    "'Condition':{'ArnLike':{'aws:SourceArn':'arn:aws:s3:::logs-*'}}},"                            \
    "{'Effect':'Allow','Action':'s3:PutObject','Resource':'*',"                                    \
    "'Condition':{'ArnEquals':{'aws:SourceArn':'arn:aws:s3:::exact'}}},"                           \
    "{'Effect':'Allow','Action':'s3:DeleteObject','Resource':'*',"                                 \
    "'Condition':{'ArnNotLike':{'aws:SourceArn':'arn:aws:s3:::logs-*'}}},"                         \
    "{'Effect':'Allow','Action':'s3:ListBucket','Resource':'*',"                                   \
    "'Condition':{'BinaryEquals':{'custom:bin':'QmluYXJ5'}}}]}"

#define P_PRINCIPAL_KEYS                                                                           \
    "{'Version':'2012-10-17','Statement':["                                                        \
    "{'Effect':'Allow','Action':'s3:GetObject','Resource':'*',"                                    \
    "'Condition':{'StringEquals':{'AWS:PrincipalType':'User'}}},"                                  \
    "{'Effect':'Allow','Action':'s3:PutObject','Resource':'*',"                                    \
    "'Condition':{'StringEquals':{'aws:PrincipalType':['AssumedRole','Account']}}},"               \
    "{'Effect':'Allow','Action':'s3:ListBucket','Resource':'*',"                                   \
    "'Condition':{'StringEquals':{'aws:PrincipalType':'Anonymous'}}},"                             \
    "{'Effect':'Allow','Action':'s3:DeleteObject','Resource':'*',"                                 \
    "'Condition':{'StringEquals':{'aws:PrincipalTag/team':'blue'}}},"                              \
    "{'Effect':'Allow','Action':'s3:GetObjectAcl','Resource':'*',"                                 \
    "'Condition':{'StringLike':{'aws:UserAgent':'*aws-cli*'}}},"                                   \
    "{'Effect':'Allow','Action':'s3:PutObjectAcl','Resource':'*',"                                 \
    "'Condition':{'NumericGreaterThan':{'aws:EpochTime':'1700000000'}}}]}"

#define P_VARS                                                                                     \
    "{'Version':'2012-10-17','Statement':["                                                        \
    "{'Effect':'Allow','Action':'s3:GetObject','Resource':'arn:aws:s3:::oidc/${jwt:sub}/*'},"      \
    "{'Effect':'Allow','Action':'s3:PutObject','Resource':'arn:aws:s3:::ldap/${ldap:username}/"    \
    "*'},"                                                                                         \
    "{'Effect':'Allow','Action':'s3:ListBucket','Resource':'arn:aws:s3:::ldap',"                   \
    "'Condition':{'StringEquals':{'s3:prefix':'${ldap:username}/'}}},"                             \
    "{'Effect':'Allow','Action':'s3:DeleteObject','Resource':'arn:aws:s3:::u/${aws:userid}-*'},"   \
    "{'Effect':'Allow','Action':'s3:GetObjectTagging','Resource':'arn:aws:s3:::g/"                 \
    "${jwt:groups}'}]}"

/* Issue 13 item 13: JWT claim names are case-sensitive in variables and condition keys; the
 * names of aws:/s3: keys (and aws:PrincipalTag/<key>) are not. */
#define P_CLAIM_CASE                                                                               \
    "{'Version':'2012-10-17','Statement':["                                                        \
    "{'Effect':'Allow','Action':'s3:GetObject','Resource':'arn:aws:s3:::home/${jwt:sub}/*'},"      \
    "{'Effect':'Allow','Action':'s3:PutObject','Resource':'arn:aws:s3:::home/${JWT:sub}/*'},"      \
    "{'Effect':'Allow','Action':'s3:DeleteObject','Resource':'*',"                                 \
    "'Condition':{'StringLike':{'jwt:sub':'repo:acme/app:*'}}},"                                   \
    "{'Effect':'Allow','Action':'s3:ListBucket','Resource':'*',"                                   \
    "'Condition':{'StringEquals':{'Jwt:Team':'blue'}}},"                                           \
    "{'Effect':'Allow','Action':'s3:GetObjectTagging','Resource':'*',"                             \
    "'Condition':{'StringEquals':{'AWS:PRINCIPALTAG/TEAM':'blue'}}},"                              \
    "{'Effect':'Allow','Action':'s3:PutObjectTagging','Resource':'*',"                             \
    "'Condition':{'StringEquals':{'idp.example/realms/x:sub':'alice'}}},"                          \
    "{'Effect':'Allow','Action':'s3:GetObjectAcl','Resource':'*',"                                 \
    "'Condition':{'StringEquals':{'S3:Prefix':'a/'}}}]}"

#define P_MULTI                                                                                    \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:ListBucket',"             \
    "'Resource':'*','Condition':{'StringEquals':{'s3:prefix':['a/','b/'],'s3:delimiter':'/'},"     \
    "'NumericLessThanEquals':{'s3:max-keys':'1000'}}}]}"

#define P_UTF8                                                                                     \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':'s3:GetObject',"              \
    "'Resource':['arn:aws:s3:::b/caf?','arn:aws:s3:::b/x*y*z']}]}"

#define P_ADMINSTMT                                                                                \
    "{'Version':'2012-10-17','Statement':[{'Effect':'Allow','Action':['admin:*','s3:Get*'],"       \
    "'Resource':'arn:aws:s3:::logs/*'}]}"

struct tc {
    const char *pol;
    const char *action;
    const char *resource; /* NULL: an action without a resource (admin) */
    char ptype;           /* 'A' anonymous, 'U' user, 'T' temporary, 'R' root */
    const char *user;
    const char *claims;
    const char *keys;
    const char *ip;
    int secure;
    long long now;
    const char *ua;
    enum pol_decision want;
};

#define R(b) "arn:aws:s3:::" b

static const struct tc cases[] = {
    /* home folders */
    {P_HOME, "s3:ListBucket", R("bucket"), 'U', "bob", NULL, "s3:prefix=home/bob/", .want = A},
    {P_HOME, "s3:ListBucket", R("bucket"), 'U', "bob", NULL, "s3:prefix=home/bob/docs/", .want = A},
    {P_HOME, "s3:ListBucket", R("bucket"), 'U', "bob", NULL, "s3:prefix=home/alice/", .want = D},
    {P_HOME, "s3:ListBucket", R("bucket"), 'U', "bob", NULL, "s3:prefix=", .want = A},
    {P_HOME, "s3:ListBucket", R("bucket"), 'U', "bob", NULL, "s3:prefix=home/", .want = A},
    {P_HOME, "s3:ListBucket", R("bucket"), 'U', "bob", NULL, "s3:prefix=home", .want = D},
    {P_HOME, "s3:ListBucket", R("bucket"), 'U', "bob", NULL, NULL, .want = D},
    {P_HOME, "s3:ListBucket", R("bucket"), 'U', "bob", NULL, "S3:Prefix=home/bob/", .want = A},
    {P_HOME, "s3:ListBucket", R("other"), 'U', "bob", NULL, "s3:prefix=home/bob/", .want = D},
    {P_HOME, "s3:ListBucket", R("Bucket"), 'U', "bob", NULL, "s3:prefix=home/bob/", .want = D},
    {P_HOME, "s3:GetObject", R("bucket/home/bob/a.txt"), 'U', "bob", .want = A},
    {P_HOME, "s3:GetObject", R("bucket/home/bob/a/b/c"), 'U', "bob", .want = A},
    {P_HOME, "s3:PutObject", R("bucket/home/bob/new"), 'U', "bob", .want = A},
    {P_HOME, "s3:GetObject", R("bucket/home/alice/a.txt"), 'U', "bob", .want = D},
    {P_HOME, "s3:GetObject", R("bucket/home/bobby/a.txt"), 'U', "bob", .want = D},
    {P_HOME, "s3:GetObject", R("bucket/home/bob"), 'U', "bob", .want = D},
    {P_HOME, "s3:DeleteObject", R("bucket/home/bob/a.txt"), 'U', "bob", .want = D},
    {P_HOME, "S3:GETOBJECT", R("bucket/home/bob/a.txt"), 'U', "bob", .want = A},
    {P_HOME, "s3:getobject", R("bucket/HOME/bob/a.txt"), 'U', "bob", .want = D},
    {P_HOME, "s3:GetObject", R("bucket/home/bob/a.txt"), 'A', NULL, .want = D},
    {P_HOME, "s3:GetObject", R("bucket/home/b*/x"), 'U', "b*", .want = A},
    {P_HOME, "s3:GetObject", R("bucket/home/bxx/x"), 'U', "b*", .want = D},
    {P_HOME, "s3:GetObject", R("bucket/home/a/x"), 'U', "?", .want = D},
    {P_HOME, "s3:GetObject", R("bucket/home/bob/a.txt"), 'T', "bob", .want = A},
    /* deny without TLS */
    {P_TLS, "s3:GetObject", R("secure/x"), 'U', "bob", .secure = 1, .want = A},
    {P_TLS, "s3:GetObject", R("secure/x"), 'U', "bob", .secure = 0, .want = X},
    {P_TLS, "s3:ListBucket", R("secure"), 'U', "bob", .secure = 0, .want = X},
    {P_TLS, "s3:GetObject", R("other/x"), 'U', "bob", .secure = 0, .want = A},
    {P_TLS, "s3:GetObject", R("securex/x"), 'U', "bob", .secure = 0, .want = A},
    {P_TLS, "s3:GetObject", R("secure/x"), 'U', "bob", NULL, "aws:SecureTransport=true",
     .secure = 0, .want = A},
    {P_TLS, "admin:ServerInfo", NULL, 'U', "bob", .secure = 0, .want = D},
    /* IP allow-list */
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "192.0.2.55", .want = A},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "192.0.2.0", .want = A},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "192.0.2.255", .want = A},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "192.0.3.1", .want = D},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "203.0.113.7", .want = A},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "203.0.113.8", .want = D},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "2001:db8:1::5", .want = A},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "2001:db9::1", .want = D},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "::ffff:192.0.2.9", .want = A},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = NULL, .want = D},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "not-an-ip", .want = D},
    {P_IP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "192.0.2.1/32", .want = D},
    {P_NOTIP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "10.1.2.3", .want = A},
    {P_NOTIP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "fd12::1", .want = A},
    {P_NOTIP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "11.0.0.1", .want = X},
    {P_NOTIP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = "fe80::1", .want = X},
    {P_NOTIP, "s3:GetObject", R("b/k"), 'U', "bob", .ip = NULL, .want = X},
    /* prefix-limited listing */
    {P_PREFIX, "s3:ListBucket", R("corp"), 'U', "bob", NULL, "s3:prefix=projects/a;s3:delimiter=/",
     .want = A},
    {P_PREFIX, "s3:ListBucket", R("corp"), 'U', "bob", NULL, "s3:prefix=shared/;s3:delimiter=/",
     .want = A},
    {P_PREFIX, "s3:ListBucket", R("corp"), 'U', "bob", NULL, "s3:prefix=projects/a", .want = D},
    {P_PREFIX, "s3:ListBucket", R("corp"), 'U', "bob", NULL, "s3:prefix=private/;s3:delimiter=/",
     .want = D},
    {P_PREFIX, "s3:ListBucket", R("corp"), 'U', "bob", NULL, "s3:prefix=projects;s3:delimiter=/",
     .want = D},
    {P_PREFIX, "s3:ListBucket", R("corp"), 'U', "bob", NULL, "s3:prefix=projects/;s3:delimiter=|",
     .want = D},
    {P_PREFIX, "s3:ListBucket", R("corp"), 'U', "bob", NULL, "s3:delimiter=/", .want = D},
    /* NotAction / NotResource */
    {P_NOTACTION, "s3:GetObject", R("b/k"), 'U', "bob", .want = A},
    {P_NOTACTION, "s3:DeleteObject", R("b/k"), 'U', "bob", .want = D},
    {P_NOTACTION, "S3:deleteobject", R("b/k"), 'U', "bob", .want = D},
    {P_NOTACTION, "s3:DeleteBucket", R("b"), 'U', "bob", .want = D},
    {P_NOTACTION, "s3:DeleteObjectTagging", R("b/k"), 'U', "bob", .want = A},
    {P_NOTACTION, "admin:ServerInfo", NULL, 'U', "bob", .want = A},
    {P_NOTRES, "s3:GetObject", R("pub/x"), 'U', "bob", .want = A},
    {P_NOTRES, "s3:GetObject", R("secret/x"), 'U', "bob", .want = D},
    {P_NOTRES, "s3:ListBucket", R("secret"), 'U', "bob", .want = D},
    {P_NOTRES, "s3:GetObject", R("secretive/x"), 'U', "bob", .want = A},
    {P_DENY_NOTRES, "s3:GetObject", R("only/x"), 'U', "bob", .want = A},
    {P_DENY_NOTRES, "s3:GetObject", R("other/x"), 'U', "bob", .want = X},
    {P_DENY_NOTRES, "s3:ListBucket", R("only"), 'U', "bob", .want = A},
    /* explicit deny precedence */
    {P_DENY_ORDER, "s3:DeleteObject", R("b/k"), 'U', "bob", .want = X},
    {P_DENY_ORDER, "s3:GetObject", R("b/k"), 'U', "bob", .want = A},
    {P_DENY_ORDER, "s3:DeleteObject", R("c/k"), 'U', "bob", .want = A},
    {P_DENY_ORDER, "S3:DELETEOBJECT", R("b/k"), 'U', "bob", .want = X},
    /* IfExists */
    {P_IFEXISTS, "s3:PutObject", R("b/k"), 'U', "bob", .want = A},
    {P_IFEXISTS, "s3:PutObject", R("b/k"), 'U', "bob", NULL, "s3:x-amz-acl=private", .want = A},
    {P_IFEXISTS, "s3:PutObject", R("b/k"), 'U', "bob", NULL, "s3:x-amz-acl=public-read", .want = D},
    {P_NUM_IFEXISTS, "s3:ListBucket", R("b"), 'U', "bob", .want = A},
    {P_NUM_IFEXISTS, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:max-keys=50", .want = A},
    {P_NUM_IFEXISTS, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:max-keys=100", .want = A},
    {P_NUM_IFEXISTS, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:max-keys=500", .want = D},
    {P_NUM_IFEXISTS, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:max-keys=abc", .want = D},
    /* set operators */
    {P_FORANY, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:groups=devs;jwt:groups=ops", .want = A},
    {P_FORANY, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:groups=admins", .want = A},
    {P_FORANY, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:groups=devs", .want = D},
    {P_FORANY, "s3:GetObject", R("b/k"), 'T', "bob", NULL, .want = D},
    /* issue 13 item 13: the namespace is case-insensitive, the claim name is not */
    {P_FORANY, "s3:GetObject", R("b/k"), 'T', "bob", "JWT:groups=ops", .want = A},
    {P_FORANY, "s3:GetObject", R("b/k"), 'T', "bob", "JWT:Groups=ops", .want = D},
    {P_FORANY, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:Groups=admins;jwt:groups=devs",
     .want = D},
    {P_FORALL, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:groups=team-a;jwt:groups=team-b",
     .want = A},
    {P_FORALL, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:groups=team-a;jwt:groups=other",
     .want = D},
    {P_FORALL, "s3:GetObject", R("b/k"), 'T', "bob", NULL, .want = A},
    {P_FORANY_NEG, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:groups=guests;jwt:groups=x",
     .want = A},
    {P_FORANY_NEG, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:groups=guests", .want = D},
    {P_FORANY_NEG, "s3:GetObject", R("b/k"), 'T', "bob", NULL, .want = D},
    {P_FORALL_NEG, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:groups=a;jwt:groups=b", .want = A},
    {P_FORALL_NEG, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:groups=a;jwt:groups=bad-x",
     .want = D},
    {P_FORALL_NEG, "s3:GetObject", R("b/k"), 'T', "bob", NULL, .want = A},
    /* Null */
    {P_NULL_DENY, "s3:PutObject", R("b/k"), 'U', "bob", .want = X},
    {P_NULL_DENY, "s3:PutObject", R("b/k"), 'U', "bob", NULL,
     "s3:x-amz-server-side-encryption=AES256", .want = A},
    {P_NULL_DENY, "s3:GetObject", R("b/k"), 'U', "bob", .want = A},
    {P_NULL_FALSE, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:sub=abc", .want = A},
    {P_NULL_FALSE, "s3:GetObject", R("b/k"), 'T', "bob", NULL, .want = D},
    /* dates */
    {P_DATE, "s3:GetObject", R("b/k"), 'U', "bob", .now = NOW_2025, .want = A},
    {P_DATE, "s3:GetObject", R("b/k"), 'U', "bob", .now = 1546300800LL, .want = D},
    {P_DATE, "s3:GetObject", R("b/k"), 'U', "bob", .now = 1924992000LL, .want = D},
    {P_DATE, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "aws:CurrentTime=2021-03-04T05:06:07Z",
     .now = 1546300800LL, .want = A},
    {P_DATE_EPOCH, "s3:GetObject", R("b/k"), 'U', "bob", .now = 1700000000LL, .want = A},
    {P_DATE_EPOCH, "s3:GetObject", R("b/k"), 'U', "bob", .now = 1700000001LL, .want = D},
    {P_DATE_EQ, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "custom:date=2024-01-02T03:04:05Z",
     .want = A},
    {P_DATE_EQ, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "custom:date=1704164645", .want = A},
    {P_DATE_EQ, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "custom:date=2024-01-02T04:04:05+01:00",
     .want = A},
    {P_DATE_EQ, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "custom:date=1704164646", .want = D},
    {P_DATE_EQ, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "custom:date=garbage", .want = D},
    {P_DATE_EQ, "s3:PutObject", R("b/k"), 'U', "bob", NULL, "custom:date=1704164646", .want = A},
    {P_DATE_EQ, "s3:PutObject", R("b/k"), 'U', "bob", NULL, "custom:date=1704164645", .want = D},
    {P_DATE_EQ, "s3:PutObject", R("b/k"), 'U', "bob", .want = A},
    {P_DATE_EQ, "s3:DeleteObject", R("b/k"), 'U', "bob", NULL, "custom:date=2024-01-02", .want = A},
    {P_DATE_EQ, "s3:DeleteObject", R("b/k"), 'U', "bob", NULL, "custom:date=2024-01-01T23:59:59Z",
     .want = D},
    /* numbers */
    {P_NUM, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:max-keys=5", .want = A},
    {P_NUM, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:max-keys=-3", .want = A},
    {P_NUM, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:max-keys=10", .want = D},
    {P_NUM, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:max-keys=15", .want = D},
    {P_NUM, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:max-keys=abc", .want = D},
    {P_NUM, "s3:ListBucket", R("b"), 'U', "bob", NULL, .want = D},
    {P_NUM, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "s3:max-keys=10", .want = A},
    {P_NUM, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "s3:max-keys=10.0", .want = A},
    {P_NUM, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "s3:max-keys=11", .want = D},
    {P_NUM, "s3:PutObject", R("b/k"), 'U', "bob", NULL, "s3:max-keys=11", .want = A},
    {P_NUM, "s3:PutObject", R("b/k"), 'U', "bob", NULL, "s3:max-keys=10", .want = D},
    {P_NUM, "s3:PutObject", R("b/k"), 'U', "bob", .want = A},
    {P_NUM, "s3:DeleteObject", R("b/k"), 'U', "bob", NULL, "s3:max-keys=11", .want = A},
    {P_NUM, "s3:DeleteObject", R("b/k"), 'U', "bob", NULL, "s3:max-keys=10", .want = D},
    {P_NUM, "s3:ListBucketVersions", R("b"), 'U', "bob", NULL, "s3:max-keys=10.5", .want = A},
    {P_NUM, "s3:ListBucketVersions", R("b"), 'U', "bob", NULL, "s3:max-keys=10.4", .want = D},
    /* escapes and versions */
    {P_ESC, "s3:GetObject", R("b/*lit?$end"), 'U', "bob", .want = A},
    {P_ESC, "s3:GetObject", R("b/Xlit?$end"), 'U', "bob", .want = D},
    {P_ESC, "s3:GetObject", R("b/*litX$end"), 'U', "bob", .want = D},
    {P_ESC, "s3:GetObject", R("b/*lit?$endmore"), 'U', "bob", .want = D},
    {P_2008, "s3:GetObject", R("b/${aws:username}"), 'U', "bob", .want = A},
    {P_2008, "s3:GetObject", R("b/bob"), 'U', "bob", .want = D},
    /* case: actions are case-insensitive, resources case-sensitive */
    {P_CASE, "s3:getobject", R("Data/k"), 'U', "bob", .want = A},
    {P_CASE, "S3:GETOBJECT", R("Data/k"), 'U', "bob", .want = A},
    {P_CASE, "s3:GetObject", R("data/k"), 'U', "bob", .want = D},
    {P_CASE, "s3:ListBucket", R("Data"), 'U', "bob", .want = A},
    {P_CASE, "S3:LISTBUCKETVERSIONS", R("Data"), 'U', "bob", .want = A},
    {P_CASE, "s3:ListBucket", R("DATA"), 'U', "bob", .want = D},
    {P_CASE, "s3:PutObject", R("Data/k"), 'U', "bob", .want = D},
    /* bucket policies */
    {P_BUCKET_PUBLIC, "s3:GetObject", R("pub/x"), 'A', NULL, .want = A},
    {P_BUCKET_PUBLIC, "s3:PutObject", R("pub/x"), 'A', NULL, .want = D},
    {P_BUCKET_PUBLIC, "s3:GetObject", R("priv/x"), 'A', NULL, .want = D},
    {P_BUCKET_PUBLIC, "s3:GetObject", R("pub/x"), 'U', "bob", .want = A},
    {P_BUCKET_PUBLIC, "s3:GetObject", R("pub/x"), 'T', "bob", .want = A},
    {P_BUCKET_AWS, "s3:PutObject", R("pub/x"), 'U', "alice", .want = A},
    {P_BUCKET_AWS, "s3:PutObject", R("pub/x"), 'U', "carol", .want = A},
    {P_BUCKET_AWS, "s3:PutObject", R("pub/x"), 'U', "bob", .want = D},
    {P_BUCKET_AWS, "s3:PutObject", R("pub/x"), 'A', NULL, .want = D},
    {P_BUCKET_AWSSTAR, "s3:ListBucket", R("pub"), 'A', NULL, .want = A},
    {P_BUCKET_NOTPRIN, "s3:GetObject", R("vault/x"), 'U', "alice", .want = A},
    {P_BUCKET_NOTPRIN, "s3:GetObject", R("vault/x"), 'U', "bob", .want = X},
    {P_BUCKET_NOTPRIN, "s3:GetObject", R("vault/x"), 'A', NULL, .want = X},
    /* string operators */
    {P_STR, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:email=Bob@Example.com", .want = A},
    {P_STR, "s3:GetObject", R("b/k"), 'T', "bob", "jwt:email=bob@example.org", .want = D},
    {P_STR, "s3:PutObject", R("b/k"), 'T', "bob", "jwt:email=bob@example.com", .want = A},
    {P_STR, "s3:PutObject", R("b/k"), 'T', "bob", "jwt:email=Bob@example.com", .want = D},
    {P_STR, "s3:DeleteObject", R("b/k"), 'T', "bob", "jwt:email=Bob@Example.com", .want = D},
    {P_STR, "s3:DeleteObject", R("b/k"), 'T', "bob", "jwt:email=eve@example.com", .want = A},
    {P_STR, "s3:DeleteObject", R("b/k"), 'T', "bob", NULL, .want = A},
    {P_STR, "s3:ListBucket", R("b"), 'T', "bob", NULL, "s3:prefix=private/x", .want = D},
    {P_STR, "s3:ListBucket", R("b"), 'T', "bob", NULL, "s3:prefix=public/x", .want = A},
    {P_STR, "s3:ListBucket", R("b"), 'T', "bob", NULL, NULL, .want = A},
    {P_STR, "s3:GetObjectTagging", R("b/k"), 'T', "bob", NULL, "s3:prefix=file1.txt", .want = A},
    {P_STR, "s3:GetObjectTagging", R("b/k"), 'T', "bob", NULL, "s3:prefix=file12.txt", .want = D},
    {P_STR, "s3:GetObjectTagging", R("b/k"), 'T', "bob", NULL, "s3:prefix=file.txt", .want = D},
    /* ARN and binary operators */
    {P_ARN, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "aws:SourceArn=arn:aws:s3:::logs-2024",
     .want = A},
    {P_ARN, "s3:GetObject", R("b/k"), 'U', "bob", NULL, "aws:SourceArn=arn:aws:s3:::data",
     .want = D},
    {P_ARN, "s3:PutObject", R("b/k"), 'U', "bob", NULL, "aws:SourceArn=arn:aws:s3:::exact",
     .want = A},
    {P_ARN, "s3:PutObject", R("b/k"), 'U', "bob", NULL, "aws:SourceArn=arn:aws:s3:::exact2",
     .want = D},
    {P_ARN, "s3:DeleteObject", R("b/k"), 'U', "bob", NULL, "aws:SourceArn=arn:aws:s3:::data",
     .want = A},
    {P_ARN, "s3:DeleteObject", R("b/k"), 'U', "bob", NULL, "aws:SourceArn=arn:aws:s3:::logs-1",
     .want = D},
    {P_ARN, "s3:ListBucket", R("b"), 'U', "bob", NULL, "custom:bin=QmluYXJ5", .want = A},
    {P_ARN, "s3:ListBucket", R("b"), 'U', "bob", NULL, "custom:bin=QmluYXJ6", .want = D},
    /* principal and environment keys */
    {P_PRINCIPAL_KEYS, "s3:GetObject", R("b/k"), 'U', "bob", .want = A},
    {P_PRINCIPAL_KEYS, "s3:GetObject", R("b/k"), 'T', "bob", .want = D},
    {P_PRINCIPAL_KEYS, "s3:PutObject", R("b/k"), 'T', "bob", .want = A},
    {P_PRINCIPAL_KEYS, "s3:PutObject", R("b/k"), 'R', "root", .want = A},
    {P_PRINCIPAL_KEYS, "s3:PutObject", R("b/k"), 'U', "bob", .want = D},
    {P_PRINCIPAL_KEYS, "s3:ListBucket", R("b"), 'A', NULL, .want = A},
    {P_PRINCIPAL_KEYS, "s3:ListBucket", R("b"), 'U', "bob", .want = D},
    {P_PRINCIPAL_KEYS, "s3:DeleteObject", R("b/k"), 'T', "bob", "aws:PrincipalTag/team=blue",
     .want = A},
    {P_PRINCIPAL_KEYS, "s3:DeleteObject", R("b/k"), 'T', "bob", "aws:PrincipalTag/team=red",
     .want = D},
    {P_PRINCIPAL_KEYS, "s3:GetObjectAcl", R("b/k"), 'U', "bob", .ua = "aws-cli/2.15 Python/3",
     .want = A},
    {P_PRINCIPAL_KEYS, "s3:GetObjectAcl", R("b/k"), 'U', "bob", .ua = "Boto3/1.34", .want = D},
    {P_PRINCIPAL_KEYS, "s3:GetObjectAcl", R("b/k"), 'U', "bob", .want = D},
    {P_PRINCIPAL_KEYS, "s3:PutObjectAcl", R("b/k"), 'U', "bob", .now = NOW_2025, .want = A},
    {P_PRINCIPAL_KEYS, "s3:PutObjectAcl", R("b/k"), 'U', "bob", .now = 1600000000LL, .want = D},
    /* policy variables from claims */
    {P_VARS, "s3:GetObject", R("oidc/abc-123/f"), 'T', "bob", "jwt:sub=abc-123", .want = A},
    {P_VARS, "s3:GetObject", R("oidc/abc-124/f"), 'T', "bob", "jwt:sub=abc-123", .want = D},
    {P_VARS, "s3:GetObject", R("oidc//f"), 'T', "bob", NULL, .want = D},
    {P_VARS, "s3:PutObject", R("ldap/jdoe/f"), 'T', "bob", "ldap:username=jdoe", .want = A},
    {P_VARS, "s3:PutObject", R("ldap/jdoe/f"), 'T', "bob", "ldap:username=other", .want = D},
    {P_VARS, "s3:ListBucket", R("ldap"), 'T', "bob", "ldap:username=jdoe", "s3:prefix=jdoe/",
     .want = A},
    {P_VARS, "s3:ListBucket", R("ldap"), 'T', "bob", "ldap:username=jdoe", "s3:prefix=x/",
     .want = D},
    {P_VARS, "s3:ListBucket", R("ldap"), 'T', "bob", NULL, "s3:prefix=/", .want = D},
    {P_VARS, "s3:DeleteObject", R("u/bob-1"), 'U', "bob", .want = A},
    {P_VARS, "s3:DeleteObject", R("u/eve-1"), 'U', "bob", .want = D},
    {P_VARS, "s3:GetObjectTagging", R("g/devs"), 'T', "bob", "jwt:groups=devs;jwt:groups=ops",
     .want = A},
    /* issue 13 item 13: claim names are case-sensitive ("Sub" is another claim than "sub") */
    {P_CLAIM_CASE, "s3:GetObject", R("home/alice/f"), 'T', "bob", "jwt:Sub=bob;jwt:sub=alice",
     .want = A},
    {P_CLAIM_CASE, "s3:GetObject", R("home/bob/f"), 'T', "bob", "jwt:Sub=bob;jwt:sub=alice",
     .want = D},
    {P_CLAIM_CASE, "s3:GetObject", R("home/bob/f"), 'T', "bob", "jwt:Sub=bob", .want = D},
    {P_CLAIM_CASE, "s3:PutObject", R("home/alice/f"), 'T', "bob", "jwt:Sub=bob;jwt:sub=alice",
     .want = A},
    {P_CLAIM_CASE, "s3:PutObject", R("home/bob/f"), 'T', "bob", "jwt:Sub=bob;jwt:sub=alice",
     .want = D},
    {P_CLAIM_CASE, "s3:DeleteObject", R("b/k"), 'T', "bob",
     "jwt:Sub=repo:acme/app:ref:main;jwt:sub=repo:evil/app:ref:main", .want = D},
    {P_CLAIM_CASE, "s3:DeleteObject", R("b/k"), 'T', "bob", "jwt:sub=repo:acme/app:ref:main",
     .want = A},
    {P_CLAIM_CASE, "s3:ListBucket", R("b"), 'T', "bob", "jwt:Team=blue", .want = A},
    {P_CLAIM_CASE, "s3:ListBucket", R("b"), 'T', "bob", "jwt:team=blue", .want = D},
    {P_CLAIM_CASE, "s3:GetObjectTagging", R("b/k"), 'T', "bob", "aws:PrincipalTag/team=blue",
     .want = A},
    {P_CLAIM_CASE, "s3:GetObjectTagging", R("b/k"), 'T', "bob", "aws:PrincipalTag/Team=blue",
     .want = A},
    {P_CLAIM_CASE, "s3:PutObjectTagging", R("b/k"), 'T', "bob", NULL,
     "idp.example/realms/x:sub=alice", .want = A},
    {P_CLAIM_CASE, "s3:PutObjectTagging", R("b/k"), 'T', "bob", NULL,
     "idp.example/realms/x:Sub=alice;idp.example/realms/x:sub=eve", .want = D},
    {P_CLAIM_CASE, "s3:GetObjectAcl", R("b/k"), 'T', "bob", NULL, "s3:prefix=a/", .want = A},
    /* AND / OR */
    {P_MULTI, "s3:ListBucket", R("b"), 'U', "bob", NULL,
     "s3:prefix=a/;s3:delimiter=/;s3:max-keys=1000", .want = A},
    {P_MULTI, "s3:ListBucket", R("b"), 'U', "bob", NULL,
     "s3:prefix=b/;s3:delimiter=/;s3:max-keys=1", .want = A},
    /* a positive operator on a missing key (s3:max-keys) is false */
    {P_MULTI, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:prefix=a/;s3:delimiter=/", .want = D},
    {P_MULTI, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:prefix=c/;s3:delimiter=/", .want = D},
    {P_MULTI, "s3:ListBucket", R("b"), 'U', "bob", NULL, "s3:prefix=a/", .want = D},
    {P_MULTI, "s3:ListBucket", R("b"), 'U', "bob", NULL,
     "s3:prefix=a/;s3:delimiter=/;s3:max-keys=2000", .want = D},
    {P_MULTI, "s3:ListBucket", R("b"), 'U', "bob", NULL,
     "s3:prefix=a/;s3:delimiter=/;s3:max-keys=20", .want = A},
    /* wildcards */
    {P_UTF8, "s3:GetObject", R("b/caf\xc3\xa9"), 'U', "bob", .want = A},
    {P_UTF8, "s3:GetObject", R("b/cafe"), 'U', "bob", .want = A},
    {P_UTF8, "s3:GetObject", R("b/caf"), 'U', "bob", .want = D},
    {P_UTF8, "s3:GetObject", R("b/cafee"), 'U', "bob", .want = D},
    {P_UTF8, "s3:GetObject", R("b/xyz"), 'U', "bob", .want = A},
    {P_UTF8, "s3:GetObject", R("b/x-y-z"), 'U', "bob", .want = A},
    {P_UTF8, "s3:GetObject", R("b/x-z-y"), 'U', "bob", .want = D},
    {P_UTF8, "s3:GetObject", R("b/xyzy"), 'U', "bob", .want = D},
    {P_ADMINSTMT, "admin:ServerInfo", NULL, 'U', "bob", .want = A},
    {P_ADMINSTMT, "s3:GetObject", R("logs/x"), 'U', "bob", .want = A},
    {P_ADMINSTMT, "s3:GetObject", R("data/x"), 'U', "bob", .want = D},
    {P_ADMINSTMT, "kms:CreateKey", NULL, 'U', "bob", .want = D},
};

static int run_case(size_t i, const struct tc *c)
{
    struct pol_doc *d = tparse(c->pol);
    struct http_kv kv[16];
    size_t nkv = tkv(c->keys, kv, 16);
    struct pol_principal *p = tprincipal(c->ptype, c->user, c->claims);
    struct pol_request rq = {
        .action = c->action,
        .resource = c->resource,
        .principal = p,
        .source_ip = c->ip,
        .secure_transport = c->secure != 0,
        .user_agent = c->ua,
        .now = c->now != 0 ? (time_t)c->now : (time_t)NOW_2025,
        .keys = kv,
        .nkeys = nkv,
    };
    ok(d != NULL, "case %zu: policy parses", i);
    enum pol_decision got = d != NULL ? pol_doc_eval(d, &rq) : POL_IMPLICIT_DENY;
    ok(got == c->want, "case %zu (%s %s user=%s claims=%s keys=%s ip=%s): got %s, want %s", i,
       c->action, c->resource ? c->resource : "-", c->user ? c->user : "-",
       c->claims ? c->claims : "-", c->keys ? c->keys : "-", c->ip ? c->ip : "-", tdec(got),
       tdec(c->want));
    pol_doc_free(d);
    pol_principal_free(p);
    tkv_free(kv, nkv);
    return got == c->want;
}

/* MinIO's canned policies. */
struct canned_tc {
    const char *name;
    const char *action;
    const char *resource;
    enum pol_decision want;
};

static const struct canned_tc canned_cases[] = {
    {"readonly", "s3:GetObject", R("b/k"), A},      {"readonly", "s3:GetBucketLocation", R("b"), A},
    {"readonly", "s3:PutObject", R("b/k"), D},      {"readonly", "s3:ListBucket", R("b"), A},
    {"readwrite", "s3:PutObject", R("b/k"), A},     {"readwrite", "s3:DeleteBucket", R("b"), A},
    {"readwrite", "admin:ServerInfo", NULL, D},     {"writeonly", "s3:PutObject", R("b/k"), A},
    {"writeonly", "s3:GetObject", R("b/k"), D},     {"diagnostics", "admin:ServerTrace", NULL, A},
    {"diagnostics", "admin:Prometheus", NULL, A},   {"diagnostics", "admin:OBDInfo", NULL, A},
    {"diagnostics", "admin:ConfigUpdate", NULL, D}, {"diagnostics", "s3:GetObject", R("b/k"), D},
    {"consoleAdmin", "admin:CreateUser", NULL, A},  {"consoleAdmin", "kms:CreateKey", NULL, A},
    {"consoleAdmin", "s3:GetObject", R("b/k"), A},  {"consoleAdmin", "sts:AssumeRole", NULL, D},
};

static void test_canned(void)
{
    for (size_t i = 0; i < sizeof(canned_cases) / sizeof(canned_cases[0]); i++) {
        const struct canned_tc *c = &canned_cases[i];
        const char *j = pol_canned_json(c->name);
        struct pol_doc *d = NULL;
        char err[256] = "";
        ok(j != NULL, "canned %s exists", c->name);
        if (j == NULL)
            continue;
        is_int(pol_doc_parse(j, strlen(j), &d, err, sizeof(err)), 0, c->name);
        struct pol_principal *p = tprincipal('U', "bob", NULL);
        struct pol_request rq = {.action = c->action, .resource = c->resource, .principal = p};
        enum pol_decision got = d != NULL ? pol_doc_eval(d, &rq) : POL_IMPLICIT_DENY;
        ok(got == c->want, "canned %s %s: got %s want %s", c->name, c->action, tdec(got),
           tdec(c->want));
        pol_doc_free(d);
        pol_principal_free(p);
    }
    ok(pol_canned_json("readOnly") == NULL, "canned names are exact");
    ok(pol_canned_json("nope") == NULL, "unknown canned name");
}

/* Several documents as one set (user + group policies). */
static void test_sets(void)
{
    struct pol_doc *allow =
        tparse("{'Statement':{'Effect':'Allow','Action':'s3:*','Resource':'*'}}");
    struct pol_doc *deny = tparse(
        "{'Statement':{'Effect':'Deny','Action':'s3:DeleteObject','Resource':'arn:aws:s3:::b/*'}}");
    struct pol_doc *none = tparse(
        "{'Statement':{'Effect':'Allow','Action':'s3:GetObject','Resource':'arn:aws:s3:::z/*'}}");
    struct pol_principal *p = tprincipal('U', "bob", NULL);
    struct pol_request rq = {.action = "s3:DeleteObject", .resource = R("b/k"), .principal = p};
    const struct pol_doc *set1[] = {allow, none};
    const struct pol_doc *set2[] = {allow, deny, none};
    const struct pol_doc *set3[] = {none, NULL};

    is_int(pol_eval_docs(set1, 2, &rq), POL_ALLOW, "allow in one of two");
    is_int(pol_eval_docs(set2, 3, &rq), POL_EXPLICIT_DENY, "deny in a later doc wins");
    is_int(pol_eval_docs(set3, 2, &rq), POL_IMPLICIT_DENY, "nothing allows; NULL skipped");
    is_int(pol_eval_docs(NULL, 0, &rq), POL_IMPLICIT_DENY, "empty set");
    is_int(pol_doc_eval(NULL, &rq), POL_IMPLICIT_DENY, "NULL doc");
    rq.action = "s3:GetObject";
    is_int(pol_eval_docs(set2, 3, &rq), POL_ALLOW, "deny is only for DeleteObject");

    /* an absurdly long action only matches "*" */
    char longact[300];
    memset(longact, 'a', sizeof(longact) - 1);
    memcpy(longact, "s3:", 3);
    longact[sizeof(longact) - 1] = '\0';
    struct pol_doc *star = tparse("{'Statement':[{'Effect':'Allow','Action':'*','Resource':'*'},"
                                  "{'Effect':'Deny','Action':'*','Resource':'arn:aws:s3:::b/*'}]}");
    rq.action = longact;
    is_int(pol_doc_eval(allow, &rq), POL_IMPLICIT_DENY, "long action vs s3:*");
    is_int(pol_doc_eval(star, &rq), POL_EXPLICIT_DENY, "long action vs Deny *");
    rq.resource = R("c/k");
    is_int(pol_doc_eval(star, &rq), POL_ALLOW, "long action vs Allow *");
    rq.action = NULL;
    is_int(pol_doc_eval(allow, &rq), POL_IMPLICIT_DENY, "NULL action");
    pol_doc_free(star);
    pol_doc_free(allow);
    pol_doc_free(deny);
    pol_doc_free(none);
    pol_principal_free(p);
}

/* A key the request marks unknown (the gateway and s3:ExistingObjectTag/): a condition on it
 * fails closed, its Deny applies and its Allow does not, whatever the operator. */
static void test_unknown_keys(void)
{
    struct pol_doc *allow =
        tparse("{'Statement':{'Effect':'Allow','Action':'s3:GetObject','Resource':'*','Condition':"
               "{'StringEquals':{'s3:ExistingObjectTag/security':'public'}}}}");
    struct pol_doc *deny =
        tparse("{'Statement':[{'Effect':'Allow','Action':'s3:GetObject','Resource':'*'},"
               "{'Effect':'Deny','Action':'s3:GetObject','Resource':'*','Condition':"
               "{'StringNotEqualsIfExists':{'s3:existingobjecttag/Classified':'no'}}}]}");
    struct pol_principal *p = tprincipal('U', "bob", NULL);
    struct http_kv kv[] = {{"s3:ExistingObjectTag/security", "public"}};
    struct pol_request rq = {
        .action = "s3:GetObject", .resource = R("b/k"), .principal = p, .keys = kv, .nkeys = 1};
    is_int(pol_doc_eval(allow, &rq), POL_ALLOW, "known key allows");
    is_int(pol_doc_eval(deny, &rq), POL_EXPLICIT_DENY, "IfExists on a missing key: deny");
    kv[0].key = "s3:ExistingObjectTag/classified";
    kv[0].value = "no";
    is_int(pol_doc_eval(deny, &rq), POL_ALLOW, "known key: the deny does not apply");
    rq.unknown_keys = "s3:ExistingObjectTag/";
    is_int(pol_doc_eval(allow, &rq), POL_IMPLICIT_DENY, "unknown key: the allow does not");
    is_int(pol_doc_eval(deny, &rq), POL_EXPLICIT_DENY, "unknown key: the deny applies");
    pol_doc_free(allow);
    pol_doc_free(deny);
    pol_principal_free(p);
}

/* Wildcards must not backtrack exponentially. */
static void test_glob_linear(void)
{
    char pat[512], res[8192];
    size_t n = 0;
    n += (size_t)snprintf(pat + n, sizeof(pat) - n,
                          "{'Statement':{'Effect':'Allow','Action':'s3:GetObject','Resource':'"
                          "arn:aws:s3:::b/");
    for (int i = 0; i < 30; i++)
        n += (size_t)snprintf(pat + n, sizeof(pat) - n, "*a");
    snprintf(pat + n, sizeof(pat) - n, "*b'}}");
    struct pol_doc *d = tparse(pat);
    ok(d != NULL, "long glob parses");
    memcpy(res, "arn:aws:s3:::b/", 15);
    memset(res + 15, 'a', 6000);
    res[6015] = '\0';
    struct pol_request rq = {.action = "s3:GetObject", .resource = res};
    clock_t t0 = clock();
    is_int(pol_doc_eval(d, &rq), POL_IMPLICIT_DENY, "pathological glob does not match");
    res[6014] = 'b';
    is_int(pol_doc_eval(d, &rq), POL_ALLOW, "pathological glob matches");
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    ok(secs < 1.0, "pathological glob took %.3f s", secs);
    pol_doc_free(d);
}

static void test_principal(void)
{
    struct pol_principal *p = pol_principal_new(POL_PRINCIPAL_TEMP);
    ok(p != NULL && p->type == POL_PRINCIPAL_TEMP, "principal_new");
    is_int(pol_principal_add_claim(p, "jwt:sub", "x"), 0, "add claim");
    is_int(pol_principal_add_claim(p, "jwt:groups", "a"), 0, "add claim 2");
    is_int(pol_principal_add_claim(p, "jwt:groups", "b"), 0, "add claim 3");
    ok(pol_principal_add_claim(p, NULL, "b") != 0, "NULL key rejected");
    is_int(p->nclaims, 3, "three claims");
    is_str(p->claims[2].value, "b", "claim copied");
    p->session_policy = strdup("{}");
    p->session_doc = tparse("{'Statement':[]}");
    ok(p->session_doc != NULL, "empty statement list parses");
    pol_principal_free(p);
    pol_principal_free(NULL);
}

int main(void)
{
    size_t n = sizeof(cases) / sizeof(cases[0]), passed = 0;
    for (size_t i = 0; i < n; i++)
        passed += (size_t)run_case(i, &cases[i]);
    fprintf(stderr, "%zu/%zu table cases passed\n", passed, n);
    ok(n >= 150, "at least 150 table cases (%zu)", n);
    test_canned();
    test_sets();
    test_unknown_keys();
    test_glob_linear();
    test_principal();
    return t_done();
}
