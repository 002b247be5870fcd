/* test_lock.c -- object lock in the storage engine: the retention decision (removal and change of
 * a retention, pure), the bucket configuration's encoding, its tie to versioning, and the
 * protection applied inside the store's delete of a version -- the function every path calls
 * (S3 DELETE and DeleteObjects with or without the bypass flag, lifecycle without) -- including a
 * record whose lock section does not decode (the delete is refused: fail closed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "objstore/obj_int.h"
#include "tests/harness/t.h"

#define NOW 1000000
#define G OBJ_LOCK_GOVERNANCE
#define C OBJ_LOCK_COMPLIANCE

static struct obj_meta locked(uint8_t mode, int64_t until, uint8_t hold)
{
    struct obj_meta m = {0};
    m.lock_mode = mode;
    m.lock_until = until;
    m.legal_hold = hold;
    return m;
}

static void test_remove_rule(void)
{
    static const struct {
        uint8_t mode;
        int64_t until;
        uint8_t hold;
        bool bypass;
        int want;
        const char *what;
    } v[] = {
        {0, 0, 0, false, TS_OK, "nothing"},
        {0, 0, OBJ_HOLD_OFF, false, TS_OK, "legal hold OFF"},
        {0, 0, OBJ_HOLD_ON, true, TS_E_ACCESS_DENIED, "legal hold ON, bypass or not"},
        {G, NOW + 1, 0, false, TS_E_ACCESS_DENIED, "GOVERNANCE"},
        {G, NOW + 1, 0, true, TS_OK, "GOVERNANCE with the bypass"},
        {G, NOW + 1, OBJ_HOLD_ON, true, TS_E_ACCESS_DENIED, "GOVERNANCE + hold with the bypass"},
        {C, NOW + 1, 0, true, TS_E_ACCESS_DENIED, "COMPLIANCE with the bypass"},
        {C, NOW, 0, false, TS_OK, "COMPLIANCE until now: past"},
        {G, NOW - 1, 0, false, TS_OK, "GOVERNANCE past"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        struct obj_meta m = locked(v[i].mode, v[i].until, v[i].hold);
        is_int(obj_lock_check_remove(&m, NOW, v[i].bypass), v[i].want, v[i].what);
    }
}

static void test_retention_rule(void)
{
    static const struct {
        uint8_t mode;
        int64_t until;
        uint8_t new_mode;
        int64_t new_until;
        bool bypass;
        int want;
        const char *what;
    } v[] = {
        {0, 0, G, NOW + 5, false, TS_OK, "none -> GOVERNANCE"},
        {G, NOW + 5, G, NOW + 9, false, TS_OK, "GOVERNANCE extended"},
        {G, NOW + 5, G, NOW + 5, false, TS_OK, "GOVERNANCE the same"},
        {G, NOW + 5, G, NOW + 2, false, TS_E_ACCESS_DENIED, "GOVERNANCE shortened"},
        {G, NOW + 5, G, NOW + 2, true, TS_OK, "GOVERNANCE shortened with the bypass"},
        {G, NOW + 5, 0, 0, false, TS_E_ACCESS_DENIED, "GOVERNANCE removed"},
        {G, NOW + 5, 0, 0, true, TS_OK, "GOVERNANCE removed with the bypass"},
        {G, NOW + 5, C, NOW + 9, false, TS_E_ACCESS_DENIED, "GOVERNANCE -> COMPLIANCE"},
        {G, NOW + 5, C, NOW + 9, true, TS_OK, "GOVERNANCE -> COMPLIANCE with the bypass"},
        {C, NOW + 5, C, NOW + 9, false, TS_OK, "COMPLIANCE extended"},
        {C, NOW + 5, C, NOW + 2, true, TS_E_ACCESS_DENIED, "COMPLIANCE shortened, bypass"},
        {C, NOW + 5, G, NOW + 9, true, TS_E_ACCESS_DENIED, "COMPLIANCE -> GOVERNANCE, bypass"},
        {C, NOW + 5, 0, 0, true, TS_E_ACCESS_DENIED, "COMPLIANCE removed, bypass"},
        {C, NOW - 5, 0, 0, false, TS_OK, "COMPLIANCE past: removed"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        struct obj_meta m = locked(v[i].mode, v[i].until, 0);
        is_int(obj_lock_check_retention(&m, v[i].new_mode, v[i].new_until, NOW, v[i].bypass),
               v[i].want, v[i].what);
    }
}

static void test_conf_codec(void)
{
    struct obj_lock_conf c = {true, C, 0, 7}, d;
    char buf[64];
    size_t n = obj_lock_conf_encode(&c, buf);
    is_str(buf, "Enabled COMPLIANCE 7 Years", "encoded");
    ok(obj_lock_conf_decode(buf, n, &d) == TS_OK && d.enabled && d.mode == C && d.years == 7 &&
           d.days == 0,
       "decoded");
    static const char *const bad[] = {"",
                                      "Disabled",
                                      "Enabled ",
                                      "Enabled GOVERNANCE 0 Days",
                                      "Enabled GOVERNANCE 1 Weeks",
                                      "Enabled governance 1 Days",
                                      "Enabled GOVERNANCE 1 Days x",
                                      "Enabled GOVERNANCE 36501 Days",
                                      "Enabled COMPLIANCE 101 Years"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ok(obj_lock_conf_decode(bad[i], strlen(bad[i]), &d) != TS_OK && !d.enabled,
           "\"%s\" refused", bad[i]);
    struct obj_meta m = {0};
    struct obj_lock_conf dd = {true, G, 2, 0};
    obj_lock_default(&dd, &m, NOW);
    ok(m.lock_mode == G && m.lock_until == NOW + 2 * 86400, "default retention: 2 days");
    m.lock_until = NOW + 5;
    obj_lock_default(&dd, &m, NOW);
    is_int(m.lock_until, NOW + 5, "a version's own retention is kept");
}

static int put(struct obj_store *st, const char *b, const char *k, char *vid)
{
    struct obj_writer *w;
    struct obj_meta m = {0};
    uint8_t md5[16];
    int rc = obj_writer_new(st, &w);
    if (rc == TS_OK)
        rc = obj_writer_write(w, (const uint8_t *)"data", 4);
    if (rc == TS_OK)
        rc = obj_writer_finish(w, md5);
    if (rc == TS_OK) {
        enc_hex(md5, 16, m.etag);
        m.mtime = (int64_t)enc_now();
        rc = obj_object_commit(st, b, k, w, &m);
        strcpy(vid, m.vid);
    }
    obj_meta_cleanup(&m);
    obj_writer_free(w);
    return rc;
}

/* Changes the last byte-but-9 of version vid's record in "versions" (its lock section's mode,
 * the last section) to v, as a damaged record would be. */
static int damage(struct obj_store *st, const char *key, uint8_t v)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, val;
    int found = 0;
    if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
        return -1;
    mdb_cursor_open(txn, st->db_versions, &cur);
    while (!found && mdb_cursor_get(cur, &k, &val, MDB_NEXT) == 0) {
        if (val.mv_size > 4 + strlen(key) + 10 && memcmp((char *)val.mv_data + 4, key, 3) == 0) {
            uint8_t *copy = malloc(val.mv_size);
            memcpy(copy, val.mv_data, val.mv_size);
            copy[val.mv_size - 10] = v;
            MDB_val nv = {val.mv_size, copy};
            found = mdb_cursor_put(cur, &k, &nv, MDB_CURRENT) == 0;
            free(copy);
        }
    }
    mdb_cursor_close(cur);
    return mdb_txn_commit(txn) == 0 && found ? 0 : -1;
}

static void test_store(struct obj_store *st)
{
    char v1[OBJ_VID_LEN + 1], v2[OBJ_VID_LEN + 1], v3[OBJ_VID_LEN + 1];
    struct obj_del_res res;
    struct obj_lock_conf lc = {true, OBJ_LOCK_NONE, 0, 0}, got;
    int64_t far = (int64_t)enc_now() + 3600;
    is_int(obj_bucket_create(st, "lockb"), TS_OK, "bucket");
    is_int(obj_lock_conf_put(st, "lockb", &lc), TS_E_INVALID_BUCKET_STATE, "lock needs versioning");
    is_int(obj_versioning_set(st, "lockb", OBJ_VER_ENABLED), TS_OK, "versioning");
    is_int(obj_lock_conf_put(st, "lockb", &lc), TS_OK, "lock enabled");
    is_int(obj_versioning_set(st, "lockb", OBJ_VER_SUSPENDED), TS_E_INVALID_BUCKET_STATE,
           "versioning stays Enabled");
    is_int(put(st, "lockb", "key", v1), TS_OK, "v1");
    is_int(put(st, "lockb", "key", v2), TS_OK, "v2");
    is_int(obj_version_retention_set(st, "lockb", "key", v1, G, far, false), TS_OK, "retain v1");
    /* The function lifecycle calls (no flags): refused; the version is still there. */
    is_int(obj_object_delete_version(st, "lockb", "key", v1, &res), TS_E_ACCESS_DENIED, "v1 kept");
    struct obj_meta m;
    is_int(obj_version_head(st, "lockb", "key", v1, &m), TS_OK, "v1 readable");
    ok(m.lock_mode == G && m.lock_until == far, "its retention");
    obj_meta_cleanup(&m);
    is_int(obj_version_legal_hold_set(st, "lockb", "key", v2, OBJ_HOLD_ON), TS_OK, "hold v2");
    is_int(obj_object_delete_version_flags(st, "lockb", "key", v2, OBJ_DEL_BYPASS_GOVERNANCE, &res),
           TS_E_ACCESS_DENIED, "the current version under a legal hold: kept, bypass or not");
    is_int(obj_object_delete_version(st, "lockb", "key", NULL, &res), TS_OK, "a delete marker");
    ok(res.dm, "is a marker");
    is_int(obj_object_delete_version_flags(st, "lockb", "key", v1, OBJ_DEL_BYPASS_GOVERNANCE, &res),
           TS_OK, "v1 with the bypass");
    is_int(obj_version_legal_hold_set(st, "lockb", "key", v2, OBJ_HOLD_OFF), TS_OK, "unhold v2");
    is_int(obj_object_delete_version(st, "lockb", "key", v2, &res), TS_OK, "v2 then");
    /* A retention already past protects nothing. */
    is_int(put(st, "lockb", "old", v3), TS_OK, "v3");
    is_int(obj_version_retention_set(st, "lockb", "old", v3, C, (int64_t)enc_now() - 10, false),
           TS_OK, "a past COMPLIANCE date");
    is_int(obj_object_delete_version(st, "lockb", "old", v3, &res), TS_OK, "deleted");
    /* The default retention, applied in the write's transaction. */
    lc = (struct obj_lock_conf){true, C, 1, 0};
    is_int(obj_lock_conf_put(st, "lockb", &lc), TS_OK, "default retention");
    ok(obj_lock_conf_get(st, "lockb", &got) == TS_OK && got.mode == C && got.days == 1,
       "read back");
    is_int(put(st, "lockb", "def", v3), TS_OK, "v3 with the default");
    is_int(put(st, "lockb", "def", v2), TS_OK, "v2 over it");
    is_int(obj_version_head(st, "lockb", "def", v3, &m), TS_OK, "v3 head");
    ok(m.lock_mode == C && m.lock_until > far, "COMPLIANCE for a day");
    obj_meta_cleanup(&m);
    is_int(obj_object_delete_version_flags(st, "lockb", "def", v3, OBJ_DEL_BYPASS_GOVERNANCE, &res),
           TS_E_ACCESS_DENIED, "COMPLIANCE: by nobody");
    /* A damaged lock section: the record does not decode and the delete is refused. */
    ok(damage(st, "def", 9) == 0, "(damaged v3's record)");
    ok(obj_object_delete_version_flags(st, "lockb", "def", v3, OBJ_DEL_BYPASS_GOVERNANCE, &res) !=
           TS_OK,
       "a record that does not decode is never removed");
    is_int(obj_bucket_delete(st, "lockb"), TS_E_BUCKET_NOT_EMPTY, "versions remain");
}

int main(void)
{
    char dir[] = "/tmp/tessera-lock-XXXXXX";
    struct obj_store *st;
    test_remove_rule();
    test_retention_rule();
    test_conf_codec();
    if (mkdtemp(dir) == NULL)
        return 1;
    is_int(obj_store_open(dir, &st), TS_OK, "open");
    if (st != NULL) {
        test_store(st);
        obj_store_close(st);
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return t_done();
}
