/* s3_multipart.c -- S3 multipart uploads: Create, UploadPart, UploadPartCopy, Complete,
 * Abort, ListParts, ListMultipartUploads. */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/xml.h"

#define XML_MAX (64u << 20)

int s3_create_multipart(struct s3_ctx *c)
{
    struct obj_meta m = {0};
    char id[OBJ_ID_LEN + 1];
    int rc = s3_meta_from_req(c, &m);
    if (rc == TS_OK)
        rc = s3_sse_decide(c);
    /* The upload's record marks it encrypted: its parts and the object it completes into. */
    if (rc == TS_OK && c->sse_enc)
        rc = obj_meta_add_hdr(&m, OBJ_SSE_HDR, OBJ_SSE_ALGO);
    if (rc == TS_OK)
        rc = s3_ck_create(c, &m);
    if (rc == TS_OK)
        rc = obj_upload_create(c->st, c->bucket, c->key, &m, id);
    if (rc == TS_OK)
        s3_ck_create_reply(c, &m);
    obj_meta_cleanup(&m);
    if (rc != TS_OK)
        return rc;
    if (c->sse_enc)
        http_reply_header(c->r, OBJ_SSE_HDR, OBJ_SSE_ALGO);
    struct buf b;
    s3_xml_start(&b, 8192, "InitiateMultipartUploadResult");
    xml_elem(&b, "Bucket", c->bucket);
    xml_elem(&b, "Key", c->key);
    xml_elem(&b, "UploadId", id);
    xml_close(&b, "InitiateMultipartUploadResult");
    return s3_reply_xml(c, 200, &b);
}

static const char *upload_id(struct s3_ctx *c)
{
    return http_req_query(c->r, "uploadId");
}

/* The upload id and part number were checked by the router (S3_F_UPLOAD, S3_F_PART).
 * The upload exists; c->sse_enc: its parts are encrypted; its checksum algorithm
 * (s3_ck_part_start). */
static int upload_check(struct s3_ctx *c, bool copy)
{
    struct obj_meta um;
    int rc = obj_upload_get(c->st, c->bucket, c->key, upload_id(c), &um);
    if (rc == TS_OK) {
        c->sse_enc = obj_sse_meta_encrypted(&um);
        rc = s3_ck_part_start(c, &um, copy);
        obj_meta_cleanup(&um);
    }
    return rc;
}

int s3_upload_part_start(struct s3_ctx *c)
{
    int rc = upload_check(c, false);
    if (rc == TS_OK)
        rc = s3_stream_body(c, OBJ_MAX_PART_SIZE);
    return rc;
}

int s3_upload_part(struct s3_ctx *c)
{
    char etag[48], q[64], ck[OBJ_CK_B64_MAX], name[32];
    enum sigv4_cksum_algo algo;
    int rc = s3_finish_body(c, etag);
    if (rc == TS_OK)
        rc = s3_ck_part_value(c, &algo, ck);
    if (rc == TS_OK)
        rc = obj_part_commit_ck(c->st, c->bucket, c->key, upload_id(c), c->part, c->w, etag, algo,
                                ck, NULL);
    if (rc != TS_OK)
        return rc;
    snprintf(q, sizeof q, "\"%s\"", etag);
    http_reply_header(c->r, "ETag", q);
    if (algo != SIGV4_CK_NONE) {
        obj_ck_hdr_name(algo, name);
        http_reply_header(c->r, name, ck);
    }
    if (obj_writer_encrypted(c->w))
        http_reply_header(c->r, OBJ_SSE_HDR, OBJ_SSE_ALGO);
    return s3_reply_empty(c, 200);
}

int s3_upload_part_copy_start(struct s3_ctx *c)
{
    int rc = s3_copy_source(c);
    if (rc == TS_OK)
        rc = upload_check(c, true);
    return rc;
}

static int part_copy_body(struct s3_ctx *c, const struct obj_meta *src, struct obj_reader *rd,
                          void *arg)
{
    struct obj_meta pm = {0};
    uint64_t a = 0, len = src->size;
    uint8_t md5[16];
    char etag[48];
    (void)arg;
    if (c->has_cs_range) {
        /* Parsed (both ends, first <= last) by the router; here only the source's size. */
        if (c->cs_range.last >= src->size)
            return s3_fail(c, TS_E_INVALID_RANGE, S3_MSG_COPY_RANGE);
        a = c->cs_range.first;
        len = c->cs_range.last - c->cs_range.first + 1;
    }
    if (len > OBJ_MAX_PART_SIZE)
        return TS_E_ENTITY_TOO_LARGE;
    char ck[OBJ_CK_B64_MAX] = "";
    int rc = s3_copy_data(c, rd, a, len, true, md5);
    if (rc == TS_OK && c->ck_algo != SIGV4_CK_NONE) /* the upload's checksum of the part */
        rc = s3_ck_reader(c->ck_algo, rd, a, len, ck);
    if (rc != TS_OK)
        return rc;
    enc_hex(md5, 16, etag);
    rc = obj_part_commit_ck(c->st, c->bucket, c->key, upload_id(c), c->part, c->w, etag, c->ck_algo,
                            ck, &pm);
    if (rc == TS_OK) {
        struct buf b;
        char t[32];
        s3_sse_echo(c, &pm);
        s3_xml_start(&b, 4096, "CopyPartResult");
        enc_time_iso8601((time_t)pm.mtime, t);
        xml_elem(&b, "LastModified", t);
        xml_elemf(&b, "ETag", "\"%s\"", etag);
        s3_ck_xml_part(&b, &pm);
        xml_close(&b, "CopyPartResult");
        rc = s3_reply_xml(c, 200, &b);
    }
    obj_meta_cleanup(&pm);
    return rc;
}

int s3_upload_part_copy(struct s3_ctx *c)
{
    return s3_copy_from_source(c, part_copy_body, NULL);
}

/* CompleteMultipartUpload's answer for the object m it made. */
static int complete_reply(struct s3_ctx *c, const struct obj_meta *m)
{
    struct buf b;
    const char *host = http_req_header(c->r, "Host");
    char *ekey = enc_uri_encode(c->key, strlen(c->key), true);
    s3_xml_start(&b, 16384, "CompleteMultipartUploadResult");
    xml_elemf(&b, "Location", "%s://%s/%s/%s", c->r->tls ? "https" : "http",
              host ? host : "localhost", c->bucket, ekey ? ekey : c->key);
    free(ekey);
    xml_elem(&b, "Bucket", c->bucket);
    xml_elem(&b, "Key", c->key);
    xml_elemf(&b, "ETag", "\"%s\"", m->etag);
    s3_ck_xml(&b, m);
    xml_close(&b, "CompleteMultipartUploadResult");
    s3_version_header(c, m);
    s3_expiration_header(c, m);
    s3_sse_echo(c, m);
    return s3_reply_xml(c, 200, &b);
}

int s3_complete_multipart(struct s3_ctx *c)
{
    struct obj_part_ref *parts = NULL;
    struct obj_meta m = {0}, up = {0};
    const char *want = NULL;
    size_t n = 0;
    int rc = obj_upload_get(c->st, c->bucket, c->key, upload_id(c), &up);
    bool retry = rc == TS_E_NO_SUCH_UPLOAD;
    if (retry) /* completed lately: a retry answers as the first time (checksums checked then) */
        rc = obj_upload_completed(c->st, c->bucket, c->key, upload_id(c), NULL, 0, NULL);
    if (rc == TS_OK)
        rc = s3_ck_complete_want(c, &up, &want);
    if (rc != TS_OK) {
        obj_meta_cleanup(&up);
        return rc;
    }
    struct xml_node *x = s3_body_xml(c);
    if (x == NULL || strcmp(x->name, "CompleteMultipartUpload") != 0) {
        rc = TS_E_MALFORMED_XML;
        goto out;
    }
    for (struct xml_node *p = x->child; p; p = p->next)
        if (strcmp(p->name, "Part") == 0)
            n++;
    if (n == 0 || n > OBJ_MAX_PARTS) {
        rc = TS_E_MALFORMED_XML;
        goto out;
    }
    parts = calloc(n, sizeof *parts);
    if (parts == NULL) {
        rc = TS_E_INTERNAL;
        goto out;
    }
    size_t i = 0;
    for (struct xml_node *p = x->child; p; p = p->next) {
        if (strcmp(p->name, "Part") != 0)
            continue;
        const char *num = xml_child_text(p, "PartNumber"), *etag = xml_child_text(p, "ETag");
        char *end = NULL;
        unsigned long v = num && *num >= '0' && *num <= '9' ? strtoul(num, &end, 10) : 0;
        if (end == NULL || *end || etag == NULL || v > 100000) {
            rc = TS_E_MALFORMED_XML;
            goto out;
        }
        parts[i].number = (unsigned)v;
        snprintf(parts[i].etag, sizeof parts[i].etag, "%s", etag);
        s3_etag_unquote(parts[i].etag);
        if (!retry && (rc = s3_ck_complete_part(c, &up, p, &parts[i])) != TS_OK)
            goto out;
        i++;
    }
    rc = obj_upload_complete_ck(c->st, c->bucket, c->key, upload_id(c), parts, n, want,
                                s3_precond(c), &m);
    if (rc == TS_E_BAD_DIGEST)
        rc = s3_ck_bad_digest(c, &up);
    if (rc == TS_OK)
        rc = complete_reply(c, &m);
out:
    xml_free(x);
    free(parts);
    obj_meta_cleanup(&m);
    obj_meta_cleanup(&up);
    return rc;
}

int s3_abort_multipart(struct s3_ctx *c)
{
    return s3_reply_done(c, obj_upload_abort(c->st, c->bucket, c->key, upload_id(c)), 204);
}

int s3_list_parts(struct s3_ctx *c)
{
    uint64_t max, marker;
    struct obj_part_ent *v;
    size_t n;
    bool truncated;
    char t[32];
    struct obj_meta up = {0};
    int rc = s3_query_uint(c, "max-parts", 1000, 1000, &max);
    if (rc == TS_OK)
        rc = s3_query_uint(c, "part-number-marker", 0, OBJ_MAX_PARTS, &marker);
    if (rc == TS_OK)
        rc = obj_upload_get(c->st, c->bucket, c->key, upload_id(c), &up);
    if (rc == TS_OK)
        rc = obj_parts_list(c->st, upload_id(c), (unsigned)marker, (size_t)max, &v, &n, &truncated);
    if (rc != TS_OK) {
        obj_meta_cleanup(&up);
        return rc;
    }
    struct buf b;
    s3_xml_start(&b, XML_MAX, "ListPartsResult");
    xml_elem(&b, "Bucket", c->bucket);
    xml_elem(&b, "Key", c->key);
    xml_elem(&b, "UploadId", upload_id(c));
    s3_xml_owner(&b, "Initiator");
    s3_xml_owner(&b, "Owner");
    xml_elem(&b, "StorageClass", "STANDARD");
    s3_ck_xml_upload(&b, &up);
    obj_meta_cleanup(&up);
    xml_elemf(&b, "PartNumberMarker", "%llu", (unsigned long long)marker);
    xml_elemf(&b, "NextPartNumberMarker", "%u", n ? v[n - 1].number : 0);
    xml_elemf(&b, "MaxParts", "%llu", (unsigned long long)max);
    xml_elem(&b, "IsTruncated", truncated ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        xml_open(&b, "Part", NULL);
        xml_elemf(&b, "PartNumber", "%u", v[i].number);
        enc_time_iso8601((time_t)v[i].mtime, t);
        xml_elem(&b, "LastModified", t);
        xml_elemf(&b, "ETag", "\"%s\"", v[i].etag);
        xml_elemf(&b, "Size", "%llu", (unsigned long long)v[i].size);
        if (v[i].checksum_algo[0]) {
            char el[32];
            snprintf(el, sizeof el, "Checksum%s", v[i].checksum_algo);
            xml_elem(&b, el, v[i].checksum);
        }
        xml_close(&b, "Part");
    }
    xml_close(&b, "ListPartsResult");
    free(v);
    return s3_reply_xml(c, 200, &b);
}

int s3_list_multipart_uploads(struct s3_ctx *c)
{
    uint64_t max;
    struct obj_upload_ent *v;
    size_t n;
    bool truncated;
    char t[32];
    const char *prefix = http_req_query(c->r, "prefix");
    const char *km = http_req_query(c->r, "key-marker");
    const char *um = http_req_query(c->r, "upload-id-marker");
    const char *delim = http_req_query(c->r, "delimiter");
    bool url;
    int rc = s3_encoding_type(c, &url);
    if (rc == TS_OK)
        rc = s3_query_uint(c, "max-uploads", 1000, 1000, &max);
    if (rc == TS_OK)
        rc = obj_uploads_list(c->st, c->bucket, prefix, km, um, (size_t)max, &v, &n, &truncated);
    if (rc != TS_OK)
        return rc;
    struct buf b;
    s3_xml_start(&b, XML_MAX, "ListMultipartUploadsResult");
    xml_elem(&b, "Bucket", c->bucket);
    s3_xml_elem_enc(&b, "KeyMarker", km ? km : "", url);
    xml_elem(&b, "UploadIdMarker", um ? um : "");
    if (truncated && n) {
        s3_xml_elem_enc(&b, "NextKeyMarker", v[n - 1].key, url);
        xml_elem(&b, "NextUploadIdMarker", v[n - 1].upload_id);
    }
    s3_xml_elem_enc(&b, "Prefix", prefix ? prefix : "", url);
    s3_xml_elem_enc(&b, "Delimiter", delim, url);
    xml_elemf(&b, "MaxUploads", "%llu", (unsigned long long)max);
    xml_elem(&b, "IsTruncated", truncated ? "true" : "false");
    if (url)
        xml_elem(&b, "EncodingType", "url");
    for (size_t i = 0; i < n; i++) {
        xml_open(&b, "Upload", NULL);
        s3_xml_elem_enc(&b, "Key", v[i].key, url);
        xml_elem(&b, "UploadId", v[i].upload_id);
        s3_xml_owner(&b, "Initiator");
        s3_xml_owner(&b, "Owner");
        xml_elem(&b, "StorageClass", "STANDARD");
        enc_time_iso8601((time_t)v[i].initiated, t);
        xml_elem(&b, "Initiated", t);
        xml_close(&b, "Upload");
    }
    xml_close(&b, "ListMultipartUploadsResult");
    obj_uploads_list_free(v, n);
    return s3_reply_xml(c, 200, &b);
}
