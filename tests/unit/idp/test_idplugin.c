/* test_idplugin.c -- the identity plugin's answer parser (idplugin_parse): the identity it
 * makes, the claims it keeps, and every malformed answer refused. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "idp/idplugin.h"
#include "tests/harness/t.h"

static const char *var(const struct idp_claims *c, const char *k, size_t nth)
{
    for (size_t i = 0; i < c->nvars; i++)
        if (strcmp(c->vars[i].key, k) == 0 && nth-- == 0)
            return c->vars[i].value;
    return NULL;
}

static int parse(struct idplugin *p, const char *body, struct idp_claims *c)
{
    struct ts_error e;
    int rc = idplugin_parse(p, body, strlen(body), c, &e);
    if (rc != TS_OK)
        memset(c, 0, sizeof *c);
    return rc;
}

int main(void)
{
    struct idplugin_config cfg = {
        .url = "http://127.0.0.1:1/auth", .role_policy = " team , readonly,", .role_id = "ext"};
    struct idplugin *p = NULL;
    struct idp_claims c;
    struct ts_error e;

    is_int(idplugin_new(&cfg, &p, &e), TS_OK, "new");
    if (p == NULL)
        return t_done();
    is_str(idplugin_role_arn(p), "arn:minio:iam:::role/idmp-ext", "role arn");

    is_int(parse(p,
                 "{\"user\":\"alice\",\"maxValiditySeconds\":1800,\"claims\":{\"groups\":"
                 "[\"a\",\"b\",3],\"n\":7,\"ok\":true,\"sub\":\"evil\",\"o\":{\"x\":1}}}",
                 &c),
           TS_OK, "parse");
    is_str(c.parent, "custom:alice", "parent");
    is_str(c.source, "custom", "source");
    is_str(c.username, "alice", "username");
    is_int(c.max_duration, 1800, "max duration");
    is_int(c.policies.n, 2, "role policies");
    if (c.policies.n == 2) {
        is_str(c.policies.v[0], "team", "policy 0");
        is_str(c.policies.v[1], "readonly", "policy 1");
    }
    is_str(var(&c, "jwt:sub", 0), "custom:alice", "sub is the session's");
    ok(var(&c, "jwt:sub", 1) == NULL, "the plugin's sub is not taken");
    is_str(var(&c, "jwt:groups", 0), "a", "groups 0");
    is_str(var(&c, "jwt:groups", 1), "b", "groups 1");
    ok(var(&c, "jwt:groups", 2) == NULL, "non-string array member skipped");
    is_str(var(&c, "jwt:n", 0), "7", "number");
    is_str(var(&c, "jwt:ok", 0), "true", "boolean");
    ok(var(&c, "jwt:o", 0) == NULL, "object skipped");
    idp_claims_cleanup(&c);

    static const char *const bad[] = {"",
                                      "[]",
                                      "{",
                                      "null",
                                      "{\"user\":\"a\"}",
                                      "{\"maxValiditySeconds\":5}",
                                      "{\"user\":\"\",\"maxValiditySeconds\":5}",
                                      "{\"user\":\"a\",\"maxValiditySeconds\":0}",
                                      "{\"user\":\"a\",\"maxValiditySeconds\":\"5\"}",
                                      "{\"user\":\"a\",\"maxValiditySeconds\":5,\"claims\":[]}",
                                      "{\"user\":\"a\",\"user\":\"b\",\"maxValiditySeconds\":5}",
                                      "{\"user\":7,\"maxValiditySeconds\":5}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        is_int(parse(p, bad[i], &c), TS_E_STS_IDP_COMMUNICATION, bad[i]);
    is_int(parse(p, "{\"user\":\"a\\u0001b\",\"maxValiditySeconds\":5}", &c),
           TS_E_STS_ACCESS_DENIED, "control character in user");
    is_int(parse(p, "{\"user\":\"a\\u0000b\",\"maxValiditySeconds\":5}", &c),
           TS_E_STS_IDP_COMMUNICATION, "NUL in user");
    idplugin_free(p);

    struct idplugin_config none = {.url = "http://x/", .role_policy = " , "};
    is_int(idplugin_new(&none, &p, &e), TS_E_INVALID_ARGUMENT, "empty role policy");
    struct idplugin_config nourl = {.role_policy = "readonly"};
    is_int(idplugin_new(&nourl, &p, &e), TS_E_INVALID_ARGUMENT, "no url");
    return t_done();
}
