/* act_oidc.h -- the STS actions backed by OpenID Connect providers (idp/oidc.h):
 * AssumeRoleWithWebIdentity (id_tokens) and AssumeRoleWithClientGrants (access tokens). */
#ifndef TS_STS_ACT_OIDC_H
#define TS_STS_ACT_OIDC_H

#include "idp/oidc.h"
#include "sts/sts.h"

/* Registers both actions on c with sts_set_action (call before the server starts). ps is
 * borrowed and must outlive c's use; with no provider configured (ps NULL or empty) nothing
 * is registered and the actions keep answering NotImplemented. Returns TS_OK or an error. */
int sts_oidc_register(struct sts_ctx *c, struct oidc_providers *ps);

#endif
