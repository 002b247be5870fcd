/* admin_api.h -- the admin API route: /tessera/admin/v1/..., JSON in and out, SigV4-signed
 * (the authn hook runs first and sets r->principal). Only root, or a static user whose
 * policies allow the endpoint's admin:* action on arn:aws:s3:::*, may call it; anonymous and
 * temporary credentials get 403. Endpoints: docs/API.md, "Admin API".
 */
#ifndef TS_ADMIN_API_H
#define TS_ADMIN_API_H

#include "core/http.h"
#include "idp/iam.h"
#include "policy/pol.h"
#include "sts/sts.h"

#define ADMIN_API_PREFIX "/tessera/admin/v1/"
#define ADMIN_API_BODY_MAX (64 * 1024)   /* any request body */
#define ADMIN_API_POLICY_MAX (20 * 1024) /* a policy document */

/* Fills *route with the admin route (name "admin", JSON errors, 64 KiB bodies, matching the
 * path prefix /tessera/admin/v1/). st and pe are borrowed and must outlive the route; sts may
 * be NULL (the sts/ endpoints then answer NotImplemented). The route's ctx is allocated here:
 * release it with admin_api_route_free() after the server is freed. On allocation failure
 * the route answers ServiceUnavailable (a message goes to stderr). */
void admin_api_route_init(struct http_route *route, struct iam_store *st, struct pol_engine *pe,
                          struct sts_ctx *sts);
void admin_api_route_free(struct http_route *route);

/* Normalises an LDAP DN for attachments: lower-cased, spaces after ',' and leading/trailing
 * spaces removed ("CN=Admins, DC=Example" -> "cn=admins,dc=example"). Returns a malloc'ed
 * string or NULL (OOM). */
char *admin_dn_normalize(const char *dn);

#endif
