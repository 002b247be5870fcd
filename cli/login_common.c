/* login_common.c -- the parts of `tessera login ldap|oidc` that do not depend on the identity
 * kind (cli/login_common.h): options, terminal-safe messages, form encoding, the STS call and
 * the credential output and cache. Tokens, passwords and credentials never appear in
 * messages; buffers that held them are wiped.
 */
#include "cli/login_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "core/enc.h"
#include "core/xml.h"

#define LOGIN_FILE_MAX (64 * 1024)

/* The length of the valid UTF-8 sequence at p that is a printable character, or 0. */
static size_t printable_len(const unsigned char *p)
{
    static const unsigned long min[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len = *p < 0x80             ? 1
                 : (*p & 0xE0) == 0xC0 ? 2
                 : (*p & 0xF0) == 0xE0 ? 3
                 : (*p & 0xF8) == 0xF0 ? 4
                                       : 0;
    unsigned long cp = len == 1 ? *p : len == 2 ? *p & 0x1Fu : len == 3 ? *p & 0x0Fu : *p & 7u;

    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0; /* truncated sequence (the NUL ends it at the latest) */
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (len == 0 || cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp < 0x20 ||
        (cp >= 0x7F && cp <= 0x9F))
        return 0;
    return len;
}

char *term_safe(const char *s)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    size_t o = 0;
    char *out = malloc(4 * strlen((const char *)p) + 1);

    if (out == NULL)
        return NULL;
    while (*p != '\0') {
        size_t len = printable_len(p);
        if (len > 0) {
            memcpy(out + o, p, len);
            o += len;
            p += len;
        } else {
            o += (size_t)sprintf(out + o, "\\x%02X", *p);
            p++;
        }
    }
    out[o] = '\0';
    return out;
}

void login_term_put(const char *s)
{
    char *safe = term_safe(s);
    fputs(safe != NULL ? safe : "(out of memory)", stderr);
    free(safe);
}

void login_msg(const struct login *l, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: ", l->who);
    login_term_put(text);
    fputc('\n', stderr);
}

int login_add_param(struct buf *b, const char *key, const char *value)
{
    char *e = curl_easy_escape(NULL, value, 0);
    int rc;
    if (e == NULL)
        return -1;
    rc = buf_addf(b, "%s%s=%s", buf_len(b) > 0 ? "&" : "", key, e);
    OPENSSL_cleanse(e, strlen(e));
    curl_free(e);
    return rc;
}

void login_wipe_buf(struct buf *b)
{
    if (b->p != NULL && b->cap > 0)
        OPENSSL_cleanse(b->p, b->cap);
    buf_free(b);
}

void login_http_req(struct curlx_req *rq, const char *url)
{
    memset(rq, 0, sizeof *rq);
    rq->url = url;
    rq->user_agent = "tessera-login/1";
    rq->timeout_ms = 60000;
    rq->max_body = LOGIN_RESP_MAX;
    rq->ca_file = curlx_env_ca_file();
}

/* ---- options ---- */

int login_parse(struct login *l, int argc, char **argv, const struct option *opts,
                int (*own)(void *ctx, int code, const char *arg), void *ctx)
{
    int c;

    l->endpoint = getenv("TESSERA_ENDPOINT");
    l->argc = argc;
    l->argv = argv;
    optind = 0; /* GNU: a full reset, argv[0] skipped */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h' || c == LOPT_HELP) {
            fputs(l->usage, stdout);
            l->help = true;
            return 0;
        }
        if (c == LOPT_ENDPOINT)
            l->endpoint = optarg;
        else if (c == LOPT_DURATION)
            l->duration = optarg;
        else if (c == LOPT_POLICY)
            l->policy_file = optarg;
        else if (c == LOPT_ENV)
            l->env = true;
        else if (c == LOPT_CACHE)
            l->cache = optarg;
        else if (c == ':' || c == '?') {
            login_msg(l, "%s %s", c == ':' ? "a value is missing after" : "unexpected argument",
                      argv[optind - 1]);
            goto usage;
        } else if (own(ctx, c, optarg) != 0)
            goto usage;
    }
    if (optind < argc) {
        login_msg(l, "unexpected argument %s", argv[optind]);
        goto usage;
    }
    return 0;
usage:
    fputs(l->usage, stderr);
    return LOGIN_EXIT_USAGE;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[4096];
    size_t n;
    if (f == NULL)
        return NULL;
    buf_init(&b, LOGIN_FILE_MAX);
    buf_adds(&b, "");
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    if (buf_failed(&b))
        errno = EFBIG;
    return buf_take(&b, NULL);
}

/* --cache FILE with a leading "~/" taken from $HOME (credential_process runs no shell). */
static int cache_path(struct login *l)
{
    const char *home = getenv("HOME");
    struct buf b;

    if (l->cache == NULL)
        return 0;
    buf_init(&b, 8192);
    if (strncmp(l->cache, "~/", 2) == 0 && home != NULL && home[0] != '\0')
        buf_addf(&b, "%s/%s", home, l->cache + 2);
    else
        buf_adds(&b, l->cache);
    if (buf_failed(&b) || buf_len(&b) > 4096) {
        buf_free(&b);
        login_msg(l, "the --cache path is too long");
        return -1;
    }
    l->cache_path = buf_take(&b, NULL);
    return 0;
}

int login_prepare(struct login *l)
{
    if (l->endpoint == NULL || l->endpoint[0] == '\0')
        l->endpoint = "http://127.0.0.1:9000";
    if (cache_path(l) != 0)
        return -1;
    if (l->policy_file != NULL && (l->policy = read_file(l->policy_file)) == NULL) {
        login_msg(l, "cannot read %s: %s", l->policy_file, strerror(errno));
        return -1;
    }
    if (curlx_global_init() != 0) {
        login_msg(l, "cannot initialise libcurl");
        return -1;
    }
    return 0;
}

int login_set_cache_id(struct login *l, const char *const *parts, size_t n)
{
    struct buf b;

    buf_init(&b, 64 * 1024);
    buf_adds(&b, l->who);
    buf_addf(&b, "\n%s\n%s\n%s", l->endpoint, l->duration != NULL ? l->duration : "",
             l->policy != NULL ? l->policy : "");
    for (size_t i = 0; i < n; i++)
        buf_addf(&b, "\n%s", parts[i] != NULL ? parts[i] : "");
    free(l->cache_id);
    if ((l->cache_id = buf_take(&b, NULL)) == NULL) {
        login_msg(l, "out of memory");
        return -1;
    }
    return 0;
}

void login_release(struct login *l)
{
    enc_secret_free(l->refresh);
    l->refresh = NULL;
    free(l->policy);
    free(l->cache_path);
    free(l->cache_id);
    l->policy = l->cache_path = l->cache_id = NULL;
}

/* ---- credentials ---- */

struct creds {
    const char *ak, *sk, *tok, *exp;
};

static void print_shell_quoted(const char *name, const char *v)
{
    printf("export %s='", name);
    for (const char *p = v; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*p);
    }
    printf("'\n");
}

/* The credentials as a JSON document (malloc'ed; NULL on OOM). */
static char *creds_json(const struct creds *c, size_t flags)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s}", "Version", 1, "AccessKeyId", c->ak,
                          "SecretAccessKey", c->sk, "SessionToken", c->tok, "Expiration", c->exp);
    char *s = o != NULL ? json_dumps(o, flags) : NULL;
    json_decref(o);
    return s;
}

/* Prints credentials as credential_process JSON or exports. Returns an exit status. */
static int print_creds(const struct login *l, const struct creds *c)
{
    const char *vals[] = {c->ak, c->sk, c->tok, c->exp};
    for (size_t i = 0; i < 4; i++)
        for (const unsigned char *p = (const unsigned char *)vals[i]; *p; p++)
            if (*p < 0x20 || *p >= 0x7f) { /* credentials are printable ASCII */
                login_msg(l, "the server's credentials hold unexpected characters: refused");
                return LOGIN_EXIT_ERR;
            }
    if (l->env) {
        print_shell_quoted("AWS_ACCESS_KEY_ID", c->ak);
        print_shell_quoted("AWS_SECRET_ACCESS_KEY", c->sk);
        print_shell_quoted("AWS_SESSION_TOKEN", c->tok);
        print_shell_quoted("AWS_CREDENTIAL_EXPIRATION", c->exp);
    } else {
        char *s = creds_json(c, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s == NULL) {
            login_msg(l, "out of memory");
            return LOGIN_EXIT_ERR;
        }
        printf("%s\n", s);
        enc_secret_free(s);
    }
    return fflush(stdout) == 0 ? LOGIN_EXIT_OK : LOGIN_EXIT_ERR;
}

bool login_cache_hit(const struct login *l)
{
    json_t *j = l->cache_path != NULL ? json_load_file(l->cache_path, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "Login"));
    struct creds c = {json_string_value(json_object_get(j, "AccessKeyId")),
                      json_string_value(json_object_get(j, "SecretAccessKey")),
                      json_string_value(json_object_get(j, "SessionToken")),
                      json_string_value(json_object_get(j, "Expiration"))};
    time_t exp = 0;
    bool hit = c.ak != NULL && c.sk != NULL && c.tok != NULL && c.exp != NULL &&
               enc_time_parse_iso8601(c.exp, &exp) == 0 && exp > time(NULL) + LOGIN_CACHE_MARGIN &&
               id != NULL && l->cache_id != NULL && strcmp(id, l->cache_id) == 0;
    if (hit)
        hit = print_creds(l, &c) == LOGIN_EXIT_OK;
    json_decref(j);
    return hit;
}

char *login_cache_refresh(const struct login *l)
{
    json_t *j = l->cache_path != NULL ? json_load_file(l->cache_path, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "Login"));
    const char *rt = json_string_value(json_object_get(j, "RefreshToken"));
    char *out = NULL;

    if (rt != NULL && rt[0] != '\0' && id != NULL && l->cache_id != NULL &&
        strcmp(id, l->cache_id) == 0)
        out = strdup(rt);
    if (rt != NULL) /* the loaded copy */
        OPENSSL_cleanse((char *)rt, strlen(rt));
    json_decref(j);
    return out;
}

static void shell_quote_put(FILE *f, const char *s)
{
    if (s[0] != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                  "-_./:=@,+%~") == strlen(s)) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (; *s; s++)
        fputs(*s == '\'' ? "'\\''" : (char[]){*s, '\0'}, f);
    fputc('\'', f);
}

void login_no_terminal(const struct login *l, const char *why)
{
    login_msg(l, "%s. Run this command once in a terminal:", why);
    fprintf(stderr, "  %s", l->who);
    for (int i = 1; i < l->argc; i++) { /* argv[0] is the identity kind, in l->who */
        char *safe = term_safe(l->argv[i]);
        fputc(' ', stderr);
        shell_quote_put(stderr, safe != NULL ? safe : "?");
        free(safe);
    }
    fprintf(stderr,
            "\n  Its --cache file then serves the aws tools until the credentials are "
            "within %d minutes of expiry%s.\n",
            LOGIN_CACHE_MARGIN / 60,
            l->renews ? ", and renews them while the provider's refresh token is valid" : "");
}

int login_need_terminal(const struct login *l, const char *why)
{
    int fd;

    if (isatty(STDERR_FILENO))
        return 0;
    if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0) {
        int rc = dup2(fd, STDERR_FILENO) >= 0 ? 0 : -1;
        close(fd);
        if (rc == 0)
            return 0;
    }
    login_no_terminal(l, why != NULL
                             ? why
                             : "no usable cached credentials, and no terminal to sign in on "
                               "(stderr is not a terminal, as under the aws cli's "
                               "credential_process)");
    return -1;
}

/* --cache: stores the credentials, what they are for and l->refresh when set (mode 0600,
 * replaced atomically). Failure only warns. */
static void cache_store(const struct login *l, const struct creds *c)
{
    char tmp[4200];
    char *s = NULL;
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "Version", 1, "AccessKeyId", c->ak,
                          "SecretAccessKey", c->sk, "SessionToken", c->tok, "Expiration", c->exp,
                          "Login", l->cache_id != NULL ? l->cache_id : "");
    FILE *f = NULL;
    int fd = -1;

    if (o != NULL && l->refresh != NULL &&
        json_object_set_new(o, "RefreshToken", json_string(l->refresh)) != 0) {
        json_decref(o);
        o = NULL;
    }

    s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", l->cache_path);
    if (s == NULL || strlen(l->cache_path) > 4096 || (fd = mkstemp(tmp)) < 0 ||
        (f = fdopen(fd, "w")) == NULL || fputs(s, f) < 0 || fclose(f) != 0 ||
        rename(tmp, l->cache_path) != 0) {
        if (f == NULL && fd >= 0)
            close(fd);
        if (fd >= 0)
            unlink(tmp);
        login_msg(l, "warning: cannot write the cache file %s: %s", l->cache_path, strerror(errno));
    }
    enc_secret_free(s);
}

/* The STS answer root: the credentials of action, or a message. Returns an exit status. */
static int sts_answer(const struct login *l, long status, const struct xml_node *root,
                      const char *action)
{
    char result[96];
    const struct xml_node *res, *cr;
    struct creds c;

    if (status != 200 || strcmp(root->name, "ErrorResponse") == 0 ||
        strcmp(root->name, "Error") == 0) {
        const struct xml_node *e = xml_child(root, "Error");
        const char *code = xml_child_text(e != NULL ? e : root, "Code");
        const char *m = xml_child_text(e != NULL ? e : root, "Message");
        login_msg(l, "%s: %s", code != NULL ? code : "HTTP error", m != NULL ? m : "(no message)");
        return LOGIN_EXIT_ERR;
    }
    snprintf(result, sizeof result, "%sResult", action);
    res = xml_child(root, result);
    cr = res != NULL ? xml_child(res, "Credentials") : NULL;
    c.ak = cr != NULL ? xml_child_text(cr, "AccessKeyId") : NULL;
    c.sk = cr != NULL ? xml_child_text(cr, "SecretAccessKey") : NULL;
    c.tok = cr != NULL ? xml_child_text(cr, "SessionToken") : NULL;
    c.exp = cr != NULL ? xml_child_text(cr, "Expiration") : NULL;
    if (c.ak == NULL || c.sk == NULL || c.tok == NULL || c.exp == NULL) {
        login_msg(l, "the server's answer holds no credentials");
        return LOGIN_EXIT_ERR;
    }
    if (l->cache_path != NULL)
        cache_store(l, &c);
    return print_creds(l, &c);
}

int login_sts(const struct login *l, const char *form, const char *action)
{
    static const char *const hdr[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    struct curlx_req rq;
    struct curlx_resp rs;
    struct buf url;
    struct xml_node *root = NULL;
    int rc = LOGIN_EXIT_ERR;

    size_t n = strlen(l->endpoint);

    while (n > 0 && l->endpoint[n - 1] == '/')
        n--;
    buf_init(&url, 4096);
    buf_addf(&url, "%.*s/", (int)n, l->endpoint);
    login_http_req(&rq, buf_str(&url));
    rq.hdr = hdr;
    rq.body = form;
    rq.body_len = strlen(form);
    if (curlx_perform(&rq, &rs) != 0)
        login_msg(l, "%s: %s", l->endpoint,
                  rs.too_big ? "the answer is too large" : curl_easy_strerror(rs.cc));
    else if ((root = xml_parse(buf_str(&rs.body), buf_len(&rs.body))) == NULL)
        login_msg(l, "%s answered HTTP %ld with no XML", l->endpoint, rs.status);
    else
        rc = sts_answer(l, rs.status, root, action);
    xml_free(root);
    curlx_resp_free(&rs);
    buf_free(&url);
    return rc;
}
