/* ctx.c -- the STS context (config, IAM store, policy engine, token keyring, action table)
 * and the admin operations on sessions: revoke a parent's sessions, revoke one access key,
 * rotate the token key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "sts/sts_int.h"

static char *dup_or(const char *s, const char *dflt)
{
    if (s == NULL)
        s = dflt;
    return s != NULL ? strdup(s) : NULL;
}

struct sts_ctx *sts_ctx_new(const struct sts_config *cfg, struct iam_store *st,
                            struct pol_engine *pe)
{
    struct sts_ctx *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    if (pthread_rwlock_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    c->st = st;
    c->pe = pe;
    c->region = dup_or(cfg->region, "us-east-1");
    c->root_user = dup_or(cfg->root_user, NULL);
    c->root_secret = dup_or(cfg->root_secret, NULL);
    c->data_dir = dup_or(cfg->data_dir, NULL);
    c->cfg.region = c->region;
    c->cfg.root_user = c->root_user;
    c->cfg.root_secret = c->root_secret;
    c->cfg.data_dir = c->data_dir;
    c->cfg.max_duration = cfg->max_duration > 0 ? cfg->max_duration : 43200;
    if (c->region == NULL || (cfg->root_user && !c->root_user) ||
        (cfg->root_secret && !c->root_secret) || (cfg->data_dir && !c->data_dir)) {
        fprintf(stderr, "sts: out of memory\n");
        goto fail;
    }
    if (c->cfg.max_duration < STS_MIN_DURATION || c->cfg.max_duration > STS_MAX_DURATION_LIMIT) {
        fprintf(stderr, "sts: max duration %ld out of range %ld..%ld seconds\n",
                c->cfg.max_duration, STS_MIN_DURATION, STS_MAX_DURATION_LIMIT);
        goto fail;
    }
    if (st == NULL) {
        fprintf(stderr, "sts: no IAM store\n");
        goto fail;
    }
    c->keycache = sigv4_keycache_new();
    c->tokcache = sts_tokcache_new();
    if (c->keycache == NULL || c->tokcache == NULL) {
        fprintf(stderr, "sts: out of memory\n");
        goto fail;
    }
    if (sts_keys_load(c) != TS_OK) {
        fprintf(stderr, "sts: cannot load or create the token keys\n");
        goto fail;
    }
    sts_static_backend_init(c, &c->static_backend);
    c->backends[sts_action_find("AssumeRole") - sts_actions] = &c->static_backend;
    sts_session_token_backend_init(c, &c->session_token_backend);
    c->backends[sts_action_find("GetSessionToken") - sts_actions] = &c->session_token_backend;
    sts_metrics_zero("AssumeRole");
    return c;
fail:
    sts_ctx_free(c);
    return NULL;
}

void sts_ctx_free(struct sts_ctx *c)
{
    if (c == NULL)
        return;
    sts_keyring_free(&c->ring);
    sigv4_keycache_free(c->keycache);
    sts_tokcache_free(c->tokcache);
    pthread_rwlock_destroy(&c->lock);
    free(c->region);
    free(c->root_user);
    enc_secret_free(c->root_secret);
    free(c->data_dir);
    free(c);
}

int sts_store_fresh(struct sts_ctx *c, struct ts_error *e)
{
    struct ts_error fe = {0};

    if (iam_store_fresh(c->st, &fe) == TS_OK)
        return TS_OK;
    return ts_error_set(e, TS_E_SERVICE_UNAVAILABLE, "%s",
                        ts_error_msg(&fe) != NULL ? ts_error_msg(&fe)
                                                  : "The IAM store is not synchronised.");
}

const struct sts_config *sts_ctx_config(const struct sts_ctx *c)
{
    return &c->cfg;
}

int sts_set_backend(struct sts_ctx *c, const char *action, const struct idp_backend *b)
{
    const struct sts_action *a = sts_action_find(action);
    /* Only the federation actions take a backend; AssumeRole and GetSessionToken keep theirs. */
    if (a == NULL || a->builtin != NULL || strcmp(action, "AssumeRole") == 0 ||
        strcmp(action, "GetSessionToken") == 0)
        return TS_E_INVALID_ARGUMENT;
    c->backends[a - sts_actions] = b;
    if (b != NULL)
        sts_metrics_zero(action);
    return TS_OK;
}

const struct idp_backend *sts_backend(const struct sts_ctx *c, const char *action)
{
    const struct sts_action *a = sts_action_find(action);
    return a != NULL ? c->backends[a - sts_actions] : NULL;
}

int sts_revoke_user(struct sts_ctx *c, const char *user)
{
    struct iam_user u;
    int64_t nb = iam_now_ns() + 1; /* every session issued up to now, none issued later */
    int rc;

    if (user == NULL || *user == '\0')
        return TS_E_INVALID_ARGUMENT;
    memset(&u, 0, sizeof u);
    rc = iam_user_get(c->st, user, &u);
    if (rc == TS_OK) {
        iam_user_cleanup(&u);
        rc = iam_user_revoke_sessions(c->st, user, nb);
    } else if (rc == TS_E_NO_SUCH_ENTITY) {
        rc = iam_parent_revoke_sessions(c->st, user, nb);
    }
    return rc; /* audited by the caller (the admin API's sts.revoke record) */
}

int sts_revoke_access_key(struct sts_ctx *c, const char *access_key)
{
    if (access_key == NULL || *access_key == '\0')
        return TS_E_INVALID_ARGUMENT;
    /* audited by the caller (the admin API's sts.revoke record) */
    return iam_revoke_key(c->st, access_key, enc_now() + c->cfg.max_duration);
}

struct sts_params *sts_params_new(void)
{
    return calloc(1, sizeof(struct sts_params));
}

int sts_params_set(struct sts_params *p, const char *key, const char *value)
{
    return sts_params_add(p, key, value);
}

void sts_params_free(struct sts_params *p)
{
    if (p == NULL)
        return;
    sts_params_cleanup(p);
    free(p);
}
