/* s3_ops.c -- the one table of S3 operations: how a request is recognised (method, scope,
 * subresource, copy-source header), the IAM action and resource it is authorized for, and
 * its handlers. The authz phase of core/http (policy/authz.c) authorizes what a row declares
 * (s3_authz_declare) before any body byte is read or anything is stored. docs/API.md "S3 operations
 * and IAM actions" mirrors it. */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "policy/pol.h"

/* A bucket configuration tessera does not keep: GET answers its NoSuch... error (the bucket
 * exists: s3_resolve checked it) (s3_no_such_config), PUT and DELETE (both authorized as the s3:Put
 * action) NotImplemented. The operation names follow Get/Put/Delete, the actions s3:Get/s3:Put. */
#define S3_CONF_ROW(method, sub, flags, name, action, fn)                                          \
    {                                                                                              \
        method, S3_BKT, sub, flags, name, action, S3_RES_BUCKET, NULL, fn                          \
    }
#define S3_CONF2(sub, name, action)                                                                \
    S3_CONF_ROW("GET", sub, 0, "Get" name, "s3:Get" action, s3_no_such_config),                    \
        S3_CONF_ROW("PUT", sub, 0, "Put" name, "s3:Put" action, s3_not_implemented)
#define S3_CONF3(sub, name, action, del)                                                           \
    S3_CONF2(sub, name, action),                                                                   \
        S3_CONF_ROW("DELETE", sub, 0, "Delete" del, "s3:Put" action, s3_not_implemented)

/* First match wins: specific subresources before the plain operation. */
static const struct s3_op s3_ops[] = {
    {"GET", S3_SVC, NULL, S3_F_PERKEY, "ListBuckets", "s3:ListAllMyBuckets", S3_RES_ALL, NULL,
     s3_list_buckets},
    /* bucket subresources */
    {"PUT", S3_BKT, "policy", 0, "PutBucketPolicy", "s3:PutBucketPolicy", S3_RES_BUCKET,
     s3_policy_start, s3_put_bucket_policy},
    {"GET", S3_BKT, "policy", 0, "GetBucketPolicy", "s3:GetBucketPolicy", S3_RES_BUCKET, NULL,
     s3_get_bucket_policy},
    {"DELETE", S3_BKT, "policy", 0, "DeleteBucketPolicy", "s3:DeleteBucketPolicy", S3_RES_BUCKET,
     NULL, s3_delete_bucket_policy},
    {"GET", S3_BKT, "location", 0, "GetBucketLocation", "s3:GetBucketLocation", S3_RES_BUCKET, NULL,
     s3_get_bucket_location},
    {"GET", S3_BKT, "uploads", 0, "ListMultipartUploads", "s3:ListBucketMultipartUploads",
     S3_RES_BUCKET, NULL, s3_list_multipart_uploads},
    {"GET", S3_BKT, "versions", S3_F_LISTKEYS, "ListObjectVersions", "s3:ListBucketVersions",
     S3_RES_BUCKET, NULL, s3_list_object_versions},
    {"GET", S3_BKT, "versioning", 0, "GetBucketVersioning", "s3:GetBucketVersioning", S3_RES_BUCKET,
     NULL, s3_get_bucket_versioning},
    {"PUT", S3_BKT, "versioning", 0, "PutBucketVersioning", "s3:PutBucketVersioning", S3_RES_BUCKET,
     s3_xml_body_start, s3_put_bucket_versioning},
    {"GET", S3_BKT, "acl", 0, "GetBucketAcl", "s3:GetBucketAcl", S3_RES_BUCKET, NULL, s3_get_acl},
    {"PUT", S3_BKT, "acl", 0, "PutBucketAcl", "s3:PutBucketAcl", S3_RES_BUCKET, s3_xml_body_start,
     s3_put_acl},
    {"GET", S3_BKT, "tagging", 0, "GetBucketTagging", "s3:GetBucketTagging", S3_RES_BUCKET, NULL,
     s3_get_bucket_tagging},
    {"PUT", S3_BKT, "tagging", 0, "PutBucketTagging", "s3:PutBucketTagging", S3_RES_BUCKET,
     s3_xml_body_start, s3_put_bucket_tagging},
    {"DELETE", S3_BKT, "tagging", 0, "DeleteBucketTagging", "s3:PutBucketTagging", S3_RES_BUCKET,
     NULL, s3_delete_bucket_tagging},
    {"GET", S3_BKT, "cors", 0, "GetBucketCors", "s3:GetBucketCORS", S3_RES_BUCKET, NULL,
     s3_get_bucket_cors},
    {"PUT", S3_BKT, "cors", 0, "PutBucketCors", "s3:PutBucketCORS", S3_RES_BUCKET,
     s3_cors_body_start, s3_put_bucket_cors},
    {"DELETE", S3_BKT, "cors", 0, "DeleteBucketCors", "s3:PutBucketCORS", S3_RES_BUCKET, NULL,
     s3_delete_bucket_cors},
    {"GET", S3_BKT, "lifecycle", 0, "GetBucketLifecycleConfiguration",
     "s3:GetLifecycleConfiguration", S3_RES_BUCKET, NULL, s3_get_bucket_lifecycle},
    {"PUT", S3_BKT, "lifecycle", 0, "PutBucketLifecycleConfiguration",
     "s3:PutLifecycleConfiguration", S3_RES_BUCKET, s3_xml_body_start, s3_put_bucket_lifecycle},
    {"DELETE", S3_BKT, "lifecycle", 0, "DeleteBucketLifecycle", "s3:PutLifecycleConfiguration",
     S3_RES_BUCKET, NULL, s3_delete_bucket_lifecycle},
    {"GET", S3_BKT, "encryption", 0, "GetBucketEncryption", "s3:GetEncryptionConfiguration",
     S3_RES_BUCKET, NULL, s3_get_bucket_encryption},
    {"PUT", S3_BKT, "encryption", 0, "PutBucketEncryption", "s3:PutEncryptionConfiguration",
     S3_RES_BUCKET, s3_xml_body_start, s3_put_bucket_encryption},
    {"DELETE", S3_BKT, "encryption", 0, "DeleteBucketEncryption", "s3:PutEncryptionConfiguration",
     S3_RES_BUCKET, NULL, s3_delete_bucket_encryption},
    {"GET", S3_BKT, "object-lock", 0, "GetObjectLockConfiguration",
     "s3:GetBucketObjectLockConfiguration", S3_RES_BUCKET, NULL, s3_get_lock_config},
    {"PUT", S3_BKT, "object-lock", 0, "PutObjectLockConfiguration",
     "s3:PutBucketObjectLockConfiguration", S3_RES_BUCKET, s3_xml_body_start, s3_put_lock_config},
    /* Configurations tessera's store does not keep, passed through by the gateway: here so
     * that they are authorized with their own action (the store answers NotImplemented). */
    {"GET", S3_BKT, "website", 0, "GetBucketWebsite", "s3:GetBucketWebsite", S3_RES_BUCKET, NULL,
     s3_not_implemented},
    {"PUT", S3_BKT, "website", 0, "PutBucketWebsite", "s3:PutBucketWebsite", S3_RES_BUCKET, NULL,
     s3_not_implemented},
    {"DELETE", S3_BKT, "website", 0, "DeleteBucketWebsite", "s3:DeleteBucketWebsite", S3_RES_BUCKET,
     NULL, s3_not_implemented},
    {"GET", S3_BKT, "notification", 0, "GetBucketNotificationConfiguration",
     "s3:GetBucketNotification", S3_RES_BUCKET, NULL, s3_not_implemented},
    {"PUT", S3_BKT, "notification", 0, "PutBucketNotificationConfiguration",
     "s3:PutBucketNotification", S3_RES_BUCKET, NULL, s3_not_implemented},
    {"GET", S3_BKT, "replication", 0, "GetBucketReplication", "s3:GetReplicationConfiguration",
     S3_RES_BUCKET, NULL, s3_not_implemented},
    {"PUT", S3_BKT, "replication", 0, "PutBucketReplication", "s3:PutReplicationConfiguration",
     S3_RES_BUCKET, NULL, s3_not_implemented},
    {"DELETE", S3_BKT, "replication", 0, "DeleteBucketReplication",
     "s3:PutReplicationConfiguration", S3_RES_BUCKET, NULL, s3_not_implemented},
    {"GET", S3_BKT, "logging", 0, "GetBucketLogging", "s3:GetBucketLogging", S3_RES_BUCKET, NULL,
     s3_not_implemented},
    {"PUT", S3_BKT, "logging", 0, "PutBucketLogging", "s3:PutBucketLogging", S3_RES_BUCKET, NULL,
     s3_not_implemented},
    {"GET", S3_BKT, "requestPayment", 0, "GetBucketRequestPayment", "s3:GetBucketRequestPayment",
     S3_RES_BUCKET, NULL, s3_not_implemented},
    {"PUT", S3_BKT, "requestPayment", 0, "PutBucketRequestPayment", "s3:PutBucketRequestPayment",
     S3_RES_BUCKET, NULL, s3_not_implemented},
    {"GET", S3_BKT, "accelerate", 0, "GetBucketAccelerateConfiguration",
     "s3:GetAccelerateConfiguration", S3_RES_BUCKET, NULL, s3_not_implemented},
    {"PUT", S3_BKT, "accelerate", 0, "PutBucketAccelerateConfiguration",
     "s3:PutAccelerateConfiguration", S3_RES_BUCKET, NULL, s3_not_implemented},
    {"GET", S3_BKT, "ownershipControls", 0, "GetBucketOwnershipControls",
     "s3:GetBucketOwnershipControls", S3_RES_BUCKET, NULL, s3_get_ownership},
    {"PUT", S3_BKT, "ownershipControls", 0, "PutBucketOwnershipControls",
     "s3:PutBucketOwnershipControls", S3_RES_BUCKET, s3_xml_body_start, s3_put_ownership},
    {"DELETE", S3_BKT, "ownershipControls", 0, "DeleteBucketOwnershipControls",
     "s3:PutBucketOwnershipControls", S3_RES_BUCKET, NULL, s3_delete_ownership},
    {"GET", S3_BKT, "publicAccessBlock", 0, "GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock",
     S3_RES_BUCKET, NULL, s3_get_pab},
    {"PUT", S3_BKT, "publicAccessBlock", 0, "PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
     S3_RES_BUCKET, s3_xml_body_start, s3_put_pab},
    {"DELETE", S3_BKT, "publicAccessBlock", 0, "DeletePublicAccessBlock",
     "s3:PutBucketPublicAccessBlock", S3_RES_BUCKET, NULL, s3_delete_pab},
    {"GET", S3_BKT, "policyStatus", 0, "GetBucketPolicyStatus", "s3:GetBucketPolicyStatus",
     S3_RES_BUCKET, NULL, s3_get_policy_status},
    {"POST", S3_BKT, "delete", S3_F_PERKEY, "DeleteObjects", "s3:DeleteObject", S3_RES_OBJECT,
     s3_xml_body_start, s3_delete_objects},
    /* A browser upload (HTML form): authorized by its handler once the form named the key and
     * its signer (s3_authorize_post). */
    {"POST", S3_BKT, NULL, S3_F_PERKEY | S3_F_FORM, "PostObject", "s3:PutObject", S3_RES_OBJECT,
     s3_post_start, s3_post_finish},
    /* buckets */
    {"GET", S3_BKT, "list-type=2", S3_F_LISTKEYS, "ListObjectsV2", "s3:ListBucket", S3_RES_BUCKET,
     NULL, s3_list_objects_v2},
    {"GET", S3_BKT, NULL, S3_F_LISTKEYS, "ListObjects", "s3:ListBucket", S3_RES_BUCKET, NULL,
     s3_list_objects},
    {"HEAD", S3_BKT, NULL, 0, "HeadBucket", "s3:ListBucket", S3_RES_BUCKET, NULL, s3_head_bucket},
    {"PUT", S3_BKT, NULL, S3_F_CREATE, "CreateBucket", "s3:CreateBucket", S3_RES_BUCKET,
     s3_create_bucket_start, s3_create_bucket},
    {"DELETE", S3_BKT, NULL, 0, "DeleteBucket", "s3:DeleteBucket", S3_RES_BUCKET, NULL,
     s3_delete_bucket},
    /* multipart */
    {"PUT", S3_OBJ, "uploadId", S3_F_COPY | S3_F_UPLOAD | S3_F_PART | S3_F_EXTAG, "UploadPartCopy",
     "s3:PutObject", S3_RES_OBJECT, s3_upload_part_copy_start, s3_upload_part_copy},
    {"PUT", S3_OBJ, "uploadId", S3_F_UPLOAD | S3_F_PART | S3_F_STREAM, "UploadPart", "s3:PutObject",
     S3_RES_OBJECT, s3_upload_part_start, s3_upload_part},
    {"GET", S3_OBJ, "uploadId", S3_F_UPLOAD, "ListParts", "s3:ListMultipartUploadParts",
     S3_RES_OBJECT, NULL, s3_list_parts},
    {"DELETE", S3_OBJ, "uploadId", S3_F_UPLOAD, "AbortMultipartUpload", "s3:AbortMultipartUpload",
     S3_RES_OBJECT, NULL, s3_abort_multipart},
    {"POST", S3_OBJ, "uploadId", S3_F_UPLOAD | S3_F_CONDWRITE, "CompleteMultipartUpload",
     "s3:PutObject", S3_RES_OBJECT, s3_xml_body_start, s3_complete_multipart},
    {"POST", S3_OBJ, "uploads", S3_F_TAGHDR | S3_F_ACLHDR | S3_F_LOCKHDR, "CreateMultipartUpload",
     "s3:PutObject", S3_RES_OBJECT, NULL, s3_create_multipart},
    /* object subresources */
    {"GET", S3_OBJ, "acl", S3_F_OBJECT | S3_F_EXTAG, "GetObjectAcl", "s3:GetObjectAcl",
     S3_RES_OBJECT, NULL, s3_get_acl},
    {"PUT", S3_OBJ, "acl", S3_F_OBJECT | S3_F_EXTAG, "PutObjectAcl", "s3:PutObjectAcl",
     S3_RES_OBJECT, s3_xml_body_start, s3_put_acl},
    {"GET", S3_OBJ, "tagging", S3_F_OBJECT | S3_F_EXTAG, "GetObjectTagging", "s3:GetObjectTagging",
     S3_RES_OBJECT, NULL, s3_get_object_tagging},
    {"PUT", S3_OBJ, "tagging", S3_F_OBJECT | S3_F_EXTAG | S3_F_TAGBODY, "PutObjectTagging",
     "s3:PutObjectTagging", S3_RES_OBJECT, NULL, s3_put_object_tagging},
    {"DELETE", S3_OBJ, "tagging", S3_F_OBJECT | S3_F_EXTAG, "DeleteObjectTagging",
     "s3:DeleteObjectTagging", S3_RES_OBJECT, NULL, s3_delete_object_tagging},
    {"GET", S3_OBJ, "retention", S3_F_EXTAG, "GetObjectRetention", "s3:GetObjectRetention",
     S3_RES_OBJECT, NULL, s3_get_retention},
    {"PUT", S3_OBJ, "retention", S3_F_EXTAG, "PutObjectRetention", "s3:PutObjectRetention",
     S3_RES_OBJECT, s3_xml_body_start, s3_put_retention},
    {"GET", S3_OBJ, "legal-hold", S3_F_EXTAG, "GetObjectLegalHold", "s3:GetObjectLegalHold",
     S3_RES_OBJECT, NULL, s3_get_legal_hold},
    {"PUT", S3_OBJ, "legal-hold", S3_F_EXTAG, "PutObjectLegalHold", "s3:PutObjectLegalHold",
     S3_RES_OBJECT, s3_xml_body_start, s3_put_legal_hold},
    {"GET", S3_OBJ, "attributes", S3_F_EXTAG | S3_F_ALSO_GET, "GetObjectAttributes",
     "s3:GetObjectAttributes", S3_RES_OBJECT, NULL, s3_get_object_attributes},
    {"POST", S3_OBJ, "restore", 0, "RestoreObject", "s3:RestoreObject", S3_RES_OBJECT, NULL,
     s3_not_implemented},
    {"POST", S3_OBJ, "select", S3_F_EXTAG, "SelectObjectContent", "s3:GetObject", S3_RES_OBJECT,
     NULL, s3_not_implemented},
    /* objects */
    {"PUT", S3_OBJ, NULL,
     S3_F_COPY | S3_F_TAGHDR | S3_F_EXTAG | S3_F_CONDWRITE | S3_F_ACLHDR | S3_F_LOCKHDR,
     "CopyObject", "s3:PutObject", S3_RES_OBJECT, s3_copy_source, s3_copy_object},
    {"PUT", S3_OBJ, NULL, S3_F_STREAM | S3_F_TAGHDR | S3_F_CONDWRITE | S3_F_ACLHDR | S3_F_LOCKHDR,
     "PutObject", "s3:PutObject", S3_RES_OBJECT, s3_put_object_start, s3_put_object},
    {"GET", S3_OBJ, NULL, S3_F_EXTAG, "GetObject", "s3:GetObject", S3_RES_OBJECT, NULL,
     s3_get_object},
    {"HEAD", S3_OBJ, NULL, S3_F_EXTAG, "HeadObject", "s3:GetObject", S3_RES_OBJECT, NULL,
     s3_get_object},
    {"DELETE", S3_OBJ, NULL, 0, "DeleteObject", "s3:DeleteObject", S3_RES_OBJECT, NULL,
     s3_delete_object},
};

static bool query_matches(struct http_req *r, const char *q)
{
    const char *eq = strchr(q, '=');
    if (eq == NULL)
        return http_req_query(r, q) != NULL;
    char name[32];
    snprintf(name, sizeof name, "%.*s", (int)(eq - q), q);
    const char *v = http_req_query(r, name);
    return v && strcmp(v, eq + 1) == 0;
}

const struct s3_op *s3_op_find(struct http_req *r, enum s3_scope scope)
{
    bool copy = http_req_header(r, "x-amz-copy-source") != NULL;
    for (size_t i = 0; i < sizeof s3_ops / sizeof *s3_ops; i++) {
        const struct s3_op *op = &s3_ops[i];
        if (op->scope != scope || strcmp(op->method, r->method) != 0)
            continue;
        if (op->query && !query_matches(r, op->query))
            continue;
        if ((op->flags & S3_F_COPY) && !copy)
            continue;
        return op;
    }
    return NULL;
}

/* The bucket's say (struct pol_resource: policy, public access block, ACL source). */
static int s3_policy_get(void *st, const char *bucket, const void **doc, void **handle)
{
    return obj_access_acquire(st, bucket, (const struct pol_resource **)doc,
                              (struct obj_pcache **)handle);
}

static void s3_policy_release(void *handle)
{
    obj_policy_release(handle);
}

/* A descriptor for c with no item yet: the bucket policy, the listing condition keys. */
static void s3_authz_init(struct s3_ctx *c, struct http_authz *q, bool list_keys)
{
    memset(q, 0, sizeof *q);
    q->op = c->op ? c->op->name : NULL;
    q->flags = c->quiet_authz ? HTTP_AUTHZ_QUIET : 0;
    q->policy_get = c->st->gw ? s3_gw_policy_get : s3_policy_get;
    q->policy_release = c->st->gw ? s3_gw_policy_release : s3_policy_release;
    q->policy_ctx = c->st->gw ? (void *)c->st->gw : (void *)c->st;
    if (list_keys) {
        static const char *const names[] = {"prefix", "delimiter", "max-keys"};
        static const char *const cond[] = {"s3:prefix", "s3:delimiter", "s3:max-keys"};
        for (int i = 0; i < 3; i++) {
            const char *v = http_req_query(c->r, names[i]);
            if (v) {
                q->keys[q->nkeys].key = (char *)cond[i];
                q->keys[q->nkeys++].value = (char *)v;
            }
        }
    }
}

/* Adds action on arn:aws:s3:::bucket[/key] (bucket NULL: "*") to q; *arn gets the ARN, which
 * the caller frees after the question. TS_OK or TS_E_INTERNAL. */
static int s3_authz_add(struct http_authz *q, const char *action, const char *bucket,
                        const char *key, char **arn)
{
    size_t rlen = 16 + (bucket ? strlen(bucket) : 1) + (key ? strlen(key) + 1 : 0);
    if (q->nitems >= HTTP_AUTHZ_MAX_ITEMS || (*arn = malloc(rlen)) == NULL)
        return TS_E_INTERNAL;
    if (bucket == NULL)
        snprintf(*arn, rlen, "arn:aws:s3:::*");
    else if (key == NULL)
        snprintf(*arn, rlen, "arn:aws:s3:::%s", bucket);
    else
        snprintf(*arn, rlen, "arn:aws:s3:::%s/%s", bucket, key);
    q->item[q->nitems++] = (struct http_authz_item){action, *arn, bucket, NULL};
    return TS_OK;
}

/* Headers that ask for more than the operation's own action: the caller must be allowed that
 * too (AWS's rule), whichever backend answers. `accepted`: a value that asks nothing (a private
 * ACL). op NULL: every object write (s3:Put... on an object). */
#define S3_PUT_PREFIX "s3:Put" /* the actions of object writes */
static const struct {
    const char *prefix, *op, *action, *accepted;
} implied[] = {
    {"x-amz-tagging", "PutObject", "s3:PutObjectTagging", NULL},
    {"x-amz-tagging", "CopyObject", "s3:PutObjectTagging", NULL},
    {"x-amz-tagging", "CreateMultipartUpload", "s3:PutObjectTagging", NULL},
    {"x-amz-object-lock-mode", NULL, "s3:PutObjectRetention", NULL},
    {"x-amz-object-lock-retain-until-date", NULL, "s3:PutObjectRetention", NULL},
    {"x-amz-object-lock-legal-hold", NULL, "s3:PutObjectLegalHold", NULL},
    {"x-amz-bypass-governance-retention", NULL, "s3:BypassGovernanceRetention", NULL},
    {"x-amz-acl", "CreateBucket", "s3:PutBucketAcl", "private"},
    {"x-amz-grant-", "CreateBucket", "s3:PutBucketAcl", NULL},
    {"x-amz-bucket-object-lock-enabled", "CreateBucket", "s3:PutBucketObjectLockConfiguration",
     "false"},
    {"x-amz-acl", NULL, "s3:PutObjectAcl", "private"},
    {"x-amz-grant-", NULL, "s3:PutObjectAcl", NULL},
    {"x-amz-object-ownership", "CreateBucket", "s3:PutBucketOwnershipControls", NULL},
    {"x-amz-bypass-governance-retention", "DeleteObject", "s3:BypassGovernanceRetention", "false"},
};

struct implied_walk {
    struct s3_ctx *c;
    int rc;
};

/* Adds the action header name implies (on the operation's resource) once. */
static int implied_hdr(void *ctx, const char *name, const char *value)
{
    struct implied_walk *w = ctx;
    struct http_authz *q = &w->c->r->authz;
    const struct s3_op *op = w->c->op;
    for (size_t i = 0; i < sizeof implied / sizeof *implied; i++) {
        const char *p = implied[i].prefix, *ok = implied[i].accepted;
        if (strncasecmp(name, p, strlen(p)) != 0 || (ok && strcasecmp(value, ok) == 0))
            continue;
        if (implied[i].op ? strcmp(op->name, implied[i].op) != 0
                          : op->res != S3_RES_OBJECT ||
                                strncmp(op->action, S3_PUT_PREFIX, strlen(S3_PUT_PREFIX)) != 0)
            continue;
        bool have = false;
        for (size_t k = 0; k < q->nitems; k++)
            have |= strcmp(q->item[k].action, implied[i].action) == 0;
        if (have)
            return 0;
        if (q->nitems >= HTTP_AUTHZ_MAX_ITEMS) {
            w->rc = TS_E_ACCESS_DENIED; /* fail closed */
            return 1;
        }
        q->item[q->nitems] = q->item[0];
        q->item[q->nitems++].action = implied[i].action;
        return 0;
    }
    return 0;
}

/* The action a version id turns an object action into (AWS's), for the store and the gateway:
 * ?versionId= on the object, and the copy source's versionId (s3:GetObjectVersion). */
static const struct {
    const char *action, *versioned;
} versioned_actions[] = {
    {"s3:GetObject", "s3:GetObjectVersion"},
    {"s3:DeleteObject", "s3:DeleteObjectVersion"},
    {"s3:GetObjectTagging", "s3:GetObjectVersionTagging"},
    {"s3:PutObjectTagging", "s3:PutObjectVersionTagging"},
    {"s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"},
    {"s3:GetObjectAcl", "s3:GetObjectVersionAcl"},
    {"s3:PutObjectAcl", "s3:PutObjectVersionAcl"},
    {"s3:GetObjectAttributes", "s3:GetObjectVersionAttributes"},
};

static void s3_version_action(struct http_authz_item *it)
{
    for (size_t i = 0; i < sizeof versioned_actions / sizeof *versioned_actions; i++)
        if (strcmp(versioned_actions[i].action, it->action) == 0) {
            it->action = versioned_actions[i].versioned;
            return;
        }
}

/* item[0] is the target; S3_F_ALSO_GET's s3:GetObject on it is item[1] (no copy source then),
 * else item[1] is the copy source. Each names its version (the ACL source reads that one's):
 * the target's ?versionId=, the source's versionId. */
static void s3_versioned_actions(struct s3_ctx *c, struct http_authz *q)
{
    const char *vid = http_req_query(c->r, "versionId");
    if (q->nitems > 0 && c->key != NULL && vid != NULL) {
        s3_version_action(&q->item[0]);
        q->item[0].version = vid;
        if ((c->op->flags & S3_F_ALSO_GET) && q->nitems > 1) {
            s3_version_action(&q->item[1]);
            q->item[1].version = vid;
        }
    }
    if (c->src_versioned && q->nitems > 1) {
        q->item[1].action = "s3:GetObjectVersion";
        q->item[1].version = c->src_vid;
    }
}

/* S3_F_CONDWRITE: the s3:if-match / s3:if-none-match condition keys (the header values), and
 * s3:GetObject on the target for If-Match (AWS: a conditional write on the ETag needs it, the
 * answer telling the ETag). */
static int s3_condwrite_declare(struct s3_ctx *c, struct http_authz *q)
{
    static const char *const hdr[] = {"If-Match", "If-None-Match"};
    static const char *const key[] = {"s3:if-match", "s3:if-none-match"};
    if (!(c->op->flags & S3_F_CONDWRITE) || q->nitems == 0)
        return TS_OK;
    for (int i = 0; i < 2; i++) {
        const char *v = http_req_header(c->r, hdr[i]);
        if (v == NULL)
            continue;
        if (q->nkeys >= HTTP_AUTHZ_MAX_KEYS || (i == 0 && q->nitems >= HTTP_AUTHZ_MAX_ITEMS))
            return TS_E_ACCESS_DENIED; /* fail closed */
        q->keys[q->nkeys].key = (char *)key[i];
        q->keys[q->nkeys++].value = (char *)v;
        if (i == 0) { /* item[0]: the target object */
            q->item[q->nitems] = q->item[0];
            q->item[q->nitems++].action = "s3:GetObject";
        }
    }
    return TS_OK;
}

int s3_authz_declare(struct s3_ctx *c)
{
    struct http_authz *q = &c->r->authz;
    const struct s3_op *op = c->op;
    int rc = TS_OK;
    s3_authz_init(c, q, (op->flags & S3_F_LISTKEYS) != 0);
    if (c->key != NULL && c->st->gw == NULL)
        q->flags |= HTTP_AUTHZ_ASKS_AGAIN; /* whether a missing key may be named (s3_existence) */
    if (op->flags & S3_F_PERKEY) {
        q->flags |= HTTP_AUTHZ_PER_ITEM;
        return TS_OK;
    }
    rc = s3_authz_add(q, op->action, op->res == S3_RES_ALL ? NULL : c->bucket,
                      op->res == S3_RES_OBJECT ? c->key : NULL, &c->arn[0]);
    if (rc == TS_OK && (op->flags & S3_F_ALSO_GET)) {
        q->item[q->nitems] = q->item[0];
        q->item[q->nitems++].action = "s3:GetObject";
    }
    if (rc == TS_OK && (op->flags & S3_F_COPY))
        rc = c->src_bucket && c->src_key
                 ? s3_authz_add(q, "s3:GetObject", c->src_bucket, c->src_key, &c->arn[1])
                 : TS_E_INTERNAL;
    if (rc == TS_OK)
        s3_versioned_actions(c, q);
    if (rc == TS_OK && q->nitems > 0) {
        struct implied_walk w = {c, TS_OK};
        http_req_header_foreach(c->r, implied_hdr, &w);
        rc = w.rc;
    }
    if (rc == TS_OK)
        rc = s3_condwrite_declare(c, q);
    return rc == TS_OK ? s3_tags_declare(c) : rc;
}

int s3_authorize(struct s3_ctx *c, const char *action, const char *bucket, const char *key,
                 bool list_keys)
{
    struct http_authz q;
    char *arn = NULL;
    s3_authz_init(c, &q, list_keys);
    int rc = s3_authz_add(&q, action, bucket, key, &arn);
    if (rc == TS_OK)
        rc = http_authorize(c->r, &q, NULL);
    free(arn);
    return rc;
}

int s3_authorize_post(struct s3_ctx *c)
{
    struct http_authz *q = &c->r->authz;
    free(c->arn[0]);
    c->arn[0] = NULL;
    s3_authz_init(c, q, false);
    int rc = s3_authz_add(q, "s3:PutObject", c->bucket, c->key, &c->arn[0]);
    if (rc == TS_OK && c->has_tags) { /* as PutObject with x-amz-tagging */
        q->item[q->nitems] = q->item[0];
        q->item[q->nitems++].action = "s3:PutObjectTagging";
        rc = s3_tags_cond_request(c);
    }
    if (rc == TS_OK && c->form_acl != NULL && strcmp(c->form_acl, "private") != 0) {
        q->item[q->nitems] = q->item[0]; /* as PutObject with x-amz-acl */
        q->item[q->nitems++].action = "s3:PutObjectAcl";
    }
    return rc == TS_OK ? http_authorize(c->r, q, c->e) : rc;
}
