/* server.c -- `tessera server [--address HOST:PORT] [--certs DIR] DATA_DIR`.
 *
 * The composition root: reads the configuration, opens the stores, and registers the routes
 * in order (health, admin API, STS, S3) and the SigV4 authn hook. Everything else lives in
 * the modules. SIGINT/SIGTERM stop the server cleanly: no new requests are accepted, in-flight
 * ones finish (up to 30 s), the stores are closed.
 */
#include "cli/server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "sts/admin_api.h"
#include "core/cfg.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/http.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/buf.h"
#include "idp/iam.h"
#include "ldap/tldap.h"
#include "objstore/obj.h"
#include "policy/pol.h"
#include "sts/act_oidc.h"
#include "sts/login_web.h"
#include "sts/sts.h"

struct server_opts {
    const char *address;
    const char *certs;
    const char *data_dir;
};

struct root_creds {
    char user[129];
    char password[129];
    bool generated;
    bool from_env;
};

static int mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    if (strlen(path) >= sizeof tmp)
        return -1;
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, mode) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Root credentials: TESSERA_ROOT_USER/PASSWORD, MINIO_ROOT_USER/PASSWORD, MINIO_ACCESS_KEY/
 * MINIO_SECRET_KEY; else the ones generated on an earlier start (DATA/.tessera/root.json,
 * 0600); else new random ones, stored and printed. */
static int root_creds_load(const char *sysdir, struct root_creds *rc)
{
    const char *u = cfg_get("ROOT_USER"), *p = cfg_get("ROOT_PASSWORD");
    if (u == NULL && p == NULL) {
        u = cfg_get("ACCESS_KEY");
        p = cfg_get("SECRET_KEY");
    }
    memset(rc, 0, sizeof *rc);
    if (u != NULL || p != NULL) {
        if (u == NULL || p == NULL) {
            fprintf(stderr, "tessera: TESSERA_ROOT_USER and TESSERA_ROOT_PASSWORD must be set "
                            "together\n");
            return -1;
        }
        if (strlen(u) < 3 || strlen(u) > 128) {
            fprintf(stderr, "tessera: TESSERA_ROOT_USER: must be 3 to 128 characters\n");
            return -1;
        }
        if (strlen(p) < 8 || strlen(p) > 128) {
            fprintf(stderr, "tessera: TESSERA_ROOT_PASSWORD: must be 8 to 128 characters\n");
            return -1;
        }
        strcpy(rc->user, u);
        strcpy(rc->password, p);
        rc->from_env = true;
        return 0;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/root.json", sysdir);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (j != NULL) {
        const char *ju = json_string_value(json_object_get(j, "user"));
        const char *jp = json_string_value(json_object_get(j, "password"));
        int ok = ju && jp && strlen(ju) < sizeof rc->user && strlen(jp) < sizeof rc->password;
        if (ok) {
            strcpy(rc->user, ju);
            strcpy(rc->password, jp);
        }
        json_decref(j);
        if (!ok) {
            fprintf(stderr,
                    "tessera: %s is damaged; remove it to generate new root "
                    "credentials\n",
                    path);
            return -1;
        }
        return 0;
    }
    static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char mixed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (enc_random_chars(rc->user, 20, upper, sizeof upper - 1) != 0 ||
        enc_random_chars(rc->password, 40, mixed, sizeof mixed - 1) != 0)
        return -1;
    j = json_pack("{s:s,s:s}", "user", rc->user, "password", rc->password);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    int ok =
        fd >= 0 && text && write(fd, text, strlen(text)) == (ssize_t)strlen(text) && fsync(fd) == 0;
    free(text);
    if (fd >= 0)
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "tessera: cannot store root credentials in %s: %s\n", path,
                strerror(errno));
        unlink(tmp);
        return -1;
    }
    rc->generated = true;
    return 0;
}

/* ---- health ---- */

static bool health_match(struct http_req *r)
{
    return strncmp(r->path, "/health/", 8) == 0 || strncmp(r->path, "/minio/health/", 14) == 0;
}

static void health_finish(struct http_req *r)
{
    const char *what = strrchr(r->path, '/') + 1;
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        http_reply_error(r, TS_E_METHOD_NOT_ALLOWED, NULL);
        return;
    }
    if (strcmp(what, "live") == 0 || strcmp(what, "ready") == 0 || strcmp(what, "cluster") == 0)
        http_reply_data(r, 200, "text/plain", (void *)"OK\n", 3, false);
    else
        http_reply_error(r, TS_E_NO_SUCH_KEY, "Unknown health check.");
}

/* The object store answers the browser login's "which buckets can these credentials list". */
static int login_buckets(void *ctx, struct http_req *r, const struct pol_principal *p,
                         struct iam_strv *out)
{
    return obj_buckets_visible(ctx, r, p, out);
}

static const struct http_route health_route = {
    .name = "health",
    .match = health_match,
    .finish = health_finish,
    .err_style = HTTP_ERR_S3,
    .no_authn = true,
};

/* ---- metrics ---- */

static bool metrics_match(struct http_req *r)
{
    return strcmp(r->path, "/metrics") == 0 || strcmp(r->path, "/minio/v2/metrics/cluster") == 0;
}

static void metrics_finish(struct http_req *r)
{
    struct buf b;
    size_t len;
    buf_init(&b, 1 << 22);
    metrics_write(&b);
    char *text = buf_take(&b, &len);
    if (text == NULL) {
        http_reply_error(r, TS_E_INTERNAL, NULL);
        return;
    }
    http_reply_data(r, 200, "text/plain; version=0.0.4", text, len, true);
}

static const struct http_route metrics_route = {
    .name = "metrics",
    .match = metrics_match,
    .finish = metrics_finish,
    .err_style = HTTP_ERR_S3,
    .no_authn = true,
};

static int parse_args(int argc, char **argv, struct server_opts *o)
{
    o->address = cfg_get_or("ADDRESS", "127.0.0.1:9000");
    o->certs = NULL;
    o->data_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--address") == 0) && i + 1 < argc) {
            o->address = argv[++i];
        } else if (strncmp(argv[i], "--address=", 10) == 0) {
            o->address = argv[i] + 10;
        } else if ((strcmp(argv[i], "--certs") == 0 || strcmp(argv[i], "--certs-dir") == 0) &&
                   i + 1 < argc) {
            o->certs = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "tessera server: unknown option %s\n", argv[i]);
            return -1;
        } else if (o->data_dir == NULL) {
            o->data_dir = argv[i];
        } else {
            fprintf(stderr, "tessera server: one DATA_DIR only\n");
            return -1;
        }
    }
    if (o->data_dir == NULL) {
        fprintf(stderr, "usage: tessera server [--address HOST:PORT] [--certs DIR] DATA_DIR\n");
        return -1;
    }
    return 0;
}

int server_main(int argc, char **argv)
{
    struct server_opts o;
    struct root_creds rc;
    char sysdir[4096], iamdir[4200], cert[4200], key[4200];
    int rcode = 1;
    struct iam_store *iam = NULL;
    struct pol_engine *pe = NULL;
    struct sts_ctx *sts = NULL;
    struct obj_store *obj = NULL;
    struct http_server *srv = NULL;
    struct tldap *ldap = NULL;
    struct http_route admin_route = {0}, sts_route = {0}, s3_route = {0}, login_route = {0};
    struct oidc_providers *oidc = NULL;
    struct login_web *login = NULL;

    if (parse_args(argc, argv, &o) != 0)
        return 2;
    const char *lvl = cfg_get("LOG_LEVEL");
    if (lvl && strcmp(lvl, "debug") == 0)
        log_set_level(LOG_DEBUG);
    else if (lvl && strcmp(lvl, "warn") == 0)
        log_set_level(LOG_WARN);
    else if (lvl && strcmp(lvl, "error") == 0)
        log_set_level(LOG_ERROR);
    if (limits_sts_check_config() != 0)
        return 2;
    const char *audit = cfg_get("AUDIT_LOG");
    if (audit && log_audit_open(audit) != 0) {
        fprintf(stderr, "tessera: TESSERA_AUDIT_LOG: cannot open %s: %s\n", audit, strerror(errno));
        return 1;
    }

    snprintf(sysdir, sizeof sysdir, "%s/.tessera", o.data_dir);
    snprintf(iamdir, sizeof iamdir, "%s/iam", sysdir);
    if (mkdir_p(o.data_dir, 0700) != 0 || mkdir_p(sysdir, 0700) != 0 ||
        mkdir_p(iamdir, 0700) != 0) {
        fprintf(stderr, "tessera: cannot create data directory %s: %s\n", o.data_dir,
                strerror(errno));
        return 1;
    }
    if (root_creds_load(sysdir, &rc) != 0)
        return 1;

    /* Block the stop signals before any thread starts, so that only sigwait() sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (iam_store_open(iamdir, &iam) != TS_OK) {
        fprintf(stderr, "tessera: cannot open the IAM store in %s\n", iamdir);
        goto done;
    }
    iam_store_set_reserved(iam, rc.user);
    pe = pol_engine_new(iam);
    if (pe == NULL)
        goto done;
    struct sts_config sc = {
        .region = cfg_get_or("REGION", cfg_get_or("SITE_REGION", "us-east-1")),
        .root_user = rc.user,
        .root_secret = rc.password,
        .data_dir = o.data_dir,
        .max_duration = cfg_long("STS_MAX_DURATION", 43200, NULL),
    };
    sts = sts_ctx_new(&sc, iam, pe);
    if (sts == NULL)
        goto done;
    /* OpenID Connect providers (none configured is fine); discovery never blocks the start. */
    if (oidc_providers_new(o.certs, &oidc) != TS_OK || sts_oidc_register(sts, oidc) != TS_OK)
        goto done;
    {
        char lerr[512] = "";
        if (tldap_new_from_env(o.certs, &ldap, lerr, sizeof lerr) != TS_OK) {
            fprintf(stderr, "tessera: %s\n", lerr);
            goto done;
        }
        if (ldap != NULL &&
            (tldap_start(ldap, iam) != TS_OK || sts_ldap_register(sts, ldap) != TS_OK)) {
            fprintf(stderr, "tessera: cannot start the LDAP identity backend\n");
            goto done;
        }
    }
    if (obj_store_open(o.data_dir, &obj) != TS_OK) {
        fprintf(stderr, "tessera: cannot open the object store in %s\n", o.data_dir);
        goto done;
    }

    struct http_config hc = {
        .address = o.address,
        .threads = (unsigned)cfg_long("HTTP_THREADS", 0, NULL),
    };
    if (o.certs) {
        snprintf(cert, sizeof cert, "%s/public.crt", o.certs);
        snprintf(key, sizeof key, "%s/private.key", o.certs);
        hc.cert_file = cert;
        hc.key_file = key;
    }
    srv = http_server_new(&hc);
    if (srv == NULL)
        goto done;
    admin_api_route_init(&admin_route, iam, pe, sts);
    sts_route_init(&sts_route, sts);
    obj_route_init(&s3_route, obj, pe);
    if ((login = login_web_new(sts, oidc)) == NULL)
        goto done;
    login_web_set_buckets(login, login_buckets, obj);
    login_web_route_init(&login_route, login);
    http_server_add_route(srv, &health_route);
    http_server_add_route(srv, &metrics_route);
    http_server_add_route(srv, &admin_route);
    http_server_add_route(srv, &sts_route);
    http_server_add_route(srv, &login_route); /* the browser login, before S3 */
    http_server_add_route(srv, &s3_route);
    http_server_set_authn(srv, sts_authenticate, sts_authenticate_finish, sts);
    http_server_set_authz(srv, pol_authz_http, pe);
    if (http_server_start(srv) != 0)
        goto done;

    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, "%s://%s", o.certs ? "https" : "http", o.address);
    char *colon = strrchr(endpoint, ':');
    if (colon)
        snprintf(colon + 1, sizeof endpoint - (size_t)(colon + 1 - endpoint), "%u",
                 http_server_port(srv));
    printf("tessera: listening on %s\n", endpoint);
    printf("API: %s\n", endpoint);
    if (rc.generated)
        printf("RootUser: %s\nRootPass: %s\n(generated; stored in %s/root.json, mode 0600; set "
               "TESSERA_ROOT_USER/TESSERA_ROOT_PASSWORD to choose your own)\n",
               rc.user, rc.password, sysdir);
    else if (!rc.from_env)
        printf("RootUser: %s\nRootPass: %s\n(from %s/root.json)\n", rc.user, rc.password, sysdir);
    fflush(stdout);
    log_kv(LOG_INFO, "server.start", "address", o.address, "data_dir", o.data_dir, NULL);

    int sig = 0;
    sigwait(&stop, &sig);
    log_kv(LOG_INFO, "server.stop", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
    rcode = 0;
done:
    http_server_free(srv);
    login_web_free(login);
    tldap_free(ldap);
    oidc_providers_free(oidc);
    admin_api_route_free(&admin_route);
    obj_store_close(obj);
    sts_ctx_free(sts);
    pol_engine_free(pe);
    iam_store_close(iam);
    explicit_bzero(&rc, sizeof rc);
    return rcode;
}
