/* gw.h -- the gateway's upstream (objstore/gateway.c): requests to an existing S3 server
 * (AWS S3, Ceph RGW, MinIO, another tessera), signed with SigV4 by the upstream's own keys,
 * with bodies streamed both ways through bounded buffers.
 *
 * One struct gw per upstream: one libcurl multi handle (its connection cache is the
 * per-upstream pool: connections, DNS answers and TLS sessions are reused) driven by one
 * thread of its own. A struct gw_xfer is one request to it. The HTTP side (core/http) and
 * the curl side meet in the transfer's two rings of GW_RING bytes:
 *
 *   request body:  sink (HTTP thread) ─► ring ─► curl read callback (gateway thread)
 *                  full: the client's connection is suspended (http_req_suspend) until the
 *                  ring drained to half; empty: curl's send is paused until data comes.
 *   response body: curl write callback ─► ring ─► stream reader (HTTP thread)
 *                  full: curl's receive is paused; empty: the client's connection is
 *                  suspended until data comes.
 *
 * Integrity: the last byte of a streamed request body is held back until the request's own
 * checks passed (gw_xfer_verified: SigV4 payload hash, aws-chunked signatures, checksums);
 * when they fail the transfer is aborted, so the upstream never sees a complete body and
 * commits nothing. Nothing here waits on an HTTP thread; gw_xfer_wait and gw_xfer_read_all
 * block, for the route's worker threads.
 */
#ifndef TS_GW_H
#define TS_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/http.h"

#define GW_RING (512u << 10)           /* bytes buffered per direction and transfer */
#define GW_MAX_RESP_HEADERS 64         /* response headers kept (the rest is dropped) */
#define GW_MAX_RESP_HEADER_BYTES 16384 /* bytes of response headers kept */

struct gw;
struct gw_xfer;
struct iam_store;

struct gw_config {
    const char *url;        /* http(s)://host[:port][/base] */
    const char *region;     /* signing region */
    const char *access_key; /* the upstream's keys (kept in memory only) */
    const char *secret_key;
    long timeout_s;        /* stall timeout; connect timeout min(10, it) */
    const char *certs_dir; /* CERTS_DIR/CAs/ are trusted too; may be NULL */
    const char *ca_file;   /* TESSERA_CA_FILE; may be NULL */
    struct iam_store *iam; /* where bucket policies live (s3_gw.c) */
};

/* Opens the upstream (no request is made yet) and starts its thread. TS_OK, or an error with
 * err filled (an unusable URL). */
int gw_open(const struct gw_config *cfg, struct gw **out, char *err, size_t errlen);
/* Aborts what is still running, stops the thread, frees. NULL is a no-op. */
void gw_close(struct gw *g);
/* The upstream's URL (no credentials: they never appear in it), for messages. */
const char *gw_url(const struct gw *g);
struct iam_store *gw_iam(const struct gw *g);
/* Masks every occurrence of the upstream's access key in text (a relayed message). */
void gw_scrub(const struct gw *g, char *text);

/* ---- one request ---- */

/* A request for r: method, the upstream path (percent-encoded, from "/"), the query (raw,
 * percent-encoded, without '?'). NULL when out of memory. The caller holds one reference. */
struct gw_xfer *gw_xfer_new(struct gw *g, struct http_req *r, const char *method, const char *path,
                            const char *query);
/* Adds a request header (name in lower case; signed). TS_OK or TS_E_INTERNAL. */
int gw_xfer_header(struct gw_xfer *x, const char *name, const char *value);
/* The body: len bytes pushed later with gw_xfer_push (streamed), or data (copied). The
 * payload hash signed (hex SHA-256, UNSIGNED-PAYLOAD). Call once, before gw_xfer_submit;
 * no call: no body. */
int gw_xfer_body_stream(struct gw_xfer *x, uint64_t len, const char *payload_hash);
int gw_xfer_body_data(struct gw_xfer *x, const void *data, size_t len);
/* Signs the request with the upstream's keys and starts it. TS_OK or TS_E_INTERNAL. */
int gw_xfer_submit(struct gw_xfer *x);
/* The sink of a streamed body (an http_sink's write): TS_OK or an error. */
int gw_xfer_push(void *x, const uint8_t *p, size_t n);
/* The streamed body passed every check: its last byte may go. */
void gw_xfer_verified(struct gw_xfer *x);

/* The upstream's answer as far as it came. */
struct gw_resp {
    long status;             /* 0: no answer */
    const struct http_kv *h; /* response headers, names as received */
    size_t nh;
    int err;       /* TS_OK, or why there is no answer (TS_E_BAD_GATEWAY...) */
    char msg[400]; /* with err: a message naming the upstream */
};

/* Calls fn(arg) once when the answer is ready to relay -- the status and headers of a success
 * (2xx, 304), or the whole of any other answer, or the failure -- on the gateway thread, or
 * at once on the caller's when it is ready already. fn may then call gw_xfer_wait and
 * gw_xfer_read_all, which do not block, and reply. Not called after gw_xfer_detach. */
void gw_xfer_on_answer(struct gw_xfer *x, void (*fn)(void *arg), void *arg);
/* Blocks until the upstream's status and headers came, or the transfer failed; fills *out
 * (valid until gw_xfer_release). For worker threads only. */
void gw_xfer_wait(struct gw_xfer *x, struct gw_resp *out);
/* Blocks until the whole body came; appends it to out (at most max bytes: the rest is
 * dropped, *truncated set). TS_OK, or the transfer's error (msg filled as in gw_resp). */
int gw_xfer_read_all(struct gw_xfer *x, struct buf *out, size_t max, char *msg, size_t msglen);
/* The whole body when the transfer is complete, all of it (len bytes, len <= max) still
 * buffered: true and *out a malloc'd copy (NULL when len is 0), so that a small answer is
 * sent in one piece. Else false: stream it. */
bool gw_xfer_take(struct gw_xfer *x, uint64_t len, size_t max, void **out);
/* The response body for http_reply_stream (ctx is the transfer; free_ctx gw_xfer_release):
 * takes a reference. */
void gw_xfer_ref(struct gw_xfer *x);
long gw_xfer_read(void *x, char *buf, size_t max);
/* Drops a reference; the last one frees. */
void gw_xfer_release(void *x);
/* The request is done with (route cleanup): forget r (it is about to be freed) and abort
 * the transfer if it is still running, then drop the caller's reference. */
void gw_xfer_detach(struct gw_xfer *x);

#endif
