/* multipart.c -- multipart uploads: the upload records, parts (each its own durable data
 * file), completion by concatenation (copy_file_range) and abort. */
#include "objstore/obj_int.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The parts DB key of part n of upload_id; checks both itself (TS_E_NO_SUCH_UPLOAD,
 * TS_E_INVALID_PART) and writes nothing on error. */
static int part_key(uint8_t out[OBJ_ID_LEN + 4], const char *upload_id, unsigned n)
{
    if (obj_check_upload_id(upload_id) != TS_OK)
        return TS_E_NO_SUCH_UPLOAD;
    if (n > OBJ_MAX_PARTS + 1) /* + 1: the seek key just past a part-number marker */
        return TS_E_INVALID_PART;
    memcpy(out, upload_id, OBJ_ID_LEN);
    out[OBJ_ID_LEN] = (uint8_t)(n >> 24);
    out[OBJ_ID_LEN + 1] = (uint8_t)(n >> 16);
    out[OBJ_ID_LEN + 2] = (uint8_t)(n >> 8);
    out[OBJ_ID_LEN + 3] = (uint8_t)n;
    return TS_OK;
}

int obj_upload_create(struct obj_store *st, const char *bucket, const char *key,
                      const struct obj_meta *m, char upload_id[OBJ_ID_LEN + 1])
{
    struct obj_meta nm = *m;
    uint8_t raw[16];
    size_t elen, bl, kl;
    MDB_txn *txn;
    int rc = obj_check_bucket(bucket);
    if (rc == TS_OK)
        rc = obj_check_key(key);
    if (rc != TS_OK)
        return rc;
    bl = strlen(bucket);
    kl = strlen(key);
    enc_random(raw, sizeof raw);
    enc_hex(raw, sizeof raw, upload_id);
    memcpy(nm.id, upload_id, OBJ_ID_LEN + 1);
    nm.mtime = (int64_t)enc_now();
    void *enc = obj_meta_encode(&nm, &elen);
    uint8_t *val = enc ? malloc(8 + bl + kl + elen) : NULL;
    if (val == NULL) {
        free(enc);
        return TS_E_INTERNAL;
    }
    wr32(val, (uint32_t)bl);
    memcpy(val + 4, bucket, bl);
    wr32(val + 4 + bl, (uint32_t)kl);
    memcpy(val + 8 + bl, key, kl);
    memcpy(val + 8 + bl + kl, enc, elen);
    free(enc);
    MDB_val k = {OBJ_ID_LEN, upload_id}, v = {8 + bl + kl + elen, val};
    rc = obj_int_wr_bucket(st, bucket, &txn);
    if (rc == TS_OK && mdb_put(txn, st->db_uploads, &k, &v, MDB_NOOVERWRITE) != 0) {
        mdb_txn_abort(txn);
        rc = TS_E_INTERNAL;
    } else if (rc == TS_OK) {
        rc = obj_int_commit(st, txn);
    }
    free(val);
    return rc;
}

/* Looks the upload up in txn and checks it belongs to bucket/key. */
static int upload_get_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                          const char *upload_id, struct obj_meta *out)
{
    if (obj_check_upload_id(upload_id) != TS_OK)
        return TS_E_NO_SUCH_UPLOAD;
    MDB_val k = {OBJ_ID_LEN, (void *)upload_id}, v;
    int g = mdb_get(txn, st->db_uploads, &k, &v);
    if (g == MDB_NOTFOUND)
        return TS_E_NO_SUCH_UPLOAD;
    if (g != 0)
        return TS_E_INTERNAL;
    const char *b, *kk;
    size_t bl, kl, ml;
    const uint8_t *m;
    if (obj_int_upload_split(&v, &b, &bl, &kk, &kl, &m, &ml) != 0)
        return TS_E_INTERNAL;
    if (bl != strlen(bucket) || memcmp(b, bucket, bl) != 0 || kl != strlen(key) ||
        memcmp(kk, key, kl) != 0)
        return TS_E_NO_SUCH_UPLOAD;
    if (out)
        return obj_meta_decode(m, ml, out);
    return TS_OK;
}

/* Checks in txn that the bucket exists and the upload belongs to bucket/key. */
static int upload_find_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                           const char *upload_id, struct obj_meta *out)
{
    int rc = obj_int_bucket_exists_txn(st, txn, bucket);
    if (rc == TS_OK)
        rc = upload_get_txn(st, txn, bucket, key, upload_id, out);
    return rc;
}

int obj_upload_get(struct obj_store *st, const char *bucket, const char *key, const char *upload_id,
                   struct obj_meta *out)
{
    MDB_txn *txn;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return TS_E_INTERNAL;
    int rc = upload_find_txn(st, txn, bucket, key, upload_id, out);
    mdb_txn_abort(txn);
    return rc;
}

struct part_arg {
    const char *bucket, *key, *upload_id;
    uint8_t kb[OBJ_ID_LEN + 4];
    const void *enc;
    size_t elen;
    char old[OBJ_ID_LEN + 1];
};

static int part_put_apply(struct obj_store *st, MDB_txn *txn, void *arg)
{
    struct part_arg *a = arg;
    MDB_val k = {sizeof a->kb, a->kb}, v;
    a->old[0] = 0;
    int rc = upload_get_txn(st, txn, a->bucket, a->key, a->upload_id, NULL);
    if (rc != TS_OK)
        return rc;
    if (mdb_get(txn, st->db_parts, &k, &v) == 0 && v.mv_size > 17 + OBJ_ID_LEN) {
        memcpy(a->old, (const char *)v.mv_data + 17, OBJ_ID_LEN);
        a->old[OBJ_ID_LEN] = 0;
    }
    v.mv_size = a->elen;
    v.mv_data = (void *)a->enc;
    rc = mdb_put(txn, st->db_parts, &k, &v, 0);
    return rc == 0 ? TS_OK : rc == MDB_MAP_FULL ? TS_E_STORAGE_FULL : TS_E_INTERNAL;
}

int obj_part_commit(struct obj_store *st, const char *bucket, const char *key,
                    const char *upload_id, unsigned number, struct obj_writer *w, const char *etag,
                    struct obj_meta *out)
{
    return obj_part_commit_ck(st, bucket, key, upload_id, number, w, etag, SIGV4_CK_NONE, NULL,
                              out);
}

int obj_part_commit_ck(struct obj_store *st, const char *bucket, const char *key,
                       const char *upload_id, unsigned number, struct obj_writer *w,
                       const char *etag, enum sigv4_cksum_algo algo, const char *ck_b64,
                       struct obj_meta *out)
{
    struct obj_meta m = {0};
    struct part_arg a = {.bucket = bucket, .key = key, .upload_id = upload_id};
    char name[32];
    m.size = obj_writer_size(w);
    m.mtime = (int64_t)enc_now();
    memcpy(m.id, obj_writer_id(w), OBJ_ID_LEN + 1);
    snprintf(m.etag, sizeof m.etag, "%s", etag);
    int rc = obj_sse_meta_set(&m, w);
    if (rc == TS_OK)
        rc = part_key(a.kb, upload_id, number);
    if (rc == TS_OK && algo != SIGV4_CK_NONE && ck_b64 != NULL) {
        obj_ck_hdr_name(algo, name);
        rc = obj_meta_add_hdr(&m, name, ck_b64);
    }
    if (rc == TS_OK && (number < 1 || number > OBJ_MAX_PARTS))
        rc = TS_E_INVALID_ARGUMENT;
    if (rc == TS_OK && (a.enc = obj_meta_encode(&m, &a.elen)) == NULL)
        rc = TS_E_INTERNAL;
    if (rc != TS_OK) {
        obj_meta_cleanup(&m);
        return rc;
    }
    rc = obj_int_group_commit(st, part_put_apply, &a);
    free((void *)a.enc);
    if (rc == TS_OK) {
        obj_writer_committed(w);
        if (a.old[0])
            obj_data_unlink(st, a.old);
        if (out)
            rc = obj_meta_copy(out, &m);
    }
    obj_meta_cleanup(&m);
    return rc;
}

static int part_get_txn(struct obj_store *st, MDB_txn *txn, const char *upload_id, unsigned n,
                        struct obj_meta *out)
{
    uint8_t kb[OBJ_ID_LEN + 4];
    int g = part_key(kb, upload_id, n);
    if (g != TS_OK)
        return g;
    MDB_val k = {sizeof kb, kb}, v;
    g = mdb_get(txn, st->db_parts, &k, &v);
    if (g == MDB_NOTFOUND)
        return TS_E_INVALID_PART;
    if (g != 0)
        return TS_E_INTERNAL;
    return obj_meta_decode(v.mv_data, v.mv_size, out);
}

/* Removes the upload record and its parts in txn; ids gets the parts' data ids. */
static int upload_remove_txn(struct obj_store *st, MDB_txn *txn, const char *upload_id,
                             struct obj_idset *ids)
{
    MDB_val uk = {OBJ_ID_LEN, (void *)upload_id};
    if (mdb_del(txn, st->db_uploads, &uk, NULL) != 0)
        return TS_E_INTERNAL;
    return obj_int_parts_delete_txn(st, txn, upload_id, ids);
}

/* One CompleteMultipartUpload in progress. */
struct completion {
    struct obj_store *st;
    const char *bucket, *key, *upload_id;
    const struct obj_part_ref *parts;
    size_t n;
    struct obj_precond *pre;  /* NULL: unconditional */
    struct obj_meta up, *pm;  /* the upload's metadata; each listed part's */
    struct obj_ck_mode mode;  /* the upload's checksum algorithm and type */
    struct obj_idset ids;     /* data of the parts removed */
    char old[OBJ_ID_LEN + 1]; /* data of the object replaced */
};

/* Whether the checksum the request names for a part (if any) is the part's: a named checksum
 * must be of the upload's algorithm and equal the part's. */
static bool part_checksum_matches(const struct obj_ck_mode *mode, const struct obj_part_ref *ref,
                                  const struct obj_meta *pm)
{
    uint8_t want[32], have[32];
    if (ref->checksum[0] == 0)
        return true;
    return mode->algo != SIGV4_CK_NONE && obj_ck_decode(mode->algo, ref->checksum, want) == TS_OK &&
           obj_ck_of(pm, mode->algo, have) && memcmp(want, have, sigv4_cksum_size(mode->algo)) == 0;
}

/* 1. Validates the upload and the listed parts against a snapshot, reading each part into pm. */
static int complete_validate(struct completion *c)
{
    const struct obj_part_ref *parts = c->parts;
    MDB_txn *txn;
    if (mdb_txn_begin(c->st->env, NULL, MDB_RDONLY, &txn) != 0)
        return TS_E_INTERNAL;
    int rc = upload_find_txn(c->st, txn, c->bucket, c->key, c->upload_id, &c->up);
    obj_ck_mode_of(&c->up, &c->mode);
    for (size_t i = 1; rc == TS_OK && i < c->n; i++)
        if (parts[i].number <= parts[i - 1].number)
            rc = TS_E_INVALID_PART_ORDER;
    for (size_t i = 0; rc == TS_OK && i < c->n; i++) {
        if (parts[i].number < 1 || parts[i].number > OBJ_MAX_PARTS) {
            rc = TS_E_INVALID_PART;
            break;
        }
        rc = part_get_txn(c->st, txn, c->upload_id, parts[i].number, &c->pm[i]);
        if (rc == TS_OK && (strcmp(c->pm[i].etag, parts[i].etag) != 0 ||
                            !part_checksum_matches(&c->mode, &parts[i], &c->pm[i])))
            rc = TS_E_INVALID_PART;
        if (rc == TS_OK && i + 1 < c->n && c->pm[i].size < OBJ_MIN_PART_SIZE)
            rc = TS_E_ENTITY_TOO_SMALL;
    }
    mdb_txn_abort(txn);
    return rc;
}

/* 2. Concatenates the parts into w outside any lock; digest gets the multipart ETag's MD5. */
static int complete_concat(struct completion *c, struct obj_writer *w, uint8_t digest[16])
{
    int rc = TS_OK;
    uint8_t *md5s = malloc(16 * c->n);
    if (md5s == NULL)
        return TS_E_INTERNAL;
    for (size_t i = 0; i < c->n; i++) {
        const struct obj_meta *pm = &c->pm[i];
        char path[PATH_MAX];
        if (strlen(pm->etag) != 32 || enc_unhex(pm->etag, 16, md5s + 16 * i) != 0)
            memset(md5s + 16 * i, 0, 16);
        int fd = obj_data_path(c->st, pm->id, path, sizeof path) == TS_OK
                     ? open(path, O_RDONLY | O_CLOEXEC)
                     : -1;
        if (fd < 0) {
            rc = TS_E_INVALID_PART; /* replaced or aborted meanwhile */
            break;
        }
        /* Encrypted parts are decrypted and sealed again as one stream under the object's
         * own key (a plain upload's parts are concatenated in the kernel). */
        struct obj_reader *rd;
        rc = obj_reader_new(c->st, pm, fd, &rd);
        if (rc == TS_OK)
            rc = obj_writer_copy(w, rd, 0, pm->size, false);
        obj_reader_free(rd);
        if (rc != TS_OK)
            break;
    }
    if (rc == TS_OK)
        enc_md5(md5s, 16 * c->n, digest);
    free(md5s);
    if (rc != TS_OK)
        return rc;
    return obj_writer_finish(w, NULL);
}

/* ---- completed uploads (obj_upload_completed), in the "completed" DB ----
 * "u" + upload id -> BE64 completion time, the object's data id, the parts digest,
 *                    bucket, NUL, key
 * "t" + BE64 completion time + upload id -> "" (the records in completion order, for the sweep)
 */
#define DONE_HDR (8 + OBJ_ID_LEN + 32)

static void wrbe64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t rdbe64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* SHA-256 of the parts list (number and ETag of each, in order): a retry must give the same. */
static int parts_digest(const struct obj_part_ref *parts, size_t n, uint8_t out[32])
{
    uint8_t *buf = malloc(n * (4 + sizeof parts->etag) + 1), *p = buf;
    if (buf == NULL)
        return TS_E_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        size_t el = strnlen(parts[i].etag, sizeof parts[i].etag - 1);
        wr32(p, parts[i].number);
        memcpy(p + 4, parts[i].etag, el);
        p[4 + el] = 0;
        p += 5 + el;
    }
    enc_sha256(buf, (size_t)(p - buf), out);
    free(buf);
    return TS_OK;
}

/* Removes up to 8 of the oldest records: those older than OBJ_COMPLETED_TTL and any beyond
 * OBJ_COMPLETED_MAX. Each completion adds one record, so the sweep keeps up. */
static void done_sweep_txn(struct obj_store *st, MDB_txn *txn, uint64_t now)
{
    MDB_stat ms;
    MDB_cursor *cur;
    if (mdb_stat(txn, st->db_completed, &ms) != 0 ||
        mdb_cursor_open(txn, st->db_completed, &cur) != 0)
        return;
    size_t live = ms.ms_entries / 2;
    for (int i = 0; i < 8; i++, live--) {
        MDB_val k = {1, "t"}, v;
        uint8_t tk[1 + 8 + OBJ_ID_LEN], uk[1 + OBJ_ID_LEN] = {'u'};
        if (mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) != 0 || k.mv_size != sizeof tk ||
            *(const uint8_t *)k.mv_data != 't')
            break;
        memcpy(tk, k.mv_data, sizeof tk);
        if (rdbe64(tk + 1) + OBJ_COMPLETED_TTL > now && live <= OBJ_COMPLETED_MAX)
            break;
        memcpy(uk + 1, tk + 9, OBJ_ID_LEN);
        MDB_val dt = {sizeof tk, tk}, du = {sizeof uk, uk};
        if (mdb_del(txn, st->db_completed, &dt, NULL) != 0)
            break;
        mdb_del(txn, st->db_completed, &du, NULL);
    }
    mdb_cursor_close(cur);
}

/* Records in txn that the upload completed into the object with data id. */
static int done_put_txn(struct completion *c, MDB_txn *txn, const char *id,
                        const uint8_t digest[32])
{
    size_t bl = strlen(c->bucket), kl = strlen(c->key);
    uint64_t now = (uint64_t)enc_now();
    uint8_t uk[1 + OBJ_ID_LEN] = {'u'}, tk[1 + 8 + OBJ_ID_LEN] = {'t'};
    uint8_t *val = malloc(DONE_HDR + bl + 1 + kl);
    if (val == NULL)
        return TS_E_INTERNAL;
    wrbe64(val, now);
    memcpy(val + 8, id, OBJ_ID_LEN);
    memcpy(val + 8 + OBJ_ID_LEN, digest, 32);
    memcpy(val + DONE_HDR, c->bucket, bl + 1);
    memcpy(val + DONE_HDR + bl + 1, c->key, kl);
    memcpy(uk + 1, c->upload_id, OBJ_ID_LEN);
    wrbe64(tk + 1, now);
    memcpy(tk + 9, c->upload_id, OBJ_ID_LEN);
    MDB_val k1 = {sizeof uk, uk}, v1 = {DONE_HDR + bl + 1 + kl, val}, k2 = {sizeof tk, tk},
            v2 = {0, ""};
    int g = mdb_put(txn, c->st->db_completed, &k1, &v1, 0);
    if (g == 0)
        g = mdb_put(txn, c->st->db_completed, &k2, &v2, 0);
    free(val);
    if (g == 0)
        done_sweep_txn(c->st, txn, now);
    return g == 0 ? TS_OK : g == MDB_MAP_FULL ? TS_E_STORAGE_FULL : TS_E_INTERNAL;
}

/* The data id of the record of upload_id for bucket/key (and parts, unless NULL) into id. */
static int done_get(struct obj_store *st, const char *bucket, const char *key,
                    const char *upload_id, const uint8_t *digest, char id[OBJ_ID_LEN + 1])
{
    size_t bl = strlen(bucket), kl = strlen(key);
    uint8_t uk[1 + OBJ_ID_LEN] = {'u'};
    MDB_txn *txn;
    if (obj_check_upload_id(upload_id) != TS_OK)
        return TS_E_NO_SUCH_UPLOAD;
    memcpy(uk + 1, upload_id, OBJ_ID_LEN);
    MDB_val k = {sizeof uk, uk}, v;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return TS_E_INTERNAL;
    int g = mdb_get(txn, st->db_completed, &k, &v);
    int rc = g == MDB_NOTFOUND ? TS_E_NO_SUCH_UPLOAD : g != 0 ? TS_E_INTERNAL : TS_OK;
    const uint8_t *p = v.mv_data;
    if (rc == TS_OK &&
        (v.mv_size != DONE_HDR + bl + 1 + kl ||
         rdbe64(p) + OBJ_COMPLETED_TTL <= (uint64_t)enc_now() ||
         memcmp(p + DONE_HDR, bucket, bl + 1) != 0 || memcmp(p + DONE_HDR + bl + 1, key, kl) != 0 ||
         (digest != NULL && memcmp(p + 8 + OBJ_ID_LEN, digest, 32) != 0)))
        rc = TS_E_NO_SUCH_UPLOAD;
    if (rc == TS_OK) {
        memcpy(id, p + 8, OBJ_ID_LEN);
        id[OBJ_ID_LEN] = 0;
    }
    mdb_txn_abort(txn);
    return rc;
}

int obj_upload_completed(struct obj_store *st, const char *bucket, const char *key,
                         const char *upload_id, const struct obj_part_ref *parts, size_t n,
                         struct obj_meta *out)
{
    uint8_t digest[32];
    char id[OBJ_ID_LEN + 1];
    if (parts != NULL && parts_digest(parts, n, digest) != TS_OK)
        return TS_E_INTERNAL;
    int rc = done_get(st, bucket, key, upload_id, parts ? digest : NULL, id);
    if (rc != TS_OK || parts == NULL)
        return rc;
    /* Still the object that upload made? Overwritten or deleted: the upload is gone. */
    memset(out, 0, sizeof *out);
    rc = obj_object_head(st, bucket, key, out);
    if (rc == TS_OK && strcmp(out->id, id) != 0) {
        obj_meta_cleanup(out);
        rc = TS_E_NO_SUCH_UPLOAD;
    }
    return rc == TS_OK || rc == TS_E_INTERNAL ? rc : TS_E_NO_SUCH_UPLOAD;
}

/* 3. Commits the object m (a new version when the bucket is versioned: m->vid), and the upload and
 * its parts gone, in one transaction, after checking that no listed part was replaced meanwhile
 * and that the precondition holds (obj_int_precond_txn); records the completion (done_put_txn) in
 * the same transaction. */
static int complete_commit(struct completion *c, struct obj_meta *m, const uint8_t digest[32])
{
    MDB_txn *txn;
    if (mdb_txn_begin(c->st->env, NULL, 0, &txn) != 0)
        return TS_E_INTERNAL;
    int rc = upload_find_txn(c->st, txn, c->bucket, c->key, c->upload_id, NULL);
    for (size_t i = 0; rc == TS_OK && i < c->n; i++) {
        struct obj_meta cur;
        rc = part_get_txn(c->st, txn, c->upload_id, c->parts[i].number, &cur);
        if (rc == TS_OK && strcmp(cur.id, c->pm[i].id) != 0)
            rc = TS_E_INVALID_PART;
        obj_meta_cleanup(&cur);
    }
    if (rc == TS_OK)
        rc = obj_int_precond_txn(c->st, txn, c->bucket, c->key, c->pre);
    if (rc == TS_OK)
        rc = obj_int_object_write_txn(c->st, txn, c->bucket, c->key, m, c->old);
    if (rc == TS_OK)
        rc = upload_remove_txn(c->st, txn, c->upload_id, &c->ids);
    if (rc == TS_OK)
        rc = done_put_txn(c, txn, m->id, digest);
    if (rc != TS_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    return obj_int_commit(c->st, txn);
}

/* The object's checksum (ck, "" when the upload has no algorithm), compared with want. */
static int complete_checksum(struct completion *c, const char *want, char ck[OBJ_CK_B64_MAX])
{
    ck[0] = 0;
    if (c->mode.algo == SIGV4_CK_NONE)
        return TS_OK;
    int rc = obj_ck_object(&c->mode, c->pm, c->n, ck);
    size_t wl = want ? strcspn(want, "-") : 0;
    if (rc == TS_OK && want != NULL &&
        (wl != strcspn(ck, "-") || strncmp(want, ck, wl) != 0 ||
         (want[wl] != 0 && strcmp(want + wl, ck + wl) != 0)))
        rc = TS_E_BAD_DIGEST;
    return rc;
}

/* The object's record from the upload's: its checksum instead of the upload's algorithm and
 * type, and its parts. */
static int complete_meta(struct completion *c, const char *ck, struct obj_meta *out)
{
    char name[32];
    int rc = obj_meta_copy(out, &c->up);
    if (rc != TS_OK)
        return rc;
    obj_meta_del_hdr(out, OBJ_CK_ALGO_HDR);
    obj_meta_del_hdr(out, OBJ_CK_TYPE_HDR);
    if (ck[0]) {
        obj_ck_hdr_name(c->mode.algo, name);
        rc = obj_meta_add_hdr(out, name, ck);
    }
    size_t cklen = sigv4_cksum_size(c->mode.algo);
    if (rc == TS_OK)
        rc = obj_meta_set_parts(out, c->n, cklen);
    for (size_t i = 0; rc == TS_OK && i < c->n; i++) {
        uint8_t d[32];
        bool has = cklen > 0 && obj_ck_of(&c->pm[i], c->mode.algo, d);
        obj_meta_part_set(out, i, c->parts[i].number, c->pm[i].size, has ? d : NULL);
    }
    return rc;
}

int obj_upload_complete(struct obj_store *st, const char *bucket, const char *key,
                        const char *upload_id, const struct obj_part_ref *parts, size_t n,
                        struct obj_meta *out)
{
    return obj_upload_complete_ck(st, bucket, key, upload_id, parts, n, NULL, NULL, out);
}

int obj_upload_complete_if(struct obj_store *st, const char *bucket, const char *key,
                           const char *upload_id, const struct obj_part_ref *parts, size_t n,
                           const struct obj_precond *pre, struct obj_meta *out)
{
    return obj_upload_complete_ck(st, bucket, key, upload_id, parts, n, NULL, pre, out);
}

int obj_upload_complete_ck(struct obj_store *st, const char *bucket, const char *key,
                           const char *upload_id, const struct obj_part_ref *parts, size_t n,
                           const char *want, const struct obj_precond *pre, struct obj_meta *out)
{
    struct obj_precond p = pre ? *pre : (struct obj_precond){0};
    struct completion c = {.st = st,
                           .bucket = bucket,
                           .key = key,
                           .upload_id = upload_id,
                           .parts = parts,
                           .n = n,
                           .pre = pre ? &p : NULL};
    struct obj_writer *w = NULL;
    uint8_t digest[16], pdigest[32];
    char ck[OBJ_CK_B64_MAX];
    memset(out, 0, sizeof *out);
    if (n == 0 || n > OBJ_MAX_PARTS)
        return TS_E_MALFORMED_XML;
    c.pm = calloc(n, sizeof *c.pm);
    if (c.pm == NULL)
        return TS_E_INTERNAL;
    int rc = parts_digest(parts, n, pdigest);
    if (rc == TS_OK)
        rc = complete_validate(&c);
    if (rc == TS_OK) /* fail fast, before the concatenation; the commit checks again */
        rc = obj_precond_early(st, bucket, key, c.pre);
    if (rc == TS_OK)
        rc = complete_checksum(&c, want, ck);
    if (rc == TS_OK)
        rc = obj_writer_new(st, &w);
    if (rc == TS_OK && obj_sse_meta_encrypted(&c.up))
        rc = obj_writer_encrypt(w);
    if (rc == TS_OK)
        rc = complete_concat(&c, w, digest);
    if (rc == TS_OK)
        rc = complete_meta(&c, ck, out);
    if (rc == TS_OK)
        rc = obj_sse_meta_set(out, w);
    if (rc == TS_OK) {
        enc_hex(digest, 16, out->etag);
        snprintf(out->etag + 32, sizeof out->etag - 32, "-%zu", n);
        out->mtime = (int64_t)enc_now();
        out->size = obj_writer_size(w);
        memcpy(out->id, obj_writer_id(w), OBJ_ID_LEN + 1);
        rc = complete_commit(&c, out, pdigest);
    }
    if (rc == TS_OK) {
        obj_writer_committed(w);
        if (c.old[0])
            obj_data_unlink(st, c.old);
        obj_idset_unlink(st, &c.ids);
    } else {
        obj_meta_cleanup(out);
    }
    obj_writer_free(w);
    free(c.ids.v);
    for (size_t i = 0; i < n; i++)
        obj_meta_cleanup(&c.pm[i]);
    free(c.pm);
    obj_meta_cleanup(&c.up);
    if (rc == TS_E_NO_SUCH_UPLOAD) /* completed already: a retry, or a concurrent twin */
        rc = obj_upload_completed(st, bucket, key, upload_id, parts, n, out);
    return rc;
}

int obj_upload_abort(struct obj_store *st, const char *bucket, const char *key,
                     const char *upload_id)
{
    struct obj_idset ids = {0};
    MDB_txn *txn;
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
        return TS_E_INTERNAL;
    int rc = upload_find_txn(st, txn, bucket, key, upload_id, NULL);
    if (rc == TS_OK)
        rc = upload_remove_txn(st, txn, upload_id, &ids);
    if (rc != TS_OK) {
        mdb_txn_abort(txn);
        free(ids.v);
        return rc;
    }
    rc = obj_int_commit(st, txn);
    if (rc == TS_OK)
        obj_idset_unlink(st, &ids);
    free(ids.v);
    return rc;
}

/* The checksum a part keeps (x-amz-checksum-<algo>), if any, into e. */
static void part_ent_checksum(struct obj_part_ent *e, const struct obj_meta *m)
{
    e->checksum_algo[0] = e->checksum[0] = 0;
    for (size_t i = 0; i < m->nhdrs; i++) {
        enum sigv4_cksum_algo a = sigv4_cksum_from_header(m->hdrs[i].key);
        if (a != SIGV4_CK_NONE) {
            snprintf(e->checksum_algo, sizeof e->checksum_algo, "%s", sigv4_cksum_name(a));
            snprintf(e->checksum, sizeof e->checksum, "%s", m->hdrs[i].value);
        }
    }
}

int obj_parts_list(struct obj_store *st, const char *upload_id, unsigned marker, size_t max,
                   struct obj_part_ent **out, size_t *n, bool *truncated)
{
    MDB_txn *txn;
    MDB_cursor *c;
    uint8_t kb[OBJ_ID_LEN + 4];
    struct obj_part_ent *v = NULL;
    size_t cnt = 0;
    int rc = TS_OK;
    *out = NULL;
    *n = 0;
    *truncated = false;
    rc = part_key(kb, upload_id, marker >= OBJ_MAX_PARTS ? OBJ_MAX_PARTS + 1 : marker + 1);
    if (rc != TS_OK)
        return rc;
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return TS_E_INTERNAL;
    if (mdb_cursor_open(txn, st->db_parts, &c) != 0) {
        mdb_txn_abort(txn);
        return TS_E_INTERNAL;
    }
    MDB_val k = {sizeof kb, kb}, val;
    int g = mdb_cursor_get(c, &k, &val, MDB_SET_RANGE);
    while (g == 0 && k.mv_size == OBJ_ID_LEN + 4 && memcmp(k.mv_data, upload_id, OBJ_ID_LEN) == 0) {
        if (cnt == max) {
            *truncated = true;
            break;
        }
        struct obj_meta m;
        if (obj_meta_decode(val.mv_data, val.mv_size, &m) != TS_OK) {
            rc = TS_E_INTERNAL;
            break;
        }
        struct obj_part_ent *nv = realloc(v, (cnt + 1) * sizeof *nv);
        if (nv == NULL) {
            obj_meta_cleanup(&m);
            rc = TS_E_INTERNAL;
            break;
        }
        v = nv;
        const uint8_t *p = (const uint8_t *)k.mv_data + OBJ_ID_LEN;
        v[cnt].number = (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
        v[cnt].size = m.size;
        v[cnt].mtime = m.mtime;
        memcpy(v[cnt].etag, m.etag, sizeof v[cnt].etag);
        part_ent_checksum(&v[cnt], &m);
        obj_meta_cleanup(&m);
        cnt++;
        g = mdb_cursor_get(c, &k, &val, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    if (rc != TS_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return TS_OK;
}

static int upload_cmp(const void *a, const void *b)
{
    const struct obj_upload_ent *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->upload_id, y->upload_id);
}

int obj_uploads_list(struct obj_store *st, const char *bucket, const char *prefix,
                     const char *key_marker, const char *upload_id_marker, size_t max,
                     struct obj_upload_ent **out, size_t *n, bool *truncated)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    struct obj_upload_ent *vec = NULL;
    size_t cnt = 0, blen = strlen(bucket), plen = prefix ? strlen(prefix) : 0;
    int rc;
    *out = NULL;
    *n = 0;
    *truncated = false;
    if (prefix == NULL)
        prefix = "";
    if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) != 0)
        return TS_E_INTERNAL;
    rc = obj_int_bucket_exists_txn(st, txn, bucket);
    if (rc != TS_OK || mdb_cursor_open(txn, st->db_uploads, &c) != 0) {
        mdb_txn_abort(txn);
        return rc != TS_OK ? rc : TS_E_INTERNAL;
    }
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        const char *b, *kk;
        size_t bl, kl, ml;
        const uint8_t *m;
        if (obj_int_upload_split(&v, &b, &bl, &kk, &kl, &m, &ml) != 0 || bl != blen ||
            memcmp(b, bucket, bl) != 0 || kl < plen || memcmp(kk, prefix, plen) != 0 ||
            k.mv_size != OBJ_ID_LEN)
            continue;
        struct obj_meta om;
        if (obj_meta_decode(m, ml, &om) != TS_OK)
            continue;
        struct obj_upload_ent e = {0};
        e.key = strndup(kk, kl);
        memcpy(e.upload_id, k.mv_data, OBJ_ID_LEN);
        e.initiated = om.mtime;
        obj_meta_cleanup(&om);
        if (e.key == NULL)
            continue;
        if (key_marker && key_marker[0]) {
            int cm = strcmp(e.key, key_marker);
            bool after = cm > 0 || (cm == 0 && upload_id_marker && upload_id_marker[0] &&
                                    strcmp(e.upload_id, upload_id_marker) > 0);
            if (!after) {
                free(e.key);
                continue;
            }
        }
        struct obj_upload_ent *nv = realloc(vec, (cnt + 1) * sizeof *nv);
        if (nv == NULL) {
            free(e.key);
            break;
        }
        vec = nv;
        vec[cnt++] = e;
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    if (cnt)
        qsort(vec, cnt, sizeof *vec, upload_cmp);
    if (cnt > max) {
        *truncated = true;
        for (size_t i = max; i < cnt; i++)
            free(vec[i].key);
        cnt = max;
    }
    *out = vec;
    *n = cnt;
    return TS_OK;
}

void obj_uploads_list_free(struct obj_upload_ent *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].key);
    free(v);
}
