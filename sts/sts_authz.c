/* sts_authz.c -- what each STS action asks of the authz phase (core/http.h), from its row of
 * the one STS action table (sts_actions): route->resolve of the STS route. The action is in the
 * query or, for form POSTs, in the body: the phase then runs once the body is buffered
 * (r->authz.after_body), before the handler, and reads the parameters exactly as the handler does
 * (sts_request_params). */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "sts/sts_int.h"

int sts_resolve(struct http_req *r, struct ts_error *e)
{
    struct http_authz *q = &r->authz;
    struct sts_params p = {0};
    const char *action, *res;
    int rc;
    (void)e;
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
    struct ts_error verr;
    if (sts_check_version(sts_param(&p, "Version"), &verr) != TS_OK)
        action = NULL; /* answered by the handler with the Version error first */
    const struct sts_action *row = rc == TS_OK && action != NULL ? sts_action_find(action) : NULL;
    if (row != NULL) {
        q->op = row->name;
        q->flags = HTTP_AUTHZ_EXPLAIN | row->authz_flags;
        if (row->iam_action != NULL) {
            res = row->resource_param ? sts_param(&p, row->resource_param) : NULL;
            q->owned = strdup(res ? res : "*");
            if (q->owned == NULL)
                rc = TS_E_INTERNAL;
            q->item[0] = (struct http_authz_item){row->iam_action, q->owned, NULL, NULL};
            q->nitems = 1;
        }
    }
    sts_params_cleanup(&p);
    return rc;
}
