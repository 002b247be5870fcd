/* test_iam_cas.c -- edits of the IAM store's shared blobs from several processes at once:
 * iam_blob_cas / iam_blob_update (idp/iam.h) and the three callers that read, modify and
 * write blobs back (roles in policy/roles.c, token keys in sts/seal.c, tracked LDAP sessions
 * in ldap/refresh.c). Each concurrent test forks two processes that open their own handle on
 * one LMDB directory and edit at once; nothing either of them wrote may be lost. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/err.h"
#include "idp/iam.h"
#include "ldap/tldap.h"
#include "policy/roles.h"
#include "sts/sts.h"
#include "tests/harness/t.h"

#define EDITS 200

static char dir_tmpl[] = "/tmp/ts_iam_cas_XXXXXX";
static char dir[300];

static const char trust[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                            "\"Principal\":{\"Federated\":\"*\"},\"Action\":\"sts:*\"}]}";

static void subdir(const char *name)
{
    snprintf(dir, sizeof dir, "%s/%s", dir_tmpl, name);
}

/* Runs child(id) in two processes at once, each with its own store handle on dir; true when
 * both exit 0. */
static bool run_two(int (*child)(struct iam_store *st, int id))
{
    pid_t pid[2];
    int status, fails = 0;

    for (int id = 0; id < 2; id++) {
        pid[id] = fork();
        if (pid[id] == 0) {
            struct iam_store *st = NULL;
            int rc = iam_store_open(dir, &st) == TS_OK ? child(st, id) : 99;
            iam_store_close(st);
            _exit(rc);
        }
    }
    for (int id = 0; id < 2; id++)
        if (pid[id] < 0 || waitpid(pid[id], &status, 0) != pid[id] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            fails++;
    return fails == 0;
}

/* ---- the compare-and-swap itself ---- */

struct twice {
    struct iam_store *other; /* a second handle that writes in between */
    int calls;
};

/* Appends "+" to the blob; on its first call another handle changes the blob behind it. */
static int append_edit(const void *old, size_t oldlen, void *arg, void **out, size_t *outlen)
{
    struct twice *t = arg;
    char *s = malloc(oldlen + 2);

    if (t->calls++ == 0 && iam_blob_put(t->other, "cas/b", "xx", 2) != TS_OK) {
        free(s);
        return TS_E_INTERNAL;
    }
    if (s == NULL)
        return TS_E_INTERNAL;
    if (old != NULL)
        memcpy(s, old, oldlen);
    s[oldlen] = '+';
    s[oldlen + 1] = '\0';
    *out = s;
    *outlen = oldlen + 1;
    return TS_OK;
}

static void test_cas(void)
{
    struct iam_store *st = NULL, *other = NULL;
    void *data = NULL;
    size_t len = 0;
    uint64_t v0 = 99, v1 = 0, v2 = 0;

    subdir("cas");
    if (iam_store_open(dir, &st) != TS_OK || iam_store_open(dir, &other) != TS_OK) {
        ok(0, "open");
        return;
    }
    is_int(iam_blob_get(st, "cas/b", &data, &len, &v0), TS_E_NO_SUCH_ENTITY, "absent");
    is_int(v0, 0, "absent is version 0");
    is_int(iam_blob_cas(st, "cas/b", 5, "a", 1), TS_E_PRECONDITION_FAILED, "absent != 5");
    is_int(iam_blob_cas(st, "cas/b", 0, "a", 1), TS_OK, "create over version 0");
    is_int(iam_blob_cas(other, "cas/b", 0, "b", 1), TS_E_PRECONDITION_FAILED,
           "second create conflicts");
    is_int(iam_blob_get(other, "cas/b", &data, &len, &v1), TS_OK, "get");
    is_str((char *)data, "a", "first create kept");
    free(data);
    ok(v1 != 0, "version after create");
    is_int(iam_blob_cas(st, "cas/b", v1, "c", 1), TS_OK, "cas over the version read");
    is_int(iam_blob_cas(other, "cas/b", v1, "d", 1), TS_E_PRECONDITION_FAILED,
           "stale version conflicts");
    is_int(iam_blob_put(other, "cas/b", "e", 1), TS_OK, "put");
    is_int(iam_blob_get(st, "cas/b", &data, &len, &v2), TS_OK, "get after put");
    is_str((char *)data, "e", "put wrote");
    free(data);
    ok(v2 != v1 && v2 != 0, "put changes the version");

    /* iam_blob_update: the conflict is detected and the edit redone over the other write */
    struct twice t = {other, 0};
    is_int(iam_blob_update(st, "cas/b", append_edit, &t), TS_OK, "update");
    is_int(t.calls, 2, "edit redone once after the conflict");
    is_int(iam_blob_get(st, "cas/b", &data, &len, NULL), TS_OK, "get after update");
    is_str((char *)data, "xx+", "the other write kept, the edit applied over it");
    free(data);
    iam_store_close(other);
    iam_store_close(st);
}

/* ---- roles: two processes creating roles and editing one role at once ---- */

static int roles_child(struct iam_store *st, int id)
{
    char name[64], err[256];
    int bad = 0;

    for (int i = 0; i < EDITS; i++) {
        snprintf(name, sizeof name, "r%d-%d", id, i);
        bad += pol_role_put(st, name, trust, strlen(trust), false, err, sizeof err) != TS_OK;
        /* both replace the shared role too (its trust document is read-modify-written) */
        bad += pol_role_put(st, "shared", trust, strlen(trust), true, err, sizeof err) != TS_OK;
        snprintf(name, sizeof name, "pol%d-%d", id, i);
        bad += iam_attach(st, IAM_TARGET_ROLE, "shared", name) != TS_OK;
    }
    return bad != 0;
}

static void test_roles(void)
{
    struct iam_store *st = NULL;
    struct iam_strv sv = {0};
    char name[64];
    int missing = 0;

    subdir("roles");
    ok(run_two(roles_child), "both role editors succeeded");
    if (iam_store_open(dir, &st) != TS_OK) {
        ok(0, "open");
        return;
    }
    is_int(pol_role_list(st, &sv), TS_OK, "list");
    is_int(sv.n, 2 * EDITS + 1, "every role of both processes is there");
    iam_strv_free(&sv);
    for (int id = 0; id < 2; id++)
        for (int i = 0; i < EDITS; i++) {
            snprintf(name, sizeof name, "r%d-%d", id, i);
            missing += pol_role_get(st, name, NULL, NULL, NULL) != TS_OK;
        }
    is_int(missing, 0, "no role lost");
    is_int(pol_role_get(st, "shared", NULL, NULL, &sv), TS_OK, "shared role");
    is_int(sv.n, 2 * EDITS, "every attachment to the shared role is there");
    iam_strv_free(&sv);
    iam_store_close(st);
}

/* ---- token keys: two processes rotating at once ---- */

static struct sts_ctx *ctx_new(struct iam_store *st)
{
    struct sts_config cfg = {.region = "us-east-1",
                             .root_user = "rootuser",
                             .root_secret = "rootsecret123",
                             .max_duration = 43200};
    return sts_ctx_new(&cfg, st, NULL);
}

#define ROTATIONS 25
static int kid_pipe[2];

static int rotate_child(struct iam_store *st, int id)
{
    struct sts_ctx *c = ctx_new(st);
    char kid[32];
    int bad = c == NULL;

    (void)id;
    for (int i = 0; c != NULL && i < ROTATIONS; i++) {
        if (sts_rotate_key(c, kid) != TS_OK) {
            bad++;
            continue;
        }
        kid[8] = '\n';
        bad += write(kid_pipe[1], kid, 9) != 9;
    }
    sts_ctx_free(c);
    return bad != 0;
}

static void test_rotation(void)
{
    struct iam_store *st = NULL;
    char kids[2 * ROTATIONS][9];
    size_t nkids = 0, missing = 0;
    void *data = NULL;
    size_t len = 0;

    subdir("keys");
    if (pipe(kid_pipe) != 0) {
        ok(0, "pipe");
        return;
    }
    ok(run_two(rotate_child), "both rotators succeeded");
    close(kid_pipe[1]);
    while (nkids < 2 * ROTATIONS && read(kid_pipe[0], kids[nkids], 9) == 9) {
        kids[nkids][8] = '\0';
        nkids++;
    }
    close(kid_pipe[0]);
    is_int(nkids, 2 * ROTATIONS, "every rotation reported its key");
    if (iam_store_open(dir, &st) != TS_OK ||
        iam_blob_get(st, "sts/token-keys" /* STS_KEYS_BLOB (sts/sts_int.h) */, &data, &len, NULL) !=
            TS_OK) {
        ok(0, "read the ring");
        iam_store_close(st);
        return;
    }
    for (size_t i = 0; i < nkids; i++)
        if (strstr(data, kids[i]) == NULL)
            missing++;
    is_int(missing, 0, "no key added by either process was lost");
    free(data);
    iam_store_close(st);
}

/* ---- tracked LDAP sessions: two processes tracking different DNs at once ---- */

static int track_child(struct iam_store *st, int id)
{
    struct tldap *l = NULL;
    char err[256], dn[64];
    int bad = 0;

    if (tldap_new_from_env(NULL, &l, err, sizeof err) != TS_OK || l == NULL ||
        tldap_start(l, st) != TS_OK)
        return 1;
    for (int i = 0; i < EDITS / 2; i++) {
        struct iam_strv pols = {0};
        snprintf(dn, sizeof dn, "uid=u%d-%d,dc=x", id, i);
        bad += tldap_track(l, dn, dn + 4, &pols, time(NULL) + 3600) != TS_OK;
    }
    tldap_free(l);
    return bad != 0;
}

static void test_ldap_sessions(void)
{
    struct iam_store *st = NULL;
    json_t *arr;
    void *data = NULL;
    size_t len = 0;

    subdir("ldap");
    static const char *const env[][2] = {
        {"SERVER_ADDR", "127.0.0.1:1"}, /* never contacted */
        {"LOOKUP_BIND_DN", "cn=lookup,dc=x"},
        {"LOOKUP_BIND_PASSWORD", "pw"},
        {"USER_DN_SEARCH_BASE_DN", "ou=people,dc=x"},
        {"USER_DN_SEARCH_FILTER", "(uid=%s)"},
    };
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
        char name[100];
        snprintf(name, sizeof name, "TESSERA_IDENTITY_LDAP_%s", env[i][0]);
        setenv(name, env[i][1], 1);
    }
    ok(run_two(track_child), "both trackers succeeded");
    if (iam_store_open(dir, &st) != TS_OK ||
        iam_blob_get(st, TLDAP_SESSIONS_BLOB, &data, &len, NULL) != TS_OK) {
        ok(0, "read the sessions");
        iam_store_close(st);
        return;
    }
    arr = json_loadb(data, len, 0, NULL);
    is_int(json_array_size(arr), EDITS, "every DN tracked by either process is stored");
    json_decref(arr);
    free(data);
    iam_store_close(st);
}

int main(void)
{
    char cmd[400];

    if (mkdtemp(dir_tmpl) == NULL)
        return 1;
    test_cas();
    test_roles();
    test_rotation();
    test_ldap_sessions();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_tmpl);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    return t_done();
}
