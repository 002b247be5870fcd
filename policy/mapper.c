/* mapper.c -- claims → policy names (policy/mapper.h), shared by every identity backend. */
#include "policy/mapper.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "policy/pol.h"

#define MAPPER_MAX_POLICIES 256

bool pol_map_policy_exists(struct iam_store *st, const char *name)
{
    char *json = NULL;
    if (name == NULL || *name == '\0')
        return false;
    if (pol_canned_json(name) != NULL)
        return true;
    if (st == NULL || iam_policy_get(st, name, &json) != TS_OK)
        return false;
    free(json);
    return true;
}

/* Appends name when it exists and is not there yet. */
static int add_name(struct iam_store *st, struct iam_strv *sv, const char *name)
{
    char **nv;
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], name) == 0)
            return TS_OK;
    if (sv->n >= MAPPER_MAX_POLICIES || !pol_map_policy_exists(st, name))
        return TS_OK;
    nv = realloc(sv->v, (sv->n + 1) * sizeof *nv);
    if (nv == NULL)
        return TS_E_INTERNAL;
    sv->v = nv;
    if ((sv->v[sv->n] = strdup(name)) == NULL)
        return TS_E_INTERNAL;
    sv->n++;
    return TS_OK;
}

static int add_attached(struct iam_store *st, struct iam_strv *sv, const char *dn)
{
    struct iam_strv att = {0};
    int rc = iam_attached(st, IAM_TARGET_DN, dn, &att);
    if (rc != TS_OK)
        return rc == TS_E_NO_SUCH_ENTITY ? TS_OK : rc;
    for (size_t i = 0; i < att.n && rc == TS_OK; i++)
        rc = add_name(st, sv, att.v[i]);
    iam_strv_free(&att);
    return rc;
}

static int add_group(struct iam_store *st, struct iam_strv *sv, const char *group)
{
    struct iam_group g;
    int rc;
    if (*group == '/')
        group++; /* Keycloak's full group path: "/admins" */
    if (*group == '\0')
        return TS_OK;
    memset(&g, 0, sizeof g);
    rc = iam_group_get(st, group, &g);
    if (rc == TS_E_NO_SUCH_ENTITY || rc == TS_E_INVALID_ARGUMENT)
        return TS_OK;
    if (rc != TS_OK)
        return rc;
    for (size_t i = 0; g.enabled && i < g.policies.n && rc == TS_OK; i++)
        rc = add_name(st, sv, g.policies.v[i]);
    iam_group_cleanup(&g);
    return rc;
}

int pol_map_claims(struct iam_store *st, const struct idp_claims *claims, struct iam_strv *out,
                   const char **why)
{
    struct iam_strv sv = {0};
    const char *dummy;
    int rc = TS_OK;

    if (why == NULL)
        why = &dummy;
    *why = NULL;
    for (size_t i = 0; i < claims->policies.n && rc == TS_OK; i++)
        rc = add_name(st, &sv, claims->policies.v[i]);
    /* The policies attached to the identity's DN (policy attach --dn), then its groups':
     * directory DNs through DN attachments, or tessera groups by name. */
    if (st != NULL && rc == TS_OK && claims->dn != NULL)
        rc = add_attached(st, &sv, claims->dn);
    for (size_t i = 0; st != NULL && i < claims->groups.n && rc == TS_OK; i++)
        rc = claims->groups_are_dns ? add_attached(st, &sv, claims->groups.v[i])
                                    : add_group(st, &sv, claims->groups.v[i]);
    if (rc != TS_OK) {
        iam_strv_free(&sv);
        *why = "the policy store failed";
        return TS_E_INTERNAL;
    }
    if (sv.n == 0) {
        *why = claims->policies.n > 0 ? "none of the identity's policies exists"
                                      : "no policy is mapped to this identity or any of its groups";
        return TS_E_STS_ACCESS_DENIED;
    }
    *out = sv;
    return TS_OK;
}
