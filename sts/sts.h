/* sts.h -- request authentication (SigV4), temporary credentials (sealed session tokens,
 * minting, revocation) and the STS actions.
 *
 * The server wires sts_authenticate / sts_authenticate_finish as the authn hook of core/http:
 * every request leaves authn with r->principal set (anonymous when unsigned) or an error.
 */
#ifndef TS_STS_H
#define TS_STS_H

#include "core/err.h"
#include "core/http.h"
#include "idp/iam.h"
#include "idp/idp.h"
#include "policy/pol.h"

struct sts_ctx;

struct sts_config {
    const char *region;      /* default "us-east-1" */
    const char *root_user;   /* root access key */
    const char *root_secret; /* root secret key */
    const char *data_dir;    /* unused: token keys live in the IAM store (shared, §4.6) */
    long max_duration;       /* session upper bound, seconds; default 43200, <= 365 days */
};

/* Creates the STS context: loads the token keys from the IAM store (blob "sts/token-keys"),
 * generating them on first start. NULL on failure (message on stderr). cfg strings are
 * copied; st and pe are borrowed and must outlive the context. */
struct sts_ctx *sts_ctx_new(const struct sts_config *cfg, struct iam_store *st,
                            struct pol_engine *pe);
void sts_ctx_free(struct sts_ctx *c);

/* The authn hook (core/http.h); ctx is the struct sts_ctx. */
int sts_authenticate(void *ctx, struct http_req *r, struct ts_error *e);
int sts_authenticate_finish(void *ctx, struct http_req *r, struct ts_error *e);
/* The form authn hook (http_authn_form_fn): the signature of an S3 POST form's policy, V4
 * (hex HMAC-SHA256 with the signing key of the x-amz-credential scope) or V2 (base64
 * HMAC-SHA1 with the secret), by a static user, root or temporary credentials (the token in
 * x-amz-security-token), with the checks of header authentication. */
int sts_authenticate_form(void *ctx, struct http_req *r, const struct http_form_auth *a,
                          struct ts_error *e);

/* Fills *route with the STS route (POST / with a form body, or GET /?Action=...). */
void sts_route_init(struct http_route *route, struct sts_ctx *c);

/* ---- minting (the one place credentials are made; DESIGN §2) ---- */

/* The account id in every ARN tessera answers with (GetCallerIdentity, AssumedRoleUser):
 * MinIO has none, AWS SDKs only need 12 digits. */
#define STS_ACCOUNT_ID "000000000000"
#define STS_XMLNS "https://sts.amazonaws.com/doc/2011-06-15/"
#define STS_MIN_DURATION 900L
#define STS_MAX_DURATION_LIMIT (365L * 24 * 3600) /* config upper bound for max_duration */
#define STS_MAX_SESSION_POLICY 2048               /* characters of an inline session policy */
#define STS_MAX_FORM_BODY (64 * 1024)

/* What a backend hands the minter: who the session is for and what it may do. Borrowed by
 * sts_mint (copied into the sealed token). */
struct sts_session {
    const char *parent;          /* required: user name, LDAP DN, OIDC "iss#sub" */
    const char *username;        /* aws:username; NULL means parent */
    const char *source;          /* "root", "static", "ldap", "oidc", "clientgrants", "role" */
    const char *const *policies; /* mapped policy names (none for static/root parents: the
                                  * parent's current policies apply at request time) */
    size_t npolicies;
    const char *session_policy; /* inline session policy JSON (validated by caller), or NULL */
    const char *const *session_policies; /* managed session policies (PolicyArns) by name:
                                          * checked to exist by the caller */
    size_t nsession_policies;
    const char *session_name;     /* RoleSessionName, or NULL */
    const char *role;             /* a tessera role whose trust policy admitted the caller:
                                   * its name (policies are then exactly the role's), or NULL */
    const char *role_arn;         /* the OIDC provider's RolePolicy role ARN (server config),
                                   * or NULL; never a RoleArn as the request spelled it */
    const struct http_kv *claims; /* policy-variable keys: "jwt:sub", "ldap:dn"... */
    size_t nclaims;
    long duration; /* seconds, 1..max_duration (AssumeRole: STS_MIN_DURATION..) */
};

/* Temporary credentials. secret_key is wiped by sts_creds_cleanup. */
struct sts_creds {
    char access_key[21]; /* 20 upper-case alphanumerics */
    char secret_key[41]; /* 40 chars of [A-Za-z0-9+/] */
    char *session_token; /* malloc'ed, base64url */
    time_t issued, expires;
    char *arn;               /* AssumedRoleUser Arn: the session's typed ARN (sts_session_arn) */
    char *role_id;           /* AssumedRoleId (also aws:userid): "<access key>:<session name>" */
    long packed_policy_size; /* PackedPolicySize (percent), -1 without session policies */
};
void sts_creds_cleanup(struct sts_creds *cr);

/* Mints credentials for s: a fresh access key, the sealed session token and the derived
 * secret. Writes nothing to disk. Returns TS_OK, TS_E_INVALID_ARGUMENT (no parent/source,
 * duration out of range) or TS_E_INTERNAL; *out is untouched on error. Thread-safe. */
int sts_mint(struct sts_ctx *c, const struct sts_session *s, struct sts_creds *out);

/* Replies with an AWS-shaped credentials response:
 *   <{action}Response xmlns=STS_XMLNS><{action}Result>{extra_xml}<AssumedRoleUser>..
 *   <Credentials>..</Credentials></{action}Result><ResponseMetadata>..
 * extra_xml (may be NULL) is inserted verbatim (already escaped) inside the Result, e.g.
 * <SubjectFromWebIdentityToken>. TS_OK or TS_E_INTERNAL. */
int sts_reply_creds(struct http_req *r, const char *action, const struct sts_creds *cr,
                    const char *extra_xml);
/* Writes the "sts.issue" audit record and the tessera_sts_issued_total metric for
 * credentials cr minted for s (sts_federate does). */
void sts_audit_issue(struct http_req *r, const char *action, const struct sts_session *s,
                     const struct sts_creds *cr);

/* ---- the STS actions and their identity backends ---- */

struct sts_params; /* the request's decoded parameters (query + form body) */
/* A parameter's value, or NULL when absent. */
const char *sts_param(const struct sts_params *p, const char *name);

/* Plugs the identity backend b (idp/idp.h; borrowed, must outlive c) into a federation
 * action of the STS action table (sts/actions.c): "AssumeRoleWithWebIdentity",
 * "AssumeRoleWithClientGrants", "AssumeRoleWithLDAPIdentity" (AssumeRole has the built-in
 * static-user backend). Called by the composition root before the server starts (not
 * thread-safe against requests); b NULL unplugs. Actions without a backend answer
 * NotImplemented. Returns TS_OK or TS_E_INVALID_ARGUMENT (no such federation action). */
int sts_set_backend(struct sts_ctx *c, const char *action, const struct idp_backend *b);
/* Plugs MinIO's identity management plugin (idp/idplugin.h; borrowed) into
 * AssumeRoleWithCustomToken (sts/act_custom.c). As sts_set_backend. */
struct idplugin;
int sts_custom_register(struct sts_ctx *c, struct idplugin *p);
/* Plugs the SAML identity provider (idp/saml.h; borrowed) into AssumeRoleWithSAML
 * (sts/act_saml.c); PrincipalArn must then be arn:aws:iam::ACCOUNT:saml-provider/provider_name.
 * As sts_set_backend. */
struct saml_idp;
int sts_saml_register(struct sts_ctx *c, struct saml_idp *idp, const char *provider_name);
/* The SAML provider's ARN once registered ("" before). */
const char *sts_saml_provider_arn(void);
/* The backend plugged into action, or NULL. */
const struct idp_backend *sts_backend(const struct sts_ctx *c, const char *action);

/* What one federation produced: the claims, the session's policies, the session and the
 * credentials. The session borrows from the other members. */
struct sts_federation {
    struct idp_claims claims;
    struct iam_strv policies;
    char role[65]; /* the tessera role whose trust policy admitted the identity, or "" */
    struct sts_session session;
    struct sts_creds creds;
};
void sts_federation_cleanup(struct sts_federation *f);

/* The one federation flow, shared by the STS endpoint and the browser login: the backend of
 * action authenticates the parameters p (and r's signed caller) into claims; with a RoleArn
 * naming a tessera role, that role's trust policy (policy/roles.h) must admit the identity
 * and the session gets exactly the role's policies; otherwise the claims are mapped
 * (policy/mapper.h; a static user's session keeps its parent's policies); then sts_mint. The
 * common parameters (DurationSeconds, RoleArn, RoleSessionName, Policy) are checked here.
 * Writes the sts.issue or sts.deny audit record. Replies nothing: TS_OK with *out set
 * (release with sts_federation_cleanup), or the error in *err (code and client-safe
 * message) with *out zeroed. */
int sts_federate(struct sts_ctx *c, const char *action, struct http_req *r,
                 const struct sts_params *p, struct sts_federation *out, struct ts_error *err);

/* Builds a parameter set for sts_federate (values copied; free wipes them). */
struct sts_params *sts_params_new(void);
int sts_params_set(struct sts_params *p, const char *key, const char *value);
void sts_params_free(struct sts_params *p);

/* The principal that requests signed with these temporary credentials would get (all the
 * checks of the authn hook: token, revocation, parent). TS_OK with *out set (free with
 * pol_principal_free) or an error. */
int sts_principal_for(struct sts_ctx *c, const char *access_key, const char *session_token,
                      struct pol_principal **out);

/* Seals a small blob (the browser login's cookie) with AES-256-GCM under a key derived from
 * the active token key and label (HMAC-SHA256(master, label)), so every node sharing the IAM
 * store can open it while that key is kept. *out is base64url, malloc'ed. TS_OK or
 * TS_E_INTERNAL. */
int sts_seal_blob(struct sts_ctx *c, const char *label, const void *in, size_t n, char **out);
/* Opens it: TS_OK with *out (malloc'ed, NUL-terminated, wipe it) and *n, or
 * TS_E_INVALID_TOKEN (tampered, truncated, unknown key, other label). */
int sts_open_blob(struct sts_ctx *c, const char *label, const char *in, size_t len, char **out,
                  size_t *n);

/* The config the context runs with (max_duration, region...). */
const struct sts_config *sts_ctx_config(const struct sts_ctx *c);

/* Admin operations (called by the admin API). TS_OK or an error. */
/* Revokes every session of a parent (static user, LDAP DN or OIDC parent) issued so far. The
 * not-before time is now in nanoseconds (session tokens carry their issue time in ns), so
 * tokens minted after it returns stay valid and none minted before it does; it never waits. */
int sts_revoke_user(struct sts_ctx *c, const char *user);
/* Revokes one temporary access key until it can no longer be valid (now + max_duration). */
int sts_revoke_access_key(struct sts_ctx *c, const char *access_key);
/* Adds a new active token key (kid_out gets its 8-char id). Older keys keep verifying until
 * max_duration after their retirement, then are dropped at the next rotation. */
int sts_rotate_key(struct sts_ctx *c, char kid_out[32]);

#endif
