/* bench_policy.c -- nanoseconds per authorization: a request against 10 policies of 50
 * statements each (target: under 5 us on one core).
 *
 * Measures (1) pol_eval_docs over the 10 compiled documents (the evaluator alone) and
 * (2) pol_authorize for a static user with the 10 policies attached in a real LMDB IAM store
 * (evaluator + store lookups of the user and its groups + engine cache).
 *
 * Build by hand after building the libraries (Release flags):
 *   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release && \
 *     cmake --build build-rel --target ts_policy ts_idp ts_core -j2
 *   gcc -std=c11 -O2 -D_GNU_SOURCE -I. -o build-rel/bench_policy tests/bench/bench_policy.c \
 *     build-rel/libts_policy.a build-rel/libts_idp.a build-rel/libts_core.a \
 *     $(pkg-config --libs jansson lmdb libcrypto cjose libcurl expat zlib libmicrohttpd) -lpthread
 *   ./build-rel/bench_policy
 * (In CMake: add_executable(bench_policy tests/bench/bench_policy.c) linked like the tests.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idp/iam.h"
#include "policy/pol.h"

#define NPOL 10
#define NSTMT 50

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Policy i: 50 statements over buckets "b<i>-<j>", a mix of exact actions, wildcards,
 * variables and conditions; the last policy allows the benchmark request, and a Deny with a
 * condition is checked in every policy. */
static char *make_policy(int i)
{
    size_t cap = 32768, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "{\"Version\":\"2012-10-17\",\"Statement\":[");
    for (int j = 0; j < NSTMT; j++) {
        const char *sep = j ? "," : "";
        switch (j % 5) {
        case 0:
            n += (size_t)snprintf(s + n, cap - n,
                                  "%s{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\","
                                  "\"s3:PutObject\"],\"Resource\":\"arn:aws:s3:::b%d-%d/*\"}",
                                  sep, i, j);
            break;
        case 1:
            n += (size_t)snprintf(s + n, cap - n,
                                  "%s{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\","
                                  "\"Resource\":\"arn:aws:s3:::b%d-%d\",\"Condition\":{"
                                  "\"StringLike\":{\"s3:prefix\":\"home/${aws:username}/*\"}}}",
                                  sep, i, j);
            break;
        case 2:
            n += (size_t)snprintf(s + n, cap - n,
                                  "%s{\"Effect\":\"Allow\",\"Action\":\"s3:Get*\","
                                  "\"Resource\":\"arn:aws:s3:::b%d-%d/home/${aws:username}/*\"}",
                                  sep, i, j);
            break;
        case 3:
            n += (size_t)snprintf(s + n, cap - n,
                                  "%s{\"Effect\":\"Deny\",\"Action\":\"s3:DeleteObject\","
                                  "\"Resource\":\"arn:aws:s3:::b%d-%d/*\",\"Condition\":{"
                                  "\"Bool\":{\"aws:SecureTransport\":\"false\"}}}",
                                  sep, i, j);
            break;
        default:
            n += (size_t)snprintf(s + n, cap - n,
                                  "%s{\"Effect\":\"Allow\",\"Action\":[\"s3:PutObject\","
                                  "\"s3:AbortMultipartUpload\",\"s3:ListMultipartUploadParts\"],"
                                  "\"Resource\":\"arn:aws:s3:::b%d-%d/uploads/*\",\"Condition\":"
                                  "{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}}",
                                  sep, i, j);
            break;
        }
    }
    if (i == NPOL - 1)
        n += (size_t)snprintf(s + n, cap - n,
                              ",{\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":"
                              "\"arn:aws:s3:::target/secret/*\"}"
                              ",{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":"
                              "\"arn:aws:s3:::target/*\"}");
    snprintf(s + n, cap - n, "]}");
    return s;
}

int main(int argc, char **argv)
{
    struct pol_doc *docs[NPOL];
    char *json[NPOL], err[256];
    long iters = argc > 1 ? atol(argv[1]) : 200000;
    struct pol_principal *p = pol_principal_new(POL_PRINCIPAL_USER);
    struct http_kv keys[] = {{"s3:prefix", "home/benchuser/"}};

    p->username = strdup("benchuser");
    p->access_key = strdup("benchuser");
    for (int i = 0; i < NPOL; i++) {
        json[i] = make_policy(i);
        if (pol_doc_parse(json[i], strlen(json[i]), &docs[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "policy %d: %s\n", i, err);
            return 1;
        }
    }
    struct pol_request rq = {.action = "s3:GetObject",
                             .resource = "arn:aws:s3:::target/some/object/key.txt",
                             .principal = p,
                             .source_ip = "192.168.1.20",
                             .secure_transport = true,
                             .now = time(NULL),
                             .keys = keys,
                             .nkeys = 1};

    if (pol_eval_docs((const struct pol_doc *const *)docs, NPOL, &rq) != POL_ALLOW) {
        fprintf(stderr, "benchmark request is not allowed\n");
        return 1;
    }
    double t0 = now_ns();
    long allowed = 0;
    for (long k = 0; k < iters; k++)
        allowed += pol_eval_docs((const struct pol_doc *const *)docs, NPOL, &rq) == POL_ALLOW;
    double t1 = now_ns();
    printf("pol_eval_docs: %d policies x %d statements: %.0f ns/authorization (%ld iterations)\n",
           NPOL, NSTMT, (t1 - t0) / (double)iters, iters);

    /* The same through the engine and a real LMDB store. */
    char dir[] = "/tmp/bench_policy_XXXXXX";
    struct iam_store *st = NULL;
    if (mkdtemp(dir) == NULL || iam_store_open(dir, &st) != 0) {
        fprintf(stderr, "cannot open a store\n");
        return 1;
    }
    iam_user_add(st, "benchuser", "benchsecret1", NULL);
    for (int i = 0; i < NPOL; i++) {
        char name[32];
        snprintf(name, sizeof(name), "pol%d", i);
        iam_policy_put(st, name, json[i]);
        iam_attach(st, IAM_TARGET_USER, "benchuser", name);
    }
    struct pol_engine *e = pol_engine_new(st);
    const char *why = NULL;
    if (pol_authorize(e, &rq, NULL, &why) != POL_ALLOW) {
        fprintf(stderr, "engine does not allow: %s\n", why);
        return 1;
    }
    long eiters = iters / 4;
    t0 = now_ns();
    for (long k = 0; k < eiters; k++)
        allowed += pol_authorize(e, &rq, NULL, &why) == POL_ALLOW;
    t1 = now_ns();
    printf("pol_authorize (LMDB store, user with %d attached policies): %.0f ns/authorization "
           "(%ld iterations)\n",
           NPOL, (t1 - t0) / (double)eiters, eiters);
    pol_engine_free(e);
    iam_store_close(st);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    for (int i = 0; i < NPOL; i++) {
        pol_doc_free(docs[i]);
        free(json[i]);
    }
    pol_principal_free(p);
    return allowed > 0 ? 0 : 1;
}
