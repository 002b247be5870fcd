/* cond.c -- the Condition element: compilation of {"Operator": {"key": values}} and its
 * evaluation with AWS IAM semantics.
 *
 * Within one statement, operators AND together, keys under one operator AND together and the
 * values of one key OR together. A key missing from the request context makes a positive
 * operator false and a negated one (StringNotEquals, NotIpAddress, ...) true; "...IfExists"
 * makes a missing key match; Null tests presence; with the set qualifiers, ForAllValues on
 * an empty or missing set is true and ForAnyValue false. A key the request marks unknown
 * (pol_request.unknown_keys) cannot be evaluated: the statement fails closed.
 *
 * @test tests/unit/policy/test_eval.c
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"
#include "policy/pol_int.h"

static const struct cond_op {
    const char *name;
    enum pol_cond_family fam;
    enum pol_cmp cmp;
    bool negate;
} cond_ops[] = {
    {"StringEquals", CF_STR, CMP_EQ, false},
    {"StringNotEquals", CF_STR, CMP_EQ, true},
    {"StringEqualsIgnoreCase", CF_STR_IC, CMP_EQ, false},
    {"StringNotEqualsIgnoreCase", CF_STR_IC, CMP_EQ, true},
    {"StringLike", CF_LIKE, CMP_EQ, false},
    {"StringNotLike", CF_LIKE, CMP_EQ, true},
    {"NumericEquals", CF_NUM, CMP_EQ, false},
    {"NumericNotEquals", CF_NUM, CMP_EQ, true},
    {"NumericLessThan", CF_NUM, CMP_LT, false},
    {"NumericLessThanEquals", CF_NUM, CMP_LE, false},
    {"NumericGreaterThan", CF_NUM, CMP_GT, false},
    {"NumericGreaterThanEquals", CF_NUM, CMP_GE, false},
    {"DateEquals", CF_DATE, CMP_EQ, false},
    {"DateNotEquals", CF_DATE, CMP_EQ, true},
    {"DateLessThan", CF_DATE, CMP_LT, false},
    {"DateLessThanEquals", CF_DATE, CMP_LE, false},
    {"DateGreaterThan", CF_DATE, CMP_GT, false},
    {"DateGreaterThanEquals", CF_DATE, CMP_GE, false},
    {"Bool", CF_BOOL, CMP_EQ, false},
    {"IpAddress", CF_IP, CMP_EQ, false},
    {"NotIpAddress", CF_IP, CMP_EQ, true},
    {"Null", CF_NULL, CMP_EQ, false},
    {"ArnEquals", CF_ARN, CMP_EQ, false},
    {"ArnLike", CF_ARN, CMP_EQ, false},
    {"ArnNotEquals", CF_ARN, CMP_EQ, true},
    {"ArnNotLike", CF_ARN, CMP_EQ, true},
    {"BinaryEquals", CF_BIN, CMP_EQ, false},
};

static const struct cond_op *op_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(cond_ops) / sizeof(cond_ops[0]); i++)
        if (strlen(cond_ops[i].name) == len && strncasecmp(cond_ops[i].name, name, len) == 0)
            return &cond_ops[i];
    return NULL;
}

int pol_parse_cidr(const char *s, struct pol_cidr *out)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    long bits = -1;

    if (alen == 0 || alen >= sizeof(addr))
        return -1;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, addr, out->addr) == 1)
        out->fam = 4;
    else if (inet_pton(AF_INET6, addr, out->addr) == 1)
        out->fam = 6;
    else
        return -1;
    if (slash != NULL) {
        char *end;
        if (!isdigit((unsigned char)slash[1]))
            return -1;
        errno = 0;
        bits = strtol(slash + 1, &end, 10);
        if (*end != '\0' || errno != 0 || bits > (out->fam == 4 ? 32 : 128))
            return -1;
    }
    out->bits = (uint8_t)(bits < 0 ? (out->fam == 4 ? 32 : 128) : bits);
    return 0;
}

static bool cidr_contains(const struct pol_cidr *c, const struct pol_cidr *a)
{
    if (c->fam != a->fam)
        return false;
    size_t full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, a->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (a->addr[full] & mask);
}

/* Parses a request address; an IPv4-mapped IPv6 address becomes IPv4. */
static bool parse_addr(const char *s, struct pol_cidr *out)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (strchr(s, '/') != NULL || pol_parse_cidr(s, out) != 0)
        return false;
    if (out->fam == 6 && memcmp(out->addr, mapped, 12) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->fam = 4;
        out->bits = 32;
    }
    return true;
}

static bool parse_num(const char *s, double *out)
{
    char *end;
    if (*s == '\0' || isspace((unsigned char)*s))
        return false;
    errno = 0;
    *out = strtod(s, &end);
    return *end == '\0' && errno == 0;
}

static bool parse_date(const char *s, time_t *out)
{
    size_t n = strlen(s), i = 0;
    if (n > 0 && s[0] == '-')
        i = 1;
    if (n > i && n < 20 && strspn(s + i, "0123456789") == n - i) {
        *out = (time_t)strtoll(s, NULL, 10);
        return true;
    }
    return enc_time_parse_iso8601(s, out) == 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* The text of a scalar JSON condition value into buf; -1 for other types. */
static int value_text(json_t *v, char *buf, size_t cap, const char **out)
{
    if (json_is_string(v)) {
        *out = json_string_value(v);
        return 0;
    }
    if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, cap, "%.17g", json_real_value(v));
    else if (json_is_true(v))
        snprintf(buf, cap, "true");
    else if (json_is_false(v))
        snprintf(buf, cap, "false");
    else
        return -1;
    *out = buf;
    return 0;
}

static int compile_value(struct pol_cond *c, struct pol_cval *cv, const char *opname, const char *s,
                         bool vars, char *err, size_t errlen)
{
    const char *what = "is not valid";
    bool ok = false;
    switch (c->fam) {
    case CF_STR:
        return pol_pat_compile(&cv->pat, s, false, vars, false) == 0 ? 0 : -1;
    case CF_STR_IC:
        return pol_pat_compile(&cv->pat, s, false, vars, true) == 0 ? 0 : -1;
    case CF_LIKE:
    case CF_ARN:
        return pol_pat_compile(&cv->pat, s, true, vars, false) == 0 ? 0 : -1;
    case CF_BIN:
        return pol_pat_compile(&cv->pat, s, false, false, false) == 0 ? 0 : -1;
    case CF_BOOL:
    case CF_NULL:
        ok = parse_bool(s, &cv->b) == 0;
        what = "must be true or false";
        break;
    case CF_NUM:
        ok = parse_num(s, &cv->num);
        what = "is not a number";
        break;
    case CF_DATE:
        ok = parse_date(s, &cv->t);
        what = "is not a date";
        break;
    case CF_IP:
        ok = pol_parse_cidr(s, &cv->cidr) == 0;
        what = "is not an IP address or CIDR";
        break;
    }
    if (ok)
        return 0;
    snprintf(err, errlen, "%s condition value \"%s\" for key %s %s", opname, s, c->key.name, what);
    return -1;
}

static int compile_cond(struct pol_cond *c, const char *opname, const struct cond_op *op,
                        enum pol_qual qual, bool if_exists, const char *key, json_t *val, bool vars,
                        char *err, size_t errlen)
{
    size_t n = json_is_array(val) ? json_array_size(val) : 1;
    char nbuf[64];

    memset(c, 0, sizeof(*c));
    c->fam = op->fam;
    c->cmp = op->cmp;
    c->negate = op->negate;
    c->qual = qual;
    c->if_exists = if_exists;
    if (key[0] == '\0') {
        snprintf(err, errlen, "empty condition key under %s", opname);
        return -1;
    }
    c->key.name = strdup(key);
    if (c->key.name == NULL)
        goto oom;
    pol_key_canon(c->key.name); /* jwt:<claim> keeps the claim's case */
    c->key.id = pol_key_resolve(c->key.name);
    if (n == 0) {
        snprintf(err, errlen, "condition key %s under %s has no values", key, opname);
        return -1;
    }
    c->vals = calloc(n, sizeof(*c->vals));
    if (c->vals == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_array(val) ? json_array_get(val, i) : val;
        const char *s;
        if (value_text(v, nbuf, sizeof(nbuf), &s) != 0) {
            snprintf(err, errlen,
                     "wrong value type for condition key %s under %s: want a string, number "
                     "or boolean",
                     key, opname);
            return -1;
        }
        c->nvals = i + 1;
        if (compile_value(c, &c->vals[i], opname, s, vars, err, errlen) != 0) {
            if (err[0] == '\0')
                goto oom;
            return -1;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int pol_conds_compile(struct pol_stmt *st, json_t *obj, bool vars, char *err, size_t errlen)
{
    const char *opname, *key;
    json_t *keys, *val;
    size_t total = 0;

    if (!json_is_object(obj)) {
        snprintf(err, errlen, "Condition must be an object of operators");
        return -1;
    }
    json_object_foreach(obj, opname, keys)
    {
        if (!json_is_object(keys) || json_object_size(keys) == 0) {
            snprintf(err, errlen, "condition operator %s must map condition keys to values",
                     opname);
            return -1;
        }
        total += json_object_size(keys);
    }
    st->conds = calloc(total > 0 ? total : 1, sizeof(*st->conds));
    if (st->conds == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_object_foreach(obj, opname, keys)
    {
        const char *name = opname;
        enum pol_qual qual = QUAL_NONE;
        bool if_exists = false;
        size_t len;

        if (strncasecmp(name, "ForAnyValue:", 12) == 0) {
            qual = QUAL_ANY;
            name += 12;
        } else if (strncasecmp(name, "ForAllValues:", 13) == 0) {
            qual = QUAL_ALL;
            name += 13;
        }
        len = strlen(name);
        if (len > 8 && strcasecmp(name + len - 8, "IfExists") == 0) {
            if_exists = true;
            len -= 8;
        }
        const struct cond_op *op = op_find(name, len);
        if (op == NULL || (op->fam == CF_NULL && (if_exists || qual != QUAL_NONE))) {
            snprintf(err, errlen, "unsupported condition operator \"%s\"", opname);
            return -1;
        }
        json_object_foreach(keys, key, val)
        {
            struct pol_cond *c = &st->conds[st->nconds++];
            if (compile_cond(c, opname, op, qual, if_exists, key, val, vars, err, errlen) != 0)
                return -1;
        }
    }
    return 0;
}

void pol_cond_cleanup(struct pol_cond *c)
{
    for (size_t i = 0; i < c->nvals; i++)
        pol_pat_cleanup(&c->vals[i].pat);
    free(c->vals);
    free(c->key.name);
    memset(c, 0, sizeof(*c));
}

static bool cmp_ok(enum pol_cmp cmp, int sign)
{
    switch (cmp) {
    case CMP_EQ:
        return sign == 0;
    case CMP_LT:
        return sign < 0;
    case CMP_LE:
        return sign <= 0;
    case CMP_GT:
        return sign > 0;
    case CMP_GE:
        return sign >= 0;
    }
    return false;
}

/* A request value, read as its condition's family compares it. */
struct req_val {
    const char *s; /* string families: the value (lower-cased for CF_STR_IC) */
    size_t len;
    char low[POL_EXPAND_MAX];
    bool b;
    double num;
    time_t t;
    struct pol_cidr addr;
};

/* Reads v as c's family wants it into rv; false when it is not such a value (it matches
 * nothing). */
static bool req_val_parse(const struct pol_cond *c, const char *v, struct req_val *rv)
{
    rv->s = v;
    rv->len = strlen(v);
    switch (c->fam) {
    case CF_STR_IC:
        if (rv->len >= sizeof(rv->low))
            return false;
        for (size_t i = 0; i < rv->len; i++)
            rv->low[i] = (char)tolower((unsigned char)v[i]);
        rv->s = rv->low;
        return true;
    case CF_STR:
    case CF_LIKE:
    case CF_ARN:
    case CF_BIN:
        return true;
    case CF_BOOL:
        return parse_bool(v, &rv->b) == 0;
    case CF_NUM:
        return parse_num(v, &rv->num);
    case CF_DATE:
        return parse_date(v, &rv->t);
    case CF_IP:
        return parse_addr(v, &rv->addr);
    case CF_NULL:
        break;
    }
    return false;
}

/* Whether the request value rv matches the condition value cv (positive sense). */
static bool req_val_matches(const struct pol_cond *c, const struct pol_cval *cv,
                            const struct req_val *rv, struct pol_ev *ev)
{
    switch (c->fam) {
    case CF_STR_IC:
    case CF_STR:
    case CF_LIKE:
    case CF_ARN:
    case CF_BIN:
        return pol_pat_match(&cv->pat, rv->s, rv->len, ev);
    case CF_BOOL:
        return cv->b == rv->b;
    case CF_NUM:
        return cmp_ok(c->cmp, rv->num < cv->num ? -1 : rv->num > cv->num ? 1 : 0);
    case CF_DATE:
        return cmp_ok(c->cmp, rv->t < cv->t ? -1 : rv->t > cv->t ? 1 : 0);
    case CF_IP:
        return cidr_contains(&cv->cidr, &rv->addr);
    case CF_NULL:
        break;
    }
    return false;
}

/* Whether one request value matches any of the condition's values (positive sense). */
static bool value_matches(const struct pol_cond *c, const char *v, struct pol_ev *ev)
{
    struct req_val rv;
    if (!req_val_parse(c, v, &rv))
        return false;
    for (size_t i = 0; i < c->nvals; i++)
        if (req_val_matches(c, &c->vals[i], &rv, ev))
            return true;
    return false;
}

/* The condition over the n values of its key (positive and negated senses, qualifiers). */
static bool cond_holds(const struct pol_cond *c, struct pol_ev *ev, const char *const *vals,
                       size_t n)
{
    if (c->fam == CF_NULL) {
        /* {"Null": {"k": "true"}}: k is absent. Values OR together. */
        for (size_t i = 0; i < c->nvals; i++)
            if (c->vals[i].b == (n == 0))
                return true;
        return false;
    }
    if (n == 0) {
        if (c->if_exists || c->qual == QUAL_ALL)
            return true;
        if (c->qual == QUAL_ANY)
            return false;
        return c->negate;
    }
    switch (c->qual) {
    case QUAL_NONE:
        for (size_t i = 0; i < n; i++)
            if (value_matches(c, vals[i], ev))
                return !c->negate;
        return c->negate;
    case QUAL_ANY:
        for (size_t i = 0; i < n; i++)
            if (value_matches(c, vals[i], ev) != c->negate)
                return true;
        return false;
    case QUAL_ALL:
        for (size_t i = 0; i < n; i++)
            if (value_matches(c, vals[i], ev) == c->negate)
                return false;
        return true;
    }
    return false;
}

int pol_cond_eval(const struct pol_cond *c, struct pol_ev *ev)
{
    const struct pol_request *rq = ev->rq;
    const char *stackv[POL_KEY_VALUES_STACK];
    const char **vals = stackv;
    /* Every value of the key is looked at: a key has at most as many values as the request
     * keys, or the principal's claims, or one (a well-known key), whichever source answers. */
    size_t bound = rq->nkeys + 1 + (rq->principal != NULL ? rq->principal->nclaims : 0);
    size_t n;
    bool r;

    if (rq->unknown_keys != NULL &&
        strncasecmp(c->key.name, rq->unknown_keys, strlen(rq->unknown_keys)) == 0)
        return -1; /* the request could not learn this key's values: fail closed */
    if (bound > POL_KEY_VALUES_STACK) {
        vals = malloc(bound * sizeof(*vals));
        if (vals == NULL)
            return -1;
    }
    n = pol_key_values(ev, c->key.name, c->key.id, vals, bound);
    r = cond_holds(c, ev, vals, n);
    if (vals != stackv)
        free(vals);
    return r ? 1 : 0;
}
