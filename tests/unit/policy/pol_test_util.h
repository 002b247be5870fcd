/* pol_test_util.h -- helpers shared by the policy unit tests: policies written with single
 * quotes (turned into JSON double quotes), principals and request keys from "k=v;k=v". */
#ifndef TS_POL_TEST_UTIL_H
#define TS_POL_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/pol.h"

/* The policy text with ' turned into ". The result is malloc'ed. */
static inline char *tq(const char *s)
{
    char *o = strdup(s);
    for (char *p = o; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

static inline struct pol_doc *tparse(const char *single_quoted)
{
    char *j = tq(single_quoted), err[512] = "";
    struct pol_doc *d = NULL;
    if (pol_doc_parse(j, strlen(j), &d, err, sizeof(err)) != 0) {
        fprintf(stderr, "parse failed: %s\n  %s\n", err, j);
        d = NULL;
    }
    free(j);
    return d;
}

/* Splits "k=v;k=v" into kv (at most max); returns the count. Strings are malloc'ed. */
static inline size_t tkv(const char *spec, struct http_kv *kv, size_t max)
{
    size_t n = 0;
    if (spec == NULL)
        return 0;
    char *dup = strdup(spec), *save = NULL;
    for (char *tok = strtok_r(dup, ";", &save); tok != NULL && n < max;
         tok = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        kv[n].key = strdup(tok);
        kv[n].value = strdup(eq + 1);
        n++;
    }
    free(dup);
    return n;
}

static inline void tkv_free(struct http_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
}

/* A principal: type 'A' anonymous, 'R' root, 'U' static user, 'T' temporary. Its typed ARN
 * is what sts/authn.c gives: root's, arn:aws:iam::000000000000:user/USER, and for 'T' a
 * federated session's arn:aws:sts::000000000000:federated-user/USER. */
static inline struct pol_principal *tprincipal(char type, const char *user, const char *claims)
{
    enum pol_principal_type t = type == 'R'   ? POL_PRINCIPAL_ROOT
                                : type == 'U' ? POL_PRINCIPAL_USER
                                : type == 'T' ? POL_PRINCIPAL_TEMP
                                              : POL_PRINCIPAL_ANONYMOUS;
    struct pol_principal *p = pol_principal_new(t);
    if (user != NULL) {
        p->username = strdup(user);
        p->access_key = strdup(user);
        p->userid = strdup(user);
    }
    if (t == POL_PRINCIPAL_ROOT || (user != NULL && t != POL_PRINCIPAL_ANONYMOUS)) {
        char arn[512];
        if (t == POL_PRINCIPAL_ROOT)
            snprintf(arn, sizeof(arn), "arn:aws:iam::000000000000:root");
        else if (t == POL_PRINCIPAL_USER)
            snprintf(arn, sizeof(arn), "arn:aws:iam::000000000000:user/%s", user);
        else
            snprintf(arn, sizeof(arn), "arn:aws:sts::000000000000:federated-user/%s", user);
        p->arn = strdup(arn);
    }
    struct http_kv kv[32];
    size_t n = tkv(claims, kv, 32);
    for (size_t i = 0; i < n; i++)
        pol_principal_add_claim(p, kv[i].key, kv[i].value);
    tkv_free(kv, n);
    return p;
}

static inline const char *tdec(enum pol_decision d)
{
    return d == POL_ALLOW ? "ALLOW" : d == POL_EXPLICIT_DENY ? "EXPLICIT_DENY" : "IMPLICIT_DENY";
}

#endif
