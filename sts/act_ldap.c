/* act_ldap.c -- the AssumeRoleWithLDAPIdentity action: the glue between the STS endpoint and
 * the LDAP backend (ldap/tldap.h). Unsigned, as MinIO allows: LDAPUsername + LDAPPassword
 * are the proof. The backend authenticates and produces claims; the one mapper
 * (policy/mapper.h) turns the DN and group DNs into policies through `policy attach --dn`
 * attachments (none: AccessDenied, as MinIO); sts_mint makes the credentials (parent = normalised
 * user DN, source "ldap"), and the DN is handed to the backend's validity checker (tldap_track).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "ldap/tldap.h"
#include "policy/mapper.h"
#include "sts/sts_int.h"

#define ACTION "AssumeRoleWithLDAPIdentity"

/* Replies with err and msg; the action then reports TS_OK (already answered). */
static int reply_error(struct http_req *r, int err, const char *msg)
{
    http_reply_error(r, err, msg);
    return TS_OK;
}

static int act_ldap(void *arg, struct sts_ctx *c, struct http_req *r, const struct sts_params *p)
{
    struct tldap *l = arg;
    struct iam_store *st = tldap_store(l);
    const char *user = sts_param(p, "LDAPUsername"), *pw = sts_param(p, "LDAPPassword");
    const char *policy = sts_param(p, "Policy");
    struct idp_claims claims;
    struct iam_strv pols = {0};
    struct sts_session s;
    struct sts_creds cr;
    char msg[512] = "";
    const char *why = NULL;
    long duration = 0;
    int rc;

    memset(&claims, 0, sizeof claims);
    memset(&cr, 0, sizeof cr);
    if (user == NULL || pw == NULL) {
        snprintf(msg, sizeof msg, "The request must contain the parameter %s.",
                 user == NULL ? "LDAPUsername" : "LDAPPassword");
        return reply_error(r, TS_E_STS_MISSING_PARAMETER, msg);
    }
    if ((rc = sts_check_duration(c, sts_param(p, "DurationSeconds"), &duration, msg, sizeof msg)) !=
            TS_OK ||
        (rc = sts_check_policy(policy, msg, sizeof msg)) != TS_OK)
        return reply_error(r, rc, msg);

    rc = tldap_authenticate(l, user, pw, &claims, msg, sizeof msg);
    if (rc != TS_OK) {
        log_audit("sts.deny", "action", ACTION, "user", user, "source_ip", r->source_ip, "reason",
                  ts_err_code(rc), NULL);
        http_reply_error(r, rc, msg[0] ? msg : NULL);
        return TS_OK;
    }
    rc = pol_map_claims(st, &claims, &pols, &why); /* the one mapper */
    if (rc == TS_E_STS_ACCESS_DENIED) {
        log_kv(LOG_INFO, "ldap.auth", "user", claims.username, "dn", claims.subject, "result",
               "denied", "reason", why, NULL);
        log_audit("sts.deny", "action", ACTION, "user", claims.username, "dn", claims.dn,
                  "source_ip", r->source_ip, "reason", "no policy", NULL);
        http_reply_error(r, TS_E_STS_ACCESS_DENIED,
                         "No policy is attached to this LDAP user or any of its groups.");
        rc = TS_OK;
        goto out;
    }
    if (rc != TS_OK)
        goto out;

    memset(&s, 0, sizeof s);
    s.parent = claims.dn;
    s.username = claims.username;
    s.source = "ldap";
    s.policies = (const char *const *)pols.v;
    s.npolicies = pols.n;
    s.session_policy = policy;
    s.claims = claims.vars;
    s.nclaims = claims.nvars;
    s.duration = duration;
    rc = sts_mint(c, &s, &cr);
    if (rc != TS_OK) {
        rc = rc == TS_E_INVALID_ARGUMENT ? TS_E_STS_VALIDATION : rc;
        goto out;
    }
    if (tldap_track(l, claims.dn, claims.username, &pols, cr.expires) != TS_OK)
        log_kv(LOG_ERROR, "ldap.track", "dn", claims.dn, "error",
               "cannot remember the session for validity checks", NULL);
    rc = sts_reply_creds(r, ACTION, &s, &cr, NULL);
out:
    sts_creds_cleanup(&cr);
    iam_strv_free(&pols);
    idp_claims_cleanup(&claims);
    return rc;
}

int sts_ldap_register(struct sts_ctx *c, struct tldap *l)
{
    if (tldap_store(l) == NULL)
        return TS_E_INVALID_ARGUMENT; /* tldap_start first */
    return sts_set_action(c, ACTION, act_ldap, l);
}
