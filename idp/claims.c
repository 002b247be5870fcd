/* claims.c -- the claims every identity backend produces. */
#include "idp/idp.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

void idp_claims_cleanup(struct idp_claims *c)
{
    if (c == NULL)
        return;
    free(c->provider);
    free(c->issuer);
    free(c->subject);
    free(c->username);
    free(c->dn);
    iam_strv_free(&c->groups);
    iam_strv_free(&c->policies);
    free(c->role_arn);
    for (size_t i = 0; i < c->nvars; i++) {
        free(c->vars[i].key);
        free(c->vars[i].value);
    }
    free(c->vars);
    free(c->audience);
    memset(c, 0, sizeof *c);
}

int idp_claims_add_var(struct idp_claims *c, const char *key, const char *value)
{
    struct http_kv *v = realloc(c->vars, (c->nvars + 1) * sizeof *v);
    if (v == NULL)
        return TS_E_INTERNAL;
    c->vars = v;
    v[c->nvars].key = strdup(key);
    v[c->nvars].value = strdup(value);
    if (v[c->nvars].key == NULL || v[c->nvars].value == NULL) {
        free(v[c->nvars].key);
        free(v[c->nvars].value);
        return TS_E_INTERNAL;
    }
    c->nvars++;
    return TS_OK;
}
