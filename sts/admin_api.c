/* admin_api.c -- the admin API route (/tessera/admin/v1/...): users, groups, policies,
 * attachments, roles and session revocation, as JSON over SigV4-signed HTTP.
 *
 * One table (admin_endpoints[]) maps method + path pattern to the admin:* action that guards
 * it and its handler, after the redis command table. route->resolve finds the endpoint and
 * declares its action to the authz phase of core/http, so no handler runs unauthorized; one
 * skeleton (admin_finish) parses the body, runs the handler, writes the audit line and
 * replies. Handlers (admin_iam.c, admin_roles.c) return TS_OK with c->out or an error with a
 * message; errors are shaped {"Code","Message","RequestId"} (err_style HTTP_ERR_JSON).
 *
 * Thread-safety: struct admin_api is immutable after admin_api_route_init; everything it
 * points at is thread-safe.
 */
#include "sts/admin_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "idp/kv.h"
#include "ldap/tldap.h"

static const struct admin_endpoint admin_endpoints[] = {
    {"GET", "users", "admin:ListUsers", admin_user_list, 0, NULL, NULL},
    {"PUT", "users/*", "admin:CreateUser", admin_user_put, ADMIN_JSON | ADMIN_ADD, "user",
     "user.add"},
    {"PUT", "users/*/secret", "admin:UpdateUser", admin_user_put, ADMIN_JSON | ADMIN_SELF, "user",
     "user.set-secret"},
    {"GET", "users/*", "admin:GetUser", admin_user_info, 0, "user", NULL},
    {"DELETE", "users/*", "admin:DeleteUser", admin_user_remove, 0, "user", "user.remove"},
    {"POST", "users/*/enable", "admin:EnableUser", admin_user_enable, 0, "user", "user.enable"},
    {"POST", "users/*/disable", "admin:DisableUser", admin_user_disable, 0, "user", "user.disable"},
    {"GET", "groups", "admin:ListGroups", admin_group_list, 0, NULL, NULL},
    {"GET", "groups/*", "admin:GetGroup", admin_group_info, 0, "group", NULL},
    {"DELETE", "groups/*", "admin:RemoveUserFromGroup", admin_group_remove, 0, "group",
     "group.remove"},
    {"POST", "groups/*/add-members", "admin:AddUserToGroup", admin_group_members,
     ADMIN_JSON | ADMIN_ADD, "group", "group.add"},
    {"POST", "groups/*/remove-members", "admin:RemoveUserFromGroup", admin_group_members,
     ADMIN_JSON, "group", "group.remove_members"},
    {"GET", "policies", "admin:ListUserPolicies", admin_policy_list, 0, NULL, NULL},
    {"PUT", "policies/*", "admin:CreatePolicy", admin_policy_create, 0, "policy", "policy.create"},
    {"GET", "policies/*", "admin:GetPolicy", admin_policy_info, 0, "policy", NULL},
    {"DELETE", "policies/*", "admin:DeletePolicy", admin_policy_remove, 0, "policy",
     "policy.remove"},
    {"POST", "policies/*/attach", "admin:AttachUserOrGroupPolicy", admin_policy_attach,
     ADMIN_JSON | ADMIN_ADD, "policy", "policy.attach"},
    {"POST", "policies/*/detach", "admin:AttachUserOrGroupPolicy", admin_policy_attach, ADMIN_JSON,
     "policy", "policy.detach"},
    {"POST", "sts/revoke", "admin:RevokeTokens", admin_sts_revoke, ADMIN_JSON, NULL, "sts.revoke"},
    {"POST", "sts/rotate-key", "admin:RotateTokenKey", admin_sts_rotate_key, 0, NULL,
     "sts.rotate_key"},
    {"GET", "cluster/status", "admin:ServerInfo", admin_cluster_status, 0, NULL, NULL},
    {"GET", "roles", "admin:ListRoles", admin_role_list, 0, NULL, NULL},
    {"PUT", "roles/*", "admin:CreateRole", admin_role_create, 0, "role", "role.create"},
    {"GET", "roles/*", "admin:GetRole", admin_role_info, 0, "role", NULL},
    {"DELETE", "roles/*", "admin:DeleteRole", admin_role_remove, 0, "role", "role.remove"},
    {"PUT", "roles/*/trust", "admin:UpdateRoleTrust", admin_role_set_trust, 0, "role",
     "role.trust"},
    {"POST", "roles/*/attach", "admin:AttachRolePolicy", admin_role_attach, ADMIN_JSON | ADMIN_ADD,
     "role", "role.attach"},
    {"POST", "roles/*/detach", "admin:AttachRolePolicy", admin_role_attach, ADMIN_JSON, "role",
     "role.detach"},
    {"POST", "svcaccts", "admin:CreateServiceAccount", admin_svc_create, ADMIN_JSON | ADMIN_SVC,
     "service account", "svcacct.add"},
    {"GET", "svcaccts", "admin:ListServiceAccounts", admin_svc_list, ADMIN_SVC, NULL, NULL},
    {"GET", "svcaccts/*", "admin:ListServiceAccounts", admin_svc_info, ADMIN_SVC, "service account",
     NULL},
    {"POST", "svcaccts/*", "admin:UpdateServiceAccount", admin_svc_edit, ADMIN_JSON | ADMIN_SVC,
     "service account", "svcacct.edit"},
    {"POST", "svcaccts/*/enable", "admin:UpdateServiceAccount", admin_svc_enable,
     ADMIN_SVC | ADMIN_ADD, "service account", "svcacct.enable"},
    {"POST", "svcaccts/*/disable", "admin:UpdateServiceAccount", admin_svc_enable, ADMIN_SVC,
     "service account", "svcacct.disable"},
    {"DELETE", "svcaccts/*", "admin:RemoveServiceAccount", admin_svc_remove, ADMIN_SVC,
     "service account", "svcacct.remove"},
    {"POST", "lifecycle/run", "admin:RunLifecycle", admin_lifecycle_run, ADMIN_JSON, NULL,
     "lifecycle.run"},
};

size_t admin_api_endpoints(const char **method, const char **pattern, size_t max)
{
    size_t n = sizeof admin_endpoints / sizeof *admin_endpoints;
    for (size_t i = 0; i < n && i < max; i++) {
        method[i] = admin_endpoints[i].method;
        pattern[i] = admin_endpoints[i].pattern;
    }
    return n;
}

/* ---- helpers for the handlers ---- */

int admin_fail(struct admin_call *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    return err;
}

int admin_done(struct admin_call *c, const char *k1, const char *v1, const char *k2)
{
    c->out = json_pack("{s:s, s:b}", k1, v1, k2, 1);
    return c->out != NULL ? TS_OK : TS_E_INTERNAL;
}

int admin_list_out(struct admin_call *c, const char *key, struct iam_strv *names, json_t *arr,
                   json_t *(*item)(struct admin_call *c, const char *name))
{
    for (size_t i = 0; arr != NULL && i < names->n; i++) {
        json_t *j = item(c, names->v[i]);
        if (j != NULL)
            json_array_append_new(arr, j);
    }
    iam_strv_free(names);
    c->out = json_pack("{s:o}", key, arr != NULL ? arr : json_array());
    return TS_OK;
}

bool admin_adds(const struct admin_call *c)
{
    return c->ep != NULL && (c->ep->flags & ADMIN_ADD) != 0;
}

int admin_attach_done(struct admin_call *c, const char *k1, const char *v1, const char *k2,
                      const char *v2)
{
    c->audit[0] = k2;
    c->audit[1] = v2;
    c->out =
        json_pack("{s:s, s:s, s:b}", k1, v1, k2, v2, admin_adds(c) ? "attached" : "detached", 1);
    return c->out != NULL ? TS_OK : TS_E_INTERNAL;
}

json_t *admin_strv_json(const struct iam_strv *sv)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < sv->n; i++)
        json_array_append_new(a, json_string(sv->v[i]));
    return a;
}

const char *admin_body_str(struct admin_call *c, const char *key)
{
    return json_string_value(json_object_get(c->body, key));
}

int admin_policy_exists(struct admin_call *c, const char *name, bool *exists)
{
    char *json = NULL;
    int err;

    if (pol_canned_json(name) != NULL) {
        *exists = true;
        return TS_OK;
    }
    err = iam_policy_get(c->api->st, name, &json);
    free(json);
    *exists = err == TS_OK;
    return err == TS_E_NO_SUCH_ENTITY ? TS_OK : err;
}

/* ---- the skeleton ---- */

/* Parses the body as a JSON object into c->body. */
static int body_object(struct admin_call *c)
{
    json_error_t jerr;

    if (c->r->body == NULL || c->r->body_len == 0)
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "request body must be a JSON object");
    c->body = json_loadb((const char *)c->r->body, c->r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (c->body == NULL || !json_is_object(c->body))
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "request body is not a JSON object: %s",
                          c->body == NULL ? jerr.text : "wrong type");
    return TS_OK;
}

/* The audit record of a call to an audited endpoint (ep->audit): who, from where, what, and
 * the result ("ok", or the error code, with the HTTP status as a number). */
static void admin_audit(struct admin_call *c, int rc)
{
    const struct admin_endpoint *ep = c->ep;
    struct log_actor who;
    char status[8];

    if (ep->audit == NULL)
        return;
    pol_audit_actor(c->r, &who);
    snprintf(status, sizeof status, "%d", rc == TS_OK ? 200 : ts_err_status(rc));
    log_audit(&who, "admin", rc == TS_OK ? "ok" : ts_err_code(rc), "op", ep->audit, "#status",
              status, ep->what != NULL ? ep->what : "name", c->name, "reason",
              rc != TS_OK && c->msg[0] ? c->msg : NULL, c->audit[0], c->audit[1], c->audit[2],
              c->audit[3], c->audit[4], c->audit[5], NULL);
}

/* c's error rc into e (c->msg, or the code's default), for the server to answer. */
static int call_error(const struct admin_call *c, int rc, struct ts_error *e)
{
    return c != NULL && c->msg[0] ? ts_error_set(e, rc, "%s", c->msg) : ts_error_set(e, rc, NULL);
}

/* The message of a store that did not answer (TS_E_SERVICE_UNAVAILABLE without one from the
 * handler): etcd unreachable, without quorum, too many conflicts, or past STALE_MAX. */
static void store_unavailable(struct admin_call *c, int rc)
{
    struct ts_error fe = {0};
    struct kv_status st;

    iam_store_status(c->api->st, &st);
    if (iam_store_fresh(c->api->st, &fe) != TS_OK && ts_error_msg(&fe) != NULL)
        admin_fail(c, rc, "IAM store unavailable: %s", ts_error_msg(&fe));
    else if (strcmp(st.engine, "etcd") == 0)
        admin_fail(c, rc,
                   "IAM store unavailable: etcd (%s) did not commit the request (unreachable, "
                   "no quorum, or too many conflicting writes: the server log says which); "
                   "nothing was changed, retry later",
                   st.endpoint);
    else
        admin_fail(c, rc,
                   "IAM store unavailable: it did not answer or commit the request (the "
                   "server log says why); nothing was changed, retry later");
}

/* route->finish: the endpoint was found and authorized by the authz phase. */
static int admin_finish(struct http_req *r, struct ts_error *e)
{
    struct admin_call *c = r->hctx;
    const struct admin_endpoint *ep = c != NULL ? c->ep : NULL;
    char *s;
    int rc;

    if (ep == NULL) /* an unknown endpoint that the authz phase let through (root) */
        return call_error(c, c != NULL && c->unknown ? c->unknown : TS_E_INTERNAL, e);
    rc = (ep->flags & ADMIN_JSON) ? body_object(c) : TS_OK;
    if (rc == TS_OK)
        rc = ep->handler(c);
    if (rc == TS_OK && (s = json_dumps(c->out, JSON_COMPACT)) != NULL) {
        admin_audit(c, TS_OK);
        return http_reply_data(r, 200, "application/json", s, strlen(s), true);
    }
    if (rc == TS_OK)
        rc = TS_E_INTERNAL;
    if (rc == TS_E_NO_SUCH_ENTITY && c->msg[0] == '\0' && ep->what != NULL && c->name != NULL)
        admin_fail(c, rc, "%s %s does not exist", ep->what, c->name);
    if (rc == TS_E_SERVICE_UNAVAILABLE && c->msg[0] == '\0')
        store_unavailable(c, rc);
    admin_audit(c, rc);
    return call_error(c, rc, e);
}

/* Whether the call's segments match pattern; sets c->name for a '*'. */
static bool pattern_match(struct admin_call *c, const char *pattern)
{
    const char *p = pattern;
    size_t i = 0;

    c->name = NULL;
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (i >= c->nseg)
            return false;
        if (n == 1 && *p == '*')
            c->name = c->seg[i];
        else if (strlen(c->seg[i]) != n || memcmp(c->seg[i], p, n) != 0)
            return false;
        i++;
        p += n;
        if (*p == '/')
            p++;
    }
    return i == c->nseg;
}

/* Splits the path after the prefix into c->seg (in c->path). False when it has too many or
 * empty segments. */
static bool split_path(struct admin_call *c)
{
    char *p = c->path;

    c->nseg = 0;
    if (*p == '\0')
        return false;
    while (p != NULL) {
        char *slash = strchr(p, '/');
        if (slash != NULL)
            *slash = '\0';
        if (*p == '\0' || c->nseg == ADMIN_MAX_SEGS)
            return false;
        c->seg[c->nseg++] = p;
        p = slash != NULL ? slash + 1 : NULL;
    }
    return true;
}

/* The endpoint of c's path and method, or NULL with c->unknown and c->msg set. */
static const struct admin_endpoint *endpoint_find(struct admin_call *c)
{
    const struct admin_endpoint *ep = NULL;
    bool path_known = false;

    for (size_t i = 0; i < sizeof admin_endpoints / sizeof *admin_endpoints; i++) {
        if (!pattern_match(c, admin_endpoints[i].pattern))
            continue;
        path_known = true;
        if (strcmp(c->r->method, admin_endpoints[i].method) == 0) {
            ep = &admin_endpoints[i];
            break;
        }
    }
    if (ep != NULL) {
        pattern_match(c, ep->pattern); /* sets c->name again for the endpoint found */
        return ep;
    }
    if (path_known)
        c->unknown = admin_fail(c, TS_E_METHOD_NOT_ALLOWED, "%s is not allowed on %s", c->r->method,
                                c->r->path);
    else
        c->unknown = admin_fail(c, TS_E_INVALID_REQUEST, "unknown admin API endpoint %s %s",
                                c->r->method, c->r->path);
    return NULL;
}

/* route->resolve: the endpoint, and its admin:* action for the authz phase. Anonymous and
 * temporary callers learn nothing about the endpoints: an unknown one asks admin:*, which
 * they are denied like any other. */
static int admin_resolve(struct http_req *r, struct ts_error *e)
{
    const struct pol_principal *p = r->principal;
    struct http_authz *q = &r->authz;
    struct admin_call *c = calloc(1, sizeof *c);

    if (c == NULL)
        return TS_E_INTERNAL;
    r->hctx = c;
    c->r = r;
    c->api = r->route->ctx;
    if (c->api == NULL)
        return ts_error_set(e, TS_E_SERVICE_UNAVAILABLE, "the admin API is not available");
    c->path = strdup(r->path + sizeof(ADMIN_API_PREFIX) - 1);
    if (c->path == NULL)
        return TS_E_INTERNAL;
    c->ep = split_path(c) ? endpoint_find(c) : NULL;
    if (c->ep == NULL && c->unknown == 0)
        c->unknown = admin_fail(c, TS_E_INVALID_REQUEST, "unknown admin API endpoint %s %s",
                                r->method, r->path);
    if (c->ep == NULL && p != NULL &&
        (p->type == POL_PRINCIPAL_ROOT || p->type == POL_PRINCIPAL_USER))
        return call_error(c, c->unknown, e);
    q->op = c->ep != NULL ? c->ep->action : "admin:*";
    q->flags = HTTP_AUTHZ_SIGNED | HTTP_AUTHZ_STATIC | HTTP_AUTHZ_EXPLAIN;
    if (c->ep != NULL && (c->ep->flags & ADMIN_SVC)) /* the handler asks: admin_svc.c */
        q->flags = HTTP_AUTHZ_SIGNED | HTTP_AUTHZ_PER_ITEM | HTTP_AUTHZ_EXPLAIN;
    q->self = c->ep != NULL && (c->ep->flags & ADMIN_SELF) ? c->name : NULL;
    q->item[0] = (struct http_authz_item){q->op, "arn:aws:s3:::*", NULL, NULL};
    q->nitems = 1;
    return TS_OK;
}

static void admin_cleanup(struct http_req *r)
{
    struct admin_call *c = r->hctx; /* set: the core calls cleanup only then */
    json_decref(c->body);
    json_decref(c->out);
    free(c->norm);
    free(c->path);
    free(c);
}

/* Writes (everything but GET) run on the route's worker threads: they commit to the store,
 * and revocations wait for the next second. */
static bool admin_blocking(struct http_req *r)
{
    return strcmp(r->method, "GET") != 0;
}

static bool admin_match(struct http_req *r)
{
    return r->path != NULL && strncmp(r->path, ADMIN_API_PREFIX, sizeof(ADMIN_API_PREFIX) - 1) == 0;
}

static const struct http_route admin_route = HTTP_ROUTE(
    "admin", HTTP_ERR_JSON, ADMIN_API_BODY_MAX, .match = admin_match, .resolve = admin_resolve,
    .finish = admin_finish, .cleanup = admin_cleanup, .blocking = admin_blocking);

void admin_api_route_init(struct http_route *route, struct iam_store *st, struct pol_engine *pe,
                          struct sts_ctx *sts)
{
    struct admin_api *api = calloc(1, sizeof(*api));

    *route = admin_route;
    if (api == NULL) {
        fprintf(stderr, "tessera: admin API: out of memory\n");
        return;
    }
    api->st = st;
    api->pe = pe;
    api->sts = sts;
    route->ctx = api;
}

void admin_api_set_lifecycle(struct http_route *route, admin_lifecycle_fn fn, void *ctx)
{
    struct admin_api *api = route->ctx;
    if (api != NULL) {
        api->lc_run = fn;
        api->lc_ctx = ctx;
    }
}

void admin_api_route_free(struct http_route *route)
{
    if (route == NULL)
        return;
    free(route->ctx);
    route->ctx = NULL;
}

char *admin_dn_normalize(const char *dn)
{
    /* The LDAP backend's normalisation, so that attachments match the DNs the directory
     * returns (escaped commas keep their spaces). */
    return tldap_dn_normalize(dn);
}
