/* s3_lifecycle.c -- Put/Get/DeleteBucketLifecycleConfiguration of the embedded store: the
 * document checked with AWS's rules (lc_rules.c) and kept, in the form GET answers, as the
 * bucket's "lifecycle" configuration. The rules are carried out by the lifecycle task
 * (lc_run.c), and announced on objects by x-amz-expiration (s3_expiration_header, from the
 * rules parsed once and cached with the bucket's access configuration: obj_lc_acquire). The
 * gateway forwards these operations to its upstream (s3_gw.c) and relays its header. */
#include "objstore/s3_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "objstore/lc.h"
#include "sts/sigv4.h"

static int integrity_hdr(void *ctx, const char *name, const char *value)
{
    bool *found = ctx;
    (void)value;
    if (strcasecmp(name, "content-md5") == 0 || strcasecmp(name, "x-amz-trailer") == 0 ||
        sigv4_cksum_from_header(name) != SIGV4_CK_NONE)
        *found = true;
    return *found;
}

/* AWS requires an integrity check of the body: Content-MD5 or an additional checksum (checked
 * against the body by the authentication layer; Content-MD5 by s3_body_md5_check). */
static int lc_integrity(struct s3_ctx *c)
{
    bool found = false;
    http_req_header_foreach(c->r, integrity_hdr, &found);
    if (!found)
        return s3_fail(c, TS_E_INVALID_REQUEST,
                       "Missing required header for this request: Content-MD5 OR x-amz-checksum-*");
    return s3_body_md5_check(c);
}

int s3_put_bucket_lifecycle(struct s3_ctx *c)
{
    struct lc_conf conf;
    char msg[256];
    int rc = lc_integrity(c);
    if (rc != TS_OK)
        return rc;
    if (c->r->body == NULL || c->r->body_len == 0)
        return TS_E_MISSING_REQUEST_BODY;
    rc = lc_parse((const char *)c->r->body, c->r->body_len, &conf, msg, sizeof msg);
    if (rc != TS_OK)
        return msg[0] ? s3_fail(c, rc, msg) : rc;
    struct buf b;
    buf_init(&b, LC_MAX_DOC);
    lc_write(&b, &conf);
    lc_conf_free(&conf);
    rc = buf_failed(&b) ? TS_E_INTERNAL
                        : obj_bconf_put(c->st, c->bucket, LC_CONF, buf_str(&b), buf_len(&b));
    buf_free(&b);
    return s3_reply_done(c, rc, 200);
}

int s3_get_bucket_lifecycle(struct s3_ctx *c)
{
    void *doc;
    size_t len;
    int rc = obj_bconf_get(c->st, c->bucket, LC_CONF, &doc, &len);
    if (rc == TS_OK && doc == NULL)
        return TS_E_NO_SUCH_LIFECYCLE;
    if (rc != TS_OK)
        return rc;
    return http_reply_data(c->r, 200, "application/xml", doc, len, true);
}

int s3_delete_bucket_lifecycle(struct s3_ctx *c)
{
    return s3_reply_done(c, obj_bconf_put(c->st, c->bucket, LC_CONF, NULL, 0), 204);
}

/* Whether m, which c named by its version id, is the key's current version. */
static bool is_current(struct s3_ctx *c, const struct obj_meta *m)
{
    struct obj_meta cur;
    if (c->vid == NULL)
        return true;
    int rc = obj_version_head(c->st, c->bucket, c->key, NULL, &cur);
    if (rc == TS_E_METHOD_NOT_ALLOWED)
        obj_meta_cleanup(&cur);
    if (rc != TS_OK)
        return false;
    /* "" is the null version of a record written before the bucket was ever versioned. */
    bool same = strcmp(cur.vid[0] ? cur.vid : "null", m->vid[0] ? m->vid : "null") == 0;
    obj_meta_cleanup(&cur);
    return same;
}

void s3_expiration_header(struct s3_ctx *c, const struct obj_meta *m)
{
    const struct lc_conf *lc = NULL;
    struct obj_pcache *h = NULL;
    if (c->st->gw != NULL || m->dm || obj_lc_acquire(c->st, c->bucket, &lc, &h) != TS_OK)
        return;
    struct lc_object o = {c->key, strlen(c->key), m->size, m->mtime, m->tags, m->ntags, NULL, NULL};
    int64_t due = 0;
    const struct lc_rule *r = lc != NULL ? lc_expiration(lc, &o, INT64_MAX, &due) : NULL;
    char v[LC_EXP_HDR_MAX];
    if (r != NULL && is_current(c, m) && lc_expiration_header(r, due, v))
        http_reply_header(c->r, "x-amz-expiration", v);
    obj_policy_release(h);
}
