/* etcd.h -- a small client for etcd's v3 JSON gateway (libcurl + jansson; no gRPC stack).
 *
 * Requests are POSTs of one JSON object to /v3/kv/range, /v3/kv/txn, /v3/watch and
 * /v3/auth/authenticate. In that JSON, keys and values are base64 and 64-bit integers are
 * strings (etcd_i64 reads either form). The client holds a list of endpoints and sends each
 * request to the one that worked last, failing over to the next on a connection error, a
 * timeout or a 5xx answer; with a user name it authenticates, sends the token in the
 * Authorization header and authenticates again when etcd says the token is invalid.
 *
 * Timeouts are bounded (connect 1 s, request 3 s by default) so that an unreachable cluster or
 * one without quorum turns into TS_E_SERVICE_UNAVAILABLE within a few seconds per endpoint.
 * Nothing here logs a password, a token, a key or a value. Thread-safe: any number of calls
 * may run at once (one watch at a time per client).
 */
#ifndef TS_ETCD_H
#define TS_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct etcd;

struct etcd_config {
    const char *endpoints;   /* comma-separated http:// or https:// URLs */
    const char *ca_file;     /* PEM bundle trusted besides the system store, or NULL */
    const char *client_cert; /* PEM client certificate, or NULL */
    const char *client_key;  /* its PEM key, or NULL */
    const char *username;    /* NULL or "": no authentication */
    const char *password;
    long connect_ms, timeout_ms; /* 0: 1000 and 3000 */
};

/* Checks the endpoint list (no network). TS_OK with *out, or TS_E_INVALID_ARGUMENT (message on
 * stderr) / TS_E_INTERNAL. */
int etcd_new(const struct etcd_config *cfg, struct etcd **out);
void etcd_free(struct etcd *c);
/* The endpoint requests go to now (copied into out). */
void etcd_endpoint(struct etcd *c, char *out, size_t n);

/* POSTs body (not consumed) to path. TS_OK with *resp (the parsed answer; json_decref it);
 * TS_E_SERVICE_UNAVAILABLE when no endpoint answered in time (or every one said 5xx); else
 * TS_E_INTERNAL when etcd refused the request (its message is logged). op names the request
 * in metrics and logs ("range", "txn"...). */
int etcd_call(struct etcd *c, const char *op, const char *path, json_t *body, json_t **resp);

/* JSON helpers. etcd_b64 gives a new JSON string (base64 of p[0..n)), or NULL on OOM.
 * etcd_unb64 decodes a base64 JSON string into *out (malloc'ed, NUL-terminated past *len):
 * 0, or -1 (absent or malformed: an absent value is "" in etcd's JSON, returned as len 0). */
json_t *etcd_b64(const void *p, size_t n);
int etcd_unb64(json_t *s, char **out, size_t *len);
/* An int64 member given as a JSON string or number; 0 when absent or malformed. */
int64_t etcd_i64(json_t *obj, const char *member);
/* The answer's header.revision. */
int64_t etcd_header_rev(json_t *resp);

/* Range request body: [key, end) (end NULL: key alone), at revision rev (0: current),
 * limit (0: none). Linearizable. */
json_t *etcd_range_req(const char *key, size_t klen, const char *end, size_t elen, int64_t rev,
                       int64_t limit);
/* Txn parts. A compare of target MOD on [key, end) (end NULL: key alone) with result
 * "EQUAL" / "LESS" / "GREATER"; a put; a delete of [key, end). NULL on OOM. */
json_t *etcd_cmp_mod(const char *key, size_t klen, const char *end, size_t elen, const char *result,
                     int64_t rev);
json_t *etcd_op_put(const char *key, size_t klen, const void *val, size_t vlen);
json_t *etcd_op_del(const char *key, size_t klen, const char *end, size_t elen);
json_t *etcd_op_range(json_t *range_req);

/* The watch. etcd_watch streams POST /v3/watch (create_request on [key, end) from start_rev)
 * and calls on_result for every result object it receives (the created confirmation, events);
 * returns when on_result returns non-zero (that value), when stop(arg) is true (TS_OK; polled
 * about every 100 ms), or TS_E_SERVICE_UNAVAILABLE when the stream broke or etcd answered an
 * error (cancel or compaction is for on_result to see: members "canceled",
 * "compact_revision"). */
struct etcd_watch_cb {
    int (*on_result)(json_t *result, void *arg);
    bool (*stop)(void *arg);
    void *arg;
};
int etcd_watch(struct etcd *c, const char *key, size_t klen, const char *end, size_t elen,
               int64_t start_rev, const struct etcd_watch_cb *cb);

/* The end of the range of every key that starts with p[0..n) (etcd's prefix end): a malloc'ed
 * copy with the last byte below 0xff incremented (*elen set), or NULL on OOM. */
char *etcd_prefix_end(const char *p, size_t n, size_t *elen);

#endif
