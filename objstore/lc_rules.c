/* lc_rules.c -- lifecycle rules (lc.h): the LifecycleConfiguration document parsed and checked
 * with AWS's rules (errors and messages as S3 answers them), written back in the form
 * GetBucketLifecycleConfiguration answers, and evaluated (filters, due instants). Pure: no
 * store, no clock. */
#include "objstore/lc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/enc.h"
#include "core/err.h"
#include "core/xml.h"

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

/* A parse in progress: the error message of the first refusal. */
struct lcp {
    char *msg;
    size_t msglen;
};

static int lc_fail(struct lcp *p, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int lc_fail(struct lcp *p, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (p->msglen > 0)
        vsnprintf(p->msg, p->msglen, fmt, ap);
    va_end(ap);
    return rc;
}

static int malformed(struct lcp *p)
{
    return lc_fail(p, TS_E_MALFORMED_XML,
                   "The XML you provided was not well-formed or did not "
                   "validate against our published schema");
}

/* How many children of n are named name. */
static size_t count(const struct xml_node *n, const char *name)
{
    size_t k = 0;
    for (const struct xml_node *c = n->child; c; c = c->next)
        k += strcmp(c->name, name) == 0;
    return k;
}

/* Whether every child of n is one of names[] and none of them repeats (except those in
 * multi[], which may). */
static bool only(const struct xml_node *n, const char *const *names, const char *multi)
{
    for (const struct xml_node *c = n->child; c; c = c->next) {
        bool known = false;
        for (size_t i = 0; names[i] != NULL; i++)
            known = known || strcmp(c->name, names[i]) == 0;
        if (!known || (count(n, c->name) > 1 && (multi == NULL || strcmp(c->name, multi) != 0)))
            return false;
    }
    return true;
}

/* A decimal integer (optional sign) into *v: false when it is not one. */
static bool parse_int(const char *s, int64_t *v)
{
    char *end;
    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *v = x;
    return true;
}

/* A positive number of days (element what of action act): MalformedXML (not a number),
 * InvalidArgument (<= 0, or past a million years). */
static int parse_days(struct lcp *p, const char *s, const char *what, const char *act, int64_t *v)
{
    if (!parse_int(s, v))
        return malformed(p);
    if (*v <= 0 || *v > 365000000LL)
        return lc_fail(p, TS_E_INVALID_ARGUMENT, "'%s' for %s action must be a positive integer",
                       what, act);
    return TS_OK;
}

/* An ISO 8601 date at midnight UTC: MalformedXML, or InvalidArgument (another time). */
static int parse_date(struct lcp *p, const char *s, int64_t *v)
{
    time_t t;
    if (s == NULL || enc_time_parse_iso8601(s, &t) != 0)
        return malformed(p);
    if (t % LC_DAY != 0)
        return lc_fail(p, TS_E_INVALID_ARGUMENT, "'Date' must be at midnight GMT");
    *v = (int64_t)t;
    return TS_OK;
}

static int parse_size(struct lcp *p, const char *s, uint64_t *v, bool *has)
{
    *has = true;
    int64_t x;
    if (!parse_int(s, &x))
        return malformed(p);
    if (x < 0)
        return lc_fail(p, TS_E_INVALID_ARGUMENT, "Object size must be a non-negative integer");
    *v = (uint64_t)x;
    return TS_OK;
}

/* A <Tag><Key/><Value/></Tag> into f's tags (no key twice). */
static int parse_tag(struct lcp *p, const struct xml_node *t, struct lc_filter *f)
{
    static const char *const names[] = {"Key", "Value", NULL};
    const char *k = xml_child_text(t, "Key"), *v = xml_child_text(t, "Value");
    if (!only(t, names, NULL) || k == NULL || *k == '\0' || strlen(k) > 128 ||
        (v != NULL && strlen(v) > 256))
        return malformed(p);
    for (size_t i = 0; i < f->ntags; i++)
        if (strcmp(f->tags[i].key, k) == 0)
            return lc_fail(p, TS_E_INVALID_REQUEST, "Duplicate Tag Keys are not allowed.");
    return http_kv_add(&f->tags, &f->ntags, k, v != NULL ? v : "") == 0 ? TS_OK : TS_E_INTERNAL;
}

static int set_prefix(struct lc_filter *f, const char *s)
{
    free(f->prefix);
    f->prefix = strdup(s != NULL ? s : "");
    return f->prefix != NULL ? TS_OK : TS_E_INTERNAL;
}

/* The predicates of an <And> (or the one predicate of a <Filter>) into f. */
static int parse_predicates(struct lcp *p, const struct xml_node *n, struct lc_filter *f)
{
    int rc = TS_OK;
    for (const struct xml_node *c = n->child; c && rc == TS_OK; c = c->next) {
        if (strcmp(c->name, "Prefix") == 0)
            rc = set_prefix(f, c->text);
        else if (strcmp(c->name, "Tag") == 0)
            rc = parse_tag(p, c, f);
        else if (strcmp(c->name, "ObjectSizeGreaterThan") == 0)
            rc = parse_size(p, c->text, &f->gt, &f->has_gt);
        else if (strcmp(c->name, "ObjectSizeLessThan") == 0)
            rc = parse_size(p, c->text, &f->lt, &f->has_lt);
    }
    if (rc == TS_OK && f->has_gt && f->has_lt && f->gt >= f->lt)
        return lc_fail(p, TS_E_INVALID_REQUEST,
                       "ObjectSizeGreaterThan must be less than ObjectSizeLessThan");
    return rc;
}

/* <Filter>: empty, or exactly one predicate (several: within <And>). */
static int parse_filter(struct lcp *p, const struct xml_node *x, struct lc_rule *r)
{
    static const char *const names[] = {
        "Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan", NULL};
    static const char *const and_names[] = {"Prefix", "Tag", "ObjectSizeGreaterThan",
                                            "ObjectSizeLessThan", NULL};
    static const enum lc_form forms[] = {LC_FORM_FPREFIX, LC_FORM_TAG, LC_FORM_AND, LC_FORM_GT,
                                         LC_FORM_LT};
    const struct xml_node *c = x->child;
    if (c == NULL) {
        r->form = LC_FORM_EMPTY;
        return TS_OK;
    }
    if (c->next != NULL || !only(x, names, NULL))
        return malformed(p);
    for (size_t i = 0; names[i] != NULL; i++)
        if (strcmp(c->name, names[i]) == 0)
            r->form = forms[i];
    if (r->form != LC_FORM_AND)
        return parse_predicates(p, x, &r->f);
    if (!only(c, and_names, "Tag"))
        return malformed(p);
    return parse_predicates(p, c, &r->f);
}

/* <Expiration>: exactly one of Days, Date, ExpiredObjectDeleteMarker. */
static int parse_expiration(struct lcp *p, const struct xml_node *x, struct lc_rule *r)
{
    static const char *const names[] = {"Days", "Date", "ExpiredObjectDeleteMarker", NULL};
    const struct xml_node *c = x->child;
    if (c == NULL || c->next != NULL || !only(x, names, NULL))
        return malformed(p);
    if (strcmp(c->name, "Days") == 0)
        return parse_days(p, c->text, "Days", "Expiration", &r->exp_days);
    if (strcmp(c->name, "Date") == 0) {
        r->has_exp_date = true;
        return parse_date(p, c->text, &r->exp_date);
    }
    if (strcmp(c->text, "true") != 0 && strcmp(c->text, "false") != 0)
        return malformed(p);
    r->has_exp_dm = true;
    r->exp_dm = strcmp(c->text, "true") == 0;
    return TS_OK;
}

static int parse_noncurrent(struct lcp *p, const struct xml_node *x, struct lc_rule *r)
{
    static const char *const names[] = {"NoncurrentDays", "NewerNoncurrentVersions", NULL};
    const char *newer = xml_child_text(x, "NewerNoncurrentVersions");
    if (!only(x, names, NULL) || xml_child(x, "NoncurrentDays") == NULL)
        return malformed(p);
    int rc = parse_days(p, xml_child_text(x, "NoncurrentDays"), "NoncurrentDays",
                        "NoncurrentVersionExpiration", &r->nc_days);
    if (rc != TS_OK || newer == NULL)
        return rc;
    if (!parse_int(newer, &r->nc_newer))
        return malformed(p);
    if (r->nc_newer <= 0 || r->nc_newer > LC_MAX_NEWER)
        return lc_fail(p, TS_E_INVALID_ARGUMENT,
                       "NewerNoncurrentVersions must be a positive integer up to %d", LC_MAX_NEWER);
    return TS_OK;
}

static int parse_abort(struct lcp *p, const struct xml_node *x, struct lc_rule *r)
{
    static const char *const names[] = {"DaysAfterInitiation", NULL};
    if (!only(x, names, NULL) || xml_child(x, "DaysAfterInitiation") == NULL)
        return malformed(p);
    return parse_days(p, xml_child_text(x, "DaysAfterInitiation"), "DaysAfterInitiation",
                      "AbortIncompleteMultipartUpload", &r->abort_days);
}

/* A Transition or NoncurrentVersionTransition: checked as AWS does (its date, its days, a
 * storage class), then refused: tessera keeps one storage class. */
static int parse_transition(struct lcp *p, const struct xml_node *x)
{
    static const char *const names[] = {
        "Days", "Date", "NoncurrentDays", "StorageClass", "NewerNoncurrentVersions", NULL};
    int64_t v;
    const char *days = xml_child_text(x, "Days"), *nc = xml_child_text(x, "NoncurrentDays");
    const char *date = xml_child_text(x, "Date");
    if (!only(x, names, NULL) || xml_child(x, "StorageClass") == NULL)
        return malformed(p);
    if ((days != NULL && (!parse_int(days, &v) || v < 0)) ||
        (nc != NULL && (!parse_int(nc, &v) || v < 0)))
        return malformed(p);
    int rc = date != NULL ? parse_date(p, date, &v) : TS_OK;
    if (rc != TS_OK)
        return rc;
    return lc_fail(p, TS_E_NOT_IMPLEMENTED,
                   "Lifecycle transitions are not implemented: this server has one storage "
                   "class (STANDARD)");
}

/* The rule's ID (a random one when none is given): InvalidArgument over LC_MAX_ID. */
static int parse_id(struct lcp *p, const struct xml_node *x, struct lc_rule *r)
{
    const char *id = xml_child_text(x, "ID");
    char gen[41];
    if (id == NULL || *id == '\0') {
        uint8_t raw[20];
        if (enc_random(raw, sizeof raw) != 0)
            return TS_E_INTERNAL;
        enc_hex(raw, sizeof raw, gen);
        id = gen;
    }
    if (strlen(id) > LC_MAX_ID)
        return lc_fail(p, TS_E_INVALID_ARGUMENT, "ID length should not exceed allowed limit of %d",
                       LC_MAX_ID);
    r->id = strdup(id);
    return r->id != NULL ? TS_OK : TS_E_INTERNAL;
}

/* The actions of rule x into r, in document order. */
static int parse_actions(struct lcp *p, const struct xml_node *x, struct lc_rule *r)
{
    int rc = TS_OK;
    bool any = false;
    for (const struct xml_node *c = x->child; c && rc == TS_OK; c = c->next) {
        bool act = true;
        if (strcmp(c->name, "Expiration") == 0)
            rc = parse_expiration(p, c, r);
        else if (strcmp(c->name, "NoncurrentVersionExpiration") == 0)
            rc = parse_noncurrent(p, c, r);
        else if (strcmp(c->name, "AbortIncompleteMultipartUpload") == 0)
            rc = parse_abort(p, c, r);
        else if (strcmp(c->name, "Transition") == 0 ||
                 strcmp(c->name, "NoncurrentVersionTransition") == 0)
            rc = parse_transition(p, c);
        else
            act = false;
        any = any || act;
    }
    if (rc == TS_OK && !any)
        return lc_fail(p, TS_E_INVALID_REQUEST,
                       "At least one action needs to be specified in a rule");
    return rc;
}

/* The rules AWS adds between a filter and its actions. */
static int check_rule(struct lcp *p, const struct lc_rule *r)
{
    if ((r->exp_days || r->has_exp_date) && r->has_exp_dm)
        return malformed(p);
    if (r->f.ntags > 0 && r->abort_days > 0)
        return lc_fail(p, TS_E_INVALID_REQUEST,
                       "AbortIncompleteMultipartUpload cannot be specified with Tags.");
    if (r->f.ntags > 0 && r->has_exp_dm && r->exp_dm)
        return lc_fail(p, TS_E_INVALID_REQUEST,
                       "ExpiredObjectDeleteMarker cannot be specified with Tags.");
    return TS_OK;
}

static int parse_rule(struct lcp *p, const struct xml_node *x, struct lc_rule *r)
{
    static const char *const names[] = {"ID",
                                        "Prefix",
                                        "Filter",
                                        "Status",
                                        "Expiration",
                                        "Transition",
                                        "NoncurrentVersionTransition",
                                        "NoncurrentVersionExpiration",
                                        "AbortIncompleteMultipartUpload",
                                        NULL};
    const char *status = xml_child_text(x, "Status");
    const struct xml_node *filter = xml_child(x, "Filter"), *prefix = xml_child(x, "Prefix");
    if (!only(x, names, "Transition") || count(x, "NoncurrentVersionTransition") > 100)
        return malformed(p);
    if (status == NULL || (strcmp(status, "Enabled") != 0 && strcmp(status, "Disabled") != 0))
        return malformed(p);
    if ((filter == NULL) == (prefix == NULL))
        return malformed(p);
    r->enabled = strcmp(status, "Enabled") == 0;
    int rc = parse_id(p, x, r);
    if (rc == TS_OK)
        rc = set_prefix(&r->f, prefix != NULL ? prefix->text : "");
    if (rc == TS_OK && filter != NULL)
        rc = parse_filter(p, filter, r);
    if (rc == TS_OK)
        rc = parse_actions(p, x, r);
    return rc == TS_OK ? check_rule(p, r) : rc;
}

int lc_parse(const char *doc, size_t len, struct lc_conf *out, char *msg, size_t msglen)
{
    struct lcp p = {msg, msglen};
    memset(out, 0, sizeof *out);
    if (msglen > 0)
        msg[0] = '\0';
    struct xml_node *x = xml_parse(doc, len);
    size_t n = x != NULL ? count(x, "Rule") : 0;
    static const char *const names[] = {"Rule", NULL};
    int rc = x == NULL || strcmp(x->name, "LifecycleConfiguration") != 0 ||
                     !only(x, names, "Rule") || n == 0
                 ? malformed(&p)
                 : TS_OK;
    if (rc == TS_OK && n > LC_MAX_RULES)
        rc = lc_fail(&p, TS_E_INVALID_REQUEST,
                     "The number of lifecycle rules must not exceed the allowed limit of %d rules",
                     LC_MAX_RULES);
    if (rc == TS_OK && (out->v = calloc(n, sizeof *out->v)) == NULL)
        rc = TS_E_INTERNAL;
    for (const struct xml_node *c = x != NULL ? x->child : NULL; c && rc == TS_OK; c = c->next) {
        struct lc_rule *r = &out->v[out->n++];
        rc = parse_rule(&p, c, r);
        for (size_t i = 0; rc == TS_OK && i + 1 < out->n; i++)
            if (strcmp(out->v[i].id, r->id) == 0)
                rc = lc_fail(&p, TS_E_INVALID_ARGUMENT,
                             "Rule ID must be unique. Found same ID for more than one rule");
    }
    xml_free(x);
    if (rc != TS_OK)
        lc_conf_free(out);
    return rc;
}

void lc_conf_free(struct lc_conf *c)
{
    for (size_t i = 0; c->v != NULL && i < c->n; i++) {
        free(c->v[i].id);
        free(c->v[i].f.prefix);
        http_kv_free(c->v[i].f.tags, c->v[i].f.ntags);
    }
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

/* ---- the document GET answers ---- */

static void write_tag(struct buf *b, const struct http_kv *t)
{
    xml_open(b, "Tag", NULL);
    xml_elem(b, "Key", t->key);
    xml_elem(b, "Value", t->value);
    xml_close(b, "Tag");
}

static void write_filter(struct buf *b, const struct lc_rule *r)
{
    const struct lc_filter *f = &r->f;
    if (r->form == LC_FORM_PREFIX) {
        xml_elem(b, "Prefix", f->prefix);
        return;
    }
    xml_open(b, "Filter", NULL);
    if (r->form == LC_FORM_AND)
        xml_open(b, "And", NULL);
    if (r->form == LC_FORM_FPREFIX || (r->form == LC_FORM_AND && f->prefix[0]))
        xml_elem(b, "Prefix", f->prefix);
    for (size_t i = 0; i < f->ntags; i++)
        write_tag(b, &f->tags[i]);
    if (f->has_gt)
        xml_elemf(b, "ObjectSizeGreaterThan", "%" PRIu64, f->gt);
    if (f->has_lt)
        xml_elemf(b, "ObjectSizeLessThan", "%" PRIu64, f->lt);
    if (r->form == LC_FORM_AND)
        xml_close(b, "And");
    xml_close(b, "Filter");
}

static void write_actions(struct buf *b, const struct lc_rule *r)
{
    char date[32];
    if (r->exp_days || r->has_exp_date || r->has_exp_dm) {
        xml_open(b, "Expiration", NULL);
        if (r->exp_days)
            xml_elemf(b, "Days", "%" PRId64, r->exp_days);
        if (r->has_exp_date) {
            enc_time_iso8601((time_t)r->exp_date, date);
            xml_elem(b, "Date", date);
        }
        if (r->has_exp_dm)
            xml_elem(b, "ExpiredObjectDeleteMarker", r->exp_dm ? "true" : "false");
        xml_close(b, "Expiration");
    }
    if (r->nc_days) {
        xml_open(b, "NoncurrentVersionExpiration", NULL);
        xml_elemf(b, "NoncurrentDays", "%" PRId64, r->nc_days);
        if (r->nc_newer)
            xml_elemf(b, "NewerNoncurrentVersions", "%" PRId64, r->nc_newer);
        xml_close(b, "NoncurrentVersionExpiration");
    }
    if (r->abort_days) {
        xml_open(b, "AbortIncompleteMultipartUpload", NULL);
        xml_elemf(b, "DaysAfterInitiation", "%" PRId64, r->abort_days);
        xml_close(b, "AbortIncompleteMultipartUpload");
    }
}

void lc_write(struct buf *b, const struct lc_conf *c)
{
    xml_begin(b);
    xml_open(b, "LifecycleConfiguration", S3_NS);
    for (size_t i = 0; i < c->n; i++) {
        const struct lc_rule *r = &c->v[i];
        xml_open(b, "Rule", NULL);
        xml_elem(b, "ID", r->id);
        write_filter(b, r);
        xml_elem(b, "Status", r->enabled ? "Enabled" : "Disabled");
        write_actions(b, r);
        xml_close(b, "Rule");
    }
    xml_close(b, "LifecycleConfiguration");
}

/* ---- evaluation ---- */

int64_t lc_due(int64_t start, int64_t days)
{
    int64_t t = start + days * LC_DAY;
    int64_t q = t / LC_DAY - (t % LC_DAY < 0); /* floor */
    return (q + (t - q * LC_DAY != 0)) * LC_DAY;
}

bool lc_needs_tags(const struct lc_filter *f)
{
    return f->ntags > 0;
}

bool lc_match(const struct lc_filter *f, const char *key, size_t klen, uint64_t size,
              const struct http_kv *tags, size_t ntags)
{
    size_t pl = strlen(f->prefix);
    if (pl > klen || memcmp(key, f->prefix, pl) != 0)
        return false;
    if ((f->has_gt && !(size > f->gt)) || (f->has_lt && !(size < f->lt)))
        return false;
    for (size_t i = 0; i < f->ntags; i++) {
        bool found = false;
        for (size_t j = 0; !found && j < ntags; j++)
            found = strcmp(tags[j].key, f->tags[i].key) == 0 &&
                    strcmp(tags[j].value, f->tags[i].value) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* The due instant of rule r's Expiration for an object last modified at mtime; false when r
 * expires no current version (disabled, or no Expiration Days or Date). */
static bool expiration_due(const struct lc_rule *r, int64_t mtime, int64_t *due)
{
    if (!r->enabled || (!r->exp_days && !r->has_exp_date))
        return false;
    *due = r->exp_days ? lc_due(mtime, r->exp_days) : r->exp_date;
    return true;
}

const struct lc_rule *lc_expiration(const struct lc_conf *c, struct lc_object *o, int64_t until,
                                    int64_t *due)
{
    const struct lc_rule *best = NULL;
    for (size_t i = 0; c != NULL && i < c->n; i++) {
        const struct lc_rule *r = &c->v[i];
        int64_t d;
        if (!expiration_due(r, o->mtime, &d) || d > until || (best != NULL && d >= *due))
            continue;
        if (lc_needs_tags(&r->f) && o->load_tags != NULL) {
            o->load_tags(o->ctx, &o->tags, &o->ntags);
            o->load_tags = NULL;
        }
        if (lc_match(&r->f, o->key, o->klen, o->size, o->tags, o->ntags)) {
            best = r;
            *due = d;
        }
    }
    return best;
}

bool lc_expiration_header(const struct lc_rule *r, int64_t due, char out[LC_EXP_HDR_MAX])
{
    char date[32];
    char *id = enc_uri_encode(r->id, strlen(r->id), false);
    if (id == NULL)
        return false;
    enc_time_http((time_t)due, date);
    snprintf(out, LC_EXP_HDR_MAX, "expiry-date=\"%s\", rule-id=\"%s\"", date, id);
    free(id);
    return true;
}
