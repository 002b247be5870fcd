/* obj.h -- the object store: the storage engine (LMDB metadata + object files under a fan-out
 * directory, DESIGN §4.2) and the S3 API handlers on top of it.
 */
#ifndef TS_OBJ_H
#define TS_OBJ_H

#include <stdint.h>

#include "core/http.h"
#include "policy/pol.h"

struct obj_store;

/* Opens (creating when needed) the store under DATA_DIR; collects stray temp files and
 * unreferenced data files left by a crash. Returns TS_OK or an error (message on stderr). */
int obj_store_open(const char *data_dir, struct obj_store **out);
void obj_store_close(struct obj_store *st);

/* Fills *route with the S3 route: everything that no earlier route took. Every operation is
 * authorized with pol_authorize() through pe before it touches the store. */
void obj_route_init(struct http_route *route, struct obj_store *st, struct pol_engine *pe);

/* The S3 route in gateway mode: the same operations, authentication and authorization, then
 * the upstream gw (objstore/gw.h) instead of an embedded store. *out: the route's context,
 * freed by obj_gateway_free after the HTTP server. TS_OK or TS_E_INTERNAL. */
struct gw;
int obj_gateway_route_init(struct http_route *route, struct gw *gw, struct pol_engine *pe,
                           struct obj_store **out);
void obj_gateway_free(struct obj_store *st);

/* Fills *route with the CORS preflight route (`OPTIONS` on any path no earlier route took),
 * answered from the bucket's CORS rules without authentication; st: the context the S3 route
 * was given (the embedded store's, or the gateway's from obj_gateway_route_init). Add it before
 * the S3 route. */
void obj_preflight_route_init(struct http_route *route, struct obj_store *st);

/* The names of the buckets principal p sees in ListBuckets (everything with
 * s3:ListAllMyBuckets, else those it may list or locate), authorized as a request like r
 * would be (source address, TLS, User-Agent); needs obj_route_init first. For the browser
 * login page. TS_OK with *out
 * (iam_strv_free) or an error. */
struct iam_strv;
int obj_buckets_visible(struct obj_store *st, struct http_req *r, const struct pol_principal *p,
                        struct iam_strv *out);

/* ---- lifecycle (objstore/lc_run.c; the rules: objstore/lc.h) ---- */

/* What one pass did: buckets with a configuration walked, versions looked at, current versions
 * expired, noncurrent versions removed, expired delete markers removed, uploads aborted,
 * actions skipped (raced with a request, or refused: a protected version) and failed. */
struct obj_lc_counts {
    uint64_t buckets, scanned, expired, noncurrent, markers, aborted, skipped, errors;
};
/* One pass over every bucket with a lifecycle configuration, its rules evaluated as of now
 * (seconds since the epoch), synchronously; counts into *out (logged, and added to /metrics).
 * Passes run one at a time. TS_OK or the store's error. */
int obj_lifecycle_run(struct obj_store *st, int64_t now, struct obj_lc_counts *out);
/* The periodic task: a thread that runs a pass as of the server's clock every interval
 * seconds (the first one interval after the start); interval <= 0: none (*out NULL).
 * obj_lifecycle_stop ends it promptly (between two actions) and frees it; NULL is a no-op. */
struct obj_lc_task;
int obj_lifecycle_start(struct obj_store *st, long interval, struct obj_lc_task **out);
void obj_lifecycle_stop(struct obj_lc_task *t);

#endif
