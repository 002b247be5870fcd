/* s3_int.h -- the S3 API layer inside objstore/: the request context, the operations table
 * (s3_ops.c: dispatch + IAM action + resource of every operation) and the handlers. */
#ifndef TS_S3_INT_H
#define TS_S3_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/http.h"
#include "objstore/obj_int.h"

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define S3_OWNER_ID "02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4"
#define S3_OWNER_NAME "tessera"
/* Threads finishing S3 writes: in the durable-PUT benchmark 8 measured slower, 32 no faster. */
#define S3_WRITE_WORKERS 16
/* Gateway mode: every request waits there for the upstream's status line (not its body). */
#define S3_GATEWAY_WORKERS 64

struct s3_ctx;

enum s3_scope { S3_SVC, S3_BKT, S3_OBJ };
enum s3_res { S3_RES_ALL, S3_RES_BUCKET, S3_RES_OBJECT };

#define S3_F_COPY                                                                                  \
    1u                   /* row matches only with an x-amz-copy-source header; the source is       \
                            authorized for s3:GetObject too */
#define S3_F_LISTKEYS 2u /* s3:prefix, s3:delimiter, s3:max-keys condition keys */
#define S3_F_PERKEY                                                                                \
    4u                 /* authorized per key in finish, by the same authorizer                     \
                          (HTTP_AUTHZ_PER_ITEM: DeleteObjects, ListBuckets) */
#define S3_F_UPLOAD 8u /* names an upload: ?uploadId= is checked (obj_check_upload_id) */
#define S3_F_PART 16u  /* names a part: ?partNumber= is checked into c->part */
#define S3_F_CREATE                                                                                \
    32u /* the operation creates its bucket (CreateBucket): the one row whose bucket need not      \
           exist; every other row's bucket is checked before authorization (s3_resolve) */
#define S3_F_OBJECT                                                                                \
    64u /* the object must exist (NoSuchKey): checked once the operation is authorized, before     \
           start and before any body byte is read */
#define S3_F_STREAM 128u /* the body is object data: streamed (gateway: to the upstream) */
#define S3_F_EXTAG                                                                                 \
    256u /* s3:ExistingObjectTag/<key>: the tags of the object read (a copy: its source) are       \
            condition keys of the decision (s3_tags_declare) */
#define S3_F_TAGHDR                                                                                \
    512u /* x-amz-tagging sets the new object's tags: checked before the decision, which sees      \
            them (s3:RequestObjectTag/<key>, s3:RequestObjectTagKeys) and needs                    \
            s3:PutObjectTagging too */
#define S3_F_TAGBODY                                                                               \
    1024u /* the body's Tagging document sets the object's tags: authorized once the body is       \
             buffered (after_body), with its tags as condition keys; start does nothing */
#define S3_F_FORM                                                                                  \
    2048u /* a browser POST form (PostObject): the form names the key and carries its own          \
             credentials, so the handler authorizes it (s3_authorize_post); the gateway refuses    \
             it (501) */

#define S3_F_CONDWRITE                                                                             \
    4096u /* a conditional write (If-None-Match: *, If-Match: the target's current object):        \
             s3:if-none-match / s3:if-match condition keys, s3:GetObject too for If-Match (AWS's   \
             rule); the store checks it in the commit's transaction (s3_precond_parse) */
#define S3_F_ALSO_GET                                                                              \
    8192u /* the caller needs s3:GetObject on the object too (GetObjectAttributes, AWS's rule;     \
             with a version id the gateway asks s3:GetObjectVersion) */
#define S3_F_ACLHDR                                                                                \
    16384u /* an object write whose x-amz-acl / x-amz-grant-* headers set the new object's ACL:    \
             checked at start, before any body byte (s3_acl_write_prepare) */

#define S3_F_LOCKHDR                                                                               \
    32768u /* an object write whose x-amz-object-lock-* headers set the new object's retention and \
              legal hold: checked at start, before any body byte (s3_lock_prepare) */

#define S3_MAX_OBJECT_TAGS 10
#define S3_MAX_BUCKET_TAGS 50

/* One "bytes=" range as written: first-last, first- (has_last false) or -suffix (has_first
 * false). */
struct s3_range {
    uint64_t first, last;
    bool has_first, has_last;
};

/* An operation's handler: TS_OK, or an error to answer with. */
typedef int s3_handler(struct s3_ctx *c);

struct s3_op {
    const char *method;
    enum s3_scope scope;
    const char *query; /* subresource that must be present; "name=value" matches the value */
    unsigned flags;
    const char *name;   /* S3 operation name, for logs */
    const char *action; /* IAM action */
    enum s3_res res;
    s3_handler *start;  /* before the body (NULL: nothing to do) */
    s3_handler *finish; /* replies, or returns an error to answer with */
};

struct s3_ctx {
    struct http_req *r;
    struct obj_store *st;
    const struct s3_op *op;
    const char *bucket, *key; /* r->bucket / r->key, NULL when absent */
    char *resource;           /* "/bucket/key" */
    struct obj_writer *w;
    bool has_md5;
    uint8_t md5[16];
    uint64_t max_size; /* streamed body limit */
    char *src_bucket, *src_key;
    struct s3_range cs_range; /* x-amz-copy-source-range, when has_cs_range */
    bool has_cs_range;
    unsigned part;
    bool quiet_authz; /* s3_authorize does not audit denials (probing, e.g. ListBuckets) */
    char *arn[HTTP_AUTHZ_MAX_ITEMS]; /* the resources of r->authz (owned) */
    bool src_versioned;              /* the copy source names a version */
    const char *vid;                 /* ?versionId= (checked), NULL when absent */
    char *src_vid;                   /* the copy source's versionId (checked), NULL when absent */
    bool existence_known; /* s3_existence asked already: the caller may learn of a miss */
    struct http_kv *tags; /* the tags the request sets (x-amz-tagging, or the Tagging body) */
    size_t ntags;
    bool has_tags;        /* tags checked and to be applied */
    bool tags_replace;    /* CopyObject: x-amz-tagging-directive REPLACE */
    struct http_kv *cond; /* the condition keys of r->authz (owned) */
    size_t ncond;
    struct s3_post *post;   /* PostObject: the form being parsed (s3_post.c) */
    struct gw_xfer *x;      /* gateway mode: the request to the upstream */
    struct ts_error aerr;   /* gateway mode: the error of a relay after finish */
    struct ts_error *e;     /* the error of the phase running (s3_fail), for the server to answer */
    struct obj_precond pre; /* S3_F_CONDWRITE: the request's precondition, when has_pre */
    bool has_pre;
    /* UploadPart / UploadPartCopy of an upload with a checksum algorithm (s3_checksum.c): the
     * algorithm, and the checksum computed here when the request brings none (NULL else). */
    enum sigv4_cksum_algo ck_algo;
    struct sigv4_cksum *ck;
    bool sse_asked;       /* x-amz-server-side-encryption: AES256 (s3_sse_field) */
    bool sse_enc;         /* the object written is encrypted (s3_sse_decide) */
    const char *form_acl; /* PostObject: its acl field (borrowed from post), or NULL */
    uint32_t wacl;        /* an object write: the new object's ACL (s3_acl_write_prepare) */
    char *wowner;         /* ... and its owner (NULL: the bucket's) */
    /* S3_F_LOCKHDR: the x-amz-object-lock-* headers checked (s3_lock_prepare), when has_lock. */
    bool has_lock;
    uint8_t lk_mode, lk_hold; /* enum obj_lock_mode, enum obj_legal_hold */
    int64_t lk_until;
};

/* s3_ops.c */
const struct s3_op *s3_op_find(struct http_req *r, enum s3_scope scope);
/* Fills c->r->authz with what c->op asks: its action on its resource, s3:GetObject on the
 * copy source, the listing condition keys, the bucket policy; per-key rows declare
 * HTTP_AUTHZ_PER_ITEM. TS_OK or TS_E_INTERNAL. */
int s3_authz_declare(struct s3_ctx *c);
/* Asks the authorizer (http_authorize) about action on bucket/key (key NULL: the bucket;
 * bucket NULL: "*") for the request's principal, with the bucket's policy: the per-item
 * questions of HTTP_AUTHZ_PER_ITEM operations. TS_OK or TS_E_ACCESS_DENIED (audited unless
 * c->quiet_authz). */
int s3_authorize(struct s3_ctx *c, const char *action, const char *bucket, const char *key,
                 bool list_keys);

/* PostObject: r->authz becomes the question of a PutObject of c->key (the form's): s3:PutObject,
 * and s3:PutObjectTagging with the form's tags as condition keys when it sets tags; asked of
 * the authorizer for r->principal (the form's signer). TS_OK, or the denial (c->e). */
int s3_authorize_post(struct s3_ctx *c);

/* s3_tagging.c: the tags of the request (x-amz-tagging, x-amz-tagging-directive, the Tagging
 * body of S3_F_TAGBODY rows) checked into c->tags, and the tag condition keys added to
 * c->r->authz (S3_F_EXTAG, S3_F_TAGHDR, S3_F_TAGBODY). Called by s3_authz_declare: TS_OK, the
 * request's error (InvalidArgument, InvalidTag, BadRequest, MalformedXML...), or
 * TS_E_ACCESS_DENIED when the existing tags cannot be read (fail closed). */
int s3_tags_declare(struct s3_ctx *c);
/* The Tagging body of an S3_F_TAGBODY row into c->tags (once): TS_OK, or its error
 * (MissingRequestBodyError, MalformedXML, InvalidTag, BadRequest), answered by s3_finish once
 * the caller is authorized, for the store and the gateway alike (an unparsed body is never
 * forwarded). */
int s3_tags_body(struct s3_ctx *c);

/* s3_cors.c: the CORSConfiguration body of PutBucketCors (Content-MD5 checked, at most 64 KiB,
 * checked with AWS's rules) in its canonical form: TS_OK with *doc (malloc'ed, *len bytes), or
 * the request's error (MissingRequestBodyError, MaxMessageLengthExceeded, MalformedXML,
 * InvalidRequest, InvalidArgument, BadDigest). For the store and the gateway alike. */
int s3_cors_body(struct s3_ctx *c, char **doc, size_t *len);
/* start of PutBucketCors: the body limit (MaxMessageLengthExceeded over 64 KiB). */
int s3_cors_body_start(struct s3_ctx *c);
/* route->prepare of the S3 route: the CORS headers of an actual request an allowed origin
 * makes (docs/API.md "CORS"). */
void s3_cors_prepare(struct http_req *r);

/* A Tagging document (xml[0..n)) into *v, *n: MalformedXML, or AWS's tag rules' errors
 * (InvalidTag, BadRequest) for at most max tags. */
int s3_tags_parse(struct s3_ctx *c, const char *xml, size_t n, size_t max, struct http_kv **v,
                  size_t *nv);
/* Adds the condition keys of the tags the request sets (c->tags when c->has_tags):
 * s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys. TS_OK or TS_E_INTERNAL. */
int s3_tags_cond_request(struct s3_ctx *c);

/* s3_sse.c: server-side encryption. One SSE header or PostObject field: TS_OK (c->sse_asked set
 * by AES256), or the request's error (InvalidRequest: SSE-C without TLS; NotImplemented: SSE-C,
 * aws:kms; InvalidArgument: another method, or the header where nothing is stored). Gateway
 * mode: only the SSE-C rule (the rest is forwarded). s3_sse_request: every header of c->r. */
int s3_sse_field(struct s3_ctx *c, const char *name, const char *value);
int s3_sse_request(struct s3_ctx *c);
/* c->sse_enc: asked for, or the bucket's default encryption. TS_OK or the store's error. */
int s3_sse_decide(struct s3_ctx *c);
/* Makes c->w encrypt when c->sse_enc (before any byte is written). */
int s3_sse_writer(struct s3_ctx *c);
/* x-amz-server-side-encryption: AES256 on the answer when m is encrypted. */
void s3_sse_echo(struct s3_ctx *c, const struct obj_meta *m);
/* s3_acl.c (the model: acl.h) */
/* The ACL and owner of the object a write makes (c->wacl, c->wowner): from form_acl (PostObject's
 * acl field) or the x-amz-acl / x-amz-grant-* headers, with the bucket's ownership controls and
 * public access block applied: TS_OK, InvalidArgument / InvalidRequest /
 * UnresolvableGrantByEmailAddress / NotImplemented (the ACL asked), AccessControlListNotSupported
 * (BucketOwnerEnforced), AccessDenied (BlockPublicAcls). */
int s3_acl_write_prepare(struct s3_ctx *c, const char *form_acl);
/* m's ACL and owner become c->wacl, c->wowner. TS_OK or TS_E_INTERNAL. */
int s3_acl_apply(struct s3_ctx *c, struct obj_meta *m);
/* CreateBucket: the bucket owned by owner, with the ACL of its headers and its
 * x-amz-object-ownership, in one transaction. */
int s3_acl_create_bucket(struct s3_ctx *c, const char *owner);
/* PutBucketPolicy: AccessDenied for a public policy when the bucket blocks them
 * (BlockPublicPolicy). */
int s3_acl_policy_check(struct s3_ctx *c, const char *json, size_t len);

/* s3_post_policy.c: the POST policy of a browser upload (pure). */
struct s3_post_form {
    const struct http_kv *fields; /* the form's fields as sent (key: ${filename} replaced) */
    size_t nfields;
    const char *bucket; /* the request's bucket: the value of "$bucket" */
};
struct s3_post_limits {
    uint64_t min, max; /* content-length-range (0, UINT64_MAX when none) */
};
/* Fields S3 does not ask a policy to name: policy, x-amz-signature, signature,
 * AWSAccessKeyId, file and x-ignore-* (any case). */
bool s3_post_exempt(const char *name);
/* Checks the base64 policy document against form f at now: TS_OK with *lim, or
 * TS_E_INVALID_POLICY_DOCUMENT (not a policy document), TS_E_ACCESS_DENIED ("Invalid
 * according to Policy: Policy expired." / "Policy Condition failed: <condition>" / "Extra
 * input fields: <name>"), TS_E_INTERNAL; e has S3's message. */
int s3_post_policy_check(const char *policy_b64, const struct s3_post_form *f, time_t now,
                         struct s3_post_limits *lim, struct ts_error *e);

/* s3_post.c: PostObject (the handlers below) and its state, freed with the request. */
struct s3_post;
void s3_post_free(struct s3_post *p); /* NULL is a no-op */

/* s3_checksum.c: the additional checksums of the S3 layer (docs/API.md "Checksums"). */
struct xml_node;
/* CreateMultipartUpload: x-amz-checksum-algorithm and x-amz-checksum-type checked (AWS's
 * rules and messages) into the upload's kept headers (obj_int.h), and echoed. */
int s3_ck_create(struct s3_ctx *c, struct obj_meta *m);
void s3_ck_create_reply(struct s3_ctx *c, const struct obj_meta *m);
/* UploadPart(Copy) start, with the upload's record: its algorithm into c->ck_algo; for UploadPart
 * the checksum the request declares (header or trailer) must be of that algorithm (InvalidRequest),
 * and when it declares none c->ck computes it over the body. */
int s3_ck_part_start(struct s3_ctx *c, const struct obj_meta *up, bool copy);
/* The part's checksum once its body is in: *algo and b64 (SIGV4_CK_NONE: none). */
int s3_ck_part_value(struct s3_ctx *c, enum sigv4_cksum_algo *algo, char b64[OBJ_CK_B64_MAX]);
/* UploadPartCopy: the checksum of algo over len plaintext bytes of rd at off into b64. */
int s3_ck_reader(enum sigv4_cksum_algo algo, struct obj_reader *rd, uint64_t off, uint64_t len,
                 char b64[OBJ_CK_B64_MAX]);
/* CompleteMultipartUpload: the part checksums of one Part element into ref (InvalidArgument,
 * InvalidPart), and the rules of the upload's mode (a COMPOSITE upload needs every part's:
 * InvalidRequest naming the part); *want gets the object checksum header of the request. */
int s3_ck_complete_part(struct s3_ctx *c, const struct obj_meta *up, struct xml_node *part,
                        struct obj_part_ref *ref);
int s3_ck_complete_want(struct s3_ctx *c, const struct obj_meta *up, const char **want);
/* <ChecksumX>v</ChecksumX><ChecksumType>..</ChecksumType> of object m (nothing when none). */
void s3_ck_xml(struct buf *b, const struct obj_meta *m);
/* <ChecksumX>v</ChecksumX> of a part; <ChecksumAlgorithm/><ChecksumType/> of an upload. */
void s3_ck_xml_part(struct buf *b, const struct obj_meta *part);
void s3_ck_xml_upload(struct buf *b, const struct obj_meta *up);
/* BadDigest naming the upload's algorithm (a CompleteMultipartUpload's object checksum). */
int s3_ck_bad_digest(struct s3_ctx *c, const struct obj_meta *up);
/* The x-amz-checksum-<algo> and x-amz-checksum-type headers of object m's checksum. */
void s3_ck_headers(struct s3_ctx *c, const struct obj_meta *m);
/* The same for part i of multipart object m: the part's checksum, the object's type. */
void s3_ck_headers_part(struct s3_ctx *c, const struct obj_meta *m, size_t i);
/* <ChecksumX>v</ChecksumX> of part i of multipart object m (nothing when it has none). */
void s3_ck_xml_part_of(struct buf *b, const struct obj_meta *m, size_t i);

/* s3_bucket.c: ListBuckets, shared with the gateway. */
struct s3_bucket_row {
    const char *name, *created; /* created: ISO 8601 */
    const char *region;         /* NULL: the store's */
};
/* Whether the caller sees bucket name in ListBuckets: all (it has s3:ListAllMyBuckets), or it
 * may list or locate that bucket (MinIO's rule). Quiet: set c->quiet_authz around it. */
bool s3_bucket_visible(struct s3_ctx *c, bool all, const char *name);
/* Answers ListBuckets from the store's or the upstream's buckets v (any order; sorted here):
 * those the caller sees, filtered by prefix and bucket-region, one page of max-buckets after
 * continuation-token; AccessDenied when the caller sees no bucket at all and lacks
 * s3:ListAllMyBuckets. */
int s3_list_buckets_reply(struct s3_ctx *c, struct s3_bucket_row *v, size_t n);

/* s3_gw.c: the route in gateway mode (c->st->gw set) */
struct iam_strv;
/* A version or upload id the upstream may know: 1..1024 printable ASCII characters. */
int s3_gw_check_id(const char *v);
int s3_gw_start(struct s3_ctx *c);
int s3_gw_finish(struct s3_ctx *c);
/* Whether finish waits (the operations the gateway answers itself): else it hands the request
 * over to the upstream's thread (HTTP_PENDING) and nothing waits. */
bool s3_gw_blocking(const struct s3_ctx *c);
void s3_gw_cleanup(struct s3_ctx *c);
int s3_gw_buckets_visible(struct s3_ctx *c, struct iam_strv *out);
/* The CORS configuration the gateway keeps for bucket: TS_OK with *doc (malloc'ed; NULL when
 * none), or an error of the IAM store. */
int s3_gw_cors_get(struct gw *g, const char *bucket, void **doc, size_t *len);
/* The bucket policy for the authz phase (ctx: the struct gw). */
int s3_gw_policy_get(void *ctx, const char *bucket, const void **doc, void **handle);
void s3_gw_policy_release(void *handle);

/* s3_route.c: shared helpers */
/* The existence rule (s3_route.c) applied to rc: TS_E_NO_SUCH_KEY / TS_E_NO_SUCH_VERSION stay
 * for a caller allowed s3:ListBucket, else become AccessDenied. A handler may apply it before
 * it says more about a miss (the delete marker headers). */
int s3_existence(struct s3_ctx *c, int rc);
/* The x-amz-version-id header of version m (nothing for an object never versioned). */
void s3_version_header(struct s3_ctx *c, const struct obj_meta *m);
/* What GET/HEAD (and GetObjectAttributes) answer for a version they cannot return (rc from
 * obj_version_head/open; m its record): a delete marker named by its id is 405
 * MethodNotAllowed; a key whose current version is a delete marker 404 NoSuchKey; both with
 * x-amz-delete-marker (the second only for a caller the existence rule lets know). Cleans m
 * up where needed; returns the error to answer. */
int s3_missing_version(struct s3_ctx *c, int rc, struct obj_meta *m);
/* A version id of the request (query or copy source): the store's rule, the upstream's in
 * gateway mode. */
int s3_check_version_id(const struct s3_ctx *c, const char *v);
/* A Content-Encoding value without aws-chunked (the transfer framing) into out. */
const char *s3_content_encoding(const char *value, char *out, size_t n);
/* Returns err with msg as its message for the reply (handlers never reply with an error). */
int s3_fail(struct s3_ctx *c, int err, const char *msg);
#define S3_MSG_COPY_RANGE                                                                          \
    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and "      \
    "last are the zero-based offsets of the first and last bytes to copy"
int s3_reply_xml(struct s3_ctx *c, int status, struct buf *b);
int s3_reply_empty(struct s3_ctx *c, int status);
/* rc when it is an error, else an empty reply with status. */
int s3_reply_done(struct s3_ctx *c, int rc, int status);
/* Starts an S3 XML document of at most max bytes in b, with root open in the S3 namespace. */
void s3_xml_start(struct buf *b, size_t max, const char *root);
/* Replies 200 with <root><LastModified/><ETag/></root> (CopyObject, UploadPartCopy). */
int s3_reply_copy_result(struct s3_ctx *c, const char *root, int64_t mtime, const char *etag);
/* The kept header name (x-amz-meta-*, Cache-Control, Content-Disposition, Content-Encoding,
 * Content-Language, Expires; others are ignored) with value into m: TS_OK or TS_E_INTERNAL. */
int s3_meta_field(struct obj_meta *m, const char *name, const char *value);
/* TS_E_NOT_IMPLEMENTED (e: naming it) for a header or form field asking for what tessera does
 * not do (docs/API.md "Refused headers"), else TS_OK. */
int s3_refused(const char *name, const char *value, struct ts_error *e);
/* Fills m's content type, kept headers and tags (x-amz-tagging) from the request. */
int s3_meta_from_req(struct s3_ctx *c, struct obj_meta *m);
/* Parses Content-MD5 (InvalidDigest) and the declared length (MissingContentLength,
 * EntityTooLarge against max), and streams the body into a new writer. */
int s3_stream_body(struct s3_ctx *c, uint64_t max);
/* Finishes the writer, checks Content-MD5 (BadDigest), writes the hex MD5 into etag. */
int s3_finish_body(struct s3_ctx *c, char etag[48]);
/* Strips quotes around an ETag in place. */
void s3_etag_unquote(char *s);
/* ETag/date conditions: TS_OK, TS_E_NOT_MODIFIED or TS_E_PRECONDITION_FAILED. */
int s3_conditions(const struct obj_meta *m, const char *if_match, const char *if_none_match,
                  const char *if_modified_since, const char *if_unmodified_since);
/* The one parser of byte ranges (Range, x-amz-copy-source-range): a single
 * "bytes=first-last", "bytes=first-" or "bytes=-suffix". Returns false, with *out untouched,
 * for anything else (not a range, several ranges, last < first): S3 then ignores a Range
 * header. */
bool s3_range_parse(const char *h, struct s3_range *out);
/* The bytes [*first, *last] of an object of size that rg selects: 0, or -1 (outputs untouched)
 * when it selects none (first >= size, a suffix of 0, an empty object): 416 InvalidRange. */
int s3_range_resolve(const struct s3_range *rg, uint64_t size, uint64_t *first, uint64_t *last);
/* Parses a decimal query parameter into [0, max]; absent gives def. TS_E_INVALID_ARGUMENT. */
int s3_query_uint(struct s3_ctx *c, const char *name, uint64_t def, uint64_t max, uint64_t *out);
/* The owner identity of the request's principal (obj_int.h): OBJ_OWNER_ROOT for root and
 * its role-less sessions; a static user's ARN for the user and its role-less sessions (as
 * MinIO: the sessions of one user own that user's buckets); the role's ARN for every session
 * of a role; the federated user's ARN (one per OIDC / LDAP identity) otherwise. NULL for
 * anonymous requests. Borrowed from the principal. */
const char *s3_owner_of(const struct s3_ctx *c);
/* The canonical id of owner (NULL or OBJ_OWNER_ROOT: S3_OWNER_ID; else the hex SHA-256 of
 * owner): the ID of ACLs' Owner and CanonicalUser grantees. */
void s3_canonical_id(const char *owner, char id[65]);
/* <elem><ID/><DisplayName/></elem> of owner (NULL or OBJ_OWNER_ROOT: S3_OWNER_ID, "tessera",
 * as before owners were kept; else the hex SHA-256 of owner and its ARN's resource part). */
void s3_xml_owner_as(struct buf *b, const char *elem, const char *owner);
/* The <ID/><DisplayName/> of s3_xml_owner_as alone. */
void s3_xml_owner_ids(struct buf *b, const char *owner);
/* s3_xml_owner_as(b, elem, OBJ_OWNER_ROOT). */
void s3_xml_owner(struct buf *b, const char *elem);
/* encoding-type: absent (*url false) or "url" (*url true); anything else InvalidArgument. */
int s3_encoding_type(struct s3_ctx *c, bool *url);
/* <name>v</name> (nothing when v is NULL), v URL-encoded (slashes kept) when url: the
 * encoding-type=url form of keys, prefixes, delimiters and markers in listings. */
void s3_xml_elem_enc(struct buf *b, const char *name, const char *v, bool url);
/* The Content-MD5 header (when present) against the buffered body: TS_OK, TS_E_INVALID_DIGEST
 * or TS_E_BAD_DIGEST. */
int s3_body_md5_check(struct s3_ctx *c);
/* Parses the request's XML body: NULL (MalformedXML) when malformed. */
struct xml_node *s3_body_xml(struct s3_ctx *c);

/* s3_object.c: x-amz-copy-source ("[/]bucket/key[?versionId=v]", URL-encoded) into
 * c->src_bucket/src_key, each name checked with the rules of the request's own (obj_int.h):
 * TS_E_INVALID_BUCKET_NAME, TS_E_KEY_TOO_LONG, TS_E_INVALID_ARGUMENT. Called by the router
 * before authorization. s3_copy_source checks that it was parsed (the authz phase decided
 * s3:GetObject on it). The x-amz-copy-source-if-* conditions: TS_OK or TS_E_PRECONDITION_FAILED. */
int s3_copy_source_parse(struct s3_ctx *c);
int s3_copy_source(struct s3_ctx *c);
int s3_copy_conditions(struct s3_ctx *c, const struct obj_meta *m);
/* The conditional-write headers of an S3_F_CONDWRITE request into c->pre (c->has_pre): TS_OK,
 * or 501 NotImplemented for an If-None-Match other than "*" (AWS). Called by the router before
 * authorization (the embedded store; the gateway forwards them). */
int s3_precond_parse(struct s3_ctx *c);
/* c->pre (when has_pre) or NULL: what the store's commit checks. */
struct obj_precond *s3_precond(struct s3_ctx *c);
/* What a copy does with its source (metadata and its plaintext reader). */
typedef int (*s3_copy_body_fn)(struct s3_ctx *c, const struct obj_meta *src, struct obj_reader *rd,
                               void *arg);
/* Opens the copy source, checks the x-amz-copy-source-if-* conditions, runs body, closes. */
int s3_copy_from_source(struct s3_ctx *c, s3_copy_body_fn body, void *arg);
/* Copies len plaintext bytes at off of rd into a new writer c->w (encrypting when c->sse_enc)
 * and finishes it (md5 of the bytes). */
int s3_copy_data(struct s3_ctx *c, struct obj_reader *rd, uint64_t off, uint64_t len, bool hash,
                 uint8_t md5[16]);

/* Handlers (s3_bucket.c, s3_object.c, s3_multipart.c, s3_tagging.c). */
s3_handler s3_list_buckets, s3_create_bucket_start, s3_create_bucket, s3_delete_bucket,
    s3_head_bucket, s3_get_bucket_location, s3_list_objects, s3_list_objects_v2,
    s3_list_object_versions, s3_policy_start, s3_put_bucket_policy, s3_get_bucket_policy,
    s3_delete_bucket_policy, s3_get_bucket_versioning, s3_put_bucket_versioning, s3_get_acl,
    s3_no_such_config, s3_not_implemented, s3_xml_body_start, s3_delete_objects;
s3_handler s3_put_object_start, s3_put_object, s3_get_object, s3_delete_object, s3_copy_object;
s3_handler s3_put_bucket_cors, s3_get_bucket_cors, s3_delete_bucket_cors;
s3_handler s3_get_object_tagging, s3_put_object_tagging, s3_delete_object_tagging,
    s3_put_bucket_tagging, s3_get_bucket_tagging, s3_delete_bucket_tagging;
s3_handler s3_create_multipart, s3_upload_part_start, s3_upload_part, s3_upload_part_copy_start,
    s3_upload_part_copy, s3_complete_multipart, s3_abort_multipart, s3_list_parts,
    s3_list_multipart_uploads;
s3_handler s3_post_start, s3_post_finish;
s3_handler s3_get_object_attributes;
s3_handler s3_put_bucket_encryption, s3_get_bucket_encryption, s3_delete_bucket_encryption;
s3_handler s3_put_acl, s3_put_ownership, s3_get_ownership, s3_delete_ownership, s3_put_pab,
    s3_get_pab, s3_delete_pab, s3_get_policy_status;

/* s3_lifecycle.c */
s3_handler s3_put_bucket_lifecycle, s3_get_bucket_lifecycle, s3_delete_bucket_lifecycle;
/* The x-amz-expiration header of PutObject, CopyObject, CompleteMultipartUpload, GetObject and
 * HeadObject for version m of c->key: when m is the current version (not a delete marker) and
 * an enabled Expiration rule of the bucket's cached lifecycle rules applies to it (lc_expiration:
 * the earliest). */
void s3_expiration_header(struct s3_ctx *c, const struct obj_meta *m);

/* s3_lock.c: object lock (docs/API.md "Object lock"). */
/* CreateBucket: x-amz-bucket-object-lock-enabled: true adds the configurations "versioning"
 * (Enabled) and "object-lock" to out (room for 2) and *n; InvalidArgument for another value. */
int s3_lock_create_conf(struct s3_ctx *c, struct obj_bconf_ent *out, size_t *n);
/* The x-amz-object-lock-* headers of an S3_F_LOCKHDR write into c (has_lock): InvalidRequest (the
 * bucket's lock is not enabled), InvalidArgument (mode without date or the reverse, a mode, date
 * or legal hold S3 does not take, a date not in the future). */
int s3_lock_prepare(struct s3_ctx *c);
/* m's retention and legal hold become the request's (none without lock headers: the store then
 * gives the bucket's default retention). */
void s3_lock_apply(const struct s3_ctx *c, struct obj_meta *m);
/* The x-amz-object-lock-* headers of GET/HEAD for version m, each only for a caller allowed
 * s3:GetObjectRetention / s3:GetObjectLegalHold (S3's rule; asked quietly). */
void s3_lock_headers(struct s3_ctx *c, const struct obj_meta *m);
/* x-amz-bypass-governance-retention: true (authorized as s3:BypassGovernanceRetention by the
 * authz phase for DeleteObject and PutObjectRetention; per key by DeleteObjects). */
bool s3_lock_bypass(const struct s3_ctx *c);
/* The header is there with another value than false: what the authorizer is asked about
 * (s3_ops.c implied, DeleteObjects per key in the store and the gateway, which forwards it). */
bool s3_lock_bypass_asked(const struct s3_ctx *c);
/* rc, with S3's message when it is the store's AccessDenied of a protected version. */
int s3_lock_denied(struct s3_ctx *c, int rc);
s3_handler s3_put_lock_config, s3_get_lock_config, s3_put_retention, s3_get_retention,
    s3_put_legal_hold, s3_get_legal_hold;

#endif
