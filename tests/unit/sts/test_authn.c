/* test_authn.c -- end to end over HTTP: the real server (core/http) with the STS route, an
 * echo route in S3 style, and sts_authenticate as the authn hook; requests signed by
 * libcurl's SigV4 (CURLOPT_AWS_SIGV4). Covers AssumeRole, GetCallerIdentity, temporary
 * credentials on S3, error codes per route style, explicit deny of sts:AssumeRole,
 * disabled users, tampered tokens, revocation.
 *
 * `sts_test_authn serve` keeps the server running and prints its port (for poking at it
 * with boto3 or the aws cli by hand).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "sts/sts_int.h"
#include "tests/harness/t.h"
#include "tests/unit/sts/fake_ldap.h"

static char dir_tmpl[] = "/tmp/ts_sts_authn_XXXXXX";
static unsigned port;

/* ---- an S3-style route that says who is calling ---- */

static bool echo_match(struct http_req *r)
{
    return true;
}

static int echo_finish(struct http_req *r, struct ts_error *e)
{
    static const char *types[] = {"ANONYMOUS", "ROOT", "USER", "TEMP"};
    const struct pol_principal *p = r->principal;
    char out[1024];
    if (p == NULL)
        return ts_error_set(e, TS_E_INTERNAL, "no principal");
    snprintf(out, sizeof out, "type=%s user=%s parent=%s policy=%s body=%zu", types[p->type],
             p->username ? p->username : "-", p->parent ? p->parent : "-",
             p->session_doc ? "yes" : "no", r->body_len);
    return http_reply_data(r, 200, "text/plain", out, strlen(out), false);
}

/* ---- client ---- */

struct resp {
    long status;
    char body[16384];
    size_t len;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
    struct resp *r = ctx;
    size_t k = sz * n;
    if (r->len + k >= sizeof r->body)
        k = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = 0;
    return sz * n;
}

/* method GET/POST; path with query; body form (POST); creds may be NULL (anonymous). */
static void req(struct resp *out, const char *method, const char *path, const char *body,
                const char *ak, const char *sk, const char *token, const char *service)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char url[4096], sig[64], tok[4096], up[512];
    memset(out, 0, sizeof *out);
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        hdrs = curl_slist_append(hdrs,
                                 "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
    }
    if (ak != NULL) {
        snprintf(sig, sizeof sig, "aws:amz:us-east-1:%s", service);
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sig);
        snprintf(up, sizeof up, "%s:%s", ak, sk);
        curl_easy_setopt(h, CURLOPT_USERPWD, up);
    }
    if (token != NULL) {
        snprintf(tok, sizeof tok, "X-Amz-Security-Token: %s", token);
        hdrs = curl_slist_append(hdrs, tok);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
}

static bool xml_get(const char *body, const char *tag, char *out, size_t n)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(body, open), *b;
    if (a == NULL)
        return false;
    a += strlen(open);
    b = strstr(a, close);
    if (b == NULL || (size_t)(b - a) >= n)
        return false;
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = 0;
    return true;
}

#define HAS(resp, s)                                                                               \
    ok(strstr((resp).body, (s)) != NULL, "%s: want %s in %s", #resp, s, (resp).body)

int main(int argc, char **argv)
{
    struct iam_store *st = NULL;
    struct pol_engine *pe = NULL;
    struct sts_ctx *c = NULL;
    struct http_server *srv = NULL;
    struct http_route sts_route, echo_route;
    struct sts_config cfg = {.region = "us-east-1",
                             .root_user = "rootuser",
                             .root_secret = "rootsecret123",
                             .max_duration = 43200};
    struct http_config hc = {.address = "127.0.0.1:0", .threads = 2};
    struct resp r;
    char path[256], ak[64], sk[64], token[4096], ak2[64], sk2[64], token2[4096];

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
    {
        char apath[300];
        snprintf(apath, sizeof apath, "%s/audit.log", dir_tmpl);
        ok(log_audit_open(apath) == 0, "audit file");
    }
    is_int(iam_user_add(st, "alice1", "alicesecret1", NULL), TS_OK, "add alice");
    is_int(iam_user_add(st, "bob1", "bobsecret12", NULL), TS_OK, "add bob");
    is_int(iam_user_set_enabled(st, "bob1", false), TS_OK, "disable bob");
    is_int(iam_user_add(st, "carol1", "carolsecret1", NULL), TS_OK, "add carol");
    is_int(iam_policy_put(st, "noassume",
                          "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\","
                          "\"Action\":\"sts:AssumeRole\",\"Resource\":\"*\"}]}"),
           TS_OK, "deny policy");
    is_int(iam_attach(st, IAM_TARGET_USER, "carol1", "noassume"), TS_OK, "attach deny");

    sts_route_init(&sts_route, c);
    memset(&echo_route, 0, sizeof echo_route);
    echo_route.name = "s3";
    echo_route.match = echo_match;
    echo_route.finish = echo_finish;
    echo_route.err_style = HTTP_ERR_S3;
    echo_route.no_authz = true;
    srv = http_server_new(&hc);
    ok(srv != NULL, "server");
    if (srv == NULL)
        return t_done();
    http_server_add_route(srv, &sts_route);
    http_server_add_route(srv, &echo_route);
    http_server_set_authn(srv, sts_authenticate, sts_authenticate_finish, c);
    http_server_set_authz(srv, pol_authz_http, pe);
    if (http_server_start(srv) != 0)
        return 1;
    port = http_server_port(srv);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (argc > 1 && strcmp(argv[1], "serve") == 0) {
        printf("port %u (root rootuser/rootsecret123, user alice1/alicesecret1)\n", port);
        fflush(stdout);
        for (;;)
            pause();
    }

    /* Anonymous S3. */
    req(&r, "GET", "/bucket/key", NULL, NULL, NULL, NULL, "s3");
    is_int(r.status, 200, "anonymous");
    HAS(r, "type=ANONYMOUS");

    /* Root GetCallerIdentity (POST form, signature over the body: deferred authn). */
    req(&r, "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", "rootuser", "rootsecret123",
        NULL, "sts");
    is_int(r.status, 200, "root GetCallerIdentity");
    HAS(r, "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
           "<GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:root</Arn>");
    HAS(r, "<Account>000000000000</Account>");

    /* Static user: GET with the query. */
    req(&r, "GET", "/?Action=GetCallerIdentity&Version=2011-06-15", NULL, "alice1", "alicesecret1",
        NULL, "sts");
    is_int(r.status, 200, "user GetCallerIdentity (GET)");
    HAS(r, "<Arn>arn:aws:iam::000000000000:user/alice1</Arn><UserId>alice1</UserId>");

    /* AssumeRole. */
    req(&r, "POST", "/",
        "Action=AssumeRole&Version=2011-06-15&DurationSeconds=900&RoleSessionName=build-1&"
        "Policy=%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%"
        "22Allow%22%2C%22Action%22%3A%22s3%3A*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D",
        "alice1", "alicesecret1", NULL, "sts");
    is_int(r.status, 200, "AssumeRole");
    /* No role: the session's ARN is its parent's (never from the request). */
    HAS(r, "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
           "<AssumeRoleResult><AssumedRoleUser><Arn>arn:aws:iam::000000000000:user/"
           "alice1</Arn><AssumedRoleId>");
    HAS(r, "</AssumedRoleUser><Credentials><AccessKeyId>");
    /* with a session policy, AWS's PackedPolicySize after the credentials */
    HAS(r, "</Credentials><PackedPolicySize>5</PackedPolicySize></AssumeRoleResult>"
           "<ResponseMetadata><RequestId>");
    ok(xml_get(r.body, "AccessKeyId", ak, sizeof ak) &&
           xml_get(r.body, "SecretAccessKey", sk, sizeof sk) &&
           xml_get(r.body, "SessionToken", token, sizeof token),
       "credentials in response");
    {
        char exp[64];
        ok(xml_get(r.body, "Expiration", exp, sizeof exp) && strlen(exp) == 20 && exp[19] == 'Z',
           "Expiration shape %s", exp);
    }

    /* The audit record of that issue names the user and never a secret. */
    {
        char apath[300], abuf[8192] = "";
        FILE *f;
        size_t n = 0;
        snprintf(apath, sizeof apath, "%s/audit.log", dir_tmpl);
        f = fopen(apath, "r");
        if (f != NULL) {
            n = fread(abuf, 1, sizeof abuf - 1, f);
            fclose(f);
        }
        abuf[n] = 0;
        ok(strstr(abuf, "\"sts.issue\"") != NULL && strstr(abuf, "alice1") != NULL &&
               strstr(abuf, "build-1") != NULL,
           "audit record: %s", abuf);
        ok(strstr(abuf, sk) == NULL && strstr(abuf, token) == NULL &&
               strstr(abuf, "alicesecret1") == NULL,
           "no secret in audit");
    }

    /* Temporary credentials on S3 and STS. */
    req(&r, "GET", "/bucket/key", NULL, ak, sk, token, "s3");
    is_int(r.status, 200, "temp creds on S3");
    HAS(r, "type=TEMP user=alice1 parent=alice1 policy=yes");
    req(&r, "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", ak, sk, token, "sts");
    is_int(r.status, 200, "temp GetCallerIdentity");
    HAS(r, "<Arn>arn:aws:iam::000000000000:user/alice1</Arn>");
    HAS(r, ":build-1</UserId>");
    req(&r, "POST", "/", "Action=AssumeRole&Version=2011-06-15", ak, sk, token, "sts");
    is_int(r.status, 403, "no role chaining");
    HAS(r, "<Code>AccessDenied</Code>");
    HAS(r, "not allowed with temporary credentials");

    /* Wrong secret, unknown key, tampered token, wrong token for key. */
    req(&r, "GET", "/bucket/key", NULL, ak, "wrongwrongwrongwrongwrongwrongwrongwrong", token,
        "s3");
    is_int(r.status, 403, "temp bad secret");
    HAS(r, "<Code>SignatureDoesNotMatch</Code>");
    req(&r, "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", "alice1", "nopenope1", NULL,
        "sts");
    is_int(r.status, 403, "sts bad secret");
    HAS(r, "<Code>SignatureDoesNotMatch</Code>");
    req(&r, "GET", "/bucket/key", NULL, "NOSUCHKEY", "whatever123", NULL, "s3");
    is_int(r.status, 403, "s3 unknown key");
    HAS(r, "<Code>InvalidAccessKeyId</Code>");
    req(&r, "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", "NOSUCHKEY", "whatever123",
        NULL, "sts");
    is_int(r.status, 403, "sts unknown key");
    HAS(r, "<Code>InvalidClientTokenId</Code>");
    {
        char bad[4096];
        snprintf(bad, sizeof bad, "%s", token);
        bad[40] = bad[40] == 'A' ? 'B' : 'A';
        req(&r, "GET", "/bucket/key", NULL, ak, sk, bad, "s3");
        is_int(r.status, 400, "s3 tampered token");
        HAS(r, "<Code>InvalidToken</Code>");
        req(&r, "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", ak, sk, bad, "sts");
        is_int(r.status, 403, "sts tampered token");
        HAS(r, "<Code>InvalidClientTokenId</Code>");
    }
    req(&r, "GET", "/bucket/key", NULL, "alice1", "alicesecret1", token, "s3");
    is_int(r.status, 400, "token with another key");
    HAS(r, "<Code>InvalidToken</Code>");

    /* Disabled user; explicit deny of sts:AssumeRole. */
    req(&r, "GET", "/bucket/key", NULL, "bob1", "bobsecret12", NULL, "s3");
    is_int(r.status, 403, "disabled user");
    HAS(r, "<Code>InvalidAccessKeyId</Code>");
    req(&r, "POST", "/", "Action=AssumeRole&Version=2011-06-15", "carol1", "carolsecret1", NULL,
        "sts");
    is_int(r.status, 403, "explicit deny");
    HAS(r, "<Code>AccessDenied</Code>");
    req(&r, "GET", "/bucket/key", NULL, "carol1", "carolsecret1", NULL, "s3");
    HAS(r, "type=USER user=carol1");

    /* Parameter errors. */
    req(&r, "POST", "/", "Action=AssumeRole", "alice1", "alicesecret1", NULL, "sts");
    is_int(r.status, 400, "missing version");
    HAS(r, "<Code>MissingParameter</Code>");
    req(&r, "POST", "/", "Action=AssumeRole&Version=2011-06-15&DurationSeconds=899", "alice1",
        "alicesecret1", NULL, "sts");
    HAS(r, "<Code>ValidationError</Code>");
    req(&r, "POST", "/", "Action=AssumeRole&Version=2011-06-15&Policy=%7Bbad", "alice1",
        "alicesecret1", NULL, "sts");
    HAS(r, "<Code>MalformedPolicyDocument</Code>");
    req(&r, "POST", "/", "Action=Frobnicate&Version=2011-06-15", "alice1", "alicesecret1", NULL,
        "sts");
    HAS(r, "<Code>InvalidAction</Code>");
    req(&r, "POST", "/", "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&WebIdentityToken=x",
        NULL, NULL, NULL, "sts");
    HAS(r, "<Code>NotImplemented</Code>");
    req(&r, "POST", "/", "Action=AssumeRole&Version=2011-06-15", NULL, NULL, NULL, "sts");
    is_int(r.status, 403, "anonymous AssumeRole");
    HAS(r, "<Code>AccessDenied</Code>");
    req(&r, "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", "alice1", "alicesecret1",
        NULL, "s3");
    is_int(r.status, 400, "wrong service scope");

    /* A plugged-in federation action. */
    is_int(sts_set_backend(c, "AssumeRoleWithLDAPIdentity", &fake_ldap_backend), TS_OK,
           "plug ldap");
    is_int(iam_attach(st, IAM_TARGET_DN, FAKE_LDAP_DN, "readonly"), TS_OK, "attach to the DN");
    req(&r, "POST", "/",
        "Action=AssumeRoleWithLDAPIdentity&Version=2011-06-15&LDAPUsername=dave&LDAPPassword=no",
        NULL, NULL, NULL, "sts");
    is_int(r.status, 403, "ldap refused");
    req(&r, "POST", "/",
        "Action=AssumeRoleWithLDAPIdentity&Version=2011-06-15&LDAPUsername=dave&LDAPPassword=pw",
        NULL, NULL, NULL, "sts");
    is_int(r.status, 200, "ldap plug-in");
    HAS(r, "<AssumeRoleWithLDAPIdentityResponse xmlns=");
    HAS(r, "<Arn>arn:aws:sts::000000000000:federated-user/dave.");
    HAS(r, "<AssumedRoleId>000000000000:dave.");
    ok(xml_get(r.body, "AccessKeyId", ak2, sizeof ak2) &&
           xml_get(r.body, "SecretAccessKey", sk2, sizeof sk2) &&
           xml_get(r.body, "SessionToken", token2, sizeof token2),
       "ldap creds");
    req(&r, "GET", "/b", NULL, ak2, sk2, token2, "s3");
    /* aws:username is unset for federated sessions (policy/pol.h). */
    HAS(r, "type=TEMP user=- parent=uid=dave,dc=example,dc=org");
    is_int(sts_revoke_user(c, "uid=dave,dc=example,dc=org"), TS_OK, "revoke ldap parent");
    req(&r, "GET", "/b", NULL, ak2, sk2, token2, "s3");
    is_int(r.status, 403, "ldap session revoked");

    /* Root AssumeRole; then a second alice session to revoke. */
    req(&r, "POST", "/", "Action=AssumeRole&Version=2011-06-15", "rootuser", "rootsecret123", NULL,
        "sts");
    is_int(r.status, 200, "root AssumeRole");
    ok(xml_get(r.body, "AccessKeyId", ak2, sizeof ak2) &&
           xml_get(r.body, "SecretAccessKey", sk2, sizeof sk2) &&
           xml_get(r.body, "SessionToken", token2, sizeof token2),
       "root temp creds");
    req(&r, "GET", "/b", NULL, ak2, sk2, token2, "s3");
    HAS(r, "type=TEMP user=rootuser");

    /* Revoke one access key. */
    is_int(sts_revoke_access_key(c, ak2), TS_OK, "revoke key");
    req(&r, "GET", "/b", NULL, ak2, sk2, token2, "s3");
    is_int(r.status, 403, "revoked key");
    HAS(r, "<Code>InvalidAccessKeyId</Code>");

    /* Revoke all of alice's sessions; new ones work. */
    is_int(sts_revoke_user(c, "alice1"), TS_OK, "revoke alice");
    req(&r, "GET", "/b", NULL, ak, sk, token, "s3");
    is_int(r.status, 403, "revoked session");
    req(&r, "POST", "/", "Action=AssumeRole&Version=2011-06-15", "alice1", "alicesecret1", NULL,
        "sts");
    is_int(r.status, 200, "AssumeRole after revoke");
    ok(xml_get(r.body, "AccessKeyId", ak, sizeof ak) &&
           xml_get(r.body, "SecretAccessKey", sk, sizeof sk) &&
           xml_get(r.body, "SessionToken", token, sizeof token),
       "new creds");
    req(&r, "GET", "/b", NULL, ak, sk, token, "s3");
    is_int(r.status, 200, "new session works");
    HAS(r, "policy=no");

    /* Disabling the parent kills its sessions. */
    is_int(iam_user_set_enabled(st, "alice1", false), TS_OK, "disable alice");
    req(&r, "GET", "/b", NULL, ak, sk, token, "s3");
    is_int(r.status, 403, "parent disabled");
    is_int(iam_user_set_enabled(st, "alice1", true), TS_OK, "enable alice");
    is_int(iam_user_remove(st, "alice1"), TS_OK, "remove alice");
    req(&r, "GET", "/b", NULL, ak, sk, token, "s3");
    is_int(r.status, 403, "parent removed");

    http_server_free(srv);
    log_audit_open(NULL);
    curl_global_cleanup();
    sts_ctx_free(c);
    pol_engine_free(pe);
    iam_store_close(st);
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_tmpl);
        if (system(cmd) != 0)
            fprintf(stderr, "cleanup failed\n");
    }
    return t_done();
}
