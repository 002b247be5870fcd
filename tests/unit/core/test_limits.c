/* test_limits.c -- core/limits.c: token-bucket arithmetic, per-source separation, IPv6 /64
 * grouping, IPv4-mapped addresses, a full table, and the TESSERA_STS_RATE_LIMIT syntax. */
#include <stdio.h>
#include <stdlib.h>

#include "core/limits.h"
#include "tests/harness/t.h"

static int take(struct rate_limiter *rl, const char *ip, uint64_t now, int n)
{
    int allowed = 0;
    for (int i = 0; i < n; i++)
        allowed += ratelimit_allow(rl, ip, now);
    return allowed;
}

int main(void)
{
    struct rate_limiter *rl = ratelimit_new(10, 20);
    double r, b;

    ok(rl != NULL, "limiter");
    is_int(take(rl, "192.0.2.1", 1000000, 50), 20, "a burst of 20 at one instant");
    is_int(take(rl, "192.0.2.1", 1100000, 5), 1, "0.1 s later: one token refilled");
    is_int(take(rl, "192.0.2.1", 2100000, 50), 10, "1 s later: ten");
    is_int(take(rl, "192.0.2.1", 100000000, 50), 20, "long idle: capped at the burst");
    is_int(take(rl, "192.0.2.2", 100000000, 50), 20, "another address has its own bucket");
    is_int(take(rl, "2001:db8:1:2::1", 5000000, 20), 20, "IPv6 burst");
    is_int(take(rl, "2001:db8:1:2:ffff::9", 5000000, 5), 0, "same /64: same bucket");
    is_int(take(rl, "2001:db8:1:3::1", 5000000, 5), 5, "another /64: another bucket");
    is_int(take(rl, "198.51.100.7", 5000000, 20), 20, "IPv4 burst");
    is_int(take(rl, "::ffff:198.51.100.7", 5000000, 5), 0, "IPv4-mapped is the same source");
    is_int(take(rl, "not-an-ip", 5000000, 25), 20, "other text is keyed by itself");
    is_int(take(rl, NULL, 5000000, 1), 1, "NULL source");
    ok(ratelimit_allow(NULL, "192.0.2.1", 0), "no limiter allows");
    ratelimit_free(rl);

    /* Far more sources than slots: bounded memory, and each new source still gets its
     * burst (the idle-longest entry is reused). */
    rl = ratelimit_new(1, 2);
    int all = 0;
    for (int i = 0; i < 3 * LIMITS_SLOTS; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        all += ratelimit_allow(rl, ip, 1000 + (uint64_t)i);
    }
    is_int(all, 3 * LIMITS_SLOTS, "a flood of new sources each gets its first request");
    is_int(take(rl, "10.0.0.200", 999999999, 3), 2, "an early source, evicted, starts full");
    ratelimit_free(rl);

    ok(ratelimit_new(0, 1) == NULL && ratelimit_new(1, 0) == NULL, "rate and burst positive");
    ok(ratelimit_parse("10", &r, &b) == 0 && r == 10 && b == 20, "RATE: burst doubles");
    ok(ratelimit_parse("2.5:7", &r, &b) == 0 && r == 2.5 && b == 7, "RATE:BURST");
    ok(ratelimit_parse("0.2", &r, &b) == 0 && b == 1, "a slow rate still bursts 1");
    ok(ratelimit_parse("off", &r, &b) == 0 && r == 0, "off");
    ok(ratelimit_parse("0", &r, &b) == 0 && r == 0, "0 is off");
    ok(ratelimit_parse("", &r, &b) != 0, "empty");
    ok(ratelimit_parse("-1", &r, &b) != 0, "negative");
    ok(ratelimit_parse("10:0", &r, &b) != 0, "burst below 1");
    ok(ratelimit_parse("10/s", &r, &b) != 0, "junk after the rate");
    ok(ratelimit_parse("10:5x", &r, &b) != 0, "junk after the burst");
    ok(ratelimit_parse("nan", &r, &b) != 0, "nan");
    ok(ratelimit_parse("1e9", &r, &b) != 0, "absurd rate");
    ok(ratelimit_parse(NULL, &r, &b) != 0, "NULL");

    printf("%d/%d checks passed\n", t_run - t_failed, t_run);
    return t_failed;
}
