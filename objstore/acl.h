/* acl.h -- S3 access control lists, the pure part (acl.c): an ACL is one 32-bit word, kept in
 * the bucket's "acl" configuration (bucket_conf) and in each object's meta record.
 *
 * Grantees tessera keeps: the resource's owner (an object's writer, a bucket's creator), the
 * bucket's owner (objects only: bucket-owner-read / -full-control), and the groups AllUsers
 * and AuthenticatedUsers; five bits of permissions each (READ, WRITE, READ_ACP, WRITE_ACP,
 * FULL_CONTROL). A CanonicalUser grant names an owner by its canonical id (s3_canonical_id:
 * the hex SHA-256 of the owner's ARN, or S3_OWNER_ID for root); an id that is neither owner's
 * is refused (InvalidArgument "Invalid id"), so are e-mail grantees
 * (UnresolvableGrantByEmailAddress) and groups other than the two (LogDelivery: NotImplemented;
 * anything else InvalidArgument).
 *
 * In decisions (acl_allows) only the group grants are sources: the owners' rights come from
 * their policies, as an AWS account's IAM users' do (the owner grant stands for the account).
 */
#ifndef TS_ACL_H
#define TS_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define ACL_READ 1u
#define ACL_WRITE 2u
#define ACL_READ_ACP 4u
#define ACL_WRITE_ACP 8u
#define ACL_FULL 16u
#define ACL_PERMS 31u

enum acl_grantee { ACL_G_OWNER, ACL_G_BUCKET_OWNER, ACL_G_ALL, ACL_G_AUTH, ACL_G_N };

/* An explicit ACL (bit 31); 0 is the default: private (the owner's FULL_CONTROL). */
#define ACL_SET (1u << 31)
#define ACL_BITS(g, perms) ((uint32_t)(perms) << (5 * (unsigned)(g)))
#define ACL_OF(acl, g) (((acl) >> (5 * (unsigned)(g))) & ACL_PERMS)
#define ACL_PRIVATE (ACL_SET | ACL_BITS(ACL_G_OWNER, ACL_FULL))
#define ACL_PUBLIC_MASK (ACL_BITS(ACL_G_ALL, ACL_PERMS) | ACL_BITS(ACL_G_AUTH, ACL_PERMS))

#define ACL_URI_ALL "http://acs.amazonaws.com/groups/global/AllUsers"
#define ACL_URI_AUTH "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

/* acl, with 0 read as ACL_PRIVATE. */
uint32_t acl_norm(uint32_t acl);
/* Whether acl grants anything to AllUsers or AuthenticatedUsers (AWS's "public" ACL). */
bool acl_is_public(uint32_t acl);

/* The canonical ids of the two owners, to resolve CanonicalUser grantees (bucket_owner NULL:
 * a bucket's ACL, where bucket-owner-* canned ACLs are private, as AWS ignores them). */
struct acl_ids {
    const char *owner, *bucket_owner;
};

/* A canned ACL (x-amz-acl, PostObject's acl field) into *acl: TS_OK, TS_E_INVALID_ARGUMENT
 * (unknown), TS_E_NOT_IMPLEMENTED (aws-exec-read, log-delivery-write); e has the message. */
int acl_canned(const char *name, const struct acl_ids *ids, uint32_t *acl, struct ts_error *e);
/* One x-amz-grant-<perm> header (perm: read, write, read-acp, write-acp, full-control; value:
 * comma-separated id="..." / uri="..." / emailAddress="...") added to *acl. */
int acl_grant_header(const char *perm, const char *value, const struct acl_ids *ids, uint32_t *acl,
                     struct ts_error *e);
/* An AccessControlPolicy document into *acl (ACL_SET, its grants): TS_E_MALFORMED_ACL (not
 * the schema; a permission S3 does not know), TS_E_ACCESS_DENIED (its Owner is not the
 * resource's), acl_grant_header's grantee errors. */
int acl_parse_xml(const char *xml, size_t len, const struct acl_ids *ids, uint32_t *acl,
                  struct ts_error *e);
/* The permission name of one ACL_* bit ("READ"...). */
const char *acl_perm_name(unsigned perm);

/* What action needs of an ACL: *perm of the bucket's ACL (ACL_ON_BUCKET) or of the object's
 * (ACL_ON_OBJECT), or nothing an ACL grants (ACL_ON_NONE). AWS's mapping: bucket READ lists
 * (s3:ListBucket, s3:ListBucketVersions, s3:ListBucketMultipartUploads), bucket WRITE writes and
 * deletes its objects (s3:PutObject, s3:DeleteObject), READ_ACP / WRITE_ACP read and write the
 * ACL (s3:GetBucketAcl, s3:PutBucketAcl, s3:GetObjectAcl, s3:PutObjectAcl), object READ reads
 * (s3:GetObject); FULL_CONTROL is all of them. */
enum acl_on { ACL_ON_NONE, ACL_ON_BUCKET, ACL_ON_OBJECT };
enum acl_on acl_action(const char *action, unsigned *perm);
/* Whether acl grants perm to a caller through its group grants: AllUsers to everyone,
 * AuthenticatedUsers to signed callers only. */
bool acl_allows(uint32_t acl, unsigned perm, bool signed_caller);

#endif
