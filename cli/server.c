/* server.c -- `tessera server [--address HOST:PORT] [--certs DIR] DATA_DIR`.
 *
 * The composition root: parses the configuration (core/cfg.h, once), opens the stores, and
 * registers the routes in order (health, metrics, admin API, STS, browser login, S3) and the
 * SigV4 authn hook. Everything else lives in the modules. SIGINT/SIGTERM stop the server cleanly:
 * no new requests are accepted, in-flight ones finish (up to 30 s), the stores are closed.
 */
#include "cli/server.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
#include "core/log.h"
#include "core/metrics.h"
#include "core/buf.h"
#include "core/curlx.h"
#include "idp/iam.h"
#include "idp/idplugin.h"
#include "idp/saml.h"
#include "idp/kv.h"
#include "idp/oidc.h"
#include "ldap/tldap.h"
#include "objstore/gw.h"
#include "objstore/obj.h"
#include "policy/pol.h"
#include "sts/act_cert.h"
#include "sts/act_oidc.h"
#include "sts/cluster.h"
#include "sts/login_web.h"
#include "sts/sts.h"

struct server_opts {
    const char *address;
    const char *certs;
    const char *data_dir; /* the gateway's --state-dir */
    bool gateway;         /* `tessera gateway s3`: the S3 backend is the upstream */
    const char *upstream; /* its URL */
    char state_dir[4096]; /* the gateway's default --state-dir */
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

/* Root credentials from the configuration (TESSERA_ROOT_USER/PASSWORD or their MinIO aliases;
 * lengths are checked by the table). 1 when none are set, 0 when taken, -1 when one is missing. */
static int root_from_cfg(struct root_creds *rc)
{
    const char *u = cfg_str(CFG_ROOT_USER), *p = cfg_str(CFG_ROOT_PASSWORD);
    if (u == NULL && p == NULL)
        return 1;
    if (u == NULL || p == NULL) {
        fprintf(stderr, "tessera: %s and %s must be set together\n", cfg_source(CFG_ROOT_USER),
                cfg_source(CFG_ROOT_PASSWORD));
        return -1;
    }
    snprintf(rc->user, sizeof rc->user, "%s", u);
    snprintf(rc->password, sizeof rc->password, "%s", p);
    rc->from_env = true;
    return 0;
}

/* The ones generated on an earlier start. 1 when there is no file, 0 when read, -1 when
 * damaged. */
static int root_from_file(const char *path, struct root_creds *rc)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (j == NULL)
        return 1;
    const char *ju = json_string_value(json_object_get(j, "user"));
    const char *jp = json_string_value(json_object_get(j, "password"));
    int ok = ju && jp && strlen(ju) < sizeof rc->user && strlen(jp) < sizeof rc->password;
    if (ok) {
        strcpy(rc->user, ju);
        strcpy(rc->password, jp);
    }
    json_decref(j);
    if (!ok) {
        fprintf(stderr, "tessera: %s is damaged; remove it to generate new root credentials\n",
                path);
        return -1;
    }
    return 0;
}

/* New random ones, stored in path (0600, written to a temporary file then renamed). */
static int root_generate(const char *path, struct root_creds *rc)
{
    static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char mixed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (enc_random_chars(rc->user, 20, upper, sizeof upper - 1) != 0 ||
        enc_random_chars(rc->password, 40, mixed, sizeof mixed - 1) != 0)
        return -1;
    json_t *j = json_pack("{s:s,s:s}", "user", rc->user, "password", rc->password);
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

/*
 * One server per data directory: an exclusive fcntl lock on DATA_DIR/.tessera/lock, held for
 * the life of the process (the kernel releases it when the process exits, however it exits;
 * the file's content, the pid, is only informative). A second server on the same directory
 * is refused with the directory and the pid of the one running (F_GETLK). Returns the lock's
 * descriptor (kept open), or -1 after a message.
 */
static int data_dir_lock(const char *data_dir, const char *sysdir)
{
    char path[4200], pid[32];
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int fd, n;

    snprintf(path, sizeof path, "%s/lock", sysdir);
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        fprintf(stderr, "tessera: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;
        struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (e == EACCES || e == EAGAIN) {
            if (fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK)
                fprintf(stderr,
                        "tessera: the data directory %s is in use by another tessera server "
                        "(pid %ld); stop it first, or give another DATA_DIR\n",
                        data_dir, (long)who.l_pid);
            else
                fprintf(stderr, "tessera: the data directory %s is in use by another process\n",
                        data_dir);
        } else {
            fprintf(stderr, "tessera: cannot lock %s: %s\n", path, strerror(e));
        }
        close(fd);
        return -1;
    }
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        fprintf(stderr, "tessera: warning: cannot write the pid to %s\n", path);
    return fd;
}

/* Root credentials: from the configuration; else the ones generated on an earlier start
 * (DATA/.tessera/root.json, 0600); else new random ones, stored and printed. */
static int root_creds_load(const char *sysdir, struct root_creds *rc)
{
    char path[4200];
    int r;
    memset(rc, 0, sizeof *rc);
    if ((r = root_from_cfg(rc)) <= 0)
        return r;
    snprintf(path, sizeof path, "%s/root.json", sysdir);
    if ((r = root_from_file(path, rc)) <= 0)
        return r;
    return root_generate(path, rc);
}

/* ---- health ---- */

/* MinIO's anonymous health checks, under /health/ and /minio/health/: live (the process
 * serves), ready and cluster (it serves requests: once listening, while its IAM store may be
 * trusted -- an etcd store past TESSERA_ETCD_STALE_MAX answers 503, so a load balancer
 * routes around the node); and backends: 200
 * when every configured identity backend answers now (each OpenID provider's discovery and
 * JWKS, the LDAP directory with the lookup account), else 503 ServiceUnavailable. Anonymous
 * callers get a status only, as MinIO's checks: which backend failed and why is logged
 * (oidc.fetch, ldap.probe). */
static bool health_match(struct http_req *r)
{
    /* Signed requests are S3 calls (buckets named "health" or "minio"). */
    return (strncmp(r->path, "/health/", 8) == 0 || strncmp(r->path, "/minio/health/", 14) == 0) &&
           !http_req_aws_signed(r);
}

static const char *health_what(const struct http_req *r)
{
    return strrchr(r->path, '/') + 1;
}

/* The backends check waits on the identity backends: off the HTTP threads. */
static bool health_blocking(struct http_req *r)
{
    return strcmp(health_what(r), "backends") == 0;
}

static bool health_backends_up(struct http_req *r);
static int health_store_fresh(struct http_req *r, struct ts_error *e);

static int health_finish(struct http_req *r, struct ts_error *e)
{
    const char *what = health_what(r);
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
        return ts_error_set(e, TS_E_METHOD_NOT_ALLOWED, NULL);
    if (strcmp(what, "backends") == 0 && !health_backends_up(r))
        return ts_error_set(e, TS_E_SERVICE_UNAVAILABLE, "An identity backend does not answer.");
    if ((strcmp(what, "ready") == 0 || strcmp(what, "cluster") == 0) &&
        health_store_fresh(r, e) != TS_OK)
        return e->code;
    if (strcmp(what, "live") == 0 || strcmp(what, "ready") == 0 || strcmp(what, "cluster") == 0 ||
        strcmp(what, "backends") == 0)
        return http_reply_data(r, 200, "text/plain", (void *)"OK\n", 3, false);
    return ts_error_set(e, TS_E_NO_SUCH_KEY, "Unknown health check.");
}

/* The object store answers the browser login's "which buckets can these credentials list". */
static int login_buckets(void *ctx, struct http_req *r, const struct pol_principal *p,
                         struct iam_strv *out)
{
    return obj_buckets_visible(ctx, r, p, out);
}

/* The route's template: server_open_http sets its ctx (the struct server). */
static const struct http_route health_route =
    HTTP_ROUTE("health", HTTP_ERR_S3, 0, .match = health_match, .finish = health_finish,
               .blocking = health_blocking, .workers = 2, .no_authn = true);

/* ---- metrics ---- */

static bool metrics_match(struct http_req *r)
{
    /* Signed requests are S3 calls (buckets named "metrics" or "minio"). */
    return (strcmp(r->path, "/metrics") == 0 ||
            strcmp(r->path, "/minio/v2/metrics/cluster") == 0) &&
           !http_req_aws_signed(r);
}

static int metrics_finish(struct http_req *r, struct ts_error *e)
{
    struct buf b;
    size_t len;
    (void)e;
    buf_init(&b, 1 << 22);
    metrics_write(&b);
    char *text = buf_take(&b, &len);
    if (text == NULL)
        return TS_E_INTERNAL;
    return http_reply_data(r, 200, "text/plain; version=0.0.4", text, len, true);
}

static const struct http_route metrics_route = HTTP_ROUTE(
    "metrics", HTTP_ERR_S3, 0, .match = metrics_match, .finish = metrics_finish, .no_authn = true);

static const char usage_text[] =
    "usage: tessera server [--address HOST:PORT] [--certs DIR] DATA_DIR\n";

static const char gateway_usage_text[] = "usage: tessera gateway s3 [--address HOST:PORT] "
                                         "[--certs DIR] [--state-dir DIR] [UPSTREAM_URL]\n";

/* The gateway's positional argument (the upstream, optional) and --state-dir default. */
static int gateway_args(int argc, char **argv, struct server_opts *o)
{
    const char *home = getenv("HOME");
    if (optind + 1 < argc) {
        fputs("tessera gateway s3: one UPSTREAM_URL only\n", stderr);
        return -1;
    }
    o->upstream = optind < argc ? argv[optind] : "https://s3.amazonaws.com";
    if (o->data_dir == NULL) {
        snprintf(o->state_dir, sizeof o->state_dir, "%s/.tessera/gateway",
                 home && *home ? home : ".");
        o->data_dir = o->state_dir;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct server_opts *o)
{
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'},
        {"certs", required_argument, NULL, 'c'},
        {"certs-dir", required_argument, NULL, 'c'},
        {"state-dir", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *usage = o->gateway ? gateway_usage_text : usage_text;
    int ch;
    o->address = cfg_str(CFG_ADDRESS);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'a')
            o->address = optarg;
        else if (ch == 'c')
            o->certs = optarg;
        else if (ch == 's' && o->gateway)
            o->data_dir = optarg;
        else if (ch == 'h')
            return fputs(usage, stdout), 1;
        else
            return fputs(usage, stderr), -1;
    }
    if (o->gateway)
        return gateway_args(argc, argv, o);
    if (optind + 1 != argc) {
        fputs(optind == argc ? usage_text : "tessera server: one DATA_DIR only\n", stderr);
        return -1;
    }
    o->data_dir = argv[optind];
    return 0;
}

/* The whole server: what server_main opens, in order, and closes in reverse. */
struct server {
    struct server_opts o;
    struct root_creds rc;
    int lock_fd; /* the data directory's lock (data_dir_lock), held until exit */
    char sysdir[4096], iamdir[4200], cert[4200], key[4200];
    struct iam_store *iam;
    struct pol_engine *pe;
    struct sts_ctx *sts;
    struct obj_store *obj;
    struct gw *gw; /* gateway mode: the upstream (obj is then the gateway route's context) */
    struct http_server *srv;
    struct tldap *ldap;
    struct oidc_providers *oidc;
    struct idplugin *idplugin;     /* the identity management plugin, or NULL */
    struct saml_idp *saml;         /* the SAML identity provider, or NULL */
    char **ca_dir;                 /* CERTS_DIR/CAs files for it, or NULL */
    struct sts_cert *client_certs; /* AssumeRoleWithCertificate's trusted CAs, when enabled */
    struct login_web *login;
    struct sts_cluster *cluster; /* this node's heartbeats */
    struct obj_lc_task *lc;      /* the lifecycle task (embedded store, when an interval is set) */
    struct http_route health_route, admin_route, sts_route, s3_route, login_route, preflight_route;
};

static int health_store_fresh(struct http_req *r, struct ts_error *e)
{
    const struct server *s = r->route->ctx;
    return iam_store_fresh(s->iam, e);
}

static bool health_backends_up(struct http_req *r)
{
    const struct server *s = r->route->ctx;
    bool up = true;

    for (size_t i = 0; i < oidc_providers_count(s->oidc); i++)
        if (!oidc_provider_reachable(s->oidc, i))
            up = false;
    if (s->ldap != NULL && !tldap_probe(s->ldap))
        up = false;
    return up;
}

/* The configuration (parsed once, here), the arguments, logging. 0, else the exit code. */
static int server_configure(struct server *s, int argc, char **argv)
{
    char err[600];
    int r;
    if (cfg_load(err, sizeof err) != TS_OK) {
        fprintf(stderr, "tessera: %s\n", err);
        return 2;
    }
    if ((r = parse_args(argc, argv, &s->o)) != 0)
        return r > 0 ? -1 : 2;
    static const enum log_level levels[] = {LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR};
    log_set_level(levels[cfg_num(CFG_LOG_LEVEL)]);
    const char *audit = cfg_str(CFG_AUDIT_LOG);
    if (audit && log_audit_open(audit) != 0) {
        fprintf(stderr, "tessera: %s: cannot open %s: %s\n", cfg_source(CFG_AUDIT_LOG), audit,
                strerror(errno));
        return 1;
    }
    snprintf(s->sysdir, sizeof s->sysdir, "%s/.tessera", s->o.data_dir);
    snprintf(s->iamdir, sizeof s->iamdir, "%s/iam", s->sysdir);
    if (mkdir_p(s->o.data_dir, 0700) != 0 || mkdir_p(s->sysdir, 0700) != 0 ||
        mkdir_p(s->iamdir, 0700) != 0) {
        fprintf(stderr, "tessera: cannot create data directory %s: %s\n", s->o.data_dir,
                strerror(errno));
        return 1;
    }
    if ((s->lock_fd = data_dir_lock(s->o.data_dir, s->sysdir)) < 0)
        return 1;
    if (s->o.gateway && root_from_cfg(&s->rc) != 0) { /* never generated: they are the upstream's */
        fprintf(stderr,
                "tessera gateway s3: set the upstream's keys in %s and %s (or "
                "MINIO_ACCESS_KEY and MINIO_SECRET_KEY)\n",
                cfg_source(CFG_ROOT_USER), cfg_source(CFG_ROOT_PASSWORD));
        return 1;
    }
    return s->o.gateway ? 0 : root_creds_load(s->sysdir, &s->rc) != 0 ? 1 : 0;
}

/* The authorization plugin (docs/OPA.md), when TESSERA_POLICY_PLUGIN_URL is set: the policy
 * engine then asks it for every signed caller but root. */
static int server_open_plugin(struct server *s)
{
    struct pol_plugin *pl;
    struct pol_plugin_config pc = {
        .url = cfg_str(CFG_POLICY_PLUGIN_URL),
        .auth_token = cfg_str(CFG_POLICY_PLUGIN_AUTH_TOKEN),
        .timeout_ms = cfg_num(CFG_POLICY_PLUGIN_TIMEOUT) * 1000,
        .ca_file = cfg_str(CFG_CA_FILE),
    };
    if (pc.url == NULL)
        return 0;
    if (pol_plugin_new(&pc, s->iam, &pl) != TS_OK) {
        fprintf(stderr, "tessera: cannot set up the authorization plugin\n");
        return -1;
    }
    pol_engine_set_plugin(s->pe, pl);
    log_kv(LOG_INFO, "authz.plugin", "state", "enabled", "token", pc.auth_token ? "set" : "none",
           NULL);
    return 0;
}

/* The IAM store: on etcd when TESSERA_ETCD_ENDPOINTS is set (the start fails when etcd cannot
 * be reached), else the local one under DATA_DIR/.tessera/iam. */
static int server_open_iam(struct server *s)
{
    const char *eps = cfg_str(CFG_ETCD_ENDPOINTS);
    if (eps == NULL) {
        if (iam_store_open(s->iamdir, &s->iam) == TS_OK)
            return 0;
        fprintf(stderr, "tessera: cannot open the IAM store in %s\n", s->iamdir);
        return -1;
    }
    const char *prefix = cfg_str(CFG_ETCD_PATH_PREFIX);
    struct kv_etcd_config ec = {
        .endpoints = eps,
        .prefix = prefix != NULL ? prefix : "",
        .ca_file = cfg_str(CFG_CA_FILE),
        .client_cert = cfg_str(CFG_ETCD_CLIENT_CERT),
        .client_key = cfg_str(CFG_ETCD_CLIENT_CERT_KEY),
        .username = cfg_str(CFG_ETCD_USERNAME),
        .password = cfg_str(CFG_ETCD_PASSWORD),
        .stale_max_s = (int)cfg_num(CFG_ETCD_STALE_MAX),
    };
    if (iam_store_open_etcd(&ec, &s->iam) != TS_OK) {
        fprintf(stderr, "tessera: cannot open the IAM store on etcd (%s=%s)\n",
                cfg_source(CFG_ETCD_ENDPOINTS), eps);
        return -1;
    }
    struct kv_status st;
    iam_store_status(s->iam, &st);
    log_event(LOG_INFO, "iam_store", "iam store: etcd %s prefix %s, revision %llu", st.endpoint,
              ec.prefix[0] != '\0' ? ec.prefix : "(none)", (unsigned long long)st.revision);
    return 0;
}

/* The IAM store, the policy engine and STS. */
static int server_open_identity(struct server *s)
{
    if (server_open_iam(s) != 0)
        return -1;
    iam_store_set_reserved(s->iam, s->rc.user);
    if ((s->pe = pol_engine_new(s->iam)) == NULL || server_open_plugin(s) != 0)
        return -1;
    struct sts_config sc = {
        .region = cfg_str(CFG_REGION),
        .root_user = s->rc.user,
        .root_secret = s->rc.password,
        .data_dir = s->o.data_dir,
        .max_duration = cfg_num(CFG_STS_MAX_DURATION),
    };
    s->sts = sts_ctx_new(&sc, s->iam, s->pe);
    if (s->sts == NULL || (s->cluster = sts_cluster_new(s->sts)) == NULL)
        return -1;
    return 0;
}

/* MinIO's identity management plugin (AssumeRoleWithCustomToken), when
 * TESSERA_IDENTITY_PLUGIN_URL is set. */
static int server_open_idplugin(struct server *s)
{
    struct ts_error e;
    ts_error_set(&e, TS_E_INVALID_ARGUMENT, "cannot register it");
    struct idplugin_config pc = {
        .url = cfg_str(CFG_IDENTITY_PLUGIN_URL),
        .auth_token = cfg_str(CFG_IDENTITY_PLUGIN_AUTH_TOKEN),
        .role_policy = cfg_str(CFG_IDENTITY_PLUGIN_ROLE_POLICY),
        .role_id = cfg_str(CFG_IDENTITY_PLUGIN_ROLE_ID),
        .timeout_ms = cfg_num(CFG_IDENTITY_PLUGIN_TIMEOUT) * 1000,
        .ca_file = cfg_str(CFG_CA_FILE),
    };
    if (pc.url == NULL)
        return 0;
    s->ca_dir = curlx_ca_dir(s->o.certs);
    pc.ca_extra = s->ca_dir;
    if (idplugin_new(&pc, &s->idplugin, &e) != TS_OK ||
        sts_custom_register(s->sts, s->idplugin) != TS_OK) {
        fprintf(stderr, "tessera: cannot set up the identity plugin: %s\n", ts_error_msg(&e));
        return -1;
    }
    log_kv(LOG_INFO, "identity.plugin", "state", "enabled", "role_arn",
           idplugin_role_arn(s->idplugin), "token", pc.auth_token ? "set" : "none", "comment",
           cfg_str(CFG_IDENTITY_PLUGIN_COMMENT), NULL);
    return 0;
}

/* AssumeRoleWithSAML, when TESSERA_IDENTITY_SAML_METADATA is set: libxml2 and xmlsec are
 * initialised here, in the main thread, before any request runs. */
static int server_open_saml(struct server *s)
{
    char err[600] = "";
    struct saml_config sc = {
        .metadata_file = cfg_str(CFG_IDENTITY_SAML_METADATA),
        .audience = cfg_str(CFG_IDENTITY_SAML_AUDIENCE),
        .recipient = cfg_str(CFG_IDENTITY_SAML_RECIPIENT),
        .groups_attribute = cfg_str(CFG_IDENTITY_SAML_GROUPS_ATTRIBUTE),
    };
    if (sc.metadata_file == NULL)
        return 0;
    if (saml_global_init() != TS_OK) {
        fprintf(stderr, "tessera: cannot initialise xmlsec\n");
        return -1;
    }
    if (saml_idp_new(&sc, &s->saml, err, sizeof err) != TS_OK ||
        sts_saml_register(s->sts, s->saml, cfg_str(CFG_IDENTITY_SAML_PROVIDER_NAME)) != TS_OK) {
        fprintf(stderr, "tessera: TESSERA_IDENTITY_SAML_METADATA: %s\n",
                err[0] ? err : "cannot register the SAML provider");
        return -1;
    }
    char nkeys[16];
    snprintf(nkeys, sizeof nkeys, "%zu", saml_idp_nkeys(s->saml));
    log_kv(LOG_INFO, "identity.saml", "state", "enabled", "entity_id", saml_idp_entity_id(s->saml),
           "provider_arn", sts_saml_provider_arn(), "certificates", nkeys, "audience", sc.audience,
           "recipient", sc.recipient, NULL);
    return 0;
}

/* AssumeRoleWithCertificate: client certificates verified against CERTS_DIR/CAs/ and
 * TESSERA_IDENTITY_TLS_CA_FILE (or its MinIO-shaped "disabled" answer). */
static int server_open_cert(struct server *s)
{
    char crt[4200], err[512] = "";
    snprintf(crt, sizeof crt, "%s/public.crt", s->o.certs != NULL ? s->o.certs : ".");
    struct sts_cert_config cc = {
        .enable = cfg_on(CFG_IDENTITY_TLS_ENABLE),
        .skip_verify = cfg_on(CFG_IDENTITY_TLS_SKIP_VERIFY),
        .certs_dir = s->o.certs,
        .ca_file = cfg_str(CFG_IDENTITY_TLS_CA_FILE),
        .server_cert = s->o.certs != NULL ? crt : NULL,
    };
    if (sts_cert_register(s->sts, &cc, &s->client_certs, err, sizeof err) != TS_OK) {
        fprintf(stderr, "tessera: %s\n", err[0] ? err : "cannot start the certificate backend");
        return -1;
    }
    if (cc.enable && cc.skip_verify)
        log_kv(LOG_WARN, "sts.certificate", "warning",
               "TESSERA_IDENTITY_TLS_SKIP_VERIFY: client certificates are not verified (tests "
               "only)",
               NULL);
    return 0;
}

/* The identity backends besides the static users: OpenID Connect providers (none configured
 * is fine; discovery never blocks the start), the LDAP directory and the identity plugin. */
static int server_open_backends(struct server *s)
{
    char lerr[512] = "";
    if (server_open_idplugin(s) != 0 || server_open_saml(s) != 0)
        return -1;
    if (oidc_providers_new(s->o.certs, &s->oidc) != TS_OK ||
        sts_oidc_register(s->sts, s->oidc) != TS_OK)
        return -1;
    if (tldap_new_from_env(s->o.certs, &s->ldap, lerr, sizeof lerr) != TS_OK) {
        fprintf(stderr, "tessera: %s\n", lerr);
        return -1;
    }
    if (s->ldap != NULL &&
        (tldap_start(s->ldap, s->iam) != TS_OK || sts_ldap_register(s->sts, s->ldap) != TS_OK)) {
        fprintf(stderr, "tessera: cannot start the LDAP identity backend\n");
        return -1;
    }
    return server_open_cert(s);
}

/* The object store, the HTTP server and its routes in order (health, metrics, admin API, STS,
 * the browser login, the CORS preflight, S3) and the SigV4 authn hook; then listens. */
/* The S3 route: the embedded store's, or the gateway's in front of the upstream. */
static int server_open_s3(struct server *s)
{
    char err[300] = "";
    if (!s->o.gateway) {
        if (obj_store_open(s->o.data_dir, &s->obj) != TS_OK) {
            fprintf(stderr, "tessera: cannot open the object store in %s\n", s->o.data_dir);
            return -1;
        }
        obj_route_init(&s->s3_route, s->obj, s->pe);
        return obj_lifecycle_start(s->obj, cfg_num(CFG_LIFECYCLE_INTERVAL), &s->lc) == TS_OK ? 0
                                                                                             : -1;
    }
    struct gw_config gc = {
        .url = s->o.upstream,
        .region = cfg_str(CFG_REGION),
        .access_key = s->rc.user,
        .secret_key = s->rc.password,
        .timeout_s = cfg_num(CFG_GATEWAY_TIMEOUT),
        .certs_dir = s->o.certs,
        .ca_file = cfg_str(CFG_CA_FILE),
        .iam = s->iam,
    };
    if (gw_open(&gc, &s->gw, err, sizeof err) != TS_OK) {
        fprintf(stderr, "tessera gateway s3: %s: %s\n", s->o.upstream, err);
        return -1;
    }
    return obj_gateway_route_init(&s->s3_route, s->gw, s->pe, &s->obj) == TS_OK ? 0 : -1;
}

/* POST lifecycle/run of the admin API: one pass of the embedded store as of now. */
static int server_lifecycle(void *ctx, int64_t now, char **json)
{
    struct obj_lc_counts n;
    int rc = obj_lifecycle_run(ctx, now, &n);
    if (rc != TS_OK)
        return rc;
    json_t *j = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "buckets", (json_int_t)n.buckets, "scanned",
        (json_int_t)n.scanned, "expired", (json_int_t)n.expired, "noncurrentExpired",
        (json_int_t)n.noncurrent, "deleteMarkersRemoved", (json_int_t)n.markers, "uploadsAborted",
        (json_int_t)n.aborted, "skipped", (json_int_t)n.skipped, "errors", (json_int_t)n.errors);
    *json = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return *json != NULL ? TS_OK : TS_E_INTERNAL;
}

static int server_open_http(struct server *s)
{
    if (server_open_s3(s) != 0)
        return -1;
    struct http_config hc = {
        .address = s->o.address,
        .threads = (unsigned)cfg_num(CFG_HTTP_THREADS),
    };
    if (s->o.certs) {
        snprintf(s->cert, sizeof s->cert, "%s/public.crt", s->o.certs);
        snprintf(s->key, sizeof s->key, "%s/private.key", s->o.certs);
        hc.cert_file = s->cert;
        hc.key_file = s->key;
        hc.client_ca_pem = sts_cert_client_ca_pem(s->client_certs); /* NULL: none asked */
    }
    if ((s->srv = http_server_new(&hc)) == NULL)
        return -1;
    admin_api_route_init(&s->admin_route, s->iam, s->pe, s->sts);
    if (!s->o.gateway)
        admin_api_set_lifecycle(&s->admin_route, server_lifecycle, s->obj);
    sts_route_init(&s->sts_route, s->sts);
    if ((s->login = login_web_new(s->sts, s->oidc)) == NULL)
        return -1;
    login_web_set_buckets(s->login, login_buckets, s->obj);
    login_web_route_init(&s->login_route, s->login);
    s->health_route = health_route;
    s->health_route.ctx = s;
    http_server_add_route(s->srv, &s->health_route);
    http_server_add_route(s->srv, &metrics_route);
    http_server_add_route(s->srv, &s->admin_route);
    http_server_add_route(s->srv, &s->sts_route);
    http_server_add_route(s->srv, &s->login_route); /* the browser login, before S3 */
    obj_preflight_route_init(&s->preflight_route, s->obj);
    http_server_add_route(s->srv, &s->preflight_route); /* CORS: OPTIONS, before S3 */
    http_server_add_route(s->srv, &s->s3_route);
    http_server_set_authn(s->srv, sts_authenticate, sts_authenticate_finish, s->sts);
    http_server_set_authn_form(s->srv, sts_authenticate_form);
    http_server_set_authz(s->srv, pol_authz_http, s->pe);
    if (pol_engine_plugin(s->pe) != NULL)
        http_server_set_authz_remote(s->srv, pol_authz_remote);
    return http_server_start(s->srv) == 0 ? 0 : -1;
}

/* The URL the server listens on (the port as bound) into endpoint. */
static void server_endpoint(const struct server *s, char *endpoint, size_t len)
{
    snprintf(endpoint, len, "%s://%s", s->o.certs ? "https" : "http", s->o.address);
    char *colon = strrchr(endpoint, ':');
    if (colon)
        snprintf(colon + 1, len - (size_t)(colon + 1 - endpoint), "%u", http_server_port(s->srv));
}

static void server_announce(const struct server *s)
{
    char endpoint[300];
    server_endpoint(s, endpoint, sizeof endpoint);
    printf("tessera: listening on %s\n", endpoint);
    printf("API: %s\n", endpoint);
    if (s->rc.generated)
        printf("RootUser: %s\nRootPass: %s\n(generated; stored in %s/root.json, mode 0600; set "
               "TESSERA_ROOT_USER/TESSERA_ROOT_PASSWORD to choose your own)\n",
               s->rc.user, s->rc.password, s->sysdir);
    else if (!s->rc.from_env)
        printf("RootUser: %s\nRootPass: %s\n(from %s/root.json)\n", s->rc.user, s->rc.password,
               s->sysdir);
    fflush(stdout);
    if (s->o.gateway)
        printf("Gateway: S3 requests go to %s\n", gw_url(s->gw));
    fflush(stdout);
    log_kv(LOG_INFO, "server.start", "address", s->o.address, "data_dir", s->o.data_dir, "upstream",
           s->o.gateway ? gw_url(s->gw) : NULL, NULL);
}

/* This node's heartbeats (sts/cluster.h), once it listens. */
static int server_join_cluster(struct server *s)
{
    char endpoint[300];
    server_endpoint(s, endpoint, sizeof endpoint);
    return sts_cluster_start(s->cluster, endpoint, TESSERA_VERSION) == TS_OK ? 0 : -1;
}

/* What server_open_http opened (the HTTP server first: no request runs after it); this
 * node's heartbeat record goes first, so that the others see it leave at once. */
static void server_close_http(struct server *s)
{
    sts_cluster_stop(s->cluster);
    obj_lifecycle_stop(s->lc);
    http_server_free(s->srv);
    login_web_free(s->login);
    admin_api_route_free(&s->admin_route);
    if (s->o.gateway) {
        obj_gateway_free(s->obj);
        gw_close(s->gw);
    } else {
        obj_store_close(s->obj);
    }
}

static void server_close_backends(struct server *s)
{
    tldap_free(s->ldap);
    oidc_providers_free(s->oidc);
    idplugin_free(s->idplugin);
    if (s->saml != NULL) {
        saml_idp_free(s->saml);
        saml_global_cleanup();
    }
    curlx_strv_free(s->ca_dir);
    sts_cert_free(s->client_certs);
}

/* What server_open_identity opened, in reverse. */
static void server_close_identity(struct server *s)
{
    sts_cluster_free(s->cluster);
    sts_ctx_free(s->sts);
    pol_engine_free(s->pe);
    iam_store_close(s->iam);
    explicit_bzero(&s->rc, sizeof s->rc);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the lock: the stores are closed */
}

static int run(int argc, char **argv, bool gateway)
{
    struct server s;
    memset(&s, 0, sizeof s);
    s.lock_fd = -1;
    s.o.gateway = gateway;
    int rcode = server_configure(&s, argc, argv);
    if (rcode != 0) {
        if (s.lock_fd >= 0)
            close(s.lock_fd);
        explicit_bzero(&s.rc, sizeof s.rc);
        return rcode < 0 ? 0 : rcode;
    }

    /* Block the stop signals before any thread starts, so that only sigwait() sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    rcode = 1;
    if (server_open_identity(&s) == 0 && server_open_backends(&s) == 0 &&
        server_open_http(&s) == 0 && server_join_cluster(&s) == 0) {
        server_announce(&s);
        int sig = 0;
        sigwait(&stop, &sig);
        log_kv(LOG_INFO, "server.stop", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
        rcode = 0;
    }
    server_close_http(&s);
    server_close_backends(&s);
    server_close_identity(&s);
    explicit_bzero(&s.rc, sizeof s.rc);
    return rcode;
}

int server_main(int argc, char **argv)
{
    return run(argc, argv, false);
}

int gateway_main(int argc, char **argv)
{
    return run(argc, argv, true);
}
