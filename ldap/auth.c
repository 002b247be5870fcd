/* auth.c -- AssumeRoleWithLDAPIdentity's proof of identity: lookup bind, user search (RFC
 * 4515-escaped name, exactly one entry), user bind, group search, claims; and the
 * DN/group -> policy mapping through the IAM store's DN attachments. See ldap/tldap.h.
 *
 * Unknown user, several matches and a wrong or empty password all give the same
 * AccessDenied: the answer never tells which (no user enumeration). The password is never
 * logged nor copied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "ldap/tldap_int.h"
#include "policy/mapper.h"

#define MAX_GROUPS 1024
#define DENIED_MSG "LDAP authentication failed: invalid user name or password."

int tldap_strv_add(struct iam_strv *sv, const char *s)
{
    char **v = realloc(sv->v, (sv->n + 1) * sizeof *v);
    if (v == NULL)
        return -1;
    sv->v = v;
    v[sv->n] = strdup(s);
    if (v[sv->n] == NULL)
        return -1;
    sv->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void tldap_strv_sort_unique(struct iam_strv *sv)
{
    size_t o = 0;
    if (sv->n == 0)
        return;
    qsort(sv->v, sv->n, sizeof *sv->v, cmp_str);
    for (size_t i = 0; i < sv->n; i++) {
        if (o > 0 && strcmp(sv->v[o - 1], sv->v[i]) == 0) {
            free(sv->v[i]);
            continue;
        }
        sv->v[o++] = sv->v[i];
    }
    sv->n = o;
}

static struct timeval left_tv(const struct tldap_deadline *d)
{
    long ms = tldap_deadline_left_ms(d);
    struct timeval tv;
    if (ms < 1)
        ms = 1;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

char *tldap_first_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
    struct berval **vals = ldap_get_values_len(ld, e, attr);
    char *s = NULL;
    if (vals != NULL && vals[0] != NULL && memchr(vals[0]->bv_val, '\0', vals[0]->bv_len) == NULL)
        s = strndup(vals[0]->bv_val, vals[0]->bv_len);
    ldap_value_free_len(vals);
    return s;
}

int tldap_search_user(struct tldap *l, LDAP *ld, const struct tldap_deadline *d,
                      const char *username, int *count, char **dn_raw, char **canon,
                      struct idp_claims *claims)
{
    char *filter = tldap_filter_expand(l->user_filter, username, NULL);
    const char *attrs[34];
    size_t na = 0;
    LDAPMessage *res = NULL, *found = NULL;
    int lrc = LDAP_SUCCESS, total = 0;

    *count = 0;
    if (filter == NULL)
        return LDAP_NO_MEMORY;
    if (l->name_attr != NULL)
        attrs[na++] = l->name_attr;
    for (size_t i = 0; i < l->extra_attrs.n && na < 32; i++)
        attrs[na++] = l->extra_attrs.v[i];
    if (na == 0)
        attrs[na++] = LDAP_NO_ATTRS;
    attrs[na] = NULL;

    for (size_t b = 0; b < l->user_bases.n && total < 2; b++) {
        struct timeval tv = left_tv(d);
        res = NULL;
        lrc = ldap_search_ext_s(ld, l->user_bases.v[b], LDAP_SCOPE_SUBTREE, filter, (char **)attrs,
                                0, NULL, NULL, &tv, 2, &res);
        if (lrc == LDAP_NO_SUCH_OBJECT) { /* base DN missing: no match there */
            ldap_msgfree(res);
            lrc = LDAP_SUCCESS;
            continue;
        }
        if (lrc != LDAP_SUCCESS && lrc != LDAP_SIZELIMIT_EXCEEDED) {
            ldap_msgfree(res);
            goto out;
        }
        int n = res != NULL ? ldap_count_entries(ld, res) : 0;
        if (lrc == LDAP_SIZELIMIT_EXCEEDED && n < 2)
            n = 2; /* the server stopped at its own limit: more than one */
        lrc = LDAP_SUCCESS;
        total += n;
        if (n == 1 && total == 1) {
            found = res;
            res = NULL;
        }
        ldap_msgfree(res);
        res = NULL;
    }
    *count = total > 2 ? 2 : total;
    if (total == 1 && found != NULL) {
        LDAPMessage *e = ldap_first_entry(ld, found);
        char *dn = e != NULL ? ldap_get_dn(ld, e) : NULL;
        if (dn == NULL) {
            lrc = LDAP_NO_MEMORY;
            goto out;
        }
        *dn_raw = strdup(dn);
        ldap_memfree(dn);
        if (*dn_raw == NULL) {
            lrc = LDAP_NO_MEMORY;
            goto out;
        }
        if (canon != NULL)
            *canon = l->name_attr != NULL ? tldap_first_value(ld, e, l->name_attr) : NULL;
        for (size_t i = 0; claims != NULL && i < l->extra_attrs.n; i++) {
            char key[160], *val = tldap_first_value(ld, e, l->extra_attrs.v[i]);
            if (val == NULL)
                continue;
            snprintf(key, sizeof key, "ldap:%s", l->extra_attrs.v[i]);
            int arc = idp_claims_add_var(claims, key, val);
            free(val);
            if (arc != TS_OK) {
                lrc = LDAP_NO_MEMORY;
                goto out;
            }
        }
    }
out:
    ldap_msgfree(found);
    free(filter);
    return lrc;
}

int tldap_search_groups(struct tldap *l, LDAP *ld, const struct tldap_deadline *d, const char *user,
                        const char *dn_raw, struct iam_strv *out)
{
    char *filter;
    char *attrs[] = {LDAP_NO_ATTRS, NULL};
    int lrc = LDAP_SUCCESS;

    if (l->group_filter == NULL)
        return LDAP_SUCCESS;
    filter = tldap_filter_expand(l->group_filter, user, dn_raw);
    if (filter == NULL)
        return LDAP_NO_MEMORY;
    for (size_t b = 0; b < l->group_bases.n; b++) {
        LDAPMessage *res = NULL;
        struct timeval tv = left_tv(d);
        lrc = ldap_search_ext_s(ld, l->group_bases.v[b], LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL,
                                NULL, &tv, MAX_GROUPS, &res);
        if (lrc == LDAP_NO_SUCH_OBJECT || lrc == LDAP_SIZELIMIT_EXCEEDED)
            lrc = LDAP_SUCCESS;
        if (lrc != LDAP_SUCCESS) {
            ldap_msgfree(res);
            break;
        }
        for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e)) {
            char *dn = ldap_get_dn(ld, e), *norm;
            if (dn == NULL)
                continue;
            norm = tldap_dn_normalize(dn);
            ldap_memfree(dn);
            if (norm == NULL)
                continue; /* a DN we cannot parse can have no attachment */
            if (out->n < MAX_GROUPS && tldap_strv_add(out, norm) != 0)
                lrc = LDAP_NO_MEMORY;
            free(norm);
        }
        ldap_msgfree(res);
        if (lrc != LDAP_SUCCESS)
            break;
    }
    free(filter);
    if (lrc == LDAP_SUCCESS)
        tldap_strv_sort_unique(out);
    return lrc;
}

/* ---- authenticate ---- */

struct lookup_arg {
    const char *username;
    int count;
    char *dn_raw, *canon;
    struct idp_claims *claims;
};

static int lookup_user_fn(struct tldap *l, LDAP *ld, const struct tldap_deadline *d, void *arg)
{
    struct lookup_arg *a = arg;
    return tldap_search_user(l, ld, d, a->username, &a->count, &a->dn_raw, &a->canon, a->claims);
}

struct groups_arg {
    const char *user, *dn_raw;
    struct iam_strv *out;
};

static int groups_fn(struct tldap *l, LDAP *ld, const struct tldap_deadline *d, void *arg)
{
    struct groups_arg *a = arg;
    iam_strv_free(a->out); /* a retry starts over */
    return tldap_search_groups(l, ld, d, a->user, a->dn_raw, a->out);
}

int tldap_unavailable(struct tldap *l, const struct tldap_deadline *d, int lrc, bool bind_failed,
                      const char *username, struct ts_error *err)
{
    if (lrc == TLDAP_TLS_UNTRUSTED)
        ts_error_set(err, TS_E_SERVICE_UNAVAILABLE,
                     "The LDAP server's TLS certificate could not be verified: set "
                     "TESSERA_CA_FILE to the CA certificate (PEM) that signed it, and use the "
                     "host name the certificate names.");
    else if (lrc == LDAP_TIMEOUT || tldap_deadline_left_ms(d) <= 0)
        ts_error_set(err, TS_E_SERVICE_UNAVAILABLE,
                     "The LDAP server did not answer within %ld seconds.", l->timeout);
    else if (bind_failed && !tldap_conn_error(lrc))
        ts_error_set(err, TS_E_SERVICE_UNAVAILABLE,
                     "The LDAP lookup bind failed (%s): check the lookup account.",
                     ldap_err2string(lrc));
    else
        ts_error_set(err, TS_E_SERVICE_UNAVAILABLE, "The LDAP server could not be reached: %s.",
                     ldap_err2string(lrc));
    log_kv(LOG_WARN, "ldap.auth", "user", username, "result", "error", "error", err->msg, NULL);
    return TS_E_SERVICE_UNAVAILABLE;
}

/* A refusal the client sees only as "invalid user name or password"; reason goes to the log. */
static int denied(const char *username, const char *dn, const char *reason, struct ts_error *err)
{
    log_kv(LOG_INFO, "ldap.auth", "user", username, "dn", dn, "result", "denied", "reason", reason,
           NULL);
    return ts_error_set(err, TS_E_STS_ACCESS_DENIED, DENIED_MSG);
}

/* An LDAPUsername: 1..TLDAP_MAX_USERNAME bytes of well-formed UTF-8 without control
 * characters (idp_name_ok). It reaches the directory, the logs and the session's ARN and XML
 * answer: anything else is refused before any bind. */
static bool username_ok(const char *u)
{
    size_t n = strlen(u);
    return n > 0 && n <= TLDAP_MAX_USERNAME && idp_name_ok(u);
}

/* Step 1: the lookup bind and the user search: exactly one entry, a parsable DN and names
 * fit to name a session. */
static int find_user(struct tldap *l, struct tldap_deadline *d, struct lookup_arg *la, char **norm,
                     struct ts_error *err)
{
    bool bind_failed = false;
    int lrc = tldap_with_lookup(l, d, lookup_user_fn, la, &bind_failed);

    if (lrc == LDAP_NO_MEMORY)
        return ts_error_set(err, TS_E_INTERNAL, "Out of memory.");
    if (lrc != LDAP_SUCCESS)
        return tldap_unavailable(l, d, lrc, bind_failed, la->username, err);
    if (la->count != 1)
        return denied(la->username, NULL, la->count == 0 ? "no such user" : "several entries match",
                      err);
    *norm = tldap_dn_normalize(la->dn_raw);
    if (*norm == NULL)
        return denied(la->username, la->dn_raw, "unparsable DN", err);
    /* The directory's names become the session's parent, ARN and XML answer. */
    if (!idp_name_ok(la->dn_raw) || (la->canon != NULL && !idp_name_ok(la->canon)))
        return denied(la->username, la->dn_raw,
                      "the entry's DN or user name holds control characters", err);
    return TS_OK;
}

int tldap_fill_claims(struct idp_claims *c, const char *dn_raw, const char *name, char *norm)
{
    c->provider = strdup("ldap");
    c->subject = strdup(dn_raw);
    c->dn = norm;
    c->parent = strdup(norm);
    c->source = "ldap";
    c->groups_are_dns = true;
    c->username = strdup(name);
    if (c->provider == NULL || c->subject == NULL || c->username == NULL || c->parent == NULL ||
        tldap_strv_add(&c->federated, "ldap") != 0 ||
        idp_claims_add_var(c, "ldap:username", c->username) != TS_OK ||
        idp_claims_add_var(c, "ldap:dn", dn_raw) != TS_OK)
        return TS_E_INTERNAL;
    for (size_t i = 0; i < c->groups.n; i++)
        if (idp_claims_add_var(c, "ldap:groups", c->groups.v[i]) != TS_OK)
            return TS_E_INTERNAL;
    return TS_OK;
}

int tldap_authenticate(struct tldap *l, const char *username, const char *password,
                       struct idp_claims *out, struct ts_error *err)
{
    struct tldap_deadline d;
    struct lookup_arg la;
    struct idp_claims c;
    char *norm = NULL;
    bool bind_failed = false;
    int lrc, rc;

    memset(out, 0, sizeof *out);
    memset(&c, 0, sizeof c);
    memset(&la, 0, sizeof la);
    if (username == NULL || !username_ok(username))
        return ts_error_set(err, TS_E_STS_INVALID_PARAMETER,
                            "LDAPUsername must be 1 to %d bytes of printable UTF-8 characters.",
                            TLDAP_MAX_USERNAME);
    /* An empty password would make an unauthenticated bind succeed: refuse it first. */
    if (password == NULL || password[0] == '\0' || strlen(password) > TLDAP_MAX_PASSWORD)
        return denied(username, NULL, "empty password", err);
    tldap_deadline_init(&d, l->timeout);
    c.kind = IDP_LDAP;
    la.username = username;
    la.claims = &c;
    rc = find_user(l, &d, &la, &norm, err);
    if (rc != TS_OK)
        goto out;
    /* 2. bind as the user on a connection used for nothing else */
    lrc = tldap_user_bind(l, &d, la.dn_raw, password);
    if (tldap_conn_error(lrc) || lrc == TLDAP_TLS_UNTRUSTED) {
        rc = tldap_unavailable(l, &d, lrc, false, username, err);
        goto out;
    }
    if (lrc != LDAP_SUCCESS) {
        rc = denied(username, la.dn_raw, ldap_err2string(lrc), err);
        goto out;
    }
    /* 3. groups, with the lookup account */
    struct groups_arg ga = {la.canon != NULL ? la.canon : username, la.dn_raw, &c.groups};
    lrc = tldap_with_lookup(l, &d, groups_fn, &ga, &bind_failed);
    if (lrc != LDAP_SUCCESS && lrc != LDAP_NO_MEMORY) {
        rc = tldap_unavailable(l, &d, lrc, bind_failed, username, err);
        goto out;
    }
    /* 4. claims */
    rc = TS_E_INTERNAL;
    if (lrc == LDAP_SUCCESS) {
        rc = tldap_fill_claims(&c, la.dn_raw, la.canon != NULL ? la.canon : username, norm);
        norm = NULL; /* owned by c */
    }
    if (rc != TS_OK) {
        ts_error_set(err, TS_E_INTERNAL, "Out of memory.");
        goto out;
    }
    log_kv(LOG_INFO, "ldap.auth", "user", c.username, "dn", la.dn_raw, "result", "ok", NULL);
    *out = c;
    memset(&c, 0, sizeof c);
out:
    free(norm);
    free(la.dn_raw);
    free(la.canon);
    idp_claims_cleanup(&c);
    return rc;
}

/* ---- policies ---- */

int tldap_map_policies(struct iam_store *st, const char *dn, const struct iam_strv *groups,
                       struct iam_strv *out)
{
    struct idp_claims view; /* borrows dn and groups: never cleaned up */
    int rc;

    memset(&view, 0, sizeof view);
    memset(out, 0, sizeof *out);
    view.kind = IDP_LDAP;
    view.groups_are_dns = true;
    view.dn = (char *)dn;
    if (groups != NULL)
        view.groups = *groups;
    rc = pol_map_claims(st, &view, out, NULL);
    if (rc == TS_E_STS_ACCESS_DENIED)
        return TS_OK; /* no policy: an empty list */
    if (rc == TS_OK)
        tldap_strv_sort_unique(out);
    return rc;
}
