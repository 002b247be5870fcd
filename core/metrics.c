/* metrics.c -- Prometheus counters. */
#include "core/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define M_ROUTES 16
#define M_STATUS 600
#define M_NAMED 256

static const uint64_t m_bounds_us[] = {100,   250,   500,    1000,   2500,    5000,   10000,
                                       25000, 50000, 100000, 250000, 1000000, 5000000};
#define M_BUCKETS (sizeof m_bounds_us / sizeof m_bounds_us[0])

static struct {
    const char *_Atomic name;
    atomic_uint_fast64_t by_status[M_STATUS];
    atomic_uint_fast64_t hist[M_BUCKETS + 1];
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t bytes_in, bytes_out;
} m_routes[M_ROUTES];

struct m_named {
    const char *name, *help;
    char *labels;
    bool gauge;
    int64_t value;
};

static pthread_mutex_t m_lock = PTHREAD_MUTEX_INITIALIZER;
static struct m_named m_named[M_NAMED];
static size_t m_nnamed;

void metrics_request(int ridx, const char *route, int status, uint64_t duration_us,
                     uint64_t bytes_in, uint64_t bytes_out)
{
    if (ridx < 0 || ridx >= M_ROUTES)
        return;
    if (atomic_load(&m_routes[ridx].name) == NULL)
        atomic_store(&m_routes[ridx].name, route);
    if (status > 0 && status < M_STATUS)
        atomic_fetch_add(&m_routes[ridx].by_status[status], 1);
    size_t b = 0;
    while (b < M_BUCKETS && duration_us > m_bounds_us[b])
        b++;
    atomic_fetch_add(&m_routes[ridx].hist[b], 1);
    atomic_fetch_add(&m_routes[ridx].sum_us, duration_us);
    atomic_fetch_add(&m_routes[ridx].count, 1);
    atomic_fetch_add(&m_routes[ridx].bytes_in, bytes_in);
    atomic_fetch_add(&m_routes[ridx].bytes_out, bytes_out);
}

static struct m_named *m_find(const char *name, const char *help, const char *labels, bool gauge)
{
    for (size_t i = 0; i < m_nnamed; i++)
        if (strcmp(m_named[i].name, name) == 0 &&
            strcmp(m_named[i].labels, labels ? labels : "") == 0)
            return &m_named[i];
    if (m_nnamed == M_NAMED)
        return NULL;
    char *l = strdup(labels ? labels : "");
    if (l == NULL)
        return NULL;
    struct m_named *n = &m_named[m_nnamed++];
    n->name = name;
    n->help = help;
    n->labels = l;
    n->gauge = gauge;
    n->value = 0;
    return n;
}

void metrics_inc(const char *name, const char *help, const char *labels, uint64_t v)
{
    pthread_mutex_lock(&m_lock);
    struct m_named *n = m_find(name, help, labels, false);
    if (n)
        n->value += (int64_t)v;
    pthread_mutex_unlock(&m_lock);
}

void metrics_set(const char *name, const char *help, const char *labels, int64_t v)
{
    pthread_mutex_lock(&m_lock);
    struct m_named *n = m_find(name, help, labels, true);
    if (n)
        n->value = v;
    pthread_mutex_unlock(&m_lock);
}

/* The samples of metric for route r (m_routes[r], named name). */
typedef void route_fn(struct buf *b, const char *metric, int r, const char *name);

static void route_status(struct buf *b, const char *metric, int r, const char *name)
{
    for (int s = 0; s < M_STATUS; s++) {
        uint64_t v = atomic_load(&m_routes[r].by_status[s]);
        if (v)
            buf_addf(b, "%s{api=\"%s\",status=\"%d\"} %llu\n", metric, name, s,
                     (unsigned long long)v);
    }
}

static void route_latency(struct buf *b, const char *metric, int r, const char *name)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= M_BUCKETS; i++) {
        cum += atomic_load(&m_routes[r].hist[i]);
        if (i < M_BUCKETS)
            buf_addf(b, "%s_bucket{api=\"%s\",le=\"%g\"} %llu\n", metric, name,
                     (double)m_bounds_us[i] / 1e6, (unsigned long long)cum);
        else
            buf_addf(b, "%s_bucket{api=\"%s\",le=\"+Inf\"} %llu\n", metric, name,
                     (unsigned long long)cum);
    }
    buf_addf(b, "%s_sum{api=\"%s\"} %.6f\n", metric, name,
             (double)atomic_load(&m_routes[r].sum_us) / 1e6);
    buf_addf(b, "%s_count{api=\"%s\"} %llu\n", metric, name,
             (unsigned long long)atomic_load(&m_routes[r].count));
}

static void route_bytes_in(struct buf *b, const char *metric, int r, const char *name)
{
    buf_addf(b, "%s{api=\"%s\"} %llu\n", metric, name,
             (unsigned long long)atomic_load(&m_routes[r].bytes_in));
}

static void route_bytes_out(struct buf *b, const char *metric, int r, const char *name)
{
    buf_addf(b, "%s{api=\"%s\"} %llu\n", metric, name,
             (unsigned long long)atomic_load(&m_routes[r].bytes_out));
}

/* The families with a sample set per route. */
static const struct route_family {
    const char *metric, *help, *type;
    route_fn *write;
} route_families[] = {
    {"tessera_requests_total", "HTTP requests by route and status.", "counter", route_status},
    {"tessera_request_duration_seconds", "Request latency by route.", "histogram", route_latency},
    {"tessera_bytes_received_total", "Request body bytes received.", "counter", route_bytes_in},
    {"tessera_bytes_sent_total", "Response body bytes sent.", "counter", route_bytes_out},
};

void metrics_write(struct buf *b)
{
    for (size_t f = 0; f < sizeof route_families / sizeof *route_families; f++) {
        const struct route_family *fam = &route_families[f];
        buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", fam->metric, fam->help, fam->metric, fam->type);
        for (int r = 0; r < M_ROUTES; r++) {
            const char *name = atomic_load(&m_routes[r].name);
            if (name != NULL)
                fam->write(b, fam->metric, r, name);
        }
    }
    pthread_mutex_lock(&m_lock);
    /* One block per family, in the order families first appeared: HELP and TYPE, then every
     * labelled series of that name (they were created in any order). */
    for (size_t i = 0; i < m_nnamed; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(m_named[j].name, m_named[i].name) == 0;
        if (seen)
            continue;
        buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", m_named[i].name,
                 m_named[i].help ? m_named[i].help : "", m_named[i].name,
                 m_named[i].gauge ? "gauge" : "counter");
        for (size_t k = i; k < m_nnamed; k++) {
            const struct m_named *n = &m_named[k];
            if (strcmp(n->name, m_named[i].name) != 0)
                continue;
            if (n->labels[0])
                buf_addf(b, "%s{%s} %lld\n", n->name, n->labels, (long long)n->value);
            else
                buf_addf(b, "%s %lld\n", n->name, (long long)n->value);
        }
    }
    pthread_mutex_unlock(&m_lock);
}
