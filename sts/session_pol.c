/* session_pol.c -- managed session policies (AWS's PolicyArns) of every AssumeRole* call.
 *
 * PolicyArns.member.N.arn (N = 1..10, at most 10 members) names stored or canned tessera
 * policies, as "arn:PARTITION:iam::ACCOUNT:policy/NAME" (ACCOUNT any or none: tessera has one
 * account) or as the plain NAME. Together with the inline Policy they are the session
 * policies: the session may do what its identity policies allow AND at least one session
 * policy allows (an explicit Deny in any of them denies). The names are sealed in the token
 * and resolved by the policy engine at each request (policy/engine.c,
 * pol_session_decision), as the role's and the mapped policies are: a session policy deleted
 * afterwards grants nothing, so the session keeps only what its other session policies allow
 * (fail closed; with none left, nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "policy/mapper.h"
#include "sts/sts_int.h"

#define ARN_MEMBER_PREFIX "PolicyArns.member."

/* Whether name is a legal tessera policy name (idp/iam.c: 1..128 printable characters,
 * none of ',', '/', ' '). */
static bool policy_name_legal(const char *name, size_t n)
{
    if (n < 1 || n > STS_POLICY_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f || ch == ',' || ch == '/' || ch == ' ')
            return false;
    }
    return true;
}

int sts_policy_arn_name(const char *v, char out[STS_POLICY_NAME_MAX + 1])
{
    const char *p = v, *name;
    size_t n;

    if (v == NULL)
        return TS_E_STS_INVALID_PARAMETER;
    if (strncmp(v, "arn:", 4) != 0) {
        name = v; /* a plain tessera policy name */
    } else {
        /* arn:PARTITION:iam::ACCOUNT:policy/NAME */
        p += 4;
        n = strspn(p, "abcdefghijklmnopqrstuvwxyz-");
        if (n == 0 || strncmp(p + n, ":iam::", 6) != 0)
            return TS_E_STS_INVALID_PARAMETER;
        p += n + 6;
        p += strspn(p, "0123456789");
        if (strncmp(p, ":policy/", 8) != 0)
            return TS_E_STS_INVALID_PARAMETER;
        name = p + 8;
    }
    n = strlen(name);
    if (!policy_name_legal(name, n))
        return TS_E_STS_INVALID_PARAMETER;
    memcpy(out, name, n + 1);
    return TS_OK;
}

/* The member index N of "PolicyArns.member.N.arn", or 0 when key is not one. */
static long member_index(const char *key)
{
    size_t plen = sizeof ARN_MEMBER_PREFIX - 1;
    char *end;
    long n;

    if (strncmp(key, ARN_MEMBER_PREFIX, plen) != 0 || key[plen] < '1' || key[plen] > '9')
        return 0;
    n = strtol(key + plen, &end, 10);
    if (strcmp(end, ".arn") != 0 || n < 1)
        return 0;
    return n;
}

static int too_many(struct ts_error *e)
{
    return ts_error_set(e, TS_E_STS_VALIDATION,
                        "1 validation error detected: Value at 'policyArns' failed to satisfy "
                        "constraint: Member must have length less than or equal to %d",
                        STS_MAX_POLICY_ARNS);
}

int sts_session_policy_arns(const struct http_kv *params, size_t n, struct iam_strv *out,
                            struct ts_error *e)
{
    const char *by_index[STS_MAX_POLICY_ARNS] = {0};
    char name[STS_POLICY_NAME_MAX + 1];

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        long idx = member_index(params[i].key);
        if (idx == 0) {
            if (strncmp(params[i].key, "PolicyArns.", 11) == 0)
                return ts_error_set(e, TS_E_STS_INVALID_PARAMETER,
                                    "Unknown parameter %.64s: PolicyArns members are "
                                    "PolicyArns.member.N.arn",
                                    params[i].key);
            continue;
        }
        if (idx > STS_MAX_POLICY_ARNS)
            return too_many(e);
        if (by_index[idx - 1] == NULL) /* the first occurrence wins, as for every parameter */
            by_index[idx - 1] = params[i].value;
    }
    for (size_t i = 0; i < STS_MAX_POLICY_ARNS; i++) {
        const char *v = by_index[i];
        bool dup = false;
        if (v == NULL)
            continue;
        if (sts_policy_arn_name(v, name) != TS_OK) {
            iam_strv_free(out);
            return ts_error_set(e, TS_E_STS_INVALID_PARAMETER,
                                "%.128s is not a policy ARN (arn:aws:iam::%s:policy/NAME) or a "
                                "policy name",
                                v, STS_ACCOUNT_ID);
        }
        for (size_t j = 0; j < out->n && !dup; j++)
            dup = strcmp(out->v[j], name) == 0;
        if (!dup && idp_strv_add(out, name) != TS_OK) {
            iam_strv_free(out);
            return ts_error_set(e, TS_E_INTERNAL, NULL);
        }
    }
    return TS_OK;
}

/* Characters (UTF-8 code points) of s. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

long sts_packed_policy_size(const char *policy, const char *const *names, size_t n)
{
    size_t total = policy != NULL ? chars(policy) : 0;

    if (policy == NULL && n == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        total += sizeof "arn:aws:iam::" STS_ACCOUNT_ID ":policy/" - 1 + chars(names[i]);
    return (long)((total * 100 + STS_MAX_SESSION_POLICY - 1) / STS_MAX_SESSION_POLICY);
}

int sts_check_session_policies(struct iam_store *st, const char *policy,
                               const struct iam_strv *names, struct ts_error *e)
{
    long packed = sts_packed_policy_size(policy, (const char *const *)names->v, names->n);

    if (packed > 100)
        return ts_error_set(e, TS_E_STS_PACKED_POLICY_TOO_LARGE,
                            "Packed size of the session policies is %ld%% of the %d-character "
                            "limit.",
                            packed, STS_MAX_SESSION_POLICY);
    for (size_t i = 0; i < names->n; i++)
        if (!pol_map_policy_exists(st, names->v[i]))
            return ts_error_set(e, TS_E_STS_INVALID_PARAMETER,
                                "Policy arn:aws:iam::%s:policy/%.128s does not exist.",
                                STS_ACCOUNT_ID, names->v[i]);
    return TS_OK;
}
