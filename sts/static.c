/* static.c -- the static-user identity backend (idp/idp.h) of AssumeRole: the identity is
 * the caller that SigV4 authenticated (a static user or root), never a temporary session or
 * an anonymous request. Whether the caller may call sts:AssumeRole at all (allowed unless a
 * policy of the user explicitly denies it, on the requested RoleArn or "*") is decided before,
 * by the authorization phase (sts/sts_authz.c). A role-less session acts with its parent's current
 * policies (root: the canned consoleAdmin, as MinIO's root-derived credentials); with a tessera
 * role, the role's trust policy matches the caller by its typed ARN (sts/federate.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "sts/sts_int.h"

static int static_precheck(void *arg, const struct idp_input *in, struct ts_error *err)
{
    (void)arg;
    if (in->caller == NULL || in->caller->type == POL_PRINCIPAL_ANONYMOUS)
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED, "Request is missing Authentication Token");
    if (in->caller->type == POL_PRINCIPAL_TEMP)
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED,
                            "AssumeRole is not allowed with temporary credentials");
    if (in->caller->type == POL_PRINCIPAL_SVC)
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED,
                            "AssumeRole is not allowed with service account credentials");
    return TS_OK;
}

static int static_authenticate(void *arg, const struct idp_input *in, struct idp_claims *out,
                               struct ts_error *err)
{
    struct sts_ctx *c = arg;
    const struct pol_principal *who = in->caller;
    bool root = who->type == POL_PRINCIPAL_ROOT;
    const char *parent = root ? c->cfg.root_user : who->username;

    memset(out, 0, sizeof *out);
    if (parent == NULL)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    out->kind = IDP_STATIC;
    out->source = root ? "root" : "static";
    out->provider = strdup("static");
    out->parent = strdup(parent);
    out->username = strdup(parent);
    if (out->provider == NULL || out->parent == NULL || out->username == NULL)
        goto oom;
    if (root) {
        /* Root is not a store user, so "the parent's current policies" do not exist: its
         * sessions carry the canned consoleAdmin policy (all of s3:*, admin:*), narrowed
         * by the session policy. */
        out->policies.v = calloc(1, sizeof(char *));
        if (out->policies.v == NULL || (out->policies.v[0] = strdup("consoleAdmin")) == NULL)
            goto oom;
        out->policies.n = 1;
    }
    return TS_OK;
oom:
    idp_claims_cleanup(out);
    return ts_error_set(err, TS_E_INTERNAL, NULL);
}

static const struct idp_backend static_backend = {.name = "static",
                                                  .precheck = static_precheck,
                                                  .authenticate = static_authenticate,
                                                  .parent_policies = true,
                                                  .signed_caller = true};

void sts_static_backend_init(struct sts_ctx *c, struct idp_backend *b)
{
    *b = static_backend;
    b->arg = c;
}
