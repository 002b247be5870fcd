/* actions.c -- the actions tessera checks: the table a policy's Action / NotAction is checked
 * against when a policy is written (pol_validate: admin policy put, bucket policy put, STS
 * session policies, role trust policies).
 *
 * An action that names nothing tessera checks would be stored and then never match: an Allow
 * that grants nothing, or worse a Deny that denies nothing. So, as MinIO does and as S3 does
 * for bucket policies, such a policy is refused (MalformedPolicy); a wildcard ("s3:Get*") is
 * accepted when it matches at least one action of the table (MinIO's rule). Policies already
 * stored are read without this check (pol_doc_parse), so an upgrade never locks anyone out.
 *
 * Keep the table equal to what the code checks: every IAM action of objstore/s3_ops.c,
 * sts/actions.c, sts/admin_api.c and the trust evaluation of policy/roles.c, plus the MinIO
 * admin actions of the canned "diagnostics" policy (policy/canned.c).
 * @test tests/unit/policy/test_doc.c (test_known_actions)
 */
#include <ctype.h>
#include <string.h>

#include "policy/pol_int.h"

static const char *const known_actions[] = {
    /* s3 (objstore/s3_ops.c) */
    "s3:AbortMultipartUpload",
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:DeleteObject",
    "s3:DeleteObjectTagging",
    "s3:GetBucketAcl",
    "s3:GetBucketCORS",
    "s3:GetBucketLocation",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketPolicy",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:GetObjectTagging",
    "s3:ListAllMyBuckets",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:ListBucketVersions",
    "s3:ListMultipartUploadParts",
    "s3:PutBucketAcl",
    "s3:PutBucketCORS",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketPolicy",
    "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectTagging",
    /* sts (sts/actions.c; trust policies: policy/roles.c) */
    "sts:AssumeRole",
    "sts:AssumeRoleWithClientGrants",
    "sts:AssumeRoleWithLDAPIdentity",
    "sts:AssumeRoleWithWebIdentity",
    "sts:GetCallerIdentity",
    "sts:TagSession",
    /* admin (sts/admin_api.c) */
    "admin:AddUserToGroup",
    "admin:AttachRolePolicy",
    "admin:AttachUserOrGroupPolicy",
    "admin:CreatePolicy",
    "admin:CreateRole",
    "admin:CreateUser",
    "admin:DeletePolicy",
    "admin:DeleteRole",
    "admin:DeleteUser",
    "admin:DisableUser",
    "admin:EnableUser",
    "admin:GetGroup",
    "admin:GetPolicy",
    "admin:GetRole",
    "admin:GetUser",
    "admin:ListGroups",
    "admin:ListRoles",
    "admin:ListUserPolicies",
    "admin:ListUsers",
    "admin:RemoveUserFromGroup",
    "admin:RevokeTokens",
    "admin:RotateTokenKey",
    "admin:UpdateRoleTrust",
    "admin:UpdateUser",
    /* MinIO's canned "diagnostics" policy (policy/canned.c) */
    "admin:BandwidthMonitor",
    "admin:ConsoleLog",
    "admin:OBDInfo",
    "admin:Profiling",
    "admin:Prometheus",
    "admin:ServerInfo",
    "admin:ServerTrace",
    "admin:TopLocksInfo",
};

bool pol_action_known(const char *action)
{
    struct pol_pat p;
    char low[64];
    bool found = false;

    if (action == NULL || pol_pat_compile(&p, action, true, false, true) != 0)
        return false;
    for (size_t i = 0; !found && i < sizeof known_actions / sizeof *known_actions; i++) {
        size_t n = strlen(known_actions[i]);
        if (n >= sizeof low)
            continue;
        for (size_t k = 0; k < n; k++)
            low[k] = (char)tolower((unsigned char)known_actions[i][k]);
        low[n] = '\0';
        found = pol_pat_match(&p, low, n, NULL);
    }
    pol_pat_cleanup(&p);
    return found;
}
