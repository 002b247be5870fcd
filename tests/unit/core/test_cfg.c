/* test_cfg.c -- the configuration table: defaults, aliases, per-provider suffixes, refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/err.h"
#include "tests/harness/t.h"

extern char **environ;

/* Removes every TESSERA_ and MINIO_ variable. */
static void clear_env(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e != NULL && name[0] == '\0'; e++)
            if (strncmp(*e, "TESSERA_", 8) == 0 || strncmp(*e, "MINIO_", 6) == 0)
                snprintf(name, sizeof name, "%.*s", (int)strcspn(*e, "="), *e);
        if (name[0] == '\0')
            return;
        unsetenv(name);
    }
}

static void test_defaults(void)
{
    char err[256];
    clear_env();
    is_int(cfg_load(err, sizeof err), TS_OK, "every default of the table parses");
    is_str(cfg_str(CFG_REGION), "us-east-1", "region default");
    is_int(cfg_num(CFG_STS_MAX_DURATION), 43200, "max duration default");
    is_int(cfg_num(CFG_LDAP_REFRESH_INTERVAL), 300, "5m is 300 s");
    is_int(cfg_num(CFG_LOG_LEVEL), 1, "info is the second level");
    ok(cfg_on(CFG_OPENID_ENABLE) && !cfg_on(CFG_OPENID_EXPIRY_FROM_TOKEN), "bool defaults");
    ok(cfg_str(CFG_AUDIT_LOG) == NULL, "no default: NULL");
    is_str(cfg_source(CFG_REGION), "TESSERA_REGION", "source of an unset variable");
    for (int id = 0; id < CFG__COUNT; id++)
        ok(strncmp(cfg_var(id)->name, "TESSERA_", 8) == 0 && cfg_var(id)->doc != NULL,
           "row %d named and documented", id);
}

static void test_aliases(void)
{
    char err[256];
    clear_env();
    setenv("MINIO_REGION_NAME", "eu-west-3", 1);
    is_int(cfg_load(err, sizeof err), TS_OK, "alias loads");
    is_str(cfg_str(CFG_REGION), "eu-west-3", "MINIO_REGION_NAME is the region");
    is_str(cfg_source(CFG_REGION), "MINIO_REGION_NAME", "source names the alias");
    setenv("MINIO_SITE_REGION", "eu-north-1", 1);
    cfg_load(err, sizeof err);
    is_str(cfg_str(CFG_REGION), "eu-north-1", "earlier alias wins");
    setenv("TESSERA_REGION", "ap-east-1", 1);
    cfg_load(err, sizeof err);
    is_str(cfg_str(CFG_REGION), "ap-east-1", "the TESSERA_ name wins");
    setenv("TESSERA_REGION", "", 1);
    cfg_load(err, sizeof err);
    is_str(cfg_str(CFG_REGION), "eu-north-1", "empty counts as unset");
    setenv("MINIO_IDENTITY_LDAP_TIMEOUT", "2m", 1);
    cfg_load(err, sizeof err);
    is_int(cfg_num(CFG_LDAP_TIMEOUT), 120, "MINIO_ alias of a duration");
}

static void test_suffixes(void)
{
    char err[256];
    const char *const *sfx;
    clear_env();
    setenv("TESSERA_IDENTITY_OPENID_CONFIG_URL_CORP", "https://corp.example/x", 1);
    setenv("MINIO_IDENTITY_OPENID_CONFIG_URL_CORP", "https://ignored.example/x", 1);
    setenv("MINIO_IDENTITY_OPENID_CONFIG_URL", "https://default.example/x", 1);
    setenv("MINIO_IDENTITY_OPENID_CONFIG_URL_ALPHA", "http://alpha.example/x", 1);
    setenv("TESSERA_IDENTITY_OPENID_CLAIM_NAME_CORP", "roles", 1);
    setenv("TESSERA_IDENTITY_OPENID_CLAIM_USERINFO_CORP", "on", 1);
    setenv("TESSERA_IDENTITY_OPENID_CONNECT_TIMEOUT", "7", 1);
    is_int(cfg_load(err, sizeof err), TS_OK, "suffixed variables load");
    is_int(cfg_suffixes(CFG_OPENID_CONFIG_URL, &sfx), 3, "three providers");
    ok(sfx != NULL && strcmp(sfx[0], "") == 0 && strcmp(sfx[1], "ALPHA") == 0 &&
           strcmp(sfx[2], "CORP") == 0,
       "default first, then sorted");
    is_str(cfg_str_sfx(CFG_OPENID_CONFIG_URL, "CORP"), "https://corp.example/x",
           "TESSERA_ wins per suffix");
    is_str(cfg_str_sfx(CFG_OPENID_CLAIM_NAME, "CORP"), "roles", "suffixed claim name");
    is_str(cfg_str_sfx(CFG_OPENID_CLAIM_NAME, "ALPHA"), "policy", "unset suffix: the default");
    ok(cfg_on_sfx(CFG_OPENID_CLAIM_USERINFO, "CORP") && !cfg_on(CFG_OPENID_CLAIM_USERINFO),
       "suffixed bool");
    is_int(cfg_num(CFG_OPENID_CONNECT_TIMEOUT), 7, "an unsuffixed row is not taken as a suffix");
    is_int(cfg_suffixes(CFG_OPENID_CLIENT_ID, &sfx), 0, "no client ids");
}

static void refused(const char *name, const char *value, const char *want)
{
    char err[256] = "";
    clear_env();
    setenv(name, value, 1);
    ok(cfg_load(err, sizeof err) == TS_E_INVALID_ARGUMENT, "%s=%s refused", name, value);
    ok(strstr(err, name) != NULL && strstr(err, want) != NULL, "message: %s", err);
}

static void test_refused(void)
{
    char err[256];
    refused("TESSERA_LOG_LEVEL", "verbose", "debug, info, warn, error");
    refused("TESSERA_HTTP_THREADS", "lots", "integer from 0 to 1024");
    refused("TESSERA_HTTP_THREADS", "-1", "integer");
    refused("TESSERA_HTTP_THREADS", "4x", "integer");
    refused("TESSERA_STS_MAX_DURATION", "100", "900 to 31536000");
    refused("TESSERA_IDENTITY_OPENID_EXPIRY_FROM_TOKEN", "maybe", "on or off");
    refused("TESSERA_IDENTITY_OPENID_ENABLE_CORP", "maybe", "on or off");
    refused("MINIO_IDENTITY_OPENID_TIMEOUT", "0", "1s to 300s");
    refused("TESSERA_IDENTITY_OPENID_CONFIG_URL", "ftp://x", "http://");
    refused("TESSERA_IDENTITY_LDAP_REFRESH_INTERVAL", "5d", "1s to 86400s");
    refused("TESSERA_STS_RATE_LIMIT", "fast", "RATE:BURST");
    refused("MINIO_REGION_NAME", "eu/west", "letters, digits");
    refused("TESSERA_IDENTITY_OPENID_CLIENT_ID_A.B", "x", "provider name");
    refused("TESSERA_ROOT_PASSWORD", "s3cr", "8–128 characters");
    {
        char e2[256] = "";
        clear_env();
        setenv("TESSERA_ROOT_PASSWORD", "s3cr", 1);
        cfg_load(e2, sizeof e2);
        ok(strstr(e2, "s3cr") == NULL, "a secret is not echoed: %s", e2);
    }
    clear_env();
    setenv("TESSERA_ENDPOINT", "not checked by the server", 1);
    is_int(cfg_load(err, sizeof err), TS_OK, "client variables are not parsed at start");
    clear_env();
}

int main(void)
{
    test_defaults();
    test_aliases();
    test_suffixes();
    test_refused();
    return t_done();
}
