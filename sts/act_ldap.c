/* act_ldap.c -- the LDAP identity backend (idp/idp.h) of AssumeRoleWithLDAPIdentity and the
 * browser login's LDAP form. Unsigned, as MinIO allows: LDAPUsername + LDAPPassword are the
 * proof, checked by ldap/tldap.h (tldap_authenticate). sts_federate (sts/federate.c) does the
 * rest as for every backend: the one mapper turns the DN and group DNs into policies through
 * `policy attach --dn` attachments (none: AccessDenied, as MinIO), or a requested tessera
 * role's trust policy admits the user ({"Federated": "ldap"} or "*", conditions on
 * ldap:username, ldap:dn, ldap:groups); then sts_mint with parent = the normalised user DN and
 * source "ldap". Sessions with mapped policies are handed to the backend's validity checker
 * (tldap_track), which revokes them when the directory stops granting those policies. The
 * lookup hook (tldap_lookup_dn) finds a user by DN for an admin-created service account.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "ldap/tldap.h"
#include "sts/sts_int.h"

static int ldap_precheck(void *arg, const struct idp_input *in, struct ts_error *err)
{
    const char *user = idp_input_param(in, "LDAPUsername");

    (void)arg;
    if (user == NULL || idp_input_param(in, "LDAPPassword") == NULL)
        return ts_error_set(err, TS_E_STS_MISSING_PARAMETER,
                            "The request must contain the parameter %s.",
                            user == NULL ? "LDAPUsername" : "LDAPPassword");
    return TS_OK;
}

static int ldap_authenticate(void *arg, const struct idp_input *in, struct idp_claims *out,
                             struct ts_error *err)
{
    return tldap_authenticate(arg, idp_input_param(in, "LDAPUsername"),
                              idp_input_param(in, "LDAPPassword"), out, err);
}

static int ldap_lookup(void *arg, const char *dn, struct idp_claims *out, struct ts_error *err)
{
    return tldap_lookup_dn(arg, dn, out, err);
}

static void ldap_issued(void *arg, const struct idp_claims *c, const struct iam_strv *policies,
                        time_t expires)
{
    if (tldap_track(arg, c->dn, c->username, policies, expires) != TS_OK)
        log_kv(LOG_ERROR, "ldap.track", "dn", c->dn, "error",
               "cannot remember the session for validity checks", NULL);
}

static struct idp_backend ldap_backend;

int sts_ldap_register(struct sts_ctx *c, struct tldap *l)
{
    if (tldap_store(l) == NULL)
        return TS_E_INVALID_ARGUMENT; /* tldap_start first */
    memset(&ldap_backend, 0, sizeof ldap_backend);
    ldap_backend.name = "ldap";
    ldap_backend.arg = l;
    ldap_backend.precheck = ldap_precheck;
    ldap_backend.authenticate = ldap_authenticate;
    ldap_backend.issued = ldap_issued;
    ldap_backend.lookup = ldap_lookup;
    ldap_backend.user_param = "LDAPUsername";
    return sts_set_backend(c, "AssumeRoleWithLDAPIdentity", &ldap_backend);
}
