/* sts_int.h -- private to sts/: the context, the token keyring, the sealed-token codec and
 * the STS action table. Not for other modules (they use sts/sts.h).
 *
 * Thread-safety: struct sts_ctx's config fields, st and pe are immutable after
 * sts_ctx_new; the keyring is swapped whole under `lock` (readers copy the key they need
 * out under the read lock); the backends are plugged in only before the server starts.
 */
#ifndef TS_STS_INT_H
#define TS_STS_INT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "sts/sigv4.h"
#include "sts/sts.h"

#define STS_KID_LEN 8
#define STS_TOKEN_VERSION 1
#define STS_KEYS_BLOB "sts/token-keys"
#define STS_MAX_TOKEN_LEN (16 * 1024) /* refused beyond this before decoding */
/* Seconds a new token key only verifies before nodes seal with it (seal.c): the time a
 * rotation takes to reach every node sharing the store (etcd: within 1 s). */
#define STS_KEY_PUBLISH_S 2

/* One token key. The 32-byte master key is never used directly: the sealing key and the
 * secret-derivation key are HMAC-SHA256(master, "tessera-sts-seal-v1" / "...-derive-v1"). */
struct sts_key {
    char kid[STS_KID_LEN + 1];
    uint8_t master[32];
    uint8_t seal[32];
    uint8_t derive[32];
    time_t created;
    time_t retired; /* 0 for the active key */
};

struct sts_keyring {
    struct sts_key *keys; /* the active key is the last one */
    size_t n;
};

struct sts_params {
    struct http_kv *kv;
    size_t n;
};

/* The STS action table (actions.c): the one list of STS action names. Every other list --
 * dispatch, the route's blocking test, the login rate limit, the refusal metric, the
 * backends that may be plugged in -- is derived from it. */
struct sts_action {
    const char *name;
    /* A built-in answer (GetCallerIdentity): replies and returns TS_OK, or returns the error
     * set in *err. NULL for the actions that federate an identity (sts_federate). */
    int (*builtin)(struct sts_ctx *c, struct http_req *r, const struct sts_params *p,
                   struct ts_error *err);
    bool blocking;            /* may wait on an identity provider: run on worker threads */
    bool rate_limited;        /* an unsigned login: per-source token bucket (core/limits.h) */
    const char *metric;       /* backend label of tessera_sts_refusals_total, or NULL */
    const char *subject_elem; /* element carrying the token's subject in the answer, or NULL */
    /* What the action asks of the authz phase (sts/sts_authz.c): the IAM action (NULL for
     * PUBLIC rows: federated logins, whose backend authenticates the caller, and actions
     * answered NotImplemented), the parameter naming the resource (NULL: "*") and the
     * HTTP_AUTHZ_* flags. */
    const char *iam_action;
    const char *resource_param;
    unsigned authz_flags;
};
#define STS_NACTIONS 12
/* Client certificates of a TLS handshake looked at (a leaf and MinIO's 10 intermediates fit). */
#define STS_PEER_CHAIN_MAX 16
extern const struct sts_action sts_actions[STS_NACTIONS];
/* The row of action name, or NULL. */
const struct sts_action *sts_action_find(const char *name);
/* Counts a refusal of a login action (by name) in tessera_sts_refusals_total{backend,reason}:
 * the STS route and the /login pages (sts/login_web.c) count in the same family. */
void sts_count_refusal(const char *action, int err);
/* Creates action's backend counters with value 0 (issued; the usual refusal reasons), so
 * that they exist from the start. When a backend is set (and for AssumeRole at creation). */
void sts_metrics_zero(const char *action);

struct sts_ctx {
    struct sts_config cfg; /* strings owned (copies) */
    char *region, *root_user, *root_secret, *data_dir;
    struct iam_store *st;
    struct pol_engine *pe;
    struct sigv4_keycache *keycache; /* internally locked */
    struct sts_tokcache *tokcache;   /* opened session tokens (tokcache.c); internally locked */

    pthread_rwlock_t lock; /* guards ring, ring_gen */
    struct sts_keyring ring;
    uint64_t ring_gen;           /* iam_store_generation when ring was loaded */
    struct sts_cluster *cluster; /* this node's heartbeats (cluster.c), or NULL; set before
                                    the server starts */

    struct idp_backend static_backend;                /* AssumeRole's (static.c) */
    struct idp_backend session_token_backend;         /* GetSessionToken's (static.c) */
    const struct idp_backend *backends[STS_NACTIONS]; /* by row of sts_actions; NULL: none */
};

/* The decoded content of a session token. Strings owned; cleanup wipes and frees. */
struct sts_token {
    char access_key[21];
    time_t issued, expires;
    int64_t issued_ns; /* issue time in ns (iam_now_ns), compared with not-before times */
    char *parent, *username, *source, *session_policy, *session_name, *role_arn;
    char *role; /* verified tessera role name ("ro"), or NULL */
    struct iam_strv policies;
    struct iam_strv session_policies; /* managed session policies ("sm", PolicyArns), by name */
    struct http_kv *claims;
    size_t nclaims;
};
void sts_token_cleanup(struct sts_token *t);

/* Whether revocable state (static users, temporary credentials, roles, attachments,
 * revocations) may be trusted now (iam_store_fresh): TS_OK, or 503 ServiceUnavailable in e
 * with the store's reason (etcd not synchronised within TESSERA_ETCD_STALE_MAX). */
int sts_store_fresh(struct sts_ctx *c, struct ts_error *e);

/* ---- keyring (seal.c) ---- */

/* Loads the keyring from the store, generating and storing a first key when there is none.
 * TS_OK or TS_E_INTERNAL. */
int sts_keys_load(struct sts_ctx *c);
void sts_keyring_free(struct sts_keyring *ring);
/* The ids of the token keys this node verifies with (oldest first; reloaded first when the
 * store changed) into ids[0..max), and the one it seals with now into mint (NULL: not
 * wanted; "" when there is none). Returns how many were written. */
size_t sts_key_ids(struct sts_ctx *c, char ids[][STS_KID_LEN + 1], size_t max,
                   char mint[STS_KID_LEN + 1]);

/* ---- token codec (seal.c) ---- */

/* Seals t with the active key into a base64url token (malloc'ed) and derives the secret
 * (40 chars + NUL) for t->access_key. TS_OK or TS_E_INTERNAL. */
int sts_seal(struct sts_ctx *c, const struct sts_token *t, char **token, char secret[41]);

/* Opens a token: checks version, key id, AEAD tag, payload shape and expiry against now.
 * On TS_OK *out owns the content and secret holds the derived secret. Errors:
 * TS_E_INVALID_TOKEN (truncated, tampered, unknown key, malformed) or TS_E_EXPIRED_TOKEN;
 * *out is untouched then. Never reads out of bounds, whatever the input. */
int sts_unseal(struct sts_ctx *c, const char *token, size_t len, time_t now, struct sts_token *out,
               char secret[41]);

/* ---- service-account secrets (seal.c) ---- */

#define STS_SVC_KEY_BLOB "sts/svcacct-key"
/* Seals secret (at most 40 bytes) for service account ak into *out (base64url, malloc'ed),
 * creating the service-account master key in the store on first use. TS_OK, or
 * TS_E_INVALID_ARGUMENT (too long) / a store error / TS_E_INTERNAL. */
int sts_svc_seal(struct sts_ctx *c, const char *ak, const char *secret, char **out);
/* Opens it into secret: TS_OK, or TS_E_INVALID_TOKEN (tampered, another account's, no key). */
int sts_svc_open(struct sts_ctx *c, const char *ak, const char *sealed, char secret[41]);

/* ---- service accounts (svcacct.c) ---- */

/* The authn hook's lookup of an access key that is no static user: a service account that is
 * enabled, not expired, and whose parent is still valid (static: exists and is enabled;
 * LDAP/OpenID: not revoked since the account's creation). TS_OK with *out (type
 * POL_PRINCIPAL_SVC) and *secret (malloc'ed), TS_E_INVALID_ACCESS_KEY with a client message
 * in *msg, or another error. */
int sts_svc_resolve(struct sts_ctx *c, const char *ak, struct pol_principal **out, char **secret,
                    const char **msg);

/* ---- opened-token cache (tokcache.c) ---- */

struct sts_tokcache *sts_tokcache_new(void);
void sts_tokcache_free(struct sts_tokcache *tc);
/* sts_unseal with a cache in front: same contract and results, by the token text's hash. */
int sts_unseal_cached(struct sts_ctx *c, const char *token, size_t len, time_t now,
                      struct sts_token *out, char secret[41]);

/* A random access key id: 20 chars of [A-Z0-9]. Returns 0 or -1. */
int sts_new_access_key(char out[21]);

/* ---- mint.c ---- */

/* The typed ARN of a session (policy/pol.h), derived from what was verified, never from the
 * request's RoleArn or from identity text that is not ARN-legal:
 *   - a session of tessera role ROLE (its trust policy admitted the caller):
 *     "arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION", SESSION the session name or the
 *     access key (AWS);
 *   - a role-less session of a static user or root (source "static" / "root"): the parent's
 *     own ARN, arn:aws:iam::ACCOUNT:user/PARENT or arn:aws:iam::ACCOUNT:root (MinIO);
 *   - any other (OpenID, client grants, LDAP without a tessera role, including an OpenID
 *     provider's RolePolicy mode): "arn:aws:sts::ACCOUNT:federated-user/NAME" with NAME
 *     sts_federated_name(source, parent): one per verified identity, never per session.
 * malloc'ed, NULL on OOM (or a federated session without parent/source). */
char *sts_session_arn(const char *role, const char *parent, const char *source,
                      const char *session_name, const char *access_key);
/* The name of a federated identity in its ARN: "HINT.DIGEST", DIGEST the base64url of the
 * first STS_FED_DIGEST_BYTES of SHA-256 over the length-prefixed identity kind ("openid" for
 * oidc and clientgrants, else the source) and parent ("ISSUER#SUB", the LDAP user DN), HINT
 * a readable, ARN-legal excerpt of the parent (the subject, the DN's first RDN value; at
 * most STS_FED_HINT_MAX bytes, other bytes written as '_'). Two identities (another issuer,
 * subject, DN or backend kind) never share a name; at most 43 characters of [\w+=,.@-].
 * malloc'ed, NULL on OOM. */
char *sts_federated_name(const char *source, const char *parent);
#define STS_FED_HINT_MAX 20
#define STS_FED_DIGEST_BYTES 16 /* 22 base64url characters, 128 bits */
/* The session's aws:userid, GetCallerIdentity UserId and AssumedRoleId (AWS's shapes): a role
 * session "ROLEID:SESSION" (ROLEID sts_role_id), a federated identity "ACCOUNT:NAME" (NAME as
 * in its ARN), a role-less session of a static user or root "<access key>:<session name>"
 * (or the access key alone). malloc'ed, NULL on OOM. */
char *sts_session_userid(const char *role, const char *parent, const char *source,
                         const char *session_name, const char *access_key);
/* A role's id: "AROA" and 17 characters of [A-Z2-7] derived from its name (stable across
 * restarts; tessera stores no role ids). */
#define STS_ROLE_ID_LEN 21
void sts_role_id(const char *role, char out[STS_ROLE_ID_LEN + 1]);
/* Expiration as 2019-08-08T20:26:12Z into out (32 bytes). */
void sts_time_expiration(time_t t, char *out);

/* ---- static.c ---- */

/* Fills *b with the static-user backend of AssumeRole: the SigV4 caller (a static user or
 * root) is the identity; a user's explicit Deny of sts:AssumeRole refuses. */
void sts_static_backend_init(struct sts_ctx *c, struct idp_backend *b);
/* Fills *b with the backend of GetSessionToken: the same identity (a static user or root,
 * never temporary credentials: AccessDenied "Cannot call GetSessionToken with session
 * credentials"), no role and no session parameters (RoleArn, RoleSessionName, Policy,
 * PolicyArns: InvalidParameterValue), DurationSeconds 900..129600 (43200 when absent) cut to
 * the configured maximum, root's sessions to 3600 (AWS). */
void sts_session_token_backend_init(struct sts_ctx *c, struct idp_backend *b);

/* ---- actions.c (exposed for tests) ---- */
/* Parses an application/x-www-form-urlencoded body (+ is space) and appends to p. Returns
 * TS_OK, TS_E_STS_INVALID_PARAMETER on a bad escape, or TS_E_INTERNAL. */
int sts_params_parse_form(struct sts_params *p, const char *body, size_t len);
int sts_params_add(struct sts_params *p, const char *key, const char *value);
void sts_params_cleanup(struct sts_params *p);
/* The parameters of an STS request as the handler reads them: the query, then a form body.
 * TS_OK or an error (p then holds what was read; clean it up either way). */
int sts_request_params(struct http_req *r, struct sts_params *p);

/* ---- session_pol.c: managed session policies (PolicyArns) ---- */

#define STS_MAX_POLICY_ARNS 10  /* AWS: PolicyArns has at most 10 members */
#define STS_POLICY_NAME_MAX 128 /* idp/iam.c's policy names */
/* The tessera policy name in a PolicyArns value: "arn:PARTITION:iam::ACCOUNT:policy/NAME"
 * (ACCOUNT digits or none) or a plain NAME, NAME a legal policy name (1..128 printable
 * characters without ',', '/', ' '). TS_OK with out set, or TS_E_STS_INVALID_PARAMETER. */
int sts_policy_arn_name(const char *v, char out[STS_POLICY_NAME_MAX + 1]);
/* The policy names of the request's PolicyArns.member.N.arn parameters (N 1..10, first
 * occurrence of each N; duplicates dropped) into *out (release with iam_strv_free; empty when
 * there are none). TS_OK, or ValidationError (N > 10) / InvalidParameterValue (a value that is
 * no policy ARN or name, another PolicyArns.* key) in e with *out empty. */
int sts_session_policy_arns(const struct http_kv *params, size_t n, struct iam_strv *out,
                            struct ts_error *e);
/* AWS's PackedPolicySize: the session policies' plain text (the inline policy's characters
 * and each policy's ARN arn:aws:iam::ACCOUNT:policy/NAME) as a percentage, rounded up, of
 * STS_MAX_SESSION_POLICY characters; -1 when there is no session policy. */
long sts_packed_policy_size(const char *policy, const char *const *names, size_t n);
/* At mint time: the packed size is at most 100% (else PackedPolicyTooLarge) and every name
 * is a stored or canned policy (else InvalidParameterValue "Policy ... does not exist."). */
int sts_check_session_policies(struct iam_store *st, const char *policy,
                               const struct iam_strv *names, struct ts_error *e);

/* ---- sts_authz.c ---- */

/* route->resolve of the STS route: what the action asks of the authz phase. */
int sts_resolve(struct http_req *r, struct ts_error *e);
/* The names of the STS authorization table into names[0..max); returns how many rows. */

/* AssumeRole parameter checks (AWS's constraints): TS_OK, or an STS error with a message
 * for the client in msg (msglen bytes). */
int sts_check_version(const char *v, struct ts_error *e);
int sts_check_duration(const struct sts_ctx *c, const char *v, long *out, struct ts_error *e);
/* DurationSeconds v (not NULL) within STS_MIN_DURATION..limit (AWS's messages). */
int sts_check_duration_in(const char *v, long limit, long *out, struct ts_error *e);
int sts_check_policy(const char *v, struct ts_error *e);
int sts_check_role_arn(const char *v, struct ts_error *e);
int sts_check_session_name(const char *v, struct ts_error *e);

/* Fills p->arn and p->userid from its type and fields (root, user, temp), when unset.
 * TS_OK or TS_E_INTERNAL. */
int sts_principal_ids(struct pol_principal *p);

#endif
