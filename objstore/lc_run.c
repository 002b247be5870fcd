/* lc_run.c -- the lifecycle task: one pass walks every bucket that has a lifecycle
 * configuration (lc.h) and carries out its enabled rules as of an instant: expiration of
 * current versions (an unversioned bucket: the object goes; a versioned one: a delete marker is
 * added), removal of expired object delete markers, expiration of noncurrent versions (days
 * since the version's successor was written, the NewerNoncurrentVersions newest kept) and the
 * abort of incomplete multipart uploads.
 *
 * Bounded work: the walk reads pages of LC_BATCH entries (one short read transaction each) and
 * every action is one short write transaction of the store's own delete (obj_object_expire) or
 * abort (obj_upload_abort): nothing holds a write transaction across a bucket, and each action
 * checks in its transaction that the version is still the one evaluated. A refused delete (a
 * protected version) is skipped and counted, not an error. The periodic thread polls its stop
 * flag between actions and pages.
 */
#include "objstore/lc.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "objstore/obj_int.h"

#define LC_BATCH 256

/* One pass: its instant, its stop flag (NULL: none), its counts. */
struct lc_pass {
    struct obj_store *st;
    int64_t now;
    const atomic_bool *stop;
    struct obj_lc_counts *n;
    const char *bucket;
    const struct lc_conf *conf;
};

static bool stopped(const struct lc_pass *p)
{
    return p->stop != NULL && atomic_load(p->stop);
}

/* Counts the result of one action: done (true), skipped (raced, or refused: a protected
 * version) or an error of the store. */
static bool tally(struct lc_pass *p, int rc, uint64_t *done)
{
    if (rc == TS_OK)
        (*done)++;
    else if (rc == TS_E_INTERNAL || rc == TS_E_STORAGE_FULL || ts_err_status(rc) >= 500)
        p->n->errors++;
    else
        p->n->skipped++;
    return rc == TS_OK;
}

/* The tags of version vid (NULL: the current) of key, read once per entry. */
struct lc_tags {
    bool read;
    struct obj_meta m;
};

static void read_tags(struct lc_pass *p, const char *key, const char *vid, struct lc_tags *t)
{
    if (!t->read) {
        memset(&t->m, 0, sizeof t->m);
        if (obj_version_head(p->st, p->bucket, key, vid, &t->m) != TS_OK)
            memset(&t->m, 0, sizeof t->m); /* gone meanwhile: no tags (the delete rechecks) */
        t->read = true;
    }
}

static bool rule_matches(struct lc_pass *p, const struct lc_rule *r, const char *key,
                         const char *vid, uint64_t size, struct lc_tags *t)
{
    if (lc_needs_tags(&r->f))
        read_tags(p, key, vid, t);
    return lc_match(&r->f, key, strlen(key), size, t->m.tags, t->m.ntags);
}

static void tags_done(struct lc_tags *t)
{
    if (t->read)
        obj_meta_cleanup(&t->m);
}

/* Loads the tags of the version for lc_expiration (struct lc_object.load_tags). */
struct lc_cur_tags {
    struct lc_pass *p;
    const char *key, *vid;
    struct lc_tags t;
};

static void load_current_tags(void *ctx, const struct http_kv **tags, size_t *ntags)
{
    struct lc_cur_tags *ct = ctx;
    read_tags(ct->p, ct->key, ct->vid, &ct->t);
    *tags = ct->t.m.tags;
    *ntags = ct->t.m.ntags;
}

/* The current version (key, vid, mtime, size): expired when a rule's expiration has come for
 * it (lc_expiration, which the x-amz-expiration header also answers). */
static void eval_current(struct lc_pass *p, const char *key, const char *vid, bool versioned,
                         int64_t mtime, uint64_t size)
{
    struct lc_cur_tags ct = {p, key, versioned ? vid : NULL, {0}};
    struct lc_object o = {key, strlen(key), size, mtime, NULL, 0, load_current_tags, &ct};
    int64_t due;
    if (lc_expiration(p->conf, &o, p->now, &due) != NULL) {
        struct obj_expire x = {OBJ_EXPIRE_CURRENT, key, vid, mtime};
        struct obj_del_res res;
        tally(p, obj_object_expire(p->st, p->bucket, &x, &res), &p->n->expired);
    }
    tags_done(&ct.t);
}

/* A noncurrent version: idx noncurrent versions are newer, its successor was written at since. */
static bool eval_noncurrent(struct lc_pass *p, const struct obj_vlist_ent *e, size_t idx,
                            int64_t since)
{
    struct lc_tags t = {0};
    bool done = false;
    for (size_t i = 0; i < p->conf->n; i++) {
        const struct lc_rule *r = &p->conf->v[i];
        if (!r->enabled || !r->nc_days || (int64_t)idx < r->nc_newer ||
            p->now < lc_due(since, r->nc_days) || !rule_matches(p, r, e->key, e->vid, e->size, &t))
            continue;
        struct obj_expire x = {OBJ_EXPIRE_NONCURRENT, e->key, e->vid, e->mtime};
        struct obj_del_res res;
        done = tally(p, obj_object_expire(p->st, p->bucket, &x, &res), &p->n->noncurrent);
        break;
    }
    tags_done(&t);
    return done;
}

/* A delete marker that is (now) the only version of its key: removed by a rule with
 * ExpiredObjectDeleteMarker, or by one whose Expiration Days has come for it (AWS). */
static void eval_marker(struct lc_pass *p, const char *key, const char *vid, int64_t mtime)
{
    for (size_t i = 0; i < p->conf->n; i++) {
        const struct lc_rule *r = &p->conf->v[i];
        bool due =
            (r->has_exp_dm && r->exp_dm) || (r->exp_days && p->now >= lc_due(mtime, r->exp_days));
        if (!r->enabled || !due || !lc_match(&r->f, key, strlen(key), 0, NULL, 0))
            continue;
        struct obj_expire x = {OBJ_EXPIRE_MARKER, key, vid, mtime};
        struct obj_del_res res;
        tally(p, obj_object_expire(p->st, p->bucket, &x, &res), &p->n->markers);
        return;
    }
}

/* ---- the walk of a versioned bucket: the versions of one key come together, newest first ---- */

struct lc_group {
    char *key;
    size_t total, removed, idx; /* entries seen, removed by this pass, noncurrent seen */
    int64_t since;              /* the mtime of the entry before (the successor) */
    bool dm;                    /* the current version is a delete marker: */
    char dm_vid[OBJ_VID_LEN + 1];
    int64_t dm_mtime;
};

static void group_end(struct lc_pass *p, struct lc_group *g)
{
    if (g->key != NULL && g->dm && g->total - g->removed == 1)
        eval_marker(p, g->key, g->dm_vid, g->dm_mtime);
    free(g->key);
    memset(g, 0, sizeof *g);
}

static int group_entry(struct lc_pass *p, struct lc_group *g, const struct obj_vlist_ent *e)
{
    if (g->key == NULL || strcmp(g->key, e->key) != 0) {
        group_end(p, g);
        if ((g->key = strdup(e->key)) == NULL)
            return TS_E_INTERNAL;
    }
    p->n->scanned++;
    if (e->latest && e->dm) {
        g->dm = true;
        memcpy(g->dm_vid, e->vid, sizeof g->dm_vid);
        g->dm_mtime = e->mtime;
    } else if (e->latest) {
        eval_current(p, e->key, e->vid, true, e->mtime, e->size);
    } else {
        g->removed += eval_noncurrent(p, e, g->idx, g->since);
        g->idx++;
    }
    g->total++;
    g->since = e->mtime;
    return TS_OK;
}

static int walk_versions(struct lc_pass *p)
{
    struct lc_group g = {0};
    struct obj_vlist_res res = {0};
    char *km = NULL, vm[OBJ_VID_LEN + 1] = "";
    int rc = TS_OK;
    do {
        struct obj_vlist_opts o = {NULL, NULL, km, km != NULL ? vm : NULL, LC_BATCH};
        rc = obj_versions_list(p->st, p->bucket, &o, &res);
        for (size_t i = 0; rc == TS_OK && i < res.n && !stopped(p); i++)
            rc = group_entry(p, &g, &res.v[i]);
        free(km);
        km = res.n > 0 ? strdup(res.v[res.n - 1].key) : NULL;
        if (res.n > 0)
            memcpy(vm, res.v[res.n - 1].vid, sizeof vm);
        bool more = rc == TS_OK && res.truncated && km != NULL;
        obj_vlist_res_cleanup(&res);
        if (!more)
            break;
    } while (!stopped(p));
    if (!stopped(p))
        group_end(p, &g);
    free(g.key);
    free(km);
    return rc;
}

/* The walk of an unversioned bucket: its objects. */
static int walk_objects(struct lc_pass *p)
{
    struct obj_list_res res = {0};
    char *marker = NULL;
    int rc;
    do {
        struct obj_list_opts o = {NULL, NULL, marker, LC_BATCH};
        rc = obj_list(p->st, p->bucket, &o, &res);
        for (size_t i = 0; rc == TS_OK && i < res.n && !stopped(p); i++) {
            p->n->scanned++;
            eval_current(p, res.v[i].key, "null", false, res.v[i].mtime, res.v[i].size);
        }
        free(marker);
        marker = rc == TS_OK && res.truncated && res.n > 0 ? strdup(res.v[res.n - 1].key) : NULL;
        obj_list_res_cleanup(&res);
    } while (marker != NULL && !stopped(p));
    free(marker);
    return rc;
}

/* Incomplete multipart uploads: aborted once DaysAfterInitiation has come. */
static void eval_upload(struct lc_pass *p, const struct obj_upload_ent *u)
{
    for (size_t i = 0; i < p->conf->n; i++) {
        const struct lc_rule *r = &p->conf->v[i];
        size_t pl = strlen(r->f.prefix);
        if (!r->enabled || !r->abort_days || strncmp(u->key, r->f.prefix, pl) != 0 ||
            p->now < lc_due(u->initiated, r->abort_days))
            continue;
        int rc = obj_upload_abort(p->st, p->bucket, u->key, u->upload_id);
        tally(p, rc == TS_E_NO_SUCH_UPLOAD ? TS_E_PRECONDITION_FAILED : rc, &p->n->aborted);
        return;
    }
}

static int walk_uploads(struct lc_pass *p)
{
    char *km = NULL, um[OBJ_ID_LEN + 1] = "";
    int rc;
    for (;;) {
        struct obj_upload_ent *v = NULL;
        size_t n = 0;
        bool truncated = false;
        rc = obj_uploads_list(p->st, p->bucket, NULL, km, km != NULL ? um : NULL, LC_BATCH, &v, &n,
                              &truncated);
        for (size_t i = 0; rc == TS_OK && i < n && !stopped(p); i++)
            eval_upload(p, &v[i]);
        free(km);
        km = rc == TS_OK && truncated && n > 0 ? strdup(v[n - 1].key) : NULL;
        if (km != NULL)
            memcpy(um, v[n - 1].upload_id, sizeof um);
        if (rc == TS_OK)
            obj_uploads_list_free(v, n);
        if (km == NULL || stopped(p))
            break;
    }
    free(km);
    return rc;
}

/* What the enabled rules of c ask for: object walks, upload walks. */
static void wants(const struct lc_conf *c, bool *objects, bool *uploads)
{
    *objects = *uploads = false;
    for (size_t i = 0; i < c->n; i++) {
        const struct lc_rule *r = &c->v[i];
        if (!r->enabled)
            continue;
        *objects = *objects || r->exp_days || r->has_exp_date || r->has_exp_dm || r->nc_days;
        *uploads = *uploads || r->abort_days;
    }
}

/* One bucket: its configuration (none: nothing to do), then its walks. */
static int run_bucket(struct lc_pass *p, const char *bucket)
{
    void *doc = NULL;
    size_t len = 0;
    struct lc_conf conf = {0};
    enum obj_versioning vs = OBJ_VER_OFF;
    char msg[256];
    bool objects, uploads;
    int rc = obj_bconf_get(p->st, bucket, LC_CONF, &doc, &len);
    if (rc != TS_OK || doc == NULL)
        return rc == TS_E_NO_SUCH_BUCKET ? TS_OK : rc;
    rc = lc_parse(doc, len, &conf, msg, sizeof msg);
    free(doc);
    if (rc != TS_OK) {
        log_kv(LOG_ERROR, "lifecycle.conf", "bucket", bucket, "error", msg, NULL);
        return rc;
    }
    p->bucket = bucket;
    p->conf = &conf;
    p->n->buckets++;
    wants(&conf, &objects, &uploads);
    if (objects && (rc = obj_versioning_get(p->st, bucket, &vs)) == TS_OK)
        rc = vs == OBJ_VER_OFF ? walk_objects(p) : walk_versions(p);
    if (rc == TS_OK && uploads && !stopped(p))
        rc = walk_uploads(p);
    lc_conf_free(&conf);
    return rc == TS_E_NO_SUCH_BUCKET ? TS_OK : rc;
}

static void lc_metrics(const struct obj_lc_counts *n)
{
    static const char help[] = "lifecycle actions carried out, by kind";
    metrics_inc("tessera_lifecycle_actions_total", help, "action=\"expired\"", n->expired);
    metrics_inc("tessera_lifecycle_actions_total", help, "action=\"noncurrent\"", n->noncurrent);
    metrics_inc("tessera_lifecycle_actions_total", help, "action=\"delete_marker\"", n->markers);
    metrics_inc("tessera_lifecycle_actions_total", help, "action=\"aborted\"", n->aborted);
    metrics_inc("tessera_lifecycle_actions_total", help, "action=\"skipped\"", n->skipped);
    metrics_inc("tessera_lifecycle_errors_total", "lifecycle actions the store failed", NULL,
                n->errors);
    metrics_inc("tessera_lifecycle_passes_total", "lifecycle passes run", NULL, 1);
}

static void lc_log(const struct obj_lc_counts *n, int64_t now)
{
    char v[8][24], when[32];
    const uint64_t nums[8] = {n->buckets, n->scanned, n->expired, n->noncurrent,
                              n->markers, n->aborted, n->skipped, n->errors};
    for (int i = 0; i < 8; i++)
        snprintf(v[i], sizeof v[i], "%" PRIu64, nums[i]);
    enc_time_iso8601((time_t)now, when);
    log_kv(n->errors ? LOG_WARN : LOG_INFO, "lifecycle.pass", "as_of", when, "#buckets", v[0],
           "#scanned", v[1], "#expired", v[2], "#noncurrent", v[3], "#delete_markers", v[4],
           "#aborted", v[5], "#skipped", v[6], "#errors", v[7], NULL);
}

static pthread_mutex_t lc_one = PTHREAD_MUTEX_INITIALIZER; /* one pass at a time */

static int lc_pass_run(struct obj_store *st, int64_t now, const atomic_bool *stop,
                       struct obj_lc_counts *out)
{
    struct obj_bucket_ent *b = NULL;
    size_t nb = 0;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&lc_one);
    int rc = obj_bucket_list(st, &b, &nb);
    struct lc_pass p = {st, now, stop, out, NULL, NULL};
    for (size_t i = 0; rc == TS_OK && i < nb && !stopped(&p); i++)
        if (run_bucket(&p, b[i].name) != TS_OK)
            out->errors++; /* logged; the other buckets still run */
    pthread_mutex_unlock(&lc_one);
    if (rc == TS_OK)
        obj_bucket_list_free(b, nb);
    lc_metrics(out);
    lc_log(out, now);
    return rc;
}

int obj_lifecycle_run(struct obj_store *st, int64_t now, struct obj_lc_counts *out)
{
    return lc_pass_run(st, now, NULL, out);
}

/* ---- the periodic task ---- */

struct obj_lc_task {
    struct obj_store *st;
    long interval;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool stop;
};

static void *lc_main(void *arg)
{
    struct obj_lc_task *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!atomic_load(&t->stop)) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += t->interval;
        while (!atomic_load(&t->stop) && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0)
            ;
        if (atomic_load(&t->stop))
            break;
        pthread_mutex_unlock(&t->mu);
        struct obj_lc_counts n;
        lc_pass_run(t->st, (int64_t)enc_now(), &t->stop, &n);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int obj_lifecycle_start(struct obj_store *st, long interval, struct obj_lc_task **out)
{
    *out = NULL;
    if (interval <= 0)
        return TS_OK;
    struct obj_lc_task *t = calloc(1, sizeof *t);
    pthread_condattr_t ca;
    if (t == NULL)
        return TS_E_INTERNAL;
    t->st = st;
    t->interval = interval;
    atomic_init(&t->stop, false);
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t->th, NULL, lc_main, t) != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return TS_E_INTERNAL;
    }
    *out = t;
    return TS_OK;
}

void obj_lifecycle_stop(struct obj_lc_task *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->stop, true);
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->th, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}
