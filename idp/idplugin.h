/* idplugin.h -- MinIO's identity management plugin, the identity backend of
 * AssumeRoleWithCustomToken (sts/act_custom.c; protocol in docs/API.md).
 *
 * The token is POSTed to the plugin's URL as `?token=TOKEN` (empty body), with
 * `Authorization: <auth token>` when one is configured. A 200 answer with the JSON object
 * {"user": NAME, "maxValiditySeconds": N, "claims": {...}} is the identity; a 403 answer
 * ({"reason": TEXT}) refuses it; anything else (no answer within the timeout, another
 * status, an answer over IDPLUGIN_MAX_ANSWER bytes, JSON that is not that object) is an
 * unusable plugin: the login is refused too (fail closed).
 */
#ifndef TS_IDPLUGIN_H
#define TS_IDPLUGIN_H

#include "core/err.h"
#include "idp/idp.h"

#define IDPLUGIN_MAX_ANSWER (64 * 1024) /* bytes of the plugin's answer */
#define IDPLUGIN_MAX_CLAIMS 64          /* claims kept from one answer */
#define IDPLUGIN_MAX_REASON 256         /* characters of a refusal's reason shown */

struct idplugin_config {
    const char *url;         /* required */
    const char *auth_token;  /* Authorization value: "Bearer TOKEN", or TOKEN alone; or NULL */
    const char *role_policy; /* comma-separated policy names, required */
    const char *role_id;     /* the role ARN is arn:minio:iam:::role/idmp-ROLE_ID */
    long timeout_ms;         /* per login, connection included; 0: 5 s */
    const char *ca_file;     /* extra PEM bundle for https, or NULL */
    char *const *ca_extra;   /* CERTS_DIR/CAs files, or NULL */
};

struct idplugin;

/* TS_OK with *out, or TS_E_INVALID_ARGUMENT (no URL or role policy; message in err). */
int idplugin_new(const struct idplugin_config *c, struct idplugin **out, struct ts_error *err);
void idplugin_free(struct idplugin *p);
/* The plugin's role ARN. */
const char *idplugin_role_arn(const struct idplugin *p);

/* Asks the plugin about token: TS_OK with *out (parent "custom:USER", source "custom",
 * username USER, subject "custom:USER", policies the role policy, role_arn, vars jwt:sub and
 * each claim as jwt:KEY, max_duration maxValiditySeconds), or AccessDenied (403 from the
 * plugin, with its reason; or an identity name that is not fit) or IDPCommunicationError
 * (no usable answer) in err. Waits up to the timeout: call it from a worker thread. */
int idplugin_authenticate(struct idplugin *p, const char *token, struct idp_claims *out,
                          struct ts_error *err);

/* The claims of a 200 answer (body, len bytes): exposed for tests. TS_OK or
 * TS_E_STS_IDP_COMMUNICATION / TS_E_STS_ACCESS_DENIED in err. */
int idplugin_parse(const struct idplugin *p, const char *body, size_t len, struct idp_claims *out,
                   struct ts_error *err);

#endif
