/* fuzz_policy.c -- policy/ documents: pol_doc_parse on arbitrary JSON, and for documents
 * that parse, evaluation against a few requests (with claims for policy variables and
 * condition keys). Input: the policy JSON, optionally followed by "\n--\n" and
 * "action\nresource\nclaim-value" to steer the request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "policy/pol.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = NULL;
    size_t jlen = size;
    char *f[3] = {NULL, NULL, NULL};
    struct pol_doc *d = NULL;
    char err[256];

    for (size_t i = 0; i + 4 <= size; i++)
        if (memcmp(data + i, "\n--\n", 4) == 0) {
            sep = data + i + 4;
            jlen = i;
            break;
        }
    char *json = fz_strndup(data, jlen);
    if (sep != NULL)
        fz_fields(sep, size - (size_t)(sep - data), '\n', f, 3);
    else
        fz_fields((const uint8_t *)"", 0, '\n', f, 3);

    if (pol_doc_parse(json, jlen, &d, err, sizeof err) == 0 && d != NULL) {
        struct pol_principal *p = pol_principal_new(POL_PRINCIPAL_TEMP);
        struct http_kv keys[2] = {{"s3:prefix", f[2]}, {"s3:max-keys", "10"}};
        const char *actions[] = {f[0][0] ? f[0] : "s3:GetObject", "s3:ListBucket", "s3:PutObject",
                                 "admin:ServerInfo"};
        const char *resources[] = {f[1][0] ? f[1] : "arn:aws:s3:::bucket/key",
                                   "arn:aws:s3:::bucket", NULL};
        if (p == NULL)
            abort();
        p->username = strdup("alice");
        p->parent = strdup("cn=alice,dc=example");
        p->source = strdup("ldap");
        p->access_key = strdup("AKIAFUZZ");
        pol_principal_add_claim(p, "jwt:sub", f[2]);
        pol_principal_add_claim(p, "ldap:username", "alice");
        pol_principal_add_claim(p, "jwt:groups", "a");
        pol_principal_add_claim(p, "jwt:groups", f[2]);
        for (size_t a = 0; a < sizeof actions / sizeof actions[0]; a++)
            for (size_t r = 0; r < sizeof resources / sizeof resources[0]; r++) {
                struct pol_request rq = {.action = actions[a],
                                         .resource = resources[r],
                                         .principal = p,
                                         .source_ip = "192.0.2.7",
                                         .secure_transport = (a & 1) != 0,
                                         .user_agent = f[2],
                                         .now = 1700000000,
                                         .keys = keys,
                                         .nkeys = 2};
                enum pol_decision dec = pol_doc_eval(d, &rq);
                const struct pol_doc *docs[2] = {d, NULL};
                enum pol_decision dec2 = pol_eval_docs(docs, 2, &rq);
                if (dec != dec2) /* one document alone and as a set must agree */
                    abort();
            }
        pol_principal_free(p);
        pol_doc_free(d);
    }
    free(json);
    fz_free_fields(f, 3);
    return 0;
}
