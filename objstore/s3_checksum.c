/* s3_checksum.c -- the additional checksums (x-amz-checksum-*) of multipart uploads and of
 * the answers that return an object's checksum, with AWS's rules and messages:
 * - CreateMultipartUpload: x-amz-checksum-algorithm (CRC32, CRC32C, CRC64NVME, SHA1, SHA256)
 *   and x-amz-checksum-type (COMPOSITE, the default but for CRC64NVME; FULL_OBJECT, for the
 *   CRC algorithms only);
 * - UploadPart: the checksum the part brings (header or aws-chunked trailer, verified by the
 *   body filter, sts/chunked.c) must be of the upload's algorithm; a part that brings none
 *   gets one computed here; UploadPartCopy computes it from the source's bytes;
 * - CompleteMultipartUpload: the Part elements' checksums, required for a COMPOSITE upload,
 *   compared with the parts' (objstore/multipart.c), and the object checksum the request
 *   names (x-amz-checksum-<algo>) compared with the one made (objstore/checksum.c).
 * The type of an object's checksum follows from its value: a composite one ends in "-N".
 */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/xml.h"

static void lower(const char *in, char *out, size_t n)
{
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
    out[i] = 0;
}

int s3_ck_create(struct s3_ctx *c, struct obj_meta *m)
{
    const char *a = http_req_header(c->r, "x-amz-checksum-algorithm");
    const char *t = http_req_header(c->r, "x-amz-checksum-type");
    char low[16];
    if (a == NULL)
        return t == NULL ? TS_OK
                         : s3_fail(c, TS_E_INVALID_REQUEST,
                                   "The x-amz-checksum-type header can only be used with the "
                                   "x-amz-checksum-algorithm header.");
    enum sigv4_cksum_algo algo = sigv4_cksum_from_name(a);
    if (algo == SIGV4_CK_NONE)
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "Checksum algorithm provided is unsupported. Please try again with any of "
                       "the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]");
    bool full = algo == SIGV4_CK_CRC64NVME;
    if (t != NULL && strcmp(t, "FULL_OBJECT") != 0 && strcmp(t, "COMPOSITE") != 0)
        return s3_fail(c, TS_E_INVALID_REQUEST, "Value for x-amz-checksum-type header is invalid.");
    if (t != NULL)
        full = strcmp(t, "FULL_OBJECT") == 0;
    lower(sigv4_cksum_name(algo), low, sizeof low);
    if ((full && !sigv4_cksum_is_crc(algo)) || (!full && algo == SIGV4_CK_CRC64NVME))
        return ts_error_set(c->e, TS_E_INVALID_REQUEST,
                            "The %s checksum type cannot be used with the %s checksum algorithm.",
                            full ? "FULL_OBJECT" : "COMPOSITE", low);
    int rc = obj_meta_add_hdr(m, OBJ_CK_ALGO_HDR, sigv4_cksum_name(algo));
    if (rc == TS_OK)
        rc = obj_meta_add_hdr(m, OBJ_CK_TYPE_HDR, full ? "FULL_OBJECT" : "COMPOSITE");
    return rc;
}

void s3_ck_create_reply(struct s3_ctx *c, const struct obj_meta *m)
{
    const char *a = obj_meta_hdr(m, OBJ_CK_ALGO_HDR), *t = obj_meta_hdr(m, OBJ_CK_TYPE_HDR);
    if (a != NULL && t != NULL) {
        http_reply_header(c->r, "x-amz-checksum-algorithm", a);
        http_reply_header(c->r, "x-amz-checksum-type", t);
    }
}

struct declared {
    enum sigv4_cksum_algo algo;
};

static int declared_hdr(void *ctx, const char *name, const char *value)
{
    struct declared *d = ctx;
    enum sigv4_cksum_algo a = sigv4_cksum_from_header(name);
    if (a == SIGV4_CK_NONE && strcasecmp(name, "x-amz-trailer") == 0) {
        while (*value == ' ')
            value++;
        char t[40];
        snprintf(t, sizeof t, "%.*s", (int)strcspn(value, " ,"), value);
        a = sigv4_cksum_from_header(t);
    }
    if (a != SIGV4_CK_NONE)
        d->algo = a;
    return 0;
}

int s3_ck_part_start(struct s3_ctx *c, const struct obj_meta *up, bool copy)
{
    struct obj_ck_mode mode;
    struct declared d = {SIGV4_CK_NONE};
    char want[16], got[16];
    obj_ck_mode_of(up, &mode);
    c->ck_algo = mode.algo;
    if (copy)
        return TS_OK;
    http_req_header_foreach(c->r, declared_hdr, &d);
    const char *sdk = http_req_header(c->r, "x-amz-sdk-checksum-algorithm");
    if (sdk != NULL && d.algo != SIGV4_CK_NONE && sigv4_cksum_from_name(sdk) != d.algo)
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "Value for x-amz-sdk-checksum-algorithm header is invalid.");
    if (mode.algo != SIGV4_CK_NONE && d.algo != SIGV4_CK_NONE && d.algo != mode.algo) {
        lower(sigv4_cksum_name(mode.algo), want, sizeof want);
        lower(sigv4_cksum_name(d.algo), got, sizeof got);
        return ts_error_set(c->e, TS_E_INVALID_REQUEST,
                            "Checksum Type mismatch occurred, expected checksum Type: %s, actual "
                            "checksum Type: %s",
                            want, got);
    }
    if (mode.algo == SIGV4_CK_NONE || d.algo != SIGV4_CK_NONE)
        return TS_OK;
    if ((c->ck = calloc(1, sizeof *c->ck)) == NULL)
        return TS_E_INTERNAL;
    return sigv4_cksum_init(c->ck, mode.algo);
}

/* The base64 of a finished checksum c into b64. */
static int ck_final_b64(struct sigv4_cksum *ck, char b64[OBJ_CK_B64_MAX])
{
    uint8_t d[32];
    enum sigv4_cksum_algo algo = ck->algo;
    sigv4_cksum_final(ck, d);
    sigv4_cksum_free(ck);
    char *b = enc_b64(d, sigv4_cksum_size(algo));
    if (b == NULL)
        return TS_E_INTERNAL;
    snprintf(b64, OBJ_CK_B64_MAX, "%s", b);
    free(b);
    return TS_OK;
}

int s3_ck_part_value(struct s3_ctx *c, enum sigv4_cksum_algo *algo, char b64[OBJ_CK_B64_MAX])
{
    *algo = SIGV4_CK_NONE;
    b64[0] = 0;
    if (c->ck != NULL) {
        *algo = c->ck->algo;
        return ck_final_b64(c->ck, b64);
    }
    if (c->r->checksum_algo[0] && c->r->checksum_b64[0]) { /* verified by the body filter */
        *algo = sigv4_cksum_from_name(c->r->checksum_algo);
        snprintf(b64, OBJ_CK_B64_MAX, "%s", c->r->checksum_b64);
    }
    return TS_OK;
}

int s3_ck_reader(enum sigv4_cksum_algo algo, struct obj_reader *rd, uint64_t off, uint64_t len,
                 char b64[OBJ_CK_B64_MAX])
{
    struct sigv4_cksum ck;
    size_t bufsz = 1u << 20;
    uint8_t *buf = malloc(bufsz);
    if (buf == NULL || sigv4_cksum_init(&ck, algo) != TS_OK) {
        free(buf);
        return TS_E_INTERNAL;
    }
    while (len > 0) {
        size_t n = len < bufsz ? (size_t)len : bufsz;
        if (obj_reader_read(rd, off, buf, n) != TS_OK) {
            sigv4_cksum_free(&ck);
            free(buf);
            return TS_E_INTERNAL;
        }
        sigv4_cksum_update(&ck, buf, n);
        off += n;
        len -= n;
    }
    free(buf);
    return ck_final_b64(&ck, b64);
}

static const char *const ck_elems[] = {
    "", "ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256"};

int s3_ck_complete_part(struct s3_ctx *c, const struct obj_meta *up, struct xml_node *part,
                        struct obj_part_ref *ref)
{
    struct obj_ck_mode mode;
    enum sigv4_cksum_algo named = SIGV4_CK_NONE;
    const char *value = NULL;
    char low[16];
    uint8_t d[32];
    obj_ck_mode_of(up, &mode);
    for (int a = SIGV4_CK_CRC32; a <= SIGV4_CK_SHA256; a++) {
        const char *v = xml_child_text(part, ck_elems[a]);
        if (v == NULL)
            continue;
        if (value != NULL)
            return s3_fail(c, TS_E_INVALID_ARGUMENT,
                           "Invalid Base64 or multiple checksums present in request");
        named = (enum sigv4_cksum_algo)a;
        value = v;
    }
    if (value != NULL && obj_ck_decode(named, value, d) != TS_OK)
        return s3_fail(c, TS_E_INVALID_ARGUMENT,
                       "Invalid Base64 or multiple checksums present in request");
    if (value != NULL && named != mode.algo)
        return TS_E_INVALID_PART; /* not the upload's algorithm: not the part's checksum */
    if (value == NULL && mode.algo != SIGV4_CK_NONE && !mode.full) {
        lower(sigv4_cksum_name(mode.algo), low, sizeof low);
        return ts_error_set(c->e, TS_E_INVALID_REQUEST,
                            "The upload was created using a %s checksum. The complete request "
                            "must include the checksum for each part. It was missing for part %u "
                            "in the request.",
                            low, ref->number);
    }
    snprintf(ref->checksum, sizeof ref->checksum, "%s", value ? value : "");
    return TS_OK;
}

int s3_ck_complete_want(struct s3_ctx *c, const struct obj_meta *up, const char **want)
{
    struct obj_ck_mode mode;
    char name[32];
    uint8_t d[32];
    const char *t = http_req_header(c->r, "x-amz-checksum-type");
    obj_ck_mode_of(up, &mode);
    *want = NULL;
    if (mode.algo == SIGV4_CK_NONE)
        return TS_OK;
    const char *have = mode.full ? "FULL_OBJECT" : "COMPOSITE";
    if (t != NULL && strcmp(t, have) != 0)
        return ts_error_set(c->e, TS_E_INVALID_REQUEST,
                            "The upload was created using the %s checksum mode. The complete "
                            "request must use the same checksum mode.",
                            have);
    obj_ck_hdr_name(mode.algo, name);
    const char *v = http_req_header(c->r, name);
    if (v == NULL)
        return TS_OK;
    char base[OBJ_CK_B64_MAX];
    snprintf(base, sizeof base, "%.*s", (int)strcspn(v, "-"), v);
    if (obj_ck_decode(mode.algo, base, d) != TS_OK)
        return ts_error_set(c->e, TS_E_INVALID_REQUEST, "Value for %s header is invalid.", name);
    *want = v;
    return TS_OK;
}

/* The algorithm and value of the checksum object m keeps (NULL: none). */
static const char *object_ck(const struct obj_meta *m, enum sigv4_cksum_algo *algo)
{
    for (size_t i = 0; i < m->nhdrs; i++) {
        *algo = sigv4_cksum_from_header(m->hdrs[i].key);
        if (*algo != SIGV4_CK_NONE)
            return m->hdrs[i].value;
    }
    return NULL;
}

void s3_ck_xml(struct buf *b, const struct obj_meta *m)
{
    enum sigv4_cksum_algo algo;
    const char *v = object_ck(m, &algo);
    if (v != NULL) {
        xml_elem(b, ck_elems[algo], v);
        xml_elem(b, "ChecksumType", strchr(v, '-') ? "COMPOSITE" : "FULL_OBJECT");
    }
}

void s3_ck_headers(struct s3_ctx *c, const struct obj_meta *m)
{
    enum sigv4_cksum_algo algo;
    char name[32];
    const char *v = object_ck(m, &algo);
    if (v != NULL) {
        obj_ck_hdr_name(algo, name);
        http_reply_header(c->r, name, v);
        http_reply_header(c->r, "x-amz-checksum-type",
                          strchr(v, '-') ? "COMPOSITE" : "FULL_OBJECT");
    }
}

void s3_ck_xml_part(struct buf *b, const struct obj_meta *part)
{
    enum sigv4_cksum_algo algo;
    const char *v = object_ck(part, &algo);
    if (v != NULL)
        xml_elem(b, ck_elems[algo], v);
}

void s3_ck_xml_upload(struct buf *b, const struct obj_meta *up)
{
    const char *a = obj_meta_hdr(up, OBJ_CK_ALGO_HDR), *t = obj_meta_hdr(up, OBJ_CK_TYPE_HDR);
    if (a != NULL && t != NULL) {
        xml_elem(b, "ChecksumAlgorithm", a);
        xml_elem(b, "ChecksumType", t);
    }
}

int s3_ck_bad_digest(struct s3_ctx *c, const struct obj_meta *up)
{
    struct obj_ck_mode mode;
    char low[16];
    obj_ck_mode_of(up, &mode);
    lower(sigv4_cksum_name(mode.algo), low, sizeof low);
    return ts_error_set(c->e, TS_E_BAD_DIGEST,
                        "The %s you specified did not match the calculated checksum.", low);
}

/* The base64 checksum of part i of multipart object m (malloc'ed; NULL when it has none) and
 * its algorithm (the object's). */
static char *part_ck(const struct obj_meta *m, size_t i, enum sigv4_cksum_algo *algo)
{
    static const uint8_t zero[32];
    unsigned number;
    uint64_t size;
    const uint8_t *ck;
    const char *v = object_ck(m, algo);
    if (v == NULL || m->part_cklen != sigv4_cksum_size(*algo) || i >= m->nparts)
        return NULL;
    obj_meta_part_get(m, i, &number, &size, &ck);
    return memcmp(ck, zero, m->part_cklen) != 0 ? enc_b64(ck, m->part_cklen) : NULL;
}

void s3_ck_headers_part(struct s3_ctx *c, const struct obj_meta *m, size_t i)
{
    enum sigv4_cksum_algo algo;
    char name[32];
    char *b = part_ck(m, i, &algo);
    if (b == NULL)
        return;
    obj_ck_hdr_name(algo, name);
    http_reply_header(c->r, name, b);
    http_reply_header(c->r, "x-amz-checksum-type",
                      strchr(object_ck(m, &algo), '-') ? "COMPOSITE" : "FULL_OBJECT");
    free(b);
}

void s3_ck_xml_part_of(struct buf *b, const struct obj_meta *m, size_t i)
{
    enum sigv4_cksum_algo algo;
    char *v = part_ck(m, i, &algo);
    if (v != NULL)
        xml_elem(b, ck_elems[algo], v);
    free(v);
}
