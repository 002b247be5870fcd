/* limits.h -- per-source-IP rate limiting (token buckets), for the unauthenticated STS
 * logins (AssumeRoleWithWebIdentity, ...ClientGrants, ...LDAPIdentity): each one costs the
 * server an upstream call (JWKS, LDAP bind) and lets a client guess passwords, so a source
 * address gets `rate` requests per second with bursts of `burst`.
 *
 * Addresses are keyed in binary: an IPv4 address (also IPv4-mapped IPv6) by its 32 bits, an
 * IPv6 address by its /64 (one customer network), so an attacker cannot multiply the budget
 * by rotating addresses inside one IPv6 subnet. The table has a fixed number of slots
 * (memory is bounded whatever the number of sources); when full, the entry idle the longest
 * is reused -- its bucket had refilled anyway, unless the table is flooded, in which case a
 * reused source starts again with a full burst (documented in docs/SECURITY.md).
 *
 * Thread-safe (one mutex per table; the critical section is a few dozen instructions).
 *
 * @test tests/unit/core/test_limits.c, tests/integration/test_limits.py
 */
#ifndef TS_LIMITS_H
#define TS_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIMITS_STS_RATE_DEFAULT 10.0  /* requests per second per source */
#define LIMITS_STS_BURST_DEFAULT 20.0 /* bucket size */
#define LIMITS_SLOTS 4096             /* tracked sources per table */

struct rate_limiter;

/* A limiter allowing rate tokens per second up to burst. NULL on OOM or rate/burst <= 0. */
struct rate_limiter *ratelimit_new(double rate, double burst);
void ratelimit_free(struct rate_limiter *rl); /* NULL is a no-op */

/* Takes one token for source ip (textual IPv4/IPv6; anything else is keyed by its text) at
 * monotonic time now_us. Returns true when allowed. rl NULL allows everything. */
bool ratelimit_allow(struct rate_limiter *rl, const char *ip, uint64_t now_us);

/* Parses a TESSERA_STS_RATE_LIMIT value: "RATE" (burst = 2 x RATE), "RATE:BURST", or
 * "off"/"0" (no limit: *rate = 0). RATE and BURST are positive decimals (RATE up to 1e6,
 * BURST >= 1). Returns 0, or -1 when malformed. */
int ratelimit_parse(const char *spec, double *rate, double *burst);

/* The process-wide limiter of the unauthenticated STS actions, configured once from
 * TESSERA_STS_RATE_LIMIT (default 10 per second, burst 20). Returns true when ip may make
 * one more such request now. A malformed setting is refused at start by cfg_load. */
bool limits_sts_allow(const char *ip);

#endif
