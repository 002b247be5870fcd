/* tldap.h -- the LDAP / Active Directory identity backend (prefix tldap_: libldap owns ldap_*).
 *
 * AssumeRoleWithLDAPIdentity proves a user name and password the way MinIO does:
 *
 *   lookup bind (service account, pooled connection)
 *     -> search the user's DN with USER_DN_SEARCH_FILTER (%s = the RFC 4515-escaped name);
 *        exactly one entry or refuse
 *     -> bind as that DN with the password (pooled connection used only for such binds, never
 *        for searches; an empty password is refused before any bind: it would be an
 *        unauthenticated bind)
 *     -> search the groups with GROUP_SEARCH_FILTER (%s = name, %d = user DN, both escaped)
 *     -> struct idp_claims (DN and group DNs normalised with tldap_dn_normalize)
 *
 * The caller (sts/federate.c through the backend of sts/act_ldap.c) maps the DN and group DNs
 * to policies (attachments made with `tessera admin policy attach NAME --dn DN`), or checks
 * the trust policy of a requested role, and mints. A background
 * thread re-checks every DN that holds live credentials each REFRESH_INTERVAL with the lookup
 * account and revokes the DN's sessions (iam_parent_revoke_sessions) when the user is gone or
 * no longer gets every policy its credentials carry.
 *
 * Connections: ldaps://, or ldap:// + StartTLS, verified against the system store plus
 * TESSERA_CA_FILE and CERTS_DIR/CAs/ (every PEM file); plain ldap:// only with SERVER_INSECURE.
 * Every operation of one authentication shares one deadline (IDENTITY_LDAP_TIMEOUT seconds), so a
 * worker never waits on the directory longer than that. Lookup and user-bind connections are
 * pooled (TLDAP_POOL_SIZE idle of each), share one TLS context, and are re-established
 * transparently after the server restarts.
 *
 * Thread-safety: every function taking a struct tldap is thread-safe.
 */
#ifndef TS_TLDAP_H
#define TS_TLDAP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "idp/iam.h"
#include "idp/idp.h"

struct tldap;
struct sts_ctx;

#define TLDAP_MAX_USERNAME 256  /* bytes of LDAPUsername */
#define TLDAP_MAX_PASSWORD 1024 /* bytes of LDAPPassword */
#define TLDAP_MAX_DN 1024       /* bytes of a DN named by an admin (tldap_lookup_dn) */
#define TLDAP_POOL_SIZE 8       /* idle connections kept per pool (= the HTTP workers) */
#define TLDAP_SESSIONS_BLOB "ldap/sessions"

/* ---- configuration and lifetime ---- */

/* Reads the IDENTITY_LDAP_* settings from the parsed configuration (core/cfg.h) and
 * certs_dir (the server's --certs, may be NULL) for CAs/. Returns TS_OK with *out set; TS_OK
 * with *out NULL when LDAP is not configured (no SERVER_ADDR); or TS_E_INVALID_ARGUMENT with
 * a message naming the variable in err (errlen bytes), *out NULL. Does not connect. */
int tldap_new_from_env(const char *certs_dir, struct tldap **out, char *err, size_t errlen);

/* Starts the background validity checker against st (borrowed; must outlive l), loading the
 * tracked sessions from st (blob TLDAP_SESSIONS_BLOB). Returns TS_OK or TS_E_INTERNAL. */
int tldap_start(struct tldap *l, struct iam_store *st);

/* Stops the checker, closes every connection, removes temporary files. NULL is a no-op. */
void tldap_free(struct tldap *l);

/* The store given to tldap_start (NULL before). */
struct iam_store *tldap_store(const struct tldap *l);

/* The configured validity-check interval, seconds. */
long tldap_refresh_interval(const struct tldap *l);

/* ---- authentication ---- */

/* Authenticates username/password against the directory. On TS_OK *out (zeroed first) holds
 * kind IDP_LDAP, provider "ldap", subject = the DN as the directory returned it, dn = the
 * normalised DN, username = the canonical user name (the directory's value of the user-name
 * attribute), groups = normalised group DNs, vars "ldap:username", "ldap:dn" and
 * "ldap:<attr>" for each configured extra attribute, "ldap:groups" once per group DN; parent
 * = the normalised DN, source "ldap", federated {"ldap"}. Errors (the code and a client-safe
 * text in *err, never the password):
 *   TS_E_STS_ACCESS_DENIED      unknown user, several matches, wrong or empty password
 *   TS_E_STS_INVALID_PARAMETER  user name empty, too long or not UTF-8-clean
 *   TS_E_SERVICE_UNAVAILABLE    directory unreachable / timed out / lookup bind refused
 *   TS_E_INTERNAL               out of memory
 * *out is left zeroed on error. */
int tldap_authenticate(struct tldap *l, const char *username, const char *password,
                       struct idp_claims *out, struct ts_error *err);

/* Finds the user whose entry is at dn, without a password (an admin naming an LDAP DN as a
 * service account's parent), with the lookup account and within one IDENTITY_LDAP_TIMEOUT:
 * a base-scope search at dn (the DN is the search base, never part of a filter) reads the
 * entry's user-name attribute; the user search with that name (escaped as a login's) must
 * find exactly that entry (same normalised DN); then the group search. On TS_OK *out holds
 * what tldap_authenticate gives for that user's own login (dn and parent = the normalised
 * DN, groups, vars). Blocks: never call it on an HTTP thread. Errors (code and message in
 * *err, *out left zeroed):
 *   TS_E_INVALID_ARGUMENT      dn is not a DN (malformed, without '=', over TLDAP_MAX_DN
 *                              bytes, control characters), or no user-name attribute is known
 *   TS_E_NO_SUCH_ENTITY        no entry there, or not one the user search finds
 *   TS_E_SERVICE_UNAVAILABLE   directory unreachable / timed out / lookup bind refused
 *   TS_E_INTERNAL              out of memory */
int tldap_lookup_dn(struct tldap *l, const char *dn, struct idp_claims *out, struct ts_error *err);

/* The policies for an LDAP identity, from the one claims->policy mapper (policy/mapper.h):
 * those attached (IAM_TARGET_DN) to the normalised user DN and to every normalised group DN
 * that exist, sorted and unique (empty when none). TS_OK or TS_E_INTERNAL. */
int tldap_map_policies(struct iam_store *st, const char *dn, const struct iam_strv *groups,
                       struct iam_strv *out);

/* Remembers that credentials were issued to the normalised DN dn (user name username, with
 * policies, valid until expires) so that the background checker re-validates it until the
 * last such credential expires. Persisted in the IAM store. TS_OK or TS_E_INTERNAL. */
int tldap_track(struct tldap *l, const char *dn, const char *username,
                const struct iam_strv *policies, time_t expires);

/* Runs one validity check of every tracked DN now (the background thread calls this every
 * interval; tests may call it directly). Returns the number of DNs whose sessions were
 * revoked, or -1 when the checker is not started. */
int tldap_check_now(struct tldap *l);

/* Whether the directory answers now: a lookup connection (bound as the lookup account) reads
 * the root DSE within the configured LDAP timeout. The result is reused for 2 seconds; a
 * failure is logged (ldap.probe) with its reason. Blocks; thread-safe. */
bool tldap_probe(struct tldap *l);

/* ---- pure helpers (tests/unit/ldap/test_filter.c) ---- */

/* RFC 4515 value escaping: '*', '(', ')', '\' and NUL become \2a \28 \29 \5c \00; other
 * bytes are kept. Returns a malloc'ed string or NULL (OOM). */
char *tldap_filter_escape(const char *s);

/* Expands a filter template: every "%s" becomes the escaped name, every "%d" the escaped
 * DN (dn may be NULL: "%d" then expands to nothing); other characters are copied. Returns a
 * malloc'ed string or NULL (OOM). */
char *tldap_filter_expand(const char *tmpl, const char *name, const char *dn);

/* Normalises a DN for comparisons and attachments: attribute types and values lower-cased,
 * spaces around ',', '+' and '=' and at both ends removed, escapes kept but written in one
 * form (special characters as "\c", "\2c" -> "\,"; hex escapes of other bytes decoded), so
 * "CN=Smith\2C John , DC=Example" -> "cn=smith\, john,dc=example". Returns a malloc'ed
 * string, or NULL on OOM or a malformed DN (dangling escape, RDN without '='). */
char *tldap_dn_normalize(const char *dn);

/* The attribute named in the first "(attr=%s)" of a filter template, e.g. "uid" for
 * "(&(objectClass=person)(uid=%s))", into out (outlen bytes). Returns true when found. */
bool tldap_filter_name_attr(const char *tmpl, char *out, size_t outlen);

/* ---- STS glue (defined in sts/act_ldap.c) ---- */

/* Registers the LDAP identity backend (tldap_authenticate) for AssumeRoleWithLDAPIdentity and
 * the browser login: sts_federate maps its policies (or a role's), mints with parent =
 * normalised DN and source "ldap", and hands the DN to the validity checker (tldap_track). l must
 * be started (tldap_start) and outlive c. Returns TS_OK, TS_E_INVALID_ARGUMENT (l not started) or
 * an error from sts_set_backend. */
int sts_ldap_register(struct sts_ctx *c, struct tldap *l);

#endif
