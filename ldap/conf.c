/* conf.c -- the LDAP backend's configuration: MinIO's IDENTITY_LDAP_* variables (TESSERA_
 * or MINIO_ prefix): types and ranges are checked by the configuration table (core/cfg.def),
 * the LDAP rules here, once at start, with a message that names the variable. See
 * ldap/tldap.h and docs/CONFIG.md.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/cfg.h"
#include "core/err.h"
#include "ldap/tldap_int.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static int bad(char *err, size_t errlen, enum cfg_id id, const char *why)
{
    snprintf(err, errlen, "%s: %s", cfg_source(id), why);
    return TS_E_INVALID_ARGUMENT;
}

static int dup_str(char **dst, const char *s)
{
    *dst = strdup(s);
    return *dst == NULL ? -1 : 0;
}

/* Splits s on sep into sv (items trimmed, empty ones skipped). */
static int split(const char *s, char sep, struct iam_strv *sv)
{
    const char *p = s;
    while (*p != '\0') {
        const char *e = strchr(p, sep);
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        const char *q = p;
        while (n > 0 && isspace((unsigned char)*q))
            q++, n--;
        while (n > 0 && isspace((unsigned char)q[n - 1]))
            n--;
        if (n > 0) {
            char *item = strndup(q, n);
            if (item == NULL || tldap_strv_add(sv, item) != 0) {
                free(item);
                return -1;
            }
            free(item);
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    return 0;
}

/* A filter must be parenthesised with balanced parentheses. */
static bool filter_ok(const char *f)
{
    int depth = 0;
    if (f[0] != '(')
        return false;
    for (const char *p = f; *p != '\0'; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')' && --depth < 0)
            return false;
    }
    return depth == 0;
}

/* Builds l->uri from SERVER_ADDR: host, host:port, [v6]:port or an ldap[s]:// URI. */
static int make_uri(struct tldap *l, const char *addr, char *err, size_t errlen)
{
    const char *host = addr;
    bool tls = !l->insecure && !l->starttls;
    char uri[600];

    if (strncasecmp(addr, "ldaps://", 8) == 0) {
        if (!tls)
            return bad(err, errlen, CFG_LDAP_SERVER_ADDR,
                       "an ldaps:// address cannot be used with SERVER_STARTTLS or "
                       "SERVER_INSECURE");
        host = addr + 8;
    } else if (strncasecmp(addr, "ldap://", 7) == 0) {
        if (tls)
            return bad(err, errlen, CFG_LDAP_SERVER_ADDR,
                       "an ldap:// address needs SERVER_STARTTLS=on (or SERVER_INSECURE=on "
                       "for plain LDAP)");
        host = addr + 7;
    }
    size_t n = strlen(host);
    while (n > 0 && host[n - 1] == '/')
        n--;
    if (n == 0 || n > 512)
        return bad(err, errlen, CFG_LDAP_SERVER_ADDR, "no host name");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!isalnum(c) && strchr(".-:[]_", c) == NULL)
            return bad(err, errlen, CFG_LDAP_SERVER_ADDR,
                       "not HOST or HOST:PORT (unexpected character)");
    }
    /* A port is present when the last ':' comes after any ']' (IPv6 literal). */
    const char *colon = NULL, *rb = NULL;
    for (size_t i = 0; i < n; i++) {
        if (host[i] == ':')
            colon = host + i;
        if (host[i] == ']')
            rb = host + i;
    }
    bool has_port = colon != NULL && (rb == NULL || colon > rb);
    if (host[0] != '[' && colon != NULL && strchr(host, ':') != colon)
        return bad(err, errlen, CFG_LDAP_SERVER_ADDR,
                   "IPv6 addresses must be written as [ADDR]:PORT");
    if (has_port) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != host + n || port < 1 || port > 65535)
            return bad(err, errlen, CFG_LDAP_SERVER_ADDR, "bad port number");
    }
    snprintf(uri, sizeof uri, "%s://%.*s%s", tls ? "ldaps" : "ldap", (int)n, host,
             has_port ? "" : (tls ? ":636" : ":389"));
    return dup_str(&l->uri, uri) == 0 ? TS_OK : TS_E_INTERNAL;
}

static int file_has_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    int found = 0;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0) {
            found = 1;
            break;
        }
    fclose(f);
    return found;
}

static int append_file(FILE *out, const char *path)
{
    FILE *in = fopen(path, "r");
    char chunk[8192];
    size_t n;
    if (in == NULL)
        return -1;
    while ((n = fread(chunk, 1, sizeof chunk, in)) > 0)
        if (fwrite(chunk, 1, n, out) != n) {
            fclose(in);
            return -1;
        }
    fclose(in);
    return fputc('\n', out) == EOF ? -1 : 0;
}

/* Adds every regular file holding a PEM certificate in certs_dir/CAs/ to files. */
static int add_ca_dir(const char *certs_dir, struct iam_strv *files)
{
    char path[4096];
    struct dirent *de;
    snprintf(path, sizeof path, "%s/CAs", certs_dir);
    DIR *dir = opendir(path);
    while (dir != NULL && (de = readdir(dir)) != NULL) {
        struct stat sb;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/CAs/%s", certs_dir, de->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || file_has_cert(path) != 1)
            continue;
        if (tldap_strv_add(files, path) != 0) {
            closedir(dir);
            return -1;
        }
    }
    if (dir != NULL)
        closedir(dir);
    return 0;
}

/* CAs: TESSERA_CA_FILE and every PEM file in CERTS_DIR/CAs/, plus the system store. With none
 * of the former, libldap's default (ldap.conf: the system store) is used. Otherwise all are
 * concatenated into one private temporary bundle (libldap takes one CA file). */
static int setup_cas(struct tldap *l, const char *certs_dir, char *err, size_t errlen)
{
    struct iam_strv files = {0};
    const char *ca_file = cfg_str(CFG_CA_FILE);
    char tmpl[4096];
    FILE *out = NULL;
    int fd = -1, rc = TS_E_INTERNAL;

    if (ca_file != NULL) {
        int h = file_has_cert(ca_file);
        if (h <= 0) {
            rc = bad(err, errlen, CFG_CA_FILE,
                     h < 0 ? "cannot be read" : "contains no PEM certificate");
            goto out;
        }
        if (tldap_strv_add(&files, ca_file) != 0)
            goto out;
    }
    if (certs_dir != NULL && add_ca_dir(certs_dir, &files) != 0)
        goto out;
    if (files.n == 0) {
        rc = TS_OK;
        goto out;
    }
    tldap_strv_sort_unique(&files);
    snprintf(tmpl, sizeof tmpl, "%s/tessera-ldap-ca-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    fd = mkstemp(tmpl);
    if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
        snprintf(err, errlen, "LDAP: cannot create a CA bundle in %s: %s", tmpl, strerror(errno));
        rc = TS_E_INVALID_ARGUMENT;
        goto out;
    }
    fd = -1;
    if (access(SYSTEM_CA_BUNDLE, R_OK) == 0 && append_file(out, SYSTEM_CA_BUNDLE) != 0)
        goto out;
    for (size_t i = 0; i < files.n; i++)
        if (append_file(out, files.v[i]) != 0) {
            snprintf(err, errlen, "LDAP: cannot read CA file %s", files.v[i]);
            rc = TS_E_INVALID_ARGUMENT;
            goto out;
        }
    if (fclose(out) != 0) {
        out = NULL;
        goto out;
    }
    out = NULL;
    if (dup_str(&l->ca_file, tmpl) != 0) {
        unlink(tmpl);
        goto out;
    }
    l->ca_file_tmp = true;
    rc = TS_OK;
out:
    if (out != NULL) {
        fclose(out);
        unlink(tmpl);
    }
    if (fd >= 0) {
        close(fd);
        unlink(tmpl);
    }
    iam_strv_free(&files);
    return rc;
}

/* The lookup account and the user search (required). */
static int conf_users(struct tldap *l, char *err, size_t errlen)
{
    const char *v = cfg_str(CFG_LDAP_LOOKUP_BIND_DN);
    if (v == NULL)
        return bad(err, errlen, CFG_LDAP_LOOKUP_BIND_DN,
                   "required (the service account that searches users and groups)");
    if (dup_str(&l->lookup_dn, v) != 0)
        return TS_E_INTERNAL;
    if ((v = cfg_str(CFG_LDAP_LOOKUP_BIND_PASSWORD)) == NULL)
        return bad(err, errlen, CFG_LDAP_LOOKUP_BIND_PASSWORD, "required");
    if (dup_str(&l->lookup_pw, v) != 0)
        return TS_E_INTERNAL;
    if ((v = cfg_str(CFG_LDAP_USER_DN_SEARCH_BASE_DN)) == NULL)
        return bad(err, errlen, CFG_LDAP_USER_DN_SEARCH_BASE_DN, "required");
    if (split(v, ';', &l->user_bases) != 0)
        return TS_E_INTERNAL;
    v = cfg_str(CFG_LDAP_USER_DN_SEARCH_FILTER);
    if (v == NULL || strstr(v, "%s") == NULL || !filter_ok(v))
        return bad(err, errlen, CFG_LDAP_USER_DN_SEARCH_FILTER,
                   v == NULL ? "required, e.g. (uid=%s)"
                             : "must be a parenthesised LDAP filter containing %s, e.g. (uid=%s)");
    if (dup_str(&l->user_filter, v) != 0)
        return TS_E_INTERNAL;
    char attr[128];
    v = cfg_str(CFG_LDAP_USERNAME_ATTRIBUTE);
    if (v == NULL && tldap_filter_name_attr(l->user_filter, attr, sizeof attr))
        v = attr;
    return v != NULL && dup_str(&l->name_attr, v) != 0 ? TS_E_INTERNAL : TS_OK;
}

/* The group search (optional: filter and base DN together) and the extra user attributes. */
static int conf_groups(struct tldap *l, char *err, size_t errlen)
{
    const char *filter = cfg_str(CFG_LDAP_GROUP_SEARCH_FILTER);
    const char *base = cfg_str(CFG_LDAP_GROUP_SEARCH_BASE_DN);
    const char *attrs = cfg_str(CFG_LDAP_USER_DN_ATTRIBUTES);
    if (filter != NULL && !filter_ok(filter))
        return bad(err, errlen, CFG_LDAP_GROUP_SEARCH_FILTER,
                   "must be a parenthesised LDAP filter, e.g. "
                   "(&(objectclass=groupOfNames)(member=%d))");
    if (filter != NULL && base == NULL)
        return bad(err, errlen, CFG_LDAP_GROUP_SEARCH_BASE_DN,
                   "required when GROUP_SEARCH_FILTER is set");
    if (filter == NULL && base != NULL)
        return bad(err, errlen, CFG_LDAP_GROUP_SEARCH_FILTER,
                   "required when GROUP_SEARCH_BASE_DN is set");
    if (filter != NULL &&
        (dup_str(&l->group_filter, filter) != 0 || split(base, ';', &l->group_bases) != 0))
        return TS_E_INTERNAL;
    if (attrs != NULL && split(attrs, ',', &l->extra_attrs) != 0)
        return TS_E_INTERNAL;
    for (size_t i = 0; i < l->extra_attrs.n; i++)
        for (const char *p = l->extra_attrs.v[i]; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != ';' && *p != '.')
                return bad(err, errlen, CFG_LDAP_USER_DN_ATTRIBUTES,
                           "attribute names are letters, digits and '-'");
    return TS_OK;
}

/* Reads the parsed configuration (core/cfg.h; types and ranges are checked by cfg_load, the
 * LDAP-specific rules here). */
int tldap_new_from_env(const char *certs_dir, struct tldap **out, char *err, size_t errlen)
{
    const char *addr = cfg_str(CFG_LDAP_SERVER_ADDR);
    struct tldap *l;
    int rc = TS_E_INTERNAL;

    *out = NULL;
    if (addr == NULL)
        return TS_OK;
    l = calloc(1, sizeof *l);
    if (l == NULL)
        return TS_E_INTERNAL;
    pthread_mutex_init(&l->pool_lock, NULL);
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    tldap_conn_init(l);

    l->starttls = cfg_on(CFG_LDAP_SERVER_STARTTLS);
    l->insecure = cfg_on(CFG_LDAP_SERVER_INSECURE);
    l->skip_verify = cfg_on(CFG_LDAP_TLS_SKIP_VERIFY);
    l->timeout = cfg_num(CFG_LDAP_TIMEOUT);
    l->refresh = cfg_num(CFG_LDAP_REFRESH_INTERVAL);
    if (l->insecure && l->starttls) {
        rc = bad(err, errlen, CFG_LDAP_SERVER_INSECURE,
                 "cannot be combined with SERVER_STARTTLS (choose plain LDAP or StartTLS)");
        goto fail;
    }
    if ((rc = make_uri(l, addr, err, errlen)) != TS_OK ||
        (rc = conf_users(l, err, errlen)) != TS_OK || (rc = conf_groups(l, err, errlen)) != TS_OK)
        goto fail;
    if (!l->insecure && (rc = setup_cas(l, certs_dir, err, errlen)) != TS_OK)
        goto fail;

    /* libldap initialises its global state on first use: do it here, single-threaded. */
    {
        int ver = 0;
        ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &ver);
    }
    *out = l;
    return TS_OK;
fail:
    if (rc == TS_E_INTERNAL && err != NULL && errlen > 0 && err[0] == '\0')
        snprintf(err, errlen, "LDAP configuration: out of memory");
    tldap_free(l);
    return rc;
}

struct iam_store *tldap_store(const struct tldap *l)
{
    return l->st;
}

long tldap_refresh_interval(const struct tldap *l)
{
    return l->refresh;
}

void tldap_free(struct tldap *l)
{
    if (l == NULL)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->lock);
        l->stopping = true;
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->thread, NULL);
    }
    tldap_conn_free(l);
    for (size_t i = 0; i < l->nsess; i++) {
        free(l->sess[i].dn);
        free(l->sess[i].username);
        iam_strv_free(&l->sess[i].policies);
    }
    free(l->sess);
    free(l->uri);
    free(l->lookup_dn);
    if (l->lookup_pw != NULL) {
        OPENSSL_cleanse(l->lookup_pw, strlen(l->lookup_pw));
        free(l->lookup_pw);
    }
    iam_strv_free(&l->user_bases);
    free(l->user_filter);
    free(l->name_attr);
    iam_strv_free(&l->group_bases);
    free(l->group_filter);
    iam_strv_free(&l->extra_attrs);
    if (l->ca_file_tmp && l->ca_file != NULL)
        unlink(l->ca_file);
    free(l->ca_file);
    pthread_mutex_destroy(&l->pool_lock);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
}
