/* act_oidc.c -- AssumeRoleWithWebIdentity and AssumeRoleWithClientGrants: the STS glue of
 * the OpenID Connect backend. The token is verified by idp/oidc.c, its claims mapped to
 * policies by policy/mapper.c, and the credentials minted by sts_mint (DESIGN §2); this file
 * only checks parameters, picks the duration and shapes the response.
 *
 * With a RoleArn naming a tessera role (policy/roles.h: arn:aws:iam::000000000000:role/NAME
 * that exists), the role's trust policy must allow the token (and sts:TagSession when the
 * token carries session tags under https://aws.amazon.com/tags); the session then gets the
 * role's attached policies (∩ the session policy, by the engine) instead of the claim-mapped
 * ones, and the tags become aws:PrincipalTag/<key> of the session. A RoleArn naming no
 * tessera role keeps MinIO's behaviour (a provider's RolePolicy role, else ignored).
 *
 * Both actions are unsigned (as AWS allows): the token is the proof. Failures answer
 * InvalidIdentityToken, ExpiredToken, IDPCommunicationError, AccessDenied or
 * InvalidParameterValue in the STS error envelope; the token itself is never logged.
 */
#include "sts/act_oidc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "policy/roles.h"
#include "sts/sts_int.h"

#define TAGS_CLAIM "https://aws.amazon.com/tags"

static bool tag_text_ok(const char *s, size_t max, bool empty_ok)
{
    size_t n = strlen(s);
    if (n > max || (n == 0 && !empty_ok))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* The session tags of a verified token (AWS's "https://aws.amazon.com/tags" claim:
 * {"principal_tags": {"k": ["v"]}, "transitive_tag_keys": ["k"]}) into tags (borrowed from
 * payload). Returns the number of tags, -1 with *why set when the claim is malformed, or -2
 * with *why set when two keys differ only in case (tag keys are case-insensitive: "Team" and
 * "team" are one key, and aws:PrincipalTag/team must have one value). */
static long token_tags(json_t *payload, struct http_kv *tags, size_t max, const char **why)
{
    json_t *claim = json_object_get(payload, TAGS_CLAIM), *pt, *tk, *v;
    const char *k;
    size_t n = 0, i;

    if (claim == NULL)
        return 0;
    *why = "the token's session tags (" TAGS_CLAIM ") are malformed";
    if (!json_is_object(claim))
        return -1;
    pt = json_object_get(claim, "principal_tags");
    if (pt != NULL && !json_is_object(pt))
        return -1;
    json_object_foreach(pt, k, v)
    {
        const char *val = NULL;
        if (json_is_string(v))
            val = json_string_value(v);
        else if (json_is_array(v) && json_array_size(v) == 1 &&
                 json_is_string(json_array_get(v, 0)))
            val = json_string_value(json_array_get(v, 0));
        if (val == NULL || !tag_text_ok(k, POL_ROLE_TAG_KEY_MAX, false) ||
            !tag_text_ok(val, POL_ROLE_TAG_VALUE_MAX, true))
            return -1;
        if (n == max) {
            *why = "the token carries more than 50 session tags";
            return -1;
        }
        tags[n].key = (char *)k;
        tags[n].value = (char *)val;
        n++;
    }
    {
        const char *keys[POL_ROLE_MAX_TAGS];
        size_t nk = n < POL_ROLE_MAX_TAGS ? n : POL_ROLE_MAX_TAGS;
        for (i = 0; i < nk; i++)
            keys[i] = tags[i].key;
        if (idp_tag_keys_duplicate(keys, nk) >= 0) {
            *why = "Duplicate tag keys found. Please note that Tag keys are case insensitive.";
            return -2;
        }
    }
    tk = json_object_get(claim, "transitive_tag_keys");
    if (tk != NULL) {
        if (!json_is_array(tk))
            return -1;
        json_array_foreach(tk, i, v)
        {
            if (!json_is_string(v) || json_object_get(pt, json_string_value(v)) == NULL) {
                *why = "a transitive_tag_keys entry names no principal tag";
                return -1;
            }
        }
    }
    return (long)n;
}

/* One backend per action: the providers and which kind of token it takes. */
struct oidc_backend {
    struct idp_backend b;
    struct oidc_providers *ps;
    bool client_grants;
};

static const char *token_param(const struct oidc_backend *ob)
{
    return ob->client_grants ? "Token" : "WebIdentityToken";
}

static int oidc_precheck(void *arg, const struct idp_input *in, struct ts_error *err)
{
    const struct oidc_backend *ob = arg;
    const char *token = idp_input_param(in, token_param(ob));

    if (token == NULL || *token == '\0')
        return ts_error_set(err, TS_E_STS_MISSING_PARAMETER,
                            "The request must contain the parameter %s.", token_param(ob));
    return TS_OK;
}

static int oidc_authenticate(void *arg, const struct idp_input *in, struct idp_claims *out,
                             struct ts_error *err)
{
    const struct oidc_backend *ob = arg;
    const char *role_arn = in->tessera_role ? NULL : in->role_arn;
    /* A tessera role: the token's provider is chosen by its issuer, not by the RoleArn. */
    int rc = oidc_verify(ob->ps, idp_input_param(in, token_param(ob)), role_arn, ob->client_grants,
                         out, err);

    if (rc == TS_E_STS_INVALID_PARAMETER && role_arn != NULL)
        return ts_error_set(err, rc, "Role %.200s does not exist", role_arn);
    if (rc != TS_OK)
        LOG_DEBUG_EV("sts.oidc", "token refused: %s", err->msg);
    return rc;
}

static long oidc_session_tags(void *arg, const struct idp_input *in, struct http_kv *tags,
                              size_t max, void **hold, struct ts_error *err)
{
    const struct oidc_backend *ob = arg;
    json_t *payload = oidc_token_payload(idp_input_param(in, token_param(ob)));
    const char *why = NULL;
    long n;

    *hold = payload;
    if (payload == NULL) {
        ts_error_set(err, TS_E_STS_INVALID_IDENTITY_TOKEN,
                     "the token payload is not a JSON object");
        return -1;
    }
    n = token_tags(payload, tags, max, &why);
    if (n < 0) {
        ts_error_set(err, n == -2 ? TS_E_STS_INVALID_PARAMETER : TS_E_STS_INVALID_IDENTITY_TOKEN,
                     "%s", why);
        return -1;
    }
    return n;
}

static void oidc_free_hold(void *hold)
{
    json_decref(hold);
}

static struct oidc_backend web_identity, client_grants;

static const struct idp_backend *oidc_backend_init(struct oidc_backend *ob,
                                                   struct oidc_providers *ps, bool cg)
{
    memset(ob, 0, sizeof *ob);
    ob->ps = ps;
    ob->client_grants = cg;
    ob->b.name = cg ? "clientgrants" : "oidc";
    ob->b.arg = ob;
    ob->b.precheck = oidc_precheck;
    ob->b.authenticate = oidc_authenticate;
    ob->b.session_tags = oidc_session_tags;
    ob->b.free_hold = oidc_free_hold;
    ob->b.duration_from_token = oidc_providers_expiry_from_token(ps);
    return &ob->b;
}

int sts_oidc_register(struct sts_ctx *c, struct oidc_providers *ps)
{
    int rc;
    if (ps == NULL || oidc_providers_count(ps) == 0)
        return TS_OK;
    rc = sts_set_backend(c, "AssumeRoleWithWebIdentity",
                         oidc_backend_init(&web_identity, ps, false));
    if (rc == TS_OK)
        rc = sts_set_backend(c, "AssumeRoleWithClientGrants",
                             oidc_backend_init(&client_grants, ps, true));
    return rc;
}
