/* roles.h -- IAM roles: a name, a trust policy saying which federated identities may assume
 * the role (and under which conditions over their token), and the policies attached to it.
 *
 * A role's ARN is arn:aws:iam::STS_ACCOUNT_ID:role/NAME ("000000000000", sts/sts.h). Roles
 * live in the IAM store (idp/iam.h): the set of roles and their trust documents in the blob
 * POL_ROLES_BLOB (one JSON object, so that a role can be removed), their policies as
 * IAM_TARGET_ROLE attachments. Mutations of the role set are serialised in this process.
 *
 * Trust evaluation (pol_role_trust_check) is one function for every identity backend. It
 * follows AWS: for AssumeRoleWithWebIdentity the trust policy's statements name a Principal
 * {"Federated": ...}: the provider's issuer URL, its configured name, or
 * arn:aws:iam::ACCOUNT:oidc-provider/<issuer without scheme> (ACCOUNT is STS_ACCOUNT_ID); for
 * AssumeRole a signed caller {"AWS": "arn:aws:iam::ACCOUNT:user/NAME"}; for
 * AssumeRoleWithLDAPIdentity (no AWS equivalent) {"Federated": "ldap"} or "*", with
 * conditions on ldap:username, ldap:dn and ldap:groups. Condition keys are the token's claims named
 * "<issuer without scheme>:<claim>" (…:sub, …:aud, …:amr, any claim; multi-valued claims give
 * several values, for ForAnyValue / ForAllValues), also jwt:<claim>, and the session tags
 * aws:PrincipalTag/<k>, aws:RequestTag/<k>, aws:TagKeys. The request must be allowed for
 * sts:AssumeRoleWithWebIdentity (or the action given) and, when the token carries session
 * tags, for sts:TagSession too. An explicit Deny anywhere refuses.
 *
 * Thread-safety: every function is thread-safe.
 */
#ifndef TS_POL_ROLES_H
#define TS_POL_ROLES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/http.h"
#include "idp/iam.h"
#include "policy/pol.h"

#define POL_ROLES_BLOB "iam/roles"
#define POL_ROLE_ACCOUNT_ID "000000000000" /* == STS_ACCOUNT_ID (sts/sts.h) */
#define POL_ROLE_NAME_MAX 64               /* AWS: 1..64 chars of [A-Za-z0-9+=,.@_-] */
#define POL_ROLE_TRUST_MAX 20480           /* bytes of a trust policy */
#define POL_ROLE_MAX_TAGS 50               /* session tags per token (AWS's limit) */
#define POL_ROLE_TAG_KEY_MAX 128           /* characters of a tag key */
#define POL_ROLE_TAG_VALUE_MAX 256

/* Whether name is a valid role name. */
bool pol_role_name_ok(const char *name);
/* "arn:aws:iam::000000000000:role/NAME" into out (outlen >= 96 is enough for any valid
 * name). Returns TS_OK or TS_E_INVALID_ARGUMENT. */
int pol_role_arn(const char *name, char *out, size_t outlen);
/* The role name of a role ARN arn:aws:iam::<STS_ACCOUNT_ID or empty>:role/[PATH/]NAME into
 * name (POL_ROLE_NAME_MAX + 1 bytes). false when arn is no such ARN. */
bool pol_role_from_arn(const char *arn, char name[POL_ROLE_NAME_MAX + 1]);

/* Validates a trust policy: a policy document (pol_doc_parse) in which every statement has a
 * Principal and names sts: actions only. TS_OK or TS_E_MALFORMED_POLICY with err set. */
int pol_role_trust_validate(const char *json, size_t len, char *err, size_t errlen);

/* Creates a role. TS_OK, TS_E_INVALID_ARGUMENT (name; message in err), TS_E_MALFORMED_POLICY
 * (trust; message in err), TS_E_ENTITY_EXISTS, or a store error. With replace, an existing
 * role's trust policy is replaced (its attachments stay). */
int pol_role_put(struct iam_store *st, const char *name, const char *trust, size_t len,
                 bool replace, char *err, size_t errlen);
/* The role's trust policy (malloc'ed JSON text; optional), creation time (optional) and
 * attached policies (optional; release with iam_strv_free). TS_E_NO_SUCH_ENTITY when absent. */
int pol_role_get(struct iam_store *st, const char *name, char **trust, time_t *created,
                 struct iam_strv *policies);
/* All role names, sorted. */
int pol_role_list(struct iam_store *st, struct iam_strv *out);
/* Removes the role and detaches its policies. TS_E_NO_SUCH_ENTITY when absent. */
int pol_role_remove(struct iam_store *st, const char *name);

/* The facts about an identity that a trust policy is evaluated over: one of a signed caller
 * (AssumeRole), federated names, or an OIDC issuer, plus the identity's claims. */
#define POL_TRUST_MAX_FEDERATED 4
struct pol_trust_input {
    const char *action; /* "sts:AssumeRoleWithWebIdentity", "sts:AssumeRole", ... */
    /* A signed caller (a static user or root, AssumeRole), matched by its typed ARN as in
     * bucket policies ({"AWS": "arn:aws:iam::ACCOUNT:user/NAME"}); NULL for federation. */
    const struct pol_principal *caller;
    /* Names the identity matches as {"Federated": X} ("ldap"); at most
     * POL_TRUST_MAX_FEDERATED are used. */
    const char *const *federated;
    size_t nfederated;
    const char *issuer;           /* an OIDC token's iss (verified), or NULL */
    const char *provider_name;    /* the configured provider name ("" or NULL: the default) */
    const struct http_kv *claims; /* condition keys: "jwt:<claim>", "ldap:username"... */
    size_t nclaims;
    const struct http_kv *tags; /* session tags: key = tag key, value = tag value */
    size_t ntags;
    const char *source_ip;
    const char *user_agent;
    bool secure_transport;
};

/* Evaluates the trust policy text for in. The identity is matched as a signed caller (by its
 * typed ARN) when in->caller is set; otherwise, as a TEMP principal whose source is each of
 * its federated names in turn: the given names and, with an issuer, the issuer URL,
 * arn:aws:iam::ACCOUNT:oidc-provider/<issuer without scheme> and the provider's name.
 * Condition keys are the claims (with an issuer, each jwt:<claim> also as
 * "<issuer without scheme>:<claim>") and the session tags. The policy must allow in->action
 * (and sts:TagSession when tags are carried); an explicit Deny anywhere refuses. TS_OK when
 * it allows, TS_E_ACCESS_DENIED (with a static reason in *why, safe to show) when not,
 * TS_E_MALFORMED_POLICY when the stored text does not parse, TS_E_INTERNAL on OOM. */
int pol_role_trust_check(const char *trust, const struct pol_trust_input *in, const char **why);

#endif
