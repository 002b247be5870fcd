/* test_precond.c -- conditional writes in the store: obj_precond_check, the check inside the
 * commit's transaction (obj_object_commit_if, obj_upload_complete_if), the race of concurrent
 * If-None-Match: * writes of one key, and the data file of a refused write removed. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "objstore/obj_int.h"
#include "tests/harness/t.h"
#include "tests/unit/objstore/files.h"

static char dir[256];

static size_t data_files(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/.tessera/objects", dir);
    return count_files(p);
}

/* Writes data to bucket/key under pre; *etag (when not NULL) gets the ETag. */
static int put_if(struct obj_store *st, const char *k, const char *data,
                  const struct obj_precond *pre, char etag[48])
{
    struct obj_writer *w;
    struct obj_meta m = {0};
    uint8_t md5[16];
    int rc = obj_writer_new(st, &w);
    if (rc != TS_OK)
        return rc;
    rc = obj_writer_write(w, (const uint8_t *)data, strlen(data));
    if (rc == TS_OK)
        rc = obj_writer_finish(w, md5);
    if (rc == TS_OK) {
        enc_hex(md5, 16, m.etag);
        if (etag)
            memcpy(etag, m.etag, 48);
        rc = obj_object_commit_if(st, "cbk", k, w, &m, pre);
    }
    obj_writer_free(w); /* removes the data file of a refused write */
    return rc;
}

static void test_check(void)
{
    struct obj_meta cur = {0};
    snprintf(cur.etag, sizeof cur.etag, "0123abcd");
    struct obj_precond none = {.if_none_match_any = true};
    struct obj_precond m1 = {.if_match = "\"0123abcd\""}, m2 = {.if_match = "0123abcd"},
                       m3 = {.if_match = "0123abcd\""}, bad = {.if_match = "\"0123abce\""};
    is_int(obj_precond_check(NULL, &cur), TS_OK, "no precondition");
    is_int(obj_precond_check(&none, NULL), TS_OK, "If-None-Match, absent");
    is_int(obj_precond_check(&none, &cur), TS_E_PRECONDITION_FAILED, "If-None-Match, present");
    is_int(obj_precond_check(&m1, &cur), TS_OK, "If-Match quoted");
    is_int(obj_precond_check(&m2, &cur), TS_OK, "If-Match unquoted");
    is_int(obj_precond_check(&m3, &cur), TS_OK, "If-Match one quote");
    is_int(obj_precond_check(&bad, &cur), TS_E_PRECONDITION_FAILED, "If-Match other ETag");
    is_int(obj_precond_check(&m1, NULL), TS_E_NO_SUCH_KEY, "If-Match, absent");
    m1.seen = true;
    is_int(obj_precond_check(&m1, NULL), TS_E_CONDITIONAL_CONFLICT, "If-Match, deleted since");
}

static void test_put(struct obj_store *st)
{
    struct obj_precond none = {.if_none_match_any = true};
    char etag[48], etag2[48], want[52];
    is_int(put_if(st, "k", "one", &none, etag), TS_OK, "create-only write of a new key");
    size_t files = data_files();
    is_int(put_if(st, "k", "two", &none, NULL), TS_E_PRECONDITION_FAILED, "key exists: 412");
    is_int(data_files(), files, "refused write's data file removed");
    struct obj_precond wrong = {.if_match = "\"00000000000000000000000000000000\""};
    is_int(put_if(st, "k", "two", &wrong, NULL), TS_E_PRECONDITION_FAILED, "other ETag: 412");
    snprintf(want, sizeof want, "\"%s\"", etag);
    struct obj_precond right = {.if_match = want};
    is_int(put_if(st, "k", "two", &right, etag2), TS_OK, "matching ETag: written");
    is_int(put_if(st, "k", "three", &right, NULL), TS_E_PRECONDITION_FAILED, "stale ETag: 412");
    is_int(data_files(), files, "one data file for the key");
    struct obj_precond gone = {.if_match = want};
    is_int(put_if(st, "missing", "x", &gone, NULL), TS_E_NO_SUCH_KEY, "If-Match, no key: 404");
    /* seen by the early check, deleted before the commit: the delete won (409). */
    snprintf(want, sizeof want, "%s", etag2);
    struct obj_precond early = {.if_match = want};
    is_int(obj_precond_early(st, "cbk", "k", &early), TS_OK, "early check");
    ok(early.seen, "early check saw the object");
    is_int(obj_object_delete(st, "cbk", "k"), TS_OK, "concurrent delete");
    is_int(put_if(st, "k", "four", &early, NULL), TS_E_CONDITIONAL_CONFLICT, "409 after delete");
    struct obj_meta m;
    is_int(obj_object_head(st, "cbk", "k", &m), TS_E_NO_SUCH_KEY, "nothing written");
    is_int(data_files(), files - 1, "no data file left");
    struct obj_precond e2 = {.if_none_match_any = true};
    is_int(put_if(st, "k", "five", NULL, NULL), TS_OK, "unconditional write");
    is_int(obj_precond_early(st, "cbk", "k", &e2), TS_E_PRECONDITION_FAILED, "early 412");
}

#define RACERS 16

struct racer {
    struct obj_store *st;
    const char *key;
    pthread_barrier_t *go;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct obj_precond none = {.if_none_match_any = true};
    char body[32];
    snprintf(body, sizeof body, "racer %p", arg);
    /* Every racer passes the early check before any commits: only the commit's check decides. */
    int rc = obj_precond_early(r->st, "cbk", r->key, &none);
    pthread_barrier_wait(r->go);
    r->rc = rc == TS_OK ? put_if(r->st, r->key, body, &none, NULL) : rc;
    return NULL;
}

static void test_race(struct obj_store *st)
{
    for (int round = 0; round < 5; round++) {
        char key[32];
        pthread_t th[RACERS];
        struct racer rs[RACERS];
        pthread_barrier_t go;
        snprintf(key, sizeof key, "race-%d", round);
        pthread_barrier_init(&go, NULL, RACERS);
        size_t files = data_files();
        for (int i = 0; i < RACERS; i++) {
            rs[i] = (struct racer){st, key, &go, -1};
            pthread_create(&th[i], NULL, race, &rs[i]);
        }
        int won = 0, lost = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(th[i], NULL);
            won += rs[i].rc == TS_OK;
            lost += rs[i].rc == TS_E_PRECONDITION_FAILED;
        }
        pthread_barrier_destroy(&go);
        is_int(won, 1, "exactly one If-None-Match: * write wins");
        is_int(lost, RACERS - 1, "every other one is 412");
        is_int(data_files(), files + 1, "only the winner's data file is kept");
    }
}

static void test_complete(struct obj_store *st)
{
    char up[OBJ_ID_LEN + 1];
    struct obj_meta m = {0}, out;
    struct obj_writer *w;
    struct obj_part_ref ref = {.number = 1};
    uint8_t md5[16];
    is_int(obj_upload_create(st, "cbk", "mp", &m, up), TS_OK, "create upload");
    obj_writer_new(st, &w);
    obj_writer_write(w, (const uint8_t *)"part", 4);
    obj_writer_finish(w, md5);
    enc_hex(md5, 16, ref.etag);
    is_int(obj_part_commit(st, "cbk", "mp", up, 1, w, ref.etag, NULL), TS_OK, "part");
    obj_writer_free(w);
    is_int(put_if(st, "mp", "there first", NULL, NULL), TS_OK, "a PUT wins the key");
    size_t files = data_files();
    struct obj_precond none = {.if_none_match_any = true};
    is_int(obj_upload_complete_if(st, "cbk", "mp", up, &ref, 1, &none, &out),
           TS_E_PRECONDITION_FAILED, "completion with If-None-Match: 412");
    is_int(data_files(), files, "the refused concatenation removed");
    is_int(obj_upload_get(st, "cbk", "mp", up, NULL), TS_OK, "the upload is kept");
    struct obj_precond wrong = {.if_match = "nope"};
    is_int(obj_upload_complete_if(st, "cbk", "mp", up, &ref, 1, &wrong, &out),
           TS_E_PRECONDITION_FAILED, "completion with another ETag: 412");
    struct obj_meta cur;
    is_int(obj_object_head(st, "cbk", "mp", &cur), TS_OK, "head");
    struct obj_precond right = {.if_match = cur.etag};
    is_int(obj_upload_complete_if(st, "cbk", "mp", up, &ref, 1, &right, &out), TS_OK,
           "completion with the current ETag");
    obj_meta_cleanup(&cur);
    obj_meta_cleanup(&out);
    /* The precondition is checked in the completion's transaction, not only early: a key
     * created between the early check and the commit refuses it. */
    is_int(obj_upload_create(st, "cbk", "mp2", &m, up), TS_OK, "second upload");
    obj_writer_new(st, &w);
    obj_writer_write(w, (const uint8_t *)"part", 4);
    obj_writer_finish(w, NULL);
    is_int(obj_part_commit(st, "cbk", "mp2", up, 1, w, ref.etag, NULL), TS_OK, "part 2");
    obj_writer_free(w);
    MDB_txn *txn;
    is_int(mdb_txn_begin(st->env, NULL, 0, &txn), 0, "write txn");
    is_int(obj_int_precond_txn(st, txn, "cbk", "mp2", &none), TS_OK, "absent in txn");
    mdb_txn_abort(txn);
    is_int(put_if(st, "mp2", "raced", NULL, NULL), TS_OK, "a PUT lands");
    is_int(mdb_txn_begin(st->env, NULL, 0, &txn), 0, "write txn");
    is_int(obj_int_precond_txn(st, txn, "cbk", "mp2", &none), TS_E_PRECONDITION_FAILED,
           "present in txn");
    mdb_txn_abort(txn);
}

int main(void)
{
    struct obj_store *st = NULL;
    snprintf(dir, sizeof dir, "/tmp/ts-precond-%d", (int)getpid());
    is_int(obj_store_open(dir, &st), TS_OK, "open");
    if (st == NULL)
        return t_done();
    is_int(obj_bucket_create(st, "cbk"), TS_OK, "bucket");
    test_check();
    test_put(st);
    test_race(st);
    test_complete(st);
    obj_store_close(st);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    return t_done();
}
