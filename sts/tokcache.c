/* tokcache.c -- opened session tokens, cached by the SHA-256 of the token text.
 *
 * Every request signed with temporary credentials carries its session token; opening it
 * (base64url, AES-256-GCM, JSON, the derived secret) is a fifth of such a request's CPU. A
 * direct-mapped table remembers the opened content per token: a hit copies it out instead.
 * Safe because the key is the hash of the exact token text, and because everything that can
 * change a token's verdict is still checked: expiry on every lookup here, revocation and the
 * parent's state by the caller (sts/authn.c), and any change of the IAM store (which is where
 * the token keys live: rotation, pruning) empties the cache by generation. Striped locks,
 * held only for the copy; no I/O under them. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/enc.h"
#include "core/err.h"
#include "sts/sts_int.h"

#define SLOTS 1024 /* power of two */
#define STRIPES 16

struct slot {
    bool used;
    uint8_t hash[32];
    uint64_t gen; /* iam_store_generation when filled */
    struct sts_token t;
    char secret[41];
};

struct sts_tokcache {
    pthread_mutex_t locks[STRIPES];
    struct slot slots[SLOTS];
};

struct sts_tokcache *sts_tokcache_new(void)
{
    struct sts_tokcache *tc = calloc(1, sizeof *tc);
    if (tc == NULL)
        return NULL;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&tc->locks[i], NULL);
    return tc;
}

static void slot_clear(struct slot *s)
{
    sts_token_cleanup(&s->t);
    OPENSSL_cleanse(s->secret, sizeof s->secret);
    s->used = false;
}

void sts_tokcache_free(struct sts_tokcache *tc)
{
    if (tc == NULL)
        return;
    for (int i = 0; i < SLOTS; i++)
        slot_clear(&tc->slots[i]);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&tc->locks[i]);
    free(tc);
}

static char *dup_opt(const char *s, bool *bad)
{
    char *d = s != NULL ? strdup(s) : NULL;
    if (s != NULL && d == NULL)
        *bad = true;
    return d;
}

/* Copies src into the empty *dst (unless *bad); sets *bad on OOM. */
static void strv_copy(const struct iam_strv *src, struct iam_strv *dst, bool *bad)
{
    if (src->n == 0 || *bad)
        return;
    dst->v = calloc(src->n, sizeof *dst->v);
    *bad = dst->v == NULL;
    for (size_t i = 0; i < src->n && !*bad; i++, dst->n++)
        *bad = (dst->v[i] = dup_opt(src->v[i], bad)) == NULL;
}

/* A deep copy of src into *dst. TS_OK or TS_E_INTERNAL (nothing left allocated). */
static int token_copy(const struct sts_token *src, struct sts_token *dst)
{
    bool bad = false;
    memset(dst, 0, sizeof *dst);
    memcpy(dst->access_key, src->access_key, sizeof dst->access_key);
    dst->issued = src->issued;
    dst->issued_ns = src->issued_ns;
    dst->expires = src->expires;
    dst->parent = dup_opt(src->parent, &bad);
    dst->username = dup_opt(src->username, &bad);
    dst->source = dup_opt(src->source, &bad);
    dst->session_policy = dup_opt(src->session_policy, &bad);
    dst->session_name = dup_opt(src->session_name, &bad);
    dst->role_arn = dup_opt(src->role_arn, &bad);
    dst->role = dup_opt(src->role, &bad);
    strv_copy(&src->policies, &dst->policies, &bad);
    strv_copy(&src->session_policies, &dst->session_policies, &bad);
    if (src->nclaims > 0 && !bad) {
        dst->claims = calloc(src->nclaims, sizeof *dst->claims);
        bad = dst->claims == NULL;
        for (size_t i = 0; i < src->nclaims && !bad; i++, dst->nclaims++) {
            dst->claims[i].key = dup_opt(src->claims[i].key, &bad);
            dst->claims[i].value = dup_opt(src->claims[i].value, &bad);
        }
    }
    if (bad) {
        sts_token_cleanup(dst);
        return TS_E_INTERNAL;
    }
    return TS_OK;
}

int sts_unseal_cached(struct sts_ctx *c, const char *token, size_t len, time_t now,
                      struct sts_token *out, char secret[41])
{
    uint8_t h[32];
    if (c->tokcache == NULL || token == NULL || len > STS_MAX_TOKEN_LEN)
        return sts_unseal(c, token, len, now, out, secret);
    enc_sha256(token, len, h);
    size_t idx = ((size_t)h[0] | (size_t)h[1] << 8) & (SLOTS - 1);
    pthread_mutex_t *lock = &c->tokcache->locks[idx % STRIPES];
    struct slot *s = &c->tokcache->slots[idx];
    uint64_t gen = iam_store_generation(c->st);
    int rc;

    pthread_mutex_lock(lock);
    if (s->used && s->gen == gen && CRYPTO_memcmp(s->hash, h, sizeof h) == 0) {
        if (now >= s->t.expires) {
            rc = TS_E_EXPIRED_TOKEN;
        } else {
            rc = token_copy(&s->t, out);
            if (rc == TS_OK)
                memcpy(secret, s->secret, 41);
        }
        pthread_mutex_unlock(lock);
        return rc;
    }
    pthread_mutex_unlock(lock);

    rc = sts_unseal(c, token, len, now, out, secret);
    if (rc != TS_OK)
        return rc;
    struct sts_token copy;
    if (token_copy(out, &copy) != TS_OK)
        return TS_OK; /* not cached; the answer stands */
    pthread_mutex_lock(lock);
    slot_clear(s);
    s->t = copy;
    memcpy(s->hash, h, sizeof h);
    memcpy(s->secret, secret, 41);
    s->gen = gen; /* read before opening: a concurrent IAM change makes this entry stale */
    s->used = true;
    pthread_mutex_unlock(lock);
    return TS_OK;
}
