/* conf.c -- the LDAP backend's configuration: MinIO's IDENTITY_LDAP_* variables (TESSERA_
 * or MINIO_ prefix, core/cfg.h), validated once at start with a message that names the
 * variable. See ldap/tldap.h and docs/CONFIG-ldap.md.
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

/* The full name of the variable that is set ("TESSERA_..." or "MINIO_..."), for messages. */
static const char *var_name(const char *name, char *buf, size_t len)
{
    const char *v;
    snprintf(buf, len, "TESSERA_%s", name);
    v = getenv(buf);
    if (v != NULL && *v != '\0')
        return buf;
    snprintf(buf, len, "MINIO_%s", name);
    v = getenv(buf);
    if (v != NULL && *v != '\0')
        return buf;
    snprintf(buf, len, "TESSERA_%s", name);
    return buf;
}

static int bad(char *err, size_t errlen, const char *name, const char *why)
{
    char vn[128];
    snprintf(err, errlen, "%s: %s", var_name(name, vn, sizeof vn), why);
    return TS_E_INVALID_ARGUMENT;
}

static int get_bool(const char *name, bool *out, char *err, size_t errlen)
{
    const char *v = cfg_get(name);
    *out = false;
    if (v == NULL)
        return TS_OK;
    if (!strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcasecmp(v, "1") ||
        !strcasecmp(v, "yes") || !strcasecmp(v, "enable") || !strcasecmp(v, "enabled")) {
        *out = true;
        return TS_OK;
    }
    if (!strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcasecmp(v, "0") ||
        !strcasecmp(v, "no") || !strcasecmp(v, "disable") || !strcasecmp(v, "disabled"))
        return TS_OK;
    return bad(err, errlen, name, "not a boolean (use on or off)");
}

/* Seconds from "30", "30s", "5m", "1h". */
static int get_duration(const char *name, long dflt, long min, long max, long *out, char *err,
                        size_t errlen)
{
    const char *v = cfg_get(name);
    char *end;
    long n, mul = 1;

    *out = dflt;
    if (v == NULL)
        return TS_OK;
    errno = 0;
    n = strtol(v, &end, 10);
    if (end == v || errno != 0 || n < 0)
        goto fail;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    if (*end != '\0' || n > max / mul || n * mul < min)
        goto fail;
    *out = n * mul;
    return TS_OK;
fail : {
    char why[128];
    snprintf(why, sizeof why, "not a duration between %lds and %lds (e.g. 30s, 5m)", min, max);
    return bad(err, errlen, name, why);
}
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
            return bad(err, errlen, "IDENTITY_LDAP_SERVER_ADDR",
                       "an ldaps:// address cannot be used with SERVER_STARTTLS or "
                       "SERVER_INSECURE");
        host = addr + 8;
    } else if (strncasecmp(addr, "ldap://", 7) == 0) {
        if (tls)
            return bad(err, errlen, "IDENTITY_LDAP_SERVER_ADDR",
                       "an ldap:// address needs SERVER_STARTTLS=on (or SERVER_INSECURE=on "
                       "for plain LDAP)");
        host = addr + 7;
    }
    size_t n = strlen(host);
    while (n > 0 && host[n - 1] == '/')
        n--;
    if (n == 0 || n > 512)
        return bad(err, errlen, "IDENTITY_LDAP_SERVER_ADDR", "no host name");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)host[i];
        if (!isalnum(c) && strchr(".-:[]_", c) == NULL)
            return bad(err, errlen, "IDENTITY_LDAP_SERVER_ADDR",
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
        return bad(err, errlen, "IDENTITY_LDAP_SERVER_ADDR",
                   "IPv6 addresses must be written as [ADDR]:PORT");
    if (has_port) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end != host + n || port < 1 || port > 65535)
            return bad(err, errlen, "IDENTITY_LDAP_SERVER_ADDR", "bad port number");
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

/* CAs: TESSERA_CA_FILE and every PEM file in CERTS_DIR/CAs/, plus the system store. With none
 * of the former, libldap's default (ldap.conf: the system store) is used. Otherwise all are
 * concatenated into one private temporary bundle (libldap takes one CA file). */
static int setup_cas(struct tldap *l, const char *certs_dir, char *err, size_t errlen)
{
    struct iam_strv files = {0};
    const char *ca_file = cfg_get("CA_FILE");
    char path[4096], tmpl[4096];
    FILE *out = NULL;
    int fd = -1, rc = TS_E_INTERNAL;

    if (ca_file != NULL) {
        int h = file_has_cert(ca_file);
        if (h <= 0) {
            rc = bad(err, errlen, "CA_FILE",
                     h < 0 ? "cannot be read" : "contains no PEM certificate");
            goto out;
        }
        if (tldap_strv_add(&files, ca_file) != 0)
            goto out;
    }
    if (certs_dir != NULL) {
        DIR *dir;
        struct dirent *de;
        snprintf(path, sizeof path, "%s/CAs", certs_dir);
        dir = opendir(path);
        while (dir != NULL && (de = readdir(dir)) != NULL) {
            struct stat sb;
            if (de->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/CAs/%s", certs_dir, de->d_name);
            if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || file_has_cert(path) != 1)
                continue;
            if (tldap_strv_add(&files, path) != 0) {
                closedir(dir);
                goto out;
            }
        }
        if (dir != NULL)
            closedir(dir);
    }
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

int tldap_new_from_env(const char *certs_dir, struct tldap **out, char *err, size_t errlen)
{
    const char *addr = cfg_get("IDENTITY_LDAP_SERVER_ADDR");
    const char *v;
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

    if ((rc = get_bool("IDENTITY_LDAP_SERVER_STARTTLS", &l->starttls, err, errlen)) ||
        (rc = get_bool("IDENTITY_LDAP_SERVER_INSECURE", &l->insecure, err, errlen)) ||
        (rc = get_bool("IDENTITY_LDAP_TLS_SKIP_VERIFY", &l->skip_verify, err, errlen)))
        goto fail;
    if (l->insecure && l->starttls) {
        rc = bad(err, errlen, "IDENTITY_LDAP_SERVER_INSECURE",
                 "cannot be combined with SERVER_STARTTLS (choose plain LDAP or StartTLS)");
        goto fail;
    }
    if ((rc = make_uri(l, addr, err, errlen)) != TS_OK)
        goto fail;

    v = cfg_get("IDENTITY_LDAP_LOOKUP_BIND_DN");
    if (v == NULL) {
        rc = bad(err, errlen, "IDENTITY_LDAP_LOOKUP_BIND_DN",
                 "required (the service account that searches users and groups)");
        goto fail;
    }
    if (dup_str(&l->lookup_dn, v) != 0)
        goto fail;
    v = cfg_get("IDENTITY_LDAP_LOOKUP_BIND_PASSWORD");
    if (v == NULL) {
        rc = bad(err, errlen, "IDENTITY_LDAP_LOOKUP_BIND_PASSWORD", "required");
        goto fail;
    }
    if (dup_str(&l->lookup_pw, v) != 0)
        goto fail;

    v = cfg_get("IDENTITY_LDAP_USER_DN_SEARCH_BASE_DN");
    if (v == NULL) {
        rc = bad(err, errlen, "IDENTITY_LDAP_USER_DN_SEARCH_BASE_DN", "required");
        goto fail;
    }
    if (split(v, ';', &l->user_bases) != 0)
        goto fail;
    v = cfg_get("IDENTITY_LDAP_USER_DN_SEARCH_FILTER");
    if (v == NULL || strstr(v, "%s") == NULL || !filter_ok(v)) {
        rc = bad(err, errlen, "IDENTITY_LDAP_USER_DN_SEARCH_FILTER",
                 v == NULL ? "required, e.g. (uid=%s)"
                           : "must be a parenthesised LDAP filter containing %s, e.g. (uid=%s)");
        goto fail;
    }
    if (dup_str(&l->user_filter, v) != 0)
        goto fail;

    v = cfg_get("IDENTITY_LDAP_USERNAME_ATTRIBUTE");
    {
        char attr[128];
        if (v == NULL && tldap_filter_name_attr(l->user_filter, attr, sizeof attr))
            v = attr;
        if (v != NULL && dup_str(&l->name_attr, v) != 0)
            goto fail;
    }

    v = cfg_get("IDENTITY_LDAP_GROUP_SEARCH_FILTER");
    if (v != NULL) {
        if (!filter_ok(v)) {
            rc = bad(err, errlen, "IDENTITY_LDAP_GROUP_SEARCH_FILTER",
                     "must be a parenthesised LDAP filter, e.g. "
                     "(&(objectclass=groupOfNames)(member=%d))");
            goto fail;
        }
        if (dup_str(&l->group_filter, v) != 0)
            goto fail;
        v = cfg_get("IDENTITY_LDAP_GROUP_SEARCH_BASE_DN");
        if (v == NULL) {
            rc = bad(err, errlen, "IDENTITY_LDAP_GROUP_SEARCH_BASE_DN",
                     "required when GROUP_SEARCH_FILTER is set");
            goto fail;
        }
        if (split(v, ';', &l->group_bases) != 0)
            goto fail;
    } else if (cfg_get("IDENTITY_LDAP_GROUP_SEARCH_BASE_DN") != NULL) {
        rc = bad(err, errlen, "IDENTITY_LDAP_GROUP_SEARCH_FILTER",
                 "required when GROUP_SEARCH_BASE_DN is set");
        goto fail;
    }

    v = cfg_get("IDENTITY_LDAP_USER_DN_ATTRIBUTES");
    if (v != NULL) {
        if (split(v, ',', &l->extra_attrs) != 0)
            goto fail;
        for (size_t i = 0; i < l->extra_attrs.n; i++)
            for (const char *p = l->extra_attrs.v[i]; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '-' && *p != ';' && *p != '.') {
                    rc = bad(err, errlen, "IDENTITY_LDAP_USER_DN_ATTRIBUTES",
                             "attribute names are letters, digits and '-'");
                    goto fail;
                }
    }

    if ((rc = get_duration("IDENTITY_LDAP_TIMEOUT", TLDAP_DEFAULT_TIMEOUT, 1, 300, &l->timeout, err,
                           errlen)) ||
        (rc = get_duration("IDENTITY_LDAP_REFRESH_INTERVAL", TLDAP_DEFAULT_REFRESH, 1, 86400,
                           &l->refresh, err, errlen)))
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
