/* s3_attributes.c -- GetObjectAttributes (GET /bucket/key?attributes): what HeadObject and
 * ListParts would tell of an object, as AWS answers it: the attributes named in
 * x-amz-object-attributes (ETag, Checksum, ObjectParts, StorageClass, ObjectSize), the parts of
 * a multipart object (kept in its record, obj_meta.parts) one page at a time (x-amz-max-parts,
 * x-amz-part-number-marker). Authorized for s3:GetObjectAttributes and s3:GetObject (the row's
 * S3_F_ALSO_GET; with ?versionId= their version actions). ?versionId= reads that version's
 * record (x-amz-version-id answered); delete markers are answered as GET answers them. */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/xml.h"

enum {
    ATTR_ETAG = 1,
    ATTR_CHECKSUM = 2,
    ATTR_PARTS = 4,
    ATTR_CLASS = 8,
    ATTR_SIZE = 16,
};

/* x-amz-object-attributes into *want: InvalidArgument for a name AWS does not know or none. */
static int attrs_parse(struct s3_ctx *c, unsigned *want)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"ETag", ATTR_ETAG},
                 {"Checksum", ATTR_CHECKSUM},
                 {"ObjectParts", ATTR_PARTS},
                 {"StorageClass", ATTR_CLASS},
                 {"ObjectSize", ATTR_SIZE}};
    const char *h = http_req_header(c->r, "x-amz-object-attributes");
    *want = 0;
    while (h != NULL && *h) {
        size_t n = strcspn(h, ",");
        const char *s = h, *e = h + n;
        while (s < e && *s == ' ')
            s++;
        while (e > s && e[-1] == ' ')
            e--;
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            if ((size_t)(e - s) == strlen(names[i].name) && memcmp(s, names[i].name, e - s) == 0)
                bit = names[i].bit;
        if (bit == 0 && e > s)
            break;
        *want |= bit;
        h += n + (h[n] == ',');
    }
    if ((h != NULL && *h) || *want == 0)
        return s3_fail(c, TS_E_INVALID_ARGUMENT, "Invalid attribute name specified.");
    return TS_OK;
}

/* A decimal header into [0, max] (absent: def). InvalidArgument. */
static int header_uint(struct s3_ctx *c, const char *name, uint64_t def, uint64_t max,
                       uint64_t *out)
{
    const char *v = http_req_header(c->r, name);
    uint64_t n = 0;
    *out = def;
    if (v == NULL)
        return TS_OK;
    if (*v == 0)
        return ts_error_set(c->e, TS_E_INVALID_ARGUMENT, "Invalid value for %s.", name);
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return ts_error_set(c->e, TS_E_INVALID_ARGUMENT, "Invalid value for %s.", name);
        if (n <= max)
            n = n * 10 + (uint64_t)(*p - '0');
    }
    *out = n > max ? max : n;
    return TS_OK;
}

/* <ObjectParts> of multipart object m: the parts after marker, at most max. */
static void parts_xml(struct buf *b, const struct obj_meta *m, uint64_t marker, uint64_t max)
{
    unsigned number, last = 0;
    uint64_t size, shown = 0;
    const uint8_t *ck;
    bool truncated = false;
    xml_open(b, "ObjectParts", NULL);
    xml_elemf(b, "PartsCount", "%zu", m->nparts);
    xml_elemf(b, "PartNumberMarker", "%llu", (unsigned long long)marker);
    struct buf parts;
    buf_init(&parts, 16u << 20);
    for (size_t i = 0; i < m->nparts; i++) {
        obj_meta_part_get(m, i, &number, &size, &ck);
        if (number <= marker)
            continue;
        if (shown == max) {
            truncated = true;
            break;
        }
        xml_open(&parts, "Part", NULL);
        xml_elemf(&parts, "PartNumber", "%u", number);
        xml_elemf(&parts, "Size", "%llu", (unsigned long long)size);
        s3_ck_xml_part_of(&parts, m, i);
        xml_close(&parts, "Part");
        last = number;
        shown++;
    }
    if (truncated)
        xml_elemf(b, "NextPartNumberMarker", "%u", last);
    xml_elemf(b, "MaxParts", "%llu", (unsigned long long)max);
    xml_elem(b, "IsTruncated", truncated ? "true" : "false");
    buf_add(b, buf_str(&parts), buf_len(&parts));
    buf_free(&parts);
    xml_close(b, "ObjectParts");
}

int s3_get_object_attributes(struct s3_ctx *c)
{
    struct obj_meta m;
    unsigned want;
    uint64_t max, marker;
    char t[64];
    int rc = attrs_parse(c, &want);
    if (rc == TS_OK)
        rc = header_uint(c, "x-amz-max-parts", 1000, 1000, &max);
    if (rc == TS_OK)
        rc = header_uint(c, "x-amz-part-number-marker", 0, OBJ_MAX_PARTS, &marker);
    if (rc != TS_OK)
        return rc;
    if ((rc = obj_version_head(c->st, c->bucket, c->key, c->vid, &m)) != TS_OK)
        return s3_missing_version(c, rc, &m);
    enc_time_http((time_t)m.mtime, t);
    http_reply_header(c->r, "Last-Modified", t);
    s3_version_header(c, &m);
    struct buf b;
    s3_xml_start(&b, 32u << 20, "GetObjectAttributesResponse");
    if (want & ATTR_ETAG)
        xml_elem(&b, "ETag", m.etag);
    struct buf ck;
    buf_init(&ck, 4096);
    s3_ck_xml(&ck, &m);
    if ((want & ATTR_CHECKSUM) && buf_len(&ck) > 0) {
        xml_open(&b, "Checksum", NULL);
        buf_add(&b, buf_str(&ck), buf_len(&ck));
        xml_close(&b, "Checksum");
    }
    buf_free(&ck);
    if ((want & ATTR_PARTS) && m.nparts > 0)
        parts_xml(&b, &m, marker, max);
    if (want & ATTR_CLASS)
        xml_elem(&b, "StorageClass", "STANDARD");
    if (want & ATTR_SIZE)
        xml_elemf(&b, "ObjectSize", "%llu", (unsigned long long)m.size);
    xml_close(&b, "GetObjectAttributesResponse");
    obj_meta_cleanup(&m);
    return s3_reply_xml(c, 200, &b);
}
