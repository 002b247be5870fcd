/* acl.c -- S3 access control lists, the pure part (acl.h): canned ACLs, grant headers, the
 * AccessControlPolicy document (expat, core/xml.c), and what an action needs of an ACL. */
#include "objstore/acl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/xml.h"

#define ACL_XML_MAX (64u << 10)
#define ACL_MAX_GRANTS 100 /* S3's limit */

uint32_t acl_norm(uint32_t acl)
{
    return acl == 0 ? ACL_PRIVATE : acl;
}

bool acl_is_public(uint32_t acl)
{
    return (acl_norm(acl) & ACL_PUBLIC_MASK) != 0;
}

static const struct {
    const char *name;
    uint32_t grants; /* besides the owner's FULL_CONTROL */
    bool objects_only;
} canned[] = {
    {"private", 0, false},
    {"public-read", ACL_BITS(ACL_G_ALL, ACL_READ), false},
    {"public-read-write", ACL_BITS(ACL_G_ALL, ACL_READ | ACL_WRITE), false},
    {"authenticated-read", ACL_BITS(ACL_G_AUTH, ACL_READ), false},
    {"bucket-owner-read", ACL_BITS(ACL_G_BUCKET_OWNER, ACL_READ), true},
    {"bucket-owner-full-control", ACL_BITS(ACL_G_BUCKET_OWNER, ACL_FULL), true},
};

int acl_canned(const char *name, const struct acl_ids *ids, uint32_t *acl, struct ts_error *e)
{
    for (size_t i = 0; i < sizeof canned / sizeof *canned; i++) {
        if (strcmp(name, canned[i].name) != 0)
            continue;
        /* On a bucket, S3 ignores the bucket-owner-* canned ACLs: private. */
        *acl = ACL_PRIVATE |
               (canned[i].objects_only && ids->bucket_owner == NULL ? 0 : canned[i].grants);
        return TS_OK;
    }
    if (strcmp(name, "aws-exec-read") == 0 || strcmp(name, "log-delivery-write") == 0)
        return ts_error_set(e, TS_E_NOT_IMPLEMENTED,
                            "The canned ACL %s is not implemented by this server.", name);
    return ts_error_set(e, TS_E_INVALID_ARGUMENT, "Invalid canned ACL: %.64s", name);
}

static const struct {
    const char *header, *xml;
    unsigned bit;
} perms[] = {
    {"read", "READ", ACL_READ},
    {"write", "WRITE", ACL_WRITE},
    {"read-acp", "READ_ACP", ACL_READ_ACP},
    {"write-acp", "WRITE_ACP", ACL_WRITE_ACP},
    {"full-control", "FULL_CONTROL", ACL_FULL},
};

const char *acl_perm_name(unsigned perm)
{
    for (size_t i = 0; i < sizeof perms / sizeof *perms; i++)
        if (perms[i].bit == perm)
            return perms[i].xml;
    return NULL;
}

/* One grantee (type: "id", "uri" or "emailAddress", any case) into *g. */
static int grantee(const char *type, const char *value, const struct acl_ids *ids,
                   enum acl_grantee *g, struct ts_error *e)
{
    if (strcasecmp(type, "id") == 0) {
        if (ids->owner != NULL && strcmp(value, ids->owner) == 0)
            *g = ACL_G_OWNER;
        else if (ids->bucket_owner != NULL && strcmp(value, ids->bucket_owner) == 0)
            *g = ACL_G_BUCKET_OWNER;
        else
            return ts_error_set(e, TS_E_INVALID_ARGUMENT,
                                "Invalid id: a grant names the owner of the bucket or object "
                                "only.");
        return TS_OK;
    }
    if (strcasecmp(type, "uri") == 0) {
        if (strcmp(value, ACL_URI_ALL) == 0)
            *g = ACL_G_ALL;
        else if (strcmp(value, ACL_URI_AUTH) == 0)
            *g = ACL_G_AUTH;
        else if (strcmp(value, "http://acs.amazonaws.com/groups/s3/LogDelivery") == 0)
            return ts_error_set(e, TS_E_NOT_IMPLEMENTED,
                                "The LogDelivery group is not implemented by this server.");
        else
            return ts_error_set(e, TS_E_INVALID_ARGUMENT, "Invalid group uri");
        return TS_OK;
    }
    if (strcasecmp(type, "emailAddress") == 0)
        return ts_error_set(e, TS_E_UNRESOLVABLE_EMAIL, NULL);
    return ts_error_set(e, TS_E_INVALID_ARGUMENT, "Invalid grantee type: %.32s", type);
}

static unsigned perm_bit(const char *name, bool header)
{
    for (size_t i = 0; i < sizeof perms / sizeof *perms; i++)
        if (header ? strcasecmp(name, perms[i].header) == 0 : strcmp(name, perms[i].xml) == 0)
            return perms[i].bit;
    return 0;
}

int acl_grant_header(const char *perm, const char *value, const struct acl_ids *ids, uint32_t *acl,
                     struct ts_error *e)
{
    unsigned bit = perm_bit(perm, true);
    if (bit == 0)
        return ts_error_set(e, TS_E_INVALID_ARGUMENT, "Unknown grant header x-amz-grant-%.32s",
                            perm);
    const char *p = value;
    *acl |= ACL_SET;
    while (*p) {
        char type[32], v[512];
        p += strspn(p, " \t");
        size_t tl = strcspn(p, "=");
        if (p[tl] != '=' || tl == 0 || tl >= sizeof type)
            return ts_error_set(e, TS_E_INVALID_ARGUMENT, "Invalid grant header value");
        snprintf(type, sizeof type, "%.*s", (int)tl, p);
        p += tl + 1;
        bool q = *p == '"';
        p += q;
        size_t vl = strcspn(p, q ? "\"" : ", \t");
        if (vl >= sizeof v || (q && p[vl] != '"'))
            return ts_error_set(e, TS_E_INVALID_ARGUMENT, "Invalid grant header value");
        snprintf(v, sizeof v, "%.*s", (int)vl, p);
        p += vl + q;
        p += strspn(p, " \t");
        if (*p != 0 && *p++ != ',')
            return ts_error_set(e, TS_E_INVALID_ARGUMENT, "Invalid grant header value");
        enum acl_grantee g;
        int rc = grantee(type, v, ids, &g, e);
        if (rc != TS_OK)
            return rc;
        *acl |= ACL_BITS(g, bit);
    }
    return TS_OK;
}

/* One <Grant>: its grantee and permission added to *acl. */
static int grant_xml(const struct xml_node *gr, const struct acl_ids *ids, uint32_t *acl,
                     struct ts_error *e)
{
    const struct xml_node *ge = xml_child(gr, "Grantee");
    const char *perm = xml_child_text(gr, "Permission");
    unsigned bit = perm ? perm_bit(perm, false) : 0;
    if (strcmp(gr->name, "Grant") != 0 || ge == NULL || bit == 0)
        return ts_error_set(e, TS_E_MALFORMED_ACL, NULL);
    static const char *const kinds[][2] = {
        {"ID", "id"}, {"URI", "uri"}, {"EmailAddress", "emailAddress"}};
    for (size_t i = 0; i < 3; i++) {
        const char *v = xml_child_text(ge, kinds[i][0]);
        if (v == NULL)
            continue;
        enum acl_grantee g;
        int rc = grantee(kinds[i][1], v, ids, &g, e);
        if (rc == TS_OK)
            *acl |= ACL_BITS(g, bit);
        return rc;
    }
    return ts_error_set(e, TS_E_MALFORMED_ACL, NULL);
}

int acl_parse_xml(const char *xml, size_t len, const struct acl_ids *ids, uint32_t *acl,
                  struct ts_error *e)
{
    if (len > ACL_XML_MAX)
        return ts_error_set(e, TS_E_MALFORMED_ACL, NULL);
    struct xml_node *x = xml_parse(xml, len);
    const struct xml_node *list =
        x && strcmp(x->name, "AccessControlPolicy") == 0 ? xml_child(x, "AccessControlList") : NULL;
    const struct xml_node *owner = x ? xml_child(x, "Owner") : NULL;
    const char *oid = owner ? xml_child_text(owner, "ID") : NULL;
    int rc = list ? TS_OK : ts_error_set(e, TS_E_MALFORMED_ACL, NULL);
    if (rc == TS_OK && owner != NULL &&
        (oid == NULL || ids->owner == NULL || strcmp(oid, ids->owner) != 0))
        rc = ts_error_set(e, TS_E_ACCESS_DENIED, NULL); /* S3: the owner cannot be changed */
    *acl = ACL_SET;
    size_t n = 0;
    for (const struct xml_node *g = list ? list->child : NULL; g && rc == TS_OK; g = g->next)
        rc = ++n > ACL_MAX_GRANTS ? ts_error_set(e, TS_E_MALFORMED_ACL, NULL)
                                  : grant_xml(g, ids, acl, e);
    xml_free(x);
    return rc;
}

static const struct {
    const char *action;
    enum acl_on on;
    unsigned perm;
} actions[] = {
    {"s3:ListBucket", ACL_ON_BUCKET, ACL_READ},
    {"s3:ListBucketVersions", ACL_ON_BUCKET, ACL_READ},
    {"s3:ListBucketMultipartUploads", ACL_ON_BUCKET, ACL_READ},
    {"s3:PutObject", ACL_ON_BUCKET, ACL_WRITE},
    {"s3:DeleteObject", ACL_ON_BUCKET, ACL_WRITE},
    {"s3:GetBucketAcl", ACL_ON_BUCKET, ACL_READ_ACP},
    {"s3:PutBucketAcl", ACL_ON_BUCKET, ACL_WRITE_ACP},
    {"s3:GetObject", ACL_ON_OBJECT, ACL_READ},
    {"s3:GetObjectVersion", ACL_ON_OBJECT, ACL_READ},
    {"s3:GetObjectAcl", ACL_ON_OBJECT, ACL_READ_ACP},
    {"s3:GetObjectVersionAcl", ACL_ON_OBJECT, ACL_READ_ACP},
    {"s3:PutObjectAcl", ACL_ON_OBJECT, ACL_WRITE_ACP},
    {"s3:PutObjectVersionAcl", ACL_ON_OBJECT, ACL_WRITE_ACP},
};

enum acl_on acl_action(const char *action, unsigned *perm)
{
    for (size_t i = 0; action != NULL && i < sizeof actions / sizeof *actions; i++)
        if (strcasecmp(action, actions[i].action) == 0) {
            *perm = actions[i].perm;
            return actions[i].on;
        }
    return ACL_ON_NONE;
}

bool acl_allows(uint32_t acl, unsigned perm, bool signed_caller)
{
    acl = acl_norm(acl);
    unsigned have = ACL_OF(acl, ACL_G_ALL) | (signed_caller ? ACL_OF(acl, ACL_G_AUTH) : 0);
    return (have & (perm | ACL_FULL)) != 0;
}
