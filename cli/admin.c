/* admin.c -- `tessera admin ...`: the command-line client of the admin API.
 *
 * Each command is one HTTP request to /tessera/admin/v1/... made with libcurl, signed with
 * SigV4 by libcurl itself (CURLOPT_AWS_SIGV4, service s3, region us-east-1). libcurl 7.88 does
 * not send x-amz-content-sha256, so we compute the payload hash and send the header: it is
 * then signed too, and the server checks the body against it as for any S3 request.
 * Commands are a table (admin_cmds[]) after the redis command table; each builds the request
 * and renders the JSON answer for humans, or prints it as received with --json.
 */
#include "cli/clihttp.h"
#include "cli/admin.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/enc.h"

#define ADMIN_PREFIX "/tessera/admin/v1"
#define ADMIN_RESP_MAX (16 * 1024 * 1024)
#define ADMIN_FILE_MAX (1024 * 1024)
#define ADMIN_EXIT_OK 0
#define ADMIN_EXIT_ERR 1
#define ADMIN_EXIT_USAGE 2

struct admin_cli {
    const char *endpoint;
    const char *access_key;
    const char *secret_key;
    bool json;
    int argc; /* the command's words: argv[0] is "user", "group", ... */
    char **argv;
};

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

static const char usage_text[] =
    "usage: tessera admin [--endpoint URL] [--access-key AK] [--secret-key SK] [--json] COMMAND\n"
    "commands:\n"
    "  user add NAME SECRET              (a new user only)\n"
    "  user set-secret NAME SECRET       (an existing user's new secret)\n"
    "  user remove|enable|disable|info NAME\n"
    "  user list\n"
    "  group add GROUP MEMBER...\n"
    "  group remove GROUP [MEMBER...]\n"
    "  group list\n"
    "  group info GROUP\n"
    "  policy create NAME FILE\n"
    "  policy remove|info NAME\n"
    "  policy list\n"
    "  policy attach|detach NAME --user U | --group G | --dn DN\n"
    "  sts revoke --user U | --access-key AK\n"
    "  sts rotate-key\n"
    "  role create NAME --trust FILE     (trust FILE: an IAM trust policy; see docs/API.md)\n"
    "  role trust NAME --trust FILE      (replaces the trust policy)\n"
    "  role info|remove NAME\n"
    "  role list\n"
    "  role policy attach|detach ROLE POLICY\n"
    "environment: TESSERA_ENDPOINT (default http://127.0.0.1:9000), TESSERA_ACCESS_KEY,\n"
    "  TESSERA_SECRET_KEY, TESSERA_CA_FILE (extra trusted CAs for https)\n";

static int usage(const char *why)
{
    if (why != NULL)
        errf("%s", why);
    fputs(usage_text, stderr);
    return ADMIN_EXIT_USAGE;
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

/*
 * Sends METHOD to /tessera/admin/v1/<segs...> with an optional JSON body. On success (2xx)
 * *out (optional) owns the parsed JSON answer, and with --json the raw answer is printed.
 * Returns an exit status; on failure the reason is already on stderr.
 */
static int request(struct admin_cli *cli, const char *method, const char *const *segs, size_t nseg,
                   const char *body, size_t blen, json_t **out)
{
    struct curl_slist *hdrs = NULL;
    struct buf url, resp, hh;
    uint8_t digest[32];
    char hex[65];
    long status = 0;
    CURL *h = NULL;
    CURLcode cc;
    int rc = ADMIN_EXIT_ERR;
    size_t elen = strlen(cli->endpoint);

    buf_init(&url, 16384);
    buf_init(&resp, ADMIN_RESP_MAX);
    buf_init(&hh, 256);
    for (size_t i = 1; i < nseg; i++) {
        /* names travel as one path segment; the server splits on '/' after decoding */
        if (strchr(segs[i], '/') != NULL || segs[i][0] == '\0') {
            errf("InvalidArgument: invalid name \"%s\": names are non-empty and cannot "
                 "contain '/'",
                 segs[i]);
            goto out;
        }
    }
    while (elen > 0 && cli->endpoint[elen - 1] == '/')
        elen--;
    buf_add(&url, cli->endpoint, elen);
    buf_adds(&url, ADMIN_PREFIX);
    for (size_t i = 0; i < nseg; i++)
        add_segment(&url, segs[i]);
    enc_sha256(body != NULL ? body : "", body != NULL ? blen : 0, digest);
    enc_hex(digest, sizeof(digest), hex);
    buf_addf(&hh, "x-amz-content-sha256: %s", hex);
    if (buf_failed(&url) || buf_failed(&hh)) {
        errf("out of memory");
        goto out;
    }
    hdrs = curl_slist_append(hdrs, buf_str(&hh));
    /* no "Expect:" override: libcurl 7.88 would sign the suppressed header. Bodies here stay
     * below libcurl's 1 MiB threshold for Expect: 100-continue anyway. */
    if (body != NULL)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    h = curl_easy_init();
    if (h == NULL || hdrs == NULL) {
        errf("cannot initialise libcurl");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, buf_str(&url));
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? blen : 0));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
    curl_easy_setopt(h, CURLOPT_USERNAME, cli->access_key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, cli->secret_key);
    clihttp_defaults(h, "tessera-admin/1", 120L, &resp);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        errf("%s %.*s: %s", method, (int)elen, cli->endpoint, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (buf_failed(&resp)) {
        errf("the server's answer is too large");
        goto out;
    }
    if (status < 200 || status > 299) {
        print_server_error(status, buf_str(&resp), buf_len(&resp));
        goto out;
    }
    if (cli->json) {
        fwrite(buf_str(&resp), 1, buf_len(&resp), stdout);
        if (buf_len(&resp) == 0 || buf_str(&resp)[buf_len(&resp) - 1] != '\n')
            fputc('\n', stdout);
    }
    if (out != NULL) {
        json_error_t jerr;
        *out = json_loadb(buf_str(&resp), buf_len(&resp), 0, &jerr);
        if (*out == NULL) {
            errf("the server's answer is not JSON: %s", jerr.text);
            goto out;
        }
    }
    rc = ADMIN_EXIT_OK;
out:
    if (h != NULL)
        curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    buf_free(&url);
    buf_free(&resp);
    buf_free(&hh);
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

/* Joins the strings of a JSON array with ", " ("-" when empty) into a static-size buffer. */
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

/* ---- commands ---- */

static int cmd_user(struct admin_cli *cli)
{
    const char *sub = cli->argc > 1 ? cli->argv[1] : "";
    json_t *res = NULL;
    char list[4096], list2[4096];
    int rc;

    if (strcmp(sub, "list") == 0) {
        const char *segs[] = {"users"};
        size_t i;
        json_t *u;
        if (cli->argc != 2)
            return usage("user list takes no arguments");
        rc = request(cli, "GET", segs, 1, NULL, 0, cli->json ? NULL : &res);
        if (rc != ADMIN_EXIT_OK || cli->json)
            return rc;
        json_array_foreach(json_object_get(res, "users"), i, u)
        {
            printf("%-9s %-24s %s\n", jstr(u, "status"), jstr(u, "accessKey"),
                   join(json_object_get(u, "policies"), list, sizeof(list)));
        }
        json_decref(res);
        return ADMIN_EXIT_OK;
    }
    if (strcmp(sub, "add") == 0) {
        const char *segs[2] = {"users", NULL};
        if (cli->argc != 4)
            return usage("user add NAME SECRET");
        segs[1] = cli->argv[2];
        rc = request_obj(cli, "PUT", segs, 2, json_pack("{s:s}", "secretKey", cli->argv[3]), NULL);
        if (rc == ADMIN_EXIT_OK && !cli->json)
            printf("Added user %s.\n", cli->argv[2]);
        return rc;
    }
    if (strcmp(sub, "set-secret") == 0) {
        const char *segs[3] = {"users", NULL, "secret"};
        if (cli->argc != 4)
            return usage("user set-secret NAME SECRET");
        segs[1] = cli->argv[2];
        rc = request_obj(cli, "PUT", segs, 3, json_pack("{s:s}", "secretKey", cli->argv[3]), NULL);
        if (rc == ADMIN_EXIT_OK && !cli->json)
            printf("Set a new secret for user %s.\n", cli->argv[2]);
        return rc;
    }
    if (strcmp(sub, "remove") == 0 || strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0 ||
        strcmp(sub, "info") == 0) {
        const char *segs[3] = {"users", NULL, NULL};
        if (cli->argc != 3)
            return usage("user remove|enable|disable|info NAME");
        segs[1] = cli->argv[2];
        if (strcmp(sub, "remove") == 0) {
            rc = request(cli, "DELETE", segs, 2, NULL, 0, NULL);
            if (rc == ADMIN_EXIT_OK && !cli->json)
                printf("Removed user %s.\n", segs[1]);
            return rc;
        }
        if (strcmp(sub, "info") == 0) {
            rc = request(cli, "GET", segs, 2, NULL, 0, cli->json ? NULL : &res);
            if (rc != ADMIN_EXIT_OK || cli->json)
                return rc;
            printf("AccessKey: %s\nStatus:    %s\nPolicies:  %s\nGroups:    %s\n",
                   jstr(res, "accessKey"), jstr(res, "status"),
                   join(json_object_get(res, "policies"), list, sizeof(list)),
                   join(json_object_get(res, "groups"), list2, sizeof(list2)));
            json_decref(res);
            return ADMIN_EXIT_OK;
        }
        segs[2] = sub;
        rc = request(cli, "POST", segs, 3, NULL, 0, NULL);
        if (rc == ADMIN_EXIT_OK && !cli->json)
            printf("%s user %s.\n", strcmp(sub, "enable") == 0 ? "Enabled" : "Disabled", segs[1]);
        return rc;
    }
    return usage("unknown user command");
}

/* A {"members":[...]} object from words. */
static json_t *members_obj(char **words, int n)
{
    json_t *arr = json_array();
    for (int i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr, json_string(words[i]));
    return arr != NULL ? json_pack("{s:o}", "members", arr) : NULL;
}

static int cmd_group(struct admin_cli *cli)
{
    const char *sub = cli->argc > 1 ? cli->argv[1] : "";
    const char *segs[3] = {"groups", NULL, NULL};
    char list[4096], list2[4096];
    json_t *res = NULL;
    size_t i;
    json_t *g;
    int rc;

    if (strcmp(sub, "list") == 0) {
        if (cli->argc != 2)
            return usage("group list takes no arguments");
        rc = request(cli, "GET", segs, 1, NULL, 0, cli->json ? NULL : &res);
        if (rc != ADMIN_EXIT_OK || cli->json)
            return rc;
        json_array_foreach(json_object_get(res, "groups"), i, g)
        {
            printf("%s\n", json_string_value(g) != NULL ? json_string_value(g) : "");
        }
        json_decref(res);
        return ADMIN_EXIT_OK;
    }
    if (strcmp(sub, "info") == 0) {
        if (cli->argc != 3)
            return usage("group info GROUP");
        segs[1] = cli->argv[2];
        rc = request(cli, "GET", segs, 2, NULL, 0, cli->json ? NULL : &res);
        if (rc != ADMIN_EXIT_OK || cli->json)
            return rc;
        printf("Group:    %s\nStatus:   %s\nPolicies: %s\nMembers:  %s\n", jstr(res, "name"),
               jstr(res, "status"), join(json_object_get(res, "policies"), list, sizeof(list)),
               join(json_object_get(res, "members"), list2, sizeof(list2)));
        json_decref(res);
        return ADMIN_EXIT_OK;
    }
    if (strcmp(sub, "add") == 0) {
        if (cli->argc < 4)
            return usage("group add GROUP MEMBER...");
        segs[1] = cli->argv[2];
        segs[2] = "add-members";
        rc = request_obj(cli, "POST", segs, 3, members_obj(cli->argv + 3, cli->argc - 3), NULL);
        if (rc == ADMIN_EXIT_OK && !cli->json)
            printf("Added %d member%s to group %s.\n", cli->argc - 3, cli->argc > 4 ? "s" : "",
                   segs[1]);
        return rc;
    }
    if (strcmp(sub, "remove") == 0) {
        if (cli->argc < 3)
            return usage("group remove GROUP [MEMBER...]");
        segs[1] = cli->argv[2];
        if (cli->argc == 3) {
            rc = request(cli, "DELETE", segs, 2, NULL, 0, NULL);
            if (rc == ADMIN_EXIT_OK && !cli->json)
                printf("Removed group %s.\n", segs[1]);
            return rc;
        }
        segs[2] = "remove-members";
        rc = request_obj(cli, "POST", segs, 3, members_obj(cli->argv + 3, cli->argc - 3), NULL);
        if (rc == ADMIN_EXIT_OK && !cli->json)
            printf("Removed %d member%s from group %s.\n", cli->argc - 3, cli->argc > 4 ? "s" : "",
                   segs[1]);
        return rc;
    }
    return usage("unknown group command");
}

/* Reads a whole file ("-" is stdin) into a malloc'ed NUL-terminated buffer; NULL with errno
 * set on failure. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    struct buf b;
    char chunk[8192];
    bool failed = false;
    size_t n;
    char *out;

    if (f == NULL)
        return NULL;
    buf_init(&b, ADMIN_FILE_MAX);
    buf_adds(&b, ""); /* allocate, so that an empty file gives "" */
    while (!failed && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (buf_add(&b, chunk, n) != 0) {
            failed = true;
            errno = EFBIG;
        }
    if (!failed && ferror(f)) {
        failed = true;
        errno = EIO;
    }
    if (f != stdin)
        fclose(f);
    out = failed ? NULL : buf_take(&b, len);
    buf_free(&b);
    if (!failed && out == NULL)
        errno = ENOMEM;
    return out;
}

static int cmd_policy(struct admin_cli *cli)
{
    const char *sub = cli->argc > 1 ? cli->argv[1] : "";
    const char *segs[3] = {"policies", NULL, NULL};
    json_t *res = NULL;
    size_t i;
    json_t *p;
    int rc;

    if (strcmp(sub, "list") == 0) {
        if (cli->argc != 2)
            return usage("policy list takes no arguments");
        rc = request(cli, "GET", segs, 1, NULL, 0, cli->json ? NULL : &res);
        if (rc != ADMIN_EXIT_OK || cli->json)
            return rc;
        json_array_foreach(json_object_get(res, "policies"), i, p)
        {
            printf("%s\n", jstr(p, "name"));
        }
        json_decref(res);
        return ADMIN_EXIT_OK;
    }
    if (strcmp(sub, "create") == 0) {
        size_t len = 0;
        char *doc;
        if (cli->argc != 4)
            return usage("policy create NAME FILE");
        errno = 0;
        doc = read_file(cli->argv[3], &len);
        if (doc == NULL) {
            errf("cannot read %s: %s", cli->argv[3], strerror(errno != 0 ? errno : EIO));
            return ADMIN_EXIT_ERR;
        }
        segs[1] = cli->argv[2];
        rc = request(cli, "PUT", segs, 2, doc, len, NULL);
        free(doc);
        if (rc == ADMIN_EXIT_OK && !cli->json)
            printf("Created policy %s.\n", segs[1]);
        return rc;
    }
    if (strcmp(sub, "remove") == 0 || strcmp(sub, "info") == 0) {
        if (cli->argc != 3)
            return usage("policy remove|info NAME");
        segs[1] = cli->argv[2];
        if (strcmp(sub, "remove") == 0) {
            rc = request(cli, "DELETE", segs, 2, NULL, 0, NULL);
            if (rc == ADMIN_EXIT_OK && !cli->json)
                printf("Removed policy %s.\n", segs[1]);
            return rc;
        }
        rc = request(cli, "GET", segs, 2, NULL, 0, cli->json ? NULL : &res);
        if (rc != ADMIN_EXIT_OK || cli->json)
            return rc;
        char *s = json_dumps(json_object_get(res, "policy"), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s != NULL ? s : "");
        free(s);
        json_decref(res);
        return ADMIN_EXIT_OK;
    }
    if (strcmp(sub, "attach") == 0 || strcmp(sub, "detach") == 0) {
        bool attach = strcmp(sub, "attach") == 0;
        const char *key = NULL, *target = NULL, *what = NULL;
        if (cli->argc != 5)
            return usage("policy attach|detach NAME --user U | --group G | --dn DN");
        if (strcmp(cli->argv[3], "--user") == 0)
            key = "user", what = "user";
        else if (strcmp(cli->argv[3], "--group") == 0)
            key = "group", what = "group";
        else if (strcmp(cli->argv[3], "--dn") == 0)
            key = "dn", what = "DN";
        else
            return usage("policy attach|detach NAME --user U | --group G | --dn DN");
        target = cli->argv[4];
        segs[1] = cli->argv[2];
        segs[2] = sub;
        rc = request_obj(cli, "POST", segs, 3, json_pack("{s:s}", key, target),
                         cli->json ? NULL : &res);
        if (rc != ADMIN_EXIT_OK || cli->json)
            return rc;
        /* the server's spelling: DNs come back normalised */
        if (json_string_value(json_object_get(res, key)) != NULL)
            target = json_string_value(json_object_get(res, key));
        printf("%s policy %s %s %s %s.\n", attach ? "Attached" : "Detached", segs[1],
               attach ? "to" : "from", what, target);
        json_decref(res);
        return ADMIN_EXIT_OK;
    }
    return usage("unknown policy command");
}

static int cmd_sts(struct admin_cli *cli)
{
    const char *sub = cli->argc > 1 ? cli->argv[1] : "";
    json_t *res = NULL;
    int rc;

    if (strcmp(sub, "revoke") == 0) {
        const char *segs[] = {"sts", "revoke"};
        bool user;
        if (cli->argc != 4 ||
            (strcmp(cli->argv[2], "--user") != 0 && strcmp(cli->argv[2], "--access-key") != 0))
            return usage("sts revoke --user U | --access-key AK");
        user = strcmp(cli->argv[2], "--user") == 0;
        rc = request_obj(cli, "POST", segs, 2,
                         json_pack("{s:s}", user ? "user" : "accessKey", cli->argv[3]), NULL);
        if (rc == ADMIN_EXIT_OK && !cli->json) {
            if (user)
                printf("Revoked the temporary credentials of %s.\n", cli->argv[3]);
            else
                printf("Revoked access key %s.\n", cli->argv[3]);
        }
        return rc;
    }
    if (strcmp(sub, "rotate-key") == 0) {
        const char *segs[] = {"sts", "rotate-key"};
        if (cli->argc != 2)
            return usage("sts rotate-key takes no arguments");
        rc = request(cli, "POST", segs, 2, NULL, 0, cli->json ? NULL : &res);
        if (rc != ADMIN_EXIT_OK || cli->json)
            return rc;
        printf("New token key %s is active.\n", jstr(res, "keyId"));
        json_decref(res);
        return ADMIN_EXIT_OK;
    }
    return usage("unknown sts command");
}

/* Reads the trust policy file of `role create|trust NAME --trust FILE`; NULL after a message. */
static char *read_trust(const char *path, size_t *len)
{
    char *doc;
    errno = 0;
    doc = read_file(path, len);
    if (doc == NULL)
        errf("cannot read %s: %s", path, strerror(errno != 0 ? errno : EIO));
    return doc;
}

static int cmd_role(struct admin_cli *cli)
{
    const char *sub = cli->argc > 1 ? cli->argv[1] : "";
    const char *segs[3] = {"roles", NULL, NULL};
    char list[4096];
    json_t *res = NULL, *p;
    size_t i, len = 0;
    char *doc;
    int rc;

    if (strcmp(sub, "list") == 0) {
        if (cli->argc != 2)
            return usage("role list takes no arguments");
        rc = request(cli, "GET", segs, 1, NULL, 0, cli->json ? NULL : &res);
        if (rc != ADMIN_EXIT_OK || cli->json)
            return rc;
        json_array_foreach(json_object_get(res, "roles"), i, p)
        {
            printf("%s\t%s\n", jstr(p, "name"), jstr(p, "arn"));
        }
        json_decref(res);
        return ADMIN_EXIT_OK;
    }
    if (strcmp(sub, "create") == 0 || strcmp(sub, "trust") == 0) {
        bool create = strcmp(sub, "create") == 0;
        if (cli->argc != 5 || strcmp(cli->argv[3], "--trust") != 0)
            return usage(create ? "role create NAME --trust FILE" : "role trust NAME --trust FILE");
        if ((doc = read_trust(cli->argv[4], &len)) == NULL)
            return ADMIN_EXIT_ERR;
        segs[1] = cli->argv[2];
        segs[2] = "trust";
        rc = request(cli, "PUT", segs, create ? 2 : 3, doc, len, cli->json ? NULL : &res);
        free(doc);
        if (rc != ADMIN_EXIT_OK || cli->json)
            return rc;
        printf("%s role %s (%s).\n", create ? "Created" : "Updated the trust policy of", segs[1],
               jstr(res, "arn"));
        json_decref(res);
        return ADMIN_EXIT_OK;
    }
    if (strcmp(sub, "info") == 0 || strcmp(sub, "remove") == 0) {
        if (cli->argc != 3)
            return usage("role info|remove NAME");
        segs[1] = cli->argv[2];
        if (strcmp(sub, "remove") == 0) {
            rc = request(cli, "DELETE", segs, 2, NULL, 0, NULL);
            if (rc == ADMIN_EXIT_OK && !cli->json)
                printf("Removed role %s.\n", segs[1]);
            return rc;
        }
        rc = request(cli, "GET", segs, 2, NULL, 0, cli->json ? NULL : &res);
        if (rc != ADMIN_EXIT_OK || cli->json)
            return rc;
        char *t = json_dumps(json_object_get(res, "trust"), JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("Role:     %s\nArn:      %s\nCreated:  %s\nPolicies: %s\nTrust:\n%s\n",
               jstr(res, "name"), jstr(res, "arn"), jstr(res, "created"),
               join(json_object_get(res, "policies"), list, sizeof(list)), t != NULL ? t : "");
        free(t);
        json_decref(res);
        return ADMIN_EXIT_OK;
    }
    if (strcmp(sub, "policy") == 0) {
        const char *op = cli->argc > 2 ? cli->argv[2] : "";
        bool attach = strcmp(op, "attach") == 0;
        if (cli->argc != 5 || (!attach && strcmp(op, "detach") != 0))
            return usage("role policy attach|detach ROLE POLICY");
        segs[1] = cli->argv[3];
        segs[2] = op;
        rc = request_obj(cli, "POST", segs, 3, json_pack("{s:s}", "policy", cli->argv[4]), NULL);
        if (rc == ADMIN_EXIT_OK && !cli->json)
            printf("%s policy %s %s role %s.\n", attach ? "Attached" : "Detached", cli->argv[4],
                   attach ? "to" : "from", cli->argv[3]);
        return rc;
    }
    return usage("unknown role command");
}

static const struct {
    const char *name;
    int (*fn)(struct admin_cli *cli);
} admin_cmds[] = {
    {"user", cmd_user}, {"group", cmd_group}, {"policy", cmd_policy},
    {"sts", cmd_sts},   {"role", cmd_role},
};

/* Takes the value of --opt VALUE or --opt=VALUE at argv[*i]; NULL when this is not opt. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt, bool *missing)
{
    size_t n = strlen(opt);

    if (strncmp(argv[*i], opt, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

int admin_main(int argc, char **argv)
{
    struct admin_cli cli = {0};
    const char *env;
    bool missing = false;
    int i = 1, rc;

    if (argc > 1 && strcmp(argv[1], "admin") == 0)
        i = 2; /* a whole argv: tessera admin ... */
    env = getenv("TESSERA_ENDPOINT");
    cli.endpoint = env != NULL && env[0] != '\0' ? env : "http://127.0.0.1:9000";
    cli.access_key = getenv("TESSERA_ACCESS_KEY");
    cli.secret_key = getenv("TESSERA_SECRET_KEY");
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *v;
        if (strcmp(argv[i], "--json") == 0)
            cli.json = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return ADMIN_EXIT_OK;
        } else if ((v = opt_value(argc, argv, &i, "--endpoint", &missing)) != NULL)
            cli.endpoint = v;
        else if ((v = opt_value(argc, argv, &i, "--access-key", &missing)) != NULL)
            cli.access_key = v;
        else if ((v = opt_value(argc, argv, &i, "--secret-key", &missing)) != NULL)
            cli.secret_key = v;
        else if (missing)
            return usage("an option needs a value");
        else {
            errf("unknown option %s", argv[i]);
            return usage(NULL);
        }
    }
    if (i >= argc)
        return usage(NULL);
    if (strncmp(cli.endpoint, "http://", 7) != 0 && strncmp(cli.endpoint, "https://", 8) != 0)
        return usage("the endpoint must be an http:// or https:// URL");
    cli.argc = argc - i;
    cli.argv = argv + i;
    for (size_t k = 0; k < sizeof(admin_cmds) / sizeof(admin_cmds[0]); k++) {
        if (strcmp(cli.argv[0], admin_cmds[k].name) != 0)
            continue;
        if (cli.access_key == NULL || cli.access_key[0] == '\0' || cli.secret_key == NULL ||
            cli.secret_key[0] == '\0') {
            errf("no credentials: set TESSERA_ACCESS_KEY and TESSERA_SECRET_KEY, or give "
                 "--access-key and --secret-key");
            return ADMIN_EXIT_USAGE;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = admin_cmds[k].fn(&cli);
        curl_global_cleanup();
        fflush(stdout);
        return rc;
    }
    errf("unknown command %s", cli.argv[0]);
    return usage(NULL);
}
