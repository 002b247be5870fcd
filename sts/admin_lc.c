/* admin_lc.c -- POST lifecycle/run: one lifecycle pass of the embedded store, run synchronously
 * as of "now" (RFC 3339; absent: the server's clock), answering its counts. The periodic task
 * (TESSERA_LIFECYCLE_INTERVAL) only ever uses the server's clock: an instant given here is the
 * one way to evaluate the rules as of another time, and only for a caller allowed
 * admin:RunLifecycle (root, by default), who could as well delete those objects. */
#include "sts/admin_int.h"

#include <stdlib.h>
#include <time.h>

#include "core/enc.h"
#include "core/err.h"

int admin_lifecycle_run(struct admin_call *c)
{
    json_t *jn = json_object_get(c->body, "now");
    time_t now = enc_now();
    char when[32], *json = NULL;
    if (jn != NULL &&
        (!json_is_string(jn) || enc_time_parse_iso8601(json_string_value(jn), &now) != 0))
        return admin_fail(c, TS_E_INVALID_ARGUMENT,
                          "now must be an RFC 3339 time, as 2006-01-02T15:04:05Z");
    if (c->api->lc_run == NULL)
        return admin_fail(c, TS_E_NOT_IMPLEMENTED,
                          "this server has no embedded object store (gateway mode)");
    int rc = c->api->lc_run(c->api->lc_ctx, (int64_t)now, &json);
    if (rc != TS_OK)
        return rc;
    c->out = json_loads(json, 0, NULL);
    free(json);
    enc_time_iso8601(now, when);
    if (c->out == NULL || json_object_set_new(c->out, "now", json_string(when)) != 0)
        return TS_E_INTERNAL;
    c->audit[0] = "now";
    c->audit[1] = json_string_value(json_object_get(c->out, "now"));
    return TS_OK;
}
