/* s3_post_policy.c -- the POST policy of a browser upload (AWS "POST Object"): a base64 JSON
 * document {"expiration": ISO 8601, "conditions": [...]} checked against the form's fields.
 * Pure: no request, no store (tests/unit/objstore/test_s3_post_policy.c).
 *
 * Conditions: {"field": "value"} (exact match), ["eq", "$field", "value"],
 * ["starts-with", "$field", "prefix"] ("" accepts anything) and
 * ["content-length-range", min, max]; "$bucket" is the bucket of the request. Field names
 * are case-insensitive; a field the form lacks has the value "". Every field of the form
 * must be named by a condition, except the ones S3 exempts (s3_post_exempt). Errors are
 * S3's: InvalidPolicyDocument for a document that is not one, AccessDenied "Invalid according
 * to Policy: ..." for a form it does not allow. */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/enc.h"
#include "core/err.h"

#define POST_POLICY_MAX (64u << 10) /* decoded bytes */

bool s3_post_exempt(const char *name)
{
    static const char *const exempt[] = {"policy", "x-amz-signature", "signature", "awsaccesskeyid",
                                         "file"};
    for (size_t i = 0; i < sizeof exempt / sizeof *exempt; i++)
        if (strcasecmp(name, exempt[i]) == 0)
            return true;
    return strncasecmp(name, "x-ignore-", 9) == 0;
}

static int invalid(struct ts_error *e, const char *msg)
{
    return ts_error_set(e, TS_E_INVALID_POLICY_DOCUMENT, "Invalid Policy: %s", msg);
}

/* The value of field name ("$" already stripped): the bucket for "bucket", else the form's
 * (the first of that name), "" when absent. Marks the fields it names as covered. */
static const char *field_value(const struct s3_post_form *f, const char *name, bool *covered)
{
    if (strcasecmp(name, "bucket") == 0)
        return f->bucket;
    const char *v = NULL;
    for (size_t i = 0; i < f->nfields; i++)
        if (strcasecmp(f->fields[i].key, name) == 0) {
            covered[i] = true;
            if (v == NULL)
                v = f->fields[i].value;
        }
    return v != NULL ? v : "";
}

/* AccessDenied naming the condition as S3 writes it: ["eq", "$key", "x"]. */
static int cond_failed(struct ts_error *e, const json_t *cond)
{
    char *s = json_dumps(cond, JSON_ENCODE_ANY);
    ts_error_set(e, TS_E_ACCESS_DENIED, "Invalid according to Policy: Policy Condition failed: %s",
                 s ? s : "");
    free(s);
    return TS_E_ACCESS_DENIED;
}

/* A content-length-range bound: a non-negative JSON integer or a string of digits. */
static bool range_bound(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (s == NULL || *s == '\0' || strlen(s) > 19 || strspn(s, "0123456789") != strlen(s))
        return false;
    *out = strtoull(s, NULL, 10);
    return true;
}

/* {"name": "value"}: exact match (eval false: the shape only). */
static int cond_object(const struct s3_post_form *f, const json_t *cond, bool *covered, bool eval,
                       struct ts_error *e)
{
    const char *name;
    json_t *v;
    if (json_object_size(cond) != 1)
        return invalid(e, "Invalid Simple-Condition: Simple-Conditions must have exactly one "
                          "property specified.");
    json_object_foreach((json_t *)cond, name, v)
    {
        if (!json_is_string(v))
            return invalid(e, "Invalid Simple-Condition: value must be a string.");
        const char *have = field_value(f, name[0] == '$' ? name + 1 : name, covered);
        if (eval && strcmp(have, json_string_value(v)) != 0)
            return cond_failed(e, cond);
    }
    return TS_OK;
}

/* ["eq" | "starts-with", "$name", "value"] and ["content-length-range", min, max] (eval false:
 * the shape only). */
static int cond_array(const struct s3_post_form *f, const json_t *cond, bool *covered, bool eval,
                      struct s3_post_limits *lim, struct ts_error *e)
{
    const char *op = json_string_value(json_array_get(cond, 0));
    char msg[128];
    if (op == NULL)
        return invalid(e, "Invalid Condition: missing operation identifier.");
    bool eq = strcasecmp(op, "eq") == 0, sw = strcasecmp(op, "starts-with") == 0;
    bool range = strcasecmp(op, "content-length-range") == 0;
    if (!eq && !sw && !range) {
        snprintf(msg, sizeof msg, "Invalid Condition: unknown operation '%.64s'.", op);
        return invalid(e, msg);
    }
    if (json_array_size(cond) != 3) {
        snprintf(msg, sizeof msg, "Invalid %s: wrong number of arguments.", op);
        return invalid(e, msg);
    }
    const json_t *a = json_array_get(cond, 1), *b = json_array_get(cond, 2);
    if (range) {
        uint64_t lo, hi;
        if (!range_bound(a, &lo) || !range_bound(b, &hi) || lo > hi)
            return invalid(e, "Invalid content-length-range: the bounds must be integers, the "
                              "first not greater than the second.");
        if (eval) {
            lim->min = lo > lim->min ? lo : lim->min;
            lim->max = hi < lim->max ? hi : lim->max;
        }
        return TS_OK;
    }
    const char *name = json_string_value(a), *want = json_string_value(b);
    if (name == NULL || name[0] != '$' || want == NULL) {
        snprintf(msg, sizeof msg, "Invalid %s: the arguments must be \"$field\" and a string.", op);
        return invalid(e, msg);
    }
    const char *have = field_value(f, name + 1, covered);
    if (eval && (eq ? strcmp(have, want) != 0 : strncmp(have, want, strlen(want)) != 0))
        return cond_failed(e, cond);
    return TS_OK;
}

/* The decoded, parsed document: TS_OK with *doc and *conds, or InvalidPolicyDocument. */
static int policy_parse(const char *b64, json_t **doc, json_t **conds, time_t *exp,
                        struct ts_error *e)
{
    size_t n = strlen(b64);
    if (n == 0)
        return invalid(e, "Expecting '{' but found End-of-Input");
    if (n > POST_POLICY_MAX / 3 * 4)
        return invalid(e, "the policy is too large.");
    uint8_t *raw = malloc(n / 4 * 3 + 3);
    if (raw == NULL)
        return TS_E_INTERNAL;
    long len = enc_unb64(b64, n, raw);
    if (len < 0) {
        free(raw);
        return invalid(e, "invalid Base64 encoding.");
    }
    *doc = json_loadb((const char *)raw, (size_t)len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (!json_is_object(*doc))
        return invalid(e, "Invalid JSON.");
    json_t *x = json_object_get(*doc, "expiration");
    *conds = json_object_get(*doc, "conditions");
    if (x == NULL)
        return invalid(e, "Policy missing expiration.");
    if (!json_is_string(x) || enc_time_parse_iso8601(json_string_value(x), exp) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "Invalid 'expiration' value: '%.64s'",
                 json_is_string(x) ? json_string_value(x) : "");
        return invalid(e, msg);
    }
    if (*conds == NULL)
        return invalid(e, "Policy missing conditions.");
    if (!json_is_array(*conds))
        return invalid(e, "Invalid 'conditions' value: must be a List.");
    return TS_OK;
}

int s3_post_policy_check(const char *policy_b64, const struct s3_post_form *f, time_t now,
                         struct s3_post_limits *lim, struct ts_error *e)
{
    json_t *doc = NULL, *conds = NULL, *c;
    time_t exp = 0;
    size_t i;
    bool *covered = calloc(f->nfields + 1, sizeof *covered);
    if (covered == NULL)
        return TS_E_INTERNAL;
    lim->min = 0;
    lim->max = UINT64_MAX;
    int rc = policy_parse(policy_b64, &doc, &conds, &exp, e);
    /* Two passes: the document's shape first (a malformed condition is InvalidPolicyDocument
     * whatever the form and the time), then the expiration, then the form. */
    for (int eval = 0; eval < 2 && rc == TS_OK; eval++) {
        if (eval && now >= exp)
            rc =
                ts_error_set(e, TS_E_ACCESS_DENIED, "Invalid according to Policy: Policy expired.");
        json_array_foreach(rc == TS_OK ? conds : NULL, i, c)
        {
            rc = json_is_object(c)  ? cond_object(f, c, covered, eval, e)
                 : json_is_array(c) ? cond_array(f, c, covered, eval, lim, e)
                                    : invalid(e, "Invalid condition test: must be a List or "
                                                 "Object.");
            if (rc != TS_OK)
                break;
        }
    }
    for (i = 0; rc == TS_OK && i < f->nfields; i++)
        if (!covered[i] && !s3_post_exempt(f->fields[i].key))
            rc = ts_error_set(e, TS_E_ACCESS_DENIED,
                              "Invalid according to Policy: Extra input fields: %.128s",
                              f->fields[i].key);
    json_decref(doc);
    free(covered);
    return rc;
}
