/* canned.c -- MinIO's built-in policies, by MinIO's names and with MinIO's meaning. The
 * engine resolves these names when no stored policy of the same name exists (a stored one
 * overrides, as in MinIO).
 * @test tests/unit/policy/test_eval.c (test_canned)
 */
#include <string.h>

#include "policy/pol.h"

static const struct {
    const char *name;
    const char *json;
} canned[] = {
    /* MinIO's readonly allows s3:GetBucketLocation and s3:GetObject only; tessera adds
     * s3:ListBucket so that a read-only user can list what it may read (docs/API.md). */
    {"readonly", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                 "\"Action\":[\"s3:GetBucketLocation\",\"s3:GetObject\",\"s3:ListBucket\"],"
                 "\"Resource\":[\"arn:aws:s3:::*\"]}]}"},
    {"readwrite", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                  "\"Action\":[\"s3:*\"],\"Resource\":[\"arn:aws:s3:::*\"]}]}"},
    {"writeonly", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                  "\"Action\":[\"s3:PutObject\"],\"Resource\":[\"arn:aws:s3:::*\"]}]}"},
    {"diagnostics", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                    "\"Action\":[\"admin:Profiling\",\"admin:ServerTrace\",\"admin:ConsoleLog\","
                    "\"admin:ServerInfo\",\"admin:TopLocksInfo\",\"admin:OBDInfo\","
                    "\"admin:BandwidthMonitor\",\"admin:Prometheus\"],"
                    "\"Resource\":[\"arn:aws:s3:::*\"]}]}"},
    {"consoleAdmin", "{\"Version\":\"2012-10-17\",\"Statement\":["
                     "{\"Effect\":\"Allow\",\"Action\":[\"admin:*\"]},"
                     "{\"Effect\":\"Allow\",\"Action\":[\"kms:*\"]},"
                     "{\"Effect\":\"Allow\",\"Action\":[\"s3:*\"],"
                     "\"Resource\":[\"arn:aws:s3:::*\"]}]}"},
};

const char *pol_canned_json(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(canned) / sizeof(canned[0]); i++)
        if (strcmp(canned[i].name, name) == 0)
            return canned[i].json;
    return NULL;
}
