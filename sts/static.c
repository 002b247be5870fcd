/* static.c -- the static-user identity backends (idp/idp.h) of AssumeRole and GetSessionToken: the
 * identity is the caller that SigV4 authenticated (a static user or root), never a temporary
 * session or an anonymous request. Whether the caller may call sts:AssumeRole at all (allowed
 * unless a policy of the user explicitly denies it, on the requested RoleArn or "*") is decided
 * before, by the authorization phase (sts/sts_authz.c). A role-less session acts with its parent's
 * current policies (root: the canned consoleAdmin, as MinIO's root-derived credentials); with a
 * tessera role, the role's trust policy matches the caller by its typed ARN (sts/federate.c).
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

/* GetSessionToken (AWS): credentials for the signer itself, so no role and no session
 * parameter of AssumeRole (refused rather than ignored: a caller who sends a Policy expects it
 * to apply); no MFA device exists in tessera, so an MFA code cannot be checked. */
static int session_token_precheck(void *arg, const struct idp_input *in, struct ts_error *err)
{
    static const char *const not_taken[] = {"RoleArn", "RoleSessionName", "Policy"};

    (void)arg;
    if (in->caller == NULL || in->caller->type == POL_PRINCIPAL_ANONYMOUS)
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED, "Request is missing Authentication Token");
    if (in->caller->type == POL_PRINCIPAL_TEMP)
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED,
                            "Cannot call GetSessionToken with session credentials");
    if (idp_input_param(in, "SerialNumber") != NULL || idp_input_param(in, "TokenCode") != NULL)
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED,
                            "MultiFactorAuthentication failed: this server has no MFA devices.");
    for (size_t i = 0; i < sizeof not_taken / sizeof *not_taken; i++)
        if (idp_input_param(in, not_taken[i]) != NULL)
            return ts_error_set(err, TS_E_STS_INVALID_PARAMETER,
                                "GetSessionToken does not take the parameter %s.", not_taken[i]);
    for (size_t i = 0; i < in->nparams; i++)
        if (strncmp(in->params[i].key, "PolicyArns.", 11) == 0)
            return ts_error_set(err, TS_E_STS_INVALID_PARAMETER,
                                "GetSessionToken does not take the parameter PolicyArns.");
    return TS_OK;
}

/* As the AssumeRole backend; root's sessions last at most one hour, as AWS's. */
static int session_token_authenticate(void *arg, const struct idp_input *in, struct idp_claims *out,
                                      struct ts_error *err)
{
    int rc = static_authenticate(arg, in, out, err);

    if (rc == TS_OK && in->caller->type == POL_PRINCIPAL_ROOT)
        out->max_duration = 3600;
    return rc;
}

static const struct idp_backend session_token_backend = {
    .name = "static",
    .precheck = session_token_precheck,
    .authenticate = session_token_authenticate,
    .parent_policies = true,
    .signed_caller = true,
    .own_credentials = true,
    .duration_default = 43200, /* AWS's default for GetSessionToken */
    .duration_limit = 129600}; /* AWS's maximum (36 hours), then cut to the configured one */

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

void sts_session_token_backend_init(struct sts_ctx *c, struct idp_backend *b)
{
    *b = session_token_backend;
    b->arg = c;
}
