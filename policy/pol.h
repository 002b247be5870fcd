/* pol.h -- IAM policy documents, their evaluation with AWS semantics, the principal every
 * request carries, and the authorizer that combines identity, session and bucket policies.
 *
 * Thread-safety: a parsed struct pol_doc is immutable and may be shared between threads.
 * struct pol_engine is thread-safe.
 */
#ifndef TS_POL_H
#define TS_POL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/http.h"
#include "core/log.h"
#include "idp/iam.h"

/* ---- documents ---- */

#define POL_MAX_DOC_LEN 20480 /* bytes of policy JSON */

struct pol_doc;

/* Parses and validates an IAM policy document (Version 2012-10-17 or 2008-10-17, Statement
 * object or list, Sid, Effect, Action/NotAction, Resource/NotResource, Principal /
 * NotPrincipal (bucket policies), Condition). On error returns TS_E_MALFORMED_POLICY and
 * writes a message naming the problem into err (errlen bytes); *out is untouched. */
int pol_doc_parse(const char *json, size_t len, struct pol_doc **out, char *err, size_t errlen);
void pol_doc_free(struct pol_doc *d);

/* The canned policies (readonly, readwrite, writeonly, diagnostics, consoleAdmin): the JSON
 * text, or NULL when name is not canned. */
const char *pol_canned_json(const char *name);

/* ---- the principal: who made a request (filled by sts/, read everywhere) ---- */

enum pol_principal_type {
    POL_PRINCIPAL_ANONYMOUS,
    POL_PRINCIPAL_ROOT,
    POL_PRINCIPAL_USER, /* static user */
    POL_PRINCIPAL_TEMP, /* temporary credentials */
    POL_PRINCIPAL_SVC,  /* a service account (long-lived keys of a parent; sts/svcacct.c) */
};

/* Credentials that act for a parent within a policy of their own: temporary credentials
 * (the session policy) and service accounts (their own policy, in session_policy). */
#define POL_PRINCIPAL_DERIVED(p) ((p)->type == POL_PRINCIPAL_TEMP || (p)->type == POL_PRINCIPAL_SVC)

/* Principals are typed by their ARN (arn), which is what bucket-policy and trust-policy
 * Principal elements match (see pol_doc_eval):
 *   root                                   arn:aws:iam::ACCOUNT:root
 *   static user NAME                       arn:aws:iam::ACCOUNT:user/NAME
 *   TEMP of a static user / root, no role  the parent's own ARN (user/NAME or root), as MinIO
 *   TEMP of tessera role R (any caller)    arn:aws:sts::ACCOUNT:assumed-role/R/SESSION
 *   TEMP of OIDC / LDAP without a role     arn:aws:sts::ACCOUNT:federated-user/NAME
 *                                          (NAME: one per verified identity, from the kind
 *                                          and "iss#sub" / the user DN: sts_federated_name)
 *   SVC (service account) of parent P      P's ARN as above (user/NAME, federated-user/NAME);
 *                                          policies: P's current ones, bounded by the
 *                                          account's own policy (in session_policy)
 * aws:username (username) is set only for root, static users and the role-less sessions of
 * a static user or root (the parent's name, as MinIO); it is unset (NULL) for role sessions
 * (as AWS) and for federated sessions, whose names come from outside tessera: they use
 * ${jwt:...} / ${ldap:...} instead, so no claim can pose as a static user's name. */
struct pol_principal {
    enum pol_principal_type type;
    char *access_key;                 /* the key that signed the request */
    char *username;                   /* aws:username (see above), or NULL when unset */
    char *userid;                     /* aws:userid */
    char *arn;                        /* GetCallerIdentity Arn (see above) */
    char *role_arn;                   /* TEMP of a tessera role: arn:aws:iam::ACCOUNT:role/NAME, the
                                       * role whose trust policy admitted it (aws:PrincipalArn);
                                       * its policies are exactly `policies`. NULL otherwise. */
    char *parent;                     /* TEMP, SVC: parent (user name, LDAP DN, OIDC "iss#sub") */
    char *source;                     /* "root", "static", "ldap", "oidc", "clientgrants", "role" */
    struct iam_strv policies;         /* TEMP from ldap/oidc/roles: the mapped policy names */
    char *session_policy;             /* TEMP: inline session policy; SVC: its own; or NULL */
    struct pol_doc *session_doc;      /* compiled session_policy (owned) */
    struct iam_strv session_policies; /* TEMP: managed session policies (PolicyArns), by name:
                                       * with session_policy, the session policies */
    struct http_kv *claims; /* condition keys from the identity: "jwt:sub", "ldap:dn"... */
    size_t nclaims;
    char *session_name;
    time_t expires; /* TEMP: expiry */
    time_t issued;  /* TEMP: issue time (revocation by not-before) */
};

/* A zeroed principal of that type, or NULL on OOM. Every pointer field is owned by the
 * principal (malloc'ed) and freed by pol_principal_free, which accepts NULL. */
struct pol_principal *pol_principal_new(enum pol_principal_type type);
void pol_principal_free(struct pol_principal *p);
/* Adds a claim (key and value copied): the condition keys and policy variables of the
 * identity, by convention "jwt:<claim>" (jwt:sub, jwt:groups...), "ldap:username",
 * "ldap:dn", "aws:PrincipalTag/<tag>". Repeat a key for a multi-valued claim (one entry per
 * group). Returns TS_OK, TS_E_INVALID_ARGUMENT (NULL argument) or TS_E_INTERNAL (OOM; p is
 * unchanged). */
int pol_principal_add_claim(struct pol_principal *p, const char *key, const char *value);

/* ---- evaluation ---- */

/* The context of one authorization question. Condition keys are looked up (names of the aws:,
 * s3:, sts:, ldap: namespaces case-insensitively; JWT claim names after jwt: and any other key
 * case-sensitively: see pol_key_canon in pol_int.h) first in keys[] (request keys: s3:prefix,
 * s3:delimiter, s3:max-keys, aws:Referer...), then from the principal (aws:username, aws:userid,
 * aws:PrincipalType, jwt:*, ldap:*), then the environment (aws:SourceIp, aws:SecureTransport,
 * aws:CurrentTime, aws:EpochTime, aws:UserAgent). A key may appear several times in keys[]
 * (multi-valued). */
struct pol_request {
    const char *action;   /* "s3:GetObject" */
    const char *resource; /* "arn:aws:s3:::bucket/key" */
    const char *version;  /* the version of the object resource named (NULL: the current one);
                           * the ACL source reads that version's ACL */
    const struct pol_principal *principal;
    const char *source_ip;
    bool secure_transport;
    const char *user_agent;
    time_t now;
    const struct http_kv *keys;
    size_t nkeys;
    /* Keys starting with this prefix (case-insensitive) are unknown to the request: a condition
     * on one cannot be evaluated and fails closed (its Deny statement applies, its Allow
     * statement does not). NULL: none. */
    const char *unknown_keys;
};

enum pol_decision { POL_IMPLICIT_DENY = 0, POL_ALLOW = 1, POL_EXPLICIT_DENY = 2 };

/* Evaluates one document (NULL: implicit deny). Statements with a Principal (bucket and
 * trust policies) apply only when it matches rq->principal: "*" and {"AWS":"*"} match
 * everyone including anonymous; an {"AWS": X} entry matches only the principal actually
 * authenticated, by its typed ARN (principal->arn; the account field of X is not compared:
 * tessera has one account): arn:aws:iam::ACCT:user/NAME (or a bare NAME) a static user and
 * its role-less sessions, arn:aws:sts::ACCT:assumed-role/R/S that session,
 * arn:aws:sts::ACCT:federated-user/NAME that federated identity, and
 * arn:aws:iam::ACCT:role/R every session of role R (principal->role_arn). The account
 * (arn:aws:iam::ACCT:root or a bare 12-digit id) matches root and its role-less sessions;
 * in a Deny statement (with Principal, not NotPrincipal) it matches every authenticated
 * principal. {"Federated": X} matches TEMP principals whose source is X. Actions match
 * case-insensitively, resources case-sensitively; a NULL rq->resource (admin actions) skips
 * the Resource check. rq->now == 0 means the current time. Allocates only for a condition
 * key with more than 64 values; if that fails, Deny statements apply and Allow ones do not. */
enum pol_decision pol_doc_eval(const struct pol_doc *d, const struct pol_request *rq);

/* Evaluates docs[0..n) (NULL entries skipped) as one set: an explicit Deny in any wins,
 * otherwise ALLOW when any allows. A NULL rq->resource means the action has no resource
 * (admin actions): Resource/NotResource are not checked. As pol_doc_eval, fails closed. */
enum pol_decision pol_eval_docs(const struct pol_doc *const *docs, size_t n,
                                const struct pol_request *rq);

/* Whether d is public as S3 judges a bucket policy (GetBucketPolicyStatus, BlockPublicPolicy,
 * RestrictPublicBuckets): an Allow statement whose Principal is "*" (or {"AWS": "*"}) or that
 * uses NotPrincipal, without a condition that fixes who calls (aws:SourceIp, aws:SourceArn,
 * aws:SourceVpc, aws:SourceVpce, aws:SourceAccount, aws:SourceOwner, aws:PrincipalOrgID,
 * aws:PrincipalAccount, aws:PrincipalArn, aws:userid, not negated nor ...IfExists). */
bool pol_doc_is_public(const struct pol_doc *d);

/* ---- the authorizer ---- */

struct pol_engine;

/* The engine reads policies from st and keeps compiled documents, and each static user's
 * resolved policy list, cached for one store generation (iam_store_generation() is checked
 * on every call; any mutation empties the cache). A name resolves to the stored policy, else
 * the canned one of that name, else nothing (ignored). NULL on OOM. */
struct pol_engine *pol_engine_new(struct iam_store *st);
void pol_engine_free(struct pol_engine *e);

/* The whole AWS decision for a request: root is allowed everything; otherwise an explicit
 * Deny anywhere wins; the identity policies (user + groups, or the TEMP session's mapped
 * policies / parent's current policies) must allow, or the bucket policy (bucket_policy, may
 * be NULL) must allow; for TEMP the session policy must allow too. On deny, *why (optional)
 * points at a static description ("explicit deny in policy X" / "no statement allows"). */
/* Details: a USER that is missing or disabled is denied (groups that are disabled are
 * skipped). A TEMP principal with policies.n > 0 or a role_arn (a role session: exactly
 * its role's policies, possibly none) uses those names; otherwise the parent
 * static user's current policies (a missing/disabled parent denies when source is NULL or
 * "static"; other sources then just have no identity policies). session_doc is used when
 * set, else session_policy is compiled on the fly (invalid: deny). ANONYMOUS (or a NULL
 * principal) gets only what the bucket policy allows. *why is always set (also on allow:
 * "allowed by identity policy", ...); it is static text with no names or secrets.
 * Thread-safe. */
enum pol_decision pol_authorize(struct pol_engine *e, const struct pol_request *rq,
                                const struct pol_doc *bucket_policy, const char **why);

/* What the session policies of rq->principal decide (TEMP only; others: POL_ALLOW): POL_ALLOW
 * when it has none; else the union of the inline session policy and the managed ones
 * (session_policies, by name, resolved now: a deleted one grants nothing), an explicit Deny
 * in any of them winning. Fails closed (POL_IMPLICIT_DENY) when one cannot be used.
 * Thread-safe. */
enum pol_decision pol_session_decision(struct pol_engine *e, const struct pol_request *rq);

/* What a resource says about who may act on it besides the identity policies (S3: the bucket's
 * policy, public access block and ACLs), for pol_authorize_res. */
struct pol_resource {
    const struct pol_doc *policy; /* its resource policy, or NULL */
    /* The policy is public and RestrictPublicBuckets is on: its Allow statements grant nothing
     * to anonymous callers (its Deny statements still apply). */
    bool restrict_public;
    /* The ACL source (NULL: none), asked only when no policy allowed and none denied
     * explicitly: POL_ALLOW when the ACLs grant rq->action on rq->resource to rq->principal;
     * anything else (an error reading an ACL included) allows nothing. */
    enum pol_decision (*acl)(const void *ctx, const struct pol_request *rq);
    const void *acl_ctx;
};

/* pol_authorize with the resource's whole say: an explicit Deny in any policy wins; otherwise
 * the identity policies, the resource policy, or (asked last, only then) the ACL source
 * allows; for TEMP the session policy must allow too. pol_authorize(e, rq, doc, why) is this
 * with a resource of policy doc alone. */
enum pol_decision pol_authorize_res(struct pol_engine *e, const struct pol_request *rq,
                                    const struct pol_resource *res, const char **why);

/* ---- the authorization plugin (policy/plugin.c; docs/OPA.md) ---- */

struct pol_plugin;

struct pol_plugin_config {
    const char *url;        /* where questions are POSTed (TESSERA_POLICY_PLUGIN_URL) */
    const char *auth_token; /* Authorization value: "Bearer TOKEN", or TOKEN alone; or NULL */
    long timeout_ms;        /* per question, connection included; 0: 2 s */
    const char *ca_file;    /* extra PEM bundle for https (TESSERA_CA_FILE), or NULL */
};

/* A plugin client (idle connections kept for reuse); st (may be NULL) gives static users'
 * groups. TS_OK or TS_E_INTERNAL. */
int pol_plugin_new(const struct pol_plugin_config *c, struct iam_store *st,
                   struct pol_plugin **out);
void pol_plugin_free(struct pol_plugin *pl);
/* Asks the plugin about rq (r, optional, gives the request headers of the conditions):
 * POL_ALLOW only for a 200 answer {"result": true} or {"result": {"allow": true}}; else
 * POL_IMPLICIT_DENY (fail closed), *why saying why (static text); errors are logged. Waits
 * for the plugin up to the timeout: call it from a worker thread, not an HTTP thread.
 * Thread-safe. */
enum pol_decision pol_plugin_ask(struct pol_plugin *pl, struct http_req *r,
                                 const struct pol_request *rq, const char **why);
/* The JSON text pol_plugin_ask sends for rq (malloc'ed), or NULL on OOM. */
char *pol_plugin_input(struct pol_plugin *pl, struct http_req *r, const struct pol_request *rq);
/* Makes e decide through pl (taken: freed with e) for every signed principal but root:
 * pol_authz_http then asks the plugin instead of evaluating identity and bucket policies. */
void pol_engine_set_plugin(struct pol_engine *e, struct pol_plugin *pl);
struct pol_plugin *pol_engine_plugin(const struct pol_engine *e);
/* The authz_remote hook of core/http (ctx: the engine): whether deciding for r may wait on
 * the plugin (a plugin is set and r's principal is not root nor anonymous, or not known yet). */
bool pol_authz_remote(void *ctx, const struct http_req *r);

/* ---- the authorization phase (policy/authz.c) ---- */

/* The authz hook of core/http (http_authz_fn; ctx: the struct pol_engine): the one authorizer
 * of every route. Applies q's principal rules (HTTP_AUTHZ_SIGNED, _STATIC, ANY_CALLER, self;
 * root is allowed everything), then asks pol_authorize for each item with the request context
 * of pol_request_init plus q's condition keys and aws:Referer, and the resource's own policy
 * (q->policy_get; an error there denies). Denials are audited as "<route>.deny" unless
 * HTTP_AUTHZ_QUIET. TS_OK or TS_E_ACCESS_DENIED; fails closed. */
int pol_authz_http(void *ctx, struct http_req *r, const struct http_authz *q, struct ts_error *e);

/* The context of a question about r (principal, or anonymous; source IP; TLS; user agent; the
 * current time), with no condition keys. */
void pol_request_init(struct pol_request *rq, struct http_req *r, const char *action,
                      const char *resource);

/* Who made r, for an audit record (core/log.h): the signing access key and its principal's
 * ARN (both NULL for an anonymous request), the source address and the request id. The
 * strings are borrowed from r. */
void pol_audit_actor(const struct http_req *r, struct log_actor *who);

/* Validates a document being written (admin "policy create", bucket policy put, STS Policy,
 * role trust policies): pol_doc_parse's rules plus every Action / NotAction naming an action
 * tessera checks (pol_action_known). TS_OK, or TS_E_MALFORMED_POLICY with a message in err. */
int pol_validate(const char *json, size_t len, char *err, size_t errlen);
/* Whether action ("s3:GetObject", or a wildcard such as "s3:Get*", any case) names or matches
 * at least one action tessera checks (policy/actions.c). */
bool pol_action_known(const char *action);

#endif
