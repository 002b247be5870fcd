/* probe.c -- whether the directory answers (tldap_probe, for the /health/backends check): a
 * lookup connection (opened and bound as the lookup account when none is idle) reads the root
 * DSE. One probe at a time; its result serves TLDAP_PROBE_CACHE seconds, so that anonymous
 * health checks cannot make the server hammer the directory.
 */
#include <pthread.h>
#include <time.h>

#include "core/log.h"
#include "ldap/tldap_int.h"

#define TLDAP_PROBE_CACHE 2 /* seconds a probe's result is reused */

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;

static int root_dse_fn(struct tldap *l, LDAP *ld, const struct tldap_deadline *d, void *arg)
{
    char *attrs[] = {"1.1", NULL};
    LDAPMessage *res = NULL;
    struct timeval tv;
    long ms;
    int lrc;

    (void)l;
    (void)arg;
    if ((lrc = tldap_conn_timeouts(ld, d)) != LDAP_SUCCESS)
        return lrc;
    ms = tldap_deadline_left_ms(d);
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    lrc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, &tv,
                            1, &res);
    ldap_msgfree(res);
    /* A directory that refuses to show its root DSE still answered. */
    if (lrc == LDAP_INSUFFICIENT_ACCESS || lrc == LDAP_NO_SUCH_OBJECT)
        lrc = LDAP_SUCCESS;
    return lrc;
}

static time_t mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

bool tldap_probe(struct tldap *l)
{
    struct tldap_deadline d;
    bool bind_failed = false, up;
    time_t now;
    int lrc;

    pthread_mutex_lock(&probe_lock);
    now = mono_seconds();
    if (l->probe_at != 0 && now - l->probe_at < TLDAP_PROBE_CACHE) {
        up = l->probe_ok;
        pthread_mutex_unlock(&probe_lock);
        return up;
    }
    tldap_deadline_init(&d, l->timeout);
    lrc = tldap_with_lookup(l, &d, root_dse_fn, NULL, &bind_failed);
    up = lrc == LDAP_SUCCESS;
    if (!up)
        log_kv(LOG_WARN, "ldap.probe", "msg",
               bind_failed ? "the lookup account could not bind" : "the directory did not answer",
               "ldap_error", ldap_err2string(lrc), NULL);
    l->probe_ok = up;
    l->probe_at = mono_seconds();
    pthread_mutex_unlock(&probe_lock);
    return up;
}
