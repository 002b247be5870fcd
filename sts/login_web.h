/* login_web.h -- the browser login at /login: the configured OpenID providers (authorization
 * code flow with PKCE, state and nonce) and, when LDAP is configured, a username/password
 * form; both end in the identity backends of the STS actions (AssumeRoleWithWebIdentity /
 * ...WithLDAPIdentity) through sts_federate, as the STS endpoint does, and a page with the
 * credentials, copy-ready snippets and the buckets they can list. docs/API.md "Browser login"
 * describes the flow.
 *
 * No server-side state: state, nonce, PKCE verifier and redirect URI travel in a short-lived
 * cookie sealed with sts_seal_blob (a key derived from the STS token keys in the shared IAM
 * store), so any node behind a load balancer finishes a flow another one started. No cookie
 * ever carries credentials.
 *
 * Thread-safety: immutable after login_web_new / login_web_set_buckets.
 */
#ifndef TS_LOGIN_WEB_H
#define TS_LOGIN_WEB_H

#include "core/http.h"
#include "idp/iam.h"
#include "idp/oidc.h"
#include "policy/pol.h"
#include "sts/sts.h"

#define LOGIN_WEB_COOKIE_TTL 600 /* seconds a started flow / a login form stays usable */

struct login_web;

/* The buckets principal p can list, as r's S3 requests would be authorized (the object store
 * provides it: obj_buckets_visible). */
typedef int (*login_web_buckets_fn)(void *ctx, struct http_req *r, const struct pol_principal *p,
                                    struct iam_strv *out);

/* ps may be NULL or empty (then only the LDAP form, when its action is registered). c and ps
 * are borrowed and must outlive the route. NULL on OOM. */
struct login_web *login_web_new(struct sts_ctx *c, struct oidc_providers *ps);
void login_web_set_buckets(struct login_web *w, login_web_buckets_fn fn, void *ctx);
void login_web_free(struct login_web *w);

/* Fills *route with the /login route: GET /login, GET /login/start, GET /login/callback and
 * POST /login/ldap, for requests that carry no AWS signature (a bucket named "login" stays
 * reachable with signed requests). Register it before the S3 route. */
void login_web_route_init(struct http_route *route, struct login_web *w);

#endif
