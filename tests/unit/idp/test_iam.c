/* test_iam.c -- the IAM store (idp/iam.c) on the LMDB engine: every function of idp/iam.h,
 * its error cases, persistence across close/reopen, generation bumps and removal cascades. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "idp/iam.h"
#include "tests/harness/t.h"

static bool strv_has(const struct iam_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return true;
    return false;
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static void test_users(struct iam_store *st)
{
    struct iam_user u = {0};
    struct iam_strv sv = {0};
    const char *msg = NULL;
    uint64_t g0;

    /* validation */
    is_int(iam_user_add(st, "ab", "secret123", &msg), TS_E_INVALID_ARGUMENT, "short name");
    ok(msg != NULL && strstr(msg, "3 to 128") != NULL, "short name msg: %s", msg ? msg : "-");
    char longname[200];
    memset(longname, 'a', 129);
    longname[129] = '\0';
    is_int(iam_user_add(st, longname, "secret123", NULL), TS_E_INVALID_ARGUMENT, "long name");
    longname[128] = '\0';
    is_int(iam_user_add(st, longname, "secret123", NULL), TS_OK, "128-char name");
    is_int(iam_user_remove(st, longname), TS_OK, "remove 128-char name");
    msg = NULL;
    is_int(iam_user_add(st, "bad/name", "secret123", &msg), TS_E_INVALID_ARGUMENT, "bad char");
    ok(msg != NULL && strstr(msg, "letters") != NULL, "bad char msg");
    msg = NULL;
    is_int(iam_user_add(st, "bob", "short", &msg), TS_E_INVALID_ARGUMENT, "short secret");
    ok(msg != NULL && strstr(msg, "8 to 40") != NULL, "short secret msg");
    is_int(iam_user_add(st, "bob", "0123456789012345678901234567890123456789x", NULL),
           TS_E_INVALID_ARGUMENT, "41-char secret");
    is_int(iam_user_add(st, "bob", "secret\n123", NULL), TS_E_INVALID_ARGUMENT, "ctl secret");
    is_int(iam_user_add(st, "bob", NULL, NULL), TS_E_INVALID_ARGUMENT, "NULL secret");
    is_int(iam_user_add(st, NULL, "secret123", NULL), TS_E_INVALID_ARGUMENT, "NULL name");

    /* reserved root name */
    is_int(iam_store_set_reserved(st, "rootuser"), TS_OK, "set reserved");
    msg = NULL;
    is_int(iam_user_add(st, "rootuser", "secret123", &msg), TS_E_INVALID_ARGUMENT, "root name");
    ok(msg != NULL && strstr(msg, "root") != NULL, "root msg");

    /* add, get */
    g0 = iam_store_generation(st);
    is_int(iam_user_add(st, "bob", "bobsecret1", NULL), TS_OK, "add bob");
    ok(iam_store_generation(st) > g0, "generation bumped by add");
    is_int(iam_user_add(st, "alice@x.org", "a-secret-key", NULL), TS_OK, "add alice");
    is_int(iam_user_add(st, "A.b_c=d+e-f", "12345678", NULL), TS_OK, "add all-chars name");
    is_int(iam_user_get(st, "bob", &u), TS_OK, "get bob");
    is_str(u.name, "bob", "bob name");
    is_str(u.secret, "bobsecret1", "bob secret");
    ok(u.enabled, "bob enabled");
    is_int(u.not_before_ns, 0, "bob not_before");
    is_int(u.policies.n, 0, "bob policies");
    is_int(u.groups.n, 0, "bob groups");
    iam_user_cleanup(&u);

    /* failed get leaves output untouched */
    u.name = (char *)"sentinel";
    is_int(iam_user_get(st, "nobody", &u), TS_E_NO_SUCH_ENTITY, "get missing");
    is_str(u.name, "sentinel", "output untouched");
    memset(&u, 0, sizeof(u));
    is_int(iam_user_get(st, "", &u), TS_E_NO_SUCH_ENTITY, "get empty");

    /* disable / enable */
    g0 = iam_store_generation(st);
    int64_t before = iam_now_ns();
    is_int(iam_user_set_enabled(st, "bob", false), TS_OK, "disable");
    ok(iam_store_generation(st) > g0, "generation bumped by disable");
    is_int(iam_user_get(st, "bob", &u), TS_OK, "get disabled");
    ok(!u.enabled, "bob disabled");
    ok(u.not_before_ns > before && u.not_before_ns <= iam_now_ns() + 1,
       "disable sets not_before to now (ns)");
    is_str(u.secret, "bobsecret1", "secret kept on disable");
    iam_user_cleanup(&u);
    is_int(iam_user_set_enabled(st, "bob", true), TS_OK, "enable");
    is_int(iam_user_get(st, "bob", &u), TS_OK, "get enabled");
    ok(u.enabled, "bob enabled again");
    iam_user_cleanup(&u);
    is_int(iam_user_set_enabled(st, "nobody", true), TS_E_NO_SUCH_ENTITY, "enable missing");

    /* re-add is refused and changes nothing; set_secret replaces the secret, keeps the
     * status and ends the user's earlier sessions */
    is_int(iam_user_set_enabled(st, "bob", false), TS_OK, "disable again");
    g0 = iam_store_generation(st);
    is_int(iam_user_add(st, "bob", "newsecret9", NULL), TS_E_ENTITY_EXISTS, "re-add bob");
    ok(iam_store_generation(st) == g0, "refused add changes nothing");
    is_int(iam_user_get(st, "bob", &u), TS_OK, "get bob after re-add");
    is_str(u.secret, "bobsecret1", "secret kept");
    iam_user_cleanup(&u);
    is_int(iam_user_set_secret(st, "nobody", "newsecret9", NULL), TS_E_NO_SUCH_ENTITY,
           "set_secret missing");
    msg = NULL;
    is_int(iam_user_set_secret(st, "bob", "short", &msg), TS_E_INVALID_ARGUMENT,
           "set_secret short");
    ok(msg != NULL, "set_secret msg");
    before = iam_now_ns();
    is_int(iam_user_set_secret(st, "bob", "newsecret9", NULL), TS_OK, "set_secret bob");
    is_int(iam_user_get(st, "bob", &u), TS_OK, "get bob after set_secret");
    is_str(u.secret, "newsecret9", "secret replaced");
    ok(!u.enabled, "status kept");
    ok(u.not_before_ns > before, "set_secret sets not_before");
    iam_user_cleanup(&u);
    is_int(iam_user_set_enabled(st, "bob", true), TS_OK, "enable bob");

    /* list is sorted */
    is_int(iam_user_list(st, &sv), TS_OK, "list");
    is_int(sv.n, 3, "3 users");
    if (sv.n == 3) {
        is_str(sv.v[0], "A.b_c=d+e-f", "sorted 0");
        is_str(sv.v[1], "alice@x.org", "sorted 1");
        is_str(sv.v[2], "bob", "sorted 2");
    }
    iam_strv_free(&sv);
    iam_strv_free(NULL);

    /* revoke sessions */
    is_int(iam_user_revoke_sessions(st, "alice@x.org", 1234567), TS_OK, "revoke alice");
    is_int(iam_user_get(st, "alice@x.org", &u), TS_OK, "get alice");
    is_int(u.not_before_ns, 1234567, "alice not_before");
    iam_user_cleanup(&u);
    is_int(iam_user_revoke_sessions(st, "nobody", 1), TS_E_NO_SUCH_ENTITY, "revoke missing");
    int64_t nb = 99;
    is_int(iam_parent_not_before(st, "alice@x.org", &nb), TS_OK, "parent nb of user");
    is_int(nb, 1234567, "parent nb value");
}

static void test_parents(struct iam_store *st)
{
    int64_t nb = 99;
    const char *dn = "uid=dave,ou=people,dc=example,dc=org";

    is_int(iam_parent_not_before(st, dn, &nb), TS_OK, "nb unknown parent");
    is_int(nb, 0, "nb unknown is 0");
    is_int(iam_parent_revoke_sessions(st, dn, 5000), TS_OK, "revoke parent");
    is_int(iam_parent_not_before(st, dn, &nb), TS_OK, "nb parent");
    is_int(nb, 5000, "nb parent value");
    is_int(iam_parent_revoke_sessions(st, dn, 6000), TS_OK, "revoke parent again");
    is_int(iam_parent_not_before(st, dn, &nb), TS_OK, "nb parent 2");
    is_int(nb, 6000, "nb parent value 2");
    is_int(iam_parent_revoke_sessions(st, "", 1), TS_E_INVALID_ARGUMENT, "revoke empty parent");
}

static void test_groups(struct iam_store *st)
{
    struct iam_group g = {0};
    struct iam_user u = {0};
    struct iam_strv sv = {0};
    const char *two[] = {"bob", "alice@x.org"};
    const char *bad[] = {"bob", "nobody"};
    uint64_t g0;

    is_int(iam_group_add(st, "dev,ops", two, 2), TS_E_INVALID_ARGUMENT, "comma group");
    is_int(iam_group_add(st, "", two, 2), TS_E_INVALID_ARGUMENT, "empty group");
    is_int(iam_group_add(st, "a/b", two, 2), TS_E_INVALID_ARGUMENT, "slash group");
    is_int(iam_group_add(st, "dev", bad, 2), TS_E_NO_SUCH_ENTITY, "missing member");
    is_int(iam_group_get(st, "dev", &g), TS_E_NO_SUCH_ENTITY, "failed add stored nothing");
    is_int(iam_user_get(st, "bob", &u), TS_OK, "get bob");
    is_int(u.groups.n, 0, "failed add left bob alone");
    iam_user_cleanup(&u);

    g0 = iam_store_generation(st);
    is_int(iam_group_add(st, "dev", two, 2), TS_OK, "add dev");
    ok(iam_store_generation(st) > g0, "generation bumped by group add");
    is_int(iam_group_add(st, "dev", two, 1), TS_OK, "add bob again (idempotent)");
    is_int(iam_group_get(st, "dev", &g), TS_OK, "get dev");
    is_str(g.name, "dev", "dev name");
    ok(g.enabled, "dev enabled");
    is_int(g.members.n, 2, "dev 2 members");
    if (g.members.n == 2) {
        is_str(g.members.v[0], "alice@x.org", "member 0");
        is_str(g.members.v[1], "bob", "member 1");
    }
    is_int(g.policies.n, 0, "dev no policies");
    iam_group_cleanup(&g);

    is_int(iam_group_add(st, "ops", two, 1), TS_OK, "add ops");
    is_int(iam_group_add(st, "empty", NULL, 0), TS_OK, "add empty group");
    is_int(iam_user_get(st, "bob", &u), TS_OK, "get bob");
    is_int(u.groups.n, 2, "bob in 2 groups");
    ok(strv_has(&u.groups, "dev") && strv_has(&u.groups, "ops"), "bob groups");
    iam_user_cleanup(&u);

    is_int(iam_group_list(st, &sv), TS_OK, "group list");
    is_int(sv.n, 3, "3 groups");
    if (sv.n == 3) {
        is_str(sv.v[0], "dev", "g0");
        is_str(sv.v[1], "empty", "g1");
        is_str(sv.v[2], "ops", "g2");
    }
    iam_strv_free(&sv);

    /* disable */
    is_int(iam_group_set_enabled(st, "ops", false), TS_OK, "disable ops");
    is_int(iam_group_get(st, "ops", &g), TS_OK, "get ops");
    ok(!g.enabled, "ops disabled");
    iam_group_cleanup(&g);
    is_int(iam_group_set_enabled(st, "ops", true), TS_OK, "enable ops");
    is_int(iam_group_get(st, "ops", &g), TS_OK, "get ops");
    ok(g.enabled, "ops enabled");
    iam_group_cleanup(&g);
    is_int(iam_group_set_enabled(st, "nogroup", true), TS_E_NO_SUCH_ENTITY, "enable missing");

    /* remove members / groups */
    is_int(iam_group_remove(st, "dev", NULL, 0), TS_E_GROUP_NOT_EMPTY, "remove non-empty");
    is_int(iam_group_remove(st, "nogroup", two, 1), TS_E_NO_SUCH_ENTITY, "remove from missing");
    const char *alice[] = {"alice@x.org", "stranger"};
    is_int(iam_group_remove(st, "dev", alice, 2), TS_OK, "remove alice (+non-member)");
    is_int(iam_group_get(st, "dev", &g), TS_OK, "get dev");
    is_int(g.members.n, 1, "dev 1 member");
    iam_group_cleanup(&g);
    is_int(iam_user_get(st, "alice@x.org", &u), TS_OK, "get alice");
    is_int(u.groups.n, 0, "alice in no group");
    iam_user_cleanup(&u);
    is_int(iam_group_remove(st, "empty", NULL, 0), TS_OK, "remove empty group");
    is_int(iam_group_get(st, "empty", &g), TS_E_NO_SUCH_ENTITY, "empty gone");
    is_int(iam_group_remove(st, "empty", NULL, 0), TS_E_NO_SUCH_ENTITY, "remove twice");
}

static const char *doc = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                         "\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::*\"]}]}";

static void test_policies(struct iam_store *st)
{
    struct iam_strv sv = {0};
    struct iam_user u = {0};
    struct iam_group g = {0};
    char *json = NULL;
    uint64_t g0;

    is_int(iam_policy_put(st, "bad,name", doc), TS_E_INVALID_ARGUMENT, "comma policy name");
    is_int(iam_policy_put(st, "bad name", doc), TS_E_INVALID_ARGUMENT, "space policy name");
    is_int(iam_policy_put(st, "", doc), TS_E_INVALID_ARGUMENT, "empty policy name");
    is_int(iam_policy_put(st, "p", NULL), TS_E_INVALID_ARGUMENT, "NULL doc");
    g0 = iam_store_generation(st);
    is_int(iam_policy_put(st, "getonly", doc), TS_OK, "put getonly");
    ok(iam_store_generation(st) > g0, "generation bumped by policy put");
    is_int(iam_policy_put(st, "other", "{}"), TS_OK, "put other");
    is_int(iam_policy_get(st, "getonly", &json), TS_OK, "get getonly");
    is_str(json, doc, "doc round trip");
    free(json);
    json = (char *)"sentinel";
    is_int(iam_policy_get(st, "nope", &json), TS_E_NO_SUCH_ENTITY, "get missing policy");
    is_str(json, "sentinel", "json untouched");
    json = NULL;
    is_int(iam_policy_put(st, "other", "{\"v\":2}"), TS_OK, "replace other");
    is_int(iam_policy_get(st, "other", &json), TS_OK, "get other");
    is_str(json, "{\"v\":2}", "replaced");
    free(json);
    is_int(iam_policy_list(st, &sv), TS_OK, "policy list");
    is_int(sv.n, 2, "2 policies");
    if (sv.n == 2) {
        is_str(sv.v[0], "getonly", "p0");
        is_str(sv.v[1], "other", "p1");
    }
    iam_strv_free(&sv);

    /* attachments */
    is_int(iam_attach(st, IAM_TARGET_USER, "nobody", "getonly"), TS_E_NO_SUCH_ENTITY,
           "attach to missing user");
    is_int(iam_attach(st, IAM_TARGET_GROUP, "nogroup", "getonly"), TS_E_NO_SUCH_ENTITY,
           "attach to missing group");
    is_int(iam_attach(st, IAM_TARGET_USER, "bob", "bad,name"), TS_E_INVALID_ARGUMENT,
           "attach bad policy name");
    g0 = iam_store_generation(st);
    is_int(iam_attach(st, IAM_TARGET_USER, "bob", "getonly"), TS_OK, "attach bob");
    ok(iam_store_generation(st) > g0, "generation bumped by attach");
    is_int(iam_attach(st, IAM_TARGET_USER, "bob", "getonly"), TS_OK, "attach twice");
    is_int(iam_attach(st, IAM_TARGET_USER, "bob", "readonly"), TS_OK, "attach canned");
    is_int(iam_attach(st, IAM_TARGET_GROUP, "ops", "other"), TS_OK, "attach group");
    is_int(iam_attach(st, IAM_TARGET_DN, "cn=admins,dc=example,dc=org", "getonly"), TS_OK,
           "attach dn");
    is_int(iam_attach(st, IAM_TARGET_ROLE, "ci", "other"), TS_OK, "attach role");
    is_int(iam_user_get(st, "bob", &u), TS_OK, "get bob");
    is_int(u.policies.n, 2, "bob 2 policies");
    if (u.policies.n == 2) {
        is_str(u.policies.v[0], "getonly", "bob p0");
        is_str(u.policies.v[1], "readonly", "bob p1");
    }
    iam_user_cleanup(&u);
    is_int(iam_group_get(st, "ops", &g), TS_OK, "get ops");
    is_int(g.policies.n, 1, "ops 1 policy");
    ok(strv_has(&g.policies, "other"), "ops has other");
    iam_group_cleanup(&g);
    is_int(iam_attached(st, IAM_TARGET_DN, "cn=admins,dc=example,dc=org", &sv), TS_OK, "dn att");
    is_int(sv.n, 1, "dn 1");
    ok(strv_has(&sv, "getonly"), "dn getonly");
    iam_strv_free(&sv);
    is_int(iam_attached(st, IAM_TARGET_DN, "cn=none", &sv), TS_OK, "unknown dn att");
    is_int(sv.n, 0, "unknown dn empty");
    iam_strv_free(&sv);
    is_int(iam_attached(st, IAM_TARGET_ROLE, "ci", &sv), TS_OK, "role att");
    is_int(sv.n, 1, "role 1");
    iam_strv_free(&sv);

    /* removal of an attached policy is refused */
    is_int(iam_policy_remove(st, "getonly"), TS_E_POLICY_IN_USE, "remove in use (user+dn)");
    is_int(iam_detach(st, IAM_TARGET_USER, "bob", "getonly"), TS_OK, "detach bob");
    is_int(iam_detach(st, IAM_TARGET_USER, "bob", "getonly"), TS_E_NO_SUCH_ENTITY, "detach twice");
    is_int(iam_policy_remove(st, "getonly"), TS_E_POLICY_IN_USE, "remove in use (dn)");
    is_int(iam_detach(st, IAM_TARGET_DN, "cn=admins,dc=example,dc=org", "getonly"), TS_OK,
           "detach dn");
    g0 = iam_store_generation(st);
    is_int(iam_policy_remove(st, "getonly"), TS_OK, "remove getonly");
    ok(iam_store_generation(st) > g0, "generation bumped by policy remove");
    is_int(iam_policy_remove(st, "getonly"), TS_E_NO_SUCH_ENTITY, "remove twice");
    is_int(iam_policy_remove(st, "other"), TS_E_POLICY_IN_USE, "remove in use (group+role)");
    is_int(iam_detach(st, IAM_TARGET_ROLE, "ci", "other"), TS_OK, "detach role");
    is_int(iam_policy_remove(st, "other"), TS_E_POLICY_IN_USE, "remove in use (group)");
}

static void test_cascades(struct iam_store *st)
{
    struct iam_group g = {0};
    struct iam_user u = {0};
    struct iam_strv sv = {0};
    int64_t before = iam_now_ns();
    const char *carol[] = {"carol"};

    is_int(iam_user_add(st, "carol", "carolsecret", NULL), TS_OK, "add carol");
    is_int(iam_group_add(st, "ops", carol, 1), TS_OK, "carol to ops");
    is_int(iam_attach(st, IAM_TARGET_USER, "carol", "readwrite"), TS_OK, "attach carol");
    is_int(iam_user_remove(st, "carol"), TS_OK, "remove carol");
    is_int(iam_user_get(st, "carol", &u), TS_E_NO_SUCH_ENTITY, "carol gone");
    is_int(iam_user_remove(st, "carol"), TS_E_NO_SUCH_ENTITY, "remove twice");
    is_int(iam_group_get(st, "ops", &g), TS_OK, "get ops");
    ok(!strv_has(&g.members, "carol"), "carol not in ops");
    ok(strv_has(&g.members, "bob"), "bob still in ops");
    iam_group_cleanup(&g);
    is_int(iam_attached(st, IAM_TARGET_USER, "carol", &sv), TS_OK, "carol attachments");
    is_int(sv.n, 0, "carol attachments gone");
    iam_strv_free(&sv);
    int64_t nb = 0;
    is_int(iam_parent_not_before(st, "carol", &nb), TS_OK, "carol nb");
    ok(nb >= before, "removal revoked sessions");

    /* a re-created carol starts fresh: no groups, no policies */
    is_int(iam_user_add(st, "carol", "carolsecret", NULL), TS_OK, "re-add carol");
    is_int(iam_user_get(st, "carol", &u), TS_OK, "get carol");
    is_int(u.groups.n, 0, "fresh carol groups");
    is_int(u.policies.n, 0, "fresh carol policies");
    ok(u.not_before_ns >= before, "fresh carol keeps not_before");
    iam_user_cleanup(&u);

    /* removing the last member keeps the group; removing the group drops its attachments */
    const char *bob[] = {"bob"};
    is_int(iam_group_remove(st, "ops", bob, 1), TS_OK, "remove bob from ops");
    is_int(iam_group_get(st, "ops", &g), TS_OK, "ops still there");
    is_int(g.members.n, 0, "ops empty");
    iam_group_cleanup(&g);
    is_int(iam_group_remove(st, "ops", NULL, 0), TS_OK, "remove ops");
    is_int(iam_attached(st, IAM_TARGET_GROUP, "ops", &sv), TS_OK, "ops attachments");
    is_int(sv.n, 0, "ops attachments gone");
    iam_strv_free(&sv);
    is_int(iam_policy_remove(st, "other"), TS_OK, "other free now");
}

static void test_revoked_and_blobs(struct iam_store *st)
{
    time_t now = time(NULL);
    void *data = NULL;
    size_t len = 0;

    ok(!iam_key_revoked(st, "AKIAEXAMPLE"), "not revoked");
    is_int(iam_revoke_key(st, "AKIAEXAMPLE", now + 3600), TS_OK, "revoke key");
    ok(iam_key_revoked(st, "AKIAEXAMPLE"), "revoked");
    is_int(iam_revoke_key(st, "AKIAOLD", now - 10), TS_OK, "revoke expired key");
    ok(!iam_key_revoked(st, "AKIAOLD"), "expired revocation does not count");
    is_int(iam_revoke_key(st, "AKIAOTHER", now + 60), TS_OK, "revoke another (prunes)");
    ok(iam_key_revoked(st, "AKIAEXAMPLE"), "still revoked after prune");
    ok(!iam_key_revoked(st, ""), "empty key");
    is_int(iam_revoke_key(st, "", now), TS_E_INVALID_ARGUMENT, "revoke empty");

    const unsigned char bin[] = {0, 1, 2, 0xff, 0};
    is_int(iam_blob_put(st, "tokenkeys", bin, sizeof(bin)), TS_OK, "blob put");
    is_int(iam_blob_get(st, "tokenkeys", &data, &len, NULL), TS_OK, "blob get");
    is_int(len, sizeof(bin), "blob len");
    if (data != NULL && len == sizeof(bin))
        is_mem(data, bin, sizeof(bin), "blob bytes");
    free(data);
    data = NULL;
    is_int(iam_blob_put(st, "empty", NULL, 0), TS_OK, "empty blob put");
    is_int(iam_blob_get(st, "empty", &data, &len, NULL), TS_OK, "empty blob get");
    is_int(len, 0, "empty blob len");
    free(data);
    data = (void *)"x";
    is_int(iam_blob_get(st, "missing", &data, &len, NULL), TS_E_NO_SUCH_ENTITY, "blob missing");
    ok(data != NULL && strcmp(data, "x") == 0, "blob out untouched");
    is_int(iam_blob_put(st, "x", NULL, 3), TS_E_INVALID_ARGUMENT, "NULL data with len");
}

static void test_persistence(const char *dir)
{
    struct iam_store *st = NULL;
    struct iam_user u = {0};
    struct iam_group g = {0};
    struct iam_strv sv = {0};
    char *json = NULL;
    void *data = NULL;
    size_t len = 0;
    time_t nb = 0;

    is_int(iam_store_open(dir, &st), TS_OK, "reopen");
    if (st == NULL)
        return;
    is_int(iam_store_generation(st), 1, "generation restarts at 1");
    is_int(iam_user_get(st, "bob", &u), TS_OK, "bob persisted");
    is_str(u.secret, "newsecret9", "bob secret persisted");
    ok(u.enabled, "bob enabled persisted");
    is_int(u.policies.n, 1, "bob policies persisted");
    ok(strv_has(&u.policies, "readonly"), "bob readonly persisted");
    is_int(u.groups.n, 1, "bob groups persisted");
    ok(strv_has(&u.groups, "dev"), "bob in dev persisted");
    iam_user_cleanup(&u);
    is_int(iam_group_get(st, "dev", &g), TS_OK, "dev persisted");
    is_int(g.members.n, 1, "dev members persisted");
    iam_group_cleanup(&g);
    is_int(iam_user_list(st, &sv), TS_OK, "list after reopen");
    is_int(sv.n, 4, "4 users after reopen");
    iam_strv_free(&sv);
    is_int(iam_policy_get(st, "getonly", &json), TS_E_NO_SUCH_ENTITY, "removed policy stays");
    is_int(iam_parent_not_before(st, "uid=dave,ou=people,dc=example,dc=org", &nb), TS_OK, "nb");
    is_int(nb, 6000, "parent nb persisted");
    ok(iam_key_revoked(st, "AKIAEXAMPLE"), "revocation persisted");
    is_int(iam_blob_get(st, "tokenkeys", &data, &len, NULL), TS_OK, "blob persisted");
    is_int(len, 5, "blob len persisted");
    free(data);
    iam_store_close(st);
}

struct worker {
    struct iam_store *st;
    int id;
    int failures;
};

/* Each worker adds its own users and reads them (and bob) back while the others write. */
static void *worker_run(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 50; i++) {
        char name[32];
        struct iam_user u = {0};
        snprintf(name, sizeof(name), "w%d-user%02d", w->id, i);
        if (iam_user_add(w->st, name, "workersecret", NULL) != TS_OK)
            w->failures++;
        if (iam_user_get(w->st, name, &u) != TS_OK || strcmp(u.secret, "workersecret") != 0)
            w->failures++;
        iam_user_cleanup(&u);
        if (iam_user_get(w->st, "bob", &u) != TS_OK)
            w->failures++;
        iam_user_cleanup(&u);
    }
    return NULL;
}

static void test_threads(const char *dir)
{
    struct iam_store *st = NULL;
    struct worker w[4];
    pthread_t th[4];
    struct iam_strv sv = {0};
    uint64_t g0;

    is_int(iam_store_open(dir, &st), TS_OK, "open for threads");
    if (st == NULL)
        return;
    g0 = iam_store_generation(st);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.st = st, .id = i};
        pthread_create(&th[i], NULL, worker_run, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        is_int(w[i].failures, 0, "worker failures");
    }
    is_int(iam_store_generation(st) - g0, 200, "one generation per committed write");
    is_int(iam_user_list(st, &sv), TS_OK, "list after threads");
    is_int(sv.n, 204, "all users stored");
    iam_strv_free(&sv);
    iam_store_close(st);
}

/* iam_user_get caches users; a change made by another process sharing the store (a second
 * node on the same data directory) must be seen at once. */
static void test_cache_other_process(const char *dir)
{
    struct iam_store *st = NULL;
    struct iam_user u = {0};
    const char *msg = NULL;
    is_int(iam_store_open(dir, &st), TS_OK, "open for the cache test");
    if (st == NULL)
        return;
    is_int(iam_user_add(st, "cached-user", "cachedsecret1", &msg), TS_OK, "add cached-user");
    for (int i = 0; i < 2; i++) { /* the second read comes from the cache */
        is_int(iam_user_get(st, "cached-user", &u), TS_OK, i ? "get (cached)" : "get (read)");
        ok(u.enabled && strcmp(u.secret, "cachedsecret1") == 0, "cached-user as stored %d", i);
        iam_user_cleanup(&u);
    }
    pid_t pid = fork();
    if (pid == 0) {
        struct iam_store *other = NULL;
        int rc = iam_store_open(dir, &other) == TS_OK &&
                         iam_user_set_enabled(other, "cached-user", false) == TS_OK &&
                         iam_user_set_secret(other, "cached-user", "cachedsecret2", &msg) == TS_OK
                     ? 0
                     : 1;
        iam_store_close(other);
        _exit(rc);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the other process changed the user");
    is_int(iam_user_get(st, "cached-user", &u), TS_OK, "get after the other process");
    ok(!u.enabled, "disabled by the other process: seen");
    is_str(u.secret, "cachedsecret2", "new secret from the other process: seen");
    iam_user_cleanup(&u);
    is_int(iam_user_remove(st, "cached-user"), TS_OK, "remove cached-user");
    is_int(iam_user_get(st, "cached-user", &u), TS_E_NO_SUCH_ENTITY, "removed: not cached");
    iam_store_close(st);
}

static void test_open_errors(void)
{
    struct iam_store *st = (struct iam_store *)0x1;
    ok(iam_store_open("/proc/nonexistent/iam", &st) != TS_OK, "open in unwritable place");
    ok(st == (struct iam_store *)0x1, "out untouched on failure");
    iam_store_close(NULL);
}

int main(void)
{
    char dir[] = "/tmp/tessera-iam-test-XXXXXX";
    char sub[64];
    struct iam_store *st = NULL;
    struct stat sb;

    if (mkdtemp(dir) == NULL)
        return 1;
    /* nested directory that does not exist yet, as DATA_DIR/.tessera/iam */
    snprintf(sub, sizeof(sub), "%s/.tessera/iam", dir);
    is_int(iam_store_open(sub, &st), TS_OK, "open");
    if (st == NULL)
        return t_done();
    ok(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700, "dir created 0700");
    is_int(iam_store_generation(st), 1, "generation starts at 1");

    test_users(st);
    test_parents(st);
    test_groups(st);
    test_policies(st);
    test_cascades(st);
    test_revoked_and_blobs(st);
    iam_store_close(st);

    char dbfile[96];
    snprintf(dbfile, sizeof(dbfile), "%s/data.mdb", sub);
    ok(stat(dbfile, &sb) == 0 && (sb.st_mode & 0777) == 0600, "data.mdb is 0600");

    test_persistence(sub);
    test_threads(sub);
    test_cache_other_process(sub);
    test_open_errors();
    rm_rf(dir);
    return t_done();
}
