/* refresh.c -- validity of LDAP credentials after the directory changes. Session tokens are
 * stateless, so the backend remembers which DNs hold live credentials (with the policies they
 * carry and when the last one expires; persisted in the IAM store so a restart forgets
 * nothing) and a background thread re-checks each of them every REFRESH_INTERVAL with the
 * lookup account: when the user no longer matches the user search, or its DN and groups no
 * longer give every policy its credentials carry, all its sessions are revoked
 * (iam_parent_revoke_sessions). A directory that cannot be reached revokes nothing: the
 * check is repeated at the next interval. See ldap/tldap.h.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "ldap/tldap_int.h"

/* The expiry written to the store runs up to this many seconds ahead of the real one, so that
 * repeated logins of one DN rewrite the store (a synced IAM transaction) at most once per
 * TRACK_SLACK, not on every login. A DN tracked a little longer only gets re-checked longer:
 * its expired credentials need no revocation. */
#define TRACK_SLACK 900

static void sess_cleanup(struct tldap_sess *s)
{
    free(s->dn);
    free(s->username);
    iam_strv_free(&s->policies);
    memset(s, 0, sizeof *s);
}

/* ---- the tracked sessions in the store ----
 *
 * TLDAP_SESSIONS_BLOB is a JSON array of {"dn","user","policies":[..],"expires"}, one entry
 * per DN, shared by every process (and node) using the store. Each process changes only the
 * entries it learns about, with iam_blob_update (a compare-and-swap, retried), merging into
 * whatever the others wrote: an upsert adds policies (a union) and extends the expiry, a drop
 * removes one DN, and every change prunes expired entries. l->lock only guards this
 * process's in-memory copy, l->sess. */

/* One change of the blob. */
struct sess_edit {
    const struct tldap_sess *up; /* sessions to merge in */
    size_t nup;
    const struct iam_strv *drop; /* DNs to remove, or NULL */
    time_t now;
};

static bool strv_has(const struct iam_strv *sv, const char *s)
{
    for (size_t i = 0; sv != NULL && i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return true;
    return false;
}

/* The stored entry for se merged with old (NULL or the entry stored for the same DN). */
static json_t *sess_entry(const struct tldap_sess *se, json_t *old)
{
    time_t exp = se->stored > se->expires ? se->stored : se->expires;
    json_int_t oexp = json_integer_value(json_object_get(old, "expires"));
    json_t *pol = json_array(), *p;
    size_t i;

    for (i = 0; pol != NULL && i < se->policies.n; i++)
        json_array_append_new(pol, json_string(se->policies.v[i]));
    json_array_foreach(json_object_get(old, "policies"), i, p)
    {
        if (pol != NULL && json_is_string(p) && !strv_has(&se->policies, json_string_value(p)))
            json_array_append(pol, p);
    }
    if (pol == NULL)
        return NULL;
    return json_pack("{s:s, s:s, s:o, s:I}", "dn", se->dn, "user", se->username, "policies", pol,
                     "expires", oexp > (json_int_t)exp ? oexp : (json_int_t)exp);
}

/* Copies the live entries of old that e neither drops nor replaces into arr; *merged[i]
 * gets the old entry of e->up[i] (borrowed from old). */
static int sess_keep(json_t *old, const struct sess_edit *e, json_t *arr, json_t **merged)
{
    size_t i;
    json_t *o;

    json_array_foreach(old, i, o)
    {
        const char *dn = json_string_value(json_object_get(o, "dn"));
        bool mine = false;
        if (dn == NULL || json_integer_value(json_object_get(o, "expires")) <= e->now ||
            strv_has(e->drop, dn))
            continue;
        for (size_t j = 0; j < e->nup; j++)
            if (strcmp(e->up[j].dn, dn) == 0) {
                merged[j] = o;
                mine = true;
            }
        if (!mine && json_array_append(arr, o) != 0)
            return TS_E_INTERNAL;
    }
    return TS_OK;
}

/* iam_blob_edit_fn over the tracked sessions. */
static int sess_edit_fn(const void *data, size_t len, void *arg, void **out, size_t *outlen)
{
    const struct sess_edit *e = arg;
    json_t *old = data != NULL ? json_loadb(data, len, 0, NULL) : NULL;
    json_t *arr = json_array(), **merged = calloc(e->nup + 1, sizeof *merged);
    int rc = arr != NULL && merged != NULL ? TS_OK : TS_E_INTERNAL;

    if (data != NULL && !json_is_array(old))
        log_event(LOG_WARN, "ldap.sessions", "replacing a malformed %s blob", TLDAP_SESSIONS_BLOB);
    if (rc == TS_OK && json_is_array(old))
        rc = sess_keep(old, e, arr, merged);
    for (size_t i = 0; rc == TS_OK && i < e->nup; i++)
        if (json_array_append_new(arr, sess_entry(&e->up[i], merged[i])) != 0)
            rc = TS_E_INTERNAL;
    if (rc == TS_OK) {
        char *s = json_dumps(arr, JSON_COMPACT);
        *out = s;
        *outlen = s != NULL ? strlen(s) : 0;
        rc = s != NULL ? TS_OK : TS_E_INTERNAL;
    }
    free(merged);
    json_decref(arr);
    json_decref(old);
    return rc;
}

/* Merges nup sessions into the blob, removing the DNs in drop (may be NULL). */
static int sess_store(struct tldap *l, const struct tldap_sess *up, size_t nup,
                      const struct iam_strv *drop)
{
    struct sess_edit e = {up, nup, drop, time(NULL)};
    if (l->st == NULL)
        return TS_OK;
    return iam_blob_update(l->st, TLDAP_SESSIONS_BLOB, sess_edit_fn, &e);
}

static int sess_load(struct tldap *l)
{
    void *data = NULL;
    size_t len = 0;
    json_t *arr, *o;
    size_t i;
    time_t now = time(NULL);

    if (iam_blob_get(l->st, TLDAP_SESSIONS_BLOB, &data, &len, NULL) != TS_OK)
        return TS_OK; /* nothing tracked yet */
    arr = json_loadb(data, len, 0, NULL);
    free(data);
    if (!json_is_array(arr)) {
        json_decref(arr);
        log_event(LOG_WARN, "ldap.sessions", "ignoring a malformed %s blob", TLDAP_SESSIONS_BLOB);
        return TS_OK;
    }
    json_array_foreach(arr, i, o)
    {
        const char *dn = json_string_value(json_object_get(o, "dn"));
        const char *user = json_string_value(json_object_get(o, "user"));
        json_t *pol = json_object_get(o, "policies"), *p;
        json_int_t exp = json_integer_value(json_object_get(o, "expires"));
        size_t j;
        struct iam_strv pv = {0};
        if (dn == NULL || user == NULL || exp <= now)
            continue;
        json_array_foreach(pol, j, p)
        {
            if (json_is_string(p))
                tldap_strv_add(&pv, json_string_value(p));
        }
        tldap_track(l, dn, user, &pv, (time_t)exp);
        iam_strv_free(&pv);
    }
    json_decref(arr);
    return TS_OK;
}

int tldap_track(struct tldap *l, const char *dn, const char *username,
                const struct iam_strv *policies, time_t expires)
{
    struct tldap_sess *s = NULL;
    bool changed = false;
    size_t had;
    int rc = TS_OK;

    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->nsess; i++)
        if (strcmp(l->sess[i].dn, dn) == 0)
            s = &l->sess[i];
    if (s == NULL) {
        struct tldap_sess *v = realloc(l->sess, (l->nsess + 1) * sizeof *v);
        if (v == NULL) {
            rc = TS_E_INTERNAL;
            goto out;
        }
        l->sess = v;
        s = &v[l->nsess];
        memset(s, 0, sizeof *s);
        s->dn = strdup(dn);
        if (s->dn == NULL) {
            rc = TS_E_INTERNAL;
            goto out;
        }
        l->nsess++;
        changed = true;
    }
    if (s->username == NULL || strcmp(s->username, username) != 0) {
        free(s->username);
        s->username = strdup(username);
        changed = true;
    }
    had = s->policies.n;
    for (size_t i = 0; policies != NULL && i < policies->n; i++)
        if (tldap_strv_add(&s->policies, policies->v[i]) != 0)
            rc = TS_E_INTERNAL;
    tldap_strv_sort_unique(&s->policies);
    changed |= s->policies.n != had; /* the union only grows */
    if (expires > s->expires)
        s->expires = expires;
    if (s->expires > s->stored) {
        s->stored = s->expires + TRACK_SLACK;
        changed = true;
    }
    if (s->username == NULL)
        rc = TS_E_INTERNAL;
    if (rc == TS_OK && changed && l->started)
        rc = sess_store(l, s, 1, NULL);
    if (rc != TS_OK)
        s->stored = 0; /* write it again at the next login */
out:
    pthread_mutex_unlock(&l->lock);
    return rc;
}

/* ---- the check ---- */

enum verdict { V_KEEP, V_REVOKE, V_UNKNOWN };

struct check_arg {
    const struct tldap_sess *s;
    struct iam_store *st;
    enum verdict v;
    const char *why;
};

static bool subset(const struct iam_strv *a, const struct iam_strv *b)
{
    for (size_t i = 0; i < a->n; i++) {
        bool found = false;
        for (size_t j = 0; j < b->n && !found; j++)
            found = strcmp(a->v[i], b->v[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

static int check_fn(struct tldap *l, LDAP *ld, const struct tldap_deadline *d, void *arg)
{
    struct check_arg *a = arg;
    struct iam_strv groups = {0}, now_pol = {0};
    char *dn_raw = NULL, *canon = NULL, *norm = NULL;
    int count = 0, lrc;

    a->v = V_UNKNOWN;
    lrc = tldap_search_user(l, ld, d, a->s->username, &count, &dn_raw, &canon, NULL);
    if (lrc != LDAP_SUCCESS)
        goto out;
    if (count != 1) {
        a->v = V_REVOKE;
        a->why = count == 0 ? "user no longer in the directory" : "user name now ambiguous";
        goto out;
    }
    norm = tldap_dn_normalize(dn_raw);
    if (norm == NULL || strcmp(norm, a->s->dn) != 0) {
        a->v = V_REVOKE;
        a->why = "user name now belongs to another DN";
        goto out;
    }
    lrc = tldap_search_groups(l, ld, d, canon != NULL ? canon : a->s->username, dn_raw, &groups);
    if (lrc != LDAP_SUCCESS)
        goto out;
    if (tldap_map_policies(a->st, norm, &groups, &now_pol) != TS_OK)
        goto out;
    if (now_pol.n == 0 || !subset(&a->s->policies, &now_pol)) {
        a->v = V_REVOKE;
        a->why = "policies no longer granted by the directory";
    } else {
        a->v = V_KEEP;
    }
out:
    free(dn_raw);
    free(canon);
    free(norm);
    iam_strv_free(&groups);
    iam_strv_free(&now_pol);
    return lrc;
}

/* Takes a copy of the session at i (under the lock), or returns false past the end. */
static bool sess_copy(struct tldap *l, size_t i, struct tldap_sess *out)
{
    bool have = false;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&l->lock);
    if (i < l->nsess) {
        const struct tldap_sess *s = &l->sess[i];
        out->dn = strdup(s->dn);
        out->username = strdup(s->username);
        out->expires = s->expires;
        for (size_t j = 0; j < s->policies.n; j++)
            tldap_strv_add(&out->policies, s->policies.v[j]);
        have = true;
    }
    pthread_mutex_unlock(&l->lock);
    if (have && (out->dn == NULL || out->username == NULL)) {
        sess_cleanup(out);
        return sess_copy(l, i + 1, out); /* out of memory: skip this one */
    }
    return have;
}

/* Forgets the tracked session for dn (its sessions were just revoked). */
static void sess_drop(struct tldap *l, const char *dn)
{
    struct iam_strv drop = {(char **)&dn, 1};
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->nsess; i++) {
        if (strcmp(l->sess[i].dn, dn) == 0) {
            sess_cleanup(&l->sess[i]);
            l->sess[i] = l->sess[--l->nsess];
            break;
        }
    }
    sess_store(l, NULL, 0, &drop);
    pthread_mutex_unlock(&l->lock);
}

static void prune_expired(struct tldap *l, time_t now)
{
    struct iam_strv gone = {0};
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->nsess;) {
        if (l->sess[i].expires <= now) {
            tldap_strv_add(&gone, l->sess[i].dn);
            sess_cleanup(&l->sess[i]);
            l->sess[i] = l->sess[--l->nsess];
        } else {
            i++;
        }
    }
    if (gone.n > 0)
        sess_store(l, NULL, 0, &gone);
    pthread_mutex_unlock(&l->lock);
    iam_strv_free(&gone);
}

int tldap_check_now(struct tldap *l)
{
    int revoked = 0;
    struct tldap_sess s;

    if (l->st == NULL)
        return -1;
    prune_expired(l, time(NULL));
    for (size_t i = 0; sess_copy(l, i, &s); i++) {
        struct tldap_deadline d;
        struct check_arg a = {&s, l->st, V_UNKNOWN, NULL};
        int lrc;

        tldap_deadline_init(&d, l->timeout);
        lrc = tldap_with_lookup(l, &d, check_fn, &a, NULL);
        if (lrc != LDAP_SUCCESS || a.v == V_UNKNOWN) {
            log_kv(LOG_WARN, "ldap.refresh", "dn", s.dn, "result", "skipped", "error",
                   lrc != LDAP_SUCCESS ? tldap_err_string(lrc) : "internal error", NULL);
        } else if (a.v == V_REVOKE) {
            /* Revoke everything issued up to now. */
            if (iam_parent_revoke_sessions(l->st, s.dn, iam_now_ns() + 1) == TS_OK) {
                log_kv(LOG_INFO, "ldap.refresh", "dn", s.dn, "result", "revoked", "reason", a.why,
                       NULL);
                log_audit(NULL, "ldap.revoke", "revoked", "dn", s.dn, "reason", a.why, NULL);
                sess_drop(l, s.dn);
                i--; /* the array shifted */
                revoked++;
            } else {
                log_kv(LOG_ERROR, "ldap.refresh", "dn", s.dn, "result", "revoke failed", NULL);
            }
        }
        sess_cleanup(&s);
    }
    return revoked;
}

static void *refresh_thread(void *arg)
{
    struct tldap *l = arg;
    pthread_mutex_lock(&l->lock);
    while (!l->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += l->refresh;
        while (!l->stopping) {
            if (pthread_cond_timedwait(&l->cond, &l->lock, &ts) != 0)
                break; /* timed out */
        }
        if (l->stopping)
            break;
        pthread_mutex_unlock(&l->lock);
        tldap_check_now(l);
        pthread_mutex_lock(&l->lock);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

int tldap_start(struct tldap *l, struct iam_store *st)
{
    if (l->started)
        return TS_OK;
    l->st = st;
    sess_load(l);
    if (pthread_create(&l->thread, NULL, refresh_thread, l) != 0) {
        log_event(LOG_ERROR, "ldap.refresh", "cannot start the validity checker thread");
        return TS_E_INTERNAL;
    }
    pthread_mutex_lock(&l->lock);
    l->started = true;
    sess_store(l, l->sess, l->nsess, NULL); /* those tracked before the start */
    pthread_mutex_unlock(&l->lock);
    return TS_OK;
}
