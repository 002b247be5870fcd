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
 * The table holds every IAM action the code checks: every IAM action of objstore/s3_ops.c,
 * sts/actions.c, sts/admin_api.c and the trust evaluation of policy/roles.c, plus the MinIO
 * admin actions of the canned "diagnostics" policy (policy/canned.c); and the S3 and KMS
 * actions AWS and MinIO define that tessera does not check yet (below).
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
    /* S3 operations tessera's store answers NotImplemented and the gateway passes through
     * (objstore/s3_ops.c), and the versioned actions the gateway checks (objstore/s3_gw.c) */
    "s3:DeleteBucketWebsite",
    "s3:GetAccelerateConfiguration",
    "s3:GetBucketLogging",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketRequestPayment",
    "s3:GetBucketWebsite",
    "s3:GetObjectVersionAcl",
    "s3:PutAccelerateConfiguration",
    "s3:PutBucketLogging",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketRequestPayment",
    "s3:PutBucketWebsite",
    "s3:PutObjectVersionAcl",
    /* S3 actions that AWS and MinIO define and tessera has no operation for yet (versions,
     * retention, notifications, replication, ...): accepted so that policies written for S3 or
     * MinIO load; with no operation to govern, an Allow on them grants nothing and a Deny
     * takes nothing away. */
    "s3:BypassGovernanceRetention",
    "s3:DeleteObjectVersion",
    "s3:DeleteObjectVersionTagging",
    "s3:GetBucketNotification",
    "s3:GetBucketPolicyStatus",
    "s3:GetObjectAttributes",
    "s3:GetObjectLegalHold",
    "s3:GetObjectRetention",
    "s3:GetObjectVersion",
    "s3:GetObjectVersionAttributes",
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionTagging",
    "s3:GetReplicationConfiguration",
    "s3:ListenBucketNotification",
    "s3:ListenNotification",
    "s3:PutBucketNotification",
    "s3:PutObjectLegalHold",
    "s3:PutObjectRetention",
    "s3:PutObjectVersionTagging",
    "s3:PutReplicationConfiguration",
    "s3:ReplicateDelete",
    "s3:ReplicateObject",
    "s3:ReplicateTags",
    "s3:RestoreObject",
    /* MinIO's KMS actions (its canned consoleAdmin policy names kms:*) */
    "kms:API",
    "kms:CreateKey",
    "kms:DeleteKey",
    "kms:KeyStatus",
    "kms:ListKeys",
    "kms:Metrics",
    "kms:Status",
    "kms:Version",
    /* sts (sts/actions.c; trust policies: policy/roles.c) */
    "sts:AssumeRole",
    "sts:AssumeRoleWithCertificate",
    "sts:AssumeRoleWithClientGrants",
    "sts:AssumeRoleWithCustomToken",
    "sts:AssumeRoleWithLDAPIdentity",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:GetCallerIdentity",
    "sts:GetSessionToken",
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
    "admin:RunLifecycle", /* tessera's: POST lifecycle/run (sts/admin_lc.c) */
    "admin:UpdateRoleTrust",
    "admin:UpdateUser",
    /* service accounts (sts/admin_svc.c), MinIO's names */
    "admin:CreateServiceAccount",
    "admin:ListServiceAccounts",
    "admin:RemoveServiceAccount",
    "admin:UpdateServiceAccount",
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
