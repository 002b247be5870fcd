/* vars.c -- patterns (Action, Resource and condition values), policy variables and the
 * condition-key lookup.
 *
 * A pattern is compiled once into the cheapest form that can answer it (see pol_int.h).
 * Globs use an internal escaped form: '*' and '?' are wildcards, "\x" is the literal x. Both
 * the ${*} ${?} ${$} escapes and substituted variable values are written escaped, so a user
 * name holding '*' can never widen a Resource.
 *
 * The glob matcher is the iterative two-pointer algorithm with one backtrack point (the last
 * '*'): O(len(pattern) * len(text)) in the worst case, never exponential.
 *
 * @test tests/unit/policy/test_eval.c
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"
#include "policy/pol_int.h"

uint32_t pol_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static size_t utf8_len(const char *t, size_t left)
{
    unsigned char c = (unsigned char)t[0];
    size_t n = 1;
    if (c >= 0xf0)
        n = 4;
    else if (c >= 0xe0)
        n = 3;
    else if (c >= 0xc0)
        n = 2;
    return n > left ? left : n;
}

bool pol_glob(const char *p, size_t plen, const char *t, size_t tlen)
{
    size_t pi = 0, ti = 0, star_p = (size_t)-1, star_t = 0;

    while (ti < tlen) {
        if (pi < plen) {
            char c = p[pi];
            size_t step = 1;
            if (c == '*') {
                star_p = ++pi;
                star_t = ti;
                continue;
            }
            if (c == '?') {
                pi++;
                ti += utf8_len(t + ti, tlen - ti);
                continue;
            }
            if (c == '\\' && pi + 1 < plen) {
                c = p[pi + 1];
                step = 2;
            }
            if (c == t[ti]) {
                pi += step;
                ti++;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return false;
        /* Let the last '*' absorb one more character and retry from there. */
        star_t += utf8_len(t + star_t, tlen - star_t);
        pi = star_p;
        ti = star_t;
    }
    while (pi < plen && p[pi] == '*')
        pi++;
    return pi == plen;
}

/* Appends c escaped (and lower-cased when lower) to out at *n; false when out is full. */
static bool put_lit(char *out, size_t cap, size_t *n, char c, bool lower)
{
    if (lower)
        c = (char)tolower((unsigned char)c);
    if (c == '*' || c == '?' || c == '\\') {
        if (*n + 2 > cap)
            return false;
        out[(*n)++] = '\\';
    } else if (*n + 1 > cap) {
        return false;
    }
    out[(*n)++] = c;
    return true;
}

static int push_seg(struct pol_pat *p, const char *s, size_t len, bool var)
{
    struct pol_seg *ns = realloc(p->segs, (p->nsegs + 1) * sizeof(*ns));
    if (ns == NULL)
        return -1;
    p->segs = ns;
    struct pol_seg *sg = &p->segs[p->nsegs];
    sg->s = malloc(len + 1);
    if (sg->s == NULL)
        return -1;
    memcpy(sg->s, s, len);
    sg->s[len] = '\0';
    sg->len = len;
    sg->var = var;
    sg->key_id = KEY_OTHER;
    if (var) {
        pol_key_canon(sg->s);
        sg->key_id = (int)pol_key_resolve(sg->s);
    }
    p->nsegs++;
    return 0;
}

/* A pattern without variables: exact, prefix (or all) or glob, from its literal form raw and
 * its escaped form esc (nwild wildcards, the last one a '*' when last_star). Takes both. */
static void pat_kind(struct pol_pat *p, char *raw, size_t nraw, char *esc, size_t nesc,
                     size_t nwild, bool last_star)
{
    if (nwild == 0) {
        p->kind = PAT_EXACT;
        p->s = raw;
        p->len = nraw;
        p->hash = pol_hash(raw, nraw);
        free(esc);
        return;
    }
    if (nwild == 1 && last_star) {
        p->kind = nraw == 0 ? PAT_ALL : PAT_PREFIX;
        p->s = raw;
        p->len = nraw;
        free(esc);
        return;
    }
    p->kind = PAT_GLOB;
    p->s = esc;
    p->len = nesc;
    free(raw);
}

int pol_pat_compile(struct pol_pat *p, const char *src, bool wild, bool vars, bool lower)
{
    size_t slen = strlen(src), nraw = 0, nesc = 0, run = 0, nwild = 0, nvars = 0;
    size_t npre = (size_t)-1; /* literal characters before the first wildcard or variable */
    bool last_star = false;
    char *raw = malloc(slen + 1), *esc = malloc(2 * slen + 1);

    memset(p, 0, sizeof(*p));
    p->lower = lower;
    if (raw == NULL || esc == NULL)
        goto fail;
    for (size_t i = 0; i < slen;) {
        char c = src[i];
        if (vars && c == '$' && src[i + 1] == '{') {
            const char *name = src + i + 2, *end = strchr(name, '}');
            size_t nlen = end != NULL ? (size_t)(end - name) : 0;
            if (nlen > 0) {
                i = (size_t)(end - src) + 1;
                last_star = false;
                if (nlen == 1 && (name[0] == '*' || name[0] == '?' || name[0] == '$')) {
                    raw[nraw++] = name[0];
                    put_lit(esc, 2 * slen + 1, &nesc, name[0], false);
                    continue;
                }
                if (npre == (size_t)-1)
                    npre = nraw;
                if (push_seg(p, esc + run, nesc - run, false) != 0 ||
                    push_seg(p, name, nlen, true) != 0)
                    goto fail;
                run = nesc;
                nvars++;
                continue;
            }
        }
        i++;
        if (wild && (c == '*' || c == '?')) {
            if (npre == (size_t)-1)
                npre = nraw;
            esc[nesc++] = c;
            nwild++;
            last_star = c == '*';
            continue;
        }
        if (lower)
            c = (char)tolower((unsigned char)c);
        raw[nraw++] = c;
        put_lit(esc, 2 * slen + 1, &nesc, c, false);
        last_star = false;
    }
    raw[nraw] = '\0';
    esc[nesc] = '\0';
    if (npre != (size_t)-1 && npre > 0) {
        p->pre = strndup(raw, npre);
        if (p->pre == NULL)
            goto fail;
        p->prelen = npre;
    }
    if (nvars > 0) {
        if (nesc > run && push_seg(p, esc + run, nesc - run, false) != 0)
            goto fail;
        p->kind = PAT_VARS;
        free(raw);
        free(esc);
        return 0;
    }
    pat_kind(p, raw, nraw, esc, nesc, nwild, last_star);
    return 0;
fail:
    free(raw);
    free(esc);
    pol_pat_cleanup(p);
    return -1;
}

void pol_pat_cleanup(struct pol_pat *p)
{
    free(p->s);
    free(p->pre);
    for (size_t i = 0; i < p->nsegs; i++)
        free(p->segs[i].s);
    free(p->segs);
    memset(p, 0, sizeof(*p));
}

bool pol_pat_match(const struct pol_pat *p, const char *t, size_t tlen, struct pol_ev *ev)
{
    char buf[POL_EXPAND_MAX];
    size_t n = 0;

    switch (p->kind) {
    case PAT_ALL:
        return true;
    case PAT_EXACT:
        /* Patterns mostly share their start ("arn:aws:s3:::"): the last byte rejects sooner. */
        return tlen == p->len && (tlen == 0 || t[tlen - 1] == p->s[tlen - 1]) &&
               memcmp(t, p->s, tlen) == 0;
    case PAT_PREFIX:
        return tlen >= p->len && t[p->len - 1] == p->s[p->len - 1] && memcmp(t, p->s, p->len) == 0;
    case PAT_GLOB:
        if (p->prelen > 0 && (tlen < p->prelen || t[p->prelen - 1] != p->pre[p->prelen - 1] ||
                              memcmp(t, p->pre, p->prelen) != 0))
            return false;
        return pol_glob(p->s, p->len, t, tlen);
    case PAT_VARS:
        if (p->prelen > 0 && (tlen < p->prelen || t[p->prelen - 1] != p->pre[p->prelen - 1] ||
                              memcmp(t, p->pre, p->prelen) != 0))
            return false;
        break;
    }
    if (ev == NULL)
        return false;
    for (size_t i = 0; i < p->nsegs; i++) {
        const struct pol_seg *sg = &p->segs[i];
        if (!sg->var) {
            if (n + sg->len > sizeof(buf))
                return false;
            memcpy(buf + n, sg->s, sg->len);
            n += sg->len;
            continue;
        }
        const char *v[1];
        /* A variable whose key is missing makes the pattern match nothing (AWS). */
        if (pol_key_values(ev, sg->s, (enum pol_key_id)sg->key_id, v, 1) == 0)
            return false;
        for (const char *c = v[0]; *c != '\0'; c++)
            if (!put_lit(buf, sizeof(buf), &n, *c, p->lower))
                return false;
    }
    return pol_glob(buf, n, t, tlen);
}

static const struct {
    const char *name;
    enum pol_key_id id;
} known_keys[] = {
    {"aws:username", KEY_USERNAME},           {"aws:userid", KEY_USERID},
    {"aws:principaltype", KEY_PRINCIPALTYPE}, {"aws:principalarn", KEY_PRINCIPALARN},
    {"aws:sourceip", KEY_SOURCEIP},           {"aws:securetransport", KEY_SECURETRANSPORT},
    {"aws:currenttime", KEY_CURRENTTIME},     {"aws:epochtime", KEY_EPOCHTIME},
    {"aws:useragent", KEY_USERAGENT},
};

enum pol_key_id pol_key_resolve(const char *lower_name)
{
    for (size_t i = 0; i < sizeof(known_keys) / sizeof(known_keys[0]); i++)
        if (strcmp(known_keys[i].name, lower_name) == 0)
            return known_keys[i].id;
    return KEY_OTHER;
}

static time_t ev_now(const struct pol_ev *ev)
{
    return ev->rq->now != 0 ? ev->rq->now : enc_now();
}

static const char *principal_key(struct pol_ev *ev, enum pol_key_id id)
{
    const struct pol_request *rq = ev->rq;
    const struct pol_principal *p = rq->principal;
    bool anon = p == NULL || p->type == POL_PRINCIPAL_ANONYMOUS;

    switch (id) {
    case KEY_USERNAME:
        return anon ? NULL : p->username;
    case KEY_USERID:
        return anon ? NULL : p->userid;
    case KEY_PRINCIPALARN:
        /* AWS: a role session's aws:PrincipalArn is the role's ARN. */
        if (anon)
            return NULL;
        return p->role_arn != NULL ? p->role_arn : p->arn;
    case KEY_PRINCIPALTYPE:
        if (anon)
            return "Anonymous";
        return p->type == POL_PRINCIPAL_ROOT                                   ? "Account"
               : p->type == POL_PRINCIPAL_USER || p->type == POL_PRINCIPAL_SVC ? "User"
                                                                               : "AssumedRole";
    case KEY_SOURCEIP:
        return rq->source_ip != NULL && rq->source_ip[0] != '\0' ? rq->source_ip : NULL;
    case KEY_SECURETRANSPORT:
        return rq->secure_transport ? "true" : "false";
    case KEY_CURRENTTIME:
        if (ev->now_iso[0] == '\0')
            enc_time_iso8601(ev_now(ev), ev->now_iso);
        return ev->now_iso;
    case KEY_EPOCHTIME:
        if (ev->now_epoch[0] == '\0')
            snprintf(ev->now_epoch, sizeof(ev->now_epoch), "%lld", (long long)ev_now(ev));
        return ev->now_epoch;
    case KEY_USERAGENT:
        return rq->user_agent;
    case KEY_OTHER:
        break;
    }
    return NULL;
}

/* Namespaces whose condition-key names compare case-insensitively, as AWS's do. The key
 * name after "jwt:" is a JWT claim name, and JWT claim names are case-sensitive (RFC 7519
 * 4: "Sub" is not "sub"); so are the provider-namespaced claim keys of trust policies
 * ("<issuer without scheme>:<claim>") and any other namespace. */
static const char *const ci_namespaces[] = {"aws:", "s3:", "sts:", "ldap:", "iam:", "kms:"};

enum key_case { KEY_CASE_ALL, KEY_CASE_JWT, KEY_CASE_EXACT };

static enum key_case key_case_of(const char *name)
{
    if (strncasecmp(name, "jwt:", 4) == 0)
        return KEY_CASE_JWT;
    for (size_t i = 0; i < sizeof(ci_namespaces) / sizeof(ci_namespaces[0]); i++)
        if (strncasecmp(name, ci_namespaces[i], strlen(ci_namespaces[i])) == 0)
            return KEY_CASE_ALL;
    return KEY_CASE_EXACT;
}

void pol_key_canon(char *name)
{
    size_t n = 0;
    switch (key_case_of(name)) {
    case KEY_CASE_ALL:
        n = strlen(name);
        break;
    case KEY_CASE_JWT:
        n = 3; /* "jwt" */
        break;
    case KEY_CASE_EXACT:
        break;
    }
    for (size_t i = 0; i < n; i++)
        name[i] = (char)tolower((unsigned char)name[i]);
}

/* Whether the key have (of the request or the principal) is the condition key want (in the
 * canonical form of pol_key_canon, whose case rule is kc). */
static bool key_name_eq(const char *have, const char *want, enum key_case kc)
{
    switch (kc) {
    case KEY_CASE_ALL:
        return strcasecmp(have, want) == 0;
    case KEY_CASE_JWT:
        return strncasecmp(have, want, 4) == 0 && strcmp(have + 4, want + 4) == 0;
    case KEY_CASE_EXACT:
        break;
    }
    return strcmp(have, want) == 0;
}

size_t pol_key_values(struct pol_ev *ev, const char *name, enum pol_key_id id, const char **vals,
                      size_t max)
{
    const struct pol_request *rq = ev->rq;
    const struct pol_principal *p = rq->principal;
    enum key_case kc = key_case_of(name);
    size_t n = 0;

    for (size_t i = 0; i < rq->nkeys && n < max; i++)
        if (rq->keys[i].key != NULL && key_name_eq(rq->keys[i].key, name, kc))
            vals[n++] = rq->keys[i].value != NULL ? rq->keys[i].value : "";
    if (n > 0)
        return n;
    if (id != KEY_OTHER) {
        const char *v = principal_key(ev, id);
        if (v != NULL && max > 0) {
            vals[0] = v;
            return 1;
        }
    }
    if (p == NULL)
        return 0;
    for (size_t i = 0; i < p->nclaims && n < max; i++)
        if (p->claims[i].key != NULL && key_name_eq(p->claims[i].key, name, kc))
            vals[n++] = p->claims[i].value != NULL ? p->claims[i].value : "";
    return n;
}

void pol_ev_init(struct pol_ev *ev, const struct pol_request *rq)
{
    const char *a = rq->action != NULL ? rq->action : "";
    size_t n = strlen(a);

    ev->rq = rq;
    ev->now_iso[0] = '\0';
    ev->now_epoch[0] = '\0';
    ev->action_ok = n < sizeof(ev->action);
    if (!ev->action_ok)
        n = 0;
    for (size_t i = 0; i < n; i++)
        ev->action[i] = (char)tolower((unsigned char)a[i]);
    ev->action[n] = '\0';
    ev->action_len = n;
    ev->action_hash = pol_hash(ev->action, n);
    ev->resource_len = rq->resource != NULL ? strlen(rq->resource) : 0;
}
