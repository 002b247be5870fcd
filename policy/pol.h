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
#include "idp/iam.h"

/* ---- documents ---- */

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
};

struct pol_principal {
    enum pol_principal_type type;
    char *access_key;     /* the key that signed the request */
    char *username;       /* aws:username: static user name, or parent's name for TEMP */
    char *userid;         /* aws:userid */
    char *arn;            /* GetCallerIdentity Arn */
    char *parent;         /* TEMP: parent identity (user name, LDAP DN, OIDC "iss#sub") */
    char *source;         /* "root", "static", "ldap", "oidc", "clientgrants", "role" */
    struct iam_strv policies;   /* TEMP from ldap/oidc/roles: the mapped policy names */
    char *session_policy;       /* TEMP: inline session policy JSON, or NULL */
    struct pol_doc *session_doc;/* compiled session_policy (owned) */
    struct http_kv *claims;     /* condition keys from the identity: "jwt:sub", "ldap:dn"... */
    size_t nclaims;
    char *session_name;
    time_t expires;             /* TEMP: expiry */
    time_t issued;              /* TEMP: issue time (revocation by not-before) */
};

struct pol_principal *pol_principal_new(enum pol_principal_type type);
void pol_principal_free(struct pol_principal *p);
/* Adds a claim (copied). */
int pol_principal_add_claim(struct pol_principal *p, const char *key, const char *value);

/* ---- evaluation ---- */

/* The context of one authorization question. Condition keys are looked up, case-insensitively,
 * first in keys[] (request keys: s3:prefix, s3:delimiter, s3:max-keys, aws:Referer...), then
 * from the principal (aws:username, aws:userid, aws:PrincipalType, jwt:*, ldap:*), then the
 * environment (aws:SourceIp, aws:SecureTransport, aws:CurrentTime, aws:EpochTime,
 * aws:UserAgent). A key may appear several times in keys[] (multi-valued). */
struct pol_request {
    const char *action;   /* "s3:GetObject" */
    const char *resource; /* "arn:aws:s3:::bucket/key" */
    const struct pol_principal *principal;
    const char *source_ip;
    bool secure_transport;
    const char *user_agent;
    time_t now;
    const struct http_kv *keys;
    size_t nkeys;
};

enum pol_decision { POL_IMPLICIT_DENY = 0, POL_ALLOW = 1, POL_EXPLICIT_DENY = 2 };

/* Evaluates one document. For bucket policies (has_principal), statements apply only when
 * their Principal matches rq->principal. Never fails. */
enum pol_decision pol_doc_eval(const struct pol_doc *d, const struct pol_request *rq);

/* ---- the authorizer ---- */

struct pol_engine;

/* The engine reads policies from st and keeps compiled documents cached by name and store
 * generation. */
struct pol_engine *pol_engine_new(struct iam_store *st);
void pol_engine_free(struct pol_engine *e);

/* The whole AWS decision for a request: root is allowed everything; otherwise an explicit
 * Deny anywhere wins; the identity policies (user + groups, or the TEMP session's mapped
 * policies / parent's current policies) must allow, or the bucket policy (bucket_policy, may
 * be NULL) must allow; for TEMP the session policy must allow too. On deny, *why (optional)
 * points at a static description ("explicit deny in policy X" / "no statement allows"). */
enum pol_decision pol_authorize(struct pol_engine *e, const struct pol_request *rq,
                                const struct pol_doc *bucket_policy, const char **why);

/* Validates a document (for admin "policy create" and STS Policy): TS_OK, or
 * TS_E_MALFORMED_POLICY with a message in err. */
int pol_validate(const char *json, size_t len, char *err, size_t errlen);

#endif
