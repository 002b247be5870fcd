/* s3_sse.c -- server-side encryption in the S3 layer: the SSE request headers (and PostObject
 * fields), the bucket default (Put/Get/DeleteBucketEncryption, in bucket_conf "encryption"),
 * and the x-amz-server-side-encryption answer header. The data files themselves: sse.c.
 *
 * - x-amz-server-side-encryption: AES256 on PutObject, CopyObject, CreateMultipartUpload and
 *   PostObject (a form field) stores the object encrypted (SSE-S3); so does a bucket default.
 *   aws:kms and aws:kms:dsse: 501 NotImplemented (no KMS, as MinIO without one); any other
 *   value, or the header on another operation: 400 InvalidArgument.
 * - SSE-C (x-amz-[copy-source-]server-side-encryption-customer-*): over plain HTTP 400
 *   InvalidRequest as AWS (the key would have crossed the network in clear); over TLS 501
 *   NotImplemented from the store; the gateway forwards them over TLS to an https upstream only.
 */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/xml.h"
#include "objstore/gw.h"

#define SSE_CONF "encryption"
#define SSE_CONF_MAX (64u << 10)
#define SSE_PREFIX "x-amz-server-side-encryption"
#define SSE_C_PREFIX "x-amz-server-side-encryption-customer-"
#define SSE_C_COPY_PREFIX "x-amz-copy-source-server-side-encryption-customer-"
#define MSG_SSE_C_TLS                                                                              \
    "Requests specifying Server Side Encryption with Customer provided keys must be made over a "  \
    "secure connection."
#define MSG_KMS "Server side encryption specified but KMS is not configured"
#define MSG_METHOD "The encryption method specified is not supported"

/* The operations that store an object and so take x-amz-server-side-encryption. */
static bool sse_writes(const struct s3_ctx *c)
{
    static const char *const ops[] = {"PutObject", "CopyObject", "CreateMultipartUpload",
                                      "PostObject"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (strcmp(c->op->name, ops[i]) == 0)
            return true;
    return false;
}

static bool is_kms(const char *v)
{
    return strcmp(v, "aws:kms") == 0 || strcmp(v, "aws:kms:dsse") == 0;
}

int s3_sse_field(struct s3_ctx *c, const char *name, const char *value)
{
    if (strncasecmp(name, SSE_C_PREFIX, strlen(SSE_C_PREFIX)) == 0 ||
        strncasecmp(name, SSE_C_COPY_PREFIX, strlen(SSE_C_COPY_PREFIX)) == 0) {
        if (!c->r->tls)
            return s3_fail(c, TS_E_INVALID_REQUEST, MSG_SSE_C_TLS);
        if (c->st->gw != NULL && strncmp(gw_url(c->st->gw), "https://", 8) == 0)
            return TS_OK; /* the upstream decides; the key travels over TLS only */
        return s3_fail(c, TS_E_NOT_IMPLEMENTED,
                       c->st->gw != NULL
                           ? "Server side encryption with customer provided keys is not "
                             "forwarded to an upstream reached without TLS."
                           : "Server side encryption with customer provided keys is not "
                             "implemented by this server.");
    }
    if (strncasecmp(name, SSE_PREFIX, strlen(SSE_PREFIX)) != 0 || c->st->gw != NULL)
        return TS_OK; /* the gateway forwards SSE-S3 and SSE-KMS: the upstream decides */
    if (strcasecmp(name, SSE_PREFIX) == 0) {
        if (!sse_writes(c))
            return s3_fail(c, TS_E_INVALID_ARGUMENT,
                           "x-amz-server-side-encryption is only accepted by requests that "
                           "store an object.");
        if (is_kms(value))
            return s3_fail(c, TS_E_NOT_IMPLEMENTED, MSG_KMS);
        if (strcmp(value, OBJ_SSE_ALGO) != 0)
            return s3_fail(c, TS_E_INVALID_ARGUMENT, MSG_METHOD);
        c->sse_asked = true;
        return TS_OK;
    }
    /* Bucket keys only change how KMS keys are used: nothing for SSE-S3 (as in S3). */
    if (strcasecmp(name, SSE_PREFIX "-bucket-key-enabled") == 0)
        return TS_OK;
    if (strcasecmp(name, SSE_PREFIX "-aws-kms-key-id") == 0 ||
        strcasecmp(name, SSE_PREFIX "-context") == 0)
        return s3_fail(c, TS_E_NOT_IMPLEMENTED, MSG_KMS);
    return s3_fail(c, TS_E_INVALID_ARGUMENT, MSG_METHOD);
}

struct sse_walk {
    struct s3_ctx *c;
    int rc;
};

static int sse_hdr(void *ctx, const char *name, const char *value)
{
    struct sse_walk *w = ctx;
    w->rc = s3_sse_field(w->c, name, value);
    return w->rc != TS_OK;
}

int s3_sse_request(struct s3_ctx *c)
{
    struct sse_walk w = {c, TS_OK};
    http_req_header_foreach(c->r, sse_hdr, &w);
    return w.rc;
}

/* Whether bucket has a default encryption: TS_OK with *on, or the store's error. */
static int sse_bucket_default(struct s3_ctx *c, bool *on)
{
    void *doc = NULL;
    size_t len = 0;
    int rc = obj_bconf_get(c->st, c->bucket, SSE_CONF, &doc, &len);
    *on = rc == TS_OK && doc != NULL;
    free(doc);
    return rc;
}

int s3_sse_decide(struct s3_ctx *c)
{
    bool def = false;
    int rc = c->sse_asked ? TS_OK : sse_bucket_default(c, &def);
    c->sse_enc = c->sse_asked || def;
    return rc;
}

int s3_sse_writer(struct s3_ctx *c)
{
    return c->sse_enc && c->w != NULL ? obj_writer_encrypt(c->w) : TS_OK;
}

void s3_sse_echo(struct s3_ctx *c, const struct obj_meta *m)
{
    if (obj_sse_meta_encrypted(m))
        http_reply_header(c->r, OBJ_SSE_HDR, OBJ_SSE_ALGO);
}

/* ---- Put/Get/DeleteBucketEncryption ---- */

/* The one rule of a ServerSideEncryptionConfiguration: TS_OK (AES256), NotImplemented
 * (aws:kms: no KMS), MalformedXML, InvalidArgument. *bucket_key: its BucketKeyEnabled. */
static int sse_conf_check(struct s3_ctx *c, const struct xml_node *x, bool *bucket_key)
{
    const struct xml_node *rule = NULL;
    size_t nrules = 0;
    if (x == NULL || strcmp(x->name, "ServerSideEncryptionConfiguration") != 0)
        return TS_E_MALFORMED_XML;
    for (const struct xml_node *n = x->child; n; n = n->next) {
        if (strcmp(n->name, "Rule") != 0)
            return TS_E_MALFORMED_XML;
        rule = n;
        nrules++;
    }
    if (nrules != 1)
        return nrules == 0 ? TS_E_MALFORMED_XML
                           : s3_fail(c, TS_E_INVALID_ARGUMENT,
                                     "Only one rule is supported in the server side encryption "
                                     "configuration.");
    const struct xml_node *def = xml_child(rule, "ApplyServerSideEncryptionByDefault");
    const char *bke = xml_child_text(rule, "BucketKeyEnabled");
    if (def == NULL)
        return TS_E_MALFORMED_XML;
    if (bke != NULL && strcmp(bke, "true") != 0 && strcmp(bke, "false") != 0)
        return TS_E_MALFORMED_XML;
    *bucket_key = bke != NULL && strcmp(bke, "true") == 0;
    const char *algo = xml_child_text(def, "SSEAlgorithm");
    if (algo == NULL)
        return TS_E_MALFORMED_XML;
    if (is_kms(algo))
        return s3_fail(c, TS_E_NOT_IMPLEMENTED, MSG_KMS);
    if (strcmp(algo, OBJ_SSE_ALGO) != 0)
        return TS_E_MALFORMED_XML;
    if (xml_child(def, "KMSMasterKeyID") != NULL)
        return s3_fail(c, TS_E_INVALID_ARGUMENT,
                       "a KMSMasterKeyID is not applicable if the default sse algorithm is not "
                       "aws:kms or aws:kms:dsse");
    return TS_OK;
}

int s3_put_bucket_encryption(struct s3_ctx *c)
{
    bool bucket_key = false;
    int rc = s3_body_md5_check(c);
    if (rc != TS_OK)
        return rc;
    if (c->r->body == NULL || c->r->body_len == 0)
        return TS_E_MISSING_REQUEST_BODY;
    struct xml_node *x = s3_body_xml(c);
    rc = sse_conf_check(c, x, &bucket_key);
    xml_free(x);
    if (rc != TS_OK)
        return rc;
    struct buf b; /* canonical form: what GetBucketEncryption answers */
    s3_xml_start(&b, SSE_CONF_MAX, "ServerSideEncryptionConfiguration");
    xml_open(&b, "Rule", NULL);
    xml_open(&b, "ApplyServerSideEncryptionByDefault", NULL);
    xml_elem(&b, "SSEAlgorithm", OBJ_SSE_ALGO);
    xml_close(&b, "ApplyServerSideEncryptionByDefault");
    xml_elem(&b, "BucketKeyEnabled", bucket_key ? "true" : "false");
    xml_close(&b, "Rule");
    xml_close(&b, "ServerSideEncryptionConfiguration");
    rc = buf_failed(&b) ? TS_E_INTERNAL
                        : obj_bconf_put(c->st, c->bucket, SSE_CONF, buf_str(&b), buf_len(&b));
    buf_free(&b);
    return s3_reply_done(c, rc, 200);
}

int s3_get_bucket_encryption(struct s3_ctx *c)
{
    void *doc;
    size_t len;
    int rc = obj_bconf_get(c->st, c->bucket, SSE_CONF, &doc, &len);
    if (rc == TS_OK && doc == NULL)
        return TS_E_NO_SUCH_ENCRYPTION;
    if (rc != TS_OK)
        return rc;
    return http_reply_data(c->r, 200, "application/xml", doc, len, true);
}

int s3_delete_bucket_encryption(struct s3_ctx *c)
{
    return s3_reply_done(c, obj_bconf_put(c->st, c->bucket, SSE_CONF, NULL, 0), 204);
}
