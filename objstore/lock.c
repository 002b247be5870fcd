/* lock.c -- object lock in the storage engine: the bucket's configuration (bucket_conf
 * "object-lock"), the rules of retention and legal hold, and their writes to a version's record
 * (see obj_int.h "object lock"; the removal rule is applied by versions.c inside every
 * transaction that removes a version). */
#include "objstore/obj_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"

#define DAY 86400

static const char *const mode_names[] = {"", "GOVERNANCE", "COMPLIANCE"};

/* ---- the bucket's configuration ---- */

size_t obj_lock_conf_encode(const struct obj_lock_conf *c, char out[64])
{
    int n;
    if (c->mode == OBJ_LOCK_NONE)
        n = snprintf(out, 64, "Enabled");
    else
        n = snprintf(out, 64, "Enabled %s %u %s", mode_names[c->mode], c->days ? c->days : c->years,
                     c->days ? "Days" : "Years");
    return n > 0 && n < 64 ? (size_t)n : 0;
}

int obj_lock_conf_decode(const void *p, size_t len, struct obj_lock_conf *out)
{
    char s[64], mode[16], unit[8];
    unsigned n;
    int used = 0;
    memset(out, 0, sizeof *out);
    if (len == 0 || len >= sizeof s || memchr(p, 0, len) != NULL)
        return TS_E_INTERNAL;
    memcpy(s, p, len);
    s[len] = 0;
    if (strcmp(s, "Enabled") == 0) {
        out->enabled = true;
        return TS_OK;
    }
    if (sscanf(s, "Enabled %15s %u %7s%n", mode, &n, unit, &used) != 3 || (size_t)used != len)
        return TS_E_INTERNAL;
    out->mode = strcmp(mode, "GOVERNANCE") == 0   ? OBJ_LOCK_GOVERNANCE
                : strcmp(mode, "COMPLIANCE") == 0 ? OBJ_LOCK_COMPLIANCE
                                                  : OBJ_LOCK_NONE;
    bool days = strcmp(unit, "Days") == 0;
    if (out->mode == OBJ_LOCK_NONE || (!days && strcmp(unit, "Years") != 0) || n == 0 ||
        n > (days ? OBJ_LOCK_MAX_DAYS : OBJ_LOCK_MAX_YEARS)) {
        memset(out, 0, sizeof *out);
        return TS_E_INTERNAL; /* a damaged record: fail closed */
    }
    out->enabled = true;
    *(days ? &out->days : &out->years) = n;
    return TS_OK;
}

int obj_int_lock_conf_txn(struct obj_store *st, MDB_txn *txn, const char *bucket,
                          struct obj_lock_conf *out)
{
    MDB_val v;
    int g = obj_int_bconf_get_txn(st, txn, bucket, OBJ_LOCK_CONF, &v);
    memset(out, 0, sizeof *out);
    if (g == MDB_NOTFOUND)
        return TS_OK;
    if (g != 0)
        return TS_E_INTERNAL;
    return obj_lock_conf_decode(v.mv_data, v.mv_size, out);
}

int obj_lock_conf_get(struct obj_store *st, const char *bucket, struct obj_lock_conf *out)
{
    MDB_txn *txn;
    memset(out, 0, sizeof *out);
    if (obj_int_rd_begin(st, &txn) != TS_OK)
        return TS_E_INTERNAL;
    int rc = obj_int_bucket_exists_txn(st, txn, bucket);
    if (rc == TS_OK)
        rc = obj_int_lock_conf_txn(st, txn, bucket, out);
    obj_int_rd_end(st, txn);
    return rc;
}

struct conf_arg {
    const char *bucket;
    const char *val;
    size_t len;
};

/* Object lock needs versioning Enabled, checked in the transaction that sets it (a concurrent
 * PutBucketVersioning Suspended is refused by vset_apply once this commits). */
static int conf_apply(struct obj_store *st, MDB_txn *txn, void *arg)
{
    const struct conf_arg *a = arg;
    MDB_val v;
    int rc = obj_int_bucket_exists_txn(st, txn, a->bucket);
    if (rc != TS_OK)
        return rc;
    int g = obj_int_bconf_get_txn(st, txn, a->bucket, "versioning", &v);
    if (g != 0 && g != MDB_NOTFOUND)
        return TS_E_INTERNAL;
    if (g != 0 || v.mv_size != 7 || memcmp(v.mv_data, "Enabled", 7) != 0)
        return TS_E_INVALID_BUCKET_STATE;
    struct obj_bconf_ent e = {OBJ_LOCK_CONF, a->val, a->len};
    return obj_int_bconf_put_txn(st, txn, a->bucket, &e, 1);
}

int obj_lock_conf_put(struct obj_store *st, const char *bucket, const struct obj_lock_conf *c)
{
    char val[64];
    struct obj_lock_conf check;
    size_t len = c->enabled ? obj_lock_conf_encode(c, val) : 0;
    if (len == 0 || obj_lock_conf_decode(val, len, &check) != TS_OK)
        return TS_E_INTERNAL; /* never store what would not read back */
    struct conf_arg a = {bucket, val, len};
    return obj_int_group_commit(st, conf_apply, &a);
}

/* ---- the rules ---- */

static bool retained(const struct obj_meta *m, int64_t now)
{
    return m->lock_mode != OBJ_LOCK_NONE && m->lock_until > now;
}

int obj_lock_check_remove(const struct obj_meta *m, int64_t now, bool bypass)
{
    if (m->legal_hold == OBJ_HOLD_ON)
        return TS_E_ACCESS_DENIED;
    if (!retained(m, now))
        return TS_OK;
    if (m->lock_mode == OBJ_LOCK_GOVERNANCE && bypass)
        return TS_OK;
    return TS_E_ACCESS_DENIED;
}

int obj_lock_check_retention(const struct obj_meta *m, enum obj_lock_mode mode, int64_t until,
                             int64_t now, bool bypass)
{
    if (!retained(m, now))
        return TS_OK;
    bool keeps = mode == m->lock_mode && until >= m->lock_until; /* same mode, as late or later */
    if (keeps)
        return TS_OK;
    if (m->lock_mode == OBJ_LOCK_GOVERNANCE && bypass)
        return TS_OK;
    return TS_E_ACCESS_DENIED; /* COMPLIANCE: by nobody */
}

void obj_lock_default(const struct obj_lock_conf *c, struct obj_meta *m, int64_t now)
{
    if (!c->enabled || c->mode == OBJ_LOCK_NONE || m->lock_mode != OBJ_LOCK_NONE)
        return;
    m->lock_mode = (uint8_t)c->mode;
    m->lock_until = now + (int64_t)(c->days ? c->days : 365u * c->years) * DAY;
}

/* ---- a version's retention and legal hold ---- */

struct ret_arg {
    enum obj_lock_mode mode;
    int64_t until;
    bool bypass;
    bool hold; /* the legal hold instead */
    enum obj_legal_hold hold_v;
};

/* Checked against the record read in the write transaction, and only in a bucket whose object
 * lock is enabled (versioned: no write or delete of another kind removes the version). */
static int edit_lock(struct obj_store *st, MDB_txn *txn, const char *bucket, struct obj_meta *m,
                     void *arg)
{
    const struct ret_arg *a = arg;
    struct obj_lock_conf lc;
    int rc = obj_int_lock_conf_txn(st, txn, bucket, &lc);
    if (rc == TS_OK && !lc.enabled)
        rc = TS_E_INVALID_REQUEST;
    if (rc != TS_OK)
        return rc;
    if (a->hold) {
        m->legal_hold = (uint8_t)a->hold_v;
        return TS_OK;
    }
    rc = obj_lock_check_retention(m, a->mode, a->until, (int64_t)enc_now(), a->bypass);
    if (rc == TS_OK) {
        m->lock_mode = (uint8_t)a->mode;
        m->lock_until = a->mode == OBJ_LOCK_NONE ? 0 : a->until;
    }
    return rc;
}

int obj_version_retention_set(struct obj_store *st, const char *bucket, const char *key,
                              const char *vid, enum obj_lock_mode mode, int64_t until, bool bypass)
{
    struct ret_arg a = {mode, until, bypass, false, OBJ_HOLD_NONE};
    if (mode > OBJ_LOCK_COMPLIANCE || (mode != OBJ_LOCK_NONE && until <= 0))
        return TS_E_INVALID_ARGUMENT;
    return obj_int_version_edit(st, bucket, key, vid, edit_lock, &a);
}

int obj_version_legal_hold_set(struct obj_store *st, const char *bucket, const char *key,
                               const char *vid, enum obj_legal_hold hold)
{
    struct ret_arg a = {OBJ_LOCK_NONE, 0, false, true, hold};
    if (hold != OBJ_HOLD_ON && hold != OBJ_HOLD_OFF)
        return TS_E_INVALID_ARGUMENT;
    return obj_int_version_edit(st, bucket, key, vid, edit_lock, &a);
}
