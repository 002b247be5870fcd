/* idp.h -- the identity-backend interface. A backend (static users, OIDC providers, client
 * grants, LDAP) proves who someone is and produces claims (struct idp_backend); it never
 * authorizes a role, maps policies, mints credentials or replies. The one federation function
 * (sts/federate.c, sts_federate) runs every backend the same way: authenticate -> the role's
 * trust policy (policy/roles.h) or the one claims→policy mapper (policy/mapper.h) -> the one
 * minter (sts/mint.c) (DESIGN §2). Errors travel as one struct ts_error (core/err.h).
 */
#ifndef TS_IDP_H
#define TS_IDP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/http.h"
#include "idp/iam.h"

struct pol_principal;

enum idp_kind { IDP_STATIC, IDP_OIDC, IDP_CLIENT_GRANTS, IDP_LDAP, IDP_CUSTOM, IDP_CERT, IDP_SAML };

/* What a backend learned about an identity. Owned by whoever holds it; idp_claims_cleanup
 * frees every member. */
struct idp_claims {
    enum idp_kind kind;
    char *provider;           /* OIDC provider name ("" for the default), "ldap", "static" */
    char *issuer;             /* OIDC iss */
    char *subject;            /* OIDC sub; LDAP: the user's DN */
    char *username;           /* OIDC preferred_username (or sub); LDAP: canonical user name */
    char *dn;                 /* LDAP user DN (normalised), else NULL */
    struct iam_strv groups;   /* OIDC groups claim; LDAP group DNs (normalised) */
    struct iam_strv policies; /* OIDC: values of the configured policy claim (split on ',') */
    char *role_arn;           /* OIDC: the provider's RolePolicy role, if configured */
    struct http_kv *vars;     /* condition keys / policy variables: "jwt:sub", "ldap:dn"... */
    size_t nvars;
    time_t token_expiry; /* OIDC exp; 0 when none */
    long max_duration;   /* the identity source bounds its sessions to this many seconds
                          * (longer ones are cut to it); 0 when it does not */
    char *audience;      /* OIDC aud/azp that matched */
    char *session_name;  /* the identity source names the session (SAML's RoleSessionName
                          * attribute): used instead of the request's RoleSessionName */
    /* What the session is made of (filled by the backend that authenticated): */
    char *parent;              /* the session's parent: user name, LDAP DN, OIDC "iss#sub" */
    const char *source;        /* static string: "root", "static", "ldap", "oidc", "clientgrants" */
    bool groups_are_dns;       /* groups are directory DNs (mapped through DN attachments) rather
                                * than tessera group names */
    struct iam_strv federated; /* the names a trust policy's {"Federated": X} may give this
                                * identity ("ldap"; an OIDC issuer, its oidc-provider ARN and
                                * the provider's name); none for a signed caller */
};

/* What a backend authenticates: the request's parameters (the STS query and form; the
 * browser login maps its form to the same names), the caller as SigV4 authenticated it, and
 * the request's environment. All borrowed. */
struct idp_input {
    const struct http_kv *params;
    size_t nparams;
    const struct pol_principal *caller; /* anonymous (or NULL) when unsigned */
    const char *role_arn;               /* RoleArn as the request spelled it, or NULL */
    bool tessera_role;                  /* role_arn names an existing tessera role */
    const char *source_ip;
    const char *user_agent;
    bool tls;
    /* The client certificate chain of the TLS handshake (leaf first, as sent, unverified; the
     * first npeer_chain of npeer_sent), when the server asks for one (core/http.h). */
    const struct http_der *peer_chain;
    size_t npeer_chain, npeer_sent;
};
/* The value of parameter name (first occurrence), or NULL. */
const char *idp_input_param(const struct idp_input *in, const char *name);

/* An identity backend. Every function gets `arg`; all but authenticate are optional (NULL).
 * Functions return TS_OK or the code they set in *err with ts_error_set (message safe to
 * show the client: never a password or token). Thread-safe: called from worker threads. */
struct idp_backend {
    const char *name; /* "static", "oidc", "clientgrants", "ldap": logs and metric labels */
    void *arg;
    /* Cheap checks before any other (missing parameters, unsigned caller). */
    int (*precheck)(void *arg, const struct idp_input *in, struct ts_error *err);
    /* Proves the identity: fills *out (release with idp_claims_cleanup; source and parent
     * set) on TS_OK, leaves it zeroed on error. */
    int (*authenticate)(void *arg, const struct idp_input *in, struct idp_claims *out,
                        struct ts_error *err);
    /* Session tags the identity carries (AWS's principal tags), for a role's trust policy:
     * up to max into tags (strings borrowed from *hold, released with free_hold). Returns
     * the count or -1 with *err set. */
    long (*session_tags)(void *arg, const struct idp_input *in, struct http_kv *tags, size_t max,
                         void **hold, struct ts_error *err);
    void (*free_hold)(void *hold);
    /* Told about credentials issued with policies mapped from the claims (not a role's):
     * LDAP re-validates the DN until they expire. */
    void (*issued)(void *arg, const struct idp_claims *c, const struct iam_strv *policies,
                   time_t expires);
    /* Optional: finds an identity by name without its proof (an admin naming an LDAP DN as a
     * service account's parent, sts/svcacct.c): fills *out as authenticate does on TS_OK;
     * TS_E_NO_SUCH_ENTITY when the source has no such identity, TS_E_SERVICE_UNAVAILABLE when
     * it cannot answer, TS_E_INVALID_ARGUMENT for a malformed name (err says why). Blocks:
     * called on worker threads only. */
    int (*lookup)(void *arg, const char *name, struct idp_claims *out, struct ts_error *err);
    bool parent_policies;     /* a role-less session acts with its parent's current policies
                               * (static users): claims->policies are used verbatim, unmapped */
    bool signed_caller;       /* the identity is in->caller: a role's trust policy matches its
                               * typed ARN ({"AWS": "arn:aws:iam::ACCOUNT:user/NAME"}) */
    const char *user_param;   /* the parameter naming the user, for refusal audit records
                               * ("LDAPUsername"), or NULL */
    bool duration_from_token; /* without DurationSeconds, the session lasts as long as the
                               * token (claims->token_expiry), within the STS bounds */
    bool own_credentials;     /* the caller's own session, not a role's (GetSessionToken):
                               * the answer has no AssumedRoleUser */
    long duration_default;    /* without DurationSeconds (and no token lifetime): seconds;
                               * 0 means AWS's 3600. Cut to the configured maximum. */
    long duration_limit;      /* DurationSeconds allowed up to this (AWS's limit of the
                               * action), then cut to the configured maximum; 0: up to the
                               * configured maximum, longer is a ValidationError */
    bool expiry_within_token; /* the session never outlives claims->token_expiry (a client
                               * certificate's notAfter), whatever DurationSeconds asks */
    /* The action's own elements of a successful STS answer, appended (escaped XML) to out from
     * the claims (AssumeRoleWithSAML: Issuer, Audience, Subject...); NULL for none. */
    void (*answer)(const struct idp_claims *c, struct buf *out);
};

void idp_claims_cleanup(struct idp_claims *c);
/* Appends a copy of s to sv. Returns TS_OK or TS_E_INTERNAL. */
int idp_strv_add(struct iam_strv *sv, const char *s);
/* Adds a variable (copied). Returns TS_OK or TS_E_INTERNAL. */
int idp_claims_add_var(struct idp_claims *c, const char *key, const char *value);

/* Whether s is fit to name an identity (OIDC sub, iss, preferred_username; an LDAP user name
 * or DN): well-formed UTF-8 with no control character (C0, DEL, C1) and no U+FFFE/U+FFFF.
 * Such names end up in ARNs, in STS XML answers (where XML 1.0 cannot represent most
 * controls at all), in logs and on terminals: a backend refuses an identity whose name fails
 * this instead of passing it on. */
bool idp_name_ok(const char *s);

/* Session tag keys that differ only in case are one key (AWS: "Duplicate tag keys found.
 * Please note that Tag keys are case insensitive."). Returns the index of the first key of
 * keys[0..n) that repeats an earlier one, ignoring ASCII case, or -1 when all are distinct. */
long idp_tag_keys_duplicate(const char *const *keys, size_t n);

#endif
