/* login_common.h -- what `tessera login ldap` (cli/login.c) and `tessera login oidc`
 * (cli/login_oidc.c) share: the options every login takes, messages through one terminal
 * escaper, form encoding, and the STS call whose temporary credentials are printed as aws
 * credential_process JSON or shell exports, and optionally cached. */
#ifndef TS_CLI_LOGIN_COMMON_H
#define TS_CLI_LOGIN_COMMON_H

#include <getopt.h>
#include <stdbool.h>

#include "core/buf.h"
#include "core/curlx.h"

#define LOGIN_EXIT_OK 0
#define LOGIN_EXIT_ERR 1
#define LOGIN_EXIT_USAGE 2
#define LOGIN_RESP_MAX (1024 * 1024)

/* getopt_long codes of the shared options (past any character). */
enum { LOPT_ENDPOINT = 256, LOPT_DURATION, LOPT_POLICY, LOPT_ENV, LOPT_CACHE, LOPT_HELP };

/* The shared rows of a login command's struct option table (before its own rows). */
#define LOGIN_COMMON_OPTIONS                                                                       \
    {"endpoint", required_argument, NULL, LOPT_ENDPOINT},                                          \
        {"duration", required_argument, NULL, LOPT_DURATION},                                      \
        {"policy", required_argument, NULL, LOPT_POLICY}, {"env", no_argument, NULL, LOPT_ENV},    \
        {"cache", required_argument, NULL, LOPT_CACHE},                                            \
    {                                                                                              \
        "help", no_argument, NULL, LOPT_HELP                                                       \
    }

struct login {
    const char *who;      /* "tessera login ldap", for messages */
    const char *usage;    /* the command's usage text */
    const char *endpoint; /* --endpoint, else TESSERA_ENDPOINT, else http://127.0.0.1:9000 */
    const char *duration; /* --duration SECONDS, or NULL */
    const char *policy_file;
    char *policy;      /* the --policy FILE's content (read by login_prepare) */
    const char *cache; /* --cache FILE (a leading "~/" is $HOME), or NULL */
    char *cache_path;  /* the expanded --cache FILE (login_prepare) */
    char *cache_id;    /* what the cached credentials are for (set by the login kind) */
    char *refresh;     /* a refresh token to keep in the cache with the credentials, or NULL */
    bool renews;       /* the kind renews cached credentials through l->refresh */
    bool env;          /* --env: shell exports instead of JSON */
    bool help;         /* --help was given */
    int argc;          /* the command line, for "run this once in a terminal" */
    char **argv;
};

/* Cached credentials are reused while they are valid for longer than this (the aws tools
 * refresh credentials that expire within 10 minutes). */
#define LOGIN_CACHE_MARGIN 600

/* Parses argv (argv[0] is the command's name) with getopt_long against opts (which starts
 * with LOGIN_COMMON_OPTIONS and ends with a zero row): the shared options fill *l, every
 * other option goes to own(ctx, code, optarg), which returns 0 or -1 (after a message).
 * Positional arguments are refused. Returns 0, or LOGIN_EXIT_USAGE after a message and the
 * usage on stderr. With --help, the usage is printed on stdout and l->help is set. */
int login_parse(struct login *l, int argc, char **argv, const struct option *opts,
                int (*own)(void *ctx, int code, const char *arg), void *ctx);

/* After parsing: the endpoint default and the --policy file. 0, or -1 after a message. */
int login_prepare(struct login *l);
void login_release(struct login *l);
/* l->cache_id: the command, endpoint, duration, policy and the kind's own n parts (NULL for
 * unset ones), so that a cache file serves only the login it was written by. 0, or -1 after
 * a message. */
int login_set_cache_id(struct login *l, const char *const *parts, size_t n);

/* A message "WHO: text" on stderr; the whole text goes through term_safe. */
void login_msg(const struct login *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes s to stderr through term_safe. */
void login_term_put(const char *s);
/* A copy of s (malloc'ed; NULL on OOM) safe to write to a terminal: every control character
 * (C0, DEL, C1) and every byte that is not part of valid UTF-8 becomes \xNN, so that no string
 * from the provider, the server or a local page can move the cursor, recolour or retitle the
 * terminal. Every such string written to the terminal goes through this. */
char *term_safe(const char *s);

/* Appends "key=value" (value form-encoded, '&' before all but the first). 0 or -1 (OOM). */
int login_add_param(struct buf *b, const char *key, const char *value);
/* Wipes and frees b. */
void login_wipe_buf(struct buf *b);

/* The request every login client sends: user agent, timeouts, TESSERA_CA_FILE. */
void login_http_req(struct curlx_req *rq, const char *url);

/* --cache: prints the cached credentials when they were stored for the same l->cache_id and
 * are valid for longer than LOGIN_CACHE_MARGIN. */
bool login_cache_hit(const struct login *l);

/* --cache: the refresh token (malloc'ed) stored in the cache for the same l->cache_id, or
 * NULL. The caller wipes it. */
char *login_cache_refresh(const struct login *l);

/* --cache and no usable cached credentials: a sign-in that needs the user is only started
 * with a terminal to show it on. Returns 0 when stderr is a terminal, or when the controlling
 * terminal (/dev/tty) can be opened, which then becomes stderr (the aws cli holds a
 * credential_process's stderr until it exits); else -1 at once after a message that says why
 * (why, or that nothing usable is cached when NULL) and to run the same command once in a
 * terminal. */
int login_need_terminal(const struct login *l, const char *why);

/* The message that no terminal is at hand: run this command (quoted) once in a terminal. */
void login_no_terminal(const struct login *l, const char *why);

/* POSTs form (encoded, holding Action=action) to the STS endpoint, then prints the temporary
 * credentials of its answer (stored in l->cache first when set). Returns an exit status. */
int login_sts(const struct login *l, const char *form, const char *action);

#endif
