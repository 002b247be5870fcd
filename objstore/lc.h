/* lc.h -- bucket lifecycle configurations inside objstore/: the rules (lc_rules.c: parsed and
 * checked with AWS's rules from a LifecycleConfiguration document, written back in the form
 * GetBucketLifecycleConfiguration answers, and evaluated: filters and due instants) and the
 * background task that carries them out (lc_run.c, obj.h: obj_lifecycle_*).
 *
 * Time: every rule is evaluated "as of" an instant given by the caller (the periodic task: the
 * server's clock; `tessera admin lifecycle run --now`: the admin's). AWS's rounding: an action
 * of N days on something that started at t is due at the first midnight UTC at or after
 * t + N days (lc_due). */
#ifndef TS_LC_H
#define TS_LC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/http.h"

#define LC_CONF "lifecycle" /* the bucket_conf name */
#define LC_MAX_RULES 1000
#define LC_MAX_ID 255
#define LC_MAX_NEWER 100 /* NewerNoncurrentVersions */
#define LC_MAX_DOC (1u << 20)
#define LC_DAY 86400

/* How a rule names what it applies to, kept so that GET answers the form that was put. */
enum lc_form {
    LC_FORM_PREFIX,  /* the legacy top-level <Prefix> */
    LC_FORM_EMPTY,   /* <Filter/> */
    LC_FORM_FPREFIX, /* <Filter><Prefix> */
    LC_FORM_TAG,     /* <Filter><Tag> */
    LC_FORM_AND,     /* <Filter><And> */
    LC_FORM_GT,      /* <Filter><ObjectSizeGreaterThan> */
    LC_FORM_LT,      /* <Filter><ObjectSizeLessThan> */
};

struct lc_filter {
    char *prefix; /* never NULL ("" matches every key) */
    struct http_kv *tags;
    size_t ntags;
    uint64_t gt, lt; /* size > gt when has_gt, size < lt when has_lt */
    bool has_gt, has_lt;
};

struct lc_rule {
    char *id;
    bool enabled;
    enum lc_form form;
    struct lc_filter f;
    int64_t exp_days; /* Expiration Days (0: none) */
    int64_t exp_date; /* Expiration Date, seconds (when has_exp_date) */
    bool has_exp_date;
    bool has_exp_dm, exp_dm; /* ExpiredObjectDeleteMarker given, and its value */
    int64_t nc_days;         /* NoncurrentVersionExpiration NoncurrentDays (0: none) */
    int64_t nc_newer;        /* ... NewerNoncurrentVersions (0: none) */
    int64_t abort_days;      /* AbortIncompleteMultipartUpload DaysAfterInitiation (0: none) */
};

struct lc_conf {
    struct lc_rule *v;
    size_t n;
};

/* Parses and checks a LifecycleConfiguration document: TS_OK with *out (lc_conf_free), or
 * MalformedXML, InvalidArgument, InvalidRequest, NotImplemented (transitions: one storage
 * class), with S3's message in msg. */
int lc_parse(const char *doc, size_t len, struct lc_conf *out, char *msg, size_t msglen);
void lc_conf_free(struct lc_conf *c);
/* The document GetBucketLifecycleConfiguration answers for c into b (S3 namespace). */
void lc_write(struct buf *b, const struct lc_conf *c);

/* The first midnight UTC at or after start + days (AWS's rounding). */
int64_t lc_due(int64_t start, int64_t days);
/* Whether the object key (klen bytes) of size with tags tags[0..ntags) matches filter f. */
bool lc_match(const struct lc_filter *f, const char *key, size_t klen, uint64_t size,
              const struct http_kv *tags, size_t ntags);
/* Whether f says anything of tags (deciding needs the object's tags). */
bool lc_needs_tags(const struct lc_filter *f);

/* A current version as its expiration is decided: its key, size, Last-Modified instant and
 * tags. Tags: tags[0..ntags), or, when load_tags is set, what load_tags gives -- called at most
 * once, and only when a rule that could apply filters on tags. */
struct lc_object {
    const char *key;
    size_t klen;
    uint64_t size;
    int64_t mtime;
    const struct http_kv *tags;
    size_t ntags;
    void (*load_tags)(void *ctx, const struct http_kv **tags, size_t *ntags);
    void *ctx;
};

/* The expiration of current version o under c -- the one rule both the lifecycle task and the
 * x-amz-expiration header use: of the enabled rules with Expiration Days or Date whose filter
 * matches o and whose due instant (lc_due of o's mtime, or the Date) is at or before until, the
 * one due first (the first in the document on a tie), its due instant in *due; NULL when none.
 * The task passes its instant as until; the header INT64_MAX. */
const struct lc_rule *lc_expiration(const struct lc_conf *c, struct lc_object *o, int64_t until,
                                    int64_t *due);

#define LC_EXP_HDR_MAX (3 * LC_MAX_ID + 64)
/* The x-amz-expiration value for rule r due at due, AWS's form with the rule id URL-encoded:
 * expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule". False: out of
 * memory (nothing written). */
bool lc_expiration_header(const struct lc_rule *r, int64_t due, char out[LC_EXP_HDR_MAX]);

#endif
