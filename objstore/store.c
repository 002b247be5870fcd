/* store.c -- the storage engine: LMDB environment, recovery on open, the durable data-file
 * write protocol, buckets, objects and bucket policies (see obj_int.h for the layout). */
#include "objstore/obj_int.h"
#include "objstore/acl.h"
#include "objstore/lc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "policy/pol.h"

#define LMDB_MAXKEY 511

/* ---- paths and data files ---- */

int obj_data_path(const struct obj_store *st, const char *id, char *out, size_t outlen)
{
    /* ids are written by new_id(); one read back from a damaged record is refused here
     * rather than turned into a path (obj_check_upload_id is the same 32-hex-digit rule). */
    if (outlen == 0 || obj_check_upload_id(id) != TS_OK)
        return TS_E_INTERNAL;
    int n = snprintf(out, outlen, "%s/%.2s/%.2s/%s", st->objdir, id, id + 2, id);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = 0;
        return TS_E_INTERNAL;
    }
    return TS_OK;
}

void obj_data_unlink(const struct obj_store *st, const char *id)
{
    char path[PATH_MAX];
    if (id == NULL || id[0] == 0)
        return;
    if (obj_data_path(st, id, path, sizeof path) == TS_OK)
        unlink(path);
}

int obj_int_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* mkdir that tolerates EEXIST; fsyncs parent when it created the directory. */
static int mkdir_durable(const char *path, const char *parent)
{
    if (mkdir(path, 0700) == 0)
        return parent ? obj_int_fsync_dir(parent) : 0;
    return errno == EEXIST ? 0 : -1;
}

struct obj_writer {
    struct obj_store *st;
    int fd;
    char id[OBJ_ID_LEN + 1];
    char tmp[PATH_MAX];
    EVP_MD_CTX *md5;
    bool md5_valid, finished, committed;
    uint64_t size;           /* plaintext bytes */
    struct obj_sse_enc *sse; /* encrypting (obj_writer_encrypt), else NULL */
};

static void new_id(char out[OBJ_ID_LEN + 1])
{
    uint8_t raw[16];
    enc_random(raw, sizeof raw);
    enc_hex(raw, sizeof raw, out);
}

int obj_writer_new(struct obj_store *st, struct obj_writer **out)
{
    struct obj_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return TS_E_INTERNAL;
    w->st = st;
    w->fd = -1;
    new_id(w->id);
    int pl = snprintf(w->tmp, sizeof w->tmp, "%s/%s", st->tmpdir, w->id);
    if (pl < 0 || (size_t)pl >= sizeof w->tmp) {
        free(w);
        return TS_E_INTERNAL;
    }
    w->md5 = EVP_MD_CTX_new();
    if (w->md5 == NULL || EVP_DigestInit_ex(w->md5, enc_md_md5(), NULL) != 1)
        goto fail;
    w->md5_valid = true;
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        log_event(LOG_ERROR, "obj.write", "create %s: %s", w->tmp, strerror(errno));
        goto fail;
    }
    *out = w;
    return TS_OK;
fail:
    obj_writer_free(w);
    return TS_E_INTERNAL;
}

int obj_int_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return errno == ENOSPC || errno == EDQUOT ? TS_E_STORAGE_FULL : TS_E_INTERNAL;
        }
        p += k;
        n -= (size_t)k;
    }
    return TS_OK;
}

int obj_writer_write(struct obj_writer *w, const uint8_t *p, size_t n)
{
    if (n == 0)
        return TS_OK;
    if (w->md5_valid)
        EVP_DigestUpdate(w->md5, p, n);
    int rc = w->sse ? obj_sse_enc_write(w->sse, w->fd, p, n) : obj_int_write_all(w->fd, p, n);
    if (rc == TS_OK)
        w->size += n;
    return rc;
}

int obj_writer_encrypt(struct obj_writer *w)
{
    if (w->size != 0 || w->sse != NULL)
        return TS_E_INTERNAL;
    return obj_sse_enc_new(w->st, &w->sse);
}

bool obj_writer_encrypted(const struct obj_writer *w)
{
    return w->sse != NULL;
}

const char *obj_writer_sealed_key(const struct obj_writer *w)
{
    return w->sse ? obj_sse_enc_sealed(w->sse) : NULL;
}

/* Plain to plain without hashing: copy_file_range (in the kernel). 1 when it did not apply
 * (EXDEV, ENOSYS...): *off, *len tell what is left. */
static int copy_range(struct obj_writer *w, int fd, uint64_t *off, uint64_t *len)
{
    loff_t in = (loff_t)*off;
    while (*len) {
        ssize_t k = copy_file_range(fd, &in, w->fd, NULL, *len > (1u << 30) ? 1u << 30 : *len, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            *off = (uint64_t)in;
            return 1;
        }
        *len -= (uint64_t)k;
        w->size += (uint64_t)k;
    }
    return 0;
}

int obj_writer_copy(struct obj_writer *w, struct obj_reader *rd, uint64_t off, uint64_t len,
                    bool hash)
{
    if (!hash)
        w->md5_valid = false;
    if (!hash && w->sse == NULL && !obj_reader_encrypted(rd) &&
        copy_range(w, obj_reader_fd(rd), &off, &len) == 0)
        return TS_OK;
    size_t bsz = len < (1u << 20) ? (size_t)len : 1u << 20;
    uint8_t *buf = malloc(bsz ? bsz : 1);
    if (buf == NULL)
        return TS_E_INTERNAL;
    int rc = TS_OK;
    while (len && rc == TS_OK) {
        size_t k = len > bsz ? bsz : (size_t)len;
        rc = obj_reader_read(rd, off, buf, k);
        if (rc == TS_OK)
            rc = obj_writer_write(w, buf, k);
        off += k;
        len -= k;
    }
    free(buf);
    return rc;
}

uint64_t obj_writer_size(const struct obj_writer *w)
{
    return w->size;
}

const char *obj_writer_id(const struct obj_writer *w)
{
    return w->id;
}

int obj_writer_finish(struct obj_writer *w, uint8_t md5[16])
{
    char d1[PATH_MAX], d2[PATH_MAX], path[PATH_MAX];
    if (md5 && w->md5_valid) {
        unsigned int n = 16;
        EVP_DigestFinal_ex(w->md5, md5, &n);
        w->md5_valid = false;
    }
    if (w->sse != NULL) {
        int rc = obj_sse_enc_finish(w->sse, w->fd);
        if (rc != TS_OK)
            return rc;
    }
    if (fsync(w->fd) != 0)
        return TS_E_INTERNAL;
    close(w->fd);
    w->fd = -1;
    /* d1 and d2 are prefixes of path, whose length obj_data_path checks. */
    if (obj_data_path(w->st, w->id, path, sizeof path) != TS_OK)
        return TS_E_INTERNAL;
    snprintf(d1, sizeof d1, "%s/%.2s", w->st->objdir, w->id);
    snprintf(d2, sizeof d2, "%s/%.2s/%.2s", w->st->objdir, w->id, w->id + 2);
    if (mkdir_durable(d1, w->st->objdir) != 0 || mkdir_durable(d2, d1) != 0)
        return TS_E_INTERNAL;
    if (rename(w->tmp, path) != 0) {
        log_event(LOG_ERROR, "obj.write", "rename %s: %s", w->tmp, strerror(errno));
        return TS_E_INTERNAL;
    }
    w->finished = true;
    if (obj_int_fsync_dir(d2) != 0)
        return TS_E_INTERNAL;
    return TS_OK;
}

void obj_writer_committed(struct obj_writer *w)
{
    w->committed = true;
}

void obj_writer_free(struct obj_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (!w->finished)
        unlink(w->tmp);
    else if (!w->committed)
        obj_data_unlink(w->st, w->id);
    EVP_MD_CTX_free(w->md5);
    obj_sse_enc_free(w->sse);
    free(w);
}

void obj_store_sync(struct obj_store *st)
{
    mdb_env_sync(st->env, 1);
}

/* ---- object groups (see obj_int.h) ---- */

/* Builds the LMDB key of bucket/key into out (*outlen bytes): "bucket\0" + the key truncated
 * to what fits (see obj_int.h). The bound is checked here, whatever the caller checked: a
 * bucket name that obj_check_bucket refuses gives TS_E_INVALID_BUCKET_NAME and nothing is
 * written. */
static int okey(const char *bucket, const char *key, size_t klen, uint8_t out[LMDB_MAXKEY],
                size_t *outlen)
{
    _Static_assert(OBJ_MAX_BUCKET_LEN + 1 < LMDB_MAXKEY, "a bucket name and its NUL fit a key");
    *outlen = 0;
    if (obj_check_bucket(bucket) != TS_OK)
        return TS_E_INVALID_BUCKET_NAME;
    size_t bl = strlen(bucket);
    size_t room = LMDB_MAXKEY - bl - 1;
    if (klen > room)
        klen = room;
    memcpy(out, bucket, bl);
    out[bl] = 0;
    memcpy(out + bl + 1, key, klen);
    *outlen = bl + 1 + klen;
    return TS_OK;
}

/* okey for a stored object's name: the key must pass obj_check_key too. */
static int okey_object(const char *bucket, const char *key, uint8_t out[LMDB_MAXKEY],
                       size_t *outlen)
{
    int rc = obj_check_key(key);
    if (rc != TS_OK) {
        *outlen = 0;
        return rc;
    }
    return okey(bucket, key, strlen(key), out, outlen);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Walks one group entry at *p; returns 0, or -1 when corrupt. */
static int grp_entry(const uint8_t **p, const uint8_t *end, const char **key, size_t *klen,
                     const uint8_t **meta, size_t *mlen)
{
    if (end - *p < 4)
        return -1;
    *klen = rd32(*p);
    *p += 4;
    if ((size_t)(end - *p) < *klen + 4)
        return -1;
    *key = (const char *)*p;
    *p += *klen;
    *mlen = rd32(*p);
    *p += 4;
    if ((size_t)(end - *p) < *mlen)
        return -1;
    *meta = *p;
    *p += *mlen;
    return 0;
}

static int keycmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* Finds key in group value v. Returns 1 with meta decoded into *out (when out), 0 when
 * absent, <0 when corrupt. */
static int grp_find(const MDB_val *v, const char *key, size_t klen, struct obj_meta *out)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size, *meta;
    const char *k;
    size_t kl, ml;
    while (p < end) {
        if (grp_entry(&p, end, &k, &kl, &meta, &ml) != 0)
            return -1;
        if (kl == klen && memcmp(k, key, klen) == 0) {
            if (out && obj_meta_decode(meta, ml, out) != TS_OK)
                return -1;
            return 1;
        }
    }
    return 0;
}

/* Builds the group v with key set to meta (NULL removes it). *old gets the replaced
 * entry's data id ("" if none). Returns a malloc'ed value (*nlen 0 when the group is now
 * empty) or NULL on OOM/corruption. */
static uint8_t *grp_set(const MDB_val *v, const char *key, size_t klen, const void *meta,
                        size_t mlen, size_t *nlen, char old[OBJ_ID_LEN + 1])
{
    const uint8_t *p = v ? v->mv_data : NULL, *end = v ? p + v->mv_size : NULL, *m;
    size_t cap = (v ? v->mv_size : 0) + 8 + klen + mlen + 1;
    uint8_t *out = malloc(cap), *o = out;
    bool placed = false;
    const char *k;
    size_t kl, ml;
    old[0] = 0;
    if (out == NULL)
        return NULL;
    while (p && p < end) {
        const uint8_t *ent = p;
        if (grp_entry(&p, end, &k, &kl, &m, &ml) != 0) {
            free(out);
            return NULL;
        }
        int c = keycmp(k, kl, key, klen);
        if (c == 0) {
            struct obj_meta om;
            if (obj_meta_decode(m, ml, &om) == TS_OK) {
                memcpy(old, om.id, OBJ_ID_LEN + 1);
                obj_meta_cleanup(&om);
            }
            continue;
        }
        if (c > 0 && !placed && meta) {
            wr32(o, (uint32_t)klen);
            memcpy(o + 4, key, klen);
            wr32(o + 4 + klen, (uint32_t)mlen);
            memcpy(o + 8 + klen, meta, mlen);
            o += 8 + klen + mlen;
            placed = true;
        }
        memcpy(o, ent, (size_t)(p - ent));
        o += p - ent;
    }
    if (!placed && meta) {
        wr32(o, (uint32_t)klen);
        memcpy(o + 4, key, klen);
        wr32(o + 4 + klen, (uint32_t)mlen);
        memcpy(o + 8 + klen, meta, mlen);
        o += 8 + klen + mlen;
    }
    *nlen = (size_t)(o - out);
    return out;
}

int obj_iter_seek(struct obj_iter *it, MDB_txn *txn, struct obj_store *st, const char *bucket,
                  const char *from, size_t fromlen, bool exclusive)
{
    uint8_t kb[LMDB_MAXKEY];
    memset(it, 0, sizeof *it);
    it->bucket = bucket;
    it->blen = strlen(bucket);
    int rc = okey(bucket, from ? from : "", from ? fromlen : 0, kb, &it->k.mv_size);
    if (rc != TS_OK)
        return rc;
    if (mdb_cursor_open(txn, st->db_objects, &it->cur) != 0)
        return TS_E_INTERNAL;
    it->k.mv_data = kb;
    rc = mdb_cursor_get(it->cur, &it->k, &it->v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) {
        it->done = true;
        return TS_OK;
    }
    if (rc != 0)
        return TS_E_INTERNAL;
    it->ep = it->v.mv_data;
    it->eend = it->ep + it->v.mv_size;
    it->started = true;
    /* Skip entries of the first group that sort before from (truncated seek keys), keeping
     * the first one that does not as pending. */
    for (;;) {
        const char *k;
        size_t kl, ml;
        const uint8_t *m;
        int r = obj_iter_next(it, &k, &kl, &m, &ml);
        if (r < 0)
            return TS_E_INTERNAL;
        if (r == 0)
            return TS_OK;
        int c = from ? keycmp(k, kl, from, fromlen) : 1;
        if (c > 0 || (c == 0 && !exclusive)) {
            it->pk = k;
            it->pkl = kl;
            it->pm = m;
            it->pml = ml;
            it->pending = true;
            return TS_OK;
        }
    }
}

int obj_iter_next(struct obj_iter *it, const char **key, size_t *klen, const uint8_t **meta,
                  size_t *mlen)
{
    if (it->pending) {
        it->pending = false;
        *key = it->pk;
        *klen = it->pkl;
        *meta = it->pm;
        *mlen = it->pml;
        return 1;
    }
    for (;;) {
        if (it->done)
            return 0;
        if (it->k.mv_size < it->blen + 1 || memcmp(it->k.mv_data, it->bucket, it->blen) != 0 ||
            ((const uint8_t *)it->k.mv_data)[it->blen] != 0) {
            it->done = true;
            return 0;
        }
        if (it->ep < it->eend) {
            if (grp_entry(&it->ep, it->eend, key, klen, meta, mlen) != 0)
                return -1;
            return 1;
        }
        int rc = mdb_cursor_get(it->cur, &it->k, &it->v, MDB_NEXT);
        if (rc == MDB_NOTFOUND) {
            it->done = true;
            return 0;
        }
        if (rc != 0)
            return -1;
        it->ep = it->v.mv_data;
        it->eend = it->ep + it->v.mv_size;
    }
}

void obj_iter_close(struct obj_iter *it)
{
    if (it->cur)
        mdb_cursor_close(it->cur);
    it->cur = NULL;
}

/* ---- open / recovery ---- */

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, OBJ_ID_LEN);
}

int obj_idset_add(struct obj_idset *s, const char *id)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        void *nv = realloc(s->v, nc * OBJ_ID_LEN);
        if (nv == NULL)
            return -1;
        s->v = nv;
        s->cap = nc;
    }
    memcpy(s->v[s->n++], id, OBJ_ID_LEN);
    return 0;
}

/* Collects the data ids referenced by objects, versions and parts. */
static int referenced_ids(struct obj_store *st, struct obj_idset *s)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = TS_E_INTERNAL;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return TS_E_INTERNAL;
    if (mdb_cursor_open(txn, st->db_objects, &c) != 0)
        goto out;
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        const uint8_t *p = v.mv_data, *end = p + v.mv_size, *m;
        const char *key;
        size_t kl, ml;
        while (p < end && grp_entry(&p, end, &key, &kl, &m, &ml) == 0) {
            if (ml > 1 + 16 + OBJ_ID_LEN && obj_idset_add(s, (const char *)m + 17) != 0)
                goto out_c;
        }
    }
    mdb_cursor_close(c);
    if (mdb_cursor_open(txn, st->db_parts, &c) != 0)
        goto out;
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
        if (v.mv_size > 1 + 16 + OBJ_ID_LEN && obj_idset_add(s, (const char *)v.mv_data + 17) != 0)
            goto out_c;
    rc = obj_int_versions_ids(st, txn, s);
out_c:
    mdb_cursor_close(c);
out:
    mdb_txn_abort(txn);
    if (s->n)
        qsort(s->v, s->n, OBJ_ID_LEN, cmp_id);
    return rc;
}

/* The next entry of d that is not hidden (".", "..", dot files), or NULL at its end. */
static struct dirent *next_entry(DIR *d)
{
    struct dirent *e;
    while ((e = readdir(d)) != NULL && e->d_name[0] == '.')
        ;
    return e;
}

static void clean_dir_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX];
    if (d == NULL)
        return;
    while ((e = next_entry(d)) != NULL) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* Removes the files of the data directory dir whose ids are not in s; returns how many. */
static size_t collect_leaf(const char *dir, const struct obj_idset *s)
{
    size_t removed = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX + 512];
    if (d == NULL)
        return 0;
    while ((e = next_entry(d)) != NULL) {
        if (s->n && strlen(e->d_name) == OBJ_ID_LEN &&
            bsearch(e->d_name, s->v, s->n, OBJ_ID_LEN, cmp_id) != NULL)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

static size_t collect_garbage(struct obj_store *st, const struct obj_idset *s)
{
    size_t removed = 0;
    DIR *d1 = opendir(st->objdir);
    struct dirent *e1, *e2;
    char p1[PATH_MAX], p2[PATH_MAX + 256];
    if (d1 == NULL)
        return 0;
    while ((e1 = next_entry(d1)) != NULL) {
        snprintf(p1, sizeof p1, "%s/%s", st->objdir, e1->d_name);
        DIR *d2 = opendir(p1);
        if (d2 == NULL)
            continue;
        while ((e2 = next_entry(d2)) != NULL) {
            snprintf(p2, sizeof p2, "%s/%s", p1, e2->d_name);
            removed += collect_leaf(p2, s);
        }
        closedir(d2);
    }
    closedir(d1);
    return removed;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", a, b);
    return p;
}

int obj_store_open(const char *data_dir, struct obj_store **out)
{
    struct obj_store *st = calloc(1, sizeof *st);
    char *metadir = NULL;
    MDB_txn *txn = NULL;
    int rc;
    if (st == NULL)
        return TS_E_INTERNAL;
    pthread_rwlock_init(&st->pcache_lock, NULL);
    pthread_mutex_init(&st->rd_lock, NULL);
    pthread_mutex_init(&st->gc_lock, NULL);
    pthread_cond_init(&st->gc_done, NULL);
    st->gc_tail = &st->gc_head;
    snprintf(st->region, sizeof st->region, "us-east-1");
    mkdir(data_dir, 0700);
    st->root = path_join(data_dir, ".tessera");
    if (st->root == NULL)
        goto fail;
    st->objdir = path_join(st->root, "objects");
    st->tmpdir = path_join(st->root, "tmp");
    metadir = path_join(st->root, "meta");
    if (st->objdir == NULL || st->tmpdir == NULL || metadir == NULL)
        goto fail;
    if (mkdir_durable(st->root, data_dir) != 0 || mkdir_durable(st->objdir, st->root) != 0 ||
        mkdir_durable(st->tmpdir, st->root) != 0 || mkdir_durable(metadir, st->root) != 0) {
        fprintf(stderr, "tessera: cannot create %s: %s\n", st->root, strerror(errno));
        goto fail;
    }
    if (obj_sse_init(st) != TS_OK)
        goto fail;
    if (mdb_env_create(&st->env) != 0)
        goto fail;
    mdb_env_set_maxdbs(st->env, 16);
    mdb_env_set_mapsize(st->env, (size_t)32 << 30);
    mdb_env_set_maxreaders(st->env, 1024);
    rc = mdb_env_open(st->env, metadir, MDB_NOTLS | MDB_NOMETASYNC, 0600);
    if (rc != 0) {
        fprintf(stderr, "tessera: cannot open %s: %s\n", metadir, mdb_strerror(rc));
        goto fail;
    }
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0 ||
        mdb_dbi_open(txn, "buckets", MDB_CREATE, &st->db_buckets) != 0 ||
        mdb_dbi_open(txn, "objects", MDB_CREATE, &st->db_objects) != 0 ||
        mdb_dbi_open(txn, "uploads", MDB_CREATE, &st->db_uploads) != 0 ||
        mdb_dbi_open(txn, "parts", MDB_CREATE, &st->db_parts) != 0 ||
        mdb_dbi_open(txn, "policies", MDB_CREATE, &st->db_policies) != 0 ||
        mdb_dbi_open(txn, "completed", MDB_CREATE, &st->db_completed) != 0 ||
        mdb_dbi_open(txn, "bucket_conf", MDB_CREATE, &st->db_bconf) != 0 ||
        mdb_dbi_open(txn, "versions", MDB_CREATE, &st->db_versions) != 0 ||
        mdb_txn_commit(txn) != 0) {
        if (txn)
            mdb_txn_abort(txn);
        fprintf(stderr, "tessera: cannot open object metadata databases\n");
        goto fail;
    }
    mdb_env_sync(st->env, 1);
    /* Recovery: in-progress writes died with the process; data files that no metadata
     * points at were written but never committed (or replaced and not yet unlinked). */
    clean_dir_files(st->tmpdir);
    struct obj_idset ids = {0};
    if (referenced_ids(st, &ids) != TS_OK) {
        free(ids.v);
        fprintf(stderr, "tessera: cannot scan object metadata\n");
        goto fail;
    }
    size_t removed = collect_garbage(st, &ids);
    free(ids.v);
    if (removed)
        log_event(LOG_INFO, "obj.recovery", "removed %zu unreferenced data files", removed);
    free(metadir);
    *out = st;
    return TS_OK;
fail:
    free(metadir);
    obj_store_close(st);
    return TS_E_INTERNAL;
}

int obj_int_rd_begin(struct obj_store *st, MDB_txn **out)
{
    MDB_txn *t = NULL;
    pthread_mutex_lock(&st->rd_lock);
    if (st->rd_n > 0)
        t = st->rd_pool[--st->rd_n];
    pthread_mutex_unlock(&st->rd_lock);
    if (t != NULL) {
        if (mdb_txn_renew(t) == 0) {
            *out = t;
            return TS_OK;
        }
        mdb_txn_abort(t);
    }
    return mdb_txn_begin(st->env, NULL, MDB_RDONLY, out) == 0 ? TS_OK : TS_E_INTERNAL;
}

void obj_int_rd_end(struct obj_store *st, MDB_txn *txn)
{
    if (txn == NULL)
        return;
    mdb_txn_reset(txn);
    pthread_mutex_lock(&st->rd_lock);
    if (st->rd_n < sizeof st->rd_pool / sizeof *st->rd_pool) {
        st->rd_pool[st->rd_n++] = txn;
        txn = NULL;
    }
    pthread_mutex_unlock(&st->rd_lock);
    if (txn != NULL)
        mdb_txn_abort(txn);
}

void obj_store_close(struct obj_store *st)
{
    if (st == NULL)
        return;
    obj_policy_cache_free(st);
    for (size_t i = 0; i < st->rd_n; i++)
        mdb_txn_abort(st->rd_pool[i]);
    st->rd_n = 0;
    if (st->env)
        mdb_env_close(st->env);
    pthread_rwlock_destroy(&st->pcache_lock);
    pthread_mutex_destroy(&st->rd_lock);
    pthread_mutex_destroy(&st->gc_lock);
    pthread_cond_destroy(&st->gc_done);
    free(st->root);
    free(st->objdir);
    free(st->tmpdir);
    free(st);
}

/* ---- buckets ---- */

int obj_int_commit(struct obj_store *st, MDB_txn *txn)
{
    int rc = mdb_txn_commit(txn);
    if (rc != 0) {
        log_event(LOG_ERROR, "obj.meta", "commit: %s", mdb_strerror(rc));
        return rc == MDB_MAP_FULL ? TS_E_STORAGE_FULL : TS_E_INTERNAL;
    }
    obj_store_sync(st);
    return TS_OK;
}

/* Applies a batch in one write transaction, each op in its own nested transaction so that
 * a failing op rolls back alone, then commits and syncs once for all of them. */
static void gc_commit_batch(struct obj_store *st, struct obj_gc_op *batch)
{
    MDB_txn *txn, *child;
    bool any = false;
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0) {
        for (struct obj_gc_op *o = batch; o; o = o->next)
            o->rc = TS_E_INTERNAL;
        return;
    }
    for (struct obj_gc_op *o = batch; o; o = o->next) {
        if (mdb_txn_begin(st->env, txn, 0, &child) != 0) {
            o->rc = TS_E_INTERNAL;
            continue;
        }
        o->rc = o->apply(st, child, o->arg);
        if (o->rc != TS_OK)
            mdb_txn_abort(child);
        else if (mdb_txn_commit(child) != 0)
            o->rc = TS_E_INTERNAL;
        else
            any = true;
    }
    if (!any) {
        mdb_txn_abort(txn);
        return;
    }
    int rc = obj_int_commit(st, txn);
    for (struct obj_gc_op *o = batch; o; o = o->next)
        if (o->rc == TS_OK)
            o->rc = rc;
}

int obj_int_group_commit(struct obj_store *st, int (*apply)(struct obj_store *, MDB_txn *, void *),
                         void *arg)
{
    struct obj_gc_op op = {.apply = apply, .arg = arg, .rc = TS_OK};
    pthread_mutex_lock(&st->gc_lock);
    *st->gc_tail = &op;
    st->gc_tail = &op.next;
    while (!op.done && st->gc_busy)
        pthread_cond_wait(&st->gc_done, &st->gc_lock);
    if (op.done) {
        pthread_mutex_unlock(&st->gc_lock);
        return op.rc;
    }
    /* This thread leads: it commits everything queued so far, its own op among it. */
    struct obj_gc_op *batch = st->gc_head;
    st->gc_head = NULL;
    st->gc_tail = &st->gc_head;
    st->gc_busy = true;
    pthread_mutex_unlock(&st->gc_lock);
    gc_commit_batch(st, batch);
    pthread_mutex_lock(&st->gc_lock);
    for (struct obj_gc_op *o = batch, *next; o; o = next) {
        next = o->next;
        o->done = true;
    }
    st->gc_busy = false;
    pthread_cond_broadcast(&st->gc_done);
    pthread_mutex_unlock(&st->gc_lock);
    return op.rc;
}

int obj_int_bucket_exists_txn(struct obj_store *st, MDB_txn *txn, const char *name)
{
    int rc = obj_check_bucket(name);
    if (rc != TS_OK)
        return rc;
    MDB_val k = {strlen(name), (void *)name}, v;
    rc = mdb_get(txn, st->db_buckets, &k, &v);
    if (rc == MDB_NOTFOUND)
        return TS_E_NO_SUCH_BUCKET;
    return rc == 0 ? TS_OK : TS_E_INTERNAL;
}

int obj_int_wr_bucket(struct obj_store *st, const char *bucket, MDB_txn **txn)
{
    if (mdb_txn_begin(st->env, NULL, 0, txn) != 0)
        return TS_E_INTERNAL;
    int rc = obj_int_bucket_exists_txn(st, *txn, bucket);
    if (rc != TS_OK)
        mdb_txn_abort(*txn);
    return rc;
}

/* A bucket record: created (LE64), then the owner (absent in records from before owners were
 * kept: OBJ_OWNER_ROOT). */
static int bucket_decode(const MDB_val *v, int64_t *created, char **owner)
{
    const uint8_t *p = v->mv_data;
    uint64_t t = 0;
    if (v->mv_size < 8)
        return TS_E_INTERNAL;
    for (int i = 0; i < 8; i++)
        t |= (uint64_t)p[i] << (8 * i);
    *created = (int64_t)t;
    *owner = v->mv_size > 8 ? strndup((const char *)p + 8, v->mv_size - 8) : strdup(OBJ_OWNER_ROOT);
    return *owner != NULL ? TS_OK : TS_E_INTERNAL;
}

/* What CreateBucket of an existing bucket answers: whose it is. */
static int bucket_exists_error(struct obj_store *st, MDB_txn *txn, const char *name,
                               const char *owner)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int64_t created;
    char *have = NULL;
    if (mdb_get(txn, st->db_buckets, &k, &v) != 0 || bucket_decode(&v, &created, &have) != TS_OK)
        return TS_E_INTERNAL;
    int rc = strcmp(have, owner) == 0 ? TS_E_BUCKET_EXISTS : TS_E_BUCKET_TAKEN;
    free(have);
    return rc;
}

int obj_bucket_create_owned(struct obj_store *st, const char *name, const char *owner)
{
    return obj_bucket_create_with(st, name, owner, NULL, 0);
}

/* Puts the configurations conf[0..n) of bucket in txn. */
static int bconf_put_txn(struct obj_store *st, MDB_txn *txn, const char *bucket,
                         const struct obj_bconf_ent *conf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t kb[LMDB_MAXKEY];
        MDB_val k = {0, kb}, v = {conf[i].len, (void *)conf[i].val};
        int rc = okey(bucket, conf[i].name, strlen(conf[i].name), kb, &k.mv_size);
        if (rc != TS_OK)
            return rc;
        if ((rc = mdb_put(txn, st->db_bconf, &k, &v, 0)) != 0)
            return rc == MDB_MAP_FULL ? TS_E_STORAGE_FULL : TS_E_INTERNAL;
    }
    return TS_OK;
}

int obj_int_bconf_put_txn(struct obj_store *st, MDB_txn *txn, const char *bucket,
                          const struct obj_bconf_ent *conf, size_t n)
{
    return bconf_put_txn(st, txn, bucket, conf, n);
}

int obj_bucket_create_with(struct obj_store *st, const char *name, const char *owner,
                           const struct obj_bconf_ent *conf, size_t nconf)
{
    MDB_txn *txn;
    uint8_t val[8 + OBJ_MAX_OWNER_LEN];
    size_t olen = owner != NULL ? strlen(owner) : 0;
    if (!obj_bucket_name_valid(name))
        return TS_E_INVALID_BUCKET_NAME;
    if (olen == 0 || olen > OBJ_MAX_OWNER_LEN)
        return TS_E_INVALID_ARGUMENT;
    uint64_t now = (uint64_t)(int64_t)enc_now();
    for (int i = 0; i < 8; i++)
        val[i] = (uint8_t)(now >> (8 * i));
    memcpy(val + 8, owner, olen);
    MDB_val k = {strlen(name), (void *)name}, v = {8 + olen, val};
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
        return TS_E_INTERNAL;
    int rc = mdb_put(txn, st->db_buckets, &k, &v, MDB_NOOVERWRITE);
    if (rc != 0) {
        rc = rc == MDB_KEYEXIST ? bucket_exists_error(st, txn, name, owner) : TS_E_INTERNAL;
        mdb_txn_abort(txn);
        return rc;
    }
    /* Its ACL and ownership controls in the same transaction: never a bucket without them. */
    if ((rc = bconf_put_txn(st, txn, name, conf, nconf)) != TS_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = obj_int_commit(st, txn);
    obj_int_pcache_invalidate(st, name);
    return rc;
}

int obj_bucket_create(struct obj_store *st, const char *name)
{
    return obj_bucket_create_owned(st, name, OBJ_OWNER_ROOT);
}

int obj_bucket_owner(struct obj_store *st, const char *name, char **owner)
{
    MDB_txn *txn;
    MDB_val k = {strlen(name), (void *)name}, v;
    int64_t created;
    *owner = NULL;
    if (obj_check_bucket(name) != TS_OK)
        return TS_E_NO_SUCH_BUCKET;
    if (obj_int_rd_begin(st, &txn) != TS_OK)
        return TS_E_INTERNAL;
    int rc = mdb_get(txn, st->db_buckets, &k, &v);
    rc = rc == MDB_NOTFOUND ? TS_E_NO_SUCH_BUCKET
         : rc != 0          ? TS_E_INTERNAL
                            : bucket_decode(&v, &created, owner);
    obj_int_rd_end(st, txn);
    return rc;
}

int obj_bucket_exists(struct obj_store *st, const char *name)
{
    MDB_txn *txn;
    if (obj_int_rd_begin(st, &txn) != TS_OK)
        return TS_E_INTERNAL;
    int rc = obj_int_bucket_exists_txn(st, txn, name);
    obj_int_rd_end(st, txn);
    return rc;
}

/* Upload values: u32 bucket len, bucket, u32 key len, key, meta. */
int obj_int_upload_split(const MDB_val *v, const char **b, size_t *bl, const char **k, size_t *kl,
                         const uint8_t **m, size_t *ml)
{
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    if (end - p < 4)
        return -1;
    *bl = rd32(p);
    p += 4;
    if ((size_t)(end - p) < *bl + 4)
        return -1;
    *b = (const char *)p;
    p += *bl;
    *kl = rd32(p);
    p += 4;
    if ((size_t)(end - p) < *kl)
        return -1;
    *k = (const char *)p;
    p += *kl;
    *m = p;
    *ml = (size_t)(end - p);
    return 0;
}

/* Deletes the part records of upload_id in txn, adding their data ids to ids. */
int obj_int_parts_delete_txn(struct obj_store *st, MDB_txn *txn, const char *upload_id,
                             struct obj_idset *ids)
{
    MDB_cursor *c;
    MDB_val k = {OBJ_ID_LEN, (void *)upload_id}, v;
    uint32_t nums[OBJ_MAX_PARTS + 1];
    size_t n = 0;
    if (obj_check_upload_id(upload_id) != TS_OK)
        return TS_E_NO_SUCH_UPLOAD;
    if (mdb_cursor_open(txn, st->db_parts, &c) != 0)
        return TS_E_INTERNAL;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == OBJ_ID_LEN + 4 &&
           memcmp(k.mv_data, upload_id, OBJ_ID_LEN) == 0 && n <= OBJ_MAX_PARTS) {
        if (v.mv_size > 17 + OBJ_ID_LEN && ids)
            obj_idset_add(ids, (const char *)v.mv_data + 17);
        memcpy(&nums[n++], (const uint8_t *)k.mv_data + OBJ_ID_LEN, 4);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    for (size_t i = 0; i < n; i++) {
        uint8_t kb[OBJ_ID_LEN + 4];
        memcpy(kb, upload_id, OBJ_ID_LEN);
        memcpy(kb + OBJ_ID_LEN, &nums[i], 4);
        MDB_val dk = {sizeof kb, kb};
        if (mdb_del(txn, st->db_parts, &dk, NULL) != 0)
            return TS_E_INTERNAL;
    }
    return TS_OK;
}

void obj_idset_unlink(struct obj_store *st, const struct obj_idset *ids)
{
    char id[OBJ_ID_LEN + 1];
    for (size_t i = 0; i < ids->n; i++) {
        memcpy(id, ids->v[i], OBJ_ID_LEN);
        id[OBJ_ID_LEN] = 0;
        obj_data_unlink(st, id);
    }
}

/* ---- bucket configurations: "bucket\0name" -> bytes ---- */

/* Removes every configuration of bucket in txn. */
static int bconf_delete_all(struct obj_store *st, MDB_txn *txn, const char *bucket)
{
    uint8_t kb[LMDB_MAXKEY];
    MDB_val k = {0, kb}, v;
    MDB_cursor *cur;
    if (okey(bucket, "", 0, kb, &k.mv_size) != TS_OK ||
        mdb_cursor_open(txn, st->db_bconf, &cur) != 0)
        return TS_E_INTERNAL;
    size_t plen = k.mv_size;
    int g;
    for (;;) {
        k = (MDB_val){plen, kb};
        g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (g != 0 || k.mv_size < plen || memcmp(k.mv_data, kb, plen) != 0)
            break;
        if ((g = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return g == 0 || g == MDB_NOTFOUND ? TS_OK : TS_E_INTERNAL;
}

int obj_bconf_put(struct obj_store *st, const char *bucket, const char *name, const void *val,
                  size_t len)
{
    uint8_t kb[LMDB_MAXKEY];
    MDB_val k = {0, kb}, v = {len, (void *)val};
    MDB_txn *txn;
    int rc = okey(bucket, name, strlen(name), kb, &k.mv_size);
    if (rc == TS_OK)
        rc = obj_int_wr_bucket(st, bucket, &txn);
    if (rc != TS_OK)
        return rc;
    int g = val ? mdb_put(txn, st->db_bconf, &k, &v, 0) : mdb_del(txn, st->db_bconf, &k, NULL);
    if (g != 0 && (val != NULL || g != MDB_NOTFOUND)) {
        mdb_txn_abort(txn);
        return g == MDB_MAP_FULL ? TS_E_STORAGE_FULL : TS_E_INTERNAL;
    }
    rc = obj_int_commit(st, txn);
    obj_int_pcache_invalidate(st, bucket); /* the ACL, public access block, ownership it holds */
    return rc;
}

int obj_int_bconf_get_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *name,
                          MDB_val *v)
{
    uint8_t kb[LMDB_MAXKEY];
    MDB_val k = {0, kb};
    if (okey(bucket, name, strlen(name), kb, &k.mv_size) != TS_OK)
        return MDB_NOTFOUND;
    return mdb_get(txn, st->db_bconf, &k, v);
}

int obj_bconf_get(struct obj_store *st, const char *bucket, const char *name, void **out,
                  size_t *len)
{
    uint8_t kb[LMDB_MAXKEY];
    MDB_val k = {0, kb}, v;
    MDB_txn *txn;
    *out = NULL;
    *len = 0;
    int rc = okey(bucket, name, strlen(name), kb, &k.mv_size);
    if (rc != TS_OK || (rc = obj_int_rd_begin(st, &txn)) != TS_OK)
        return rc;
    rc = obj_int_bucket_exists_txn(st, txn, bucket);
    int g = rc == TS_OK ? mdb_get(txn, st->db_bconf, &k, &v) : MDB_NOTFOUND;
    if (rc == TS_OK && g == 0) {
        *out = malloc(v.mv_size ? v.mv_size : 1);
        if (*out == NULL)
            rc = TS_E_INTERNAL;
        else {
            memcpy(*out, v.mv_data, v.mv_size);
            *len = v.mv_size;
        }
    } else if (rc == TS_OK && g != MDB_NOTFOUND) {
        rc = TS_E_INTERNAL;
    }
    obj_int_rd_end(st, txn);
    return rc;
}

int obj_bucket_delete(struct obj_store *st, const char *name)
{
    MDB_txn *txn;
    struct obj_iter it;
    struct obj_idset ids = {0};
    const char *k;
    size_t kl, ml;
    const uint8_t *m;
    int rc = obj_int_wr_bucket(st, name, &txn);
    if (rc != TS_OK)
        return rc;
    rc = obj_iter_seek(&it, txn, st, name, NULL, 0, false);
    if (rc == TS_OK) {
        int r = obj_iter_next(&it, &k, &kl, &m, &ml);
        rc = r < 0 ? TS_E_INTERNAL : r > 0 ? TS_E_BUCKET_NOT_EMPTY : TS_OK;
    }
    obj_iter_close(&it);
    if (rc == TS_OK) { /* noncurrent versions and delete markers count too */
        int r = obj_int_versions_any_txn(st, txn, name);
        rc = r < 0 ? TS_E_INTERNAL : r > 0 ? TS_E_BUCKET_NOT_EMPTY : TS_OK;
    }
    if (rc != TS_OK)
        goto fail;
    /* Abort the bucket's pending multipart uploads. */
    MDB_cursor *c;
    MDB_val uk, uv;
    if (mdb_cursor_open(txn, st->db_uploads, &c) != 0) {
        rc = TS_E_INTERNAL;
        goto fail;
    }
    struct obj_idset uploads = {0};
    while (mdb_cursor_get(c, &uk, &uv, MDB_NEXT) == 0) {
        const char *b, *key;
        size_t bl, kl2, ml2;
        const uint8_t *m2;
        if (obj_int_upload_split(&uv, &b, &bl, &key, &kl2, &m2, &ml2) == 0 && bl == strlen(name) &&
            memcmp(b, name, bl) == 0 && uk.mv_size == OBJ_ID_LEN)
            obj_idset_add(&uploads, uk.mv_data);
    }
    mdb_cursor_close(c);
    for (size_t i = 0; i < uploads.n; i++) {
        MDB_val dk = {OBJ_ID_LEN, uploads.v[i]};
        mdb_del(txn, st->db_uploads, &dk, NULL);
        obj_int_parts_delete_txn(st, txn, uploads.v[i], &ids);
    }
    free(uploads.v);
    MDB_val bk = {strlen(name), (void *)name};
    mdb_del(txn, st->db_policies, &bk, NULL);
    if (bconf_delete_all(st, txn, name) != TS_OK) {
        rc = TS_E_INTERNAL;
        goto fail;
    }
    if (mdb_del(txn, st->db_buckets, &bk, NULL) != 0) {
        rc = TS_E_INTERNAL;
        goto fail;
    }
    rc = obj_int_commit(st, txn);
    obj_int_pcache_invalidate(st, name);
    if (rc == TS_OK)
        obj_idset_unlink(st, &ids);
    free(ids.v);
    return rc;
fail:
    mdb_txn_abort(txn);
    free(ids.v);
    return rc;
}

int obj_bucket_list(struct obj_store *st, struct obj_bucket_ent **out, size_t *n)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    struct obj_bucket_ent *vec = NULL;
    size_t cnt = 0;
    int rc = TS_OK;
    *out = NULL;
    *n = 0;
    if (obj_int_rd_begin(st, &txn) != TS_OK)
        return TS_E_INTERNAL;
    if (mdb_cursor_open(txn, st->db_buckets, &c) != 0) {
        obj_int_rd_end(st, txn);
        return TS_E_INTERNAL;
    }
    while (rc == TS_OK && mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        struct obj_bucket_ent *nv = realloc(vec, (cnt + 1) * sizeof *nv);
        if (nv == NULL) {
            rc = TS_E_INTERNAL;
            break;
        }
        vec = nv;
        memset(&vec[cnt], 0, sizeof vec[cnt]);
        vec[cnt].name = strndup(k.mv_data, k.mv_size);
        if (vec[cnt].name == NULL || bucket_decode(&v, &vec[cnt].created, &vec[cnt].owner) != TS_OK)
            rc = TS_E_INTERNAL;
        cnt++; /* freed with the rest on failure */
    }
    mdb_cursor_close(c);
    obj_int_rd_end(st, txn);
    if (rc != TS_OK) { /* never a partial list: fail closed */
        obj_bucket_list_free(vec, cnt);
        return rc;
    }
    *out = vec;
    *n = cnt;
    return TS_OK;
}

void obj_bucket_list_free(struct obj_bucket_ent *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].owner);
    }
    free(v);
}

/* ---- objects ---- */

int obj_int_object_put_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                           const void *enc, size_t elen, char old[OBJ_ID_LEN + 1])
{
    uint8_t kb[LMDB_MAXKEY], *nv;
    size_t klen = strlen(key), nlen;
    MDB_val k = {0, kb}, v;
    int g = okey_object(bucket, key, kb, &k.mv_size);
    if (g != TS_OK)
        return g;
    g = mdb_get(txn, st->db_objects, &k, &v);
    if (g != 0 && g != MDB_NOTFOUND)
        return TS_E_INTERNAL;
    nv = grp_set(g == 0 ? &v : NULL, key, klen, enc, elen, &nlen, old);
    if (nv == NULL)
        return TS_E_INTERNAL;
    v.mv_size = nlen;
    v.mv_data = nv;
    g = mdb_put(txn, st->db_objects, &k, &v, 0);
    free(nv);
    return g == 0 ? TS_OK : g == MDB_MAP_FULL ? TS_E_STORAGE_FULL : TS_E_INTERNAL;
}

struct put_arg {
    const char *bucket, *key;
    struct obj_meta *m;
    const struct obj_precond *pre;
    char old[OBJ_ID_LEN + 1];
};

/* The precondition is checked here, in the transaction that writes the record. */
static int object_put_apply(struct obj_store *st, MDB_txn *txn, void *arg)
{
    struct put_arg *a = arg;
    a->old[0] = 0;
    int rc = obj_int_bucket_exists_txn(st, txn, a->bucket);
    if (rc == TS_OK && a->pre != NULL)
        rc = obj_int_precond_txn(st, txn, a->bucket, a->key, a->pre);
    if (rc == TS_OK)
        rc = obj_int_object_write_txn(st, txn, a->bucket, a->key, a->m, a->old);
    return rc;
}

int obj_object_commit(struct obj_store *st, const char *bucket, const char *key,
                      struct obj_writer *w, struct obj_meta *m)
{
    return obj_object_commit_if(st, bucket, key, w, m, NULL);
}

int obj_object_commit_if(struct obj_store *st, const char *bucket, const char *key,
                         struct obj_writer *w, struct obj_meta *m, const struct obj_precond *pre)
{
    struct put_arg a = {.bucket = bucket, .key = key, .m = m, .pre = pre};
    memcpy(m->id, w->id, sizeof m->id);
    m->size = w->size;
    /* The record says what the file is: its SSE headers come from w, whatever m carried. */
    if (obj_sse_meta_set(m, w) != TS_OK)
        return TS_E_INTERNAL;
    int rc = obj_int_group_commit(st, object_put_apply, &a);
    if (rc == TS_OK) {
        obj_writer_committed(w);
        if (a.old[0] && strcmp(a.old, w->id) != 0)
            obj_data_unlink(st, a.old);
    }
    return rc;
}

static int object_head_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                           struct obj_meta *out)
{
    uint8_t kb[LMDB_MAXKEY];
    size_t klen = strlen(key);
    MDB_val k = {0, kb}, v;
    int rc = okey_object(bucket, key, kb, &k.mv_size);
    if (rc == TS_OK)
        rc = obj_int_bucket_exists_txn(st, txn, bucket);
    if (rc != TS_OK)
        return rc;
    int g = mdb_get(txn, st->db_objects, &k, &v);
    if (g == MDB_NOTFOUND)
        return TS_E_NO_SUCH_KEY;
    if (g != 0)
        return TS_E_INTERNAL;
    g = grp_find(&v, key, klen, out);
    return g < 0 ? TS_E_INTERNAL : g == 0 ? TS_E_NO_SUCH_KEY : TS_OK;
}

int obj_int_object_get_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                           struct obj_meta *out)
{
    uint8_t kb[LMDB_MAXKEY];
    MDB_val k = {0, kb}, v;
    int rc = okey_object(bucket, key, kb, &k.mv_size);
    if (rc != TS_OK)
        return rc;
    int g = mdb_get(txn, st->db_objects, &k, &v);
    if (g == MDB_NOTFOUND)
        return TS_E_NO_SUCH_KEY;
    if (g != 0)
        return TS_E_INTERNAL;
    g = grp_find(&v, key, strlen(key), out);
    return g < 0 ? TS_E_INTERNAL : g == 0 ? TS_E_NO_SUCH_KEY : TS_OK;
}

int obj_int_object_del_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                           char old[OBJ_ID_LEN + 1])
{
    uint8_t kb[LMDB_MAXKEY], *nv;
    size_t klen = strlen(key), nlen;
    MDB_val k = {0, kb}, v;
    old[0] = 0;
    int g = okey_object(bucket, key, kb, &k.mv_size);
    if (g != TS_OK)
        return g;
    g = mdb_get(txn, st->db_objects, &k, &v);
    if (g == MDB_NOTFOUND || (g == 0 && grp_find(&v, key, klen, NULL) == 0))
        return TS_OK;
    if (g != 0 || (nv = grp_set(&v, key, klen, NULL, 0, &nlen, old)) == NULL)
        return TS_E_INTERNAL;
    if (nlen == 0)
        g = mdb_del(txn, st->db_objects, &k, NULL);
    else {
        v.mv_size = nlen;
        v.mv_data = nv;
        g = mdb_put(txn, st->db_objects, &k, &v, 0);
    }
    free(nv);
    return g == 0 ? TS_OK : g == MDB_MAP_FULL ? TS_E_STORAGE_FULL : TS_E_INTERNAL;
}

/* ---- conditional writes ---- */

/* Whether If-Match value v names etag (stored without quotes): AWS accepts the ETag quoted,
 * unquoted, or with one of its quotes. */
static bool etag_matches(const char *v, const char *etag)
{
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '"')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n && v[n - 1] == '"')
        n--;
    return n == strlen(etag) && memcmp(v, etag, n) == 0;
}

int obj_precond_check(const struct obj_precond *p, const struct obj_meta *cur)
{
    if (p == NULL)
        return TS_OK;
    if (p->if_match != NULL) {
        if (cur == NULL)
            return p->seen ? TS_E_CONDITIONAL_CONFLICT : TS_E_NO_SUCH_KEY;
        if (!etag_matches(p->if_match, cur->etag))
            return TS_E_PRECONDITION_FAILED;
    }
    if (p->if_none_match_any && cur != NULL)
        return TS_E_PRECONDITION_FAILED;
    return TS_OK;
}

/* With versioning, the current version (a delete marker: absent) is what must be read here. */
int obj_int_precond_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                        const struct obj_precond *p)
{
    struct obj_meta cur;
    if (p == NULL)
        return TS_OK;
    int rc = object_head_txn(st, txn, bucket, key, &cur);
    if (rc == TS_E_NO_SUCH_KEY)
        return obj_precond_check(p, NULL);
    if (rc != TS_OK)
        return rc;
    rc = obj_precond_check(p, &cur);
    obj_meta_cleanup(&cur);
    return rc;
}

int obj_precond_early(struct obj_store *st, const char *bucket, const char *key,
                      struct obj_precond *p)
{
    MDB_txn *txn;
    if (p == NULL)
        return TS_OK;
    if (obj_int_rd_begin(st, &txn) != TS_OK)
        return TS_E_INTERNAL;
    p->seen = false;
    int rc = obj_int_precond_txn(st, txn, bucket, key, p);
    obj_int_rd_end(st, txn);
    p->seen = rc == TS_OK && p->if_match != NULL;
    return rc;
}

int obj_object_head(struct obj_store *st, const char *bucket, const char *key, struct obj_meta *out)
{
    MDB_txn *txn;
    if (obj_int_rd_begin(st, &txn) != TS_OK)
        return TS_E_INTERNAL;
    int rc = object_head_txn(st, txn, bucket, key, out);
    obj_int_rd_end(st, txn);
    return rc;
}

int obj_object_tags_set(struct obj_store *st, const char *bucket, const char *key,
                        const struct http_kv *tags, size_t n)
{
    return obj_version_tags_set(st, bucket, key, NULL, tags, n);
}

int obj_object_open(struct obj_store *st, const char *bucket, const char *key, struct obj_meta *out,
                    int *fd)
{
    return obj_version_open(st, bucket, key, NULL, out, fd);
}

int obj_object_delete(struct obj_store *st, const char *bucket, const char *key)
{
    struct obj_del_res res;
    return obj_object_delete_version(st, bucket, key, NULL, &res);
}

/* ---- bucket policies and their compiled cache ---- */

/* One bucket's access configuration as the authorizer asks it (struct pol_resource): the
 * compiled policy, the public access block, the bucket ACL; the ACL source reads an object's
 * ACL from its record only when asked (no policy allowed). */
struct obj_pcache {
    struct obj_pcache *next;
    char *bucket;
    struct obj_store *st;
    struct pol_doc *doc; /* NULL: the bucket has no policy */
    struct pol_resource res;
    uint32_t acl; /* the bucket's ACL (acl.h) */
    unsigned pab; /* OBJ_PAB_* */
    enum obj_ownership own;
    struct lc_conf *lc; /* the parsed lifecycle rules (NULL: none), for x-amz-expiration */
    atomic_int refs;
};

static atomic_uint_fast64_t pcache_gen_counter; /* bumped on every invalidation */

static unsigned pcache_hash(const char *s)
{
    unsigned h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h & 255;
}

void obj_policy_release(struct obj_pcache *e)
{
    if (e == NULL)
        return;
    if (atomic_fetch_sub(&e->refs, 1) == 1) {
        pol_doc_free(e->doc);
        if (e->lc != NULL)
            lc_conf_free(e->lc);
        free(e->lc);
        free(e->bucket);
        free(e);
    }
}

void obj_int_pcache_invalidate(struct obj_store *st, const char *bucket)
{
    unsigned h = pcache_hash(bucket);
    struct obj_pcache *victim = NULL;
    pthread_rwlock_wrlock(&st->pcache_lock);
    atomic_fetch_add(&pcache_gen_counter, 1);
    for (struct obj_pcache **pp = &st->pcache[h]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->bucket, bucket) == 0) {
            victim = *pp;
            *pp = victim->next;
            break;
        }
    }
    pthread_rwlock_unlock(&st->pcache_lock);
    obj_policy_release(victim);
}

void obj_policy_cache_free(struct obj_store *st)
{
    for (int i = 0; i < 256; i++) {
        struct obj_pcache *e = st->pcache[i];
        while (e) {
            struct obj_pcache *n = e->next;
            obj_policy_release(e);
            e = n;
        }
        st->pcache[i] = NULL;
    }
}

/* The ACL source of a bucket (pol_resource.acl): the group grants of the bucket's ACL or of
 * the object's -- of the version the request names (rq->version), else the current one -- for
 * the action asked. An object or version that cannot be read (a delete marker included) grants
 * nothing. */
static enum pol_decision access_acl(const void *ctx, const struct pol_request *rq)
{
    const struct obj_pcache *e = ctx;
    unsigned perm = 0;
    bool sig = rq->principal != NULL && rq->principal->type != POL_PRINCIPAL_ANONYMOUS;
    enum acl_on on = acl_action(rq->action, &perm);
    if (on == ACL_ON_BUCKET)
        return acl_allows(e->acl, perm, sig) ? POL_ALLOW : POL_IMPLICIT_DENY;
    size_t pl = strlen("arn:aws:s3:::") + strlen(e->bucket);
    if (on != ACL_ON_OBJECT || rq->resource == NULL ||
        strncmp(rq->resource, "arn:aws:s3:::", 13) != 0 ||
        strncmp(rq->resource + 13, e->bucket, pl - 13) != 0 || rq->resource[pl] != '/')
        return POL_IMPLICIT_DENY;
    struct obj_meta m;
    int rc = obj_version_head(e->st, e->bucket, rq->resource + pl + 1, rq->version, &m);
    if (rc == TS_E_METHOD_NOT_ALLOWED)
        obj_meta_cleanup(&m);
    if (rc != TS_OK)
        return POL_IMPLICIT_DENY; /* fail closed */
    bool ok = acl_allows(m.acl, perm, sig);
    obj_meta_cleanup(&m);
    return ok ? POL_ALLOW : POL_IMPLICIT_DENY;
}

/* One byte or u32 configuration of the bucket into *v (absent: unchanged). */
static int access_conf(struct obj_store *st, const char *bucket, const char *name, uint32_t *v)
{
    void *p = NULL;
    size_t len = 0;
    int rc = obj_bconf_get(st, bucket, name, &p, &len);
    if (rc == TS_OK && p != NULL) {
        const uint8_t *b = p;
        if (len == 1)
            *v = b[0];
        else if (len == 4)
            *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        else
            rc = TS_E_INTERNAL;
    }
    free(p);
    return rc;
}

/* Fills e's access configuration and its pol_resource. */
static int access_load(struct obj_store *st, const char *bucket, struct obj_pcache *e)
{
    uint32_t acl = 0, pab = 0, own = OBJ_OWN_NONE;
    int rc = access_conf(st, bucket, "acl", &acl);
    if (rc == TS_OK)
        rc = access_conf(st, bucket, "pab", &pab);
    if (rc == TS_OK)
        rc = access_conf(st, bucket, "ownership", &own);
    if (rc == TS_E_NO_SUCH_BUCKET)
        return rc;
    if (rc != TS_OK) {
        log_event(LOG_ERROR, "obj.policy", "cannot read the access configuration of %s: %s", bucket,
                  ts_err_code(rc));
        return TS_E_INTERNAL;
    }
    e->st = st;
    e->acl = acl;
    e->pab = pab;
    e->own = (enum obj_ownership)own;
    e->res.policy = e->doc;
    e->res.restrict_public = (pab & OBJ_PAB_RESTRICT_PUBLIC) && pol_doc_is_public(e->doc);
    /* ACLs decide nothing when disabled (BucketOwnerEnforced) or ignored (IgnorePublicAcls:
     * every grant the decisions count is public). */
    if (own != OBJ_OWN_ENFORCED && !(pab & OBJ_PAB_IGNORE_ACLS)) {
        e->res.acl = access_acl;
        e->res.acl_ctx = e;
    }
    return TS_OK;
}

/* Reads and parses the bucket's lifecycle configuration into *out (NULL: none). A stored
 * document that does not parse (it was written by lc_write) is logged and taken as none: the
 * rules only say what x-amz-expiration answers, never who may do what. */
static int lc_load(struct obj_store *st, const char *bucket, struct lc_conf **out)
{
    void *doc = NULL;
    size_t len = 0;
    char msg[256];
    *out = NULL;
    int rc = obj_bconf_get(st, bucket, LC_CONF, &doc, &len);
    if (rc != TS_OK || doc == NULL)
        return rc;
    struct lc_conf *c = malloc(sizeof *c);
    if (c == NULL)
        rc = TS_E_INTERNAL;
    else if (lc_parse(doc, len, c, msg, sizeof msg) != TS_OK) {
        log_event(LOG_ERROR, "obj.lifecycle", "stored lifecycle of %s does not parse: %s", bucket,
                  msg);
        free(c);
    } else {
        *out = c;
    }
    free(doc);
    return rc;
}

/* Reads and compiles the bucket's policy into *d (NULL: none). */
static int policy_load(struct obj_store *st, const char *bucket, struct pol_doc **d)
{
    char *json = NULL;
    size_t len = 0;
    int rc = obj_policy_get(st, bucket, &json, &len);
    *d = NULL;
    if (rc == TS_OK) {
        char err[256];
        if (pol_doc_parse(json, len, d, err, sizeof err) != TS_OK) {
            /* Fail closed: a policy that exists but cannot be used is an error for the
             * caller (a denial), never "no policy", which would drop its Deny statements. */
            log_event(LOG_ERROR, "obj.policy", "stored policy of %s does not parse: %s", bucket,
                      err);
            rc = TS_E_INTERNAL;
        }
    } else if (rc == TS_E_NO_SUCH_BUCKET_POLICY) {
        rc = TS_OK;
    } else if (rc != TS_E_NO_SUCH_BUCKET) {
        log_event(LOG_ERROR, "obj.policy", "cannot read the policy of %s: %s", bucket,
                  ts_err_code(rc));
    }
    free(json);
    return rc;
}

/* A cached entry of bucket with a reference taken, or NULL. */
static struct obj_pcache *pcache_find(struct obj_store *st, const char *bucket, unsigned h)
{
    struct obj_pcache *found = NULL;
    pthread_rwlock_rdlock(&st->pcache_lock);
    for (struct obj_pcache *e = st->pcache[h]; e && found == NULL; e = e->next) {
        if (strcmp(e->bucket, bucket) == 0) {
            atomic_fetch_add(&e->refs, 1);
            found = e;
        }
    }
    pthread_rwlock_unlock(&st->pcache_lock);
    return found;
}

int obj_access_acquire(struct obj_store *st, const char *bucket, const struct pol_resource **res,
                       struct obj_pcache **handle)
{
    unsigned h = pcache_hash(bucket);
    *res = NULL;
    if ((*handle = pcache_find(st, bucket, h)) != NULL) {
        *res = &(*handle)->res;
        return TS_OK;
    }
    /* Miss: load from LMDB, insert unless an invalidation happened meanwhile. */
    uint64_t gen = atomic_load(&pcache_gen_counter);
    struct obj_pcache *e = calloc(1, sizeof *e);
    if (e == NULL || (e->bucket = strdup(bucket)) == NULL) {
        free(e);
        return TS_E_INTERNAL;
    }
    int rc = policy_load(st, bucket, &e->doc);
    if (rc == TS_OK)
        rc = access_load(st, bucket, e);
    if (rc == TS_OK)
        rc = lc_load(st, bucket, &e->lc);
    if (rc != TS_OK) {
        atomic_init(&e->refs, 1);
        obj_policy_release(e);
        /* A bucket that does not exist has nothing; not cached (it may be created). */
        return rc == TS_E_NO_SUCH_BUCKET ? TS_OK : rc;
    }
    atomic_init(&e->refs, 2); /* the cache's and the caller's */
    pthread_rwlock_wrlock(&st->pcache_lock);
    bool insert = atomic_load(&pcache_gen_counter) == gen;
    for (struct obj_pcache *x = st->pcache[h]; insert && x; x = x->next)
        if (strcmp(x->bucket, bucket) == 0)
            insert = false;
    if (insert) {
        e->next = st->pcache[h];
        st->pcache[h] = e;
    } else {
        atomic_store(&e->refs, 1);
    }
    pthread_rwlock_unlock(&st->pcache_lock);
    *res = &e->res;
    *handle = e;
    return TS_OK;
}

int obj_policy_acquire(struct obj_store *st, const char *bucket, const struct pol_doc **doc,
                       struct obj_pcache **handle)
{
    const struct pol_resource *res;
    int rc = obj_access_acquire(st, bucket, &res, handle);
    *doc = res != NULL ? res->policy : NULL;
    return rc;
}

unsigned obj_access_pab(const struct obj_pcache *h)
{
    return h != NULL ? h->pab : 0;
}

enum obj_ownership obj_access_ownership(const struct obj_pcache *h)
{
    return h != NULL ? h->own : OBJ_OWN_NONE;
}

uint32_t obj_access_acl(const struct obj_pcache *h)
{
    return h != NULL ? h->acl : 0;
}

int obj_lc_acquire(struct obj_store *st, const char *bucket, const struct lc_conf **lc,
                   struct obj_pcache **handle)
{
    const struct pol_resource *res;
    int rc = obj_access_acquire(st, bucket, &res, handle);
    *lc = rc == TS_OK && *handle != NULL ? (*handle)->lc : NULL;
    return rc;
}

/* Puts (v) or deletes (v NULL) the bucket's stored policy, then drops its cached parse. */
static int policy_write(struct obj_store *st, const char *bucket, MDB_val *v)
{
    MDB_txn *txn;
    MDB_val k = {strlen(bucket), (void *)bucket};
    int rc = obj_int_wr_bucket(st, bucket, &txn);
    if (rc != TS_OK)
        return rc;
    int g = v ? mdb_put(txn, st->db_policies, &k, v, 0) : mdb_del(txn, st->db_policies, &k, NULL);
    if (g != 0 && (v != NULL || g != MDB_NOTFOUND)) {
        mdb_txn_abort(txn);
        return TS_E_INTERNAL;
    }
    rc = obj_int_commit(st, txn);
    obj_int_pcache_invalidate(st, bucket);
    return rc;
}

int obj_policy_put(struct obj_store *st, const char *bucket, const char *json, size_t len)
{
    MDB_val v = {len, (void *)json};
    return policy_write(st, bucket, &v);
}

int obj_policy_get(struct obj_store *st, const char *bucket, char **json, size_t *len)
{
    MDB_txn *txn;
    MDB_val k = {strlen(bucket), (void *)bucket}, v;
    *json = NULL;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return TS_E_INTERNAL;
    int rc = obj_int_bucket_exists_txn(st, txn, bucket);
    if (rc == TS_OK) {
        int g = mdb_get(txn, st->db_policies, &k, &v);
        if (g == MDB_NOTFOUND)
            rc = TS_E_NO_SUCH_BUCKET_POLICY;
        else if (g != 0)
            rc = TS_E_INTERNAL;
        else if ((*json = strndup(v.mv_data, v.mv_size)) == NULL)
            rc = TS_E_INTERNAL;
        else
            *len = v.mv_size;
    }
    mdb_txn_abort(txn);
    return rc;
}

int obj_policy_delete(struct obj_store *st, const char *bucket)
{
    return policy_write(st, bucket, NULL);
}
