/* login.c -- `tessera login ldap ...`: AssumeRoleWithLDAPIdentity over libcurl (an unsigned
 * form POST, as MinIO's clients do), the XML answer read with core/xml.h, and the temporary
 * credentials printed as aws credential_process JSON or shell exports. The password never
 * appears on the command line, in the environment of children, or in messages; it is wiped
 * after use. See cli/login.h.
 */
#include "cli/clihttp.h"
#include "cli/login.h"
#include "cli/login_oidc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "core/buf.h"
#include "core/xml.h"

#define LOGIN_EXIT_OK 0
#define LOGIN_EXIT_ERR 1
#define LOGIN_EXIT_USAGE 2
#define LOGIN_RESP_MAX (256 * 1024)
#define LOGIN_PASSWORD_MAX 1024

static const char ldap_usage[] =
    "usage: tessera login ldap [--endpoint URL] --user NAME [--password-stdin]\n"
    "                          [--duration SECONDS] [--policy FILE] [--env]\n"
    "  The password is read from stdin (--password-stdin), TESSERA_LDAP_PASSWORD, or a\n"
    "  prompt. Prints aws credential_process JSON (or export lines with --env).\n"
    "  Environment: TESSERA_ENDPOINT (default http://127.0.0.1:9000), TESSERA_CA_FILE.\n";

static void wipe_free(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

/* Reads one line (without the newline) from f. malloc'ed, or NULL on EOF/error/too long. */
static char *read_line(FILE *f)
{
    char *buf = malloc(LOGIN_PASSWORD_MAX + 2);
    size_t n;
    if (buf == NULL)
        return NULL;
    if (fgets(buf, LOGIN_PASSWORD_MAX + 2, f) == NULL) {
        free(buf);
        return NULL;
    }
    n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (n > LOGIN_PASSWORD_MAX) {
        wipe_free(buf);
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return buf;
}

/* Prompts on the controlling terminal with echo off. */
static char *prompt_password(const char *user)
{
    FILE *tty = fopen("/dev/tty", "r+");
    struct termios old, quiet;
    bool restore = false;
    char *pw;

    if (tty == NULL)
        return NULL;
    fprintf(tty, "LDAP password for %s: ", user);
    fflush(tty);
    if (tcgetattr(fileno(tty), &old) == 0) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        restore = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
    }
    pw = read_line(tty);
    if (restore)
        tcsetattr(fileno(tty), TCSAFLUSH, &old);
    fputc('\n', tty);
    fclose(tty);
    return pw;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct buf b;
    char chunk[4096];
    size_t n;
    if (f == NULL)
        return NULL;
    buf_init(&b, 64 * 1024);
    buf_adds(&b, "");
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    return buf_take(&b, NULL);
}

/* Appends "&key=value" (value form-encoded) to b. Returns 0 or -1 (OOM). */
static int add_param(struct buf *b, CURL *h, const char *key, const char *value)
{
    char *e = curl_easy_escape(h, value, 0);
    int rc;
    if (e == NULL)
        return -1;
    rc = buf_addf(b, "&%s=%s", key, e);
    OPENSSL_cleanse(e, strlen(e));
    curl_free(e);
    return rc;
}

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

/* Prints the credentials of a successful response. Returns an exit status. */
static int print_creds(const struct xml_node *root, const char *action, bool env)
{
    char result[96];
    const struct xml_node *res, *cr;
    const char *ak, *sk, *tok, *exp;

    snprintf(result, sizeof result, "%sResult", action);
    res = xml_child(root, result);
    cr = res != NULL ? xml_child(res, "Credentials") : NULL;
    ak = cr != NULL ? xml_child_text(cr, "AccessKeyId") : NULL;
    sk = cr != NULL ? xml_child_text(cr, "SecretAccessKey") : NULL;
    tok = cr != NULL ? xml_child_text(cr, "SessionToken") : NULL;
    exp = cr != NULL ? xml_child_text(cr, "Expiration") : NULL;
    if (ak == NULL || sk == NULL || tok == NULL || exp == NULL) {
        fprintf(stderr, "tessera login: the server's answer holds no credentials\n");
        return LOGIN_EXIT_ERR;
    }
    if (env) {
        print_shell_quoted("AWS_ACCESS_KEY_ID", ak);
        print_shell_quoted("AWS_SECRET_ACCESS_KEY", sk);
        print_shell_quoted("AWS_SESSION_TOKEN", tok);
        print_shell_quoted("AWS_CREDENTIAL_EXPIRATION", exp);
    } else {
        json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s}", "Version", 1, "AccessKeyId", ak,
                              "SecretAccessKey", sk, "SessionToken", tok, "Expiration", exp);
        char *s = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
        if (s == NULL) {
            fprintf(stderr, "tessera login: out of memory\n");
            return LOGIN_EXIT_ERR;
        }
        printf("%s\n", s);
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
    return fflush(stdout) == 0 ? LOGIN_EXIT_OK : LOGIN_EXIT_ERR;
}

/* POSTs form (already encoded) to endpoint and prints the credentials of action. */
static int sts_call(const char *endpoint, const char *form, const char *action, bool env)
{
    struct buf resp;
    struct xml_node *root = NULL;
    long status = 0;
    CURLcode cc;
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    int rc = LOGIN_EXIT_ERR;

    buf_init(&resp, LOGIN_RESP_MAX);
    if (h == NULL)
        goto out;
    hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
    curl_easy_setopt(h, CURLOPT_URL, endpoint);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    clihttp_defaults(h, "tessera-login/1", 60L, &resp);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        fprintf(stderr, "tessera login: %s: %s\n", endpoint, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    root = xml_parse(buf_str(&resp), buf_len(&resp));
    if (root == NULL) {
        fprintf(stderr, "tessera login: %s answered HTTP %ld with no XML\n", endpoint, status);
        goto out;
    }
    if (status != 200 || strcmp(root->name, "ErrorResponse") == 0 ||
        strcmp(root->name, "Error") == 0) {
        const struct xml_node *e = xml_child(root, "Error");
        const char *code = xml_child_text(e != NULL ? e : root, "Code");
        const char *msg = xml_child_text(e != NULL ? e : root, "Message");
        fprintf(stderr, "tessera login: %s: %s\n", code != NULL ? code : "HTTP error",
                msg != NULL ? msg : "(no message)");
        goto out;
    }
    rc = print_creds(root, action, env);
out:
    xml_free(root);
    if (buf_len(&resp) > 0)
        OPENSSL_cleanse(resp.p, resp.len); /* holds the secret key */
    buf_free(&resp);
    curl_slist_free_all(hdrs);
    if (h != NULL)
        curl_easy_cleanup(h);
    return rc;
}

static int login_ldap(int argc, char **argv)
{
    const char *endpoint = getenv("TESSERA_ENDPOINT"), *user = NULL, *duration = NULL;
    const char *policy_file = NULL;
    bool from_stdin = false, env = false;
    char *password = NULL, *policy = NULL;
    struct buf form;
    CURL *h = NULL;
    int rc = LOGIN_EXIT_USAGE;

    buf_init(&form, 64 * 1024);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (strcmp(a, "--endpoint") == 0 && more)
            endpoint = argv[++i];
        else if ((strcmp(a, "--user") == 0 || strcmp(a, "--username") == 0) && more)
            user = argv[++i];
        else if (strcmp(a, "--duration") == 0 && more)
            duration = argv[++i];
        else if (strcmp(a, "--policy") == 0 && more)
            policy_file = argv[++i];
        else if (strcmp(a, "--password-stdin") == 0)
            from_stdin = true;
        else if (strcmp(a, "--env") == 0)
            env = true;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(ldap_usage, stdout);
            rc = LOGIN_EXIT_OK;
            goto out;
        } else {
            fprintf(stderr, "tessera login ldap: unexpected argument %s\n", a);
            fputs(ldap_usage, stderr);
            goto out;
        }
    }
    if (user == NULL || user[0] == '\0') {
        fprintf(stderr, "tessera login ldap: --user NAME is required\n");
        fputs(ldap_usage, stderr);
        goto out;
    }
    if (endpoint == NULL || endpoint[0] == '\0')
        endpoint = "http://127.0.0.1:9000";
    rc = LOGIN_EXIT_ERR;
    if (policy_file != NULL && (policy = read_file(policy_file)) == NULL) {
        fprintf(stderr, "tessera login ldap: cannot read %s: %s\n", policy_file, strerror(errno));
        goto out;
    }
    if (from_stdin) {
        password = read_line(stdin);
    } else if (getenv("TESSERA_LDAP_PASSWORD") != NULL) {
        password = strdup(getenv("TESSERA_LDAP_PASSWORD"));
    } else {
        password = prompt_password(user);
        if (password == NULL) {
            fprintf(stderr, "tessera login ldap: no terminal to ask for the password: use "
                            "--password-stdin or TESSERA_LDAP_PASSWORD\n");
            goto out;
        }
    }
    if (password == NULL || password[0] == '\0') {
        fprintf(stderr, "tessera login ldap: empty password\n");
        goto out;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (h = curl_easy_init()) == NULL) {
        fprintf(stderr, "tessera login: cannot initialise libcurl\n");
        goto out;
    }
    buf_adds(&form, "Action=AssumeRoleWithLDAPIdentity&Version=2011-06-15");
    if (add_param(&form, h, "LDAPUsername", user) != 0 ||
        add_param(&form, h, "LDAPPassword", password) != 0 ||
        (duration != NULL && add_param(&form, h, "DurationSeconds", duration) != 0) ||
        (policy != NULL && add_param(&form, h, "Policy", policy) != 0)) {
        fprintf(stderr, "tessera login: out of memory\n");
        goto out;
    }
    rc = sts_call(endpoint, buf_str(&form), "AssumeRoleWithLDAPIdentity", env);
out:
    if (buf_len(&form) > 0)
        OPENSSL_cleanse(form.p, form.len);
    buf_free(&form);
    wipe_free(password);
    free(policy);
    if (h != NULL)
        curl_easy_cleanup(h);
    return rc;
}

int login_main(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "tessera") == 0) { /* a whole argv */
        argc--;
        argv++;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: tessera login ldap|oidc [options]\n");
        return LOGIN_EXIT_USAGE;
    }
    if (strcmp(argv[1], "ldap") == 0)
        return login_ldap(argc - 1, argv + 1);
    if (strcmp(argv[1], "oidc") == 0)
        return login_oidc_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(ldap_usage, stdout);
        return LOGIN_EXIT_OK;
    }
    fprintf(stderr, "tessera login: unknown identity kind %s (ldap or oidc)\n", argv[1]);
    return LOGIN_EXIT_USAGE;
}
