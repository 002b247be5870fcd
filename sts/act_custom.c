/* act_custom.c -- the identity backend (idp/idp.h) of AssumeRoleWithCustomToken: MinIO's
 * identity management plugin (idp/idplugin.h) proves the `Token`; sts_federate
 * (sts/federate.c) does the rest as for every backend: the plugin's role policy
 * (TESSERA_IDENTITY_PLUGIN_ROLE_POLICY) through the one mapper, or a requested tessera
 * role's trust policy ({"Federated": "custom"}), then sts_mint with parent "custom:USER" and
 * source "custom", the session cut to the plugin's maxValiditySeconds. Unsigned, as MinIO.
 */
#include <string.h>

#include "core/err.h"
#include "idp/idplugin.h"
#include "policy/roles.h"
#include "sts/sts_int.h"

static int custom_precheck(void *arg, const struct idp_input *in, struct ts_error *err)
{
    const char *tok = idp_input_param(in, "Token");

    (void)arg;
    if (tok == NULL || *tok == '\0')
        return ts_error_set(err, TS_E_STS_MISSING_PARAMETER,
                            "The request must contain the parameter Token.");
    if (in->role_arn == NULL)
        return ts_error_set(err, TS_E_STS_MISSING_PARAMETER,
                            "The request must contain the parameter RoleArn.");
    return TS_OK;
}

static int custom_authenticate(void *arg, const struct idp_input *in, struct idp_claims *out,
                               struct ts_error *err)
{
    struct idplugin *p = arg;

    memset(out, 0, sizeof *out);
    /* RoleArn: the plugin's role (MinIO), or a tessera role whose trust policy decides. */
    if (!in->tessera_role && strcmp(in->role_arn, idplugin_role_arn(p)) != 0)
        return ts_error_set(err, TS_E_STS_INVALID_PARAMETER,
                            "RoleArn %.200s is not the identity plugin's role (%s)", in->role_arn,
                            idplugin_role_arn(p));
    return idplugin_authenticate(p, idp_input_param(in, "Token"), out, err);
}

static struct idp_backend custom_backend;

int sts_custom_register(struct sts_ctx *c, struct idplugin *p)
{
    memset(&custom_backend, 0, sizeof custom_backend);
    custom_backend.name = "custom";
    custom_backend.arg = p;
    custom_backend.precheck = custom_precheck;
    custom_backend.authenticate = custom_authenticate;
    return sts_set_backend(c, "AssumeRoleWithCustomToken", &custom_backend);
}
