/* metrics.h -- Prometheus counters and histograms, served at /metrics in the text format.
 *
 * The request path only touches atomics: per route and status code a counter, per route a
 * latency histogram, bytes in/out. Other modules record named events (STS issuances and
 * refusals, JWKS refreshes, LDAP errors) with metrics_inc(), which takes a mutex: call it
 * for events, not per byte. All functions are thread-safe.
 */
#ifndef TS_METRICS_H
#define TS_METRICS_H

#include <stdint.h>

#include "core/buf.h"

/* Records one finished request of route index ridx (0..15) with its status and duration. */
void metrics_request(int ridx, const char *route, int status, uint64_t duration_us,
                     uint64_t bytes_in, uint64_t bytes_out);
/* Adds v to the counter `name{labels}`; labels is the inside of the braces, already escaped
 * ("backend=\"ldap\",reason=\"denied\""), or NULL. name must be a static string. */
void metrics_inc(const char *name, const char *help, const char *labels, uint64_t v);
/* Sets the gauge `name{labels}`. */
void metrics_set(const char *name, const char *help, const char *labels, int64_t v);
/* Writes everything in the Prometheus text exposition format. */
void metrics_write(struct buf *b);

#endif
