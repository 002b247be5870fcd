/* sse.c -- SSE-S3: the master key, the chunked AES-256-GCM cipher of encrypted data files,
 * the encrypting side of a writer and the plaintext reader of a data file (obj_int.h has the
 * construction).
 *
 * Master key: TESSERA_KMS_SECRET_KEY ("name:base64", MinIO's MINIO_KMS_SECRET_KEY form), else
 * DATA_DIR/.tessera/sse.key in that same form, created 0600 on the first start (written to a
 * temporary file, fsynced, renamed, the directory fsynced) and refused when others may read
 * it. Only the key-encryption key derived from it stays in memory.
 */
#include "objstore/obj_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/cfg.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"

#define SSE_AAD "tessera-sse-v1"
#define SSE_KEK_LABEL "tessera-sse-kek-v1"
#define SSE_SEAL_AAD "tessera-sse-key-v1"
#define SSE_SEAL_VERSION 1
#define SSE_DK 32 /* data key */
#define SSE_IV 12
#define SSE_NONCE 12
#define SSE_SEALED (1 + SSE_NONCE + SSE_DK + SSE_IV + 16)
#define SSE_BATCH 16 /* chunks written per write() */
#define SSE_DEFAULT_NAME "tessera-sse"

/* ---- the master key ---- */

/* "name:base64(32 bytes)" into name and key: 0, or -1. */
static int key_parse(const char *s, char name[64], uint8_t key[32])
{
    const char *colon = strchr(s, ':');
    uint8_t raw[64];
    if (colon == NULL || colon == s || (size_t)(colon - s) >= 64)
        return -1;
    for (const char *p = s; p < colon; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return -1;
    size_t bl = strcspn(colon + 1, "\r\n");
    if (bl == 0 || bl > 48 || enc_unb64(colon + 1, bl, raw) != 32) {
        OPENSSL_cleanse(raw, sizeof raw);
        return -1;
    }
    memcpy(key, raw, 32);
    OPENSSL_cleanse(raw, sizeof raw);
    snprintf(name, 64, "%.*s", (int)(colon - s), s);
    return 0;
}

/* A new key stored in path (0600): 0 with *text (malloc'ed "name:base64"), or -1. */
static int key_create(const char *dir, const char *path, char **text)
{
    uint8_t key[32];
    char tmp[PATH_MAX + 8];
    if (enc_random(key, sizeof key) != 0)
        return -1;
    char *b64 = enc_b64(key, sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    size_t n = b64 ? strlen(SSE_DEFAULT_NAME) + strlen(b64) + 3 : 0;
    *text = b64 ? malloc(n) : NULL;
    if (*text == NULL) {
        enc_secret_free(b64);
        return -1;
    }
    snprintf(*text, n, "%s:%s\n", SSE_DEFAULT_NAME, b64);
    enc_secret_free(b64);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    size_t len = strlen(*text);
    bool ok = fd >= 0 && write(fd, *text, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0 || obj_int_fsync_dir(dir) != 0) {
        fprintf(stderr, "tessera: cannot store the SSE master key in %s: %s\n", path,
                strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The key file's text: read (refused when group or others may read it), or created. */
static int key_file(const char *dir, char **text)
{
    char path[PATH_MAX];
    struct stat sb;
    snprintf(path, sizeof path, "%s/sse.key", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return key_create(dir, path, text);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "tessera: cannot read the SSE master key %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if ((sb.st_mode & 077) != 0 || sb.st_size > 1024) {
        fprintf(stderr,
                "tessera: the SSE master key %s may be read by others (or is not a key file): "
                "chmod 600 it\n",
                path);
        close(fd);
        return -1;
    }
    *text = calloc(1, (size_t)sb.st_size + 1);
    ssize_t got = *text ? read(fd, *text, (size_t)sb.st_size) : -1;
    close(fd);
    if (got != sb.st_size) {
        free(*text);
        *text = NULL;
        fprintf(stderr, "tessera: cannot read the SSE master key %s\n", path);
        return -1;
    }
    return 0;
}

int obj_sse_init(struct obj_store *st)
{
    const char *cfg = cfg_str(CFG_KMS_SECRET_KEY);
    char *text = NULL;
    uint8_t master[32];
    if (cfg == NULL && key_file(st->root, &text) != 0)
        return TS_E_INTERNAL;
    int rc = key_parse(cfg ? cfg : text, st->sse_key_name, master);
    enc_secret_free(text);
    if (rc != 0) {
        fprintf(stderr, "tessera: %s: expected NAME:BASE64 of a 32-byte key\n",
                cfg ? cfg_source(CFG_KMS_SECRET_KEY) : "DATA_DIR/.tessera/sse.key");
        return TS_E_INTERNAL;
    }
    enc_hmac_sha256(master, sizeof master, SSE_KEK_LABEL, sizeof SSE_KEK_LABEL - 1, st->sse_kek);
    OPENSSL_cleanse(master, sizeof master);
    st->sse_ready = true;
    return TS_OK;
}

/* ---- one-shot AES-256-GCM (sealing data keys) ---- */

static int gcm(bool encrypt, const uint8_t key[32], const uint8_t nonce[SSE_NONCE],
               const void *aad1, size_t a1, const void *aad2, size_t a2, const uint8_t *in,
               size_t n, uint8_t *out, uint8_t tag[16])
{
    EVP_CIPHER_CTX *ev = EVP_CIPHER_CTX_new();
    int len = 0, ok = ev != NULL;
    if (encrypt) {
        ok = ok && EVP_EncryptInit_ex(ev, enc_cipher_aes256gcm(), NULL, key, nonce) == 1 &&
             EVP_EncryptUpdate(ev, NULL, &len, aad1, (int)a1) == 1 &&
             EVP_EncryptUpdate(ev, NULL, &len, aad2, (int)a2) == 1 &&
             EVP_EncryptUpdate(ev, out, &len, in, (int)n) == 1 &&
             EVP_EncryptFinal_ex(ev, out + len, &len) == 1 &&
             EVP_CIPHER_CTX_ctrl(ev, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
    } else {
        ok = ok && EVP_DecryptInit_ex(ev, enc_cipher_aes256gcm(), NULL, key, nonce) == 1 &&
             EVP_DecryptUpdate(ev, NULL, &len, aad1, (int)a1) == 1 &&
             EVP_DecryptUpdate(ev, NULL, &len, aad2, (int)a2) == 1 &&
             EVP_DecryptUpdate(ev, out, &len, in, (int)n) == 1 &&
             EVP_CIPHER_CTX_ctrl(ev, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
             EVP_DecryptFinal_ex(ev, out + len, &len) == 1;
    }
    EVP_CIPHER_CTX_free(ev);
    return ok ? 0 : -1;
}

/* The data key and IV sealed under the store's key-encryption key, base64 (malloc'ed). */
static char *key_seal(const struct obj_store *st, const uint8_t dk[SSE_DK + SSE_IV])
{
    uint8_t raw[SSE_SEALED];
    raw[0] = SSE_SEAL_VERSION;
    if (enc_random(raw + 1, SSE_NONCE) != 0 ||
        gcm(true, st->sse_kek, raw + 1, SSE_SEAL_AAD, sizeof SSE_SEAL_AAD - 1, st->sse_key_name,
            strlen(st->sse_key_name), dk, SSE_DK + SSE_IV, raw + 1 + SSE_NONCE,
            raw + 1 + SSE_NONCE + SSE_DK + SSE_IV) != 0)
        return NULL;
    return enc_b64(raw, sizeof raw);
}

/* The data key and IV of a sealed key (base64): 0, or -1 (not ours, or damaged). */
static int key_open(const struct obj_store *st, const char *b64, uint8_t dk[SSE_DK + SSE_IV])
{
    uint8_t raw[3 * ((SSE_SEALED + 2) / 3) + 3];
    size_t n = strlen(b64);
    if (!st->sse_ready || n > 4 * ((SSE_SEALED + 2) / 3) || enc_unb64(b64, n, raw) != SSE_SEALED ||
        raw[0] != SSE_SEAL_VERSION)
        return -1;
    return gcm(false, st->sse_kek, raw + 1, SSE_SEAL_AAD, sizeof SSE_SEAL_AAD - 1, st->sse_key_name,
               strlen(st->sse_key_name), raw + 1 + SSE_NONCE, SSE_DK + SSE_IV, dk,
               raw + 1 + SSE_NONCE + SSE_DK + SSE_IV);
}

/* ---- the chunk cipher ---- */

void *obj_sse_ctx_new(const uint8_t key[32], bool encrypt)
{
    EVP_CIPHER_CTX *ev = EVP_CIPHER_CTX_new();
    int ok = ev != NULL &&
             (encrypt ? EVP_EncryptInit_ex(ev, enc_cipher_aes256gcm(), NULL, key, NULL)
                      : EVP_DecryptInit_ex(ev, enc_cipher_aes256gcm(), NULL, key, NULL)) == 1;
    if (!ok) {
        EVP_CIPHER_CTX_free(ev);
        return NULL;
    }
    return ev;
}

void obj_sse_ctx_free(void *ctx)
{
    EVP_CIPHER_CTX_free(ctx);
}

/* The nonce and additional data of chunk idx. */
static void chunk_params(const uint8_t iv[12], uint64_t idx, bool final, uint8_t nonce[12],
                         uint8_t aad[sizeof SSE_AAD - 1 + 9])
{
    memcpy(nonce, iv, 12);
    memcpy(aad, SSE_AAD, sizeof SSE_AAD - 1);
    for (int i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(idx >> (56 - 8 * i));
        nonce[4 + i] ^= b;
        aad[sizeof SSE_AAD - 1 + i] = b;
    }
    aad[sizeof SSE_AAD - 1 + 8] = final ? 1 : 0;
}

int obj_sse_seal_chunk(void *ctx, const uint8_t iv[12], uint64_t idx, bool final, const uint8_t *in,
                       size_t n, uint8_t *out)
{
    uint8_t nonce[12], aad[sizeof SSE_AAD - 1 + 9];
    int len;
    if (n > OBJ_SSE_CHUNK)
        return -1;
    chunk_params(iv, idx, final, nonce, aad);
    int ok = EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1 &&
             EVP_EncryptUpdate(ctx, NULL, &len, aad, sizeof aad) == 1 &&
             EVP_EncryptUpdate(ctx, out, &len, in, (int)n) == 1 &&
             EVP_EncryptFinal_ex(ctx, out + n, &len) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, OBJ_SSE_TAG, out + n) == 1;
    return ok ? 0 : -1;
}

int obj_sse_open_chunk(void *ctx, const uint8_t iv[12], uint64_t idx, bool final, const uint8_t *in,
                       size_t clen, uint8_t *out)
{
    uint8_t nonce[12], aad[sizeof SSE_AAD - 1 + 9];
    int len;
    if (clen < OBJ_SSE_TAG || clen - OBJ_SSE_TAG > OBJ_SSE_CHUNK)
        return -1;
    size_t n = clen - OBJ_SSE_TAG;
    chunk_params(iv, idx, final, nonce, aad);
    int ok = EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1 &&
             EVP_DecryptUpdate(ctx, NULL, &len, aad, sizeof aad) == 1 &&
             EVP_DecryptUpdate(ctx, out, &len, in, (int)n) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, OBJ_SSE_TAG, (void *)(in + n)) == 1 &&
             EVP_DecryptFinal_ex(ctx, out + len, &len) == 1;
    return ok ? 0 : -1;
}

/* ---- the encrypting side of a writer ---- */

struct obj_sse_enc {
    void *ctx;
    uint8_t iv[SSE_IV];
    uint64_t idx;  /* the next chunk's index */
    uint8_t *pbuf; /* plaintext of the chunk being filled */
    size_t plen;   /* its bytes */
    uint8_t *obuf; /* sealed chunks waiting for one write() */
    size_t olen;   /* bytes in obuf */
    char *sealed;  /* the data key and IV, sealed (base64) */
};

int obj_sse_enc_new(struct obj_store *st, struct obj_sse_enc **out)
{
    uint8_t dk[SSE_DK + SSE_IV];
    struct obj_sse_enc *e = calloc(1, sizeof *e);
    *out = NULL;
    if (e == NULL)
        return TS_E_INTERNAL;
    if (!st->sse_ready || enc_random(dk, sizeof dk) != 0)
        goto fail;
    memcpy(e->iv, dk + SSE_DK, SSE_IV);
    e->ctx = obj_sse_ctx_new(dk, true);
    e->sealed = key_seal(st, dk);
    OPENSSL_cleanse(dk, sizeof dk);
    e->pbuf = malloc(OBJ_SSE_CHUNK);
    e->obuf = malloc(SSE_BATCH * (size_t)(OBJ_SSE_CHUNK + OBJ_SSE_TAG));
    if (e->ctx == NULL || e->sealed == NULL || e->pbuf == NULL || e->obuf == NULL)
        goto fail;
    *out = e;
    return TS_OK;
fail:
    obj_sse_enc_free(e);
    return TS_E_INTERNAL;
}

const char *obj_sse_enc_sealed(const struct obj_sse_enc *e)
{
    return e->sealed;
}

static int enc_flush(struct obj_sse_enc *e, int fd)
{
    int rc = obj_int_write_all(fd, e->obuf, e->olen);
    e->olen = 0;
    return rc;
}

/* Seals n plaintext bytes at p as the next chunk into obuf (written when full). */
static int enc_chunk(struct obj_sse_enc *e, int fd, const uint8_t *p, size_t n, bool final)
{
    if (e->olen + OBJ_SSE_CHUNK + OBJ_SSE_TAG > SSE_BATCH * (size_t)(OBJ_SSE_CHUNK + OBJ_SSE_TAG)) {
        int rc = enc_flush(e, fd);
        if (rc != TS_OK)
            return rc;
    }
    if (obj_sse_seal_chunk(e->ctx, e->iv, e->idx, final, p, n, e->obuf + e->olen) != 0)
        return TS_E_INTERNAL;
    e->idx++;
    e->olen += n + OBJ_SSE_TAG;
    return TS_OK;
}

/* A chunk is sealed once a byte after it arrives (only then is it known not to be the last):
 * a full pbuf waits; full chunks of p past it are sealed straight from p. */
int obj_sse_enc_write(struct obj_sse_enc *e, int fd, const uint8_t *p, size_t n)
{
    int rc = TS_OK;
    while (n > 0 && rc == TS_OK) {
        if (e->plen == OBJ_SSE_CHUNK) {
            rc = enc_chunk(e, fd, e->pbuf, e->plen, false);
            e->plen = 0;
        } else if (e->plen == 0 && n > OBJ_SSE_CHUNK) {
            rc = enc_chunk(e, fd, p, OBJ_SSE_CHUNK, false);
            p += OBJ_SSE_CHUNK;
            n -= OBJ_SSE_CHUNK;
        } else {
            size_t k = OBJ_SSE_CHUNK - e->plen < n ? OBJ_SSE_CHUNK - e->plen : n;
            memcpy(e->pbuf + e->plen, p, k);
            e->plen += k;
            p += k;
            n -= k;
        }
    }
    return rc;
}

int obj_sse_enc_finish(struct obj_sse_enc *e, int fd)
{
    int rc = TS_OK;
    if (e->plen > 0) /* an empty object has no chunk */
        rc = enc_chunk(e, fd, e->pbuf, e->plen, true);
    e->plen = 0;
    return rc == TS_OK ? enc_flush(e, fd) : rc;
}

void obj_sse_enc_free(struct obj_sse_enc *e)
{
    if (e == NULL)
        return;
    obj_sse_ctx_free(e->ctx);
    if (e->pbuf)
        OPENSSL_cleanse(e->pbuf, OBJ_SSE_CHUNK);
    free(e->pbuf);
    free(e->obuf);
    free(e->sealed);
    free(e);
}

/* ---- records ---- */

void obj_sse_meta_clear(struct obj_meta *m)
{
    size_t j = 0;
    for (size_t i = 0; i < m->nhdrs; i++) {
        if (strcasecmp(m->hdrs[i].key, OBJ_SSE_HDR) == 0 ||
            strcasecmp(m->hdrs[i].key, OBJ_SSE_KEY_HDR) == 0) {
            free(m->hdrs[i].key);
            free(m->hdrs[i].value);
            continue;
        }
        m->hdrs[j++] = m->hdrs[i];
    }
    m->nhdrs = j;
}

int obj_sse_meta_set(struct obj_meta *m, const struct obj_writer *w)
{
    const char *sealed = obj_writer_sealed_key(w);
    obj_sse_meta_clear(m);
    if (sealed == NULL)
        return TS_OK;
    if (obj_meta_add_hdr(m, OBJ_SSE_HDR, OBJ_SSE_ALGO) != TS_OK ||
        obj_meta_add_hdr(m, OBJ_SSE_KEY_HDR, sealed) != TS_OK)
        return TS_E_INTERNAL;
    return TS_OK;
}

bool obj_sse_meta_encrypted(const struct obj_meta *m)
{
    return obj_meta_hdr(m, OBJ_SSE_HDR) != NULL || obj_meta_hdr(m, OBJ_SSE_KEY_HDR) != NULL;
}

/* ---- the reader ---- */

struct obj_reader {
    int fd;
    uint64_t size;
    void *ctx; /* NULL: a plain file */
    uint8_t iv[SSE_IV];
    uint8_t *cbuf;   /* one sealed chunk */
    uint8_t *pbuf;   /* the plaintext of chunk cached */
    uint64_t cached; /* UINT64_MAX: none */
};

int obj_reader_new(struct obj_store *st, const struct obj_meta *m, int fd, struct obj_reader **out)
{
    struct obj_reader *rd = calloc(1, sizeof *rd);
    const char *sealed = obj_meta_hdr(m, OBJ_SSE_KEY_HDR);
    uint8_t dk[SSE_DK + SSE_IV];
    *out = NULL;
    if (rd == NULL) {
        close(fd);
        return TS_E_INTERNAL;
    }
    rd->fd = fd;
    rd->size = m->size;
    rd->cached = UINT64_MAX;
    if (sealed == NULL && obj_meta_hdr(m, OBJ_SSE_HDR) == NULL) {
        *out = rd;
        return TS_OK;
    }
    if (sealed == NULL || key_open(st, sealed, dk) != 0) {
        log_event(LOG_ERROR, "obj.sse",
                  "the data key of data file %s does not open with master key %s", m->id,
                  st->sse_key_name);
        obj_reader_free(rd);
        return TS_E_INTERNAL;
    }
    memcpy(rd->iv, dk + SSE_DK, SSE_IV);
    rd->ctx = obj_sse_ctx_new(dk, false);
    OPENSSL_cleanse(dk, sizeof dk);
    rd->cbuf = malloc(OBJ_SSE_CHUNK + OBJ_SSE_TAG);
    rd->pbuf = malloc(OBJ_SSE_CHUNK);
    if (rd->ctx == NULL || rd->cbuf == NULL || rd->pbuf == NULL) {
        obj_reader_free(rd);
        return TS_E_INTERNAL;
    }
    *out = rd;
    return TS_OK;
}

static int pread_all(int fd, uint8_t *buf, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t k = pread(fd, buf, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return TS_E_INTERNAL;
        buf += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return TS_OK;
}

/* Decrypts chunk idx (plen plaintext bytes) into out. */
static int read_chunk(struct obj_reader *rd, uint64_t idx, size_t plen, uint8_t *out)
{
    uint64_t nchunks = (rd->size + OBJ_SSE_CHUNK - 1) / OBJ_SSE_CHUNK;
    int rc = pread_all(rd->fd, rd->cbuf, plen + OBJ_SSE_TAG,
                       idx * (uint64_t)(OBJ_SSE_CHUNK + OBJ_SSE_TAG));
    if (rc == TS_OK && obj_sse_open_chunk(rd->ctx, rd->iv, idx, idx + 1 == nchunks, rd->cbuf,
                                          plen + OBJ_SSE_TAG, out) != 0)
        rc = TS_E_INTERNAL;
    if (rc != TS_OK)
        log_event(LOG_ERROR, "obj.sse", "chunk %llu of an encrypted data file %s",
                  (unsigned long long)idx, "is short or does not authenticate");
    return rc;
}

int obj_reader_read(struct obj_reader *rd, uint64_t off, void *buf, size_t n)
{
    uint8_t *o = buf;
    if (off > rd->size || n > rd->size - off)
        return TS_E_INTERNAL;
    if (rd->ctx == NULL)
        return pread_all(rd->fd, o, n, off);
    while (n > 0) {
        uint64_t idx = off / OBJ_SSE_CHUNK;
        size_t within = (size_t)(off % OBJ_SSE_CHUNK);
        uint64_t left = rd->size - idx * OBJ_SSE_CHUNK;
        size_t plen = left < OBJ_SSE_CHUNK ? (size_t)left : OBJ_SSE_CHUNK;
        size_t k = plen - within < n ? plen - within : n;
        if (rd->cached != idx && within == 0 && k == plen) { /* the whole chunk: in place */
            if (read_chunk(rd, idx, plen, o) != TS_OK)
                return TS_E_INTERNAL;
        } else {
            if (rd->cached != idx) {
                rd->cached = UINT64_MAX;
                if (read_chunk(rd, idx, plen, rd->pbuf) != TS_OK)
                    return TS_E_INTERNAL;
                rd->cached = idx;
            }
            memcpy(o, rd->pbuf + within, k);
        }
        o += k;
        off += k;
        n -= k;
    }
    return TS_OK;
}

bool obj_reader_encrypted(const struct obj_reader *rd)
{
    return rd->ctx != NULL;
}

int obj_reader_fd(const struct obj_reader *rd)
{
    return rd->fd;
}

int obj_reader_take_fd(struct obj_reader *rd)
{
    int fd = rd->fd;
    rd->fd = -1;
    return fd;
}

void obj_reader_free(struct obj_reader *rd)
{
    if (rd == NULL)
        return;
    if (rd->fd >= 0)
        close(rd->fd);
    obj_sse_ctx_free(rd->ctx);
    if (rd->pbuf)
        OPENSSL_cleanse(rd->pbuf, OBJ_SSE_CHUNK);
    free(rd->pbuf);
    free(rd->cbuf);
    free(rd);
}
