/* doc.c -- policy documents: JSON (jansson) into the compiled, immutable struct pol_doc.
 *
 * Validation follows AWS IAM and MinIO: Version 2012-10-17 or 2008-10-17 (or none, as MinIO
 * accepts), Statement as an object or a list, Effect Allow/Deny, exactly one of Action /
 * NotAction (service:Action for s3, sts, admin, iam, kms, or "*"), exactly one of Resource /
 * NotResource (ARNs or "*"; omitted only for admin/kms/sts-only statements and statements
 * with a Principal, as MinIO's consoleAdmin and trust policies do), Principal / NotPrincipal,
 * Condition. Every error message names the statement and the problem.
 *
 * With Version 2008-10-17, ${...} is literal text (AWS); otherwise policy variables are
 * compiled into the patterns.
 *
 * @test tests/unit/policy/test_doc.c
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "policy/pol_int.h"

struct perr {
    char msg[512];
    bool known_actions; /* every action must name one tessera checks (pol_action_known) */
};

static int fail(struct perr *pe, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct perr *pe, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pe->msg, sizeof(pe->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static void prin_cleanup(struct pol_prin *pr)
{
    for (size_t i = 0; i < pr->naws; i++)
        free(pr->aws[i]);
    for (size_t i = 0; i < pr->nfed; i++)
        free(pr->fed[i]);
    free(pr->aws);
    free(pr->fed);
}

static void stmt_cleanup(struct pol_stmt *st)
{
    for (size_t i = 0; i < st->nactions; i++)
        pol_pat_cleanup(&st->actions[i]);
    free(st->actions);
    for (size_t i = 0; i < st->nresources; i++)
        pol_pat_cleanup(&st->resources[i]);
    free(st->resources);
    for (size_t i = 0; i < st->nconds; i++)
        pol_cond_cleanup(&st->conds[i]);
    free(st->conds);
    prin_cleanup(&st->prin);
}

void pol_doc_free(struct pol_doc *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nstmts; i++)
        stmt_cleanup(&d->stmts[i]);
    free(d->stmts);
    free(d);
}

/* A string or a non-empty list of strings: calls back for each. */
static int str_list(json_t *v, const char *what, size_t si, struct perr *pe, size_t *n)
{
    if (json_is_string(v)) {
        *n = 1;
        return 0;
    }
    if (!json_is_array(v))
        return fail(pe, "statement %zu: %s must be a string or a list of strings", si, what);
    *n = json_array_size(v);
    if (*n == 0)
        return fail(pe, "statement %zu: %s is an empty list", si, what);
    for (size_t i = 0; i < *n; i++)
        if (!json_is_string(json_array_get(v, i)))
            return fail(pe, "statement %zu: %s must be a string or a list of strings", si, what);
    return 0;
}

static const char *list_item(json_t *v, size_t i)
{
    return json_string_value(json_is_array(v) ? json_array_get(v, i) : v);
}

static bool service_ok(const char *s, size_t n)
{
    static const char *const services[] = {"s3", "sts", "admin", "iam", "kms"};
    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
        if (strlen(services[i]) == n && strncasecmp(services[i], s, n) == 0)
            return true;
    return false;
}

/* "*" or service:Action. *admin_only stays true while every action is admin/kms/sts. */
static int check_action(const char *a, size_t si, struct perr *pe, bool *admin_only)
{
    const char *colon = strchr(a, ':');
    if (strcmp(a, "*") == 0) {
        *admin_only = false;
        return 0;
    }
    if (colon == NULL || colon == a || colon[1] == '\0')
        return fail(pe, "statement %zu: invalid action \"%s\": want service:Action", si, a);
    size_t sl = (size_t)(colon - a);
    if (!service_ok(a, sl))
        return fail(pe, "statement %zu: invalid action \"%s\": unknown service \"%.*s\"", si, a,
                    (int)sl, a);
    if (!((sl == 5 && strncasecmp(a, "admin", 5) == 0) ||
          (sl == 3 && strncasecmp(a, "kms", 3) == 0) || (sl == 3 && strncasecmp(a, "sts", 3) == 0)))
        *admin_only = false;
    return 0;
}

/* "*" or arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE. */
static int check_resource(const char *r, size_t si, struct perr *pe)
{
    const char *f[6];
    size_t nf = 0;

    if (strcmp(r, "*") == 0)
        return 0;
    if (strncmp(r, "arn:", 4) != 0)
        return fail(pe, "statement %zu: invalid resource \"%s\": not an ARN or \"*\"", si, r);
    f[nf++] = r;
    for (const char *p = r; *p != '\0' && nf < 6; p++)
        if (*p == ':')
            f[nf++] = p + 1;
    if (nf < 6)
        return fail(pe, "statement %zu: invalid resource \"%s\": bad ARN, want arn:aws:s3:::bucket",
                    si, r);
    size_t plen = (size_t)(f[2] - f[1] - 1), slen = (size_t)(f[3] - f[2] - 1);
    if (plen == 0 || f[5][0] == '\0')
        return fail(pe, "statement %zu: invalid resource \"%s\": bad ARN, want arn:aws:s3:::bucket",
                    si, r);
    if (!(slen == 1 && f[2][0] == '*') && !service_ok(f[2], slen))
        return fail(pe, "statement %zu: invalid resource \"%s\": bad ARN service \"%.*s\"", si, r,
                    (int)slen, f[2]);
    if (slen == 2 && strncmp(f[2], "s3", 2) == 0 && (f[4] != f[3] + 1 || f[5] != f[4] + 1))
        return fail(pe,
                    "statement %zu: invalid resource \"%s\": S3 ARNs have no region or "
                    "account (arn:aws:s3:::bucket)",
                    si, r);
    return 0;
}

static int dup_list(json_t *v, char ***out, size_t *n)
{
    size_t k = json_is_array(v) ? json_array_size(v) : 1;
    *out = calloc(k, sizeof(char *));
    if (*out == NULL)
        return -1;
    for (size_t i = 0; i < k; i++) {
        (*out)[i] = strdup(list_item(v, i));
        if ((*out)[i] == NULL)
            return -1;
        *n = i + 1;
    }
    return 0;
}

static int parse_principal(struct pol_stmt *st, json_t *v, const char *what, size_t si,
                           struct perr *pe)
{
    const char *k;
    json_t *e;
    size_t n;

    st->has_principal = true;
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") != 0)
            return fail(pe, "statement %zu: %s must be \"*\" or an object such as {\"AWS\": ...}",
                        si, what);
        st->prin.any = true;
        return 0;
    }
    if (!json_is_object(v) || json_object_size(v) == 0)
        return fail(pe, "statement %zu: %s must be \"*\" or an object such as {\"AWS\": ...}", si,
                    what);
    json_object_foreach(v, k, e)
    {
        bool aws = strcmp(k, "AWS") == 0;
        if (!aws && strcmp(k, "Federated") != 0 && strcmp(k, "Service") != 0 &&
            strcmp(k, "CanonicalUser") != 0)
            return fail(pe, "statement %zu: unknown %s type \"%s\"", si, what, k);
        if (str_list(e, what, si, pe, &n) != 0)
            return -1;
        if (aws) {
            for (size_t i = 0; i < n; i++)
                if (strcmp(list_item(e, i), "*") == 0)
                    st->prin.any = true;
            if (st->prin.aws != NULL)
                return fail(pe, "statement %zu: duplicate AWS in %s", si, what);
            if (dup_list(e, &st->prin.aws, &st->prin.naws) != 0)
                return fail(pe, "out of memory");
        } else {
            char **nv = realloc(st->prin.fed, (st->prin.nfed + n) * sizeof(char *));
            if (nv == NULL)
                return fail(pe, "out of memory");
            st->prin.fed = nv;
            for (size_t i = 0; i < n; i++) {
                st->prin.fed[st->prin.nfed] = strdup(list_item(e, i));
                if (st->prin.fed[st->prin.nfed] == NULL)
                    return fail(pe, "out of memory");
                st->prin.nfed++;
            }
        }
    }
    return 0;
}

static int parse_effect(struct pol_stmt *st, json_t *effect, size_t si, struct perr *pe)
{
    if (effect == NULL)
        return fail(pe, "statement %zu: missing Effect", si);
    if (!json_is_string(effect))
        return fail(pe, "statement %zu: Effect must be a string", si);
    if (strcmp(json_string_value(effect), "Allow") == 0)
        st->deny = false;
    else if (strcmp(json_string_value(effect), "Deny") == 0)
        st->deny = true;
    else
        return fail(pe, "statement %zu: unknown Effect \"%s\" (want Allow or Deny)", si,
                    json_string_value(effect));
    return 0;
}

/* An Action or Resource list (name says which, as the document spells it): each item
 * checked (check_action when admin_only is given, else check_resource) and compiled into *out,
 * *nout counting the compiled ones. Actions match case-insensitively, resources expand policy
 * variables when vars. */
static int compile_list(json_t *list, const char *name, size_t si, bool vars, struct perr *pe,
                        struct pol_pat **out, size_t *nout, bool *admin_only)
{
    size_t n;
    if (str_list(list, name, si, pe, &n) != 0)
        return -1;
    *out = calloc(n, sizeof(**out));
    if (*out == NULL)
        return fail(pe, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *it = list_item(list, i);
        if ((admin_only != NULL ? check_action(it, si, pe, admin_only)
                                : check_resource(it, si, pe)) != 0)
            return -1;
        if (pol_pat_compile(&(*out)[i], it, true, vars, admin_only != NULL) != 0)
            return fail(pe, "out of memory");
        *nout = i + 1;
        if (admin_only != NULL && pe->known_actions && strcmp(it, "*") != 0 &&
            !pol_action_known(it))
            return fail(pe,
                        "statement %zu: invalid action \"%s\": not an action this server "
                        "checks (docs/API.md lists them)",
                        si, it);
    }
    return 0;
}

/* Action or NotAction, with the exact-match flag and the hash mask the evaluator's fast path
 * uses. */
static int parse_actions(struct pol_stmt *st, json_t *action, size_t si, struct perr *pe,
                         bool *admin_only)
{
    const char *aname = st->not_action ? "NotAction" : "Action";
    if (compile_list(action, aname, si, false, pe, &st->actions, &st->nactions, admin_only) != 0)
        return -1;
    st->exact_actions = !st->not_action;
    for (size_t i = 0; i < st->nactions; i++) {
        if (st->actions[i].kind != PAT_EXACT)
            st->exact_actions = false;
        st->amask |= 1ull << (st->actions[i].hash & 63);
    }
    return 0;
}

static int parse_statement(struct pol_stmt *st, json_t *s, size_t si, bool vars, struct perr *pe)
{
    json_t *effect = NULL, *action = NULL, *resource = NULL, *principal = NULL, *cond = NULL;
    const char *k, *pname = "Principal";
    json_t *v;
    bool admin_only = true;

    if (!json_is_object(s))
        return fail(pe, "statement %zu: not an object", si);
    json_object_foreach(s, k, v)
    {
        if (strcmp(k, "Sid") == 0) {
            if (!json_is_string(v))
                return fail(pe, "statement %zu: Sid must be a string", si);
        } else if (strcmp(k, "Effect") == 0) {
            effect = v;
        } else if (strcmp(k, "Action") == 0 || strcmp(k, "NotAction") == 0) {
            if (action != NULL)
                return fail(pe, "statement %zu: both Action and NotAction", si);
            action = v;
            st->not_action = k[0] == 'N';
        } else if (strcmp(k, "Resource") == 0 || strcmp(k, "NotResource") == 0) {
            if (resource != NULL)
                return fail(pe, "statement %zu: both Resource and NotResource", si);
            resource = v;
            st->not_resource = k[0] == 'N';
        } else if (strcmp(k, "Principal") == 0 || strcmp(k, "NotPrincipal") == 0) {
            if (principal != NULL)
                return fail(pe, "statement %zu: both Principal and NotPrincipal", si);
            principal = v;
            pname = k;
            st->not_principal = k[0] == 'N';
        } else if (strcmp(k, "Condition") == 0) {
            cond = v;
        } else {
            return fail(pe, "statement %zu: unknown element \"%s\"", si, k);
        }
    }
    if (parse_effect(st, effect, si, pe) != 0)
        return -1;

    if (action == NULL)
        return fail(pe, "statement %zu: missing Action", si);
    if (parse_actions(st, action, si, pe, &admin_only) != 0)
        return -1;

    if (principal != NULL && parse_principal(st, principal, pname, si, pe) != 0)
        return -1;

    if (resource == NULL) {
        if (!(admin_only && !st->not_action) && principal == NULL)
            return fail(pe, "statement %zu: missing Resource", si);
        st->no_resource = true;
    } else {
        const char *rname = st->not_resource ? "NotResource" : "Resource";
        if (compile_list(resource, rname, si, vars, pe, &st->resources, &st->nresources, NULL) != 0)
            return -1;
    }

    if (cond != NULL) {
        char cerr[400] = "";
        if (pol_conds_compile(st, cond, vars, cerr, sizeof(cerr)) != 0)
            return fail(pe, "statement %zu: %s", si, cerr);
    }
    return 0;
}

static int parse_doc(struct pol_doc *d, json_t *root, struct perr *pe)
{
    json_t *stmts = NULL, *v;
    const char *k;
    bool vars = true;

    if (!json_is_object(root))
        return fail(pe, "policy must be a JSON object");
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "Version") == 0) {
            const char *ver = json_string_value(v);
            if (ver == NULL || (strcmp(ver, "2012-10-17") != 0 && strcmp(ver, "2008-10-17") != 0))
                return fail(pe, "invalid Version (want \"2012-10-17\")");
            vars = strcmp(ver, "2008-10-17") != 0;
        } else if (strcmp(k, "Statement") == 0) {
            stmts = v;
        } else if (strcmp(k, "Id") == 0) {
            if (!json_is_string(v))
                return fail(pe, "Id must be a string");
        } else {
            return fail(pe, "unknown policy element \"%s\"", k);
        }
    }
    if (stmts == NULL)
        return fail(pe, "missing Statement");
    if (!json_is_array(stmts) && !json_is_object(stmts))
        return fail(pe, "Statement must be an object or a list of objects");
    size_t n = json_is_array(stmts) ? json_array_size(stmts) : 1;
    d->stmts = calloc(n > 0 ? n : 1, sizeof(*d->stmts));
    if (d->stmts == NULL)
        return fail(pe, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_array(stmts) ? json_array_get(stmts, i) : stmts;
        d->nstmts = i + 1;
        if (parse_statement(&d->stmts[i], s, i + 1, vars, pe) != 0)
            return -1;
        if (d->stmts[i].has_principal)
            d->has_principal = true;
    }
    return 0;
}

static int doc_parse(const char *json, size_t len, bool known_actions, struct pol_doc **out,
                     char *err, size_t errlen)
{
    struct perr pe = {.msg = "", .known_actions = known_actions};
    struct pol_doc *d = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    int rc = TS_E_MALFORMED_POLICY;

    if (json == NULL) {
        fail(&pe, "empty policy");
        goto out;
    }
    if (len > POL_MAX_DOC_LEN) {
        fail(&pe, "policy is %zu bytes, the limit is %d", len, POL_MAX_DOC_LEN);
        goto out;
    }
    /* Two readers of one document must never disagree about which "Effect" counts. */
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        fail(&pe, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
        goto out;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        rc = TS_E_INTERNAL;
        fail(&pe, "out of memory");
        goto out;
    }
    if (parse_doc(d, root, &pe) != 0)
        goto out;
    *out = d;
    d = NULL;
    rc = TS_OK;
out:
    if (rc != TS_OK && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", pe.msg);
    pol_doc_free(d);
    json_decref(root);
    return rc;
}

int pol_doc_parse(const char *json, size_t len, struct pol_doc **out, char *err, size_t errlen)
{
    return doc_parse(json, len, false, out, err, errlen);
}

int pol_validate(const char *json, size_t len, char *err, size_t errlen)
{
    struct pol_doc *d = NULL;
    int rc = doc_parse(json, len, true, &d, err, errlen);
    pol_doc_free(d);
    return rc;
}
