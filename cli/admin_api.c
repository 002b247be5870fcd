/* admin_api.c -- the admin API route (/tessera/admin/v1/...): users, groups, policies,
 * attachments, roles and session revocation, as JSON over SigV4-signed HTTP.
 *
 * One table (admin_endpoints[]) maps method + path pattern to the admin:* action that guards
 * it and its handler, after the redis command table: authorization runs in one place
 * (admin_finish) before any handler, so a new endpoint cannot forget it. Handlers talk to
 * the IAM store (idp/iam.h), the policy validator (policy/pol.h) and sts/ (revocation, token
 * keys) and reply with JSON; errors go through http_reply_error, which shapes them as
 * {"Code","Message","RequestId"} because the route's err_style is HTTP_ERR_JSON.
 *
 * Thread-safety: struct admin_api is immutable after admin_api_route_init; everything it
 * points at is thread-safe.
 */
#include "cli/admin_api.h"

#include <ctype.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/log.h"
#include "ldap/tldap.h"
#include "policy/roles.h"

#define ADMIN_MAX_SEGS 4

struct admin_api {
    struct iam_store *st;
    struct pol_engine *pe;
    struct sts_ctx *sts;
};

/* The request as seen by handlers: path segments after the prefix, e.g. users/bob/enable. */
struct admin_call {
    struct http_req *r;
    struct admin_api *api;
    const char *seg[ADMIN_MAX_SEGS];
    size_t nseg;
    const char *name; /* the {name} segment, when the pattern has one */
};

typedef void (*admin_handler)(struct admin_call *c);

struct admin_endpoint {
    const char *method;
    const char *pattern; /* segments separated by '/', '*' matches one name */
    const char *action;  /* admin:* IAM action */
    admin_handler handler;
};

static const char *const canned_names[] = {"readonly", "readwrite", "writeonly", "diagnostics",
                                           "consoleAdmin"};

/* ---- replies ---- */

static void reply_json(struct admin_call *c, int status, json_t *obj)
{
    char *s = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (s == NULL) {
        http_reply_error(c->r, TS_E_INTERNAL, NULL);
        return;
    }
    http_reply_data(c->r, status, "application/json", s, strlen(s), true);
}

static void reply_errf(struct admin_call *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reply_errf(struct admin_call *c, int err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    http_reply_error(c->r, err, msg);
}

static json_t *strv_json(const struct iam_strv *sv)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < sv->n; i++)
        json_array_append_new(a, json_string(sv->v[i]));
    return a;
}

static const char *status_str(bool enabled)
{
    return enabled ? "enabled" : "disabled";
}

/* ---- request body ---- */

/* Parses the body as a JSON object into *out. On failure replies and returns false. */
static bool body_object(struct admin_call *c, json_t **out)
{
    json_error_t jerr;
    json_t *j;

    if (c->r->body == NULL || c->r->body_len == 0) {
        reply_errf(c, TS_E_INVALID_ARGUMENT, "request body must be a JSON object");
        return false;
    }
    j = json_loadb((const char *)c->r->body, c->r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        reply_errf(c, TS_E_INVALID_ARGUMENT, "request body is not a JSON object: %s",
                   j == NULL ? jerr.text : "wrong type");
        return false;
    }
    *out = j;
    return true;
}

/* A string member of obj, or NULL (also when it has another type). */
static const char *obj_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The "members" array of obj as a vector of borrowed strings (free() the vector only). */
static bool body_members(struct admin_call *c, json_t *obj, const char ***out, size_t *n)
{
    json_t *a = json_object_get(obj, "members");
    const char **v;
    size_t i;
    json_t *e;

    if (!json_is_array(a) || json_array_size(a) == 0) {
        reply_errf(c, TS_E_INVALID_ARGUMENT, "\"members\" must be a non-empty array of user names");
        return false;
    }
    v = calloc(json_array_size(a), sizeof(*v));
    if (v == NULL) {
        http_reply_error(c->r, TS_E_INTERNAL, NULL);
        return false;
    }
    json_array_foreach(a, i, e)
    {
        if (!json_is_string(e)) {
            free(v);
            reply_errf(c, TS_E_INVALID_ARGUMENT, "\"members\" must contain strings only");
            return false;
        }
        v[i] = json_string_value(e);
    }
    *out = v;
    *n = json_array_size(a);
    return true;
}

/* ---- users ---- */

static json_t *user_json(const struct iam_user *u)
{
    return json_pack("{s:s, s:s, s:o, s:o}", "accessKey", u->name, "status", status_str(u->enabled),
                     "policies", strv_json(&u->policies), "groups", strv_json(&u->groups));
}

static void reply_user(struct admin_call *c, const char *name)
{
    struct iam_user u = {0};
    int err = iam_user_get(c->api->st, name, &u);

    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "user %s does not exist", name);
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    reply_json(c, 200, user_json(&u));
    iam_user_cleanup(&u);
}

static void h_user_list(struct admin_call *c)
{
    struct iam_strv names = {0};
    json_t *arr, *obj;
    int err = iam_user_list(c->api->st, &names);

    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < names.n; i++) {
        struct iam_user u = {0};
        if (iam_user_get(c->api->st, names.v[i], &u) != TS_OK)
            continue; /* removed meanwhile */
        json_array_append_new(arr, user_json(&u));
        iam_user_cleanup(&u);
    }
    iam_strv_free(&names);
    obj = json_pack("{s:o}", "users", arr != NULL ? arr : json_array());
    reply_json(c, 200, obj);
}

/* PUT users/NAME (create only) and PUT users/NAME/secret (replace the secret of an existing
 * user): the two never share an action, so that admin:CreateUser cannot take over an account. */
static void user_put(struct admin_call *c, bool create)
{
    const struct pol_principal *p = c->r->principal;
    const char *msg = NULL, *secret;
    json_t *body = NULL;
    int err;

    /* the store refuses the root name once the server told it (iam_store_set_reserved);
     * when root itself calls, its access key is that name anyway */
    if (p->type == POL_PRINCIPAL_ROOT && p->access_key != NULL &&
        strcmp(p->access_key, c->name) == 0) {
        reply_errf(c, TS_E_INVALID_ARGUMENT,
                   "invalid user %s: user name is reserved for the root user", c->name);
        return;
    }
    if (!body_object(c, &body))
        return;
    secret = obj_str(body, "secretKey");
    if (secret == NULL) {
        json_decref(body);
        reply_errf(c, TS_E_INVALID_ARGUMENT, "\"secretKey\" (string) is required");
        return;
    }
    err = create ? iam_user_add(c->api->st, c->name, secret, &msg)
                 : iam_user_set_secret(c->api->st, c->name, secret, &msg);
    json_decref(body);
    if (err == TS_E_INVALID_ARGUMENT) {
        reply_errf(c, err, "invalid user %s: %s", c->name, msg != NULL ? msg : "rejected");
        return;
    }
    if (err == TS_E_ENTITY_EXISTS) {
        reply_errf(c, err,
                   "user %s already exists; changing its secret is \"user set-secret\" "
                   "(admin:UpdateUser)",
                   c->name);
        return;
    }
    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "user %s does not exist", c->name);
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    log_audit("admin", "op", create ? "user.add" : "user.set-secret", "user", c->name, NULL);
    reply_user(c, c->name);
}

static void h_user_add(struct admin_call *c)
{
    user_put(c, true);
}

static void h_user_set_secret(struct admin_call *c)
{
    user_put(c, false);
}

static void h_user_info(struct admin_call *c)
{
    reply_user(c, c->name);
}

static void user_set_enabled(struct admin_call *c, bool enabled)
{
    int err = iam_user_set_enabled(c->api->st, c->name, enabled);

    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "user %s does not exist", c->name);
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    log_audit("admin", "op", enabled ? "user.enable" : "user.disable", "user", c->name, NULL);
    reply_user(c, c->name);
}

static void h_user_enable(struct admin_call *c)
{
    user_set_enabled(c, true);
}

static void h_user_disable(struct admin_call *c)
{
    user_set_enabled(c, false);
}

static void h_user_remove(struct admin_call *c)
{
    int err = iam_user_remove(c->api->st, c->name);

    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "user %s does not exist", c->name);
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    log_audit("admin", "op", "user.remove", "user", c->name, NULL);
    reply_json(c, 200, json_pack("{s:s, s:b}", "accessKey", c->name, "removed", 1));
}

/* ---- groups ---- */

static void reply_group(struct admin_call *c, const char *name)
{
    struct iam_group g = {0};
    int err = iam_group_get(c->api->st, name, &g);

    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "group %s does not exist", name);
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    reply_json(c, 200,
               json_pack("{s:s, s:s, s:o, s:o}", "name", g.name, "status", status_str(g.enabled),
                         "members", strv_json(&g.members), "policies", strv_json(&g.policies)));
    iam_group_cleanup(&g);
}

static void h_group_list(struct admin_call *c)
{
    struct iam_strv names = {0};
    int err = iam_group_list(c->api->st, &names);

    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    reply_json(c, 200, json_pack("{s:o}", "groups", strv_json(&names)));
    iam_strv_free(&names);
}

static void h_group_info(struct admin_call *c)
{
    reply_group(c, c->name);
}

static void h_group_add_members(struct admin_call *c)
{
    const char **members = NULL;
    json_t *body = NULL;
    size_t n = 0;
    int err;

    if (!body_object(c, &body))
        return;
    if (!body_members(c, body, &members, &n))
        goto out;
    /* name the member that is missing (the store only says that one is) */
    for (size_t i = 0; i < n; i++) {
        struct iam_user u = {0};
        err = iam_user_get(c->api->st, members[i], &u);
        iam_user_cleanup(&u);
        if (err == TS_E_NO_SUCH_ENTITY) {
            reply_errf(c, err, "user %s does not exist", members[i]);
            goto out;
        }
    }
    err = iam_group_add(c->api->st, c->name, members, n);
    if (err == TS_E_INVALID_ARGUMENT) {
        reply_errf(c, err,
                   "invalid group name %s: 1 to 128 characters, no control characters, ',' or '/'",
                   c->name);
        goto out;
    }
    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "a member of the list does not exist (removed meanwhile?)");
        goto out;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        goto out;
    }
    log_audit("admin", "op", "group.add", "group", c->name, NULL);
    reply_group(c, c->name);
out:
    free(members);
    json_decref(body);
}

static void h_group_remove_members(struct admin_call *c)
{
    const char **members = NULL;
    json_t *body = NULL;
    size_t n = 0;
    int err;

    if (!body_object(c, &body))
        return;
    if (!body_members(c, body, &members, &n))
        goto out;
    err = iam_group_remove(c->api->st, c->name, members, n);
    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "group %s does not exist", c->name);
        goto out;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        goto out;
    }
    log_audit("admin", "op", "group.remove_members", "group", c->name, NULL);
    reply_group(c, c->name);
out:
    free(members);
    json_decref(body);
}

static void h_group_remove(struct admin_call *c)
{
    int err = iam_group_remove(c->api->st, c->name, NULL, 0);

    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "group %s does not exist", c->name);
        return;
    }
    if (err == TS_E_GROUP_NOT_EMPTY) {
        reply_errf(c, err, "group %s is not empty: remove its members first", c->name);
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    log_audit("admin", "op", "group.remove", "group", c->name, NULL);
    reply_json(c, 200, json_pack("{s:s, s:b}", "name", c->name, "removed", 1));
}

/* ---- policies ---- */

static bool is_canned(const char *name)
{
    return pol_canned_json(name) != NULL;
}

/* Whether the policy exists (canned or stored). Replies and returns false on store errors. */
static bool policy_exists(struct admin_call *c, const char *name, bool *exists)
{
    char *json = NULL;
    int err;

    if (is_canned(name)) {
        *exists = true;
        return true;
    }
    err = iam_policy_get(c->api->st, name, &json);
    free(json);
    if (err != TS_OK && err != TS_E_NO_SUCH_ENTITY) {
        http_reply_error(c->r, err, NULL);
        return false;
    }
    *exists = err == TS_OK;
    return true;
}

static void h_policy_list(struct admin_call *c)
{
    struct iam_strv names = {0};
    json_t *arr;
    int err = iam_policy_list(c->api->st, &names);

    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < sizeof(canned_names) / sizeof(canned_names[0]); i++)
        if (is_canned(canned_names[i]))
            json_array_append_new(arr,
                                  json_pack("{s:s, s:b}", "name", canned_names[i], "canned", 1));
    for (size_t i = 0; arr != NULL && i < names.n; i++)
        if (!is_canned(names.v[i]))
            json_array_append_new(arr, json_pack("{s:s, s:b}", "name", names.v[i], "canned", 0));
    iam_strv_free(&names);
    reply_json(c, 200, json_pack("{s:o}", "policies", arr != NULL ? arr : json_array()));
}

static void h_policy_info(struct admin_call *c)
{
    const char *canned = pol_canned_json(c->name);
    char *stored = NULL;
    json_t *doc;
    int err = TS_OK;

    if (canned == NULL) {
        err = iam_policy_get(c->api->st, c->name, &stored);
        if (err == TS_E_NO_SUCH_ENTITY) {
            reply_errf(c, err, "policy %s does not exist", c->name);
            return;
        }
        if (err != TS_OK) {
            http_reply_error(c->r, err, NULL);
            return;
        }
    }
    doc = json_loads(canned != NULL ? canned : stored, 0, NULL);
    free(stored);
    if (doc == NULL) {
        http_reply_error(c->r, TS_E_INTERNAL, "stored policy is not valid JSON");
        return;
    }
    reply_json(
        c, 200,
        json_pack("{s:s, s:b, s:o}", "name", c->name, "canned", canned != NULL, "policy", doc));
}

static void h_policy_create(struct admin_call *c)
{
    char why[256] = "";
    const char *body = (const char *)c->r->body;
    size_t len = c->r->body_len;
    int err;

    if (is_canned(c->name)) {
        reply_errf(c, TS_E_INVALID_ARGUMENT, "policy %s is built in and cannot be replaced",
                   c->name);
        return;
    }
    if (len > ADMIN_API_POLICY_MAX) {
        reply_errf(c, TS_E_ENTITY_TOO_LARGE, "policy document is %zu bytes; the limit is %d", len,
                   ADMIN_API_POLICY_MAX);
        return;
    }
    if (body == NULL || len == 0) {
        reply_errf(c, TS_E_MALFORMED_POLICY, "policy document is empty");
        return;
    }
    if (memchr(body, '\0', len) != NULL) {
        reply_errf(c, TS_E_MALFORMED_POLICY, "policy document contains a NUL byte");
        return;
    }
    err = pol_validate(body, len, why, sizeof(why));
    if (err != TS_OK) {
        reply_errf(c, TS_E_MALFORMED_POLICY, "policy %s: %s", c->name,
                   why[0] != '\0' ? why : "invalid policy document");
        return;
    }
    err = iam_policy_put(c->api->st, c->name, body);
    if (err == TS_E_INVALID_ARGUMENT) {
        reply_errf(c, err,
                   "invalid policy name %s: 1 to 128 characters, no spaces, control characters, "
                   "',' or '/'",
                   c->name);
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    log_audit("admin", "op", "policy.create", "policy", c->name, NULL);
    reply_json(c, 200, json_pack("{s:s, s:b}", "name", c->name, "created", 1));
}

static void h_policy_remove(struct admin_call *c)
{
    int err;

    if (is_canned(c->name)) {
        reply_errf(c, TS_E_INVALID_ARGUMENT, "policy %s is built in and cannot be removed",
                   c->name);
        return;
    }
    err = iam_policy_remove(c->api->st, c->name);
    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "policy %s does not exist", c->name);
        return;
    }
    if (err == TS_E_POLICY_IN_USE) {
        reply_errf(c, err, "policy %s is attached to a user, group, DN or role: detach it first",
                   c->name);
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    log_audit("admin", "op", "policy.remove", "policy", c->name, NULL);
    reply_json(c, 200, json_pack("{s:s, s:b}", "name", c->name, "removed", 1));
}

char *admin_dn_normalize(const char *dn)
{
    /* The LDAP backend's normalisation, so that attachments match the DNs the directory
     * returns (escaped commas keep their spaces). */
    return tldap_dn_normalize(dn);
}

static void attach_detach(struct admin_call *c, bool attach)
{
    static const struct {
        const char *key;
        enum iam_target kind;
        const char *what;
    } kinds[] = {
        {"user", IAM_TARGET_USER, "user"},
        {"group", IAM_TARGET_GROUP, "group"},
        {"dn", IAM_TARGET_DN, "DN"},
    };
    json_t *body = NULL;
    const char *target = NULL;
    char *norm = NULL;
    size_t k = 0, given = 0;
    bool exists;
    int err;

    if (!body_object(c, &body))
        return;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (json_object_get(body, kinds[i].key) != NULL) {
            given++;
            k = i;
        }
    }
    if (given != 1 || (target = obj_str(body, kinds[k].key)) == NULL || target[0] == '\0') {
        reply_errf(c, TS_E_INVALID_ARGUMENT,
                   "give exactly one of \"user\", \"group\" or \"dn\" (a non-empty string)");
        goto out;
    }
    if (kinds[k].kind == IAM_TARGET_DN) {
        norm = admin_dn_normalize(target);
        if (norm == NULL) {
            http_reply_error(c->r, TS_E_INTERNAL, NULL);
            goto out;
        }
        target = norm;
    }
    if (attach) {
        if (!policy_exists(c, c->name, &exists))
            goto out;
        if (!exists) {
            reply_errf(c, TS_E_NO_SUCH_ENTITY, "policy %s does not exist", c->name);
            goto out;
        }
        err = iam_attach(c->api->st, kinds[k].kind, target, c->name);
    } else {
        err = iam_detach(c->api->st, kinds[k].kind, target, c->name);
    }
    if (err == TS_E_NO_SUCH_ENTITY) {
        if (attach)
            reply_errf(c, err, "%s %s does not exist", kinds[k].what, target);
        else
            reply_errf(c, err, "policy %s is not attached to %s %s", c->name, kinds[k].what,
                       target);
        goto out;
    }
    if (err == TS_E_INVALID_ARGUMENT) {
        reply_errf(c, err, "invalid %s or policy name", kinds[k].what);
        goto out;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        goto out;
    }
    log_audit("admin", "op", attach ? "policy.attach" : "policy.detach", "policy", c->name,
              kinds[k].key, target, NULL);
    reply_json(c, 200,
               json_pack("{s:s, s:s, s:b}", "policy", c->name, kinds[k].key, target,
                         attach ? "attached" : "detached", 1));
out:
    free(norm);
    json_decref(body);
}

static void h_policy_attach(struct admin_call *c)
{
    attach_detach(c, true);
}

static void h_policy_detach(struct admin_call *c)
{
    attach_detach(c, false);
}

/* ---- sts ---- */

static void h_sts_revoke(struct admin_call *c)
{
    json_t *body = NULL;
    const char *user, *ak;
    char *norm = NULL;
    int err;

    if (c->api->sts == NULL) {
        reply_errf(c, TS_E_NOT_IMPLEMENTED, "the STS is not enabled on this server");
        return;
    }
    if (!body_object(c, &body))
        return;
    user = obj_str(body, "user");
    ak = obj_str(body, "accessKey");
    if ((user == NULL) == (ak == NULL) || (user != NULL && user[0] == '\0') ||
        (ak != NULL && ak[0] == '\0')) {
        reply_errf(c, TS_E_INVALID_ARGUMENT,
                   "give exactly one of \"user\" or \"accessKey\" (a non-empty string)");
        goto out;
    }
    if (user != NULL) {
        if (strchr(user, ',') != NULL) { /* an LDAP DN parent */
            norm = admin_dn_normalize(user);
            if (norm == NULL) {
                http_reply_error(c->r, TS_E_INTERNAL, NULL);
                goto out;
            }
            user = norm;
        }
        err = sts_revoke_user(c->api->sts, user);
    } else {
        err = sts_revoke_access_key(c->api->sts, ak);
    }
    if (err == TS_E_NO_SUCH_ENTITY) {
        if (user != NULL)
            reply_errf(c, err, "user %s does not exist", user);
        else
            reply_errf(c, err, "access key %s is not a temporary access key", ak);
        goto out;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        goto out;
    }
    log_audit("admin", "op", "sts.revoke", "user", user, "access_key", ak, NULL);
    reply_json(c, 200,
               user != NULL ? json_pack("{s:s, s:b}", "user", user, "revoked", 1)
                            : json_pack("{s:s, s:b}", "accessKey", ak, "revoked", 1));
out:
    free(norm);
    json_decref(body);
}

static void h_sts_rotate_key(struct admin_call *c)
{
    char kid[32] = "";
    int err;

    if (c->api->sts == NULL) {
        reply_errf(c, TS_E_NOT_IMPLEMENTED, "the STS is not enabled on this server");
        return;
    }
    err = sts_rotate_key(c->api->sts, kid);
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    kid[sizeof(kid) - 1] = '\0';
    log_audit("admin", "op", "sts.rotate_key", "kid", kid, NULL);
    reply_json(c, 200, json_pack("{s:s}", "keyId", kid));
}

/* ---- roles (policy/roles.h) ---- */

static json_t *role_json(const char *name)
{
    char arn[128] = "";
    pol_role_arn(name, arn, sizeof(arn));
    return json_pack("{s:s, s:s}", "name", name, "arn", arn);
}

static void h_role_list(struct admin_call *c)
{
    struct iam_strv names = {0};
    json_t *arr;
    int err = pol_role_list(c->api->st, &names);

    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < names.n; i++)
        json_array_append_new(arr, role_json(names.v[i]));
    iam_strv_free(&names);
    reply_json(c, 200, json_pack("{s:o}", "roles", arr != NULL ? arr : json_array()));
}

static void role_put(struct admin_call *c, bool replace)
{
    char why[400] = "";
    int err = pol_role_put(c->api->st, c->name, (const char *)c->r->body, c->r->body_len, replace,
                           why, sizeof(why));
    json_t *res;

    if (err == TS_E_MALFORMED_POLICY || err == TS_E_INVALID_ARGUMENT || err == TS_E_ENTITY_EXISTS) {
        reply_errf(c, err, "role %s: %s", c->name, why[0] != '\0' ? why : ts_err_message(err));
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    log_audit("admin", "op", replace ? "role.trust" : "role.create", "role", c->name, NULL);
    res = role_json(c->name);
    if (res != NULL)
        json_object_set_new(res, replace ? "updated" : "created", json_true());
    reply_json(c, 200, res);
}

static void h_role_create(struct admin_call *c)
{
    role_put(c, false);
}

static void h_role_set_trust(struct admin_call *c)
{
    if (pol_role_get(c->api->st, c->name, NULL, NULL, NULL) != TS_OK) {
        reply_errf(c, TS_E_NO_SUCH_ENTITY, "role %s does not exist", c->name);
        return;
    }
    role_put(c, true);
}

static void h_role_info(struct admin_call *c)
{
    struct iam_strv pols = {0};
    char *trust = NULL;
    char created[32] = "";
    time_t t = 0;
    json_t *res, *doc;
    int err = pol_role_get(c->api->st, c->name, &trust, &t, &pols);

    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "role %s does not exist", c->name);
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    doc = json_loads(trust, 0, NULL);
    free(trust);
    if (t > 0) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    res = role_json(c->name);
    if (res != NULL) {
        json_object_set_new(res, "trust", doc != NULL ? doc : json_null());
        json_object_set_new(res, "policies", strv_json(&pols));
        json_object_set_new(res, "created", json_string(created));
    } else {
        json_decref(doc);
    }
    iam_strv_free(&pols);
    reply_json(c, 200, res);
}

static void h_role_remove(struct admin_call *c)
{
    int err = pol_role_remove(c->api->st, c->name);

    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "role %s does not exist", c->name);
        return;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        return;
    }
    log_audit("admin", "op", "role.remove", "role", c->name, NULL);
    reply_json(c, 200, json_pack("{s:s, s:b}", "name", c->name, "removed", 1));
}

static void role_attach_detach(struct admin_call *c, bool attach)
{
    json_t *body = NULL;
    const char *policy;
    bool exists;
    int err;

    if (!body_object(c, &body))
        return;
    policy = obj_str(body, "policy");
    if (policy == NULL || policy[0] == '\0') {
        reply_errf(c, TS_E_INVALID_ARGUMENT, "\"policy\" must be a non-empty string");
        goto out;
    }
    err = pol_role_get(c->api->st, c->name, NULL, NULL, NULL);
    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "role %s does not exist", c->name);
        goto out;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        goto out;
    }
    if (attach) {
        if (!policy_exists(c, policy, &exists))
            goto out;
        if (!exists) {
            reply_errf(c, TS_E_NO_SUCH_ENTITY, "policy %s does not exist", policy);
            goto out;
        }
        err = iam_attach(c->api->st, IAM_TARGET_ROLE, c->name, policy);
    } else {
        err = iam_detach(c->api->st, IAM_TARGET_ROLE, c->name, policy);
    }
    if (err == TS_E_NO_SUCH_ENTITY) {
        reply_errf(c, err, "policy %s is not attached to role %s", policy, c->name);
        goto out;
    }
    if (err == TS_E_INVALID_ARGUMENT) {
        reply_errf(c, err, "invalid policy name %s", policy);
        goto out;
    }
    if (err != TS_OK) {
        http_reply_error(c->r, err, NULL);
        goto out;
    }
    log_audit("admin", "op", attach ? "role.attach" : "role.detach", "role", c->name, "policy",
              policy, NULL);
    reply_json(c, 200,
               json_pack("{s:s, s:s, s:b}", "role", c->name, "policy", policy,
                         attach ? "attached" : "detached", 1));
out:
    json_decref(body);
}

static void h_role_attach(struct admin_call *c)
{
    role_attach_detach(c, true);
}

static void h_role_detach(struct admin_call *c)
{
    role_attach_detach(c, false);
}

/* ---- dispatch ---- */

static const struct admin_endpoint admin_endpoints[] = {
    {"GET", "users", "admin:ListUsers", h_user_list},
    {"PUT", "users/*", "admin:CreateUser", h_user_add},
    {"PUT", "users/*/secret", "admin:UpdateUser", h_user_set_secret},
    {"GET", "users/*", "admin:GetUser", h_user_info},
    {"DELETE", "users/*", "admin:DeleteUser", h_user_remove},
    {"POST", "users/*/enable", "admin:EnableUser", h_user_enable},
    {"POST", "users/*/disable", "admin:DisableUser", h_user_disable},
    {"GET", "groups", "admin:ListGroups", h_group_list},
    {"GET", "groups/*", "admin:GetGroup", h_group_info},
    {"DELETE", "groups/*", "admin:RemoveUserFromGroup", h_group_remove},
    {"POST", "groups/*/add-members", "admin:AddUserToGroup", h_group_add_members},
    {"POST", "groups/*/remove-members", "admin:RemoveUserFromGroup", h_group_remove_members},
    {"GET", "policies", "admin:ListUserPolicies", h_policy_list},
    {"PUT", "policies/*", "admin:CreatePolicy", h_policy_create},
    {"GET", "policies/*", "admin:GetPolicy", h_policy_info},
    {"DELETE", "policies/*", "admin:DeletePolicy", h_policy_remove},
    {"POST", "policies/*/attach", "admin:AttachUserOrGroupPolicy", h_policy_attach},
    {"POST", "policies/*/detach", "admin:AttachUserOrGroupPolicy", h_policy_detach},
    {"POST", "sts/revoke", "admin:RevokeTokens", h_sts_revoke},
    {"POST", "sts/rotate-key", "admin:RotateTokenKey", h_sts_rotate_key},
    {"GET", "roles", "admin:ListRoles", h_role_list},
    {"PUT", "roles/*", "admin:CreateRole", h_role_create},
    {"GET", "roles/*", "admin:GetRole", h_role_info},
    {"DELETE", "roles/*", "admin:DeleteRole", h_role_remove},
    {"PUT", "roles/*/trust", "admin:UpdateRoleTrust", h_role_set_trust},
    {"POST", "roles/*/attach", "admin:AttachRolePolicy", h_role_attach},
    {"POST", "roles/*/detach", "admin:AttachRolePolicy", h_role_detach},
};

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

/* Splits the path after the prefix into c->seg (in buf). False when it has too many or
 * empty segments. */
static bool split_path(struct admin_call *c, char *buf)
{
    char *p = buf;

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

/* Whether the principal may perform action; replies 403 when not. */
static bool authorize(struct admin_call *c, const char *action)
{
    const struct pol_principal *p = c->r->principal;
    struct pol_request rq = {0};
    const char *why = NULL;

    if (p == NULL || p->type == POL_PRINCIPAL_ANONYMOUS) {
        reply_errf(c, TS_E_ACCESS_DENIED, "the admin API needs a signed request");
        return false;
    }
    if (p->type == POL_PRINCIPAL_ROOT)
        return true;
    if (p->type != POL_PRINCIPAL_USER) {
        reply_errf(c, TS_E_ACCESS_DENIED,
                   "temporary credentials cannot use the admin API; use a user's own keys");
        return false;
    }
    rq.action = action;
    rq.resource = "arn:aws:s3:::*";
    rq.principal = p;
    rq.source_ip = c->r->source_ip;
    rq.secure_transport = c->r->tls;
    rq.user_agent = http_req_header(c->r, "User-Agent");
    rq.now = time(NULL);
    if (c->api->pe == NULL || pol_authorize(c->api->pe, &rq, NULL, &why) != POL_ALLOW) {
        reply_errf(c, TS_E_ACCESS_DENIED, "%s is not allowed for user %s%s%s", action,
                   p->username != NULL ? p->username : "?", why != NULL ? ": " : "",
                   why != NULL ? why : "");
        return false;
    }
    return true;
}

static bool admin_match(struct http_req *r)
{
    return r->path != NULL && strncmp(r->path, ADMIN_API_PREFIX, sizeof(ADMIN_API_PREFIX) - 1) == 0;
}

/* route->finish: find the endpoint, authorize its action, run its handler. */
static void admin_dispatch(struct http_req *r)
{
    struct admin_call c = {.r = r, .api = r->route->ctx};
    const struct pol_principal *p = r->principal;
    const struct admin_endpoint *ep = NULL;
    bool path_known = false;
    char *buf;

    if (c.api == NULL) {
        http_reply_error(r, TS_E_SERVICE_UNAVAILABLE, "the admin API is not available");
        return;
    }
    /* anonymous and temporary callers learn nothing about the endpoints */
    if (p == NULL || p->type == POL_PRINCIPAL_ANONYMOUS || p->type == POL_PRINCIPAL_TEMP) {
        authorize(&c, "admin:*");
        return;
    }
    buf = strdup(r->path + sizeof(ADMIN_API_PREFIX) - 1);
    if (buf == NULL) {
        http_reply_error(r, TS_E_INTERNAL, NULL);
        return;
    }
    if (split_path(&c, buf)) {
        for (size_t i = 0; i < sizeof(admin_endpoints) / sizeof(admin_endpoints[0]); i++) {
            if (!pattern_match(&c, admin_endpoints[i].pattern))
                continue;
            path_known = true;
            if (strcmp(r->method, admin_endpoints[i].method) == 0) {
                ep = &admin_endpoints[i];
                break;
            }
        }
    }
    if (ep == NULL) {
        if (path_known)
            reply_errf(&c, TS_E_METHOD_NOT_ALLOWED, "%s is not allowed on %s", r->method, r->path);
        else
            reply_errf(&c, TS_E_INVALID_REQUEST, "unknown admin API endpoint %s %s", r->method,
                       r->path);
        goto out;
    }
    pattern_match(&c, ep->pattern); /* sets c.name again for the endpoint found */
    /* A static user may change its own secret (it signed with the current one); anything
     * else, and another user's secret, needs the endpoint's action. */
    if (!(ep->handler == h_user_set_secret && p->type == POL_PRINCIPAL_USER &&
          p->access_key != NULL && c.name != NULL && strcmp(p->access_key, c.name) == 0) &&
        !authorize(&c, ep->action))
        goto out;
    ep->handler(&c);
    if (!http_replied(r))
        http_reply_error(r, TS_E_INTERNAL, NULL);
out:
    free(buf);
}

void admin_api_route_init(struct http_route *route, struct iam_store *st, struct pol_engine *pe,
                          struct sts_ctx *sts)
{
    struct admin_api *api = calloc(1, sizeof(*api));

    memset(route, 0, sizeof(*route));
    route->name = "admin";
    route->match = admin_match;
    route->finish = admin_dispatch;
    route->err_style = HTTP_ERR_JSON;
    route->body_max = ADMIN_API_BODY_MAX;
    if (api == NULL) {
        fprintf(stderr, "tessera: admin API: out of memory\n");
        return;
    }
    api->st = st;
    api->pe = pe;
    api->sts = sts;
    route->ctx = api;
}

void admin_api_route_free(struct http_route *route)
{
    if (route == NULL)
        return;
    free(route->ctx);
    route->ctx = NULL;
}
