/* admin_roles.c -- the admin API's role endpoints (policy/roles.h), session endpoints
 * (revocation, token-key rotation: sts/sts.h) and the cluster status (sts/cluster.h).
 * Handlers of the skeleton in admin_api.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "policy/roles.h"
#include "sts/admin_int.h"
#include "sts/cluster.h"

/* ---- sts ---- */

int admin_sts_revoke(struct admin_call *c)
{
    const char *user = admin_body_str(c, "user"), *ak = admin_body_str(c, "accessKey");
    int err;

    if (c->api->sts == NULL)
        return admin_fail(c, TS_E_NOT_IMPLEMENTED, "the STS is not enabled on this server");
    if ((user == NULL) == (ak == NULL) || (user != NULL && user[0] == '\0') ||
        (ak != NULL && ak[0] == '\0'))
        return admin_fail(c, TS_E_INVALID_ARGUMENT,
                          "give exactly one of \"user\" or \"accessKey\" (a non-empty string)");
    if (user != NULL && strchr(user, ',') != NULL) { /* an LDAP DN parent */
        if ((c->norm = admin_dn_normalize(user)) == NULL)
            return TS_E_INTERNAL;
        user = c->norm;
    }
    err =
        user != NULL ? sts_revoke_user(c->api->sts, user) : sts_revoke_access_key(c->api->sts, ak);
    if (err == TS_E_NO_SUCH_ENTITY && user != NULL)
        return admin_fail(c, err, "user %s does not exist", user);
    if (err == TS_E_NO_SUCH_ENTITY)
        return admin_fail(c, err, "access key %s is not a temporary access key", ak);
    if (err != TS_OK)
        return err;
    c->audit[0] = "user";
    c->audit[1] = user;
    c->audit[2] = "revoked_access_key"; /* "access_key" is the caller's */
    c->audit[3] = ak;
    return user != NULL ? admin_done(c, "user", user, "revoked")
                        : admin_done(c, "accessKey", ak, "revoked");
}

int admin_sts_rotate_key(struct admin_call *c)
{
    char kid[32] = "";
    int err;

    if (c->api->sts == NULL)
        return admin_fail(c, TS_E_NOT_IMPLEMENTED, "the STS is not enabled on this server");
    err = sts_rotate_key(c->api->sts, kid);
    if (err != TS_OK)
        return err;
    kid[sizeof(kid) - 1] = '\0';
    c->out = json_pack("{s:s}", "keyId", kid);
    /* the audit line is written after the reply is built: keep kid alive in the reply */
    c->audit[0] = "kid";
    c->audit[1] = json_string_value(json_object_get(c->out, "keyId"));
    return TS_OK;
}

/* GET cluster/status: the store's status and the nodes' heartbeats (sts/cluster.h). */
int admin_cluster_status(struct admin_call *c)
{
    return sts_cluster_status(c->api->st, c->api->sts, &c->out);
}

/* ---- roles ---- */

static json_t *role_json(const char *name)
{
    char arn[128] = "";
    pol_role_arn(name, arn, sizeof(arn));
    return json_pack("{s:s, s:s}", "name", name, "arn", arn);
}

static json_t *role_item(struct admin_call *c, const char *name)
{
    (void)c;
    return role_json(name);
}

int admin_role_list(struct admin_call *c)
{
    struct iam_strv names = {0};
    int err = pol_role_list(c->api->st, &names);
    return err != TS_OK ? err : admin_list_out(c, "roles", &names, json_array(), role_item);
}

static int role_put(struct admin_call *c, bool replace)
{
    char why[400] = "";
    int err = pol_role_put(c->api->st, c->name, (const char *)c->r->body, c->r->body_len, replace,
                           why, sizeof(why));

    if (err == TS_E_MALFORMED_POLICY || err == TS_E_INVALID_ARGUMENT || err == TS_E_ENTITY_EXISTS)
        return admin_fail(c, err, "role %s: %s", c->name,
                          why[0] != '\0' ? why : ts_err_message(err));
    if (err != TS_OK)
        return err;
    c->out = role_json(c->name);
    if (c->out != NULL)
        json_object_set_new(c->out, replace ? "updated" : "created", json_true());
    return TS_OK;
}

int admin_role_create(struct admin_call *c)
{
    return role_put(c, false);
}

int admin_role_set_trust(struct admin_call *c)
{
    if (pol_role_get(c->api->st, c->name, NULL, NULL, NULL) != TS_OK)
        return TS_E_NO_SUCH_ENTITY;
    return role_put(c, true);
}

int admin_role_info(struct admin_call *c)
{
    struct iam_strv pols = {0};
    char *trust = NULL;
    char created[32] = "";
    time_t t = 0;
    json_t *doc;
    int err = pol_role_get(c->api->st, c->name, &trust, &t, &pols);

    if (err != TS_OK)
        return err;
    doc = json_loads(trust, 0, NULL);
    free(trust);
    if (t > 0) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    c->out = role_json(c->name);
    if (c->out != NULL) {
        json_object_set_new(c->out, "trust", doc != NULL ? doc : json_null());
        json_object_set_new(c->out, "policies", admin_strv_json(&pols));
        json_object_set_new(c->out, "created", json_string(created));
    } else {
        json_decref(doc);
    }
    iam_strv_free(&pols);
    return TS_OK;
}

int admin_role_remove(struct admin_call *c)
{
    int err = pol_role_remove(c->api->st, c->name);
    return err == TS_OK ? admin_done(c, "name", c->name, "removed") : err;
}

int admin_role_attach(struct admin_call *c)
{
    const char *policy = admin_body_str(c, "policy");
    bool exists = true, attach = admin_adds(c);
    int err;

    if (policy == NULL || policy[0] == '\0')
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"policy\" must be a non-empty string");
    err = pol_role_get(c->api->st, c->name, NULL, NULL, NULL);
    if (err == TS_OK && attach)
        err = admin_policy_exists(c, policy, &exists);
    if (err == TS_OK && !exists)
        return admin_fail(c, TS_E_NO_SUCH_ENTITY, "policy %s does not exist", policy);
    if (err != TS_OK)
        return err; /* TS_E_NO_SUCH_ENTITY: "role NAME does not exist" */
    err = attach ? iam_attach(c->api->st, IAM_TARGET_ROLE, c->name, policy)
                 : iam_detach(c->api->st, IAM_TARGET_ROLE, c->name, policy);
    if (err == TS_E_NO_SUCH_ENTITY)
        return admin_fail(c, err, "policy %s is not attached to role %s", policy, c->name);
    if (err == TS_E_INVALID_ARGUMENT)
        return admin_fail(c, err, "invalid policy name %s", policy);
    if (err != TS_OK)
        return err;
    return admin_attach_done(c, "role", c->name, "policy", policy);
}
