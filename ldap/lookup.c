/* lookup.c -- an LDAP user found by its DN, without a password: an admin naming an LDAP DN as
 * the parent of a service account (sts/admin_svc.c through the backend's lookup hook). See
 * tldap_lookup_dn in ldap/tldap.h.
 *
 * The DN is never pasted into a filter: it is the BASE of a base-scope search for the entry's
 * user-name attribute; that name (RFC 4515-escaped by tldap_filter_expand) then goes through
 * the configured user search exactly as a login's LDAPUsername does, which must find that
 * same entry, and the groups come from the configured group search. So the account's parent
 * is a user a login would find, in the same normalised form, with the same claims; and the
 * validity checker (refresh.c), which repeats that user search, follows it the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "ldap/tldap_int.h"

/* What one lookup found (reset at the start of every try: tldap_with_lookup may retry). */
struct dn_arg {
    const char *dn, *norm; /* as named, and normalised */
    bool found;            /* a user the user search finds at that DN */
    char *name;            /* its canonical user name */
    char *dn_raw;          /* its DN as the user search returned it */
    struct idp_claims *claims;
};

static void dn_arg_reset(struct dn_arg *a)
{
    free(a->name);
    free(a->dn_raw);
    a->name = a->dn_raw = NULL;
    a->found = false;
    idp_claims_cleanup(a->claims);
    memset(a->claims, 0, sizeof *a->claims);
    a->claims->kind = IDP_LDAP;
}

/* The user-name attribute of the entry at a->dn (base scope), into *name; NULL when there is
 * no such entry or it has none. Returns an LDAP result code. */
static int entry_name(struct tldap *l, LDAP *ld, const struct tldap_deadline *d, const char *dn,
                      char **name)
{
    char *attrs[] = {l->name_attr, NULL};
    long ms = tldap_deadline_left_ms(d);
    struct timeval tv = {ms > 0 ? ms / 1000 : 0, ms > 0 ? (ms % 1000) * 1000 : 1000};
    LDAPMessage *res = NULL, *e;
    int lrc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
                                &tv, 1, &res);

    *name = NULL;
    if (lrc == LDAP_NO_SUCH_OBJECT || lrc == LDAP_INVALID_DN_SYNTAX) {
        ldap_msgfree(res);
        return LDAP_SUCCESS; /* nothing there */
    }
    if (lrc == LDAP_SUCCESS && (e = ldap_first_entry(ld, res)) != NULL)
        *name = tldap_first_value(ld, e, l->name_attr);
    ldap_msgfree(res);
    return lrc;
}

/* tldap_with_lookup's fn: the entry's name, the user search with it, the groups. */
static int dn_fn(struct tldap *l, LDAP *ld, const struct tldap_deadline *d, void *arg)
{
    struct dn_arg *a = arg;
    char *canon = NULL, *norm = NULL;
    int count = 0, lrc;

    dn_arg_reset(a);
    lrc = entry_name(l, ld, d, a->dn, &a->name);
    if (lrc != LDAP_SUCCESS || a->name == NULL)
        return lrc;
    lrc = tldap_search_user(l, ld, d, a->name, &count, &a->dn_raw, &canon, a->claims);
    if (lrc == LDAP_SUCCESS && count == 1) {
        norm = tldap_dn_normalize(a->dn_raw);
        a->found = norm != NULL && strcmp(norm, a->norm) == 0;
    }
    if (a->found && canon != NULL) { /* the name the user search reports, as a login's */
        free(a->name);
        a->name = canon;
        canon = NULL;
    }
    if (a->found)
        lrc = tldap_search_groups(l, ld, d, a->name, a->dn_raw, &a->claims->groups);
    free(canon);
    free(norm);
    return lrc;
}

static int not_found(const char *dn, const char *why, struct ts_error *err)
{
    log_kv(LOG_INFO, "ldap.lookup", "dn", dn, "result", "not found", "reason", why, NULL);
    return ts_error_set(err, TS_E_NO_SUCH_ENTITY,
                        "%.300s is not a user in the LDAP directory (%s).", dn, why);
}

int tldap_lookup_dn(struct tldap *l, const char *dn, struct idp_claims *out, struct ts_error *err)
{
    struct tldap_deadline d;
    struct idp_claims c;
    struct dn_arg a = {.dn = dn, .claims = &c};
    char *norm = dn != NULL && strlen(dn) <= TLDAP_MAX_DN ? tldap_dn_normalize(dn) : NULL;
    bool bind_failed = false;
    int lrc, rc = TS_OK;

    memset(out, 0, sizeof *out);
    memset(&c, 0, sizeof c);
    if (norm == NULL || !idp_name_ok(dn) || strchr(dn, '=') == NULL) {
        free(norm);
        return ts_error_set(err, TS_E_INVALID_ARGUMENT,
                            "Not an LDAP DN (up to %d bytes of printable UTF-8, e.g. "
                            "uid=bob,ou=people,dc=example,dc=org).",
                            TLDAP_MAX_DN);
    }
    if (l->name_attr == NULL) {
        free(norm);
        return ts_error_set(err, TS_E_INVALID_ARGUMENT,
                            "The LDAP user-name attribute is not known: set "
                            "TESSERA_IDENTITY_LDAP_USERNAME_ATTRIBUTE.");
    }
    a.norm = norm;
    tldap_deadline_init(&d, l->timeout);
    lrc = tldap_with_lookup(l, &d, dn_fn, &a, &bind_failed);
    if (lrc == LDAP_NO_MEMORY)
        rc = ts_error_set(err, TS_E_INTERNAL, "Out of memory.");
    else if (lrc != LDAP_SUCCESS)
        rc = tldap_unavailable(l, &d, lrc, bind_failed, dn, err);
    else if (!a.found)
        rc = not_found(dn,
                       a.name == NULL ? "no entry with a user name there"
                                      : "the user search does not find it",
                       err);
    else if (!idp_name_ok(a.dn_raw) || !idp_name_ok(a.name))
        rc = not_found(dn, "its DN or user name holds control characters", err);
    else if (tldap_fill_claims(&c, a.dn_raw, a.name, norm) != TS_OK)
        rc = ts_error_set(err, TS_E_INTERNAL, "Out of memory.");
    if (rc == TS_OK || c.dn == norm)
        norm = NULL; /* owned by c */
    if (rc == TS_OK) {
        log_kv(LOG_INFO, "ldap.lookup", "dn", a.dn_raw, "user", a.name, "result", "ok", NULL);
        *out = c;
        memset(&c, 0, sizeof c);
    }
    free(norm);
    free(a.name);
    free(a.dn_raw);
    idp_claims_cleanup(&c);
    return rc;
}
