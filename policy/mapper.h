/* mapper.h -- the one claims→policy mapper (DESIGN §2): every identity backend (OIDC,
 * client grants, LDAP) hands its struct idp_claims here and gets the policy names its
 * session receives. No backend decides policies itself.
 *
 * Rules (MinIO's):
 * - claims->policies (OIDC: the values of the policy claim, or the provider's RolePolicy in
 *   role mode): each name that is a stored policy (iam_policy_get) or a canned one
 *   (pol_canned_json) applies; others are ignored.
 * - claims->dn (LDAP): the policies attached to that DN (iam_attached, IAM_TARGET_DN).
 * - claims->groups: with groups_are_dns (LDAP), the policies attached to each group DN;
 *   otherwise (OIDC / client grants) each value (a leading '/' of Keycloak's group paths
 *   stripped) that names an enabled tessera group (iam_group_get) adds that group's policies.
 * The result is deduplicated, in first-seen order.
 */
#ifndef TS_POL_MAPPER_H
#define TS_POL_MAPPER_H

#include "idp/iam.h"
#include "idp/idp.h"

/* Maps claims to policy names. On TS_OK *out (release with iam_strv_free) holds at least one
 * name. TS_E_STS_ACCESS_DENIED when no usable policy results (*why says so), TS_E_INTERNAL on
 * a store failure or OOM; *out is untouched on error. *why (optional) is a static string.
 * Thread-safe. */
int pol_map_claims(struct iam_store *st, const struct idp_claims *claims, struct iam_strv *out,
                   const char **why);

/* Whether name is a stored or canned policy. */
bool pol_map_policy_exists(struct iam_store *st, const char *name);

#endif
