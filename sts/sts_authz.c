/* sts_authz.c -- what each STS action asks of the authz phase (core/http.h), by name:
 * route->resolve of the STS route. The action is in the query or, for form POSTs, in the body:
 * the phase then runs once the body is buffered (r->authz.after_body), before the handler,
 * and reads the parameters exactly as the handler does (sts_request_params). */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "sts/sts_int.h"

/* Every action with a handler has a row. The federated logins are PUBLIC: their identity
 * backend authenticates the caller (a token, an LDAP bind) before anything is issued. */
static const struct sts_authz_row {
    const char *name;
    const char *action;   /* IAM action; NULL for PUBLIC rows */
    const char *resource; /* the parameter naming the resource, or NULL ("*") */
    unsigned flags;
} sts_authz_rows[] = {
    /* MinIO: any static user may AssumeRole unless a policy of theirs explicitly denies it;
     * temporary credentials may not; a RoleArn naming a tessera role is then checked against
     * the role's trust policy by the action. */
    {"AssumeRole", "sts:AssumeRole", "RoleArn",
     HTTP_AUTHZ_SIGNED | HTTP_AUTHZ_STATIC | HTTP_AUTHZ_UNLESS_DENIED},
    /* AWS: needs no permission, only a signature. */
    {"GetCallerIdentity", "sts:GetCallerIdentity", NULL, HTTP_AUTHZ_SIGNED | HTTP_AUTHZ_ANY_CALLER},
    {"AssumeRoleWithWebIdentity", NULL, NULL, HTTP_AUTHZ_PUBLIC},
    {"AssumeRoleWithClientGrants", NULL, NULL, HTTP_AUTHZ_PUBLIC},
    {"AssumeRoleWithLDAPIdentity", NULL, NULL, HTTP_AUTHZ_PUBLIC},
};

size_t sts_authz_names(const char **names, size_t max)
{
    size_t n = sizeof sts_authz_rows / sizeof *sts_authz_rows;
    for (size_t i = 0; i < n && i < max; i++)
        names[i] = sts_authz_rows[i].name;
    return n;
}

int sts_resolve(struct http_req *r, char *msg, size_t msglen)
{
    struct http_authz *q = &r->authz;
    struct sts_params p = {0};
    const char *action, *res;
    int rc;
    (void)msg, (void)msglen;
    if (strcmp(r->method, "POST") == 0 && r->body == NULL) {
        q->after_body = true; /* the form may name the action */
        return TS_OK;
    }
    rc = sts_request_params(r, &p);
    action = sts_param(&p, "Action");
    q->deny = TS_E_STS_ACCESS_DENIED;
    q->flags = HTTP_AUTHZ_EXPLAIN;
    /* No action, a bad Version, or an action without a handler: the handler answers
     * MissingParameter, the Version error, InvalidAction or NotImplemented, and does nothing
     * else. */
    q->flags |= HTTP_AUTHZ_PUBLIC;
    char vmsg[8];
    if (sts_check_version(sts_param(&p, "Version"), vmsg, sizeof vmsg) != TS_OK)
        action = NULL; /* answered by the handler with the Version error first */
    for (size_t i = 0; rc == TS_OK && action && i < sizeof sts_authz_rows / sizeof *sts_authz_rows;
         i++) {
        const struct sts_authz_row *row = &sts_authz_rows[i];
        if (strcmp(row->name, action) != 0)
            continue;
        q->op = row->name;
        q->flags = HTTP_AUTHZ_EXPLAIN | row->flags;
        if (row->action != NULL) {
            res = row->resource ? sts_param(&p, row->resource) : NULL;
            q->owned = strdup(res ? res : "*");
            if (q->owned == NULL)
                rc = TS_E_INTERNAL;
            q->item[0] = (struct http_authz_item){row->action, q->owned, NULL};
            q->nitems = 1;
        }
        break;
    }
    sts_params_cleanup(&p);
    return rc;
}
