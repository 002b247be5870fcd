/* oidc.h -- OpenID Connect providers: configuration from the environment, discovery and JWKS
 * over libcurl, and JWS verification of id_tokens / access tokens with cjose.
 *
 * A provider is configured with MinIO's variable names (core/cfg.h: TESSERA_ or MINIO_):
 * IDENTITY_OPENID_CONFIG_URL, _CLIENT_ID, _CLIENT_SECRET, _CLAIM_NAME (default "policy"),
 * _CLAIM_PREFIX, _SCOPES, _REDIRECT_URI, _ROLE_POLICY, _GROUPS_CLAIM, _CLAIM_USERINFO,
 * _ENABLE; further providers use the same names with a _<NAME> suffix
 * (TESSERA_IDENTITY_OPENID_CONFIG_URL_CORP). docs/CONFIG.md lists them all. A provider
 * without discovery is given by IDENTITY_OPENID_JWKS_URL (MinIO's MINIO_IAM_JWKS_URL) instead
 * of CONFIG_URL: its issuer is IDENTITY_OPENID_ISSUER (or, unset, not checked: a warning at
 * start); with both URLs, keys come from JWKS_URL and the rest from discovery.
 *
 * Keys: each provider's JWKS is fetched once, every JWK imported once with cjose and kept in
 * an immutable, reference-counted key set that is swapped whole. It is refetched
 * periodically (background thread) and on an unknown `kid` (at most once per
 * IDENTITY_OPENID_REFETCH_INTERVAL seconds, so random kids cannot hammer the provider). No
 * lock is held across an HTTP fetch: one fetch per provider runs at a time and a request that
 * needs its result waits at most the HTTP timeout; cached keys keep verifying while the
 * provider is down. A provider that is down at start is discovered later (background
 * retries, and on demand).
 *
 * Thread-safety: struct oidc_providers is thread-safe once oidc_providers_new returned.
 */
#ifndef TS_OIDC_H
#define TS_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "idp/idp.h"

#define OIDC_MAX_TOKEN_LEN (16 * 1024) /* bytes of a compact JWS */
#define OIDC_MAX_JSON_DEPTH 16         /* nesting of header / payload / JWKS JSON */
#define OIDC_MAX_SKEW 60               /* seconds of clock skew for exp, nbf, iat */

struct oidc_providers;
struct json_t;

/* Reads every configured provider from the environment and starts the background refresher
 * (which performs the first discovery right away, without delaying the caller). certs_dir
 * (may be NULL) adds every PEM file in certs_dir/CAs/ to the trusted CAs for outbound TLS,
 * besides the system store and TESSERA_CA_FILE. Returns TS_OK with *out set (possibly a set
 * of zero providers: see oidc_providers_count), or TS_E_INVALID_ARGUMENT with a message on
 * stderr naming the variable (e.g. a provider without CLIENT_ID), or TS_E_INTERNAL. */
int oidc_providers_new(const char *certs_dir, struct oidc_providers **out);
/* Stops the refresher and frees everything. NULL is a no-op. No verify may be running. */
void oidc_providers_free(struct oidc_providers *ps);
/* Number of enabled providers. */
size_t oidc_providers_count(const struct oidc_providers *ps);
/* Whether provider i answers now: its discovery document (until first read) and JWKS are
 * fetched and parsed, at most once per TESSERA_IDENTITY_OPENID_REFETCH_INTERVAL (within it,
 * the last fetch's result). A failure is logged (oidc.fetch) with its reason. Blocks at most
 * the fetch timeout; thread-safe. */
bool oidc_provider_reachable(struct oidc_providers *ps, size_t i);
/* Same as oidc_providers_new(NULL, &out) returning NULL on error. */
struct oidc_providers *oidc_providers_from_env(void);

/* Whether the STS should default the session duration to the token's remaining lifetime
 * (IDENTITY_OPENID_EXPIRY_FROM_TOKEN=on, MinIO's behaviour) instead of 3600 s (AWS's). */
bool oidc_providers_expiry_from_token(const struct oidc_providers *ps);

/* The role ARN of the provider at index i, or NULL when it has no ROLE_POLICY (for logs and
 * the start banner). The name ("" for the default provider) through *name (optional). */
const char *oidc_provider_role_arn(const struct oidc_providers *ps, size_t i, const char **name);
/* The DISPLAY_NAME of the provider at index i, or NULL (no discovery needed). */
const char *oidc_provider_display_name(const struct oidc_providers *ps, size_t i);
/* Whether the provider at index i has a discovery document (CONFIG_URL): false for one given
 * by its JWKS URL alone, which verifies tokens but has no browser login. */
bool oidc_provider_has_discovery(const struct oidc_providers *ps, size_t i);

/* Verifies a compact JWS token and fills *out (release with idp_claims_cleanup) on TS_OK.
 *
 * role_arn (may be NULL) selects a provider configured with ROLE_POLICY whose role ARN it
 * is: the claims then carry that role ARN and the provider's role policies in
 * out->policies. Otherwise the token's issuer selects a claim-mode provider and
 * out->policies holds the values of its policy claim (CLAIM_PREFIX + CLAIM_NAME: string,
 * comma-separated string or array); a RoleArn that names no provider role is ignored.
 * access_token marks an OAuth2 access token (AssumeRoleWithClientGrants): with
 * CLAIM_USERINFO on, the provider's userinfo claims are merged in.
 *
 * Checks: size and JSON nesting limits; alg in RS256/384/512, PS256/384/512, ES256/384/512
 * only (none and HS* refused); a key from the provider's JWKS only (tokens carrying jwk,
 * jku, x5u or x5c headers are refused), of a type matching alg and, when the JWK declares an
 * alg, that alg only; no crit header; iss equal to the discovered (or configured ISSUER)
 * issuer, not checked for a JWKS-only provider without ISSUER; aud containing the
 * client id or azp equal to it; exp and sub required; exp, nbf, iat within OIDC_MAX_SKEW.
 *
 * Returns TS_OK, TS_E_STS_INVALID_IDENTITY_TOKEN, TS_E_STS_EXPIRED_TOKEN,
 * TS_E_STS_IDP_COMMUNICATION (the provider could not be reached and nothing cached can
 * decide), TS_E_STS_INVALID_PARAMETER (role_arn names no provider role and no claim-mode
 * provider exists) or TS_E_INTERNAL; on error, err (optional) holds that code and a reason
 * safe to show the client and to log (never token material), as every identity backend
 * reports (idp/idp.h). *out is untouched on error. */
int oidc_verify(struct oidc_providers *ps, const char *token, const char *role_arn,
                bool access_token, struct idp_claims *out, struct ts_error *err);

/* ---- the browser login's authorization-code flow (sts/login_web.c) ---- */

/* What a login page needs of provider i (0 <= i < oidc_providers_count). Strings are borrowed
 * and live as long as ps: configuration, and the endpoints of the provider's discovery
 * document (set once, never changed). */
struct oidc_login_info {
    const char *name;         /* "" for the default provider */
    const char *display_name; /* DISPLAY_NAME, or NULL */
    const char *client_id;
    bool has_secret;          /* CLIENT_SECRET is set (a confidential client) */
    const char *scopes;       /* SCOPES (comma- or space-separated), or NULL */
    const char *redirect_uri; /* REDIRECT_URI, or NULL (derive it from the request) */
    const char *role_arn;     /* the provider's ROLE_POLICY role ARN, or NULL */
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *issuer; /* the discovered issuer */
};
/* Fills *out, discovering the provider first when that has not happened yet (waits at most
 * the HTTP timeout). Returns TS_OK, TS_E_STS_IDP_COMMUNICATION (not discovered; *why says
 * why) or TS_E_INVALID_ARGUMENT (no such provider, a provider given by its JWKS URL alone, or
 * its discovery document has no authorization/token endpoint). */
int oidc_login_info(struct oidc_providers *ps, size_t i, struct oidc_login_info *out,
                    const char **why);
/* The authorization-code grant (RFC 6749 4.1.3 with PKCE, RFC 7636) at provider i's token
 * endpoint: client_secret_basic when the provider has a CLIENT_SECRET. On TS_OK *id_token is
 * the (unverified: oidc_verify does that) id_token, malloc'ed. Otherwise
 * TS_E_STS_IDP_COMMUNICATION or TS_E_STS_INVALID_IDENTITY_TOKEN with a static *why. */
int oidc_code_exchange(struct oidc_providers *ps, size_t i, const char *code,
                       const char *code_verifier, const char *redirect_uri, char **id_token,
                       const char **why);
/* The string claim name of a compact JWS's payload, without verifying it, malloc'ed; NULL
 * when absent or undecodable (e.g. the id_token's nonce, compared once oidc_verify passed). */
char *oidc_token_claim(const char *token, const char *name);

/* ---- internal: shared by idp/oidc.c and idp/jwks.c, exposed for tests ---- */

struct oidc_keyset; /* immutable after parse; reference-counted */

/* HTTP settings for outbound fetches. */
struct oidc_http {
    long connect_timeout_ms;
    long timeout_ms;
    char *ca_file;   /* TESSERA_CA_FILE, or NULL */
    char **ca_extra; /* PEM files from CERTS_DIR/CAs/ (NULL-terminated), or NULL */
};

/* GETs url (http or https only, no redirects, at most 1 MiB) with an optional bearer token.
 * On TS_OK *body (malloc'ed, NUL-terminated) and *len hold a 2xx response body. Otherwise
 * TS_E_STS_IDP_COMMUNICATION with a static reason in *why. */
int oidc_http_get(const struct oidc_http *h, const char *url, const char *bearer, char **body,
                  size_t *len, const char **why);
/* The same, POSTing form (application/x-www-form-urlencoded, NULL: a GET) with HTTP basic
 * authentication when user is not NULL. */
int oidc_http_request(const struct oidc_http *h, const char *url, const char *bearer,
                      const char *form, const char *user, const char *password, char **body,
                      size_t *len, const char **why);
/* The same, with *status set to the HTTP status of an error answer (non-2xx), else 0. */
int oidc_http_do(const struct oidc_http *h, const char *url, const char *bearer, const char *form,
                 const char *user, const char *password, char **body, size_t *len, const char **why,
                 long *status);

/* Whether the JSON text s[0..n) nests arrays/objects deeper than max (strings are skipped
 * properly). Used before jansson sees untrusted JSON. */
bool oidc_json_too_deep(const char *s, size_t n, int max);
/* The payload of a compact JWS as a JSON object (jansson's json_t), decoded with
 * oidc_verify's rules (base64url, nesting limit, no duplicate keys); NULL when it cannot be.
 * It does not verify anything: call it on tokens oidc_verify accepted. json_decref it. */
struct json_t *oidc_token_payload(const char *token);

/* Parses a JWKS document. Keys that cjose cannot import, that are not RSA/EC, or whose
 * "use" is not "sig" are skipped. Returns a key set with a reference for the caller, or NULL
 * with *why set (not JSON, no "keys" array, too deep). */
struct oidc_keyset *oidc_keyset_parse(const char *json, size_t len, const char **why);
struct oidc_keyset *oidc_keyset_retain(struct oidc_keyset *ks);
void oidc_keyset_release(struct oidc_keyset *ks); /* NULL is a no-op */
size_t oidc_keyset_count(const struct oidc_keyset *ks);
/* Verifies the JWS (already imported by cjose; alg already checked against the allow-list)
 * with the key named kid (or, with kid NULL, any key that fits alg). Returns 1 when a key
 * verified it, 0 when a usable key exists but the signature does not verify, -1 when no key
 * fits (unknown kid, or no key of the right type / alg). */
int oidc_keyset_verify(const struct oidc_keyset *ks, void *cjose_jws, const char *kid,
                       const char *alg);

#endif
