/* admin_int.h -- inside the admin API (admin_api.c: route, table, skeleton; admin_iam.c:
 * users, groups, policies; admin_roles.c: roles and sessions). */
#ifndef TS_ADMIN_INT_H
#define TS_ADMIN_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "sts/admin_api.h"

#define ADMIN_MAX_SEGS 4
#define ADMIN_AUDIT_MAX 6

struct admin_api {
    struct iam_store *st;
    struct pol_engine *pe;
    struct sts_ctx *sts;
    admin_lifecycle_fn lc_run; /* admin_api_set_lifecycle (NULL: none) */
    void *lc_ctx;
};

struct admin_endpoint;

/* One call. The skeleton (admin_api.c) parses the body (ADMIN_JSON), runs the handler, and
 * replies: 200 with out, or the handler's error with msg (default for TS_E_NO_SUCH_ENTITY:
 * "<what> <name> does not exist"); after a success of a mutating endpoint it writes the
 * audit line {"op": endpoint's audit, what: name, audit pairs...}. */
struct admin_call {
    struct http_req *r;
    struct admin_api *api;
    const struct admin_endpoint *ep;
    char *path; /* the segments' storage */
    const char *seg[ADMIN_MAX_SEGS];
    size_t nseg;
    const char *name;                   /* the {name} segment, when the pattern has one */
    json_t *body;                       /* the request's JSON object (ADMIN_JSON endpoints) */
    json_t *out;                        /* the 200 reply */
    const char *audit[ADMIN_AUDIT_MAX]; /* extra key/value pairs for the audit line */
    char *norm;                         /* a normalised DN the handler uses (owned) */
    int unknown;                        /* resolve: the endpoint error kept for finish */
    char msg[512];
};

/* A handler: TS_OK with c->out set, or an error (c->msg optional). */
typedef int (*admin_handler)(struct admin_call *c);

#define ADMIN_JSON 1u /* the body must be a JSON object (c->body) */
#define ADMIN_SELF 2u /* a static user may call it on itself (its own secret) */
#define ADMIN_ADD                                                                                  \
    4u /* the handler's adding form (create, add members, attach); without it the                  \
          other (set secret, remove members, detach): admin_adds() */

#define ADMIN_SVC                                                                                  \
    8u /* service accounts: any signed caller reaches the handler, which authorizes the action     \
          once it knows the account's parent (its own accounts: unless denied; admin_svc.c) */

struct admin_endpoint {
    const char *method;
    const char *pattern; /* segments separated by '/', '*' matches one name */
    const char *action;  /* admin:* IAM action */
    admin_handler handler;
    unsigned flags;
    const char *what;  /* what the name names ("user"...), for messages and audit */
    const char *audit; /* audit "op" of a success; NULL for reads */
};

/* Sets c->msg from fmt and returns err. */
int admin_fail(struct admin_call *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* c->out = {k1: v1, k2: true} (a common reply: {"name": N, "removed": true}). TS_OK or
 * TS_E_INTERNAL. */
int admin_done(struct admin_call *c, const char *k1, const char *v1, const char *k2);
/* The reply of a listing: c->out = {key: [item(c, name) for each of names, after the entries
 * already in arr]}; names for which item returns NULL (removed meanwhile) are left out. Frees
 * names; takes arr (NULL: out of memory, an empty list). Returns TS_OK. */
int admin_list_out(struct admin_call *c, const char *key, struct iam_strv *names, json_t *arr,
                   json_t *(*item)(struct admin_call *c, const char *name));
/* Whether c's endpoint is the adding form of its handler (ADMIN_ADD). */
bool admin_adds(const struct admin_call *c);
/* The reply of an attach or detach: c->out = {k1: v1, k2: v2, "attached"|"detached": true},
 * and k2 = v2 in the audit line. TS_OK or TS_E_INTERNAL. */
int admin_attach_done(struct admin_call *c, const char *k1, const char *v1, const char *k2,
                      const char *v2);
json_t *admin_strv_json(const struct iam_strv *sv);
/* A string member of the body, or NULL. */
const char *admin_body_str(struct admin_call *c, const char *key);
/* Whether policy name exists (canned or stored): TS_OK with *exists, or a store error. */
int admin_policy_exists(struct admin_call *c, const char *name, bool *exists);

/* admin_iam.c */
int admin_user_list(struct admin_call *c);
int admin_user_put(struct admin_call *c); /* ADMIN_ADD: create; else set the secret */
int admin_user_info(struct admin_call *c);
int admin_user_remove(struct admin_call *c);
int admin_user_enable(struct admin_call *c);
int admin_user_disable(struct admin_call *c);
int admin_group_list(struct admin_call *c);
int admin_group_info(struct admin_call *c);
int admin_group_remove(struct admin_call *c);
int admin_group_members(struct admin_call *c); /* ADMIN_ADD: add; else remove */
int admin_policy_list(struct admin_call *c);
int admin_policy_create(struct admin_call *c);
int admin_policy_info(struct admin_call *c);
int admin_policy_remove(struct admin_call *c);
int admin_policy_attach(struct admin_call *c); /* ADMIN_ADD: attach; else detach */

/* admin_roles.c */
int admin_sts_revoke(struct admin_call *c);
int admin_sts_rotate_key(struct admin_call *c);
int admin_cluster_status(struct admin_call *c);
int admin_role_list(struct admin_call *c);
int admin_role_create(struct admin_call *c);
int admin_role_info(struct admin_call *c);
int admin_role_remove(struct admin_call *c);
int admin_role_set_trust(struct admin_call *c);
int admin_role_attach(struct admin_call *c); /* ADMIN_ADD: attach; else detach */

/* admin_svc.c */
int admin_svc_create(struct admin_call *c);
int admin_svc_list(struct admin_call *c);
int admin_svc_info(struct admin_call *c);
int admin_svc_edit(struct admin_call *c);
int admin_svc_enable(struct admin_call *c); /* ADMIN_ADD: enable; else disable */
int admin_svc_remove(struct admin_call *c);

/* admin_lc.c: POST lifecycle/run {"now": RFC 3339 (optional)}. */
int admin_lifecycle_run(struct admin_call *c);

#endif
