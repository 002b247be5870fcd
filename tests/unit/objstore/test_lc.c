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

int main(void)
{
    char dir[256];
    struct obj_store *st = NULL;
    test_due();
    test_match();
    test_parse_errors();
    test_round_trip();
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
