/* idp.h -- the identity-backend interface. A backend (static users, OIDC providers, client
 * grants, LDAP) proves who someone is and produces claims; it never mints credentials. The
 * one claims→policy mapper (policy/) turns claims into policy names, and the one minter
 * (sts/) turns those into credentials (DESIGN §2).
 */
#ifndef TS_IDP_H
#define TS_IDP_H

#include <stdbool.h>
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
