/* s3_lock.c -- object lock in the S3 layer (docs/API.md "Object lock"): CreateBucket with
 * x-amz-bucket-object-lock-enabled, Put/GetObjectLockConfiguration, Put/GetObjectRetention,
 * Put/GetObjectLegalHold, the x-amz-object-lock-* headers of object writes and answers, and the
 * bypass flag of deletes. The rules themselves are the store's (lock.c, versions.c). */
#include "objstore/s3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/xml.h"

#define HDR_MODE "x-amz-object-lock-mode"
#define HDR_UNTIL "x-amz-object-lock-retain-until-date"
#define HDR_HOLD "x-amz-object-lock-legal-hold"
#define HDR_BYPASS "x-amz-bypass-governance-retention"
#define MSG_NO_LOCK "Bucket is missing Object Lock Configuration"
#define MSG_PAST "The retain until date must be in the future!"
#define MSG_PROTECTED "Access Denied because object protected by object lock."

static const char *const mode_names[] = {NULL, "GOVERNANCE", "COMPLIANCE"};

/* "GOVERNANCE" / "COMPLIANCE" exactly (as S3: case matters): the mode, or OBJ_LOCK_NONE. */
static enum obj_lock_mode mode_parse(const char *s)
{
    if (s != NULL && strcmp(s, "GOVERNANCE") == 0)
        return OBJ_LOCK_GOVERNANCE;
    if (s != NULL && strcmp(s, "COMPLIANCE") == 0)
        return OBJ_LOCK_COMPLIANCE;
    return OBJ_LOCK_NONE;
}

/* The bucket's object lock is enabled: TS_OK, else InvalidRequest (or the store's error). */
static int lock_enabled(struct s3_ctx *c)
{
    struct obj_lock_conf lc;
    int rc = obj_lock_conf_get(c->st, c->bucket, &lc);
    if (rc == TS_OK && !lc.enabled)
        rc = s3_fail(c, TS_E_INVALID_REQUEST, MSG_NO_LOCK);
    return rc;
}

bool s3_lock_bypass(const struct s3_ctx *c)
{
    const char *v = http_req_header(c->r, HDR_BYPASS);
    return v != NULL && strcasecmp(v, "true") == 0;
}

bool s3_lock_bypass_asked(const struct s3_ctx *c)
{
    const char *v = http_req_header(c->r, HDR_BYPASS);
    return v != NULL && strcasecmp(v, "false") != 0;
}

int s3_lock_denied(struct s3_ctx *c, int rc)
{
    return rc == TS_E_ACCESS_DENIED ? s3_fail(c, rc, MSG_PROTECTED) : rc;
}

/* ---- CreateBucket ---- */

int s3_lock_create_conf(struct s3_ctx *c, struct obj_bconf_ent *out, size_t *n)
{
    const char *v = http_req_header(c->r, "x-amz-bucket-object-lock-enabled");
    if (v == NULL || strcasecmp(v, "false") == 0)
        return TS_OK;
    if (strcasecmp(v, "true") != 0)
        return s3_fail(c, TS_E_INVALID_ARGUMENT,
                       "x-amz-bucket-object-lock-enabled must be true or false");
    out[(*n)++] = (struct obj_bconf_ent){"versioning", "Enabled", 7};
    out[(*n)++] = (struct obj_bconf_ent){OBJ_LOCK_CONF, "Enabled", 7};
    return TS_OK;
}

/* ---- Put/GetObjectLockConfiguration ---- */

/* A positive decimal up to max into *out: TS_OK, MalformedXML (not a number), InvalidArgument. */
static int period_parse(struct s3_ctx *c, const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == 0 || *end != 0)
        return TS_E_MALFORMED_XML;
    if (v <= 0)
        return s3_fail(c, TS_E_INVALID_ARGUMENT,
                       "Default retention period must be a positive integer value.");
    if (v > (long long)max)
        return s3_fail(c, TS_E_INVALID_ARGUMENT, "Default retention period is too large.");
    *out = (uint32_t)v;
    return TS_OK;
}

/* <Rule><DefaultRetention><Mode/><Days/>|<Years/></DefaultRetention></Rule> into lc. */
static int rule_parse(struct s3_ctx *c, const struct xml_node *rule, struct obj_lock_conf *lc)
{
    const struct xml_node *dr = xml_child(rule, "DefaultRetention");
    if (dr == NULL)
        return TS_E_MALFORMED_XML;
    const char *days = xml_child_text(dr, "Days"), *years = xml_child_text(dr, "Years");
    lc->mode = mode_parse(xml_child_text(dr, "Mode"));
    if (lc->mode == OBJ_LOCK_NONE || (days == NULL) == (years == NULL))
        return TS_E_MALFORMED_XML;
    return days != NULL ? period_parse(c, days, OBJ_LOCK_MAX_DAYS, &lc->days)
                        : period_parse(c, years, OBJ_LOCK_MAX_YEARS, &lc->years);
}

int s3_put_lock_config(struct s3_ctx *c)
{
    struct obj_lock_conf lc = {.enabled = true};
    int rc = s3_body_md5_check(c);
    if (rc != TS_OK)
        return rc;
    struct xml_node *x = s3_body_xml(c);
    const char *en = x != NULL ? xml_child_text(x, "ObjectLockEnabled") : NULL;
    if (x == NULL || strcmp(x->name, "ObjectLockConfiguration") != 0 || en == NULL ||
        strcmp(en, "Enabled") != 0)
        rc = TS_E_MALFORMED_XML;
    else if (xml_child(x, "Rule") != NULL)
        rc = rule_parse(c, xml_child(x, "Rule"), &lc);
    xml_free(x);
    if (rc == TS_OK)
        rc = obj_lock_conf_put(c->st, c->bucket, &lc);
    if (rc == TS_E_INVALID_BUCKET_STATE)
        rc = s3_fail(c, rc,
                     "Versioning must be 'Enabled' on the bucket to apply a Object Lock "
                     "configuration");
    return s3_reply_done(c, rc, 200);
}

int s3_get_lock_config(struct s3_ctx *c)
{
    struct obj_lock_conf lc;
    struct buf b;
    int rc = obj_lock_conf_get(c->st, c->bucket, &lc);
    if (rc == TS_OK && !lc.enabled)
        rc = TS_E_NO_SUCH_OBJECT_LOCK;
    if (rc != TS_OK)
        return rc;
    s3_xml_start(&b, 4096, "ObjectLockConfiguration");
    xml_elem(&b, "ObjectLockEnabled", "Enabled");
    if (lc.mode != OBJ_LOCK_NONE) {
        xml_open(&b, "Rule", NULL);
        xml_open(&b, "DefaultRetention", NULL);
        xml_elem(&b, "Mode", mode_names[lc.mode]);
        xml_elemf(&b, lc.days ? "Days" : "Years", "%u", lc.days ? lc.days : lc.years);
        xml_close(&b, "DefaultRetention");
        xml_close(&b, "Rule");
    }
    xml_close(&b, "ObjectLockConfiguration");
    return s3_reply_xml(c, 200, &b);
}

/* ---- Put/GetObjectRetention, Put/GetObjectLegalHold ---- */

/* A retain-until date (ISO 8601) after now: TS_OK, or InvalidArgument (bad_form: the error of an
 * unparseable one). */
static int until_parse(struct s3_ctx *c, const char *s, int bad_form, int64_t *out)
{
    time_t t;
    if (enc_time_parse_iso8601(s, &t) != 0)
        return bad_form == TS_E_MALFORMED_XML
                   ? bad_form
                   : s3_fail(c, bad_form, "The retain until date is not a valid date.");
    if ((int64_t)t <= (int64_t)enc_now())
        return s3_fail(c, TS_E_INVALID_ARGUMENT, MSG_PAST);
    *out = (int64_t)t;
    return TS_OK;
}

/* A retention or legal-hold write: the bucket's lock is enabled and the body's Content-MD5
 * (when sent) matches. */
static int lock_body_check(struct s3_ctx *c)
{
    int rc = lock_enabled(c);
    return rc == TS_OK ? s3_body_md5_check(c) : rc;
}

int s3_put_retention(struct s3_ctx *c)
{
    int rc = lock_body_check(c);
    if (rc != TS_OK)
        return rc;
    struct xml_node *x = s3_body_xml(c);
    const char *mode = x ? xml_child_text(x, "Mode") : NULL;
    const char *until = x ? xml_child_text(x, "RetainUntilDate") : NULL;
    enum obj_lock_mode m = mode_parse(mode);
    int64_t t = 0;
    if (x == NULL || strcmp(x->name, "Retention") != 0 || (mode == NULL) != (until == NULL) ||
        (mode != NULL && m == OBJ_LOCK_NONE))
        rc = TS_E_MALFORMED_XML;
    else if (until != NULL)
        rc = until_parse(c, until, TS_E_MALFORMED_XML, &t);
    xml_free(x);
    if (rc == TS_OK) /* s3:BypassGovernanceRetention was authorized with the header */
        rc = obj_version_retention_set(c->st, c->bucket, c->key, c->vid, m, t, s3_lock_bypass(c));
    return s3_reply_done(c, s3_lock_denied(c, rc), 200);
}

int s3_get_retention(struct s3_ctx *c)
{
    struct obj_meta m;
    struct buf b;
    char t[32];
    int rc = lock_enabled(c);
    if (rc == TS_OK)
        rc = obj_version_head(c->st, c->bucket, c->key, c->vid, &m);
    if (rc == TS_E_METHOD_NOT_ALLOWED)
        obj_meta_cleanup(&m);
    if (rc != TS_OK)
        return rc;
    if (m.lock_mode == OBJ_LOCK_NONE) {
        obj_meta_cleanup(&m);
        return TS_E_NO_SUCH_OBJECT_LOCK_CONFIG;
    }
    s3_xml_start(&b, 4096, "Retention");
    xml_elem(&b, "Mode", mode_names[m.lock_mode]);
    enc_time_iso8601((time_t)m.lock_until, t);
    xml_elem(&b, "RetainUntilDate", t);
    xml_close(&b, "Retention");
    obj_meta_cleanup(&m);
    return s3_reply_xml(c, 200, &b);
}

int s3_put_legal_hold(struct s3_ctx *c)
{
    int rc = lock_body_check(c);
    if (rc != TS_OK)
        return rc;
    struct xml_node *x = s3_body_xml(c);
    const char *st = x ? xml_child_text(x, "Status") : NULL;
    enum obj_legal_hold h = st == NULL               ? OBJ_HOLD_NONE
                            : strcmp(st, "ON") == 0  ? OBJ_HOLD_ON
                            : strcmp(st, "OFF") == 0 ? OBJ_HOLD_OFF
                                                     : OBJ_HOLD_NONE;
    if (x == NULL || strcmp(x->name, "LegalHold") != 0 || h == OBJ_HOLD_NONE)
        rc = TS_E_MALFORMED_XML;
    xml_free(x);
    if (rc == TS_OK)
        rc = obj_version_legal_hold_set(c->st, c->bucket, c->key, c->vid, h);
    return s3_reply_done(c, rc, 200);
}

int s3_get_legal_hold(struct s3_ctx *c)
{
    struct obj_meta m;
    struct buf b;
    int rc = lock_enabled(c);
    if (rc == TS_OK)
        rc = obj_version_head(c->st, c->bucket, c->key, c->vid, &m);
    if (rc == TS_E_METHOD_NOT_ALLOWED)
        obj_meta_cleanup(&m);
    if (rc != TS_OK)
        return rc;
    uint8_t h = m.legal_hold;
    obj_meta_cleanup(&m);
    if (h == OBJ_HOLD_NONE)
        return TS_E_NO_SUCH_OBJECT_LOCK_CONFIG;
    s3_xml_start(&b, 1024, "LegalHold");
    xml_elem(&b, "Status", h == OBJ_HOLD_ON ? "ON" : "OFF");
    xml_close(&b, "LegalHold");
    return s3_reply_xml(c, 200, &b);
}

/* ---- the headers of object writes and of GET/HEAD answers ---- */

int s3_lock_prepare(struct s3_ctx *c)
{
    const char *mode = http_req_header(c->r, HDR_MODE);
    const char *until = http_req_header(c->r, HDR_UNTIL);
    const char *hold = http_req_header(c->r, HDR_HOLD);
    if (mode == NULL && until == NULL && hold == NULL)
        return TS_OK;
    int rc = lock_enabled(c);
    if (rc != TS_OK)
        return rc;
    if ((mode == NULL) != (until == NULL))
        return s3_fail(c, TS_E_INVALID_ARGUMENT,
                       "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both "
                       "be supplied");
    if (mode != NULL && (c->lk_mode = (uint8_t)mode_parse(mode)) == OBJ_LOCK_NONE)
        return s3_fail(c, TS_E_INVALID_ARGUMENT, "Unknown wormMode directive.");
    if (until != NULL && (rc = until_parse(c, until, TS_E_INVALID_ARGUMENT, &c->lk_until)) != TS_OK)
        return rc;
    if (hold != NULL) {
        c->lk_hold = strcmp(hold, "ON") == 0    ? OBJ_HOLD_ON
                     : strcmp(hold, "OFF") == 0 ? OBJ_HOLD_OFF
                                                : 0;
        if (c->lk_hold == OBJ_HOLD_NONE)
            return s3_fail(c, TS_E_INVALID_ARGUMENT, "Legal Hold must be either of 'ON' or 'OFF'");
    }
    c->has_lock = true;
    return TS_OK;
}

void s3_lock_apply(const struct s3_ctx *c, struct obj_meta *m)
{
    m->lock_mode = c->has_lock ? c->lk_mode : OBJ_LOCK_NONE;
    m->lock_until = c->has_lock && c->lk_mode != OBJ_LOCK_NONE ? c->lk_until : 0;
    m->legal_hold = c->has_lock ? c->lk_hold : OBJ_HOLD_NONE;
}

/* Asked quietly: a caller without the permission gets the answer without the headers (S3). */
static bool may(struct s3_ctx *c, const char *action)
{
    bool quiet = c->quiet_authz;
    c->quiet_authz = true;
    bool ok = s3_authorize(c, action, c->bucket, c->key, false) == TS_OK;
    c->quiet_authz = quiet;
    return ok;
}

void s3_lock_headers(struct s3_ctx *c, const struct obj_meta *m)
{
    char t[32];
    if (m->lock_mode != OBJ_LOCK_NONE && m->lock_mode <= OBJ_LOCK_COMPLIANCE &&
        may(c, "s3:GetObjectRetention")) {
        http_reply_header(c->r, HDR_MODE, mode_names[m->lock_mode]);
        enc_time_iso8601((time_t)m->lock_until, t);
        http_reply_header(c->r, HDR_UNTIL, t);
    }
    if (m->legal_hold != OBJ_HOLD_NONE && may(c, "s3:GetObjectLegalHold"))
        http_reply_header(c->r, HDR_HOLD, m->legal_hold == OBJ_HOLD_ON ? "ON" : "OFF");
}
