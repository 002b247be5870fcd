/* s3_acl.c -- ACLs, object ownership and public access blocks of the embedded store (the model
 * is acl.h; the decisions are the authorizer's: the bucket's struct pol_resource, store.c).
 *
 * - Writes (PutObject, CopyObject, CreateMultipartUpload: s3_acl_write_prepare at start, before
 *   any body byte; PostObject: its acl field) get the ACL of x-amz-acl or x-amz-grant-*, and an
 *   owner: the writer (s3_owner_of; "anonymous" for an unsigned write), or the bucket's owner
 *   with BucketOwnerEnforced, and with BucketOwnerPreferred when the write grants the bucket
 *   owner FULL_CONTROL. BucketOwnerEnforced refuses every ACL but private and
 *   bucket-owner-full-control (AccessControlListNotSupported); BlockPublicAcls refuses public
 *   ones (AccessDenied).
 * - Bucket configurations, in bucket_conf: "acl", "pab", "ownership" (obj_int.h), each written
 *   in one LMDB transaction; CreateBucket writes its ACL and ownership in the bucket's own.
 */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"
#include "core/xml.h"
#include "objstore/acl.h"
#include "policy/pol.h"

#define ACL_OWNER_ANONYMOUS "anonymous"
#define XSI "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""

/* What the bucket says about ACLs. */
struct acl_bucket {
    char *owner; /* malloc'ed */
    unsigned pab;
    enum obj_ownership own;
    uint32_t acl;
};

static int acl_bucket_get(struct s3_ctx *c, struct acl_bucket *b)
{
    const struct pol_resource *res;
    struct obj_pcache *h = NULL;
    memset(b, 0, sizeof *b);
    int rc = obj_access_acquire(c->st, c->bucket, &res, &h);
    if (rc == TS_OK && h == NULL)
        rc = TS_E_NO_SUCH_BUCKET;
    if (rc == TS_OK) {
        b->pab = obj_access_pab(h);
        b->own = obj_access_ownership(h);
        b->acl = obj_access_acl(h);
        rc = obj_bucket_owner(c->st, c->bucket, &b->owner);
    }
    obj_policy_release(h);
    return rc;
}

/* ---- the ACL a request asks for: x-amz-acl, x-amz-grant-* ---- */

struct grant_walk {
    struct s3_ctx *c;
    const struct acl_ids *ids;
    uint32_t acl;
    bool any;
    int rc;
};

static int grant_hdr(void *ctx, const char *name, const char *value)
{
    struct grant_walk *w = ctx;
    if (strncasecmp(name, "x-amz-grant-", 12) != 0)
        return 0;
    w->any = true;
    w->rc = acl_grant_header(name + 12, value, w->ids, &w->acl, w->c->e);
    return w->rc != TS_OK;
}

/* *acl from the headers (0 when they ask nothing), *given whether they asked. */
static int acl_from_headers(struct s3_ctx *c, const struct acl_ids *ids, uint32_t *acl, bool *given)
{
    const char *canned = http_req_header(c->r, "x-amz-acl");
    struct grant_walk w = {c, ids, 0, false, TS_OK};
    http_req_header_foreach(c->r, grant_hdr, &w);
    *acl = 0;
    *given = canned != NULL || w.any;
    if (w.rc != TS_OK)
        return w.rc;
    if (canned != NULL && w.any)
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "Specifying both Canned ACLs and Header Grants is not allowed");
    if (canned != NULL)
        return acl_canned(canned, ids, acl, c->e);
    *acl = w.acl;
    return TS_OK;
}

/* Whether acl grants nothing but FULL_CONTROL to the owners (private,
 * bucket-owner-full-control): what BucketOwnerEnforced accepts. */
static bool acl_owners_only(uint32_t acl)
{
    uint32_t a = acl_norm(acl) & ~ACL_SET;
    uint32_t full = ACL_BITS(ACL_G_OWNER, ACL_FULL) | ACL_BITS(ACL_G_BUCKET_OWNER, ACL_FULL);
    return (a & ~full) == 0;
}

int s3_acl_write_prepare(struct s3_ctx *c, const char *form_acl)
{
    struct acl_bucket b;
    char oid[65], bid[65];
    const char *writer = s3_owner_of(c);
    uint32_t acl = 0;
    bool given = form_acl != NULL;
    int rc = acl_bucket_get(c, &b);
    if (writer == NULL)
        writer = ACL_OWNER_ANONYMOUS;
    if (rc == TS_OK) {
        s3_canonical_id(writer, oid);
        s3_canonical_id(b.owner, bid);
        struct acl_ids ids = {oid, bid};
        rc = form_acl != NULL ? acl_canned(form_acl, &ids, &acl, c->e)
                              : acl_from_headers(c, &ids, &acl, &given);
    }
    bool to_bucket_owner = strcmp(writer, b.owner ? b.owner : "") == 0;
    if (rc == TS_OK && b.own == OBJ_OWN_ENFORCED) {
        if (given && !acl_owners_only(acl))
            rc = TS_E_ACL_NOT_SUPPORTED;
        acl = 0; /* ACLs are disabled: the bucket owner owns it, privately */
        to_bucket_owner = true;
    } else if (rc == TS_OK && (b.pab & OBJ_PAB_BLOCK_ACLS) && acl_is_public(acl)) {
        rc = s3_fail(c, TS_E_ACCESS_DENIED,
                     "Access Denied: public ACLs are blocked "
                     "(BlockPublicAcls) for this bucket.");
    } else if (rc == TS_OK && b.own == OBJ_OWN_PREFERRED &&
               (ACL_OF(acl, ACL_G_BUCKET_OWNER) & ACL_FULL)) {
        acl &= ~ACL_BITS(ACL_G_BUCKET_OWNER, ACL_PERMS);
        to_bucket_owner = true;
    }
    if (to_bucket_owner)
        acl &= ~ACL_BITS(ACL_G_BUCKET_OWNER, ACL_PERMS); /* the same grantee twice */
    c->wacl = acl == ACL_PRIVATE ? 0 : acl;
    free(c->wowner);
    c->wowner = NULL;
    if (rc == TS_OK && !to_bucket_owner && (c->wowner = strdup(writer)) == NULL)
        rc = TS_E_INTERNAL;
    free(b.owner);
    return rc;
}

int s3_acl_apply(struct s3_ctx *c, struct obj_meta *m)
{
    free(m->owner);
    m->owner = NULL;
    m->acl = c->wacl;
    if (c->wowner != NULL && (m->owner = strdup(c->wowner)) == NULL)
        return TS_E_INTERNAL;
    return TS_OK;
}

/* ---- CreateBucket ---- */

static const char *const ownership_names[] = {NULL, "BucketOwnerEnforced", "BucketOwnerPreferred",
                                              "ObjectWriter"};

static int ownership_parse(const char *v, enum obj_ownership *own)
{
    for (int i = 1; i < 4; i++)
        if (v != NULL && strcmp(v, ownership_names[i]) == 0) {
            *own = (enum obj_ownership)i;
            return TS_OK;
        }
    return TS_E_MALFORMED_XML;
}

int s3_acl_create_bucket(struct s3_ctx *c, const char *owner)
{
    char oid[65];
    uint32_t acl = 0;
    bool given;
    enum obj_ownership own = OBJ_OWN_NONE;
    const char *oh = http_req_header(c->r, "x-amz-object-ownership");
    s3_canonical_id(owner, oid);
    struct acl_ids ids = {oid, NULL};
    int rc = acl_from_headers(c, &ids, &acl, &given);
    if (rc == TS_OK && oh != NULL && ownership_parse(oh, &own) != TS_OK)
        rc = s3_fail(c, TS_E_INVALID_ARGUMENT, "Invalid x-amz-object-ownership header");
    if (rc == TS_OK && own == OBJ_OWN_ENFORCED && given && !acl_owners_only(acl))
        rc = TS_E_BUCKET_ACL_ENFORCED;
    if (rc != TS_OK)
        return rc;
    uint8_t av[4] = {(uint8_t)acl, (uint8_t)(acl >> 8), (uint8_t)(acl >> 16), (uint8_t)(acl >> 24)};
    uint8_t ov = (uint8_t)own;
    struct obj_bconf_ent conf[4];
    size_t n = 0;
    if (acl != 0 && acl != ACL_PRIVATE)
        conf[n++] = (struct obj_bconf_ent){"acl", av, 4};
    if (own != OBJ_OWN_NONE)
        conf[n++] = (struct obj_bconf_ent){"ownership", &ov, 1};
    rc = s3_lock_create_conf(c, conf + n, &n); /* object lock: versioning Enabled with it */
    return rc == TS_OK ? obj_bucket_create_with(c->st, c->bucket, owner, conf, n) : rc;
}

/* ---- Get/Put Bucket/Object Acl ---- */

static void grantee_user(struct buf *b, const char *owner)
{
    buf_adds(b, "<Grantee " XSI " xsi:type=\"CanonicalUser\">");
    s3_xml_owner_ids(b, owner);
    xml_close(b, "Grantee");
}

static void grantee_group(struct buf *b, const char *uri)
{
    buf_adds(b, "<Grantee " XSI " xsi:type=\"Group\">");
    xml_elem(b, "URI", uri);
    xml_close(b, "Grantee");
}

/* The grants of one grantee (perms), FULL_CONTROL first. */
static void grants_xml(struct buf *b, unsigned perms, const char *owner, const char *uri)
{
    static const unsigned order[] = {ACL_FULL, ACL_READ, ACL_WRITE, ACL_READ_ACP, ACL_WRITE_ACP};
    for (size_t i = 0; i < 5; i++) {
        if (!(perms & order[i]))
            continue;
        xml_open(b, "Grant", NULL);
        if (uri != NULL)
            grantee_group(b, uri);
        else
            grantee_user(b, owner);
        xml_elem(b, "Permission", acl_perm_name(order[i]));
        xml_close(b, "Grant");
    }
}

static int acl_reply(struct s3_ctx *c, uint32_t acl, const char *owner, const char *bucket_owner)
{
    struct buf b;
    acl = acl_norm(acl);
    s3_xml_start(&b, 16384, "AccessControlPolicy");
    s3_xml_owner_as(&b, "Owner", owner);
    xml_open(&b, "AccessControlList", NULL);
    grants_xml(&b, ACL_OF(acl, ACL_G_OWNER), owner, NULL);
    grants_xml(&b, ACL_OF(acl, ACL_G_BUCKET_OWNER), bucket_owner, NULL);
    grants_xml(&b, ACL_OF(acl, ACL_G_ALL), NULL, ACL_URI_ALL);
    grants_xml(&b, ACL_OF(acl, ACL_G_AUTH), NULL, ACL_URI_AUTH);
    xml_close(&b, "AccessControlList");
    xml_close(&b, "AccessControlPolicy");
    return s3_reply_xml(c, 200, &b);
}

/* The object's ACL and owner (its writer, or the bucket's), as the bucket's ownership says: of
 * the version ?versionId= names (each version has its own), else of the current one. */
static int object_acl(struct s3_ctx *c, const struct acl_bucket *b, uint32_t *acl, char **owner)
{
    struct obj_meta m;
    int rc = obj_version_head(c->st, c->bucket, c->key, c->vid, &m);
    if (rc == TS_E_METHOD_NOT_ALLOWED) /* a delete marker has no ACL (AWS: 405) */
        obj_meta_cleanup(&m);
    if (rc != TS_OK)
        return rc;
    bool enforced = b->own == OBJ_OWN_ENFORCED;
    *acl = enforced ? 0 : m.acl;
    *owner = strdup(!enforced && m.owner != NULL ? m.owner : b->owner);
    obj_meta_cleanup(&m);
    return *owner != NULL ? TS_OK : TS_E_INTERNAL;
}

int s3_get_acl(struct s3_ctx *c)
{
    struct acl_bucket b;
    char *owner = NULL;
    uint32_t acl = 0;
    int rc = acl_bucket_get(c, &b);
    if (rc == TS_OK && c->key != NULL)
        rc = object_acl(c, &b, &acl, &owner);
    if (rc == TS_OK && c->key == NULL)
        acl = b.own == OBJ_OWN_ENFORCED ? 0 : b.acl;
    if (rc == TS_OK)
        rc = acl_reply(c, acl, owner != NULL ? owner : b.owner, b.owner);
    free(owner);
    free(b.owner);
    return rc;
}

/* The ACL of a PutBucketAcl / PutObjectAcl: its body or its headers (one of them). */
static int acl_put_parse(struct s3_ctx *c, const struct acl_ids *ids, uint32_t *acl)
{
    bool given;
    int rc = acl_from_headers(c, ids, acl, &given);
    if (rc != TS_OK)
        return rc;
    if (c->r->body_len > 0 && given)
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "An ACL is given either in the body or in headers, not both.");
    if (c->r->body_len > 0)
        return acl_parse_xml((const char *)c->r->body, c->r->body_len, ids, acl, c->e);
    if (!given)
        return s3_fail(c, TS_E_MISSING_SECURITY_HEADER,
                       "Your request was missing a required header: x-amz-acl, an "
                       "x-amz-grant-* header, or an AccessControlPolicy body.");
    return TS_OK;
}

int s3_put_acl(struct s3_ctx *c)
{
    struct acl_bucket b;
    char *owner = NULL, oid[65], bid[65];
    uint32_t acl = 0;
    int rc = s3_body_md5_check(c);
    if (rc == TS_OK)
        rc = acl_bucket_get(c, &b);
    else
        return rc;
    if (rc == TS_OK && b.own == OBJ_OWN_ENFORCED)
        rc = TS_E_ACL_NOT_SUPPORTED;
    if (rc == TS_OK && c->key != NULL)
        rc = object_acl(c, &b, &acl, &owner);
    if (rc == TS_OK) {
        s3_canonical_id(owner != NULL ? owner : b.owner, oid);
        s3_canonical_id(b.owner, bid);
        struct acl_ids ids = {oid, c->key != NULL ? bid : NULL};
        rc = acl_put_parse(c, &ids, &acl);
    }
    if (rc == TS_OK && (b.pab & OBJ_PAB_BLOCK_ACLS) && acl_is_public(acl))
        rc = s3_fail(c, TS_E_ACCESS_DENIED,
                     "Access Denied: public ACLs are blocked "
                     "(BlockPublicAcls) for this bucket.");
    if (rc == TS_OK && c->key != NULL && owner != NULL && strcmp(owner, b.owner) == 0)
        acl &= ~ACL_BITS(ACL_G_BUCKET_OWNER, ACL_PERMS); /* the same grantee twice */
    if (rc == TS_OK && c->key != NULL) {
        rc = obj_version_acl_set(c->st, c->bucket, c->key, c->vid, acl == ACL_PRIVATE ? 0 : acl);
    } else if (rc == TS_OK) {
        uint8_t v[4] = {(uint8_t)acl, (uint8_t)(acl >> 8), (uint8_t)(acl >> 16),
                        (uint8_t)(acl >> 24)};
        rc = obj_bconf_put(c->st, c->bucket, "acl", acl == ACL_PRIVATE ? NULL : v, 4);
    }
    free(owner);
    free(b.owner);
    return s3_reply_done(c, rc, 200);
}

/* ---- ownership controls ---- */

int s3_put_ownership(struct s3_ctx *c)
{
    struct xml_node *x = s3_body_xml(c);
    const struct xml_node *rule =
        x && strcmp(x->name, "OwnershipControls") == 0 ? xml_child(x, "Rule") : NULL;
    enum obj_ownership own = OBJ_OWN_NONE;
    int rc = s3_body_md5_check(c);
    if (rc == TS_OK)
        rc = rule ? ownership_parse(xml_child_text(rule, "ObjectOwnership"), &own)
                  : TS_E_MALFORMED_XML;
    xml_free(x);
    struct acl_bucket b;
    if (rc == TS_OK && own == OBJ_OWN_ENFORCED && (rc = acl_bucket_get(c, &b)) == TS_OK) {
        if (!acl_owners_only(b.acl)) /* S3: a bucket ACL granting others must go first */
            rc = TS_E_BUCKET_ACL_ENFORCED;
        free(b.owner);
    }
    uint8_t v = (uint8_t)own;
    if (rc == TS_OK)
        rc = obj_bconf_put(c->st, c->bucket, "ownership", &v, 1);
    return s3_reply_done(c, rc, 200);
}

int s3_get_ownership(struct s3_ctx *c)
{
    struct acl_bucket b;
    int rc = acl_bucket_get(c, &b);
    free(b.owner);
    if (rc != TS_OK)
        return rc;
    if (b.own == OBJ_OWN_NONE)
        return TS_E_NO_OWNERSHIP_CONTROLS;
    struct buf x;
    s3_xml_start(&x, 1024, "OwnershipControls");
    xml_open(&x, "Rule", NULL);
    xml_elem(&x, "ObjectOwnership", ownership_names[b.own]);
    xml_close(&x, "Rule");
    xml_close(&x, "OwnershipControls");
    return s3_reply_xml(c, 200, &x);
}

int s3_delete_ownership(struct s3_ctx *c)
{
    return s3_reply_done(c, obj_bconf_put(c->st, c->bucket, "ownership", NULL, 0), 204);
}

/* ---- public access block ---- */

static const struct {
    const char *name;
    unsigned bit;
} pab_fields[] = {
    {"BlockPublicAcls", OBJ_PAB_BLOCK_ACLS},
    {"IgnorePublicAcls", OBJ_PAB_IGNORE_ACLS},
    {"BlockPublicPolicy", OBJ_PAB_BLOCK_POLICY},
    {"RestrictPublicBuckets", OBJ_PAB_RESTRICT_PUBLIC},
};

int s3_put_pab(struct s3_ctx *c)
{
    struct xml_node *x = s3_body_xml(c);
    int rc = s3_body_md5_check(c);
    uint8_t v = 0;
    if (rc == TS_OK && (x == NULL || strcmp(x->name, "PublicAccessBlockConfiguration") != 0))
        rc = TS_E_MALFORMED_XML;
    for (size_t i = 0; rc == TS_OK && i < sizeof pab_fields / sizeof *pab_fields; i++) {
        const char *t = xml_child_text(x, pab_fields[i].name);
        if (t != NULL && strcasecmp(t, "true") == 0)
            v |= (uint8_t)pab_fields[i].bit;
        else if (t != NULL && strcasecmp(t, "false") != 0)
            rc = TS_E_MALFORMED_XML;
    }
    xml_free(x);
    if (rc == TS_OK)
        rc = obj_bconf_put(c->st, c->bucket, "pab", &v, 1);
    return s3_reply_done(c, rc, 200);
}

int s3_get_pab(struct s3_ctx *c)
{
    void *v = NULL;
    size_t len = 0;
    int rc = obj_bconf_get(c->st, c->bucket, "pab", &v, &len);
    unsigned bits = rc == TS_OK && v != NULL && len == 1 ? *(uint8_t *)v : 0;
    if (rc == TS_OK && v == NULL)
        rc = TS_E_NO_SUCH_PAB;
    else if (rc == TS_OK && len != 1)
        rc = TS_E_INTERNAL;
    free(v);
    if (rc != TS_OK)
        return rc;
    struct buf b;
    s3_xml_start(&b, 1024, "PublicAccessBlockConfiguration");
    for (size_t i = 0; i < sizeof pab_fields / sizeof *pab_fields; i++)
        xml_elem(&b, pab_fields[i].name, bits & pab_fields[i].bit ? "true" : "false");
    xml_close(&b, "PublicAccessBlockConfiguration");
    return s3_reply_xml(c, 200, &b);
}

int s3_delete_pab(struct s3_ctx *c)
{
    return s3_reply_done(c, obj_bconf_put(c->st, c->bucket, "pab", NULL, 0), 204);
}

/* ---- bucket policies: BlockPublicPolicy, GetBucketPolicyStatus ---- */

int s3_acl_policy_check(struct s3_ctx *c, const char *json, size_t len)
{
    struct acl_bucket b;
    int rc = acl_bucket_get(c, &b);
    free(b.owner);
    if (rc != TS_OK || !(b.pab & OBJ_PAB_BLOCK_POLICY))
        return rc;
    struct pol_doc *d = NULL;
    char err[64];
    if (pol_doc_parse(json, len, &d, err, sizeof err) != TS_OK)
        return TS_E_MALFORMED_POLICY;
    bool pub = pol_doc_is_public(d);
    pol_doc_free(d);
    return pub ? s3_fail(c, TS_E_ACCESS_DENIED,
                         "Access Denied: public bucket policies are blocked (BlockPublicPolicy) "
                         "for this bucket.")
               : TS_OK;
}

int s3_get_policy_status(struct s3_ctx *c)
{
    const struct pol_resource *res;
    struct obj_pcache *h = NULL;
    int rc = obj_access_acquire(c->st, c->bucket, &res, &h);
    if (rc == TS_OK && (res == NULL || res->policy == NULL))
        rc = TS_E_NO_SUCH_BUCKET_POLICY;
    bool pub = rc == TS_OK && pol_doc_is_public(res->policy);
    obj_policy_release(h);
    if (rc != TS_OK)
        return rc;
    struct buf b;
    s3_xml_start(&b, 1024, "PolicyStatus");
    xml_elem(&b, "IsPublic", pub ? "true" : "false");
    xml_close(&b, "PolicyStatus");
    return s3_reply_xml(c, 200, &b);
}
