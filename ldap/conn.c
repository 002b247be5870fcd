/* conn.c -- LDAP connections over libldap: LDAPS or StartTLS with certificate verification
 * (plain LDAP only when configured insecure), timeouts taken from one deadline per
 * operation sequence, one TLS context shared by all connections, and two small pools (lookup
 * connections bound as the lookup account; connections that only check user passwords) that
 * are re-established transparently after the directory restarts. See ldap/tldap.h.
 */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>

#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "ldap/tldap_int.h"

void tldap_deadline_init(struct tldap_deadline *d, long seconds)
{
    clock_gettime(CLOCK_MONOTONIC, &d->at);
    d->at.tv_sec += seconds;
}

long tldap_deadline_left_ms(const struct tldap_deadline *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(d->at.tv_sec - now.tv_sec) * 1000 + (d->at.tv_nsec - now.tv_nsec) / 1000000;
}

bool tldap_conn_error(int lrc)
{
    return lrc == LDAP_SERVER_DOWN || lrc == LDAP_TIMEOUT || lrc == LDAP_CONNECT_ERROR ||
           lrc == LDAP_UNAVAILABLE || lrc == LDAP_BUSY || lrc == LDAP_TIMELIMIT_EXCEEDED ||
           lrc == LDAP_LOCAL_ERROR || lrc == LDAP_ENCODING_ERROR || lrc == LDAP_DECODING_ERROR;
}

/* libldap bounds connect() by LDAP_OPT_NETWORK_TIMEOUT and each request by LDAP_OPT_TIMEOUT,
 * but performs the TLS handshake (LDAPS and StartTLS) with blocking reads that nothing
 * bounds: a directory that accepts connections but never answers would hold the worker
 * forever. (A socket timeout does not help: GnuTLS then retries the read in a busy loop.)
 * So a connect callback pushes a thin sockbuf layer just above the TCP one on every new
 * connection: it polls the socket until the deadline of the current operation before each
 * read and write, and fails with ETIMEDOUT when it passes, which ends the handshake (or
 * request) with an error. The deadline is a per-thread copy because libldap opens
 * connections lazily, inside whichever call comes first; tldap_conn_timeouts sets it before
 * every call. */
static _Thread_local struct timespec cur_deadline;
static _Thread_local bool have_deadline;

static long io_left_ms(const struct tldap *l)
{
    struct tldap_deadline d;
    if (!have_deadline)
        return l->timeout * 1000;
    d.at = cur_deadline;
    return tldap_deadline_left_ms(&d);
}

static int io_wait(Sockbuf_IO_Desc *sbiod, short events)
{
    const struct tldap *l = sbiod->sbiod_pvt;
    ber_socket_t fd = -1;
    struct pollfd pfd;
    int n;

    if (ber_sockbuf_ctrl(sbiod->sbiod_sb, LBER_SB_OPT_GET_FD, &fd) != 1 || fd < 0)
        return 0; /* let the layer below report the problem */
    pfd.fd = fd;
    pfd.events = events;
    do {
        long ms = io_left_ms(l);
        if (ms <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        pfd.revents = 0;
        n = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return n < 0 ? -1 : 0;
}

static int io_setup(Sockbuf_IO_Desc *sbiod, void *arg)
{
    sbiod->sbiod_pvt = arg;
    return 0;
}

static int io_remove(Sockbuf_IO_Desc *sbiod)
{
    return 0;
}

static int io_ctrl(Sockbuf_IO_Desc *sbiod, int opt, void *arg)
{
    return LBER_SBIOD_CTRL_NEXT(sbiod, opt, arg);
}

static ber_slen_t io_read(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
    /* Bytes a lower layer already buffered are there without waiting. */
    if (LBER_SBIOD_CTRL_NEXT(sbiod, LBER_SB_OPT_DATA_READY, NULL) <= 0 &&
        io_wait(sbiod, POLLIN) != 0)
        return -1;
    return LBER_SBIOD_READ_NEXT(sbiod, buf, len);
}

static ber_slen_t io_write(Sockbuf_IO_Desc *sbiod, void *buf, ber_len_t len)
{
    if (io_wait(sbiod, POLLOUT) != 0)
        return -1;
    return LBER_SBIOD_WRITE_NEXT(sbiod, buf, len);
}

static int io_close(Sockbuf_IO_Desc *sbiod)
{
    return 0;
}

#define DEADLINE_IO_LEVEL ((LBER_SBIOD_LEVEL_PROVIDER + LBER_SBIOD_LEVEL_TRANSPORT) / 2)

static Sockbuf_IO deadline_io = {io_setup, io_remove, io_ctrl, io_read, io_write, io_close};

static int conncb_add(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
                      struct ldap_conncb *ctx)
{
    /* Between the provider layers (TCP, read-ahead: added after this callback) and TLS. */
    return ber_sockbuf_add_io(sb, &deadline_io, DEADLINE_IO_LEVEL, ctx->lc_arg) == 0 ? 0 : -1;
}

static void conncb_del(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx) {}

void tldap_conn_init(struct tldap *l)
{
    l->conncb.lc_add = conncb_add;
    l->conncb.lc_del = conncb_del;
    l->conncb.lc_arg = l;
    /* Every kind exists from the start (value 0). */
    static const char *const kinds[] = {"kind=\"connect\"", "kind=\"tls\"", "kind=\"lookup_bind\"",
                                        "kind=\"timeout\"", "kind=\"connection\""};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        metrics_inc("tessera_ldap_errors_total", "LDAP errors, by kind.", kinds[i], 0);
}

int tldap_conn_timeouts(LDAP *ld, const struct tldap_deadline *d)
{
    long ms = tldap_deadline_left_ms(d);
    struct timeval tv;
    cur_deadline = d->at;
    have_deadline = true;
    if (ms <= 0)
        return LDAP_TIMEOUT;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    if (ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS)
        return LDAP_LOCAL_ERROR;
    return LDAP_SUCCESS;
}

/* libldap exports this but declares it in ldap_pvt.h, which is not installed: it drops one
 * reference to a TLS context (ldap_get_option(LDAP_OPT_X_TLS_CTX) takes one). */
void ldap_pvt_tls_ctx_free(void *ctx);

/* Gives ld the shared TLS context, building it from ld's options on the first connection:
 * building one re-reads the CA bundle, which costs more than the handshake itself. The
 * context holds the CAs, the minimum protocol and the verification mode; the host name is
 * checked per connection (ld's REQUIRE_CERT). Returns an ldap_set_option result. */
static int tls_ctx_set(struct tldap *l, LDAP *ld)
{
    int rc, newctx = 0;
    pthread_mutex_lock(&l->pool_lock);
    if (l->tls_ctx != NULL) {
        rc = ldap_set_option(ld, LDAP_OPT_X_TLS_CTX, l->tls_ctx); /* ld takes a reference */
    } else {
        rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &newctx);
        if (rc == LDAP_OPT_SUCCESS)
            ldap_get_option(ld, LDAP_OPT_X_TLS_CTX, &l->tls_ctx);
    }
    pthread_mutex_unlock(&l->pool_lock);
    return rc;
}

/* ld's TLS options: the configured CAs, TLS 1.2 at least, and verification as configured (the
 * shared context), or (verify false) none, in a context of ld's own: the diagnosis below. */
static int tls_options(struct tldap *l, LDAP *ld, bool verify)
{
    int req = l->skip_verify || !verify ? LDAP_OPT_X_TLS_NEVER : LDAP_OPT_X_TLS_DEMAND;
    int min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, newctx = 0;
    if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &req) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min) != LDAP_OPT_SUCCESS ||
        (l->ca_file != NULL &&
         ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, l->ca_file) != LDAP_OPT_SUCCESS))
        return LDAP_OPT_ERROR;
    return verify ? tls_ctx_set(l, ld) : ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &newctx);
}

static int conn_open(struct tldap *l, const struct tldap_deadline *d, bool verify, LDAP **out)
{
    LDAP *ld = NULL;
    int v3 = LDAP_VERSION3, lrc;

    *out = NULL;
    lrc = ldap_initialize(&ld, l->uri);
    if (lrc != LDAP_SUCCESS)
        return lrc;
    if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &l->conncb) != LDAP_OPT_SUCCESS) {
        lrc = LDAP_LOCAL_ERROR;
        goto fail;
    }
    if (!l->insecure && tls_options(l, ld, verify) != LDAP_OPT_SUCCESS) {
        lrc = LDAP_LOCAL_ERROR;
        goto fail;
    }
    if ((lrc = tldap_conn_timeouts(ld, d)) != LDAP_SUCCESS)
        goto fail;
    if (l->starttls)
        lrc = ldap_start_tls_s(ld, NULL, NULL);
    else if (!l->insecure) /* LDAPS: connect (and handshake) now, not in the first request */
        lrc = ldap_connect(ld);
    if (lrc != LDAP_SUCCESS)
        goto fail;
    *out = ld;
    return LDAP_SUCCESS;
fail:
    ldap_unbind_ext_s(ld, NULL, NULL);
    return lrc;
}

/* libldap reports a certificate it could not verify exactly as a server it could not reach
 * (LDAPS: LDAP_SERVER_DOWN "Can't contact LDAP server"; StartTLS: LDAP_CONNECT_ERROR, with
 * no usable diagnostic message). So when a verified connection fails that way, the same
 * connection is tried once more without verification: when that one succeeds, the server
 * is there and speaks TLS, and its certificate is what failed (TLDAP_TLS_UNTRUSTED). */
static int diagnose(struct tldap *l, const struct tldap_deadline *d, int lrc)
{
    LDAP *probe = NULL;
    if (l->insecure || l->skip_verify || lrc == LDAP_TIMEOUT ||
        (lrc != LDAP_SERVER_DOWN && lrc != LDAP_CONNECT_ERROR) || tldap_deadline_left_ms(d) <= 0)
        return lrc;
    if (conn_open(l, d, false, &probe) != LDAP_SUCCESS)
        return lrc;
    ldap_unbind_ext_s(probe, NULL, NULL);
    return TLDAP_TLS_UNTRUSTED;
}

int tldap_conn_open(struct tldap *l, const struct tldap_deadline *d, LDAP **out)
{
    int lrc = conn_open(l, d, true, out);
    return lrc == LDAP_SUCCESS ? lrc : diagnose(l, d, lrc);
}

const char *tldap_err_string(int lrc)
{
    return lrc == TLDAP_TLS_UNTRUSTED ? "certificate verification failed" : ldap_err2string(lrc);
}

int tldap_conn_bind(LDAP *ld, const struct tldap_deadline *d, const char *dn, const char *pw)
{
    struct berval cred;
    int lrc;

    if (pw == NULL || pw[0] == '\0' || dn == NULL || dn[0] == '\0')
        return LDAP_INVALID_CREDENTIALS; /* would be an unauthenticated (anonymous) bind */
    if ((lrc = tldap_conn_timeouts(ld, d)) != LDAP_SUCCESS)
        return lrc;
    cred.bv_val = (char *)pw;
    cred.bv_len = strlen(pw);
    return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

static void pool_metric(struct tldap *l)
{
    metrics_set("tessera_ldap_pool_idle", "Idle pooled LDAP lookup connections.", NULL,
                (int64_t)l->lookups.n);
}

static LDAP *pool_get(struct tldap *l, struct tldap_pool *p)
{
    LDAP *ld = NULL;
    pthread_mutex_lock(&l->pool_lock);
    if (p->n > 0)
        ld = p->ld[--p->n];
    pool_metric(l);
    pthread_mutex_unlock(&l->pool_lock);
    return ld;
}

static void pool_put(struct tldap *l, struct tldap_pool *p, LDAP *ld)
{
    pthread_mutex_lock(&l->pool_lock);
    if (p->n < TLDAP_POOL_SIZE) {
        p->ld[p->n++] = ld;
        ld = NULL;
    }
    pool_metric(l);
    pthread_mutex_unlock(&l->pool_lock);
    if (ld != NULL)
        ldap_unbind_ext_s(ld, NULL, NULL);
}

void tldap_pool_clear(struct tldap *l)
{
    LDAP *ld;
    while ((ld = pool_get(l, &l->lookups)) != NULL)
        ldap_unbind_ext_s(ld, NULL, NULL);
    while ((ld = pool_get(l, &l->binds)) != NULL)
        ldap_unbind_ext_s(ld, NULL, NULL);
}

void tldap_conn_free(struct tldap *l)
{
    tldap_pool_clear(l);
    ldap_pvt_tls_ctx_free(l->tls_ctx); /* NULL is a no-op */
    l->tls_ctx = NULL;
}

static int open_conn(struct tldap *l, const struct tldap_deadline *d, LDAP **out)
{
    int lrc = tldap_conn_open(l, d, out);
    if (lrc == TLDAP_TLS_UNTRUSTED) {
        log_kv(LOG_WARN, "ldap.connect", "uri", l->uri, "error",
               "the server's TLS certificate could not be verified", "ca_file",
               l->ca_file != NULL ? l->ca_file : "(system store)", "hint",
               "set TESSERA_CA_FILE to the CA that signed the directory's certificate (and use "
               "the host name the certificate names)",
               NULL);
        metrics_inc("tessera_ldap_errors_total", "LDAP errors, by kind.", "kind=\"tls\"", 1);
    } else if (lrc != LDAP_SUCCESS) {
        log_kv(LOG_WARN, "ldap.connect", "uri", l->uri, "error", ldap_err2string(lrc), NULL);
        metrics_inc("tessera_ldap_errors_total", "LDAP errors, by kind.", "kind=\"connect\"", 1);
    }
    return lrc;
}

static int open_lookup(struct tldap *l, const struct tldap_deadline *d, LDAP **out)
{
    LDAP *ld = NULL;
    int lrc = open_conn(l, d, &ld);
    if (lrc != LDAP_SUCCESS)
        return lrc;
    lrc = tldap_conn_bind(ld, d, l->lookup_dn, l->lookup_pw);
    if (lrc != LDAP_SUCCESS) {
        log_kv(LOG_WARN, "ldap.lookup_bind", "uri", l->uri, "dn", l->lookup_dn, "error",
               ldap_err2string(lrc), NULL);
        metrics_inc("tessera_ldap_errors_total", "LDAP errors, by kind.", "kind=\"lookup_bind\"",
                    1);
        ldap_unbind_ext_s(ld, NULL, NULL);
        return lrc;
    }
    *out = ld;
    return LDAP_SUCCESS;
}

/* tldap_with_lookup on pool p: lookups are opened bound as the lookup account, binds unbound. */
static int with_pool(struct tldap *l, struct tldap_pool *p, const struct tldap_deadline *d,
                     int (*fn)(struct tldap *l, LDAP *ld, const struct tldap_deadline *d,
                               void *arg),
                     void *arg, bool *bind_failed)
{
    int lrc = LDAP_OTHER;

    if (bind_failed != NULL)
        *bind_failed = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        LDAP *ld = pool_get(l, p);
        bool reused = ld != NULL;
        if (ld == NULL) {
            lrc = p == &l->lookups ? open_lookup(l, d, &ld) : open_conn(l, d, &ld);
            if (lrc != LDAP_SUCCESS) {
                if (bind_failed != NULL)
                    *bind_failed = true;
                return lrc;
            }
        }
        lrc = tldap_conn_timeouts(ld, d);
        if (lrc == LDAP_SUCCESS)
            lrc = fn(l, ld, d, arg);
        if (!tldap_conn_error(lrc)) {
            pool_put(l, p, ld);
            return lrc;
        }
        ldap_unbind_ext_s(ld, NULL, NULL);
        metrics_inc("tessera_ldap_errors_total", "LDAP errors, by kind.",
                    lrc == LDAP_TIMEOUT ? "kind=\"timeout\"" : "kind=\"connection\"", 1);
        /* A pooled connection may have been cut by a directory restart: try a new one,
         * once, if time is left. Other pooled connections are stale too. */
        if (!reused || lrc == LDAP_TIMEOUT || tldap_deadline_left_ms(d) <= 0)
            break;
        tldap_pool_clear(l);
    }
    return lrc;
}

int tldap_with_lookup(struct tldap *l, const struct tldap_deadline *d,
                      int (*fn)(struct tldap *l, LDAP *ld, const struct tldap_deadline *d,
                                void *arg),
                      void *arg, bool *bind_failed)
{
    return with_pool(l, &l->lookups, d, fn, arg, bind_failed);
}

struct user_cred {
    const char *dn, *pw;
};

static int user_bind_fn(struct tldap *l, LDAP *ld, const struct tldap_deadline *d, void *arg)
{
    const struct user_cred *c = arg;
    return tldap_conn_bind(ld, d, c->dn, c->pw);
}

int tldap_user_bind(struct tldap *l, const struct tldap_deadline *d, const char *dn, const char *pw)
{
    struct user_cred c = {dn, pw};
    /* A failed bind leaves the connection anonymous and a successful one replaces its identity:
     * either way it can be reused for the next user's bind. */
    return with_pool(l, &l->binds, d, user_bind_fn, &c, NULL);
}
