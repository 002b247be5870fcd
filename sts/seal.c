/* seal.c -- token keys and the sealed session token (DESIGN §4.1).
 *
 * Token keys live in the IAM store as one blob ("sts/token-keys", JSON: version + a list of
 * {kid, key (base64), created, retired}) so that every node sharing the store verifies
 * every node's tokens (DESIGN §4.6); the LMDB store under DATA_DIR/iam/ is 0600. The last
 * key is the active one; a rotation retires it and adds a new one; retired keys keep
 * verifying until max_duration (+ STS_KEY_PUBLISH_S) after retirement (no session can
 * outlive that: sts_mint caps durations at max_duration) and are dropped at the next
 * rotation after that. Every node verifies with every key of the ring (reloaded when the
 * store generation changes: before minting, and on an unknown kid), but seals only with a
 * key created at least STS_KEY_PUBLISH_S ago (ring_mint_index), so that a rotation reaches
 * the other nodes (etcd: within 1 s) before any token sealed with the new key does. The first key
 * and every rotation are written with iam_blob_update (compare-and-swap on the blob's
 * version, redone over what another process or node wrote meanwhile), so no key is lost to
 * concurrent rotations; c->lock only guards this process's copy of the ring.
 *
 * A session token is base64url (no padding) of
 *
 *   version (1 byte) | kid (8 ASCII bytes) | nonce (12 random bytes) | ciphertext | tag (16)
 *
 * sealed with AES-256-GCM under HMAC-SHA256(master, "tessera-sts-seal-v1"), version and kid
 * as additional authenticated data. The plaintext is compact JSON:
 *   {"a":access key,"i":issued,"it":issued in ns,"e":expires,"p":parent,"u":username,
 *    "s":source,"m":[policies],"sp":session policy,"n":session name,"r":role arn,
 *    "ro":role name,"sm":[managed session policies],"c":{claims}}
 * (optional members omitted). "i" and "e" are seconds; "it" (added with sub-second
 * revocation) is the issue time in nanoseconds that not-before times are compared with. A
 * token without it (sealed before) counts as issued at the first nanosecond of its second "i",
 * so a revocation in that second ends it (fail closed); one whose "it" is not within "i"'s
 * second is refused. "ro" is the tessera role whose trust policy admitted the
 * session; "r" is informational (a provider's RolePolicy ARN). In "c" a single-valued claim is
 * a string and a multi-valued one (jwt:groups, aud, amr...) an array of strings in their
 * order, so that every value reaches the policy conditions. The secret access key is not in the
 * token: it is base64(HMAC-SHA256(derive key, access key || SHA256(token text)))[0..40) with derive
 * key = HMAC-SHA256(master, "tessera-sts-derive-v1"), so verifying needs no lookup and the token
 * alone reveals no secret.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "idp/kv.h"
#include "sts/sts_int.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define HDR_LEN (1 + STS_KID_LEN)
#define MIN_RAW (HDR_LEN + NONCE_LEN + TAG_LEN)

static const char kid_alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
static const char ak_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* ---- keys ---- */

static void key_derive(struct sts_key *k)
{
    static const char seal_label[] = "tessera-sts-seal-v1";
    static const char derive_label[] = "tessera-sts-derive-v1";
    enc_hmac_sha256(k->master, sizeof k->master, seal_label, sizeof seal_label - 1, k->seal);
    enc_hmac_sha256(k->master, sizeof k->master, derive_label, sizeof derive_label - 1, k->derive);
}

static int key_generate(struct sts_key *k, time_t now)
{
    memset(k, 0, sizeof *k);
    if (enc_random(k->master, sizeof k->master) != 0 ||
        enc_random_chars(k->kid, STS_KID_LEN, kid_alphabet, sizeof kid_alphabet - 1) != 0)
        return -1;
    k->created = now;
    key_derive(k);
    return 0;
}

void sts_keyring_free(struct sts_keyring *ring)
{
    if (ring->keys != NULL) {
        OPENSSL_cleanse(ring->keys, ring->n * sizeof *ring->keys);
        free(ring->keys);
    }
    ring->keys = NULL;
    ring->n = 0;
}

static int kid_valid(const char *kid)
{
    if (strlen(kid) != STS_KID_LEN)
        return 0;
    for (size_t i = 0; i < STS_KID_LEN; i++)
        if (strchr(kid_alphabet, kid[i]) == NULL)
            return 0;
    return 1;
}

/* Parses the blob into ring. TS_OK or TS_E_INTERNAL. */
static int ring_parse(const void *data, size_t len, struct sts_keyring *ring)
{
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *keys = root ? json_object_get(root, "keys") : NULL;
    struct sts_keyring r = {0};
    int rc = TS_E_INTERNAL;
    size_t i;
    json_t *it;

    if (!json_is_array(keys) || json_array_size(keys) == 0)
        goto fail;
    r.keys = calloc(json_array_size(keys), sizeof *r.keys);
    if (r.keys == NULL)
        goto fail;
    json_array_foreach(keys, i, it)
    {
        const char *kid = json_string_value(json_object_get(it, "kid"));
        const char *b64 = json_string_value(json_object_get(it, "key"));
        json_t *created = json_object_get(it, "created"), *retired = json_object_get(it, "retired");
        uint8_t raw[64];
        struct sts_key *k = &r.keys[r.n];
        if (kid == NULL || b64 == NULL || !kid_valid(kid) || strlen(b64) != 44 ||
            !json_is_integer(created) || !json_is_integer(retired))
            goto fail;
        if (enc_unb64(b64, 44, raw) != 32) {
            OPENSSL_cleanse(raw, sizeof raw);
            goto fail;
        }
        memcpy(k->kid, kid, STS_KID_LEN + 1);
        memcpy(k->master, raw, 32);
        OPENSSL_cleanse(raw, sizeof raw);
        k->created = (time_t)json_integer_value(created);
        k->retired = (time_t)json_integer_value(retired);
        key_derive(k);
        r.n++;
    }
    *ring = r;
    r.keys = NULL;
    rc = TS_OK;
fail:
    if (rc != TS_OK)
        fprintf(stderr, "sts: token key blob %s is malformed\n", STS_KEYS_BLOB);
    sts_keyring_free(&r);
    json_decref(root);
    return rc;
}

/* The blob text of ring (malloc'ed, to be wiped), or NULL. */
static char *ring_dump(const struct sts_keyring *ring)
{
    json_t *root = json_object(), *keys = json_array();
    char *text = NULL;

    if (root == NULL || keys == NULL)
        goto fail;
    json_object_set_new(root, "v", json_integer(1));
    json_object_set(root, "keys", keys);
    for (size_t i = 0; i < ring->n; i++) {
        const struct sts_key *k = &ring->keys[i];
        char *b64 = enc_b64(k->master, sizeof k->master);
        if (b64 == NULL)
            goto fail;
        json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "kid", k->kid, "key", b64, "created",
                              (json_int_t)k->created, "retired", (json_int_t)k->retired);
        enc_secret_free(b64);
        if (o == NULL || json_array_append_new(keys, o) != 0)
            goto fail;
    }
    text = json_dumps(root, JSON_COMPACT);
fail:
    json_decref(keys);
    json_decref(root);
    return text;
}

/* A change of the stored ring (iam_blob_update): when absent, create it with one active key;
 * with rotate, retire the active key, drop keys retired more than max_duration ago and add a
 * new active key. Works on what the store holds now, so keys added by another process or
 * node in between are kept. */
struct ring_edit {
    bool rotate;
    long max_duration;
    char kid[STS_KID_LEN + 1]; /* the key added */
};

/* Builds the next ring from cur (which may be empty) into next. */
static int ring_next(const struct sts_keyring *cur, struct ring_edit *e, struct sts_keyring *next)
{
    time_t now = enc_now();

    next->keys = calloc(cur->n + 1, sizeof *next->keys);
    if (next->keys == NULL)
        return TS_E_INTERNAL;
    for (size_t i = 0; i < cur->n; i++) {
        struct sts_key k = cur->keys[i];
        if (k.retired == 0)
            k.retired = now;
        if (now - k.retired > e->max_duration + STS_KEY_PUBLISH_S)
            continue; /* no token sealed with it can still be valid (it may have minted for
                         STS_KEY_PUBLISH_S after its retirement) */
        next->keys[next->n++] = k;
    }
    if (key_generate(&next->keys[next->n], now) != 0)
        return TS_E_INTERNAL;
    memcpy(e->kid, next->keys[next->n].kid, sizeof e->kid);
    next->n++;
    return TS_OK;
}

static int ring_edit_fn(const void *old, size_t oldlen, void *arg, void **out, size_t *outlen)
{
    struct ring_edit *e = arg;
    struct sts_keyring cur = {0}, next = {0};
    int rc = TS_OK;

    if (old != NULL && !e->rotate)
        return TS_OK; /* a ring exists: nothing to write */
    if (old != NULL)
        rc = ring_parse(old, oldlen, &cur);
    if (rc == TS_OK)
        rc = ring_next(&cur, e, &next);
    if (rc == TS_OK) {
        char *text = ring_dump(&next);
        *out = text;
        *outlen = text != NULL ? strlen(text) : 0;
        rc = text != NULL ? TS_OK : TS_E_INTERNAL;
    }
    sts_keyring_free(&cur);
    sts_keyring_free(&next);
    return rc;
}

/* Reads the ring from the store into *out, with the store generation it was read at. */
static int ring_read(struct sts_ctx *c, struct sts_keyring *out, uint64_t *gen)
{
    void *data = NULL;
    size_t len = 0;
    int rc;

    *gen = iam_store_generation(c->st);
    rc = iam_blob_get(c->st, STS_KEYS_BLOB, &data, &len, NULL);
    if (rc != TS_OK)
        return rc;
    rc = ring_parse(data, len, out);
    OPENSSL_cleanse(data, len);
    free(data);
    return rc;
}

int sts_keys_load(struct sts_ctx *c)
{
    struct sts_keyring r = {0}, old;
    struct ring_edit e = {.rotate = false};
    uint64_t gen;
    int rc = ring_read(c, &r, &gen);

    if (rc == TS_E_NO_SUCH_ENTITY) {
        /* First start: one active key, created only if no process created one meanwhile. */
        rc = iam_blob_update(c->st, STS_KEYS_BLOB, ring_edit_fn, &e);
        if (rc == TS_OK)
            rc = ring_read(c, &r, &gen);
    }
    if (rc != TS_OK)
        return rc == TS_E_NO_SUCH_ENTITY ? TS_E_INTERNAL : rc;
    pthread_rwlock_wrlock(&c->lock);
    old = c->ring;
    c->ring = r;
    c->ring_gen = gen;
    pthread_rwlock_unlock(&c->lock);
    sts_keyring_free(&old);
    return TS_OK;
}

int sts_rotate_key(struct sts_ctx *c, char kid_out[32])
{
    struct ring_edit e = {.rotate = true, .max_duration = c->cfg.max_duration};
    int rc = iam_blob_update(c->st, STS_KEYS_BLOB, ring_edit_fn, &e);

    if (rc != TS_OK)
        return rc;
    snprintf(kid_out, 32, "%s", e.kid); /* audited by the caller (admin sts.rotate_key) */
    return sts_keys_load(c);
}

/* The key a node mints with (seals with): the newest key created at least
 * STS_KEY_PUBLISH_S ago, else the oldest one (a first ring, or rotations in quick
 * succession). A new key thus verifies on every node the change has reached before any node
 * seals with it. */
static size_t ring_mint_index(const struct sts_keyring *r, time_t now)
{
    for (size_t i = r->n; i > 0; i--)
        if (r->keys[i - 1].created <= now - STS_KEY_PUBLISH_S)
            return i - 1;
    return 0;
}

/* Copies the key with this kid (or the minting one, kid NULL) out under the read lock.
 * Reloads the ring when the store changed since the last load (another node may have
 * rotated): before minting, and when a kid is unknown. Returns 0 or -1. */
static int key_find(struct sts_ctx *c, const char *kid, struct sts_key *out)
{
    if (kid == NULL) {
        /* Minting: follow rotations made by other nodes, so that we never seal with a key
         * that the shared ring already retired (it would be pruned too early). */
        bool stale;
        pthread_rwlock_rdlock(&c->lock);
        stale = c->ring_gen != iam_store_generation(c->st);
        pthread_rwlock_unlock(&c->lock);
        if (stale)
            (void)sts_keys_load(c); /* on failure keep the ring we have */
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        int found = 0, stale;
        size_t mint;
        pthread_rwlock_rdlock(&c->lock);
        mint = ring_mint_index(&c->ring, enc_now());
        for (size_t i = 0; i < c->ring.n && !found; i++) {
            const struct sts_key *k = &c->ring.keys[i];
            if (kid == NULL ? i == mint : memcmp(k->kid, kid, STS_KID_LEN) == 0) {
                *out = *k;
                found = 1;
            }
        }
        stale = c->ring_gen != iam_store_generation(c->st);
        pthread_rwlock_unlock(&c->lock);
        if (found)
            return 0;
        if (attempt > 0 || !stale || sts_keys_load(c) != TS_OK)
            break;
    }
    return -1;
}

size_t sts_key_ids(struct sts_ctx *c, char ids[][STS_KID_LEN + 1], size_t max,
                   char mint[STS_KID_LEN + 1])
{
    size_t n = 0;
    bool stale;

    pthread_rwlock_rdlock(&c->lock);
    stale = c->ring_gen != iam_store_generation(c->st);
    pthread_rwlock_unlock(&c->lock);
    if (stale)
        (void)sts_keys_load(c); /* on failure report the ring we have */
    pthread_rwlock_rdlock(&c->lock);
    for (; n < c->ring.n && n < max; n++)
        memcpy(ids[n], c->ring.keys[n].kid, STS_KID_LEN + 1);
    if (mint != NULL) {
        mint[0] = '\0';
        if (c->ring.n > 0)
            memcpy(mint, c->ring.keys[ring_mint_index(&c->ring, enc_now())].kid, STS_KID_LEN + 1);
    }
    pthread_rwlock_unlock(&c->lock);
    return n;
}

/* ---- access keys and secrets ---- */

int sts_new_access_key(char out[21])
{
    return enc_random_chars(out, 20, ak_alphabet, sizeof ak_alphabet - 1);
}

static int access_key_valid(const char *ak)
{
    if (strlen(ak) != 20)
        return 0;
    for (size_t i = 0; i < 20; i++)
        if (strchr(ak_alphabet, ak[i]) == NULL || ak[i] == '\0')
            return 0;
    return 1;
}

static int derive_secret(const struct sts_key *k, const char *ak, const char *token, size_t len,
                         char secret[41])
{
    uint8_t msg[20 + 32], mac[32];
    char *b64;
    memcpy(msg, ak, 20);
    enc_sha256(token, len, msg + 20);
    enc_hmac_sha256(k->derive, sizeof k->derive, msg, sizeof msg, mac);
    b64 = enc_b64(mac, sizeof mac);
    OPENSSL_cleanse(mac, sizeof mac);
    if (b64 == NULL)
        return -1;
    memcpy(secret, b64, 40);
    secret[40] = '\0';
    enc_secret_free(b64);
    return 0;
}

/* ---- payload ---- */

void sts_token_cleanup(struct sts_token *t)
{
    if (t == NULL)
        return;
    free(t->parent);
    free(t->username);
    free(t->source);
    enc_secret_free(t->session_policy);
    free(t->session_name);
    free(t->role_arn);
    free(t->role);
    iam_strv_free(&t->policies);
    iam_strv_free(&t->session_policies);
    http_kv_free(t->claims, t->nclaims);
    memset(t, 0, sizeof *t);
}

static int set_opt(json_t *o, const char *k, const char *v)
{
    if (v == NULL)
        return 0;
    return json_object_set_new(o, k, json_string(v));
}

/* Adds one value of a claim to the claims object: the first value as a string, the next ones
 * turn it into an array (in order). Returns 0 or -1. */
static int claim_put(json_t *cl, const char *key, const char *value)
{
    json_t *cur, *v;

    if (key == NULL || value == NULL || (v = json_string(value)) == NULL)
        return -1;
    cur = json_object_get(cl, key);
    if (cur == NULL)
        return json_object_set_new(cl, key, v);
    if (json_is_string(cur)) {
        json_t *a = json_array();
        if (a == NULL || json_array_append(a, cur) != 0 || json_object_set_new(cl, key, a) != 0) {
            json_decref(a);
            json_decref(v);
            return -1;
        }
        cur = a;
    }
    return json_array_append_new(cur, v);
}

/* Sets o[k] to the array of sv's strings, when it has any. Returns 0 or -1. */
static int strv_encode(json_t *o, const char *k, const struct iam_strv *sv)
{
    json_t *a;

    if (sv->n == 0)
        return 0;
    if ((a = json_array()) == NULL || json_object_set_new(o, k, a) != 0)
        return -1;
    for (size_t i = 0; i < sv->n; i++)
        if (json_array_append_new(a, json_string(sv->v[i])) != 0)
            return -1;
    return 0;
}

/* Reads the array of strings v (absent: none) into *sv. Returns 0 or -1 (not an array of
 * strings, OOM). */
static int strv_decode(const json_t *v, struct iam_strv *sv)
{
    size_t i;
    json_t *it;

    if (v == NULL)
        return 0;
    if (!json_is_array(v))
        return -1;
    sv->v = calloc(json_array_size(v) + 1, sizeof *sv->v);
    if (sv->v == NULL)
        return -1;
    json_array_foreach(v, i, it)
    {
        if (!json_is_string(it) || (sv->v[i] = strdup(json_string_value(it))) == NULL)
            return -1;
        sv->n++;
    }
    return 0;
}

static char *payload_encode(const struct sts_token *t)
{
    json_t *o =
        json_pack("{s:s, s:I, s:I, s:s, s:s}", "a", t->access_key, "i", (json_int_t)t->issued, "e",
                  (json_int_t)t->expires, "p", t->parent, "s", t->source);
    char *text = NULL;
    if (o == NULL)
        return NULL;
    /* "it" only when it lies in the second "i" (else the token reads as issued at its start) */
    if (t->issued_ns / 1000000000 == (int64_t)t->issued && t->issued_ns > 0 &&
        json_object_set_new(o, "it", json_integer((json_int_t)t->issued_ns)) != 0)
        goto fail;
    if (set_opt(o, "u", t->username) || set_opt(o, "sp", t->session_policy) ||
        set_opt(o, "n", t->session_name) || set_opt(o, "r", t->role_arn) ||
        set_opt(o, "ro", t->role))
        goto fail;
    if (strv_encode(o, "m", &t->policies) != 0 || strv_encode(o, "sm", &t->session_policies) != 0)
        goto fail;
    if (t->nclaims > 0) {
        json_t *cl = json_object();
        if (cl == NULL || json_object_set_new(o, "c", cl) != 0)
            goto fail;
        for (size_t i = 0; i < t->nclaims; i++)
            if (claim_put(cl, t->claims[i].key, t->claims[i].value) != 0)
                goto fail;
    }
    text = json_dumps(o, JSON_COMPACT);
fail:
    json_decref(o);
    return text;
}

static char *dup_opt(json_t *o, const char *k, int *bad)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL)
        return NULL;
    if (!json_is_string(v)) {
        *bad = 1;
        return NULL;
    }
    char *s = strdup(json_string_value(v));
    if (s == NULL)
        *bad = 1;
    return s;
}

/* The issue time in ns from "it" (v, may be NULL: a token sealed before it existed) and the
 * issue second. TS_OK or TS_E_INVALID_TOKEN ("it" not an integer within that second). */
static int issued_ns_decode(json_t *v, time_t issued, int64_t *ns)
{
    const int64_t sec = 1000000000;
    json_int_t x;

    if (issued < 0 || (int64_t)issued > INT64_MAX / sec - 1)
        return TS_E_INVALID_TOKEN;
    if (v == NULL) {
        *ns = (int64_t)issued * sec;
        return TS_OK;
    }
    if (!json_is_integer(v))
        return TS_E_INVALID_TOKEN;
    x = json_integer_value(v);
    if (x < (int64_t)issued * sec || x >= ((int64_t)issued + 1) * sec)
        return TS_E_INVALID_TOKEN;
    *ns = x;
    return TS_OK;
}

/* Decodes the claims object v (NULL: none) into t->claims: a string is one value, an array
 * of strings several (in order). Returns 0, or -1 (malformed, out of memory; what was
 * decoded stays in t for sts_token_cleanup). */
static int claims_decode(json_t *v, struct sts_token *t)
{
    const char *k;
    json_t *it, *e;
    size_t total = 0, j;

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return -1;
    json_object_foreach(v, k, it)
    {
        if (json_is_string(it))
            total++;
        else if (json_is_array(it) && json_array_size(it) > 0)
            total += json_array_size(it);
        else
            return -1;
    }
    t->claims = calloc(total + 1, sizeof *t->claims);
    if (t->claims == NULL)
        return -1;
    json_object_foreach(v, k, it)
    {
        size_t nv = json_is_string(it) ? 1 : json_array_size(it);
        for (j = 0; j < nv; j++) {
            e = json_is_string(it) ? it : json_array_get(it, j);
            if (!json_is_string(e))
                return -1;
            t->claims[t->nclaims].key = strdup(k);
            t->claims[t->nclaims].value = strdup(json_string_value(e));
            t->nclaims++;
            if (t->claims[t->nclaims - 1].key == NULL || t->claims[t->nclaims - 1].value == NULL)
                return -1;
        }
    }
    return 0;
}

static int payload_decode(const uint8_t *p, size_t n, struct sts_token *out)
{
    json_t *o = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
    struct sts_token t = {0};
    int bad = 0, rc = TS_E_INVALID_TOKEN;
    json_t *v;

    if (!json_is_object(o))
        goto fail;
    v = json_object_get(o, "a");
    if (!json_is_string(v) || !access_key_valid(json_string_value(v)))
        goto fail;
    memcpy(t.access_key, json_string_value(v), 21);
    v = json_object_get(o, "i");
    if (!json_is_integer(v))
        goto fail;
    t.issued = (time_t)json_integer_value(v);
    if (issued_ns_decode(json_object_get(o, "it"), t.issued, &t.issued_ns) != TS_OK)
        goto fail;
    v = json_object_get(o, "e");
    if (!json_is_integer(v))
        goto fail;
    t.expires = (time_t)json_integer_value(v);
    t.parent = dup_opt(o, "p", &bad);
    t.source = dup_opt(o, "s", &bad);
    t.username = dup_opt(o, "u", &bad);
    t.session_policy = dup_opt(o, "sp", &bad);
    t.session_name = dup_opt(o, "n", &bad);
    t.role_arn = dup_opt(o, "r", &bad);
    t.role = dup_opt(o, "ro", &bad);
    if (bad || t.parent == NULL || t.source == NULL)
        goto fail;
    if (strv_decode(json_object_get(o, "m"), &t.policies) != 0 ||
        strv_decode(json_object_get(o, "sm"), &t.session_policies) != 0)
        goto fail;
    if (claims_decode(json_object_get(o, "c"), &t) != 0)
        goto fail;
    *out = t;
    memset(&t, 0, sizeof t);
    rc = TS_OK;
fail:
    sts_token_cleanup(&t);
    json_decref(o);
    return rc;
}

/* ---- seal / unseal ----
 *
 * Both records are hdr | nonce (12) | AES-256-GCM ciphertext | tag (16); the AAD is the
 * label (blobs only) then hdr. */

/* Draws the nonce and encrypts in (n bytes) into raw after the hlen-byte header already
 * there. Returns 0 or -1. */
static int gcm_seal(const uint8_t key[32], const char *label, uint8_t *raw, size_t hlen,
                    const void *in, size_t n)
{
    uint8_t *nonce = raw + hlen, *ct = nonce + NONCE_LEN;
    EVP_CIPHER_CTX *ev = NULL;
    int len, ok;

    if (enc_random(nonce, NONCE_LEN) != 0 || (ev = EVP_CIPHER_CTX_new()) == NULL)
        return -1;
    ok = EVP_EncryptInit_ex(ev, enc_cipher_aes256gcm(), NULL, key, nonce) == 1 &&
         (label == NULL ||
          EVP_EncryptUpdate(ev, NULL, &len, (const uint8_t *)label, (int)strlen(label)) == 1) &&
         EVP_EncryptUpdate(ev, NULL, &len, raw, (int)hlen) == 1 &&
         EVP_EncryptUpdate(ev, ct, &len, in, (int)n) == 1 && (size_t)len == n &&
         EVP_EncryptFinal_ex(ev, ct + n, &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ev, EVP_CTRL_GCM_GET_TAG, TAG_LEN, ct + n) == 1;
    EVP_CIPHER_CTX_free(ev);
    return ok ? 0 : -1;
}

/* Decrypts and authenticates the clen-byte ciphertext of raw (after its hlen-byte header)
 * into plain. TS_OK, TS_E_INTERNAL, or TS_E_INVALID_TOKEN (tampered or wrong key). */
static int gcm_open(const uint8_t key[32], const char *label, uint8_t *raw, size_t hlen,
                    size_t clen, uint8_t *plain)
{
    uint8_t *nonce = raw + hlen, *ct = nonce + NONCE_LEN;
    EVP_CIPHER_CTX *ev = EVP_CIPHER_CTX_new();
    int olen, ok;

    if (ev == NULL)
        return TS_E_INTERNAL;
    ok = EVP_DecryptInit_ex(ev, enc_cipher_aes256gcm(), NULL, key, nonce) == 1 &&
         (label == NULL ||
          EVP_DecryptUpdate(ev, NULL, &olen, (const uint8_t *)label, (int)strlen(label)) == 1) &&
         EVP_DecryptUpdate(ev, NULL, &olen, raw, (int)hlen) == 1 &&
         EVP_DecryptUpdate(ev, plain, &olen, ct, (int)clen) == 1 &&
         EVP_CIPHER_CTX_ctrl(ev, EVP_CTRL_GCM_SET_TAG, TAG_LEN, ct + clen) == 1 &&
         EVP_DecryptFinal_ex(ev, plain + olen, &olen) == 1;
    EVP_CIPHER_CTX_free(ev);
    return ok ? TS_OK : TS_E_INVALID_TOKEN;
}

int sts_seal(struct sts_ctx *c, const struct sts_token *t, char **token, char secret[41])
{
    struct sts_key k;
    char *plain = NULL, *text = NULL;
    uint8_t *raw = NULL;
    size_t plen, rawlen;
    int rc = TS_E_INTERNAL;

    if (key_find(c, NULL, &k) != 0)
        return TS_E_INTERNAL;
    plain = payload_encode(t);
    if (plain == NULL)
        goto fail;
    plen = strlen(plain);
    rawlen = MIN_RAW + plen;
    raw = malloc(rawlen);
    if (raw == NULL)
        goto fail;
    raw[0] = STS_TOKEN_VERSION;
    memcpy(raw + 1, k.kid, STS_KID_LEN);
    if (gcm_seal(k.seal, NULL, raw, HDR_LEN, plain, plen) != 0)
        goto fail;
    text = enc_b64url(raw, rawlen);
    if (text == NULL || derive_secret(&k, t->access_key, text, strlen(text), secret) != 0)
        goto fail;
    *token = text;
    text = NULL;
    rc = TS_OK;
fail:
    enc_secret_free(plain);
    free(raw);
    free(text);
    OPENSSL_cleanse(&k, sizeof k);
    return rc;
}

int sts_unseal(struct sts_ctx *c, const char *token, size_t len, time_t now, struct sts_token *out,
               char secret[41])
{
    struct sts_key k;
    struct sts_token t = {0};
    uint8_t *raw = NULL, *plain = NULL;
    size_t clen = 0;
    long rawlen;
    int rc = TS_E_INVALID_TOKEN;
    char kid[STS_KID_LEN + 1];

    memset(&k, 0, sizeof k);
    if (token == NULL || len > STS_MAX_TOKEN_LEN)
        return TS_E_INVALID_TOKEN;
    rawlen = enc_unb64url(token, len, &raw);
    if (rawlen < MIN_RAW + 2 || raw[0] != STS_TOKEN_VERSION)
        goto fail;
    memcpy(kid, raw + 1, STS_KID_LEN);
    kid[STS_KID_LEN] = '\0';
    if (!kid_valid(kid) || key_find(c, kid, &k) != 0)
        goto fail;
    clen = (size_t)rawlen - MIN_RAW;
    plain = malloc(clen + 1);
    if (plain == NULL) {
        rc = TS_E_INTERNAL;
        goto fail;
    }
    rc = gcm_open(k.seal, NULL, raw, HDR_LEN, clen, plain);
    if (rc != TS_OK)
        goto fail; /* tampered or wrong key */
    plain[clen] = '\0';
    rc = payload_decode(plain, clen, &t);
    if (rc != TS_OK)
        goto fail;
    if (now >= t.expires) {
        rc = TS_E_EXPIRED_TOKEN;
        goto fail;
    }
    if (derive_secret(&k, t.access_key, token, len, secret) != 0) {
        rc = TS_E_INTERNAL;
        goto fail;
    }
    *out = t;
    memset(&t, 0, sizeof t);
    rc = TS_OK;
fail:
    if (plain != NULL) {
        OPENSSL_cleanse(plain, clen + 1);
        free(plain);
    }
    free(raw);
    sts_token_cleanup(&t);
    OPENSSL_cleanse(&k, sizeof k);
    return rc;
}

/* ---- small sealed blobs for other sts/ features (the browser login cookie) ----
 *
 * kid (8) | nonce (12) | AES-256-GCM ciphertext | tag (16), base64url; the key is
 * HMAC-SHA256(master, label) and the AAD is label + kid, so a blob sealed for one purpose
 * never opens for another (nor as a session token, which uses a different key). */

#define BLOB_HDR STS_KID_LEN
#define BLOB_MIN (BLOB_HDR + NONCE_LEN + TAG_LEN)

static void blob_key(const struct sts_key *k, const char *label, uint8_t out[32])
{
    enc_hmac_sha256(k->master, sizeof k->master, label, strlen(label), out);
}

int sts_seal_blob(struct sts_ctx *c, const char *label, const void *in, size_t n, char **out)
{
    struct sts_key k;
    uint8_t key[32], *raw = NULL;
    size_t rawlen = BLOB_MIN + n;
    int rc = TS_E_INTERNAL;

    if (n > STS_MAX_TOKEN_LEN || key_find(c, NULL, &k) != 0)
        return TS_E_INTERNAL;
    blob_key(&k, label, key);
    raw = malloc(rawlen);
    if (raw == NULL)
        goto fail;
    memcpy(raw, k.kid, STS_KID_LEN);
    if (gcm_seal(key, label, raw, BLOB_HDR, in, n) != 0)
        goto fail;
    *out = enc_b64url(raw, rawlen);
    rc = *out != NULL ? TS_OK : TS_E_INTERNAL;
fail:
    if (raw != NULL) {
        OPENSSL_cleanse(raw, rawlen);
        free(raw);
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(&k, sizeof k);
    return rc;
}

int sts_open_blob(struct sts_ctx *c, const char *label, const char *in, size_t len, char **out,
                  size_t *n)
{
    struct sts_key k;
    uint8_t key[32], *raw = NULL;
    char *plain = NULL, kid[STS_KID_LEN + 1];
    size_t clen = 0;
    long rawlen;
    int rc = TS_E_INVALID_TOKEN;

    memset(&k, 0, sizeof k);
    memset(key, 0, sizeof key);
    if (in == NULL || len > 2 * STS_MAX_TOKEN_LEN)
        return TS_E_INVALID_TOKEN;
    rawlen = enc_unb64url(in, len, &raw);
    if (rawlen < BLOB_MIN)
        goto fail;
    memcpy(kid, raw, STS_KID_LEN);
    kid[STS_KID_LEN] = '\0';
    if (!kid_valid(kid) || key_find(c, kid, &k) != 0)
        goto fail;
    blob_key(&k, label, key);
    clen = (size_t)rawlen - BLOB_MIN;
    plain = malloc(clen + 1);
    if (plain == NULL) {
        rc = TS_E_INTERNAL;
        goto fail;
    }
    rc = gcm_open(key, label, raw, BLOB_HDR, clen, (uint8_t *)plain);
    if (rc != TS_OK)
        goto fail;
    plain[clen] = '\0';
    *out = plain;
    *n = clen;
    plain = NULL;
    rc = TS_OK;
fail:
    if (plain != NULL) {
        OPENSSL_cleanse(plain, clen + 1);
        free(plain);
    }
    if (raw != NULL) {
        OPENSSL_cleanse(raw, (size_t)(rawlen > 0 ? rawlen : 0));
        free(raw);
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(&k, sizeof k);
    return rc;
}

/* ---- service-account secrets (sts/svcacct.c) ----
 *
 * A service account's secret must be recoverable (SigV4 verifies with it), so it is sealed,
 * not hashed: AES-256-GCM under HMAC-SHA256(svc master, "tessera-svcacct-seal-v1"), AAD the
 * label and the account's access key, so a sealed secret opens only for its own account.
 * Stored: "1" | nonce (12) | ciphertext | tag (16), base64url. The 32-byte svc master key is
 * the IAM-store blob STS_SVC_KEY_BLOB ({"key": base64}), created once by whichever process
 * needs it first (iam_blob_update: no two masters). It is separate from the token keyring:
 * token keys are dropped after rotation, service accounts live on. */

#define SVC_SEAL_LABEL "tessera-svcacct-seal-v1"
#define SVC_SEAL_VERSION '1'
#define SVC_SECRET_MAX 40

static int svc_key_edit(const void *old, size_t oldlen, void *arg, void **out, size_t *outlen)
{
    uint8_t raw[32];
    char *b64;
    json_t *j;

    (void)oldlen;
    (void)arg;
    if (old != NULL)
        return TS_OK; /* there is one: keep it */
    if (enc_random(raw, sizeof raw) != 0 || (b64 = enc_b64(raw, sizeof raw)) == NULL) {
        OPENSSL_cleanse(raw, sizeof raw);
        return TS_E_INTERNAL;
    }
    OPENSSL_cleanse(raw, sizeof raw);
    j = json_pack("{s:s}", "key", b64);
    *out = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    *outlen = *out != NULL ? strlen(*out) : 0;
    json_decref(j);
    enc_secret_free(b64);
    return *out != NULL ? TS_OK : TS_E_INTERNAL;
}

/* The sealing key of service-account secrets into key, creating the master when create. */
static int svc_key(struct sts_ctx *c, bool create, uint8_t key[32])
{
    static const char label[] = SVC_SEAL_LABEL;
    void *data = NULL;
    size_t len = 0;
    uint8_t raw[64];
    int rc = iam_blob_get(c->st, STS_SVC_KEY_BLOB, &data, &len, NULL);
    json_t *j;
    const char *b64;

    if (rc == TS_E_NO_SUCH_ENTITY && create) {
        rc = iam_blob_update(c->st, STS_SVC_KEY_BLOB, svc_key_edit, NULL);
        if (rc == TS_OK)
            rc = iam_blob_get(c->st, STS_SVC_KEY_BLOB, &data, &len, NULL);
    }
    if (rc != TS_OK)
        return rc == TS_E_NO_SUCH_ENTITY ? TS_E_INVALID_TOKEN : rc;
    j = json_loadb(data, len, 0, NULL);
    b64 = json_string_value(json_object_get(j, "key"));
    rc = b64 != NULL && strlen(b64) == 44 && enc_unb64(b64, 44, raw) == 32 ? TS_OK : TS_E_INTERNAL;
    if (rc == TS_OK)
        enc_hmac_sha256(raw, 32, label, sizeof label - 1, key);
    OPENSSL_cleanse(raw, sizeof raw);
    if (b64 != NULL)
        OPENSSL_cleanse((char *)b64, strlen(b64));
    json_decref(j);
    OPENSSL_cleanse(data, len);
    free(data);
    return rc;
}

/* The AAD label of access key ak into out. */
static void svc_label(const char *ak, char out[KV_KEY_MAX + 32])
{
    snprintf(out, KV_KEY_MAX + 32, "%s:%s", SVC_SEAL_LABEL, ak);
}

int sts_svc_seal(struct sts_ctx *c, const char *ak, const char *secret, char **out)
{
    uint8_t key[32], raw[1 + NONCE_LEN + SVC_SECRET_MAX + TAG_LEN];
    char label[KV_KEY_MAX + 32];
    size_t n = strlen(secret);
    int rc;

    if (n > SVC_SECRET_MAX || strlen(ak) > KV_KEY_MAX)
        return TS_E_INVALID_ARGUMENT;
    rc = svc_key(c, true, key);
    if (rc != TS_OK)
        return rc;
    svc_label(ak, label);
    raw[0] = SVC_SEAL_VERSION;
    rc = gcm_seal(key, label, raw, 1, secret, n) == 0 ? TS_OK : TS_E_INTERNAL;
    if (rc == TS_OK && (*out = enc_b64url(raw, 1 + NONCE_LEN + n + TAG_LEN)) == NULL)
        rc = TS_E_INTERNAL;
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(key, sizeof key);
    return rc;
}

int sts_svc_open(struct sts_ctx *c, const char *ak, const char *sealed, char secret[41])
{
    uint8_t key[32], *raw = NULL;
    char label[KV_KEY_MAX + 32];
    long rawlen = sealed != NULL && strlen(ak) <= KV_KEY_MAX
                      ? enc_unb64url(sealed, strlen(sealed), &raw)
                      : -1;
    size_t clen;
    int rc = TS_E_INVALID_TOKEN;

    secret[0] = '\0';
    if (rawlen < 1 + NONCE_LEN + TAG_LEN + 1 || raw[0] != SVC_SEAL_VERSION ||
        (clen = (size_t)rawlen - 1 - NONCE_LEN - TAG_LEN) > SVC_SECRET_MAX)
        goto out;
    rc = svc_key(c, false, key);
    if (rc != TS_OK)
        goto out;
    svc_label(ak, label);
    rc = gcm_open(key, label, raw, 1, clen, (uint8_t *)secret);
    if (rc != TS_OK)
        OPENSSL_cleanse(secret, SVC_SECRET_MAX + 1);
    secret[rc == TS_OK ? clen : 0] = '\0';
    OPENSSL_cleanse(key, sizeof key);
out:
    if (raw != NULL) {
        OPENSSL_cleanse(raw, (size_t)rawlen);
        free(raw);
    }
    return rc;
}
