/* test_meta_parts.c -- the parts of a multipart object in its metadata record (objstore/meta.c,
 * encoding version 4, the parts section): round trip, records without parts unchanged byte for byte
 * (versions 1 and 2, so old records decode as before), corrupt blocks refused, deep copies; and the
 * object checksum made from the parts' (objstore/checksum.c), COMPOSITE and FULL_OBJECT. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/enc.h"
#include "core/err.h"
#include "objstore/obj_int.h"
#include "tests/harness/t.h"

static void test_codec(void)
{
    struct obj_meta m = {0}, d, cp;
    size_t len;
    uint8_t ck[4] = {1, 2, 3, 4};
    const uint8_t *got;
    unsigned num;
    uint64_t size;
    m.size = 5;
    snprintf(m.etag, sizeof m.etag, "abc-2");
    uint8_t *plain = obj_meta_encode(&m, &len);
    ok(plain != NULL && plain[0] == 1, "no parts, no tags: version 1");
    size_t plain_len = len;
    is_int(obj_meta_set_parts(&m, 2, 4), TS_OK, "room for two parts");
    obj_meta_part_set(&m, 0, 1, 5u << 20, ck);
    obj_meta_part_set(&m, 1, 7, 3, NULL);
    uint8_t *enc = obj_meta_encode(&m, &len);
    ok(enc != NULL && enc[0] == 4, "with parts: version 4");
    is_int(len, plain_len + 4 + 1 + 5 + 5 + 2 * OBJ_PART_REC(4),
           "v1 + empty tags + one section: the parts (type, length, block)");
    ok(memcmp(enc + 1, plain + 1, plain_len - 1) == 0, "the v1 fields are the same bytes");
    is_int(obj_meta_decode(enc, len, &d), TS_OK, "decode v4");
    ok(d.nparts == 2 && d.part_cklen == 4, "two parts, 4-byte checksums");
    obj_meta_part_get(&d, 0, &num, &size, &got);
    ok(num == 1 && size == 5u << 20 && memcmp(got, ck, 4) == 0, "part 1");
    obj_meta_part_get(&d, 1, &num, &size, &got);
    ok(num == 7 && size == 3 && got[0] == 0 && got[3] == 0, "part 7, no checksum");
    is_int(obj_meta_copy(&cp, &d), TS_OK, "copy");
    ok(cp.nparts == 2 && cp.parts != d.parts && memcmp(cp.parts, d.parts, 28) == 0, "deep copy");
    obj_meta_cleanup(&cp);
    obj_meta_cleanup(&d);
    struct obj_meta bad;
    is_int(obj_meta_decode(enc, len - 1, &bad), TS_E_INTERNAL, "truncated parts: corrupt");
    enc[len - 2 * OBJ_PART_REC(4) - 1] = 33; /* checksum length */
    is_int(obj_meta_decode(enc, len, &bad), TS_E_INTERNAL, "checksum length > 32: corrupt");
    free(enc);
    /* Old records (version 1 as written before parts were kept) decode as before. */
    is_int(obj_meta_decode(plain, plain_len, &d), TS_OK, "v1 decodes");
    ok(d.nparts == 0 && d.parts == NULL && d.size == 5, "no parts");
    obj_meta_cleanup(&d);
    free(plain);
    obj_meta_cleanup(&m);
}

static void part_with(struct obj_meta *p, enum sigv4_cksum_algo algo, const char *data)
{
    uint8_t dg[32];
    struct sigv4_cksum c;
    char name[32];
    memset(p, 0, sizeof *p);
    p->size = strlen(data);
    sigv4_cksum_init(&c, algo);
    sigv4_cksum_update(&c, data, p->size);
    sigv4_cksum_final(&c, dg);
    sigv4_cksum_free(&c);
    char *b = enc_b64(dg, sigv4_cksum_size(algo));
    obj_ck_hdr_name(algo, name);
    obj_meta_add_hdr(p, name, b);
    free(b);
}

static void test_object_checksum(void)
{
    struct obj_meta parts[2];
    struct obj_ck_mode full = {SIGV4_CK_CRC32, true}, comp = {SIGV4_CK_CRC32, false};
    char out[OBJ_CK_B64_MAX], want[64];
    part_with(&parts[0], SIGV4_CK_CRC32, "hello ");
    part_with(&parts[1], SIGV4_CK_CRC32, "world");
    is_int(obj_ck_object(&full, parts, 2, out), TS_OK, "full object");
    uint8_t d[4];
    uLong z = crc32(0, (const Bytef *)"hello world", 11);
    for (int i = 0; i < 4; i++)
        d[i] = (uint8_t)(z >> (24 - 8 * i));
    char *b = enc_b64(d, 4);
    is_str(out, b, "FULL_OBJECT: zlib's crc32 of the whole");
    free(b);
    is_int(obj_ck_object(&comp, parts, 2, out), TS_OK, "composite");
    uint8_t cat[8], p0[32], p1[32];
    obj_ck_of(&parts[0], SIGV4_CK_CRC32, p0);
    obj_ck_of(&parts[1], SIGV4_CK_CRC32, p1);
    memcpy(cat, p0, 4);
    memcpy(cat + 4, p1, 4);
    z = crc32(0, cat, 8);
    for (int i = 0; i < 4; i++)
        d[i] = (uint8_t)(z >> (24 - 8 * i));
    b = enc_b64(d, 4);
    snprintf(want, sizeof want, "%s-2", b);
    free(b);
    is_str(out, want, "COMPOSITE: crc32 of the part crc32s, -2");
    obj_meta_cleanup(&parts[1]);
    memset(&parts[1], 0, sizeof parts[1]);
    is_int(obj_ck_object(&comp, parts, 2, out), TS_E_INVALID_PART, "a part without one");
    obj_meta_cleanup(&parts[0]);
    obj_meta_del_hdr(&parts[0], "x");
}

int main(void)
{
    test_codec();
    test_object_checksum();
    return t_done();
}
