/* test_meta_codec.c -- the one metadata record format (objstore/meta.c): records as every older
 * tessera wrote them (version 1: plain; 2: tags; 3: tags + version id, main's versioning) decode,
 * built here byte by byte so that the encoder cannot hide a change; the encoder still writes
 * those versions for such records, byte for byte; a record with every section (version id,
 * parts, ACL + owner, object lock) is version 4 and round-trips; corrupt version 4 records (cut
 * anywhere, an unknown, repeated or out-of-order section, a section's bytes not all used, bytes
 * after the last section, a lock section with a value this build does not know) are refused. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "objstore/obj_int.h"
#include "tests/harness/t.h"

struct w {
    uint8_t b[1024];
    size_t n;
};

static void le(struct w *w, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        w->b[w->n++] = (uint8_t)(v >> (8 * i));
}

static void bytes(struct w *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void str(struct w *w, const char *s)
{
    le(w, strlen(s), 4);
    bytes(w, s, strlen(s));
}

#define ID "0123456789abcdef0123456789abcdef"
#define VID "00000000000000010000000000000002"

/* The fields every version starts with: size 7, mtime 1000, ID, etag "e1", content type
 * "text/plain", one kept header. */
static void head(struct w *w, uint8_t version)
{
    w->n = 0;
    w->b[w->n++] = version;
    le(w, 7, 8);
    le(w, 1000, 8);
    bytes(w, ID, 32);
    w->b[w->n++] = 2;
    bytes(w, "e1", 2);
    str(w, "text/plain");
    le(w, 1, 4);
    str(w, "x-amz-meta-a");
    str(w, "b");
}

static void tags(struct w *w)
{
    le(w, 1, 4);
    str(w, "k");
    str(w, "v");
}

static void version_tail(struct w *w)
{
    w->b[w->n++] = 1; /* a delete marker */
    le(w, 123456789, 8);
    w->b[w->n++] = 32;
    bytes(w, VID, 32);
}

static bool head_ok(const struct obj_meta *m)
{
    return m->size == 7 && m->mtime == 1000 && strcmp(m->id, ID) == 0 &&
           strcmp(m->etag, "e1") == 0 && m->content_type != NULL &&
           strcmp(m->content_type, "text/plain") == 0 && m->nhdrs == 1 &&
           strcmp(obj_meta_hdr(m, "x-amz-meta-a"), "b") == 0;
}

/* Decodes w, checks it re-encodes to the same bytes. */
static void decode_reencode(const struct w *w, struct obj_meta *m, const char *what)
{
    size_t len;
    ok(obj_meta_decode(w->b, w->n, m) == TS_OK, "%s decodes", what);
    uint8_t *enc = obj_meta_encode(m, &len);
    ok(enc != NULL && len == w->n && memcmp(enc, w->b, len) == 0, "%s re-encodes byte for byte",
       what);
    free(enc);
}

static void test_older_versions(void)
{
    struct w w;
    struct obj_meta m;
    head(&w, 1);
    decode_reencode(&w, &m, "version 1");
    ok(head_ok(&m) && m.ntags == 0 && m.vid[0] == 0 && m.nparts == 0 && m.acl == 0 &&
           m.owner == NULL,
       "version 1: its fields, nothing else");
    obj_meta_cleanup(&m);

    head(&w, 2);
    tags(&w);
    decode_reencode(&w, &m, "version 2");
    ok(head_ok(&m) && m.ntags == 1 && strcmp(m.tags[0].key, "k") == 0 && m.vid[0] == 0,
       "version 2: the tags");
    obj_meta_cleanup(&m);

    head(&w, 3);
    tags(&w);
    version_tail(&w);
    decode_reencode(&w, &m, "version 3 (main's versioned record)");
    ok(head_ok(&m) && m.ntags == 1 && strcmp(m.vid, VID) == 0 && m.vts == 123456789 && m.dm &&
           m.nparts == 0 && m.acl == 0,
       "version 3: tags, version id, vts, delete marker");
    obj_meta_cleanup(&m);

    head(&w, 3); /* a version 3 record with no tags */
    le(&w, 0, 4);
    version_tail(&w);
    decode_reencode(&w, &m, "version 3 without tags");
    obj_meta_cleanup(&m);
}

/* A version 4 record with every section, as the format says. */
static void all_sections(struct w *w)
{
    static const uint8_t ck[4] = {9, 8, 7, 6};
    head(w, 4);
    tags(w);
    w->b[w->n++] = 4;
    w->b[w->n++] = 1; /* version */
    le(w, 1 + 8 + 1 + 32, 4);
    version_tail(w);
    w->b[w->n++] = 2; /* parts: 2 of them, 4-byte checksums */
    le(w, 4 + 1 + 2 * OBJ_PART_REC(4), 4);
    le(w, 2, 4);
    w->b[w->n++] = 4;
    le(w, 1, 2);
    le(w, 5u << 20, 8);
    bytes(w, ck, 4);
    le(w, 2, 2);
    le(w, 2, 8);
    bytes(w, ck, 4);
    w->b[w->n++] = 3; /* access: ACL, owner */
    le(w, 4 + 4 + 5, 4);
    le(w, 0x1234, 4);
    str(w, "alice");
    w->b[w->n++] = 4; /* lock: COMPLIANCE until 1893456000, legal hold ON */
    le(w, 10, 4);
    w->b[w->n++] = OBJ_LOCK_COMPLIANCE;
    le(w, 1893456000, 8);
    w->b[w->n++] = OBJ_HOLD_ON;
}

static void test_all_sections(void)
{
    struct w w;
    struct obj_meta m, c;
    unsigned num;
    uint64_t size;
    const uint8_t *got;
    all_sections(&w);
    decode_reencode(&w, &m, "version 4 with every section");
    ok(head_ok(&m) && m.ntags == 1 && strcmp(m.vid, VID) == 0 && m.dm && m.vts == 123456789,
       "the version section");
    obj_meta_part_get(&m, 1, &num, &size, &got);
    ok(m.nparts == 2 && m.part_cklen == 4 && num == 2 && size == 2 && got[0] == 9,
       "the parts section");
    ok(m.acl == 0x1234 && m.owner != NULL && strcmp(m.owner, "alice") == 0, "the access section");
    ok(m.lock_mode == OBJ_LOCK_COMPLIANCE && m.lock_until == 1893456000 &&
           m.legal_hold == OBJ_HOLD_ON,
       "the lock section");
    is_int(obj_meta_copy(&c, &m), TS_OK, "deep copy");
    ok(strcmp(c.vid, VID) == 0 && c.nparts == 2 && c.acl == 0x1234 && c.owner != m.owner &&
           strcmp(c.owner, "alice") == 0 && c.lock_mode == OBJ_LOCK_COMPLIANCE &&
           c.lock_until == 1893456000 && c.legal_hold == OBJ_HOLD_ON,
       "the copy has every section");
    obj_meta_cleanup(&c);
    /* Fewer sections: the encoder writes the lowest version that carries the record. */
    uint8_t *enc;
    size_t len;
    obj_meta_set_parts(&m, 0, 0);
    m.lock_mode = OBJ_LOCK_NONE;
    m.lock_until = 0;
    m.legal_hold = OBJ_HOLD_NONE;
    m.acl = 0;
    free(m.owner);
    m.owner = NULL;
    enc = obj_meta_encode(&m, &len);
    ok(enc != NULL && enc[0] == 3, "version id alone: version 3, as main writes it");
    free(enc);
    m.acl = 1;
    enc = obj_meta_encode(&m, &len);
    ok(enc != NULL && enc[0] == 4, "version id + ACL: version 4");
    obj_meta_cleanup(&m);
    is_int(obj_meta_decode(enc, len, &m), TS_OK, "decodes");
    ok(m.acl == 1 && strcmp(m.vid, VID) == 0 && m.nparts == 0, "both back");
    obj_meta_cleanup(&m);
    free(enc);
}

static void test_corrupt(void)
{
    struct w w, bad;
    struct obj_meta m;
    all_sections(&w);
    /* The count byte: before the sections (type + length + payload each). */
    size_t secs = w.n - 1 - (5 + 42) - (5 + 4 + 1 + 2 * OBJ_PART_REC(4)) - (5 + 8 + 5) - (5 + 10);
    is_int(w.b[secs], 4, "(the count byte is where the test thinks)");
    for (size_t cut = 1; cut < w.n; cut++)
        ok(obj_meta_decode(w.b, cut, &m) != TS_OK, "cut at %zu: corrupt", cut);
    bad = w;
    bad.b[bad.n++] = 0;
    ok(obj_meta_decode(bad.b, bad.n, &m) != TS_OK, "a byte after the last section: corrupt");
    bad = w;
    bad.b[secs + 1] = 9;
    ok(obj_meta_decode(bad.b, bad.n, &m) != TS_OK, "an unknown section: corrupt (fail closed)");
    bad = w;
    bad.b[secs + 1] = 2;
    ok(obj_meta_decode(bad.b, bad.n, &m) != TS_OK, "sections out of order: corrupt");
    bad = w;
    bad.b[secs] = 0;
    ok(obj_meta_decode(bad.b, bad.n, &m) != TS_OK, "no sections: corrupt");
    bad = w;
    bad.b[secs + 2] += 1; /* the version section claims a byte more than its reader uses */
    ok(obj_meta_decode(bad.b, bad.n, &m) != TS_OK, "a section's bytes not all used: corrupt");
    bad = w;
    bad.b[0] = 5;
    ok(obj_meta_decode(bad.b, bad.n, &m) != TS_OK, "version 5: unknown");
}

/* The lock section alone (a legal hold OFF is a value: kept), and each value it may not hold. */
static void test_lock_section(void)
{
    struct w w, bad;
    struct obj_meta m;
    head(&w, 4);
    tags(&w);
    w.b[w.n++] = 1;
    w.b[w.n++] = 4;
    le(&w, 10, 4);
    size_t at = w.n; /* mode, until (8), hold */
    w.b[w.n++] = OBJ_LOCK_NONE;
    le(&w, 0, 8);
    w.b[w.n++] = OBJ_HOLD_OFF;
    decode_reencode(&w, &m, "a legal hold OFF alone");
    ok(m.legal_hold == OBJ_HOLD_OFF && m.lock_mode == OBJ_LOCK_NONE, "its value");
    obj_meta_cleanup(&m);
    static const struct {
        uint8_t mode;
        uint64_t until;
        uint8_t hold;
        const char *what;
    } v[] = {
        {3, 100, 0, "an unknown mode"},
        {OBJ_LOCK_GOVERNANCE, 100, 3, "an unknown legal hold"},
        {OBJ_LOCK_GOVERNANCE, 0, 0, "a mode without a date"},
        {OBJ_LOCK_NONE, 100, OBJ_HOLD_ON, "a date without a mode"},
        {OBJ_LOCK_NONE, 0, OBJ_HOLD_NONE, "a section saying nothing"},
        {OBJ_LOCK_COMPLIANCE, (uint64_t)-5, 0, "a negative date"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        bad = w;
        bad.b[at] = v[i].mode;
        bad.n = at + 1;
        le(&bad, v[i].until, 8);
        bad.b[bad.n++] = v[i].hold;
        ok(obj_meta_decode(bad.b, bad.n, &m) != TS_OK, "%s: corrupt (fail closed)", v[i].what);
    }
    bad = w;
    bad.b[at - 4] = 11; /* a length other than 10, its bytes there */
    bad.b[bad.n++] = 0;
    ok(obj_meta_decode(bad.b, bad.n, &m) != TS_OK, "a lock section of 11 bytes: corrupt");
}

int main(void)
{
    test_older_versions();
    test_all_sections();
    test_corrupt();
    test_lock_section();
    return t_done();
}
