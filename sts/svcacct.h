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

/* Whether LDAP identity is configured (the LDAP backend, with its lookup hook). */
bool sts_svc_ldap_on(const struct sts_ctx *c);

/* An LDAP parent named by an admin: s->parent (a normalised DN) is looked up in the directory
 * with the LDAP backend's lookup hook (the lookup account; blocks up to the LDAP timeout: on
 * worker threads only), and s gets what an account created from that user's own LDAP login
 * records: its claims and group DNs. TS_OK; or the error with *err: TS_E_NO_SUCH_ENTITY (not a
 * user in the directory), TS_E_SERVICE_UNAVAILABLE (the directory did not answer),
 * TS_E_INVALID_ARGUMENT (not a DN; no policy attached to the DN nor its groups: a login would
 * be refused and the validity checker revokes such DNs), TS_E_INTERNAL. */
int sts_svc_ldap_parent(struct sts_ctx *c, const char *dn, struct iam_svcacct *s,
                        struct ts_error *err);

/* An LDAP parent: hands the DN (with the "ldap:username" the account recorded) to the LDAP
 * validity checker (the backend's issued hook) until the account expires, so that the DN
 * leaving the directory revokes it. */
void sts_svc_track(struct sts_ctx *c, const struct iam_svcacct *s);

#endif
