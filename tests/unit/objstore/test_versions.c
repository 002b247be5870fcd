/* test_versions.c -- the storage engine's versioning: version ids, delete markers, the null
 * version, reads and deletes of a version, ListObjectVersions (order, markers, delimiter, long
 * keys), DeleteBucket, and recovery keeping noncurrent versions' data. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/enc.h"
#include "core/err.h"
#include "objstore/obj_int.h"
#include "tests/harness/t.h"
#include "tests/unit/objstore/files.h"

static char dir[256];

/* Puts data as bucket/key; *vid gets the version id made (may be NULL). */
static int put(struct obj_store *st, const char *b, const char *k, const char *data, char *vid)
{
    struct obj_writer *w;
    struct obj_meta m = {0};
    uint8_t md5[16];
    int rc = obj_writer_new(st, &w);
    if (rc == TS_OK)
        rc = obj_writer_write(w, (const uint8_t *)data, strlen(data));
    if (rc == TS_OK)
        rc = obj_writer_finish(w, md5);
    if (rc == TS_OK) {
        enc_hex(md5, 16, m.etag);
        m.mtime = (int64_t)enc_now();
        rc = obj_object_commit(st, b, k, w, &m);
        if (vid)
            strcpy(vid, m.vid);
    }
    obj_meta_cleanup(&m);
    obj_writer_free(w);
    return rc;
}

/* The data of version vid (NULL: current), or NULL. */
static char *get(struct obj_store *st, const char *b, const char *k, const char *vid)
{
    struct obj_meta m;
    int fd;
    if (obj_version_open(st, b, k, vid, &m, &fd) != TS_OK)
        return NULL;
    char *buf = calloc(1, m.size + 1);
    if (pread(fd, buf, m.size, 0) != (ssize_t)m.size) {
        free(buf);
        buf = NULL;
    }
    close(fd);
    obj_meta_cleanup(&m);
    return buf;
}

static bool get_is(struct obj_store *st, const char *b, const char *k, const char *vid,
                   const char *want)
{
    char *s = get(st, b, k, vid);
    bool ok = s != NULL && strcmp(s, want) == 0;
    free(s);
    return ok;
}

static size_t data_files(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/.tessera/objects", dir);
    return count_files(p);
}

/* The listing as "key:vid-or-null[:L][:D],..." ("L" latest, "D" delete marker; prefixes
 * "p/"), with ids shown as their position in ids[] ("#0"...) when found there. */
static char *vlist_str(struct obj_store *st, const char *b, struct obj_vlist_opts o, bool *trunc,
                       struct obj_vlist_res *keep)
{
    struct obj_vlist_res r;
    static char out[8192];
    out[0] = 0;
    if (obj_versions_list(st, b, &o, &r) != TS_OK)
        return NULL;
    for (size_t i = 0; i < r.n; i++) {
        char e[1200];
        if (r.v[i].is_prefix)
            snprintf(e, sizeof e, "%s%.60s", i ? "," : "", r.v[i].key);
        else
            snprintf(e, sizeof e, "%s%.60s:%s%s%s", i ? "," : "", r.v[i].key,
                     strcmp(r.v[i].vid, "null") == 0 ? "null" : "v", r.v[i].latest ? ":L" : "",
                     r.v[i].dm ? ":D" : "");
        strncat(out, e, sizeof out - strlen(out) - 1);
    }
    if (trunc)
        *trunc = r.truncated;
    if (keep)
        *keep = r;
    else
        obj_vlist_res_cleanup(&r);
    return out;
}

static void test_states(struct obj_store *st)
{
    enum obj_versioning vs;
    char v1[OBJ_VID_LEN + 1], v2[OBJ_VID_LEN + 1], dmv[OBJ_VID_LEN + 1];
    struct obj_meta m;
    struct obj_del_res dr;
    is_int(obj_bucket_create(st, "vb1"), TS_OK, "create");
    is_int(obj_versioning_get(st, "vb1", &vs), TS_OK, "get state");
    is_int(vs, OBJ_VER_OFF, "a new bucket is unversioned");
    is_int(put(st, "vb1", "k", "legacy", v1), TS_OK, "unversioned put");
    is_str(v1, "", "no version id before versioning");
    is_int(obj_versioning_set(st, "vb1", OBJ_VER_ENABLED), TS_OK, "enable");
    is_int(obj_versioning_get(st, "vb1", &vs), TS_OK, "get state");
    is_int(vs, OBJ_VER_ENABLED, "enabled");
    is_int(put(st, "vb1", "k", "one", v1), TS_OK, "versioned put");
    is_int((int)strlen(v1), OBJ_VID_LEN, "a version id");
    is_int(obj_check_version_id(v1), TS_OK, "the id passes the one rule");
    is_int(put(st, "vb1", "k", "two", v2), TS_OK, "second version");
    ok(strcmp(v2, v1) < 0, "newer ids sort first");
    ok(get_is(st, "vb1", "k", NULL, "two"), "current is the newest");
    ok(get_is(st, "vb1", "k", v1, "one"), "GET ?versionId of the older");
    ok(get_is(st, "vb1", "k", "null", "legacy"), "the object from before is the null version");
    is_str(vlist_str(st, "vb1", (struct obj_vlist_opts){.max = 100}, NULL, NULL),
           "k:v:L,k:v,k:null", "list: newest first");
    /* Delete markers. */
    is_int(obj_object_delete_version(st, "vb1", "k", NULL, &dr), TS_OK, "delete");
    ok(dr.dm && strlen(dr.vid) == OBJ_VID_LEN, "made a delete marker");
    strcpy(dmv, dr.vid);
    is_int(obj_object_head(st, "vb1", "k", &m), TS_E_NO_SUCH_KEY, "no current object");
    char cv[OBJ_VID_LEN + 1];
    ok(obj_version_current_dm(st, "vb1", "k", cv) && strcmp(cv, dmv) == 0, "current is a marker");
    is_int(obj_version_head(st, "vb1", "k", dmv, &m), TS_E_METHOD_NOT_ALLOWED, "HEAD marker: 405");
    obj_meta_cleanup(&m);
    ok(get_is(st, "vb1", "k", v2, "two"), "the versions stay");
    is_str(vlist_str(st, "vb1", (struct obj_vlist_opts){.max = 100}, NULL, NULL),
           "k:v:L:D,k:v,k:v,k:null", "list with the marker");
    is_int(obj_object_delete_version(st, "vb1", "k", dmv, &dr), TS_OK, "delete the marker");
    ok(dr.dm, "it was a marker");
    ok(get_is(st, "vb1", "k", NULL, "two"), "v2 current again");
    /* Deleting the current version: the next newest becomes current. */
    is_int(obj_object_delete_version(st, "vb1", "k", v2, &dr), TS_OK, "delete v2");
    ok(!dr.dm && strcmp(dr.vid, v2) == 0, "deleted v2");
    ok(get_is(st, "vb1", "k", NULL, "one"), "v1 current");
    is_int(obj_version_head(st, "vb1", "k", v2, &m), TS_E_NO_SUCH_VERSION, "v2 gone");
    is_int(obj_version_head(st, "vb1", "k", "0123", &m), TS_E_INVALID_ARGUMENT, "bad id");
    is_int(obj_object_delete_version(st, "vb1", "k", v2, &dr), TS_OK, "absent version: OK");
    /* Suspended: a PUT replaces the null version, a DELETE makes a null marker. */
    size_t files = data_files();
    is_int(obj_versioning_set(st, "vb1", OBJ_VER_SUSPENDED), TS_OK, "suspend");
    is_int(put(st, "vb1", "k", "snull", v2), TS_OK, "suspended put");
    is_str(v2, "null", "version id null");
    is_int((int)data_files(), (int)files, "the old null version's data is gone");
    ok(get_is(st, "vb1", "k", v1, "one"), "v1 kept");
    is_str(vlist_str(st, "vb1", (struct obj_vlist_opts){.max = 100}, NULL, NULL), "k:null:L,k:v",
           "one null version");
    is_int(obj_object_delete_version(st, "vb1", "k", NULL, &dr), TS_OK, "suspended delete");
    ok(dr.dm && strcmp(dr.vid, "null") == 0, "a null delete marker");
    is_int((int)data_files(), (int)files - 1, "null data gone");
    is_str(vlist_str(st, "vb1", (struct obj_vlist_opts){.max = 100}, NULL, NULL), "k:null:L:D,k:v",
           "null marker replaced the null version");
    /* Tags per version. */
    struct http_kv t = {"color", "red"};
    is_int(obj_version_tags_set(st, "vb1", "k", v1, &t, 1), TS_OK, "tag v1");
    is_int(obj_version_head(st, "vb1", "k", v1, &m), TS_OK, "head v1");
    ok(m.ntags == 1 && strcmp(m.tags[0].value, "red") == 0, "v1 has its tag");
    obj_meta_cleanup(&m);
    is_int(obj_version_tags_set(st, "vb1", "k", "null", &t, 1), TS_E_METHOD_NOT_ALLOWED,
           "no tags on a marker");
    /* DeleteBucket: refused while any version or marker remains. */
    is_int(obj_bucket_delete(st, "vb1"), TS_E_BUCKET_NOT_EMPTY, "versions keep the bucket");
    is_int(obj_object_delete_version(st, "vb1", "k", v1, &dr), TS_OK, "delete v1");
    is_int(obj_bucket_delete(st, "vb1"), TS_E_BUCKET_NOT_EMPTY, "the marker keeps it");
    is_int(obj_object_delete_version(st, "vb1", "k", "null", &dr), TS_OK, "delete the marker");
    is_int(obj_bucket_delete(st, "vb1"), TS_OK, "empty: deleted");
}

static void test_listing(struct obj_store *st)
{
    char longa[700], longb[700];
    obj_bucket_create(st, "vb2");
    obj_versioning_set(st, "vb2", OBJ_VER_ENABLED);
    memset(longa, 'x', 600);
    memcpy(longa + 600, "b", 2);
    memcpy(longb, longa, 600);
    memcpy(longb + 600, "a", 2);
    const char *keys[] = {"a", "b/1", "b/2", "c", longa, longb, "a\001"};
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            is_int(put(st, "vb2", keys[i], "d", NULL), TS_OK, "put");
    struct obj_del_res dr;
    obj_object_delete_version(st, "vb2", "c", NULL, &dr);
    char want[4096] = "";
    bool trunc;
    char *all = vlist_str(st, "vb2", (struct obj_vlist_opts){.max = 1000}, &trunc, NULL);
    ok(all != NULL && !trunc, "whole listing");
    snprintf(want, sizeof want, "%s", all);
    const char *head = "a:v:L,a:v,a:v,a\001:v:L,a\001:v,a\001:v,b/1:v:L";
    ok(strncmp(want, head, strlen(head)) == 0, "key order, newest first");
    ok(strstr(want, "c:v:L:D,c:v,c:v,c:v,") != NULL, "a marker first");
    /* longb < longa: the long keys sharing 600 bytes are in key order. */
    ok(strstr(want, "xxxxx") != NULL, "long keys listed");
    /* Pages of 4 with the markers give the whole listing. */
    char joined[4096] = "", km[1200] = "", vm[64] = "";
    for (int page = 0; page < 20; page++) {
        struct obj_vlist_res r;
        struct obj_vlist_opts o = {
            .max = 4, .key_marker = km[0] ? km : NULL, .vid_marker = vm[0] ? vm : NULL};
        char *s = vlist_str(st, "vb2", o, &trunc, &r);
        if (s == NULL)
            break;
        if (joined[0] && s[0])
            strcat(joined, ",");
        strcat(joined, s);
        if (r.n) {
            snprintf(km, sizeof km, "%s", r.v[r.n - 1].key);
            snprintf(vm, sizeof vm, "%s", r.v[r.n - 1].vid);
        }
        obj_vlist_res_cleanup(&r);
        if (!trunc)
            break;
    }
    is_str(joined, want, "pages with key and version markers add up to the listing");
    /* Delimiter and prefix. */
    char *d =
        vlist_str(st, "vb2", (struct obj_vlist_opts){.max = 100, .delimiter = "/"}, NULL, NULL);
    ok(d && strstr(d, ",b/,c:v:L:D,") != NULL && strstr(d, "b/1") == NULL,
       "common prefix rolled up");
    d = vlist_str(st, "vb2",
                  (struct obj_vlist_opts){.max = 100, .delimiter = "/", .key_marker = "b/"}, NULL,
                  NULL);
    ok(d && strncmp(d, "c:v:L:D", 7) == 0, "a prefix as key-marker: past it");
    is_str(vlist_str(st, "vb2", (struct obj_vlist_opts){.max = 100, .prefix = "b/"}, NULL, NULL),
           "b/1:v:L,b/1:v,b/1:v,b/2:v:L,b/2:v,b/2:v", "prefix");
    is_str(vlist_str(st, "vb2",
                     (struct obj_vlist_opts){.max = 100, .prefix = "b", .key_marker = "b/1"}, NULL,
                     NULL),
           "b/2:v:L,b/2:v,b/2:v", "key-marker alone skips the key's versions");
    /* Full keys of the long ones, in order. */
    struct obj_vlist_res r;
    obj_versions_list(st, "vb2", &(struct obj_vlist_opts){.max = 100, .prefix = "xxx"}, &r);
    ok(r.n == 6 && strcmp(r.v[0].key, longb) == 0 && strcmp(r.v[3].key, longa) == 0 &&
           r.v[0].latest && !r.v[1].latest && r.v[3].latest,
       "long keys sharing their first bytes: in key order, newest first");
    obj_vlist_res_cleanup(&r);
    ok(get_is(st, "vb2", longa, NULL, "d"), "long key current readable");
}

int main(void)
{
    struct obj_store *st = NULL;
    snprintf(dir, sizeof dir, "/tmp/ts-vertest-%d", (int)getpid());
    is_int(obj_store_open(dir, &st), TS_OK, "open");
    if (st == NULL)
        return t_done();
    test_states(st);
    test_listing(st);
    /* Recovery keeps the data of noncurrent versions. */
    char v1[OBJ_VID_LEN + 1];
    obj_bucket_create(st, "vb3");
    obj_versioning_set(st, "vb3", OBJ_VER_ENABLED);
    put(st, "vb3", "k", "old", v1);
    put(st, "vb3", "k", "new", NULL);
    struct obj_del_res dr;
    obj_object_delete_version(st, "vb3", "k", NULL, &dr);
    obj_store_close(st);
    is_int(obj_store_open(dir, &st), TS_OK, "reopen");
    ok(get_is(st, "vb3", "k", v1, "old"), "a noncurrent version's data survives recovery");
    obj_store_close(st);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
    return t_done();
}
