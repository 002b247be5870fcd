/* test_lc.c -- lifecycle rules (objstore/lc.h): due instants (AWS's rounding to the next
 * midnight UTC), filter matching, the document's checks and its canonical form; and the
 * store's expiration (obj_object_expire): done only while the version is still the one the
 * pass evaluated, and a pass as of an instant (obj_lifecycle_run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "objstore/lc.h"
#include "objstore/obj_int.h"
#include "tests/harness/t.h"

#define T0 1700000000          /* 2023-11-14T22:13:20Z */
#define MIDNIGHT_15 1700006400 /* 2023-11-15T00:00:00Z */

static void test_due(void)
{
    is_int(lc_due(T0, 1), MIDNIGHT_15 + LC_DAY, "1 day after 22:13 is due the midnight after");
    is_int(lc_due(T0, 3), MIDNIGHT_15 + 3 * LC_DAY, "3 days");
    is_int(lc_due(MIDNIGHT_15, 1), MIDNIGHT_15 + LC_DAY, "from a midnight: exactly N days");
    is_int(lc_due(MIDNIGHT_15 - 1, 1), MIDNIGHT_15 + LC_DAY, "one second before midnight");
    is_int(lc_due(MIDNIGHT_15 + 1, 1), MIDNIGHT_15 + 2 * LC_DAY, "one second after midnight");
    is_int(lc_due(0, 0), 0, "the epoch");
}

static void test_match(void)
{
    struct http_kv tags[] = {{"tom", "sawyer"}, {"huck", "finn"}}, want[] = {{"huck", "finn"}};
    struct lc_filter f = {.prefix = "days1/"};
    ok(lc_match(&f, "days1/a", 7, 0, NULL, 0), "prefix");
    ok(!lc_match(&f, "days2/a", 7, 0, NULL, 0), "other prefix");
    ok(!lc_match(&f, "days1", 5, 0, NULL, 0), "key shorter than the prefix");
    f.tags = want;
    f.ntags = 1;
    ok(lc_needs_tags(&f), "a tag filter needs the tags");
    ok(lc_match(&f, "days1/a", 7, 0, tags, 2), "tag present");
    ok(!lc_match(&f, "days1/a", 7, 0, tags, 1), "tag absent");
    struct lc_filter s = {.prefix = "", .gt = 10, .lt = 100, .has_gt = true, .has_lt = true};
    ok(!lc_needs_tags(&s), "no tags needed");
    ok(lc_match(&s, "k", 1, 50, NULL, 0), "within the sizes");
    ok(!lc_match(&s, "k", 1, 10, NULL, 0), "greater than is strict");
    ok(!lc_match(&s, "k", 1, 100, NULL, 0), "less than is strict");
}

#define NS "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
#define END "</LifecycleConfiguration>"

static int parse(const char *doc, char *msg)
{
    struct lc_conf c;
    int rc = lc_parse(doc, strlen(doc), &c, msg, 256);
    if (rc == TS_OK)
        lc_conf_free(&c);
    return rc;
}

static void test_parse_errors(void)
{
    char msg[256];
    static const struct {
        const char *doc;
        int want;
    } cases[] = {
        {NS END, TS_E_MALFORMED_XML},
        {NS "<Rule><Prefix/><Status>On</Status><Expiration><Days>1</Days></Expiration></Rule>" END,
         TS_E_MALFORMED_XML},
        {NS "<Rule><Prefix/><Status>Enabled</Status></Rule>" END, TS_E_INVALID_REQUEST},
        {NS "<Rule><Prefix/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>"
            "</Rule>" END,
         TS_E_INVALID_ARGUMENT},
        {NS "<Rule><Prefix/><Status>Enabled</Status><Expiration><Days>x</Days></Expiration>"
            "</Rule>" END,
         TS_E_MALFORMED_XML},
        {NS "<Rule><Prefix/><Status>Enabled</Status><Expiration><Date>2020-01-01T01:00:00Z"
            "</Date></Expiration></Rule>" END,
         TS_E_INVALID_ARGUMENT},
        {NS "<Rule><Prefix/><Status>Enabled</Status><Expiration><Date>soon</Date></Expiration>"
            "</Rule>" END,
         TS_E_MALFORMED_XML},
        {NS "<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>" END,
         TS_E_MALFORMED_XML},
        {NS "<Rule><Prefix/><Status>Enabled</Status><Unknown/><Expiration><Days>1</Days>"
            "</Expiration></Rule>" END,
         TS_E_MALFORMED_XML},
        {NS "<Rule><Prefix/><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>"
            "GLACIER</StorageClass></Transition></Rule>" END,
         TS_E_NOT_IMPLEMENTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = parse(cases[i].doc, msg);
        ok(rc == cases[i].want, "case %zu: got %d want %d (%s)", i, rc, cases[i].want, msg);
    }
}

static void test_round_trip(void)
{
    const char *doc =
        NS "<Rule><ID>a</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>k</Key><Value>v</Value>"
           "</Tag><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></And></Filter><Status>Enabled"
           "</Status><NoncurrentVersionExpiration><NoncurrentDays>2</NoncurrentDays>"
           "<NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
           "</Rule><Rule><ID>b</ID><Prefix>x/</Prefix><Status>Disabled</Status><Expiration>"
           "<Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>" END;
    struct lc_conf c, c2;
    char msg[256];
    struct buf b, b2;
    is_int(lc_parse(doc, strlen(doc), &c, msg, sizeof msg), TS_OK, "parse");
    buf_init(&b, LC_MAX_DOC);
    lc_write(&b, &c);
    ok(strstr(buf_str(&b), "<Date>2030-01-01T00:00:00.000Z</Date>") != NULL, "date: %s",
       buf_str(&b));
    ok(strstr(buf_str(&b), "<ID>b</ID><Prefix>x/</Prefix>") != NULL, "legacy prefix kept");
    is_int(c.v[0].nc_newer, 3, "newer noncurrent versions");
    is_int(lc_parse(buf_str(&b), buf_len(&b), &c2, msg, sizeof msg), TS_OK, "re-parse");
    buf_init(&b2, LC_MAX_DOC);
    lc_write(&b2, &c2);
    is_str(buf_str(&b2), buf_str(&b), "the canonical form is stable");
    buf_free(&b);
    buf_free(&b2);
    lc_conf_free(&c);
    lc_conf_free(&c2);
}

static int put(struct obj_store *st, const char *k, struct obj_meta *m)
{
    struct obj_writer *w;
    uint8_t md5[16];
    memset(m, 0, sizeof *m);
    int rc = obj_writer_new(st, &w);
    if (rc == TS_OK)
        rc = obj_writer_write(w, (const uint8_t *)"data", 4);
    if (rc == TS_OK)
        rc = obj_writer_finish(w, md5);
    if (rc == TS_OK) {
        enc_hex(md5, 16, m->etag);
        m->mtime = (int64_t)enc_now();
        rc = obj_object_commit(st, "lcb", k, w, m);
    }
    obj_writer_free(w);
    return rc;
}

static void test_expire(struct obj_store *st)
{
    struct obj_meta m, h;
    struct obj_del_res res;
    is_int(put(st, "k", &m), TS_OK, "put");
    struct obj_expire stale = {OBJ_EXPIRE_CURRENT, "k", "null", m.mtime - 5};
    is_int(obj_object_expire(st, "lcb", &stale, &res), TS_E_PRECONDITION_FAILED,
           "another version than the one evaluated: nothing");
    is_int(obj_object_head(st, "lcb", "k", &h), TS_OK, "still there");
    obj_meta_cleanup(&h);
    struct obj_expire x = {OBJ_EXPIRE_CURRENT, "k", "null", m.mtime};
    is_int(obj_object_expire(st, "lcb", &x, &res), TS_OK, "expired");
    is_int(obj_object_head(st, "lcb", "k", &h), TS_E_NO_SUCH_KEY, "gone");
    obj_meta_cleanup(&m);
    /* a pass as of an instant */
    const char *conf = NS "<Rule><ID>r</ID><Prefix>old/</Prefix><Status>Enabled</Status>"
                          "<Expiration><Days>1</Days></Expiration></Rule>" END;
    is_int(obj_bconf_put(st, "lcb", LC_CONF, conf, strlen(conf)), TS_OK, "configuration");
    is_int(put(st, "old/a", &m), TS_OK, "put old/a");
    obj_meta_cleanup(&m);
    struct obj_lc_counts n;
    is_int(obj_lifecycle_run(st, (int64_t)enc_now(), &n), TS_OK, "pass now");
    is_int(n.expired, 0, "nothing young expires");
    is_int(obj_lifecycle_run(st, (int64_t)enc_now() + 3 * LC_DAY, &n), TS_OK, "pass +3d");
    is_int(n.expired, 1, "expired as of 3 days later");
    is_int(obj_object_head(st, "lcb", "old/a", &h), TS_E_NO_SUCH_KEY, "old/a gone");
}

/* Counts the calls of the tag loader (lc_object.load_tags). */
static int tag_loads;
static void load_tags(void *ctx, const struct http_kv **tags, size_t *ntags)
{
    static const struct http_kv t[] = {{"tmp", "yes"}};
    (void)ctx;
    tag_loads++;
    *tags = t;
    *ntags = 1;
}

static void test_expiration_choice(void)
{
    const char *doc =
        NS "<Rule><ID>late</ID><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status>"
           "<Expiration><Days>30</Days></Expiration></Rule>"
           "<Rule><ID>off</ID><Filter><Prefix>a/</Prefix></Filter><Status>Disabled</Status>"
           "<Expiration><Days>1</Days></Expiration></Rule>"
           "<Rule><ID>tag</ID><Filter><Tag><Key>tmp</Key><Value>yes</Value></Tag></Filter>"
           "<Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>"
           "<Rule><ID>big</ID><Filter><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan>"
           "</Filter><Status>Enabled</Status><Expiration><Days>5</Days></Expiration></Rule>"
           "<Rule><ID>date</ID><Filter><Prefix>d/</Prefix></Filter><Status>Enabled</Status>"
           "<Expiration><Date>2023-11-20T00:00:00Z</Date></Expiration></Rule>"
           "<Rule><ID>tie</ID><Filter><Prefix>a/</Prefix></Filter><Status>Enabled</Status>"
           "<Expiration><Days>30</Days></Expiration></Rule>"
           "<Rule><ID>nc</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration>"
           "<NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>" END;
    struct lc_conf c;
    char msg[256], h[LC_EXP_HDR_MAX];
    int64_t due = 0;
    if (lc_parse(doc, strlen(doc), &c, msg, sizeof msg) != TS_OK) {
        ok(0, "parse: %s", msg);
        return;
    }
    struct lc_object o = {"a/x", 3, 10, T0, NULL, 0, NULL, NULL};
    const struct lc_rule *r = lc_expiration(&c, &o, INT64_MAX, &due);
    ok(r != NULL && strcmp(r->id, "late") == 0, "the enabled rule; on a tie, the first");
    is_int(due, MIDNIGHT_15 + 30 * LC_DAY, "due 30 days on, at midnight");
    o.size = 1000;
    r = lc_expiration(&c, &o, INT64_MAX, &due);
    ok(r != NULL && strcmp(r->id, "big") == 0, "several match: the earliest (size filter)");
    is_int(due, MIDNIGHT_15 + 5 * LC_DAY, "due 5 days on");
    o.load_tags = load_tags;
    r = lc_expiration(&c, &o, INT64_MAX, &due);
    ok(r != NULL && strcmp(r->id, "tag") == 0, "the tag rule, earlier still");
    is_int(tag_loads, 1, "tags loaded once, when a tag rule could apply");
    o.load_tags = load_tags;
    tag_loads = 0;
    r = lc_expiration(&c, &o, MIDNIGHT_15, &due);
    ok(r == NULL && tag_loads == 0, "nothing due by until: no match, tags never loaded");
    struct lc_object u = {"a/x", 3, 10, T0, NULL, 0, NULL, NULL};
    ok(lc_expiration(&c, &u, MIDNIGHT_15 + 29 * LC_DAY, &due) == NULL, "not due by until");
    r = lc_expiration(&c, &u, MIDNIGHT_15 + 30 * LC_DAY, &due);
    ok(r != NULL && strcmp(r->id, "late") == 0, "due at until");
    struct lc_object d = {"d/x", 3, 10, T0 + 40 * LC_DAY, NULL, 0, NULL, NULL};
    r = lc_expiration(&c, &d, INT64_MAX, &due);
    ok(r != NULL && strcmp(r->id, "date") == 0, "a Date rule, even past");
    is_int(due, 1700438400, "due at its Date");
    struct lc_object n = {"z", 1, 10, T0, NULL, 0, NULL, NULL};
    ok(lc_expiration(&c, &n, INT64_MAX, &due) == NULL, "noncurrent rules give no expiration");
    ok(lc_expiration_header(&c.v[4], 1700438400, h), "header");
    is_str(h, "expiry-date=\"Mon, 20 Nov 2023 00:00:00 GMT\", rule-id=\"date\"", "AWS's form");
    free(c.v[4].id);
    c.v[4].id = strdup("a b\"\r\n");
    ok(lc_expiration_header(&c.v[4], 0, h), "header of an odd id");
    is_str(h, "expiry-date=\"Thu, 01 Jan 1970 00:00:00 GMT\", rule-id=\"a%20b%22%0D%0A\"",
           "the rule id URL-encoded");
    lc_conf_free(&c);
}

int main(void)
{
    char dir[256];
    struct obj_store *st = NULL;
    test_due();
    test_match();
    test_parse_errors();
    test_round_trip();
    test_expiration_choice();
    snprintf(dir, sizeof dir, "/tmp/ts-lc-%d", (int)getpid());
    is_int(obj_store_open(dir, &st), TS_OK, "open");
    if (st == NULL)
        return t_done();
    is_int(obj_bucket_create(st, "lcb"), TS_OK, "bucket");
    test_expire(st);
    obj_store_close(st);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    return t_done();
}
