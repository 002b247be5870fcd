/* sts.h -- request authentication (SigV4), temporary credentials (sealed session tokens,
 * minting, revocation) and the STS actions.
 *
 * The server wires sts_authenticate / sts_authenticate_finish as the authn hook of core/http:
 * every request leaves authn with r->principal set (anonymous when unsigned) or an error.
 */
#ifndef TS_STS_H
#define TS_STS_H

#include "core/http.h"
#include "idp/iam.h"
#include "policy/pol.h"

struct sts_ctx;

struct sts_config {
    const char *region;       /* default "us-east-1" */
    const char *root_user;    /* root access key */
    const char *root_secret;  /* root secret key */
    const char *data_dir;     /* token keys live here (0600) */
    long max_duration;        /* AssumeRole upper bound, seconds; default 43200 */
};

/* Creates the STS context: loads or generates the token keys. NULL on failure (message on
 * stderr). */
struct sts_ctx *sts_ctx_new(const struct sts_config *cfg, struct iam_store *st,
                            struct pol_engine *pe);
void sts_ctx_free(struct sts_ctx *c);

/* The authn hook (core/http.h); ctx is the struct sts_ctx. */
int sts_authenticate(void *ctx, struct http_req *r);
int sts_authenticate_finish(void *ctx, struct http_req *r);

/* Fills *route with the STS route (POST / with a form body, or GET /?Action=...). */
void sts_route_init(struct http_route *route, struct sts_ctx *c);

#endif
