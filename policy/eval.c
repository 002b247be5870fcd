/* eval.c -- evaluation of compiled documents with AWS IAM semantics, and the principal.
 *
 * A statement applies when its Action (or NotAction) matches the lower-cased request action,
 * its Resource (or NotResource) matches the request resource (case-sensitively; not checked
 * for requests without a resource), its Principal (or NotPrincipal) matches the requester
 * (bucket and trust policies only) and every condition holds. An applying Deny statement is
 * an explicit deny and ends the evaluation; otherwise one applying Allow allows. Nothing here
 * allocates (cond.c does for a key with more than 64 values; a condition that cannot be
 * evaluated makes a Deny apply and an Allow not). Principals match by their typed ARN only
 * (pol.h): a federated session never matches a static user's name.
 *
 * @test tests/unit/policy/test_eval.c
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "policy/pol_int.h"

/* The parts of "arn:aws:iam::ACCOUNT:REST" / "arn:aws:sts::ACCOUNT:REST": whether it is one,
 * the service ("iam" or "sts", the first 13 bytes tell) and REST. */
static bool arn_parts(const char *a, bool *iam, const char **rest)
{
    const char *c;
    if (strncmp(a, "arn:aws:iam::", 13) == 0)
        *iam = true;
    else if (strncmp(a, "arn:aws:sts::", 13) == 0)
        *iam = false;
    else
        return false;
    c = strchr(a + 13, ':');
    if (c == NULL)
        return false;
    *rest = c + 1;
    return true;
}

/* Whether two IAM/STS ARNs name the same thing; the account field is not compared (tessera
 * has one account, and policies copied from AWS carry theirs). */
static bool same_arn(const char *a, const char *b)
{
    const char *ra, *rb;
    bool ia, ib;
    if (strcmp(a, b) == 0)
        return true;
    return arn_parts(a, &ia, &ra) && arn_parts(b, &ib, &rb) && ia == ib && strcmp(ra, rb) == 0;
}

static bool is_account_id(const char *s)
{
    size_t n = strlen(s);
    if (n != 12)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The account principal: root and the role-less sessions of root (whose ARN is root's);
 * every authenticated principal when broad (a Deny statement). */
static bool account_matches(const struct pol_principal *p, bool broad)
{
    const char *rest;
    bool iam;
    if (broad)
        return true;
    return p->arn != NULL && arn_parts(p->arn, &iam, &rest) && iam && strcmp(rest, "root") == 0;
}

/* The role name at the end of "role/[PATH/]NAME", or NULL. */
static const char *role_name_of(const char *rest)
{
    const char *last;
    if (strncmp(rest, "role/", 5) != 0)
        return NULL;
    last = strrchr(rest, '/');
    return last[1] != '\0' ? last + 1 : NULL;
}

/* Whether one {"AWS": entry} names the principal actually authenticated (see pol.h): "*",
 * its typed ARN, the role its session assumed, the account, or a bare static user name. */
static bool aws_entry_matches(const char *e, const struct pol_principal *p, bool broad)
{
    const char *rest;
    bool iam;

    if (strcmp(e, "*") == 0)
        return true;
    if (p == NULL || p->type == POL_PRINCIPAL_ANONYMOUS)
        return false;
    if (arn_parts(e, &iam, &rest)) {
        if (iam && strcmp(rest, "root") == 0)
            return account_matches(p, broad);
        if (iam && strncmp(rest, "role/", 5) == 0) {
            /* Sessions of that role: only a role whose trust policy admitted the session. */
            const char *want = role_name_of(rest), *have, *prest;
            bool piam;
            if (want == NULL || p->type != POL_PRINCIPAL_TEMP || p->role_arn == NULL ||
                !arn_parts(p->role_arn, &piam, &prest) || !piam ||
                (have = role_name_of(prest)) == NULL)
                return false;
            return strcmp(want, have) == 0;
        }
        return p->arn != NULL && same_arn(e, p->arn);
    }
    if (is_account_id(e))
        return account_matches(p, broad);
    /* A bare name is a static user's name: arn:aws:iam::ACCOUNT:user/NAME. */
    if (p->arn == NULL || !arn_parts(p->arn, &iam, &rest) || !iam)
        return false;
    return strncmp(rest, "user/", 5) == 0 && strcmp(rest + 5, e) == 0;
}

/* broad: the statement is a Deny with Principal (the account principal then covers every
 * principal of the account). */
static bool prin_matches(const struct pol_prin *pr, const struct pol_principal *p, bool broad)
{
    if (pr->any)
        return true;
    for (size_t i = 0; i < pr->naws; i++)
        if (aws_entry_matches(pr->aws[i], p, broad))
            return true;
    if (p == NULL || p->type != POL_PRINCIPAL_TEMP)
        return false;
    for (size_t i = 0; i < pr->nfed; i++)
        if (strcmp(pr->fed[i], "*") == 0 ||
            (p->source != NULL && strcasecmp(pr->fed[i], p->source) == 0))
            return true;
    return false;
}

static bool action_matches(const struct pol_stmt *st, struct pol_ev *ev)
{
    if (!ev->action_ok) {
        /* An action too long to be real: only "*" patterns match it. */
        for (size_t i = 0; i < st->nactions; i++)
            if (st->actions[i].kind == PAT_ALL)
                return true;
        return false;
    }
    for (size_t i = 0; i < st->nactions; i++) {
        const struct pol_pat *p = &st->actions[i];
        if (p->kind == PAT_EXACT) {
            if (p->len == ev->action_len && p->hash == ev->action_hash &&
                memcmp(p->s, ev->action, p->len) == 0)
                return true;
        } else if (pol_pat_match(p, ev->action, ev->action_len, ev)) {
            return true;
        }
    }
    return false;
}

static bool stmt_applies(const struct pol_stmt *st, struct pol_ev *ev)
{
    if (st->exact_actions && (st->amask & (1ull << (ev->action_hash & 63))) == 0)
        return false;
    if (action_matches(st, ev) == st->not_action)
        return false;
    if (!st->no_resource && ev->rq->resource != NULL) {
        const char *r = ev->rq->resource;
        size_t rlen = ev->resource_len;
        bool m = false;
        for (size_t i = 0; i < st->nresources && !m; i++)
            m = pol_pat_match(&st->resources[i], r, rlen, ev);
        if (m == st->not_resource)
            return false;
    }
    if (st->has_principal && prin_matches(&st->prin, ev->rq->principal,
                                          st->deny && !st->not_principal) == st->not_principal)
        return false;
    for (size_t i = 0; i < st->nconds; i++) {
        int r = pol_cond_eval(&st->conds[i], ev);
        if (r < 0)
            return st->deny; /* cannot be evaluated (out of memory, an unknown key): fail closed */
        if (r == 0)
            return false;
    }
    return true;
}

enum pol_decision pol_doc_eval_ev(const struct pol_doc *d, struct pol_ev *ev)
{
    bool allow = false;

    if (d == NULL)
        return POL_IMPLICIT_DENY;
    for (size_t i = 0; i < d->nstmts; i++) {
        const struct pol_stmt *st = &d->stmts[i];
        if (allow && !st->deny)
            continue; /* already allowed: only a Deny can change the answer */
        if (!stmt_applies(st, ev))
            continue;
        if (st->deny)
            return POL_EXPLICIT_DENY;
        allow = true;
    }
    return allow ? POL_ALLOW : POL_IMPLICIT_DENY;
}

enum pol_decision pol_doc_eval(const struct pol_doc *d, const struct pol_request *rq)
{
    struct pol_ev ev;
    pol_ev_init(&ev, rq);
    return pol_doc_eval_ev(d, &ev);
}

enum pol_decision pol_eval_docs(const struct pol_doc *const *docs, size_t n,
                                const struct pol_request *rq)
{
    enum pol_decision res = POL_IMPLICIT_DENY;
    struct pol_ev ev;

    pol_ev_init(&ev, rq);
    for (size_t i = 0; i < n; i++) {
        enum pol_decision dd = pol_doc_eval_ev(docs[i], &ev);
        if (dd == POL_EXPLICIT_DENY)
            return dd;
        if (dd == POL_ALLOW)
            res = POL_ALLOW;
    }
    return res;
}

/* ---- the principal ---- */

struct pol_principal *pol_principal_new(enum pol_principal_type type)
{
    struct pol_principal *p = calloc(1, sizeof(*p));
    if (p != NULL)
        p->type = type;
    return p;
}

void pol_principal_free(struct pol_principal *p)
{
    if (p == NULL)
        return;
    free(p->access_key);
    free(p->username);
    free(p->userid);
    free(p->arn);
    free(p->role_arn);
    free(p->parent);
    free(p->source);
    iam_strv_free(&p->policies);
    free(p->session_policy);
    pol_doc_free(p->session_doc);
    iam_strv_free(&p->session_policies);
    http_kv_free(p->claims, p->nclaims);
    free(p->session_name);
    free(p);
}

int pol_principal_add_claim(struct pol_principal *p, const char *key, const char *value)
{
    struct http_kv *nc;
    char *k, *v;

    if (p == NULL || key == NULL || value == NULL)
        return TS_E_INVALID_ARGUMENT;
    k = strdup(key);
    v = strdup(value);
    nc = realloc(p->claims, (p->nclaims + 1) * sizeof(*nc));
    if (k == NULL || v == NULL || nc == NULL) {
        free(k);
        free(v);
        if (nc != NULL)
            p->claims = nc;
        return TS_E_INTERNAL;
    }
    p->claims = nc;
    p->claims[p->nclaims].key = k;
    p->claims[p->nclaims].value = v;
    p->nclaims++;
    return TS_OK;
}

/* Condition keys that fix who the caller is (AWS's list for a non-public policy). */
static const char *const restricting_keys[] = {
    "aws:sourceip",      "aws:sourcearn",   "aws:sourcevpc",      "aws:sourcevpce",
    "aws:sourceaccount", "aws:sourceowner", "aws:principalorgid", "aws:principalaccount",
    "aws:principalarn",  "aws:userid",
};

static bool stmt_restricted(const struct pol_stmt *st)
{
    for (size_t i = 0; i < st->nconds; i++) {
        const struct pol_cond *c = &st->conds[i];
        if (c->negate || c->if_exists || c->fam == CF_NULL)
            continue;
        for (size_t k = 0; k < sizeof restricting_keys / sizeof *restricting_keys; k++)
            if (strcmp(c->key.name, restricting_keys[k]) == 0)
                return true;
    }
    return false;
}

bool pol_doc_is_public(const struct pol_doc *d)
{
    for (size_t i = 0; d != NULL && i < d->nstmts; i++) {
        const struct pol_stmt *st = &d->stmts[i];
        if (!st->deny && st->has_principal && (st->prin.any || st->not_principal) &&
            !stmt_restricted(st))
            return true;
    }
    return false;
}
