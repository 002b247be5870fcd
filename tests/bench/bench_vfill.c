/* bench_vfill -- fills a versioned bucket with NKEYS keys of NVERS versions each through the
 * storage engine's versioned write (obj_int_object_write_txn, the one PutObject uses) in large
 * LMDB transactions, for the ListObjectVersions benchmark (1,000,000 versions would take far
 * too long through durable PUTs). Every version points at one empty data file.
 *
 *   bench_vfill DATA_DIR BUCKET NKEYS NVERS     keys "obj/%07u"; run before the server starts
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "objstore/obj_int.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_vfill DATA_DIR BUCKET NKEYS NVERS\n");
        return 2;
    }
    unsigned nk = (unsigned)strtoul(argv[3], NULL, 10), nv = (unsigned)strtoul(argv[4], NULL, 10);
    struct obj_store *st;
    struct obj_writer *w;
    uint8_t md5[16];
    if (obj_store_open(argv[1], &st) != TS_OK)
        return 1;
    int rc = obj_bucket_create(st, argv[2]);
    if ((rc != TS_OK && rc != TS_E_BUCKET_EXISTS) ||
        obj_versioning_set(st, argv[2], OBJ_VER_ENABLED) != TS_OK)
        return 1;
    if (obj_writer_new(st, &w) != TS_OK || obj_writer_finish(w, md5) != TS_OK)
        return 1;
    struct obj_meta m = {0};
    char key[64];
    m.mtime = (int64_t)time(NULL);
    snprintf(m.etag, sizeof m.etag, "d41d8cd98f00b204e9800998ecf8427e");
    snprintf(key, sizeof key, "obj/%07u", 0u);
    if (obj_object_commit(st, argv[2], key, w, &m) != TS_OK) /* the data file counts */
        return 1;
    obj_writer_committed(w);
    obj_writer_free(w);
    unsigned long total = (unsigned long)nk * nv, done = 1;
    while (done < total) {
        MDB_txn *txn;
        if (mdb_txn_begin(st->env, NULL, 0, &txn) != 0)
            return 1;
        for (unsigned j = 0; j < 50000 && done < total; j++, done++) {
            char old[OBJ_ID_LEN + 1];
            snprintf(key, sizeof key, "obj/%07lu", done / nv);
            if (obj_int_object_write_txn(st, txn, argv[2], key, &m, old) != TS_OK) {
                fprintf(stderr, "put %s failed\n", key);
                mdb_txn_abort(txn);
                return 1;
            }
        }
        if (obj_int_commit(st, txn) != TS_OK)
            return 1;
    }
    obj_store_close(st);
    return 0;
}
