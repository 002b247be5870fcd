/* admin_iam.c -- the admin API's IAM endpoints: users, groups, policies and their
 * attachments (idp/iam.h, policy/pol.h). Handlers of the skeleton in admin_api.c: each
 * returns TS_OK with c->out, or an error with c->msg. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "sts/admin_int.h"

static const char *const canned_names[] = {"readonly", "readwrite", "writeonly", "diagnostics",
                                           "consoleAdmin"};

static const char *status_str(bool enabled)
{
    return enabled ? "enabled" : "disabled";
}

/* ---- users ---- */

static json_t *user_json(const struct iam_user *u)
{
    return json_pack("{s:s, s:s, s:o, s:o}", "accessKey", u->name, "status", status_str(u->enabled),
                     "policies", admin_strv_json(&u->policies), "groups",
                     admin_strv_json(&u->groups));
}

/* c->out = the user c->name. */
static int user_out(struct admin_call *c)
{
    struct iam_user u = {0};
    int err = iam_user_get(c->api->st, c->name, &u);

    if (err == TS_OK && (c->out = user_json(&u)) == NULL)
        err = TS_E_INTERNAL;
    iam_user_cleanup(&u);
    return err;
}

/* A user of the listing; NULL when removed meanwhile. */
static json_t *user_item(struct admin_call *c, const char *name)
{
    struct iam_user u = {0};
    json_t *j;
    if (iam_user_get(c->api->st, name, &u) != TS_OK)
        return NULL;
    j = user_json(&u);
    iam_user_cleanup(&u);
    return j;
}

int admin_user_list(struct admin_call *c)
{
    struct iam_strv names = {0};
    int err = iam_user_list(c->api->st, &names);
    return err != TS_OK ? err : admin_list_out(c, "users", &names, json_array(), user_item);
}

/* PUT users/NAME (create only) and PUT users/NAME/secret (replace the secret of an existing
 * user): the two never share an action, so that admin:CreateUser cannot take over an account. */
int admin_user_put(struct admin_call *c)
{
    bool create = admin_adds(c);
    const struct pol_principal *p = c->r->principal;
    const char *msg = NULL, *secret = admin_body_str(c, "secretKey");
    int err;

    /* the store refuses the root name once the server told it (iam_store_set_reserved);
     * when root itself calls, its access key is that name anyway */
    if (p->type == POL_PRINCIPAL_ROOT && p->access_key != NULL &&
        strcmp(p->access_key, c->name) == 0)
        return admin_fail(c, TS_E_INVALID_ARGUMENT,
                          "invalid user %s: user name is reserved for the root user", c->name);
    if (secret == NULL)
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"secretKey\" (string) is required");
    err = create ? iam_user_add(c->api->st, c->name, secret, &msg)
                 : iam_user_set_secret(c->api->st, c->name, secret, &msg);
    if (err == TS_E_INVALID_ARGUMENT)
        return admin_fail(c, err, "invalid user %s: %s", c->name, msg != NULL ? msg : "rejected");
    if (err == TS_E_ENTITY_EXISTS)
        return admin_fail(c, err,
                          "user %s already exists; changing its secret is \"user set-secret\" "
                          "(admin:UpdateUser)",
                          c->name);
    return err == TS_OK ? user_out(c) : err;
}

int admin_user_info(struct admin_call *c)
{
    return user_out(c);
}

int admin_user_enable(struct admin_call *c)
{
    int err = iam_user_set_enabled(c->api->st, c->name, true);
    return err == TS_OK ? user_out(c) : err;
}

int admin_user_disable(struct admin_call *c)
{
    int err = iam_user_set_enabled(c->api->st, c->name, false);
    return err == TS_OK ? user_out(c) : err;
}

int admin_user_remove(struct admin_call *c)
{
    int err = iam_user_remove(c->api->st, c->name);
    return err == TS_OK ? admin_done(c, "accessKey", c->name, "removed") : err;
}

/* ---- groups ---- */

/* c->out = the group c->name. */
static int group_out(struct admin_call *c)
{
    struct iam_group g = {0};
    int err = iam_group_get(c->api->st, c->name, &g);

    if (err == TS_OK &&
        (c->out = json_pack("{s:s, s:s, s:o, s:o}", "name", g.name, "status", status_str(g.enabled),
                            "members", admin_strv_json(&g.members), "policies",
                            admin_strv_json(&g.policies))) == NULL)
        err = TS_E_INTERNAL;
    iam_group_cleanup(&g);
    return err;
}

int admin_group_list(struct admin_call *c)
{
    struct iam_strv names = {0};
    int err = iam_group_list(c->api->st, &names);

    if (err == TS_OK)
        c->out = json_pack("{s:o}", "groups", admin_strv_json(&names));
    iam_strv_free(&names);
    return err;
}

int admin_group_info(struct admin_call *c)
{
    return group_out(c);
}

/* The "members" array of the body as a vector of borrowed strings (free() the vector only).
 * An empty array is allowed when may_be_empty (adding no members creates an empty group, as
 * AWS's CreateGroup and MinIO's group add do). */
static int body_members(struct admin_call *c, bool may_be_empty, const char ***out, size_t *n)
{
    json_t *a = json_object_get(c->body, "members"), *e;
    size_t i;

    if (!json_is_array(a) || (json_array_size(a) == 0 && !may_be_empty))
        return admin_fail(c, TS_E_INVALID_ARGUMENT,
                          "\"members\" must be a non-empty array of user names");
    *out = calloc(json_array_size(a) + 1, sizeof(**out));
    if (*out == NULL)
        return TS_E_INTERNAL;
    json_array_foreach(a, i, e)
    {
        if (!json_is_string(e))
            return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"members\" must contain strings only");
        (*out)[i] = json_string_value(e);
    }
    *n = json_array_size(a);
    return TS_OK;
}

/* Adds (add) or removes the body's members. */
int admin_group_members(struct admin_call *c)
{
    bool add = admin_adds(c);
    const char **members = NULL;
    size_t n = 0;
    int err = body_members(c, add, &members, &n);

    /* name the member that is missing (the store only says that one is) */
    for (size_t i = 0; add && err == TS_OK && i < n; i++) {
        struct iam_user u = {0};
        if (iam_user_get(c->api->st, members[i], &u) == TS_E_NO_SUCH_ENTITY)
            err = admin_fail(c, TS_E_NO_SUCH_ENTITY, "user %s does not exist", members[i]);
        iam_user_cleanup(&u);
    }
    if (err == TS_OK)
        err = add ? iam_group_add(c->api->st, c->name, members, n)
                  : iam_group_remove(c->api->st, c->name, members, n);
    free(members);
    if (add && err == TS_E_INVALID_ARGUMENT && c->msg[0] == '\0')
        return admin_fail(
            c, err, "invalid group name %s: 1 to 128 characters, no control characters, ',' or '/'",
            c->name);
    if (add && err == TS_E_NO_SUCH_ENTITY && c->msg[0] == '\0')
        return admin_fail(c, err, "a member of the list does not exist (removed meanwhile?)");
    return err == TS_OK ? group_out(c) : err;
}

int admin_group_remove(struct admin_call *c)
{
    int err = iam_group_remove(c->api->st, c->name, NULL, 0);

    if (err == TS_E_GROUP_NOT_EMPTY)
        return admin_fail(c, err, "group %s is not empty: remove its members first", c->name);
    return err == TS_OK ? admin_done(c, "name", c->name, "removed") : err;
}

/* ---- policies ---- */

/* A stored policy of the listing (the canned ones come first, once). */
static json_t *policy_item(struct admin_call *c, const char *name)
{
    (void)c;
    return pol_canned_json(name) == NULL ? json_pack("{s:s, s:b}", "name", name, "canned", 0)
                                         : NULL;
}

int admin_policy_list(struct admin_call *c)
{
    struct iam_strv names = {0};
    json_t *arr;
    int err = iam_policy_list(c->api->st, &names);

    if (err != TS_OK)
        return err;
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < sizeof(canned_names) / sizeof(canned_names[0]); i++)
        if (pol_canned_json(canned_names[i]) != NULL)
            json_array_append_new(arr,
                                  json_pack("{s:s, s:b}", "name", canned_names[i], "canned", 1));
    return admin_list_out(c, "policies", &names, arr, policy_item);
}

int admin_policy_info(struct admin_call *c)
{
    const char *canned = pol_canned_json(c->name);
    char *stored = NULL;
    json_t *doc;
    int err = canned == NULL ? iam_policy_get(c->api->st, c->name, &stored) : TS_OK;

    if (err != TS_OK)
        return err;
    doc = json_loads(canned != NULL ? canned : stored, 0, NULL);
    free(stored);
    if (doc == NULL)
        return admin_fail(c, TS_E_INTERNAL, "stored policy is not valid JSON");
    c->out = json_pack("{s:s, s:b, s:o}", "name", c->name, "canned", canned != NULL, "policy", doc);
    return TS_OK;
}

/* Why the body cannot be policy c->name, or TS_OK. */
static int policy_check(struct admin_call *c, const char *body, size_t len)
{
    char why[256] = "";

    if (pol_canned_json(c->name) != NULL)
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "policy %s is built in and cannot be replaced",
                          c->name);
    if (len > ADMIN_API_POLICY_MAX)
        return admin_fail(c, TS_E_ENTITY_TOO_LARGE, "policy document is %zu bytes; the limit is %d",
                          len, ADMIN_API_POLICY_MAX);
    if (body == NULL || len == 0)
        return admin_fail(c, TS_E_MALFORMED_POLICY, "policy document is empty");
    if (memchr(body, '\0', len) != NULL)
        return admin_fail(c, TS_E_MALFORMED_POLICY, "policy document contains a NUL byte");
    if (pol_validate(body, len, why, sizeof(why)) != TS_OK)
        return admin_fail(c, TS_E_MALFORMED_POLICY, "policy %s: %s", c->name,
                          why[0] != '\0' ? why : "invalid policy document");
    return TS_OK;
}

int admin_policy_create(struct admin_call *c)
{
    const char *body = (const char *)c->r->body;
    int err = policy_check(c, body, c->r->body_len);

    if (err == TS_OK)
        err = iam_policy_put(c->api->st, c->name, body);
    if (err == TS_E_INVALID_ARGUMENT && c->msg[0] == '\0')
        return admin_fail(c, err,
                          "invalid policy name %s: 1 to 128 characters, no spaces, control "
                          "characters, ',' or '/'",
                          c->name);
    return err == TS_OK ? admin_done(c, "name", c->name, "created") : err;
}

int admin_policy_remove(struct admin_call *c)
{
    int err;

    if (pol_canned_json(c->name) != NULL)
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "policy %s is built in and cannot be removed",
                          c->name);
    err = iam_policy_remove(c->api->st, c->name);
    if (err == TS_E_POLICY_IN_USE)
        return admin_fail(
            c, err, "policy %s is attached to a user, group, DN or role: detach it first", c->name);
    return err == TS_OK ? admin_done(c, "name", c->name, "removed") : err;
}

static const struct {
    const char *key;
    enum iam_target kind;
    const char *what;
} attach_kinds[] = {
    {"user", IAM_TARGET_USER, "user"},
    {"group", IAM_TARGET_GROUP, "group"},
    {"dn", IAM_TARGET_DN, "DN"},
};

/* The one target of the body ("user", "group" or "dn", normalised) into *k and *target. */
static int attach_target(struct admin_call *c, size_t *k, const char **target)
{
    size_t given = 0;

    for (size_t i = 0; i < sizeof(attach_kinds) / sizeof(attach_kinds[0]); i++) {
        if (json_object_get(c->body, attach_kinds[i].key) != NULL) {
            given++;
            *k = i;
        }
    }
    if (given != 1 || (*target = admin_body_str(c, attach_kinds[*k].key)) == NULL ||
        (*target)[0] == '\0')
        return admin_fail(c, TS_E_INVALID_ARGUMENT,
                          "give exactly one of \"user\", \"group\" or \"dn\" (a non-empty string)");
    if (attach_kinds[*k].kind == IAM_TARGET_DN) {
        if ((c->norm = admin_dn_normalize(*target)) == NULL)
            return TS_E_INTERNAL;
        *target = c->norm;
    }
    return TS_OK;
}

int admin_policy_attach(struct admin_call *c)
{
    const char *target = NULL;
    size_t k = 0;
    bool exists = true, attach = admin_adds(c);
    int err = attach_target(c, &k, &target);

    if (err == TS_OK && attach)
        err = admin_policy_exists(c, c->name, &exists);
    if (err == TS_OK && !exists)
        return admin_fail(c, TS_E_NO_SUCH_ENTITY, "policy %s does not exist", c->name);
    if (err != TS_OK)
        return err;
    err = attach ? iam_attach(c->api->st, attach_kinds[k].kind, target, c->name)
                 : iam_detach(c->api->st, attach_kinds[k].kind, target, c->name);
    if (err == TS_E_NO_SUCH_ENTITY && attach)
        return admin_fail(c, err, "%s %s does not exist", attach_kinds[k].what, target);
    if (err == TS_E_NO_SUCH_ENTITY)
        return admin_fail(c, err, "policy %s is not attached to %s %s", c->name,
                          attach_kinds[k].what, target);
    if (err == TS_E_INVALID_ARGUMENT)
        return admin_fail(c, err, "invalid %s or policy name", attach_kinds[k].what);
    if (err != TS_OK)
        return err;
    return admin_attach_done(c, "policy", c->name, attach_kinds[k].key, target);
}
