/* svcacct.c -- service accounts at request time: which principal a service account's access
 * key stands for (the authn hook, sts/authn.c), and what its creation records of its parent.
 *
 * A service account (idp/iam.h, struct iam_svcacct) belongs to a parent: a static user, an
 * LDAP DN or an OpenID subject. Every request signed with its key is checked afresh:
 *   - the account is enabled and not past its expiration;
 *   - its parent is still valid: a static parent exists and is enabled (removing the user
 *     removes its accounts); an LDAP or OpenID parent has not been revoked since the account
 *     was created (iam_parent_not_before: the LDAP validity checker revokes a DN that left the
 *     directory, was disabled or lost its policies; `tessera admin sts revoke` does it by hand);
 *   - its policies are the parent's CURRENT ones: a static parent's attached and group
 *     policies (the engine resolves them per request), an LDAP parent's DN and group-DN
 *     attachments (the one mapper, over the group DNs recorded at creation), an OpenID
 *     parent's policies as mapped at its login (as MinIO: the provider cannot be asked again),
 *     each looked up by name now;
 *   - bounded by its own policy when it has one (principal->session_policy, intersected by
 *     the engine exactly as a session policy).
 * The secret is stored sealed (seal.c, sts_svc_seal) and opened here to verify SigV4.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "policy/mapper.h"
#include "sts/svcacct.h"

/* TS_OK when s's parent may still act, else TS_E_INVALID_ACCESS_KEY with *msg. */
static int parent_valid(struct sts_ctx *c, const struct iam_svcacct *s, const char **msg)
{
    if (strcmp(s->parent_type, "static") == 0) {
        struct iam_user u = {0};
        int rc = iam_user_get(c->st, s->parent, &u);
        bool enabled = rc == TS_OK && u.enabled;
        iam_user_cleanup(&u);
        if (rc != TS_OK && rc != TS_E_NO_SUCH_ENTITY)
            return rc;
        *msg = rc != TS_OK ? "The parent user of this service account no longer exists."
                           : "The parent user of this service account is disabled.";
        return enabled ? TS_OK : TS_E_INVALID_ACCESS_KEY;
    }
    int64_t nb = 0;
    int rc = iam_parent_not_before(c->st, s->parent, &nb);
    if (rc != TS_OK)
        return rc;
    *msg = "The parent of this service account has been revoked.";
    return s->created_ns < nb ? TS_E_INVALID_ACCESS_KEY : TS_OK;
}

/* The policies of a federated parent now, into *out (empty: none). */
static int parent_policies(struct sts_ctx *c, const struct iam_svcacct *s, struct iam_strv *out)
{
    struct idp_claims cl = {0};
    int rc;

    memset(out, 0, sizeof *out);
    if (strcmp(s->parent_type, "oidc") == 0) {
        for (size_t i = 0; i < s->parent_policies.n; i++)
            if (idp_strv_add(out, s->parent_policies.v[i]) != TS_OK)
                return TS_E_INTERNAL;
        return TS_OK;
    }
    if (strcmp(s->parent_type, "ldap") != 0)
        return TS_OK;
    cl.kind = IDP_LDAP;
    cl.dn = s->parent;
    cl.groups = s->parent_groups;
    cl.groups_are_dns = true;
    rc = pol_map_claims(c->st, &cl, out, NULL);
    return rc == TS_E_STS_ACCESS_DENIED ? TS_OK : rc; /* nothing attached any more: no rights */
}

/* Adds the claims recorded at creation (a JSON object of strings or arrays of strings). */
static int add_claims(struct pol_principal *p, const char *text)
{
    json_t *o = text != NULL ? json_loads(text, 0, NULL) : NULL, *v, *e;
    const char *k;
    size_t i;
    int rc = TS_OK;

    json_object_foreach(o, k, v)
    {
        if (json_is_string(v))
            rc |= pol_principal_add_claim(p, k, json_string_value(v));
        json_array_foreach(v, i, e)
        {
            if (json_is_string(e))
                rc |= pol_principal_add_claim(p, k, json_string_value(e));
        }
    }
    json_decref(o);
    return rc == TS_OK ? TS_OK : TS_E_INTERNAL;
}

/* The principal of service account s. */
static int principal_of(struct sts_ctx *c, struct iam_svcacct *s, struct pol_principal **out,
                        const char **msg)
{
    struct pol_principal *p = pol_principal_new(POL_PRINCIPAL_SVC);
    int rc = p != NULL ? parent_policies(c, s, &p->policies) : TS_E_INTERNAL;

    if (rc == TS_OK) {
        p->access_key = s->access_key;
        p->parent = s->parent;
        p->source = s->parent_type;
        s->access_key = s->parent = s->parent_type = NULL;
        p->expires = (time_t)s->expiration;
        p->issued = (time_t)(s->created_ns / 1000000000);
        if (strcmp(p->source, "static") == 0 && (p->username = strdup(p->parent)) == NULL)
            rc = TS_E_INTERNAL;
    }
    if (rc == TS_OK)
        rc = add_claims(p, s->claims);
    if (rc == TS_OK && s->policy != NULL) {
        char perr[256];
        if (pol_doc_parse(s->policy, strlen(s->policy), &p->session_doc, perr, sizeof perr) !=
            TS_OK) {
            *msg = "The policy of this service account is no longer valid.";
            rc = TS_E_INVALID_ACCESS_KEY;
        }
        p->session_policy = s->policy;
        s->policy = NULL;
    }
    if (rc == TS_OK)
        rc = sts_principal_ids(p);
    if (rc != TS_OK) {
        pol_principal_free(p);
        return rc;
    }
    *out = p;
    return TS_OK;
}

int sts_svc_resolve(struct sts_ctx *c, const char *ak, struct pol_principal **out, char **secret,
                    const char **msg)
{
    struct iam_svcacct s = {0};
    char sec[41];
    int rc = iam_svcacct_get(c->st, ak, &s);

    if (rc == TS_E_NO_SUCH_ENTITY)
        return TS_E_INVALID_ACCESS_KEY;
    if (rc != TS_OK)
        return rc;
    rc = TS_E_INVALID_ACCESS_KEY;
    if (!s.enabled)
        *msg = "The service account is disabled.";
    else if (s.expiration != 0 && enc_now() >= (time_t)s.expiration)
        *msg = "The service account has expired.";
    else
        rc = parent_valid(c, &s, msg);
    if (rc == TS_OK && sts_svc_open(c, ak, s.sealed_secret, sec) != TS_OK) {
        log_kv(LOG_ERROR, "svcacct", "accessKey", ak, "error", "cannot open the sealed secret",
               NULL);
        rc = TS_E_INTERNAL;
    }
    if (rc == TS_OK && (*secret = strdup(sec)) == NULL)
        rc = TS_E_INTERNAL;
    OPENSSL_cleanse(sec, sizeof sec);
    if (rc == TS_OK && (rc = principal_of(c, &s, out, msg)) != TS_OK) {
        enc_secret_free(*secret);
        *secret = NULL;
    }
    iam_svcacct_cleanup(&s);
    return rc;
}

bool sts_svc_owner(const struct pol_principal *p, const char **parent, const char **ptype)
{
    *parent = *ptype = NULL;
    if (p == NULL)
        return false;
    if (p->type == POL_PRINCIPAL_USER) {
        *parent = p->username != NULL ? p->username : p->access_key;
        *ptype = "static";
    } else if (p->type == POL_PRINCIPAL_TEMP && p->role_arn == NULL && p->parent != NULL &&
               p->source != NULL &&
               (strcmp(p->source, "static") == 0 || strcmp(p->source, "ldap") == 0 ||
                strcmp(p->source, "oidc") == 0)) {
        *parent = p->parent;
        *ptype = p->source;
    }
    return *parent != NULL;
}

/* The claims kv[0..n) as a JSON object (a repeated key becomes an array), or NULL when none. */
static char *claims_json(const struct http_kv *kv, size_t n)
{
    json_t *o = json_object();
    char *text = NULL;

    for (size_t i = 0; o != NULL && i < n; i++) {
        const char *k = kv[i].key;
        json_t *v = json_string(kv[i].value), *old = json_object_get(o, k);
        if (old == NULL) {
            json_object_set_new(o, k, v);
        } else if (json_is_array(old)) {
            json_array_append_new(old, v);
        } else {
            json_t *a = json_pack("[O, o]", old, v);
            json_object_set_new(o, k, a);
        }
    }
    if (o != NULL && json_object_size(o) > 0)
        text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

int sts_svc_from_session(const struct pol_principal *p, struct iam_svcacct *s)
{
    if (p->type != POL_PRINCIPAL_TEMP || strcmp(p->source, "static") == 0)
        return TS_OK;
    if (p->nclaims > 0 && (s->claims = claims_json(p->claims, p->nclaims)) == NULL)
        return TS_E_INTERNAL;
    for (size_t i = 0; i < p->nclaims; i++)
        if (strcmp(p->source, "ldap") == 0 && strcmp(p->claims[i].key, "ldap:groups") == 0 &&
            idp_strv_add(&s->parent_groups, p->claims[i].value) != TS_OK)
            return TS_E_INTERNAL;
    for (size_t i = 0; strcmp(p->source, "oidc") == 0 && i < p->policies.n; i++)
        if (idp_strv_add(&s->parent_policies, p->policies.v[i]) != TS_OK)
            return TS_E_INTERNAL;
    return TS_OK;
}

static const struct idp_backend *ldap_backend(const struct sts_ctx *c)
{
    return sts_backend(c, "AssumeRoleWithLDAPIdentity");
}

bool sts_svc_ldap_on(const struct sts_ctx *c)
{
    const struct idp_backend *b = ldap_backend(c);
    return b != NULL && b->lookup != NULL;
}

int sts_svc_ldap_parent(struct sts_ctx *c, const char *dn, struct iam_svcacct *s,
                        struct ts_error *err)
{
    const struct idp_backend *b = ldap_backend(c);
    struct idp_claims cl = {0};
    struct iam_strv now = {0};
    int rc;

    if (b == NULL || b->lookup == NULL)
        return ts_error_set(err, TS_E_INVALID_ARGUMENT, "LDAP identity is not configured.");
    rc = b->lookup(b->arg, dn, &cl, err);
    if (rc == TS_OK && strcmp(cl.parent, s->parent) != 0) /* the lookup checks it: never */
        rc = ts_error_set(err, TS_E_INTERNAL, NULL);
    if (rc == TS_OK && cl.nvars > 0 && (s->claims = claims_json(cl.vars, cl.nvars)) == NULL)
        rc = ts_error_set(err, TS_E_INTERNAL, NULL);
    for (size_t i = 0; rc == TS_OK && i < cl.groups.n; i++)
        if (idp_strv_add(&s->parent_groups, cl.groups.v[i]) != TS_OK)
            rc = ts_error_set(err, TS_E_INTERNAL, NULL);
    if (rc == TS_OK && (rc = parent_policies(c, s, &now)) != TS_OK)
        ts_error_set(err, rc, NULL);
    if (rc == TS_OK && now.n == 0)
        rc = ts_error_set(err, TS_E_INVALID_ARGUMENT,
                          "No policy is attached to %.300s nor to its groups (`tessera admin "
                          "policy attach NAME --dn DN`): a login of that user is refused, and "
                          "its service accounts would have no rights.",
                          s->parent);
    iam_strv_free(&now);
    idp_claims_cleanup(&cl);
    return rc;
}

/* The value of claim key recorded in the JSON object text, or NULL (free it). */
static char *recorded_claim(const char *text, const char *key)
{
    json_t *o = text != NULL ? json_loads(text, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(o, key));
    char *copy = v != NULL ? strdup(v) : NULL;

    json_decref(o);
    return copy;
}

void sts_svc_track(struct sts_ctx *c, const struct iam_svcacct *s)
{
    const struct idp_backend *b = ldap_backend(c);
    struct idp_claims cl = {0};
    struct iam_strv now = {0};
    char *user = NULL;
    /* the validity checker follows the DN until the account expires (never: ~100 years) */
    time_t until = s->expiration != 0 ? (time_t)s->expiration : enc_now() + 100L * 365 * 86400;

    if (strcmp(s->parent_type, "ldap") != 0 || b == NULL || b->issued == NULL)
        return;
    if ((user = recorded_claim(s->claims, "ldap:username")) == NULL ||
        parent_policies(c, s, &now) != TS_OK) {
        free(user);
        return;
    }
    cl.kind = IDP_LDAP;
    cl.dn = s->parent;
    cl.username = user;
    b->issued(b->arg, &cl, &now, until);
    iam_strv_free(&now);
    free(user);
}
