/* test_kv_lmdb.c -- the LMDB key-value engine (idp/kv_lmdb.c): the engine contract
 * (kv_contract.h), then what is LMDB's own: the data persists across close/reopen, the
 * generation restarts at 1 and follows commits of another process sharing the directory
 * (but not its writes to KV_NODES only), status and fresh. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/idp/kv_contract.h"

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* In a child process with its own handle on dir: runs steps in one write; exit 0 when all
 * gave what they must. */
static bool other_process_writes(const char *dir, const struct kvc_step *steps, size_t n)
{
    pid_t pid = fork();
    if (pid == 0) {
        const struct kv_engine_ops *o;
        void *e;
        if (kv_lmdb_open(dir, &o, &e) != TS_OK)
            _exit(98);
        struct kvc_script sc = {.o = o, .steps = steps, .n = n};
        int rc = o->run(e, true, kvc_body, &sc);
        o->close(e);
        _exit(rc == TS_OK && sc.bad == 0 ? 0 : 1);
    }
    int status = -1;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

static void test_reopen_and_processes(const char *dir)
{
    static const struct kvc_step seen[] = {
        {'g', KV_USERS, "alice", "two", TS_OK},
        {'w', KV_GMEMBERS, NULL, "g/x=inner;", TS_OK},
    };
    static const struct kvc_step nodes[] = {{'p', KV_NODES, "other", "{}", TS_OK}};
    static const struct kvc_step user[] = {{'p', KV_USERS, "zed", "z", TS_OK}};
    static const struct kvc_step zed[] = {{'g', KV_USERS, "zed", "z", TS_OK}};
    const struct kv_engine_ops *o;
    void *e;
    struct kv_status s;
    struct ts_error err = {0};

    is_int(kv_lmdb_open(dir, &o, &e), TS_OK, "reopen");
    is_int(o->generation(e), 1, "generation restarts at 1");
    KVC_READ(o, e, seen, "data persisted");
    ok(other_process_writes(dir, nodes, KVC_N(nodes)), "other process: nodes write");
    is_int(o->generation(e), 1, "another process's KV_NODES write: generation unchanged");
    ok(other_process_writes(dir, user, KVC_N(user)), "other process: user write");
    is_int(o->generation(e), 2, "another process's write: generation changed");
    KVC_READ(o, e, zed, "another process's write: seen");
    o->status(e, &s);
    is_str(s.engine, "lmdb", "status engine");
    is_str(s.endpoint, dir, "status endpoint");
    ok(s.fresh, "status fresh");
    is_int(o->fresh(e, &err), TS_OK, "fresh");
    o->close(e);
}

int main(void)
{
    char dir[] = "/tmp/tessera-kv-lmdb-XXXXXX";
    const struct kv_engine_ops *o = NULL;
    void *e = NULL;

    if (mkdtemp(dir) == NULL)
        return 1;
    is_int(kv_lmdb_open(dir, &o, &e), TS_OK, "open");
    if (o == NULL)
        return t_done();
    is_int(o->generation(e), 1, "generation starts at 1");
    is_int(kv_contract_run(o, e), 0, "the engine contract");
    o->close(e);
    test_reopen_and_processes(dir);
    ok(kv_lmdb_open("/proc/nonexistent/kv", &o, &e) != TS_OK, "open in an unwritable place");
    rm_rf(dir);
    return t_done();
}
