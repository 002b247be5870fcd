/* admin_svc.c -- the admin API's service-account endpoints (MinIO's add-, list-, info-,
 * update- and delete-service-account): handlers of the skeleton in admin_api.c.
 *
 * Who may do what (MinIO's rules): the route declares each endpoint's admin:* action with
 * HTTP_AUTHZ_PER_ITEM, and the handler asks the authorizer once it knows the account's parent
 * (svc_authorize). A caller acting on its OWN accounts -- a static user with its keys or a
 * role-less session of it, an LDAP or OpenID identity with the session of its login -- is
 * allowed unless a policy explicitly denies the action; on anybody else's it needs the action
 * allowed, with a user's own keys (not temporary credentials). Service accounts never manage
 * service accounts. Accounts an admin creates for someone else have a static user or an LDAP
 * DN as parent: a DN must be a user in the directory now (looked up with the LDAP backend's
 * lookup account, on the route's worker threads: POST is blocking), and the account records
 * what one created from that user's own login would.
 * A session with a session policy creates accounts bounded by that policy, and cannot change
 * an account's policy. Secrets are answered once, at creation or when set, and stored sealed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/enc.h"
#include "core/err.h"
#include "idp/kv.h"
#include "sts/admin_int.h"
#include "sts/svcacct.h"

#define SVC_POLICY_MAX (16 * 1024)
#define SVC_SECRET_LEN 40
static const char secret_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Asks whether the caller may do the endpoint's action on an account of parent (NULL: not
 * known to be the caller's own). TS_OK or the denial (c->msg set). quiet: not audited. */
static int svc_authorize(struct admin_call *c, const char *parent, const char *ptype, bool quiet)
{
    const struct pol_principal *p = c->r->principal;
    const char *mine = NULL, *mtype = NULL;
    struct http_authz q = {0};
    struct ts_error e = {0};
    bool self = parent != NULL && sts_svc_owner(p, &mine, &mtype) && strcmp(mine, parent) == 0 &&
                strcmp(mtype, ptype) == 0;
    int rc;

    if (p != NULL && p->type == POL_PRINCIPAL_SVC)
        return admin_fail(c, TS_E_ACCESS_DENIED,
                          "%s is not allowed with the credentials of a service account",
                          c->ep->action);
    q.op = c->ep->action;
    q.item[0] = (struct http_authz_item){c->ep->action, "arn:aws:s3:::*", NULL, NULL};
    q.nitems = 1;
    q.flags = HTTP_AUTHZ_SIGNED | HTTP_AUTHZ_EXPLAIN |
              (self ? HTTP_AUTHZ_UNLESS_DENIED : HTTP_AUTHZ_STATIC) |
              (quiet ? HTTP_AUTHZ_QUIET : 0);
    rc = http_authorize(c->r, &q, &e);
    if (rc == TS_OK)
        return TS_OK;
    return admin_fail(c, rc, "%s", ts_error_msg(&e) != NULL ? ts_error_msg(&e) : "Access Denied.");
}

static json_t *svc_json(const struct iam_svcacct *s, bool with_policy)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b}", "accessKey", s->access_key, "parent",
                          s->parent, "parentType", s->parent_type, "status",
                          s->enabled ? "enabled" : "disabled", "impliedPolicy", s->policy == NULL);
    char t[32];

    if (o == NULL)
        return NULL;
    if (s->name != NULL)
        json_object_set_new(o, "name", json_string(s->name));
    if (s->description != NULL)
        json_object_set_new(o, "description", json_string(s->description));
    if (s->expiration != 0)
        enc_time_iso8601((time_t)s->expiration, t);
    json_object_set_new(o, "expiration", s->expiration != 0 ? json_string(t) : json_null());
    if (with_policy && s->policy != NULL)
        json_object_set_new(o, "policy", json_loads(s->policy, 0, NULL));
    return o;
}

/* ---- the body's fields ---- */

/* What a create or an edit sets (NULL / false: unchanged). */
struct svc_fields {
    char *policy; /* validated JSON text; set_policy with NULL removes it */
    bool set_policy;
    const char *name, *description, *secret;
    char *sealed;
    int64_t expiration; /* set_expiration with 0 removes it */
    bool set_expiration;
    int enabled; /* -1: unchanged */
};

static void fields_cleanup(struct svc_fields *f)
{
    free(f->policy);
    enc_secret_free(f->sealed);
}

static int body_policy(struct admin_call *c, struct svc_fields *f)
{
    json_t *v = json_object_get(c->body, "policy");
    char perr[256];
    struct pol_doc *doc = NULL;

    if (v == NULL)
        return TS_OK;
    f->set_policy = true;
    if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
        return TS_OK;
    f->policy = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT);
    if (f->policy == NULL || (!json_is_string(v) && !json_is_object(v)))
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"policy\" must be a policy document");
    if (strlen(f->policy) > SVC_POLICY_MAX)
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"policy\" is longer than %d bytes",
                          SVC_POLICY_MAX);
    if (pol_doc_parse(f->policy, strlen(f->policy), &doc, perr, sizeof perr) != TS_OK)
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "invalid policy: %s", perr);
    pol_doc_free(doc);
    return TS_OK;
}

static int body_expiration(struct admin_call *c, struct svc_fields *f)
{
    json_t *v = json_object_get(c->body, "expiration");
    time_t t = 0;

    if (v == NULL)
        return TS_OK;
    f->set_expiration = true;
    if (json_is_null(v))
        return TS_OK;
    if (json_is_integer(v))
        t = (time_t)json_integer_value(v);
    else if (!json_is_string(v) || enc_time_parse_iso8601(json_string_value(v), &t) != 0)
        return admin_fail(c, TS_E_INVALID_ARGUMENT,
                          "\"expiration\" must be an RFC 3339 time (2030-01-02T15:04:05Z) or "
                          "seconds since the epoch");
    if (t <= enc_now())
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"expiration\" must be in the future");
    f->expiration = (int64_t)t;
    return TS_OK;
}

static int body_secret(struct admin_call *c, struct svc_fields *f)
{
    const char *s = admin_body_str(c, "secretKey");
    size_t n = s != NULL ? strlen(s) : 0;

    if (json_object_get(c->body, "secretKey") != NULL && s == NULL)
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"secretKey\" must be a string");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
            n = 0;
    if (s != NULL && (n < 8 || n > 40))
        return admin_fail(c, TS_E_INVALID_ARGUMENT,
                          "secret key must be 8 to 40 printable characters without spaces");
    f->secret = s;
    return TS_OK;
}

/* Reads the fields of c's body into f (status only for an edit). */
static int body_fields(struct admin_call *c, struct svc_fields *f, bool edit)
{
    static const char *const strs[] = {"name", "description", "accessKey", "parent", "status"};
    const char *status = admin_body_str(c, "status");
    int rc = TS_OK;

    f->enabled = -1;
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        if (json_object_get(c->body, strs[i]) != NULL && admin_body_str(c, strs[i]) == NULL)
            return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"%s\" must be a string", strs[i]);
    f->name = admin_body_str(c, "name");
    f->description = admin_body_str(c, "description");
    if (edit && status != NULL) {
        f->enabled = strcmp(status, "on") == 0 || strcmp(status, "enabled") == 0     ? 1
                     : strcmp(status, "off") == 0 || strcmp(status, "disabled") == 0 ? 0
                                                                                     : -2;
        if (f->enabled == -2)
            return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"status\" must be on or off");
    }
    if (rc == TS_OK)
        rc = body_policy(c, f);
    if (rc == TS_OK)
        rc = body_expiration(c, f);
    return rc == TS_OK ? body_secret(c, f) : rc;
}

/* A session bounded by a session policy passes the bound on and cannot lift it. */
static int session_bound(struct admin_call *c, struct svc_fields *f, bool edit)
{
    const struct pol_principal *p = c->r->principal;

    if (p->type != POL_PRINCIPAL_TEMP || p->session_policy == NULL)
        return TS_OK;
    if (f->set_policy)
        return admin_fail(c, TS_E_ACCESS_DENIED,
                          "credentials with a session policy cannot set the policy of a "
                          "service account: %s",
                          edit ? "use credentials without one"
                               : "the account gets the session policy; omit \"policy\"");
    if (!edit && (f->policy = strdup(p->session_policy)) == NULL)
        return TS_E_INTERNAL;
    f->set_policy = true;
    return TS_OK;
}

/* ---- create ---- */

/* The type of the parent that name names: want when given ("static" or "ldap"; the body's
 * or the query's "parentType"), else "ldap" for a name with '=' when LDAP identity is
 * configured (MinIO's rule: a DN), else "static". An LDAP DN is normalised into *dn (the
 * form its logins record). */
static int parent_type(struct admin_call *c, const char *name, const char *want, bool given,
                       const char **ptype, char **dn)
{
    bool ldap = sts_svc_ldap_on(c->api->sts);

    if (given && (want == NULL || (strcmp(want, "static") != 0 && strcmp(want, "ldap") != 0)))
        return admin_fail(c, TS_E_INVALID_ARGUMENT,
                          "\"parentType\" must be \"static\" or \"ldap\" (OpenID subjects create "
                          "their own accounts after a login)");
    if (given && name == NULL)
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"parentType\" needs a \"parent\"");
    *ptype = want != NULL && strcmp(want, "ldap") == 0                   ? "ldap"
             : want == NULL && ldap && name != NULL && strchr(name, '=') ? "ldap"
                                                                         : "static";
    if (strcmp(*ptype, "ldap") != 0)
        return TS_OK;
    if (!ldap)
        return admin_fail(c, TS_E_INVALID_ARGUMENT,
                          "LDAP identity is not configured: the parent cannot be an LDAP DN");
    if ((*dn = admin_dn_normalize(name)) == NULL)
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "\"parent\" is not a valid LDAP DN: %.300s",
                          name);
    return TS_OK;
}

/* The parent of a new account: the caller's own, or the static user or LDAP DN (normalised
 * into *dn) that "parent" names. */
static int new_parent(struct admin_call *c, const char **parent, const char **ptype, bool *self,
                      char **dn)
{
    const char *named = admin_body_str(c, "parent"), *mine, *mtype, *ntype = "static";
    bool owner = sts_svc_owner(c->r->principal, &mine, &mtype);
    int rc = parent_type(c, named, admin_body_str(c, "parentType"),
                         json_object_get(c->body, "parentType") != NULL, &ntype, dn);

    if (rc != TS_OK)
        return rc;
    if (*dn != NULL)
        named = *dn;
    *self = owner && (named == NULL || (strcmp(named, mine) == 0 && strcmp(ntype, mtype) == 0));
    *parent = *self ? mine : named;
    *ptype = *self ? mtype : ntype;
    if (*parent == NULL && svc_authorize(c, NULL, NULL, false) != TS_OK)
        return TS_E_ACCESS_DENIED; /* not the admin either: c->msg says why */
    if (*parent == NULL)
        return admin_fail(c, TS_E_INVALID_ARGUMENT,
                          "these credentials cannot own service accounts (root, a role session, "
                          "client grants or a service account): name a \"parent\" user or "
                          "LDAP DN");
    return TS_OK;
}

/* An LDAP DN named by an admin: the directory must know the user (svcacct.c), whose claims
 * and group DNs s records as an account created from its own login. */
static int ldap_parent(struct admin_call *c, struct iam_svcacct *s)
{
    struct ts_error e = {0};
    int rc = sts_svc_ldap_parent(c->api->sts, s->parent, s, &e);

    if (rc != TS_OK && ts_error_msg(&e) != NULL)
        admin_fail(c, rc, "%s", ts_error_msg(&e));
    return rc;
}

/* Fills s (access key, sealed secret, fields) for parent; secret gets the secret. */
static int new_account(struct admin_call *c, struct svc_fields *f, struct iam_svcacct *s,
                       char secret[SVC_SECRET_LEN + 1])
{
    const char *ak = admin_body_str(c, "accessKey");
    char gen[21];

    if (ak == NULL && sts_new_access_key(gen) != 0)
        return TS_E_INTERNAL;
    if (f->secret != NULL)
        snprintf(secret, SVC_SECRET_LEN + 1, "%s", f->secret);
    else if (enc_random_chars(secret, SVC_SECRET_LEN, secret_chars, sizeof secret_chars - 1) != 0)
        return TS_E_INTERNAL;
    secret[f->secret != NULL ? strlen(f->secret) : SVC_SECRET_LEN] = '\0';
    if ((s->access_key = strdup(ak != NULL ? ak : gen)) == NULL)
        return TS_E_INTERNAL;
    if (strlen(s->access_key) > KV_KEY_MAX)
        return admin_fail(c, TS_E_INVALID_ARGUMENT, "access key is too long");
    int rc = sts_svc_seal(c->api->sts, s->access_key, secret, &s->sealed_secret);
    if (rc != TS_OK)
        return rc;
    s->policy = f->policy;
    f->policy = NULL;
    s->name = f->name != NULL ? strdup(f->name) : NULL;
    s->description = f->description != NULL ? strdup(f->description) : NULL;
    s->expiration = f->expiration;
    s->created_ns = iam_now_ns();
    s->enabled = true;
    return TS_OK;
}

static int add_error(struct admin_call *c, int rc, const struct iam_svcacct *s, const char *msg)
{
    if (rc == TS_E_ENTITY_EXISTS)
        return admin_fail(c, rc, "access key %s is already in use", s->access_key);
    if (rc == TS_E_NO_SUCH_ENTITY)
        return admin_fail(c, rc, "user %s does not exist", s->parent);
    if (rc == TS_E_INVALID_ARGUMENT)
        return admin_fail(c, rc, "invalid service account: %s", msg != NULL ? msg : "rejected");
    return rc;
}

int admin_svc_create(struct admin_call *c)
{
    const struct pol_principal *p = c->r->principal;
    struct svc_fields f = {0};
    struct iam_svcacct s = {0};
    const char *parent, *ptype, *msg = NULL;
    char secret[SVC_SECRET_LEN + 1] = "", *dn = NULL;
    bool self;
    int rc = new_parent(c, &parent, &ptype, &self, &dn);

    if (rc == TS_OK)
        rc = svc_authorize(c, self ? parent : NULL, ptype, false);
    if (rc == TS_OK)
        rc = body_fields(c, &f, false);
    if (rc == TS_OK && self)
        rc = session_bound(c, &f, false);
    if (rc == TS_OK &&
        ((s.parent = strdup(parent)) == NULL || (s.parent_type = strdup(ptype)) == NULL))
        rc = TS_E_INTERNAL;
    if (rc == TS_OK && self)
        rc = sts_svc_from_session(p, &s);
    else if (rc == TS_OK && strcmp(ptype, "ldap") == 0)
        rc = ldap_parent(c, &s);
    if (rc == TS_OK)
        rc = new_account(c, &f, &s, secret);
    if (rc == TS_OK && (c->norm = strdup(s.access_key)) != NULL)
        c->name = c->norm;
    if (rc == TS_OK && (rc = iam_svcacct_add(c->api->st, &s, &msg)) != TS_OK)
        rc = add_error(c, rc, &s, msg);
    if (rc == TS_OK) {
        sts_svc_track(c->api->sts, &s);
        c->out = svc_json(&s, true);
        c->audit[0] = "parent";
        c->audit[1] = json_string_value(json_object_get(c->out, "parent")); /* outlives s, dn */
        if (c->out == NULL || json_object_set_new(c->out, "secretKey", json_string(secret)) != 0)
            rc = TS_E_INTERNAL;
    }
    OPENSSL_cleanse(secret, sizeof secret);
    free(dn);
    fields_cleanup(&f);
    iam_svcacct_cleanup(&s);
    return rc;
}

/* ---- the others: the account c->name ---- */

/* Reads the account c->name into *s and authorizes the call on it. An account that does not
 * exist is authorized as someone else's, so that only those allowed learn that. */
static int account(struct admin_call *c, struct iam_svcacct *s)
{
    int rc = iam_svcacct_get(c->api->st, c->name, s);

    if (rc == TS_E_NO_SUCH_ENTITY) {
        rc = svc_authorize(c, NULL, NULL, false);
        return rc != TS_OK ? rc
                           : admin_fail(c, TS_E_NO_SUCH_ENTITY, "service account %s does not exist",
                                        c->name);
    }
    return rc != TS_OK ? rc : svc_authorize(c, s->parent, s->parent_type, false);
}

int admin_svc_info(struct admin_call *c)
{
    struct iam_svcacct s = {0};
    int rc = account(c, &s);

    if (rc == TS_OK && (c->out = svc_json(&s, true)) == NULL)
        rc = TS_E_INTERNAL;
    iam_svcacct_cleanup(&s);
    return rc;
}

int admin_svc_remove(struct admin_call *c)
{
    struct iam_svcacct s = {0};
    int rc = account(c, &s);

    if (rc == TS_OK)
        rc = iam_svcacct_remove(c->api->st, c->name);
    iam_svcacct_cleanup(&s);
    return rc == TS_OK ? admin_done(c, "accessKey", c->name, "removed") : rc;
}

static int set_str(char **dst, const char *v)
{
    char *d = v != NULL && v[0] != '\0' ? strdup(v) : NULL;
    if (v != NULL && v[0] != '\0' && d == NULL)
        return TS_E_INTERNAL;
    free(*dst);
    *dst = d;
    return TS_OK;
}

/* iam_svcacct_edit_fn: applies the struct svc_fields arg. */
static int apply(struct iam_svcacct *s, void *arg, const char **msg)
{
    const struct svc_fields *f = arg;
    int rc = TS_OK;

    (void)msg;
    if (f->sealed != NULL)
        rc |= set_str(&s->sealed_secret, f->sealed);
    if (f->set_policy)
        rc |= set_str(&s->policy, f->policy);
    if (f->name != NULL)
        rc |= set_str(&s->name, f->name);
    if (f->description != NULL)
        rc |= set_str(&s->description, f->description);
    if (f->set_expiration)
        s->expiration = f->expiration;
    if (f->enabled >= 0)
        s->enabled = f->enabled == 1;
    return rc != TS_OK ? TS_E_INTERNAL : TS_OK;
}

/* Applies f to the account c->name and answers it. */
static int update(struct admin_call *c, struct svc_fields *f)
{
    const char *msg = NULL;
    int rc = iam_svcacct_update(c->api->st, c->name, apply, f, &msg);

    if (rc == TS_E_INVALID_ARGUMENT)
        return admin_fail(c, rc, "invalid service account: %s", msg != NULL ? msg : "rejected");
    return rc == TS_OK ? admin_svc_info(c) : rc;
}

int admin_svc_edit(struct admin_call *c)
{
    struct iam_svcacct s = {0};
    struct svc_fields f = {0};
    int rc = account(c, &s);

    if (rc == TS_OK)
        rc = body_fields(c, &f, true);
    if (rc == TS_OK && f.set_policy)
        rc = session_bound(c, &f, true);
    if (rc == TS_OK && f.secret != NULL)
        rc = sts_svc_seal(c->api->sts, c->name, f.secret, &f.sealed);
    if (rc == TS_OK)
        rc = update(c, &f);
    fields_cleanup(&f);
    iam_svcacct_cleanup(&s);
    return rc;
}

int admin_svc_enable(struct admin_call *c)
{
    struct iam_svcacct s = {0};
    struct svc_fields f = {.enabled = admin_adds(c) ? 1 : 0};
    int rc = account(c, &s);

    iam_svcacct_cleanup(&s);
    return rc == TS_OK ? update(c, &f) : rc;
}

/* A listed account; NULL when removed meanwhile. */
static json_t *svc_item(struct admin_call *c, const char *ak)
{
    struct iam_svcacct s = {0};
    json_t *j;
    if (iam_svcacct_get(c->api->st, ak, &s) != TS_OK)
        return NULL;
    j = svc_json(&s, false);
    iam_svcacct_cleanup(&s);
    return j;
}

/* Every account (or those of the parent ?parent= names, typed as for a create) for those
 * allowed admin:ListServiceAccounts; else the caller's own (?parent= may name it). */
int admin_svc_list(struct admin_call *c)
{
    struct iam_strv aks = {0};
    const char *named = http_req_query(c->r, "parent"), *qtype = http_req_query(c->r, "parentType");
    const char *ntype = NULL, *mine = NULL, *mtype = NULL;
    char *dn = NULL;
    int rc = parent_type(c, named != NULL && named[0] != '\0' ? named : NULL, qtype, qtype != NULL,
                         &ntype, &dn);

    if (rc != TS_OK)
        return rc;
    if (dn != NULL || (named != NULL && named[0] == '\0'))
        named = dn;
    rc = svc_authorize(c, NULL, NULL, true);
    if (rc == TS_OK) {
        mine = named;
    } else if (sts_svc_owner(c->r->principal, &mine, &mtype)) {
        bool theirs = named == NULL || (strcmp(named, mine) == 0 && strcmp(ntype, mtype) == 0);
        c->msg[0] = '\0';
        rc = svc_authorize(c, theirs ? mine : NULL, theirs ? mtype : NULL, false);
    }
    if (rc == TS_OK)
        rc = iam_svcacct_list(c->api->st, mine, &aks);
    free(dn);
    return rc == TS_OK ? admin_list_out(c, "accounts", &aks, json_array(), svc_item) : rc;
}
