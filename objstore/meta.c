/* meta.c -- struct obj_meta: the metadata record of objects, uploads and parts, and its
 * binary encoding in LMDB values (see obj_int.h).
 *
 * Encoding (little-endian): u8 version, u64 size, i64 mtime, id[32], u8 etag length + etag,
 * u32 content-type length (0xffffffff: none) + bytes, u32 header count, then per header
 * u32 name length + name + u32 value length + value. Version 2 (a record with tags; records
 * without any keep version 1, byte for byte) appends the tags: u32 count, then per tag u32 key
 * length + key + u32 value length + value. A tag set alone (obj_tags_encode) is that tail.
 * Version 3 (a record of a versioned write: m->vid set, and nothing of version 4) always has
 * the tags' tail, then the version section's bytes (below) unframed.
 * Version 4 (a record with any section but the version alone) always has the tags' tail, then
 * u8 N (1..), then N sections, each u8 type + u32 length + that many bytes, in increasing type
 * order, each at most once, and nothing after them (a record cut anywhere is corrupt); a
 * section's reader must use exactly its bytes, and a type this build does not know makes the
 * record corrupt (fail closed: never serve an object whose ACL, say, was not understood):
 *   1 version: u8 flags (1: a delete marker), u64 vts (the version's write time in ns, its sort
 *     key), u8 version id length (1..OBJ_VID_LEN) + version id;
 *   2 parts (a multipart object completed with its parts kept): u32 count, u8 checksum length L
 *     (0..32), then per part u16 part number, u64 size and L bytes of the part's checksum
 *     (zeros: none) -- OBJ_PART_REC(L) bytes each, kept as one block;
 *   3 access (a record with an ACL or an owner): u32 ACL (acl.h), u32 owner length
 *     (0xffffffff: none) + owner;
 *   4 lock (a record with a retention or a legal hold, lock.c): u8 mode (enum obj_lock_mode),
 *     i64 retain-until (Unix seconds: positive with a mode, 0 without), u8 legal hold (enum
 *     obj_legal_hold); a section saying nothing, or any other value, is corrupt.
 * The encoder writes the lowest version that carries the record, so a record without sections
 * stays byte for byte what older builds wrote (and read).
 */
#include "objstore/obj_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

#define META_VERSION 1
#define META_VERSION_TAGS 2
#define META_VERSION_VID 3
#define META_VERSION_SECTIONS 4
#define META_F_DM 1u
#define META_MAX_PAIRS 10000

void obj_meta_cleanup(struct obj_meta *m)
{
    if (m == NULL)
        return;
    free(m->content_type);
    free(m->owner);
    http_kv_free(m->hdrs, m->nhdrs);
    http_kv_free(m->tags, m->ntags);
    free(m->parts);
    memset(m, 0, sizeof *m);
}

int obj_meta_set_parts(struct obj_meta *m, size_t n, size_t cklen)
{
    uint8_t *p = n && cklen <= 32 ? calloc(n, OBJ_PART_REC(cklen)) : NULL;
    if (n && p == NULL)
        return TS_E_INTERNAL;
    free(m->parts);
    m->parts = p;
    m->nparts = n;
    m->part_cklen = (uint8_t)cklen;
    return TS_OK;
}

void obj_meta_part_set(struct obj_meta *m, size_t i, unsigned number, uint64_t size,
                       const uint8_t *ck)
{
    uint8_t *p = m->parts + i * OBJ_PART_REC(m->part_cklen);
    p[0] = (uint8_t)number;
    p[1] = (uint8_t)(number >> 8);
    for (int k = 0; k < 8; k++)
        p[2 + k] = (uint8_t)(size >> (8 * k));
    if (ck != NULL)
        memcpy(p + 10, ck, m->part_cklen);
}

void obj_meta_part_get(const struct obj_meta *m, size_t i, unsigned *number, uint64_t *size,
                       const uint8_t **ck)
{
    const uint8_t *p = m->parts + i * OBJ_PART_REC(m->part_cklen);
    *number = (unsigned)p[0] | (unsigned)p[1] << 8;
    *size = 0;
    for (int k = 0; k < 8; k++)
        *size |= (uint64_t)p[2 + k] << (8 * k);
    *ck = p + 10;
}

int obj_meta_add_hdr(struct obj_meta *m, const char *name, const char *value)
{
    int rc = http_kv_add(&m->hdrs, &m->nhdrs, name, value);
    if (rc != TS_OK)
        return rc;
    for (char *c = m->hdrs[m->nhdrs - 1].key; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return TS_OK;
}

void obj_meta_del_hdr(struct obj_meta *m, const char *name)
{
    size_t k = 0;
    for (size_t i = 0; i < m->nhdrs; i++) {
        if (strcasecmp(m->hdrs[i].key, name) == 0) {
            free(m->hdrs[i].key);
            free(m->hdrs[i].value);
        } else {
            m->hdrs[k++] = m->hdrs[i];
        }
    }
    m->nhdrs = k;
}

const char *obj_meta_hdr(const struct obj_meta *m, const char *name)
{
    for (size_t i = 0; i < m->nhdrs; i++)
        if (strcasecmp(m->hdrs[i].key, name) == 0)
            return m->hdrs[i].value;
    return NULL;
}

int obj_meta_copy(struct obj_meta *dst, const struct obj_meta *src)
{
    memset(dst, 0, sizeof *dst);
    dst->size = src->size;
    dst->mtime = src->mtime;
    memcpy(dst->id, src->id, sizeof dst->id);
    memcpy(dst->etag, src->etag, sizeof dst->etag);
    memcpy(dst->vid, src->vid, sizeof dst->vid);
    dst->vts = src->vts;
    dst->dm = src->dm;
    if (src->content_type) {
        dst->content_type = strdup(src->content_type);
        if (dst->content_type == NULL)
            goto fail;
    }
    for (size_t i = 0; i < src->nhdrs; i++)
        if (obj_meta_add_hdr(dst, src->hdrs[i].key, src->hdrs[i].value) != TS_OK)
            goto fail;
    if (obj_meta_set_tags(dst, src->tags, src->ntags) != TS_OK ||
        obj_meta_set_parts(dst, src->nparts, src->part_cklen) != TS_OK)
        goto fail;
    if (src->nparts)
        memcpy(dst->parts, src->parts, src->nparts * OBJ_PART_REC(src->part_cklen));
    dst->acl = src->acl;
    dst->lock_mode = src->lock_mode;
    dst->lock_until = src->lock_until;
    dst->legal_hold = src->legal_hold;
    if (src->owner != NULL && (dst->owner = strdup(src->owner)) == NULL)
        goto fail;
    return TS_OK;
fail:
    obj_meta_cleanup(dst);
    return TS_E_INTERNAL;
}

int obj_meta_set_tags(struct obj_meta *m, const struct http_kv *v, size_t n)
{
    struct http_kv *t = NULL;
    size_t nt = 0;
    for (size_t i = 0; i < n; i++)
        if (http_kv_add(&t, &nt, v[i].key, v[i].value) != TS_OK) {
            http_kv_free(t, nt);
            return TS_E_INTERNAL;
        }
    http_kv_free(m->tags, m->ntags);
    m->tags = t;
    m->ntags = nt;
    return TS_OK;
}

/* Writes v as an n-byte little-endian integer. */
static void put_le(uint8_t **p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

static void put_u32(uint8_t **p, uint32_t v)
{
    put_le(p, v, 4);
}

static void put_u64(uint8_t **p, uint64_t v)
{
    put_le(p, v, 8);
}

static void put_str(uint8_t **p, const char *s)
{
    size_t n = strlen(s);
    put_u32(p, (uint32_t)n);
    memcpy(*p, s, n);
    *p += n;
}

/* Bytes of the pairs v[0..n) as put_pairs writes them. */
static size_t pairs_len(const struct http_kv *v, size_t n)
{
    size_t len = 4;
    for (size_t i = 0; i < n; i++)
        len += 8 + strlen(v[i].key) + strlen(v[i].value);
    return len;
}

static void put_pairs(uint8_t **p, const struct http_kv *v, size_t n)
{
    put_u32(p, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        put_str(p, v[i].key);
        put_str(p, v[i].value);
    }
}

void *obj_tags_encode(const struct http_kv *v, size_t n, size_t *len)
{
    uint8_t *out = malloc(pairs_len(v, n)), *p = out;
    if (out != NULL) {
        put_pairs(&p, v, n);
        *len = (size_t)(p - out);
    }
    return out;
}

struct rd {
    const uint8_t *p, *end;
};

/* Reads an n-byte little-endian integer; -1 (v untouched) when fewer bytes remain. */
static int get_le(struct rd *r, int n, uint64_t *v)
{
    if (r->end - r->p < n)
        return -1;
    *v = 0;
    for (int i = 0; i < n; i++)
        *v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return 0;
}

static int get_u32(struct rd *r, uint32_t *v)
{
    uint64_t x;
    if (get_le(r, 4, &x) != 0)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

static int get_u64(struct rd *r, uint64_t *v)
{
    return get_le(r, 8, v);
}

static int get_str(struct rd *r, char **out)
{
    uint32_t n;
    if (get_u32(r, &n) != 0 || (size_t)(r->end - r->p) < n)
        return -1;
    *out = malloc((size_t)n + 1);
    if (*out == NULL)
        return -1;
    memcpy(*out, r->p, n);
    (*out)[n] = 0;
    r->p += n;
    return 0;
}

/* Reads u32 count pairs into *v, *n (freed by the caller, also on failure). */
static int get_pairs(struct rd *r, struct http_kv **v, size_t *n)
{
    uint32_t count;
    if (get_u32(r, &count) != 0 || count > META_MAX_PAIRS)
        return -1;
    if (count && (*v = calloc(count, sizeof **v)) == NULL)
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        *n = i + 1;
        if (get_str(r, &(*v)[i].key) != 0 || get_str(r, &(*v)[i].value) != 0)
            return -1;
    }
    return 0;
}

int obj_tags_decode(const void *buf, size_t len, struct http_kv **v, size_t *n)
{
    struct rd r = {buf, (const uint8_t *)buf + len};
    *v = NULL;
    *n = 0;
    if (get_pairs(&r, v, n) == 0 && r.p == r.end)
        return TS_OK;
    http_kv_free(*v, *n);
    *v = NULL;
    *n = 0;
    return TS_E_INTERNAL;
}

/* ---- the sections of a version 4 record (and the unframed version section of version 3) ---- */

static size_t version_sec_len(const struct obj_meta *m)
{
    size_t vl = strnlen(m->vid, sizeof m->vid - 1);
    return vl > 0 ? 1 + 8 + 1 + vl : 0;
}

static void put_version(uint8_t **p, const struct obj_meta *m)
{
    size_t vl = strnlen(m->vid, sizeof m->vid - 1);
    *(*p)++ = m->dm ? META_F_DM : 0;
    put_u64(p, m->vts);
    *(*p)++ = (uint8_t)vl;
    memcpy(*p, m->vid, vl);
    *p += vl;
}

static int get_version(struct rd *r, struct obj_meta *m)
{
    if (r->end - r->p < 1)
        return -1;
    uint8_t flags = *r->p++;
    if (get_u64(r, &m->vts) != 0 || r->end - r->p < 1)
        return -1;
    size_t vl = *r->p++;
    if (vl == 0 || vl >= sizeof m->vid || (size_t)(r->end - r->p) < vl)
        return -1;
    memcpy(m->vid, r->p, vl);
    m->vid[vl] = 0;
    r->p += vl;
    m->dm = (flags & META_F_DM) != 0;
    return 0;
}

static size_t parts_sec_len(const struct obj_meta *m)
{
    return m->nparts > 0 ? 4 + 1 + m->nparts * OBJ_PART_REC(m->part_cklen) : 0;
}

static void put_parts(uint8_t **p, const struct obj_meta *m)
{
    size_t pl = m->nparts * OBJ_PART_REC(m->part_cklen);
    put_u32(p, (uint32_t)m->nparts);
    *(*p)++ = m->part_cklen;
    memcpy(*p, m->parts, pl);
    *p += pl;
}

static int get_parts(struct rd *r, struct obj_meta *m)
{
    uint32_t n;
    if (get_u32(r, &n) != 0 || n == 0 || n > OBJ_MAX_PARTS || r->p >= r->end || *r->p > 32)
        return -1;
    size_t cklen = *r->p++;
    if ((size_t)(r->end - r->p) < n * OBJ_PART_REC(cklen) ||
        obj_meta_set_parts(m, n, cklen) != TS_OK)
        return -1;
    memcpy(m->parts, r->p, n * OBJ_PART_REC(cklen));
    r->p += n * OBJ_PART_REC(cklen);
    return 0;
}

static size_t access_sec_len(const struct obj_meta *m)
{
    return m->acl != 0 || m->owner != NULL ? 4 + 4 + (m->owner ? strlen(m->owner) : 0) : 0;
}

static void put_access(uint8_t **p, const struct obj_meta *m)
{
    put_u32(p, m->acl);
    if (m->owner)
        put_str(p, m->owner);
    else
        put_u32(p, 0xffffffffu);
}

static int get_access(struct rd *r, struct obj_meta *m)
{
    uint32_t ol;
    if (get_u32(r, &m->acl) != 0 || get_u32(r, &ol) != 0)
        return -1;
    if (ol == 0xffffffffu)
        return 0;
    r->p -= 4;
    return get_str(r, &m->owner);
}

#define META_LOCK_LEN 10

static size_t lock_sec_len(const struct obj_meta *m)
{
    return m->lock_mode != OBJ_LOCK_NONE || m->legal_hold != OBJ_HOLD_NONE ? META_LOCK_LEN : 0;
}

static void put_lock(uint8_t **p, const struct obj_meta *m)
{
    *(*p)++ = m->lock_mode;
    put_u64(p, (uint64_t)m->lock_until);
    *(*p)++ = m->legal_hold;
}

/* Refused unless it says something and each field is one this build knows. */
static int get_lock(struct rd *r, struct obj_meta *m)
{
    uint64_t until = 0;
    if (r->end - r->p != META_LOCK_LEN)
        return -1;
    uint8_t mode = *r->p++;
    if (get_u64(r, &until) != 0)
        return -1;
    uint8_t hold = *r->p++;
    if (mode > OBJ_LOCK_COMPLIANCE || hold > OBJ_HOLD_ON || (int64_t)until < 0 ||
        (mode == OBJ_LOCK_NONE) != (until == 0) || (mode == OBJ_LOCK_NONE && hold == OBJ_HOLD_NONE))
        return -1;
    m->lock_mode = mode;
    m->lock_until = (int64_t)until;
    m->legal_hold = hold;
    return 0;
}

/* The sections, in their order (type increasing). len: the section's bytes, 0 when m has none. */
static const struct meta_sec {
    uint8_t type;
    size_t (*len)(const struct obj_meta *m);
    void (*put)(uint8_t **p, const struct obj_meta *m);
    int (*get)(struct rd *r, struct obj_meta *m);
} meta_secs[] = {
    {1, version_sec_len, put_version, get_version},
    {2, parts_sec_len, put_parts, get_parts},
    {3, access_sec_len, put_access, get_access},
    {4, lock_sec_len, put_lock, get_lock},
};
#define META_NSECS (sizeof meta_secs / sizeof *meta_secs)

/* The lowest version that carries m, and the bytes of what follows the kept headers. */
static uint8_t meta_version(const struct obj_meta *m, size_t *tail)
{
    size_t vl = version_sec_len(m), any = 0;
    for (size_t i = 1; i < META_NSECS; i++)
        any += meta_secs[i].len(m);
    if (any == 0) {
        *tail = m->ntags > 0 || vl > 0 ? pairs_len(m->tags, m->ntags) + vl : 0;
        return vl > 0 ? META_VERSION_VID : m->ntags > 0 ? META_VERSION_TAGS : META_VERSION;
    }
    *tail = pairs_len(m->tags, m->ntags) + 1;
    for (size_t i = 0; i < META_NSECS; i++) {
        size_t sl = meta_secs[i].len(m);
        *tail += sl > 0 ? 1 + 4 + sl : 0;
    }
    return META_VERSION_SECTIONS;
}

static void put_sections(uint8_t **p, const struct obj_meta *m)
{
    uint8_t *count = (*p)++;
    *count = 0;
    for (size_t i = 0; i < META_NSECS; i++) {
        size_t sl = meta_secs[i].len(m);
        if (sl == 0)
            continue;
        *(*p)++ = meta_secs[i].type;
        put_u32(p, (uint32_t)sl);
        meta_secs[i].put(p, m);
        (*count)++;
    }
}

void *obj_meta_encode(const struct obj_meta *m, size_t *len)
{
    size_t etl = strnlen(m->etag, sizeof m->etag - 1), tail;
    size_t n = 1 + 8 + 8 + OBJ_ID_LEN + 1 + etl + 4;
    if (m->content_type)
        n += strlen(m->content_type);
    n += pairs_len(m->hdrs, m->nhdrs);
    uint8_t version = meta_version(m, &tail);
    n += tail;
    uint8_t *out = malloc(n), *p = out;
    if (out == NULL)
        return NULL;
    *p++ = version;
    put_u64(&p, m->size);
    put_u64(&p, (uint64_t)m->mtime);
    memset(p, '0', OBJ_ID_LEN);
    memcpy(p, m->id, strnlen(m->id, OBJ_ID_LEN));
    p += OBJ_ID_LEN;
    *p++ = (uint8_t)etl;
    memcpy(p, m->etag, etl);
    p += etl;
    if (m->content_type)
        put_str(&p, m->content_type);
    else
        put_u32(&p, 0xffffffffu);
    put_pairs(&p, m->hdrs, m->nhdrs);
    if (version >= META_VERSION_TAGS)
        put_pairs(&p, m->tags, m->ntags);
    if (version == META_VERSION_VID)
        put_version(&p, m);
    else if (version == META_VERSION_SECTIONS)
        put_sections(&p, m);
    *len = n;
    return out;
}

/* The sections of a version 4 record, which must end it. */
static int get_sections(struct rd *r, struct obj_meta *m)
{
    size_t next = 0; /* the first entry of meta_secs the next section may be */
    if (r->p >= r->end || *r->p == 0)
        return -1;
    for (uint8_t n = *r->p++; n > 0; n--) {
        uint32_t sl;
        if (r->p >= r->end)
            return -1;
        uint8_t type = *r->p++;
        if (get_u32(r, &sl) != 0 || (size_t)(r->end - r->p) < sl)
            return -1;
        while (next < META_NSECS && meta_secs[next].type != type)
            next++;
        if (next == META_NSECS) /* unknown, repeated or out of order */
            return -1;
        struct rd sub = {r->p, r->p + sl};
        if (meta_secs[next].get(&sub, m) != 0 || sub.p != sub.end)
            return -1;
        r->p += sl;
        next++;
    }
    return r->p == r->end ? 0 : -1;
}

/* The fixed fields, content type and kept headers, common to every version. */
static int get_head(struct rd *r, struct obj_meta *m)
{
    uint64_t mt;
    uint32_t ctl;
    if (get_u64(r, &m->size) != 0 || get_u64(r, &mt) != 0 || r->end - r->p < OBJ_ID_LEN + 1)
        return -1;
    m->mtime = (int64_t)mt;
    memcpy(m->id, r->p, OBJ_ID_LEN);
    m->id[OBJ_ID_LEN] = 0;
    r->p += OBJ_ID_LEN;
    size_t etl = *r->p++;
    if (etl >= sizeof m->etag || (size_t)(r->end - r->p) < etl)
        return -1;
    memcpy(m->etag, r->p, etl);
    m->etag[etl] = 0;
    r->p += etl;
    if (get_u32(r, &ctl) != 0)
        return -1;
    if (ctl != 0xffffffffu) {
        r->p -= 4;
        if (get_str(r, &m->content_type) != 0)
            return -1;
    }
    return get_pairs(r, &m->hdrs, &m->nhdrs);
}

int obj_meta_decode(const void *buf, size_t len, struct obj_meta *m)
{
    struct rd r = {buf, (const uint8_t *)buf + len};
    memset(m, 0, sizeof *m);
    if (len < 1 + 8 + 8 + OBJ_ID_LEN + 1)
        return TS_E_INTERNAL;
    uint8_t version = *r.p++;
    if (version < META_VERSION || version > META_VERSION_SECTIONS)
        return TS_E_INTERNAL;
    if (get_head(&r, m) != 0)
        goto fail;
    if (version >= META_VERSION_TAGS && get_pairs(&r, &m->tags, &m->ntags) != 0)
        goto fail;
    if (version == META_VERSION_VID && get_version(&r, m) != 0)
        goto fail;
    if (version == META_VERSION_SECTIONS && get_sections(&r, m) != 0)
        goto fail;
    return TS_OK;
fail:
    obj_meta_cleanup(m);
    return TS_E_INTERNAL;
}
