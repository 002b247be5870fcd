/* claims.c -- the claims every identity backend produces. */
#include "idp/idp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    http_kv_free(c->vars, c->nvars);
    free(c->audience);
    free(c->session_name);
    free(c->parent);
    iam_strv_free(&c->federated);
    memset(c, 0, sizeof *c);
}

int idp_strv_add(struct iam_strv *sv, const char *s)
{
    char **v = realloc(sv->v, (sv->n + 1) * sizeof *v);
    if (v == NULL)
        return TS_E_INTERNAL;
    sv->v = v;
    if ((v[sv->n] = strdup(s)) == NULL)
        return TS_E_INTERNAL;
    sv->n++;
    return TS_OK;
}

int idp_claims_add_var(struct idp_claims *c, const char *key, const char *value)
{
    return http_kv_add(&c->vars, &c->nvars, key, value);
}

const char *idp_input_param(const struct idp_input *in, const char *name)
{
    for (size_t i = 0; i < in->nparams; i++)
        if (strcmp(in->params[i].key, name) == 0)
            return in->params[i].value;
    return NULL;
}

/* @test tests/unit/idp/test_jwt_mapper.c */
bool idp_name_ok(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    if (s == NULL)
        return false;
    while (*u != 0) {
        unsigned cp;
        size_t n;
        if (*u < 0x80) {
            if (*u < 0x20 || *u == 0x7f)
                return false;
            u++;
            continue;
        }
        if ((*u & 0xe0) == 0xc0)
            n = 2, cp = *u & 0x1f;
        else if ((*u & 0xf0) == 0xe0)
            n = 3, cp = *u & 0x0f;
        else if ((*u & 0xf8) == 0xf0)
            n = 4, cp = *u & 0x07;
        else
            return false;
        for (size_t i = 1; i < n; i++) {
            if ((u[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (u[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f || cp == 0xfffe ||
            cp == 0xffff)
            return false;
        u += n;
    }
    return true;
}

long idp_tag_keys_duplicate(const char *const *keys, size_t n)
{
    /* At most 50 tags (AWS's limit): the quadratic scan is cheaper than anything else. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(keys[i], keys[j]) == 0)
                return (long)i;
    return -1;
}
