/* login.c -- `tessera login ldap|oidc ...` (cli/login.h): the dispatch, and `login ldap`:
 * AssumeRoleWithLDAPIdentity as an unsigned form POST (as MinIO's clients do). The password
 * never appears on the command line, in the environment of children, or in messages; it is
 * wiped after use. What both kinds share is cli/login_common.c; `login oidc` is
 * cli/login_oidc.c.
 */
#include "cli/login.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>

#include <openssl/crypto.h>

#include "cli/login_common.h"
#include "core/enc.h"
#include "cli/login_oidc.h"

#define LOGIN_PASSWORD_MAX 1024

static const char ldap_usage[] =
    "usage: tessera login ldap [--endpoint URL] --user NAME [--password-stdin]\n"
    "                          [--duration SECONDS] [--policy FILE] [--cache FILE] [--env]\n"
    "  The password is read from stdin (--password-stdin), TESSERA_LDAP_PASSWORD, or a\n"
    "  prompt on the terminal. Prints aws credential_process JSON (or export lines with\n"
    "  --env). With --cache FILE (\"~/\" is $HOME) the credentials are kept in FILE (mode\n"
    "  0600) and reused while valid for more than 10 minutes, so that a credential_process\n"
    "  profile asks for the password only when they expire; without a terminal (and no\n"
    "  --password-stdin or TESSERA_LDAP_PASSWORD) it then fails at once, saying so.\n"
    "  Environment: TESSERA_ENDPOINT (default http://127.0.0.1:9000), TESSERA_CA_FILE.\n";

static const char login_usage[] =
    "usage: tessera login ldap [--endpoint URL] --user NAME [--password-stdin] [OPTIONS]\n"
    "       tessera login oidc [--endpoint URL] --provider NAME|ISSUER_URL [OPTIONS]\n"
    "  Prints temporary credentials as aws credential_process JSON (or export lines with\n"
    "  --env). `tessera login ldap --help` and `tessera login oidc --help` list the options.\n";

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
        enc_secret_free(buf);
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
    char *pw, *safe = term_safe(user);

    if (tty == NULL) {
        free(safe);
        return NULL;
    }
    fprintf(tty, "LDAP password for %s: ", safe != NULL ? safe : "");
    free(safe);
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

struct ldap_opts {
    const char *user;
    bool from_stdin;
};

enum { LOPT_USER = 300, LOPT_PASSWORD_STDIN };

static int ldap_opt(void *ctx, int code, const char *arg)
{
    struct ldap_opts *o = ctx;
    if (code == LOPT_USER)
        o->user = arg;
    else
        o->from_stdin = true;
    return 0;
}

/* The password: stdin's first line, TESSERA_LDAP_PASSWORD, or a prompt. NULL after a message. */
static char *get_password(const struct login *l, const struct ldap_opts *o)
{
    char *pw;

    if (o->from_stdin)
        pw = read_line(stdin);
    else if (getenv("TESSERA_LDAP_PASSWORD") != NULL)
        pw = strdup(getenv("TESSERA_LDAP_PASSWORD"));
    else if ((pw = prompt_password(o->user)) == NULL) {
        if (l->cache != NULL)
            login_no_terminal(l, "no usable cached credentials, and no terminal to ask for the "
                                 "password on (or use --password-stdin or TESSERA_LDAP_PASSWORD)");
        else
            login_msg(l, "no terminal to ask for the password: use --password-stdin or "
                         "TESSERA_LDAP_PASSWORD");
        return NULL;
    }
    if (pw == NULL || pw[0] == '\0') {
        login_msg(l, "empty password");
        enc_secret_free(pw);
        return NULL;
    }
    return pw;
}

static int login_ldap(int argc, char **argv)
{
    static const struct option opts[] = {
        LOGIN_COMMON_OPTIONS,
        {"user", required_argument, NULL, LOPT_USER},
        {"username", required_argument, NULL, LOPT_USER},
        {"password-stdin", no_argument, NULL, LOPT_PASSWORD_STDIN},
        {NULL, 0, NULL, 0},
    };
    struct login l = {.who = "tessera login ldap", .usage = ldap_usage};
    struct ldap_opts o = {0};
    char *password = NULL;
    struct buf form;
    int rc = login_parse(&l, argc, argv, opts, ldap_opt, &o);

    if (rc != 0 || l.help)
        return rc;
    if (o.user == NULL || o.user[0] == '\0') {
        login_msg(&l, "--user NAME is required");
        fputs(ldap_usage, stderr);
        return LOGIN_EXIT_USAGE;
    }
    buf_init(&form, 256 * 1024);
    rc = LOGIN_EXIT_ERR;
    const char *id[] = {o.user};
    if (login_prepare(&l) != 0 || login_set_cache_id(&l, id, 1) != 0)
        goto out;
    if (l.cache != NULL && login_cache_hit(&l)) {
        rc = LOGIN_EXIT_OK;
        goto out;
    }
    if ((password = get_password(&l, &o)) == NULL)
        goto out;
    if (login_add_param(&form, "Action", "AssumeRoleWithLDAPIdentity") != 0 ||
        login_add_param(&form, "Version", "2011-06-15") != 0 ||
        login_add_param(&form, "LDAPUsername", o.user) != 0 ||
        login_add_param(&form, "LDAPPassword", password) != 0 ||
        (l.duration != NULL && login_add_param(&form, "DurationSeconds", l.duration) != 0) ||
        (l.policy != NULL && login_add_param(&form, "Policy", l.policy) != 0)) {
        login_msg(&l, "out of memory");
        goto out;
    }
    rc = login_sts(&l, buf_str(&form), "AssumeRoleWithLDAPIdentity");
out:
    login_wipe_buf(&form);
    enc_secret_free(password);
    login_release(&l);
    return rc;
}

int login_main(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "tessera") == 0) { /* a whole argv */
        argc--;
        argv++;
    }
    if (argc < 2) {
        fputs(login_usage, stderr);
        return LOGIN_EXIT_USAGE;
    }
    if (strcmp(argv[1], "ldap") == 0)
        return login_ldap(argc - 1, argv + 1);
    if (strcmp(argv[1], "oidc") == 0)
        return login_oidc_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(login_usage, stdout);
        return LOGIN_EXIT_OK;
    }
    fprintf(stderr, "tessera login: unknown identity kind ");
    login_term_put(argv[1]);
    fprintf(stderr, " (ldap or oidc)\n");
    fputs(login_usage, stderr);
    return LOGIN_EXIT_USAGE;
}
