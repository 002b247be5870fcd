/* cluster.c -- node heartbeats and `tessera admin cluster status` (sts/cluster.h).
 *
 * One thread per server writes the node's record every CLUSTER_HEARTBEAT_S seconds; request
 * threads never wait on it (the status endpoint only reads the store). The thread sleeps on a
 * condition variable (CLOCK_MONOTONIC), so stopping it is immediate.
 */
#include "sts/cluster.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "idp/kv.h"
#include "sts/sts_int.h"

#define CLUSTER_MAX_KEYS 64
#define CLUSTER_PRUNE_EVERY 30 /* heartbeats between two looks for forgotten records */

struct sts_cluster {
    struct sts_ctx *c;
    char id[CLUSTER_ID_LEN + 1];
    char *address, *version;
    time_t started;
    pthread_t thread;
    bool running; /* the thread was started */
    bool stop;    /* under mu */
    bool removed; /* the record was removed (sts_cluster_stop) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

struct sts_cluster *sts_cluster_new(struct sts_ctx *c)
{
    struct sts_cluster *cl = calloc(1, sizeof *cl);
    pthread_condattr_t ca;
    uint8_t raw[CLUSTER_ID_LEN / 2];

    if (cl == NULL || enc_random(raw, sizeof raw) != 0) {
        fprintf(stderr, "tessera: cluster: cannot draw a node id\n");
        free(cl);
        return NULL;
    }
    enc_hex(raw, sizeof raw, cl->id);
    cl->id[CLUSTER_ID_LEN] = '\0';
    cl->c = c;
    cl->started = enc_now();
    pthread_mutex_init(&cl->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cl->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->cluster = cl;
    return cl;
}

/* The node's record now (malloc'ed JSON text), or NULL. */
static char *record_text(struct sts_cluster *cl)
{
    char ids[CLUSTER_MAX_KEYS][STS_KID_LEN + 1], mint[STS_KID_LEN + 1];
    size_t n = sts_key_ids(cl->c, ids, CLUSTER_MAX_KEYS, mint);
    struct kv_status ks;
    json_t *keys = json_array(), *o;
    char *text;

    memset(&ks, 0, sizeof ks);
    iam_store_status(cl->c->st, &ks);
    for (size_t i = 0; keys != NULL && i < n; i++)
        json_array_append_new(keys, json_string(ids[i]));
    pthread_mutex_lock(&cl->mu); /* address and version are set by sts_cluster_start */
    o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:o, s:s}", "id", cl->id, "address",
                  cl->address != NULL ? cl->address : "", "version",
                  cl->version != NULL ? cl->version : "", "started", (json_int_t)cl->started,
                  "updated", (json_int_t)enc_now(), "revision", (json_int_t)ks.revision, "engine",
                  ks.engine != NULL ? ks.engine : "", "key_ids", keys != NULL ? keys : json_array(),
                  "mint_key_id", mint);
    pthread_mutex_unlock(&cl->mu);
    text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* Writes the record; a failure is logged (once per failing streak). */
static void beat(struct sts_cluster *cl, bool *failing)
{
    char *text = record_text(cl);
    int rc = text != NULL ? iam_node_put(cl->c->st, cl->id, text) : TS_E_INTERNAL;

    if (rc != TS_OK && !*failing)
        log_kv(LOG_WARN, "cluster.heartbeat", "node", cl->id, "error", ts_err_code(rc), NULL);
    else if (rc == TS_OK && *failing)
        log_kv(LOG_INFO, "cluster.heartbeat", "node", cl->id, "result", "ok", NULL);
    *failing = rc != TS_OK;
    free(text);
}

/* Removes the records of nodes silent for more than CLUSTER_FORGET_S. */
static void forget_silent(struct sts_cluster *cl)
{
    struct iam_strv ids = {0}, recs = {0};
    time_t now = enc_now();

    if (iam_node_list(cl->c->st, &ids, &recs) != TS_OK)
        return;
    for (size_t i = 0; i < ids.n && i < recs.n; i++) {
        json_t *o = json_loads(recs.v[i], 0, NULL);
        json_t *u = json_object_get(o, "updated");
        if (json_is_integer(u) && now - (time_t)json_integer_value(u) > CLUSTER_FORGET_S &&
            iam_node_remove(cl->c->st, ids.v[i]) == TS_OK)
            log_kv(LOG_INFO, "cluster.forget", "node", ids.v[i], NULL);
        json_decref(o);
    }
    iam_strv_free(&ids);
    iam_strv_free(&recs);
}

static void *heartbeat_main(void *arg)
{
    struct sts_cluster *cl = arg;
    bool failing = false;
    unsigned beats = 0;
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    pthread_mutex_lock(&cl->mu);
    while (!cl->stop) {
        t.tv_sec += CLUSTER_HEARTBEAT_S;
        while (!cl->stop && pthread_cond_timedwait(&cl->cv, &cl->mu, &t) == 0)
            ;
        if (cl->stop)
            break;
        pthread_mutex_unlock(&cl->mu);
        beat(cl, &failing);
        if (++beats % CLUSTER_PRUNE_EVERY == 0)
            forget_silent(cl);
        pthread_mutex_lock(&cl->mu);
    }
    pthread_mutex_unlock(&cl->mu);
    return NULL;
}

int sts_cluster_start(struct sts_cluster *cl, const char *address, const char *version)
{
    bool failing = false;
    char *a = strdup(address != NULL ? address : ""), *v = strdup(version != NULL ? version : "");

    if (a == NULL || v == NULL) {
        free(a);
        free(v);
        return TS_E_INTERNAL;
    }
    pthread_mutex_lock(&cl->mu);
    cl->address = a;
    cl->version = v;
    pthread_mutex_unlock(&cl->mu);
    beat(cl, &failing);
    forget_silent(cl);
    if (pthread_create(&cl->thread, NULL, heartbeat_main, cl) != 0) {
        fprintf(stderr, "tessera: cluster: cannot start the heartbeat thread\n");
        return TS_E_INTERNAL;
    }
    cl->running = true;
    log_kv(LOG_INFO, "cluster.start", "node", cl->id, "address", cl->address, NULL);
    return TS_OK;
}

void sts_cluster_stop(struct sts_cluster *cl)
{
    if (cl == NULL)
        return;
    if (cl->running) {
        pthread_mutex_lock(&cl->mu);
        cl->stop = true;
        pthread_cond_signal(&cl->cv);
        pthread_mutex_unlock(&cl->mu);
        pthread_join(cl->thread, NULL);
        cl->running = false;
    }
    if (cl->address != NULL && !cl->removed) {
        cl->removed = true;
        if (iam_node_remove(cl->c->st, cl->id) == TS_OK)
            log_kv(LOG_INFO, "cluster.stop", "node", cl->id, NULL);
    }
}

void sts_cluster_free(struct sts_cluster *cl)
{
    if (cl == NULL)
        return;
    sts_cluster_stop(cl);
    if (cl->c->cluster == cl)
        cl->c->cluster = NULL;
    pthread_cond_destroy(&cl->cv);
    pthread_mutex_destroy(&cl->mu);
    free(cl->address);
    free(cl->version);
    free(cl);
}

json_t *cluster_node_json(const char *id, const char *record, const char *self_id, time_t now)
{
    json_t *o = json_loads(record != NULL ? record : "", JSON_REJECT_DUPLICATES, NULL);
    json_t *u = json_object_get(o, "updated");
    json_int_t age;

    if (!json_is_object(o) || !json_is_integer(u)) {
        json_decref(o);
        return json_pack("{s:s, s:b, s:s}", "id", id, "up", 0, "error", "malformed record");
    }
    age = (json_int_t)now - json_integer_value(u);
    /* the key is the id: a record never names another node */
    if (json_object_set_new(o, "id", json_string(id)) != 0 ||
        json_object_set_new(o, "up", json_boolean(age <= CLUSTER_UP_S && age >= -CLUSTER_UP_S)) !=
            0 ||
        json_object_set_new(o, "age_s", json_integer(age)) != 0 ||
        json_object_set_new(o, "self", json_boolean(self_id != NULL && strcmp(id, self_id) == 0)) !=
            0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The store's own status as the first members of the answer. */
static json_t *store_json(struct iam_store *st)
{
    struct kv_status ks;
    struct ts_error fe = {0};
    int fresh;

    memset(&ks, 0, sizeof ks);
    iam_store_status(st, &ks);
    fresh = iam_store_fresh(st, &fe);
    return json_pack("{s:s, s:I, s:b, s:s*, s:I, s:I, s:s}", "engine",
                     ks.engine != NULL ? ks.engine : "", "revision", (json_int_t)ks.revision,
                     "fresh", fresh == TS_OK, "message", fresh == TS_OK ? NULL : ts_error_msg(&fe),
                     "synced_ms_ago", (json_int_t)ks.synced_ms_ago, "resyncs",
                     (json_int_t)ks.resyncs, "endpoint", ks.endpoint);
}

static int add_node(json_t *nodes, const char *id, const char *record, const char *self, time_t now)
{
    json_t *n = cluster_node_json(id, record, self, now);
    return n != NULL && json_array_append_new(nodes, n) == 0 ? TS_OK : TS_E_INTERNAL;
}

int sts_cluster_status(struct iam_store *st, struct sts_ctx *sts, json_t **out)
{
    struct iam_strv ids = {0}, recs = {0};
    const char *self = sts != NULL && sts->cluster != NULL ? sts->cluster->id : NULL;
    time_t now = enc_now();
    json_t *o, *nodes;
    bool self_seen = false;
    int rc = iam_node_list(st, &ids, &recs);

    if (rc != TS_OK)
        return rc;
    o = store_json(st);
    nodes = json_array();
    if (o == NULL || nodes == NULL ||
        json_object_set_new(o, "node", self ? json_string(self) : json_null()) != 0) {
        rc = TS_E_INTERNAL;
        goto out;
    }
    /* this node as it is now (its last heartbeat may be 2 s old), listed even when its
     * heartbeat could not be written */
    for (size_t i = 0; i < ids.n && i < recs.n && rc == TS_OK; i++) {
        bool me = self != NULL && strcmp(ids.v[i], self) == 0;
        char *live = me ? record_text(sts->cluster) : NULL;
        self_seen = self_seen || me;
        rc = add_node(nodes, ids.v[i], live != NULL ? live : recs.v[i], self, now);
        free(live);
    }
    if (rc == TS_OK && self != NULL && !self_seen) {
        char *live = record_text(sts->cluster);
        rc = live != NULL ? add_node(nodes, self, live, self, now) : TS_E_INTERNAL;
        free(live);
    }
    if (rc != TS_OK)
        goto out;
    json_object_set(o, "nodes", nodes);
    *out = o;
    o = NULL;
out:
    json_decref(nodes);
    json_decref(o);
    iam_strv_free(&ids);
    iam_strv_free(&recs);
    return rc;
}
