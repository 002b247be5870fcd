/* act_oidc.h -- the identity backends of OpenID Connect providers (idp/oidc.h) for
 * AssumeRoleWithWebIdentity (id_tokens) and AssumeRoleWithClientGrants (access tokens). */
#ifndef TS_STS_ACT_OIDC_H
#define TS_STS_ACT_OIDC_H

#include "idp/oidc.h"
#include "sts/sts.h"

/* Plugs both backends into c with sts_set_backend (call before the server starts; one
 * provider set per process). ps is borrowed and must outlive c's use; with no provider
 * configured (ps NULL or empty) nothing is plugged in and the actions keep answering
 * NotImplemented. Returns TS_OK or an error. */
int sts_oidc_register(struct sts_ctx *c, struct oidc_providers *ps);

#endif
