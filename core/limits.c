/* limits.c -- per-source-IP token buckets (see limits.h). */
#include "core/limits.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cfg.h"
#include "core/metrics.h"

#define KEY_LEN 17 /* family tag + up to 16 bytes */
#define PROBE 8    /* slots looked at per lookup */

struct slot {
    uint8_t key[KEY_LEN]; /* key[0] == 0: free */
    double tokens;
    uint64_t last_us;
};

struct rate_limiter {
    pthread_mutex_t mu;
    double rate, burst;
    struct slot slots[LIMITS_SLOTS];
};

struct rate_limiter *ratelimit_new(double rate, double burst)
{
    struct rate_limiter *rl;
    if (!(rate > 0) || !(burst > 0))
        return NULL;
    rl = calloc(1, sizeof *rl);
    if (rl == NULL)
        return NULL;
    pthread_mutex_init(&rl->mu, NULL);
    rl->rate = rate;
    rl->burst = burst;
    return rl;
}

void ratelimit_free(struct rate_limiter *rl)
{
    if (rl == NULL)
        return;
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

/* The binary key of a source: 4 for IPv4 (and IPv4-mapped IPv6), 6 + the /64 for IPv6,
 * 't' + a hash of the text for anything else (unix sockets, tests). */
static void make_key(const char *ip, uint8_t key[KEY_LEN])
{
    struct in_addr a4;
    struct in6_addr a6;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    memset(key, 0, KEY_LEN);
    if (ip != NULL && inet_pton(AF_INET, ip, &a4) == 1) {
        key[0] = 4;
        memcpy(key + 1, &a4, 4);
    } else if (ip != NULL && inet_pton(AF_INET6, ip, &a6) == 1) {
        if (memcmp(a6.s6_addr, mapped, 12) == 0) {
            key[0] = 4;
            memcpy(key + 1, a6.s6_addr + 12, 4);
        } else {
            key[0] = 6;
            memcpy(key + 1, a6.s6_addr, 8);
        }
    } else {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (const char *p = ip ? ip : ""; *p; p++)
            h = (h ^ (uint8_t)*p) * 1099511628211ULL;
        key[0] = 't';
        memcpy(key + 1, &h, sizeof h);
    }
}

static size_t key_hash(const uint8_t key[KEY_LEN])
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < KEY_LEN; i++)
        h = (h ^ key[i]) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

bool ratelimit_allow(struct rate_limiter *rl, const char *ip, uint64_t now_us)
{
    uint8_t key[KEY_LEN];
    struct slot *s = NULL, *free_s = NULL, *oldest = NULL;
    bool ok;

    if (rl == NULL)
        return true;
    make_key(ip, key);
    size_t h = key_hash(key);
    pthread_mutex_lock(&rl->mu);
    for (size_t i = 0; i < PROBE && s == NULL; i++) {
        struct slot *c = &rl->slots[(h + i) % LIMITS_SLOTS];
        if (c->key[0] == 0) {
            if (free_s == NULL)
                free_s = c;
        } else if (memcmp(c->key, key, KEY_LEN) == 0) {
            s = c;
        } else if (oldest == NULL || c->last_us < oldest->last_us) {
            oldest = c;
        }
    }
    if (s == NULL) { /* new source: a free slot, else the one idle the longest */
        s = free_s != NULL ? free_s : oldest;
        memcpy(s->key, key, KEY_LEN);
        s->tokens = rl->burst;
        s->last_us = now_us;
    }
    if (now_us > s->last_us) {
        s->tokens += (double)(now_us - s->last_us) * rl->rate / 1e6;
        if (s->tokens > rl->burst)
            s->tokens = rl->burst;
        s->last_us = now_us;
    }
    ok = s->tokens >= 1.0;
    if (ok)
        s->tokens -= 1.0;
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

int ratelimit_parse(const char *spec, double *rate, double *burst)
{
    char *end;
    double r, b;

    if (spec == NULL)
        return -1;
    if (strcmp(spec, "off") == 0 || strcmp(spec, "0") == 0) {
        *rate = 0;
        *burst = 0;
        return 0;
    }
    errno = 0;
    r = strtod(spec, &end);
    if (errno != 0 || end == spec || !isfinite(r) || r <= 0 || r > 1e6)
        return -1;
    if (*end == '\0') {
        b = r * 2 < 1 ? 1 : r * 2;
    } else if (*end == ':') {
        const char *bs = end + 1;
        b = strtod(bs, &end);
        if (errno != 0 || end == bs || *end != '\0' || !isfinite(b) || b < 1 || b > 1e7)
            return -1;
    } else {
        return -1;
    }
    *rate = r;
    *burst = b;
    return 0;
}

static pthread_once_t sts_once = PTHREAD_ONCE_INIT;
static struct rate_limiter *sts_rl;

static void sts_init(void)
{
    double rate = LIMITS_STS_RATE_DEFAULT, burst = LIMITS_STS_BURST_DEFAULT;
    if (ratelimit_parse(cfg_str(CFG_STS_RATE_LIMIT), &rate, &burst) != 0) {
        rate = LIMITS_STS_RATE_DEFAULT; /* refused at start-up by cfg_load */
        burst = LIMITS_STS_BURST_DEFAULT;
    }
    sts_rl = rate > 0 ? ratelimit_new(rate, burst) : NULL;
}

bool limits_sts_allow(const char *ip)
{
    struct timespec ts;
    pthread_once(&sts_once, sts_init);
    if (sts_rl == NULL)
        return true;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ratelimit_allow(sts_rl, ip, (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000))
        return true;
    metrics_inc("tessera_sts_throttled_total",
                "Unauthenticated STS requests refused by the per-IP rate limit.", NULL, 1);
    return false;
}
