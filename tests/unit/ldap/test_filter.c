/* test_filter.c -- ldap/filter.c: RFC 4515 escaping (the spec's examples), filter templates
 * with %s / %d, DN normalisation, and the configuration checks of ldap/conf.c. */
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"
#include "core/err.h"
#include "ldap/tldap.h"
#include "tests/harness/t.h"

static void check_escape(const char *in, const char *want)
{
    char *got = tldap_filter_escape(in);
    is_str(got, want, in);
    free(got);
}

static void check_norm(const char *in, const char *want)
{
    char *got = tldap_dn_normalize(in);
    is_str(got, want, in);
    free(got);
}

static void check_expand(const char *tmpl, const char *name, const char *dn, const char *want)
{
    char *got = tldap_filter_expand(tmpl, name, dn);
    is_str(got, want, tmpl);
    free(got);
}

static void test_escape(void)
{
    /* RFC 4515 section 4 examples (values) */
    check_escape("Parens R Us (for all your parenthetical needs)",
                 "Parens R Us \\28for all your parenthetical needs\\29");
    check_escape("*", "\\2a");
    check_escape("C:\\MyFile", "C:\\5cMyFile");
    check_escape("Lu\xc4\x8di\xc4\x87", "Lu\xc4\x8di\xc4\x87"); /* UTF-8 kept */
    check_escape("", "");
    /* injection attempts */
    check_escape("*)(uid=*", "\\2a\\29\\28uid=\\2a");
    check_escape("admin)(|(uid=*", "admin\\29\\28|\\28uid=\\2a");
    check_escape("\\2a", "\\5c2a");
    check_escape("dan(*)", "dan\\28\\2a\\29");
}

static void test_expand(void)
{
    check_expand("(uid=%s)", "dan(*)", NULL, "(uid=dan\\28\\2a\\29)");
    check_expand("(&(objectclass=groupOfNames)(member=%d))", "dan", "uid=dan,ou=people",
                 "(&(objectclass=groupOfNames)(member=uid=dan,ou=people))");
    check_expand("(|(memberUid=%s)(member=%d))", "x*", "cn=a\\, b,dc=x",
                 "(|(memberUid=x\\2a)(member=cn=a\\5c, b,dc=x))");
    check_expand("(uid=%s)(cn=%s)", "a", NULL, "(uid=a)(cn=a)");
    check_expand("(member=%d)", "a", NULL, "(member=)");
    check_expand("(x=100%)(y=%q)", "a", "b", "(x=100%)(y=%q)");
    check_expand("(uid=%s)", "*)(uid=*", NULL, "(uid=\\2a\\29\\28uid=\\2a)");
}

static void test_name_attr(void)
{
    char a[64];
    ok(tldap_filter_name_attr("(uid=%s)", a, sizeof a) && strcmp(a, "uid") == 0, "uid: %s", a);
    ok(tldap_filter_name_attr("(&(objectClass=user)(sAMAccountName=%s))", a, sizeof a) &&
           strcmp(a, "sAMAccountName") == 0,
       "sAMAccountName: %s", a);
    ok(tldap_filter_name_attr("(|(mail=%s)(uid=%s))", a, sizeof a) && strcmp(a, "mail") == 0,
       "first: %s", a);
    ok(!tldap_filter_name_attr("(objectClass=*)", a, sizeof a), "no %%s");
}

static void test_normalize(void)
{
    check_norm("uid=dan,ou=people,dc=example,dc=org", "uid=dan,ou=people,dc=example,dc=org");
    check_norm("UID=Dan, OU=People, DC=Example, DC=Org", "uid=dan,ou=people,dc=example,dc=org");
    check_norm("  CN = Admins ,  DC = Example  ", "cn=admins,dc=example");
    /* escapes kept, one canonical form */
    check_norm("CN=Smith\\, John,DC=Example", "cn=smith\\, john,dc=example");
    check_norm("CN=Smith\\2C John,DC=Example", "cn=smith\\, john,dc=example");
    check_norm("cn=Smith\\2c John , dc=example", "cn=smith\\, john,dc=example");
    check_norm("cn=a\\+b,dc=x", "cn=a\\+b,dc=x");
    check_norm("cn=a\\3Db,dc=x", "cn=a\\=b,dc=x");
    check_norm("cn=\\23hash,dc=x", "cn=\\#hash,dc=x");
    check_norm("cn=trailing\\ ,dc=x", "cn=trailing\\ ,dc=x");
    check_norm("cn=\\ lead,dc=x", "cn=\\ lead,dc=x");
    check_norm("cn=dan\\28\\2A\\29,dc=x", "cn=dan(*),dc=x");
    check_norm("cn=Caf\\C3\\A9,dc=x", "cn=caf\xc3\xa9,dc=x");
    check_norm("cn=a+sn=B,dc=x", "cn=a+sn=b,dc=x");
    check_norm("cn=\"Smith, John\",dc=x", "cn=smith\\, john,dc=x");
    check_norm("cn=a;dc=x", "cn=a,dc=x");
    check_norm("", "");
    /* malformed */
    check_norm("cn=a\\", NULL);
    check_norm("cn=a,", NULL);
    check_norm("justtext", NULL);
    check_norm("=a,dc=x", NULL);
    check_norm("cn=a,,dc=x", NULL);
}

/* The server parses the configuration once at start (cfg_load); these tests change the
 * environment between backends, so they parse it again before each. */
static int ldap_from_env(struct tldap **l, char *err, size_t errlen)
{
    int rc = cfg_load(err, errlen);
    *l = NULL;
    return rc != TS_OK ? rc : tldap_new_from_env(NULL, l, err, errlen);
}

static void clear_env(void)
{
    static const char *const names[] = {
        "SERVER_ADDR",
        "LOOKUP_BIND_DN",
        "LOOKUP_BIND_PASSWORD",
        "USER_DN_SEARCH_BASE_DN",
        "USER_DN_SEARCH_FILTER",
        "GROUP_SEARCH_BASE_DN",
        "GROUP_SEARCH_FILTER",
        "SERVER_STARTTLS",
        "TLS_SKIP_VERIFY",
        "SERVER_INSECURE",
        "TIMEOUT",
        "REFRESH_INTERVAL",
    };
    char key[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(key, sizeof key, "TESSERA_IDENTITY_LDAP_%s", names[i]);
        unsetenv(key);
        snprintf(key, sizeof key, "MINIO_IDENTITY_LDAP_%s", names[i]);
        unsetenv(key);
    }
    unsetenv("TESSERA_CA_FILE");
    unsetenv("MINIO_CA_FILE");
}

static void test_config(void)
{
    struct tldap *l = (struct tldap *)1;
    char err[256];

    clear_env();
    is_int(ldap_from_env(&l, err, sizeof err), TS_OK, "unconfigured");
    ok(l == NULL, "unconfigured gives no backend");

    setenv("MINIO_IDENTITY_LDAP_SERVER_ADDR", "127.0.0.1:1389", 1);
    err[0] = '\0';
    is_int(ldap_from_env(&l, err, sizeof err), TS_E_INVALID_ARGUMENT, "no lookup dn");
    ok(strstr(err, "IDENTITY_LDAP_LOOKUP_BIND_DN: required") != NULL, "names the variable: %s",
       err);

    setenv("TESSERA_IDENTITY_LDAP_LOOKUP_BIND_DN", "cn=lookup,dc=x", 1);
    setenv("TESSERA_IDENTITY_LDAP_LOOKUP_BIND_PASSWORD", "pw", 1);
    setenv("TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_BASE_DN", "ou=people,dc=x", 1);
    setenv("TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER", "(uid=x)", 1);
    is_int(ldap_from_env(&l, err, sizeof err), TS_E_INVALID_ARGUMENT, "filter w/o %s");
    ok(strstr(err, "USER_DN_SEARCH_FILTER") != NULL, "filter message: %s", err);

    setenv("TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER", "(uid=%s)", 1);
    setenv("TESSERA_IDENTITY_LDAP_SERVER_STARTTLS", "maybe", 1);
    is_int(ldap_from_env(&l, err, sizeof err), TS_E_INVALID_ARGUMENT, "bad bool");
    ok(strstr(err, "SERVER_STARTTLS") != NULL, "bool message: %s", err);

    setenv("TESSERA_IDENTITY_LDAP_SERVER_STARTTLS", "on", 1);
    setenv("TESSERA_IDENTITY_LDAP_GROUP_SEARCH_FILTER", "(member=%d)", 1);
    is_int(ldap_from_env(&l, err, sizeof err), TS_E_INVALID_ARGUMENT, "group filter w/o base");
    setenv("TESSERA_IDENTITY_LDAP_GROUP_SEARCH_BASE_DN", "ou=groups,dc=x", 1);
    setenv("TESSERA_IDENTITY_LDAP_REFRESH_INTERVAL", "2m", 1);
    setenv("TESSERA_CA_FILE", "/nonexistent/ca.pem", 1);
    is_int(ldap_from_env(&l, err, sizeof err), TS_E_INVALID_ARGUMENT, "bad CA file");
    ok(strstr(err, "TESSERA_CA_FILE") != NULL, "CA message: %s", err);
    unsetenv("TESSERA_CA_FILE");

    l = NULL;
    is_int(ldap_from_env(&l, err, sizeof err), TS_OK, "valid config");
    ok(l != NULL, "backend made");
    if (l != NULL)
        is_int(tldap_refresh_interval(l), 120, "refresh 2m");
    tldap_free(l);

    setenv("TESSERA_IDENTITY_LDAP_SERVER_ADDR", "ldaps://127.0.0.1:636", 1);
    is_int(ldap_from_env(&l, err, sizeof err), TS_E_INVALID_ARGUMENT, "ldaps:// with StartTLS");
    setenv("TESSERA_IDENTITY_LDAP_SERVER_ADDR", "host name", 1);
    is_int(ldap_from_env(&l, err, sizeof err), TS_E_INVALID_ARGUMENT, "bad host");
    clear_env();
}

/* Claims are refused before any network traffic for bad input. */
static void test_auth_input(void)
{
    struct tldap *l = NULL;
    struct idp_claims c;
    char err[256];
    struct ts_error terr;

    clear_env();
    setenv("TESSERA_IDENTITY_LDAP_SERVER_ADDR", "127.0.0.1:1", 1); /* nothing listens */
    setenv("TESSERA_IDENTITY_LDAP_LOOKUP_BIND_DN", "cn=lookup,dc=x", 1);
    setenv("TESSERA_IDENTITY_LDAP_LOOKUP_BIND_PASSWORD", "pw", 1);
    setenv("TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_BASE_DN", "ou=people,dc=x", 1);
    setenv("TESSERA_IDENTITY_LDAP_USER_DN_SEARCH_FILTER", "(uid=%s)", 1);
    setenv("TESSERA_IDENTITY_LDAP_TIMEOUT", "2", 1);
    if (ldap_from_env(&l, err, sizeof err) != TS_OK || l == NULL) {
        ok(0, "config: %s", err);
        return;
    }
    memset(&c, 0x5a, sizeof c);
    is_int(tldap_authenticate(l, "dan", "", &c, &terr), TS_E_STS_ACCESS_DENIED,
           "empty password refused");
    ok(c.dn == NULL && c.username == NULL && c.nvars == 0, "claims zeroed on error");
    is_int(tldap_authenticate(l, "", "pw", &c, &terr), TS_E_STS_INVALID_PARAMETER, "empty user");
    is_int(tldap_authenticate(l, "a\nb", "pw", &c, &terr), TS_E_STS_INVALID_PARAMETER,
           "control characters");
    /* Issue 13 item 15: invalid UTF-8 and characters XML cannot carry, refused before any bind */
    static const char *const bad_users[] = {"al\xffice", "\xc0\xaf",      "a\xed\xa0\x80", "a\x01",
                                            "a\xc2\x85", "a\xef\xbf\xbe", "a\x7f"};
    for (size_t i = 0; i < sizeof bad_users / sizeof bad_users[0]; i++)
        is_int(tldap_authenticate(l, bad_users[i], "pw", &c, &terr), TS_E_STS_INVALID_PARAMETER,
               "LDAPUsername not printable UTF-8");
    /* Unreachable directory: a clear error, fast. */
    is_int(tldap_authenticate(l, "dan", "pw", &c, &terr), TS_E_SERVICE_UNAVAILABLE, "server down");
    ok(strstr(terr.msg, "LDAP server") != NULL, "message: %s", terr.msg);
    tldap_free(l);
    clear_env();
}

int main(void)
{
    test_escape();
    test_expand();
    test_name_attr();
    test_normalize();
    test_config();
    test_auth_input();
    return t_done();
}
