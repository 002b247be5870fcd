/* bench_fill -- fills a bucket with N empty objects through the storage engine (objstore/
 * obj_int.h) directly, in large LMDB transactions: the ListObjectsV2 benchmark needs a bucket
 * of 1,000,000 keys, which would take far too long through durable PUTs. Every object points at
 * one empty data file (made with the engine's writer), so the store stays consistent.
 *
 *   bench_fill DATA_DIR BUCKET N        keys are "obj/%07u"; run before the server starts
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "objstore/obj_int.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_fill DATA_DIR BUCKET N\n");
        return 2;
    }
    unsigned n = (unsigned)strtoul(argv[3], NULL, 10);
    struct obj_store *st;
    if (obj_store_open(argv[1], &st) != TS_OK)
        return 1;
    int rc = obj_bucket_create(st, argv[2]);
    if (rc != TS_OK && rc != TS_E_BUCKET_EXISTS) {
        fprintf(stderr, "bucket create failed: %d\n", rc);
        return 1;
    }
    struct obj_writer *w;
    uint8_t md5[16];
    if (obj_writer_new(st, &w) != TS_OK || obj_writer_finish(w, md5) != TS_OK)
        return 1;
    struct obj_meta m = {0};
    memcpy(m.id, obj_writer_id(w), sizeof m.id);
    m.size = 0;
    m.mtime = (int64_t)time(NULL);
    snprintf(m.etag, sizeof m.etag, "d41d8cd98f00b204e9800998ecf8427e");
    m.content_type = "binary/octet-stream";
    size_t elen;
    void *enc = obj_meta_encode(&m, &elen);
    m.content_type = NULL;
    if (enc == NULL)
        return 1;
    /* One reference through the normal commit (so the data file counts as committed). */
    char key[64];
    snprintf(key, sizeof key, "obj/%07u", 0u);
    if (obj_object_commit(st, argv[2], key, w, &m) != TS_OK)
        return 1;
    obj_writer_committed(w);
    obj_writer_free(w);
    const unsigned batch = 50000;
    for (unsigned i = 1; i < n;) {
        MDB_txn *txn;
        if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
            return 1;
        for (unsigned j = 0; j < batch && i < n; j++, i++) {
            char old[OBJ_ID_LEN + 1] = "";
            snprintf(key, sizeof key, "obj/%07u", i);
            if (obj_int_object_put_txn(st, txn, argv[2], key, enc, elen, old) != TS_OK) {
                fprintf(stderr, "put %s failed\n", key);
                mdb_txn_abort(txn);
                return 1;
            }
        }
        if (obj_int_commit(st, txn) != TS_OK)
            return 1;
    }
    free(enc);
    obj_store_close(st);
    return 0;
}
