/* idp.h -- the identity-backend interface. A backend (static users, OIDC providers, client
 * grants, LDAP) proves who someone is and produces claims; it never mints credentials. The
 * one claims→policy mapper (policy/) turns claims into policy names, and the one minter
 * (sts/) turns those into credentials (DESIGN §2).
 */
#ifndef TS_IDP_H
#define TS_IDP_H

#include <stddef.h>
#include <time.h>

#include "core/http.h"
#include "idp/iam.h"

enum idp_kind { IDP_STATIC, IDP_OIDC, IDP_CLIENT_GRANTS, IDP_LDAP };

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
    char *audience;      /* OIDC aud/azp that matched */
};

void idp_claims_cleanup(struct idp_claims *c);
/* Adds a variable (copied). Returns TS_OK or TS_E_INTERNAL. */
int idp_claims_add_var(struct idp_claims *c, const char *key, const char *value);

#endif
