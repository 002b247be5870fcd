/* test_acl.c -- the ACL model (objstore/acl.c): canned ACLs, x-amz-grant-* headers, the
 * AccessControlPolicy document (expat), what actions need of an ACL and which grants decide,
 * and the ACL and owner in the object's meta record (meta.c, version 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "objstore/acl.h"
#include "objstore/obj_int.h"
#include "tests/harness/t.h"

#define OID "1111111111111111111111111111111111111111111111111111111111111111"
#define BID "2222222222222222222222222222222222222222222222222222222222222222"
#define XSI "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""

static const struct acl_ids obj_ids = {OID, BID}, bkt_ids = {OID, NULL};

static void test_canned(void)
{
    struct ts_error e = {0};
    uint32_t a;
    is_int(acl_canned("private", &obj_ids, &a, &e), TS_OK, "private");
    ok(a == ACL_PRIVATE, "private: the owner's FULL_CONTROL");
    is_int(acl_canned("public-read", &obj_ids, &a, &e), TS_OK, "public-read");
    ok(ACL_OF(a, ACL_G_ALL) == ACL_READ && ACL_OF(a, ACL_G_OWNER) == ACL_FULL, "public-read bits");
    ok(acl_is_public(a), "public-read is public");
    is_int(acl_canned("public-read-write", &obj_ids, &a, &e), TS_OK, "public-read-write");
    ok(ACL_OF(a, ACL_G_ALL) == (ACL_READ | ACL_WRITE), "public-read-write bits");
    is_int(acl_canned("authenticated-read", &obj_ids, &a, &e), TS_OK, "authenticated-read");
    ok(ACL_OF(a, ACL_G_AUTH) == ACL_READ && acl_is_public(a), "authenticated-read: public");
    is_int(acl_canned("bucket-owner-full-control", &obj_ids, &a, &e), TS_OK, "bofc");
    ok(ACL_OF(a, ACL_G_BUCKET_OWNER) == ACL_FULL && !acl_is_public(a), "bofc bits");
    is_int(acl_canned("bucket-owner-read", &bkt_ids, &a, &e), TS_OK, "bor on a bucket");
    ok(a == ACL_PRIVATE, "bucket-owner-read on a bucket is private (S3 ignores it)");
    is_int(acl_canned("public", &obj_ids, &a, &e), TS_E_INVALID_ARGUMENT, "unknown canned");
    is_int(acl_canned("aws-exec-read", &obj_ids, &a, &e), TS_E_NOT_IMPLEMENTED, "exec-read");
    is_int(acl_canned("log-delivery-write", &obj_ids, &a, &e), TS_E_NOT_IMPLEMENTED, "ldw");
    ok(!acl_is_public(0), "the default is private");
}

static void test_headers(void)
{
    struct ts_error e = {0};
    uint32_t a = 0;
    is_int(acl_grant_header("read", "uri=\"" ACL_URI_ALL "\", uri=\"" ACL_URI_AUTH "\"", &obj_ids,
                            &a, &e),
           TS_OK, "two groups");
    is_int(acl_grant_header("FULL-CONTROL", "id=\"" OID "\",id=" BID, &obj_ids, &a, &e), TS_OK,
           "owners, one unquoted");
    ok(ACL_OF(a, ACL_G_ALL) == ACL_READ && ACL_OF(a, ACL_G_AUTH) == ACL_READ, "groups read");
    ok(ACL_OF(a, ACL_G_OWNER) == ACL_FULL && ACL_OF(a, ACL_G_BUCKET_OWNER) == ACL_FULL, "owners");
    ok(a & ACL_SET, "explicit");
    a = 0;
    is_int(acl_grant_header("write-acp", "id=\"" BID "\"", &bkt_ids, &a, &e), TS_E_INVALID_ARGUMENT,
           "the bucket owner is no grantee of a bucket's ACL");
    is_int(acl_grant_header("read", "emailAddress=\"a@b.c\"", &obj_ids, &a, &e),
           TS_E_UNRESOLVABLE_EMAIL, "e-mail grantee");
    is_int(acl_grant_header("read", "uri=\"http://acs.amazonaws.com/groups/s3/LogDelivery\"",
                            &obj_ids, &a, &e),
           TS_E_NOT_IMPLEMENTED, "LogDelivery");
    is_int(acl_grant_header("read", "uri=\"http://example.com/all\"", &obj_ids, &a, &e),
           TS_E_INVALID_ARGUMENT, "unknown group");
    is_int(acl_grant_header("read", "id=\"" OID, &obj_ids, &a, &e), TS_E_INVALID_ARGUMENT,
           "unterminated quote");
    is_int(acl_grant_header("read", "nonsense", &obj_ids, &a, &e), TS_E_INVALID_ARGUMENT,
           "no type");
    is_int(acl_grant_header("read", "id=\"" OID "\" junk", &obj_ids, &a, &e), TS_E_INVALID_ARGUMENT,
           "trailing bytes");
    is_int(acl_grant_header("everything", "id=\"" OID "\"", &obj_ids, &a, &e),
           TS_E_INVALID_ARGUMENT, "unknown permission");
}

static int parse(const char *xml, const struct acl_ids *ids, uint32_t *a)
{
    struct ts_error e = {0};
    return acl_parse_xml(xml, strlen(xml), ids, a, &e);
}

#define GRANT(kind, type, v, perm)                                                                 \
    "<Grant><Grantee " XSI " xsi:type=\"" type "\"><" kind ">" v "</" kind "></Grantee>"           \
    "<Permission>" perm "</Permission></Grant>"
#define DOC(owner, grants)                                                                         \
    "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" owner                \
    "<AccessControlList>" grants "</AccessControlList></AccessControlPolicy>"
#define OWNER(id) "<Owner><ID>" id "</ID><DisplayName>x</DisplayName></Owner>"

static void test_xml(void)
{
    uint32_t a;
    is_int(parse(DOC(OWNER(OID), GRANT("ID", "CanonicalUser", OID, "FULL_CONTROL")
                                     GRANT("URI", "Group", ACL_URI_ALL, "READ")
                                         GRANT("URI", "Group", ACL_URI_AUTH, "WRITE_ACP")),
                 &obj_ids, &a),
           TS_OK, "a document");
    ok(ACL_OF(a, ACL_G_OWNER) == ACL_FULL && ACL_OF(a, ACL_G_ALL) == ACL_READ &&
           ACL_OF(a, ACL_G_AUTH) == ACL_WRITE_ACP,
       "its grants");
    is_int(parse(DOC("", ""), &obj_ids, &a), TS_OK, "no owner, no grant");
    ok(a == ACL_SET, "an empty ACL: nobody (not even the owner) is granted");
    is_int(parse(DOC(OWNER(BID), ""), &obj_ids, &a), TS_E_ACCESS_DENIED, "another owner");
    is_int(parse(DOC("", GRANT("URI", "Group", ACL_URI_ALL, "ALL")), &obj_ids, &a),
           TS_E_MALFORMED_ACL, "unknown permission");
    is_int(parse(DOC("", GRANT("EmailAddress", "AmazonCustomerByEmail", "a@b.c", "READ")), &obj_ids,
                 &a),
           TS_E_UNRESOLVABLE_EMAIL, "e-mail grantee");
    is_int(parse(DOC("", GRANT("ID", "CanonicalUser", "abc", "READ")), &obj_ids, &a),
           TS_E_INVALID_ARGUMENT, "unknown id");
    is_int(parse(DOC("", "<Grant><Permission>READ</Permission></Grant>"), &obj_ids, &a),
           TS_E_MALFORMED_ACL, "no grantee");
    is_int(parse(DOC("", "<Other/>"), &obj_ids, &a), TS_E_MALFORMED_ACL, "not a grant");
    is_int(parse("<AccessControlPolicy/>", &obj_ids, &a), TS_E_MALFORMED_ACL, "no list");
    is_int(parse("<Tagging><AccessControlList/></Tagging>", &obj_ids, &a), TS_E_MALFORMED_ACL,
           "another root");
    is_int(parse("<AccessControlPolicy><AccessControlList>", &obj_ids, &a), TS_E_MALFORMED_ACL,
           "not well-formed");
    is_int(parse("<!DOCTYPE x [<!ENTITY a \"b\">]><AccessControlPolicy/>", &obj_ids, &a),
           TS_E_MALFORMED_ACL, "a DTD");
    /* 101 grants: over S3's limit. */
    size_t cap = 200 * 200;
    char *big = malloc(cap);
    strcpy(big, "<AccessControlPolicy><AccessControlList>");
    for (int i = 0; i < 101; i++)
        strcat(big, GRANT("URI", "Group", ACL_URI_ALL, "READ"));
    strcat(big, "</AccessControlList></AccessControlPolicy>");
    is_int(parse(big, &obj_ids, &a), TS_E_MALFORMED_ACL, "101 grants");
    free(big);
}

static void test_decisions(void)
{
    unsigned perm = 0;
    ok(acl_action("s3:ListBucket", &perm) == ACL_ON_BUCKET && perm == ACL_READ,
       "list: bucket READ");
    ok(acl_action("s3:PutObject", &perm) == ACL_ON_BUCKET && perm == ACL_WRITE,
       "put: bucket WRITE");
    ok(acl_action("s3:DeleteObject", &perm) == ACL_ON_BUCKET && perm == ACL_WRITE, "delete");
    ok(acl_action("s3:GetObject", &perm) == ACL_ON_OBJECT && perm == ACL_READ, "get: object READ");
    ok(acl_action("s3:getobjectacl", &perm) == ACL_ON_OBJECT && perm == ACL_READ_ACP, "any case");
    ok(acl_action("s3:PutObjectAcl", &perm) == ACL_ON_OBJECT && perm == ACL_WRITE_ACP, "put acl");
    ok(acl_action("s3:PutBucketAcl", &perm) == ACL_ON_BUCKET && perm == ACL_WRITE_ACP, "bkt acl");
    ok(acl_action("s3:DeleteBucket", &perm) == ACL_ON_NONE, "nothing grants DeleteBucket");
    ok(acl_action("s3:PutBucketPolicy", &perm) == ACL_ON_NONE, "nor policies");
    ok(acl_action(NULL, &perm) == ACL_ON_NONE, "no action");
    uint32_t pub = ACL_PRIVATE | ACL_BITS(ACL_G_ALL, ACL_READ);
    uint32_t auth = ACL_PRIVATE | ACL_BITS(ACL_G_AUTH, ACL_READ);
    uint32_t full = ACL_PRIVATE | ACL_BITS(ACL_G_ALL, ACL_FULL);
    ok(acl_allows(pub, ACL_READ, false) && acl_allows(pub, ACL_READ, true), "AllUsers READ");
    ok(!acl_allows(pub, ACL_WRITE, false), "READ is not WRITE");
    ok(!acl_allows(pub, ACL_READ_ACP, false), "READ is not READ_ACP");
    ok(!acl_allows(auth, ACL_READ, false) && acl_allows(auth, ACL_READ, true),
       "AuthenticatedUsers: signed callers only");
    ok(acl_allows(full, ACL_WRITE_ACP, false), "FULL_CONTROL is everything");
    ok(!acl_allows(0, ACL_READ, true) && !acl_allows(ACL_PRIVATE, ACL_READ, false),
       "private grants nobody (owners' rights come from policies)");
    ok(!acl_allows(ACL_PRIVATE | ACL_BITS(ACL_G_BUCKET_OWNER, ACL_FULL), ACL_READ, true),
       "nor do owner grants");
}

static void test_meta_codec(void)
{
    struct obj_meta m = {0}, d;
    size_t len;
    m.size = 5;
    memcpy(m.id, "0123456789abcdef0123456789abcdef", OBJ_ID_LEN + 1);
    strcpy(m.etag, "abc");
    void *enc = obj_meta_encode(&m, &len);
    ok(enc != NULL && ((uint8_t *)enc)[0] == 1, "no ACL, no tags: version 1 as before");
    free(enc);
    m.acl = ACL_PRIVATE | ACL_BITS(ACL_G_ALL, ACL_READ);
    m.owner = strdup("arn:aws:iam::000000000000:user/bob");
    enc = obj_meta_encode(&m, &len);
    ok(enc != NULL && ((uint8_t *)enc)[0] == 4, "version 4 (the access section)");
    is_int(obj_meta_decode(enc, len, &d), TS_OK, "decodes");
    ok(d.acl == m.acl && d.owner != NULL && strcmp(d.owner, m.owner) == 0 && d.ntags == 0,
       "ACL and owner back");
    obj_meta_cleanup(&d);
    for (size_t cut = 1; cut < len; cut++)
        ok(obj_meta_decode(enc, cut, &d) != TS_OK, "truncated at %zu: an error", cut);
    free(enc);
    free(m.owner);
    m.owner = NULL; /* an ACL without an owner (the bucket's) */
    enc = obj_meta_encode(&m, &len);
    is_int(obj_meta_decode(enc, len, &d), TS_OK, "no owner decodes");
    ok(d.acl == m.acl && d.owner == NULL, "no owner: NULL");
    struct obj_meta c;
    is_int(obj_meta_copy(&c, &d), TS_OK, "copy");
    ok(c.acl == d.acl && c.owner == NULL, "copy keeps the ACL");
    obj_meta_cleanup(&c);
    obj_meta_cleanup(&d);
    free(enc);
}

int main(void)
{
    test_canned();
    test_headers();
    test_xml();
    test_decisions();
    test_meta_codec();
    return t_done();
}
