/* act_saml.c -- the identity backend (idp/idp.h) of AssumeRoleWithSAML (AWS). The base64
 * SAML Response in `SAMLAssertion` is verified by idp/saml.c against the IdP's metadata; the
 * requested `RoleArn` + `PrincipalArn` must be one of the pairs of the assertion's
 * https://aws.amazon.com/SAML/Attributes/Role attribute, and PrincipalArn must name this
 * server's SAML provider (arn:aws:iam::000000000000:saml-provider/NAME). sts_federate
 * (sts/federate.c) does the rest as for every backend: a RoleArn naming a tessera role -> its
 * trust policy ({"Federated": PROVIDER_ARN or "saml"}, conditions on saml:sub, saml:iss,
 * saml:aud...) and exactly its policies; any other RoleArn -> the one mapper over the groups
 * attribute's values (tessera groups); then sts_mint with parent "ISSUER#NameID", source
 * "saml", the session named by the RoleSessionName attribute, cut to the SessionDuration
 * attribute and to the AuthnStatement's SessionNotOnOrAfter. Unsigned, as AWS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/xml.h"
#include "idp/saml.h"
#include "sts/sts_int.h"

#define NAMEID_PREFIX "urn:oasis:names:tc:SAML:2.0:nameid-format:"

struct saml_backend {
    struct idp_backend b;
    struct saml_idp *idp;
    char provider_name[129];
    char provider_arn[200];
};

static struct saml_backend saml_backend;

/* arn:aws:iam::000000000000:saml-provider/NAME (or with an empty account) is this server's
 * provider. */
static bool is_our_provider(const struct saml_backend *sb, const char *arn)
{
    static const char pfx[] = "arn:aws:iam::";
    const char *p;

    if (strncmp(arn, pfx, sizeof pfx - 1) != 0)
        return false;
    p = arn + sizeof pfx - 1;
    if (strncmp(p, STS_ACCOUNT_ID, strlen(STS_ACCOUNT_ID)) == 0)
        p += strlen(STS_ACCOUNT_ID);
    return strncmp(p, ":saml-provider/", 15) == 0 && strcmp(p + 15, sb->provider_name) == 0;
}

static int saml_precheck(void *arg, const struct idp_input *in, struct ts_error *err)
{
    const struct saml_backend *sb = arg;
    const char *names[] = {"SAMLAssertion", "RoleArn", "PrincipalArn"};
    const char *principal = idp_input_param(in, "PrincipalArn");

    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = idp_input_param(in, names[i]);
        if (v == NULL || *v == '\0')
            return ts_error_set(err, TS_E_STS_MISSING_PARAMETER,
                                "The request must contain the parameter %s.", names[i]);
    }
    if (!is_our_provider(sb, principal))
        return ts_error_set(err, TS_E_STS_INVALID_PARAMETER,
                            "PrincipalArn %.200s is not this server's SAML provider (%s).",
                            principal, sb->provider_arn);
    return TS_OK;
}

/* Whether "a,b" (either order, spaces around each ignored) is the pair {role, principal}. */
static bool pair_matches(const char *v, const char *role, const char *principal)
{
    const char *comma = strchr(v, ',');
    char first[2100], second[2100];
    size_t n;

    if (comma == NULL || strchr(comma + 1, ',') != NULL || (n = (size_t)(comma - v)) >= 2100 ||
        strlen(comma + 1) >= 2100)
        return false;
    while (n > 0 && v[n - 1] == ' ')
        n--;
    while (n > 0 && *v == ' ')
        v++, n--;
    memcpy(first, v, n);
    first[n] = '\0';
    snprintf(second, sizeof second, "%s", comma + 1 + strspn(comma + 1, " "));
    for (n = strlen(second); n > 0 && second[n - 1] == ' ';)
        second[--n] = '\0';
    return (strcmp(first, role) == 0 && strcmp(second, principal) == 0) ||
           (strcmp(first, principal) == 0 && strcmp(second, role) == 0);
}

/* AWS's NameQualifier: base64(SHA-1(issuer + account id + "/" + provider name)), an opaque
 * identifier of the user's IdP, not a security check. */
static char *name_qualifier(const char *issuer, const char *provider_name)
{
    uint8_t md[SHA_DIGEST_LENGTH];
    char in[2048];
    int n = snprintf(in, sizeof in, "%s%s/%s", issuer, STS_ACCOUNT_ID, provider_name);

    if (n < 0 || (size_t)n >= sizeof in)
        return NULL;
    SHA1((const unsigned char *)in, (size_t)n, md);
    return enc_b64(md, sizeof md);
}

/* The condition keys of a SAML session (AWS's saml: keys). */
static int add_vars(const struct saml_backend *sb, const struct saml_assertion *a,
                    struct idp_claims *out)
{
    const char *fmt = a->name_id_format != NULL
                          ? a->name_id_format
                          : "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
    char *nq = name_qualifier(a->issuer, sb->provider_name);
    int rc = nq == NULL ? TS_E_INTERNAL : TS_OK;

    if (strncmp(fmt, NAMEID_PREFIX, sizeof NAMEID_PREFIX - 1) == 0)
        fmt += sizeof NAMEID_PREFIX - 1;
    if (rc == TS_OK)
        rc = idp_claims_add_var(out, "saml:sub", a->name_id);
    if (rc == TS_OK)
        rc = idp_claims_add_var(out, "saml:sub_type", fmt);
    if (rc == TS_OK)
        rc = idp_claims_add_var(out, "saml:iss", a->issuer);
    if (rc == TS_OK)
        rc = idp_claims_add_var(out, "saml:aud", a->recipient);
    if (rc == TS_OK)
        rc = idp_claims_add_var(out, "saml:namequalifier", nq);
    free(nq);
    return rc;
}

/* The claims of a verified assertion (moved out of *a). */
static int to_claims(const struct saml_backend *sb, struct saml_assertion *a,
                     struct idp_claims *out)
{
    size_t plen = strlen(a->issuer) + strlen(a->name_id) + 2;

    out->kind = IDP_SAML;
    out->source = "saml";
    out->provider = strdup(sb->provider_name);
    out->subject = strdup(a->name_id);
    out->username = strdup(a->name_id);
    out->audience = strdup(a->recipient);
    out->session_name = a->session_name;
    a->session_name = NULL;
    out->groups = a->groups;
    memset(&a->groups, 0, sizeof a->groups);
    out->max_duration = a->session_duration;
    out->token_expiry = a->session_not_on_or_after != 0 ? a->session_not_on_or_after
                                                        : enc_now() + STS_MAX_DURATION_LIMIT;
    if ((out->parent = malloc(plen)) != NULL)
        snprintf(out->parent, plen, "%s#%s", a->issuer, a->name_id);
    if (out->provider == NULL || out->subject == NULL || out->username == NULL ||
        out->audience == NULL || out->parent == NULL ||
        idp_strv_add(&out->federated, sb->provider_arn) != TS_OK ||
        idp_strv_add(&out->federated, "saml") != TS_OK || add_vars(sb, a, out) != TS_OK)
        return TS_E_INTERNAL;
    return TS_OK;
}

/* What the verified assertion allows this request: the pair, the session name, the subject. */
static int check_grant(const struct idp_input *in, const struct saml_assertion *a,
                       struct ts_error *err)
{
    const char *principal = idp_input_param(in, "PrincipalArn");
    bool granted = false;

    for (size_t i = 0; i < a->roles.n && !granted; i++)
        granted = pair_matches(a->roles.v[i], in->role_arn, principal);
    if (!granted)
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED,
                            "Not authorized to perform sts:AssumeRoleWithSAML: the SAML "
                            "assertion does not grant role %.200s with provider %.200s",
                            in->role_arn, principal);
    if (!idp_name_ok(a->name_id))
        return ts_error_set(err, TS_E_STS_INVALID_IDENTITY_TOKEN,
                            "The SAML assertion's NameID is not a usable name.");
    if (a->session_name == NULL)
        return ts_error_set(err, TS_E_STS_INVALID_IDENTITY_TOKEN,
                            "The SAML assertion has no " SAML_SESSION_NAME_ATTR " attribute.");
    if (sts_check_session_name(a->session_name, err) != TS_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", ts_error_msg(err));
        return ts_error_set(err, TS_E_STS_INVALID_IDENTITY_TOKEN,
                            "The SAML assertion's RoleSessionName is not valid: %s", why);
    }
    return TS_OK;
}

static int saml_authenticate(void *arg, const struct idp_input *in, struct idp_claims *out,
                             struct ts_error *err)
{
    const struct saml_backend *sb = arg;
    struct saml_assertion a;
    int rc = saml_verify(sb->idp, idp_input_param(in, "SAMLAssertion"), enc_now(), &a, err);

    memset(out, 0, sizeof *out);
    if (rc != TS_OK) {
        LOG_DEBUG_EV("sts.saml", "assertion refused: %s", ts_error_msg(err));
        return rc;
    }
    if ((rc = check_grant(in, &a, err)) == TS_OK && (rc = to_claims(sb, &a, out)) != TS_OK) {
        idp_claims_cleanup(out);
        rc = ts_error_set(err, rc, NULL);
    }
    saml_assertion_cleanup(&a);
    return rc;
}

static const char *var(const struct idp_claims *c, const char *key)
{
    for (size_t i = 0; i < c->nvars; i++)
        if (strcmp(c->vars[i].key, key) == 0)
            return c->vars[i].value;
    return NULL;
}

static void saml_answer(const struct idp_claims *c, struct buf *out)
{
    xml_elem(out, "Issuer", var(c, "saml:iss"));
    xml_elem(out, "Audience", var(c, "saml:aud"));
    xml_elem(out, "Subject", var(c, "saml:sub"));
    xml_elem(out, "SubjectType", var(c, "saml:sub_type"));
    xml_elem(out, "NameQualifier", var(c, "saml:namequalifier"));
}

int sts_saml_register(struct sts_ctx *c, struct saml_idp *idp, const char *provider_name)
{
    memset(&saml_backend, 0, sizeof saml_backend);
    if (idp == NULL || provider_name == NULL ||
        strlen(provider_name) >= sizeof saml_backend.provider_name)
        return TS_E_INVALID_ARGUMENT;
    saml_backend.idp = idp;
    snprintf(saml_backend.provider_name, sizeof saml_backend.provider_name, "%s", provider_name);
    snprintf(saml_backend.provider_arn, sizeof saml_backend.provider_arn,
             "arn:aws:iam::%s:saml-provider/%s", STS_ACCOUNT_ID, provider_name);
    saml_backend.b.name = "saml";
    saml_backend.b.arg = &saml_backend;
    saml_backend.b.precheck = saml_precheck;
    saml_backend.b.authenticate = saml_authenticate;
    saml_backend.b.expiry_within_token = true; /* SessionNotOnOrAfter */
    saml_backend.b.answer = saml_answer;
    return sts_set_backend(c, "AssumeRoleWithSAML", &saml_backend.b);
}

const char *sts_saml_provider_arn(void)
{
    return saml_backend.provider_arn;
}
