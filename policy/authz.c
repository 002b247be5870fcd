/* authz.c -- the one authorizer: the authz hook of core/http (registered by cli/server.c) and
 * what handlers call per item through http_authorize(). It builds the request context once
 * (principal, source IP, TLS, user agent, Referer, the route's condition keys; identity
 * claims and tags come with the principal) and asks pol_authorize for every item of the
 * descriptor, with the resource's own policy when the route names one. Any error denies. */
#include <stdio.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "policy/pol.h"

/* Anonymous requests: no signature. Immutable, shared by all threads. */
static const struct pol_principal anonymous = {.type = POL_PRINCIPAL_ANONYMOUS};

static const char *principal_name(const struct pol_principal *p)
{
    if (p->type == POL_PRINCIPAL_ANONYMOUS)
        return "anonymous";
    if (p->username)
        return p->username;
    return p->access_key ? p->access_key : "?";
}

void pol_audit_actor(const struct http_req *r, struct log_actor *who)
{
    const struct pol_principal *p = r->principal;
    bool anon = p == NULL || p->type == POL_PRINCIPAL_ANONYMOUS;

    who->access_key = anon ? NULL : p->access_key;
    who->principal = anon ? NULL : p->arn;
    who->source_ip = r->source_ip;
    who->request_id = r->request_id;
}

void pol_request_init(struct pol_request *rq, struct http_req *r, const char *action,
                      const char *resource)
{
    memset(rq, 0, sizeof *rq);
    rq->action = action;
    rq->resource = resource;
    rq->principal = r->principal ? r->principal : &anonymous;
    rq->source_ip = r->source_ip;
    rq->secure_transport = r->tls;
    rq->user_agent = http_req_header(r, "User-Agent");
    rq->now = enc_now();
}

/* The rules that hold whatever the policies say. TS_OK: go on to the policies; 1: allowed
 * outright; else denied with *why. */
static int principal_rules(const struct pol_principal *p, const struct http_authz *q,
                           const char **why)
{
    if (p->type == POL_PRINCIPAL_ANONYMOUS && (q->flags & HTTP_AUTHZ_SIGNED)) {
        *why = "the request is not signed";
        return TS_E_ACCESS_DENIED;
    }
    if (POL_PRINCIPAL_DERIVED(p) && (q->flags & HTTP_AUTHZ_STATIC)) {
        *why = "it is not allowed with temporary credentials or service accounts; use a user's "
               "own keys";
        return TS_E_ACCESS_DENIED;
    }
    if (p->type == POL_PRINCIPAL_ROOT || (q->flags & (HTTP_AUTHZ_ANY_CALLER | HTTP_AUTHZ_PER_ITEM)))
        return 1;
    if (q->self != NULL && p->type == POL_PRINCIPAL_USER && p->access_key != NULL &&
        strcmp(p->access_key, q->self) == 0)
        return 1;
    if (q->nitems == 0) {
        *why = "the operation declares no action";
        return TS_E_ACCESS_DENIED; /* fail closed */
    }
    return TS_OK;
}

/* With a plugin (docs/OPA.md): the plugin decides for every signed principal (root never
 * gets here), in place of the identity and bucket policies, as MinIO; temporary credentials
 * with a session policy are also held to it (it can only narrow). */
static int plugin_item(struct pol_engine *pe, struct pol_plugin *pl, struct http_req *r,
                       const struct pol_request *rq, const char **why)
{
    const struct pol_principal *p = rq->principal;
    if (pol_plugin_ask(pl, r, rq, why) != POL_ALLOW)
        return TS_E_ACCESS_DENIED;
    if (POL_PRINCIPAL_DERIVED(p) && pol_session_decision(pe, rq) != POL_ALLOW) {
        *why = "the session policy does not allow it";
        return TS_E_ACCESS_DENIED;
    }
    return TS_OK;
}

bool pol_authz_remote(void *ctx, const struct http_req *r)
{
    const struct pol_principal *p = r->principal;
    return pol_engine_plugin(ctx) != NULL &&
           (p == NULL ? r->authn_deferred
                      : p->type == POL_PRINCIPAL_USER || POL_PRINCIPAL_DERIVED(p));
}

/* One item: the identity policies, and what the resource says when it says something (its
 * policy, public access block and ACLs: a struct pol_resource from q->policy_get), or the
 * plugin, when there is one, for signed callers. */
static int authorize_item(struct pol_engine *pe, struct http_req *r, struct pol_request *rq,
                          const struct http_authz *q, const struct http_authz_item *it,
                          const char **why)
{
    const void *doc = NULL;
    void *handle = NULL;
    struct pol_plugin *pl = pol_engine_plugin(pe);
    rq->action = it->action;
    rq->resource = it->resource;
    rq->version = it->version;
    if (it->action == NULL) {
        *why = "no action";
        return TS_E_ACCESS_DENIED;
    }
    if (pl != NULL && rq->principal->type != POL_PRINCIPAL_ANONYMOUS)
        return plugin_item(pe, pl, r, rq, why);
    if (it->policy_of != NULL && q->policy_get != NULL &&
        q->policy_get(q->policy_ctx, it->policy_of, &doc, &handle) != TS_OK) {
        *why = "resource policy unavailable";
        log_event(LOG_ERROR, "authz", "the policy of %s is unavailable: denied", it->policy_of);
        return TS_E_ACCESS_DENIED;
    }
    enum pol_decision d = pol_authorize_res(pe, rq, doc, why); /* doc: a struct pol_resource */
    if (handle != NULL && q->policy_release != NULL)
        q->policy_release(handle);
    if (d == POL_ALLOW || (d == POL_IMPLICIT_DENY && (q->flags & HTTP_AUTHZ_UNLESS_DENIED)))
        return TS_OK;
    return TS_E_ACCESS_DENIED;
}

static void deny_note(struct http_req *r, const struct http_authz *q, const struct pol_principal *p,
                      const struct http_authz_item *it, const char *why, struct ts_error *e)
{
    const char *action = it ? it->action : (q->nitems ? q->item[0].action : NULL);
    if (!(q->flags & HTTP_AUTHZ_QUIET)) {
        char event[32];
        snprintf(event, sizeof event, "%s.deny", r->route ? r->route->name : "authz");
        struct log_actor who;
        pol_audit_actor(r, &who);
        log_audit(&who, event, "denied", "user", principal_name(p), "operation", q->op, "action",
                  action, "resource", it ? it->resource : NULL, "why", why ? why : "denied", NULL);
    }
    if (e != NULL && (q->flags & HTTP_AUTHZ_EXPLAIN))
        ts_error_set(e, TS_E_ACCESS_DENIED, "%s is not allowed for %s: %s", action ? action : q->op,
                     principal_name(p), why ? why : "denied");
}

int pol_authz_http(void *ctx, struct http_req *r, const struct http_authz *q, struct ts_error *e)
{
    struct pol_engine *pe = ctx;
    struct http_kv keys[HTTP_AUTHZ_MAX_KEYS + 1];
    struct pol_request rq;
    const char *why = NULL;
    size_t nkeys = q->nkeys <= HTTP_AUTHZ_MAX_KEYS ? q->nkeys : HTTP_AUTHZ_MAX_KEYS;
    int rc;

    pol_request_init(&rq, r, NULL, NULL);
    if (q->flags & HTTP_AUTHZ_PUBLIC)
        return TS_OK;
    rc = principal_rules(rq.principal, q, &why);
    if (rc == 1)
        return TS_OK;
    if (rc == TS_OK && pe == NULL) {
        why = "no policy engine";
        rc = TS_E_ACCESS_DENIED;
    }
    if (rc != TS_OK) {
        deny_note(r, q, rq.principal, NULL, why, e);
        return rc;
    }
    memcpy(keys, q->keys, nkeys * sizeof *keys);
    const char *referer = http_req_header(r, "Referer");
    if (referer) {
        keys[nkeys].key = (char *)"aws:Referer";
        keys[nkeys++].value = (char *)referer;
    }
    rq.keys = keys;
    rq.nkeys = nkeys;
    rq.unknown_keys = q->unknown_keys;
    for (size_t i = 0; i < q->nitems && i < HTTP_AUTHZ_MAX_ITEMS; i++) {
        rc = authorize_item(pe, r, &rq, q, &q->item[i], &why);
        if (rc != TS_OK) {
            deny_note(r, q, rq.principal, &q->item[i], why, e);
            return rc;
        }
    }
    return TS_OK;
}
