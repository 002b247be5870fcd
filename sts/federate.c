/* federate.c -- the one federation flow (sts/sts.h, sts_federate), shared by the STS
 * endpoint (sts/actions.c) and the browser login (sts/login_web.c), for every identity
 * backend (idp/idp.h: static users, OIDC id_tokens and access tokens, LDAP):
 *
 *   precheck -> common parameters -> the requested tessera role, if any
 *     -> backend authenticate (claims)
 *     -> with a role: its trust policy (policy/roles.h) admits the claims; the session gets
 *        exactly the role's policies.  Without: the claims are mapped (policy/mapper.h), or
 *        a static user's session keeps its parent's policies
 *     -> sts_mint (sts/mint.c), the sts.issue audit record, the backend's issued hook
 *
 * Errors travel as one struct ts_error; nothing here replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "policy/mapper.h"
#include "policy/roles.h"
#include "sts/sts_int.h"

/* The state of one federation. */
struct fed {
    struct sts_ctx *c;
    const struct idp_backend *b;
    const char *action;
    struct http_req *r;
    struct idp_input in;
    const char *policy, *session_name, *duration_param;
    char *trust;                  /* the role's trust policy, when a tessera role is requested */
    struct iam_strv role_pols;    /* its attached policies */
    struct iam_strv session_pols; /* the managed session policies (PolicyArns), by name */
    long duration;                /* DurationSeconds as checked, or 0 when absent */
};

void sts_federation_cleanup(struct sts_federation *f)
{
    idp_claims_cleanup(&f->claims);
    iam_strv_free(&f->policies);
    sts_creds_cleanup(&f->creds);
    memset(f, 0, sizeof *f);
}

/* DurationSeconds: within the backend's own limit (GetSessionToken: AWS's 129600, then cut
 * to the configured maximum), else within STS_MIN_DURATION..max_duration. */
static int check_duration(struct fed *f, struct ts_error *err)
{
    if (f->duration_param == NULL)
        return TS_OK;
    if (f->b->duration_limit > 0)
        return sts_check_duration_in(f->duration_param, f->b->duration_limit, &f->duration, err);
    return sts_check_duration(f->c, f->duration_param, &f->duration, err);
}

/* The parameters every action shares, checked as AWS does. */
static int check_params(struct fed *f, struct ts_error *err)
{
    int rc;

    if ((rc = check_duration(f, err)) || (rc = sts_check_role_arn(f->in.role_arn, err)) ||
        (rc = sts_check_session_name(f->session_name, err)) ||
        (rc = sts_check_policy(f->policy, err)) ||
        (rc = sts_session_policy_arns(f->in.params, f->in.nparams, &f->session_pols, err)) ||
        (rc = sts_check_session_policies(f->c->st, f->policy, &f->session_pols, err)))
        return err->code = rc;
    return TS_OK;
}

/* A RoleArn naming an existing tessera role: its trust policy and policies, name into role. A
 * RoleArn naming none is left to the backend (an OIDC provider's RolePolicy role) or ignored. */
static int load_role(struct fed *f, char role[65], struct ts_error *err)
{
    char name[POL_ROLE_NAME_MAX + 1];
    int rc;

    if (f->in.role_arn == NULL || !pol_role_from_arn(f->in.role_arn, name))
        return TS_OK;
    rc = pol_role_get(f->c->st, name, &f->trust, NULL, &f->role_pols);
    if (rc == TS_E_NO_SUCH_ENTITY)
        return TS_OK;
    if (rc != TS_OK)
        return ts_error_set(err, rc, NULL);
    f->in.tessera_role = true;
    snprintf(role, 65, "%s", name);
    return TS_OK;
}

/* The refusal message of a trust policy that did not admit the identity. */
static int trust_refused(struct fed *f, const struct sts_federation *out, int rc, const char *why,
                         struct ts_error *err)
{
    if (rc == TS_E_INTERNAL)
        return ts_error_set(err, rc, NULL);
    if (f->b->signed_caller)
        return ts_error_set(err, TS_E_STS_ACCESS_DENIED,
                            "User: %.100s is not authorized to perform: sts:AssumeRole on "
                            "resource: %.100s",
                            f->in.caller->arn != NULL ? f->in.caller->arn : "?", f->in.role_arn);
    return ts_error_set(err, TS_E_ACCESS_DENIED, "Not authorized to assume role %s: %s", out->role,
                        why != NULL ? why : "denied");
}

/* The role's trust policy admits the authenticated identity (with its session tags, which
 * then become aws:PrincipalTag/<k> of the session); the session gets the role's policies. */
static int admit(struct fed *f, struct sts_federation *out, struct ts_error *err)
{
    struct http_kv tags[POL_ROLE_MAX_TAGS];
    struct pol_trust_input ti;
    char action[64], key[POL_ROLE_TAG_KEY_MAX + 32];
    const char *why = NULL;
    void *hold = NULL;
    long ntags = 0;
    int rc = TS_OK;

    if (f->b->session_tags != NULL)
        ntags = f->b->session_tags(f->b->arg, &f->in, tags, POL_ROLE_MAX_TAGS, &hold, err);
    if (ntags < 0) {
        if (f->b->free_hold != NULL)
            f->b->free_hold(hold);
        return err->code;
    }
    snprintf(action, sizeof action, "sts:%s", f->action);
    memset(&ti, 0, sizeof ti);
    ti.action = action;
    ti.caller = f->b->signed_caller ? f->in.caller : NULL;
    ti.federated = (const char *const *)out->claims.federated.v;
    ti.nfederated = out->claims.federated.n;
    ti.issuer = out->claims.issuer;
    ti.provider_name = out->claims.provider;
    ti.claims = out->claims.vars;
    ti.nclaims = out->claims.nvars;
    ti.tags = tags;
    ti.ntags = (size_t)ntags;
    ti.source_ip = f->in.source_ip;
    ti.user_agent = f->in.user_agent;
    ti.secure_transport = f->in.tls;
    rc = pol_role_trust_check(f->trust, &ti, &why);
    if (rc != TS_OK)
        rc = trust_refused(f, out, rc, why, err);
    for (long i = 0; rc == TS_OK && i < ntags; i++) {
        snprintf(key, sizeof key, "aws:PrincipalTag/%s", tags[i].key);
        if (idp_claims_add_var(&out->claims, key, tags[i].value) != TS_OK)
            rc = ts_error_set(err, TS_E_INTERNAL, NULL);
    }
    if (f->b->free_hold != NULL)
        f->b->free_hold(hold);
    if (rc != TS_OK)
        return rc;
    out->policies = f->role_pols; /* exactly the role's policies, even none */
    memset(&f->role_pols, 0, sizeof f->role_pols);
    struct log_actor who;
    pol_audit_actor(f->r, &who);
    log_audit(&who, "sts.role", "admitted", "action", f->action, "role", out->role, "user",
              out->claims.username, "parent", out->claims.parent, NULL);
    return TS_OK;
}

/* The session's policies: the role's, the parent's own (static users), or the mapped ones. */
static int choose_policies(struct fed *f, struct sts_federation *out, struct ts_error *err)
{
    const char *why = NULL;
    int rc;

    if (out->role[0] != '\0')
        return admit(f, out, err);
    if (f->b->parent_policies) {
        for (size_t i = 0; i < out->claims.policies.n; i++)
            if (idp_strv_add(&out->policies, out->claims.policies.v[i]) != TS_OK)
                return ts_error_set(err, TS_E_INTERNAL, NULL);
        return TS_OK;
    }
    rc = pol_map_claims(f->c->st, &out->claims, &out->policies, &why);
    if (rc != TS_OK)
        return ts_error_set(err, rc, "%s", why != NULL ? why : ts_err_message(rc));
    return TS_OK;
}

/* d, cut to what is left of the identity's own validity (at least 0: the minter refuses). */
static long within_token(long d, const struct idp_claims *cl)
{
    long left = (long)(cl->token_expiry - enc_now());

    if (cl->token_expiry <= 0)
        return 0; /* such a backend always says until when: fail closed */
    return left < d ? (left > 0 ? left : 0) : d;
}

/* DurationSeconds, or the token's remaining lifetime (backends that want it), or the
 * backend's default (AWS's 3600 unless it says otherwise), within max_duration and the bound
 * the identity source put on it (claims max_duration), and within the identity's own validity
 * for backends that say so (expiry_within_token). */
static long session_duration(const struct fed *f, const struct idp_claims *cl)
{
    long max = f->c->cfg.max_duration,
         d = f->b->duration_default > 0 ? f->b->duration_default : 3600;

    if (f->duration > 0) {
        d = f->duration;
    } else if (f->b->duration_from_token && cl->token_expiry > 0) {
        d = (long)(cl->token_expiry - enc_now());
        if (d < STS_MIN_DURATION)
            d = STS_MIN_DURATION;
    }
    if (cl->max_duration > 0 && d > cl->max_duration)
        d = cl->max_duration;
    d = d > max ? max : d;
    return f->b->expiry_within_token ? within_token(d, cl) : d;
}

static int mint(struct fed *f, struct sts_federation *out, struct ts_error *err)
{
    struct sts_session *s = &out->session;
    int rc;

    memset(s, 0, sizeof *s);
    s->parent = out->claims.parent;
    s->username = out->claims.username;
    s->source = out->claims.source;
    s->policies = (const char *const *)out->policies.v;
    s->npolicies = out->policies.n;
    s->session_policy = f->policy;
    s->session_policies = (const char *const *)f->session_pols.v;
    s->nsession_policies = f->session_pols.n;
    /* The identity source's own session name (SAML's RoleSessionName attribute) wins. */
    s->session_name = out->claims.session_name != NULL ? out->claims.session_name : f->session_name;
    s->role = out->role[0] != '\0' ? out->role : NULL; /* its trust policy admitted the caller */
    s->role_arn = s->role == NULL ? out->claims.role_arn : NULL;
    s->claims = out->claims.vars;
    s->nclaims = out->claims.nvars;
    s->duration = session_duration(f, &out->claims);
    if (s->parent == NULL || s->source == NULL)
        return ts_error_set(err, TS_E_INTERNAL, NULL);
    rc = sts_mint(f->c, s, &out->creds);
    if (rc != TS_OK)
        return ts_error_set(err, rc == TS_E_INVALID_ARGUMENT ? TS_E_STS_VALIDATION : rc, NULL);
    sts_audit_issue(f->r, f->action, s, &out->creds);
    if (f->b->issued != NULL && s->role == NULL)
        f->b->issued(f->b->arg, &out->claims, &out->policies, out->creds.expires);
    return TS_OK;
}

static int run(struct fed *f, struct sts_federation *out, struct ts_error *err)
{
    int rc;

    /* Minting reads users, roles, attachments and revocations: never from a stale view. */
    if ((rc = sts_store_fresh(f->c, err)) != TS_OK)
        return rc;
    if (f->b->precheck != NULL && (rc = f->b->precheck(f->b->arg, &f->in, err)) != TS_OK)
        return rc;
    if ((rc = check_params(f, err)) != TS_OK || (rc = load_role(f, out->role, err)) != TS_OK)
        return rc;
    rc = f->b->authenticate(f->b->arg, &f->in, &out->claims, err);
    if (rc != TS_OK)
        return rc;
    if ((rc = choose_policies(f, out, err)) != TS_OK)
        return rc;
    return mint(f, out, err);
}

static void audit_refusal(const struct fed *f, const struct sts_federation *out,
                          const struct ts_error *err)
{
    const char *user = out->claims.username;

    if (user == NULL && f->b->user_param != NULL)
        user = idp_input_param(&f->in, f->b->user_param);
    if (user == NULL && f->in.caller != NULL)
        user = f->in.caller->username;
    struct log_actor who;

    pol_audit_actor(f->r, &who);
    log_audit(&who, "sts.deny", "denied", "action", f->action, "backend", f->b->name, "user", user,
              "dn", out->claims.dn, "role", out->role[0] ? out->role : NULL, "code",
              ts_err_code(err->code), "reason", ts_error_msg(err), NULL);
}

int sts_federate(struct sts_ctx *c, const char *action, struct http_req *r,
                 const struct sts_params *p, struct sts_federation *out, struct ts_error *err)
{
    struct http_der chain[STS_PEER_CHAIN_MAX];
    struct fed f;
    int rc;

    memset(out, 0, sizeof *out);
    ts_error_set(err, TS_OK, NULL);
    memset(&f, 0, sizeof f);
    f.c = c;
    f.b = sts_backend(c, action);
    if (f.b == NULL)
        return ts_error_set(err, TS_E_STS_NOT_IMPLEMENTED,
                            "%.64s is not implemented by this server", action);
    f.action = action;
    f.r = r;
    f.in.params = p->kv;
    f.in.nparams = p->n;
    f.in.caller = r->principal;
    f.in.role_arn = sts_param(p, "RoleArn");
    f.in.source_ip = r->source_ip;
    f.in.user_agent = http_req_header(r, "User-Agent");
    f.in.tls = r->tls;
    f.in.npeer_sent = http_req_peer_chain(r, chain, STS_PEER_CHAIN_MAX);
    f.in.npeer_chain = f.in.npeer_sent < STS_PEER_CHAIN_MAX ? f.in.npeer_sent : STS_PEER_CHAIN_MAX;
    f.in.peer_chain = chain;
    f.policy = sts_param(p, "Policy");
    f.session_name = sts_param(p, "RoleSessionName");
    f.duration_param = sts_param(p, "DurationSeconds");
    rc = run(&f, out, err);
    if (rc != TS_OK) {
        if (err->code == TS_OK)
            ts_error_set(err, rc, NULL);
        audit_refusal(&f, out, err);
        sts_federation_cleanup(out);
    }
    free(f.trust);
    iam_strv_free(&f.role_pols);
    iam_strv_free(&f.session_pols);
    return rc;
}
