/* s3_bucket.c -- S3 bucket operations: create/delete/head/list buckets, location, listing
 * objects (v1, v2, versions), bucket policies, DeleteObjects and the configuration probes. */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/xml.h"
#include "policy/pol.h"

#define XML_MAX (64u << 20)

bool s3_bucket_visible(struct s3_ctx *c, bool all, const char *name)
{
    return all || s3_authorize(c, "s3:ListBucket", name, NULL, false) == TS_OK ||
           s3_authorize(c, "s3:GetBucketLocation", name, NULL, false) == TS_OK;
}

#define LB_PAGE_MAX 10000 /* max-buckets: 1..10000, the page size when paging is asked for */
#define LB_TOKEN_MAX 128  /* a continuation token is the base64url of a bucket name */

/* ListBuckets' query: a page is asked for with any of max-buckets, continuation-token,
 * prefix, bucket-region (AWS); without them every bucket is listed. */
struct lb_query {
    uint64_t max;
    char *after; /* the decoded continuation-token (owned), NULL from the start */
    const char *prefix, *region;
};

static int lb_query(struct s3_ctx *c, struct lb_query *q)
{
    const char *mb = http_req_query(c->r, "max-buckets");
    const char *tok = http_req_query(c->r, "continuation-token");
    q->prefix = http_req_query(c->r, "prefix");
    q->region = http_req_query(c->r, "bucket-region");
    q->after = NULL;
    q->max = mb || tok || q->prefix || q->region ? LB_PAGE_MAX : UINT64_MAX;
    if (mb && (s3_query_uint(c, "max-buckets", 0, UINT64_MAX, &q->max) != TS_OK || q->max < 1 ||
               q->max > LB_PAGE_MAX))
        return s3_fail(c, TS_E_INVALID_ARGUMENT,
                       "Argument max-buckets must be an integer between 1 and 10000.");
    if (tok == NULL || *tok == '\0')
        return TS_OK; /* an empty token (0 characters are allowed) starts at the beginning */
    /* Opaque to clients; here only a position: every bucket after it is still authorized. */
    uint8_t *raw = NULL;
    long n = strlen(tok) <= LB_TOKEN_MAX ? enc_unb64url(tok, strlen(tok), &raw) : -1;
    if (n > 0 && n <= OBJ_MAX_BUCKET_LEN && memchr(raw, 0, (size_t)n) == NULL)
        q->after = strndup((const char *)raw, (size_t)n);
    free(raw);
    if (q->after == NULL || obj_check_bucket(q->after) != TS_OK) {
        free(q->after);
        q->after = NULL;
        return s3_fail(c, TS_E_INVALID_ARGUMENT, "The continuation token provided is incorrect");
    }
    return TS_OK;
}

/* Whether row is in the page's range: after the token, with the prefix, in the region. */
static bool lb_match(const struct s3_ctx *c, const struct lb_query *q,
                     const struct s3_bucket_row *row)
{
    const char *region = row->region ? row->region : c->st->region;
    return (q->after == NULL || strcmp(row->name, q->after) > 0) &&
           (q->prefix == NULL || strncmp(row->name, q->prefix, strlen(q->prefix)) == 0) &&
           (q->region == NULL || strcmp(region, q->region) == 0);
}

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct s3_bucket_row *)a)->name, ((const struct s3_bucket_row *)b)->name);
}

static void lb_bucket(struct s3_ctx *c, struct buf *b, const struct s3_bucket_row *row)
{
    xml_open(b, "Bucket", NULL);
    xml_elem(b, "Name", row->name);
    xml_elem(b, "CreationDate", row->created ? row->created : "");
    xml_elem(b, "BucketRegion", row->region ? row->region : c->st->region);
    xml_close(b, "Bucket");
}

/* The page into b (Buckets); *any: whether the caller sees some bucket at all. The token of
 * the next page (base64url of the last name shown) into *next when more follow. */
static int lb_page(struct s3_ctx *c, const struct lb_query *q, struct s3_bucket_row *v, size_t n,
                   struct buf *b, bool *any, char **next)
{
    bool all = s3_authorize(c, "s3:ListAllMyBuckets", NULL, NULL, false) == TS_OK;
    uint64_t shown = 0;
    const char *last = NULL;
    *any = all;
    *next = NULL;
    xml_open(b, "Buckets", NULL);
    for (size_t i = 0; i < n; i++) {
        if (!lb_match(c, q, &v[i])) {
            *any = *any || s3_bucket_visible(c, false, v[i].name);
            continue;
        }
        if (!s3_bucket_visible(c, all, v[i].name))
            continue;
        *any = true;
        if (shown == q->max) {
            *next = enc_b64url((const uint8_t *)last, strlen(last));
            if (*next == NULL)
                return TS_E_INTERNAL;
            break;
        }
        lb_bucket(c, b, &v[i]);
        last = v[i].name;
        shown++;
    }
    xml_close(b, "Buckets");
    return TS_OK;
}

int s3_list_buckets_reply(struct s3_ctx *c, struct s3_bucket_row *v, size_t n)
{
    struct lb_query q;
    struct buf b;
    bool any;
    char *next;
    int rc = lb_query(c, &q);
    if (rc != TS_OK)
        return rc;
    qsort(v, n, sizeof *v, row_cmp);
    s3_xml_start(&b, XML_MAX, "ListAllMyBucketsResult");
    s3_xml_owner_as(&b, "Owner", s3_owner_of(c));
    c->quiet_authz = true;
    rc = lb_page(c, &q, v, n, &b, &any, &next);
    c->quiet_authz = false;
    free(q.after);
    if (rc != TS_OK || !any) {
        buf_free(&b);
        free(next);
        /* the audited denial when the caller sees nothing */
        return rc != TS_OK ? rc : s3_authorize(c, "s3:ListAllMyBuckets", NULL, NULL, false);
    }
    xml_elem(&b, "ContinuationToken", next);
    xml_elem(&b, "Prefix", q.prefix);
    xml_close(&b, "ListAllMyBucketsResult");
    free(next);
    return s3_reply_xml(c, 200, &b);
}

/* ListBuckets of the embedded store. */
int s3_list_buckets(struct s3_ctx *c)
{
    struct obj_bucket_ent *v;
    size_t n;
    int rc = obj_bucket_list(c->st, &v, &n);
    if (rc != TS_OK)
        return rc;
    struct s3_bucket_row *rows = calloc(n + 1, sizeof *rows);
    char(*dates)[32] = calloc(n + 1, sizeof *dates);
    if (rows == NULL || dates == NULL) {
        rc = TS_E_INTERNAL;
    } else {
        for (size_t i = 0; i < n; i++) {
            enc_time_iso8601((time_t)v[i].created, dates[i]);
            rows[i] = (struct s3_bucket_row){v[i].name, dates[i], NULL};
        }
        rc = s3_list_buckets_reply(c, rows, n);
    }
    free(rows);
    free(dates);
    obj_bucket_list_free(v, n);
    return rc;
}

int obj_buckets_visible(struct obj_store *st, struct http_req *r, const struct pol_principal *p,
                        struct iam_strv *out)
{
    struct s3_ctx c;
    struct obj_bucket_ent *v = NULL;
    size_t n = 0;
    void *saved = r->principal;
    int rc;

    memset(&c, 0, sizeof c);
    memset(out, 0, sizeof *out);
    c.r = r;
    c.st = st;
    c.quiet_authz = true;
    r->principal = (void *)p; /* borrowed for the checks below, restored before returning */
    if (st->gw != NULL) {
        rc = s3_gw_buckets_visible(&c, out);
        r->principal = saved;
        if (rc != TS_OK)
            iam_strv_free(out);
        return rc;
    }
    bool all = s3_authorize(&c, "s3:ListAllMyBuckets", NULL, NULL, false) == TS_OK;
    rc = obj_bucket_list(st, &v, &n);
    if (rc == TS_OK && n > 0 && (out->v = calloc(n, sizeof *out->v)) == NULL)
        rc = TS_E_INTERNAL;
    for (size_t i = 0; rc == TS_OK && i < n; i++) {
        if (!s3_bucket_visible(&c, all, v[i].name))
            continue;
        if ((out->v[out->n] = strdup(v[i].name)) == NULL)
            rc = TS_E_INTERNAL;
        else
            out->n++;
    }
    r->principal = saved;
    if (v != NULL)
        obj_bucket_list_free(v, n);
    if (rc != TS_OK)
        iam_strv_free(out);
    return rc;
}

int s3_create_bucket_start(struct s3_ctx *c)
{
    if (!obj_bucket_name_valid(c->bucket))
        return s3_fail(c, TS_E_INVALID_BUCKET_NAME,
                       "The specified bucket is not valid: a new bucket's name is 3 to 63 "
                       "lowercase letters, digits, dots and hyphens, begins and ends with a "
                       "letter or a digit, and is not an IP address.");
    return TS_OK;
}

int s3_create_bucket(struct s3_ctx *c)
{
    if (c->r->body_len) {
        /* CreateBucketConfiguration/LocationConstraint: accepted and ignored. */
        struct xml_node *x = s3_body_xml(c);
        if (x == NULL)
            return TS_E_MALFORMED_XML;
        xml_free(x);
    }
    const char *owner = s3_owner_of(c);
    if (owner == NULL)
        return TS_E_ACCESS_DENIED;           /* a bucket needs an owner: never an anonymous one */
    int rc = s3_acl_create_bucket(c, owner); /* with its ACL and ownership controls */
    if (rc != TS_OK)
        return rc;
    http_reply_header(c->r, "Location", c->resource);
    return s3_reply_empty(c, 200);
}

int s3_delete_bucket(struct s3_ctx *c)
{
    return s3_reply_done(c, obj_bucket_delete(c->st, c->bucket), 204);
}

int s3_head_bucket(struct s3_ctx *c)
{
    http_reply_header(c->r, "x-amz-bucket-region", c->st->region);
    return http_reply_head(c->r, 200, 0);
}

int s3_get_bucket_location(struct s3_ctx *c)
{
    struct buf b;
    buf_init(&b, 4096);
    xml_begin(&b);
    if (strcmp(c->st->region, "us-east-1") == 0) {
        buf_addf(&b, "<LocationConstraint xmlns=\"%s\"/>", S3_XMLNS);
    } else {
        xml_open(&b, "LocationConstraint", S3_XMLNS);
        buf_add_xml(&b, c->st->region);
        xml_close(&b, "LocationConstraint");
    }
    return s3_reply_xml(c, 200, &b);
}

/* ---- listing ---- */

struct list_params {
    const char *prefix, *delimiter, *encoding;
    uint64_t max;
    bool url;
};

int s3_encoding_type(struct s3_ctx *c, bool *url)
{
    const char *e = http_req_query(c->r, "encoding-type");
    *url = e != NULL;
    if (e != NULL && strcmp(e, "url") != 0)
        return s3_fail(c, TS_E_INVALID_ARGUMENT, "Invalid Encoding Method specified in Request");
    return TS_OK;
}

static int list_params(struct s3_ctx *c, struct list_params *lp)
{
    lp->prefix = http_req_query(c->r, "prefix");
    lp->delimiter = http_req_query(c->r, "delimiter");
    lp->encoding = http_req_query(c->r, "encoding-type");
    int rc = s3_encoding_type(c, &lp->url);
    return rc != TS_OK ? rc : s3_query_uint(c, "max-keys", 1000, 1000, &lp->max);
}

void s3_xml_elem_enc(struct buf *b, const char *name, const char *v, bool url)
{
    if (v == NULL)
        return;
    if (!url) {
        xml_elem(b, name, v);
        return;
    }
    char *e = enc_uri_encode(v, strlen(v), true);
    xml_elem(b, name, e ? e : v);
    free(e);
}

static void list_entry(struct buf *b, const char *tag, const struct obj_list_ent *e, bool url,
                       bool owner)
{
    char t[32];
    xml_open(b, tag, NULL);
    s3_xml_elem_enc(b, "Key", e->key, url);
    enc_time_iso8601((time_t)e->mtime, t);
    xml_elem(b, "LastModified", t);
    xml_elemf(b, "ETag", "\"%s\"", e->etag);
    xml_elemf(b, "Size", "%llu", (unsigned long long)e->size);
    if (owner)
        s3_xml_owner(b, "Owner");
    xml_elem(b, "StorageClass", "STANDARD");
    xml_close(b, tag);
}

static void list_prefixes(struct buf *b, const struct obj_list_res *res, bool url)
{
    for (size_t i = 0; i < res->n; i++) {
        if (!res->v[i].is_prefix)
            continue;
        xml_open(b, "CommonPrefixes", NULL);
        s3_xml_elem_enc(b, "Prefix", res->v[i].key, url);
        xml_close(b, "CommonPrefixes");
    }
}

/* A listing in progress: its parameters, the entries, the document. */
struct listing {
    struct list_params lp;
    struct obj_list_res res;
    struct buf b;
};

/* Runs the listing from `after` and opens the result document `root` with its Name and Prefix. */
static int list_open(struct s3_ctx *c, struct listing *l, const char *after, const char *root)
{
    struct obj_list_opts o = {l->lp.prefix, l->lp.delimiter, after, (size_t)l->lp.max};
    int rc = obj_list(c->st, c->bucket, &o, &l->res);
    if (rc != TS_OK)
        return rc;
    s3_xml_start(&l->b, XML_MAX, root);
    xml_elem(&l->b, "Name", c->bucket);
    s3_xml_elem_enc(&l->b, "Prefix", l->lp.prefix ? l->lp.prefix : "", l->lp.url);
    return TS_OK;
}

/* The parameters, then the listing from the query parameter `marker` (*after: its value). */
static int list_start(struct s3_ctx *c, struct listing *l, const char *marker, const char **after,
                      const char *root)
{
    int rc = list_params(c, &l->lp);
    *after = http_req_query(c->r, marker);
    return rc != TS_OK ? rc : list_open(c, l, *after, root);
}

/* MaxKeys, Delimiter and IsTruncated, common to every listing. */
static void list_limits(struct listing *l)
{
    xml_elemf(&l->b, "MaxKeys", "%llu", (unsigned long long)l->lp.max);
    if (l->lp.delimiter && *l->lp.delimiter)
        s3_xml_elem_enc(&l->b, "Delimiter", l->lp.delimiter, l->lp.url);
    xml_elem(&l->b, "IsTruncated", l->res.truncated ? "true" : "false");
}

/* EncodingType, the entries as `tag`, the common prefixes; closes `root` and replies. */
static int list_close(struct s3_ctx *c, struct listing *l, const char *root, const char *tag,
                      bool owner)
{
    if (l->lp.url)
        xml_elem(&l->b, "EncodingType", "url");
    for (size_t i = 0; i < l->res.n; i++)
        if (!l->res.v[i].is_prefix)
            list_entry(&l->b, tag, &l->res.v[i], l->lp.url, owner);
    list_prefixes(&l->b, &l->res, l->lp.url);
    xml_close(&l->b, root);
    obj_list_res_cleanup(&l->res);
    return s3_reply_xml(c, 200, &l->b);
}

/* The key of the last entry of a truncated listing. */
static const char *list_last(const struct listing *l)
{
    return l->res.truncated && l->res.n ? l->res.v[l->res.n - 1].key : NULL;
}

int s3_list_objects(struct s3_ctx *c)
{
    struct listing l;
    const char *marker;
    int rc = list_start(c, &l, "marker", &marker, "ListBucketResult");
    if (rc != TS_OK)
        return rc;
    s3_xml_elem_enc(&l.b, "Marker", marker ? marker : "", l.lp.url);
    list_limits(&l);
    if (l.lp.delimiter && *l.lp.delimiter)
        s3_xml_elem_enc(&l.b, "NextMarker", list_last(&l), l.lp.url);
    return list_close(c, &l, "ListBucketResult", "Contents", true);
}

/* The key a ListObjectsV2 continues after (*after, to free): the decoded continuation-token,
 * else start-after. */
static int list_v2_after(struct s3_ctx *c, const char *token, const char *start_after, char **after)
{
    *after = NULL;
    if (token && *token) { /* an empty token is no token (AWS, RGW): the listing starts */
        size_t tl = strlen(token);
        *after = malloc(tl / 4 * 3 + 4);
        long n = *after ? enc_unb64(token, tl, (uint8_t *)*after) : -1;
        if (n <= 0 || memchr(*after, 0, (size_t)n)) {
            free(*after);
            *after = NULL;
            return TS_E_INVALID_ARGUMENT;
        }
        (*after)[n] = 0;
    } else if (start_after && (*after = strdup(start_after)) == NULL) {
        return TS_E_INTERNAL;
    }
    return TS_OK;
}

int s3_list_objects_v2(struct s3_ctx *c)
{
    struct listing l;
    char *after = NULL;
    int rc = list_params(c, &l.lp);
    if (rc != TS_OK)
        return rc;
    const char *token = http_req_query(c->r, "continuation-token");
    const char *start_after = http_req_query(c->r, "start-after");
    const char *fo = http_req_query(c->r, "fetch-owner");
    rc = list_v2_after(c, token, start_after, &after);
    if (rc == TS_E_INVALID_ARGUMENT)
        return s3_fail(c, rc, "The continuation token provided is incorrect");
    if (rc == TS_OK)
        rc = list_open(c, &l, after, "ListBucketResult");
    free(after);
    if (rc != TS_OK)
        return rc;
    if (start_after)
        s3_xml_elem_enc(&l.b, "StartAfter", start_after, l.lp.url);
    if (token)
        xml_elem(&l.b, "ContinuationToken", token);
    xml_elemf(&l.b, "KeyCount", "%zu", l.res.n);
    list_limits(&l);
    if (list_last(&l) != NULL) {
        char *next = enc_b64((const uint8_t *)list_last(&l), strlen(list_last(&l)));
        xml_elem(&l.b, "NextContinuationToken", next);
        free(next);
    }
    return list_close(c, &l, "ListBucketResult", "Contents", fo && strcmp(fo, "true") == 0);
}

/* A <Version> or <DeleteMarker> of ListObjectVersions (AWS's element order). */
static void version_entry(struct buf *b, const struct obj_vlist_ent *e, bool url)
{
    char t[32];
    const char *tag = e->dm ? "DeleteMarker" : "Version";
    xml_open(b, tag, NULL);
    s3_xml_elem_enc(b, "Key", e->key, url);
    xml_elem(b, "VersionId", e->vid);
    xml_elem(b, "IsLatest", e->latest ? "true" : "false");
    enc_time_iso8601((time_t)e->mtime, t);
    xml_elem(b, "LastModified", t);
    if (!e->dm) {
        xml_elemf(b, "ETag", "\"%s\"", e->etag);
        xml_elemf(b, "Size", "%llu", (unsigned long long)e->size);
    }
    s3_xml_owner(b, "Owner");
    if (!e->dm)
        xml_elem(b, "StorageClass", "STANDARD");
    xml_close(b, tag);
}

int s3_list_object_versions(struct s3_ctx *c)
{
    struct list_params lp;
    struct obj_vlist_res res;
    struct buf b;
    const char *km = http_req_query(c->r, "key-marker");
    const char *vm = http_req_query(c->r, "version-id-marker");
    int rc = list_params(c, &lp);
    if (rc != TS_OK)
        return rc;
    if (vm != NULL && vm[0] && (km == NULL || km[0] == 0))
        return s3_fail(c, TS_E_INVALID_ARGUMENT,
                       "A version-id marker cannot be specified without a key marker.");
    if (vm != NULL && vm[0] && obj_check_version_id(vm) != TS_OK)
        return s3_fail(c, TS_E_INVALID_ARGUMENT, "Invalid version id specified");
    struct obj_vlist_opts o = {lp.prefix, lp.delimiter, km, vm, (size_t)lp.max};
    rc = obj_versions_list(c->st, c->bucket, &o, &res);
    if (rc != TS_OK)
        return rc;
    s3_xml_start(&b, XML_MAX, "ListVersionsResult");
    xml_elem(&b, "Name", c->bucket);
    s3_xml_elem_enc(&b, "Prefix", lp.prefix ? lp.prefix : "", lp.url);
    s3_xml_elem_enc(&b, "KeyMarker", km ? km : "", lp.url);
    xml_elem(&b, "VersionIdMarker", vm ? vm : "");
    if (res.truncated && res.n) {
        const struct obj_vlist_ent *last = &res.v[res.n - 1];
        s3_xml_elem_enc(&b, "NextKeyMarker", last->key, lp.url);
        if (!last->is_prefix)
            xml_elem(&b, "NextVersionIdMarker", last->vid);
    }
    xml_elemf(&b, "MaxKeys", "%llu", (unsigned long long)lp.max);
    if (lp.delimiter && *lp.delimiter)
        s3_xml_elem_enc(&b, "Delimiter", lp.delimiter, lp.url);
    xml_elem(&b, "IsTruncated", res.truncated ? "true" : "false");
    if (lp.url)
        xml_elem(&b, "EncodingType", "url");
    for (size_t i = 0; i < res.n; i++)
        if (!res.v[i].is_prefix)
            version_entry(&b, &res.v[i], lp.url);
    for (size_t i = 0; i < res.n; i++)
        if (res.v[i].is_prefix) {
            xml_open(&b, "CommonPrefixes", NULL);
            s3_xml_elem_enc(&b, "Prefix", res.v[i].key, lp.url);
            xml_close(&b, "CommonPrefixes");
        }
    xml_close(&b, "ListVersionsResult");
    obj_vlist_res_cleanup(&res);
    return s3_reply_xml(c, 200, &b);
}

/* ---- bucket policies ---- */

int s3_policy_start(struct s3_ctx *c)
{
    c->r->body_max = OBJ_MAX_POLICY;
    return TS_OK;
}

int s3_put_bucket_policy(struct s3_ctx *c)
{
    char err[512] = "";
    if (c->r->body_len > OBJ_MAX_POLICY)
        return s3_fail(c, TS_E_MALFORMED_POLICY, "Policy exceeds the maximum allowed size");
    if (c->r->body_len == 0)
        return s3_fail(c, TS_E_MALFORMED_POLICY, "Policies must be valid JSON");
    if (pol_validate((const char *)c->r->body, c->r->body_len, err, sizeof err) != TS_OK)
        return err[0] ? s3_fail(c, TS_E_MALFORMED_POLICY, err) : TS_E_MALFORMED_POLICY;
    int rc = s3_acl_policy_check(c, (const char *)c->r->body, c->r->body_len);
    if (rc == TS_OK)
        rc = obj_policy_put(c->st, c->bucket, (const char *)c->r->body, c->r->body_len);
    return s3_reply_done(c, rc, 204);
}

int s3_get_bucket_policy(struct s3_ctx *c)
{
    char *json;
    size_t len;
    int rc = obj_policy_get(c->st, c->bucket, &json, &len);
    if (rc != TS_OK)
        return rc;
    return http_reply_data(c->r, 200, "application/json", json, len, true);
}

int s3_delete_bucket_policy(struct s3_ctx *c)
{
    return s3_reply_done(c, obj_policy_delete(c->st, c->bucket), 204);
}

/* ---- configuration probes ---- */

int s3_get_bucket_versioning(struct s3_ctx *c)
{
    struct buf b;
    enum obj_versioning vs;
    int rc = obj_versioning_get(c->st, c->bucket, &vs);
    if (rc != TS_OK)
        return rc;
    buf_init(&b, 4096);
    xml_begin(&b);
    if (vs == OBJ_VER_OFF) { /* never versioned: an empty configuration, as S3 */
        buf_addf(&b, "<VersioningConfiguration xmlns=\"%s\"/>", S3_XMLNS);
        return s3_reply_xml(c, 200, &b);
    }
    xml_open(&b, "VersioningConfiguration", S3_XMLNS);
    xml_elem(&b, "Status", vs == OBJ_VER_ENABLED ? "Enabled" : "Suspended");
    xml_close(&b, "VersioningConfiguration");
    return s3_reply_xml(c, 200, &b);
}

int s3_put_bucket_versioning(struct s3_ctx *c)
{
    int rc = s3_body_md5_check(c);
    if (rc != TS_OK)
        return rc;
    struct xml_node *x = s3_body_xml(c);
    if (x == NULL || strcmp(x->name, "VersioningConfiguration") != 0) {
        xml_free(x);
        return TS_E_MALFORMED_XML;
    }
    const char *status = xml_child_text(x, "Status"), *mfa = xml_child_text(x, "MfaDelete");
    enum obj_versioning vs = OBJ_VER_OFF;
    if (status != NULL)
        vs = strcmp(status, "Enabled") == 0     ? OBJ_VER_ENABLED
             : strcmp(status, "Suspended") == 0 ? OBJ_VER_SUSPENDED
                                                : OBJ_VER_OFF;
    if ((status != NULL && vs == OBJ_VER_OFF) ||
        (mfa != NULL && strcmp(mfa, "Enabled") != 0 && strcmp(mfa, "Disabled") != 0))
        rc = TS_E_MALFORMED_XML;
    else if (mfa != NULL && strcmp(mfa, "Enabled") == 0) /* it needs x-amz-mfa: never here */
        rc = s3_fail(c, TS_E_ACCESS_DENIED, "Mfa Authentication must be used for this request");
    else if (vs != OBJ_VER_OFF)
        rc = obj_versioning_set(c->st, c->bucket, vs);
    xml_free(x);
    return s3_reply_done(c, rc, 200);
}

int s3_no_such_config(struct s3_ctx *c)
{
    if (http_req_query(c->r, "tagging"))
        return TS_E_NO_SUCH_TAG_SET;
    if (http_req_query(c->r, "cors"))
        return TS_E_NO_SUCH_CORS;
    if (http_req_query(c->r, "lifecycle"))
        return TS_E_NO_SUCH_LIFECYCLE;
    if (http_req_query(c->r, "encryption"))
        return TS_E_NO_SUCH_ENCRYPTION;
    return TS_E_NO_SUCH_OBJECT_LOCK;
}

int s3_not_implemented(struct s3_ctx *c)
{
    return TS_E_NOT_IMPLEMENTED;
}

/* ---- DeleteObjects ---- */

int s3_xml_body_start(struct s3_ctx *c)
{
    c->r->body_max = OBJ_MAX_XML_BODY;
    if (c->r->has_content_length && c->r->content_length > OBJ_MAX_XML_BODY)
        return TS_E_MAX_MESSAGE_LENGTH;
    return TS_OK;
}

int s3_delete_objects(struct s3_ctx *c)
{
    int md5 = s3_body_md5_check(c);
    if (md5 != TS_OK)
        return md5;
    struct xml_node *x = s3_body_xml(c);
    if (x == NULL || strcmp(x->name, "Delete") != 0) {
        xml_free(x);
        return TS_E_MALFORMED_XML;
    }
    size_t nobj = 0;
    for (struct xml_node *n = x->child; n; n = n->next) {
        if (strcmp(n->name, "Object") == 0) {
            if (xml_child(n, "Key") == NULL) {
                xml_free(x);
                return TS_E_MALFORMED_XML;
            }
            nobj++;
        }
    }
    if (nobj == 0 || nobj > 1000) {
        xml_free(x);
        return TS_E_MALFORMED_XML;
    }
    const char *q = xml_child_text(x, "Quiet");
    bool quiet = q && strcmp(q, "true") == 0, bypass = s3_lock_bypass(c);
    bool bypass_asked = s3_lock_bypass_asked(c);
    struct buf b;
    s3_xml_start(&b, XML_MAX, "DeleteResult");
    for (struct xml_node *n = x->child; n; n = n->next) {
        if (strcmp(n->name, "Object") != 0)
            continue;
        const char *key = xml_child_text(n, "Key");
        const char *vid = xml_child_text(n, "VersionId");
        int rc = obj_check_key(key); /* the rules of a key in the path (names.c) */
        if (rc == TS_OK)
            rc = obj_check_version_id(vid);
        if (rc == TS_OK)
            rc = s3_authorize(c, vid ? "s3:DeleteObjectVersion" : "s3:DeleteObject", c->bucket, key,
                              false);
        /* x-amz-bypass-governance-retention: asked of the authorizer per key, as the action. */
        if (rc == TS_OK && bypass_asked)
            rc = s3_authorize(c, "s3:BypassGovernanceRetention", c->bucket, key, false);
        struct obj_del_res res;
        if (rc == TS_OK)
            rc = obj_object_delete_version_flags(c->st, c->bucket, key, vid,
                                                 bypass ? OBJ_DEL_BYPASS_GOVERNANCE : 0, &res);
        if (rc == TS_OK) {
            if (quiet)
                continue;
            xml_open(&b, "Deleted", NULL);
            xml_elem(&b, "Key", key);
            if (vid)
                xml_elem(&b, "VersionId", vid);
            if (res.dm)
                xml_elem(&b, "DeleteMarker", "true");
            if (res.dm && res.vid[0])
                xml_elem(&b, "DeleteMarkerVersionId", res.vid);
            xml_close(&b, "Deleted");
        } else {
            xml_open(&b, "Error", NULL);
            xml_elem(&b, "Key", key);
            if (vid)
                xml_elem(&b, "VersionId", vid);
            xml_elem(&b, "Code", ts_err_code(rc));
            xml_elem(&b, "Message", ts_err_message(rc));
            xml_close(&b, "Error");
        }
    }
    xml_close(&b, "DeleteResult");
    xml_free(x);
    return s3_reply_xml(c, 200, &b);
}
