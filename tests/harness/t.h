/* t.h -- a tiny test harness (after redis testhelp.h). Each unit test is one executable whose
 * exit status is the number of failed checks; ctest runs them. */
#ifndef TS_T_H
#define TS_T_H

#include <stdio.h>
#include <string.h>

static int t_failed, t_run;

#define ok(cond, ...)                                                                              \
    do {                                                                                           \
        t_run++;                                                                                   \
        if (!(cond)) {                                                                             \
            t_failed++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

#define is_int(got, want, name)                                                                    \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        ok(g_ == w_, "%s: got %lld, want %lld", (name), g_, w_);                                   \
    } while (0)

#define is_str(got, want, name)                                                                    \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        ok((g_ == NULL && w_ == NULL) || (g_ && w_ && strcmp(g_, w_) == 0),                        \
           "%s: got \"%s\", want \"%s\"", (name), g_ ? g_ : "(null)", w_ ? w_ : "(null)");         \
    } while (0)

#define is_mem(got, want, len, name)                                                               \
    ok(memcmp((got), (want), (len)) == 0, "%s: bytes differ", (name))

static inline int t_done(void)
{
    fprintf(stderr, "%d checks, %d failed\n", t_run, t_failed);
    return t_failed > 255 ? 255 : t_failed;
}

#endif
