/* meta.c -- struct obj_meta: the metadata record of objects, uploads and parts, and its
 * binary encoding in LMDB values (see obj_int.h).
 *
 * Encoding (little-endian): u8 version, u64 size, i64 mtime, id[32], u8 etag length + etag,
 * u32 content-type length (0xffffffff: none) + bytes, u32 header count, then per header
 * u32 name length + name + u32 value length + value. Version 2 (a record with tags; records
 * without any keep version 1, byte for byte) appends the tags: u32 count, then per tag u32 key
 * length + key + u32 value length + value. A tag set alone (obj_tags_encode) is that tail.
 * Version 3 (a record with an ACL or an owner) appends, after the tags (present, maybe 0 of
 * them), u32 ACL, then u32 owner length (0xffffffff: none) + owner.
 */
#include "objstore/obj_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

#define META_VERSION 1
#define META_VERSION_TAGS 2
#define META_VERSION_ACL 3
#define META_MAX_PAIRS 10000

void obj_meta_cleanup(struct obj_meta *m)
{
    if (m == NULL)
        return;
    free(m->content_type);
    free(m->owner);
    http_kv_free(m->hdrs, m->nhdrs);
    http_kv_free(m->tags, m->ntags);
    memset(m, 0, sizeof *m);
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
    if (src->content_type) {
        dst->content_type = strdup(src->content_type);
        if (dst->content_type == NULL)
            goto fail;
    }
    for (size_t i = 0; i < src->nhdrs; i++)
        if (obj_meta_add_hdr(dst, src->hdrs[i].key, src->hdrs[i].value) != TS_OK)
            goto fail;
    if (obj_meta_set_tags(dst, src->tags, src->ntags) != TS_OK)
        goto fail;
    dst->acl = src->acl;
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

void *obj_meta_encode(const struct obj_meta *m, size_t *len)
{
    size_t etl = strnlen(m->etag, sizeof m->etag - 1);
    size_t n = 1 + 8 + 8 + OBJ_ID_LEN + 1 + etl + 4;
    if (m->content_type)
        n += strlen(m->content_type);
    n += pairs_len(m->hdrs, m->nhdrs);
    bool acl = m->acl != 0 || m->owner != NULL;
    if (m->ntags > 0 || acl)
        n += pairs_len(m->tags, m->ntags);
    if (acl)
        n += 8 + (m->owner ? strlen(m->owner) : 0);
    uint8_t *out = malloc(n), *p = out;
    if (out == NULL)
        return NULL;
    *p++ = acl ? META_VERSION_ACL : m->ntags > 0 ? META_VERSION_TAGS : META_VERSION;
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
    if (m->ntags > 0 || acl)
        put_pairs(&p, m->tags, m->ntags);
    if (acl) {
        put_u32(&p, m->acl);
        if (m->owner)
            put_str(&p, m->owner);
        else
            put_u32(&p, 0xffffffffu);
    }
    *len = n;
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

/* The ACL tail of a version 3 record. */
static int get_acl(struct rd *r, struct obj_meta *m)
{
    uint32_t ol;
    if (get_u32(r, &m->acl) != 0 || get_u32(r, &ol) != 0)
        return -1;
    if (ol == 0xffffffffu)
        return 0;
    r->p -= 4;
    return get_str(r, &m->owner);
}

int obj_meta_decode(const void *buf, size_t len, struct obj_meta *m)
{
    struct rd r = {buf, (const uint8_t *)buf + len};
    uint64_t mt;
    uint32_t ctl;
    memset(m, 0, sizeof *m);
    if (len < 1 + 8 + 8 + OBJ_ID_LEN + 1)
        return TS_E_INTERNAL;
    uint8_t version = *r.p++;
    if (version != META_VERSION && version != META_VERSION_TAGS && version != META_VERSION_ACL)
        return TS_E_INTERNAL;
    if (get_u64(&r, &m->size) != 0 || get_u64(&r, &mt) != 0)
        goto fail;
    m->mtime = (int64_t)mt;
    memcpy(m->id, r.p, OBJ_ID_LEN);
    m->id[OBJ_ID_LEN] = 0;
    r.p += OBJ_ID_LEN;
    size_t etl = *r.p++;
    if (etl >= sizeof m->etag || (size_t)(r.end - r.p) < etl)
        goto fail;
    memcpy(m->etag, r.p, etl);
    m->etag[etl] = 0;
    r.p += etl;
    if (get_u32(&r, &ctl) != 0)
        goto fail;
    if (ctl != 0xffffffffu) {
        r.p -= 4;
        if (get_str(&r, &m->content_type) != 0)
            goto fail;
    }
    if (get_pairs(&r, &m->hdrs, &m->nhdrs) != 0)
        goto fail;
    if (version >= META_VERSION_TAGS && get_pairs(&r, &m->tags, &m->ntags) != 0)
        goto fail;
    if (version == META_VERSION_ACL && get_acl(&r, m) != 0)
        goto fail;
    return TS_OK;
fail:
    obj_meta_cleanup(m);
    return TS_E_INTERNAL;
}
