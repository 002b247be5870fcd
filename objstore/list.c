/* list.c -- ListObjects over LMDB range scans: prefix, delimiter roll-up, markers, pages.
 *
 * The cost is O(page), not O(bucket): the scan starts at max(prefix, marker), stops at the
 * first key past the prefix, and when the delimiter rolls keys up into a common prefix it
 * seeks past the whole prefix instead of walking it. */
#include "objstore/obj_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"

static int cmpn(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

static const char *memmem_s(const char *h, size_t hl, const char *n, size_t nl)
{
    return memmem(h, hl, n, nl);
}

/* The smallest string greater than every string starting with p[0..n): p with trailing
 * 0xff bytes dropped and the last byte incremented. Returns the new length (0: none). */
static size_t successor(char *p, size_t n)
{
    while (n && (unsigned char)p[n - 1] == 0xff)
        n--;
    if (n)
        p[n - 1] = (char)((unsigned char)p[n - 1] + 1);
    return n;
}

static int push(struct obj_list_res *res, size_t *cap, const char *k, size_t kl, bool is_prefix,
                const uint8_t *m, size_t ml)
{
    if (res->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct obj_list_ent *nv = realloc(res->v, nc * sizeof *nv);
        if (nv == NULL)
            return TS_E_INTERNAL;
        res->v = nv;
        *cap = nc;
    }
    struct obj_list_ent *e = &res->v[res->n];
    memset(e, 0, sizeof *e);
    e->key = strndup(k, kl);
    if (e->key == NULL)
        return TS_E_INTERNAL;
    e->is_prefix = is_prefix;
    if (!is_prefix) {
        struct obj_meta om;
        if (obj_meta_decode(m, ml, &om) != TS_OK) {
            free(e->key);
            return TS_E_INTERNAL;
        }
        e->size = om.size;
        e->mtime = om.mtime;
        memcpy(e->etag, om.etag, sizeof e->etag);
        obj_meta_cleanup(&om);
    }
    res->n++;
    return TS_OK;
}

int obj_list(struct obj_store *st, const char *bucket, const struct obj_list_opts *o,
             struct obj_list_res *res)
{
    const char *prefix = o->prefix ? o->prefix : "", *delim = o->delimiter ? o->delimiter : "";
    const char *marker = o->marker;
    size_t plen = strlen(prefix), dlen = strlen(delim), mlen = marker ? strlen(marker) : 0;
    size_t cap = 0;
    char *seek = NULL;
    MDB_txn *txn;
    struct obj_iter it = {0};
    int rc;
    memset(res, 0, sizeof *res);
    if (obj_int_rd_begin(st, &txn) != TS_OK)
        return TS_E_INTERNAL;
    rc = obj_int_bucket_exists_txn(st, txn, bucket);
    if (rc != TS_OK || o->max == 0)
        goto out;
    if (marker && marker[0] && cmpn(marker, mlen, prefix, plen) >= 0)
        rc = obj_iter_seek(&it, txn, st, bucket, marker, mlen, true);
    else
        rc = obj_iter_seek(&it, txn, st, bucket, prefix, plen, false);
    if (rc != TS_OK)
        goto out;
    while (res->n <= o->max) {
        const char *k;
        size_t kl, ml;
        const uint8_t *m;
        int r = obj_iter_next(&it, &k, &kl, &m, &ml);
        if (r < 0) {
            rc = TS_E_INTERNAL;
            goto out;
        }
        if (r == 0)
            break;
        if (kl < plen || memcmp(k, prefix, plen) != 0)
            break; /* sorted: past the prefix */
        const char *d = dlen ? memmem_s(k + plen, kl - plen, delim, dlen) : NULL;
        if (d == NULL) {
            rc = push(res, &cap, k, kl, false, m, ml);
            if (rc != TS_OK)
                goto out;
            continue;
        }
        size_t cpl = (size_t)(d - k) + dlen;
        /* A common prefix at or before the marker was returned on an earlier page. */
        if (!(marker && marker[0] && cmpn(k, cpl, marker, mlen) <= 0)) {
            rc = push(res, &cap, k, cpl, true, NULL, 0);
            if (rc != TS_OK)
                goto out;
        }
        free(seek);
        seek = malloc(cpl);
        if (seek == NULL) {
            rc = TS_E_INTERNAL;
            goto out;
        }
        memcpy(seek, k, cpl);
        size_t sl = successor(seek, cpl);
        obj_iter_close(&it);
        if (sl == 0)
            break;
        rc = obj_iter_seek(&it, txn, st, bucket, seek, sl, false);
        if (rc != TS_OK)
            goto out;
    }
    if (res->n > o->max) {
        res->truncated = true;
        free(res->v[--res->n].key);
    }
out:
    obj_iter_close(&it);
    obj_int_rd_end(st, txn);
    free(seek);
    if (rc != TS_OK)
        obj_list_res_cleanup(res);
    return rc;
}

void obj_list_res_cleanup(struct obj_list_res *res)
{
    for (size_t i = 0; i < res->n; i++)
        free(res->v[i].key);
    free(res->v);
    memset(res, 0, sizeof *res);
}
