/* svcacct.h -- private to sts/: service accounts (svcacct.c), for the authn hook and the
 * admin API (admin_svc.c). */
#ifndef TS_STS_SVCACCT_H
#define TS_STS_SVCACCT_H

#include "sts/sts_int.h"

/* The parent that p's own service accounts have: a static user (its own keys, or a role-less
 * session of it), an LDAP DN or an OpenID subject (a role-less session); *ptype "static",
 * "ldap" or "oidc". False for root, role sessions, client grants, service accounts. */
bool sts_svc_owner(const struct pol_principal *p, const char **parent, const char **ptype);

/* What an account created by the temporary credentials p for their own parent records of
 * them: the claims (as a JSON object), LDAP group DNs, OpenID mapped policies. TS_OK or
 * TS_E_INTERNAL. Nothing for a static user's own keys. */
int sts_svc_from_session(const struct pol_principal *p, struct iam_svcacct *s);

/* An LDAP parent: hands the DN to the LDAP validity checker (the backend's issued hook) until
 * the account expires, so that the DN leaving the directory revokes it. */
void sts_svc_track(struct sts_ctx *c, const struct pol_principal *p, const struct iam_svcacct *s);

#endif
