/* roles.c -- IAM roles and their trust policies (policy/roles.h).
 *
 * The role set is one JSON object in the IAM store's blob POL_ROLES_BLOB:
 *   {"NAME": {"trust": "<trust policy JSON text>", "created": <epoch seconds>}, ...}
 * The store has no blob removal and no blob listing, so one object holds them all; every
 * change is an iam_blob_update (a compare-and-swap on the blob's version, retried), so edits
 * made at once by several threads, processes or nodes sharing the store are all kept. Attached
 * policies are IAM_TARGET_ROLE attachments of the store (so iam_policy_remove refuses to remove a
 * policy a role uses).
 *
 * @test tests/integration/test_roles.py
 */
#include "policy/roles.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "policy/pol.h"
#include "policy/pol_int.h"

bool pol_role_name_ok(const char *name)
{
    size_t n;
    if (name == NULL || (n = strlen(name)) == 0 || n > POL_ROLE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("+=,.@_-", c) != NULL))
            return false;
    }
    return true;
}

int pol_role_arn(const char *name, char *out, size_t outlen)
{
    if (!pol_role_name_ok(name) || out == NULL)
        return TS_E_INVALID_ARGUMENT;
    if ((size_t)snprintf(out, outlen, "arn:aws:iam::%s:role/%s", POL_ROLE_ACCOUNT_ID, name) >=
        outlen)
        return TS_E_INVALID_ARGUMENT;
    return TS_OK;
}

bool pol_role_from_arn(const char *arn, char name[POL_ROLE_NAME_MAX + 1])
{
    static const char pre[] = "arn:aws:iam::";
    const char *p, *last;

    if (arn == NULL || strncmp(arn, pre, sizeof(pre) - 1) != 0)
        return false;
    p = arn + sizeof(pre) - 1;
    if (strncmp(p, POL_ROLE_ACCOUNT_ID ":", sizeof(POL_ROLE_ACCOUNT_ID)) == 0)
        p += sizeof(POL_ROLE_ACCOUNT_ID);
    else if (*p == ':')
        p++;
    else
        return false;
    if (strncmp(p, "role/", 5) != 0)
        return false;
    p += 5;
    last = strrchr(p, '/'); /* a path: role/division/NAME */
    if (last != NULL)
        p = last + 1;
    if (!pol_role_name_ok(p))
        return false;
    strcpy(name, p);
    return true;
}

int pol_role_trust_validate(const char *json, size_t len, char *err, size_t errlen)
{
    struct pol_doc *d = NULL;
    int rc;

    if (json == NULL || len == 0) {
        snprintf(err, errlen, "the trust policy is empty");
        return TS_E_MALFORMED_POLICY;
    }
    if (len > POL_ROLE_TRUST_MAX) {
        snprintf(err, errlen, "the trust policy is %zu bytes; the limit is %d", len,
                 POL_ROLE_TRUST_MAX);
        return TS_E_MALFORMED_POLICY;
    }
    if (memchr(json, '\0', len) != NULL) {
        snprintf(err, errlen, "the trust policy contains a NUL byte");
        return TS_E_MALFORMED_POLICY;
    }
    rc = pol_validate(json, len, err, errlen); /* every action one tessera checks */
    if (rc == TS_OK)
        rc = pol_doc_parse(json, len, &d, err, errlen);
    if (rc != TS_OK)
        return TS_E_MALFORMED_POLICY;
    rc = TS_OK;
    for (size_t i = 0; i < d->nstmts && rc == TS_OK; i++) {
        const struct pol_stmt *s = &d->stmts[i];
        if (!s->has_principal) {
            snprintf(err, errlen, "trust policy statement %zu has no Principal", i);
            rc = TS_E_MALFORMED_POLICY;
        }
        for (size_t k = 0; k < s->nactions && rc == TS_OK; k++)
            if (s->actions[k].kind != PAT_ALL && s->actions[k].s != NULL &&
                strncasecmp(s->actions[k].s, "sts:", 4) != 0) {
                snprintf(err, errlen, "trust policy statement %zu: action %s is not an sts: action",
                         i, s->actions[k].s);
                rc = TS_E_MALFORMED_POLICY;
            }
    }
    pol_doc_free(d);
    return rc;
}

/* ---- the role set blob ---- */

/* Parses the role set (an empty one when data is NULL: no role yet). */
static int parse_roles(const void *data, size_t len, json_t **out)
{
    json_t *j = data != NULL ? json_loadb(data, len, 0, NULL) : json_object();
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return TS_E_INTERNAL;
    }
    *out = j;
    return TS_OK;
}

static int load_roles(struct iam_store *st, json_t **out)
{
    void *data = NULL;
    size_t len = 0;
    int rc = iam_blob_get(st, POL_ROLES_BLOB, &data, &len, NULL);

    if (rc != TS_OK && rc != TS_E_NO_SUCH_ENTITY)
        return rc;
    rc = parse_roles(data, len, out);
    free(data);
    return rc;
}

/* One change of the role set: put (trust != NULL) or remove the role name. */
struct role_edit {
    const char *name, *trust;
    size_t len;
    bool replace;
    char *err;
    size_t errlen;
};

static int role_put_in(json_t *roles, const struct role_edit *e)
{
    json_t *r = json_object_get(roles, e->name), *created;

    if (r != NULL && !e->replace) {
        snprintf(e->err, e->errlen, "role %s already exists", e->name);
        return TS_E_ENTITY_EXISTS;
    }
    created = r != NULL ? json_object_get(r, "created") : NULL;
    r = json_pack("{s:s%, s:I}", "trust", e->trust, e->len, "created",
                  created != NULL ? json_integer_value(created) : (json_int_t)time(NULL));
    return r != NULL && json_object_set_new(roles, e->name, r) == 0 ? TS_OK : TS_E_INTERNAL;
}

/* iam_blob_edit_fn over the role set. */
static int role_edit_fn(const void *old, size_t oldlen, void *arg, void **out, size_t *outlen)
{
    const struct role_edit *e = arg;
    json_t *roles = NULL;
    int rc = parse_roles(old, oldlen, &roles);

    if (rc == TS_OK && e->trust != NULL)
        rc = role_put_in(roles, e);
    else if (rc == TS_OK)
        rc = json_object_del(roles, e->name) == 0 ? TS_OK : TS_E_NO_SUCH_ENTITY;
    if (rc == TS_OK) {
        char *s = json_dumps(roles, JSON_COMPACT | JSON_SORT_KEYS);
        if (s == NULL)
            rc = TS_E_INTERNAL;
        *out = s;
        *outlen = s != NULL ? strlen(s) : 0;
    }
    json_decref(roles);
    return rc;
}

int pol_role_put(struct iam_store *st, const char *name, const char *trust, size_t len,
                 bool replace, char *err, size_t errlen)
{
    struct role_edit e = {name, trust, len, replace, err, errlen};
    int rc;

    if (!pol_role_name_ok(name)) {
        snprintf(err, errlen, "invalid role name: 1 to %d characters of A-Z a-z 0-9 + = , . @ _ -",
                 POL_ROLE_NAME_MAX);
        return TS_E_INVALID_ARGUMENT;
    }
    rc = pol_role_trust_validate(trust, len, err, errlen);
    if (rc != TS_OK)
        return rc;
    return iam_blob_update(st, POL_ROLES_BLOB, role_edit_fn, &e);
}

int pol_role_get(struct iam_store *st, const char *name, char **trust, time_t *created,
                 struct iam_strv *policies)
{
    json_t *roles = NULL, *r;
    const char *t;
    char *copy = NULL;
    int rc;

    if (!pol_role_name_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    rc = load_roles(st, &roles);
    if (rc != TS_OK)
        return rc;
    r = json_object_get(roles, name);
    t = json_string_value(json_object_get(r, "trust"));
    if (r == NULL || t == NULL) {
        json_decref(roles);
        return TS_E_NO_SUCH_ENTITY;
    }
    if (trust != NULL && (copy = strdup(t)) == NULL) {
        json_decref(roles);
        return TS_E_INTERNAL;
    }
    if (policies != NULL) {
        rc = iam_attached(st, IAM_TARGET_ROLE, name, policies);
        if (rc != TS_OK) {
            free(copy);
            json_decref(roles);
            return rc;
        }
    }
    if (created != NULL)
        *created = (time_t)json_integer_value(json_object_get(r, "created"));
    if (trust != NULL)
        *trust = copy;
    json_decref(roles);
    return TS_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int pol_role_list(struct iam_store *st, struct iam_strv *out)
{
    json_t *roles = NULL, *v;
    const char *k;
    struct iam_strv sv = {0};
    int rc = load_roles(st, &roles);

    if (rc != TS_OK)
        return rc;
    sv.v = calloc(json_object_size(roles) + 1, sizeof(char *));
    if (sv.v == NULL) {
        json_decref(roles);
        return TS_E_INTERNAL;
    }
    json_object_foreach(roles, k, v)
    {
        if ((sv.v[sv.n] = strdup(k)) == NULL) {
            iam_strv_free(&sv);
            json_decref(roles);
            return TS_E_INTERNAL;
        }
        sv.n++;
    }
    qsort(sv.v, sv.n, sizeof(char *), cmp_str);
    json_decref(roles);
    *out = sv;
    return TS_OK;
}

int pol_role_remove(struct iam_store *st, const char *name)
{
    struct role_edit e = {.name = name};
    struct iam_strv pols = {0};
    int rc;

    if (!pol_role_name_ok(name))
        return TS_E_NO_SUCH_ENTITY;
    /* The role first, so that no session can be minted with it while it is detached. */
    rc = iam_blob_update(st, POL_ROLES_BLOB, role_edit_fn, &e);
    if (rc == TS_OK)
        rc = iam_attached(st, IAM_TARGET_ROLE, name, &pols);
    for (size_t i = 0; rc == TS_OK && i < pols.n; i++) {
        rc = iam_detach(st, IAM_TARGET_ROLE, name, pols.v[i]);
        if (rc == TS_E_NO_SUCH_ENTITY)
            rc = TS_OK;
    }
    iam_strv_free(&pols);
    return rc;
}

/* ---- trust evaluation ---- */

struct kvs {
    struct http_kv *v;
    size_t n, cap;
    bool oom;
};

static void kvs_add(struct kvs *k, const char *key, const char *value)
{
    char *kk, *vv;
    if (k->oom)
        return;
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 32;
        struct http_kv *nv = realloc(k->v, nc * sizeof(*nv));
        if (nv == NULL) {
            k->oom = true;
            return;
        }
        k->v = nv;
        k->cap = nc;
    }
    kk = strdup(key);
    vv = strdup(value != NULL ? value : "");
    if (kk == NULL || vv == NULL) {
        free(kk);
        free(vv);
        k->oom = true;
        return;
    }
    k->v[k->n].key = kk;
    k->v[k->n].value = vv;
    k->n++;
}

static void kvs_free(struct kvs *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->v[i].key);
        free(k->v[i].value);
    }
    free(k->v);
}

static const char *strip_scheme(const char *url)
{
    const char *p = strstr(url, "://");
    return p != NULL ? p + 3 : url;
}

/* The condition keys of a trust evaluation: every claim of the identity (for an OIDC issuer,
 * "jwt:<claim>" also as "<issuer without scheme>:<claim>") and the session tags as
 * aws:PrincipalTag/<k>, aws:RequestTag/<k> and aws:TagKeys. */
static void trust_keys(const struct pol_trust_input *in, struct kvs *keys)
{
    const char *iss_ns = in->issuer != NULL ? strip_scheme(in->issuer) : NULL;
    char key[600];

    for (size_t i = 0; i < in->nclaims; i++) {
        const char *k = in->claims[i].key;
        if (k == NULL)
            continue;
        if (iss_ns != NULL && strncmp(k, "jwt:", 4) == 0) {
            snprintf(key, sizeof key, "%s:%s", iss_ns, k + 4);
            kvs_add(keys, key, in->claims[i].value);
        }
        kvs_add(keys, k, in->claims[i].value);
    }
    for (size_t i = 0; i < in->ntags; i++) {
        snprintf(key, sizeof key, "aws:PrincipalTag/%s", in->tags[i].key);
        kvs_add(keys, key, in->tags[i].value);
        snprintf(key, sizeof key, "aws:RequestTag/%s", in->tags[i].key);
        kvs_add(keys, key, in->tags[i].value);
        kvs_add(keys, "aws:TagKeys", in->tags[i].key);
    }
}

struct trust_verdict {
    bool allow_assume, allow_tag, denied;
};

/* Evaluates d for rq's principal: in->action, then sts:TagSession when tags are carried. */
static void trust_eval_one(const struct pol_doc *d, const struct pol_trust_input *in,
                           struct pol_request *rq, struct trust_verdict *v)
{
    enum pol_decision dec;

    rq->action = in->action;
    dec = pol_doc_eval(d, rq);
    v->denied = v->denied || dec == POL_EXPLICIT_DENY;
    v->allow_assume = v->allow_assume || dec == POL_ALLOW;
    if (in->ntags > 0 && !v->denied) {
        rq->action = "sts:TagSession";
        dec = pol_doc_eval(d, rq);
        v->denied = v->denied || dec == POL_EXPLICIT_DENY;
        v->allow_tag = v->allow_tag || dec == POL_ALLOW;
    }
}

/* A signed caller is matched by its typed ARN; a federated identity once per name it may have
 * as {"Federated": X} (the given names; for an OIDC issuer, the issuer URL, its
 * oidc-provider ARN and the provider's configured name). */
static void trust_eval(const struct pol_doc *d, const struct pol_trust_input *in,
                       struct pol_request *rq, struct trust_verdict *v)
{
    struct pol_principal prin;
    const char *sources[POL_TRUST_MAX_FEDERATED + 3];
    char arn[600];
    size_t n = 0;

    if (in->caller != NULL) {
        rq->principal = in->caller;
        trust_eval_one(d, in, rq, v);
        return;
    }
    for (size_t i = 0; i < in->nfederated && i < POL_TRUST_MAX_FEDERATED; i++)
        sources[n++] = in->federated[i];
    if (in->issuer != NULL) {
        snprintf(arn, sizeof arn, "arn:aws:iam::%s:oidc-provider/%s", POL_ROLE_ACCOUNT_ID,
                 strip_scheme(in->issuer));
        sources[n++] = in->issuer;
        sources[n++] = arn;
        if (in->provider_name != NULL && in->provider_name[0] != '\0')
            sources[n++] = in->provider_name;
    }
    memset(&prin, 0, sizeof prin);
    prin.type = POL_PRINCIPAL_TEMP;
    rq->principal = &prin;
    for (size_t s = 0; s < n && !v->denied; s++) {
        prin.source = (char *)sources[s];
        trust_eval_one(d, in, rq, v);
    }
    rq->principal = NULL;
}

int pol_role_trust_check(const char *trust, const struct pol_trust_input *in, const char **why)
{
    struct pol_doc *d = NULL;
    struct trust_verdict v = {false, false, false};
    struct kvs keys = {0};
    struct pol_request rq;
    char err[256];
    const char *dummy;
    int rc;

    if (why == NULL)
        why = &dummy;
    *why = "the role's trust policy does not allow this identity";
    if (trust == NULL || in == NULL || in->action == NULL ||
        (in->caller == NULL && in->issuer == NULL && in->nfederated == 0))
        return TS_E_ACCESS_DENIED;
    if (pol_doc_parse(trust, strlen(trust), &d, err, sizeof err) != TS_OK) {
        *why = "the role's trust policy is not valid";
        return TS_E_MALFORMED_POLICY;
    }
    trust_keys(in, &keys);
    if (keys.oom) {
        rc = TS_E_INTERNAL;
        *why = "out of memory";
        goto out;
    }
    memset(&rq, 0, sizeof rq);
    rq.source_ip = in->source_ip;
    rq.user_agent = in->user_agent;
    rq.secure_transport = in->secure_transport;
    rq.keys = keys.v;
    rq.nkeys = keys.n;
    trust_eval(d, in, &rq, &v);
    rc = TS_E_ACCESS_DENIED;
    if (v.denied) {
        *why = "the role's trust policy explicitly denies this identity";
    } else if (v.allow_assume && in->ntags > 0 && !v.allow_tag) {
        *why = "the token carries session tags and the role's trust policy does not allow "
               "sts:TagSession";
    } else if (v.allow_assume) {
        *why = NULL;
        rc = TS_OK;
    }
out:
    kvs_free(&keys);
    pol_doc_free(d);
    return rc;
}
