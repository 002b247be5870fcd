/* test_svcacct.c -- service accounts below the HTTP layer: the IAM store's records
 * (idp/iam.c: add, get, update, list, remove, the one namespace with users, the cascade of a
 * user's removal, validation), the sealing of their secrets (sts/seal.c: round trip, bound to
 * the access key, tampering, another node of the same store) and the authn lookup
 * (sts/svcacct.c: disabled, expired, parent disabled / removed / revoked, own policy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/err.h"
#include "policy/pol.h"
#include "sts/sts_int.h"
#include "tests/harness/t.h"

static char dir_tmpl[] = "/tmp/ts_sts_svc_XXXXXX";

/* A record for parent (type ptype) with secret sealed by c. */
static void fill(struct sts_ctx *c, struct iam_svcacct *s, const char *ak, const char *parent,
                 const char *ptype, const char *secret)
{
    memset(s, 0, sizeof *s);
    s->access_key = strdup(ak);
    s->parent = strdup(parent);
    s->parent_type = strdup(ptype);
    s->enabled = true;
    s->created_ns = iam_now_ns();
    if (sts_svc_seal(c, ak, secret, &s->sealed_secret) != TS_OK)
        s->sealed_secret = NULL;
}

static void test_seal(struct sts_ctx *c, struct sts_ctx *c2)
{
    char *sealed = NULL, out[41];

    is_int(sts_svc_seal(c, "AK1", "the-secret-1", &sealed), TS_OK, "seal");
    ok(sealed != NULL && strstr(sealed, "the-secret-1") == NULL, "not in clear");
    is_int(sts_svc_open(c, "AK1", sealed, out), TS_OK, "open");
    is_str(out, "the-secret-1", "round trip");
    is_int(sts_svc_open(c2, "AK1", sealed, out), TS_OK, "another node of the store opens it");
    is_int(sts_svc_open(c, "AK2", sealed, out), TS_E_INVALID_TOKEN, "bound to its access key");
    ok(out[0] == '\0', "nothing left on failure");
    sealed[5] = sealed[5] == 'A' ? 'B' : 'A';
    is_int(sts_svc_open(c, "AK1", sealed, out), TS_E_INVALID_TOKEN, "tampered");
    is_int(sts_svc_open(c, "AK1", "", out), TS_E_INVALID_TOKEN, "empty");
    is_int(sts_svc_open(c, "AK1", "AQ", out), TS_E_INVALID_TOKEN, "truncated");
    is_int(sts_svc_seal(c, "AK1", "0123456789012345678901234567890123456789x", &sealed),
           TS_E_INVALID_ARGUMENT, "41-byte secret");
    free(sealed);
}

static void test_store(struct sts_ctx *c, struct iam_store *st)
{
    struct iam_svcacct s, g = {0};
    struct iam_strv sv = {0};
    const char *msg = NULL;

    is_int(iam_user_add(st, "alice", "alice-secret", NULL), TS_OK, "user");
    fill(c, &s, "SVC1", "ghost", "static", "svc-secret-1");
    is_int(iam_svcacct_add(st, &s, NULL), TS_E_NO_SUCH_ENTITY, "static parent must exist");
    iam_svcacct_cleanup(&s);
    fill(c, &s, "SVC1", "alice", "static", "svc-secret-1");
    s.name = strdup("ci");
    is_int(iam_svcacct_add(st, &s, NULL), TS_OK, "add");
    is_int(iam_svcacct_add(st, &s, NULL), TS_E_ENTITY_EXISTS, "add twice");
    is_int(iam_user_add(st, "SVC1", "user-secret", NULL), TS_E_ENTITY_EXISTS, "users: same keys");
    iam_svcacct_cleanup(&s);
    fill(c, &s, "alice", "alice", "static", "svc-secret-1");
    is_int(iam_svcacct_add(st, &s, NULL), TS_E_ENTITY_EXISTS, "a user's name");
    iam_svcacct_cleanup(&s);
    fill(c, &s, "ab", "alice", "static", "svc-secret-1");
    is_int(iam_svcacct_add(st, &s, &msg), TS_E_INVALID_ARGUMENT, "short key");
    ok(msg != NULL && strstr(msg, "3 to 128") != NULL, "message: %s", msg ? msg : "-");
    iam_svcacct_cleanup(&s);
    fill(c, &s, "SVC2", "cn=dan,dc=example", "ldap", "svc-secret-2");
    s.description = strdup("bad\ndescription");
    is_int(iam_svcacct_add(st, &s, NULL), TS_E_INVALID_ARGUMENT, "control character");
    free(s.description);
    s.description = NULL;
    is_int(iam_svcacct_add(st, &s, NULL), TS_OK, "an LDAP parent need not be a user");
    iam_svcacct_cleanup(&s);

    is_int(iam_svcacct_get(st, "SVC1", &g), TS_OK, "get");
    is_str(g.parent, "alice", "parent");
    is_str(g.name, "ci", "name");
    ok(g.enabled && g.policy == NULL && g.expiration == 0, "fields");
    iam_svcacct_cleanup(&g);
    is_int(iam_svcacct_list(st, NULL, &sv), TS_OK, "list all");
    ok(sv.n == 2, "two");
    iam_strv_free(&sv);
    is_int(iam_svcacct_list(st, "alice", &sv), TS_OK, "list alice's");
    ok(sv.n == 1 && strcmp(sv.v[0], "SVC1") == 0, "one");
    iam_strv_free(&sv);

    /* removing alice removes hers, not the LDAP parent's */
    is_int(iam_user_remove(st, "alice"), TS_OK, "user removed");
    is_int(iam_svcacct_get(st, "SVC1", &g), TS_E_NO_SUCH_ENTITY, "its account too");
    is_int(iam_svcacct_list(st, NULL, &sv), TS_OK, "list");
    ok(sv.n == 1 && strcmp(sv.v[0], "SVC2") == 0, "the other stays");
    iam_strv_free(&sv);
    is_int(iam_svcacct_remove(st, "SVC2"), TS_OK, "remove");
    is_int(iam_svcacct_remove(st, "SVC2"), TS_E_NO_SUCH_ENTITY, "remove twice");
    is_int(iam_svcacct_list(st, "cn=dan,dc=example", &sv), TS_OK, "index emptied");
    ok(sv.n == 0, "none");
    iam_strv_free(&sv);
}

/* An edit that renames, disables and tries to change the parent. */
static int edit_fn(struct iam_svcacct *s, void *arg, const char **msg)
{
    (void)msg;
    free(s->name);
    s->name = strdup(arg);
    free(s->parent);
    s->parent = strdup("mallory");
    s->enabled = false;
    return TS_OK;
}

static int resolves(struct sts_ctx *c, const char *ak, struct pol_principal **p)
{
    char *secret = NULL;
    const char *msg = NULL;
    int rc = sts_svc_resolve(c, ak, p, &secret, &msg);
    if (rc == TS_OK)
        is_str(secret, "svc-secret-3", "the secret, opened");
    free(secret);
    return rc;
}

static void test_resolve(struct sts_ctx *c, struct iam_store *st)
{
    struct iam_svcacct s;
    struct pol_principal *p = NULL;

    is_int(iam_user_add(st, "bob", "bob-secret-1", NULL), TS_OK, "user");
    fill(c, &s, "SVC3", "bob", "static", "svc-secret-3");
    s.policy = strdup("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                      "\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}");
    is_int(iam_svcacct_add(st, &s, NULL), TS_OK, "add");
    iam_svcacct_cleanup(&s);
    is_int(resolves(c, "SVC3", &p), TS_OK, "resolves");
    ok(p != NULL && p->type == POL_PRINCIPAL_SVC, "its own principal type");
    if (p != NULL) {
        is_str(p->parent, "bob", "parent");
        is_str(p->source, "static", "parent type");
        is_str(p->arn, "arn:aws:iam::000000000000:user/bob", "the parent's ARN");
        ok(p->session_doc != NULL, "own policy compiled");
    }
    pol_principal_free(p);
    p = NULL;
    is_int(resolves(c, "NOBODY", &p), TS_E_INVALID_ACCESS_KEY, "unknown key");
    is_int(iam_user_set_enabled(st, "bob", false), TS_OK, "parent disabled");
    is_int(resolves(c, "SVC3", &p), TS_E_INVALID_ACCESS_KEY, "refused");
    is_int(iam_user_set_enabled(st, "bob", true), TS_OK, "parent enabled");
    is_int(resolves(c, "SVC3", &p), TS_OK, "back");
    pol_principal_free(p);
    p = NULL;
    is_int(iam_svcacct_update(st, "SVC3", edit_fn, "renamed", NULL), TS_OK, "update");
    is_int(iam_svcacct_get(st, "SVC3", &s), TS_OK, "get");
    is_str(s.name, "renamed", "renamed");
    is_str(s.parent, "bob", "the parent cannot be edited");
    iam_svcacct_cleanup(&s);
    is_int(resolves(c, "SVC3", &p), TS_E_INVALID_ACCESS_KEY, "disabled account");

    /* a federated parent: dead once its sessions are revoked after the account's creation */
    fill(c, &s, "SVC4", "https://idp#carol", "oidc", "svc-secret-3");
    s.expiration = (int64_t)time(NULL) + 3600;
    idp_strv_add(&s.parent_policies, "readonly");
    is_int(iam_svcacct_add(st, &s, NULL), TS_OK, "add oidc");
    iam_svcacct_cleanup(&s);
    is_int(resolves(c, "SVC4", &p), TS_OK, "oidc resolves");
    ok(p != NULL && p->policies.n == 1, "the mapped policies of its parent");
    pol_principal_free(p);
    p = NULL;
    is_int(iam_parent_revoke_sessions(st, "https://idp#carol", iam_now_ns() + 1), TS_OK, "revoke");
    is_int(resolves(c, "SVC4", &p), TS_E_INVALID_ACCESS_KEY, "revoked with its parent");
    fill(c, &s, "SVC5", "https://idp#carol", "oidc", "svc-secret-3");
    s.expiration = (int64_t)time(NULL) - 1;
    is_int(iam_svcacct_add(st, &s, NULL), TS_OK, "add expired");
    iam_svcacct_cleanup(&s);
    is_int(resolves(c, "SVC5", &p), TS_E_INVALID_ACCESS_KEY, "expired");
}

int main(void)
{
    struct iam_store *st = NULL;
    struct sts_config cfg = {.max_duration = 43200};
    struct sts_ctx *c, *c2;
    char path[256];

    if (mkdtemp(dir_tmpl) == NULL)
        return 1;
    snprintf(path, sizeof path, "%s/iam", dir_tmpl);
    if (iam_store_open(path, &st) != TS_OK)
        return 1;
    c = sts_ctx_new(&cfg, st, NULL);
    c2 = sts_ctx_new(&cfg, st, NULL);
    ok(c != NULL && c2 != NULL, "ctx");
    if (c != NULL && c2 != NULL) {
        test_seal(c, c2);
        test_store(c, st);
        test_resolve(c, st);
    }
    sts_ctx_free(c);
    sts_ctx_free(c2);
    iam_store_close(st);
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_tmpl);
        if (system(cmd) != 0)
            fprintf(stderr, "cleanup failed\n");
    }
    return t_done();
}
