/* fake_ldap.h -- a stand-in directory backend (idp/idp.h) for the sts/ unit tests: one user,
 * dave / pw, DN uid=dave,dc=example,dc=org, in no group; {"Federated": "ldap"} in trust
 * policies. Its policies come from DN attachments, as the real one's. */
#ifndef TS_FAKE_LDAP_H
#define TS_FAKE_LDAP_H

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "idp/idp.h"

#define FAKE_LDAP_DN "uid=dave,dc=example,dc=org"

static int fake_ldap(void *arg, const struct idp_input *in, struct idp_claims *out,
                     struct ts_error *err)
{
    const char *user = idp_input_param(in, "LDAPUsername");
    const char *pw = idp_input_param(in, "LDAPPassword");
    (void)arg;
    memset(out, 0, sizeof *out);
    if (user == NULL || pw == NULL || strcmp(pw, "pw") != 0)
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED, "bad password");
    out->source = "ldap";
    out->groups_are_dns = true;
    out->parent = strdup(FAKE_LDAP_DN);
    out->dn = strdup(FAKE_LDAP_DN);
    out->username = strdup(user);
    if (idp_strv_add(&out->federated, "ldap") != TS_OK ||
        idp_claims_add_var(out, "ldap:username", user) != TS_OK)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    return TS_OK;
}

static const struct idp_backend fake_ldap_backend = {.name = "ldap", .authenticate = fake_ldap};

#endif
