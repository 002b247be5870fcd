/* The table of actions a written policy may name (policy/actions.c, pol_action_known) holds
 * every action the code checks: the IAM action of every S3 operation (objstore/s3_ops.c),
 * every admin endpoint (sts/admin_api.c), the STS actions (sts/actions.c: their IAM action,
 * and "sts:" + the name of each federation action, which role trust policies evaluate) and
 * sts:TagSession. The S3 and admin tables are static: their sources are read for the action
 * literals (condition keys aside). A new operation whose action is missing fails here. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/pol.h"
#include "sts/sts_int.h"
#include "tests/harness/t.h"

#define SRC "../../../"

/* Checks every "service:Name" literal of path (service s3/sts/admin; not the condition
 * keys s3:prefix, s3:delimiter, s3:max-keys, which are lower case). Returns how many. */
static int check_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;
    bool continued = false; /* the previous line ended in a backslash */

    ok(f != NULL, "open %s", path);
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        size_t ll = strlen(line);
        /* the S3_CONF row macros of s3_ops.c: their definitions build "s3:Get" action and
         * "s3:Put" action by concatenation; each use names the action as its third string */
        bool in_macro = continued;
        continued = ll >= 2 && line[ll - 2] == '\\';
        if (in_macro || strncmp(line, "#define", 7) == 0)
            continue;
        if (strstr(line, "S3_CONF2(") != NULL || strstr(line, "S3_CONF3(") != NULL) {
            char a[96], full[128];
            if (sscanf(line, " S3_CONF%*d(\"%*[^\"]\", \"%*[^\"]\", \"%95[^\"]\"", a) == 1) {
                snprintf(full, sizeof full, "s3:Get%s", a);
                ok(pol_action_known(full), "%s: %s is in policy/actions.c", path, full);
                snprintf(full, sizeof full, "s3:Put%s", a);
                ok(pol_action_known(full), "%s: %s is in policy/actions.c", path, full);
                n += 2;
            } else {
                ok(false, "%s: unreadable S3_CONF row: %s", path, line);
            }
            continue;
        }
        for (char *q = strchr(line, '"'); q != NULL; q = strchr(q + 1, '"')) {
            char *end = strchr(q + 1, '"'), lit[128];
            if (end == NULL)
                break;
            size_t len = (size_t)(end - q - 1);
            if (len > 0 && len < sizeof lit) {
                memcpy(lit, q + 1, len);
                lit[len] = '\0';
                char *colon = strchr(lit, ':');
                if (colon != NULL && isupper((unsigned char)colon[1]) &&
                    strspn(colon + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") ==
                        strlen(colon + 1) &&
                    (strncmp(lit, "s3:", 3) == 0 || strncmp(lit, "sts:", 4) == 0 ||
                     strncmp(lit, "admin:", 6) == 0)) {
                    ok(pol_action_known(lit), "%s: %s is in policy/actions.c", path, lit);
                    n++;
                }
            }
            q = end;
        }
    }
    fclose(f);
    return n;
}

int main(void)
{
    ok(check_file(SRC "objstore/s3_ops.c") >= 30, "the S3 operations' actions were found");
    ok(check_file(SRC "sts/admin_api.c") >= 20, "the admin endpoints' actions were found");
    for (size_t i = 0; i < STS_NACTIONS; i++) {
        char name[96];
        if (sts_actions[i].iam_action != NULL)
            ok(pol_action_known(sts_actions[i].iam_action), "%s", sts_actions[i].iam_action);
        if (sts_actions[i].metric != NULL) { /* a federation action: trust policies name it */
            snprintf(name, sizeof name, "sts:%s", sts_actions[i].name);
            ok(pol_action_known(name), "%s", name);
        }
    }
    ok(pol_action_known("sts:TagSession"), "sts:TagSession");
    return t_done();
}
