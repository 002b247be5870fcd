/* versions.c -- object versioning in the storage engine: the bucket's versioning state, version
 * ids, versioned writes and deletes (delete markers, the null version), reads of a version and
 * ListObjectVersions (see obj_int.h "versioning" for the layout and its invariant). */
#include "objstore/obj_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"

#define LMDB_MAXKEY 511
#define VKEY_TAIL 9 /* the separator ("\0" or "\1") and BE64(~vts) */
#define VER_CONF "versioning"

/* ---- the bucket's versioning state ---- */

static int versioning_txn(struct obj_store *st, MDB_txn *txn, const char *bucket,
                          enum obj_versioning *out)
{
    MDB_val v;
    int g = obj_int_bconf_get_txn(st, txn, bucket, VER_CONF, &v);
    *out = OBJ_VER_OFF;
    if (g == MDB_NOTFOUND)
        return TS_OK;
    if (g != 0)
        return TS_E_INTERNAL;
    if (v.mv_size == 7 && memcmp(v.mv_data, "Enabled", 7) == 0)
        *out = OBJ_VER_ENABLED;
    else if (v.mv_size == 9 && memcmp(v.mv_data, "Suspended", 9) == 0)
        *out = OBJ_VER_SUSPENDED;
    else
        return TS_E_INTERNAL; /* a damaged record: fail closed */
    return TS_OK;
}

int obj_versioning_get(struct obj_store *st, const char *bucket, enum obj_versioning *out)
{
    MDB_txn *txn;
    if (obj_int_rd_begin(st, &txn) != TS_OK)
        return TS_E_INTERNAL;
    int rc = obj_int_bucket_exists_txn(st, txn, bucket);
    if (rc == TS_OK)
        rc = versioning_txn(st, txn, bucket, out);
    obj_int_rd_end(st, txn);
    return rc;
}

struct vset_arg {
    const char *bucket, *name;
    enum obj_versioning v;
};

/* A bucket with an object lock configuration keeps versioning Enabled (as S3: 409). */
static int vset_apply(struct obj_store *st, MDB_txn *txn, void *arg)
{
    struct vset_arg *a = arg;
    struct obj_lock_conf lc;
    int rc = obj_int_bucket_exists_txn(st, txn, a->bucket);
    if (rc == TS_OK && a->v != OBJ_VER_ENABLED) {
        rc = obj_int_lock_conf_txn(st, txn, a->bucket, &lc);
        if (rc == TS_OK && lc.enabled)
            rc = TS_E_INVALID_BUCKET_STATE;
    }
    struct obj_bconf_ent e = {VER_CONF, a->name, strlen(a->name)};
    return rc == TS_OK ? obj_int_bconf_put_txn(st, txn, a->bucket, &e, 1) : rc;
}

int obj_versioning_set(struct obj_store *st, const char *bucket, enum obj_versioning v)
{
    struct vset_arg a = {bucket,
                         v == OBJ_VER_ENABLED     ? "Enabled"
                         : v == OBJ_VER_SUSPENDED ? "Suspended"
                                                  : NULL,
                         v};
    if (a.name == NULL)
        return TS_E_INTERNAL;
    return obj_int_group_commit(st, vset_apply, &a);
}

/* ---- version ids, sort keys, records ---- */

static atomic_uint_fast64_t last_vts; /* the store's versions' write times are unique */

static uint64_t next_vts(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    uint_fast64_t prev = atomic_load(&last_vts);
    for (;;) {
        uint64_t n = now > prev ? now : prev + 1;
        if (atomic_compare_exchange_weak(&last_vts, &prev, n))
            return n;
    }
}

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

/* A version id: hex of BE64(~vts) (ids of one key sort newest first) and 8 random bytes. */
static void make_vid(uint64_t vts, char out[OBJ_VID_LEN + 1])
{
    uint8_t raw[16];
    wrbe64(raw, ~vts);
    enc_random(raw + 8, 8);
    enc_hex(raw, sizeof raw, out);
}

/* The vts a well-formed (obj_check_version_id) non-null id names: 0, or -1 for "null". */
static int vid_vts(const char *vid, uint64_t *vts)
{
    uint64_t inv = 0;
    if (strlen(vid) != OBJ_VID_LEN)
        return -1;
    for (int i = 0; i < 16; i++)
        inv = inv << 4 | (uint64_t)(vid[i] <= '9' ? vid[i] - '0' : vid[i] - 'a' + 10);
    *vts = ~inv;
    return 0;
}

static const char *vid_of(const struct obj_meta *m)
{
    return m->vid[0] ? m->vid : "null";
}

/* Records written before the bucket was versioned have no vts: their write time. */
static uint64_t vts_of(const struct obj_meta *m)
{
    return m->vts ? m->vts : (uint64_t)m->mtime * 1000000000u;
}

static int keycmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* The versions key of (key, inv = ~vts): "bucket\0" key "\0" BE64(inv), or for a key longer
 * than room its first room bytes, "\1", BE64(inv). Bounds checked here. */
static int vkey(const char *bucket, const char *key, size_t klen, uint64_t inv,
                uint8_t out[LMDB_MAXKEY], size_t *outlen)
{
    _Static_assert(OBJ_MAX_BUCKET_LEN + 1 + VKEY_TAIL < LMDB_MAXKEY, "a version key fits");
    *outlen = 0;
    if (obj_check_bucket(bucket) != TS_OK)
        return TS_E_INVALID_BUCKET_NAME;
    size_t bl = strlen(bucket), room = LMDB_MAXKEY - bl - 1 - VKEY_TAIL;
    bool lng = klen > room;
    memcpy(out, bucket, bl + 1);
    memcpy(out + bl + 1, key, lng ? room : klen);
    size_t n = bl + 1 + (lng ? room : klen);
    out[n++] = lng ? 1 : 0;
    wrbe64(out + n, inv);
    *outlen = n + 8;
    return TS_OK;
}

/* A versions value: u32 key length, key, meta. */
static int vsplit(const MDB_val *v, const char **k, size_t *kl, const uint8_t **m, size_t *ml)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 4)
        return -1;
    *kl = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
    if (*kl > v->mv_size - 4)
        return -1;
    *k = (const char *)p + 4;
    *m = p + 4 + *kl;
    *ml = v->mv_size - 4 - *kl;
    return 0;
}

/* Writes version m of key into versions (overwrite: replace a record, else a new one). */
static int vput(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                const struct obj_meta *m, bool overwrite)
{
    uint8_t kb[LMDB_MAXKEY];
    size_t klen = strlen(key), elen;
    MDB_val k = {0, kb}, v;
    int rc = vkey(bucket, key, klen, ~m->vts, kb, &k.mv_size);
    if (rc != TS_OK)
        return rc;
    uint8_t *enc = obj_meta_encode(m, &elen), *val = enc ? malloc(4 + klen + elen) : NULL;
    if (val == NULL) {
        free(enc);
        return TS_E_INTERNAL;
    }
    for (int i = 0; i < 4; i++)
        val[i] = (uint8_t)(klen >> (8 * i));
    memcpy(val + 4, key, klen);
    memcpy(val + 4 + klen, enc, elen);
    v = (MDB_val){4 + klen + elen, val};
    int g = mdb_put(txn, st->db_versions, &k, &v, overwrite ? 0 : MDB_NOOVERWRITE);
    free(enc);
    free(val);
    return g == 0 ? TS_OK : g == MDB_MAP_FULL ? TS_E_STORAGE_FULL : TS_E_INTERNAL;
}

/* A version found in versions: its LMDB key and its record. */
struct vhit {
    uint8_t k[LMDB_MAXKEY];
    size_t kl;
    struct obj_meta m;
};

/* Decodes record v when it is key's and its version is vid (NULL: any): 1, 0, or <0. */
static int vmatch(const MDB_val *v, const char *key, size_t klen, const char *vid,
                  struct obj_meta *out)
{
    const char *k;
    const uint8_t *m;
    size_t kl, ml;
    if (vsplit(v, &k, &kl, &m, &ml) != 0)
        return -1;
    if (kl != klen || memcmp(k, key, klen) != 0)
        return 0;
    if (obj_meta_decode(m, ml, out) != TS_OK)
        return -1;
    if (vid == NULL || strcmp(vid_of(out), vid) == 0)
        return 1;
    obj_meta_cleanup(out);
    return 0;
}

/* Version vid (NULL: the newest) of key in versions: 1 (h filled), 0 (none) or <0. An id
 * names its record directly; "null" and the newest are found walking key's records. */
static int vfind(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                 const char *vid, struct vhit *h)
{
    size_t klen = strlen(key), plen;
    uint64_t vts;
    MDB_val k = {0, h->k}, v;
    if (vid != NULL && vid_vts(vid, &vts) == 0) {
        if (vkey(bucket, key, klen, ~vts, h->k, &k.mv_size) != TS_OK)
            return -1;
        int g = mdb_get(txn, st->db_versions, &k, &v);
        if (g != 0)
            return g == MDB_NOTFOUND ? 0 : -1;
        h->kl = k.mv_size;
        return vmatch(&v, key, klen, vid, &h->m);
    }
    MDB_cursor *c;
    if (vkey(bucket, key, klen, 0, h->k, &plen) != TS_OK ||
        mdb_cursor_open(txn, st->db_versions, &c) != 0)
        return -1;
    plen -= 8;
    k.mv_size = plen + 8;
    int r = 0, g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    for (; g == 0 && k.mv_size == plen + 8 && memcmp(k.mv_data, h->k, plen) == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if ((r = vmatch(&v, key, klen, vid, &h->m)) != 0)
            break;
    }
    if (r > 0) {
        memcpy(h->k, k.mv_data, k.mv_size);
        h->kl = k.mv_size;
    } else if (g != 0 && g != MDB_NOTFOUND) {
        r = -1;
    }
    mdb_cursor_close(c);
    return r;
}

static int vdel(struct obj_store *st, MDB_txn *txn, struct vhit *h)
{
    MDB_val k = {h->kl, h->k};
    return mdb_del(txn, st->db_versions, &k, NULL) == 0 ? TS_OK : TS_E_INTERNAL;
}

/* m as the current record of key (obj_int_object_put_txn); *old: the data id it replaced. */
static int put_current(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                       const struct obj_meta *m, char old[OBJ_ID_LEN + 1])
{
    size_t elen;
    void *enc = obj_meta_encode(m, &elen);
    if (enc == NULL)
        return TS_E_INTERNAL;
    int rc = obj_int_object_put_txn(st, txn, bucket, key, enc, elen, old);
    free(enc);
    return rc;
}

/* The object lock's rule for removing version m, at the server's time, applied by every path
 * that removes a version (obj_int.h "object lock"). */
static int removable(const struct obj_meta *m, unsigned flags)
{
    return obj_lock_check_remove(m, (int64_t)enc_now(), (flags & OBJ_DEL_BYPASS_GOVERNANCE) != 0);
}

/* ---- versioned writes ---- */

/* The null version of key in versions goes (a suspended bucket's write replaces it); *old
 * gets its data id. */
static int drop_null(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                     char old[OBJ_ID_LEN + 1])
{
    struct vhit h;
    int r = vfind(st, txn, bucket, key, "null", &h);
    if (r <= 0)
        return r < 0 ? TS_E_INTERNAL : TS_OK;
    int rc = removable(&h.m, 0);
    if (rc == TS_OK)
        rc = vdel(st, txn, &h);
    if (rc == TS_OK && !h.m.dm)
        memcpy(old, h.m.id, OBJ_ID_LEN + 1);
    obj_meta_cleanup(&h.m);
    return rc;
}

/* The current version of key stops being current: it moves to versions, except the null
 * version in a suspended bucket, which goes (*old: its data). A suspended bucket's write also
 * drops the null version wherever it is. */
static int retire_current(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                          enum obj_versioning vs, char old[OBJ_ID_LEN + 1])
{
    struct obj_meta cur;
    char scratch[OBJ_ID_LEN + 1];
    int rc = obj_int_object_get_txn(st, txn, bucket, key, &cur);
    if (rc == TS_E_NO_SUCH_KEY)
        return vs == OBJ_VER_SUSPENDED ? drop_null(st, txn, bucket, key, old) : TS_OK;
    if (rc != TS_OK)
        return rc;
    bool null = strcmp(vid_of(&cur), "null") == 0;
    if (null && vs == OBJ_VER_SUSPENDED) {
        rc = removable(&cur, 0);
        if (rc == TS_OK)
            memcpy(old, cur.id, OBJ_ID_LEN + 1);
    } else {
        if (cur.vid[0] == 0) { /* written before versioning: the null version */
            strcpy(cur.vid, "null");
            cur.vts = vts_of(&cur);
        }
        rc = vput(st, txn, bucket, key, &cur, false);
    }
    if (rc == TS_OK)
        rc = obj_int_object_del_txn(st, txn, bucket, key, scratch);
    if (rc == TS_OK && !null && vs == OBJ_VER_SUSPENDED)
        rc = drop_null(st, txn, bucket, key, old);
    obj_meta_cleanup(&cur);
    return rc;
}

int obj_int_object_write_txn(struct obj_store *st, MDB_txn *txn, const char *bucket,
                             const char *key, struct obj_meta *m, char old[OBJ_ID_LEN + 1])
{
    enum obj_versioning vs;
    char scratch[OBJ_ID_LEN + 1];
    old[0] = 0;
    m->dm = false;
    m->vid[0] = 0;
    m->vts = 0;
    int rc = versioning_txn(st, txn, bucket, &vs);
    if (rc != TS_OK)
        return rc;
    if (vs == OBJ_VER_OFF) /* the plain write: replaces the object */
        return put_current(st, txn, bucket, key, m, old);
    struct obj_lock_conf lc;
    if ((rc = obj_int_lock_conf_txn(st, txn, bucket, &lc)) != TS_OK)
        return rc;
    obj_lock_default(&lc, m, (int64_t)enc_now()); /* the bucket's default retention */
    m->vts = next_vts();
    if (vs == OBJ_VER_ENABLED)
        make_vid(m->vts, m->vid);
    else
        strcpy(m->vid, "null");
    rc = retire_current(st, txn, bucket, key, vs, old);
    return rc == TS_OK ? put_current(st, txn, bucket, key, m, scratch) : rc;
}

/* Makes key's newest version in versions current when objects has none and it is not a
 * delete marker (the invariant, after a version was deleted). */
static int promote(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key)
{
    struct obj_meta cur;
    struct vhit h;
    char scratch[OBJ_ID_LEN + 1];
    int rc = obj_int_object_get_txn(st, txn, bucket, key, &cur);
    if (rc == TS_OK)
        obj_meta_cleanup(&cur);
    if (rc != TS_E_NO_SUCH_KEY)
        return rc;
    int r = vfind(st, txn, bucket, key, NULL, &h);
    if (r <= 0)
        return r < 0 ? TS_E_INTERNAL : TS_OK;
    rc = h.m.dm ? TS_OK : vdel(st, txn, &h);
    if (rc == TS_OK && !h.m.dm)
        rc = put_current(st, txn, bucket, key, &h.m, scratch);
    obj_meta_cleanup(&h.m);
    return rc;
}

struct del_arg {
    const char *bucket, *key, *vid;
    struct obj_del_res *res;
    unsigned flags; /* OBJ_DEL_* */
    char old[OBJ_ID_LEN + 1];
};

/* Deletes version a->vid: the current one, or one in versions (nothing when it is not
 * there); the next newest becomes current. */
static int delete_version_txn(struct obj_store *st, MDB_txn *txn, struct del_arg *a)
{
    struct obj_meta cur;
    struct vhit h;
    snprintf(a->res->vid, sizeof a->res->vid, "%s", a->vid);
    int rc = obj_int_object_get_txn(st, txn, a->bucket, a->key, &cur);
    if (rc == TS_OK && strcmp(vid_of(&cur), a->vid) == 0) {
        rc = removable(&cur, a->flags);
        obj_meta_cleanup(&cur);
        if (rc == TS_OK)
            rc = obj_int_object_del_txn(st, txn, a->bucket, a->key, a->old);
        return rc == TS_OK ? promote(st, txn, a->bucket, a->key) : rc;
    }
    bool had_current = rc == TS_OK;
    if (had_current)
        obj_meta_cleanup(&cur);
    else if (rc != TS_E_NO_SUCH_KEY)
        return rc;
    int r = vfind(st, txn, a->bucket, a->key, a->vid, &h);
    if (r <= 0)
        return r < 0 ? TS_E_INTERNAL : TS_OK;
    rc = removable(&h.m, a->flags);
    if (rc == TS_OK)
        rc = vdel(st, txn, &h);
    a->res->dm = h.m.dm;
    if (!h.m.dm)
        memcpy(a->old, h.m.id, OBJ_ID_LEN + 1);
    obj_meta_cleanup(&h.m);
    return rc == TS_OK && !had_current ? promote(st, txn, a->bucket, a->key) : rc;
}

/* The plain delete of a bucket never versioned (its record, if the lock allows). */
static int delete_plain_txn(struct obj_store *st, MDB_txn *txn, struct del_arg *a)
{
    struct obj_meta cur;
    int rc = obj_int_object_get_txn(st, txn, a->bucket, a->key, &cur);
    if (rc == TS_OK) {
        rc = removable(&cur, a->flags);
        obj_meta_cleanup(&cur);
    } else if (rc == TS_E_NO_SUCH_KEY) {
        rc = TS_OK;
    }
    return rc == TS_OK ? obj_int_object_del_txn(st, txn, a->bucket, a->key, a->old) : rc;
}

static int delete_apply(struct obj_store *st, MDB_txn *txn, void *arg)
{
    struct del_arg *a = arg;
    enum obj_versioning vs;
    a->old[0] = 0;
    memset(a->res, 0, sizeof *a->res);
    int rc = obj_int_bucket_exists_txn(st, txn, a->bucket);
    if (rc == TS_OK)
        rc = versioning_txn(st, txn, a->bucket, &vs);
    if (rc != TS_OK)
        return rc;
    if (a->vid != NULL)
        return delete_version_txn(st, txn, a);
    if (vs == OBJ_VER_OFF)
        return delete_plain_txn(st, txn, a);
    rc = retire_current(st, txn, a->bucket, a->key, vs, a->old);
    struct obj_meta dm = {.dm = true, .mtime = (int64_t)enc_now(), .vts = next_vts()};
    if (vs == OBJ_VER_ENABLED)
        make_vid(dm.vts, dm.vid);
    else
        strcpy(dm.vid, "null");
    if (rc == TS_OK)
        rc = vput(st, txn, a->bucket, a->key, &dm, false);
    a->res->dm = true;
    memcpy(a->res->vid, dm.vid, sizeof dm.vid);
    return rc;
}

int obj_object_delete_version(struct obj_store *st, const char *bucket, const char *key,
                              const char *vid, struct obj_del_res *res)
{
    return obj_object_delete_version_flags(st, bucket, key, vid, 0, res);
}

int obj_object_delete_version_flags(struct obj_store *st, const char *bucket, const char *key,
                                    const char *vid, unsigned flags, struct obj_del_res *res)
{
    struct del_arg a = {bucket, key, vid, res, flags, ""};
    int rc = obj_check_key(key);
    if (rc == TS_OK)
        rc = obj_check_version_id(vid);
    if (rc != TS_OK)
        return rc;
    rc = obj_int_group_commit(st, delete_apply, &a);
    if (rc == TS_OK && a.old[0])
        obj_data_unlink(st, a.old);
    return rc;
}

/* ---- reads ---- */

static int version_head_txn(struct obj_store *st, MDB_txn *txn, const char *bucket, const char *key,
                            const char *vid, struct obj_meta *out)
{
    struct vhit h;
    int rc = obj_check_version_id(vid);
    if (rc == TS_OK)
        rc = obj_int_bucket_exists_txn(st, txn, bucket);
    if (rc == TS_OK)
        rc = obj_int_object_get_txn(st, txn, bucket, key, out);
    if (vid == NULL || (rc == TS_OK && strcmp(vid_of(out), vid) == 0))
        return rc;
    if (rc == TS_OK)
        obj_meta_cleanup(out);
    else if (rc != TS_E_NO_SUCH_KEY)
        return rc;
    int r = vfind(st, txn, bucket, key, vid, &h);
    if (r <= 0)
        return r < 0 ? TS_E_INTERNAL : TS_E_NO_SUCH_VERSION;
    *out = h.m;
    return out->dm ? TS_E_METHOD_NOT_ALLOWED : TS_OK;
}

int obj_version_head(struct obj_store *st, const char *bucket, const char *key, const char *vid,
                     struct obj_meta *out)
{
    MDB_txn *txn;
    memset(out, 0, sizeof *out);
    if (obj_int_rd_begin(st, &txn) != TS_OK)
        return TS_E_INTERNAL;
    int rc = version_head_txn(st, txn, bucket, key, vid, out);
    obj_int_rd_end(st, txn);
    return rc;
}

int obj_version_open(struct obj_store *st, const char *bucket, const char *key, const char *vid,
                     struct obj_meta *out, int *fd)
{
    char path[PATH_MAX];
    /* A concurrent replace or delete may unlink the file between the lookup and the open:
     * look again. */
    for (int attempt = 0; attempt < 8; attempt++) {
        int rc = vid != NULL ? obj_version_head(st, bucket, key, vid, out)
                             : obj_object_head(st, bucket, key, out);
        if (rc != TS_OK)
            return rc;
        if (obj_data_path(st, out->id, path, sizeof path) != TS_OK) {
            obj_meta_cleanup(out);
            return TS_E_INTERNAL;
        }
        *fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*fd >= 0)
            return TS_OK;
        obj_meta_cleanup(out);
        if (errno != ENOENT)
            return TS_E_INTERNAL;
    }
    return TS_E_INTERNAL;
}

bool obj_version_current_dm(struct obj_store *st, const char *bucket, const char *key,
                            char vid[OBJ_VID_LEN + 1])
{
    MDB_txn *txn;
    struct vhit h;
    bool dm = false;
    if (obj_check_key(key) != TS_OK || obj_int_rd_begin(st, &txn) != TS_OK)
        return false;
    if (vfind(st, txn, bucket, key, NULL, &h) > 0) {
        dm = h.m.dm; /* objects has the key unless the newest is a delete marker */
        memcpy(vid, h.m.vid, OBJ_VID_LEN + 1);
        obj_meta_cleanup(&h.m);
    }
    obj_int_rd_end(st, txn);
    return dm;
}

struct edit_arg {
    const char *bucket, *key, *vid;
    obj_version_edit_fn *edit;
    void *arg;
};

/* Reads the version's record, edits it and writes it back, in the one transaction: a version
 * replaced or deleted meanwhile is never resurrected with stale metadata. */
static int edit_apply(struct obj_store *st, MDB_txn *txn, void *arg)
{
    struct edit_arg *a = arg;
    struct obj_meta m, cur;
    char old[OBJ_ID_LEN + 1];
    int rc = version_head_txn(st, txn, a->bucket, a->key, a->vid, &m);
    if (rc != TS_OK) {
        if (rc == TS_E_METHOD_NOT_ALLOWED)
            obj_meta_cleanup(&m);
        return rc;
    }
    rc = a->edit(st, txn, a->bucket, &m, a->arg);
    /* The current version (in objects), or one in versions. */
    bool current = obj_int_object_get_txn(st, txn, a->bucket, a->key, &cur) == TS_OK;
    if (current) {
        current = strcmp(vid_of(&cur), vid_of(&m)) == 0;
        obj_meta_cleanup(&cur);
    }
    if (rc == TS_OK)
        rc = current ? put_current(st, txn, a->bucket, a->key, &m, old)
                     : vput(st, txn, a->bucket, a->key, &m, true);
    obj_meta_cleanup(&m);
    return rc;
}

int obj_int_version_edit(struct obj_store *st, const char *bucket, const char *key, const char *vid,
                         obj_version_edit_fn *edit, void *arg)
{
    struct edit_arg a = {bucket, key, vid, edit, arg};
    return obj_int_group_commit(st, edit_apply, &a);
}

struct tags_arg {
    const struct http_kv *tags;
    size_t n;
};

static int edit_tags(struct obj_store *st, MDB_txn *txn, const char *bucket, struct obj_meta *m,
                     void *arg)
{
    const struct tags_arg *t = arg;
    (void)st, (void)txn, (void)bucket;
    return obj_meta_set_tags(m, t->tags, t->n);
}

static int edit_acl(struct obj_store *st, MDB_txn *txn, const char *bucket, struct obj_meta *m,
                    void *arg)
{
    (void)st, (void)txn, (void)bucket;
    m->acl = *(const uint32_t *)arg;
    return TS_OK;
}

int obj_version_tags_set(struct obj_store *st, const char *bucket, const char *key, const char *vid,
                         const struct http_kv *tags, size_t n)
{
    struct tags_arg t = {tags, n};
    return obj_int_version_edit(st, bucket, key, vid, edit_tags, &t);
}

int obj_version_acl_set(struct obj_store *st, const char *bucket, const char *key, const char *vid,
                        uint32_t acl)
{
    return obj_int_version_edit(st, bucket, key, vid, edit_acl, &acl);
}

/* ---- the whole table: recovery, DeleteBucket ---- */

int obj_int_versions_any_txn(struct obj_store *st, MDB_txn *txn, const char *bucket)
{
    MDB_cursor *c;
    size_t bl = strlen(bucket);
    MDB_val k = {bl + 1, (void *)bucket}, v;
    if (mdb_cursor_open(txn, st->db_versions, &c) != 0)
        return -1;
    int g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    int r = g == MDB_NOTFOUND ? 0
            : g != 0          ? -1
                              : k.mv_size > bl && memcmp(k.mv_data, bucket, bl + 1) == 0;
    mdb_cursor_close(c);
    return r;
}

int obj_int_versions_ids(struct obj_store *st, MDB_txn *txn, struct obj_idset *s)
{
    MDB_cursor *c;
    MDB_val k, v;
    const char *key;
    const uint8_t *m;
    size_t kl, ml;
    if (mdb_cursor_open(txn, st->db_versions, &c) != 0)
        return TS_E_INTERNAL;
    int rc = TS_OK;
    while (rc == TS_OK && mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0)
        if (vsplit(&v, &key, &kl, &m, &ml) == 0 && ml > 1 + 16 + OBJ_ID_LEN &&
            obj_idset_add(s, (const char *)m + 17) != 0)
            rc = TS_E_INTERNAL;
    mdb_cursor_close(c);
    return rc;
}

/* ---- ListObjectVersions: the ordered walks of objects (current versions) and versions ---- */

/* One entry of versions in list order. */
struct vrec {
    const char *key;
    size_t kl;
    const uint8_t *m;
    size_t ml;
    uint64_t inv;
};

static int vrec_cmp(const void *a, const void *b)
{
    const struct vrec *x = a, *y = b;
    int c = keycmp(x->key, x->kl, y->key, y->kl);
    return c ? c : x->inv < y->inv ? -1 : x->inv > y->inv;
}

/* The versions of a bucket in list order: one cursor walk; the records of keys too long for
 * their LMDB key share a prefix ("\1" records) and are sorted in memory, a cluster at a time. */
struct vwalk {
    MDB_cursor *cur;
    const char *bucket;
    size_t blen;
    MDB_val k, v;
    bool have; /* the cursor is on a record not yet buffered */
    struct vrec *buf;
    size_t bn, bi, bcap;
};

static int vwalk_buf(struct vwalk *w, const MDB_val *k, const MDB_val *v)
{
    if (w->bn == w->bcap) {
        size_t nc = w->bcap ? w->bcap * 2 : 16;
        struct vrec *nb = realloc(w->buf, nc * sizeof *nb);
        if (nb == NULL)
            return -1;
        w->buf = nb;
        w->bcap = nc;
    }
    struct vrec *r = &w->buf[w->bn];
    if (k->mv_size < VKEY_TAIL || vsplit(v, &r->key, &r->kl, &r->m, &r->ml) != 0)
        return -1;
    r->inv = rdbe64((const uint8_t *)k->mv_data + k->mv_size - 8);
    w->bn++;
    return 0;
}

static bool vwalk_in_bucket(const struct vwalk *w)
{
    return w->k.mv_size > w->blen + VKEY_TAIL && memcmp(w->k.mv_data, w->bucket, w->blen) == 0 &&
           ((const uint8_t *)w->k.mv_data)[w->blen] == 0;
}

/* The next entry without taking it: 1 (*out), 0 at the bucket's end, <0 on error. */
static int vwalk_peek(struct vwalk *w, struct vrec **out)
{
    if (w->bi < w->bn) {
        *out = &w->buf[w->bi];
        return 1;
    }
    w->bn = w->bi = 0;
    if (!w->have || !vwalk_in_bucket(w))
        return 0;
    size_t pl = w->k.mv_size - 8;
    bool cluster = ((const uint8_t *)w->k.mv_data)[pl - 1] == 1;
    const uint8_t *pfx = w->k.mv_data;
    int g;
    do {
        if (vwalk_buf(w, &w->k, &w->v) != 0)
            return -1;
        g = mdb_cursor_get(w->cur, &w->k, &w->v, MDB_NEXT);
        w->have = g == 0;
    } while (cluster && g == 0 && w->k.mv_size == pl + 8 && memcmp(w->k.mv_data, pfx, pl) == 0);
    if (g != 0 && g != MDB_NOTFOUND)
        return -1;
    if (w->bn > 1)
        qsort(w->buf, w->bn, sizeof *w->buf, vrec_cmp);
    *out = &w->buf[0];
    return 1;
}

/* Positions w at the first entry after (key, inv) (at it unless excl). */
static int vwalk_seek(struct vwalk *w, const char *key, size_t klen, uint64_t inv, bool excl)
{
    uint8_t kb[LMDB_MAXKEY];
    size_t kl;
    if (vkey(w->bucket, key, klen, inv, kb, &kl) != TS_OK)
        return -1;
    if (kb[kl - 9] == 1)
        memset(kb + kl - 8, 0, 8); /* a long key: its whole cluster */
    w->k = (MDB_val){kl, kb};
    w->bn = w->bi = 0;
    int g = mdb_cursor_get(w->cur, &w->k, &w->v, MDB_SET_RANGE);
    if (g != 0 && g != MDB_NOTFOUND)
        return -1;
    w->have = g == 0;
    struct vrec t = {key, klen, NULL, 0, inv}, *r;
    int p;
    while ((p = vwalk_peek(w, &r)) > 0) {
        int c = vrec_cmp(r, &t);
        if (c > 0 || (c == 0 && !excl))
            break;
        w->bi++;
    }
    return p < 0 ? -1 : 0;
}

/* The current versions (objects) with one entry of lookahead. */
struct owalk {
    struct obj_iter it;
    int has; /* 1: k/m hold the next entry; 0: the end; <0: error */
    const char *k;
    size_t kl, ml;
    const uint8_t *m;
};

static void owalk_next(struct owalk *o)
{
    o->has = obj_iter_next(&o->it, &o->k, &o->kl, &o->m, &o->ml);
}

static int owalk_seek(struct owalk *o, MDB_txn *txn, struct obj_store *st, const char *bucket,
                      const char *from, size_t fl, bool excl)
{
    obj_iter_close(&o->it);
    if (obj_iter_seek(&o->it, txn, st, bucket, from, fl, excl) != TS_OK)
        return -1;
    owalk_next(o);
    return o->has < 0 ? -1 : 0;
}

struct vlist {
    struct obj_store *st;
    MDB_txn *txn;
    const char *bucket;
    const struct obj_vlist_opts *o;
    struct obj_vlist_res *res;
    size_t cap;
    struct owalk ow;
    struct vwalk vw;
    const char *mid; /* the key-marker whose versions resume after version-id-marker */
    size_t midl;
};

static int vl_push(struct vlist *l, const char *k, size_t kl, const uint8_t *m, size_t ml,
                   bool latest)
{
    struct obj_vlist_res *res = l->res;
    if (res->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        struct obj_vlist_ent *nv = realloc(res->v, nc * sizeof *nv);
        if (nv == NULL)
            return TS_E_INTERNAL;
        res->v = nv;
        l->cap = nc;
    }
    struct obj_vlist_ent *e = &res->v[res->n];
    memset(e, 0, sizeof *e);
    if ((e->key = strndup(k, kl)) == NULL)
        return TS_E_INTERNAL;
    res->n++;
    e->is_prefix = m == NULL;
    e->latest = latest;
    if (m != NULL) {
        struct obj_meta om;
        if (obj_meta_decode(m, ml, &om) != TS_OK)
            return TS_E_INTERNAL;
        e->size = om.size;
        e->mtime = om.mtime;
        e->dm = om.dm;
        memcpy(e->etag, om.etag, sizeof e->etag);
        snprintf(e->vid, sizeof e->vid, "%s", vid_of(&om));
        obj_meta_cleanup(&om);
    }
    return TS_OK;
}

/* Emits the versions of key k (the current one, then versions' newest first). */
static int vl_key(struct vlist *l, const char *k, size_t kl)
{
    struct vrec *r;
    int p, rc = TS_OK;
    bool latest = !(l->mid && keycmp(k, kl, l->mid, l->midl) == 0);
    if (l->ow.has > 0 && keycmp(l->ow.k, l->ow.kl, k, kl) == 0) {
        rc = vl_push(l, k, kl, l->ow.m, l->ow.ml, true);
        latest = false;
        owalk_next(&l->ow);
        if (l->ow.has < 0)
            return TS_E_INTERNAL;
    }
    while (rc == TS_OK && l->res->n <= l->o->max && (p = vwalk_peek(&l->vw, &r)) != 0) {
        if (p < 0)
            return TS_E_INTERNAL;
        if (keycmp(r->key, r->kl, k, kl) != 0)
            break;
        rc = vl_push(l, r->key, r->kl, r->m, r->ml, latest);
        latest = false;
        l->vw.bi++;
    }
    return rc;
}

/* The smallest string greater than every string starting with p[0..n) (0: none). */
static size_t successor(char *p, size_t n)
{
    while (n && (unsigned char)p[n - 1] == 0xff)
        n--;
    if (n)
        p[n - 1] = (char)((unsigned char)p[n - 1] + 1);
    return n;
}

/* Rolls the keys under common prefix k[0..cpl) up: one entry (unless the key-marker is past
 * it), then both walks go past it. *end when nothing can follow. */
static int vl_prefix(struct vlist *l, const char *k, size_t cpl, bool *end)
{
    const char *km = l->o->key_marker;
    int rc = TS_OK;
    if (!(km && km[0] && keycmp(k, cpl, km, strlen(km)) <= 0))
        rc = vl_push(l, k, cpl, NULL, 0, false);
    char *seek = malloc(cpl ? cpl : 1);
    if (rc != TS_OK || seek == NULL) {
        free(seek);
        return TS_E_INTERNAL;
    }
    memcpy(seek, k, cpl);
    size_t sl = successor(seek, cpl);
    *end = sl == 0;
    if (!*end && (owalk_seek(&l->ow, l->txn, l->st, l->bucket, seek, sl, false) != 0 ||
                  vwalk_seek(&l->vw, seek, sl, 0, false) != 0))
        rc = TS_E_INTERNAL;
    free(seek);
    return rc;
}

/* Where the walks start: the prefix, or after the key-marker (and within its versions, after
 * the version-id-marker). */
static int vl_start(struct vlist *l, const char *prefix, size_t plen)
{
    const char *km = l->o->key_marker, *vm = l->o->vid_marker;
    size_t kml = km ? strlen(km) : 0;
    if (km == NULL || km[0] == 0 || keycmp(km, kml, prefix, plen) < 0)
        return owalk_seek(&l->ow, l->txn, l->st, l->bucket, prefix, plen, false) ||
                       vwalk_seek(&l->vw, prefix, plen, 0, false)
                   ? TS_E_INTERNAL
                   : TS_OK;
    if (owalk_seek(&l->ow, l->txn, l->st, l->bucket, km, kml, true) != 0)
        return TS_E_INTERNAL;
    if (vm == NULL || vm[0] == 0 || obj_check_key(km) != TS_OK)
        return vwalk_seek(&l->vw, km, kml, UINT64_MAX, true) ? TS_E_INTERNAL : TS_OK;
    /* Resuming inside km's versions: after the current one, or after version vm. */
    struct obj_meta cur;
    struct vhit h;
    uint64_t vts = 0, inv = UINT64_MAX;
    bool after_current = false;
    if (obj_int_object_get_txn(l->st, l->txn, l->bucket, km, &cur) == TS_OK) {
        after_current = strcmp(vid_of(&cur), vm) == 0;
        obj_meta_cleanup(&cur);
    }
    if (after_current)
        inv = 0;
    else if (vid_vts(vm, &vts) == 0)
        inv = ~vts;
    else if (vfind(l->st, l->txn, l->bucket, km, vm, &h) > 0) { /* "null" */
        inv = ~h.m.vts;
        obj_meta_cleanup(&h.m);
    }
    l->mid = km;
    l->midl = kml;
    return vwalk_seek(&l->vw, km, kml, inv, !after_current) ? TS_E_INTERNAL : TS_OK;
}

static int vl_walk(struct vlist *l)
{
    const char *prefix = l->o->prefix ? l->o->prefix : "";
    const char *delim = l->o->delimiter ? l->o->delimiter : "";
    size_t plen = strlen(prefix), dlen = strlen(delim);
    int rc = vl_start(l, prefix, plen);
    while (rc == TS_OK && l->res->n <= l->o->max) {
        struct vrec *r = NULL;
        int p = vwalk_peek(&l->vw, &r);
        if (p < 0 || l->ow.has < 0)
            return TS_E_INTERNAL;
        if (p == 0 && l->ow.has == 0)
            break;
        const char *k = p ? r->key : l->ow.k;
        size_t kl = p ? r->kl : l->ow.kl;
        if (l->ow.has > 0 && (p == 0 || keycmp(l->ow.k, l->ow.kl, k, kl) < 0)) {
            k = l->ow.k;
            kl = l->ow.kl;
        }
        if (kl < plen || memcmp(k, prefix, plen) != 0)
            break; /* sorted: past the prefix */
        const char *d = dlen ? memmem(k + plen, kl - plen, delim, dlen) : NULL;
        if (d != NULL) {
            bool end = false;
            rc = vl_prefix(l, k, (size_t)(d - k) + dlen, &end);
            if (end)
                break;
            continue;
        }
        rc = vl_key(l, k, kl);
    }
    return rc;
}

int obj_versions_list(struct obj_store *st, const char *bucket, const struct obj_vlist_opts *o,
                      struct obj_vlist_res *res)
{
    struct vlist l = {.st = st, .bucket = bucket, .o = o, .res = res};
    memset(res, 0, sizeof *res);
    l.vw.bucket = bucket;
    l.vw.blen = strlen(bucket);
    if (obj_int_rd_begin(st, &l.txn) != TS_OK)
        return TS_E_INTERNAL;
    int rc = obj_int_bucket_exists_txn(st, l.txn, bucket);
    if (rc == TS_OK && o->max > 0)
        rc = mdb_cursor_open(l.txn, st->db_versions, &l.vw.cur) == 0 ? vl_walk(&l) : TS_E_INTERNAL;
    if (rc == TS_OK && res->n > o->max) {
        res->truncated = true;
        free(res->v[--res->n].key);
    }
    obj_iter_close(&l.ow.it);
    if (l.vw.cur)
        mdb_cursor_close(l.vw.cur);
    free(l.vw.buf);
    obj_int_rd_end(st, l.txn);
    if (rc != TS_OK)
        obj_vlist_res_cleanup(res);
    return rc;
}

void obj_vlist_res_cleanup(struct obj_vlist_res *res)
{
    for (size_t i = 0; i < res->n; i++)
        free(res->v[i].key);
    free(res->v);
    memset(res, 0, sizeof *res);
}

/* ---- lifecycle expiration (lc_run.c) ---- */

struct expire_arg {
    struct del_arg d;
    const struct obj_expire *x;
};

/* The newest entry of x->key in versions: TS_OK when it is version x->vid (a delete marker when
 * dm), TS_E_PRECONDITION_FAILED when it is another or there is none. */
static int expire_newest_is(struct obj_store *st, MDB_txn *txn, const char *bucket,
                            const struct obj_expire *x, bool dm)
{
    struct vhit h;
    int r = vfind(st, txn, bucket, x->key, NULL, &h);
    if (r <= 0)
        return r < 0 ? TS_E_INTERNAL : TS_E_PRECONDITION_FAILED;
    bool is = strcmp(vid_of(&h.m), x->vid) == 0 && (!dm || h.m.dm);
    obj_meta_cleanup(&h.m);
    return is ? TS_OK : TS_E_PRECONDITION_FAILED;
}

/* Whether version x->vid of x->key is still what the pass evaluated: TS_OK, or
 * TS_E_PRECONDITION_FAILED (a write or a delete came in between). */
static int expire_check(struct obj_store *st, MDB_txn *txn, const char *bucket,
                        const struct obj_expire *x)
{
    struct obj_meta cur;
    int rc = obj_int_object_get_txn(st, txn, bucket, x->key, &cur);
    if (rc != TS_OK && rc != TS_E_NO_SUCH_KEY)
        return rc;
    bool has = rc == TS_OK, is_cur = has && strcmp(vid_of(&cur), x->vid) == 0;
    bool same = is_cur && cur.mtime == x->mtime;
    if (has)
        obj_meta_cleanup(&cur);
    switch (x->kind) {
    case OBJ_EXPIRE_CURRENT:
        return same ? TS_OK : TS_E_PRECONDITION_FAILED;
    case OBJ_EXPIRE_NONCURRENT: /* not current: neither in objects nor a newest delete marker */
        if (is_cur)
            return TS_E_PRECONDITION_FAILED;
        if (has)
            return TS_OK;
        rc = expire_newest_is(st, txn, bucket, x, false);
        return rc == TS_OK ? TS_E_PRECONDITION_FAILED : rc == TS_E_PRECONDITION_FAILED ? TS_OK : rc;
    default: /* OBJ_EXPIRE_MARKER: the current version is that delete marker */
        return has ? TS_E_PRECONDITION_FAILED : expire_newest_is(st, txn, bucket, x, true);
    }
}

static int expire_apply(struct obj_store *st, MDB_txn *txn, void *arg)
{
    struct expire_arg *a = arg;
    struct vhit h;
    int rc = obj_int_bucket_exists_txn(st, txn, a->d.bucket);
    if (rc == TS_OK)
        rc = expire_check(st, txn, a->d.bucket, a->x);
    if (rc == TS_OK)
        rc = delete_apply(st, txn, &a->d);
    if (rc != TS_OK || a->x->kind != OBJ_EXPIRE_MARKER)
        return rc;
    int r = vfind(st, txn, a->d.bucket, a->x->key, NULL, &h); /* the marker was the only one */
    if (r > 0)
        obj_meta_cleanup(&h.m);
    return r == 0 ? TS_OK : r < 0 ? TS_E_INTERNAL : TS_E_PRECONDITION_FAILED;
}

int obj_object_expire(struct obj_store *st, const char *bucket, const struct obj_expire *x,
                      struct obj_del_res *res)
{
    const char *vid = x->kind == OBJ_EXPIRE_CURRENT ? NULL : x->vid;
    struct expire_arg a = {.d = {.bucket = bucket, .key = x->key, .vid = vid, .res = res}, .x = x};
    int rc = obj_check_key(x->key);
    if (rc == TS_OK)
        rc = obj_check_version_id(x->vid);
    if (rc != TS_OK)
        return rc;
    rc = obj_int_group_commit(st, expire_apply, &a);
    if (rc == TS_OK && a.d.old[0])
        obj_data_unlink(st, a.d.old);
    return rc;
}
