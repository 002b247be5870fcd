/* tldap_int.h -- private to ldap/: the backend's state, deadlines and the connection layer.
 * Other modules use ldap/tldap.h.
 *
 * Thread-safety: the configuration fields are immutable after tldap_new_from_env; the pools
 * and the shared TLS context are guarded by pool_lock; the tracked sessions and the checker's
 * state by lock.
 */
#ifndef TS_TLDAP_INT_H
#define TS_TLDAP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include <ldap.h>

#include "ldap/tldap.h"

/* A DN holding live credentials, re-checked by the background thread. */
struct tldap_sess {
    char *dn;       /* normalised */
    char *username; /* canonical user name (for %s in the group filter) */
    struct iam_strv policies;
    time_t expires; /* when the last credential issued to dn expires */
    time_t stored;  /* the expiry last written to the store (0: write it again) */
};

/* Idle connections of one kind. */
struct tldap_pool {
    LDAP *ld[TLDAP_POOL_SIZE];
    size_t n;
};

struct tldap {
    /* configuration (immutable) */
    char *uri; /* ldaps://host:port or ldap://host:port */
    bool starttls, insecure, skip_verify;
    char *lookup_dn, *lookup_pw;
    struct iam_strv user_bases;
    char *user_filter;
    char *name_attr; /* attribute holding the canonical user name, or NULL */
    struct iam_strv group_bases;
    char *group_filter; /* NULL: no group search */
    struct iam_strv extra_attrs;
    long timeout;       /* seconds */
    long refresh;       /* seconds */
    char *ca_file;      /* CA bundle handed to libldap, or NULL for the system default */
    bool ca_file_tmp;   /* ca_file is our temporary file: unlink it at the end */
    ldap_conncb conncb; /* socket timeouts on every new connection (conn.c) */

    /* Idle connections: lookups are bound as the lookup account; binds serve only to check
     * user passwords (each left bound as the last user: never used for anything else). */
    pthread_mutex_t pool_lock;
    struct tldap_pool lookups, binds;
    void *tls_ctx; /* libldap TLS context shared by every connection (one reference), or NULL */

    /* background checker */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    bool started, stopping;
    struct iam_store *st;
    struct tldap_sess *sess;
    size_t nsess;

    /* the last reachability probe (probe.c; guarded by its lock) */
    time_t probe_at; /* monotonic seconds, 0: never */
    bool probe_ok;
};

/* A monotonic deadline for one operation sequence. */
struct tldap_deadline {
    struct timespec at;
};
void tldap_deadline_init(struct tldap_deadline *d, long seconds);
/* Milliseconds left (<= 0: expired). */
long tldap_deadline_left_ms(const struct tldap_deadline *d);

/* ---- conn.c ---- */

/* Sets up l's connect callback (socket timeouts for TLS handshakes). Once, at creation. */
void tldap_conn_init(struct tldap *l);

/* Whether an LDAP result code means the connection is unusable (server down, timeout...). */
bool tldap_conn_error(int lrc);

/* Not an LDAP result code: the directory answered, but its TLS certificate could not be
 * verified with the configured CAs (TESSERA_CA_FILE) or host name. Not a connection error
 * (tldap_conn_error): retrying does not help. */
#define TLDAP_TLS_UNTRUSTED (-0x7000)

/* Opens a connection (TLS per the configuration, handshake or StartTLS done) without
 * binding. The TLS context is built on the first connection and shared by the later ones.
 * Returns an LDAP result code (LDAP_SUCCESS with *out set), or TLDAP_TLS_UNTRUSTED. */
int tldap_conn_open(struct tldap *l, const struct tldap_deadline *d, LDAP **out);
/* ldap_err2string, knowing TLDAP_TLS_UNTRUSTED. */
const char *tldap_err_string(int lrc);
/* Sets the connection's network and operation timeouts to what is left of d. Returns
 * LDAP_SUCCESS, or LDAP_TIMEOUT when d has passed. */
int tldap_conn_timeouts(LDAP *ld, const struct tldap_deadline *d);
/* Simple bind. An empty password is refused (LDAP_INVALID_CREDENTIALS) without a bind. */
int tldap_conn_bind(LDAP *ld, const struct tldap_deadline *d, const char *dn, const char *pw);

/* Runs fn on a bound lookup connection: a pooled one, or a new one (opened and bound as the
 * lookup account). When fn fails with a connection error on a reused connection (the server
 * restarted), it is retried once on a new connection. fn returns an LDAP result code; the
 * connection goes back to the pool unless that code is a connection error. Returns fn's
 * code, or the code of the failed open/bind (*bind_failed set then, when not NULL). */
int tldap_with_lookup(struct tldap *l, const struct tldap_deadline *d,
                      int (*fn)(struct tldap *l, LDAP *ld, const struct tldap_deadline *d,
                                void *arg),
                      void *arg, bool *bind_failed);
/* Binds as dn with pw on a connection of the bind pool (a new one when none is idle) to check
 * a user's password, with the same retry as tldap_with_lookup. Returns the bind's LDAP result
 * code (LDAP_INVALID_CREDENTIALS for an empty password, without a bind), or that of the failed
 * open. */
int tldap_user_bind(struct tldap *l, const struct tldap_deadline *d, const char *dn,
                    const char *pw);
/* Closes every pooled connection (lookups and binds). */
void tldap_pool_clear(struct tldap *l);
/* Closes every pooled connection and releases the shared TLS context. At the end only. */
void tldap_conn_free(struct tldap *l);

/* ---- auth.c ---- */

/* Searches the groups of user (canonical name) with DN dn_raw (as the directory returned
 * it) on ld; appends normalised group DNs to out. Returns an LDAP result code. */
int tldap_search_groups(struct tldap *l, LDAP *ld, const struct tldap_deadline *d, const char *user,
                        const char *dn_raw, struct iam_strv *out);
/* Searches the user's entry with the user filter. *count gets the number of entries found
 * (capped at 2), and when exactly one: *dn_raw (malloc'ed) and, when want_attrs, *canon and
 * the extra attributes added to claims (may be NULL). Returns an LDAP result code. */
int tldap_search_user(struct tldap *l, LDAP *ld, const struct tldap_deadline *d,
                      const char *username, int *count, char **dn_raw, char **canon,
                      struct idp_claims *claims);

/* The first value of attr in entry e (malloc'ed), or NULL (none, or one holding a NUL). */
char *tldap_first_value(LDAP *ld, LDAPMessage *e, const char *attr);
/* The directory could not answer (lrc; bind_failed: the lookup bind was refused): sets err to
 * TS_E_SERVICE_UNAVAILABLE with the reason, logs it with who, and returns that code. */
int tldap_unavailable(struct tldap *l, const struct tldap_deadline *d, int lrc, bool bind_failed,
                      const char *who, struct ts_error *err);
/* The claims of a found user (groups already in c->groups): subject dn_raw (as the directory
 * returned it), user name name, dn and parent norm (taken: owned by c from now on, even on
 * error). TS_OK or TS_E_INTERNAL. */
int tldap_fill_claims(struct idp_claims *c, const char *dn_raw, const char *name, char *norm);

/* Appends a copy of s to sv. 0 or -1 (OOM). */
int tldap_strv_add(struct iam_strv *sv, const char *s);
/* Sorts sv and removes duplicates. */
void tldap_strv_sort_unique(struct iam_strv *sv);

#endif
