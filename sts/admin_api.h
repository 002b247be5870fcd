/* admin_api.h -- the admin API route: /tessera/admin/v1/..., JSON in and out, SigV4-signed
 * (the authn hook runs first and sets r->principal). Each endpoint declares its admin:*
 * action on arn:aws:s3:::* to the authz phase (core/http.h): only root, or a static user
 * whose policies allow it, may call it; anonymous and temporary credentials get 403. Writes
 * run on the route's worker threads. Endpoints: docs/API.md, "Admin API". It lives in sts/
 * because it administers the IAM store (idp/), policies and roles (policy/) and sessions
 * (sts/), the one module that sees all three.
 */
#ifndef TS_ADMIN_API_H
#define TS_ADMIN_API_H

#include <stdint.h>

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

/* The pass of the endpoint POST lifecycle/run: one lifecycle pass of the embedded store as of
 * now (seconds), TS_OK with *json (a malloc'ed JSON object: its counts). Not set (gateway mode):
 * the endpoint answers NotImplemented. */
typedef int (*admin_lifecycle_fn)(void *ctx, int64_t now, char **json);
void admin_api_set_lifecycle(struct http_route *route, admin_lifecycle_fn fn, void *ctx);

/* Normalises an LDAP DN for attachments: lower-cased, spaces after ',' and leading/trailing
 * spaces removed ("CN=Admins, DC=Example" -> "cn=admins,dc=example"). Returns a malloc'ed
 * string or NULL (OOM). */
char *admin_dn_normalize(const char *dn);

/* The endpoint table's methods and path patterns into method/pattern[0..max); returns how
 * many endpoints there are (for the operation-table test). */
size_t admin_api_endpoints(const char **method, const char **pattern, size_t max);

#endif
