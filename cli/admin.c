/* admin.c -- `tessera admin ...`: the command-line client of the admin API.
 *
 * Each command is one HTTP request to /tessera/admin/v1/... made through core/curlx.h, signed
 * with SigV4 by libcurl itself (CURLOPT_AWS_SIGV4, service s3, region us-east-1). libcurl 7.88
 * does not send x-amz-content-sha256, so we compute the payload hash and send the header: it
 * is then signed too, and the server checks the body against it as for any S3 request.
 * Commands are one table (admin_cmds[], after redis's command table): each row names the
 * words, the arguments and options it takes, and the handler that builds the request and
 * renders the JSON answer for humans (or prints it as received with --json). Options are
 * parsed with getopt_long; every command and group takes --help (usage on stdout, exit 0,
 * without credentials or a server).
 */
#include "cli/admin.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/curlx.h"
#include "core/enc.h"

#define ADMIN_PREFIX "/tessera/admin/v1"
#define ADMIN_RESP_MAX (16 * 1024 * 1024)
#define ADMIN_FILE_MAX (1024 * 1024)
#define ADMIN_EXIT_OK 0
#define ADMIN_EXIT_ERR 1
#define ADMIN_EXIT_USAGE 2

/* The options a command may take (struct admin_cmd.opts). */
enum {
    O_USER = 1,
    O_GROUP = 2,
    O_DN = 4,
    O_AK = 8,
    O_TRUST = 16,
    O_SK = 32,
    O_POLICY = 64,
    O_NAME = 128,
    O_DESC = 256,
    O_EXPIRY = 512,
    O_NOW = 1024,
    O_ONE = 1 << 20 /* exactly one of --user, --group, --dn, --access-key (not an option) */
};
#define NOPTS 11 /* the O_ options: bit i is cli->opt[i] */

struct admin_cli {
    const char *endpoint;
    const char *access_key;
    const char *secret_key;
    const char *session_token;       /* AWS_SESSION_TOKEN with the AWS_* keys, or NULL */
    const char *data_dir;            /* --data-dir or TESSERA_DATA_DIR: root.json's directory */
    char root_ak[129], root_sk[129]; /* the keys read from DATA_DIR/.tessera/root.json */
    bool json;
    char **pos; /* the command's positional arguments (after its words) */
    int npos;
    const char *opt[NOPTS]; /* the values of --user, --group, --dn, --access-key, --trust,
                               --secret-key, --policy, --name, --description, --expiry, --now */
    unsigned given;         /* which of them were given (O_*) */
    const char *query;      /* the request's query string (encoded, without '?'), or NULL */
};

struct admin_cmd {
    const char *group, *verb; /* the command's words: "user", "add" */
    const char *args;         /* the rest of its synopsis */
    int min, max;             /* positional arguments (max -1: any number) */
    unsigned opts;            /* O_* it takes */
    int (*run)(struct admin_cli *cli, const struct admin_cmd *cmd);
    const char *method, *coll, *suffix; /* the request: METHOD coll/NAME/suffix */
    const char *done;                   /* message on success ("%s": the name) */
    void (*show)(json_t *res);          /* renders the answer (lists, info) */
};

static const char usage_head[] =
    "usage: tessera admin [OPTIONS] COMMAND\n"
    "options: --endpoint URL, --access-key AK, --secret-key SK, --data-dir DIR, --json\n"
    "commands:\n";
static const char usage_tail[] =
    "credentials, the first found: --access-key and --secret-key; TESSERA_ACCESS_KEY and\n"
    "TESSERA_SECRET_KEY; AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN);\n"
    "on the server's machine, the root credentials it generated in DIR/.tessera/root.json\n"
    "(--data-dir DIR or TESSERA_DATA_DIR, DIR being the server's DATA_DIR), else\n"
    "./data/.tessera/root.json when it exists (the README's `tessera server ./data`).\n"
    "environment: TESSERA_ENDPOINT (default http://127.0.0.1:9000); TESSERA_CA_FILE, extra\n"
    "trusted CAs for https.\n"
    "`tessera admin COMMAND --help` shows one command; an argument that begins with '-'\n"
    "follows `--`.\n";

static void errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void errf(const char *fmt, ...)
{
    va_list ap;

    fputs("tessera: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- HTTP ---- */

/* Appends "/" and the URI-encoded segment to b. */
static int add_segment(struct buf *b, const char *seg)
{
    char *e = enc_uri_encode(seg, strlen(seg), false);
    int rc;

    if (e == NULL)
        return -1;
    rc = buf_adds(b, "/");
    if (rc == 0)
        rc = buf_adds(b, e);
    free(e);
    return rc;
}

/* Prints the server's error ("tessera: Code: Message") from an error body. */
static void print_server_error(long status, const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *code = json_string_value(json_object_get(j, "Code"));
    const char *msg = json_string_value(json_object_get(j, "Message"));

    if (code != NULL)
        errf("%s: %s", code, msg != NULL ? msg : "");
    else
        errf("HTTP %ld: %.*s", status, (int)(len > 200 ? 200 : len), body);
    json_decref(j);
}

/* The URL of /tessera/admin/v1/<segs...> into url. 0, or -1 after a message. */
static int admin_url(const struct admin_cli *cli, const char *const *segs, size_t nseg,
                     struct buf *url)
{
    size_t elen = strlen(cli->endpoint);

    for (size_t i = 1; i < nseg; i++) {
        /* names travel as one path segment; the server splits on '/' after decoding */
        if (strchr(segs[i], '/') != NULL || segs[i][0] == '\0') {
            errf("InvalidArgument: invalid name \"%s\": names are non-empty and cannot "
                 "contain '/'",
                 segs[i]);
            return -1;
        }
    }
    while (elen > 0 && cli->endpoint[elen - 1] == '/')
        elen--;
    buf_add(url, cli->endpoint, elen);
    buf_adds(url, ADMIN_PREFIX);
    for (size_t i = 0; i < nseg; i++)
        add_segment(url, segs[i]);
    if (cli->query != NULL)
        buf_addf(url, "?%s", cli->query);
    if (buf_failed(url)) {
        errf("out of memory");
        return -1;
    }
    return 0;
}

/* Checks and hands over a 2xx answer: printed with --json, parsed into *out when asked. */
static int take_answer(const struct admin_cli *cli, const struct curlx_resp *rs, json_t **out)
{
    json_error_t jerr;

    if (rs->status < 200 || rs->status > 299) {
        print_server_error(rs->status, buf_str(&rs->body), buf_len(&rs->body));
        return ADMIN_EXIT_ERR;
    }
    if (cli->json) {
        fwrite(buf_str(&rs->body), 1, buf_len(&rs->body), stdout);
        if (buf_len(&rs->body) == 0 || buf_str(&rs->body)[buf_len(&rs->body) - 1] != '\n')
            fputc('\n', stdout);
    }
    if (out != NULL &&
        (*out = json_loadb(buf_str(&rs->body), buf_len(&rs->body), 0, &jerr)) == NULL) {
        errf("the server's answer is not JSON: %s", jerr.text);
        return ADMIN_EXIT_ERR;
    }
    return ADMIN_EXIT_OK;
}

/*
 * Sends METHOD to /tessera/admin/v1/<segs...> with an optional JSON body. On success (2xx)
 * *out (optional) owns the parsed JSON answer, and with --json the raw answer is printed.
 * Returns an exit status; on failure the reason is already on stderr.
 */
static int request(struct admin_cli *cli, const char *method, const char *const *segs, size_t nseg,
                   const char *body, size_t blen, json_t **out)
{
    /* no "Expect:" override: libcurl 7.88 would sign the suppressed header. Bodies here stay
     * below libcurl's 1 MiB threshold for Expect: 100-continue anyway. */
    char sha[64 + 32] = "x-amz-content-sha256: ";
    struct buf tok;
    const char *hdr[] = {sha, NULL, NULL, NULL};
    struct curlx_req rq = {.method = method,
                           .hdr = hdr,
                           .aws_sigv4 = "aws:amz:us-east-1:s3",
                           .user = cli->access_key,
                           .password = cli->secret_key,
                           .user_agent = "tessera-admin/1",
                           .timeout_ms = 120000,
                           .max_body = ADMIN_RESP_MAX,
                           .ca_file = curlx_env_ca_file()};
    struct curlx_resp rs = {0};
    struct buf url;
    uint8_t digest[32];
    int rc = ADMIN_EXIT_ERR;

    buf_init(&url, 16384);
    buf_init(&tok, 16384);
    if (cli->session_token != NULL &&
        buf_addf(&tok, "x-amz-security-token: %s", cli->session_token) == 0)
        hdr[1] = buf_str(&tok);
    if (body != NULL)
        hdr[hdr[1] != NULL ? 2 : 1] = "Content-Type: application/json";
    enc_sha256(body != NULL ? body : "", body != NULL ? blen : 0, digest);
    enc_hex(digest, sizeof(digest), sha + strlen(sha));
    if (body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        rq.body = body != NULL ? body : "";
        rq.body_len = body != NULL ? blen : 0;
    }
    if (admin_url(cli, segs, nseg, &url) != 0)
        goto out;
    rq.url = buf_str(&url);
    if (curlx_perform(&rq, &rs) != 0)
        errf("%s %s: %s", method, cli->endpoint,
             rs.too_big ? "the server's answer is too large" : curl_easy_strerror(rs.cc));
    else
        rc = take_answer(cli, &rs, out);
out:
    curlx_resp_free(&rs);
    buf_free(&url);
    buf_free(&tok);
    return rc;
}

/* Sends a JSON object body (stolen) and handles the answer. */
static int request_obj(struct admin_cli *cli, const char *method, const char *const *segs,
                       size_t nseg, json_t *obj, json_t **out)
{
    char *body = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;
    int rc;

    json_decref(obj);
    if (body == NULL) {
        errf("out of memory");
        return ADMIN_EXIT_ERR;
    }
    rc = request(cli, method, segs, nseg, body, strlen(body), out);
    free(body);
    return rc;
}

/* ---- rendering ---- */

/* Joins the strings of a JSON array with "," ("-" when empty) into out. */
static const char *join(json_t *arr, char *out, size_t outlen)
{
    size_t i, o = 0;
    json_t *e;

    out[0] = '\0';
    json_array_foreach(arr, i, e)
    {
        int n = snprintf(out + o, outlen - o, "%s%s", i > 0 ? "," : "",
                         json_string_value(e) != NULL ? json_string_value(e) : "");
        if (n < 0 || (size_t)n >= outlen - o)
            break;
        o += (size_t)n;
    }
    if (out[0] == '\0')
        snprintf(out, outlen, "-");
    return out;
}

static const char *jstr(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

static void show_users(json_t *res)
{
    char list[4096];
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(res, "users"), i, u)
    {
        printf("%-9s %-24s %s\n", jstr(u, "status"), jstr(u, "accessKey"),
               join(json_object_get(u, "policies"), list, sizeof(list)));
    }
}

/* One "Label:   value" line per field of res, each "Label:key" (key[]: a list, joined), the
 * labels padded to the longest and one space. */
static void show_fields(json_t *res, const char *const *fields)
{
    char list[4096], key[64];
    int width = 0;
    for (const char *const *f = fields; *f != NULL; f++)
        if ((int)(strchr(*f, ':') - *f) + 2 > width)
            width = (int)(strchr(*f, ':') - *f) + 2;
    for (const char *const *f = fields; *f != NULL; f++) {
        const char *k = strchr(*f, ':') + 1;
        size_t klen = strcspn(k, "[");
        snprintf(key, sizeof key, "%.*s", (int)klen, k);
        printf("%-*.*s%s\n", width, (int)(k - *f), *f,
               k[klen] == '[' ? join(json_object_get(res, key), list, sizeof(list))
                              : jstr(res, key));
    }
}

/* One line per element of the array res[key]: a string, or the object's k1 (and k2). */
static void show_names(json_t *res, const char *key, const char *k1, const char *k2)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(res, key), i, e)
    {
        if (json_is_string(e))
            printf("%s\n", json_string_value(e));
        else
            printf("%s%s%s\n", jstr(e, k1), k2 != NULL ? "\t" : "", k2 != NULL ? jstr(e, k2) : "");
    }
}

/* What `info` shows of a user, a group, a role. */
static const char *const user_fields[] = {"AccessKey:accessKey", "Status:status",
                                          "Policies:policies[]", "Groups:groups[]", NULL};
static const char *const group_fields[] = {"Group:name", "Status:status", "Policies:policies[]",
                                           "Members:members[]", NULL};
static const char *const role_fields[] = {"Role:name", "Arn:arn", "Created:created",
                                          "Policies:policies[]", NULL};

static void show_user(json_t *res)
{
    show_fields(res, user_fields);
}

static void show_group(json_t *res)
{
    show_fields(res, group_fields);
}

static void show_role(json_t *res)
{
    char *t = json_dumps(json_object_get(res, "trust"), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    show_fields(res, role_fields);
    printf("Trust:\n%s\n", t != NULL ? t : "");
    free(t);
}

static void show_groups(json_t *res)
{
    show_names(res, "groups", NULL, NULL);
}

static void show_policies(json_t *res)
{
    show_names(res, "policies", "name", NULL);
}

static void show_roles(json_t *res)
{
    show_names(res, "roles", "name", "arn");
}

static void show_policy(json_t *res)
{
    char *s = json_dumps(json_object_get(res, "policy"), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    printf("%s\n", s != NULL ? s : "");
    free(s);
}

static void show_key(json_t *res)
{
    printf("New token key %s: every node verifies with it once the change reaches it, and "
           "seals new sessions with it 2 s after the rotation.\n",
           jstr(res, "keyId"));
}

/* cluster status: the store, then one line per node. */
static void show_cluster(json_t *res)
{
    char keys[1024];
    size_t i;
    json_t *n;

    printf("Store:    %s%s%s\n", jstr(res, "engine"), jstr(res, "endpoint")[0] ? " " : "",
           jstr(res, "endpoint"));
    printf("Revision: %" JSON_INTEGER_FORMAT "\n",
           json_integer_value(json_object_get(res, "revision")));
    printf("Fresh:    %s%s%s\n", json_is_true(json_object_get(res, "fresh")) ? "yes" : "no",
           json_is_string(json_object_get(res, "message")) ? ": " : "", jstr(res, "message"));
    printf("%-16s %-4s %-28s %-8s %6s %s\n", "NODE", "UP", "ADDRESS", "REVISION", "AGE_S",
           "KEYS (MINTING)");
    json_array_foreach(json_object_get(res, "nodes"), i, n)
    {
        printf("%-16s %-4s %-28s %-8" JSON_INTEGER_FORMAT " %6" JSON_INTEGER_FORMAT " %s (%s)%s\n",
               jstr(n, "id"), json_is_true(json_object_get(n, "up")) ? "yes" : "no",
               jstr(n, "address"), json_integer_value(json_object_get(n, "revision")),
               json_integer_value(json_object_get(n, "age_s")),
               join(json_object_get(n, "key_ids"), keys, sizeof keys), jstr(n, "mint_key_id"),
               json_is_true(json_object_get(n, "self")) ? " *" : "");
    }
}

/* ---- commands ---- */

/* Reads a whole file ("-" is stdin) into a malloc'ed NUL-terminated buffer; NULL after a
 * message. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    struct buf b;
    char chunk[8192];
    size_t n;
    char *out = NULL;

    if (f == NULL) {
        errf("cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    buf_init(&b, ADMIN_FILE_MAX);
    buf_adds(&b, ""); /* allocate, so that an empty file gives "" */
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && buf_add(&b, chunk, n) == 0)
        ;
    if (buf_failed(&b))
        errf("cannot read %s: %s", path, strerror(EFBIG));
    else if (ferror(f))
        errf("cannot read %s: %s", path, strerror(EIO));
    else if ((out = buf_take(&b, len)) == NULL)
        errf("cannot read %s: %s", path, strerror(ENOMEM));
    if (f != stdin)
        fclose(f);
    buf_free(&b);
    return out;
}

/* Prints "cmd->done NAME." unless --json. */
static int done(const struct admin_cli *cli, const struct admin_cmd *cmd, int rc, const char *name)
{
    if (rc == ADMIN_EXIT_OK && !cli->json && cmd->done != NULL)
        printf("%s %s.\n", cmd->done, name);
    return rc;
}

/* METHOD coll[/NAME[/suffix]] without a body: remove, enable, disable, list, info and
 * rotate-key. The answer goes to cmd->show, or cmd->done is printed. */
static int cmd_plain(struct admin_cli *cli, const struct admin_cmd *cmd)
{
    const char *segs[3] = {cmd->coll, cli->npos > 0 ? cli->pos[0] : cmd->suffix, cmd->suffix};
    size_t nseg = cli->npos > 0 ? (cmd->suffix != NULL ? 3 : 2) : (cmd->suffix != NULL ? 2 : 1);
    json_t *res = NULL;
    int rc = request(cli, cmd->method, segs, nseg, NULL, 0,
                     cmd->show != NULL && !cli->json ? &res : NULL);

    if (rc == ADMIN_EXIT_OK && res != NULL)
        cmd->show(res);
    json_decref(res);
    return done(cli, cmd, rc, cli->npos > 0 ? cli->pos[0] : "");
}

/* user add|set-secret NAME SECRET: PUT users/NAME[/secret] {"secretKey": SECRET}. */
static int cmd_secret(struct admin_cli *cli, const struct admin_cmd *cmd)
{
    const char *segs[3] = {cmd->coll, cli->pos[0], cmd->suffix};
    int rc = request_obj(cli, cmd->method, segs, cmd->suffix != NULL ? 3 : 2,
                         json_pack("{s:s}", "secretKey", cli->pos[1]), NULL);
    return done(cli, cmd, rc, cli->pos[0]);
}

/* A {"members":[...]} object from words. */
static json_t *members_obj(char **words, int n)
{
    json_t *arr = json_array();
    for (int i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr, json_string(words[i]));
    return arr != NULL ? json_pack("{s:o}", "members", arr) : NULL;
}

/* group add GROUP [MEMBER...] | group remove GROUP [MEMBER...]. Adding no members creates
 * the group, empty (an existing group is left as it is); removing none removes the group. */
static int cmd_members(struct admin_cli *cli, const struct admin_cmd *cmd)
{
    bool add = strcmp(cmd->verb, "add") == 0;
    const char *segs[3] = {"groups", cli->pos[0], add ? "add-members" : "remove-members"};
    int n = cli->npos - 1, rc;

    if (n == 0 && !add) /* no members: remove the (empty) group */
        return done(cli, cmd, request(cli, "DELETE", segs, 2, NULL, 0, NULL), cli->pos[0]);
    rc = request_obj(cli, "POST", segs, 3, members_obj(cli->pos + 1, n), NULL);
    if (rc == ADMIN_EXIT_OK && !cli->json && n == 0)
        printf("Added group %s.\n", segs[1]);
    else if (rc == ADMIN_EXIT_OK && !cli->json)
        printf("%s %d member%s %s group %s.\n", add ? "Added" : "Removed", n, n > 1 ? "s" : "",
               add ? "to" : "from", segs[1]);
    return rc;
}

/* policy create NAME FILE | role create|trust NAME --trust FILE: PUT the file's document. */
static int cmd_document(struct admin_cli *cli, const struct admin_cmd *cmd)
{
    const char *segs[3] = {cmd->coll, cli->pos[0], cmd->suffix};
    const char *path = cmd->opts & O_TRUST ? cli->opt[4] : cli->pos[1];
    size_t len = 0;
    json_t *res = NULL;
    char *doc = read_file(path, &len);
    int rc;

    if (doc == NULL)
        return ADMIN_EXIT_ERR;
    rc = request(cli, "PUT", segs, cmd->suffix != NULL ? 3 : 2, doc, len,
                 cmd->opts & O_TRUST && !cli->json ? &res : NULL);
    free(doc);
    if (rc == ADMIN_EXIT_OK && res != NULL)
        printf("%s role %s (%s).\n", cmd->done, cli->pos[0], jstr(res, "arn"));
    else if (!(cmd->opts & O_TRUST))
        done(cli, cmd, rc, cli->pos[0]);
    json_decref(res);
    return rc;
}

/* The one option of --user U | --group G | --dn DN | --access-key AK given; -1 if not one. */
static int one_target(const struct admin_cli *cli, const struct admin_cmd *cmd)
{
    int which = -1;
    for (int i = 0; i < 4; i++)
        if (cli->given & (1u << i)) {
            if (which >= 0)
                return -1;
            which = i;
        }
    return which >= 0 && (cmd->opts & (1u << which)) ? which : -1;
}

/* policy attach|detach NAME --user U | --group G | --dn DN */
static int cmd_attach(struct admin_cli *cli, const struct admin_cmd *cmd)
{
    static const char *const keys[] = {"user", "group", "dn"}, *const what[] = {"user", "group",
                                                                                "DN"};
    bool attach = strcmp(cmd->verb, "attach") == 0;
    const char *segs[3] = {"policies", cli->pos[0], cmd->verb};
    int t = one_target(cli, cmd), rc;
    const char *target = cli->opt[t];
    json_t *res = NULL;

    rc = request_obj(cli, "POST", segs, 3, json_pack("{s:s}", keys[t], target),
                     cli->json ? NULL : &res);
    if (rc != ADMIN_EXIT_OK || cli->json)
        return rc;
    /* the server's spelling: DNs come back normalised */
    if (json_string_value(json_object_get(res, keys[t])) != NULL)
        target = json_string_value(json_object_get(res, keys[t]));
    printf("%s policy %s %s %s %s.\n", attach ? "Attached" : "Detached", segs[1],
           attach ? "to" : "from", what[t], target);
    json_decref(res);
    return ADMIN_EXIT_OK;
}

/* sts revoke --user U | --access-key AK */
static int cmd_revoke(struct admin_cli *cli, const struct admin_cmd *cmd)
{
    const char *segs[] = {"sts", "revoke"};
    bool user = one_target(cli, cmd) == 0;
    const char *who = cli->opt[user ? 0 : 3];
    int rc = request_obj(cli, "POST", segs, 2, json_pack("{s:s}", user ? "user" : "accessKey", who),
                         NULL);
    if (rc == ADMIN_EXIT_OK && !cli->json) {
        if (user)
            printf("Revoked the temporary credentials of %s.\n", who);
        else
            printf("Revoked access key %s.\n", who);
    }
    return rc;
}

/* role policy attach|detach ROLE POLICY */
static int cmd_role_policy(struct admin_cli *cli, const struct admin_cmd *cmd)
{
    const char *op = cli->pos[0];
    bool attach = strcmp(op, "attach") == 0;
    const char *segs[3] = {"roles", cli->pos[1], op};
    int rc;

    (void)cmd;
    if (!attach && strcmp(op, "detach") != 0) {
        errf("role policy attach|detach ROLE POLICY");
        return ADMIN_EXIT_USAGE;
    }
    rc = request_obj(cli, "POST", segs, 3, json_pack("{s:s}", "policy", cli->pos[2]), NULL);
    if (rc == ADMIN_EXIT_OK && !cli->json)
        printf("%s policy %s %s role %s.\n", attach ? "Attached" : "Detached", cli->pos[2],
               attach ? "to" : "from", cli->pos[1]);
    return rc;
}

/* lifecycle run [--now TIME]: one lifecycle pass as of TIME (default: the server's clock). */
static int cmd_lifecycle_run(struct admin_cli *cli, const struct admin_cmd *cmd)
{
    static const char *const keys[] = {
        "buckets",        "scanned", "expired", "noncurrentExpired", "deleteMarkersRemoved",
        "uploadsAborted", "skipped", "errors"};
    const char *segs[] = {"lifecycle", "run"};
    json_t *res = NULL;
    json_t *body = cli->opt[10] != NULL ? json_pack("{s:s}", "now", cli->opt[10]) : json_object();
    int rc = request_obj(cli, "POST", segs, 2, body, cli->json ? NULL : &res);
    (void)cmd;
    if (rc == ADMIN_EXIT_OK && res != NULL) {
        printf("Lifecycle pass as of %s:\n", jstr(res, "now"));
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            printf("  %-21s %" JSON_INTEGER_FORMAT "\n", keys[i],
                   json_integer_value(json_object_get(res, keys[i])));
    }
    json_decref(res);
    return rc;
}

/* ---- service accounts ---- */

static const char *const svc_fields[] = {
    "AccessKey:accessKey",     "Parent:parent", "ParentType:parentType", "Name:name",
    "Description:description", "Status:status", "Expiration:expiration", NULL};

static void show_svc(json_t *res)
{
    char *pol = json_dumps(json_object_get(res, "policy"), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!json_is_string(json_object_get(res, "expiration")))
        json_object_set_new(res, "expiration", json_string("never"));
    show_fields(res, svc_fields);
    if (pol != NULL)
        printf("Policy:\n%s\n", pol);
    else
        printf("Policy:      implied (the parent's)\n");
    free(pol);
}

static void show_svc_new(json_t *res)
{
    printf("Access key:  %s\nSecret key:  %s\n", jstr(res, "accessKey"), jstr(res, "secretKey"));
    printf("Parent:      %s\n", jstr(res, "parent"));
    printf("Expiration:  %s\n",
           json_is_string(json_object_get(res, "expiration")) ? jstr(res, "expiration") : "never");
    printf("The secret key is shown only now: keep it.\n");
}

/* One line per account of res. */
static void show_svcs(json_t *res)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(res, "accounts"), i, a)
    {
        printf("%-9s %-22s %-24s %-20s %s\n", jstr(a, "status"), jstr(a, "accessKey"),
               json_is_string(json_object_get(a, "expiration")) ? jstr(a, "expiration") : "never",
               jstr(a, "name")[0] ? jstr(a, "name") : "-", jstr(a, "parent"));
    }
}

/* svcacct list [PARENT]: every account the caller may see, or those of PARENT (a user name or
 * an LDAP DN: the server normalises a DN as its logins do). */
static int cmd_svc_list(struct admin_cli *cli, const struct admin_cmd *cmd)
{
    const char *segs[] = {"svcaccts"};
    char *enc = NULL, *query = NULL;
    json_t *res = NULL;
    int rc;

    (void)cmd;
    if (cli->npos > 0 && ((enc = enc_uri_encode(cli->pos[0], strlen(cli->pos[0]), false)) == NULL ||
                          asprintf(&query, "parent=%s", enc) < 0)) {
        free(enc);
        errf("out of memory");
        return ADMIN_EXIT_ERR;
    }
    cli->query = query;
    rc = request(cli, "GET", segs, 1, NULL, 0, cli->json ? NULL : &res);
    cli->query = NULL;
    if (rc == ADMIN_EXIT_OK && res != NULL)
        show_svcs(res);
    json_decref(res);
    free(query);
    free(enc);
    return rc;
}

/* The body of svcacct add|edit from the options (NULL after a message). */
static json_t *svc_body(struct admin_cli *cli, bool add)
{
    static const char *const keys[NOPTS] = {[3] = "accessKey",
                                            [5] = "secretKey",
                                            [7] = "name",
                                            [8] = "description",
                                            [9] = "expiration"};
    json_t *o = json_object();

    if (add && cli->npos > 0)
        json_object_set_new(o, "parent", json_string(cli->pos[0]));
    for (int i = 0; i < NOPTS; i++)
        if (keys[i] != NULL && cli->opt[i] != NULL)
            json_object_set_new(o, keys[i],
                                i == 9 && strcmp(cli->opt[i], "none") == 0
                                    ? json_null()
                                    : json_string(cli->opt[i]));
    if (cli->opt[6] != NULL && strcmp(cli->opt[6], "none") == 0) {
        json_object_set_new(o, "policy", json_null());
    } else if (cli->opt[6] != NULL) {
        size_t len = 0;
        char *doc = read_file(cli->opt[6], &len);
        if (doc == NULL) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "policy", json_stringn(doc, len));
        free(doc);
    }
    return o;
}

/* svcacct add [PARENT] ... (POST svcaccts) | svcacct edit AK ... (POST svcaccts/AK) */
static int cmd_svc_write(struct admin_cli *cli, const struct admin_cmd *cmd)
{
    bool add = strcmp(cmd->verb, "add") == 0;
    const char *segs[2] = {"svcaccts", add ? NULL : cli->pos[0]};
    json_t *body = svc_body(cli, add), *res = NULL;
    int rc;

    if (body == NULL)
        return ADMIN_EXIT_ERR;
    if (add && cli->opt[3] != NULL && cli->opt[5] == NULL)
        fputs("tessera: --access-key without --secret-key: the server generates the secret\n",
              stderr);
    rc = request_obj(cli, "POST", segs, add ? 1 : 2, body, cli->json ? NULL : &res);
    if (rc == ADMIN_EXIT_OK && res != NULL && cmd->show != NULL)
        cmd->show(res);
    json_decref(res);
    return done(cli, cmd, rc, add ? "" : cli->pos[0]);
}

/* clang-format off */
static const struct admin_cmd admin_cmds[] = {
    {"user", "add", "NAME SECRET", 2, 2, 0, cmd_secret, "PUT", "users", NULL, "Added user", NULL},
    {"user", "set-secret", "NAME SECRET", 2, 2, 0, cmd_secret, "PUT", "users", "secret",
     "Set a new secret for user", NULL},
    {"user", "remove", "NAME", 1, 1, 0, cmd_plain, "DELETE", "users", NULL, "Removed user", NULL},
    {"user", "enable", "NAME", 1, 1, 0, cmd_plain, "POST", "users", "enable", "Enabled user", NULL},
    {"user", "disable", "NAME", 1, 1, 0, cmd_plain, "POST", "users", "disable", "Disabled user",
     NULL},
    {"user", "info", "NAME", 1, 1, 0, cmd_plain, "GET", "users", NULL, NULL, show_user},
    {"user", "list", "", 0, 0, 0, cmd_plain, "GET", "users", NULL, NULL, show_users},
    {"group", "add", "GROUP [MEMBER...]   (no members: an empty group)", 1, -1, 0, cmd_members, NULL, NULL, NULL, NULL, NULL},
    {"group", "remove", "GROUP [MEMBER...]", 1, -1, 0, cmd_members, NULL, NULL, NULL,
     "Removed group", NULL},
    {"group", "list", "", 0, 0, 0, cmd_plain, "GET", "groups", NULL, NULL, show_groups},
    {"group", "info", "GROUP", 1, 1, 0, cmd_plain, "GET", "groups", NULL, NULL, show_group},
    {"policy", "create", "NAME FILE          (FILE \"-\" reads stdin)", 2, 2, 0, cmd_document,
     "PUT", "policies", NULL, "Created policy", NULL},
    {"policy", "remove", "NAME", 1, 1, 0, cmd_plain, "DELETE", "policies", NULL, "Removed policy",
     NULL},
    {"policy", "info", "NAME", 1, 1, 0, cmd_plain, "GET", "policies", NULL, NULL, show_policy},
    {"policy", "list", "", 0, 0, 0, cmd_plain, "GET", "policies", NULL, NULL, show_policies},
    {"policy", "attach", "NAME --user U | --group G | --dn DN", 1, 1, O_USER | O_GROUP | O_DN | O_ONE,
     cmd_attach, NULL, NULL, NULL, NULL, NULL},
    {"policy", "detach", "NAME --user U | --group G | --dn DN", 1, 1, O_USER | O_GROUP | O_DN | O_ONE,
     cmd_attach, NULL, NULL, NULL, NULL, NULL},
    {"sts", "revoke", "--user U | --access-key AK", 0, 0, O_USER | O_AK | O_ONE, cmd_revoke, NULL, NULL,
     NULL, NULL, NULL},
    {"sts", "rotate-key", "", 0, 0, 0, cmd_plain, "POST", "sts", "rotate-key", NULL, show_key},
    {"cluster", "status", "", 0, 0, 0, cmd_plain, "GET", "cluster", "status", NULL, show_cluster},
    {"lifecycle", "run", "[--now TIME]   (one pass of the buckets' lifecycle rules as of TIME, RFC 3339; default: now)", 0, 0, O_NOW, cmd_lifecycle_run, NULL, NULL, NULL, NULL, NULL},
    {"role", "create", "NAME --trust FILE   (an IAM trust policy; see docs/API.md)", 1, 1,
     O_TRUST, cmd_document, "PUT", "roles", NULL, "Created", NULL},
    {"role", "trust", "NAME --trust FILE    (replaces the trust policy)", 1, 1, O_TRUST,
     cmd_document, "PUT", "roles", "trust", "Updated the trust policy of", NULL},
    {"role", "info", "NAME", 1, 1, 0, cmd_plain, "GET", "roles", NULL, NULL, show_role},
    {"role", "remove", "NAME", 1, 1, 0, cmd_plain, "DELETE", "roles", NULL, "Removed role", NULL},
    {"role", "list", "", 0, 0, 0, cmd_plain, "GET", "roles", NULL, NULL, show_roles},
    {"role", "policy", "attach|detach ROLE POLICY", 3, 3, 0, cmd_role_policy, NULL, NULL, NULL,
     NULL, NULL},
    {"svcacct", "add", "[PARENT] [--access-key AK] [--secret-key SK] [--policy FILE] [--name N] [--description D] [--expiry TIME]   (PARENT: a user or an LDAP DN; none: your own)",
     0, 1, O_AK | O_SK | O_POLICY | O_NAME | O_DESC | O_EXPIRY, cmd_svc_write, "POST", "svcaccts", NULL, NULL, show_svc_new},
    {"svcacct", "list", "[PARENT]   (a user or an LDAP DN)", 0, 1, 0, cmd_svc_list, "GET", "svcaccts", NULL, NULL, show_svcs},
    {"svcacct", "info", "ACCESS_KEY", 1, 1, 0, cmd_plain, "GET", "svcaccts", NULL, NULL, show_svc},
    {"svcacct", "edit", "ACCESS_KEY [--secret-key SK] [--policy FILE|none] [--name N] [--description D] [--expiry TIME|none]",
     1, 1, O_SK | O_POLICY | O_NAME | O_DESC | O_EXPIRY, cmd_svc_write, "POST", "svcaccts", NULL, "Edited service account", NULL},
    {"svcacct", "remove", "ACCESS_KEY", 1, 1, 0, cmd_plain, "DELETE", "svcaccts", NULL, "Removed service account", NULL},
    {"svcacct", "enable", "ACCESS_KEY", 1, 1, 0, cmd_plain, "POST", "svcaccts", "enable", "Enabled service account", NULL},
    {"svcacct", "disable", "ACCESS_KEY", 1, 1, 0, cmd_plain, "POST", "svcaccts", "disable", "Disabled service account", NULL},
};
/* clang-format on */
#define NCMDS (sizeof(admin_cmds) / sizeof(admin_cmds[0]))

/* Prints the synopsis of the commands of group (NULL: all) or of cmd alone. */
static void print_usage(FILE *f, const char *group, const struct admin_cmd *cmd)
{
    fputs(usage_head, f);
    for (size_t k = 0; k < NCMDS; k++) {
        const struct admin_cmd *c = &admin_cmds[k];
        if ((cmd == NULL || c == cmd) && (group == NULL || strcmp(group, c->group) == 0))
            fprintf(f, "  %s %s%s%s\n", c->group, c->verb, c->args[0] != '\0' ? " " : "", c->args);
    }
    fputs(usage_tail, f);
}

static int usage_error(const char *why, const char *group, const struct admin_cmd *cmd)
{
    if (why != NULL)
        errf("%s", why);
    print_usage(stderr, group, cmd);
    return ADMIN_EXIT_USAGE;
}

static const struct admin_cmd *find_cmd(const char *group, const char *verb)
{
    for (size_t k = 0; k < NCMDS; k++)
        if (strcmp(admin_cmds[k].group, group) == 0 && strcmp(admin_cmds[k].verb, verb) == 0)
            return &admin_cmds[k];
    return NULL;
}

static bool known_group(const char *group)
{
    for (size_t k = 0; k < NCMDS; k++)
        if (strcmp(admin_cmds[k].group, group) == 0)
            return true;
    return false;
}

/* Parses the options and arguments of cmd (argv[0] is its verb) into cli. 0 to run it; else
 * the exit status (--help: 0 after the usage on stdout, reported through *help). */
static int parse_cmd(struct admin_cli *cli, const struct admin_cmd *cmd, int argc, char **argv,
                     bool *help)
{
    /* --NAME VALUE for bit i of cmd->opts (O_USER...), into cli->opt[i]; then --help. */
    static const char *const names[NOPTS] = {"user",        "group",      "dn",     "access-key",
                                             "trust",       "secret-key", "policy", "name",
                                             "description", "expiry",     "now"};
    struct option opts[NOPTS + 2] = {{"help", no_argument, NULL, 'h'}}; /* zero-terminated */
    int c;

    for (int i = 0; i < NOPTS; i++)
        opts[i + 1] = (struct option){names[i], required_argument, NULL, 1 << i};

    optind = 0; /* GNU: a full reset; argv[0] is skipped */
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            print_usage(stdout, cmd->group, cmd);
            *help = true;
            return ADMIN_EXIT_OK;
        }
        if (c == '?' || c == ':' || !(cmd->opts & (unsigned)c)) {
            errf("%s %s", c == ':' ? "a value is missing after" : "unknown option",
                 argv[optind - 1]);
            return usage_error(NULL, cmd->group, cmd);
        }
        for (int i = 0; i < NOPTS; i++)
            if ((unsigned)c == 1u << i)
                cli->opt[i] = optarg;
        cli->given |= (unsigned)c;
    }
    cli->pos = argv + optind;
    cli->npos = argc - optind;
    if (cli->npos < cmd->min || (cmd->max >= 0 && cli->npos > cmd->max) ||
        ((cmd->opts & O_ONE) && one_target(cli, cmd) < 0) ||
        ((cmd->opts & O_TRUST) && cli->opt[4] == NULL))
        return usage_error("wrong arguments", cmd->group, cmd);
    return 0;
}

/* Parses the global options into cli; *first is the index of the command's first word. 0 to
 * go on, else the exit status (--help: 0 after the usage, with *help). */
static int parse_global(struct admin_cli *cli, int argc, char **argv, int *first, bool *help)
{
    enum { G_ENDPOINT = 1, G_AK, G_SK, G_JSON, G_DATA };
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, G_ENDPOINT},
        {"data-dir", required_argument, NULL, G_DATA},
        {"access-key", required_argument, NULL, G_AK},
        {"secret-key", required_argument, NULL, G_SK},
        {"json", no_argument, NULL, G_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *env = getenv("TESSERA_ENDPOINT");
    int c;

    cli->endpoint = env != NULL && env[0] != '\0' ? env : "http://127.0.0.1:9000";
    cli->access_key = getenv("TESSERA_ACCESS_KEY");
    cli->secret_key = getenv("TESSERA_SECRET_KEY");
    cli->data_dir = getenv("TESSERA_DATA_DIR");
    optind = 0;
    opterr = 0;
    /* '+': options end at the first command word; the command's own options follow it */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (c == 'h') {
            print_usage(stdout, NULL, NULL);
            *help = true;
            return ADMIN_EXIT_OK;
        } else if (c == G_ENDPOINT) {
            cli->endpoint = optarg;
        } else if (c == G_AK) {
            cli->access_key = optarg;
        } else if (c == G_SK) {
            cli->secret_key = optarg;
        } else if (c == G_JSON) {
            cli->json = true;
        } else if (c == G_DATA) {
            cli->data_dir = optarg;
        } else {
            errf("%s %s", c == ':' ? "a value is missing after" : "unknown option",
                 argv[optind - 1]);
            return usage_error(NULL, NULL, NULL);
        }
    }
    *first = optind;
    if (optind >= argc)
        return usage_error(NULL, NULL, NULL);
    if (strncmp(cli->endpoint, "http://", 7) != 0 && strncmp(cli->endpoint, "https://", 8) != 0)
        return usage_error("the endpoint must be an http:// or https:// URL", NULL, NULL);
    return 0;
}

/* The command named by argv[0] (group) and argv[1] (verb); NULL with *rc the exit status
 * when there is none (`GROUP --help` prints the group's usage: 0). */
static const struct admin_cmd *lookup(int argc, char **argv, int *rc)
{
    const char *group = argv[0], *verb = argc > 1 ? argv[1] : "";
    const struct admin_cmd *cmd;

    if (!known_group(group)) {
        errf("unknown command %s", group);
        *rc = usage_error(NULL, NULL, NULL);
        return NULL;
    }
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        print_usage(stdout, group, NULL);
        *rc = ADMIN_EXIT_OK;
        return NULL;
    }
    if ((cmd = find_cmd(group, verb)) == NULL) {
        errf("unknown %s command%s%s", group, verb[0] != '\0' ? " " : "", verb);
        *rc = usage_error(NULL, group, NULL);
    }
    return cmd;
}

static bool set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* The root credentials the server generated in DIR/.tessera/root.json. 0, or the exit status
 * after a message. */
static int root_json_credentials(struct admin_cli *cli)
{
    char path[4200];
    json_error_t jerr;
    json_t *j;
    const char *u, *p;
    int rc = ADMIN_EXIT_ERR;

    snprintf(path, sizeof path, "%s/.tessera/root.json", cli->data_dir);
    if ((j = json_load_file(path, 0, &jerr)) == NULL) {
        errf("no credentials: cannot read %s: %s (the server writes it only when "
             "TESSERA_ROOT_USER is not set; it is readable only by the server's user)",
             path, jerr.text);
        return ADMIN_EXIT_USAGE;
    }
    u = json_string_value(json_object_get(j, "user"));
    p = json_string_value(json_object_get(j, "password"));
    if (u == NULL || p == NULL || strlen(u) >= sizeof cli->root_ak ||
        strlen(p) >= sizeof cli->root_sk) {
        errf("%s is damaged: no \"user\" and \"password\"", path);
    } else {
        snprintf(cli->root_ak, sizeof cli->root_ak, "%s", u);
        snprintf(cli->root_sk, sizeof cli->root_sk, "%s", p);
        cli->access_key = cli->root_ak;
        cli->secret_key = cli->root_sk;
        fprintf(stderr, "tessera: using the root credentials in %s\n", path);
        rc = 0;
    }
    json_decref(j);
    return rc;
}

/* The README quick start's data directory, relative to the working directory. */
#define QUICK_START_DATA_DIR "./data"
#define QUICK_START_ROOT_JSON QUICK_START_DATA_DIR "/.tessera/root.json"

/*
 * The credentials, the first source found: --access-key/--secret-key or TESSERA_ACCESS_KEY/
 * TESSERA_SECRET_KEY (already in cli); else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and
 * AWS_SESSION_TOKEN); else DATA_DIR/.tessera/root.json with --data-dir or TESSERA_DATA_DIR;
 * else ./data/.tessera/root.json when it is readable. A fallback source is named on stderr.
 * 0, or the exit status after a message.
 */
static int find_credentials(struct admin_cli *cli)
{
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");

    if (set(cli->access_key) && set(cli->secret_key))
        return 0;
    if (!set(cli->access_key) && !set(cli->secret_key)) {
        if (set(ak) && set(sk)) {
            cli->access_key = ak;
            cli->secret_key = sk;
            cli->session_token =
                set(getenv("AWS_SESSION_TOKEN")) ? getenv("AWS_SESSION_TOKEN") : NULL;
            fputs("tessera: using the credentials in AWS_ACCESS_KEY_ID and "
                  "AWS_SECRET_ACCESS_KEY\n",
                  stderr);
            return 0;
        }
        if (set(cli->data_dir))
            return root_json_credentials(cli);
        if (access(QUICK_START_ROOT_JSON, R_OK) == 0) { /* README's quick start: ./data */
            cli->data_dir = QUICK_START_DATA_DIR;
            return root_json_credentials(cli);
        }
    }
    errf("no credentials: set TESSERA_ACCESS_KEY and TESSERA_SECRET_KEY (or AWS_ACCESS_KEY_ID "
         "and AWS_SECRET_ACCESS_KEY), give --access-key and --secret-key, or, on the server's "
         "machine, --data-dir DATA_DIR to use the root credentials it generated "
         "(" QUICK_START_ROOT_JSON " is used when it exists)");
    return ADMIN_EXIT_USAGE;
}

int admin_main(int argc, char **argv)
{
    struct admin_cli cli = {0};
    const struct admin_cmd *cmd;
    bool help = false;
    int first = 0, rc;

    if (argc > 1 && strcmp(argv[1], "admin") == 0) { /* a whole argv: tessera admin ... */
        argc--;
        argv++;
    }
    if ((rc = parse_global(&cli, argc, argv, &first, &help)) != 0 || help)
        return rc;
    if ((cmd = lookup(argc - first, argv + first, &rc)) == NULL)
        return rc;
    if ((rc = parse_cmd(&cli, cmd, argc - first - 1, argv + first + 1, &help)) != 0 || help)
        return rc;
    if ((rc = find_credentials(&cli)) != 0)
        return rc;
    if (curlx_global_init() != 0) {
        errf("cannot initialise libcurl");
        return ADMIN_EXIT_ERR;
    }
    rc = cmd->run(&cli, cmd);
    fflush(stdout);
    explicit_bzero(cli.root_sk, sizeof cli.root_sk);
    return rc;
}
