/* iam_cluster_stub.c -- TEMPORARY (branch h16-ops only): the LMDB side of the cluster
 * functions of idp/iam.h until h16-kv (idp/iam.c over idp/kv.h) is merged. The lead deletes
 * this file at merge. Node records are kept in this process only. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "idp/iam.h"
#include "idp/kv.h"

#define STUB_NODES 16

static pthread_mutex_t stub_mu = PTHREAD_MUTEX_INITIALIZER;
static char *stub_id[STUB_NODES], *stub_rec[STUB_NODES];

int iam_store_fresh(struct iam_store *st, struct ts_error *err)
{
    (void)st, (void)err;
    return TS_OK;
}

void iam_store_status(struct iam_store *st, struct kv_status *out)
{
    (void)st;
    memset(out, 0, sizeof *out);
    out->engine = "lmdb";
    out->fresh = true;
    out->synced_ms_ago = 0;
}

int iam_node_put(struct iam_store *st, const char *id, const char *json)
{
    int rc = TS_E_STORAGE_FULL;
    (void)st;
    pthread_mutex_lock(&stub_mu);
    for (size_t i = 0; i < STUB_NODES; i++)
        if (stub_id[i] == NULL || strcmp(stub_id[i], id) == 0) {
            char *d = strdup(json);
            if (stub_id[i] == NULL)
                stub_id[i] = strdup(id);
            free(stub_rec[i]);
            stub_rec[i] = d;
            rc = TS_OK;
            break;
        }
    pthread_mutex_unlock(&stub_mu);
    return rc;
}

int iam_node_list(struct iam_store *st, struct iam_strv *ids, struct iam_strv *records)
{
    (void)st;
    memset(ids, 0, sizeof *ids);
    memset(records, 0, sizeof *records);
    ids->v = calloc(STUB_NODES + 1, sizeof *ids->v);
    records->v = calloc(STUB_NODES + 1, sizeof *records->v);
    pthread_mutex_lock(&stub_mu);
    for (size_t i = 0; i < STUB_NODES && ids->v && records->v; i++)
        if (stub_id[i] != NULL) {
            ids->v[ids->n++] = strdup(stub_id[i]);
            records->v[records->n++] = strdup(stub_rec[i]);
        }
    pthread_mutex_unlock(&stub_mu);
    return TS_OK;
}

int iam_node_remove(struct iam_store *st, const char *id)
{
    int rc = TS_E_NO_SUCH_ENTITY;
    (void)st;
    pthread_mutex_lock(&stub_mu);
    for (size_t i = 0; i < STUB_NODES; i++)
        if (stub_id[i] != NULL && strcmp(stub_id[i], id) == 0) {
            free(stub_id[i]);
            free(stub_rec[i]);
            stub_id[i] = stub_rec[i] = NULL;
            rc = TS_OK;
        }
    pthread_mutex_unlock(&stub_mu);
    return rc;
}
