/* cfg.c -- environment configuration with MINIO_ aliases. */
#include "core/cfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

const char *cfg_get(const char *name)
{
    char key[256];
    const char *v;
    snprintf(key, sizeof key, "TESSERA_%s", name);
    v = getenv(key);
    if (v != NULL && *v != '\0')
        return v;
    snprintf(key, sizeof key, "MINIO_%s", name);
    v = getenv(key);
    if (v != NULL && *v != '\0')
        return v;
    return NULL;
}

const char *cfg_get_or(const char *name, const char *dflt)
{
    const char *v = cfg_get(name);
    return v ? v : dflt;
}

bool cfg_bool(const char *name, bool dflt)
{
    const char *v = cfg_get(name);
    if (v == NULL)
        return dflt;
    if (!strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcasecmp(v, "1") ||
        !strcasecmp(v, "yes") || !strcasecmp(v, "enable") || !strcasecmp(v, "enabled"))
        return true;
    if (!strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcasecmp(v, "0") ||
        !strcasecmp(v, "no") || !strcasecmp(v, "disable") || !strcasecmp(v, "disabled"))
        return false;
    return dflt;
}

long cfg_long(const char *name, long dflt, bool *ok)
{
    const char *v = cfg_get(name);
    char *end;
    if (ok)
        *ok = true;
    if (v == NULL)
        return dflt;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v) {
        if (ok)
            *ok = false;
        return dflt;
    }
    return n;
}
